"""Embedding: a lookup table of learnable vectors, one row per token id (torch.nn.Embedding)."""

from __future__ import annotations

from typing import Any

import numpy as np

from handgrad.nn import functional as F
from handgrad.nn import init
from handgrad.nn.layers import check_positive_int
from handgrad.nn.module import Module, Parameter
from handgrad.tensor import Tensor, get_default_dtype

__all__ = ["Embedding"]


class Embedding(Module):
    """y = weight[input]: input holds integer ids in [0, num_embeddings), y has shape
    input.shape + (embedding_dim,). weight (num_embeddings, embedding_dim) ~ N(0, 1) as in
    PyTorch; the row ``padding_idx`` (if given) starts at zero and never gets a gradient.

    Looking a row up is the same as multiplying a one-hot vector by the table, so the
    gradient of a row is the sum of the output gradients at every position that used it
    (see ``handgrad.ops.embedding.Embedding``).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.num_embeddings = check_positive_int(num_embeddings, "num_embeddings", "Embedding")
        self.embedding_dim = check_positive_int(embedding_dim, "embedding_dim", "Embedding")
        if padding_idx is not None:
            if isinstance(padding_idx, bool) or not isinstance(padding_idx, int | np.integer) \
                    or not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx must be an integer in "
                                 f"[-{num_embeddings}, {num_embeddings - 1}] (num_embeddings = "
                                 f"{num_embeddings}), got {padding_idx!r}")
            padding_idx = int(padding_idx) % num_embeddings
        self.padding_idx = padding_idx
        dt = np.dtype(dtype or get_default_dtype())
        self.weight = Parameter(np.empty((num_embeddings, embedding_dim), dt))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.normal_(self.weight, 0.0, 1.0)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, input: Any) -> Tensor:  # noqa: A002
        return F.embedding(input, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        return s + (f", padding_idx={self.padding_idx}" if self.padding_idx is not None else "")
