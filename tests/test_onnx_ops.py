"""Every op of the spine, one small ONNX model per case: ONNX Runtime is the
oracle, pyfw runs the converted .pfw (import_model -> infer_shapes -> bytes ->
libpfw). Shapes and dtypes must match exactly, floats to rtol 1e-5 / atol 1e-6,
integers exactly."""
import numpy as np
import pytest

from onnx_util import Init, assert_match, check, ort_run, pfw_run, reference64, single_op, to_pfw

rng = np.random.default_rng(20240611)
f32, f64, i32, i64 = np.float32, np.float64, np.int32, np.int64


def rand(*shape, scale=1.0):
    return (rng.uniform(-1, 1, shape) * scale).astype(f32)


def ints(*shape, dtype=i64, high=50):
    return rng.integers(-high, high + 1, shape).astype(dtype)


def away_from_zero(*shape, dtype=f32):
    """Values with |v| >= 0.5 (floats) or >= 1 (ints): safe denominators."""
    sign = rng.choice([-1, 1], shape)
    if np.dtype(dtype).kind == "f":
        return (sign * rng.uniform(0.5, 2.0, shape)).astype(dtype)
    return (sign * rng.integers(1, 8, shape)).astype(dtype)


def case(id_, *args, opset=None, **attrs):
    return pytest.param(list(args), opset, attrs, id=id_)


def run(op, args, opset, attrs, threads=1):
    kw = {} if opset is None else {"opset": opset}
    model, feeds = single_op(op, args, **kw, **attrs)
    return check(model, feeds, threads)


# ---- Gemm / MatMul ---------------------------------------------------------
A, B = (3, 5), (5, 4)
GEMM = [
    case("plain_noC", rand(*A), Init(rand(*B))),
    case("B_as_input", rand(*A), rand(*B), Init(rand(4))),
    case("alpha_beta_C1d", rand(*A), Init(rand(*B)), Init(rand(4)), alpha=0.5, beta=2.0),
    case("transA", rand(5, 3), Init(rand(*B)), Init(rand(4)), transA=1),
    case("transB", rand(*A), Init(rand(4, 5)), Init(rand(4)), transB=1),
    case("transA_transB_alpha", rand(5, 3), Init(rand(4, 5)), Init(rand(3, 4)), transA=1, transB=1, alpha=-1.5),
    case("C_scalar_0d", rand(*A), Init(rand(*B)), Init(np.array(0.75, f32))),
    case("C_scalar_1elem", rand(*A), Init(rand(*B)), Init(rand(1)), beta=-0.5),
    case("C_1d", rand(*A), Init(rand(*B)), Init(rand(4))),
    case("C_2d", rand(*A), Init(rand(*B)), Init(rand(3, 4))),
    case("C_column", rand(*A), Init(rand(*B)), Init(rand(3, 1))),
    case("C_row", rand(*A), Init(rand(*B)), Init(rand(1, 4))),
    case("C_as_input", rand(*A), Init(rand(*B)), rand(3, 4), beta=0.25),
    case("C_absent_beta", rand(*A), Init(rand(*B)), None, beta=3.0),
    case("beta0", rand(*A), Init(rand(*B)), Init(rand(3, 4)), beta=0.0),
    case("wide_k", rand(7, 130), Init(rand(130, 33)), Init(rand(33))),
    case("wide_n_over_tiles", rand(3, 20), Init(rand(20, 530)), Init(rand(530))),
    case("wide_n_transB", rand(3, 20), Init(rand(513, 20)), Init(rand(3, 513)), transB=1, beta=0.5),
]


@pytest.mark.parametrize("args,opset,attrs", GEMM)
def test_gemm(args, opset, attrs):
    run("Gemm", args, opset, attrs)


