"""The reference RNN (tanh and relu), one step and the sequence, against the fast doors
(1e-12) and torch.nn.RNN / RNNCell: both directions, no bias, no initial state, length-1
sequences, batch 1, empty batch, non-contiguous inputs, the forms of the upstream
gradient; the argument checks shared by every recurrent reference."""

from __future__ import annotations

import numpy as np
import pytest

from handgrad import ops
from handgrad.ops import reference as ref
from tests.ops.reference import recurrent_common as rc
from tests.ops.reference.common import assert_all_same, assert_same, non_contiguous

KINDS = ["rnn", "rnn_relu"]


@pytest.mark.parametrize("kind,reverse,dtype,shape,bias,states", rc.grid(KINDS))
def test_sequence(kind, reverse, dtype, shape, bias, states):
    rng = rc.seeded(kind, reverse, shape, bias, states)
    rc.check_sequence(kind, rc.arrays(kind, *shape, dtype, rng, bias, states), reverse)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bias,states", [(True, True), (False, False), (True, False)])
def test_step(kind, bias, states, dtype):
    rng = np.random.default_rng(11)
    rc.check_step(kind, rc.arrays(kind, 1, 3, 4, 5, dtype, rng, bias, states))


@pytest.mark.parametrize("kind", KINDS)
def test_empty_batch(kind):
    a = rc.arrays(kind, 3, 0, 2, 4, np.float64, np.random.default_rng(0))
    rc.check_sequence(kind, a, reverse=False, fast=False)
    rc.check_step(kind, a, fast=False)


def test_empty_batch_fast_door():
    a = rc.arrays("rnn", 3, 0, 2, 4, np.float64, np.random.default_rng(0))
    rc.fast_equals_reference("rnn", a)


@pytest.mark.parametrize("kind", ["rnn", "rnn_relu"])
def test_nan_and_inf_as_in_torch(kind):
    rc.check_nan_and_inf(kind)


def test_non_contiguous_inputs():
    rng = np.random.default_rng(2)
    a = rc.arrays("rnn", 4, 3, 5, 2, np.float64, rng)
    a["x"] = np.ascontiguousarray(a["x"].transpose(1, 0, 2)).transpose(1, 0, 2)  # (N, T, D)
    a["w_hh"], a["h0"] = a["w_hh"].T.copy().T, non_contiguous(a["h0"])
    assert not a["x"].flags.c_contiguous and not a["w_hh"].flags.c_contiguous
    rc.check_sequence("rnn", a, reverse=True)


def test_upstream_forms_and_inputs_untouched():
    """dout alone (dh_n 0), (dout, None), a read-only broadcast dout: as the fast door."""
    rng = np.random.default_rng(4)
    a = rc.arrays("rnn", 3, 2, 3, 4, np.float64, rng)
    w = (a["w_ih"], a["w_hh"], a["b_ih"], a["b_hh"])
    copies = {k: v.copy() for k, v in a.items() if v is not None}
    (out, h_n), cache = ref.rnn_forward(a["x"], a["h0"], *w)
    _, fast_cache = ops.rnn_forward(a["x"], a["h0"], *w)
    names = ["dx", "dh0", "dw_ih", "dw_hh", "db_ih", "db_hh"]
    readonly = np.broadcast_to(np.ones(1), out.shape)
    for dout in (a["dout"], (a["dout"], None), readonly):
        assert_all_same(ref.rnn_backward(dout, cache), ops.rnn_backward(dout, fast_cache), names)
    for k, v in copies.items():
        np.testing.assert_array_equal(a[k], v, err_msg=f"{k} was modified")


def test_the_step_looped_is_the_sequence():
    """BPTT by hand with the step doors, from the last step to the first."""
    rng = np.random.default_rng(7)
    T = 5
    a = rc.arrays("rnn", T, 3, 4, 5, np.float64, rng)
    w = (a["w_ih"], a["w_hh"], a["b_ih"], a["b_hh"])
    outs, grads = rc.sequence(ref, "rnn", a, False)
    h, caches = a["h0"], []
    for t in range(T):
        h, cache = ref.rnn_step_forward(a["x"][t], h, *w)
        caches.append(cache)
    assert_same(h, outs["h_n"], "h_n")
    dh, dw = a["dh_n"], [0, 0, 0, 0]
    for t in reversed(range(T)):
        _, dh, *gw = ref.rnn_step_backward(dh + a["dout"][t], caches[t])
        dw = [acc + g for acc, g in zip(dw, gw)]
    assert_same(dh, grads["h0"], "dh0")
    for name, acc in zip(["w_ih", "w_hh", "b_ih", "b_hh"], dw):
        assert_same(acc, grads[name], name)


# -- bad input (the checks every recurrent reference shares) -------------------------------


def test_errors_name_the_argument():
    rng = np.random.default_rng(0)
    a = rc.arrays("lstm", 3, 2, 4, 5, np.float32, rng)
    w = (a["w_ih"], a["w_hh"], a["b_ih"], a["b_hh"])
    with pytest.raises(ValueError, match=r"weight_ih must have shape \(4\*hidden_size, "
                                         r"input_size\) = \(20, 3\), got \(20, 4\)"):
        ref.lstm_forward(a["x"][..., :3], None, None, *w)
    with pytest.raises(ValueError, match=r"h0 must have shape \(batch, hidden_size\) = "
                                         r"\(2, 5\), got \(3, 5\)"):
        ref.lstm_forward(a["x"], np.zeros((3, 5), np.float32), None, *w)
    with pytest.raises(ValueError, match=r"c0 must have shape"):
        ref.lstm_forward(a["x"], None, np.zeros((2, 4), np.float32), *w)
    with pytest.raises(TypeError, match=r"input must be a floating-point array, got dtype int64"):
        ref.lstm_forward(a["x"].astype(np.int64), None, None, *w)
    with pytest.raises(ValueError, match=r"input must have the layout \(T, N, input_size\)"):
        ref.lstm_forward(a["x"][0], None, None, *w)
    with pytest.raises(ValueError, match=r"lstm_cell: input must have the layout \(N, "):
        ref.lstm_step_forward(a["x"], None, None, *w)
    with pytest.raises(TypeError, match=r"weight_ih has dtype float32 but input has dtype "
                                        r"float64"):
        ref.lstm_forward(a["x"].astype(np.float64), None, None, *w)
    with pytest.raises(ValueError, match=r"weight_hh must have shape \(4\*hidden_size"):
        ref.lstm_forward(a["x"], None, None, a["w_ih"], a["w_hh"][:-1], None, None)
    with pytest.raises(ValueError, match=r"bias_hh must have shape \(3\*hidden_size,\)"):
        ref.gru_forward(a["x"], None, a["w_ih"][:15], a["w_hh"][:15], None, a["b_hh"])
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        ref.rnn_forward(a["x"], None, a["w_ih"][:5], a["w_hh"][:5], nonlinearity="sigmoid")
    (out, _), cache = ref.rnn_forward(a["x"], None, a["w_ih"][:5], a["w_hh"][:5])
    with pytest.raises(ValueError, match=r"rnn_backward: dh_n must have shape"):
        ref.rnn_backward((out, np.zeros((5, 2), np.float32)), cache)
