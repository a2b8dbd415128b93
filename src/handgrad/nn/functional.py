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


def _tensor_arg(x: Any, name: str, fn: str, optional: bool = False) -> None:
    """A Tensor (or an np.ndarray) is required: a list would fail deep inside NumPy."""
    import numpy as np

    if optional and x is None:
        return
    if not isinstance(x, Tensor | np.ndarray):
        raise TypeError(f"{fn}: {name} must be a Tensor (or np.ndarray), got "
                        f"{type(x).__name__}; wrap it with handgrad.tensor(...)")


def _real_arg(x: Any, name: str, fn: str) -> None:
    import numbers

    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{fn}: {name} must be a real number, got {type(x).__name__} {x!r}")


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:  # noqa: A002
    """y = x W^T + b with W of shape (out_features, in_features). See ops.linalg.Linear."""
    _tensor_arg(input, "input", "linear")
    _tensor_arg(weight, "weight", "linear")
    _tensor_arg(bias, "bias", "linear", optional=True)
    _check_float(input, "input", "linear")
    return ops.Linear.apply(input, weight, bias)


def relu(input: Tensor) -> Tensor:  # noqa: A002
    return ops.ReLU.apply(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:  # noqa: A002
    _real_arg(negative_slope, "negative_slope", "leaky_relu")
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
    _tensor_arg(input, "input", "cross_entropy")
    return ops.loss.CrossEntropy.apply(input, _plain(target), weight=_plain(weight),
                                       ignore_index=ignore_index, reduction=reduction,
                                       label_smoothing=label_smoothing)


def nll_loss(input: Tensor, target: Any, weight: Any = None, ignore_index: int = -100,  # noqa: A002
             reduction: str = "mean") -> Tensor:
    """-w_y * input[y] for log-probabilities (e.g. log_softmax output). See ops.loss.NLLLoss."""
    _tensor_arg(input, "input", "nll_loss")
    return ops.loss.NLLLoss.apply(input, _plain(target), weight=_plain(weight),
                                  ignore_index=ignore_index, reduction=reduction)


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """(input - target)^2, averaged by default. Shapes must be equal (see ops.loss.MSELoss)."""
    _tensor_arg(input, "input", "mse_loss")
    return ops.loss.MSELoss.apply(input, target, reduction=reduction)


def l1_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """|input - target|, averaged by default. See ops.loss.L1Loss."""
    _tensor_arg(input, "input", "l1_loss")
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
from handgrad.ops import batchnorm as _bn  # noqa: E402
from handgrad.ops import conv as _conv  # noqa: E402
from handgrad.ops import pooling as _pooling  # noqa: E402

conv_output_size = _conv.conv_output_size


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,  # noqa: A002
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-D cross-correlation, PyTorch's semantics: input (N, C, H, W) or (C, H, W), weight
    (O, C/groups, kH, kW), padding an int, a pair, 'valid' or 'same'. See ops.conv.Conv2d
    for the im2col forward and the backward derived as convolutions."""
    _check_float(input, "input", "conv2d")
    return _conv.Conv2d.apply(input, weight, bias, stride=stride, padding=padding,
                              dilation=dilation, groups=groups)


def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,  # noqa: A002
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Max over each window (padding counts as -inf); ties go to the first maximum in
    row-major order, as PyTorch. With ``return_indices`` returns (out, indices) with
    indices into each input plane (int64). See ops.pooling.MaxPool2d."""
    _check_float(input, "input", "max_pool2d")
    return _pooling.MaxPool2d.apply(input, kernel_size=kernel_size, stride=stride,
                                 padding=padding, dilation=dilation, ceil_mode=ceil_mode,
                                 return_indices=return_indices)


def avg_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,  # noqa: A002
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """Mean over each window with PyTorch's divisor rules. See ops.pooling.AvgPool2d."""
    _check_float(input, "input", "avg_pool2d")
    return _pooling.AvgPool2d.apply(input, kernel_size=kernel_size, stride=stride,
                                 padding=padding, ceil_mode=ceil_mode,
                                 count_include_pad=count_include_pad,
                                 divisor_override=divisor_override)


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:  # noqa: A002
    """Average over PyTorch's adaptive windows to a fixed (OH, OW) (an int, a pair, None
    keeps that size). See ops.pooling.AdaptiveAvgPool2d."""
    _check_float(input, "input", "adaptive_avg_pool2d")
    return _pooling.AdaptiveAvgPool2d.apply(input, output_size=output_size)


def batch_norm(input: Tensor, running_mean: Any, running_var: Any,  # noqa: A002
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float | None = 0.1,
               eps: float = 1e-5) -> Tensor:
    """Batch normalisation over axis 1 (PyTorch's signature). When ``training`` the batch
    statistics normalise and the running statistics (np.ndarrays, or None) are updated in
    place with the unbiased variance. See ops.batchnorm.BatchNorm for the backward."""
    _check_float(input, "input", "batch_norm")
    return _bn.BatchNorm.apply(input, weight, bias, _plain(running_mean), _plain(running_var),
                               training=training, momentum=momentum, eps=eps)


# -- recurrent (handgrad.ops.recurrent) ---------------------------------------------------


def embedding(input: Any, weight: Tensor, padding_idx: int | None = None) -> Tensor:  # noqa: A002
    """weight[input]: rows of the table for integer ids; repeated ids sum their gradients,
    the ``padding_idx`` row gets none. See ops.embedding.Embedding."""
    from handgrad.ops.embedding import Embedding

    idx = input.data if isinstance(input, Tensor) else input
    return Embedding.apply(idx, weight, padding_idx=padding_idx)


def rnn(input: Tensor, hx: Tensor | None, w_ih: Tensor, w_hh: Tensor,  # noqa: A002
        b_ih: Tensor | None = None, b_hh: Tensor | None = None, nonlinearity: str = "tanh",
        reverse: bool = False) -> tuple[Tensor, Tensor]:
    """One RNN layer over a (T, N, D) sequence: returns (out (T, N, H), h_n (N, H)).
    ``hx`` is (N, H) or None (zeros). See ops.recurrent.RNNSequence."""
    from handgrad.ops.recurrent import RNNSequence

    _check_float(input, "input", "rnn")
    return RNNSequence.apply(input, hx, w_ih, w_hh, b_ih, b_hh, nonlinearity=nonlinearity,
                             reverse=reverse)


def lstm(input: Tensor, hx: tuple[Tensor, Tensor] | None, w_ih: Tensor,  # noqa: A002
         w_hh: Tensor, b_ih: Tensor | None = None, b_hh: Tensor | None = None,
         reverse: bool = False) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """One LSTM layer over a (T, N, D) sequence: returns (out, (h_n, c_n)); ``hx`` is
    (h0, c0) of shape (N, H) each, or None. See ops.recurrent.LSTMSequence."""
    from handgrad.ops.recurrent import LSTMSequence

    _check_float(input, "input", "lstm")
    h0, c0 = (None, None) if hx is None else hx
    out, h_n, c_n = LSTMSequence.apply(input, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse=reverse)
    return out, (h_n, c_n)


def gru(input: Tensor, hx: Tensor | None, w_ih: Tensor, w_hh: Tensor,  # noqa: A002
        b_ih: Tensor | None = None, b_hh: Tensor | None = None,
        reverse: bool = False) -> tuple[Tensor, Tensor]:
    """One GRU layer over a (T, N, D) sequence: returns (out, h_n). See
    ops.recurrent.GRUSequence."""
    from handgrad.ops.recurrent import GRUSequence

    _check_float(input, "input", "gru")
    return GRUSequence.apply(input, hx, w_ih, w_hh, b_ih, b_hh, reverse=reverse)
