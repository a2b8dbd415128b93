"""Module and Parameter: how layers hold their weights, PyTorch-shaped.

A Module registers every Parameter and sub-Module assigned to it as an attribute, in
the order of assignment (so parameters, state dicts and checkpoints are always listed in
the same order: no set or hash order anywhere). ``state_dict()`` uses PyTorch's dotted
key names (``features.0.weight``) and layouts, so weights move between handgrad and
torch.nn as plain arrays.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

from handgrad.tensor import Tensor

__all__ = ["Module", "Parameter", "StateDictError", "IncompatibleKeys"]


class StateDictError(ValueError):
    """load_state_dict found missing/unexpected keys or wrongly shaped arrays."""


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(strict=False)`` skipped (torch's ``_IncompatibleKeys``)."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Parameter(Tensor):
    """A Tensor that is a learnable weight of a Module (requires_grad=True by default)."""

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        if isinstance(data, Tensor):
            data = data.data
        arr = np.asarray(data)
        if arr.dtype.kind != "f":
            raise TypeError(f"Parameter: data must be a floating-point array, got dtype "
                            f"{arr.dtype}")
        super().__init__(arr, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of all layers and models. Subclasses define ``forward``."""

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # -- registration ----------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before "
                                 f"assigning attributes (got {name!r})")
        if name in self._buffers and not isinstance(value, Parameter | Module):
            # Re-assigning a buffer (``self.running_mean = new``) keeps it a buffer.
            self._buffers[name] = _buffer_array(value, name)
            object.__setattr__(self, name, self._buffers[name])
            return
        if (name in self._parameters and value is not None
                and not isinstance(value, Parameter)):
            # Dropping a weight out of parameters()/state_dict() silently would be worse.
            raise TypeError(f"{type(self).__name__}: cannot assign a "
                            f"{type(value).__name__} to parameter {name!r}; wrap it in "
                            f"nn.Parameter (or assign None, or change .data)")
        was_param = name in self._parameters
        for table in (self._parameters, self._buffers, self._modules):
            table.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif value is None and (was_param or name in self.__dict__.get("_none_params", ())):
            self._parameters[name] = None  # a disabled parameter (e.g. bias=False)
        object.__setattr__(self, name, value)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or None, e.g. a disabled bias, kept out of state_dict)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None, "
                            f"got {type(param).__name__}")
        if param is None:
            self.__dict__.setdefault("_none_params", set()).add(name)
        setattr(self, name, param)

    def register_buffer(self, name: str, array: Any) -> None:
        """A non-learnable array saved in state_dict (e.g. batch norm's running mean).

        Stored as an np.ndarray (a Tensor is unwrapped); assigning to the attribute later
        keeps it a buffer.
        """
        if "_parameters" not in self.__dict__:
            raise AttributeError("call super().__init__() before register_buffer")
        if name in self._parameters or name in self._modules:
            raise KeyError(f"register_buffer: {name!r} is already a parameter or submodule")
        arr = _buffer_array(array, name)
        object.__setattr__(self, name, arr)
        self._buffers[name] = arr

    def add_module(self, name: str, module: Module | None) -> None:
        """Register a submodule under ``name`` (same as ``setattr(self, name, module)``)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module or None, got "
                            f"{type(module).__name__}")
        if module is None:
            object.__setattr__(self, name, None)
            self._modules[name] = None
        else:
            setattr(self, name, module)

    register_module = add_module

    def __delattr__(self, name: str) -> None:
        for table in (self._parameters, self._buffers, self._modules):
            table.pop(name, None)
        object.__delattr__(self, name)

    def _sync_buffers(self) -> None:
        for name in self._buffers:
            self._buffers[name] = _buffer_array(self.__dict__[name], name)

    # -- calling -----------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # -- traversal ---------------------------------------------------------------------
    def named_modules(self, prefix: str = "", remove_duplicate: bool = True
                      ) -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for this module and every submodule, depth first in
        assignment order; a module shared at several places is listed once (as torch)."""
        seen: set[int] | None = set() if remove_duplicate else None
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:  # iterative: deep nets (thousands of layers) need no recursion
            name, module = stack.pop()
            if seen is not None:
                if id(module) in seen:
                    continue
                seen.add(id(module))
            yield name, module
            kids = [(f"{name}.{k}" if name else k, m) for k, m in module._modules.items()
                    if m is not None]
            stack.extend(reversed(kids))

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        yield from ((k, m) for k, m in self._modules.items() if m is not None)

    def children(self) -> Iterator[Module]:
        yield from (m for m in self._modules.values() if m is not None)

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        seen: set[int] = set()
        for mod_name, module in self.named_modules(prefix):
            for name, p in module._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self) -> Iterator[Parameter]:
        for _, p in self.named_parameters():
            yield p

    def named_buffers(self) -> Iterator[tuple[str, np.ndarray]]:
        for mod_name, module in self.named_modules():
            module._sync_buffers()
            for name, b in module._buffers.items():
                if b is not None:
                    yield (f"{mod_name}.{name}" if mod_name else name), b

    def buffers(self) -> Iterator[np.ndarray]:
        for _, b in self.named_buffers():
            yield b

    # -- state -------------------------------------------------------------------------
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Parameters and buffers as {dotted name: np.ndarray copy}, PyTorch's keys/layouts."""
        out: OrderedDict[str, np.ndarray] = OrderedDict()
        for mod_name, module in self.named_modules(remove_duplicate=False):
            module._sync_buffers()
            for name, p in module._parameters.items():
                if p is not None:
                    out[f"{mod_name}.{name}" if mod_name else name] = p.data.copy()
            for name, b in module._buffers.items():
                if b is not None:
                    out[f"{mod_name}.{name}" if mod_name else name] = np.array(b, copy=True)
        return out

    def load_state_dict(self, state_dict: Any, strict: bool = True) -> IncompatibleKeys:
        """Copy arrays (np.ndarray, Tensors, or anything with ``.numpy()``, e.g. torch
        tensors) into the parameters and buffers, keeping this model's dtypes.

        With ``strict`` any missing or unexpected key, and any shape mismatch, raises
        :class:`StateDictError` listing them all; nothing is changed in that case.
        Shape mismatches raise even when not strict (as torch). Values are copied into
        the existing arrays (in place), so views of ``p.data`` and optimizer state stay
        attached. Returns ``IncompatibleKeys(missing_keys, unexpected_keys)``.
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"load_state_dict: expected a dict of arrays, got "
                            f"{type(state_dict).__name__}")
        targets: dict[str, tuple[Module, str, bool]] = {}
        for mod_name, module in self.named_modules(remove_duplicate=False):
            module._sync_buffers()
            for table, is_param in ((module._parameters, True), (module._buffers, False)):
                for name, value in table.items():
                    if value is not None:
                        targets[f"{mod_name}.{name}" if mod_name else name] = (module, name,
                                                                               is_param)
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict if k not in targets]
        arrays: dict[str, np.ndarray] = {}
        wrong_shape = []
        for key in targets:
            if key not in state_dict:
                continue
            arr = _to_numpy(state_dict[key], key)
            module, name, is_param = targets[key]
            current = getattr(module, name)
            current_arr = current.data if isinstance(current, Tensor) else np.asarray(current)
            if arr.shape != current_arr.shape:
                wrong_shape.append(f"{key}: expected shape {current_arr.shape}, got {arr.shape}")
            arrays[key] = arr
        problems = []
        if strict and missing:
            problems.append(f"missing keys: {missing}")
        if strict and unexpected:
            problems.append(f"unexpected keys: {unexpected}")
        if wrong_shape:
            problems.append("wrong shapes: " + "; ".join(wrong_shape))
        if problems:
            raise StateDictError(f"load_state_dict for {type(self).__name__}: " +
                                 " | ".join(problems))
        for key, arr in arrays.items():
            module, name, is_param = targets[key]
            current = getattr(module, name)
            dest = current.data if is_param else current
            if dest.flags.writeable:
                np.copyto(dest, arr, casting="unsafe")  # keep this model's dtype
                if is_param:
                    current._version_counter[0] += 1
            elif is_param:
                current.data = arr.astype(dest.dtype, copy=True)
            else:
                setattr(module, name, arr.astype(dest.dtype, copy=True))
        return IncompatibleKeys(missing, unexpected)

    # -- modes and dtypes -------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active, batch norm uses batch statistics) for this
        module and every submodule; ``train(False)`` is ``eval()``."""
        if not isinstance(mode, bool):
            raise TypeError(f"train: mode must be a bool, got {type(mode).__name__}")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad[...] = 0

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def to(self, dtype: Any) -> Module:
        """Cast every floating parameter (and its grad) and floating buffer to ``dtype``.

        The Parameter objects stay the same (their ``.data`` is replaced), so an optimizer
        built before the cast keeps updating them (handgrad's optimizers cast their state).
        """
        if isinstance(dtype, str) and dtype.split(":")[0] in ("cpu", "cuda", "mps", "xpu"):
            if dtype == "cpu":
                return self
            raise TypeError(f"Module.to({dtype!r}): handgrad runs on the CPU only (NumPy); "
                             f"there is no {dtype!r} device. Pass a dtype, e.g. np.float64")
        try:
            dt = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"Module.to: dtype {dtype!r} is not a NumPy dtype; pass e.g. "
                            f"np.float32 or 'float64'") from None
        if dt.kind != "f":
            raise TypeError(f"Module.to: dtype must be a floating-point type, got {dt}")
        for m in self.modules():
            for p in m._parameters.values():
                if p is not None:
                    p.data = p.data.astype(dt)
                    if p.grad is not None:
                        p.grad = p.grad.astype(dt)
            m._sync_buffers()
            for name, b in list(m._buffers.items()):
                if b is not None and b.dtype.kind == "f":
                    setattr(m, name, b.astype(dt))
        return self

    def float(self) -> Module:
        return self.to(np.float32)

    def double(self) -> Module:
        return self.to(np.float64)

    def apply(self, fn: Any) -> Module:
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def num_parameters(self) -> int:
        return sum(p.data.size for p in self.parameters())

    # -- printing ----------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        children = list(self._modules.items())
        if not children:
            return lines[0] + ")"
        for name, child in children:
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return "\n".join(lines) + "\n)"


def _buffer_array(value: Any, name: str) -> Any:
    if value is None or isinstance(value, np.ndarray):
        return value
    if isinstance(value, Tensor):
        return value.data
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"buffer {name!r} must be a numeric array, got {type(value).__name__}")
    return arr


def _to_numpy(value: Any, key: str) -> np.ndarray:
    if isinstance(value, Tensor):
        arr = value.data
    elif isinstance(value, np.ndarray):
        arr = value
    elif hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch.Tensor
        arr = value.detach().cpu().numpy()
    else:
        arr = np.asarray(value)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"load_state_dict: value for {key!r} is not a real numeric array "
                        f"({type(value).__name__} of dtype {arr.dtype})")
    return arr
