"""The reference GRU, one step and the sequence, against the fast doors (1e-12) and
torch.nn.GRU / GRUCell: both directions, no bias, no initial state, length-1 sequences,
batch 1, empty batch, non-contiguous inputs."""

from __future__ import annotations

import numpy as np
import pytest

from handgrad.ops import reference as ref
from tests.ops.reference import recurrent_common as rc
from tests.ops.reference.common import assert_same, non_contiguous


@pytest.mark.parametrize("kind,reverse,dtype,shape,bias,states", rc.grid(["gru"]))
def test_sequence(kind, reverse, dtype, shape, bias, states):
    rng = rc.seeded(kind, reverse, shape, bias, states)
    rc.check_sequence(kind, rc.arrays(kind, *shape, dtype, rng, bias, states), reverse)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bias,states", [(True, True), (False, False), (True, False)])
def test_step(bias, states, dtype):
    rng = np.random.default_rng(13)
    rc.check_step("gru", rc.arrays("gru", 1, 3, 4, 5, dtype, rng, bias, states))


def test_hidden_size_1_fast_door():
    # _recurrent_weight once halved the r, z columns of w_hh.T in place, and w_hh.T was a
    # view of the caller's weight_hh here: wrong outputs and a corrupted weight
    a = rc.arrays("gru", 2, 1, 1, 1, np.float64, np.random.default_rng(0))
    rc.fast_equals_reference("gru", a)


def test_fortran_order_weight_hh_fast_door():
    # the same in-place halving once landed in a Fortran-ordered weight_hh
    a = rc.arrays("gru", 3, 2, 3, 4, np.float64, np.random.default_rng(0))
    a["w_hh"] = np.asfortranarray(a["w_hh"])
    rc.fast_equals_reference("gru", a)


def test_empty_batch():
    a = rc.arrays("gru", 3, 0, 2, 4, np.float64, np.random.default_rng(0))
    rc.check_sequence("gru", a, reverse=False, fast=False)
    rc.check_step("gru", a, fast=False)


def test_empty_batch_fast_door():
    a = rc.arrays("gru", 3, 0, 2, 4, np.float64, np.random.default_rng(0))
    rc.fast_equals_reference("gru", a)


@pytest.mark.parametrize("kind", ["gru"])
def test_nan_and_inf_as_in_torch(kind):
    rc.check_nan_and_inf(kind)


def test_non_contiguous_inputs():
    rng = np.random.default_rng(2)
    a = rc.arrays("gru", 4, 3, 5, 2, np.float64, rng)
    a["x"] = np.ascontiguousarray(a["x"].transpose(1, 0, 2)).transpose(1, 0, 2)
    # (a Fortran-ordered w_hh: test_fortran_order_weight_hh_fast_door)
    a["w_ih"], a["b_ih"] = a["w_ih"].T.copy().T, non_contiguous(a["b_ih"])
    assert not a["x"].flags.c_contiguous and not a["w_ih"].flags.c_contiguous
    rc.check_sequence("gru", a, reverse=True)


def test_the_step_looped_is_the_sequence():
    rng = np.random.default_rng(7)
    T = 5
    a = rc.arrays("gru", T, 3, 4, 5, np.float64, rng)
    w = (a["w_ih"], a["w_hh"], a["b_ih"], a["b_hh"])
    outs, grads = rc.sequence(ref, "gru", a, False)
    h, caches = a["h0"], []
    for t in range(T):
        h, cache = ref.gru_step_forward(a["x"][t], h, *w)
        caches.append(cache)
    assert_same(h, outs["h_n"], "h_n")
    dh, dw = a["dh_n"], [0, 0, 0, 0]
    for t in reversed(range(T)):
        _, dh, *gw = ref.gru_step_backward(dh + a["dout"][t], caches[t])
        dw = [acc + g for acc, g in zip(dw, gw)]
    assert_same(dh, grads["h0"], "dh0")
    for name, acc in zip(["w_ih", "w_hh", "b_ih", "b_hh"], dw):
        assert_same(acc, grads[name], name)


def test_the_two_biases_of_n_differ():
    """b_hn sits inside r * (W_hn h + b_hn): its gradient is r times that of b_in."""
    rng = np.random.default_rng(3)
    a = rc.arrays("gru", 1, 2, 3, 4, np.float64, rng)
    h, cache = ref.gru_step_forward(a["x"][0], a["h0"], a["w_ih"], a["w_hh"], a["b_ih"],
                                    a["b_hh"])
    dh = np.ones_like(h)
    *_, db_ih, db_hh = ref.gru_step_backward(dh, cache)
    H = 4
    np.testing.assert_allclose(db_ih[:2 * H], db_hh[:2 * H], rtol=1e-12)   # r, z: the same
    # per sample: d b_hn = r * d b_in
    dx_n = dh * (1 - cache.z) * (1 - cache.n ** 2)
    np.testing.assert_allclose(db_hh[2 * H:], (dx_n * cache.r).sum(0), rtol=1e-12)
    np.testing.assert_allclose(db_ih[2 * H:], dx_n.sum(0), rtol=1e-12)
