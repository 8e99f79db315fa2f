"""Broadcasting binary and variadic ops, comparisons, logic and Where, one
small ONNX model per case: ONNX Runtime is the oracle, pyfw runs the
converted .pfw (ONNX's reference evaluator is the oracle where ONNX Runtime
has no kernel: bool Where, float64 Mean). Floats to rtol 1e-5 / atol 1e-6, integers and bools exactly."""
import numpy as np
import pytest

from onnx_util import Init, assert_match, check_or_reference, ort_run, pfw_run, single_op, to_pfw
from test_onnx_ops import SHAPES, away_from_zero, ints, rand

rng = np.random.default_rng(20261126)
f32, f64, i32, i64 = np.float32, np.float64, np.int32, np.int64
DTYPES = [f32, f64, i32, i64]
SMALL_INTS = [np.int8, np.uint8, np.int16, np.uint16, np.uint32, np.uint64]


def values(dtype, shape, high=6):
    """Small values with repeats, so that comparisons see equal pairs."""
    if np.dtype(dtype).kind == "f":
        return (rng.integers(-high, high + 1, shape) / 2).astype(dtype)
    if np.dtype(dtype).kind == "u":
        return rng.integers(0, 2 * high + 1, shape).astype(dtype)
    return ints(*shape, dtype=dtype, high=high)


def run(op, args, opset=None, out_dtype=None, threads=1, **attrs):
    kw = {} if opset is None else {"opset": opset}
    model, feeds = single_op(op, args, out_dtype=out_dtype, **kw, **attrs)
    return check_or_reference(model, feeds, threads)


def ids(dt):
    return np.dtype(dt).name


# ---- comparisons and logic ------------------------------------------------------------
COMPARE = [pytest.param(op, dt, sa, sb, id=f"{op}-{ids(dt)}-{sid}")
           for op in ("Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual") for dt in DTYPES
           for sid, (sa, sb) in SHAPES.items()]


@pytest.mark.parametrize("op,dtype,sa,sb", COMPARE)
def test_compare(op, dtype, sa, sb):
    run(op, [values(dtype, sa), values(dtype, sb)], out_dtype=np.bool_)


@pytest.mark.parametrize("dtype", SMALL_INTS, ids=ids)
@pytest.mark.parametrize("op", ["Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual"])
def test_compare_small_ints(op, dtype):
    """The extremes of each type: no widening through a signed or float type."""
    info = np.iinfo(dtype)
    a = np.array([info.min, info.max, 0, 1, info.max, info.min], dtype)
    b = np.array([info.max, info.min, 0, 2, info.max - 1, info.min], dtype)
    run(op, [a, b], opset=16, out_dtype=np.bool_)
    run(op, [values(dtype, (3, 1, 5)), values(dtype, (1, 4, 1))], opset=16, out_dtype=np.bool_)


def test_compare_nan_and_signed_zero():
    a = np.array([np.nan, 0.0, -0.0, np.inf, 1.0, np.nan], f32)
    b = np.array([np.nan, -0.0, 0.0, np.inf, np.nan, 1.0], f32)
    for op in ("Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual"):
        run(op, [a, b], out_dtype=np.bool_)


def bools(*shape):
    return rng.integers(0, 2, shape).astype(np.bool_)


@pytest.mark.parametrize("sa,sb", list(SHAPES.values()), ids=list(SHAPES))
@pytest.mark.parametrize("op", ["And", "Or", "Xor", "Equal"])
def test_logic(op, sa, sb):
    run(op, [bools(*sa), bools(*sb)], out_dtype=np.bool_)


# ---- Where ------------------------------------------------------------------------
WHERE_SHAPES = {
    "same": ((2, 3), (2, 3), (2, 3)),
    "scalar_xy": ((2, 3), (), ()),
    "cond_row": ((3,), (2, 3), (2, 1)),
    "three_way": ((2, 1, 1), (1, 3, 1), (1, 1, 4)),
    "rank_mix": ((4,), (2, 3, 1), ()),
}


