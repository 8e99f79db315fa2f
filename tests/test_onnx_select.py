"""Ops whose output sizes are what the data selects: NonZero, Compress,
Unique, NonMaxSuppression. NumPy's nonzero, compress and unique are the
closed-form oracles (every dtype, rank and axis), ONNX Runtime the oracle for
NonMaxSuppression and for chains such as x[x > 0]; sizes change from run to
run of one interpreter."""
import numpy as np
import pytest
from onnx import helper

import pyfw
from onnx_util import Init, assert_match, build, ort_run, pfw_run, single_op, to_pfw, value_info
from pyfw.runtime import Interpreter

rng = np.random.default_rng(21)
f32, i64 = np.float32, np.int64


def sparse(shape, dtype, density=0.3):
    """Values with many zeros (and, for floats, -0.0 and NaN, which are zero and nonzero)."""
    x = np.where(rng.random(shape) < density, rng.integers(-3, 4, shape), 0).astype(dtype)
    if np.dtype(dtype).kind == "f" and x.size > 2:
        x.flat[0], x.flat[-1] = -0.0, np.nan
    return x


@pytest.mark.parametrize("dtype", [f32, np.float64, np.float16, i64, np.int32, np.int8, np.uint8, np.bool_])
@pytest.mark.parametrize("shape", [(), (7,), (3, 5), (2, 3, 4), (2, 1, 3, 2)])
def test_nonzero_matches_numpy(dtype, shape):
    x = sparse(shape, dtype)
    model, feeds = single_op("NonZero", [x], out_dtype=i64)
    got = pfw_run(to_pfw(model), feeds)[0]
    want = np.array(np.nonzero(np.atleast_1d(x)), dtype=i64)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("n_cond", [0, 2, 4])
def test_compress_matches_numpy(axis, n_cond):
    x = rng.standard_normal((4, 5, 4)).astype(f32)
    cond = rng.random(n_cond) < 0.5
    attrs = {} if axis is None else {"axis": axis}
    model, feeds = single_op("Compress", [x, cond], **attrs)
    got = pfw_run(to_pfw(model), feeds)[0]
    np.testing.assert_array_equal(got, np.compress(cond, x, axis=axis))


def test_compress_condition_longer_than_the_axis_is_refused():
    model, feeds = single_op("Compress", [np.zeros((2, 3), f32), np.ones(4, np.bool_)], axis=1)
    with pytest.raises(ValueError, match=r"condition\) has 4 entries for 3 slices"):
        pfw_run(to_pfw(model), feeds)


def numpy_unique(x, axis, sorted_):
    """ONNX's Unique from np.unique: with sorted=0 the distinct values come in
    order of first occurrence, and inverse_indices and counts follow them."""
    y, index, inverse, counts = np.unique(x, return_index=True, return_inverse=True, return_counts=True, axis=axis)
    inverse = inverse.reshape(-1)
    if not sorted_:
        order = np.argsort(index, kind="stable")
        place = np.empty_like(order)
        place[order] = np.arange(order.size)
        y = np.take(x.reshape(-1) if axis is None else x, index[order], axis=0 if axis is None else axis)
        index, inverse, counts = index[order], place[inverse], counts[order]
    return [y, index.astype(i64), inverse.astype(i64), counts.astype(i64)]


@pytest.mark.parametrize("sorted_", [1, 0])
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("dtype", [f32, i64, np.float16])
def test_unique_matches_numpy(sorted_, axis, dtype):
    x = rng.integers(-2, 3, (6, 4, 3)).astype(dtype)
    x[3] = x[1]  # repeated slices along axis 0
    x[:, 2] = x[:, 0]  # and along axis 1
    attrs = {"sorted": sorted_} if axis is None else {"sorted": sorted_, "axis": axis}
    node = helper.make_node("Unique", ["x"], ["y", "index", "inverse", "counts"], **attrs)
    model = build([node], [value_info("x", dtype, x.shape)],
                  [value_info("y", dtype, None)] + [value_info(n, i64, None) for n in ("index", "inverse", "counts")])
    got = pfw_run(to_pfw(model), {"x": x})
    for g, w, name in zip(got, numpy_unique(x, axis, sorted_), ("y", "index", "inverse", "counts")):
        assert g.dtype == w.dtype and g.shape == w.shape, name
        np.testing.assert_array_equal(g, w, err_msg=name)


