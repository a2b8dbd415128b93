"""Maximum likelihood for a normal distribution: gradient ascent with autograd vs the closed form.

For data x_1 .. x_n and a normal N(mu, sigma^2), the average log-likelihood is

    l(mu, s) = -1/2 log(2 pi s) - (1/2n) sum_i (x_i - mu)^2 / s        (s = sigma^2)

with the gradient (what handgrad's autograd computes from the line above; the
experiment checks it against these formulas at every step)

    dl/dmu = (1/n) sum_i (x_i - mu) / s
    dl/ds  = -1/(2 s) + (1/2n) sum_i (x_i - mu)^2 / s^2

Setting both to zero gives the closed form: mu_hat = mean(x) and
s_hat = (1/n) sum_i (x_i - mu_hat)^2, the *1/n* variance (``np.var(x)``). It is biased:
E[s_hat] = (n-1)/n sigma^2, which is why statistics uses the 1/(n-1) variance
(``np.var(x, ddof=1)``) as an estimate; maximum likelihood gives 1/n. The experiment
climbs l by gradient ascent (mu, s) += lr * grad from (0, 1) until the gradient vanishes,
compares with the closed form, shows the bias over many small samples, and evaluates
the likelihood of one point x0 = 1 under N(-1, 1), N(0, 1), N(1, 1):

    p(x0) = exp(-(x0 - mu)^2 / 2) / sqrt(2 pi) = 0.0540, 0.2420, 0.3989

(the mean that puts x0 at the centre is the most likely: the MLE of mu for one point).

    handgrad experiment mle [--out DIR] [--seed 0] [--n 500] [--quiet]
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

import numpy as np

import handgrad as hg
from handgrad import cli_args
from handgrad.experiments._common import (
    make_out_dir,
    print_table,
    pyplot,
    save_figure,
    write_metrics,
)

__all__ = ["log_likelihood", "log_likelihood_grad", "closed_form", "gradient_ascent",
           "normal_pdf", "likelihoods_of_point", "run", "add_arguments", "main", "DEFAULTS"]

DEFAULTS: dict[str, Any] = {
    "out": None, "seed": 0, "quiet": False,
    "n": 500, "true_mu": 2.0, "true_sigma": 1.5,
    "lr": 0.5, "max_iterations": 5000, "tol": 1e-12, "mu0": 0.0, "var0": 1.0,
    "x0": 1.0, "means": (-1.0, 0.0, 1.0),
    "bias_n": 5, "bias_trials": 20000,
}

_LOG_2PI = math.log(2 * math.pi)


def _check_data(x: Any, fn: str) -> np.ndarray:
    arr = np.asarray(x.data if isinstance(x, hg.Tensor) else x)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(f"{fn}: x must be numeric, got dtype {arr.dtype}; convert with "
                        f"np.asarray(x, dtype=float)")
    if arr.ndim != 1 or arr.size < 2:
        raise ValueError(f"{fn}: x must be a 1-D sample of at least 2 values, got shape "
                         f"{arr.shape}")
    return arr.astype(np.float64, copy=False)


def log_likelihood(x: np.ndarray, mu: Any, var: Any) -> Any:
    """Average log-likelihood of the sample under N(mu, var); Tensors in, Tensor out
    (so autograd gives d/dmu and d/dvar), or plain numbers in, a float out."""
    if isinstance(mu, hg.Tensor) or isinstance(var, hg.Tensor):
        var_t = var if isinstance(var, hg.Tensor) else hg.tensor(np.float64(var))
        return -0.5 * _LOG_2PI - 0.5 * var_t.log() - ((x - mu) ** 2).mean() / (2.0 * var_t)
    return float(-0.5 * _LOG_2PI - 0.5 * np.log(var) - np.mean((x - mu) ** 2) / (2 * var))


def log_likelihood_grad(x: np.ndarray, mu: float, var: float) -> tuple[float, float]:
    """By hand: dl/dmu = mean(x - mu)/var, dl/dvar = -1/(2 var) + mean((x-mu)^2)/(2 var^2)."""
    d = x - mu
    return float(np.mean(d) / var), float(-0.5 / var + np.mean(d * d) / (2 * var * var))


def closed_form(x: Any) -> dict[str, float]:
    """mu_hat = mean, the MLE variance (1/n) and the unbiased one (1/(n-1))."""
    x = _check_data(x, "closed_form")
    return {"mu": float(np.mean(x)), "var_mle": float(np.var(x)),
            "var_unbiased": float(np.var(x, ddof=1))}


def gradient_ascent(x: Any, lr: float = 0.5, max_iterations: int = 5000, tol: float = 1e-12,
                    mu0: float = 0.0, var0: float = 1.0) -> dict[str, Any]:
    """Climb the average log-likelihood in (mu, var) with handgrad's autograd.

    Stops when both partial derivatives are below ``tol`` in size. Raises ValueError
    if a step would make the variance non-positive (lr too large for this data)."""
    x = _check_data(x, "gradient_ascent")
    if not lr > 0:
        raise ValueError(f"gradient_ascent: lr must be positive, got {lr}")
    if not var0 > 0:
        raise ValueError(f"gradient_ascent: var0 must be positive, got {var0}")
    mu = hg.tensor(np.float64(mu0), requires_grad=True)
    var = hg.tensor(np.float64(var0), requires_grad=True)
    path = [(mu0, var0)]
    lls = []
    worst = 0.0
    iterations = 0
    for iterations in range(1, max_iterations + 1):  # noqa: B007 (used after the loop)
        mu.grad = None
        var.grad = None
        ll = log_likelihood(x, mu, var)
        ll.backward()
        g_mu, g_var = float(mu.grad), float(var.grad)
        h_mu, h_var = log_likelihood_grad(x, float(mu.data), float(var.data))
        worst = max(worst, abs(g_mu - h_mu), abs(g_var - h_var))
        lls.append(float(ll.data))
        if abs(g_mu) < tol and abs(g_var) < tol:
            iterations -= 1  # converged before this update
            break
        new_var = float(var.data) + lr * g_var
        if not new_var > 0:
            raise ValueError(f"gradient_ascent: step {iterations} would make the variance "
                             f"{new_var:.4g} <= 0; lower lr (now {lr}) or start var0 nearer "
                             f"the sample variance")
        mu.data += lr * g_mu  # in place: .data stays an ndarray
        var.data[...] = new_var
        path.append((float(mu.data), float(var.data)))
    else:
        iterations = max_iterations
    return {"mu": float(mu.data), "var": float(var.data), "iterations": iterations,
            "converged": iterations < max_iterations, "path": np.asarray(path),
            "log_likelihood": np.asarray(lls), "max_hand_vs_autograd": worst}


def normal_pdf(x: Any, mu: float = 0.0, var: float = 1.0) -> Any:
    """Density of N(mu, var) at x: exp(-(x - mu)^2 / (2 var)) / sqrt(2 pi var)."""
    return np.exp(-((np.asarray(x, dtype=np.float64) - mu) ** 2) / (2 * var)) / \
        np.sqrt(2 * np.pi * var)


def likelihoods_of_point(x0: float = 1.0, means: tuple[float, ...] = (-1.0, 0.0, 1.0),
                         var: float = 1.0) -> dict[str, float]:
    """p(x0 | N(mu, var)) for each mu, as exp of handgrad's log-likelihood of one point."""
    out = {}
    for mu in means:
        ll = log_likelihood(np.array([x0], dtype=np.float64),
                            hg.tensor(np.float64(mu)), var)
        out[f"N({mu:g},{var:g})"] = float(np.exp(ll.data))
    return out


