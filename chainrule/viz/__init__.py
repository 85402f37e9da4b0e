"""Seeing inside: autograd graph drawings, model summaries, training plots and gradient checks.

    import chainrule as cr
    cr.viz.graph(loss, params=dict(model.named_parameters())).render("graph.svg")   # needs Graphviz
    print(cr.viz.summary(model, (1, 1, 28, 28)))
    cr.viz.training_curves("runs/mnist/metrics.jsonl", path="curves.png")           # needs matplotlib
    print(cr.viz.check_model(model, (2, 784)))

The graph's DOT text and the summary and gradient check need nothing beyond
NumPy; rendering a graph runs Graphviz's ``dot`` program, and the plots need
matplotlib (``pip install 'chainrule[plots]'``), imported only when a plot is drawn.
"""

from chainrule.viz.autograd_graph import Graph, GraphEdge, GraphNode, graph
from chainrule.viz.check import CheckReport, ParameterCheck, check_model
from chainrule.viz.model_summary import LayerRow, Summary, summary
from chainrule.viz.plots import (
    confusion_counts,
    confusion_matrix,
    decision_regions,
    load_metrics,
    save_training_plots,
    training_curves,
    weight_mosaic,
)

__all__ = [
    "CheckReport",
    "Graph",
    "GraphEdge",
    "GraphNode",
    "LayerRow",
    "ParameterCheck",
    "Summary",
    "check_model",
    "confusion_counts",
    "confusion_matrix",
    "decision_regions",
    "graph",
    "load_metrics",
    "save_training_plots",
    "summary",
    "training_curves",
    "weight_mosaic",
]
