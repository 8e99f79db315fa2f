"""TopK, one small ONNX model per case, ONNX Runtime as the oracle (ONNX's
reference evaluator where ONNX Runtime has no kernel): axes, largest and
smallest, ties (the lower index first), k as an attribute (TopK-1), a
constant input or a graph input fed at run time, dtypes."""
import numpy as np
import pytest

from onnx import helper

from onnx_util import Init, assert_match, build, check_or_reference, pfw_run, to_pfw, value_info

rng = np.random.default_rng(20261201)
f32, f64, i32, i64 = np.float32, np.float64, np.int32, np.int64


def single_op(op, args, opset, n_outputs=2, out_dtype=None, **attrs):
    """A one-node TopK model: Values like X, int64 Indices; Init(...) args
    are initializers, arrays graph inputs."""
    names, inputs, inits, feeds = [], [], {}, {}
    for i, a in enumerate(args):
        name = f"in{i}"
        names.append(name)
        if isinstance(a, Init):
            inits[name] = a.value
        else:
            inputs.append(value_info(name, a.dtype, a.shape))
            feeds[name] = a
    node = helper.make_node(op, names, ["values", "indices"], name="topk_node", **attrs)
    outputs = [value_info("values", args[0].dtype, None), value_info("indices", np.int64, None)]
    return build([node], inputs, outputs, inits, opset), feeds


def data(dtype, shape, ties=False):
    if ties:  # few distinct values: many ties
        return rng.integers(0, 3, shape).astype(dtype)
    if np.dtype(dtype).kind == "f":
        return rng.uniform(-5, 5, shape).astype(dtype)
    return rng.permutation(np.arange(np.prod(shape))).reshape(shape).astype(dtype)


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("largest", [1, 0])
@pytest.mark.parametrize("k", [0, 1, 3])
@pytest.mark.parametrize("dtype", [f32, f64, i32, i64])
def test_topk(axis, largest, k, dtype):
    x = data(dtype, (4, 5, 6))
    check_or_reference(*single_op("TopK", [x, Init(np.array([k], i64))], opset=11, n_outputs=2, out_dtype=dtype,
                                  axis=axis, largest=largest))


@pytest.mark.parametrize("largest", [1, 0])
@pytest.mark.parametrize("axis", [0, -1])
def test_ties_take_the_lower_index(largest, axis):
    x = data(f32, (7, 9), ties=True)
    check_or_reference(*single_op("TopK", [x, Init(np.array([5], i64))], opset=11, n_outputs=2, axis=axis,
                                  largest=largest))


def test_whole_axis_and_unsorted_flag():
    """k = the axis size; sorted=0 allows any order, pyfw's is sorted."""
    x = data(f32, (3, 8))
    check_or_reference(*single_op("TopK", [x, Init(np.array([8], i64))], opset=11, n_outputs=2))
    model, feeds = single_op("TopK", [x, Init(np.array([3], i64))], opset=11, n_outputs=2, sorted=0)
    values, indices = pfw_run(to_pfw(model), feeds)
    want = -np.sort(-x, axis=1)[:, :3]
    np.testing.assert_array_equal(values, want)
    np.testing.assert_array_equal(np.take_along_axis(x, indices, 1), want)


def test_topk_1_attribute():
    x = data(f32, (3, 6))
    check_or_reference(*single_op("TopK", [x], opset=9, n_outputs=2, k=2))


def test_k_fed_at_run_time():
    """K as a graph input: read while planning, re-planned when it changes."""
    from pyfw.runtime import Interpreter
    x = data(f32, (4, 7))
    model, feeds = single_op("TopK", [x, np.array([2], i64)], opset=11, n_outputs=2)
    check_or_reference(model, feeds)
    from onnx_util import ort_run
    with Interpreter(to_pfw(model)) as it:
        for k in (5, 1, 7):
            f = {**feeds, "in1": np.array([k], i64)}
            assert_match(it.run(f), ort_run(model, f))


def test_nan_ranks_above_numbers():
    x = np.array([[1.0, np.nan, 3.0, -2.0, np.nan]], f32)
    for largest in (1, 0):
        model, feeds = single_op("TopK", [x, Init(np.array([3], i64))], opset=11, n_outputs=2, largest=largest)
        values, indices = pfw_run(to_pfw(model), feeds)
        want_idx = [1, 4, 2] if largest else [3, 0, 2]
        np.testing.assert_array_equal(indices[0], want_idx)
        np.testing.assert_array_equal(values[0], x[0, want_idx])


def test_k_too_large_is_an_error():
    import pyfw
    x = data(f32, (3, 4))
    model, feeds = single_op("TopK", [x, np.array([5], i64)], opset=11, n_outputs=2)
    with pytest.raises((pyfw.InvalidModelError, ValueError)) as e:
        pfw_run(to_pfw(model), feeds)
    assert "k = 5 is outside [0, 4]" in str(e.value) and "topk_node" in str(e.value)
