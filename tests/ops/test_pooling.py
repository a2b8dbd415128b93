"""max/avg/adaptive pooling against PyTorch: values, gradients, ties, ceil_mode, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import handgrad as hg
from handgrad import ops as C
from handgrad.nn import functional as F
from tests.helpers import assert_close, torch

TF = torch.nn.functional


def _compare(fh, ft, x, **kw):
    xh = hg.tensor(x, requires_grad=True)
    yh = fh(xh, **kw)
    xt = torch.tensor(x, requires_grad=True)
    yt = ft(xt, **kw)
    assert yh.dtype == x.dtype
    assert_close(yh, yt, name="out")
    dy = np.random.default_rng(3).standard_normal(yt.shape).astype(x.dtype)
    yh.backward(dy)
    yt.backward(torch.tensor(dy))
    assert xh.grad.dtype == x.dtype
    assert_close(xh.grad, xt.grad, name="dx")
    return yh


POOL_GRID = [
    dict(kernel_size=2),                                   # tiles the input: fast path
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
def test_max_pool2d_matches_torch(kw, dtype, rng):
    x = rng.standard_normal((2, 3, 9, 10)).astype(dtype)
    _compare(F.max_pool2d, TF.max_pool2d, x, **kw)


@pytest.mark.parametrize("dilation", [2, (1, 2)])
def test_max_pool2d_dilation(dilation, rng):
    x = rng.standard_normal((2, 2, 9, 10))
    _compare(F.max_pool2d, TF.max_pool2d, x, kernel_size=3, stride=2, padding=1,
             dilation=dilation)


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
                                dict(kernel_size=2, stride=1)])
def test_max_pool2d_ties_first_max_gets_gradient(kw, rng):
    # few distinct values -> many ties; PyTorch sends the gradient to the first maximum
    x = rng.integers(0, 3, (2, 3, 8, 8)).astype(np.float64)
    _compare(F.max_pool2d, TF.max_pool2d, x, **kw)
    ones = np.ones((1, 1, 4, 4))
    out, cache = C.max_pool2d_forward(ones, 2)
    dx = C.max_pool2d_backward(np.ones_like(out), cache)
    assert dx[0, 0].tolist()[0] == [1, 0, 1, 0] and dx[0, 0, 1].sum() == 0


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)])
def test_max_pool2d_return_indices(kw, rng):
    x = rng.standard_normal((2, 3, 9, 10))
    y, idx = F.max_pool2d(hg.tensor(x), return_indices=True, **kw)
    yt, it = TF.max_pool2d(torch.tensor(x), return_indices=True, **kw)
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(idx.data, it.numpy())
    mp = hg.nn.MaxPool2d(return_indices=True, **kw)
    np.testing.assert_array_equal(mp(hg.tensor(x))[1].data, it.numpy())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("kw", POOL_GRID)
def test_avg_pool2d_matches_torch(kw, count_include_pad, dtype, rng):
    x = rng.standard_normal((2, 3, 9, 10)).astype(dtype)
    _compare(F.avg_pool2d, TF.avg_pool2d, x, count_include_pad=count_include_pad, **kw)


@pytest.mark.parametrize("divisor", [1, 5])
def test_avg_pool2d_divisor_override(divisor, rng):
    x = rng.standard_normal((2, 2, 7, 7))
    _compare(F.avg_pool2d, TF.avg_pool2d, x, kernel_size=3, stride=2, padding=1,
             ceil_mode=True, divisor_override=divisor)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("size", [1, 2, (3, 4), (5, 7), (9, 10), (4, None), (13, 11)])
def test_adaptive_avg_pool2d_matches_torch(size, dtype, rng):
    x = rng.standard_normal((2, 3, 9, 10)).astype(dtype)
    _compare(F.adaptive_avg_pool2d, TF.adaptive_avg_pool2d, x, output_size=size)


def test_unbatched_pooling(rng):
    x = rng.standard_normal((3, 8, 8))
    assert _compare(F.max_pool2d, TF.max_pool2d, x, kernel_size=2).shape == (3, 4, 4)
    _compare(F.avg_pool2d, TF.avg_pool2d, x, kernel_size=3, stride=2, padding=1)
    _compare(F.adaptive_avg_pool2d, TF.adaptive_avg_pool2d, x, output_size=3)
    _compare(F.max_pool2d, TF.max_pool2d, x, kernel_size=3, stride=1)


@settings(max_examples=30, deadline=None)
@given(K=st.tuples(st.integers(1, 4), st.integers(1, 4)),
       S=st.tuples(st.integers(1, 4), st.integers(1, 4)), extra=st.integers(0, 6),
       pad_h=st.integers(0, 2), pad_w=st.integers(0, 2), ceil=st.booleans(),
       cip=st.booleans(), f32=st.booleans(), seed=st.integers(0, 2**16))
def test_pooling_hypothesis(K, S, extra, pad_h, pad_w, ceil, cip, f32, seed):
    P = (min(pad_h, K[0] // 2), min(pad_w, K[1] // 2))  # PyTorch: padding <= kernel / 2
    H, W = K[0] + extra, K[1] + (extra * 7) % 5
    x = np.random.default_rng(seed).standard_normal((2, 2, H, W))
    x = x.astype(np.float32 if f32 else np.float64)
    _compare(F.max_pool2d, TF.max_pool2d, x, kernel_size=K, stride=S, padding=P, ceil_mode=ceil)
    _compare(F.avg_pool2d, TF.avg_pool2d, x, kernel_size=K, stride=S, padding=P, ceil_mode=ceil,
             count_include_pad=cip)


def test_pooling_gradcheck_float64(rng):
    x = hg.tensor(rng.standard_normal((2, 2, 7, 6)), requires_grad=True)
    assert hg.gradcheck(lambda a: F.max_pool2d(a, 3, 2, 1), (x,))
    assert hg.gradcheck(lambda a: F.avg_pool2d(a, 3, 2, 1, ceil_mode=True), (x,))
    assert hg.gradcheck(lambda a: F.adaptive_avg_pool2d(a, (3, 4)), (x,))


def test_ceil_mode_last_window_rule():
    # PyTorch drops a last window that would start in the right padding only
    assert C.pool_output_size(5, 2, 2, 0, ceil_mode=True) == 3
    assert C.pool_output_size(6, 2, 2, 1, ceil_mode=True) == 4
    assert C.pool_output_size(5, 3, 2, 1, ceil_mode=True) == 3
    for n, k, s, p in [(5, 2, 2, 0), (6, 2, 2, 1), (5, 3, 2, 1), (7, 3, 3, 1), (4, 4, 3, 2)]:
        t = TF.max_pool2d(torch.zeros(1, 1, n, n), k, s, p, ceil_mode=True)
        assert C.pool_output_size(n, k, s, p, ceil_mode=True) == t.shape[-1], (n, k, s, p)


@pytest.mark.parametrize("fn, kw, fragment", [
    (F.max_pool2d, dict(kernel_size=2, padding=2), "at most half"),
    (F.max_pool2d, dict(kernel_size=5), "floor((4 + 2*0 - 1*(5-1) - 1)/5) + 1"),
    (F.max_pool2d, dict(kernel_size=2, stride=0), "S = 0"),
    (F.avg_pool2d, dict(kernel_size=0), "kernel_size must be positive"),
    (F.avg_pool2d, dict(kernel_size=2, divisor_override=0), "divisor_override"),
    (F.adaptive_avg_pool2d, dict(output_size=0), "output_size must be positive"),
])
def test_pooling_errors(fn, kw, fragment):
    with pytest.raises(ValueError) as err:
        fn(hg.tensor(np.zeros((1, 1, 4, 4), np.float32)), **kw)
    assert fragment in str(err.value)


@pytest.mark.parametrize("fh,ft", [(F.max_pool2d, TF.max_pool2d), (F.avg_pool2d, TF.avg_pool2d)])
@pytest.mark.parametrize("size,kw", [
    (2, dict(kernel_size=3, stride=2, ceil_mode=True)),     # a window larger than the input
    (2, dict(kernel_size=3, stride=3, ceil_mode=True)),
    (3, dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    (1, dict(kernel_size=2, stride=2, padding=1, ceil_mode=True)),
])
def test_ceil_mode_windows_past_the_input_as_torch(fh, ft, size, kw):
    x = np.random.default_rng(0).standard_normal((2, 1, size, size + 1))
    _compare(fh, ft, x, **kw)


@pytest.mark.parametrize("size,kw", [(2, dict(kernel_size=3, stride=1, ceil_mode=True)),
                                     (2, dict(kernel_size=4, stride=2, ceil_mode=True))])
def test_ceil_mode_refuses_what_torch_refuses(size, kw):
    x = np.zeros((1, 1, size, size))
    with pytest.raises(RuntimeError):
        TF.max_pool2d(torch.tensor(x), **kw)
    with pytest.raises(ValueError, match="no window fits"):
        F.max_pool2d(hg.tensor(x), **kw)


@pytest.mark.parametrize("kw", [dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=2, stride=1, padding=1),
                                dict(kernel_size=(3, 2), stride=1, padding=(1, 1))])
def test_max_pool2d_minus_inf_windows_keep_their_gradient(kw):
    """All -inf windows that start in the padding: PyTorch routes their gradient to the
    window's first pixel inside the input (the padding never takes it)."""
    x = np.full((1, 2, 4, 5), -np.inf)
    x[0, 1, 2, 3] = 1.0
    _compare(F.max_pool2d, TF.max_pool2d, x, **kw)


