"""Reductions and ArgMax/ArgMin, one small ONNX model per case: ONNX Runtime
is the oracle, pyfw runs the converted .pfw. Axes come from the attribute
(ReduceSum before opset 13, the others before 18) or from a constant input."""
import numpy as np
import pytest

from onnx_util import Init, check_or_reference, pfw_run, single_op, to_pfw

rng = np.random.default_rng(20261127)
f32, f64, i32, i64 = np.float32, np.float64, np.int32, np.int64

FLOAT_ONLY = ["ReduceMean", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"]
WITH_INTS = ["ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd"]
SHAPE = (2, 3, 4)
AXES = {"all": None, "middle": [1], "first_last": [0, 2], "negative": [-1], "every": [0, 1, 2], "two_neg": [-2, 0]}


def data(op, dtype, shape=SHAPE):
    if np.dtype(dtype).kind == "i":
        return rng.integers(-3, 4, shape).astype(dtype)
    if op == "ReduceLogSum":
        return rng.uniform(0.1, 2, shape).astype(dtype)  # log of a positive sum
    if op == "ReduceProd":
        return rng.uniform(0.5, 1.5, shape).astype(dtype) * rng.choice([-1, 1], shape)
    return rng.uniform(-3, 3, shape).astype(dtype)


def axes_input_opset(op):
    return 13 if op == "ReduceSum" else 18


def run(op, x, axes, opset, **attrs):
    """`axes` as the attribute before the op's axes-input opset, else as a
    constant input (None: absent)."""
    if opset >= axes_input_opset(op):
        args = [x] if axes is None else [x, Init(np.array(axes, i64))]
    else:
        args = [x]
        if axes is not None:
            attrs["axes"] = axes
    model, feeds = single_op(op, args, opset=opset, **attrs)
    return check_or_reference(model, feeds)


CASES = [pytest.param(op, dt, aid, keep, opset, id=f"{op}-{np.dtype(dt).name}-{aid}-keep{keep}-opset{opset}")
         for op in WITH_INTS + FLOAT_ONLY
         for dt in ((f32, f64, i32, i64) if op in WITH_INTS else (f32, f64))
         for aid in AXES for keep in (0, 1)
         for opset in sorted({11, axes_input_opset(op)})]


@pytest.mark.parametrize("op,dtype,aid,keep,opset", CASES)
def test_reduce(op, dtype, aid, keep, opset):
    run(op, data(op, dtype), AXES[aid], opset, keepdims=keep)


@pytest.mark.parametrize("op", WITH_INTS + FLOAT_ONLY)
def test_reduce_default_keepdims(op):
    run(op, data(op, f32), [1], axes_input_opset(op))


@pytest.mark.parametrize("op", WITH_INTS + FLOAT_ONLY)
@pytest.mark.parametrize("axes", [None, []], ids=["absent", "empty"])
def test_noop_with_empty_axes(op, axes):
    """No axes reduced: each output is its element alone (|x| for ReduceL1,
    x*x for ReduceSumSquare...), as ONNX Runtime computes it."""
    run(op, data(op, f32), axes, axes_input_opset(op), noop_with_empty_axes=1)


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMean"])
def test_empty_axes_reduce_all(op):
    run(op, data(op, f32), [], axes_input_opset(op), noop_with_empty_axes=0)


def test_reduce_logsumexp_large_values():
    run("ReduceLogSumExp", rng.uniform(500, 1000, (3, 5)).astype(f32), [1], 18)


def test_reduce_long_sum_float32():
    """A long float32 sum: pyfw accumulates in double (the float64 reference
    is the second oracle where ONNX Runtime's float32 sum rounds apart)."""
    run("ReduceSum", rng.uniform(-1, 1, (4, 5000)).astype(f32), [1], 13)


def test_reduce_rank1_and_4d():
    run("ReduceMax", rng.uniform(-1, 1, 7).astype(f32), None, 18, keepdims=0)
    run("ReduceMean", rng.uniform(-1, 1, (2, 3, 4, 5)).astype(f32), [1, 3], 18)


# ---- ArgMax / ArgMin ----------------------------------------------------------------------
ARG = [pytest.param(op, dt, axis, keep, last, id=f"{op}-{np.dtype(dt).name}-axis{axis}-keep{keep}-last{last}")
       for op in ("ArgMax", "ArgMin") for dt in (f32, f64, i32, i64) for axis in (0, 1, -1)
       for keep in (0, 1) for last in (0, 1)]


@pytest.mark.parametrize("op,dtype,axis,keep,last", ARG)
def test_arg(op, dtype, axis, keep, last):
    # Few distinct values, so that ties (and select_last_index) matter.
    x = rng.integers(-2, 3, SHAPE).astype(dtype)
    model, feeds = single_op(op, [x], out_dtype=i64, axis=axis, keepdims=keep, select_last_index=last)
    check_or_reference(model, feeds)


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
def test_arg_default_and_opset11(op):
    x = rng.uniform(-1, 1, (3, 4)).astype(f32)
    for opset in (11, 13):
        model, feeds = single_op(op, [x], opset=opset, out_dtype=i64)
        check_or_reference(model, feeds)


@pytest.mark.parametrize("op,fn", [("ReduceMax", np.any), ("ReduceMin", np.all)])
@pytest.mark.parametrize("shape,axes", [((4, 3, 5), [1]), ((2, 0, 4), [1]), ((3, 4), [0, 1])])
def test_bool_max_and_min_are_any_and_all(op, fn, shape, axes):
    """ReduceMax/Min of bool (opset 20): any and all, also over an empty set
    (false and true: the identities); closed forms in NumPy."""
    x = rng.random(shape) < 0.3
    model, feeds = single_op(op, [x, Init(np.array(axes, i64))], opset=20, keepdims=0)
    (got,) = pfw_run(to_pfw(model), feeds)
    want = fn(x, axis=tuple(axes))
    assert got.dtype == np.bool_ and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
