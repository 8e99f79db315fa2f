"""pyfw.ir.Graph -> ONNX ModelProto.

The IR already has ONNX's semantics, so export is mostly a copy: constants
become initializers, inputs and outputs value infos, nodes keep their
attributes (typed by the op's ONNX schema). Two things are undone: a Conv or
Gemm carrying a fused activation (pyfw.ir.passes.fuse_activations) is split
back into the node and the standard activation op, and bfloat16, float8,
float4 and 4-/2-bit integer constants, which the IR keeps as raw bit patterns
(one element per byte below 16 bits), are written as ONNX stores them (4- and
2-bit values packed).

`export(module, example_inputs, path)` traces a pyfw.nn module and writes ONNX.
"""
from __future__ import annotations

import os

import numpy as np
import onnx
from onnx import AttributeProto, helper, numpy_helper

from .. import InvalidModelError, UnsupportedError, __version__
from .. import dtypes as _dt
from ..ir import Graph, Node, Tensor
from ..ir.graph import OTHER_DOMAIN_OPS, fresh_name

# The newest IR version ONNX Runtime 1.x reads; models are written no newer.
MAX_IR_VERSION = 10
MAX_PROTO_BYTES = (1 << 31) - 1  # protobuf's limit; larger models need external data


def _elem_type(t: Tensor) -> int:
    return _dt.code(t.dtype)


def _initializer(t: Tensor) -> onnx.TensorProto:
    if t.quant is not None:
        raise UnsupportedError(f"tensor {t.name!r} carries quantization parameters, which ONNX keeps "
                               "in QuantizeLinear/DequantizeLinear nodes; exporting them is not supported yet")
    if t.dtype in _dt.RAW_BITS:  # raw bit patterns in the IR; ONNX packs int4/int2/float4 itself
        bits = np.ascontiguousarray(t.data, dtype=_dt.storage(t.dtype))
        return numpy_helper.from_array(bits.view(_dt.to_numpy(t.dtype)), t.name)
    return numpy_helper.from_array(np.asarray(t.data, dtype=_dt.to_numpy(t.dtype)), t.name)


def _type_proto(dtype: str, shape, kind: str, optional: bool) -> onnx.TypeProto:
    dims = None if shape is None else [d if d >= 0 else None for d in shape]
    tp = helper.make_tensor_type_proto(_dt.code(dtype), dims)
    if kind == "sequence":
        tp = helper.make_sequence_type_proto(tp)
    return helper.make_optional_type_proto(tp) if optional else tp


def _value_info(t: Tensor) -> onnx.ValueInfoProto:
    return helper.make_value_info(t.name, _type_proto(t.dtype, t.shape, t.kind, t.optional))


def _schema(op: str, opset: int, where: str):
    try:
        return onnx.defs.get_schema(op, opset, "")
    except onnx.defs.SchemaError:
        raise UnsupportedError(f"{where}: op {op} does not exist in ONNX opset {opset}") from None


def _attribute(name: str, value, schema, where: str) -> AttributeProto:
    declared = schema.attributes.get(name)
    kind = declared.type if declared is not None else None
    T = AttributeProto
    if isinstance(value, onnx.GraphProto):
        return helper.make_attribute(name, value)
    if isinstance(value, np.ndarray):
        return helper.make_attribute(name, numpy_helper.from_array(value))
    if kind == T.FLOAT:
        value = float(value)
    elif kind == T.FLOATS:
        value = [float(v) for v in value]
    elif kind is None and isinstance(value, (list, tuple)) and not value:
        raise InvalidModelError(f"{where}: attribute {name!r} is an empty list the op's schema does not type")
    try:
        return helper.make_attribute(name, value, attr_type=kind)
    except (TypeError, ValueError) as e:
        raise InvalidModelError(f"{where}: attribute {name!r} = {value!r} cannot be written to ONNX: {e}") from None


