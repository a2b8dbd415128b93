"""Argument types shared by every command: one rule, one message, everywhere.

``argparse`` calls these on the option's text; a bad value becomes the one-line error
``handgrad COMMAND: error: argument --lr: must be a positive finite number, got 'inf'``
and exit status 2, before anything (an output folder, a download, a model) is made.
"""

from __future__ import annotations

import argparse
import math


def _int(text: str, rule: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {rule}, got {text!r}") from None


def _float(text: str, rule: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {rule}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be {rule}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1 (counts: epochs, steps, sizes, '--every N' periods)."""
    value = _int(text, "a positive integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def nonnegative_int(text: str) -> int:
    """An integer >= 0 (seeds; periods where 0 means 'never')."""
    value = _int(text, "an integer >= 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0 (learning rates, temperatures, step sizes, tolerances)."""
    value = _float(text, "a positive finite number")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text!r}")
    return value


def nonnegative_float(text: str) -> float:
    """A finite number >= 0 (a final learning rate, a clipping norm where 0 means off)."""
    value = _float(text, "a finite number >= 0")
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value
