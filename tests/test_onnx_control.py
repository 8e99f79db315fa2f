"""Control flow (If, Loop, Scan) and shapes computed from data, end to end:
models built with onnx.helper, converted as `pyfw convert` does and run by
libpfw, against ONNX Runtime on the same feeds. Bodies read values of the
graphs around them; output shapes follow the data (the branch taken, the
trip count, a computed Reshape target), also when they change between runs
of one interpreter."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import pyfw
import pyfw.format
import pyfw.ir
import pyfw.onnx
from onnx_util import assert_match, build, ort_run, pfw_run, reference64, to_pfw, value_info
from pyfw.ir.passes import optimize
from pyfw.runtime import Interpreter

f32, i64 = np.float32, np.int64
rng = np.random.default_rng(11)
F, I, B = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL


def vi(name, elem, shape=None):
    return helper.make_tensor_value_info(name, elem, shape)


def graph(nodes, name, inputs, outputs, inits=None):
    return helper.make_graph(nodes, name, inputs, outputs,
                             [onnx.numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()])


def check_runs(model, feed_list, threads=1):
    """One interpreter, several runs (shapes may change between them): each
    matches ONNX Runtime on the same feeds."""
    with Interpreter(to_pfw(model), threads=threads) as it:
        for feeds in feed_list:
            assert_match(it.run(feeds), ort_run(model, feeds), exact=lambda f=feeds: reference64(model, f))


def if_model():
    """If whose branches read x and y from the main graph and give different
    shapes: x + y (2, 3) or x stacked on itself (4, 3)."""
    then = graph([helper.make_node("Add", ["x", "y"], ["s"])], "then", [], [vi("s", F, [2, 3])])
    other = graph([helper.make_node("Concat", ["x", "x"], ["c"], axis=0)], "else", [], [vi("c", F, [4, 3])])
    return build([helper.make_node("If", ["cond"], ["out"], then_branch=then, else_branch=other)],
                 [value_info("cond", np.bool_, []), value_info("x", f32, [2, 3]), value_info("y", f32, [2, 3])],
                 [value_info("out", f32, None)])


def test_if_branches_read_outer_values_and_differ_in_shape():
    x, y = rng.standard_normal((2, 3)).astype(f32), rng.standard_normal((2, 3)).astype(f32)
    runs = [{"cond": np.array(c), "x": x, "y": y} for c in (True, False, False, True)]
    check_runs(if_model(), runs)


def test_if_condition_must_be_one_value():
    model = if_model()
    model.graph.input[0].type.tensor_type.shape.dim.add().dim_value = 2
    bad = {"cond": np.array([True, False]), "x": np.zeros((2, 3), f32), "y": np.zeros((2, 3), f32)}
    with pytest.raises(ValueError, match="cond.*one bool value"):
        pfw_run(pyfw.format.to_bytes(_imported(model)), bad)


def _imported(model):
    g = pyfw.onnx.import_model(model)
    pyfw.ir.infer_shapes(g)
    return g


def loop_model(with_m=True, with_cond=False):
    """acc <- acc * 0.5 + x (x read from the main graph) while the running total
    stays under `limit`, at most M times; scan outputs: acc's sum per step."""
    body = graph([helper.make_node("Mul", ["acc", "half"], ["scaled"]),
                  helper.make_node("Add", ["scaled", "x"], ["acc_out"]),
                  helper.make_node("ReduceSum", ["acc_out"], ["total"], keepdims=0),
                  helper.make_node("Less", ["total", "limit"], ["cond_out"])],
                 "body", [vi("i", I, []), vi("cond", B, []), vi("acc", F, [2, 2])],
                 [vi("cond_out", B, []), vi("acc_out", F, [2, 2]), vi("total", F, [])],
                 {"half": np.float32(0.5)})
    inputs = [value_info("x", f32, [2, 2]), value_info("limit", f32, []), value_info("acc0", f32, [2, 2])]
    if with_m:
        inputs.append(value_info("m", i64, []))
    if with_cond:
        inputs.append(value_info("go", np.bool_, []))
    node = helper.make_node("Loop", ["m" if with_m else "", "go" if with_cond else "", "acc0"], ["acc", "totals"],
                            body=body)
    return build([node], inputs, [value_info("acc", f32, [2, 2]), value_info("totals", f32, None)])


@pytest.mark.parametrize("m", [0, 1, 4, 50])
def test_loop_trip_count_and_body_condition(m):
    model = loop_model(with_cond=True)
    x = np.array([[1, 2], [0.5, -1]], f32)
    runs = [{"x": x, "limit": np.array(lim, f32), "acc0": np.zeros((2, 2), f32), "m": np.array(m, i64),
             "go": np.array(go)} for lim, go in ((10.0, True), (1e9, True), (2.0, True), (10.0, False))]
    check_runs(model, runs)


