"""Graph -> .pfw bytes.

Layout: a size-prefixed FlatBuffer (identifier PFW1), zero padding to the next
64-byte boundary, then the data section; every buffer starts 64-byte aligned
(relative to the data section, which is itself 64-aligned in the file) so the
runtime can use weights in place from an mmap.
"""
from __future__ import annotations

import os
from typing import Iterator

import flatbuffers
import numpy as np

from .. import InvalidModelError, __version__
from .. import dtypes as _dt
from .._io import atomic_open
from ..ir import Graph, Tensor
from ..ir.graph import OTHER_DOMAIN_OPS
from .generated.pfw import Attr as fbAttr
from .generated.pfw import Graph as fbGraph
from .generated.pfw import KeyValue as fbKeyValue
from .generated.pfw import Model as fbModel
from .generated.pfw import Node as fbNode
from .generated.pfw import QuantParams as fbQuant
from .generated.pfw import Tensor as fbTensor
from .generated.pfw.AttrType import AttrType
from .generated.pfw.Buffer import CreateBuffer
from .generated.pfw.OpType import OpType

FORMAT_VERSION = 1
MIN_RUNTIME_VERSION = "0.1.0"
ALIGN = 64
IDENTIFIER = b"PFW1"
OP_CODES = {k: v for k, v in vars(OpType).items() if not k.startswith("_")}
_KINDS = ("tensor", "sequence")  # schema ValueKind, by number


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def _tensor_bytes(t: Tensor) -> bytes:
    arr = t.data
    if t.dtype == "string":
        return _dt.encode_strings(arr)
    want = _dt.storage(t.dtype)  # bfloat16, float8, int4... are carried as raw bit patterns
    if arr.dtype != want:
        if arr.dtype.kind != want.kind or arr.dtype.itemsize != want.itemsize:
            raise InvalidModelError(
                f"tensor {t.name!r}: data is {arr.dtype} but the tensor says {t.dtype}")
        arr = arr.astype(want)
    return np.ascontiguousarray(arr).tobytes()


class _GraphSet:
    """Collects the main graph and every subgraph reachable through GRAPH
    attributes, giving each a stable index (0 = main)."""

    def __init__(self, main: Graph):
        self.graphs = [main]
        i = 0
        while i < len(self.graphs):
            for node in self.graphs[i].nodes:
                for v in node.attrs.values():
                    if isinstance(v, Graph) and all(v is not g for g in self.graphs):
                        self.graphs.append(v)
            i += 1

    def index(self, g: Graph) -> int:
        return next(i for i, x in enumerate(self.graphs) if x is g)