@pytest.mark.parametrize("shapes", list(WHERE_SHAPES.values()), ids=list(WHERE_SHAPES))
@pytest.mark.parametrize("dtype", [f32, f64, i32, i64, np.bool_, np.uint8, np.int8], ids=ids)
def test_where(dtype, shapes):
    sc, sx, sy = shapes
    if dtype == np.bool_:
        x, y = bools(*sx), bools(*sy)
    else:
        x, y = values(dtype, sx, high=60).astype(dtype), values(dtype, sy, high=60).astype(dtype)
    run("Where", [bools(*sc), x, y], out_dtype=x.dtype)


def test_where_constant_branch():
    run("Where", [bools(3, 4), rand(3, 4), Init(np.array(-1.0, f32))], out_dtype=f32)


# ---- Pow ----------------------------------------------------------------------------
POW = [pytest.param(bt, et, sid, id=f"{ids(bt)}^{ids(et)}-{sid}")
       for bt in (f32, f64) for et in DTYPES for sid in ("same", "scalar_right", "both_sides", "rank_mismatch")]


@pytest.mark.parametrize("base,exp,sid", POW)
def test_pow(base, exp, sid):
    sa, sb = SHAPES[sid]
    x = rng.uniform(0.1, 3, sa).astype(base)
    e = (rng.integers(-3, 4, sb) if np.dtype(exp).kind == "i" else rng.uniform(-2.5, 2.5, sb)).astype(exp)
    run("Pow", [x, e])


def test_pow_negative_base():
    """Integer exponents of negative bases are real; fractional ones NaN."""
    x = np.array([-2, -0.5, 0, 0, 3, -1], f32)
    run("Pow", [x, np.array([3, 2, 0, -1, 0.5, 0.5], f32)])
    run("Pow", [x, np.array([3, -2, 0, 2, 1, 7], i64)])


@pytest.mark.parametrize("dtype", [i32, i64], ids=ids)
def test_pow_integer_base(dtype):
    """Integral exponents >= 0: the exact power, wrapped to the width as NumPy's
    integer power wraps; any exponent dtype. Against NumPy and ONNX Runtime."""
    x = np.array([2, -3, 0, 7, -1, 5, 3], dtype)
    for et in (i32, i64, np.uint8, np.uint64, np.int16):
        e = np.array([10, 3, 0, 2, 5, 1, 40], et)
        model, feeds = single_op("Pow", [x, e], opset=15)
        with np.errstate(over="ignore"):
            want = np.power(x.astype(np.int64), e.astype(np.int64)).astype(dtype)
        np.testing.assert_array_equal(pfw_run(to_pfw(model), feeds)[0], want, err_msg=str(et))
    run("Pow", [np.array([1, 2, 3, 4], dtype), np.array([3, 2, 1, 0], dtype)], opset=15)


def test_pow_integer_base_with_float_or_negative_exponent():
    """Through double pow, truncated toward zero, saturated instead of undefined."""
    x = np.array([2, 9, -8, 2, 0, 10, 1, -1], i32)
    e = np.array([0.5, 0.5, 1 / 3, -1, -1, 12, -3, -3], f32)
    model, feeds = single_op("Pow", [x, e], opset=15)
    got = pfw_run(to_pfw(model), feeds)[0]
    want = [1, 3, 0, 0, np.iinfo(i32).max, np.iinfo(i32).max, 1, -1]  # (-8)^(1/3) is NaN -> 0
    np.testing.assert_array_equal(got, np.array(want, i32))
    run("Pow", [np.array([1, 2, 3], i64), np.array([3.0, 2.0, 1.5], f32)], opset=15)


@pytest.mark.parametrize("et", [np.uint32, np.uint64, np.int8, np.uint16], ids=ids)
def test_pow_float_base_any_integer_exponent(et):
    run("Pow", [rng.uniform(0.5, 2, (3, 4)).astype(f32), np.array([0, 1, 2, 3], et)], opset=15)


def test_pow_opset12():
    run("Pow", [rng.uniform(0.5, 2, (3, 4)).astype(f32), Init(np.array(2, i32))], opset=12)


