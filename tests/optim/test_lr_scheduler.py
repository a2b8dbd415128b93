"""Learning-rate schedulers against torch.optim.lr_scheduler over 30 epochs."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import handgrad.optim as optim
from handgrad.nn import Parameter
from handgrad.optim import lr_scheduler
from tests.helpers import torch

EPOCHS = 30


def _pair(lrs=(0.1, 0.03)):
    hg_opt = optim.SGD([{"params": [Parameter(np.zeros(2))], "lr": lr} for lr in lrs])
    th_opt = torch.optim.SGD([{"params": [torch.zeros(2, requires_grad=True)], "lr": lr}
                              for lr in lrs])
    return hg_opt, th_opt


CASES = [
    ("StepLR", dict(step_size=7, gamma=0.5)),
    ("StepLR", dict(step_size=1)),
    ("StepLR", dict(step_size=40, gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=10)),
    ("CosineAnnealingLR", dict(T_max=30, eta_min=1e-3)),
    ("CosineAnnealingLR", dict(T_max=1)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.01)),
    ("LambdaLR", dict(lr_lambda=lambda e: 0.95 ** e / (1 + e))),
]


def _th_step(th_opt, th_sched):
    th_opt.step()
    th_sched.step()


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in
                                                     enumerate(CASES)])
def test_schedule_matches_torch_over_30_epochs(name, kwargs):
    hg_opt, th_opt = _pair()
    hg_s = getattr(lr_scheduler, name)(hg_opt, **kwargs)
    th_s = getattr(torch.optim.lr_scheduler, name)(th_opt, **kwargs)
    for epoch in range(EPOCHS):
        ours = [g["lr"] for g in hg_opt.param_groups]
        theirs = [g["lr"] for g in th_opt.param_groups]
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15,
                                   err_msg=f"{name} epoch {epoch}")
        assert hg_s.get_last_lr() == pytest.approx(th_s.get_last_lr(), rel=1e-12, abs=1e-15)
        assert hg_s.last_epoch == th_s.last_epoch == epoch
        hg_opt.step()
        hg_s.step()
        _th_step(th_opt, th_s)


@pytest.mark.parametrize("name,kwargs", CASES[:-1], ids=[f"{n}-{i}" for i, (n, _) in
                                                          enumerate(CASES[:-1])])
def test_state_dict_resume(name, kwargs):
    """Save optimizer + scheduler after 12 epochs (through JSON), resume in fresh objects:
    the rest of the schedule equals an uninterrupted torch run."""
    hg_opt, th_opt = _pair()
    hg_s = getattr(lr_scheduler, name)(hg_opt, **kwargs)
    th_s = getattr(torch.optim.lr_scheduler, name)(th_opt, **kwargs)
    for _ in range(12):
        hg_opt.step()
        hg_s.step()
        _th_step(th_opt, th_s)
    sched_state = json.loads(json.dumps(hg_s.state_dict()))
    opt_groups = json.loads(json.dumps(hg_opt.state_dict()["param_groups"]))
    new_opt, _ = _pair(lrs=(5.0, 5.0))
    new_opt.load_state_dict({"state": {}, "param_groups": opt_groups})
    new_s = getattr(lr_scheduler, name)(new_opt, **kwargs)
    new_s.load_state_dict(sched_state)
    for epoch in range(12, EPOCHS):
        np.testing.assert_allclose([g["lr"] for g in new_opt.param_groups],
                                   [g["lr"] for g in th_opt.param_groups], rtol=1e-12,
                                   atol=1e-15, err_msg=f"{name} resumed epoch {epoch}")
        new_opt.step()
        new_s.step()
        _th_step(th_opt, th_s)


def test_chained_schedulers_and_manual_change_like_torch():
    hg_opt, th_opt = _pair()
    hg_a = lr_scheduler.StepLR(hg_opt, step_size=4, gamma=0.5)
    hg_b = lr_scheduler.CosineAnnealingLR(hg_opt, T_max=9)
    th_a = torch.optim.lr_scheduler.StepLR(th_opt, step_size=4, gamma=0.5)
    th_b = torch.optim.lr_scheduler.CosineAnnealingLR(th_opt, T_max=9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for epoch in range(EPOCHS):
            if epoch == 10:
                hg_opt.param_groups[0]["lr"] = th_opt.param_groups[0]["lr"] = 0.2
            hg_opt.step()
            th_opt.step()
            for s in (hg_a, hg_b, th_a, th_b):
                s.step()
            np.testing.assert_allclose([g["lr"] for g in hg_opt.param_groups],
                                       [g["lr"] for g in th_opt.param_groups], rtol=1e-12,
                                       atol=1e-15, err_msg=f"epoch {epoch}")


def test_scheduler_drives_training_lr():
    p = Parameter(np.zeros(1))
    opt = optim.SGD([p], lr=1.0)
    sched = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    moves = []
    for _ in range(3):
        p.grad = np.ones(1)
        before = p.data.copy()
        opt.step()
        moves.append(float(before[0] - p.data[0]))
        sched.step()
    assert moves == [1.0, 0.5, 0.25]


def test_bad_arguments():
    opt, _ = _pair()
    with pytest.raises(ValueError, match="step_size"):
        lr_scheduler.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="T_max"):
        lr_scheduler.CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(TypeError, match="Optimizer"):
        lr_scheduler.StepLR(object(), step_size=3)
    with pytest.raises(ValueError, match="lr_lambdas"):
        lr_scheduler.LambdaLR(opt, [lambda e: 1.0])
    fresh, _ = _pair()
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(fresh, step_size=3, last_epoch=5)
