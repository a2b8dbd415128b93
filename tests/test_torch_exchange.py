"""Moving weights between handgrad and PyTorch (issue 6 item 3), every module, both ways.

For every handgrad module with parameters or buffers, the source model (handgrad or
torch) gets random weights (and, where it has them, running statistics from a few
training steps); its state dict moves to the other library by one of six routes:

* ``hg->torch``:          ``torch_m.load_state_dict({k: torch.from_numpy(v)}, strict=True)``
* ``hg->torch(helper)``:  ``handgrad.io.to_torch_state_dict(hg_m)``, strict
* ``torch->hg(numpy)``:   ``hg_m.load_state_dict({k: v.numpy()})``
* ``torch->hg(tensors)``: ``hg_m.load_state_dict(torch_m.state_dict())``, torch tensors as is
* ``torch file->hg``:     ``torch.save(sd, path)`` -> ``handgrad.io.from_torch(path)`` -> load
* ``hg file->torch``:     ``handgrad.save(sd, path)`` -> ``handgrad.load(path)`` -> torch

Then both models must give the same outputs (every output and final state) in eval
mode and in training mode, the same running statistics after a training-mode step, and
the same keys in the same order. float32, tolerance 1e-5.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

import handgrad as hg
from handgrad.experiments.mnist_cnn import MnistCNN
from tests.helpers import torch

TOL = dict(rtol=1e-5, atol=1e-5)


@dataclass
class Spec:
    """A module built the same way by both libraries (``make(nn)`` with ``nn`` either
    ``handgrad.nn`` or ``torch.nn``), and how to make its input."""

    make: Callable[[Any], Any]
    inputs: Callable[[np.random.Generator], tuple[Any, ...]]
    warm_up: bool = False  # run training steps first: running statistics become non-trivial
    make_torch: Callable[[], Any] | None = None
    make_hg: Callable[[], Any] | None = None
    notes: dict[str, Any] = field(default_factory=dict)


def f32(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def seq_and_state(layers: int, dirs: int, lstm: bool, batch_first: bool = False):
    """(x, h0) or (x, (h0, c0)) for input_size 4, hidden 5, 6 steps, batch 3."""

    def make(rng):
        x = f32(rng, 3, 6, 4) if batch_first else f32(rng, 6, 3, 4)
        h0 = f32(rng, layers * dirs, 3, 5)
        return (x, (h0, f32(rng, layers * dirs, 3, 5)) if lstm else h0)

    return make


class TorchMnistCNN(torch.nn.Module):
    """The same architecture as handgrad's MnistCNN, PyTorch side (same attribute names)."""

    def __init__(self, channels=(4, 6), hidden=16, classes=10, image_size=28):
        super().__init__()
        side = image_size // 4
        self.conv1 = torch.nn.Conv2d(1, channels[0], 3, padding=1)
        self.conv2 = torch.nn.Conv2d(channels[0], channels[1], 3, padding=1)
        self.pool = torch.nn.MaxPool2d(2)
        self.relu = torch.nn.ReLU()
        self.flatten = torch.nn.Flatten()
        self.fc1 = torch.nn.Linear(channels[1] * side * side, hidden)
        self.fc2 = torch.nn.Linear(hidden, classes)

    def forward(self, x):
        h = self.pool(self.relu(self.conv1(x)))
        h = self.pool(self.relu(self.conv2(h)))
        return self.fc2(self.relu(self.fc1(self.flatten(h))))


def _cnn(nn):
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(6, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 3),
    )


