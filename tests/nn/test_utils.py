"""Gradient clipping and parameter vectors against torch.nn.utils."""

from __future__ import annotations

import math

import numpy as np
import pytest

import handgrad as hg
from handgrad.nn import Parameter
from handgrad.nn import utils as hg_utils
from tests.helpers import assert_close, torch

SHAPE_SETS = [[(3, 4), (5,)], [(1,)], [(2, 3, 4), (1, 1), (7,)]]


def _pair(rng, shapes, dtype, scale=1.0, with_none=False):
    hg_params, th_params = [], []
    for i, s in enumerate(shapes):
        g = (scale * rng.standard_normal(s)).astype(dtype)
        p = Parameter(np.zeros(s, dtype))
        t = torch.zeros(s, dtype=torch.from_numpy(g).dtype, requires_grad=True)
        if not (with_none and i == 0 and len(shapes) > 1):
            p.grad, t.grad = g.copy(), torch.tensor(g.copy())
        hg_params.append(p)
        th_params.append(t)
    return hg_params, th_params


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, 0.5, math.inf, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
@pytest.mark.parametrize("shapes", SHAPE_SETS, ids=["two", "one", "three"])
@pytest.mark.parametrize("with_none", [False, True])
def test_clip_grad_norm_matches_torch(dtype, norm_type, max_norm, shapes, with_none):
    rng = np.random.default_rng(0)
    hg_params, th_params = _pair(rng, shapes, dtype, with_none=with_none)
    ours = hg_utils.clip_grad_norm_(hg_params, max_norm, norm_type)
    theirs = torch.nn.utils.clip_grad_norm_(th_params, max_norm, norm_type)
    assert np.asarray(ours).dtype == dtype
    assert_close(np.asarray(ours), theirs, dtype, name="total norm")
    for p, t in zip(hg_params, th_params, strict=True):
        if t.grad is None:
            assert p.grad is None
        else:
            assert p.grad.dtype == dtype
            assert_close(p.grad, t.grad, dtype, name="clipped grad")


def test_clip_grad_norm_scales_to_max_norm_and_keeps_direction():
    p = Parameter(np.zeros(2))
    p.grad = np.array([3.0, 4.0])
    total = hg_utils.clip_grad_norm_([p], 1.0)
    assert float(total) == 5.0
    np.testing.assert_allclose(p.grad, np.array([0.6, 0.8]) * 5.0 / (5.0 + 1e-6))
    p.grad = np.array([0.3, 0.4])  # already small: unchanged
    hg_utils.clip_grad_norm_(p, 1.0)
    np.testing.assert_allclose(p.grad, [0.3, 0.4])


def test_clip_grad_norm_nonfinite():
    p = Parameter(np.zeros(2))
    p.grad = np.array([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="non|inf"):
        hg_utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    t = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    t.grad = torch.tensor([np.inf, 1.0], dtype=torch.float64)
    ours = hg_utils.clip_grad_norm_([p], 1.0)
    theirs = torch.nn.utils.clip_grad_norm_([t], 1.0)
    assert math.isinf(float(ours)) and math.isinf(theirs.item())
    np.testing.assert_array_equal(np.isnan(p.grad), torch.isnan(t.grad).numpy())


def test_clip_grad_norm_no_grads_and_after_backward():
    p = Parameter(np.ones(3, np.float32))
    assert float(hg_utils.clip_grad_norm_([p], 1.0)) == 0.0
    loss = (hg.tensor(np.full(3, 10.0, np.float32)) * p).sum()
    loss.backward()
    total = hg_utils.clip_grad_norm_(p, 2.0)
    assert float(total) == pytest.approx(math.sqrt(300), rel=1e-6)
    assert float(np.linalg.norm(p.grad)) == pytest.approx(2.0, rel=1e-5)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("clip_value", [0.0, 0.3, 10.0])
def test_clip_grad_value_matches_torch(dtype, clip_value):
    rng = np.random.default_rng(1)
    hg_params, th_params = _pair(rng, SHAPE_SETS[2], dtype, with_none=True)
    assert hg_utils.clip_grad_value_(hg_params, clip_value) is None
    torch.nn.utils.clip_grad_value_(th_params, clip_value)
    for p, t in zip(hg_params, th_params, strict=True):
        if t.grad is not None:
            assert p.grad.dtype == dtype
            np.testing.assert_array_equal(p.grad, t.grad.numpy())
    with pytest.raises(ValueError, match="clip_value"):
        hg_utils.clip_grad_value_(hg_params, -1.0)


def test_parameters_to_vector_and_back():
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal(s) for s in [(2, 3), (4,), (1, 1)]]
    params = [Parameter(a.copy()) for a in arrays]
    vec = hg_utils.parameters_to_vector(params)
    expected = torch.nn.utils.parameters_to_vector([torch.tensor(a) for a in arrays])
    assert_close(vec, expected)
    hg_utils.vector_to_parameters(vec * 2, params)
    for p, a in zip(params, arrays, strict=True):
        np.testing.assert_allclose(p.data, 2 * a)
    with pytest.raises(ValueError, match="11 elements"):
        hg_utils.vector_to_parameters(np.zeros(5), params)


def test_bad_parameters_argument():
    with pytest.raises(TypeError, match="parameters\\[0\\]"):
        hg_utils.clip_grad_norm_([np.zeros(3)], 1.0)
    with pytest.raises(ValueError, match="norm_type"):
        hg_utils.clip_grad_norm_([Parameter(np.zeros(1))], 1.0, norm_type="fro")


def test_exposed_as_handgrad_nn_utils():
    assert hg.nn.utils.clip_grad_norm_ is hg_utils.clip_grad_norm_
