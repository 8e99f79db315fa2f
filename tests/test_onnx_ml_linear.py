"""ai.onnx.ml's linear models and feature transforms (LinearRegressor,
LinearClassifier, Scaler, Normalizer, Imputer), which pyfw imports as
standard ops (pyfw/onnx/decompose_linear.py), against ONNX Runtime; and a
scikit-learn-style pipeline of them (impute, scale, classify) in one model.
LabelEncoder, a kernel of its own (runtime_c/src/ops/label_encoder.c),
against ONNX Runtime, ONNX's reference evaluator and Python dicts."""
import numpy as np
import onnx
import pytest
from onnx import helper
from onnx.reference import ReferenceEvaluator

import pyfw.onnx
from onnx_util import ort_run, pfw_run, to_pfw, value_info
from pyfw import InvalidModelError, UnsupportedError

ML = "ai.onnx.ml"
f32 = np.float32
rng = np.random.default_rng(8)


def ml_model(nodes, x, outputs):
    """`nodes` reading "X" (x's dtype, (N, F)); outputs: name -> (dtype, shape)."""
    graph = helper.make_graph(nodes, "g", [value_info("X", x.dtype, ["N", x.shape[1]])],
                              [value_info(k, dt, shape) for k, (dt, shape) in outputs.items()])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid(ML, 1), helper.make_opsetid("", 17)])
    m.ir_version = 10
    onnx.checker.check_model(m)
    return m


def same_as_ort(m, x, exact_ints=True):
    got = pfw_run(to_pfw(m), {"X": x})
    want = ort_run(m, {"X": x})
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype and g.shape == w.shape
        if w.dtype.kind in "iu" and exact_ints:
            np.testing.assert_array_equal(g, w)
        else:
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    return got


@pytest.mark.parametrize("targets, post", [(1, "NONE"), (3, "NONE"), (3, "SOFTMAX"), (2, "LOGISTIC")])
@pytest.mark.parametrize("dtype", [f32, np.float64, np.int64])
def test_linear_regressor(targets, post, dtype):
    """ONNX Runtime runs float32 X only: int64 X against it as float32 (the
    same values), float64 X against the closed form (post_transform NONE)."""
    x = (rng.normal(size=(9, 4)) * 3).astype(dtype)
    coef = rng.normal(size=targets * 4).tolist()
    node = helper.make_node("LinearRegressor", ["X"], ["Y"], domain=ML, coefficients=coef,
                            intercepts=rng.normal(size=targets).tolist(), targets=targets, post_transform=post)
    m = ml_model([node], x, {"Y": (f32, ["N", targets])})
    if dtype == f32:
        got = same_as_ort(m, x)
    else:
        got = pfw_run(to_pfw(m), {"X": x})
        xf = x.astype(f32)
        if dtype == np.int64:
            np.testing.assert_allclose(got[0], ort_run(ml_model([node], xf, {"Y": (f32, ["N", targets])}),
                                                       {"X": xf})[0], rtol=1e-5, atol=1e-6)
    if post == "NONE":
        want = x.astype(np.float64) @ np.array(coef).reshape(targets, 4).T + node.attribute[1].floats
        np.testing.assert_allclose(got[0], want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("classes, rows, post", [
    (3, 3, "NONE"), (3, 3, "SOFTMAX"), (4, 4, "LOGISTIC"), (3, 3, "SOFTMAX_ZERO"),
    (2, 1, "NONE"), (2, 1, "LOGISTIC"), (2, 2, "SOFTMAX"),
])
def test_linear_classifier(classes, rows, post):
    x = rng.normal(size=(11, 5)).astype(f32)
    labels = [7, 3, 11, 5][:classes]
    node = helper.make_node("LinearClassifier", ["X"], ["label", "scores"], domain=ML,
                            coefficients=rng.normal(size=rows * 5).tolist(), intercepts=rng.normal(size=rows).tolist(),
                            classlabels_ints=labels, post_transform=post)
    m = ml_model([node], x, {"label": (np.int64, ["N"]), "scores": (f32, ["N", max(rows, classes)])})
    got = same_as_ort(m, x)
    assert set(got[0]) <= set(labels)


def test_linear_classifier_string_labels_are_refused():
    x = rng.normal(size=(2, 3)).astype(f32)
    node = helper.make_node("LinearClassifier", ["X"], ["label", "scores"], domain=ML, coefficients=[0.0] * 6,
                            intercepts=[0.0, 0.0], classlabels_strings=["a", "b"])
    graph = helper.make_graph([node], "g", [value_info("X", f32, ["N", 3])],
                              [helper.make_tensor_value_info("label", onnx.TensorProto.STRING, ["N"]),
                               value_info("scores", f32, ["N", 2])])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid(ML, 1), helper.make_opsetid("", 17)])
    with pytest.raises(UnsupportedError, match="'label' has dtype STRING|string class labels need string tensors"):
        pyfw.onnx.import_model(m)


