"""QDQ to integer ops: the quantized models ONNX Runtime's quantize_static
(and TensorRT-style tools) write spell each int8 layer as

    DequantizeLinear(x_q) -> Conv / MatMul (weights DequantizeLinear(W_q),
    bias DequantizeLinear(B_int32)) [-> Relu] -> QuantizeLinear

which, run as written, is a float32 layer between two conversions. This
pass makes each such layer one QLinearConv / QLinearMatMul on the integer
data, as ONNX Runtime itself does when it loads the model, so the int8
kernels run it. It must run before constant folding (which would turn the
weights' DequantizeLinear into float32 weights). A Relu folds in only when
the QuantizeLinear's zero point is its type's minimum (then it clamps
negatives to the zero point anyway). The integer op rounds the exact
product once, where the float path rounds twice, so results can differ by
one quantization step, as ONNX Runtime's do."""
from __future__ import annotations

import numpy as np

from ..graph import Graph, Node, fresh_name
from ..shapes import infer_shapes
from ._util import constant, drop_unreferenced, single_consumer

Q_TYPES = (np.uint8, np.int8)
CONV_ATTRS = ("auto_pad", "dilations", "group", "kernel_shape", "pads", "strides")


def _dq(producers: dict, name: str) -> Node | None:
    n = producers.get(name)
    if n is None or n.domain or n.op_type != "DequantizeLinear" or n.attr("block_size", 0):
        return None
    return n


def _params(g: Graph, dq: Node):
    """(data name, scale, zero point name or "") of a DequantizeLinear whose
    scale is a float32 constant and zero point (if any) a constant."""
    scale = constant(g, dq.inputs[1])
    zname = dq.inputs[2] if len(dq.inputs) > 2 else ""
    if scale is None or scale.dtype != np.float32 or (zname and constant(g, zname) is None):
        return None
    return dq.inputs[0], scale, zname


def _per_tensor(v) -> bool:
    return v is not None and v.size == 1


def _zero_point(g: Graph, zname: str, dtype) -> str:
    """`zname`, or a new constant 0 of `dtype` (QLinear* need every zero point)."""
    if zname:
        return zname
    name = fresh_name(set(g.tensors), "qdq_zero")
    g.add_constant(name, np.zeros((), dtype))
    return name


def _fuse_one(g: Graph, node: Node, producers: dict, consumers: dict) -> bool:
    x_dq, w_dq = _dq(producers, node.inputs[0]), _dq(producers, node.inputs[1])
    if x_dq is None or w_dq is None:
        return False
    xp, wp = _params(g, x_dq), _params(g, w_dq)
    if xp is None or wp is None:
        return False
    (x_q, xs, xz), (w_name, ws, wz) = xp, wp
    xt, w = g.tensors.get(x_q), constant(g, w_name)
    if xt is None or xt.dtype not in ("uint8", "int8") or w is None or w.dtype.type not in Q_TYPES:
        return False
    if not _per_tensor(xs) or (xz and not _per_tensor(constant(g, xz))):
        return False
    conv = node.op_type == "Conv"
    axis = 0 if conv else 1  # output channels: Conv's W [M, C, k...], MatMul's B [K, N] columns
    if conv and w.ndim < 3 or not conv and w.ndim != 2:
        return False
    if not _per_tensor(ws):
        if ws.ndim != 1 or ws.size != w.shape[axis] or w_dq.attr("axis", 1) % w.ndim != axis:
            return False
    # the output: one QuantizeLinear, perhaps after a Relu
    relu, q = None, single_consumer(g, node.outputs[0], consumers)
    if q is not None and not q.domain and q.op_type == "Relu":
        relu, q = q, single_consumer(g, q.outputs[0], consumers)
    if q is None or q.domain or q.op_type != "QuantizeLinear" or q.attr("output_dtype", 0):
        return False
    ys, yz = constant(g, q.inputs[1]), constant(g, q.inputs[2]) if len(q.inputs) > 2 and q.inputs[2] else None
    if not _per_tensor(ys) or ys.dtype != np.float32 or (len(q.inputs) > 2 and q.inputs[2] and not _per_tensor(yz)):
        return False
    if relu is not None and (yz is not None and yz.reshape(()) != np.iinfo(yz.dtype).min):
        return False
    inputs = [x_q, x_dq.inputs[1], _zero_point(g, xz, xt.dtype), w_name, w_dq.inputs[1],
              _zero_point(g, wz, w.dtype), q.inputs[1], _zero_point(g, q.inputs[2] if yz is not None else "", np.uint8)]
    if conv and len(node.inputs) > 2 and node.inputs[2]:
        b_dq = _dq(producers, node.inputs[2])
        bp = _params(g, b_dq) if b_dq is not None else None
        b = constant(g, bp[0]) if bp else None
        if b is None or b.dtype != np.int32 or (bp[2] and np.any(constant(g, bp[2]))):
            return False
        want = (xs.reshape(()) * ws).astype(np.float32).reshape(-1)  # ORT writes the bias at x_scale * w_scale
        have = np.broadcast_to(bp[1].reshape(-1), want.shape)
        if not np.allclose(have, want, rtol=1e-6, atol=0):
            return False
        inputs.append(bp[0])
    fused = Node("QLinearConv" if conv else "QLinearMatMul", inputs, [q.outputs[0]], name=node.name,
                 attrs={k: v for k, v in node.attrs.items() if k in CONV_ATTRS} if conv else {})
    at = g.nodes.index(node)
    for n in (node, relu, q):
        if n is not None:
            g.nodes.remove(n)
    g.nodes.insert(at, fused)
    return True


def fuse_qdq(graph: Graph) -> Graph:
    """DequantizeLinear -> Conv/MatMul [-> Relu] -> QuantizeLinear as one
    QLinearConv/QLinearMatMul (see the module docstring). Layers that do not
    fit the pattern exactly stay as they are."""
    g = graph.copy()
    infer_shapes(g)  # the quantized activations' dtypes
    changed = False
    for node in [n for n in g.nodes if not n.domain and n.op_type in ("Conv", "MatMul")]:
        changed |= _fuse_one(g, node, g.producers(), g.consumers())
    if not changed:
        return g
    used = {i for n in g.nodes for i in n.inputs if i} | set(g.outputs)
    g.nodes = [n for n in g.nodes if n.op_type != "DequantizeLinear" or any(o in used for o in n.outputs)]
    return drop_unreferenced(g)
