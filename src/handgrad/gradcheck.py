"""Numerical gradient checking that explains what went wrong.

Use::

    import numpy as np
    import handgrad as hg

    def forward(x, w):                  # your own NumPy pair ...
        return x @ w

    def backward(dout, x, w):           # ... dL/dx, dL/dw for dL/dout = dout
        return dout @ w.T, x.T @ dout

    hg.check_backward(forward, backward, (np.random.randn(4, 3), np.random.randn(3, 5)))
    hg.gradcheck(lambda x, w: (x @ w).tanh(), (np.random.randn(4, 3), np.random.randn(3, 5)))
    hg.gradcheck(hg.nn.Linear(3, 2), np.random.randn(4, 3))   # checks weight, bias too

or from the shell, on a file of yours: ``handgrad check my_layers.py::affine --shapes
4x3,3x5,5``. Each returns True, or raises :class:`GradcheckError` with the report.

Cost: two evaluations of the function per element of every checked input and parameter,
so check on small shapes (a few hundred numbers), as CS231n does.

Why check at all
----------------
A backward pass written by hand is easy to get subtly wrong: a minus sign, a missing
``1/N`` of a mean, ``x.T @ dout`` where ``dout.T @ x`` was meant, ``dW = ...`` where
``dW += ...`` was meant inside the loop of backpropagation through time (BPTT). The
forward pass, on the other hand, is easy to get right. So we differentiate the forward
pass *numerically* and compare.

Central differences
-------------------
For a scalar loss L(x) the numerical partial derivative at element x_i is::

    dL/dx_i  ~=  (L(x + h e_i) - L(x - h e_i)) / (2h)

Taylor: L(x ± h e_i) = L ± h L' + h^2/2 L'' ± h^3/6 L''' + ..., so in the difference the
even terms cancel and the error is h^2/6 L''' = O(h^2). The one-sided quotient
(L(x + h e_i) - L(x)) / h keeps the h/2 L'' term: O(h) only. With h = 1e-6 the central
difference is accurate to about 1e-12 (times L'''), far below what we need.

Why float64
-----------
The difference L(x + h) - L(x - h) is about 2h|L'| while L itself may be O(1): the
subtraction cancels most digits. float64 has ~16 significant digits, so with h = 1e-6 we
keep ~10 of them; float32 has ~7, and (L(x+h) - L(x-h)) / 2h in float32 is mostly
rounding noise of size 1e-7 |L| / 1e-6 = 0.1 |L|. That is why the check runs on float64
*copies* of your inputs and parameters (your arrays are never modified), and why it says
so when your code computes in float32 anyway.

A scalar loss from any output
-----------------------------
Outputs may be tensors or tuples of tensors. We draw a random upstream gradient u
(seeded) of each output's shape and check L = sum_k <u_k, out_k>: its gradient is exactly
what your backward computes when handed ``dout = u``. A random u (not all ones) catches
bugs that a sum would hide, e.g. a transposed gradient of a square matrix.

The relative error
------------------
For each element, with analytic a (your backward) and numeric n::

    rel = |a - n| / max(|a|, |n|)          (0 where both are 0)

CS231n's rule of thumb: rel > 1e-2 means the gradient is probably wrong; 1e-2 > rel >
1e-4 is uncomfortable; rel < 1e-4 is fine for functions with kinks (relu, max); rel < 1e-7
is great. An element *fails* when |a - n| > atol + rtol * |n| (so gradients that are tiny
in absolute terms do not fail on their relative error alone).

What you get on failure
-----------------------
:class:`GradcheckError` (a subclass of ``AssertionError``: a failed check is a failed
assertion about your code, and pytest shows it as one). Its message names the input or
parameter, its shape, the worst elements (index, analytic, numeric, relative error), a
summary, and a DIAGNOSIS when the pattern fits one:

=================  ==================================================================
key                pattern
=================  ==================================================================
``sign``           analytic = -numeric
``factor``         analytic = c * numeric for a constant c (2, 1/2, N, 1/N, T, ...)
``transposed``     analytic.T = numeric (or the transpose reshaped to the shape)
``shape``          backward returned an array of the wrong shape
``no_gradient``    no gradient reached it at all (zeros where numeric is not)
``partial``        zeros on some elements (rows, time steps) where numeric is not
``last_step_only`` only the last time step of a sequence gets / gives a gradient
``time_step``      BPTT goes wrong at a time step: the report names the first one
``kink``           the perturbation crossed a kink of relu/max/abs: numeric is unreliable
``float32``        the computation ran in float32: the numeric gradient is rounding noise
``unknown``        none of the above; read the worst elements
=================  ==================================================================

``err.report`` holds the same information as a dict (``report["diagnosis"]`` is the key
of the first failing input, ``report["results"][name]`` has the details of each one).
Bad arguments (not a function, no float inputs, ...) raise ``ValueError``/``TypeError``.

Recurrent code: ``time_dim``
----------------------------
With ``time_dim=k`` (the time axis of the *first* input, e.g. 0 for (T, N, D), 1 for
batch-first (N, T, D)), the report also lists, time step by time step,

* the error of dL/dx[t] (the sequence input's gradient sliced at step t), scanned from the
  last step backwards as BPTT runs: the first step that departs is where your backward
  loop goes wrong (often: the gradient carried to the previous step, dh_prev);
* for every input and parameter, the error of the gradient of L_t alone, the loss of step
  t only (the upstream gradient zero at every other step; outputs without a time axis,
  such as the final hidden state, count as the last step). If the loss of the earlier
  steps never reaches dW, you accumulated dW only at the last step.
"""

from __future__ import annotations

import inspect
import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["gradcheck", "check_backward", "GradcheckError", "relative_error"]

_TOP = 5  # worst elements listed per input


class GradcheckError(AssertionError):
    """The analytic gradient disagrees with the numerical one.

    ``str(err)`` is the report for a human; ``err.report`` the same as a dict.
    """

    def __init__(self, message: str, report: dict[str, Any]) -> None:
        super().__init__(message)
        self.report = report


