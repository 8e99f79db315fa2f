"""Smaller ops, one small ONNX model per case: BitCast and Swish against
ONNX's reference evaluator (ONNX Runtime has no kernel for them yet);
Shrink, EyeLike, the Hann/Hamming/Blackman windows, DepthToSpace,
SpaceToDepth, ReverseSequence and Det against ONNX Runtime; CenterCropPad
against the reference."""
import numpy as np
import pytest
from onnx import TensorProto
from onnx.helper import tensor_dtype_to_np_dtype
from onnx.reference import ReferenceEvaluator

from onnx_util import assert_match, check_or_reference, pfw_run, single_op, to_pfw

rng = np.random.default_rng(20261204)
f32, f64 = np.float32, np.float64


def check_reference(model, feeds):
    assert_match(pfw_run(to_pfw(model), feeds), ReferenceEvaluator(model).run(None, feeds))


@pytest.mark.parametrize("src, to", [
    (np.float32, TensorProto.INT32), (np.int32, TensorProto.FLOAT), (np.float64, TensorProto.INT64),
    (np.int64, TensorProto.DOUBLE), (np.uint16, TensorProto.INT16), (np.int8, TensorProto.UINT8),
    (np.bool_, TensorProto.UINT8), (np.uint32, TensorProto.INT32), (np.float32, TensorProto.UINT32),
])
def test_bitcast(src, to):
    x = rng.uniform(-100, 100, (3, 4)).astype(src) if np.dtype(src).kind == "f" else \
        rng.integers(0, 2 if src is np.bool_ else 100, (3, 4)).astype(src)
    check_reference(*single_op("BitCast", [x], opset=26, out_dtype=tensor_dtype_to_np_dtype(to), to=to))


def test_bitcast_of_other_width_is_an_error():
    import pyfw
    from onnx import helper

    from onnx_util import value_info
    node = helper.make_node("BitCast", ["x"], ["y"], name="bc", to=TensorProto.INT64)
    graph = helper.make_graph([node], "g", [value_info("x", f32, (2,))], [value_info("y", np.int64, (2,))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 26)])
    with pytest.raises((pyfw.InvalidModelError, ValueError)) as e:
        pfw_run(to_pfw(model), {"x": np.ones(2, f32)})
    assert "the widths differ" in str(e.value) and "bc" in str(e.value)


@pytest.mark.parametrize("alpha", [None, 0.5, 2.0])
@pytest.mark.parametrize("dtype", [f32, f64])
def test_swish(alpha, dtype):
    x = rng.uniform(-6, 6, (3, 5)).astype(dtype)
    kw = {} if alpha is None else {"alpha": alpha}
    check_reference(*single_op("Swish", [x], opset=24, **kw))


@pytest.mark.parametrize("lambd, bias", [(None, None), (1.5, 0.0), (0.5, 1.5)])
@pytest.mark.parametrize("dtype", [f32, f64])
def test_shrink(lambd, bias, dtype):
    x = rng.uniform(-3, 3, (4, 6)).astype(dtype)
    kw = {k: v for k, v in (("lambd", lambd), ("bias", bias)) if v is not None}
    check_or_reference(*single_op("Shrink", [x], opset=9, **kw))


@pytest.mark.parametrize("k", [0, 1, -2, 5])
@pytest.mark.parametrize("shape", [(3, 5), (4, 4), (5, 2)])
@pytest.mark.parametrize("dtype", [None, TensorProto.FLOAT, TensorProto.INT64, TensorProto.DOUBLE])
def test_eyelike(k, shape, dtype):
    x = rng.integers(0, 5, shape).astype(np.int32)
    kw = {} if dtype is None else {"dtype": dtype}
    out = np.int32 if dtype is None else tensor_dtype_to_np_dtype(dtype)
    check_or_reference(*single_op("EyeLike", [x], opset=9, out_dtype=out, k=k, **kw))


