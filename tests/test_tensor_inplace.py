"""In-place operations and version counters, as in PyTorch.

A node that saved an array for backward refuses to use it after an in-place write
(RuntimeError naming the op); an in-place write to a leaf that requires grad is refused;
in-place results and their gradients equal PyTorch's.
"""

from __future__ import annotations

import numpy as np
import pytest

import handgrad as hg
from handgrad import nn, optim
from tests.helpers import torch

VERSION_ERROR = "modified by an inplace operation"
LEAF_ERROR = "a leaf Variable that requires grad is being used in an in-place operation"


def _x(values=(1.0, -2.0, 3.0)):
    return hg.tensor(np.array(values), requires_grad=True)


def test_inplace_on_a_leaf_that_requires_grad_is_refused():
    x = _x()
    y = (x * x).sum()
    for op in (lambda: x.zero_(), lambda: x.add_(1.0), lambda: x.fill_(2.0),
               lambda: x.mul_(2.0), lambda: x.__setitem__(0, 1.0)):
        with pytest.raises(RuntimeError, match=LEAF_ERROR):
            op()
    with pytest.raises(RuntimeError, match=LEAF_ERROR):
        x += 1
    y.backward()  # nothing was modified
    np.testing.assert_array_equal(x.grad, [2.0, -4.0, 6.0])


def test_modifying_a_saved_input_under_no_grad_then_backward_raises():
    x = _x()
    y = (x * x).sum()
    with hg.no_grad():
        x.zero_()
    assert x._version == 1
    with pytest.raises(RuntimeError, match=VERSION_ERROR) as err:
        y.backward()
    assert "Mul" in str(err.value) and "version 1; expected version 0" in str(err.value)


def test_modifying_a_saved_output_raises():
    x = _x()
    e = x.exp()
    e.zero_()
    with pytest.raises(RuntimeError, match=VERSION_ERROR) as err:
        e.sum().backward()
    assert "Exp" in str(err.value) and "output 0" in str(err.value)


def test_detach_shares_the_version_counter():
    x = _x()
    e = x.exp()
    d = e.detach()
    d.fill_(0.0)
    assert e._version == 1 and float(e.data.sum()) == 0.0  # the same memory
    with pytest.raises(RuntimeError, match=VERSION_ERROR):
        e.sum().backward()


def test_data_assignment_is_the_escape_hatch():
    x = _x()
    y = (x * x).sum()
    x.data = x.data * 0  # a new array: not counted, and the saved array is untouched
    assert x._version == 0
    y.backward()
    np.testing.assert_array_equal(x.grad, [2.0, -4.0, 6.0])


def test_an_optimizer_step_counts_as_in_place():
    w = nn.Parameter(np.ones(3))
    loss = (w * hg.tensor(np.array([1.0, 2.0, 3.0]))).sum()
    loss.backward(retain_graph=True)
    optim.SGD([w], lr=0.1).step()
    assert w._version == 1
    with pytest.raises(RuntimeError, match=VERSION_ERROR):
        loss.backward()


def test_load_state_dict_counts_as_in_place():
    layer = nn.Linear(2, 2).double()
    out = layer(hg.tensor(np.ones((1, 2)))).sum()
    layer.load_state_dict({k: v * 2 for k, v in layer.state_dict().items()})
    with pytest.raises(RuntimeError, match=VERSION_ERROR):
        out.backward()


def test_ops_that_save_nothing_of_it_still_backward():
    # Add saves nothing: PyTorch lets this backward run (and so do we)
    x = _x()
    y = x + 1
    y.zero_()
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0])


def _torch_pair(values=(1.0, -2.0, 3.0)):
    return _x(values), torch.tensor(values, dtype=torch.float64, requires_grad=True)


