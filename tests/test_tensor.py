"""Tensor: construction, dtypes, conversions, operators, creation and random helpers."""

from __future__ import annotations

import fractions
import operator

import numpy as np
import pytest

import handgrad as hg
from handgrad.tensor import as_array
from tests.helpers import assert_close, to_torch, torch


class FakeSymbol:
    """Stands in for a SymPy number: converts with float() but NumPy sees an object."""

    def __init__(self, value: float) -> None:
        self.value = value

    def __float__(self) -> float:
        return float(self.value)

    def __repr__(self) -> str:
        return f"FakeSymbol({self.value})"


# -- construction and dtypes -------------------------------------------------------------------

@pytest.mark.parametrize("data,dtype", [
    (1.5, np.float32), ([1.0, 2.0], np.float32), ([[1, 2], [3, 4]], np.int64), (3, np.int64),
    (True, np.bool_), (np.ones(2, np.float64), np.float64), (np.ones(2, np.float16), np.float16),
    (np.float64(2.0), np.float64), (np.arange(3, dtype=np.int32), np.int32),
])
def test_dtype_rules_match_torch(data, dtype):
    t = hg.tensor(data)
    assert t.dtype == dtype
    ref = torch.tensor(data)
    assert str(ref.dtype).replace("torch.", "") == np.dtype(dtype).name.replace("bool", "bool")


def test_explicit_dtype_and_copy():
    arr = np.ones(3)
    t = hg.tensor(arr, dtype=np.float32)
    assert t.dtype == np.float32
    t2 = hg.tensor(arr)
    arr[0] = 5
    assert t2.data[0] == 1  # tensor() copies, like torch.tensor
    f = hg.from_numpy(arr)
    arr[1] = 7
    assert f.data[1] == 7  # from_numpy shares, like torch.from_numpy
    assert hg.tensor(hg.tensor([1.0])).data is not None


def test_float64_end_to_end(rng):
    """float64 in, float64 everywhere: values, intermediate grads, leaf grads."""
    x = hg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    w = hg.tensor(rng.standard_normal((4, 2)), requires_grad=True)
    h = ((x @ w).tanh() * 2.5 + 1.0) ** 2
    h.retain_grad()
    loss = hg.nn.functional.cross_entropy(h, np.array([0, 1, 1])) + h.mean() / 3 - h.max()
    assert loss.dtype == np.float64
    loss.backward()
    for arr in (x.grad, w.grad, h.grad):
        assert arr.dtype == np.float64


def test_float32_stays_float32_with_python_and_numpy_scalars(rng):
    x = hg.tensor(rng.standard_normal(3).astype(np.float32), requires_grad=True)
    outs = [x * 2.5, 2.5 * x, x / 3, 1 - x, x ** 2, 2.0 ** x, x * np.float64(2.0),
            np.float64(2.0) * x, x + np.int64(1), x * True, x.mean() * 1e-3]
    for out in outs:
        assert out.dtype == np.float32, out
    sum(o.sum() for o in outs).backward()
    assert x.grad.dtype == np.float32


def test_integer_tensor_cannot_require_grad():
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients.*int64"):
        hg.tensor([1, 2, 3], requires_grad=True)
    with pytest.raises(TypeError, match=r"dtype int32 \(shape \(2,\)\)"):
        hg.tensor(np.ones(2, np.int32)).requires_grad_()
    with pytest.raises(TypeError, match="bool"):
        hg.tensor([True], requires_grad=True)


@pytest.mark.parametrize("data,kind", [
    ([fractions.Fraction(1, 2), fractions.Fraction(1, 3)], "Fraction"),
    ([FakeSymbol(1.5), FakeSymbol(2)], "FakeSymbol"),
    (np.array([FakeSymbol(0.5)], dtype=object), "FakeSymbol"),
    ([1.0, FakeSymbol(2)], "FakeSymbol"),
])
def test_object_arrays_raise_type_error_saying_how_to_convert(data, kind):
    with pytest.raises(TypeError, match=rf"objects.*{kind}.*np\.asarray\(.*dtype=np\.float64\)"):
        hg.tensor(data)


def test_object_array_in_an_operation_is_caught(rng):
    x = hg.tensor(np.ones(2), requires_grad=True)
    with pytest.raises(TypeError, match="objects"):
        x * [fractions.Fraction(1, 2), fractions.Fraction(1, 4)]


def test_ragged_and_string_data():
    with pytest.raises(TypeError, match="rectangular"):
        hg.tensor([[1.0, 2.0], [3.0]])
    with pytest.raises(TypeError, match="strings"):
        hg.tensor(["a", "b"])
    with pytest.raises(TypeError, match="objects"):
        as_array(np.array([None, 1.0], dtype=object))


def test_properties_and_conversions(rng):
    a = rng.standard_normal((2, 3))
    t = hg.tensor(a)
    assert t.shape == (2, 3) and t.ndim == 2 and t.dim() == 2 and t.numel() == 6
    assert t.size() == (2, 3) and t.size(1) == 3 and len(t) == 2
    assert t.numpy() is t.data and t.tolist() == t.data.tolist()
    assert np.asarray(t).shape == (2, 3)
    assert hg.tensor([2.5]).item() == 2.5 and float(hg.tensor(1.5)) == 1.5
    assert int(hg.tensor(3)) == 3 and bool(hg.tensor(1.0))
    with pytest.raises(ValueError, match=r"only a tensor with one element.*\(2, 3\)"):
        t.item()
    assert "requires_grad=True" in repr(hg.tensor([1.0], requires_grad=True))
    assert "float64" in repr(t)
    assert "grad_fn=<MulBackward>" in repr(hg.tensor([1.0], requires_grad=True) * 2)
    assert t.is_leaf


