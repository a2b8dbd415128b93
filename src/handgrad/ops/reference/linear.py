"""The fully connected layer, the definition: Y = X W^T + b.

PyTorch's layout: the weight W is (out_features, in_features), one row per output unit.
X is (..., in): every row x of X (all leading axes flattened into N rows) gives

    y_o = sum_i W[o, i] x_i + b_o,        Y = X W^T + b     (N, out)

Backward, with dY (N, out) given: dy_o / dx_i = W[o, i], dy_o / dW[o, i] = x_i,
dy_o / db_o = 1, and every row n contributes to W and b, so

    dX = dY W             (N, out) @ (out, in) -> (N, in)
    dW = dY^T X           (out, N) @ (N, in)  -> (out, in)     (a sum over the rows)
    db = sum_n dY[n]      (out,)

A check that never fails: a gradient has the shape of what it is the gradient of, and
there is exactly one way to multiply dY with the other factor to get that shape.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from handgrad.ops.reference import _checks as check

__all__ = ["LinearCache", "linear_forward", "linear_backward"]


class LinearCache(NamedTuple):
    """What :func:`linear_forward` keeps for :func:`linear_backward`."""

    x: np.ndarray          # (..., in) the input
    w: np.ndarray          # (out, in) the weight
    has_bias: bool         # whether b was given (else db is None)


def linear_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None
                   ) -> tuple[np.ndarray, LinearCache]:
    """``out, cache = linear_forward(x, w, b)``: x (..., in), w (out, in), b (out,) or
    None -> out (..., out)."""
    fn = "linear"
    check.float_array(x, fn, "input")
    check.layout(fn, "input", x, tuple(range(1, 33)), "(..., in_features)")
    check.same_dtype(fn, "weight", w, "input", x)
    check.layout(fn, "weight", w, (2,), "(out_features, in_features)")
    check.shape(fn, "weight", w, (w.shape[0], x.shape[-1]),
                "(out_features, in_features = input.shape[-1])")
    if b is not None:
        check.same_dtype(fn, "bias", b, "input", x)
        check.shape(fn, "bias", b, (w.shape[0],), "(out_features,)")
    out = x @ w.T                            # Y = X W^T
    if b is not None:
        out = out + b                        #   + b, on every row
    return out, LinearCache(x, w, b is not None)


def linear_backward(dout: np.ndarray, cache: LinearCache
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``dx, dw, db = linear_backward(dout, cache)``: dout (..., out); dx, dw, db the
    shapes of x, w, b (db None without a bias)."""
    x, w, has_bias = cache
    check.float_array(dout, "linear_backward", "dout")
    check.shape("linear_backward", "dout", dout, x.shape[:-1] + (w.shape[0],),
                "input.shape[:-1] + (out_features,)")
    dy = dout.reshape(-1, w.shape[0])        # (N, out): every leading axis is a row
    x2 = x.reshape(-1, w.shape[1])           # (N, in)
    dx = (dy @ w).reshape(x.shape)           # dX = dY W
    dw = dy.T @ x2                           # dW = dY^T X
    db = dy.sum(axis=0) if has_bias else None  # db = sum over rows of dY
    return dx, dw, db
