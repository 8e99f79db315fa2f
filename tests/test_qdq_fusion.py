"""QDQ models as ONNX Runtime's quantize_static writes them: `optimize` (and
so `pyfw convert`) turns each DequantizeLinear -> Conv/MatMul [-> Relu] ->
QuantizeLinear layer into QLinearConv / QLinearMatMul, and the converted
model matches ONNX Runtime running the QDQ file (which fuses the same way)
within one quantization step, at every ISA level."""
from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnx_util import ort_quantize_static, ort_run
from pyfw.ir.passes import fuse_qdq, optimize
from pyfw.onnx import import_model
from pyfw.runtime import Interpreter
from test_cpu_dispatch import ISAS

RNG = np.random.default_rng(11)


def _float_model() -> onnx.ModelProto:
    """Conv+Relu, a strided Conv, a depthwise Conv, Flatten, MatMul: the
    layers quantize_static turns into QDQ."""
    def init(name, shape, scale):
        return numpy_helper.from_array((RNG.standard_normal(shape) * scale).astype(np.float32), name)

    inits = [init("w1", (8, 3, 3, 3), 0.3), init("b1", (8,), 0.1), init("w2", (16, 8, 3, 3), 0.15),
             init("b2", (16,), 0.1), init("w3", (16, 1, 3, 3), 0.3), init("w4", (16 * 4 * 4, 10), 0.05)]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name="conv2", strides=[2, 2], pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["c2", "w3"], ["c3"], name="dw", group=16, pads=[1, 1, 1, 1]),
             helper.make_node("Flatten", ["c3"], ["f"], name="flatten"),
             helper.make_node("MatMul", ["f", "w4"], ["y"], name="fc")]
    g = helper.make_graph(nodes, "qdq_cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _ort_qdq(tmp_path, per_channel: bool) -> onnx.ModelProto:
    calib = [{"x": RNG.standard_normal((1, 3, 8, 8)).astype(np.float32)} for _ in range(8)]
    return ort_quantize_static(_float_model(), tmp_path, calib, per_channel=per_channel)


@pytest.mark.parametrize("per_channel", [True, False], ids=["per-channel", "per-tensor"])
def test_qdq_layers_become_integer_ops(tmp_path, monkeypatch, per_channel):
    qdq = _ort_qdq(tmp_path, per_channel)
    before = Counter(n.op_type for n in qdq.graph.node)
    assert before["Conv"] == 3 and before["MatMul"] == 1 and before["DequantizeLinear"] > 4
    g = optimize(import_model(qdq))
    ops = Counter(n.op_type for n in g.nodes)
    # every Conv and the MatMul run on integers; no float Conv or MatMul is left
    assert ops["QLinearConv"] == 3 and ops["QLinearMatMul"] == 1, ops
    assert ops["Conv"] == 0 and ops["MatMul"] == 0 and ops["Relu"] == 0, ops
    from pyfw import format as pfw_format
    path = tmp_path / "fused.pfw"
    pfw_format.save(g, path)
    x = RNG.standard_normal((1, 3, 8, 8)).astype(np.float32)
    (want,) = ort_run(qdq, {"x": x})
    # the output's quantization step: the scale of the last DequantizeLinear
    out_dq = next(n for n in qdq.graph.node if n.op_type == "DequantizeLinear" and n.output[0] == "y")
    step = numpy_helper.to_array(next(i for i in qdq.graph.initializer if i.name == out_dq.input[1]))
    for isa in ISAS:
        monkeypatch.setenv("PFW_ISA", isa)
        with Interpreter(str(path)) as it:
            (got,) = it.run([x])
        assert np.abs(got - want).max() <= float(step) * 1.0001, isa


@pytest.mark.parametrize("zero", [0, 3])
def test_relu_before_quantize(tmp_path, zero):
    """conv1 -> Relu -> QuantizeLinear: the Relu folds in when the zero point
    is uint8's minimum (the clamp does the Relu's work), else that layer
    stays float and the rest still fuses."""
    from pyfw.ir.graph import Node, Tensor
    g = import_model(_ort_qdq(tmp_path, True))
    conv1 = next(n for n in g.nodes if n.op_type == "Conv" and n.name.startswith("conv1"))
    q = next(n for n in g.nodes if n.op_type == "QuantizeLinear" and n.inputs[0] == conv1.outputs[0])
    g.add_tensor(Tensor("pre_relu", "float32"))
    g.nodes.insert(g.nodes.index(conv1) + 1, Node("Relu", ["pre_relu"], [conv1.outputs[0]], name="extra_relu"))
    conv1.outputs[0] = "pre_relu"
    g.tensors[q.inputs[2]].data = np.array(zero, np.uint8)
    ops = Counter(n.op_type for n in fuse_qdq(g).nodes)
    fused = 3 if zero == 0 else 2
    assert ops["QLinearConv"] == fused and ops["Conv"] == 3 - fused and ops["Relu"] == 3 - fused, ops


def test_no_optimize_keeps_qdq(tmp_path):
    qdq = _ort_qdq(tmp_path, True)
    ops = Counter(n.op_type for n in optimize(import_model(qdq), level=1).nodes)
    assert ops["QLinearConv"] == 0 and ops["Conv"] == 3, ops
