"""Module, Parameter, state dicts (both ways with torch.nn), modes, dtypes."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import handgrad as hg
from handgrad import nn
from handgrad.nn.module import IncompatibleKeys
from tests.helpers import assert_close, torch


def _hg_mlp(dtype=np.float32):
    hg.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8, dtype=dtype), nn.ReLU(), nn.Dropout(0.3),
                         nn.Linear(8, 8, dtype=dtype), nn.Tanh(),
                         nn.Linear(8, 3, bias=False, dtype=dtype))


def _th_mlp(dtype=torch.float32):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Dropout(0.3),
                               torch.nn.Linear(8, 8), torch.nn.Tanh(),
                               torch.nn.Linear(8, 3, bias=False)).to(dtype)


class HgNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Flatten(), nn.Linear(6, 5), nn.Sigmoid())
        self.head = nn.Linear(5, 2)
        self.extra = nn.Parameter(np.zeros(2, np.float32))

    def forward(self, x):
        return self.head(self.features(x)) + self.extra


class ThNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(6, 5),
                                            torch.nn.Sigmoid())
        self.head = torch.nn.Linear(5, 2)
        self.extra = torch.nn.Parameter(torch.zeros(2))

    def forward(self, x):
        return self.head(self.features(x)) + self.extra


@pytest.mark.parametrize("pair", [(_hg_mlp, _th_mlp), (HgNet, ThNet)], ids=["mlp", "nested"])
def test_named_parameters_and_state_dict_keys_equal_torch(pair):
    ours, theirs = pair[0](), pair[1]()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for (_, p), (_, t) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        assert p.shape == tuple(t.shape)
    assert len(list(ours.parameters())) == len(list(theirs.parameters()))
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]


@pytest.mark.parametrize("dtype,tdtype", [(np.float32, torch.float32),
                                          (np.float64, torch.float64)], ids=["f32", "f64"])
def test_state_dict_into_torch_and_back_same_outputs(dtype, tdtype):
    ours, theirs = _hg_mlp(dtype), _th_mlp(tdtype)
    ours.eval()
    theirs.eval()
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()},
                           strict=True)
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(dtype)
    assert_close(ours(hg.tensor(x)).data, theirs(torch.tensor(x)), dtype)
    # the reverse: fresh torch weights into handgrad (torch tensors are accepted as is)
    torch.manual_seed(5)
    theirs2 = _th_mlp(tdtype)
    torch.nn.init.normal_(theirs2[0].weight)
    result = ours.load_state_dict(theirs2.state_dict())
    assert isinstance(result, IncompatibleKeys)
    assert result.missing_keys == [] and result.unexpected_keys == []
    theirs2.eval()
    out = ours(hg.tensor(x))
    assert out.dtype == dtype
    assert_close(out.data, theirs2(torch.tensor(x)), dtype)
    # and gradients agree after the load
    xt = torch.tensor(x)
    theirs2(xt).sum().backward()
    ours.zero_grad()
    ours(hg.tensor(x)).sum().backward()
    for (name, p), (_, t) in zip(ours.named_parameters(), theirs2.named_parameters(),
                                 strict=True):
        assert_close(p.grad, t.grad, dtype, name=name)


def test_load_state_dict_keeps_model_dtype_and_copies():
    ours = _hg_mlp(np.float32)
    sd = {k: v.astype(np.float64) for k, v in ours.state_dict().items()}
    sd["0.weight"][...] = 1.5
    ours.load_state_dict(sd)
    assert ours[0].weight.dtype == np.float32
    np.testing.assert_array_equal(ours[0].weight.data, 1.5)
    sd["0.weight"][...] = 2.0  # no aliasing with the dict loaded from
    np.testing.assert_array_equal(ours[0].weight.data, 1.5)
    saved = ours.state_dict()
    saved["0.weight"][...] = 7.0  # state_dict returns copies
    np.testing.assert_array_equal(ours[0].weight.data, 1.5)


def test_load_state_dict_errors_list_everything_and_change_nothing():
    ours = _hg_mlp()
    before = ours.state_dict()
    bad = ours.state_dict()
    del bad["3.bias"]
    bad["bogus.weight"] = np.zeros(3, np.float32)
    bad["0.weight"] = np.zeros((8, 5), np.float32)
    bad["5.weight"] = np.full((3, 8), 9.0, np.float32)  # a valid entry: must not load
    with pytest.raises(nn.StateDictError) as info:
        ours.load_state_dict(bad)
    msg = str(info.value)
    assert "3.bias" in msg and "bogus.weight" in msg
    assert "0.weight" in msg and "(8, 4)" in msg and "(8, 5)" in msg
    for k, v in ours.state_dict().items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)
    # not strict: missing/unexpected are reported, shapes still checked, the rest loads
    bad["0.weight"] = np.zeros((8, 4), np.float32)
    result = ours.load_state_dict(bad, strict=False)
    assert result.missing_keys == ["3.bias"]
    assert result.unexpected_keys == ["bogus.weight"]
    np.testing.assert_array_equal(ours[5].weight.data, 9.0)
    with pytest.raises(nn.StateDictError, match="wrong shapes"):
        ours.load_state_dict({"0.weight": np.zeros((2, 2))}, strict=False)
    with pytest.raises(TypeError, match="dict"):
        ours.load_state_dict([1, 2])
    with pytest.raises(TypeError, match="0.weight"):
        ours.load_state_dict({**before, "0.weight": np.array([["a"] * 4] * 8)})


def test_torch_rejects_what_we_reject():
    """Our strictness equals torch's: the same bad dict fails in both."""
    bad = _hg_mlp().state_dict()
    del bad["3.bias"]
    with pytest.raises(RuntimeError, match="3.bias"):
        _th_mlp().load_state_dict({k: torch.tensor(v) for k, v in bad.items()})
    with pytest.raises(nn.StateDictError, match="3.bias"):
        _hg_mlp().load_state_dict(bad)


