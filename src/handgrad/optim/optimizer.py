"""The optimizer base class: parameter groups, per-parameter state, state dicts.

An optimizer holds ``param_groups``, a list of dicts, each with ``'params'`` (a list of
Parameters) and that group's hyperparameters (``'lr'``, ``'momentum'`` ...); any
hyperparameter a group does not name is taken from the optimizer's ``defaults``. This is
PyTorch's layout, so ``opt.param_groups[0]['lr'] = 0.01`` and the schedulers work the same.

``state`` maps each parameter (by identity) to a dict of its running quantities (momentum
buffers, moment estimates, step counts). Updates are applied in place on ``p.data`` with
vectorised NumPy, in the parameter's own dtype: hyperparameters are turned into Python
floats before use, and NumPy keeps ``float32_array * python_float`` in float32.

State-dict layout (as torch.optim, and savable without pickle as JSON + arrays)::

    {
      'state': {param_index: {name: np.ndarray | int | float}},   # only params with state
      'param_groups': [{'lr': float, ..., 'params': [param_index, ...]}, ...],
    }

``param_index`` numbers the parameters 0, 1, 2 ... in the order they appear across the
groups. The values are only arrays (copies), ints, floats, bools, strings, None and tuples
of numbers, so the dict can be written as JSON plus an ``.npz`` of the arrays;
``load_state_dict`` accepts the indices as ints or as strings (JSON keys), lists where
tuples were saved, and PyTorch tensors (anything with ``.numpy()``), so a state dict of
``torch.optim`` with the same layout loads too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from handgrad.tensor import Tensor

__all__ = ["Optimizer", "ParamState", "ParamsT"]

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]]


class ParamState(dict):
    """Per-parameter state, looked up by the parameter itself (``opt.state[p]``, as in
    torch) or by ``id(p)``; stored under ``id(p)`` so Tensor's elementwise ``==`` never
    takes part in the lookup."""

    @staticmethod
    def _key(key: Any) -> Any:
        return id(key) if isinstance(key, Tensor) else key

    def __getitem__(self, key: Any) -> Any:
        return super().__getitem__(self._key(key))

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(self._key(key), value)

    def __contains__(self, key: object) -> bool:
        return super().__contains__(self._key(key))

    def __delitem__(self, key: Any) -> None:
        super().__delitem__(self._key(key))

    def get(self, key: Any, default: Any = None) -> Any:
        return super().get(self._key(key), default)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        return super().setdefault(self._key(key), default)


class Optimizer:
    """Base class. Subclasses set ``defaults`` and implement ``_update(p, grad, state, group)``.

    Args:
        params: an iterable of Parameters (one group), or of dicts each holding
            ``'params'`` and per-group hyperparameters.
        defaults: the hyperparameters a group gets when it does not name them.
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        self.defaults: dict[str, Any] = dict(defaults)
        self.state: ParamState = ParamState()  # param -> that param's state
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of Parameters "
                            f"or of dicts, got a single Tensor (wrap it in a list)")
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        return "\n".join(lines) + "\n)"

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters (e.g. a layer unfrozen later) with its own settings."""
        if not isinstance(param_group, dict):
            raise TypeError(f"add_param_group: expected a dict, got "
                            f"{type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError("add_param_group: the dict must have a 'params' entry")
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}: params[{i}] is a "
                                f"{type(p).__name__}; optimizers take Parameters/Tensors")
            if not p.is_leaf:
                raise ValueError(f"{type(self).__name__}: params[{i}] (shape {p.shape}) is "
                                 f"not a leaf tensor; it cannot be optimized")
            if p.data.dtype.kind != "f":
                raise TypeError(f"{type(self).__name__}: params[{i}] has dtype "
                                f"{p.data.dtype}; only floating-point parameters train")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{type(self).__name__}: a parameter appears twice in one group")
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in existing for p in params):
            raise ValueError(f"{type(self).__name__}: some parameters appear in more than "
                             f"one parameter group")
        group = dict(param_group)
        group["params"] = params
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._check_group(group)
        self.param_groups.append(group)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Validate one group's hyperparameters (subclasses extend)."""
        lr = group.get("lr", 0.0)
        if not isinstance(lr, int | float | np.floating | np.integer) or not lr >= 0:
            raise ValueError(f"{type(self).__name__}: lr must be a number >= 0, got {lr!r}")

    # -- gradients -------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: ``p.grad = None`` (default) or fill them with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                elif p.grad.flags.writeable:
                    p.grad.fill(0)
                else:
                    p.grad = np.zeros_like(p.data)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient (``p.grad is not None``).

        ``closure`` (optional) re-evaluates the model and returns the loss; it is called
        first and its value returned, as in torch.optim.
        """
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = np.asarray(p.grad)
                if grad.shape != p.data.shape:
                    raise ValueError(f"{type(self).__name__}.step: a gradient has shape "
                                     f"{grad.shape} but its parameter has shape "
                                     f"{p.data.shape}; they must match")
                if grad.dtype != p.data.dtype:  # never upcast the parameter
                    grad = grad.astype(p.data.dtype)
                if not p.data.flags.writeable:
                    p.data = p.data.copy()
                arr = p.data
                if arr.ndim == 0:
                    # NumPy ufuncs turn 0-d arrays into scalars (no in-place, no indexing):
                    # update through a 1-element view; the state keeps shape (1,) inside.
                    arr, grad = arr.reshape(1), grad.reshape(1)
                state = self.state.setdefault(id(p), {})
                for k, v in state.items():  # the model was cast (.double()) after a step
                    if isinstance(v, np.ndarray) and v.dtype != arr.dtype:
                        state[k] = v.astype(arr.dtype)
                self._update(arr, grad, state, group)
                p._version_counter[0] += 1  # an in-place update: saved graphs notice
        return loss

    def _update(self, p: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        """Update the array ``p`` in place from ``grad`` (do not modify ``grad``)."""
        raise NotImplementedError

    # -- state dicts -----------------------------------------------------------------------
    def _all_params(self) -> list[Tensor]:
        return [p for g in self.param_groups for p in g["params"]]

    def state_dict(self) -> dict[str, Any]:
        """{'state': {index: {name: array|number}}, 'param_groups': [... 'params': indices]}.

        Arrays are copies, so later steps do not change a saved state dict.
        """
        index = {id(p): i for i, p in enumerate(self._all_params())}
        state: dict[int, dict[str, Any]] = {}
        for p in self._all_params():
            s = self.state.get(id(p))
            if s:
                state[index[id(p)]] = {
                    k: (v.reshape(p.data.shape).copy()
                        if isinstance(v, np.ndarray) and v.size == p.data.size else
                        v.copy() if isinstance(v, np.ndarray) else v)
                    for k, v in s.items()}
        groups = []
        for g in self.param_groups:
            saved = {k: v for k, v in g.items() if k != "params"}
            saved["params"] = [index[id(p)] for p in g["params"]]
            groups.append(saved)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyperparameters and per-parameter state saved by :meth:`state_dict`.

        The groups must have the same sizes as this optimizer's. Arrays are copied and
        cast to their parameter's dtype. Everything is checked before anything changes.
        """
        if not isinstance(state_dict, dict) or "param_groups" not in state_dict:
            raise TypeError("load_state_dict: expected a dict with 'state' and 'param_groups'")
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"load_state_dict: the state dict has {len(saved_groups)} "
                             f"parameter groups, this optimizer has {len(self.param_groups)}")
        for i, (g, s) in enumerate(zip(self.param_groups, saved_groups, strict=True)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError(f"load_state_dict: parameter group {i} holds "
                                 f"{len(s['params'])} parameters in the state dict but "
                                 f"{len(g['params'])} here")
        by_index: dict[int, Tensor] = {}
        for g, s in zip(self.param_groups, saved_groups, strict=True):
            for p, idx in zip(g["params"], s["params"], strict=True):
                by_index[int(idx)] = p
        new_state: dict[int, dict[str, Any]] = {}
        for key, values in dict(state_dict.get("state", {})).items():
            idx = int(key)
            if idx not in by_index:
                raise ValueError(f"load_state_dict: state for parameter index {idx}, which "
                                 f"no group lists")
            p = by_index[idx]
            converted: dict[str, Any] = {}
            for name, value in values.items():
                converted[name] = _restore_value(name, value, p)
            new_state[id(p)] = converted
        new_groups = []
        for g, s in zip(self.param_groups, saved_groups, strict=True):
            group = {"params": g["params"]}
            for k, v in s.items():
                if k == "params":
                    continue
                if isinstance(g.get(k), tuple) and isinstance(v, list):
                    v = tuple(v)  # JSON turned the tuple (betas, etas ...) into a list
                group[k] = v
            for k, v in g.items():
                group.setdefault(k, v)
            new_groups.append(group)
        self.state = ParamState(new_state)
        for g, new in zip(self.param_groups, new_groups, strict=True):
            g.clear()
            g.update(new)


def _restore_value(name: str, value: Any, p: Tensor) -> Any:
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch.Tensor
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        if value.ndim == 0 and name == "step":  # torch keeps the step count as a tensor
            return int(value)
        if value.shape != p.data.shape:
            raise ValueError(f"load_state_dict: state {name!r} has shape {value.shape} but "
                             f"its parameter has shape {p.data.shape}")
        out = value.astype(p.data.dtype) if value.dtype.kind == "f" else value.copy()
        return out.reshape(1) if out.ndim == 0 else out  # 0-d params: see step()
    if isinstance(value, list):  # an array that went through JSON
        return _restore_value(name, np.asarray(value, dtype=p.data.dtype), p)
    if isinstance(value, float) and name == "step" and math.isfinite(value):
        return int(value)
    return value


def lerp_(start: np.ndarray, end: np.ndarray, weight: float) -> np.ndarray:
    """start <- start + weight * (end - start), in place, rounded the way torch.lerp_ is.

    For weight < 0.5 the update is ``start + w (end - start)``; otherwise it is
    ``end - (end - start)(1 - w)``, which is exact at w = 1. (Same value in exact
    arithmetic; matching the form keeps float32 runs identical to PyTorch's.)
    """
    diff = end - start
    if weight < 0.5:
        diff *= weight
        start += diff
    else:
        diff *= 1.0 - weight
        np.subtract(end, diff, out=start)
    return start


def check_non_negative(value: Any, name: str, owner: str) -> float:
    """A hyperparameter that must be a finite or infinite number >= 0, as a Python float."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{owner}: {name} must be a number, got {type(value).__name__}")
    if not value >= 0.0:
        raise ValueError(f"{owner}: {name} must be >= 0, got {value}")
    return float(value)