@pytest.mark.parametrize("dtype", [f32, np.float64, np.int64])
@pytest.mark.parametrize("per_feature", [True, False])
def test_scaler(dtype, per_feature):
    x = (rng.normal(size=(6, 3)) * 10).astype(dtype)
    n = 3 if per_feature else 1
    offset, scale = rng.normal(size=n).tolist(), rng.normal(size=n).tolist()
    node = helper.make_node("Scaler", ["X"], ["Y"], domain=ML, offset=offset, scale=scale)
    got = same_as_ort(ml_model([node], x, {"Y": (f32, ["N", 3])}), x)
    np.testing.assert_allclose(got[0], (x - np.float32(offset)) * np.float32(scale), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("norm", ["MAX", "L1", "L2"])
def test_normalizer(norm):
    """MAX divides by the row's max (ONNX's formula and ONNX Runtime; ONNX's
    reference takes the max of |X|); a zero divisor leaves the row as is."""
    x = rng.normal(size=(7, 4)).astype(f32)
    x[3] = 0
    x[5] = [-1, 0, -2, -0.5]  # max 0
    x[6] = [-1, -3, -2, -0.5]  # max < 0
    node = helper.make_node("Normalizer", ["X"], ["Y"], domain=ML, norm=norm)
    got = same_as_ort(ml_model([node], x, {"Y": (f32, ["N", 4])}), x)
    size = {"MAX": x.max(1), "L1": np.abs(x).sum(1), "L2": np.sqrt((x.astype(np.float64) ** 2).sum(1))}[norm]
    np.testing.assert_allclose(got[0], np.where(size[:, None] == 0, x, x / np.where(size == 0, 1, size)[:, None]),
                               rtol=1e-6)


@pytest.mark.parametrize("replaced", [np.nan, -1.0])
@pytest.mark.parametrize("per_feature", [True, False])
def test_imputer_floats(replaced, per_feature):
    x = np.round(rng.normal(size=(8, 3))).astype(f32)
    x[rng.random(x.shape) < 0.3] = replaced
    values = [1.5, -2.0, 3.25] if per_feature else [9.0]
    node = helper.make_node("Imputer", ["X"], ["Y"], domain=ML, imputed_value_floats=values,
                            replaced_value_float=replaced)
    got = same_as_ort(ml_model([node], x, {"Y": (f32, ["N", 3])}), x)
    hit = np.isnan(x) if np.isnan(replaced) else x == replaced
    np.testing.assert_array_equal(got[0], np.where(hit, np.broadcast_to(np.float32(values), x.shape), x))


def test_imputer_int64():
    x = rng.integers(-2, 3, (6, 2)).astype(np.int64)
    node = helper.make_node("Imputer", ["X"], ["Y"], domain=ML, imputed_value_int64s=[100, 200],
                            replaced_value_int64=0)
    got = same_as_ort(ml_model([node], x, {"Y": (np.int64, ["N", 2])}), x)
    np.testing.assert_array_equal(got[0], np.where(x == 0, [100, 200], x))


def test_a_pipeline_of_imputer_scaler_and_classifier():
    x = rng.normal(size=(20, 4)).astype(f32)
    x[rng.random(x.shape) < 0.2] = np.nan
    nodes = [helper.make_node("Imputer", ["X"], ["filled"], domain=ML, imputed_value_floats=[0.0] * 4,
                              replaced_value_float=np.nan),
             helper.make_node("Scaler", ["filled"], ["scaled"], domain=ML, offset=[0.1, 0.2, -0.1, 0.0],
                              scale=[1.5, 0.5, 2.0, 1.0]),
             helper.make_node("LinearClassifier", ["scaled"], ["label", "probabilities"], domain=ML,
                              coefficients=rng.normal(size=12).tolist(), intercepts=[0.1, -0.2, 0.0],
                              classlabels_ints=[0, 1, 2], post_transform="SOFTMAX", multi_class=1)]
    m = ml_model(nodes, x, {"label": (np.int64, ["N"]), "probabilities": (f32, ["N", 3])})
    got = same_as_ort(m, x)
    np.testing.assert_allclose(got[1].sum(1), 1, rtol=1e-6)
    assert {n.op_type for n in pyfw.onnx.import_model(m).nodes} <= {
        "IsNaN", "Where", "Constant", "Sub", "Mul", "MatMul", "Add", "Softmax", "ArgMax", "Gather", "Identity"}


@pytest.mark.parametrize("dtype", [np.int64, np.int32, f32])
def test_one_hot_encoder(dtype):
    x = rng.integers(0, 6, (5, 3)).astype(dtype)  # 4 and 5 are unseen: rows of zeros
    node = helper.make_node("OneHotEncoder", ["X"], ["Y"], domain=ML, cats_int64s=[3, 0, 1, 2], zeros=1)
    m = ml_model([node], x, {"Y": (f32, ["N", 3, 4])})
    if dtype == np.int32:  # ONNX Runtime has no int32 kernel: ONNX's reference
        got = pfw_run(to_pfw(m), {"X": x})
        np.testing.assert_array_equal(got[0], ReferenceEvaluator(m).run(None, {"X": x})[0])
    else:
        got = same_as_ort(m, x)
    np.testing.assert_array_equal(got[0], (x[..., None] == np.array([3, 0, 1, 2])).astype(f32))


def string_model(node, x_type, x_shape, y_type, y_shape, ml_opset):
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", x_type, x_shape)],
                              [helper.make_tensor_value_info("Y", y_type, y_shape)])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid(ML, ml_opset), helper.make_opsetid("", 17)])
    m.ir_version = 10
    return m


