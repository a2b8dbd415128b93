"""``handgrad bench``: handgrad and PyTorch side by side, in one process, on the same inputs.

Method: for every workload both frameworks get identical float32 inputs and weights;
after warm-up the two are timed alternately (handgrad, PyTorch, handgrad, ...) so that
a busy moment on the machine hurts both, and the median of the repeats is reported.
PyTorch is told to use as many threads as NumPy's BLAS (threadpoolctl tells how many).
The GEMM ceiling (a large float32/float64 matrix product in NumPy) is measured first, so
every kernel can be stated as a fraction of what the BLAS can do on this machine.

Ratios are handgrad time / PyTorch time (lower is better; 1.0 = as fast as PyTorch).
For the end-to-end rows (images/s, tokens/s) the ratio is handgrad / PyTorch throughput
(higher is better).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from handgrad import cli_args, runtime

Timed = Callable[[], Any]


@dataclass
class Workload:
    name: str
    group: str
    flops: float  # floating-point operations of one call (0 = not meaningful)
    make_handgrad: Callable[[], Timed]
    make_torch: Callable[[], Timed] | None
    unit: str = "ms"  # 'ms', or a throughput unit such as 'images/s'
    items: int = 0  # items per call, for throughput units
    notes: dict[str, Any] = field(default_factory=dict)


def _time_once(fn: Timed) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def time_pair(hg: Timed, th: Timed | None, repeats: int, warmup: int,
              min_time: float = 0.0, block: int = 3,
              settle: float = 0.2) -> tuple[list[float], list[float]]:
    """Alternate the two callables in short blocks; return per-call seconds for each.

    Each round runs one untimed call of handgrad, then ``block`` timed calls, then the
    same for PyTorch. Alternating call by call would be unfair: both frameworks leave
    their worker threads spinning for a while after a parallel region (OpenBLAS's, and
    PyTorch's OpenMP pool), and on a 2-core machine the other framework's spinning
    threads then steal the cores (measured: PyTorch's RNN step 6-8 ms alone, 14-50 ms
    right after NumPy GEMMs; OpenBLAS's threads spin for about 2^28 cycles, ~0.1 s). So
    before each block the bench pauses ``settle`` seconds (the other side's threads go
    to sleep) and makes one untimed call; alternating blocks still spreads a busy moment
    of the machine over both.
    """
    for _ in range(warmup):
        hg()
        if th is not None:
            th()
    t_hg: list[float] = []
    t_th: list[float] = []
    start = time.perf_counter()
    rounds = max(1, -(-repeats // block))
    r = 0
    while r < rounds or (time.perf_counter() - start < min_time and r < 10 * rounds):
        time.sleep(settle)
        hg()
        t_hg.extend(_time_once(hg) for _ in range(block))
        if th is not None:
            time.sleep(settle)
            th()
            t_th.extend(_time_once(th) for _ in range(block))
        r += 1
    return t_hg, t_th


# --------------------------------------------------------------------------- workloads
def _rng() -> np.random.Generator:
    return np.random.default_rng(0)


def gemm_workloads(sizes: list[int]) -> list[Workload]:
    out = []
    for dtype in (np.float32, np.float64):
        for n in sizes:
            def make(n: int = n, dtype: Any = dtype) -> Timed:
                a = _rng().standard_normal((n, n)).astype(dtype)
                b = _rng().standard_normal((n, n)).astype(dtype)
                c = np.empty((n, n), dtype)
                return lambda: np.matmul(a, b, out=c)

            def make_t(n: int = n, dtype: Any = dtype) -> Timed:
                import torch

                a = torch.from_numpy(_rng().standard_normal((n, n)).astype(dtype))
                b = torch.from_numpy(_rng().standard_normal((n, n)).astype(dtype))
                return lambda: torch.mm(a, b)

            out.append(Workload(f"gemm {np.dtype(dtype).name} {n}x{n}", "ceiling",
                                2.0 * n**3, make, make_t))
    return out


CONV_SHAPES = [
    # (N, Cin, H, W, Cout, K, stride, pad)
    (64, 1, 28, 28, 32, 3, 1, 1),
    (64, 32, 14, 14, 64, 3, 1, 1),
    (32, 64, 32, 32, 128, 3, 2, 1),
]


def _conv_flops(n: int, cin: int, h: int, w: int, cout: int, k: int, s: int, p: int) -> float:
    oh = (h + 2 * p - k) // s + 1
    ow = (w + 2 * p - k) // s + 1
    return 2.0 * n * cout * oh * ow * cin * k * k


def conv_workloads(backward: bool) -> list[Workload]:
    out = []
    for shape in CONV_SHAPES:
        n, cin, h, w, cout, k, s, p = shape
        flops = _conv_flops(*shape) * (3 if backward else 1)

        def make(shape: tuple = shape) -> Timed:
            import handgrad as hg
            from handgrad.nn import functional as F

            n, cin, h, w, cout, k, s, p = shape
            x = hg.tensor(_rng().standard_normal((n, cin, h, w)).astype(np.float32),
                          requires_grad=backward)
            wt = hg.tensor(_rng().standard_normal((cout, cin, k, k)).astype(np.float32) * 0.1,
                           requires_grad=backward)
            b = hg.tensor(np.zeros(cout, np.float32), requires_grad=backward)
            if not backward:
                def fwd() -> Any:
                    with hg.no_grad():
                        return F.conv2d(x, wt, b, stride=s, padding=p)
                return fwd
            g = None

            def step() -> None:
                nonlocal g
                y = F.conv2d(x, wt, b, stride=s, padding=p)
                if g is None:
                    g = np.ones_like(y.data)
                y.backward(g)
                x.grad = wt.grad = b.grad = None
            return step

        def make_t(shape: tuple = shape) -> Timed:
            import torch

            n, cin, h, w, cout, k, s, p = shape
            x = torch.from_numpy(_rng().standard_normal((n, cin, h, w)).astype(np.float32))
            wt = torch.from_numpy(_rng().standard_normal((cout, cin, k, k)).astype(np.float32)
                                  * 0.1)
            b = torch.zeros(cout)
            if not backward:
                def fwd() -> Any:
                    with torch.no_grad():
                        return torch.nn.functional.conv2d(x, wt, b, stride=s, padding=p)
                return fwd
            x.requires_grad_(True)
            wt.requires_grad_(True)
            b.requires_grad_(True)

            def step() -> None:
                y = torch.nn.functional.conv2d(x, wt, b, stride=s, padding=p)
                y.backward(torch.ones_like(y))
                x.grad = wt.grad = b.grad = None
            return step

        label = "fwd+bwd" if backward else "fwd"
        out.append(Workload(f"conv2d {label} N{n} C{cin}->{cout} {h}x{w} k{k} s{s} p{p}",
                            "conv", flops, make, make_t))
    return out


def pool_workloads() -> list[Workload]:
    shape = (64, 32, 28, 28)
    out = []
    for kind in ("max", "avg"):
        def make(kind: str = kind) -> Timed:
            import handgrad as hg
            from handgrad.nn import functional as F

            x = hg.tensor(_rng().standard_normal(shape).astype(np.float32), requires_grad=True)
            fn = F.max_pool2d if kind == "max" else F.avg_pool2d

            def step() -> None:
                y = fn(x, 2)
                y.backward(np.ones_like(y.data))
                x.grad = None
            return step

        def make_t(kind: str = kind) -> Timed:
            import torch

            x = torch.from_numpy(_rng().standard_normal(shape).astype(np.float32))
            x.requires_grad_(True)
            fn = torch.nn.functional.max_pool2d if kind == "max" else \
                torch.nn.functional.avg_pool2d

            def step() -> None:
                y = fn(x, 2)
                y.backward(torch.ones_like(y))
                x.grad = None
            return step

        out.append(Workload(f"{kind}_pool2d 2x2 fwd+bwd N64 C32 28x28", "pool", 0, make,
                            make_t))

    def make_bn() -> Timed:
        import handgrad as hg
        from handgrad import nn

        bn = nn.BatchNorm2d(32)
        x = hg.tensor(_rng().standard_normal(shape).astype(np.float32), requires_grad=True)

        def step() -> None:
            y = bn(x)
            y.backward(np.ones_like(y.data))
            x.grad = None
            bn.zero_grad()
        return step

    def make_bn_t() -> Timed:
        import torch

        bn = torch.nn.BatchNorm2d(32)
        x = torch.from_numpy(_rng().standard_normal(shape).astype(np.float32))
        x.requires_grad_(True)

        def step() -> None:
            y = bn(x)
            y.backward(torch.ones_like(y))
            x.grad = None
            bn.zero_grad()
        return step

    out.append(Workload("batch_norm2d fwd+bwd N64 C32 28x28", "norm", 0, make_bn, make_bn_t))
    return out


RNN_SHAPES = [(50, 32, 64, 128), (200, 8, 64, 128)]  # (T, N, D, H)


def _rnn_flops(cell: str, t: int, n: int, d: int, h: int, backward: bool) -> float:
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    f = 2.0 * t * n * (d + h) * gates * h
    return f * 3 if backward else f


def rnn_workloads(backward: bool, shapes: list[tuple[int, int, int, int]]) -> list[Workload]:
    out = []
    for cell in ("rnn", "lstm", "gru"):
        for shape in shapes:
            t, n, d, h = shape

            def make(cell: str = cell, shape: tuple = shape) -> Timed:
                import handgrad as hg
                from handgrad import nn

                t, n, d, h = shape
                cls = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]
                hg.manual_seed(0)
                model = cls(d, h)
                x = hg.tensor(_rng().standard_normal((t, n, d)).astype(np.float32),
                              requires_grad=backward)
                if not backward:
                    def fwd() -> Any:
                        with hg.no_grad():
                            return model(x)
                    return fwd

                def step() -> None:
                    y, _ = model(x)
                    y.backward(np.ones_like(y.data))
                    x.grad = None
                    model.zero_grad()
                return step

            def make_t(cell: str = cell, shape: tuple = shape) -> Timed:
                import torch

                t, n, d, h = shape
                cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
                torch.manual_seed(0)
                model = cls(d, h)
                x = torch.from_numpy(_rng().standard_normal((t, n, d)).astype(np.float32))
                if not backward:
                    def fwd() -> Any:
                        with torch.no_grad():
                            return model(x)
                    return fwd
                x.requires_grad_(True)

                def step() -> None:
                    y, _ = model(x)
                    y.backward(torch.ones_like(y))
                    x.grad = None
                    model.zero_grad()
                return step

            label = "fwd+bwd" if backward else "fwd"
            out.append(Workload(f"{cell} {label} T{t} N{n} D{d} H{h}", "recurrent",
                                _rnn_flops(cell, t, n, d, h, backward), make, make_t))
    return out


# -- end to end ----------------------------------------------------------------------
MNIST_BATCH = 64


def mnist_layers_spec() -> list[tuple]:
    """The default CNN of ``handgrad train mnist``, as a framework-neutral list."""
    try:
        from handgrad.experiments.mnist_cnn import ARCHITECTURE

        return list(ARCHITECTURE)
    except (ImportError, AttributeError):
        return [("conv", 1, 16, 3, 1), ("relu",), ("maxpool", 2), ("conv", 16, 32, 3, 1),
                ("relu",), ("maxpool", 2), ("flatten",), ("linear", 32 * 7 * 7, 128),
                ("relu",), ("linear", 128, 10)]


def build_cnn(spec: list[tuple], nn: Any) -> Any:
    """Build the CNN from the spec with ``nn`` = handgrad.nn or torch.nn (same names)."""
    layers = []
    for layer in spec:
        kind = layer[0]
        if kind == "conv":
            layers.append(nn.Conv2d(layer[1], layer[2], layer[3], padding=layer[4]))
        elif kind == "relu":
            layers.append(nn.ReLU())
        elif kind == "maxpool":
            layers.append(nn.MaxPool2d(layer[1]))
        elif kind == "flatten":
            layers.append(nn.Flatten())
        elif kind == "linear":
            layers.append(nn.Linear(layer[1], layer[2]))
        elif kind == "dropout":
            layers.append(nn.Dropout(layer[1]))
        else:  # pragma: no cover - spec is ours
            raise ValueError(f"unknown layer kind {kind!r}")
    return nn.Sequential(*layers)


def _mnist_batch() -> tuple[np.ndarray, np.ndarray]:
    from handgrad.data.mnist import load_mnist

    images, labels = load_mnist("train")
    x = np.ascontiguousarray(images[:MNIST_BATCH], dtype=np.float32)
    return x, np.asarray(labels[:MNIST_BATCH], dtype=np.int64)


def mnist_step_workload() -> Workload:
    def make() -> Timed:
        import handgrad as hg
        from handgrad import nn, optim
        from handgrad.nn import functional as F

        hg.manual_seed(0)
        model = build_cnn(mnist_layers_spec(), nn)
        opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        x_np, y_np = _mnist_batch()
        x, y = hg.tensor(x_np), hg.tensor(y_np)

        def step() -> None:
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
        return step

    def make_t() -> Timed:
        import torch

        torch.manual_seed(0)
        model = build_cnn(mnist_layers_spec(), torch.nn)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        x_np, y_np = _mnist_batch()
        x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)

        def step() -> None:
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
        return step

    return Workload(f"MNIST CNN train step (batch {MNIST_BATCH}, SGD momentum)", "end-to-end",
                    0, make, make_t, unit="images/s", items=MNIST_BATCH)


CHAR = dict(vocab=65, hidden=256, seq=64, batch=32)


def charlm_step_workload() -> Workload:
    v, h, t, n = CHAR["vocab"], CHAR["hidden"], CHAR["seq"], CHAR["batch"]

    def data() -> tuple[np.ndarray, np.ndarray]:
        tokens = _rng().integers(0, v, size=(t + 1, n))
        return tokens[:-1].astype(np.int64), tokens[1:].astype(np.int64)

    def make() -> Timed:
        import handgrad as hg
        from handgrad import nn, optim
        from handgrad.nn import functional as F

        hg.manual_seed(0)
        emb, lstm, head = nn.Embedding(v, h), nn.LSTM(h, h), nn.Linear(h, v)
        params = [*emb.parameters(), *lstm.parameters(), *head.parameters()]
        opt = optim.Adam(params, lr=2e-3)
        xs, ys = data()
        x, y = hg.tensor(xs), hg.tensor(ys.reshape(-1))

        def step() -> None:
            opt.zero_grad()
            out, _ = lstm(emb(x))
            loss = F.cross_entropy(head(out).reshape(-1, v), y)
            loss.backward()
            nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()
        return step

    def make_t() -> Timed:
        import torch

        torch.manual_seed(0)
        emb, lstm, head = torch.nn.Embedding(v, h), torch.nn.LSTM(h, h), torch.nn.Linear(h, v)
        params = [*emb.parameters(), *lstm.parameters(), *head.parameters()]
        opt = torch.optim.Adam(params, lr=2e-3)
        xs, ys = data()
        x, y = torch.from_numpy(xs), torch.from_numpy(ys.reshape(-1))

        def step() -> None:
            opt.zero_grad()
            out, _ = lstm(emb(x))
            loss = torch.nn.functional.cross_entropy(head(out).reshape(-1, v), y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()
        return step

    return Workload(f"char-LSTM train step (V{v} H{h} T{t} N{n}, Adam)", "end-to-end", 0,
                    make, make_t, unit="tokens/s", items=t * n)


# -- peak memory of one epoch of MNIST training, each framework in its own process ----
_MEMORY_SCRIPT = r"""
import resource, sys, time
import numpy as np
framework, limit = sys.argv[1], int(sys.argv[2])
from handgrad.bench import build_cnn, mnist_layers_spec, MNIST_BATCH
from handgrad.data.mnist import load_mnist
images, labels = load_mnist("train")
images, labels = images[:limit].astype(np.float32), labels[:limit].astype(np.int64)
if framework == "handgrad":
    import handgrad as hg
    from handgrad import nn, optim
    from handgrad.nn import functional as F
    hg.manual_seed(0)
    model = build_cnn(mnist_layers_spec(), nn)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    start = time.perf_counter()
    for i in range(0, len(images) - MNIST_BATCH + 1, MNIST_BATCH):
        opt.zero_grad()
        loss = F.cross_entropy(model(hg.tensor(images[i:i + MNIST_BATCH])),
                               hg.tensor(labels[i:i + MNIST_BATCH]))
        loss.backward()
        opt.step()
else:
    import torch
    torch.set_num_threads(int(sys.argv[3]))
    torch.manual_seed(0)
    model = build_cnn(mnist_layers_spec(), torch.nn)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    start = time.perf_counter()
    for i in range(0, len(images) - MNIST_BATCH + 1, MNIST_BATCH):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(
            model(torch.from_numpy(images[i:i + MNIST_BATCH])),
            torch.from_numpy(labels[i:i + MNIST_BATCH]))
        loss.backward()
        opt.step()
elapsed = time.perf_counter() - start
# VmHWM (the peak RSS of this process image); ru_maxrss would also count the parent's
# peak, since Linux carries it across fork+exec.
try:
    with open("/proc/self/status") as f:
        peak_kib = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
except (OSError, StopIteration):
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(peak_kib, elapsed)
"""


def peak_memory(limit: int, threads: int, with_torch: bool) -> dict[str, Any]:
    """Peak RSS (MiB) of one epoch of MNIST training, each framework in a fresh process."""
    out: dict[str, Any] = {"images": limit}
    for framework in ("handgrad", "torch") if with_torch else ("handgrad",):
        proc = subprocess.run([sys.executable, "-c", _MEMORY_SCRIPT, framework, str(limit),
                               str(threads)], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            out[framework] = {"error": proc.stderr.strip().splitlines()[-1:]}
            continue
        rss_kib, seconds = proc.stdout.split()[-2:]
        out[framework] = {"peak_rss_mib": int(rss_kib) / 1024, "seconds": float(seconds)}
    if with_torch and "peak_rss_mib" in out.get("torch", {}) and \
            "peak_rss_mib" in out.get("handgrad", {}):
        out["ratio"] = out["handgrad"]["peak_rss_mib"] / out["torch"]["peak_rss_mib"]
    return out


# --------------------------------------------------------------------------- running
def select_workloads(quick: bool) -> list[Workload]:
    if quick:
        return [*gemm_workloads([256]), *conv_workloads(True)[:1], *pool_workloads()[:1],
                *rnn_workloads(True, [(10, 4, 8, 16)]), mnist_step_workload()]
    return [*gemm_workloads([1024, 2048]), *conv_workloads(False), *conv_workloads(True),
            *pool_workloads(), *rnn_workloads(False, RNN_SHAPES[:1]),
            *rnn_workloads(True, RNN_SHAPES), mnist_step_workload(), charlm_step_workload()]


def run(config: dict[str, Any] | None = None) -> dict[str, Any]:
    cfg = {"quick": False, "repeats": 15, "warmup": 3, "only": None, "memory": True,
           "min_time": 1.0, "verbose": True}
    cfg.update(config or {})
    if cfg["quick"]:
        cfg.update(repeats=min(cfg["repeats"], 3), warmup=1, min_time=0.0)
    workloads = [wl for wl in select_workloads(cfg["quick"])
                 if not cfg["only"] or cfg["only"] in wl.name or cfg["only"] == wl.group]
    if not workloads:
        raise ValueError(f"--only {cfg['only']!r} matches no benchmark; use part of a workload "
                         f"name or a group: ceiling, conv, pool, norm, recurrent, end-to-end")
    runtime.tune_allocator()  # as every command does (a library caller may not have)
    blas = runtime.blas_info()
    try:
        import torch

        if blas["threads"]:
            torch.set_num_threads(int(blas["threads"]))
        torch_version = torch.__version__
    except ImportError:
        torch = None  # type: ignore[assignment]
        torch_version = None
    env = {"python": platform.python_version(), "numpy": np.__version__,
           "torch": torch_version, "machine": platform.machine(),
           "processor": _cpu_name(), "cores": os.cpu_count(), "blas": blas,
           "torch_threads": torch.get_num_threads() if torch else None}
    say = print if cfg["verbose"] else (lambda *a, **k: None)
    say(f"handgrad bench: numpy {env['numpy']} ({blas.get('library')} "
        f"{blas.get('version', '')}, {blas['threads']} BLAS threads), "
        + (f"torch {torch_version} ({env['torch_threads']} threads)" if torch
           else "PyTorch not installed: handgrad alone"))
    say(f"machine: {env['processor']}, {env['cores']} cores")
    rows: list[dict[str, Any]] = []
    ceiling: dict[str, float] = {}
    for wl in workloads:
        hg_fn = wl.make_handgrad()
        th_fn = wl.make_torch() if (torch is not None and wl.make_torch) else None
        t_hg, t_th = time_pair(hg_fn, th_fn, cfg["repeats"], cfg["warmup"], cfg["min_time"])
        m_hg = statistics.median(t_hg)
        m_th = statistics.median(t_th) if t_th else None
        row: dict[str, Any] = {"workload": wl.name, "group": wl.group,
                               "handgrad_ms": m_hg * 1e3,
                               "torch_ms": m_th * 1e3 if m_th else None}
        if wl.flops:
            row["handgrad_gflops"] = wl.flops / m_hg / 1e9
            row["torch_gflops"] = wl.flops / m_th / 1e9 if m_th else None
        if wl.group == "ceiling":
            dt = "float32" if "float32" in wl.name else "float64"
            ceiling[dt] = max(ceiling.get(dt, 0.0), row["handgrad_gflops"])
        elif wl.flops and ceiling.get("float32"):
            row["fraction_of_ceiling"] = row["handgrad_gflops"] / ceiling["float32"]
        if wl.unit != "ms":
            row["unit"] = wl.unit
            row["handgrad_rate"] = wl.items / m_hg
            row["torch_rate"] = wl.items / m_th if m_th else None
            row["ratio"] = (row["handgrad_rate"] / row["torch_rate"]) if m_th else None
            row["ratio_meaning"] = "handgrad/PyTorch throughput (higher is better)"
        else:
            row["ratio"] = m_hg / m_th if m_th else None
            row["ratio_meaning"] = "handgrad/PyTorch time (lower is better)"
        rows.append(row)
        say(_format_row(row))
    memory = None
    if cfg["memory"] and not cfg["only"]:
        limit = 640 if cfg["quick"] else 8000
        memory = peak_memory(limit, int(blas["threads"] or 1), torch is not None)
        say(f"peak RSS, 1 epoch of MNIST training ({limit} images): " + ", ".join(
            f"{k} {v['peak_rss_mib']:.0f} MiB" for k, v in memory.items()
            if isinstance(v, dict) and "peak_rss_mib" in v)
            + (f", ratio {memory['ratio']:.2f}" if "ratio" in memory else ""))
    return {"environment": env, "config": cfg, "gemm_ceiling_gflops": ceiling, "rows": rows,
            "peak_memory": memory}


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _format_row(row: dict[str, Any]) -> str:
    name = row["workload"]
    if row.get("unit"):
        th = f"{row['torch_rate']:>10.0f}" if row.get("torch_rate") else "         -"
        ratio = f"{row['ratio']:.2f}x" if row.get("ratio") else "-"
        return (f"{name:<52} handgrad {row['handgrad_rate']:>10.0f} {row['unit']:<9} "
                f"torch {th}   ratio {ratio}")
    th = f"{row['torch_ms']:8.2f}" if row.get("torch_ms") else "       -"
    extra = ""
    if row.get("handgrad_gflops"):
        extra = f"  {row['handgrad_gflops']:6.1f} GFLOP/s"
        if row.get("fraction_of_ceiling"):
            extra += f" ({row['fraction_of_ceiling']:.0%} of GEMM)"
    ratio = f"{row['ratio']:.2f}x" if row.get("ratio") else "-"
    return f"{name:<52} handgrad {row['handgrad_ms']:8.2f} ms  torch {th} ms  ratio {ratio}{extra}"


def markdown_table(result: dict[str, Any]) -> str:
    lines = ["| workload | handgrad | PyTorch | ratio | GFLOP/s (handgrad) | of GEMM ceiling |",
             "|---|---|---|---|---|---|"]
    for row in result["rows"]:
        if row.get("unit"):
            hg = f"{row['handgrad_rate']:.0f} {row['unit']}"
            th = f"{row['torch_rate']:.0f} {row['unit']}" if row.get("torch_rate") else "-"
        else:
            hg = f"{row['handgrad_ms']:.2f} ms"
            th = f"{row['torch_ms']:.2f} ms" if row.get("torch_ms") else "-"
        ratio = f"{row['ratio']:.2f}" if row.get("ratio") else "-"
        gf = f"{row['handgrad_gflops']:.1f}" if row.get("handgrad_gflops") else ""
        frac = f"{row['fraction_of_ceiling']:.0%}" if row.get("fraction_of_ceiling") else ""
        lines.append(f"| {row['workload']} | {hg} | {th} | {ratio} | {gf} | {frac} |")
    mem = result.get("peak_memory")
    if mem and "ratio" in mem:
        lines.append(f"| peak RSS, 1 epoch MNIST ({mem['images']} images) | "
                     f"{mem['handgrad']['peak_rss_mib']:.0f} MiB | "
                     f"{mem['torch']['peak_rss_mib']:.0f} MiB | {mem['ratio']:.2f} | | |")
    return "\n".join(lines)


def add_arguments(parser: Any) -> None:
    parser.add_argument("--quick", action="store_true", help="tiny sizes, few repeats (smoke)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--markdown", metavar="FILE", help="also write a Markdown table")
    parser.add_argument("--only", metavar="TEXT",
                        help="run only workloads whose name contains TEXT (or a group: "
                             "ceiling, conv, pool, norm, recurrent, end-to-end)")
    parser.add_argument("--repeats", type=cli_args.positive_int, default=15,
                        help="timed repeats (default 15)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-RSS runs")


def main(args: Any) -> int:
    if args.repeats < 1:
        raise ValueError(f"--repeats must be at least 1, got {args.repeats}")
    result = run({"quick": args.quick, "repeats": args.repeats, "only": args.only,
                  "memory": not args.no_memory})
    if args.json:
        from handgrad.experiments._common import to_jsonable

        with open(args.json, "w") as f:
            json.dump(to_jsonable(result), f, indent=2)
        print(f"wrote {args.json}")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown_table(result) + "\n")
        print(f"wrote {args.markdown}")
    return 0
