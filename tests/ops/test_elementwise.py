"""Elementwise ops and broadcasting against PyTorch: values and gradients, both dtypes."""

from __future__ import annotations

import operator
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import handgrad as hg
import handgrad.nn.functional as F
from handgrad import ops
from tests.helpers import assert_close, to_torch, torch

TF = torch.nn.functional
DTYPES = [np.float64, np.float32]

# pairs of shapes that broadcast: size-1 dims, scalars, added leading axes
BROADCAST_PAIRS = [
    ((), ()), ((), (3,)), ((3,), ()), ((1,), (4,)), ((3,), (3,)), ((2, 3), (3,)),
    ((2, 1), (1, 3)), ((2, 3), (2, 1)), ((4, 1, 3), (2, 1)), ((1, 1), (2, 3)),
    ((2, 3, 4), (2, 3, 4)), ((5, 1, 1), (1, 4, 1)), ((1,), ()), ((2, 0), (1,)),
]


def _both(shape_dtype_rng, shape, dtype, low=None):
    rng = shape_dtype_rng
    a = rng.standard_normal(shape)
    if low is not None:
        a = np.abs(a) + low
    return a.astype(dtype)


def _check(hg_fn, torch_fn, arrays, dtype, name, seed=0):
    hts = [hg.tensor(a, requires_grad=True) for a in arrays]
    tts = [to_torch(a, True) for a in arrays]
    out = hg_fn(*hts)
    ref = torch_fn(*tts)
    assert out.dtype == np.dtype(dtype), f"{name}: output dtype {out.dtype} != {dtype}"
    assert_close(out, ref, dtype, name=f"{name} value")
    up = np.random.default_rng(seed).standard_normal(out.shape).astype(dtype)
    out.backward(up)
    ref.backward(torch.tensor(up))
    for k, (h, t) in enumerate(zip(hts, tts)):
        assert h.grad is not None and h.grad.shape == h.shape, f"{name}: grad {k} shape"
        assert h.grad.dtype == np.dtype(dtype), f"{name}: grad {k} dtype {h.grad.dtype}"
        assert_close(h.grad, t.grad, dtype, name=f"{name} grad {k}")


BINARY = {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv,
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sa,sb", BROADCAST_PAIRS)
@pytest.mark.parametrize("op", list(BINARY))
def test_binary_broadcasting_grid(op, sa, sb, dtype, rng):
    a = _both(rng, sa, dtype)
    b = _both(rng, sb, dtype, low=0.5 if op == "div" else None)
    _check(BINARY[op], BINARY[op], [a, b], dtype, f"{op}{sa}{sb}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sa,sb", BROADCAST_PAIRS[:10])
def test_pow_tensor_tensor(sa, sb, dtype, rng):
    a = _both(rng, sa, dtype, low=0.3)
    b = _both(rng, sb, dtype)
    _check(operator.pow, operator.pow, [a, b], dtype, f"pow{sa}{sb}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow"])
@pytest.mark.parametrize("scalar", [2, 0.5, -1.5, np.float64(3.0), np.float32(0.25)])
def test_python_and_numpy_scalars_keep_dtype(op, scalar, dtype, rng):
    """float32 * python float stays float32 (no silent upcast), on either side."""
    fn = {**BINARY, "pow": operator.pow}[op]
    a = _both(rng, (3, 2), dtype, low=0.5)
    _check(lambda t: fn(t, scalar), lambda t: fn(t, float(scalar)), [a], dtype, f"{op} right")
    if op != "pow" or scalar > 0:
        _check(lambda t: fn(scalar, t), lambda t: fn(float(scalar), t), [a], dtype,
               f"{op} left")


def test_mixed_float_tensors_promote_like_torch(rng):
    a = hg.tensor(np.ones(3, np.float32), requires_grad=True)
    b = hg.tensor(np.ones(3, np.float64), requires_grad=True)
    out = a * b
    assert out.dtype == np.float64  # torch: float32 * float64 -> float64
    out.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_broadcast_error_names_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4,\) cannot be broadcast"):
        hg.tensor(np.ones((2, 3))) + hg.tensor(np.ones(4))
    with pytest.raises(ValueError, match="cannot be broadcast"):
        hg.tensor(np.ones((2, 3))) * hg.tensor(np.ones((3, 2)))


