"""ONNX ModelProto -> pyfw.ir.Graph.

The importer copies the graph as ONNX states it: graph inputs, outputs,
initializers (as constant tensors), value_info dtypes and shapes, and every
node with its attributes as plain Python values and its op's own version
(ONNX `since_version` for the model's opset), so the runtime applies the
semantics of that version.

What each op needs beyond that copy lives in RULES, one entry per supported
op: most are `_copy`; a few normalise (Softmax makes its version-dependent
default axis explicit), fold (Constant becomes a constant tensor) or rewrite
(Dropout in inference mode becomes Identity). Widening the importer to more
ops means adding entries to that table.
"""
from __future__ import annotations

import os
from typing import Callable

import numpy as np
import onnx
from onnx import AttributeProto, numpy_helper

from .. import InvalidModelError, UnsupportedError, __version__
from .. import dtypes as _dt
from ..ir import Graph, Node, Tensor
from ..ir.graph import fresh_name
from .decompose import DEFAULT_OPSET
from .functions import expand_all, subgraphs, supported, value_names, value_types
from .legacy import MIN_OPSET, upgrade


class _Context:
    """What the rules need to know about the model being imported."""

    def __init__(self, model: onnx.ModelProto, graph: Graph, base_dir: str, g: onnx.GraphProto,
                 outer: "_Context | None" = None):
        self.model = model
        self.graph = graph
        self.opset = graph.opset
        self.base_dir = base_dir
        self.outer = outer
        self.outer_reads: dict[int, list[str]] = {}
        # Names something reads, subgraphs included: a rule may drop an
        # optional output only when nothing does.
        self.used = _read_names(g)
        self._types: dict | None = None
        self._taken: set[str] | None = None

    def unique_prefix(self, base: str) -> str:
        """A prefix for the values of an expanded node: `base` (or base_1...)
        that no value name anywhere in the model equals or starts with as base/."""
        if self.outer is not None:
            return self.outer.unique_prefix(base)
        if self._taken is None:
            self._taken = value_names(self.model.graph)
        k, cand = 0, base
        while cand in self._taken or any(t.startswith(cand + "/") for t in self._taken):
            k += 1
            cand = f"{base}_{k}"
        self._taken.add(cand)
        return cand

    def types(self) -> dict:
        """Value types from ONNX's shape inference of the whole model (once)."""
        if self.outer is not None:
            return self.outer.types()
        if self._types is None:
            self._types = value_types(self.model)
        return self._types

    def version(self, op_type: str, domain: str = "") -> int:
        opset = _opsets(self.model)[domain] if domain else self.opset
        return onnx.defs.get_schema(op_type, opset, domain).since_version

    def constant(self, name: str) -> np.ndarray | None:
        t = self.graph.tensors.get(name)
        return None if t is None else t.data


Rule = Callable[[_Context, Node], "Node | None"]


def _copy(ctx: _Context, node: Node) -> Node:
    return node


# ---- control flow ------------------------------------------------------------
# An ONNX subgraph reads values of the graphs around it by name. pyfw's graphs
# are closed: each value a body reads from outside becomes an input, appended
# after the inputs ONNX defines, and the node passes it explicitly, appended
# after its own inputs in the same order (Loop and Scan say how many in
# num_outer_inputs; If's inputs after the condition are all such). Constants
# are copied into the body instead.

def _lookup(ctx: _Context, name: str) -> Tensor | None:
    while ctx is not None:
        if name in ctx.graph.tensors:
            return ctx.graph.tensors[name]
        ctx = ctx.outer
    return None


