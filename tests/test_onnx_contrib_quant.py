"""ONNX Runtime's quantized ops (com.microsoft, the QOperator format its
quantize_static writes) imported as standard ops (pyfw/onnx/decompose_contrib.py),
against ONNX Runtime running them natively. Integer products are exact in
both; where ORT takes a float step through a lookup table or fixed point,
an output may differ by one quantization step (the contrib ops'
definitions are the float formulas pyfw computes). Whole QOperator CNNs
from quantize_static must agree within a step too, and export back to
standard ONNX that ORT runs."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import pyfw.format
import pyfw.onnx
from onnx_util import Init, operands, ort_quantize_static, ort_run, pfw_run, to_pfw

RNG = np.random.default_rng(11)
MS = "com.microsoft"


def model_of(op, args, out_dtype, out_shape, domain=MS, **attrs):
    """A one-node model of a com.microsoft op (ONNX's checker has no schema
    for it, so the model is built unchecked); args as onnx_util.single_op's."""
    names, inputs, inits, feeds = operands(args)
    node = helper.make_node(op, names, ["y"], name="n", domain=domain, **attrs)
    out = helper.make_tensor_value_info("y", helper.np_dtype_to_tensor_dtype(np.dtype(out_dtype)), out_shape)
    graph = helper.make_graph([node], "g", inputs, [out], [numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)])
    model.ir_version = 8
    return model, feeds


def q(dtype, shape):
    info = np.iinfo(dtype)
    return RNG.integers(info.min, info.max + 1, size=shape).astype(dtype)


def sc(v):
    return Init(np.float32(v))


def zp(dtype, v):
    return Init(np.array(v, dtype))


def compare(model, feeds, steps=1):
    """pyfw against ORT: equal dtype and shape; quantized outputs within
    `steps` units, float ones within 1e-5 relative."""
    want = ort_run(model, feeds)
    got = pfw_run(to_pfw(model), feeds)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape, (g.dtype, g.shape, w.dtype, w.shape)
        if np.issubdtype(w.dtype, np.integer):
            diff = np.abs(g.astype(np.int64) - w.astype(np.int64))
            assert diff.max(initial=0) <= steps, f"{diff.max()} steps off"
        else:
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5 * np.abs(w).max())
    return got, want


@pytest.mark.parametrize("op", ["QLinearAdd", "QLinearMul"])
@pytest.mark.parametrize("dt", [np.uint8, np.int8])
@pytest.mark.parametrize("shapes", [((2, 3, 4, 5), (2, 3, 4, 5)), ((2, 3, 4, 5), (3, 1, 1)), ((4,), (2, 3, 4))])
def test_binary(op, dt, shapes):
    a, b = q(dt, shapes[0]), q(dt, shapes[1])
    base = 0 if dt == np.uint8 else -128
    args = [a, sc(0.05), zp(dt, base + 120), b, sc(0.02), zp(dt, base + 100), sc(0.1 if op == "QLinearAdd" else 0.5),
            zp(dt, base + 128)]
    out_shape = np.broadcast_shapes(shapes[0], shapes[1])
    compare(*model_of(op, args, dt, out_shape))


def test_binary_zero_points_left_out():
    """Absent zero points are 0 (of uint8), also for the output. (ONNX
    Runtime refuses such a model, so the oracle is the definition in
    float32: dequantize, add, divide by the scale, round half to even.)"""
    a, b = q(np.uint8, (3, 7)), q(np.uint8, (3, 7))
    model, feeds = model_of("QLinearAdd", [a, sc(0.01), None, b, sc(0.03), None, sc(0.05)], np.uint8, (3, 7))
    f = np.float32
    want = np.clip(np.rint((a.astype(f) * f(0.01) + b.astype(f) * f(0.03)) / f(0.05)), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(pfw_run(to_pfw(model), feeds)[0], want)


@pytest.mark.parametrize("dt", [np.uint8, np.int8])
@pytest.mark.parametrize("op, attrs", [("QLinearLeakyRelu", dict(alpha=0.2)), ("QLinearSigmoid", {})])
def test_unary(op, attrs, dt):
    x = q(dt, (2, 5, 6))
    base = 0 if dt == np.uint8 else -128
    args = [x, sc(0.07), zp(dt, base + 130), sc(0.004 if op == "QLinearSigmoid" else 0.05), zp(dt, base + 20)]
    compare(*model_of(op, args, dt, x.shape, **attrs))


@pytest.mark.parametrize("channels_last", [0, 1])
@pytest.mark.parametrize("dt", [np.uint8, np.int8])
def test_global_average_pool(dt, channels_last):
    x = q(dt, (2, 6, 5, 4) if not channels_last else (2, 5, 4, 6))
    base = 0 if dt == np.uint8 else -128
    out = (2, 6, 1, 1) if not channels_last else (2, 1, 1, 6)
    compare(*model_of("QLinearGlobalAveragePool", [x, sc(0.1), zp(dt, base + 128), sc(0.05), zp(dt, base + 128)], dt,
                      out, channels_last=channels_last))


@pytest.mark.parametrize("channels_last", [0, 1])
def test_average_pool(channels_last):
    x = q(np.uint8, (1, 3, 9, 8) if not channels_last else (1, 9, 8, 3))
    out = (1, 3, 5, 4) if not channels_last else (1, 5, 4, 3)
    compare(*model_of("QLinearAveragePool", [x, sc(0.1), zp(np.uint8, 128), sc(0.08), zp(np.uint8, 120)], np.uint8,
                      out, kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 0], count_include_pad=1,
                      channels_last=channels_last))


