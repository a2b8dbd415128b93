"""Training stops before it saves garbage: finiteness and divergence checks of a run.

Every training command calls these, so that a checkpoint is never written with a NaN or
Inf in it (the checkpoint a stopped run calls "last good" is), and a run whose loss runs
away while staying finite (Adam at a huge learning rate reaching a loss of 1e30) stops with
a message and a non-zero exit instead of finishing "successfully".

Cost: the loss is checked every step (one float). The parameters are checked after every
optimizer step with one ``sum`` per array (a sum of finite float32 values can itself
overflow to inf; only then is the array scanned element by element); the optimizer's
state is checked before every checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np


class TrainingDivergedError(FloatingPointError):
    """The run diverged (a NaN/Inf loss, gradient, weight or optimizer state, or a loss
    that ran far above its starting value); the message says where and what to try."""


def _array_is_finite(a: np.ndarray) -> bool:
    if a.dtype.kind not in "fc" or a.size == 0:
        return True
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(a.sum()):
            return True
    return bool(np.isfinite(a).all())  # the sum overflowed, or a value is NaN/Inf


def first_nonfinite(named: Iterable[tuple[str, Any]]) -> str | None:
    """The name of the first array (or nested array in dicts/lists) with a NaN or Inf."""
    for name, value in named:
        if isinstance(value, np.ndarray):
            if not _array_is_finite(value):
                return name
        elif isinstance(value, dict):
            found = first_nonfinite((f"{name}.{k}", v) for k, v in value.items())
            if found:
                return found
        elif isinstance(value, list | tuple):
            found = first_nonfinite((f"{name}[{i}]", v) for i, v in enumerate(value))
            if found:
                return found
        elif isinstance(value, float) and not math.isfinite(value):
            return name
        elif hasattr(value, "data") and isinstance(value.data, np.ndarray):  # a Tensor
            if not _array_is_finite(value.data):
                return name
    return None


def named_parameters(model: Any) -> Iterator[tuple[str, np.ndarray]]:
    for name, p in model.named_parameters():
        yield name, p.data


def check_parameters(model: Any, when: str) -> None:
    """Raise TrainingDivergedError if a parameter holds NaN/Inf (``when``: e.g. 'after
    the optimizer step at step 12')."""
    bad = first_nonfinite(named_parameters(model))
    if bad is not None:
        raise TrainingDivergedError(f"parameter {bad} holds NaN or Inf {when}")


def refuse_nonfinite_model(model: Any, path: Any) -> None:
    """A model file whose weights hold NaN/Inf gives NaN predictions, samples and scores
    that look like results: ValueError naming the file and the first bad parameter."""
    bad = first_nonfinite(named_parameters(model))
    if bad is not None:
        raise ValueError(f"{path}: parameter {bad} holds NaN or Inf; the model is not "
                         f"usable (was it saved from a run that diverged?)")


def optimizer_step(optimizer: Any, when: str) -> None:
    """``optimizer.step()``, stopping the run when its arithmetic overflows (a squared
    gradient above float32's 3.4e38 makes Adam's second moment inf: the weights may stay
    finite, but the run has diverged and its state is garbage)."""
    with np.errstate(over="raise", invalid="raise"):
        try:
            optimizer.step()
        except FloatingPointError as err:
            raise TrainingDivergedError(f"the optimizer step overflowed {when} ({err})"
                                        ) from None


def check_before_checkpoint(model: Any, optimizer: Any, when: str) -> None:
    """Parameters and optimizer state must be finite before they are saved as good."""
    check_parameters(model, when)
    bad = first_nonfinite([("optimizer state", optimizer.state_dict().get("state", {}))])
    if bad is not None:
        raise TrainingDivergedError(f"{bad} holds NaN or Inf {when} (the optimizer "
                                    f"overflowed)")


class DivergenceWatch:
    """Stops a run whose loss stays far above where it started.

    The reference is the smallest of the first ``warmup`` losses. The run has diverged
    when the loss exceeds ``hard_factor`` x the reference once, or ``factor`` x the
    reference (and the reference + ``margin``) for ``patience`` steps in a row. A
    healthy run's loss falls below its start within a few steps; a noisy one may spike,
    which is why one step above ``factor`` is not enough.
    """

    def __init__(self, factor: float = 100.0, hard_factor: float = 1e4, patience: int = 20,
                 warmup: int = 3, margin: float = 10.0) -> None:
        self.factor, self.hard_factor, self.patience = factor, hard_factor, patience
        self.warmup, self.margin = warmup, margin
        self.first: list[float] = []
        self.streak = 0

    @classmethod
    def replay(cls, losses: Iterable[float], **kwargs: Any) -> DivergenceWatch:
        """A watch that has seen ``losses`` (a resumed run rebuilds its watch from the
        saved per-step losses, so it stops exactly where the uninterrupted run would)."""
        watch = cls(**kwargs)
        for v in losses:
            watch.update(float(v))
        return watch

    @property
    def reference(self) -> float | None:
        return min(self.first) if self.first else None

    def update(self, loss: float) -> str | None:
        """Record one step's (finite) loss; a message when the run has diverged."""
        if len(self.first) < self.warmup:
            self.first.append(loss)
            return None
        ref = max(self.reference or 0.0, 1e-12)
        if loss > self.hard_factor * ref + self.margin:
            return (f"loss {loss:.4g} is more than {self.hard_factor:g} x its starting "
                    f"value {ref:.4g}")
        if loss > self.factor * ref + self.margin:
            self.streak += 1
            if self.streak >= self.patience:
                return (f"loss stayed above {self.factor:g} x its starting value "
                        f"{ref:.4g} for {self.streak} steps (now {loss:.4g})")
        else:
            self.streak = 0
        return None
