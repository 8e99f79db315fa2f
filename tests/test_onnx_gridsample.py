"""GridSample, one small ONNX model per case: ONNX Runtime as the oracle for
2-D sampling (GridSample-16 and -20), ONNX's reference evaluator for 1-D and
3-D: every mode, padding mode and align_corners, with grid points inside,
on and beyond the borders."""
import numpy as np
import pytest
from onnx.reference import ReferenceEvaluator

from onnx_util import assert_match, check, pfw_run, single_op, to_pfw

rng = np.random.default_rng(20261205)
f32, f64 = np.float32, np.float64
PADDING = ["zeros", "border", "reflection"]


def grid(shape):
    """Points in [-1.6, 1.6] (beyond the borders too), some exactly on pixels."""
    g = rng.uniform(-1.6, 1.6, shape)
    g.reshape(-1)[::7] = np.round(g.reshape(-1)[::7] * 2) / 2
    return g


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
@pytest.mark.parametrize("padding", PADDING)
@pytest.mark.parametrize("align", [0, 1])
def test_gridsample_2d(mode, padding, align):
    x = rng.uniform(-2, 2, (2, 3, 5, 6)).astype(f32)
    g = grid((2, 4, 7, 2)).astype(f32)
    check(*single_op("GridSample", [x, g], opset=20, mode=mode, padding_mode=padding, align_corners=align))


@pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic"])
def test_gridsample_16(mode):
    x = rng.uniform(-2, 2, (1, 2, 4, 5)).astype(f32)
    check(*single_op("GridSample", [x, grid((1, 3, 3, 2)).astype(f32)], opset=16, mode=mode))


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
@pytest.mark.parametrize("padding", PADDING)
@pytest.mark.parametrize("shape, gshape", [((2, 2, 7), (2, 5, 1)), ((1, 2, 3, 4, 5), (1, 2, 3, 2, 3))],
                         ids=["1d", "3d"])
def test_gridsample_nd(mode, padding, shape, gshape):
    x = rng.uniform(-2, 2, shape).astype(f64)
    model, feeds = single_op("GridSample", [x, grid(gshape).astype(f64)], opset=20, mode=mode, padding_mode=padding)
    assert_match(pfw_run(to_pfw(model), feeds), ReferenceEvaluator(model).run(None, feeds))
