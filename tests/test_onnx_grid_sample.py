"""GridSample against ONNX Runtime (ONNX's reference evaluator where ORT lacks the
case): every mode x padding mode x align_corners, coordinates well outside [-1, 1]
(so the padding rules matter), float64, 3-D volumes, and the opset-16 names.
For cubic with border padding ONNX Runtime (as PyTorch) clamps each tap, where ONNX's
reference evaluator clamps the coordinate first: pyfw follows ONNX Runtime and PyTorch."""
import numpy as np
import pytest

from onnx_util import check_or_reference, ort_run, pfw_run, single_op, to_pfw

rng = np.random.default_rng(7)


def grid(n, *spatial, dims, dtype=np.float32):
    return rng.uniform(-1.6, 1.6, (n, *spatial, dims)).astype(dtype)


@pytest.mark.parametrize("align", [0, 1])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("mode", ["linear", "nearest", "cubic"])
def test_grid_sample_2d(mode, padding, align):
    x = rng.standard_normal((2, 3, 5, 6)).astype(np.float32)
    model, feeds = single_op("GridSample", [x, grid(2, 4, 7, dims=2)], opset=20, mode=mode,
                             padding_mode=padding, align_corners=align)
    np.testing.assert_allclose(pfw_run(to_pfw(model), feeds)[0], ort_run(model, feeds)[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode16,mode20", [("bilinear", "linear"), ("bicubic", "cubic"), ("nearest", "nearest")])
def test_grid_sample_16_names_match_20(mode16, mode20):
    x = rng.standard_normal((1, 2, 4, 4)).astype(np.float32)
    g = grid(1, 3, 5, dims=2)
    m16, feeds = single_op("GridSample", [x, g], opset=16, mode=mode16, padding_mode="border")
    m20, _ = single_op("GridSample", [x, g], opset=20, mode=mode20, padding_mode="border")
    got = pfw_run(to_pfw(m16), feeds)[0]
    np.testing.assert_allclose(got, ort_run(m16, feeds)[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(got, pfw_run(to_pfw(m20), feeds)[0])


@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("mode", ["linear", "nearest"])
def test_grid_sample_volumetric_float64(mode, padding):
    x = rng.standard_normal((1, 2, 3, 4, 5))
    check_or_reference(*single_op("GridSample", [x, grid(1, 2, 3, 4, dims=3, dtype=np.float64)], opset=20,
                                  mode=mode, padding_mode=padding, align_corners=1), threads=2)


def test_grid_sample_half_way_nearest_rounds_to_even():
    """x = 0.5, 2.5 and 1.5 after denormalisation land on pixels 0, 2 and 2 (half to even)."""
    x = np.arange(4, dtype=np.float32).reshape(1, 1, 1, 4)
    g = np.array([[[[-0.5, 0.0], [0.5, 0.0], [0.0, 0.0]]]], np.float32)  # x = ((n + 1) * 4 - 1) / 2
    model, feeds = single_op("GridSample", [x, g], opset=20, mode="nearest", align_corners=0)
    np.testing.assert_array_equal(pfw_run(to_pfw(model), feeds)[0], [[[[0, 2, 2]]]])


def test_grid_sample_bad_grid_names_the_shape():
    """A grid whose last axis is not the spatial rank (which ONNX's checker would also
    refuse) is refused by name when the IR is built directly."""
    import pyfw
    from pyfw.ir import Graph, infer_shapes

    g = Graph(name="bad")
    g.add_input("x", "float32", (1, 2, 4, 4))
    g.add_input("grid", "float32", (1, 3, 3, 3))
    g.add_node("GridSample", ["x", "grid"], ["y"], name="gs", version=20)
    g.outputs.append("y")
    with pytest.raises(pyfw.InvalidModelError, match=r"gs.*grid"):
        infer_shapes(g)  # the IR or, at the latest, the runtime refuses it by name
        pfw_run(pyfw.format.to_bytes(g), {"x": np.zeros((1, 2, 4, 4), np.float32),
                                          "grid": np.zeros((1, 3, 3, 3), np.float32)})
