"""Anomaly detection: find the op, and the line of your code, where the first NaN/Inf appears.

A NaN loss is the end of a long chain: some op produced the first non-finite number
(log of 0, sqrt of a negative, exp overflowing, 0/0) and every op after it passed it on.
Inside ``with handgrad.detect_anomaly():`` every op's outputs are checked after its
forward, and the gradients it produces are checked after its backward; the first
non-finite value raises :class:`AnomalyError`, which names

* the op (``Log``, ``Sqrt``, ``MatMul`` ...) and whether forward or backward failed,
* the shapes and dtypes of its inputs,
* the line of *your* code that created it: recorded at forward time, because by the
  time backward fails the Python stack no longer shows it,

plus a likely cause for the usual suspects. Example::

    x = hg.tensor([0.0, 1.0], requires_grad=True)
    with hg.detect_anomaly():
        y = x.sqrt().sum()      # forward is fine: sqrt(0) = 0
        y.backward()            # AnomalyError: Sqrt backward produced inf ... d sqrt(x)/dx
                                #   = 1/(2 sqrt(x)) is infinite at x = 0; created at <this file>:3

Off by default, and free when off: :func:`handgrad.function.Function.apply` and the
backward loop only test ``_anomaly_hook is None``. When on, each op costs one
``np.isfinite(...).all()`` per output/gradient and a short walk up the Python stack.

Inside the block NumPy's divide/overflow/invalid warnings are silenced (``np.errstate``):
the error raised here says more than the warning would, and a warnings filter set to
"error" would otherwise stop the op before it can be named.
"""

from __future__ import annotations

import contextlib
import linecache
import os
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np

from handgrad import function as _function

__all__ = ["AnomalyError", "detect_anomaly", "is_anomaly_enabled"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
# handgrad's own experiments and scripts count as "user code": a failing training run
# should point at the experiment's line, not at the Function machinery.
_USER_DIRS_INSIDE = (os.path.join(_PACKAGE_DIR, "experiments") + os.sep,)

# Likely causes by op name, shown under the error.
_HINTS_FORWARD = {
    "Log": "log(x) is -inf at x = 0 and nan for x < 0: clamp x (e.g. x.clamp(min=1e-12)) "
           "or use log_softmax / cross_entropy instead of log(softmax(.))",
    "Sqrt": "sqrt(x) is nan for x < 0",
    "Div": "division by zero (x/0 = inf, 0/0 = nan)",
    "Exp": "exp(x) overflows to inf for x > 88 (float32) or > 709 (float64): subtract "
           "the max first (log-sum-exp trick) or use a stable op",
    "Pow": "a negative base to a fractional power is nan; 0 to a negative power is inf",
    "MatMul": "an overflow: weights or inputs too large (learning rate too high?)",
    "Linear": "an overflow: weights or inputs too large (learning rate too high?)",
}
_HINTS_BACKWARD = {
    "Sqrt": "d sqrt(x)/dx = 1/(2 sqrt(x)) is infinite at x = 0: add a small epsilon "
            "inside the sqrt (e.g. the L2 norm of a zero vector)",
    "Log": "d log(x)/dx = 1/x is infinite at x = 0",
    "Div": "d(a/b)/db = -a/b^2 is infinite at b = 0",
    "Pow": "d x^p/dx = p x^(p-1) is infinite at x = 0 when p < 1",
    "Norm": "the L2 norm's gradient x/||x|| is 0/0 at the zero vector",
    "Abs": "",
}


class AnomalyError(FloatingPointError):
    """The first NaN/Inf found by :func:`detect_anomaly`.

    Attributes: ``op`` (the Function's name), ``phase`` ("forward" or "backward"),
    ``inputs`` (list of "dtype shape" strings), ``trace`` (where the op was created).
    """

    def __init__(self, message: str, op: str, phase: str, inputs: list[str],
                 trace: str | None) -> None:
        super().__init__(message)
        self.op = op
        self.phase = phase
        self.inputs = inputs
        self.trace = trace


class _Trace(str):
    """The user line (``"file:line in func"``, a plain str for everyone else) plus what
    the backward check needs later: the inputs' shapes and dtypes, the frame's details."""

    filename: str
    lineno: int
    func: str
    inputs: list[str]


def _describe(x: Any) -> str:
    data = getattr(x, "data", x)
    if isinstance(data, np.ndarray | np.generic):
        return f"{data.dtype} {tuple(np.shape(data))}"
    return f"{type(x).__name__} {x!r}"[:60]


def _user_frame() -> Any:
    """The innermost frame outside handgrad's package (its experiments count as user)."""
    frame = sys._getframe(2)
    fallback = None
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_PACKAGE_DIR) or filename.startswith(_USER_DIRS_INSIDE):
            return frame
        if fallback is None and not filename.endswith(("function.py", "tensor.py")) and \
                os.sep + "ops" + os.sep not in filename:
            fallback = frame
        frame = frame.f_back
    return fallback


