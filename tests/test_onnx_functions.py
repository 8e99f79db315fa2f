"""Ops that ONNX defines as functions of other ops, and that pyfw has no kernel
for (MeanVarianceNormalization, SwiGLU, CausalConvWithState, LinearAttention),
are imported as the ops of their body: against ONNX Runtime where it runs the
op, against ONNX's reference evaluator where it does not, inside subgraphs,
with absent optional inputs, several of them in one graph, exported back to
ONNX, and with a clear error where the body uses an op pyfw lacks. Training-
mode BatchNormalization, expanded the same way, against its closed form."""
import numpy as np
import onnx
import pytest
from onnx import helper
from onnx.reference import ReferenceEvaluator

import pyfw.format
import pyfw.ir
import pyfw.onnx
from onnx_util import assert_match, build, check, ort_run, pfw_run, single_op, to_pfw, value_info
from pyfw import UnsupportedError

rng = np.random.default_rng(5)
f32 = np.float32


def reference(model, feeds):
    return ReferenceEvaluator(model).run(None, feeds)


@pytest.mark.parametrize("axes", [[0, 2, 3], [1], [2, 3]])
def test_mean_variance_normalization_matches_onnx_runtime(axes):
    x = (rng.standard_normal((2, 3, 4, 5)) * 3 + 1).astype(f32)
    check(*single_op("MeanVarianceNormalization", [x], axes=axes))


