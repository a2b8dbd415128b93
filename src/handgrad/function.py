"""Function: the unit of differentiation, and the switch that turns graph recording off.

Every operation in handgrad is a subclass of :class:`Function` with two static methods
standing side by side::

    class Tanh(Function):
        '''y = tanh(x);  dL/dx = dL/dy * (1 - y^2)'''

        @staticmethod
        def forward(ctx, x):
            y = np.tanh(x)
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, dy):
            (y,) = ctx.saved_arrays
            return dy * (1 - y * y)

``forward`` receives plain NumPy arrays and returns an array (or a tuple of arrays);
``backward`` receives the upstream gradient dL/d(output) for each output and returns
dL/d(input) for each positional input (``None`` where there is none). Keyword
arguments of ``apply`` are settings (stride, dim, ...), never differentiated.

The same class is usable without any graph, the way CS231n and "Deep Learning from
Scratch" write layers (the "layer-by-layer door")::

    out, cache = Tanh.layer_forward(x)
    dx = Tanh.layer_backward(dout, cache)

so a learner can diff their own NumPy code against it; ``apply`` runs the very same
``forward``/``backward`` and records a node of the graph.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from handgrad.tensor import Tensor

__all__ = [
    "Context",
    "Function",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "is_grad_enabled",
]


class _GradMode(threading.local):
    enabled = True


_grad_mode = _GradMode()


def is_grad_enabled() -> bool:
    """True when operations record the graph (the default)."""
    return _grad_mode.enabled


@contextlib.contextmanager
def set_grad_enabled(mode: bool) -> Iterator[None]:
    previous = _grad_mode.enabled
    _grad_mode.enabled = bool(mode)
    try:
        yield
    finally:
        _grad_mode.enabled = previous


def no_grad() -> contextlib.AbstractContextManager[None]:
    """Context manager: inside it no graph is recorded (evaluation, parameter updates)."""
    return set_grad_enabled(False)


def enable_grad() -> contextlib.AbstractContextManager[None]:
    return set_grad_enabled(True)


class Context:
    """What ``forward`` leaves for ``backward``: saved arrays and any other attributes.

    ``needs_input_grad[i]`` tells ``backward`` whether input i wants a gradient, so it
    can skip work (a first convolution layer needs no dL/dx, for instance).
    """

    __slots__ = ("saved_arrays", "needs_input_grad", "__dict__")

    def __init__(self, needs_input_grad: tuple[bool, ...] = ()) -> None:
        self.saved_arrays: tuple[Any, ...] = ()
        self.needs_input_grad = needs_input_grad

    def save_for_backward(self, *arrays: Any) -> None:
        self.saved_arrays = arrays

    if TYPE_CHECKING:  # forward may leave any attribute (ctx.shapes, ctx.geom ...)
        def __getattr__(self, name: str) -> Any: ...

        def __setattr__(self, name: str, value: Any) -> None: ...

    @property
    def saved_tensors(self) -> tuple[Any, ...]:
        """PyTorch's name for :attr:`saved_arrays` (here they are NumPy arrays)."""
        return self.saved_arrays


class Node:
    """One recorded application of a Function: the vertex of the graph ``backward`` walks.

    ``inputs`` are the Tensors the function was applied to; ``out_grads`` collects the
    upstream gradient of each output while the backward pass runs.
    """

    __slots__ = ("function", "ctx", "inputs", "n_outputs", "out_grads", "out_meta", "freed",
                 "trace", "saved_versions")

    def __init__(self, function: type[Function], ctx: Context, inputs: tuple[Tensor, ...],
                 outputs: tuple[Tensor, ...]) -> None:
        self.function = function
        self.ctx = ctx
        self.inputs = inputs
        self.n_outputs = len(outputs)
        self.out_grads: list[np.ndarray | None] = [None] * self.n_outputs
        # shapes and dtypes of several outputs, to make zero gradients for unused ones
        self.out_meta = None if self.n_outputs == 1 else [(t.shape, t.dtype) for t in outputs]
        self.freed = False
        self.trace: str | None = None
        # (version counter, version when saved, what) of every input or output whose
        # array ``forward`` saved for backward; None when it saved none of them
        self.saved_versions: list[tuple[Any, ...]] | None = None

    @property
    def name(self) -> str:
        return self.function.__name__

    def __repr__(self) -> str:
        return f"<{self.name}Backward>"


# A hook the anomaly detector installs (handgrad.anomaly); None keeps apply() free of cost.
_anomaly_hook: Any = None


