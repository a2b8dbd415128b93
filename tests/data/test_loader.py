"""TensorDataset and DataLoader: batching, seeded shuffling, drop_last, exact resume."""

from __future__ import annotations

import json

import numpy as np
import pytest

import handgrad as hg
from handgrad.data import DataLoader, Dataset, TensorDataset


def make(n=10, **kw):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64)
    return DataLoader(TensorDataset(x, y), **kw), x, y


def labels_of(loader):
    return [b[1].tolist() for b in loader]


def test_tensor_dataset_basics():
    ds = TensorDataset(np.zeros((4, 2)), np.arange(4))
    assert len(ds) == 4
    a, b = ds[2]
    assert a.shape == (2,) and b == 2
    xb, yb = ds.get_batch(np.array([3, 0]))
    assert xb.shape == (2, 2) and yb.tolist() == [3, 0]
    t = TensorDataset(hg.tensor(np.ones((3, 2))))  # Tensors are accepted as their arrays
    assert isinstance(t.arrays[0], np.ndarray) and t.arrays[0].shape == (3, 2)
    s = TensorDataset(np.arange(12.0).reshape(3, 4)[:, ::2], [True, False, True])
    assert s.arrays[0].tolist() == [[0, 2], [4, 6], [8, 10]]  # views and lists work
    assert s.arrays[1].dtype == bool


def test_tensor_dataset_errors():
    with pytest.raises(ValueError, match="same length.*\\(4, 2\\), \\(3,\\)"):
        TensorDataset(np.zeros((4, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()
    with pytest.raises(ValueError, match="scalar"):
        TensorDataset(np.float32(1))


@pytest.mark.parametrize("n,bs,drop,sizes", [
    (10, 3, False, [3, 3, 3, 1]), (10, 3, True, [3, 3, 3]), (9, 3, False, [3, 3, 3]),
    (10, 10, False, [10]), (10, 20, False, [10]), (10, 20, True, []), (10, 1, True, [1] * 10),
])
def test_batch_sizes_and_len(n, bs, drop, sizes):
    loader, x, y = make(n, batch_size=bs, drop_last=drop)
    batches = list(loader)
    assert len(loader) == len(sizes)
    assert [len(b[1]) for b in batches] == sizes
    if batches:  # no shuffle: the order is 0..N-1, features stay with their labels
        allx = np.concatenate([b[0] for b in batches])
        np.testing.assert_array_equal(allx, x[: len(allx)])
        assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == np.int64


def test_shuffle_is_a_permutation_and_deterministic_by_seed():
    a, _, _ = make(50, batch_size=7, shuffle=True, seed=3)
    b, _, _ = make(50, batch_size=7, shuffle=True, seed=3)
    c, _, _ = make(50, batch_size=7, shuffle=True, seed=4)
    ea1, eb1, ec1 = labels_of(a), labels_of(b), labels_of(c)
    assert ea1 == eb1 and ea1 != ec1
    assert sorted(sum(ea1, [])) == list(range(50))
    ea2 = labels_of(a)  # a new epoch, a new order
    assert ea2 != ea1 and ea2 == labels_of(b)
    assert a.epoch == 2 and a.position == 0


def test_seed_from_handgrad_rng():
    hg.manual_seed(11)
    a, _, _ = make(30, batch_size=4, shuffle=True)
    hg.manual_seed(11)
    b, _, _ = make(30, batch_size=4, shuffle=True)
    assert a.seed == b.seed and labels_of(a) == labels_of(b)


def test_generic_dataset_collates():
    class Squares(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.array([i, i * i]), i

    batches = list(DataLoader(Squares(), batch_size=2))
    assert batches[0][0].tolist() == [[0, 0], [1, 1]] and batches[2][1].tolist() == [4]


def test_bad_arguments():
    ds = TensorDataset(np.zeros(3))
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(TypeError, match="batch_size must be an int"):
        DataLoader(ds, batch_size=2.0)
    with pytest.raises(TypeError, match="dataset must define"):
        DataLoader(42)


@pytest.mark.parametrize("stop_after", [0, 1, 3, 4, 5, 9, 10, 13])
def test_state_dict_resumes_at_the_exact_batch(stop_after):
    # reference: three epochs uninterrupted
    ref, _, _ = make(23, batch_size=5, shuffle=True, seed=7)
    expected = [labels_of(ref) for _ in range(3)]
    flat = sum(expected, [])
    # interrupted after `stop_after` batches (counting across epochs, 5 per epoch)
    a, _, _ = make(23, batch_size=5, shuffle=True, seed=7)
    got = []
    it = iter(a)
    for _ in range(stop_after):
        try:
            got.append(next(it)[1].tolist())
        except StopIteration:
            it = iter(a)
            got.append(next(it)[1].tolist())
    state = json.loads(json.dumps(a.state_dict()))  # it is JSON-able
    b, _, _ = make(23, batch_size=5, shuffle=True, seed=999)  # its own seed is overridden
    b.load_state_dict(state)
    while len(got) < len(flat):
        got.extend(labels_of(b))
    assert got == flat
    assert b.epoch == 3


def test_resume_at_epoch_boundary_before_generator_finishes():
    a, _, _ = make(10, batch_size=5, shuffle=True, seed=1)
    ref, _, _ = make(10, batch_size=5, shuffle=True, seed=1)
    e1, e2 = labels_of(ref), labels_of(ref)
    it = iter(a)
    first = [next(it)[1].tolist(), next(it)[1].tolist()]  # last batch handed out
    assert first == e1 and a.position == 2 and a.epoch == 0
    b, _, _ = make(10, batch_size=5, shuffle=True, seed=1)
    b.load_state_dict(a.state_dict())
    assert labels_of(b) == e2 and b.epoch == 2


def test_load_state_dict_refuses_other_settings():
    a, _, _ = make(10, batch_size=5)
    b, _, _ = make(12, batch_size=5)
    with pytest.raises(ValueError, match="length=10.*length=12"):
        b.load_state_dict(a.state_dict())
    with pytest.raises(KeyError, match="missing keys"):
        b.load_state_dict({"epoch": 0})
