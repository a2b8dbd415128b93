"""Elementwise operations and broadcasting.

Notation: x, y are inputs, z the output, and dz = dL/dz is the upstream gradient, of
z's shape. Every backward returns dL/dx = dz * dz/dx, elementwise.

Broadcasting: when x of shape (3, 1) meets y of shape (4,), both are stretched to
(3, 4). Stretching copies a value to several places, so on the way back the gradients
of those places are *summed* (one value influenced all of them): :func:`unbroadcast`
sums dz over the stretched axes to give back x's own shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from handgrad.function import Context, Function

_HAS_SHAPE = (np.ndarray, np.generic)


def _shape(a: Any) -> tuple[int, ...]:
    """np.shape without its dispatch overhead (~1.5 us a call) for arrays and NumPy scalars."""
    return a.shape if isinstance(a, _HAS_SHAPE) else np.shape(a)


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched, to get ``shape``.

    (3, 4) -> (4,): sum over axis 0.  (3, 4) -> (3, 1): sum over axis 1, keep it.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


def _check_broadcast(op: str, a: Any, b: Any) -> None:
    sa, sb = np.shape(a), np.shape(b)
    try:
        np.broadcast_shapes(sa, sb)
    except ValueError:
        raise ValueError(
            f"{op}: shapes {sa} and {sb} cannot be broadcast together. Rule: align the shapes "
            f"from the right; each pair of sizes must be equal or one of them 1."
        ) from None


class Add(Function):
    """z = x + y.   dL/dx = unbroadcast(dz),  dL/dy = unbroadcast(dz)."""

    @staticmethod
    def forward(ctx: Context, x: Any, y: Any) -> np.ndarray:
        ctx.shapes = (_shape(x), _shape(y))
        try:
            return np.add(x, y)
        except ValueError:
            _check_broadcast("add", x, y)
            raise

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> tuple[Any, Any]:
        sx, sy = ctx.shapes
        return unbroadcast(dz, sx), unbroadcast(dz, sy)


class Sub(Function):
    """z = x - y.   dL/dx = unbroadcast(dz),  dL/dy = -unbroadcast(dz)."""

    @staticmethod
    def forward(ctx: Context, x: Any, y: Any) -> np.ndarray:
        ctx.shapes = (_shape(x), _shape(y))
        try:
            return np.subtract(x, y)
        except ValueError:
            _check_broadcast("sub", x, y)
            raise

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> tuple[Any, Any]:
        sx, sy = ctx.shapes
        return unbroadcast(dz, sx), -unbroadcast(dz, sy)


class Mul(Function):
    """z = x * y.   dL/dx = unbroadcast(dz * y),  dL/dy = unbroadcast(dz * x)."""

    @staticmethod
    def forward(ctx: Context, x: Any, y: Any) -> np.ndarray:
        ctx.save_for_backward(x, y)
        try:
            return np.multiply(x, y)
        except ValueError:
            _check_broadcast("mul", x, y)
            raise

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> tuple[Any, Any]:
        x, y = ctx.saved_arrays
        need_x, need_y = ctx.needs_input_grad
        dx = unbroadcast(dz * y, _shape(x)) if need_x else None
        dy = unbroadcast(dz * x, _shape(y)) if need_y else None
        return dx, dy


class Div(Function):
    """z = x / y.   dL/dx = unbroadcast(dz / y),  dL/dy = unbroadcast(-dz * x / y^2)."""

    @staticmethod
    def forward(ctx: Context, x: Any, y: Any) -> np.ndarray:
        ctx.save_for_backward(x, y)
        try:
            return np.divide(x, y)
        except ValueError:
            _check_broadcast("div", x, y)
            raise

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> tuple[Any, Any]:
        x, y = ctx.saved_arrays
        need_x, need_y = ctx.needs_input_grad
        dx = unbroadcast(dz / y, _shape(x)) if need_x else None
        dy = unbroadcast(-dz * x / (y * y), _shape(y)) if need_y else None
        return dx, dy


class Pow(Function):
    """z = x ** p.   dL/dx = dz * p * x^(p-1);  dL/dp = dz * z * ln(x).

    PyTorch's conventions at the edges, followed here: where p == 0, z = 1 is constant
    and dL/dx = 0 (not 0 * x^-1 = nan at x = 0); at x = 0 with 0 < p < 1 dL/dx is inf.
    dL/dp is 0 where x == 0 and p >= 0 (z * ln x = 0 * -inf there), nan for x < 0.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, p: Any) -> np.ndarray:
        z = np.power(x, p)
        ctx.save_for_backward(x, p, z)
        return z

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> tuple[Any, Any]:
        x, p, z = ctx.saved_arrays
        need_x, need_p = ctx.needs_input_grad
        dx = dp = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if need_x:
                local = p * np.power(x, p - 1)
                if np.any(p == 0):
                    local = np.where(p == 0, 0, local).astype(local.dtype, copy=False)
                dx = unbroadcast(dz * local, _shape(x))
            if need_p:
                zlogx = z * np.log(x)
                zero_base = (x == 0) & (p >= 0)
                if np.any(zero_base):
                    zlogx = np.where(zero_base, 0, zlogx).astype(zlogx.dtype, copy=False)
                dp = unbroadcast(dz * zlogx, _shape(p))
        return dx, dp


