"""The training guard: finiteness checks and the divergence watch (experiments/guard.py)."""

from __future__ import annotations

import numpy as np
import pytest

import handgrad as hg
from handgrad.experiments.guard import (
    DivergenceWatch,
    TrainingDivergedError,
    check_before_checkpoint,
    check_parameters,
    first_nonfinite,
    optimizer_step,
)


def test_first_nonfinite_finds_nested_and_overflowing_sums():
    big = np.full(10, 3e38, np.float32)  # finite, but its sum overflows to inf
    assert first_nonfinite([("a", big)]) is None
    assert first_nonfinite([("a", big), ("b", {"x": [np.ones(2), np.array([1, np.nan])]})]) \
        == "b.x[1]"
    assert first_nonfinite([("lr", float("inf"))]) == "lr"
    assert first_nonfinite([("ids", np.array([1, 2]))]) is None
    assert first_nonfinite([("empty", np.zeros(0))]) is None


def test_parameters_and_optimizer_state_are_checked():
    model = hg.nn.Linear(3, 2)
    opt = hg.optim.Adam(model.parameters(), lr=0.1)
    model(hg.randn(4, 3)).sum().backward()
    opt.step()
    check_before_checkpoint(model, opt, "now")
    opt.state_dict()  # the state is there
    next(iter(opt.state.values()))["exp_avg_sq"][...] = np.inf
    with pytest.raises(TrainingDivergedError, match="optimizer state.*NaN or Inf now"):
        check_before_checkpoint(model, opt, "now")
    model.weight.data[0, 0] = np.nan
    with pytest.raises(TrainingDivergedError, match="parameter weight holds NaN or Inf x"):
        check_parameters(model, "x")


def test_optimizer_overflow_stops():
    p = hg.nn.Parameter(np.ones(3, np.float32))
    opt = hg.optim.Adam([p], lr=1.0)
    p.grad = np.full(3, 1e30, np.float32)
    with pytest.raises(TrainingDivergedError, match="overflowed at step 7"):
        optimizer_step(opt, "at step 7")


def test_divergence_watch():
    w = DivergenceWatch(factor=100, hard_factor=1e4, patience=3, warmup=2, margin=1)
    assert w.update(2.5) is None and w.update(2.0) is None  # warm-up: reference 2.0
    assert w.update(150.0) is None                           # below 100*2+1
    for _ in range(2):
        assert w.update(500.0) is None                       # above, 2 steps in a row
    assert w.update(5.0) is None                             # the streak is broken
    for _ in range(2):
        assert w.update(500.0) is None
    assert "3 steps" in w.update(500.0)
    assert "more than" in DivergenceWatch.replay([2.0, 2.0, 2.0]).update(1e5)
    # a resumed run's watch, rebuilt from the losses, is in the same state
    losses = [2.0, 2.1, 300.0, 300.0]
    a = DivergenceWatch.replay(losses, patience=3)
    b = DivergenceWatch(patience=3)
    for v in losses:
        b.update(v)
    assert (a.first, a.streak) == (b.first, b.streak) == ([2.0, 2.1, 300.0], 1)
