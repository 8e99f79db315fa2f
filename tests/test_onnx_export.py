"""pyfw.onnx.export_model / save_model / export: Graph -> standard ONNX.
Exported models pass onnx.checker's full check, and ONNX Runtime runs them to
the outputs libpfw gives on the .pfw they came from; traced pyfw.nn modules
exported to ONNX match eager pyfw."""
import os
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import helper
from onnx.backend.test.runner import Runner

import pyfw
import pyfw.format
import pyfw.ir
import pyfw.onnx
from onnx_util import assert_match, build, ort_run, pfw_run, value_info
from pyfw import InvalidModelError, UnsupportedError
from pyfw.ir.passes import fuse_activations, optimize
from test_export import MODELS as TRACED, _warm_bn
from test_passes import ACTIVATIONS, with_activation

onnxruntime.set_default_logger_severity(3)  # some node test models have unused initializers
rng = np.random.default_rng(3)
# The backend tests pyfw fails (see test_onnx_backend.py), by name.
EXCLUDED = {line.partition("#")[0].strip()
            for line in (Path(__file__).with_name("onnx_backend_exclusions.txt")).read_text().splitlines()}
f32 = np.float32


def round_trip(model, level=0):
    """(pfw bytes, exported ModelProto) for ONNX -> optimised .pfw -> ONNX."""
    graph = pyfw.onnx.import_model(model)
    pyfw.ir.infer_shapes(graph)
    pfw = pyfw.format.to_bytes(optimize(graph, level))
    exported = pyfw.onnx.export_model(pyfw.format.load(pfw))
    onnx.checker.check_model(exported, full_check=True)
    return pfw, exported


@pytest.mark.parametrize("first", ["Conv", "Gemm"])
@pytest.mark.parametrize("act,attrs,bounds", ACTIVATIONS)
def test_fused_activation_is_split_back_into_the_standard_op(first, act, attrs, bounds):
    model, feeds = with_activation(first, act, attrs, bounds)
    pfw, exported = round_trip(model, level=2)
    assert pyfw.format.load(pfw).nodes[0].attrs["activation"] == act  # it was fused
    assert [n.op_type for n in exported.graph.node] == [first, act]
    assert all(not a.name.startswith("activation") for n in exported.graph.node for a in n.attribute)
    want = ort_run(model, feeds)
    assert_match(ort_run(exported, feeds), want)
    assert_match(pfw_run(pfw, feeds), want)


def test_clip_fused_at_opset_10_exports_with_attributes():
    nodes = [helper.make_node("Conv", ["x", "W"], ["h"]), helper.make_node("Clip", ["h"], ["y"], min=-0.1, max=0.2)]
    model = build(nodes, [value_info("x", f32, [1, 2, 4, 4])], [value_info("y", f32, None)],
                  {"W": rng.standard_normal((3, 2, 1, 1)).astype(f32)}, opset=10)
    feeds = {"x": rng.standard_normal((1, 2, 4, 4)).astype(f32)}
    pfw, exported = round_trip(model, level=2)
    clip = exported.graph.node[1]
    assert clip.op_type == "Clip" and len(clip.input) == 1
    assert {a.name: a.f for a in clip.attribute} == pytest.approx({"min": -0.1, "max": 0.2})
    assert_match(ort_run(exported, feeds), ort_run(model, feeds))


def test_dynamic_dims_metadata_and_names_survive():
    nodes = [helper.make_node("MatMul", ["x", "W"], ["m"], name="mm"),
             helper.make_node("Add", ["m", "b"], ["y"], name="add")]
    model = build(nodes, [value_info("x", f32, ["N", 4])], [value_info("y", f32, ["N", 3])],
                  {"W": rng.standard_normal((4, 3)).astype(f32), "b": rng.standard_normal(3).astype(f32)})
    onnx.helper.set_model_props(model, {"author": "me"})
    _, exported = round_trip(model, level=2)
    assert [n.op_type for n in exported.graph.node] == ["Gemm"]
    dims = exported.graph.input[0].type.tensor_type.shape.dim
    assert not dims[0].HasField("dim_value") and dims[1].dim_value == 4
    assert {p.key: p.value for p in exported.metadata_props}["author"] == "me"
    assert exported.producer_name == "pyfw"
    for n in (2, 7):
        feeds = {"x": rng.standard_normal((n, 4)).astype(f32)}
        assert_match(ort_run(exported, feeds), ort_run(model, feeds))


