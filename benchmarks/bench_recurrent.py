"""handgrad vs PyTorch: RNN, LSTM and GRU forward + backward on the CPU, side by side.

Both run in this one process on the same weights (PyTorch's, loaded into handgrad through
load_state_dict) and the same input, alternating handgrad and PyTorch repeat by repeat so
that both see the same machine load; each time is the median over the repeats after a
warm-up. The default problem is the issue's: float32, T=50, N=32, input 64, hidden 128,
one layer, torch.set_num_threads(2).

    python benchmarks/bench_recurrent.py [--repeats 30] [--json out.json]
    python benchmarks/bench_recurrent.py --threads 1 --blas-threads 1   # one core each

On a machine whose cores are busy with other work, two-thread timings (PyTorch's OpenMP
pool and NumPy's BLAS threads alike) are dominated by threads waiting for descheduled
partners and can vary a hundredfold between runs; the one-thread comparison is the stable
one there. handgrad's per-step loops always use one BLAS thread (see
handgrad.ops.recurrent.SINGLE_THREAD_LOOPS).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from typing import Any

import numpy as np


def _time(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench(kind: str, T: int, N: int, D: int, H: int, layers: int, repeats: int, warmup: int,
          dtype: Any = np.float32) -> dict[str, Any]:
    import torch

    import handgrad
    from handgrad import nn

    t_cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
    h_cls = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind]
    torch.manual_seed(0)
    t_mod = t_cls(D, H, num_layers=layers)
    if dtype == np.float64:
        t_mod = t_mod.double()
    h_mod = h_cls(D, H, num_layers=layers, dtype=dtype)
    h_mod.load_state_dict({k: v.detach().numpy() for k, v in t_mod.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((T, N, D)).astype(dtype)
    x_t = torch.tensor(x, requires_grad=True)

    def run_torch() -> None:
        t_mod.zero_grad()
        out, _ = t_mod(x_t)
        out.sum().backward()

    def run_handgrad() -> None:
        h_mod.zero_grad()
        out, _ = h_mod(handgrad.tensor(x, requires_grad=True))
        out.sum().backward()

    for _ in range(warmup):
        run_handgrad()
        run_torch()
    th, tt = [], []
    for _ in range(repeats):
        th.append(_time(run_handgrad))
        tt.append(_time(run_torch))
    med_h, med_t = statistics.median(th), statistics.median(tt)
    return {"kind": kind, "T": T, "N": N, "input_size": D, "hidden_size": H,
            "num_layers": layers, "dtype": np.dtype(dtype).name,
            "handgrad_ms": med_h * 1e3, "torch_ms": med_t * 1e3, "ratio": med_h / med_t}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kinds", default="rnn,lstm,gru")
    p.add_argument("--T", type=int, default=50)
    p.add_argument("--N", type=int, default=32)
    p.add_argument("--input", type=int, default=64)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    p.add_argument("--blas-threads", type=int, default=None,
                   help="limit NumPy's BLAS threads (threadpoolctl); default: leave as is")
    p.add_argument("--float64", action="store_true")
    p.add_argument("--json", default=None, help="write the results here")
    args = p.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    if args.blas_threads is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.blas_threads, user_api="blas")
    dtype = np.float64 if args.float64 else np.float32
    rows = [bench(k, args.T, args.N, args.input, args.hidden, args.layers, args.repeats,
                  args.warmup, dtype) for k in args.kinds.split(",")]
    print(f"forward+backward, {np.dtype(dtype).name}, T={args.T} N={args.N} "
          f"input={args.input} hidden={args.hidden} layers={args.layers}, torch threads "
          f"{args.threads}, BLAS threads {args.blas_threads or 'default'}, median of "
          f"{args.repeats}")
    print(f"{'layer':6s} {'handgrad ms':>12s} {'torch ms':>10s} {'ratio':>7s}")
    for r in rows:
        print(f"{r['kind']:6s} {r['handgrad_ms']:12.2f} {r['torch_ms']:10.2f} {r['ratio']:7.2f}")
    if args.json:
        meta = {"python": sys.version.split()[0], "numpy": np.__version__,
                "torch": torch.__version__, "machine": platform.machine(),
                "torch_threads": args.threads, "blas_threads": args.blas_threads}
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "results": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
