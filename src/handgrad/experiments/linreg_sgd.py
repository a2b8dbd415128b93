"""Week-1 exercises: gradient descent, linear regression, mini-batch SGD, four "errors".

1. **Gradient descent in one variable.** f(x) = x^2 + 2x + 3, f'(x) = 2x + 2, from x = 3
   with learning rate 1e-2, stopping when |f'(x)| < 1e-5. Each step multiplies the
   distance to the minimum by (1 - 2 lr) = 0.98, so f'(x_k) = 8 * 0.98^k and the loop
   performs the first k with 8 * 0.98^k <= 1e-5: **673 updates**, ending near (-1, 2).
   The loop convention (the course's)::

       g = grad(x); n = 0
       while |g| > eps:   x = x - lr * g;   g = grad(x);   n += 1

   With the forward difference quotient (f(x + h) - f(x)) / h, h = 1e-9, instead of
   f', the count is **672**: near the end f(x) is about 2, where one unit in the last
   place is 4.4e-16, so the quotient moves in steps of 4.4e-16 / 1e-9 = 4.4e-7, which is
   4 % of eps; rounding decides on which side of eps the last steps fall. The 672 needs
   f evaluated the way the course's SymPy ``Poly`` evaluates it, by Horner's rule
   ((x + 2) x + 3); written as x**2 + 2*x + 3 the rounding differs and the count is 673.
   The lesson: a stopping test near the noise floor of a numerical derivative is decided
   by rounding, not by mathematics. We also get f' from handgrad's autograd.

2. **Linear regression** y = 7x + 2 on 1,000 points x ~ U(-5, 5), w = b = 0, lr = 1e-2,
   gradient of E = (1/2n) sum_i r_i^2 with r_i = w x_i + b - y_i (computed by handgrad's
   autograd and checked against the hand formula at every step)::

       dE/dw = (1/n) sum_i r_i x_i          dE/db = (1/n) sum_i r_i

   Since mean(x) is about 0 the two decouple: b_k = 2 (1 - (1 - lr)^k), so after 100
   iterations b is 2 (1 - 0.99^100) = 1.27 while w, whose curvature is mean(x^2) = 25/3,
   is already 7; b nears 2 only after about 500 iterations (2 (1 - 0.99^500) = 1.987).
   (Without the 1/2, i.e. the gradient of the MSE itself, b would be 1.73 at 100.)
   The sample's own mean(x) couples b to w, so b at 100 is 1.27 +- 0.06 across seeds;
   the default seed (15) draws mean(x) = 0.004.
   Then mini-batch SGD (batch 10, one shuffle per epoch) beside full-batch GD.

3. **Multivariate**: X is 6 x 3, y = X @ [1, 3, 5] + 7; append a column of ones and
   descend on E = (1/2) ||X_1 beta - y||^2 (dE/dbeta = X_1^T (X_1 beta - y)) to [1, 3, 5, 7].

4. **The "error", four ways**, for the residual r = y_hat - y (n values):

   ======  ====================  =========================  ==========================
   name    E                     dE/dr                       scale
   ======  ====================  =========================  ==========================
   SSE     sum r_i^2             2 r                         grows with n
   MSE     (1/n) sum r_i^2       2 r / n                     per sample
   RMSE    sqrt(MSE)             r / (n RMSE)                units of y
   L2      ||r|| = sqrt(SSE)     r / ||r||  (unit length!)   grows with sqrt(n)
   ======  ====================  =========================  ==========================

   The L2 norm's gradient *divides by the norm*: it always has length 1 whatever the
   size of the error, so GD on it with a fixed learning rate does not slow down near the
   answer, and at r = 0 it is 0/0 (no derivative; we return 0, as PyTorch does). SSE's
   gradient is n times MSE's, so the lr that works for MSE (1e-2) makes SSE diverge.
   :func:`sse`, :func:`mse`, :func:`rmse`, :func:`l2_norm` (and ``*_grad``) check their
   input: an object array (SymPy Floats, fractions) or ``axis=1`` on a 1-D residual get
   an error that says what is wrong and how to fix it, instead of NumPy's
   "loop of ufunc does not support argument 0 of type Float which has no callable sqrt
   method" or "axis 1 is out of bounds for array of dimension 1".

    handgrad experiment linreg [--out DIR] [--seed 15] [--quiet]
"""

from __future__ import annotations

import argparse
import numbers
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import handgrad as hg
from handgrad import cli_args
from handgrad.experiments._common import (
    make_out_dir,
    print_table,
    pyplot,
    save_figure,
    write_metrics,
)

__all__ = [
    "f", "f_prime", "horner", "difference_quotient", "autograd_derivative",
    "gradient_descent_1d", "make_linear_data", "linreg_gradients", "fit_gd", "fit_sgd",
    "MULTI_X", "fit_multivariate", "sse", "mse", "rmse", "l2_norm", "sse_grad", "mse_grad",
    "rmse_grad", "l2_norm_grad", "ERRORS", "run", "add_arguments", "main", "DEFAULTS",
]

