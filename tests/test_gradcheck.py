"""gradcheck / check_backward: correct code passes; code broken on purpose fails and the
report names the right diagnosis (sign, factor, transpose, shape, missing elements, time
steps of BPTT, relu kink, float32)."""

from __future__ import annotations

import numpy as np
import pytest

import handgrad as hg
from handgrad import nn
from handgrad.function import Function
from handgrad.gradcheck import GradcheckError, last_report, relative_error


@pytest.fixture
def r():
    return np.random.default_rng(7)


def failing(call, *args, **kwargs) -> GradcheckError:
    with pytest.raises(GradcheckError) as info:
        call(*args, **kwargs)
    return info.value


# ----------------------------------------------------------------------------------------
# The relative error itself
# ----------------------------------------------------------------------------------------
def test_relative_error_is_cs231n():
    a = np.array([1.0, 0.0, -2.0, 3.0])
    n = np.array([1.0, 0.0, 2.0, 2.9])
    np.testing.assert_allclose(relative_error(a, n), [0.0, 0.0, 2.0, 0.1 / 3.0])


def test_gradcheck_error_is_an_assertion_error():
    assert issubclass(GradcheckError, AssertionError)
    assert hg.GradcheckError is GradcheckError


# ----------------------------------------------------------------------------------------
# Correct code passes
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(1,), (3,), (2, 3), (2, 1, 3)])
def test_tanh_passes(r, shape):
    x = r.standard_normal(shape)
    assert hg.gradcheck(lambda t: t.tanh(), x)


@pytest.mark.parametrize("n,k,m", [(1, 1, 1), (2, 3, 4), (4, 3, 3)])
def test_matmul_passes(r, n, k, m):
    assert hg.gradcheck(lambda a, b: a @ b, (r.standard_normal((n, k)),
                                             r.standard_normal((k, m))))


def test_linear_module_checks_its_parameters(r):
    lin = nn.Linear(3, 2)  # float32 parameters
    w_before, b_before = lin.weight.data.copy(), lin.bias.data.copy()
    x = hg.tensor(r.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    assert hg.gradcheck(lin, x)
    rep = last_report()
    assert set(rep["results"]) == {"x", "weight", "bias"}
    assert all(res["max_rel_error"] < 1e-6 for res in rep["results"].values())
    # the float32 inputs were checked on float64 copies, and the report says so
    assert any("float32" in note for note in rep["notes"])
    # the module is left as it was: dtype, values, no gradient
    assert lin.weight.dtype == np.float32 and lin.weight.grad is None
    np.testing.assert_array_equal(lin.weight.data, w_before)
    np.testing.assert_array_equal(lin.bias.data, b_before)
    assert x.dtype == np.float32 and x.grad is None


def test_small_mlp_passes(r):
    hg.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))
    assert hg.gradcheck(mlp, r.standard_normal((2, 4)))
    assert len(last_report()["results"]) == 5  # input + 4 parameters


def test_dropout_draws_the_same_mask_every_evaluation(r):
    hg.manual_seed(3)
    model = nn.Sequential(nn.Linear(4, 6), nn.Dropout(0.5), nn.Linear(6, 2))
    state = hg.random.get_rng_state()
    assert hg.gradcheck(model, r.standard_normal((3, 4)))
    assert hg.random.get_rng_state() == state  # checking consumes no randomness


def test_tuple_outputs_and_constant_inputs(r):
    labels = np.array([0, 2, 1])

    def fn(a, b, idx):
        return (a * b)[np.arange(3), idx], (a - b).tanh()

    assert hg.gradcheck(fn, (r.standard_normal((3, 3)), r.standard_normal((3, 3)), labels))
    assert set(last_report()["results"]) == {"a", "b"}


def test_explicit_params_dict(r):
    w = nn.Parameter(r.standard_normal((3, 2)))
    assert hg.gradcheck(lambda x: (x @ w).tanh(), r.standard_normal((2, 3)),
                        params={"w": w}, names=["x"])
    assert set(last_report()["results"]) == {"x", "w"}