def exported_still_agrees(m, feeds, want):
    """The model exported back to ONNX passes the full check and ONNX Runtime
    runs it to `want` (at opset 17, where Equal takes no strings)."""
    graph = pyfw.onnx.import_model(m)
    back = pyfw.onnx.export_model(graph)
    onnx.checker.check_model(back, full_check=True)
    np.testing.assert_array_equal(ort_run(back, feeds)[0], want)


@pytest.mark.parametrize("ml_opset", [1, 2])
def test_one_hot_encoder_string_categories(ml_opset):
    """Through LabelEncoder to each category's index (ml opset 1: classes_strings)."""
    x = np.array([["b", "zz", "a"], ["", "c", "b"]], object)
    node = helper.make_node("OneHotEncoder", ["X"], ["Y"], domain=ML, cats_strings=["a", "b", "c"], zeros=1)
    m = string_model(node, onnx.TensorProto.STRING, [2, 3], onnx.TensorProto.FLOAT, [2, 3, 3], ml_opset)
    want = ort_run(m, {"X": x})[0]
    np.testing.assert_array_equal(want, (x[..., None] == np.array(["a", "b", "c"], object)).astype(f32))
    np.testing.assert_array_equal(pfw_run(to_pfw(m), {"X": x})[0], want)
    exported_still_agrees(m, {"X": x}, want)


@pytest.mark.parametrize("x", [np.array(["b", "zz", "a", ""], object), np.array([2, 0, 5, -1], np.int64)],
                         ids=["strings_to_index", "index_to_strings"])