class Neg(Function):
    """z = -x.   dL/dx = -dz."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        return np.negative(x)

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> np.ndarray:
        return -dz


class Exp(Function):
    """z = e^x.   dL/dx = dz * e^x = dz * z."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        z = np.exp(x)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> np.ndarray:
        (z,) = ctx.saved_arrays
        return dz * z


class Log(Function):
    """z = ln x.   dL/dx = dz / x."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> np.ndarray:
        (x,) = ctx.saved_arrays
        return dz / x


class Sqrt(Function):
    """z = sqrt(x).   dL/dx = dz / (2 sqrt(x)) = dz / (2 z)."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        z = np.sqrt(x)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> np.ndarray:
        (z,) = ctx.saved_arrays
        return dz / (2 * z)


class Abs(Function):
    """z = |x|.   dL/dx = dz * sign(x)  (sign(0) = 0, PyTorch's subgradient at the kink)."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(x)
        return np.abs(x)

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> np.ndarray:
        (x,) = ctx.saved_arrays
        return dz * np.sign(x)


class Tanh(Function):
    """z = tanh(x).   dL/dx = dz * (1 - z^2)."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        z = np.tanh(x)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> np.ndarray:
        (z,) = ctx.saved_arrays
        return dz * (1 - z * z)


def stable_sigmoid(x: np.ndarray) -> np.ndarray:
    """sigma(x) = 1 / (1 + e^-x), computed without overflow.

    For x >= 0, e^-x <= 1 is safe. For x < 0 the same value is e^x / (1 + e^x), where
    e^x <= 1. Both branches use e^-|x|, so nothing ever overflows.
    """
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


class Sigmoid(Function):
    """z = sigma(x) = 1 / (1 + e^-x).   dL/dx = dz * z * (1 - z)."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        z = stable_sigmoid(x)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> np.ndarray:
        (z,) = ctx.saved_arrays
        return dz * z * (1 - z)


class ReLU(Function):
    """z = max(0, x).   dL/dx = dz where x > 0, else 0 (0 at the kink x = 0, as PyTorch)."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        z = np.maximum(x, 0)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> np.ndarray:
        (z,) = ctx.saved_arrays
        return dz * (z > 0)


