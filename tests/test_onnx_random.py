"""Random ops: RandomUniform(Like), RandomNormal(Like), Multinomial, Bernoulli
(its ONNX function body) and Dropout in training mode.

Oracles: NumPy's own Philox generator, which libpfw's stream follows word for
word (uniforms are compared bit for bit); closed-form distributions for the
rest (Kolmogorov-Smirnov, binomial and chi-square bounds at a false-alarm
rate near 1e-6; every draw is seeded, so each test is deterministic); and
Dropout's definition, output = x / (1 - ratio) exactly where the mask keeps."""
from __future__ import annotations

import math

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper, numpy_helper

import pyfw
import pyfw.format
import pyfw.ir
import pyfw.onnx
from onnx_util import build, single_op, to_pfw, value_info
from pyfw.runtime import Interpreter


def runs(model, feeds=(), count=1, threads=1, seed=0, optimize=False):
    """`count` runs of one interpreter over the converted model."""
    graph = pyfw.onnx.import_model(model)
    if optimize:
        graph = pyfw.ir.optimize(graph)
    pyfw.ir.infer_shapes(graph)
    with Interpreter(pyfw.format.to_bytes(graph), threads=threads, seed=seed) as it:
        return [it.run(list(feeds)) for _ in range(count)]


def generator_model(op, out_dtype=np.float32, shape=(64, 50), **attrs):
    node = helper.make_node(op, [], ["y"], shape=list(shape), **attrs)
    return build([node], [], [value_info("y", out_dtype, list(shape))])


def ks_distance(sample, cdf) -> float:
    """Kolmogorov-Smirnov statistic of a sample against a continuous CDF."""
    x = np.sort(np.asarray(sample, np.float64).ravel())
    n, f = x.size, cdf(x)
    return float(max(np.max(np.arange(1, n + 1) / n - f), np.max(f - np.arange(n) / n)))


def ks_bound(n: int) -> float:
    """D above which a true sample lands with probability ~1e-6."""
    return math.sqrt(-math.log(0.5e-6) / (2 * n))


normal_cdf = np.vectorize(lambda v: 0.5 * math.erfc(-v / math.sqrt(2)))


@pytest.mark.parametrize("seed", [0, 42, 123456789])
def test_uniform_float64_is_numpy_philox(seed):
    model = generator_model("RandomUniform", np.float64, dtype=T.DOUBLE, seed=float(seed))
    (y,), = runs(model)
    key = int(np.float32(seed))  # ONNX's seed attribute is a float32
    want = np.random.Generator(np.random.Philox(key=key)).random((64, 50))
    np.testing.assert_array_equal(y, want)


@pytest.mark.parametrize("low, high", [(0.0, 1.0), (-2.0, 3.0), (10.0, 10.5)])
def test_uniform_float32_is_numpy_philox(low, high):
    model = generator_model("RandomUniform", seed=7.0, low=low, high=high)
    (y,), = runs(model)
    u = np.random.Generator(np.random.Philox(key=7)).random((64, 50), dtype=np.float32)
    want = np.float32(low) + (np.float32(high) - np.float32(low)) * u
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, want)


@pytest.mark.parametrize("threads", [2, 3, 4])
def test_values_do_not_depend_on_threads(threads):
    for op in ("RandomUniform", "RandomNormal"):
        model = generator_model(op, shape=(300, 301))
        np.testing.assert_array_equal(runs(model, threads=threads, count=2), runs(model, count=2), err_msg=op)


def test_runs_continue_the_stream_and_interpreters_repeat_it():
    model = generator_model("RandomNormal", shape=(10, 10))
    first, second = runs(model, count=2)
    assert not np.array_equal(first[0], second[0])
    np.testing.assert_array_equal(runs(model, count=2), [first, second])
    # The interpreter's seed moves unseeded nodes only.
    other = runs(model, seed=5)[0][0]
    assert not np.array_equal(other, first[0])
    seeded = generator_model("RandomNormal", shape=(10, 10), seed=3.0)
    np.testing.assert_array_equal(runs(seeded, seed=5), runs(seeded, seed=9))