class _Writer:
    def __init__(self, graph: Graph):
        self.b = flatbuffers.Builder(1024)
        self.blobs: list[bytes] = []  # buffer 1.. data
        self.offsets: list[tuple[int, int]] = [(0, 0)]  # buffer 0: empty sentinel
        self.data_size = 0
        self.set = _GraphSet(graph)
        self.main = graph

    def add_blob(self, data: bytes) -> int:
        off = _align(self.data_size)
        self.offsets.append((off, len(data)))
        self.blobs.append(data)
        self.data_size = off + len(data)
        return len(self.offsets) - 1

    def string(self, s: str) -> int:
        return self.b.CreateString(s)

    def vector(self, start, values, prepend, conv=int) -> int:
        start(self.b, len(values))
        for v in reversed(values):
            prepend(conv(v))
        return self.b.EndVector()

    def tensor(self, t: Tensor) -> int:
        b = self.b
        name = self.string(t.name)
        shape = None
        if t.shape is not None:
            shape = self.vector(fbTensor.StartShapeVector, t.shape, b.PrependInt64)
        quant = None
        if t.quant is not None:
            scale = self.vector(fbQuant.StartScaleVector, t.quant.scale, b.PrependFloat32, float)
            zp = self.vector(fbQuant.StartZeroPointVector, t.quant.zero_point, b.PrependInt64)
            fbQuant.Start(b)
            fbQuant.AddScale(b, scale)
            fbQuant.AddZeroPoint(b, zp)
            fbQuant.AddAxis(b, int(t.quant.axis))
            quant = fbQuant.End(b)
        buf = self.add_blob(_tensor_bytes(t)) if t.data is not None else 0
        fbTensor.Start(b)
        fbTensor.AddName(b, name)
        fbTensor.AddDtype(b, _dt.code(t.dtype))
        if shape is not None:
            fbTensor.AddShape(b, shape)
        fbTensor.AddHasShape(b, t.shape is not None)
        if t.kind != "tensor":
            fbTensor.AddKind(b, _KINDS.index(t.kind))
        if t.optional:
            fbTensor.AddOptional(b, True)
        fbTensor.AddBuffer(b, buf)
        if quant is not None:
            fbTensor.AddQuant(b, quant)
        return fbTensor.End(b)

    def attr(self, graph: Graph, node_name: str, name: str, value, attr_tensors: list) -> int:
        b = self.b
        fname = self.string(name)
        kind, payload = _classify_attr(value)
        if kind is None:
            raise InvalidModelError(
                f"node {node_name!r}: attribute {name!r} has unsupported value type {type(value).__name__}")
        vec = None
        if kind == AttrType.STRING:
            raw = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)
            vec = b.CreateByteVector(raw)
        elif kind == AttrType.INTS:
            vec = self.vector(fbAttr.StartIntsVector, payload, b.PrependInt64)
        elif kind == AttrType.FLOATS:
            vec = self.vector(fbAttr.StartFloatsVector, payload, b.PrependFloat32, float)
        elif kind == AttrType.STRINGS:
            offs = [self.string(s) for s in payload]
            vec = self.vector(fbAttr.StartStringsVector, offs, b.PrependUOffsetTRelative, int)
        elif kind == AttrType.TENSOR:
            # Tensor attributes become constant tensors appended after the
            # graph's own; the reader turns them back into arrays.
            attr_tensors.append(Tensor(f"{node_name}.{name}", _dt.from_numpy(payload.dtype),
                                       payload.shape, payload))
        fbAttr.Start(b)
        fbAttr.AddName(b, fname)
        fbAttr.AddType(b, kind)
        if kind == AttrType.INT:
            fbAttr.AddI(b, int(payload))
        elif kind == AttrType.FLOAT:
            fbAttr.AddF(b, float(payload))
        elif kind == AttrType.STRING:
            fbAttr.AddS(b, vec)
        elif kind == AttrType.INTS:
            fbAttr.AddInts(b, vec)
        elif kind == AttrType.FLOATS:
            fbAttr.AddFloats(b, vec)
        elif kind == AttrType.STRINGS:
            fbAttr.AddStrings(b, vec)
        elif kind == AttrType.TENSOR:
            fbAttr.AddTensor(b, len(graph.tensors) + len(attr_tensors) - 1)
        elif kind == AttrType.GRAPH:
            fbAttr.AddGraph(b, self.set.index(payload))
        return fbAttr.End(b)

    def graph(self, g: Graph) -> int:
        b = self.b
        index = {name: i for i, name in enumerate(g.tensors)}

        def idx(name: str, what: str) -> int:
            if name == "":
                return -1
            try:
                return index[name]
            except KeyError:
                raise InvalidModelError(f"graph {g.name!r}: {what} refers to unknown tensor {name!r}") from None

        attr_tensors: list[Tensor] = []
        nodes = []
        for n in g.nodes:
            label = n.name or n.op_type
            attrs = [self.attr(g, label, k, v, attr_tensors) for k, v in n.attrs.items()]
            attrs_vec = self.vector(fbNode.StartAttrsVector, attrs, b.PrependUOffsetTRelative)
            ins = self.vector(fbNode.StartInputsVector, [idx(i, f"{n.describe()} input") for i in n.inputs], b.PrependInt32)
            outs = self.vector(fbNode.StartOutputsVector, [idx(o, f"{n.describe()} output") for o in n.outputs], b.PrependInt32)
            name = self.string(n.name)
            custom = domain = None
            native = n.domain in ("", "ai.onnx") or (n.domain, n.op_type) in OTHER_DOMAIN_OPS
            code = OP_CODES.get(n.op_type) if native else None
            if code is None:
                custom = self.string(n.op_type)
            if code is None or n.domain:
                domain = self.string(n.domain)
            fbNode.Start(b)
            fbNode.AddOp(b, code or 0)
            if custom is not None:
                fbNode.AddCustomOp(b, custom)
            if domain is not None:
                fbNode.AddDomain(b, domain)
            fbNode.AddVersion(b, int(n.version))
            fbNode.AddInputs(b, ins)
            fbNode.AddOutputs(b, outs)
            fbNode.AddAttrs(b, attrs_vec)
            fbNode.AddName(b, name)
            nodes.append(fbNode.End(b))
        tensors = [self.tensor(t) for t in list(g.tensors.values()) + attr_tensors]
        tensors_vec = self.vector(fbGraph.StartTensorsVector, tensors, b.PrependUOffsetTRelative)
        nodes_vec = self.vector(fbGraph.StartNodesVector, nodes, b.PrependUOffsetTRelative)
        ins = self.vector(fbGraph.StartInputsVector, [idx(i, "graph input") for i in g.inputs], b.PrependInt32)
        outs = self.vector(fbGraph.StartOutputsVector, [idx(o, "graph output") for o in g.outputs], b.PrependInt32)
        name = self.string(g.name)
        fbGraph.Start(b)
        fbGraph.AddName(b, name)
        fbGraph.AddTensors(b, tensors_vec)
        fbGraph.AddNodes(b, nodes_vec)
        fbGraph.AddInputs(b, ins)
        fbGraph.AddOutputs(b, outs)
        return fbGraph.End(b)

    def finish(self) -> bytes:
        b = self.b
        graphs = [self.graph(g) for g in self.set.graphs]
        meta = dict(self.main.metadata)
        meta.setdefault("producer", f"pyfw {__version__}")
        meta.setdefault("min_runtime_version", MIN_RUNTIME_VERSION)
        kvs = []
        for k, v in meta.items():
            ko, vo = self.string(str(k)), self.string(str(v))
            fbKeyValue.Start(b)
            fbKeyValue.AddKey(b, ko)
            fbKeyValue.AddValue(b, vo)
            kvs.append(fbKeyValue.End(b))
        meta_vec = self.vector(fbModel.StartMetadataVector, kvs, b.PrependUOffsetTRelative)
        graphs_vec = self.vector(fbModel.StartGraphsVector, graphs, b.PrependUOffsetTRelative)
        fbModel.StartBuffersVector(b, len(self.offsets))
        for off, size in reversed(self.offsets):
            CreateBuffer(b, off, size)
        buffers_vec = b.EndVector()
        fbModel.Start(b)
        fbModel.AddFormatVersion(b, FORMAT_VERSION)
        fbModel.AddOpset(b, int(self.main.opset))
        fbModel.AddGraphs(b, graphs_vec)
        fbModel.AddBuffers(b, buffers_vec)
        fbModel.AddMetadata(b, meta_vec)
        b.FinishSizePrefixed(fbModel.End(b), IDENTIFIER)
        return bytes(b.Output())

    def chunks(self) -> Iterator[bytes]:
        fb = self.finish()
        yield fb
        yield b"\0" * (_align(len(fb)) - len(fb))
        pos = 0
        for (off, _), blob in zip(self.offsets[1:], self.blobs):
            yield b"\0" * (off - pos)
            yield blob
            pos = off + len(blob)


