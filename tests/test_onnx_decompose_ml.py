"""ai.onnx.preview.training's optimizer updates (Adagrad, Momentum, Adam) and
ai.onnx.ml's Binarizer and ArrayFeatureExtractor, which pyfw imports as
standard ops (pyfw/onnx/decompose_ml.py): the updates against their closed
forms in float64 and ONNX's reference evaluator (ONNX Runtime has no kernels
for them), the ml ops against ONNX Runtime; models that import only those
domains, or them beside the default one; clear errors."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

import pyfw.onnx
from onnx_util import ort_run, pfw_run, to_pfw, value_info
from pyfw import InvalidModelError, UnsupportedError

rng = np.random.default_rng(3)
f32 = np.float32
TRAINING, ML = "ai.onnx.preview.training", "ai.onnx.ml"


def model_of(op, domain, version, feeds, outputs, default_opset=None, **attrs):
    """A one-node model of `domain`: feeds (name -> array) are its inputs in
    order, `outputs` (name -> (dtype, shape)) its outputs."""
    node = helper.make_node(op, list(feeds), list(outputs), domain=domain, **attrs)
    inputs = [value_info(k, v.dtype, v.shape) for k, v in feeds.items()]
    outs = [value_info(k, dt, shape) for k, (dt, shape) in outputs.items()]
    imports = [helper.make_opsetid(domain, version)]
    if default_opset:
        imports.append(helper.make_opsetid("", default_opset))
    model = helper.make_model(helper.make_graph([node], "g", inputs, outs), opset_imports=imports)
    model.ir_version = 10
    onnx.checker.check_model(model)
    return model


def run_both(model, feeds):
    got = pfw_run(to_pfw(model), feeds)
    want = ReferenceEvaluator(model).run(None, feeds)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7)
    return got


def state(n, dtype=f32, shape=(3, 4)):
    return [rng.standard_normal(shape).astype(dtype) for _ in range(n)]


def training_feeds(r, t, groups):
    feeds = {"R": np.array(r, f32), "T": np.array(t, np.int64)}
    for name, tensors in groups:
        feeds.update({f"{name}{k}": v for k, v in enumerate(tensors)})
    return feeds


@pytest.mark.parametrize("t", [0, 5])
@pytest.mark.parametrize("n, dtype", [(1, f32), (2, f32), (1, np.float64)])
def test_adagrad(t, n, dtype):
    x, g, h = state(n, dtype), state(n, dtype), [np.abs(v) for v in state(n, dtype)]
    feeds = training_feeds(0.1, t, [("X", x), ("G", g), ("H", h)])
    outs = {f"X{k}_new": (dtype, x[k].shape) for k in range(n)} | {f"H{k}_new": (dtype, x[k].shape) for k in range(n)}
    attrs = dict(decay_factor=0.1, epsilon=1e-5, norm_coefficient=0.01)
    got = run_both(model_of("Adagrad", TRAINING, 1, feeds, outs, **attrs), feeds)
    for k in range(n):  # closed form in float64
        r = 0.1 / (1 + t * 0.1)
        g_reg = 0.01 * x[k].astype(np.float64) + g[k]
        h_new = h[k] + g_reg ** 2
        x_new = x[k] - r * g_reg / (np.sqrt(h_new) + 1e-5)
        np.testing.assert_allclose(got[k], x_new, rtol=2e-6)
        np.testing.assert_allclose(got[n + k], h_new, rtol=2e-6)


@pytest.mark.parametrize("mode", ["standard", "nesterov"])
@pytest.mark.parametrize("t", [0, 3])
def test_momentum(mode, t):
    n = 2
    x, g, v = state(n), state(n), state(n)
    feeds = training_feeds(0.05, t, [("X", x), ("G", g), ("V", v)])
    outs = {f"X{k}_new": (f32, x[k].shape) for k in range(n)} | {f"V{k}_new": (f32, x[k].shape) for k in range(n)}
    got = run_both(model_of("Momentum", TRAINING, 1, feeds, outs, alpha=0.9, beta=0.5, mode=mode,
                            norm_coefficient=0.02), feeds)
    for k in range(n):
        g_reg = 0.02 * x[k].astype(np.float64) + g[k]
        v_new = 0.9 * v[k] + (0.5 if t > 0 else 1.0) * g_reg
        x_new = x[k] - 0.05 * (v_new if mode == "standard" else g_reg + 0.9 * v_new)
        np.testing.assert_allclose(got[k], x_new, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got[n + k], v_new, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("t", [0, 1, 7])
def test_adam(t):
    n = 2
    x, g, v, h = state(n), state(n), state(n), [np.abs(s) for s in state(n)]
    feeds = training_feeds(0.01, t, [("X", x), ("G", g), ("V", v), ("H", h)])
    outs = {f"{p}{k}_new": (f32, x[k].shape) for p in "XVH" for k in range(n)}
    attrs = dict(alpha=0.8, beta=0.95, epsilon=1e-4, norm_coefficient=0.01, norm_coefficient_post=0.02)
    got = run_both(model_of("Adam", TRAINING, 1, feeds, outs, **attrs), feeds)
    for k in range(n):
        g_reg = 0.01 * x[k].astype(np.float64) + g[k]
        v_new = 0.8 * v[k] + 0.2 * g_reg
        h_new = 0.95 * h[k] + 0.05 * g_reg ** 2
        rate = 0.01 * np.sqrt(1 - 0.95 ** t) / (1 - 0.8 ** t) if t > 0 else 0.01
        x_new = (1 - 0.02) * (x[k] - rate * v_new / (np.sqrt(h_new) + 1e-4))
        for j, want in enumerate((x_new, v_new, h_new)):
            np.testing.assert_allclose(got[j * n + k], want, rtol=1e-5, atol=1e-6)


def test_training_update_with_outputs_left_out():
    """Only X_new is asked for: the state outputs are not computed."""
    x, g, h = state(1), state(1), [np.abs(v) for v in state(1)]
    feeds = training_feeds(0.1, 1, [("X", x), ("G", g), ("H", h)])
    model = model_of("Adagrad", TRAINING, 1, feeds, {"X0_new": (f32, (3, 4))})
    run_both(model, feeds)


def test_training_update_errors():
    x, g, v = state(1), state(1), state(1)
    feeds = training_feeds(0.1, 1, [("X", x), ("G", g), ("V", v)])
    outs = {"X0_new": (f32, (3, 4))}
    with pytest.raises(InvalidModelError, match="mode 'sgd' is neither"):
        pyfw.onnx.import_model(model_of("Momentum", TRAINING, 1, feeds, outs, alpha=0.9, beta=0.1, mode="sgd",
                                        norm_coefficient=0.0))
    del feeds["V0"]
    node = helper.make_node("Momentum", list(feeds), ["X0_new"], domain=TRAINING, alpha=0.9, beta=0.1,
                            mode="standard", norm_coefficient=0.0)
    graph = helper.make_graph([node], "g", [value_info(k, v.dtype, v.shape) for k, v in feeds.items()],
                              [value_info("X0_new", f32, (3, 4))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(TRAINING, 1)])
    with pytest.raises(InvalidModelError, match="3 equal groups of tensors, got 2"):
        pyfw.onnx.import_model(model)


@pytest.mark.parametrize("dtype", [f32, np.float64, np.int64, np.int32])
def test_binarizer(dtype):
    """Against ONNX Runtime (float32, all it runs) or the reference evaluator."""
    x = (rng.standard_normal((4, 5)) * 4).astype(dtype)
    x[0, 0] = 1  # the threshold itself is not above it
    feeds = {"x": x}
    model = model_of("Binarizer", ML, 1, feeds, {"y": (dtype, x.shape)}, threshold=1.0)
    got = pfw_run(to_pfw(model), feeds)
    oracle = ort_run if dtype == f32 else (lambda m, f: ReferenceEvaluator(m).run(None, f))
    np.testing.assert_array_equal(got[0], oracle(model, feeds)[0])
    np.testing.assert_array_equal(got[0], (x > 1).astype(dtype))


@pytest.mark.parametrize("x_shape, indices", [
    ((6,), [4, 0, 4]),
    ((3, 7), [[6, 1, 2]]),
    ((2, 3, 5), [0, 4]),
    ((4, 5), [[1, 2], [3, 0]]),
])
def test_array_feature_extractor_matches_onnx_runtime(x_shape, indices):
    x = rng.standard_normal(x_shape).astype(f32)
    feeds = {"x": x, "i": np.array(indices, np.int64)}
    k = int(np.size(indices))
    out_shape = (1, k) if len(x_shape) == 1 else (*x_shape[:-1], k)
    model = model_of("ArrayFeatureExtractor", ML, 1, feeds, {"z": (f32, out_shape)})
    got = pfw_run(to_pfw(model), feeds)
    np.testing.assert_array_equal(got[0], ort_run(model, feeds)[0])
    np.testing.assert_array_equal(got[0], x[..., np.ravel(indices)].reshape(out_shape))


def test_ml_op_beside_default_domain_ops():
    """Binarizer then a default-domain ReduceSum: the model's own opset holds."""
    nodes = [helper.make_node("Binarizer", ["x"], ["b"], domain=ML, threshold=0.0),
             helper.make_node("ReduceSum", ["b", "axes"], ["y"], keepdims=0)]
    graph = helper.make_graph(nodes, "g", [value_info("x", f32, (3, 4))], [value_info("y", f32, (3,))],
                              [helper.make_tensor("axes", TensorProto.INT64, [1], [1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(ML, 1)])
    model.ir_version = 10
    x = rng.standard_normal((3, 4)).astype(f32)
    got = pfw_run(to_pfw(model), {"x": x})
    np.testing.assert_array_equal(got[0], ort_run(model, {"x": x})[0])
    assert pyfw.onnx.import_model(model).opset == 13


def test_unsupported_ml_op_is_named_not_called_a_custom_domain():
    node = helper.make_node("DictVectorizer", ["x"], ["y"], domain=ML)
    graph = helper.make_graph([node], "g", [value_info("x", f32, (2, 3))], [value_info("y", f32, (2, 1))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(ML, 1)])
    with pytest.raises(UnsupportedError, match=r"op DictVectorizer, domain 'ai.onnx.ml', opset 1\) is not supported yet"):
        pyfw.onnx.import_model(model)


def test_binarizer_integer_x_against_a_fractional_threshold():
    x = np.array([[-1, 0, 1]], np.int64)
    model = model_of("Binarizer", ML, 1, {"x": x}, {"y": (np.int64, x.shape)}, threshold=-0.5)
    got = pfw_run(to_pfw(model), {"x": x})[0]
    np.testing.assert_array_equal(got, [[0, 1, 1]])
    np.testing.assert_array_equal(got, ReferenceEvaluator(model).run(None, {"x": x})[0])


def node_model(op, domain, inputs, outputs, version=1, default=17, **attrs):
    node = helper.make_node(op, [n for n, _ in inputs], [n for n, _ in outputs], domain=domain, **attrs)
    graph = helper.make_graph([node], "g", [value_info(n, f32, s) for n, s in inputs],
                              [value_info(n, f32, s) for n, s in outputs])
    imports = [helper.make_opsetid("", default)] + ([helper.make_opsetid(domain, version)] if domain else [])
    return helper.make_model(graph, opset_imports=imports)


@pytest.mark.parametrize("model, message", [
    (lambda: node_model("Momentum", TRAINING, [("R", []), ("T", []), ("X", [2]), ("G", [2]), ("V", [2])],
                        [("X2", [2]), ("V2", [2])], mode="standard", norm_coefficient=0.0), "no 'alpha' attribute"),
    (lambda: node_model("TfIdfVectorizer", "", [("x", [2, 4])], [("y", [2, 2])], min_gram_length=1,
                        max_gram_length=2, max_skip_count=0, ngram_counts=[0, 2], ngram_indexes=[0, 1, 2],
                        pool_int64s=[1, 2, 3]), "no 'mode' attribute|do not cut the pool"),
    (lambda: node_model("TfIdfVectorizer", "", [("x", [2, 4])], [("y", [2, 2])], min_gram_length=1,
                        max_gram_length=1, max_skip_count=0, ngram_counts=[0], ngram_indexes=[0, -1],
                        pool_int64s=[1, 2], mode="TF"), "ngram_indexes \\(all >= 0\\)"),
    (lambda: node_model("MaxUnpool", "", [("x", [1, 1, 2, 2]), ("i", [1, 1, 2, 2])], [("y", [1, 1, 4, 4])]),
     "no 'kernel_shape' attribute"),
    (lambda: node_model("DeformConv", "", [("x", [1, 2, 4, 4]), ("w", [2, 2, 2, 2]), ("o", [1, 8, 3, 3])],
                        [("y", [1, 2, 3, 3])], default=19, group=0), "do not fit together|do not split"),
    (lambda: node_model("TreeEnsemble", ML, [("x", [2, 2])], [("y", [2, 1])], version=5, tree_roots=[0]),
     "no 'nodes_modes' attribute"),
])
def test_malformed_attributes_name_the_node(model, message):
    with pytest.raises(InvalidModelError, match=message):
        pyfw.onnx.import_model(model())


def test_a_preview_function_needs_opset_13():
    q = np.zeros((1, 1, 2, 4), f32)
    node = helper.make_node("FlexAttention", ["q", "k", "v"], ["y"], domain="ai.onnx.preview")
    graph = helper.make_graph([node], "g", [value_info(n, f32, q.shape) for n in "qkv"], [value_info("y", f32, q.shape)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12), helper.make_opsetid("ai.onnx.preview", 1)])
    with pytest.raises(UnsupportedError, match="its ONNX body needs default-domain opset 13"):
        pyfw.onnx.import_model(model)
