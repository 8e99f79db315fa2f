"""pyfw.runtime.Interpreter's Python API: lifecycle, model signature, feed
forms and the errors for bad feeds, paths and options. Outputs are checked
against ONNX Runtime; signatures against the ONNX model."""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper

import pyfw
from onnx_util import assert_match, build, ort_run, to_pfw, value_info
from pyfw.runtime import Interpreter

ROOT = Path(__file__).resolve().parent.parent
rng = np.random.default_rng(11)
f32, i64 = np.float32, np.int64


def two_input_model():
    """y = Relu(a + b) * c (a: [N, 3, 4] dynamic batch, b: [3, 4] fixed), and
    k = Identity(idx) (int64 [2])."""
    nodes = [helper.make_node("Add", ["a", "b"], ["s"], name="add"),
             helper.make_node("Relu", ["s"], ["r"], name="relu"),
             helper.make_node("Mul", ["r", "c"], ["y"], name="scale"),
             helper.make_node("Identity", ["idx"], ["k"], name="ident")]
    inputs = [value_info("a", f32, ["N", 3, 4]), value_info("b", f32, [3, 4]), value_info("idx", i64, [2])]
    outputs = [value_info("y", f32, ["N", 3, 4]), value_info("k", i64, [2])]
    return build(nodes, inputs, outputs, {"c": rng.standard_normal(4).astype(f32)})


MODEL = two_input_model()
DATA = to_pfw(MODEL)


def feeds(batch=2):
    return {"a": rng.standard_normal((batch, 3, 4)).astype(f32),
            "b": rng.standard_normal((3, 4)).astype(f32),
            "idx": np.array([5, -9], i64)}


@pytest.fixture
def it():
    with Interpreter(DATA) as interp:
        yield interp


# ---- lifecycle ---------------------------------------------------------------
def test_context_manager_closes_and_use_after_close_raises():
    with Interpreter(DATA) as it:
        assert not it.closed
        f = feeds()
        assert_match(it.run(f), ort_run(MODEL, f))
    assert it.closed
    with pytest.raises(ValueError, match="closed"):
        it.run(feeds())
    it.close()  # a second close is fine
    assert it.closed


def test_explicit_close_twice():
    it = Interpreter(DATA)
    it.close()
    it.close()
    with pytest.raises(ValueError, match="closed"):
        it.run(feeds())


@pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview", "str_path", "pathlib_path"])
def test_load_from_bytes_and_paths(kind, tmp_path):
    path = tmp_path / "m.pfw"
    path.write_bytes(DATA)
    source = {"bytes": DATA, "bytearray": bytearray(DATA), "memoryview": memoryview(DATA),
              "str_path": str(path), "pathlib_path": path}[kind]
    f = feeds(3)
    with Interpreter(source) as it:
        assert_match(it.run(f), ort_run(MODEL, f))


# ---- signature -----------------------------------------------------------------
def onnx_signature(values):
    out = []
    for vi in values:
        tt = vi.type.tensor_type
        shape = tuple(d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim)
        out.append((vi.name, shape, np.dtype(helper.tensor_dtype_to_np_dtype(tt.elem_type))))
    return out


def test_inputs_and_outputs_describe_the_model(it):
    assert [(i.name, i.shape, i.dtype) for i in it.inputs] == onnx_signature(MODEL.graph.input)
    assert [(o.name, o.shape, o.dtype) for o in it.outputs] == onnx_signature(MODEL.graph.output)


# ---- feed forms ----------------------------------------------------------------
def test_feeds_as_dict_and_list_give_the_same_as_onnxruntime(it):
    f = feeds(3)
    want = ort_run(MODEL, f)
    assert_match(it.run(f), want)
    assert_match(it.run([f["a"], f["b"], f["idx"]]), want)
    assert_match(it.run((f["a"], f["b"], f["idx"])), want)


def test_single_array_for_a_single_input_model():
    model = build([helper.make_node("Sigmoid", ["x"], ["y"])], [value_info("x", f32, [2, 5])],
                  [value_info("y", f32, [2, 5])])
    x = rng.standard_normal((2, 5)).astype(f32)
    with Interpreter(to_pfw(model)) as it:
        assert_match(it.run(x), ort_run(model, {"x": x}))
        assert_match(it.run({"x": x}), ort_run(model, {"x": x}))