DEFAULTS: dict[str, Any] = {
    "out": None,
    # The sample's mean(x) couples b to w (dE/db = mean(r) picks up (w - 7) mean(x)), so b
    # after 100 iterations is 2 (1 - 0.99^100) = 1.268 only when mean(x) is near 0; across
    # seeds it is 1.27 +- 0.06. Seed 15 draws mean(x) = 0.004, as a course-like sample.
    "seed": 15,
    "quiet": False,
    # 1-D gradient descent
    "x0": 3.0, "lr_1d": 1e-2, "eps": 1e-5, "h": 1e-9,
    # linear regression
    "n_points": 1000, "true_w": 7.0, "true_b": 2.0, "lr": 1e-2, "gd_iterations": 600,
    "sgd_epochs": 6, "batch_size": 10,
    # multivariate
    "multi_lr": 1e-2, "multi_iterations": 5000,
    # the four errors, each used as the loss
    "error_iterations": 300,
}


# ------------------------------------------------------------------------------------
# 1. gradient descent on f(x) = x^2 + 2x + 3
# ------------------------------------------------------------------------------------
def horner(coeffs: tuple[float, ...], x: Any) -> Any:
    """p(x) = c_0 x^(d) + ... + c_d by Horner's rule: ((c_0 x + c_1) x + ...) + c_d."""
    value = coeffs[0]
    for c in coeffs[1:]:
        value = value * x + c
    return value


F_COEFFS = (1.0, 2.0, 3.0)        # f(x)  = x^2 + 2x + 3
F_PRIME_COEFFS = (2.0, 2.0)       # f'(x) = 2x + 2


def f(x: Any) -> Any:
    """f(x) = x^2 + 2x + 3 = (x + 2) x + 3, evaluated as SymPy's Poly does (Horner)."""
    return horner(F_COEFFS, x)


def f_prime(x: Any) -> Any:
    """f'(x) = 2x + 2 (the analytic derivative)."""
    return horner(F_PRIME_COEFFS, x)


def difference_quotient(fn: Callable[[float], float], x: float, h: float = 1e-9) -> float:
    """Forward difference (fn(x + h) - fn(x)) / h: error ~ h f''/2 + rounding ~ ulp(f)/h."""
    return (fn(x + h) - fn(x)) / h


def autograd_derivative(x: float) -> float:
    """f'(x) by handgrad's reverse mode: build f = (x + 2) x + 3 on a Tensor, backward."""
    t = hg.tensor(np.float64(x), requires_grad=True)
    y = (t + 2.0) * t + 3.0
    y.backward()
    return float(t.grad)


def gradient_descent_1d(grad: Callable[[float], float], x0: float = 3.0, lr: float = 1e-2,
                        eps: float = 1e-5, max_iterations: int = 100_000) -> dict[str, Any]:
    """Descend until |grad(x)| < eps; ``iterations`` counts the updates performed."""
    x = float(x0)
    g = float(grad(x))
    path = [x]
    n = 0
    while abs(g) > eps:
        if n >= max_iterations:
            raise RuntimeError(f"gradient_descent_1d: no convergence in {max_iterations} "
                               f"iterations (lr={lr} too large?); last x={x}, grad={g}")
        x = x - lr * g
        g = float(grad(x))
        path.append(x)
        n += 1
    return {"iterations": n, "x": x, "f": float(f(x)), "final_grad": g,
            "true_final_grad": float(f_prime(x)), "path": np.asarray(path)}


