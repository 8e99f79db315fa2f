"""float16 and bfloat16 in the element-wise ops libpfw computes through
float32: Add/Sub/Mul/Div, Max/Min, Mod, the unary math and activations of
the map engine, IsNaN/IsInf. Oracles are closed forms in float64 with NumPy
(and ml_dtypes for bfloat16): + - * / must equal the correctly rounded
result (float32 holds more than twice their precision, so rounding twice
changes nothing), Max/Min/Mod are exact, and a map op is f(x) in float64
rounded to float32 and then to the half type, as documented."""
from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from onnx_util import Init, pfw_run, single_op, to_pfw

HALVES = {"float16": np.dtype(np.float16), "bfloat16": np.dtype(ml_dtypes.bfloat16)}


def values(dt, n=4096, seed=0):
    """Every kind of value: random bit patterns (normals, subnormals, infinities, NaNs) and ordinary numbers."""
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 1 << 16, n, dtype=np.uint16).view(dt)
    plain = rng.standard_normal(n).astype(np.float32).astype(dt)
    return np.concatenate([raw, plain])


def run(op, *args, out_dtype=None, **attrs):
    # where ONNX's schemas admit float16 and bfloat16 for these ops (Celu from opset 28)
    opset = 28 if op == "Celu" else 25
    model, feeds = single_op(op, list(args), opset=opset, out_dtype=out_dtype, **attrs)
    return pfw_run(to_pfw(model), feeds)[0]


def same(got, want):
    assert got.dtype == want.dtype and got.shape == want.shape
    g, w = got.view(np.uint16), want.view(np.uint16)
    nan_g, nan_w = np.isnan(got.astype(np.float32)), np.isnan(want.astype(np.float32))
    np.testing.assert_array_equal(nan_g, nan_w)
    bad = np.nonzero((g != w) & ~nan_w)[0]
    assert bad.size == 0, [(i, int(g[i]), int(w[i])) for i in bad[:6]]


@pytest.mark.parametrize("op,fn", [("Add", np.add), ("Sub", np.subtract), ("Mul", np.multiply),
                                   ("Div", np.divide)])
@pytest.mark.parametrize("name", HALVES)
def test_arithmetic_is_correctly_rounded(name, op, fn):
    dt = HALVES[name]
    x, y = values(dt, seed=1), values(dt, seed=2)
    with np.errstate(all="ignore"):
        want = fn(x.astype(np.float64), y.astype(np.float64)).astype(dt)
    same(run(op, x, y), want)


@pytest.mark.parametrize("name", HALVES)
def test_max_min_mod_are_exact(name):
    dt = HALVES[name]
    x, y = values(dt, seed=3), values(dt, seed=4)
    with np.errstate(invalid="ignore"):
        x64, y64 = x.astype(np.float64), y.astype(np.float64)
    same(run("Max", x, y), np.where(np.isnan(x64) | (x64 > y64), x, y))
    same(run("Min", x, y), np.where(np.isnan(x64) | (x64 < y64), x, y))
    with np.errstate(all="ignore"):
        same(run("Mod", x, y, fmod=1), np.fmod(x64, y64).astype(dt))


def through_float32(f, x, dt):
    with np.errstate(all="ignore"):
        return f(x.astype(np.float64)).astype(np.float32).astype(dt)


MAPS = [
    ("Exp", {}, np.exp), ("Log", {}, np.log), ("Sqrt", {}, np.sqrt), ("Sin", {}, np.sin),
    ("Abs", {}, np.abs), ("Neg", {}, np.negative), ("Floor", {}, np.floor),
    ("Elu", {"alpha": 0.5}, lambda v: np.where(v > 0, v, 0.5 * np.expm1(v))),
    ("Celu", {"alpha": 2.0}, lambda v: np.maximum(0, v) + np.minimum(0, 2.0 * np.expm1(v / 2.0))),
    ("Softsign", {}, lambda v: v / (1 + np.abs(v))),
]


@pytest.mark.parametrize("op,attrs,fn", [m for m in MAPS])
@pytest.mark.parametrize("name", HALVES)
def test_map_ops_round_through_float32(name, op, attrs, fn):
    dt = HALVES[name]
    x = values(dt, seed=5)
    same(run(op, x, **attrs), through_float32(fn, x, dt))


@pytest.mark.parametrize("name", HALVES)
def test_isnan_isinf(name):
    dt = HALVES[name]
    x = values(dt, seed=6)
    f = x.astype(np.float32)
    np.testing.assert_array_equal(run("IsNaN", x, out_dtype=np.bool_), np.isnan(f))
    np.testing.assert_array_equal(run("IsInf", x, out_dtype=np.bool_, detect_negative=0), np.isposinf(f))


def test_an_op_without_half_support_names_the_dtype():
    import pyfw
    x = values(HALVES["float16"])[:8]
    model, feeds = single_op("Relu", [x], opset=21)
    with pytest.raises(pyfw.UnsupportedError, match="float16"):
        pfw_run(to_pfw(model), feeds)


def small_integers(dt, shape, seed):
    """Values whose products and sums are exact in double (and in float32 up
    to 2^24), so the only rounding is the final one to the half type."""
    rng = np.random.default_rng(seed)
    return (rng.integers(-16, 17, shape) / 4).astype(np.float32).astype(dt)


