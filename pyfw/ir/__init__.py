"""The one in-memory graph IR of pyfw. Tracing, the ONNX importer and exporter,
the optimiser passes, the quantizer and the .pfw writer/reader all use it."""
from .graph import Graph, Node, QuantParams, Tensor
from .shapes import infer_shapes
from .passes import optimize

__all__ = ["Graph", "Node", "QuantParams", "Tensor", "infer_shapes", "optimize"]