def test_while_loop_without_trip_count():
    model = loop_model(with_m=False, with_cond=True)
    x = np.array([[1, 2], [0.5, 1]], f32)
    check_runs(model, [{"x": x, "limit": np.array(lim, f32), "acc0": np.zeros((2, 2), f32), "go": np.array(True)}
                       for lim in (3.0, 8.0, 8.5)])


def test_loop_carried_values_swap_and_grow():
    """A body whose outputs are its own inputs swapped (no node in between: the
    runtime must not feed one from a buffer the other already overwrote), and
    a carried value that grows by a row each iteration."""
    body = graph([helper.make_node("Concat", ["rows", "row"], ["rows_out"], axis=0)], "body",
                 [vi("i", I, []), vi("cond", B, []), vi("a", F, [3]), vi("b", F, [3]), vi("rows", F, [None, 3])],
                 [vi("cond", B, []), vi("b", F, [3]), vi("a", F, [3]), vi("rows_out", F, [None, 3])])
    model = build([helper.make_node("Loop", ["m", "", "a0", "b0", "rows0"], ["a", "b", "rows"], body=body)],
                  [value_info("m", i64, []), value_info("a0", f32, [3]), value_info("b0", f32, [3]),
                   value_info("rows0", f32, [1, 3]), value_info("row", f32, [1, 3])],
                  [value_info("a", f32, [3]), value_info("b", f32, [3]), value_info("rows", f32, [None, 3])])
    a, b, row = (rng.standard_normal(s).astype(f32) for s in ((3,), (3,), (1, 3)))
    check_runs(model, [{"m": np.array(m, i64), "a0": a, "b0": b, "rows0": row * 2, "row": row} for m in (3, 4, 0)])


def test_if_nested_in_a_loop_reads_both_enclosing_graphs():
    """The If inside the body reads the body's carried value and the main
    graph's x: each becomes an explicit input at its own level."""
    then = graph([helper.make_node("Add", ["acc", "x"], ["t"])], "then", [], [vi("t", F, [3])])
    other = graph([helper.make_node("Sub", ["acc", "x"], ["e"])], "else", [], [vi("e", F, [3])])
    body = graph([helper.make_node("Cast", ["i"], ["odd_i"], to=F),
                  helper.make_node("Mod", ["i", "two"], ["parity"]),
                  helper.make_node("Equal", ["parity", "zero"], ["even"]),
                  helper.make_node("If", ["even"], ["acc_out"], then_branch=then, else_branch=other),
                  helper.make_node("Mul", ["acc_out", "odd_i"], ["weighted"])],
                 "body", [vi("i", I, []), vi("cond", B, []), vi("acc", F, [3])],
                 [vi("cond", B, []), vi("acc_out", F, [3]), vi("weighted", F, [3])],
                 {"two": np.int64(2), "zero": np.int64(0)})
    model = build([helper.make_node("Loop", ["m", "", "acc0"], ["acc", "weighted"], body=body)],
                  [value_info("m", i64, []), value_info("acc0", f32, [3]), value_info("x", f32, [3])],
                  [value_info("acc", f32, [3]), value_info("weighted", f32, [None, 3])])
    x, acc0 = rng.standard_normal(3).astype(f32), rng.standard_normal(3).astype(f32)
    check_runs(model, [{"m": np.array(m, i64), "acc0": acc0, "x": x} for m in (5, 2)])


def scan_model():
    """Two scan inputs (one along axis 1, read backwards), one state, two scan
    outputs (one stacked along axis 1, one written backwards)."""
    body = graph([helper.make_node("Add", ["s", "a"], ["s_out"]),
                  helper.make_node("Mul", ["s_out", "b"], ["prod"]),
                  helper.make_node("ReduceMax", ["prod"], ["peak"], keepdims=0)],
                 "body", [vi("s", F, [4]), vi("a", F, [4]), vi("b", F, [4])],
                 [vi("s_out", F, [4]), vi("prod", F, [4]), vi("peak", F, [])])
    node = helper.make_node("Scan", ["s0", "xa", "xb"], ["s", "prods", "peaks"], body=body, num_scan_inputs=2,
                            scan_input_axes=[1, 0], scan_input_directions=[1, 0], scan_output_axes=[1, 0],
                            scan_output_directions=[0, 1])
    return build([node], [value_info("s0", f32, [4]), value_info("xa", f32, [4, "T"]), value_info("xb", f32, ["T", 4])],
                 [value_info("s", f32, [4]), value_info("prods", f32, [4, None]), value_info("peaks", f32, [None])])


