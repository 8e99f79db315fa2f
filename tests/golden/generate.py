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


def dtypes(rng) -> tuple[onnx.ModelProto, list[np.ndarray]]:
    """Inputs and outputs of every dtype the bindings map: float32, int64,
    bool, uint8, int32 (Gather, Where, ArgMax, Cast, Add, Greater, Xor, Tile)."""
    zero = np.array(0.0, dtype=np.float32)
    nodes = [
        helper.make_node("Gather", ["x", "idx"], ["g"], name="gather", axis=1),
        helper.make_node("Where", ["mask", "g", "zero"], ["masked"], name="where"),
        helper.make_node("ArgMax", ["x"], ["argmax"], name="argmax", axis=1, keepdims=0),
        helper.make_node("Cast", ["q"], ["q32"], name="cast", to=TensorProto.INT32),
        helper.make_node("Add", ["q32", "k"], ["sum"], name="add"),
        helper.make_node("Greater", ["g", "zero"], ["positive"], name="greater"),
        helper.make_node("Xor", ["positive", "mask"], ["xor"], name="xor"),
        helper.make_node("Tile", ["q", "reps"], ["tiled"], name="tile"),
    ]
    vi = helper.make_tensor_value_info
    g = helper.make_graph(nodes, "dtypes",
                          [vi("x", TensorProto.FLOAT, ["N", 6]), vi("idx", TensorProto.INT64, [3]),
                           vi("mask", TensorProto.BOOL, ["N", 3]), vi("q", TensorProto.UINT8, ["N", 3]),
                           vi("k", TensorProto.INT32, ["N", 3])],
                          [vi("masked", TensorProto.FLOAT, ["N", 3]), vi("argmax", TensorProto.INT64, ["N"]),
                           vi("sum", TensorProto.INT32, ["N", 3]), vi("xor", TensorProto.BOOL, ["N", 3]),
                           vi("tiled", TensorProto.UINT8, ["N", 6])],
                          [_init("zero", zero), _init("reps", np.array([1, 2], dtype=np.int64))])
    n = 4
    inputs = [rng.standard_normal((n, 6)).astype(np.float32), np.array([5, 0, 2], dtype=np.int64),
              rng.random((n, 3)) < 0.5, rng.integers(0, 256, (n, 3), dtype=np.uint8),
              rng.integers(-1000, 1000, (n, 3), dtype=np.int32)]
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)]), inputs


def attention(rng) -> tuple[onnx.ModelProto, list[np.ndarray]]:
    """One head of self-attention over (batch, seq, dim) with an output
    projection, a residual and LayerNormalization; batch dynamic."""
    seq, dim = 5, 8
    w = {k: rng.standard_normal((dim, dim)).astype(np.float32) * 0.4 for k in ("wq", "wk", "wv", "wo")}
    bo = rng.standard_normal(dim).astype(np.float32) * 0.1
    gamma = rng.uniform(0.5, 1.5, dim).astype(np.float32)
    beta = rng.standard_normal(dim).astype(np.float32) * 0.1
    nodes = [
        helper.make_node("MatMul", ["x", "wq"], ["q"], name="q_proj"),
        helper.make_node("MatMul", ["x", "wk"], ["k"], name="k_proj"),
        helper.make_node("MatMul", ["x", "wv"], ["v"], name="v_proj"),
        helper.make_node("Transpose", ["k"], ["kt"], name="k_transpose", perm=[0, 2, 1]),
        helper.make_node("MatMul", ["q", "kt"], ["scores"], name="scores"),
        helper.make_node("Mul", ["scores", "scale"], ["scaled"], name="scale"),
        helper.make_node("Softmax", ["scaled"], ["attn"], name="softmax", axis=-1),
        helper.make_node("MatMul", ["attn", "v"], ["ctx"], name="context"),
        helper.make_node("Reshape", ["ctx", "rows"], ["ctx2d"], name="flatten_rows"),
        helper.make_node("MatMul", ["ctx2d", "wo"], ["proj"], name="o_proj"),
        helper.make_node("Add", ["proj", "bo"], ["projb"], name="o_bias"),
        helper.make_node("Reshape", ["projb", "bsd"], ["o"], name="unflatten_rows"),
        helper.make_node("Add", ["x", "o"], ["res"], name="residual"),
        helper.make_node("LayerNormalization", ["res", "gamma", "beta"], ["y"], name="layer_norm",
                         axis=-1, epsilon=1e-5),
    ]
    inits = [_init(k, v) for k, v in w.items()] + [
        _init("scale", np.array(1.0 / np.sqrt(dim), dtype=np.float32)), _init("bo", bo),
        _init("rows", np.array([-1, dim], dtype=np.int64)), _init("bsd", np.array([-1, seq, dim], dtype=np.int64)),
        _init("gamma", gamma), _init("beta", beta)]
    g = helper.make_graph(nodes, "attention",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", seq, dim])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", seq, dim])], inits)
    x = rng.standard_normal((2, seq, dim)).astype(np.float32)
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


