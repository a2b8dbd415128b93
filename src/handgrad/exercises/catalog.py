"""The exercises: what each asks, its template (signatures, shapes, no solution), its
hints, and how it is graded. Names and signatures follow CS231n where CS231n has the
layer, so code a learner already wrote drops in.

The truth a forward is compared with is handgrad's own reference code (``handgrad.ops.
reference``) or the formula itself; the backward goes through the gradient checker on
cases chosen to catch the known mistakes (overlapping pooling windows, stride 2 with
padding, a batch of 1, repeated embedding indices, sequences of length 1 and 6).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from handgrad.exercises.grading import (
    PartResult,
    call,
    check_gradients,
    compare,
    need,
    run_part,
)
from handgrad.i18n import Messages


@dataclass
class Exercise:
    name: str
    group: str                  # "week1", "cnn", "rnn"
    template: str               # the function signatures (shapes in their docstrings)
    n_hints: int
    grade: Callable[[ModuleType, str], list[PartResult]]


TEXT = Messages("exercise.catalog", {
    "group.week1": {"en": "week 1: gradient descent and regression",
                    "ko": "1주차: 경사 하강법과 회귀"},
    "group.cnn": {"en": "CNN: layers and convolution", "ko": "CNN: 계층과 합성곱"},
    "group.rnn": {"en": "RNN: recurrence and BPTT", "ko": "RNN: 순환과 시간 역전파"},
    "read_after": {"en": "Try first; afterwards compare with handgrad's own code in {where}.",
                   "ko": "먼저 직접 풀어 본 뒤 handgrad의 코드 {where}와 비교해 보세요."},
    # -- quadratic_gd
    "quadratic_gd.goal": {"en": "gradient descent on f(x) = x^2 + 2x + 3",
                          "ko": "f(x) = x^2 + 2x + 3에 경사 하강법 적용"},
    "quadratic_gd.task": {
        "en": "Write f(x), its derivative grad_f(x) by hand, the central difference "
              "quotient numeric_grad(f, x, h) = (f(x+h) - f(x-h)) / 2h, and "
              "gradient_descent(x0, lr, steps) that returns x after the steps. The minimum "
              "is where the derivative is zero.",
        "ko": "f(x), 손으로 구한 도함수 grad_f(x), 중심 차분 numeric_grad(f, x, h) = "
              "(f(x+h) - f(x-h)) / 2h, 그리고 steps번 갱신한 뒤의 x를 돌려주는 "
              "gradient_descent(x0, lr, steps)를 작성하세요. 최솟값은 도함수가 0인 곳입니다."},
    "quadratic_gd.hint1": {"en": "d/dx (x^2 + 2x + 3) = 2x + 2.",
                           "ko": "d/dx (x^2 + 2x + 3) = 2x + 2 입니다."},
    "quadratic_gd.hint2": {"en": "One step: x = x - lr * grad_f(x).",
                           "ko": "한 번의 갱신: x = x - lr * grad_f(x)."},
    # -- l2_norm_error
    "l2_norm_error.goal": {"en": "the L2 norm of the residual as an error, and its gradient",
                           "ko": "잔차의 L2 노름을 오차로 쓰고 그 기울기 구하기"},
    "l2_norm_error.task": {
        "en": "For y_hat = w * x + b, write l2_norm(w, b, x, y) = ||y - y_hat|| (the square "
              "root of the sum of squares) and l2_norm_grad(w, b, x, y) -> (dw, db). Unlike "
              "the MSE, the norm's gradient r/||r|| does not shrink near the minimum, and at "
              "a perfect fit it is 0/0: return 0 there instead of NaN.",
        "ko": "y_hat = w * x + b에 대해 l2_norm(w, b, x, y) = ||y - y_hat|| (제곱합의 "
              "제곱근)과 l2_norm_grad(w, b, x, y) -> (dw, db)를 작성하세요. MSE와 달리 노름의 "
              "기울기 r/||r||는 최솟값 근처에서도 작아지지 않고, 완벽히 맞는 점에서는 0/0이 "
              "됩니다: 그곳에서는 NaN 대신 0을 돌려주세요."},
    "l2_norm_error.hint1": {"en": "With r = y_hat - y: d||r||/dw = sum(r * x) / ||r||.",
                            "ko": "r = y_hat - y라 하면 d||r||/dw = sum(r * x) / ||r|| 입니다."},
    "l2_norm_error.hint2": {"en": "If ||r|| == 0 return (0.0, 0.0): dividing gives 0/0 = NaN, "
                                  "the error the learner's code raised.",
                            "ko": "||r|| == 0이면 (0.0, 0.0)을 돌려주세요: 나누면 0/0 = NaN이 "
                                  "되어 오류가 납니다."},
    # -- conv_output_size
    "conv_output_size.goal": {"en": "the output-size rule of a convolution",
                              "ko": "합성곱 출력 크기 공식"},
    "conv_output_size.task": {
        "en": "Return the output size of one spatial dimension for input size H, kernel K, "
              "stride S, padding P and dilation D.",
        "ko": "입력 크기 H, 커널 K, 스트라이드 S, 패딩 P, 팽창 D일 때 한 공간 차원의 출력 "
              "크기를 돌려주세요."},
    "conv_output_size.hint1": {"en": "floor((H + 2P - D(K-1) - 1) / S) + 1.",
                               "ko": "floor((H + 2P - D(K-1) - 1) / S) + 1 입니다."},
    # -- affine
    "affine.goal": {"en": "affine_forward / affine_backward (CS231n)",
                    "ko": "완전연결 계층 affine_forward / affine_backward (CS231n)"},
    "affine.task": {
        "en": "out = x.reshape(N, D) @ w + b. Return (out, cache) from the forward and "
              "(dx, dw, db) from the backward; dx has x's shape.",
        "ko": "out = x.reshape(N, D) @ w + b 입니다. 순전파는 (out, cache)를, 역전파는 "
              "(dx, dw, db)를 돌려주세요. dx는 x와 형상이 같습니다."},
    "affine.hint1": {"en": "dw = x_flat.T @ dout (the shape of w), db = dout.sum(axis=0).",
                     "ko": "dw = x_flat.T @ dout (w의 형상), db = dout.sum(axis=0)."},
    "affine.hint2": {"en": "dx = (dout @ w.T).reshape(x.shape).",
                     "ko": "dx = (dout @ w.T).reshape(x.shape) 입니다."},
    # -- relu
    "relu.goal": {"en": "relu_forward / relu_backward",
                  "ko": "ReLU 계층 relu_forward / relu_backward"},
    "relu.task": {"en": "out = max(x, 0); the backward passes dout where x > 0.",
                  "ko": "out = max(x, 0); 역전파는 x > 0인 곳에만 dout을 전달합니다."},
    "relu.hint1": {"en": "dx = dout * (x > 0): multiply by dout, not by 1.",
                   "ko": "dx = dout * (x > 0): 1이 아니라 dout을 곱해야 합니다."},
    # -- softmax_loss
    "softmax_loss.goal": {"en": "softmax_loss(x, y) -> (loss, dx)",
                          "ko": "소프트맥스 손실 softmax_loss(x, y) -> (loss, dx)"},
    "softmax_loss.task": {
        "en": "The mean cross-entropy of the softmax of the scores x (N, C) with the "
              "labels y (N,), and its gradient with respect to x.",
        "ko": "점수 x (N, C)의 소프트맥스와 정답 y (N,)의 평균 교차 엔트로피, 그리고 x에 "
              "대한 기울기를 구하세요."},
    "softmax_loss.hint1": {"en": "Subtract the row maximum before exp (stable).",
                           "ko": "exp 전에 행의 최댓값을 빼세요(수치 안정성)."},
    "softmax_loss.hint2": {"en": "dx = (softmax - onehot(y)) / N.",
                           "ko": "dx = (softmax - onehot(y)) / N 입니다."},
    # -- conv_naive
    "conv_naive.goal": {"en": "conv_forward_naive / conv_backward_naive (CS231n)",
                        "ko": "합성곱 conv_forward_naive / conv_backward_naive (CS231n)"},
    "conv_naive.task": {
        "en": "A convolution (cross-correlation) with loops: x (N, C, H, W), w (F, C, HH, "
              "WW), b (F,), conv_param {'stride': S, 'pad': P}. The backward returns "
              "(dx, dw, db); dW is the input correlated with dout, dx the dout "
              "correlated with the flipped kernel.",
        "ko": "반복문으로 합성곱(교차 상관)을 구현하세요: x (N, C, H, W), w (F, C, HH, WW), "
              "b (F,), conv_param {'stride': S, 'pad': P}. 역전파는 (dx, dw, db)를 돌려줍니다. "
              "dW는 입력과 dout의 교차 상관, dx는 dout과 뒤집은 커널의 교차 상관입니다."},
    "conv_naive.hint1": {"en": "Pad with np.pad(x, ((0,0),(0,0),(P,P),(P,P))); add into a "
                               "padded dx and crop [P:-P] at the end (careful when P = 0).",
                         "ko": "np.pad(x, ((0,0),(0,0),(P,P),(P,P)))로 패딩하고, 패딩된 dx에 "
                               "더한 뒤 마지막에 [P:-P]로 잘라내세요(P = 0일 때 주의)."},
    "conv_naive.hint2": {"en": "Windows overlap: use += into dx, never =.",
                         "ko": "창이 겹칩니다: dx에는 =가 아니라 +=로 더하세요."},
    # -- max_pool_naive
    "max_pool_naive.goal": {"en": "max_pool_forward_naive / max_pool_backward_naive",
                            "ko": "최대 풀링 max_pool_forward_naive / max_pool_backward_naive"},
    "max_pool_naive.task": {
        "en": "Max pooling with loops; pool_param {'pool_height', 'pool_width', 'stride'}. "
              "The backward routes each dout to the maximum of its window. It is graded "
              "with OVERLAPPING windows (stride smaller than the window).",
        "ko": "반복문으로 최대 풀링을 구현하세요; pool_param {'pool_height', 'pool_width', "
              "'stride'}. 역전파는 각 dout을 그 창의 최댓값 위치로 보냅니다. 창이 겹치는 "
              "경우(스트라이드 < 창 크기)로 채점합니다."},
    "max_pool_naive.hint1": {"en": "With overlapping windows one pixel can be the maximum of "
                                   "several windows: add (+=) their gradients.",
                             "ko": "창이 겹치면 한 픽셀이 여러 창의 최댓값일 수 있습니다: "
                                   "기울기를 더하세요(+=)."},
    # -- batchnorm
    "batchnorm.goal": {"en": "batchnorm_forward / batchnorm_backward (training mode)",
                       "ko": "batchnorm_forward / batchnorm_backward (학습 모드)"},
    "batchnorm.task": {
        "en": "Normalise each column of x (N, D) by the batch mean and variance (eps from "
              "bn_param, default 1e-5), then out = gamma * xhat + beta. The backward returns "
              "(dx, dgamma, dbeta).",
        "ko": "x (N, D)의 각 열을 배치 평균과 분산으로 정규화(eps는 bn_param, 기본 1e-5)한 뒤 "
              "out = gamma * xhat + beta. 역전파는 (dx, dgamma, dbeta)를 돌려줍니다."},
    "batchnorm.hint1": {"en": "dx = (N*dxhat - dxhat.sum(0) - xhat*(dxhat*xhat).sum(0)) / "
                              "(N*std): the mean and variance depend on every x.",
                        "ko": "dx = (N*dxhat - dxhat.sum(0) - xhat*(dxhat*xhat).sum(0)) / "
                              "(N*std): 평균과 분산이 모든 x에 의존합니다."},
    # -- count_ones_bptt
    "count_ones_bptt.goal": {"en": "BPTT of the counting RNN: dxi/dW_x and dxi/dW_rec",
                             "ko": "1의 개수를 세는 RNN의 시간 역전파: dξ/dW_x와 dξ/dW_rec"},
    "count_ones_bptt.task": {
        "en": "S_k = S_{k-1} * W_rec + X_k * W_x (k = 1..T, S_0 = 0), for a batch X of "
              "shape (N, T). The loss is xi = mean((S_T - t)^2). Write forward_states(X, "
              "w_x, w_rec) -> S of shape (N, T+1) and bptt(X, t, w_x, w_rec) -> (dw_x, "
              "dw_rec), going from the last step back to the first.",
        "ko": "배치 X (N, T)에 대해 S_k = S_{k-1} * W_rec + X_k * W_x (k = 1..T, S_0 = 0)입니다. "
              "손실은 ξ = mean((S_T - t)^2)입니다. forward_states(X, w_x, w_rec) -> S "
              "(형상 (N, T+1))와 마지막 단계에서 첫 단계로 거슬러 가는 bptt(X, t, w_x, "
              "w_rec) -> (dw_x, dw_rec)를 작성하세요."},
    "count_ones_bptt.hint1": {"en": "dxi/dS_T = 2 (S_T - t) / N; then dS_{k-1} = dS_k * W_rec.",
                              "ko": "dξ/dS_T = 2 (S_T - t) / N; 그다음 dS_{k-1} = dS_k * W_rec."},
    "count_ones_bptt.hint2": {"en": "Every step adds to the weight gradients: dw_x += "
                                    "sum(dS_k * X_k), dw_rec += sum(dS_k * S_{k-1}) (+=, not =).",
                              "ko": "매 단계가 가중치 기울기에 더해집니다: dw_x += "
                                    "sum(dS_k * X_k), dw_rec += sum(dS_k * S_{k-1}) "
                                    "(=가 아니라 +=)."},
    # -- rnn_step
    "rnn_step.goal": {"en": "rnn_step_forward / rnn_step_backward (CS231n)",
                      "ko": "RNN 한 단계 rnn_step_forward / rnn_step_backward (CS231n)"},
    "rnn_step.task": {
        "en": "next_h = tanh(x @ Wx + prev_h @ Wh + b), x (N, D), prev_h (N, H), Wx (D, H), "
              "Wh (H, H), b (H,). The backward returns (dx, dprev_h, dWx, dWh, db).",
        "ko": "next_h = tanh(x @ Wx + prev_h @ Wh + b), x (N, D), prev_h (N, H), Wx (D, H), "
              "Wh (H, H), b (H,). 역전파는 (dx, dprev_h, dWx, dWh, db)를 돌려줍니다."},
    "rnn_step.hint1": {"en": "da = dnext_h * (1 - next_h**2): the derivative of tanh uses "
                             "its output.",
                       "ko": "da = dnext_h * (1 - next_h**2): tanh의 도함수는 출력으로 "
                             "계산합니다."},
    # -- word_embedding
    "word_embedding.goal": {"en": "word_embedding_forward / word_embedding_backward",
                            "ko": "단어 임베딩 word_embedding_forward / word_embedding_backward"},
    "word_embedding.task": {
        "en": "out = W[x] for integer x (N, T) and W (V, D). The backward returns dW (V, D); "
              "graded with repeated indices.",
        "ko": "정수 x (N, T)와 W (V, D)에 대해 out = W[x]. 역전파는 dW (V, D)를 돌려줍니다; "
              "같은 인덱스가 반복되는 경우로 채점합니다."},
    "word_embedding.hint1": {"en": "dW[x] += dout loses repeated indices (buffered); use "
                                   "np.add.at(dW, x, dout).",
                             "ko": "dW[x] += dout은 반복된 인덱스를 잃습니다; "
                                   "np.add.at(dW, x, dout)을 쓰세요."},
    # -- lstm_step
    "lstm_step.goal": {"en": "lstm_step_forward / lstm_step_backward (CS231n, gates i f o g)",
                       "ko": "lstm_step_forward / lstm_step_backward (CS231n, 게이트 i f o g)"},
    "lstm_step.task": {
        "en": "a = x @ Wx + prev_h @ Wh + b split into i, f, o, g (H columns each); i, f, o = "
              "sigmoid, g = tanh; next_c = f * prev_c + i * g; next_h = o * tanh(next_c). "
              "The backward takes (dnext_h, dnext_c, cache) and returns (dx, dprev_h, "
              "dprev_c, dWx, dWh, db).",
        "ko": "a = x @ Wx + prev_h @ Wh + b를 i, f, o, g(각 H열)로 나눕니다; i, f, o = "
              "시그모이드, g = tanh; next_c = f * prev_c + i * g; next_h = o * tanh(next_c). "
              "역전파는 (dnext_h, dnext_c, cache)를 받아 (dx, dprev_h, dprev_c, dWx, dWh, db)를 "
              "돌려줍니다."},
    "lstm_step.hint1": {"en": "The cell gets gradient from both paths: dc = dnext_c + "
                              "dnext_h * o * (1 - tanh(next_c)**2).",
                        "ko": "셀 상태는 두 경로에서 기울기를 받습니다: dc = dnext_c + "
                              "dnext_h * o * (1 - tanh(next_c)**2)."},
    # -- rnn_sequence
    "rnn_sequence.goal": {"en": "rnn_forward / rnn_backward over a whole sequence (CS231n)",
                          "ko": "시퀀스 전체의 rnn_forward / rnn_backward (CS231n)"},
    "rnn_sequence.task": {
        "en": "Loop the step over T time steps: x (N, T, D), h0 (N, H) -> h (N, T, H). The "
              "backward runs from the last step to the first, adds every step's share into "
              "dWx, dWh, db, and carries dprev_h back; it returns (dx, dh0, dWx, dWh, db).",
        "ko": "한 단계를 T번 반복하세요: x (N, T, D), h0 (N, H) -> h (N, T, H). 역전파는 "
              "마지막 단계에서 첫 단계로 가며 매 단계의 몫을 dWx, dWh, db에 더하고 dprev_h를 "
              "뒤로 전달합니다; (dx, dh0, dWx, dWh, db)를 돌려줍니다."},
    "rnn_sequence.hint1": {"en": "At step t the upstream is dh[:, t] + dprev (from step t+1).",
                           "ko": "t 단계의 상류 기울기는 dh[:, t] + dprev"
                                 "(t+1 단계에서 온 값)입니다."},
    "rnn_sequence.hint2": {"en": "The weights are shared: dWx += ..., dWh += ..., db += ... "
                                 "at every step.",
                           "ko": "가중치는 공유됩니다: 매 단계 dWx += ..., dWh += ..., "
                                 "db += ... 입니다."},
    # -- gru_step
    "gru_step.goal": {"en": "one GRU step, forward and backward (PyTorch's r, z, n)",
                      "ko": "GRU 한 단계의 순전파와 역전파 (PyTorch의 r, z, n)"},
    "gru_step.task": {
        "en": "a = x @ Wx + b_x and u = prev_h @ Wh + b_h, each split into r, z, n (H columns); "
              "r = sigmoid(a_r + u_r), z = sigmoid(a_z + u_z), n = tanh(a_n + r * u_n), "
              "next_h = (1 - z) * n + z * prev_h. The backward returns (dx, dprev_h, dWx, "
              "dWh, db_x, db_h).",
        "ko": "a = x @ Wx + b_x, u = prev_h @ Wh + b_h를 각각 r, z, n(H열씩)으로 나눕니다; "
              "r = sigmoid(a_r + u_r), z = sigmoid(a_z + u_z), n = tanh(a_n + r * u_n), "
              "next_h = (1 - z) * n + z * prev_h. 역전파는 (dx, dprev_h, dWx, dWh, db_x, "
              "db_h)를 돌려줍니다."},
    "gru_step.hint1": {"en": "r multiplies u_n AFTER Wh: du_n = dn_pre * r and dr = dn_pre * u_n.",
                       "ko": "r은 Wh 뒤에 u_n에 곱해집니다: du_n = dn_pre * r, dr = dn_pre * u_n."},
    "gru_step.hint2": {"en": "prev_h gets two paths: dnext_h * z directly, and du @ Wh.T.",
                       "ko": "prev_h는 두 경로로 기울기를 받습니다: 직접 dnext_h * z, "
                             "그리고 du @ Wh.T."},
    # -- sample_temperature
    "sample_temperature.goal": {"en": "sampling a character with a temperature",
                                "ko": "온도를 적용한 문자 샘플링"},
    "sample_temperature.task": {
        "en": "sample(logits, temperature, rng) draws one index with probability "
              "softmax(logits / temperature), using rng (a np.random.Generator).",
        "ko": "sample(logits, temperature, rng)는 softmax(logits / temperature) 확률로 인덱스 "
              "하나를 rng(np.random.Generator)로 뽑습니다."},
    "sample_temperature.hint1": {"en": "p = softmax(logits / T); return rng.choice(len(p), p=p).",
                                 "ko": "p = softmax(logits / T); rng.choice(len(p), p=p)를 "
                                       "돌려주세요."},
})


def _r(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


# -- week 1 ------------------------------------------------------------------------------
def _grade_quadratic(m: ModuleType, path: str) -> list[PartResult]:
    def grad_part() -> PartResult | None:
        (g,) = need(m, "grad_f")
        xs = np.array([-3.0, -1.0, 0.0, 0.5, 2.0])
        return compare("grad_f", [call(g, float(x)) for x in xs], 2 * xs + 2, (xs,))

    def numeric_part() -> PartResult | None:
        f, num = need(m, "f", "numeric_grad")
        xs = np.array([-2.0, 0.0, 1.5])
        got = [call(num, f, float(x), 1e-5) for x in xs]
        return compare("numeric_grad", got, 2 * xs + 2, (xs,), rtol=1e-5, atol=1e-6)

    def gd_part() -> PartResult | None:
        (gd,) = need(m, "gradient_descent")
        return compare("gradient_descent", call(gd, 5.0, 0.1, 200), -1.0, (5.0, 0.1, 200),
                       rtol=1e-6, atol=1e-6)

    return [run_part("grad_f", path, grad_part), run_part("numeric_grad", path, numeric_part),
            run_part("gradient_descent", path, gd_part)]


def _grade_l2(m: ModuleType, path: str) -> list[PartResult]:
    r = _r(1)
    x = r.standard_normal(8)
    y = 3 * x + 1 + 0.3 * r.standard_normal(8)

    def norm_part() -> PartResult | None:
        (fn,) = need(m, "l2_norm")
        return compare("l2_norm", call(fn, 2.0, 0.5, x, y),
                       np.linalg.norm(y - (2.0 * x + 0.5)), (2.0, 0.5, x, y))

    def grad_part() -> PartResult | None:
        fn, g = need(m, "l2_norm", "l2_norm_grad")
        for w, b in ((2.0, 0.5), (-1.0, 3.0)):
            res = (w * x + b) - y
            want = np.array([res @ x, res.sum()]) / np.linalg.norm(res)
            bad = compare("l2_norm_grad", call(g, w, b, x, y), want, (w, b, x, y))
            if bad:
                return bad
        perfect = 3 * x + 1
        return compare("l2_norm_grad", call(g, 3.0, 1.0, x, perfect), [0.0, 0.0],
                       ("a perfect fit: w=3, b=1", x, perfect))

    return [run_part("l2_norm", path, norm_part), run_part("l2_norm_grad", path, grad_part)]


# -- CNN ---------------------------------------------------------------------------------
def _grade_output_size(m: ModuleType, path: str) -> list[PartResult]:
    def part() -> PartResult | None:
        (fn,) = need(m, "conv_output_size")
        cases = [(28, 3, 1, 1, 1), (28, 2, 2, 0, 1), (7, 3, 2, 1, 1), (32, 5, 1, 0, 1),
                 (10, 3, 1, 2, 2), (5, 5, 3, 2, 1), (1, 1, 1, 0, 1)]
        for c in cases:
            want = (c[0] + 2 * c[3] - c[4] * (c[1] - 1) - 1) // c[2] + 1
            bad = compare("conv_output_size", call(fn, *c), want, c)
            if bad:
                return bad
        return None
    return [run_part("conv_output_size", path, part)]


def _pair_grader(prefix: str, truth: Callable[..., np.ndarray], cases: Callable[[], list],
                 n_out: int = 1, suffix: str = ""
                 ) -> Callable[[ModuleType, str], list[PartResult]]:
    """A CS231n pair NAME_forward / NAME_backward: forward values vs the truth on every
    case, backward through the gradient checker on every case."""
    def grade(m: ModuleType, path: str) -> list[PartResult]:
        fwd_name, bwd_name = f"{prefix}_forward{suffix}", f"{prefix}_backward{suffix}"

        def fwd_part() -> PartResult | None:
            (fwd,) = need(m, fwd_name)
            for case in cases():
                res = call(fwd, *case)
                bad = compare(fwd_name, res[0] if n_out == 1 else res[:n_out][0],
                              truth(*case), case)
                if bad:
                    return bad
            return None

        def bwd_part() -> PartResult | None:
            fwd, bwd = need(m, fwd_name, bwd_name)
            for case in cases():
                call(fwd, *[np.array(c, copy=True) if isinstance(c, np.ndarray) else c
                            for c in case])  # NotImplementedError surfaces here first
                bad = check_gradients(bwd_name, fwd, bwd, list(case))
                if bad:
                    return bad
            return None

        return [run_part(fwd_name, path, fwd_part), run_part(bwd_name, path, bwd_part)]
    return grade


def _affine_truth(x, w, b):
    return x.reshape(x.shape[0], -1) @ w + b


def _affine_cases():
    r = _r(2)
    return [[r.standard_normal((3, 2, 2)), r.standard_normal((4, 5)), r.standard_normal(5)],
            [r.standard_normal((1, 3)), r.standard_normal((3, 3)), r.standard_normal(3)]]


def _relu_cases():
    return [[_r(3).standard_normal((4, 5))], [_r(4).standard_normal((1, 3, 2))]]


def _conv_truth(x, w, b, conv_param):
    from handgrad.ops.reference import conv2d_forward

    return conv2d_forward(x, w, b, stride=conv_param["stride"], padding=conv_param["pad"])[0]


def _conv_cases():
    r = _r(5)
    return [[r.standard_normal((2, 2, 5, 5)), r.standard_normal((3, 2, 3, 3)),
             r.standard_normal(3), {"stride": 2, "pad": 1}],
            [r.standard_normal((1, 1, 4, 6)), r.standard_normal((2, 1, 2, 3)),
             r.standard_normal(2), {"stride": 1, "pad": 0}]]


def _pool_truth(x, pool_param):
    from handgrad.ops.reference import max_pool2d_forward

    k = (pool_param["pool_height"], pool_param["pool_width"])
    return max_pool2d_forward(x, k, pool_param["stride"])[0]


def _pool_cases():
    r = _r(6)
    return [[r.standard_normal((2, 2, 5, 5)),          # stride 1 < window 2: overlap
             {"pool_height": 2, "pool_width": 2, "stride": 1}],
            [r.standard_normal((1, 1, 6, 4)), {"pool_height": 3, "pool_width": 2, "stride": 2}]]


def _bn_truth(x, gamma, beta, bn_param):
    eps = bn_param.get("eps", 1e-5)
    return gamma * (x - x.mean(0)) / np.sqrt(x.var(0) + eps) + beta


def _bn_cases():
    r = _r(7)
    return [[r.standard_normal((6, 3)) * 2 + 1, r.standard_normal(3), r.standard_normal(3),
             {"mode": "train"}]]


def _grade_softmax(m: ModuleType, path: str) -> list[PartResult]:
    r = _r(8)
    cases = [(r.standard_normal((5, 4)) * 3, r.integers(0, 4, 5)),
             (r.standard_normal((1, 3)), np.array([2]))]

    def loss_part() -> PartResult | None:
        (fn,) = need(m, "softmax_loss")
        for x, y in cases:
            z = x - x.max(1, keepdims=True)
            p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
            bad = compare("softmax_loss (loss)", call(fn, x, y)[0],
                          -np.log(p[np.arange(len(y)), y]).mean(), (x, y))
            if bad:
                return bad
        return None

    def grad_part() -> PartResult | None:
        (fn,) = need(m, "softmax_loss")
        for x, y in cases:
            bad = check_gradients("softmax_loss (dx)",
                                  lambda x, y=y: np.asarray(fn(x, y)[0]),
                                  lambda d, x, y=y: d * fn(x, y)[1], [x], style="plain",
                                  wrt=(0,))
            if bad:
                return bad
        return None

    return [run_part("softmax_loss (loss)", path, loss_part),
            run_part("softmax_loss (dx)", path, grad_part)]


# -- RNN ---------------------------------------------------------------------------------
def _grade_count_ones(m: ModuleType, path: str) -> list[PartResult]:
    X = _r(9).integers(0, 2, (6, 5)).astype(np.float64)
    t = X.sum(axis=1)

    def states_truth(w_x, w_rec, X=X):
        S = np.zeros((X.shape[0], X.shape[1] + 1))
        for k in range(1, X.shape[1] + 1):
            S[:, k] = S[:, k - 1] * w_rec + X[:, k - 1] * w_x
        return S

    def fwd_part() -> PartResult | None:
        (fs,) = need(m, "forward_states")
        return compare("forward_states", call(fs, X, 0.7, 1.1), states_truth(0.7, 1.1),
                       (X, 0.7, 1.1))

    def bptt_part() -> PartResult | None:
        (bptt,) = need(m, "bptt")
        for w_x, w_rec in ((0.7, 1.1), (1.2, 0.9)):
            def loss(wx, wr):
                return np.mean((states_truth(wx, wr)[:, -1] - t) ** 2)
            h = 1e-6
            want = [(loss(w_x + h, w_rec) - loss(w_x - h, w_rec)) / (2 * h),
                    (loss(w_x, w_rec + h) - loss(w_x, w_rec - h)) / (2 * h)]
            bad = compare("bptt", call(bptt, X, t, w_x, w_rec), want, (X, t, w_x, w_rec),
                          rtol=1e-5, atol=1e-7)
            if bad:
                return bad
        return None

    return [run_part("forward_states", path, fwd_part), run_part("bptt", path, bptt_part)]


def _rnn_truth(x, prev_h, Wx, Wh, b):
    return np.tanh(x @ Wx + prev_h @ Wh + b)


def _rnn_cases():
    r = _r(10)
    return [[r.standard_normal((3, 4)), r.standard_normal((3, 5)),
             r.standard_normal((4, 5)) * 0.4, r.standard_normal((5, 5)) * 0.4,
             r.standard_normal(5)]]


def _emb_truth(x, W):
    return W[x]


def _emb_cases():
    return [[np.array([[0, 3, 3], [1, 0, 3]]), _r(11).standard_normal((5, 4))]]


def _rnn_seq_truth(x, h0, Wx, Wh, b):
    h, hs = h0, []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ Wx + h @ Wh + b)
        hs.append(h)
    return np.stack(hs, axis=1)


def _rnn_seq_cases():
    r = _r(13)
    out = []
    for T in (1, 6):   # a length-1 sequence and a longer one
        out.append([r.standard_normal((2, T, 3)), r.standard_normal((2, 4)),
                    r.standard_normal((3, 4)) * 0.5, r.standard_normal((4, 4)) * 0.5,
                    r.standard_normal(4)])
    return out


def _gru_truth(x, prev_h, Wx, Wh, b_x, b_h):
    H = prev_h.shape[1]
    a, u = x @ Wx + b_x, prev_h @ Wh + b_h
    r = _sig(a[:, :H] + u[:, :H])
    z = _sig(a[:, H:2 * H] + u[:, H:2 * H])
    n = np.tanh(a[:, 2 * H:] + r * u[:, 2 * H:])
    return (1 - z) * n + z * prev_h


def _gru_cases():
    r = _r(14)
    H = 3
    return [[r.standard_normal((2, 4)), r.standard_normal((2, H)),
             r.standard_normal((4, 3 * H)) * 0.5, r.standard_normal((H, 3 * H)) * 0.5,
             r.standard_normal(3 * H), r.standard_normal(3 * H)]]


def _sig(a):
    return 1 / (1 + np.exp(-a))


def _lstm_truth(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    i, f, o = _sig(a[:, :H]), _sig(a[:, H:2 * H]), _sig(a[:, 2 * H:3 * H])
    g = np.tanh(a[:, 3 * H:])
    c = f * prev_c + i * g
    return o * np.tanh(c)


def _lstm_cases():
    r = _r(12)
    H = 3
    return [[r.standard_normal((2, 4)), r.standard_normal((2, H)), r.standard_normal((2, H)),
             r.standard_normal((4, 4 * H)) * 0.5, r.standard_normal((H, 4 * H)) * 0.5,
             r.standard_normal(4 * H)]]


def _grade_sample(m: ModuleType, path: str) -> list[PartResult]:
    def part() -> PartResult | None:
        (fn,) = need(m, "sample")
        logits = np.array([2.0, 1.0, 0.0, -1.0])
        for T in (1.0, 0.5, 2.0):
            rng = np.random.default_rng(0)
            draws = np.array([call(fn, logits, T, rng) for _ in range(4000)])
            p = np.exp(logits / T) / np.exp(logits / T).sum()
            freq = np.bincount(draws.astype(int), minlength=4)[:4] / len(draws)
            bad = compare("sample", freq, p, (logits, f"temperature={T}"), rtol=0.0,
                          atol=0.04)
            if bad:
                return bad
        return None
    return [run_part("sample", path, part)]


_RNN_STEP_TEMPLATE = '''
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """x (N, D), prev_h (N, H), Wx (D, H), Wh (H, H), b (H,) -> (next_h (N, H), cache)."""
    raise NotImplementedError


def rnn_step_backward(dnext_h, cache):
    """dnext_h (N, H) -> (dx (N, D), dprev_h (N, H), dWx (D, H), dWh (H, H), db (H,))."""
    raise NotImplementedError
'''

EXERCISES: list[Exercise] = [
    Exercise("quadratic_gd", "week1", '''
def f(x):
    """x: a float -> f(x) = x^2 + 2x + 3."""
    raise NotImplementedError


def grad_f(x):
    """x: a float -> df/dx, derived by hand."""
    raise NotImplementedError


def numeric_grad(f, x, h=1e-5):
    """The central difference quotient (f(x + h) - f(x - h)) / (2h)."""
    raise NotImplementedError


def gradient_descent(x0, lr, steps):
    """Start at x0, take `steps` steps of size lr along -grad_f; return the last x."""
    raise NotImplementedError
''', 2, _grade_quadratic),
    Exercise("l2_norm_error", "week1", '''
def l2_norm(w, b, x, y):
    """w, b: floats; x, y: arrays (M,) -> ||y - (w * x + b)|| (a float)."""
    raise NotImplementedError


def l2_norm_grad(w, b, x, y):
    """-> (dw, db): the gradient of l2_norm; (0.0, 0.0) at a perfect fit."""
    raise NotImplementedError
''', 2, _grade_l2),
    Exercise("conv_output_size", "cnn", '''
def conv_output_size(H, K, S=1, P=0, D=1):
    """Input size H, kernel K, stride S, padding P, dilation D -> the output size (int)."""
    raise NotImplementedError
''', 1, _grade_output_size),
    Exercise("affine", "cnn", '''
def affine_forward(x, w, b):
    """x (N, d_1, ..., d_k), w (D, M) with D = d_1*...*d_k, b (M,) -> (out (N, M), cache)."""
    raise NotImplementedError


def affine_backward(dout, cache):
    """dout (N, M) -> (dx (N, d_1, ..., d_k), dw (D, M), db (M,))."""
    raise NotImplementedError
''', 2, _pair_grader("affine", _affine_truth, _affine_cases)),
    Exercise("relu", "cnn", '''
def relu_forward(x):
    """x (any shape) -> (out (same shape), cache)."""
    raise NotImplementedError


def relu_backward(dout, cache):
    """dout (x's shape) -> dx (x's shape)."""
    raise NotImplementedError
''', 1, _pair_grader("relu", lambda x: np.maximum(x, 0), _relu_cases)),
    Exercise("softmax_loss", "cnn", '''
def softmax_loss(x, y):
    """x (N, C) scores, y (N,) integer labels in [0, C) -> (loss (float), dx (N, C))."""
    raise NotImplementedError
''', 2, _grade_softmax),
    Exercise("conv_naive", "cnn", '''
def conv_forward_naive(x, w, b, conv_param):
    """x (N, C, H, W), w (F, C, HH, WW), b (F,), conv_param {'stride': S, 'pad': P}
    -> (out (N, F, H', W'), cache), H' = 1 + (H + 2P - HH) // S."""
    raise NotImplementedError


