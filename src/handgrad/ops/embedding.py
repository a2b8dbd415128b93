"""The embedding lookup: out = W[idx], dW = sum of dout over the rows that used each index.

Shapes: idx (any shape) of integers in [0, V), weight (V, E) -> out (*idx.shape, E).
Derivative: out[k] = W[idx[k]] for every position k, so dL/dW[v] = sum_{k: idx[k] = v}
dout[k]: a scatter-add, where a repeated index must ADD (np.add.at, or a bincount per
column), not overwrite (``dW[idx] += dout`` keeps only one of the repeats). The
``padding_idx`` row gets no gradient. The definition, one position at a time, is
``handgrad.ops.reference.embedding``; this is the fast path, tested equal to it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from handgrad.function import Context, Function

__all__ = ["Embedding", "EmbeddingIndexError", "check_indices", "embedding_forward",
           "embedding_backward", "embedding_weight_grad"]


class EmbeddingIndexError(IndexError, ValueError):
    """An index outside [0, num_embeddings). Both an IndexError (as PyTorch raises) and a
    ValueError (handgrad's bad-argument error)."""


def check_indices(indices: Any, num_embeddings: int, name: str = "input") -> np.ndarray:
    """The indices as an integer array, or a clear error (non-integer, out of range)."""
    idx = np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: {name} must hold integer indices, got dtype {idx.dtype} "
                        f"(shape {idx.shape}); convert with .astype(np.int64)")
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= num_embeddings:
            bad = hi if hi >= num_embeddings else lo
            raise EmbeddingIndexError(
                f"embedding: {name} holds index {bad} (min {lo}, max {hi}) but num_embeddings "
                f"= {num_embeddings}; every index must lie in [0, {num_embeddings - 1}]")
    return idx


def embedding_weight_grad(idx: np.ndarray, dout: np.ndarray, num_embeddings: int) -> np.ndarray:
    """dW = sum over positions p with idx[p] = v of dout[p], for every row v: (V, E).

    Rows that occur several times must get the *sum* of their gradients (``dW[idx] +=
    dout`` would keep only the last one). Sorting the positions by index puts each row's
    positions next to each other; np.add.reduceat then sums each run in one vectorised
    call. Measured (float32, 3200 positions, 2-core VM, best of 20): V=65, E=64: 0.25 ms
    (np.add.at 1.8 ms, bincount per column 0.48 ms, one-hot GEMM 14 ms); V=30000, E=128:
    3.7 ms (np.add.at 4.6 ms, bincount 41 ms, one-hot GEMM 914 ms).
    """
    flat = idx.reshape(-1)
    E = dout.shape[-1]
    d2 = dout.reshape(-1, E)
    dW = np.zeros((num_embeddings, E), dout.dtype)
    if flat.size == 0:
        return dW
    order = np.argsort(flat, kind="stable")
    ids = flat[order]
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])   # first position of each run
    dW[ids[starts]] = np.add.reduceat(d2[order], starts, axis=0)
    return dW


class Embedding(Function):
    """y = W[idx]: row idx[p] of the table W (V, E) for every position p; y: idx.shape + (E,).

    dL/dW[v] = sum_{p: idx[p] = v} dL/dy[p] (repeated indices accumulate);
    no gradient for the indices. With ``padding_idx`` that row gets no gradient (it is
    the "nothing here" token and stays as it is, zeros by default).
    """

    @staticmethod
    def forward(ctx: Context, indices: Any, weight: np.ndarray,
                padding_idx: int | None = None) -> np.ndarray:
        if weight.ndim != 2:
            raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), "
                             f"got shape {weight.shape}")
        V = weight.shape[0]
        idx = check_indices(indices, V)
        if padding_idx is not None:
            if not -V <= padding_idx < V:
                raise ValueError(f"embedding: padding_idx must lie in [-{V}, {V - 1}] "
                                 f"(num_embeddings = {V}), got {padding_idx}")
            padding_idx %= V
        ctx.emb = (idx, V, padding_idx)
        return weight[idx]

    @staticmethod
    def backward(ctx: Context, dout: np.ndarray) -> tuple[None, Any]:
        idx, V, padding_idx = ctx.emb
        if not ctx.needs_input_grad[1]:
            return None, None
        dW = embedding_weight_grad(idx, dout, V)
        if padding_idx is not None:
            dW[padding_idx] = 0
        return None, dW


# -- the layer-by-layer door (CS231n name), the same code as the Function --------------
embedding_forward, embedding_backward = Embedding.layer_forward, Embedding.layer_backward