def relative_error(a: Any, n: Any) -> np.ndarray:
    """CS231n's elementwise relative error |a - n| / max(|a|, |n|), 0 where both are 0."""
    a = np.asarray(a, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    den = np.maximum(np.abs(a), np.abs(n))
    out = np.zeros(np.broadcast(a, n).shape)
    np.divide(np.abs(a - n), den, out=out, where=den > 0)
    return out


# ----------------------------------------------------------------------------------------
# The problem being checked: variables (float arrays we perturb in place), a function that
# evaluates the outputs at their current values, and one that runs the analytic backward.
# ----------------------------------------------------------------------------------------
class _Var:
    __slots__ = ("name", "kind", "array", "user_dtype", "time_axis")

    def __init__(self, name: str, kind: str, array: np.ndarray, user_dtype: np.dtype,
                 time_axis: int | None = None) -> None:
        self.name = name
        self.kind = kind
        self.array = array  # contiguous working copy, perturbed in place
        self.user_dtype = user_dtype
        self.time_axis = time_axis


class _Problem:
    """What the engine needs; gradcheck and check_backward each fill it in."""

    variables: list[_Var]
    notes: list[str]
    lowp: list[str]  # where the computation dropped to float32/16
    none_skips = False  # does a None gradient mean "skip this input"?

    def evaluate(self) -> list[np.ndarray]:  # float outputs at the current values
        raise NotImplementedError

    def analytic(self, ups: list[np.ndarray]) -> list[np.ndarray | None]:
        raise NotImplementedError


def _float_outputs(out: Any, acc: list[Any]) -> list[Any]:
    """Flatten nested tuples/lists of outputs, keeping arrays/Tensors (any dtype)."""
    from handgrad.tensor import Tensor

    if isinstance(out, tuple | list):
        for o in out:
            _float_outputs(o, acc)
    elif isinstance(out, Tensor | np.ndarray | float | np.floating):
        acc.append(out)
    return acc


def _arg_names(fn: Any, count: int) -> list[str]:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        params = []
    names: list[str] = []
    for p in params:
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(p.name)
    names = names[:count]
    names += [f"input {i}" for i in range(len(names), count)]
    return names


def _work_dtype(arr: np.ndarray, dtype: Any) -> np.dtype:
    return np.dtype(dtype) if dtype is not None else arr.dtype


# ----------------------------------------------------------------------------------------
# The engine
# ----------------------------------------------------------------------------------------
def _run(problem: _Problem, *, eps: float, atol: float, rtol: float, seed: int,
         time_dim: int | None, seq_shape: tuple[int, ...] | None, sizes: dict[str, int],
         what: str) -> dict[str, Any]:
    variables = problem.variables
    seen: set[str] = set()
    for var in variables:  # unique names in the report (an input and a parameter "w")
        if var.name in seen:
            var.name = f"{var.kind} {var.name}"
        seen.add(var.name)
    outs0 = problem.evaluate()
    if not outs0:
        raise TypeError(f"{what}: the function returned no floating-point output to check "
                        f"(got nothing, or only integer/boolean arrays)")
    # A forward that gives two answers at one point (dropout without a fixed mask, an
    # unseeded random call) makes every numerical gradient noise: say so, compare nothing.
    again = problem.evaluate()
    if len(again) != len(outs0) or any(
            a.shape != b.shape or not np.array_equal(a, b, equal_nan=True)
            for a, b in zip(outs0, again)):
        return _early_failure(problem, "nondeterministic", (
            "the forward is not deterministic: two evaluations at the same inputs gave "
            "different outputs, so no numerical gradient can be taken. Fix its randomness "
            "for the check (dropout: draw the mask once, or seed the generator inside the "
            "function; an unseeded np.random call)."), eps, atol, rtol, seed)
    bad_out = next((i for i, o in enumerate(outs0) if not np.isfinite(o).all()), None)
    if bad_out is not None:
        o = outs0[bad_out]
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(o))[0]) if o.ndim else ()
        return _early_failure(problem, "forward_nonfinite", (
            f"the forward output{'' if len(outs0) == 1 else f' {bad_out}'} holds NaN or Inf "
            f"(first at index {where}): the function is undefined at these inputs (log or "
            f"sqrt of a negative number, a division by zero, an overflow of exp). Choose "
            f"inputs in its domain (e.g. positive ones for log)."), eps, atol, rtol, seed)
    # The upstream gradients come from streams of their own (never the inputs' stream,
    # whatever the learner's seeding: default_rng(seed) and this SeedSequence differ),
    # two of them, so a backward that ignores dout is caught. A scalar output gets
    # dout = 1 (loss layers' backward(dout=1)), and nothing to catch there.
    scalar = len(outs0) == 1 and outs0[0].size == 1
    streams = np.random.SeedSequence([int(seed), _UPSTREAM_STREAM]).spawn(2)
    ups64, ups64_b = ([np.ones(o.shape) if scalar else
                       np.random.default_rng(st).standard_normal(o.shape) for o in outs0]
                      for st in streams)
    if scalar:
        problem.notes.append("the output is a scalar (a loss): the upstream gradient is 1.")
    ups = [u.astype(o.dtype) for u, o in zip(ups64, outs0)]
    ups_b = [u.astype(o.dtype) for u, o in zip(ups64_b, outs0)]

    # Time steps: which axis of each output is time (None: counts as the last step).
    steps = 1
    out_axes: list[int | None] = [None] * len(outs0)
    if time_dim is not None and seq_shape is not None:
        steps = seq_shape[time_dim]
        # an output has the time axis when it is shaped like the sequence, (T, N, H) for
        # x of (T, N, D); others (the final state (N, H)) belong to the last step
        out_axes = [time_dim if (o.ndim == len(seq_shape) and o.shape[time_dim] == steps)
                    else None for o in outs0]

    def losses(outs: list[np.ndarray], us: list[np.ndarray] | None = None) -> np.ndarray:
        """L_t = <u, out> restricted to step t (shape (steps,)); their sum is L."""
        per = np.zeros(steps)
        for u, o, ax in zip(ups64 if us is None else us, outs, out_axes):
            prod = u * np.asarray(o, dtype=np.float64)
            if ax is None:
                per[-1] += prod.sum()
            else:
                per += np.moveaxis(prod, ax, 0).reshape(steps, -1).sum(axis=1)
        return per

    base = losses(outs0)
    L0 = base.sum()

    analytic = problem.analytic(ups)
    analytic_b = problem.analytic(ups_b)
    # every input is checked, also one whose gradient came back None: None passes only
    # when the output truly does not depend on it (numeric gradient 0)
    keep = list(range(len(variables)))

    # Numerical gradients: two evaluations per element (central difference), plus the
    # one-sided slopes (L(x+h) - L(x)) / h and (L(x) - L(x-h)) / h that tell a kink.
    numeric: list[np.ndarray] = []
    numeric_steps: list[np.ndarray] = []
    slope_plus: list[np.ndarray] = []
    slope_minus: list[np.ndarray] = []
    numeric_b: list[np.ndarray] = []
    for k in keep:
        var = variables[k]
        flat = var.array.reshape(-1)  # a view: the working copy is contiguous
        per = np.zeros((flat.size, steps))
        plus = np.zeros(flat.size)
        minus = np.zeros(flat.size)
        other = np.zeros(flat.size)
        for i in range(flat.size):
            v = flat[i]
            flat[i] = v + eps
            out_p = problem.evaluate()
            flat[i] = v - eps
            out_m = problem.evaluate()
            flat[i] = v
            lp, lm = losses(out_p), losses(out_m)
            per[i] = (lp - lm) / (2 * eps)
            plus[i] = (lp.sum() - L0) / eps
            minus[i] = (L0 - lm.sum()) / eps
            # the same evaluations give the numeric gradient for the second upstream
            other[i] = (losses(out_p, ups64_b).sum() - losses(out_m, ups64_b).sum()) / (2 * eps)
        numeric_b.append(other.reshape(var.array.shape))
        numeric_steps.append(per.reshape(var.array.shape + (steps,)))
        numeric.append(per.sum(axis=1).reshape(var.array.shape))
        slope_plus.append(plus.reshape(var.array.shape))
        slope_minus.append(minus.reshape(var.array.shape))

    # Per-step analytic gradients: the loss of step t only (upstream zero elsewhere).
    analytic_steps: list[list[np.ndarray | None]] | None = None
    if time_dim is not None and steps > 1:
        analytic_steps = []
        for t in range(steps):
            masked = []
            for u, ax in zip(ups, out_axes):
                m = np.zeros_like(u)
                if ax is None:
                    if t == steps - 1:
                        m[...] = u
                else:
                    idx = [slice(None)] * u.ndim
                    idx[ax] = t
                    m[tuple(idx)] = u[tuple(idx)]
                masked.append(m)
            analytic_steps.append(problem.analytic(masked))

    results: dict[str, dict[str, Any]] = {}
    for j, k in enumerate(keep):
        var = variables[k]
        steps_a = None if analytic_steps is None else [s[k] for s in analytic_steps]
        results[var.name] = _compare(
            var, analytic[k], numeric[j], numeric_steps[j], steps_a, slope_plus[j],
            slope_minus[j], eps=eps, atol=atol, rtol=rtol, sizes=sizes, lowp=problem.lowp,
            steps=steps if time_dim is not None else None)
    for j, k in enumerate(keep):
        _second_upstream(results[variables[k].name], analytic[k], analytic_b[k],
                         numeric[j], numeric_b[j], atol=atol, rtol=rtol)
    _relate_to_sequence_input(results)
    failed = [name for name, r in results.items() if not r["ok"]]
    seq_first = next((r["first_bad_step"] for r in results.values()
                      if r.get("first_bad_step") is not None), None)
    report: dict[str, Any] = {
        "ok": not failed,
        "failed": failed,
        "diagnosis": results[failed[0]]["diagnosis"] if failed else None,
        "diagnoses": {name: results[name]["diagnosis"] for name in failed},
        "results": results,
        "notes": list(problem.notes),
        "eps": eps, "atol": atol, "rtol": rtol, "seed": seed,
        "time_dim": time_dim, "steps": steps if time_dim is not None else None,
        "first_bad_step": seq_first,
        "float32_in_computation": list(dict.fromkeys(problem.lowp)),
        "upstream": ups64, "upstream_second": ups64_b,
    }
    return report


