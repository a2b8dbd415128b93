"""nn.Conv2d, pooling modules, BatchNorm1d/2d: PyTorch's init, state dicts both ways,
train/eval behaviour and running statistics over several steps."""

from __future__ import annotations

import math

import numpy as np
import pytest

import handgrad as hg
from handgrad import nn
from tests.helpers import assert_close, torch


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1), dict(padding="same"),
                                dict(groups=2, dilation=2, bias=False),
                                dict(kernel_size=(3, 2), padding=(1, 0))])
def test_conv2d_module_state_dict_into_torch(kw, rng):
    kw = {"kernel_size": 3, **kw}
    hg.manual_seed(0)
    m = nn.Conv2d(4, 6, **kw)
    t = torch.nn.Conv2d(4, 6, **kw)
    sd = m.state_dict()
    assert list(sd) == list(t.state_dict())
    t.load_state_dict({k: torch.tensor(v) for k, v in sd.items()}, strict=True)
    x = rng.standard_normal((2, 4, 9, 8)).astype(np.float32)
    xh = hg.tensor(x, requires_grad=True)
    y = m(xh)
    xt = torch.tensor(x, requires_grad=True)
    yt = t(xt)
    assert_close(y, yt, name="out")
    y.sum().backward()
    yt.sum().backward()
    assert_close(xh.grad, xt.grad, name="dx")
    assert_close(m.weight.grad, t.weight.grad, name="dw")
    # and back: torch's weights into handgrad
    t2 = torch.nn.Conv2d(4, 6, **kw)
    m.load_state_dict(t2.state_dict())
    assert_close(m(hg.tensor(x)), t2(torch.tensor(x)), name="out after load")


def test_conv2d_default_init_bounds():
    hg.manual_seed(1)
    m = nn.Conv2d(8, 16, 3)
    bound = 1 / math.sqrt(8 * 9)  # kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(fan_in), ..)
    assert m.weight.dtype == np.float32 and m.weight.shape == (16, 8, 3, 3)
    assert np.abs(m.weight.data).max() <= bound and np.abs(m.weight.data).max() > 0.8 * bound
    assert np.abs(m.bias.data).max() <= bound
    assert nn.Conv2d(8, 16, 3, dtype=np.float64).weight.dtype == np.float64
    assert nn.Conv2d(8, 16, 3, groups=4).weight.shape == (16, 2, 3, 3)


@pytest.mark.parametrize("kw, fragment", [
    (dict(in_channels=3, out_channels=4, kernel_size=3, groups=2), "divisible by groups"),
    (dict(in_channels=4, out_channels=3, kernel_size=3, groups=2), "divisible by groups"),
    (dict(in_channels=0, out_channels=3, kernel_size=3), "in_channels must be a positive"),
    (dict(in_channels=2, out_channels=3, kernel_size=3, padding_mode="reflect"), "'zeros'"),
    (dict(in_channels=2, out_channels=3, kernel_size=3, stride=2, padding="same"), "'same'"),
    (dict(in_channels=2, out_channels=3, kernel_size=0), "kernel_size must be positive"),
])
def test_conv2d_module_errors(kw, fragment):
    with pytest.raises(ValueError) as err:
        nn.Conv2d(**kw)
    assert fragment in str(err.value)


def test_conv2d_module_input_channel_error():
    m = nn.Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match=r"weight shape \(4, 3, 3, 3\).*\(2, 5, 8, 8\)"):
        m(hg.tensor(np.zeros((2, 5, 8, 8), np.float32)))