def test_label_encoder_version_1_classes(x):
    """ai.onnx.ml 1: a string becomes its index in classes_strings (default_int64
    otherwise), an int64 the class it indexes (default_string otherwise)."""
    strings_in = x.dtype == object
    node = helper.make_node("LabelEncoder", ["X"], ["Y"], domain=ML, classes_strings=["a", "b", "c"],
                            default_int64=-7, default_string="?")
    m = string_model(node, onnx.TensorProto.STRING if strings_in else onnx.TensorProto.INT64, [4],
                     onnx.TensorProto.INT64 if strings_in else onnx.TensorProto.STRING, [4], 1)
    want = ort_run(m, {"X": x})[0]
    np.testing.assert_array_equal(want, [1, -7, 0, -7] if strings_in else np.array(["c", "a", "?", "?"], object))
    np.testing.assert_array_equal(pfw_run(to_pfw(m), {"X": x})[0], want)
    exported_still_agrees(m, {"X": x}, want)


def test_one_hot_encoder_zeros_0_is_refused():
    x = np.zeros((2, 3), np.int64)
    node = helper.make_node("OneHotEncoder", ["X"], ["Y"], domain=ML, cats_int64s=[0, 1], zeros=0)
    with pytest.raises(UnsupportedError, match=r"\(OneHotEncoder\): zeros=0"):
        pyfw.onnx.import_model(ml_model([node], x, {"Y": (f32, ["N", 3, 2])}))


@pytest.mark.parametrize("rows", [4, None])
def test_feature_vectorizer_cuts_and_pads(rows):
    """(N, C_i) inputs, or (C_i,) ones (one sample each, as ONNX Runtime reads them)."""
    lead = (rows,) if rows else ()
    a, b, c = (rng.normal(size=lead + (s,)).astype(np.float64) for s in (3, 2, 1))
    node = helper.make_node("FeatureVectorizer", ["a", "b", "c"], ["y"], domain=ML, inputdimensions=[2, 4, 1])
    graph = helper.make_graph([node], "g", [value_info(n, np.float64, list(v.shape)) for n, v in zip("abc", (a, b, c))],
                              [value_info("y", f32, [rows or 1, 7])])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid(ML, 1), helper.make_opsetid("", 17)])
    m.ir_version = 10
    feeds = {"a": a, "b": b, "c": c}
    got = pfw_run(to_pfw(m), feeds)[0]
    a, b, c = (v.reshape(rows or 1, -1) for v in (a, b, c))
    want = np.concatenate([a[:, :2], b, np.zeros((rows or 1, 2)), c], axis=1).astype(f32)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got, ort_run(m, feeds)[0])


@pytest.mark.parametrize("keys, values, default, x_dtype", [
    ({"keys_int64s": [3, 1, 7]}, {"values_floats": [0.5, -1.0, 2.5], "default_float": 9.0}, 9.0, np.int64),
    ({"keys_floats": [0.5, 1.5]}, {"values_int64s": [10, 20], "default_int64": -7}, -7, f32),
    ({"keys_int64s": [1, 2, 1]}, {"values_int64s": [5, 6, 8]}, -1, np.int64),  # a repeated key: its last value
])
def test_label_encoder_numbers(keys, values, default, x_dtype):
    x = np.array([[1, 3, 7, 2], [0, 1, 3, 3]]).astype(x_dtype) if x_dtype != f32 else \
        np.array([[0.5, 1.5, 2.0, 0.5]], f32)
    out = np.int64 if "values_int64s" in values else f32
    node = helper.make_node("LabelEncoder", ["X"], ["Y"], domain=ML, **keys, **values)
    graph = helper.make_graph([node], "g", [value_info("X", x_dtype, list(x.shape))],
                              [value_info("Y", out, list(x.shape))])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid(ML, 2), helper.make_opsetid("", 17)])
    m.ir_version = 10
    got = pfw_run(to_pfw(m), {"X": x})[0]
    k = next(iter(keys.values()))
    v = next(val for name, val in values.items() if name.startswith("values"))
    table = dict(zip(k, v))
    np.testing.assert_array_equal(got, np.vectorize(lambda t: table.get(t, default))(x).astype(out))
    np.testing.assert_array_equal(got, ReferenceEvaluator(m).run(None, {"X": x})[0])
    if len(set(k)) == len(k):
        np.testing.assert_array_equal(got, ort_run(m, {"X": x})[0])


