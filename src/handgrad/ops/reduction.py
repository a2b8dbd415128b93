"""Reductions: sum, mean, max/min, logsumexp over a dim (or all dims).

Each reduction maps many inputs to one output, so on the way back the upstream
gradient dz (of the reduced shape) is *spread back* over the reduced axes: expanded
to x's shape (re-inserting the reduced axes with size 1, then broadcasting) and
weighted by how much each input element moved the output.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from handgrad.function import Context, Function
from handgrad.ops.dims import Dim, wrap_dim, wrap_dims


def expand_reduced(dz: np.ndarray, shape: tuple[int, ...], dims: tuple[int, ...] | None,
                   keepdim: bool) -> np.ndarray:
    """Give dz (the reduced shape) back the reduced axes as size 1 so it broadcasts to x."""
    if dims is None:
        return np.reshape(dz, (1,) * len(shape))
    if not keepdim:
        dz = np.expand_dims(dz, dims)
    return dz


class Sum(Function):
    """z = sum of x over ``dim``.   dL/dx_i = dz (every x_i moves z one to one)."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, dim: Dim = None, keepdim: bool = False) -> Any:
        dims = wrap_dims(dim, x.ndim, "sum")
        ctx.meta = (x.shape, dims, keepdim)
        return np.asarray(np.sum(x, axis=dims, keepdims=keepdim))

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> np.ndarray:
        shape, dims, keepdim = ctx.meta
        return np.broadcast_to(expand_reduced(dz, shape, dims, keepdim), shape)


class Mean(Function):
    """z = (1/n) sum of x over ``dim`` (n elements).   dL/dx_i = dz / n.

    The mean over zero elements is NaN, as in NumPy and PyTorch.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, dim: Dim = None, keepdim: bool = False) -> Any:
        dims = wrap_dims(dim, x.ndim, "mean")
        n = x.size if dims is None else int(np.prod([x.shape[d] for d in dims]))
        ctx.meta = (x.shape, dims, keepdim, n)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(np.sum(x, axis=dims, keepdims=keepdim) / x.dtype.type(n)
                              if n else np.full(np.sum(x, axis=dims, keepdims=keepdim).shape,
                                                np.nan, x.dtype))

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> np.ndarray:
        shape, dims, keepdim, n = ctx.meta
        g = expand_reduced(dz, shape, dims, keepdim) / dz.dtype.type(max(n, 1))
        return np.broadcast_to(g, shape)


class ValuesIndices(NamedTuple):
    """What ``x.max(dim)`` / ``x.min(dim)`` return, as PyTorch: ``values`` (a Tensor that
    carries the gradient) and ``indices`` (int64, no gradient); ``x.max(1)[0]`` works too."""

    values: Any
    indices: Any


class _Extremum(Function):
    """Shared backward of max and min: the gradient goes to the extreme elements.

    With ties, PyTorch's full reduction (no dim) splits dz evenly among the tied
    elements; with ``dim`` it sends dz to the one index it returns (the first). Both
    rules are followed here.
    """

    reducer: Any = None

    @classmethod
    def _forward(cls, ctx: Context, x: np.ndarray, dim: Any, keepdim: bool) -> Any:
        if x.size == 0:
            raise ValueError(f"{cls.__name__.lower()}: cannot reduce an empty tensor of shape "
                             f"{x.shape} (there is no largest/smallest element)")
        if dim is None:
            z = cls.reducer(x)
            ctx.save_for_backward(x == z)
            ctx.meta = (x.shape, None, False)
            return np.asarray(z)
        if not isinstance(dim, int | np.integer) or isinstance(dim, bool):
            raise TypeError(f"{cls.__name__.lower()}: dim must be one int (as in PyTorch), "
                            f"got {dim!r}; reduce one dim at a time")
        d = wrap_dim(dim, x.ndim, cls.__name__.lower())
        if x.ndim == 0:  # a 0-d tensor: its one element, index 0
            ctx.save_for_backward(np.ones((), dtype=bool))
            ctx.meta = (x.shape, None, keepdim)
            return x.copy()
        arg = (np.argmax if cls.reducer is np.max else np.argmin)(x, axis=d)
        z = np.take_along_axis(x, np.expand_dims(arg, d), axis=d)
        ctx.save_for_backward(arg)
        ctx.meta = (x.shape, d, keepdim)
        return z if keepdim else np.squeeze(z, d)

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> np.ndarray:
        shape, d, keepdim = ctx.meta
        if d is None:
            (mask,) = ctx.saved_arrays
            return mask * (dz / mask.sum()).astype(dz.dtype)
        (arg,) = ctx.saved_arrays
        dx = np.zeros(shape, dtype=dz.dtype)
        np.put_along_axis(dx, np.expand_dims(arg, d),
                          dz if keepdim else np.expand_dims(dz, d), axis=d)
        return dx


class Max(_Extremum):
    """z = max of x (over ``dim``).   dL/dx_i = dz if x_i is the maximum, else 0."""

    reducer = np.max

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, dim: Any = None, keepdim: bool = False) -> Any:
        return Max._forward(ctx, x, dim, keepdim)


class Min(_Extremum):
    """z = min of x (over ``dim``).   dL/dx_i = dz if x_i is the minimum, else 0."""

    reducer = np.min

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, dim: Any = None, keepdim: bool = False) -> Any:
        return Min._forward(ctx, x, dim, keepdim)


class LogSumExp(Function):
    """z = log sum_i e^{x_i}  (over ``dim``), computed as m + log sum e^{x_i - m}, m = max x.

    dL/dx_i = dz * e^{x_i} / sum_j e^{x_j} = dz * softmax(x)_i = dz * e^{x_i - z}.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, dim: Dim = None, keepdim: bool = False) -> Any:
        dims = wrap_dims(dim, x.ndim, "logsumexp")
        m = np.max(x, axis=dims, keepdims=True) if x.size else np.zeros((1,) * x.ndim, x.dtype)
        m = np.where(np.isfinite(m), m, 0)
        z = np.log(np.sum(np.exp(x - m), axis=dims, keepdims=True)) + m
        ctx.save_for_backward(x, z)
        ctx.meta = (dims, keepdim)
        out = z if keepdim else (z.reshape(()) if dims is None else np.squeeze(z, dims))
        return np.asarray(out)

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> np.ndarray:
        x, z = ctx.saved_arrays
        dims, keepdim = ctx.meta
        return expand_reduced(dz, x.shape, dims, keepdim) * np.exp(x - z)


