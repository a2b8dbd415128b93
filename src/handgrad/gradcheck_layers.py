"""Checking class-based layers, the way "Deep Learning from Scratch" (1 and 2) writes them.

A layer object has ``forward(x, ...)`` and ``backward(dout)``; backward returns dx (or a
tuple) and leaves the parameters' gradients on the instance. Both conventions of the books
are found and every gradient is checked, by name:

* book 1: arrays ``W``, ``b`` (``gamma``, ``beta``, ...) with ``dW``, ``db`` set by backward;
* book 2: lists ``params`` and ``grads`` (``grads[i]`` is the gradient of ``params[i]``,
  often written in place with ``grads[0][...] = dW``), named by the attribute that holds
  the same array (``Wx``, ``Wh``, ``b``) when there is one.

Time layers (``TimeRNN``, ``TimeLSTM``, ``TimeGRU``) keep their hidden state between calls
when ``stateful``; the check calls ``reset_state()`` before every forward, so each
evaluation starts from the same state. A layer that computes in float32 whatever its
inputs (the books' time layers allocate ``np.empty(..., dtype='f')``) is checked at a
float32 step and tolerances, and the report says so.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from handgrad.gradcheck import (
    _finish,
    _float_outputs,
    _positional_count,
    _Problem,
    _run,
    _sizes,
    _Var,
)

__all__ = ["check_layer", "layer_parameters"]

# float32 settings: eps large enough that the central difference is not rounding noise
_F32 = {"eps": 1e-3, "atol": 1e-3, "rtol": 3e-2}


def layer_parameters(layer: Any) -> list[tuple[str, str, Any]]:
    """The layer's parameters as (name, kind, key): kind 'list' (key: index into
    params/grads) or 'attr' (key: the attribute, its gradient at 'd' + key)."""
    params = getattr(layer, "params", None)
    grads = getattr(layer, "grads", None)
    found: list[tuple[str, str, Any]] = []
    if isinstance(params, list | tuple) and isinstance(grads, list | tuple) and params:
        attrs = {id(v): k for k, v in vars(layer).items() if isinstance(v, np.ndarray)}
        for i, p in enumerate(params):
            found.append((attrs.get(id(p), f"params[{i}]"), "list", i))
        return found
    for key, value in vars(layer).items():
        if isinstance(value, np.ndarray) and value.dtype.kind == "f" and \
                hasattr(layer, "d" + key) and not key.startswith("d"):
            found.append((key, "attr", key))
    return found


class _LayerProblem(_Problem):
    def __init__(self, layer: Any, arrays: list[Any], checked: list[int],
                 in_vars: list[_Var], params: list[tuple[str, str, Any]]) -> None:
        self.layer = layer
        self.arrays = arrays
        self.checked = checked
        self.params = params
        self.notes = []
        self.lowp = []
        self.none_skips = False
        self.variables = list(in_vars)
        for name, kind, key in params:
            work = np.array(self._get(kind, key), dtype=np.float64, copy=True, order="C")
            self._set(kind, key, work)
            self.variables.append(_Var(name, "parameter", work, work.dtype))

    def _get(self, kind: str, key: Any) -> Any:
        return self.layer.params[key] if kind == "list" else getattr(self.layer, key)

    def _set(self, kind: str, key: Any, value: np.ndarray) -> None:
        if kind == "list":
            old = self.layer.params[key]
            self.layer.params[key] = value
            for attr, v in list(vars(self.layer).items()):  # aliases: self.W = params[0]
                if v is old:
                    setattr(self.layer, attr, value)
        else:
            setattr(self.layer, key, value)

    def _forward(self) -> Any:
        if callable(getattr(self.layer, "reset_state", None)):
            self.layer.reset_state()
        args = [a.copy() if isinstance(a, np.ndarray) else a for a in self.arrays]
        return self.layer.forward(*args)

    def evaluate(self) -> list[np.ndarray]:
        out = self._forward()
        return [np.asarray(o) for o in _float_outputs(out, [])
                if np.asarray(o).dtype.kind == "f" and np.asarray(o).size]

    def analytic(self, ups: list[np.ndarray]) -> list[np.ndarray | None]:
        self._forward()
        backward = self.layer.backward
        if len(ups) > 1 and (_positional_count(backward) or 0) >= len(ups):
            grads = backward(*ups)           # backward(dh, dc)
        elif len(ups) > 1:
            grads = backward(tuple(ups))
        elif ups[0].size == 1 and _takes_no_dout(backward):
            grads = backward()               # a loss layer: backward(dout=1)
        else:
            grads = backward(ups[0])
        if not isinstance(grads, tuple | list):
            grads = (grads,)
        grads = list(grads)
        n_float = len(self.checked)
        if len(grads) == len(self.arrays) and len(grads) != n_float:
            grads = [grads[i] for i in self.checked]
        grads = (grads + [None] * n_float)[:n_float]
        out: list[np.ndarray | None] = [None if g is None else np.array(g, copy=True)
                                        for g in grads]
        for _, kind, key in self.params:
            g = self.layer.grads[key] if kind == "list" else getattr(self.layer, "d" + key)
            out.append(None if g is None else np.array(g, copy=True))
        return out


def _takes_no_dout(fn: Any) -> bool:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    return all(p.default is not p.empty for p in params)


def _probe(layer: Any, arrays: list[Any]) -> None:
    """One forward and backward (upstream ones) on copies; errors surface later, in the
    check proper, where they are reported."""
    try:
        if callable(getattr(layer, "reset_state", None)):
            layer.reset_state()
        out = layer.forward(*[a.copy() if isinstance(a, np.ndarray) else a for a in arrays])
        outs = [np.asarray(o) for o in _float_outputs(out, [])]
        if len(outs) == 1 and outs[0].size == 1 and _takes_no_dout(layer.backward):
            layer.backward()
        elif len(outs) == 1:
            layer.backward(np.ones_like(outs[0]))
        elif outs:
            layer.backward(*[np.ones_like(o) for o in outs])
    except Exception:  # noqa: BLE001 - only a discovery step
        pass


def check_layer(layer: Any, inputs: Any, *, eps: float = 1e-6, atol: float = 1e-5,
                rtol: float = 1e-3, seed: int = 0, raise_exception: bool = True,
                names: list[str] | None = None) -> bool:
    """Check a class-based layer: dx from ``backward`` and every parameter gradient it
    leaves on the instance (``dW``, ``db``, ... or ``grads``), against central
    differences, with the report of :func:`handgrad.gradcheck`.

    ``inputs``: the arrays ``forward`` takes (integer ones, e.g. word ids or labels, are
    passed through unchecked). The layer's parameters are replaced by float64 copies for
    the check (the caller's arrays are not changed).
    """
    report = _layer_report(layer, inputs, eps=eps, atol=atol, rtol=rtol, seed=seed,
                           names=names)
    return _finish(report, f"{type(layer).__name__}.forward/backward", raise_exception, None)


def _layer_report(layer: Any, inputs: Any, *, eps: float, atol: float, rtol: float,
                  seed: int, names: list[str] | None) -> dict[str, Any]:
    if not (callable(getattr(layer, "forward", None)) and
            callable(getattr(layer, "backward", None))):
        raise TypeError(f"check_layer: {type(layer).__name__} needs forward and backward "
                        f"methods")
    items = list(inputs) if isinstance(inputs, tuple | list) else [inputs]
    try:
        arg_names = [p for p in inspect.signature(layer.forward).parameters][:len(items)]
    except (TypeError, ValueError):
        arg_names = []
    arg_names = list(names) if names else (arg_names + [f"x{i}" for i in
                                                        range(len(arg_names), len(items))])
    arrays: list[Any] = []
    checked: list[int] = []
    in_vars: list[_Var] = []
    for i, item in enumerate(items):
        arr = np.asarray(item) if isinstance(item, np.ndarray | float) else item
        if isinstance(arr, np.ndarray) and arr.dtype.kind == "f":
            work = np.array(arr, dtype=np.float64, copy=True, order="C")
            arrays.append(work)
            checked.append(i)
            in_vars.append(_Var(arg_names[i], "input", work, arr.dtype))
        else:
            arrays.append(arr)
    originals = {k: v for k, v in vars(layer).items()}
    saved_params = list(layer.params) if isinstance(getattr(layer, "params", None),
                                                    list) else None
    try:
        # a layer often creates dW/db only in its first backward: run one pair first, so
        # every parameter with a gradient is found (the state is given back afterwards)
        _probe(layer, arrays)
        params = layer_parameters(layer)
        problem = _LayerProblem(layer, arrays, checked, in_vars, params)
        if not problem.variables:
            raise ValueError(f"check_layer: {type(layer).__name__} has no float input and no "
                             f"parameters with gradients to check")
        outs0 = problem.evaluate()
        if any(o.dtype.itemsize < 8 for o in outs0 if o.dtype.kind == "f"):
            eps, atol, rtol = _F32["eps"], max(atol, _F32["atol"]), max(rtol, _F32["rtol"])
            problem.notes.append(
                f"the layer computes in float32 whatever its inputs (its output is "
                f"{outs0[0].dtype}): checked at a float32 step eps={eps:g} and tolerances "
                f"atol={atol:g}, rtol={rtol:g}; the verdict still holds for the math.")
        sizes = _sizes([(v.name, v.array.shape) for v in problem.variables], outs0, None,
                       ("", None))
        report = _run(problem, eps=eps, atol=atol, rtol=rtol, seed=seed, time_dim=None,
                      seq_shape=None, sizes=sizes, what="check_layer")
        checked_names = [name for name, _, _ in params]
        if checked_names:
            problem.notes.append(f"parameters checked by name: {', '.join(checked_names)}.")
        report["notes"] = list(problem.notes)
        report["style"] = "layer"
        return report
    finally:  # give the caller their layer back as it was
        for k in [k for k in vars(layer) if k not in originals]:
            delattr(layer, k)
        for k, v in originals.items():
            setattr(layer, k, v)
        if saved_params is not None:
            layer.params[:] = saved_params
