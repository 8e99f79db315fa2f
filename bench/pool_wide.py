"""Pools over wide windows: pyfw (one 1-D pass per axis, ops/pool_wide.c)
against ONNX Runtime (a walk over every window) in one run, one thread each,
alternating runs; prints the median latency and ORT / pyfw.

    python bench/pool_wide.py [--runs 5]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from onnx_util import to_pfw  # noqa: E402

from timing import alternating_medians, one_thread_session  # noqa: E402

from pyfw.runtime import Interpreter  # noqa: E402

CASES = [  # (name, op, input shape, attributes)
    ("MaxPool 2-D 500x500, 101x101 window", "MaxPool", (1, 4, 500, 500), dict(kernel_shape=[101, 101])),
    ("MaxPool 2-D 1000x1000, 60x80, stride 2", "MaxPool", (1, 1, 1000, 1000), dict(kernel_shape=[60, 80],
                                                                                   strides=[2, 2])),
    ("AveragePool 2-D 400x400, 64x64, pads 32", "AveragePool", (1, 2, 400, 400),
     dict(kernel_shape=[64, 64], pads=[32, 32, 32, 32])),
    ("MaxPool 1-D 40,000, 15,000 window", "MaxPool", (1, 1, 40000), dict(kernel_shape=[15000])),
    ("MaxPool 3-D 40x60x60, 20x30x30", "MaxPool", (1, 1, 40, 60, 60), dict(kernel_shape=[20, 30, 30])),
]


def model(op, shape, attrs):
    node = helper.make_node(op, ["x"], ["y"], **attrs)
    g = helper.make_graph([node], "pool", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 19)])
    m.ir_version = 10
    return m


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    print(f"{'case':<42} {'pyfw ms':>9} {'ORT ms':>9} {'ORT/pyfw':>9}")
    for name, op, shape, attrs in CASES:
        m = model(op, shape, attrs)
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        sess = one_thread_session(m)
        with Interpreter(to_pfw(m), threads=1) as it:
            want = sess.run(None, {"x": x})[0]
            np.testing.assert_allclose(it.run({"x": x})[0], want, rtol=1e-5, atol=1e-5)  # same answer first
            a, b = alternating_medians(lambda: it.run({"x": x}), lambda: sess.run(None, {"x": x}), args.runs)
        print(f"{name:<42} {a:9.1f} {b:9.1f} {b / a:9.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