def test_numeric_gradient_matches_torch(r):
    """The engine's numerical gradient equals torch's analytic one for the same upstream."""
    from tests.helpers import torch

    x, w = r.standard_normal((3, 4)), r.standard_normal((4, 2))
    hg.gradcheck(lambda a, b: (a @ b).tanh(), (x, w), seed=5)
    rep = last_report()
    u = rep["upstream"][0]
    # the upstream gradient is its own stream: never the inputs' default_rng(seed) draws
    assert not np.allclose(u, np.random.default_rng(5).standard_normal((3, 2)))
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    (torch.tanh(tx @ tw) * torch.tensor(u)).sum().backward()
    np.testing.assert_allclose(rep["results"]["a"]["numeric"], tx.grad.numpy(), rtol=1e-7,
                               atol=1e-9)
    np.testing.assert_allclose(rep["results"]["b"]["numeric"], tw.grad.numpy(), rtol=1e-7,
                               atol=1e-9)


def test_inputs_are_not_modified(r):
    x = r.standard_normal((2, 3))
    x_copy = x.copy()
    hg.gradcheck(lambda t: t * t, x)
    np.testing.assert_array_equal(x, x_copy)


def matmul_forward(x, w):
    return x @ w


def matmul_backward(dout, x, w):
    return dout @ w.T, x.T @ dout


def test_numpy_pair_passes(r):
    assert hg.check_backward(matmul_forward, matmul_backward,
                             (r.standard_normal((4, 3)), r.standard_normal((3, 5))))
    assert last_report()["style"] == "plain"


