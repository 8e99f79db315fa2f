"""Element-wise unary math and activations, one small ONNX model per case:
ONNX Runtime is the oracle (ONNX's reference evaluator where ONNX Runtime has
no kernel for the dtype), pyfw runs the converted .pfw. Floats to rtol 1e-5 /
atol 1e-6, integers and bools exactly."""
import numpy as np
import pytest

from onnx_util import Init, check_or_reference, single_op
from test_onnx_ops import case, rand

rng = np.random.default_rng(20261125)
f32, f64, i32, i64 = np.float32, np.float64, np.int32, np.int64


def uniform(lo, hi, *shape, dtype=f32):
    return rng.uniform(lo, hi, shape).astype(dtype)


def run(op, args, opset=None, threads=1, out_dtype=None, **attrs):
    kw = {} if opset is None else {"opset": opset}
    model, feeds = single_op(op, args, **kw, out_dtype=out_dtype, **attrs)
    return check_or_reference(model, feeds, threads)


# Inputs inside each op's domain (plus its edges), so that results are finite
# where ONNX defines them.
DOMAIN = {
    "Abs": (-5, 5), "Neg": (-5, 5), "Sign": (-5, 5), "Exp": (-20, 20), "Log": (1e-3, 50),
    "Sqrt": (0, 50), "Reciprocal": (0.25, 4), "Floor": (-9, 9), "Ceil": (-9, 9), "Round": (-9, 9),
    "Sin": (-7, 7), "Cos": (-7, 7), "Tan": (-1.4, 1.4), "Asin": (-1, 1), "Acos": (-1, 1),
    "Atan": (-20, 20), "Sinh": (-8, 8), "Cosh": (-8, 8), "Asinh": (-50, 50), "Acosh": (1, 50),
    "Atanh": (-0.99, 0.99), "Erf": (-4, 4), "Softplus": (-30, 30), "Softsign": (-30, 30),
}
FLOAT_UNARY = [pytest.param(op, dt, shape, id=f"{op}-{np.dtype(dt).name}-{'x'.join(map(str, shape)) or 'scalar'}")
               for op in DOMAIN for dt in (f32, f64) for shape in ((2, 3, 4), (), (0, 3))
               # ONNX Runtime has no float64 Softsign, and the reference
               # evaluator's fails on a 0-d input.
               if (op, dt, shape) != ("Softsign", f64, ())]


@pytest.mark.parametrize("op,dtype,shape", FLOAT_UNARY)
def test_float_unary(op, dtype, shape):
    lo, hi = DOMAIN[op]
    run(op, [uniform(lo, hi, *shape, dtype=dtype)])


@pytest.mark.parametrize("dtype", [f32, f64])
def test_round_half_to_even(dtype):
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 0.49999997, -0.49999997, 1e7 + 0.5, 2.4, -2.6], dtype)
    (got,) = run("Round", [x])
    np.testing.assert_array_equal(got[:7], np.array([-2, -2, -0, 0, 2, 2, 4], dtype))


@pytest.mark.parametrize("op", ["Log", "Sqrt", "Reciprocal", "Acosh", "Atanh", "Asin", "Exp", "Floor", "Sign"])
def test_float_unary_edges(op):
    """Zeros, out-of-domain values, infinities and NaN: the same NaN/inf as ONNX Runtime."""
    x = np.array([0.0, -0.0, -1.0, 1.0, 2.0, np.inf, -np.inf, np.nan, 1e-30, 100.0], f32)
    run(op, [x])


@pytest.mark.parametrize("op", ["Abs", "Neg", "Sign"])
@pytest.mark.parametrize("dtype", [i32, i64])
def test_signed_integer(op, dtype):
    info = np.iinfo(dtype)
    x = np.array([info.min, info.min + 1, -7, -1, 0, 1, 7, info.max], dtype)
    (got,) = run(op, [x])
    assert got.dtype == dtype


@pytest.mark.parametrize("dtype", [f32, f64])
def test_isnan(dtype):
    x = np.array([[0, np.nan, np.inf], [-np.inf, -1.5, np.nan]], dtype)
    (got,) = run("IsNaN", [x], out_dtype=np.bool_)
    assert got.dtype == np.bool_


ISINF = [case("both", detect_positive=1, detect_negative=1), case("default"),
         case("positive_only", detect_negative=0), case("negative_only", detect_positive=0),
         case("neither", detect_positive=0, detect_negative=0)]


@pytest.mark.parametrize("args,opset,attrs", ISINF)
@pytest.mark.parametrize("dtype", [f32, f64])
def test_isinf(args, opset, attrs, dtype):
    x = np.array([[0, np.nan, np.inf], [-np.inf, 1e38, -np.inf]], dtype)
    run("IsInf", [x], out_dtype=np.bool_, **attrs)


def test_not():
    run("Not", [np.array([[True, False, True], [False, False, True]])])


# ---- activations ----------------------------------------------------------------
ACTIVATIONS = [
    case("LeakyRelu-default", "LeakyRelu"), case("LeakyRelu-alpha", "LeakyRelu", alpha=0.3),
    case("Elu-default", "Elu"), case("Elu-alpha", "Elu", alpha=2.5),
    case("Selu-default", "Selu"), case("Selu-alpha_gamma", "Selu", alpha=1.5, gamma=0.7),
    case("Celu-default", "Celu"), case("Celu-alpha", "Celu", alpha=0.4),
    case("HardSigmoid-default", "HardSigmoid"), case("HardSigmoid-alpha_beta", "HardSigmoid", alpha=0.35, beta=0.4),
    case("HardSwish", "HardSwish"),
    case("ThresholdedRelu-default", "ThresholdedRelu"), case("ThresholdedRelu-alpha", "ThresholdedRelu", alpha=-0.5),
    case("Mish", "Mish", opset=18), case("Softplus", "Softplus"), case("Softsign", "Softsign"),
    case("Gelu-default", "Gelu", opset=20), case("Gelu-none", "Gelu", opset=20, approximate="none"),
    case("Gelu-tanh", "Gelu", opset=20, approximate="tanh"),
]