MATMUL = [
    case("2d", rand(3, 4), rand(4, 5)),
    case("2d_weight_init", rand(3, 4), Init(rand(4, 5))),
    case("1d_x_2d", rand(4), rand(4, 5)),
    case("2d_x_1d", rand(3, 4), rand(4)),
    case("1d_x_1d", rand(6), rand(6)),
    case("3d_x_2d", rand(2, 3, 4), Init(rand(4, 5))),
    case("3d_x_3d", rand(2, 3, 4), rand(2, 4, 5)),
    case("2d_x_3d", rand(3, 4), rand(2, 4, 5)),
    case("1d_x_3d", rand(4), rand(2, 4, 5)),
    case("3d_x_1d", rand(2, 3, 4), rand(4)),
    case("4d_broadcast", rand(2, 1, 3, 4), rand(3, 4, 5)),
    case("4d_both_sides", rand(1, 3, 2, 4), rand(2, 1, 4, 6)),
    case("4d_x_4d", rand(2, 3, 5, 4), rand(2, 3, 4, 2)),
    case("long_k", rand(2, 5, 129), rand(129, 17)),
    case("wide_n_over_tiles", rand(2, 3, 16), Init(rand(16, 600))),
]


@pytest.mark.parametrize("args,opset,attrs", MATMUL)
def test_matmul(args, opset, attrs):
    run("MatMul", args, opset, attrs)


# ---- elementwise binary ----------------------------------------------------
SHAPES = {
    "same": ((3, 4), (3, 4)),
    "scalar_right": ((3, 4), ()),
    "scalar_left": ((), (3, 4)),
    "one_elem": ((2, 3), (1,)),
    "trailing_dim": ((2, 3, 4), (4,)),
    "both_sides": ((3, 1, 5), (1, 4, 1)),
    "rank_mismatch": ((2, 3, 4, 5), (3, 1, 5)),
    "rank_mismatch_left": ((4, 1), (2, 3, 1, 6)),
}


def binary_args(op, dtype, sa, sb):
    if np.dtype(dtype).kind == "f":
        a = rand(*sa, scale=4)
        b = away_from_zero(*sb) if op == "Div" else rand(*sb, scale=4)
    else:
        # Negative numerators and denominators: ONNX integer Div truncates toward zero.
        a = ints(*sa, dtype=dtype, high=1000)
        b = away_from_zero(*sb, dtype=dtype) if op == "Div" else ints(*sb, dtype=dtype, high=1000)
    return [np.asarray(a, dtype), np.asarray(b, dtype)]


BINARY = [pytest.param(op, dt, sa, sb, id=f"{op}-{np.dtype(dt).name}-{sid}")
          for op in ("Add", "Sub", "Mul", "Div") for dt in (f32, f64, i32, i64)
          for sid, (sa, sb) in SHAPES.items()]


@pytest.mark.parametrize("op,dtype,sa,sb", BINARY)
def test_binary(op, dtype, sa, sb):
    run(op, binary_args(op, dtype, sa, sb), None, {})


@pytest.mark.parametrize("dtype", [i32, i64], ids=["int32", "int64"])
def test_integer_div_truncates_toward_zero(dtype):
    a = np.array([7, -7, 7, -7, 1, -1, 0, 9, -9], dtype)
    b = np.array([2, 2, -2, -2, 3, 3, 5, -4, 4], dtype)
    (got,) = run("Div", [a, b], None, {})
    np.testing.assert_array_equal(got, np.array([3, -3, -3, 3, 0, 0, 0, -2, -2], dtype))


def test_binary_with_constant_operand():
    run("Add", [rand(2, 3, 4), Init(rand(3, 1))], None, {})


# ---- unary -----------------------------------------------------------------
EXTREMES = np.array([-100, -88.7, -20, -1, -1e-3, -0.0, 0, 1e-3, 1, 20, 88.7, 100], f32)
UNARY = [pytest.param(op, x, id=f"{op}-{xid}") for op in ("Relu", "Sigmoid", "Tanh")
         for xid, x in (("3d", rand(2, 3, 4, scale=6)), ("extremes", EXTREMES), ("scalar", np.array(0.3, f32)),
                        ("float64", rand(3, 5, scale=6).astype(f64)), ("float64_extremes", EXTREMES.astype(f64)))]


@pytest.mark.parametrize("op,x", UNARY)
def test_unary(op, x):
    run(op, [x], None, {})


