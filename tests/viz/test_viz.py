"""handgrad.viz: the picture's content (one vertex per op and tensor, edges as grad_fn's
inputs, shapes and gradient norms in the labels), the step-through's order (exactly
Tensor.backward's), in a real browser, and the speed on a large graph."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import handgrad as hg
from handgrad import nn
from handgrad.tensor import Tensor, _topological_order
from handgrad.viz import backward_html, build_graph, draw
from handgrad.viz.cli import EXAMPLES, example

SVG = "{http://www.w3.org/2000/svg}"


def _mlp():
    hg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    x = hg.tensor(np.ones((1, 3), np.float32))
    return hg.nn.functional.cross_entropy(model(x), np.array([1])), model


def _graph_facts(loss):
    """Ops and tensors of the graph, straight from grad_fn."""
    nodes = _topological_order(loss.grad_fn)
    tensors = {id(loss)}
    edges = set()
    for node in nodes:
        for t in node.inputs:
            if isinstance(t, Tensor):
                tensors.add(id(t))
                edges.add((f"t{id(t)}", f"n{id(node)}"))
    return nodes, tensors, edges


def test_svg_has_one_vertex_per_op_and_tensor_and_grad_fn_edges():
    loss, model = _mlp()
    nodes, tensors, edges = _graph_facts(loss)
    root = ET.fromstring(draw(loss, model).svg)
    vertices = [g for g in root.iter(f"{SVG}g") if "vertex" in g.get("class", "")]
    ops = [v for v in vertices if v.get("data-kind") == "op"]
    assert len(ops) == len(nodes)
    assert len(vertices) - len(ops) == len(tensors)
    drawn = {(g.get("data-source"), g.get("data-target"))
             for g in root.iter(f"{SVG}g") if g.get("class") == "edge"}
    assert edges <= drawn
    text = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "0.weight" in text and "(4x3) float32" in text and "Linear" in text
    titles = [t.text for t in root.iter(f"{SVG}title")]
    assert any("dL/d" in (t or "") or "y =" in (t or "") for t in titles)  # rules on hover


def test_gradient_norms_after_backward():
    loss, model = _mlp()
    assert "|g|=" not in draw(loss, model).svg
    loss.backward()
    svg = draw(loss, model).svg
    norm = float(np.linalg.norm(model[0].weight.grad.astype(np.float64)))
    root = ET.fromstring(svg)
    edge_norms = [float(g.get("data-grad-norm")) for g in root.iter(f"{SVG}g")
                  if g.get("class") == "edge" and g.get("data-grad-norm")]
    assert any(abs(n - norm) < 1e-9 * max(1, norm) for n in edge_norms)
    assert "|g|=" in svg


def test_step_order_is_backwards_order(tmp_path):
    loss, model = _mlp()
    expected = [n.name for n in _topological_order(loss.grad_fn)]
    path = backward_html(loss, tmp_path / "b.html", model)
    html = path.read_text(encoding="utf-8")
    import json
    import re

    steps = json.loads(re.search(r'<script type="application/json" id="steps">(.*?)</script>',
                                 html, re.S).group(1))
    assert [s["name"] for s in steps] == expected
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert model[0].weight.grad is not None  # backward really ran


def test_a_tensor_used_twice_is_marked_as_accumulating(tmp_path):
    x = hg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    loss = (x * x + x).sum()
    import json
    import re

    html = backward_html(loss, tmp_path / "b.html").read_text(encoding="utf-8")
    steps = json.loads(re.search(r'id="steps">(.*?)</script>', html, re.S).group(1))
    shared = [d for s in steps for d in s["sent"] if d["shared"]]
    assert shared and all(d["tensor"] == f"t{id(x)}" for d in shared)
    np.testing.assert_allclose(x.grad, 2 * x.data + 1)


@pytest.mark.parametrize("name", EXAMPLES)
def test_teaching_graphs_draw(name, tmp_path):
    loss, params = example(name)
    backward_html(loss, tmp_path / f"{name}.html", params)
    svg = draw(loss, params).save(tmp_path / f"{name}.svg").read_text()
    ET.fromstring(svg)
    if name == "count-ones":
        assert "W_rec" in svg and svg.count('data-kind="op"') >= 10  # 5 unrolled steps


def test_step_through_in_the_browser(browser, tmp_path):
    loss, params = example("count-ones")
    expected = [n.name for n in _topological_order(loss.grad_fn)]
    path = backward_html(loss, tmp_path / "count.html", params)
    browser.open(path)
    assert browser.console_errors() == []
    assert browser.js("return window.handgradCurrent()") == -1
    seen = []
    for i, _ in enumerate(expected):
        browser.js("document.getElementById('next').click()")
        seen.append(browser.js("return window.handgradSteps[window.handgradCurrent()].name"))
        assert browser.js("return document.querySelectorAll('.vertex.current').length") == 1
        if i == 0:
            browser.screenshot("viz-count-ones-first-step")
    assert seen == expected
    browser.screenshot("viz-count-ones-last-step")
    # the values shown are backward()'s: what the steps send to W_x and W_rec adds up to
    # their .grad (each is used by all five unrolled steps)
    for name in ("W_x", "W_rec"):
        t = params[name]
        sent = browser.js(f"""return window.handgradSteps.flatMap(s => s.sent)
            .filter(d => d.tensor === 't{id(t)}').map(d => d.grad.values[0])""")
        assert len(sent) == 5
        assert abs(sum(sent) - float(t.grad)) < 1e-9 * max(1.0, abs(float(t.grad)))
    shown = browser.js("return document.getElementById('info').textContent")
    assert "|g| =" in shown


def test_large_graph_draws_fast():
    x = hg.tensor(np.ones(3), requires_grad=True)
    y = x
    for _ in range(1500):  # ~3000 vertices
        y = (y * 0.999).tanh()
    g = build_graph(y.sum())
    assert len(g.vertices) > 3000
    start = time.perf_counter()
    svg = draw(y.sum()).svg
    elapsed = time.perf_counter() - start
    assert svg.startswith("<svg") and elapsed < 5.0, elapsed


def test_collapse_by_module():
    hg.manual_seed(0)
    rnn = nn.RNNCell(2, 3)
    h = None
    for _ in range(4):
        h = rnn(hg.randn(1, 2), h)
    full = draw(h.sum(), rnn)
    folded = draw(h.sum(), rnn, collapse_modules=True)
    assert folded.svg.count('data-kind="op"') < full.svg.count('data-kind="op"')


def test_png_and_bad_suffix(tmp_path):
    loss, model = _mlp()
    d = draw(loss, model)
    assert d.save(tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match=r"\.svg or \.png"):
        d.save(tmp_path / "g.gif")
    with pytest.raises(TypeError, match="Tensor"):
        draw(np.ones(3))


def test_experiments_write_their_graph_pictures(tmp_path):
    from handgrad.experiments import count_ones, vanishing

    for module in (count_ones, vanishing):
        name = module._graph_picture(tmp_path)
        svg = (tmp_path / name).read_text(encoding="utf-8")
        ET.fromstring(svg)
        assert "|g|=" in svg, module.__name__
    assert (tmp_path / "graph-backward.html").exists()


def test_readme_picture_is_made_by_the_code_it_shows(tmp_path, monkeypatch):
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S)
                 if "rnn-gradient-fading.svg" in b)
    assert "![gradients fading back through an unrolled RNN]" \
           "(docs/assets/rnn-gradient-fading.svg)" in readme
    (tmp_path / "docs" / "assets").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    exec(block, {})  # noqa: S102 - the README's own code
    made = (tmp_path / "docs" / "assets" / "rnn-gradient-fading.svg").read_text()
    shipped = (root / "docs" / "assets" / "rnn-gradient-fading.svg").read_text()
    # the same picture (labels and structure; norms to the 3 digits shown)
    # vertex ids come from Python's id() of the objects: everything else must match
    strip = re.compile(r'data-grad-norm="[^"]*"|\b[tn]\d{6,}\b')
    assert strip.sub("", made) == strip.sub("", shipped)
    norms = [float(v) for v in re.findall(r'data-grad-norm="([^"]+)"', made)]
    assert norms and max(norms) / min(n for n in norms if n > 0) > 10  # it fades