def test_nodes_without_seed_draw_different_streams():
    nodes = [helper.make_node("RandomUniform", [], [n], shape=[20]) for n in ("a", "b")]
    model = build(nodes, [], [value_info("a", np.float32, [20]), value_info("b", np.float32, [20])])
    (a, b), = runs(model)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("mean, scale, dtype, code", [(0.0, 1.0, np.float32, T.FLOAT), (3.0, 0.5, np.float64, T.DOUBLE),
                                                      (-1.0, 2.0, np.float32, T.FLOAT)])
def test_normal_has_the_normal_distribution(mean, scale, dtype, code):
    model = generator_model("RandomNormal", dtype, shape=(200, 500), mean=mean, scale=scale, dtype=code, seed=11.0)
    (y,), = runs(model)
    assert y.dtype == dtype and y.shape == (200, 500)
    z = (y.astype(np.float64) - mean) / scale
    assert ks_distance(z[:, :100], normal_cdf) < ks_bound(z[:, :100].size)
    n = z.size  # mean and variance within 5 standard errors
    assert abs(z.mean()) < 5 / math.sqrt(n)
    assert abs(z.var() - 1) < 5 * math.sqrt(2 / n)


def test_uniform_has_the_uniform_distribution():
    model = generator_model("RandomUniform", shape=(400, 250), low=-1.0, high=3.0)
    (y,), = runs(model)
    assert y.min() >= -1 and y.max() < 3
    assert ks_distance(y, lambda v: (v + 1) / 4) < ks_bound(y.size)


@pytest.mark.parametrize("op", ["RandomUniformLike", "RandomNormalLike"])
@pytest.mark.parametrize("in_dtype, attr, want", [(np.float32, None, np.float32), (np.float16, None, np.float16),
                                                  (np.float64, None, np.float64), (np.int64, T.FLOAT, np.float32),
                                                  (np.float32, T.DOUBLE, np.float64)])
def test_like_forms_take_shape_and_dtype(op, in_dtype, attr, want):
    attrs = {} if attr is None else {"dtype": attr}
    x = np.zeros((3, 40, 50), in_dtype)
    model, feeds = single_op(op, [x], out_dtype=want, **attrs)
    (y,), = runs(model, feeds.values())
    assert y.dtype == want and y.shape == x.shape
    if op == "RandomUniformLike":
        assert y.min() >= 0 and y.max() <= 1  # float16 may round up to high
        assert ks_distance(y.astype(np.float64), lambda v: np.clip(v, 0, 1)) < ks_bound(y.size) + 2.0 ** -11
    else:
        assert ks_distance(y.astype(np.float64), normal_cdf) < ks_bound(y.size) + 2.0 ** -10


def test_like_of_a_constant_is_drawn_at_every_run():
    """Neither the optimiser nor the runtime's planner may fold a random op."""
    node = helper.make_node("RandomNormalLike", ["c"], ["y"])
    model = build([node], [], [value_info("y", np.float32, [4, 4])], inits={"c": np.zeros((4, 4), np.float32)})
    first, second = runs(model, count=2, optimize=True)
    assert not np.array_equal(first[0], second[0])


def test_identical_random_nodes_are_not_merged():
    nodes = [helper.make_node("RandomUniformLike", ["x"], [n]) for n in ("a", "b")]
    model = build(nodes, [value_info("x", np.float32, [30])],
                  [value_info("a", np.float32, [30]), value_info("b", np.float32, [30])])
    (a, b), = runs(model, [np.zeros(30, np.float32)], optimize=True)
    assert not np.array_equal(a, b)