def qcnn(rng) -> tuple[onnx.ModelProto, list[np.ndarray]]:
    """int8 CNN: QuantizeLinear, QLinearConv 3x3 (3 input channels: a
    partial channel quad), depthwise QLinearConv, 1x1 QLinearConv,
    DequantizeLinear. Power-of-two scales make every requantisation product
    exact in float32 too, and 7-bit weights keep ONNX Runtime's uint8 x int8
    kernels from saturating on any CPU, so its outputs are the exact ones."""
    def qconv(x, w_shape, name, out, **attrs):
        m = w_shape[0]
        w = rng.integers(-63, 64, w_shape).astype(np.int8)
        ws = (2.0 ** -rng.integers(6, 9, m)).astype(np.float32)
        b = rng.integers(-300, 300, m).astype(np.int32)
        inits.extend([_init(f"{name}.w", w), _init(f"{name}.ws", ws), _init(f"{name}.wz", np.zeros(m, np.int8)),
                      _init(f"{name}.b", b)])
        nodes.append(helper.make_node("QLinearConv", [x, "s_in" if x == "xq" else "s_act", "z", f"{name}.w",
                                                      f"{name}.ws", f"{name}.wz", "s_act", "z", f"{name}.b"],
                                      [out], name=name, **attrs))
        return out

    inits = [_init("s_in", np.float32(2.0 ** -4)), _init("s_act", np.float32(2.0 ** -2)), _init("z", np.uint8(128))]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s_in", "z"], ["xq"], name="quantize")]
    h = qconv("xq", (8, 3, 3, 3), "conv1", "h1", pads=[1, 1, 1, 1])
    h = qconv(h, (8, 1, 3, 3), "dw", "h2", group=8, strides=[2, 2], pads=[1, 1, 1, 1])
    h = qconv(h, (12, 8, 1, 1), "project", "h3")
    nodes.append(helper.make_node("DequantizeLinear", [h, "s_act", "z"], ["y"], name="dequantize"))
    g = helper.make_graph(nodes, "qcnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 10, 10])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 12, 5, 5])], inits)
    x = (rng.standard_normal((1, 3, 10, 10)) * 2).astype(np.float32)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)]), [x]


def control(rng) -> tuple[onnx.ModelProto, list[np.ndarray]]:
    """Control flow and data-dependent shapes: a Loop whose trip count is an
    input (carried value, a per-iteration scan output, a value read from the
    enclosing graph), a Scan over x's rows (running sum, reversed row maxima),
    and an If whose branches give different shapes, chosen by the data."""
    f = TensorProto.FLOAT

    def vi(name, elem, shape=None):
        return helper.make_tensor_value_info(name, elem, shape)

    loop_body = helper.make_graph(
        [helper.make_node("Mul", ["acc", "half"], ["scaled"]),
         helper.make_node("Add", ["scaled", "x"], ["acc_out"]),  # x: read from the enclosing graph
         helper.make_node("Identity", ["cond"], ["cond_out"]),
         helper.make_node("ReduceSum", ["acc_out"], ["total"], keepdims=0)],
        "loop_body", [vi("i", TensorProto.INT64, []), vi("cond", TensorProto.BOOL, []), vi("acc", f, [4, 3])],
        [vi("cond_out", TensorProto.BOOL, []), vi("acc_out", f, [4, 3]), vi("total", f, [])],
        [_init("half", np.float32(0.5))])
    scan_body = helper.make_graph(
        [helper.make_node("Add", ["run", "row"], ["run_out"]),
         helper.make_node("ReduceMax", ["row"], ["row_max"], keepdims=0)],
        "scan_body", [vi("run", f, [3]), vi("row", f, [3])], [vi("run_out", f, [3]), vi("row_max", f, [])])
    then_branch = helper.make_graph([helper.make_node("Mul", ["acc", "two"], ["doubled"]),
                                     helper.make_node("Reshape", ["doubled", "flat"], ["flattened"])], "then",
                                    [], [vi("flattened", f, [12])],
                                    [_init("two", np.float32(2)), _init("flat", np.array([-1], np.int64))])
    else_branch = helper.make_graph([helper.make_node("ReduceSum", ["acc", "rows"], ["column_sums"], keepdims=0)],
                                    "else", [], [vi("column_sums", f, [3])], [_init("rows", np.array([0], np.int64))])
    nodes = [
        helper.make_node("Loop", ["steps", "", "x"], ["acc", "totals"], name="loop", body=loop_body),
        helper.make_node("Scan", ["zeros", "x"], ["sum", "maxima"], name="scan", body=scan_body,
                         num_scan_inputs=1, scan_output_directions=[1]),
        helper.make_node("ReduceSum", ["totals"], ["all"], keepdims=0, name="sum_totals"),
        helper.make_node("Greater", ["all", "zero"], ["positive"], name="is_positive"),
        helper.make_node("If", ["positive"], ["picked"], name="pick", then_branch=then_branch,
                         else_branch=else_branch),
    ]
    g = helper.make_graph(nodes, "control",
                          [vi("x", f, [4, 3]), vi("steps", TensorProto.INT64, [])],
                          [vi("acc", f, [4, 3]), vi("totals", f, [None]), vi("sum", f, [3]), vi("maxima", f, [4]),
                           vi("picked", f, ["P"])],
                          [_init("zeros", np.zeros(3, np.float32)), _init("zero", np.float32(0))])
    x = rng.standard_normal((4, 3)).astype(np.float32)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)]), [x, np.array(5, np.int64)]


