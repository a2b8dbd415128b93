"""``backward_html(loss, path)``: one self-contained HTML file (inline CSS and JS, no
network) that replays the backward pass step by step, in exactly the order
``Tensor.backward`` runs the nodes: the op highlighted, its derivative rule, the gradient
arriving (dL/d its output), the gradients it sends to its inputs (small tensors in full,
large ones as shape, norm and a heatmap) and the sums where a tensor is used twice.
Buttons and keys: next (right arrow), previous (left arrow), run (space).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from handgrad.i18n import Messages, get_lang
from handgrad.viz.draw import to_svg
from handgrad.viz.graph import record_backward

__all__ = ["backward_html", "steps_of"]

UI = Messages("viz.ui", {
    "title": {"en": "backward pass, step by step", "ko": "역전파 단계별 보기"},
    "prev": {"en": "previous", "ko": "이전"},
    "next": {"en": "next", "ko": "다음"},
    "run": {"en": "run", "ko": "실행"},
    "step": {"en": "step", "ko": "단계"},
    "rule": {"en": "local derivative", "ko": "국소 미분"},
    "incoming": {"en": "gradient arriving (dL/d output)", "ko": "들어오는 기울기 (dL/d 출력)"},
    "sent": {"en": "gradients sent to the inputs", "ko": "입력으로 보내는 기울기"},
    "accumulated": {"en": "used more than once: gradients add up",
                    "ko": "두 번 이상 쓰여 기울기가 더해집니다"},
    "keys": {"en": "keys: left / right arrow, space to run",
             "ko": "키: 왼쪽/오른쪽 화살표, 스페이스로 실행"},
})

_SMALL = 16


def _summary(a: Any) -> dict[str, Any]:
    a = np.asarray(a, dtype=np.float64)
    out: dict[str, Any] = {"shape": list(a.shape), "norm": float(np.linalg.norm(a))}
    if a.size <= _SMALL:
        out["values"] = [float(v) for v in a.ravel()]
    else:
        m = a.reshape(a.shape[0], -1) if a.ndim >= 2 else a.reshape(1, -1)
        rs = max(1, m.shape[0] // 16)
        cs = max(1, m.shape[1] // 32)
        heat = m[::rs, ::cs][:16, :32]
        out["heat"] = [[float(v) for v in row] for row in heat]
    return out


def steps_of(loss: Any, params: Any = None) -> tuple[Any, list[dict[str, Any]]]:
    """Run backward on ``loss`` and return (graph, JSON-ready steps)."""
    g, steps = record_backward(loss, params)
    uses: dict[str, int] = {}
    for e in g.edges:
        if g.vertices[e.target].kind == "op":
            uses[e.source] = uses.get(e.source, 0) + 1
    out = []
    for s in steps:
        out.append({"op": s["op"], "name": s["name"], "rule": s["rule"],
                    "incoming": None if s["incoming"] is None else _summary(s["incoming"]),
                    "sent": [{"tensor": d["tensor"], "grad": _summary(d["grad"]),
                              "shared": uses.get(d["tensor"], 0) > 1} for d in s["sent"]]})
    return g, out


_CSS = """
body{font-family:sans-serif;margin:0;display:flex;height:100vh}
#graph{flex:2;overflow:auto;border-right:1px solid #ddd}
#panel{flex:1;padding:12px;overflow:auto;font-size:13px}
.vertex.current rect,.vertex.current ellipse{stroke:#dc2626;stroke-width:3}
.vertex.done rect{fill:#d9f99d}
.edge.sent line{stroke:#dc2626 !important}
pre{background:#f9fafb;padding:6px;white-space:pre-wrap}
button{margin-right:6px}
"""

def _script() -> str:
    """The step-through's JavaScript (shipped with the package, inlined into the page)."""
    from importlib.resources import files

    return (files("handgrad.viz") / "stepper.js").read_text(encoding="utf-8")


def backward_html(loss: Any, path: str | Path, params: Any = None,
                  title: str | None = None) -> Path:
    """Run ``loss.backward()`` and write the step-through to ``path`` (one HTML file)."""
    g, steps = steps_of(loss, params)
    lang = get_lang()
    ui = {k: UI(k) for k in UI.keys()}
    svg = to_svg(g)
    heading = title or UI("title")

    def script_json(obj: Any) -> str:
        return json.dumps(obj).replace("</", "<\\/")

    html = (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
            f"<title>{heading}</title><style>{_CSS}</style></head><body>"
            f'<div id="graph">{svg}</div><div id="panel"><h2>{heading}</h2>'
            f'<button id="prev">{ui["prev"]}</button><button id="next">{ui["next"]}</button>'
            f'<button id="run">{ui["run"]}</button> <span id="counter"></span>'
            f'<p style="color:#6b7280">{ui["keys"]}</p><div id="info"></div></div>'
            f'<script type="application/json" id="steps">{script_json(steps)}</script>'
            f'<script type="application/json" id="ui">{script_json(ui)}</script>'
            f"<script>{_script()}</script></body></html>\n")
    path = Path(path)
    path.write_text(html, encoding="utf-8")
    return path
