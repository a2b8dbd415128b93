"""The math of handgrad: one Function per operation, grouped by family.

Every Function is usable in two ways (see handgrad.function):

- on Tensors, recording the graph: ``handgrad.nn.functional.relu(x)`` or ``x.relu()``;
- layer by layer on plain arrays, CS231n style: ``out, cache = relu_forward(x)`` and
  ``dx = relu_backward(dout, cache)``.

This module also gives Tensor its operators (+, -, *, /, **, @, indexing) and methods.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from handgrad.ops import elementwise, linalg, loss, reduction, shape
from handgrad.ops.dims import DimensionError, wrap_dim, wrap_dims  # noqa: F401 (re-exported)
from handgrad.ops.elementwise import (
    Abs,
    Add,
    Cast,
    Clamp,
    Div,
    Exp,
    LeakyReLU,
    Log,
    Maximum,
    Mul,
    Neg,
    Pow,
    ReLU,
    Sigmoid,
    Sqrt,
    Sub,
    Tanh,
    Where,
    stable_sigmoid,
    unbroadcast,
)
from handgrad.ops.linalg import (
    Linear,
    MatMul,
    linear_backward,
    linear_forward,
    matmul_backward,
    matmul_forward,
)
from handgrad.ops.loss import (
    BCEWithLogits,
    CrossEntropy,
    L1Loss,
    LogSoftmax,
    MSELoss,
    NLLLoss,
    Softmax,
    bce_with_logits_backward,
    bce_with_logits_forward,
    l1_backward,
    l1_forward,
    log_softmax_backward,
    log_softmax_forward,
    mse_backward,
    mse_forward,
    nll_backward,
    nll_forward,
    softmax_backward,
    softmax_cross_entropy_backward,
    softmax_cross_entropy_forward,
    softmax_forward,
    softmax_loss,
)
from handgrad.ops.reduction import LogSumExp, Max, Mean, Min, Norm, Sum
from handgrad.ops.shape import (
    Clone,
    Concat,
    Expand,
    GetItem,
    Pad,
    Permute,
    Reshape,
    Stack,
    Transpose,
)
from handgrad.tensor import Tensor

# layer-by-layer doors of the elementwise activations
relu_forward, relu_backward = ReLU.layer_forward, ReLU.layer_backward
tanh_forward, tanh_backward = Tanh.layer_forward, Tanh.layer_backward
sigmoid_forward, sigmoid_backward = Sigmoid.layer_forward, Sigmoid.layer_backward
leaky_relu_forward, leaky_relu_backward = LeakyReLU.layer_forward, LeakyReLU.layer_backward

__all__ = [
    "elementwise", "linalg", "reduction", "shape", "unbroadcast", "stable_sigmoid",
    "DimensionError", "wrap_dim", "wrap_dims",
    "Abs", "Add", "Cast", "Clamp", "Div", "Exp", "LeakyReLU", "Log", "Maximum", "Mul", "Neg",
    "Pow", "ReLU", "Sigmoid", "Sqrt", "Sub", "Tanh", "Where", "Linear", "MatMul", "LogSumExp",
    "Max", "Mean", "Min", "Sum", "Clone", "Concat", "Expand", "GetItem", "Pad", "Permute",
    "Reshape", "Stack", "Transpose",
    "linear_forward", "linear_backward", "matmul_forward", "matmul_backward",
    "relu_forward", "relu_backward", "tanh_forward", "tanh_backward",
    "sigmoid_forward", "sigmoid_backward", "leaky_relu_forward", "leaky_relu_backward",
    "Norm", "loss", "Softmax", "LogSoftmax", "CrossEntropy", "NLLLoss", "MSELoss", "L1Loss",
    "BCEWithLogits", "softmax_forward", "softmax_backward", "log_softmax_forward",
    "log_softmax_backward", "softmax_cross_entropy_forward", "softmax_cross_entropy_backward",
    "softmax_loss", "nll_forward", "nll_backward", "mse_forward", "mse_backward", "l1_forward",
    "l1_backward", "bce_with_logits_forward", "bce_with_logits_backward",
]


_SCALARS = (int, float, np.number)  # bool is an int; a tuple is faster than a union here


def _operand(other: Any, like: Tensor) -> Any:
    """The other side of a binary operator.

    Python and NumPy scalars take the tensor's dtype, so ``x * 2.0`` stays float32 (no
    silent upcast); Tensors and arrays are left as they are (NumPy's promotion rules).
    """
    if isinstance(other, Tensor):
        return other
    if isinstance(other, _SCALARS) and like.data.dtype.kind == "f":
        return like.data.dtype.type(other)
    if isinstance(other, np.ndarray):
        return other
    from handgrad.tensor import as_array

    return as_array(other, name="operand")


def _seq_arg(args: tuple[Any, ...]) -> tuple[int, ...]:
    if len(args) == 1 and isinstance(args[0], tuple | list):
        return tuple(args[0])
    return tuple(args)


def _install_tensor_methods() -> None:
    T = Tensor
    T.__add__ = lambda a, b: Add.apply(a, _operand(b, a))
    T.__radd__ = lambda a, b: Add.apply(_operand(b, a), a)
    T.__sub__ = lambda a, b: Sub.apply(a, _operand(b, a))
    T.__rsub__ = lambda a, b: Sub.apply(_operand(b, a), a)
    T.__mul__ = lambda a, b: Mul.apply(a, _operand(b, a))
    T.__rmul__ = lambda a, b: Mul.apply(_operand(b, a), a)
    T.__truediv__ = lambda a, b: Div.apply(a, _operand(b, a))
    T.__rtruediv__ = lambda a, b: Div.apply(_operand(b, a), a)
    T.__pow__ = lambda a, b: Pow.apply(a, _operand(b, a))
    T.__rpow__ = lambda a, b: Pow.apply(_operand(b, a), a)
    T.__matmul__ = lambda a, b: MatMul.apply(a, _operand(b, a))
    T.__rmatmul__ = lambda a, b: MatMul.apply(_operand(b, a), a)
    T.__neg__ = lambda a: Neg.apply(a)
    T.__getitem__ = lambda a, index: GetItem.apply(a, index=_index(index))
    # comparisons give plain boolean tensors (no gradient), as in PyTorch
    T.__lt__ = lambda a, b: Tensor._wrap(a.data < _data(b), False)
    T.__le__ = lambda a, b: Tensor._wrap(a.data <= _data(b), False)
    T.__gt__ = lambda a, b: Tensor._wrap(a.data > _data(b), False)
    T.__ge__ = lambda a, b: Tensor._wrap(a.data >= _data(b), False)
    T.__eq__ = lambda a, b: Tensor._wrap(a.data == _data(b), False)
    T.__ne__ = lambda a, b: Tensor._wrap(a.data != _data(b), False)
    T.__hash__ = object.__hash__
    T.__bool__ = lambda a: bool(a.item())
    T.__float__ = lambda a: float(a.item())
    T.__int__ = lambda a: int(a.item())
    T.__array__ = _array_interface

    T.add = T.__add__
    T.sub = T.__sub__
    T.mul = T.__mul__
    T.div = T.__truediv__
    T.pow = T.__pow__
    T.matmul = T.__matmul__
    T.neg = T.__neg__
    T.exp = lambda a: Exp.apply(a)
    T.log = lambda a: Log.apply(a)
    T.sqrt = lambda a: Sqrt.apply(a)
    T.abs = lambda a: Abs.apply(a)
    T.tanh = lambda a: Tanh.apply(a)
    T.sigmoid = lambda a: Sigmoid.apply(a)
    T.softmax = lambda a, dim: Softmax.apply(a, dim=dim)
    T.log_softmax = lambda a, dim: LogSoftmax.apply(a, dim=dim)
    T.relu = lambda a: ReLU.apply(a)
    T.clamp = lambda a, min=None, max=None: Clamp.apply(a, min=min, max=max)  # noqa: A002
    T.sum = lambda a, dim=None, keepdim=False: Sum.apply(a, dim=dim, keepdim=keepdim)
    T.mean = lambda a, dim=None, keepdim=False: Mean.apply(a, dim=dim, keepdim=keepdim)
    T.max = lambda a, dim=None, keepdim=False: _extremum(Max, np.argmax, a, dim, keepdim)
    T.min = lambda a, dim=None, keepdim=False: _extremum(Min, np.argmin, a, dim, keepdim)
    T.logsumexp = lambda a, dim=None, keepdim=False: LogSumExp.apply(a, dim=dim,
                                                                      keepdim=keepdim)
    T.norm = lambda a, p=2, dim=None, keepdim=False: Norm.apply(a, p=p, dim=dim,
                                                                keepdim=keepdim)
    T.reshape = lambda a, *shape: Reshape.apply(a, shape=_seq_arg(shape))
    T.view = T.reshape
    T.flatten = lambda a, start_dim=0, end_dim=-1: _flatten(a, start_dim, end_dim)
    T.permute = lambda a, *dims: Permute.apply(a, dims=_seq_arg(dims))
    T.transpose = lambda a, dim0, dim1: Transpose.apply(a, dim0=dim0, dim1=dim1)
    T.expand = lambda a, *shape: Expand.apply(a, shape=_seq_arg(shape))
    T.unsqueeze = _unsqueeze
    T.squeeze = _squeeze
    T.argmax = lambda a, dim=None, keepdim=False: _arg_extremum(np.argmax, "argmax", a, dim,
                                                                keepdim)
    T.argmin = lambda a, dim=None, keepdim=False: _arg_extremum(np.argmin, "argmin", a, dim,
                                                                keepdim)


def _extremum(fn: Any, arg: Any, a: Tensor, dim: Any, keepdim: bool) -> Any:
    """x.max() is a Tensor; x.max(dim) is (values, indices), as torch.return_types.max."""
    values = fn.apply(a, dim=dim, keepdim=keepdim)
    if dim is None:
        return values
    if a.ndim == 0:
        return reduction.ValuesIndices(values, Tensor._wrap(np.zeros((), np.int64), False))
    indices = Tensor._wrap(np.asarray(arg(a.data, axis=dim, keepdims=keepdim)), False)
    return reduction.ValuesIndices(values, indices)


def _arg_extremum(arg: Any, name: str, a: Tensor, dim: Any, keepdim: bool) -> Tensor:
    """argmax/argmin over all elements (dim None) or one dim, as torch."""
    if dim is None:
        if a.data.size == 0:
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for "
                               f"input.numel() == 0 (shape {a.shape})")
        out = np.asarray(arg(a.data))
        return Tensor._wrap(out.reshape((1,) * a.ndim) if keepdim else out, False)
    d = wrap_dim(dim, a.ndim, name)
    if a.ndim == 0:
        return Tensor._wrap(np.zeros((), np.int64), False)
    if a.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size "
                         f"(shape {a.shape})")
    return Tensor._wrap(np.asarray(arg(a.data, axis=d, keepdims=keepdim)), False)


def _unsqueeze(a: Tensor, dim: int) -> Tensor:
    """A new axis of size 1 at ``dim`` (in -(n+1)..n)."""
    d = wrap_dim(dim, a.ndim, "unsqueeze", extra=1)
    return Reshape.apply(a, shape=a.shape[:d] + (1,) + a.shape[d:])


def _squeeze(a: Tensor, dim: Any = None) -> Tensor:
    """Drop axes of size 1: all of them (dim None), or those of ``dim`` (an int or a
    tuple) that have size 1; others are left alone, as in PyTorch."""
    if dim is None:
        dims = [d for d, n in enumerate(a.shape) if n == 1]
    elif isinstance(dim, tuple | list):
        dims = [wrap_dim(d, a.ndim, "squeeze") for d in dim]
        if len(set(dims)) != len(dims):
            twice = next(d for d in dims if dims.count(d) > 1)
            raise RuntimeError(f"squeeze: dim {twice} appears multiple times in the list of "
                               f"dims (dim={tuple(dim)})")
    else:
        dims = [wrap_dim(dim, a.ndim, "squeeze")]
    keep = tuple(n for d, n in enumerate(a.shape) if not (d in dims and n == 1))
    return Reshape.apply(a, shape=keep)


def _data(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _index(index: Any) -> Any:
    """Tensors inside an index become their arrays (x[idx_tensor] works as in PyTorch)."""
    if isinstance(index, tuple):
        return tuple(_data(i) for i in index)
    return _data(index)


def _array_interface(a: Tensor, dtype: Any = None, copy: Any = None) -> np.ndarray:
    return a.data if dtype is None else a.data.astype(dtype)


def _flatten(a: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge the axes start_dim..end_dim (inclusive) into one, as torch.flatten."""
    s = wrap_dim(start_dim, a.ndim, "flatten", "start_dim")
    e = wrap_dim(end_dim, a.ndim, "flatten", "end_dim")
    if s > e:
        raise RuntimeError(f"flatten: invalid args: start_dim cannot come after end_dim "
                           f"(start_dim={start_dim}, end_dim={end_dim} for shape {a.shape})")
    if a.ndim == 0:
        return Reshape.apply(a, shape=(1,))
    new = a.shape[:s] + (int(np.prod(a.shape[s:e + 1])),) + a.shape[e + 1:]
    return Reshape.apply(a, shape=new)


_install_tensor_methods()

# -- convolution, pooling, batch norm (ops/conv.py, ops/pooling.py, ops/batchnorm.py) -----
from handgrad.ops import batchnorm, conv, output_size, pooling  # noqa: E402
from handgrad.ops.batchnorm import BatchNorm, batch_norm_backward, batch_norm_forward  # noqa: E402
from handgrad.ops.conv import Conv2d, conv2d_backward, conv2d_forward  # noqa: E402
from handgrad.ops.output_size import conv_output_size, pool_output_size  # noqa: E402
from handgrad.ops.pooling import (  # noqa: E402
    AdaptiveAvgPool2d,
    AvgPool2d,
    MaxPool2d,
    adaptive_avg_pool2d_backward,
    adaptive_avg_pool2d_forward,
    avg_pool2d_backward,
    avg_pool2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
)

__all__ += ["conv", "pooling", "output_size", "batchnorm", "Conv2d", "MaxPool2d",
            "AvgPool2d", "AdaptiveAvgPool2d", "BatchNorm", "conv2d_forward",
            "conv2d_backward", "conv_output_size", "pool_output_size", "max_pool2d_forward",
            "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward",
            "adaptive_avg_pool2d_forward", "adaptive_avg_pool2d_backward",
            "batch_norm_forward", "batch_norm_backward"]

# -- recurrent (ops/recurrent.py): fused sequence Functions and their CS231n doors --------
from handgrad.ops import embedding, recurrent  # noqa: E402
from handgrad.ops.embedding import Embedding, embedding_backward, embedding_forward  # noqa: E402
from handgrad.ops.recurrent import (  # noqa: E402
    GRUSequence,
    GRUStep,
    LSTMSequence,
    LSTMStep,
    RNNSequence,
    RNNStep,
    gru_backward,
    gru_forward,
    gru_step_backward,
    gru_step_forward,
    lstm_backward,
    lstm_forward,
    lstm_step_backward,
    lstm_step_forward,
    rnn_backward,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
)

__all__ += [
    "recurrent", "embedding", "Embedding", "RNNSequence", "LSTMSequence", "GRUSequence", "RNNStep",
    "LSTMStep", "GRUStep", "rnn_forward", "rnn_backward", "rnn_step_forward",
    "rnn_step_backward", "lstm_forward", "lstm_backward", "lstm_step_forward",
    "lstm_step_backward", "gru_forward", "gru_backward", "gru_step_forward",
    "gru_step_backward", "embedding_forward", "embedding_backward",
]
