"""pyfw.ir.passes: every pass keeps the outputs. Each test builds an ONNX
model, runs it through ONNX Runtime (the oracle) and through libpfw before and
after the pass, and checks both against ONNX Runtime, plus that the pass did
change the graph as it should."""
from collections import Counter

import numpy as np
import onnx
import pytest
from onnx import helper

import pyfw.format
import pyfw.ir
import pyfw.onnx
from onnx_util import assert_match, build, ort_run, pfw_run, reference64, value_info
from pyfw import InvalidModelError
from pyfw.ir import passes
from pyfw.ir.passes import optimize

rng = np.random.default_rng(7)
f32 = np.float32


def randn(*shape):
    return rng.standard_normal(shape).astype(f32)


def imported(model):
    g = pyfw.onnx.import_model(model)
    pyfw.ir.infer_shapes(g)
    return g


def run(graph, feeds):
    return pfw_run(pyfw.format.to_bytes(graph), feeds)


def ops(graph):
    return Counter(n.op_type for n in graph.nodes)


def check_pass(model, feeds, transform):
    """Runs the model's graph before and after `transform` through libpfw,
    compares both with ONNX Runtime, and returns (before, after) graphs."""
    want = ort_run(model, feeds)
    before = imported(model)
    after = transform(before)
    after.validate()
    for g in (before, after):
        assert_match(run(g, feeds), want, exact=lambda: reference64(model, feeds))
    assert after.inputs == before.inputs and after.outputs == before.outputs
    return before, after


# ---- folding -------------------------------------------------------------------
def shape_model():
    """y = Reshape(x, Concat(Shape(x)[0], -1)) * (c1 + c2): a shape computation and
    a constant sub-expression."""
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", "i0"], ["n"], axis=0),
             helper.make_node("Unsqueeze", ["n", "ax0"], ["n1"]),
             helper.make_node("Concat", ["n1", "minus1"], ["shape"], axis=0),
             helper.make_node("Reshape", ["x", "shape"], ["r"]),
             helper.make_node("Add", ["c1", "c2"], ["c"]),
             helper.make_node("Mul", ["r", "c"], ["y"])]
    inits = {"i0": np.asarray(0, np.int64), "ax0": np.asarray([0], np.int64),
             "minus1": np.asarray([-1], np.int64), "c1": randn(12), "c2": randn(12)}
    model = build(nodes, [value_info("x", f32, [2, 3, 4])], [value_info("y", f32, None)], inits)
    return model, {"x": randn(2, 3, 4)}


def test_fold_shapes_then_constants_leaves_only_the_data_path():
    model, feeds = shape_model()
    _, shaped = check_pass(model, feeds, passes.fold_shapes)
    assert "Shape" not in ops(shaped)
    before, folded = check_pass(model, feeds, lambda g: passes.fold_constants(passes.fold_shapes(g)))
    assert ops(folded) == Counter({"Reshape": 1, "Mul": 1})
    shape = [n for n in folded.nodes if n.op_type == "Reshape"][0].inputs[1]
    np.testing.assert_array_equal(folded.tensors[shape].data, [2, -1])
    c = [n for n in folded.nodes if n.op_type == "Mul"][0].inputs[1]
    np.testing.assert_array_equal(folded.tensors[c].data, model_init(model, "c1") + model_init(model, "c2"))


def model_init(model, name):
    return next(onnx.numpy_helper.to_array(i) for i in model.graph.initializer if i.name == name)


