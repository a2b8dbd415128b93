"""Convolution and pooling: the output-size rule, conv2d, max/avg/adaptive pooling.

Shapes follow PyTorch: input (N, C, H, W) (or unbatched (C, H, W)), weight
(O, C/groups, KH, KW) ("OIHW"), output (N, O, OH, OW) with, per spatial dimension,

    OH = floor((H + 2P - D(K-1) - 1) / S) + 1            (stride S, padding P, dilation D)

**Cross-correlation, not convolution.** What deep learning calls a "convolution" slides
the kernel over the input *without* flipping it:

    Y[n, o, y, x] = b[o] + sum_{c, i, j} W[o, c, i, j] * Xp[n, c, yS + iD, xS + jD]

(Xp the zero-padded input). A convolution in the signal-processing sense flips the kernel
by 180 degrees first. The difference matters in one place: the backward pass, where the
flipped kernel appears (see :class:`Conv2d`).

How the fast path works (one implementation, used by the graph and by the layer door):

1. The padded input is written once into a buffer laid out as "phase images": for
   stride S, pixel (r, s) of the padded input goes to phase (r mod S, s mod S) at position
   (r div S, s div S). In a phase image every kernel offset (i, j) reads a *contiguous*
   run of memory when the rows are flattened: output pixel t = y*Wq + x reads
   phase[t + shift(i, j)]. (For stride 1 there is one phase: the padded input itself.)
   The price is Wq - OW "garbage" columns per output row (the window wraps into the next
   row); they are computed and thrown away, and their gradient is set to zero.
2. im2col = KH*KW block copies of those runs into ``cols`` of shape
   (C*KH*KW, N*OH*Wq); then one matrix product per group, W (O, C*KH*KW) @ cols.
   The product is taken over chunks of a few images at a time (a few MB of columns,
   see ``_CHUNK_BYTES``): copying a chunk's columns and multiplying them while they sit
   in the CPU cache is 2-3x faster than streaming one huge column matrix through
   memory. The chunks only split the columns of the same product.
3. Backward: dW = dY @ cols^T (the correlation of the input with dY), dcols = W^T @ dY,
   and col2im adds dcols back as KH*KW vectorised slice-adds of long contiguous runs
   (the "full correlation with the flipped kernel", written as a scatter). The columns
   are recomputed chunk by chunk from the saved padded input instead of being kept from
   the forward pass (KH*KW times less memory held between forward and backward).

``conv2d_naive`` / ``conv2d_backward_naive`` below are the definitions written as plain
loops and as convolutions; the tests check that both doors agree with them and PyTorch.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from handgrad.function import Context, Function

__all__ = [
    "conv_output_size", "pool_output_size", "Conv2d", "MaxPool2d", "AvgPool2d",
    "AdaptiveAvgPool2d", "conv2d_naive", "conv2d_backward_naive", "conv2d_forward",
    "conv2d_backward", "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward",
    "avg_pool2d_backward", "adaptive_avg_pool2d_forward", "adaptive_avg_pool2d_backward",
]

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


class _Geom(NamedTuple):
    """Everything the fast conv path needs to know about one call."""

    N: int
    C: int
    H: int
    W: int
    O: int
    G: int
    KH: int
    KW: int
    SH: int
    SW: int
    DH: int
    DW: int
    pt: int  # padding top / left (bottom and right follow from the extent used)
    pl: int
    OH: int
    OW: int
    Hq: int  # phase-image height and width
    Wq: int
    blk: int  # elements per (n, c) block of the phase buffer = SH*SW*Hq*Wq
    slack: int  # extra elements at the end of the buffer so every window view is in bounds
    offsets: tuple[int, ...]  # flat offset of kernel tap (i, j) inside a block, row-major


def _conv_padding(padding: Any, KH: int, KW: int, DH: int, DW: int, SH: int, SW: int
                  ) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) padding from an int, a pair, 'valid' or 'same'."""
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0, 0, 0
        if padding == "same":
            if SH != 1 or SW != 1:
                raise ValueError(f"conv2d: padding='same' is not supported for strided "
                                 f"convolutions (stride={(SH, SW)}); as in PyTorch, use "
                                 f"stride 1 or give the padding as numbers")
            # total D(K-1) per dimension; with an even kernel the extra pixel goes to the
            # bottom/right, exactly as PyTorch does
            th, tw = DH * (KH - 1), DW * (KW - 1)
            return th // 2, th - th // 2, tw // 2, tw - tw // 2
        raise ValueError(f"conv2d: padding must be an int, a pair, 'valid' or 'same', "
                         f"got {padding!r}")
    ph, pw = _pair(padding, "padding", "conv2d")
    return ph, ph, pw, pw


