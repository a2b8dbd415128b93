"""Shape ops against PyTorch: reshape, permute, transpose, expand, getitem, cat, stack, pad."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import handgrad as hg
from tests.helpers import assert_close, to_torch, torch

DTYPES = [np.float64, np.float32]


def _check(hg_fn, torch_fn, arrays, dtype, name):
    hts = [hg.tensor(a, requires_grad=True) for a in arrays]
    tts = [to_torch(a, True) for a in arrays]
    out = hg_fn(*hts)
    ref = torch_fn(*tts)
    assert out.dtype == np.dtype(dtype)
    assert_close(out, ref, dtype, name=f"{name} value")
    up = np.random.default_rng(1).standard_normal(out.shape).astype(dtype)
    out.backward(up)
    ref.backward(torch.tensor(up))
    for k, (h, t) in enumerate(zip(hts, tts)):
        assert h.grad.dtype == np.dtype(dtype)
        assert_close(h.grad, t.grad, dtype, name=f"{name} grad {k}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,ours,theirs", [
    ("reshape", lambda t: t.reshape(4, 6), lambda t: t.reshape(4, 6)),
    ("reshape-1", lambda t: t.reshape(-1, 3), lambda t: t.reshape(-1, 3)),
    ("reshape tuple", lambda t: t.reshape((2, 12)), lambda t: t.reshape((2, 12))),
    ("view", lambda t: t.view(24), lambda t: t.view(24)),
    ("flatten", lambda t: t.flatten(), lambda t: t.flatten()),
    ("flatten1", lambda t: t.flatten(1), lambda t: t.flatten(1)),
    ("flatten0-1", lambda t: t.flatten(0, 1), lambda t: t.flatten(0, 1)),
    ("permute", lambda t: t.permute(2, 0, 1), lambda t: t.permute(2, 0, 1)),
    ("permute neg", lambda t: t.permute(-1, 0, -2), lambda t: t.permute(-1, 0, -2)),
    ("permute tuple", lambda t: t.permute((1, 2, 0)), lambda t: t.permute((1, 2, 0))),
    ("transpose", lambda t: t.transpose(0, 2), lambda t: t.transpose(0, 2)),
    ("transpose neg", lambda t: t.transpose(-1, -2), lambda t: t.transpose(-1, -2)),
    ("T", lambda t: t.T, lambda t: t.permute(2, 1, 0)),
    ("unsqueeze", lambda t: t.unsqueeze(1), lambda t: t.unsqueeze(1)),
    ("unsqueeze neg", lambda t: t.unsqueeze(-1), lambda t: t.unsqueeze(-1)),
    ("squeeze", lambda t: t.unsqueeze(0).squeeze(), lambda t: t.unsqueeze(0).squeeze()),
    ("squeeze dim", lambda t: t.unsqueeze(2).squeeze(2), lambda t: t.unsqueeze(2).squeeze(2)),
    ("squeeze non1", lambda t: t.squeeze(0), lambda t: t.squeeze(0)),
    ("clone", lambda t: t.clone(), lambda t: t.clone()),
])
def test_view_like_ops(name, ours, theirs, dtype, rng):
    _check(ours, theirs, [rng.standard_normal((2, 3, 4)).astype(dtype)], dtype, name)


@pytest.mark.parametrize("shape,target", [((3, 1), (3, 4)), ((3, 1), (-1, 4)),
                                          ((3, 1), (2, 3, 4)), ((3, 1), (2, -1, -1)),
                                          ((1,), (5,)), ((), (2, 3))])
def test_expand(shape, target, rng):
    x = rng.standard_normal(shape)
    _check(lambda t: t.expand(*target), lambda t: t.expand(*target), [x], np.float64,
           f"expand{shape}->{target}")


def test_shape_errors():
    x = hg.tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"reshape.*\(2, 3\).*\(4, 2\)"):
        x.reshape(4, 2)
    with pytest.raises(RuntimeError, match="duplicate dims are not allowed"):
        x.permute(0, 0)
    with pytest.raises(RuntimeError, match=r"input.dim\(\) = 2 is not equal to len\(dims\) = 3"):
        x.permute(0, 1, 2)
    with pytest.raises(ValueError, match=r"expand.*\(2, 3\)"):
        x.expand(4, 3)
    with pytest.raises(IndexError, match=r"shape \(2, 3\)"):
        x[5]


GETITEM_INDEXES = [
    ("int", 1), ("neg int", -1), ("slice", slice(1, None)), ("step", slice(None, None, 2)),
    ("neg step", (slice(None, None, -1), slice(None), 0)), ("tuple", (0, slice(1, 3))),
    ("ellipsis", (Ellipsis, 1)), ("none", (None, 0)), ("none mid", (slice(None), None, 1)),
    ("int array", np.array([0, 2, 2, 1, 0])), ("int array repeats", ([1, 1, 1], [0, 0, 2])),
    ("2d int array", np.array([[0, 1], [1, 1]])), ("list", [2, 0, 2]),
    ("bool mask", "mask"), ("bool rows", np.array([True, False, True])),
    ("mixed", (slice(None), np.array([3, 3, 0]))), ("ellipsis arr", (Ellipsis, [0, 0])),
    ("neg array", np.array([-1, -3])), ("empty slice", slice(2, 1)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,index", GETITEM_INDEXES, ids=[n for n, _ in GETITEM_INDEXES])
def test_getitem(name, index, dtype, rng):
    x = rng.standard_normal((3, 4, 2)).astype(dtype)
    if isinstance(index, str):
        index = x > 0
    tindex = tuple(_to_torch_index(i) for i in index) if isinstance(index, tuple) else \
        _to_torch_index(index)
    theirs = (lambda t: t.flip(0)[:, :, 0]) if name == "neg step" else (lambda t: t[tindex])
    _check(lambda t: t[index], theirs, [x], dtype, f"getitem {name}")  # torch has no step < 0


def _to_torch_index(i):
    if isinstance(i, np.ndarray):
        return torch.tensor(i)
    if isinstance(i, list):
        return torch.tensor(i)
    return i


def test_getitem_with_tensor_index(rng):
    x = rng.standard_normal((4, 3))
    idx = hg.tensor(np.array([3, 0, 3]))
    _check(lambda t: t[idx], lambda t: t[torch.tensor([3, 0, 3])], [x], np.float64, "t[idx]")
    mask = hg.tensor(x) > 0
    _check(lambda t: t[mask], lambda t: t[torch.tensor(x > 0)], [x], np.float64, "t[mask]")


@given(data=st.data())
@settings(max_examples=30, deadline=None)
def test_getitem_integer_arrays_hypothesis(data):
    """Random integer-array reads with repeats: each read's gradient is added."""
    n = data.draw(st.integers(1, 5))
    idx = np.array(data.draw(st.lists(st.integers(-n, n - 1), min_size=0, max_size=8)),
                   dtype=np.int64)
    x = np.random.default_rng(n).standard_normal((n, 2))
    _check(lambda t: t[idx], lambda t: t[torch.tensor(idx)], [x], np.float64, f"hyp {idx}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes,dim", [([(2, 3), (4, 3)], 0), ([(2, 3), (2, 1), (2, 2)], 1),
                                        ([(2, 3), (2, 5)], -1), ([(3,), (1,), (0,)], 0),
                                        ([(1, 2, 3)], 2), ([(2, 0), (2, 3)], 1)])