def label_encoder_model(x, out_dtype, ml_opset=4, opset=19, **attrs):
    node = helper.make_node("LabelEncoder", ["X"], ["Y"], domain=ML, **attrs)
    graph = helper.make_graph([node], "g", [value_info("X", x.dtype, list(x.shape))],
                              [value_info("Y", out_dtype, list(x.shape))])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid(ML, ml_opset), helper.make_opsetid("", opset)])
    m.ir_version = 10
    return m


@pytest.mark.parametrize("key_dtype,value_dtype", [(np.int32, np.float64), (np.int16, np.int32),
                                                   (np.float64, np.int16), (np.float32, np.float64)])
def test_label_encoder_tensor_attributes_of_every_type(key_dtype, value_dtype):
    """ai.onnx.ml 4's keys_tensor / values_tensor / default_tensor, against
    ONNX's reference evaluator and a dict."""
    keys = np.array([4, -2, 9, 0], key_dtype)
    values = np.array([40, -20, 90, 7], value_dtype)
    default = np.array([-1], value_dtype)
    x = np.array([[9, 4, 5], [0, -2, 4]], key_dtype)
    m = label_encoder_model(x, value_dtype, keys_tensor=onnx.numpy_helper.from_array(keys),
                            values_tensor=onnx.numpy_helper.from_array(values),
                            default_tensor=onnx.numpy_helper.from_array(default))
    got = pfw_run(to_pfw(m), {"X": x})[0]
    table = dict(zip(keys.tolist(), values.tolist()))
    want = np.vectorize(lambda t: table.get(t, default[0]))(x).astype(value_dtype)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got, ReferenceEvaluator(m).run(None, {"X": x})[0])


def test_label_encoder_float_keys_match_nan_and_signed_zero():
    """ml 4: a NaN key matches any NaN; -0.0 and 0.0 are the same key (IEEE equality)."""
    x = np.array([np.nan, -0.0, 0.0, 1.5, 2.5, -np.nan], f32)
    m = label_encoder_model(x, np.int64, keys_floats=[0.0, np.nan, 1.5], values_int64s=[1, 2, 3], default_int64=-9)
    np.testing.assert_array_equal(pfw_run(to_pfw(m), {"X": x})[0], [2, 1, 1, 3, -9, 2])


def test_label_encoder_large_table_matches_a_dict():
    own = np.random.default_rng(21)  # the module's rng feeds the tests below their data
    keys = own.choice(10**9, size=20000, replace=False).astype(np.int64)
    values = own.normal(size=20000).astype(f32)
    x = np.concatenate([keys[::3], own.integers(0, 10**9, 5000)]).astype(np.int64)
    m = label_encoder_model(x, f32, ml_opset=2, opset=17, keys_int64s=keys.tolist(), values_floats=values.tolist(),
                            default_float=0.25)
    table = dict(zip(keys.tolist(), values.tolist()))
    want = np.array([table.get(t, 0.25) for t in x.tolist()], f32)
    np.testing.assert_array_equal(pfw_run(to_pfw(m), {"X": x})[0], want)
    np.testing.assert_array_equal(pfw_run(to_pfw(m), {"X": x})[0], ort_run(m, {"X": x})[0])


def test_label_encoder_exports_as_itself(tmp_path):
    """A string LabelEncoder at opset 17 exports as ai.onnx.ml LabelEncoder:
    a model ONNX's full check accepts and ONNX Runtime runs to the same values."""
    x = np.array(["b", "zz", "a", ""], object)
    node = helper.make_node("LabelEncoder", ["X"], ["Y"], domain=ML, keys_strings=["a", "b"], values_int64s=[1, 2])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", onnx.TensorProto.STRING, [4])],
                              [helper.make_tensor_value_info("Y", onnx.TensorProto.INT64, [4])])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid(ML, 2), helper.make_opsetid("", 17)])
    m.ir_version = 10
    graph = pyfw.onnx.import_model(m)
    back = pyfw.onnx.export_model(graph)
    onnx.checker.check_model(back, full_check=True)
    assert [(n.op_type, n.domain) for n in back.graph.node] == [("LabelEncoder", ML)]
    assert {o.domain: o.version for o in back.opset_import} == {"": 17, ML: 2}
    want = ort_run(m, {"X": x})[0]
    np.testing.assert_array_equal(ort_run(back, {"X": x})[0], want)
    np.testing.assert_array_equal(pfw_run(to_pfw(back), {"X": x})[0], want)


