"""The .pfw format: round trips, layout, atomic writes, generated-code freshness."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pyfw
from pyfw import format as pfw_format
from pyfw.ir import Graph, QuantParams, Tensor

ROOT = Path(__file__).resolve().parent.parent


def sample_graph() -> Graph:
    rng = np.random.default_rng(0)
    g = Graph("sample", opset=17)
    g.metadata["author"] = "tests"
    g.add_input("x", "float32", (-1, 3, 8, 8))
    g.add_constant("w", rng.standard_normal((4, 3, 3, 3)).astype(np.float32))
    g.add_constant("b", rng.standard_normal(4).astype(np.float32))
    g.add_constant("shape", np.array([0, -1], np.int64))
    g.add_constant("half", rng.standard_normal(5).astype(np.float16))
    g.add_tensor(Tensor("bf", "bfloat16", (3,), np.array([0x3F80, 0x4000, 0xBF80], np.uint16)))
    q = g.add_constant("q", np.array([[1, -2], [3, 4]], np.int8))
    q.quant = QuantParams([0.5, 0.25], [0, 0], axis=0)
    g.add_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1], strides=[1, 1],
               auto_pad="NOTSET", version=11)
    g.add_node("Relu", ["c"], ["r"], name="relu", version=14)
    g.add_node("Reshape", ["r", "shape"], ["y"], name="reshape", version=14)
    g.add_node("Dummy", ["y", ""], ["z"], name="custom", domain="com.example", alpha=0.5,
               names=["a", "b"], scales=[1.5, 2.0], table=np.arange(6, dtype=np.int32).reshape(2, 3))
    g.outputs = ["y", "z"]
    return g


def test_round_trip_is_byte_identical():
    g = sample_graph()
    first = pfw_format.to_bytes(g)
    back = pfw_format.load(first)
    assert pfw_format.to_bytes(back) == first


def test_round_trip_preserves_everything():
    g = sample_graph()
    back = pfw_format.load(pfw_format.to_bytes(g))
    assert back.name == g.name and back.opset == 17
    assert back.inputs == ["x"] and back.outputs == ["y", "z"]
    assert back.metadata["author"] == "tests"
    assert back.metadata["producer"].startswith("pyfw ")
    assert back.metadata["min_runtime_version"] == "0.1.0"
    assert list(back.tensors) == list(g.tensors)
    for name, t in g.tensors.items():
        b = back.tensors[name]
        assert (b.dtype, b.shape) == (t.dtype, t.shape), name
        if t.data is not None:
            assert b.data.dtype == t.data.dtype and np.array_equal(b.data, t.data), name
    assert back.tensors["x"].shape == (-1, 3, 8, 8)
    assert back.tensors["q"].quant == QuantParams([0.5, 0.25], [0, 0], 0)
    conv, relu, reshape, custom = back.nodes
    assert (conv.op_type, conv.version, conv.attrs) == ("Conv", 11, g.nodes[0].attrs)
    assert (custom.op_type, custom.domain, custom.inputs) == ("Dummy", "com.example", ["y", ""])
    assert custom.attrs["alpha"] == 0.5 and custom.attrs["names"] == ["a", "b"]
    assert custom.attrs["scales"] == [1.5, 2.0]
    assert np.array_equal(custom.attrs["table"], np.arange(6, dtype=np.int32).reshape(2, 3))
    assert "custom.table" not in back.tensors  # tensor attributes stay attributes


def test_layout_header_and_aligned_buffers():
    data = pfw_format.to_bytes(sample_graph())
    assert data[8:12] == b"PFW1"
    fb_size = int.from_bytes(data[:4], "little")
    data_start = (fb_size + 4 + 63) // 64 * 64
    assert len(data) >= data_start
    from pyfw.format.generated.pfw.Model import Model

    m = Model.GetRootAs(data, 4)
    assert m.FormatVersion() == pfw_format.FORMAT_VERSION
    assert (m.Buffers(0).Offset(), m.Buffers(0).Size()) == (0, 0)
    w = np.asarray(sample_graph().tensors["w"].data)
    found = False
    for i in range(1, m.BuffersLength()):
        off, size = m.Buffers(i).Offset(), m.Buffers(i).Size()
        assert off % 64 == 0
        assert data_start + off + size <= len(data)
        if size == w.nbytes and data[data_start + off:data_start + off + size] == w.tobytes():
            found = True
    assert found, "the conv weight bytes are stored verbatim in the data section"


def test_subgraph_attributes_round_trip():
    body = Graph("body")
    body.add_input("a", "float32", (2,))
    body.add_node("Relu", ["a"], ["b"], name="inner")
    body.outputs = ["b"]
    g = Graph("outer")
    g.add_input("cond", "bool", ())
    g.add_input("x", "float32", (2,))
    g.add_node("If", ["cond"], ["y"], name="if", then_branch=body, else_branch=body)
    g.outputs = ["y"]
    data = pfw_format.to_bytes(g)
    back = pfw_format.load(data)
    then_b = back.nodes[0].attrs["then_branch"]
    assert then_b is back.nodes[0].attrs["else_branch"]  # one subgraph, referenced twice
    assert [n.name for n in then_b.nodes] == ["inner"] and then_b.outputs == ["b"]
    assert pfw_format.to_bytes(back) == data


def test_save_is_atomic_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "m.pfw"
    pfw_format.save(sample_graph(), path)
    original = path.read_bytes()
    assert pfw_format.load(path).name == "sample"

    class Boom(Exception):
        pass

    def fail_after_first_chunk(self):
        yield b"partial"
        raise Boom()

    monkeypatch.setattr(pfw_format.writer._Writer, "chunks", fail_after_first_chunk)
    with pytest.raises(Boom):
        pfw_format.save(sample_graph(), path)
    assert path.read_bytes() == original
    assert sorted(os.listdir(tmp_path)) == ["m.pfw"]


def test_invalid_graphs_are_refused_before_writing(tmp_path):
    g = Graph("bad")
    g.add_input("x", "float32", (1,))
    g.add_node("Relu", ["missing"], ["y"], name="r")
    g.outputs = ["y"]
    with pytest.raises(pyfw.InvalidModelError, match="missing"):
        pfw_format.save(g, tmp_path / "bad.pfw")
    assert not (tmp_path / "bad.pfw").exists()


@pytest.mark.parametrize("data, needle", [
    (b"", "too short"),
    (b"\x00" * 16, "identifier"),
    (b"\xff\xff\x00\x00\x00\x00\x00\x00PFW1" + b"\x00" * 8, "truncated"),
])
def test_reader_rejects_bad_framing(data, needle):
    with pytest.raises(pyfw.InvalidModelError, match=needle):
        pfw_format.load(data)


def test_generated_code_is_fresh():
    """tools/gen_schema.py --check regenerates with the pinned flatc and diffs."""
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_schema.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_op_enum_matches_onnx_names():
    from pyfw.format.generated.pfw.OpType import OpType

    onnx_defs = pytest.importorskip("onnx.defs")
    onnx_ops = {s.name for s in onnx_defs.get_all_schemas_with_history() if s.domain == ""}
    ours = {k for k in vars(OpType) if not k.startswith("_") and k != "Custom"}
    assert onnx_ops <= ours


def test_saved_files_get_the_umask_mode_not_0600(tmp_path):
    old = os.umask(0o022)
    try:
        pfw_format.save(sample_graph(), tmp_path / "m.pfw")
    finally:
        os.umask(old)
    assert (tmp_path / "m.pfw").stat().st_mode & 0o777 == 0o644


def test_add_accepts_attributes_named_like_node_fields():
    from pyfw.ir import Node

    g = Graph("g")
    g.add_input("x", "float32", (1,))
    g.add(Node("Foo", ["x"], ["y"], {"name": "attr", "version": 3}, name="n", domain="d"))
    g.outputs = ["y"]
    back = pfw_format.load(pfw_format.to_bytes(g))
    assert back.nodes[0].attrs == {"name": "attr", "version": 3} and back.nodes[0].name == "n"