UNARY = {
    "neg": (lambda t: -t, lambda t: -t, None),
    "exp": (lambda t: t.exp(), torch.exp, None),
    "log": (lambda t: t.log(), torch.log, 0.1),
    "sqrt": (lambda t: t.sqrt(), torch.sqrt, 0.1),
    "abs": (lambda t: t.abs(), torch.abs, None),
    "tanh": (lambda t: t.tanh(), torch.tanh, None),
    "sigmoid": (lambda t: t.sigmoid(), torch.sigmoid, None),
    "relu": (lambda t: t.relu(), torch.relu, None),
    "F.relu": (F.relu, TF.relu, None),
    "F.tanh": (F.tanh, torch.tanh, None),
    "F.sigmoid": (F.sigmoid, torch.sigmoid, None),
    "leaky_relu": (lambda t: F.leaky_relu(t, 0.2), lambda t: TF.leaky_relu(t, 0.2), None),
    "leaky_default": (F.leaky_relu, TF.leaky_relu, None),
    "clamp": (lambda t: t.clamp(-0.5, 0.7), lambda t: t.clamp(-0.5, 0.7), None),
    "clamp_min": (lambda t: t.clamp(min=0.1), lambda t: t.clamp(min=0.1), None),
    "clamp_max": (lambda t: t.clamp(max=0.1), lambda t: t.clamp(max=0.1), None),
    "square": (lambda t: t ** 2, lambda t: t ** 2, None),
    "cube": (lambda t: t ** 3, lambda t: t ** 3, None),
    "rsqrt": (lambda t: t ** -0.5, lambda t: t ** -0.5, 0.1),
    "exp2": (lambda t: 2.0 ** t, lambda t: 2.0 ** t, None),
    "recip": (lambda t: 1.0 / t, lambda t: 1.0 / t, 0.5),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (1,), (5,), (3, 4), (2, 1, 3), (0, 2)])
@pytest.mark.parametrize("name", list(UNARY))
def test_unary_ops(name, shape, dtype, rng):
    ours, theirs, low = UNARY[name]
    x = _both(rng, shape, dtype, low=low) * (1 if low else 2)
    _check(ours, theirs, [x.astype(dtype)], dtype, f"{name}{shape}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_kinks_follow_torch_subgradients(dtype):
    """relu, abs, clamp, leaky_relu and maximum exactly at their kinks."""
    x = np.array([-1.0, 0.0, 0.0, 1.0, 2.0], dtype=dtype)
    for name in ("relu", "abs", "leaky_relu", "clamp"):
        ours, theirs, _ = UNARY[name]
        _check(ours, theirs, [x], dtype, f"kink {name}")
    _check(lambda t: t.clamp(0.0, 1.0), lambda t: t.clamp(0.0, 1.0), [x], dtype, "clamp edges")
    y = np.array([-1.0, 0.0, 1.0, 1.0, 3.0], dtype=dtype)
    _check(hg.maximum, torch.maximum, [x, y], dtype, "maximum ties")


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_and_tanh_are_stable_far_out(dtype):
    x = np.array([-1000.0, -80.0, -20.0, 0.0, 20.0, 80.0, 1000.0], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warnings either
        _check(lambda t: t.sigmoid(), torch.sigmoid, [x], dtype, "sigmoid far")
    _check(lambda t: t.tanh(), torch.tanh, [x], dtype, "tanh far")
    assert ops.stable_sigmoid(x).dtype == np.dtype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_pow_edge_cases_match_torch(dtype):
    x = np.array([0.0, 1.0, 2.0, 0.5], dtype=dtype)
    for p in (0.0, 1.0, 2.0, 3.0):
        _check(lambda t, p=p: t ** p, lambda t, p=p: t ** p, [x], dtype, f"x**{p}")
    with np.errstate(divide="ignore"):
        _check(lambda t: t ** 0.5, lambda t: t ** 0.5, [x], dtype, "sqrt at 0 (inf grad)")
    # exponent as a tensor, base with zeros: d/dp is 0 where x == 0 and p >= 0
    p = np.array([2.0, 0.5, 0.0, 1.5], dtype=dtype)
    _check(operator.pow, operator.pow, [x, p], dtype, "x**p with zeros")


@pytest.mark.parametrize("sa,sb,sc", [((3,), (3,), (3,)), ((2, 3), (3,), ()),
                                      ((2, 1), (1, 3), (2, 3))])
def test_where_matches_torch(sa, sb, sc, rng):
    cond = rng.random(np.broadcast_shapes(sa, sb, sc)) > 0.5
    a, b = rng.standard_normal(sb), rng.standard_normal(sc)
    _check(lambda x, y: hg.where(cond, x, y), lambda x, y: torch.where(torch.tensor(cond), x, y),
           [a, b], np.float64, "where")


@pytest.mark.parametrize("src,dst", [(np.float32, np.float64), (np.float64, np.float32)])
def test_cast_and_its_gradient(src, dst, rng):
    x = hg.tensor(rng.standard_normal(4).astype(src), requires_grad=True)
    y = x.astype(dst)
    assert y.dtype == dst
    (y * 2).sum().backward()
    assert x.grad.dtype == src
    np.testing.assert_allclose(x.grad, 2)
    assert hg.tensor(np.ones(2, np.float64)).float().dtype == np.float32
    assert hg.tensor(np.ones(2, np.float32)).double().dtype == np.float64


def test_unbroadcast_sums_stretched_axes():
    g = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(ops.unbroadcast(g, (3, 4)), g.sum(0))
    np.testing.assert_array_equal(ops.unbroadcast(g, (3, 1)), g.sum((0, 2))[:, None])
    np.testing.assert_array_equal(ops.unbroadcast(g, (2, 1, 1)), g.sum((1, 2), keepdims=True))
    np.testing.assert_array_equal(ops.unbroadcast(g, ()), g.sum())
    assert ops.unbroadcast(g, (2, 3, 4)) is g


@given(data=st.data())
@settings(max_examples=30, deadline=None)
def test_broadcast_hypothesis(data):
    """Any pair of broadcastable shapes, any of the four arithmetic ops."""
    sa, sb = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4,
                                                         max_side=3)).input_shapes
    op = data.draw(st.sampled_from(list(BINARY)))
    dtype = data.draw(st.sampled_from(DTYPES))
    rng = np.random.default_rng(len(sa) * 7 + len(sb))
    a = _both(rng, sa, dtype)
    b = _both(rng, sb, dtype, low=0.5)
    _check(BINARY[op], BINARY[op], [a, b], dtype, f"hyp {op}{sa}{sb}")


