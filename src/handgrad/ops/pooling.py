"""Pooling: max, average and adaptive average, PyTorch's semantics.

Shapes: input (N, C, H, W) or unbatched (C, H, W) -> (N, C, OH, OW), OH by the output-size
rule (ops/output_size.py). The definitions, one window at a time, are in
``handgrad.ops.reference.pooling`` (``max_pool2d_forward`` / ``_backward`` ...); the
Functions below are the fast path (the taps of all windows at once), tested equal to the
reference and to PyTorch.

Derivatives::

    max:      dX[window argmax] += dY[window]   (ties: the first maximum; NaN wins)
    average:  dX[every pixel of the window] += dY[window] / divisor
    adaptive: the averaging matrices transposed, dX = A_h^T dY A_w
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from handgrad.function import Context, Function
from handgrad.ops.output_size import _is_int, _pair, pool_output_size

__all__ = ["MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "max_pool2d_forward",
           "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward",
           "adaptive_avg_pool2d_forward", "adaptive_avg_pool2d_backward"]


# ----------------------------------------------------------------------------------------
# pooling
# ----------------------------------------------------------------------------------------
class _PoolGeom(NamedTuple):
    N: int
    C: int
    H: int
    W: int
    KH: int
    KW: int
    SH: int
    SW: int
    PH: int
    PW: int
    DH: int
    DW: int
    OH: int
    OW: int
    Hx: int  # height/width of the padded buffer, large enough for every window
    Wx: int


def _pool_geometry(shape: tuple[int, ...], kernel_size: Any, stride: Any, padding: Any,
                   dilation: Any, ceil_mode: bool, fn: str) -> _PoolGeom:
    if len(shape) != 4:
        raise ValueError(f"{fn}: input must be 4-D (N, C, H, W) or 3-D (C, H, W), got shape "
                         f"{shape}")
    KH, KW = _pair(kernel_size, "kernel_size", fn)
    SH, SW = (KH, KW) if stride is None or (isinstance(stride, tuple | list)
                                             and len(stride) == 0) else _pair(stride, "stride", fn)
    PH, PW = _pair(padding, "padding", fn)
    DH, DW = _pair(dilation, "dilation", fn)
    for k in (KH, KW):
        if k <= 0:
            raise ValueError(f"{fn}: kernel_size must be positive, got {kernel_size!r}")
    for p, k in ((PH, KH), (PW, KW)):
        if 2 * p > k:
            raise ValueError(f"{fn}: padding should be at most half of the kernel size, got "
                             f"padding={padding!r}, kernel_size={kernel_size!r} (PyTorch's "
                             f"rule: P <= K/2)")
    N, C, H, W = shape
    OH = pool_output_size(H, KH, SH, PH, DH, ceil_mode, name=fn, dim="height")
    OW = pool_output_size(W, KW, SW, PW, DW, ceil_mode, name=fn, dim="width")
    Hx = max(H + 2 * PH, (OH - 1) * SH + DH * (KH - 1) + 1)
    Wx = max(W + 2 * PW, (OW - 1) * SW + DW * (KW - 1) + 1)
    return _PoolGeom(N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, Hx, Wx)


def _tiles(g: _PoolGeom) -> bool:
    """The kernel tiles the input exactly: stride == kernel, no padding/dilation."""
    return (g.SH == g.KH and g.SW == g.KW and g.PH == 0 and g.PW == 0 and g.DH == 1
            and g.DW == 1 and g.H == g.OH * g.KH and g.W == g.OW * g.KW)


def _window_taps(xp: np.ndarray, g: _PoolGeom) -> list[np.ndarray]:
    """KH*KW strided views (N, C, OH, OW): tap (i, j) of every window, row-major order."""
    taps = []
    for i in range(g.KH):
        for j in range(g.KW):
            r, s = i * g.DH, j * g.DW
            taps.append(xp[:, :, r:r + (g.OH - 1) * g.SH + 1:g.SH,
                           s:s + (g.OW - 1) * g.SW + 1:g.SW])
    return taps


def _tile_taps(x: np.ndarray, g: _PoolGeom) -> list[np.ndarray]:
    """Reshape fast path: x as (N, C, OH, KH, OW, KW), tap (i, j) = [:, :, :, i, :, j]."""
    x6 = x.reshape(g.N, g.C, g.OH, g.KH, g.OW, g.KW)
    return [x6[:, :, :, i, :, j] for i in range(g.KH) for j in range(g.KW)]


def _padded(x: np.ndarray, g: _PoolGeom, value: float) -> np.ndarray:
    if g.PH == 0 and g.PW == 0 and g.Hx == g.H and g.Wx == g.W:
        return x
    xp = np.full((g.N, g.C, g.Hx, g.Wx), value, dtype=x.dtype)
    xp[:, :, g.PH:g.PH + g.H, g.PW:g.PW + g.W] = x
    return xp


def _unbatch(x: np.ndarray, fn: str) -> tuple[np.ndarray, bool]:
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise TypeError(f"{fn}: input must be a floating-point array, got "
                        f"{getattr(x, 'dtype', type(x).__name__)}")
    if x.ndim == 3:
        return x[None], True
    return x, False


def _first_valid_tap_where_minus_inf(out: np.ndarray, idx: np.ndarray, g: _PoolGeom) -> None:
    """A window whose every input pixel is -inf has maximum -inf, found first in the
    padding (which counts as -inf). PyTorch gives that window's gradient to its first
    pixel *inside* the input instead; point ``idx`` there (in place)."""
    lost = out == -np.inf
    if not lost.any():
        return
    # the first row/column of window (y, x) inside the input: y*S + i*D - P >= 0
    i0 = np.maximum(0, -((np.arange(g.OH) * g.SH - g.PH) // g.DH))
    j0 = np.maximum(0, -((np.arange(g.OW) * g.SW - g.PW) // g.DW))
    first = (i0[:, None] * g.KW + j0[None, :]).astype(idx.dtype)
    np.copyto(idx, np.broadcast_to(first, idx.shape), where=lost)


def _running_max(taps: list[np.ndarray], nan_wins: bool) -> tuple[np.ndarray, np.ndarray]:
    """The maximum over the taps and, per output, the index of the tap it came from.

    A tap takes over where it is strictly greater than the maximum so far (so the first
    maximum wins ties, row-major as in PyTorch) or, with ``nan_wins``, where it is NaN (a
    window holding NaN outputs NaN and sends its gradient to its last NaN, PyTorch's
    rule). Branch-free: masked copies on random masks are several times slower than
    arithmetic, and since k only grows, "idx <- k where greater" is max(idx, k*greater).
    """
    out = taps[0].copy()
    idx = np.zeros(out.shape, dtype=np.uint8 if len(taps) < 256 else np.int32)
    greater = np.empty(out.shape, dtype=bool)
    step = np.empty(out.shape, dtype=idx.dtype)
    nan = np.empty(out.shape, dtype=bool) if nan_wins else None
    for k in range(1, len(taps)):
        np.greater(taps[k], out, out=greater)
        if nan is not None:
            np.isnan(taps[k], out=nan)
            greater |= nan
        np.maximum(out, taps[k], out=out)
        np.multiply(greater, step.dtype.type(k), out=step)
        np.maximum(idx, step, out=idx)
    return out, idx


class MaxPool2d(Function):
    """Max pooling. Y[n, c, y, x] = max over the window of Xp (padding counts as -inf).

    Backward: the max is a switch. dL/dX at the window's (first) maximum = dY, zero
    elsewhere; overlapping windows add. Ties go to the first maximum in row-major order
    of the window, as in PyTorch. The forward keeps, per output, the tap index (0 ..
    KH*KW-1) of that maximum: a running max over the KH*KW taps, whose index moves only
    where a tap is strictly greater (so the first maximum wins) or NaN (so NaN wins the
    window, its gradient going to the last NaN, as in PyTorch). A window of nothing but
    -inf sends its gradient to its first pixel inside the input (never to the padding).
    When the kernel tiles the input (stride = kernel, no padding) the taps are plain
    reshapes of x, with no padded copy.
    Returns (out, indices) with ``return_indices``: indices into each H*W input plane.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, kernel_size: Any = 2, stride: Any = None,
                padding: Any = 0, dilation: Any = 1, ceil_mode: bool = False,
                return_indices: bool = False) -> Any:
        x, unbatched = _unbatch(x, "max_pool2d")
        g = _pool_geometry(x.shape, kernel_size, stride, padding, dilation, ceil_mode,
                           "max_pool2d")
        tiles = _tiles(g)
        taps = _tile_taps(x, g) if tiles else _window_taps(_padded(x, g, -np.inf), g)
        out, idx = _running_max(taps, nan_wins=False)
        if out.dtype.kind == "f" and np.isnan(out).any():
            # NaN is rare: only then the slower loop with PyTorch's NaN rule for the index
            out, idx = _running_max(taps, nan_wins=True)
        if not tiles and (g.PH or g.PW):
            _first_valid_tap_where_minus_inf(out, idx, g)
        ctx.geom, ctx.tiles, ctx.unbatched = g, tiles, unbatched
        ctx.save_for_backward(idx)
        if unbatched:
            out = out[0]
        if not return_indices:
            return out
        ki, kj = np.divmod(idx.astype(np.int64), g.KW)
        rows = np.arange(g.OH)[:, None] * g.SH + ki * g.DH - g.PH
        cols = np.arange(g.OW)[None, :] * g.SW + kj * g.DW - g.PW
        flat = rows * g.W + cols
        return out, (flat[0] if unbatched else flat)

    @staticmethod
    def backward(ctx: Context, dy: np.ndarray, *_: Any) -> np.ndarray:
        g: _PoolGeom = ctx.geom
        (idx,) = ctx.saved_arrays
        if ctx.unbatched:
            dy = dy[None]
        K = g.KH * g.KW
        if ctx.tiles:
            dx = np.empty((g.N, g.C, g.H, g.W), dtype=dy.dtype)
            for k, tap in enumerate(_tile_taps(dx, g)):  # windows disjoint: plain writes
                np.multiply(dy, idx == k, out=tap)
        else:
            dxp = np.zeros((g.N, g.C, g.Hx, g.Wx), dtype=dy.dtype)
            for k, tap in enumerate(_window_taps(dxp, g)):  # overlapping windows add
                tap += dy * (idx == k) if K > 1 else dy
            dx = dxp[:, :, g.PH:g.PH + g.H, g.PW:g.PW + g.W]
        return dx[0] if ctx.unbatched else dx


