"""Max, average and adaptive average pooling, the definitions: loops over the windows.

Shapes are PyTorch's: x (N, C, H, W) or unbatched (C, H, W); out (N, C, OH, OW). Every
(n, c) plane is pooled on its own. Window (y, x) of a K x K pooling with stride S,
padding P and dilation D reads the input pixels

    r = y*S - P + i*D,   s = x*S - P + j*D,     i, j = 0..K-1

and OH follows the output-size rule (``_checks.output_size``; with ``ceil_mode`` it
rounds up, so the last window may hang over the bottom / right edge).

Max pooling: Y[n, c, y, x] = max of the window (padding is -inf: never the maximum).
The max is a switch: it passes one input through, so

    dX[n, c, r, s] = sum over the windows whose maximum is (r, s) of dY[n, c, y, x]

(overlapping windows add). Ties go to the *first* maximum of the window in row-major
order, and a window holding a NaN outputs NaN and sends its gradient to that NaN (the
last one, when there are several): PyTorch's rule, "take a pixel if it is greater than
the best so far, or if it is NaN".

Average pooling: Y = (sum of the window's pixels) / divisor. Padding pixels are zeros.
PyTorch's divisor: the number of window cells inside the padded input
(``count_include_pad=True``, the default; a ceil_mode window that overhangs the padded
input counts only its part inside), or only the real input pixels in the window
(``count_include_pad=False``), or ``divisor_override``. Each pixel of a window gets
dY / divisor back:

    dX[n, c, r, s] = sum over the windows holding (r, s) of dY[n, c, y, x] / divisor(y, x).

Adaptive average pooling to (OH, OW): output row y averages the input rows
[floor(y*H/OH), ceil((y+1)*H/OH)) (and likewise for columns); the backward pass shares
dY out equally over that window, as in average pooling.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from handgrad.ops.reference import _checks as check

__all__ = [
    "MaxPool2dCache", "AvgPool2dCache", "AdaptiveAvgPool2dCache",
    "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward",
    "adaptive_avg_pool2d_forward", "adaptive_avg_pool2d_backward",
]


class _Windows(NamedTuple):
    """The window geometry of one pooling call (per axis: height, width)."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    out: tuple[int, int]        # (OH, OW)


def _windows(fn: str, x: np.ndarray, kernel_size: Any, stride: Any, padding: Any,
             dilation: Any, ceil_mode: bool) -> _Windows:
    """Check a pooling call's arguments (PyTorch's rules) and compute (OH, OW)."""
    check.float_array(x, fn, "input")
    check.layout(fn, "input", x, (3, 4), "(N, C, H, W) or (C, H, W)")
    K = check.int_pair(kernel_size, fn, "kernel_size")
    check.positive(K, fn, "kernel_size")
    # stride defaults to the kernel size (windows side by side)
    no_stride = stride is None or (isinstance(stride, tuple | list) and len(stride) == 0)
    S = K if no_stride else check.int_pair(stride, fn, "stride")
    check.positive(S, fn, "stride")
    P = check.int_pair(padding, fn, "padding")
    check.non_negative(P, fn, "padding")
    D = check.int_pair(dilation, fn, "dilation")
    check.positive(D, fn, "dilation")
    if P[0] > K[0] // 2 or P[1] > K[1] // 2:   # PyTorch: P <= K/2, the undilated K
        raise ValueError(check.MSG("pool_padding", fn=fn, padding=P, kernel=K))
    H, W = x.shape[-2:]
    OH = check.output_size(H, K[0], S[0], P[0], P[0], D[0], fn, "H", ceil_mode)
    OW = check.output_size(W, K[1], S[1], P[1], P[1], D[1], fn, "W", ceil_mode)
    return _Windows(K, S, P, D, (OH, OW))


# -- max pooling -----------------------------------------------------------------------


class MaxPool2dCache(NamedTuple):
    """What :func:`max_pool2d_forward` keeps for :func:`max_pool2d_backward`."""

    x_shape: tuple[int, int, int, int]   # (N, C, H, W) of the (batched) input
    argmax: np.ndarray                   # (N, C, OH, OW, 2) int64: input (row, col) of the
                                         # pixel each window passed through
    unbatched: bool                      # the input was (C, H, W)