def test_fold_shapes_keeps_dynamic_shapes():
    nodes = [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Cast", ["s"], ["y"], to=1)]
    model = build(nodes, [value_info("x", f32, ["N", 3])], [value_info("y", f32, [2])])
    _, after = check_pass(model, {"x": randn(5, 3)}, lambda g: optimize(g, 1))
    assert ops(after) == Counter({"Shape": 1, "Cast": 1})


def test_fold_constants_runs_constant_of_shape_and_slices_in_libpfw():
    nodes = [helper.make_node("ConstantOfShape", ["dims"], ["w"],
                              value=onnx.numpy_helper.from_array(np.asarray([0.5], f32))),
             helper.make_node("Slice", ["w", "st", "en"], ["ws"]),
             helper.make_node("MatMul", ["x", "ws"], ["y"])]
    inits = {"dims": np.asarray([4, 6], np.int64), "st": np.asarray([1], np.int64), "en": np.asarray([5], np.int64)}
    model = build(nodes, [value_info("x", f32, [2, 3])], [value_info("y", f32, None)], inits)
    _, after = check_pass(model, {"x": randn(2, 3)}, passes.fold_constants)
    assert ops(after) == Counter({"MatMul": 1})
    np.testing.assert_array_equal(after.tensors[after.nodes[0].inputs[1]].data, np.full((3, 6), 0.5, f32))


def test_constant_graph_output_is_still_computed_by_a_node():
    nodes = [helper.make_node("Add", ["a", "b"], ["y"]), helper.make_node("Relu", ["x"], ["z"])]
    model = build(nodes, [value_info("x", f32, [2])], [value_info("y", f32, None), value_info("z", f32, None)],
                  {"a": randn(2), "b": randn(2)})
    _, after = check_pass(model, {"x": randn(2)}, lambda g: optimize(g))
    assert ops(after) == Counter({"Add": 1, "Relu": 1})


# ---- clean-up ---------------------------------------------------------------------
def test_identities_and_dead_nodes_go_output_names_stay():
    nodes = [helper.make_node("Identity", ["x"], ["a"]),
             helper.make_node("Relu", ["a"], ["b"]),
             helper.make_node("Identity", ["b"], ["y"]),          # graph output: Relu writes y
             helper.make_node("Sigmoid", ["a"], ["unused"]),      # dead
             helper.make_node("Mul", ["unused", "w"], ["unused2"]),  # dead, with a constant only it reads
             helper.make_node("Identity", ["x"], ["x_copy"])]      # input -> output: must stay
    model = build(nodes, [value_info("x", f32, [3, 4])],
                  [value_info("y", f32, None), value_info("x_copy", f32, None)], {"w": randn(4)})
    feeds = {"x": randn(3, 4)}
    _, after = check_pass(model, feeds, lambda g: passes.remove_dead_nodes(passes.remove_identities(g)))
    assert ops(after) == Counter({"Relu": 1, "Identity": 1})
    assert after.nodes[0].outputs == ["y"] and "w" not in after.tensors
    assert [i.name for i in pfw_interp_outputs(after)] == ["y", "x_copy"]


def pfw_interp_outputs(graph):
    from pyfw.runtime import Interpreter
    with Interpreter(pyfw.format.to_bytes(graph)) as it:
        return list(it.outputs)


def test_common_subexpressions_merge():
    nodes = [helper.make_node("Relu", ["x"], ["r1"]),
             helper.make_node("Relu", ["x"], ["r2"]),
             helper.make_node("Mul", ["r1", "k1"], ["m1"]),
             helper.make_node("Mul", ["r2", "k2"], ["m2"]),       # equal constants k1 == k2
             helper.make_node("Mul", ["r2", "k3"], ["m3"]),       # k3 differs: stays
             helper.make_node("Sum", ["m1", "m2", "m3"], ["y"]),
             helper.make_node("Relu", ["x"], ["z"])]               # a copy that is a graph output stays
    k = randn(4)
    model = build(nodes, [value_info("x", f32, [3, 4])], [value_info("y", f32, None), value_info("z", f32, None)],
                  {"k1": k, "k2": k.copy(), "k3": k + 1})
    _, after = check_pass(model, {"x": randn(3, 4)}, passes.eliminate_common_subexpressions)
    assert ops(after) == Counter({"Relu": 2, "Mul": 2, "Sum": 1})


# ---- fusion --------------------------------------------------------------------------
def bn_inputs(c):
    return {"scale": randn(c), "bias": randn(c), "mean": randn(c),
            "var": rng.uniform(0.5, 2.0, c).astype(f32)}


@pytest.mark.parametrize("group,with_bias", [(1, True), (1, False), (2, True)])
def test_batchnorm_folds_into_conv(group, with_bias):
    inits = {"W": randn(6, 4 // group, 3, 3), **bn_inputs(6)}
    conv_in = ["x", "W"]
    if with_bias:
        inits["B"] = randn(6)
        conv_in.append("B")
    nodes = [helper.make_node("Conv", conv_in, ["c"], pads=[1, 1, 1, 1], group=group),
             helper.make_node("BatchNormalization", ["c", "scale", "bias", "mean", "var"], ["y"], epsilon=1e-3)]
    model = build(nodes, [value_info("x", f32, [2, 4, 5, 5])], [value_info("y", f32, None)], inits)
    _, after = check_pass(model, {"x": randn(2, 4, 5, 5)}, passes.fold_batchnorm)
    assert ops(after) == Counter({"Conv": 1})


@pytest.mark.parametrize("trans_b,c_shape", [(0, (5,)), (1, (5,)), (1, None), (0, (3, 5)), (1, (1, 5))])
def test_batchnorm_folds_into_gemm(trans_b, c_shape):
    inits = {"B": randn(5, 4) if trans_b else randn(4, 5), **bn_inputs(5)}
    gemm_in = ["x", "B"]
    if c_shape:
        inits["C"] = randn(*c_shape)
        gemm_in.append("C")
    nodes = [helper.make_node("Gemm", gemm_in, ["g"], transB=trans_b, alpha=0.7, beta=1.5),
             helper.make_node("BatchNormalization", ["g", "scale", "bias", "mean", "var"], ["y"])]
    model = build(nodes, [value_info("x", f32, [3, 4])], [value_info("y", f32, None)], inits)
    _, after = check_pass(model, {"x": randn(3, 4)}, passes.fold_batchnorm)
    assert ops(after) == Counter({"Gemm": 1})


def test_batchnorm_stays_when_conv_output_has_other_readers():
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"]),
             helper.make_node("BatchNormalization", ["c", "scale", "bias", "mean", "var"], ["y"]),
             helper.make_node("Relu", ["c"], ["z"])]
    model = build(nodes, [value_info("x", f32, [1, 2, 4, 4])], [value_info("y", f32, None), value_info("z", f32, None)],
                  {"W": randn(3, 2, 1, 1), **bn_inputs(3)})
    _, after = check_pass(model, {"x": randn(1, 2, 4, 4)}, passes.fold_batchnorm)
    assert ops(after)["BatchNormalization"] == 1


@pytest.mark.parametrize("first", ["Conv", "Gemm"])
def test_per_channel_mul_and_add_fold_into_weights(first):
    if first == "Conv":
        node = helper.make_node("Conv", ["x", "W", "B"], ["h"], pads=[1, 1, 1, 1])
        inits = {"W": randn(4, 2, 3, 3), "B": randn(4), "k": randn(4, 1, 1), "d": randn(1, 4, 1, 1)}
        shape = [2, 2, 5, 5]
    else:
        node = helper.make_node("Gemm", ["x", "W", "B"], ["h"], transB=1, beta=0.5)
        inits = {"W": randn(4, 3), "B": randn(2, 4), "k": np.asarray(1.7, f32), "d": randn(4)}
        shape = [2, 3]
    nodes = [node, helper.make_node("Mul", ["k", "h"], ["m"]), helper.make_node("Add", ["m", "d"], ["a"]),
             helper.make_node("Mul", ["a", "k"], ["y"])]
    model = build(nodes, [value_info("x", f32, shape)], [value_info("y", f32, None)], inits)
    _, after = check_pass(model, {"x": randn(*shape)}, passes.fold_scale_shift)
    assert ops(after) == Counter({first: 1})


def test_mul_that_varies_over_space_is_not_folded():
    nodes = [helper.make_node("Conv", ["x", "W"], ["h"]), helper.make_node("Mul", ["h", "k"], ["m"]),
             helper.make_node("Add", ["m", "x2"], ["y"])]
    model = build(nodes, [value_info("x", f32, [1, 2, 4, 4]), value_info("x2", f32, [3, 1, 1])],
                  [value_info("y", f32, None)], {"W": randn(3, 2, 1, 1), "k": randn(1, 1, 4, 4)})
    _, after = check_pass(model, {"x": randn(1, 2, 4, 4), "x2": randn(3, 1, 1)}, passes.fold_scale_shift)
    assert ops(after) == Counter({"Conv": 1, "Mul": 1, "Add": 1})


ACTIVATIONS = [("Relu", {}, []), ("LeakyRelu", {"alpha": 0.2}, []), ("Sigmoid", {}, []), ("Tanh", {}, []),
               ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}, []), ("HardSwish", {}, []),
               ("Clip", {}, [-0.5, 0.75]), ("Clip", {}, [None, 0.5])]