# ------------------------------------------------------------------------------------
# 2. linear regression y = 7x + 2, GD and mini-batch SGD
# ------------------------------------------------------------------------------------
def make_linear_data(n: int = 1000, w: float = 7.0, b: float = 2.0, low: float = -5.0,
                     high: float = 5.0, rng: np.random.Generator | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """x ~ U(low, high) (n points, float64) and y = w x + b, no noise."""
    rng = rng if rng is not None else hg.get_rng()
    x = rng.uniform(low, high, size=n)
    return x, w * x + b


def linreg_gradients(x: np.ndarray, y: np.ndarray, w: float, b: float
                     ) -> tuple[float, float, float]:
    """By hand: E = (1/2n) sum r^2, r = w x + b - y; dE/dw = mean(r x), dE/db = mean(r)."""
    r = w * x + b - y
    return float(0.5 * np.mean(r * r)), float(np.mean(r * x)), float(np.mean(r))


_RUNAWAY = 1e8


def _diverged(what: str, step: int, lr: float, x: np.ndarray, values: list[float]) -> None:
    """Raise a ValueError that says GD diverged and which learning rates are stable."""
    xa = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    design = np.concatenate([xa, np.ones((xa.shape[0], 1))], axis=1)
    # E = (1/2n)||X1 p - y||^2 has Hessian X1^T X1 / n: GD is stable for lr < 2 / lambda_max
    lam = float(np.linalg.eigvalsh(design.T @ design / design.shape[0]).max())
    raise ValueError(
        f"{what}: diverged at step {step} with lr={lr:g} (parameters reached "
        f"{max(abs(v) for v in values):.3g}); on this data gradient descent is stable only "
        f"for lr < 2 / lambda_max(X^T X / n) = {2 / lam:.4g}"
    )


def _autograd_step(x: np.ndarray, y: np.ndarray, w: hg.Tensor, b: hg.Tensor
                   ) -> tuple[float, float, float]:
    """E = (1/2) mean((w x + b - y)^2) on Tensors; returns E, dE/dw, dE/db by autograd."""
    w.grad = None
    b.grad = None
    r = w * x + b - y
    loss = (r * r).mean() * 0.5
    loss.backward()
    return float(loss.data), float(w.grad), float(b.grad)


def _descend(w: Any, b: Any, gw: float, gb: float, lr: float, ws: list[float],
             bs: list[float], name: str, x: np.ndarray) -> None:
    """One gradient step on (w, b), recorded in the histories; stop a runaway early."""
    w.data -= lr * gw  # in place: .data stays an ndarray
    b.data -= lr * gb
    ws.append(float(w.data))
    bs.append(float(b.data))
    if not (abs(ws[-1]) < _RUNAWAY and abs(bs[-1]) < _RUNAWAY):
        _diverged(name, len(ws) - 1, lr, x, [ws[-1], bs[-1]])


def fit_gd(x: np.ndarray, y: np.ndarray, lr: float = 1e-2, iterations: int = 500,
           w0: float = 0.0, b0: float = 0.0) -> dict[str, Any]:
    """Full-batch gradient descent. Histories have iterations + 1 entries (index k is the
    value after k updates); ``max_hand_vs_autograd`` is the largest difference between
    the autograd and the hand-derived gradient over all steps."""
    w = hg.tensor(np.float64(w0), requires_grad=True)
    b = hg.tensor(np.float64(b0), requires_grad=True)
    ws, bs, losses = [w0], [b0], []
    worst = 0.0
    for _ in range(iterations):
        loss, gw, gb = _autograd_step(x, y, w, b)
        _, hw, hb = linreg_gradients(x, y, float(w.data), float(b.data))
        worst = max(worst, abs(gw - hw), abs(gb - hb))
        losses.append(loss)
        _descend(w, b, gw, gb, lr, ws, bs, "fit_gd", x)
    losses.append(linreg_gradients(x, y, ws[-1], bs[-1])[0])
    return {"w": np.asarray(ws), "b": np.asarray(bs), "loss": np.asarray(losses),
            "max_hand_vs_autograd": worst}


def fit_sgd(x: np.ndarray, y: np.ndarray, lr: float = 1e-2, epochs: int = 5,
            batch_size: int = 10, rng: np.random.Generator | None = None,
            w0: float = 0.0, b0: float = 0.0) -> dict[str, Any]:
    """Mini-batch SGD: each epoch shuffles once and steps on every batch of ``batch_size``
    (the gradient of the batch's E). Histories have one entry per update (+ the start);
    ``epoch_loss`` is the full-data E after each epoch."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
    rng = rng if rng is not None else hg.get_rng()
    w = hg.tensor(np.float64(w0), requires_grad=True)
    b = hg.tensor(np.float64(b0), requires_grad=True)
    ws, bs = [w0], [b0]
    epoch_loss = [linreg_gradients(x, y, w0, b0)[0]]
    n = len(x)
    for _ in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            _, gw, gb = _autograd_step(x[idx], y[idx], w, b)
            _descend(w, b, gw, gb, lr, ws, bs, "fit_sgd", x)
        epoch_loss.append(linreg_gradients(x, y, ws[-1], bs[-1])[0])
    return {"w": np.asarray(ws), "b": np.asarray(bs), "epoch_loss": np.asarray(epoch_loss),
            "updates_per_epoch": -(-n // batch_size)}


# ------------------------------------------------------------------------------------
# 3. multivariate linear regression
# ------------------------------------------------------------------------------------
# A fixed, well-conditioned 6 x 3 design (with the ones column its 4 x 4 Gram matrix has
# eigenvalues 0.26 .. 19.8, so lr = 1e-2 is stable: it must stay below 2 / 19.8).
MULTI_X = np.array([[1, 0, 1], [0, 1, 2], [2, 1, 0], [1, 2, 1], [0, 0, 1], [1, 1, 0]],
                   dtype=np.float64)
MULTI_BETA = np.array([1.0, 3.0, 5.0])
MULTI_INTERCEPT = 7.0


def fit_multivariate(X: np.ndarray = MULTI_X, y: np.ndarray | None = None, lr: float = 1e-2,
                     iterations: int = 5000) -> dict[str, Any]:
    """GD on E = (1/2) ||X_1 beta - y||^2 with X_1 = [X, 1]; beta starts at 0.
    dE/dbeta = X_1^T (X_1 beta - y), from handgrad's autograd (checked against it)."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"fit_multivariate: X must be 2-D (samples, features), got shape "
                         f"{X.shape}")
    if y is None:
        y = X @ MULTI_BETA + MULTI_INTERCEPT
    y = np.asarray(y, dtype=np.float64)
    if y.shape != (X.shape[0],):
        raise ValueError(f"fit_multivariate: y must have shape ({X.shape[0]},) to match X "
                         f"{X.shape}, got {y.shape}")
    X1 = np.concatenate([X, np.ones((X.shape[0], 1))], axis=1)
    beta = hg.tensor(np.zeros(X1.shape[1]), requires_grad=True)
    history = [beta.data.copy()]
    worst = 0.0
    for _ in range(iterations):
        beta.grad = None
        r = hg.tensor(X1) @ beta - y
        loss = (r * r).sum() * 0.5
        loss.backward()
        hand = X1.T @ (X1 @ beta.data - y)
        worst = max(worst, float(np.max(np.abs(beta.grad - hand))))
        beta.data = beta.data - lr * beta.grad
        history.append(beta.data.copy())
        if not np.max(np.abs(beta.data)) < _RUNAWAY:
            # here E = (1/2)||X1 beta - y||^2 (a sum), so the bound is 2 / lambda_max(X1^T X1)
            lam = float(np.linalg.eigvalsh(X1.T @ X1).max())
            raise ValueError(f"fit_multivariate: diverged at step {len(history) - 1} with "
                             f"lr={lr:g}; stable only for lr < 2 / lambda_max(X1^T X1) = "
                             f"{2 / lam:.4g}")
    return {"beta": beta.data.copy(), "history": np.asarray(history),
            "loss": float(0.5 * np.sum((X1 @ beta.data - y) ** 2)),
            "max_hand_vs_autograd": worst}


