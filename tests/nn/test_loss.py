"""Loss modules and softmax layers against torch.nn: values, gradients, state dicts."""

from __future__ import annotations

import numpy as np
import pytest

import handgrad as hg
from handgrad import nn
from tests.helpers import assert_close, to_torch, torch


def _compare(module, tmodule, x, target, dtype=np.float64):
    xh = hg.tensor(x.astype(dtype), requires_grad=True)
    xt = to_torch(x.astype(dtype), requires_grad=True)
    out = module(xh, target if not isinstance(target, np.ndarray) else target)
    ref = tmodule(xt, torch.tensor(target))
    assert_close(out, ref, dtype)
    out.sum().backward() if out.ndim else out.backward()
    (ref.sum() if ref.ndim else ref).backward()
    assert_close(xh.grad, xt.grad, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_loss_module(reduction, dtype, rng):
    w = rng.uniform(0.5, 2, 4)
    x = rng.standard_normal((6, 4))
    t = rng.integers(0, 4, 6)
    t[0] = 2
    kw = dict(ignore_index=2, reduction=reduction, label_smoothing=0.05)
    _compare(nn.CrossEntropyLoss(weight=w.astype(dtype), **kw),
             torch.nn.CrossEntropyLoss(weight=torch.tensor(w.astype(dtype)), **kw), x, t, dtype)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_other_loss_modules(reduction, rng):
    x = rng.standard_normal((5, 3))
    t = rng.integers(0, 3, 5)
    _compare(nn.NLLLoss(reduction=reduction), torch.nn.NLLLoss(reduction=reduction), x, t)
    y = rng.standard_normal((5, 3))
    _compare(nn.MSELoss(reduction=reduction), torch.nn.MSELoss(reduction=reduction), x, y)
    _compare(nn.L1Loss(reduction=reduction), torch.nn.L1Loss(reduction=reduction), x, y)
    p = rng.uniform(0, 1, (5, 3))
    q = rng.uniform(0.5, 2, 3)
    _compare(nn.BCEWithLogitsLoss(reduction=reduction, pos_weight=q),
             torch.nn.BCEWithLogitsLoss(reduction=reduction, pos_weight=torch.tensor(q)), x, p)


def test_loss_state_dict_keys_match_torch(rng):
    w = rng.uniform(0.5, 2, 3)
    for ours, theirs in [
        (nn.CrossEntropyLoss(weight=w), torch.nn.CrossEntropyLoss(weight=torch.tensor(w))),
        (nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()),
        (nn.NLLLoss(weight=w), torch.nn.NLLLoss(weight=torch.tensor(w))),
        (nn.BCEWithLogitsLoss(pos_weight=w),
         torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(w))),
        (nn.MSELoss(), torch.nn.MSELoss()),
    ]:
        assert list(ours.state_dict()) == list(theirs.state_dict())
    np.testing.assert_array_equal(nn.CrossEntropyLoss(weight=w).state_dict()["weight"], w)


def test_loss_in_a_training_step_matches_torch(rng):
    """A Linear + CrossEntropyLoss step: every parameter gradient as in torch."""
    x = rng.standard_normal((8, 5))
    t = rng.integers(0, 3, 8)
    model = nn.Linear(5, 3, dtype=np.float64)
    tmodel = torch.nn.Linear(5, 3).double()
    with torch.no_grad():
        tmodel.weight.copy_(torch.tensor(model.weight.data))
        tmodel.bias.copy_(torch.tensor(model.bias.data))
    loss = nn.CrossEntropyLoss()(model(hg.tensor(x)), t)
    tloss = torch.nn.CrossEntropyLoss()(tmodel(torch.tensor(x)), torch.tensor(t))
    loss.backward()
    tloss.backward()
    assert_close(loss, tloss)
    assert_close(model.weight.grad, tmodel.weight.grad)
    assert_close(model.bias.grad, tmodel.bias.grad)


def test_bad_reduction_in_module():
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="average")


def test_softmax_modules_dim(rng):
    x = rng.standard_normal((2, 3, 4))
    for dim in (0, 1, -1):
        assert_close(nn.Softmax(dim)(hg.tensor(x)), torch.nn.Softmax(dim)(torch.tensor(x)))
        assert_close(nn.LogSoftmax(dim)(hg.tensor(x)), torch.nn.LogSoftmax(dim)(torch.tensor(x)))
    assert "dim=1" in repr(nn.Softmax(1))
