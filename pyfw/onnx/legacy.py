"""Models older than opset 7.

Before opset 7 the elementwise ops (and Gemm) used "legacy" broadcasting
driven by `broadcast`/`axis` attributes; the IR and runtime only know the
numpy-style rules that opset 7 introduced, so older models are upgraded to
MIN_OPSET by ONNX's version converter first, after the rewrites the
converter leaves out (see _per_channel_prelu).
"""
from __future__ import annotations

import onnx
from onnx import helper

from .. import UnsupportedError
from ..ir.graph import fresh_name
from .functions import subgraphs, value_names, value_types

MIN_OPSET = 7


def _dims(types: dict, name: str) -> list[int | None] | None:
    """name's dims (None where symbolic), or None without a shape."""
    t = types.get(name)
    if t is None or not t.tensor_type.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else None for d in t.tensor_type.shape.dim]


def _per_channel_prelu(model: onnx.ModelProto) -> None:
    """PRelu-1/6 shares a slope of size 1 across the channels and otherwise
    has one per channel, along axis 1 (as Caffe2 and PyTorch's early exporter
    wrote it); PRelu-7 broadcasts the slope from the trailing axes instead. A
    1-D slope of X of rank r >= 3 is therefore unsqueezed to (C, 1, ..., 1)
    in place (ONNX's converter keeps the node as it is, which PRelu-7 reads as
    the last axis's slope)."""
    types = value_types(model)
    taken = value_names(model.graph)

    def walk(g: onnx.GraphProto) -> None:
        nodes = []
        for n in g.node:
            for a in n.attribute:
                for sub in subgraphs(a):
                    walk(sub)
            if n.op_type != "PRelu" or n.domain not in ("", "ai.onnx") or len(n.input) < 2:
                nodes.append(n)
                continue
            x, slope = _dims(types, n.input[0]), _dims(types, n.input[1])
            rank = None if x is None else len(x)
            if slope == [1] or (rank is not None and rank < 3) or (slope is not None and len(slope) != 1):
                nodes.append(n)  # one shared slope, or PRelu-7's broadcast reads it the same way
                continue
            if rank is None or slope is None:
                raise UnsupportedError(f"PRelu node {n.name!r} (opset < 7) has one slope per channel, and pyfw cannot "
                                       f"place them without the rank of {n.input[0]!r} and the shape of "
                                       f"{n.input[1]!r}, which shape inference does not give")
            name = fresh_name(taken, f"{n.input[1]}/per_channel")
            nodes.append(helper.make_node("Unsqueeze", [n.input[1]], [name], name=name,
                                          axes=list(range(1, rank - 1))))
            n.input[1] = name
            nodes.append(n)
        if len(nodes) != len(g.node):
            del g.node[:]
            g.node.extend(nodes)

    walk(model.graph)


def upgrade(proto: onnx.ModelProto, opset: int) -> onnx.ModelProto:
    """`proto` (of default-domain opset `opset` < MIN_OPSET) at MIN_OPSET.
    ONNX's converter's adapters rewrite legacy broadcasting (broadcast/axis
    attributes), is_test and consumed_inputs into their opset-7 forms."""
    from onnx import version_converter

    proto_copy = onnx.ModelProto()
    proto_copy.CopyFrom(proto)
    _per_channel_prelu(proto_copy)
    try:
        return version_converter.convert_version(proto_copy, MIN_OPSET)
    except Exception as e:  # the converter raises bare RuntimeErrors
        raise UnsupportedError(f"the model uses ONNX opset {opset} and ONNX's version converter could not "
                               f"upgrade it to opset {MIN_OPSET}: {e}") from None
