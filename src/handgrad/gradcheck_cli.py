"""Gradient-check a forward/backward pair in your own file: handgrad check FILE::NAME.

NAME names the pair by one of these conventions, tried in this order:

* functions ``NAME_forward`` and ``NAME_backward`` in FILE (so CS231n's
  ``affine_forward``/``affine_backward`` is ``handgrad check layers.py::affine``);
* a class ``NAME`` with methods ``forward`` and ``backward``, "Deep Learning from
  Scratch" style: ``backward(dout)`` returns dx and leaves the parameters' gradients on
  the instance (``dW``, ``db`` ... or the ``grads`` list), and every one of them is checked
  by name (:func:`handgrad.gradcheck_layers.check_layer`). The instance is made with no
  arguments, or from ``--init 3x4,4`` (random arrays of these shapes, positionally, e.g.
  ``Affine(W, b)``), or taken from ``NAME_inputs()`` when it returns ``(instance, *inputs)``;
* an object ``NAME`` (an instance) with ``forward`` and ``backward`` methods.

The pair itself may be plain (``forward(*arrays) -> out``, ``backward(dout, *arrays) ->
grads``) or CS231n style (``forward -> (out, cache)``, ``backward(dout, cache)``); see
:func:`handgrad.check_backward`.

The inputs come from ``--shapes 4x3,3x5`` (standard normal arrays, float64, seeded by
``--seed``) or else from a function ``NAME_inputs()`` in FILE (or an ``inputs`` method of
the class) returning the input arrays. Prints ``OK: ...`` and exits 0, or prints the
report (which input is wrong, the worst elements, a diagnosis) and exits 1.

The file is imported as a module from its path (importlib), with its folder first on
sys.path so its own imports work; nothing is pickled and no strings are executed.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from handgrad import cli_args

__all__ = ["add_arguments", "main", "load_file", "resolve_pair", "parse_shapes"]


EPILOG = """\
NAME is found as functions NAME_forward and NAME_backward in FILE, or as a class NAME
with forward and backward methods. Inputs: --shapes, else NAME_inputs() in FILE.

examples:
  handgrad check layers.py::affine --shapes 4x3,3x5,5
  handgrad check rnn_layers.py::rnn --time-dim 0      (uses rnn_inputs() from the file)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("target", metavar="FILE::NAME",
                        help="your Python file and the name of the pair, e.g. layers.py::affine")
    parser.add_argument("--shapes", default=None,
                        help="input shapes, comma-separated, dims joined by x: 4x3,3x5 "
                             "(a scalar input: '()'). Default: NAME_inputs() in the file")
    parser.add_argument("--seed", type=cli_args.nonnegative_int, default=0,
                        help="seed for random inputs and the upstream gradient (default 0)")
    parser.add_argument("--eps", type=cli_args.positive_float, default=1e-6,
                        help="step h of the central difference (default 1e-6)")
    parser.add_argument("--atol", type=cli_args.nonnegative_float, default=1e-5,
                        help="absolute tolerance (1e-5)")
    parser.add_argument("--rtol", type=cli_args.nonnegative_float, default=1e-3,
                        help="relative tolerance (1e-3)")
    parser.add_argument("--time-dim", type=int, default=None,
                        help="time axis of the first input (e.g. 0 for (T, N, D)): report "
                             "the error time step by time step")
    parser.add_argument("--param", action="append", default=None, metavar="K=V,...",
                        help="a CS231n settings dict passed after the inputs, e.g. --param "
                             "stride=2,pad=1 for conv_param or --param mode=train for "
                             "bn_param (repeat for several)")
    parser.add_argument("--init", default=None, metavar="SHAPES",
                        help="for a class NAME whose constructor takes arrays: their shapes, "
                             "e.g. --init 3x4,4 for Affine(W, b)")
    parser.add_argument("--style", choices=("auto", "plain", "cs231n"), default="auto",
                        help="plain: backward(dout, *inputs); cs231n: forward returns "
                             "(out, cache) and backward(dout, cache); auto: detect")


def parse_params(text: str) -> dict[str, Any]:
    """'stride=2,pad=1,mode=train' -> {'stride': 2, 'pad': 1, 'mode': 'train'} (ints,
    then floats, else strings)."""
    out: dict[str, Any] = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"handgrad check: --param expects K=V pairs separated by commas "
                             f"(e.g. stride=2,pad=1), got {text!r}")
        value = value.strip()
        for kind in (int, float):
            try:
                out[key.strip()] = kind(value)
                break
            except ValueError:
                continue
        else:
            out[key.strip()] = value
    return out


