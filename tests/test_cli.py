"""The `pyfw` command, run as a subprocess (`python -m pyfw`), checked against
the ONNX model it came from, ONNX's shape inference and ONNX Runtime."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parent.parent
rng = np.random.default_rng(1)
f32 = np.float32


def pyfw(*args, cwd, env=None):
    full_env = {k: v for k, v in os.environ.items() if k != "PYFW_DEBUG"}
    full_env.update(PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.run([sys.executable, "-m", "pyfw", *map(str, args)], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=120)


def one_line_error(proc, command, status=1):
    assert proc.returncode == status, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"pyfw {command}: error: ") if command else lines[0].startswith("pyfw: error: ")
    assert "Traceback" not in proc.stderr
    return lines[0]


def mlp(path):
    inits = {"W1": rng.standard_normal((16, 4)), "b1": rng.standard_normal(16),
             "W2": rng.standard_normal((3, 16)), "b2": rng.standard_normal(3)}
    nodes = [helper.make_node("Gemm", ["x", "W1", "b1"], ["h"], name="fc1", transB=1),
             helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("Gemm", ["r", "W2", "b2"], ["logits"], name="fc2", transB=1),
             helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=1)]
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 3]),
                               helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])],
                              [numpy_helper.from_array(v.astype(f32), k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="cli-test")
    onnx.save(model, path)
    return model


def cnn(path):
    inits = {"w1": rng.standard_normal((4, 2, 3, 3)) * 0.3, "b1": rng.standard_normal(4),
             "s": rng.random(4) + 0.5, "bb": rng.standard_normal(4), "m": rng.standard_normal(4) * 0.1,
             "v": rng.random(4) + 0.5, "w2": rng.standard_normal((6, 4, 3, 3)) * 0.3,
             "fc": rng.standard_normal((5, 6)), "fcb": rng.standard_normal(5), "shape": np.array([0, -1])}
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c1", "s", "bb", "m", "v"], ["n1"]),
             helper.make_node("Relu", ["n1"], ["r1"]),
             helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Conv", ["p1", "w2"], ["c2"], strides=[2, 2], auto_pad="SAME_UPPER"),
             helper.make_node("Sigmoid", ["c2"], ["a2"]),
             helper.make_node("AveragePool", ["a2"], ["p2"], kernel_shape=[2, 2], pads=[1, 1, 1, 1]),
             helper.make_node("GlobalAveragePool", ["p2"], ["g"]),
             helper.make_node("Reshape", ["g", "shape"], ["f"]),
             helper.make_node("MatMul", ["f", "fcT"], ["mm"]),
             helper.make_node("Add", ["mm", "fcb"], ["y"])]
    tensors = [numpy_helper.from_array(v.astype(np.int64 if k == "shape" else f32), k)
               for k, v in inits.items() if k != "fc"]
    tensors.append(numpy_helper.from_array(inits["fc"].T.astype(f32).copy(), "fcT"))
    graph = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2, 12, 12])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], tensors)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, path)
    return model


def rows(stdout, section):
    """Rows of one aligned table in `inspect` output, split on 2+ spaces."""
    block = stdout.split(f"\n{section}:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    return [re.split(r"\s{2,}", r.strip()) for r in block[2:]]


def test_convert_and_inspect_mlp(tmp_path):
    model = mlp(tmp_path / "mlp.onnx")
    conv = pyfw("convert", "mlp.onnx", "-o", "mlp.pfw", "--no-optimize", cwd=tmp_path)  # nodes as in ONNX
    assert conv.returncode == 0, conv.stderr
    assert (tmp_path / "mlp.pfw").exists()
    out = pyfw("inspect", "mlp.pfw", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "opset: 13" in text and "cli-test" in text
    assert rows(text, "inputs") == [["x", "float32", "(?, 4)"]]
    assert rows(text, "outputs") == [["probs", "float32", "(?, 3)"], ["logits", "float32", "(?, 3)"]]
    sizes = {t.name: int(np.prod(t.dims)) for t in model.graph.initializer}
    nodes = rows(text, "nodes")
    assert [r[:2] for r in nodes] == [[n.name, n.op_type] for n in model.graph.node]
    want_params = [sum(sizes.get(i, 0) for i in n.input) for n in model.graph.node]
    assert [int(r[-1].replace(",", "")) for r in nodes] == want_params
    assert nodes[0][2:4] == ["(?, 4)", "(?, 16)"]
    total = sum(sizes.values())
    size = os.path.getsize(tmp_path / "mlp.pfw")
    assert f"total: 4 nodes, {total:,} parameters, {total * 4:,} weight bytes, file size {size:,} bytes" in text


def test_convert_and_inspect_cnn_shapes_match_onnx(tmp_path):
    model = cnn(tmp_path / "cnn.onnx")
    conv = pyfw("convert", "cnn.onnx", "--no-optimize", cwd=tmp_path)  # default output name
    assert conv.returncode == 0, conv.stderr
    assert "wrote cnn.pfw" in conv.stdout
    text = pyfw("inspect", "cnn.pfw", cwd=tmp_path).stdout
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    shape_of = {v.name: "(" + ", ".join(str(d.dim_value) for d in v.type.tensor_type.shape.dim) + ")"
                for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    nodes = rows(text, "nodes")
    assert len(nodes) == len(model.graph.node)
    for row, node in zip(nodes, model.graph.node):
        assert row[1] == node.op_type
        assert row[3] == shape_of[node.output[0]]
    assert rows(text, "outputs") == [["y", "float32", shape_of["y"]]]


def ort_outputs(model, feeds):
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))


def assert_close(got, want):
    assert got.shape == want.shape and got.dtype == want.dtype
    err = np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-30)
    assert err <= 1e-5, err


@pytest.mark.parametrize("build", [mlp, cnn])
def test_run_matches_onnxruntime(tmp_path, build):
    model = build(tmp_path / "m.onnx")
    assert pyfw("convert", "m.onnx", "-o", "m.pfw", cwd=tmp_path).returncode == 0
    shape = [d.dim_value or 3 for d in model.graph.input[0].type.tensor_type.shape.dim]
    x = rng.standard_normal(shape).astype(f32)
    np.save(tmp_path / "x.npy", x)
    want = ort_outputs(model, {"x": x})
    for spec in ("x.npy", "x=x.npy"):
        proc = pyfw("run", "m.pfw", "--input", spec, "--output", "out.npz", "--threads", "2", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        with np.load(tmp_path / "out.npz") as got:
            assert sorted(got.files) == sorted(want)
            for name in want:
                assert_close(got[name], want[name])
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp files left


def test_run_npz_input_and_printed_summary(tmp_path):
    model = mlp(tmp_path / "m.onnx")
    assert pyfw("convert", "m.onnx", "-o", "m.pfw", cwd=tmp_path).returncode == 0
    x = rng.standard_normal((5, 4)).astype(f32)
    np.savez(tmp_path / "in.npz", x=x)
    want = ort_outputs(model, {"x": x})
    proc = pyfw("run", "m.pfw", "--input", "in.npz", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert [l.split(":")[0] for l in lines] == ["probs", "logits"]
    for line, name in zip(lines, ["probs", "logits"]):
        assert "shape (5, 3), float32" in line
        assert_close(np.float32(re.search(r"max (\S+),", line).group(1)), want[name].max())


def test_run_seed_moves_the_random_ops(tmp_path):
    graph = helper.make_graph([helper.make_node("RandomNormal", [], ["y"], shape=[3, 4])], "r", [],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 4])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "r.onnx")
    assert pyfw("convert", "r.onnx", cwd=tmp_path).returncode == 0
    outs = {}
    for name, seed in (("a", "0"), ("b", "0"), ("c", "7")):
        proc = pyfw("run", "r.pfw", "--seed", seed, "-o", f"{name}.npz", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        outs[name] = np.load(tmp_path / f"{name}.npz")["y"]
    np.testing.assert_array_equal(outs["a"], outs["b"])
    assert not np.array_equal(outs["a"], outs["c"])
    assert "expected a non-negative integer" in pyfw("run", "r.pfw", "--seed", "-1", cwd=tmp_path).stderr


def test_run_two_inputs_positional_and_by_name(tmp_path):
    nodes = [helper.make_node("Sub", ["a", "b"], ["d"]), helper.make_node("Tanh", ["d"], ["y"])]
    graph = helper.make_graph(nodes, "two", [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2, 3]) for n in "ab"],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(model, tmp_path / "two.onnx")
    assert pyfw("convert", "two.onnx", cwd=tmp_path).returncode == 0
    a, b = (rng.standard_normal((2, 3)).astype(f32) for _ in range(2))
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    want = ort_outputs(model, {"a": a, "b": b})["y"]
    # b named first; the positional file fills the remaining input, a.
    proc = pyfw("run", "two.pfw", "--input", "b=b.npy", "--input", "a.npy", "-o", "o.npz", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    with np.load(tmp_path / "o.npz") as got:
        assert_close(got["y"], want)


@pytest.mark.parametrize("build", [mlp, cnn])
def test_convert_optimizes_by_default_and_converts_back_to_onnx(tmp_path, build):
    model = build(tmp_path / "m.onnx")
    assert pyfw("convert", "m.onnx", "-o", "plain.pfw", "--no-optimize", cwd=tmp_path).returncode == 0
    conv = pyfw("convert", "m.onnx", cwd=tmp_path)
    assert conv.returncode == 0, conv.stderr
    plain = len(rows(pyfw("inspect", "plain.pfw", cwd=tmp_path).stdout, "nodes"))
    optimized = rows(pyfw("inspect", "m.pfw", cwd=tmp_path).stdout, "nodes")
    assert plain == len(model.graph.node) and len(optimized) < plain
    assert f"wrote m.pfw: {len(optimized)} nodes" in conv.stdout
    (tmp_path / "m.onnx").unlink()
    back = pyfw("convert", "m.pfw", cwd=tmp_path)  # default output: m.onnx
    assert back.returncode == 0, back.stderr
    exported = onnx.load(tmp_path / "m.onnx")
    onnx.checker.check_model(exported, full_check=True)
    shape = [d.dim_value or 3 for d in model.graph.input[0].type.tensor_type.shape.dim]
    x = rng.standard_normal(shape).astype(f32)
    np.save(tmp_path / "x.npy", x)
    assert pyfw("run", "m.pfw", "-i", "x.npy", "-o", "out.npz", cwd=tmp_path).returncode == 0
    want, got = ort_outputs(model, {"x": x}), ort_outputs(exported, {"x": x})
    with np.load(tmp_path / "out.npz") as pfw_out:
        for name in want:
            assert_close(got[name], want[name])
            assert_close(pfw_out[name], want[name])
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp files left


# ---- errors ------------------------------------------------------------------
def test_convert_errors_are_one_line(tmp_path):
    assert "no such file" in one_line_error(pyfw("convert", "missing.onnx", cwd=tmp_path), "convert")
    (tmp_path / "junk.onnx").write_bytes(b"\x08\xff\xff\xff garbage")
    assert "junk.onnx" in one_line_error(pyfw("convert", "junk.onnx", cwd=tmp_path), "convert")
    assert "output directory 'nodir'" in one_line_error(
        pyfw("convert", "junk.onnx", "-o", "nodir/m.pfw", cwd=tmp_path), "convert")
    (tmp_path / "m.txt").write_text("x")
    assert "cannot convert .txt" in one_line_error(pyfw("convert", "m.txt", cwd=tmp_path), "convert")
    # Every default-domain op of opsets 7-21 converts, so the unsupported op is a custom one.
    graph = helper.make_graph([helper.make_node("Fancy", ["x"], ["y"], name="rs", domain="com.example")],
                              "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20), helper.make_opsetid("com.example", 1)]),
              tmp_path / "r.onnx")
    line = one_line_error(pyfw("convert", "r.onnx", cwd=tmp_path), "convert")
    assert line.endswith("node 'rs' (op Fancy, domain 'com.example', opset 1) uses custom domain 'com.example', "
                         "which pyfw does not support")
    assert not (tmp_path / "r.pfw").exists()


def test_shape_error_in_convert_is_one_line(tmp_path):
    graph = helper.make_graph([helper.make_node("Add", ["a", "b"], ["y"], name="add")], "g",
                              [helper.make_tensor_value_info("a", TensorProto.FLOAT, [2, 3]),
                               helper.make_tensor_value_info("b", TensorProto.FLOAT, [4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), tmp_path / "bad.onnx")
    line = one_line_error(pyfw("convert", "bad.onnx", cwd=tmp_path), "convert")
    assert "'add'" in line and "'a' (2, 3)" in line and "'b' (4,)" in line


def test_inspect_and_run_errors_are_one_line(tmp_path):
    (tmp_path / "junk.pfw").write_bytes(b"0123456789abcdef")
    assert "not a .pfw file" in one_line_error(pyfw("inspect", "junk.pfw", cwd=tmp_path), "inspect")
    assert "no such file" in one_line_error(pyfw("inspect", "none.pfw", cwd=tmp_path), "inspect")
    assert "no such file" in one_line_error(pyfw("run", "none.pfw", cwd=tmp_path), "run")
    assert "no such file" in one_line_error(pyfw("quantize", "none.pfw", cwd=tmp_path), "quantize")


def test_run_input_errors_are_one_line(tmp_path):
    mlp(tmp_path / "m.onnx")
    assert pyfw("convert", "m.onnx", cwd=tmp_path).returncode == 0
    np.save(tmp_path / "x.npy", np.zeros((2, 4), f32))
    np.save(tmp_path / "x64.npy", np.zeros((2, 4)))
    cases = [
        ((), "no value for input(s) 'x'"),
        (("--input", "x.npy", "--input", "x.npy"), "more input files"),
        (("--input", "missing.npy"), "no such input file"),
        (("--input", "x64.npy"), "float64"),
    ]
    for extra, want in cases:
        line = one_line_error(pyfw("run", "m.pfw", *extra, cwd=tmp_path), "run")
        assert want in line, line


def test_run_string_model_from_a_str_npy(tmp_path):
    """Strings go in as a NumPy str array (an object array would need pickle,
    which `pyfw run` never loads); the oracle is ONNX Runtime."""
    nodes = [helper.make_node("StringNormalizer", ["x"], ["n"], case_change_action="LOWER", stopwords=["the"],
                              locale="C.UTF-8"),
             helper.make_node("RegexFullMatch", ["n"], ["y"], pattern="[a-z]+")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.STRING, [4])],
                              [helper.make_tensor_value_info("y", TensorProto.BOOL, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    model.ir_version = 10
    onnx.save(model, tmp_path / "s.onnx")
    assert pyfw("convert", "s.onnx", "-o", "s.pfw", cwd=tmp_path).returncode == 0
    x = np.array(["The", "cat", "x1", "Dog"])
    np.save(tmp_path / "x.npy", x)
    want = ort_outputs(model, {"x": x.astype(object)})["y"]
    proc = pyfw("run", "s.pfw", "--input", "x.npy", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"y: shape (3,), bool, values [{', '.join(f'{v!s:>5}' for v in want)}]"
    np.save(tmp_path / "obj.npy", x.astype(object), allow_pickle=True)
    line = one_line_error(pyfw("run", "s.pfw", "--input", "obj.npy", cwd=tmp_path), "run")
    assert "save string inputs as a NumPy str array" in line


def test_run_an_image_file_goes_in_as_its_bytes(tmp_path):
    """A file that is not .npy/.npz feeds a uint8 [N] input its raw bytes:
    an ImageDecoder model runs on a JPEG as it is; the oracle is Pillow's
    pixels (runtime_c/tests/data/images)."""
    images = Path(__file__).resolve().parent.parent / "runtime_c" / "tests" / "data" / "images"
    node = helper.make_node("ImageDecoder", ["encoded"], ["image"], pixel_format="RGB")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("encoded", TensorProto.UINT8, [None])],
                              [helper.make_tensor_value_info("image", TensorProto.UINT8, [None, None, 3])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)]), tmp_path / "d.onnx")
    assert pyfw("convert", "d.onnx", "-o", "d.pfw", cwd=tmp_path).returncode == 0
    (tmp_path / "photo.jpg").write_bytes((images / "progressive_420_33x31.jpg").read_bytes())
    proc = pyfw("run", "d.pfw", "--input", "photo.jpg", "-o", "out.npz", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    want = np.frombuffer((images / "progressive_420_33x31.jpg.rgb").read_bytes(), np.uint8).reshape(31, 33, 3)
    with np.load(tmp_path / "out.npz") as out:
        np.testing.assert_array_equal(out["image"], want)
    (tmp_path / "broken.npy").write_bytes(b"not numpy")  # a .npy name is still read as NumPy, and says so
    assert "cannot read" in one_line_error(pyfw("run", "d.pfw", "--input", "broken.npy", cwd=tmp_path), "run")


def test_usage_errors_exit_2_on_one_line(tmp_path):
    one_line_error(pyfw(cwd=tmp_path), "", status=2)
    line = one_line_error(pyfw("run", "m.pfw", "--threads", "0", cwd=tmp_path), "run", status=2)
    assert "--threads" in line
    one_line_error(pyfw("convert", cwd=tmp_path), "convert", status=2)
    one_line_error(pyfw("frobnicate", cwd=tmp_path), "", status=2)


def test_help_and_debug_traceback(tmp_path):
    top = pyfw("--help", cwd=tmp_path)
    assert top.returncode == 0
    for cmd in ("convert", "inspect", "run"):
        assert cmd in top.stdout
        assert pyfw(cmd, "--help", cwd=tmp_path).returncode == 0
    debug = pyfw("inspect", "none.pfw", cwd=tmp_path, env={"PYFW_DEBUG": "1"})
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_import_pyfw_does_not_import_onnx(tmp_path):
    code = ("import sys, pyfw, pyfw.cli, pyfw.ir, pyfw.format; "
            "assert not [m for m in sys.modules if m == 'onnx' or m.startswith('onnx.')], 'onnx imported'")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 0, proc.stderr


# ---- bench ---------------------------------------------------------------------------
def op_table(stdout):
    """{op: row cells} of `bench --profile`'s per-op-type table."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("op "))
    header = re.split(r"\s{2,}", lines[start].strip())
    return header, {r[0]: r for r in (re.split(r"\s{2,}", line.strip()) for line in lines[start + 2:] if line.strip())}


