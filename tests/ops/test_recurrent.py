"""The fused recurrent Functions (handgrad.ops.recurrent) against PyTorch, through the
layer-by-layer doors and through the graph; the step doors composed over time against the
sequence doors; Embedding's gradient with repeated indices and padding_idx."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import handgrad
from handgrad.ops import recurrent as R
from tests.helpers import assert_close, to_torch, torch

GATES = {"rnn": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}


def _arrays(kind, T, N, D, H, dtype, rng, bias=True, states=True):
    G = GATES[kind]
    k = 1 / np.sqrt(H)
    a = {
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
    return a


def _door(kind, a, reverse):
    """Run the sequence door; return outputs and the gradients, named."""
    if kind == "lstm":
        (out, h_n, c_n), cache = R.lstm_forward(a["x"], a["h0"], a["c0"], a["w_ih"], a["w_hh"],
                                                a["b_ih"], a["b_hh"], reverse=reverse)
        g = R.lstm_backward((a["dout"], a["dh_n"], a["dc_n"]), cache)
        names = ["x", "h0", "c0", "w_ih", "w_hh", "b_ih", "b_hh"]
        outs = {"out": out, "h_n": h_n, "c_n": c_n}
    else:
        if kind == "gru":
            (out, h_n), cache = R.gru_forward(a["x"], a["h0"], a["w_ih"], a["w_hh"], a["b_ih"],
                                              a["b_hh"], reverse=reverse)
            g = R.gru_backward((a["dout"], a["dh_n"]), cache)
        else:
            nl = "relu" if kind == "rnn_relu" else "tanh"
            (out, h_n), cache = R.rnn_forward(a["x"], a["h0"], a["w_ih"], a["w_hh"], a["b_ih"],
                                              a["b_hh"], nonlinearity=nl, reverse=reverse)
            g = R.rnn_backward((a["dout"], a["dh_n"]), cache)
        names = ["x", "h0", "w_ih", "w_hh", "b_ih", "b_hh"]
        outs = {"out": out, "h_n": h_n}
    return outs, dict(zip(names, g))


def _torch_reference(kind, a, reverse):
    """The same computation with torch.nn (one layer); reverse = run on the flipped sequence."""
    x = a["x"]
    T, N, D = x.shape
    H = a["w_hh"].shape[1]
    bias = a["b_ih"] is not None
    if kind == "lstm":
        m = torch.nn.LSTM(D, H, bias=bias)
    elif kind == "gru":
        m = torch.nn.GRU(D, H, bias=bias)
    else:
        m = torch.nn.RNN(D, H, bias=bias, nonlinearity="relu" if kind == "rnn_relu" else "tanh")
    m = m.double() if x.dtype == np.float64 else m.float()
    with torch.no_grad():
        m.weight_ih_l0.copy_(to_torch(a["w_ih"]))
        m.weight_hh_l0.copy_(to_torch(a["w_hh"]))
        if bias:
            m.bias_ih_l0.copy_(to_torch(a["b_ih"]))
            m.bias_hh_l0.copy_(to_torch(a["b_hh"]))
    flip = (lambda v: v[::-1].copy()) if reverse else (lambda v: v)
    xt = to_torch(flip(x), True)
    zeros = np.zeros((N, H), x.dtype)
    ht = to_torch((a["h0"] if a["h0"] is not None else zeros)[None], True)
    ct = to_torch((a["c0"] if a["c0"] is not None else zeros)[None], True)
    if kind == "lstm":
        o, (hn, cn) = m(xt, (ht, ct))
    else:
        o, hn = m(xt, ht)
    loss = (o * to_torch(flip(a["dout"]))).sum() + (hn[0] * to_torch(a["dh_n"])).sum()
    outs = {"out": flip(o.detach().numpy()), "h_n": hn[0]}
    if kind == "lstm":
        loss = loss + (cn[0] * to_torch(a["dc_n"])).sum()
        outs["c_n"] = cn[0]
    loss.backward()
    grads = {"x": flip(xt.grad.numpy()), "h0": ht.grad[0],
             "c0": ct.grad[0] if kind == "lstm" else None, "w_ih": m.weight_ih_l0.grad,
             "w_hh": m.weight_hh_l0.grad}
    if bias:
        grads["b_ih"], grads["b_hh"] = m.bias_ih_l0.grad, m.bias_hh_l0.grad
    return outs, grads


def _compare(kind, a, reverse, dtype):
    outs, grads = _door(kind, a, reverse)
    t_outs, t_grads = _torch_reference(kind, a, reverse)
    for name, v in outs.items():
        assert_close(v, t_outs[name], dtype, name=f"{kind} {name}")
    for name, g in grads.items():
        if a.get(name) is None:
            assert g is None, f"{name} was not given, so it must get no gradient"
            continue
        assert_close(g, t_grads[name], dtype, name=f"{kind} d{name}")


# every kind x direction x dtype, plus odd shapes, no bias, no initial state
GRID = [
    (kind, reverse, dtype, shape, bias, states)
    for kind, reverse, dtype in itertools.product(
        ["rnn", "rnn_relu", "lstm", "gru"], [False, True], [np.float64, np.float32])
    for shape, bias, states in [((5, 3, 4, 6), True, True), ((1, 1, 2, 3), False, False),
                                ((7, 1, 3, 2), True, False), ((2, 4, 1, 5), False, True)]
]


@pytest.mark.parametrize("kind,reverse,dtype,shape,bias,states", GRID)
def test_sequence_door_matches_torch(kind, reverse, dtype, shape, bias, states):
    rng = np.random.default_rng(hash((kind, reverse, shape)) % 2**32)
    a = _arrays(kind, *shape, dtype, rng, bias=bias, states=states)
    _compare(kind, a, reverse, dtype)


@pytest.mark.parametrize("kind", ["rnn", "rnn_relu", "lstm", "gru"])
@pytest.mark.parametrize("reverse", [False, True])
def test_function_through_graph_equals_door(kind, reverse):
    """The graph door (apply + backward) and the layer door give the same numbers."""
    rng = np.random.default_rng(3)
    a = _arrays(kind, 4, 2, 3, 5, np.float64, rng)
    outs, grads = _door(kind, a, reverse)
    names = (["x", "h0", "c0"] if kind == "lstm" else ["x", "h0"]) + ["w_ih", "w_hh", "b_ih",
                                                                        "b_hh"]
    ts = {n: handgrad.tensor(a[n], requires_grad=True) for n in names}
    settings = {"reverse": reverse}
    if kind == "lstm":
        out, h_n, c_n = R.LSTMSequence.apply(*[ts[n] for n in names], **settings)
        loss = (out * a["dout"]).sum() + (h_n * a["dh_n"]).sum() + (c_n * a["dc_n"]).sum()
    else:
        fn = R.GRUSequence if kind == "gru" else R.RNNSequence
        if kind != "gru":
            settings["nonlinearity"] = "relu" if kind == "rnn_relu" else "tanh"
        out, h_n = fn.apply(*[ts[n] for n in names], **settings)
        loss = (out * a["dout"]).sum() + (h_n * a["dh_n"]).sum()
    loss.backward()
    np.testing.assert_array_equal(out.data, outs["out"])
    for n in names:
        np.testing.assert_allclose(ts[n].grad, grads[n], rtol=1e-12, atol=1e-13, err_msg=n)


@pytest.mark.parametrize("kind", ["rnn", "rnn_relu", "lstm", "gru"])
def test_step_doors_composed_equal_sequence_door(kind):
    """Running the one-step door T times (and its backward from the last step to the
    first, carrying dh and dc by hand) gives the sequence door's outputs and gradients."""
    rng = np.random.default_rng(7)
    T = 6
    a = _arrays(kind, T, 3, 4, 5, np.float64, rng)
    outs, grads = _door(kind, a, False)
    w = (a["w_ih"], a["w_hh"], a["b_ih"], a["b_hh"])
    nl = {"nonlinearity": "relu" if kind == "rnn_relu" else "tanh"} if kind.startswith("rnn") \
        else {}
    h, c = a["h0"], a["c0"]
    caches, hs = [], []
    for t in range(T):
        if kind == "lstm":
            (h, c), cache = R.lstm_step_forward(a["x"][t], h, c, *w)
        elif kind == "gru":
            h, cache = R.gru_step_forward(a["x"][t], h, *w)
        else:
            h, cache = R.rnn_step_forward(a["x"][t], h, *w, **nl)
        caches.append(cache)
        hs.append(h)
    np.testing.assert_allclose(np.stack(hs), outs["out"], rtol=1e-13, atol=1e-14)
    dh, dc = a["dh_n"].copy(), a["dc_n"].copy()
    dx = np.zeros_like(a["x"])
    dw = [np.zeros_like(v) for v in w]
    for t in reversed(range(T)):   # BPTT: from the last step to the first
        dh = dh + a["dout"][t]
        if kind == "lstm":
            dx[t], dh, dc, *gw = R.lstm_step_backward((dh, dc), caches[t])
        elif kind == "gru":
            dx[t], dh, *gw = R.gru_step_backward(dh, caches[t])
        else:
            dx[t], dh, *gw = R.rnn_step_backward(dh, caches[t])
        dw = [acc + g for acc, g in zip(dw, gw)]
    np.testing.assert_allclose(dx, grads["x"], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dh, grads["h0"], rtol=1e-12, atol=1e-13)
    if kind == "lstm":
        np.testing.assert_allclose(dc, grads["c0"], rtol=1e-12, atol=1e-13)
    for name, acc in zip(["w_ih", "w_hh", "b_ih", "b_hh"], dw):
        np.testing.assert_allclose(acc, grads[name], rtol=1e-12, atol=1e-13, err_msg=name)