def conv_backward_naive(dout, cache):
    """dout (N, F, H', W') -> (dx (N, C, H, W), dw (F, C, HH, WW), db (F,))."""
    raise NotImplementedError
''', 2, _pair_grader("conv", _conv_truth, _conv_cases, suffix="_naive")),
    Exercise("max_pool_naive", "cnn", '''
def max_pool_forward_naive(x, pool_param):
    """x (N, C, H, W), pool_param {'pool_height', 'pool_width', 'stride'}
    -> (out (N, C, H', W'), cache)."""
    raise NotImplementedError


def max_pool_backward_naive(dout, cache):
    """dout (N, C, H', W') -> dx (N, C, H, W)."""
    raise NotImplementedError
''', 1, _pair_grader("max_pool", _pool_truth, _pool_cases, suffix="_naive")),
    Exercise("batchnorm", "cnn", '''
def batchnorm_forward(x, gamma, beta, bn_param):
    """x (N, D), gamma (D,), beta (D,), bn_param {'mode': 'train', 'eps': 1e-5}
    -> (out (N, D), cache)."""
    raise NotImplementedError


def batchnorm_backward(dout, cache):
    """dout (N, D) -> (dx (N, D), dgamma (D,), dbeta (D,))."""
    raise NotImplementedError
''', 1, _pair_grader("batchnorm", _bn_truth, _bn_cases)),
    Exercise("count_ones_bptt", "rnn", '''
