"""Process-wide settings, in one place at the edge: BLAS threads and the allocator.

Nothing in the core (``tensor``, ``function``, ``ops``) touches process-wide state; the
commands (``handgrad train ...``, ``handgrad bench``) call these.

**Threads and determinism.** OpenBLAS splits a matrix product among its threads, and with
1 or 2 threads the sums come out in different orders: every gradient of an MNIST step
differs in its last bits. So a training run's thread count is one of its settings, like
its seed: fixed by default (:data:`DEFAULT_THREADS`, never chosen from the machine's
load), printed, stored in ``metrics.json`` and the checkpoint, and reused by
``--resume``. The promise is: *the same settings, seed and thread count give bit-identical
results, whatever else runs on the machine.*

**Allocator.** A layer allocates several buffers of megabytes per call. By default glibc
hands blocks that large straight back to the kernel, so the next call gets fresh pages and
pays a page fault on the first touch of every 4 KB page (measured on a 2-core VM: five
3.2 MB buffers cost 16-32 ms to touch when freshly mapped, 0.7 ms when reused; the first
conv layer's forward 6.5 ms instead of 1.8). :func:`tune_allocator` raises the mmap and
trim thresholds once per process, so the memory stays with the process (as PyTorch's
caching allocator keeps its own).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: BLAS threads of a training run unless ``--threads`` says otherwise. One thread: the
#: same bits on every machine with the same BLAS, never slowed down by other work on a
#: busy machine (OpenBLAS threads spin while they wait for each other: on a loaded 2-core
#: machine a 2-thread product ran up to 5x slower than a 1-thread one), and the
#: recurrent loops' small per-step products gain nothing from a second thread.
DEFAULT_THREADS = 1

_allocator_tuned = False


def check_threads(value: Any, name: str = "--threads") -> int:
    """``value`` as a BLAS thread count (a positive integer), or ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer (BLAS threads), got {value!r}")
    return value


def threads_type(text: str) -> int:
    """argparse ``type=`` for ``--threads``: a positive integer."""
    try:
        return check_threads(int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a positive integer (BLAS threads), got {text!r}") from None


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--threads`` option of every training command, with one help text."""
    parser.add_argument(
        "--threads", type=threads_type, default=None, metavar="N",
        help=f"BLAS threads (default {DEFAULT_THREADS}; a resumed run keeps the thread "
             f"count it was started with). Results are bit-identical for the same "
             f"settings, seed and thread count, whatever else runs on the machine; "
             f"another thread count changes the last bits")


def resolve_threads(requested: int | None, saved: int | None = None,
                    what: str = "run") -> int:
    """The thread count of a run: ``requested`` (``--threads``), else the one a resumed
    run ``saved`` in its checkpoint, else :data:`DEFAULT_THREADS`. Resuming with another
    count than the saved one is refused: it would not continue the same run bit for bit."""
    if requested is not None:
        requested = check_threads(requested)
    if saved is not None:
        saved = check_threads(saved, "the checkpoint's thread count")
        if requested is not None and requested != saved:
            raise ValueError(
                f"--threads {requested}: this {what} was started with --threads {saved}, "
                f"and another BLAS thread count changes the results' last bits, so the "
                f"resumed run would not be bit-identical to an uninterrupted one; resume "
                f"with --threads {saved} (or leave --threads out)")
        return saved
    return requested if requested is not None else DEFAULT_THREADS


@contextmanager
def blas_threads(n: int | None) -> Iterator[None]:
    """BLAS limited to ``n`` threads inside the block (None: leave it alone)."""
    if n is None:
        yield
        return
    check_threads(n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # threadpoolctl is a dependency; without it, leave BLAS alone
        yield
        return
    with threadpool_limits(limits=n, user_api="blas"):
        yield


def blas_info() -> dict[str, Any]:
    """The BLAS library NumPy uses and its current thread count (for metrics and bench)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return {"threads": None, "library": "unknown"}
    infos = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    if not infos:
        return {"threads": None, "library": "unknown"}
    i = infos[0]
    return {"threads": i.get("num_threads"), "library": i.get("internal_api"),
            "version": i.get("version"), "architecture": i.get("architecture")}


def tune_allocator() -> bool:
    """Keep large freed blocks in the process (glibc ``mallopt``), once per process.

    Returns whether it changed anything. Set HANDGRAD_NO_MALLOPT=1 to leave malloc alone.
    A no-op where the C library is not glibc.
    """
    global _allocator_tuned
    if _allocator_tuned or os.environ.get("HANDGRAD_NO_MALLOPT"):
        return False
    _allocator_tuned = True
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 32 * 1024 * 1024)     # M_MMAP_THRESHOLD: 32 MB (glibc's maximum)
        libc.mallopt(-1, 1024 * 1024 * 1024)   # M_TRIM_THRESHOLD: keep up to 1 GB free
    except (OSError, AttributeError):
        return False
    return True
