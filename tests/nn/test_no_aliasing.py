"""No layer ever writes into its own parameters (or its input) while computing.

Every module runs forward, and forward + backward, at the odd sizes where NumPy views
appear (hidden size 1..3, batch 1, length 1) with its parameters stored C-ordered,
Fortran-ordered and as strided slices of a larger array. Afterwards every parameter must
be byte-identical to before, and a second call must give the same output.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import handgrad as hg
from handgrad import nn

LAYOUTS = ("C", "F", "sliced")


def _relayout(arr: np.ndarray, layout: str) -> np.ndarray:
    if layout == "C" or arr.ndim == 0:
        return np.ascontiguousarray(arr)
    if layout == "F":
        return np.asfortranarray(arr)
    big = np.zeros(tuple(2 * s for s in arr.shape), dtype=arr.dtype)
    view = big[tuple(slice(None, None, 2) for _ in arr.shape)]
    view[...] = arr
    return view


def _cases() -> list[tuple[str, Callable[[], nn.Module], Callable[[], Any]]]:
    cases: list[tuple[str, Callable[[], nn.Module], Callable[[], Any]]] = []
    rng = np.random.default_rng(0)

    def x(*shape: int) -> Callable[[], Any]:
        data = rng.standard_normal(shape)
        return lambda: hg.tensor(data, dtype=np.float64, requires_grad=True)

    for h in (1, 2, 3):
        cases.append((f"Linear({h},{h})", lambda h=h: nn.Linear(h, h), x(1, h)))
        cases.append((f"Conv2d(1,{h},k2)", lambda h=h: nn.Conv2d(1, h, 2, padding=1),
                      x(1, 1, 2, 3)))
        cases.append((f"Conv2d({h},1,k1,s2)", lambda h=h: nn.Conv2d(h, 1, 1, stride=2),
                      x(1, h, 3, 3)))
        cases.append((f"BatchNorm1d({h})", lambda h=h: nn.BatchNorm1d(h), x(2, h)))
        cases.append((f"BatchNorm2d({h})", lambda h=h: nn.BatchNorm2d(h), x(1, h, 2, 2)))
        ids = np.array([[0, h - 1, 0]])
        cases.append((f"Embedding(4,{h})", lambda h=h: nn.Embedding(4, h),
                      lambda ids=ids: hg.tensor(ids)))
        for cls in (nn.RNN, nn.LSTM, nn.GRU):
            for layers, bidir in ((1, False), (2, True)):
                name = f"{cls.__name__}(1,{h},layers={layers},bidir={bidir})"
                cases.append((name, lambda cls=cls, h=h, layers=layers, bidir=bidir:
                              cls(1, h, num_layers=layers, bidirectional=bidir), x(1, 1, 1)))
        for cls in (nn.RNNCell, nn.LSTMCell, nn.GRUCell):
            cases.append((f"{cls.__name__}(2,{h})", lambda cls=cls, h=h: cls(2, h), x(1, 2)))
    return cases


CASES = _cases()


def _outputs(out: Any) -> list[hg.Tensor]:
    if isinstance(out, hg.Tensor):
        return [out]
    return [t for item in out for t in _outputs(item)]


def _run(module: nn.Module, make_input: Callable[[], Any], backward: bool) -> list[np.ndarray]:
    out = _outputs(module(make_input()))
    if backward:
        loss = sum((o * o).sum() for o in out)
        loss.backward()
    return [o.data.copy() for o in out]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("backward", [False, True], ids=["forward", "forward+backward"])
@pytest.mark.parametrize("name,make_module,make_input", CASES, ids=[c[0] for c in CASES])
def test_parameters_are_never_written(name, make_module, make_input, layout, backward):
    hg.manual_seed(0)
    module = make_module().double()
    for p in module.parameters():
        p.data = _relayout(p.data, layout)
    before = {k: p.data.copy() for k, p in module.named_parameters()}
    first = _run(module, make_input, backward)
    if backward:
        module.zero_grad()
    second = _run(module, make_input, backward)
    for k, p in module.named_parameters():
        assert p.data.tobytes() == before[k].tobytes(), f"{name}: {k} ({layout}) was written"
    if not isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):  # running stats move
        for a, b in zip(first, second):
            np.testing.assert_array_equal(a, b, err_msg=f"{name}: two calls differ")


@pytest.mark.parametrize("name,make_module,make_input", CASES[:12], ids=[c[0] for c in CASES[:12]])
def test_inputs_are_never_written(name, make_module, make_input):
    module = make_module().double()
    x = make_input()
    before = x.data.copy()
    out = _outputs(module(x))
    sum((o * o).sum() for o in out).backward()
    assert x.data.tobytes() == before.tobytes(), f"{name}: the input was written"