def test_outputs_are_fresh_arrays_and_inputs_are_untouched(it):
    f1, f2 = feeds(2), feeds(2)
    kept = {k: v.copy() for k, v in f1.items()}
    first = it.run(f1)
    snapshot = [o.copy() for o in first]
    it.run(f2)
    for a, b in zip(first, snapshot):
        np.testing.assert_array_equal(a, b)
    for k in f1:
        np.testing.assert_array_equal(f1[k], kept[k])


def test_non_contiguous_input(it):
    f = feeds(2)
    f["a"] = rng.standard_normal((4, 3, 8)).astype(f32)[::2, :, ::2]
    assert not f["a"].flags.c_contiguous
    assert_match(it.run(f), ort_run(MODEL, {k: np.ascontiguousarray(v) for k, v in f.items()}))


def test_batch_sizes_replan(it):
    for batch in (1, 5, 2, 9, 1):
        f = feeds(batch)
        assert_match(it.run(f), ort_run(MODEL, f), what=f"batch {batch}")


def test_zero_batch(it):
    f = feeds(0)
    assert_match(it.run(f), ort_run(MODEL, f))


# ---- bad feeds -----------------------------------------------------------------
def test_wrong_input_name_lists_valid_names(it):
    f = feeds()
    f["A"] = f.pop("a")
    with pytest.raises(ValueError) as e:
        it.run(f)
    msg = str(e.value)
    assert "'A'" in msg
    for name in ("a", "b", "idx"):
        assert re.search(rf"\b{name}\b", msg.replace("'A'", "")), msg


def test_missing_input_is_named(it):
    f = feeds()
    del f["b"]
    with pytest.raises(ValueError, match=r"missing input 'b'"):
        it.run(f)


@pytest.mark.parametrize("count", [0, 1, 2, 4])
def test_wrong_input_count(it, count):
    f = feeds()
    values = ([f["a"], f["b"], f["idx"]] + [f["b"]])[:count]
    with pytest.raises(ValueError, match=rf"expected 3 input.*got {count}"):
        it.run(values)


def test_single_array_into_a_three_input_model(it):
    with pytest.raises(ValueError, match="expected 3 input"):
        it.run(feeds()["a"])


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4, 1), ()], ids=["rank2", "rank4", "scalar"])
def test_wrong_rank(it, shape):
    f = feeds()
    f["a"] = np.zeros(shape, f32)
    with pytest.raises(ValueError, match=r"'a'.*rank 3") as e:
        it.run(f)
    assert str(shape) in str(e.value)


@pytest.mark.parametrize("name,shape,dim,want", [("a", (2, 5, 4), 1, 3), ("a", (2, 3, 7), 2, 4),
                                                 ("b", (4, 4), 0, 3), ("idx", (3,), 0, 2)])
def test_wrong_fixed_dimension_names_it(it, name, shape, dim, want):
    f = feeds()
    f[name] = np.zeros(shape, f[name].dtype)
    with pytest.raises(ValueError) as e:
        it.run(f)
    msg = str(e.value)
    assert f"'{name}'" in msg
    assert f"dimension {dim}" in msg and f"must be {want}" in msg, msg
    assert str(shape) in msg, msg


@pytest.mark.parametrize("name,given", [("a", np.float64), ("a", np.float16), ("b", np.int32),
                                        ("idx", np.int32), ("idx", np.float32)])
def test_wrong_dtype_is_a_type_error_without_silent_cast(it, name, given):
    f = feeds()
    f[name] = f[name].astype(given)
    with pytest.raises(TypeError) as e:
        it.run(f)
    want = {"a": "float32", "b": "float32", "idx": "int64"}[name]
    msg = str(e.value)
    assert f"'{name}'" in msg and want in msg and np.dtype(given).name in msg, msg


def test_interpreter_still_works_after_a_rejected_feed(it):
    f = feeds()
    with pytest.raises(TypeError):
        it.run({**f, "a": f["a"].astype(np.float64)})
    with pytest.raises(ValueError):
        it.run({**f, "b": np.zeros((2, 4), f32)})
    assert_match(it.run(f), ort_run(MODEL, f))


def test_feeds_of_the_wrong_kind(it):
    with pytest.raises(TypeError):
        it.run(42)


# ---- bad paths and options -------------------------------------------------------
def test_nonexistent_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pfw"):
        Interpreter(tmp_path / "nope.pfw")


@pytest.mark.parametrize("content", [b"hello, this is not a model at all\n", b"", b"PFW1"],
                         ids=["text", "empty", "just_identifier"])
def test_non_pfw_file(tmp_path, content):
    path = tmp_path / "bad.pfw"
    path.write_bytes(content)
    with pytest.raises(pyfw.InvalidModelError) as e:
        Interpreter(path)
    assert str(e.value)


