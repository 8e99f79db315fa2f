"""Fusion passes: BatchNormalization folded into the Conv or Gemm before it,
MatMul + Add as one Gemm, an activation after Conv or Gemm applied in
that node's epilogue (attributes `activation`, `activation_alpha`,
`activation_beta`, read by libpfw's conv.c and gemm.c; the ONNX exporter
splits them out again), and the spelled-out erf GELU as one Gelu node."""
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


def _channels(g: Graph, node: Node) -> int | None:
    """Output channels of a Conv/Gemm whose weights (and bias) are float32
    constants and that has no fused activation yet, else None. The channel is
    axis 1 of the output: Conv's feature maps, Gemm's columns."""
    if node.domain or node.op_type not in ("Conv", "Gemm") or "activation" in node.attrs:
        return None
    w = constant(g, node.inputs[1])
    bias_name = node.inputs[2] if len(node.inputs) > 2 else ""
    bias = constant(g, bias_name)
    if w is None or w.dtype != np.float32 or (bias_name and (bias is None or bias.dtype != np.float32)):
        return None
    if node.op_type == "Conv":
        return w.shape[0] if w.ndim >= 3 else None
    if w.ndim != 2 or (bias is not None and bias.ndim > 2):
        return None
    return w.shape[0] if node.attr("transB", 0) else w.shape[1]


def _apply_affine(g: Graph, node: Node, scale: np.ndarray, shift: np.ndarray) -> None:
    """Makes `node` compute y * scale + shift per output channel (float64
    vectors): W scaled along its output channels, bias' = bias * scale + shift."""
    w = constant(g, node.inputs[1]).astype(np.float64)
    bias_name = node.inputs[2] if len(node.inputs) > 2 else ""
    bias = np.zeros(scale.shape) if not bias_name else constant(g, bias_name).astype(np.float64)
    if node.op_type == "Conv":
        w = w * scale.reshape((-1,) + (1,) * (w.ndim - 1))
    else:
        w = w * (scale[:, None] if node.attr("transB", 0) else scale[None, :])
        bias = bias * node.attr("beta", 1.0)  # C may be [M, N]: scaled along its columns
        node.attrs["beta"] = 1.0
    node.inputs[1] = _add_const(g, f"{node.inputs[1]}_fused", w.astype(np.float32))
    new_bias = bias * scale + shift
    node.inputs[2:] = [_add_const(g, f"{bias_name or node.outputs[0]}_fused", new_bias.astype(np.float32))]


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
        m = None if prev is None else _channels(g, prev)
        if m is None or len(bn.inputs) != 5 or single_consumer(g, prev.outputs[0], consumers) is not bn:
            continue
        if prev.op_type == "Gemm" and g.tensor(bn.inputs[0]).rank != 2:
            continue
        stats = [constant(g, i) for i in bn.inputs[1:]]
        if any(v is None or v.dtype != np.float32 or v.shape != (m,) for v in stats):
            continue
        scale, shift, mean, var = (v.astype(np.float64) for v in stats)
        s = scale / np.sqrt(var + bn.attr("epsilon", 1e-5))
        _apply_affine(g, prev, s, shift - mean * s)
        _takes_over(g, prev, bn)
    return drop_unreferenced(g)


def _per_channel(value: np.ndarray | None, rank: int | None, m: int) -> np.ndarray | None:
    """`value` as a float64 vector of m channels when, broadcast against an
    output of `rank` dims with channels on axis 1, it varies at most along
    the channel axis (so the result keeps the output's shape)."""
    if value is None or value.dtype != np.float32 or rank is None or value.ndim > rank or rank < 2:
        return None
    shape = (1,) * (rank - value.ndim) + value.shape
    if any(d != 1 for i, d in enumerate(shape) if i != 1) or shape[1] not in (1, m):
        return None
    return np.broadcast_to(value.reshape(-1).astype(np.float64), (m,)).copy()


