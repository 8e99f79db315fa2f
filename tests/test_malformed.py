"""Malformed and inconsistent .pfw files against libpfw, each loaded (from its
bytes and from a path) and, if it loads, run, in a child process, so a crash
shows up as a signal and a hang as a timeout instead of a dead pytest.

Every case must end in pyfw.InvalidModelError (UnsupportedError is one) with a
non-empty message, or load and run; never a signal, a hang, MemoryError or
another exception. Crafted cases must be refused with a message that names
what is wrong."""
import json
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper

from onnx_util import build, check, to_pfw, value_info
from pyfw.format.generated.pfw.Model import Model as fbModel
from pyfw.format.writer import _Writer
from pyfw.ir import Graph, Node, Tensor

ROOT = Path(__file__).resolve().parent.parent
rng = np.random.default_rng(5)
f32 = np.float32

# ---- the child ---------------------------------------------------------------
CHILD = r"""
import json, sys
import numpy as np
import pyfw
from pyfw.runtime import Interpreter

def error(e, stage):
    return {"outcome": "error", "stage": stage, "type": type(e).__name__,
            "invalid_model": isinstance(e, pyfw.InvalidModelError), "msg": str(e)}

def attempt(source):
    try:
        it = Interpreter(source)
    except BaseException as e:
        return error(e, "load")
    try:
        feeds = []
        for info in it.inputs:
            shape = tuple(1 if d is None else d for d in info.shape)
            if np.prod(shape, dtype=np.float64) > 1e7:
                return {"outcome": "loaded", "note": f"input {info.name!r} {shape} too large to feed"}
            feeds.append(np.linspace(-2, 2, int(np.prod(shape))).reshape(shape).astype(info.dtype))
        outs = it.run(feeds)
        return {"outcome": "ran", "shapes": [list(o.shape) for o in outs]}
    except BaseException as e:
        return error(e, "run")
    finally:
        it.close()

for line in sys.stdin:
    case = json.loads(line)
    if case["mode"] == "bytes":
        with open(case["path"], "rb") as f:
            source = f.read()
    else:
        source = case["path"]
    print(json.dumps({"key": case["key"], **attempt(source)}), flush=True)
"""
MODES = ("bytes", "path")