# -- dropout: random, so checked by its properties ---------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_mask_scale_and_gradient(dtype):
    hg.manual_seed(0)
    x = hg.tensor(np.ones((200, 50), dtype), requires_grad=True)
    y = F.dropout(x, p=0.3)
    assert y.dtype == np.dtype(dtype)
    kept = y.data != 0
    np.testing.assert_allclose(y.data[kept], 1 / 0.7, rtol=1e-6)
    assert abs(kept.mean() - 0.7) < 0.02
    y.backward(np.full(y.shape, 2.0, dtype))
    np.testing.assert_allclose(x.grad, 2 * y.data, rtol=1e-6)  # same mask, same scale


def test_dropout_edges_and_seed():
    x = hg.tensor(np.ones((4, 5)), requires_grad=True)
    assert F.dropout(x, p=0.5, training=False) is x
    assert F.dropout(x, p=0.0) is x
    np.testing.assert_array_equal(F.dropout(x, p=1.0).data, 0)
    hg.manual_seed(7)
    a = F.dropout(x, 0.5).data
    hg.manual_seed(7)
    np.testing.assert_array_equal(a, F.dropout(x, 0.5).data)
    with pytest.raises(ValueError, match="p must be a probability"):
        F.dropout(x, p=1.5)


def test_layer_doors_match_graph(rng):
    x = rng.standard_normal((3, 4))
    dout = rng.standard_normal((3, 4))
    for name, fn in [("relu", F.relu), ("tanh", F.tanh), ("sigmoid", F.sigmoid),
                     ("leaky_relu", F.leaky_relu)]:
        out, cache = getattr(ops, f"{name}_forward")(x)
        dx = getattr(ops, f"{name}_backward")(dout, cache)
        t = hg.tensor(x, requires_grad=True)
        y = fn(t)
        y.backward(dout)
        np.testing.assert_array_equal(out, y.data)
        np.testing.assert_array_equal(dx, t.grad)


def test_backward_never_writes_into_upstream(rng):
    """A read-only upstream gradient (e.g. a broadcast view) goes through every op."""
    x = hg.tensor(rng.uniform(0.5, 1.5, (3, 4)), requires_grad=True)
    y = hg.tensor(rng.uniform(0.5, 1.5, (4,)), requires_grad=True)
    outs = [x + y, x - y, x * y, x / y, x ** y, -x, x.exp(), x.log(), x.sqrt(), x.abs(),
            x.tanh(), x.sigmoid(), x.relu(), F.leaky_relu(x), x.clamp(0.6, 1.0)]
    for out in outs:
        g = np.broadcast_to(np.ones(1), out.shape)
        assert not g.flags.writeable
        out.backward(g)
