"""Ops that compute or move shapes and indices (Shape, Size, Squeeze,
Unsqueeze, Cast, ConstantOfShape, Range, Gather, Slice, Expand, Tile) against
ONNX Runtime, and shape subgraphs that follow a dynamic input size, which
libpfw evaluates while planning."""
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnx_util import Init, build, check, check_or_reference, ort_run, pfw_run, single_op, to_pfw, value_info

rng = np.random.default_rng(7)
f32, i64 = np.float32, np.int64
X = rng.standard_normal((2, 3, 4)).astype(f32)
BIG = np.iinfo(np.int64).max


def _case(id_, op, args, opset=17, **attrs):
    return pytest.param(op, args, opset, attrs, id=id_)


CASES = [
    _case("shape", "Shape", [X]),
    _case("shape_start_end", "Shape", [X], 15, start=1, end=-1),
    _case("shape_clamped", "Shape", [X], 15, start=-10, end=10),
    _case("size", "Size", [X]),
    _case("squeeze_attr", "Squeeze", [X[:, :1]], 11, axes=[1]),
    _case("squeeze_input", "Squeeze", [X[:1, :, :1], Init(np.array([0, -1], i64))], 13),
    _case("squeeze_all", "Squeeze", [X[:1, :, :1]], 13),
    _case("unsqueeze_attr", "Unsqueeze", [X], 11, axes=[0, 4]),
    _case("unsqueeze_input", "Unsqueeze", [X, Init(np.array([1, -1], i64))], 13),
    _case("cast_f32_i32", "Cast", [(X * 100).astype(f32)], to=TensorProto.INT32),
    _case("cast_i64_f32", "Cast", [np.arange(-5, 7, dtype=i64).reshape(3, 4)], to=TensorProto.FLOAT),
    _case("cast_f32_bool", "Cast", [np.array([0.0, -0.0, 1.5, -2.0], f32)], to=TensorProto.BOOL),
    _case("cast_bool_f32", "Cast", [np.array([True, False, True])], to=TensorProto.FLOAT),
    _case("cast_f32_f16", "Cast", [np.array([0.1, -65504, 1e-6, 3.14159, 1e-8, 70000], f32)],
          to=TensorProto.FLOAT16),
    _case("cast_f16_f32", "Cast", [np.array([0.1, -2.5, 6e-5, 1e-7], np.float16)], to=TensorProto.FLOAT),
    _case("cast_f32_f64", "Cast", [X], to=TensorProto.DOUBLE),
    _case("cast_u8_i8", "Cast", [np.array([0, 5, 127], np.uint8)], to=TensorProto.INT8),
    _case("cast_i32_i64", "Cast", [np.array([-7, 2**31 - 1], np.int32)], to=TensorProto.INT64),
    _case("constant_of_shape_default", "ConstantOfShape", [Init(np.array([2, 3], i64))]),
    _case("constant_of_shape_float", "ConstantOfShape", [Init(np.array([4], i64))],
          value=numpy_helper.from_array(np.array([1.5], f32))),
    _case("constant_of_shape_int64", "ConstantOfShape", [Init(np.array([2, 1, 2], i64))],
          value=numpy_helper.from_array(np.array([7], i64))),
    _case("range_float", "Range", [Init(np.array(1.0, f32)), Init(np.array(4.0, f32)), Init(np.array(0.7, f32))]),
    _case("range_int_down", "Range", [Init(np.array(10, i64)), Init(np.array(-3, i64)), Init(np.array(-4, i64))]),
    _case("range_empty", "Range", [Init(np.array(5, i64)), Init(np.array(1, i64)), Init(np.array(1, i64))]),
    _case("gather_axis0", "Gather", [X, np.array([1, 0, -1], i64)]),
    _case("gather_axis1_2d", "Gather", [X, np.array([[0, 2], [1, -3]], i64)], axis=1),
    _case("gather_last_scalar", "Gather", [X, np.array(-1, i64)], axis=-1),
    _case("gather_int32_idx", "Gather", [X, np.array([2, 2], np.int32)], axis=2),
    _case("slice_v9_attrs", "Slice", [X], 9, starts=[0, 1], ends=[1, 1000], axes=[0, 2]),
    _case("slice_basic", "Slice", [X, Init(np.array([0, 1], i64)), Init(np.array([2, 3], i64))]),
    _case("slice_axes_steps", "Slice", [X, Init(np.array([1, 0], i64)), Init(np.array([BIG, 4], i64)),
                                        Init(np.array([2, 1], i64)), Init(np.array([2, 2], i64))]),
    _case("slice_negative_step", "Slice", [X, Init(np.array([-1], i64)), Init(np.array([-BIG], i64)),
                                           Init(np.array([-1], i64)), Init(np.array([-1], i64))]),
    _case("slice_negative_step2", "Slice", [X, Init(np.array([10, 2], i64)), Init(np.array([0, -10], i64)),
                                            Init(np.array([2, 1], i64)), Init(np.array([-2, -1], i64))]),
    _case("slice_empty", "Slice", [X, Init(np.array([3], i64)), Init(np.array([1], i64)),
                                   Init(np.array([2], i64))]),
    _case("expand_broadcast", "Expand", [X[:, :1, :], Init(np.array([2, 1, 5, 1, 4], i64)[[0, 2, 4]])]),
    _case("expand_new_axes", "Expand", [np.array([1.0, 2.0, 3.0], f32), Init(np.array([2, 1, 3], i64))]),
    _case("expand_smaller_shape", "Expand", [X, Init(np.array([4], i64))]),
    _case("cast_like", "CastLike", [X, Init(np.array([1], np.float64))]),
    _case("cast_like_int", "CastLike", [(X * 9).astype(f32), np.array([1], np.int32)]),
    _case("gather_elements_axis0", "GatherElements", [X[0], np.array([[2, 0, 1, -1], [0, 0, 1, 2]], i64)]),
    _case("gather_elements_axis1_small", "GatherElements", [X, np.array([[[3], [-4]]] * 2, i64)], axis=2),
    _case("tile", "Tile", [X, Init(np.array([1, 2, 3], i64))]),
    _case("tile_int64", "Tile", [np.arange(6, dtype=i64).reshape(2, 3), Init(np.array([3, 1], i64))]),
]