def _avg_divisor(g: _PoolGeom, count_include_pad: bool, divisor_override: Any,
                 dtype: np.dtype) -> np.ndarray | float:
    """PyTorch's divisor per output pixel (separable: rows x cols)."""
    if divisor_override is not None:
        return float(divisor_override)

    def per_dim(O: int, K: int, S: int, P: int, n: int) -> np.ndarray:
        start = np.arange(O) * S - P
        end = np.minimum(start + K, n + P)
        size = end - start  # window inside the padded input (ceil_mode may cut it)
        if not count_include_pad:
            size = np.minimum(end, n) - np.maximum(start, 0)
        return size

    rows = per_dim(g.OH, g.KH, g.SH, g.PH, g.H)
    cols = per_dim(g.OW, g.KW, g.SW, g.PW, g.W)
    div = (rows[:, None] * cols[None, :]).astype(dtype)
    if np.all(div == div.flat[0]):
        return float(div.flat[0])
    return div


class AvgPool2d(Function):
    """Average pooling. Y = (sum of the window) / divisor, with PyTorch's divisor:
    the window size clipped to the padded input (``count_include_pad``), or only the real
    input pixels in it, or ``divisor_override``.

    Backward: each input pixel in a window receives dY / divisor; overlapping windows
    add (KH*KW vectorised slice-adds).
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, kernel_size: Any = 2, stride: Any = None,
                padding: Any = 0, ceil_mode: bool = False, count_include_pad: bool = True,
                divisor_override: Any = None) -> np.ndarray:
        x, unbatched = _unbatch(x, "avg_pool2d")
        g = _pool_geometry(x.shape, kernel_size, stride, padding, 1, ceil_mode, "avg_pool2d")
        if divisor_override is not None and (not _is_int(divisor_override)
                                             or divisor_override <= 0):
            raise ValueError(f"avg_pool2d: divisor_override must be a positive int, got "
                             f"{divisor_override!r}")
        tiles = _tiles(g)
        taps = _tile_taps(x, g) if tiles else _window_taps(_padded(x, g, 0.0), g)
        out = taps[0].copy()
        for tap in taps[1:]:
            out += tap
        div = _avg_divisor(g, count_include_pad, divisor_override, x.dtype)
        if isinstance(div, float):
            out *= x.dtype.type(1.0 / div)
        else:
            out /= div
        ctx.geom, ctx.tiles, ctx.unbatched, ctx.div = g, tiles, unbatched, div
        return out[0] if unbatched else out

    @staticmethod
    def backward(ctx: Context, dy: np.ndarray) -> np.ndarray:
        g: _PoolGeom = ctx.geom
        if ctx.unbatched:
            dy = dy[None]
        div = ctx.div
        share = dy * dy.dtype.type(1.0 / div) if isinstance(div, float) else dy / div
        if ctx.tiles:
            dx = np.empty((g.N, g.C, g.H, g.W), dtype=dy.dtype)
            for tap in _tile_taps(dx, g):
                tap[...] = share
        else:
            dxp = np.zeros((g.N, g.C, g.Hx, g.Wx), dtype=dy.dtype)
            for tap in _window_taps(dxp, g):
                tap += share
            dx = dxp[:, :, g.PH:g.PH + g.H, g.PW:g.PW + g.W]
        return dx[0] if ctx.unbatched else dx


def _adaptive_matrix(n_in: int, n_out: int, dtype: np.dtype) -> np.ndarray:
    """A (n_out, n_in) with A[o, h] = 1/len(window o) on PyTorch's window
    [floor(o*n_in/n_out), ceil((o+1)*n_in/n_out))."""
    o = np.arange(n_out)
    start = (o * n_in) // n_out
    end = -((-(o + 1) * n_in) // n_out)
    h = np.arange(n_in)
    inside = (h[None, :] >= start[:, None]) & (h[None, :] < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


class AdaptiveAvgPool2d(Function):
    """Adaptive average pooling to a fixed (OH, OW), PyTorch's windows.

    The operation is linear and separable: Y = A_h X A_w^T per (n, c) plane, with
    A_h (OH, H) holding 1/window length on each output row's window. Hence
    dL/dX = A_h^T dY A_w (two small matrix products, no loops).
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, output_size: Any = 1) -> np.ndarray:
        x, unbatched = _unbatch(x, "adaptive_avg_pool2d")
        if x.ndim != 4:
            raise ValueError(f"adaptive_avg_pool2d: input must be 4-D (N, C, H, W) or 3-D, "
                             f"got shape {x.shape}")
        if isinstance(output_size, tuple | list) and len(output_size) == 2:
            oh, ow = (x.shape[2] if output_size[0] is None else output_size[0],
                      x.shape[3] if output_size[1] is None else output_size[1])
        else:
            oh = ow = output_size
        oh, ow = _pair((oh, ow), "output_size", "adaptive_avg_pool2d")
        if oh <= 0 or ow <= 0:
            raise ValueError(f"adaptive_avg_pool2d: output_size must be positive, got "
                             f"{output_size!r}")
        ah = _adaptive_matrix(x.shape[2], oh, x.dtype)
        aw = _adaptive_matrix(x.shape[3], ow, x.dtype)
        ctx.mats, ctx.unbatched = (ah, aw), unbatched
        if not np.isfinite(x).all():
            # the averaging matrices multiply every pixel, 0 * inf = NaN in windows the
            # inf is not in: then average window by window, as the definition reads
            from handgrad.ops.reference.pooling import adaptive_avg_pool2d_forward as ref

            out = ref(x, (oh, ow))[0]
        else:
            out = ah @ (x @ aw.T)
        return out[0] if unbatched else out

    @staticmethod
    def backward(ctx: Context, dy: np.ndarray) -> np.ndarray:
        ah, aw = ctx.mats
        if ctx.unbatched:
            dy = dy[None]
        if not np.isfinite(dy).all():  # as in the forward: no 0 * inf from the matrices
            from handgrad.ops.reference.pooling import AdaptiveAvgPool2dCache
            from handgrad.ops.reference.pooling import adaptive_avg_pool2d_backward as ref

            N, C = dy.shape[:2]
            dx = ref(dy, AdaptiveAvgPool2dCache((N, C, ah.shape[1], aw.shape[1]),
                                                (ah.shape[0], aw.shape[0]), False))
        else:
            dx = ah.T @ (dy @ aw)
        return dx[0] if ctx.unbatched else dx