def test_cat(shapes, dim, dtype, rng):
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    _check(lambda *ts: hg.cat(list(ts), dim=dim), lambda *ts: torch.cat(ts, dim=dim), arrays,
           dtype, f"cat{shapes}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,n,dim", [((2, 3), 3, 0), ((2, 3), 2, 1), ((2, 3), 2, 2),
                                         ((2, 3), 4, -1), ((), 3, 0), ((4,), 1, -2)])
def test_stack(shape, n, dim, dtype, rng):
    arrays = [rng.standard_normal(shape).astype(dtype) for _ in range(n)]
    _check(lambda *ts: hg.stack(list(ts), dim=dim), lambda *ts: torch.stack(ts, dim=dim),
           arrays, dtype, f"stack{shape}x{n}@{dim}")


def test_cat_stack_errors():
    a, b = hg.tensor(np.zeros((2, 3))), hg.tensor(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"cat.*\(2, 3\).*\(3, 2\)"):
        hg.cat([a, b], dim=0)
    with pytest.raises(ValueError, match=r"stack.*\(2, 3\).*\(3, 2\)"):
        hg.stack([a, b])
    with pytest.raises(ValueError, match="non-empty"):
        hg.cat([])


def test_cat_mixes_constants_and_tensors(rng):
    a = hg.tensor(rng.standard_normal((2, 2)), requires_grad=True)
    out = hg.cat([a, hg.tensor(np.ones((1, 2)))], dim=0)
    out.sum().backward()
    np.testing.assert_array_equal(a.grad, 1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pad", [(1, 1), (0, 2), (1, 2, 3, 0), (1, 1, 1, 1, 1, 1), (0, 0)])
@pytest.mark.parametrize("value", [0.0, -1.5])
def test_pad(pad, value, dtype, rng):
    x = rng.standard_normal((2, 3, 4)).astype(dtype)
    from handgrad.ops import Pad

    _check(lambda t: Pad.apply(t, pad=pad, value=value),
           lambda t: torch.nn.functional.pad(t, pad, value=value), [x], dtype, f"pad{pad}")


def test_pad_errors():
    from handgrad.ops import Pad

    with pytest.raises(ValueError, match="even number"):
        Pad.apply(hg.tensor(np.zeros((2, 2))), pad=(1,))
    with pytest.raises(ValueError, match="negative"):
        Pad.apply(hg.tensor(np.zeros((2, 2))), pad=(-1, 0))
