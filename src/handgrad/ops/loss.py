"""Softmax, log-softmax and the losses: cross-entropy, NLL, MSE, L1, BCE with logits.

Notation: z (N, C) are the scores (logits) of N samples over C classes, y (N,) the
class indices, p = softmax(z) row by row, L the (reduced) loss, and g_i = dL/dl_i the
upstream gradient reaching the loss of sample i (1/N for the mean of N samples).

The derivation learners are asked for (CS231n's ``softmax_loss``): with
l_i = -log p_{i,y_i} = -z_{i,y_i} + log sum_c e^{z_{i,c}},

    dl_i/dz_{i,c} = p_{i,c} - [c == y_i]        so   dL/dz = (p - onehot(y)) / N

for the mean. The fused backward here uses exactly that; it never forms the (C, C)
Jacobian of the softmax.

Every op has the layer-by-layer door (no graph)::

    loss, cache = softmax_cross_entropy_forward(scores, y)   # mean over the batch
    dscores = softmax_cross_entropy_backward(1.0, cache)      # (p - onehot) / N
    loss, dscores = softmax_loss(scores, y)                   # CS231n's signature

and the autograd Functions below call these same forward/backward pairs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from handgrad.function import Context, Function
from handgrad.ops.dims import wrap_dim
from handgrad.ops.elementwise import stable_sigmoid, unbroadcast

__all__ = [
    "Softmax", "LogSoftmax", "CrossEntropy", "NLLLoss", "MSELoss", "L1Loss", "BCEWithLogits",
    "softmax_forward", "softmax_backward", "log_softmax_forward", "log_softmax_backward",
    "softmax_cross_entropy_forward", "softmax_cross_entropy_backward", "softmax_loss",
    "nll_forward", "nll_backward", "mse_forward", "mse_backward", "l1_forward", "l1_backward",
    "bce_with_logits_forward", "bce_with_logits_backward", "check_reduction",
    "stable_log_softmax",
]

_REDUCTIONS = ("none", "mean", "sum")


def check_reduction(reduction: str, fn: str) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be one of 'none', 'mean', 'sum', got "
                         f"{reduction!r}")
    return reduction


def _check_float_input(x: np.ndarray, fn: str, name: str = "input") -> None:
    if x.dtype.kind not in "f":
        raise TypeError(f"{fn}: {name} must be a floating-point array (scores/logits), got "
                        f"dtype {x.dtype} with shape {x.shape}; convert it first, e.g. "
                        f"x.float() or np.asarray(x, dtype=np.float32)")


# -- softmax and log-softmax -------------------------------------------------------------

def stable_log_softmax(x: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """(log p, p) along ``axis``, with the max subtracted first so e^. never overflows.

    log p_c = (z_c - m) - log sum_k e^{z_k - m},  m = max_k z_k (the shift cancels).
    """
    if x.ndim == 0:
        return np.zeros_like(x), np.ones_like(x)
    shifted = x - np.max(x, axis=axis, keepdims=True) if x.size else x.copy()
    e = np.exp(shifted)
    s = np.sum(e, axis=axis, keepdims=True)
    logp = shifted
    logp -= np.log(s)
    e /= s
    return logp, e


class Softmax(Function):
    """p = softmax(z) along ``dim``: p_c = e^{z_c} / sum_k e^{z_k} (shifted by max z).

    Jacobian dp_c/dz_k = p_c ([c == k] - p_k), so without ever forming it:

        dL/dz = p * (dp - sum_k dp_k p_k)        (same shape as z; the sum along dim)
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, dim: int = -1) -> np.ndarray:
        _check_float_input(x, "softmax")
        axis = wrap_dim(dim, x.ndim, "softmax")
        _, p = stable_log_softmax(x, axis)
        ctx.save_for_backward(p)
        ctx.axis = axis
        return p

    @staticmethod
    def backward(ctx: Context, dp: np.ndarray) -> np.ndarray:
        (p,) = ctx.saved_arrays
        if p.ndim == 0:
            return np.zeros_like(p)
        dz = dp * p
        dz -= p * np.sum(dz, axis=ctx.axis, keepdims=True)
        return dz