SPLITS = [
    pytest.param([X, Init(np.array([1, 3], i64))], 18, {"axis": 2}, 2, id="split_sizes_input"),
    pytest.param([X], 11, {"axis": 1, "split": [2, 1]}, 2, id="split_sizes_attr"),
    pytest.param([X], 13, {"axis": -1}, 2, id="split_equal"),
    pytest.param([X], 18, {"axis": 1, "num_outputs": 2}, 2, id="split_num_outputs_uneven"),
    pytest.param([np.arange(7, dtype=i64)], 18, {"num_outputs": 3}, 3, id="split_int64_uneven"),
]


@pytest.mark.parametrize("args, opset, attrs, n", SPLITS)
def test_split_matches_onnxruntime(args, opset, attrs, n):
    model, feeds = single_op("Split", args, opset=opset, n_outputs=n, **attrs)
    check(model, feeds)


@pytest.mark.parametrize("op, args, opset, attrs", CASES)
def test_op_matches_onnxruntime(op, args, opset, attrs):
    out_dtype = None
    if op == "Cast":
        out_dtype = helper.tensor_dtype_to_np_dtype(attrs["to"])
    elif op in ("Shape", "Size"):
        out_dtype = i64
    elif op == "CastLike":
        out_dtype = args[1].value.dtype if isinstance(args[1], Init) else args[1].dtype
    elif op == "ConstantOfShape":
        value = attrs.get("value")
        out_dtype = numpy_helper.to_array(value).dtype if value is not None else f32
    model, feeds = single_op(op, args, opset=opset, out_dtype=out_dtype, **attrs)
    check(model, feeds)


