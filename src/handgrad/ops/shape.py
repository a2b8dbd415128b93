"""Shape operations: they move values around without changing them.

So their backward moves the gradient back the same way: reshape it back, transpose it
back, scatter it back to where getitem read from (adding where an index was read
twice), split it back after concat/stack, crop it back after pad.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from handgrad.function import Context, Function
from handgrad.ops.dims import wrap_dim


class Reshape(Function):
    """z = x viewed with another shape (same elements, same order).   dL/dx = dz reshaped."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        ctx.in_shape = x.shape
        try:
            return np.reshape(x, shape)
        except ValueError:
            raise ValueError(
                f"reshape: cannot view a tensor of shape {x.shape} ({x.size} elements) as "
                f"{tuple(shape)}; the number of elements must stay the same (at most one -1)"
            ) from None

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> np.ndarray:
        return np.reshape(dz, ctx.in_shape)


class Permute(Function):
    """z = x with its axes reordered by ``dims``.   dL/dx = dz with the inverse order."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, dims: tuple[int, ...]) -> np.ndarray:
        if len(dims) != x.ndim:
            raise RuntimeError(f"permute: number of dimensions in the tensor input does not "
                               f"match the length of the desired ordering of dimensions: "
                               f"input.dim() = {x.ndim} is not equal to len(dims) = "
                               f"{len(dims)} (dims {tuple(dims)}, shape {x.shape})")
        # non-negative: backward inverts them, and negatives would break that
        dims = tuple(wrap_dim(d, x.ndim, "permute", "dims") for d in dims)
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"permute: duplicate dims are not allowed (dims {dims})")
        ctx.dims = dims
        return np.transpose(x, dims)

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> np.ndarray:
        return np.transpose(dz, np.argsort(ctx.dims))


class Transpose(Function):
    """z = x with axes ``dim0`` and ``dim1`` swapped.   dL/dx = dz with them swapped back."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, dim0: int, dim1: int) -> np.ndarray:
        dim0 = wrap_dim(dim0, x.ndim, "transpose", "dim0")
        dim1 = wrap_dim(dim1, x.ndim, "transpose", "dim1")
        ctx.dims = (dim0, dim1)
        return np.swapaxes(x, dim0, dim1) if x.ndim else x.copy()

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> np.ndarray:
        return np.swapaxes(dz, *ctx.dims)


class Expand(Function):
    """z = x broadcast to ``shape``.   dL/dx = dz summed over the broadcast axes."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        ctx.in_shape = x.shape
        lead = len(shape) - x.ndim
        # -1 keeps that dimension's size, as in torch.Tensor.expand
        target = tuple(x.shape[i - lead] if s == -1 and i >= lead else s
                       for i, s in enumerate(shape))
        try:
            return np.broadcast_to(x, target)
        except ValueError:
            raise ValueError(f"expand: cannot expand shape {x.shape} to {tuple(shape)}; only "
                             f"size-1 dimensions can grow (new ones go on the left)") from None

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> np.ndarray:
        from handgrad.ops.elementwise import unbroadcast

        return unbroadcast(dz, ctx.in_shape)


class Clone(Function):
    """z = a copy of x.   dL/dx = dz."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        return x.copy()

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> np.ndarray:
        return dz


def _has_array_index(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, np.ndarray | list) for i in items)


