"""Dimension arguments, checked once, with PyTorch's rules and words.

Every op that takes a ``dim`` (cat, stack, flatten, squeeze, unsqueeze, transpose,
permute, the reductions, softmax, ...) turns it into a non-negative axis here:

- a tensor with n dimensions accepts dims in [-n, n-1] (a 0-d tensor: [-1, 0]);
  negative dims count from the end (-1 is the last);
- ops that *insert* a dimension (stack, unsqueeze) accept [-(n+1), n];
- a dim that is out of range raises ``IndexError: Dimension out of range (expected to
  be in range of [-2, 1], but got 2)``, as PyTorch does;
- a list of dims may not name the same dimension twice.

:class:`DimensionError` is an IndexError (PyTorch's type) and also a ValueError (so code
that catches ValueError for bad arguments keeps working).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["DimensionError", "wrap_dim", "wrap_dims", "Dim"]

Dim = int | tuple[int, ...] | list[int] | None


class DimensionError(IndexError, ValueError):
    """A dim argument out of range for the tensor it is applied to."""


def _as_int(dim: Any, op: str, name: str) -> int:
    if isinstance(dim, bool) or not isinstance(dim, int | np.integer):
        raise TypeError(f"{op}: {name} must be an integer, got {type(dim).__name__} {dim!r}")
    return int(dim)


def wrap_dim(dim: Any, ndim: int, op: str, name: str = "dim", extra: int = 0) -> int:
    """``dim`` as an axis in 0..ndim+extra-1 (``extra=1`` for ops that insert a dim).

    A 0-d tensor behaves as if it had one dimension, as in PyTorch."""
    d = _as_int(dim, op, name)
    n = max(ndim + extra, 1)
    if not -n <= d < n:
        raise DimensionError(f"{op}: Dimension out of range (expected to be in range of "
                             f"[{-n}, {n - 1}], but got {d}) ({name}={d} for a tensor with "
                             f"{ndim} dimension(s))")
    return d % n


def wrap_dims(dim: Dim, ndim: int, op: str, name: str = "dim") -> tuple[int, ...] | None:
    """``dim`` (an int, a sequence, or None = every dim) as sorted axes; an empty
    sequence also means every dim (PyTorch's ``x.sum(dim=())``)."""
    if dim is None:
        return None
    if isinstance(dim, int | np.integer) and not isinstance(dim, bool):
        dims: tuple[Any, ...] = (dim,)
    elif isinstance(dim, tuple | list):
        dims = tuple(dim)
    else:
        raise TypeError(f"{op}: {name} must be an integer, a tuple of integers or None, got "
                        f"{type(dim).__name__} {dim!r}")
    if not dims:
        return None
    out = [wrap_dim(d, ndim, op, name) for d in dims]
    if len(set(out)) != len(out):
        twice = next(d for d in out if out.count(d) > 1)
        raise RuntimeError(f"{op}: dim {twice} appears multiple times in the list of dims "
                           f"({name}={tuple(dims)})")
    return tuple(sorted(out)) if ndim else ()
