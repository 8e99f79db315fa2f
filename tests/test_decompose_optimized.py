"""The graphs the decompositions build (pyfw/onnx/decompose*.py) through the
optimisation passes `pyfw convert` runs by default: the same outputs as the
graph as imported, for a tree ensemble, a classifier, a scikit-learn-style
pipeline, RoiAlign, DeformConv, STFT, TfIdfVectorizer and MaxPool's Indices."""
import numpy as np
import pytest
from onnx import helper

import pyfw.format
import pyfw.ir
import pyfw.onnx
from onnx_util import Init, build, pfw_run, single_op, to_pfw, value_info
from pyfw.ir.passes import optimize
from test_onnx_ml_linear import ML, ml_model
from test_onnx_trees import classic, classifier, classifier_model, model, positive_weights, random_forest

rng = np.random.default_rng(12)
f32 = np.float32


def forest(kind):
    trees = random_forest(rng, 8, 5, 3 if kind == "classifier" else 1, 5, modes=[0, 1, 3])
    x = rng.normal(size=(40, 5)).astype(f32)
    if kind == "classifier":
        return classifier_model(x, classifier(positive_weights(trees, rng), [4, 5, 6], "SOFTMAX"), 3), {"X": x}
    return model("TreeEnsembleRegressor", 3, x, 1, classic(trees, 1, "AVERAGE")), {"X": x}


def pipeline():
    x = rng.normal(size=(20, 4)).astype(f32)
    x[rng.random(x.shape) < 0.2] = np.nan
    nodes = [helper.make_node("Imputer", ["X"], ["f"], domain=ML, imputed_value_floats=[0.0] * 4,
                              replaced_value_float=np.nan),
             helper.make_node("Scaler", ["f"], ["s"], domain=ML, offset=[0.1] * 4, scale=[2.0] * 4),
             helper.make_node("LinearClassifier", ["s"], ["label", "p"], domain=ML,
                              coefficients=rng.normal(size=12).tolist(), intercepts=[0.1, -0.2, 0.0],
                              classlabels_ints=[0, 1, 2], post_transform="SOFTMAX")]
    return ml_model(nodes, x, {"label": (np.int64, ["N"]), "p": (f32, ["N", 3])}), {"X": x}


def roi_align():
    x = rng.normal(size=(2, 4, 12, 12)).astype(f32)
    rois = np.array([[1, 1, 8, 9], [0, 2, 11, 5], [-2, -1, 4, 4]], f32)
    return single_op("RoiAlign", [x, rois, np.array([0, 1, 1], np.int64)], opset=16, output_height=3,
                     output_width=3, sampling_ratio=2)


def deform_conv():
    x = rng.normal(size=(1, 4, 6, 6)).astype(f32)
    offset = rng.normal(size=(1, 18, 6, 6)).astype(f32)
    return single_op("DeformConv", [x, Init(rng.normal(size=(2, 4, 3, 3)).astype(f32)), offset], opset=19,
                     kernel_shape=[3, 3], pads=[1, 1, 1, 1])


def stft():
    signal = rng.normal(size=(2, 100, 1)).astype(f32)
    return single_op("STFT", [signal, Init(np.array(10, np.int64)), Init(np.hanning(20).astype(f32)),
                              Init(np.array(20, np.int64))], opset=17)


def tfidf():
    x = rng.integers(0, 4, (3, 12)).astype(np.int64)
    return single_op("TfIdfVectorizer", [x], opset=17, out_dtype=f32, min_gram_length=1, max_gram_length=2,
                     max_skip_count=2, mode="TFIDF", ngram_counts=[0, 2], ngram_indexes=[0, 1, 2],
                     pool_int64s=[1, 2, 1, 3], weights=[0.5, 2.0, 3.0])


def max_pool_indices():
    x = rng.normal(size=(2, 3, 7, 8)).astype(f32)
    node = helper.make_node("MaxPool", ["x"], ["v", "i"], kernel_shape=[2, 2], strides=[2, 2])
    return build([node], [value_info("x", f32, x.shape)],
                 [value_info("v", f32, None), value_info("i", np.int64, None)]), {"x": x}


CASES = {"regressor": lambda: forest("regressor"), "classifier": lambda: forest("classifier"), "pipeline": pipeline,
         "roi_align": roi_align, "deform_conv": deform_conv, "stft": stft, "tfidf": tfidf,
         "max_pool_indices": max_pool_indices}


@pytest.mark.parametrize("case", CASES)
def test_optimised_decomposition_gives_the_same_outputs(case):
    m, feeds = CASES[case]()
    graph = pyfw.onnx.import_model(m)
    pyfw.ir.infer_shapes(graph)
    before = len(graph.nodes)
    optimised = optimize(graph)
    assert len(optimised.nodes) <= before
    want = pfw_run(to_pfw(m), feeds)
    got = pfw_run(pyfw.format.to_bytes(optimised), feeds)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_array_equal(g, w)
