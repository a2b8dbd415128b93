"""Drawing the graph: a layered layout of our own and SVG written by hand (no Graphviz,
no binary). Gradients after backward: their norm on every edge, as a label and as colour
and width on one log scale (a vanishing gradient fades, an exploding one runs hot).

Layout: each vertex's layer is its longest distance from a source (inputs on the left,
the output on the right); within a layer the order is improved by a few barycentre sweeps
(each vertex moves to the mean position of its neighbours in the previous layer), the
classic Sugiyama heuristic, linear in the number of edges per sweep.
"""

from __future__ import annotations

import math
from html import escape
from pathlib import Path
from typing import Any

from handgrad.viz.graph import Graph, build_graph

__all__ = ["draw", "Drawing", "layout"]

_W, _H, _GAP_X, _GAP_Y = 120, 34, 60, 18
_COLORS = {"op": "#fde68a", "leaf": "#e0f2fe", "param": "#dcfce7", "tensor": "#f3f4f6",
           "output": "#fecaca"}


def layout(g: Graph, sweeps: int = 4) -> dict[str, tuple[float, float]]:
    """(x, y) of every vertex's centre."""
    preds: dict[str, list[str]] = {v: [] for v in g.vertices}
    succs: dict[str, list[str]] = {v: [] for v in g.vertices}
    for e in g.edges:
        preds[e.target].append(e.source)
        succs[e.source].append(e.target)
    # longest path layering, in topological order (Kahn)
    indeg = {v: len(p) for v, p in preds.items()}
    queue = [v for v, d in indeg.items() if d == 0]
    layer = dict.fromkeys(g.vertices, 0)
    i = 0
    while i < len(queue):
        v = queue[i]
        i += 1
        for w in succs[v]:
            layer[w] = max(layer[w], layer[v] + 1)
            indeg[w] -= 1
            if indeg[w] == 0:
                queue.append(w)
    n_layers = max(layer.values(), default=0) + 1
    layers: list[list[str]] = [[] for _ in range(n_layers)]
    for v in queue if len(queue) == len(g.vertices) else g.vertices:
        layers[layer[v]].append(v)
    pos = {v: float(k) for lay in layers for k, v in enumerate(lay)}
    for _ in range(sweeps):
        for lay in layers[1:]:
            def bary(v: str) -> float:
                ps = preds[v]
                return sum(pos[p] for p in ps) / len(ps) if ps else pos[v]
            lay.sort(key=bary)
            for k, v in enumerate(lay):
                pos[v] = float(k)
    tallest = max((len(lay) for lay in layers), default=1)
    coords = {}
    for li, lay in enumerate(layers):
        offset = (tallest - len(lay)) * (_H + _GAP_Y) / 2
        for k, v in enumerate(lay):
            coords[v] = (li * (_W + _GAP_X) + _W / 2 + 10,
                         offset + k * (_H + _GAP_Y) + _H / 2 + 10)
    return coords


def _scale(norms: list[float]) -> tuple[float, float]:
    logs = [math.log10(n) for n in norms if n and n > 0]
    return (min(logs), max(logs)) if logs else (0.0, 0.0)


def _heat(norm: float | None, lo: float, hi: float) -> tuple[str, float]:
    """Colour (blue = small ... red = large) and width on the log scale of all norms."""
    if norm is None:
        return "#9ca3af", 1.0
    if norm <= 0:
        return "#d1d5db", 0.8
    t = 0.5 if hi <= lo else (math.log10(norm) - lo) / (hi - lo)
    r, b = int(40 + 215 * t), int(255 - 215 * t)
    return f"#{r:02x}40{b:02x}", 0.8 + 4.2 * t


def _fmt(x: float) -> str:
    return f"{x:.2e}" if x and (abs(x) < 1e-2 or abs(x) >= 1e4) else f"{x:.3g}"


def to_svg(g: Graph) -> str:
    coords = layout(g)
    lo, hi = _scale([e.grad_norm for e in g.edges if e.grad_norm])
    width = max((x for x, _ in coords.values()), default=0) + _W / 2 + 20
    height = max((y for _, y in coords.values()), default=0) + _H / 2 + 20
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" '
           f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
           f'font-family="sans-serif" font-size="11">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" '
           'markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#6b7280"/>'
           '</marker></defs>']
    for e in g.edges:
        (x1, y1), (x2, y2) = coords[e.source], coords[e.target]
        color, w = _heat(e.grad_norm, lo, hi)
        label = "" if e.grad_norm is None else f"|g|={_fmt(e.grad_norm)}"
        out.append(f'<g class="edge" data-source="{e.source}" data-target="{e.target}" '
                   f'data-grad-norm="{"" if e.grad_norm is None else repr(e.grad_norm)}">'
                   f'<line x1="{x1 + _W / 2:.1f}" y1="{y1:.1f}" x2="{x2 - _W / 2:.1f}" '
                   f'y2="{y2:.1f}" stroke="{color}" stroke-width="{w:.2f}" '
                   f'marker-end="url(#arrow)"/>'
                   + (f'<text x="{(x1 + x2) / 2:.1f}" y="{(y1 + y2) / 2 - 3:.1f}" '
                      f'text-anchor="middle" fill="{color}" font-size="9">{label}</text>'
                      if label else "") + "</g>")
    for vid, v in g.vertices.items():
        x, y = coords[vid]
        shape = "x".join(map(str, v.shape)) if v.shape else "scalar"
        title = escape(v.rule if v.kind == "op" else f"{v.label} {shape} {v.dtype}".strip())
        lines = [v.label] if v.kind == "op" else [v.label, f"({shape}) {v.dtype}"]
        if not lines[0]:
            lines = lines[1:]
        if v.grad_norm is not None:
            lines.append(f"grad {_fmt(v.grad_norm)}")
        fill = _COLORS.get(v.kind, "#fff")
        body = (f'<rect x="{x - _W / 2:.1f}" y="{y - _H / 2:.1f}" width="{_W}" height="{_H}" '
                f'rx="4" fill="{fill}" stroke="#374151"/>' if v.kind == "op" else
                f'<ellipse cx="{x:.1f}" cy="{y:.1f}" rx="{_W / 2}" ry="{_H / 2}" '
                f'fill="{fill}" stroke="#374151"/>')
        texts = "".join(f'<text x="{x:.1f}" y="{y - (len(lines) - 1) * 6 + 12 * i + 4:.1f}" '
                        f'text-anchor="middle">{escape(t)}</text>'
                        for i, t in enumerate(lines))
        out.append(f'<g class="vertex {v.kind}" id="{vid}" data-kind="{v.kind}" '
                   f'data-shape="{shape}"><title>{title}</title>{body}{texts}</g>')
    out.append("</svg>")
    return "\n".join(out)


