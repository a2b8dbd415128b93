"""Initialisers: the same fans, gains and distributions as torch.nn.init."""

from __future__ import annotations

import math

import numpy as np
import pytest

import handgrad as hg
from handgrad import nn
from handgrad.nn import init
from tests.helpers import torch

SHAPES = [(3, 5), (64, 32), (16, 3, 3, 3), (8, 4, 5), (1, 1)]


@pytest.mark.parametrize("shape", SHAPES)
def test_fans_match_torch(shape):
    ours = init.calculate_fan_in_and_fan_out(nn.Parameter(np.zeros(shape, np.float32)))
    theirs = torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))
    assert ours == theirs
    with pytest.raises(ValueError, match="2 dims"):
        init.calculate_fan_in_and_fan_out(np.zeros(3))


@pytest.mark.parametrize("nl,param", [("linear", None), ("sigmoid", None), ("conv2d", None),
                                      ("tanh", None), ("relu", None), ("leaky_relu", None),
                                      ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)),
                                      ("selu", None), ("conv_transpose2d", None)])
def test_gain_matches_torch(nl, param):
    assert init.calculate_gain(nl, param) == pytest.approx(torch.nn.init.calculate_gain(nl,
                                                                                        param))


def test_gain_unknown():
    with pytest.raises(ValueError, match="nonlinearity"):
        init.calculate_gain("swish")


def _fill(fn, shape, dtype=np.float32, **kwargs):
    hg.manual_seed(0)
    p = nn.Parameter(np.zeros(shape, dtype))
    out = fn(p, **kwargs)
    assert out is p and p.dtype == dtype
    return p.data


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nl,a", [("relu", 0.0), ("leaky_relu", math.sqrt(5)),
                                  ("leaky_relu", 0.0)])
def test_kaiming_uniform_and_normal(mode, nl, a):
    shape = (64, 16, 3, 3)
    fan_in, fan_out = 16 * 9, 64 * 9
    fan = fan_in if mode == "fan_in" else fan_out
    gain = torch.nn.init.calculate_gain(nl, a)
    w = _fill(init.kaiming_uniform_, shape, a=a, mode=mode, nonlinearity=nl)
    bound = gain * math.sqrt(3.0 / fan)
    assert np.abs(w).max() <= bound * (1 + 1e-6)
    assert np.abs(w).max() > 0.99 * bound
    assert w.std() == pytest.approx(gain / math.sqrt(fan), rel=0.03)
    w = _fill(init.kaiming_normal_, shape, a=a, mode=mode, nonlinearity=nl)
    assert w.std() == pytest.approx(gain / math.sqrt(fan), rel=0.03)
    assert abs(w.mean()) < 0.05 * w.std()
    t = torch.empty(shape)
    torch.nn.init.kaiming_normal_(t, a=a, mode=mode, nonlinearity=nl)
    assert float(t.std()) == pytest.approx(w.std(), rel=0.05)  # same spread as torch


@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_xavier(gain):
    shape = (200, 100)
    w = _fill(init.xavier_uniform_, shape, gain=gain)
    bound = gain * math.sqrt(6.0 / 300)
    assert np.abs(w).max() <= bound * (1 + 1e-6) and np.abs(w).max() > 0.99 * bound
    w = _fill(init.xavier_normal_, shape, dtype=np.float64, gain=gain)
    assert w.std() == pytest.approx(gain * math.sqrt(2.0 / 300), rel=0.03)


@pytest.mark.parametrize("shape", [(5, 5), (3, 7), (7, 3), (4, 2, 3)])
@pytest.mark.parametrize("gain", [1.0, 0.5])
def test_orthogonal(shape, gain):
    w = _fill(init.orthogonal_, shape, dtype=np.float64, gain=gain)
    flat = w.reshape(shape[0], -1)
    if flat.shape[0] <= flat.shape[1]:
        np.testing.assert_allclose(flat @ flat.T, gain**2 * np.eye(flat.shape[0]), atol=1e-12)
    else:
        np.testing.assert_allclose(flat.T @ flat, gain**2 * np.eye(flat.shape[1]), atol=1e-12)
    with pytest.raises(ValueError, match="2 dims"):
        init.orthogonal_(nn.Parameter(np.zeros(3)))


def test_simple_fills_work_on_parameters_and_arrays():
    p = nn.Parameter(np.ones((2, 3), np.float32))
    init.zeros_(p)
    assert not p.data.any()
    init.ones_(p)
    assert (p.data == 1).all()
    init.constant_(p, 0.25)
    assert (p.data == 0.25).all() and p.dtype == np.float32
    arr = np.zeros((3, 4))
    init.uniform_(arr, -2.0, -1.0)
    assert (arr >= -2).all() and (arr < -1).all()
    init.normal_(arr, 5.0, 0.0)
    np.testing.assert_array_equal(arr, 5.0)
    with pytest.raises(TypeError, match="Tensor"):
        init.zeros_([1.0, 2.0])


def test_seeded_init_is_reproducible_and_from_handgrad_rng():
    a = _fill(init.normal_, (4, 4))
    b = _fill(init.normal_, (4, 4))
    np.testing.assert_array_equal(a, b)
    state = np.random.get_state()[1].copy()  # noqa: NPY002 - checking it stays untouched
    _fill(init.uniform_, (10, 10))
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002


def test_default_bias_bound():
    assert init.default_bias_bound(np.zeros((3, 16))) == 0.25
    assert init.default_bias_bound(np.zeros((3, 4, 2, 2))) == 0.25