# ------------------------------------------------------------------------------------
# 4. the "error", four ways, with friendly input checks
# ------------------------------------------------------------------------------------
def _as_residual(residual: Any, axis: Any, fn: str) -> tuple[np.ndarray, Any, int]:
    """Check the residual and the axis; return the array, the axis, and the count n."""
    arr = residual.data if isinstance(residual, hg.Tensor) else residual
    arr = np.asarray(arr)
    if arr.dtype == object:
        sample = next((v for v in arr.flat if not isinstance(v, float | int | np.number)),
                      arr.flat[0] if arr.size else None)
        kind = f"{type(sample).__module__}.{type(sample).__qualname__}"
        raise TypeError(
            f"{fn}: residual is an array of Python objects (dtype=object, e.g. {sample!r} of "
            f"type {kind}; SymPy Floats from .subs() and fractions end up like this). "
            f"NumPy cannot take sqrt or square them fast (np.linalg.norm fails with 'loop of "
            f"ufunc does not support argument 0 of type ... which has no callable sqrt "
            f"method'). Convert first: np.asarray(residual, dtype=float)"
        )
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{fn}: residual must be numeric, got dtype {arr.dtype} "
                        f"(shape {arr.shape}); convert with np.asarray(residual, dtype=float)")
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    if axis is None:
        return arr, None, arr.size
    axes = axis if isinstance(axis, tuple) else (axis,)
    if not all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axes):
        raise TypeError(f"{fn}: axis must be None, an int or a tuple of ints, got {axis!r}")
    bad = [a for a in axes if not -arr.ndim <= a < arr.ndim]
    if bad:
        if arr.ndim == 1:
            raise ValueError(
                f"{fn}: axis={axis} but the residual is 1-D (shape {arr.shape}): it has only "
                f"axis 0. Use axis=0 or axis=None (the whole vector, one number); axis=1 is "
                f"for a 2-D residual of shape (n_samples, n_outputs), one error per sample."
            )
        raise ValueError(f"{fn}: axis={axis} is out of range for a residual with {arr.ndim} "
                         f"dims (shape {arr.shape}); valid axes are "
                         f"{-arr.ndim}..{arr.ndim - 1} or None")
    norm_axes = tuple(sorted({a % arr.ndim for a in axes}))
    if len(norm_axes) != len(axes):
        raise ValueError(f"{fn}: axis={axis} repeats an axis")
    n = int(np.prod([arr.shape[a] for a in norm_axes]))
    return arr, norm_axes, n


def sse(residual: Any, axis: Any = None) -> Any:
    """Sum of squared errors, sum_i r_i^2 (over ``axis``; all elements by default)."""
    r, ax, _ = _as_residual(residual, axis, "sse")
    return np.sum(r * r, axis=ax)


def mse(residual: Any, axis: Any = None) -> Any:
    """Mean squared error, (1/n) sum_i r_i^2."""
    r, ax, n = _as_residual(residual, axis, "mse")
    return np.sum(r * r, axis=ax) / r.dtype.type(n)


def rmse(residual: Any, axis: Any = None) -> Any:
    """Root mean squared error, sqrt(MSE): in the units of y."""
    return np.sqrt(mse(residual, axis))


def l2_norm(residual: Any, axis: Any = None) -> Any:
    """The L2 norm of the residual, ||r|| = sqrt(sum_i r_i^2) = sqrt(SSE)."""
    r, ax, _ = _as_residual(residual, axis, "l2_norm")
    return np.sqrt(np.sum(r * r, axis=ax))


def sse_grad(residual: Any, axis: Any = None) -> np.ndarray:
    """dSSE/dr = 2 r."""
    r, _, _ = _as_residual(residual, axis, "sse_grad")
    return 2 * r


