"""The bug zoo: layers written the way learners write them (CS231n functions, "Deep
Learning from Scratch" classes, plain NumPy pairs), each correct version next to the
typical bugs, one at a time. Every entry says what the checker must answer: "ok" for a
correct version, else the diagnosis key it must give (``any`` where only the verdict is
promised). ``tests/check/test_zoo.py`` asserts every entry; ``docs/gradcheck-zoo.md`` is
generated from this file (``python -m tests.check.zoo`` writes it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Entry:
    family: str
    name: str
    expect: str          # "ok", a diagnosis key, or "any" (fails, any diagnosis)
    line: str            # the buggy line as the learner wrote it ("" for a correct one)
    run: Callable[[], bool]  # runs the check, raise_exception=False


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _pair(fwd: Callable[..., Any], bwd: Callable[..., Any], inputs: Callable[[], list],
          **kw: Any) -> Callable[[], bool]:
    import handgrad as hg

    return lambda: hg.check_backward(fwd, bwd, inputs(), raise_exception=False, **kw)


def _layer(make: Callable[[], Any], inputs: Callable[[], list]) -> Callable[[], bool]:
    from handgrad.gradcheck_layers import check_layer

    return lambda: check_layer(make(), inputs(), raise_exception=False)


def _loss(fn: Callable[..., tuple[float, np.ndarray]], inputs: Callable[[], list]
          ) -> Callable[[], bool]:
    """A CS231n loss function ``loss, dx = fn(x, y)``: checked as a pair."""
    import handgrad as hg

    def go() -> bool:
        x, y = inputs()
        return hg.check_backward(lambda x: np.asarray(fn(x, y)[0]),
                                 lambda d, x: d * fn(x, y)[1], [x],
                                 raise_exception=False, names=["x"])
    return go


ENTRIES: list[Entry] = []


def entry(family: str, name: str, expect: str, line: str = "") -> Callable[[Any], Any]:
    def add(make_run: Callable[[], Callable[[], bool]]) -> Any:
        ENTRIES.append(Entry(family, name, expect, line, make_run()))
        return make_run
    return add


# -- affine (CS231n) -------------------------------------------------------------------
def affine_forward(x, w, b):
    return x.reshape(x.shape[0], -1) @ w + b, (x, w, b)


def _affine_backward(bug: str = ""):
    def affine_backward(dout, cache):
        x, w, b = cache
        xf = x.reshape(x.shape[0], -1)
        dx = (dout @ w.T).reshape(x.shape)
        dw = xf.T @ dout
        db = dout.sum(axis=0)
        if bug == "dw_T":
            dw = (xf.T @ dout).T
        if bug == "db_first_row":
            db = dout[0]
        if bug == "dx_sign":
            dx = -dx
        if bug == "dw_twice":
            dw = 2 * xf.T @ dout
        if bug == "no_dx":
            dx = None
        if bug == "db_mean":
            db = dout.mean(axis=0)
        return dx, dw, db
    return affine_backward


def _affine_inputs():
    r = _rng(1)
    return [r.standard_normal((4, 3)), r.standard_normal((3, 3)), r.standard_normal(3)]


for _bug, _exp, _line in [
        ("", "ok", ""),
        ("dw_T", "transposed", "dw = (x.T @ dout).T"),
        ("db_first_row", "any", "db = dout[0]"),
        ("dx_sign", "sign", "dx = -(dout @ w.T)"),
        ("dw_twice", "factor", "dw = 2 * x.T @ dout"),
        ("no_dx", "no_gradient", "return None, dw, db"),
        ("db_mean", "factor", "db = dout.mean(axis=0)")]:
    entry("affine (CS231n)", _bug or "correct", _exp, _line)(
        lambda b=_bug: _pair(affine_forward, _affine_backward(b), _affine_inputs,
                             style="cs231n"))


# -- relu, sigmoid, tanh (plain pairs) -------------------------------------------------
def _act_inputs():
    return [_rng(2).standard_normal((4, 5))]


_ACTS = [
    ("relu", lambda x: np.maximum(x, 0), [
        ("", "ok", "dout * (x > 0)", lambda d, x: d * (x > 0)),
        ("mask_only", "dout_ignored", "return (x > 0) * 1.0", lambda d, x: (x > 0) * 1.0),
        ("inverted_mask", "any", "dout * (x < 0)", lambda d, x: d * (x < 0)),
        ("identity", "any", "return dout", lambda d, x: d)]),
    ("sigmoid", lambda x: 1 / (1 + np.exp(-x)), [
        ("", "ok", "", lambda d, x: d * (s := 1 / (1 + np.exp(-x))) * (1 - s)),
        ("plus", "any", "dout * s * (1 + s)",
         lambda d, x: d * (s := 1 / (1 + np.exp(-x))) * (1 + s)),
        ("one_minus_only", "any", "dout * (1 - s)",
         lambda d, x: d * (1 - 1 / (1 + np.exp(-x)))),
        ("no_dout", "dout_ignored", "s * (1 - s)",
         lambda d, x: (s := 1 / (1 + np.exp(-x))) * (1 - s)),
        ("sign", "sign", "dout * s * (s - 1)",
         lambda d, x: d * (s := 1 / (1 + np.exp(-x))) * (s - 1))]),
    ("tanh", np.tanh, [
        ("", "ok", "", lambda d, x: d * (1 - np.tanh(x) ** 2)),
        ("of_input", "any", "dout * (1 - x ** 2)", lambda d, x: d * (1 - x ** 2)),
        ("sign", "sign", "dout * (np.tanh(x) ** 2 - 1)", lambda d, x: d * (np.tanh(x) ** 2 - 1)),
        ("no_square", "any", "dout * (1 - np.tanh(x))", lambda d, x: d * (1 - np.tanh(x)))]),
]
for _fam, _fwd, _cases in _ACTS:
    for _bug, _exp, _line, _bwd in _cases:
        entry(_fam, _bug or "correct", _exp, _line)(
            lambda f=_fwd, b=_bwd: _pair(f, b, _act_inputs))


# -- softmax and SVM losses (CS231n loss functions returning (loss, dx)) ----------------
def _softmax_loss(bug: str = ""):
    def softmax_loss(x, y):
        n = x.shape[0]
        z = x - x.max(axis=1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        loss = -np.log(p[np.arange(n), y]).mean()
        dx = p.copy()
        if bug != "no_minus_one":
            dx[np.arange(n), y] -= 1
        if bug == "by_classes":
            dx /= x.shape[1]
        elif bug != "no_mean":
            dx /= n
        if bug == "sign":
            dx = -dx
        return loss, dx
    return softmax_loss


def _svm_loss(bug: str = ""):
    def svm_loss(x, y):
        n = x.shape[0]
        correct = x[np.arange(n), y][:, None]
        margins = np.maximum(0, x - correct + 1.0)
        margins[np.arange(n), y] = 0
        loss = margins.sum() / n
        pos = (margins > 0).astype(float)
        if bug == "count_wrong":
            pos[np.arange(n), y] = -1
        else:
            pos[np.arange(n), y] = -pos.sum(axis=1)
        dx = pos if bug == "no_mean" else pos / n
        return loss, dx
    return svm_loss


def _loss_inputs():
    r = _rng(3)
    return [r.standard_normal((5, 4)) * 2, r.integers(0, 4, 5)]


for _bug, _exp, _line in [("", "ok", ""), ("no_mean", "factor", "dx = p - onehot  # no / N"),
                          ("no_minus_one", "any", "dx = p / N  # forgot - onehot"),
                          ("sign", "sign", "dx = (onehot - p) / N"),
                          ("by_classes", "factor", "dx /= C  # not N")]:
    entry("softmax_loss", _bug or "correct", _exp, _line)(
        lambda b=_bug: _loss(_softmax_loss(b), _loss_inputs))
for _bug, _exp, _line in [("", "ok", ""), ("no_mean", "factor", "dx = pos  # no / N"),
                          ("count_wrong", "any", "dx[i, y[i]] = -1  # not -count")]:
    entry("svm_loss", _bug or "correct", _exp, _line)(
        lambda b=_bug: _loss(_svm_loss(b), _loss_inputs))


# -- convolution (CS231n naive) ----------------------------------------------------------
def conv_forward_naive(x, w, b, conv_param):
    s, p = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    Ho, Wo = 1 + (H + 2 * p - HH) // s, 1 + (W + 2 * p - WW) // s
    out = np.zeros((N, F, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            win = xp[:, :, i * s:i * s + HH, j * s:j * s + WW]
            out[:, :, i, j] = np.tensordot(win, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out, (x, w, b, conv_param)


def _conv_backward(bug: str = ""):
    def conv_backward_naive(dout, cache):
        x, w, b, conv_param = cache
        s, p = conv_param["stride"], conv_param["pad"]
        _, _, HH, WW = w.shape
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        dxp, dw = np.zeros_like(xp), np.zeros_like(w)
        db = dout.sum(axis=(0, 2, 3)) if bug != "db_no_spatial" else dout.sum(axis=0)[:, 0, 0]
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                win = xp[:, :, i * s:i * s + HH, j * s:j * s + WW]
                g = dout[:, :, i, j]
                dw += np.tensordot(g, win, axes=([0], [0]))
                dxp[:, :, i * s:i * s + HH, j * s:j * s + WW] += np.tensordot(
                    g, w, axes=([1], [0]))
        dx = dxp[:, :, p:dxp.shape[2] - p, p:dxp.shape[3] - p]
        if bug == "dx_no_crop_offset":
            dx = dxp[:, :, :x.shape[2], :x.shape[3]]
        if bug == "dw_sign":
            dw = -dw
        if bug == "dw_rot180":
            dw = dw[:, :, ::-1, ::-1]
        if bug == "dx_twice":
            dx = 2 * dx
        return dx, dw, db
    return conv_backward_naive


def _conv_inputs():
    r = _rng(4)
    return [r.standard_normal((2, 2, 5, 5)), r.standard_normal((3, 2, 3, 3)),
            r.standard_normal(3), {"stride": 2, "pad": 1}]


for _bug, _exp, _line in [("", "ok", ""), ("db_no_spatial", "any", "db = dout.sum(0)[:, 0, 0]"),
                          ("dx_no_crop_offset", "any", "dx = dxp[:, :, :H, :W]"),
                          ("dw_sign", "sign", "dw -= x_window * dout"),
                          ("dw_rot180", "any", "dw = dw[:, :, ::-1, ::-1]  # flipped"),
                          ("dx_twice", "factor", "dx = 2 * dx")]:
    entry("conv naive (CS231n)", _bug or "correct", _exp, _line)(
        lambda b=_bug: _pair(conv_forward_naive, _conv_backward(b), _conv_inputs,
                             style="cs231n"))


# -- pooling -----------------------------------------------------------------------------
def max_pool_forward_naive(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    Ho, Wo = 1 + (H - ph) // s, 1 + (W - pw) // s
    out = np.zeros((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = x[:, :, i * s:i * s + ph, j * s:j * s + pw].max(axis=(2, 3))
    return out, (x, pool_param)


def _max_pool_backward(bug: str = ""):
    def max_pool_backward_naive(dout, cache):
        x, pp = cache
        ph, pw, s = pp["pool_height"], pp["pool_width"], pp["stride"]
        dx = np.zeros_like(x)
        for n in range(x.shape[0]):
            for c in range(x.shape[1]):
                for i in range(dout.shape[2]):
                    for j in range(dout.shape[3]):
                        win = x[n, c, i * s:i * s + ph, j * s:j * s + pw]
                        mask = win == win.max()
                        view = dx[n, c, i * s:i * s + ph, j * s:j * s + pw]
                        if bug == "overwrite":      # the famous one: = instead of +=
                            view[mask] = dout[n, c, i, j]
                        elif bug == "whole_window":
                            view += dout[n, c, i, j]
                        elif bug == "no_dout":
                            view += mask
                        else:
                            view += mask * dout[n, c, i, j]
        return dx
    return max_pool_backward_naive


def _pool_inputs():  # stride 1 < pool 2: the windows overlap
    return [_rng(5).standard_normal((2, 2, 4, 4)),
            {"pool_height": 2, "pool_width": 2, "stride": 1}]


for _bug, _exp, _line in [("", "ok", ""),
                          ("overwrite", "any", "dx[window][mask] = dout[n, c, i, j]"),
                          ("whole_window", "any", "dx[window] += dout[n, c, i, j]"),
                          ("no_dout", "dout_ignored", "dx[window] += mask")]:
    entry("max pool naive (CS231n)", _bug or "correct", _exp, _line)(
        lambda b=_bug: _pair(max_pool_forward_naive, _max_pool_backward(b), _pool_inputs,
                             style="cs231n"))


def _avg_pool(bug: str = ""):
    def fwd(x):
        N, C, H, W = x.shape
        return x.reshape(N, C, H // 2, 2, W // 2, 2).mean(axis=(3, 5))

    def bwd(dout, x):
        g = np.repeat(np.repeat(dout, 2, axis=2), 2, axis=3)
        return g if bug == "no_divide" else g / 4
    return fwd, bwd


for _bug, _exp, _line in [("", "ok", ""), ("no_divide", "factor", "dx = upsample(dout)  # no / 4")]:
    entry("avg pool", _bug or "correct", _exp, _line)(
        lambda b=_bug: _pair(*_avg_pool(b), lambda: [_rng(6).standard_normal((1, 2, 4, 4))]))


# -- batch norm (CS231n, training mode) --------------------------------------------------
def batchnorm_forward(x, gamma, beta, bn_param):
    eps = bn_param.get("eps", 1e-5)
    mu, var = x.mean(axis=0), x.var(axis=0)
    xhat = (x - mu) / np.sqrt(var + eps)
    return gamma * xhat + beta, (xhat, gamma, np.sqrt(var + eps))


def _bn_backward(bug: str = ""):
    def batchnorm_backward(dout, cache):
        xhat, gamma, std = cache
        n = dout.shape[0]
        dbeta = dout.sum(axis=0) if bug != "dbeta_all" else dout.sum()
        dgamma = (dout * xhat).sum(axis=0)
        if bug == "dgamma_sign":
            dgamma = -dgamma
        dxhat = dout * gamma
        if bug == "no_mean_terms":
            dx = dxhat / std
        elif bug == "no_n":
            dx = (n * dxhat - dxhat.sum(0) - xhat * (dxhat * xhat).sum(0)) / std
        else:
            dx = (n * dxhat - dxhat.sum(0) - xhat * (dxhat * xhat).sum(0)) / (n * std)
        return dx, dgamma, dbeta
    return batchnorm_backward


def _bn_inputs():
    r = _rng(7)
    return [r.standard_normal((6, 3)) * 2 + 1, r.standard_normal(3), r.standard_normal(3),
            {"mode": "train"}]


for _bug, _exp, _line in [("", "ok", ""), ("no_mean_terms", "any", "dx = dxhat / std"),
                          ("dgamma_sign", "sign", "dgamma = -(dout * xhat).sum(0)"),
                          ("no_n", "factor", "dx = (N*dxhat - ...) / std  # no / N"),
                          ("dbeta_all", "shape", "dbeta = dout.sum()")]:
    entry("batch norm (CS231n)", _bug or "correct", _exp, _line)(
        lambda b=_bug: _pair(batchnorm_forward, _bn_backward(b), _bn_inputs, style="cs231n"))


# -- dropout with a fixed mask -------------------------------------------------------------
def _dropout(bug: str = ""):
    p = 0.5
    mask = _rng(8).random((4, 5)) > p

    def fwd(x):
        return x * mask / (1 - p)

    def bwd(dout, x):
        if bug == "no_mask":
            return dout / (1 - p)
        if bug == "no_scale":
            return dout * mask
        if bug == "no_dout":
            return mask / (1 - p)
        return dout * mask / (1 - p)
    return fwd, bwd


for _bug, _exp, _line in [("", "ok", ""), ("no_mask", "any", "dx = dout / (1 - p)"),
                          ("no_scale", "factor", "dx = dout * mask"),
                          ("no_dout", "dout_ignored", "dx = mask / (1 - p)")]:
    entry("dropout", _bug or "correct", _exp, _line)(
        lambda b=_bug: _pair(*_dropout(b), _act_inputs))


# -- word embedding (CS231n) ---------------------------------------------------------------
def _embedding(bug: str = ""):
    idx = np.array([[0, 2, 2], [1, 0, 2]])   # repeated indices

    def fwd(W):
        return W[idx]

    def bwd(dout, W):
        dW = np.zeros_like(W)
        if bug == "buffered":
            dW[idx] += dout                    # repeated indices: only one write lands
        elif bug == "assign":
            dW[idx] = dout
        else:
            np.add.at(dW, idx, dout)
        return dW
    return fwd, bwd


for _bug, _exp, _line in [("", "ok", ""), ("buffered", "any", "dW[x] += dout"),
                          ("assign", "any", "dW[x] = dout")]:
    entry("word embedding", _bug or "correct", _exp, _line)(
        lambda b=_bug: _pair(*_embedding(b), lambda: [_rng(9).standard_normal((3, 4))]))


# -- RNN step and sequence (CS231n) --------------------------------------------------------
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return h, (x, prev_h, Wx, Wh, h)


def _rnn_step_backward(bug: str = ""):
    def rnn_step_backward(dh, cache):
        x, prev_h, Wx, Wh, h = cache
        da = dh * (1 - h ** 2) if bug != "tanh_of_prev" else dh * (1 - prev_h ** 2)
        dWh = prev_h.T @ da if bug != "wh_with_next" else h.T @ da
        dx = da @ Wx.T if bug != "dx_sign" else -(da @ Wx.T)
        return dx, da @ Wh.T, da.T @ x if bug == "dwx_T" else x.T @ da, dWh, da.sum(0)
    return rnn_step_backward


def _rnn_step_inputs():
    r = _rng(10)
    return [r.standard_normal((3, 4)), r.standard_normal((3, 4)),
            r.standard_normal((4, 4)) * 0.5, r.standard_normal((4, 4)) * 0.5,
            r.standard_normal(4)]


for _bug, _exp, _line in [("", "ok", ""), ("tanh_of_prev", "any", "da = dh * (1 - prev_h**2)"),
                          ("wh_with_next", "any", "dWh = next_h.T @ da"),
                          ("dx_sign", "sign", "dx = -(da @ Wx.T)"),
                          ("dwx_T", "transposed", "dWx = da.T @ x")]:
    entry("rnn step (CS231n)", _bug or "correct", _exp, _line)(
        lambda b=_bug: _pair(rnn_step_forward, _rnn_step_backward(b), _rnn_step_inputs,
                             style="cs231n"))


def rnn_forward(x, h0, Wx, Wh, b):
    hs, prev = [], h0
    for t in range(x.shape[1]):
        prev = np.tanh(x[:, t] @ Wx + prev @ Wh + b)
        hs.append(prev)
    return np.stack(hs, axis=1), (x, h0, Wx, Wh, hs)


def _rnn_backward(bug: str = ""):
    def rnn_backward(dh, cache):
        x, h0, Wx, Wh, hs = cache
        dx, dWx, dWh, db = np.zeros_like(x), np.zeros_like(Wx), np.zeros_like(Wh), 0.0
        dprev = np.zeros_like(h0)
        for t in reversed(range(x.shape[1])):  # BPTT: from the last step to the first
            prev = hs[t - 1] if t else h0
            total = dh[:, t] + dprev if bug != "no_carry" else dh[:, t]
            da = total * (1 - hs[t] ** 2)
            dx[:, t] = da @ Wx.T
            if bug != "last_only" or t == x.shape[1] - 1:
                dWx += x[:, t].T @ da
                dWh += prev.T @ da
            db = db + da.sum(0)
            dprev = da @ Wh.T
        if bug == "no_dh0":
            dprev = None
        return dx, dprev, dWx, dWh, db
    return rnn_backward


def _rnn_inputs():
    r = _rng(11)
    return [r.standard_normal((2, 5, 3)), r.standard_normal((2, 4)),
            r.standard_normal((3, 4)) * 0.5, r.standard_normal((4, 4)) * 0.5,
            r.standard_normal(4)]


for _bug, _exp, _line in [("", "ok", ""), ("last_only", "any", "dWx += ... only at t = T-1"),
                          ("no_carry", "any", "total = dh[:, t]  # dprev dropped"),
                          ("no_dh0", "no_gradient", "return dx, None, dWx, dWh, db")]:
    entry("rnn sequence (CS231n)", _bug or "correct", _exp, _line)(
        lambda b=_bug: _pair(rnn_forward, _rnn_backward(b), _rnn_inputs, style="cs231n"))


# -- LSTM step (CS231n, gates i, f, o, g) ---------------------------------------------------
def _sig(a):
    return 1 / (1 + np.exp(-a))


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    i, f, o, g = _sig(a[:, :H]), _sig(a[:, H:2 * H]), _sig(a[:, 2 * H:3 * H]), np.tanh(a[:, 3 * H:])
    c = f * prev_c + i * g
    h = o * np.tanh(c)
    return h, c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, c)


def _lstm_step_backward(bug: str = ""):
    def lstm_step_backward(dh, dc, cache):
        x, prev_h, prev_c, Wx, Wh, i, f, o, g, c = cache
        tc = np.tanh(c)
        dc_total = dc + dh * o * (1 - tc ** 2) if bug != "no_dc" else dh * o * (1 - tc ** 2)
        di, df = dc_total * g, dc_total * prev_c
        if bug == "swap_if":
            di, df = df, di
        do, dg = dh * tc, dc_total * i
        if bug == "do_prev_c":
            do = dh * np.tanh(prev_c)
        dga = dg * (1 - g ** 2) if bug != "dg_no_tanh" else dg
        da = np.hstack([di * i * (1 - i), df * f * (1 - f), do * o * (1 - o), dga])
        dprev_c = dc_total * f if bug != "dprev_c_no_f" else dc_total
        return (da @ Wx.T, da @ Wh.T, dprev_c, x.T @ da, prev_h.T @ da, da.sum(0))
    return lstm_step_backward


def _lstm_inputs():
    r = _rng(12)
    H = 3
    return [r.standard_normal((2, 4)), r.standard_normal((2, H)), r.standard_normal((2, H)),
            r.standard_normal((4, 4 * H)) * 0.5, r.standard_normal((H, 4 * H)) * 0.5,
            r.standard_normal(4 * H)]


for _bug, _exp, _line in [("", "ok", ""), ("swap_if", "any", "di, df = dc * prev_c, dc * g"),
                          ("no_dc", "any", "dc_total = dh * o * (1 - tanh(c)**2)"),
                          ("dprev_c_no_f", "any", "dprev_c = dc_total"),
                          ("do_prev_c", "any", "do = dh * np.tanh(prev_c)"),
                          ("dg_no_tanh", "any", "da_g = dg  # forgot (1 - g**2)")]:
    entry("lstm step (CS231n)", _bug or "correct", _exp, _line)(
        lambda b=_bug: _pair(lstm_step_forward, _lstm_step_backward(b), _lstm_inputs,
                             style="cs231n"))


# -- GRU step (plain, PyTorch's r, z, n; h' = (1 - z) n + z h) -------------------------------
def _gru(bug: str = ""):
    r_ = _rng(13)
    H = 3
    Wx, Wh = r_.standard_normal((4, 3 * H)) * 0.5, r_.standard_normal((H, 3 * H)) * 0.5

    def fwd(x, h):
        ax, ah = x @ Wx, h @ Wh
        r = _sig(ax[:, :H] + ah[:, :H])
        z = _sig(ax[:, H:2 * H] + ah[:, H:2 * H])
        n = np.tanh(ax[:, 2 * H:] + r * ah[:, 2 * H:])
        return (1 - z) * n + z * h

    def bwd(dh_new, x, h):
        ax, ah = x @ Wx, h @ Wh
        r = _sig(ax[:, :H] + ah[:, :H])
        z = _sig(ax[:, H:2 * H] + ah[:, H:2 * H])
        n = np.tanh(ax[:, 2 * H:] + r * ah[:, 2 * H:])
        dn = dh_new * (1 - z)
        dz = dh_new * (h - n) if bug != "z_sign" else dh_new * (n - h)
        dan = dn * (1 - n ** 2)
        dr = dan * ah[:, 2 * H:]
        daz, dar = dz * z * (1 - z), dr * r * (1 - r)
        dax = np.hstack([dar, daz, dan])
        dah = np.hstack([dar, daz, dan * r])
        dh = dh_new * z + dah @ Wh.T
        if bug == "no_direct":
            dh = dah @ Wh.T
        return dax @ Wx.T, dh
    return fwd, bwd


def _gru_inputs():
    r = _rng(14)
    return [r.standard_normal((2, 4)), r.standard_normal((2, 3))]


for _bug, _exp, _line in [("", "ok", ""), ("z_sign", "any", "dz = dh_new * (n - h)"),
                          ("no_direct", "any", "dh = dah @ Wh.T  # forgot + dh_new * z")]:
    entry("gru step", _bug or "correct", _exp, _line)(
        lambda b=_bug: _pair(*_gru(b), _gru_inputs))


# -- "Deep Learning from Scratch" classes ------------------------------------------------------
class Affine:
    def __init__(self, W, b, bug=""):
        self.W, self.b, self.bug = W, b, bug
        self.x = self.dW = self.db = None

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        self.dW = self.x.T @ dout if self.bug != "dW_T" else (self.x.T @ dout).T
        self.db = np.sum(dout, axis=0) if self.bug != "db_no_sum" else dout
        if self.bug == "dW_stale":
            self.dW = np.zeros_like(self.W)
        return dout @ self.W.T


class Relu:
    def __init__(self, bug=""):
        self.bug, self.mask = bug, None

    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        if self.bug == "no_mask":
            return dout
        dout = dout.copy()
        dout[self.mask] = 0
        return dout


class Sigmoid:
    def __init__(self, bug=""):
        self.bug, self.out = bug, None

    def forward(self, x):
        self.out = 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, dout):
        if self.bug == "one_minus":
            return dout * (1.0 - self.out)
        return dout * (1.0 - self.out) * self.out


class SoftmaxWithLoss:
    def __init__(self, bug=""):
        self.bug = bug

    def forward(self, x, t):
        self.t = t
        e = np.exp(x - x.max(axis=1, keepdims=True))
        self.y = e / e.sum(axis=1, keepdims=True)
        return -np.log(self.y[np.arange(len(t)), t]).mean()

    def backward(self, dout=1):
        dx = self.y.copy()
        dx[np.arange(len(self.t)), self.t] -= 1
        return dx * dout if self.bug == "no_batch" else dx * dout / len(self.t)


class RNN:  # "Deep Learning from Scratch 2": params / grads lists
    def __init__(self, Wx, Wh, b, bug=""):
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
        self.bug = bug

    def forward(self, x, h_prev):
        Wx, Wh, b = self.params
        h_next = np.tanh(h_prev @ Wh + x @ Wx + b)
        self.cache = (x, h_prev, h_next)
        return h_next

    def backward(self, dh_next):
        Wx, Wh, b = self.params
        x, h_prev, h_next = self.cache
        dt = dh_next * (1 - h_next ** 2)
        self.grads[0][...] = x.T @ dt
        self.grads[1][...] = (h_prev if self.bug != "wh_next" else h_next).T @ dt
        self.grads[2][...] = dt.sum(axis=0)
        dh_prev = dt @ Wh.T if self.bug != "dh_sign" else -(dt @ Wh.T)
        return dt @ Wx.T, dh_prev


def _square_affine(bug=""):
    r = _rng(15)
    return Affine(r.standard_normal((3, 3)), r.standard_normal(3), bug)


def _x43():
    return [_rng(16).standard_normal((4, 3))]


for _bug, _exp, _line in [("", "ok", ""), ("dW_T", "transposed", "self.dW = (self.x.T @ dout).T"),
                          ("db_no_sum", "shape", "self.db = dout"),
                          ("dW_stale", "no_gradient", "self.dW = np.zeros_like(self.W)")]:
    entry("Affine (DLFS)", _bug or "correct", _exp, _line)(
        lambda b=_bug: _layer(lambda: _square_affine(b), _x43))
for _bug, _exp, _line in [("", "ok", ""), ("no_mask", "any", "return dout")]:
    entry("Relu (DLFS)", _bug or "correct", _exp, _line)(
        lambda b=_bug: _layer(lambda: Relu(b), _act_inputs))
for _bug, _exp, _line in [("", "ok", ""), ("one_minus", "any", "dout * (1.0 - self.out)")]:
    entry("Sigmoid (DLFS)", _bug or "correct", _exp, _line)(
        lambda b=_bug: _layer(lambda: Sigmoid(b), _act_inputs))
for _bug, _exp, _line in [("", "ok", ""), ("no_batch", "factor", "dx = (y - t) * dout")]:
    entry("SoftmaxWithLoss (DLFS)", _bug or "correct", _exp, _line)(
        lambda b=_bug: _layer(lambda: SoftmaxWithLoss(b), _loss_inputs))


def _rnn_class(bug=""):
    r = _rng(17)
    return RNN(r.standard_normal((4, 3)) * 0.5, r.standard_normal((3, 3)) * 0.5,
               r.standard_normal(3), bug)


for _bug, _exp, _line in [("", "ok", ""), ("wh_next", "any", "dWh = h_next.T @ dt"),
                          ("dh_sign", "sign", "dh_prev = -(dt @ Wh.T)")]:
    entry("RNN (DLFS 2)", _bug or "correct", _exp, _line)(
        lambda b=_bug: _layer(lambda: _rnn_class(b),
                              lambda: [_rng(18).standard_normal((2, 4)),
                                       _rng(19).standard_normal((2, 3))]))


def write_markdown(path: str = "docs/gradcheck-zoo.md") -> str:
    """The zoo as a table (the bug, the line, what handgrad says)."""
    from handgrad.gradcheck import last_report

    rows = ["# The gradient-checker bug zoo", "",
            "Each row is a layer as learners write it, with one typical bug put in (or none),",
            "and what `handgrad.check_backward` / `check_layer` / `handgrad check` answers. "
            "The tests", "(`tests/check/test_zoo.py`) assert every row; regenerate this "
            "page with `python -m tests.check.zoo`.", "",
            "| family | bug | the line | verdict | diagnosis |", "|---|---|---|---|---|"]
    for e in ENTRIES:
        ok = e.run()
        rep = last_report()
        diag = "" if ok else str(rep["diagnosis"])
        line = f"`{e.line}`" if e.line else ""
        rows.append(f"| {e.family} | {e.name} | {line} | {'OK' if ok else 'FAILED'} | "
                    f"{diag} |")
    text = "\n".join(rows) + "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return text


if __name__ == "__main__":
    write_markdown()
