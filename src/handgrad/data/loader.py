"""Datasets and a DataLoader: mini-batches, seeded shuffling, and exact resume.

``TensorDataset(images, labels)`` pairs arrays along their first axis;
``DataLoader(dataset, batch_size=64, shuffle=True, seed=0)`` walks it in mini-batches.
Each epoch the loader draws one permutation of 0..N-1 from its *own*
``np.random.Generator`` and cuts it into consecutive batches; a batch of a
``TensorDataset`` is one fancy-indexing gather per array (``array[idx]``), no Python
loop over samples.

Batches are tuples of NumPy arrays (wrap them with ``handgrad.tensor`` or pass them to a
module directly).

Exact resume: ``state_dict()`` is plain JSON-able data (epoch, position, the generator's
states), and ``load_state_dict()`` makes the next ``iter()`` continue with the very next
batch of the interrupted epoch, in the same order, so a training run stopped after any
step and resumed sees exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

__all__ = ["Dataset", "TensorDataset", "DataLoader"]


class Dataset:
    """A sized collection of samples: subclasses define ``__len__`` and ``__getitem__``
    (returning a tuple of arrays/numbers per sample). A subclass may also define
    ``get_batch(indices)`` returning whole batches at once; the DataLoader then uses it
    instead of collating samples one by one."""

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError


class TensorDataset(Dataset):
    """Arrays of equal length N along axis 0; sample i is ``tuple(a[i] for a in arrays)``."""

    def __init__(self, *arrays: Any) -> None:
        if not arrays:
            raise ValueError("TensorDataset: needs at least one array")
        from handgrad.tensor import Tensor

        # a Tensor contributes its array (not ndarray.data, which is a raw buffer)
        arrs = [np.asarray(a.data if isinstance(a, Tensor) else a) for a in arrays]
        for i, a in enumerate(arrs):
            if a.ndim == 0:
                raise ValueError(f"TensorDataset: arrays[{i}] is a scalar; each array needs "
                                 f"a first axis indexing the samples")
        lengths = [len(a) for a in arrs]
        if len(set(lengths)) != 1:
            shapes = ", ".join(str(a.shape) for a in arrs)
            raise ValueError(f"TensorDataset: all arrays must have the same length along "
                             f"axis 0, got shapes {shapes}")
        self.arrays: tuple[np.ndarray, ...] = tuple(arrs)

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        return tuple(a[index] for a in self.arrays)

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, ...]:
        # one gather per array; for a contiguous range a slice view would do, but a
        # gather gives the caller its own buffer either way
        return tuple(a[indices] for a in self.arrays)


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"DataLoader: {name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"DataLoader: {name} must be >= {minimum}, got {value}")
    return int(value)


class DataLoader:
    """Mini-batches over a dataset.

    Args:
        dataset: a ``Dataset`` (``TensorDataset`` for arrays).
        batch_size: samples per batch (the last one may be smaller unless ``drop_last``).
        shuffle: draw a fresh permutation each epoch; otherwise the order is 0..N-1.
        drop_last: drop the last incomplete batch.
        seed: seeds the loader's own generator; ``None`` draws the seed from handgrad's
            generator (``handgrad.manual_seed`` then fixes it).

    Attributes ``epoch`` (epochs completed) and ``position`` (batches already handed out
    in the current epoch) describe where it stands.
    """

    def __init__(self, dataset: Dataset | Sequence[Any], batch_size: int = 1,
                 shuffle: bool = False, drop_last: bool = False,
                 seed: int | None = None) -> None:
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: dataset must define __len__ and __getitem__, got "
                            f"{type(dataset).__name__}")
        self.dataset = dataset
        self.batch_size = _check_int(batch_size, "batch_size", 1)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        if seed is None:
            from handgrad.random import get_rng

            seed = int(get_rng().integers(0, 2**63 - 1))
        self.seed = _check_int(seed, "seed", 0)
        self._gen = np.random.default_rng(self.seed)
        self.epoch = 0
        self.position = 0
        self._epoch_state: dict[str, Any] | None = None  # generator state at epoch start
        self._order: np.ndarray | None = None
        self._resume = False

    # -- sizes ---------------------------------------------------------------------------
    def __len__(self) -> int:
        """Batches per epoch."""
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    # -- order ---------------------------------------------------------------------------
    def _new_order(self) -> np.ndarray:
        self._epoch_state = copy.deepcopy(self._gen.bit_generator.state)
        n = len(self.dataset)
        if self.shuffle:
            return self._gen.permutation(n)
        return np.arange(n)

    def _fetch(self, idx: np.ndarray) -> Any:
        get_batch = getattr(self.dataset, "get_batch", None)
        if get_batch is not None:
            return get_batch(idx)
        samples = [self.dataset[int(i)] for i in idx]  # generic datasets: collate
        if isinstance(samples[0], tuple | list):
            return tuple(np.stack([np.asarray(s[k]) for s in samples])
                         for k in range(len(samples[0])))
        return np.stack([np.asarray(s) for s in samples])

    def __iter__(self) -> Iterator[Any]:
        nb = len(self)
        if self._resume and 0 < self.position < nb and self._order is not None:
            start = self.position  # continue the interrupted epoch
        else:
            if self.position >= nb and nb > 0:  # the previous epoch was finished
                self.epoch += 1
            self.position = 0
            self._order = self._new_order()
            start = 0
        self._resume = False
        order = self._order
        bs = self.batch_size
        for b in range(start, nb):
            idx = order[b * bs:(b + 1) * bs]
            batch = self._fetch(idx)
            # count the batch as handed out before yielding, so a state_dict() taken
            # while the caller trains on it already points at the next batch
            self.position = b + 1
            yield batch
        # the epoch is complete: the next iter() starts a new one
        self.epoch += 1
        self.position = 0

    # -- checkpoints ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """JSON-able: where the loader stands and its generator's states."""
        return {
            "epoch": self.epoch,
            "position": self.position,
            "seed": self.seed,
            "batch_size": self.batch_size,
            "shuffle": self.shuffle,
            "drop_last": self.drop_last,
            "length": len(self.dataset),
            "rng": copy.deepcopy(self._gen.bit_generator.state),
            "epoch_rng": copy.deepcopy(self._epoch_state),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a ``state_dict()``; the next ``iter()`` hands out the batch that
        followed the last one handed out when the state was taken."""
        missing = [k for k in ("epoch", "position", "rng", "epoch_rng") if k not in state]
        if missing:
            raise KeyError(f"DataLoader.load_state_dict: missing keys {missing}")
        for key, mine in (("length", len(self.dataset)), ("batch_size", self.batch_size),
                          ("shuffle", self.shuffle), ("drop_last", self.drop_last)):
            if key in state and state[key] != mine:
                raise ValueError(f"DataLoader.load_state_dict: the state was taken with "
                                 f"{key}={state[key]!r}, this loader has {key}={mine!r}; "
                                 f"resume with the same data and settings")
        self.epoch = int(state["epoch"])
        self.position = int(state["position"])
        self.seed = int(state.get("seed", self.seed))
        nb = len(self)
        if 0 < self.position < nb:
            if state["epoch_rng"] is None:
                raise ValueError("DataLoader.load_state_dict: a mid-epoch state needs "
                                 "'epoch_rng'")
            # replay the epoch's permutation from the generator state at its start;
            # that leaves the generator exactly where it was when the state was taken
            self._gen.bit_generator.state = copy.deepcopy(state["epoch_rng"])
            self._order = self._new_order()
        else:
            self._gen.bit_generator.state = copy.deepcopy(state["rng"])
            self._epoch_state = copy.deepcopy(state["epoch_rng"])
            self._order = None
        self._resume = True
