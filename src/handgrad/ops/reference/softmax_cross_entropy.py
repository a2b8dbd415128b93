"""Softmax, log-softmax and the softmax cross-entropy loss, the definitions.

Softmax of scores z along one axis, shifted by the maximum first (the shift cancels in
the ratio, and e^(z - max) <= 1 never overflows):

    p_c = e^{z_c} / sum_k e^{z_k},          dp_c / dz_k = p_c ([c == k] - p_k)

so for an upstream gradient dp, without building the Jacobian,

    dz_k = sum_c dp_c p_c ([c == k] - p_k) = p_k (dp_k - sum_c dp_c p_c).

Log-softmax: y_c = z_c - log sum_k e^{z_k}, dy_c / dz_k = [c == k] - p_k, hence
dz = dy - p * sum_c dy_c.

Cross-entropy of scores z_i (C,) against the class y_i of sample i, with class weights w
(all 1 by default) and label smoothing eps (0 by default), as PyTorch defines it:

    l_i = -(1 - eps) w_{y_i} log p_{i, y_i} - (eps / C) sum_c w_c log p_{i, c}

(without smoothing only the first term: a class with p = 0, a score of -inf, must not
turn the loss into 0 * -inf = NaN), and l_i = 0 for a sample whose y_i is
``ignore_index``. ``reduction``: 'none' gives the l_i, 'sum' their sum, 'mean' their
sum divided by sum_i w_{y_i} over the samples that count (N when unweighted; NaN when
none counts). With d(-log p_k)/dz_c = p_c - [c == k]:

    dl_i / dz_{i, c} = (1 - eps) w_{y_i} (p_{i, c} - [c == y_i]) + (eps / C) (W p_{i, c} - w_c)

with W = sum_c w_c. Unweighted and unsmoothed that is p_i - onehot(y_i), and the mean
over N samples gives CS231n's  dL/dz = (softmax - onehot) / N.

Scores may be (N, C), (C,) (one sample) or (N, C, d1, ...) (a class score per position;
the target is then (N, d1, ...)): the class axis is moved last and every position is one
sample.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from handgrad.ops.reference import _checks as check

__all__ = [
    "SoftmaxCache", "CrossEntropyCache", "softmax_forward", "softmax_backward",
    "log_softmax_forward", "log_softmax_backward", "softmax_cross_entropy_forward",
    "softmax_cross_entropy_backward", "softmax_loss",
]


class SoftmaxCache(NamedTuple):
    """What :func:`softmax_forward` / :func:`log_softmax_forward` keep for backward."""

    p: np.ndarray      # the softmax probabilities, x's shape
    axis: int          # the axis the softmax runs along


def _axis(x: np.ndarray, dim: int, fn: str) -> int:
    n = max(x.ndim, 1)
    if not check.is_int(dim) or not -n <= dim < n:
        raise ValueError(check.MSG("interval", fn=fn, name="dim", interval=f"[{-n}, {n - 1}]",
                                   value=dim))
    return int(dim) % n


def _softmax(x: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """(softmax, log-softmax) of x along axis, shifted by the maximum."""
    if x.ndim == 0:                       # one score: p = 1, log p = 0
        return np.ones_like(x), np.zeros_like(x)
    if x.size == 0:                       # nothing to normalise
        return x.copy(), x.copy()
    shifted = x - x.max(axis=axis, keepdims=True)                 # z - max z
    log_sum = np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    log_p = shifted - log_sum                                     # log p = z - log sum e^z
    return np.exp(log_p), log_p


def softmax_forward(x: np.ndarray, dim: int = -1) -> tuple[np.ndarray, SoftmaxCache]:
    """``p, cache = softmax_forward(x, dim)``: p has x's shape, each slice along ``dim``
    sums to 1."""
    check.float_array(x, "softmax", "input")
    axis = _axis(x, dim, "softmax")
    p, _ = _softmax(x, axis)
    return p, SoftmaxCache(p, axis)


def softmax_backward(dout: np.ndarray, cache: SoftmaxCache) -> np.ndarray:
    """``dx = softmax_backward(dp, cache)``: dz = p * (dp - sum(dp * p)) along the axis."""
    p, axis = cache
    if p.ndim == 0:                       # p = 1 whatever z is
        return np.zeros_like(p)
    return p * (dout - (dout * p).sum(axis=axis, keepdims=True))


def log_softmax_forward(x: np.ndarray, dim: int = -1) -> tuple[np.ndarray, SoftmaxCache]:
    """``y, cache = log_softmax_forward(x, dim)``: y = log softmax(x), x's shape."""
    check.float_array(x, "log_softmax", "input")
    axis = _axis(x, dim, "log_softmax")
    p, log_p = _softmax(x, axis)
    return log_p, SoftmaxCache(p, axis)


def log_softmax_backward(dout: np.ndarray, cache: SoftmaxCache) -> np.ndarray:
    """``dx = log_softmax_backward(dy, cache)``: dz = dy - p * sum(dy) along the axis."""
    p, axis = cache
    if p.ndim == 0:
        return np.zeros_like(p)
    return dout - p * dout.sum(axis=axis, keepdims=True)


# -- cross-entropy ---------------------------------------------------------------------


class CrossEntropyCache(NamedTuple):
    """What :func:`softmax_cross_entropy_forward` keeps for its backward."""

    p: np.ndarray                  # (M, C) softmax of every sample's scores
    target: np.ndarray             # (M,) class of every sample (ignored ones: any value)
    counts: np.ndarray             # (M,) bool: the sample is not ignore_index
    weight: np.ndarray | None      # (C,) class weights, or None (all 1)
    denom: float                   # what the mean divides by: sum of w_{y_i} that count
    reduction: str                 # 'none', 'mean' or 'sum'
    label_smoothing: float         # eps
    x_shape: tuple[int, ...]       # the scores' shape: (N, C), (C,) or (N, C, d1, ...)


