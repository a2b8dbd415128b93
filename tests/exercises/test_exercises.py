"""handgrad exercise: every solution passes, every typical bug fails in the right part
(with the right diagnosis where one is promised), templates say "not implemented yet"."""

from __future__ import annotations

import pytest

from handgrad.cli import main
from handgrad.exercises.catalog import BY_NAME, EXERCISES
from handgrad.exercises.cli import grade_file
from tests.exercises.solutions import BUGS, SOLUTIONS


def _write(tmp_path, name, source):
    path = tmp_path / f"{name}.py"
    path.write_text("import numpy as np\n" + source, encoding="utf-8")
    return path


def test_every_exercise_has_a_solution_and_three_bugs():
    assert set(SOLUTIONS) == set(BY_NAME)
    for name in BY_NAME:
        assert len(BUGS[name]) >= 3, name


@pytest.mark.parametrize("name", [e.name for e in EXERCISES])
def test_solution_passes(name, tmp_path):
    _, results = grade_file(_write(tmp_path, name, SOLUTIONS[name]))
    assert all(r.ok for r in results), [(r.part, r.status, r.details) for r in results]


@pytest.mark.parametrize("name, i", [(n, i) for n in BUGS for i in range(len(BUGS[n]))],
                         ids=lambda v: str(v))
def test_bug_fails_in_the_right_part(name, i, tmp_path):
    old, new, part, diagnosis = BUGS[name][i]
    assert old in SOLUTIONS[name], (name, old)
    _, results = grade_file(_write(tmp_path, name, SOLUTIONS[name].replace(old, new, 1)))
    by_part = {r.part: r for r in results}
    assert part in by_part, list(by_part)
    r = by_part[part]
    assert not r.ok, f"{name}: the bug {new!r} passed"
    if diagnosis is not None:
        assert r.diagnosis == diagnosis, (r.diagnosis, r.details)


@pytest.mark.parametrize("name", [e.name for e in EXERCISES])
def test_template_says_not_implemented(name, tmp_path, capsys):
    assert main(["exercise", "start", name, str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["exercise", "check", str(tmp_path / f"{name}.py")]) == 1
    out = capsys.readouterr().out
    assert "not implemented yet" in out and "Traceback" not in out


def test_start_check_hint_list_flow_in_both_languages(tmp_path, capsys):
    from handgrad.i18n import set_lang

    ex = tmp_path / "ex"
    assert main(["exercise", "start", "conv_naive", str(ex)]) == 0
    text = (ex / "conv_naive.py").read_text(encoding="utf-8")
    assert "def conv_forward_naive(x, w, b, conv_param):" in text
    assert "raise NotImplementedError" in text and "np.pad" not in text  # no solution
    assert main(["exercise", "start", "conv_naive", str(ex)]) == 1          # no overwrite
    (ex / "conv_naive.py").write_text("import numpy as np\n" + SOLUTIONS["conv_naive"])
    capsys.readouterr()
    assert main(["exercise", "check", str(ex / "conv_naive.py")]) == 0
    assert "all 2 parts passed" in capsys.readouterr().out
    assert main(["exercise", "list", str(ex)]) == 0
    assert "[passed] conv_naive" in capsys.readouterr().out
    assert main(["exercise", "hint", "conv_naive", str(ex)]) == 0
    assert "hint 1 of 2" in capsys.readouterr().out
    assert main(["exercise", "hint", "conv_naive", str(ex)]) == 0
    assert "hint 2 of 2" in capsys.readouterr().out
    try:
        set_lang("ko")
        assert main(["exercise", "start", "rnn_step", str(ex)]) == 0
        assert "연습 문제: rnn_step" in (ex / "rnn_step.py").read_text(encoding="utf-8")
        capsys.readouterr()
        assert main(["exercise", "check", str(ex / "rnn_step.py")]) == 1
        assert "아직 구현하지 않았습니다" in capsys.readouterr().out
    finally:
        set_lang(None)


def test_learner_exception_is_shown_as_theirs(tmp_path, capsys):
    src = SOLUTIONS["affine"].replace("dw = x.reshape(x.shape[0], -1).T @ dout",
                                      "dw = x.reshape(x.shape[0], -1) @ dout")
    path = _write(tmp_path, "affine", src)
    assert main(["exercise", "check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "your code raised ValueError" in out and "affine.py, line" in out


def test_unknown_names(tmp_path, capsys):
    assert main(["exercise", "start", "nope", str(tmp_path)]) == 1
    assert "unknown exercise 'nope'" in capsys.readouterr().err
    (tmp_path / "mine.py").write_text("x = 1\n")
    assert main(["exercise", "check", str(tmp_path / "mine.py")]) == 1
    assert "must be an exercise name" in capsys.readouterr().err
