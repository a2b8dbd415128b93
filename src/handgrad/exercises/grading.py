"""Grading a learner's exercise file: forward against the truth on a grid of cases, the
backward with handgrad's gradient checker, a short verdict per part.

A part is one thing the learner wrote (``affine_forward``, ``affine_backward``, ...). Its
verdict is one of: ``passed``; ``not implemented yet`` (the template's
``NotImplementedError``); ``failed`` with the first failing case (its inputs small enough
to read), the worst element and, for a backward, the checker's diagnosis; ``error`` with
the learner's own frames (file, line, function, code).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from handgrad.i18n import Messages

MSG = Messages("exercise.grading", {
    "passed": {"en": "passed", "ko": "통과"},
    "todo": {"en": "not implemented yet", "ko": "아직 구현하지 않았습니다"},
    "failed": {"en": "FAILED", "ko": "실패"},
    "error": {"en": "your code raised {exc}", "ko": "작성한 코드에서 {exc} 예외가 났습니다"},
    "missing": {"en": "{name} is not defined in the file", "ko": "파일에 {name}이(가) 없습니다"},
    "case": {"en": "first failing case: {case}", "ko": "처음 실패한 경우: {case}"},
    "worst": {"en": "worst element {index}: yours {got}, expected {want}",
              "ko": "가장 큰 차이의 원소 {index}: 작성한 값 {got}, 기대한 값 {want}"},
    "shape": {"en": "output has shape {got}, expected {want}",
              "ko": "출력의 형상이 {got}입니다. 기대한 형상은 {want}입니다"},
    "diagnosis": {"en": "gradient check: {diagnosis}: {text}",
                  "ko": "기울기 확인: {diagnosis}: {text}"},
    "nonfinite": {"en": "the result holds NaN or Inf", "ko": "결과에 NaN 또는 Inf가 있습니다"},
})


@dataclass
class PartResult:
    part: str
    status: str                 # "passed", "todo", "failed", "error"
    details: list[str] = field(default_factory=list)
    diagnosis: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "passed"


class _Todo(Exception):
    pass


def learner_frames(err: BaseException, path: str) -> list[str]:
    mine = str(Path(path).resolve())
    out = []
    for f in traceback.extract_tb(err.__traceback__):
        if str(Path(f.filename).resolve()) == mine:
            out.append(f"  {Path(f.filename).name}, line {f.lineno}, in {f.name}: "
                       f"{(f.line or '').strip()}")
    return out[-3:]


def call(fn: Any, *args: Any) -> Any:
    """Call the learner's function; their NotImplementedError means 'not yet'."""
    try:
        return fn(*args)
    except NotImplementedError:
        raise _Todo() from None


def describe(args: Any) -> str:
    """Small inputs in full, large ones as shape and dtype."""
    parts = []
    for a in args:
        if isinstance(a, np.ndarray):
            parts.append(np.array2string(a, precision=3, threshold=24) if a.size <= 24
                         else f"array{a.shape}")
        else:
            parts.append(repr(a))
    return "(" + ", ".join(parts) + ")"


def compare(part: str, got: Any, want: Any, case: Any, rtol: float = 1e-6,
            atol: float = 1e-8) -> PartResult | None:
    """None when equal; else the failed result naming the worst element."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return PartResult(part, "failed", [MSG("shape", got=got.shape, want=want.shape),
                                           MSG("case", case=describe(case))])
    if not np.isfinite(got).all() and np.isfinite(want).all():
        return PartResult(part, "failed", [MSG("nonfinite"), MSG("case", case=describe(case))])
    bad = ~(np.abs(got - want) <= atol + rtol * np.abs(want))
    if not bad.any():
        return None
    err = np.where(bad, np.abs(got - want), -1.0)
    index = tuple(int(i) for i in np.unravel_index(int(np.argmax(err)), got.shape))
    return PartResult(part, "failed", [
        MSG("worst", index=index, got=f"{got[index]:.6g}", want=f"{want[index]:.6g}"),
        MSG("case", case=describe(case))])


def check_gradients(part: str, forward: Callable[..., Any], backward: Callable[..., Any],
                    case: list[Any], style: str = "cs231n",
                    wrt: tuple[Any, ...] | None = None) -> PartResult | None:
    """The backward through handgrad's checker; None when it passes."""
    import handgrad as hg
    from handgrad.gradcheck import last_report

    with np.errstate(all="ignore"):
        ok = hg.check_backward(forward, backward, case, style=style, raise_exception=False,
                               wrt=wrt)
    if ok:
        return None
    rep = last_report()
    assert rep is not None  # the check just ran
    name = rep["failed"][0]
    r = rep["results"][name]
    details = [MSG("diagnosis", diagnosis=f"d{name} {r['diagnosis']}",
                   text=r["diagnosis_text"][:300])]
    if r.get("worst"):
        w = r["worst"][0]
        details.append(MSG("worst", index=w["index"], got=f"{w['analytic']:.6g}",
                           want=f"{w['numeric']:.6g}"))
    details.append(MSG("case", case=describe(case)))
    return PartResult(part, "failed", details, diagnosis=r["diagnosis"])


def run_part(part: str, path: str, fn: Callable[[], PartResult | None]) -> PartResult:
    """One part, with the learner's exceptions turned into a verdict."""
    try:
        with np.errstate(all="ignore"):
            result = fn()
    except _Todo:
        return PartResult(part, "todo")
    except Exception as err:  # the learner's bug, shown as theirs
        return PartResult(part, "error", [MSG("error", exc=f"{type(err).__name__}: {err}"),
                                          *learner_frames(err, path)])
    return result or PartResult(part, "passed")


def need(module: ModuleType, *names: str) -> list[Any]:
    missing = [n for n in names if not callable(getattr(module, n, None))]
    if missing:
        raise AttributeError(MSG("missing", name=", ".join(missing)))
    return [getattr(module, n) for n in names]