def test_non_float_dtype_is_refused_with_the_node_named():
    model = helper.make_model(helper.make_graph(
        [helper.make_node("RandomUniform", [], ["y"], shape=[2], dtype=T.INT32, name="draw")], "g", [],
        [helper.make_tensor_value_info("y", T.INT32, [2])]), opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(ValueError, match=r"draw.*not a float type"):
        to_pfw(model)


@pytest.mark.parametrize("out, code", [(np.int32, T.INT32), (np.int64, T.INT64)])
def test_multinomial_frequencies(out, code):
    with np.errstate(divide="ignore"):  # a class of probability 0: log-weight -inf
        logits = np.log(np.array([[0.1, 0.2, 0.3, 0.4], [0.7, 0.0, 0.1, 0.2], [0.25, 0.25, 0.25, 0.25]]))
    logits = (logits + np.array([[1.0], [-3.0], [0.5]])).astype(np.float32)  # unnormalised
    samples = 20000
    model, feeds = single_op("Multinomial", [logits], out_dtype=out, dtype=code, sample_size=samples, seed=5.0)
    (y,), = runs(model, feeds.values())
    assert y.dtype == out and y.shape == (3, samples)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    for row, probs in zip(y, p):
        counts = np.bincount(row, minlength=4)
        assert counts[probs == 0].sum() == 0
        live = probs > 0
        chi2 = float(np.sum((counts[live] - samples * probs[live]) ** 2 / (samples * probs[live])))
        assert chi2 < 35  # chi-square with <= 3 degrees of freedom: P(> 35) ~ 1e-7


def test_multinomial_row_without_finite_weights_is_an_error():
    x = np.array([[np.nan, 0.0]], np.float32)
    model, feeds = single_op("Multinomial", [x], out_dtype=np.int32, sample_size=3)
    with pytest.raises(ValueError, match="row 0 of input 0"):
        runs(model, feeds.values())


def bernoulli(p, dtype=None, seed=None):
    attrs = {} if seed is None else {"seed": seed}
    if dtype is not None:
        attrs["dtype"] = dtype
    out = p.dtype if dtype is None else helper.tensor_dtype_to_np_dtype(dtype)
    model, feeds = single_op("Bernoulli", [p], out_dtype=out, opset=22, **attrs)
    (y,), = runs(model, feeds.values())
    return y


def test_bernoulli_certain_and_impossible():
    assert np.all(bernoulli(np.ones(1000, np.float32)) == 1)
    assert np.all(bernoulli(np.zeros(1000, np.float64)) == 0)


@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.9])
def test_bernoulli_frequency(p):
    n = 100000
    y = bernoulli(np.full(n, p, np.float32), dtype=T.INT64, seed=2.0)
    assert y.dtype == np.int64 and set(np.unique(y)) <= {0, 1}
    assert abs(y.mean() - p) < 5 * math.sqrt(p * (1 - p) / n)


def dropout_model(ratio, training_input, with_mask=True, seed=None):
    attrs = {} if seed is None else {"seed": seed}
    outs = ["y", "mask"] if with_mask else ["y"]
    inputs = [value_info("x", np.float32, [50, 400]), value_info("r", np.float32, [])]
    names = ["x", "r"]
    inits = {}
    if training_input:
        inputs.append(value_info("t", np.bool_, []))
        names.append("t")
    else:
        inits["t"] = np.array(True)
        names.append("t")
    node = helper.make_node("Dropout", names, outs, **attrs)
    outputs = [value_info("y", np.float32, [50, 400])] + ([value_info("mask", np.bool_, [50, 400])] if with_mask else [])
    return build([node], inputs, outputs, inits=inits, opset=13)


@pytest.mark.parametrize("ratio", [0.1, 0.5, 0.75])
@pytest.mark.parametrize("training_input", [True, False])
def test_dropout_training_keeps_and_scales(ratio, training_input):
    x = np.random.default_rng(0).standard_normal((50, 400)).astype(np.float32)
    feeds = [x, np.float32(ratio)] + ([np.array(True)] if training_input else [])
    (y, mask), = runs(dropout_model(ratio, training_input, seed=4), feeds)
    assert mask.dtype == np.bool_
    scale = np.float32(1) / (np.float32(1) - np.float32(ratio))
    np.testing.assert_array_equal(y, np.where(mask, x * scale, np.float32(0)))
    n = mask.size
    assert abs(mask.mean() - (1 - ratio)) < 5 * math.sqrt(ratio * (1 - ratio) / n)


def test_dropout_training_flag_off_is_the_identity():
    x = np.random.default_rng(1).standard_normal((50, 400)).astype(np.float32)
    (y, mask), = runs(dropout_model(0.5, True), [x, np.float32(0.5), np.array(False)])
    np.testing.assert_array_equal(y, x)
    assert mask.all()


def test_dropout_training_ratio_zero_keeps_everything():
    x = np.random.default_rng(2).standard_normal((50, 400)).astype(np.float32)
    (y,), = runs(dropout_model(0.0, True, with_mask=False), [x, np.float32(0), np.array(True)])
    np.testing.assert_array_equal(y, x)


