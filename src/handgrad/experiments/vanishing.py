"""Vanishing gradients, and the long-lag memory task: tanh-RNN vs LSTM vs GRU.

    handgrad experiment vanishing [--out DIR] [--seeds 3] [--budget 12800] [--quick]

(a) How much of a loss at the last step T reaches step k?  With h_k the hidden state after
    step k and L_T a loss on h_T, BPTT multiplies one Jacobian per step:

        dL_T/dh_k = dL_T/dh_T * dh_T/dh_{T-1} * ... * dh_{k+1}/dh_k.

    For the tanh-RNN, dh_{j+1}/dh_j = diag(1 - h_{j+1}^2) W_hh: at PyTorch's default
    initialisation (weights ~ U(-1/sqrt(H), 1/sqrt(H)), spectral radius about 1/sqrt(3))
    every factor shrinks the gradient, so its norm decays geometrically in T - k (the
    counting-ones experiment shows the scalar version: w_rec^(T-k)). LSTM and GRU add a
    path that is a gate *times* the previous state, c_j = f * c_{j-1} + ... and
    h_j = (1 - z) * n + z * h_{j-1}, whose factor is the gate itself, not a product with a
    weight matrix and a squashing derivative; it decays more slowly. We measure
    ||dL_T/dh_k|| with ``retain_grad()`` on every per-step hidden state of the cells, in
    float64 (float32 would underflow), T = 100, averaged (geometric mean) over seeds.

(b) The long-lag task of Hochreiter & Schmidhuber (1997), Experiment 2 style. A sequence
    starts with one of two class symbols, then p steps of noise (symbols drawn uniformly
    from 8 distractors, one-hot), then a query symbol; at the query the network must say
    which class symbol it saw p + 1 steps earlier. A Linear head reads the last hidden
    state; cross-entropy; Adam (lr 0.003), batches of 32 sequences, the same budget of
    training sequences for every method and lag, with and without gradient-norm clipping
    (max norm 1). A run *succeeds* when the accuracy on 256 fresh held-out sequences is at
    least 95% (chance is 50%), checked every 256 training sequences; "sequences until
    success" counts the training sequences seen by then.

    Differences from the paper, on purpose: it used online SGD (batch 1), a growing
    alphabet of p + 1 symbols and an LSTM *without* a forget gate (c_t = c_{t-1} + i*g: the
    "constant error carousel", whose gradient path has factor exactly 1). PyTorch's LSTM has
    a forget gate with bias 0 at initialisation, so f is about 0.5 and the carousel leaks
    by half each step; the row "LSTM b_f=3" starts the forget-gate bias at 3 (f about
    0.95), closer to the 1997 cell, to show that this initialisation is what the long lags
    need. Modern optimisers (Adam) also help the plain RNN more than 1997's SGD did, so
    the RNN here does better than the paper's BPTT row: read the table for what it is.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

import handgrad as hg
from handgrad import cli_args, nn, runtime
from handgrad.experiments._common import (
    make_out_dir,
    print_table,
    progress,
    pyplot,
    save_figure,
    write_metrics,
)
from handgrad.nn import functional as F

__all__ = ["gradient_norms", "make_batch", "train_lag", "run", "add_arguments", "main",
           "METHODS"]

N_CLASSES = 2
N_NOISE = 8
INPUT_SIZE = N_CLASSES + N_NOISE + 1     # class symbols, distractors, the query

# name -> (module class name, forget-gate bias for LSTM or None)
METHODS: dict[str, tuple[str, float | None]] = {
    "RNN": ("rnn", None),
    "LSTM": ("lstm", None),
    "GRU": ("gru", None),
    "LSTM b_f=3": ("lstm", 3.0),
}

DEFAULTS: dict[str, Any] = {
    "out": None,
    # (a)
    "grad_T": 100, "grad_input": 32, "grad_hidden": 64, "grad_batch": 8, "grad_seeds": 5,
    # (b)
    "methods": list(METHODS),
    "lags": [5, 10, 20, 50, 100],
    "seeds": 3,
    "budget": 12800,
    "batch_size": 32,
    "hidden": 32,
    "lr": 0.003,
    "clip": [None, 1.0],
    "eval_every": 256,
    "eval_size": 256,
    "success_accuracy": 0.95,
    "threads": runtime.DEFAULT_THREADS,
}

QUICK: dict[str, Any] = {
    "grad_T": 30, "grad_hidden": 16, "grad_input": 8, "grad_batch": 4, "grad_seeds": 2,
    "lags": [5, 20], "seeds": 1, "budget": 512, "hidden": 16, "clip": [None, 1.0],
    "eval_every": 128, "eval_size": 64,
}


# --------------------------------------------------------------------------------------
# (a) gradient norms over time
# --------------------------------------------------------------------------------------
def gradient_norms(cell: str, T: int = 100, input_size: int = 32, hidden: int = 64,
                   batch: int = 8, seed: int = 0) -> dict[str, np.ndarray]:
    """||dL_T/dh_k|| for k = 1..T, one seed.

    L_T = sum(g * h_T) with g ~ N(0, 1): a random direction of the last state, so
    dL_T/dh_T = g. Inputs ~ N(0, 1). float64, PyTorch's default initialisation.
    """
    hg.manual_seed(seed)
    f64 = np.float64
    cells = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}
    module = cells[cell](input_size, hidden, dtype=f64)
    rng = np.random.default_rng(10_000 + seed)
    x = rng.standard_normal((T, batch, input_size))
    hs = []
    h = c = None
    for t in range(T):
        if cell == "lstm":
            h, c = module(hg.tensor(x[t]), None if h is None else (h, c))
        else:
            h = module(hg.tensor(x[t]), h)
        h.retain_grad()          # keep dL/dh_k although h_k is not a leaf
        hs.append(h)
    g = rng.standard_normal((batch, hidden))
    (h * hg.tensor(g)).sum().backward()
    return {"h": np.array([np.linalg.norm(t.grad) for t in hs])}


def _geo_mean(rows: list[np.ndarray]) -> np.ndarray:
    with np.errstate(divide="ignore"):
        logs = np.log10(np.stack(rows))
    return 10.0 ** logs.mean(axis=0)


# --------------------------------------------------------------------------------------
# (b) the long-lag task
# --------------------------------------------------------------------------------------
def make_batch(rng: np.random.Generator, batch: int, lag: int, dtype: Any = np.float32
               ) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (lag + 2, batch, INPUT_SIZE) one-hot: class symbol, ``lag`` noise symbols,
    the query; targets (batch,) the class."""
    cls = rng.integers(0, N_CLASSES, batch)
    T = lag + 2
    x = np.zeros((T, batch, INPUT_SIZE), dtype=dtype)
    cols = np.arange(batch)
    x[0, cols, cls] = 1
    noise = rng.integers(0, N_NOISE, (lag, batch))
    x[1 + np.arange(lag)[:, None], cols[None, :], N_CLASSES + noise] = 1
    x[T - 1, :, INPUT_SIZE - 1] = 1
    return x, cls.astype(np.int64)