def latency_rows(stdout):
    return {r[0]: r[1:] for r in (re.split(r"\s{2,}", line.strip()) for line in stdout.splitlines())
            if r[0].endswith((" ms", " MB"))}


@pytest.mark.parametrize("build", [mlp, cnn])
def test_bench_profile_counts_each_node_once_per_timed_run(tmp_path, build):
    build(tmp_path / "m.onnx")
    assert pyfw("convert", "m.onnx", "-o", "m.pfw", cwd=tmp_path).returncode == 0
    from pyfw.format import load
    op_counts = {}
    for n in load(tmp_path / "m.pfw").nodes:  # the optimised graph the runtime runs (fused nodes)
        op_counts[n.op_type] = op_counts.get(n.op_type, 0) + 1
    extra = ["--shape", "x=5,4"] if build is mlp else ["--threads", "2"]  # cnn's input shape is fixed
    out = pyfw("bench", "m.pfw", "--runs", "3", "--warmup", "2", "--profile", *extra, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "3 timed runs" in out.stdout
    assert ("x (5, 4) float32" if build is mlp else "x (2, 2, 12, 12) float32") in out.stdout
    rows_ = latency_rows(out.stdout)
    assert set(rows_) == {"init (load + create) ms", "first run ms", "mean ms", "p50 ms", "p95 ms",
                          "peak RSS (process) MB", "RSS added MB"}
    header, table = op_table(out.stdout)
    assert header == ["op", "pyfw count", "pyfw ms", "pyfw %"]
    assert {op: int(r[1]) for op, r in table.items()} == {op: 3 * n for op, n in op_counts.items()}
    assert all(float(r[2]) >= 0 and 0 <= float(r[3]) <= 100 for r in table.values())
    assert sum(float(r[3]) for r in table.values()) <= 100.5  # node times lie within the runs


@pytest.mark.parametrize("onnx_arg", [True, False])
def test_bench_against_onnxruntime_side_by_side(tmp_path, onnx_arg):
    pytest.importorskip("onnxruntime")
    mlp(tmp_path / "m.onnx")
    assert pyfw("convert", "m.onnx", "-o", "m.pfw", cwd=tmp_path).returncode == 0
    extra = ["--onnx", "m.onnx"] if onnx_arg else []  # else the .pfw exported back to ONNX
    out = pyfw("bench", "m.pfw", "--runs", "4", "--warmup", "0", "--profile", "--against", "onnxruntime",
               *extra, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rows_ = latency_rows(out.stdout)
    for key in ("init (load + create) ms", "first run ms", "mean ms", "p50 ms", "p95 ms"):
        pf, ort_, ratio = rows_[key]  # 4 significant digits each
        assert ratio.endswith("x") and float(ratio[:-1]) == pytest.approx(float(pf) / float(ort_), rel=0.01)
    header, table = op_table(out.stdout)
    assert header == ["op", "pyfw count", "pyfw ms", "pyfw %", "onnxruntime count", "onnxruntime ms",
                      "onnxruntime %"]
    ort_counts = [int(r[4]) for r in table.values() if r[4] != "-"]
    # Only the 4 timed runs are counted, each kernel once per run, whatever ORT fused.
    assert ort_counts and all(c % 4 == 0 for c in ort_counts)
    assert sum(ort_counts) // 4 <= 4  # at most the ONNX model's 4 nodes per run


def test_bench_errors_are_one_line(tmp_path):
    mlp(tmp_path / "m.onnx")
    assert pyfw("convert", "m.onnx", "-o", "m.pfw", cwd=tmp_path).returncode == 0
    cases = [(["missing.pfw"], "no such file: 'missing.pfw'"),
             (["m.pfw", "--shape", "x=5;4"], "expected NAME=D0,D1,..."),
             (["m.pfw", "--shape", "x"], "expected NAME=D0,D1,..."),
             (["m.pfw", "--shape", "y=5,4"], "the model has no input 'y'; its inputs are: x"),
             (["m.pfw", "--shape", "x=5,3"], "--shape x: 5,3 does not fit the model's float32 (?, 4)"),
             (["m.pfw", "--shape", "x=5"], "does not fit"),
             (["m.pfw", "--onnx", "m.onnx"], "--onnx is the model for --against onnxruntime"),
             (["m.pfw", "--against", "onnxruntime", "--onnx", "none.onnx"], "no such file: 'none.onnx'")]
    for args, msg in cases:
        line = one_line_error(pyfw("bench", *args, cwd=tmp_path), "bench")
        assert msg in line, (args, line)
    line = one_line_error(pyfw("bench", "m.pfw", "--runs", "0", cwd=tmp_path), "bench", status=2)
    assert "argument --runs: expected a positive integer, got '0'" in line


def test_inspect_names_sequence_and_optional_types(tmp_path):
    """Inputs and outputs that are sequences or optionals say so in `inspect`."""
    seq = helper.make_sequence_type_proto(helper.make_tensor_type_proto(TensorProto.FLOAT, [None, 3]))
    opt = helper.make_optional_type_proto(helper.make_tensor_type_proto(TensorProto.INT64, [2]))
    nodes = [helper.make_node("SequenceLength", ["s"], ["n"]), helper.make_node("Identity", ["o"], ["p"])]
    graph = helper.make_graph(nodes, "values", [helper.make_value_info("s", seq), helper.make_value_info("o", opt)],
                              [helper.make_tensor_value_info("n", TensorProto.INT64, []),
                               helper.make_value_info("p", opt)])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), tmp_path / "v.onnx")
    assert pyfw("convert", "v.onnx", cwd=tmp_path).returncode == 0
    text = pyfw("inspect", "v.pfw", cwd=tmp_path).stdout
    assert rows(text, "inputs") == [["s", "sequence of float32", "(?, 3)"], ["o", "optional int64", "(2,)"]]
    assert rows(text, "outputs") == [["n", "int64", "()"], ["p", "optional int64", "(2,)"]]