def test_train_eval_propagate_and_dropout_follows():
    model = HgNet()
    model.features.add_module("drop", nn.Dropout(0.5))
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    model.features.eval()
    assert model.training and not model.features.training and not model.features.drop.training
    with pytest.raises(TypeError, match="bool"):
        model.train("no")


@pytest.mark.parametrize("cast,dtype", [("double", np.float64), ("float", np.float32)])
def test_float_double_cast_params_and_keep_working(cast, dtype):
    model = _hg_mlp(np.float32 if cast == "double" else np.float64)
    params_before = list(model.parameters())
    x = np.random.default_rng(1).standard_normal((3, 4))
    x_start = x.astype(np.float32 if cast == "double" else np.float64)
    model.eval()
    ref = model(hg.tensor(x_start)).data.astype(np.float64)
    loss = model(hg.tensor(x_start)).sum()
    loss.backward()
    assert getattr(model, cast)() is model
    assert all(p.dtype == dtype for p in model.parameters())
    assert all(p.grad.dtype == dtype for p in model.parameters())
    assert [id(p) for p in model.parameters()] == [id(p) for p in params_before]
    out = model(hg.tensor(x.astype(dtype)))
    assert out.dtype == dtype
    np.testing.assert_allclose(out.data, ref, rtol=1e-5, atol=1e-6)
    model.zero_grad()
    model(hg.tensor(x.astype(dtype))).sum().backward()
    assert all(p.grad.dtype == dtype for p in model.parameters())
    with pytest.raises(TypeError, match="floating"):
        model.to(np.int32)


def test_optimizer_built_before_cast_keeps_working():
    model = nn.Linear(3, 2)
    opt = hg.optim.Adam(model.parameters(), lr=0.1)
    model(hg.tensor(np.ones((1, 3), np.float32))).sum().backward()
    opt.step()
    model.double()
    opt.zero_grad()
    model(hg.tensor(np.ones((1, 3)))).sum().backward()
    opt.step()
    assert model.weight.dtype == np.float64
    assert opt.state[id(model.weight)]["exp_avg"].dtype == np.float64