@pytest.mark.parametrize("op", ["HannWindow", "HammingWindow", "BlackmanWindow"])
@pytest.mark.parametrize("periodic", [0, 1])
@pytest.mark.parametrize("size", [1, 2, 10])
@pytest.mark.parametrize("dtype", [None, TensorProto.DOUBLE])
def test_windows(op, periodic, size, dtype):
    """size as a constant and as a graph input fed at run time."""
    from onnx import helper

    from onnx_util import Init, build, value_info
    kw = {} if dtype is None else {"output_datatype": dtype}
    out = f32 if dtype is None else f64
    check_or_reference(*single_op(op, [Init(np.array(size, np.int64))], opset=17, out_dtype=out, periodic=periodic,
                                  **kw))
    node = helper.make_node(op, ["size"], ["w"], periodic=periodic, **kw)
    model = build([node], [value_info("size", np.int64, ())], [value_info("w", out, ["n"])], opset=17)
    check_or_reference(model, {"size": np.array(size, np.int64)})


@pytest.mark.parametrize("op, mode, opset", [("DepthToSpace", "DCR", 13), ("DepthToSpace", "CRD", 13),
                                             ("SpaceToDepth", None, 13)])
@pytest.mark.parametrize("b", [2, 3])
@pytest.mark.parametrize("dtype", [f32, np.int64])
def test_depth_space(op, mode, opset, b, dtype):
    shape = (2, 2 * b * b, 3, 2) if op == "DepthToSpace" else (2, 3, 2 * b, 3 * b)
    x = rng.integers(-50, 50, shape).astype(dtype)
    kw = {} if mode is None else {"mode": mode}
    check_or_reference(*single_op(op, [x], opset=opset, blocksize=b, **kw))


def test_space_to_depth_inverts_depth_to_space():
    """SpaceToDepth in either mode undoes DepthToSpace in the same mode."""
    x = rng.uniform(-1, 1, (1, 8, 3, 2)).astype(f32)
    for mode in ("DCR", "CRD"):
        (wide,) = pfw_run(to_pfw(single_op("DepthToSpace", [x], opset=13, blocksize=2, mode=mode)[0]), {"in0": x})
        model, feeds = single_op("SpaceToDepth", [wide], opset=13, blocksize=2)
        model.graph.node[0].attribute.append(__import__("onnx").helper.make_attribute("mode", mode))
        (back,) = pfw_run(to_pfw(model), feeds)
        np.testing.assert_array_equal(back, x)


@pytest.mark.parametrize("time_axis", [0, 1])
@pytest.mark.parametrize("dtype", [f32, np.int32])
def test_reverse_sequence(time_axis, dtype):
    x = rng.integers(-50, 50, (4, 5, 3) if time_axis == 0 else (5, 4, 3)).astype(dtype)
    lens = np.array([1, 4, 0, 2, 3], np.int64)
    check_or_reference(*single_op("ReverseSequence", [x, lens], opset=10, time_axis=time_axis,
                                  batch_axis=1 - time_axis))


@pytest.mark.parametrize("shape, axes", [([4, 6], None), ([2, 9], None), ([7, 3], [0, 1]), ([5], [-1]),
                                         ([3, 3], [2, 0])])
def test_center_crop_pad(shape, axes):
    from onnx_util import Init
    x = rng.integers(-50, 50, (5, 8) if axes is None else (5, 4, 6)).astype(f32)  # crops, pads, both
    kw = {} if axes is None else {"axes": axes}
    model, feeds = single_op("CenterCropPad", [x, Init(np.array(shape, np.int64))], opset=18, **kw)
    check_reference(model, feeds)


@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 4, 4), (2, 3, 5, 5)])
@pytest.mark.parametrize("dtype", [f32, f64])
def test_det(shape, dtype):
    x = rng.uniform(-2, 2, shape).astype(dtype)
    check_or_reference(*single_op("Det", [x], opset=11))
    x64 = x.astype(f64)  # and against numpy's LAPACK determinant, in float64
    (got,) = pfw_run(to_pfw(single_op("Det", [x64], opset=11)[0]), {"in0": x64})
    np.testing.assert_allclose(got, np.linalg.det(x64), rtol=1e-12, atol=1e-12)


def test_det_singular_is_zero():
    x = np.array([[[1, 2, 3], [2, 4, 6], [0, 1, 1]], [[0, 0, 0], [1, 2, 3], [4, 5, 6]]], f64)
    (got,) = pfw_run(to_pfw(single_op("Det", [x], opset=11)[0]), {"in0": x})
    np.testing.assert_array_equal(got, [0, 0])
