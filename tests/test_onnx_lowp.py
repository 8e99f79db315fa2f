"""The low-precision dtypes -- float8 (E4M3FN, E4M3FNUZ, E5M2, E5M2FNUZ),
float4 E2M1, E8M0 and 4-/2-bit integers -- through Cast, CastLike,
QuantizeLinear and DequantizeLinear in libpfw. Oracles: ml_dtypes (the
conversions ONNX's reference is built on) bit for bit over every code and the
rounding boundaries between codes, onnx.numpy_helper.to_float8e8m0 for E8M0,
ONNX's reference evaluator for quantization, and ONNX Runtime on the model
exported back to ONNX (where ONNX packs the 4-bit values again)."""
from __future__ import annotations

import ml_dtypes
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

import pyfw.format
import pyfw.onnx

from onnx_util import build, ort_run, pfw_run, to_pfw, value_info

OPSET = 25  # Cast/QuantizeLinear with int2/uint2, float4 and round_mode
FLOAT8 = {
    TensorProto.FLOAT8E4M3FN: ml_dtypes.float8_e4m3fn,
    TensorProto.FLOAT8E4M3FNUZ: ml_dtypes.float8_e4m3fnuz,
    TensorProto.FLOAT8E5M2: ml_dtypes.float8_e5m2,
    TensorProto.FLOAT8E5M2FNUZ: ml_dtypes.float8_e5m2fnuz,
}
MINIFLOATS = {**FLOAT8, TensorProto.FLOAT4E2M1: ml_dtypes.float4_e2m1fn}
LOWINTS = {TensorProto.INT4: ml_dtypes.int4, TensorProto.UINT4: ml_dtypes.uint4,
           TensorProto.INT2: ml_dtypes.int2, TensorProto.UINT2: ml_dtypes.uint2}
NAME = {code: TensorProto.DataType.Name(code) for code in [*MINIFLOATS, *LOWINTS, TensorProto.FLOAT8E8M0]}


def run(nodes, feeds, outputs, inits=None):
    inputs = [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
              for k, v in feeds.items()]
    outs = [helper.make_tensor_value_info(name, dt, None) for name, dt in outputs]
    model = build(nodes, inputs, outs, inits, opset=OPSET)
    return model, pfw_run(to_pfw(model), feeds)


def cast(x, to, **attrs):
    model, (y,) = run([helper.make_node("Cast", ["x"], ["y"], to=to, **attrs)], {"x": x}, [("y", to)])
    return y


def bits(a):
    return np.ascontiguousarray(a).view(np.uint8)


def codes(t):
    """Every bit pattern of ml_dtypes type t, as an array of t."""
    width = 8 if np.dtype(t).name.startswith("float8") else 4 if "4" in np.dtype(t).name else 2
    return np.arange(1 << width, dtype=np.uint8).view(t)


def boundaries(t):
    """Each finite value of t, the midpoints between neighbours (the ties),
    the float32 values either side of those, beyond the largest value, and
    the specials."""
    v = np.unique(np.abs(codes(t).astype(np.float32)))
    v = v[np.isfinite(v)]
    mids = (v[:-1] + v[1:]) / 2
    top = float(ml_dtypes.finfo(t).max)
    pts = np.concatenate([v, mids, [top * 1.0625, top * 1.25, top * 4, 1e30, 3e-45]]).astype(np.float32)
    pts = np.concatenate([pts, np.nextafter(pts, np.float32(np.inf)), np.nextafter(pts, np.float32(0))])
    return np.concatenate([pts, -pts, np.array([np.inf, -np.inf, np.nan], np.float32)])


@pytest.mark.parametrize("code", list(MINIFLOATS) + list(LOWINTS) + [TensorProto.FLOAT8E8M0], ids=NAME.get)
def test_every_code_decodes_as_ml_dtypes_does(code):
    t = {**MINIFLOATS, **LOWINTS, TensorProto.FLOAT8E8M0: ml_dtypes.float8_e8m0fnu}[code]
    x = codes(t)
    got, want = cast(x, TensorProto.FLOAT), x.astype(np.float32)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    np.testing.assert_array_equal(got[ok].view(np.uint32), want[ok].view(np.uint32))  # -0 included
    # float16 too, which holds every one of these values exactly (E8M0's beyond it: infinity)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(cast(x, TensorProto.FLOAT16)[ok], want[ok].astype(np.float16))