def forward_states(X, w_x, w_rec):
    """X (N, T) of 0/1; w_x, w_rec floats -> S (N, T+1) with S[:, 0] = 0 and
    S[:, k] = S[:, k-1] * w_rec + X[:, k-1] * w_x."""
    raise NotImplementedError


def bptt(X, t, w_x, w_rec):
    """X (N, T), t (N,) targets -> (dxi/dw_x, dxi/dw_rec) for xi = mean((S_T - t)^2)."""
    raise NotImplementedError
''', 2, _grade_count_ones),
    Exercise("rnn_step", "rnn", _RNN_STEP_TEMPLATE, 1,
             _pair_grader("rnn_step", _rnn_truth, _rnn_cases)),
    Exercise("word_embedding", "rnn", '''
def word_embedding_forward(x, W):
    """x (N, T) integer word ids in [0, V), W (V, D) -> (out (N, T, D), cache)."""
    raise NotImplementedError


def word_embedding_backward(dout, cache):
    """dout (N, T, D) -> dW (V, D)."""
    raise NotImplementedError
''', 1, _pair_grader("word_embedding", _emb_truth, _emb_cases)),
    Exercise("lstm_step", "rnn", '''
def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """x (N, D), prev_h (N, H), prev_c (N, H), Wx (D, 4H), Wh (H, 4H), b (4H,), gates in
    the order i, f, o, g -> (next_h (N, H), next_c (N, H), cache)."""
    raise NotImplementedError