def _classify_attr(v):
    """(AttrType, normalised value) of a Python attribute value."""
    if isinstance(v, Graph):
        return AttrType.GRAPH, v
    if isinstance(v, np.ndarray):
        return AttrType.TENSOR, v
    if isinstance(v, (bool, int, np.integer)):
        return AttrType.INT, int(v)
    if isinstance(v, (float, np.floating)):
        return AttrType.FLOAT, float(v)
    if isinstance(v, (str, bytes)):
        return AttrType.STRING, v
    if isinstance(v, (list, tuple)):
        if all(isinstance(x, (bool, int, np.integer)) for x in v):
            return AttrType.INTS, [int(x) for x in v]
        if all(isinstance(x, (int, float, np.integer, np.floating)) for x in v):
            return AttrType.FLOATS, [float(x) for x in v]
        if all(isinstance(x, str) for x in v):
            return AttrType.STRINGS, list(v)
    return None, None


def to_bytes(graph: Graph) -> bytes:
    """The .pfw encoding of `graph` (validated first)."""
    graph.validate()
    return b"".join(_Writer(graph).chunks())


def save(graph: Graph, path: str | os.PathLike) -> None:
    """Writes `graph` to `path` atomically (temp file + fsync + rename)."""
    graph.validate()
    with atomic_open(path) as f:
        for chunk in _Writer(graph).chunks():
            f.write(chunk)