SPECS: dict[str, Spec] = {
    "Linear": Spec(lambda nn: nn.Linear(5, 3), lambda r: (f32(r, 4, 5),)),
    "Linear-no-bias": Spec(lambda nn: nn.Linear(5, 3, bias=False), lambda r: (f32(r, 2, 7, 5),)),
    "Conv2d": Spec(lambda nn: nn.Conv2d(3, 4, 3, stride=2, padding=1),
                   lambda r: (f32(r, 2, 3, 9, 9),)),
    "Conv2d-groups": Spec(lambda nn: nn.Conv2d(4, 6, (3, 2), groups=2, dilation=2, bias=False),
                          lambda r: (f32(r, 2, 4, 10, 9),)),
    "Conv2d-depthwise": Spec(lambda nn: nn.Conv2d(4, 8, 3, groups=4, padding=1),
                             lambda r: (f32(r, 1, 4, 6, 6),)),
    "BatchNorm1d": Spec(lambda nn: nn.BatchNorm1d(5), lambda r: (f32(r, 6, 5),), warm_up=True),
    "BatchNorm1d-3d": Spec(lambda nn: nn.BatchNorm1d(5, momentum=0.3),
                           lambda r: (f32(r, 4, 5, 7),), warm_up=True),
    "BatchNorm2d": Spec(lambda nn: nn.BatchNorm2d(3), lambda r: (f32(r, 4, 3, 5, 5),),
                        warm_up=True),
    "BatchNorm2d-no-affine": Spec(lambda nn: nn.BatchNorm2d(3, affine=False),
                                  lambda r: (f32(r, 4, 3, 5, 5),), warm_up=True),
    "Embedding": Spec(lambda nn: nn.Embedding(10, 4),
                      lambda r: (r.integers(0, 10, size=(3, 5)),)),
    "Embedding-padding_idx": Spec(lambda nn: nn.Embedding(10, 4, padding_idx=0),
                                  lambda r: (np.array([[0, 3, 9], [2, 0, 1]]),)),
    "RNN-2layer-bidirectional": Spec(
        lambda nn: nn.RNN(4, 5, num_layers=2, bidirectional=True),
        seq_and_state(2, 2, lstm=False)),
    "RNN-relu-batch_first": Spec(
        lambda nn: nn.RNN(4, 5, nonlinearity="relu", batch_first=True),
        seq_and_state(1, 1, lstm=False, batch_first=True)),
    "RNN-no-bias-3layer": Spec(lambda nn: nn.RNN(4, 5, num_layers=3, bias=False),
                               seq_and_state(3, 1, lstm=False)),
    "LSTM-2layer-bidirectional": Spec(
        lambda nn: nn.LSTM(4, 5, num_layers=2, bidirectional=True),
        seq_and_state(2, 2, lstm=True)),
    "LSTM-batch_first": Spec(lambda nn: nn.LSTM(4, 5, batch_first=True),
                             seq_and_state(1, 1, lstm=True, batch_first=True)),
    "GRU-2layer-bidirectional": Spec(
        lambda nn: nn.GRU(4, 5, num_layers=2, bidirectional=True),
        seq_and_state(2, 2, lstm=False)),
    "GRU-no-bias": Spec(lambda nn: nn.GRU(4, 5, bias=False), seq_and_state(1, 1, lstm=False)),
    "RNNCell": Spec(lambda nn: nn.RNNCell(4, 5), lambda r: (f32(r, 3, 4), f32(r, 3, 5))),
    "RNNCell-relu-no-bias": Spec(lambda nn: nn.RNNCell(4, 5, bias=False, nonlinearity="relu"),
                                 lambda r: (f32(r, 3, 4), f32(r, 3, 5))),
    "LSTMCell": Spec(lambda nn: nn.LSTMCell(4, 5),
                     lambda r: (f32(r, 3, 4), (f32(r, 3, 5), f32(r, 3, 5)))),
    "GRUCell": Spec(lambda nn: nn.GRUCell(4, 5), lambda r: (f32(r, 3, 4), f32(r, 3, 5))),
    "Sequential-CNN": Spec(_cnn, lambda r: (f32(r, 5, 1, 8, 8),), warm_up=True),
    "MnistCNN": Spec(lambda nn: None, lambda r: (f32(r, 2, 1, 28, 28),),
                     make_hg=lambda: MnistCNN(channels=(4, 6), hidden=16),
                     make_torch=lambda: TorchMnistCNN()),
}


# ------------------------------------------------------------------------------------
# building, randomising, running
# ------------------------------------------------------------------------------------
def build(spec: Spec, lib: str) -> Any:
    if lib == "hg":
        return spec.make_hg() if spec.make_hg else spec.make(hg.nn)
    return spec.make_torch() if spec.make_torch else spec.make(torch.nn)


def randomise(model: Any, lib: str, rng: np.random.Generator) -> None:
    """Random values in every parameter (so ones/zeros defaults prove nothing)."""
    if lib == "hg":
        for _, p in model.named_parameters():
            p.data[...] = rng.uniform(-0.5, 0.5, p.shape).astype(p.data.dtype)
    else:
        with torch.no_grad():
            for _, p in model.named_parameters():
                p.copy_(torch.from_numpy(rng.uniform(-0.5, 0.5, tuple(p.shape))
                                         .astype(np.float32)))


