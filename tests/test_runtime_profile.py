"""Per-node profiling through pyfw.runtime.Interpreter (pfw.h's
pfw_interpreter_set_profiling / profile_count / profile_entry)."""
import time

import numpy as np
import pytest
from onnx import helper

from onnx_util import build, to_pfw, value_info
from pyfw._libpfw import ffi, lib
from pyfw.runtime import Interpreter

rng = np.random.default_rng(5)
f32 = np.float32


def model():
    """y = Softmax(Relu(x @ w) * (c + c)); `twice` has only constant inputs,
    so the runtime computes it while planning and invoke never runs it."""
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"], name="mm"),
             helper.make_node("Relu", ["m"], ["r"], name="relu"),
             helper.make_node("Add", ["c", "c"], ["c2"], name="twice"),
             helper.make_node("Mul", ["r", "c2"], ["s"], name="scale"),
             helper.make_node("Softmax", ["s"], ["y"], name="softmax", axis=-1)]
    inits = {"w": rng.standard_normal((32, 16)).astype(f32), "c": rng.standard_normal(16).astype(f32)}
    return build(nodes, [value_info("x", f32, [4, 32])], [value_info("y", f32, [4, 16])], inits)


MODEL = model()
DATA = to_pfw(MODEL)
X = {"x": rng.standard_normal((4, 32)).astype(f32)}


def test_counts_per_node_and_totals_within_wall_time():
    with Interpreter(DATA) as it:
        assert not it.profiling
        it.run(X)  # not profiled
        assert all(e["calls"] == 0 and e["total_ms"] == 0 for e in it.profile())
        it.profiling = True
        runs = 7
        t0 = time.perf_counter()
        for _ in range(runs):
            it.run(X)
        wall_ms = (time.perf_counter() - t0) * 1e3
        prof = it.profile()
    assert [(e["name"], e["op_type"]) for e in prof] == [(n.name, n.op_type) for n in MODEL.graph.node]
    calls = {e["name"]: e["calls"] for e in prof}
    assert calls == {"mm": runs, "relu": runs, "twice": 0, "scale": runs, "softmax": runs}
    assert all(e["total_ms"] >= 0 for e in prof)
    assert sum(e["total_ms"] for e in prof) <= wall_ms


def test_enable_resets_and_disable_keeps_counters():
    with Interpreter(DATA, threads=2) as it:
        it.profiling = True
        for _ in range(3):
            it.run(X)
        it.profiling = False
        it.run(X)
        assert not it.profiling
        assert it.profile()[0]["calls"] == 3
        it.profiling = True
        it.run(X)
        assert [e["calls"] for e in it.profile()] == [1, 1, 0, 1, 1]


def test_errors_name_the_call_and_index():
    with Interpreter(DATA) as it:
        op, name = ffi.new("const char**"), ffi.new("const char**")
        calls, ms = ffi.new("int64_t*"), ffi.new("double*")
        assert lib.pfw_interpreter_profile_entry(it._it, 5, op, name, calls, ms) == lib.PFW_ERR_INVALID_ARGUMENT
        assert ffi.string(lib.pfw_last_error()).decode() == \
            "profile entry index 5 out of range (the graph has 5 nodes)"
        assert lib.pfw_interpreter_profile_entry(it._it, 0, op, ffi.NULL, calls, ms) == lib.PFW_ERR_INVALID_ARGUMENT
        assert "pfw_interpreter_profile_entry: NULL argument" in ffi.string(lib.pfw_last_error()).decode()
    count = ffi.new("int32_t*")
    assert lib.pfw_interpreter_profile_count(ffi.NULL, count) == lib.PFW_ERR_INVALID_ARGUMENT
    assert "pfw_interpreter_profile_count" in ffi.string(lib.pfw_last_error()).decode()
    assert lib.pfw_interpreter_set_profiling(ffi.NULL, 1) == lib.PFW_ERR_INVALID_ARGUMENT
    assert "interpreter is NULL" in ffi.string(lib.pfw_last_error()).decode()
    with pytest.raises(ValueError, match="closed"):
        it.profile()
    with pytest.raises(ValueError, match="closed"):
        it.profiling = True
