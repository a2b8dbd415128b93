"""Layers against torch.nn: values and gradients, float32 and float64."""

from __future__ import annotations

import math

import numpy as np
import pytest

import handgrad as hg
from handgrad import nn
from tests.helpers import assert_close, to_torch, torch

DTYPES = [(np.float64, torch.float64), (np.float32, torch.float32)]
DT_IDS = ["f64", "f32"]


def _copy_linear(ours, theirs_cls=torch.nn.Linear):
    theirs = theirs_cls(ours.in_features, ours.out_features, bias=ours.bias is not None)
    theirs = theirs.to(torch.from_numpy(ours.weight.data).dtype)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    return theirs


@pytest.mark.parametrize("dtype,tdtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("in_f,out_f,x_shape", [
    (4, 3, (5, 4)), (1, 1, (1, 1)), (7, 2, (1, 7)), (3, 6, (3,)), (5, 4, (2, 3, 5)),
    (2, 9, (4, 1, 2, 2)), (16, 1, (8, 16)),
])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_values_and_gradients_match_torch(dtype, tdtype, in_f, out_f, x_shape, bias):
    hg.manual_seed(in_f * 10 + out_f)
    ours = nn.Linear(in_f, out_f, bias=bias, dtype=dtype)
    theirs = _copy_linear(ours)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(dtype)
    dout = rng.standard_normal(x_shape[:-1] + (out_f,)).astype(dtype)
    xh = hg.tensor(x, requires_grad=True)
    xt = to_torch(x, requires_grad=True)
    out_h, out_t = ours(xh), theirs(xt)
    assert out_h.dtype == dtype
    assert_close(out_h.data, out_t, dtype, name="out")
    out_h.backward(dout)
    out_t.backward(torch.tensor(dout))
    assert_close(xh.grad, xt.grad, dtype, name="dx")
    assert_close(ours.weight.grad, theirs.weight.grad, dtype, name="dW")
    assert ours.weight.grad.dtype == dtype
    if bias:
        assert_close(ours.bias.grad, theirs.bias.grad, dtype, name="db")
    else:
        assert ours.bias is None and "bias" not in ours.state_dict()


@pytest.mark.parametrize("in_f,out_f", [(1, 3), (4, 5), (100, 20), (784, 10)])
def test_linear_default_init_bounds_and_spread(in_f, out_f):
    """W, b ~ U(-1/sqrt(in), 1/sqrt(in)) as torch: inside the bound, filling it."""
    hg.manual_seed(0)
    layer = nn.Linear(in_f, out_f)
    bound = 1.0 / math.sqrt(in_f)
    w, b = layer.weight.data, layer.bias.data
    assert w.shape == (out_f, in_f) and b.shape == (out_f,)
    assert w.dtype == np.float32 and b.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    if w.size >= 1000:  # a uniform on [-a, a] has std a / sqrt(3) and fills the range
        assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.05)
        assert np.abs(w).max() > 0.98 * bound
        assert abs(w.mean()) < 0.05 * bound
    torch_layer = torch.nn.Linear(in_f, out_f)
    assert float(torch_layer.weight.detach().abs().max()) <= bound  # the same rule in torch
    hg.manual_seed(0)
    again = nn.Linear(in_f, out_f)
    np.testing.assert_array_equal(again.weight.data, w)  # seeded: reproducible


def test_linear_float64_and_default_dtype():
    assert nn.Linear(2, 3).weight.dtype == np.float32
    assert nn.Linear(2, 3, dtype=np.float64).bias.dtype == np.float64


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "3"])
def test_linear_rejects_bad_sizes(bad):
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(bad, 2)
    with pytest.raises(ValueError, match="out_features"):
        nn.Linear(2, bad)


def test_linear_wrong_input_width_is_a_clear_error():
    with pytest.raises(ValueError, match="4"):
        nn.Linear(4, 2)(hg.tensor(np.ones((3, 5), np.float32)))


@pytest.mark.parametrize("dtype,tdtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("name,kwargs", [("ReLU", {}), ("Tanh", {}), ("Sigmoid", {}),
                                         ("LeakyReLU", {}), ("LeakyReLU",
                                                             {"negative_slope": 0.2}),
                                         ("Identity", {})])
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 1, 3)])
def test_activations_match_torch(dtype, tdtype, name, kwargs, shape):
    rng = np.random.default_rng(3)
    x = (3 * rng.standard_normal(shape)).astype(dtype)
    dout = rng.standard_normal(shape).astype(dtype)
    xh, xt = hg.tensor(x, requires_grad=True), to_torch(x, requires_grad=True)
    out_h, out_t = getattr(nn, name)(**kwargs)(xh), getattr(torch.nn, name)(**kwargs)(xt)
    assert out_h.dtype == dtype
    assert_close(out_h.data, out_t, dtype)
    out_h.backward(dout)
    out_t.backward(torch.tensor(dout))
    assert_close(xh.grad, xt.grad, dtype)


def test_inplace_flag_accepted_and_input_untouched():
    x = np.array([-1.0, 2.0], np.float32)
    out = nn.ReLU(inplace=True)(hg.tensor(x))
    np.testing.assert_array_equal(out.data, [0.0, 2.0])
    np.testing.assert_array_equal(x, [-1.0, 2.0])


