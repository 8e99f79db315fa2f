"""The OpenCL backend (runtime_c/src/backends/opencl/), on whatever OpenCL
device the machine has (PoCL's CPU device where there is no GPU; `make
test` installs it and sets PFW_REQUIRE_OPENCL=1, so a missing device fails
instead of skipping).

Oracles: ONNX Runtime for every op and model (with ONNX's float64 reference
evaluator as the second oracle where ORT's own float32 rounding differs);
each op test also checks the node really ran on the device, so a silent
CPU fallback cannot pass. Process-wide device selection (libOpenCL.so.1,
PFW_OPENCL_DEVICE, the kernel cache) is tested in subprocesses."""
from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from onnx import helper

import pyfw
from onnx_util import Init, assert_match, build, ort_run, reference64, single_op, to_pfw, value_info
from pyfw.runtime import Interpreter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import models  # noqa: E402


@functools.cache
def opencl_error() -> str | None:
    model, _ = single_op("Relu", [np.zeros((2,), np.float32)])
    try:
        Interpreter(to_pfw(model), backend="opencl").close()
    except pyfw.BackendError as e:
        return str(e)
    return None


@pytest.fixture(autouse=True)
def need_opencl(request):
    if request.node.get_closest_marker("no_device"):
        return
    err = opencl_error()
    if err and os.environ.get("PFW_REQUIRE_OPENCL") == "1":
        pytest.fail(f"PFW_REQUIRE_OPENCL=1 but OpenCL cannot run: {err}")
    if err:
        pytest.skip(f"no OpenCL device: {err}")


def run_on_device(model, feeds, expect=None):
    """Runs on the OpenCL backend, checks where the nodes ran (all on the
    device unless `expect` lists them) and the outputs against ORT."""
    with Interpreter(to_pfw(model), backend="opencl") as it:
        assert it.backend == "opencl"
        where = it.node_backends()
        assert where == (expect or ["opencl"] * len(where)), where
        got = it.run(feeds)
    assert_match(got, ort_run(model, feeds), exact=lambda: reference64(model, feeds))
    return got


rng = np.random.default_rng(7)


def randn(*shape):
    return rng.standard_normal(shape).astype(np.float32)


UNARY = [("Relu", {}), ("LeakyRelu", {"alpha": 0.2}), ("Sigmoid", {}), ("Tanh", {}),
         ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}), ("HardSwish", {}), ("Exp", {}), ("Neg", {}), ("Abs", {}),
         ("Erf", {}), ("Elu", {"alpha": 0.7}), ("Floor", {}), ("Ceil", {}), ("Sin", {}), ("Cos", {})]


@pytest.mark.parametrize("op,attrs", UNARY, ids=[u[0] for u in UNARY])
def test_unary(op, attrs):
    x = randn(3, 5, 7) * 3
    run_on_device(*single_op(op, [x], **attrs))


@pytest.mark.parametrize("op", ["Log", "Sqrt", "Reciprocal"])
def test_unary_positive(op):
    x = np.abs(randn(4, 33)) + 0.1
    run_on_device(*single_op(op, [x]))


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu(approximate):
    run_on_device(*single_op("Gelu", [randn(6, 40) * 2], opset=20, approximate=approximate))


def test_clip_bounds_as_inputs_and_attributes():
    x = randn(5, 9) * 3
    run_on_device(*single_op("Clip", [x, Init(np.float32(-0.5)), Init(np.float32(1.25))]))
    run_on_device(*single_op("Clip", [x, None, Init(np.float32(0.3))]))
    run_on_device(*single_op("Clip", [x], opset=6, min=-1.0, max=0.5))
    # min > max: every element becomes max, as ONNX Runtime does
    run_on_device(*single_op("Clip", [x, Init(np.float32(1.0)), Init(np.float32(-1.0))]))


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div"])
@pytest.mark.parametrize("shapes", [((2, 3, 4, 5), (3, 1, 5)), ((4, 1), (1, 5)), ((7,), ()), ((2, 1, 3, 1, 2, 1, 2), (2, 2, 1))])
def test_binary_broadcast(op, shapes):
    a, b = randn(*shapes[0]), randn(*shapes[1]) + (3.0 if op == "Div" else 0.0)
    run_on_device(*single_op(op, [a, b]))


def test_binary_with_a_constant():
    run_on_device(*single_op("Mul", [randn(3, 8), Init(randn(8))]))