# ---- Softmax -----------------------------------------------------------------
SOFTMAX = [
    case("opset13_axis0", rand(2, 3, 4, scale=5), axis=0),
    case("opset13_axis1", rand(2, 3, 4, scale=5), axis=1),
    case("opset13_axis_neg1", rand(2, 3, 4, scale=5), axis=-1),
    case("opset13_default", rand(2, 3, 4, scale=5)),
    case("opset13_large_values", rand(3, 7, scale=1000), axis=1),
    case("opset13_1d", rand(9, scale=5)),
    case("opset11_default_flattens", rand(2, 3, 4, scale=5), opset=11),
    case("opset11_axis0", rand(2, 3, 4, scale=5), opset=11, axis=0),
    case("opset11_axis1", rand(2, 3, 4, scale=5), opset=11, axis=1),
    case("opset11_axis2", rand(2, 3, 4, scale=5), opset=11, axis=2),
    case("opset11_axis_neg1", rand(2, 3, 4, scale=5), opset=11, axis=-1),
    case("opset11_4d_axis2", rand(2, 3, 2, 5, scale=5), opset=11, axis=2),
]


@pytest.mark.parametrize("args,opset,attrs", SOFTMAX)
def test_softmax(args, opset, attrs):
    (got,) = run("Softmax", args, opset, attrs)
    assert np.all(np.isfinite(got))


def test_softmax_versions_really_differ():
    """Guards the opset-11 cases: with the same attribute, opset 11 and 13
    must give different results on a 3-D input (else the cases prove little)."""
    x = rand(2, 3, 4, scale=5)
    m11, feeds = single_op("Softmax", [x], opset=11, axis=1)
    m13, _ = single_op("Softmax", [x], opset=13, axis=1)
    (a,), (b,) = pfw_run(to_pfw(m11), feeds), pfw_run(to_pfw(m13), feeds)
    assert not np.allclose(a, b)
    assert_match([a], ort_run(m11, feeds))
    assert_match([b], ort_run(m13, feeds))


# ---- shape ops ---------------------------------------------------------------
X234 = rand(2, 3, 4)
RESHAPE = [
    case("keep_first_flatten_rest", X234, Init(np.array([0, -1], i64))),
    case("infer_first", X234, Init(np.array([-1, 4], i64))),
    case("zero_in_middle", X234, Init(np.array([4, 0, -1], i64))),
    case("zeros_and_minus1", X234, Init(np.array([1, 0, 0, -1], i64))),
    case("to_1d", X234, Init(np.array([24], i64))),
    case("add_dims", X234, Init(np.array([2, 3, 2, 2], i64))),
    case("allowzero_0_explicit", X234, Init(np.array([0, 12], i64)), allowzero=0),
    case("int64_data", ints(6, 4), Init(np.array([3, -1, 2], i64))),
]


@pytest.mark.parametrize("args,opset,attrs", RESHAPE)
def test_reshape(args, opset, attrs):
    run("Reshape", args, opset, attrs)


@pytest.mark.parametrize("axis", [0, 1, 2, 3, 4, -1, -3])
def test_flatten(axis):
    run("Flatten", [rand(2, 3, 4, 5)], None, {"axis": axis})


def test_flatten_default_axis():
    run("Flatten", [rand(2, 3, 4)], None, {})


TRANSPOSE = [
    case("2d_default", rand(3, 5)),
    case("3d_default", rand(2, 3, 4)),
    case("3d_021", rand(2, 3, 4), perm=[0, 2, 1]),
    case("3d_201", rand(2, 3, 4), perm=[2, 0, 1]),
    case("3d_identity", rand(2, 3, 4), perm=[0, 1, 2]),
    case("4d_nhwc", rand(2, 3, 4, 5), perm=[0, 2, 3, 1]),
    case("4d_3102", rand(2, 3, 4, 5), perm=[3, 1, 0, 2]),
    case("4d_default", rand(2, 3, 4, 5)),
    case("int64_3d", ints(2, 3, 4), perm=[1, 2, 0]),
    # dims that follow each other in the input copy as one run; size-1 dims drop out
    case("5d_channel_shuffle", rand(1, 3, 4, 5, 6), perm=[0, 2, 1, 3, 4]),
    case("5d_ones_between", rand(2, 1, 3, 1, 4), perm=[4, 1, 0, 3, 2]),
    case("5d_runs_of_two", rand(2, 3, 4, 5, 2), perm=[2, 3, 0, 1, 4]),
    case("4d_all_ones", rand(1, 1, 1, 1), perm=[3, 2, 1, 0]),
]


