"""Determinism (issue 6 item 6): the same seed gives the same bits.

* Within a process: two runs of a tiny training loop (initialisation, dropout, DataLoader
  shuffling, Adam) after ``handgrad.manual_seed(s)`` end with bit-identical weights and
  losses; another seed gives other weights (so the seed really drives every draw).
* Across processes: the same loop run in fresh interpreters with different
  ``PYTHONHASHSEED`` values prints the same SHA-256 of its final weights (nothing may
  depend on set or hash order) — and the same digest as this process.
* Order: ``parameters()``, ``named_parameters()``, ``state_dict()`` and the optimizer's
  state follow registration order, PyTorch's, in every process.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import handgrad as hg
import handgrad.nn as nn
import handgrad.nn.functional as F
import handgrad.optim as optim
from handgrad.data import DataLoader, TensorDataset

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------
# the tiny training runs
# ------------------------------------------------------------------------------------
def _data(n: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """Fixed data (its own generator: it must not depend on handgrad's seed)."""
    rng = np.random.default_rng(2024)
    x = rng.standard_normal((n, 6)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1).astype(np.int64)
    return x, y


def train_mlp(seed: int, epochs: int = 3) -> tuple[dict[str, np.ndarray], list[float]]:
    """MLP with dropout, Adam, a shuffling DataLoader whose seed comes from handgrad's."""
    hg.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))
    opt = optim.Adam(model.parameters(), lr=0.01)
    x, y = _data()
    loader = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True)
    losses = []
    for _ in range(epochs):
        for xb, yb in loader:
            loss = F.cross_entropy(model(hg.tensor(xb)), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.item()))
    return dict(model.state_dict()), losses


class _SeqModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(5, 4)
        self.gru = nn.GRU(4, 6, num_layers=2, dropout=0.5)
        self.drop = nn.Dropout(0.2)
        self.head = nn.Linear(6, 5)

    def forward(self, tokens: np.ndarray) -> Any:
        out, _ = self.gru(self.embed(tokens))
        return self.head(self.drop(out))


