"""conv2d against PyTorch (values and dx, dw, db), the naive reference, the layer door,
the output-size rule and every error message."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import handgrad as hg
from handgrad import ops as C
from handgrad.nn import functional as F
from handgrad.ops import conv as conv_fast
from handgrad.ops import reference as R
from tests.helpers import assert_close, torch

TF = torch.nn.functional


def _case(rng, N, Cin, H, W, O, K, groups=1, dtype=np.float64, bias=True):
    KH, KW = (K, K) if isinstance(K, int) else K
    x = rng.standard_normal((N, Cin, H, W)).astype(dtype)
    w = rng.standard_normal((O, Cin // groups, KH, KW)).astype(dtype)
    b = rng.standard_normal(O).astype(dtype) if bias else None
    return x, w, b


def _compare(x, w, b, unbatched=False, **kw):
    """handgrad (graph door) vs torch: output, dx, dw, db; returns handgrad's output."""
    dtype = x.dtype
    if unbatched:
        x = x[0]
    xh, wh = hg.tensor(x, requires_grad=True), hg.tensor(w, requires_grad=True)
    bh = None if b is None else hg.tensor(b, requires_grad=True)
    yh = F.conv2d(xh, wh, bh, **kw)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    bt = None if b is None else torch.tensor(b, requires_grad=True)
    yt = TF.conv2d(xt, wt, bt, **kw)
    assert yh.dtype == dtype
    assert_close(yh, yt, name="out")
    dy = np.random.default_rng(7).standard_normal(yt.shape).astype(dtype)
    yh.backward(dy)
    yt.backward(torch.tensor(dy))
    assert xh.grad.dtype == dtype and wh.grad.dtype == dtype
    assert_close(xh.grad, xt.grad, name="dx")
    assert_close(wh.grad, wt.grad, name="dw")
    if b is not None:
        assert_close(bh.grad, bt.grad, name="db")
    return yh.data, dy


# (N, Cin, H, W, O, K, stride, padding, dilation, groups)
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
    (3, 1, 28, 28, 4, 3, 1, 1, 1, 1),          # MNIST-like first layer
    (2, 6, 5, 9, 4, 3, (1, 2), (0, 1), 1, 2),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", GRID)
def test_conv2d_grid_matches_torch(case, dtype, rng):
    N, Cin, H, W, O, K, S, P, D, G = case
    x, w, b = _case(rng, N, Cin, H, W, O, K, G, dtype)
    _compare(x, w, b, stride=S, padding=P, dilation=D, groups=G)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("K, D", [(2, 1), (4, 1), (3, 2), ((2, 3), (1, 2)), (4, 2)])
def test_conv2d_string_padding_even_kernels(padding, K, D, rng):
    # 'same' with an even (dilated) kernel pads one more pixel at the bottom/right
    x, w, b = _case(rng, 2, 3, 9, 8, 2, K)
    y, _ = _compare(x, w, b, padding=padding, dilation=D)
    if padding == "same":
        assert y.shape[2:] == (9, 8)


@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_unbatched_and_no_bias(bias, rng):
    x, w, b = _case(rng, 1, 3, 6, 7, 4, 3, bias=bias)
    y, _ = _compare(x, w, b, unbatched=True, padding=1)
    assert y.shape == (4, 6, 7)


@settings(max_examples=30, deadline=None)
@given(N=st.integers(1, 3), groups=st.sampled_from([1, 2, 3]), cin_g=st.integers(1, 3),
       out_g=st.integers(1, 3), extra_h=st.integers(0, 7), extra_w=st.integers(0, 7),
       KH=st.integers(1, 4), KW=st.integers(1, 4), SH=st.integers(1, 4), SW=st.integers(1, 4),
       PH=st.integers(0, 2), PW=st.integers(0, 2), DH=st.integers(1, 3), DW=st.integers(1, 3),
       bias=st.booleans(), f32=st.booleans(), seed=st.integers(0, 2**16))
def test_conv2d_hypothesis_matches_torch_and_naive(N, groups, cin_g, out_g, extra_h, extra_w, KH,
                                                   KW, SH, SW, PH, PW, DH, DW, bias, f32, seed):
    # the smallest input the (dilated) kernel fits in, plus a little
    H = max(1, DH * (KH - 1) + 1 - 2 * PH) + extra_h
    W = max(1, DW * (KW - 1) + 1 - 2 * PW) + extra_w
    dtype = np.float32 if f32 else np.float64
    rng = np.random.default_rng(seed)
    x, w, b = _case(rng, N, cin_g * groups, H, W, out_g * groups, (KH, KW), groups, dtype, bias)
    kw = dict(stride=(SH, SW), padding=(PH, PW), dilation=(DH, DW), groups=groups)
    y, dy = _compare(x, w, b, **kw)
    if dtype == np.float64:
        ref_y, ref_cache = R.conv2d_forward(x, w, b, **kw)
        assert_close(ref_y, y, name="reference forward")
        dx, dw, db = R.conv2d_backward(dy, ref_cache)
        out, cache = C.conv2d_forward(x, w, b, **kw)
        fdx, fdw, fdb = C.conv2d_backward(dy, cache)
        assert_close(fdx, dx, name="naive dx")
        assert_close(fdw, dw, name="naive dw")
        if bias:
            assert_close(fdb, db, name="naive db")