@pytest.mark.parametrize("flag, ratio, drops", [(False, 0.5, False), (True, 0.0, False), (True, 0.5, True)])
def test_dropout_reads_flag_and_ratio_from_constant_nodes(flag, ratio, drops):
    """training_mode and ratio made by Constant nodes (not initializers)
    decide at import: a false flag or a zero ratio is the identity (no
    random op left in the graph), else the mask is drawn."""
    x = np.random.default_rng(3).standard_normal((50, 400)).astype(np.float32)
    nodes = [helper.make_node("Constant", [], ["t"], value=numpy_helper.from_array(np.array(flag))),
             helper.make_node("Constant", [], ["r"], value_float=ratio),
             helper.make_node("Dropout", ["x", "r", "t"], ["y", "mask"], seed=2)]
    model = build(nodes, [value_info("x", np.float32, [50, 400])],
                  [value_info("y", np.float32, [50, 400]), value_info("mask", np.bool_, [50, 400])], opset=13)
    ops = {n.op_type for n in pyfw.format.load(to_pfw(model)).nodes}
    assert ("RandomUniformLike" in ops) == drops
    (y, mask), = runs(model, [x])
    if drops:
        np.testing.assert_array_equal(y, np.where(mask, x * np.float32(2), np.float32(0)))
        assert 0.45 < mask.mean() < 0.55
    else:
        np.testing.assert_array_equal(y, x)
        assert mask.all()


def test_random_ops_export_to_onnx():
    """The .pfw's random ops export as themselves: ONNX's checker accepts the
    model, and ONNX Runtime runs it with the shapes and dtypes pyfw gives."""
    import onnxruntime as ort

    nodes = [helper.make_node("RandomNormalLike", ["x"], ["n"], seed=1.0),
             helper.make_node("Add", ["n", "x"], ["y"]),
             helper.make_node("RandomUniform", [], ["u"], shape=[2, 3], dtype=T.DOUBLE, seed=2.0)]
    model = build(nodes, [value_info("x", np.float32, [4, 5])],
                  [value_info("y", np.float32, [4, 5]), value_info("u", np.float64, [2, 3])])
    graph = pyfw.format.load(to_pfw(model))
    back = pyfw.onnx.export_model(graph)
    onnx.checker.check_model(back, full_check=True)
    got = ort.InferenceSession(back.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"x": np.zeros((4, 5), np.float32)})
    assert [g.shape for g in got] == [(4, 5), (2, 3)] and [g.dtype for g in got] == [np.float32, np.float64]
    assert 0 <= got[1].min() and got[1].max() < 1


@pytest.mark.parametrize("bad", [-1, 2**64, 1.5, True, None])
def test_seed_must_be_an_unsigned_64_bit_int(bad):
    data = to_pfw(generator_model("RandomUniform", shape=(2,)))
    with pytest.raises(ValueError, match="seed"):
        Interpreter(data, seed=bad)


def test_loop_body_draws_at_every_iteration():
    """A body's random node continues its stream from iteration to iteration
    (and from run to run), the same at every thread count."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("RandomUniform", [], ["row"], shape=[1000])],
        "body", [helper.make_tensor_value_info("i", T.INT64, []), helper.make_tensor_value_info("cond_in", T.BOOL, [])],
        [helper.make_tensor_value_info("cond_out", T.BOOL, []), helper.make_tensor_value_info("row", T.FLOAT, [1000])])
    loop = helper.make_node("Loop", ["n", ""], ["rows"], body=body)
    model = build([loop], [], [value_info("rows", np.float32, [3, 1000])], inits={"n": np.array(3, np.int64)})
    first, second = runs(model, count=2)
    rows = np.concatenate([first[0], second[0]])
    assert rows.shape == (6, 1000)
    assert len({r.tobytes() for r in rows}) == 6
    assert ks_distance(rows, lambda v: v) < ks_bound(rows.size)
    np.testing.assert_array_equal(runs(model, count=2, threads=3), [first, second])


def test_dropout_with_an_empty_training_mode_is_invalid():
    nodes = [helper.make_node("Constant", [], ["t"], value=numpy_helper.from_array(np.zeros(0, np.bool_))),
             helper.make_node("Dropout", ["x", "", "t"], ["y"], name="drop")]
    g = helper.make_graph(nodes, "g", [value_info("x", np.float32, [2])], [value_info("y", np.float32, [2])])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    with pytest.raises(pyfw.InvalidModelError, match="Dropout node 'drop': training_mode holds 0 values, not one"):
        to_pfw(model)