def _subgraph(ctx: _Context, g: onnx.GraphProto, where: str) -> Graph:
    """An If branch or a Loop/Scan body as a Graph; the names it reads from
    enclosing graphs are recorded in ctx.outer_reads[id(body)]."""
    _check_supported(g.node, _node_names(g.node), _opsets(ctx.model))
    body = Graph(g.name or "body", ctx.opset)
    _fill(_Context(ctx.model, body, ctx.base_dir, g, ctx), g, body)
    for vi in g.output:
        if not vi.name:
            raise InvalidModelError(f"{where}: graph {body.name!r} has an output with an empty name")
        body.outputs.append(vi.name)
    defined = set(body.inputs) | {t.name for t in body.initializers()} | {o for n in body.nodes for o in n.outputs}
    read = [i for n in body.nodes for i in n.inputs if i] + body.outputs
    outer = []
    for name in dict.fromkeys(x for x in read if x not in defined):
        t = _lookup(ctx, name)
        if t is None:
            raise InvalidModelError(f"{where}: graph {body.name!r} reads {name!r}, which neither it nor an "
                                    "enclosing graph defines")
        body.tensors.pop(name, None)  # value info the body gave for it
        if t.is_constant:
            body.add_tensor(t.clone())
        else:
            # dtype and shape come from the node's input (infer_shapes)
            body.add_input(name, t.dtype, kind=t.kind, optional=t.optional)
            outer.append(name)
    body.toposort()
    ctx.outer_reads[id(body)] = outer
    return body


def _control(ctx: _Context, node: Node) -> Node:
    """If/Loop/Scan: the values the bodies read from outside become explicit
    inputs of the node and of every body, in one order."""
    bodies = [v for v in node.attrs.values() if isinstance(v, Graph)]
    outer = list(dict.fromkeys(n for b in bodies for n in ctx.outer_reads.get(id(b), [])))
    for b in bodies:
        own = [i for i in b.inputs if i not in ctx.outer_reads.get(id(b), [])]
        for name in outer:
            if name not in b.tensors:  # read only by the other branch
                t = _lookup(ctx, name)
                b.add_tensor(Tensor(name, t.dtype, kind=t.kind, optional=t.optional))
        b.inputs = own + outer
    if node.op_type == "If":
        node.inputs = node.inputs[:1] + outer
    else:
        # Loop's optional M and cond keep their places: its inputs are positional.
        node.inputs = node.inputs + outer
        node.attrs["num_outer_inputs"] = len(outer)
    return node


def _optional(ctx: _Context, node: Node) -> Node:
    """Optional's `type` (a TypeProto) becomes plain attributes: elem_kind
    ("tensor" or "sequence") and elem_dtype (an ONNX dtype number)."""
    vt = node.attrs.pop("type", None)
    if vt is not None:
        if vt["optional"]:
            raise _unsupported(ctx, node, "an optional of an optional")
        node.attrs["elem_kind"] = vt["kind"]
        node.attrs["elem_dtype"] = _dt.code(vt["dtype"])
    return node


def _unsupported(ctx: _Context, node: Node, why: str) -> UnsupportedError:
    return UnsupportedError(
        f"{node.describe()}: {why} (op {node.op_type}, domain '{node.domain}', opset {ctx.opset})")


def _softmax(ctx: _Context, node: Node) -> Node:
    # Softmax-1/11 flatten the input to 2-D at `axis` (default 1); Softmax-13
    # normalises along `axis` alone (default -1). The node keeps its version
    # so the runtime picks the right one; writing the default out makes the
    # attribute mean the same thing to every reader.
    node.attrs.setdefault("axis", 1 if node.version < 13 else -1)
    return node


def _constant(ctx: _Context, node: Node) -> None:
    """Folds Constant into a constant tensor named after its output."""
    kinds = {"value", "value_float", "value_floats", "value_int", "value_ints",
             "value_string", "value_strings", "sparse_value"}
    given = [k for k in node.attrs if k in kinds]
    if len(given) != 1:
        raise InvalidModelError(f"{node.describe()}: Constant needs exactly one value attribute, has {given or 'none'}")
    key = given[0]
    value = node.attrs[key]
    if key in ("value_string", "value_strings"):
        arr = np.empty((), dtype=object) if key == "value_string" else np.empty(len(value), dtype=object)
        arr[...] = value if key == "value_string" else list(value)
    elif key == "value":
        arr = value
    elif key in ("value_float", "value_floats"):
        arr = np.asarray(value, dtype=np.float32)
    else:
        arr = np.asarray(value, dtype=np.int64)
    out = node.outputs[0]
    # The constant replaces whatever value_info said about the name.
    ctx.graph.tensors.pop(out, None)
    ctx.graph.add_constant(out, arr)
    return None