class LogSoftmax(Function):
    """y = log softmax(z) along ``dim``: y_c = z_c - log sum_k e^{z_k}.

    dy_c/dz_k = [c == k] - p_k, so   dL/dz = dy - p * sum_c dy_c   (the sum along dim).
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, dim: int = -1) -> np.ndarray:
        _check_float_input(x, "log_softmax")
        axis = wrap_dim(dim, x.ndim, "log_softmax")
        logp, p = stable_log_softmax(x, axis)
        ctx.save_for_backward(p)
        ctx.axis = axis
        return logp

    @staticmethod
    def backward(ctx: Context, dy: np.ndarray) -> np.ndarray:
        (p,) = ctx.saved_arrays
        if p.ndim == 0:
            return np.zeros_like(p)
        return dy - p * np.sum(dy, axis=ctx.axis, keepdims=True)


softmax_forward, softmax_backward = Softmax.layer_forward, Softmax.layer_backward
log_softmax_forward, log_softmax_backward = LogSoftmax.layer_forward, LogSoftmax.layer_backward


# -- class-index targets: shared checks and the (N, C, d1, ...) -> (M, C) layout ---------

def _check_class_target(x: np.ndarray, target: Any, fn: str) -> np.ndarray:
    """Check a class-index target against scores x of shape (C,), (N, C) or (N, C, d1...)."""
    target = np.asarray(target)
    if x.ndim == 0:
        raise ValueError(f"{fn}: input must have a class dimension, shape (C,), (N, C) or "
                         f"(N, C, d1, ...), got a 0-d input")
    if target.dtype.kind not in "iu":
        if target.dtype.kind == "f" and target.shape == x.shape:
            hint = ("it has the input's shape, like class probabilities or a one-hot matrix; "
                    "pass class indices instead, e.g. target.argmax(1)")
        else:
            hint = ("if the values are whole numbers convert them, e.g. "
                    "target.astype(np.int64) or target.long()")
        raise TypeError(f"{fn}: target must hold class indices as integers (int64), got dtype "
                        f"{target.dtype} with shape {target.shape}; {hint}")
    expected = () if x.ndim == 1 else x.shape[:1] + x.shape[2:]
    if target.shape != expected:
        raise ValueError(
            f"{fn}: target has shape {target.shape} but input has shape {x.shape}; the target "
            f"must have the input's shape without the class dimension (dim 1 of (N, C, ...), "
            f"dim 0 of (C,)), i.e. {expected}, one class index per score vector")
    return target


def _to_rows(x: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores as (M, C) rows and targets as (M,): (C,) -> (1, C); (N, C, d..) -> (N*d.., C)."""
    if x.ndim == 1:
        return x[None, :], target.reshape(1)
    if x.ndim == 2:
        return x, target
    return np.moveaxis(x, 1, -1).reshape(-1, x.shape[1]), target.reshape(-1)