def mse_grad(residual: Any, axis: Any = None) -> np.ndarray:
    """dMSE/dr = 2 r / n (n = number of elements reduced)."""
    r, _, n = _as_residual(residual, axis, "mse_grad")
    return 2 * r / r.dtype.type(n)


def _divide_by(r: np.ndarray, denom: np.ndarray) -> np.ndarray:
    """r / denom, with 0 where denom = 0 (the zero residual: 0/0, the cone's tip)."""
    out = np.zeros_like(r)
    np.divide(r, denom, out=out, where=np.broadcast_to(denom != 0, r.shape))
    return out


def rmse_grad(residual: Any, axis: Any = None) -> np.ndarray:
    """dRMSE/dr = r / (n RMSE); 0 at r = 0 where RMSE has no derivative."""
    r, ax, n = _as_residual(residual, axis, "rmse_grad")
    value = np.sqrt(np.sum(r * r, axis=ax, keepdims=True) / r.dtype.type(n))
    return _divide_by(r, r.dtype.type(n) * value)


def l2_norm_grad(residual: Any, axis: Any = None) -> np.ndarray:
    """d||r||/dr = r / ||r||: the residual *divided by its norm* (length 1 always);
    0 at r = 0, where the norm has no derivative (PyTorch's choice too)."""
    r, ax, _ = _as_residual(residual, axis, "l2_norm_grad")
    return _divide_by(r, np.sqrt(np.sum(r * r, axis=ax, keepdims=True)))


ERRORS: dict[str, tuple[Callable[..., Any], Callable[..., np.ndarray]]] = {
    "SSE": (sse, sse_grad),
    "MSE": (mse, mse_grad),
    "RMSE": (rmse, rmse_grad),
    "L2": (l2_norm, l2_norm_grad),
}


def _autograd_error(name: str, r: hg.Tensor) -> hg.Tensor:
    """The same four errors built from Tensor ops, so autograd derives their gradients."""
    if name == "SSE":
        return (r * r).sum()
    if name == "MSE":
        return (r * r).mean()
    if name == "RMSE":
        return (r * r).mean().sqrt()
    return r.norm()


def _error_gradients_wb(name: str, x: np.ndarray, y: np.ndarray, w: float, b: float
                        ) -> dict[str, float]:
    """dE/dw, dE/db by hand (chain rule through y_hat = w x + b) and by autograd."""
    value_fn, grad_fn = ERRORS[name]
    r = w * x + b - y
    g = grad_fn(r)
    hand = (float(np.sum(g * x)), float(np.sum(g)))
    wt = hg.tensor(np.float64(w), requires_grad=True)
    bt = hg.tensor(np.float64(b), requires_grad=True)
    e = _autograd_error(name, wt * x + bt - y)
    e.backward()
    return {"value": float(value_fn(r)), "dE_dw": hand[0], "dE_db": hand[1],
            "autograd_dE_dw": float(wt.grad), "autograd_dE_db": float(bt.grad),
            "autograd_value": float(e.data)}


def _train_on_error(name: str, x: np.ndarray, y: np.ndarray, lr: float, iterations: int
                    ) -> dict[str, Any]:
    """Plain GD with the error itself as the loss (autograd gradients); stops when the
    parameters run away (> 1e6), which SSE does at lr = 1e-2."""
    w = hg.tensor(np.float64(0.0), requires_grad=True)
    b = hg.tensor(np.float64(0.0), requires_grad=True)
    ws, bs = [0.0], [0.0]
    diverged_at = None
    for k in range(iterations):
        w.grad = None
        b.grad = None
        _autograd_error(name, w * x + b - y).backward()
        w.data -= lr * w.grad  # in place: .data stays an ndarray
        b.data -= lr * b.grad  # in place: .data stays an ndarray
        ws.append(float(w.data))
        bs.append(float(b.data))
        if not (abs(ws[-1]) < 1e6 and abs(bs[-1]) < 1e6):
            diverged_at = k + 1
            break
    return {"w": np.asarray(ws), "b": np.asarray(bs), "diverged_at": diverged_at}


# ------------------------------------------------------------------------------------
# the experiment
# ------------------------------------------------------------------------------------
def _first_within(values: np.ndarray, target: float, tol: float) -> int | None:
    hits = np.flatnonzero(np.abs(values - target) < tol)
    return int(hits[0]) if hits.size else None


