"""The output-size rule of convolution and pooling, with its numbers filled in.

Per spatial dimension, for an input of size H, kernel K, stride S, padding P, dilation D::

    OH = floor((H + 2P - D(K-1) - 1) / S) + 1

e.g. H = 28, K = 3, S = 1, P = 1, D = 1: floor((28 + 2 - 2 - 1) / 1) + 1 = 28 ("same");
H = 28, K = 2, S = 2, P = 0: floor((28 - 1 - 1) / 2) + 1 = 14 (a 2x2 pooling). Pooling's
``ceil_mode`` takes the ceiling instead, as long as the last window starts inside the
input or its left padding. Errors show the formula with the caller's numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["conv_output_size", "pool_output_size"]

_FORMULA = "floor((H + 2P - D(K-1) - 1)/S) + 1"


# ----------------------------------------------------------------------------------------
# argument helpers and the output-size rule
# ----------------------------------------------------------------------------------------
def _is_int(v: Any) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


def _pair(value: Any, name: str, fn: str) -> tuple[int, int]:
    """An int or a pair of ints -> (height value, width value)."""
    if _is_int(value):
        return int(value), int(value)
    if isinstance(value, tuple | list) and len(value) == 2 and all(_is_int(v) for v in value):
        return int(value[0]), int(value[1])
    raise TypeError(f"{fn}: {name} must be an int or a pair of ints (height, width), "
                    f"got {value!r}")


def _filled(size: int, kernel: int, stride: int, padding: int, dilation: int) -> str:
    return (f"floor(({size} + 2*{padding} - {dilation}*({kernel}-1) - 1)/{stride}) + 1")


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0,
                     dilation: int = 1, *, name: str = "conv_output_size",
                     dim: str = "") -> int:
    """Output length of a convolution along one dimension: floor((H + 2P - D(K-1) - 1)/S) + 1.

    H input size, K kernel size, S stride, P padding (each side), D dilation. The dilated
    kernel spans D(K-1)+1 input pixels; it fits floor((H + 2P - (D(K-1)+1))/S) + 1 times.
    Raises ValueError, quoting the formula with these numbers filled in, when there is no
    valid output (non-positive stride/dilation/kernel, negative padding, or a kernel larger
    than the padded input).
    """
    where = f"{name}{f' ({dim})' if dim else ''}"
    for value, label in ((size, "size"), (kernel, "kernel"), (stride, "stride"),
                         (padding, "padding"), (dilation, "dilation")):
        if not _is_int(value):
            raise TypeError(f"{where}: {label} must be an int, got {value!r}")
    rule = f"output = {_FORMULA} = {_filled(size, kernel, stride, padding, dilation)}"
    if stride <= 0:
        raise ValueError(f"{where}: stride must be positive, got S = {stride}; {rule} "
                         f"is undefined for S <= 0")
    if dilation <= 0:
        raise ValueError(f"{where}: dilation must be positive, got D = {dilation}; {rule}")
    if kernel <= 0:
        raise ValueError(f"{where}: kernel size must be positive, got K = {kernel}; {rule}")
    if padding < 0:
        raise ValueError(f"{where}: padding must be >= 0, got P = {padding}; {rule}")
    span = dilation * (kernel - 1) + 1
    if span > size + 2 * padding:
        out = (size + 2 * padding - span) // stride + 1
        raise ValueError(
            f"{where}: the kernel is larger than the padded input: it spans D(K-1)+1 = "
            f"{span} pixels but H + 2P = {size + 2 * padding}; {rule} = {out} < 1")
    return (size + 2 * padding - span) // stride + 1


def pool_output_size(size: int, kernel: int, stride: int, padding: int = 0, dilation: int = 1,
                     ceil_mode: bool = False, *, name: str = "pool", dim: str = "") -> int:
    """PyTorch's pooling output size: the conv rule, rounded up when ``ceil_mode``.

    With ceil_mode the last window may start past the input's right edge only up to the
    left padding: if (out-1)*S >= H + P that window is dropped (PyTorch's rule).
    """
    if not ceil_mode:
        return conv_output_size(size, kernel, stride, padding, dilation, name=name, dim=dim)
    # the same argument checks, on a size every kernel fits
    conv_output_size(size + dilation * kernel, kernel, stride, padding, dilation, name=name,
                     dim=dim)
    span = dilation * (kernel - 1) + 1
    out = -((-(size + 2 * padding - span)) // stride) + 1  # ceil division
    if (out - 1) * stride >= size + padding:
        out -= 1
    if out < 1:
        where = f"{name}{f' ({dim})' if dim else ''}"
        raise ValueError(
            f"{where}: no window fits: with ceil_mode, output = ceil(({size} + 2*{padding} - "
            f"{dilation}*({kernel}-1) - 1)/{stride}) + 1 = {out} < 1 (the last window must "
            f"start inside the input or its left padding)")
    return out
