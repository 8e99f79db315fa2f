"""BitShift and BitwiseAnd/Or/Xor/Not, one small ONNX model per case:
ONNX Runtime is the oracle where it has the kernel (unsigned BitShift-11,
Bitwise*-18), ONNX's reference evaluator for signed BitShift-28 (shift
amounts outside [0, bits), negative values, overflow)."""
import numpy as np
import pytest
from onnx.reference import ReferenceEvaluator

from onnx_util import assert_match, check_or_reference, pfw_run, single_op, to_pfw

rng = np.random.default_rng(20261128)
UNSIGNED = [np.uint8, np.uint16, np.uint32, np.uint64]
SIGNED = [np.int8, np.int16, np.int32, np.int64]


def values(dtype, shape):
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)


def shifts(dtype, shape, lo=0):
    bits = np.iinfo(dtype).bits
    return rng.integers(lo, bits, shape).astype(dtype)


@pytest.mark.parametrize("dtype", UNSIGNED, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("direction", ["LEFT", "RIGHT"])
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((4,), (2, 1, 4)), ((), (5,))],
                         ids=["same", "bcast_y", "bcast_x", "scalar_x"])
def test_bitshift_unsigned(dtype, direction, shapes):
    x, y = values(dtype, shapes[0]), shifts(dtype, shapes[1])
    check_or_reference(*single_op("BitShift", [x, y], opset=11, direction=direction))


@pytest.mark.parametrize("dtype", SIGNED + UNSIGNED, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("direction", ["LEFT", "RIGHT"])
def test_bitshift_28_every_amount(dtype, direction):
    """Signed types (BitShift-28), negative values, and shift amounts from
    below 0 to beyond the width: ONNX's reference is the oracle."""
    bits = np.iinfo(dtype).bits
    x = values(dtype, (6, bits + 4))
    lo = -3 if np.dtype(dtype).kind == "i" else 0
    y = np.tile(np.arange(lo, bits + 4 + lo), (6, 1)).astype(dtype)
    model, feeds = single_op("BitShift", [x, y], opset=28, direction=direction)
    want = ReferenceEvaluator(model).run(None, feeds)
    assert_match(pfw_run(to_pfw(model), feeds), want)


@pytest.mark.parametrize("op", ["BitwiseAnd", "BitwiseOr", "BitwiseXor"])
@pytest.mark.parametrize("dtype", SIGNED + UNSIGNED, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((2, 3, 4), (3, 1))], ids=["same", "bcast"])
def test_bitwise_binary(op, dtype, shapes):
    check_or_reference(*single_op(op, [values(dtype, shapes[0]), values(dtype, shapes[1])], opset=18))


@pytest.mark.parametrize("dtype", SIGNED + UNSIGNED, ids=lambda d: np.dtype(d).name)
def test_bitwise_not(dtype):
    check_or_reference(*single_op("BitwiseNot", [values(dtype, (2, 3, 5))], opset=18))


def test_bad_direction_and_dtype_name_the_node():
    """Models the ONNX checker would refuse still get a clear error from pyfw."""
    import pyfw
    from onnx import helper

    from onnx_util import value_info
    for dtype, direction, message in ((np.uint8, "UP", "attribute 'direction' is 'UP'"),
                                      (np.float32, "LEFT", "input 0 has dtype float32")):
        node = helper.make_node("BitShift", ["x", "y"], ["z"], name="shift", direction=direction)
        graph = helper.make_graph([node], "g", [value_info("x", dtype, (3,)), value_info("y", dtype, (3,))],
                                  [value_info("z", dtype, (3,))])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
        with pytest.raises((pyfw.UnsupportedError, pyfw.InvalidModelError)) as e:
            pfw_run(to_pfw(model), {"x": np.ones(3, dtype), "y": np.ones(3, dtype)})
        assert message in str(e.value) and "shift" in str(e.value)