def _geometry(x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: Any, padding: Any,
              dilation: Any, groups: Any) -> tuple[_Geom, tuple[int, int, int, int]]:
    if len(x_shape) != 4:
        raise ValueError(f"conv2d: input must be 4-D (N, C, H, W) or 3-D (C, H, W), got "
                         f"shape {x_shape}")
    if len(w_shape) != 4:
        raise ValueError(f"conv2d: weight must be 4-D (out_channels, in_channels/groups, "
                         f"kH, kW), got shape {w_shape}")
    if not _is_int(groups) or groups <= 0:
        raise ValueError(f"conv2d: groups must be a positive integer, got {groups!r}")
    N, C, H, W = x_shape
    O, Cg, KH, KW = w_shape
    G = int(groups)
    if C == 0 or O == 0:
        raise ValueError(f"conv2d: input shape {x_shape} and weight shape {w_shape}: a "
                         f"convolution needs at least one input and one output channel "
                         f"(in_channels = {C}, out_channels = {O})")
    if C % G:
        raise ValueError(f"conv2d: in_channels = {C} (input shape {x_shape}) is not divisible "
                         f"by groups = {G}; each group must get C/groups channels")
    if O % G:
        raise ValueError(f"conv2d: out_channels = {O} (weight shape {w_shape}) is not "
                         f"divisible by groups = {G}")
    if Cg != C // G:
        raise ValueError(
            f"conv2d: weight shape {w_shape} does not fit input shape {x_shape} with "
            f"groups={G}: weight.shape[1] must be in_channels/groups = {C}/{G} = {C // G}, "
            f"got {Cg}")
    if KH <= 0 or KW <= 0:
        raise ValueError(f"conv2d: kernel size must be positive, weight shape {w_shape}")
    SH, SW = _pair(stride, "stride", "conv2d")
    DH, DW = _pair(dilation, "dilation", "conv2d")
    pads = _conv_padding(padding, KH, KW, DH, DW, SH, SW)
    pt, pb, pl, pr = pads
    # the output-size rule per dimension (raises with the filled-in formula)
    if pt == pb:  # ('same' padding, possibly asymmetric, always fits)
        conv_output_size(H, KH, SH, pt, DH, name="conv2d", dim="height")
    if pl == pr:
        conv_output_size(W, KW, SW, pl, DW, name="conv2d", dim="width")
    OH = (H + pt + pb - DH * (KH - 1) - 1) // SH + 1
    OW = (W + pl + pr - DW * (KW - 1) - 1) // SW + 1
    return _phase_geometry(N, C, H, W, O, G, KH, KW, SH, SW, DH, DW, pt, pl, OH, OW), pads