@pytest.mark.parametrize("perm", [None, (0, 2, 3, 1), (4, 0, 3, 1, 2)])
def test_transpose(perm):
    x = randn(2, 3, 4, 5, 6) if perm and len(perm) == 5 else randn(2, 3, 4, 5)
    run_on_device(*single_op("Transpose", [x], **({"perm": list(perm)} if perm else {})))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat(axis):
    shape = [3, 4, 5]
    parts = []
    for k in (2, 1, 3):
        s = list(shape)
        s[axis] = k
        parts.append(randn(*s))
    run_on_device(*single_op("Concat", parts, axis=axis))


CONV = [
    dict(x=(2, 3, 11, 13), w=(8, 3, 3, 3), pads=[1, 1, 1, 1]),
    dict(x=(1, 4, 15, 15), w=(6, 2, 3, 5), group=2, strides=[2, 3], pads=[0, 2, 1, 0]),
    dict(x=(1, 6, 9, 9), w=(6, 1, 3, 3), group=6, dilations=[2, 2], pads=[2, 2, 2, 2]),
    dict(x=(1, 3, 10, 10), w=(5, 3, 4, 4), auto_pad="SAME_UPPER", strides=[2, 2]),
    dict(x=(2, 5, 17), w=(4, 5, 3), strides=[2], pads=[1, 1]),
    dict(x=(1, 16, 7, 7), w=(40, 16, 1, 1)),
]


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("case", range(len(CONV)))
def test_conv(case, bias):
    c = dict(CONV[case])
    x, w = randn(*c.pop("x")), randn(*c.pop("w"))
    args = [x, Init(w)] + ([Init(randn(w.shape[0]))] if bias else [])
    run_on_device(*single_op("Conv", args, **c))


def test_conv_with_fused_activation():
    """pyfw's optimiser folds Relu/Clip into Conv and Gemm; the device applies them."""
    x = randn(1, 3, 8, 8)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Clip", ["c", "lo", "hi"], ["r"]),
             helper.make_node("Flatten", ["r"], ["f"]),
             helper.make_node("Gemm", ["f", "gw", "gb"], ["g"], transB=1),
             helper.make_node("HardSigmoid", ["g"], ["y"])]
    inits = {"w": randn(4, 3, 3, 3), "b": randn(4), "lo": np.float32(0), "hi": np.float32(0.8),
             "gw": randn(5, 256), "gb": randn(5)}
    model = build(nodes, [value_info("x", np.float32, x.shape)], [value_info("y", np.float32, None)], inits)
    from pyfw.cli import onnx_to_graph
    import pyfw.format
    data = pyfw.format.to_bytes(onnx_to_graph(model))
    with Interpreter(data, backend="opencl") as it:
        assert set(it.node_backends()) == {"opencl"}
        assert len(it.node_backends()) < len(nodes)  # fused
        got = it.run({"x": x})
    assert_match(got, ort_run(model, {"x": x}), exact=lambda: reference64(model, {"x": x}))


POOL = [
    ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
    ("MaxPool", dict(kernel_shape=[2, 3], strides=[2, 2], ceil_mode=1)),
    ("MaxPool", dict(kernel_shape=[3, 3], dilations=[2, 2])),
    ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
    ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 0, 1, 2], count_include_pad=1)),
    ("AveragePool", dict(kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1, count_include_pad=1)),
]


@pytest.mark.parametrize("case", range(len(POOL)))
def test_pool(case):
    op, attrs = POOL[case]
    run_on_device(*single_op(op, [randn(2, 3, 11, 12)], **attrs))


def test_pool_1d_and_global():
    run_on_device(*single_op("MaxPool", [randn(2, 3, 20)], kernel_shape=[4], strides=[3]))
    run_on_device(*single_op("GlobalAveragePool", [randn(2, 5, 7, 9)]))
    run_on_device(*single_op("GlobalMaxPool", [randn(2, 5, 7, 9)]))


GEMM = [
    dict(a=(37, 19), b=(19, 23)),
    dict(a=(19, 37), b=(23, 19), transA=1, transB=1, alpha=0.5, beta=2.0, c=(23,)),
    dict(a=(5, 64), b=(64, 17), c=(5, 1)),
    dict(a=(16, 16), b=(16, 16), c=(), beta=0.25),
    dict(a=(3, 40), b=(33, 40), transB=1, c=(3, 33)),
]


