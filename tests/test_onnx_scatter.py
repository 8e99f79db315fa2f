"""ScatterElements, Scatter (its opset 9-10 name) and ScatterND, one small
ONNX model per case, ONNX Runtime as the oracle (ONNX's reference evaluator
where ONNX Runtime has no kernel): axes, negative indices, duplicates with
every reduction, dtypes; TensorScatter against ONNX's reference."""
import numpy as np
import pytest

from onnx_util import Init, check_or_reference, pfw_run, single_op, to_pfw

rng = np.random.default_rng(20261129)
f32, f64, i32, i64 = np.float32, np.float64, np.int32, np.int64
REDUCTIONS = ["none", "add", "mul", "max", "min"]


def data(dtype, shape):
    if np.dtype(dtype).kind == "f":
        return rng.uniform(-3, 3, shape).astype(dtype)
    return rng.integers(-5, 6, shape).astype(dtype)


def unique_indices(dim, shape, axis):
    """Indices along `axis` without duplicates in any one line (as 'none' needs
    for an order-independent result), half of them negative."""
    idx = np.argsort(rng.uniform(size=shape[:axis] + (dim,) + shape[axis + 1:]), axis=axis)
    idx = np.take(idx, np.arange(shape[axis]), axis=axis)
    return np.where(rng.uniform(size=idx.shape) < 0.5, idx - dim, idx)


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("dtype", [f32, f64, i32, i64])
@pytest.mark.parametrize("itype", [i32, i64])
def test_scatter_elements(axis, dtype, itype):
    x = data(dtype, (4, 5, 3))
    shape = (3, 4, 2)
    ix = unique_indices(x.shape[axis], shape, axis % 3).astype(itype)
    check_or_reference(*single_op("ScatterElements", [x, ix, data(dtype, shape)], opset=13, axis=axis))


@pytest.mark.parametrize("reduction", REDUCTIONS[1:])
@pytest.mark.parametrize("dtype", [f32, i64])
def test_scatter_elements_duplicates_reduce(reduction, dtype):
    """Duplicates combine in index order with the reduction."""
    x = data(dtype, (3, 4))
    ix = rng.integers(-4, 4, (3, 6)).astype(i64)
    check_or_reference(*single_op("ScatterElements", [x, ix, data(dtype, (3, 6))], opset=18, axis=1,
                                  reduction=reduction))


def test_scatter_opset_10():
    x = data(f32, (3, 3))
    ix = np.array([[1, 0, 2], [0, 2, 1]], i64)
    check_or_reference(*single_op("Scatter", [x, ix, data(f32, (2, 3))], opset=10, axis=0))


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("dtype", [f32, f64, i32, i64])
def test_scatter_nd(k, dtype):
    x = data(dtype, (4, 3, 5))
    n = 3  # distinct index tuples
    flat = rng.choice(np.prod(x.shape[:k]), n, replace=False)
    ix = np.stack(np.unravel_index(flat, x.shape[:k]), axis=-1).reshape(n, k).astype(i64)
    ix[0] -= np.array(x.shape[:k])  # negative indices count from the end
    updates = data(dtype, (n,) + x.shape[k:])
    check_or_reference(*single_op("ScatterND", [x, Init(ix), updates], opset=13))


@pytest.mark.parametrize("reduction", REDUCTIONS[1:])
@pytest.mark.parametrize("dtype", [f32, i32])
def test_scatter_nd_duplicates_reduce(reduction, dtype):
    x = data(dtype, (4, 3))
    ix = np.array([[[1], [3]], [[1], [0]]], i64)  # row 1 twice
    check_or_reference(*single_op("ScatterND", [x, ix, data(dtype, (2, 2, 3))], opset=18, reduction=reduction))


@pytest.mark.parametrize("op, ix", [("ScatterElements", np.array([[0, 4]], i64)),
                                    ("ScatterND", np.array([[0], [-5]], i64))])
def test_index_out_of_range_is_an_error(op, ix):
    import pyfw
    x = data(f32, (4, 4))
    up = data(f32, (1, 2)) if op == "ScatterElements" else data(f32, (2, 4))
    model, feeds = single_op(op, [x, ix, up], opset=13, **({"axis": 1} if op == "ScatterElements" else {}))
    with pytest.raises((pyfw.InvalidModelError, ValueError)) as e:
        pfw_run(to_pfw(model), feeds)
    assert "out of range [-4, 4)" in str(e.value) and f"{op.lower()}_node" in str(e.value)


@pytest.mark.parametrize("mode", ["linear", "circular"])
@pytest.mark.parametrize("axis", [-2, 1, 2])
@pytest.mark.parametrize("with_indices", [True, False])
def test_tensor_scatter(mode, axis, with_indices):
    """A KV-cache update, against ONNX's reference (ONNX Runtime has no
    TensorScatter kernel yet); circular writes wrap past the end."""
    from onnx.reference import ReferenceEvaluator

    from onnx_util import assert_match
    cache = data(f32, (2, 3, 6, 4))
    shape = list(cache.shape)
    shape[axis] = 3
    update = data(f32, tuple(shape))
    limit = cache.shape[axis] - 3 if mode == "linear" else cache.shape[axis] + 2
    args = [cache, update] + ([rng.integers(0, limit + 1, 2).astype(i64)] if with_indices else [])
    model, feeds = single_op("TensorScatter", args, opset=24, mode=mode, axis=axis)
    assert_match(pfw_run(to_pfw(model), feeds), ReferenceEvaluator(model).run(None, feeds))


def test_tensor_scatter_past_the_end_is_an_error():
    import pyfw
    model, feeds = single_op("TensorScatter", [data(f32, (1, 5, 2)), data(f32, (1, 2, 2)), np.array([4], i64)],
                             opset=24, axis=1)
    with pytest.raises((pyfw.InvalidModelError, ValueError)) as e:
        pfw_run(to_pfw(model), feeds)
    assert "write index 4 + 1 for batch 0 is outside [0, 5)" in str(e.value)