def fold_scale_shift(graph: Graph) -> Graph:
    """Mul and Add of a per-channel constant after a Conv or Gemm (a
    BatchNormalization some exporters spell out) go into its weights and bias."""
    g = graph.copy()
    infer_shapes(g)
    for node in [n for n in g.nodes if n.op_type in ("Conv", "Gemm")]:
        while (m := _channels(g, node)) is not None:
            nxt = single_consumer(g, node.outputs[0])
            if nxt is None or nxt.domain or nxt.op_type not in ("Mul", "Add") or len(nxt.inputs) != 2:
                break
            other = nxt.inputs[1] if nxt.inputs[0] == node.outputs[0] else nxt.inputs[0]
            v = _per_channel(constant(g, other), g.tensor(node.outputs[0]).rank, m)
            if v is None:
                break
            if nxt.op_type == "Mul":
                _apply_affine(g, node, v, np.zeros(m))
            else:
                _apply_affine(g, node, np.ones(m), v)
            _takes_over(g, node, nxt)
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


def _scalar_is(g: Graph, name: str, value: float) -> bool:
    """Whether `name` is a one-element float constant equal to `value` to
    float32 precision (exporters write sqrt(2) and 1/sqrt(2) rounded)."""
    v = constant(g, name)
    if v is None or v.size != 1 or v.dtype not in (np.float32, np.float64):
        return False
    return abs(float(v.reshape(-1)[0]) - value) <= 1e-6 * abs(value)


def _other(node: Node, name: str) -> str:
    return node.inputs[1] if node.inputs[0] == name else node.inputs[0]


def _binary(node: Node | None, op: str) -> bool:
    return node is not None and node.op_type == op and not node.domain and len(node.inputs) == 2


def _gelu_tail(g: Graph, x: str, add: Node, consumers, producers) -> list[Node] | None:
    """The nodes after `add` (= 1 + erf(x / sqrt 2)) that make 0.5 x add, in
    the three orders exporters write: (x add) 0.5, (x 0.5) add, x (add 0.5);
    the last one writes the result. None when the pattern does not match."""
    m = single_consumer(g, add.outputs[0], consumers)
    if not _binary(m, "Mul"):
        return None
    other = _other(m, add.outputs[0])
    if other == x:  # (x * add) * 0.5
        last = single_consumer(g, m.outputs[0], consumers)
        ok = _binary(last, "Mul") and _scalar_is(g, _other(last, m.outputs[0]), 0.5)
        return [m, last] if ok else None
    if _scalar_is(g, other, 0.5):  # x * (add * 0.5)
        last = single_consumer(g, m.outputs[0], consumers)
        return [m, last] if _binary(last, "Mul") and _other(last, m.outputs[0]) == x else None
    h = producers.get(other)  # (x * 0.5) * add
    if _binary(h, "Mul") and x in h.inputs and _scalar_is(g, _other(h, x), 0.5) and \
            single_consumer(g, h.outputs[0], consumers) is m:
        return [h, m]
    return None


def fuse_gelu(graph: Graph) -> Graph:
    """The erf GELU as exporters spell it, x * 0.5 * (1 + Erf(x / sqrt 2))
    (or Erf(x * (1 / sqrt 2)), and the products in any order), becomes one
    Gelu node (ONNX 20; the exporter expands it again for older opsets)."""
    g = graph.copy()
    infer_shapes(g)
    producers, consumers = g.producers(), g.consumers()
    for erf in [n for n in g.nodes if n.op_type == "Erf" and not n.domain]:
        d = producers.get(erf.inputs[0])
        if _binary(d, "Div") and _scalar_is(g, d.inputs[1], float(np.sqrt(2))):
            x = d.inputs[0]
        elif _binary(d, "Mul") and _scalar_is(g, d.inputs[1], float(np.sqrt(0.5))):
            x = d.inputs[0]
        elif _binary(d, "Mul") and _scalar_is(g, d.inputs[0], float(np.sqrt(0.5))):
            x = d.inputs[1]
        else:
            continue
        t = g.tensors.get(x)
        add = single_consumer(g, erf.outputs[0], consumers)
        if t is None or t.dtype not in ("float32", "float64") or single_consumer(g, d.outputs[0], consumers) is not erf \
                or not _binary(add, "Add") or not _scalar_is(g, _other(add, erf.outputs[0]), 1.0):
            continue
        tail = _gelu_tail(g, x, add, consumers, producers)
        if tail is None:
            continue
        gone = [d, erf, add, *tail]
        gelu = Node("Gelu", [x], [tail[-1].outputs[0]], {}, erf.name, "", 20)
        g.nodes[g.nodes.index(tail[-1])] = gelu
        for n in gone[:-1]:
            g.nodes.remove(n)
            g.tensors.pop(n.outputs[0], None)
    return drop_unreferenced(g)
