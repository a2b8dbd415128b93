"""The reference conv2d against the fast door (1e-12) and against PyTorch (values and
dx, dw, db), over the grids of tests/ops/test_conv.py; the definition by hand; errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handgrad import ops
from handgrad.ops import reference as ref
from tests.ops.reference.common import assert_all_same, assert_close, non_contiguous, torch

TF = torch.nn.functional
NAMES = ["dx", "dw", "db"]


def _case(rng, N, Cin, H, W, O, K, groups=1, dtype=np.float64, bias=True):
    KH, KW = (K, K) if isinstance(K, int) else K
    x = rng.standard_normal((N, Cin, H, W)).astype(dtype)
    w = rng.standard_normal((O, Cin // groups, KH, KW)).astype(dtype)
    b = rng.standard_normal(O).astype(dtype) if bias else None
    return x, w, b


def _reference(x, w, b, **kw):
    out, cache = ref.conv2d_forward(x, w, b, **kw)
    dy = np.random.default_rng(7).standard_normal(out.shape).astype(x.dtype)
    return out, dy, ref.conv2d_backward(dy, cache)


def _against_fast(x, w, b, **kw):
    out, dy, grads = _reference(x, w, b, **kw)
    fast_out, cache = ops.conv2d_forward(x, w, b, **kw)
    assert_all_same((out,), (fast_out,), ["out"])
    assert_all_same(grads, ops.conv2d_backward(dy, cache), NAMES)
    return out, dy, grads


def _against_torch(x, w, b, out, dy, grads, **kw):
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    bt = None if b is None else torch.tensor(b, requires_grad=True)
    yt = TF.conv2d(xt, wt, bt, **kw)
    assert out.dtype == x.dtype and all(g is None or g.dtype == x.dtype for g in grads)
    assert_close(out, yt, name="out")
    yt.backward(torch.tensor(dy))
    assert_close(grads[0], xt.grad, name="dx")
    assert_close(grads[1], wt.grad, name="dw")
    if b is not None:
        assert_close(grads[2], bt.grad, name="db")


# (N, Cin, H, W, O, K, stride, padding, dilation, groups): tests/ops/test_conv.py's GRID
GRID = [
    (2, 3, 7, 8, 4, 3, 1, 1, 1, 1),            # the usual 3x3 'same-size' conv
    (2, 3, 7, 8, 4, (3, 2), 2, 1, 1, 1),       # non-square kernel, stride 2
    (1, 4, 9, 9, 6, 3, 3, 0, 2, 2),            # batch of 1, stride 3, dilation 2, groups 2
    (2, 4, 10, 7, 4, 3, 2, 2, 2, 4),           # depthwise (groups = C = O)
    (2, 4, 6, 6, 8, 3, 1, 1, 1, 4),            # depthwise with channel multiplier 2
    (2, 2, 5, 5, 3, 5, 1, 0, 1, 1),            # kernel = input size -> 1x1 output
    (1, 3, 6, 6, 2, 1, 4, 0, 1, 1),            # 1x1 kernel, stride > kernel
    (2, 2, 7, 5, 2, 2, 3, 0, 1, 1),            # stride > kernel leaves pixels unused
    (2, 3, 8, 8, 3, (2, 3), (3, 2), (1, 2), (2, 1), 1),  # pairs everywhere
    (2, 1, 28, 28, 2, 3, 1, 1, 1, 1),          # MNIST-like first layer (smaller batch)
    (2, 6, 5, 9, 4, 3, (1, 2), (0, 1), 1, 2),
    (1, 1, 1, 1, 1, 1, 1, 0, 1, 1),            # size 1 everywhere
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", GRID)
def test_grid_equals_fast_and_torch(case, dtype, rng):
    N, Cin, H, W, O, K, S, P, D, G = case
    x, w, b = _case(rng, N, Cin, H, W, O, K, G, dtype)
    kw = dict(stride=S, padding=P, dilation=D, groups=G)
    if dtype == np.float64:
        out, dy, grads = _against_fast(x, w, b, **kw)
    else:
        out, dy, grads = _reference(x, w, b, **kw)
    _against_torch(x, w, b, out, dy, grads, **kw)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("K, D", [(2, 1), (4, 1), (3, 2), ((2, 3), (1, 2)), (4, 2)])
def test_string_padding_even_kernels(padding, K, D, rng):
    # 'same' with an even (dilated) kernel pads one more pixel at the bottom / right
    x, w, b = _case(rng, 2, 3, 9, 8, 2, K)
    out, dy, grads = _against_fast(x, w, b, padding=padding, dilation=D)
    _against_torch(x, w, b, out, dy, grads, padding=padding, dilation=D)
    if padding == "same":
        assert out.shape[2:] == (9, 8)


@pytest.mark.parametrize("bias", [True, False])
def test_unbatched_and_no_bias(bias, rng):
    x, w, b = _case(rng, 1, 3, 6, 7, 4, 3, bias=bias)
    out, dy, grads = _against_fast(x[0], w, b, padding=1)
    assert out.shape == (4, 6, 7) and grads[0].shape == (3, 6, 7)
    assert (grads[2] is None) == (not bias)
    _against_torch(x[0], w, b, out, dy, grads, padding=1)


def test_empty_batch(rng):
    x, w, b = _case(rng, 0, 4, 6, 5, 4, 3, groups=2)
    out, _, (dx, dw, db) = _against_fast(x, w, b, stride=2, padding=1, groups=2)
    assert out.shape == (0, 4, 3, 3) and dx.shape == x.shape
    assert not dw.any() and not db.any()


def test_non_contiguous_inputs(rng):
    x, w, b = _case(rng, 2, 4, 7, 6, 6, (2, 3), groups=2)
    xs = np.ascontiguousarray(x.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)   # Fortran-ish
    ws, bs = non_contiguous(w), non_contiguous(b)
    assert not xs.flags.c_contiguous and not ws.flags.c_contiguous
    out, dy, grads = _against_fast(xs, ws, bs, stride=(2, 1), padding=1, groups=2)
    _against_torch(x, w, b, out, dy, grads, stride=(2, 1), padding=1, groups=2)


@settings(max_examples=20, deadline=None)
@given(N=st.integers(1, 2), groups=st.sampled_from([1, 2, 3]), cin_g=st.integers(1, 2),
       out_g=st.integers(1, 2), extra_h=st.integers(0, 5), extra_w=st.integers(0, 5),
       KH=st.integers(1, 4), KW=st.integers(1, 4), SH=st.integers(1, 4), SW=st.integers(1, 4),
       PH=st.integers(0, 2), PW=st.integers(0, 2), DH=st.integers(1, 3), DW=st.integers(1, 3),
       bias=st.booleans(), seed=st.integers(0, 2**16))
def test_hypothesis_equals_fast(N, groups, cin_g, out_g, extra_h, extra_w, KH, KW, SH, SW,
                                PH, PW, DH, DW, bias, seed):
    H = max(1, DH * (KH - 1) + 1 - 2 * PH) + extra_h
    W = max(1, DW * (KW - 1) + 1 - 2 * PW) + extra_w
    rng = np.random.default_rng(seed)
    x, w, b = _case(rng, N, cin_g * groups, H, W, out_g * groups, (KH, KW), groups, bias=bias)
    _against_fast(x, w, b, stride=(SH, SW), padding=(PH, PW), dilation=(DH, DW),
                  groups=groups)


def test_one_output_pixel_by_hand(rng):
    # Y[n, o, y, x] = b[o] + sum_{c,i,j} W[o, c, i, j] Xp[n, c, yS + iD, xS + jD]
    x, w, b = _case(rng, 2, 2, 7, 7, 3, 3)
    y, _ = ref.conv2d_forward(x, w, b, stride=2, padding=1, dilation=2)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    n, o, yy, xx = 1, 2, 1, 2
    by_hand = b[o] + sum(w[o, c, i, j] * xp[n, c, yy * 2 + i * 2, xx * 2 + j * 2]
                         for c in range(2) for i in range(3) for j in range(3))
    assert y[n, o, yy, xx] == pytest.approx(by_hand, rel=1e-12)


def test_dx_is_the_full_correlation_with_the_rotated_kernel(rng):
    # stride 1, no padding: dX = dY padded by K-1, correlated with rot180(W)
    x, w, _ = _case(rng, 1, 1, 5, 5, 1, 3, bias=False)
    out, cache = ref.conv2d_forward(x, w)
    dy = rng.standard_normal(out.shape)
    dx, _, _ = ref.conv2d_backward(dy, cache)
    full, _ = ref.conv2d_forward(np.pad(dy, ((0, 0), (0, 0), (2, 2), (2, 2))),
                                 w[:, :, ::-1, ::-1].copy())
    assert_close(dx, full, name="dx as a convolution")


# -- bad input: the reference names the argument ------------------------------------------
@pytest.mark.parametrize("x_shape, w_shape, kw, error, fragment", [
    ((2, 3, 8, 8), (4, 3, 3, 3), dict(groups=2), ValueError, "in_channels = 3"),
    ((2, 4, 8, 8), (3, 2, 3, 3), dict(groups=2), ValueError, "out_channels = 3"),
    ((2, 4, 8, 8), (4, 3, 3, 3), dict(groups=2), ValueError, "weight must have shape"),
    ((2, 3, 8, 8), (4, 3, 3), {}, ValueError, "weight must have the layout"),
    ((3, 8), (4, 3, 3, 3), {}, ValueError, "input must have the layout"),
    ((2, 3, 8, 8), (4, 3, 3, 3), dict(stride=2, padding="same"), ValueError, "'same'"),
    ((2, 3, 8, 8), (4, 3, 3, 3), dict(padding="full"), ValueError, "('valid', 'same')"),
    ((2, 3, 8, 8), (4, 3, 3, 3), dict(stride=0), ValueError, "stride must be positive"),
    ((2, 3, 8, 8), (4, 3, 3, 3), dict(padding=-1), ValueError, "padding must be >= 0"),
    ((2, 3, 8, 8), (4, 3, 3, 3), dict(groups=0), ValueError, "groups must be a positive"),
    ((2, 3, 8, 8), (4, 3, 3, 3), dict(stride=(1, 2, 3)), TypeError, "int or a pair"),
    ((2, 3, 4, 8), (4, 3, 5, 3), {}, ValueError, "H_out = floor((4 + 0 - 1*(5-1) - 1)/1)"),
])
def test_errors_name_the_argument(x_shape, w_shape, kw, error, fragment):
    x, w = np.zeros(x_shape), np.zeros(w_shape)
    with pytest.raises(error) as err:
        ref.conv2d_forward(x, w, None, **kw)
    assert fragment in str(err.value)


def test_type_errors():
    x = np.zeros((1, 3, 5, 5), np.float32)
    with pytest.raises(TypeError, match="weight has dtype float64 but input has dtype float32"):
        ref.conv2d_forward(x, np.zeros((2, 3, 3, 3)), None)
    with pytest.raises(TypeError, match="input must be a floating-point array"):
        ref.conv2d_forward(x.astype(np.int64), np.zeros((2, 3, 3, 3)), None)
    with pytest.raises(ValueError, match=r"bias must have shape \(out_channels,\) = \(2,\)"):
        ref.conv2d_forward(x, np.zeros((2, 3, 3, 3), np.float32), np.zeros(3, np.float32))
    out, cache = ref.conv2d_forward(x, np.zeros((2, 3, 3, 3), np.float32))
    with pytest.raises(ValueError, match=r"dout must have shape"):
        ref.conv2d_backward(np.zeros((1, 3, 3, 3), np.float32), cache)


# -- NaN and inf ---------------------------------------------------------------------------
def _nan_inf_case(rng):
    x, w, b = _case(rng, 2, 2, 6, 6, 2, 3)
    x[0, 0, 2, 2], x[1, 1, 5, 5], x[1, 0, 0, 3] = np.nan, np.inf, -np.inf
    return x, w, b


@pytest.mark.parametrize("stride", [1, 2])
def test_nan_and_inf_propagate_as_in_torch(stride, rng):
    x, w, b = _nan_inf_case(rng)
    with np.errstate(invalid="ignore"):
        out, dy, grads = _reference(x, w, b, stride=stride, padding=1)
        fast_out, cache = ops.conv2d_forward(x, w, b, stride=stride, padding=1)
        fast_dx = ops.conv2d_backward(dy, cache)[0]
    assert np.isnan(out).any() and np.isinf(out).any()
    _against_torch(x, w, b, out, dy, grads, stride=stride, padding=1)
    assert_all_same((out, grads[0]), (fast_out, fast_dx), ["out", "dx"])


def test_inf_input_fast_dw_door():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 3, 3] = np.inf
    w = np.ones((1, 1, 3, 3))
    with np.errstate(invalid="ignore"):
        _, dy, (_, dw, _) = _reference(x, w, None)
        _, cache = ops.conv2d_forward(x, w)
        assert_all_same((dw,), (ops.conv2d_backward(dy, cache)[1],), ["dw"])


@pytest.mark.parametrize("stride, padding, keep", [(1, 0, True), (2, 1, True), (1, 1, False)])
def test_inf_and_nan_input_fast_dw_door_strides(stride, padding, keep, monkeypatch):
    """The garbage columns are zeroed for dW whatever the layout (kept or recomputed
    columns, stride 2's phases), and the kept columns are not changed for later use."""
    from handgrad.ops import conv as fast

    if not keep:
        monkeypatch.setattr(fast, "_KEEP_COLS_BYTES", 0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2, 6, 7))
    x[0, 1, 5, 6] = np.inf
    x[1, 0, 2, 6] = np.nan
    w = rng.standard_normal((3, 2, 3, 3))
    with np.errstate(invalid="ignore"):
        _, dy, (_, dw, _) = _reference(x, w, None, stride=stride, padding=padding)
        _, cache = ops.conv2d_forward(x, w, stride=stride, padding=padding)
        assert_all_same((dw,), (ops.conv2d_backward(dy, cache)[1],), ["dw"])
        assert_all_same((dw,), (ops.conv2d_backward(dy, cache)[1],), ["dw again"])
