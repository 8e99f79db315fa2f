"""The quantized ops (QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger,
QuantizeLinear, DequantizeLinear) at every ISA level this CPU runs, against
ONNX's reference evaluator (exact integers: pyfw rounds acc * scale exactly,
half to even, as the reference's float64 arithmetic does at these sizes) and
ONNX Runtime (within one quantization step: it rounds the float32 product
acc * scale, which can fall on the other side of a .5). Weights are tested as
initializers (packed once at create) and as graph inputs (packed per run).

ONNX Runtime's uint8 x int8 kernels on AVX2 without VNNI add pairs of
products in saturating int16 (vpmaddubsw), so with full-range int8 weights it
is off by tens where two large products meet; those cases are checked against
the reference evaluator only, and again with 7-bit weights against both."""
from __future__ import annotations

import numpy as np
import pytest
from onnx.reference import ReferenceEvaluator

import pyfw
from onnx_util import Init, ort_run, pfw_run, single_op, to_pfw
from test_cpu_dispatch import ISAS

RNG = np.random.default_rng(7)


def q_data(dtype, shape, bits=8):
    info = np.iinfo(dtype)
    lo, hi = (info.min, info.max) if bits == 8 else (info.min >> 1, info.max >> 1)
    return RNG.integers(lo, hi + 1, size=shape).astype(dtype)


def run_isa(monkeypatch, isa, model, feeds, threads=1):
    monkeypatch.setenv("PFW_ISA", isa)
    return pfw_run(to_pfw(model), feeds, threads=threads)


def check(monkeypatch, model, feeds, ort_ok=True, threads=(1,)):
    want = ReferenceEvaluator(model).run(None, feeds)
    for isa in ISAS:
        for t in threads:
            got = run_isa(monkeypatch, isa, model, feeds, t)
            for g, w in zip(got, want):
                assert g.dtype == w.dtype and g.shape == w.shape, (isa, g.dtype, g.shape, w.dtype, w.shape)
                np.testing.assert_array_equal(g, w, err_msg=f"{isa}, {t} threads, vs ONNX reference")
    if ort_ok:
        for g, w in zip(got, ort_run(model, feeds)):
            diff = np.abs(g.astype(np.int64) - w.astype(np.int64))
            assert diff.max(initial=0) <= (1 if g.dtype != np.int32 else 0), "vs ONNX Runtime"


