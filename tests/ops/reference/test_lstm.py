"""The reference LSTM, one step and the sequence, against the fast doors (1e-12) and
torch.nn.LSTM / LSTMCell: both directions, no bias, no initial states, length-1
sequences, batch 1, empty batch, non-contiguous inputs, the forms of (dh, dc)."""

from __future__ import annotations

import numpy as np
import pytest

from handgrad import ops
from handgrad.ops import reference as ref
from tests.ops.reference import recurrent_common as rc
from tests.ops.reference.common import assert_all_same, assert_same, non_contiguous

NAMES = ["dx", "dh_prev", "dc_prev", "dw_ih", "dw_hh", "db_ih", "db_hh"]


@pytest.mark.parametrize("kind,reverse,dtype,shape,bias,states", rc.grid(["lstm"]))
def test_sequence(kind, reverse, dtype, shape, bias, states):
    rng = rc.seeded(kind, reverse, shape, bias, states)
    rc.check_sequence(kind, rc.arrays(kind, *shape, dtype, rng, bias, states), reverse)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bias,states", [(True, True), (False, False), (True, False)])
def test_step(bias, states, dtype):
    rng = np.random.default_rng(12)
    rc.check_step("lstm", rc.arrays("lstm", 1, 3, 4, 5, dtype, rng, bias, states))


def test_step_with_only_one_state_and_dh_alone():
    """h_prev given, c_prev None (and the reverse); dc omitted from the upstream."""
    rng = np.random.default_rng(5)
    a = rc.arrays("lstm", 1, 2, 3, 4, np.float64, rng)
    w = (a["w_ih"], a["w_hh"], a["b_ih"], a["b_hh"])
    for h0, c0 in ((a["h0"], None), (None, a["c0"])):
        (h, c), cache = ref.lstm_step_forward(a["x"][0], h0, c0, *w)
        (fh, fc), fast_cache = ops.lstm_step_forward(a["x"][0], h0, c0, *w)
        assert_all_same((h, c), (fh, fc), ["h", "c"])
        for dout in ((a["dh_n"], a["dc_n"]), (a["dh_n"], None), a["dh_n"]):
            assert_all_same(ref.lstm_step_backward(dout, cache),
                            ops.lstm_step_backward(dout, fast_cache), NAMES)


def test_hidden_size_1_fast_door():
    # _recurrent_weight once halved the permuted w_hh in place (ascontiguousarray of a
    # (1, 4) transpose is a view), so the backward pass used halved weights
    a = rc.arrays("lstm", 2, 1, 1, 1, np.float64, np.random.default_rng(0))
    rc.fast_equals_reference("lstm", a)


def test_empty_batch():
    a = rc.arrays("lstm", 3, 0, 2, 4, np.float64, np.random.default_rng(0))
    rc.check_sequence("lstm", a, reverse=True, fast=False)
    rc.check_step("lstm", a, fast=False)


def test_empty_batch_fast_door():
    a = rc.arrays("lstm", 3, 0, 2, 4, np.float64, np.random.default_rng(0))
    rc.fast_equals_reference("lstm", a)


@pytest.mark.parametrize("kind", ["lstm"])
def test_nan_and_inf_as_in_torch(kind):
    rc.check_nan_and_inf(kind)


def test_non_contiguous_inputs():
    rng = np.random.default_rng(2)
    a = rc.arrays("lstm", 4, 3, 5, 2, np.float64, rng)
    a["x"] = np.ascontiguousarray(a["x"].transpose(1, 0, 2)).transpose(1, 0, 2)
    a["w_ih"], a["c0"] = a["w_ih"].T.copy().T, non_contiguous(a["c0"])
    assert not a["x"].flags.c_contiguous and not a["w_ih"].flags.c_contiguous
    rc.check_sequence("lstm", a, reverse=False)


def test_the_step_looped_is_the_sequence():
    """BPTT by hand with the step doors, carrying dh and dc from the last step back."""
    rng = np.random.default_rng(7)
    T = 5
    a = rc.arrays("lstm", T, 3, 4, 5, np.float64, rng)
    w = (a["w_ih"], a["w_hh"], a["b_ih"], a["b_hh"])
    outs, grads = rc.sequence(ref, "lstm", a, False)
    h, c, caches = a["h0"], a["c0"], []
    for t in range(T):
        (h, c), cache = ref.lstm_step_forward(a["x"][t], h, c, *w)
        caches.append(cache)
    assert_all_same((h, c), (outs["h_n"], outs["c_n"]), ["h_n", "c_n"])
    dh, dc, dw = a["dh_n"], a["dc_n"], [0, 0, 0, 0]
    for t in reversed(range(T)):
        _, dh, dc, *gw = ref.lstm_step_backward((dh + a["dout"][t], dc), caches[t])
        dw = [acc + g for acc, g in zip(dw, gw)]
    assert_all_same((dh, dc), (grads["h0"], grads["c0"]), ["dh0", "dc0"])
    for name, acc in zip(["w_ih", "w_hh", "b_ih", "b_hh"], dw):
        assert_same(acc, grads[name], name)


def test_gate_order_is_i_f_g_o():
    """With only the forget gate's bias large, c = c_prev (f = 1, i = 0): gate 1 is f."""
    H = 3
    w_ih, w_hh = np.zeros((4 * H, 2)), np.zeros((4 * H, H))
    b = np.zeros(4 * H)
    b[H:2 * H] = 50.0          # f = sigmoid(50) = 1
    b[:H] = -50.0              # i = sigmoid(-50) = 0
    c_prev = np.array([[0.5, -1.0, 2.0]])
    (h, c), _ = ref.lstm_step_forward(np.zeros((1, 2)), np.zeros((1, H)), c_prev, w_ih, w_hh,
                                      b, None)
    np.testing.assert_allclose(c, c_prev, rtol=1e-12)
    np.testing.assert_allclose(h, 0.5 * np.tanh(c_prev), rtol=1e-12)   # o = sigmoid(0)


def test_sigmoid_is_stable():
    a = np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0])
    s = ref.sigmoid(a)
    assert np.isfinite(s).all() and s[2] == 0.5 and s[0] == 0.0 and s[-1] == 1.0
    np.testing.assert_allclose(s[1:4], 1 / (1 + np.exp(-a[1:4])), rtol=1e-15)
    assert ref.sigmoid(a.astype(np.float32)).dtype == np.float32
