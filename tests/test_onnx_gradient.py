"""The Gradient op (ai.onnx.preview.training), run by libpfw as the standard
ops of its backward pass, against central finite differences of the forward
graph, which ONNX Runtime evaluates in float64 (ORT has no Gradient kernel),
or against closed forms."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx_util import ort_run, pfw_run, to_pfw

import pyfw

TRAINING = "ai.onnx.preview.training"
F64 = TensorProto.DOUBLE


def model(nodes, inputs: dict, outputs: list[str], inits=None, elem=F64):
    """Graph inputs {name: shape} of type elem; outputs are left to inference."""
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(k, elem, s) for k, s in inputs.items()],
                          [helper.make_tensor_value_info(o, elem, None) for o in outputs],
                          [numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(TRAINING, 1)])
    m.ir_version = 10
    return m


def grad_node(xs, y, inputs=None, outputs=None, zs=()):
    return helper.make_node("Gradient", list(inputs or list(xs) + list(zs)), outputs or [f"d_{x}" for x in xs],
                            domain=TRAINING, xs=list(xs), y=y, **({"zs": list(zs)} if zs else {}))


def finite_differences(forward, feeds: dict, x: str, y: str, h=1e-6) -> np.ndarray:
    """d sum(y) / d x by central differences, the forward model run by ONNX Runtime."""
    base = feeds[x]
    out = np.zeros_like(base)
    for k in range(base.size):
        vals = []
        for step in (h, -h):
            moved = base.copy()
            moved.flat[k] += step
            vals.append(ort_run(forward, {**feeds, x: moved})[0].sum())
        out.flat[k] = (vals[0] - vals[1]) / (2 * h)
    return out


def check_against_fd(nodes, inputs: dict, feeds: dict, xs, y: str, inits=None, elem=F64):
    """pyfw's Gradient (of float64 inputs, or float32 ones: elem) against
    finite differences in float64."""
    forward = model(nodes, inputs, [y], inits)
    full = model(nodes + [grad_node(xs, y)], inputs, [f"d_{x}" for x in xs], inits, elem)
    dtype = helper.tensor_dtype_to_np_dtype(elem)
    got = pfw_run(to_pfw(full), {k: v.astype(dtype) for k, v in feeds.items()})
    # float32 values and gradients carry float32 rounding (2^-24 relative) through a few ops.
    rtol, atol = (1e-6, 1e-7) if elem == F64 else (1e-5, 1e-6)
    for x, g in zip(xs, got):
        want = finite_differences(forward, {k: v.astype(dtype).astype(np.float64) for k, v in feeds.items()}, x, y)
        assert g.shape == np.shape(feeds[x]) and g.dtype == dtype, x
        np.testing.assert_allclose(g, want, rtol=rtol, atol=atol, err_msg=f"d sum({y}) / d {x}")


def rand(*shape, lo=-1.0, hi=1.0, seed=0):
    return np.random.default_rng(seed + sum(shape)).uniform(lo, hi, shape)


def test_broadcasting_arithmetic():
    n = helper.make_node
    nodes = [n("Add", ["a", "b"], ["t1"]), n("Mul", ["t1", "a"], ["t2"]), n("Sub", ["t2", "c"], ["t3"]),
             n("Div", ["t3", "d"], ["y"])]
    shapes = {"a": [2, 3, 4], "b": [4], "c": [3, 1], "d": [1, 4]}
    feeds = {"a": rand(2, 3, 4), "b": rand(4), "c": rand(3, 1), "d": rand(1, 4, lo=0.5, hi=2)}
    check_against_fd(nodes, shapes, feeds, ["a", "b", "c", "d"], "y")


def test_broadcast_found_at_run_time():
    """Symbolic dims: whether b (K, 3) is broadcast along axis 0 of a (N, 3)
    is only known when run (here K = 1, N = 4)."""
    nodes = [helper.make_node("Mul", ["a", "b"], ["t"]), helper.make_node("Sub", ["t", "b"], ["y"])]
    feeds = {"a": rand(4, 3), "b": rand(1, 3, seed=5)}
    check_against_fd(nodes, {"a": ["N", 3], "b": ["K", 3]}, feeds, ["a", "b"], "y")


def test_activations_and_pow():
    n = helper.make_node
    nodes = [n("Relu", ["x"], ["r"]), n("Sigmoid", ["x"], ["s"]), n("Tanh", ["s"], ["t"]), n("Exp", ["t"], ["e"]),
             n("Log", ["e"], ["l"]), n("Sqrt", ["e"], ["q"]), n("Neg", ["q"], ["nq"]), n("Identity", ["r"], ["i"]),
             n("Pow", ["e", "p"], ["pw"]), n("Sum", ["i"], ["i1"]), n("Add", ["i1", "l"], ["u"]),
             n("Add", ["u", "nq"], ["v"]), n("Mul", ["v", "pw"], ["y"])]
    x = rand(3, 5)
    x[np.abs(x) < 0.05] = 0.3  # keep the differences away from Relu's kink
    check_against_fd(nodes, {"x": [3, 5], "p": [5]}, {"x": x, "p": rand(5, lo=0.5, hi=2)}, ["x", "p"], "y")


@pytest.mark.parametrize("sa, sb", [((2, 3, 4), (4, 5)), ((1, 3, 4), (2, 4, 5)), ((3, 4), (4, 2))])
def test_matmul(sa, sb):
    nodes = [helper.make_node("MatMul", ["a", "b"], ["m"]), helper.make_node("Mul", ["m", "m"], ["y"])]
    check_against_fd(nodes, {"a": list(sa), "b": list(sb)}, {"a": rand(*sa), "b": rand(*sb, seed=3)}, ["a", "b"], "y")


@pytest.mark.parametrize("ta, tb", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_gemm(ta, tb):
    sa, sb = ((4, 3) if ta else (3, 4)), ((5, 4) if tb else (4, 5))
    nodes = [helper.make_node("Gemm", ["a", "b", "c"], ["g"], alpha=0.7, beta=1.3, transA=ta, transB=tb),
             helper.make_node("Tanh", ["g"], ["y"])]
    feeds = {"a": rand(*sa), "b": rand(*sb, seed=5), "c": rand(5, seed=9)}
    # libpfw's Gemm is float32 (as ONNX Runtime's CPU kernel); the differences are float64.
    check_against_fd(nodes, {"a": list(sa), "b": list(sb), "c": [5]}, feeds, ["a", "b", "c"], "y",
                     elem=TensorProto.FLOAT)


@pytest.mark.parametrize("keepdims", [0, 1])
def test_shape_ops_and_reductions(keepdims):
    n = helper.make_node
    nodes = [n("Transpose", ["x"], ["t"], perm=[2, 0, 1]), n("Reshape", ["t", "shape"], ["r"]),
             n("ReduceSum", ["r", "axes"], ["s"], keepdims=keepdims), n("Mul", ["s", "s"], ["s2"]),
             n("ReduceMean", ["x"], ["m"], axes=[1], keepdims=keepdims), n("Exp", ["m"], ["me"]),
             n("ReduceSum", ["s2"], ["a1"], keepdims=0), n("ReduceSum", ["me"], ["a2"], keepdims=0),
             n("Add", ["a1", "a2"], ["y"])]
    inits = {"shape": np.array([4, 6], np.int64), "axes": np.array([0], np.int64)}
    check_against_fd(nodes, {"x": [2, 3, 4]}, {"x": rand(2, 3, 4)}, ["x"], "y", inits)


def test_cast_passes_the_gradient_through():
    """y = float64(float32(x)) * w: dy/dw is x rounded to float32, and dy/dx
    is w, which flows back through the float32 value (rounded to it, as
    PyTorch's backward of a cast has it)."""
    nodes = [helper.make_node("Cast", ["x"], ["x32"], to=TensorProto.FLOAT),
             helper.make_node("Cast", ["x32"], ["x64"], to=F64), helper.make_node("Mul", ["x64", "w"], ["y"])]
    feeds = {"x": rand(6), "w": rand(6, seed=2)}
    dx, dw = pfw_run(to_pfw(model(nodes + [grad_node(["x", "w"], "y")], {"x": [6], "w": [6]}, ["d_x", "d_w"])),
                     feeds)
    np.testing.assert_array_equal(dx, feeds["w"].astype(np.float32).astype(np.float64))
    np.testing.assert_array_equal(dw, feeds["x"].astype(np.float32).astype(np.float64))


def test_at_other_values_and_zeros_for_unused_x():
    """Gradient's inputs give the point: d sum(x * x) / dx at x_at is 2 x_at
    (the forward part is computed again from x_at); y does not depend on u."""
    nodes = [helper.make_node("Mul", ["x", "x"], ["y"]),
             grad_node(["x", "u"], "y", inputs=["x_at", "u"], outputs=["dx", "du"])]
    feeds = {"x": rand(2, 3), "x_at": rand(2, 3, seed=7), "u": rand(4)}
    y, dx, du = pfw_run(to_pfw(model(nodes, {"x": [2, 3], "x_at": [2, 3], "u": [4]}, ["y", "dx", "du"])), feeds)
    np.testing.assert_array_equal(y, feeds["x"] * feeds["x"])
    np.testing.assert_array_equal(dx, 2 * feeds["x_at"])
    np.testing.assert_array_equal(du, np.zeros(4))


def test_zs_are_held_and_outputs_may_be_left_out():
    """ONNX's example: H = W * X, Y = H Z, X in zs; the first output left out."""
    n = helper.make_node
    nodes = [n("Mul", ["w", "xin"], ["h"]), n("MatMul", ["h", "z"], ["y"])]
    shapes = {"w": [2, 3], "xin": [2, 3], "z": [3, 4]}
    feeds = {"w": rand(2, 3), "xin": rand(2, 3, seed=4), "z": rand(3, 4, seed=8)}
    full = model(nodes + [grad_node(["w", "z"], "y", zs=["xin"], outputs=["", "dz"])], shapes, ["dz"])
    (dz,) = pfw_run(to_pfw(full), feeds)
    # d sum(H Z) / dZ = H^T 1
    np.testing.assert_allclose(dz, (feeds["w"] * feeds["xin"]).T @ np.ones((2, 4)), rtol=1e-12)


def test_an_op_without_a_gradient_is_named():
    nodes = [helper.make_node("Softmax", ["x"], ["y"], name="sm"), grad_node(["x"], "y")]
    with pytest.raises(pyfw.UnsupportedError, match="'sm' \\(Softmax\\).*no gradient for Softmax"):
        to_pfw(model(nodes, {"x": [2, 3]}, ["d_x"]))


def test_wrong_input_count_is_invalid():
    nodes = [helper.make_node("Neg", ["x"], ["y"]),
             helper.make_node("Gradient", ["x", "x"], ["dx"], domain=TRAINING, xs=["x"], y="y")]
    with pytest.raises(pyfw.InvalidModelError, match="Gradient.*2 inputs for 1 xs"):
        to_pfw(model(nodes, {"x": [2]}, ["dx"]))


def test_at_values_of_another_shape():
    """Evaluated at b2 of shape (1, 4) for b of (3, 4): b2's gradient sums
    over the rows it is broadcast along (found at run time)."""
    nodes = [helper.make_node("Add", ["a", "b"], ["y"]),
             grad_node(["a", "b"], "y", inputs=["a2", "b2"], outputs=["da", "db"])]
    feeds = {"a": rand(3, 4), "b": rand(3, 4, seed=1), "a2": rand(3, 4, seed=2), "b2": rand(1, 4, seed=3)}
    shapes = {"a": [3, 4], "b": [3, 4], "a2": [3, 4], "b2": [1, 4]}
    da, db = pfw_run(to_pfw(model(nodes, shapes, ["da", "db"])), feeds)
    np.testing.assert_array_equal(da, np.ones((3, 4)))
    np.testing.assert_array_equal(db, np.full((1, 4), 3.0))


def test_deep_chain_float16_and_empty_dims():
    """600 nodes deep (no recursion limit); float16 gradients from two paths
    (added, not Sum, which libpfw runs on float32/float64 only); 0-sized
    broadcast and reduced axes."""
    n = helper.make_node
    nodes = [n("Neg", [f"t{k}"], [f"t{k + 1}"]) for k in range(600)] + [n("Identity", ["t600"], ["y"]),
                                                                          grad_node(["t0"], "y")]
    (d,) = pfw_run(to_pfw(model(nodes, {"t0": [2]}, ["d_t0"])), {"t0": rand(2)})
    np.testing.assert_array_equal(d, np.ones(2))
    half = model([n("Mul", ["x", "x"], ["y"]), grad_node(["x"], "y")], {"x": [4]}, ["d_x"], elem=TensorProto.FLOAT16)
    x = np.array([0, 1, 2, 3], np.float16)
    np.testing.assert_array_equal(pfw_run(to_pfw(half), {"x": x})[0], 2 * x)
    empty = model([n("Add", ["a", "b"], ["t"]), n("ReduceSum", ["t"], ["y"], axes=[0], keepdims=0),
                   grad_node(["a", "b"], "y")], {"a": [2, 0], "b": [0]}, ["d_a", "d_b"], )
    da, db = pfw_run(to_pfw(empty), {"a": np.ones((2, 0)), "b": np.ones(0)})
    assert da.shape == (2, 0) and db.shape == (0,)


@pytest.mark.parametrize("case, error, match", [
    ("later_output", pyfw.UnsupportedError, "depends on 's1', an output of node 'sp' \\(Split\\) after its first"),
    ("twice", pyfw.InvalidModelError, "a name appears twice in xs and zs"),
    ("opset8", pyfw.UnsupportedError, "opset 9 or later"),
    ("in_branch", pyfw.UnsupportedError, "y 'y' is not computed in the Gradient's own graph"),
])
def test_what_it_cannot_do_is_refused(case, error, match):
    n = helper.make_node
    if case == "later_output":
        nodes = [n("Split", ["x"], ["s0", "s1"], name="sp", axis=0), n("Mul", ["s1", "s1"], ["y"]), grad_node(["x"], "y")]
        m = model(nodes, {"x": [4]}, ["d_x"])
    elif case == "twice":
        m = model([n("Neg", ["x"], ["y"]), grad_node(["x", "x"], "y")], {"x": [2]}, ["d_x", "d_x2"])
        m.graph.node[1].output[1] = "d_x2"
    elif case == "opset8":
        m = model([n("Neg", ["x"], ["y"]), grad_node(["x"], "y")], {"x": [2]}, ["d_x"])
        m.opset_import[0].version = 8
    else:
        then = helper.make_graph([grad_node(["x"], "y", outputs=["g"])], "then", [],
                                 [helper.make_tensor_value_info("g", F64, [2])])
        other = helper.make_graph([helper.make_node("Identity", ["x"], ["g2"])], "else", [],
                                  [helper.make_tensor_value_info("g2", F64, [2])])
        nodes = [n("Mul", ["x", "x"], ["y"]), n("If", ["c"], ["d_x"], then_branch=then, else_branch=other)]
        m = model(nodes, {"x": [2]}, ["d_x"])
        m.graph.input.append(helper.make_tensor_value_info("c", TensorProto.BOOL, []))
    with pytest.raises(error, match=match):
        to_pfw(m)
