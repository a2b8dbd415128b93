"""The harness of the recurrent reference tests (test_rnn, test_lstm, test_gru).

One function runs a door of a module, ``handgrad.ops`` (fast) or
``handgrad.ops.reference``: both are called the same way, which is what the tests check.
PyTorch's nn.RNN / LSTM / GRU and their cells are the oracle.
"""

from __future__ import annotations

import itertools
import zlib
from types import ModuleType
from typing import Any

import numpy as np

from handgrad import ops
from handgrad.ops import reference as ref
from tests.ops.reference.common import assert_close, assert_same, to_torch, torch

GATES = {"rnn": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}

# (T, N, D, H), bias, states: tests/ops/test_recurrent.py's grid, plus size 1 everywhere
SHAPES = [((5, 3, 4, 6), True, True), ((1, 1, 2, 3), False, False),
          ((7, 1, 3, 2), True, False), ((2, 4, 1, 5), False, True), ((1, 1, 1, 1), True, True)]


def grid(kinds: list[str]) -> list[tuple[Any, ...]]:
    """Every kind x direction x dtype x shape."""
    return [(kind, reverse, dtype, shape, bias, states)
            for kind, reverse, dtype in itertools.product(kinds, [False, True],
                                                          [np.float64, np.float32])
            for shape, bias, states in SHAPES]


def seeded(*key: Any) -> np.random.Generator:
    """A generator seeded by the test's parameters (the same numbers in every run)."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def arrays(kind: str, T: int, N: int, D: int, H: int, dtype: Any, rng: np.random.Generator,
           bias: bool = True, states: bool = True) -> dict[str, Any]:
    G = GATES[kind]
    k = 1 / np.sqrt(H)
    return {
        "x": rng.standard_normal((T, N, D)).astype(dtype),
        "h0": rng.standard_normal((N, H)).astype(dtype) if states else None,
        "c0": rng.standard_normal((N, H)).astype(dtype) if states else None,
        "w_ih": rng.uniform(-2 * k, 2 * k, (G * H, D)).astype(dtype),
        "w_hh": rng.uniform(-2 * k, 2 * k, (G * H, H)).astype(dtype),
        "b_ih": rng.uniform(-k, k, G * H).astype(dtype) if bias else None,
        "b_hh": rng.uniform(-k, k, G * H).astype(dtype) if bias else None,
        "dout": rng.standard_normal((T, N, H)).astype(dtype),
        "dh_n": rng.standard_normal((N, H)).astype(dtype),
        "dc_n": rng.standard_normal((N, H)).astype(dtype),
    }


def _nl(kind: str) -> dict[str, str]:
    return {"nonlinearity": "relu" if kind == "rnn_relu" else "tanh"} if kind.startswith(
        "rnn") else {}


def sequence(module: ModuleType, kind: str, a: dict[str, Any], reverse: bool
             ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run ``module``'s sequence doors forward and backward; outputs and gradients, named."""
    w = (a["w_ih"], a["w_hh"], a["b_ih"], a["b_hh"])
    if kind == "lstm":
        (out, h_n, c_n), cache = module.lstm_forward(a["x"], a["h0"], a["c0"], *w,
                                                     reverse=reverse)
        g = module.lstm_backward((a["dout"], a["dh_n"], a["dc_n"]), cache)
        return ({"out": out, "h_n": h_n, "c_n": c_n},
                dict(zip(["x", "h0", "c0", "w_ih", "w_hh", "b_ih", "b_hh"], g)))
    name = "gru" if kind == "gru" else "rnn"
    (out, h_n), cache = getattr(module, f"{name}_forward")(a["x"], a["h0"], *w,
                                                           reverse=reverse, **_nl(kind))
    g = getattr(module, f"{name}_backward")((a["dout"], a["dh_n"]), cache)
    return {"out": out, "h_n": h_n}, dict(zip(["x", "h0", "w_ih", "w_hh", "b_ih", "b_hh"], g))


