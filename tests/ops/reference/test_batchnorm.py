"""The reference batch norm against the fast door (1e-12) and PyTorch: outputs, dx,
dgamma, dbeta and the running statistics, training then evaluation; the compact dx
against the step-by-step chain rule; errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handgrad import ops
from handgrad.ops import reference as ref
from tests.ops.reference.common import assert_all_same, assert_close, non_contiguous, torch

TF = torch.nn.functional
NAMES = ["dx", "dgamma", "dbeta"]


def _step(x, w, b, stats, training, momentum=0.1, eps=1e-5):
    """One call of the reference, the fast door (float64) and torch, each with its own
    running statistics (updated in place); compares everything."""
    rm, rv = stats["ref"]
    out, cache = ref.batch_norm_forward(x, w, b, rm, rv, training, momentum, eps)
    dy = np.random.default_rng(5).standard_normal(x.shape).astype(x.dtype)
    grads = ref.batch_norm_backward(dy, cache)
    assert out.dtype == x.dtype and grads[0].dtype == x.dtype
    if x.dtype == np.float64:
        frm, frv = stats["fast"]
        fast_out, fast_cache = ops.batch_norm_forward(x, w, b, frm, frv, training, momentum, eps)
        assert_all_same((out, rm, rv), (fast_out, frm, frv), ["out", "running_mean",
                                                               "running_var"])
        assert_all_same(grads, ops.batch_norm_backward(dy, fast_cache), NAMES)
    trm, trv = stats["torch"]
    xt = torch.tensor(x, requires_grad=True)
    wt = None if w is None else torch.tensor(w, requires_grad=True)
    bt = None if b is None else torch.tensor(b, requires_grad=True)
    yt = TF.batch_norm(xt, trm, trv, wt, bt, training=training, momentum=momentum, eps=eps)
    assert_close(out, yt, name="out")
    yt.backward(torch.tensor(dy))
    assert_close(grads[0], xt.grad, name="dx")
    if w is not None:
        assert_close(grads[1], wt.grad, name="dgamma")
        assert_close(grads[2], bt.grad, name="dbeta")
    else:
        assert grads[1] is None and grads[2] is None
    if rm is not None:
        assert_close(rm, trm, name="running_mean")
        assert_close(rv, trv, name="running_var")


def _stats(C, dtype, track=True):
    if not track:
        return {k: (None, None) for k in ("ref", "fast", "torch")}
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    return {"ref": (np.zeros(C, dtype), np.ones(C, dtype)),
            "fast": (np.zeros(C, dtype), np.ones(C, dtype)),
            "torch": (torch.zeros(C, dtype=tdt), torch.ones(C, dtype=tdt))}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5), (4, 3, 5, 6), (1, 2, 3, 3), (2, 1, 1, 1)])
@pytest.mark.parametrize("affine", [True, False])
def test_train_then_eval(shape, affine, dtype, rng):
    C = shape[1]
    w = rng.standard_normal(C).astype(dtype) if affine else None
    b = rng.standard_normal(C).astype(dtype) if affine else None
    stats = _stats(C, dtype)
    for k in range(3):   # several steps: the running statistics follow torch's momentum
        x = (rng.standard_normal(shape) * (k + 1) + k).astype(dtype)
        _step(x, w, b, stats, training=True)
    _step(rng.standard_normal(shape).astype(dtype), w, b, stats, training=False)


def test_without_running_stats_and_momentum_none(rng):
    x = rng.standard_normal((6, 4, 3, 3))
    _step(x, np.ones(4), np.zeros(4), _stats(4, np.float64, track=False), training=True)
    # momentum None: the running statistics are left alone (the module averages itself)
    rm, rv = np.zeros(4), np.ones(4)
    ref.batch_norm_forward(x, None, None, rm, rv, True, None)
    assert not rm.any() and (rv == 1).all()


def test_non_contiguous_inputs(rng):
    x = non_contiguous(rng.standard_normal((5, 3, 4)))
    w, b = non_contiguous(rng.standard_normal(3)), non_contiguous(rng.standard_normal(3))
    stats = _stats(3, np.float64)
    _step(x, w, b, stats, training=True)
    _step(x, w, b, stats, training=False)


def test_empty_batch_in_evaluation(rng):
    # the fast door fails on N = 0 in eval mode (a bare NumPy reshape error); torch and
    # the reference give an empty output
    x = np.zeros((0, 3, 2))
    out, cache = ref.batch_norm_forward(x, np.ones(3), np.zeros(3), np.zeros(3), np.ones(3),
                                        training=False)
    assert out.shape == x.shape
    dx, dg, db = ref.batch_norm_backward(np.zeros_like(x), cache)
    assert dx.shape == x.shape and not dg.any() and not db.any()
    yt = TF.batch_norm(torch.tensor(x), torch.zeros(3, dtype=torch.float64),
                       torch.ones(3, dtype=torch.float64), training=False)
    assert tuple(yt.shape) == out.shape


@settings(max_examples=15, deadline=None)
@given(N=st.integers(2, 5), C=st.integers(1, 4), rest=st.sampled_from([(), (3,), (2, 3)]),
       momentum=st.floats(0.0, 1.0), eps=st.sampled_from([1e-5, 1e-3, 0.1]),
       f32=st.booleans(), seed=st.integers(0, 2**16))
def test_hypothesis(N, C, rest, momentum, eps, f32, seed):
    dtype = np.float32 if f32 else np.float64
    rng = np.random.default_rng(seed)
    shape = (N, C) + rest
    w, b = rng.standard_normal(C).astype(dtype), rng.standard_normal(C).astype(dtype)
    stats = _stats(C, dtype)
    _step(rng.standard_normal(shape).astype(dtype), w, b, stats, True, momentum, eps)
    _step(rng.standard_normal(shape).astype(dtype), w, b, stats, False, momentum, eps)


def test_compact_dx_equals_the_chain_rule_step_by_step(rng):
    x = rng.standard_normal((5, 3, 2, 2))
    g, beta = rng.standard_normal(3), rng.standard_normal(3)
    out, cache = ref.batch_norm_forward(x, g, beta)
    dy = rng.standard_normal(x.shape)
    dx, _, _ = ref.batch_norm_backward(dy, cache)
    ax, m = (0, 2, 3), 5 * 4
    mu, var = x.mean(ax, keepdims=True), x.var(ax, keepdims=True)
    sig = np.sqrt(var + 1e-5)
    dxhat = dy * g[None, :, None, None]
    dvar = (dxhat * (x - mu) * -0.5 * sig**-3).sum(ax, keepdims=True)
    dmu = (-dxhat / sig).sum(ax, keepdims=True)
    assert_close(dx, dxhat / sig + dvar * 2 * (x - mu) / m + dmu / m, name="dx")
    # shifting a channel does not change y: sum dx = 0; with eps = 0 neither does scaling
    # it: sum dx * xhat = 0
    assert_close(dx.sum(ax), np.zeros(3), atol=1e-12)
    out, cache = ref.batch_norm_forward(x, g, beta, eps=0.0)
    dx, _, _ = ref.batch_norm_backward(dy, cache)
    assert_close((dx * (x - mu) / np.sqrt(var)).sum(ax), np.zeros(3), atol=1e-12)


def test_errors_name_the_argument():
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match="more than one value per channel"):
        ref.batch_norm_forward(np.zeros((1, 3)), None, None)
    with pytest.raises(ValueError, match=r"weight must have shape \(C,\) = \(3,\), got \(4,\)"):
        ref.batch_norm_forward(x, np.ones(4), None)
    with pytest.raises(ValueError, match="running_mean and running_var is needed when "
                                         "training=False"):
        ref.batch_norm_forward(x, None, None, training=False)
    with pytest.raises(ValueError, match=r"got shape \(3,\)"):
        ref.batch_norm_forward(np.zeros(3), None, None)
    with pytest.raises(TypeError, match="bias has dtype float32 but input has dtype float64"):
        ref.batch_norm_forward(x, np.ones(3), np.zeros(3, np.float32))


def test_nan_spreads_over_its_channel_as_in_torch(rng):
    x = rng.standard_normal((4, 3, 2))
    x[1, 0, 1] = np.nan
    with np.errstate(invalid="ignore"):
        _step(x, rng.standard_normal(3), rng.standard_normal(3), _stats(3, np.float64), True)
