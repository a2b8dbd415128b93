"""Gradient clipping and flat parameter vectors (``torch.nn.utils`` names).

Clipping rescales the gradients in place, after ``backward()`` and before
``optimizer.step()``, to keep one exploding step (common in recurrent nets) from wrecking
the weights.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from handgrad.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "parameters_to_vector",
           "vector_to_parameters"]


def _as_list(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        return [parameters]
    params = list(parameters)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"parameters[{i}] is a {type(p).__name__}, expected a Tensor "
                            f"(e.g. model.parameters())")
    return params


def _norm_type(norm_type: float | str) -> float:
    if isinstance(norm_type, str):
        if norm_type.lower() not in ("inf", "-inf"):
            raise ValueError(f"norm_type must be a number or 'inf', got {norm_type!r}")
        return float(norm_type)
    return float(norm_type)


def _vector_norm(x: np.ndarray, p: float) -> np.ndarray:
    """||x||_p of all elements, in x's dtype (p = inf: max |x_i|; p = 0: count of x_i != 0)."""
    a = np.abs(x.ravel())
    if a.size == 0:
        return np.zeros((), x.dtype)
    if p == math.inf:
        return a.max()
    if p == -math.inf:
        return a.min()
    if p == 0:
        return np.asarray(np.count_nonzero(a), dtype=x.dtype)
    if p == 1:
        return a.sum()
    if p == 2:
        return np.sqrt(np.dot(a, a))
    return np.sum(a**p) ** (1.0 / p)


def get_total_norm(tensors: Iterable[np.ndarray], norm_type: float | str = 2.0,
                   error_if_nonfinite: bool = False) -> np.ndarray:
    """||(||g_1||_p, ..., ||g_k||_p)||_p: the p-norm of all the arrays joined into one."""
    arrays = [np.asarray(t) for t in tensors]
    p = _norm_type(norm_type)
    if not arrays:
        return np.zeros((), np.float32)
    dtype = np.result_type(*arrays)
    norms = np.stack([_vector_norm(a, p).astype(dtype) for a in arrays])
    total = _vector_norm(norms, p)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"the total norm of order {norm_type} of the gradients is "
                           f"{float(total)}, so they cannot be clipped; set "
                           f"error_if_nonfinite=False to clip anyway")
    return total


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float,
                    norm_type: float | str = 2.0, error_if_nonfinite: bool = False) -> np.ndarray:
    r"""Rescale the gradients in place so that their joint norm is at most ``max_norm``.

    With g the concatenation of every ``p.grad`` (parameters without a gradient are
    skipped) and N = ||g||_p (``norm_type`` p; 'inf' gives max |g_i|)::

        c = min(1, max_norm / (N + 1e-6));   p.grad <- c * p.grad   for every parameter

    All gradients are scaled by the same c, so the direction of the update is kept. As
    PyTorch, the gradients are multiplied even when c = 1, and N is returned (the norm
    X (``float(n)`` or ``n.item()``).
    A non-finite N raises RuntimeError if ``error_if_nonfinite``.
    """
    import numbers

    if isinstance(max_norm, bool) or not isinstance(max_norm, numbers.Real):
        raise TypeError(f"clip_grad_norm_: max_norm must be a number, got "
                        f"{type(max_norm).__name__} {max_norm!r}")
    if not max_norm >= 0:  # (PyTorch accepts a negative one and flips every gradient)
        raise ValueError(f"clip_grad_norm_: max_norm must be >= 0 (the largest allowed "
                         f"gradient norm), got {max_norm}")
    params = [p for p in _as_list(parameters) if p.grad is not None]
    total = get_total_norm([p.grad for p in params], norm_type, error_if_nonfinite)
    if not params:
        return total
    one = total.dtype.type(1.0)
    coef = np.minimum(total.dtype.type(max_norm) / (total + total.dtype.type(1e-6)), one)
    with np.errstate(invalid="ignore"):  # an infinite N gives inf * 0 = nan, as in torch
        for p in params:
            c = coef.astype(p.grad.dtype)
            if p.grad.flags.writeable:
                p.grad *= c
            else:
                p.grad = p.grad * c
    return total


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient element into [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for p in _as_list(parameters):
        if p.grad is None:
            continue
        if p.grad.flags.writeable:
            np.clip(p.grad, -clip_value, clip_value, out=p.grad)
        else:
            p.grad = np.clip(p.grad, -clip_value, clip_value)


def parameters_to_vector(parameters: Iterable[Tensor]) -> np.ndarray:
    """All parameters flattened and joined into one 1-D array (a copy), in order."""
    params = _as_list(parameters)
    if not params:
        raise ValueError("parameters_to_vector: got no parameters")
    return np.concatenate([p.data.ravel() for p in params])


def vector_to_parameters(vec: np.ndarray | Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into the parameters (the inverse)."""
    arr = vec.data if isinstance(vec, Tensor) else np.asarray(vec)
    params = _as_list(parameters)
    total = sum(p.data.size for p in params)
    if arr.ndim != 1 or arr.size != total:
        raise ValueError(f"vector_to_parameters: vec must be 1-D with {total} elements (the "
                         f"parameters' total size), got shape {arr.shape}")
    offset = 0
    for p in params:
        n = p.data.size
        p.data[...] = arr[offset:offset + n].reshape(p.data.shape)
        offset += n
