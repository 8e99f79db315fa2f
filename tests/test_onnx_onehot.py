"""OneHot, one small ONNX model per case, ONNX Runtime as the oracle (ONNX's
reference evaluator where ONNX Runtime has no kernel): axes, negative and
out-of-range indices, index/depth/value dtypes, depth constant or fed."""
import numpy as np
import pytest

from onnx_util import Init, assert_match, check_or_reference, ort_run, pfw_run, single_op, to_pfw

rng = np.random.default_rng(20261202)
f32, f64, i32, i64 = np.float32, np.float64, np.int32, np.int64


@pytest.mark.parametrize("axis", [-1, 0, 1, -2, 2])
@pytest.mark.parametrize("itype", [i64, i32, f32])
def test_onehot(axis, itype):
    ix = rng.integers(-6, 6, (3, 4)).astype(itype)  # some outside [-5, 5): all off
    values = np.array([-1.5, 2.5], f32)
    check_or_reference(*single_op("OneHot", [ix, Init(np.array(5, i64)), values], opset=11, out_dtype=f32,
                                  axis=axis))


@pytest.mark.parametrize("vtype", [f32, f64, i32, i64])
@pytest.mark.parametrize("dtype_depth", [f32, i64, i32])
def test_dtypes(vtype, dtype_depth):
    ix = rng.integers(0, 7, (5,)).astype(i64)
    values = np.array([0, 3], vtype)
    check_or_reference(*single_op("OneHot", [ix, Init(np.array(7, dtype_depth)), values], opset=11,
                                  out_dtype=vtype))


def test_depth_of_shape_1():
    ix = rng.integers(-3, 3, (2, 3)).astype(i64)
    check_or_reference(*single_op("OneHot", [ix, Init(np.array([3], i64)), np.array([0, 1], f32)], opset=11,
                                  out_dtype=f32))


def test_depth_fed_at_run_time():
    """depth as a float graph input (as ONNX's tests feed it): planned once
    it arrives, re-planned when it changes."""
    from pyfw.runtime import Interpreter
    ix = np.array([[1, 9], [2, -4]], f32)
    values = np.array([0, 1], f32)
    model, feeds = single_op("OneHot", [ix, np.array(10, f32), values], opset=11, out_dtype=f32, axis=1)
    check_or_reference(model, feeds)
    with Interpreter(to_pfw(model)) as it:
        for depth in (12, 3, 10):
            f = {**feeds, "in1": np.array(depth, f32)}
            assert_match(it.run(f), ort_run(model, f))


@pytest.mark.parametrize("depth, message", [(np.array(0, i64), "expected >= 1"),
                                            (np.array(2.5, f32), "expected a whole number")])
def test_bad_depth_is_an_error(depth, message):
    import pyfw
    model, feeds = single_op("OneHot", [np.array([1, 2], i64), depth, np.array([0, 1], f32)], opset=11,
                             out_dtype=f32)
    with pytest.raises((pyfw.InvalidModelError, ValueError)) as e:
        pfw_run(to_pfw(model), feeds)
    assert message in str(e.value) and "onehot_node" in str(e.value)