class LagModel(nn.Module):
    def __init__(self, cell: str, hidden: int, forget_bias: float | None = None) -> None:
        super().__init__()
        self.rnn = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell](INPUT_SIZE, hidden)
        self.head = nn.Linear(hidden, N_CLASSES)
        if forget_bias is not None:
            # gate order i, f, g, o: rows H..2H are the forget gate's
            self.rnn.bias_ih_l0.data[hidden:2 * hidden] = forget_bias
            self.rnn.bias_hh_l0.data[hidden:2 * hidden] = 0.0

    def forward(self, x: Any) -> hg.Tensor:
        out, _ = self.rnn(x)
        return self.head(out[-1])                 # the answer at the query step


def train_lag(method: str, lag: int, seed: int, clip: float | None, cfg: dict[str, Any]
              ) -> dict[str, Any]:
    """Train one run; returns success, sequences until success, final accuracy."""
    cell, forget_bias = METHODS[method]
    hg.manual_seed(seed)
    model = LagModel(cell, cfg["hidden"], forget_bias)
    params = list(model.parameters())
    opt = hg.optim.Adam(params, lr=cfg["lr"])
    rng = np.random.default_rng(seed)
    x_val, y_val = make_batch(np.random.default_rng(1_000_000 + seed), cfg["eval_size"], lag)
    seen, acc, success_at = 0, 0.0, None
    B = cfg["batch_size"]
    next_eval = cfg["eval_every"]
    while seen < cfg["budget"]:
        x, y = make_batch(rng, B, lag)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        seen += B
        if seen >= next_eval or seen >= cfg["budget"]:
            next_eval += cfg["eval_every"]
            with hg.no_grad():
                acc = float(np.mean(model(x_val).data.argmax(axis=1) == y_val))
            if acc >= cfg["success_accuracy"]:
                success_at = seen
                break
    return {"method": method, "lag": lag, "seed": seed, "clip": clip,
            "success": success_at is not None, "sequences": success_at,
            "final_accuracy": acc, "sequences_trained": seen}


