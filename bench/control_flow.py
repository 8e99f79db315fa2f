"""Control flow against ONNX Runtime: a Loop whose trip count is an input, a
Scan recurrence (a linear-attention state update per step), an If chosen by
the data, and a graph whose shapes come from computed values, each timed in
one process against ONNX Runtime on the same feeds (median latency, ratio),
with the largest difference from ORT's outputs.

    python bench/control_flow.py [--threads 1] [--runs 20] [--min-time 1]

What it measures is mostly per-iteration overhead: each Loop or Scan step
feeds the body's inputs, runs its interpreter and collects its outputs.
Pairs are timed in alternating blocks (bench/run.py paired_medians).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from bench.run import paired_medians, progress  # noqa: E402  (import first: it fixes the environment)

import numpy as np  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from onnx_util import to_pfw  # noqa: E402
from pyfw import benchmark as bm  # noqa: E402
from pyfw.cli import _table  # noqa: E402
from pyfw.runtime import Interpreter  # noqa: E402

F, I, B = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL
OPSET = 17


def _model(nodes, inputs, outputs, inits=()):
    g = helper.make_graph(nodes, "bench", inputs, outputs, [numpy_helper.from_array(v, k) for k, v in inits])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)])
    m.ir_version = 10
    return m


def vi(name, elem, shape=None):
    return helper.make_tensor_value_info(name, elem, shape)


def loop(rng, steps=200, n=64):
    """acc <- tanh(acc @ w + x) for `steps` iterations (an input), with a
    per-step scan output of acc's row sums."""
    w = (rng.standard_normal((n, n)) / np.sqrt(n)).astype(np.float32)
    body = helper.make_graph(
        [helper.make_node("MatMul", ["acc", "w"], ["h"]), helper.make_node("Add", ["h", "x"], ["hx"]),
         helper.make_node("Tanh", ["hx"], ["acc_out"]), helper.make_node("Identity", ["cond"], ["cond_out"]),
         helper.make_node("ReduceSum", ["acc_out", "axis1"], ["rows"], keepdims=0)],
        "body", [vi("i", I, []), vi("cond", B, []), vi("acc", F, [n, n])],
        [vi("cond_out", B, []), vi("acc_out", F, [n, n]), vi("rows", F, [n])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.array([1], np.int64), "axis1")])
    model = _model([helper.make_node("Loop", ["steps", "", "x"], ["acc", "rows"], body=body)],
                   [vi("x", F, [n, n]), vi("steps", I, [])], [vi("acc", F, [n, n]), vi("rows", F, [None, n])])
    return model, {"x": rng.standard_normal((n, n)).astype(np.float32), "steps": np.array(steps, np.int64)}


def scan(rng, length=256, d=64):
    """Linear attention as a recurrence: S <- S + k^T v, y = q S, one step per token."""
    body = helper.make_graph(
        [helper.make_node("Unsqueeze", ["k", "ax0"], ["k2"]), helper.make_node("Unsqueeze", ["v", "ax0"], ["v2"]),
         helper.make_node("Transpose", ["k2"], ["kt"], perm=[1, 0]), helper.make_node("MatMul", ["kt", "v2"], ["kv"]),
         helper.make_node("Add", ["s", "kv"], ["s_out"]), helper.make_node("Unsqueeze", ["q", "ax0"], ["q2"]),
         helper.make_node("MatMul", ["q2", "s_out"], ["y2"]), helper.make_node("Squeeze", ["y2", "ax0"], ["y"])],
        "body", [vi("s", F, [d, d]), vi("q", F, [d]), vi("k", F, [d]), vi("v", F, [d])],
        [vi("s_out", F, [d, d]), vi("y", F, [d])], [numpy_helper.from_array(np.array([0], np.int64), "ax0")])
    model = _model([helper.make_node("Scan", ["s0", "q", "k", "v"], ["s", "y"], body=body, num_scan_inputs=3)],
                   [vi("s0", F, [d, d])] + [vi(x, F, [length, d]) for x in "qkv"], [vi("s", F, [d, d]), vi("y", F, [length, d])])
    feeds = {"s0": np.zeros((d, d), np.float32)}
    feeds.update({x: (rng.standard_normal((length, d)) * 0.1).astype(np.float32) for x in "qkv"})
    return model, feeds