def with_activation(first, act, attrs, bounds, opset=17):
    """(model, feeds): Conv or Gemm followed by `act`."""
    inits, inputs = {}, []
    if first == "Conv":
        inits.update(W=randn(3, 2, 3, 3), B=randn(3))
        nodes = [helper.make_node("Conv", ["x", "W", "B"], ["h"], pads=[1, 1, 1, 1])]
        shape = [2, 2, 5, 5]
    else:
        inits.update(W=randn(5, 4), B=randn(5))
        nodes = [helper.make_node("Gemm", ["x", "W", "B"], ["h"], transB=1)]
        shape = [3, 4]
    act_in = ["h"]
    for name, v in zip(("lo", "hi"), bounds):
        if v is None:
            act_in.append("")
        else:
            inits[name] = np.asarray(v, f32)
            act_in.append(name)
    nodes.append(helper.make_node(act, act_in, ["y"], **attrs))
    model = build(nodes, [value_info("x", f32, shape)], [value_info("y", f32, None)], inits, opset=opset)
    return model, {"x": 2 * randn(*shape)}


@pytest.mark.parametrize("first", ["Conv", "Gemm"])
@pytest.mark.parametrize("act,attrs,bounds", ACTIVATIONS)
def test_activation_fuses_into_epilogue_with_identical_results(first, act, attrs, bounds):
    model, feeds = with_activation(first, act, attrs, bounds)
    before, after = check_pass(model, feeds, passes.fuse_activations)
    assert ops(after) == Counter({first: 1})
    assert after.nodes[0].attrs["activation"] == act
    # The epilogue computes exactly what the standalone kernel does.
    np.testing.assert_array_equal(run(after, feeds)[0], run(before, feeds)[0])