def sequences(rng) -> tuple[onnx.ModelProto, list[np.ndarray]]:
    """Sequences and optionals inside a graph of tensors: x split into a
    sequence of rows, each mapped by a body (Tanh(row * w), w read from the
    enclosing graph), an element inserted and one erased, the rows
    concatenated and stacked back, one read at a computed position, a Loop
    that grows a sequence each iteration, and an optional that holds a value
    or not, as the data says."""
    f, i64 = TensorProto.FLOAT, TensorProto.INT64

    def vi(name, elem, shape=None):
        return helper.make_tensor_value_info(name, elem, shape)

    def seq_vi(name, elem, shape=None):
        return helper.make_value_info(name, helper.make_sequence_type_proto(helper.make_tensor_type_proto(elem, shape)))

    map_body = helper.make_graph([helper.make_node("Mul", ["row", "w"], ["scaled"]),
                                  helper.make_node("Tanh", ["scaled"], ["mapped"])],
                                 "map_body", [vi("row", f, [1, 3])], [vi("mapped", f, [1, 3])])
    loop_body = helper.make_graph(
        [helper.make_node("Identity", ["cond"], ["cond_out"]),
         helper.make_node("Cast", ["i"], ["i_float"], to=f),
         helper.make_node("Mul", ["w", "i_float"], ["grown"]),
         helper.make_node("SequenceInsert", ["acc", "grown"], ["acc_out"])],
        "loop_body", [vi("i", i64, []), vi("cond", TensorProto.BOOL, []), seq_vi("acc", f)],
        [vi("cond_out", TensorProto.BOOL, []), seq_vi("acc_out", f)])
    nodes = [
        helper.make_node("SplitToSequence", ["x", "one"], ["rows"], axis=0),
        helper.make_node("SequenceMap", ["rows"], ["mapped_rows"], body=map_body),
        helper.make_node("SequenceInsert", ["mapped_rows", "w", "one"], ["inserted"]),
        helper.make_node("SequenceErase", ["inserted", "minus_one"], ["erased"]),
        helper.make_node("ConcatFromSequence", ["erased"], ["stacked"], axis=0),
        helper.make_node("SequenceLength", ["erased"], ["count"]),
        helper.make_node("Sub", ["count", "two"], ["pos"]),
        helper.make_node("SequenceAt", ["erased", "pos"], ["picked"]),
        helper.make_node("SequenceEmpty", [], ["empty"], dtype=f),
        helper.make_node("Loop", ["steps", "", "empty"], ["grown_seq"], body=loop_body),
        helper.make_node("ConcatFromSequence", ["grown_seq"], ["layers"], axis=0, new_axis=1),
        helper.make_node("ReduceSum", ["x"], ["total"], keepdims=0),
        helper.make_node("Greater", ["total", "zero"], ["positive"]),
        helper.make_node("If", ["positive"], ["maybe"],
                         then_branch=helper.make_graph([helper.make_node("Optional", ["w"], ["some"])], "then", [],
                                                       [helper.make_value_info("some", helper.make_optional_type_proto(
                                                           helper.make_tensor_type_proto(f, [1, 3])))]),
                         else_branch=helper.make_graph(
                             [helper.make_node("Optional", [], ["none"], type=helper.make_tensor_type_proto(f, [1, 3]))],
                             "else", [], [helper.make_value_info("none", helper.make_optional_type_proto(
                                 helper.make_tensor_type_proto(f, [1, 3])))])),
        helper.make_node("OptionalHasElement", ["maybe"], ["has"]),
    ]
    w = rng.standard_normal((1, 3)).astype(np.float32)
    g = helper.make_graph(nodes, "sequences", [vi("x", f, [5, 3]), vi("steps", i64, [])],
                          [vi("stacked", f, [None, 3]), vi("count", i64, []), vi("picked", f, [1, 3]),
                           vi("layers", f, [None, 1, 3]), vi("has", TensorProto.BOOL, [])],
                          [_init("w", w), _init("one", np.int64(1)), _init("minus_one", np.int64(-1)),
                           _init("two", np.int64(2)), _init("zero", np.float32(0))])
    x = rng.standard_normal((5, 3)).astype(np.float32)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)]), [x, np.array(4, np.int64)]


