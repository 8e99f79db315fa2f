"""DepthToSpace / SpaceToDepth (both modes, several dtypes), EyeLike (dtypes, k off
the diagonal, non-square), Shrink and Swish: ONNX Runtime is the oracle, with
ONNX's reference evaluator where ORT lacks the op (Swish is opset 24)."""
import numpy as np
import pytest

from onnx_util import check_or_reference, pfw_run, single_op, to_pfw

rng = np.random.default_rng(3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.uint8], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("mode", ["DCR", "CRD"])
@pytest.mark.parametrize("b", [2, 3])
def test_depth_to_space_and_back(b, mode, dtype):
    x = (rng.standard_normal((2, 2 * b * b, 3, 4)) * 20).astype(dtype)
    (y,) = check_or_reference(*single_op("DepthToSpace", [x], opset=13, blocksize=b, mode=mode))
    assert y.shape == (2, 2, 3 * b, 4 * b)
    if mode == "DCR":  # SpaceToDepth (DCR) undoes DepthToSpace (DCR) exactly
        model, feeds = single_op("SpaceToDepth", [y], opset=13, blocksize=b)
        np.testing.assert_array_equal(pfw_run(to_pfw(model), feeds)[0], x)
        check_or_reference(model, feeds)


def test_depth_to_space_bad_channels_is_a_clear_error():
    import pyfw
    from pyfw.ir import Graph, infer_shapes

    g = Graph()
    g.add_input("x", "float32", (1, 6, 2, 2))
    g.add_node("DepthToSpace", ["x"], ["y"], name="d2s", version=13, blocksize=2)
    g.outputs.append("y")
    with pytest.raises(pyfw.InvalidModelError, match="d2s.*6"):
        infer_shapes(g)  # the IR or, at the latest, the runtime refuses it by name
        pfw_run(pyfw.format.to_bytes(g), {"x": np.zeros((1, 6, 2, 2), np.float32)})


@pytest.mark.parametrize("k", [0, 1, -2, 5, -7])
@pytest.mark.parametrize("shape", [(4, 4), (3, 6), (5, 2)])
def test_eye_like(shape, k):
    x = rng.standard_normal(shape).astype(np.float32)
    check_or_reference(*single_op("EyeLike", [x], opset=9, k=k))
    for code, dt in ((7, np.int64), (11, np.float64), (6, np.int32)):
        model, feeds = single_op("EyeLike", [x], opset=9, out_dtype=dt, k=k, dtype=code)
        (y,) = pfw_run(to_pfw(model), feeds)
        np.testing.assert_array_equal(y, np.eye(*shape, k=k, dtype=dt))


@pytest.mark.parametrize("lambd,bias", [(0.5, 0.0), (1.5, 1.5), (0.0, -0.3)])
def test_shrink(lambd, bias):
    x = np.concatenate([rng.standard_normal(20) * 2, [lambd, -lambd, 0.0]]).astype(np.float32)
    check_or_reference(*single_op("Shrink", [x], opset=9, lambd=lambd, bias=bias))


@pytest.mark.parametrize("alpha", [1.0, 0.3, 2.5])
def test_swish(alpha):
    x = np.concatenate([rng.standard_normal(30) * 4, [100.0, -100.0, 0.0]]).astype(np.float32)
    check_or_reference(*single_op("Swish", [x], opset=24, alpha=alpha))


@pytest.mark.parametrize("batch_dims", [0, 1, 2])
@pytest.mark.parametrize("m", [1, 2])
def test_gather_nd(batch_dims, m):
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    lead = (2, 3)[:batch_dims]
    dims = x.shape[batch_dims:batch_dims + m]
    idx = np.stack([rng.integers(-d, d, lead + (4,)) for d in dims], -1).astype(np.int64)
    check_or_reference(*single_op("GatherND", [x, idx], opset=13, batch_dims=batch_dims))


def test_gather_nd_out_of_range_index_is_named():
    model, feeds = single_op("GatherND", [np.zeros((2, 3), np.float32), np.array([[1, 3]], np.int64)], opset=13)
    with pytest.raises(ValueError, match=r"GatherND.*index 3 .*out of range \[-3, 3\)"):
        pfw_run(to_pfw(model), feeds)


@pytest.mark.parametrize("time_axis", [0, 1])
def test_reverse_sequence(time_axis):
    x = rng.standard_normal((5, 4, 3) if time_axis == 0 else (4, 5, 3)).astype(np.float32)
    lens = np.array([5, 0, 3, 1], np.int64)
    check_or_reference(*single_op("ReverseSequence", [x, lens], opset=10, time_axis=time_axis,
                                  batch_axis=1 - time_axis))
