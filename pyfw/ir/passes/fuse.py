"""Fusion passes: BatchNormalization folded into the Conv or Gemm before it,
MatMul + Add as one Gemm, and an activation after Conv or Gemm applied in
that node's epilogue (attributes `activation`, `activation_alpha`,
`activation_beta`, read by libpfw's conv.c and gemm.c; the ONNX exporter
splits them out again)."""
from __future__ import annotations

import numpy as np

from ..graph import Graph, Node, Tensor
from ..shapes import infer_shapes
from ._util import constant, drop_unreferenced, single_consumer

# ONNX versions of Gemm; a new Gemm takes the one the graph's opset selects.
GEMM_VERSIONS = (1, 6, 7, 9, 11, 13)


def _fresh(g: Graph, base: str) -> str:
    name, k = base, 1
    while name in g.tensors:
        name, k = f"{base}_{k}", k + 1
    return name


def _add_const(g: Graph, base: str, value: np.ndarray) -> str:
    name = _fresh(g, base)
    g.add_constant(name, np.ascontiguousarray(value))
    return name


def _takes_over(g: Graph, first: Node, second: Node) -> None:
    """`first` now writes what `second` wrote; `second` goes."""
    old = first.outputs[0]
    first.outputs[0] = second.outputs[0]
    g.nodes.remove(second)
    g.tensors.pop(old, None)


def fold_batchnorm(graph: Graph) -> Graph:
    """BatchNormalization(Conv(x, W, b)) = Conv(x, W * s, (b - mean) * s + B)
    with s = scale / sqrt(var + epsilon) per output channel; for Gemm the
    channel is the output column. Needs constant weights and statistics and a
    Conv/Gemm output that only the BatchNormalization reads."""
    g = graph.copy()
    infer_shapes(g)
    producers, consumers = g.producers(), g.consumers()
    for bn in [n for n in g.nodes if n.op_type == "BatchNormalization" and not n.domain]:
        prev = producers.get(bn.inputs[0])
        if prev is None or prev.domain or prev.op_type not in ("Conv", "Gemm") or "activation" in prev.attrs:
            continue
        if single_consumer(g, prev.outputs[0], consumers) is not bn or len(bn.inputs) != 5:
            continue
        stats = [constant(g, i) for i in bn.inputs[1:]]
        w = constant(g, prev.inputs[1])
        bias_name = prev.inputs[2] if len(prev.inputs) > 2 else ""
        bias = constant(g, bias_name)
        if any(s is None for s in stats) or w is None or (bias_name and bias is None):
            continue
        if w.dtype != np.float32 or any(s.dtype != np.float32 or s.ndim != 1 for s in stats):
            continue
        scale, shift, mean, var = (s.astype(np.float64) for s in stats)
        s = scale / np.sqrt(var + bn.attr("epsilon", 1e-5))
        if prev.op_type == "Conv":
            if w.ndim < 3 or w.shape[0] != s.shape[0]:
                continue
            new_w = w * s.reshape((-1,) + (1,) * (w.ndim - 1))
            b = np.zeros(w.shape[0]) if bias is None else bias.astype(np.float64)
            new_b = (b - mean) * s + shift
        else:
            trans_b = prev.attr("transB", 0)
            if w.ndim != 2 or w.shape[0 if trans_b else 1] != s.shape[0] or g.tensor(bn.inputs[0]).rank != 2:
                continue
            new_w = w * (s[:, None] if trans_b else s[None, :])
            beta = prev.attr("beta", 1.0)
            b = np.zeros(s.shape[0]) if bias is None else beta * bias.astype(np.float64)
            if b.ndim > 2:
                continue
            new_b = (b - mean) * s + shift  # broadcasts along the columns, like C
            prev.attrs["beta"] = 1.0
        prev.inputs[1] = _add_const(g, f"{prev.inputs[1]}_bn", new_w.astype(np.float32))
        new_b_name = _add_const(g, f"{bias_name or prev.outputs[0]}_bn", new_b.astype(np.float32))
        prev.inputs[2:] = [new_b_name]
        _takes_over(g, prev, bn)
    return drop_unreferenced(g)