def step(module: ModuleType, kind: str, a: dict[str, Any]
         ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run ``module``'s one-step doors on the first time step (h0, c0 as the state)."""
    w = (a["w_ih"], a["w_hh"], a["b_ih"], a["b_hh"])
    x = a["x"][0]
    if kind == "lstm":
        (h, c), cache = module.lstm_step_forward(x, a["h0"], a["c0"], *w)
        g = module.lstm_step_backward((a["dh_n"], a["dc_n"]), cache)
        return ({"h": h, "c": c},
                dict(zip(["x", "h0", "c0", "w_ih", "w_hh", "b_ih", "b_hh"], g)))
    name = "gru" if kind == "gru" else "rnn"
    h, cache = getattr(module, f"{name}_step_forward")(x, a["h0"], *w, **_nl(kind))
    g = getattr(module, f"{name}_step_backward")(a["dh_n"], cache)
    return {"h": h}, dict(zip(["x", "h0", "w_ih", "w_hh", "b_ih", "b_hh"], g))


def _torch_module(kind: str, a: dict[str, Any], cell: bool) -> Any:
    D, H = a["x"].shape[2], a["w_hh"].shape[1]
    bias = a["b_ih"] is not None
    if kind == "lstm":
        m = (torch.nn.LSTMCell if cell else torch.nn.LSTM)(D, H, bias=bias)
    elif kind == "gru":
        m = (torch.nn.GRUCell if cell else torch.nn.GRU)(D, H, bias=bias)
    else:
        m = (torch.nn.RNNCell if cell else torch.nn.RNN)(D, H, bias=bias, **_nl(kind))
    m = m.double() if a["x"].dtype == np.float64 else m.float()
    suffix = "" if cell else "_l0"
    with torch.no_grad():
        for name in ("w_ih", "w_hh", "b_ih", "b_hh"):
            if a[name] is not None:
                full = ("weight_" if name[0] == "w" else "bias_") + name[2:] + suffix
                getattr(m, full).copy_(to_torch(a[name]))
    return m


def _torch_grads(kind: str, m: Any, cell: bool, x_grad: Any, h_grad: Any, c_grad: Any
                 ) -> dict[str, Any]:
    suffix = "" if cell else "_l0"
    grads = {"x": x_grad, "h0": h_grad, "c0": c_grad,
             "w_ih": getattr(m, "weight_ih" + suffix).grad,
             "w_hh": getattr(m, "weight_hh" + suffix).grad}
    if getattr(m, "bias_ih" + suffix, None) is not None:
        grads["b_ih"] = getattr(m, "bias_ih" + suffix).grad
        grads["b_hh"] = getattr(m, "bias_hh" + suffix).grad
    return grads


def torch_sequence(kind: str, a: dict[str, Any], reverse: bool
                   ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The same with torch.nn (one layer); reverse = run on the flipped sequence."""
    m = _torch_module(kind, a, cell=False)
    N, H = a["x"].shape[1], a["w_hh"].shape[1]
    flip = (lambda v: v[::-1].copy()) if reverse else (lambda v: v)
    xt = to_torch(flip(a["x"]), True)
    zeros = np.zeros((N, H), a["x"].dtype)
    ht = to_torch((zeros if a["h0"] is None else a["h0"])[None], True)
    ct = to_torch((zeros if a["c0"] is None else a["c0"])[None], True)
    o, hn = m(xt, (ht, ct)) if kind == "lstm" else m(xt, ht)
    if kind == "lstm":
        hn, cn = hn
    loss = (o * to_torch(flip(a["dout"]))).sum() + (hn[0] * to_torch(a["dh_n"])).sum()
    outs = {"out": flip(o.detach().numpy()), "h_n": hn[0]}
    if kind == "lstm":
        loss = loss + (cn[0] * to_torch(a["dc_n"])).sum()
        outs["c_n"] = cn[0]
    loss.backward()
    return outs, _torch_grads(kind, m, False, flip(xt.grad.numpy()), ht.grad[0],
                              ct.grad[0] if kind == "lstm" else None)


def torch_step(kind: str, a: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The first time step with torch's cell."""
    m = _torch_module(kind, a, cell=True)
    N, H = a["x"].shape[1], a["w_hh"].shape[1]
    zeros = np.zeros((N, H), a["x"].dtype)
    xt = to_torch(a["x"][0], True)
    ht = to_torch(zeros if a["h0"] is None else a["h0"], True)
    ct = to_torch(zeros if a["c0"] is None else a["c0"], True)
    if kind == "lstm":
        h, c = m(xt, (ht, ct))
        loss = (h * to_torch(a["dh_n"])).sum() + (c * to_torch(a["dc_n"])).sum()
        outs = {"h": h, "c": c}
    else:
        h = m(xt, ht)
        loss = (h * to_torch(a["dh_n"])).sum()
        outs = {"h": h}
    loss.backward()
    return outs, _torch_grads(kind, m, True, xt.grad, ht.grad,
                              ct.grad if kind == "lstm" else None)


def compare_torch(kind: str, a: dict[str, Any], outs: dict[str, Any], grads: dict[str, Any],
                  t_outs: dict[str, Any], t_grads: dict[str, Any]) -> None:
    dtype = a["x"].dtype
    for name, v in outs.items():
        assert v.dtype == dtype, f"{kind} {name}: dtype {v.dtype}"
        assert_close(v, t_outs[name], dtype, name=f"{kind} {name}")
    for name, g in grads.items():
        if a.get(name) is None:
            assert g is None, f"{name} was not given, so it must get no gradient"
            continue
        assert_close(g, t_grads[name], dtype, name=f"{kind} d{name}")


def compare_fast(kind: str, outs: dict[str, Any], grads: dict[str, Any],
                 f_outs: dict[str, Any], f_grads: dict[str, Any]) -> None:
    assert outs.keys() == f_outs.keys() and grads.keys() == f_grads.keys()
    for name in outs:
        assert_same(outs[name], f_outs[name], f"{kind} {name}")
    for name in grads:
        assert_same(grads[name], f_grads[name], f"{kind} d{name}")


def check_sequence(kind: str, a: dict[str, Any], reverse: bool, fast: bool = True) -> None:
    """The reference sequence doors against torch; in float64 also against the fast doors."""
    outs, grads = sequence(ref, kind, a, reverse)
    compare_torch(kind, a, outs, grads, *torch_sequence(kind, a, reverse))
    if fast and a["x"].dtype == np.float64:
        compare_fast(kind, outs, grads, *sequence(ops, kind, a, reverse))


def check_step(kind: str, a: dict[str, Any], fast: bool = True) -> None:
    """The reference step doors against torch's cell; in float64 also the fast step."""
    outs, grads = step(ref, kind, a)
    compare_torch(kind, a, outs, grads, *torch_step(kind, a))
    if fast and a["x"].dtype == np.float64:
        compare_fast(kind, outs, grads, *step(ops, kind, a))


def fast_equals_reference(kind: str, a: dict[str, Any], reverse: bool = False) -> None:
    """The fast sequence doors against the reference, and the inputs left unchanged."""
    before = {k: v.copy() for k, v in a.items() if v is not None}
    outs, grads = sequence(ref, kind, a, reverse)
    f_outs, f_grads = sequence(ops, kind, a, reverse)
    for k, v in before.items():
        np.testing.assert_array_equal(a[k], v, err_msg=f"the fast door modified {k}")
    compare_fast(kind, outs, grads, f_outs, f_grads)


def check_nan_and_inf(kind: str) -> None:
    """A NaN and an inf in the input: the reference as torch, and as the fast door.

    relu at a NaN: torch's backward lets the gradient through (relu'(NaN) = 1), handgrad's
    (the fast door, the elementwise ReLU and the reference, [S_k > 0]) blocks it. An inf
    input soon makes NaN states too (inf - inf in the next step's product), so the relu
    RNN is compared with the fast door only."""
    a = arrays(kind, 3, 2, 3, 4, np.float64, np.random.default_rng(8))
    a["x"][1, 0, 0], a["x"][0, 1, 2] = np.nan, np.inf
    with np.errstate(invalid="ignore"):
        if kind == "rnn_relu":
            fast_equals_reference(kind, a)
        else:
            check_sequence(kind, a, reverse=False)