def test_onnx_file_is_not_a_pfw_file(tmp_path):
    path = tmp_path / "model.onnx"
    onnx.save(MODEL, path)
    with pytest.raises(pyfw.InvalidModelError, match="PFW1|pfw"):
        Interpreter(path)


def test_directory_is_not_a_model(tmp_path):
    with pytest.raises((OSError, pyfw.InvalidModelError)) as e:
        Interpreter(tmp_path)
    assert str(e.value)


def test_unknown_backend():
    with pytest.raises(ValueError, match="backend"):
        Interpreter(DATA, backend="cuda")


@pytest.mark.parametrize("threads", [0, -1, 1.5, True, "2"])
def test_bad_thread_counts(threads):
    with pytest.raises(ValueError, match="threads"):
        Interpreter(DATA, threads=threads)


@pytest.mark.parametrize("threads", [1, 2, 3, 8])
def test_thread_counts_agree(threads):
    f = feeds(4)
    with Interpreter(DATA, threads=threads) as it:
        assert_match(it.run(f), ort_run(MODEL, f))


@pytest.mark.parametrize("limit", [0, -1, 2**64, 1.5, True, "1000"])
def test_bad_arena_limits(limit):
    with pytest.raises(ValueError, match="arena_limit"):
        Interpreter(DATA, arena_limit=limit)


def test_arena_limit_refuses_a_plan_that_needs_more():
    """Batch 64 needs 64*3*4*4 bytes of input a plus the activations; the
    limit is checked when the plan is made, and a smaller batch fits again."""
    f = feeds(64)
    with Interpreter(DATA, arena_limit=4096) as it:
        with pytest.raises(pyfw.UnsupportedError, match=r"limit of 4096 bytes"):
            it.run(f)
        small = feeds(2)
        assert_match(it.run(small), ort_run(MODEL, small))


def folding_model(n):
    """n ConstantOfShape nodes of 16384 floats (64 KiB each, values 1..n),
    summed: every value is computed while planning."""
    nodes = [helper.make_node("ConstantOfShape", [f"shape{i}"], [f"c{i}"],
                              value=helper.make_tensor("v", onnx.TensorProto.FLOAT, [1], [float(i + 1)]))
             for i in range(n)]
    nodes.append(helper.make_node("Sum", [f"c{i}" for i in range(n)], ["y"]))
    inits = {f"shape{i}": np.array([16384], i64) for i in range(n)}
    return build(nodes, [], [value_info("y", f32, [16384])], inits)


def test_values_folded_while_planning_count_against_the_arena_limit():
    model = folding_model(40)  # 41 folded values of 64 KiB: 2.6 MB
    data = to_pfw(model)
    with Interpreter(data) as it:
        assert_match(it.run({}), ort_run(model, {}))
    with pytest.raises(pyfw.UnsupportedError, match=r"values computed while planning need more than the memory"):
        Interpreter(data, arena_limit=1 << 20)
    with Interpreter(data, arena_limit=4 << 20) as it:
        assert_match(it.run({}), ort_run(model, {}))


EMPTY_CHILD = r"""
import sys
import numpy as np
from onnx import helper
sys.path.insert(0, "tests")
from onnx_util import build, to_pfw, value_info
from pyfw.runtime import Interpreter
N = 2**40
node = helper.make_node("GridSample", ["x", "grid"], ["y"])
model = build([node], [value_info("x", np.float32, ["N", 0, 3, 2]), value_info("grid", np.float32, ["N", 0, 3, 2])],
              [value_info("y", np.float32, None)])
x = np.zeros((N, 0, 3, 2), np.float32)
with Interpreter(to_pfw(model)) as it:
    (y,) = it.run({"x": x, "grid": x})
print(list(y.shape))
"""