def _dynamic_reshape_model():
    """x [N, 4, 6] -> Reshape(x, Concat(Gather(Shape(x), 0), [-1])) -> [N, 24],
    plus ConstantOfShape(Shape(y)) added to y: shapes follow N at run time."""
    nodes = [
        helper.make_node("Shape", ["x"], ["s"], name="shape"),
        helper.make_node("Gather", ["s", "zero"], ["n"], name="batch", axis=0),
        helper.make_node("Unsqueeze", ["n", "axes0"], ["n1"], name="unsqueeze"),
        helper.make_node("Concat", ["n1", "minus1"], ["target"], name="concat", axis=0),
        helper.make_node("Reshape", ["x", "target"], ["y"], name="reshape"),
        helper.make_node("Shape", ["y"], ["ys"], name="shape_y"),
        helper.make_node("ConstantOfShape", ["ys"], ["ones"], name="ones",
                         value=numpy_helper.from_array(np.array([1.0], f32))),
        helper.make_node("Add", ["y", "ones"], ["z"], name="add"),
        helper.make_node("Slice", ["z", "sl_start", "sl_end", "sl_axes"], ["w"], name="slice"),
    ]
    inits = {"zero": np.array(0, i64), "axes0": np.array([0], i64), "minus1": np.array([-1], i64),
             "sl_start": np.array([1], i64), "sl_end": np.array([-2], i64), "sl_axes": np.array([1], i64)}
    return build(nodes, [value_info("x", f32, ["N", 4, 6])], [value_info("w", f32, None)], inits)


@pytest.mark.parametrize("batch", [1, 3, 5])
def test_shape_subgraph_follows_dynamic_batch(batch):
    model = _dynamic_reshape_model()
    x = rng.standard_normal((batch, 4, 6)).astype(f32)
    got = check(model, {"x": x})
    assert got[0].shape == (batch, 21)


def test_shape_subgraph_replans_in_one_interpreter():
    """One interpreter, several batch sizes in turn: every run re-evaluates the
    shape subgraph and matches ONNX Runtime."""
    from pyfw.runtime import Interpreter

    model = _dynamic_reshape_model()
    with Interpreter(to_pfw(model)) as it:
        for batch in (2, 7, 1, 4):
            x = rng.standard_normal((batch, 4, 6)).astype(f32)
            (got,) = it.run({"x": x})
            np.testing.assert_allclose(got, ort_run(model, {"x": x})[0], rtol=1e-6)


def test_gather_index_out_of_range_is_a_clear_error():
    model, feeds = single_op("Gather", [X, np.array([0, 2], i64)])
    with pytest.raises(ValueError, match=r"index 2 .*out of range \[-2, 2\)"):
        pfw_run(to_pfw(model), feeds)


