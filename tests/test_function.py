"""The graph engine: Function, apply, the iterative backward, grad modes, freeing."""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest

import handgrad as hg
from handgrad.function import Context, Function
from tests.helpers import assert_close, to_torch, torch


class Cube(Function):
    """y = x^3;  dL/dx = 3 x^2 dy."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved_arrays
        return 3 * x * x * dy


class SplitHalves(Function):
    """Two outputs: the first and second half of x; backward gets one grad per output."""

    @staticmethod
    def forward(ctx, x):
        n = x.shape[0] // 2
        ctx.n = n
        return x[:n].copy(), x[n:].copy()

    @staticmethod
    def backward(ctx, da, db):
        return np.concatenate([da, db])


class ScaleBy(Function):
    """z = x * y with a setting; records which inputs wanted a gradient."""

    seen: list = []

    @staticmethod
    def forward(ctx, x, y, factor=1.0):
        ScaleBy.seen.append(ctx.needs_input_grad)
        ctx.save_for_backward(x, y)
        ctx.factor = factor
        return x * y * factor

    @staticmethod
    def backward(ctx, dz):
        x, y = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        return (dz * y * ctx.factor if need_x else None,
                dz * x * ctx.factor if need_y else None)


def test_custom_function_and_layer_door(rng):
    x = rng.standard_normal(4)
    t = hg.tensor(x, requires_grad=True)
    y = Cube.apply(t)
    assert y.grad_fn is not None and y.grad_fn.name == "Cube" and "CubeBackward" in repr(y)
    y.backward(np.ones(4))
    np.testing.assert_allclose(t.grad, 3 * x ** 2)
    out, cache = Cube.layer_forward(x)
    assert isinstance(cache, Context)
    np.testing.assert_allclose(Cube.layer_backward(np.ones(4), cache), 3 * x ** 2)


def test_settings_and_needs_input_grad():
    ScaleBy.seen.clear()
    a = hg.tensor([1.0, 2.0], requires_grad=True)
    b = hg.tensor([3.0, 4.0])
    z = ScaleBy.apply(a, b, factor=2.0)
    z.sum().backward()
    assert ScaleBy.seen[-1] == (True, False)
    np.testing.assert_allclose(a.grad, [6.0, 8.0])
    assert b.grad is None
    ScaleBy.apply(a, np.array([1.0, 1.0]))  # arrays are constants
    assert ScaleBy.seen[-1] == (True, False)
    with hg.no_grad():
        ScaleBy.apply(a, b)
    assert ScaleBy.seen[-1] == (False, False)


def test_multiple_outputs_unused_one_gets_zeros():
    x = hg.tensor(np.arange(6.0), requires_grad=True)
    first, second = SplitHalves.apply(x)
    assert first.grad_fn is second.grad_fn
    (first * 2).sum().backward()
    np.testing.assert_array_equal(x.grad, [2, 2, 2, 0, 0, 0])
    x.grad = None
    first, second = SplitHalves.apply(x)
    (first.sum() + (second * 3).sum()).backward()
    np.testing.assert_array_equal(x.grad, [1, 1, 1, 3, 3, 3])


def test_deep_graph_100k_nodes_no_recursion_limit():
    """A chain 100,000 ops long: the backward walk is iterative."""
    assert sys.getrecursionlimit() < 100_000
    x = hg.tensor(np.array(0.5), requires_grad=True)
    y = x
    start = time.perf_counter()
    for _ in range(100_000):
        y = y + 0.0
    y.backward()
    assert x.grad == pytest.approx(1.0)
    assert time.perf_counter() - start < 60  # ~3 s on a loaded 2-core machine


def test_gradients_accumulate_across_backward_calls_like_torch(rng):
    a = rng.standard_normal(3)
    x, tx = hg.tensor(a, requires_grad=True), to_torch(a, True)
    for _ in range(2):
        (x * x).sum().backward()
        (tx * tx).sum().backward()
    assert_close(x.grad, tx.grad)
    np.testing.assert_allclose(x.grad, 4 * a)


def test_tensor_used_twice_sums_both_paths(rng):
    a = rng.standard_normal(3)
    x, tx = hg.tensor(a, requires_grad=True), to_torch(a, True)
    h, th = x.tanh(), tx.tanh()
    (h * h + h.exp() - h).sum().backward()
    (th * th + th.exp() - th).sum().backward()
    assert_close(x.grad, tx.grad)


def test_second_backward_on_freed_graph_raises_clearly():
    x = hg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time.*"
                                           "retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = hg.tensor(3.0, requires_grad=True)
    y = x * x * x
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad == pytest.approx(2 * 27.0)
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_shared_subgraph_freed_after_first_loss():
    """Two losses on one hidden state: the second backward needs retain_graph on the first."""
    x = hg.tensor([1.0, 2.0], requires_grad=True)
    h = x.exp()
    l1, l2 = h.sum(), (h * 2).sum()
    l1.backward()
    with pytest.raises(RuntimeError, match="second time"):
        l2.backward()


def test_no_grad_and_set_grad_enabled():
    x = hg.tensor([1.0], requires_grad=True)
    with hg.no_grad():
        y = x * 2
        assert not hg.is_grad_enabled()
        with hg.enable_grad():
            z = x * 2
    assert hg.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad
    with hg.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    with pytest.raises(RuntimeError, match="does not require grad.*no_grad"):
        y.backward()


def test_no_grad_restores_mode_after_an_exception():
    with pytest.raises(ValueError), hg.no_grad():
        raise ValueError
    assert hg.is_grad_enabled()


def test_detach_cuts_the_graph_and_shares_memory():
    x = hg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    d = h.detach()
    assert not d.requires_grad and d.grad_fn is None and d.data is h.data
    (d * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 6.0])  # no path through d


def test_retain_grad_on_intermediate(rng):
    a = rng.standard_normal(3)
    x, tx = hg.tensor(a, requires_grad=True), to_torch(a, True)
    h, th = x.sigmoid(), tx.sigmoid()
    h.retain_grad()
    th.retain_grad()
    (h * h).sum().backward()
    (th * th).sum().backward()
    assert_close(h.grad, th.grad)
    assert_close(x.grad, tx.grad)


def test_backward_arguments():
    x = hg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"one element.*shape \(2,\)"):
        (x * 2).backward()
    with pytest.raises(ValueError, match=r"grad has shape \(3,\) but the tensor has shape \(2,\)"):
        (x * 2).backward(np.ones(3))
    (x * 2).backward(hg.tensor([1.0, 1.0]))  # a Tensor as the seed works too
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])
    leaf = hg.tensor([1.0, 1.0], requires_grad=True)
    leaf.backward(np.array([3.0, 4.0]))  # backward on a leaf: dL/dL = seed
    np.testing.assert_array_equal(leaf.grad, [3.0, 4.0])


def test_seed_gradient_is_cast_to_the_tensor_dtype():
    x = hg.tensor(np.ones(2, np.float32), requires_grad=True)
    (x * 2).backward(np.ones(2, np.float64))
    assert x.grad.dtype == np.float32


def test_grad_is_a_fresh_array_each_time():
    """.grad never aliases an upstream array: editing it cannot corrupt anything else."""
    x = hg.tensor(np.ones(3), requires_grad=True)
    seed = np.ones(3)
    x.backward(seed)
    x.grad[0] = 99
    assert seed[0] == 1


def test_branch_without_gradient_is_skipped():
    x = hg.tensor([1.0], requires_grad=True)
    c = hg.tensor([2.0])
    y = x * 2 + c.exp()
    y.backward(np.ones(1))
    np.testing.assert_array_equal(x.grad, [2.0])
    assert c.grad is None


def test_requires_grad_flags():
    x = hg.tensor([1.0])
    assert not (x * 2).requires_grad
    x.requires_grad_()
    y = x * 2
    assert y.requires_grad and not y.is_leaf
    with pytest.raises(ValueError, match="non-leaf"):
        y.requires_grad_(False)


def test_torch_checks_many_ops_in_one_graph(rng):
    """A small two-layer network with every family of op, against torch."""
    x = rng.standard_normal((5, 4))
    w1 = rng.standard_normal((6, 4))
    w2 = rng.standard_normal((3, 6))
    y = rng.integers(0, 3, 5)

    def net(lib, x, w1, w2):
        F = hg.nn.functional if lib == "hg" else torch.nn.functional
        h = F.relu(F.linear(x, w1))
        h = h.reshape(5, 2, 3).permute(0, 2, 1).reshape(5, 6)
        logits = F.linear(h, w2)
        tgt = y if lib == "hg" else torch.tensor(y)
        return F.cross_entropy(logits, tgt) + (w1 ** 2).sum() * 1e-2

    hs = [hg.tensor(a, requires_grad=True) for a in (x, w1, w2)]
    ts = [to_torch(a, True) for a in (x, w1, w2)]
    out, ref = net("hg", *hs), net("torch", *ts)
    out.backward()
    ref.backward()
    assert_close(out, ref)
    for h, t in zip(hs, ts):
        assert_close(h.grad, t.grad)
