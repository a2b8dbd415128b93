"""The reference linear layer against the fast door (1e-12) and PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

from handgrad import ops
from handgrad.ops import reference as ref
from tests.ops.reference.common import (
    assert_all_same,
    assert_close,
    assert_same,
    non_contiguous,
    to_torch,
    torch,
)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("x_shape,out_features", [((4, 3), 5), ((1, 1), 1), ((2, 3, 4), 2),
                                                  ((3,), 4), ((0, 3), 2), ((2, 1, 2, 5), 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_equals_fast_and_torch(x_shape, out_features, bias, dtype, rng):
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal((out_features, x_shape[-1])).astype(dtype)
    b = rng.standard_normal(out_features).astype(dtype) if bias else None
    out, cache = ref.linear_forward(x, w, b)
    dy = rng.standard_normal(out.shape).astype(dtype)
    grads = ref.linear_backward(dy, cache)
    assert out.dtype == dtype and grads[0].dtype == dtype and (grads[2] is None) == (not bias)
    xt, wt = to_torch(x, True), to_torch(w, True)
    bt = None if b is None else to_torch(b, True)
    yt = torch.nn.functional.linear(xt, wt, bt)
    yt.backward(torch.tensor(dy))
    assert_close(out, yt, name="out")
    assert_close(grads[0], xt.grad, name="dx")
    assert_close(grads[1], wt.grad, name="dw")
    if bias:
        assert_close(grads[2], bt.grad, name="db")
    if dtype == np.float64:
        fast_out, fast_cache = ops.linear_forward(x, w, b)
        assert_same(out, fast_out, "out")
        assert_all_same(grads, ops.linear_backward(dy, fast_cache), ["dx", "dw", "db"])


def test_non_contiguous(rng):
    x, w = non_contiguous(rng.standard_normal((3, 4))), rng.standard_normal((4, 5)).T
    out, cache = ref.linear_forward(x, w)
    fast_out, fast_cache = ops.linear_forward(x, w)
    assert_same(out, fast_out, "out")
    dy = rng.standard_normal(out.shape)
    assert_all_same(ref.linear_backward(dy, cache), ops.linear_backward(dy, fast_cache),
                    ["dx", "dw", "db"])


def test_errors_name_the_argument():
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"weight must have shape .* = \(4, 3\), got \(4, 2\)"):
        ref.linear_forward(x, np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"bias must have shape \(out_features,\) = \(4,\)"):
        ref.linear_forward(x, np.zeros((4, 3)), np.zeros(3))
    with pytest.raises(TypeError, match="weight has dtype float32 but input has dtype float64"):
        ref.linear_forward(x, np.zeros((4, 3), np.float32))
    with pytest.raises(ValueError, match="weight must have the layout"):
        ref.linear_forward(x, np.zeros(3))


def test_nan_and_inf_as_in_torch(rng):
    x, w, b = rng.standard_normal((3, 4)), rng.standard_normal((2, 4)), rng.standard_normal(2)
    x[0, 1], x[2, 3] = np.nan, np.inf
    with np.errstate(invalid="ignore"):
        out, cache = ref.linear_forward(x, w, b)
        dy = np.ones_like(out)
        grads = ref.linear_backward(dy, cache)
        fast_out, fast_cache = ops.linear_forward(x, w, b)
        assert_same(out, fast_out, "out")
        assert_all_same(grads, ops.linear_backward(dy, fast_cache), ["dx", "dw", "db"])
    xt, wt = to_torch(x, True), to_torch(w, True)
    torch.nn.functional.linear(xt, wt, to_torch(b)).backward(torch.tensor(dy))
    assert_close(grads[0], xt.grad, name="dx")
    assert_close(grads[1], wt.grad, name="dw")
