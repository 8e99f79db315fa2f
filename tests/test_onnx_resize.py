"""Resize (and Upsample, imported as Resize-10): one small ONNX model per
case. ONNX's reference evaluator is the oracle for every mode and
coordinate transformation (it defines Resize); ONNX Runtime is a second
oracle where it implements the same semantics. scales/sizes/roi are
initializers or graph inputs fed at run time (read while planning)."""
import numpy as np
import pytest
from onnx import helper, numpy_helper
from onnx.reference.ops.op_resize import Resize

from onnx_util import Init, assert_match, build, check, pfw_run, single_op, to_pfw, value_info

rng = np.random.default_rng(20261125)
f32, f64, i64 = np.float32, np.float64, np.int64
X = rng.uniform(-2, 2, (2, 3, 5, 7)).astype(f32)
COORDS = ["half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric"]
NEAREST = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]
UP, DOWN = np.array([1, 1, 2.5, 1.5], f32), np.array([1, 1, 0.6, 0.45], f32)


def resize(x, scales=None, sizes=None, roi=None, feed=False, opset=19, **attrs):
    """(model, feeds): scales/sizes/roi as initializers, or graph inputs when `feed`."""
    wrap = (lambda v: v) if feed else Init
    args = [x, None if roi is None else wrap(roi), None if scales is None else wrap(scales),
            None if sizes is None else wrap(sizes)]
    while args[-1] is None:
        args.pop()
    return single_op("Resize", args, opset=opset, **attrs)


DEFAULTS = dict(antialias=0, axes=None, coordinate_transformation_mode="half_pixel", cubic_coeff_a=-0.75,
                exclude_outside=0, extrapolation_value=0.0, keep_aspect_ratio_policy="stretch", mode="nearest",
                nearest_mode="round_prefer_floor")


def reference(model, feeds, axes=None):
    """ONNX's reference Resize on the model's one node, with its float
    attributes as Python floats: ReferenceEvaluator passes float32 scalars,
    which computes the cubic weights in float32 (errors of ~1e-6 where the
    taps cancel), while pyfw and this oracle compute them in float64."""
    node = model.graph.node[0]
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    attrs = {k: v.decode() if isinstance(v, bytes) else v for k, v in attrs.items()}
    if axes is not None:
        attrs["axes"] = axes
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    values = [feeds.get(n, inits.get(n)) if n else None for n in node.input]
    values += [None] * (4 - len(values))
    return list(Resize._run(None, *values, **{**DEFAULTS, **attrs}))


def check_reference(model, feeds, axes=None):
    """pyfw against ONNX's reference Resize."""
    got = pfw_run(to_pfw(model), feeds)
    assert_match(got, reference(model, feeds, axes))
    return got


@pytest.mark.parametrize("coord", COORDS)
@pytest.mark.parametrize("nearest_mode", NEAREST)
@pytest.mark.parametrize("scales", [UP, DOWN], ids=["up", "down"])
def test_nearest(coord, nearest_mode, scales):
    check_reference(*resize(X, scales, mode="nearest", coordinate_transformation_mode=coord,
                            nearest_mode=nearest_mode))


@pytest.mark.parametrize("coord", COORDS)
@pytest.mark.parametrize("mode", ["linear", "cubic"])
@pytest.mark.parametrize("scales", [UP, DOWN], ids=["up", "down"])
def test_interpolate_scales(coord, mode, scales):
    check_reference(*resize(X, scales, mode=mode, coordinate_transformation_mode=coord))


