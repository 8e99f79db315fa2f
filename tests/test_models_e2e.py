"""Small whole models, end to end: built from NumPy weights with onnx.helper,
converted, inspected and run through the `pyfw` command (a subprocess), and
run from Python at several batch sizes; ONNX Runtime is the oracle and the
ONNX model itself the reference for names, op types and parameter counts."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper

from onnx_util import assert_match, build, ort_run, param_count, reference64, value_info

ROOT = Path(__file__).resolve().parent.parent
rng = np.random.default_rng(7)
f32 = np.float32


def w(*shape, scale=0.3):
    return (rng.standard_normal(shape) * scale).astype(f32)


def mlp():
    """Gemm -> Relu -> Gemm -> Softmax, batch dimension dynamic."""
    inits = {"W1": w(16, 8), "b1": w(16), "W2": w(16, 5), "b2": w(5)}
    nodes = [helper.make_node("Gemm", ["x", "W1", "b1"], ["h"], name="fc1", transB=1),
             helper.make_node("Relu", ["h"], ["hr"], name="relu1"),
             helper.make_node("Gemm", ["hr", "W2", "b2"], ["logits"], name="fc2", alpha=1.5),
             helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=-1)]
    return build(nodes, [value_info("x", f32, ["N", 8])], [value_info("probs", f32, ["N", 5])],
                 inits, opset=13, name="mlp"), (8,)


def cnn():
    """Conv+BN+Relu, MaxPool, depthwise Conv, AveragePool, 1x1 Conv,
    GlobalAveragePool, Flatten, Gemm; batch dimension dynamic."""
    inits = {"w1": w(8, 3, 3, 3), "b1": w(8), "gamma": (rng.random(8) + 0.5).astype(f32), "beta": w(8),
             "mean": w(8, scale=0.1), "var": (rng.random(8) + 0.5).astype(f32),
             "wd": w(8, 1, 3, 3), "bd": w(8), "w3": w(16, 8, 1, 1), "b3": w(16),
             "fc_w": w(10, 16), "fc_b": w(10)}
    node = helper.make_node
    nodes = [node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
             node("BatchNormalization", ["c1", "gamma", "beta", "mean", "var"], ["n1"], name="bn1", epsilon=1e-3),
             node("Relu", ["n1"], ["r1"], name="relu1"),
             node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
             node("Conv", ["p1", "wd", "bd"], ["d1"], name="dwconv", group=8, pads=[1, 1, 1, 1]),
             node("Relu", ["d1"], ["r2"], name="relu2"),
             node("AveragePool", ["r2"], ["p2"], name="pool2", kernel_shape=[2, 2], strides=[2, 2]),
             node("Conv", ["p2", "w3", "b3"], ["c3"], name="conv3"),
             node("GlobalAveragePool", ["c3"], ["g"], name="gap"),
             node("Flatten", ["g"], ["f"], name="flatten", axis=1),
             node("Gemm", ["f", "fc_w", "fc_b"], ["logits"], name="fc", transB=1)]
    return build(nodes, [value_info("x", f32, ["N", 3, 16, 16])], [value_info("logits", f32, ["N", 10])],
                 inits, opset=17, name="cnn"), (3, 16, 16)


MODELS = [pytest.param(mlp, id="mlp"), pytest.param(cnn, id="cnn")]


def pyfw_cli(*args, cwd):
    env = {k: v for k, v in os.environ.items() if k != "PYFW_DEBUG"}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, "-m", "pyfw", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"pyfw {args[0]} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr
    return proc.stdout


@pytest.fixture(scope="module", params=MODELS)
def converted(request, tmp_path_factory):
    """(onnx model, per-sample input shape, path of the .pfw written by `pyfw convert`)."""
    model, sample = request.param()
    d = tmp_path_factory.mktemp(request.param.__name__)
    onnx.save(model, d / "model.onnx")
    out = pyfw_cli("convert", "model.onnx", "-o", "model.pfw", cwd=d)
    assert (d / "model.pfw").is_file()
    assert "model.pfw" in out
    return model, sample, d / "model.pfw"


def test_inspect_names_every_node_op_and_the_parameter_total(converted):
    model, _, optimized = converted
    path = optimized.with_name("as_imported.pfw")  # the default conversion fuses nodes
    pyfw_cli("convert", "model.onnx", "-o", path.name, "--no-optimize", cwd=path.parent)
    out = pyfw_cli("inspect", path, cwd=path.parent)
    node_lines = {}
    for n in model.graph.node:
        lines = [ln for ln in out.splitlines() if re.search(rf"(^|\s){re.escape(n.name)}\s", ln)]
        assert lines, f"inspect does not mention node {n.name!r}:\n{out}"
        assert any(re.search(rf"\s{n.op_type}(\s|$)", ln) for ln in lines), \
            f"inspect's line for node {n.name!r} does not say {n.op_type}:\n{out}"
        node_lines[n.name] = lines
    totals = re.findall(r"([\d,]+) param", out.splitlines()[-1])
    assert totals, f"no parameter total on the last line:\n{out}"
    assert int(totals[0].replace(",", "")) == param_count(model)
    for vi in list(model.graph.input) + list(model.graph.output):
        assert vi.name in out


def test_cli_run_matches_onnxruntime(converted):
    model, sample, path = converted
    x = rng.standard_normal((4, *sample)).astype(f32)
    np.save(path.parent / "x.npy", x)
    out = pyfw_cli("run", path, "--input", "x.npy", "--output", "out.npz", cwd=path.parent)
    assert "out.npz" in out
    names = [o.name for o in model.graph.output]
    with np.load(path.parent / "out.npz", allow_pickle=False) as z:
        assert sorted(z.files) == sorted(names)
        got = [z[n] for n in names]
    assert_match(got, ort_run(model, {"x": x}), exact=lambda: reference64(model, {"x": x}))


def test_cli_run_two_threads_matches_onnxruntime(converted):
    model, sample, path = converted
    x = rng.standard_normal((2, *sample)).astype(f32)
    np.save(path.parent / "x2.npy", x)
    pyfw_cli("run", path, "--input", "x=x2.npy", "--output", "out2.npz", "--threads", "2", cwd=path.parent)
    with np.load(path.parent / "out2.npz", allow_pickle=False) as z:
        got = [z[o.name] for o in model.graph.output]
    assert_match(got, ort_run(model, {"x": x}), exact=lambda: reference64(model, {"x": x}))


def test_interpreter_replans_for_each_batch_size(converted):
    from pyfw.runtime import Interpreter
    model, sample, path = converted
    with Interpreter(path) as it:
        assert [i.name for i in it.inputs] == ["x"]
        assert it.inputs[0].shape == (None, *sample)
        assert it.inputs[0].dtype == np.float32
        assert [o.name for o in it.outputs] == [o.name for o in model.graph.output]
        assert it.outputs[0].shape[0] is None
        for batch in (1, 3, 7, 1):
            x = rng.standard_normal((batch, *sample)).astype(f32)
            got = it.run({"x": x})
            assert_match(got, ort_run(model, {"x": x}), what=f"batch {batch}",
                         exact=lambda: reference64(model, {"x": x}))


def test_batch_rows_are_independent(converted):
    """Row i of a batch equals the model run on row i alone (catches planner
    aliasing between samples after a resize)."""
    from pyfw.runtime import Interpreter
    _, sample, path = converted
    x = rng.standard_normal((5, *sample)).astype(f32)
    with Interpreter(path) as it:
        (whole,) = it.run(x)
        rows = [it.run(x[i:i + 1])[0] for i in range(len(x))]
    np.testing.assert_allclose(np.concatenate(rows), whole, rtol=1e-5, atol=1e-6)


def test_mlp_probabilities_sum_to_one(tmp_path):
    from pyfw.runtime import Interpreter
    model, _ = mlp()
    onnx.save(model, tmp_path / "mlp.onnx")
    pyfw_cli("convert", "mlp.onnx", cwd=tmp_path)  # default output name: mlp.pfw
    with Interpreter(tmp_path / "mlp.pfw") as it:
        (p,) = it.run(rng.standard_normal((6, 8)).astype(f32))
    np.testing.assert_allclose(p.sum(axis=1), np.ones(6), rtol=1e-5)