def lstm_step_backward(dnext_h, dnext_c, cache):
    """-> (dx (N, D), dprev_h (N, H), dprev_c (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,))."""
    raise NotImplementedError
''', 1, _pair_grader("lstm_step", _lstm_truth, _lstm_cases, n_out=2)),
    Exercise("rnn_sequence", "rnn", '''
def rnn_forward(x, h0, Wx, Wh, b):
    """x (N, T, D), h0 (N, H), Wx (D, H), Wh (H, H), b (H,) -> (h (N, T, H), cache)."""
    raise NotImplementedError


def rnn_backward(dh, cache):
    """dh (N, T, H) -> (dx (N, T, D), dh0 (N, H), dWx (D, H), dWh (H, H), db (H,))."""
    raise NotImplementedError
''', 2, _pair_grader("rnn", _rnn_seq_truth, _rnn_seq_cases)),
    Exercise("gru_step", "rnn", '''
def gru_step_forward(x, prev_h, Wx, Wh, b_x, b_h):
    """x (N, D), prev_h (N, H), Wx (D, 3H), Wh (H, 3H), b_x (3H,), b_h (3H,), gates r, z, n
    -> (next_h (N, H), cache)."""
    raise NotImplementedError


def gru_step_backward(dnext_h, cache):
    """-> (dx (N, D), dprev_h (N, H), dWx (D, 3H), dWh (H, 3H), db_x (3H,), db_h (3H,))."""
    raise NotImplementedError