def _from_rows(rows: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of :func:`_to_rows` for an array with the scores' (M, C) layout."""
    if len(shape) == 1:
        return rows.reshape(shape)
    if len(shape) == 2:
        return rows
    moved = (shape[0],) + shape[2:] + (shape[1],)
    return np.moveaxis(rows.reshape(moved), -1, 1)


def _valid_targets(t: np.ndarray, n_classes: int, ignore_index: int,
                   fn: str) -> tuple[np.ndarray, np.ndarray]:
    """(mask of targets that count, targets with ignored ones replaced by class 0)."""
    valid = t != ignore_index
    if t.size and valid.all() and 0 <= t.min() and t.max() < n_classes:
        return valid, t  # the common case, checked with two reductions
    bad = valid & ((t < 0) | (t >= n_classes))
    if bad.any():
        value = t[bad][0]
        raise ValueError(f"{fn}: target value {value} is out of range: class indices must "
                         f"be in [0, C) = [0, {n_classes}) (C = input.shape[1], or the size "
                         f"of a 1-D input), or equal ignore_index={ignore_index}")
    return valid, np.where(valid, t, 0)


def _check_weight(weight: Any, n_classes: int, dtype: np.dtype, fn: str) -> np.ndarray | None:
    if weight is None:
        return None
    w = np.asarray(getattr(weight, "data", weight))
    if w.shape != (n_classes,):
        raise ValueError(f"{fn}: weight must have shape (C,) = ({n_classes},), one weight per "
                         f"class, got shape {w.shape}")
    return w.astype(dtype, copy=False)


def _reduce(loss: np.ndarray, denom: Any, reduction: str, out_shape: tuple[int, ...]) -> Any:
    if reduction == "none":
        return loss.reshape(out_shape)
    total = loss.sum()
    if reduction == "sum":
        return np.asarray(total, dtype=loss.dtype)
    if denom == 0:  # nothing counted: 0/0 = nan, as PyTorch
        return np.asarray(np.nan, dtype=loss.dtype)
    return np.asarray(total / denom, dtype=loss.dtype)


def _upstream(dout: Any, reduction: str, denom: Any, m: int, dtype: np.dtype) -> np.ndarray:
    """g_i = dL/dl_i for the M per-sample losses l_i: an (M,) array, or one 0-d value
    shared by all samples (it broadcasts wherever it is used)."""
    dout = np.asarray(dout, dtype=dtype)
    if reduction == "none":
        return dout.reshape(m)
    if reduction == "mean":
        if denom == 0:  # no sample counts: the loss is nan, its gradient 0 (as PyTorch)
            return np.zeros((), dtype=dtype)
        return np.asarray(dout / denom, dtype=dtype)
    return dout


# -- cross-entropy: log-softmax and NLL fused ----------------------------------------------

class CrossEntropy(Function):
    """l_i = -(1-eps) w_{y_i} log p_{i,y_i} - (eps/C) sum_c w_c log p_{i,c},  p = softmax(z_i).

    eps is ``label_smoothing`` (0 by default: l_i = -w_{y_i} log p_{i,y_i}); w the class
    ``weight`` (all 1 by default). Samples with y_i == ignore_index get l_i = 0. The
    mean divides by sum_i w_{y_i} over the samples that count (N when unweighted), as
    PyTorch does. With d log p_{i,k} / dz_{i,c} = [k == c] - p_{i,c}:

        dL/dz_{i,c} = g_i [ (1-eps) w_{y_i} (p_{i,c} - [c == y_i]) + (eps/C) (W p_{i,c} - w_c) ]

    with W = sum_c w_c; unweighted and unsmoothed that is g_i (p_{i,c} - [c == y_i]),
    i.e. (softmax - onehot) / N for the mean. Shapes: z (N, C) or (N, C, d1, ...) or
    (C,); y (N,), (N, d1, ...) or (); the gradient has z's shape. y gets no gradient.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, target: Any, weight: Any = None,
                ignore_index: int = -100, reduction: str = "mean",
                label_smoothing: float = 0.0) -> np.ndarray:
        fn = "cross_entropy"
        _check_float_input(x, fn)
        check_reduction(reduction, fn)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"{fn}: label_smoothing must be in [0, 1], got {label_smoothing}")
        target = _check_class_target(x, target, fn)
        z, t = _to_rows(x, target)
        m, n_classes = z.shape
        w = _check_weight(weight, n_classes, x.dtype, fn)
        valid, safe_t = _valid_targets(t, n_classes, ignore_index, fn)
        with np.errstate(invalid="ignore"):  # a row of inf gives NaN, as in PyTorch
            logp, p = stable_log_softmax(z, 1)
        rows = np.arange(m)
        wy = (valid if w is None else w[safe_t] * valid).astype(x.dtype)
        eps = x.dtype.type(label_smoothing)
        # an ignored row never touches the result, even if it holds inf/NaN (0 * inf
        # would be NaN): PyTorch skips it
        with np.errstate(invalid="ignore"):
            loss = np.where(valid, -logp[rows, safe_t] * wy, 0).astype(x.dtype, copy=False)
        if eps:
            loss *= 1 - eps
            smooth = -(logp.sum(axis=1) if w is None else logp @ w)
            loss += (eps / n_classes) * np.where(valid, smooth, 0)
        denom = wy.sum()
        ctx.save_for_backward(p, safe_t, wy, valid, w)
        ctx.meta = (x.shape, reduction, denom, eps)
        return _reduce(loss, denom, reduction, target.shape)

    @staticmethod
    def backward(ctx: Context, dout: np.ndarray) -> tuple[np.ndarray, None]:
        p, safe_t, wy, valid, w = ctx.saved_arrays
        shape, reduction, denom, eps = ctx.meta
        m, n_classes = p.shape
        g = _upstream(dout, reduction, denom, m, p.dtype)
        coef = g * wy  # g_i w_{y_i} (zero for ignored samples)
        if eps:
            coef = coef * (1 - eps)
            gs = g * valid * (eps / n_classes)  # g_i eps / C for the samples that count
            total_w = n_classes if w is None else w.sum()
            dz = p * (coef + gs * total_w)[:, None]
            dz -= gs[:, None] if w is None else gs[:, None] * w
        else:
            dz = p * coef[:, None]
        dz[np.arange(m), safe_t] -= coef
        return _from_rows(dz, shape), None


def softmax_cross_entropy_forward(x: np.ndarray, y: Any, weight: Any = None,
                                  ignore_index: int = -100, reduction: str = "mean",
                                  label_smoothing: float = 0.0) -> tuple[np.ndarray, Context]:
    """``loss, cache`` for scores x (N, C) and class indices y (N,), no graph."""
    return CrossEntropy.layer_forward(np.asarray(x), y, weight=weight,
                                      ignore_index=ignore_index, reduction=reduction,
                                      label_smoothing=label_smoothing)


def softmax_cross_entropy_backward(dout: Any, cache: Context) -> np.ndarray:
    """dL/dx from the cache of :func:`softmax_cross_entropy_forward` ((p - onehot)/N)."""
    return CrossEntropy.backward(cache, np.asarray(dout))[0]


def softmax_loss(x: np.ndarray, y: Any) -> tuple[float, np.ndarray]:
    """CS231n's ``softmax_loss(x, y) -> (loss, dx)``: mean cross-entropy and its gradient."""
    loss, cache = softmax_cross_entropy_forward(x, y)
    return float(loss), softmax_cross_entropy_backward(1.0, cache)


class NLLLoss(Function):
    """l_i = -w_{y_i} a_{i,y_i} for log-probabilities a (N, C[, d1...]) and indices y.

    The mean divides by sum_i w_{y_i} over the samples that count (y_i != ignore_index).
    dL/da_{i,c} = -g_i w_{y_i} [c == y_i]: one nonzero per row.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, target: Any, weight: Any = None,
                ignore_index: int = -100, reduction: str = "mean") -> np.ndarray:
        fn = "nll_loss"
        _check_float_input(x, fn)
        check_reduction(reduction, fn)
        target = _check_class_target(x, target, fn)
        a, t = _to_rows(x, target)
        m, n_classes = a.shape
        w = _check_weight(weight, n_classes, x.dtype, fn)
        valid, safe_t = _valid_targets(t, n_classes, ignore_index, fn)
        wy = (valid if w is None else w[safe_t] * valid).astype(x.dtype)
        with np.errstate(invalid="ignore"):  # ignored rows never touch the result
            loss = np.where(valid, -a[np.arange(m), safe_t] * wy, 0).astype(x.dtype,
                                                                        copy=False)
        denom = wy.sum()
        ctx.save_for_backward(safe_t, wy)
        ctx.meta = (x.shape, x.dtype, n_classes, reduction, denom)
        return _reduce(loss, denom, reduction, target.shape)

    @staticmethod
    def backward(ctx: Context, dout: np.ndarray) -> tuple[np.ndarray, None]:
        safe_t, wy = ctx.saved_arrays
        shape, dtype, n_classes, reduction, denom = ctx.meta
        m = safe_t.shape[0]
        g = _upstream(dout, reduction, denom, m, dtype)
        da = np.zeros((m, n_classes), dtype=dtype)
        da[np.arange(m), safe_t] = -g * wy
        return _from_rows(da, shape), None


nll_forward, nll_backward = NLLLoss.layer_forward, NLLLoss.layer_backward


# -- regression losses ---------------------------------------------------------------------

def _check_same_shape(x: np.ndarray, target: np.ndarray, fn: str) -> None:
    if x.shape != target.shape:
        raise ValueError(
            f"{fn}: input has shape {x.shape} but target has shape {target.shape}; they must "
            f"be equal. (PyTorch broadcasts them with a warning, which silently turns e.g. "
            f"(N, 1) vs (N,) into an (N, N) comparison; reshape one of them, e.g. "
            f"pred.reshape(-1) or target.reshape(-1, 1).)")


def _elementwise_out(loss: np.ndarray, reduction: str) -> np.ndarray:
    if reduction == "none":
        return loss
    if reduction == "sum":
        return np.asarray(loss.sum(), dtype=loss.dtype)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(loss.mean() if loss.size else np.nan, dtype=loss.dtype)


def _elementwise_upstream(dout: np.ndarray, reduction: str, n: int, dtype: np.dtype) -> Any:
    dout = np.asarray(dout, dtype=dtype)
    if reduction == "mean":
        return dout / dtype.type(max(n, 1))
    return dout


class MSELoss(Function):
    """l_i = (x_i - y_i)^2, then mean (default), sum or none over all elements.

    dL/dx_i = 2 (x_i - y_i) g_i = 2 (x - y) / n for the mean;   dL/dy = -dL/dx.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, target: np.ndarray,
                reduction: str = "mean") -> np.ndarray:
        fn = "mse_loss"
        check_reduction(reduction, fn)
        target = np.asarray(target)
        _check_same_shape(x, target, fn)
        _check_float_input(x, fn)
        diff = np.subtract(x, target, dtype=x.dtype)
        ctx.save_for_backward(diff)
        ctx.reduction = reduction
        return _elementwise_out(diff * diff, reduction)

    @staticmethod
    def backward(ctx: Context, dout: np.ndarray) -> tuple[Any, Any]:
        (diff,) = ctx.saved_arrays
        g = _elementwise_upstream(dout, ctx.reduction, diff.size, diff.dtype)
        dx = (2 * g) * diff
        need = ctx.needs_input_grad
        return dx, (-dx if len(need) > 1 and need[1] else None)


