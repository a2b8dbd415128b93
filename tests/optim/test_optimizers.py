"""Every optimizer against torch.optim: same initial parameters, same gradient sequence
(drawn from a seeded generator and fed to both), 20 steps, every option combination."""

from __future__ import annotations

import io
import itertools
import json

import numpy as np
import pytest

import handgrad.optim as optim
from handgrad.nn import Parameter
from tests.helpers import assert_close, torch

SHAPES = [(3, 4), (5,), (1,), (2, 1, 3)]
DTYPES = [np.float64, np.float32]
STEPS = 20


def _grid(**axes):
    keys = list(axes)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*axes.values())]


def _gradients(rng, dtype, step):
    """One gradient per parameter; some exact zeros, and the last parameter gets no
    gradient every third step (both libraries then skip it)."""
    grads = []
    for i, s in enumerate(SHAPES):
        if i == len(SHAPES) - 1 and step % 3 == 2:
            grads.append(None)
            continue
        g = rng.standard_normal(s)
        g[rng.random(s) < 0.1] = 0.0
        grads.append(g.astype(dtype))
    return grads


def _make(dtype, seed=0):
    rng = np.random.default_rng(seed)
    inits = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    hg = [Parameter(a.copy()) for a in inits]
    th = [torch.nn.Parameter(torch.tensor(a.copy())) for a in inits]
    return hg, th


def _feed(hg_params, th_params, grads):
    for p, t, g in zip(hg_params, th_params, grads, strict=True):
        p.grad = None if g is None else g.copy()
        t.grad = None if g is None else torch.tensor(g.copy())


def _compare(hg_params, th_params, dtype, what):
    for i, (p, t) in enumerate(zip(hg_params, th_params, strict=True)):
        assert p.data.dtype == dtype, f"{what}: param {i} dtype became {p.data.dtype}"
        assert_close(p.data, t, dtype, name=f"{what} param {i}")


def run_against_torch(hg_cls, th_cls, kwargs, dtype, steps=STEPS, seed=0):
    hg_params, th_params = _make(dtype, seed)
    hg_opt, th_opt = hg_cls(hg_params, **kwargs), th_cls(th_params, **kwargs)
    rng = np.random.default_rng(seed + 1)
    for step in range(steps):
        _feed(hg_params, th_params, _gradients(rng, dtype, step))
        hg_opt.step()
        th_opt.step()
        _compare(hg_params, th_params, dtype, f"{hg_cls.__name__}{kwargs} step {step}")
    return hg_opt, hg_params


SGD_GRID = [kw for kw in _grid(lr=[0.1], momentum=[0.0, 0.9], dampening=[0.0, 0.5],
                               weight_decay=[0.0, 0.1], nesterov=[False, True],
                               maximize=[False, True])
            if not kw["nesterov"] or (kw["momentum"] > 0 and kw["dampening"] == 0)]
ADAM_GRID = _grid(lr=[0.05], betas=[(0.9, 0.999), (0.3, 0.6)], eps=[1e-8, 1e-3],
                  weight_decay=[0.0, 0.1], amsgrad=[False, True], maximize=[False, True],
                  decoupled_weight_decay=[False, True])
ADAMW_GRID = _grid(lr=[0.05], betas=[(0.9, 0.999), (0.3, 0.6)], weight_decay=[0.0, 0.1],
                   amsgrad=[False, True], maximize=[False, True])
RMSPROP_GRID = _grid(lr=[0.01], alpha=[0.99, 0.5], eps=[1e-8, 1e-2], weight_decay=[0.0, 0.1],
                     momentum=[0.0, 0.9], centered=[False, True], maximize=[False, True])
ADAGRAD_GRID = _grid(lr=[0.1], lr_decay=[0.0, 0.05], weight_decay=[0.0, 0.1],
                     initial_accumulator_value=[0.0, 0.5], eps=[1e-10, 1e-2],
                     maximize=[False, True])
