"""Softmax, log-softmax and the losses against PyTorch: values and gradients."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import handgrad as hg
import handgrad.nn.functional as F
from handgrad import ops
from tests.helpers import assert_close, to_torch, torch

TF = torch.nn.functional
DTYPES = [np.float64, np.float32]


def _run(hg_fn, torch_fn, arrays, upstream=None, dtype=np.float64, grad_mask=None, name=""):
    """Apply both, compare outputs and the gradients of every float array input."""
    grad_mask = grad_mask or [a.dtype.kind == "f" for a in arrays]
    hts = [hg.tensor(a, requires_grad=g) for a, g in zip(arrays, grad_mask)]
    tts = [to_torch(a, requires_grad=g) for a, g in zip(arrays, grad_mask)]
    out = hg_fn(*hts)
    ref = torch_fn(*tts)
    assert out.dtype == np.dtype(dtype), f"{name}: dtype {out.dtype}"
    assert_close(out, ref, dtype, name=name + " value")
    if upstream is None:
        upstream = np.random.default_rng(0).standard_normal(out.shape).astype(dtype)
    out.backward(upstream)
    ref.backward(torch.tensor(upstream))
    for k, (h, t, g) in enumerate(zip(hts, tts, grad_mask)):
        if g:
            assert h.grad is not None, f"{name}: no grad for input {k}"
            assert h.grad.dtype == np.dtype(dtype)
            assert_close(h.grad, t.grad, dtype, name=f"{name} grad {k}")
    return out


# -- softmax / log_softmax ------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,dim", [((5,), 0), ((3, 4), 1), ((3, 4), 0), ((3, 4), -1),
                                       ((2, 3, 4), 1), ((2, 1, 3), 1), ((1, 1), -1),
                                       ((2, 3, 4, 5), -2), ((0, 3), 1), ((), 0)])
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_family_matches_torch(fn, shape, dim, dtype, rng):
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    _run(lambda t: getattr(F, fn)(t, dim), lambda t: getattr(TF, fn)(t, dim), [x],
         dtype=dtype, name=f"{fn}{shape} dim={dim}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_is_stable_for_huge_scores(dtype):
    x = np.array([[1000.0, 0.0, -1000.0], [-1e4, -1e4, -1e4]], dtype=dtype)
    for fn in ("softmax", "log_softmax"):
        out = _run(lambda t, fn=fn: getattr(F, fn)(t, 1), lambda t, fn=fn: getattr(TF, fn)(t, 1),
                   [x], dtype=dtype, name=fn)
        assert np.isfinite(out.data).all() or fn == "log_softmax"


def test_softmax_tensor_methods_and_modules(rng):
    x = rng.standard_normal((3, 4))
    assert_close(hg.tensor(x).softmax(1), TF.softmax(torch.tensor(x), 1))
    assert_close(hg.tensor(x).log_softmax(0), TF.log_softmax(torch.tensor(x), 0))
    assert_close(hg.nn.Softmax(dim=1)(hg.tensor(x)), torch.nn.Softmax(dim=1)(torch.tensor(x)))
    assert_close(hg.nn.LogSoftmax(dim=-1)(hg.tensor(x)),
                 torch.nn.LogSoftmax(dim=-1)(torch.tensor(x)))


def test_softmax_implicit_dim_warns_like_torch(rng):
    x = rng.standard_normal((3, 4))
    with pytest.warns(UserWarning, match="implicit dim"):
        out = F.softmax(hg.tensor(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = TF.softmax(torch.tensor(x))
    assert_close(out, ref)


def test_softmax_dtype_argument_and_errors(rng):
    x = rng.standard_normal((2, 3)).astype(np.float32)
    out = F.softmax(hg.tensor(x), 1, dtype=np.float64)
    assert out.dtype == np.float64
    with pytest.raises(IndexError, match=r"Dimension out of range.*but got 2"):
        F.softmax(hg.tensor(x), 2)
    with pytest.raises(TypeError, match="floating-point"):
        F.softmax(hg.tensor([1, 2, 3]), 0)


def test_softmax_layer_door(rng):
    x = rng.standard_normal((4, 5))
    dout = rng.standard_normal((4, 5))
    out, cache = ops.softmax_forward(x, dim=1)
    dx = ops.softmax_backward(dout, cache)
    xt = to_torch(x, True)
    yt = TF.softmax(xt, 1)
    yt.backward(torch.tensor(dout))
    assert_close(out, yt)
    assert_close(dx, xt.grad)
    out, cache = ops.log_softmax_forward(x, dim=0)
    dx = ops.log_softmax_backward(dout, cache)
    xt = to_torch(x, True)
    yt = TF.log_softmax(xt, 0)
    yt.backward(torch.tensor(dout))
    assert_close(out, yt)
    assert_close(dx, xt.grad)


# -- cross_entropy ------------------------------------------------------------------------------

CE_SHAPES = [(4, 3), (1, 1), (1, 5), (6, 2), (2, 3, 4), (2, 4, 3, 2), (5,), (0, 3)]


def _targets(rng, shape, n_ignore=0, ignore_index=-100):
    c = shape[0] if len(shape) == 1 else shape[1]
    tshape = () if len(shape) == 1 else shape[:1] + shape[2:]
    t = rng.integers(0, c, size=tshape)
    if n_ignore and t.size:
        flat = t.reshape(-1)
        flat[: min(n_ignore, flat.size - 1)] = ignore_index
    return t


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", CE_SHAPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_matches_torch(shape, reduction, dtype, rng):
    if shape[0] == 0 and reduction == "mean":
        pytest.skip("nan mean covered separately")
    x = (rng.standard_normal(shape) * 2).astype(dtype)
    t = _targets(rng, shape)
    _run(lambda a, b: F.cross_entropy(a, b, reduction=reduction),
         lambda a, b: TF.cross_entropy(a, b, reduction=reduction), [x, t], dtype=dtype,
         name=f"ce{shape}{reduction}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5), (4,)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("use_weight", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.1, 1.0])
@pytest.mark.parametrize("ignore", [0, 2])
def test_cross_entropy_options_match_torch(shape, reduction, use_weight, smoothing, ignore,
                                           dtype, rng):
    x = (rng.standard_normal(shape) * 2).astype(dtype)
    c = shape[0] if len(shape) == 1 else shape[1]
    ignore_index = 1 if len(shape) > 1 and ignore == 0 else -100
    t = _targets(rng, shape, n_ignore=ignore, ignore_index=-7)
    t = np.where(t == -7, ignore_index if ignore_index != -100 else -100, t)
    w = rng.uniform(0.2, 2.0, c).astype(dtype) if use_weight else None
    kw = dict(ignore_index=ignore_index, reduction=reduction, label_smoothing=smoothing)
    _run(lambda a, b: F.cross_entropy(a, b, weight=w, **kw),
         lambda a, b: TF.cross_entropy(a, b, weight=None if w is None else torch.tensor(w),
                                       **kw), [x, t], dtype=dtype,
         name=f"ce{shape} {kw} w={use_weight}")


@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_all_ignored_mean_is_nan_with_zero_gradient_like_torch(fn, smoothing):
    x = np.ones((2, 3))
    t = np.array([-100, -100])
    kw = {"label_smoothing": smoothing} if fn == "cross_entropy" else {}
    if smoothing and fn == "nll_loss":
        pytest.skip("nll has no smoothing")
    h, r = hg.tensor(x, requires_grad=True), to_torch(x, True)
    out = getattr(F, fn)(h, t, **kw)
    ref = getattr(TF, fn)(r, torch.tensor(t), **kw)
    assert np.isnan(out.item()) and torch.isnan(ref)
    out.backward()
    ref.backward()
    assert_close(h.grad, r.grad)


def test_cross_entropy_empty_batch_mean_is_nan():
    out = F.cross_entropy(hg.tensor(np.zeros((0, 3))), np.zeros(0, np.int64))
    assert np.isnan(out.item())


@given(n=st.integers(1, 6), c=st.integers(1, 6), scale=st.floats(0.1, 50.0))
@settings(max_examples=25, deadline=None)
def test_cross_entropy_hypothesis(n, c, scale):
    rng = np.random.default_rng(n * 100 + c)
    x = rng.standard_normal((n, c)) * scale
    t = rng.integers(0, c, n)
    _run(lambda a, b: F.cross_entropy(a, b), lambda a, b: TF.cross_entropy(a, b), [x, t],
         upstream=np.array(1.0), name="ce hyp")


def test_cross_entropy_huge_logits_stay_finite():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 3.0]], dtype=np.float32)
    t = np.array([1, 1])
    out = _run(lambda a, b: F.cross_entropy(a, b), lambda a, b: TF.cross_entropy(a, b),
               [x, t], dtype=np.float32, upstream=np.array(1.0, np.float32))
    assert np.isfinite(out.item())


def test_cross_entropy_gradient_is_softmax_minus_onehot_over_n(rng):
    x = rng.standard_normal((5, 4))
    y = rng.integers(0, 4, 5)
    loss, dx = ops.softmax_loss(x, y)
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    expected = p.copy()
    expected[np.arange(5), y] -= 1
    np.testing.assert_allclose(dx, expected / 5, rtol=1e-12)
    np.testing.assert_allclose(loss, -np.log(p[np.arange(5), y]).mean(), rtol=1e-12)
    out, cache = ops.softmax_cross_entropy_forward(x, y, reduction="sum")
    np.testing.assert_allclose(ops.softmax_cross_entropy_backward(2.0, cache), 2 * expected,
                               rtol=1e-12)


def test_cross_entropy_backward_does_not_touch_upstream(rng):
    x = hg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    loss = F.cross_entropy(x, np.array([0, 1, 2]), reduction="none")
    g = np.ones(3)
    g.setflags(write=False)
    loss.backward(g)
    assert x.grad is not None


def test_cross_entropy_target_as_tensor(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    out = F.cross_entropy(hg.tensor(x), hg.tensor(np.array([0, 3, 1])))
    assert_close(out, TF.cross_entropy(torch.tensor(x), torch.tensor([0, 3, 1])))


def test_cross_entropy_errors():
    x = hg.tensor(np.zeros((4, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"target has shape \(3,\) but input has shape \(4, 3\)"):
        F.cross_entropy(x, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"target value 3 is out of range.*\[0, 3\)"):
        F.cross_entropy(x, np.array([0, 1, 3, 0]))
    with pytest.raises(ValueError, match=r"target value -1 is out of range"):
        F.cross_entropy(x, np.array([0, -1, 2, 0]))
    with pytest.raises(TypeError, match="integers.*float64.*astype"):
        F.cross_entropy(x, np.array([0.0, 1.0, 2.0, 0.0]))
    with pytest.raises(TypeError, match="class probabilities.*argmax"):
        F.cross_entropy(x, np.zeros((4, 3)))
    with pytest.raises(TypeError, match="floating-point.*int64"):
        F.cross_entropy(hg.tensor(np.zeros((4, 3), np.int64)), np.array([0, 1, 2, 0]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(x, np.array([0, 1, 2, 0]), reduction="avg")
    with pytest.raises(ValueError, match=r"weight must have shape \(C,\) = \(3,\)"):
        F.cross_entropy(x, np.array([0, 1, 2, 0]), weight=np.ones(4))
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, np.array([0, 1, 2, 0]), label_smoothing=1.5)


# -- nll_loss -----------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 4), (5,), (1, 1)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("use_weight", [False, True])
def test_nll_loss_matches_torch(shape, reduction, use_weight, dtype, rng):
    x = rng.standard_normal(shape).astype(dtype)
    c = shape[0] if len(shape) == 1 else shape[1]
    t = _targets(rng, shape)
    ignore_index = 0 if t.size > 1 else -100
    w = rng.uniform(0.5, 2.0, c).astype(dtype) if use_weight else None
    _run(lambda a, b: F.nll_loss(a, b, weight=w, reduction=reduction, ignore_index=ignore_index),
         lambda a, b: TF.nll_loss(a, b, weight=None if w is None else torch.tensor(w),
                                  reduction=reduction, ignore_index=ignore_index),
         [x, t], dtype=dtype, name=f"nll{shape}")


def test_log_softmax_then_nll_equals_cross_entropy(rng):
    x = rng.standard_normal((5, 4))
    t = rng.integers(0, 4, 5)
    a = hg.tensor(x, requires_grad=True)
    F.nll_loss(F.log_softmax(a, 1), t).backward()
    b = hg.tensor(x, requires_grad=True)
    F.cross_entropy(b, t).backward()
    np.testing.assert_allclose(a.grad, b.grad, rtol=1e-12, atol=1e-15)


def test_nll_errors():
    with pytest.raises(ValueError, match="out of range"):
        F.nll_loss(hg.tensor(np.zeros((2, 3))), np.array([0, 5]))
    with pytest.raises(ValueError, match="shape"):
        F.nll_loss(hg.tensor(np.zeros((2, 3))), np.array([[0, 1]]))


# -- mse, l1 ------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (1,), (5,), (3, 4), (2, 3, 4), (0,)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("fn", ["mse_loss", "l1_loss"])
def test_regression_losses_match_torch(fn, shape, reduction, dtype, rng):
    if shape == (0,) and reduction == "mean":
        pytest.skip("nan mean covered separately")
    x = rng.standard_normal(shape).astype(dtype)
    y = rng.standard_normal(shape).astype(dtype)
    _run(lambda a, b: getattr(F, fn)(a, b, reduction=reduction),
         lambda a, b: getattr(TF, fn)(a, b, reduction=reduction), [x, y], dtype=dtype,
         name=f"{fn}{shape}")


def test_mse_constant_target_and_float32_stays(rng):
    x = hg.tensor(rng.standard_normal(4).astype(np.float32), requires_grad=True)
    loss = F.mse_loss(x, np.zeros(4, np.float32))
    loss.backward()
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad, x.data / 2, rtol=1e-6)


def test_mse_empty_mean_is_nan():
    out = F.mse_loss(hg.tensor(np.zeros(0)), np.zeros(0))
    assert np.isnan(out.item())


def test_mse_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match=r"input has shape \(4, 1\) but target has shape \(4,\)"):
        F.mse_loss(hg.tensor(np.zeros((4, 1))), np.zeros(4))


def test_mse_layer_door(rng):
    x, y = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    out, cache = ops.mse_forward(x, y)
    dx, dy = ops.mse_backward(1.0, cache)
    np.testing.assert_allclose(out, ((x - y) ** 2).mean())
    np.testing.assert_allclose(dx, 2 * (x - y) / 6)
    np.testing.assert_allclose(dy, -dx)


# -- binary cross-entropy with logits ---------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (5,), (4, 3), (2, 3, 2)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("extras", ["none", "weight", "pos_weight", "both"])
def test_bce_with_logits_matches_torch(shape, reduction, extras, dtype, rng):
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    y = rng.uniform(0, 1, shape).astype(dtype)
    last = shape[-1] if shape else 1
    w = rng.uniform(0.5, 2, shape).astype(dtype) if extras in ("weight", "both") else None
    q = rng.uniform(0.5, 3, (last,)).astype(dtype) if extras in ("pos_weight", "both") else None
    if not shape and q is not None:
        q = q.reshape(())
    tw = None if w is None else torch.tensor(w)
    tq = None if q is None else torch.tensor(q)
    _run(lambda a, b: F.binary_cross_entropy_with_logits(a, b, weight=w, pos_weight=q,
                                                         reduction=reduction),
         lambda a, b: TF.binary_cross_entropy_with_logits(a, b, weight=tw, pos_weight=tq,
                                                          reduction=reduction),
         [x, y], dtype=dtype, name=f"bce{shape}{extras}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_with_logits_is_stable(dtype):
    x = np.array([1000.0, -1000.0, 50.0, -50.0, 0.0], dtype=dtype)
    y = np.array([0.0, 1.0, 1.0, 0.0, 1.0], dtype=dtype)
    out = _run(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction="none"),
               lambda a, b: TF.binary_cross_entropy_with_logits(a, b, reduction="none"),
               [x, y], dtype=dtype)
    assert np.isfinite(out.data).all()


def test_bce_errors():
    with pytest.raises(ValueError, match=r"target has shape \(3,\) but input has shape \(3, 1\)"):
        F.binary_cross_entropy_with_logits(hg.tensor(np.zeros((3, 1))), np.zeros(3))
    with pytest.raises(ValueError, match="pos_weight of shape"):
        F.binary_cross_entropy_with_logits(hg.tensor(np.zeros((3, 2))), np.zeros((3, 2)),
                                           pos_weight=np.ones(3))


@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_ignored_row_with_inf_never_touches_the_loss(fn, reduction, smoothing):
    """PyTorch skips ignored rows: an inf or NaN there leaves the loss (and the other
    rows' gradients) finite; the ignored row's own gradient is PyTorch's too."""
    if fn == "nll_loss" and smoothing:
        pytest.skip("nll has no smoothing")
    import torch

    x = np.array([[1.0, 2.0, 3.0], [np.inf, 0.0, np.nan], [0.5, 0.1, 0.2]])
    if fn == "nll_loss":
        x = np.array([[-1.0, -2.0, -0.5], [-np.inf, np.nan, -1.0], [-0.3, -0.1, -2.0]])
    y = np.array([0, -100, 2])
    kw = {"label_smoothing": smoothing} if smoothing else {}
    a = hg.tensor(x, requires_grad=True)
    loss = getattr(hg.nn.functional, fn)(a, y, reduction=reduction, **kw)
    (loss.sum() if reduction == "none" else loss).backward()
    t = torch.tensor(x, requires_grad=True)
    lt = getattr(torch.nn.functional, fn)(t, torch.tensor(y), reduction=reduction, **kw)
    (lt.sum() if reduction == "none" else lt).backward()
    np.testing.assert_allclose(loss.data, lt.detach().numpy(), rtol=1e-12)
    assert np.isfinite(loss.data).all()
    np.testing.assert_allclose(a.grad, t.grad.numpy(), rtol=1e-12, equal_nan=True)
