"""Shared test helpers: PyTorch is the oracle. Import as `from tests.helpers import ...`.

Tolerances (DESIGN.md): float64 rtol 1e-7, float32 rtol 1e-4.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

TOL = {np.float64: dict(rtol=1e-7, atol=1e-9), np.float32: dict(rtol=1e-4, atol=1e-5)}


def tol(dtype) -> dict:
    return TOL[np.dtype(dtype).type]


def assert_close(actual, expected, dtype=None, name: str = "", **override) -> None:
    """Compare a handgrad array with a torch tensor or array, with the dtype's tolerance."""
    if hasattr(expected, "detach"):
        expected = expected.detach().numpy()
    if hasattr(actual, "data") and not isinstance(actual, np.ndarray):
        actual = actual.data
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    dtype = dtype or actual.dtype
    kw = {**tol(dtype), **override}
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual, expected, err_msg=name, **kw)


def to_torch(arr, requires_grad: bool = False):
    """A torch tensor with the same values and dtype (a copy)."""
    t = torch.tensor(np.array(arr))
    return t.requires_grad_(requires_grad) if requires_grad else t
