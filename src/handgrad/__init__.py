"""handgrad: a deep-learning library whose every gradient is derived by hand in NumPy.

Quick tour::

    import handgrad as hg
    x = hg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * x).sum()          # y = sum x_i^2
    y.backward()               # dy/dx_i = 2 x_i
    x.grad                     # array([2., 4., 6.], dtype=float32)
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from handgrad import ops  # noqa: F401  (installs the Tensor operators)
from handgrad.creation import (
    arange,
    eye,
    from_numpy,
    full,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    zeros,
    zeros_like,
)
from handgrad.function import Function, enable_grad, is_grad_enabled, no_grad, set_grad_enabled

# The function, not the module, is what `handgrad.gradcheck` names (as in
# torch.autograd.gradcheck): imported eagerly so a later `import handgrad.gradcheck`
# cannot rebind the attribute to the submodule.
from handgrad.gradcheck import GradcheckError, check_backward, gradcheck
from handgrad.random import get_rng, manual_seed
from handgrad.tensor import Tensor, get_default_dtype, set_default_dtype, tensor

__version__ = "0.1.0"

__all__ = [
    "Tensor", "tensor", "Function", "no_grad", "enable_grad", "set_grad_enabled",
    "is_grad_enabled", "manual_seed", "get_rng", "get_default_dtype", "set_default_dtype",
    "zeros", "ones", "full", "eye", "arange", "randn", "rand", "randint", "zeros_like",
    "ones_like", "from_numpy", "cat", "stack", "where", "maximum",
    "gradcheck", "check_backward", "GradcheckError", "save", "load", "detect_anomaly",
    "CheckpointError",
]


def cat(tensors: list[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dim (torch.cat)."""
    _check_sequence(tensors, "cat")
    return ops.Concat.apply(*tensors, dim=dim)


def stack(tensors: list[Tensor], dim: int = 0) -> Tensor:
    """Stack same-shaped tensors along a new dim (torch.stack)."""
    _check_sequence(tensors, "stack")
    return ops.Stack.apply(*tensors, dim=dim)


def _check_sequence(tensors: Any, fn: str) -> None:
    if not isinstance(tensors, list | tuple):
        raise TypeError(f"{fn}: tensors must be a list or tuple of tensors, got "
                        f"{type(tensors).__name__}")


def where(condition: Any, x: Any, y: Any) -> Tensor:
    """x where condition, else y (torch.where); the three shapes broadcast together."""
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be a boolean tensor (e.g. x > 0), got "
                        f"dtype {cond.dtype} with shape {cond.shape}")
    shapes = [cond.shape] + [np.shape(v.data if isinstance(v, Tensor) else v) for v in (x, y)]
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(f"where: condition, x and y have shapes {shapes[0]}, {shapes[1]} "
                         f"and {shapes[2]}, which cannot be broadcast together. Rule: align "
                         f"the shapes from the right; each set of sizes must be equal or "
                         f"1") from None
    return ops.Where.apply(cond, x, y)


def maximum(x: Any, y: Any) -> Tensor:
    return ops.Maximum.apply(x, y)


# Heavier parts load on first use, so `import handgrad` stays fast and the core never
# imports the edge: name -> module that defines it.
_LAZY = {
    "save": "handgrad.io",
    "load": "handgrad.io",
    "CheckpointError": "handgrad.io",
    "io": "handgrad.io",
    "detect_anomaly": "handgrad.anomaly",
    "nn": "handgrad.nn",
    "optim": "handgrad.optim",
    "data": "handgrad.data",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        return module if module.__name__ == f"handgrad.{name}" else getattr(module, name)
    raise AttributeError(f"module 'handgrad' has no attribute {name!r}")