class L1Loss(Function):
    """l_i = |x_i - y_i|.   dL/dx_i = g_i sign(x_i - y_i) (0 at x_i = y_i);  dL/dy = -dL/dx."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, target: np.ndarray,
                reduction: str = "mean") -> np.ndarray:
        fn = "l1_loss"
        check_reduction(reduction, fn)
        target = np.asarray(target)
        _check_same_shape(x, target, fn)
        _check_float_input(x, fn)
        diff = np.subtract(x, target, dtype=x.dtype)
        ctx.save_for_backward(np.sign(diff))
        ctx.reduction = reduction
        return _elementwise_out(np.abs(diff), reduction)

    @staticmethod
    def backward(ctx: Context, dout: np.ndarray) -> tuple[Any, Any]:
        (sign,) = ctx.saved_arrays
        g = _elementwise_upstream(dout, ctx.reduction, sign.size, sign.dtype)
        dx = g * sign
        need = ctx.needs_input_grad
        return dx, (-dx if len(need) > 1 and need[1] else None)


mse_forward, mse_backward = MSELoss.layer_forward, MSELoss.layer_backward
l1_forward, l1_backward = L1Loss.layer_forward, L1Loss.layer_backward


# -- binary cross-entropy on logits ----------------------------------------------------------

def _softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + e^x) = max(x, 0) + log1p(e^{-|x|}): no overflow for large |x|."""
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