def test_comparisons_give_boolean_tensors_without_grad(rng):
    a = hg.tensor(rng.standard_normal(4), requires_grad=True)
    b = rng.standard_normal(4)
    for op in (operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne):
        out = op(a, b)
        assert out.dtype == np.bool_ and not out.requires_grad
        np.testing.assert_array_equal(out.data, op(a.data, b))
    assert {a: 1}[a] == 1  # hashable by identity


def test_argmax_argmin(rng):
    a = rng.standard_normal((3, 4))
    t = hg.tensor(a)
    np.testing.assert_array_equal(t.argmax(dim=1).data, torch.tensor(a).argmax(dim=1).numpy())
    np.testing.assert_array_equal(t.argmin(dim=0, keepdim=True).data,
                                  torch.tensor(a).argmin(dim=0, keepdim=True).numpy())
    assert t.argmax().item() == torch.tensor(a).argmax().item()


def test_zero_and_inplace_data_edit():
    t = hg.tensor(np.ones(3))
    t.zero_()
    np.testing.assert_array_equal(t.data, 0)


def test_default_dtype_switch():
    assert hg.get_default_dtype() == np.float32
    try:
        hg.set_default_dtype(np.float64)
        assert hg.tensor(1.0).dtype == np.float64
        assert hg.zeros(2).dtype == np.float64
    finally:
        hg.set_default_dtype(np.float32)
    with pytest.raises(TypeError, match="floating"):
        hg.set_default_dtype(np.int32)


# -- operators as methods (values + grads vs torch) -----------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_operator_expression_matches_torch(dtype, rng):
    a = rng.uniform(0.5, 1.5, (3, 4)).astype(dtype)
    b = rng.uniform(0.5, 1.5, (4,)).astype(dtype)

    def expr(x, y):
        z = (x + y) * (x - y) / (y + 1) ** 2 - (-x) @ y.reshape(4, 1)
        z = z.exp().log().sqrt().abs() + x.sigmoid() * y.tanh() + x.relu()
        return (z.sum(dim=1) * z.mean(dim=0).sum() + z.max() + z.min(dim=1).values.sum()
                + z.logsumexp(dim=0).sum() + z[1:, ::2].sum() + z.T.sum() + z.norm())

    hx, hy = hg.tensor(a, requires_grad=True), hg.tensor(b, requires_grad=True)
    tx, ty = to_torch(a, True), to_torch(b, True)
    out = expr(hx, hy)
    ref = expr(tx, ty)
    assert_close(out, ref, dtype)
    up = np.ones(out.shape, dtype)
    out.backward(up)
    ref.backward(torch.tensor(up))
    assert_close(hx.grad, tx.grad, dtype)
    assert_close(hy.grad, ty.grad, dtype)


def test_method_aliases(rng):
    a = hg.tensor(rng.uniform(0.5, 1, 3))
    b = hg.tensor(rng.uniform(0.5, 1, 3))
    np.testing.assert_allclose(a.add(b).data, (a + b).data)
    np.testing.assert_allclose(a.sub(b).data, (a - b).data)
    np.testing.assert_allclose(a.mul(b).data, (a * b).data)
    np.testing.assert_allclose(a.div(b).data, (a / b).data)
    np.testing.assert_allclose(a.pow(b).data, (a ** b).data)
    np.testing.assert_allclose(a.neg().data, -a.data)
    np.testing.assert_allclose(a.matmul(b).data, a.data @ b.data)


def test_ndarray_on_the_left_gives_a_tensor(rng):
    x = hg.tensor(rng.standard_normal(3), requires_grad=True)
    arr = np.arange(3.0)
    for out in (arr + x, arr - x, arr * x, arr / (x.abs() + 1)):
        assert isinstance(out, hg.Tensor)
        out.sum().backward()
    assert x.grad is not None


# -- creation and random ------------------------------------------------------------------------

def test_creation_functions():
    assert hg.zeros(2, 3).shape == (2, 3) and hg.zeros((2, 3)).dtype == np.float32
    assert hg.ones(4, dtype=np.float64).dtype == np.float64
    np.testing.assert_array_equal(hg.full((2, 2), 3.0).data, 3.0)
    np.testing.assert_array_equal(hg.eye(3).data, np.eye(3))
    np.testing.assert_array_equal(hg.arange(4).data, np.arange(4))
    assert hg.arange(0, 1, 0.25).dtype == np.float32
    assert hg.zeros_like(hg.tensor(np.ones(2))).dtype == np.float64
    assert hg.ones_like(hg.tensor([1.0]), requires_grad=True).requires_grad
    assert hg.zeros(3, requires_grad=True).requires_grad
    assert hg.randn(2, 3).dtype == np.float32 and hg.rand(5, dtype=np.float64).dtype == np.float64


def test_random_is_seeded_and_repeatable():
    hg.manual_seed(123)
    a = (hg.randn(3).data, hg.rand(3).data, hg.randint(0, 10, (4,)).data)
    hg.manual_seed(123)
    b = (hg.randn(3).data, hg.rand(3).data, hg.randint(0, 10, (4,)).data)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    r = hg.rand(1000).data
    assert 0 <= r.min() and r.max() < 1
    i = hg.randint(2, 5, 1000).data
    assert i.min() == 2 and i.max() == 4 and i.dtype.kind == "i"


def test_rng_state_roundtrip():
    from handgrad.random import get_rng_state, set_rng_state

    hg.manual_seed(5)
    state = get_rng_state()
    first = hg.randn(4).data
    set_rng_state(state)
    np.testing.assert_array_equal(first, hg.randn(4).data)
    with pytest.raises(ValueError, match="non-negative integer"):
        hg.manual_seed(-1)
    with pytest.raises(ValueError, match="non-negative integer"):
        hg.manual_seed(1.5)
