"""Convolution: conv2d, PyTorch's semantics, and its backward as convolutions.

Where things are: the definition, as loops and one output pixel at a time, is
``handgrad.ops.reference.conv`` (``conv2d_forward`` / ``conv2d_backward``: read it first);
this file has the derivation and the autograd Function, whose forward and backward are the
fast path (phase images, im2col, chunked GEMMs); the output-size rule is in
``ops/output_size.py``, pooling in ``ops/pooling.py``. Tests assert reference == fast
(float64, 1e-12) and both == PyTorch.

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

The definitions written as plain loops and as convolutions are in
``handgrad.ops.reference.conv``; the tests check that both agree with each other and PyTorch.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from handgrad.function import Context, Function
from handgrad.ops.output_size import _is_int, _pair, conv_output_size

__all__ = ["conv_output_size", "Conv2d", "conv2d_forward", "conv2d_backward"]


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
