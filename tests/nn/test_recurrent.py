"""nn.RNN / LSTM / GRU, the cells and nn.Embedding against torch.nn: PyTorch's weights
loaded through load_state_dict, outputs, final states and the gradients of the input, the
initial states and every parameter compared."""

from __future__ import annotations

import numpy as np
import pytest

import handgrad
from handgrad import nn
from tests.helpers import assert_close, to_torch, torch

KINDS = {
    "rnn": (nn.RNN, torch.nn.RNN, {}),
    "rnn_relu": (nn.RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
    "lstm": (nn.LSTM, torch.nn.LSTM, {}),
    "gru": (nn.GRU, torch.nn.GRU, {}),
}


def _pair(kind, dtype, *args, **kwargs):
    hg_cls, t_cls, extra = KINDS[kind]
    t_mod = t_cls(*args, **kwargs, **extra)
    t_mod = t_mod.double() if dtype == np.float64 else t_mod.float()
    hg_mod = hg_cls(*args, **kwargs, **extra, dtype=dtype)
    hg_mod.load_state_dict({k: v.detach().numpy() for k, v in t_mod.state_dict().items()})
    return hg_mod, t_mod


def _run_both(kind, hg_mod, t_mod, x, states, dtype, rng):
    """Forward both, weight outputs and final states by random arrays, backward; compare."""
    xh = handgrad.tensor(x, requires_grad=True)
    xt = to_torch(x, True)
    sh = [handgrad.tensor(s, requires_grad=True) for s in states] if states else None
    st = [to_torch(s, True) for s in states] if states else None
    if kind == "lstm":
        out, (h_n, c_n) = hg_mod(xh, tuple(sh) if sh else None)
        out_t, (h_t, c_t) = t_mod(xt, tuple(st) if st else None)
        finals, finals_t = [h_n, c_n], [h_t, c_t]
    else:
        out, h_n = hg_mod(xh, sh[0] if sh else None)
        out_t, h_t = t_mod(xt, st[0] if st else None)
        finals, finals_t = [h_n], [h_t]
    assert_close(out, out_t, dtype, name="output")
    loss = (out * (w := rng.standard_normal(out.shape).astype(dtype))).sum()
    loss_t = (out_t * to_torch(w)).sum()
    for k, (f, ft) in enumerate(zip(finals, finals_t)):
        assert_close(f, ft, dtype, name=f"final state {k}")
        w = rng.standard_normal(f.shape).astype(dtype)
        loss = loss + (f * w).sum()
        loss_t = loss_t + (ft * to_torch(w)).sum()
    loss.backward()
    loss_t.backward()
    assert_close(xh.grad, xt.grad, dtype, name="d input")
    for k, (s, s_t) in enumerate(zip(sh or [], st or [])):
        assert_close(s.grad, s_t.grad, dtype, name=f"d initial state {k}")
    params = dict(hg_mod.named_parameters())
    t_params = dict(t_mod.named_parameters())
    assert list(params) == list(t_params)
    for name, p in params.items():
        assert_close(p.grad, t_params[name].grad, dtype, name=f"d {name}")
        assert p.grad.dtype == dtype


# every option appears; a subset of the full product keeps the grid fast
CONFIGS = [
    # kind, num_layers, bidirectional, batch_first, states, bias, (T, N, D, H)
    ("rnn", 1, False, False, False, True, (5, 3, 4, 6)),
    ("rnn", 2, True, True, True, True, (4, 2, 3, 5)),
    ("rnn", 3, False, False, True, False, (1, 1, 2, 3)),
    ("rnn_relu", 1, True, False, True, True, (6, 2, 3, 4)),
    ("rnn_relu", 3, True, True, False, True, (3, 1, 2, 3)),
    ("lstm", 1, False, False, True, True, (5, 3, 4, 6)),
    ("lstm", 2, True, False, True, True, (4, 2, 3, 5)),
    ("lstm", 3, True, True, False, False, (3, 2, 2, 4)),
    ("lstm", 1, True, True, True, False, (1, 1, 3, 2)),
    ("lstm", 2, False, True, False, True, (6, 1, 2, 3)),
    ("gru", 1, False, False, True, True, (5, 3, 4, 6)),
    ("gru", 2, True, True, True, True, (4, 2, 3, 5)),
    ("gru", 3, False, False, False, False, (3, 1, 2, 3)),
    ("gru", 1, True, False, False, True, (1, 2, 3, 4)),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind,layers,bidir,batch_first,states,bias,shape", CONFIGS)
def test_module_matches_torch(kind, layers, bidir, batch_first, states, bias, shape, dtype):
    rng = np.random.default_rng(sum(map(ord, kind)) + 10 * layers + bidir)
    T, N, D, H = shape
    hg_mod, t_mod = _pair(kind, dtype, D, H, num_layers=layers, bias=bias,
                          batch_first=batch_first, bidirectional=bidir)
    x = rng.standard_normal((N, T, D) if batch_first else (T, N, D)).astype(dtype)
    L = layers * (2 if bidir else 1)
    n_states = 2 if kind == "lstm" else 1
    init = [rng.standard_normal((L, N, H)).astype(dtype) for _ in range(n_states)] \
        if states else None
    _run_both(kind, hg_mod, t_mod, x, init, dtype, rng)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_unbatched_input(kind):
    rng = np.random.default_rng(5)
    hg_mod, t_mod = _pair(kind, np.float64, 3, 4, num_layers=2, bidirectional=True)
    x = rng.standard_normal((5, 3))
    n_states = 2 if kind == "lstm" else 1
    init = [rng.standard_normal((4, 4)) for _ in range(n_states)]
    _run_both(kind, hg_mod, t_mod, x, init, np.float64, rng)


def test_state_dict_names_shapes_and_default_init():
    for kind in KINDS:
        hg_mod, _ = _pair(kind, np.float32, 3, 7, num_layers=2, bidirectional=True)
        t_mod = KINDS[kind][1](3, 7, num_layers=2, bidirectional=True, **KINDS[kind][2])
        fresh = KINDS[kind][0](3, 7, num_layers=2, bidirectional=True, **KINDS[kind][2])
        sd, sd_t = fresh.state_dict(), t_mod.state_dict()
        assert list(sd) == list(sd_t)
        for k in sd:
            assert sd[k].shape == tuple(sd_t[k].shape), k
            assert sd[k].dtype == np.float32
            bound = 1 / np.sqrt(7)
            assert np.abs(sd[k]).max() <= bound and np.abs(sd[k]).max() > 0.5 * bound
    # and back: handgrad's weights load into torch
    hg_mod = nn.GRU(2, 3, num_layers=2)
    t_mod = torch.nn.GRU(2, 3, num_layers=2)
    t_mod.load_state_dict({k: torch.tensor(v) for k, v in hg_mod.state_dict().items()})


def test_float64_kept_end_to_end():
    m = nn.LSTM(2, 3, dtype=np.float64)
    x = handgrad.tensor(np.ones((2, 1, 2)), requires_grad=True)
    out, (h, c) = m(x)
    assert out.dtype == h.dtype == c.dtype == np.float64
    out.sum().backward()
    assert x.grad.dtype == np.float64


def test_dropout_between_layers():
    """Training: dropout changes the output (reproducibly under manual_seed); eval: none,
    equal to torch in eval mode."""
    hg_mod, t_mod = _pair("lstm", np.float64, 3, 8, num_layers=3, dropout=0.5)
    x = np.random.default_rng(0).standard_normal((4, 2, 3))
    handgrad.manual_seed(1)
    a = hg_mod(handgrad.tensor(x))[0].data
    handgrad.manual_seed(1)
    b = hg_mod(handgrad.tensor(x))[0].data
    c = hg_mod(handgrad.tensor(x))[0].data
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    hg_mod.eval()
    t_mod.eval()
    assert_close(hg_mod(handgrad.tensor(x))[0], t_mod(to_torch(x))[0], np.float64)
    # the last layer's output is not dropped: one layer with dropout is deterministic
    one = nn.GRU(3, 4, dropout=0.5, dtype=np.float64)
    np.testing.assert_array_equal(one(handgrad.tensor(x))[0].data,
                                  one(handgrad.tensor(x))[0].data)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_truncated_bptt_with_detach(kind):
    """Chunk 2 starts from chunk 1's final state, detached: gradients stop at the boundary
    and equal torch's doing the same; chunk 1's input gets no gradient from chunk 2."""
    rng = np.random.default_rng(2)
    hg_mod, t_mod = _pair(kind, np.float64, 3, 4, num_layers=2)
    x1, x2 = rng.standard_normal((5, 2, 3)), rng.standard_normal((4, 2, 3))

    def detach(s, fn):
        return tuple(fn(v) for v in s) if isinstance(s, tuple) else fn(s)

    a1 = handgrad.tensor(x1, requires_grad=True)
    _, s = hg_mod(a1)
    out, _ = hg_mod(handgrad.tensor(x2), detach(s, lambda v: v.detach()))
    out.sum().backward()
    _, st = t_mod(to_torch(x1))
    out_t, _ = t_mod(to_torch(x2), detach(st, lambda v: v.detach()))
    out_t.sum().backward()
    assert_close(out, out_t, np.float64)
    assert a1.grad is None
    for name, p in hg_mod.named_parameters():
        assert_close(p.grad, dict(t_mod.named_parameters())[name].grad, np.float64, name=name)


# -- cells ------------------------------------------------------------------------------

CELLS = {"rnn": (nn.RNNCell, torch.nn.RNNCell, {}),
         "rnn_relu": (nn.RNNCell, torch.nn.RNNCell, {"nonlinearity": "relu"}),
         "lstm": (nn.LSTMCell, torch.nn.LSTMCell, {}),
         "gru": (nn.GRUCell, torch.nn.GRUCell, {})}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("bias,state,batched", [(True, True, True), (False, False, True),
                                                (True, True, False)])
def test_cells_match_torch(kind, dtype, bias, state, batched):
    rng = np.random.default_rng(11)
    hg_cls, t_cls, extra = CELLS[kind]
    t_cell = t_cls(3, 5, bias=bias, **extra)
    t_cell = t_cell.double() if dtype == np.float64 else t_cell.float()
    cell = hg_cls(3, 5, bias=bias, dtype=dtype, **extra)
    cell.load_state_dict({k: v.detach().numpy() for k, v in t_cell.state_dict().items()})
    lead = (2,) if batched else ()
    x = rng.standard_normal(lead + (3,)).astype(dtype)
    states = [rng.standard_normal(lead + (5,)).astype(dtype)
              for _ in range(2 if kind == "lstm" else 1)] if state else []
    xh, xt = handgrad.tensor(x, requires_grad=True), to_torch(x, True)
    sh = [handgrad.tensor(s, requires_grad=True) for s in states]
    st = [to_torch(s, True) for s in states]
    # two steps, so the state path is exercised
    if kind == "lstm":
        hc = cell(xh, tuple(sh) if sh else None)
        hc = cell(xh, hc)
        hc_t = t_cell(xt, tuple(st) if st else None)
        hc_t = t_cell(xt, hc_t)
        outs, outs_t = list(hc), list(hc_t)
    else:
        h = cell(xh, sh[0] if sh else None)
        outs, outs_t = [cell(xh, h)], [t_cell(xt, t_cell(xt, st[0] if st else None))]
    loss, loss_t = 0, 0
    for o, ot in zip(outs, outs_t):
        assert_close(o, ot, dtype)
        w = rng.standard_normal(o.shape).astype(dtype)
        loss = loss + (o * w).sum()
        loss_t = loss_t + (ot * to_torch(w)).sum()
    loss.backward()
    loss_t.backward()
    assert_close(xh.grad, xt.grad, dtype, name="dx")
    for s, s_t in zip(sh, st):
        assert_close(s.grad, s_t.grad, dtype, name="dstate")
    for name, p in cell.named_parameters():
        assert_close(p.grad, dict(t_cell.named_parameters())[name].grad, dtype, name=name)


# -- embedding ----------------------------------------------------------------------------


@pytest.mark.parametrize("padding_idx", [None, 0, -2])
def test_embedding_module_matches_torch(padding_idx):
    rng = np.random.default_rng(0)
    t_emb = torch.nn.Embedding(9, 4, padding_idx=padding_idx)
    emb = nn.Embedding(9, 4, padding_idx=padding_idx)
    if padding_idx is not None:
        assert np.all(emb.weight.data[padding_idx] == 0)
    assert list(emb.state_dict()) == ["weight"]
    emb.load_state_dict({k: v.detach().numpy() for k, v in t_emb.state_dict().items()})
    idx = np.array([[0, 3, 3, 7], [7, 7, 0, 8]])
    y = emb(handgrad.tensor(idx))
    yt = t_emb(torch.tensor(idx))
    assert_close(y, yt, np.float32)
    w = rng.standard_normal(y.shape).astype(np.float32)
    (y * w).sum().backward()
    (yt * to_torch(w)).sum().backward()
    assert_close(emb.weight.grad, t_emb.weight.grad, np.float32)


def test_embedding_init_is_standard_normal():
    handgrad.manual_seed(0)
    w = nn.Embedding(2000, 50).weight.data
    assert abs(w.mean()) < 0.01 and abs(w.std() - 1) < 0.01 and w.dtype == np.float32


def test_embedding_feeds_lstm():
    emb, lstm = nn.Embedding(10, 4), nn.LSTM(4, 6)
    out, _ = lstm(emb(np.array([[1, 2], [3, 3], [9, 0]])))
    out.sum().backward()
    assert out.shape == (3, 2, 6) and emb.weight.grad.shape == (10, 4)
    assert np.all(emb.weight.grad[[4, 5, 6, 7, 8]] == 0)


# -- errors ---------------------------------------------------------------------------


def test_module_errors_name_argument_and_shapes():
    lstm = nn.LSTM(4, 5, num_layers=2)
    x = handgrad.tensor(np.zeros((3, 2, 4), np.float32))
    with pytest.raises(ValueError, match=r"input.size\(-1\) must equal input_size = 4, got "
                                         r"input of shape \(3, 2, 3\)"):
        lstm(handgrad.tensor(np.zeros((3, 2, 3), np.float32)))
    with pytest.raises(ValueError, match=r"h0 \(hx\[0\]\) must have shape \(num_layers \* "
                                         r"num_directions, batch, hidden_size\) = \(2, 2, 5\), "
                                         r"got \(1, 2, 5\)"):
        z = np.zeros((1, 2, 5), np.float32)
        lstm(x, (z, z))
    with pytest.raises(TypeError, match=r"hx must be a tuple \(h0, c0\)"):
        lstm(x, np.zeros((2, 2, 5), np.float32))
    with pytest.raises(TypeError, match=r"input must be a floating-point tensor, got dtype "
                                        r"int64.*Embedding"):
        lstm(handgrad.tensor(np.zeros((3, 2, 4), np.int64)))
    with pytest.raises(ValueError, match=r"input must be 3-D \(seq_len, batch, input_size\) or "
                                         r"2-D.*got shape \(4,\)"):
        lstm(handgrad.tensor(np.zeros(4, np.float32)))
    with pytest.raises(TypeError, match=r"input has dtype float64 but the parameters are "
                                        r"float32"):
        lstm(handgrad.tensor(np.zeros((3, 2, 4))))
    gru = nn.GRU(4, 5, bidirectional=True, batch_first=True)
    with pytest.raises(ValueError, match=r"hx must have shape .* = \(2, 3, 5\), got \(1, 3, 5\)"):
        gru(handgrad.tensor(np.zeros((3, 7, 4), np.float32)), np.zeros((1, 3, 5), np.float32))
    with pytest.raises(ValueError, match=r"nonlinearity must be 'tanh' or 'relu'"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"hidden_size must be a positive integer"):
        nn.GRU(3, 0)
    with pytest.raises(ValueError, match=r"dropout must be a probability"):
        nn.LSTM(3, 4, dropout=1.5)
    cell = nn.LSTMCell(4, 5)
    with pytest.raises(ValueError, match=r"h \(hx\[0\]\) must have shape \(batch, hidden_size\) "
                                         r"= \(2, 5\), got \(3, 5\)"):
        z = np.zeros((3, 5), np.float32)
        cell(np.zeros((2, 4), np.float32), (z, z))
    with pytest.raises(ValueError, match=r"input.size\(-1\) must equal input_size = 4"):
        nn.GRUCell(4, 5)(np.zeros((2, 3), np.float32))
    emb = nn.Embedding(10, 3)
    with pytest.raises(IndexError, match=r"index 12 .*num_embeddings = 10"):
        emb(np.array([[1, 12]]))
    with pytest.raises(TypeError, match=r"integer indices"):
        emb(handgrad.tensor(np.array([1.0])))
    with pytest.raises(ValueError, match=r"padding_idx must be an integer in \[-10, 9\]"):
        nn.Embedding(10, 3, padding_idx=10)
