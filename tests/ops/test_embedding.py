"""The embedding lookup (ops/embedding.py) against PyTorch, the scatter-add of dW, errors."""

from __future__ import annotations

import numpy as np
import pytest

import handgrad
from handgrad.ops import embedding as E
from tests.helpers import assert_close, to_torch, torch

# -- embedding ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("V,shape,padding_idx", [
    (7, (5, 4), None), (7, (5, 4), 2), (7, (5, 4), -1), (1, (3,), None), (1000, (6, 50), 3),
    (50, (0,), None),
])
def test_embedding_matches_torch(dtype, V, shape, padding_idx):
    rng = np.random.default_rng(V)
    E = 3
    w = rng.standard_normal((V, E)).astype(dtype)
    idx = rng.integers(0, V, size=shape)
    if idx.size:
        idx.flat[0] = idx.flat[-1]        # make sure some index repeats
    dout = rng.standard_normal(shape + (E,)).astype(dtype)
    wt = to_torch(w, True)
    yt = torch.nn.functional.embedding(torch.tensor(idx), wt, padding_idx=padding_idx)
    (yt * to_torch(dout)).sum().backward()
    W = handgrad.tensor(w, requires_grad=True)
    y = handgrad.nn.functional.embedding(idx, W, padding_idx=padding_idx)
    assert_close(y, yt, dtype, name="y")
    y.backward(dout)
    assert_close(W.grad, wt.grad, dtype, name="dW")
    assert W.grad.dtype == dtype


@pytest.mark.parametrize("V", [5, 300, 100000])
def test_embedding_weight_grad_equals_add_at(V):
    """Sort + reduceat equals the slow reference np.add.at, small and large tables."""
    rng = np.random.default_rng(1)
    idx = rng.integers(0, min(V, 40), size=(9, 11))
    dout = rng.standard_normal((9, 11, 4))
    ref = np.zeros((V, 4))
    np.add.at(ref, idx.reshape(-1), dout.reshape(-1, 4))
    np.testing.assert_allclose(E.embedding_weight_grad(idx, dout, V), ref, rtol=1e-12,
                               atol=1e-12)


def test_embedding_errors():
    w = np.zeros((10, 3), np.float32)
    with pytest.raises(IndexError, match=r"index 10 .*max 10.*num_embeddings = 10"):
        E.embedding_forward(np.array([1, 10]), w)
    with pytest.raises(ValueError, match=r"index -1 .*num_embeddings = 10"):
        E.embedding_forward(np.array([-1, 3]), w)
    with pytest.raises(TypeError, match=r"integer indices, got dtype float64"):
        E.embedding_forward(np.array([1.0, 2.0]), w)
    with pytest.raises(ValueError, match=r"padding_idx must lie in"):
        E.embedding_forward(np.array([1]), w, padding_idx=10)