def to_lib(obj: Any, lib: str) -> Any:
    if isinstance(obj, tuple):
        return tuple(to_lib(o, lib) for o in obj)
    return hg.tensor(obj) if lib == "hg" else torch.from_numpy(np.array(obj))


def flat_outputs(out: Any) -> list[np.ndarray]:
    if isinstance(out, tuple | list):
        return [a for o in out for a in flat_outputs(o)]
    if isinstance(out, torch.Tensor):
        return [out.detach().numpy()]
    return [out.data]


def run(model: Any, lib: str, args: tuple[Any, ...]) -> list[np.ndarray]:
    if lib == "hg":
        return flat_outputs(model(*to_lib(args, "hg")))
    with torch.no_grad():
        return flat_outputs(model(*to_lib(args, "torch")))


def warm_up(model: Any, lib: str, spec: Spec, rng: np.random.Generator,
            dtype: Any = np.float32) -> None:
    model.train()
    for _ in range(3):
        args = tuple((a * 2 + 1).astype(dtype) if a.dtype.kind == "f" else a
                     for a in spec.inputs(rng) if isinstance(a, np.ndarray))
        run(model, lib, args)


def hg_state(model: Any) -> dict[str, np.ndarray]:
    return dict(model.state_dict())


def torch_state(model: Any) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


# ------------------------------------------------------------------------------------
# the routes
# ------------------------------------------------------------------------------------
def hg_to_torch(src: Any, dst: Any, tmp: Any) -> None:
    dst.load_state_dict({k: torch.from_numpy(v) for k, v in src.state_dict().items()},
                        strict=True)


def hg_to_torch_helper(src: Any, dst: Any, tmp: Any) -> None:
    dst.load_state_dict(hg.io.to_torch_state_dict(src), strict=True)


def torch_to_hg_numpy(src: Any, dst: Any, tmp: Any) -> None:
    dst.load_state_dict({k: v.numpy() for k, v in src.state_dict().items()})


def torch_to_hg_tensors(src: Any, dst: Any, tmp: Any) -> None:
    dst.load_state_dict(src.state_dict())


def torch_file_to_hg(src: Any, dst: Any, tmp: Any) -> None:
    path = tmp / "weights.pt"
    torch.save(src.state_dict(), path)
    state = hg.io.from_torch(path)
    assert all(isinstance(v, np.ndarray) for v in state.values())
    dst.load_state_dict(state)


def hg_file_to_torch(src: Any, dst: Any, tmp: Any) -> None:
    path = tmp / "weights.npz"
    hg.save(src.state_dict(), path)
    state = hg.load(path)
    dst.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()},
                        strict=True)


ROUTES = {  # name -> (source library, destination library, mover)
    "hg->torch": ("hg", "torch", hg_to_torch),
    "hg->torch(helper)": ("hg", "torch", hg_to_torch_helper),
    "torch->hg(numpy)": ("torch", "hg", torch_to_hg_numpy),
    "torch->hg(tensors)": ("torch", "hg", torch_to_hg_tensors),
    "torch file->hg": ("torch", "hg", torch_file_to_hg),
    "hg file->torch": ("hg", "torch", hg_file_to_torch),
}


