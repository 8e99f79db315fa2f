"""LpPool, GlobalLpPool and GlobalMaxPool, one small ONNX model per case,
ONNX Runtime as the oracle: orders p, 1-3 spatial dims, strides, pads,
dilations, auto_pad, ceil_mode."""
import numpy as np
import pytest

from onnx_util import check_or_reference, single_op

rng = np.random.default_rng(20261130)
f32 = np.float32


@pytest.mark.parametrize("p", [1, 2, 3])
@pytest.mark.parametrize("shape, kw", [
    ((2, 3, 9), dict(kernel_shape=[3])),
    ((2, 3, 7, 8), dict(kernel_shape=[3, 2], strides=[2, 1])),
    ((1, 2, 7, 8), dict(kernel_shape=[3, 3], pads=[1, 0, 2, 1])),
    ((1, 2, 8, 8), dict(kernel_shape=[2, 3], dilations=[2, 1])),
    ((1, 2, 7, 6), dict(kernel_shape=[3, 2], auto_pad="SAME_UPPER", strides=[2, 2])),
    ((1, 2, 7, 6), dict(kernel_shape=[3, 2], auto_pad="SAME_LOWER")),
    ((1, 2, 5, 6, 4), dict(kernel_shape=[2, 3, 2])),
], ids=["1d", "2d_strides", "2d_pads", "2d_dilations", "same_upper", "same_lower", "3d"])
def test_lppool(p, shape, kw):
    x = rng.uniform(-2, 2, shape).astype(f32)
    check_or_reference(*single_op("LpPool", [x], opset=18, p=p, **kw))


def test_lppool_ceil_mode():
    x = rng.uniform(-2, 2, (1, 2, 8, 8)).astype(f32)
    check_or_reference(*single_op("LpPool", [x], opset=18, kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1))


def test_lppool_opset_11():
    x = rng.uniform(-2, 2, (1, 3, 6, 6)).astype(f32)
    check_or_reference(*single_op("LpPool", [x], opset=11, kernel_shape=[2, 2], p=3))


@pytest.mark.parametrize("op, kw", [("GlobalMaxPool", {}), ("GlobalLpPool", {}), ("GlobalLpPool", {"p": 1}),
                                    ("GlobalLpPool", {"p": 3})], ids=["max", "lp2", "lp1", "lp3"])
@pytest.mark.parametrize("shape", [(2, 3, 5), (2, 3, 4, 5), (1, 2, 3, 4, 2)], ids=["1d", "2d", "3d"])
def test_global_pools(op, kw, shape):
    x = rng.uniform(-2, 2, shape).astype(f32)
    check_or_reference(*single_op(op, [x], opset=13, **kw))