def _dropout(ctx: _Context, node: Node) -> Node:
    """Dropout at inference is the identity on its first output, with an
    all-true mask; so is training mode with ratio 0 (ONNX: nothing is dropped).
    Training mode that draws a mask is decompose.py's (_training_dropout)."""
    if len(node.outputs) > 1 and node.outputs[1] in ctx.used:
        mask, shape = node.outputs[1], fresh_name(set(ctx.graph.tensors), f"{node.outputs[1]}/shape")
        ctx.graph.tensors[shape] = Tensor(shape)
        ctx.graph.nodes.append(Node("Shape", node.inputs[:1], [shape], {}, f"{node.name}/mask_shape", "",
                                    ctx.version("Shape")))
        ctx.graph.tensors.setdefault(mask, Tensor(mask))
        ctx.graph.nodes.append(Node("ConstantOfShape", [shape], [mask], {"value": np.ones(1, np.bool_)},
                                    f"{node.name}/mask", "", ctx.version("ConstantOfShape")))
    return Node("Identity", node.inputs[:1], node.outputs[:1], {}, node.name, "",
                ctx.version("Identity"))


def _batchnorm(ctx: _Context, node: Node) -> Node:
    if node.attrs.pop("spatial", 1) != 1:  # BatchNormalization-7 only
        raise _unsupported(ctx, node, "spatial=0 (per-activation statistics)")
    extra = [o for o in node.outputs[1:] if o in ctx.used]
    if extra:
        raise _unsupported(ctx, node, f"training outputs {extra} are used")
    node.outputs = node.outputs[:1]
    return node


def _upsample(ctx: _Context, node: Node) -> Node:
    """Upsample-7/9 is Resize-10 (asymmetric coordinates, floor for nearest):
    scales move from the attribute (Upsample-7) to input 1."""
    mode = node.attrs.get("mode", "nearest")
    if mode not in ("nearest", "linear", "bilinear"):
        raise InvalidModelError(f"{node.describe()}: Upsample mode {mode!r} is not nearest or linear")
    inputs = node.inputs[:2]
    if node.version < 9:
        scales = node.attrs.get("scales")
        if scales is None:
            raise InvalidModelError(f"{node.describe()}: Upsample-7 needs the 'scales' attribute")
        name, k = f"{node.outputs[0]}_scales", 1
        while name in ctx.graph.tensors:
            name, k = f"{node.outputs[0]}_scales_{k}", k + 1
        ctx.graph.add_constant(name, np.asarray(scales, dtype=np.float32))
        inputs = [node.inputs[0], name]
    return Node("Resize", inputs, node.outputs, {"mode": "linear" if mode == "bilinear" else mode},
                node.name, "", 10)


RULES: dict[str, Rule] = {op: _copy for op in (
    "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Relu", "Sigmoid", "Tanh",
    "Reshape", "Flatten", "Transpose", "Concat", "Identity", "Conv", "ConvTranspose", "MaxPool",
    "AveragePool", "GlobalAveragePool",
    "Shape", "Size", "Squeeze", "Unsqueeze", "Cast", "ConstantOfShape", "Range", "Gather",
    "Slice", "Expand", "Tile", "LRN", "CastLike", "GatherElements", "Split",
    "Pad", "CumSum", "CumProd", "Trilu",
)}
RULES.update(If=_control, Loop=_control, Scan=_control, SequenceMap=_control)
RULES.update({op: _copy for op in (
    "SequenceEmpty", "SequenceConstruct", "SequenceInsert", "SequenceErase", "SequenceAt", "SequenceLength",
    "SplitToSequence", "ConcatFromSequence", "OptionalHasElement", "OptionalGetElement")})
