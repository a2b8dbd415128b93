"""A batch of 0 through every layer and loss gives PyTorch's result: empty outputs,
zero parameter gradients, running statistics left alone, a mean over nothing NaN; what
PyTorch refuses, handgrad refuses with a clear message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import handgrad as hg
from handgrad import nn
from handgrad.nn import functional as F
from tests.helpers import torch

TNN = torch.nn


def _pair(ours: Callable[[], Any], theirs: Callable[[], Any]) -> tuple[Any, Any]:
    torch.manual_seed(0)
    t = theirs().double()
    h = ours().double()
    h.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    return h, t


LAYERS = [
    ("Linear", lambda: nn.Linear(3, 2), lambda: TNN.Linear(3, 2), (0, 3)),
    ("Conv2d", lambda: nn.Conv2d(2, 3, 3, padding=1), lambda: TNN.Conv2d(2, 3, 3, padding=1),
     (0, 2, 4, 4)),
    ("Conv2d-s2-groups", lambda: nn.Conv2d(2, 4, 3, stride=2, groups=2),
     lambda: TNN.Conv2d(2, 4, 3, stride=2, groups=2), (0, 2, 5, 5)),
    ("MaxPool2d", lambda: nn.MaxPool2d(2), lambda: TNN.MaxPool2d(2), (0, 2, 4, 4)),
    ("AvgPool2d", lambda: nn.AvgPool2d(3, 1, 1), lambda: TNN.AvgPool2d(3, 1, 1), (0, 2, 4, 4)),
    ("AdaptiveAvgPool2d", lambda: nn.AdaptiveAvgPool2d(2), lambda: TNN.AdaptiveAvgPool2d(2),
     (0, 2, 4, 4)),
    ("BatchNorm1d", lambda: nn.BatchNorm1d(3), lambda: TNN.BatchNorm1d(3), (0, 3)),
    ("BatchNorm2d", lambda: nn.BatchNorm2d(2), lambda: TNN.BatchNorm2d(2), (0, 2, 3, 3)),
    ("RNN", lambda: nn.RNN(3, 4), lambda: TNN.RNN(3, 4), (2, 0, 3)),
    ("LSTM-2-bidir", lambda: nn.LSTM(3, 4, 2, bidirectional=True),
     lambda: TNN.LSTM(3, 4, 2, bidirectional=True), (2, 0, 3)),
    ("GRU-batch-first", lambda: nn.GRU(3, 4, batch_first=True),
     lambda: TNN.GRU(3, 4, batch_first=True), (0, 2, 3)),
    ("RNNCell", lambda: nn.RNNCell(3, 4), lambda: TNN.RNNCell(3, 4), (0, 3)),
    ("LSTMCell", lambda: nn.LSTMCell(3, 4), lambda: TNN.LSTMCell(3, 4), (0, 3)),
    ("GRUCell", lambda: nn.GRUCell(3, 4), lambda: TNN.GRUCell(3, 4), (0, 3)),
]


def _first(out: Any) -> Any:
    return out[0] if isinstance(out, tuple) else out


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("name,ours,theirs,shape", LAYERS, ids=[c[0] for c in LAYERS])
def test_an_empty_batch_gives_torchs_result(name, ours, theirs, shape, train):
    h, t = _pair(ours, theirs)
    h.train(train)
    t.train(train)
    x = hg.tensor(np.zeros(shape), requires_grad=True)
    tx = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
    out, tout = _first(h(x)), _first(t(tx))
    assert out.shape == tuple(tout.shape)
    out.sum().backward()
    tout.sum().backward()
    assert x.grad.shape == tuple(tx.grad.shape)
    for (k, p), (_, tp) in zip(h.named_parameters(), t.named_parameters()):
        expected = np.zeros(tuple(tp.shape)) if tp.grad is None else tp.grad.numpy()
        got = np.zeros(p.shape) if p.grad is None else p.grad
        np.testing.assert_array_equal(got, expected, err_msg=f"{name}: {k}.grad")
    for k, v in t.state_dict().items():  # running statistics (and the batch counter)
        np.testing.assert_array_equal(h.state_dict()[k], v.numpy(), err_msg=f"{name}: {k}")


def test_an_empty_embedding_lookup():
    h, t = _pair(lambda: nn.Embedding(5, 3), lambda: TNN.Embedding(5, 3))
    out = h(hg.tensor(np.zeros((0, 4), np.int64)))
    tout = t(torch.zeros((0, 4), dtype=torch.long))
    assert out.shape == tuple(tout.shape) == (0, 4, 3)
    out.sum().backward()
    tout.sum().backward()
    np.testing.assert_array_equal(h.weight.grad, t.weight.grad.numpy())


LOSSES = {
    "cross_entropy": (lambda x, y, r: F.cross_entropy(x, y, reduction=r),
                      lambda x, y, r: TNN.functional.cross_entropy(x, y, reduction=r)),
    "nll_loss": (lambda x, y, r: F.nll_loss(x, y, reduction=r),
                 lambda x, y, r: TNN.functional.nll_loss(x, y, reduction=r)),
    "mse_loss": (lambda x, y, r: F.mse_loss(x, y, reduction=r),
                 lambda x, y, r: TNN.functional.mse_loss(x, y, reduction=r)),
    "l1_loss": (lambda x, y, r: F.l1_loss(x, y, reduction=r),
                lambda x, y, r: TNN.functional.l1_loss(x, y, reduction=r)),
}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_losses_over_an_empty_batch(name, reduction):
    ours, theirs = LOSSES[name]
    x = hg.tensor(np.zeros((0, 3)), requires_grad=True)
    tx = torch.zeros((0, 3), dtype=torch.float64, requires_grad=True)
    if name in ("cross_entropy", "nll_loss"):
        y, ty = hg.tensor(np.zeros(0, np.int64)), torch.zeros(0, dtype=torch.long)
    else:
        y, ty = hg.tensor(np.zeros((0, 3))), torch.zeros((0, 3), dtype=torch.float64)
    loss, tloss = ours(x, y, reduction), theirs(tx, ty, reduction)
    np.testing.assert_array_equal(loss.data, tloss.detach().numpy())  # NaN, 0 or empty
    loss.sum().backward()
    tloss.sum().backward()
    assert x.grad.shape == tuple(tx.grad.shape)


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_a_sequence_of_no_steps_is_refused_as_in_torch(cls):
    with pytest.raises(RuntimeError):
        getattr(TNN, cls)(3, 4)(torch.zeros((0, 2, 3)))
    with pytest.raises(ValueError, match="at least one step.*(0, 2, 3)"):
        getattr(nn, cls)(3, 4)(hg.tensor(np.zeros((0, 2, 3), np.float32)))


def test_one_value_per_channel_in_training_is_refused_as_in_torch():
    with pytest.raises(ValueError):
        TNN.BatchNorm1d(2)(torch.zeros((1, 2)))
    with pytest.raises(ValueError, match="more than 1 value per channel.*(1, 2)"):
        nn.BatchNorm1d(2)(hg.tensor(np.zeros((1, 2), np.float32)))
