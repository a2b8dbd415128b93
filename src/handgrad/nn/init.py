"""Weight initialisers, PyTorch-named, drawing from handgrad's seeded generator.

The defaults of the layers follow PyTorch: Linear and Conv2d use
kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the weight, and
the same bound for the bias; recurrent layers use U(-1/sqrt(hidden), 1/sqrt(hidden)).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from handgrad.random import get_rng
from handgrad.tensor import Tensor

__all__ = ["calculate_fan_in_and_fan_out", "calculate_gain", "uniform_", "normal_", "zeros_",
           "ones_", "constant_", "kaiming_uniform_", "kaiming_normal_", "xavier_uniform_",
           "xavier_normal_", "orthogonal_"]


def calculate_fan_in_and_fan_out(t: Tensor | np.ndarray) -> tuple[int, int]:
    """fan_in = in_features * receptive field, fan_out = out_features * receptive field
    for a weight laid out (out, in, *kernel)."""
    shape = t.shape
    if len(shape) < 2:
        raise ValueError(f"fan in/out need a tensor with at least 2 dims, got shape {shape}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The factor that keeps activations' variance steady through ``nonlinearity``
    (PyTorch's table: 1 for linear/conv/sigmoid, 5/3 tanh, sqrt 2 relu,
    sqrt(2 / (1 + slope^2)) leaky_relu, 3/4 selu)."""
    if nonlinearity in ("linear", "sigmoid", "conv1d", "conv2d", "conv3d",
                        "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"):
        return 1.0
    if nonlinearity == "selu":
        return 3.0 / 4
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope**2))
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _array(t: Tensor | np.ndarray) -> np.ndarray:
    # An np.ndarray's own ``.data`` is a memoryview, so arrays are handled explicitly.
    if isinstance(t, np.ndarray):
        return t
    if isinstance(t, Tensor):
        return t.data
    raise TypeError(f"init: expected a Tensor/Parameter or np.ndarray, got {type(t).__name__}")


def _fill(t: Tensor, values: np.ndarray) -> Tensor:
    arr = _array(t)
    arr[...] = values.astype(arr.dtype, copy=False)
    return t


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with U(a, b) from handgrad's generator (drawn in float64, cast to t's dtype)."""
    return _fill(t, get_rng().uniform(a, b, size=t.shape))


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    return _fill(t, get_rng().normal(mean, std, size=t.shape))


def constant_(t: Tensor, value: float) -> Tensor:
    _array(t)[...] = value
    return t


def zeros_(t: Tensor) -> Tensor:
    return constant_(t, 0.0)


def ones_(t: Tensor) -> Tensor:
    return constant_(t, 1.0)


def _fan(t: Tensor, mode: str) -> int:
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan = fan_in if mode == "fan_in" else fan_out
    if fan == 0:
        raise ValueError(f"kaiming init: {mode} is 0 for a weight of shape {t.shape}")
    return fan


def kaiming_uniform_(t: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu") -> Tensor:
    """U(-bound, bound), bound = gain * sqrt(3 / fan)."""
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(t, mode))
    return uniform_(t, -bound, bound)


def kaiming_normal_(t: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu") -> Tensor:
    """N(0, std^2), std = gain / sqrt(fan)."""
    return normal_(t, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(_fan(t, mode)))


def xavier_uniform_(t: Tensor, gain: float = 1.0) -> Tensor:
    """U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -bound, bound)


def xavier_normal_(t: Tensor, gain: float = 1.0) -> Tensor:
    """N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def orthogonal_(t: Tensor, gain: float = 1.0) -> Tensor:
    """A (semi-)orthogonal matrix (rows or columns orthonormal, times ``gain``) from the
    QR decomposition of a Gaussian matrix, signs fixed by diag(R) so it is uniform
    (Haar) distributed; dims after the first are flattened."""
    if len(t.shape) < 2:
        raise ValueError(f"orthogonal_: needs a tensor with at least 2 dims, got shape "
                         f"{t.shape}")
    rows = t.shape[0]
    cols = int(np.prod(t.shape[1:]))
    flat = get_rng().standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(t, gain * q[:rows, :cols].reshape(t.shape))


def default_bias_bound(weight: Any) -> float:
    """PyTorch's default bias range for Linear/Conv: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    fan_in, _ = calculate_fan_in_and_fan_out(weight)
    return 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