def _relate_to_sequence_input(results: dict[str, dict[str, Any]]) -> None:
    """When dL/dx of the sequence input already shows where BPTT goes wrong, the other
    inputs' failures (dW_rec, dW_x, db, dh0) are most likely the same bug: say so."""
    seq = next((r for r in results.values() if r.get("per_slice")), None)
    if seq is not None and seq["ok"]:
        for r in results.values():
            if not r["ok"] and r["diagnosis"] == "time_step":
                r["diagnosis_text"] += (
                    f" Here d{seq['name']} is right at every step, so the carried gradient "
                    f"is fine: look at how d{r['name']} is summed over the steps.")
        return
    if seq is None or seq["diagnosis"] not in ("time_step", "last_step_only"):
        return
    for r in results.values():
        if r is seq or r["ok"]:
            continue
        if r["diagnosis"] == "unknown" or (r["diagnosis"] == "time_step" and seq[
                "diagnosis"] == "time_step"):
            r["diagnosis"] = seq["diagnosis"]
            r["diagnosis_text"] = (
                f"most likely the same BPTT error as in d{seq['name']} (see there: it first "
                f"departs at time step t={seq['first_bad_step']}); everything that "
                f"{r['name']} receives from earlier steps flows through the carried "
                f"gradient dh_prev, so fix that first.")


def _fits(p: np.ndarray, n: np.ndarray, atol: float, rel: float = 1e-2) -> bool:
    """p matches n as a whole: ||p - n|| <= rel ||n|| + atol sqrt(size)."""
    if p.shape != n.shape:
        return False
    return bool(np.linalg.norm(p - n) <= rel * np.linalg.norm(n) + atol * math.sqrt(n.size))


_UPSTREAM_STREAM = 0x5EED_D0D7  # mixed into the upstream gradients' SeedSequence


def _early_failure(problem: _Problem, key: str, text: str, eps: float, atol: float,
                   rtol: float, seed: int) -> dict[str, Any]:
    """A report that fails every variable with one diagnosis, compared nothing."""
    results = {}
    for var in problem.variables:
        results[var.name] = {
            "name": var.name, "kind": var.kind, "shape": var.array.shape,
            "dtype": str(var.user_dtype), "ok": False, "max_rel_error": float("nan"),
            "max_abs_error": float("nan"), "n_bad": 0, "n_total": int(var.array.size),
            "analytic_norm": float("nan"), "numeric_norm": float("nan"), "worst": [],
            "diagnosis": key, "diagnosis_text": text, "per_step": None, "per_slice": None,
            "first_bad_step": None, "first_bad_loss_step": None, "not_compared": True}
    names = list(results)
    return {"ok": False, "failed": names, "diagnosis": key,
            "diagnoses": {n: key for n in names}, "results": results,
            "notes": list(problem.notes), "eps": eps, "atol": atol, "rtol": rtol,
            "seed": seed, "time_dim": None, "steps": None, "first_bad_step": None,
            "float32_in_computation": list(dict.fromkeys(problem.lowp))}


def _second_upstream(res: dict[str, Any], a: Any, a_b: Any, n: np.ndarray,
                     n_b: np.ndarray, *, atol: float, rtol: float) -> None:
    """Check the backward at a second upstream gradient; name a dout that is ignored."""
    if a is None or a_b is None or np.shape(a) != n.shape or np.shape(a_b) != n.shape:
        return
    a = np.asarray(a, dtype=np.float64)
    a_b = np.asarray(a_b, dtype=np.float64)
    ok_b = bool((np.abs(a_b - n_b) <= atol + rtol * np.abs(n_b)).all())
    ignored = (np.array_equal(a, a_b) and not np.allclose(n, n_b, rtol=1e-6, atol=atol)
               and float(np.abs(a).max(initial=0.0)) > atol)
    if ignored:
        res["ok"] = False
        res["diagnosis"] = "dout_ignored"
        res["diagnosis_text"] = (
            f"backward returns the same d{res['name']} for two different upstream "
            f"gradients dout: dout is not multiplied in (e.g. relu's backward returning "
            f"mask * 1.0 instead of dout * mask, or a loss layer's dx without * dout).")
    elif res["ok"] and not ok_b:
        res["ok"] = False
        res["diagnosis"] = "upstream_dependent"
        res["diagnosis_text"] = (
            f"d{res['name']} is right for one upstream gradient and wrong for another: "
            f"backward uses dout in a non-linear way (its sign, its absolute value, one "
            f"element of it) where the chain rule needs dout times the local derivative.")


def _compare(var: _Var, a: np.ndarray | None, n: np.ndarray, n_steps: np.ndarray,
             a_steps: list[np.ndarray | None] | None, plus: np.ndarray, minus: np.ndarray,
             *, eps: float, atol: float, rtol: float, sizes: dict[str, int],
             lowp: list[str], steps: int | None) -> dict[str, Any]:
    shape = var.array.shape
    res: dict[str, Any] = {
        "name": var.name, "kind": var.kind, "shape": shape, "dtype": str(var.user_dtype),
        "diagnosis": None, "diagnosis_text": "", "per_step": None, "per_slice": None,
        "first_bad_step": None, "first_bad_loss_step": None,
    }
    got_none = a is None
    if a is None:
        a = np.zeros(shape)
    a = np.asarray(a)
    if a.dtype.kind in "f" and a.dtype.itemsize < 8:
        lowp.append(f"the gradient of {var.name} is {a.dtype}")
    a = a.astype(np.float64)
    if a.shape != shape:
        res.update(ok=False, max_rel_error=float("inf"), max_abs_error=float("inf"),
                   n_bad=int(n.size), n_total=int(n.size), worst=[],
                   analytic_shape=a.shape)
        res["diagnosis"], res["diagnosis_text"] = _diagnose_shape(var, a, n, atol)
        return res

    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(a - n)
        rel = relative_error(a, n)
        # written as "not within": NaN compares False both ways, and must FAIL
        bad = ~(diff <= atol + rtol * np.abs(n))
    res.update(ok=not bad.any(), max_rel_error=float(rel.max(initial=0.0)),
               max_abs_error=float(diff.max(initial=0.0)), n_bad=int(bad.sum()),
               n_total=int(n.size), analytic_norm=float(np.linalg.norm(a)),
               numeric_norm=float(np.linalg.norm(n)), analytic=a, numeric=n)
    # worst elements: failing ones first, by relative error, then by absolute error
    order = np.lexsort((diff.ravel(), rel.ravel(), bad.ravel()))[::-1][:_TOP]
    res["worst"] = [
        {"index": tuple(int(i) for i in np.unravel_index(j, shape)),
         "analytic": float(a.ravel()[j]), "numeric": float(n.ravel()[j]),
         "rel_error": float(rel.ravel()[j]), "bad": bool(bad.ravel()[j])}
        for j in order] if n.size else []

    # Time step by time step.
    if steps is not None:
        if var.time_axis is not None:
            table = []
            for t in range(steps):
                sl = [slice(None)] * len(shape)
                sl[var.time_axis] = t
                s = tuple(sl)
                table.append({"t": t, "ok": not bad[s].any(),
                              "max_rel_error": float(rel[s].max(initial=0.0)),
                              "analytic_norm": float(np.linalg.norm(a[s])),
                              "numeric_norm": float(np.linalg.norm(n[s]))})
            res["per_slice"] = table
            # BPTT runs from the last step back: the first step (from the end) that fails
            res["first_bad_step"] = next((row["t"] for row in reversed(table)
                                          if not row["ok"]), None)
        if a_steps is not None:
            table = []
            for t in range(steps):
                at = np.zeros(shape) if a_steps[t] is None else \
                    np.asarray(a_steps[t], dtype=np.float64)
                nt = n_steps[..., t]
                if at.shape != shape:
                    continue
                d = np.abs(at - nt)
                table.append({"t": t, "ok": not (d > atol + rtol * np.abs(nt)).any(),
                              "max_rel_error": float(relative_error(at, nt).max(initial=0.0)),
                              "analytic_norm": float(np.linalg.norm(at)),
                              "numeric_norm": float(np.linalg.norm(nt))})
            if len(table) == steps:
                res["per_step"] = table
                res["first_bad_loss_step"] = next((row["t"] for row in table
                                                   if not row["ok"]), None)
    if not res["ok"] and not np.isfinite(a).all():
        first = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0]) if a.ndim else ()
        res["diagnosis"], res["diagnosis_text"] = "backward_nonfinite", (
            f"backward produced NaN or Inf in d{var.name} (first at index {first}) although "
            f"the forward is finite there: a division by zero or an overflow in the "
            f"backward (e.g. 1/x where the forward used sqrt(x) at 0, exp of a large "
            f"number), or NaN returned on purpose.")
        return res
    if not res["ok"] and not np.isfinite(n).all():
        first = tuple(int(i) for i in np.argwhere(~np.isfinite(n))[0]) if n.ndim else ()
        res["diagnosis"], res["diagnosis_text"] = "numeric_nonfinite", (
            f"the forward is not finite at inputs within eps of these (the numerical "
            f"gradient of {var.name} is NaN/Inf, first at index {first}): the inputs sit "
            f"at the edge of the function's domain (log or sqrt near 0). Choose inputs "
            f"inside it.")
        return res
    if not res["ok"]:
        res["diagnosis"], res["diagnosis_text"], extra = _diagnose(
            var, a, n, bad, plus, minus, got_none=got_none, eps=eps, atol=atol,
            sizes=sizes, lowp=lowp, res=res)
        res.update(extra)
    return res