def test_unique_unsorted_of_values_seen_in_reverse_order():
    """sorted=0 orders the distinct values by first occurrence; values that
    appear in the reverse of their sorted order made that u^2 steps (a fuzz
    timeout): 200,000 distinct ones now take milliseconds."""
    x = np.arange(200_000, 0, -1, dtype=i64)
    x[::7] = x[1::7][: x[::7].size]  # repeats too
    node = helper.make_node("Unique", ["x"], ["y", "index", "inverse", "counts"], sorted=0)
    model = build([node], [value_info("x", i64, x.shape)],
                  [value_info("y", i64, None)] + [value_info(n, i64, None) for n in ("index", "inverse", "counts")])
    for g, w in zip(pfw_run(to_pfw(model), {"x": x}), numpy_unique(x, None, 0)):
        np.testing.assert_array_equal(g, w)


def nms_model(center):
    inputs = [value_info("boxes", f32, [None, None, 4]), value_info("scores", f32, [None, None, None]),
              value_info("max_out", i64, [1]), value_info("iou", f32, [1]), value_info("min_score", f32, [1])]
    node = helper.make_node("NonMaxSuppression", ["boxes", "scores", "max_out", "iou", "min_score"], ["selected"],
                            center_point_box=center)
    return build([node], inputs, [value_info("selected", i64, [None, 3])])


@pytest.mark.parametrize("center", [0, 1])
def test_non_max_suppression_matches_onnx_runtime(center):
    """Overlapping random boxes (corners in either order, or centre + size),
    tied scores, several batches and classes; the selection's size changes
    with the thresholds from run to run of one interpreter."""
    model = nms_model(center)
    with Interpreter(to_pfw(model)) as it:
        for b, c, n, max_out, iou, min_score in ((2, 3, 40, 5, 0.5, 0.2), (1, 1, 60, 100, 0.3, 0.0),
                                                 (3, 2, 25, 2, 0.9, 0.6), (1, 2, 30, 0, 0.5, 0.1)):
            boxes = rng.random((b, n, 4)).astype(f32) * 10
            if center:
                boxes[..., 2:] = rng.random((b, n, 2)).astype(f32) * 4
            scores = np.round(rng.random((b, c, n)), 1).astype(f32)  # ties
            feeds = {"boxes": boxes, "scores": scores, "max_out": np.array([max_out], i64),
                     "iou": np.array([iou], f32), "min_score": np.array([min_score], f32)}
            assert_match(it.run(feeds), ort_run(model, feeds))


def test_boolean_mask_indexing_chain():
    """x[x > 0] as PyTorch exports it: NonZero -> Transpose -> GatherND, then
    arithmetic on the selection; the length follows the data."""
    nodes = [helper.make_node("Greater", ["x", "zero"], ["mask"]),
             helper.make_node("NonZero", ["mask"], ["nz"]),
             helper.make_node("Transpose", ["nz"], ["idx"], perm=[1, 0]),
             helper.make_node("GatherND", ["x", "idx"], ["picked"]),
             helper.make_node("Mul", ["picked", "picked"], ["squares"]),
             helper.make_node("ReduceSum", ["squares"], ["total"], keepdims=0)]
    model = build(nodes, [value_info("x", f32, [3, 4])], [value_info("squares", f32, None),
                                                          value_info("total", f32, [])], {"zero": np.float32(0)})
    with Interpreter(to_pfw(model)) as it:
        for _ in range(4):
            x = rng.standard_normal((3, 4)).astype(f32)
            assert_match(it.run({"x": x}), ort_run(model, {"x": x}))


def test_unique_working_memory_is_held_to_the_limit():
    x = np.arange(4096, dtype=f32)
    model, feeds = single_op("Unique", [x], sorted=1)
    with Interpreter(to_pfw(model), arena_limit=1 << 16) as it:
        with pytest.raises(pyfw.UnsupportedError, match="Unique of 4096 slices"):
            it.run(feeds)


def test_unique_and_compress_of_empty_slices_under_a_huge_outer_dim():
    """(2^40, 3, 0): three empty slices along axis 1 under 2^40 rows of
    nothing. The copies used to walk the 2^40 rows (a fuzz timeout)."""
    x = np.zeros((2**40, 3, 0), f32)
    node = helper.make_node("Unique", ["x"], ["y", "index", "inverse", "counts"], axis=1)
    model = build([node], [value_info("x", f32, x.shape)],
                  [value_info("y", f32, None)] + [value_info(n, i64, None) for n in ("index", "inverse", "counts")])
    y, index, inverse, counts = pfw_run(to_pfw(model), {"x": x})
    assert y.shape == (2**40, 1, 0)
    np.testing.assert_array_equal(index, [0])
    np.testing.assert_array_equal(inverse, [0, 0, 0])
    np.testing.assert_array_equal(counts, [3])
    model, feeds = single_op("Compress", [x, np.array([True, False, True])], axis=1, out_shape=[2**40, 2, 0])
    (got,) = pfw_run(to_pfw(model), feeds)
    assert got.shape == (2**40, 2, 0) and got.dtype == f32