def test_empty_output_returns_without_walking_the_other_dims():
    """GridSample over (2^40, 0, 3, 2): an empty output of 2^40 images of
    nothing (once a loop over all of them); a child with a time limit."""
    p = subprocess.run([sys.executable, "-c", EMPTY_CHILD], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.split() == ["[1099511627776,", "0,", "0,", "3]"], p.stdout  # (N, C, H_out, W_out)


def test_metadata_names_the_producer(it):
    assert "pyfw" in it.metadata("producer")
    assert it.metadata("no-such-key") is None


INT_DIV_CHILD = r"""
import sys
import numpy as np
sys.path.insert(0, "tests")
from onnx_util import single_op, to_pfw
from pyfw.runtime import Interpreter
dtype = np.dtype(sys.argv[1])
lo = np.iinfo(dtype).min
model, _ = single_op("Div", [np.zeros(3, dtype), np.ones(3, dtype)])
with Interpreter(to_pfw(model)) as it:
    try:
        it.run([np.array([1, 2, 3], dtype), np.array([1, 0, 1], dtype)])
        print("no error")
    except ValueError as e:
        print("ValueError:", e)
    (q,) = it.run([np.array([lo, 7, -7], dtype), np.array([-1, -1, 2], dtype)])
    print("MIN/-1:", q.tolist())
"""


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_integer_division_by_zero_is_an_error_not_a_signal(dtype):
    """Run in a child: x86 traps on integer division by zero and on MIN / -1."""
    p = subprocess.run([sys.executable, "-c", INT_DIV_CHILD, dtype], cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, f"child ended with {p.returncode}: {p.stderr[-2000:]}"
    lines = p.stdout.splitlines()
    assert lines[0].startswith("ValueError:") and "division by zero" in lines[0], lines
    lo = np.iinfo(dtype).min
    # MIN / -1 overflows; the runtime wraps (two's complement), as NumPy does; -7 / 2 truncates.
    assert lines[1] == f"MIN/-1: {[lo, -7, -3]}", lines



def test_resize_that_breaks_a_later_node_names_it_and_recovers():
    """x [N, 4] + c [3, 4]: N=1 and N=3 broadcast, N=2 does not."""
    model = build([helper.make_node("Add", ["x", "c"], ["y"], name="add_c")],
                  [value_info("x", f32, ["N", 4])], [value_info("y", f32, [3, 4])],
                  {"c": rng.standard_normal((3, 4)).astype(f32)})
    with Interpreter(to_pfw(model)) as it:
        with pytest.raises(ValueError, match="add_c"):
            it.run(np.zeros((2, 4), f32))
        for batch in (3, 1):
            x = rng.standard_normal((batch, 4)).astype(f32)
            assert_match(it.run(x), ort_run(model, {"x": x}))


def test_model_valid_only_for_some_batch_sizes_loads():
    """x [N, 4] -> Reshape [-1, 5] is valid for N = 5, 10, ... (ONNX Runtime
    loads and runs it); N=3 gives 12 elements, which 5 does not divide."""
    model = build([helper.make_node("Reshape", ["x", "shape"], ["y"], name="to_fives")],
                  [value_info("x", f32, ["N", 4])], [value_info("y", f32, [-1, 5])],
                  {"shape": np.array([-1, 5], i64)})
    with Interpreter(to_pfw(model)) as it:
        for batch in (5, 10):
            x = rng.standard_normal((batch, 4)).astype(f32)
            assert_match(it.run(x), ort_run(model, {"x": x}))
        with pytest.raises(ValueError, match="to_fives"):
            it.run(np.zeros((3, 4), f32))


def test_bfloat16_feeds_and_outputs_are_numpy_bfloat16():
    """bfloat16 inputs and outputs travel as NumPy arrays of ml_dtypes' bfloat16 (which
    onnx installs); ml_dtypes' own rounding is the oracle for the casts."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    import onnx
    from onnx import TensorProto, helper

    from pyfw.runtime import Interpreter

    nodes = [helper.make_node("Cast", ["x"], ["b"], to=TensorProto.BFLOAT16),
             helper.make_node("Cast", ["y"], ["f"], to=TensorProto.FLOAT)]
    g = helper.make_graph(nodes, "bf16", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [5]),
                                          helper.make_tensor_value_info("y", TensorProto.BFLOAT16, [3])],
                          [helper.make_tensor_value_info("b", TensorProto.BFLOAT16, [5]),
                           helper.make_tensor_value_info("f", TensorProto.FLOAT, [3])])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 19)])
    x = np.array([1.0, -2.5, 3.14159, 1e-3, 65504.0], np.float32)
    y = np.array([0.5, -7.0, 100.0], ml_dtypes.bfloat16)
    with Interpreter(to_pfw(model)) as it:
        assert it.inputs[1].dtype == np.dtype(ml_dtypes.bfloat16)
        b, f = it.run({"x": x, "y": y})
    assert b.dtype == np.dtype(ml_dtypes.bfloat16)
    np.testing.assert_array_equal(b.view(np.uint16), x.astype(ml_dtypes.bfloat16).view(np.uint16))
    np.testing.assert_array_equal(f, y.astype(np.float32))
