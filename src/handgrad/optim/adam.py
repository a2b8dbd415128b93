"""Adam and AdamW: adaptive moment estimation (with the AMSGrad variant)."""

from __future__ import annotations

from typing import Any

import numpy as np

from handgrad.optim.optimizer import Optimizer, ParamsT, check_non_negative, lerp_

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    r"""Adam as ``torch.optim.Adam``.

    With g_t = dL/dp (negated when ``maximize``), lr = eta, betas = (b1, b2),
    weight_decay = lambda, at step t = 1, 2, ... (m_0 = v_0 = 0)::

        p_{t-1} <- p_{t-1} (1 - eta lambda)       (decoupled_weight_decay, i.e. AdamW)
        g_t     <- g_t + lambda p_{t-1}           (otherwise, the L2 penalty, if lambda != 0)
        m_t  = b1 m_{t-1} + (1 - b1) g_t          (first moment; written as a lerp)
        v_t  = b2 v_{t-1} + (1 - b2) g_t^2        (second moment)
        vmax_t = max(vmax_{t-1}, v_t)             (amsgrad; then use vmax_t for v_t below)
        p_t  = p_{t-1} - (eta / (1 - b1^t)) * m_t / (sqrt(v_t) / sqrt(1 - b2^t) + eps)

    The bias corrections 1 - b^t undo the zero start of m and v. State: ``step`` (int),
    ``exp_avg`` (m), ``exp_avg_sq`` (v), ``max_exp_avg_sq`` (vmax, with amsgrad).
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *, maximize: bool = False,
                 decoupled_weight_decay: bool = False) -> None:
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=bool(amsgrad), maximize=bool(maximize),
                        decoupled_weight_decay=bool(decoupled_weight_decay))
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        name = type(self).__name__
        check_non_negative(group["eps"], "eps", name)
        check_non_negative(group["weight_decay"], "weight_decay", name)
        betas = group["betas"]
        if len(betas) != 2 or not all(0.0 <= float(b) < 1.0 for b in betas):
            raise ValueError(f"{name}: betas must be two numbers in [0, 1), got {betas!r}")
        group["betas"] = tuple(betas)

    def _update(self, p: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        lr = float(group["lr"])
        b1, b2 = (float(b) for b in group["betas"])
        eps = float(group["eps"])
        wd = float(group["weight_decay"])
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p)
            state["exp_avg_sq"] = np.zeros_like(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p)
        state["step"] += 1
        t = state["step"]
        g = -grad if group["maximize"] else grad
        if wd != 0:
            if group["decoupled_weight_decay"]:
                p *= 1.0 - lr * wd
            else:
                g = g + wd * p
        m, v = state["exp_avg"], state["exp_avg_sq"]
        lerp_(m, g, 1.0 - b1)
        v *= b2
        v += np.square(g) * (1.0 - b2)
        step_size = lr / (1.0 - b1**t)
        bias_correction2_sqrt = (1.0 - b2**t) ** 0.5
        if group["amsgrad"]:
            if "max_exp_avg_sq" not in state:  # amsgrad switched on mid-run
                state["max_exp_avg_sq"] = np.zeros_like(p)
            np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            denom = np.sqrt(state["max_exp_avg_sq"])
        else:
            denom = np.sqrt(v)
        denom /= bias_correction2_sqrt
        denom += eps
        np.divide(m, denom, out=denom)  # reuse the buffer: denom now holds m / denom
        denom *= step_size
        p -= denom


class AdamW(Adam):
    r"""AdamW as ``torch.optim.AdamW``: Adam with decoupled weight decay.

    The decay shrinks the weights directly, p <- p (1 - eta lambda), before the Adam
    step, instead of adding lambda p to the gradient (where Adam's per-coordinate scaling
    would weaken it). Default weight_decay = 1e-2. Otherwise the update is Adam's.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=True)