# ---- Mod ----------------------------------------------------------------------------
@pytest.mark.parametrize("fmod", [0, 1])
@pytest.mark.parametrize("dtype", [i32, i64], ids=ids)
def test_mod_integer_signs(dtype, fmod):
    a = np.array([7, -7, 7, -7, 6, -6, 0, 5, np.iinfo(dtype).min, np.iinfo(dtype).max], dtype)
    b = np.array([3, 3, -3, -3, 3, -3, 4, 1, -1, -2], dtype)
    (got,) = run("Mod", [a, b], fmod=fmod)
    want = np.fmod(a, b) if fmod else np.mod(a, b)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("sid", list(SHAPES))
@pytest.mark.parametrize("dtype,fmod", [(i32, 0), (i64, 0), (i64, 1), (f32, 1), (f64, 1)], ids=str)
def test_mod_broadcast(dtype, fmod, sid):
    sa, sb = SHAPES[sid]
    if np.dtype(dtype).kind == "f":
        a, b = rand(*sa, scale=10).astype(dtype), away_from_zero(*sb, dtype=dtype)
    else:
        a, b = ints(*sa, dtype=dtype, high=100), away_from_zero(*sb, dtype=dtype)
    run("Mod", [a, b], fmod=fmod)


@pytest.mark.parametrize("fmod", [0, 1])
@pytest.mark.parametrize("dtype", SMALL_INTS, ids=ids)
def test_mod_small_ints(dtype, fmod):
    """NumPy's floor (fmod=0) and truncated (fmod=1) remainders are the oracle; the
    extremes of each type included (MIN % -1 is 0, not a trap)."""
    info = np.iinfo(dtype)
    if info.min < 0:
        a = np.array([7, -7, 7, -7, 6, -6, 0, info.min, info.max, info.min], dtype)
        b = np.array([3, 3, -3, -3, 3, -3, 4, -1, -2, 7], dtype)
    else:
        a = np.array([7, 0, info.max, info.max, 5, 1], dtype)
        b = np.array([3, 4, 2, info.max, info.max, 1], dtype)
    model, feeds = single_op("Mod", [a, b], fmod=fmod)
    with np.errstate(over="ignore"):
        want = np.fmod(a, b) if fmod else np.mod(a, b)
    np.testing.assert_array_equal(pfw_run(to_pfw(model), feeds)[0], want)
    run("Mod", [values(dtype, (3, 1, 5), high=40), away_from_zero(1, 4, 1, dtype=dtype)], fmod=fmod)


def test_mod_by_zero_is_an_error():
    model, feeds = single_op("Mod", [np.array([1, 2], i64), np.array([1, 0], i64)])
    with pytest.raises(ValueError, match="modulo by zero"):
        pfw_run(to_pfw(model), feeds)


# ---- PRelu ---------------------------------------------------------------------------
PRELU = {
    "per_channel": ((2, 3, 4, 4), (3, 1, 1)),
    "scalar": ((2, 5), (1,)),
    "same": ((3, 4), (3, 4)),
    "trailing": ((2, 3, 4), (4,)),
}


@pytest.mark.parametrize("shapes", list(PRELU.values()), ids=list(PRELU))
@pytest.mark.parametrize("dtype", [f32, f64], ids=ids)
def test_prelu(dtype, shapes):
    sx, ss = shapes
    run("PRelu", [rand(*sx, scale=3).astype(dtype), Init(rand(*ss).astype(dtype))])


def test_prelu_slope_input():
    run("PRelu", [rand(2, 3, 4), rand(3, 1)])


# ---- variadic -------------------------------------------------------------------------
VARIADIC = {
    "one": [(3, 4)],
    "two_same": [(3, 4), (3, 4)],
    "three_broadcast": [(3, 1), (1, 4), ()],
    "four_rank_mix": [(4,), (2, 3, 4), (3, 1), (1,)],
    "first_smaller": [(), (2, 3), (2, 3)],
    # the first fold step broadcasts two single values over the whole output
    "first_two_single": [(1,), (), (5, 37)],
}


@pytest.mark.parametrize("shapes", list(VARIADIC.values()), ids=list(VARIADIC))
@pytest.mark.parametrize("op,dtype", [(op, dt) for op in ("Max", "Min") for dt in DTYPES]
                         + [(op, dt) for op in ("Sum", "Mean") for dt in (f32, f64)],
                         ids=lambda v: v if isinstance(v, str) else ids(v))