RULES.update({op: _copy for op in ("NonZero", "Compress", "Unique", "NonMaxSuppression")})
RULES.update(Optional=_optional)
RULES.update(Softmax=_softmax, Constant=_constant, Dropout=_dropout,
             BatchNormalization=_batchnorm, Upsample=_upsample, Resize=_copy)
# Element-wise math and activations: ONNX's semantics per op version, as is.
RULES.update({op: _copy for op in (
    "Abs", "Neg", "Sign", "Exp", "Log", "Sqrt", "Reciprocal", "Floor", "Ceil", "Round",
    "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh",
    "Erf", "IsNaN", "IsInf", "Not", "LeakyRelu", "Elu", "Selu", "Celu", "HardSigmoid",
    "HardSwish", "ThresholdedRelu", "Mish", "Softplus", "Softsign", "Gelu", "Clip",
)})
# LogSoftmax and Hardmax share Softmax's version-dependent default axis.
RULES.update(LogSoftmax=_softmax, Hardmax=_softmax)
# Broadcasting binary and variadic math, comparisons, logic, Where.
RULES.update({op: _copy for op in (
    "Pow", "Mod", "PRelu", "Max", "Min", "Sum", "Mean", "Equal", "Less", "LessOrEqual",
    "Greater", "GreaterOrEqual", "And", "Or", "Xor", "Where",
)})
# Reductions: axes stay where the op version puts them (attribute, or input
# 1 from ReduceSum-13 / Reduce*-18); the runtime reads either.
RULES.update({op: _copy for op in (
    "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
    "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare", "ArgMax", "ArgMin",
)})
RULES.update({op: _copy for op in (
    "LayerNormalization", "InstanceNormalization", "GroupNormalization", "LpNormalization")})
# Transformer blocks and recurrent layers: ONNX's semantics per op version, as is.
RULES.update({op: _copy for op in ("Attention", "RMSNormalization", "RotaryEmbedding", "RNN", "GRU", "LSTM")})
RULES.update({op: _copy for op in ("NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss")})
RULES.update({op: _copy for op in ("BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor", "BitwiseNot")})
RULES.update({op: _copy for op in ("ScatterElements", "Scatter", "ScatterND", "TensorScatter")})
RULES.update({op: _copy for op in ("QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "QLinearConv",
                                   "QLinearMatMul", "MatMulInteger", "ConvInteger")})
RULES.update({op: _copy for op in ("LpPool", "GlobalMaxPool", "GlobalLpPool", "TopK", "OneHot", "Einsum",
                                   "BitCast", "Swish", "Shrink", "EyeLike", "HannWindow", "HammingWindow",
                                   "BlackmanWindow", "DepthToSpace", "SpaceToDepth", "ReverseSequence",
                                   "CenterCropPad", "GridSample", "AffineGrid", "GatherND", "DFT", "Det", "Col2Im")})
RULES.update({op: _copy for op in ("StringConcat", "StringSplit", "StringNormalizer", "RegexFullMatch")})
RULES["ImageDecoder"] = _copy  # PNG, JPEG, BMP, PNM, TIFF in libpfw (runtime_c/src/image/)
RULES["LabelEncoder"] = _copy  # ai.onnx.ml: a hash table in libpfw (ops/label_encoder.c)
RULES["MaxRoiPool"] = _copy
# Random draws (libpfw's Philox stream; Bernoulli runs as its ONNX function body).
RULES.update({op: _copy for op in ("RandomUniform", "RandomUniformLike", "RandomNormal", "RandomNormalLike",
                                   "Multinomial")})


# ---- values ----------------------------------------------------------------
def _dtype(code: int, what: str) -> str:
    try:
        name = _dt.from_code(code)
    except ValueError:
        name = None
    if name is None:
        onnx_name = onnx.TensorProto.DataType.Name(code) if code in onnx.TensorProto.DataType.values() else str(code)
        raise UnsupportedError(f"{what} has dtype {onnx_name}, which pyfw does not support")
    return name