def parse_shapes(text: str) -> list[tuple[int, ...]]:
    """'4x3,3x5' -> [(4, 3), (3, 5)]; '()' is a scalar."""
    shapes = []
    for part in text.split(","):
        part = part.strip().replace("X", "x").replace("*", "x")
        if part in ("()", ""):
            if part == "" and text.strip() != "":
                raise ValueError(f"--shapes: empty shape in {text!r}; write a scalar as ()")
            shapes.append(())
            continue
        try:
            dims = tuple(int(d) for d in part.strip("()").split("x"))
        except ValueError:
            raise ValueError(f"--shapes: cannot read {part!r} in {text!r}; write dims joined "
                             f"by x and shapes separated by commas, e.g. 4x3,3x5") from None
        if any(d < 0 for d in dims):
            raise ValueError(f"--shapes: negative size in {part!r}")
        shapes.append(dims)
    return shapes


def load_file(path: str | Path) -> ModuleType:
    """Import a Python file from its path as a fresh module (its folder on sys.path)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"handgrad check: no such file: {p}")
    if p.is_dir() or p.suffix != ".py":
        raise ValueError(f"handgrad check: expected a .py file, got {p}")
    name = f"_handgrad_check_{abs(hash(str(p.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, p)
    if spec is None or spec.loader is None:
        raise ValueError(f"handgrad check: cannot import {p}")
    module = importlib.util.module_from_spec(spec)
    folder = str(p.resolve().parent)
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    finally:
        if folder in sys.path:
            sys.path.remove(folder)
    return module


def resolve_pair(module: ModuleType, name: str) -> tuple[Any, Any, Any, str, str]:
    """(forward, backward, inputs_fn or None, style hint, description) for NAME."""
    from handgrad.gradcheck import _positional_count

    fwd = getattr(module, f"{name}_forward", None)
    bwd = getattr(module, f"{name}_backward", None)
    inputs_fn = getattr(module, f"{name}_inputs", None)
    if callable(fwd) and callable(bwd):
        return fwd, bwd, inputs_fn, "auto", f"{name}_forward/{name}_backward"
    obj = getattr(module, name, None)
    if obj is not None and callable(getattr(obj, "forward", None)) and \
            callable(getattr(obj, "backward", None)):
        if inspect.isclass(obj):
            try:
                obj = obj()
            except TypeError as err:
                raise ValueError(f"handgrad check: class {name} must be constructible with no "
                                 f"arguments to be checked ({err})") from None
        if inputs_fn is None and callable(getattr(obj, "inputs", None)):
            inputs_fn = obj.inputs
        forward, backward = obj.forward, obj.backward
        if _positional_count(backward) == 1:
            # Deep Learning from Scratch style: backward(dout) uses what forward kept on
            # self; run forward on the same inputs first so the state matches.
            def stateful_backward(dout: Any, *arrays: Any) -> Any:
                forward(*arrays)
                return backward(dout)

            stateful_backward.__name__ = f"{name}.backward"
            return forward, stateful_backward, inputs_fn, "plain", f"{name}.forward/backward"
        return forward, backward, inputs_fn, "auto", f"{name}.forward/backward"
    pairs = sorted(n[: -len("_forward")] for n in dir(module)
                   if n.endswith("_forward") and callable(getattr(module, n))
                   and callable(getattr(module, n[: -len("_forward")] + "_backward", None)))
    classes = sorted(n for n in dir(module) if not n.startswith("_")
                     and inspect.isclass(getattr(module, n))
                     and callable(getattr(getattr(module, n), "forward", None))
                     and callable(getattr(getattr(module, n), "backward", None)))
    found = ", ".join(pairs + classes) or "none"
    raise ValueError(
        f"handgrad check: found no pair named {name!r} in {module.__file__}: expected "
        f"functions {name}_forward and {name}_backward, or a class {name} with forward and "
        f"backward methods. Pairs found in the file: {found}")


def _input_rng(seed: int) -> np.random.Generator:
    """The inputs' stream (the upstream gradients have their own, see gradcheck)."""
    return np.random.default_rng(seed)