RPROP_GRID = _grid(lr=[0.01, 0.2], etas=[(0.5, 1.2), (0.3, 2.0)],
                   step_sizes=[(1e-6, 50.0), (1e-3, 0.05)], maximize=[False, True])

CASES = ([("SGD", kw) for kw in SGD_GRID] + [("Adam", kw) for kw in ADAM_GRID]
         + [("AdamW", kw) for kw in ADAMW_GRID] + [("RMSprop", kw) for kw in RMSPROP_GRID]
         + [("Adagrad", kw) for kw in ADAGRAD_GRID] + [("Rprop", kw) for kw in RPROP_GRID])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in
                                                     enumerate(CASES)])
def test_matches_torch_over_20_steps(name, kwargs, dtype):
    run_against_torch(getattr(optim, name), getattr(torch.optim, name), kwargs, dtype)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Rprop"])
def test_defaults_match_torch(name):
    """Constructed with only lr (or nothing), both libraries take the same steps."""
    kwargs = {"lr": 0.01} if name == "SGD" else {}
    run_against_torch(getattr(optim, name), getattr(torch.optim, name), kwargs, np.float64)
    hg_defaults = getattr(optim, name)([Parameter(np.zeros(2))]).defaults
    th_defaults = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)]).defaults
    for key, value in hg_defaults.items():
        assert th_defaults[key] == value, f"{name} default {key}: {value} vs {th_defaults[key]}"