def _phase_geometry(N: int, C: int, H: int, W: int, O: int, G: int, KH: int, KW: int,
                    SH: int, SW: int, DH: int, DW: int, pt: int, pl: int, OH: int,
                    OW: int) -> _Geom:
    # padded extent actually read by some window; rows/cols past it are never used
    Hu = (OH - 1) * SH + DH * (KH - 1) + 1
    Wu = (OW - 1) * SW + DW * (KW - 1) + 1
    Hq, Wq = -(-Hu // SH), -(-Wu // SW)
    blk = SH * SW * Hq * Wq
    offsets = tuple(
        (((i * DH) % SH) * SW + (j * DW) % SW) * Hq * Wq + ((i * DH) // SH) * Wq + (j * DW) // SW
        for i in range(KH) for j in range(KW))
    # room after the last block so that tap views of the last images stay inside the
    # buffer (they are plain slices of it, reshaped: see _tap)
    slack = max(offsets) + blk
    return _Geom(N, C, H, W, O, G, KH, KW, SH, SW, DH, DW, pt, pl, OH, OW, Hq, Wq, blk, slack,
                 offsets)


# ----------------------------------------------------------------------------------------
# the phase buffer: padded input, rearranged so every kernel tap reads contiguous runs
# ----------------------------------------------------------------------------------------
def _phase_slices(g: _Geom) -> list[tuple[int, int, slice, slice, slice, slice]]:
    """For each phase (p, q): which input rows/cols land where in that phase image."""
    Hu = (g.OH - 1) * g.SH + g.DH * (g.KH - 1) + 1
    Wu = (g.OW - 1) * g.SW + g.DW * (g.KW - 1) + 1
    out = []
    for p in range(g.SH):
        r0 = g.pt + (p - g.pt) % g.SH  # first padded row >= pt in phase p
        rows = range(r0 - g.pt, min(g.H, Hu - g.pt), g.SH)
        for q in range(g.SW):
            c0 = g.pl + (q - g.pl) % g.SW
            cols = range(c0 - g.pl, min(g.W, Wu - g.pl), g.SW)
            if len(rows) == 0 or len(cols) == 0:
                continue
            a0, b0 = r0 // g.SH, c0 // g.SW
            out.append((p, q,
                        slice(rows.start, rows.stop, g.SH), slice(cols.start, cols.stop, g.SW),
                        slice(a0, a0 + len(rows)), slice(b0, b0 + len(cols))))
    return out


def _phase_view(buf: np.ndarray, g: _Geom) -> np.ndarray:
    return buf[: g.N * g.C * g.blk].reshape(g.N, g.C, g.SH, g.SW, g.Hq, g.Wq)


def _to_phases(x: np.ndarray, g: _Geom) -> np.ndarray:
    """The zero-padded input as a flat buffer of phase images, (N, C, SH, SW, Hq, Wq)
    followed by ``slack`` zeros: padded pixel (r, s) sits in phase (r mod SH, s mod SW)
    at (r div SH, s div SW). S*S strided copies (one for stride 1)."""
    buf = np.zeros(g.N * g.C * g.blk + g.slack, dtype=x.dtype)
    ph = _phase_view(buf, g)
    for p, q, rs, cs, a, b in _phase_slices(g):
        ph[:, :, p, q, a, b] = x[:, :, rs, cs]
    return buf


def _from_phases(buf: np.ndarray, g: _Geom) -> np.ndarray:
    """Adjoint of :func:`_to_phases`: the (N, C, H, W) gradient, padding dropped."""
    ph = _phase_view(buf, g)
    slices = _phase_slices(g)
    covered = sum((s[2].stop - s[2].start + g.SH - 1) // g.SH *
                  ((s[3].stop - s[3].start + g.SW - 1) // g.SW) for s in slices)
    make = np.empty if covered == g.H * g.W else np.zeros  # rows no window reads get 0
    dx = make((g.N, g.C, g.H, g.W), dtype=buf.dtype)
    for p, q, rs, cs, a, b in slices:
        dx[:, :, rs, cs] = ph[:, :, p, q, a, b]
    return dx


def _tap(buf: np.ndarray, g: _Geom, offset: int, n0: int = 0, nb: int | None = None
         ) -> np.ndarray:
    """View (C, nb, OH*Wq) of the buffer: what kernel tap ``offset`` sees for images
    n0 .. n0+nb-1. Element [c, n, t] is buf[(n0+n)*C*blk + c*blk + offset + t]; the output
    pixels t = y*Wq + x run contiguously in memory.

    A plain slice of the buffer, reshaped to (nb, C, blk) and cut to the first OH*Wq
    elements of each block (ordinary views keep NumPy's overlap checks cheap).
    """
    nb = g.N - n0 if nb is None else nb
    start = n0 * g.C * g.blk + offset
    blocks = buf[start:start + nb * g.C * g.blk].reshape(nb, g.C, g.blk)
    return blocks[:, :, :g.OH * g.Wq].transpose(1, 0, 2)


def _im2col(buf: np.ndarray, g: _Geom, n0: int = 0, nb: int | None = None,
            out: np.ndarray | None = None) -> np.ndarray:
    """cols (C, KH*KW, nb, OH*Wq): cols[c, (i,j), n, t] = Xp[n0 + n, c, yS + iD, xS + jD]."""
    nb = g.N - n0 if nb is None else nb
    shape = (g.C, g.KH * g.KW, nb, g.OH * g.Wq)
    if out is None:
        cols = np.empty(shape, buf.dtype)
    elif out.ndim == 4:  # a view of the whole batch's columns
        cols = out
    else:  # a flat scratch buffer
        cols = out[:math.prod(shape)].reshape(shape)
    for k, off in enumerate(g.offsets):  # KH*KW block copies of long contiguous runs
        cols[:, k] = _tap(buf, g, off, n0, nb)
    return cols


def _col2im(dcols: np.ndarray, g: _Geom, n0: int = 0, buf: np.ndarray | None = None
            ) -> np.ndarray:
    """Adjoint of :func:`_im2col`: add every tap's column block back where it was read."""
    if buf is None:
        buf = np.zeros(g.N * g.C * g.blk + g.slack, dtype=dcols.dtype)
    nb = dcols.shape[2]
    for k, off in enumerate(g.offsets):  # KH*KW vectorised slice-adds, never per pixel
        view = _tap(buf, g, off, n0, nb)
        view += dcols[:, k]
    return buf


# Columns up to this size are kept from the forward pass for dW (saves one im2col in
# backward); larger ones are recomputed chunk by chunk from the padded input.
_KEEP_COLS_BYTES = 64 << 20

# The matrix products run over chunks of images whose columns fill about this many bytes,
# so that the im2col copy, the product and col2im of a chunk work in the CPU cache
# instead of streaming one huge matrix through memory three times. Measured on the 2-core
# test machine, single-threaded: 1-4 MB chunks run the products at 70-100 GFLOP/s, one
# product over the whole batch at about 35. Not smaller: with several BLAS threads every
# product is a synchronisation point, and on a busy machine many small ones cost more.
_CHUNK_BYTES = 4 << 20


def _chunk_images(g: _Geom, itemsize: int) -> int:
    per_image = g.C * g.KH * g.KW * g.OH * g.Wq * itemsize
    return max(1, min(g.N, round(_CHUNK_BYTES / per_image)))


# ----------------------------------------------------------------------------------------
# conv2d
# ----------------------------------------------------------------------------------------
def _check_conv_args(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> None:
    for arr, label in ((x, "input"), (w, "weight")):
        if not isinstance(arr, np.ndarray) or arr.dtype.kind != "f":
            dt = getattr(arr, "dtype", type(arr).__name__)
            raise TypeError(f"conv2d: {label} must be a floating-point array, got {dt}")
    if w.dtype != x.dtype:
        raise TypeError(f"conv2d: input dtype {x.dtype} and weight dtype {w.dtype} differ; "
                        f"cast one of them (as in PyTorch, no silent promotion)")
    if b is not None:
        if b.dtype != x.dtype:
            raise TypeError(f"conv2d: bias dtype {b.dtype} differs from input dtype {x.dtype}")
        if b.shape != (w.shape[0],):
            raise ValueError(f"conv2d: bias must have shape (out_channels,) = ({w.shape[0]},), "
                             f"got {b.shape}")


class Conv2d(Function):
    """2-D convolution (cross-correlation), PyTorch semantics, im2col + GEMM per group.

    Forward (per group; Xp the padded input, S stride, D dilation)::

        Y[n, o, y, x] = b[o] + sum_{c,i,j} W[o, c, i, j] Xp[n, c, yS + iD, xS + jD]

    Written as a matrix product: with cols[(c,i,j), (n,y,x)] = Xp[n, c, yS+iD, xS+jD]
    (shape (C*KH*KW, N*OH*OW)), Y = W_mat @ cols with W_mat = W.reshape(O, C*KH*KW).

    Backward. Differentiate the sum term by term:

    * dL/db[o] = sum_{n,y,x} dY[n, o, y, x].
    * dL/dW[o, c, i, j] = sum_{n,y,x} dY[n, o, y, x] Xp[n, c, yS + iD, xS + jD].
      This is again a cross-correlation: the *input* correlated with dY used as the
      kernel (dY dilated by S, read with stride D). As matrices: dW_mat = dY_mat @ cols^T,
      (O, N*OH*OW) @ (N*OH*OW, C*KH*KW).
    * dL/dXp[n, c, r, s] = sum over every (o, i, j, y, x) with yS + iD = r and
      xS + jD = s of W[o, c, i, j] dY[n, o, y, x]. Put dY on a grid dilated by S (S-1
      zeros between its pixels: dYs[yS, xS] = dY[y, x]) and substitute u = r - iD:
      dXp[n, c, r, s] = sum_{o,i,j} W[o, c, i, j] dYs[n, o, r - iD, s - jD].
      The indices *subtract*: this is a true convolution of dYs with W, i.e. a
      cross-correlation of dYs, zero-padded by D(K-1) on every side ("full"), with the
      kernel rotated by 180 degrees (i -> K-1-i, j -> K-1-j) and its in/out channel axes
      swapped. Finally dX = dXp with the padding cropped off. (That is why the backward of
      a convolution is a convolution, and why the flip appears only here.)
      As matrices: dcols = W_mat^T @ dY_mat, then col2im adds each entry of dcols back to
      the pixel it was copied from, which computes exactly that sum.

    Shapes: x (N, C, H, W), w (O, C/G, KH, KW), b (O,), y (N, O, OH, OW); dx, dw, db have
    the shapes of x, w, b. ``ctx.needs_input_grad`` skips dX (e.g. the first layer).
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None,
                stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1
                ) -> np.ndarray:
        _check_conv_args(x, w, b)
        unbatched = x.ndim == 3
        if unbatched:
            x = x[None]
        g, _ = _geometry(x.shape, w.shape, stride, padding, dilation, groups)
        T = g.OH * g.Wq
        G, Og = g.G, g.O // g.G
        buf = _to_phases(x, g)
        wm = w.reshape(G, Og, -1)  # (G, Og, Cg*KH*KW)
        nb = _chunk_images(g, x.itemsize)
        needs = ctx.needs_input_grad
        need_w = len(needs) > 1 and needs[1]
        keep = need_w and g.C * g.KH * g.KW * g.N * T * x.itemsize <= _KEEP_COLS_BYTES
        if keep:  # all columns, filled chunk by chunk and kept for dW
            store = np.empty((g.C, g.KH * g.KW, g.N, T), dtype=x.dtype)
        else:
            store = np.empty(g.C * g.KH * g.KW * nb * T, dtype=x.dtype)
        ystore = np.empty(g.O * nb * T, dtype=x.dtype)
        out = np.empty((g.N, g.O, g.OH, g.OW), dtype=x.dtype)
        bias = None if b is None else b[:, None, None, None]
        for n0 in range(0, g.N, nb):
            nc = min(nb, g.N - n0)
            cols = _im2col(buf, g, n0, nc, store[:, :, n0:n0 + nc] if keep else store)
            cols = cols.reshape(G, -1, nc * T)
            ys = ystore[:g.O * nc * T].reshape(G, Og, nc * T)
            if G == 1:
                np.matmul(wm[0], cols[0], out=ys[0])
            else:
                np.matmul(wm, cols, out=ys)
            # (O, nc, OH, Wq) -> (nc, O, OH, OW): drop the garbage columns, add the bias,
            # while the chunk is still in cache
            y4 = ys.reshape(g.O, nc, g.OH, g.Wq)[:, :, :, : g.OW]
            dst = out[n0:n0 + nc].transpose(1, 0, 2, 3)
            if bias is None:
                np.copyto(dst, y4)
            else:
                np.add(y4, bias, out=dst)
        ctx.geom = g
        ctx.unbatched = unbatched
        ctx.has_bias = b is not None
        ctx.keep = keep
        # the GEMM layout's garbage columns hold input pixels that dY (0 there) multiplies
        # in dW: with an inf/NaN input that is 0 * inf = NaN where PyTorch has a finite
        # weight gradient, so then the backward zeroes those columns (one pass over x,
        # only when dW is needed)
        ctx.finite = not need_w or bool(np.isfinite(x).all())
        # dW needs the columns (or the padded input to recompute them); dX the weight
        ctx.save_for_backward((store if keep else buf) if need_w else None, w)
        return out[0] if unbatched else out

    @staticmethod
    def backward(ctx: Context, dy: np.ndarray) -> tuple[Any, ...]:
        g: _Geom = ctx.geom
        buf, w = ctx.saved_arrays
        needs = ctx.needs_input_grad
        need_x, need_w = needs[0], len(needs) > 1 and needs[1]
        if ctx.unbatched:
            dy = dy[None]
        T = g.OH * g.Wq
        G, Og = g.G, g.O // g.G
        dx = dw = db = None
        if len(needs) > 2 and needs[2] and ctx.has_bias:
            db = dy.sum(axis=(0, 2, 3))
        wm = w.reshape(G, Og, -1)
        wmT = wm.transpose(0, 2, 1)
        nb = _chunk_images(g, dy.itemsize)
        # a chunk of dY in the GEMM layout (O, nc, OH, Wq); the garbage columns stay 0
        dystore = np.zeros(g.O * nb * T, dtype=dy.dtype)
        if need_w:  # accumulated transposed, (G, Cg*KH*KW, Og): that product runs faster
            dwmT = np.zeros(wmT.shape, dtype=dy.dtype)
            part = np.empty_like(dwmT)
            if not ctx.keep:
                store = np.empty(g.C * g.KH * g.KW * nb * T, dtype=dy.dtype)
        if need_x:
            dbuf = np.zeros(g.N * g.C * g.blk + g.slack, dtype=dy.dtype)
            dstore = np.empty(g.C * g.KH * g.KW * nb * T, dtype=dy.dtype)
        for n0 in range(0, g.N if need_w or need_x else 0, nb):
            nc = min(nb, g.N - n0)
            if nc < nb:  # the last, shorter chunk: a fresh zeroed buffer of its size
                dystore = np.zeros(g.O * nc * T, dtype=dy.dtype)
            dys4 = dystore[:g.O * nc * T].reshape(g.O, nc, g.OH, g.Wq)
            dys4[:, :, :, : g.OW] = dy[n0:n0 + nc].transpose(1, 0, 2, 3)
            dys = dys4.reshape(G, Og, nc * T)
            if need_w:
                # dW^T += cols_chunk @ dY_chunk^T: the correlation of the input with dY
                if ctx.keep:
                    cols = buf[:, :, n0:n0 + nc].reshape(G, -1, nc * T)
                else:
                    cols = _im2col(buf, g, n0, nc, store).reshape(G, -1, nc * T)
                if not ctx.finite and g.Wq > g.OW:
                    if ctx.keep:  # the kept columns are read again by later calls: copy
                        cols = cols.copy()
                    cols.reshape(-1, nc, g.OH, g.Wq)[..., g.OW:] = 0
                if G == 1:
                    np.matmul(cols[0], dys[0].T, out=part[0])
                else:
                    np.matmul(cols, dys.transpose(0, 2, 1), out=part)
                dwmT += part
            if need_x:
                # dcols = W^T @ dY_chunk, then col2im: the full correlation with rot180(W)
                dcols = dstore[:g.C * g.KH * g.KW * nc * T].reshape(G, -1, nc * T)
                if G == 1:
                    np.matmul(wmT[0], dys[0], out=dcols[0])
                else:
                    np.matmul(wmT, dys, out=dcols)
                _col2im(dcols.reshape(g.C, g.KH * g.KW, nc, T), g, n0, dbuf)
        if need_w:
            dw = np.ascontiguousarray(dwmT.transpose(0, 2, 1)).reshape(w.shape)
        if need_x:
            dx = _from_phases(dbuf, g)
            if ctx.unbatched:
                dx = dx[0]
        return dx, dw, db


def conv2d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, stride: Any = 1,
                   padding: Any = 0, dilation: Any = 1, groups: int = 1
                   ) -> tuple[np.ndarray, Context]:
    """Layer door: ``out, cache = conv2d_forward(x, w, b, stride, padding)`` (CS231n style)."""
    return Conv2d.layer_forward(x, w, b, stride=stride, padding=padding, dilation=dilation,
                                groups=groups)


def conv2d_backward(dout: np.ndarray, cache: Context) -> tuple[Any, Any, Any]:
    """Layer door: ``dx, dw, db = conv2d_backward(dout, cache)`` (db None without bias)."""
    return Conv2d.layer_backward(dout, cache)


# -- the definitions, as loops ------------------------------------------------------------
def _pad_input(x: np.ndarray, pads: tuple[int, int, int, int], value: float = 0.0
               ) -> np.ndarray:
    pt, pb, pl, pr = pads
    return np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=value)


def conv2d_naive(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1) -> np.ndarray:
    """The definition, as loops over output pixels (slow; for reading and for tests)::

        Y[n, o, y, x] = b[o] + sum_{c,i,j} W[o, c, i, j] Xp[n, c, yS + iD, xS + jD]
    """
    unbatched = x.ndim == 3
    if unbatched:
        x = x[None]
    g, pads = _geometry(x.shape, w.shape, stride, padding, dilation, groups)
    xp = _pad_input(x, pads)
    Cg, Og = g.C // g.G, g.O // g.G
    out = np.zeros((g.N, g.O, g.OH, g.OW), dtype=x.dtype)
    for grp in range(g.G):
        xg = xp[:, grp * Cg:(grp + 1) * Cg]
        wg = w[grp * Og:(grp + 1) * Og]  # (Og, Cg, KH, KW)
        for y in range(g.OH):
            for x_ in range(g.OW):
                r, s = y * g.SH, x_ * g.SW
                patch = xg[:, :, r:r + g.DH * (g.KH - 1) + 1:g.DH,
                           s:s + g.DW * (g.KW - 1) + 1:g.DW]  # (N, Cg, KH, KW)
                out[:, grp * Og:(grp + 1) * Og, y, x_] = np.tensordot(
                    patch, wg, axes=([1, 2, 3], [1, 2, 3]))
    if b is not None:
        out += b[:, None, None]
    return out[0] if unbatched else out


def conv2d_backward_naive(dy: np.ndarray, x: np.ndarray, w: np.ndarray, stride: Any = 1,
                          padding: Any = 0, dilation: Any = 1, groups: int = 1
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The backward pass written literally as convolutions (see :class:`Conv2d`).

    * dW: the padded input correlated with dY as the kernel (dY's taps dilated by S,
      read with stride D): conv2d_naive(Xp^T, dY^T, stride=D, dilation=S).
    * dX: dY dilated by S, zero-padded by D(K-1) on each side, correlated with the
      180-degree-rotated kernel whose in/out channels are swapped; then the padding of
      the forward pass is cropped off.
    * db: dY summed over batch and space.
    """
    unbatched = x.ndim == 3
    if unbatched:
        x, dy = x[None], dy[None]
    g, pads = _geometry(x.shape, w.shape, stride, padding, dilation, groups)
    pt, pb, pl, pr = pads
    xp = _pad_input(x, pads)
    Cg, Og = g.C // g.G, g.O // g.G
    dw = np.zeros_like(w)
    dxp = np.zeros_like(xp)
    # dY dilated by the stride: S-1 zeros between neighbouring pixels
    dys = np.zeros((g.N, g.O, (g.OH - 1) * g.SH + 1, (g.OW - 1) * g.SW + 1), dtype=dy.dtype)
    dys[:, :, ::g.SH, ::g.SW] = dy
    fh, fw = g.DH * (g.KH - 1), g.DW * (g.KW - 1)
    dys_full = np.pad(dys, ((0, 0), (0, 0), (fh, fh), (fw, fw)))
    for grp in range(g.G):
        cs, os_ = slice(grp * Cg, (grp + 1) * Cg), slice(grp * Og, (grp + 1) * Og)
        # dW[o, c, i, j] = sum_{n,y,x} Xp[n, c, yS+iD, xS+jD] dY[n, o, y, x]
        corr = conv2d_naive(xp[:, cs].transpose(1, 0, 2, 3), dy[:, os_].transpose(1, 0, 2, 3),
                            stride=(g.DH, g.DW), dilation=(g.SH, g.SW))  # (Cg, Og, >=KH, >=KW)
        dw[os_] = corr[:, :, :g.KH, :g.KW].transpose(1, 0, 2, 3)
        # dXp = full correlation of dYs with rot180(W), channels swapped: (Cg, Og, KH, KW)
        w_rot = w[os_, :, ::-1, ::-1].transpose(1, 0, 2, 3)
        full = conv2d_naive(dys_full[:, os_], np.ascontiguousarray(w_rot),
                            dilation=(g.DH, g.DW))
        dxp[:, cs, :full.shape[2], :full.shape[3]] = full
    dx = dxp[:, :, pt:pt + g.H, pl:pl + g.W]
    db = dy.sum(axis=(0, 2, 3))
    if unbatched:
        dx = dx[0]
    return dx, dw, db


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
        out = taps[0].copy()
        idx = np.zeros(out.shape, dtype=np.uint8 if len(taps) < 256 else np.int32)
        greater = np.empty(out.shape, dtype=bool)
        nan = np.empty(out.shape, dtype=bool)
        for k in range(1, len(taps)):
            # branch-free updates: masked copies (np.copyto(where=), np.where) on random
            # masks are several times slower than arithmetic. PyTorch's rule: a tap takes
            # over when it is greater than the maximum so far, or NaN (so a window
            # holding NaN outputs NaN and sends its gradient to its last NaN)
            np.greater(taps[k], out, out=greater)
            np.isnan(taps[k], out=nan)
            greater |= nan
            np.maximum(out, taps[k], out=out)
            step = np.subtract(k, idx, dtype=idx.dtype)  # idx <- k where greater
            step *= greater
            idx += step
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