def _check_layer_target(module: ModuleType, name: str, target: Any, path: str,
                        args: argparse.Namespace) -> int:
    """A class-based layer: make (or take) the instance, find the inputs, check every
    gradient it computes."""
    from handgrad.gradcheck import last_report
    from handgrad.gradcheck_layers import check_layer

    rng = _input_rng(args.seed)
    inputs_fn = getattr(module, f"{name}_inputs", None)
    given = inputs_fn() if callable(inputs_fn) else None
    layer = None
    if inspect.isclass(target):
        if isinstance(given, tuple | list) and given and isinstance(given[0], target):
            layer, given = given[0], list(given[1:])
        elif args.init is not None:
            layer = target(*[rng.standard_normal(s) for s in parse_shapes(args.init)])
        else:
            try:
                layer = target()
            except TypeError as err:
                raise ValueError(
                    f"handgrad check: class {name} needs constructor arguments ({err}); give "
                    f"their shapes with --init (e.g. --init 3x4,4 for {name}(W, b)), or "
                    f"define {name}_inputs() in {path} returning ({name}(...), x, ...)"
                ) from None
    else:
        layer = target
    if given is None and callable(getattr(layer, "inputs", None)):
        given = layer.inputs()
    if args.shapes is not None:
        inputs = [rng.standard_normal(s) for s in parse_shapes(args.shapes)]
    elif given is not None:
        inputs = [given] if isinstance(given, np.ndarray) else list(given)
    else:
        raise ValueError(f"handgrad check: no inputs for {name}: pass --shapes (e.g. "
                         f"--shapes 4x3) or define {name}_inputs() in {path}")
    ok = check_layer(layer, inputs, eps=args.eps, atol=args.atol, rtol=args.rtol,
                     seed=args.seed, raise_exception=False)
    print(last_report()["message"].replace(f"{type(layer).__name__}.forward/backward",
                                           f"{name}.forward/backward in {path}", 1))
    return 0 if ok else 1


def _learner_error(err: BaseException, path: str) -> str:
    """The learner's own exception, shown as theirs: the frames of their file (file,
    line, function, the line of code) and the exception, not handgrad's or NumPy's."""
    import traceback

    mine = str(Path(path).resolve())
    frames = [f for f in traceback.extract_tb(err.__traceback__)
              if str(Path(f.filename).resolve()) == mine]
    lines = [f"handgrad check: your code raised {type(err).__name__}: {err}"]
    for f in frames[-4:]:
        lines.append(f"  {f.filename}, line {f.lineno}, in {f.name}")
        if f.line:
            lines.append(f"    {f.line}")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    try:
        return _main(args)
    except Exception as err:
        path = str(args.target).rpartition("::")[0]
        tb = err.__traceback__
        import traceback

        if path and any(str(Path(f.filename).resolve()) == str(Path(path).resolve())
                        for f in traceback.extract_tb(tb)):
            print(_learner_error(err, path), file=sys.stderr)
            return 1
        raise


def _main(args: argparse.Namespace) -> int:
    from handgrad.gradcheck import _check_backward_report, _finish

    path, sep, name = str(args.target).rpartition("::")
    if not sep or not path or not name:
        raise ValueError(f"handgrad check: expected FILE::NAME (e.g. layers.py::affine), got "
                         f"{args.target!r}")
    module = load_file(path)
    target = getattr(module, name, None)
    if target is not None and not callable(getattr(module, f"{name}_forward", None)) and \
            callable(getattr(target, "forward", None)) and \
            callable(getattr(target, "backward", None)):
        return _check_layer_target(module, name, target, path, args)
    forward, backward, inputs_fn, style, label = resolve_pair(module, name)
    if args.shapes is not None:
        rng = _input_rng(args.seed)
        inputs = [rng.standard_normal(s) for s in parse_shapes(args.shapes)]
    elif inputs_fn is not None:
        inputs = inputs_fn()
        if isinstance(inputs, np.ndarray):
            inputs = [inputs]
        if not isinstance(inputs, tuple | list):
            raise TypeError(f"handgrad check: {name}_inputs() must return the input arrays "
                            f"(a tuple or list), got {type(inputs).__name__}")
    else:
        raise ValueError(f"handgrad check: no inputs for {name}: pass --shapes (e.g. "
                         f"--shapes 4x3,3x5) or define {name}_inputs() in {path} returning "
                         f"the input arrays")
    for text in args.param or ():
        inputs = [*inputs, parse_params(text)]
    chosen = args.style if args.style != "auto" else style
    report, _ = _check_backward_report(
        forward, backward, tuple(inputs), eps=args.eps, atol=args.atol, rtol=args.rtol,
        seed=args.seed, time_dim=args.time_dim, names=None, dtype=np.float64, style=chosen)
    ok = _finish(report, f"{label} in {path}", False, None)
    print(report["message"])
    return 0 if ok else 1
