"""LpPool, GlobalLpPool, GlobalMaxPool and Col2Im, one small ONNX model per case,
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


@pytest.mark.parametrize("image, block, kw", [
    ([5, 5], [2, 2], {}),
    ([6, 5], [3, 2], {"strides": [2, 1]}),
    ([5, 6], [2, 3], {"pads": [1, 0, 1, 2]}),
    ([7, 6], [2, 2], {"dilations": [2, 3]}),
    ([4, 3, 5], [2, 1, 2], {"strides": [1, 2, 2]}),
], ids=["2d", "strides", "pads", "dilations", "3d"])
def test_col2im(image, block, kw):
    """Col2Im, the inverse of the pools' window walk, against ONNX's reference
    (and ONNX Runtime where it has the kernel)."""
    from onnx_util import Init
    r = len(image)
    dil, st = kw.get("dilations", [1] * r), kw.get("strides", [1] * r)
    pads = kw.get("pads", [0] * 2 * r)
    L = np.prod([(image[i] + pads[i] + pads[r + i] - dil[i] * (block[i] - 1) - 1) // st[i] + 1 for i in range(r)])
    x = rng.uniform(-1, 1, (2, 3 * int(np.prod(block)), int(L))).astype(f32)
    check_or_reference(*single_op("Col2Im", [x, Init(np.array(image, np.int64)), Init(np.array(block, np.int64))],
                                  opset=18, **kw))