def test_backward_without_state_gradients_and_readonly_dout():
    """dout may be a read-only broadcast view (an unused output); dh_n may be omitted."""
    rng = np.random.default_rng(0)
    a = _arrays("lstm", 3, 2, 3, 4, np.float64, rng)
    (out, h_n, c_n), cache = R.lstm_forward(a["x"], a["h0"], a["c0"], a["w_ih"], a["w_hh"],
                                            a["b_ih"], a["b_hh"])
    dout = np.broadcast_to(np.ones(1), out.shape)
    g = R.lstm_backward(dout, cache)
    assert len(g) == 7 and g[0].shape == a["x"].shape


def test_gradient_vanishes_through_many_steps():
    """The norm of dxi/dS_0 for a tanh RNN with small W_rec shrinks geometrically with T."""
    rng = np.random.default_rng(0)
    H = 8
    norms = []
    for T in (5, 20, 40):
        x = rng.standard_normal((T, 1, 3))
        w_hh = 0.3 * np.eye(H)
        w_ih = rng.standard_normal((H, 3)) * 0.1
        (out, h_n), cache = R.rnn_forward(x, np.zeros((1, H)), w_ih, w_hh, None, None)
        dout = np.zeros_like(out)
        dout[-1] = 1.0
        norms.append(np.linalg.norm(R.rnn_backward(dout, cache)[1]))
    assert norms[0] > 1e3 * norms[1] > 1e6 * norms[2]