class TestDropout:
    def test_eval_is_identity_with_gradient_one(self):
        drop = nn.Dropout(0.5).eval()
        x = hg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
        out = drop(x)
        np.testing.assert_array_equal(out.data, x.data)
        out.sum().backward()
        np.testing.assert_array_equal(x.grad, np.ones((2, 3)))

    @pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_train_drops_fraction_p_and_scales_the_rest(self, p, dtype):
        hg.manual_seed(1)
        drop = nn.Dropout(p)
        x = np.full((200, 100), 2.0, dtype)
        xh = hg.tensor(x, requires_grad=True)
        out = drop(xh)
        assert out.dtype == dtype
        kept = out.data != 0
        assert kept.mean() == pytest.approx(1 - p, abs=0.02)
        np.testing.assert_allclose(out.data[kept], 2.0 / (1 - p), rtol=1e-6)
        assert out.data.mean() == pytest.approx(2.0, rel=0.05)  # E[out] = x
        dout = np.random.default_rng(0).standard_normal(x.shape).astype(dtype)
        out.backward(dout)
        # the gradient uses the same mask and scale as the forward pass
        np.testing.assert_allclose(xh.grad, np.where(kept, dout / (1 - p), 0.0), rtol=1e-6)

    def test_p_zero_and_one_and_fresh_masks(self):
        x = hg.tensor(np.ones((4, 5), np.float32))
        np.testing.assert_array_equal(nn.Dropout(0.0)(x).data, x.data)
        np.testing.assert_array_equal(nn.Dropout(1.0)(x).data, np.zeros((4, 5)))
        hg.manual_seed(0)
        drop = nn.Dropout(0.5)
        a, b = drop(x).data, drop(x).data
        assert not np.array_equal(a, b)  # a new mask each call
        hg.manual_seed(0)
        np.testing.assert_array_equal(drop(x).data, a)  # reproducible from the seed

    def test_follows_model_mode(self):
        model = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.9))
        x = hg.tensor(np.ones((50, 3), np.float32))
        model.eval()
        np.testing.assert_array_equal(model(x).data, model[0](x).data)
        model.train()
        assert (model(x).data == 0).mean() > 0.5

    @pytest.mark.parametrize("p", [-0.1, 1.5])
    def test_bad_p(self, p):
        with pytest.raises(ValueError, match="p must be"):
            nn.Dropout(p)
        with pytest.raises(TypeError, match="p must be"):
            nn.Dropout("0.5")


@pytest.mark.parametrize("dtype,tdtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("shape,start,end", [((2, 3, 4), 1, -1), ((2, 3, 4, 5), 1, -1),
                                             ((2, 3, 4, 5), 0, -1), ((2, 3, 4, 5), 2, 3),
                                             ((2, 3, 4, 5), 1, 2), ((1, 1), 1, -1),
                                             ((2, 3, 4), -2, -1)])
def test_flatten_matches_torch(dtype, tdtype, shape, start, end):
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    xh, xt = hg.tensor(x, requires_grad=True), to_torch(x, requires_grad=True)
    out_h = nn.Flatten(start, end)(xh)
    out_t = torch.nn.Flatten(start, end)(xt)
    assert out_h.shape == tuple(out_t.shape)
    assert_close(out_h.data, out_t, dtype)
    dout = np.random.default_rng(1).standard_normal(out_h.shape).astype(dtype)
    out_h.backward(dout)
    out_t.backward(torch.tensor(dout))
    assert_close(xh.grad, xt.grad, dtype)


@pytest.mark.parametrize("dtype,tdtype", DTYPES, ids=DT_IDS)
def test_sequential_mlp_forward_backward_matches_torch(dtype, tdtype):
    hg.manual_seed(3)
    ours = nn.Sequential(nn.Flatten(), nn.Linear(12, 10, dtype=dtype), nn.ReLU(),
                         nn.Linear(10, 6, dtype=dtype), nn.Sigmoid(),
                         nn.Linear(6, 2, dtype=dtype))
    theirs = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 10), torch.nn.ReLU(),
                                 torch.nn.Linear(10, 6), torch.nn.Sigmoid(),
                                 torch.nn.Linear(6, 2)).to(tdtype)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 3, 4)).astype(dtype)
    xh, xt = hg.tensor(x, requires_grad=True), to_torch(x, requires_grad=True)
    (ours(xh) ** 2).sum().backward()
    (theirs(xt) ** 2).sum().backward()
    assert_close(xh.grad, xt.grad, dtype, name="dx")
    for (name, p), (_, t) in zip(ours.named_parameters(), theirs.named_parameters(),
                                 strict=True):
        assert_close(p.grad, t.grad, dtype, name=name)


def test_sequential_and_module_list_containers():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    seq.append(nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear)
    assert [type(m).__name__ for m in seq] == ["Linear", "ReLU", "Linear"]
    head = seq[1:]
    assert isinstance(head, nn.Sequential) and list(head.state_dict()) == ["2.weight",
                                                                           "2.bias"]
    with pytest.raises(TypeError, match="Module"):
        nn.Sequential(nn.ReLU(), lambda x: x)
    with pytest.raises(TypeError, match="Module"):
        seq.append(3)
    ml = nn.ModuleList([nn.Linear(1, 1)])
    ml.extend([nn.Linear(1, 2), nn.Tanh()])
    assert [n for n, _ in ml.named_parameters()] == ["0.weight", "0.bias", "1.weight",
                                                      "1.bias"]
    assert len(ml[1:]) == 2
    tml = torch.nn.ModuleList([torch.nn.Linear(1, 1), torch.nn.Linear(1, 2), torch.nn.Tanh()])
    assert list(ml.state_dict()) == list(tml.state_dict())