def test_mean_variance_normalization_default_axes():
    """Without `axes` the schema's default [0, 2, 3] applies (ONNX's own
    strict shape inference trips on the body's unset Constant, so the model
    is built unchecked, as the backend suite's test_mvn is)."""
    x = (rng.standard_normal((2, 3, 4, 5)) * 3 + 1).astype(f32)
    graph = helper.make_graph([helper.make_node("MeanVarianceNormalization", ["x"], ["y"])], "g",
                              [value_info("x", f32, x.shape)], [value_info("y", f32, x.shape)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 10
    explicit, _ = single_op("MeanVarianceNormalization", [x], axes=[0, 2, 3])
    want = ort_run(model, {"x": x})
    assert_match(want, ort_run(explicit, {"in0": x}))
    assert_match(pfw_run(to_pfw(model), {"x": x}), want)


def test_imported_graph_holds_the_body_under_the_node_name():
    x = rng.standard_normal((2, 3, 4, 5)).astype(f32)
    model, _ = single_op("MeanVarianceNormalization", [x], axes=[0, 2, 3])
    graph = pyfw.onnx.import_model(model)
    ops = [n.op_type for n in graph.nodes]
    assert "MeanVarianceNormalization" not in ops and "ReduceMean" in ops
    assert all(n.name.startswith("meanvariancenormalization_node/") for n in graph.nodes)
    inner = {t for n in graph.nodes for t in n.outputs} - {"out0"}
    assert all(t.startswith("meanvariancenormalization_node/") for t in inner)


@pytest.mark.parametrize("alpha", [None, 0.7])
def test_swiglu_matches_the_reference_evaluator(alpha):
    a, b = rng.standard_normal((3, 8)).astype(f32), rng.standard_normal((3, 8)).astype(f32)
    attrs = {} if alpha is None else {"alpha": alpha}
    model, feeds = single_op("SwiGLU", [a, b], opset=28, **attrs)
    got = pfw_run(to_pfw(model), feeds)
    k = 1.0 if alpha is None else alpha
    closed = a * (1 / (1 + np.exp(-k * a))) * b  # Swish(a) * b
    assert_match(got, reference(model, feeds))
    np.testing.assert_allclose(got[0], closed, rtol=1e-5, atol=1e-6)


def test_two_unnamed_function_nodes_with_dynamic_batch():
    """Each expansion's values have names of their own; the batch dim stays open."""
    nodes = [helper.make_node("SwiGLU", ["a", "b"], ["h"]),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("SwiGLU", ["r", "b"], ["y"], alpha=0.5)]
    model = build(nodes, [value_info("a", f32, ["N", 6]), value_info("b", f32, ["N", 6])],
                  [value_info("y", f32, ["N", 6])], opset=28)
    pfw = to_pfw(model)
    for n in (1, 4):
        feeds = {"a": rng.standard_normal((n, 6)).astype(f32), "b": rng.standard_normal((n, 6)).astype(f32)}
        assert_match(pfw_run(pfw, feeds), reference(model, feeds))


@pytest.mark.parametrize("with_bias, with_past", [(False, False), (True, True), (False, True)])
@pytest.mark.parametrize("activation", [None, "silu"])
def test_causal_conv_with_state_absent_optional_inputs(with_bias, with_past, activation):
    """Left-out formal inputs (bias, past_state) are absent in the body too."""
    x, w = rng.standard_normal((2, 4, 7)).astype(f32), rng.standard_normal((4, 1, 3)).astype(f32)
    args = [x, w, rng.standard_normal(4).astype(f32) if with_bias else None,
            rng.standard_normal((2, 4, 2)).astype(f32) if with_past else None]
    while args[-1] is None:
        args.pop()
    attrs = {} if activation is None else {"activation": activation}
    model, feeds = single_op("CausalConvWithState", args, opset=27, n_outputs=2, **attrs)
    assert_match(pfw_run(to_pfw(model), feeds), reference(model, feeds))


@pytest.mark.parametrize("update_rule, inputs", [
    ("linear", ["query", "key", "value"]),
    ("gated_delta", ["query", "key", "value", "past_state", "decay", "beta"]),
])
def test_linear_attention_matches_the_reference_evaluator(update_rule, inputs):
    shapes = {"query": (2, 3, 16), "key": (2, 3, 16), "value": (2, 3, 16), "past_state": (2, 2, 8, 8),
              "decay": (2, 3, 16), "beta": (2, 3, 2)}
    args = [rng.standard_normal(shapes[n]).astype(f32) for n in inputs]
    if "decay" in inputs:  # decay gates in log space, beta in (0, 1)
        args[inputs.index("decay")] = -np.abs(args[inputs.index("decay")])
        args[inputs.index("beta")] = 1 / (1 + np.exp(-args[inputs.index("beta")]))
    model, feeds = single_op("LinearAttention", args, opset=27, n_outputs=2, q_num_heads=2, kv_num_heads=2,
                             update_rule=update_rule)
    assert_match(pfw_run(to_pfw(model), feeds), reference(model, feeds))


def test_function_op_inside_a_subgraph_reads_the_outer_scope():
    """Unnamed MVNs in the main graph and in both If branches (their input
    from the outer graph, its type from the whole model's shape inference):
    the expansions' values are named apart across graphs, so the export is
    still single-assignment ONNX that ONNX Runtime runs alike."""
    shape = [2, 3, 4, 4]
    then = helper.make_graph([helper.make_node("MeanVarianceNormalization", ["x"], ["t"], axes=[0, 2, 3])], "then",
                             [], [value_info("t", f32, shape)])
    other = helper.make_graph([helper.make_node("MeanVarianceNormalization", ["x"], ["e"], axes=[1])], "else", [],
                              [value_info("e", f32, shape)])
    nodes = [helper.make_node("MeanVarianceNormalization", ["x"], ["m"], axes=[0, 2, 3]),
             helper.make_node("If", ["c"], ["b"], then_branch=then, else_branch=other),
             helper.make_node("Add", ["m", "b"], ["y"])]
    model = build(nodes, [value_info("c", np.bool_, []), value_info("x", f32, shape)], [value_info("y", f32, shape)])
    graph = pyfw.onnx.import_model(model)
    pyfw.ir.infer_shapes(graph)
    pfw = pyfw.format.to_bytes(graph)
    exported = pyfw.onnx.export_model(pyfw.format.load(pfw))
    onnx.checker.check_model(exported, full_check=True)
    x = rng.standard_normal(shape).astype(f32)
    for c in (True, False):
        feeds = {"c": np.array(c), "x": x}
        want = ort_run(model, feeds)
        assert_match(pfw_run(pfw, feeds), want)
        assert_match(ort_run(exported, feeds), want)


def test_exported_model_runs_the_body_in_onnx_runtime():
    x = rng.standard_normal((2, 3, 4, 5)).astype(f32)
    model, feeds = single_op("MeanVarianceNormalization", [x], axes=[1, 3])
    graph = pyfw.onnx.import_model(model)
    pyfw.ir.infer_shapes(graph)
    exported = pyfw.onnx.export_model(pyfw.format.load(pyfw.format.to_bytes(graph)))
    onnx.checker.check_model(exported, full_check=True)
    assert "MeanVarianceNormalization" not in {n.op_type for n in exported.graph.node}
    assert_match(ort_run(exported, feeds), ort_run(model, feeds))


def test_body_with_an_op_pyfw_lacks_names_the_node_and_the_op(monkeypatch):
    """(Every body of onnx 1.23's ops runs now: a build without ReduceMean stands in.)"""
    monkeypatch.delitem(pyfw.onnx.importer.RULES, "ReduceMean")
    x = rng.random((2, 3, 4, 5)).astype(f32)
    model, _ = single_op("MeanVarianceNormalization", [x], axes=[1, 3])
    with pytest.raises(UnsupportedError, match=r"\(MeanVarianceNormalization\).*ReduceMean"):
        pyfw.onnx.import_model(model)


def batchnorm_training(x, s, b, mean, var, eps, momentum):
    """ONNX's training-mode BatchNormalization in float64: the batch mean and
    population variance over all axes but 1, and the blended running ones."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    x64 = x.astype(np.float64)
    bm, bv = x64.mean(axis=axes), x64.var(axis=axes)
    y = (x64 - bm.reshape(shape)) / np.sqrt(bv.reshape(shape) + eps) * s.reshape(shape) + b.reshape(shape)
    return y, mean * momentum + bm * (1 - momentum), var * momentum + bv * (1 - momentum)


@pytest.mark.parametrize("opset", [15, 18])  # ReduceMean's axes an attribute, then an input
@pytest.mark.parametrize("shape", [(4, 3, 5, 6), (5, 2, 7)])
@pytest.mark.parametrize("attrs", [{}, {"epsilon": 1e-2, "momentum": 0.7}])
def test_batchnorm_training_mode_matches_its_closed_form(opset, shape, attrs):
    c = shape[1]
    x = (rng.standard_normal(shape) * 2 + 0.5).astype(f32)
    s, b = rng.standard_normal(c).astype(f32), rng.standard_normal(c).astype(f32)
    mean, var = rng.standard_normal(c).astype(f32), rng.random(c).astype(f32) + 0.5
    node = helper.make_node("BatchNormalization", ["x", "s", "b", "mean", "var"], ["y", "out_mean", "out_var"],
                            training_mode=1, **attrs)
    model = build([node], [value_info(n, f32, v.shape) for n, v in
                           (("x", x), ("s", s), ("b", b), ("mean", mean), ("var", var))],
                  [value_info(n, f32, None) for n in ("y", "out_mean", "out_var")], opset=opset)
    feeds = {"x": x, "s": s, "b": b, "mean": mean, "var": var}
    got = pfw_run(to_pfw(model), feeds)
    want = batchnorm_training(x, s, b, mean, var, attrs.get("epsilon", 1e-5), attrs.get("momentum", 0.9))
    for g, w in zip(got, want, strict=True):
        assert g.dtype == f32 and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


def test_batchnorm_training_mode_float16_rounds_at_each_op():
    """float16 X with float32 scale and statistics (BatchNormalization-15's
    separate types), the running outputs unused: each op of the definition
    rounds to float16 (through float32), as NumPy replays it here, bit for bit."""
    def r(v):
        return np.asarray(v, np.float64).astype(f32).astype(np.float16).astype(np.float64)

    x = rng.standard_normal((3, 4, 5)).astype(np.float16)
    s, b = rng.standard_normal(4).astype(f32), rng.standard_normal(4).astype(f32)
    mean, var = np.zeros(4, f32), np.ones(4, f32)
    node = helper.make_node("BatchNormalization", ["x", "s", "b", "mean", "var"], ["y", "m", "v"], training_mode=1)
    model = build([node], [value_info("x", np.float16, x.shape)] +
                  [value_info(n, f32, (4,)) for n in ("s", "b", "mean", "var")],
                  [value_info("y", np.float16, None)], opset=15)
    got = pfw_run(to_pfw(model), {"x": x, "s": s, "b": b, "mean": mean, "var": var})[0]
    x64, per_channel = x.astype(np.float64), (1, -1, 1)
    batch_mean = r(x64.mean(axis=(0, 2), keepdims=True))
    d = r(x64 - batch_mean)
    batch_var = r(r(d * d).mean(axis=(0, 2), keepdims=True))
    norm = r(d / r(np.sqrt(r(batch_var + r(1e-5)))))
    want = r(r(norm * r(s).reshape(per_channel)) + r(b).reshape(per_channel))
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got.astype(np.float64), want)


@pytest.mark.parametrize("q_heads, kv_heads, scale", [(2, 2, None), (4, 2, 0.3)])
def test_flex_attention_of_the_preview_domain_runs_as_its_body(q_heads, kv_heads, scale):
    """ai.onnx.preview's FlexAttention (a context-dependent function) with a
    score_mod subgraph (scores * 0.5): against ONNX's reference evaluator and
    the closed form softmax(0.5 * scale * Q K^T) V, K/V heads shared by
    contiguous groups of query heads."""
    q = rng.standard_normal((2, q_heads, 5, 8)).astype(f32)
    k, v = rng.standard_normal((2, kv_heads, 6, 8)).astype(f32), rng.standard_normal((2, kv_heads, 6, 3)).astype(f32)
    half = helper.make_graph([helper.make_node("Mul", ["s", "c"], ["o"])], "score_mod",
                             [value_info("s", f32, None)], [value_info("o", f32, None)],
                             [onnx.numpy_helper.from_array(np.array(0.5, f32), "c")])
    attrs = {"score_mod": half} | ({} if scale is None else {"scale": scale})
    node = helper.make_node("FlexAttention", ["q", "k", "v"], ["y"], domain="ai.onnx.preview", **attrs)
    graph = helper.make_graph([node], "g", [value_info(n, f32, a.shape) for n, a in (("q", q), ("k", k), ("v", v))],
                              [value_info("y", f32, (2, q_heads, 5, 3))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 26),
                                                    helper.make_opsetid("ai.onnx.preview", 1)])
    model.ir_version = 10
    feeds = {"q": q, "k": k, "v": v}
    got = pfw_run(to_pfw(model), feeds)
    assert_match(got, reference(model, feeds))
    kk, vv = np.repeat(k, q_heads // kv_heads, axis=1), np.repeat(v, q_heads // kv_heads, axis=1)
    s = 0.5 * (scale if scale is not None else 1 / np.sqrt(8)) * (q.astype(np.float64) @ kk.swapaxes(-1, -2))
    p = np.exp(s - s.max(-1, keepdims=True))
    np.testing.assert_allclose(got[0], (p / p.sum(-1, keepdims=True)) @ vv, rtol=1e-5, atol=1e-6)
    assert all(n.domain == "" for n in pyfw.onnx.import_model(model).nodes)