def train_gru(seed: int, steps: int = 6) -> tuple[dict[str, np.ndarray], list[float]]:
    """Embedding + 2-layer GRU with inter-layer dropout, SGD with momentum; batches drawn
    from handgrad's generator."""
    hg.manual_seed(seed)
    model = _SeqModel()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(steps):
        tokens = hg.get_rng().integers(0, 5, size=(7, 3))  # (T, N)
        logits = model(tokens[:-1])
        loss = F.cross_entropy(logits.reshape(-1, 5), tokens[1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    return dict(model.state_dict()), losses


def digest(state: dict[str, np.ndarray], losses: list[float]) -> str:
    """SHA-256 over names, dtypes, shapes and raw bytes, in state-dict order, and losses."""
    h = hashlib.sha256()
    for k, v in state.items():
        v = np.ascontiguousarray(v)
        h.update(f"{k}|{v.dtype.str}|{v.shape}|".encode())
        h.update(v.tobytes())
    h.update(np.asarray(losses, dtype=np.float64).tobytes())
    return h.hexdigest()


RUNS = {"mlp": train_mlp, "gru": train_gru}


def assert_bit_identical(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert list(a) == list(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
        assert a[k].tobytes() == b[k].tobytes(), f"{k} differs"


# ------------------------------------------------------------------------------------
# within a process
# ------------------------------------------------------------------------------------
@pytest.mark.parametrize("run", list(RUNS))
def test_same_seed_same_bits_within_a_process(run):
    state1, losses1 = RUNS[run](seed=11)
    hg.manual_seed(999)  # disturb the global generator in between
    hg.get_rng().standard_normal(1000)
    state2, losses2 = RUNS[run](seed=11)
    assert_bit_identical(state1, state2)
    assert losses1 == losses2
    state3, losses3 = RUNS[run](seed=12)
    assert losses3 != losses1
    assert any(state1[k].tobytes() != state3[k].tobytes() for k in state1)


def test_dropout_and_shuffling_draw_from_the_seeded_generator():
    """Same seed -> same dropout masks and same batch order; they change with the seed."""
    x = hg.tensor(np.ones((4, 50), np.float32))
    orders, masks = [], []
    for seed in (5, 5, 6):
        hg.manual_seed(seed)
        masks.append(F.dropout(x, p=0.5, training=True).data.copy())
        loader = DataLoader(TensorDataset(np.arange(20)), batch_size=20, shuffle=True)
        orders.append(np.concatenate([b[0] for _ in range(2) for b in loader]))
    np.testing.assert_array_equal(masks[0], masks[1])
    np.testing.assert_array_equal(orders[0], orders[1])
    assert not np.array_equal(masks[0], masks[2])
    assert not np.array_equal(orders[0], orders[2])
    assert not np.array_equal(orders[0][:20], orders[0][20:]), "a fresh order every epoch"


# ------------------------------------------------------------------------------------
# across processes
# ------------------------------------------------------------------------------------
_SCRIPT = """
import json
from tests.test_determinism import RUNS, digest, order_report
out = {name: digest(*run(seed=11)) for name, run in RUNS.items()}
out["order"] = order_report()
print(json.dumps(out))
"""


def order_report() -> dict[str, list[str]]:
    """Names in the order every container gives them (compared across processes)."""
    hg.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    model = _SeqModel()
    opt = optim.Adam(model.parameters(), lr=0.1)
    for p in model.parameters():
        p.grad = np.ones_like(p.data)
    opt.step()
    opt_state = opt.state_dict()
    return {
        "lstm_state_dict": list(lstm.state_dict()),
        "model_named_parameters": [n for n, _ in model.named_parameters()],
        "model_parameter_shapes": [list(p.shape) for p in model.parameters()],
        "model_state_dict": list(model.state_dict()),
        "model_modules": [n for n, _ in model.named_modules()],
        "optimizer_params": [str(i) for g in opt_state["param_groups"] for i in g["params"]],
        "optimizer_state_keys": [str(k) for k in opt_state["state"]],
    }


def _run_script(hash_seed: str) -> dict[str, Any]:
    env = dict(os.environ, PYTHONHASHSEED=hash_seed,
               PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "src"),
                                           os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_same_seed_same_bits_across_processes():
    a, b = _run_script("0"), _run_script("4242")
    assert a == b
    here = {name: digest(*run(seed=11)) for name, run in RUNS.items()}
    assert {k: a[k] for k in RUNS} == here, "a fresh process gives the bits of this one"
    assert a["order"] == order_report()


# ------------------------------------------------------------------------------------
# order
# ------------------------------------------------------------------------------------
def test_parameter_and_state_dict_order_is_registration_order():
    order = order_report()
    assert order["lstm_state_dict"] == [
        f"{kind}_{m}_l{layer}{suffix}"
        for layer in range(2) for suffix in ("", "_reverse")
        for kind, m in (("weight", "ih"), ("weight", "hh"), ("bias", "ih"), ("bias", "hh"))
    ]
    gru = [f"gru.{kind}_{m}_l{layer}" for layer in range(2)
           for kind, m in (("weight", "ih"), ("weight", "hh"), ("bias", "ih"), ("bias", "hh"))]
    expected = ["embed.weight", *gru, "head.weight", "head.bias"]
    assert order["model_named_parameters"] == expected
    assert order["model_state_dict"] == expected
    assert order["model_modules"] == ["", "embed", "gru", "drop", "head"]
    n = len(expected)
    assert order["optimizer_params"] == [str(i) for i in range(n)]
    assert order["optimizer_state_keys"] == [str(i) for i in range(n)]
    # buffers come after the parameters of their module, as in torch
    bn = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    assert list(bn.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias",
                                     "1.running_mean", "1.running_var",
                                     "1.num_batches_tracked"]


def test_saving_the_same_state_gives_the_same_bytes(tmp_path, monkeypatch):
    import time as time_module

    state, _ = train_mlp(seed=3, epochs=1)
    hg.save(state, tmp_path / "a.npz")
    real = time_module.time
    monkeypatch.setattr(time_module, "time", lambda: real() + 3600)  # an hour later
    hg.save(state, tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
