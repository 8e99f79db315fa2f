"""Generates small test models with inputs and expected outputs.

Each model is built with onnx.helper, run through ONNX Runtime (the oracle),
and converted with pyfw's importer. Written per model NAME into --out:
  NAME.onnx, NAME.pfw, NAME.input<i>.bin, NAME.output<i>.bin  (raw little-endian)
and manifest.json describing names, dtypes and shapes. The C tests read them.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

OPSET = 17


def _init(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


def mlp(rng) -> tuple[onnx.ModelProto, list[np.ndarray]]:
    """Gemm -> Relu -> MatMul + Add -> Softmax, batch dimension dynamic."""
    w1 = rng.standard_normal((16, 32)).astype(np.float32) * 0.3
    b1 = rng.standard_normal(32).astype(np.float32) * 0.1
    w2 = rng.standard_normal((32, 10)).astype(np.float32) * 0.3
    b2 = rng.standard_normal(10).astype(np.float32) * 0.1
    nodes = [
        helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="fc1"),
        helper.make_node("Relu", ["h"], ["hr"], name="relu1"),
        helper.make_node("MatMul", ["hr", "w2"], ["m"], name="fc2"),
        helper.make_node("Add", ["m", "b2"], ["logits"], name="bias2"),
        helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=-1),
    ]
    g = helper.make_graph(nodes, "mlp",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 16])],
                          [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 10])],
                          [_init("w1", w1), _init("b1", b1), _init("w2", w2), _init("b2", b2)])
    x = rng.standard_normal((3, 16)).astype(np.float32)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)]), [x]


def cnn(rng) -> tuple[onnx.ModelProto, list[np.ndarray]]:
    """Conv+BN+Relu, depthwise conv, pools, Flatten, Gemm."""
    c1 = rng.standard_normal((8, 3, 3, 3)).astype(np.float32) * 0.3
    c1b = rng.standard_normal(8).astype(np.float32) * 0.1
    bn = [rng.uniform(0.5, 1.5, 8).astype(np.float32), rng.standard_normal(8).astype(np.float32) * 0.1,
          rng.standard_normal(8).astype(np.float32) * 0.1, rng.uniform(0.5, 1.5, 8).astype(np.float32)]
    dw = rng.standard_normal((8, 1, 3, 3)).astype(np.float32) * 0.3
    fc = rng.standard_normal((5, 8 * 3 * 3)).astype(np.float32) * 0.2
    fcb = rng.standard_normal(5).astype(np.float32) * 0.1
    nodes = [
        helper.make_node("Conv", ["x", "c1", "c1b"], ["a"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["a", "s", "bb", "mu", "var"], ["b"], name="bn1"),
        helper.make_node("Relu", ["b"], ["c"], name="relu1"),
        helper.make_node("MaxPool", ["c"], ["d"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["d", "dw"], ["e"], name="dwconv", group=8, pads=[1, 1, 1, 1],
                         strides=[2, 2]),
        helper.make_node("Sigmoid", ["e"], ["f"], name="sig"),
        helper.make_node("AveragePool", ["f"], ["g"], name="pool2", kernel_shape=[2, 2], strides=[1, 1],
                         pads=[0, 0, 1, 1], count_include_pad=0),
        helper.make_node("Flatten", ["g"], ["h"], name="flatten"),
        helper.make_node("Gemm", ["h", "fc", "fcb"], ["logits"], name="fc", transB=1),
        helper.make_node("Tanh", ["logits"], ["y"], name="tanh"),
    ]
    g = helper.make_graph(nodes, "cnn",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 12, 12])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 5])],
                          [_init("c1", c1), _init("c1b", c1b), _init("s", bn[0]), _init("bb", bn[1]),
                           _init("mu", bn[2]), _init("var", bn[3]), _init("dw", dw), _init("fc", fc),
                           _init("fcb", fcb)])
    x = rng.standard_normal((2, 3, 12, 12)).astype(np.float32)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)]), [x]


def mixed(rng) -> tuple[onnx.ModelProto, list[np.ndarray]]:
    """Three inputs and three outputs of different dtypes (float32, int64, bool), so each
    binding's feeding order and non-float copies are checked, not just float32."""
    nodes = [
        helper.make_node("Gather", ["x", "idx"], ["g"], name="pick", axis=1),
        helper.make_node("ArgMax", ["x"], ["am"], name="argmax", axis=1, keepdims=0),
        helper.make_node("Greater", ["g", "zero"], ["pos"], name="positive"),
        helper.make_node("And", ["pos", "mask"], ["both"], name="masked"),
    ]
    g = helper.make_graph(nodes, "mixed",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6]),
                           helper.make_tensor_value_info("idx", TensorProto.INT64, [3]),
                           helper.make_tensor_value_info("mask", TensorProto.BOOL, ["N", 3])],
                          [helper.make_tensor_value_info("g", TensorProto.FLOAT, ["N", 3]),
                           helper.make_tensor_value_info("am", TensorProto.INT64, ["N"]),
                           helper.make_tensor_value_info("both", TensorProto.BOOL, ["N", 3])],
                          [_init("zero", np.zeros((), np.float32))])
    x = rng.standard_normal((4, 6)).astype(np.float32)
    idx = np.array([5, 0, 3], np.int64)
    mask = rng.random((4, 3)) < 0.5
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)]), [x, idx, mask]


MODELS = {"mlp": mlp, "cnn": cnn, "mixed": mixed}


def main() -> int:
    import onnxruntime as ort

    from pyfw import format as pfw_format
    from pyfw.ir import infer_shapes
    from pyfw.onnx import import_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="output directory")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = {"models": []}
    for name, build in MODELS.items():
        model, inputs = build(np.random.default_rng(len(name)))
        onnx.checker.check_model(model, full_check=True)
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        feeds = {i.name: x for i, x in zip(sess.get_inputs(), inputs)}
        outputs = sess.run(None, feeds)
        (out / f"{name}.onnx").write_bytes(model.SerializeToString())
        graph = import_model(model)
        infer_shapes(graph)
        pfw_format.save(graph, out / f"{name}.pfw")
        entry = {"name": name, "inputs": [], "outputs": []}
        for kind, arrays in (("input", inputs), ("output", outputs)):
            for i, a in enumerate(arrays):
                a = np.ascontiguousarray(a)
                (out / f"{name}.{kind}{i}.bin").write_bytes(a.astype(a.dtype.newbyteorder("<")).tobytes())
                entry[kind + "s"].append({"file": f"{name}.{kind}{i}.bin", "dtype": str(a.dtype),
                                          "shape": list(a.shape)})
        manifest["models"].append(entry)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
