"""Rprop: resilient backpropagation, steps from gradient signs only."""

from __future__ import annotations

from typing import Any

import numpy as np

from handgrad.optim.optimizer import Optimizer, ParamsT

__all__ = ["Rprop"]


class Rprop(Optimizer):
    r"""Rprop as ``torch.optim.Rprop`` (the variant without weight backtracking).

    Each coordinate keeps its own step size Delta (starting at lr) and the gradient it
    used last, g_prev (starting at 0). With etas = (eta-, eta+) and
    step_sizes = (Delta_min, Delta_max), at each step::

        s       = sign(g_t * g_prev)
        Delta_t = clip(Delta_{t-1} * f, Delta_min, Delta_max),
                  f = eta+ if s > 0,  eta- if s < 0,  1 if s = 0
        g_t    <- 0 where s < 0          (after a sign flip: no move, and the next step
                                          sees g_prev = 0, i.e. s = 0)
        p_t     = p_{t-1} - sign(g_t) * Delta_t
        g_prev  = g_t

    Only the sign of the gradient is used, so Rprop suits full-batch training.
    State: ``step``, ``prev`` (g_prev), ``step_size`` (Delta).
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2,
                 etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50.0), *,
                 maximize: bool = False) -> None:
        defaults = dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes),
                        maximize=bool(maximize))
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        etas, sizes = tuple(group["etas"]), tuple(group["step_sizes"])
        if len(etas) != 2 or not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Rprop: etas must be (eta_minus, eta_plus) with "
                             f"0 < eta_minus < 1 < eta_plus, got {etas!r}")
        if len(sizes) != 2 or not 0.0 <= sizes[0] <= sizes[1]:
            raise ValueError(f"Rprop: step_sizes must be (min, max) with 0 <= min <= max, "
                             f"got {sizes!r}")
        group["etas"], group["step_sizes"] = etas, sizes

    def _update(self, p: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        eta_minus, eta_plus = (float(e) for e in group["etas"])
        size_min, size_max = (float(s) for s in group["step_sizes"])
        if not state:
            state["step"] = 0
            state["prev"] = np.zeros_like(p)
            state["step_size"] = np.full_like(p, float(group["lr"]))
        state["step"] += 1
        g = -grad if group["maximize"] else np.array(grad, copy=True)
        prev, step_size = state["prev"], state["step_size"]
        sign = np.sign(g * prev)
        factor = sign.copy()  # NaN stays NaN, as in torch
        factor[sign > 0] = eta_plus
        factor[sign < 0] = eta_minus
        factor[sign == 0] = 1.0
        step_size *= factor
        np.clip(step_size, size_min, size_max, out=step_size)
        g[factor == eta_minus] = 0
        p -= np.sign(g) * step_size
        prev[...] = g