def run(config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run all four parts; write metrics.json and the plots; return the metrics."""
    cfg = {**DEFAULTS, **(config or {})}
    unknown = set(cfg) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"linreg: unknown config keys {sorted(unknown)}; known: "
                         f"{sorted(DEFAULTS)}")
    t0 = time.perf_counter()
    out_dir = make_out_dir(cfg["out"], "linreg")
    hg.manual_seed(int(cfg["seed"]))
    rng = hg.get_rng()

    # 1. one variable
    gd = {
        "analytic": gradient_descent_1d(f_prime, cfg["x0"], cfg["lr_1d"], cfg["eps"]),
        "difference_quotient": gradient_descent_1d(
            lambda v: difference_quotient(f, v, cfg["h"]), cfg["x0"], cfg["lr_1d"],
            cfg["eps"]),
        "autograd": gradient_descent_1d(autograd_derivative, cfg["x0"], cfg["lr_1d"],
                                        cfg["eps"]),
    }

    # 2. linear regression: GD, then SGD on the same data
    x, y = make_linear_data(cfg["n_points"], cfg["true_w"], cfg["true_b"], rng=rng)
    full = fit_gd(x, y, cfg["lr"], cfg["gd_iterations"])
    sgd = fit_sgd(x, y, cfg["lr"], cfg["sgd_epochs"], cfg["batch_size"], rng=rng)

    def at(hist: np.ndarray, k: int) -> float | None:
        return float(hist[k]) if k < len(hist) else None

    linreg = {
        "n_points": cfg["n_points"], "lr": cfg["lr"], "iterations": cfg["gd_iterations"],
        "x_mean": float(x.mean()), "x_sq_mean": float(np.mean(x * x)),
        "w_at_100": at(full["w"], 100), "b_at_100": at(full["b"], 100),
        "w_at_500": at(full["w"], 500), "b_at_500": at(full["b"], 500),
        "b_formula_at_100": 2 * (1 - (1 - cfg["lr"]) ** 100),
        "first_iteration_b_within_0.02": _first_within(full["b"], cfg["true_b"], 0.02),
        "first_iteration_w_within_0.02": _first_within(full["w"], cfg["true_w"], 0.02),
        "final_w": float(full["w"][-1]), "final_b": float(full["b"][-1]),
        "final_loss": float(full["loss"][-1]),
        "max_hand_vs_autograd_gradient": full["max_hand_vs_autograd"],
    }
    per_epoch = sgd["updates_per_epoch"]
    sgd_metrics = {
        "batch_size": cfg["batch_size"], "epochs": cfg["sgd_epochs"],
        "updates_per_epoch": per_epoch,
        "w_after_1_epoch": at(sgd["w"], per_epoch), "b_after_1_epoch": at(sgd["b"], per_epoch),
        "final_w": float(sgd["w"][-1]), "final_b": float(sgd["b"][-1]),
        "epoch_loss": sgd["epoch_loss"],
        "gd_w_after_1_epoch_of_data": at(full["w"], 1), "gd_b_after_1_epoch_of_data":
            at(full["b"], 1),
    }

    # 3. multivariate
    multi = fit_multivariate(MULTI_X, None, cfg["multi_lr"], cfg["multi_iterations"])
    target = np.append(MULTI_BETA, MULTI_INTERCEPT)
    multi_metrics = {
        "X": MULTI_X, "true": target, "beta": multi["beta"],
        "max_abs_error": float(np.max(np.abs(multi["beta"] - target))),
        "iterations": cfg["multi_iterations"], "lr": cfg["multi_lr"],
        "max_hand_vs_autograd_gradient": multi["max_hand_vs_autograd"],
    }

    # 4. the four errors: at the start (w = b = 0), along the GD path, and as losses
    at_start = {name: _error_gradients_wb(name, x, y, 0.0, 0.0) for name in ERRORS}
    n = len(x)
    along = {name: [] for name in ERRORS}
    grad_norm = {name: [] for name in ERRORS}
    for w_k, b_k in zip(full["w"], full["b"]):
        r = w_k * x + b_k - y
        for name, (value_fn, grad_fn) in ERRORS.items():
            g = grad_fn(r)
            along[name].append(float(value_fn(r)))
            grad_norm[name].append(float(np.hypot(np.sum(g * x), np.sum(g))))
    r0 = -y
    ratios = {
        "SSE/MSE": at_start["SSE"]["value"] / at_start["MSE"]["value"],
        "L2/RMSE": at_start["L2"]["value"] / at_start["RMSE"]["value"],
        "L2_grad_is_SSE_grad_over_2_norm": bool(np.allclose(
            l2_norm_grad(r0), sse_grad(r0) / (2 * l2_norm(r0)))),
        "L2_grad_length": float(np.linalg.norm(l2_norm_grad(r0))),
    }
    as_loss = {name: _train_on_error(name, x, y, cfg["lr"], cfg["error_iterations"])
               for name in ERRORS}
    errors = {
        "at_w_b_zero": at_start, "n": n, "ratios": ratios,
        "max_autograd_vs_hand": max(
            max(abs(v["dE_dw"] - v["autograd_dE_dw"]) / max(1.0, abs(v["dE_dw"])),
                abs(v["dE_db"] - v["autograd_dE_db"]) / max(1.0, abs(v["dE_db"])))
            for v in at_start.values()),
        "along_gd_final": {k: v[-1] for k, v in along.items()},
        "as_loss": {name: {"final_w": float(r["w"][-1]), "final_b": float(r["b"][-1]),
                           "diverged_at": r["diverged_at"]} for name, r in as_loss.items()},
    }

    metrics: dict[str, Any] = {
        "experiment": "linreg", "seed": cfg["seed"],
        "gradient_descent_1d": {
            "function": "f(x) = x^2 + 2x + 3", "x0": cfg["x0"], "lr": cfg["lr_1d"],
            "eps": cfg["eps"], "h": cfg["h"],
            "loop": "g = grad(x); while |g| > eps: x -= lr*g; g = grad(x); n += 1",
            **{k: {kk: vv for kk, vv in v.items() if kk != "path"} for k, v in gd.items()},
        },
        "linreg_gd": linreg, "linreg_sgd": sgd_metrics, "multivariate": multi_metrics,
        "errors": errors,
    }
    plots = _plots(out_dir, cfg, gd, full, sgd, multi, along, grad_norm, as_loss)
    metrics["plots"] = plots
    metrics["elapsed_s"] = time.perf_counter() - t0
    write_metrics(out_dir, metrics)
    metrics["out_dir"] = str(out_dir)
    return metrics


def _plots(out_dir: Any, cfg: dict[str, Any], gd: dict[str, Any], full: dict[str, Any],
           sgd: dict[str, Any], multi: dict[str, Any], along: dict[str, list[float]],
           grad_norm: dict[str, list[float]], as_loss: dict[str, Any]) -> list[str]:
    plt = pyplot()
    names = []

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    xs = np.linspace(-4, 4, 200)
    ax1.plot(xs, f(xs), color="0.5", label="f(x) = x² + 2x + 3")
    for key, style in (("analytic", "o"), ("difference_quotient", "x")):
        path = gd[key]["path"]
        ax1.plot(path[::25], f(path[::25]), style, ms=4,
                 label=f"{key.replace('_', ' ')}: {gd[key]['iterations']} steps")
    ax1.plot([-1], [2], "k*", ms=12, label="minimum (-1, 2)")
    ax1.set(xlabel="x", ylabel="f(x)", title="gradient descent on f (every 25th step)")
    ax1.legend(fontsize=8)
    # the last iterations: the quotient moves in steps of ulp(f)/h = 4.4e-7 around f'
    path = gd["difference_quotient"]["path"]
    ks = np.arange(max(0, len(path) - 40), len(path))
    ax2.plot(ks, f_prime(path[ks]), "-", label="f'(x_k) = 2x_k + 2 (exact)")
    ax2.plot(ks, [difference_quotient(f, v, cfg["h"]) for v in path[ks]], ".",
             label=f"(f(x+h) - f(x))/h, h = {cfg['h']:g}")
    ax2.axhline(cfg["eps"], color="k", ls="--", lw=1, label="eps = 1e-5")
    ax2.set(xlabel="iteration k", ylabel="derivative",
            title="the last 40 steps: the quotient is rounding noise ± 4%")
    ax2.legend(fontsize=8)
    names.append(save_figure(fig, out_dir, "gd_1d.png").name)

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, true in ((axes[0], "w", cfg["true_w"]), (axes[1], "b", cfg["true_b"])):
        ax.plot(full[key], label=f"{key} (full-batch GD)")
        ax.axhline(true, color="k", ls="--", lw=1, label=f"true {key} = {true:g}")
        if len(full[key]) > 100:
            ax.plot([100], [full[key][100]], "ro",
                    label=f"after 100: {key} = {full[key][100]:.3f}")
        ax.set(xlabel="iteration", ylabel=key, title=f"{key} over iterations (lr = {cfg['lr']})")
        ax.legend(fontsize=8)
    names.append(save_figure(fig, out_dir, "linreg_w_b.png").name)

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, key, true in ((axes[0], "w", cfg["true_w"]), (axes[1], "b", cfg["true_b"])):
        ax.plot(full[key], label="full-batch GD (1000 points / update)")
        ax.plot(sgd[key], alpha=0.8, label=f"mini-batch SGD ({cfg['batch_size']} points / "
                                           f"update)")
        ax.axhline(true, color="k", ls="--", lw=1)
        ax.set(xlabel="update", ylabel=key, title=f"{key}: per update")
        ax.legend(fontsize=8)
    per_epoch = sgd["updates_per_epoch"]
    epochs = np.arange(len(sgd["epoch_loss"]))
    ax = axes[2]
    ax.semilogy(epochs, sgd["epoch_loss"], "o-", label="SGD")
    gd_epochs = np.arange(min(len(full["loss"]), len(epochs)))
    ax.semilogy(gd_epochs, full["loss"][gd_epochs], "s-", label="GD (1 update per epoch)")
    ax.set(xlabel="epochs (passes over the data)", ylabel="E = mean(r²)/2",
           title=f"per pass over the data ({per_epoch} SGD updates each)")
    ax.legend(fontsize=8)
    names.append(save_figure(fig, out_dir, "sgd_vs_gd.png").name)

    fig, ax = plt.subplots(figsize=(6, 4))
    labels = ["β1", "β2", "β3", "intercept"]
    for i, label in enumerate(labels):
        ax.plot(multi["history"][:, i], label=label)
    for v in (1, 3, 5, 7):
        ax.axhline(v, color="k", ls=":", lw=0.8)
    ax.set(xlabel="iteration", ylabel="value", title="multivariate GD → [1, 3, 5, 7]",
           xscale="symlog")
    ax.legend(fontsize=8)
    names.append(save_figure(fig, out_dir, "multivariate.png").name)

    fig, axes = plt.subplots(1, 3, figsize=(16, 4))
    for name in ERRORS:
        axes[0].semilogy(along[name], label=name)
        axes[1].semilogy(grad_norm[name], label=name)
        axes[2].plot(as_loss[name]["b"], label=name + (
            f" (diverged at {as_loss[name]['diverged_at']})" if as_loss[name]["diverged_at"]
            else ""))
    axes[0].set(xlabel="GD iteration", ylabel="error", title="the same fit, four errors")
    axes[1].set(xlabel="GD iteration", ylabel="‖(dE/dw, dE/db)‖",
                title="gradients: L2's = SSE's / (2‖r‖), never shrinks like the others")
    axes[2].set(xlabel="iteration", ylabel="b", ylim=(-1, 4),
                title=f"each error as the loss, lr = {cfg['lr']}")
    axes[2].axhline(cfg["true_b"], color="k", ls="--", lw=1)
    for ax in axes:
        ax.legend(fontsize=8)
    names.append(save_figure(fig, out_dir, "errors.png").name)
    return names


def _fmt(value: Any, spec: str = ".4f") -> str:
    return "n/a" if value is None else format(value, spec)


def _print_summary(m: dict[str, Any]) -> None:
    g = m["gradient_descent_1d"]
    print("gradient descent on f(x) = x^2 + 2x + 3 from x = 3 (lr 1e-2, stop |f'| < 1e-5):")
    print_table([{"derivative": k.replace("_", " "), "iterations": g[k]["iterations"],
                  "x": f"{g[k]['x']:.6f}", "f(x)": f"{g[k]['f']:.8f}"}
                 for k in ("analytic", "difference_quotient", "autograd")])
    lr = m["linreg_gd"]
    print(f"\nlinear regression y = 7x + 2, {lr['n_points']} points, lr {lr['lr']}:")
    print(f"  after 100 iterations: w = {_fmt(lr['w_at_100'])}, b = {_fmt(lr['b_at_100'])}"
          f"  (b -> 2 slowly: within 0.02 first at iteration "
          f"{_fmt(lr['first_iteration_b_within_0.02'], 'd')}); after {lr['iterations']}: "
          f"w = {lr['final_w']:.4f}, b = {lr['final_b']:.4f}")
    s = m["linreg_sgd"]
    print(f"  mini-batch SGD (batch {s['batch_size']}) after 1 epoch: "
          f"w = {_fmt(s['w_after_1_epoch'])}, b = {_fmt(s['b_after_1_epoch'])}; after "
          f"{s['epochs']}: w = {s['final_w']:.4f}, b = {s['final_b']:.4f}")
    mv = m["multivariate"]
    print(f"\nmultivariate: beta = {np.round(mv['beta'], 5).tolist()} (true [1, 3, 5, 7])")
    e = m["errors"]
    print(f"\nthe error four ways at w = b = 0 (n = {e['n']}):")
    rows = []
    for k, v in e["at_w_b_zero"].items():
        trained = e["as_loss"][k]
        rows.append({"error": k, "value": v["value"], "dE/dw": v["dE_dw"], "dE/db": v["dE_db"],
                     f"as loss (lr {lr['lr']:g})": f"diverged at {trained['diverged_at']}"
                     if trained["diverged_at"] else f"b -> {trained['final_b']:.3f}"})
    print_table(rows)
    print(f"\nwrote metrics.json and {', '.join(m['plots'])} to {m['out_dir']}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default=None, help="output folder (default runs/linreg-*)")
    parser.add_argument("--seed", type=cli_args.nonnegative_int, default=DEFAULTS["seed"],
                        help="random seed (default 15: a sample with mean(x) near 0)")
    parser.add_argument("--lr", type=cli_args.positive_float, default=DEFAULTS["lr"],
                        help="learning rate of the linear regression (default 1e-2)")
    parser.add_argument("--iterations", type=cli_args.positive_int,
                        default=DEFAULTS["gd_iterations"],
                        help="full-batch GD iterations (default 600)")
    parser.add_argument("--epochs", type=cli_args.positive_int, default=DEFAULTS["sgd_epochs"],
                        help="mini-batch SGD epochs (default 6)")
    parser.add_argument("--batch-size", type=cli_args.positive_int, default=DEFAULTS["batch_size"],
                        help="mini-batch size (default 10)")
    parser.add_argument("--quiet", action="store_true", help="print nothing")


def main(args: argparse.Namespace) -> int:
    if args.seed < 0:
        raise ValueError(f"--seed must be a non-negative integer, got {args.seed}")
    if not args.lr > 0:
        raise ValueError(f"--lr must be positive, got {args.lr}")
    for flag, value in (("--iterations", args.iterations), ("--epochs", args.epochs),
                        ("--batch-size", args.batch_size)):
        if value < 1:
            raise ValueError(f"{flag} must be a positive integer, got {value}")
    metrics = run({"out": args.out, "seed": args.seed, "lr": args.lr,
                   "gd_iterations": args.iterations, "sgd_epochs": args.epochs,
                   "batch_size": args.batch_size, "quiet": args.quiet})
    if not args.quiet:
        _print_summary(metrics)
    return 0
