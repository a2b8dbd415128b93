"""conv2d, the definition: loops for the forward pass, two convolutions for the backward.

Shapes are PyTorch's: input x (N, C, H, W) (or unbatched (C, H, W)), weight w
(O, C/G, KH, KW), bias b (O,) or None, output y (N, O, OH, OW). S is the stride, P the
padding, D the dilation, G the number of groups; per axis (rule in ``_checks``)

    OH = floor((H + P_top + P_bottom - D(KH-1) - 1) / S) + 1.

Forward: a cross-correlation (the kernel slides over the input *without* being flipped)

    Y[n, o, y, x] = b[o] + sum_{c,i,j} W[o, c, i, j] * Xp[n, c, y*S + i*D, x*S + j*D]

with Xp the zero-padded input and c running over the Cg = C/G input channels of the group
of output channel o (groups cut the channels into G independent convolutions).

Backward. dY = dL/dY (N, O, OH, OW) is given; differentiate the sum term by term.

* db[o] = sum_{n,y,x} dY[n, o, y, x].

* dW[o, c, i, j] = sum_{n,y,x} dY[n, o, y, x] * Xp[n, c, i*D + y*S, j*D + x*S].

  Read it with (i, j) as the output position and (y, x) as the kernel tap: it is again a
  cross-correlation, of the padded *input* with dY as the kernel, whose taps lie S
  pixels apart (dY dilated by the stride) while the output position moves in steps of D
  (stride D). The batch axis n is the one summed over (the "channel" of this
  correlation), c plays the batch and o the output channel:
  dW = correlate(Xp^T, dY^T, stride=D, dilation=S)^T, where ^T swaps axes 0 and 1. When
  the stride leaves the last rows or columns of the input unread, the correlation has
  more positions than the kernel: those belong to no weight and are cut off (KH x KW).

* dXp[n, c, r, s] = sum of W[o, c, i, j] * dY[n, o, y, x] over all (o, i, j, y, x) with
  y*S + i*D = r and x*S + j*D = s. Spread dY on a grid dilated by the stride,
  dYs[n, o, y*S, x*S] = dY[n, o, y, x] with S-1 zeros between neighbours; then, with
  u = r - i*D,

      dXp[n, c, r, s] = sum_{o,i,j} W[o, c, i, j] * dYs[n, o, r - i*D, s - j*D].

  The index *subtracts*: this is a true convolution of dYs with W. Pad dYs "fully", by
  D(K-1) zeros on every side (dYf[u + D(K-1)] = dYs[u]), and rotate the kernel by 180
  degrees (i' = K-1-i, j' = K-1-j), swapping its in and out channels:
  Wrot[c, o, i', j'] = W[o, c, K-1-i', K-1-j']. Then

      dXp[n, c, r, s] = sum_{o,i',j'} Wrot[c, o, i', j'] * dYf[n, o, r + i'*D, s + j'*D],

  a cross-correlation once more (stride 1, dilation D). Finally dX is dXp with the
  forward pass's padding cropped off. Rows of Xp that no window reads get no gradient.

So the backward pass of a convolution is two convolutions, and the flipped kernel appears
only here, in dX. The fast path (handgrad.ops.conv) computes the same sums with im2col and
matrix products; the tests check that both agree to 1e-12 and agree with PyTorch.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from handgrad.ops.reference import _checks as check

__all__ = ["Conv2dCache", "conv2d_forward", "conv2d_backward"]


class Conv2dCache(NamedTuple):
    """What :func:`conv2d_forward` keeps for :func:`conv2d_backward`."""

    x: np.ndarray                              # (N, C, H, W) the input (batched)
    w: np.ndarray                              # (O, C/G, KH, KW) the weight
    has_bias: bool                             # whether a bias was given (else db is None)
    stride: tuple[int, int]                    # (SH, SW)
    padding: tuple[int, int, int, int]         # (top, bottom, left, right)
    dilation: tuple[int, int]                  # (DH, DW)
    groups: int                                # G
    unbatched: bool                            # the input was (C, H, W): give dx that shape


def _correlate(x: np.ndarray, k: np.ndarray, stride: tuple[int, int] = (1, 1),
               dilation: tuple[int, int] = (1, 1)) -> np.ndarray:
    """The valid cross-correlation, as loops over the output pixels (no padding, no bias,
    one group):

        Z[n, o, y, x] = sum_{c,i,j} K[o, c, i, j] * X[n, c, y*S + i*D, x*S + j*D]

    x (N, C, H, W), k (O, C, KH, KW) -> Z (N, O, OH, OW), OH = floor((H - D(KH-1) - 1)/S) + 1.
    """
    N, C, H, W = x.shape
    O, _, KH, KW = k.shape
    (SH, SW), (DH, DW) = stride, dilation
    OH = (H - DH * (KH - 1) - 1) // SH + 1
    OW = (W - DW * (KW - 1) - 1) // SW + 1
    z = np.zeros((N, O, OH, OW), dtype=x.dtype)
    for n in range(N):
        for o in range(O):
            for y in range(OH):
                for x_ in range(OW):
                    # the window of output pixel (y, x): every D-th pixel from (yS, xS)
                    window = x[n, :, y * SH:y * SH + DH * (KH - 1) + 1:DH,
                               x_ * SW:x_ * SW + DW * (KW - 1) + 1:DW]      # (C, KH, KW)
                    z[n, o, y, x_] = np.sum(window * k[o])
    return z


def _padding(padding: Any, KH: int, KW: int, DH: int, DW: int, SH: int, SW: int
             ) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) from an int, a pair (height, width), 'valid' or 'same'."""
    fn = "conv2d"
    if isinstance(padding, str):
        check.choice(padding, ("valid", "same"), fn, "padding")
        if padding == "valid":
            return 0, 0, 0, 0
        if (SH, SW) != (1, 1):
            raise ValueError(check.MSG("same_needs_stride_1", fn=fn, stride=(SH, SW)))
        # 'same' keeps H: the padding adds up to D(K-1); an odd total puts the extra
        # pixel at the bottom / right, as PyTorch does
        th, tw = DH * (KH - 1), DW * (KW - 1)
        return th // 2, th - th // 2, tw // 2, tw - tw // 2
    ph, pw = check.int_pair(padding, fn, "padding")
    check.non_negative((ph, pw), fn, "padding")
    return ph, ph, pw, pw


