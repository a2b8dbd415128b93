"""The reference embedding against the fast door (1e-12) and PyTorch: repeated indices,
padding_idx, empty input; why the loop (np.add.at) is needed; errors."""

from __future__ import annotations

import numpy as np
import pytest

from handgrad import ops
from handgrad.ops import reference as ref
from tests.ops.reference.common import assert_close, assert_same, non_contiguous, to_torch, torch


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("V,shape,padding_idx", [
    (7, (5, 4), None), (7, (5, 4), 2), (7, (5, 4), -1), (1, (3,), None), (1000, (6, 50), 3),
    (50, (0,), None), (4, (), None),
])
def test_equals_fast_and_torch(dtype, V, shape, padding_idx):
    rng = np.random.default_rng(V)
    E = 3
    w = rng.standard_normal((V, E)).astype(dtype)
    idx = rng.integers(0, V, size=shape)
    if idx.size > 1:
        idx.flat[0] = idx.flat[-1]        # some index repeats
    dout = rng.standard_normal(shape + (E,)).astype(dtype)
    out, cache = ref.embedding_forward(idx, w, padding_idx)
    none, dW = ref.embedding_backward(dout, cache)
    assert none is None and out.dtype == dtype and dW.dtype == dtype
    wt = to_torch(w, True)
    yt = torch.nn.functional.embedding(torch.tensor(idx), wt, padding_idx=padding_idx)
    (yt * to_torch(dout)).sum().backward()
    assert_close(out, yt, dtype, name="out")
    assert_close(dW, wt.grad, dtype, name="dW")
    if dtype == np.float64:
        fast_out, fast_cache = ops.embedding_forward(idx, w, padding_idx)
        assert_same(out, fast_out, "out")
        fast_none, fast_dW = ops.embedding_backward(dout, fast_cache)
        assert fast_none is None
        assert_same(dW, fast_dW, "dW")


def test_repeated_indices_need_the_loop(rng):
    # dW[idx] += dout keeps one gradient per repeated row; the loop (np.add.at) adds all
    w = rng.standard_normal((5, 2))
    idx = np.array([3, 1, 3, 3])
    dout = np.ones((4, 2))
    _, cache = ref.embedding_forward(idx, w)
    _, dW = ref.embedding_backward(dout, cache)
    assert dW[3].tolist() == [3.0, 3.0] and dW[1].tolist() == [1.0, 1.0]
    wrong = np.zeros_like(w)
    wrong[idx] += dout
    assert wrong[3].tolist() == [1.0, 1.0]
    by_add_at = np.zeros_like(w)
    np.add.at(by_add_at, idx, dout)
    assert_same(dW, by_add_at, "np.add.at")


def test_non_contiguous_weight(rng):
    w = non_contiguous(rng.standard_normal((6, 4)))
    idx = rng.integers(0, 6, (3, 2))
    out, _ = ref.embedding_forward(idx, w)
    assert_same(out, ops.embedding_forward(idx, np.ascontiguousarray(w))[0], "out")


def test_errors_name_the_argument():
    w = np.zeros((10, 3), np.float32)
    with pytest.raises(IndexError, match=r"input holds the index 10, outside \[0, 10\)"):
        ref.embedding_forward(np.array([1, 10]), w)
    with pytest.raises(ValueError, match=r"index -1, outside \[0, 10\) \(num_embeddings"):
        ref.embedding_forward(np.array([-1, 3]), w)
    with pytest.raises(TypeError, match=r"integer indices, got dtype float64"):
        ref.embedding_forward(np.array([1.0, 2.0]), w)
    with pytest.raises(ValueError, match=r"padding_idx must lie in \[-10, 9\]"):
        ref.embedding_forward(np.array([1]), w, padding_idx=10)
    with pytest.raises(ValueError, match=r"weight must have the layout"):
        ref.embedding_forward(np.array([1]), np.zeros(10))
