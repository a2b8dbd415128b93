"""See the graph: draw the computational graph (SVG of our own, no Graphviz) and step
through the backward pass in one self-contained HTML file."""

from handgrad.viz.draw import Drawing, draw
from handgrad.viz.graph import build_graph, record_backward
from handgrad.viz.stepper import backward_html

__all__ = ["draw", "Drawing", "backward_html", "build_graph", "record_backward"]
