"""Exercises a learner solves and handgrad grades: handgrad exercise list|start|hint|check.

    handgrad exercise list [DIR]            the exercises by group, and which you passed
    handgrad exercise start NAME [DIR]      write DIR/NAME.py: the task, the signatures
    handgrad exercise hint NAME [DIR]       reveal the next hint (one at a time)
    handgrad exercise check DIR/NAME.py     grade it: forward vs the truth, backward with
                                            the gradient checker; exit 0 when all pass

DIR defaults to ``exercises``. Progress (passed exercises, hints shown) is kept in
``DIR/.handgrad-exercises.json`` (plain JSON). ``--lang ko`` gives every text in Korean.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from handgrad.exercises.catalog import BY_NAME, EXERCISES, READ_AFTER, TEXT
from handgrad.exercises.grading import MSG as GRADE_MSG
from handgrad.i18n import Messages

__all__ = ["add_arguments", "main"]

STATE = ".handgrad-exercises.json"

MSG = Messages("exercise.cli", {
    "passed_mark": {"en": "passed", "ko": "통과"},
    "wrote": {"en": "wrote {path}: fill in the functions, then run  handgrad exercise check "
                    "{path}",
              "ko": "{path}을(를) 만들었습니다: 함수를 채운 뒤  handgrad exercise check {path}  "
                    "를 실행하세요"},
    "exists": {"en": "{path} exists already; not overwritten (delete it to start over)",
               "ko": "{path}이(가) 이미 있어 덮어쓰지 않았습니다(처음부터 하려면 지우세요)"},
    "unknown": {"en": "unknown exercise {name!r}; choose from: {names}",
                "ko": "{name!r}이라는 연습 문제는 없습니다. 다음 중에서 고르세요: {names}"},
    "hint": {"en": "hint {i} of {n} for {name}: {text}",
             "ko": "{name}의 힌트 {i}/{n}: {text}"},
    "no_more": {"en": "no more hints for {name} (all {n} shown)",
                "ko": "{name}의 힌트를 모두 보았습니다({n}개)"},
    "all_passed": {"en": "{name}: all {n} parts passed", "ko": "{name}: {n}개 부분 모두 통과"},
    "some_failed": {"en": "{name}: {bad} of {n} parts not passed yet",
                    "ko": "{name}: {n}개 부분 중 {bad}개가 아직 통과하지 못했습니다"},
    "next_hint": {"en": "stuck? handgrad exercise hint {name}",
                  "ko": "막혔나요? handgrad exercise hint {name}"},
    "not_exercise": {"en": "{path}: the file name must be an exercise name (NAME.py); "
                           "known: {names}",
                     "ko": "{path}: 파일 이름이 연습 문제 이름(NAME.py)이어야 합니다. "
                           "목록: {names}"},
    "task_header": {"en": "Exercise", "ko": "연습 문제"},
    "hints_line": {"en": "Hints: handgrad exercise hint {name} (one at a time).",
                   "ko": "힌트: handgrad exercise hint {name} (한 번에 하나씩)."},
    "check_line": {"en": "Check: handgrad exercise check {path}",
                   "ko": "채점: handgrad exercise check {path}"},
})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = sub.add_parser("list", help="the exercises by group, and which you passed")
    p.add_argument("dir", nargs="?", default="exercises")
    p = sub.add_parser("start", help="write DIR/NAME.py: the task and the signatures")
    p.add_argument("name")
    p.add_argument("dir", nargs="?", default="exercises")
    p = sub.add_parser("hint", help="reveal the next hint of NAME")
    p.add_argument("name")
    p.add_argument("dir", nargs="?", default="exercises")
    p = sub.add_parser("check", help="grade DIR/NAME.py")
    p.add_argument("path")


def _state(folder: Path) -> dict[str, Any]:
    path = folder / STATE
    if not path.is_file():
        return {"passed": [], "hints": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"passed": [], "hints": {}}
    if not isinstance(data, dict):
        return {"passed": [], "hints": {}}
    return {"passed": list(data.get("passed", [])), "hints": dict(data.get("hints", {}))}


def _save_state(folder: Path, state: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / STATE).write_text(json.dumps(state, indent=1, sort_keys=True), encoding="utf-8")


def _exercise(name: str) -> Any:
    if name not in BY_NAME:
        raise ValueError(MSG("unknown", name=name, names=", ".join(BY_NAME)))
    return BY_NAME[name]


def _list(folder: Path) -> int:
    state = _state(folder)
    for group in ("week1", "cnn", "rnn"):
        print(TEXT(f"group.{group}"))
        for e in EXERCISES:
            if e.group == group:
                mark = f"[{MSG('passed_mark')}]" if e.name in state["passed"] else "[ ]"
                print(f"  {mark:<8} {e.name:<20} {TEXT(e.name + '.goal')}")
    return 0


def _start(name: str, folder: Path) -> int:
    e = _exercise(name)
    path = folder / f"{name}.py"
    if path.exists():
        print(MSG("exists", path=path))
        return 1
    folder.mkdir(parents=True, exist_ok=True)
    task = TEXT(f"{name}.task")
    doc = "\n".join([f"{MSG('task_header')}: {name}", "", TEXT(f"{name}.goal"), "",
                     _wrap(task), "", MSG("hints_line", name=name),
                     MSG("check_line", path=path), "",
                     TEXT("read_after", where=READ_AFTER.get(name, "handgrad/ops"))])
    path.write_text(f'"""{doc}\n"""\n\nimport numpy as np\n\n{e.template.strip()}\n',
                    encoding="utf-8")
    print(MSG("wrote", path=path))
    return 0


def _wrap(text: str, width: int = 88) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))


def _hint(name: str, folder: Path) -> int:
    e = _exercise(name)
    state = _state(folder)
    shown = int(state["hints"].get(name, 0))
    if shown >= e.n_hints:
        print(MSG("no_more", name=name, n=e.n_hints))
        for i in range(1, e.n_hints + 1):
            print(f"  {i}. {TEXT(f'{name}.hint{i}')}")
        return 0
    shown += 1
    print(MSG("hint", i=shown, n=e.n_hints, name=name, text=TEXT(f"{name}.hint{shown}")))
    state["hints"][name] = shown
    _save_state(folder, state)
    return 0


def _load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"handgrad_exercise_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ValueError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent.resolve()))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.pop(0)
    return module


def grade_file(path: str | Path) -> tuple[str, list[Any]]:
    """(exercise name, the part results) for a learner's file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    name = path.stem
    if name not in BY_NAME:
        raise ValueError(MSG("not_exercise", path=path, names=", ".join(BY_NAME)))
    module = _load(path)
    return name, BY_NAME[name].grade(module, str(path))


def _check(path_text: str) -> int:
    path = Path(path_text)
    name, results = grade_file(path)
    for r in results:
        label = {"passed": GRADE_MSG("passed"), "todo": GRADE_MSG("todo"),
                 "failed": GRADE_MSG("failed"), "error": GRADE_MSG("failed")}[r.status]
        print(f"  {r.part:<28} {label}")
        for line in r.details:
            print(f"      {line}")
    bad = [r for r in results if not r.ok]
    folder = path.parent
    state = _state(folder)
    if not bad:
        print(MSG("all_passed", name=name, n=len(results)))
        if name not in state["passed"]:
            state["passed"].append(name)
            _save_state(folder, state)
        return 0
    print(MSG("some_failed", name=name, bad=len(bad), n=len(results)))
    print(MSG("next_hint", name=name))
    return 1


def main(args: argparse.Namespace) -> int:
    if args.action == "list":
        return _list(Path(args.dir))
    if args.action == "start":
        return _start(args.name, Path(args.dir))
    if args.action == "hint":
        return _hint(args.name, Path(args.dir))
    return _check(args.path)