def as_value(value, type_proto):
    """A test-case value as the declared type: an array of the declared dtype
    (a TensorProto in a few Cast cases), a list of them for a sequence, None
    or the contained value for an optional."""
    if type_proto.HasField("sequence_type"):
        return [as_value(v, type_proto.sequence_type.elem_type) for v in value]
    if type_proto.HasField("optional_type"):
        return None if value is None else as_value(value, type_proto.optional_type.elem_type)
    if isinstance(value, onnx.TensorProto):
        value = onnx.numpy_helper.to_array(value)
    return np.asarray(value).astype(helper.tensor_dtype_to_np_dtype(type_proto.tensor_type.elem_type))


def assert_same_value(got, want, rtol, atol):
    """Tensors compared as the backend suite compares them (bfloat16: two of
    its units); sequences element by element; None only against None."""
    if want is None or isinstance(want, list):
        assert type(got) is type(want), f"{type(got).__name__}, expected {type(want).__name__}"
        if want is not None:
            assert len(got) == len(want), f"{len(got)} sequence elements, expected {len(want)}"
            for g, w in zip(got, want):
                assert_same_value(g, w, rtol, atol)
        return
    Runner.assert_similar_outputs([want], [got], rtol, atol)


def node_cases():
    """ONNX's backend node tests that pyfw passes (not in the exclusions)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from onnx.backend.test.loader import load_node_model_tests
        cases = load_node_model_tests()
    return [c for c in cases if f"{c.name}_cpu" not in EXCLUDED and c.data_sets]


def test_backend_node_models_round_trip():
    """Every node test model pyfw runs: ONNX -> .pfw -> ONNX passes the full
    check, libpfw matches the test's expected outputs, and ONNX Runtime gives the
    same outputs on the exported model as on the original (where it runs it)."""
    failures, compared = [], 0
    for case in node_cases():
        try:
            pfw, exported = round_trip(case.model)
            inputs, expected = case.data_sets[0]
            graph = case.model.graph
            args = [i for i in graph.input if i.name not in {t.name for t in graph.initializer}]
            feeds = {i.name: as_value(v, i.type) for i, v in zip(args, inputs)}
            for g, w, o in zip(pfw_run(pfw, feeds), expected, graph.output, strict=True):
                assert_same_value(g, as_value(w, o.type), case.rtol, case.atol)
            try:
                original = ort_run(case.model, feeds)
            except Exception:  # ONNX Runtime lacks a kernel for the original: nothing to compare
                continue
            # The export must mean what the original means: ONNX Runtime runs both (it
            # departs from the spec in a few Attention cases, where libpfw follows the spec).
            try:
                back = ort_run(exported, feeds)
            except Exception as e:  # an op the import introduced that ONNX Runtime lacks a kernel for
                if "NOT_IMPLEMENTED" in str(e) and not any(f"for {n.op_type}(" in str(e) for n in graph.node):
                    continue  # (Dropout in training mode: RandomUniformLike-22)
                raise
            for g, w in zip(back, original, strict=True):
                assert_same_value(g, w, case.rtol, case.atol)
            compared += 1
        except Exception as e:
            failures.append(f"{case.name}: {type(e).__name__}: {str(e).splitlines()[0][:300]}")
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures)
    print(f"{compared} exported node models compared with ONNX Runtime")
    assert compared > 300


@pytest.mark.parametrize("name", TRACED)
def test_traced_module_exports_to_onnx_matching_eager(name, tmp_path):
    make, shape = TRACED[name]
    pyfw.manual_seed(1)
    model = make()
    if name == "cnn":
        _warm_bn(model, shape)
    model.eval()
    x = pyfw.randn(*shape)
    path = tmp_path / "m.onnx"
    pyfw.onnx.export(model, x, path)
    exported = onnx.load(path)
    onnx.checker.check_model(exported, full_check=True)
    assert [f for f in os.listdir(tmp_path)] == ["m.onnx"]  # no temporary file left
    for xb in (x, pyfw.randn(5, *shape[1:])):  # the batch dimension stays dynamic
        with pyfw.no_grad():
            want = model(xb).numpy()
        got = ort_run(exported, {"input": xb.numpy()})[0]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_export_errors_name_the_node_or_tensor():
    model, _ = with_activation("Gemm", "Relu", {}, [])
    g = fuse_activations(pyfw.onnx.import_model(model))
    g.nodes[0].attrs["activation"] = "Swish"
    with pytest.raises(InvalidModelError, match="Swish.*unknown fused activation"):
        pyfw.onnx.export_model(g)
    g = pyfw.onnx.import_model(model)
    g.nodes[0].domain = "com.example"
    with pytest.raises(UnsupportedError, match="com.example"):
        pyfw.onnx.export_model(g)
    g = pyfw.onnx.import_model(model)
    g.nodes[1].version = 6
    with pytest.raises(InvalidModelError, match="Relu version 6"):
        pyfw.onnx.export_model(g)
    g = pyfw.onnx.import_model(model)
    g.tensors["W"].quant = pyfw.ir.QuantParams([0.1], [0])
    with pytest.raises(UnsupportedError, match="'W'.*quantization"):
        pyfw.onnx.export_model(g)


def test_bfloat16_constants_export_as_bfloat16():
    bits = np.asarray([0x3F80, 0xC040, 0x3E20], np.uint16)  # 1.0, -3.0, 0.15625 in bfloat16
    w = onnx.TensorProto(name="w", data_type=onnx.TensorProto.BFLOAT16, dims=[3], raw_data=bits.tobytes())
    nodes = [helper.make_node("Cast", ["w"], ["wf"], to=onnx.TensorProto.FLOAT),
             helper.make_node("Add", ["x", "wf"], ["y"])]
    graph = helper.make_graph(nodes, "bf", [value_info("x", f32, [2, 3])], [value_info("y", f32, [2, 3])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 10
    exported = pyfw.onnx.export_model(pyfw.onnx.import_model(model))
    onnx.checker.check_model(exported, full_check=True)
    assert exported.graph.initializer[0].data_type == onnx.TensorProto.BFLOAT16
    feeds = {"x": rng.standard_normal((2, 3)).astype(f32)}
    np.testing.assert_array_equal(ort_run(exported, feeds)[0], feeds["x"] + np.asarray([1.0, -3.0, 0.15625], f32))


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_and_encoder_export_to_opset_17_through_erf_or_tanh(approximate, tmp_path):
    """Gelu is ONNX 20; traced graphs are opset 17, so the exporter writes Gelu's
    formula (Erf, or Tanh for approximate='tanh'), which ONNX Runtime must agree with."""
    import pyfw.nn as nn

    pyfw.manual_seed(2)
    for model, shape in ((nn.Sequential(nn.Linear(8, 16), nn.GELU(approximate), nn.Linear(16, 3)), (4, 8)),
                         (nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, activation="gelu", batch_first=True),
                          (2, 5, 16))):
        model.eval()
        x = pyfw.randn(*shape)
        path = tmp_path / "m.onnx"
        pyfw.onnx.export(model, x, path)
        exported = onnx.load(path)
        onnx.checker.check_model(exported, full_check=True)
        assert "Gelu" not in {n.op_type for n in exported.graph.node}
        with pyfw.no_grad():
            want = model(x).numpy()
        np.testing.assert_allclose(ort_run(exported, {"input": x.numpy()})[0], want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("opset", [7, 9])
def test_upsample_models_export_as_upsample(opset):
    """The importer reads Upsample as Resize-10; before opset 10 the exporter writes
    Upsample again (scales as an attribute before opset 9), which ORT runs alike."""
    from onnx import TensorProto, numpy_helper

    scales = np.array([1, 1, 2, 3], np.float32)
    inits, ins, kw = [], ["x"], {"scales": scales.tolist()}
    if opset == 9:
        inits, ins, kw = [numpy_helper.from_array(scales, "s")], ["x", "s"], {}
    node = helper.make_node("Upsample", ins, ["y"], mode="nearest", **kw)
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 2, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 4, 9])], inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7
    graph = pyfw.onnx.import_model(model)
    pyfw.ir.infer_shapes(graph)
    exported = pyfw.onnx.export_model(graph)
    onnx.checker.check_model(exported, full_check=True)
    assert [n.op_type for n in exported.graph.node] == ["Upsample"]
    x = np.random.default_rng(0).standard_normal((1, 2, 2, 3)).astype(np.float32)
    np.testing.assert_array_equal(ort_run(exported, {"x": x})[0], ort_run(model, {"x": x})[0])
