"""Tensor: one NumPy array, its gradient, and the node of the graph that produced it.

The whole of reverse-mode automatic differentiation is in :meth:`Tensor.backward`:

1. walk the graph from the output back to the leaves and list the nodes in
   topological order (iterative depth-first search, so a graph 100,000 nodes deep
   needs no recursion);
2. visit them in reverse order; each node's Function turns dL/d(outputs) into
   dL/d(inputs) (the chain rule), which are added to what the inputs already received
   (a tensor used twice gets the sum of both paths);
3. leaves that require a gradient accumulate it into ``.grad``, as in PyTorch.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from handgrad.function import Node

__all__ = ["Tensor", "tensor", "as_array", "get_default_dtype", "set_default_dtype"]

_default_dtype: np.dtype = np.dtype(np.float32)


def get_default_dtype() -> np.dtype:
    """The dtype given to tensors made from Python floats (float32, as in PyTorch)."""
    return _default_dtype


def set_default_dtype(dtype: Any) -> None:
    global _default_dtype
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"set_default_dtype: dtype must be a floating type, got {dt}")
    _default_dtype = dt


def _describe_object_array(arr: np.ndarray) -> str:
    sample = next((x for x in arr.flat if not isinstance(x, numbers.Number | np.generic)), None)
    if sample is None and arr.size:
        sample = arr.flat[0]
    kind = type(sample).__module__ + "." + type(sample).__qualname__
    return (
        f"an array of Python objects (dtype=object, first odd element {sample!r} of type "
        f"{kind}). NumPy cannot do fast arithmetic on objects; convert first, e.g. "
        f"np.asarray(values, dtype=np.float64) (for SymPy numbers: float(value) for each)"
    )


def as_array(data: Any, dtype: Any = None, name: str = "data") -> np.ndarray:
    """Turn ``data`` into a numeric NumPy array the way :func:`tensor` does.

    Python floats become the default dtype (float32), NumPy arrays keep their dtype,
    ints stay int64 and bools stay bool. Object arrays (SymPy numbers, ragged lists,
    strings) raise a TypeError that says what was found and how to convert it.
    """
    if isinstance(data, Tensor):
        arr = data.data
    elif isinstance(data, np.ndarray | np.generic):
        arr = np.asarray(data)
    else:
        try:
            arr = np.asarray(data)
        except ValueError as err:  # ragged nested lists
            raise TypeError(
                f"{name}: cannot make a tensor from {type(data).__name__}: {err}. "
                "Nested lists must be rectangular (every row the same length)."
            ) from None
        if arr.dtype.kind == "f" and dtype is None:
            arr = arr.astype(_default_dtype)
    if arr.dtype.kind == "O":
        try:
            converted = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{name}: got {_describe_object_array(arr)}") from None
        raise TypeError(
            f"{name}: got {_describe_object_array(arr)}; "
            f"e.g. np.asarray(x, dtype=np.float64) gives {converted.ravel()[:3]}..."
        )
    if arr.dtype.kind in "USV":
        raise TypeError(f"{name}: expected numbers, got an array of dtype {arr.dtype} "
                        f"(strings or raw bytes), e.g. {arr.ravel()[:3]}")
    if dtype is not None:
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"{name}: dtype {dtype!r} is not a NumPy dtype; use e.g. "
                            f"np.float32, np.float64, np.int64 or 'float32'") from None
        arr = arr.astype(dtype, copy=False)
    return arr


class Tensor:
    """A NumPy array that can remember how it was computed.

    Attributes:
        data: the values (np.ndarray).
        grad: dL/d(this tensor) after ``backward()`` (np.ndarray of the same shape), or
            None. Accumulates over backward calls, as in PyTorch: zero it between steps.
        requires_grad: whether gradients flow to this tensor.
        grad_fn: the graph node that produced this tensor (None for leaves).
    """

    __slots__ = ("data", "_grad", "requires_grad", "grad_fn", "_output_index", "_retains_grad",
                 "name", "_version_counter", "__weakref__")

    if TYPE_CHECKING:  # the operators and methods ops/__init__.py installs (t.sum, t.exp ...)
        def __getattr__(self, name: str) -> Any: ...
    __array_priority__ = 1000  # so ndarray + Tensor calls Tensor.__radd__

    def __init__(self, data: Any, dtype: Any = None, requires_grad: bool = False,
                 name: str | None = None) -> None:
        self.data: np.ndarray = as_array(data, dtype)
        self._grad: np.ndarray | None = None
        self.grad_fn: Node | None = None
        self._output_index = 0
        self._retains_grad = False
        self.name = name
        self._version_counter = [0]
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, data: Any, requires_grad: bool) -> Tensor:
        """Fast constructor for op outputs: no conversion, no checks."""
        t = object.__new__(cls)
        t.data = data if isinstance(data, np.ndarray) else np.asarray(data)
        t._grad = None
        t.grad_fn = None
        t._output_index = 0
        t._retains_grad = False
        t.name = None
        t._version_counter = [0]
        t.requires_grad = requires_grad and t.data.dtype.kind in "fc"
        return t

    # -- the gradient and the version ---------------------------------------------------
    @property
    def grad(self) -> np.ndarray | None:
        """dL/d(this tensor) after ``backward()``, or None."""
        return self._grad

    @grad.setter
    def grad(self, value: Any) -> None:
        if value is None:
            self._grad = None
            return
        if isinstance(value, Tensor):
            value = value.data
        if not isinstance(value, np.ndarray):
            raise TypeError(f"grad: assigned grad must be an np.ndarray, a Tensor or None, got "
                            f"{type(value).__name__}")
        if value.shape != self.data.shape:
            raise ValueError(f"grad: assigned grad has shape {value.shape} but the tensor has "
                             f"shape {self.data.shape}; they must match")
        if value.dtype != self.data.dtype:
            raise TypeError(f"grad: assigned grad has dtype {value.dtype} but the tensor has "
                            f"dtype {self.data.dtype}; they must match (use .astype)")
        self._grad = value

    @property
    def _version(self) -> int:
        """How many in-place operations have modified this tensor's values (PyTorch's
        ``_version``). Shared with ``detach()``-ed tensors, which share the memory."""
        return self._version_counter[0]

    # -- basic properties ------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size_(self) -> int:
        return self.data.size

    def size(self, dim: int | None = None) -> Any:
        return self.data.shape if dim is None else self.data.shape[dim]

    def dim(self) -> int:
        return self.data.ndim

    def numel(self) -> int:
        return int(self.data.size)

    @property
    def T(self) -> Tensor:  # noqa: N802 - PyTorch's name
        return self.permute(*reversed(range(self.ndim)))

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", precision=4, threshold=50,
                               prefix="tensor(")
        extra = ""
        if self.data.dtype != _default_dtype:
            extra += f", dtype={self.data.dtype}"
        if self.grad_fn is not None:
            extra += f", grad_fn={self.grad_fn!r}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # -- conversion ------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """The values as an np.ndarray (the array itself, not a copy, as in PyTorch)."""
        return self.data

    def item(self) -> Any:
        if self.data.size != 1:
            raise ValueError(f"item(): only a tensor with one element can be converted to a "
                             f"Python number, this one has shape {self.shape}")
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def detach(self) -> Tensor:
        """The same values, cut from the graph (shares memory, as in PyTorch).

        Truncated backpropagation through time carries ``h.detach()`` from one chunk to
        the next, so gradients stop at the chunk boundary.
        """
        t = Tensor._wrap(self.data, False)
        t._version_counter = self._version_counter  # the same memory, the same version
        return t

    def clone(self) -> Tensor:
        from handgrad.ops import shape as _shape

        return _shape.Clone.apply(self)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.data.dtype.kind not in "fc":
            raise TypeError(
                f"requires_grad: only floating-point tensors can require gradients, this one "
                f"has dtype {self.data.dtype} (shape {self.shape}); "
                f"make it float first, e.g. tensor(x, dtype=np.float32)"
            )
        if not requires_grad and self.grad_fn is not None:
            raise ValueError("requires_grad_(False) on a non-leaf tensor: use .detach()")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> Tensor:
        """Keep dL/d(this) in ``.grad`` even though it is not a leaf (as PyTorch does)."""
        self._retains_grad = True
        return self

    def astype(self, dtype: Any) -> Tensor:
        from handgrad.ops import elementwise as _ew

        try:
            dt = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"astype: dtype {dtype!r} is not a NumPy dtype; use e.g. "
                            f"np.float32, np.float64, np.int64 or 'float32'") from None
        return _ew.Cast.apply(self, dtype=dt)

    def float(self) -> Tensor:
        return self.astype(np.float32)

    def double(self) -> Tensor:
        return self.astype(np.float64)

    # -- in-place operations ----------------------------------------------------------
    # Each writes its result into this tensor's own array (so views and detach()-ed
    # tensors see it, as in PyTorch) and adds one to the version counter. When the graph
    # is recorded, the operation becomes a node whose input is the *old* value, and this
    # tensor takes that node as its grad_fn. A node that saved this tensor's array for
    # backward (e.g. exp saves its output) notices the new version and refuses to
    # compute a gradient from the overwritten values. Assigning ``t.data = ...`` is the
    # escape hatch: it is not an in-place operation and is not counted.
    def _inplace(self, op: str, compute: Any) -> Tensor:
        from handgrad.function import is_grad_enabled

        recording = is_grad_enabled()
        if recording and self.requires_grad and self.grad_fn is None:
            raise RuntimeError(
                f"{op}: a leaf Variable that requires grad is being used in an in-place "
                f"operation. Update parameters inside `with handgrad.no_grad():` (as "
                f"optimizers do), or write out of place: y = x + 1.")
        if recording:
            # the old value, as the node's input: a copy, since the array is overwritten
            old = Tensor._wrap(self.data.copy(), self.requires_grad)
            old.grad_fn, old._output_index = self.grad_fn, self._output_index
        else:
            old = self
        result = compute(old)
        rdata = result.data if isinstance(result, Tensor) else np.asarray(result)
        if rdata.shape != self.data.shape:
            raise RuntimeError(f"{op}: output with shape {list(self.data.shape)} doesn't "
                               f"match the broadcast shape {list(rdata.shape)}")
        if not np.can_cast(rdata.dtype, self.data.dtype, "same_kind"):
            raise RuntimeError(f"{op}: result type {rdata.dtype} can't be cast to the "
                               f"desired output type {self.data.dtype}")
        if not self.data.flags.writeable:
            raise ValueError(f"{op}: this tensor's array is read-only (shape {self.shape})")
        np.copyto(self.data, rdata, casting="same_kind")
        self._version_counter[0] += 1
        if isinstance(result, Tensor) and result.grad_fn is not None:
            self.grad_fn, self._output_index = result.grad_fn, result._output_index
            self.requires_grad = True
        return self

    def zero_(self) -> Tensor:
        """Set every element to 0, in place."""
        return self.fill_(0)

    def fill_(self, value: Any) -> Tensor:
        """Set every element to ``value`` (a number), in place."""
        from handgrad.ops import elementwise as _ew

        return self._inplace("fill_", lambda old: _ew.Fill.apply(old, value=value))

    def copy_(self, src: Any) -> Tensor:
        """Copy ``src`` (broadcast to this shape) into this tensor, in place."""
        from handgrad.ops import elementwise as _ew

        return self._inplace("copy_", lambda old: _ew.CopyFrom.apply(old, src))

    def add_(self, other: Any, alpha: Any = 1) -> Tensor:
        """``self += alpha * other``, in place."""
        return self._inplace("add_", lambda old: old + (other if alpha == 1 else other * alpha))

    def sub_(self, other: Any, alpha: Any = 1) -> Tensor:
        """``self -= alpha * other``, in place."""
        return self._inplace("sub_", lambda old: old - (other if alpha == 1 else other * alpha))

    def mul_(self, other: Any) -> Tensor:
        """``self *= other``, in place."""
        return self._inplace("mul_", lambda old: old * other)

    def div_(self, other: Any) -> Tensor:
        """``self /= other``, in place."""
        return self._inplace("div_", lambda old: old / other)

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
        """Clamp every element into [min, max], in place."""
        return self._inplace("clamp_", lambda old: old.clamp(min, max))

    def __iadd__(self, other: Any) -> Tensor:
        return self.add_(other)

    def __isub__(self, other: Any) -> Tensor:
        return self.sub_(other)

    def __imul__(self, other: Any) -> Tensor:
        return self.mul_(other)

    def __itruediv__(self, other: Any) -> Tensor:
        return self.div_(other)

    def __setitem__(self, index: Any, value: Any) -> None:
        """``t[index] = value``, in place (value a number, an array or a Tensor)."""
        from handgrad.ops import shape as _shape

        if isinstance(index, Tensor):
            index = index.data
        elif isinstance(index, tuple):
            index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
        self._inplace("__setitem__", lambda old: _shape.IndexPut.apply(old, value, index=index))

    # -- backpropagation -------------------------------------------------------------
    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Compute dL/d(leaf) for every leaf that requires a gradient; L is this tensor.

        ``grad`` is dL/d(this tensor); it may be omitted only for a single-element tensor
        (then it is 1). After the pass the graph's saved arrays are freed unless
        ``retain_graph=True``: a second backward through it raises a RuntimeError.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward(): this tensor does not require grad and has no grad_fn. Did you "
                "create the inputs with requires_grad=True, or compute it under no_grad()?"
            )
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward(): grad can be implicitly created only for a tensor with one "
                    f"element, this one has shape {self.shape}. Pass grad=np.ones_like(...) "
                    f"or reduce it first (loss = y.sum())."
                )
            grad = np.ones_like(self.data)
        else:
            grad = grad.data if isinstance(grad, Tensor) else np.asarray(grad)
            if grad.shape != self.shape:
                raise ValueError(f"backward(): grad has shape {grad.shape} but the tensor has "
                                 f"shape {self.shape}; they must match")
            grad = grad.astype(self.dtype, copy=False)
        run_backward(self, grad, retain_graph)

    # The operators are attached in handgrad/ops/__init__.py (the ops import Tensor, so
    # the methods that call them are bound once both exist).


def _accumulate_leaf(t: Tensor, g: np.ndarray) -> None:
    if g.shape != t.data.shape:  # a Function returned a broadcast gradient
        g = np.broadcast_to(g, t.data.shape)
    if t._grad is None:
        t._grad = np.array(g, dtype=t.data.dtype, copy=True)  # own it: g may be shared
    else:
        # a new array (the old one may be referenced elsewhere), in the leaf's dtype: a
        # float64 gradient reaching a float32 leaf must not upcast its .grad
        t._grad = np.add(t._grad, g, dtype=t.data.dtype, casting="same_kind")


def _topological_order(root: Node) -> list[Node]:
    """Nodes reachable from ``root``, each after all nodes that consume its outputs."""
    order: list[Node] = []
    visited: set[int] = {id(root)}
    stack: list[tuple[Node, int]] = [(root, 0)]
    while stack:
        node, next_input = stack[-1]
        inputs = node.inputs
        while next_input < len(inputs):
            parent = inputs[next_input]
            next_input += 1
            if parent is not None and parent.grad_fn is not None and \
                    id(parent.grad_fn) not in visited:
                visited.add(id(parent.grad_fn))
                stack[-1] = (node, next_input)
                stack.append((parent.grad_fn, 0))
                break
        else:
            stack.pop()
            order.append(node)
    order.reverse()
    return order


def _check_saved_versions(node: Node) -> None:
    """Refuse to backward through a node whose saved values were overwritten in place."""
    for counter, version, kind, index, shape, dtype in node.saved_versions:  # type: ignore
        if counter[0] != version:
            raise RuntimeError(
                f"one of the variables needed for gradient computation has been modified "
                f"by an inplace operation: [{kind} {index} of {node.name}, shape {shape}, "
                f"{dtype}], which is needed by {node.name}, is at "
                f"version {counter[0]}; expected version {version} instead. Compute it out "
                f"of place (y = x * 2, not x.mul_(2)), or clone() it before the in-place "
                f"operation.")


def run_backward(root: Tensor, grad: np.ndarray, retain_graph: bool = False) -> None:
    if root.grad_fn is None:  # a leaf: dL/dL = grad
        _accumulate_leaf(root, grad)
        return
    from handgrad import function as _function

    hook = _function._anomaly_hook
    root.grad_fn.out_grads[root._output_index] = grad
    for node in _topological_order(root.grad_fn):
        if node.freed:
            raise RuntimeError(
                f"Trying to backward through the graph a second time (through "
                f"{node.name}): its saved arrays were freed after the first backward. "
                f"Pass retain_graph=True to the first backward() if you need to go twice, "
                f"or recompute the forward pass."
            )
        if node.saved_versions is not None:
            _check_saved_versions(node)
        grads_out = node.out_grads
        if node.n_outputs == 1:
            g0 = grads_out[0]
            if g0 is None:  # nothing reached this node (e.g. only an unused branch)
                continue
            grads_out[0] = None  # reset for a retained graph's next backward
            input_grads = node.function.backward(node.ctx, g0)
        else:
            if all(g is None for g in grads_out):
                continue
            node.out_grads = [None] * node.n_outputs
            # outputs nobody used get a zero gradient (PyTorch materialises them too)
            grads_out = [np.zeros(shape, dtype) if g is None else g
                         for g, (shape, dtype) in zip(grads_out, node.out_meta)]
            input_grads = node.function.backward(node.ctx, *grads_out)
        if type(input_grads) is not tuple and type(input_grads) is not list:
            input_grads = (input_grads,)
        if hook is not None:
            hook.after_backward(node, input_grads)
        for parent, g in zip(node.inputs, input_grads):
            if parent is None or g is None or not parent.requires_grad:
                continue
            if parent.grad_fn is None:
                _accumulate_leaf(parent, g)
                continue
            if parent._retains_grad:
                _accumulate_leaf(parent, g)
            slot = parent.grad_fn.out_grads
            index = parent._output_index
            slot[index] = g if slot[index] is None else slot[index] + g
        if not retain_graph:
            node.ctx = None  # type: ignore[assignment]
            node.freed = True


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Make a leaf Tensor from a number, a (nested) list, or an np.ndarray.

    Python floats become float32 (the default dtype); NumPy arrays keep their dtype, so
    float64 arrays stay float64 end to end. The array is copied, as torch.tensor copies.
    """
    t = Tensor(data, dtype=dtype, requires_grad=requires_grad)
    if isinstance(data, np.ndarray | Tensor) and (t.data is data or (
            isinstance(data, Tensor) and t.data is data.data)):
        t.data = t.data.copy()
    return t


def _seq(shape: Sequence[Any], fn: str = "size") -> tuple[int, ...]:
    """A shape given as ``f(2, 3)`` or ``f((2, 3))``, checked: sizes are integers >= 0."""
    if len(shape) == 1 and isinstance(shape[0], tuple | list):
        shape = shape[0]
    out = []
    for s in shape:
        if isinstance(s, bool) or not isinstance(s, int | np.integer) or s < 0:
            raise ValueError(f"{fn}: size must be a sequence of non-negative integers, got "
                             f"{tuple(shape)} (bad entry {s!r})")
        out.append(int(s))
    return tuple(out)
