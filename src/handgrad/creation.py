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


def _number(value: Any, fn: str, name: str, integer: bool = False) -> Any:
    """``value`` if it is a real number (an integer with ``integer``), else TypeError
    naming the argument: NumPy's own message would not say which one."""
    import numbers

    ok = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, ok | np.generic) or (
            isinstance(value, np.generic) and value.dtype.kind not in ("iu" if integer
                                                                       else "iuf")):
        kind = "an integer" if integer else "a real number"
        raise TypeError(f"{fn}: {name} must be {kind}, got {type(value).__name__} "
                        f"{value!r}")
    return value


def zeros(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.zeros(_seq(shape, "zeros"), dtype or get_default_dtype()), requires_grad)


def ones(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.ones(_seq(shape, "ones"), dtype or get_default_dtype()), requires_grad)


def full(shape: Any, fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    if not isinstance(fill_value, bool):
        _number(fill_value, "full", "fill_value")
    arr = np.full(_seq((shape,), "full"), fill_value, dtype or get_default_dtype())
    return _make(arr, requires_grad)


def eye(n: int, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.eye(n, dtype=dtype or get_default_dtype()), requires_grad)


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None) -> Tensor:
    _number(start, "arange", "start")
    if end is not None:
        _number(end, "arange", "end")
    _number(step, "arange", "step")
    if step == 0:
        raise ValueError("arange: step must be nonzero, got step=0")
    if end is not None and (end - start) * step < 0:
        raise ValueError(f"arange: upper bound and lower bound inconsistent with step sign "
                         f"(start={start}, end={end}, step={step}: stepping by {step} from "
                         f"{start} never reaches {end})")
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
    """Integers uniform in [low, high) from handgrad's seeded generator."""
    _number(low, "randint", "low", integer=True)
    _number(high, "randint", "high", integer=True)
    if low >= high:
        raise ValueError(f"randint: low must be less than high (the values are drawn from "
                         f"[low, high)), got low={low} >= high={high}")
    return Tensor(get_rng().integers(low, high, size=_seq((size,), "randint")))


def zeros_like(t: Tensor, requires_grad: bool = False) -> Tensor:
    return _make(np.zeros_like(t.data), requires_grad)


def ones_like(t: Tensor, requires_grad: bool = False) -> Tensor:
    return _make(np.ones_like(t.data), requires_grad)


def from_numpy(arr: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``arr`` (no copy), keeping its dtype."""
    return Tensor._wrap(np.asarray(arr), False)