INPLACE = {
    "add_": (lambda t, o: t.add_(o), lambda t, o: t.add_(o)),
    "add_alpha": (lambda t, o: t.add_(o, alpha=2.5), lambda t, o: t.add_(o, alpha=2.5)),
    "sub_": (lambda t, o: t.sub_(o), lambda t, o: t.sub_(o)),
    "mul_": (lambda t, o: t.mul_(o), lambda t, o: t.mul_(o)),
    "div_": (lambda t, o: t.div_(o), lambda t, o: t.div_(o)),
    "iadd": (lambda t, o: t.__iadd__(o), lambda t, o: t.__iadd__(o)),
    "isub": (lambda t, o: t.__isub__(o), lambda t, o: t.__isub__(o)),
    "imul": (lambda t, o: t.__imul__(o), lambda t, o: t.__imul__(o)),
    "idiv": (lambda t, o: t.__itruediv__(o), lambda t, o: t.__itruediv__(o)),
    "copy_": (lambda t, o: t.copy_(o), lambda t, o: t.copy_(o)),
    "fill_": (lambda t, o: t.fill_(1.5), lambda t, o: t.fill_(1.5)),
    "zero_": (lambda t, o: t.zero_(), lambda t, o: t.zero_()),
    "clamp_": (lambda t, o: t.clamp_(-1.0, 2.0), lambda t, o: t.clamp_(-1.0, 2.0)),
    "setitem": (lambda t, o: t.__setitem__(slice(0, 2), o[:2]),
                lambda t, o: t.__setitem__(slice(0, 2), o[:2])),
}


@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_values_and_gradients_match_torch(name):
    """y = x * 3 (a non-leaf), then y.op_(other), then backward of sum(y * c): the
    gradients reaching x and other equal PyTorch's (the graph goes through the op)."""
    ours, theirs = INPLACE[name]
    x, tx = _torch_pair()
    o, to = _torch_pair((0.5, 4.0, -1.5))
    c = np.array([1.0, 2.0, -3.0])
    y = x * 3
    ty = tx * 3
    ours(y, o)
    theirs(ty, to)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-12)
    (y * hg.tensor(c)).sum().backward()
    (ty * torch.tensor(c)).sum().backward()
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-12)
    if to.grad is None:
        assert o.grad is None or not np.any(o.grad)
    else:
        np.testing.assert_allclose(o.grad, to.grad.numpy(), rtol=1e-12)


def test_setitem_with_array_index_and_scalar_matches_torch():
    x, tx = _torch_pair((1.0, 2.0, 3.0, 4.0))
    v, tv = _torch_pair((7.0,))
    y, ty = x * 1, tx * 1
    y[np.array([0, 2])] = v
    ty[torch.tensor([0, 2])] = tv
    np.testing.assert_array_equal(y.data, ty.detach().numpy())
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_array_equal(x.grad, tx.grad.numpy())
    np.testing.assert_array_equal(v.grad, tv.grad.numpy())


def test_inplace_on_a_plain_tensor_keeps_its_identity_and_memory():
    t = hg.tensor(np.zeros(3))
    buf = t.data
    t += 1
    t[1] = 5.0
    t.mul_(2.0)
    assert t.data is buf
    np.testing.assert_array_equal(buf, [2.0, 10.0, 2.0])
    assert t._version == 3 and t.grad_fn is None and not t.requires_grad


def test_inplace_refuses_a_result_it_cannot_hold():
    t = hg.tensor(np.zeros((2, 1)))
    with pytest.raises(RuntimeError, match=r"output with shape \[2, 1\] doesn't match the "
                                           r"broadcast shape \[2, 3\]"):
        t.add_(np.ones((2, 3)))
    i = hg.tensor(np.zeros(3, dtype=np.int64))
    with pytest.raises(RuntimeError, match="result type float64 can't be cast"):
        i.add_(0.5)
    with pytest.raises(TypeError, match="fill_: value must be a number"):
        t.fill_("a")


class _SavesAView(hg.Function):
    """z = sum(x^2), saving a reshaped view of x (as many Functions do)."""

    @staticmethod
    def forward(ctx, x):
        flat = x.reshape(-1)
        ctx.save_for_backward(flat)
        ctx.shape = x.shape
        return np.asarray((flat * flat).sum())

    @staticmethod
    def backward(ctx, dz):
        (flat,) = ctx.saved_arrays
        return (2 * dz * flat).reshape(ctx.shape)


def test_a_saved_view_of_an_input_is_watched_too():
    base = hg.tensor(np.ones((2, 2)), requires_grad=True)
    x = base * 1               # a non-leaf whose array the Function saves a view of
    z = _SavesAView.apply(x)
    x.zero_()
    with pytest.raises(RuntimeError, match=VERSION_ERROR):
        z.backward()
