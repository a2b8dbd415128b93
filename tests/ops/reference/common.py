"""Helpers of the reference tests: reference == fast (float64, 1e-12) and reference vs
PyTorch (the dtype's tolerance, tests.helpers)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.helpers import assert_close, to_torch, torch

__all__ = ["assert_same", "assert_all_same", "assert_close", "to_torch", "torch",
           "non_contiguous"]

RTOL = 1e-12


def assert_same(ref: Any, fast: Any, name: str = "") -> None:
    """The reference and the fast door agree: same shape and dtype, values to rtol 1e-12
    with an absolute tolerance of 1e-12 times the largest value (sums taken in another
    order differ by rounding, relative to the size of the terms, not of each result).
    None must meet None (an input that was not given gets no gradient)."""
    if fast is None or ref is None:
        assert ref is None and fast is None, f"{name}: reference {type(ref)}, fast {type(fast)}"
        return
    ref, fast = np.asarray(ref), np.asarray(fast)
    assert ref.shape == fast.shape, f"{name}: shape {ref.shape} != fast {fast.shape}"
    assert ref.dtype == fast.dtype, f"{name}: dtype {ref.dtype} != fast {fast.dtype}"
    finite = fast[np.isfinite(fast)]
    scale = max(float(np.max(np.abs(finite))) if finite.size else 0.0, 1.0)
    np.testing.assert_allclose(ref, fast, rtol=RTOL, atol=RTOL * scale, err_msg=name)


def assert_all_same(ref: tuple[Any, ...], fast: tuple[Any, ...], names: list[str]) -> None:
    assert len(ref) == len(fast) == len(names), (len(ref), len(fast), names)
    for r, f, n in zip(ref, fast, names):
        assert_same(r, f, n)


def non_contiguous(a: np.ndarray) -> np.ndarray:
    """The same values in a non-contiguous array (every other element of a larger one)."""
    big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype) if a.ndim else None
    if big is None:
        return a
    big[..., ::2] = a
    view = big[..., ::2]
    assert not view.flags.c_contiguous or a.shape[-1] <= 1
    return view