def _tensor(tp: onnx.TensorProto, base_dir: str, what: str) -> Tensor:
    """A constant Tensor from a TensorProto (raw_data, typed fields or external data)."""
    dtype = _dtype(tp.data_type, f"{what} {tp.name!r}")
    if tp.data_location == onnx.TensorProto.EXTERNAL:
        location = next((e.value for e in tp.external_data if e.key == "location"), "")
        path = os.path.join(base_dir, location)
        if not os.path.isfile(path):
            raise InvalidModelError(f"{what} {tp.name!r}: external data file {path!r} not found "
                                    "(load the model from its directory or pass base_dir)")
    try:
        arr = numpy_helper.to_array(tp, base_dir)
    except (ValueError, TypeError, OSError) as e:
        raise InvalidModelError(f"{what} {tp.name!r}: cannot read its data: {e}") from None
    arr = _dt.to_storage(arr)  # the IR keeps bfloat16, float8, int4... as raw bit patterns
    # Not np.ascontiguousarray: it turns a 0-d scalar into shape (1,).
    return Tensor(tp.name, dtype, arr.shape, arr if arr.flags.c_contiguous else arr.copy(order="C"))


def _value_type(vi: onnx.ValueInfoProto) -> dict | None:
    """Tensor fields (dtype, shape, kind, optional) of a value_info, or None
    when it has no type to use."""
    t, optional, kind = vi.type, False, "tensor"
    if t.WhichOneof("value") == "optional_type":
        t, optional = t.optional_type.elem_type, True
    if t.WhichOneof("value") == "sequence_type":
        t, kind = t.sequence_type.elem_type, "sequence"
    which = t.WhichOneof("value")
    if which is None:
        return None
    if which != "tensor_type":
        raise UnsupportedError(f"value {vi.name!r} has type {which} inside {vi.type.WhichOneof('value')}; pyfw "
                               "supports tensors, sequences of tensors and optionals of either")
    if t.tensor_type.elem_type == onnx.TensorProto.UNDEFINED:
        return None
    dtype = _dtype(t.tensor_type.elem_type, f"value {vi.name!r}")
    shape = None
    if t.tensor_type.HasField("shape"):
        # A symbolic dimension (dim_param) or one that states nothing is dynamic.
        shape = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in t.tensor_type.shape.dim)
    return {"dtype": dtype, "shape": shape, "kind": kind, "optional": optional}


def _read_names(g: onnx.GraphProto) -> set[str]:
    """Every name the nodes of `g` and of its subgraphs read, and its outputs."""
    names = {o.name for o in g.output}
    for n in g.node:
        names.update(i for i in n.input if i)
        for a in n.attribute:
            for sub in subgraphs(a):
                names |= _read_names(sub)
    return names


def _attr(a: AttributeProto, base_dir: str, where: str, ctx: "_Context | None" = None):
    """A plain Python value for an attribute (a subgraph: a Graph, see _subgraph)."""
    T = AttributeProto
    kind = a.type
    if kind == T.UNDEFINED:  # very old models leave `type` unset
        for field, k in (("t", T.TENSOR), ("s", T.STRING), ("f", T.FLOAT), ("i", T.INT),
                         ("floats", T.FLOATS), ("ints", T.INTS), ("strings", T.STRINGS)):
            if (a.HasField(field) if field in ("t", "s", "f", "i") else len(getattr(a, field))):
                kind = k
                break
    if a.ref_attr_name:
        raise UnsupportedError(f"{where}: attribute {a.name!r} refers to a function attribute")
    try:
        if kind == T.INT:
            return int(a.i)
        if kind == T.FLOAT:
            return float(a.f)
        if kind == T.STRING:
            return a.s.decode("utf-8")
        if kind == T.INTS:
            return [int(x) for x in a.ints]
        if kind == T.FLOATS:
            return [float(x) for x in a.floats]
        if kind == T.STRINGS:
            return [s.decode("utf-8") for s in a.strings]
    except UnicodeDecodeError:
        raise InvalidModelError(f"{where}: attribute {a.name!r} is not valid UTF-8") from None
    if kind == T.TENSOR:
        t = _tensor(a.t, base_dir, f"{where}: attribute {a.name!r}, tensor")
        if t.dtype in _dt.RAW_BITS:  # as an ndarray it would read back as its raw bits
            raise UnsupportedError(f"{where}: attribute {a.name!r} is a {t.dtype} tensor, not supported yet")
        return t.data
    if kind == T.TYPE_PROTO:  # Optional's `type`: what an empty optional would hold
        vt = _value_type(onnx.helper.make_value_info(a.name, a.tp))
        if vt is None:
            raise InvalidModelError(f"{where}: attribute {a.name!r} gives no element type")
        return vt
    if kind == T.GRAPH and ctx is not None:
        return _subgraph(ctx, a.g, f"{where}: attribute {a.name!r}")
    kind_name = T.AttributeType.Name(kind) if kind in T.AttributeType.values() else str(kind)
    raise UnsupportedError(f"{where}: attribute {a.name!r} of type {kind_name} is not supported yet")


