"""Ops pyfw imports as standard ops (pyfw/onnx/decompose*.py) against ONNX
Runtime's own kernels for them, in one run, one thread each, alternating
runs, after checking both give the same outputs; prints median latencies and
ORT / pyfw (below 1: ONNX Runtime is faster).

    python bench/decomposed_ops.py [--runs 7]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from onnx import helper

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from onnx_util import Init, single_op, to_pfw  # noqa: E402
from test_onnx_ml_linear import ml_model, svc  # noqa: E402
from test_onnx_trees import classic, classifier, classifier_model, model, positive_weights, \
    random_forest  # noqa: E402

from timing import alternating_medians, one_thread_session  # noqa: E402

from pyfw.runtime import Interpreter  # noqa: E402

rng = np.random.default_rng(0)
f32 = np.float32


def forest_regressor(trees, depth, features, rows):
    forest = random_forest(rng, trees, features, 1, depth, modes=[0])
    x = rng.normal(size=(rows, features)).astype(f32)
    return model("TreeEnsembleRegressor", 3, x, 1, classic(forest, 1)), {"X": x}


def forest_classifier(trees, depth, features, rows):
    forest = positive_weights(random_forest(rng, trees, features, 3, depth, modes=[0]), rng)
    x = rng.normal(size=(rows, features)).astype(f32)
    return classifier_model(x, classifier(forest, [0, 1, 2]), 3), {"X": x}


def svc_probabilities(classes, rows):
    """sklearn's SVC(probability=True): RBF, 20 support vectors a class, 16 features."""
    node = svc(classes, [20] * classes, 16, "RBF", [0.1, 0.0, 0])
    pairs = classes * (classes - 1) // 2
    node.attribute.extend([helper.make_attribute("prob_a", (-rng.uniform(0.5, 3, pairs)).tolist()),
                           helper.make_attribute("prob_b", rng.uniform(-0.5, 0.5, pairs).tolist())])
    x = rng.normal(size=(rows, 16)).astype(f32)
    return ml_model([node], x, {"label": (np.int64, ["N"]), "scores": (f32, ["N", classes])}), {"X": x}


def roi_align():
    x = rng.normal(size=(1, 256, 50, 50)).astype(f32)
    xy = rng.uniform(0, 40, (100, 2))
    rois = np.concatenate([xy, xy + rng.uniform(2, 10, (100, 2))], axis=1).astype(f32)
    return single_op("RoiAlign", [x, rois, np.zeros(100, np.int64)], opset=16, output_height=7, output_width=7,
                     sampling_ratio=2)


def deform_conv():
    x = rng.normal(size=(1, 64, 28, 28)).astype(f32)
    w = rng.normal(size=(64, 64, 3, 3)).astype(f32) * 0.05
    offset = rng.normal(size=(1, 18, 28, 28)).astype(f32)
    return single_op("DeformConv", [x, Init(w), offset], opset=19, kernel_shape=[3, 3], pads=[1, 1, 1, 1])


def stft():
    signal = rng.normal(size=(4, 16000, 1)).astype(f32)
    return single_op("STFT", [signal, Init(np.array(160, np.int64)), Init(np.hanning(400).astype(f32)),
                              Init(np.array(400, np.int64))], opset=17)


CASES = [
    ("TreeEnsembleRegressor 100 trees, depth 8, 1000 rows", lambda: forest_regressor(100, 8, 10, 1000)),
    ("TreeEnsembleClassifier 50 trees, depth 6, 3 classes", lambda: forest_classifier(50, 6, 8, 1000)),
    # pyfw couples the pairs in float64 as libsvm (and sklearn's predict_proba) does, ONNX Runtime in float32: a row
    # whose stopping test lands within float32 rounding of libsvm's tolerance stops one round apart (1e-3 off).
    ("SVMClassifier, probabilities, 5 classes, 1000 rows", lambda: svc_probabilities(5, 1000), 0.005),
    ("RoiAlign 100 RoIs of 256x50x50 to 7x7", roi_align),
    ("DeformConv 64->64 3x3 on 28x28", deform_conv),
    ("STFT 4 x 1 s at 16 kHz, 400/160", stft),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    print(f"{'case':<54} {'pyfw ms':>9} {'ORT ms':>9} {'ORT/pyfw':>9}")
    for name, make, *rows_apart in CASES:
        m, feeds = make()
        sess = one_thread_session(m)
        with Interpreter(to_pfw(m), threads=1) as it:
            for g, w in zip(it.run(feeds), sess.run(None, feeds), strict=True):  # the same answer first
                # (to 1e-4 of the largest value: ORT's STFT is 3e-5 of it off float64 NumPy, pyfw 5e-8)
                tol = 1e-4 * max(1.0, float(np.abs(w).max()))
                if rows_apart and g.ndim == 2:
                    apart = np.abs(g.astype(np.float64) - w).max(axis=1) > tol + 1e-4 * np.abs(w).max(axis=1)
                    assert apart.mean() <= rows_apart[0], f"{apart.sum()} of {len(g)} rows differ"
                    g, w = g[~apart], w[~apart]
                    if apart.any():
                        print(f"  ({apart.sum()} of {len(apart)} rows apart: see the case's comment)")
                np.testing.assert_allclose(g, w, rtol=1e-4, atol=tol)
            a, b = alternating_medians(lambda: it.run(feeds), lambda: sess.run(None, feeds), args.runs)
        print(f"{name:<54} {a:9.2f} {b:9.2f} {b / a:9.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