@pytest.mark.parametrize("name", [*HALVES, "float64"])
def test_matmul_rounds_the_exact_product_once(name):
    dt = HALVES.get(name, np.dtype(np.float64))
    a, b = small_integers(dt, (2, 3, 5, 7), 7), small_integers(dt, (3, 7, 4), 8)
    exact = np.matmul(a.astype(np.float64), b.astype(np.float64))
    same_or_equal = same if dt.itemsize == 2 else np.testing.assert_array_equal
    same_or_equal(run("MatMul", a, b), exact.astype(np.float32).astype(dt) if dt.itemsize == 2 else exact)


@pytest.mark.parametrize("name", HALVES)
def test_reductions_and_comparisons(name):
    dt = HALVES[name]
    x = small_integers(dt, (3, 4, 5), 9)
    x64 = x.astype(np.float64)
    axes = Init(np.array([1], np.int64))
    same(run("ReduceMax", x, axes, keepdims=0), x64.max(axis=1).astype(dt))
    same(run("ReduceSum", x, axes, keepdims=0), x64.sum(axis=1).astype(np.float32).astype(dt))
    y = small_integers(dt, (4, 5), 10)
    for op, fn in [("Equal", np.equal), ("Less", np.less), ("GreaterOrEqual", np.greater_equal)]:
        np.testing.assert_array_equal(run(op, x, y, out_dtype=np.bool_), fn(x64, y.astype(np.float64)))


@pytest.mark.parametrize("name", HALVES)
def test_softmax_is_within_one_unit_of_the_exact_value(name):
    """Computed in float32 with a double sum: within an ulp of float32 of the
    exact value, so rounded to the half type it is the exact value's nearest
    code or, only next to a tie, its neighbour."""
    dt = HALVES[name]
    x = (np.random.default_rng(11).standard_normal((4, 9)) * 3).astype(np.float32).astype(dt)
    x64 = x.astype(np.float64)
    e = np.exp(x64 - x64.max(axis=1, keepdims=True))
    for op, want in [("Softmax", e / e.sum(axis=1, keepdims=True)),
                     ("LogSoftmax", np.log(e / e.sum(axis=1, keepdims=True)))]:
        got = run(op, x, axis=1).astype(np.float64)
        ulp = np.abs(np.spacing(want.astype(dt).astype(np.float64).astype(np.float32))) * (
            (1 << 13) if dt == np.float16 else (1 << 16))  # float32 spacing scaled to the half type's
        assert np.all(np.abs(got - want) <= ulp), (op, np.max(np.abs(got - want) / ulp))


@pytest.mark.parametrize("dt", HALVES)
@pytest.mark.parametrize("start,limit,delta", [(0.1, 17.3, 0.3), (-3.7, 40.1, 0.77), (5.0, -2.0, -0.35)])
def test_range_of_half_types_matches_onnx_reference(dt, start, limit, delta):
    """Range in float16/bfloat16 (opset 27): ONNX's reference evaluator (NumPy's
    arange in the half type) is the oracle, bit for bit; inexact steps, so
    every element's rounding is checked."""
    from onnx.reference import ReferenceEvaluator

    args = [np.array(v, HALVES[dt]) for v in (start, limit, delta)]
    model, feeds = single_op("Range", args, opset=27)
    same(pfw_run(to_pfw(model), feeds)[0], ReferenceEvaluator(model).run(None, feeds)[0])


CONVS = [
    ((2, 4, 9), (6, 2, 3), dict(group=2, strides=[2], pads=[1, 2])),
    ((1, 3, 8, 7), (4, 3, 3, 2), dict(pads=[1, 0, 2, 1], dilations=[2, 1])),
    ((2, 6, 7, 6), (6, 1, 3, 3), dict(group=6, strides=[1, 2], auto_pad="SAME_UPPER")),  # depthwise
    ((1, 2, 4, 5, 6), (3, 2, 2, 3, 2), dict(strides=[1, 2, 1])),
]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("xs, ws, attrs", CONVS, ids=["1d-grouped", "2d-dilated", "2d-depthwise", "3d"])
@pytest.mark.parametrize("name", HALVES)
def test_conv_rounds_the_exact_result_once(name, xs, ws, attrs, bias):
    """Conv in float16/bfloat16 runs through float32: with operands whose
    products and sums are exact, each output is the exact value (ONNX's
    reference evaluator in float64 on the float32 model) rounded to float32
    and then to the half type, bit for bit."""
    from onnx_util import reference64
    dt = HALVES[name]
    x, w = small_integers(dt, xs, 11), small_integers(dt, ws, 12)
    args = [x, Init(w)] + ([Init(small_integers(dt, (ws[0],), 13))] if bias else [])
    model, feeds = single_op("Conv", args, opset=22, **attrs)
    f32 = [a.astype(np.float32) if isinstance(a, np.ndarray) else Init(a.value.astype(np.float32)) for a in args]
    exact = reference64(*single_op("Conv", f32, opset=22, **attrs))[0]
    same(pfw_run(to_pfw(model), feeds)[0], exact.astype(np.float32).astype(dt))