class GetItem(Function):
    """z = x[index] (slices, ints, None, Ellipsis, integer or boolean arrays).

    dL/dx = zeros of x's shape with dz added at the positions read. With an integer
    array index a position may be read several times (x[[0, 0, 1]]); its gradient is
    then the sum of those reads, which ``np.add.at`` computes (plain assignment would
    keep only the last).
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, index: Any) -> np.ndarray:
        ctx.meta = (x.shape, index)
        try:
            return np.asarray(x[index])
        except IndexError as err:
            raise IndexError(f"index {index!r} is invalid for a tensor of shape {x.shape}: "
                             f"{err}") from None

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> np.ndarray:
        shape, index = ctx.meta
        dx = np.zeros(shape, dtype=dz.dtype)
        if _has_array_index(index):
            np.add.at(dx, index, dz)
        else:
            dx[index] = dz  # basic indexing reads each element at most once
        return dx


class IndexPut(Function):
    """z = x with z[index] = v (``t[index] = v``).

    dL/dx = dz with the written positions zeroed (their old values were replaced);
    dL/dv = dz[index] summed back to v's shape (v is broadcast over the positions).
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, v: Any, index: Any) -> np.ndarray:
        v_shape = np.shape(v)
        out = x.copy()
        try:
            out[index] = v
        except IndexError as err:
            raise IndexError(f"index {index!r} is invalid for a tensor of shape {x.shape}: "
                             f"{err}") from None
        except ValueError as err:
            raise ValueError(f"__setitem__: value of shape {v_shape} cannot be written at "
                             f"index {index!r} of a tensor of shape {x.shape}: {err}") from None
        ctx.meta = (index, v_shape)
        return out

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> tuple[Any, Any]:
        from handgrad.ops.elementwise import unbroadcast

        index, v_shape = ctx.meta
        dx = dz.copy()
        dx[index] = 0
        return dx, unbroadcast(np.asarray(dz[index]), v_shape)


class Concat(Function):
    """z = the inputs joined along ``dim``.   dL/dx_k = the slice of dz that x_k filled."""

    @staticmethod
    def forward(ctx: Context, *xs: np.ndarray, dim: int = 0) -> np.ndarray:
        if not xs:
            raise ValueError("cat: expected a non-empty sequence of tensors")
        for k, x in enumerate(xs):
            if x.ndim == 0:
                raise RuntimeError(f"cat: zero-dimensional tensor (at position {k}) cannot be "
                                   f"concatenated")
        nd = xs[0].ndim
        d = wrap_dim(dim, nd, "cat")
        for k, x in enumerate(xs):
            if x.ndim != nd or x.shape[:d] + x.shape[d + 1:] != xs[0].shape[:d] + \
                    xs[0].shape[d + 1:]:
                raise ValueError(
                    f"cat: tensors must have the same shape except in dim {dim}; tensor 0 has "
                    f"shape {xs[0].shape}, tensor {k} has shape {x.shape}")
        ctx.meta = (d, np.cumsum([x.shape[d] for x in xs])[:-1])
        return np.concatenate(xs, axis=d)

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> tuple[np.ndarray, ...]:
        d, splits = ctx.meta
        return tuple(np.split(dz, splits, axis=d))


class Stack(Function):
    """z = the inputs stacked along a new axis ``dim``.   dL/dx_k = dz[..., k, ...]."""

    @staticmethod
    def forward(ctx: Context, *xs: np.ndarray, dim: int = 0) -> np.ndarray:
        if not xs:
            raise ValueError("stack: expected a non-empty sequence of tensors")
        for k, x in enumerate(xs):
            if x.shape != xs[0].shape:
                raise ValueError(f"stack: all tensors must have the same shape; tensor 0 has "
                                 f"shape {xs[0].shape}, tensor {k} has shape {x.shape}")
        ctx.dim = wrap_dim(dim, xs[0].ndim, "stack", extra=1)
        return np.stack(xs, axis=ctx.dim)

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> tuple[np.ndarray, ...]:
        return tuple(np.moveaxis(dz, ctx.dim, 0))


class Pad(Function):
    """z = x with constant padding; ``pad`` as in torch.nn.functional.pad: pairs
    (before, after) starting from the *last* dimension.   dL/dx = dz cropped back."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, pad: tuple[int, ...], value: float = 0.0) -> Any:
        if len(pad) % 2 or len(pad) // 2 > x.ndim:
            raise ValueError(f"pad: expected an even number of pad sizes, at most 2 per "
                             f"dimension ({2 * x.ndim} for shape {x.shape}), got {tuple(pad)}")
        widths = [(0, 0)] * x.ndim
        for i in range(len(pad) // 2):
            widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
        if any(a < 0 or b < 0 for a, b in widths):
            raise ValueError(f"pad: negative padding {tuple(pad)} is not supported")
        ctx.crop = tuple(slice(a, a + n) for (a, _), n in zip(widths, x.shape))
        return np.pad(x, widths, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> np.ndarray:
        return dz[ctx.crop]