def branch(rng, n=256):
    """If on the sign of a sum: a 256x256 MatMul chain or a Softmax."""
    w = (rng.standard_normal((n, n)) / np.sqrt(n)).astype(np.float32)
    then = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["a"]), helper.make_node("Relu", ["a"], ["b"]),
                              helper.make_node("MatMul", ["b", "w"], ["t"])], "then", [], [vi("t", F, [n, n])])
    other = helper.make_graph([helper.make_node("Softmax", ["x"], ["e"], axis=-1)], "else", [], [vi("e", F, [n, n])])
    model = _model([helper.make_node("ReduceSum", ["x"], ["total"], keepdims=0),
                    helper.make_node("Greater", ["total", "zero"], ["positive"]),
                    helper.make_node("If", ["positive"], ["y"], then_branch=then, else_branch=other)],
                   [vi("x", F, [n, n])], [vi("y", F, [n, n])],
                   [("w", w), ("zero", np.zeros((), np.float32))])
    return model, {"x": (rng.standard_normal((n, n)) + 0.05).astype(np.float32)}


def computed_shapes(rng, n=4096):
    """A Reshape target and a Range length computed from the data, feeding a
    MatMul and a Softmax: nodes prepared at invoke."""
    model = _model([helper.make_node("ReduceMax", ["lens"], ["m"], keepdims=0),
                    helper.make_node("Cast", ["m"], ["k"], to=I),
                    helper.make_node("Unsqueeze", ["k", "ax0"], ["k1"]),
                    helper.make_node("Concat", ["k1", "minus1"], ["shape"], axis=0),
                    helper.make_node("Reshape", ["x", "shape"], ["x2"]),
                    helper.make_node("MatMul", ["x2", "w"], ["h"]),
                    helper.make_node("Softmax", ["h"], ["y"], axis=-1)],
                   [vi("x", F, [n * 64]), vi("lens", F, [2])], [vi("y", F, None)],
                   [("ax0", np.array([0], np.int64)), ("minus1", np.array([-1], np.int64)),
                    ("w", (rng.standard_normal((64, 64)) / 8).astype(np.float32))])
    return model, {"x": rng.standard_normal(n * 64).astype(np.float32), "lens": np.array([n, 1], np.float32)}


CASES = {"loop": loop, "scan": scan, "if": branch, "computed_shapes": computed_shapes}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--min-time", type=float, default=1.0)
    args = ap.parse_args()
    rows = []
    for name, make in CASES.items():
        model, feeds = make(np.random.default_rng(0))
        sess = bm.ort_session(model.SerializeToString(), args.threads)
        want = sess.run(None, feeds)
        with Interpreter(to_pfw(model), threads=args.threads) as it:
            got = it.run(feeds)
            err = max(float(np.abs(g - w).max() / max(np.abs(w).max(), 1e-30)) for g, w in zip(got, want))
            progress(f"{name}: timing")
            t_pfw, t_ort, n = paired_medians(lambda: it.run(feeds), lambda: sess.run(None, feeds), args.runs,
                                             args.min_time)
        rows.append([name, f"{t_pfw:.3g}", f"{t_ort:.3g}", f"{t_pfw / t_ort:.3g}x", f"{err:.1e}", str(n)])
    print(f"{args.threads} thread(s) for pyfw and ONNX Runtime; median ms")
    headers = ["model", "pyfw ms", "ort ms", "pyfw/ort", "max rel diff vs ort", "runs"]
    print("\n".join(_table(headers, rows, set(range(1, len(headers))))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