def qlinear_conv_args(xdt, wdt, x_shape, w_shape, per_channel, bias, w_init, w_bits=8):
    m = w_shape[0]
    x = q_data(xdt, x_shape)
    w = q_data(wdt, w_shape, w_bits)
    xs, ys = np.float32(0.02), np.float32(0.15)
    ws = (RNG.uniform(0.002, 0.02, m) if per_channel else RNG.uniform(0.002, 0.02, 1)[:1].reshape(())).astype(
        np.float32)
    winfo = np.iinfo(wdt)
    wz = (RNG.integers(winfo.min // 2, winfo.max // 2, m) if per_channel and wdt == np.uint8
          else np.zeros(m if per_channel else (), np.int64)).astype(wdt)
    xz = np.array(np.iinfo(xdt).min + 100, xdt)
    yz = np.array(np.iinfo(xdt).min + 120, xdt)
    b = RNG.integers(-5000, 5000, m).astype(np.int32) if bias else None
    wrap = Init if w_init else np.asarray
    return [x, xs, xz, wrap(w), wrap(ws), wrap(wz), ys, yz] + ([wrap(b)] if bias else [])


CONV_CASES = [
    # x dtype, w dtype, x shape, w shape, attrs, per_channel, bias
    (np.uint8, np.int8, (1, 3, 9, 11), (8, 3, 3, 3), dict(pads=[1, 1, 1, 1]), True, True),
    (np.uint8, np.int8, (2, 4, 8, 8), (6, 2, 3, 3), dict(group=2, strides=[2, 2]), True, True),
    (np.uint8, np.uint8, (1, 8, 7, 7), (8, 1, 3, 3), dict(group=8, pads=[1, 1, 1, 1]), True, False),
    (np.int8, np.int8, (1, 5, 10, 6), (7, 5, 1, 1), {}, False, True),
    (np.uint8, np.int8, (1, 6, 12, 12), (9, 6, 3, 3), dict(dilations=[2, 2], pads=[2, 1, 0, 2]), True, True),
    # (1-D and 3-D per tensor: the reference evaluator's per-channel w_scale assumes 2-D)
    (np.uint8, np.int8, (1, 16, 15), (20, 16, 5), dict(strides=[3], pads=[2, 2]), False, True),
    (np.int8, np.int8, (1, 2, 4, 5, 6), (3, 2, 2, 3, 3), dict(pads=[0, 1, 1, 1, 1, 0]), False, True),
    (np.uint8, np.int8, (1, 40, 14, 14), (33, 40, 3, 3), dict(auto_pad="SAME_UPPER"), True, True),
    # depthwise (its own kernel): strides with phased rows, dilation, rows past 16 outputs
    (np.uint8, np.int8, (1, 16, 13, 37), (16, 1, 3, 3), dict(group=16, strides=[2, 2], pads=[1, 1, 1, 1]), True, True),
    (np.int8, np.int8, (2, 12, 20, 61), (12, 1, 5, 5), dict(group=12, strides=[2, 3], pads=[2, 1, 2, 3],
                                                              dilations=[1, 2]), True, True),
    (np.uint8, np.int8, (1, 8, 9, 70), (8, 1, 3, 3), dict(group=8, pads=[0, 1, 2, 1]), True, False),
    # short rows (the whole plane is one run): 7x7, odd stride-2 planes, a 1x1 plane, 2 images
    (np.uint8, np.int8, (1, 24, 7, 7), (24, 1, 3, 3), dict(group=24, pads=[1, 1, 1, 1]), True, True),
    (np.uint8, np.int8, (2, 20, 15, 13), (20, 1, 3, 3), dict(group=20, strides=[2, 2], pads=[1, 0, 0, 1]), True, True),
    (np.int8, np.int8, (1, 4, 1, 1), (4, 1, 3, 3), dict(group=4, pads=[1, 1, 1, 1]), True, True),
    # the direct path (no im2col, phase planes): stride 2 over two images, and a 5x5 stride-2 Conv whose
    # right padding makes runs of columns start past the input (im2col once read a column too far there)
    (np.uint8, np.int8, (2, 12, 15, 13), (33, 12, 3, 3), dict(strides=[2, 2], pads=[1, 1, 1, 1]), True, True),
    (np.int8, np.int8, (1, 6, 30, 30), (8, 6, 5, 5), dict(strides=[2, 2], pads=[2, 2, 2, 2]), True, True),
]


@pytest.mark.parametrize("w_bits", [8, 7])
@pytest.mark.parametrize("w_init", [True, False], ids=["weights-init", "weights-input"])
@pytest.mark.parametrize("case", range(len(CONV_CASES)))
def test_qlinear_conv(monkeypatch, case, w_init, w_bits):
    xdt, wdt, xshape, wshape, attrs, per_channel, bias = CONV_CASES[case]
    args = qlinear_conv_args(xdt, wdt, xshape, wshape, per_channel, bias, w_init, w_bits)
    model, feeds = single_op("QLinearConv", args, opset=13, **attrs)
    ort_ok = w_bits == 7 or (xdt, wdt) != (np.uint8, np.int8)
    check(monkeypatch, model, feeds, ort_ok=ort_ok, threads=(1, 3) if case in (7, 12) else (1,))


@pytest.mark.parametrize("case", [0, 3, 4, 7])
def test_qlinear_conv_trained_like_weights(monkeypatch, case):
    """int8 weights as training leaves them: mostly small, 1 in 16 anywhere
    in the range. The byte path (vpmaddubsw on AVX2 / AVX-512BW) cuts the
    few pairs of weights whose sum could saturate and adds the excess back;
    VNNI takes them whole. Every level must still give the reference's
    integers."""
    xdt, _, xshape, wshape, attrs, per_channel, bias = CONV_CASES[case]
    args = qlinear_conv_args(xdt, np.int8, xshape, wshape, per_channel, bias, True)
    w = args[3].value
    w[...] = np.where(RNG.integers(0, 32, w.shape) == 0, w, RNG.integers(-20, 21, w.shape)).astype(np.int8)
    # The pairs the byte path sees: K tap-major, channels padded to 4. Some must
    # break the bound, but few enough (<= 1 in 100) that the path is taken.
    m, cg = w.shape[:2]
    wt = np.zeros((m, w[0, 0].size, -(-cg // 4) * 4), np.int64)
    wt[:, :, :cg] = w.reshape(m, cg, -1).transpose(0, 2, 1)
    wt = wt.reshape(m, -1)
    wt = np.pad(wt, ((0, 0), (0, wt.shape[1] % 2)))
    cut = (np.abs(wt[:, 0::2]) + np.abs(wt[:, 1::2]) > 128).mean()
    assert case != 7 or 0 < cut <= 0.01, cut
    model, feeds = single_op("QLinearConv", args, opset=13, **attrs)
    check(monkeypatch, model, feeds, ort_ok=False, threads=(1, 2))


def test_requantisation_rounds_ties_to_even(monkeypatch):
    """acc * 0.5 lands exactly on .5 for every odd acc: half to even decides."""
    x = np.arange(0, 64, dtype=np.uint8).reshape(1, 1, 8, 8)
    w = np.array([[[[1]]], [[[-3]]]], np.int8)
    args = [x, np.float32(0.5), np.uint8(0), Init(w), Init(np.float32(1.0)), Init(np.int8(0)),
            np.float32(1.0), np.uint8(128)]
    model, feeds = single_op("QLinearConv", args, opset=13)
    check(monkeypatch, model, feeds)
    got = pfw_run(to_pfw(model), feeds)[0].astype(int)
    acc = x.astype(int) * np.array([1, -3]).reshape(1, 2, 1, 1)
    assert np.array_equal(got, np.clip(np.rint(acc * 0.5) + 128, 0, 255))  # numpy rint: half to even


@pytest.mark.parametrize("shapes", [((5, 70), (70, 33)), ((2, 7, 19), (19, 24)), ((3, 4, 6), (3, 6, 5)),
                                    ((9, 300), (300, 2))])
@pytest.mark.parametrize("dt", [(np.uint8, np.int8), (np.int8, np.int8), (np.uint8, np.uint8)])
@pytest.mark.parametrize("w_init", [True, False], ids=["weights-init", "weights-input"])
def test_qlinear_matmul(monkeypatch, shapes, dt, w_init):
    (sa, sb), (adt, bdt) = shapes, dt
    a, b = q_data(adt, sa), q_data(bdt, sb)
    wrap = Init if w_init else np.asarray
    n = sb[-1]
    args = [a, np.float32(0.03), np.array(np.iinfo(adt).min + 90, adt), wrap(b),
            wrap(RNG.uniform(0.001, 0.01, n).astype(np.float32)),
            wrap(np.full(n, 0 if bdt == np.int8 else 128, bdt)), np.float32(0.2),
            np.array(np.iinfo(adt).min + 128, adt)]
    model, feeds = single_op("QLinearMatMul", args, opset=21)
    check(monkeypatch, model, feeds, ort_ok=False, threads=(1, 2))


def test_qlinear_matmul_per_tensor_vs_ort(monkeypatch):
    a, b = q_data(np.uint8, (6, 50)), q_data(np.int8, (50, 17), bits=7)
    args = [a, np.float32(0.03), np.uint8(100), Init(b), Init(np.float32(0.004)), Init(np.int8(0)),
            np.float32(0.2), np.uint8(120)]
    model, feeds = single_op("QLinearMatMul", args, opset=13)
    check(monkeypatch, model, feeds, ort_ok=True)


@pytest.mark.parametrize("w_init", [True, False], ids=["weights-init", "weights-input"])
def test_matmul_integer_zero_points(monkeypatch, w_init):
    """Per-row zero points of A and per-column ones of B, against the closed
    form (A - za[:, None]) @ (B - zb) (the reference evaluator broadcasts a
    per-row zero point along K, and ONNX Runtime takes scalars only)."""
    a, b = q_data(np.uint8, (7, 45)), q_data(np.uint8, (45, 19))
    za, zb = RNG.integers(0, 256, 7).astype(np.uint8), RNG.integers(0, 256, 19).astype(np.uint8)
    wrap = Init if w_init else np.asarray
    model, feeds = single_op("MatMulInteger", [a, wrap(b), za, wrap(zb)], opset=10, out_dtype=np.int32)
    want = (a.astype(np.int64) - za[:, None]) @ (b.astype(np.int64) - zb[None, :])
    for isa in ISAS:
        got = run_isa(monkeypatch, isa, model, feeds)[0]
        assert got.dtype == np.int32
        np.testing.assert_array_equal(got, want, err_msg=isa)


def test_matmul_integer_vs_ort(monkeypatch):
    a, b = q_data(np.uint8, (3, 5, 64)), q_data(np.int8, (64, 40), bits=7)
    model, feeds = single_op("MatMulInteger", [a, Init(b), np.uint8(3), Init(np.int8(0))], opset=10,
                             out_dtype=np.int32)
    check(monkeypatch, model, feeds, ort_ok=True)


def test_conv_integer(monkeypatch):
    x, w = q_data(np.uint8, (2, 4, 9, 9)), q_data(np.uint8, (6, 2, 3, 3))
    model, feeds = single_op("ConvInteger", [x, Init(w), np.uint8(7), Init(np.uint8(130))], opset=10,
                             out_dtype=np.int32, group=2, pads=[1, 0, 1, 2], strides=[1, 2])
    check(monkeypatch, model, feeds, ort_ok=True)


def test_quantize_dequantize_per_axis(monkeypatch):
    """Rounding ties (x / scale = k + 0.5), saturation, NaN-free per-axis
    parameters, for uint8, int8 and int16."""
    x = np.concatenate([np.arange(-8, 8, 0.5), [1e9, -1e9, 0.25, -0.25]]).astype(np.float32).reshape(4, 9)
    for dt in (np.uint8, np.int8, np.int16):
        scale = np.array([0.5, 1.0, 0.25, 2.0], np.float32)
        zp = np.array([0, 3, 7, 1], dt) if dt != np.int8 else np.array([0, -3, 7, 1], dt)
        model, feeds = single_op("QuantizeLinear", [x, Init(scale), Init(zp)], opset=21, axis=0, out_dtype=dt)
        check(monkeypatch, model, feeds, ort_ok=dt != np.int16)
        q = ReferenceEvaluator(model).run(None, feeds)[0]
        model, feeds = single_op("DequantizeLinear", [q, Init(scale), Init(zp)], opset=21, axis=0,
                                 out_dtype=np.float32)
        check(monkeypatch, model, feeds)


def test_errors_name_the_input():
    x = q_data(np.uint8, (1, 2, 4, 4))
    w = q_data(np.int8, (3, 2, 3, 3))
    args = [x, np.float32(0.1), np.uint8(0), Init(w), Init(np.float32(0.0)), Init(np.int8(0)),
            np.float32(1.0), np.uint8(0)]
    model, feeds = single_op("QLinearConv", args, opset=13)
    with pytest.raises(pyfw.InvalidModelError, match=r"QLinearConv.*w scale\) .*|w scale\[0\] is 0; a scale must"):
        pfw_run(to_pfw(model), feeds)
    args[4] = Init(np.float32(0.1))
    model, feeds = single_op("QLinearConv", args, opset=13)
    feeds["in1"] = np.float32(-1.0)
    with pytest.raises(ValueError, match=r"x scale\[0\] is -1; a scale must be positive and finite"):
        pfw_run(to_pfw(model), feeds)
    model, feeds = single_op("QLinearConv", args[:5] + [Init(np.zeros(2, np.int8))] + args[6:], opset=13)
    with pytest.raises(ValueError, match=r"input 5 \(w zero point\) has 2 values in rank 1; expected 1 or 3"):
        pfw_run(to_pfw(model), feeds)



@pytest.mark.parametrize("dt", [np.uint8, np.int8])
@pytest.mark.parametrize("attrs", [dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
                                   dict(kernel_shape=[2, 3], strides=[2, 1], ceil_mode=1, dilations=[1, 2]),
                                   dict(kernel_shape=[3], strides=[2], pads=[2, 2]),
                                   # kernels wider than the input: the column-at-a-time path
                                   dict(kernel_shape=[20], strides=[6], pads=[10, 10]),
                                   dict(kernel_shape=[3, 20], strides=[2, 6], pads=[1, 10, 1, 10]),
                                   # windows spanning the input: rows and columns reading the same inputs
                                   dict(kernel_shape=[40, 30], strides=[1, 2], pads=[20, 15, 20, 15])])
def test_maxpool_on_quantized_data(monkeypatch, dt, attrs):
    """MaxPool on uint8/int8 (quantized tensors pass through it unchanged in scale)."""
    shape = (2, 3, 11) if len(attrs["kernel_shape"]) == 1 else (2, 3, 9, 12)
    model, feeds = single_op("MaxPool", [q_data(dt, shape)], opset=12, **attrs)
    check(monkeypatch, model, feeds, ort_ok=True)


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast")  # the reference's NaN padding of uint8
@pytest.mark.parametrize("strides", [[1, 1], [2, 5]])
def test_maxpool_quantized_long_rows(monkeypatch, strides):
    """Rows longer than one 1,024-output chunk: the window rows' column max
    is taken over each chunk's span of input columns (at stride 5 the span
    passes the 4,096-column buffer and the row-at-a-time walk serves)."""
    model, feeds = single_op("MaxPool", [q_data(np.uint8, (1, 2, 4, 6000))], opset=12, kernel_shape=[2, 3],
                             strides=strides, pads=[0, 1, 1, 1])
    check(monkeypatch, model, feeds, ort_ok=True)


@pytest.mark.parametrize("isa", ["scalar", None])
@pytest.mark.parametrize("dt", [np.uint8, np.int8])
@pytest.mark.parametrize("pads", [[0, 6, 0, 0], [1, 7, 0, 5], [0, 0, 2, 9], [4, 3, 4, 3]])
def test_maxpool_quantized_pads_wider_than_the_kernel(monkeypatch, isa, dt, pads):
    """Pads wider than the kernel (ONNX Runtime refuses them): windows wholly
    in the padding give the dtype's lowest value and no window reads a tap
    past the kernel (the fuzzer's find: a left pad of 4,098 walked 4,098
    taps). NumPy closed form: the max over the input padded with the lowest value."""
    if isa:
        monkeypatch.setenv("PFW_ISA", isa)
    x = q_data(dt, (1, 2, 4, 15))
    model, feeds = single_op("MaxPool", [x], opset=12, kernel_shape=[3, 3], pads=pads)
    (got,) = pfw_run(to_pfw(model), feeds)
    lo = np.iinfo(dt).min
    xp = np.pad(x, [(0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])], constant_values=lo)
    want = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(2, 3)).max(axis=(4, 5))
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("n", [1, 7, 33, 100, 1029])
@pytest.mark.parametrize("kind", ["mixed", "positive", "negative"])
def test_dynamic_quantize_linear(monkeypatch, n, kind):
    """Range (vector min/max with tails), scale, zero point and the quantized
    values, at every ISA level, against the reference evaluator exactly."""
    from onnx import TensorProto, helper
    x = RNG.standard_normal(n).astype(np.float32) * 3
    x = np.abs(x) if kind == "positive" else -np.abs(x) if kind == "negative" else x
    x[RNG.integers(0, n)] = {"mixed": -7.5, "positive": 9.25, "negative": -9.25}[kind]  # the extreme, anywhere
    node = helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "scale", "zero"])
    graph = helper.make_graph([node], "dql", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n])],
                              [helper.make_tensor_value_info("y", TensorProto.UINT8, [n]),
                               helper.make_tensor_value_info("scale", TensorProto.FLOAT, []),
                               helper.make_tensor_value_info("zero", TensorProto.UINT8, [])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    check(monkeypatch, model, {"x": x}, ort_ok=False)