def max_pool2d_forward(x: np.ndarray, kernel_size: Any = 2, stride: Any = None,
                       padding: Any = 0, dilation: Any = 1, ceil_mode: bool = False
                       ) -> tuple[np.ndarray, MaxPool2dCache]:
    """``out, cache = max_pool2d_forward(x, kernel_size, stride, padding, dilation, ceil_mode)``.

    x (N, C, H, W) or (C, H, W); kernel_size, stride (default: kernel_size), padding,
    dilation an int or a pair. out (N, C, OH, OW) (or (C, OH, OW)).
    """
    g = _windows("max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode)
    xb, unbatched = check.unbatched(x)
    N, C, H, W = xb.shape
    (KH, KW), (SH, SW), (PH, PW), (DH, DW), (OH, OW) = g
    out = np.empty((N, C, OH, OW), dtype=x.dtype)
    argmax = np.zeros((N, C, OH, OW, 2), dtype=np.int64)
    for n in range(N):
        for c in range(C):
            for y in range(OH):
                for x_ in range(OW):
                    best, where = -np.inf, None
                    for i in range(KH):
                        r = y * SH - PH + i * DH
                        if not 0 <= r < H:          # a padding row: -inf, never the max
                            continue
                        for j in range(KW):
                            s = x_ * SW - PW + j * DW
                            if not 0 <= s < W:
                                continue
                            v = xb[n, c, r, s]
                            # strictly greater: the first maximum keeps a tie; a NaN
                            # always takes over (PyTorch's rule)
                            if where is None or v > best or np.isnan(v):
                                best, where = v, (r, s)
                    out[n, c, y, x_] = best
                    # (-1, -1): a window of padding only (large dilation), no gradient
                    argmax[n, c, y, x_] = (-1, -1) if where is None else where
    cache = MaxPool2dCache((N, C, H, W), argmax, unbatched)
    return (out[0] if unbatched else out), cache


def max_pool2d_backward(dout: np.ndarray, cache: MaxPool2dCache) -> np.ndarray:
    """``dx = max_pool2d_backward(dout, cache)``: dY of each window goes to the pixel the
    window passed through; overlapping windows add. dout (N, C, OH, OW); dx like x."""
    (N, C, H, W), argmax, unbatched = cache
    check.float_array(dout, "max_pool2d_backward", "dout")
    dy = dout[None] if unbatched else dout
    check.shape("max_pool2d_backward", "dout", dy, argmax.shape[:4], "(N, C, OH, OW)")
    dx = np.zeros((N, C, H, W), dtype=dy.dtype)
    OH, OW = argmax.shape[2:4]
    for n in range(N):
        for c in range(C):
            for y in range(OH):
                for x_ in range(OW):
                    r, s = argmax[n, c, y, x_]
                    if r >= 0:
                        dx[n, c, r, s] += dy[n, c, y, x_]
    return dx[0] if unbatched else dx


# -- average pooling -------------------------------------------------------------------


class AvgPool2dCache(NamedTuple):
    """What :func:`avg_pool2d_forward` keeps for :func:`avg_pool2d_backward`."""

    x_shape: tuple[int, int, int, int]   # (N, C, H, W) of the (batched) input
    windows: _Windows                    # kernel, stride, padding, dilation (1), (OH, OW)
    divisor: np.ndarray                  # (OH, OW): what each window's sum was divided by
    unbatched: bool


def _avg_window(y: int, K: int, S: int, P: int, size: int) -> tuple[int, int, int]:
    """Along one axis: (first, end) of the input pixels window y holds, and the number of
    its cells inside the padded input."""
    start = y * S - P                      # may be negative: the window starts in the padding
    end = min(start + K, size + P)         # a ceil_mode window may overhang the padded input
    return max(start, 0), min(end, size), end - start


def avg_pool2d_forward(x: np.ndarray, kernel_size: Any = 2, stride: Any = None,
                       padding: Any = 0, ceil_mode: bool = False,
                       count_include_pad: bool = True, divisor_override: Any = None
                       ) -> tuple[np.ndarray, AvgPool2dCache]:
    """``out, cache = avg_pool2d_forward(x, kernel_size, stride, padding, ceil_mode,
    count_include_pad, divisor_override)``: x (N, C, H, W) or (C, H, W) ->
    out (N, C, OH, OW), each window's sum divided by PyTorch's divisor (module docstring).
    """
    fn = "avg_pool2d"
    g = _windows(fn, x, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None:
        check.positive_int(divisor_override, fn, "divisor_override")
    xb, unbatched = check.unbatched(x)
    N, C, H, W = xb.shape
    (KH, KW), (SH, SW), (PH, PW), _, (OH, OW) = g
    out = np.empty((N, C, OH, OW), dtype=x.dtype)
    divisor = np.empty((OH, OW), dtype=np.int64)
    for y in range(OH):
        r0, r1, cells_h = _avg_window(y, KH, SH, PH, H)
        for x_ in range(OW):
            s0, s1, cells_w = _avg_window(x_, KW, SW, PW, W)
            if divisor_override is not None:
                divisor[y, x_] = divisor_override
            elif count_include_pad:
                divisor[y, x_] = cells_h * cells_w            # window inside the padded input
            else:
                divisor[y, x_] = (r1 - r0) * (s1 - s0)        # real input pixels only
            for n in range(N):
                for c in range(C):
                    # the padding pixels are zeros: the sum runs over the real ones
                    out[n, c, y, x_] = xb[n, c, r0:r1, s0:s1].sum() / int(divisor[y, x_])
    cache = AvgPool2dCache((N, C, H, W), g, divisor, unbatched)
    return (out[0] if unbatched else out), cache


def avg_pool2d_backward(dout: np.ndarray, cache: AvgPool2dCache) -> np.ndarray:
    """``dx = avg_pool2d_backward(dout, cache)``: every pixel of window (y, x) gets
    dY[y, x] / divisor(y, x); overlapping windows add. dout (N, C, OH, OW); dx like x."""
    (N, C, H, W), g, divisor, unbatched = cache
    check.float_array(dout, "avg_pool2d_backward", "dout")
    dy = dout[None] if unbatched else dout
    (KH, KW), (SH, SW), (PH, PW), _, (OH, OW) = g
    check.shape("avg_pool2d_backward", "dout", dy, (N, C, OH, OW), "(N, C, OH, OW)")
    dx = np.zeros((N, C, H, W), dtype=dy.dtype)
    for y in range(OH):
        r0, r1, _ = _avg_window(y, KH, SH, PH, H)
        for x_ in range(OW):
            s0, s1, _ = _avg_window(x_, KW, SW, PW, W)
            for n in range(N):
                for c in range(C):
                    dx[n, c, r0:r1, s0:s1] += dy[n, c, y, x_] / int(divisor[y, x_])
    return dx[0] if unbatched else dx


# -- adaptive average pooling --------------------------------------------------------------


class AdaptiveAvgPool2dCache(NamedTuple):
    """What :func:`adaptive_avg_pool2d_forward` keeps for its backward."""

    x_shape: tuple[int, int, int, int]   # (N, C, H, W) of the (batched) input
    out_size: tuple[int, int]            # (OH, OW)
    unbatched: bool


def _adaptive_window(y: int, n_out: int, n_in: int) -> tuple[int, int]:
    """PyTorch's window of output y: [floor(y*n_in/n_out), ceil((y+1)*n_in/n_out))."""
    return (y * n_in) // n_out, -(-((y + 1) * n_in) // n_out)


def adaptive_avg_pool2d_forward(x: np.ndarray, output_size: Any = 1
                                ) -> tuple[np.ndarray, AdaptiveAvgPool2dCache]:
    """``out, cache = adaptive_avg_pool2d_forward(x, output_size)``: x (N, C, H, W) or
    (C, H, W) -> out (N, C, OH, OW). output_size: an int, or a pair whose None entries
    keep the input's size."""
    fn = "adaptive_avg_pool2d"
    check.float_array(x, fn, "input")
    check.layout(fn, "input", x, (3, 4), "(N, C, H, W) or (C, H, W)")
    xb, unbatched = check.unbatched(x)
    N, C, H, W = xb.shape
    if isinstance(output_size, tuple | list) and len(output_size) == 2:
        output_size = (H if output_size[0] is None else output_size[0],
                       W if output_size[1] is None else output_size[1])
    OH, OW = check.int_pair(output_size, fn, "output_size")
    check.positive((OH, OW), fn, "output_size")
    out = np.empty((N, C, OH, OW), dtype=x.dtype)
    for y in range(OH):
        r0, r1 = _adaptive_window(y, OH, H)
        for x_ in range(OW):
            s0, s1 = _adaptive_window(x_, OW, W)
            for n in range(N):
                for c in range(C):
                    out[n, c, y, x_] = xb[n, c, r0:r1, s0:s1].mean()
    cache = AdaptiveAvgPool2dCache((N, C, H, W), (OH, OW), unbatched)
    return (out[0] if unbatched else out), cache


def adaptive_avg_pool2d_backward(dout: np.ndarray, cache: AdaptiveAvgPool2dCache
                                 ) -> np.ndarray:
    """``dx = adaptive_avg_pool2d_backward(dout, cache)``: dY[y, x] shared equally by the
    pixels of window (y, x); overlapping windows add."""
    (N, C, H, W), (OH, OW), unbatched = cache
    check.float_array(dout, "adaptive_avg_pool2d_backward", "dout")
    dy = dout[None] if unbatched else dout
    check.shape("adaptive_avg_pool2d_backward", "dout", dy, (N, C, OH, OW), "(N, C, OH, OW)")
    dx = np.zeros((N, C, H, W), dtype=dy.dtype)
    for y in range(OH):
        r0, r1 = _adaptive_window(y, OH, H)
        for x_ in range(OW):
            s0, s1 = _adaptive_window(x_, OW, W)
            size = (r1 - r0) * (s1 - s0)
            for n in range(N):
                for c in range(C):
                    dx[n, c, r0:r1, s0:s1] += dy[n, c, y, x_] / size
    return dx[0] if unbatched else dx