@pytest.mark.parametrize("kw", POOL_GRID[:5])
def test_max_pool2d_nan_wins_the_window_as_torch(kw):
    x = np.random.default_rng(1).standard_normal((1, 2, 9, 10))
    x[0, 0, 1, 1] = x[0, 0, 2, 4] = x[0, 1, 5, 5] = x[0, 1, 5, 6] = np.nan
    xh = hg.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    yh, yt = F.max_pool2d(xh, **kw), TF.max_pool2d(xt, **kw)
    np.testing.assert_array_equal(yh.data, yt.detach().numpy())  # NaN where torch has NaN
    dy = np.random.default_rng(2).standard_normal(yt.shape)
    yh.backward(dy)
    yt.backward(torch.tensor(dy))
    np.testing.assert_allclose(xh.grad, xt.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("k,p,d", [(3, 2, 2), (1, 1, 1), (3, 1, 2), (4, 2, 3)])
def test_pooling_padding_rule_is_torchs(k, p, d):
    x = np.zeros((1, 1, 8, 8))
    try:
        expected = TF.max_pool2d(torch.tensor(x), k, padding=p, dilation=d).shape
    except RuntimeError:
        with pytest.raises(ValueError, match="at most half of the kernel size"):
            F.max_pool2d(hg.tensor(x), k, padding=p, dilation=d)
        return
    assert F.max_pool2d(hg.tensor(x), k, padding=p, dilation=d).shape == tuple(expected)


def test_pooling_rejects_wrong_rank():
    with pytest.raises(ValueError, match=r"got shape \(4, 4\)"):
        F.max_pool2d(hg.tensor(np.zeros((4, 4), np.float32)), 2)


def test_pooling_layer_doors(rng):
    x = rng.standard_normal((2, 3, 6, 6))
    for fwd, bwd, kw in [(C.max_pool2d_forward, C.max_pool2d_backward, dict(kernel_size=2)),
                         (C.avg_pool2d_forward, C.avg_pool2d_backward,
                          dict(kernel_size=3, stride=2, padding=1)),
                         (C.adaptive_avg_pool2d_forward, C.adaptive_avg_pool2d_backward,
                          dict(output_size=(2, 3)))]:
        out, cache = fwd(x, **kw)
        dx = bwd(np.ones_like(out), cache)
        assert dx.shape == x.shape
        xt = torch.tensor(x, requires_grad=True)
        name = fwd.__name__.replace("_forward", "")
        getattr(TF, name)(xt, **kw).sum().backward()
        assert_close(dx, xt.grad, name=name)
