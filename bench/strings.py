"""String ops against ONNX Runtime's kernels, in one run, one thread each,
alternating runs, after checking both give the same outputs; prints median
latencies (each from Python: feeding NumPy arrays of str and reading them
back counts for both) and ORT / pyfw (below 1: ONNX Runtime is faster).

    python bench/strings.py [--runs 7] [--rows 20000]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from onnx_util import single_op, to_pfw  # noqa: E402

from timing import alternating_medians, one_thread_session  # noqa: E402

from pyfw.runtime import Interpreter  # noqa: E402

rng = np.random.default_rng(0)
WORDS = np.array(["monday", "Tuesday", "WEDNESDAY", "école", "Straße", "the", "a", "data", "x@gmail.com",
                  "first.last@yahoo.com", "not an email", "www.example.com"], dtype=object)


def words(rows):
    return WORDS[rng.integers(0, len(WORDS), rows)]


def csv_lines(rows):
    return np.array([",".join(WORDS[rng.integers(0, len(WORDS), rng.integers(1, 8))]) for _ in range(rows)],
                    dtype=object)


def label_encoder(rows, keys):
    vocab = [f"token{k}" for k in range(keys)]
    node = helper.make_node("LabelEncoder", ["x"], ["y"], domain="ai.onnx.ml", keys_strings=vocab,
                            values_int64s=list(range(keys)), default_int64=-1)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.STRING, [rows])],
                              [helper.make_tensor_value_info("y", TensorProto.INT64, [rows])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19), helper.make_opsetid("ai.onnx.ml", 4)])
    model.ir_version = 10
    x = np.array([f"token{k}" for k in rng.integers(0, keys + 10, rows)], dtype=object)
    return model, {"x": x}


def cases(rows):
    return [
        ("StringConcat", lambda: single_op("StringConcat", [words(rows), words(rows)], opset=20)),
        ("StringSplit on ','", lambda: _split(csv_lines(rows))),
        ("StringNormalizer LOWER, 2 stopwords", lambda: single_op(
            "StringNormalizer", [words(rows)], opset=10, out_shape=None, case_change_action="LOWER",
            stopwords=["the", "a"], locale="C.UTF-8")),
        ("RegexFullMatch e-mail pattern", lambda: single_op(
            "RegexFullMatch", [words(rows)], opset=20, out_dtype=bool,
            pattern=r"(\W|^)[\w.\-]{0,25}@(yahoo|gmail)\.com(\W|$)")),
        ("Equal", lambda: single_op("Equal", [words(rows), words(rows)], opset=19, out_dtype=bool)),
        ("LabelEncoder, 100 string keys", lambda: label_encoder(rows, 100)),
        ("LabelEncoder, 10,000 string keys", lambda: label_encoder(rows, 10000)),
        ("Cast float32 -> string", lambda: single_op(
            "Cast", [(np.round(rng.standard_normal(rows) * 400) / 4).astype(np.float32)], opset=21, out_dtype=object,
            to=TensorProto.STRING)),
        ("Cast string -> float32", lambda: single_op(
            "Cast", [np.array([f"{v:.6g}" for v in rng.standard_normal(rows) * 100], object)], opset=21,
            out_dtype=np.float32, to=TensorProto.FLOAT)),
    ]


def _split(x):
    node = helper.make_node("StringSplit", ["x"], ["y", "z"], delimiter=",")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.STRING, list(x.shape))],
                              [helper.make_tensor_value_info("y", TensorProto.STRING, None),
                               helper.make_tensor_value_info("z", TensorProto.INT64, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    model.ir_version = 10
    return model, {"x": x}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--rows", type=int, default=20000)
    args = ap.parse_args()
    print(f"{args.rows} strings each")
    print(f"{'case':<40} {'pyfw ms':>9} {'ORT ms':>9} {'ORT/pyfw':>9}")
    for name, make in cases(args.rows):
        m, feeds = make()
        sess = one_thread_session(m)
        with Interpreter(to_pfw(m), threads=1) as it:
            for g, w in zip(it.run(feeds), sess.run(None, feeds), strict=True):  # the same answer first
                np.testing.assert_array_equal(g, w)
            a, b = alternating_medians(lambda: it.run(feeds), lambda: sess.run(None, feeds), args.runs)
        print(f"{name:<40} {a:9.2f} {b:9.2f} {b / a:9.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
