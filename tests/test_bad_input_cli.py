"""Bad command lines, catalogued (issue 9 item 9): every count, rate and tolerance of
every command refuses zero, negative, fractional, infinite, NaN and non-numbers with ONE
line that names the option and states the rule, exit status 2, and nothing written.

The rows are generated from one list of (command, option, rule), so a new option gets
its rows by being added there; the special cases (thread count at resume, a model with
NaN weights, a changed training text) follow as hand-written rows. The row checker is
the library table's (tests/test_bad_input.py): one stderr line, no traceback, no NumPy.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import handgrad as hg
from tests.test_bad_input import CliExit, _exit_of, case, cli
from tests.test_bad_input import test_bad_input as check_row

RULES = {
    "positive_int": ("positive integer", ["0", "-5", "1.5", "x"]),
    "nonnegative_int": ("integer >= 0", ["-1", "2.5", "x"]),
    "positive_float": ("positive finite number", ["0", "-1", "inf", "nan", "x"]),
    "nonnegative_float": ("finite number >= 0", ["-1", "inf", "nan"]),
}

OPTIONS: list[tuple[tuple[str, ...], str, str]] = [
    (("train", "mnist"), "--epochs", "positive_int"),
    (("train", "mnist"), "--batch-size", "positive_int"),
    (("train", "mnist"), "--lr", "positive_float"),
    (("train", "mnist"), "--seed", "nonnegative_int"),
    (("train", "mnist"), "--checkpoint-every", "positive_int"),
    (("train", "mnist"), "--limit", "positive_int"),
    (("train", "mnist"), "--threads", "positive_int"),
    (("train", "charlm"), "--layers", "positive_int"),
    (("train", "charlm"), "--hidden", "positive_int"),
    (("train", "charlm"), "--embed", "positive_int"),
    (("train", "charlm"), "--seq-len", "positive_int"),
    (("train", "charlm"), "--batch-size", "positive_int"),
    (("train", "charlm"), "--lr", "positive_float"),
    (("train", "charlm"), "--lr-min", "nonnegative_float"),
    (("train", "charlm"), "--clip", "nonnegative_float"),
    (("train", "charlm"), "--steps", "positive_int"),
    (("train", "charlm"), "--epochs", "positive_int"),
    (("train", "charlm"), "--max-chars", "positive_int"),
    (("train", "charlm"), "--seed", "nonnegative_int"),
    (("train", "charlm"), "--eval-every", "nonnegative_int"),
    (("train", "charlm"), "--checkpoint-every", "nonnegative_int"),
    (("train", "charlm"), "--threads", "positive_int"),
    (("sample",), "--temperature", "positive_float"),
    (("sample",), "--length", "nonnegative_int"),
    (("sample",), "--beam", "positive_int"),
    (("experiment", "linreg"), "--lr", "positive_float"),
    (("experiment", "linreg"), "--iterations", "positive_int"),
    (("experiment", "linreg"), "--epochs", "positive_int"),
    (("experiment", "linreg"), "--batch-size", "positive_int"),
    (("experiment", "mle"), "--n", "positive_int"),
    (("experiment", "mle"), "--lr", "positive_float"),
    (("experiment", "count-ones"), "--iterations", "positive_int"),
    (("experiment", "count-ones"), "--sgd-lr", "positive_float"),
    (("experiment", "count-ones"), "--clip", "positive_float"),
    (("experiment", "vanishing"), "--seeds", "positive_int"),
    (("experiment", "vanishing"), "--budget", "positive_int"),
    (("experiment", "vanishing"), "--lags", "positive_int"),
    (("check",), "--eps", "positive_float"),
    (("check",), "--atol", "nonnegative_float"),
    (("check",), "--rtol", "nonnegative_float"),
    (("bench",), "--repeats", "positive_int"),
]
# positional arguments a command needs before its options can be parsed
POSITIONAL = {("sample",): ["model.npz"], ("check",): ["layers.py::f"]}


def _option_rows() -> list[Any]:
    rows = []
    for words, option, rule in OPTIONS:
        text, bad_values = RULES[rule]
        for bad in bad_values:
            argv = [*words, *POSITIONAL.get(words, []), option, bad]
            rows.append(case(f"cli-{'-'.join(words)}{option}={bad}", cli(*argv), CliExit,
                             [option, text, repr(bad)]))
    return rows


# -- the special cases ------------------------------------------------------------------
def _tiny_charlm_model(path: str = "lm.npz", poison: bool = False) -> str:
    from handgrad.data.text import CharVocab
    from handgrad.experiments import char_lm

    vocab = CharVocab.from_text("abc ")
    settings = {**char_lm.DEFAULTS, "hidden": 4, "embed": 3, "layers": 1}
    model = char_lm.build_model(settings, vocab.size)
    if poison:
        next(iter(model.parameters())).data[0] = np.nan
    char_lm.save_model(Path(path), model, vocab, char_lm._settings_of(settings), {})
    return path


def _tiny_mnist_model(path: str = "model.npz", poison: bool = False) -> str:
    from handgrad.experiments.mnist_cnn import MODEL_FORMAT, MnistCNN

    model = MnistCNN(channels=(2, 2), hidden=4)
    if poison:
        model.fc2.bias.data[:] = np.inf
    hg.save({"format": MODEL_FORMAT, "kind": "model", "arch": model.arch,
             "model": model.state_dict()}, path)
    return path


def _run(make: Callable[[], list[str]]) -> Callable[[], None]:
    def go() -> None:
        raise CliExit(_exit_of(make()))

    return go


def _digit_png(path: str = "digit.png") -> str:
    from PIL import Image

    Image.fromarray(np.zeros((28, 28), np.uint8)).save(path)
    return path


def _score_file(path: str = "t.txt") -> str:
    Path(path).write_text("abc abc")
    return path


def _quick_charlm_run(out: str = "run") -> str:
    assert _exit_of(["train", "charlm", "--quick", "--steps", "4", "--eval-every", "0",
                     "--out", out]) == 0
    return out


def _charlm_resume_other_threads() -> list[str]:
    return ["train", "charlm", "--resume", _quick_charlm_run(), "--threads", "2"]


def _charlm_resume_changed_text() -> list[str]:
    Path("my.txt").write_text("to be or not to be " * 400)
    assert _exit_of(["train", "charlm", "--text", "my.txt", "--steps", "6", "--hidden", "8",
                     "--embed", "4", "--seq-len", "8", "--batch-size", "2",
                     "--eval-every", "0", "--checkpoint-every", "3", "--out", "run"]) == 0
    Path("my.txt").write_text("that is the question " * 400)
    ckpt = hg.load("run/checkpoint.npz")
    ckpt["position"]["step"] = 3  # as if it had been interrupted half way
    hg.save(ckpt, "run/checkpoint.npz")
    return ["train", "charlm", "--resume", "run"]


SPECIAL = [
    case("cli-charlm-lr-min-above-lr", cli("train", "charlm", "--lr", "0.01", "--lr-min",
                                           "0.1", "--quick"), CliExit,
         ["--lr-min", "above --lr", "decays"]),
    case("cli-sample-nan-model",
         _run(lambda: ["sample", _tiny_charlm_model(poison=True), "--length", "5"]), CliExit,
         ["lm.npz", "NaN or Inf", "parameter"]),
    case("cli-score-nan-model",
         _run(lambda: ["score", _tiny_charlm_model(poison=True), _score_file()]), CliExit,
         ["lm.npz", "NaN or Inf", "parameter"]),
    case("cli-predict-inf-model",
         _run(lambda: ["predict", _tiny_mnist_model(poison=True), _digit_png()]), CliExit,
         ["model.npz", "fc2.bias", "NaN or Inf"]),
    case("cli-charlm-resume-other-threads", _run(_charlm_resume_other_threads), CliExit,
         ["--threads 2", "started with --threads 1", "bit-identical"]),
    case("cli-charlm-resume-changed-text", _run(_charlm_resume_changed_text), CliExit,
         ["--resume", "training text differs", "--text"]),
    case("cli-mnist-threads-word", cli("train", "mnist", "--threads", "two"), CliExit,
         ["--threads", "positive integer", "'two'"]),
]

CASES = _option_rows() + SPECIAL


@pytest.mark.parametrize("thunk, exc, subs", CASES)
def test_bad_command_line(thunk, exc, subs, tmp_path, monkeypatch, capsys):
    check_row(thunk, exc, subs, tmp_path, monkeypatch, capsys)
    # an option refused while parsing leaves nothing behind
    if thunk.__name__ == "run":
        assert list(tmp_path.iterdir()) == [], sorted(p.name for p in tmp_path.iterdir())


def test_table_is_large_and_unique():
    from tests.test_bad_input import CASES as LIBRARY

    ids = [p.id for p in CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 60
    assert len(ids) + len(LIBRARY) >= 300


@pytest.mark.parametrize("group", ["train", "experiment"])
@pytest.mark.parametrize("ask", [True, False])
def test_group_help_lists_the_subcommands(group, ask, capsys):
    """`handgrad train --help` (exit 0, stdout) and a bare `handgrad train` (exit 2,
    stderr) list the subcommands."""
    from handgrad.cli import COMMANDS

    assert _exit_of([group, "--help"] if ask else [group]) == (0 if ask else 2)
    captured = capsys.readouterr()
    text = captured.out if ask else captured.err
    for words, _, _ in COMMANDS:
        if words[0] == group:
            assert f"  {words[1]} " in text


def test_closed_pipe_ends_quietly(tmp_path):
    """`handgrad ... | head -1`: the reader closes the pipe; no traceback, status 141."""
    script = ("import sys; sys.argv = ['handgrad', 'experiment', 'linreg', '--out', "
              f"{str(tmp_path / 'o')!r}]; from handgrad.cli import main; "
              "raise SystemExit(main())")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.readline()
    proc.stdout.close()
    _, err = proc.communicate(timeout=300)
    assert b"Traceback" not in err and b"BrokenPipe" not in err, err.decode()
    assert proc.returncode in (0, 141), (proc.returncode, err.decode())


def test_resume_refuses_a_changed_mnist_data_set(tmp_path, capsys):
    from tests.data.test_mnist import write_mnist_dir

    data = tmp_path / "data"
    data.mkdir()
    write_mnist_dir(data, n_train=40, n_test=10)
    out = tmp_path / "run"
    assert _exit_of(["train", "mnist", "--data", str(data), "--epochs", "2", "--batch-size",
                     "16", "--quiet", "--out", str(out)]) == 0
    ckpt = hg.load(out / "checkpoint.npz")
    ckpt["progress"]["epoch"] = 1
    hg.save(ckpt, out / "checkpoint.npz")
    write_mnist_dir(data, n_train=40, n_test=10, rng=np.random.default_rng(99))  # others
    capsys.readouterr()
    assert _exit_of(["train", "mnist", "--resume", str(out), "--quiet"]) == 1
    assert "training data differs" in capsys.readouterr().err