@pytest.mark.parametrize("saturate", [1, 0])
@pytest.mark.parametrize("code", list(MINIFLOATS), ids=NAME.get)
def test_float_to_minifloat_rounds_and_saturates_as_onnx_says(code, saturate):
    t = MINIFLOATS[code]
    x = boundaries(t)
    if code == TensorProto.FLOAT4E2M1:
        x = x[~(np.isnan(x) & np.signbit(x))]  # E2M1 has no NaN: +NaN gives -0 as in ml_dtypes; -NaN is open
    # ONNX's rules: saturate clamps to the finite range first (infinities included)
    finite_max = np.float32(ml_dtypes.finfo(t).max)
    want = (np.clip(x, -finite_max, finite_max) if saturate else x).astype(t)
    got = cast(x, code, saturate=saturate)
    assert got.dtype == np.dtype(t)
    bad = np.nonzero(bits(got) != bits(want))[0]
    assert bad.size == 0, [(float(x[i]), int(bits(got)[i]), int(bits(want)[i])) for i in bad[:8]]


@pytest.mark.parametrize("round_mode", ["up", "down", "nearest"])
@pytest.mark.parametrize("saturate", [1, 0])
def test_float_to_e8m0_follows_onnx_rounding(round_mode, saturate):
    rng = np.random.default_rng(0)
    powers = np.ldexp(np.float32(1), np.arange(-127, 128)).astype(np.float32)
    x = np.concatenate([powers, powers * 1.5, powers * 1.25, powers * 1.75, np.nextafter(powers, np.float32(0)),
                        rng.uniform(0, 10, 200).astype(np.float32), [0, 1e-45, 3.4e38, np.inf, np.nan]])
    x = x[np.isfinite(x) | np.isnan(x) | np.isinf(x)].astype(np.float32)
    want = numpy_helper.to_float8e8m0(x, bool(saturate), round_mode)
    got = cast(x, TensorProto.FLOAT8E8M0, saturate=saturate, round_mode=round_mode)
    np.testing.assert_array_equal(bits(got), bits(want))


@pytest.mark.parametrize("code", list(LOWINTS), ids=NAME.get)
def test_casts_to_4_and_2_bit_integers(code):
    t = LOWINTS[code]
    # from float: truncation, and 0 outside the range (as the reference, where ONNX leaves it open)
    x = np.array([0, 0.9, -0.9, 1.5, -1.5, 2.7, -2.7, 3.5, 7.9, -8.9, 8, 15.5, 16, -9, 1e10, np.nan, np.inf],
                 np.float32)
    with np.errstate(invalid="ignore"):
        want = x.astype(t)
    np.testing.assert_array_equal(bits(cast(x, code)), bits(want))
    # from integers: the low bits, as ONNX says for integer casts out of range
    i = np.arange(-40, 40, dtype=np.int32)
    np.testing.assert_array_equal(bits(cast(i, code)), bits(i.astype(t)))
    # and back: every code to int8 and int64
    c = codes(t)
    np.testing.assert_array_equal(cast(c, TensorProto.INT8), c.astype(np.int8))
    np.testing.assert_array_equal(cast(c, TensorProto.INT64), c.astype(np.int64))


def test_integer_casts_keep_the_low_bits():
    """ONNX: an integer cast out of range discards the higher bits (200 int16 -> -56 int8)."""
    x = np.array([200, -200, 32767, -32768, 255, 256, -1], np.int16)
    for to, np_t in [(TensorProto.INT8, np.int8), (TensorProto.UINT8, np.uint8), (TensorProto.UINT16, np.uint16)]:
        np.testing.assert_array_equal(cast(x, to), x.astype(np_t))
    big = np.array([2**40 + 5, -(2**40) - 5, 2**63 - 1], np.int64)
    np.testing.assert_array_equal(cast(big, TensorProto.INT32), big.astype(np.int32))
    np.testing.assert_array_equal(cast(big, TensorProto.UINT32), big.astype(np.uint32))


def test_castlike_takes_the_dtype_and_saturate_of_the_like_input():
    x = np.array([1.0, 500.0, -1e6, np.inf], np.float32)
    like = np.zeros(1, ml_dtypes.float8_e4m3fn)
    _, (y,) = run([helper.make_node("CastLike", ["x", "like"], ["y"], saturate=0)], {"x": x, "like": like},
                  [("y", TensorProto.FLOAT8E4M3FN)])
    np.testing.assert_array_equal(bits(y), bits(x.astype(ml_dtypes.float8_e4m3fn)))