class BCEWithLogits(Function):
    """l_i = -w_i [ q y_i log sigma(x_i) + (1 - y_i) log(1 - sigma(x_i)) ]  on logits x.

    q is ``pos_weight`` (1 by default, broadcast along the last dim), w ``weight``.
    Stable form: -log sigma(x) = softplus(-x), -log(1 - sigma(x)) = softplus(x), so
    l = w [ q y softplus(-x) + (1 - y) softplus(x) ]; never log(0) or e^{big}.

        dL/dx = g w [ (1 - y) sigma(x) - q y (1 - sigma(x)) ]   (= g w (sigma(x) - y), q = 1)
        dL/dy = g w [ q softplus(-x) - softplus(x) ]             (= -g w x, q = 1)
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, target: np.ndarray, weight: Any = None,
                pos_weight: Any = None, reduction: str = "mean") -> np.ndarray:
        fn = "binary_cross_entropy_with_logits"
        check_reduction(reduction, fn)
        _check_float_input(x, fn)
        target = np.asarray(target)
        if target.shape != x.shape:
            raise ValueError(f"{fn}: target has shape {target.shape} but input has shape "
                             f"{x.shape}; they must be equal (one 0/1 label per logit)")
        target = target.astype(x.dtype, copy=False)
        extras = []
        for name, v in (("weight", weight), ("pos_weight", pos_weight)):
            if v is None:
                extras.append(None)
                continue
            v = np.asarray(getattr(v, "data", v)).astype(x.dtype, copy=False)
            try:
                ok = np.broadcast_shapes(v.shape, x.shape) == x.shape
            except ValueError:
                ok = False
            if not ok:
                raise ValueError(f"{fn}: {name} of shape {v.shape} must broadcast to the "
                                 f"input's shape {x.shape}")
            extras.append(v)
        w, q = extras
        sp = _softplus(x)          # -log(1 - sigma(x))
        sp_neg = sp - x            # -log sigma(x) = softplus(-x)
        if q is None:
            loss = sp - target * x  # (1 - y) sp + y sp_neg
        else:
            loss = (1 - target) * sp + (q * target) * sp_neg
        if w is not None:
            loss = loss * w
        ctx.save_for_backward(x, target, w, q, sp, sp_neg)
        ctx.reduction = reduction
        return _elementwise_out(loss.astype(x.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx: Context, dout: np.ndarray) -> tuple[Any, Any]:
        x, y, w, q, sp, sp_neg = ctx.saved_arrays
        g = _elementwise_upstream(dout, ctx.reduction, x.size, x.dtype)
        if w is not None:
            g = g * w
        need = ctx.needs_input_grad
        dx = dy = None
        if need[0]:
            s = stable_sigmoid(x)
            dx = (s - y) if q is None else (1 - y) * s - (q * y) * (1 - s)
            dx = unbroadcast(np.broadcast_to(g * dx, x.shape), x.shape).astype(x.dtype)
        if len(need) > 1 and need[1]:
            dy = -x if q is None else q * sp_neg - sp
            dy = np.broadcast_to(g * dy, x.shape).astype(x.dtype)
        return dx, dy


bce_with_logits_forward = BCEWithLogits.layer_forward
bce_with_logits_backward = BCEWithLogits.layer_backward