def sequence_io() -> onnx.ModelProto:
    """A model whose inputs and outputs are a sequence and an optional, for
    the C API tests of pfw_tensor_sequence_* (no golden outputs: those tests
    check closed forms). ys = [2 * x for x in xs], count = len(xs),
    has = maybe is not None, same = maybe."""
    f = TensorProto.FLOAT
    seq = helper.make_sequence_type_proto(helper.make_tensor_type_proto(f, [None, 3]))
    opt = helper.make_optional_type_proto(helper.make_tensor_type_proto(f, [3]))
    body = helper.make_graph([helper.make_node("Add", ["x", "x"], ["y"])], "double",
                             [helper.make_tensor_value_info("x", f, [None, 3])],
                             [helper.make_tensor_value_info("y", f, [None, 3])])
    nodes = [helper.make_node("SequenceMap", ["xs"], ["ys"], body=body),
             helper.make_node("SequenceLength", ["xs"], ["count"]),
             helper.make_node("OptionalHasElement", ["maybe"], ["has"]),
             helper.make_node("Identity", ["maybe"], ["same"])]
    g = helper.make_graph(nodes, "sequence_io", [helper.make_value_info("xs", seq), helper.make_value_info("maybe", opt)],
                          [helper.make_value_info("ys", seq), helper.make_tensor_value_info("count", TensorProto.INT64, []),
                           helper.make_tensor_value_info("has", TensorProto.BOOL, []), helper.make_value_info("same", opt)])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)])


def strings_model() -> tuple[onnx.ModelProto, list[np.ndarray]]:
    """String inputs and outputs for the bindings (strings.pfw + strings.json,
    values as JSON lists: the .bin files hold raw numbers only). joined =
    text + ":" + Cast(x) to string; ids = LabelEncoder(text); word =
    RegexFullMatch(text, "[a-zé]+"). The texts include multi-byte UTF-8 and
    an empty string; x's values print alike in ONNX Runtime and pyfw."""
    s, f = TensorProto.STRING, TensorProto.FLOAT
    nodes = [helper.make_node("StringConcat", ["text", "colon"], ["labelled"]),
             helper.make_node("Cast", ["x"], ["x_text"], to=s),
             helper.make_node("StringConcat", ["labelled", "x_text"], ["joined"]),
             helper.make_node("LabelEncoder", ["text"], ["ids"], domain="ai.onnx.ml",
                              keys_strings=["apple", "café", ""], values_int64s=[1, 2, 3], default_int64=-1),
             helper.make_node("RegexFullMatch", ["text"], ["word"], pattern="[a-zé]+")]
    g = helper.make_graph(nodes, "strings", [helper.make_tensor_value_info("text", s, ["N"]),
                                             helper.make_tensor_value_info("x", f, ["N"])],
                          [helper.make_tensor_value_info("joined", s, ["N"]),
                           helper.make_tensor_value_info("ids", TensorProto.INT64, ["N"]),
                           helper.make_tensor_value_info("word", TensorProto.BOOL, ["N"])],
                          [numpy_helper.from_array(np.array(":", object), "colon")])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 20), helper.make_opsetid("ai.onnx.ml", 2)])
    model.ir_version = 10
    text = np.array(["apple", "café", "", "Hello World", "naïve-ß"], object)
    return model, [text, np.array([1.5, -2, 0.25, 100, 0.001], np.float32)]