def qdq_matches_reference(x, scale, zero, code, attrs):
    """QuantizeLinear then DequantizeLinear of x (scale and zero point as
    initializers): both outputs bit for bit as ONNX's reference evaluator's.
    Returns the quantized values."""
    q_attrs = dict(attrs)
    dq_attrs = {k: v for k, v in attrs.items() if k == "axis"}
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], **q_attrs),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], **dq_attrs)]
    graph = helper.make_graph(nodes, "g", [value_info("x", np.float32, x.shape)],
                              [helper.make_tensor_value_info("q", code, x.shape),
                               helper.make_tensor_value_info("y", TensorProto.FLOAT, x.shape)],
                              [numpy_helper.from_array(scale, "s"), numpy_helper.from_array(zero, "z")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    onnx.checker.check_model(model, full_check=True)
    q, y = pfw_run(to_pfw(model), {"x": x})
    want_q, want_y = ReferenceEvaluator(model).run(None, {"x": x})
    np.testing.assert_array_equal(bits(q), bits(want_q))
    np.testing.assert_array_equal(y, want_y)
    return q


@pytest.mark.parametrize("code", list(LOWINTS), ids=NAME.get)
def test_quantize_dequantize_4_and_2_bit_per_axis_match_the_reference(code):
    t = LOWINTS[code]
    lo, hi = int(ml_dtypes.iinfo(t).min), int(ml_dtypes.iinfo(t).max)
    rng = np.random.default_rng(code)
    x = rng.uniform(-12, 12, (3, 5)).astype(np.float32)
    scale = np.array([0.5, 1.5, 3.0], np.float32)
    zero = np.array([lo, (lo + hi) // 2, hi], t)
    q = qdq_matches_reference(x, scale, zero, code, {"axis": 0})
    assert set(bits(q).ravel()) <= set(bits(codes(t)))  # high bits written as 0


@pytest.mark.parametrize("saturate", [1, 0])
@pytest.mark.parametrize("code", list(MINIFLOATS), ids=NAME.get)
def test_quantize_dequantize_float8_and_float4_match_the_reference(code, saturate):
    t = MINIFLOATS[code]
    x = np.array([0, 0.3, -0.3, 1, 2.5, -7, 100, -100, 1e5, -1e5, 3e-3], np.float32)
    scale = np.array(0.25, np.float32)
    zero = np.zeros((), t)
    qdq_matches_reference(x, scale, zero, code, {} if code == TensorProto.FLOAT4E2M1 else {"saturate": saturate})


def test_int4_weights_export_back_packed_and_onnx_runtime_agrees(tmp_path):
    """An int4 weight-only-quantized MatMul (per-column scales): pyfw keeps
    one value per byte, the exported ONNX packs them again, and ONNX Runtime
    gives pyfw's outputs on both the original and the exported model."""
    rng = np.random.default_rng(1)
    w = rng.integers(-8, 8, (6, 4)).astype(ml_dtypes.int4)
    s = rng.uniform(0.05, 0.2, 4).astype(np.float32)
    nodes = [helper.make_node("DequantizeLinear", ["w", "s"], ["wf"], axis=1),
             helper.make_node("MatMul", ["x", "wf"], ["y"])]
    graph = helper.make_graph(nodes, "g", [value_info("x", np.float32, (3, 6))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, (3, 4))],
                              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(s, "s")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    onnx.checker.check_model(model, full_check=True)
    feeds = {"x": rng.standard_normal((3, 6)).astype(np.float32)}
    pfw = to_pfw(model)
    (got,) = pfw_run(pfw, feeds)
    (want,) = ort_run(model, feeds)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    g = pyfw.format.load(pfw)
    assert g.tensors["w"].dtype == "int4" and g.tensors["w"].data.nbytes == w.size  # one per byte in .pfw
    exported = pyfw.onnx.export_model(g)
    onnx.checker.check_model(exported, full_check=True)
    packed = next(i for i in exported.graph.initializer if i.name == "w")
    assert packed.data_type == TensorProto.INT4 and len(packed.raw_data) == w.size // 2
    (again,) = ort_run(exported, feeds)
    np.testing.assert_array_equal(again, want)


def test_a_4_bit_tensor_with_stray_high_bits_reads_as_its_low_bits():
    """Feeds are untrusted: bytes with the high bits set read as the low
    nibble (as ml_dtypes does), never as something else."""
    raw = np.array([0x0F, 0xF7, 0x38, 0x80], np.uint8)
    got = cast(raw.view(ml_dtypes.int4), TensorProto.INT32)
    np.testing.assert_array_equal(got, [-1, 7, -8, 0])