def test_clip_with_attributes_before_opset_11_fuses():
    nodes = [helper.make_node("Conv", ["x", "W"], ["h"]), helper.make_node("Clip", ["h"], ["y"], min=-0.1, max=0.2)]
    model = build(nodes, [value_info("x", f32, [1, 2, 4, 4])], [value_info("y", f32, None)],
                  {"W": randn(3, 2, 1, 1)}, opset=10)
    _, after = check_pass(model, {"x": randn(1, 2, 4, 4)}, passes.fuse_activations)
    assert ops(after) == Counter({"Conv": 1})
    assert (after.nodes[0].attrs["activation_alpha"], after.nodes[0].attrs["activation_beta"]) == \
        pytest.approx((-0.1, 0.2))


def test_clip_with_computed_bound_is_not_fused():
    nodes = [helper.make_node("Conv", ["x", "W"], ["h"]), helper.make_node("Clip", ["h", "lo"], ["y"])]
    model = build(nodes, [value_info("x", f32, [1, 2, 4, 4]), value_info("lo", f32, [])],
                  [value_info("y", f32, None)], {"W": randn(3, 2, 1, 1)})
    _, after = check_pass(model, {"x": randn(1, 2, 4, 4), "lo": np.asarray(0.1, f32)}, passes.fuse_activations)
    assert ops(after) == Counter({"Conv": 1, "Clip": 1})