def summarise(runs: list[dict[str, Any]], cfg: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for method in cfg["methods"]:
        for clip in cfg["clip"]:
            for lag in cfg["lags"]:
                rs = [r for r in runs if r["method"] == method and r["lag"] == lag
                      and r["clip"] == clip]
                ok = [r["sequences"] for r in rs if r["success"]]
                rows.append({
                    "method": method, "clipping": "yes" if clip else "no", "lag": lag,
                    "% successful": 100.0 * len(ok) / len(rs),
                    "success after (median)": int(np.median(ok)) if ok else "-",
                    "runs": len(rs),
                })
    return rows


# --------------------------------------------------------------------------------------
# the experiment
# --------------------------------------------------------------------------------------
def run(config: dict[str, Any] | None = None, verbose: bool = True) -> dict[str, Any]:
    cfg = {**DEFAULTS, **(config or {})}
    for m in cfg["methods"]:
        if m not in METHODS:
            raise ValueError(f"methods: unknown method {m!r}; choose from {list(METHODS)}")
    cfg["threads"] = runtime.check_threads(cfg["threads"], "threads")
    with runtime.blas_threads(cfg["threads"]):
        return _run(cfg, verbose)


def _graph_picture(out_dir: Any, steps: int = 8) -> str:
    """A tanh RNN cell unrolled ``steps`` steps, loss on the last state only, drawn after
    backward (graph.svg): the gradient norms on the edges fade towards the first steps."""
    from handgrad.viz import draw

    hg.manual_seed(0)
    cell = nn.RNNCell(1, 4)
    h = None
    for _ in range(steps):
        h = cell(hg.randn(1, 1), h)
    loss = (h * h).sum()
    return draw(loss, cell, run_backward=True).save(out_dir / "graph.svg").name


def _run(cfg: dict[str, Any], verbose: bool) -> dict[str, Any]:
    t0 = time.perf_counter()
    out_dir = make_out_dir(cfg["out"], "vanishing")

    # (a)
    T = int(cfg["grad_T"])
    norms: dict[str, Any] = {}
    for cell in ("rnn", "lstm", "gru"):
        per_seed = [gradient_norms(cell, T, cfg["grad_input"], cfg["grad_hidden"],
                                   cfg["grad_batch"], seed) for seed in range(cfg["grad_seeds"])]
        norms[cell] = {"h": _geo_mean([r["h"] for r in per_seed])}
    t_a = time.perf_counter() - t0

    # (b)
    jobs = [(m, lag, s, c) for m in cfg["methods"] for c in cfg["clip"] for lag in cfg["lags"]
            for s in range(cfg["seeds"])]
    runs = []
    for m, lag, s, c in progress(jobs, total=len(jobs), desc="long-lag runs", unit="run"):
        runs.append(train_lag(m, lag, s, c, cfg))
    rows = summarise(runs, cfg)

    plots = [_plot_norms(out_dir, norms, T), _plot_success(out_dir, rows, cfg),
             _graph_picture(out_dir)]
    k_far = max(1, T - 40)
    metrics = {
        "experiment": "vanishing",
        "config": {k: v for k, v in cfg.items() if k != "out"},
        "gradient_norms": {
            "what": "||dL_T/dh_k|| for k = 1..T (index k-1), geometric mean over seeds",
            **{cell: {key: arr for key, arr in d.items()} for cell, d in norms.items()},
            f"at_k_{k_far}": {cell: float(d["h"][k_far - 1]) for cell, d in norms.items()},
        },
        "success_rule": (f"held-out accuracy >= {cfg['success_accuracy']:.0%} on "
                         f"{cfg['eval_size']} fresh sequences, checked every "
                         f"{cfg['eval_every']} training sequences; budget {cfg['budget']}"),
        "table": rows,
        "runs": runs,
        "plots": plots,
        "seconds": {"gradient_norms": t_a, "total": time.perf_counter() - t0},
        "out_dir": str(out_dir),
    }
    write_metrics(out_dir, metrics)
    metrics["out_dir"] = out_dir
    if verbose:
        _print_summary(metrics, T, k_far)
    return metrics


def _print_summary(m: dict[str, Any], T: int, k_far: int) -> None:
    g = m["gradient_norms"]
    print(f"(a) ||dL_T/dh_k|| at PyTorch's default initialisation, T = {T} "
          f"(geometric mean over {m['config']['grad_seeds']} seeds):")
    ks = [k for k in (T, T - 10, T - 20, T - 40, T - 70, 1) if k >= 1]
    rows = []
    for cell in ("rnn", "lstm", "gru"):
        rows.append({"cell": cell.upper(), **{f"k={k}": f"{g[cell]['h'][k - 1]:.2e}"
                                               for k in ks}})
    print_table(rows)
    c = m["config"]
    print(f"\n(b) long-lag task: {c['seeds']} seeds per cell, {c['budget']:,} training "
          f"sequences at most (batches of {c['batch_size']}), hidden {c['hidden']}, "
          f"Adam lr {c['lr']}; success = {m['success_rule']}")
    print_table(m["table"])
    print(f"\nwrote {m['out_dir']}/metrics.json and {', '.join(m['plots'])} "
          f"({m['seconds']['total']:.0f} s)")


def _plot_norms(out_dir: Any, norms: dict[str, Any], T: int) -> str:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    k = np.arange(1, T + 1)
    for cell, d in norms.items():
        ax.plot(k, d["h"], label=f"{cell.upper()}: ||dL_T/dh_k||")
    ax.set_yscale("log")
    ax.set_xlabel("k (time step)")
    ax.set_ylabel("gradient norm")
    ax.set_title(f"gradient reaching step k from a loss at T = {T} (default init)")
    ax.legend()
    return save_figure(fig, out_dir, "gradient_norms.png").name


def _plot_success(out_dir: Any, rows: list[dict[str, Any]], cfg: dict[str, Any]) -> str:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, method in enumerate(cfg["methods"]):
        for clip in cfg["clip"]:
            rs = [r for r in rows if r["method"] == method
                  and r["clipping"] == ("yes" if clip else "no")]
            # one colour per method; nudged up/down so identical curves stay visible
            nudge = (1.5 if clip else -1.5) + 0.5 * i
            ax.plot([r["lag"] for r in rs], [r["% successful"] + nudge for r in rs],
                    "o-" if clip else "s--", color=f"C{i}", alpha=0.85,
                    label=f"{method}{' + clip' if clip else ''}")
    ax.set_xscale("log")
    ax.set_xticks(cfg["lags"])
    ax.set_xticklabels([str(x) for x in cfg["lags"]])
    ax.set_xlabel("lag p")
    ax.set_ylabel("% of runs that succeed (curves nudged apart)")
    ax.set_ylim(-5, 105)
    ax.set_title("long-lag memory task")
    ax.legend(fontsize=8)
    return save_figure(fig, out_dir, "long_lag_success.png").name


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default=None, help="output folder (default runs/vanishing-*)")
    parser.add_argument("--seeds", type=cli_args.positive_int, default=None,
                        help=f"runs per method, lag and clipping (default {DEFAULTS['seeds']})")
    parser.add_argument("--budget", type=cli_args.positive_int, default=None,
                        help=f"training sequences per run (default {DEFAULTS['budget']})")
    parser.add_argument("--lags", type=cli_args.positive_int, nargs="+", default=None,
                        help="lags p (default 5 10 20 50 100)")
    parser.add_argument("--methods", nargs="+", default=None, choices=list(METHODS),
                        help="methods to train (default all)")
    parser.add_argument("--quick", action="store_true", help="a tiny version (for tests)")


def main(args: argparse.Namespace) -> int:
    cfg: dict[str, Any] = dict(QUICK) if args.quick else {}
    for key in ("out", "seeds", "budget", "lags", "methods"):
        v = getattr(args, key)
        if v is not None:
            cfg[key] = v
    for key in ("seeds", "budget"):
        if key in cfg and cfg[key] < 1:
            raise ValueError(f"--{key} must be a positive integer, got {cfg[key]}")
    if "lags" in cfg and any(p < 1 for p in cfg["lags"]):
        raise ValueError(f"--lags must be positive integers, got {cfg['lags']}")
    run(cfg)
    return 0
