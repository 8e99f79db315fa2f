"""Optimisation passes over pyfw.ir.Graph. Each pass is a function Graph ->
Graph that returns a new graph computing the same outputs under the same
input and output names; `optimize` runs them in order.

Level 0 keeps the graph as it is; level 1 simplifies it (shape and constant
folding, Identity and dead-node removal, common subexpressions); level 2
(the default) also fuses (QDQ layers into QLinearConv/QLinearMatMul, first,
before folding turns their weights float; MatMul + Add into Gemm,
BatchNormalization and per-channel Mul/Add into Conv/Gemm weights,
activations into the Conv/Gemm epilogue, the erf GELU pattern into one
Gelu)."""
from __future__ import annotations

from ..graph import Graph
from .cleanup import eliminate_common_subexpressions, remove_dead_nodes, remove_identities
from .fold import fold_constants, fold_shapes
from .fuse import fold_batchnorm, fold_scale_shift, fuse_activations, fuse_gelu, fuse_matmul_add
from .qdq import fuse_qdq

SIMPLIFY = (fold_shapes, fold_constants, remove_identities, eliminate_common_subexpressions, remove_dead_nodes)
FUSE = (fuse_matmul_add, fold_batchnorm, fold_scale_shift, fuse_activations, fuse_gelu)  # Gemm first: BatchNormalization may follow it
MAX_ROUNDS = 4  # folding can expose more folding (a Shape after a Reshape...)


def _simplify(g: Graph) -> Graph:
    for _ in range(MAX_ROUNDS):
        before = (len(g.nodes), len(g.tensors))
        for p in SIMPLIFY:
            g = p(g)
        if (len(g.nodes), len(g.tensors)) == before:
            break
    return g


def optimize(graph: Graph, level: int = 2) -> Graph:
    """Returns an optimised copy of `graph` (see the module docstring for the levels)."""
    if level not in (0, 1, 2):
        raise ValueError(f"optimisation level must be 0, 1 or 2, got {level!r}")
    g = graph.copy()
    if level >= 2:
        g = fuse_qdq(g)
    if level >= 1:
        g = _simplify(g)
    if level >= 2:
        for p in FUSE:
            g = p(g)
    g.validate()
    return g


__all__ = ["optimize", "fold_shapes", "fold_constants", "remove_identities", "remove_dead_nodes",
           "eliminate_common_subexpressions", "fold_batchnorm", "fold_scale_shift", "fuse_matmul_add", "fuse_activations",
           "fuse_gelu", "fuse_qdq"]