@pytest.mark.parametrize("case", range(len(GEMM)))
def test_gemm(case):
    g = dict(GEMM[case])
    a, b = randn(*g.pop("a")), randn(*g.pop("b"))
    c = g.pop("c", None)
    run_on_device(*single_op("Gemm", [a, Init(b)] + ([Init(randn(*c))] if c is not None else []), **g))


@pytest.mark.parametrize("shapes", [((37, 19), (19, 23)), ((2, 1, 3, 4), (5, 4, 6)), ((4,), (3, 4, 5)),
                                    ((2, 3, 7, 4), (4,)), ((2, 4, 9, 8), (2, 4, 8, 9))])
def test_matmul(shapes):
    run_on_device(*single_op("MatMul", [randn(*shapes[0]), randn(*shapes[1])]))


def test_batchnorm():
    c = 6
    args = [randn(2, c, 5, 7), Init(randn(c)), Init(randn(c)), Init(randn(c)), Init(np.abs(randn(c)) + 0.5)]
    run_on_device(*single_op("BatchNormalization", args, epsilon=1e-3))


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("opset,axis", [(13, 1), (13, -1), (11, 1)])
def test_softmax(op, opset, axis):
    run_on_device(*single_op(op, [randn(3, 4, 5) * 4], opset=opset, axis=axis))


@pytest.mark.parametrize("axis,bias", [(-1, True), (1, True), (-1, False)])
def test_layernorm(axis, bias):
    x = randn(3, 4, 10)
    n = int(np.prod(x.shape[axis:]))
    shape = x.shape[axis:]
    args = [x, Init(randn(*shape))] + ([Init(randn(*shape))] if bias else [])
    assert np.prod(shape) == n
    run_on_device(*single_op("LayerNormalization", args, axis=axis, epsilon=1e-4))


# ---- graphs across device and CPU ---------------------------------------------------


def mixed_model():
    """Relu (device) -> CumSum (CPU only) -> Sigmoid (device), with the Relu
    output also a graph output and read by both sides."""
    nodes = [helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("CumSum", ["r", "axis"], ["c"]),
             helper.make_node("Sigmoid", ["c"], ["s"]),
             helper.make_node("Add", ["s", "r"], ["y"])]
    model = build(nodes, [value_info("x", np.float32, ["n", 6])],
                  [value_info("y", np.float32, None), value_info("r", np.float32, None)],
                  {"axis": np.array(1, np.int64)})
    return model


def test_unsupported_nodes_run_on_the_cpu_in_between():
    model = mixed_model()
    with Interpreter(to_pfw(model), backend="opencl") as it:
        assert it.node_backends() == ["opencl", "cpu", "opencl", "opencl"]
        assert "3 of 4 nodes" in it.backend_info
        for n in (4, 1, 9):  # new shapes re-plan; repeated runs start from fresh inputs
            x = randn(n, 6)
            assert_match(it.run({"x": x}), ort_run(model, {"x": x}))
            assert_match(it.run({"x": -x}), ort_run(model, {"x": -x}))


def test_profile_counts_device_nodes():
    model = mixed_model()
    with Interpreter(to_pfw(model), backend="opencl") as it:
        it.profiling = True
        it.run({"x": randn(3, 6)})
        it.run({"x": randn(3, 6)})
        assert [p["calls"] for p in it.profile()] == [2, 2, 2, 2]
        # per run: x up, r down (for CumSum), c up (for Sigmoid), y down; r is already on the host
        xfer = it.profile_transfers()
        assert xfer["count"] == 8 and xfer["bytes"] == 8 * 3 * 6 * 4 and xfer["total_ms"] > 0
        it.profiling = True
        assert it.profile_transfers()["count"] == 0
    with Interpreter(to_pfw(model)) as cpu:
        cpu.profiling = True
        cpu.run({"x": randn(3, 6)})
        assert cpu.profile_transfers() == {"count": 0, "bytes": 0, "total_ms": 0.0}


