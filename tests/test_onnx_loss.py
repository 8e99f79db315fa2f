"""NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss: one small ONNX
model per case, ONNX Runtime as the oracle (ONNX's reference evaluator
where ONNX Runtime has no kernel), over reductions, weights, ignore_index,
N-d inputs and SCE's log_prob output."""
import numpy as np
import pytest

from onnx_util import Init, check_or_reference, pfw_run, single_op, to_pfw

rng = np.random.default_rng(20261126)
f32, f64, i32, i64 = np.float32, np.float64, np.int32, np.int64
SHAPES = {"NC": (4, 5), "NCd1": (3, 5, 2), "NCd1d2": (2, 5, 3, 2), "NCd1d2d3d4": (2, 5, 2, 1, 3, 2)}


def inputs(shape, tdtype=i64, ignore=None, dtype=f32):
    x = rng.uniform(-3, 3, shape).astype(dtype)
    target = rng.integers(0, shape[1], (shape[0],) + shape[2:]).astype(tdtype)
    if ignore is not None:
        target.reshape(-1)[::3] = ignore  # every third position is ignored
    return x, target


def run(op, x, target, weight=None, n_outputs=1, **attrs):
    args = [x, target] + ([] if weight is None else [Init(weight)])
    model, feeds = single_op(op, args, opset=13, n_outputs=n_outputs, **attrs)
    return check_or_reference(model, feeds)


OPS = ["NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss"]


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("shape", SHAPES, ids=list(SHAPES))
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_loss(op, shape, reduction, weighted):
    x, target = inputs(SHAPES[shape])
    weight = rng.uniform(0.2, 2, SHAPES[shape][1]).astype(f32) if weighted else None
    run(op, x, target, weight, reduction=reduction)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("ignore", [-1, 2, 7])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_ignore_index(op, ignore, reduction, weighted):
    """ignore_index may be negative or beyond C; ignored positions add no loss
    and no weight to the mean's denominator."""
    x, target = inputs(SHAPES["NCd1d2"], ignore=ignore)
    weight = rng.uniform(0.2, 2, 5).astype(f32) if weighted else None
    run(op, x, target, weight, reduction=reduction, ignore_index=ignore)


@pytest.mark.parametrize("shape", SHAPES, ids=list(SHAPES))
@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_sce_log_prob(shape, reduction):
    x, target = inputs(SHAPES[shape], ignore=1)
    run("SoftmaxCrossEntropyLoss", x, target, n_outputs=2, reduction=reduction, ignore_index=1)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("tdtype", [i32, i64])
@pytest.mark.parametrize("dtype", [f32, f64])
def test_dtypes(op, tdtype, dtype):
    x, target = inputs(SHAPES["NCd1"], tdtype, dtype=dtype)
    run(op, x, target, rng.uniform(0.5, 1.5, 5).astype(dtype), reduction="mean")


def test_sce_large_scores_stay_finite():
    """log_softmax subtracts the max: scores of 1e4 do not overflow exp."""
    x, target = inputs(SHAPES["NCd1"])
    got = run("SoftmaxCrossEntropyLoss", x * 3000, target, n_outputs=2, reduction="none")
    assert all(np.isfinite(g).all() for g in got)


@pytest.mark.parametrize("op", OPS)
def test_target_out_of_range_is_an_error(op):
    import pyfw
    x, target = inputs(SHAPES["NC"])
    target[2] = 5  # C = 5
    model, feeds = single_op(op, [x, target], opset=13)
    with pytest.raises((pyfw.InvalidModelError, ValueError)) as e:
        pfw_run(to_pfw(model), feeds)
    assert "target 5 at position 2 is out of range [0, 5)" in str(e.value)
    assert f"{op.lower()}_node" in str(e.value)


def test_weight_of_wrong_length_is_an_error():
    import pyfw
    x, target = inputs(SHAPES["NC"])
    graph_model, feeds = single_op("NegativeLogLikelihoodLoss", [x, target, np.ones(4, f32)], opset=13)
    with pytest.raises((pyfw.InvalidModelError, ValueError)) as e:
        pfw_run(to_pfw(graph_model), {**feeds, "in2": np.ones(4, f32)})
    assert "weight" in str(e.value) and "C = 5" in str(e.value)
