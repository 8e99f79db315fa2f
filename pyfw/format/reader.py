""".pfw bytes -> Graph. This reader trusts the schema accessors but checks the
framing and every buffer range, wrapping any failure in InvalidModelError; the
C runtime's verifier is the strict one."""
from __future__ import annotations

import os

import numpy as np

from .. import InvalidModelError
from .. import dtypes as _dt
from ..ir import Graph, Node, QuantParams, Tensor
from .generated.pfw.AttrType import AttrType
from .generated.pfw.Model import Model as fbModel
from .writer import _KINDS as KINDS
from .writer import ALIGN, IDENTIFIER, OP_CODES

OP_NAMES = {v: k for k, v in OP_CODES.items()}


def _s(b) -> str:
    return b.decode("utf-8") if b is not None else ""


class _Reader:
    def __init__(self, data: bytes):
        if len(data) < 12:
            raise InvalidModelError(f"not a .pfw file: {len(data)} bytes is too short for the header")
        if data[8:12] != IDENTIFIER:
            raise InvalidModelError(
                f"not a .pfw file: identifier at byte 8 is {bytes(data[8:12])!r}, expected {IDENTIFIER!r}")
        fb_size = int.from_bytes(data[0:4], "little")
        if fb_size + 4 > len(data):
            raise InvalidModelError(
                f"truncated .pfw file: the FlatBuffer claims {fb_size} bytes at byte 4 but the file has {len(data)}")
        self.data = data
        self.data_start = (fb_size + 4 + ALIGN - 1) // ALIGN * ALIGN
        self.model = fbModel.GetRootAs(data, 4)
        self.graphs: dict[int, Graph] = {}

    def buffer(self, index: int, what: str) -> memoryview:
        m = self.model
        if not 0 <= index < m.BuffersLength():
            raise InvalidModelError(f"{what}: buffer index {index} out of range ({m.BuffersLength()} buffers)")
        buf = m.Buffers(index)
        start = self.data_start + buf.Offset()
        end = start + buf.Size()
        if end > len(self.data):
            raise InvalidModelError(f"{what}: buffer {index} [{start}, {end}) runs past the end of the file ({len(self.data)} bytes)")
        return memoryview(self.data)[start:end]

    @staticmethod
    def _numeric(raw, dtype: str, shape, count: int, what: str) -> np.ndarray:
        np_type = _dt.storage(dtype)
        if shape is None or len(raw) != count * np_type.itemsize:
            raise InvalidModelError(f"{what} has {len(raw)} bytes of data but shape {shape} of {dtype} needs "
                                    f"{count * np_type.itemsize}")
        data = np.frombuffer(raw, dtype=np_type).reshape(shape)
        return data if dtype in _dt.RAW_BITS else data.astype(_dt.to_numpy(dtype), copy=False)

    def tensor(self, fb, where: str) -> Tensor:
        name = _s(fb.Name())
        dtype = _dt.from_code(fb.Dtype())
        shape = tuple(int(fb.Shape(i)) for i in range(fb.ShapeLength())) if fb.HasShape() else None
        data = None
        if fb.Buffer() != 0:
            raw = self.buffer(fb.Buffer(), f"{where}: tensor {name!r}")
            count = int(np.prod(shape)) if shape else 1
            if dtype == "string":
                data = None if shape is None else _dt.decode_strings(raw, count)
                if data is None:
                    raise InvalidModelError(f"{where}: string tensor {name!r}: its {len(raw)} bytes are not "
                                            f"{count} end offsets and the strings they delimit")
                data = data.reshape(shape)
            else:
                data = self._numeric(raw, dtype, shape, count, f"{where}: tensor {name!r}")
        quant = None
        q = fb.Quant()
        if q is not None:
            quant = QuantParams([float(q.Scale(i)) for i in range(q.ScaleLength())],
                                [int(q.ZeroPoint(i)) for i in range(q.ZeroPointLength())], int(q.Axis()))
        kind = fb.Kind()
        if kind >= len(KINDS):
            raise InvalidModelError(f"{where}: tensor {name!r} has unknown value kind {kind}")
        if data is not None and (kind or fb.Optional()):
            raise InvalidModelError(f"{where}: constant {name!r} must be a plain tensor")
        return Tensor(name, dtype, shape, data, quant, KINDS[kind], bool(fb.Optional()))

    def graph(self, index: int) -> Graph:
        if index in self.graphs:
            return self.graphs[index]
        m = self.model
        if not 0 <= index < m.GraphsLength():
            raise InvalidModelError(f"graph index {index} out of range ({m.GraphsLength()} graphs)")
        fb = m.Graphs(index)
        g = Graph(_s(fb.Name()), int(m.Opset()))
        self.graphs[index] = g
        where = f"graph {index} ({g.name!r})"
        tensors = [self.tensor(fb.Tensors(i), where) for i in range(fb.TensorsLength())]
        names = [t.name for t in tensors]
        attr_tensor_ids = set()
        nodes = []
        for ni in range(fb.NodesLength()):
            fn = fb.Nodes(ni)
            op = _s(fn.CustomOp()) if fn.Op() == 0 else OP_NAMES.get(fn.Op())
            if op is None:
                raise InvalidModelError(f"{where}: node {ni} has unknown op code {fn.Op()}")

            def ref(i: int, what: str) -> str:
                if i == -1:
                    return ""
                if not 0 <= i < len(names):
                    raise InvalidModelError(f"{where}: node {ni} {what} index {i} out of range")
                return names[i]

            attrs = {}
            for ai in range(fn.AttrsLength()):
                a = fn.Attrs(ai)
                attrs[_s(a.Name())], tid = self.attr(a, tensors, f"{where}: node {ni}")
                if tid is not None:
                    attr_tensor_ids.add(tid)
            nodes.append(Node(op, [ref(fn.Inputs(i), "input") for i in range(fn.InputsLength())],
                              [ref(fn.Outputs(i), "output") for i in range(fn.OutputsLength())],
                              attrs, _s(fn.Name()), _s(fn.Domain()), int(fn.Version())))
        for i, t in enumerate(tensors):
            if i not in attr_tensor_ids:
                g.add_tensor(t)
        g.nodes = nodes
        g.inputs = [names[fb.Inputs(i)] for i in range(fb.InputsLength())]
        g.outputs = [names[fb.Outputs(i)] for i in range(fb.OutputsLength())]
        return g

    def attr(self, a, tensors, where):
        t = a.Type()
        if t == AttrType.INT:
            return int(a.I()), None
        if t == AttrType.FLOAT:
            return float(a.F()), None
        if t == AttrType.STRING:
            return bytes(a.S(i) for i in range(a.SLength())).decode("utf-8"), None
        if t == AttrType.INTS:
            return [int(a.Ints(i)) for i in range(a.IntsLength())], None
        if t == AttrType.FLOATS:
            return [float(a.Floats(i)) for i in range(a.FloatsLength())], None
        if t == AttrType.STRINGS:
            return [_s(a.Strings(i)) for i in range(a.StringsLength())], None
        if t == AttrType.TENSOR:
            i = a.Tensor()
            if not 0 <= i < len(tensors) or tensors[i].data is None:
                raise InvalidModelError(f"{where}: attribute {_s(a.Name())!r} refers to tensor {i}, not a constant")
            return tensors[i].data, i
        if t == AttrType.GRAPH:
            return self.graph(a.Graph()), None
        raise InvalidModelError(f"{where}: attribute {_s(a.Name())!r} has unknown type {t}")

    def read(self) -> Graph:
        m = self.model
        if m.GraphsLength() < 1:
            raise InvalidModelError("model has no graphs")
        g = self.graph(0)
        g.metadata = {_s(m.Metadata(i).Key()): _s(m.Metadata(i).Value()) for i in range(m.MetadataLength())}
        return g


def load(source: str | os.PathLike | bytes | bytearray | memoryview) -> Graph:
    """Reads a .pfw file (a path or its bytes) into a Graph."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        with open(source, "rb") as f:
            data = f.read()
    try:
        return _Reader(data).read()
    except InvalidModelError:
        raise
    except Exception as e:  # the accessors index raw bytes: any failure means a malformed file
        raise InvalidModelError(f"malformed .pfw file: {type(e).__name__}: {e}") from None