def test_naive_reference_is_the_definition(rng):
    # one output pixel by hand: sum_{c,i,j} W[o,c,i,j] Xp[n, c, yS+iD, xS+jD] + b[o]
    x, w, b = _case(rng, 2, 2, 6, 6, 3, 3)
    y, _ = R.conv2d_forward(x, w, b, stride=2, padding=1, dilation=1)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    n, o, yy, xx = 1, 2, 1, 2
    by_hand = b[o] + sum(w[o, c, i, j] * xp[n, c, yy * 2 + i, xx * 2 + j]
                         for c in range(2) for i in range(3) for j in range(3))
    assert y[n, o, yy, xx] == pytest.approx(by_hand, rel=1e-12)


def test_backward_naive_is_conv_of_rotated_kernel(rng):
    # stride 1, no padding: dX = full correlation of dY with the 180-degree-rotated kernel
    x, w, _ = _case(rng, 1, 1, 5, 5, 1, 3, bias=False)
    dy = rng.standard_normal((1, 1, 3, 3))
    dx, _, _ = R.conv2d_backward(dy, R.conv2d_forward(x, w)[1])
    full, _ = R.conv2d_forward(np.pad(dy, ((0, 0), (0, 0), (2, 2), (2, 2))),
                               w[:, :, ::-1, ::-1].copy())
    assert_close(dx, full, name="dx as a convolution")


def test_layer_door_and_needs_input_grad(rng):
    x, w, b = _case(rng, 2, 3, 6, 6, 4, 3)
    out, cache = C.conv2d_forward(x, w, b, 1, 1)
    dx, dw, db = C.conv2d_backward(np.ones_like(out), cache)
    assert dx.shape == x.shape and dw.shape == w.shape and db.shape == b.shape
    # the graph door skips dX when the input does not require a gradient
    wh = hg.tensor(w, requires_grad=True)
    y = F.conv2d(hg.tensor(x), wh, None, padding=1)
    assert y.grad_fn.ctx.needs_input_grad[:2] == (False, True)
    y.sum().backward()
    assert wh.grad.shape == w.shape
    # dout is never modified in place (it may be a read-only broadcast view)
    ro = np.broadcast_to(np.ones((1, 1, 1, 1)), out.shape)
    C.conv2d_backward(ro, cache)


def test_conv2d_float32_stays_float32(rng):
    x, w, b = _case(rng, 2, 3, 6, 6, 4, 3, dtype=np.float32)
    out, cache = C.conv2d_forward(x, w, b, 2, 1)
    grads = C.conv2d_backward(np.ones_like(out), cache)
    assert out.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)


def test_conv2d_gradcheck_float64(rng):
    x, w, b = _case(rng, 2, 2, 5, 4, 2, (2, 3), groups=2)
    xh = hg.tensor(x, requires_grad=True)
    wh = hg.tensor(w, requires_grad=True)
    bh = hg.tensor(b, requires_grad=True)
    assert hg.gradcheck(lambda a, k, c: F.conv2d(a, k, c, stride=(2, 1), padding=1, dilation=2,
                                                 groups=2), (xh, wh, bh))


# -- the output-size rule and the errors -------------------------------------------------
@pytest.mark.parametrize("size, kernel, stride, padding, dilation, expected", [
    (28, 3, 1, 1, 1, 28), (28, 5, 1, 0, 1, 24), (32, 3, 2, 1, 1, 16), (7, 3, 3, 0, 2, 1),
    (5, 5, 1, 0, 1, 1), (10, 1, 4, 0, 1, 3),
])
def test_conv_output_size(size, kernel, stride, padding, dilation, expected):
    assert C.conv_output_size(size, kernel, stride, padding, dilation) == expected
    assert F.conv_output_size(size, kernel, stride, padding, dilation) == expected
    t = TF.conv2d(torch.zeros(1, 1, size, size), torch.zeros(1, 1, kernel, kernel),
                  stride=stride, padding=padding, dilation=dilation)
    assert t.shape[-1] == expected