def test_unknown_fused_activation_is_a_clear_runtime_error():
    model, _ = with_activation("Conv", "Relu", {}, [])
    g = passes.fuse_activations(imported(model))
    g.nodes[0].attrs["activation"] = "Swish"
    from pyfw.runtime import Interpreter
    with pytest.raises(InvalidModelError, match="activation.*Swish"):
        Interpreter(pyfw.format.to_bytes(g))


@pytest.mark.parametrize("bias_shape,swap", [((5,), False), ((5,), True), ((1, 5), False), ((3, 5), False),
                                             ((), False)])
def test_matmul_add_becomes_gemm(bias_shape, swap):
    add_in = ["bias", "m"] if swap else ["m", "bias"]
    nodes = [helper.make_node("MatMul", ["x", "W"], ["m"]), helper.make_node("Add", add_in, ["y"])]
    model = build(nodes, [value_info("x", f32, [3, 4])], [value_info("y", f32, None)],
                  {"W": randn(4, 5), "bias": randn(*bias_shape)})
    _, after = check_pass(model, {"x": randn(3, 4)}, passes.fuse_matmul_add)
    assert ops(after) == Counter({"Gemm": 1})


@pytest.mark.parametrize("x_shape,bias_shape", [((2, 3, 4), (5,)), ((3, 4), (2, 3, 5))])
def test_matmul_add_stays_when_not_a_gemm(x_shape, bias_shape):
    nodes = [helper.make_node("MatMul", ["x", "W"], ["m"]), helper.make_node("Add", ["m", "bias"], ["y"])]
    model = build(nodes, [value_info("x", f32, list(x_shape))], [value_info("y", f32, None)],
                  {"W": randn(4, 5), "bias": randn(*bias_shape)})
    _, after = check_pass(model, {"x": randn(*x_shape)}, passes.fuse_matmul_add)
    assert ops(after) == Counter({"MatMul": 1, "Add": 1})


def test_optimize_levels():
    model, feeds = with_activation("Gemm", "Relu", {}, [])
    g = imported(model)
    assert ops(optimize(g, 0)) == ops(g) == Counter({"Gemm": 1, "Relu": 1})
    assert ops(optimize(g, 1)) == Counter({"Gemm": 1, "Relu": 1})
    assert ops(optimize(g, 2)) == Counter({"Gemm": 1})
    assert ops(g) == Counter({"Gemm": 1, "Relu": 1})  # the input graph is not changed
    with pytest.raises(ValueError, match="level"):
        optimize(g, 3)


def test_mlp_with_batchnorm_optimizes_to_fused_gemms():
    """MatMul + Add -> Gemm, BatchNormalization folded, then Relu fused: one node per layer."""
    nodes = [helper.make_node("MatMul", ["x", "W1"], ["m1"]), helper.make_node("Add", ["m1", "b1"], ["a1"]),
             helper.make_node("BatchNormalization", ["a1", "scale", "bias", "mean", "var"], ["n1"]),
             helper.make_node("Relu", ["n1"], ["r1"]),
             helper.make_node("Identity", ["r1"], ["i1"]),
             helper.make_node("Gemm", ["i1", "W2", "b2"], ["y"], transB=1)]
    inits = {"W1": randn(4, 6), "b1": randn(6), "W2": randn(3, 6), "b2": randn(3), **bn_inputs(6)}
    model = build(nodes, [value_info("x", f32, [5, 4])], [value_info("y", f32, None)], inits)
    _, after = check_pass(model, {"x": randn(5, 4)}, optimize)
    assert ops(after) == Counter({"Gemm": 2})