class LeakyReLU(Function):
    """z = x if x > 0 else a*x.   dL/dx = dz where x > 0, else a*dz."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, negative_slope: float = 0.01) -> np.ndarray:
        positive = x > 0
        ctx.save_for_backward(positive)
        ctx.slope = negative_slope
        return np.where(positive, x, x * negative_slope).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> np.ndarray:
        (positive,) = ctx.saved_arrays
        return np.where(positive, dz, dz * ctx.slope).astype(dz.dtype, copy=False)


class Maximum(Function):
    """z = max(x, y) elementwise.  The gradient goes to the larger input; on ties it is
    split in half between them (PyTorch's rule for torch.maximum)."""

    @staticmethod
    def forward(ctx: Context, x: Any, y: Any) -> np.ndarray:
        ctx.save_for_backward(x, y)
        return np.maximum(x, y)

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> tuple[Any, Any]:
        x, y = ctx.saved_arrays
        wx = (x > y) + 0.5 * (x == y)
        return (unbroadcast(dz * wx, _shape(x)).astype(dz.dtype, copy=False),
                unbroadcast(dz * (1 - wx), _shape(y)).astype(dz.dtype, copy=False))


class Clamp(Function):
    """z = min(max(x, lo), hi).   dL/dx = dz where lo <= x <= hi, else 0."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, min: Any = None, max: Any = None) -> np.ndarray:  # noqa: A002
        if min is None and max is None:
            raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
        for name, v in (("min", min), ("max", max)):
            if v is not None and not isinstance(v, int | float | np.number | np.ndarray):
                raise TypeError(f"clamp: {name} must be a number, got {type(v).__name__} "
                                f"{v!r}")
        inside = np.ones(x.shape, dtype=bool)
        if min is not None:
            inside &= x >= min
        if max is not None:
            inside &= x <= max
        ctx.save_for_backward(inside)
        return np.clip(x, min, max)

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> np.ndarray:
        (inside,) = ctx.saved_arrays
        return dz * inside


class Cast(Function):
    """z = x converted to another dtype.   dL/dx = dz converted back to x's dtype."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, dtype: np.dtype) -> np.ndarray:
        ctx.in_dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> np.ndarray:
        return dz.astype(ctx.in_dtype)


class Fill(Function):
    """z = value everywhere (``t.fill_(value)``, ``t.zero_()``).   dL/dx = 0.

    z does not depend on x at all, so no gradient reaches x (a zero array, as PyTorch's
    FillBackward gives, rather than None: x's earlier graph still receives its zeros).
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, value: Any) -> np.ndarray:
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise TypeError(f"fill_: value must be a number, got {type(value).__name__}")
        ctx.shape = x.shape
        return np.full(x.shape, value, dtype=x.dtype)

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> np.ndarray:
        return np.zeros(ctx.shape, dtype=dz.dtype)


class CopyFrom(Function):
    """z = src broadcast to x's shape (``t.copy_(src)``).   dL/dx = 0, dL/dsrc = dz
    summed back over the broadcast axes."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, src: Any) -> np.ndarray:
        src = np.asarray(src)
        try:
            out = np.broadcast_to(src, x.shape)
        except ValueError:
            raise RuntimeError(f"copy_: src of shape {src.shape} cannot be broadcast to the "
                               f"tensor's shape {x.shape}") from None
        ctx.shapes = (x.shape, src.shape)
        return out.astype(x.dtype, copy=True)

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> tuple[Any, Any]:
        x_shape, src_shape = ctx.shapes
        return np.zeros(x_shape, dtype=dz.dtype), unbroadcast(dz, src_shape)


class Where(Function):
    """z = cond ? x : y.   dL/dx = dz where cond, dL/dy = dz elsewhere."""

    @staticmethod
    def forward(ctx: Context, cond: np.ndarray, x: Any, y: Any) -> np.ndarray:
        ctx.save_for_backward(cond)
        ctx.shapes = (_shape(x), _shape(y))
        return np.where(cond, x, y)

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> tuple[Any, Any, Any]:
        (cond,) = ctx.saved_arrays
        zero = np.zeros((), dtype=dz.dtype)
        sx, sy = ctx.shapes
        return (None, unbroadcast(np.where(cond, dz, zero), sx),
                unbroadcast(np.where(cond, zero, dz), sy))


class Dropout(Function):
    """Inverted dropout: z = x * m / (1 - p), m_i ~ Bernoulli(1 - p) drawn once per call.

    dL/dx = dz * m / (1 - p): the same mask and scale, so kept units pass their gradient
    on and dropped ones pass none. Scaling by 1/(1-p) at training time keeps E[z] = x,
    so evaluation needs no rescaling.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, p: float, rng: Any) -> np.ndarray:
        keep = (rng.random(x.shape) >= p)
        scale = x.dtype.type(1.0 / (1.0 - p)) if p < 1 else x.dtype.type(0)
        mask = keep * scale if x.dtype.kind == "f" else keep
        mask = mask.astype(x.dtype, copy=False)
        ctx.save_for_backward(mask)
        return x * mask

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> np.ndarray:
        (mask,) = ctx.saved_arrays
        return dz * mask
