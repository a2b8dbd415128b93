"""Stochastic gradient descent, with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from typing import Any

import numpy as np

from handgrad.optim.optimizer import Optimizer, ParamsT, check_non_negative

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""SGD as ``torch.optim.SGD``.

    With g_t = dL/dp (negated when ``maximize``), lr = eta, momentum = mu,
    dampening = tau, weight_decay = lambda, for each parameter p at step t = 1, 2, ...::

        g_t <- g_t + lambda * p_{t-1}                       (if lambda != 0)
        b_t  = g_t                                          (t = 1: no dampening)
        b_t  = mu * b_{t-1} + (1 - tau) * g_t               (t > 1)
        g_t <- g_t + mu * b_t    (nesterov)   or   g_t <- b_t    (plain momentum)
                                                            (only if mu != 0)
        p_t  = p_{t-1} - eta * g_t

    Nesterov needs mu > 0 and tau = 0. State: ``momentum_buffer`` (b, only if mu != 0).
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
                 *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=bool(nesterov),
                        maximize=bool(maximize))
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        for name in ("momentum", "weight_decay"):
            check_non_negative(group[name], name, "SGD")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"SGD: nesterov=True needs momentum > 0 and dampening = 0, got "
                             f"momentum={group['momentum']}, dampening={group['dampening']}")

    def _update(self, p: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        lr = float(group["lr"])
        mu = float(group["momentum"])
        wd = float(group["weight_decay"])
        g = -grad if group["maximize"] else grad
        if wd != 0:
            g = g + wd * p
        if mu != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = np.array(g, copy=True)
                state["momentum_buffer"] = buf
            else:
                buf *= mu
                buf += (1.0 - float(group["dampening"])) * g
            g = g + mu * buf if group["nesterov"] else buf
        p -= lr * g
