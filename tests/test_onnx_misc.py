"""Smaller ops, one small ONNX model per case: BitCast and Swish against
ONNX's reference evaluator (ONNX Runtime has no kernel for them yet), Shrink
against ONNX Runtime."""
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