def run_children(cases, tmp, timeout):
    """{(id, mode): result} for {id: bytes}, all cases in one child; when a
    case kills or hangs it, that case is recorded and a new child goes on."""
    jobs = []
    for n, (cid, data) in enumerate(cases.items()):
        path = tmp / f"case{n}.pfw"
        path.write_bytes(data)
        jobs += [{"key": f"{cid}|{m}", "path": str(path), "mode": m} for m in MODES]
    results = {}

    def child(batch, limit):
        lines = "".join(json.dumps(j) + "\n" for j in batch)
        try:
            p = subprocess.run([sys.executable, "-c", CHILD], input=lines.encode(), capture_output=True,
                               timeout=limit, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
            out, rc, err = p.stdout, p.returncode, p.stderr
        except subprocess.TimeoutExpired as e:
            out, rc, err = e.stdout or b"", "timeout", e.stderr or b""
        out, err = out.decode(errors="replace"), err.decode(errors="replace")
        for line in out.splitlines():
            r = json.loads(line)
            results[r.pop("key")] = r
        return rc, err[-2000:]

    pending = jobs
    while pending:
        child(pending, timeout)
        pending = [j for j in pending if j["key"] not in results]
        if pending:  # the first unanswered case killed or hung the child: confirm it alone
            culprit, pending = pending[0], pending[1:]
            rc, err = child([culprit], 20)
            results.setdefault(culprit["key"], {"outcome": "hang" if rc == "timeout" else "crash",
                                                "rc": rc, "stderr": err})
    return {tuple(k.rsplit("|", 1)): v for k, v in results.items()}


def assert_safe(r):
    assert r["outcome"] in ("ran", "loaded", "error"), f"child died: {r}"
    if r["outcome"] == "error":
        assert r["invalid_model"], f"{r['type']} at {r['stage']} instead of InvalidModelError: {r['msg']}"
        assert r["msg"].strip(), "empty error message"


# ---- the base model and where its fields live ------------------------------------
def base_model():
    inits = {"conv_w": rng.standard_normal((3, 2, 3, 3)).astype(f32), "conv_b": rng.standard_normal(3).astype(f32),
             "flat_shape": np.array([1, 27], np.int64), "fc_w": rng.standard_normal((27, 4)).astype(f32),
             "fc_b": rng.standard_normal(4).astype(f32)}
    node = helper.make_node
    nodes = [node("Conv", ["x", "conv_w", "conv_b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             node("Relu", ["c"], ["r"], name="relu"),
             node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
             node("Reshape", ["p", "flat_shape"], ["f"], name="reshape"),
             node("Gemm", ["f", "fc_w", "fc_b"], ["logits"], name="fc", alpha=0.5),
             node("Softmax", ["logits"], ["y"], name="softmax", axis=-1)]
    return build(nodes, [value_info("x", f32, [1, 2, 6, 6])], [value_info("y", f32, [1, 4])], inits)


MODEL = base_model()
BASE = to_pfw(MODEL)
FB_END = 4 + struct.unpack_from("<I", BASE, 0)[0]          # end of the FlatBuffer part
DATA_START = (FB_END + 63) // 64 * 64


class Layout:
    """Byte positions of fields in BASE, found with the generated accessors."""

    def __init__(self, data):
        self.m = fbModel.GetRootAs(data, 4)
        g = self.m.Graphs(0)
        self.g = g
        self.tensors = {g.Tensors(i).Name().decode(): g.Tensors(i) for i in range(g.TensorsLength())}
        self.tensor_index = {name: i for i, name in enumerate(self.tensors)}
        self.nodes = {g.Nodes(i).Name().decode(): g.Nodes(i) for i in range(g.NodesLength())}

    @staticmethod
    def field(obj, slot):
        o = obj._tab.Offset(slot)
        assert o, f"field at vtable slot {slot} is absent"
        return obj._tab.Pos + o

    @staticmethod
    def vector(obj, slot):
        o = obj._tab.Offset(slot)
        assert o, f"vector at vtable slot {slot} is absent"
        return obj._tab.Vector(o)

    def buffer(self, tensor):  # position of Buffer struct (offset u64, size u64) of a constant
        return self.m.Buffers(self.tensors[tensor].Buffer())._tab.Pos


L = Layout(BASE)
# vtable slots (4 + 2 * field id) from schema/pfw.fbs
M_FORMAT, T_DTYPE, T_SHAPE, T_BUFFER = 4, 6, 8, 10
N_OP, N_INPUTS, N_OUTPUTS, N_ATTRS = 4, 10, 12, 14
G_INPUTS, G_OUTPUTS, A_TYPE = 10, 12, 6


def patched(pos, fmt, value, data=BASE):
    out = bytearray(data)
    struct.pack_into(fmt, out, pos, value)
    return bytes(out)


def absent(obj, slot, data=BASE):
    """data with field `slot` of table obj marked absent in its vtable (a
    writer that left out the field; tables with equal layouts share a vtable,
    so it may vanish from those too)."""
    pos = obj._tab.Pos
    vtable = pos - struct.unpack_from("<i", data, pos)[0]
    assert slot < struct.unpack_from("<H", data, vtable)[0] and struct.unpack_from("<H", data, vtable + slot)[0]
    return patched(vtable + slot, "<H", 0, data)


def unchecked(graph):
    """Bytes of a graph written without Graph.validate()."""
    return b"".join(_Writer(graph).chunks())


# ---- cases -----------------------------------------------------------------------
def truncations():
    cuts = {"0": 0, "1": 1, "4": 4, "8": 8, "11": 11, "12": 12, "fb_quarter": FB_END // 4,
            "fb_mid": FB_END // 2, "fb_end_minus1": FB_END - 1, "before_data": DATA_START - 1,
            "data_start": DATA_START, "inside_data": DATA_START + 40, "size_minus1": len(BASE) - 1}
    return {f"truncate_{k}": BASE[:v] for k, v in cuts.items()}


def fuzz():
    offsets = sorted(set(np.linspace(0, FB_END - 1, 48).astype(int)) | set(rng.integers(0, FB_END, 24)))
    cases = {}
    for off in offsets:
        off = int(off)
        cases[f"flip_bit{off % 8}_at_{off}"] = patched(off, "<B", BASE[off] ^ (1 << (off % 8)))
        cases[f"byte00_at_{off}"] = patched(off, "<B", 0x00)
        cases[f"byteFF_at_{off}"] = patched(off, "<B", 0xFF)
    for off in range(0, FB_END - 3, max(4, (FB_END // 40) & ~3)):
        for name, v in (("0", 0), ("FFFFFFFF", 0xFFFFFFFF), ("7FFFFFFF", 0x7FFFFFFF)):
            cases[f"word{name}_at_{off}"] = patched(off, "<I", v)
    return cases


def crafted():
    """{id: (bytes, regex the InvalidModelError message must match)}."""
    w_buf, in0 = L.buffer("conv_w"), L.vector(L.nodes["conv"], N_INPUTS)
    c = {
        "wrong_identifier": (BASE[:8] + b"PFX1" + BASE[12:], r"PFW1"),
        "size_prefix_past_end": (patched(0, "<I", len(BASE)), r"(?i)size prefix|truncat"),
        "size_prefix_huge": (patched(0, "<I", 0xFFFFFFF0), r"(?i)size prefix|truncat"),
        "size_prefix_tiny": (patched(0, "<I", 8), r"byte"),
        "buffer_offset_past_end": (patched(w_buf, "<Q", (len(BASE) // 64 + 1) * 64), r"buffer \d+.*past the end"),
        "buffer_size_past_end": (patched(w_buf + 8, "<Q", 1 << 40), r"buffer \d+|conv_w"),
        "buffer_offset_wraps": (patched(w_buf, "<Q", 2**64 - 64), r"buffer \d+"),
        "buffer_misaligned": (patched(w_buf, "<Q", 4), r"aligned"),
        "buffer0_not_empty": (patched(L.m.Buffers(0)._tab.Pos + 8, "<Q", 64), r"buffer 0"),
        "tensor_buffer_index_out_of_range": (patched(L.field(L.tensors["conv_w"], T_BUFFER), "<I", 999),
                                             r"conv_w.*999|999.*out of range"),
        "weight_shape_disagrees_with_data": (patched(L.vector(L.tensors["conv_w"], T_SHAPE), "<q", 4),
                                             r"conv_w.*bytes"),
        "weight_negative_dim": (patched(L.vector(L.tensors["conv_w"], T_SHAPE), "<q", -3), r"conv_w.*-3"),
        "input_dim_minus2": (patched(L.vector(L.tensors["x"], T_SHAPE) + 8, "<q", -2), r"'x'.*-2"),
        "input_dim_2pow40": (patched(L.vector(L.tensors["x"], T_SHAPE) + 16, "<q", 2**40),
                             r"'x'|conv|too large|overflow"),
        "input_dims_overflow_int64": (patched(L.vector(L.tensors["x"], T_SHAPE) + 16, "<q", 2**62),
                                      r"'x'|conv|too large|overflow"),
        "int64_tensor_unknown_dtype": (patched(L.field(L.tensors["flat_shape"], T_DTYPE), "<b", 99),
                                       r"flat_shape.*dtype"),
        "string_dtype_constant": (patched(L.field(L.tensors["flat_shape"], T_DTYPE), "<b", 8), r"flat_shape"),
        "node_input_index_out_of_range": (patched(in0, "<i", 999), r"conv.*999.*out of range"),
        "node_input_index_minus5": (patched(in0, "<i", -5), r"conv.*-5.*out of range"),
        "node_output_index_out_of_range": (patched(L.vector(L.nodes["relu"], N_OUTPUTS), "<i", 1 << 30),
                                           r"relu.*out of range"),
        "node_writes_graph_input": (patched(L.vector(L.nodes["relu"], N_OUTPUTS), "<i", L.tensor_index["x"]),
                                    r"relu.*'x'"),
        "node_reads_later_output": (patched(in0, "<i", L.tensor_index["logits"]), r"conv.*logits"),
        "graph_input_index_out_of_range": (patched(L.vector(L.g, G_INPUTS), "<i", 12345), r"input.*12345"),
        "graph_output_index_out_of_range": (patched(L.vector(L.g, G_OUTPUTS), "<i", -7), r"output.*-7"),
        "unknown_op_code": (patched(L.field(L.nodes["relu"], N_OP), "<H", 9999), r"relu.*9999|9999.*relu"),
        "op_without_kernel": (patched(L.field(L.nodes["relu"], N_OP), "<H", 184),
                              r"relu.*StringNormalizer|StringNormalizer.*relu"),
        "unknown_attr_type": (patched(L.field(L.nodes["fc"].Attrs(0), A_TYPE), "<b", 77), r"alpha.*77|77.*alpha"),
        "format_version_0": (patched(L.field(L.m, M_FORMAT), "<I", 0), r"format_version"),
        "format_version_future": (patched(L.field(L.m, M_FORMAT), "<I", 1000), r"format_version"),
    }
    fc_alpha = L.nodes["fc"].Attrs(0)
    c.update({  # required fields left out
        "absent_model_graphs": (absent(L.m, 8), r"no graphs"),
        "absent_model_buffers": (absent(L.m, 10), r"conv_w.*buffer index"),
        "absent_graph_tensors": (absent(L.g, 6), r"tensor index \d+ out of range \(0 tensors\)"),
        "absent_graph_nodes": (absent(L.g, 8), r"no graphs|never produced"),
        "absent_graph_outputs": (absent(L.g, 12), r"graph 0 has no outputs"),
        "absent_input_name": (absent(L.tensors["x"], 4), r"graph 0 input 0 \(tensor \d+\) has no name"),
        "absent_input_shape": (absent(L.tensors["x"], 8), r"conv.*rank 0"),
        "absent_weight_shape": (absent(L.tensors["conv_w"], 8), r"conv_w.*bytes"),
        "absent_node_inputs": (absent(L.nodes["conv"], N_INPUTS), r"conv.*got 0"),
        "absent_node_outputs": (absent(L.nodes["conv"], N_OUTPUTS), r"'c'.*not produced"),
        "absent_node_op": (absent(L.nodes["conv"], N_OP), r"conv.*custom op without a name"),
        "absent_node_attrs": (absent(L.nodes["fc"], N_ATTRS), r"kernel_shape.*required|alpha"),
        "absent_attr_name": (absent(fc_alpha, 4), r"fc.*attribute 0 has no name"),
        "absent_attr_type": (absent(fc_alpha, A_TYPE), r"alpha.*unknown attribute type 0"),
    })
    c.update(crafted_graphs())
    return c


def version(op):
    """The op's own version at opset 17, as the importer records it."""
    return onnx.defs.get_schema(op, 17, "").since_version


def chain(shape=(2, 3)):
    """x -> Relu 'first' -> h -> Relu 'second' -> y."""
    g = Graph("g")
    g.add_input("x", "float32", shape)
    g.add_node("Relu", ["x"], ["h"], name="first", version=version("Relu"))
    g.add_node("Relu", ["h"], ["y"], name="second", version=version("Relu"))
    g.outputs = ["y"]
    return g


def conv(**attrs):
    """x (1, 2, 6, 6) -> Conv 'conv' with a (3, 2, 3, 3) weight and `attrs`."""
    g = Graph("g")
    g.add_input("x", "float32", (1, 2, 6, 6))
    g.add_constant("w", rng.standard_normal((3, 2, 3, 3)).astype(f32))
    g.add_node("Conv", ["x", "w"], ["y"], name="conv", version=version("Conv"), **attrs)
    g.outputs = ["y"]
    return g


def one(op, shapes, consts=(), **attrs):
    """A one-node graph 'bad' over inputs of `shapes` and constant arrays."""
    g = Graph("g")
    names = []
    for i, s in enumerate(shapes):
        names.append(g.add_input(f"in{i}", "float32", s).name)
    for i, arr in enumerate(consts):
        names.append(g.add_constant(f"k{i}", np.asarray(arr)).name)
    g.add_node(op, names, ["y"], name="bad", version=version(op), **attrs)
    g.outputs = ["y"]
    return g


def crafted_graphs():
    out_of_order = chain()
    out_of_order.nodes.reverse()
    cycle = chain()
    cycle.nodes[0] = Node("Add", ["x", "y"], ["h"], {}, "first", version=version("Add"))
    neg = chain((2, -3))
    huge = chain((2**40, 3))
    overflow = chain((2**40, 2**40, 2**40))
    mismatch = chain()
    mismatch.add_constant("W", np.ones((3, 3), f32))
    mismatch.tensors["W"].shape = (4, 3)
    mismatch.add_node("MatMul", ["y", "W"], ["z"], name="mm", version=version("MatMul"))
    mismatch.outputs = ["z"]
    custom = chain()
    custom.nodes[1] = Node("MyOp", ["h"], ["y"], {}, "second", domain="com.example")
    nokernel = chain()
    nokernel.nodes[1] = Node("TfIdfVectorizer", ["h"], ["y"], {}, "second", version=version("TfIdfVectorizer"))
    deep = chain((1,) * 9)
    dangling = chain()
    dangling.add_tensor(Tensor("z", "float32", (2, 3)))
    dangling.outputs = ["z"]
    g = {
        "ir_nodes_out_of_order": (out_of_order, r"'h'"),
        "ir_cycle": (cycle, r"first.*'y'|'y'.*first"),
        "ir_negative_dim": (neg, r"'x'.*-3"),
        "ir_huge_dim": (huge, r"'x'|first|second|too large|overflow"),
        "ir_dims_overflow": (overflow, r"'x'|first|second|overflow|too large"),
        "ir_constant_shape_vs_data": (mismatch, r"'W'.*bytes"),
        "ir_custom_domain_op": (custom, r"MyOp"),
        "ir_op_without_kernel": (nokernel, r"second.*TfIdfVectorizer|TfIdfVectorizer.*second"),
        "ir_rank_9": (deep, r"rank 9|'x'"),
        "ir_output_never_produced": (dangling, r"'z'"),
        "conv_group0": (conv(group=0), r"conv"),
        "conv_group3": (conv(group=3), r"conv"),
        "conv_strides0": (conv(strides=[0, 0]), r"conv"),
        "conv_dilations0": (conv(dilations=[0, 0]), r"conv"),
        "conv_negative_pads": (conv(pads=[-2, -2, -2, -2]), r"conv"),
        "conv_kernel_larger_than_input": (conv(dilations=[4, 4]), r"conv"),
        "conv_kernel_shape_disagrees": (conv(kernel_shape=[5, 5]), r"conv"),
        "conv_pads_wrong_length": (conv(pads=[1, 1]), r"conv"),
        "gemm_k_mismatch": (one("Gemm", [(2, 5)], [np.ones((4, 3), f32)]), r"bad"),
        "matmul_k_mismatch": (one("MatMul", [(2, 5), (4, 3)]), r"bad"),
        "add_incompatible": (one("Add", [(2, 3), (4,)]), r"bad"),
        "softmax_axis_out_of_range": (one("Softmax", [(2, 3)], axis=5), r"bad"),
        "transpose_bad_perm": (one("Transpose", [(2, 3)], perm=[0, 0]), r"bad"),
        "reshape_two_minus1": (one("Reshape", [(2, 3)], [np.array([-1, -1], np.int64)]), r"bad"),
        "reshape_wrong_size": (one("Reshape", [(2, 3)], [np.array([7], np.int64)]), r"bad"),
        "concat_axis_out_of_range": (one("Concat", [(2, 3), (2, 3)], axis=3), r"bad"),
        "concat_dim_mismatch": (one("Concat", [(2, 3), (3, 4)], axis=0), r"bad"),
        "flatten_axis_out_of_range": (one("Flatten", [(2, 3)], axis=7), r"bad"),
        "maxpool_no_kernel_shape": (one("MaxPool", [(1, 1, 4, 4)]), r"bad"),
        "maxpool_strides0": (one("MaxPool", [(1, 1, 4, 4)], kernel_shape=[2, 2], strides=[0, 0]), r"bad"),
        "avgpool_kernel_too_big": (one("AveragePool", [(1, 1, 4, 4)], kernel_shape=[9, 9]), r"bad"),
        "batchnorm_short_scale": (one("BatchNormalization", [(1, 3, 2, 2)],
                                      [np.ones(2, f32), np.zeros(3, f32), np.zeros(3, f32), np.ones(3, f32)]),
                                  r"bad"),
        "relu_missing_input": (one("Relu", []), r"bad"),
    }
    return {k: (unchecked(graph), rx) for k, (graph, rx) in g.items()}


def attention_model():
    """Token ids -> embedding (Gather) -> one self-attention head with a
    residual and LayerNormalization: the transformer kinds of op and shape."""
    d, vocab = 8, 10
    w = {n: rng.standard_normal((d, d)).astype(f32) for n in ("wq", "wk", "wv")}
    inits = {"emb": rng.standard_normal((vocab, d)).astype(f32), **w, "scale": np.array(d ** -0.5, f32),
             "gamma": np.ones(d, f32), "beta": np.zeros(d, f32)}
    node = helper.make_node
    nodes = [node("Gather", ["emb", "ids"], ["x"], name="embed"),
             node("MatMul", ["x", "wq"], ["q"], name="q"), node("MatMul", ["x", "wk"], ["k"], name="k"),
             node("MatMul", ["x", "wv"], ["v"], name="v"),
             node("Transpose", ["k"], ["kt"], name="kt", perm=[0, 2, 1]),
             node("MatMul", ["q", "kt"], ["s"], name="scores"), node("Mul", ["s", "scale"], ["ss"], name="scaled"),
             node("Softmax", ["ss"], ["p"], name="softmax", axis=-1), node("MatMul", ["p", "v"], ["a"], name="mix"),
             node("Add", ["a", "x"], ["r"], name="residual"),
             node("LayerNormalization", ["r", "gamma", "beta"], ["y"], name="norm", axis=-1)]
    return build(nodes, [value_info("ids", np.int64, [1, 6])], [value_info("y", f32, [1, 6, d])], inits)


def quantized_base():
    """BASE with static int8 quantization (QLinearConv, MatMulInteger...)."""
    from pyfw.format.reader import load
    from pyfw.format.writer import to_bytes
    from pyfw.quant import quantize
    return to_bytes(quantize(load(BASE), "static", {"x": rng.standard_normal((8, 1, 2, 6, 6)).astype(f32)}))


def corruptions(data, tag, n=40):
    """Truncations, bit flips and 32-bit words set to 0 / 0xFFFFFFFF /
    0x7FFFFFFF at n points of the FlatBuffer part of another model."""
    end = 4 + struct.unpack_from("<I", data, 0)[0]
    cases = {f"{tag}_truncate_{k}": data[:k] for k in sorted({end // 3, end - 1, len(data) - 1})}
    for off in sorted({int(o) for o in rng.integers(0, end - 4, n)}):
        cases[f"{tag}_flip_at_{off}"] = patched(off, "<B", data[off] ^ (1 << (off % 8)), data)
        word = off & ~3
        for name, v in (("0", 0), ("FFFFFFFF", 0xFFFFFFFF), ("7FFFFFFF", 0x7FFFFFFF)):
            cases[f"{tag}_word{name}_at_{word}"] = patched(word, "<I", v, data)
    return cases


ATTENTION = to_pfw(attention_model())
QBASE = quantized_base()
TRUNC, FUZZ, CRAFTED = truncations(), fuzz(), crafted()
OTHERS = {**corruptions(ATTENTION, "attention"), **corruptions(QBASE, "int8")}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    cases = {**TRUNC, **FUZZ, **{k: v[0] for k, v in CRAFTED.items()}, **OTHERS,
             "attention": ATTENTION, "int8": QBASE}
    return run_children(cases, tmp_path_factory.mktemp("malformed"), timeout=60)


def test_base_model_is_sound_and_matches_onnxruntime():
    check(MODEL, {"x": rng.standard_normal((1, 2, 6, 6)).astype(f32)})
    check(attention_model(), {"ids": np.array([[0, 3, 9, 3, -1, 5]], np.int64)})


@pytest.mark.parametrize("mode", MODES)
def test_base_model_runs_in_the_child(mode, tmp_path):
    r = run_children({"base": BASE}, tmp_path, timeout=60)[("base", mode)]
    assert r["outcome"] == "ran" and r["shapes"] == [[1, 4]], r


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("cid", list(TRUNC))
def test_truncated(outcomes, cid, mode):
    r = outcomes[(cid, mode)]
    assert_safe(r)
    assert r["outcome"] == "error", f"a truncated file was accepted: {r}"
    assert "byte" in r["msg"] or "truncat" in r["msg"], r["msg"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("cid", list(FUZZ))
def test_corrupted_bytes(outcomes, cid, mode):
    assert_safe(outcomes[(cid, mode)])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("model", ["attention", "int8"])
def test_other_base_models_run_in_the_child(outcomes, model, mode):
    r = outcomes[(model, mode)]
    assert r["outcome"] == "ran", r


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("cid", list(OTHERS))
def test_corrupted_attention_and_int8_models(outcomes, cid, mode):
    r = outcomes[(cid, mode)]
    assert_safe(r)
    if "_truncate_" in cid:
        assert r["outcome"] == "error" and ("byte" in r["msg"] or "truncat" in r["msg"]), r


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("cid", list(CRAFTED))
def test_crafted(outcomes, cid, mode):
    r = outcomes[(cid, mode)]
    assert_safe(r)
    assert r["outcome"] == "error", f"accepted: {r}"
    pattern = CRAFTED[cid][1]
    assert re.search(pattern, r["msg"]), f"message does not match {pattern!r}: {r['msg']}"