def _make_trace(inputs: tuple[Any, ...]) -> _Trace | None:
    frame = _user_frame()
    if frame is None:
        return None
    code = frame.f_code
    trace = _Trace(f"{code.co_filename}:{frame.f_lineno} in {code.co_name}")
    trace.filename = code.co_filename
    trace.lineno = frame.f_lineno
    trace.func = code.co_name
    trace.inputs = [_describe(x) for x in inputs]
    return trace


def _where_text(trace: str | None) -> str:
    if trace is None:
        return "  created at: (unknown: no frame outside handgrad)"
    text = f'  created at: File "{getattr(trace, "filename", trace)}", line ' \
           f'{getattr(trace, "lineno", "?")}, in {getattr(trace, "func", "?")}'
    if isinstance(trace, _Trace):
        source = linecache.getline(trace.filename, trace.lineno).strip()
        if source:
            text += f"\n      {source}"
    return text


def _first_bad(arr: np.ndarray) -> tuple[str, int, tuple[int, ...]]:
    bad = ~np.isfinite(arr)
    count = int(bad.sum())
    index = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), arr.shape)) \
        if arr.ndim else ()
    value = arr[index]
    if np.isnan(value):
        kind = "nan"
    elif np.iscomplexobj(value):
        kind = "inf"
    else:
        kind = "inf" if value > 0 else "-inf"
    return kind, count, index


def _is_finite(arr: Any) -> bool:
    return not (isinstance(arr, np.ndarray | np.generic) and arr.dtype.kind in "fc"
                and not np.isfinite(arr).all())


class _AnomalyHook:
    """What Function.apply and the backward loop call while detection is on."""

    def after_forward(self, cls: type, inputs: tuple[Any, ...], outs: tuple[Any, ...],
                      node: Any) -> None:
        trace = _make_trace(inputs)
        if node is not None:
            node.trace = trace
        for i, out in enumerate(outs):
            data = out.data
            if not _is_finite(data):
                self._raise(cls.__name__, "forward", trace, data, i, len(outs),
                            inputs_bad=[not _is_finite(getattr(x, "data", x)) for x in inputs])

    def after_backward(self, node: Any, input_grads: Any) -> None:
        for i, g in enumerate(input_grads):
            if g is not None and not _is_finite(np.asarray(g)):
                self._raise(node.name, "backward", node.trace, np.asarray(g), i,
                            len(input_grads), inputs_bad=None)

    @staticmethod
    def _raise(op: str, phase: str, trace: Any, arr: np.ndarray, index: int, total: int,
               inputs_bad: list[bool] | None) -> None:
        kind, count, where = _first_bad(arr)
        inputs = list(getattr(trace, "inputs", [])) if trace is not None else []
        what = (f"output {index}" if total > 1 else "its output") if phase == "forward" \
            else f"the gradient for input {index}"
        lines = [
            f"{op} {phase} produced {kind} in {what}: {count} of {arr.size} elements "
            f"non-finite, the first at index {where}.",
            f"  op: {op}, inputs: {', '.join(inputs) if inputs else '(not recorded)'}",
            _where_text(trace),
        ]
        if inputs_bad and any(inputs_bad):
            which = [i for i, b in enumerate(inputs_bad) if b]
            lines.append(f"  note: input(s) {which} already held NaN/Inf before this op: the "
                         f"first bad value came from outside the recorded graph (your data?)")
        else:
            hint = (_HINTS_FORWARD if phase == "forward" else _HINTS_BACKWARD).get(op)
            if hint:
                lines.append(f"  likely cause: {hint}")
        raise AnomalyError("\n".join(lines), op=op, phase=phase, inputs=inputs,
                           trace=str(trace) if trace is not None else None)


def is_anomaly_enabled() -> bool:
    """True inside :func:`detect_anomaly`."""
    return isinstance(_function._anomaly_hook, _AnomalyHook)


@contextlib.contextmanager
def detect_anomaly(enabled: bool = True) -> Iterator[None]:
    """Check every op's outputs (forward) and gradients (backward) for NaN/Inf inside the
    block; raise :class:`AnomalyError` at the first one. ``detect_anomaly(False)`` turns
    detection off inside an enclosing block. The previous state is restored on exit."""
    previous = _function._anomaly_hook
    _function._anomaly_hook = _AnomalyHook() if enabled else None
    try:
        if enabled:
            with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
                yield
        else:
            yield
    finally:
        _function._anomaly_hook = previous