@pytest.mark.parametrize("args,opset,attrs", TRANSPOSE)
def test_transpose(args, opset, attrs):
    run("Transpose", args, opset, attrs)


CONCAT = [
    case("axis0", rand(2, 3), rand(4, 3), axis=0),
    case("axis1", rand(2, 3), rand(2, 5), axis=1),
    case("axis_neg1_3d", rand(2, 3, 4), rand(2, 3, 1), axis=-1),
    case("three_inputs_axis1_4d", rand(2, 1, 3, 3), rand(2, 4, 3, 3), rand(2, 2, 3, 3), axis=1),
    case("three_inputs_axis_neg1", rand(2, 3), rand(2, 1), rand(2, 4), axis=-1),
    case("with_constant", rand(2, 3), Init(rand(1, 3)), axis=0),
    case("int64_axis0", ints(2, 3), ints(1, 3), axis=0),
    case("int64_axis1_3_inputs", ints(2, 1), ints(2, 2), ints(2, 3), axis=1),
    case("single_input", rand(2, 3), axis=0),
]


@pytest.mark.parametrize("args,opset,attrs", CONCAT)
def test_concat(args, opset, attrs):
    run("Concat", args, opset, attrs)


@pytest.mark.parametrize("x", [rand(2, 3), ints(5), ints(4, 2, dtype=i32)], ids=["float32", "int64", "int32"])
def test_identity(x):
    (got,) = run("Identity", [x], None, {})
    np.testing.assert_array_equal(got, x)


# ---- Conv ------------------------------------------------------------------
X2 = rand(2, 4, 7, 8)
X1 = rand(2, 3, 10)
CONV = [
    case("2d_bias", X2, Init(rand(5, 4, 3, 3)), Init(rand(5))),
    case("2d_no_bias", X2, Init(rand(5, 4, 3, 3))),
    case("2d_kernel_shape_given", X2, Init(rand(5, 4, 3, 3)), Init(rand(5)), kernel_shape=[3, 3]),
    case("2d_pads_asymmetric", X2, Init(rand(5, 4, 3, 3)), Init(rand(5)), pads=[0, 1, 2, 1]),
    case("2d_strides2_pads1", X2, Init(rand(5, 4, 3, 3)), Init(rand(5)), strides=[2, 2], pads=[1, 1, 1, 1]),
    case("2d_strides_1x2", X2, Init(rand(5, 4, 3, 3)), strides=[1, 2]),
    case("2d_dilations2", X2, Init(rand(5, 4, 3, 3)), Init(rand(5)), dilations=[2, 2]),
    case("2d_dilate_stride_pad", X2, Init(rand(3, 4, 2, 3)), Init(rand(3)),
         dilations=[2, 1], strides=[2, 3], pads=[1, 2, 0, 1]),
    case("2d_1x1", X2, Init(rand(6, 4, 1, 1)), Init(rand(6))),
    case("2d_5x5_pad2", X2, Init(rand(2, 4, 5, 5)), Init(rand(2)), pads=[2, 2, 2, 2]),
    case("2d_rect_kernel", X2, Init(rand(5, 4, 3, 2)), Init(rand(5)), kernel_shape=[3, 2]),
    case("2d_depthwise", X2, Init(rand(4, 1, 3, 3)), Init(rand(4)), group=4, pads=[1, 1, 1, 1]),
    case("2d_depthwise_multiplier2", X2, Init(rand(8, 1, 3, 3)), Init(rand(8)), group=4, strides=[2, 2]),
    case("2d_group2", X2, Init(rand(6, 2, 3, 3)), Init(rand(6)), group=2, pads=[1, 0, 1, 0]),
    case("2d_group2_no_bias", X2, Init(rand(4, 2, 3, 3)), group=2),
    case("2d_same_upper", X2, Init(rand(5, 4, 3, 3)), Init(rand(5)), auto_pad="SAME_UPPER"),
    case("2d_same_upper_s2", X2, Init(rand(5, 4, 3, 3)), Init(rand(5)), auto_pad="SAME_UPPER", strides=[2, 2]),
    case("2d_same_lower_s2", X2, Init(rand(5, 4, 3, 3)), Init(rand(5)), auto_pad="SAME_LOWER", strides=[2, 2]),
    case("2d_same_lower_k4", X2, Init(rand(5, 4, 4, 4)), auto_pad="SAME_LOWER"),
    case("2d_valid", X2, Init(rand(5, 4, 3, 3)), Init(rand(5)), auto_pad="VALID", strides=[2, 2]),
    case("2d_weight_as_input", X2, rand(5, 4, 3, 3), rand(5)),
    case("1d_bias", X1, Init(rand(4, 3, 3)), Init(rand(4))),
    case("1d_no_bias_kernel_shape", X1, Init(rand(4, 3, 3)), kernel_shape=[3]),
    case("1d_pads_asym_strides", X1, Init(rand(4, 3, 3)), Init(rand(4)), pads=[2, 1], strides=[2]),
    case("1d_dilations", X1, Init(rand(4, 3, 3)), Init(rand(4)), dilations=[3]),
    case("1d_depthwise", X1, Init(rand(3, 1, 5)), Init(rand(3)), group=3, pads=[2, 2]),
    case("1d_same_lower_s2", X1, Init(rand(4, 3, 4)), Init(rand(4)), auto_pad="SAME_LOWER", strides=[2]),
    case("1d_same_upper_s3", X1, Init(rand(4, 3, 4)), auto_pad="SAME_UPPER", strides=[3]),
    case("1d_valid", X1, Init(rand(4, 3, 4)), auto_pad="VALID"),
    case("1d_long_over_tiles", rand(1, 2, 700), Init(rand(3, 2, 5)), Init(rand(3)), pads=[2, 2]),
    case("1d_long_strided", rand(1, 2, 700), Init(rand(3, 2, 4)), strides=[2], dilations=[3]),
    case("2d_wide_over_tiles", rand(1, 2, 3, 600), Init(rand(2, 2, 3, 3)), Init(rand(2)), pads=[1, 1, 1, 1]),
    case("2d_wide_depthwise", rand(1, 2, 3, 530), Init(rand(2, 1, 3, 3)), group=2, pads=[0, 1, 0, 1]),
]


