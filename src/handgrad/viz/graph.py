"""The computational graph behind a Tensor, as plain data: vertices (ops and tensors) and
edges, and what one backward pass sent along each edge.

Vertices: every Tensor met on the way back from the output (leaves, parameters,
intermediate results, the output) and every op (a ``Node`` of the graph, named by its
Function). Edges follow the forward direction: tensor -> the op that consumed it, op -> the
tensor it produced. After :func:`record_backward` every edge into an op's input carries the
gradient the backward sent there (its norm), and every op the gradient it received.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from handgrad.tensor import Tensor, _topological_order


@dataclass
class Vertex:
    id: str
    kind: str                 # "op", "leaf", "param", "tensor", "output"
    label: str
    shape: tuple[int, ...] = ()
    dtype: str = ""
    rule: str = ""            # an op's derivative rule (its Function's docstring)
    group: str = ""           # the module path, for collapsing repeated structure
    grad_norm: float | None = None   # the gradient this vertex received in backward


@dataclass
class Edge:
    source: str
    target: str
    shape: tuple[int, ...] = ()
    grad_norm: float | None = None


@dataclass
class Graph:
    vertices: dict[str, Vertex] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    order: list[str] = field(default_factory=list)  # op ids in Tensor.backward's order


def _rule(function: type) -> str:
    doc = inspect.getdoc(function) or ""
    return doc.strip().split("\n\n")[0][:400]


def param_names(params: Any) -> dict[int, str]:
    """{id(tensor): name} from a Module, a dict of tensors, or None."""
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        return {id(p): n for n, p in params.named_parameters()}
    if isinstance(params, dict):
        return {id(p): str(n) for n, p in params.items()}
    raise TypeError(f"params must be a Module or a dict name -> Tensor, got "
                    f"{type(params).__name__}")


def build_graph(output: Tensor, params: Any = None) -> Graph:
    """The graph that produced ``output``."""
    if not isinstance(output, Tensor):
        raise TypeError(f"draw: output must be a handgrad Tensor, got {type(output).__name__}")
    names = param_names(params)
    # parameters of the module itself (no dot in their name) belong to the module's group
    top = type(params).__name__ if hasattr(params, "named_parameters") else ""
    g = Graph()

    def tensor_vertex(t: Tensor, is_output: bool = False) -> str:
        vid = f"t{id(t)}"
        if vid not in g.vertices:
            if is_output:
                kind, label = "output", "output"
            elif id(t) in names:
                kind, label = "param", names[id(t)]
            elif t.grad_fn is None:
                kind, label = "leaf", "input"
            else:
                kind, label = "tensor", ""
            name = names.get(id(t), "")
            group = name.rsplit(".", 1)[0] if "." in name else (top if name else "")
            g.vertices[vid] = Vertex(vid, kind, label, tuple(t.shape), str(t.dtype),
                                     group=group)
        return vid

    out_id = tensor_vertex(output, is_output=True)
    if output.grad_fn is None:
        return g
    nodes = _topological_order(output.grad_fn)
    produced: dict[int, str] = {id(output.grad_fn): out_id}
    for node in nodes:
        oid = f"n{id(node)}"
        g.vertices[oid] = Vertex(oid, "op", node.name, rule=_rule(node.function))
        g.order.append(oid)
    g.edges.append(Edge(f"n{id(output.grad_fn)}", out_id, tuple(output.shape)))
    for node in nodes:
        oid = f"n{id(node)}"
        for t in node.inputs:
            if not isinstance(t, Tensor):
                continue
            tid = tensor_vertex(t)
            g.edges.append(Edge(tid, oid, tuple(t.shape)))
            if t.grad_fn is not None and tid != out_id:
                key = (f"n{id(t.grad_fn)}", tid)
                if not any(e.source == key[0] and e.target == key[1] for e in g.edges):
                    g.edges.append(Edge(key[0], tid, tuple(t.shape)))
    del produced
    # every op an op's module path (the group of the parameters it consumes), for collapse
    for e in g.edges:
        src = g.vertices[e.source]
        dst = g.vertices[e.target]
        if dst.kind == "op" and src.kind == "param" and not dst.group:
            dst.group = src.group
    return g


def _norm(a: Any) -> float:
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64)))


class _Recorder:
    """Stands in for the anomaly hook while one backward runs: sees every node's outgoing
    gradients in the order the engine processes the nodes."""

    def __init__(self, previous: Any) -> None:
        self.previous = previous
        self.steps: list[tuple[Any, tuple[Any, ...]]] = []

    def after_forward(self, *args: Any) -> None:
        if self.previous is not None:
            self.previous.after_forward(*args)

    def after_backward(self, node: Any, input_grads: Any) -> None:
        self.steps.append((node, tuple(input_grads)))
        if self.previous is not None:
            self.previous.after_backward(node, input_grads)


@contextmanager
def recording() -> Iterator[_Recorder]:
    from handgrad import function as _function

    rec = _Recorder(_function._anomaly_hook)
    _function._anomaly_hook = rec
    try:
        yield rec
    finally:
        _function._anomaly_hook = rec.previous


def record_backward(output: Tensor, params: Any = None, grad: Any = None,
                    retain_graph: bool = False) -> tuple[Graph, list[dict[str, Any]]]:
    """Build the graph, run ``output.backward(grad)`` and record every step: which op,
    the gradient it received (dL/d its output), the gradients it sent to its inputs."""
    g = build_graph(output, params)
    with recording() as rec:
        output.backward(grad, retain_graph=retain_graph)
    root = np.ones(output.shape) if grad is None else np.asarray(
        grad.data if isinstance(grad, Tensor) else grad)
    received: dict[str, Any] = {}
    if output.grad_fn is not None:
        received[f"n{id(output.grad_fn)}"] = root
    steps = []
    for node, grads in rec.steps:
        oid = f"n{id(node)}"
        incoming = received.get(oid)
        sent = []
        for t, gr in zip(node.inputs, grads):
            if not isinstance(t, Tensor) or gr is None or not t.requires_grad:
                continue
            tid = f"t{id(t)}"
            sent.append({"tensor": tid, "grad": np.asarray(gr)})
            for e in g.edges:
                if e.source == tid and e.target == oid:
                    e.grad_norm = (e.grad_norm or 0.0) + _norm(gr) if e.grad_norm else _norm(gr)
            if t.grad_fn is not None:
                key = f"n{id(t.grad_fn)}"
                received[key] = gr if key not in received else received[key] + gr
            v = g.vertices.get(tid)
            if v is not None:
                total = t.grad if t.grad_fn is None and t.grad is not None else None
                v.grad_norm = _norm(total) if total is not None else _norm(gr)
        if incoming is not None:
            g.vertices[oid].grad_norm = _norm(incoming)
        steps.append({"op": oid, "name": node.name, "rule": g.vertices[oid].rule,
                      "incoming": incoming, "sent": sent})
    out_v = g.vertices[f"t{id(output)}"]
    out_v.grad_norm = _norm(root)
    return g, steps