class _Exporter:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.opset = graph.opset
        self.nodes: list[onnx.NodeProto] = []
        self.extra_inits: list[onnx.TensorProto] = []
        self.taken = set(graph.tensors)

    def fresh(self, base: str) -> str:
        return fresh_name(self.taken, base)

    def node(self, n: Node) -> None:
        where = n.describe()
        if n.domain not in ("", "ai.onnx") and (n.domain, n.op_type) not in OTHER_DOMAIN_OPS:
            raise UnsupportedError(f"{where}: domain {n.domain!r} cannot be exported to standard ONNX")
        if n.op_type == "Gelu" and self.opset < 20:
            return self.gelu(n)
        if n.op_type == "Resize" and self.opset < 10:
            return self.upsample(n)
        attrs = dict(n.attrs)
        inputs = list(n.inputs)
        if n.op_type in ("If", "Loop", "Scan", "SequenceMap"):
            inputs, attrs = _control(n, attrs)
        if n.op_type == "Optional" and "elem_kind" in attrs:  # back to ONNX's TypeProto attribute
            kind, code = attrs.pop("elem_kind"), attrs.pop("elem_dtype", 1)
            attrs["type"] = _type_proto(_dt.from_code(code), None, kind, False)
        act = attrs.pop("activation", None)
        alpha, beta = attrs.pop("activation_alpha", None), attrs.pop("activation_beta", None)
        schema = (_schema(n.op_type, self.opset, where) if n.domain in ("", "ai.onnx")
                  else onnx.defs.get_schema(n.op_type, n.version, n.domain))  # exported at its own version
        if n.version and n.version != schema.since_version:
            raise InvalidModelError(f"{where}: has {n.op_type} version {n.version} but ONNX opset {self.opset} "
                                    f"means version {schema.since_version}")
        outputs = list(n.outputs)
        if act is not None:
            pre = self.fresh(f"{outputs[0]}_before_{act.lower()}")
            final, outputs[0] = outputs[0], pre
        self.nodes.append(self._make(n.op_type, inputs, outputs, n.name, attrs, schema, where))
        if n.domain not in ("", "ai.onnx"):
            self.nodes[-1].domain = n.domain
        if act is not None:
            self.activation(n, act, alpha, beta, pre, final)

    def upsample(self, n: Node) -> None:
        """Resize-10 (what the importer makes of Upsample) is Upsample before opset 10:
        scales as input 1 from Upsample-9, as an attribute (a constant) before."""
        where = n.describe()
        mode = n.attrs.get("mode", "nearest")
        attrs, inputs = {"mode": mode}, list(n.inputs[:2])
        if self.opset < 9:
            scales = self.graph.tensors.get(inputs[1]) if len(inputs) > 1 else None
            if scales is None or scales.data is None:
                raise UnsupportedError(f"{where}: Upsample before opset 9 needs constant scales")
            attrs["scales"] = [float(v) for v in np.asarray(scales.data).ravel()]
            inputs = inputs[:1]
        schema = _schema("Upsample", self.opset, where)
        self.nodes.append(self._make("Upsample", inputs, list(n.outputs), n.name, attrs, schema, where))

    def gelu(self, n: Node) -> None:
        """Gelu (ONNX 20) in ops every opset has: 0.5 x (1 + erf(x / sqrt 2)), or with
        approximate='tanh' 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
        where, x, y = n.describe(), n.inputs[0], n.outputs[0]
        dtype = self.graph.tensors[x].dtype if x in self.graph.tensors else "float32"
        approx = n.attrs.get("approximate", "none")
        if approx not in ("none", "tanh"):
            raise InvalidModelError(f"{where}: attribute 'approximate' is {approx!r}; expected 'none' or 'tanh'")

        def const(v, what):
            name = self.fresh(f"{x}_gelu_{what}")
            self.extra_inits.append(numpy_helper.from_array(np.asarray(v, _dt.to_numpy(dtype)), name))
            return name

        def op(kind, *ins):
            out = self.fresh(f"{y}_gelu_{kind.lower()}")
            name = f"{n.name}/{out}" if n.name else ""  # tensor names are unique, so these are
            self.nodes.append(self._make(kind, list(ins), [out], name, {}, _schema(kind, self.opset, where), where))
            return out

        if approx == "none":
            inner = op("Erf", op("Div", x, const(np.sqrt(2.0), "sqrt2")))
        else:
            cube = op("Mul", op("Mul", x, x), x)
            poly = op("Add", x, op("Mul", cube, const(0.044715, "k")))
            inner = op("Tanh", op("Mul", poly, const(np.sqrt(2 / np.pi), "sqrt2_over_pi")))
        half_x = op("Mul", x, const(0.5, "half"))
        self.nodes.append(self._make("Mul", [half_x, op("Add", inner, const(1.0, "one"))], [y], n.name or None, {},
                                     _schema("Mul", self.opset, where), where))

    @staticmethod
    def _make(op, inputs, outputs, name, attrs, schema, where) -> onnx.NodeProto:
        proto = helper.make_node(op, inputs, outputs, name=name or None)
        proto.attribute.extend(_attribute(k, v, schema, where) for k, v in attrs.items())
        return proto

    def activation(self, n: Node, act: str, alpha, beta, x: str, y: str) -> None:
        """The standard op for a fused activation (see pyfw.ir.passes.fuse)."""
        where = f"{n.describe()} (fused activation {act!r})"
        name = f"{n.name}/{act}" if n.name else ""
        inputs, attrs = [x], {}
        if act == "LeakyRelu":
            attrs = {"alpha": 0.01 if alpha is None else alpha}
        elif act == "HardSigmoid":
            attrs = {"alpha": 0.2 if alpha is None else alpha, "beta": 0.5 if beta is None else beta}
        elif act == "Clip":
            lo = -np.inf if alpha is None else alpha
            hi = np.inf if beta is None else beta
            if self.opset < 11:
                attrs = {"min": lo, "max": hi}
            else:
                for v, what in ((lo, "min"), (hi, "max")):
                    cname = self.fresh(f"{x}_{what}")
                    self.extra_inits.append(numpy_helper.from_array(np.asarray(v, np.float32), cname))
                    inputs.append(cname)
        elif act not in ("Relu", "Sigmoid", "Tanh", "HardSwish"):
            raise InvalidModelError(f"{where}: unknown fused activation")
        schema = _schema(act, self.opset, where)
        self.nodes.append(self._make(act, inputs, [y], name, attrs, schema, where))


def _graph_proto(graph: Graph, inputs: list[str]) -> onnx.GraphProto:
    ex = _Exporter(graph)
    for n in graph.nodes:
        ex.node(n)
    inits = [_initializer(t) for t in graph.initializers()]
    ins = [_value_info(graph.tensors[i]) for i in inputs]
    outs = [_value_info(graph.tensors[o]) for o in graph.outputs]
    return helper.make_graph(ex.nodes, graph.name or "main", ins, outs, inits + ex.extra_inits)


def _control(n: Node, attrs: dict) -> tuple[list[str], dict]:
    """If/Loop/Scan pass the values their bodies read from outside as
    trailing inputs (pyfw.onnx.importer); in ONNX the bodies read them by
    name. Returns the node's ONNX inputs and attributes (bodies as GraphProtos)."""
    count = len(n.inputs) - 1 if n.op_type == "If" else attrs.pop("num_outer_inputs", 0)
    keep = len(n.inputs) - count
    outer = n.inputs[keep:]
    for key, body in attrs.items():
        if not isinstance(body, Graph):
            continue
        own = body.inputs[:len(body.inputs) - count]
        rename = {b: o for b, o in zip(body.inputs[len(own):], outer) if b != o}
        if rename:  # a pass renamed the outer value (Identity removal...): the body reads the new name
            clash = sorted(set(rename.values()) & set(body.tensors))
            if clash:
                raise UnsupportedError(f"{n.describe()}: graph {body.name!r} has a value named {clash[0]!r} "
                                       "and also reads one of that name from outside")
            body = body.copy()
            for old, new in rename.items():
                body.tensors[new] = body.tensors[old].clone(new)
            for m in body.nodes:
                m.inputs = [rename.get(i, i) for i in m.inputs]
            body.outputs = [rename.get(o, o) for o in body.outputs]
        attrs[key] = _graph_proto(body, own)
    return list(n.inputs[:keep]), attrs