# -- errors ---------------------------------------------------------------------------


def test_errors_name_argument_and_shapes():
    rng = np.random.default_rng(0)
    a = _arrays("lstm", 3, 2, 4, 5, np.float32, rng)
    w = (a["w_ih"], a["w_hh"], a["b_ih"], a["b_hh"])
    with pytest.raises(ValueError, match=r"input has 3 features.*input_size = 4"):
        R.lstm_forward(a["x"][..., :3], None, None, *w)
    with pytest.raises(ValueError, match=r"h0 must have shape \(batch, hidden_size\) = "
                                         r"\(2, 5\), got \(3, 5\)"):
        R.lstm_forward(a["x"], np.zeros((3, 5), np.float32), None, *w)
    with pytest.raises(ValueError, match=r"c0 must have shape"):
        R.lstm_forward(a["x"], None, np.zeros((2, 4), np.float32), *w)
    with pytest.raises(TypeError, match=r"input must be floating point, got dtype int64"):
        R.lstm_forward(a["x"].astype(np.int64), None, None, *w)
    with pytest.raises(ValueError, match=r"input must be 3-D"):
        R.lstm_forward(a["x"][0], None, None, *w)
    with pytest.raises(TypeError, match=r"weight_ih has dtype float32 but the input has dtype "
                                        r"float64"):
        R.lstm_forward(a["x"].astype(np.float64), None, None, *w)
    with pytest.raises(ValueError, match=r"weight_hh must have shape \(4\*hidden_size"):
        R.lstm_forward(a["x"], None, None, a["w_ih"], a["w_hh"][:-1], None, None)
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'"):
        R.rnn_forward(a["x"], None, a["w_ih"][:5], a["w_hh"][:5], None, None,
                      nonlinearity="sigmoid")