def _gemm_version(opset: int) -> int:
    return max(v for v in GEMM_VERSIONS if v <= opset)


def fuse_matmul_add(graph: Graph) -> Graph:
    """Add(MatMul(A, B), bias) with A and B 2-D and a constant bias that
    broadcasts to the product's shape becomes Gemm(A, B, bias)."""
    g = graph.copy()
    infer_shapes(g)
    consumers = g.consumers()
    for mm in [n for n in g.nodes if n.op_type == "MatMul" and not n.domain]:
        a, b = (g.tensors.get(i) for i in mm.inputs[:2])
        if a is None or b is None or a.rank != 2 or b.rank != 2 or a.dtype != "float32" or b.dtype != "float32":
            continue
        add = single_consumer(g, mm.outputs[0], consumers)
        if add is None or add.op_type != "Add" or add.domain:
            continue
        other = add.inputs[1] if add.inputs[0] == mm.outputs[0] else add.inputs[0]
        bias = constant(g, other)
        out = g.tensor(mm.outputs[0]).shape
        if bias is None or bias.dtype != np.float32 or bias.ndim > 2 or out is None:
            continue
        # C must broadcast to [M, N] without enlarging the product.
        if any(d != 1 and (o < 0 or d != o) for d, o in zip(bias.shape[::-1], out[::-1])):
            continue
        gemm = Node("Gemm", [mm.inputs[0], mm.inputs[1], other], [add.outputs[0]], {}, mm.name, "",
                    _gemm_version(g.opset))
        g.nodes[g.nodes.index(mm)] = gemm
        g.nodes.remove(add)
        g.tensors.pop(mm.outputs[0], None)
    return drop_unreferenced(g)


# activation op -> (alpha attribute and default, beta attribute and default)
ACTIVATIONS = {
    "Relu": None, "Sigmoid": None, "Tanh": None, "HardSwish": None,
    "LeakyRelu": (("alpha", 0.01), None),
    "HardSigmoid": (("alpha", 0.2), ("beta", 0.5)),
    "Clip": None,  # min/max: attributes before opset 11, inputs after
}


def _activation_params(g: Graph, act: Node) -> tuple[float, float] | None:
    """(alpha, beta) to store for `act`, or None when they are not constants."""
    if act.op_type == "Clip":
        if act.version < 11:
            return float(act.attr("min", -np.inf)), float(act.attr("max", np.inf))
        bounds = []
        for k, dflt in ((1, -np.inf), (2, np.inf)):
            name = act.inputs[k] if len(act.inputs) > k else ""
            v = constant(g, name) if name else np.asarray(dflt)
            if v is None or v.size != 1:
                return None
            bounds.append(float(v.reshape(-1)[0]))
        return bounds[0], bounds[1]
    spec = ACTIVATIONS[act.op_type]
    if spec is None:
        return 0.0, 0.0
    (an, ad), bspec = spec
    return float(act.attr(an, ad)), float(act.attr(bspec[0], bspec[1])) if bspec else 0.0


def fuse_activations(graph: Graph) -> Graph:
    """Conv or Gemm followed by Relu, LeakyRelu, Clip, Sigmoid, Tanh,
    HardSigmoid or HardSwish runs the activation in its epilogue."""
    g = graph.copy()
    infer_shapes(g)
    consumers = g.consumers()
    for prev in [n for n in g.nodes if n.op_type in ("Conv", "Gemm") and not n.domain]:
        if "activation" in prev.attrs or g.tensor(prev.outputs[0]).dtype != "float32":
            continue
        act = single_consumer(g, prev.outputs[0], consumers)
        if act is None or act.domain or act.op_type not in ACTIVATIONS or act.inputs[0] != prev.outputs[0]:
            continue
        params = _activation_params(g, act)
        if params is None:
            continue
        prev.attrs.update(activation=act.op_type, activation_alpha=params[0], activation_beta=params[1])
        _takes_over(g, prev, act)
    return drop_unreferenced(g)
