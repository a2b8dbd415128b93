"""The reference softmax, log-softmax and cross-entropy against the fast doors (1e-12)
and PyTorch, over the grids of tests/ops/test_loss.py: shapes, dims, reductions, class
weights, ignore_index, label smoothing, empty batches, huge logits; errors."""

from __future__ import annotations

import numpy as np
import pytest

from handgrad import ops
from handgrad.ops import reference as ref
from tests.ops.reference.common import assert_close, assert_same, non_contiguous, to_torch, torch

TF = torch.nn.functional
DTYPES = [np.float64, np.float32]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,dim", [((5,), 0), ((3, 4), 1), ((3, 4), 0), ((3, 4), -1),
                                       ((2, 3, 4), 1), ((2, 1, 3), 1), ((1, 1), -1),
                                       ((2, 3, 4, 5), -2), ((0, 3), 1), ((), 0)])
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_family(fn, shape, dim, dtype, rng):
    x = np.asarray(rng.standard_normal(shape) * 3, dtype=dtype)
    dy = np.asarray(rng.standard_normal(shape), dtype=dtype)
    out, cache = getattr(ref, f"{fn}_forward")(x, dim)
    dx = getattr(ref, f"{fn}_backward")(dy, cache)
    assert out.dtype == dtype and dx.dtype == dtype
    xt = to_torch(x, True)
    yt = getattr(TF, fn)(xt, dim)
    assert_close(out, yt, name="out")
    yt.backward(torch.tensor(dy))
    assert_close(dx, xt.grad, name="dx")
    if dtype == np.float64:
        fast_out, fast_cache = getattr(ops, f"{fn}_forward")(x, dim=dim)
        assert_same(out, fast_out, "out")
        assert_same(dx, getattr(ops, f"{fn}_backward")(dy, fast_cache), "dx")


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_huge_scores_stay_finite(fn):
    x = np.array([[1000.0, 0.0, -1000.0], [-1e4, -1e4, -1e4]])
    out, _ = getattr(ref, f"{fn}_forward")(x, 1)
    assert_close(out, getattr(TF, fn)(torch.tensor(x), 1), name=fn)
    if fn == "softmax":
        assert np.isfinite(out).all()


def _targets(rng, shape, n_ignore=0, ignore_index=-100):
    c = shape[0] if len(shape) == 1 else shape[1]
    tshape = () if len(shape) == 1 else shape[:1] + shape[2:]
    t = rng.integers(0, c, size=tshape)
    if n_ignore and t.size:
        flat = t.reshape(-1)
        flat[: min(n_ignore, flat.size - 1)] = ignore_index
    return t


def _check_ce(x, t, **kw):
    """Reference vs torch (loss, dx); in float64 also vs the fast door."""
    loss, cache = ref.softmax_cross_entropy_forward(x, t, **kw)
    up = np.random.default_rng(0).standard_normal(np.shape(loss)).astype(x.dtype)
    dx = ref.softmax_cross_entropy_backward(up, cache)
    assert loss.dtype == x.dtype and dx.dtype == x.dtype and dx.shape == x.shape
    tkw = dict(kw)
    if tkw.get("weight") is not None:
        tkw["weight"] = torch.tensor(tkw["weight"])
    xt = to_torch(x, True)
    lt = TF.cross_entropy(xt, torch.tensor(t), **tkw)
    assert_close(loss, lt, x.dtype, name="loss")
    lt.backward(torch.tensor(up))
    assert_close(dx, xt.grad, x.dtype, name="dx")
    if x.dtype == np.float64:
        fast_loss, fast_cache = ops.softmax_cross_entropy_forward(x, t, **kw)
        assert_same(loss, fast_loss, "loss")
        assert_same(dx, ops.softmax_cross_entropy_backward(up, fast_cache), "dx")


CE_SHAPES = [(4, 3), (1, 1), (1, 5), (6, 2), (2, 3, 4), (2, 4, 3, 2), (5,), (0, 3)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", CE_SHAPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy(shape, reduction, dtype, rng):
    if shape[0] == 0 and reduction == "mean":
        pytest.skip("the NaN mean of an empty batch: test_empty_and_all_ignored")
    x = (rng.standard_normal(shape) * 2).astype(dtype)
    _check_ce(x, _targets(rng, shape), reduction=reduction)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5), (4,)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("use_weight", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.1, 1.0])
