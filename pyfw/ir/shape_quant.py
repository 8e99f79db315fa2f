"""Shape rules for the quantization ops (QuantizeLinear, DequantizeLinear,
DynamicQuantizeLinear, QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger):
output dtypes per ONNX, shapes from Conv's and MatMul's rules on the data inputs."""
from __future__ import annotations

from .. import dtypes as _dt
from .graph import Node, Tensor
from .shape_conv import _conv
from .shapes import _Check, _matmul, _required


def _on(node, ins, rule, data: tuple[int, ...]):
    """`rule` (Conv's or MatMul's) on the data inputs at positions `data`, as
    float32 placeholders: only their shapes matter here."""
    sub = Node(node.op_type, [node.inputs[i] for i in data], node.outputs, node.attrs, node.name)
    sub_ins = [Tensor(node.inputs[i], "float32", ins[i].shape) for i in data]
    return rule(sub, sub_ins, _Check(sub, sub_ins))[0][1]


def _opt(ins, i):
    return ins[i] if i < len(ins) else None


def _quantize(node, ins, c):
    _required(c, 2)
    zp = _opt(ins, 2)
    code = node.attr("output_dtype", 0)
    dtype = zp.dtype if zp is not None else _dt.from_code(code) if code else "uint8"
    return [(dtype, ins[0].shape)]


def _dequantize(node, ins, c):
    _required(c, 2)
    code = node.attr("output_dtype", 0)
    return [(_dt.from_code(code) if code else ins[1].dtype, ins[0].shape)]


def _dynamic_quantize(node, ins, c):
    _required(c, 1)
    return [("uint8", ins[0].shape), ("float32", ()), ("uint8", ())]


def _int_product(rule, x: int, w: int, yz: int | None):
    def infer(node, ins, c):
        _required(c, max(x, w) + 1)
        z = _opt(ins, yz) if yz is not None else None
        dtype = "int32" if yz is None else z.dtype if z is not None else ins[x].dtype
        return [(dtype, _on(node, ins, rule, (x, w)))]
    return infer


RULES = {
    "QuantizeLinear": _quantize, "DequantizeLinear": _dequantize,
    "DynamicQuantizeLinear": _dynamic_quantize,
    "MatMulInteger": _int_product(_matmul, 0, 1, None), "QLinearMatMul": _int_product(_matmul, 0, 3, 7),
    "ConvInteger": _int_product(_conv, 0, 1, None), "QLinearConv": _int_product(_conv, 0, 3, 7),
}