def _json_and_arrays_roundtrip(state_dict):
    """Save an optimizer state dict as JSON + an npz of arrays (no pickle) and load it."""
    arrays = {}

    def encode(obj):
        if isinstance(obj, np.ndarray):
            key = f"a{len(arrays)}"
            arrays[key] = obj
            return {"__array__": key}
        if isinstance(obj, dict):
            return {str(k): encode(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [encode(v) for v in obj]
        assert obj is None or isinstance(obj, bool | int | float | str), type(obj)
        return obj

    text = json.dumps(encode(state_dict))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    buf.seek(0)
    loaded = np.load(buf, allow_pickle=False)

    def decode(obj):
        if isinstance(obj, dict):
            if set(obj) == {"__array__"}:
                return loaded[obj["__array__"]]
            return {k: decode(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [decode(v) for v in obj]
        return obj

    return decode(json.loads(text))


STATE_CASES = [("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
               ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.1)),
               ("AdamW", dict(lr=0.05)),
               ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
               ("Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
               ("Rprop", dict(lr=0.05))]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("name,kwargs", STATE_CASES, ids=[n for n, _ in STATE_CASES])
def test_state_dict_roundtrip_mid_run(name, kwargs, dtype):
    """Stop after 10 steps, save through JSON + arrays into a fresh optimizer on copied
    parameters, continue 10 steps: identical to the uninterrupted run and to torch."""
    hg_cls, th_cls = getattr(optim, name), getattr(torch.optim, name)
    hg_params, th_params = _make(dtype)
    hg_opt, th_opt = hg_cls(hg_params, **kwargs), th_cls(th_params, **kwargs)
    rng = np.random.default_rng(7)
    grads = [_gradients(rng, dtype, s) for s in range(20)]
    for s in range(10):
        _feed(hg_params, th_params, grads[s])
        hg_opt.step()
        th_opt.step()
    saved = _json_and_arrays_roundtrip(hg_opt.state_dict())
    for per_param in hg_opt.state_dict()["state"].values():
        for v in per_param.values():
            assert isinstance(v, np.ndarray | int | float)
    resumed_params = [Parameter(p.data.copy()) for p in hg_params]
    resumed = hg_cls(resumed_params, lr=123.0)  # wrong hyperparameters: the load fixes them
    resumed.load_state_dict(saved)
    assert resumed.param_groups[0]["lr"] == hg_opt.param_groups[0]["lr"]
    for s in range(10, 20):
        _feed(hg_params, th_params, grads[s])
        _feed(resumed_params, th_params, grads[s])
        hg_opt.step()
        resumed.step()
        th_opt.step()
        for p, q in zip(hg_params, resumed_params, strict=True):
            np.testing.assert_array_equal(p.data, q.data)
        _compare(resumed_params, th_params, dtype, f"resumed {name} step {s}")


@pytest.mark.parametrize("name,kwargs", STATE_CASES, ids=[n for n, _ in STATE_CASES])
def test_state_dict_layout_matches_torch(name, kwargs):
    """Same keys per parameter state and same group keys (ours a subset of torch's);
    a torch state dict loads into handgrad and continues identically."""
    hg_cls, th_cls = getattr(optim, name), getattr(torch.optim, name)
    hg_params, th_params = _make(np.float64)
    hg_opt, th_opt = hg_cls(hg_params, **kwargs), th_cls(th_params, **kwargs)
    rng = np.random.default_rng(3)
    for s in range(5):
        _feed(hg_params, th_params, _gradients(rng, np.float64, s))
        hg_opt.step()
        th_opt.step()
    ours, theirs = hg_opt.state_dict(), th_opt.state_dict()
    assert set(ours["state"]) == set(theirs["state"])
    for idx in ours["state"]:
        assert set(ours["state"][idx]) == set(theirs["state"][idx]), idx
    assert set(ours["param_groups"][0]) <= set(theirs["param_groups"][0])
    assert ours["param_groups"][0]["params"] == theirs["param_groups"][0]["params"]
    # torch -> handgrad
    fresh_params = [Parameter(t.detach().numpy().copy()) for t in th_params]
    fresh = hg_cls(fresh_params, **kwargs)
    fresh.load_state_dict(theirs)
    for s in range(5, 10):
        g = _gradients(rng, np.float64, s)
        _feed(fresh_params, th_params, g)
        fresh.step()
        th_opt.step()
    _compare(fresh_params, th_params, np.float64, f"{name} loaded from torch")


def test_param_groups_with_own_hyperparameters():
    hg_params, th_params = _make(np.float64)
    hg_opt = optim.SGD([{"params": hg_params[:2]}, {"params": hg_params[2:], "lr": 0.5,
                                                    "momentum": 0.9}], lr=0.1)
    th_opt = torch.optim.SGD([{"params": th_params[:2]}, {"params": th_params[2:], "lr": 0.5,
                                                          "momentum": 0.9}], lr=0.1)
    assert hg_opt.param_groups[0]["momentum"] == 0.0
    assert hg_opt.param_groups[1]["lr"] == 0.5
    rng = np.random.default_rng(0)
    for s in range(10):
        _feed(hg_params, th_params, _gradients(rng, np.float64, s))
        hg_opt.step()
        th_opt.step()
        if s == 4:  # change a rate by hand mid-run
            hg_opt.param_groups[0]["lr"] = th_opt.param_groups[0]["lr"] = 0.02
    _compare(hg_params, th_params, np.float64, "two groups")


def test_add_param_group_and_errors():
    a, b = Parameter(np.zeros(3)), Parameter(np.zeros(2))
    opt = optim.Adam([a])
    opt.add_param_group({"params": [b], "lr": 0.1})
    assert opt.param_groups[1]["betas"] == (0.9, 0.999)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(a, lr=0.1)
    with pytest.raises(TypeError, match="params\\[0\\]"):
        optim.SGD([np.zeros(3)], lr=0.1)
    with pytest.raises(ValueError, match="lr must be"):
        optim.SGD([a], lr=-1.0)
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD([a], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam([a], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="etas"):
        optim.Rprop([a], etas=(1.5, 1.2))
    with pytest.raises(ValueError, match="momentum"):
        optim.RMSprop([a], momentum=-0.1)


def test_load_state_dict_errors_change_nothing():
    a, b = Parameter(np.ones(3)), Parameter(np.ones(2))
    opt = optim.Adam([a, b], lr=0.1)
    a.grad, b.grad = np.ones(3), np.ones(2)
    opt.step()
    before = opt.state_dict()
    other = optim.Adam([Parameter(np.ones(3))], lr=0.1)
    with pytest.raises(ValueError, match="holds 2 parameters"):
        other.load_state_dict(before)
    bad = opt.state_dict()
    bad["state"][1]["exp_avg"] = np.zeros(5)
    bad["param_groups"][0]["lr"] = 9.0
    with pytest.raises(ValueError, match="shape"):
        opt.load_state_dict(bad)
    after = opt.state_dict()
    assert after["param_groups"][0]["lr"] == 0.1
    np.testing.assert_array_equal(after["state"][1]["exp_avg"], before["state"][1]["exp_avg"])


def test_zero_grad_and_closure():
    a = Parameter(np.ones(3, np.float32))
    opt = optim.SGD([a], lr=0.5)
    a.grad = np.ones(3, np.float32)
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(a.grad, np.zeros(3))
    opt.zero_grad()
    assert a.grad is None
    opt.step()  # no gradient: nothing moves
    np.testing.assert_array_equal(a.data, np.ones(3))

    def closure():
        a.grad = 2 * a.data
        return float((a.data ** 2).sum())

    assert opt.step(closure) == 3.0
    np.testing.assert_array_equal(a.data, np.zeros(3))


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Rprop"])
def test_float32_stays_float32_and_grad_untouched(name):
    a = Parameter(np.ones((2, 3), np.float32))
    kwargs = dict(lr=0.1, weight_decay=0.1) if name not in ("Rprop",) else dict(lr=0.1)
    if name == "SGD":
        kwargs.update(momentum=0.9, nesterov=True)
    opt = getattr(optim, name)([a], **kwargs)
    g = np.full((2, 3), 0.5, np.float32)
    for _ in range(3):
        a.grad = g
        opt.step()
    np.testing.assert_array_equal(g, 0.5)  # the optimizer never writes into p.grad
    assert a.data.dtype == np.float32
    for v in opt.state[id(a)].values():
        if isinstance(v, np.ndarray):
            assert v.dtype == np.float32
    with pytest.raises(TypeError, match="grad: assigned grad has dtype float64"):
        a.grad = g.astype(np.float64)  # refused, as in PyTorch: it would upcast the update
    a._grad = g.astype(np.float64)     # (had one got there anyway: no upcast either)
    opt.step()
    assert a.data.dtype == np.float32


def test_trains_a_model_end_to_end():
    """Adam on a tiny regression with handgrad's autograd reaches a small loss."""
    import handgrad as hg
    from handgrad import nn

    hg.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.3).astype(np.float32)
    model = nn.Linear(3, 1)
    opt = optim.Adam(model.parameters(), lr=0.1)
    for _ in range(200):
        opt.zero_grad()
        loss = ((model(hg.tensor(x)) - hg.tensor(y)) ** 2).mean()
        loss.backward()
        opt.step()
    assert loss.item() < 1e-3


def test_checkpoint_through_handgrad_save_load(tmp_path):
    """Model + optimizer + scheduler through handgrad.save/load (no pickle) resume exactly."""
    import handgrad as hg
    from handgrad import nn

    def build():
        hg.manual_seed(0)
        model = nn.Linear(3, 2)
        opt = optim.Adam(model.parameters(), lr=0.05, amsgrad=True)
        sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
        return model, opt, sched

    def train(model, opt, sched, steps, rng):
        for _ in range(steps):
            opt.zero_grad()
            x = hg.tensor(rng.standard_normal((4, 3)).astype(np.float32))
            (model(x) ** 2).sum().backward()
            opt.step()
            sched.step()

    model, opt, sched = build()
    train(model, opt, sched, 3, np.random.default_rng(0))
    path = tmp_path / "ck"
    hg.save({"model": model.state_dict(), "opt": opt.state_dict(),
             "sched": sched.state_dict()}, path)
    rng_state = np.random.default_rng(1)
    train(model, opt, sched, 4, rng_state)

    model2, opt2, sched2 = build()
    ck = hg.load(path)
    model2.load_state_dict(ck["model"])
    opt2.load_state_dict(ck["opt"])
    sched2.load_state_dict(ck["sched"])
    train(model2, opt2, sched2, 4, np.random.default_rng(1))
    for (n, p), (_, q) in zip(model.named_parameters(), model2.named_parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data, err_msg=n)
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]


def test_state_looked_up_by_parameter_like_torch():
    a = Parameter(np.ones(3))
    opt = optim.SGD([a], lr=0.1, momentum=0.9)
    a.grad = np.ones(3)
    opt.step()
    assert a in opt.state and id(a) in opt.state
    np.testing.assert_array_equal(opt.state[a]["momentum_buffer"], np.ones(3))
    assert opt.state.get(Parameter(np.ones(3))) is None


@pytest.mark.parametrize("name,kwargs", STATE_CASES, ids=[n for n, _ in STATE_CASES])
def test_zero_dim_parameters(name, kwargs):
    """A scalar (0-d) parameter works like in torch, state dict shapes included."""
    hg_cls, th_cls = getattr(optim, name), getattr(torch.optim, name)
    p = Parameter(np.array(0.7))
    t = torch.nn.Parameter(torch.tensor(0.7, dtype=torch.float64))
    hg_opt, th_opt = hg_cls([p], **kwargs), th_cls([t], **kwargs)
    rng = np.random.default_rng(0)
    for _ in range(8):
        g = rng.standard_normal()
        p.grad, t.grad = np.array(g), torch.tensor(g, dtype=torch.float64)
        hg_opt.step()
        th_opt.step()
        assert p.data.shape == ()
        assert_close(p.data, t, np.float64)
    ours, theirs = hg_opt.state_dict()["state"][0], th_opt.state_dict()["state"][0]
    for k, v in ours.items():
        if isinstance(v, np.ndarray):
            assert v.shape == tuple(theirs[k].shape) == ()
    fresh = Parameter(p.data.copy())
    resumed = hg_cls([fresh], **kwargs)
    resumed.load_state_dict(hg_opt.state_dict())
    p.grad = fresh.grad = np.array(0.3)
    t.grad = torch.tensor(0.3, dtype=torch.float64)
    hg_opt.step()
    resumed.step()
    th_opt.step()
    assert fresh.data == p.data
    assert_close(fresh.data, t, np.float64)


def test_adagrad_initial_accumulator_is_the_constructors_as_in_torch():
    """PyTorch 2.13 starts every accumulator at the constructor's value: a per-group
    initial_accumulator_value, and a group added later, get the constructor's."""
    ta, tb = (torch.nn.Parameter(torch.ones(2, dtype=torch.float64)) for _ in range(2))
    topt = torch.optim.Adagrad([{"params": [ta], "initial_accumulator_value": 5.0}],
                               lr=0.1, initial_accumulator_value=1.0)
    topt.add_param_group({"params": [tb], "initial_accumulator_value": 3.0})
    ha, hb = (Parameter(np.ones(2)) for _ in range(2))
    hopt = optim.Adagrad([{"params": [ha], "initial_accumulator_value": 5.0}],
                            lr=0.1, initial_accumulator_value=1.0)
    hopt.add_param_group({"params": [hb], "initial_accumulator_value": 3.0})
    for _ in range(3):
        (ta.sum() * 2 + (tb * tb).sum()).backward()
        topt.step()
        topt.zero_grad()
        ((ha.sum() * 2) + (hb * hb).sum()).backward()
        hopt.step()
        hopt.zero_grad()
    np.testing.assert_allclose(ha.data, ta.detach().numpy(), rtol=1e-14)
    np.testing.assert_allclose(hb.data, tb.detach().numpy(), rtol=1e-14)
