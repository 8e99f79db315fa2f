"""ONNX Runtime's quantized operators (domain com.microsoft, the "QOperator"
format its quantize_static writes), imported as the standard ops they
stand for, so a model ORT quantized runs in pyfw and exports back as plain
ONNX:

    QLinearAdd, QLinearMul           DequantizeLinear both, Add/Mul, QuantizeLinear
    QLinearLeakyRelu, QLinearSigmoid DequantizeLinear, the op, QuantizeLinear
    QLinearAveragePool               the same around AveragePool
    QLinearGlobalAveragePool         the same around GlobalAveragePool
    QLinearConcat                    every input dequantized, Concat, QuantizeLinear
    QGemm                            MatMulInteger (the int32 sums), + C, times alpha * a_scale * b_scale,
                                     quantized when y_scale is given
    MatMulIntegerToFloat             MatMulInteger, times a_scale * b_scale, + bias
    DynamicQuantizeMatMul            DynamicQuantizeLinear of A, then as MatMulIntegerToFloat

The float steps are the ops' definitions (C = quantize(dequantize(A) +
dequantize(B)) and so on). ORT computes some of them with lookup tables or
fixed point, so the two can differ by one quantization step where the
exact value lies near a rounding boundary; the integer products are exact
in both. channels_last inputs (NHWC) are transposed to NCHW and back.
"""
from __future__ import annotations

import numpy as np
from onnx import TensorProto

from .. import UnsupportedError

MS = "com.microsoft"
F32 = np.float32


def _q_type(b, x: str, zp: str = "") -> int:
    """x's element type; where shape inference stops at an ORT op, its zero
    point's (an initializer), else uint8 (the type a left-out one means)."""
    try:
        elem = b.elem_type(x)
    except UnsupportedError:
        elem = b.elem_type(zp) if zp else TensorProto.UINT8
    if elem not in (TensorProto.UINT8, TensorProto.INT8):
        raise UnsupportedError(f"{b.where}: input {x!r} is {TensorProto.DataType.Name(elem).lower()}; "
                               f"expected uint8 or int8")
    return elem


def _zero(b, zp: str, elem: int) -> str:
    """The zero point, or a 0 of elem's type where the model leaves it out."""
    return zp or b.const(0, np.uint8 if elem == TensorProto.UINT8 else np.int8)


def _dq(b, x: str, scale: str, zp: str) -> str:
    return b.add("DequantizeLinear", [x, scale, _zero(b, zp, _q_type(b, x, zp))])


def _quantize(b, y: str, scale: str, zp: str, elem: int, out: str) -> None:
    b.declare(out, elem)
    b.add("QuantizeLinear", [y, scale, _zero(b, zp, elem)], output=out)


def _binary(op: str):
    def rule(b) -> None:
        a, b_ = b.input(0), b.input(3)
        elem = _q_type(b, a, b.input(2))
        y = b.add(op, [_dq(b, a, b.input(1), b.input(2)), _dq(b, b_, b.input(4), b.input(5))])
        _quantize(b, y, b.input(6), b.input(7), elem, b.node.output[0])
    rule.__doc__ = f"QLinear{op}: C = quantize({op}(dequantize(A), dequantize(B)))."
    return rule


def _unary(op: str, **fixed):
    def rule(b) -> None:
        x = b.input(0)
        elem = _q_type(b, x, b.input(2))
        attrs = {k: b.attrs[k] for k in fixed if k in b.attrs}
        channels_last = int(b.attrs.get("channels_last", 0))
        v = _dq(b, x, b.input(1), b.input(2))
        if channels_last:  # NHWC to NCHW and back
            rank = b.rank(x)
            v = b.add("Transpose", [v], perm=[0, rank - 1] + list(range(1, rank - 1)))
        y = b.add(op, [v], **attrs)
        if channels_last:
            y = b.add("Transpose", [y], perm=[0] + list(range(2, rank)) + [1])
        _quantize(b, y, b.input(3), b.input(4), elem, b.node.output[0])
    rule.__doc__ = f"Y = quantize({op}(dequantize(X)))."
    return rule


_POOL_ATTRS = dict(auto_pad=1, ceil_mode=1, count_include_pad=1, kernel_shape=1, pads=1, strides=1)


