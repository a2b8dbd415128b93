"""Reductions (sum, mean, max, min, logsumexp, norm) against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import handgrad as hg
import handgrad.nn.functional as F
from tests.helpers import assert_close, to_torch, torch

DTYPES = [np.float64, np.float32]


def _check(hg_fn, torch_fn, x, dtype, name, up_seed=0):
    h = hg.tensor(x, requires_grad=True)
    t = to_torch(x, True)
    out = hg_fn(h)
    ref = torch_fn(t)
    assert out.dtype == np.dtype(dtype), f"{name}: dtype {out.dtype}"
    assert_close(out, ref, dtype, name=f"{name} value", equal_nan=True)
    up = np.random.default_rng(up_seed).standard_normal(out.shape).astype(dtype)
    out.backward(up)
    ref.backward(torch.tensor(up))
    assert h.grad.dtype == np.dtype(dtype)
    assert_close(h.grad, t.grad, dtype, name=f"{name} grad")


# (shape, dim) with negative dims, tuples, all dims, size-1 and size-0 axes
REDUCE_CASES = [
    ((), None), ((5,), None), ((5,), 0), ((5,), -1), ((3, 4), None), ((3, 4), 0), ((3, 4), 1),
    ((3, 4), -1), ((3, 4), (0, 1)), ((3, 4), (-1, 0)), ((2, 3, 4), (0, 2)), ((2, 3, 4), -2),
    ((2, 1, 4), 1), ((1, 1), None), ((2, 3, 4, 5), (1, 3)), ((3, 0), 0), ((3, 0), 1),
    ((0,), None), ((), 0), ((2, 3), ()),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,dim", REDUCE_CASES)
@pytest.mark.parametrize("op", ["sum", "mean"])
def test_sum_mean(op, shape, dim, keepdim, dtype, rng):
    x = rng.standard_normal(shape).astype(dtype)
    if dim is None and not keepdim:
        _check(lambda t: getattr(t, op)(), lambda t: getattr(t, op)(), x, dtype, op)
    _check(lambda t: getattr(t, op)(dim=dim, keepdim=keepdim),
           lambda t: getattr(t, op)(dim=dim, keepdim=keepdim), x, dtype, f"{op}{shape}{dim}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,dim", [c for c in REDUCE_CASES
                                        if c[0] and 0 not in c[0] and c[1] != ()])
def test_logsumexp(shape, dim, keepdim, dtype, rng):
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    if dim is None:
        dims = tuple(range(len(shape)))
        _check(lambda t: t.logsumexp(), lambda t: torch.logsumexp(t, dims), x, dtype, "lse")
        return
    _check(lambda t: t.logsumexp(dim=dim, keepdim=keepdim),
           lambda t: torch.logsumexp(t, dim, keepdim=keepdim), x, dtype, f"lse{shape}{dim}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_logsumexp_is_stable(dtype):
    x = np.array([[1000.0, 1000.0, -5.0], [-1000.0, -1001.0, -1e4]], dtype=dtype)
    _check(lambda t: t.logsumexp(dim=1), lambda t: torch.logsumexp(t, 1), x, dtype, "lse big")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,dim", [((5,), 0), ((3, 4), 0), ((3, 4), 1), ((3, 4), -1),
                                       ((2, 3, 4), 1), ((2, 1, 4), 1), ((1,), 0)])
@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_with_dim(op, shape, dim, keepdim, dtype, rng):
    x = rng.standard_normal(shape).astype(dtype)
    _check(lambda t: getattr(t, op)(dim=dim, keepdim=keepdim).values,
           lambda t: getattr(t, op)(dim=dim, keepdim=keepdim).values, x, dtype, f"{op}{dim}")
    ours = getattr(hg.tensor(x), op)(dim, keepdim)
    theirs = getattr(torch.tensor(x), op)(dim, keepdim)
    np.testing.assert_array_equal(ours.indices.data, theirs.indices.numpy())
    np.testing.assert_array_equal(ours[1].data, theirs[1].numpy())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_ties(op, dtype):
    """Full reduction splits the gradient among ties; with dim it goes to one index."""
    x = np.array([[1.0, 3.0, 3.0], [-2.0, -2.0, 0.0], [3.0, -2.0, 3.0]], dtype=dtype)
    _check(lambda t: getattr(t, op)(), lambda t: getattr(t, op)(), x, dtype, f"{op} ties all")
    _check(lambda t: getattr(t, op)(dim=1)[0], lambda t: getattr(t, op)(dim=1)[0], x, dtype,
           f"{op} ties dim")


def test_max_with_a_tuple_dim_is_a_clear_error():
    with pytest.raises(TypeError, match="dim must be one int"):
        hg.tensor(np.zeros((2, 3))).max(dim=(0, 1))


def test_max_of_empty_is_an_error():
    with pytest.raises(ValueError, match="empty"):
        hg.tensor(np.zeros((0, 3))).max()


def test_reduction_dim_errors():
    x = hg.tensor(np.zeros((2, 3)))
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range "
                                         r"of \[-2, 1\], but got 2\)"):
        x.sum(dim=2)
    with pytest.raises(RuntimeError, match="dim 1 appears multiple times"):
        x.sum(dim=(1, -1))


def test_reductions_of_integers_keep_working():
    x = hg.tensor(np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(x.sum(dim=1).data, [3, 12])
    np.testing.assert_array_equal(x.argmax(dim=1).data, [2, 2])
    np.testing.assert_array_equal(x.argmin().data, 0)


@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4), data=st.data())
@settings(max_examples=30, deadline=None)
def test_reductions_hypothesis(shape, data):
    ndim = len(shape)
    dims = data.draw(st.lists(st.integers(-ndim, ndim - 1), min_size=1, max_size=ndim,
                              unique_by=lambda d: d % ndim))
    keepdim = data.draw(st.booleans())
    op = data.draw(st.sampled_from(["sum", "mean", "logsumexp"]))
    x = np.random.default_rng(len(shape)).standard_normal(shape)
    dim = tuple(dims)
    theirs = (lambda t: torch.logsumexp(t, dim, keepdim=keepdim)) if op == "logsumexp" else \
        (lambda t: getattr(t, op)(dim=dim, keepdim=keepdim))
    _check(lambda t: getattr(t, op)(dim=dim, keepdim=keepdim), theirs, x, np.float64,
           f"hyp {op}{shape}{dim}")


# -- norm ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [2, "fro", 1, 3, 1.5, float("inf")])
@pytest.mark.parametrize("shape,dim", [((5,), None), ((3, 4), None), ((3, 4), 1), ((3, 4), 0),
                                       ((2, 3, 4), (1, 2)), ((2, 3, 4), -1), ((1,), None)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_norm_matches_torch(p, shape, dim, keepdim, dtype, rng):
    x = rng.standard_normal(shape).astype(dtype)
    _check(lambda t: t.norm(p=p, dim=dim, keepdim=keepdim),
           lambda t: t.norm(p=p, dim=dim, keepdim=keepdim), x, dtype, f"norm p={p} {shape}{dim}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [2, 1, 3, float("inf")])
def test_norm_gradient_at_zero_vector_is_zero_like_torch(p, dtype):
    """||x|| has no derivative at x = 0; PyTorch (and handgrad) return the subgradient 0."""
    x = np.zeros((2, 3), dtype)
    x[1] = [3.0, -4.0, 0.0]  # one zero row, one ordinary row
    _check(lambda t: t.norm(p=p, dim=1), lambda t: t.norm(p=p, dim=1), x, dtype, "norm at 0")
    h = hg.tensor(np.zeros(4, dtype), requires_grad=True)
    h.norm().backward()
    np.testing.assert_array_equal(h.grad, 0)
    assert np.isfinite(h.grad).all()


def test_l2_norm_gradient_is_x_over_norm(rng):
    x = rng.standard_normal(6)
    h = hg.tensor(x, requires_grad=True)
    h.norm().backward()
    np.testing.assert_allclose(h.grad, x / np.linalg.norm(x), rtol=1e-12)


def test_norm_errors():
    with pytest.raises(ValueError, match="p must be"):
        hg.tensor(np.ones(3)).norm(p=0.5)
    with pytest.raises(ValueError, match="p must be"):
        hg.tensor(np.ones(3)).norm(p="nuc")
    with pytest.raises(TypeError, match="floating-point"):
        hg.tensor(np.ones(3, np.int64)).norm()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_normalize_matches_torch(dim, dtype, rng):
    x = rng.standard_normal((3, 4)).astype(dtype)
    x[1] = 0  # the eps clamp
    _check(lambda t: F.normalize(t, dim=dim), lambda t: torch.nn.functional.normalize(t, dim=dim),
           x, dtype, "normalize")