def conv2d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None,
                   stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1
                   ) -> tuple[np.ndarray, Conv2dCache]:
    """``out, cache = conv2d_forward(x, w, b, stride, padding, dilation, groups)``.

    x (N, C, H, W) or (C, H, W); w (O, C/groups, KH, KW); b (O,) or None.
    stride, dilation: an int or a pair (height, width); padding: an int, a pair, 'valid'
    or 'same' (stride 1 only). Returns out (N, O, OH, OW) (or (O, OH, OW) unbatched) and
    the cache for :func:`conv2d_backward`.
    """
    fn = "conv2d"
    check.float_array(x, fn, "input")
    check.layout(fn, "input", x, (3, 4), "(N, C, H, W) or (C, H, W)")
    check.same_dtype(fn, "weight", w, "input", x)
    check.layout(fn, "weight", w, (4,), "(out_channels, in_channels/groups, kH, kW)")
    xb, unbatched = check.unbatched(x)
    N, C, H, W = xb.shape
    O, Cg, KH, KW = w.shape
    G = check.positive_int(groups, fn, "groups")
    if C % G:
        raise ValueError(check.MSG("divisible", fn=fn, name="in_channels", value=C, groups=G))
    if O % G:
        raise ValueError(check.MSG("divisible", fn=fn, name="out_channels", value=O, groups=G))
    check.shape(fn, "weight", w, (O, C // G, KH, KW),
                "(out_channels, in_channels/groups, kH, kW)")
    check.positive((KH, KW), fn, "kernel size (weight.shape[2:])")
    if b is not None:
        check.same_dtype(fn, "bias", b, "input", x)
        check.shape(fn, "bias", b, (O,), "(out_channels,)")
    SH, SW = check.int_pair(stride, fn, "stride")
    check.positive((SH, SW), fn, "stride")
    DH, DW = check.int_pair(dilation, fn, "dilation")
    check.positive((DH, DW), fn, "dilation")
    pt, pb, pl, pr = _padding(padding, KH, KW, DH, DW, SH, SW)
    check.output_size(H, KH, SH, pt, pb, DH, fn, "H")
    check.output_size(W, KW, SW, pl, pr, DW, fn, "W")

    xp = np.pad(xb, ((0, 0), (0, 0), (pt, pb), (pl, pr)))        # Xp, zeros around x
    Og = O // G
    groups_out = []
    for g in range(G):   # group g: input channels g*Cg.., output channels g*Og..
        x_g = xp[:, g * Cg:(g + 1) * Cg]                           # (N, Cg, Hp, Wp)
        w_g = w[g * Og:(g + 1) * Og]                               # (Og, Cg, KH, KW)
        groups_out.append(_correlate(x_g, w_g, (SH, SW), (DH, DW)))  # (N, Og, OH, OW)
    out = np.concatenate(groups_out, axis=1)                       # (N, O, OH, OW)
    if b is not None:
        out += b[:, None, None]                                    # b[o] on every pixel
    cache = Conv2dCache(xb, w, b is not None, (SH, SW), (pt, pb, pl, pr), (DH, DW), G,
                        unbatched)
    return (out[0] if unbatched else out), cache


def conv2d_backward(dout: np.ndarray, cache: Conv2dCache
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``dx, dw, db = conv2d_backward(dout, cache)``: the two convolutions of the module
    docstring. dout has the output's shape; dx, dw, db have the shapes of x, w, b
    (db is None when there was no bias)."""
    x, w, has_bias, (SH, SW), (pt, pb, pl, pr), (DH, DW), G, unbatched = cache
    check.float_array(dout, "conv2d_backward", "dout")
    dy = dout[None] if unbatched else dout
    N, C, H, W = x.shape
    O, Cg, KH, KW = w.shape
    OH, OW = dy.shape[2], dy.shape[3]
    check.shape("conv2d_backward", "dout", dy, (N, O, OH, OW), "(N, O, OH, OW)")
    Og = O // G
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))           # (N, C, Hp, Wp)

    # db[o] = sum_{n,y,x} dY[n, o, y, x]
    db = dy.sum(axis=(0, 2, 3)) if has_bias else None

    # for dX: dY on the stride-dilated grid, dYs[n, o, y*S, x*S] = dY[n, o, y, x], ...
    dys = np.zeros((N, O, (OH - 1) * SH + 1, (OW - 1) * SW + 1), dtype=dy.dtype)
    dys[:, :, ::SH, ::SW] = dy
    # ... "fully" padded by D(K-1) on every side
    fh, fw = DH * (KH - 1), DW * (KW - 1)
    dyf = np.pad(dys, ((0, 0), (0, 0), (fh, fh), (fw, fw)))

    dw = np.zeros_like(w)
    dxp = np.zeros_like(xp)
    for g in range(G):
        cin, cout = slice(g * Cg, (g + 1) * Cg), slice(g * Og, (g + 1) * Og)
        # dW[o, c, i, j] = sum_{n,y,x} dY[n, o, y, x] Xp[n, c, i*D + y*S, j*D + x*S]: the
        # input correlated with dY (taps S apart), n summed, stride D  -> (Cg, Og, >=KH, >=KW)
        corr = _correlate(xp[:, cin].transpose(1, 0, 2, 3), dy[:, cout].transpose(1, 0, 2, 3),
                          stride=(DH, DW), dilation=(SH, SW))
        dw[cout] = corr[:, :, :KH, :KW].transpose(1, 0, 2, 3)
        # dXp = dYf correlated with the rotated kernel Wrot[c, o, i', j'] = W[o, c, K-1-i', K-1-j']
        w_rot = w[cout, :, ::-1, ::-1].transpose(1, 0, 2, 3)        # (Cg, Og, KH, KW)
        full = _correlate(dyf[:, cout], w_rot, dilation=(DH, DW))   # (N, Cg, Hu, Wu)
        dxp[:, cin, :full.shape[2], :full.shape[3]] = full          # rows past Hu: unread
    dx = dxp[:, :, pt:pt + H, pl:pl + W]                            # crop the padding
    return (dx[0] if unbatched else dx), dw, db
