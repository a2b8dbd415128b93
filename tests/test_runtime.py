"""Process-wide settings (handgrad/runtime.py): the thread policy and the allocator."""

from __future__ import annotations

import argparse

import pytest

from handgrad import runtime


def test_check_threads_names_the_argument():
    assert runtime.check_threads(3) == 3
    for bad in (0, -2, 1.5, True, "2", None):
        with pytest.raises(ValueError, match=r"--threads must be a positive integer"):
            runtime.check_threads(bad)
    with pytest.raises(argparse.ArgumentTypeError, match="positive integer"):
        runtime.threads_type("-1")


def test_resolve_threads_default_saved_and_refusal():
    assert runtime.resolve_threads(None) == runtime.DEFAULT_THREADS == 1
    assert runtime.resolve_threads(2) == 2
    assert runtime.resolve_threads(None, saved=2) == 2      # resume keeps the saved count
    assert runtime.resolve_threads(2, saved=2) == 2
    with pytest.raises(ValueError, match=r"--threads 1: this run was started with "
                                         r"--threads 2.*bit-identical"):
        runtime.resolve_threads(1, saved=2)


def test_default_does_not_depend_on_the_load(monkeypatch):
    import os

    monkeypatch.setattr(os, "getloadavg", lambda: (99.0, 99.0, 99.0))
    assert runtime.resolve_threads(None) == runtime.DEFAULT_THREADS


def test_blas_threads_sets_and_restores():
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def counts():
        return [i["num_threads"] for i in threadpoolctl.threadpool_info()
                if i["user_api"] == "blas"]

    before = counts()
    with runtime.blas_threads(1):
        assert set(counts()) <= {1}
    assert counts() == before
    with pytest.raises(KeyError), runtime.blas_threads(1):
        raise KeyError
    assert counts() == before
    with runtime.blas_threads(None):
        assert counts() == before


def test_tune_allocator_runs_once(monkeypatch):
    monkeypatch.setattr(runtime, "_allocator_tuned", False)
    monkeypatch.setenv("HANDGRAD_NO_MALLOPT", "1")
    assert runtime.tune_allocator() is False
    monkeypatch.delenv("HANDGRAD_NO_MALLOPT")
    runtime.tune_allocator()
    assert runtime.tune_allocator() is False  # the second call does nothing
    assert runtime.blas_info()["library"] is not None


def test_the_core_never_touches_process_settings():
    """Threads and the allocator are the edge's business: no op calls mallopt or
    threadpoolctl (issue 11: process-wide tuning out of the math)."""
    from pathlib import Path

    ops = Path(runtime.__file__).parent / "ops"
    for path in [*ops.rglob("*.py"), ops.parent / "tensor.py", ops.parent / "function.py"]:
        text = path.read_text()
        for word in ("mallopt", "threadpoolctl", "threadpool_limits"):
            assert word not in text, f"{path.name} uses {word}"
