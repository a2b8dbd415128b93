"""Adagrad: per-coordinate learning rates from the sum of all past squared gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from handgrad.optim.optimizer import Optimizer, ParamsT, check_non_negative

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""Adagrad as ``torch.optim.Adagrad``.

    With g_t = dL/dp (negated when ``maximize``), lr = eta, lr_decay = delta,
    weight_decay = lambda, at step t = 1, 2, ... (S_0 = initial_accumulator_value)::

        g_t     <- g_t + lambda p_{t-1}            (if lambda != 0)
        eta_t    = eta / (1 + (t - 1) delta)
        S_t      = S_{t-1} + g_t^2                 (state 'sum')
        p_t      = p_{t-1} - eta_t g_t / (sqrt(S_t) + eps)

    State: ``step``, ``sum``.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps,
                        maximize=bool(maximize))
        super().__init__(params, defaults)
        # As torch: the accumulator exists from construction (so a state dict saved before
        # the first step already holds it), and it starts at the *constructor's*
        # initial_accumulator_value for every group, also one added later: PyTorch 2.13
        # ignores a per-group value (kept in the group, never used), and so do we.
        for group in self.param_groups:
            for p in group["params"]:
                self.state[id(p)] = {
                    "step": 0,
                    # a 0-d parameter is updated through a (1,) view (Optimizer.step)
                    "sum": np.full(p.data.shape or (1,),
                                   float(self.defaults["initial_accumulator_value"]),
                                   p.data.dtype),
                }

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        for name in ("lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            check_non_negative(group[name], name, "Adagrad")

    def _update(self, p: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        if not state:  # a group added after construction
            state["step"] = 0
            state["sum"] = np.full_like(p, float(self.defaults["initial_accumulator_value"]))
        state["step"] += 1
        t = state["step"]
        g = -grad if group["maximize"] else grad
        wd = float(group["weight_decay"])
        if wd != 0:
            g = g + wd * p
        clr = float(group["lr"]) / (1.0 + (t - 1) * float(group["lr_decay"]))
        s = state["sum"]
        s += np.square(g)
        std = np.sqrt(s)
        std += float(group["eps"])
        np.divide(g, std, out=std)
        std *= clr
        p -= std
