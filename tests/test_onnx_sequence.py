"""Sequences and optionals end to end: models built with onnx.helper,
converted as `pyfw convert` does and run by libpfw, against ONNX Runtime on
the same feeds (sequence outputs compared element by element), and NumPy
closed forms where ONNX Runtime has no opinion. Sequence and optional graph
inputs and outputs go through pyfw.runtime.Interpreter (lists and None)."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import pyfw
import pyfw.format
from onnx_util import ort_run, to_pfw
from pyfw.ir.passes import optimize
from pyfw.onnx import export_model, import_model
from pyfw.runtime import Interpreter

f32, i64 = np.float32, np.int64
F, I, B = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL
rng = np.random.default_rng(5)


def tvi(name, elem, shape=None):
    return helper.make_tensor_value_info(name, elem, shape)


def svi(name, elem, shape=None):
    return helper.make_value_info(name, helper.make_sequence_type_proto(helper.make_tensor_type_proto(elem, shape)))


def ovi(name, elem, shape=None, sequence=False):
    inner = helper.make_tensor_type_proto(elem, shape)
    if sequence:
        inner = helper.make_sequence_type_proto(inner)
    return helper.make_value_info(name, helper.make_optional_type_proto(inner))


def model(nodes, inputs, outputs, inits=None, opset=18):
    g = helper.make_graph(nodes, "g", inputs, outputs,
                          [onnx.numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 10
    onnx.checker.check_model(m, full_check=True)
    return m


def same(got, want, exact=False):
    """Outputs equal, a list per sequence output, None per empty optional."""
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        if w is None or g is None:
            assert g is None and w is None, f"output {k}: {g!r} vs {w!r}"
        elif isinstance(w, list):
            assert isinstance(g, list) and len(g) == len(w), f"output {k}: {len(g)} elements, expected {len(w)}"
            same(g, w, exact)
        else:
            w = np.asarray(w)
            assert g.shape == w.shape and g.dtype == w.dtype, f"output {k}: {g.dtype}{g.shape} vs {w.dtype}{w.shape}"
            if exact or w.dtype.kind != "f":
                np.testing.assert_array_equal(g, w)
            else:
                np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def check(m, *feed_list):
    """Every feed set through one interpreter, each equal to ONNX Runtime."""
    with Interpreter(to_pfw(m)) as it:
        for feeds in feed_list:
            same(it.run(feeds), ort_run(m, feeds))


X = rng.standard_normal((5, 4)).astype(f32)


@pytest.mark.parametrize("split, attrs", [
    (None, {}), (None, {"keepdims": 0}), (None, {"axis": 1, "keepdims": 0}),
    (np.array(2, i64), {}), (np.array(3, np.int32), {"axis": -1}),
    (np.array([1, 0, 4], i64), {}), (np.array([4], i64), {"axis": 1}),
])
def test_split_to_sequence_then_concat_and_stack(split, attrs):
    inits = {} if split is None else {"split": split}
    nodes = [helper.make_node("SplitToSequence", ["x"] + (["split"] if split is not None else []), ["s"], **attrs),
             helper.make_node("ConcatFromSequence", ["s"], ["back"], axis=attrs.get("axis", 0),
                              new_axis=int(attrs.get("keepdims", 1) == 0)),
             helper.make_node("SequenceLength", ["s"], ["n"])]
    m = model(nodes, [tvi("x", F, [5, 4])], [svi("s", F), tvi("back", F, ["a", "b"]), tvi("n", I, [])], inits)
    check(m, {"x": X})
    with Interpreter(to_pfw(m)) as it:  # the closed form: the pieces put back are x
        pieces, back, n = it.run({"x": X})
        assert n == len(pieces) and np.array_equal(back, X)


@pytest.mark.parametrize("pos", [None, 0, 2, 3, -1, -3])
def test_insert_erase_at_positions(pos):
    has = pos is not None
    posv = {"p": np.array(pos, i64)} if has else {}
    nodes = [helper.make_node("SequenceConstruct", ["a", "b", "c"], ["s"]),
             helper.make_node("SequenceInsert", ["s", "d"] + (["p"] if has else []), ["ins"]),
             helper.make_node("SequenceErase", ["s"] + (["p2"] if has else []), ["era"]),
             helper.make_node("SequenceAt", ["ins", "p3"], ["at"])]
    inits = dict(posv, p3=np.array(-2, i64))
    if has:
        inits["p2"] = np.array(max(min(pos, 2), -3), i64)
    ins = [tvi(k, F, ["r", 2]) for k in "abcd"]
    m = model(nodes, ins, [svi("ins", F), svi("era", F), tvi("at", F, ["r", 2])], inits)
    feeds = {k: rng.standard_normal((k_ + 1, 2)).astype(f32) for k_, k in enumerate("abcd")}
    check(m, feeds)


def test_sequence_inputs_outputs_and_map_with_two_sequences_a_tensor_and_an_outer_value():
    """SequenceMap over two sequences and a tensor, its body also reading w
    from the main graph; the element shapes differ and change between runs."""
    body = helper.make_graph([helper.make_node("Mul", ["a", "b"], ["ab"]),
                              helper.make_node("Add", ["ab", "t"], ["abt"]),
                              helper.make_node("Mul", ["abt", "w"], ["y"]),
                              helper.make_node("Shape", ["a"], ["shape"])],
                             "body", [tvi("a", F, None), tvi("b", F, None), tvi("t", F, [1])],
                             [tvi("y", F, None), tvi("shape", I, None)])
    m = model([helper.make_node("SequenceMap", ["xs", "ys", "t"], ["out", "shapes"], body=body)],
              [svi("xs", F), svi("ys", F), tvi("t", F, [1])], [svi("out", F), svi("shapes", I)],
              {"w": np.array([2.5], f32)})
    runs = []
    for shapes in ([(2, 3), (4,), (1, 1, 2)], [(3,)], []):
        xs = [rng.standard_normal(s).astype(f32) for s in shapes]
        ys = [rng.standard_normal(s).astype(f32) for s in shapes]
        runs.append({"xs": xs, "ys": ys, "t": np.array([0.5], f32)})
    # ONNX Runtime cannot take an empty sequence feed: the last run's oracle is the closed form.
    check(m, *runs[:2])
    with Interpreter(to_pfw(m)) as it:
        out, shapes = it.run(runs[2])
        assert out == [] and shapes == []
        out, shapes = it.run(runs[0])
        for x, y, o, s in zip(runs[0]["xs"], runs[0]["ys"], out, shapes):
            np.testing.assert_allclose(o, (x * y + 0.5) * 2.5, rtol=1e-6)
            assert tuple(s) == x.shape


def test_loop_carries_a_sequence_and_if_returns_one():
    """A Loop appends i * x to a sequence each iteration; an If picks that
    sequence or a one-element one."""
    body = helper.make_graph([helper.make_node("Identity", ["c"], ["c_out"]),
                              helper.make_node("Cast", ["i"], ["fi"], to=F),
                              helper.make_node("Mul", ["x", "fi"], ["xi"]),
                              helper.make_node("SequenceInsert", ["acc", "xi"], ["acc_out"])],
                             "body", [tvi("i", I, []), tvi("c", B, []), svi("acc", F)],
                             [tvi("c_out", B, []), svi("acc_out", F)])
    then = helper.make_graph([helper.make_node("Identity", ["grown"], ["t_out"])], "then", [], [svi("t_out", F)])
    other = helper.make_graph([helper.make_node("SequenceConstruct", ["x"], ["e_out"])], "else", [], [svi("e_out", F)])
    m = model([helper.make_node("SequenceEmpty", [], ["empty"], dtype=F),
               helper.make_node("Loop", ["n", "", "empty"], ["grown"], body=body),
               helper.make_node("If", ["pick"], ["picked"], then_branch=then, else_branch=other),
               helper.make_node("ConcatFromSequence", ["picked"], ["flat"], axis=0)],
              [tvi("n", I, []), tvi("pick", B, []), tvi("x", F, [2, 3])], [svi("grown", F), tvi("flat", F, ["r", 3])])
    x = rng.standard_normal((2, 3)).astype(f32)
    check(m, *[{"n": np.array(n, i64), "pick": np.array(p), "x": x} for n, p in ((3, True), (6, True), (2, False))])
    with Interpreter(to_pfw(m)) as it:  # zero iterations: an empty sequence, nothing to concatenate
        with pytest.raises(pyfw.InvalidModelError, match="cannot concatenate an empty sequence"):
            it.run({"n": np.array(0, i64), "pick": np.array(True), "x": x})


def test_optionals_in_and_out():
    """Optional inputs fed None or a value; Optional, OptionalHasElement and
    OptionalGetElement; an If whose branches give an empty or a full optional."""
    then = helper.make_graph([helper.make_node("Optional", ["v"], ["o1"])], "then", [], [ovi("o1", F, [3])])
    other = helper.make_graph([helper.make_node("Optional", [], ["o2"], type=helper.make_tensor_type_proto(F, [3]))],
                              "else", [], [ovi("o2", F, [3])])
    m = model([helper.make_node("OptionalHasElement", ["maybe"], ["has"]),
               helper.make_node("If", ["has"], ["echo"], then_branch=then, else_branch=other),
               helper.make_node("Identity", ["maybe"], ["same"]),
               helper.make_node("OptionalHasElement", ["echo"], ["echo_has"]),
               helper.make_node("OptionalGetElement", ["maybe_seq"], ["seq"])],
              [ovi("maybe", F, [3]), tvi("v", F, [3]), ovi("maybe_seq", I, [2], sequence=True)],
              [tvi("has", B, []), ovi("echo", F, [3]), ovi("same", F, [3]), tvi("echo_has", B, []), svi("seq", I)])
    v = np.arange(3, dtype=f32)
    seq = [np.array([1, 2], i64), np.array([3, 4], i64)]
    with Interpreter(to_pfw(m)) as it:
        assert it.inputs[0].optional and it.inputs[2].kind == "sequence" and it.inputs[2].optional
        same(it.run({"maybe": v + 1, "v": v, "maybe_seq": seq}), [np.array(True), v, v + 1, np.array(True), seq])
        same(it.run({"maybe": None, "v": v, "maybe_seq": seq}), [np.array(False), None, None, np.array(False), seq])
        with pytest.raises(pyfw.InvalidModelError, match="holding no value"):
            it.run({"maybe": v, "v": v, "maybe_seq": None})
        with pytest.raises(ValueError, match="'v'.*not optional"):
            it.run({"maybe": v, "v": None, "maybe_seq": seq})
        with pytest.raises(TypeError, match="list of arrays"):
            it.run({"maybe": v, "v": v, "maybe_seq": seq[0]})
        with pytest.raises(ValueError, match="element 1 of input 'maybe_seq'"):
            it.run({"maybe": v, "v": v, "maybe_seq": [seq[0], np.zeros(3, i64)]})


@pytest.mark.parametrize("nodes, message", [
    ([helper.make_node("SequenceAt", ["s", "p"], ["y"])], r"position 5 is out of range \[-2, 1\]"),
    ([helper.make_node("SequenceErase", ["s", "p"], ["y"])], r"position 5 is out of range \[-2, 1\]"),
    ([helper.make_node("SequenceInsert", ["s", "x", "p"], ["y"])], r"position 5 is out of range \[-2, 2\]"),
])
def test_positions_out_of_range_name_the_node(nodes, message):
    outs = [tvi("y", F, [2])] if nodes[0].op_type == "SequenceAt" else [svi("y", F)]
    m = model([helper.make_node("SequenceConstruct", ["x", "x"], ["s"])] + nodes, [tvi("x", F, [2])], outs,
              {"p": np.array(5, i64)})
    with Interpreter(to_pfw(m)) as it:
        with pytest.raises(pyfw.InvalidModelError, match=message) as e:
            it.run({"x": np.ones(2, f32)})
        assert nodes[0].op_type in str(e.value)


def test_a_sequence_reaching_a_tensor_op_is_refused_at_conversion():
    m = model([helper.make_node("SequenceConstruct", ["x"], ["s"]), helper.make_node("Identity", ["s"], ["t"])],
              [tvi("x", F, [2])], [svi("t", F)])
    g = import_model(m)
    g.nodes[1].op_type = "Relu"  # what a hand-made or corrupted model could say
    with pytest.raises(pyfw.InvalidModelError, match="input 's' is sequence of float32; Relu takes tensors"):
        pyfw.ir.infer_shapes(g)


def test_memory_limit_caps_a_growing_sequence():
    body = helper.make_graph([helper.make_node("Identity", ["c"], ["c_out"]),
                              helper.make_node("SequenceInsert", ["acc", "x"], ["acc_out"])],
                             "body", [tvi("i", I, []), tvi("c", B, []), svi("acc", F)],
                             [tvi("c_out", B, []), svi("acc_out", F)])
    m = model([helper.make_node("SequenceEmpty", [], ["empty"], dtype=F),
               helper.make_node("Loop", ["n", "", "empty"], ["grown"], body=body)],
              [tvi("n", I, []), tvi("x", F, [256, 256])], [svi("grown", F)])
    with Interpreter(to_pfw(m), arena_limit=16 << 20) as it:
        assert len(it.run({"n": np.array(4, i64), "x": np.ones((256, 256), f32)})[0]) == 4
        with pytest.raises(pyfw.UnsupportedError, match="sequence 'acc_out' would hold more than the memory limit"):
            it.run({"n": np.array(80, i64), "x": np.ones((256, 256), f32)})


def test_optimize_and_export_round_trip_through_onnx_runtime():
    """optimize() keeps sequences and optionals as they are (nothing folds into
    them), the .pfw keeps their kinds, and the exported ONNX model passes the
    full checker and gives ONNX Runtime's outputs."""
    body = helper.make_graph([helper.make_node("Relu", ["r"], ["y"])], "body", [tvi("r", F, None)], [tvi("y", F, None)])
    m = model([helper.make_node("SplitToSequence", ["c"], ["s"], axis=1, keepdims=0),
               helper.make_node("SequenceMap", ["s"], ["mapped"], body=body),
               helper.make_node("Optional", ["mapped"], ["o"]),
               helper.make_node("OptionalGetElement", ["o"], ["back"]),
               helper.make_node("ConcatFromSequence", ["back"], ["y"], axis=0, new_axis=1),
               helper.make_node("Add", ["y", "x"], ["z"])],
              [tvi("x", F, [3, 2])], [tvi("z", F, [3, 2]), svi("mapped", F)],
              {"c": rng.standard_normal((2, 3)).astype(f32)})
    g = optimize(import_model(m))
    assert any(n.op_type == "SequenceMap" for n in g.nodes)
    g2 = pyfw.format.load(pyfw.format.to_bytes(g))
    assert g2.tensors["o"].optional and g2.tensors["mapped"].kind == "sequence"
    back = export_model(g2)
    onnx.checker.check_model(back, full_check=True)
    feeds = {"x": rng.standard_normal((3, 2)).astype(f32)}
    want = ort_run(m, feeds)
    same(ort_run(back, feeds), want)
    with Interpreter(pyfw.format.to_bytes(g2)) as it:
        same(it.run(feeds), want)


def test_split_into_more_pieces_than_memory_allows_is_refused_before_allocating():
    """An empty input whose axis is 3e9 long: 3e9 empty pieces, each an element."""
    m = model([helper.make_node("SplitToSequence", ["x"], ["s"], axis=1)], [tvi("x", F, [0, "n"])], [svi("s", F)])
    with Interpreter(to_pfw(m), arena_limit=16 << 20) as it:
        with pytest.raises(pyfw.UnsupportedError, match="splitting into 3000000000 pieces exceeds the memory limit"):
            it.run({"x": np.empty((0, 3_000_000_000), f32)})
