"""matmul (batched, broadcast, 1-D operands) and linear against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import handgrad as hg
import handgrad.nn.functional as F
from handgrad import ops
from tests.helpers import assert_close, to_torch, torch

DTYPES = [np.float64, np.float32]


def _check(hg_fn, torch_fn, arrays, dtype, name, grads=None):
    grads = grads or [True] * len(arrays)
    hts = [hg.tensor(a, requires_grad=g) for a, g in zip(arrays, grads)]
    tts = [to_torch(a, g) for a, g in zip(arrays, grads)]
    out = hg_fn(*hts)
    ref = torch_fn(*tts)
    assert out.dtype == np.dtype(dtype)
    assert_close(out, ref, dtype, name=f"{name} value")
    up = np.random.default_rng(2).standard_normal(out.shape).astype(dtype)
    out.backward(up)
    ref.backward(torch.tensor(up))
    for k, (h, t, g) in enumerate(zip(hts, tts, grads)):
        if g:
            assert h.grad.shape == h.shape and h.grad.dtype == np.dtype(dtype)
            assert_close(h.grad, t.grad, dtype, name=f"{name} grad {k}")
        else:
            assert h.grad is None


MATMUL_SHAPES = [
    ((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((2, 3), (3, 4)), ((1, 1), (1, 1)),
    ((5, 2, 3), (3, 4)), ((2, 3), (5, 3, 4)), ((5, 2, 3), (5, 3, 4)), ((5, 1, 2, 3), (4, 3, 2)),
    ((3,), (5, 3, 4)), ((5, 2, 3), (3,)), ((1, 2, 3), (6, 3, 1)), ((2, 0), (0, 3)),
    ((4, 2, 3), (1, 3, 2)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES)
def test_matmul(sa, sb, dtype, rng):
    a = rng.standard_normal(sa).astype(dtype)
    b = rng.standard_normal(sb).astype(dtype)
    _check(lambda x, y: x @ y, lambda x, y: x @ y, [a, b], dtype, f"matmul{sa}{sb}")


@pytest.mark.parametrize("grads", [[True, False], [False, True]])
def test_matmul_skips_unneeded_gradient(grads, rng):
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    _check(lambda x, y: x.matmul(y), lambda x, y: x.matmul(y), [a, b], np.float64, "mm",
           grads=grads)


def test_matmul_with_arrays_on_either_side(rng):
    a = rng.standard_normal((2, 3))
    w = rng.standard_normal((3, 4))
    x = hg.tensor(a, requires_grad=True)
    (x @ w).sum().backward()
    np.testing.assert_allclose(x.grad, np.ones((2, 4)) @ w.T)
    y = hg.tensor(w, requires_grad=True)
    out = a @ y  # ndarray @ Tensor goes to Tensor.__rmatmul__
    assert isinstance(out, hg.Tensor)
    out.sum().backward()
    np.testing.assert_allclose(y.grad, a.T @ np.ones((2, 4)))


@given(batch_a=st.lists(st.integers(1, 3), max_size=2), batch_b=st.lists(st.integers(1, 3),
       max_size=2), n=st.integers(1, 3), k=st.integers(1, 3), m=st.integers(1, 3),
       vec_a=st.booleans(), vec_b=st.booleans(), data=st.data())
@settings(max_examples=40, deadline=None)
def test_matmul_hypothesis(batch_a, batch_b, n, k, m, vec_a, vec_b, data):
    # make the batch dims broadcastable: where both exist and differ, set one to 1
    ba, bb = list(batch_a), list(batch_b)
    for i in range(1, min(len(ba), len(bb)) + 1):
        if ba[-i] != bb[-i]:
            if data.draw(st.booleans()):
                ba[-i] = 1
            else:
                bb[-i] = 1
    sa = (k,) if vec_a else tuple(ba) + (n, k)
    sb = (k,) if vec_b else tuple(bb) + (k, m)
    rng = np.random.default_rng(n * 9 + k * 3 + m)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    _check(lambda x, y: x @ y, lambda x, y: x @ y, [a, b], np.float64, f"hyp {sa}@{sb}")


def test_matmul_shape_errors_name_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4, 5\).*last dimension \(3\)"):
        hg.tensor(np.ones((2, 3))) @ hg.tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"\(3,\) and \(4,\)"):
        hg.tensor(np.ones(3)) @ hg.tensor(np.ones(4))
    with pytest.raises(ValueError, match=r"\(2, 2, 3\) and \(3, 3, 4\).*broadcast"):
        hg.tensor(np.ones((2, 2, 3))) @ hg.tensor(np.ones((3, 3, 4)))
    with pytest.raises(ValueError, match="at least 1 dimension"):
        hg.tensor(np.ones(())) @ hg.tensor(np.ones(3))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xshape", [(4, 3), (1, 3), (3,), (2, 5, 3), (0, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear(xshape, bias, dtype, rng):
    x = rng.standard_normal(xshape).astype(dtype)
    w = rng.standard_normal((2, 3)).astype(dtype)
    arrays = [x, w] + ([rng.standard_normal(2).astype(dtype)] if bias else [])
    _check(lambda *t: F.linear(*t), lambda *t: torch.nn.functional.linear(*t), arrays, dtype,
           f"linear{xshape}")


def test_linear_only_weight_grads(rng):
    """A first layer: input needs no gradient, so dL/dx is never computed."""
    x, w, b = rng.standard_normal((4, 3)), rng.standard_normal((2, 3)), rng.standard_normal(2)
    _check(F.linear, torch.nn.functional.linear, [x, w, b], np.float64, "linear",
           grads=[False, True, True])


def test_linear_errors_name_shapes():
    x = hg.tensor(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"input has shape \(4, 3\) but weight has shape "
                                         r"\(2, 5\).*in_features.*5"):
        F.linear(x, hg.tensor(np.ones((2, 5))))
    with pytest.raises(ValueError, match=r"bias must have shape.*\(2,\), got \(3,\)"):
        F.linear(x, hg.tensor(np.ones((2, 3))), hg.tensor(np.ones(3)))
    with pytest.raises(ValueError, match="weight must be 2-D"):
        F.linear(x, hg.tensor(np.ones(3)))
    with pytest.raises(TypeError, match="floating-point"):
        F.linear(hg.tensor(np.ones((4, 3), np.int64)), hg.tensor(np.ones((2, 3))))


def test_linear_and_matmul_layer_doors(rng):
    x, w, b = rng.standard_normal((4, 3)), rng.standard_normal((2, 3)), rng.standard_normal(2)
    dout = rng.standard_normal((4, 2))
    out, cache = ops.linear_forward(x, w, b)
    dx, dw, db = ops.linear_backward(dout, cache)
    np.testing.assert_allclose(out, x @ w.T + b)
    np.testing.assert_allclose(dx, dout @ w)
    np.testing.assert_allclose(dw, dout.T @ x)
    np.testing.assert_allclose(db, dout.sum(0))
    out, cache = ops.matmul_forward(x, w.T)
    da, dbb = ops.matmul_backward(dout, cache)
    np.testing.assert_allclose(da, dout @ w)
    np.testing.assert_allclose(dbb, x.T @ dout)