@pytest.mark.parametrize("coord", ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"])
@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
@pytest.mark.parametrize("sizes", [[2, 3, 9, 4], [2, 3, 3, 11], [2, 3, 1, 1]], ids=["mixed", "wide", "tiny"])
def test_sizes_match_onnxruntime(coord, mode, sizes):
    """Output sizes given: ONNX Runtime and the reference agree on these."""
    model, feeds = resize(X, sizes=np.array(sizes, i64), mode=mode, coordinate_transformation_mode=coord)
    check(model, feeds)
    check_reference(model, feeds)


@pytest.mark.parametrize("mode", ["linear", "cubic"])
@pytest.mark.parametrize("scales", [DOWN, np.array([1, 1, 0.3, 0.7], f32), UP], ids=["down", "down3", "up"])
def test_antialias(mode, scales):
    check_reference(*resize(X, scales, mode=mode, antialias=1))


@pytest.mark.parametrize("a", [-0.5, -0.75])
@pytest.mark.parametrize("exclude", [0, 1])
@pytest.mark.parametrize("scales", [UP, DOWN], ids=["up", "down"])
def test_cubic_coeff_and_exclude_outside(a, exclude, scales):
    model, feeds = resize(X, scales, mode="cubic", cubic_coeff_a=a, exclude_outside=exclude)
    check(model, feeds)
    check_reference(model, feeds)


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
@pytest.mark.parametrize("extrapolation", [0.0, 10.0])
def test_tf_crop_and_resize(mode, extrapolation):
    roi = np.array([0, 0, 0.4, -0.2, 1, 1, 1.2, 0.7], f32)  # crops past both edges
    model, feeds = resize(X, sizes=np.array([2, 3, 6, 5], i64), roi=roi, mode=mode,
                          coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=extrapolation)
    check_reference(model, feeds)


@pytest.mark.parametrize("axes", [[2, 3], [3, 2], [-1, 1], [1]])
def test_axes(axes):
    """The reference cannot take negative axes; it gets them normalised."""
    positive = [a % X.ndim for a in axes]
    scales = np.array([2.0, 0.5, 1.5, 3.0][:len(axes)], f32)
    check_reference(*resize(X, scales, mode="linear", axes=axes), axes=positive)
    sizes = np.array([4, 9, 2, 3][:len(axes)], i64)
    check_reference(*resize(X, sizes=sizes, mode="nearest", axes=axes), axes=positive)


@pytest.mark.parametrize("policy", ["stretch", "not_larger", "not_smaller"])
@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_keep_aspect_ratio_policy(policy, mode):
    check_reference(*resize(X, sizes=np.array([8, 4], i64), axes=[2, 3], mode=mode, keep_aspect_ratio_policy=policy))


@pytest.mark.parametrize("dtype", [f64, np.int32, np.uint8, np.int8, i64])
def test_dtypes(dtype):
    x = (X * 10).astype(dtype)
    mode = "linear" if dtype == f64 else "nearest"
    check_reference(*resize(x, UP, mode=mode))


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
def test_scales_and_sizes_fed_at_run_time(mode):
    """scales, sizes and roi as graph inputs: planned once their values arrive,
    re-planned when they change."""
    from pyfw.runtime import Interpreter
    model, feeds = resize(X, UP, mode=mode, feed=True)
    check(model, feeds)
    with Interpreter(to_pfw(model)) as it:
        for scales in (UP, DOWN, UP):
            (got,) = it.run({**feeds, "in2": scales})
            (want,) = reference(model, {**feeds, "in2": scales})
            assert_match([got], [want])
    model, feeds = resize(X, sizes=np.array([2, 3, 4, 9], i64), roi=np.array([0, 0, 0.1, 0.2, 1, 1, 0.8, 0.9], f32),
                          feed=True, mode=mode, coordinate_transformation_mode="tf_crop_and_resize")
    check_reference(model, feeds)


def test_resize_10_matches_onnxruntime():
    """Resize-10: asymmetric coordinates; nearest floors up, ceils down (ONNX Runtime)."""
    for mode in ("nearest", "linear"):
        for scales in (UP, DOWN):
            model, feeds = single_op("Resize", [X, Init(scales)], opset=10, mode=mode)
            check(model, feeds)


@pytest.mark.parametrize("opset", [7, 9])
@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_upsample(opset, mode):
    scales = np.array([1, 1, 2, 3], f32)
    if opset == 7:
        node = helper.make_node("Upsample", ["x"], ["y"], mode=mode, scales=scales.tolist())
        model = build([node], [value_info("x", f32, X.shape)], [value_info("y", f32, None)], opset=7)
    else:
        node = helper.make_node("Upsample", ["x", "s"], ["y"], mode=mode)
        model = build([node], [value_info("x", f32, X.shape)], [value_info("y", f32, None)], {"s": scales}, opset=9)
    check(model, {"x": X})


@pytest.mark.parametrize("attrs, inputs, message", [
    ({"mode": "bicubic"}, {"scales": UP}, "attribute 'mode' is 'bicubic'"),
    ({"mode": "nearest", "antialias": 1}, {"scales": UP}, "antialias=1 needs mode linear or cubic"),
    ({}, {"scales": UP, "sizes": np.array([2, 3, 4, 4], i64)}, "exactly one of scales and sizes"),
    ({}, {"scales": np.array([1, 2], f32)}, "scales has 2 values; expected 4"),
    ({}, {"scales": np.array([1, 1, 0, 1], f32)}, "must be positive"),
    ({"coordinate_transformation_mode": "tf_crop_and_resize"}, {"sizes": np.array([2, 3, 4, 4], i64)},
     "roi has 0 values"),
])
def test_errors_name_the_problem(attrs, inputs, message):
    """Bad scales/sizes/attributes give one clear error naming the node."""
    import pyfw
    from pyfw.runtime import Interpreter
    names = ["x", "", "scales" if "scales" in inputs else "", "sizes" if "sizes" in inputs else ""]
    node = helper.make_node("Resize", names, ["y"], name="the_resize", **attrs)
    inits = {k: v for k, v in inputs.items()}
    graph = helper.make_graph([node], "g", [value_info("x", f32, X.shape)], [value_info("y", f32, None)],
                              [__import__("onnx").numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    model.ir_version = 10
    with pytest.raises((pyfw.InvalidModelError, pyfw.UnsupportedError, ValueError)) as e:
        with Interpreter(to_pfw(model)) as it:
            it.run({"x": X})
    assert message in str(e.value) and "the_resize" in str(e.value)


@pytest.mark.parametrize("kw", [
    dict(scales=UP), dict(scales=DOWN), dict(sizes=np.array([2, 3, 9, 4], i64)),
    dict(sizes=np.array([8, 4], i64), axes=[2, 3], keep_aspect_ratio_policy="not_larger"),
    dict(sizes=np.array([8, 4], i64), axes=[2, 3], keep_aspect_ratio_policy="not_smaller"),
    dict(scales=np.array([3.0, 0.5], f32), axes=[-1, 1]),
], ids=["up", "down", "sizes", "not_larger", "not_smaller", "axes"])
def test_ir_shape_inference(kw):
    """pyfw.ir infers the output shape the runtime computes."""
    import pyfw.ir
    import pyfw.onnx
    model, feeds = resize(X, mode="nearest", **kw)
    graph = pyfw.ir.infer_shapes(pyfw.onnx.import_model(model))
    (got,) = pfw_run(to_pfw(model), feeds)
    assert graph.tensor("out0").shape == got.shape
    model, feeds = resize(X, mode="nearest", feed=True, **kw)  # values unknown: rank only
    graph = pyfw.ir.infer_shapes(pyfw.onnx.import_model(model))
    axes = [a % 4 for a in kw.get("axes", range(4))]
    assert graph.tensor("out0").shape == tuple(-1 if a in axes else X.shape[a] for a in range(4))


LIMIT = 64 << 20  # bytes: the arena limit the two tests below run under


def test_empty_output_with_a_long_axis_makes_no_tables():
    """An empty output (a 0 dim) has nothing to compute: prepare builds no
    tables for its 15 M-element axis (the fuzzer's 1.4 GB case), and the
    model runs under a 64 MiB limit."""
    from pyfw.runtime import Interpreter
    model, feeds = resize(np.zeros((1, 1, 3, 0), f32), scales=np.array([1, 1, 5e6, 1], f32), mode="linear")
    with Interpreter(to_pfw(model), arena_limit=LIMIT) as it:
        (y,) = it.run(feeds)
    assert y.shape == (1, 1, 15_000_000, 0)


def test_tables_over_the_memory_limit_are_refused():
    """Tables grow with the output's axes, not the file: 4 M linear taps
    (128 MB of tables for a 16 MB output) are refused under a 64 MiB limit
    with a message naming both sizes, before anything is allocated."""
    from pyfw import UnsupportedError
    from pyfw.runtime import Interpreter
    model, feeds = resize(np.ones((1, 1, 2, 1), f32), scales=np.array([1, 1, 2e6, 1], f32), mode="linear")
    with pytest.raises(UnsupportedError, match=r"Resize tables need \d+ bytes, more than the memory limit of 67108864"):
        Interpreter(to_pfw(model), arena_limit=LIMIT)
