"""The reference max / avg / adaptive pooling against the fast doors (1e-12) and PyTorch,
over the grids of tests/ops/test_pooling.py: ties, NaN, ceil_mode, padding, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handgrad import ops
from handgrad.ops import reference as ref
from tests.ops.reference.common import assert_close, assert_same, non_contiguous, torch

TF = torch.nn.functional


def _check(name, x, fast=True, **kw):
    """Reference vs torch (values and dx); in float64 also vs the fast door."""
    out, cache = getattr(ref, f"{name}_forward")(x, **kw)
    dy = np.random.default_rng(3).standard_normal(out.shape).astype(x.dtype)
    dx = getattr(ref, f"{name}_backward")(dy, cache)
    assert out.dtype == x.dtype and dx.dtype == x.dtype and dx.shape == x.shape
    xt = torch.tensor(np.array(x), requires_grad=True)
    yt = getattr(TF, name)(xt, **kw)
    assert_close(out, yt, name="out")
    yt.backward(torch.tensor(dy))
    assert_close(dx, xt.grad, name="dx")
    if fast and x.dtype == np.float64:
        fast_out, fast_cache = getattr(ops, f"{name}_forward")(x, **kw)
        assert_same(out, fast_out, "out")
        assert_same(dx, getattr(ops, f"{name}_backward")(dy, fast_cache), "dx")
    return out, dx


POOL_GRID = [
    dict(kernel_size=2),                                   # tiles the input
    dict(kernel_size=(2, 3)),                              # non-square, not tiling 9x10
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=1),                         # overlapping windows
    dict(kernel_size=2, stride=3),                         # stride > kernel
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=2, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0)),
    dict(kernel_size=1, stride=2),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kw", POOL_GRID)
def test_max_pool2d(kw, dtype, rng):
    _check("max_pool2d", rng.standard_normal((2, 3, 9, 10)).astype(dtype), **kw)


@pytest.mark.parametrize("dilation", [2, (1, 2)])
def test_max_pool2d_dilation(dilation, rng):
    _check("max_pool2d", rng.standard_normal((2, 2, 9, 10)), kernel_size=3, stride=2,
           padding=1, dilation=dilation)


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
                                dict(kernel_size=2, stride=1)])
def test_max_pool2d_ties_go_to_the_first_maximum(kw, rng):
    x = rng.integers(0, 3, (2, 3, 8, 8)).astype(np.float64)     # many ties
    _check("max_pool2d", x, **kw)
    out, cache = ref.max_pool2d_forward(np.ones((1, 1, 4, 4)), 2)
    dx = ref.max_pool2d_backward(np.ones_like(out), cache)
    assert dx[0, 0].tolist() == [[1, 0, 1, 0], [0, 0, 0, 0]] * 2


NAN_CASES = [
    np.array([[[[1.0, np.nan], [3.0, np.nan]]]]),                 # two NaN: the last wins
    np.array([[[[np.nan, 5.0, np.nan], [3.0, np.nan, 1.0]]]]),
    np.array([[[[2.0, 7.0, np.nan, 1.0], [0.0, 1.0, 4.0, 9.0]]]]),
]


@pytest.mark.parametrize("x", NAN_CASES)
def test_max_pool2d_nan_takes_the_gradient_as_in_torch(x):
    out, dx = _check("max_pool2d", x, fast=False, kernel_size=2, stride=(2, 1))
    assert np.isnan(out).any()


def test_max_pool2d_nan_fast_door_agrees():
    # the fast door once sent a NaN window's gradient to the maximum before the NaN
    x = NAN_CASES[0]
    out, cache = ref.max_pool2d_forward(x, 2)
    fast_out, fast_cache = ops.max_pool2d_forward(x, 2)
    dy = np.ones_like(out)
    assert_same(ref.max_pool2d_backward(dy, cache), ops.max_pool2d_backward(dy, fast_cache))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("kw", POOL_GRID)
def test_avg_pool2d(kw, count_include_pad, dtype, rng):
    _check("avg_pool2d", rng.standard_normal((2, 3, 9, 10)).astype(dtype),
           count_include_pad=count_include_pad, **kw)


@pytest.mark.parametrize("divisor", [1, 5])
def test_avg_pool2d_divisor_override(divisor, rng):
    _check("avg_pool2d", rng.standard_normal((2, 2, 7, 7)), kernel_size=3, stride=2,
           padding=1, ceil_mode=True, divisor_override=divisor)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("size", [1, 2, (3, 4), (5, 7), (9, 10), (4, None), (13, 11)])
def test_adaptive_avg_pool2d(size, dtype, rng):
    _check("adaptive_avg_pool2d", rng.standard_normal((2, 3, 9, 10)).astype(dtype),
           output_size=size)


def test_unbatched_pooling(rng):
    x = rng.standard_normal((3, 8, 8))
    out, dx = _check("max_pool2d", x, kernel_size=2)
    assert out.shape == (3, 4, 4) and dx.shape == x.shape
    _check("avg_pool2d", x, kernel_size=3, stride=2, padding=1)
    _check("adaptive_avg_pool2d", x, output_size=3)
    _check("max_pool2d", x, kernel_size=3, stride=1)


def test_empty_batch_and_size_one(rng):
    empty = np.zeros((0, 2, 5, 5))
    for name, kw in [("max_pool2d", dict(kernel_size=2)), ("avg_pool2d", dict(kernel_size=2)),
                     ("adaptive_avg_pool2d", dict(output_size=2))]:
        out, cache = getattr(ref, f"{name}_forward")(empty, **kw)
        fast_out, fast_cache = getattr(ops, f"{name}_forward")(empty, **kw)
        assert_same(out, fast_out, name)
        dy = np.zeros(out.shape)
        assert_same(getattr(ref, f"{name}_backward")(dy, cache),
                    getattr(ops, f"{name}_backward")(dy, fast_cache), name)
    one = rng.standard_normal((1, 1, 1, 1))
    _check("max_pool2d", one, kernel_size=1)
    _check("avg_pool2d", one, kernel_size=1)
    _check("adaptive_avg_pool2d", one, output_size=1)


def test_non_contiguous_input(rng):
    x = non_contiguous(rng.standard_normal((2, 3, 7, 6)))
    assert not x.flags.c_contiguous
    _check("max_pool2d", x, kernel_size=3, stride=2, padding=1)
    _check("avg_pool2d", x, kernel_size=2, stride=1, ceil_mode=True)
    _check("adaptive_avg_pool2d", x, output_size=(4, 4))


@settings(max_examples=15, deadline=None)
@given(K=st.tuples(st.integers(1, 4), st.integers(1, 4)),
       S=st.tuples(st.integers(1, 4), st.integers(1, 4)), extra=st.integers(0, 5),
       pad_h=st.integers(0, 2), pad_w=st.integers(0, 2), ceil=st.booleans(),
       cip=st.booleans(), seed=st.integers(0, 2**16))
def test_hypothesis_equals_fast_and_torch(K, S, extra, pad_h, pad_w, ceil, cip, seed):
    P = (min(pad_h, K[0] // 2), min(pad_w, K[1] // 2))
    H, W = K[0] + extra, K[1] + (extra * 7) % 5
    x = np.random.default_rng(seed).standard_normal((2, 2, H, W))
    _check("max_pool2d", x, kernel_size=K, stride=S, padding=P, ceil_mode=ceil)
    _check("avg_pool2d", x, kernel_size=K, stride=S, padding=P, ceil_mode=ceil,
           count_include_pad=cip)


# -- bad input ----------------------------------------------------------------------------
@pytest.mark.parametrize("name, kw, error, fragment", [
    ("max_pool2d", dict(kernel_size=2, padding=2), ValueError, "at most half"),
    ("max_pool2d", dict(kernel_size=3, padding=2, dilation=2), ValueError, "P <= K/2"),
    ("max_pool2d", dict(kernel_size=5), ValueError, "H_out = floor((4 + 0 - 1*(5-1) - 1)/5)"),
    ("max_pool2d", dict(kernel_size=2, stride=0), ValueError, "stride must be positive"),
    ("max_pool2d", dict(kernel_size=2.0), TypeError, "kernel_size must be an int or a pair"),
    ("avg_pool2d", dict(kernel_size=0), ValueError, "kernel_size must be positive"),
    ("avg_pool2d", dict(kernel_size=2, divisor_override=0), ValueError, "divisor_override"),
    ("adaptive_avg_pool2d", dict(output_size=0), ValueError, "output_size must be positive"),
])
def test_errors_name_the_argument(name, kw, error, fragment):
    with pytest.raises(error) as err:
        getattr(ref, f"{name}_forward")(np.zeros((1, 1, 4, 4), np.float32), **kw)
    assert fragment in str(err.value)


def test_wrong_rank_and_dtype():
    with pytest.raises(ValueError, match=r"got shape \(4, 4\)"):
        ref.max_pool2d_forward(np.zeros((4, 4)), 2)
    with pytest.raises(TypeError, match="floating-point"):
        ref.avg_pool2d_forward(np.zeros((1, 1, 4, 4), np.int64), 2)
    out, cache = ref.max_pool2d_forward(np.zeros((1, 1, 4, 4)), 2)
    with pytest.raises(ValueError, match=r"dout must have shape \(N, C, OH, OW\)"):
        ref.max_pool2d_backward(np.zeros((1, 1, 3, 3)), cache)


def _with_nan_and_inf(rng):
    x = rng.standard_normal((2, 2, 6, 7))
    x[0, 0, 1, 1], x[0, 1, 0, 0], x[1, 1, 5, 6] = np.nan, -np.inf, np.inf
    return x


@pytest.mark.parametrize("name, kw", [
    ("max_pool2d", dict(kernel_size=3, stride=1, padding=1)),
    ("avg_pool2d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("adaptive_avg_pool2d", dict(output_size=(3, 2))),
])
def test_nan_and_inf_as_in_torch(name, kw, rng):
    with np.errstate(invalid="ignore"):
        _check(name, _with_nan_and_inf(rng), fast=name == "avg_pool2d", **kw)


def test_inf_input_fast_adaptive_avg_pool2d_door():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 0, 0] = np.inf
    with np.errstate(invalid="ignore"):
        assert_same(ref.adaptive_avg_pool2d_forward(x, 2)[0],
                    ops.adaptive_avg_pool2d_forward(x, 2)[0], "out")


def test_inf_dout_fast_adaptive_avg_pool2d_backward_door():
    x = np.zeros((1, 2, 5, 4))
    dy = np.zeros((1, 2, 3, 2))
    dy[0, 1, 0, 0] = np.inf
    with np.errstate(invalid="ignore"):
        _, cache = ref.adaptive_avg_pool2d_forward(x, (3, 2))
        _, fcache = ops.adaptive_avg_pool2d_forward(x, (3, 2))
        assert_same(ref.adaptive_avg_pool2d_backward(dy, cache),
                    ops.adaptive_avg_pool2d_backward(dy, fcache), "dx")
