"""The graph rewrite: which nodes become integer ops, and how.

Static mode (activation ranges from calibration):
  Conv(x, W[, B]) with constant W, B and no fused activation, a fused Relu or
  a fused Clip(lo, hi) with lo <= 0 <= hi ->
      QLinearConv(x_q, x_scale, x_zp, W_q int8, w_scale, w_zp, y_scale, y_zp[, B int32])
  whose uint8 output saturates where the dropped activation clipped (the
  output range starts at exactly 0 for Relu, at lo for Clip).
  MatMul(x, W) / Gemm(x, W, C) with constant W (and C) ->
      MatMulInteger(x_q, W_q int8, x_zp, w_zp) -> Cast(float) -> Mul(x_scale * w_scale)
      [-> Add(bias)] [-> the fused activation as its own node]
  with a float output.
Dynamic mode: only the MatMul/Gemm rewrite, with x quantized per run by
  DynamicQuantizeLinear and the scale Mul(x_scale, w_scale) computed per run.

Each float tensor a rewritten node reads gets one QuantizeLinear (or
DynamicQuantizeLinear) shared by all its readers; a QLinearConv output that a
float op or the graph's outputs read gets one DequantizeLinear that writes the
original name, so graph inputs and outputs keep their names and dtypes.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import dtypes as _dt
from ..ir import Graph, Node, Tensor
from ..ir.graph import fresh_name
from . import scheme

if TYPE_CHECKING:
    from .report import Report

# ONNX since_versions of the ops the rewrite emits; a node takes the newest
# version at or below the graph's opset.
OP_VERSIONS = {
    "QuantizeLinear": (10, 13, 19, 21, 23, 24, 25), "DequantizeLinear": (10, 13, 19, 21, 23, 24, 25),
    "DynamicQuantizeLinear": (11,), "QLinearConv": (10,), "MatMulInteger": (10,),
    "Cast": (1, 6, 9, 13, 19, 21, 23, 24, 25), "Mul": (1, 6, 7, 13, 14), "Add": (1, 6, 7, 13, 14),
    "Relu": (1, 6, 13, 14), "Clip": (1, 6, 11, 12, 13), "Sigmoid": (1, 6, 13), "Tanh": (1, 6, 13),
    "LeakyRelu": (1, 6, 16), "HardSigmoid": (1, 6, 22), "HardSwish": (14, 22),
}
MIN_OPSET = 11  # DynamicQuantizeLinear; Clip's bounds as inputs
GEMM_ACTIVATIONS = ("Relu", "Clip", "Sigmoid", "Tanh", "LeakyRelu", "HardSigmoid", "HardSwish")


def op_version(op: str, opset: int) -> int:
    return max((v for v in OP_VERSIONS[op] if v <= opset), default=0)


def _const(g: Graph, name: str):
    t = g.tensors.get(name) if name else None
    return None if t is None else t.data


def _f32_const(g: Graph, name: str):
    v = _const(g, name)
    return v if v is not None and v.dtype == np.float32 else None


def _float_activation(g: Graph, name: str) -> bool:
    t = g.tensors.get(name)
    return t is not None and t.data is None and t.dtype == "float32"


# ---- which nodes, and why not ---------------------------------------------------
def conv_plan(g: Graph, n: Node) -> str | None:
    """None when Conv `n` can become QLinearConv, else the reason it cannot."""
    w = _f32_const(g, n.inputs[1]) if len(n.inputs) > 1 else None
    if w is None or w.ndim < 3:
        return "weights are not a float32 constant"
    if len(n.inputs) > 2 and n.inputs[2]:
        b = _f32_const(g, n.inputs[2])
        if b is None or b.shape != (w.shape[0],):
            return "bias is not a float32 constant of one value per output channel"
    if not _float_activation(g, n.inputs[0]) or g.tensors[n.outputs[0]].dtype != "float32":
        return "input or output is not a float32 activation"
    act = n.attrs.get("activation")
    if act is None or act == "Relu":
        return None
    if act == "Clip":
        lo, hi = n.attrs.get("activation_alpha", -np.inf), n.attrs.get("activation_beta", np.inf)
        return None if lo <= 0 <= hi else f"fused Clip({lo}, {hi}) does not contain 0"
    return f"fused {act} is not a saturation"


def matmul_plan(g: Graph, n: Node) -> str | None:
    """None when MatMul/Gemm `n` can become MatMulInteger, else why not."""
    w = _f32_const(g, n.inputs[1]) if len(n.inputs) > 1 else None
    if w is None or w.ndim != 2:
        return "the second operand is not a 2-D float32 constant"
    x = n.inputs[0]
    if not _float_activation(g, x) or g.tensors[n.outputs[0]].dtype != "float32":
        return "input or output is not a float32 activation"
    rank = g.tensors[x].rank
    if rank is not None and rank < 2:
        return "the first operand is 1-D"
    if n.op_type == "Gemm":
        if n.attrs.get("transA", 0):
            return "transA=1"
        c = n.inputs[2] if len(n.inputs) > 2 else ""
        if c and _f32_const(g, c) is None and (g.tensors[c].dtype != "float32" or n.attrs.get("beta", 1.0) != 1.0):
            return "C is neither a float32 constant nor a float32 tensor with beta=1"
        act = n.attrs.get("activation")
        if act is not None and act not in GEMM_ACTIVATIONS:
            return f"unknown fused activation {act}"
    return None


def plan(g: Graph, mode: str, exclude) -> tuple[dict[int, str], list[tuple[str, str, str]]]:
    """({node index: "conv" | "matmul"}, kept nodes as (name, op, reason))."""
    chosen, kept = {}, []
    for i, n in enumerate(g.nodes):
        if n.domain or n.op_type not in ("Conv", "MatMul", "Gemm"):
            continue
        if n.name and n.name in exclude:
            kept.append((n.name, n.op_type, "excluded"))
            continue
        if n.op_type == "Conv":
            why = conv_plan(g, n) if mode == "static" else "dynamic mode quantizes MatMul and Gemm only"
            kind = "conv"
        else:
            why, kind = matmul_plan(g, n), "matmul"
        if why is None:
            chosen[i] = kind
        else:
            kept.append((n.name, n.op_type, why))
    return chosen, kept


def observed_tensors(g: Graph, chosen: dict[int, str]) -> list[str]:
    """The float tensors whose ranges static mode needs: each rewritten node's
    input, and each QLinearConv's output."""
    names: list[str] = []
    for i, kind in chosen.items():
        n = g.nodes[i]
        for name in ([n.inputs[0], n.outputs[0]] if kind == "conv" else [n.inputs[0]]):
            if name not in names:
                names.append(name)
    return names