def _concat(b) -> None:
    """QLinearConcat(Y_scale, Y_zero_point, (X, X_scale, X_zero_point)...):
    every X dequantized, concatenated along axis, quantized once."""
    ins = list(b.node.input)
    if len(ins) < 5 or (len(ins) - 2) % 3:
        raise UnsupportedError(f"{b.where}: expects Y_scale, Y_zero_point and triples (X, scale, zero point); "
                               f"it has {len(ins)} inputs")
    parts = [_dq(b, ins[k], ins[k + 1], ins[k + 2]) for k in range(2, len(ins), 3)]
    elem = _q_type(b, ins[2], ins[4])
    y = b.add("Concat", parts, axis=int(b.attr("axis")))
    _quantize(b, y, ins[0], ins[1], b.elem_type(ins[1]) if ins[1] else elem, b.node.output[0])


def _transposed(b, x: str, flag: str) -> str:
    return b.add("Transpose", [x], perm=[1, 0]) if int(b.attrs.get(flag, 0)) else x


def _scaled_product(b, a: str, a_scale: str, a_zp: str, w: str, w_scale: str, w_zp: str, bias_int: str = "",
                    alpha: float = 1.0) -> str:
    """(A - a_zp)(W - w_zp) in int32 (+ an int32 bias), times alpha a_scale
    w_scale (w_scale one value or one per column): a float32 value."""
    args = [a, w, a_zp, w_zp]
    while not args[-1]:  # MatMulInteger's zero points are optional, trailing ones left out
        args.pop()
    acc = b.add("MatMulInteger", args)
    if bias_int:
        acc = b.add("Add", [acc, bias_int])
    scale = b.add("Mul", [a_scale, w_scale])
    if alpha != 1.0:
        scale = b.add("Mul", [scale, b.const(alpha, F32)])
    return b.add("Mul", [b.add("Cast", [acc], to=TensorProto.FLOAT), scale])


def _float_out(b, y: str, bias: str = "") -> None:
    """The node's float32 output: y, plus the bias where the model gives one."""
    out = b.node.output[0]
    b.declare(out, TensorProto.FLOAT)
    b.add("Add", [y, bias], output=out) if bias else b.add("Identity", [y], output=out)


def _qgemm(b) -> None:
    """QGemm(A, a_scale, a_zp, B, b_scale, b_zp, C?, y_scale?, y_zp?): the
    int32 sums of A'B' (transA/transB) plus C (int32, at scale a_scale
    b_scale), times alpha a_scale b_scale; quantized where y_scale is given,
    else the float result."""
    a = _transposed(b, b.input(0), "transA")
    w = _transposed(b, b.input(3), "transB")
    y = _scaled_product(b, a, b.input(1), b.input(2), w, b.input(4), b.input(5), b.input(6),
                        float(b.attrs.get("alpha", 1.0)))
    if b.input(7):
        elem = b.elem_type(b.input(8)) if b.input(8) else TensorProto.UINT8
        _quantize(b, y, b.input(7), b.input(8), elem, b.node.output[0])
    else:
        _float_out(b, y)


def _matmul_integer_to_float(b) -> None:
    """MatMulIntegerToFloat(A, B, a_scale, b_scale, a_zp?, b_zp?, bias?):
    (A - a_zp)(B - b_zp) a_scale b_scale + bias, in float32."""
    _float_out(b, _scaled_product(b, b.input(0), b.input(2), b.input(4), b.input(1), b.input(3), b.input(5)),
               b.input(6))


def _dynamic_quantize_matmul(b) -> None:
    """DynamicQuantizeMatMul(A float, B, b_scale, b_zp?, bias?): A quantized
    per run (DynamicQuantizeLinear, uint8), then as MatMulIntegerToFloat."""
    q = b.add("DynamicQuantizeLinear", [b.input(0)])
    dq = b.nodes[-1]
    a_scale, a_zp = f"{q}_scale", f"{q}_zero_point"
    dq.output.extend([a_scale, a_zp])
    _float_out(b, _scaled_product(b, q, a_scale, a_zp, b.input(1), b.input(2), b.input(3)), b.input(4))


RULES = {(MS, "QLinearAdd"): _binary("Add"), (MS, "QLinearMul"): _binary("Mul"),
         (MS, "QLinearLeakyRelu"): _unary("LeakyRelu", alpha=1), (MS, "QLinearSigmoid"): _unary("Sigmoid"),
         (MS, "QLinearAveragePool"): _unary("AveragePool", **_POOL_ATTRS),
         (MS, "QLinearGlobalAveragePool"): _unary("GlobalAveragePool"),
         (MS, "QLinearConcat"): _concat, (MS, "QGemm"): _qgemm,
         (MS, "MatMulIntegerToFloat"): _matmul_integer_to_float,
         (MS, "DynamicQuantizeMatMul"): _dynamic_quantize_matmul}