@pytest.mark.parametrize("attrs,x,match", [
    ({"keys_int64s": [1, 2], "values_int64s": [1]}, np.array([1], np.int64), "2 keys for 1 values"),
    ({"keys_strings": ["a"], "values_int64s": [1]}, np.array([1], np.int64), "input 0 has dtype int64 but the keys are string"),
    ({"keys_int64s": [1], "values_int64s": [1], "default_tensor": onnx.numpy_helper.from_array(np.zeros(0, np.int64))},
     np.array([1], np.int64), "default_tensor must be one int64 .* it is 0 bytes of int64"),
])
def test_label_encoder_bad_attributes_are_named(attrs, x, match):
    m = label_encoder_model(x, np.int64, ml_opset=4 if "default_tensor" in attrs else 2,
                            opset=19 if "default_tensor" in attrs else 17, **attrs)
    with pytest.raises(ValueError, match=rf"node 'LabelEncoder_0' \(LabelEncoder\): {match}"):
        pfw_run(to_pfw(m), {"X": x})


def test_one_dimensional_x_is_one_sample():
    """A 1-D X: Normalizer keeps it 1-D, LinearRegressor reads one sample (1, F), as ONNX Runtime."""
    x = rng.normal(size=(5,)).astype(f32)
    graph = helper.make_graph(
        [helper.make_node("Normalizer", ["X"], ["n"], domain=ML, norm="L2"),
         helper.make_node("LinearRegressor", ["X"], ["r"], domain=ML, coefficients=[1.0, 2.0, 0.5, -1.0, 3.0],
                          intercepts=[0.25])],
        "g", [value_info("X", f32, [5])], [value_info("n", f32, [5]), value_info("r", f32, [1, 1])])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid(ML, 1), helper.make_opsetid("", 17)])
    m.ir_version = 10
    got, want = pfw_run(to_pfw(m), {"X": x}), ort_run(m, {"X": x})
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-6)


@pytest.mark.parametrize("post", ["SOFTMAX", "LOGISTIC"])
def test_linear_regressor_float64_post_transform(post):
    """ONNX Runtime runs no float64 LinearRegressor: the closed form."""
    x = rng.normal(size=(6, 3))
    coef, intercepts = rng.normal(size=6), rng.normal(size=2)
    node = helper.make_node("LinearRegressor", ["X"], ["Y"], domain=ML, coefficients=coef.tolist(),
                            intercepts=intercepts.tolist(), targets=2, post_transform=post)
    got = pfw_run(to_pfw(ml_model([node], x, {"Y": (f32, ["N", 2])})), {"X": x})[0]
    s = x @ np.float32(coef).astype(np.float64).reshape(2, 3).T + np.float32(intercepts)
    want = np.exp(s) / np.exp(s).sum(1, keepdims=True) if post == "SOFTMAX" else 1 / (1 + np.exp(-s))
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("kernel, params, one_class", [
    ("LINEAR", [0.0, 0.0, 0], 0), ("POLY", [0.3, 1.0, 3], 0), ("RBF", [0.5, 0.0, 0], 0), ("SIGMOID", [0.2, -0.5, 0], 0),
    ("RBF", [0.8, 0.0, 0], 1),
])
def test_svm_regressor(kernel, params, one_class):
    x = rng.normal(size=(12, 4)).astype(f32)
    sv = rng.normal(size=(7, 4)).astype(f32)
    coef, rho = rng.normal(size=7).astype(f32), [0.25]
    node = helper.make_node("SVMRegressor", ["X"], ["Y"], domain=ML, coefficients=coef.tolist(), kernel_type=kernel,
                            kernel_params=params, n_supports=7, one_class=one_class, rho=rho,
                            support_vectors=sv.ravel().tolist())
    got = same_as_ort(ml_model([node], x, {"Y": (f32, ["N", 1])}), x)
    xd, svd = x.astype(np.float64), sv.astype(np.float64)
    dots = xd @ svd.T
    k = {"LINEAR": dots, "POLY": (params[0] * dots + params[1]) ** 3,
         "SIGMOID": np.tanh(params[0] * dots + params[1]),
         "RBF": np.exp(-params[0] * ((xd[:, None] - svd[None]) ** 2).sum(-1))}[kernel]
    score = k @ coef.astype(np.float64) + rho[0]
    want = np.where(score > 0, 1.0, -1.0) if one_class else score
    np.testing.assert_allclose(got[0][:, 0], want, rtol=1e-5, atol=1e-5)