# Ops that only select or move elements: exact on quantized data.
PASSTHROUGH = ("MaxPool", "Flatten", "Reshape")


def _passthrough(g: Graph, chosen: dict[int, str]) -> set[int]:
    """Indices of PASSTHROUGH nodes whose input is a QLinearConv's output (or
    another such node's): they run on the uint8 tensor, with no
    DequantizeLinear/QuantizeLinear pair around them."""
    quantized = {g.nodes[i].outputs[0] for i, kind in chosen.items() if kind == "conv"}
    out = set()
    for i, n in enumerate(g.nodes):
        if i in chosen or n.op_type not in PASSTHROUGH or not n.inputs or n.inputs[0] not in quantized:
            continue
        if n.op_type == "MaxPool" and ((len(n.outputs) > 1 and n.outputs[1]) or g.opset < 12):
            continue  # Indices are float-only; uint8 MaxPool is ONNX opset 12
        out.add(i)
        quantized.add(n.outputs[0])
    return out


# ---- the rewrite ----------------------------------------------------------------
def layer_name(n: Node) -> str:
    """How reports and budgets name a rewritten node: its name, else its output's."""
    return n.name or n.outputs[0]


def rewrite(g: Graph, mode: str, chosen: dict[int, str], ranges: dict, per_channel: bool, report: Report,
            expose=()) -> Graph:
    """The int8 graph: `chosen` nodes of `g` rewritten, unused tensors dropped,
    validated. Tensors named in `expose` stay readable as float (a QLinearConv
    output gets its DequantizeLinear) without changing any value."""
    from ..ir.passes._util import drop_unreferenced
    out = drop_unreferenced(Rewriter(g, mode, chosen, ranges, per_channel, report, expose).run())
    out.validate()
    return out