def test_concat():
    a, b = q(np.uint8, (1, 2, 3)), q(np.uint8, (1, 4, 3))
    args = [sc(0.1), zp(np.uint8, 128), a, sc(0.1), zp(np.uint8, 128), b, sc(0.05), zp(np.uint8, 100)]
    got, want = compare(*model_of("QLinearConcat", args, np.uint8, (1, 6, 3), axis=1))
    np.testing.assert_array_equal(got[0][:, :2], a)  # same scale and zero point: the bytes themselves


@pytest.mark.parametrize("quantized_out", [False, True])
@pytest.mark.parametrize("trans", [(0, 0), (1, 1)])
@pytest.mark.parametrize("per_column", [False, True])
def test_qgemm(quantized_out, trans, per_column):
    m, k, n = 5, 24, 7
    a = q(np.uint8, (m, k) if not trans[0] else (k, m))
    w = q(np.int8, (k, n) if not trans[1] else (n, k))
    b_scale = RNG.uniform(0.001, 0.01, n).astype(np.float32) if per_column else np.float32(0.004)
    b_zp = np.zeros(n, np.int8) if per_column else np.int8(0)
    c = RNG.integers(-3000, 3000, n).astype(np.int32)
    args = [a, sc(0.02), zp(np.uint8, 110), Init(w), Init(b_scale), Init(b_zp), Init(c)]
    if quantized_out:
        args += [sc(0.3), zp(np.uint8, 128)]
    compare(*model_of("QGemm", args, np.uint8 if quantized_out else np.float32, (m, n), transA=trans[0],
                      transB=trans[1], alpha=0.75))


def test_matmul_integer_to_float():
    a, w = q(np.uint8, (2, 3, 16)), q(np.int8, (16, 5))
    bias = RNG.standard_normal(5).astype(np.float32)
    args = [a, Init(w), sc(0.03), Init(RNG.uniform(0.001, 0.01, 5).astype(np.float32)), zp(np.uint8, 120),
            None, Init(bias)]
    compare(*model_of("MatMulIntegerToFloat", args, np.float32, (2, 3, 5)))


def test_dynamic_quantize_matmul():
    x = RNG.standard_normal((4, 16)).astype(np.float32)
    w = q(np.int8, (16, 6))
    args = [x, Init(w), Init(RNG.uniform(0.001, 0.01, 6).astype(np.float32)), None,
            Init(RNG.standard_normal(6).astype(np.float32))]
    compare(*model_of("DynamicQuantizeMatMul", args, np.float32, (4, 6)))


def test_not_quantized_input_is_refused():
    a = RNG.standard_normal((2, 3)).astype(np.float32)
    model, feeds = model_of("QLinearAdd", [a, sc(0.1), None, a, sc(0.1), None, sc(0.1)], np.uint8, (2, 3))
    with pytest.raises(pyfw.UnsupportedError, match=r"QLinearAdd.*is float; expected uint8 or int8"):
        pyfw.onnx.import_model(model)


def small_cnn():
    """Conv-Relu, a residual Add, GlobalAveragePool and a Gemm: what
    quantize_static turns into QLinearConv, QLinearAdd, QLinearGlobalAveragePool and QGemm."""
    r = np.random.default_rng(5)
    w = lambda *s: numpy_helper.from_array((r.standard_normal(s) * 0.2).astype(np.float32))  # noqa: E731
    inits = [w(8, 3, 3, 3), w(8), w(8, 8, 3, 3), w(8), w(10, 8), w(10)]
    for t, name in zip(inits, ["w1", "b1", "w2", "b2", "fw", "fb"]):
        t.name = name
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c2", "r1"], ["s"]), helper.make_node("Relu", ["s"], ["r2"]),
             helper.make_node("GlobalAveragePool", ["r2"], ["p"]), helper.make_node("Flatten", ["p"], ["f"]),
             helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], transB=1)]
    graph = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 12, 12])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_quantize_static_qoperator_model(tmp_path):
    calib = np.random.default_rng(6).standard_normal((8, 1, 3, 12, 12)).astype(np.float32)
    model = ort_quantize_static(small_cnn(), tmp_path, [{"x": x} for x in calib], qoperator=True)
    ops = {(n.domain, n.op_type) for n in model.graph.node}
    assert {(MS, "QLinearAdd"), (MS, "QLinearGlobalAveragePool"), ("", "QLinearConv")} <= ops, ops
    x = np.random.default_rng(7).standard_normal((1, 3, 12, 12)).astype(np.float32)
    got, want = pfw_run(to_pfw(model), {"x": x}), ort_run(model, {"x": x})
    out_scale = max(numpy_helper.to_array(t).max() for t in model.graph.initializer if "scale" in t.name)
    assert np.abs(got[0] - want[0]).max() <= 2 * out_scale, "more than a step or two from ONNX Runtime"
    # and back out as standard ONNX (no com.microsoft op) that ORT runs to the same values
    graph = pyfw.onnx.import_model(model)
    exported = pyfw.onnx.export_model(graph)
    assert all(n.domain in ("", "ai.onnx") for n in exported.graph.node)
    np.testing.assert_allclose(ort_run(exported, {"x": x})[0], got[0], rtol=0, atol=2 * out_scale)