class Norm(Function):
    """The p-norm over ``dim`` (all elements by default); p = 2 (the L2 norm) by default.

    z = ||x||_2 = sqrt(sum_i x_i^2).   dL/dx_i = dz * x_i / z  (x / ||x||, of x's shape).

    At the zero vector z = 0 and the L2 norm has no derivative (a cone's tip); the
    gradient is then taken as 0, the subgradient PyTorch chooses, rather than 0/0 = nan.

    p = 1: z = sum_i |x_i|, dL/dx_i = dz * sign(x_i) (0 at x_i = 0).
    Other p >= 1: z = (sum_i |x_i|^p)^(1/p), dL/dx_i = dz * sign(x_i) |x_i|^(p-1) / z^(p-1)
    (0 where z = 0). p = inf: z = max_i |x_i|; dz goes to the largest |x_i|, split evenly
    among ties (as PyTorch's amax), with their sign.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, p: Any = 2, dim: Dim = None,
                keepdim: bool = False) -> Any:
        if x.dtype.kind != "f":
            raise TypeError(f"norm: input must be a floating-point tensor, got dtype {x.dtype} "
                            f"(shape {x.shape}); convert it with .float() or .double()")
        if p == "fro":
            p = 2
        if isinstance(p, str) or not (p >= 1):
            raise ValueError(f"norm: p must be a number >= 1 (or 'fro', the same as 2) or "
                             f"inf, got {p!r}")
        dims = wrap_dims(dim, x.ndim, "norm")
        p = float(p)
        absx = np.abs(x)
        if p == 2.0:
            z = np.sqrt(np.sum(x * x, axis=dims, keepdims=True))
        elif p == 1.0:
            z = np.sum(absx, axis=dims, keepdims=True)
        elif p == np.inf:
            z = np.max(absx, axis=dims, keepdims=True) if x.size else \
                np.zeros(np.sum(x, axis=dims, keepdims=True).shape, x.dtype)
        else:
            z = np.sum(absx ** x.dtype.type(p), axis=dims, keepdims=True) ** x.dtype.type(1 / p)
        ctx.save_for_backward(x, z)
        ctx.meta = (p, dims, keepdim)
        if keepdim:
            return z
        return np.asarray(z.reshape(()) if dims is None else np.squeeze(z, dims))

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> np.ndarray:
        x, z = ctx.saved_arrays
        p, dims, keepdim = ctx.meta
        g = expand_reduced(dz, x.shape, dims, keepdim)
        if p == 1.0:
            return g * np.sign(x)
        if p == np.inf:
            hit = np.abs(x) == z
            count = np.sum(hit, axis=dims, keepdims=True).astype(x.dtype)
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(hit, g * np.sign(x) / np.maximum(count, 1), 0).astype(x.dtype)
        safe = np.where(z == 0, 1, z).astype(x.dtype, copy=False)
        if p == 2.0:
            return g * np.where(z == 0, 0, x / safe).astype(x.dtype, copy=False)
        q = x.dtype.type(p - 1)
        ratio = np.sign(x) * (np.abs(x) / safe) ** q
        return g * np.where(z == 0, 0, ratio).astype(x.dtype, copy=False)