def _rows(x: np.ndarray) -> np.ndarray:
    """Scores as (M, C) rows, one per sample: (C,) -> (1, C); (N, C, d..) -> (N*d.., C)."""
    if x.ndim == 1:
        return x[None]
    return np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])


def _unrows(rows: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The inverse of :func:`_rows`."""
    if len(shape) == 1:
        return rows.reshape(shape)
    moved = (shape[0],) + shape[2:] + (shape[1],)
    return np.moveaxis(rows.reshape(moved), -1, 1)


def softmax_cross_entropy_forward(x: np.ndarray, y: Any, weight: Any = None,
                                  ignore_index: int = -100, reduction: str = "mean",
                                  label_smoothing: float = 0.0
                                  ) -> tuple[np.ndarray, CrossEntropyCache]:
    """``loss, cache = softmax_cross_entropy_forward(scores, y, ...)``.

    scores (N, C), (C,) or (N, C, d1, ...); y the class indices, (N,), () or (N, d1, ...);
    weight (C,) or None. loss: a 0-d array ('mean', 'sum') or y's shape ('none').
    """
    fn = "cross_entropy"
    check.float_array(x, fn, "input")
    check.layout(fn, "input", x, tuple(range(1, 9)), "(N, C), (C,) or (N, C, d1, ...)")
    check.choice(reduction, ("none", "mean", "sum"), fn, "reduction")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(check.MSG("interval", fn=fn, name="label_smoothing",
                                   interval="[0, 1]", value=label_smoothing))
    y = np.asarray(y)
    if y.dtype.kind not in "iu":
        raise TypeError(check.MSG("int_indices", fn=fn, name="target", dtype=y.dtype,
                                  shape=y.shape))
    check.shape(fn, "target", y, () if x.ndim == 1 else x.shape[:1] + x.shape[2:],
                "input.shape without the class axis 1")
    z = _rows(x)                                    # (M, C)
    t = y.reshape(-1)                               # (M,)
    M, C = z.shape
    counts = t != ignore_index
    bad = counts & ((t < 0) | (t >= C))
    if bad.any():
        raise ValueError(check.MSG("index_range", fn=fn, name="target", index=t[bad][0],
                                   size=C, what="C, the number of classes"))
    w = None
    if weight is not None:
        w = np.asarray(weight).astype(x.dtype)
        check.shape(fn, "weight", w, (C,), "(C,)")
    eps = label_smoothing
    p, log_p = _softmax(z, 1)
    loss = np.zeros(M, dtype=x.dtype)
    denom = 0.0
    for i in range(M):
        if not counts[i]:
            continue                                # ignored: l_i = 0, not counted
        w_c = np.ones(C, dtype=x.dtype) if w is None else w       # class weights
        w_y = w_c[t[i]]
        loss[i] = -w_y * log_p[i, t[i]]             # -w_y log p_y, the true class
        if eps:   # smoothing: (1 - eps) of that, and eps spread over all the classes
            loss[i] = (1 - eps) * loss[i] - (eps / C) * (w_c * log_p[i]).sum()
        denom += w_y
    if reduction == "none":
        out = loss.reshape(y.shape)
    elif reduction == "sum":
        out = np.asarray(loss.sum(), dtype=x.dtype)
    else:
        out = np.asarray(loss.sum() / denom if denom else np.nan, dtype=x.dtype)
    cache = CrossEntropyCache(p, t, counts, w, denom, reduction, eps, x.shape)
    return out, cache


def softmax_cross_entropy_backward(dout: Any, cache: CrossEntropyCache) -> np.ndarray:
    """``dx = softmax_cross_entropy_backward(dout, cache)``; dx has the scores' shape
    ((softmax - onehot) / N for the plain mean and dout = 1)."""
    p, t, counts, w, denom, reduction, eps, x_shape = cache
    M, C = p.shape
    dout = np.asarray(dout, dtype=p.dtype)
    # g_i = dL/dl_i: each sample's own upstream gradient ('none'), or one shared value
    if reduction == "none":
        g = dout.reshape(M)
    elif reduction == "sum":
        g = np.full(M, dout)
    else:
        g = np.full(M, dout / denom if denom else 0.0)  # nothing counted: no gradient
    dz = np.zeros((M, C), dtype=p.dtype)
    for i in range(M):
        if not counts[i]:
            continue                                # ignored samples get no gradient
        w_c = np.ones(C, dtype=p.dtype) if w is None else w
        onehot = np.zeros(C, dtype=p.dtype)
        onehot[t[i]] = 1
        dl_dz = w_c[t[i]] * (p[i] - onehot)        # w_y (p_i - onehot)
        if eps:   # (1 - eps) of that, + (eps / C) (W p_i - w)
            dl_dz = (1 - eps) * dl_dz + (eps / C) * (w_c.sum() * p[i] - w_c)
        dz[i] = g[i] * dl_dz
    return _unrows(dz, x_shape)


def softmax_loss(x: np.ndarray, y: Any) -> tuple[float, np.ndarray]:
    """CS231n's ``loss, dx = softmax_loss(x, y)``: the mean cross-entropy of scores
    x (N, C) against classes y (N,), and its gradient (softmax - onehot) / N."""
    loss, cache = softmax_cross_entropy_forward(x, y)
    return float(loss), softmax_cross_entropy_backward(1.0, cache)