@pytest.mark.parametrize("mod, tmod, kw", [
    (nn.MaxPool2d, torch.nn.MaxPool2d, dict(kernel_size=2)),
    (nn.MaxPool2d, torch.nn.MaxPool2d, dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    (nn.AvgPool2d, torch.nn.AvgPool2d, dict(kernel_size=3, stride=2, padding=1,
                                            count_include_pad=False)),
    (nn.AdaptiveAvgPool2d, torch.nn.AdaptiveAvgPool2d, dict(output_size=(2, 3))),
])
def test_pool_modules(mod, tmod, kw, rng):
    x = rng.standard_normal((2, 3, 9, 8))
    xh, xt = hg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, yt = mod(**kw)(xh), tmod(**kw)(xt)
    assert_close(y, yt)
    y.sum().backward()
    yt.sum().backward()
    assert_close(xh.grad, xt.grad)
    assert mod(**kw).state_dict() == {}


@pytest.mark.parametrize("cls, tcls, shape", [
    (nn.BatchNorm2d, torch.nn.BatchNorm2d, (4, 3, 5, 5)),
    (nn.BatchNorm1d, torch.nn.BatchNorm1d, (6, 3)),
    (nn.BatchNorm1d, torch.nn.BatchNorm1d, (4, 3, 7)),
])
@pytest.mark.parametrize("kw", [dict(), dict(momentum=None), dict(affine=False),
                                dict(momentum=0.3, eps=1e-3),
                                dict(track_running_stats=False)])
def test_batchnorm_modules_over_several_steps(cls, tcls, shape, kw, rng):
    m, t = cls(3, **kw).double(), tcls(3, **kw).double()
    if m.affine:  # non-trivial gamma/beta, the same in both
        w, b = rng.standard_normal(3), rng.standard_normal(3)
        m.weight.data[...], m.bias.data[...] = w, b
        with torch.no_grad():
            t.weight.copy_(torch.tensor(w))
            t.bias.copy_(torch.tensor(b))
    for step, mode in enumerate(["train", "train", "train", "eval", "train", "eval"]):
        m.train(mode == "train")
        t.train(mode == "train")
        x = rng.standard_normal(shape) * (1 + step) + step
        xh, xt = hg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, yt = m(xh), t(xt)
        assert_close(y, yt, name=f"out step {step}")
        dy = rng.standard_normal(shape)
        y.backward(dy)
        yt.backward(torch.tensor(dy))
        assert_close(xh.grad, xt.grad, name=f"dx step {step}")
        if m.affine:
            assert_close(m.weight.grad, t.weight.grad, name="dgamma")
            assert_close(m.bias.grad, t.bias.grad, name="dbeta")
            m.zero_grad()
            t.zero_grad()
    sd, tsd = m.state_dict(), t.state_dict()
    assert list(sd) == list(tsd)
    for k in sd:
        assert_close(sd[k], tsd[k], dtype=np.float64, name=k)
    if m.track_running_stats:
        assert sd["num_batches_tracked"].dtype == np.int64
        assert int(sd["num_batches_tracked"]) == 4


def test_batchnorm2d_state_dict_into_torch_strict(rng):
    m = nn.BatchNorm2d(3)
    for _ in range(2):
        m(hg.tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32)))
    t = torch.nn.BatchNorm2d(3)
    t.load_state_dict({k: torch.tensor(v) for k, v in m.state_dict().items()}, strict=True)
    m.eval()
    t.eval()
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    assert_close(m(hg.tensor(x)), t(torch.tensor(x)))
    # and from torch into handgrad
    t.train()
    t(torch.tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32)))
    m.load_state_dict(t.state_dict())
    t.eval()
    assert_close(m(hg.tensor(x)), t(torch.tensor(x)))


def test_batchnorm_module_errors():
    with pytest.raises(ValueError, match="num_features"):
        nn.BatchNorm2d(0)
    with pytest.raises(ValueError, match=r"4-D input.*\(2, 3\)"):
        nn.BatchNorm2d(3)(hg.tensor(np.zeros((2, 3), np.float32)))
    with pytest.raises(ValueError, match="num_features = 3"):
        nn.BatchNorm1d(3)(hg.tensor(np.zeros((2, 4), np.float32)))


def test_small_cnn_matches_torch(rng):
    hm = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                       nn.MaxPool2d(2), nn.Conv2d(4, 6, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                       nn.Flatten(), nn.Linear(6, 3))
    tm = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4),
                             torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Conv2d(4, 6, 3),
                             torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                             torch.nn.Linear(6, 3))
    tm.load_state_dict({k: torch.tensor(v) for k, v in hm.state_dict().items()}, strict=True)
    x = rng.standard_normal((3, 1, 10, 10)).astype(np.float32)
    y, yt = hm(hg.tensor(x)), tm(torch.tensor(x))
    assert_close(y, yt)
    y.sum().backward()
    yt.sum().backward()
    for (name, p), tp in zip(hm.named_parameters(), tm.parameters()):
        assert_close(p.grad, tp.grad, name=name)