# ---- the model ---------------------------------------------------------------
def _load(model, base_dir: str | None) -> tuple[onnx.ModelProto, str]:
    if isinstance(model, onnx.ModelProto):
        return model, base_dir or ""
    path = os.fspath(model)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such ONNX file: {path!r}")
    try:
        proto = onnx.load(path, load_external_data=False)
    except Exception as e:  # protobuf's DecodeError and friends share no useful base
        raise InvalidModelError(f"{path!r} is not a valid ONNX model: {e}") from None
    return proto, base_dir if base_dir is not None else os.path.dirname(os.path.abspath(path))


def _opsets(model: onnx.ModelProto) -> dict[str, int]:
    out = {}
    for o in model.opset_import:
        out["" if o.domain == "ai.onnx" else o.domain] = int(o.version)
    return out


def _node_names(nodes) -> list[str]:
    """The ONNX node names, with a unique one like "Conv_3" for each unnamed node."""
    taken = {n.name for n in nodes if n.name}
    names = []
    for i, n in enumerate(nodes):
        name = n.name
        if not name:
            name, k = f"{n.op_type}_{i}", 1
            while name in taken:
                name, k = f"{n.op_type}_{i}_{k}", k + 1
            taken.add(name)
        names.append(name)
    return names


def _check_supported(nodes, names, opsets) -> None:
    """Raises naming the first unsupported node (and the other unsupported op types)."""
    bad = []
    for i, n in enumerate(nodes):
        domain = "" if n.domain == "ai.onnx" else n.domain
        if not supported(n, opsets, RULES.__contains__):
            bad.append((i, n, domain))
    if not bad:
        return
    i, n, domain = bad[0]
    label = f"node {n.name!r}" if n.name else f"node #{i} ({names[i]!r}, unnamed in the model)"
    head = f"{label} (op {n.op_type}, domain '{domain}', opset {opsets.get(domain, '?')})"
    if domain and not domain.startswith("ai.onnx"):
        msg = f"{head} uses custom domain '{domain}', which pyfw does not support"
    else:
        msg = f"{head} is not supported yet"
    others = sorted({f"{m.op_type}" if not d else f"{d}.{m.op_type}" for _, m, d in bad[1:]}
                    - {n.op_type if not domain else f"{domain}.{n.op_type}"})
    if others:
        msg += f"; also unsupported: {', '.join(others)}"
    raise UnsupportedError(msg)


def _with_default_opset(proto: onnx.ModelProto) -> onnx.ModelProto:
    out = onnx.ModelProto()
    out.CopyFrom(proto)
    out.opset_import.add(domain="", version=DEFAULT_OPSET)
    return out