def affine_forward(x, w, b):
    return x @ w + b, (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def test_cs231n_style_pair_passes(r):
    assert hg.check_backward(affine_forward, affine_backward,
                             (r.standard_normal((4, 3)), r.standard_normal((3, 5)),
                              r.standard_normal(5)))
    rep = last_report()
    assert rep["style"] == "cs231n"
    assert set(rep["results"]) == {"x", "w", "b"}  # names from forward's signature


def relu_forward(x):
    return np.maximum(x, 0), x  # CS231n's relu keeps x itself as the cache


def relu_backward(dout, cache):
    return dout * (cache > 0)


def test_cs231n_array_cache_detected_by_parameter_name(r):
    x = r.standard_normal((3, 4))
    x[np.abs(x) < 0.1] = 0.5  # away from the kink
    assert hg.check_backward(relu_forward, relu_backward, x)
    assert last_report()["style"] == "cs231n"


def test_integer_inputs_pass_through(r):
    def fwd(scores, y):
        return scores[np.arange(len(y)), y]

    def bwd(dout, scores, y):
        d = np.zeros_like(scores)
        d[np.arange(len(y)), y] = dout
        return (d,)  # only the float input's gradient

    assert hg.check_backward(fwd, bwd, (r.standard_normal((3, 4)), np.array([1, 0, 3])))


# ----------------------------------------------------------------------------------------
# Broken on purpose: the diagnosis
# ----------------------------------------------------------------------------------------
class FlippedTanh(Function):
    @staticmethod
    def forward(ctx, x):
        y = np.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved_arrays
        return -dy * (1 - y * y)  # wrong: the sign


class DoubledSquare(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved_arrays
        return dy * 4 * x  # wrong: 2x twice


def test_sign_flipped_function(r):
    err = failing(hg.gradcheck, lambda t: FlippedTanh.apply(t), r.standard_normal((3, 2)))
    assert err.report["diagnosis"] == "sign"
    assert err.report["results"]["t"]["factor"] == -1.0
    text = str(err)
    assert "input 't' shape (3, 2)" in text and "DIAGNOSIS (sign)" in text
    assert "worst elements" in text


def test_sign_flipped_numpy_pair(r):
    def bwd(dout, x, w):
        return dout @ w.T, -(x.T @ dout)

    err = failing(hg.check_backward, matmul_forward, bwd,
                  (r.standard_normal((4, 3)), r.standard_normal((3, 5))))
    assert err.report["diagnoses"] == {"w": "sign"}
    assert err.report["failed"] == ["w"]


def test_factor_two(r):
    err = failing(hg.gradcheck, lambda t: DoubledSquare.apply(t), r.standard_normal((2, 3)))
    assert err.report["diagnosis"] == "factor"
    res = err.report["results"]["t"]
    assert res["factor"] == pytest.approx(2.0, rel=1e-6)
    assert res["factor_label"] == "2"
    assert "A factor 2" in str(err)


def test_factor_n_forgot_the_mean(r):
    """Forward takes the mean over the batch of N=6 rows; backward forgets the 1/N."""
    def fwd(x, w):
        return ((x @ w) ** 2).sum(axis=1).mean()

    def bwd(dout, x, w):
        y = x @ w
        dy = dout * 2 * y  # missing / x.shape[0]
        return dy @ w.T, x.T @ dy

    err = failing(hg.check_backward, fwd, bwd, (r.standard_normal((6, 3)),
                                                r.standard_normal((3, 2))))
    assert err.report["diagnoses"] == {"x": "factor", "w": "factor"}
    res = err.report["results"]["w"]
    assert res["factor"] == pytest.approx(6.0, rel=1e-6)
    assert "dim 0 of 'x'" in res["factor_size"]
    assert "forget to divide by N" in str(err)


def test_factor_one_over_n(r):
    """The reverse: backward divides by N although forward sums."""
    def fwd(x):
        return (x ** 2).sum()

    def bwd(dout, x):
        return dout * 2 * x / x.shape[0]

    err = failing(hg.check_backward, fwd, bwd, r.standard_normal((4, 3)))
    res = err.report["results"]["x"]
    assert res["diagnosis"] == "factor" and res["factor_label"] == "1/4"


def test_transposed_square_weight(r):
    """PyTorch layout out = x @ W.T; the learner writes dW = x.T @ dout (the transpose)."""
    def fwd(x, w):
        return x @ w.T

    def bwd(dout, x, w):
        return dout @ w, x.T @ dout  # right: dout.T @ x

    err = failing(hg.check_backward, fwd, bwd, (r.standard_normal((5, 3)),
                                                r.standard_normal((3, 3))))
    assert err.report["diagnoses"] == {"w": "transposed"}


def test_transposed_shape_of_rectangular_weight(r):
    def bwd(dout, x, w):
        return dout @ w.T, dout.T @ x  # shape (5, 3) for w of shape (3, 5)

    err = failing(hg.check_backward, matmul_forward, bwd,
                  (r.standard_normal((4, 3)), r.standard_normal((3, 5))))
    res = err.report["results"]["w"]
    assert res["diagnosis"] == "transposed"
    assert res["analytic_shape"] == (5, 3)
    assert "WRONG SHAPE" in str(err)


def test_transposed_then_reshaped(r):
    def bwd(dout, x, w):
        return dout @ w.T, (dout.T @ x).reshape(w.shape)

    err = failing(hg.check_backward, matmul_forward, bwd,
                  (r.standard_normal((4, 3)), r.standard_normal((3, 5))))
    assert err.report["diagnoses"]["w"] == "transposed"


def test_bias_not_summed_over_batch(r):
    def bwd(dout, cache):
        x, w, b = cache
        return dout @ w.T, x.T @ dout, dout  # db must be summed over the batch

    err = failing(hg.check_backward, affine_forward, bwd,
                  (r.standard_normal((4, 3)), r.standard_normal((3, 2)), r.standard_normal(2)))
    assert err.report["diagnoses"] == {"b": "shape"}
    assert "dout.sum(axis=0)" in str(err)


def test_gradient_missing_on_some_rows(r):
    def bwd(dout, x, w):
        dx = dout @ w.T
        dx[0] = 0  # the loop started at 1
        return dx, x.T @ dout

    err = failing(hg.check_backward, matmul_forward, bwd,
                  (r.standard_normal((4, 3)), r.standard_normal((3, 2))))
    res = err.report["results"]["x"]
    assert res["diagnosis"] == "partial"
    assert "indices along axis 0 [0]" in res["diagnosis_text"]


def test_no_gradient_through_numpy(r):
    def fn(t):
        return hg.tensor(np.tanh(t.data))  # leaves the graph

    err = failing(hg.gradcheck, fn, r.standard_normal(3))
    assert err.report["diagnosis"] == "no_gradient"


def test_relu_kink_crossed():
    x = np.array([[0.5, -1.0, 3e-7], [-2e-7, 1.5, -0.7]])
    err = failing(hg.gradcheck, lambda t: t.relu(), x)
    res = err.report["results"]["t"]
    assert res["diagnosis"] == "kink"
    assert set(res["kink_elements"]) == {(0, 2), (1, 0)}
    assert "probably RIGHT" in res["diagnosis_text"]
    # away from the kink the same function passes
    assert hg.gradcheck(lambda t: t.relu(), x + 0.1 * np.sign(x))


def test_float32_check_fails_only_by_rounding(r):
    x = hg.tensor(r.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    fn = lambda t: ((t * t).tanh() * 3).sum()  # noqa: E731
    assert hg.gradcheck(fn, x)  # default: float64 copies
    err = failing(hg.gradcheck, fn, x, dtype=None)  # keep float32: rounding noise
    assert err.report["diagnosis"] == "float32"
    assert any("PASSES" in note for note in err.report["notes"])


def test_float32_inside_the_learners_forward(r):
    def fwd(x, w):
        out = np.zeros((x.shape[0], w.shape[1]), dtype=np.float32)  # a float32 buffer
        out[...] = x @ w
        return out

    err = failing(hg.check_backward, fwd, matmul_backward,
                  (r.standard_normal((3, 4)), r.standard_normal((4, 2))))
    assert set(err.report["diagnoses"].values()) == {"float32"}
    assert err.report["float32_in_computation"]


def test_raise_exception_false_returns_false(r):
    assert hg.gradcheck(lambda t: FlippedTanh.apply(t), r.standard_normal(3),
                        raise_exception=False) is False
    assert last_report()["diagnosis"] == "sign"


def test_report_is_deterministic(r):
    x = r.standard_normal((3, 2))
    e1 = failing(hg.gradcheck, lambda t: FlippedTanh.apply(t), x)
    e2 = failing(hg.gradcheck, lambda t: FlippedTanh.apply(t), x)
    assert str(e1) == str(e2)


# ----------------------------------------------------------------------------------------
# Recurrent code: a tanh RNN written by hand, h_t = tanh(x_t Wx + h_{t-1} Wh + b)
# ----------------------------------------------------------------------------------------
def rnn_forward(x, h0, wx, wh, b):
    h, hs = h0, []
    for t in range(x.shape[0]):
        h = np.tanh(x[t] @ wx + h @ wh + b)
        hs.append(h)
    return np.stack(hs)


def make_rnn_backward(bug: str | None = None):
    def rnn_backward(dout, x, h0, wx, wh, b):
        h = rnn_forward(x, h0, wx, wh, b)
        T = x.shape[0]
        dx = np.zeros_like(x)
        dwx, dwh, db = np.zeros_like(wx), np.zeros_like(wh), np.zeros_like(b)
        dh_next = np.zeros_like(h0)
        for t in reversed(range(T)):
            dh = dout[t] + (0.0 if bug == "no_carry" else dh_next)
            da = dh * (1 - h[t] ** 2)
            h_prev = h[t - 1] if t > 0 else h0
            dx[t] = da @ wx.T
            if bug == "last_step_wx":
                if t == T - 1:
                    dwx += x[t].T @ da
            elif bug == "overwrite_wx":
                dwx = x[t].T @ da
            else:
                dwx += x[t].T @ da
            dwh += h_prev.T @ da
            db += da.sum(axis=0)
            dh_next = da @ wh.T
        return dx, dh_next, dwx, dwh, db
    return rnn_backward


@pytest.fixture
def rnn_inputs(r):
    T, N, D, H = 4, 2, 3, 3
    return (r.standard_normal((T, N, D)), r.standard_normal((N, H)),
            0.5 * r.standard_normal((D, H)), 0.5 * r.standard_normal((H, H)),
            r.standard_normal(H))


def test_rnn_by_hand_passes(rnn_inputs):
    assert hg.check_backward(rnn_forward, make_rnn_backward(), rnn_inputs, time_dim=0)
    rep = last_report()
    assert [row["t"] for row in rep["results"]["x"]["per_slice"]] == [0, 1, 2, 3]
    assert all(row["ok"] for row in rep["results"]["wh"]["per_step"])


def test_rnn_dwx_only_from_last_step(rnn_inputs):
    err = failing(hg.check_backward, rnn_forward, make_rnn_backward("last_step_wx"),
                  rnn_inputs, time_dim=0)
    assert err.report["diagnoses"] == {"wx": "last_step_only"}
    steps = err.report["results"]["wx"]["per_step"]
    assert [row["analytic_norm"] == 0 for row in steps] == [True, True, True, False]
    assert "per time step" in str(err)


def test_rnn_dh_not_carried_names_the_first_bad_step(rnn_inputs):
    err = failing(hg.check_backward, rnn_forward, make_rnn_backward("no_carry"),
                  rnn_inputs, time_dim=0)
    assert err.report["diagnoses"]["x"] == "time_step"
    assert err.report["first_bad_step"] == 2  # T-1 = 3 is right, BPTT departs at 2
    assert "first departs at time step t=2" in str(err)
    assert err.report["diagnoses"]["wh"] == "time_step"  # traced back to the same bug


def test_rnn_dwx_overwritten_instead_of_accumulated(rnn_inputs):
    err = failing(hg.check_backward, rnn_forward, make_rnn_backward("overwrite_wx"),
                  rnn_inputs, time_dim=0)
    res = err.report["results"]["wx"]
    assert res["diagnosis"] == "time_step"
    assert res["first_bad_loss_step"] == 1
    assert "+=" in res["diagnosis_text"]


def test_time_dim_with_graph_functions(r):
    """gradcheck (handgrad tensors) gives the same per-step tables."""
    wx = nn.Parameter(0.5 * r.standard_normal((3, 3)))
    wh = nn.Parameter(0.5 * r.standard_normal((3, 3)))

    def rnn(x):
        h = hg.zeros((2, 3), dtype=np.float64)
        hs = []
        for t in range(x.shape[0]):
            h = (x[t] @ wx + h @ wh).tanh()
            hs.append(h)
        return hg.stack(hs)

    assert hg.gradcheck(rnn, r.standard_normal((3, 2, 3)), params={"wx": wx, "wh": wh},
                        time_dim=0)
    rep = last_report()
    assert len(rep["results"]["wh"]["per_step"]) == 3


# ----------------------------------------------------------------------------------------
# Bad arguments
# ----------------------------------------------------------------------------------------
def test_bad_arguments(r):
    with pytest.raises(TypeError, match="callable"):
        hg.gradcheck(3, r.standard_normal(2))
    with pytest.raises(ValueError, match="nothing to check"):
        hg.gradcheck(lambda t: t * 2, hg.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="eps"):
        hg.gradcheck(lambda t: t * 2, r.standard_normal(2), eps=0)
    with pytest.raises(ValueError, match="time_dim"):
        hg.gradcheck(lambda t: t * 2, r.standard_normal(2), time_dim=1)
    with pytest.raises(ValueError, match="names"):
        hg.gradcheck(lambda t: t * 2, r.standard_normal(2), names=["a", "b"])


def test_backward_returning_too_few_gradients(r):
    def bwd(dout, x, w):
        return (dout @ w.T,)

    with pytest.raises(ValueError, match="one gradient per input"):
        hg.check_backward(matmul_forward, bwd, (r.standard_normal((2, 3)),
                                                r.standard_normal((3, 2))))


def test_rnn_loop_that_stops_before_step_zero(rnn_inputs):
    def bwd(dout, x, h0, wx, wh, b):
        dx, dh0, dwx, dwh, db = make_rnn_backward()(dout, x, h0, wx, wh, b)
        dx[0] = 0  # as if the loop ran range(T - 1, 0, -1)
        return dx, dh0, dwx, dwh, db

    err = failing(hg.check_backward, rnn_forward, bwd, rnn_inputs, time_dim=0)
    assert err.report["diagnoses"] == {"x": "partial"}
    assert "range(T - 1, 0, -1)" in str(err)


class TransposedMatMul(Function):
    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return x @ w

    @staticmethod
    def backward(ctx, dout):
        x, w = ctx.saved_arrays
        return dout @ w.T, dout.T @ x  # wrong: the transpose of x.T @ dout


def test_transposed_weight_in_a_function(r):
    fn = lambda a, b: TransposedMatMul.apply(a, b)  # noqa: E731
    err = failing(hg.gradcheck, fn, (r.standard_normal((4, 3)), r.standard_normal((3, 3))))
    assert err.report["diagnoses"] == {"b": "transposed"}
    # a rectangular weight cannot even take the transposed gradient: a clear ValueError
    with pytest.raises(ValueError, match="backward pass failed"):
        hg.gradcheck(fn, (r.standard_normal((4, 3)), r.standard_normal((3, 5))))


# ----------------------------------------------------------------------------------------
# The course's counting-ones RNN: s_k = s_{k-1} w_rec + x_k w_x, y = s_T (scalar weights)
# ----------------------------------------------------------------------------------------
def count_forward(X, wx, wrec):
    s = np.zeros(X.shape[0])
    for k in range(X.shape[1]):
        s = s * wrec + X[:, k] * wx
    return s


def count_backward(dy, X, wx, wrec, only_last=False):
    T = X.shape[1]
    states = [np.zeros(X.shape[0])]
    for k in range(T):
        states.append(states[-1] * wrec + X[:, k] * wx)
    ds, dwx, dwrec = dy, 0.0, 0.0
    for k in reversed(range(T)):  # BPTT: from the last step to the first
        if not only_last or k == T - 1:
            dwx += np.sum(ds * X[:, k])
            dwrec += np.sum(ds * states[k])
        ds = ds * wrec
    return None, dwx, dwrec


def test_counting_ones_scalar_weights():
    X = np.random.default_rng(1).integers(0, 2, size=(10, 6)).astype(np.float64)
    # backward returns None for X, on which the output depends: that is a failure
    # (a missing gradient never passes), named as such
    err = failing(hg.check_backward, count_forward, count_backward, (X, 1.2, 1.2))
    assert err.report["failed"] == ["X"] and err.report["diagnosis"] == "no_gradient"
    # wrt says which inputs the gradients are for
    assert hg.check_backward(count_forward, count_backward, (X, 1.2, 1.2), wrt=("wx", "wrec"))
    assert set(last_report()["results"]) == {"wx", "wrec"}
    err = failing(hg.check_backward, count_forward,
                  lambda dy, X, wx, wr: count_backward(dy, X, wx, wr, only_last=True),
                  (X, 1.2, 1.2), names=["X", "wx", "wrec"], wrt=("wx", "wrec"))
    assert set(err.report["failed"]) == {"wx", "wrec"}


class TwoOutputs(Function):
    """(tanh x, x^2): backward receives one upstream gradient per output."""

    @staticmethod
    def forward(ctx, x):
        y = np.tanh(x)
        ctx.save_for_backward(x, y)
        return y, x * x

    @staticmethod
    def backward(ctx, dy, dz):
        x, y = ctx.saved_arrays
        return dy * (1 - y * y) + 2 * x * dz


def test_layer_door_with_several_outputs(r):
    """Fn.layer_forward -> ((y, z), cache) and Fn.layer_backward((dy, dz), cache)."""
    assert hg.check_backward(TwoOutputs.layer_forward, TwoOutputs.layer_backward,
                             r.standard_normal((2, 3)))
    assert last_report()["style"] == "cs231n"
    assert hg.gradcheck(lambda t: TwoOutputs.apply(t), r.standard_normal((2, 3)))


def test_cs231n_several_outputs_then_cache(r):
    """CS231n's lstm_step style: forward -> (h, c, cache), backward(dh, dc, cache)."""
    def step_forward(x, c):
        h = np.tanh(x) * c
        return h, 2 * c, (x, c)

    def step_backward(dh, dc, cache):
        x, c = cache
        return dh * c * (1 - np.tanh(x) ** 2), dh * np.tanh(x) + 2 * dc

    assert hg.check_backward(step_forward, step_backward,
                             (r.standard_normal((2, 3)), r.standard_normal((2, 3))))
