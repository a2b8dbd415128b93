"""The operations as plain functions on Tensors, PyTorch's ``torch.nn.functional`` names.

Each function checks its arguments (a clear error naming the argument and the rule, not
a NumPy broadcast error), then applies the hand-written Function from ``handgrad.ops``.
"""

from __future__ import annotations

from typing import Any

from handgrad import ops
from handgrad.random import get_rng
from handgrad.tensor import Tensor

# -- activations and the fully connected layer (handgrad.ops.elementwise, .linalg) --------


def _check_float(x: Any, name: str, fn: str) -> None:
    if isinstance(x, Tensor) and x.data.dtype.kind not in "fc":
        raise TypeError(f"{fn}: {name} must be a floating-point tensor, got dtype {x.dtype} "
                        f"(shape {x.shape}); convert it with .float() or .double()")


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:  # noqa: A002
    """y = x W^T + b with W of shape (out_features, in_features). See ops.linalg.Linear."""
    _check_float(input, "input", "linear")
    return ops.Linear.apply(input, weight, bias)


def relu(input: Tensor) -> Tensor:  # noqa: A002
    return ops.ReLU.apply(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:  # noqa: A002
    return ops.LeakyReLU.apply(input, negative_slope=negative_slope)


def tanh(input: Tensor) -> Tensor:  # noqa: A002
    return ops.Tanh.apply(input)


def sigmoid(input: Tensor) -> Tensor:  # noqa: A002
    return ops.Sigmoid.apply(input)


def dropout(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:  # noqa: A002
    """Inverted dropout (see ops.elementwise.Dropout); the identity when not training."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be a probability in [0, 1], got {p}")
    if not training or p == 0.0:
        return input
    return ops.elementwise.Dropout.apply(input, p=p, rng=get_rng())


# -- softmax and losses (handgrad.ops.loss) ---------------------------------------------
# -- convolution and pooling (handgrad.ops.conv) ----------------------------------------
# -- recurrent (handgrad.ops.recurrent) ---------------------------------------------------