def _fill(ctx: _Context, g: onnx.GraphProto, graph: Graph) -> None:
    """Copies g's initializers, inputs, value info and nodes into `graph`."""
    base_dir = ctx.base_dir
    names = _node_names(g.node)
    if g.sparse_initializer:
        raise UnsupportedError(f"sparse initializer {g.sparse_initializer[0].values.name!r} is not supported yet")
    for tp in g.initializer:
        graph.add_tensor(_tensor(tp, base_dir, "initializer"))
    # Models from IR version < 4 also list their initializers as inputs; they
    # stay constants here.
    for vi in g.input:
        if vi.name in graph.tensors:
            continue
        vt = _value_type(vi)
        if vt is None and ctx.outer is None:
            raise InvalidModelError(f"graph input {vi.name!r} has no tensor type")
        # A body's input may leave its type to the node that feeds it (infer_shapes).
        graph.add_input(vi.name, **(vt or {}))
    for vi in list(g.value_info) + list(g.output):
        if vi.name in graph.tensors:
            continue
        vt = _value_type(vi)
        if vt is not None:
            graph.tensors[vi.name] = Tensor(vi.name, **vt)

    # An op without a kernel that ONNX defines by other ops becomes those ops.
    nodes = expand_all(zip(g.node, names), _opsets(ctx.model), ctx.types, ctx.unique_prefix, RULES.__contains__,
                       lambda v: t.data if (t := _lookup(ctx, v)) is not None else None)
    ctx.used.update(i for n, _ in nodes for i in n.input)  # what the bodies read, the rules may not drop
    for n, name in nodes:
        where = f"node {name!r} ({n.op_type})"
        attrs = {a.name: _attr(a, base_dir, where, ctx) for a in n.attribute}
        domain = "" if n.domain == "ai.onnx" else n.domain  # another only for a kernel of decompose.KERNELS
        try:
            version = ctx.version(n.op_type, domain)
        except onnx.defs.SchemaError:
            raise InvalidModelError(f"{where}: op {n.op_type} does not exist in ONNX opset {ctx.opset}") from None
        node = Node(n.op_type, list(n.input), list(n.output), attrs, name, domain, version)
        node = RULES[n.op_type](ctx, node)
        if node is not None:
            # Not graph.add_node(**attrs): an ONNX attribute may be called "name".
            graph.nodes.append(node)
            for o in node.outputs:
                if o and o not in graph.tensors:
                    graph.tensors[o] = Tensor(o)



def import_model(model: onnx.ModelProto | str | os.PathLike, base_dir: str | None = None) -> Graph:
    """Imports an ONNX model (a ModelProto or a path) into a pyfw.ir.Graph.

    `base_dir` is where external tensor data lives; it defaults to the model
    file's directory (or the current directory for a ModelProto)."""
    proto, base_dir = _load(model, base_dir)
    opsets = _opsets(proto)
    if "" not in opsets:
        # A model of another domain only (ai.onnx.ml, training): its ops run as
        # standard ops (decompose.py) read at one opset; or say which op pyfw lacks.
        _check_supported(proto.graph.node, _node_names(proto.graph.node), opsets)
        if any(n.domain in ("", "ai.onnx") for n in proto.graph.node):
            raise InvalidModelError("the model has no opset_import for the default ONNX domain")
        proto = _with_default_opset(proto)
        opsets = _opsets(proto)
    opset = opsets[""]
    if opset < MIN_OPSET:
        proto, opset = upgrade(proto, opset), MIN_OPSET  # legacy.py
        opsets = _opsets(proto)
    g = proto.graph
    _check_supported(g.node, _node_names(g.node), opsets)

    graph = Graph(g.name or "main", opset)
    producer = " ".join(p for p in (proto.producer_name, proto.producer_version) if p)
    graph.metadata["producer"] = f"pyfw {__version__} from {producer or 'unknown producer'} (ONNX opset {opset})"
    for kv in proto.metadata_props:
        graph.metadata[f"onnx:{kv.key}"] = kv.value
    ctx = _Context(proto, graph, base_dir, g)

    _fill(ctx, g, graph)
    for vi in g.output:
        if not vi.name:
            raise InvalidModelError("the model has a graph output with an empty name")
        graph.outputs.append(vi.name)
    graph.toposort()  # ONNX requires topological order, but not every producer obeys
    graph.validate()
    return graph