@pytest.mark.parametrize("args, fragment", [
    ((2, 3, 1, 0, 1), "floor((2 + 2*0 - 1*(3-1) - 1)/1) + 1"),
    ((4, 3, 1, 0, 2), "floor((4 + 2*0 - 2*(3-1) - 1)/1) + 1"),
    ((28, 3, 0, 1, 1), "floor((28 + 2*1 - 1*(3-1) - 1)/0) + 1"),
    ((28, 3, -2, 1, 1), "S = -2"),
    ((28, 3, 1, -1, 1), "P = -1"),
    ((28, 3, 1, 1, 0), "D = 0"),
    ((28, 0, 1, 1, 1), "K = 0"),
])
def test_conv_output_size_errors_quote_the_formula(args, fragment):
    with pytest.raises(ValueError) as err:
        C.conv_output_size(*args)
    assert fragment in str(err.value)
    assert "floor((H + 2P - D(K-1) - 1)/S) + 1" in str(err.value)


def test_kernel_larger_than_input_error_from_conv2d(rng):
    x, w, _ = _case(rng, 1, 2, 4, 6, 3, 5, bias=False)
    with pytest.raises(ValueError, match=r"height.*floor\(\(4 \+ 2\*0 - 1\*\(5-1\) - 1\)/1\) \+ 1"):
        F.conv2d(hg.tensor(x), hg.tensor(w))


@pytest.mark.parametrize("x_shape, w_shape, kw, fragment", [
    ((2, 3, 8, 8), (4, 3, 3, 3), dict(groups=2), "in_channels = 3"),
    ((2, 4, 8, 8), (3, 2, 3, 3), dict(groups=2), "out_channels = 3"),
    ((2, 4, 8, 8), (4, 3, 3, 3), dict(groups=2), "weight shape (4, 3, 3, 3)"),
    ((2, 3, 8, 8), (4, 2, 3, 3), {}, "in_channels/groups = 3/1 = 3"),
    ((2, 3, 8, 8), (4, 3, 3), {}, "weight must be 4-D"),
    ((3, 8), (4, 3, 3, 3), {}, "input must be 4-D"),
    ((1, 2, 3, 8, 8), (4, 3, 3, 3), {}, "got shape (1, 2, 3, 8, 8)"),
    ((2, 3, 8, 8), (4, 3, 3, 3), dict(stride=2, padding="same"), "'same'"),
    ((2, 3, 8, 8), (4, 3, 3, 3), dict(padding="full"), "'valid' or 'same'"),
    ((2, 3, 8, 8), (4, 3, 3, 3), dict(stride=0), "S = 0"),
    ((2, 3, 8, 8), (4, 3, 3, 3), dict(padding=-1), "P = -1"),
    ((2, 3, 8, 8), (4, 3, 3, 3), dict(groups=0), "groups must be a positive integer"),
])
def test_conv2d_errors_name_shapes(x_shape, w_shape, kw, fragment):
    x = hg.tensor(np.zeros(x_shape, np.float32))
    w = hg.tensor(np.zeros(w_shape, np.float32))
    with pytest.raises(ValueError) as err:
        F.conv2d(x, w, **kw)
    assert fragment in str(err.value)


def test_conv2d_type_errors():
    x = np.zeros((1, 3, 5, 5), np.float32)
    with pytest.raises(TypeError, match="float64"):
        C.conv2d_forward(x, np.zeros((2, 3, 3, 3)), None)
    with pytest.raises(TypeError, match="floating-point"):
        C.conv2d_forward(x.astype(np.int64), np.zeros((2, 3, 3, 3), np.int64), None)
    with pytest.raises(ValueError, match=r"bias must have shape \(out_channels,\) = \(2,\)"):
        C.conv2d_forward(x, np.zeros((2, 3, 3, 3), np.float32), np.zeros(3, np.float32))
    with pytest.raises(TypeError, match="int or a pair"):
        C.conv2d_forward(x, np.zeros((2, 3, 3, 3), np.float32), None, stride=(1, 2, 3))


@pytest.mark.parametrize("keep_cols", [True, False])
@pytest.mark.parametrize("chunk_bytes", [1, 20000])
@pytest.mark.parametrize("groups", [1, 2])
def test_conv2d_chunked_products_match(chunk_bytes, groups, keep_cols, rng, monkeypatch):
    # the GEMMs run over chunks of images (uneven last chunk too), with the columns kept
    # from the forward pass or recomputed in backward; results must not change
    monkeypatch.setattr(conv_fast, "_CHUNK_BYTES", chunk_bytes)
    if not keep_cols:
        monkeypatch.setattr(conv_fast, "_KEEP_COLS_BYTES", 0)
    x, w, b = _case(rng, 5, 4, 7, 6, 6, 3, groups=groups)
    _compare(x, w, b, stride=(2, 1), padding=1, groups=groups)
    _compare(x, w, b, padding="same", dilation=2, groups=groups)