@pytest.mark.parametrize("name", list(models.MODELS))
def test_models_on_device_match_onnxruntime(name):
    """The benchmark CNNs, transformer and MLP, every node on the device,
    within the tolerance the CPU meets (test_models_pytorch_style.py) of
    ONNX Runtime and of pyfw's CPU backend."""
    model = models.MODELS[name]()
    feeds = models.feeds(model)
    want = ort_run(model, feeds)
    data = to_pfw(model)
    with Interpreter(data, backend="opencl") as it:
        assert set(it.node_backends()) <= {"opencl", "plan"}, it.node_backends()
        got = it.run(feeds)
    with Interpreter(data) as cpu:
        on_cpu = cpu.run(feeds)
    for g, w, c in zip(got, want, on_cpu):
        assert g.shape == w.shape and w.std() > 0.1
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4 * np.abs(w).max(), err_msg="vs ONNX Runtime")
        np.testing.assert_allclose(g, c, rtol=1e-4, atol=1e-4 * np.abs(c).max(), err_msg="vs pyfw's CPU backend")


# ---- device selection, errors and the kernel cache (one process each) ----------------

PROBE = """
import json, sys, warnings
import numpy as np
sys.path.insert(0, {tests!r})
from onnx_util import single_op, to_pfw
import pyfw
from pyfw.runtime import Interpreter
model, _ = single_op("Relu", [np.zeros((2, 3), np.float32)])
out = {{}}
for backend in ("opencl", "auto"):
    try:
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            with Interpreter(to_pfw(model), backend=backend) as it:
                y = it.run({{"in0": np.array([[-1, 2, -3], [4, -5, 6]], np.float32)}})[0]
                out[backend] = [it.backend, it.backend_info, y.tolist(), [str(x.message) for x in w]]
    except pyfw.BackendError as e:
        out[backend] = ["error", str(e)]
print(json.dumps(out))
"""


