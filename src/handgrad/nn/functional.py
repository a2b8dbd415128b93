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


def _implicit_softmax_dim(ndim: int, fn: str) -> int:
    """PyTorch's legacy choice when ``dim`` is omitted (0 for 0-, 1- and 3-d, else 1)."""
    import warnings

    warnings.warn(f"{fn}: implicit dim is deprecated (as in PyTorch); pass dim explicitly, "
                  f"e.g. dim=-1 for scores of shape (N, C)", UserWarning, stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def _softmax_input(input: Any, dim: int | None, dtype: Any, fn: str) -> tuple[Any, int]:  # noqa: A002
    if not isinstance(input, Tensor):
        input = Tensor(input)
    if dim is None:
        dim = _implicit_softmax_dim(input.ndim, fn)
    if dtype is not None:
        input = input.astype(dtype)
    return input, dim


def softmax(input: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:  # noqa: A002
    """p = e^{z - max z} / sum e^{z - max z} along ``dim``. See ops.loss.Softmax."""
    input, dim = _softmax_input(input, dim, dtype, "softmax")
    return ops.loss.Softmax.apply(input, dim=dim)


def log_softmax(input: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:  # noqa: A002
    """z - logsumexp(z) along ``dim``, computed stably. See ops.loss.LogSoftmax."""
    input, dim = _softmax_input(input, dim, dtype, "log_softmax")
    return ops.loss.LogSoftmax.apply(input, dim=dim)


def _plain(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def cross_entropy(input: Tensor, target: Any, weight: Any = None, ignore_index: int = -100,  # noqa: A002
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax + negative log-likelihood of class indices, fused (dL/dz = (p - onehot)/N).

    input (N, C), (N, C, d1, ...) or (C,) scores; target int class indices of shape (N,),
    (N, d1, ...) or (). See ops.loss.CrossEntropy for the formula with weight,
    ignore_index and label_smoothing.
    """
    return ops.loss.CrossEntropy.apply(input, _plain(target), weight=_plain(weight),
                                       ignore_index=ignore_index, reduction=reduction,
                                       label_smoothing=label_smoothing)


def nll_loss(input: Tensor, target: Any, weight: Any = None, ignore_index: int = -100,  # noqa: A002
             reduction: str = "mean") -> Tensor:
    """-w_y * input[y] for log-probabilities (e.g. log_softmax output). See ops.loss.NLLLoss."""
    return ops.loss.NLLLoss.apply(input, _plain(target), weight=_plain(weight),
                                  ignore_index=ignore_index, reduction=reduction)


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """(input - target)^2, averaged by default. Shapes must be equal (see ops.loss.MSELoss)."""
    return ops.loss.MSELoss.apply(input, target, reduction=reduction)


def l1_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """|input - target|, averaged by default. See ops.loss.L1Loss."""
    return ops.loss.L1Loss.apply(input, target, reduction=reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Any, weight: Any = None,  # noqa: A002
                                     reduction: str = "mean",
                                     pos_weight: Any = None) -> Tensor:
    """Sigmoid + binary cross-entropy on logits, in the stable softplus form.

    See ops.loss.BCEWithLogits; target has input's shape, values in [0, 1].
    """
    return ops.loss.BCEWithLogits.apply(input, target, weight=_plain(weight),
                                        pos_weight=_plain(pos_weight), reduction=reduction)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:  # noqa: A002
    """x / max(||x||_p, eps) along ``dim`` (torch.nn.functional.normalize)."""
    return input / input.norm(p=p, dim=dim, keepdim=True).clamp(min=eps)


# -- convolution and pooling (handgrad.ops.conv) ----------------------------------------
# -- recurrent (handgrad.ops.recurrent) ---------------------------------------------------
