"""The embedding lookup, the definition: a row of the table per index, and the loop that
adds the gradients of repeated indices.

The table W is (V, E): one row of E numbers for each of V tokens. For indices idx of any
shape, out[p] = W[idx[p]] for every position p, so out has shape idx.shape + (E,).

Backward: out[p] depends on row idx[p] only, with d out[p] / d W[idx[p]] = identity, so

    dW[v] = sum over the positions p with idx[p] = v of dout[p]

(rows that never occur get 0). A token that occurs twice gets the *sum* of both
gradients. That is why the backward pass is a loop over the positions with
``dW[idx[p]] += dout[p]``, or ``np.add.at(dW, idx, dout)``: the vectorised
``dW[idx] += dout`` looks the same but is wrong, since NumPy evaluates it as
``dW[idx] = dW[idx] + dout`` and, for a repeated index, the last write wins (only one of
the gradients survives).

``padding_idx`` marks the "nothing here" token: its row gets no gradient, so it stays as
it is (zeros, as nn.Embedding initialises it). Negative values count from the end.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from handgrad.ops.embedding import EmbeddingIndexError
from handgrad.ops.reference import _checks as check

__all__ = ["EmbeddingCache", "embedding_forward", "embedding_backward"]


class EmbeddingCache(NamedTuple):
    """What :func:`embedding_forward` keeps for :func:`embedding_backward`."""

    idx: np.ndarray              # the integer indices, any shape
    weight_shape: tuple[int, int]  # (V, E)
    padding_idx: int | None      # in [0, V), or None


def embedding_forward(indices: Any, weight: np.ndarray, padding_idx: int | None = None
                      ) -> tuple[np.ndarray, EmbeddingCache]:
    """``out, cache = embedding_forward(indices, weight, padding_idx)``: indices of any
    shape, values in [0, V); weight (V, E); out indices.shape + (E,)."""
    fn = "embedding"
    check.float_array(weight, fn, "weight")
    check.layout(fn, "weight", weight, (2,), "(num_embeddings, embedding_dim)")
    V = weight.shape[0]
    idx = np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(check.MSG("int_indices", fn=fn, name="input", dtype=idx.dtype,
                                  shape=idx.shape))
    outside = (idx < 0) | (idx >= V)
    if outside.any():
        raise EmbeddingIndexError(check.MSG("index_range", fn=fn, name="input",
                                            index=idx[outside][0], size=V,
                                            what="num_embeddings"))
    if padding_idx is not None:
        if not check.is_int(padding_idx) or not -V <= padding_idx < V:
            raise ValueError(check.MSG("interval", fn=fn, name="padding_idx",
                                       interval=f"[-{V}, {V - 1}]", value=padding_idx))
        padding_idx = int(padding_idx) % V
    out = np.empty(idx.shape + (weight.shape[1],), dtype=weight.dtype)
    for p in np.ndindex(idx.shape):          # every position p
        out[p] = weight[idx[p]]              # out[p] = W[idx[p]]
    return out, EmbeddingCache(idx, weight.shape, padding_idx)


def embedding_backward(dout: np.ndarray, cache: EmbeddingCache) -> tuple[None, np.ndarray]:
    """``_, dW = embedding_backward(dout, cache)``: dout indices.shape + (E,); dW (V, E).

    The first value is the gradient of the indices: None (they are not differentiable),
    as the fast door returns it."""
    idx, (V, E), padding_idx = cache
    check.float_array(dout, "embedding_backward", "dout")
    check.shape("embedding_backward", "dout", dout, idx.shape + (E,), "indices.shape + (E,)")
    dW = np.zeros((V, E), dtype=dout.dtype)
    for p in np.ndindex(idx.shape):
        dW[idx[p]] += dout[p]                # repeated indices add up, one by one
    if padding_idx is not None:
        dW[padding_idx] = 0                  # the padding row is never trained
    return None, dW