def write_strings_golden(out: Path, ort) -> None:
    from pyfw import format as pfw_format
    from pyfw.ir import infer_shapes
    from pyfw.onnx import import_model

    model, inputs = strings_model()
    onnx.checker.check_model(model, full_check=True)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    outputs = sess.run(None, dict(zip(names, inputs)))
    graph = import_model(model)
    infer_shapes(graph)
    pfw_format.save(graph, out / "strings.pfw")

    def entry(name, a):
        return {"name": name, "dtype": "string" if a.dtype == object else str(a.dtype), "shape": list(a.shape),
                "values": a.tolist()}

    doc = {"inputs": [entry(n, a) for n, a in zip(names, inputs)],
           "outputs": [entry(o.name, a) for o, a in zip(sess.get_outputs(), outputs)]}
    (out / "strings.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def philox_uniform(key0: int, key1: int, shape, dtype) -> np.ndarray:
    """NumPy's Philox uniforms for key (key0, key1): libpfw's random ops draw
    this stream word for word."""
    return np.random.Generator(np.random.Philox(key=np.array([key0, key1], np.uint64))).random(shape, dtype=dtype)


def random_draws(rng) -> tuple[onnx.ModelProto, list[np.ndarray], list[np.ndarray]]:
    """Random ops at the interpreter's default seed 0: an unseeded
    RandomUniform (node 0: key (0, 2^63 | 1)), a seeded one over [-1, 1), and x
    plus an unseeded RandomUniformLike (node 2). The expected outputs come from
    NumPy's Philox, not ONNX Runtime, whose generator is another."""
    nodes = [helper.make_node("RandomUniform", [], ["u"], shape=[2, 3], name="draw"),
             helper.make_node("RandomUniform", [], ["v"], shape=[5], dtype=TensorProto.DOUBLE, seed=5.0, low=-1.0,
                              high=1.0, name="seeded"),
             helper.make_node("RandomUniformLike", ["x"], ["noise"], name="noise"),
             helper.make_node("Add", ["x", "noise"], ["y"], name="add")]
    f = TensorProto.FLOAT
    g = helper.make_graph(nodes, "random_draws", [helper.make_tensor_value_info("x", f, [2, 2])],
                          [helper.make_tensor_value_info("u", f, [2, 3]),
                           helper.make_tensor_value_info("v", TensorProto.DOUBLE, [5]),
                           helper.make_tensor_value_info("y", f, [2, 2])])
    x = rng.standard_normal((2, 2)).astype(np.float32)
    unseeded = 1 << 63
    outputs = [philox_uniform(0, unseeded | 1, (2, 3), np.float32),
               -1.0 + 2.0 * philox_uniform(5, 0, 5, np.float64),
               x + philox_uniform(0, unseeded | 3, (2, 2), np.float32)]
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)]), [x], outputs


MODELS = {"mlp": mlp, "cnn": cnn, "dtypes": dtypes, "attention": attention, "mixed": mixed, "qcnn": qcnn,
          "control": control, "sequences": sequences, "random_draws": random_draws}


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
        model, inputs, *oracle = build(np.random.default_rng(len(name)))
        onnx.checker.check_model(model, full_check=True)
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        feeds = {i.name: x for i, x in zip(sess.get_inputs(), inputs)}
        outputs = oracle[0] if oracle else sess.run(None, feeds)
        (out / f"{name}.onnx").write_bytes(model.SerializeToString())
        graph = import_model(model)
        infer_shapes(graph)
        pfw_format.save(graph, out / f"{name}.pfw")
        entry = {"name": name, "inputs": [], "outputs": []}
        for kind, arrays in (("input", inputs), ("output", outputs)):
            for i, a in enumerate(arrays):
                a = np.asarray(a, order="C")  # not ascontiguousarray: it makes a scalar 1-D
                (out / f"{name}.{kind}{i}.bin").write_bytes(a.astype(a.dtype.newbyteorder("<")).tobytes())
                entry[kind + "s"].append({"file": f"{name}.{kind}{i}.bin", "dtype": str(a.dtype),
                                          "shape": list(a.shape)})
        manifest["models"].append(entry)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    model = sequence_io()
    onnx.checker.check_model(model, full_check=True)
    graph = import_model(model)
    infer_shapes(graph)
    pfw_format.save(graph, out / "sequence_io.pfw")
    write_strings_golden(out, ort)
    return 0


if __name__ == "__main__":
    sys.exit(main())