def test_scan_axes_and_directions():
    model = scan_model()
    runs = []
    for t in (5, 1, 3):
        runs.append({"s0": rng.standard_normal(4).astype(f32), "xa": rng.standard_normal((4, t)).astype(f32),
                     "xb": rng.standard_normal((t, 4)).astype(f32)})
    check_runs(model, runs)
    check_runs(model, runs[:1], threads=2)


def test_shapes_computed_from_data_are_planned_at_invoke():
    """A length read from x's values sizes a Range, a Reshape target and a
    TopK; nodes after them run on those shapes, which change run to run."""
    nodes = [
        helper.make_node("ReduceMax", ["n"], ["n_max"], keepdims=0),
        helper.make_node("Cast", ["n_max"], ["k"], to=I),
        helper.make_node("Range", ["zero", "k", "one"], ["r"]),
        helper.make_node("Cast", ["r"], ["rf"], to=F),
        helper.make_node("Mul", ["rf", "rf"], ["squares"]),
        helper.make_node("Unsqueeze", ["k", "axis0"], ["k1"]),
        helper.make_node("Concat", ["k1", "minus1"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["folded"]),
        helper.make_node("Relu", ["folded"], ["relu"]),
        helper.make_node("TopK", ["x", "k1"], ["top", "where"], axis=0),
    ]
    model = build(nodes, [value_info("x", f32, [12]), value_info("n", f32, [2])],
                  [value_info("squares", f32, None), value_info("relu", f32, None), value_info("top", f32, None),
                   value_info("where", i64, None)],
                  {"zero": np.int64(0), "one": np.int64(1), "axis0": np.array([0], i64), "minus1": np.array([-1], i64)})
    x = rng.standard_normal(12).astype(f32)
    check_runs(model, [{"x": x, "n": np.array([k, 1], f32)} for k in (3.0, 4.0, 4.0, 6.0, 2.0)])


def test_range_with_float_bounds_from_inputs():
    """Range's length comes from float graph inputs, known only when fed."""
    from onnx_util import Init, single_op

    for start, limit in ((0.0, 5.0), (1.5, 2.0), (2.0, -3.5)):
        model, feeds = single_op("Range", [np.array(start, f32), np.array(limit, f32), Init(np.array(-0.5, f32))])
        assert_match(pfw_run(to_pfw(model), feeds), ort_run(model, feeds))


def test_optimised_and_exported_control_flow():
    """pyfw convert's passes keep control flow meaning the same: Identity
    removal renames a value a body reads (the export gives the body the new
    name), and an If whose condition and branches are constants folds away.
    The .pfw exported back to ONNX runs in ONNX Runtime to the same outputs."""
    then = graph([helper.make_node("Mul", ["xi", "w"], ["t"])], "then", [], [vi("t", F, [3])])
    other = graph([helper.make_node("Neg", ["xi"], ["e"])], "else", [], [vi("e", F, [3])])
    fixed_then = graph([helper.make_node("Identity", ["twos"], ["w_then"])], "fixed_then", [], [vi("w_then", F, [3])])
    fixed_else = graph([helper.make_node("Identity", ["ones"], ["w_else"])], "fixed_else", [], [vi("w_else", F, [3])])
    nodes = [helper.make_node("Identity", ["x"], ["xi"]),
             helper.make_node("If", ["yes"], ["w"], then_branch=fixed_then, else_branch=fixed_else, name="fixed"),
             helper.make_node("If", ["cond"], ["out"], then_branch=then, else_branch=other, name="chosen")]
    model = build(nodes, [value_info("cond", np.bool_, []), value_info("x", f32, [3])], [value_info("out", f32, [3])],
                  {"yes": np.array(True), "twos": np.full(3, 2, f32), "ones": np.ones(3, f32)})
    g = optimize(_imported(model), 2)
    assert [n.op_type for n in g.nodes] == ["If"], "the constant If and the Identity should be gone"
    pfw = pyfw.format.to_bytes(g)
    exported = pyfw.onnx.export_model(pyfw.format.load(pfw))
    onnx.checker.check_model(exported, full_check=True)
    for c in (True, False):
        feeds = {"cond": np.array(c), "x": rng.standard_normal(3).astype(f32)}
        want = ort_run(model, feeds)
        assert_match(pfw_run(pfw, feeds), want)
        assert_match(ort_run(exported, feeds), want)


def test_control_flow_errors_name_what_is_wrong():
    # Scan-8 (a batch axis) runs as nested Loops (tests/test_onnx_decompose.py); its sequence_lens is refused.
    body = graph([helper.make_node("Add", ["s", "a"], ["s_out"])], "body", [vi("s", F, [2]), vi("a", F, [2])],
                 [vi("s_out", F, [2])])
    scan8 = build([helper.make_node("Scan", ["lens", "s0", "xs"], ["s"], body=body, num_scan_inputs=1)],
                  [value_info("lens", np.int64, [1]), value_info("s0", f32, [1, 2]), value_info("xs", f32, [1, 3, 2])],
                  [value_info("s", f32, [1, 2])], opset=8)
    with pytest.raises(pyfw.UnsupportedError, match="sequence_lens"):
        pyfw.onnx.import_model(scan8)
    # A body reading a value no graph defines (onnx.checker would refuse it too).
    lost = graph([helper.make_node("Add", ["nowhere", "x"], ["t"])], "then", [], [vi("t", F, [1])])
    g = helper.make_graph([helper.make_node("If", ["c"], ["o"], then_branch=lost, else_branch=lost)], "g",
                          [vi("c", B, []), vi("x", F, [1])], [vi("o", F, [1])])
    with pytest.raises(pyfw.InvalidModelError, match="reads 'nowhere'"):
        pyfw.onnx.import_model(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    # A scan output whose shape changes between iterations.
    body = graph([helper.make_node("Add", ["i", "one"], ["n"]),
                  helper.make_node("Unsqueeze", ["n", "axis0"], ["n1"]),
                  helper.make_node("ConstantOfShape", ["n1"], ["grow"])],
                 "body", [vi("i", I, []), vi("cond", B, [])], [vi("cond", B, []), vi("grow", F, [None])],
                 {"one": np.int64(1), "axis0": np.array([0], i64)})
    g = helper.make_graph([helper.make_node("Loop", ["m", ""], ["ys"], body=body)], "g", [vi("m", I, [])],
                          [vi("ys", F, None)])
    ragged = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(ValueError, match="scan output 0 changes dtype or shape at iteration 1"):
        pfw_run(to_pfw(ragged), {"m": np.array(3, i64)})


def test_loop_limit_stops_a_loop_that_would_run_on():
    """A trip count from the data (here 10^12) runs under a loop limit only
    up to it: an error naming the node, not a hang."""
    model = loop_model(with_cond=True)
    feeds = {"x": np.zeros((2, 2), f32), "limit": np.array(1.0, f32), "acc0": np.zeros((2, 2), f32),
             "m": np.array(10**12, i64), "go": np.array(True)}
    with Interpreter(to_pfw(model), loop_limit=100) as it:
        with pytest.raises(pyfw.UnsupportedError, match="Loop.*bodies more than 100 times"):
            it.run(feeds)
        feeds["m"] = np.array(100, i64)
        assert_match(it.run(feeds), ort_run(model, feeds))
    with pytest.raises(ValueError, match="loop_limit"):
        Interpreter(to_pfw(model), loop_limit=0)


def test_loop_limit_counts_nested_loops_together():
    """Loops nested in loops multiply their counts: the limit is on the
    invoke's total, so 3 x 40 inner iterations pass a limit of 123 and 3 x 41
    do not (a file could otherwise nest its way into a hang)."""
    inner = graph([helper.make_node("Add", ["v", "one"], ["v_out"])], "inner",
                  [vi("j", I, []), vi("c", B, []), vi("v", F, [])], [vi("c", B, []), vi("v_out", F, [])],
                  {"one": np.float32(1)})
    outer = graph([helper.make_node("Loop", ["n", "", "acc"], ["acc_out"], body=inner)], "outer",
                  [vi("i", I, []), vi("cond", B, []), vi("acc", F, [])], [vi("cond", B, []), vi("acc_out", F, [])])
    model = build([helper.make_node("Loop", ["m", "", "zero"], ["total"], body=outer)],
                  [value_info("m", i64, []), value_info("n", i64, []), value_info("zero", f32, [])],
                  [value_info("total", f32, [])])
    with Interpreter(to_pfw(model), loop_limit=123) as it:
        feeds = {"m": np.array(3, i64), "n": np.array(40, i64), "zero": np.array(0, f32)}
        assert_match(it.run(feeds), ort_run(model, feeds))  # 3 + 3 x 40 = 123 body runs
        feeds["n"] = np.array(41, i64)
        with pytest.raises(pyfw.UnsupportedError, match="more than 123 times"):
            it.run(feeds)