# ----------------------------------------------------------------------------------------
# Diagnoses
# ----------------------------------------------------------------------------------------
def _diagnose_shape(var: _Var, a: np.ndarray, n: np.ndarray, atol: float) -> tuple[str, str]:
    shape = var.array.shape
    if a.ndim >= 2 and len(shape) >= 2 and a.shape == shape[:-2] + (shape[-1], shape[-2]):
        fits = _fits(np.swapaxes(a, -1, -2), n, atol)
        return "transposed", (
            f"backward returned d{var.name} of shape {a.shape} but {var.name} has shape "
            f"{shape}: it is transposed"
            + (" (and its transpose equals the numerical gradient)" if fits else "")
            + ". The gradient of a weight always has the weight's own shape; for "
              "out = x @ W, dW = x.T @ dout; for out = x @ W.T (PyTorch's Linear), "
              "dW = dout.T @ x.")
    try:  # did the variable broadcast up to the gradient's shape (a bias over rows)?
        summed = np.broadcast_shapes(shape, a.shape) == a.shape and a.size > n.size
    except ValueError:
        summed = False
    if summed:
        return "shape", (
            f"backward returned d{var.name} of shape {a.shape} but {var.name} has shape "
            f"{shape}. {var.name} was broadcast in the forward pass (e.g. a bias added to "
            f"every row), so its gradient is the SUM of the upstream gradient over the "
            f"broadcast axes: e.g. db = dout.sum(axis=0).")
    return "shape", (f"backward returned d{var.name} of shape {a.shape} but {var.name} has "
                     f"shape {shape}: a gradient must have the shape of what it is the "
                     f"gradient of.")


def _name_factor(c: float, sizes: dict[str, int]) -> tuple[str, int | None, str | None]:
    """Write c as k or 1/k (k an integer) and say which size of the problem k might be."""
    if c == 0 or not math.isfinite(c):
        return f"{c:.4g}", None, None
    for value, inverse in ((abs(c), False), (1 / abs(c), True)):
        k = round(value)
        if k >= 2 and abs(value - k) <= 1e-3 * value:
            sign = "-" if c < 0 else ""
            label = f"{sign}1/{k}" if inverse else f"{sign}{k}"
            matches = [name for name, size in sizes.items() if size == k]
            return label, k, (", ".join(matches[:4]) if matches else None)
    return f"{c:.4g}", None, None


