"""The ``handgrad`` command (also ``python -m handgrad``).

Each command lives in the module that implements it, which defines
``add_arguments(parser)`` and ``main(args) -> int`` (exit status). This file only
routes: it imports a command's module when that command runs, so ``handgrad --help``
is instant and one command's heavy imports never slow another.

Errors a user can fix (a missing file, a bad option, bad data) are printed as one line
and the command exits non-zero; set HANDGRAD_DEBUG=1 to see the full traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

# (words, module, one-line description)
COMMANDS: list[tuple[tuple[str, ...], str, str]] = [
    (("train", "mnist"), "handgrad.experiments.mnist_cnn",
     "train a small CNN on the shipped MNIST digits (the main job)"),
    (("train", "charlm"), "handgrad.experiments.char_lm",
     "train a character-level language model on tiny-shakespeare or your text"),
    (("predict",), "handgrad.experiments.predict",
     "classify your own digit image with a trained MNIST model"),
    (("sample",), "handgrad.experiments.char_lm_sample",
     "sample text from a trained character model"),
    (("score",), "handgrad.experiments.char_lm_score",
     "log-probability and bits per character of a text under a character model"),
    (("experiment", "linreg"), "handgrad.experiments.linreg_sgd",
     "week-1 exercises: gradient descent, linear regression, SGD, four error measures"),
    (("experiment", "mle"), "handgrad.experiments.mle",
     "maximum likelihood of a normal distribution by gradient ascent"),
    (("experiment", "count-ones"), "handgrad.experiments.count_ones",
     "the counting-ones RNN: BPTT by hand, loss surface, SGD vs clipping vs Rprop"),
    (("experiment", "vanishing"), "handgrad.experiments.vanishing",
     "vanishing gradients and the long-lag memory task: RNN vs LSTM vs GRU"),
    (("exercise",), "handgrad.exercises.cli",
     "exercises handgrad grades: handgrad exercise list|start|hint|check"),
    (("viz",), "handgrad.viz.cli",
     "draw the graph and step through the backward pass (SVG + one HTML file)"),
    (("check",), "handgrad.gradcheck_cli",
     "gradient-check a forward/backward pair in your own file: handgrad check FILE::NAME"),
    (("bench",), "handgrad.bench",
     "benchmark handgrad against PyTorch side by side"),
]

# Exceptions that mean "the user gave something wrong", printed as one line.
USER_ERRORS: tuple[type[BaseException], ...] = (
    ValueError, TypeError, FileNotFoundError, IsADirectoryError, PermissionError,
    KeyError, OSError,
)


class _UsageError(Exception):
    """A bad command line (unknown option, bad value): reported as one line."""


class _OneLineErrorParser(argparse.ArgumentParser):
    """argparse prints a usage block and exits on a bad option; we want one line and a
    return value (so ``main`` can be called from tests and scripts)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(message)


def _usage() -> str:
    lines = ["usage: handgrad COMMAND [options]   (handgrad COMMAND --help for its options)",
             "", "commands:"]
    for words, _, text in COMMANDS:
        lines.append(f"  {' '.join(words):<22} {text}")
    return "\n".join(lines)


def _group_usage(group: str) -> str:
    lines = [f"usage: handgrad {group} SUBCOMMAND [options]   (handgrad {group} SUBCOMMAND "
             f"--help for its options)", "", f"{group} subcommands:"]
    for words, _, text in COMMANDS:
        if words[0] == group and len(words) > 1:
            lines.append(f"  {words[1]:<14} {text}")
    return "\n".join(lines)


def _find_command(argv: Sequence[str]) -> tuple[tuple[str, ...], str] | None:
    for words, module, _ in COMMANDS:
        if tuple(argv[: len(words)]) == words:
            return words, module
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # --lang en|ko anywhere on the line: the language of handgrad's messages
    for i, word in enumerate(argv):
        if word == "--lang" or word.startswith("--lang="):
            value = word.split("=", 1)[1] if "=" in word else (
                argv[i + 1] if i + 1 < len(argv) else "")
            from handgrad.i18n import LANGS, set_lang

            if value not in LANGS:
                print(f"handgrad: error: --lang must be one of {', '.join(LANGS)}, got "
                      f"{value!r}", file=sys.stderr)
                return 2
            set_lang(value)
            del argv[i:i + (1 if "=" in word else 2)]
            break
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    if argv[0] in ("-V", "--version"):
        from handgrad import __version__

        print(f"handgrad {__version__}")
        return 0
    found = _find_command(argv)
    groups = {w[0] for w, _, _ in COMMANDS if len(w) > 1}
    if found is None and argv[0] in groups and (len(argv) == 1 or argv[1] in
                                                 ("-h", "--help", "help")):
        # `handgrad train` / `handgrad train --help`: the group's subcommands
        asked = len(argv) > 1
        print(_group_usage(argv[0]), file=sys.stdout if asked else sys.stderr)
        return 0 if asked else 2
    if found is None:
        groups = sorted({w[0] for w, _, _ in COMMANDS if len(w) > 1})
        hint = ""
        if argv[0] in groups:
            subs = [w[1] for w, _, _ in COMMANDS if w[0] == argv[0] and len(w) > 1]
            hint = f" ('{argv[0]}' takes one of: {', '.join(subs)})"
        print(f"handgrad: error: unknown command {' '.join(argv[:2])!r}{hint}; "
              "`handgrad --help` lists the commands", file=sys.stderr)
        return 2
    words, module_name = found
    from handgrad import runtime

    runtime.tune_allocator()  # process-wide settings belong to the edge: here
    module = importlib.import_module(module_name)
    prog = "handgrad " + " ".join(words)
    parser = _OneLineErrorParser(prog=prog,
                                 description=(module.__doc__ or "").strip().split("\n")[0])
    module.add_arguments(parser)
    try:
        args = parser.parse_args(argv[len(words):])
    except _UsageError as err:
        print(f"{prog}: error: {err} (see '{prog} --help')", file=sys.stderr)
        return 2
    try:
        return int(module.main(args) or 0)
    except BrokenPipeError:
        # the reader went away (`handgrad sample ... | head`): stop quietly, as a Unix
        # tool killed by SIGPIPE would (status 128 + 13); point stdout at /dev/null so
        # the interpreter's final flush does not complain again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print("handgrad: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as err:
        if os.environ.get("HANDGRAD_DEBUG"):
            raise
        print(f"handgrad: error: {err}", file=sys.stderr)
        return 1
    except Exception as err:  # anything else: still one line, but say it is a bug
        if os.environ.get("HANDGRAD_DEBUG"):
            raise
        name = type(err).__name__
        print(f"handgrad: error: {name}: {err} (set HANDGRAD_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