def probe(**env):
    e = {k: v for k, v in os.environ.items() if not k.startswith("PFW_OPENCL")}
    e.update(env)
    r = subprocess.run([sys.executable, "-c", PROBE.format(tests=str(ROOT / "tests"))], env=e,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


RELU = [[0, 2, 0], [4, 0, 6]]


@pytest.mark.no_device
def test_missing_library_is_a_clear_error_and_auto_falls_back(tmp_path):
    out = probe(PFW_OPENCL_LIBRARY=str(tmp_path / "libOpenCL-missing.so"), PFW_OPENCL_CACHE=str(tmp_path))
    assert out["opencl"][0] == "error" and "cannot load" in out["opencl"][1] and "libOpenCL-missing" in out["opencl"][1]
    backend, info, y, warned = out["auto"]
    assert backend == "cpu" and "cannot load" in info and y == RELU
    assert any("cannot load" in w for w in warned)


def test_device_by_name_or_index(tmp_path):
    out = probe(PFW_OPENCL_DEVICE="no-such-device-name", PFW_OPENCL_CACHE=str(tmp_path))
    assert out["opencl"][0] == "error" and "no-such-device-name" in out["opencl"][1]
    # naming a device makes "auto" use it, GPU or not
    out = probe(PFW_OPENCL_DEVICE="0", PFW_OPENCL_CACHE=str(tmp_path))
    assert out["auto"][0] == "opencl" and out["auto"][2] == RELU and out["opencl"][2] == RELU


def test_auto_prefers_a_gpu(tmp_path):
    out = probe(PFW_OPENCL_CACHE=str(tmp_path))
    backend, info, y, warned = out["auto"]
    assert y == RELU
    if backend == "cpu":  # a CPU-only OpenCL (PoCL): auto keeps pyfw's own CPU kernels and says why
        assert "not a GPU" in info and warned
    else:
        assert backend == "opencl" and not warned


def test_kernel_cache(tmp_path):
    cache = tmp_path / "cache"
    first = probe(PFW_OPENCL_CACHE=str(cache))
    assert first["opencl"][2] == RELU and "from the cache" not in first["opencl"][1]
    bins = list(cache.glob("*.bin"))
    assert len(bins) == 1 and bins[0].stat().st_size > 0
    assert not list(cache.glob("*.tmp"))
    second = probe(PFW_OPENCL_CACHE=str(cache))
    assert second["opencl"][2] == RELU and "from the cache" in second["opencl"][1]
    bins[0].write_bytes(b"not a program binary")  # a corrupt entry: built from source again, and replaced
    third = probe(PFW_OPENCL_CACHE=str(cache))
    assert third["opencl"][2] == RELU and "from the cache" not in third["opencl"][1]
    assert bins[0].read_bytes() != b"not a program binary"


GROUP_PROBE = """
import json, sys
import numpy as np
sys.path.insert(0, {tests!r})
from onnx import helper
from onnx_util import build, value_info, to_pfw
import pyfw
from pyfw.runtime import Interpreter
rng = np.random.default_rng(0)
nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
         helper.make_node("Add", ["r", "x"], ["y"])]
model = build(nodes, [value_info("x", np.float32, [8, 8])], [value_info("y", np.float32, [8, 8])],
              inits={{"w": rng.standard_normal((8, 8)).astype(np.float32)}})
x = rng.standard_normal((8, 8)).astype(np.float32)
try:
    with Interpreter(to_pfw(model)) as cpu, Interpreter(to_pfw(model), backend="opencl") as dev:
        want, got = cpu.run({{"x": x}})[0], dev.run({{"x": x}})[0]
        print(json.dumps([dev.node_backends(), float(np.abs(got - want).max())]))
except pyfw.BackendError as e:
    print(json.dumps(["error", str(e)]))
"""


def group_probe(cap):
    e = {k: v for k, v in os.environ.items() if not k.startswith("PFW_OPENCL")}
    e["PFW_OPENCL_MAX_WORK_GROUP"] = cap
    r = subprocess.run([sys.executable, "-c", GROUP_PROBE.format(tests=str(ROOT / "tests"))], env=e,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("cap, matmul_on", [("4096", "opencl"), ("64", "cpu"), ("1", "cpu")])
def test_kernels_the_device_cannot_group_run_on_the_cpu(cap, matmul_on):
    """MatMul's kernel needs groups of 16 x 16: on a device (or kernel) that
    takes fewer, the node runs on the CPU; the rest stay on the device, in
    groups the kernel takes, and the outputs stay the CPU's."""
    backends, err = group_probe(cap)
    assert backends == [matmul_on, "opencl", "opencl"]
    assert err < 1e-5


def test_bad_work_group_cap_is_a_clear_error():
    out = group_probe("lots")
    assert out[0] == "error" and "PFW_OPENCL_MAX_WORK_GROUP='lots'" in out[1]


@pytest.mark.no_device
def test_libpfw_links_no_opencl():
    """OpenCL comes through dlopen only: the library runs where there is none."""
    import pyfw._libpfw as ext
    r = subprocess.run(["readelf", "-d", ext.__file__], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("readelf is not available")
    needed = [line for line in r.stdout.splitlines() if "NEEDED" in line]
    assert needed and not any("OpenCL" in line for line in needed), needed


def test_cli_run_and_bench_on_the_device(tmp_path):
    model = mixed_model()
    path = tmp_path / "m.pfw"
    path.write_bytes(to_pfw(model))
    x = randn(2, 6)
    np.save(tmp_path / "x.npy", x)

    def cli(*args):
        r = subprocess.run([sys.executable, "-m", "pyfw", *map(str, args)], capture_output=True, text=True,
                           timeout=300)
        assert r.returncode == 0, r.stderr
        return r

    r = cli("run", path, "-i", tmp_path / "x.npy", "-o", tmp_path / "out.npz", "--backend", "opencl")
    assert "backend: opencl: 3 of 4 nodes" in r.stderr
    with np.load(tmp_path / "out.npz") as got:
        assert_match([got["y"], got["r"]], ort_run(model, {"x": x}))
    r = cli("bench", path, "--shape", "x=2,6", "--runs", "2", "--backend", "opencl")
    assert "pyfw backend: opencl: 3 of 4 nodes" in r.stdout
    assert "partitions" in r.stdout and "host<->device copies" in r.stdout


def test_a_view_of_a_constant_is_uploaded_once():
    """Reshape of a weight too big to fold stays a view on the CPU; the device
    reads the weight's uploaded bytes, not a fresh copy each run."""
    nodes = [helper.make_node("Reshape", ["w", "shape"], ["wv"]), helper.make_node("MatMul", ["x", "wv"], ["y"])]
    inits = {"w": randn(200, 100), "shape": np.array([100, 200], np.int64)}
    model = build(nodes, [value_info("x", np.float32, [4, 100])], [value_info("y", np.float32, None)], inits)
    x = randn(4, 100)
    with Interpreter(to_pfw(model), backend="opencl") as it:
        assert it.node_backends() == ["cpu", "opencl"]
        it.profiling = True
        for _ in range(3):
            assert_match(it.run({"x": x}), ort_run(model, {"x": x}))
        assert it.profile_transfers()["count"] == 3 * 2  # x up, y down
