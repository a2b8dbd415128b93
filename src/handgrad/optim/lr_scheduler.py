"""Learning-rate schedules, shaped like ``torch.optim.lr_scheduler``.

A scheduler rewrites ``group['lr']`` of each parameter group; call ``scheduler.step()``
once per epoch, after ``optimizer.step()``. On construction it records
``group['initial_lr']`` (the base rate eta_0) and sets epoch 0's rate. Like PyTorch the
schedules are computed recursively from the current rate ("chainable"), so two schedulers
on one optimizer compose and a rate changed by hand is respected. ``state_dict()`` holds
only numbers and lists of numbers (JSON-safe).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from handgrad.optim.optimizer import Optimizer

__all__ = ["LRScheduler", "StepLR", "ExponentialLR", "CosineAnnealingLR", "LambdaLR"]


class LRScheduler:
    """Base class: subclasses define ``get_lr()`` -> the new rate of each group."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected a handgrad Optimizer, got "
                            f"{type(optimizer).__name__}")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"{type(self).__name__}: param_groups[{i}] has no "
                                   f"'initial_lr'; resuming with last_epoch={last_epoch} "
                                   f"needs the optimizer's state dict loaded first")
        self.base_lrs: list[float] = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        # The initial step sets epoch last_epoch + 1; recursive schedules keep the current
        # rates there (``self._initial``), closed-form ones (LambdaLR) evaluate it.
        self._initial = True
        self.step()
        self._initial = False

    def get_lr(self) -> list[float]:
        raise NotImplementedError

    def get_last_lr(self) -> list[float]:
        """The rates set by the last ``step()``."""
        return list(self._last_lr)

    def step(self) -> None:
        """Advance one epoch and write the new rate into every parameter group."""
        self._step_count += 1
        self.last_epoch += 1
        values = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values, strict=True):
            group["lr"] = lr
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def _current(self) -> list[float]:
        return [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimizer (and LambdaLR's functions): numbers and lists."""
        skip = {"optimizer", "lr_lambdas"}
        return {k: (list(v) if isinstance(v, list) else v) for k, v in self.__dict__.items()
                if k not in skip}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update({k: v for k, v in state_dict.items()
                              if k not in ("optimizer", "lr_lambdas")})


class StepLR(LRScheduler):
    r"""Multiply the rate by gamma every ``step_size`` epochs.

    eta_e = eta_0 * gamma^floor(e / step_size); recursively eta_e = gamma * eta_{e-1} when
    e > 0 is a multiple of step_size, else eta_e = eta_{e-1}.
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        if isinstance(step_size, bool) or not isinstance(step_size, int) or step_size <= 0:
            raise ValueError(f"StepLR: step_size must be a positive integer, got {step_size!r}")
        self.step_size = step_size
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current()
        return [lr * self.gamma for lr in self._current()]


class ExponentialLR(LRScheduler):
    r"""eta_e = gamma * eta_{e-1}, i.e. eta_e = eta_0 gamma^e."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._initial:
            return self._current()
        return [lr * self.gamma for lr in self._current()]


class CosineAnnealingLR(LRScheduler):
    r"""Cosine annealing from eta_0 down to eta_min over T_max epochs (SGDR without restarts).

    Closed form: eta_e = eta_min + (eta_0 - eta_min) (1 + cos(pi e / T_max)) / 2.
    Computed recursively as PyTorch does (so manual changes of the rate carry on)::

        eta_e = eta_min + (eta_{e-1} - eta_min) (1 + cos(pi e / T)) / (1 + cos(pi (e-1) / T))

    except where the denominator vanishes (e - 1 - T a multiple of 2T, i.e. just past the
    minimum), where eta_e = eta_{e-1} + (eta_0 - eta_min)(1 - cos(pi / T)) / 2. Beyond T_max
    the rate climbs back up (a cosine of period 2 T_max), as in PyTorch.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,  # noqa: N803
                 last_epoch: int = -1) -> None:
        if isinstance(T_max, bool) or not isinstance(T_max, int) or T_max <= 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be a positive integer, "
                             f"got {T_max!r}")
        self.T_max = T_max
        self.eta_min = float(eta_min)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        e, t, lo = self.last_epoch, self.T_max, self.eta_min
        if self._initial:
            return self._current()
        if (e - 1 - t) % (2 * t) == 0:
            return [lr + (base - lo) * (1 - math.cos(math.pi / t)) / 2
                    for lr, base in zip(self._current(), self.base_lrs, strict=True)]
        ratio = (1 + math.cos(math.pi * e / t)) / (1 + math.cos(math.pi * (e - 1) / t))
        return [ratio * (lr - lo) + lo for lr in self._current()]


class LambdaLR(LRScheduler):
    r"""eta_e = eta_0 * lr_lambda(e) (one function, or one per parameter group).

    The functions are not saved by ``state_dict()`` (they are code, not data).
    """

    def __init__(self, optimizer: Optimizer,
                 lr_lambda: Callable[[int], float] | list[Callable[[int], float]],
                 last_epoch: int = -1) -> None:
        n = len(optimizer.param_groups)
        if isinstance(lr_lambda, list | tuple):
            if len(lr_lambda) != n:
                raise ValueError(f"LambdaLR: expected {n} lr_lambdas (one per group), got "
                                 f"{len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * n
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base * f(self.last_epoch)
                for f, base in zip(self.lr_lambdas, self.base_lrs, strict=True)]