''', 2, _pair_grader("gru_step", _gru_truth, _gru_cases)),
    Exercise("sample_temperature", "rnn", '''
def sample(logits, temperature, rng):
    """logits (V,), temperature > 0, rng a np.random.Generator -> one index in [0, V)."""
    raise NotImplementedError
''', 1, _grade_sample),
]

BY_NAME = {e.name: e for e in EXERCISES}

#: where handgrad's own code for each exercise lives (the task text points there)
READ_AFTER = {
    "affine": "handgrad/ops/reference/linear.py", "relu": "handgrad/ops/elementwise.py",
    "softmax_loss": "handgrad/ops/reference/softmax_cross_entropy.py",
    "conv_naive": "handgrad/ops/reference/conv.py",
    "conv_output_size": "handgrad/ops/output_size.py",
    "max_pool_naive": "handgrad/ops/reference/pooling.py",
    "batchnorm": "handgrad/ops/reference/batchnorm.py",
    "count_ones_bptt": "handgrad/experiments/count_ones.py",
    "rnn_step": "handgrad/ops/reference/rnn.py",
    "word_embedding": "handgrad/ops/reference/embedding.py",
    "lstm_step": "handgrad/ops/reference/lstm.py",
    "sample_temperature": "handgrad/experiments/char_lm.py",
    "rnn_sequence": "handgrad/ops/reference/rnn.py",
    "gru_step": "handgrad/ops/reference/gru.py",
    "quadratic_gd": "handgrad/experiments/linreg_sgd.py",
    "l2_norm_error": "handgrad/experiments/linreg_sgd.py",
}