def _other_opsets(graph: Graph, out: dict[str, int]) -> dict[str, int]:
    """{domain: version} for the nodes of other domains (OTHER_DOMAIN_OPS) in
    graph and its bodies: each domain imported at its nodes' highest version."""
    for n in graph.nodes:
        if n.domain not in ("", "ai.onnx"):
            out[n.domain] = max(out.get(n.domain, 1), n.version or 1)
        for v in n.attrs.values():
            if isinstance(v, Graph):
                _other_opsets(v, out)
    return out


def export_model(graph: Graph) -> onnx.ModelProto:
    """`graph` as a standard ONNX model (opset graph.opset), checked by onnx.checker."""
    graph.validate()
    g = _graph_proto(graph, graph.inputs)
    opsets = [helper.make_opsetid("", graph.opset)]
    opsets += [helper.make_opsetid(d, v) for d, v in sorted(_other_opsets(graph, {}).items())]
    model = helper.make_model(g, opset_imports=opsets, producer_name="pyfw", producer_version=__version__)
    model.ir_version = min(model.ir_version, MAX_IR_VERSION)
    meta = {}
    for key, value in graph.metadata.items():
        if key.startswith("onnx:"):
            meta[key[len("onnx:"):]] = value
        elif key != "producer":  # producer_name says who wrote this file
            meta[f"pyfw:{key}"] = value
    helper.set_model_props(model, meta)
    if model.ByteSize() > MAX_PROTO_BYTES:
        raise UnsupportedError(f"graph {graph.name!r} is over 2 GiB as ONNX, which needs external data; "
                               "not supported yet")
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as e:
        raise InvalidModelError(f"graph {graph.name!r} does not make a valid ONNX model: {e}") from None
    return model


def save_model(graph: Graph, path: str | os.PathLike) -> onnx.ModelProto:
    """Writes `graph` as ONNX to `path` atomically (temp file + fsync + rename)."""
    from .._io import atomic_open

    model = export_model(graph)
    with atomic_open(path) as f:
        f.write(model.SerializeToString())
    return model


def export(module, example_inputs, path: str | os.PathLike) -> onnx.ModelProto:
    """Traces one eval-mode forward of the pyfw.nn `module` on `example_inputs`
    (as pyfw.export does) and writes the graph to `path` as ONNX."""
    from ..autograd.export import trace

    return save_model(trace(module, example_inputs), path)