class Function:
    """Base class of every differentiable operation. See the module docstring."""

    @staticmethod
    def forward(ctx: Context, *arrays: Any, **settings: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, *grad_outputs: np.ndarray) -> Any:
        raise NotImplementedError

    # -- the layer-by-layer door: the same forward/backward with no graph ----------------
    @classmethod
    def layer_forward(cls, *arrays: Any, **settings: Any) -> tuple[Any, Context]:
        """Run ``forward`` on arrays; return ``(out, cache)`` as CS231n's layers do."""
        ctx = Context((True,) * len(arrays))
        out = cls.forward(ctx, *arrays, **settings)
        return out, ctx

    @classmethod
    def layer_backward(cls, dout: Any, cache: Context) -> Any:
        """Run ``backward`` on the cache from :meth:`layer_forward`; return the input grads."""
        if isinstance(dout, tuple):
            return cls.backward(cache, *dout)
        return cls.backward(cache, dout)

    # -- the graph door ----------------------------------------------------------------
    @classmethod
    def apply(cls, *inputs: Any, **settings: Any) -> Any:
        """Apply the function to Tensors (or arrays/numbers, taken as constants).

        Returns a Tensor (or a tuple of Tensors for several outputs) that remembers this
        application when any input requires a gradient and grad mode is on.
        """
        # The hot path of every op: list comprehensions (not generators), one pass per
        # list, no import, and no Node at all when nothing needs a gradient. Measured
        # ~20% less overhead per op than the first version (see the core's commit log).
        tensor_cls = _TENSOR or _tensor_class()
        if _grad_mode.enabled:
            needs = tuple([isinstance(x, tensor_cls) and x.requires_grad for x in inputs])
            requires = True in needs
        else:
            requires = False
        arrays = [x.data if isinstance(x, tensor_cls) else x for x in inputs]
        ctx = Context(needs if requires else _no_needs(len(inputs)))
        out = cls.forward(ctx, *arrays, **settings)

        wrap = tensor_cls._wrap
        node = None
        if type(out) is tuple:
            outs = tuple([wrap(o, requires) for o in out])
            if requires:
                node = Node(cls, ctx, tuple([x if isinstance(x, tensor_cls) else None
                                             for x in inputs]), outs)
                for index, t in enumerate(outs):
                    t.grad_fn = node
                    t._output_index = index
                if ctx.saved_arrays:
                    node.saved_versions = _saved_versions(ctx.saved_arrays, node.inputs, outs)
            if _anomaly_hook is not None:
                _anomaly_hook.after_forward(cls, inputs, outs, node)
            return outs
        result = wrap(out, requires)
        if requires:
            node = Node(cls, ctx, tuple([x if isinstance(x, tensor_cls) else None
                                         for x in inputs]), (result,))
            result.grad_fn = node
            if ctx.saved_arrays:
                node.saved_versions = _saved_versions(ctx.saved_arrays, node.inputs, (result,))
        if _anomaly_hook is not None:
            _anomaly_hook.after_forward(cls, inputs, (result,), node)
        return result


def _saved_versions(saved: tuple[Any, ...], inputs: tuple[Any, ...], outputs: tuple[Any, ...]
                    ) -> list[tuple[Any, ...]] | None:
    """The version counters of the inputs and outputs whose arrays (or views of them)
    ``forward`` saved, with their versions now: backward compares them (tensor.py).

    Each entry is (counter, version, "input" or "output", position, shape, dtype); the
    message is only formatted if it is ever needed (this runs for every recorded op)."""
    found = None
    tensors = inputs + outputs
    n_inputs = len(inputs)
    for s in saved:
        if type(s) is not np.ndarray:
            continue
        b = s.base
        for position, t in enumerate(tensors):
            if t is None:
                continue
            d = t.data
            if s is d or (b is not None and (b is d or b is d.base)):
                if found is None:
                    found = []
                counter = t._version_counter
                kind, index = (("input", position) if position < n_inputs
                               else ("output", position - n_inputs))
                found.append((counter, counter[0], kind, index, d.shape, d.dtype))
    return found


_NO_NEEDS = [(False,) * n for n in range(9)]


def _no_needs(n: int) -> tuple[bool, ...]:
    return _NO_NEEDS[n] if n < 9 else (False,) * n


_TENSOR: Any = None


def _tensor_class() -> Any:
    """handgrad.tensor.Tensor, looked up once (it imports this module, so not at the top)."""
    global _TENSOR
    if _TENSOR is None:
        from handgrad.tensor import Tensor

        _TENSOR = Tensor
    return _TENSOR
