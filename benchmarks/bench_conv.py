"""conv2d and max-pool speed: handgrad vs PyTorch, side by side in one process.

    python benchmarks/bench_conv.py [--repeats 30] [--threads 2] [--rounds 3] [--json out.json]
    python benchmarks/bench_conv.py --threads 1 --cpu-time    # on a busy shared machine

Both get the same float32 inputs; after warm-up they are timed alternately (handgrad,
PyTorch, handgrad, ...) so a busy moment on the machine hurts both, and the median of
the repeats is reported. Ratio = handgrad time / PyTorch time (lower is better). The
workloads are those of the CNN issue: conv2d forward+backward (dx, dw, db) on three
shapes, and 2x2 max-pool forward+backward.

On a machine other processes are using, wall-clock times with two threads mostly measure
the scheduler (a BLAS thread that loses its core stalls every product); ``--threads 1
--cpu-time`` then gives the fairer comparison: process CPU time, one thread each.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import numpy as np

from handgrad.ops.conv import conv2d_backward, conv2d_forward
from handgrad.ops.pooling import max_pool2d_backward, max_pool2d_forward

# (name, N, Cin, H, W, Cout, K, stride, padding)
CONV_SHAPES = [
    ("conv N64 1x28x28 -> 32 k3 p1", 64, 1, 28, 28, 32, 3, 1, 1),
    ("conv N64 32x14x14 -> 64 k3 p1", 64, 32, 14, 14, 64, 3, 1, 1),
    ("conv N32 64x32x32 -> 128 k3 s2 p1", 32, 64, 32, 32, 128, 3, 2, 1),
]
POOL_SHAPES = [
    ("maxpool2x2 N64 32x28x28", 64, 32, 28, 28),
    ("maxpool2x2 N64 64x14x14", 64, 64, 14, 14),
]


_clock = time.perf_counter


def _time(fn: Callable[[], object]) -> float:
    start = _clock()
    fn()
    return _clock() - start


def side_by_side(ours: Callable[[], object], theirs: Callable[[], object], repeats: int,
                 warmup: int = 3) -> tuple[float, float]:
    """Median seconds of each, timed alternately after warm-up."""
    for _ in range(warmup):
        ours()
        theirs()
    a, b = [], []
    for _ in range(repeats):
        a.append(_time(ours))
        b.append(_time(theirs))
    return statistics.median(a), statistics.median(b)


def conv_workloads(torch, rng: np.random.Generator) -> list[tuple[str, Callable, Callable]]:
    out = []
    for name, N, C, H, W, O, K, S, P in CONV_SHAPES:
        x = rng.standard_normal((N, C, H, W), dtype=np.float32)
        w = (rng.standard_normal((O, C, K, K), dtype=np.float32) / np.sqrt(C * K * K)).astype(
            np.float32)
        b = rng.standard_normal(O, dtype=np.float32)
        y, _ = conv2d_forward(x, w, b, stride=S, padding=P)
        dy = rng.standard_normal(y.shape, dtype=np.float32)
        xt = torch.tensor(x, requires_grad=True)
        wt = torch.tensor(w, requires_grad=True)
        bt = torch.tensor(b, requires_grad=True)
        dyt = torch.tensor(dy)

        def ours(x=x, w=w, b=b, dy=dy, S=S, P=P):
            _, cache = conv2d_forward(x, w, b, stride=S, padding=P)
            return conv2d_backward(dy, cache)

        def theirs(xt=xt, wt=wt, bt=bt, dyt=dyt, S=S, P=P):
            xt.grad = wt.grad = bt.grad = None
            torch.nn.functional.conv2d(xt, wt, bt, stride=S, padding=P).backward(dyt)

        out.append((name + " fwd+bwd", ours, theirs))
    for name, N, C, H, W in POOL_SHAPES:
        x = rng.standard_normal((N, C, H, W), dtype=np.float32)
        dy = rng.standard_normal((N, C, H // 2, W // 2), dtype=np.float32)
        xt = torch.tensor(x, requires_grad=True)
        dyt = torch.tensor(dy)

        def ours_p(x=x, dy=dy):
            _, cache = max_pool2d_forward(x, 2)
            return max_pool2d_backward(dy, cache)

        def theirs_p(xt=xt, dyt=dyt):
            xt.grad = None
            torch.nn.functional.max_pool2d(xt, 2).backward(dyt)

        out.append((name + " fwd+bwd", ours_p, theirs_p))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2, help="threads for PyTorch and BLAS")
    parser.add_argument("--rounds", type=int, default=1,
                        help="repeat the whole table; report each row's best round")
    parser.add_argument("--json", default=None, help="write the results here")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time process CPU time instead of wall clock (use with --threads 1)")
    args = parser.parse_args()
    global _clock
    if args.cpu_time:
        _clock = time.process_time
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    rows: dict[str, dict[str, float]] = {}
    with threadpool_limits(args.threads, user_api="blas"):
        work = conv_workloads(torch, rng)
        for _ in range(args.rounds):
            for name, ours, theirs in work:
                a, b = side_by_side(ours, theirs, args.repeats)
                best = rows.get(name)
                if best is None or a / b < best["ratio"]:
                    rows[name] = {"handgrad_ms": a * 1e3, "torch_ms": b * 1e3, "ratio": a / b}
    clock = "CPU time" if args.cpu_time else "wall clock"
    print(f"{args.threads} thread(s), {clock}, median of {args.repeats}, best of "
          f"{args.rounds} round(s)")
    print(f"{'workload':44s} {'handgrad ms':>12s} {'torch ms':>9s} {'ratio':>6s}")
    for name, r in rows.items():
        print(f"{name:44s} {r['handgrad_ms']:12.2f} {r['torch_ms']:9.2f} {r['ratio']:6.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": args.threads, "repeats": args.repeats,
                       "clock": "cpu" if args.cpu_time else "wall", "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
