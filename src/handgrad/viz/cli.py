"""Draw a graph and write its backward step-through: handgrad viz [FILE::FUNCTION].

    handgrad viz                         the four teaching graphs (mlp, conv, count-ones, lstm)
    handgrad viz --example count-ones    one of them
    handgrad viz my_net.py::loss         your function, which returns a scalar loss Tensor
                                         (or (loss, module) to name the parameters)

Each graph gives NAME.svg (the graph with the gradient norm on every edge) and
NAME-backward.html (open it in a browser: the backward pass, step by step) in --out.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

EXAMPLES = ("mlp", "conv", "count-ones", "lstm")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", nargs="?", default=None, metavar="FILE::FUNCTION",
                        help="a function in your file returning a scalar loss Tensor")
    parser.add_argument("--example", choices=EXAMPLES, default=None,
                        help="one teaching graph (default: all four)")
    parser.add_argument("--out", default="viz", help="output folder (default viz/)")


def example(name: str) -> tuple[Any, Any]:
    """(loss, params) of a teaching graph, seeded."""
    import handgrad as hg
    from handgrad import nn

    hg.manual_seed(0)
    F = hg.nn.functional
    if name == "mlp":
        model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
        x = hg.tensor(np.array([[0.5, -1.0, 2.0]], np.float32))
        return F.cross_entropy(model(x), np.array([1])), model
    if name == "conv":
        conv = nn.Conv2d(1, 2, 3, padding=1)
        image: Any = hg.randn(1, 1, 5, 5)
        act: Any = F.relu(conv(image))
        return (act * act).mean(), conv
    if name == "count-ones":
        # the course's counter: S_k = S_{k-1} * W_rec + X_k * W_x, unrolled 5 steps
        w_x: Any = hg.tensor(np.array(1.0), requires_grad=True)
        w_rec: Any = hg.tensor(np.array(0.9), requires_grad=True)
        bits = [1.0, 0.0, 1.0, 1.0, 0.0]
        s: Any = hg.tensor(np.array(0.0))
        for bit in bits:
            s = s * w_rec + bit * w_x
        err: Any = s - sum(bits)
        return err * err, {"W_x": w_x, "W_rec": w_rec}
    cell = nn.LSTMCell(2, 3)
    x = hg.randn(1, 2)
    h, c = cell(x)
    return (h * h).sum() + c.sum(), cell


def _from_file(target: str) -> tuple[str, Any, Any]:
    from handgrad.gradcheck_cli import load_file

    path, sep, name = target.rpartition("::")
    if not sep or not path or not name:
        raise ValueError(f"handgrad viz: expected FILE::FUNCTION, got {target!r}")
    fn = getattr(load_file(path), name, None)
    if not callable(fn):
        raise ValueError(f"handgrad viz: {path} has no function {name!r}")
    result = fn()
    loss, params = result if isinstance(result, tuple) else (result, None)
    return name, loss, params


def main(args: argparse.Namespace) -> int:
    from handgrad.viz import backward_html, draw

    out = Path(args.out)
    if args.target is not None:
        jobs = [_from_file(args.target)]
    else:
        names = [args.example] if args.example else list(EXAMPLES)
        jobs = [(n, *example(n)) for n in names]
    out.mkdir(parents=True, exist_ok=True)
    for name, loss, params in jobs:
        html = backward_html(loss, out / f"{name}-backward.html", params)
        svg = draw(loss, params).save(out / f"{name}.svg")
        print(f"wrote {svg} and {html}")
    return 0