def test_variadic(op, dtype, shapes):
    args = [values(dtype, s, high=20) if np.dtype(dtype).kind == "i" else rand(*s, scale=5).astype(dtype)
            for s in shapes]
    if op == "Mean" and dtype == f64:
        # ONNX Runtime has no float64 Mean and the reference evaluator's
        # fails when broadcasting widens the first input: numpy is the oracle.
        model, feeds = single_op(op, args)
        want = sum(np.broadcast_arrays(*args)) / len(args)
        assert_match(pfw_run(to_pfw(model), feeds), [np.asarray(want, f64)])
        return
    run(op, args)


def test_variadic_repeated_input():
    """Sum(x, y, x): the output must not overwrite x before its second use."""
    from onnx import helper
    from onnx_util import build, value_info
    node = helper.make_node("Sum", ["x", "y", "x"], ["out"])
    model = build([node], [value_info("x", f32, (3, 4)), value_info("y", f32, (3, 4))],
                  [value_info("out", f32, None)])
    feeds = {"x": rand(3, 4), "y": rand(3, 4)}
    assert_match(pfw_run(to_pfw(model), feeds), ort_run(model, feeds))


@pytest.mark.parametrize("dtype", SMALL_INTS, ids=ids)
@pytest.mark.parametrize("op", ["Max", "Min"])
def test_max_min_small_ints(op, dtype):
    info = np.iinfo(dtype)
    a = np.array([[info.min, info.max, 0, 3]], dtype)
    run(op, [a, np.array([[info.max], [info.min]], dtype), values(dtype, (4,))])


def test_max_min_opset8():
    run("Max", [rand(3, 1), rand(4)], opset=8)
    run("Min", [rand(3, 1), rand(4)], opset=8)


# ---- Add/Sub/Mul/Div on 8- to 64-bit integers -----------------------------------------
def wrapping_reference(op, a, b):
    """Two's-complement results computed in Python integers, then taken modulo 2^bits:
    an oracle independent of both runtimes (division truncates toward zero)."""
    info = np.iinfo(a.dtype)
    bits = 8 * a.dtype.itemsize
    out = []
    for x, y in zip(a.ravel().tolist(), np.broadcast_to(b, a.shape).ravel().tolist()):
        r = {"Add": x + y, "Sub": x - y, "Mul": x * y,
             "Div": (abs(x) // abs(y)) * (1 if (x < 0) == (y < 0) else -1) if y else 0}[op]
        r %= 1 << bits
        out.append(r - (1 << bits) if info.min < 0 and r > info.max else r)
    return np.array(out, a.dtype).reshape(a.shape)


@pytest.mark.parametrize("dtype", SMALL_INTS + [i32, i64], ids=ids)
@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div"])
def test_arithmetic_small_ints_wrap_like_twos_complement(op, dtype):
    info = np.iinfo(dtype)
    a = np.array([info.min, info.max, info.max, 7, info.min, 0, 100 % (info.max + 1), info.max], dtype)
    b = np.array([-1 if info.min < 0 else 1, 2, info.max, 3, info.max, 5, 9, 1], dtype)
    model, feeds = single_op(op, [a, b], opset=14)
    np.testing.assert_array_equal(pfw_run(to_pfw(model), feeds)[0], wrapping_reference(op, a, b))
    # broadcasting, checked against ONNX Runtime where it has the kernel
    x, y = values(dtype, (3, 1, 5)), values(dtype, (1, 4, 1))
    if op == "Div":
        y[y == 0] = 3
    run(op, [x, y], opset=14)


@pytest.mark.parametrize("dtype", [np.int8, np.uint16, np.uint64], ids=ids)
def test_integer_division_by_zero_is_a_clear_error(dtype):
    model, feeds = single_op("Div", [np.array([1, 2], dtype), np.array([1, 0], dtype)], opset=14)
    with pytest.raises(ValueError, match=r"node '\w+' \(Div\): integer division by zero"):
        pfw_run(to_pfw(model), feeds)
