"""batch_norm against PyTorch: outputs, dx, dgamma, dbeta, running statistics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import handgrad as hg
from handgrad.nn import functional as F
from handgrad.ops import batchnorm as B
from tests.helpers import assert_close, torch

TF = torch.nn.functional


def _run(x, w, b, rm, rv, training, momentum=0.1, eps=1e-5):
    """One step of both; running stats are updated in place in both frameworks."""
    xh = hg.tensor(x, requires_grad=True)
    wh = None if w is None else hg.tensor(w, requires_grad=True)
    bh = None if b is None else hg.tensor(b, requires_grad=True)
    yh = F.batch_norm(xh, rm[0], rv[0], wh, bh, training=training, momentum=momentum, eps=eps)
    xt = torch.tensor(x, requires_grad=True)
    wt = None if w is None else torch.tensor(w, requires_grad=True)
    bt = None if b is None else torch.tensor(b, requires_grad=True)
    yt = TF.batch_norm(xt, rm[1], rv[1], wt, bt, training=training, momentum=momentum, eps=eps)
    assert yh.dtype == x.dtype
    assert_close(yh, yt, name="out")
    dy = np.random.default_rng(5).standard_normal(x.shape).astype(x.dtype)
    yh.backward(dy)
    yt.backward(torch.tensor(dy))
    assert_close(xh.grad, xt.grad, name="dx")
    if w is not None:
        assert_close(wh.grad, wt.grad, name="dgamma")
        assert_close(bh.grad, bt.grad, name="dbeta")
    if rm[0] is not None:
        assert_close(rm[0], rm[1], name="running_mean")
        assert_close(rv[0], rv[1], name="running_var")


def _stats(C, dtype, track=True):
    if not track:
        return (None, None), (None, None)
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    return ((np.zeros(C, dtype), torch.zeros(C, dtype=tdt)),
            (np.ones(C, dtype), torch.ones(C, dtype=tdt)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5), (4, 3, 5, 6), (1, 2, 3, 3), (2, 1, 1, 1)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_train_then_eval(shape, affine, dtype, rng):
    C = shape[1]
    w = rng.standard_normal(C).astype(dtype) if affine else None
    b = rng.standard_normal(C).astype(dtype) if affine else None
    rm, rv = _stats(C, dtype)
    for step in range(3):  # several steps: running stats follow torch's momentum rule
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(dtype)
        _run(x, w, b, rm, rv, training=True)
    _run(rng.standard_normal(shape).astype(dtype), w, b, rm, rv, training=False)


def test_batch_norm_without_running_stats(rng):
    x = rng.standard_normal((6, 4, 3, 3))
    _run(x, np.ones(4), np.zeros(4), (None, None), (None, None), training=True)


@settings(max_examples=25, deadline=None)
@given(N=st.integers(2, 5), C=st.integers(1, 4), rest=st.sampled_from([(), (3,), (2, 3)]),
       momentum=st.floats(0.0, 1.0), eps=st.sampled_from([1e-5, 1e-3, 0.1]),
       f32=st.booleans(), seed=st.integers(0, 2**16))
def test_batch_norm_hypothesis(N, C, rest, momentum, eps, f32, seed):
    dtype = np.float32 if f32 else np.float64
    rng = np.random.default_rng(seed)
    shape = (N, C) + rest
    w, b = rng.standard_normal(C).astype(dtype), rng.standard_normal(C).astype(dtype)
    rm, rv = _stats(C, dtype)
    _run(rng.standard_normal(shape).astype(dtype), w, b, rm, rv, True, momentum, eps)
    _run(rng.standard_normal(shape).astype(dtype), w, b, rm, rv, False, momentum, eps)


def test_batch_norm_layer_door_compact_backward(rng):
    # the compact formula, checked against the step-by-step chain rule
    x = rng.standard_normal((5, 3, 2, 2))
    g, beta = rng.standard_normal(3), rng.standard_normal(3)
    out, cache = B.batch_norm_forward(x, g, beta)
    dy = rng.standard_normal(x.shape)
    dx, dg, db = B.batch_norm_backward(dy, cache)
    ax, m = (0, 2, 3), 5 * 4
    mu = x.mean(ax, keepdims=True)
    var = x.var(ax, keepdims=True)
    sig = np.sqrt(var + 1e-5)
    dxhat = dy * g[None, :, None, None]
    dvar = (dxhat * (x - mu) * -0.5 * sig**-3).sum(ax, keepdims=True)
    dmu = (-dxhat / sig).sum(ax, keepdims=True)
    by_chain = dxhat / sig + dvar * 2 * (x - mu) / m + dmu / m
    assert_close(dx, by_chain, name="dx")
    assert_close(dx.sum(ax), np.zeros(3), atol=1e-12)


def test_batch_norm_errors():
    x = hg.tensor(np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(x, None, None, training=True)
    with pytest.raises(ValueError, match=r"weight must have shape \(C,\) = \(3,\)"):
        F.batch_norm(hg.tensor(np.zeros((2, 3), np.float32)), None, None,
                     hg.tensor(np.ones(4, np.float32)), training=True)
    with pytest.raises(ValueError, match="needs running_mean"):
        F.batch_norm(hg.tensor(np.zeros((2, 3), np.float32)), None, None, training=False)
    with pytest.raises(ValueError, match=r"got shape \(3,\)"):
        F.batch_norm(hg.tensor(np.zeros(3, np.float32)), None, None, training=True)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradcheck_float64(training, rng):
    x = hg.tensor(rng.standard_normal((4, 3, 2, 2)), requires_grad=True)
    w = hg.tensor(rng.standard_normal(3), requires_grad=True)
    b = hg.tensor(rng.standard_normal(3), requires_grad=True)
    rm, rv = rng.standard_normal(3), rng.random(3) + 0.5
    assert hg.gradcheck(lambda a, g, c: F.batch_norm(a, rm.copy(), rv.copy(), g, c,
                                                     training=training), (x, w, b))