class Rewriter:
    def __init__(self, g: Graph, mode: str, chosen: dict[int, str], ranges: dict, per_channel: bool,
                 report: Report, expose=()):
        self.src, self.mode, self.chosen, self.ranges = g, mode, chosen, ranges
        self.per_channel, self.report = per_channel, report
        self.g = g.copy()
        self.g.nodes = []
        self.taken = set(g.tensors)
        self.q: dict[str, tuple[str, str, str, scheme.ActParams | None]] = {}
        self.passthrough = _passthrough(g, chosen)
        # tensors some op reads as float (graph outputs, unrewritten readers, non-x slots)
        self.float_uses = set(g.outputs) | set(expose)
        for i, n in enumerate(g.nodes):
            for slot, name in enumerate(n.inputs):
                if name and not ((i in chosen or i in self.passthrough) and slot == 0):
                    self.float_uses.add(name)

    # naming and emitting
    def fresh(self, base: str) -> str:
        return fresh_name(self.taken, base)

    def const(self, base: str, value) -> str:
        name = self.fresh(base)
        self.g.add_constant(name, np.array(value, order="C"))  # 0-d stays 0-d
        return name

    def tensor(self, base: str, dtype: str, shape) -> str:
        name = self.fresh(base)
        self.g.add_tensor(Tensor(name, dtype, shape))
        return name

    def emit(self, op: str, inputs, outputs, name: str = "", **attrs) -> Node:
        node = Node(op, list(inputs), list(outputs), attrs, name, "", op_version(op, self.g.opset))
        self.g.nodes.append(node)
        return node

    def shape(self, name: str):
        return self.src.tensors[name].shape

    # quantized activations
    def quantized(self, x: str) -> tuple[str, str, str, scheme.ActParams | None]:
        """(x_q, x_scale, x_zp, params) for float tensor x: what a QLinearConv
        made of it, else a new QuantizeLinear (static) or DynamicQuantizeLinear."""
        if x in self.q:
            return self.q[x]
        if self.mode == "static":
            p = scheme.activation_params(*self.ranges[x])
            s = self.const(f"{x}_scale", np.asarray(p.scale, np.float32))
            z = self.const(f"{x}_zero_point", np.asarray(p.zero_point, np.uint8))
            xq = self.tensor(f"{x}_quantized", "uint8", self.shape(x))
            self.emit("QuantizeLinear", [x, s, z], [xq], self.fresh(f"{x}/QuantizeLinear"))
            self.report.inserted["QuantizeLinear"] += 1
        else:
            p = None
            xq = self.tensor(f"{x}_quantized", "uint8", self.shape(x))
            s = self.tensor(f"{x}_scale", "float32", ())
            z = self.tensor(f"{x}_zero_point", "uint8", ())
            self.emit("DynamicQuantizeLinear", [x], [xq, s, z], self.fresh(f"{x}/DynamicQuantizeLinear"))
            self.report.inserted["DynamicQuantizeLinear"] += 1
        self.q[x] = (xq, s, z, p)
        return self.q[x]

    def weights(self, base: str, w: np.ndarray, axis: int) -> tuple[str, np.ndarray, str]:
        """(W_q name, w_scale values, w_zp name): int8 symmetric, per channel
        along `axis` or per tensor."""
        wq, ws = scheme.quantize_weights(w, axis if self.per_channel else None)
        zp = np.zeros(ws.shape, np.int8)
        return self.const(f"{base}_quantized", wq), ws, self.const(f"{base}_zero_point", zp)

    def run(self) -> Graph:
        for i, n in enumerate(self.src.nodes):
            kind = self.chosen.get(i)
            if kind == "conv":
                self.conv(n)
            elif kind == "matmul":
                self.matmul(n)
            elif i in self.passthrough:
                self.on_quantized(n)
            else:
                self.g.nodes.append(n)
        return self.g

    def on_quantized(self, n: Node) -> None:
        """MaxPool, Flatten or Reshape run on the uint8 tensor itself: they only
        select or move elements, so the output keeps the input's scale and zero
        point, and equals quantizing the float op's output exactly."""
        x, y = n.inputs[0], n.outputs[0]
        xq, xs, xz, xp = self.q[x]
        yq = self.tensor(f"{y}_quantized", "uint8", self.shape(y))
        self.g.nodes.append(Node(n.op_type, [xq] + list(n.inputs[1:]), [yq] + list(n.outputs[1:]), dict(n.attrs),
                                 n.name, n.domain, n.version))
        self.q[y] = (yq, xs, xz, xp)
        if y in self.float_uses:
            self.emit("DequantizeLinear", [yq, xs, xz], [y], self.fresh(f"{y}/DequantizeLinear"))
            self.report.inserted["DequantizeLinear"] += 1

    def conv_output_range(self, n: Node) -> tuple[float, float]:
        lo, hi = self.ranges[n.outputs[0]]
        act = n.attrs.get("activation")
        if act == "Relu":
            return 0.0, max(hi, 0.0)
        if act == "Clip":
            a, b = n.attrs.get("activation_alpha", -np.inf), n.attrs.get("activation_beta", np.inf)
            return (a if np.isfinite(a) else lo), min(hi, b)
        return lo, hi

    def conv(self, n: Node) -> None:
        x, y = n.inputs[0], n.outputs[0]
        xq, xs, xz, xp = self.quantized(x)
        w = self.src.tensors[n.inputs[1]].data
        wq, ws, wz = self.weights(n.inputs[1], w, 0)
        yp = scheme.activation_params(*self.conv_output_range(n))
        ys = self.const(f"{y}_scale", np.asarray(yp.scale, np.float32))
        yz = self.const(f"{y}_zero_point", np.asarray(yp.zero_point, np.uint8))
        inputs = [xq, xs, xz, wq, self.const(f"{n.inputs[1]}_scale", ws), wz, ys, yz]
        if len(n.inputs) > 2 and n.inputs[2]:
            b = self.src.tensors[n.inputs[2]].data
            inputs.append(self.const(f"{n.inputs[2]}_quantized", scheme.quantize_bias(b, xp.scale, ws)))
        attrs = {k: v for k, v in n.attrs.items() if not k.startswith("activation")}
        yq = self.tensor(f"{y}_quantized", "uint8", self.shape(y))
        self.emit("QLinearConv", inputs, [yq], n.name, **attrs)
        self.report.quantized["Conv"] += 1
        self.q[y] = (yq, ys, yz, yp)
        if y in self.float_uses:
            self.emit("DequantizeLinear", [yq, ys, yz], [y], self.fresh(f"{y}/DequantizeLinear"))
            self.report.inserted["DequantizeLinear"] += 1
            self.report.values[layer_name(n)] = y

    def matmul(self, n: Node) -> None:
        x, y = n.inputs[0], n.outputs[0]
        w = self.src.tensors[n.inputs[1]].data
        bias = None  # a constant, or the name of a float tensor to add
        act = None
        if n.op_type == "Gemm":
            if n.attrs.get("transB", 0):
                w = w.T
            w = (w * np.float32(n.attrs.get("alpha", 1.0))).astype(np.float32)
            c = n.inputs[2] if len(n.inputs) > 2 else ""
            if c:
                cv = _f32_const(self.src, c)
                bias = c if cv is None else (cv * np.float32(n.attrs.get("beta", 1.0))).astype(np.float32)
            act = n.attrs.get("activation")
        base = n.name or y
        wq, ws, wz = self.weights(n.inputs[1], w, 1)
        xq, xs, xz, xp = self.quantized(x)
        yshape = self.shape(y)
        acc = self.tensor(f"{y}_int32", "int32", yshape)
        self.emit("MatMulInteger", [xq, wq, xz, wz], [acc], n.name)
        accf = self.tensor(f"{y}_int32_float", "float32", yshape)
        self.emit("Cast", [acc], [accf], self.fresh(f"{base}/Cast"), to=_dt.code("float32"))
        if self.mode == "static":
            scale = self.const(f"{y}_rescale", scheme.bias_scale(xp.scale, ws))
        else:
            wsn = self.const(f"{n.inputs[1]}_scale", ws)
            scale = self.tensor(f"{y}_rescale", "float32", ws.shape)
            self.emit("Mul", [xs, wsn], [scale], self.fresh(f"{base}/scale"))
        steps = ["Mul"] + (["Add"] if bias is not None else []) + ([act] if act else [])
        prev = accf
        for k, op in enumerate(steps):
            out = y if k == len(steps) - 1 else self.tensor(f"{y}_{op.lower()}", "float32", yshape)
            name = self.fresh(f"{base}/{op}")
            if op == "Mul":
                self.emit("Mul", [prev, scale], [out], name)
            elif op == "Add":
                b = bias if isinstance(bias, str) else self.const(f"{y}_bias", bias)
                self.emit("Add", [prev, b], [out], name)
            else:
                self.activation(n, prev, out, name)
            prev = out
        self.report.quantized[n.op_type] += 1
        self.report.values[layer_name(n)] = y

    def activation(self, n: Node, x: str, y: str, name: str) -> None:
        """A Gemm's fused activation as its own node (as the ONNX exporter writes it)."""
        act = n.attrs["activation"]
        alpha, beta = n.attrs.get("activation_alpha"), n.attrs.get("activation_beta")
        inputs, attrs = [x], {}
        if act == "Clip":
            lo = -np.inf if alpha is None else alpha
            hi = np.inf if beta is None else beta
            inputs += [self.const(f"{y}_min", np.asarray(lo, np.float32)),
                       self.const(f"{y}_max", np.asarray(hi, np.float32))]
        elif act == "LeakyRelu":
            attrs = {"alpha": 0.01 if alpha is None else float(alpha)}
        elif act == "HardSigmoid":
            attrs = {"alpha": 0.2 if alpha is None else float(alpha), "beta": 0.5 if beta is None else float(beta)}
        self.emit(act, inputs, [y], name, **attrs)