def test_shape_values_fed_as_inputs_replan_when_they_change():
    """Small integer inputs can feed shapes (here Range's start and a Reshape
    target): their values are read while planning, and new values re-plan."""
    from pyfw.runtime import Interpreter

    nodes = [helper.make_node("Range", ["start", "limit", "delta"], ["r"], name="range"),
             helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape")]
    model = build(nodes, [value_info("start", i64, []), value_info("x", f32, [2, 6]), value_info("shape", i64, [2])],
                  [value_info("r", i64, None), value_info("y", f32, None)],
                  {"limit": np.array(9, i64), "delta": np.array(2, i64)})
    x = rng.standard_normal((2, 6)).astype(f32)
    with Interpreter(to_pfw(model)) as it:
        for start, shape in ((0, [3, 4]), (4, [-1, 2]), (-3, [12, 1])):
            feeds = {"start": np.array(start, i64), "x": x, "shape": np.array(shape, i64)}
            got = it.run(feeds)
            for g, w in zip(got, ort_run(model, feeds)):
                np.testing.assert_array_equal(g, w)


def test_squeeze_of_a_non_unit_axis_names_it():
    # Built directly: ONNX's checker already refuses this model, but a file
    # from elsewhere may still carry it.
    import pyfw
    import pyfw.format as fmt
    from pyfw.ir import Graph

    g = Graph("g", opset=13)
    g.add_input("x", "float32", (2, 3))
    g.add_constant("axes", np.array([0], i64))
    g.add_node("Squeeze", ["x", "axes"], ["y"], name="sq", version=13)
    g.outputs = ["y"]
    with pytest.raises(pyfw.InvalidModelError, match="sq.*squeeze axis 0.*size 2"):
        pfw_run(fmt.to_bytes(g), {"x": np.zeros((2, 3), f32)})


def lrn_spec(x, size, alpha, beta, bias):
    """ONNX's LRN definition written out: the window over channels is
    [c - floor((size-1)/2), c + ceil((size-1)/2)], clipped."""
    x = x.astype(np.float64)
    sq = np.zeros_like(x)
    lo_off, hi_off = (size - 1) // 2, size - 1 - (size - 1) // 2
    for c in range(x.shape[1]):
        lo, hi = max(0, c - lo_off), min(x.shape[1] - 1, c + hi_off)
        sq[:, c] = np.sum(x[:, lo:hi + 1] ** 2, axis=1)
    return x / (bias + alpha / size * sq) ** beta


@pytest.mark.parametrize("size, shape", [(5, (2, 7, 4, 3)), (1, (1, 4, 2, 2)), (3, (1, 2, 3, 3)),
                                         (2, (1, 3, 5, 2)), (4, (2, 6, 3)), (3, (2, 6, 3))])
def test_lrn(size, shape):
    # LRN sits here until the normalisation family has a test module of its own.
    x = rng.standard_normal(shape).astype(f32)
    model, feeds = single_op("LRN", [x], size=size, alpha=0.3, beta=0.6, bias=1.5)
    if size % 2 and len(shape) == 4:
        check(model, feeds)
    # ONNX Runtime takes 4-D inputs and odd sizes only (and ONNX's reference
    # evaluator sums over the wrong axis), so the spec's formula is the oracle.
    (got,) = pfw_run(to_pfw(model), feeds)
    np.testing.assert_allclose(got, lrn_spec(x, size, 0.3, 0.6, 1.5), rtol=1e-5, atol=1e-6)


def _ints(*v):
    return Init(np.array(v, i64))


MORE = [
    _case("pad_constant", "Pad", [X, _ints(0, 1, 2, 1, 0, 3), Init(np.array(1.5, f32))]),
    _case("pad_constant_default", "Pad", [X, _ints(1, 0, 0, 0, 2, 1)]),
    _case("pad_crop", "Pad", [X, _ints(0, -1, 1, 0, 0, -2)]),
    _case("pad_reflect", "Pad", [X, _ints(0, 2, 3, 0, 0, 3)], mode="reflect"),
    _case("pad_edge", "Pad", [X, _ints(1, 1, 1, 1, 1, 1)], mode="edge"),
    _case("pad_wrap", "Pad", [X, _ints(0, 1, 2, 0, 2, 3)], 19, mode="wrap"),
    _case("pad_axes", "Pad", [X, _ints(1, 2, 3, 4), None, _ints(-1, 1)], 18),
    _case("pad_v2_attr", "Pad", [X], 2, pads=[0, 1, 0, 0, 1, 2], value=-1.0),
    _case("pad_int64", "Pad", [np.arange(6, dtype=i64).reshape(2, 3), _ints(1, 0, 0, 2), Init(np.array(9, i64))]),
    _case("cumsum", "CumSum", [X, Init(np.array(1, i64))]),
    _case("cumsum_exclusive_reverse", "CumSum", [X, Init(np.array(-1, np.int32))], exclusive=1, reverse=1),
    _case("cumsum_int64", "CumSum", [np.arange(-6, 6, dtype=i64).reshape(3, 4), Init(np.array(0, i64))],
          reverse=1),
    _case("trilu_upper", "Trilu", [X]),
    _case("trilu_lower_k", "Trilu", [X, Init(np.array(-1, i64))], upper=0),
    _case("trilu_upper_k2", "Trilu", [np.arange(20, dtype=i64).reshape(4, 5), Init(np.array(2, i64))]),
]


@pytest.mark.parametrize("op, args, opset, attrs", MORE)
def test_more_ops_match_onnxruntime(op, args, opset, attrs):
    model, feeds = single_op(op, args, opset=opset, **attrs)
    check(model, feeds)


@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4), (2, 1, 3, 5)])
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.uint8, np.float16])
def test_gather_and_gather_elements_every_axis(shape, dtype):
    """Every axis, indices narrower than the data off the axis and negative
    ones, elements of 4, 8, 1 and 2 bytes (the typed and byte-copy paths)."""
    data = (rng.standard_normal(shape) * 50).astype(dtype)
    for axis in range(-len(shape), len(shape)):
        k = shape[axis]
        ix_shape = tuple(max(1, d - 1) if a != axis % len(shape) else d + 2 for a, d in enumerate(shape))
        ix = rng.integers(-k, k, ix_shape).astype(np.int64)
        check(*single_op("GatherElements", [data, ix], opset=13, axis=axis))
        table = rng.integers(-k, k, (4, 3)).astype(np.int32)
        check(*single_op("Gather", [data, table], opset=13, axis=axis))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int8, np.int64, np.bool_])