def test_zero_grad():
    model = _hg_mlp()
    model(hg.tensor(np.ones((2, 4), np.float32))).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_gradients_accumulate_until_zeroed():
    lin = nn.Linear(2, 1)
    x = hg.tensor(np.ones((1, 2), np.float32))
    lin(x).sum().backward()
    first = lin.weight.grad.copy()
    lin(x).sum().backward()
    np.testing.assert_allclose(lin.weight.grad, 2 * first)


def test_registration_rules():
    m = nn.Module()
    m.w = nn.Parameter(np.ones(2, np.float32))
    m.register_buffer("running", np.zeros(2, np.float32))
    m.child = nn.Linear(2, 2)
    assert [n for n, _ in m.named_parameters()] == ["w", "child.weight", "child.bias"]
    assert list(m.state_dict()) == ["w", "running", "child.weight", "child.bias"]
    # re-assigning a buffer keeps it a buffer (batch norm updates its running stats so)
    m.running = np.full(2, 3.0, np.float32)
    np.testing.assert_array_equal(m.state_dict()["running"], 3.0)
    m.load_state_dict({**m.state_dict(), "running": np.full(2, 4.0)})
    np.testing.assert_array_equal(m.running, 4.0)
    assert m.running.dtype == np.float32
    # a plain array assigned to a parameter's name is refused, not silently unregistered
    with pytest.raises(TypeError, match="'w'"):
        m.w = np.zeros(2)
    with pytest.raises(TypeError, match="'w'"):
        m.w = hg.tensor(np.zeros(2))
    m.w = None  # allowed: the parameter becomes disabled
    assert [n for n, _ in m.named_parameters()] == ["child.weight", "child.bias"]
    assert "w" not in m.state_dict()
    del m.child
    assert list(m.parameters()) == []
    with pytest.raises(TypeError, match="Parameter or None"):
        m.register_parameter("p", np.zeros(2))
    with pytest.raises(TypeError, match="floating"):
        nn.Parameter(np.zeros(2, np.int64))

    class NoInit(nn.Module):
        def __init__(self):
            self.w = 1

    with pytest.raises(AttributeError, match="super"):
        NoInit()


def test_shared_module_listed_once_like_torch():
    lin = nn.Linear(2, 2)
    model = nn.Sequential(lin, nn.ReLU(), lin)
    tlin = torch.nn.Linear(2, 2)
    tmodel = torch.nn.Sequential(tlin, torch.nn.ReLU(), tlin)
    assert [n for n, _ in model.named_parameters()] == [n for n, _ in tmodel.named_parameters()]
    assert [n for n, _ in model.named_modules()] == [n for n, _ in tmodel.named_modules()]
    assert list(model.state_dict()) == list(tmodel.state_dict())


def test_deep_module_tree_no_recursion_limit():
    model = nn.Sequential(nn.Identity())
    inner = model
    for _ in range(3000):
        child = nn.Sequential(nn.Identity())
        inner.append(child)
        inner = child
    assert sum(1 for _ in model.modules()) == 1 + 2 * 3001 - 1


def test_requires_grad_and_num_parameters_and_repr():
    model = _hg_mlp()
    assert model.num_parameters() == sum(p.numel() for p in _th_mlp().parameters())
    model.requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())
    text = repr(model)
    assert "(0): Linear(in_features=4, out_features=8, bias=True)" in text
    assert "(2): Dropout(p=0.3)" in text


def test_sequential_ordered_dict_keys_like_torch():
    ours = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 3)), ("act", nn.ReLU()),
                                      ("out", nn.Linear(3, 1))]))
    theirs = torch.nn.Sequential(OrderedDict([("fc", torch.nn.Linear(2, 3)),
                                              ("act", torch.nn.ReLU()),
                                              ("out", torch.nn.Linear(3, 1))]))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert list(ours[:2].state_dict()) == list(theirs[:2].state_dict())
    assert isinstance(ours[-1], nn.Linear)