@pytest.mark.parametrize("ignore", [0, 2])
def test_cross_entropy_options(shape, reduction, use_weight, smoothing, ignore, dtype, rng):
    x = (rng.standard_normal(shape) * 2).astype(dtype)
    c = shape[0] if len(shape) == 1 else shape[1]
    ignore_index = 1 if len(shape) > 1 and ignore == 0 else -100
    t = _targets(rng, shape, n_ignore=ignore, ignore_index=ignore_index)
    w = rng.uniform(0.2, 2.0, c).astype(dtype) if use_weight else None
    _check_ce(x, t, weight=w, ignore_index=ignore_index, reduction=reduction,
              label_smoothing=smoothing)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_empty_and_all_ignored_mean_is_nan_with_zero_gradient(smoothing):
    for x, t in [(np.ones((2, 3)), np.array([-100, -100])), (np.zeros((0, 3)),
                                                             np.zeros(0, np.int64))]:
        loss, cache = ref.softmax_cross_entropy_forward(x, t, label_smoothing=smoothing)
        assert np.isnan(loss)
        dx = ref.softmax_cross_entropy_backward(1.0, cache)
        fast_loss, fast_cache = ops.softmax_cross_entropy_forward(x, t, label_smoothing=smoothing)
        assert np.isnan(fast_loss)
        assert_same(dx, ops.softmax_cross_entropy_backward(1.0, fast_cache), "dx")
        xt = to_torch(x, True)
        lt = TF.cross_entropy(xt, torch.tensor(t), label_smoothing=smoothing)
        lt.backward()
        assert_close(dx, xt.grad, name="dx")


def test_huge_logits_and_non_contiguous(rng):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 3.0]], dtype=np.float32)
    _check_ce(x, np.array([1, 1]))
    _check_ce(non_contiguous(rng.standard_normal((5, 4))), np.array([0, 3, 2, 1, 1]),
              label_smoothing=0.1)


def test_softmax_loss_is_cs231n_signature(rng):
    x = rng.standard_normal((7, 5))
    y = rng.integers(0, 5, 7)
    loss, dx = ref.softmax_loss(x, y)
    fast_loss, fast_dx = ops.softmax_loss(x, y)
    assert isinstance(loss, float) and loss == pytest.approx(fast_loss, rel=1e-12)
    assert_same(dx, fast_dx, "dx")
    p = np.exp(x) / np.exp(x).sum(1, keepdims=True)
    assert_close(dx, (p - np.eye(5)[y]) / 7, name="(softmax - onehot) / N")


def test_errors_name_the_argument():
    x = np.zeros((3, 4))
    with pytest.raises(TypeError, match="target must hold integer indices, got dtype float64"):
        ref.softmax_cross_entropy_forward(x, np.zeros(3))
    with pytest.raises(ValueError, match=r"target must have shape .* = \(3,\), got \(4,\)"):
        ref.softmax_cross_entropy_forward(x, np.zeros(4, np.int64))
    with pytest.raises(ValueError, match=r"target holds the index 4, outside \[0, 4\)"):
        ref.softmax_cross_entropy_forward(x, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match=r"weight must have shape \(C,\) = \(4,\)"):
        ref.softmax_cross_entropy_forward(x, np.array([0, 1, 1]), weight=np.ones(3))
    with pytest.raises(ValueError, match="reduction must be one of"):
        ref.softmax_cross_entropy_forward(x, np.array([0, 1, 1]), reduction="avg")
    with pytest.raises(ValueError, match=r"label_smoothing must lie in \[0, 1\]"):
        ref.softmax_cross_entropy_forward(x, np.array([0, 1, 1]), label_smoothing=1.5)
    with pytest.raises(TypeError, match="floating-point"):
        ref.softmax_forward(np.array([1, 2, 3]), 0)
    with pytest.raises(ValueError, match=r"dim must lie in \[-2, 1\], got 2"):
        ref.softmax_forward(x, 2)


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_inf_and_nan_scores_as_in_torch(fn):
    z = np.array([[-np.inf, 0.0, 1.0], [np.inf, 0.0, 1.0], [np.nan, 0.0, 1.0],
                  [-np.inf, -np.inf, -np.inf]])
    dy = np.arange(12.0).reshape(4, 3)
    with np.errstate(invalid="ignore"):
        out, cache = getattr(ref, f"{fn}_forward")(z, 1)
        dx = getattr(ref, f"{fn}_backward")(dy, cache)
        fast_out, fast_cache = getattr(ops, f"{fn}_forward")(z, dim=1)
        fast_dx = getattr(ops, f"{fn}_backward")(dy, fast_cache)
    zt = to_torch(z, True)
    yt = getattr(TF, fn)(zt, 1)
    yt.backward(torch.tensor(dy))
    assert_close(out, yt, name="out")
    assert_close(dx, zt.grad, name="dx")
    assert_same(out, fast_out, "out")
    assert_same(dx, fast_dx, "dx")


@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_cross_entropy_with_a_minus_inf_score(smoothing):
    # p = 0 for that class: no NaN from 0 * -inf without smoothing; inf with smoothing
    x = np.array([[-np.inf, 0.0, 1.0], [1e308, 0.0, 1.0]])
    with np.errstate(invalid="ignore", over="ignore"):
        _check_ce(x, np.array([1, 2]), label_smoothing=smoothing)