@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("name", list(SPECS))
def test_state_dict_moves_and_outputs_match(name, route, tmp_path):
    spec = SPECS[name]
    src_lib, dst_lib, move = ROUTES[route]
    rng = np.random.default_rng(7)
    hg.manual_seed(0)
    torch.manual_seed(0)
    src, dst = build(spec, src_lib), build(spec, dst_lib)
    randomise(src, src_lib, rng)
    if spec.warm_up:
        warm_up(src, src_lib, spec, rng)
    state_of = {"hg": hg_state, "torch": torch_state}

    move(src, dst, tmp_path)

    src_sd, dst_sd = state_of[src_lib](src), state_of[dst_lib](dst)
    assert list(src_sd) == list(dst_sd), "same keys in the same order"
    for k in src_sd:
        assert src_sd[k].dtype == dst_sd[k].dtype, f"{k}: dtype {src_sd[k].dtype} vs " \
                                                   f"{dst_sd[k].dtype}"
        np.testing.assert_array_equal(src_sd[k], dst_sd[k], err_msg=k)  # moved exactly
    if spec.warm_up:
        assert any("running_mean" in k and np.abs(v).max() > 0 for k, v in src_sd.items())

    args = spec.inputs(rng)
    for mode in ("eval", "train"):
        src.train(mode == "train")
        dst.train(mode == "train")
        want, got = run(src, src_lib, args), run(dst, dst_lib, args)
        assert len(want) == len(got)
        for i, (w, g) in enumerate(zip(want, got)):
            assert w.shape == g.shape and w.dtype == g.dtype, f"{mode} output {i}"
            np.testing.assert_allclose(g, w, **TOL, err_msg=f"{mode} output {i}")
    # a training-mode step moved the running statistics the same way in both
    after_src, after_dst = state_of[src_lib](src), state_of[dst_lib](dst)
    for k in after_src:
        np.testing.assert_allclose(after_dst[k], after_src[k], **TOL,
                                   err_msg=f"{k} after a training step")


def test_every_module_with_state_is_covered():
    """A new handgrad layer with parameters or buffers must be added to SPECS."""
    covered = set()
    for spec in SPECS.values():
        model = build(spec, "hg")
        covered |= {type(m).__name__ for _, m in model.named_modules()}
    with_state = set()
    for name in hg.nn.__all__:
        cls = getattr(hg.nn, name)
        if not (isinstance(cls, type) and issubclass(cls, hg.nn.Module)):
            continue
        if cls.__name__ in covered:
            continue
        try:  # layers without required arguments: do they hold state?
            model = cls()
        except TypeError:
            with_state.add(cls.__name__)  # needs sizes: it has weights; must be covered
            continue
        if model.state_dict():
            with_state.add(cls.__name__)
    assert not with_state - {"Module", "Sequential", "ModuleList"} - _SIZED_WITHOUT_STATE, (
        f"modules with state not in the exchange table: {sorted(with_state)}")


# Modules that need constructor arguments but hold no parameters or buffers.
_SIZED_WITHOUT_STATE = {"MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "LeakyReLU",
                        "Dropout", "Flatten", "Softmax", "LogSoftmax", "CrossEntropyLoss",
                        "NLLLoss", "MSELoss", "L1Loss", "BCEWithLogitsLoss"}


def _as64(obj: Any) -> Any:
    if isinstance(obj, tuple):
        return tuple(_as64(o) for o in obj)
    return obj.astype(np.float64) if obj.dtype.kind == "f" else obj


@pytest.mark.parametrize("name", ["Linear", "Conv2d-groups", "BatchNorm2d",
                                  "LSTM-2layer-bidirectional", "GRU-2layer-bidirectional",
                                  "GRUCell", "Sequential-CNN"])
def test_float64_models_move_both_ways(name):
    """model.double() on both sides: float64 weights move and outputs agree to 1e-10."""
    spec = SPECS[name]
    rng = np.random.default_rng(3)
    for src_lib, dst_lib, move in (("torch", "hg", torch_to_hg_numpy),
                                   ("hg", "torch", hg_to_torch)):
        hg.manual_seed(1)
        torch.manual_seed(1)
        src, dst = build(spec, src_lib).double(), build(spec, dst_lib).double()
        randomise(src, src_lib, rng)
        if spec.warm_up:
            warm_up(src, src_lib, spec, rng, np.float64)
        move(src, dst, None)
        src.eval()
        dst.eval()
        args = _as64(spec.inputs(rng))
        want, got = run(src, src_lib, args), run(dst, dst_lib, args)
        for i, (w, g) in enumerate(zip(want, got)):
            assert w.dtype == g.dtype == np.float64, f"output {i}"
            np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12, err_msg=f"output {i}")


def test_loading_keeps_the_model_dtype():
    """float64 torch weights into a float32 handgrad model stay float32 (as torch's
    load_state_dict copies into the existing tensors)."""
    t_lstm = torch.nn.LSTM(3, 4).double()
    h_lstm = hg.nn.LSTM(3, 4)
    h_lstm.load_state_dict(t_lstm.state_dict())
    for k, v in h_lstm.state_dict().items():
        assert v.dtype == np.float32, k
        np.testing.assert_allclose(v, t_lstm.state_dict()[k].numpy(), rtol=1e-6, err_msg=k)