def _diagnose(var: _Var, a: np.ndarray, n: np.ndarray, bad: np.ndarray, plus: np.ndarray,
              minus: np.ndarray, *, got_none: bool, eps: float, atol: float,
              sizes: dict[str, int], lowp: list[str],
              res: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    name = var.name
    amax = float(np.abs(a).max(initial=0.0))
    nmax = float(np.abs(n).max(initial=0.0))
    extra: dict[str, Any] = {}

    if amax <= atol and nmax > atol:
        why = "backward gave None for it" if got_none else "its gradient is zero everywhere"
        return "no_gradient", (
            f"no gradient reached {name}: {why}, but the loss does depend on it (numeric "
            f"max |dL/d{name}| = {nmax:.3g}). Did backward forget to return/accumulate "
            f"d{name}, or does the forward use {name} through a path the graph does not see "
            f"(a NumPy call on .data, detach(), no_grad, a copy)?"), extra
    if nmax <= atol and amax > atol:
        return "unknown", (
            f"the loss does not depend on {name} (numeric gradient ~0) but backward gives "
            f"a gradient up to {amax:.3g}: a gradient sent to the wrong input?"), extra

    nn_ = float(np.dot(n.ravel(), n.ravel()))
    c = float(np.dot(a.ravel(), n.ravel()) / nn_) if nn_ > 0 else 0.0
    scaled = _fits(a, c * n, atol)
    if scaled and np.count_nonzero(n) < 4:
        # with one to three numbers any ratio "fits": only trust a round one (k, 1/k)
        scaled = abs(c + 1) < 1e-3 or _name_factor(c, {})[1] is not None
    if scaled and abs(c + 1) < 1e-2:
        return "sign", (
            f"analytic = -numeric: the sign of d{name} is flipped. Look for a missing minus "
            f"(d/dx of -x, of 1 - x, of a - b for the second operand), or a residual "
            f"written (t - y) where the derivative of the loss needs (y - t)."), \
            {"factor": -1.0}
    if scaled and abs(c - 1) > 1e-2 and c != 0.0:
        label, k, which = _name_factor(c, sizes)
        extra = {"factor": c, "factor_label": label, "factor_size": which}
        where = f" ({k} = {which})" if which else ""
        if abs(abs(c) - 2) < 2e-3:
            hint = ("A factor 2: d(x^2)/dx = 2x applied twice, 0.5 * x^2 whose 1/2 was "
                    "dropped, or a path counted twice (the gradient added in two places).")
        elif abs(abs(c) - 0.5) < 1e-3:
            hint = ("A factor 1/2: a 2 missing, e.g. d(x^2)/dx = 2x written as x, or a "
                    "gradient of a variable used twice taken from one use only.")
        elif abs(c) > 1:
            hint = ("Your gradient is too LARGE by this factor: did you forget to divide by "
                    "N (the batch size, or the number of elements or time steps) as the "
                    "forward's mean does, or sum T copies where one was meant?")
        else:
            hint = ("Your gradient is too SMALL by this factor: dividing by N where the "
                    "forward sums (or dividing twice for one mean)?")
        sign = " and the sign is flipped" if c < 0 else ""
        return "factor", (
            f"analytic = {label} x numeric{where} everywhere{sign}: the gradient has the "
            f"right pattern but is off by a constant factor. {hint}"), extra
    if a.ndim >= 2 and a.shape[-1] == a.shape[-2] and _fits(np.swapaxes(a, -1, -2), n, atol):
        return "transposed", (
            f"analytic.T = numeric: d{name} is transposed. For out = x @ W the gradient is "
            f"dW = x.T @ dout (shape of W); for out = x @ W.T (PyTorch's Linear, W of shape "
            f"(out, in)) it is dW = dout.T @ x."), extra
    if a.ndim == 2 and a.shape[0] != a.shape[1] and _fits(a.reshape(-1), n.T.reshape(-1), atol):
        return "transposed", (
            f"d{name} holds the transpose of the right gradient, reshaped to {a.shape}: "
            f"compute it in the layout of {name} (e.g. dW = dout.T @ x instead of "
            f"(x.T @ dout).reshape(W.shape)); a reshape never transposes."), extra

    # Time steps.
    per_step, per_slice = res.get("per_step"), res.get("per_slice")
    if per_step:
        early = per_step[:-1]
        zero_early = all(r["analytic_norm"] <= atol * 10 for r in early)
        some_early = any(r["numeric_norm"] > atol * 10 for r in early)
        if zero_early and some_early:
            T = len(per_step)
            if per_step[-1]["ok"]:
                text = (f"only the loss of the LAST time step (t={T - 1}) reaches d{name}: "
                        f"the loss of steps 0..{T - 2} contributes nothing. In the BPTT loop "
                        f"add the upstream gradient of every step: dh = dout[t] + dh_next.")
            else:
                text = (f"d{name} is accumulated only at the last time step (t={T - 1}): "
                        f"the loss of steps 0..{T - 2} gives no gradient at all, and even "
                        f"the loss of step {T - 1} misses the earlier steps' contributions. "
                        f"{name} is used at EVERY step, so inside the BPTT loop accumulate "
                        f"at every step: d{name} += (that step's contribution).")
            return "last_step_only", text, extra
    if per_step and var.time_axis is None and per_step[0]["ok"] and \
            not all(r["ok"] for r in per_step):
        k = res["first_bad_loss_step"]
        return "time_step", (
            f"the loss of step 0 alone gives the right d{name}, but from the loss of step "
            f"t={k} on it is wrong: the contributions that reach {name} through the "
            f"recurrence (from step t back to the earlier steps) go wrong. Most often "
            f"d{name} = ... overwrites inside the BPTT loop where d{name} += ... must "
            f"accumulate (then only the last iteration, t=0, survives), or the gradient "
            f"carried to the previous step (dh_prev) is wrong."), extra
    if per_slice:
        T = len(per_slice)
        tail_ok = per_slice[-1]["ok"]
        first = res.get("first_bad_step")
        if tail_ok and first is not None:
            zeros = all(r["analytic_norm"] <= atol * 10 for r in per_slice[:-1]) and any(
                r["numeric_norm"] > atol * 10 for r in per_slice[:-1])
            if zeros:
                return "last_step_only", (
                    f"only the last time step (t={T - 1}) of d{name} gets a gradient; steps "
                    f"0..{T - 2} get zero. The BPTT loop must run over every step, from the "
                    f"last to the first, carrying dh to the previous step."), extra
            bad_steps = [row["t"] for row in per_slice if not row["ok"]]
            if all(per_slice[t]["analytic_norm"] <= atol * 10 for t in bad_steps):
                return "partial", (
                    f"d{name} is zero at time step(s) {bad_steps} and right at all the "
                    f"others: the BPTT loop never reaches them. A loop written "
                    f"range(T - 1, 0, -1) stops before t=0; use reversed(range(T)) or "
                    f"range(T - 1, -1, -1)."), extra
            right = f"t={T - 1}" if first + 1 == T - 1 else f"t={first + 1}..{T - 1}"
            return "time_step", (
                f"d{name} is right at {right} and first departs at time "
                f"step t={first} (scanning from the last step back, as BPTT runs). Your "
                f"one-step backward looks fine where nothing flows in from later steps; what "
                f"goes wrong is what is carried from step {first + 1} to step {first}: "
                f"check that dh_prev (= da_{first + 1} @ W_rec^T) is added to dout[{first}] "
                f"before step {first}'s backward, and that the state saved for step "
                f"{first} is the right one (h[t-1], not h[t])."), extra
    if lowp:
        return "float32", (
            f"the computation ran in float32 ({'; '.join(dict.fromkeys(lowp))}). In float32 "
            f"(~7 significant digits) the difference L(x+h) - L(x-h) with h = {eps:g} is "
            f"mostly rounding noise, so the numeric gradient is unreliable, not necessarily "
            f"your backward. Keep everything in float64 while checking (np.float64 "
            f"buffers, no .astype(np.float32)); gradcheck does this by default."), extra

    # A kink: the one-sided slopes differ by far more than a smooth function allows
    # (|plus - minus| ~ h |L''| for smooth L).
    jump = np.abs(plus - minus)
    diff = np.abs(a - n)
    scale = max(amax, nmax, 1e-12)
    kinky = (jump > 100 * eps * max(scale, 1.0)) & (jump >= 0.5 * diff)
    if bad.any() and kinky[bad].all():
        idx = [tuple(int(i) for i in ix) for ix in np.argwhere(bad)[:_TOP]]
        one_side = bool(np.all(np.minimum(np.abs(a - plus), np.abs(a - minus))[bad]
                               <= 1e-3 * scale + atol))
        verdict = ("Your analytic gradient equals one of the one-sided slopes there, so it "
                   "is probably RIGHT." if one_side else
                   "Your analytic gradient matches neither one-sided slope, so look at it too.")
        extra["kink_elements"] = idx
        return "kink", (
            f"at {int(bad.sum())} element(s) {idx} the perturbation +-{eps:g} crosses a "
            f"kink (relu, max, abs, a pooling argmax): the slope left of the point "
            f"differs from the slope right of it, and the central difference averages "
            f"them. {verdict} Move the inputs away from the kink (e.g. x + 0.1 * sign(x)) "
            f"or use a smaller eps; the other elements agree."), extra

    zero_bad = bad & (np.abs(a) <= atol)
    if bad.any() and zero_bad[bad].all():
        desc = _describe_positions(bad, var)
        extra["missing_elements"] = [tuple(int(i) for i in ix) for ix in np.argwhere(bad)][:20]
        return "partial", (
            f"d{name} is zero at {int(bad.sum())} of {bad.size} elements where the numeric "
            f"gradient is not ({desc}); elsewhere it agrees. The gradient reaches only part "
            f"of {name}: a loop that stops early, a slice or index that misses some "
            f"entries, or a mask applied twice."), extra
    if per_slice and not per_slice[-1]["ok"]:
        T = len(per_slice)
        return "time_step", (
            f"d{name} is already wrong at the last time step t={T - 1}, where nothing "
            f"flows in from later steps: the one-step backward itself is wrong. Check the "
            f"step function alone first (one step, T=1), then the loop."), extra
    return "unknown", (
        f"no simple pattern (sign, constant factor, transpose, missing elements, kink) "
        f"fits; best scalar fit analytic ~ {c:.3g} x numeric. Compare the worst elements "
        f"below with a derivation by hand on a 1x1 or 2x2 example."), extra


def _describe_positions(bad: np.ndarray, var: _Var) -> str:
    """Say along which axis the failing elements lie, e.g. 'rows [0, 2]' or 'time steps'."""
    parts = []
    for ax in range(bad.ndim):
        other = tuple(i for i in range(bad.ndim) if i != ax)
        whole = bad.all(axis=other) if other else bad
        anyb = bad.any(axis=other) if other else bad
        if anyb.sum() and np.array_equal(whole, anyb) and anyb.sum() < bad.shape[ax]:
            label = "time steps" if ax == var.time_axis else f"indices along axis {ax}"
            parts.append(f"{label} {np.flatnonzero(anyb).tolist()[:10]} entirely")
    if parts:
        return "; ".join(parts)
    return "at " + ", ".join(str(tuple(int(i) for i in ix)) for ix in np.argwhere(bad)[:5])


# ----------------------------------------------------------------------------------------
# The report
# ----------------------------------------------------------------------------------------
def _fmt(x: float) -> str:
    return f"{x: .6e}"


def format_report(report: dict[str, Any], title: str) -> str:
    lines = []
    nfail = len(report["failed"])
    total = len(report["results"])
    from handgrad.gradcheck_messages import DIAGNOSES, MSG

    if report["ok"]:
        worst = max((r["max_rel_error"] for r in report["results"].values()), default=0.0)
        lines.append(MSG("ok", title=title, n=total, err=f"{worst:.2e}"))
    else:
        lines.append(MSG("failed", title=title, bad=nfail, n=total))
        lines.append(f"(central differences, eps={report['eps']:g}, float64; an element "
                     f"fails when |a - n| > atol + rtol*|n| with atol={report['atol']:g}, "
                     f"rtol={report['rtol']:g}; relative error = |a - n| / max(|a|, |n|): "
                     f"> 1e-2 wrong, < 1e-7 great)")
    for name, r in report["results"].items():
        head = (f"{r['kind']} '{name}' shape {tuple(r['shape'])} ({r['dtype']}): ")
        if r["ok"]:
            lines.append("")
            lines.append(head + f"ok, max relative error {r['max_rel_error']:.2e}")
            continue
        lines.append("")
        if "analytic_shape" in r:
            lines.append(head + f"WRONG SHAPE: backward returned {tuple(r['analytic_shape'])}")
        else:
            lines.append(head + f"max relative error {r['max_rel_error']:.2e}, "
                         f"{r['n_bad']} of {r['n_total']} elements fail; "
                         f"|analytic| = {r['analytic_norm']:.4g}, "
                         f"|numeric| = {r['numeric_norm']:.4g}")
            lines.append("  worst elements:")
            lines.append(f"    {'index':<16}{'analytic':>16}{'numeric':>16}{'rel. error':>12}")
            for w in r["worst"]:
                lines.append(f"    {str(w['index']):<16}{_fmt(w['analytic']):>16}"
                             f"{_fmt(w['numeric']):>16}{w['rel_error']:>12.2e}"
                             + ("" if w["bad"] else "   (ok)"))
        if r.get("per_slice"):
            lines.append(f"  per time step, d{name}[t] with the full loss (BPTT runs from "
                         f"t={len(r['per_slice']) - 1} down to 0):")
            for row in reversed(r["per_slice"]):
                mark = "ok " if row["ok"] else "BAD"
                flag = ("   <- first step that departs"
                        if row["t"] == r["first_bad_step"] else "")
                lines.append(f"    t={row['t']:<4}{mark}  max rel. error "
                             f"{row['max_rel_error']:.2e}{flag}")
        if r.get("per_step"):
            lines.append(f"  per time step, d{name} from the loss of step t alone "
                         f"(upstream gradient zero at the other steps):")
            for row in r["per_step"]:
                mark = "ok " if row["ok"] else "BAD"
                lines.append(f"    t={row['t']:<4}{mark}  max rel. error "
                             f"{row['max_rel_error']:.2e}  |analytic| "
                             f"{row['analytic_norm']:.3g}  |numeric| {row['numeric_norm']:.3g}")
        if r["diagnosis"]:
            if r["diagnosis"] in DIAGNOSES:
                lines.append(MSG("summary", diagnosis=r["diagnosis"],
                                 text=DIAGNOSES(r["diagnosis"])))
            lines.append(f"  DIAGNOSIS ({r['diagnosis']}): {r['diagnosis_text']}")
    for note in report["notes"]:
        lines.append("")
        lines.append("note: " + note)
    return "\n".join(lines)


def _finish(report: dict[str, Any], title: str, raise_exception: bool,
            rerun64: Callable[[], dict[str, Any]] | None) -> bool:
    if not report["ok"] and rerun64 is not None:
        again = rerun64()
        if again["ok"]:
            report["notes"].append(
                "the same check run on float64 copies PASSES: this failure is only float32 "
                "rounding, your backward is right. Check gradients in float64.")
            for name in report["failed"]:
                r = report["results"][name]
                r["diagnosis"] = "float32"
                r["diagnosis_text"] = (
                    "the check ran in float32 (dtype=None kept your float32 arrays). With "
                    "~7 significant digits, (L(x+h) - L(x-h)) / 2h is mostly rounding noise "
                    "(about 1e-7 |L| / h); in float64 the same check passes.")
            report["diagnosis"] = "float32"
            report["diagnoses"] = {name: "float32" for name in report["failed"]}
    text = format_report(report, title)
    report["message"] = text
    _LAST_REPORT["report"] = report
    if not report["ok"] and raise_exception:
        raise GradcheckError(text, report)
    return bool(report["ok"])


def _check_args(eps: float, atol: float, rtol: float, time_dim: int | None) -> None:
    if not (isinstance(eps, int | float) and eps > 0):
        raise ValueError(f"eps must be a positive number (the step h of the central "
                         f"difference), got {eps!r}")
    if atol < 0 or rtol < 0:
        raise ValueError(f"atol and rtol must be >= 0, got atol={atol!r}, rtol={rtol!r}")
    if time_dim is not None and (not isinstance(time_dim, int) or time_dim < 0):
        raise ValueError(f"time_dim must be a non-negative int (the time axis of the first "
                         f"input, e.g. 0 for (T, N, D)), got {time_dim!r}")


def _sequence_shape(items: list[Any], time_dim: int | None,
                    what: str) -> tuple[int, ...] | None:
    """The shape of the first input, whose axis ``time_dim`` is time."""
    if time_dim is None:
        return None
    first = items[0] if items else None
    shape = getattr(first, "shape", None)
    if shape is None or len(shape) <= time_dim:
        raise ValueError(f"{what}: time_dim={time_dim} is the time axis of the first input, "
                         f"which must be an array with more than {time_dim} dims; got "
                         f"{'shape ' + str(tuple(shape)) if shape is not None else first!r}")
    return tuple(shape)


def _sizes(inputs: Sequence[tuple[str, tuple[int, ...]]], outputs: list[np.ndarray],
           time_dim: int | None, seq: tuple[str, tuple[int, ...] | None]) -> dict[str, int]:
    """Named sizes a constant factor might be: every dim of every input and output, the
    number of elements, and T."""
    sizes: dict[str, int] = {}
    if time_dim is not None and seq[1] is not None:
        sizes[f"T, the number of time steps (dim {time_dim} of '{seq[0]}')"] = \
            seq[1][time_dim]
    for name, shape in inputs:
        for d, s in enumerate(shape):
            sizes.setdefault(f"dim {d} of '{name}' {tuple(shape)}", s)
        if len(shape) > 1:
            sizes.setdefault(f"the number of elements of '{name}'", int(np.prod(shape)))
    for k, o in enumerate(outputs):
        label = "the output" if len(outputs) == 1 else f"output {k}"
        for d, s in enumerate(o.shape):
            sizes.setdefault(f"dim {d} of {label} {o.shape}", s)
        if o.ndim > 1:
            sizes.setdefault(f"the number of elements of {label}", int(o.size))
    # products of two dims of different inputs (e.g. N * H, the elements of x @ W that a
    # mean divides by), listed after the single sizes
    dims = [(f"dim {d} of '{name}'", s) for name, shape in inputs for d, s in enumerate(shape)]
    for (la, sa), (lb, sb) in itertools.combinations(dims, 2):
        if la.split("'")[1] != lb.split("'")[1]:
            sizes.setdefault(f"{la} x {lb}", sa * sb)
    return {k: v for k, v in sizes.items() if v >= 2}


# ----------------------------------------------------------------------------------------
# gradcheck: handgrad functions and modules
# ----------------------------------------------------------------------------------------
class _GraphProblem(_Problem):
    def __init__(self, fn: Callable[..., Any], args: list[Any], checked: list[int],
                 params: list[tuple[str, Any]], variables: list[_Var]) -> None:
        from handgrad.random import get_rng_state

        self.fn = fn
        self.args = args  # working arrays for float inputs, the object itself otherwise
        self.checked = checked
        self.params = params
        self.variables = variables
        self.notes = []
        self.lowp = []
        self.rng_state = get_rng_state()
        self.warned_ndarray = False

    def _call(self, grad: bool) -> tuple[Any, list[Any]]:
        from handgrad.function import set_grad_enabled
        from handgrad.random import set_rng_state
        from handgrad.tensor import Tensor

        # The same random draws (dropout masks...) on every evaluation.
        set_rng_state(dict(self.rng_state))
        leaves = []
        call_args = []
        for i, arg in enumerate(self.args):
            if isinstance(arg, np.ndarray) and arg.dtype.kind == "f":
                t = Tensor._wrap(arg, grad and i in self.checked)
                call_args.append(t)
                if i in self.checked:
                    leaves.append(t)
            else:
                call_args.append(arg)
        with set_grad_enabled(grad):
            out = self.fn(*call_args)
        return out, leaves

    def evaluate(self) -> list[np.ndarray]:
        from handgrad.tensor import Tensor

        out, _ = self._call(False)
        arrays = []
        for o in _float_outputs(out, []):
            arr = o.data if isinstance(o, Tensor) else np.asarray(o)
            if arr.dtype.kind == "f" and arr.size:
                arrays.append(arr)
        return arrays

    def analytic(self, ups: list[np.ndarray]) -> list[np.ndarray | None]:
        from handgrad.tensor import Tensor

        for _, p in self.params:
            p.grad = None
        out, leaves = self._call(True)
        outs = [o for o in _float_outputs(out, [])
                if (o.data if isinstance(o, Tensor) else np.asarray(o)).dtype.kind == "f"
                and (o.data if isinstance(o, Tensor) else np.asarray(o)).size]
        for o, u in zip(outs, ups):
            if isinstance(o, Tensor):
                if o.dtype.itemsize < 8 and o.dtype.kind == "f":
                    self.lowp.append(f"an output is {o.dtype}")
                if o.requires_grad and u.any():
                    try:
                        o.backward(u, retain_graph=True)
                    except ValueError as err:
                        raise ValueError(
                            f"gradcheck: the backward pass failed: {err}. A Function's "
                            f"backward must return, for each input, a gradient of that "
                            f"input's shape (or one that broadcasts to it); a transposed "
                            f"or unreduced gradient fails here.") from err
            elif not self.warned_ndarray:
                self.warned_ndarray = True
                self.notes.append(
                    "the function returned a NumPy array, not a Tensor: no graph was "
                    "recorded, so no gradient can flow. Use Tensor operations inside the "
                    "function, or check a NumPy forward/backward pair with check_backward.")
        grads: list[np.ndarray | None] = [t.grad for t in leaves]
        grads += [p.grad for _, p in self.params if getattr(p, "requires_grad", True)]
        return grads


def gradcheck(fn: Callable[..., Any], inputs: Any, *, params: dict[str, Any] | None = None,
              eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0,
              raise_exception: bool = True, time_dim: int | None = None,
              names: Sequence[str] | None = None, dtype: Any = np.float64) -> bool:
    """Compare the gradients of a handgrad function (or Module) with central differences.

    Args:
        fn: called as ``fn(*inputs)``; returns a Tensor or a tuple of Tensors. A
            :class:`handgrad.nn.Module` is called the same way and its parameters are
            checked too.
        inputs: a Tensor/array or a tuple of them. Checked: float NumPy arrays and Tensors
            with ``requires_grad=True``; anything else (integer labels, float Tensors
            without requires_grad, Python values) is passed through as a constant.
        params: ``{name: Parameter}`` to check besides the inputs (tensors the function
            uses from its closure); by default a Module's ``named_parameters()``.
        eps: the step h of the central difference (L(x+h) - L(x-h)) / 2h.
        atol, rtol: an element fails when |analytic - numeric| > atol + rtol * |numeric|.
        seed: for the random upstream gradient.
        raise_exception: raise :class:`GradcheckError` on failure (else return False).
        time_dim: the time axis of the first input, for a time-step-by-time-step report.
        names: names of the inputs for the report (default: fn's argument names).
        dtype: the dtype of the working copies (float64). ``None`` keeps your dtypes, to
            see what a float32 check does (it fails by rounding; the report says so).

    Your tensors are not modified: the check works on copies (parameters are swapped to
    float64 copies for the duration and put back, .grad included).
    """
    kw = dict(params=params, eps=eps, atol=atol, rtol=rtol, seed=seed, time_dim=time_dim,
              names=names)
    report, f32 = _gradcheck_report(fn, inputs, dtype=dtype, **kw)
    rerun = None
    if dtype is None and f32:
        def rerun() -> dict[str, Any]:
            return _gradcheck_report(fn, inputs, dtype=np.float64, **kw)[0]
    title = getattr(fn, "__name__", type(fn).__name__)
    return _finish(report, title, raise_exception, rerun)


def _gradcheck_report(fn: Callable[..., Any], inputs: Any, *, params: dict[str, Any] | None,
                      eps: float, atol: float, rtol: float, seed: int,
                      time_dim: int | None, names: Sequence[str] | None,
                      dtype: Any) -> tuple[dict[str, Any], list[str]]:
    from handgrad.nn.module import Module
    from handgrad.random import get_rng_state, set_rng_state
    from handgrad.tensor import Tensor

    if not callable(fn):
        raise TypeError(f"gradcheck: fn must be callable (a function or a Module), got "
                        f"{type(fn).__name__}")
    _check_args(eps, atol, rtol, time_dim)
    if isinstance(inputs, tuple | list):
        items = list(inputs)
    else:
        items = [inputs]
    if names is not None and len(names) != len(items):
        raise ValueError(f"gradcheck: names has {len(names)} entries but there are "
                         f"{len(items)} inputs")
    arg_names = list(names) if names is not None else _arg_names(
        fn.forward if isinstance(fn, Module) else fn, len(items))
    if params is None and isinstance(fn, Module):
        param_items = list(fn.named_parameters())
    elif params is None:
        param_items = []
    elif isinstance(params, dict):
        param_items = list(params.items())
    else:
        raise TypeError(f"gradcheck: params must be a dict name -> Parameter, got "
                        f"{type(params).__name__}")
    for pname, p in param_items:
        if not isinstance(p, Tensor):
            raise TypeError(f"gradcheck: params[{pname!r}] must be a Tensor/Parameter, got "
                            f"{type(p).__name__}")

    args: list[Any] = []
    checked: list[int] = []
    variables: list[_Var] = []
    float32_inputs: list[str] = []
    for i, item in enumerate(items):
        arr = item.data if isinstance(item, Tensor) else item
        is_float = isinstance(arr, np.ndarray) and arr.dtype.kind == "f"
        if not is_float:
            args.append(item)
            continue
        work = np.array(arr, dtype=_work_dtype(arr, dtype), copy=True, order="C")
        args.append(work)
        wants = item.requires_grad if isinstance(item, Tensor) else True
        if wants:
            checked.append(i)
            ax = time_dim if (time_dim is not None and i == 0) else None
            variables.append(_Var(arg_names[i], "input", work, arr.dtype, ax))
            if arr.dtype.itemsize < 8:
                float32_inputs.append(arg_names[i])
    seq_shape = _sequence_shape(items, time_dim, "gradcheck")
    saved = [(p, p.data, p.grad) for _, p in param_items]
    try:
        for pname, p in param_items:
            user_dtype = p.data.dtype
            work = np.array(p.data, dtype=_work_dtype(p.data, dtype), copy=True, order="C")
            p.data = work
            if p.requires_grad:
                variables.append(_Var(pname, "parameter", work, user_dtype, None))
                if user_dtype.itemsize < 8:
                    float32_inputs.append(pname)
        if not variables:
            raise ValueError(
                "gradcheck: nothing to check: no input is a float array or a Tensor with "
                "requires_grad=True, and there are no parameters. Pass "
                "handgrad.tensor(x, requires_grad=True) or a NumPy float array.")
        problem = _GraphProblem(fn, args, checked, param_items, variables)
        user_state = get_rng_state()
        try:
            outs0 = problem.evaluate()
            sizes = _sizes([(v.name, v.array.shape) for v in variables], outs0, time_dim,
                           (arg_names[0] if arg_names else "", seq_shape))
            report = _run(problem, eps=eps, atol=atol, rtol=rtol, seed=seed,
                          time_dim=time_dim, seq_shape=seq_shape, sizes=sizes,
                          what="gradcheck")
        finally:
            set_rng_state(user_state)
    finally:
        for p, data, grad in saved:
            p.data = data
            p.grad = grad
    if float32_inputs and dtype is not None:
        report["notes"].append(_float64_copies_note(float32_inputs))
    return report, float32_inputs


# The report of the most recent check (also when it passed or raise_exception=False).
_LAST_REPORT: dict[str, Any] = {"report": None}


def last_report() -> dict[str, Any] | None:
    """The report dict of the most recent gradcheck/check_backward (pass or fail), e.g.
    to look at the per-time-step table of a check that passed."""
    return _LAST_REPORT["report"]


# ----------------------------------------------------------------------------------------
# check_backward: a learner's own NumPy forward/backward pair
# ----------------------------------------------------------------------------------------
def _positional_count(fn: Any) -> int | None:
    """How many positional arguments fn takes (None: *args, or unknown)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return None
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


def _is_cs231n(result: Any, backward: Callable[..., Any]) -> bool:
    if not isinstance(result, tuple) or len(result) < 2:
        return False
    if not isinstance(result[-1], np.ndarray | np.generic | float | int):
        return True
    try:
        pnames = list(inspect.signature(backward).parameters)
    except (TypeError, ValueError):
        return False
    return any(p in ("cache", "ctx") for p in pnames)


class _PairProblem(_Problem):
    def __init__(self, forward: Callable[..., Any], backward: Callable[..., Any],
                 arrays: list[Any], checked: list[int], variables: list[_Var],
                 style: str, names: list[str]) -> None:
        self.forward = forward
        self.backward = backward
        self.arrays = arrays
        self.checked = checked
        self.variables = variables
        self.style = style
        self.names = names
        self.notes = []
        self.lowp = []
        self.none_skips = True

    def _forward(self) -> Any:
        # copies: a forward that modifies its input in place must not spoil the check
        args = [a.copy() if isinstance(a, np.ndarray) else a for a in self.arrays]
        return self.forward(*args), args

    def _outs(self, result: Any) -> list[np.ndarray]:
        if self.style == "cs231n":
            result = result[:-1]
        return [np.asarray(o) for o in _float_outputs(result, [])
                if np.asarray(o).dtype.kind == "f" and np.asarray(o).size]

    def evaluate(self) -> list[np.ndarray]:
        result, _ = self._forward()
        return self._outs(result)

    def analytic(self, ups: list[np.ndarray]) -> list[np.ndarray | None]:
        result, args = self._forward()
        outs = self._outs(result)
        for o in outs:
            if o.dtype.itemsize < 8:
                self.lowp.append(f"forward's output is {o.dtype}")
        if self.style == "cs231n":
            if len(ups) > 1 and _positional_count(self.backward) == 2:
                # backward(douts, cache): several upstream gradients in one tuple (the
                # Function.layer_backward door); CS231n writes backward(dh, dc, cache)
                grads = self.backward(tuple(ups), result[-1])
            else:
                grads = self.backward(*ups, result[-1])
        else:
            dout = ups[0] if len(ups) == 1 else tuple(ups)
            grads = self.backward(dout, *args)
        if not isinstance(grads, tuple | list):
            grads = (grads,)
        grads = list(grads)
        n_in = len(self.arrays)
        if len(grads) == n_in:
            picked = [grads[i] for i in self.checked]
        elif len(grads) == len(self.checked):
            picked = grads
        else:
            raise ValueError(
                f"check_backward: backward returned {len(grads)} gradient(s) but forward "
                f"takes {n_in} input(s) ({', '.join(self.names)}), {len(self.checked)} of "
                f"them checked: return one gradient per input (None where there is none), "
                f"in the order of forward's arguments, or say which inputs your gradients "
                f"are for with wrt=(...)")
        return [None if g is None else np.asarray(g) for g in picked]



def _float64_copies_note(float32_inputs: list[str]) -> str:
    return (f"{', '.join(float32_inputs)} {'is' if len(float32_inputs) == 1 else 'are'} "
            f"float32; the check ran on float64 copies (in float32 the central difference "
            f"would be mostly rounding noise), so the verdict is about the math, not "
            f"rounding.")

def check_backward(forward: Callable[..., Any], backward: Callable[..., Any], inputs: Any,
                   *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                   seed: int = 0, raise_exception: bool = True, time_dim: int | None = None,
                   names: Sequence[str] | None = None, dtype: Any = np.float64,
                   style: str = "auto", wrt: Sequence[int | str] | None = None) -> bool:
    """Check a pure-NumPy forward/backward pair written by hand.

    Two styles:

    * plain: ``forward(*arrays) -> out`` (an array or a tuple of arrays) and
      ``backward(dout, *arrays) -> grads`` (one array per input, or a tuple; ``dout`` is a
      tuple when forward returns several outputs);
    * CS231n: ``forward(*arrays) -> (out, cache)`` (or ``(out1, out2, ..., cache)``) and
      ``backward(dout, cache) -> grads``; with several outputs ``backward(dout1, dout2,
      ..., cache)``, or ``backward((dout1, dout2), cache)`` when backward takes exactly two
      arguments (handgrad's own ``Fn.layer_forward``/``Fn.layer_backward`` doors).

    ``style="auto"`` picks CS231n when forward returns a tuple whose last item is not an
    array (a tuple, dict or object: the cache), or whose backward has a parameter named
    ``cache`` or ``ctx``; otherwise plain. Pass ``style="plain"`` or ``"cs231n"`` to say so.

    Integer inputs (labels, indices) are passed through and not checked; so are the float
    inputs left out of ``wrt`` (indices or names of the inputs to check, e.g.
    ``wrt=("wx", "wrec")``), and those for which backward returns None. Backward may
    return a gradient for every input, or only for the checked ones, in order. Everything else is as
    in :func:`gradcheck` (float64 working copies, relative error, the report, time_dim).
    """
    kw = dict(eps=eps, atol=atol, rtol=rtol, seed=seed, time_dim=time_dim, names=names,
              style=style, wrt=wrt)
    report, f32 = _check_backward_report(forward, backward, inputs, dtype=dtype, **kw)
    rerun = None
    if dtype is None and f32:
        def rerun() -> dict[str, Any]:
            return _check_backward_report(forward, backward, inputs, dtype=np.float64,
                                          **kw)[0]
    title = (f"{getattr(forward, '__name__', 'forward')}/"
             f"{getattr(backward, '__name__', 'backward')}")
    return _finish(report, title, raise_exception, rerun)


def _check_backward_report(forward: Callable[..., Any], backward: Callable[..., Any],
                           inputs: Any, *, eps: float, atol: float, rtol: float, seed: int,
                           time_dim: int | None, names: Sequence[str] | None, dtype: Any,
                           style: str, wrt: Sequence[int | str] | None = None,
                           ) -> tuple[dict[str, Any], list[str]]:
    if not callable(forward) or not callable(backward):
        raise TypeError("check_backward: forward and backward must be callables")
    if style not in ("auto", "plain", "cs231n"):
        raise ValueError(f"check_backward: style must be 'auto', 'plain' or 'cs231n', got "
                         f"{style!r}")
    _check_args(eps, atol, rtol, time_dim)
    items = list(inputs) if isinstance(inputs, tuple | list) else [inputs]
    if names is not None and len(names) != len(items):
        raise ValueError(f"check_backward: names has {len(names)} entries but there are "
                         f"{len(items)} inputs")
    arg_names = list(names) if names is not None else _arg_names(forward, len(items))
    wanted: set[int] = set()
    for w in wrt or ():
        if isinstance(w, str):
            if w not in arg_names:
                raise ValueError(f"check_backward: wrt names {w!r}, but the inputs are "
                                 f"{arg_names}")
            wanted.add(arg_names.index(w))
        elif isinstance(w, int | np.integer) and -len(items) <= w < len(items):
            wanted.add(int(w) % len(items))
        else:
            raise ValueError(f"check_backward: wrt must hold input indices (0..{len(items) - 1}) "
                             f"or names {arg_names}, got {w!r}")
    arrays: list[Any] = []
    checked: list[int] = []
    variables: list[_Var] = []
    float32_inputs = []
    for i, item in enumerate(items):
        if isinstance(item, np.ndarray | np.generic | float):
            arr = np.asarray(item)
        elif hasattr(item, "data") and isinstance(getattr(item, "data", None), np.ndarray):
            arr = item.data  # a handgrad Tensor
        else:
            arrays.append(item)
            continue
        if arr.dtype.kind != "f":
            arrays.append(arr)
            continue
        work = np.array(arr, dtype=_work_dtype(arr, dtype), copy=True, order="C")
        arrays.append(work)
        if wrt is not None and i not in wanted:
            continue
        checked.append(i)
        ax = time_dim if (time_dim is not None and i == 0) else None
        variables.append(_Var(arg_names[i], "input", work, arr.dtype, ax))
        if arr.dtype.itemsize < 8:
            float32_inputs.append(arg_names[i])
    if not variables:
        raise ValueError("check_backward: no float input to check: pass NumPy float arrays")
    seq_shape = _sequence_shape(items, time_dim, "check_backward")
    probe = forward(*[a.copy() if isinstance(a, np.ndarray) else a for a in arrays])
    chosen = style if style != "auto" else ("cs231n" if _is_cs231n(probe, backward)
                                            else "plain")
    problem = _PairProblem(forward, backward, arrays, checked, variables, chosen, arg_names)
    outs0 = problem.evaluate()
    sizes = _sizes([(v.name, v.array.shape) for v in variables], outs0, time_dim,
                   (arg_names[0] if arg_names else "", seq_shape))
    report = _run(problem, eps=eps, atol=atol, rtol=rtol, seed=seed, time_dim=time_dim,
                  seq_shape=seq_shape, sizes=sizes, what="check_backward")
    report["style"] = chosen
    if float32_inputs and dtype is not None:
        report["notes"].append(_float64_copies_note(float32_inputs))
    return report, float32_inputs