@pytest.mark.parametrize("shapes", [[(3, 4), (3, 4), (3, 4)], [(1, 4), (3, 1), (4,)], [(2, 1, 5), (5,), (3, 1)]])
def test_where_every_element_width(dtype, shapes):
    cond = rng.random(shapes[0]) < 0.5
    x, y = ((rng.standard_normal(s) * 20).astype(dtype) for s in shapes[1:])
    # (ONNX Runtime has no bool Where: ONNX's reference evaluator answers for it)
    check_or_reference(*single_op("Where", [cond, x, y], opset=16, out_dtype=dtype,
                                  out_shape=np.broadcast_shapes(*shapes)))


CAST_PAIRS = [(np.bool_, np.int32), (np.bool_, np.int64), (np.bool_, f32), (np.bool_, np.float64),
              (np.int32, np.bool_), (np.int64, np.bool_), (f32, np.bool_),
              (i64, np.int32), (np.uint8, np.int32), (np.int8, np.int32),
              (np.int32, i64), (np.uint8, i64), (np.int8, i64),
              (np.int32, f32), (i64, f32), (np.uint8, f32), (np.int8, f32), (np.float64, f32),
              (np.int32, np.float64), (i64, np.float64), (f32, np.float64)]


@pytest.mark.parametrize("src, dst", CAST_PAIRS, ids=[f"{np.dtype(a).name}-{np.dtype(b).name}" for a, b in CAST_PAIRS])
def test_cast_common_pairs_as_numpy_casts(src, dst):
    """The typed-loop casts give NumPy's astype: integers wrap, int64 and
    float64 round to the nearest float32, anything nonzero (NaN too) is true."""
    if np.dtype(src).kind == "b":
        x = rng.random(1000) < 0.5
    elif np.dtype(src).kind in "iu":
        info = np.iinfo(src)
        x = rng.integers(info.min, info.max, 1000, dtype=src, endpoint=True)
    else:
        x = (rng.standard_normal(1000) * 1e9).astype(src)
        x[:5] = [np.nan, 0.0, -0.0, np.inf, 1e-30]
    model, feeds = single_op("Cast", [x], out_dtype=dst, to=helper.np_dtype_to_tensor_dtype(np.dtype(dst)))
    (got,) = pfw_run(to_pfw(model), feeds)
    assert got.dtype == dst
    np.testing.assert_array_equal(got, x.astype(dst))
