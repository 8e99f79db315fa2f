"""GridSample, AffineGrid and GatherND, one small ONNX model per case: ONNX
Runtime as the oracle for 2-D sampling (GridSample-16 and -20), ONNX's
reference evaluator for 1-D and 3-D: every mode, padding mode and
align_corners, with grid points inside, on and beyond the borders."""
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
    g = grid(gshape).astype(f64)
    model, feeds = single_op("GridSample", [x, g], opset=20, mode=mode, padding_mode=padding)
    got = pfw_run(to_pfw(model), feeds)
    if mode == "cubic" and padding == "border":
        # ONNX's reference clamps the coordinate before cubic taps; ONNX Runtime and
        # PyTorch (which pyfw follows) clamp each tap. 1-D equals 2-D with one row
        # (all row taps clamp to it, and the weights sum to 1): ORT is the oracle there.
        if len(shape) == 3:
            m2, f2 = single_op("GridSample", [x[:, :, None, :].astype(f32),
                                              np.stack([g[..., 0], np.zeros_like(g[..., 0])], -1)[:, None].astype(f32)],
                               opset=20, mode=mode, padding_mode=padding)
            np.testing.assert_allclose(got[0], check(m2, f2)[0][:, :, 0], rtol=1e-5, atol=1e-5)
            return
        pytest.skip("3-D cubic with border padding: no runtime with PyTorch's rule to compare with")
    assert_match(got, ReferenceEvaluator(model).run(None, feeds))


@pytest.mark.parametrize("padding", ["border", "reflection"])
def test_gridsample_empty_axis_has_no_pixel_to_repeat(padding):
    x = np.zeros((1, 2, 0, 5), f32)
    model, feeds = single_op("GridSample", [x, grid((1, 3, 4, 2)).astype(f32)], opset=20, padding_mode=padding)
    with pytest.raises(ValueError, match=f"spatial dimension 0 is 0; padding_mode '{padding}' needs a pixel"):
        pfw_run(to_pfw(model), feeds)


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
def test_gridsample_empty_axis_with_zeros_padding_samples_zeros(mode):
    """Every tap of an empty axis is outside: all zeros (the closed form)."""
    x = np.zeros((1, 2, 0, 5), f32)
    model, feeds = single_op("GridSample", [x, grid((1, 3, 4, 2)).astype(f32)], opset=20, mode=mode)
    (y,) = pfw_run(to_pfw(model), feeds)
    assert y.shape == (1, 2, 3, 4) and not y.any()


@pytest.mark.parametrize("size", [(2, 3, 4, 5), (1, 2, 1, 3), (2, 1, 3, 4, 2)], ids=["2d", "2d_one_row", "3d"])
@pytest.mark.parametrize("align", [0, 1])
def test_affine_grid(size, align):
    """size as a constant and fed at run time."""
    from onnx_util import Init, check_or_reference
    r = len(size) - 2
    theta = rng.uniform(-1, 1, (size[0], r, r + 1)).astype(f32)
    for arg in (Init(np.array(size, np.int64)), np.array(size, np.int64)):
        check_or_reference(*single_op("AffineGrid", [theta, arg], opset=20, align_corners=align))


def test_affine_grid_feeds_grid_sample():
    """Identity theta: sampling X at its own grid gives X back (align_corners both ways)."""
    from onnx import helper

    from onnx_util import build, value_info
    x = rng.uniform(-1, 1, (2, 3, 4, 5)).astype(f32)
    theta = np.tile(np.array([[1, 0, 0], [0, 1, 0]], f32), (2, 1, 1))
    for align in (0, 1):
        nodes = [helper.make_node("AffineGrid", ["theta", "size"], ["grid"], align_corners=align),
                 helper.make_node("GridSample", ["x", "grid"], ["y"], align_corners=align)]
        model = build(nodes, [value_info("x", f32, x.shape)], [value_info("y", f32, None)],
                      {"theta": theta, "size": np.array(x.shape, np.int64)}, opset=20)
        (y,) = pfw_run(to_pfw(model), {"x": x})
        np.testing.assert_allclose(y, x, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("data_shape, idx_shape, batch_dims", [
    ((4, 5), (3, 2), 0), ((4, 5, 6), (2, 3, 1), 0), ((2, 3, 4), (2, 2), 1), ((2, 3, 4, 5), (2, 3, 2, 1), 2),
])
def test_gather_nd(data_shape, idx_shape, batch_dims):
    from onnx_util import check_or_reference
    x = rng.uniform(-1, 1, data_shape).astype(f32)
    k = idx_shape[-1]
    dims = np.array(data_shape[batch_dims:batch_dims + k])
    ix = (rng.integers(0, 1 << 20, idx_shape) % dims).astype(np.int64)
    ix.reshape(-1, k)[::2] -= dims  # negative indices count from the end
    check_or_reference(*single_op("GatherND", [x, ix], opset=13, batch_dims=batch_dims))
