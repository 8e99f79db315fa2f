"""infer_shapes checked against ONNX's own shape inference on the same models
(and against ONNX Runtime's actual output shapes where the two disagree)."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import pyfw
from pyfw.ir import Graph, infer_shapes
from pyfw.onnx import import_model


def single(op, ins, attrs=None, opset=17, outputs=1):
    """A one-node model. `ins` is a list of (name, shape) for float graph inputs
    (shape entries may be symbolic strings) or (name, ndarray) for initializers."""
    inputs, inits = [], []
    for name, v, *elem in ins:
        if isinstance(v, np.ndarray):
            inits.append(numpy_helper.from_array(v, name))
        else:
            inputs.append(helper.make_tensor_value_info(name, elem[0] if elem else TensorProto.FLOAT, v))
    outs = [f"y{i}" for i in range(outputs)]
    node = helper.make_node(op, [n for n, *_ in ins], outs, **(attrs or {}))
    # Outputs carry no type, so neither side can copy an answer from the model.
    graph = helper.make_graph([node], "g", inputs,
                              [helper.make_empty_tensor_value_info(o) for o in outs], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def ours(model):
    g = infer_shapes(import_model(model))
    return [(g.tensors[o].dtype, g.tensors[o].shape) for o in g.outputs]


def oracle(model):
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    result = []
    for o in inferred.graph.output:
        tt = o.type.tensor_type
        dtype = pyfw.dtypes.from_code(tt.elem_type)
        shape = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in tt.shape.dim) \
            if tt.HasField("shape") else None
        result.append((dtype, shape))
    return result


f32 = np.float32
W = lambda *s: np.ones(s, f32)  # noqa: E731  (an initializer of that shape)
I64 = lambda *v: np.array(v, np.int64)  # noqa: E731

CASES = {
    # elementwise and broadcasting
    "add_same": ("Add", [("a", [2, 3]), ("b", [2, 3])], {}),
    "add_bcast_vec": ("Add", [("a", [2, 3]), ("b", [3])], {}),
    "sub_bcast_both": ("Sub", [("a", [4, 1, 5]), ("b", [3, 1])], {}),
    "mul_scalar": ("Mul", [("a", []), ("b", [2, 2])], {}),
    "div_dyn": ("Div", [("a", ["N", 3]), ("b", [1, 3])], {}),
    "add_dyn_vs_k": ("Add", [("a", ["N", 3]), ("b", [5, 1])], {}),
    "add_init": ("Add", [("a", [2, 3]), ("b", W(3))], {}),
    "relu": ("Relu", [("x", [2, "T", 4])], {}),
    "sigmoid": ("Sigmoid", [("x", [7])], {}),
    "tanh": ("Tanh", [("x", [1, 2, 3, 4])], {}),
    "identity": ("Identity", [("x", [3, 3])], {}),
    "softmax11": ("Softmax", [("x", [2, 3, 4])], {}, 11),
    "softmax13_axis": ("Softmax", [("x", [2, 3, 4])], {"axis": 1}, 13),
    # MatMul, numpy rules
    "matmul_2d": ("MatMul", [("a", [2, 3]), ("b", [3, 4])], {}),
    "matmul_1d_left": ("MatMul", [("a", [3]), ("b", [3, 4])], {}),
    "matmul_1d_right": ("MatMul", [("a", [2, 3]), ("b", [3])], {}),
    "matmul_1d_both": ("MatMul", [("a", [3]), ("b", [3])], {}),
    "matmul_batch_bcast": ("MatMul", [("a", [5, 1, 2, 3]), ("b", [4, 3, 6])], {}),
    "matmul_1d_batch": ("MatMul", [("a", [3]), ("b", [2, 3, 4])], {}),
    "matmul_dyn": ("MatMul", [("a", ["N", 2, 3]), ("b", W(3, 4))], {}),
    # Gemm
    "gemm": ("Gemm", [("a", [2, 3]), ("b", W(3, 4)), ("c", W(4))], {}),
    "gemm_transA": ("Gemm", [("a", [3, 2]), ("b", W(3, 4))], {"transA": 1}),
    "gemm_transB": ("Gemm", [("a", ["N", 3]), ("b", W(4, 3)), ("c", W(1, 4))], {"transB": 1}),
    "gemm_transAB": ("Gemm", [("a", [3, 2]), ("b", W(4, 3)), ("c", W(2, 1))],
                     {"transA": 1, "transB": 1, "alpha": 0.5, "beta": 2.0}),
    "gemm_c_scalar": ("Gemm", [("a", [2, 3]), ("b", W(3, 4)), ("c", W())], {}),
    # Reshape / Flatten / Transpose / Concat
    "reshape_minus1": ("Reshape", [("x", [2, 3, 4]), ("s", I64(-1))], {}),
    "reshape_zero_copy": ("Reshape", [("x", [2, 3, 4]), ("s", I64(0, -1))], {}),
    "reshape_mixed": ("Reshape", [("x", [2, 3, 4]), ("s", I64(4, 0, 2))], {}),
    "reshape_dyn_batch": ("Reshape", [("x", ["N", 3, 4]), ("s", I64(0, -1))], {}),
    "reshape_dyn_minus1": ("Reshape", [("x", ["N", 3, 4]), ("s", I64(-1, 12))], {}),
    "reshape_allowzero": ("Reshape", [("x", [0, 3]), ("s", I64(3, 0))], {"allowzero": 1}, 14),
    "reshape_runtime_shape": ("Reshape", [("x", [2, 3]), ("s", [3], TensorProto.INT64)], {}),
    "flatten_default": ("Flatten", [("x", [2, 3, 4, 5])], {}),
    "flatten_0": ("Flatten", [("x", [2, 3, 4])], {"axis": 0}),
    "flatten_end": ("Flatten", [("x", [2, 3, 4])], {"axis": 3}),
    "flatten_neg": ("Flatten", [("x", [2, 3, 4, 5])], {"axis": -1}),
    "flatten_dyn": ("Flatten", [("x", ["N", 3, 4])], {"axis": 1}),
    "transpose_default": ("Transpose", [("x", [2, 3, 4])], {}),
    "transpose_perm": ("Transpose", [("x", [2, "T", 4, 5])], {"perm": [0, 2, 3, 1]}),
    "concat_1": ("Concat", [("a", [2, 3]), ("b", [2, 5])], {"axis": 1}),
    "concat_neg": ("Concat", [("a", [2, 3, 1]), ("b", [2, 3, 4]), ("c", W(2, 3, 2))], {"axis": -1}),
    "concat_dyn_axis": ("Concat", [("a", ["N", 3]), ("b", [2, 3])], {"axis": 0}),
    "concat_dyn_other": ("Concat", [("a", ["N", 3]), ("b", [2, 4])], {"axis": 1}),
    # Conv
    "conv": ("Conv", [("x", [1, 3, 8, 8]), ("w", W(4, 3, 3, 3)), ("b", W(4))], {}),
    "conv_pads_strides": ("Conv", [("x", [2, 3, 9, 7]), ("w", W(4, 3, 3, 2))],
                          {"pads": [1, 0, 2, 1], "strides": [2, 3]}),
    "conv_dilation": ("Conv", [("x", [1, 2, 10, 10]), ("w", W(2, 2, 3, 3))], {"dilations": [2, 3]}),
    "conv_group": ("Conv", [("x", [1, 4, 6, 6]), ("w", W(8, 2, 3, 3))], {"group": 2}),
    "conv_depthwise": ("Conv", [("x", [1, 4, 6, 6]), ("w", W(4, 1, 3, 3))], {"group": 4, "kernel_shape": [3, 3]}),
    "conv_same_upper": ("Conv", [("x", [1, 1, 7, 6]), ("w", W(1, 1, 3, 3))], {"auto_pad": "SAME_UPPER", "strides": [2, 2]}),
    "conv_same_lower": ("Conv", [("x", [1, 1, 7, 6]), ("w", W(1, 1, 4, 4))], {"auto_pad": "SAME_LOWER"}),
    "conv_valid": ("Conv", [("x", [1, 1, 7, 6]), ("w", W(1, 1, 3, 2))], {"auto_pad": "VALID", "strides": [2, 2]}),
    "conv_1d": ("Conv", [("x", [1, 2, 10]), ("w", W(3, 2, 3))], {"strides": [2]}),
    "conv_3d": ("Conv", [("x", [1, 1, 5, 6, 7]), ("w", W(2, 1, 2, 3, 3))], {"pads": [1, 1, 1, 0, 0, 0]}),
    "conv_dyn": ("Conv", [("x", ["N", 3, "H", 8]), ("w", W(4, 3, 3, 3))], {"pads": [1, 1, 1, 1]}),
    # ConvTranspose
    "convt": ("ConvTranspose", [("x", [1, 3, 5, 6]), ("w", W(3, 2, 3, 3)), ("b", W(2))], {}),
    "convt_strides_pads_adj": ("ConvTranspose", [("x", [2, 4, 5, 6]), ("w", W(4, 3, 3, 2))],
                               {"strides": [3, 2], "pads": [1, 0, 2, 1], "output_padding": [2, 1]}),
    "convt_group_dilation": ("ConvTranspose", [("x", [1, 4, 5, 5]), ("w", W(4, 2, 3, 3))],
                             {"group": 2, "dilations": [2, 1]}),
    "convt_output_shape": ("ConvTranspose", [("x", [1, 3, 5, 6]), ("w", W(3, 2, 3, 3))],
                           {"strides": [2, 2], "output_shape": [11, 12]}),
    "convt_same_upper": ("ConvTranspose", [("x", [1, 3, 5, 6]), ("w", W(3, 2, 3, 3))],
                         {"auto_pad": "SAME_UPPER", "strides": [2, 2]}),
    "convt_1d_dyn": ("ConvTranspose", [("x", ["N", 3, "L"]), ("w", W(3, 2, 4))], {"strides": [2]}),
    # pools
    "maxpool": ("MaxPool", [("x", [1, 3, 8, 8])], {"kernel_shape": [2, 2], "strides": [2, 2]}),
    "maxpool_pads": ("MaxPool", [("x", [1, 3, 7, 7])], {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "strides": [2, 2]}),
    "maxpool_ceil": ("MaxPool", [("x", [1, 1, 7, 7])], {"kernel_shape": [2, 2], "strides": [2, 2], "ceil_mode": 1}),
    "maxpool_dilation": ("MaxPool", [("x", [1, 1, 9, 9])], {"kernel_shape": [3, 3], "dilations": [2, 2]}),
    "maxpool_same": ("MaxPool", [("x", [1, 1, 7, 7])], {"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": "SAME_UPPER"}),
    "maxpool_valid": ("MaxPool", [("x", [1, 1, 7, 7])], {"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": "VALID"}),
    "maxpool_indices": ("MaxPool", [("x", [1, 2, 6, 6])], {"kernel_shape": [2, 2]}, 17, 2),
    "maxpool_1d": ("MaxPool", [("x", [1, 2, 9])], {"kernel_shape": [3], "strides": [2]}),
    "maxpool_dyn": ("MaxPool", [("x", ["N", 3, "H", 8])], {"kernel_shape": [2, 2], "strides": [2, 2]}),
    "avgpool": ("AveragePool", [("x", [1, 3, 8, 8])], {"kernel_shape": [3, 3]}),
    "avgpool_pads": ("AveragePool", [("x", [1, 3, 8, 8])],
                     {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "count_include_pad": 1}),
    "avgpool_ceil": ("AveragePool", [("x", [1, 1, 8, 8])],
                     {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}),
    "avgpool_same_lower": ("AveragePool", [("x", [1, 1, 8, 5])],
                           {"kernel_shape": [2, 2], "strides": [3, 3], "auto_pad": "SAME_LOWER"}),
    "maxpool_empty": ("MaxPool", [("x", [1, 1, 2, 2])], {"kernel_shape": [3, 3]}),
    "gap": ("GlobalAveragePool", [("x", [2, 3, 5, 5])], {}),
    "gap_1d": ("GlobalAveragePool", [("x", ["N", 3, 5])], {}),
    # BatchNormalization across versions
    "bn9": ("BatchNormalization", [("x", [2, 3, 4, 4])] + [(n, W(3)) for n in "smbv"], {"epsilon": 1e-3}, 9),
    "bn15": ("BatchNormalization", [("x", ["N", 3, 5])] + [(n, W(3)) for n in "smbv"], {"momentum": 0.8}, 15),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_matches_onnx_shape_inference(case):
    op, ins, attrs, *rest = CASES[case]
    model = single(op, ins, attrs, *rest)
    assert ours(model) == oracle(model)


# ONNX's shape inference and ONNX Runtime disagree on ceil_mode windows that
# would start in the right padding; we follow ONNX Runtime (and PyTorch), the
# runtime's reference, and check against its actual outputs.
@pytest.mark.parametrize("size,kernel,stride,pad", [(4, 2, 3, 1), (5, 3, 3, 1), (8, 3, 4, 2), (6, 3, 2, 1), (5, 2, 2, 0)])
@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
def test_ceil_mode_matches_onnxruntime(op, size, kernel, stride, pad):
    ort = pytest.importorskip("onnxruntime")
    model = single(op, [("x", [1, 1, size])],
                   {"kernel_shape": [kernel], "strides": [stride], "pads": [pad, pad], "ceil_mode": 1}, 19)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (y,) = sess.run(None, {"x": np.zeros((1, 1, size), f32)})
    assert ours(model) == [("float32", y.shape)]


def test_dropout_and_constant_chain_matches_onnx():
    nodes = [
        helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(np.ones((1, 4), f32))),
        helper.make_node("Dropout", ["x", "ratio"], ["d"]),
        helper.make_node("Add", ["d", "c"], ["y"]),
        helper.make_node("Constant", [], ["shape"], value_ints=[2, -1]),
        helper.make_node("Reshape", ["y", "shape"], ["z"]),
    ]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 4])],
                              [helper.make_empty_tensor_value_info("y"), helper.make_empty_tensor_value_info("z")],
                              [numpy_helper.from_array(np.array(0.5, f32), "ratio")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    assert ours(model) == oracle(model) == [("float32", (3, 4)), ("float32", (2, 6))]


def test_cnn_chain_matches_onnx():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 28, 28])
    inits = [numpy_helper.from_array(W(8, 1, 5, 5), "w1"), numpy_helper.from_array(W(10, 8 * 7 * 7), "fc")]
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[2, 2, 2, 2]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[4, 4], strides=[4, 4]),
        helper.make_node("Flatten", ["p1"], ["f"]),
        helper.make_node("Gemm", ["f", "fc"], ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "cnn", [x], [helper.make_empty_tensor_value_info("y")], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    got = infer_shapes(import_model(model))
    want = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    for vi in list(want.graph.value_info) + list(want.graph.output):
        dims = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in vi.type.tensor_type.shape.dim)
        assert got.tensors[vi.name].shape == dims, vi.name


def test_declared_dims_fill_what_inference_leaves_dynamic():
    # Reshape by a runtime shape leaves every dim unknown; a declared output
    # shape fills them, as ONNX Runtime's lenient merge does.
    graph = helper.make_graph([helper.make_node("Reshape", ["x", "s"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3]),
                               helper.make_tensor_value_info("s", TensorProto.INT64, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, "M"])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    assert ours(model) == [("float32", (3, -1))]


# ---- errors -----------------------------------------------------------------
def _error(op, ins, attrs=None, opset=17):
    with pytest.raises(pyfw.InvalidModelError) as e:
        ours(single(op, ins, attrs, opset))
    msg = str(e.value)
    # Every error names the node; ONNX Runtime must reject the model too.
    assert f"'{op}_0'" in msg
    ort = pytest.importorskip("onnxruntime")
    model = single(op, ins, attrs, opset)
    feeds = {n: np.zeros(s, f32) for n, s, *_ in ins if not isinstance(s, np.ndarray)}
    with pytest.raises(Exception):
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        sess.run(None, feeds)
    return msg


def test_broadcast_mismatch_names_inputs_and_shapes():
    msg = _error("Add", [("a", [2, 3]), ("b", [4])])
    assert "'a' (2, 3)" in msg and "'b' (4,)" in msg and "3 vs 4" in msg


def test_matmul_inner_mismatch():
    msg = _error("MatMul", [("a", [2, 3]), ("b", [4, 5])])
    assert "'a' (2, 3)" in msg and "'b' (4, 5)" in msg


def test_gemm_inner_mismatch_with_trans():
    msg = _error("Gemm", [("a", [2, 3]), ("b", W(4, 3))], {})
    assert "transB=0" in msg


def test_conv_channel_mismatch():
    msg = _error("Conv", [("x", [1, 3, 8, 8]), ("w", W(4, 2, 3, 3))])
    assert "3 channels" in msg


def test_concat_mismatch():
    msg = _error("Concat", [("a", [2, 3]), ("b", [4, 3])], {"axis": 1})
    assert "dimension 0" in msg


def test_reshape_size_mismatch():
    msg = _error("Reshape", [("x", [2, 3]), ("s", I64(4, 2))])
    assert "6 elements" in msg


def test_pool_too_small():
    assert "too small" in _error("MaxPool", [("x", [1, 1, 1, 1])], {"kernel_shape": [3, 3]})


def test_reshape_shape_must_be_int64():
    assert "must be int64" in _error("Reshape", [("x", [2, 3]), ("s", np.array([6], np.int32))])


def test_bad_axis_and_perm():
    assert "axis 3" in _error("Softmax", [("x", [2, 3])], {"axis": 3})
    assert "perm" in _error("Transpose", [("x", [2, 3])], {"perm": [0, 0]})


def test_dtype_mismatch_is_an_error():
    g = Graph()
    g.add_input("a", "float32", (2,))
    g.add_input("b", "int64", (2,))
    g.add_node("Add", ["a", "b"], ["c"], name="add")
    g.outputs = ["c"]
    with pytest.raises(pyfw.InvalidModelError, match="'a' is float32 but input 'b' is int64"):
        infer_shapes(g)


def test_unknown_rank_propagates():
    g = Graph()
    g.add_input("a", "float32", None)
    g.add_input("b", "float32", (3,))
    g.add_node("Add", ["a", "b"], ["c"], name="add")
    g.add_node("Relu", ["c"], ["d"], name="relu")
    infer_shapes(g)
    assert g.tensors["d"].shape is None and g.tensors["d"].dtype == "float32"