def test_fold_constants_folds_what_libpfw_can_when_one_node_fails():
    """A constant node libpfw cannot run stays; the others still fold."""
    g = pyfw.ir.Graph()
    a, b = randn(3), randn(3)
    g.add_constant("a", a)
    g.add_constant("b", b)
    g.add_input("x", "float32", (3,))
    g.add_node("Add", ["a", "b"], ["s"], version=14)
    g.add_node("NoSuchOp", ["s"], ["t"])
    g.add_node("Mul", ["a", "a"], ["sq"], version=14)
    g.add_node("Add", ["t", "sq"], ["u"], version=14)
    g.add_node("Add", ["x", "u"], ["y"], version=14)
    g.outputs.append("y")
    after = passes.fold_constants(g)
    assert [n.op_type for n in after.nodes] == ["NoSuchOp", "Add", "Add"]
    np.testing.assert_array_equal(after.tensors["s"].data, a + b)
    np.testing.assert_array_equal(after.tensors["sq"].data, a * a)


# ---- GELU --------------------------------------------------------------------------
def gelu_model(scale_first, order, opset=17):
    """x * 0.5 * (1 + Erf(x / sqrt 2)) as exporters write it: the Erf argument
    by Div(x, sqrt 2) or Mul(x, 1 / sqrt 2); the products in `order`."""
    inits = {"one": np.asarray(1.0, f32), "half": np.asarray(0.5, f32)}
    if scale_first:
        inits["k"] = np.asarray(np.sqrt(0.5), f32)
        nodes = [helper.make_node("Mul", ["x", "k"], ["d"])]
    else:
        inits["k"] = np.asarray(np.sqrt(2.0), f32)
        nodes = [helper.make_node("Div", ["x", "k"], ["d"])]
    nodes += [helper.make_node("Erf", ["d"], ["e"]), helper.make_node("Add", ["e", "one"], ["p"])]
    if order == "x_add_half":
        nodes += [helper.make_node("Mul", ["x", "p"], ["m"]), helper.make_node("Mul", ["m", "half"], ["y"])]
    elif order == "half_x_add":
        nodes += [helper.make_node("Mul", ["x", "half"], ["h"]), helper.make_node("Mul", ["h", "p"], ["y"])]
    else:
        nodes += [helper.make_node("Mul", ["p", "half"], ["m"]), helper.make_node("Mul", ["x", "m"], ["y"])]
    model = build(nodes, [value_info("x", f32, [3, 67])], [value_info("y", f32, None)], inits, opset=opset)
    return model, {"x": 3 * randn(3, 67)}


@pytest.mark.parametrize("scale_first", [False, True])
@pytest.mark.parametrize("order", ["x_add_half", "half_x_add", "x_add_times_half"])
def test_erf_gelu_pattern_becomes_one_gelu(scale_first, order):
    model, feeds = gelu_model(scale_first, order)
    _, after = check_pass(model, feeds, passes.fuse_gelu)
    assert ops(after) == Counter({"Gelu": 1})
    # Exported back at the model's opset (17 < 20): expanded to the Erf form again.
    exported = pyfw.onnx.export_model(after)
    assert "Erf" in {n.op_type for n in exported.graph.node}
    assert_match(ort_run(exported, feeds), ort_run(model, feeds))


def test_gelu_pattern_with_other_readers_is_kept():
    model, feeds = gelu_model(False, "x_add_half")
    model.graph.output.append(value_info("e", f32, None))  # the Erf output must stay visible
    _, after = check_pass(model, feeds, passes.fuse_gelu)
    assert ops(after)["Erf"] == 1 and "Gelu" not in ops(after)


def test_gelu_with_other_constant_is_kept():
    model, feeds = gelu_model(False, "x_add_half")
    model.graph.initializer[1].CopyFrom(onnx.numpy_helper.from_array(np.asarray(0.25, f32), "half"))
    _, after = check_pass(model, feeds, passes.fuse_gelu)
    assert "Gelu" not in ops(after)