def test_svm_regressor_linear_without_support_vectors():
    x = rng.normal(size=(5, 3)).astype(f32)
    node = helper.make_node("SVMRegressor", ["X"], ["Y"], domain=ML, coefficients=[0.5, -1.0, 2.0], n_supports=0,
                            kernel_type="LINEAR", kernel_params=[0.0, 0.0, 0],
                            rho=[0.1])
    got = same_as_ort(ml_model([node], x, {"Y": (f32, ["N", 1])}), x)
    np.testing.assert_allclose(got[0][:, 0], x @ np.float32([0.5, -1.0, 2.0]) + 0.1, rtol=1e-6)


def svc(classes, per_class, features, kernel, params, post="NONE", positive=False):
    """An SVMClassifier as skl2onnx writes sklearn's SVC (probability=False)."""
    total = sum(per_class)
    coef = rng.normal(size=(classes - 1) * total)
    if positive:
        coef = np.abs(coef)
    return helper.make_node(
        "SVMClassifier", ["X"], ["label", "scores"], domain=ML, classlabels_ints=list(range(3, 3 + classes)),
        coefficients=coef.astype(f32).tolist(), kernel_type=kernel, kernel_params=params,
        rho=(rng.normal(size=classes * (classes - 1) // 2) * 0.1).astype(f32).tolist(),
        support_vectors=rng.normal(size=total * features).astype(f32).tolist(), vectors_per_class=per_class,
        post_transform=post)


@pytest.mark.parametrize("classes, per_class, kernel, params, post, positive", [
    (2, [3, 4], "RBF", [0.5, 0.0, 0], "NONE", False),
    (2, [2, 2], "LINEAR", [0.0, 0.0, 0], "LOGISTIC", False),
    (2, [3, 2], "POLY", [0.2, 1.0, 2], "NONE", True),  # ONNX's reference would say class 1 throughout
    (3, [2, 3, 2], "RBF", [0.3, 0.0, 0], "NONE", False),
    (4, [2, 1, 3, 2], "SIGMOID", [0.1, 0.5, 0], "NONE", False),
    (4, [2, 2, 2, 2], "LINEAR", [0.0, 0.0, 0], "SOFTMAX", False),
])
def test_svm_classifier_matches_onnx_runtime(classes, per_class, kernel, params, post, positive):
    x = rng.normal(size=(25, 4)).astype(f32)
    node = svc(classes, per_class, 4, kernel, params, post, positive)
    n_scores = 2 if classes == 2 else classes * (classes - 1) // 2
    m = ml_model([node], x, {"label": (np.int64, ["N"]), "scores": (f32, ["N", n_scores])})
    got = same_as_ort(m, x)
    decisions = got[1][:, -1] if post == "NONE" else None
    if decisions is not None:  # both labels' paths are taken
        assert (decisions > 0).any() and (decisions < 0).any() or classes > 2 or positive


@pytest.mark.parametrize("classes, per_class, kernel, params, post", [
    (2, [3, 4], "RBF", [0.5, 0.0, 0], "NONE"),
    (2, [2, 3], "LINEAR", [0.0, 0.0, 0], "NONE"),
    (3, [2, 3, 2], "RBF", [0.3, 0.0, 0], "NONE"),
    (3, [2, 2, 2], "POLY", [0.2, 1.0, 2], "LOGISTIC"),
    (4, [2, 1, 3, 2], "SIGMOID", [0.1, 0.5, 0], "NONE"),
    (5, [1, 2, 1, 2, 3], "LINEAR", [0.0, 0.0, 0], "SOFTMAX"),
])
def test_svm_classifier_probabilities_match_onnx_runtime(classes, per_class, kernel, params, post):
    """SVC(probability=True): Platt's sigmoid per pair, then libsvm's pairwise
    coupling (an iteration that stops per sample). ONNX Runtime is the oracle
    (ONNX's reference evaluator couples 3 classes or more differently)."""
    x = (rng.normal(size=(40, 4)) * 2).astype(f32)
    node = svc(classes, per_class, 4, kernel, params, post)
    pairs = classes * (classes - 1) // 2
    node.attribute.extend([helper.make_attribute("prob_a", (-rng.uniform(0.5, 3, pairs)).tolist()),
                           helper.make_attribute("prob_b", rng.uniform(-0.5, 0.5, pairs).tolist())])
    m = ml_model([node], x, {"label": (np.int64, ["N"]), "scores": (f32, ["N", classes])})
    label, probs = same_as_ort(m, x)
    if post == "NONE":  # probabilities: rows sum to 1 (to the iteration's tolerance), and vary
        np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)
        assert probs.argmax(axis=1).min() != probs.argmax(axis=1).max() or classes == 2


def test_svm_classifier_probabilities_need_one_pair_of_coefficients_per_pair():
    x = np.zeros((2, 4), f32)
    node = svc(3, [2, 2, 2], 4, "RBF", [0.5, 0.0, 0])
    node.attribute.extend([helper.make_attribute("prob_a", [1.0, 2.0]), helper.make_attribute("prob_b", [0.0, 0.0])])
    with pytest.raises(InvalidModelError, match=r"\(SVMClassifier\): 2 prob_a and 2 prob_b for 3 class pairs"):
        pyfw.onnx.import_model(ml_model([node], x, {"label": (np.int64, ["N"]), "scores": (f32, ["N", 3])}))

@pytest.mark.filterwarnings("ignore::FutureWarning")  # sklearn 1.9 deprecates SVC(probability=True), still there
@pytest.mark.parametrize("dataset, classes, kernel", [("iris", 3, "rbf"), ("digits", 4, "rbf"), ("digits", 5, "poly"),
                                                      ("iris", 3, "sigmoid")])
def test_svm_classifier_probabilities_match_sklearn(dataset, classes, kernel):
    """scikit-learn's SVC(probability=True), written as skl2onnx writes it:
    pyfw's probabilities are libsvm's predict_proba (libsvm couples the
    pairs in float64, as pyfw does; two classes it does not iterate, so
    three or more here), and its labels are predict's."""
    from sklearn import datasets
    from sklearn.svm import SVC

    data = datasets.load_iris() if dataset == "iris" else datasets.load_digits(n_class=classes)
    x, y = data.data.astype(f32), data.target
    if dataset == "digits":
        x /= 16
    clf = SVC(kernel=kernel, probability=True, random_state=0, gamma=0.5 if kernel == "sigmoid" else "scale",
              coef0=0.5 if kernel != "rbf" else 0.0, degree=3).fit(x[::2], y[::2])
    node = helper.make_node(
        "SVMClassifier", ["X"], ["label", "scores"], domain=ML, classlabels_ints=clf.classes_.tolist(),
        coefficients=clf.dual_coef_.ravel().tolist(), kernel_type=kernel.upper(),
        kernel_params=[float(clf._gamma), float(clf.coef0), float(clf.degree)], rho=clf.intercept_.tolist(),
        support_vectors=clf.support_vectors_.ravel().tolist(), vectors_per_class=clf.n_support_.tolist(),
        prob_a=clf.probA_.tolist(), prob_b=clf.probB_.tolist())
    test = x[1::2]
    m = ml_model([node], test, {"label": (np.int64, ["N"]), "scores": (f32, ["N", classes])})
    label, probs = pfw_run(to_pfw(m), {"X": test})
    np.testing.assert_array_equal(label, clf.predict(test))
    np.testing.assert_allclose(probs, clf.predict_proba(test.astype(np.float64)), rtol=1e-4, atol=1e-5)