# -- the layer doors of pooling --------------------------------------------------------
def max_pool2d_forward(x: np.ndarray, kernel_size: Any = 2, stride: Any = None,
                       padding: Any = 0, dilation: Any = 1, ceil_mode: bool = False
                       ) -> tuple[np.ndarray, Context]:
    """``out, cache = max_pool2d_forward(x, 2)``; then ``dx = max_pool2d_backward(dout, cache)``."""
    return MaxPool2d.layer_forward(x, kernel_size=kernel_size, stride=stride, padding=padding,
                                   dilation=dilation, ceil_mode=ceil_mode)


def max_pool2d_backward(dout: np.ndarray, cache: Context) -> np.ndarray:
    return MaxPool2d.layer_backward(dout, cache)


def avg_pool2d_forward(x: np.ndarray, kernel_size: Any = 2, stride: Any = None,
                       padding: Any = 0, ceil_mode: bool = False, count_include_pad: bool = True,
                       divisor_override: Any = None) -> tuple[np.ndarray, Context]:
    return AvgPool2d.layer_forward(x, kernel_size=kernel_size, stride=stride, padding=padding,
                                   ceil_mode=ceil_mode, count_include_pad=count_include_pad,
                                   divisor_override=divisor_override)


def avg_pool2d_backward(dout: np.ndarray, cache: Context) -> np.ndarray:
    return AvgPool2d.layer_backward(dout, cache)


def adaptive_avg_pool2d_forward(x: np.ndarray, output_size: Any = 1
                                ) -> tuple[np.ndarray, Context]:
    return AdaptiveAvgPool2d.layer_forward(x, output_size=output_size)


def adaptive_avg_pool2d_backward(dout: np.ndarray, cache: Context) -> np.ndarray:
    return AdaptiveAvgPool2d.layer_backward(dout, cache)