class Drawing:
    """A drawn graph: ``.svg`` (text), ``.save(path)`` (.svg, or .png through matplotlib),
    and inline display in Jupyter."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.svg = to_svg(graph)

    def _repr_svg_(self) -> str:
        return self.svg

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        if path.suffix.lower() == ".png":
            self._save_png(path)
        elif path.suffix.lower() == ".svg":
            path.write_text(self.svg, encoding="utf-8")
        else:
            raise ValueError(f"save: {path} must end in .svg or .png")
        return path

    def _save_png(self, path: Path) -> None:
        from handgrad.experiments._common import pyplot

        plt = pyplot()
        coords = layout(self.graph)
        w = max((x for x, _ in coords.values()), default=100) + 100
        h = max((y for _, y in coords.values()), default=50) + 50
        fig, ax = plt.subplots(figsize=(max(w / 100, 2), max(h / 100, 2)), dpi=100)
        ax.set_xlim(0, w)
        ax.set_ylim(h, 0)
        ax.axis("off")
        for e in self.graph.edges:
            (x1, y1), (x2, y2) = coords[e.source], coords[e.target]
            ax.plot([x1, x2], [y1, y2], color="#6b7280", lw=0.8, zorder=1)
        for vid, v in self.graph.vertices.items():
            x, y = coords[vid]
            ax.text(x, y, v.label or "x".join(map(str, v.shape)), ha="center", va="center",
                    fontsize=6, zorder=2,
                    bbox={"boxstyle": "round", "fc": _COLORS.get(v.kind, "#fff")})
        fig.savefig(path)
        plt.close(fig)


def collapse(g: Graph) -> Graph:
    """Repeated structure folded: the ops and tensors of one module path (``rnn``,
    ``layers.0``) become one vertex each group, edges between groups kept once."""
    rep: dict[str, str] = {}
    out = Graph(order=list(g.order))
    for vid, v in g.vertices.items():
        if v.group and v.kind in ("op", "param"):
            key = f"g:{v.group}"
            rep[vid] = key
            if key not in out.vertices:
                out.vertices[key] = type(v)(key, "op", v.group, rule=f"module {v.group}")
        else:
            rep[vid] = vid
            out.vertices[vid] = v
    seen = set()
    for e in g.edges:
        s, t = rep[e.source], rep[e.target]
        if s != t and (s, t) not in seen:
            seen.add((s, t))
            out.edges.append(type(e)(s, t, e.shape, e.grad_norm))
    return out


def draw(output: Any, params: Any = None, collapse_modules: bool = False,
         run_backward: bool = False) -> Drawing:
    """A picture of the graph that produced ``output`` (a Tensor): ops with their rule on
    hover, tensors with shape and dtype, parameters named by their module path (pass the
    Module, or a dict name -> Tensor).

    Gradients: after your own ``backward()`` the leaves' edges show their ``.grad``; with
    ``run_backward=True`` the drawing runs the backward itself and records the gradient
    on *every* edge (intermediate ones included, which a plain backward does not keep):
    that is the picture where a vanishing gradient fades. ``collapse_modules`` folds each
    module's ops into one box (an unrolled RNN)."""
    from handgrad.viz.graph import _norm, record_backward

    if run_backward:
        g, _ = record_backward(output, params)
        return Drawing(collapse(g) if collapse_modules else g)
    g = build_graph(output, params)
    # after a backward, the leaves carry .grad: show it on their edges
    names = {f"t{id(t)}": t for t in _leaves(output)}
    for e in g.edges:
        t = names.get(e.source)
        if t is not None and t.grad is not None:
            e.grad_norm = _norm(t.grad)
            g.vertices[e.source].grad_norm = e.grad_norm
    return Drawing(collapse(g) if collapse_modules else g)


def _leaves(output: Any) -> list[Any]:
    from handgrad.tensor import Tensor, _topological_order

    if output.grad_fn is None:
        return [output]
    found = []
    for node in _topological_order(output.grad_fn):
        for t in node.inputs:
            if isinstance(t, Tensor) and t.grad_fn is None:
                found.append(t)
    return found
