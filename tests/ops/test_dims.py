"""Every dim-taking op accepts and refuses exactly what PyTorch does, and when it
accepts, gives PyTorch's result (handgrad.ops.dims)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import handgrad as hg
from handgrad.nn import functional as F
from handgrad.ops.dims import DimensionError, wrap_dim, wrap_dims
from tests.helpers import torch

TORCH_REFUSALS = (IndexError, RuntimeError, ValueError, TypeError)

shapes = st.lists(st.integers(1, 3), min_size=0, max_size=4).map(tuple)
dims = st.integers(-6, 6)
dim_lists = st.lists(dims, min_size=0, max_size=4).map(tuple)


def _pair(shape: tuple[int, ...], seed: int = 0) -> tuple[hg.Tensor, Any]:
    data = np.random.default_rng(seed).standard_normal(shape)
    return hg.tensor(data), torch.tensor(data)


def _values(out: Any) -> list[np.ndarray]:
    if isinstance(out, hg.Tensor):
        return [out.data]
    if hasattr(out, "detach"):
        return [out.detach().numpy()]
    return [v for item in out for v in _values(item)]


def _same_decision(ours: Callable[[], Any], theirs: Callable[[], Any], what: str) -> None:
    try:
        expected = theirs()
    except TORCH_REFUSALS as err:
        with pytest.raises(TORCH_REFUSALS):
            got = ours()
            pytest.fail(f"{what}: PyTorch refuses ({type(err).__name__}: {err}) but handgrad "
                        f"returned shape {np.shape(_values(got)[0])}")
        return
    got = ours()
    for a, b in zip(_values(got), _values(expected)):
        assert a.shape == b.shape, f"{what}: shape {a.shape} != torch's {b.shape}"
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=what)


OPS_ONE_DIM: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
    "sum": (lambda x, d: x.sum(dim=d), lambda x, d: x.sum(dim=d)),
    "sum-keepdim": (lambda x, d: x.sum(dim=d, keepdim=True),
                    lambda x, d: x.sum(dim=d, keepdim=True)),
    "mean": (lambda x, d: x.mean(dim=d), lambda x, d: x.mean(dim=d)),
    "max": (lambda x, d: x.max(dim=d), lambda x, d: x.max(dim=d)),
    "min-keepdim": (lambda x, d: x.min(dim=d, keepdim=True),
                    lambda x, d: x.min(dim=d, keepdim=True)),
    "argmax": (lambda x, d: x.argmax(dim=d), lambda x, d: x.argmax(dim=d)),
    "argmin-keepdim": (lambda x, d: x.argmin(dim=d, keepdim=True),
                       lambda x, d: x.argmin(dim=d, keepdim=True)),
    "logsumexp": (lambda x, d: x.logsumexp(dim=d), lambda x, d: x.logsumexp(dim=d)),
    "norm": (lambda x, d: x.norm(dim=d), lambda x, d: torch.linalg.vector_norm(x, dim=d)),
    "softmax": (lambda x, d: F.softmax(x, dim=d), lambda x, d: x.softmax(dim=d)),
    "log_softmax": (lambda x, d: F.log_softmax(x, dim=d), lambda x, d: x.log_softmax(dim=d)),
    "squeeze": (lambda x, d: x.squeeze(d), lambda x, d: x.squeeze(d)),
    "unsqueeze": (lambda x, d: x.unsqueeze(d), lambda x, d: x.unsqueeze(d)),
    "cat": (lambda x, d: hg.cat([x, x], dim=d), lambda x, d: torch.cat([x, x], dim=d)),
    "stack": (lambda x, d: hg.stack([x, x], dim=d), lambda x, d: torch.stack([x, x], dim=d)),
}


@settings(max_examples=60, deadline=None)
@given(shape=shapes, dim=dims, name=st.sampled_from(sorted(OPS_ONE_DIM)))
def test_one_dim_ops_decide_as_torch(shape, dim, name):
    ours, theirs = OPS_ONE_DIM[name]
    x, tx = _pair(shape)
    _same_decision(lambda: ours(x, dim), lambda: theirs(tx, dim), f"{name}{shape} dim={dim}")


@pytest.mark.parametrize("name", sorted(OPS_ONE_DIM))
@pytest.mark.parametrize("shape", [(), (1,), (2, 3), (1, 2, 1)])
def test_one_dim_ops_over_every_dim(name, shape):
    """The full range, edges included, for a few shapes (hypothesis samples the rest)."""
    ours, theirs = OPS_ONE_DIM[name]
    x, tx = _pair(shape)
    for dim in range(-len(shape) - 2, len(shape) + 2):
        _same_decision(lambda dim=dim: ours(x, dim), lambda dim=dim: theirs(tx, dim),
                       f"{name}{shape} dim={dim}")


OPS_DIM_LIST: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
    "sum": (lambda x, d: x.sum(dim=d), lambda x, d: x.sum(dim=d)),
    "mean-keepdim": (lambda x, d: x.mean(dim=d, keepdim=True),
                     lambda x, d: x.mean(dim=d, keepdim=True)),
    "logsumexp": (lambda x, d: x.logsumexp(dim=d), lambda x, d: x.logsumexp(dim=d)),
    "norm": (lambda x, d: x.norm(dim=d), lambda x, d: torch.linalg.vector_norm(x, dim=d)),
    "permute": (lambda x, d: x.permute(d), lambda x, d: x.permute(d)),
    "squeeze": (lambda x, d: x.squeeze(d), lambda x, d: x.squeeze(d)),
}


@settings(max_examples=60, deadline=None)
@given(shape=shapes, dim=dim_lists, name=st.sampled_from(sorted(OPS_DIM_LIST)))
def test_dim_list_ops_decide_as_torch(shape, dim, name):
    ours, theirs = OPS_DIM_LIST[name]
    if name == "logsumexp" and not dim:
        return  # torch's logsumexp has no "every dim" default for an empty list
    x, tx = _pair(shape)
    _same_decision(lambda: ours(x, dim), lambda: theirs(tx, dim), f"{name}{shape} dim={dim}")


@settings(max_examples=60, deadline=None)
@given(shape=shapes, a=dims, b=dims)
def test_two_dim_ops_decide_as_torch(shape, a, b):
    x, tx = _pair(shape)
    _same_decision(lambda: x.transpose(a, b), lambda: tx.transpose(a, b),
                   f"transpose{shape} ({a}, {b})")
    _same_decision(lambda: x.flatten(a, b), lambda: tx.flatten(a, b),
                   f"flatten{shape} ({a}, {b})")


def test_the_messages_are_pytorchs():
    x = hg.tensor(np.zeros((2, 3)))
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range "
                                         r"of \[-2, 1\], but got 2\)"):
        hg.cat([x, x], dim=2)
    with pytest.raises(RuntimeError, match="start_dim cannot come after end_dim"):
        x.flatten(1, 0)
    with pytest.raises(IndexError, match=r"\[-3, 2\], but got 3"):
        hg.stack([x, x], dim=3)
    with pytest.raises(DimensionError):  # also a ValueError, for older callers
        wrap_dim(5, 2, "op")
    assert issubclass(DimensionError, ValueError)
    with pytest.raises(TypeError, match="dim must be an integer, got float"):
        wrap_dim(1.0, 2, "op")
    with pytest.raises(TypeError, match="dim must be an integer"):
        wrap_dim(True, 2, "op")
    assert wrap_dims((), 2, "op") is None and wrap_dims(-1, 3, "op") == (2,)
