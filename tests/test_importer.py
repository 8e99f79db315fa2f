"""pyfw.onnx.import_model, checked against the ONNX model's own contents."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import pyfw
import pyfw.format
from pyfw.onnx import RULES, import_model
from pyfw.runtime import Interpreter

f32 = np.float32
rng = np.random.default_rng(0)


def model_of(nodes, inputs, outputs, inits=(), opset=13, **kw):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], **kw)


def vi(name, shape, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)


def onnx_attrs(node):
    """The node's attributes as ONNX's helper reads them, strings decoded."""
    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode()
        elif isinstance(v, TensorProto):
            v = numpy_helper.to_array(v)
        elif isinstance(v, list) and v and isinstance(v[0], bytes):
            v = [s.decode() for s in v]
        out[a.name] = v
    return out


def cnn_model():
    w = rng.standard_normal((4, 3, 3, 3)).astype(f32)
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv1", pads=[1, 1, 1, 1],
                         strides=[2, 2], group=1, auto_pad="NOTSET"),
        helper.make_node("BatchNormalization", ["c", "s", "bb", "m", "v"], ["n"], name="bn", epsilon=1e-3),
        helper.make_node("Relu", ["n"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "fc", "fb"], ["y"], alpha=0.5, beta=2.0, transB=1),
    ]
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(rng.standard_normal(4).astype(f32), "b")]
    inits += [numpy_helper.from_array(rng.random(4).astype(f32) + 0.5, n) for n in ("s", "bb", "m", "v")]
    inits += [numpy_helper.from_array(rng.standard_normal((10, 16)).astype(f32), "fc"),
              numpy_helper.from_array(rng.standard_normal(10).astype(f32), "fb")]
    return model_of(nodes, [vi("x", ["N", 3, 8, 8])], [vi("y", ["N", 10])], inits,
                    producer_name="unit-test", producer_version="1.2")


def test_graph_matches_the_onnx_model():
    m = cnn_model()
    g = import_model(m)
    g.validate()
    assert g.opset == 13
    assert g.inputs == ["x"] and g.outputs == ["y"]
    assert g.tensors["x"].shape == (-1, 3, 8, 8) and g.tensors["x"].dtype == "float32"
    assert g.tensors["y"].shape == (-1, 10)
    assert "unit-test 1.2" in g.metadata["producer"] and pyfw.__version__ in g.metadata["producer"]
    # initializers: same names, values and dtypes
    assert {t.name for t in g.initializers()} == {t.name for t in m.graph.initializer}
    for tp in m.graph.initializer:
        np.testing.assert_array_equal(g.tensors[tp.name].data, numpy_helper.to_array(tp))
    # nodes: same order, op, wiring, attributes and versions
    assert len(g.nodes) == len(m.graph.node)
    for ours, theirs in zip(g.nodes, m.graph.node):
        assert ours.op_type == theirs.op_type
        assert ours.inputs == list(theirs.input) and ours.outputs == list(theirs.output)
        assert ours.attrs == onnx_attrs(theirs)
        assert ours.version == onnx.defs.get_schema(theirs.op_type, 13).since_version
        if theirs.name:
            assert ours.name == theirs.name
    assert isinstance(g.nodes[0].attrs["auto_pad"], str)
    assert isinstance(g.nodes[5].attrs["alpha"], float) and isinstance(g.nodes[5].attrs["transB"], int)


@pytest.mark.parametrize("opset", [7, 9, 11, 13, 17, 21])
def test_versions_follow_the_opset(opset):
    for op in sorted(RULES):
        if op in ("Constant", "Dropout", "Upsample"):  # rewritten into other ops
            continue
        try:
            want = onnx.defs.get_schema(op, opset).since_version
        except onnx.defs.SchemaError:
            continue  # the op is newer than this opset (Gelu, Mish, ...)
        node = import_model(model_of([helper.make_node(op, ["x"], ["y"])], [vi("x", [1])],
                                     [vi("y", [1])], opset=opset)).nodes[0]
        assert node.version == want, op


def test_every_attribute_type_becomes_a_plain_value():
    t = numpy_helper.from_array(np.arange(6, dtype=np.int32).reshape(2, 3), "t")
    node = helper.make_node("Identity", ["x"], ["y"], i=3, f=0.25, s="héllo", ints=[1, -2],
                            floats=[0.5, 1.5], strings=["a", "bé"], t=t)
    g = import_model(model_of([node], [vi("x", [1])], [vi("y", [1])]))
    a = g.nodes[0].attrs
    assert a.keys() == onnx_attrs(node).keys()
    assert a["i"] == 3 and type(a["i"]) is int
    assert a["f"] == 0.25 and type(a["f"]) is float
    assert a["s"] == "héllo"
    assert a["ints"] == [1, -2] and all(type(v) is int for v in a["ints"])
    assert a["floats"] == [0.5, 1.5] and all(type(v) is float for v in a["floats"])
    assert a["strings"] == ["a", "bé"]
    assert isinstance(a["t"], np.ndarray) and a["t"].dtype == np.int32
    np.testing.assert_array_equal(a["t"], numpy_helper.to_array(t))


def test_initializer_encodings():
    raw = numpy_helper.from_array(rng.standard_normal((2, 3)).astype(f32), "raw")
    assert raw.HasField("raw_data")
    typed = helper.make_tensor("typed", TensorProto.FLOAT, [3], [1.0, 2.5, -3.0], raw=False)
    ints = helper.make_tensor("ints", TensorProto.INT64, [2], [7, -9])
    half = numpy_helper.from_array(np.array([1.5, -2.0], np.float16), "half")
    bf = helper.make_tensor("bf", TensorProto.BFLOAT16, [2], [1.0, 2.0])
    inits = [raw, typed, ints, half, bf]
    g = import_model(model_of([helper.make_node("Identity", ["x"], ["y"])], [vi("x", [1])], [vi("y", [1])], inits))
    for tp in inits[:4]:
        want = numpy_helper.to_array(tp)
        got = g.tensors[tp.name]
        assert got.dtype == pyfw.dtypes.from_numpy(want.dtype) and got.shape == want.shape
        np.testing.assert_array_equal(got.data, want)
    assert g.tensors["bf"].dtype == "bfloat16"
    np.testing.assert_array_equal(g.tensors["bf"].data, numpy_helper.to_array(bf).view(np.uint16))


def test_external_data(tmp_path):
    w = rng.standard_normal((64, 32)).astype(f32)
    m = model_of([helper.make_node("MatMul", ["x", "w"], ["y"])], [vi("x", [1, 64])], [vi("y", [1, 32])],
                 [numpy_helper.from_array(w, "w")])
    path = tmp_path / "m.onnx"
    onnx.save(m, path, save_as_external_data=True, location="weights.bin", size_threshold=0)
    assert (tmp_path / "weights.bin").exists()
    np.testing.assert_array_equal(import_model(path).tensors["w"].data, w)
    np.testing.assert_array_equal(import_model(str(path)).tensors["w"].data, w)
    # A proto loaded without its data reads it from base_dir.
    bare = onnx.load(path, load_external_data=False)
    np.testing.assert_array_equal(import_model(bare, base_dir=str(tmp_path)).tensors["w"].data, w)
    with pytest.raises(pyfw.InvalidModelError, match="'w'.*weights.bin"):
        import_model(bare, base_dir=str(tmp_path / "elsewhere"))


def test_constant_is_folded():
    tensor = numpy_helper.from_array(rng.standard_normal((2, 2)).astype(f32), "v")
    nodes = [
        helper.make_node("Constant", [], ["c1"], value=tensor),
        helper.make_node("Constant", [], ["c2"], value_float=2.5),
        helper.make_node("Constant", [], ["c3"], value_ints=[1, 4]),
        helper.make_node("Add", ["x", "c1"], ["a"]),
        helper.make_node("Mul", ["a", "c2"], ["b"]),
        helper.make_node("Reshape", ["b", "c3"], ["y"]),
    ]
    g = import_model(model_of(nodes, [vi("x", [2, 2])], [vi("y", [1, 4])]))
    assert [n.op_type for n in g.nodes] == ["Add", "Mul", "Reshape"]
    np.testing.assert_array_equal(g.tensors["c1"].data, numpy_helper.to_array(tensor))
    assert g.tensors["c2"].data.dtype == np.float32 and float(g.tensors["c2"].data) == 2.5
    assert g.tensors["c3"].data.dtype == np.int64 and g.tensors["c3"].data.tolist() == [1, 4]
    g.validate()


def test_unnamed_nodes_get_unique_names():
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Relu", ["a"], ["b"], name="Relu_0"),
             helper.make_node("Sigmoid", ["b"], ["y"])]
    g = import_model(model_of(nodes, [vi("x", [2])], [vi("y", [2])]))
    names = [n.name for n in g.nodes]
    assert len(set(names)) == 3 and names[1] == "Relu_0" and names[2] == "Sigmoid_2"
    assert names[0].startswith("Relu_0") and names[0] != "Relu_0"


def test_initializers_listed_as_inputs_stay_constants():
    w = numpy_helper.from_array(np.ones((3, 2), f32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "old",
                              [vi("x", [1, 3]), vi("w", [3, 2])], [vi("y", [1, 2])], [w])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 8)], ir_version=3)
    g = import_model(m)
    assert g.inputs == ["x"] and g.tensors["w"].is_constant


def test_dynamic_and_missing_dims():
    x = vi("x", ["batch", None, 4])  # a symbolic dim and a dim that states nothing
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, None)  # no shape at all
    nodes = [helper.make_node("Relu", ["x"], ["h"]), helper.make_node("Relu", ["h"], ["z"])]
    m = model_of(nodes, [x], [z])
    m.graph.value_info.append(vi("h", [-1, 7, 4]))
    g = import_model(m)
    assert g.tensors["x"].shape == (-1, -1, 4)
    assert g.tensors["h"].shape == (-1, 7, 4)
    assert g.tensors["z"].shape is None


def test_softmax_default_axis_is_made_explicit():
    for opset, axis, version in ((11, 1, 11), (13, -1, 13)):
        g = import_model(model_of([helper.make_node("Softmax", ["x"], ["y"])], [vi("x", [2, 3])],
                                  [vi("y", [2, 3])], opset=opset))
        assert g.nodes[0].attrs == {"axis": axis} and g.nodes[0].version == version


def test_dropout_becomes_identity():
    nodes = [helper.make_node("Dropout", ["x", "r", "t"], ["y", "mask"])]
    inits = [numpy_helper.from_array(np.array(0.3, f32), "r"), numpy_helper.from_array(np.array(False), "t")]
    g = import_model(model_of(nodes, [vi("x", [2])], [vi("y", [2])], inits))
    (n,) = g.nodes
    assert n.op_type == "Identity" and n.inputs == ["x"] and n.outputs == ["y"]
    assert n.version == onnx.defs.get_schema("Identity", 13).since_version
    g.validate()


def test_dropout_in_training_draws_a_mask():
    """Its values are checked in test_onnx_random.py; here, the form it takes."""
    nodes = [helper.make_node("Dropout", ["x", "r", "t"], ["y"], name="drop")]
    inits = [numpy_helper.from_array(np.array(0.3, f32), "r"), numpy_helper.from_array(np.array(True), "t")]
    ops = [n.op_type for n in import_model(model_of(nodes, [vi("x", [2])], [vi("y", [2])], inits)).nodes]
    assert ops[0] == "RandomUniformLike" and ops[-1] == "Where" and "Dropout" not in ops
    # ratio 0 drops nothing even in training: the identity
    zero = [numpy_helper.from_array(np.array(0.0, f32), "r"), numpy_helper.from_array(np.array(True), "t")]
    assert [n.op_type for n in import_model(model_of(nodes, [vi("x", [2])], [vi("y", [2])], zero)).nodes] == ["Identity"]


def test_dropout_mask_at_inference_is_all_true():
    nodes = [helper.make_node("Dropout", ["x"], ["y", "mask"], name="drop")]
    g = import_model(model_of(nodes, [vi("x", [2, 3])], [vi("y", [2, 3]), vi("mask", [2, 3], TensorProto.BOOL)]))
    pyfw.ir.infer_shapes(g)
    x = np.arange(6, dtype=f32).reshape(2, 3) - 2
    with Interpreter(pyfw.format.to_bytes(g)) as it:
        y, mask = it.run({"x": x})
    np.testing.assert_array_equal(y, x)
    assert mask.dtype == np.bool_ and mask.shape == (2, 3) and mask.all()


def test_batchnorm_spatial_zero_is_unsupported():
    ins = ["x", "s", "b", "m", "v"]
    inits = [numpy_helper.from_array(np.ones(3, f32), n) for n in ins[1:]]
    ok = import_model(model_of([helper.make_node("BatchNormalization", ins, ["y"], spatial=1)],
                               [vi("x", [1, 3, 2, 2])], [vi("y", [1, 3, 2, 2])], inits, opset=7))
    assert ok.nodes[0].attrs == {} and ok.nodes[0].version == 7
    with pytest.raises(pyfw.UnsupportedError, match="spatial=0"):
        import_model(model_of([helper.make_node("BatchNormalization", ins, ["y"], spatial=0)],
                              [vi("x", [1, 3, 2, 2])], [vi("y", [1, 3, 2, 2])], inits, opset=7))


# ---- errors -----------------------------------------------------------------
def test_unsupported_op_names_node_op_domain_and_opset():
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("STFT", ["a"], ["y"], name="foo")]
    with pytest.raises(pyfw.UnsupportedError) as e:
        import_model(model_of(nodes, [vi("x", [2])], [vi("y", [2])]))
    assert str(e.value) == "node 'foo' (op STFT, domain '', opset 13) is not supported yet"


def test_unsupported_unnamed_node_and_other_ops_listed():
    # Ops of later opsets (27, 28) than the model's 13: every op of opsets 7-21 is supported.
    nodes = [helper.make_node("LinearAttention", ["x"], ["a"]), helper.make_node("SwiGLU", ["a"], ["y"])]
    with pytest.raises(pyfw.UnsupportedError) as e:
        import_model(model_of(nodes, [vi("x", [2])], [vi("y", [2])]))
    msg = str(e.value)
    assert msg.startswith("node #0 ('LinearAttention_0', unnamed in the model) "
                          "(op LinearAttention, domain '', opset 13)")
    assert "also unsupported: SwiGLU" in msg


def test_custom_domain_is_named():
    node = helper.make_node("FusedThing", ["x"], ["y"], name="f1", domain="com.example")
    graph = helper.make_graph([node], "g", [vi("x", [2])], [vi("y", [2])])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.example", 2)])
    with pytest.raises(pyfw.UnsupportedError) as e:
        import_model(m)
    assert str(e.value) == ("node 'f1' (op FusedThing, domain 'com.example', opset 2) uses custom domain "
                            "'com.example', which pyfw does not support")


def test_model_of_another_domain_only_names_the_op():
    """An ai.onnx.ml-only model (no default-domain opset) is refused for its
    op, not for the missing default opset; with default-domain nodes and no
    such opset, the model itself is invalid."""
    node = helper.make_node("DictVectorizer", ["x"], ["y"], name="b", domain="ai.onnx.ml")
    graph = helper.make_graph([node], "g", [vi("x", [2])], [vi("y", [2])])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("ai.onnx.ml", 1)])
    with pytest.raises(pyfw.UnsupportedError, match=r"node 'b' \(op DictVectorizer, domain 'ai.onnx.ml', opset 1\) is "
                                                     "not supported yet"):
        import_model(m)
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [vi("x", [2])], [vi("y", [2])])
    with pytest.raises(pyfw.InvalidModelError, match="no opset_import for the default ONNX domain"):
        import_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("ai.onnx.ml", 1)]))


def test_unsupported_dtype_names_the_tensor():
    c = helper.make_tensor("cplx", TensorProto.COMPLEX64, [1], [1 + 2j])
    with pytest.raises(pyfw.UnsupportedError, match="'cplx'.*COMPLEX64"):
        import_model(model_of([helper.make_node("Identity", ["x"], ["y"])], [vi("x", [1])], [vi("y", [1])], [c]))
    # Strings import (tests/test_onnx_strings.py); complex does not, wherever it appears.
    with pytest.raises(pyfw.UnsupportedError, match="'s'.*COMPLEX128"):
        import_model(model_of([helper.make_node("Identity", ["s"], ["y"])], [vi("s", [1], TensorProto.COMPLEX128)],
                              [vi("y", [1], TensorProto.COMPLEX128)]))


def test_opset_6_legacy_broadcast_is_upgraded():
    """Opset-6 Add with broadcast=1 (B aligned with A's trailing dimensions)
    imports as an opset-7 graph and computes x + b (ONNX Runtime has no Add-6
    kernel, so the closed form is the oracle). (ONNX's converter mis-checks an explicit `axis` against dimension
    0, so such models are refused with its message.)"""
    import numpy as np
    from onnx_util import pfw_run

    from pyfw.format import to_bytes
    from pyfw.ir import infer_shapes

    b = numpy_helper.from_array(np.array([1.0, -2.0, 3.0, 0.5], np.float32), "b")
    m = model_of([helper.make_node("Add", ["x", "b"], ["y"], broadcast=1)],
                 [vi("x", [2, 3, 4])], [vi("y", [2, 3, 4])], [b], opset=6)
    g = import_model(m)
    assert g.opset == 7 and "broadcast" not in g.nodes[-1].attrs
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    (got,) = pfw_run(to_bytes(infer_shapes(g)), {"x": x})
    np.testing.assert_array_equal(got, x + np.array([1.0, -2.0, 3.0, 0.5], np.float32))
    axis_model = model_of([helper.make_node("Add", ["x", "c"], ["y"], broadcast=1, axis=1)],
                          [vi("x", [2, 3, 4])], [vi("y", [2, 3, 4])],
                          [numpy_helper.from_array(np.ones(3, np.float32), "c")], opset=6)
    with pytest.raises(pyfw.UnsupportedError, match="opset 6.*version converter"):
        import_model(axis_model)


@pytest.mark.parametrize("shape, slope_from", [((2, 3, 4), "init"), ((2, 3, 4, 5), "input"), ((2, 3, 2, 2, 2), "init"),
                                               ((4, 3), "init")])
def test_opset_6_prelu_slope_is_per_channel(shape, slope_from):
    """PRelu-6 has one slope per channel (axis 1) where the slope is not of
    size 1; PRelu-7 would broadcast a (C,) slope from the last axis (and
    refuse (2, 3, 4) against (3,)). The closed form is the oracle: ONNX
    Runtime has no PRelu-6 kernel."""
    from onnx_util import pfw_run

    from pyfw.format import to_bytes
    from pyfw.ir import infer_shapes

    rng = np.random.default_rng(1)
    c = shape[1]
    slope = rng.uniform(0.1, 0.9, c).astype(np.float32)
    inits = [numpy_helper.from_array(slope, "s")] if slope_from == "init" else []
    inputs = [vi("x", list(shape))] + ([vi("s", [c])] if slope_from == "input" else [])
    m = model_of([helper.make_node("PRelu", ["x", "s"], ["y"])], inputs, [vi("y", list(shape))], inits, opset=6)
    x = rng.standard_normal(shape).astype(np.float32)
    feeds = {"x": x} if slope_from == "init" else {"x": x, "s": slope}
    (got,) = pfw_run(to_bytes(infer_shapes(import_model(m))), feeds)
    per_channel = slope.reshape((c,) + (1,) * (len(shape) - 2))
    np.testing.assert_array_equal(got, np.where(x < 0, per_channel * x, x))
    assert m.graph.node[0].input[1] == "s"  # the caller's model is left as it was


def test_bad_files(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\xff\xff not a protobuf")
    with pytest.raises(pyfw.InvalidModelError, match="bad.onnx"):
        import_model(bad)
    with pytest.raises(FileNotFoundError):
        import_model(tmp_path / "missing.onnx")


def test_round_trip_through_pfw(tmp_path):
    from pyfw.format import load, save
    g = import_model(cnn_model())
    save(g, tmp_path / "m.pfw")
    back = load(tmp_path / "m.pfw")
    assert [(n.op_type, n.name, n.inputs, n.outputs, n.version) for n in back.nodes] == \
        [(n.op_type, n.name, n.inputs, n.outputs, n.version) for n in g.nodes]
    for n, m in zip(back.nodes, g.nodes):
        assert n.attrs == m.attrs
    for t in g.initializers():
        np.testing.assert_array_equal(back.tensors[t.name].data, t.data)


def test_dangling_input_is_an_error():
    nodes = [helper.make_node("Add", ["x", "nowhere"], ["y"], name="add")]
    with pytest.raises(pyfw.InvalidModelError, match="'add'.*'nowhere'"):
        import_model(model_of(nodes, [vi("x", [2])], [vi("y", [2])]))


def test_out_of_order_nodes_are_sorted():
    nodes = [helper.make_node("Relu", ["a"], ["y"], name="second"), helper.make_node("Relu", ["x"], ["a"], name="first")]
    g = import_model(model_of(nodes, [vi("x", [2])], [vi("y", [2])]))
    assert [n.name for n in g.nodes] == ["first", "second"]


def test_opset_6_prelu_without_the_rank_is_refused():
    """Per-channel slopes need X's rank to be placed; without it the model is refused, not read as PRelu-7's."""
    m = model_of([helper.make_node("PRelu", ["x", "s"], ["y"], name="p")], [helper.make_tensor_value_info("x", 1, None)],
                 [vi("y", [2, 3, 4])], [numpy_helper.from_array(np.ones(3, np.float32), "s")], opset=6)
    with pytest.raises(pyfw.UnsupportedError, match="PRelu node 'p' \\(opset < 7\\) has one slope per channel"):
        import_model(m)