@pytest.mark.parametrize("args,opset,attrs", CONV)
def test_conv(args, opset, attrs):
    run("Conv", args, opset, attrs)


# ---- pooling -----------------------------------------------------------------
P2 = rand(2, 3, 7, 8)
P1 = rand(2, 3, 11)
MAXPOOL = [
    case("2d_k2_s2", P2, kernel_shape=[2, 2], strides=[2, 2]),
    case("2d_k3_default_stride", P2, kernel_shape=[3, 3]),
    case("2d_k3_s2_pads1", P2, kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
    case("2d_pads_asym", P2, kernel_shape=[3, 3], pads=[0, 1, 1, 0]),
    case("2d_negative_input_padded", -np.abs(P2) - 1, kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
    case("2d_dilations", P2, kernel_shape=[2, 2], dilations=[2, 2]),
    case("2d_dilations_strides_pads", P2, kernel_shape=[2, 3], dilations=[2, 2], strides=[2, 1], pads=[1, 1, 0, 2]),
    case("2d_ceil_k2_s2", P2, kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
    case("2d_ceil_k3_s2_pads1", P2, kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1),
    case("2d_rect_kernel", P2, kernel_shape=[3, 2], strides=[2, 1]),
    case("2d_ceil_last_window_in_pad", P2, kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1),
    case("2d_same_upper", P2, kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"),
    case("2d_same_lower", P2, kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_LOWER"),
    case("2d_valid", P2, kernel_shape=[3, 3], strides=[2, 2], auto_pad="VALID"),
    case("1d_k3_s2", P1, kernel_shape=[3], strides=[2]),
    case("1d_pads_ceil", P1, kernel_shape=[3], strides=[2], pads=[1, 1], ceil_mode=1),
    case("1d_dilations", P1, kernel_shape=[3], dilations=[2]),
    case("1d_same_upper", P1, kernel_shape=[4], strides=[3], auto_pad="SAME_UPPER"),
    case("1d_long", rand(1, 2, 700), kernel_shape=[3], strides=[1], pads=[1, 1]),
    # every window clipped on both sides (the border code's tap ranges)
    case("2d_kernel_wider_than_input", P2, kernel_shape=[3, 12], strides=[2, 5], pads=[1, 6, 1, 6]),
    # windows spanning the whole input along an axis: outputs reading the same inputs are copied
    case("2d_rows_span_input", P2, kernel_shape=[40, 2], pads=[20, 0, 20, 1]),
    case("2d_both_span_input", P2, kernel_shape=[30, 41], strides=[1, 2], pads=[14, 20, 15, 21]),
    case("2d_same_lower_huge", P2, kernel_shape=[301, 2], auto_pad="SAME_LOWER"),
    case("3d_span_depth", rand(1, 2, 3, 4, 5), kernel_shape=[9, 2, 2], pads=[4, 0, 0, 4, 1, 1]),
]


@pytest.mark.parametrize("args,opset,attrs", MAXPOOL)
def test_maxpool(args, opset, attrs):
    run("MaxPool", args, opset, attrs)


AVGPOOL = [
    case("2d_k2_s2", P2, kernel_shape=[2, 2], strides=[2, 2]),
    case("2d_pads1_exclude_pad", P2, kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=0),
    case("2d_pads1_include_pad", P2, kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=1),
    case("2d_pads_asym_exclude", P2, kernel_shape=[3, 3], pads=[1, 0, 0, 2], count_include_pad=0),
    case("2d_pads_asym_include", P2, kernel_shape=[3, 3], pads=[1, 0, 0, 2], count_include_pad=1),
    case("2d_strides_pads", P2, kernel_shape=[3, 2], strides=[2, 3], pads=[1, 1, 1, 1]),
    case("2d_ceil_k2_s2", P2, kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
    case("2d_ceil_k3_s2", P2, kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
    case("2d_ceil_pads_exclude", P2, kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1),
    case("2d_ceil_pads_include", P2, kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1,
         count_include_pad=1),
    case("2d_ceil_last_window_in_pad", P2, kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1),
    case("2d_same_upper", P2, kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"),
    case("2d_valid", P2, kernel_shape=[3, 3], strides=[2, 2], auto_pad="VALID"),
    case("1d_pads_exclude", P1, kernel_shape=[3], strides=[2], pads=[1, 1], count_include_pad=0),
    case("1d_pads_include", P1, kernel_shape=[3], strides=[2], pads=[1, 1], count_include_pad=1),
    case("1d_ceil", P1, kernel_shape=[4], strides=[3], ceil_mode=1),
    case("1d_ceil_include_pad", P1, kernel_shape=[4], strides=[3], pads=[1, 2], ceil_mode=1, count_include_pad=1),
    case("2d_kernel_wider_than_input", P2, kernel_shape=[3, 12], strides=[2, 5], pads=[1, 6, 1, 6]),
    case("2d_kernel_wider_include_pad", P2, kernel_shape=[3, 12], strides=[2, 5], pads=[1, 6, 1, 6],
         count_include_pad=1),
    # windows spanning the whole input (copied outputs); with the padding counted they differ again
    case("2d_rows_span_input", P2, kernel_shape=[40, 2], pads=[20, 0, 20, 1]),
    case("2d_rows_span_include_pad", P2, kernel_shape=[40, 2], pads=[20, 0, 20, 1], count_include_pad=1),
    # the same input rows, but the last window runs past the padding: fewer padded taps
    case("2d_rows_span_ceil_include_pad", P2, kernel_shape=[30, 2], strides=[3, 1], pads=[20, 0, 5, 1], ceil_mode=1,
         count_include_pad=1),
    case("2d_both_span_input", P2, kernel_shape=[30, 41], strides=[1, 2], pads=[14, 20, 15, 21]),
    case("2d_same_lower_huge", P2, kernel_shape=[301, 2], auto_pad="SAME_LOWER"),
    case("3d_span_depth", rand(1, 2, 3, 4, 5), kernel_shape=[9, 2, 2], pads=[4, 0, 0, 4, 1, 1]),
    case("3d_span_include_pad", rand(1, 2, 3, 4, 5), kernel_shape=[9, 2, 2], pads=[4, 0, 0, 4, 1, 1],
         count_include_pad=1),
]


@pytest.mark.parametrize("args,opset,attrs", AVGPOOL)
def test_averagepool(args, opset, attrs):
    run("AveragePool", args, opset, attrs)


SPANNING = [(op, c) for op, cases in (("MaxPool", MAXPOOL), ("AveragePool", AVGPOOL)) for c in cases if "span" in c.id]


@pytest.mark.parametrize("op,c", SPANNING, ids=[f"{op}-{c.id}" for op, c in SPANNING])
def test_pool_spanning_windows_scalar(monkeypatch, op, c):
    """The scalar reference copies outputs whose windows read the same inputs too."""
    monkeypatch.setenv("PFW_ISA", "scalar")
    run(op, *c.values)


@pytest.mark.parametrize("shape", [(2, 3, 5, 6), (2, 3, 7), (1, 4, 1, 1), (1, 2, 2, 3, 4)],
                         ids=["2d", "1d", "1x1", "3d"])
def test_global_average_pool(shape):
    run("GlobalAveragePool", [rand(*shape, scale=3)], None, {})


# ---- BatchNormalization ------------------------------------------------------
def bn_args(shape):
    c = shape[1]
    return [rand(*shape, scale=3), Init(rand(c) + 1.5), Init(rand(c)), Init(rand(c)),
            Init(rng.uniform(0.05, 2.0, c).astype(f32))]


BATCHNORM = [
    case("4d_default_eps", *bn_args((2, 3, 4, 5))),
    case("4d_eps_1e-2", *bn_args((2, 3, 4, 5)), epsilon=1e-2),
    case("4d_eps_0.5", *bn_args((1, 6, 3, 3)), epsilon=0.5),
    case("2d_input", *bn_args((4, 3))),
    case("3d_input", *bn_args((2, 3, 6)), epsilon=1e-3),
    case("opset9", *bn_args((2, 3, 4, 5)), opset=9, epsilon=1e-4),
]


@pytest.mark.parametrize("args,opset,attrs", BATCHNORM)
def test_batch_normalization(args, opset, attrs):
    run("BatchNormalization", args, opset, attrs)


def test_batch_normalization_scale_and_stats_as_inputs():
    x, *rest = bn_args((2, 3, 4, 4))
    run("BatchNormalization", [x] + [r.value for r in rest], None, {})


# ---- threads -----------------------------------------------------------------
THREADED = [
    pytest.param("Conv", [rand(2, 8, 20, 20), Init(rand(16, 8, 3, 3)), Init(rand(16))],
                 {"pads": [1, 1, 1, 1]}, id="conv"),
    pytest.param("Conv", [rand(2, 8, 20, 20), Init(rand(16, 8, 3, 3))],
                 {"strides": [2, 2], "dilations": [2, 1]}, id="conv_strided_no_bias"),
    pytest.param("Conv", [rand(2, 16, 17, 17), Init(rand(16, 1, 3, 3)), Init(rand(16))],
                 {"group": 16, "pads": [1, 1, 1, 1]}, id="conv_depthwise"),
    pytest.param("Conv", [rand(2, 8, 40), Init(rand(12, 4, 5)), Init(rand(12))],
                 {"group": 2, "pads": [2, 2]}, id="conv1d_group2"),
    pytest.param("Gemm", [rand(64, 96), Init(rand(96, 80)), Init(rand(80))], {}, id="gemm"),
    pytest.param("Gemm", [rand(33, 70), Init(rand(50, 70)), Init(rand(33, 50))],
                 {"transB": 1, "alpha": 0.5, "beta": 2.0}, id="gemm_transB"),
    pytest.param("MatMul", [rand(3, 31, 64), rand(64, 45)], {}, id="matmul_batched"),
]


@pytest.mark.parametrize("op,args,attrs", THREADED)
def test_two_threads_bit_identical_to_one(op, args, attrs):
    model, feeds = single_op(op, args, **attrs)
    data = to_pfw(model)
    one = pfw_run(data, feeds, threads=1)
    two = pfw_run(data, feeds, threads=2)
    assert_match(one, ort_run(model, feeds), exact=lambda: reference64(model, feeds))
    for a, b in zip(one, two):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes(), f"threads=2 differs from threads=1 in {np.sum(a != b)} elements"