def run(config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Sample, climb, compare; write metrics.json and plots; return the metrics."""
    cfg = {**DEFAULTS, **(config or {})}
    unknown = set(cfg) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"mle: unknown config keys {sorted(unknown)}; known: "
                         f"{sorted(DEFAULTS)}")
    if int(cfg["n"]) < 2:
        raise ValueError(f"mle: n must be at least 2, got {cfg['n']}")
    t0 = time.perf_counter()
    out_dir = make_out_dir(cfg["out"], "mle")
    hg.manual_seed(int(cfg["seed"]))
    rng = hg.get_rng()
    x = rng.normal(cfg["true_mu"], cfg["true_sigma"], size=int(cfg["n"]))

    exact = closed_form(x)
    ascent = gradient_ascent(x, cfg["lr"], cfg["max_iterations"], cfg["tol"], cfg["mu0"],
                             cfg["var0"])
    points = likelihoods_of_point(cfg["x0"], tuple(cfg["means"]))
    formula = {f"N({m:g},1)": float(normal_pdf(cfg["x0"], m, 1.0)) for m in cfg["means"]}

    # the bias of the 1/n variance: many samples of bias_n points from N(0, 1)
    k, trials = int(cfg["bias_n"]), int(cfg["bias_trials"])
    samples = rng.normal(0.0, 1.0, size=(trials, k))
    bias = {"n": k, "trials": trials, "true_var": 1.0,
            "mean_var_mle": float(np.var(samples, axis=1).mean()),
            "mean_var_unbiased": float(np.var(samples, axis=1, ddof=1).mean()),
            "expected_var_mle": (k - 1) / k}

    metrics: dict[str, Any] = {
        "experiment": "mle", "seed": cfg["seed"],
        "data": {"n": int(cfg["n"]), "true_mu": cfg["true_mu"],
                 "true_var": cfg["true_sigma"] ** 2},
        "closed_form": exact,
        "gradient_ascent": {k2: v for k2, v in ascent.items()
                            if k2 not in ("path", "log_likelihood")}
        | {"lr": cfg["lr"], "start": [cfg["mu0"], cfg["var0"]],
           "final_log_likelihood": float(ascent["log_likelihood"][-1])},
        "abs_diff": {"mu": abs(ascent["mu"] - exact["mu"]),
                     "var": abs(ascent["var"] - exact["var_mle"])},
        "log_likelihood_at_closed_form": log_likelihood(x, exact["mu"], exact["var_mle"]),
        "likelihood_x0": {"x0": cfg["x0"], **points},
        "likelihood_x0_formula": formula,
        "variance_bias": bias,
    }
    metrics["plots"] = _plots(out_dir, cfg, x, exact, ascent, points)
    metrics["elapsed_s"] = time.perf_counter() - t0
    write_metrics(out_dir, metrics)
    metrics["out_dir"] = str(out_dir)
    return metrics


def _plots(out_dir: Any, cfg: dict[str, Any], x: np.ndarray, exact: dict[str, float],
           ascent: dict[str, Any], points: dict[str, float]) -> list[str]:
    plt = pyplot()
    names = []
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    path = ascent["path"]
    mu_lo, mu_hi = min(path[:, 0].min(), exact["mu"]) - 0.5, max(path[:, 0].max(),
                                                                  exact["mu"]) + 0.5
    v_hi = max(path[:, 1].max(), exact["var_mle"]) * 1.3
    mus = np.linspace(mu_lo, mu_hi, 120)
    vs = np.linspace(0.2, v_hi, 120)
    M, V = np.meshgrid(mus, vs)
    # l(mu, s) on the grid from the sufficient statistics: mean((x-mu)^2) = var + (mean-mu)^2
    mean, var_x = float(np.mean(x)), float(np.var(x))
    L = -0.5 * _LOG_2PI - 0.5 * np.log(V) - (var_x + (mean - M) ** 2) / (2 * V)
    levels = np.quantile(L, np.linspace(0.3, 1.0, 25))
    ax1.contour(M, V, L, levels=np.unique(levels), cmap="viridis", linewidths=0.8)
    ax1.plot(path[:, 0], path[:, 1], ".-", color="tab:red", ms=3, lw=1,
             label=f"gradient ascent ({ascent['iterations']} steps, lr {cfg['lr']})")
    ax1.plot(exact["mu"], exact["var_mle"], "k*", ms=12, label="closed form (mean, 1/n var)")
    ax1.plot(exact["mu"], exact["var_unbiased"], "kx", ms=8, label="1/(n-1) variance")
    ax1.set(xlabel="μ", ylabel="σ²", title="average log-likelihood l(μ, σ²)")
    ax1.legend(fontsize=8)
    gap = np.abs(path - np.array([exact["mu"], exact["var_mle"]]))
    ax2.semilogy(np.maximum(gap[:, 0], 1e-17), label="|μ_k - mean(x)|")
    ax2.semilogy(np.maximum(gap[:, 1], 1e-17), label="|σ²_k - var(x)| (1/n)")
    ax2.set(xlabel="iteration", ylabel="distance to the closed form",
            title="gradient ascent converges to the closed form")
    ax2.legend(fontsize=8)
    names.append(save_figure(fig, out_dir, "mle_ascent.png").name)

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4))
    ax1.hist(x, bins=40, density=True, alpha=0.5, label=f"sample (n = {len(x)})")
    grid = np.linspace(x.min() - 1, x.max() + 1, 300)
    ax1.plot(grid, normal_pdf(grid, exact["mu"], exact["var_mle"]), "k",
             label=f"MLE N({exact['mu']:.3f}, {exact['var_mle']:.3f})")
    ax1.plot(grid, normal_pdf(grid, cfg["true_mu"], cfg["true_sigma"] ** 2), "--",
             color="tab:green", label=f"true N({cfg['true_mu']:g}, {cfg['true_sigma']**2:g})")
    ax1.set(xlabel="x", ylabel="density", title="the sample and the fitted normal")
    ax1.legend(fontsize=8)
    grid = np.linspace(-4.5, 4.5, 300)
    for mu, (label, p) in zip(cfg["means"], points.items()):
        line, = ax2.plot(grid, normal_pdf(grid, mu, 1.0), label=f"{label}: p(x0) = {p:.4f}")
        ax2.plot([cfg["x0"]], [p], "o", color=line.get_color())
    ax2.axvline(cfg["x0"], color="k", ls=":", lw=1)
    ax2.set(xlabel="x", ylabel="density", title=f"likelihood of x0 = {cfg['x0']:g}")
    ax2.legend(fontsize=8)
    names.append(save_figure(fig, out_dir, "likelihood.png").name)
    return names


def _print_summary(m: dict[str, Any]) -> None:
    d, c, g = m["data"], m["closed_form"], m["gradient_ascent"]
    print(f"normal MLE on n = {d['n']} points from N({d['true_mu']:g}, {d['true_var']:g}):")
    print_table([
        {"": "gradient ascent (autograd)", "mu": f"{g['mu']:.10f}", "sigma^2": f"{g['var']:.10f}",
         "note": f"{g['iterations']} iterations, lr {g['lr']}"},
        {"": "closed form", "mu": f"{c['mu']:.10f}", "sigma^2": f"{c['var_mle']:.10f}",
         "note": "mean, (1/n) sum (x - mean)^2"},
        {"": "unbiased variance", "mu": "", "sigma^2": f"{c['var_unbiased']:.10f}",
         "note": "1/(n-1): not the MLE"},
    ])
    b = m["variance_bias"]
    print(f"\nbias of the 1/n variance over {b['trials']} samples of {b['n']} from N(0, 1): "
          f"mean {b['mean_var_mle']:.4f} (expected (n-1)/n = {b['expected_var_mle']:.4f}); "
          f"1/(n-1): {b['mean_var_unbiased']:.4f}")
    lx = m["likelihood_x0"]
    print(f"\nlikelihood of x0 = {lx['x0']:g}: " + ", ".join(
        f"{k} {v:.4f}" for k, v in lx.items() if k != "x0"))
    print(f"\nwrote metrics.json and {', '.join(m['plots'])} to {m['out_dir']}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default=None, help="output folder (default runs/mle-*)")
    parser.add_argument("--seed", type=cli_args.nonnegative_int, default=DEFAULTS["seed"],
                        help="random seed (default 0)")
    parser.add_argument("--n", type=cli_args.positive_int, default=DEFAULTS["n"],
                        help="sample size (default 500)")
    parser.add_argument("--lr", type=cli_args.positive_float, default=DEFAULTS["lr"],
                        help="gradient-ascent learning rate (default 0.5)")
    parser.add_argument("--quiet", action="store_true", help="print nothing")


def main(args: argparse.Namespace) -> int:
    if args.seed < 0:
        raise ValueError(f"--seed must be a non-negative integer, got {args.seed}")
    if args.n < 2:
        raise ValueError(f"--n must be at least 2, got {args.n}")
    if not args.lr > 0:
        raise ValueError(f"--lr must be positive, got {args.lr}")
    metrics = run({"out": args.out, "seed": args.seed, "n": args.n, "lr": args.lr,
                   "quiet": args.quiet})
    if not args.quiet:
        _print_summary(metrics)
    return 0
