"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from handgrad.optim.optimizer import Optimizer, ParamsT, check_non_negative, lerp_

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSprop as ``torch.optim.RMSprop``.

    With g_t = dL/dp (negated when ``maximize``), lr = eta, smoothing alpha,
    weight_decay = lambda, momentum = mu, at step t = 1, 2, ... (s_0 = a_0 = b_0 = 0)::

        g_t <- g_t + lambda p_{t-1}                      (if lambda != 0)
        s_t  = alpha s_{t-1} + (1 - alpha) g_t^2         (square_avg)
        a_t  = alpha a_{t-1} + (1 - alpha) g_t           (grad_avg, only if centered)
        d_t  = sqrt(s_t - a_t^2) + eps   (centered)   or   sqrt(s_t) + eps
        b_t  = mu b_{t-1} + g_t / d_t ;  p_t = p_{t-1} - eta b_t      (if mu > 0)
        p_t  = p_{t-1} - eta g_t / d_t                                (otherwise)

    eps is added outside the square root. State: ``step``, ``square_avg``,
    ``momentum_buffer`` (mu > 0), ``grad_avg`` (centered).
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
                 centered: bool = False, *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=bool(centered), maximize=bool(maximize))
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        for name in ("alpha", "eps", "weight_decay", "momentum"):
            check_non_negative(group[name], name, "RMSprop")

    def _update(self, p: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        lr = float(group["lr"])
        alpha = float(group["alpha"])
        eps = float(group["eps"])
        wd = float(group["weight_decay"])
        mu = float(group["momentum"])
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(p)
            if mu > 0:
                state["momentum_buffer"] = np.zeros_like(p)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(p)
        state["step"] += 1
        g = -grad if group["maximize"] else grad
        if wd != 0:
            g = g + wd * p
        sq = state["square_avg"]
        sq *= alpha
        sq += np.square(g) * (1.0 - alpha)
        if group["centered"]:
            ga = state.setdefault("grad_avg", np.zeros_like(p))
            lerp_(ga, g, 1.0 - alpha)
            avg = sq - np.square(ga)
            np.sqrt(avg, out=avg)
        else:
            avg = np.sqrt(sq)
        avg += eps
        np.divide(g, avg, out=avg)  # avg now holds g / d
        if mu > 0:
            buf = state.setdefault("momentum_buffer", np.zeros_like(p))
            buf *= mu
            buf += avg
            p -= lr * buf
        else:
            avg *= lr
            p -= avg
