"""One seeded random generator for everything handgrad draws (initialisation, dropout,
shuffling), so ``manual_seed(n)`` makes a run repeatable, within and across processes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["manual_seed", "get_rng", "get_rng_state", "set_rng_state"]

_rng = np.random.default_rng(0)


def manual_seed(seed: int) -> np.random.Generator:
    """Seed handgrad's generator (PCG64). Returns it."""
    global _rng
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative integer, got {seed!r}")
    _rng = np.random.default_rng(int(seed))
    return _rng


def get_rng() -> np.random.Generator:
    """The generator in use (read it each time: manual_seed replaces it)."""
    return _rng


def get_rng_state() -> dict[str, Any]:
    """The generator's full state as a JSON-friendly dict (for checkpoints)."""
    return _rng.bit_generator.state


def set_rng_state(state: dict[str, Any]) -> None:
    _rng.bit_generator.state = state
