"""Tensor factories, PyTorch-named: zeros, ones, full, arange, randn, rand, *_like."""

from __future__ import annotations

from typing import Any

import numpy as np

from handgrad.random import get_rng
from handgrad.tensor import Tensor, _seq, get_default_dtype

__all__ = ["zeros", "ones", "full", "arange", "randn", "rand", "randint", "zeros_like",
           "ones_like", "eye", "from_numpy"]


def _make(arr: np.ndarray, requires_grad: bool) -> Tensor:
    return Tensor(arr, requires_grad=requires_grad)


def zeros(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.zeros(_seq(shape, "zeros"), dtype or get_default_dtype()), requires_grad)


def ones(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.ones(_seq(shape, "ones"), dtype or get_default_dtype()), requires_grad)


def full(shape: Any, fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    arr = np.full(_seq((shape,), "full"), fill_value, dtype or get_default_dtype())
    return _make(arr, requires_grad)


def eye(n: int, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.eye(n, dtype=dtype or get_default_dtype()), requires_grad)


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None) -> Tensor:
    arr = np.arange(start, end, step) if end is not None else np.arange(start)
    if dtype is None and arr.dtype.kind == "f":
        dtype = get_default_dtype()
    return Tensor(arr, dtype=dtype)


def randn(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from handgrad's seeded generator."""
    dt = np.dtype(dtype or get_default_dtype())
    return _make(get_rng().standard_normal(_seq(shape, "randn")).astype(dt), requires_grad)


def rand(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) from handgrad's seeded generator."""
    dt = np.dtype(dtype or get_default_dtype())
    return _make(get_rng().random(_seq(shape, "rand")).astype(dt), requires_grad)


def randint(low: int, high: int, size: Any) -> Tensor:
    return Tensor(get_rng().integers(low, high, size=_seq((size,))))


def zeros_like(t: Tensor, requires_grad: bool = False) -> Tensor:
    return _make(np.zeros_like(t.data), requires_grad)


def ones_like(t: Tensor, requires_grad: bool = False) -> Tensor:
    return _make(np.ones_like(t.data), requires_grad)


def from_numpy(arr: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``arr`` (no copy), keeping its dtype."""
    return Tensor._wrap(np.asarray(arr), False)