@pytest.mark.parametrize("args,opset,attrs", ACTIVATIONS)
@pytest.mark.parametrize("dtype", [f32, f64])
def test_activation(args, opset, attrs, dtype):
    if args[0] == "Celu" and dtype == f64:
        pytest.skip("ONNX defines Celu for float32 only")
    x = np.concatenate([uniform(-6, 6, 40), np.array([-30, -1, -0.0, 0, 1, 30], f32)]).astype(dtype)
    run(args[0], [x.reshape(2, 23)], opset, **attrs)


def test_activation_threads():
    """Results do not depend on the thread count (the map splits over threads)."""
    x = uniform(-6, 6, 3, 1000)
    a = run("Elu", [x], threads=1)
    b = run("Elu", [x], threads=4)
    np.testing.assert_array_equal(a[0], b[0])


# ---- Clip ---------------------------------------------------------------------------
X = uniform(-3, 3, 3, 8)
S = lambda v, dt=f32: np.array(v, dt)  # noqa: E731
CLIP = [
    # Clip-6 (attributes) is the Clip of opsets 7 to 10; pyfw imports opset >= 7.
    case("opset7_default", X, opset=7), case("opset7_min_max", X, opset=7, min=-1.0, max=0.5),
    case("opset10_min_only", X, opset=10, min=0.0), case("opset10_max_only", X, opset=10, max=-0.25),
    case("opset11_no_bounds", X, opset=11),
    case("opset11_const_min_max", X, Init(S(-1.0)), Init(S(2.0)), opset=11),
    case("opset13_min_absent", X, None, Init(S(0.5)), opset=13),
    case("opset13_max_absent", X, Init(S(-0.5)), opset=13),
    case("opset13_runtime_bounds", X, S(-0.75), S(1.25), opset=13),
    case("opset13_runtime_min_const_max", X, S(0.1), Init(S(0.2)), opset=13),
    case("opset13_min_above_max", X, Init(S(1.0)), Init(S(-1.0)), opset=13),
    case("opset13_float64", X.astype(f64), Init(S(-1.0, f64)), S(0.3, f64), opset=13),
]


@pytest.mark.parametrize("args,opset,attrs", CLIP)
def test_clip(args, opset, attrs):
    run("Clip", args, opset, **attrs)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.uint16, i32, np.uint32, i64, np.uint64],
                         ids=lambda d: np.dtype(d).name)
def test_clip_integer(dtype):
    info = np.iinfo(dtype)
    x = np.array([info.min, info.min + 1, 0, 3, 9, info.max - 1, info.max], dtype)
    run("Clip", [x, Init(np.array(info.min + 1, dtype)), np.array(info.max - 1, dtype)], 13)
    run("Clip", [x, None, Init(np.array(7, dtype))], 12)
    run("Clip", [x], 13)


# ---- LogSoftmax, Hardmax ------------------------------------------------------------
AXES = [
    case("opset13_axis0", axis=0), case("opset13_axis1", axis=1), case("opset13_default"),
    case("opset11_default", opset=11), case("opset11_axis0", opset=11, axis=0),
    case("opset11_axis2", opset=11, axis=2), case("opset11_axis_neg2", opset=11, axis=-2),
]


@pytest.mark.parametrize("args,opset,attrs", AXES)
@pytest.mark.parametrize("op", ["LogSoftmax", "Hardmax"])
@pytest.mark.parametrize("dtype", [f32, f64])
def test_softmax_family(op, dtype, args, opset, attrs):
    if op == "Hardmax" and dtype == f64 and opset == 11:
        # ONNX Runtime has no float64 Hardmax and the reference evaluator
        # ignores Hardmax-11's flattening; test_hardmax_float64_opset11 covers it.
        pytest.skip("no oracle for float64 Hardmax-11")
    run(op, [rand(2, 3, 4, scale=5).astype(dtype)], opset, **attrs)


def test_logsoftmax_large_values():
    run("LogSoftmax", [rand(3, 7, scale=1000)], 13, axis=1)


def test_hardmax_ties_pick_first():
    x = np.array([[1, 3, 3, 0], [2, 2, 2, 2], [-1, -5, -1, -9]], f32)
    (got,) = run("Hardmax", [x], 13, axis=1)
    np.testing.assert_array_equal(got, np.array([[0, 1, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]], f32))


def test_hardmax_float64_opset11():
    """float64 Hardmax-11 against ONNX Runtime's float32 result on the same
    values (the selection is exact, and float32 keeps these values' order)."""
    x = rand(2, 3, 4, scale=5)
    m32, feeds = single_op("Hardmax", [x], opset=11, axis=1)
    m64, feeds64 = single_op("Hardmax", [x.astype(f64)], opset=11, axis=1)
    from onnx_util import ort_run, pfw_run, to_pfw
    (want,) = ort_run(m32, feeds)
    (got,) = pfw_run(to_pfw(m64), feeds64)
    assert got.dtype == f64
    np.testing.assert_array_equal(got, want.astype(f64))
