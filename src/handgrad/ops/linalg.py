"""Matrix products: matmul (batched, broadcast) and the fully connected layer.

Z = A @ B with A (n, k), B (k, m), Z (n, m). Each Z_ij = sum_k A_ik B_kj, so

    dL/dA = dZ @ B^T   (n, m) @ (m, k) -> (n, k)
    dL/dB = A^T @ dZ   (k, n) @ (n, m) -> (k, m)

A check that never fails: the gradient of a matrix has the matrix's own shape, and
there is exactly one way to multiply dZ with the other factor to get it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from handgrad.function import Context, Function
from handgrad.ops.elementwise import unbroadcast


def _matmul_shape_error(a: np.ndarray, b: np.ndarray) -> ValueError:
    return ValueError(
        f"matmul: shapes {a.shape} and {b.shape} do not fit; A @ B needs A's last dimension "
        f"({a.shape[-1] if a.ndim else '-'}) to equal B's "
        f"{'first' if b.ndim == 1 else 'second-to-last'} dimension "
        f"({b.shape[-2] if b.ndim >= 2 else (b.shape[0] if b.ndim else '-')}); "
        f"the leading (batch) dimensions must broadcast"
    )


def _check_same_float_dtype(op: str, name_a: str, a: np.ndarray, name_b: str,
                            b: np.ndarray) -> None:
    """No silent upcast: float32 @ float64 would quietly make everything after it float64
    (twice the memory and time). PyTorch refuses too; say which side to convert."""
    if a.dtype != b.dtype and (a.dtype.kind == "f" or b.dtype.kind == "f"):
        raise TypeError(
            f"{op}: {name_a} has dtype {a.dtype} but {name_b} has dtype {b.dtype}; both must "
            f"have the same floating dtype (convert one with .float() or .double())")


class MatMul(Function):
    """Z = A @ B.   dL/dA = dZ @ B^T,  dL/dB = A^T @ dZ  (batch axes summed if broadcast).

    1-D operands follow NumPy/PyTorch: a vector A is a row (1, k), a vector B a column
    (k, 1), and the added axis is removed from Z again.
    """

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: both arguments need at least 1 dimension, got shapes "
                             f"{a.shape} and {b.shape}")
        _check_same_float_dtype("matmul", "A", a, "B", b)
        ctx.save_for_backward(a, b)
        try:
            return np.matmul(a, b)
        except ValueError:
            raise _matmul_shape_error(a, b) from None

    @staticmethod
    def backward(ctx: Context, dz: np.ndarray) -> tuple[Any, Any]:
        a, b = ctx.saved_arrays
        need_a, need_b = ctx.needs_input_grad
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        # give dz back the axes the 1-D operands lost: b's column first, then a's row, so
        # that vector @ vector (dz of shape ()) becomes (1, 1)
        if b.ndim == 1:
            dz = np.expand_dims(dz, -1)
        if a.ndim == 1:
            dz = np.expand_dims(dz, -2)
        da = db = None
        if need_a:
            da = unbroadcast(dz @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
        if need_b:
            db = unbroadcast(np.swapaxes(a2, -1, -2) @ dz, b2.shape).reshape(b.shape)
        return da, db


class Linear(Function):
    """Y = X W^T + b, the fully connected layer, PyTorch's layout W: (out, in).

    X: (..., in), W: (out, in), b: (out,), Y: (..., out). With X flattened to (N, in):

        dL/dX = dY @ W          (N, out) @ (out, in) -> (N, in)
        dL/dW = dY^T @ X        (out, N) @ (N, in)   -> (out, in)
        dL/db = sum_n dY[n]     (out,)
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> Any:
        if w.ndim != 2:
            raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got "
                             f"shape {w.shape}")
        if x.ndim == 0 or x.shape[-1] != w.shape[1]:
            raise ValueError(
                f"linear: input has shape {x.shape} but weight has shape {w.shape}; the input's "
                f"last dimension must equal in_features = weight.shape[1] = {w.shape[1]}")
        _check_same_float_dtype("linear", "input", x, "weight", w)
        if b is not None and b.shape != (w.shape[0],):
            raise ValueError(f"linear: bias must have shape (out_features,) = ({w.shape[0]},), "
                             f"got {b.shape}")
        ctx.save_for_backward(x, w)
        ctx.has_bias = b is not None
        y = x @ w.T
        if b is not None:
            y += b
        return y

    @staticmethod
    def backward(ctx: Context, dy: np.ndarray) -> tuple[Any, ...]:
        x, w = ctx.saved_arrays
        needs = ctx.needs_input_grad
        dy2 = dy.reshape(-1, dy.shape[-1])
        dx = (dy @ w) if needs[0] else None
        dw = (dy2.T @ x.reshape(-1, x.shape[-1])) if needs[1] else None
        db = dy2.sum(axis=0) if ctx.has_bias and len(needs) > 2 and needs[2] else None
        return dx, dw, db


# The layer-by-layer door, as CS231n writes it: out, cache = linear_forward(x, w, b)
linear_forward = Linear.layer_forward
linear_backward = Linear.layer_backward
matmul_forward = MatMul.layer_forward
matmul_backward = MatMul.layer_backward
