"""RNN, GRU and LSTM (opsets 7, 14, 22), one small ONNX model per case: ONNX
Runtime is the oracle (ONNX's reference evaluator where ONNX Runtime has no
kernel, float64 reference as second oracle, see onnx_util.assert_match),
pyfw runs the converted .pfw; rtol 1e-5 / atol 1e-6."""
import numpy as np
import pytest
from onnx import helper

import pyfw
from onnx_util import (assert_match, build, check_or_reference, ort_run, pfw_run, reference64, to_pfw,
                       value_info)

rng = np.random.default_rng(20261125)
f32, f64 = np.float32, np.float64
GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


def r(*shape, dtype=f32, scale=0.8):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def recurrent(op, seq=4, batch=3, inp=5, hidden=6, direction="forward", layout=0, bias=True, lens=None,
              initial=False, peepholes=False, outputs=(True, True, True), opset=22, dtype=f32, **attrs):
    """A one-node model with the inputs the flags ask for; outputs flags pick
    Y, Y_h (and Y_c for LSTM), absent ones written as ''. Returns (model, feeds)."""
    dirs = 2 if direction == "bidirectional" else 1
    g = GATES[op]
    x = r(batch, seq, inp, dtype=dtype) if layout else r(seq, batch, inp, dtype=dtype)
    args = {"X": x, "W": r(dirs, g * hidden, inp, dtype=dtype), "R": r(dirs, g * hidden, hidden, dtype=dtype)}
    if bias:
        args["B"] = r(dirs, 2 * g * hidden, dtype=dtype)
    if lens is not None:
        args["sequence_lens"] = np.asarray(lens, np.int32)
    state = (batch, dirs, hidden) if layout else (dirs, batch, hidden)
    if initial:
        args["initial_h"] = r(*state, dtype=dtype)
        if op == "LSTM":
            args["initial_c"] = r(*state, dtype=dtype)
    if peepholes:
        args["P"] = r(dirs, 3 * hidden, dtype=dtype)
    order = ["X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"]
    names = [n if n in args else "" for n in order]
    while names and not names[-1]:
        names.pop()
    y = (batch, seq, dirs, hidden) if layout else (seq, dirs, batch, hidden)
    out_shapes = [y, state, state][:3 if op == "LSTM" else 2]
    outs = [n if want else "" for n, want in zip(["Y", "Y_h", "Y_c"], outputs[:len(out_shapes)])]
    if layout:
        attrs["layout"] = 1
    node = helper.make_node(op, names, outs, name="rec", direction=direction, hidden_size=hidden, **attrs)
    model = build([node], [value_info(n, a.dtype, a.shape) for n, a in args.items()],
                  [value_info(o, dtype, s) for o, s in zip(outs, out_shapes) if o], opset=opset)
    return model, args


def check(op, **kw):
    model, feeds = recurrent(op, **kw)
    return check_or_reference(model, feeds)


@pytest.mark.parametrize("op", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
def test_directions(op, direction):
    check(op, direction=direction, initial=True)


@pytest.mark.parametrize("op", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("direction", ["forward", "bidirectional"])
def test_layout_batch_first(op, direction):
    """ONNX Runtime refuses layout=1 and the reference evaluator ignores
    sequence_lens, so the oracle is ONNX Runtime on the layout-0 model with X,
    the states and Y transposed: batch-first is only a transpose."""
    kw = dict(direction=direction, initial=True, lens=[4, 2, 3])
    model1, feeds1 = recurrent(op, layout=1, **kw)
    model0, _ = recurrent(op, layout=0, **kw)
    feeds0 = {k: v.transpose(1, 0, 2) if k in ("X", "initial_h", "initial_c") else v for k, v in feeds1.items()}
    want = ort_run(model0, feeds0)
    want = [want[0].transpose(2, 0, 1, 3)] + [w.transpose(1, 0, 2) for w in want[1:]]
    assert_match(pfw_run(to_pfw(model1), feeds1), want)


@pytest.mark.parametrize("op", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("direction", ["forward", "bidirectional"])
def test_sequence_lens(op, direction):
    """Rows stop at their own length (reverse ones start there); Y is 0 after,
    and an empty row has zero states."""
    check(op, direction=direction, lens=[4, 2, 1], initial=True)
    check(op, direction=direction, lens=[3, 0, 1], initial=True)


@pytest.mark.parametrize("op", ["RNN", "GRU", "LSTM"])
def test_defaults_without_bias_or_state(op):
    check(op, bias=False)


OUTPUTS = {"states_only": (False, True, True), "y_only": (True, False, False), "y_c_only": (False, False, True)}


@pytest.mark.parametrize("op,which", [(op, w) for op in ("RNN", "GRU", "LSTM") for w in OUTPUTS
                                      if op == "LSTM" or w != "y_c_only"])
def test_optional_outputs(op, which):
    check(op, outputs=OUTPUTS[which], initial=True)


@pytest.mark.parametrize("opset", [7, 14])
@pytest.mark.parametrize("op", ["RNN", "GRU", "LSTM"])
def test_older_opsets(op, opset):
    check(op, opset=opset, direction="bidirectional", initial=True)


@pytest.mark.parametrize("op", ["RNN", "GRU", "LSTM"])
def test_float64(op):
    """ONNX Runtime has no float64 kernels here; the reference evaluator
    (which ignores sequence_lens, tested above in float32) is the oracle."""
    from onnx.reference import ReferenceEvaluator
    model, feeds = recurrent(op, dtype=f64, direction="bidirectional", initial=True)
    assert_match(pfw_run(to_pfw(model), feeds), ReferenceEvaluator(model).run(None, feeds))


def test_lstm_peepholes():
    check("LSTM", peepholes=True, initial=True, direction="bidirectional")


def test_lstm_input_forget():
    check("LSTM", input_forget=1, initial=True, peepholes=True)


@pytest.mark.parametrize("lbr", [0, 1])
def test_gru_linear_before_reset(lbr):
    check("GRU", linear_before_reset=lbr, initial=True, direction="bidirectional")


@pytest.mark.parametrize("op", ["RNN", "GRU", "LSTM"])
def test_clip(op):
    model, feeds = recurrent(op, clip=0.5, initial=True)
    feeds["X"] *= 4
    check_or_reference(model, feeds)


ACTIVATIONS = {  # per direction, with the alpha/beta they consume in order
    "RNN": (["Relu"], [], []),
    "GRU": (["HardSigmoid", "LeakyRelu"], [0.3, 0.05], [0.4]),
    "LSTM": (["HardSigmoid", "Elu", "Softsign"], [0.25, 0.7], [0.45]),
}


@pytest.mark.parametrize("op", ["RNN", "GRU", "LSTM"])
def test_activations_with_alpha_beta(op):
    names, alpha, beta = ACTIVATIONS[op]
    attrs = {"activations": names * 2}
    if alpha:
        attrs["activation_alpha"] = alpha * 2
    if beta:
        attrs["activation_beta"] = beta * 2
    check(op, direction="bidirectional", initial=True, **attrs)


@pytest.mark.parametrize("acts", [["Tanh", "Sigmoid", "Softplus"], ["Sigmoid", "ThresholdedRelu", "Tanh"]])
def test_lstm_other_activations(acts):
    kw = {"activation_alpha": [0.1]} if "ThresholdedRelu" in acts else {}
    check("LSTM", activations=acts, initial=True, **kw)


@pytest.mark.parametrize("op", ["RNN", "GRU", "LSTM"])
def test_threads_split_sequences_without_changing_them(op):
    """(batch row, direction) sequences run in parallel; each is computed the
    same whatever the thread count."""
    model, feeds = recurrent(op, batch=5, direction="bidirectional", initial=True, lens=[4, 1, 3, 0, 2])
    one = check_or_reference(model, feeds, threads=1)
    for threads in (2, 3):
        for a, b in zip(one, check_or_reference(model, feeds, threads=threads)):
            np.testing.assert_array_equal(a, b)


# ---- stacked layers -------------------------------------------------------------------------
def test_two_layer_stack_on_computed_inputs():
    """A 2-layer LSTM -> GRU stack whose inputs, weights' consumers and states
    are computed by other nodes (arena tensors, not graph inputs), against
    ONNX Runtime."""
    T, B, I, H = 5, 2, 3, 4
    mk = helper.make_node
    inits = {"w1": r(1, 4 * H, I), "r1": r(1, 4 * H, H), "b1": r(1, 8 * H), "w2": r(2, 3 * H, H),
             "r2": r(2, 3 * H, H), "axes": np.array([1], np.int64), "lens": np.array([5, 3], np.int32)}
    nodes = [
        mk("Relu", ["x"], ["xr"]), mk("Tanh", ["h0"], ["h0t"]), mk("Neg", ["h0"], ["c0"]),
        mk("LSTM", ["xr", "w1", "r1", "b1", "lens", "h0t", "c0"], ["y1", "yh1", "yc1"], hidden_size=H),
        mk("Squeeze", ["y1", "axes"], ["y1s"]),
        mk("GRU", ["y1s", "w2", "r2", "", "lens"], ["y2", "yh2"], hidden_size=H, direction="bidirectional",
           linear_before_reset=1),
    ]
    feeds = {"x": r(T, B, I), "h0": r(1, B, H)}
    model = build(nodes, [value_info(n, f32, a.shape) for n, a in feeds.items()],
                  [value_info("y2", f32, (T, 2, B, H)), value_info("yh2", f32, (2, B, H)),
                   value_info("yc1", f32, (1, B, H))], inits, opset=22)
    want = ort_run(model, feeds)
    assert_match(pfw_run(to_pfw(model), feeds), want, exact=lambda: reference64(model, feeds))


# ---- bad input ----------------------------------------------------------------------------
def test_sequence_lens_out_of_range_is_named():
    model, feeds = recurrent("GRU", lens=[4, 5, 1])
    with pytest.raises(ValueError, match=r"rec.*sequence_lens\) \[1\] is 5; expected 0 to 4"):
        pfw_run(to_pfw(model), feeds)


@pytest.mark.parametrize("attrs,match", [
    ({"activations": ["Sigmoid"]}, r"'activations' has 1 names; expected 2"),
    ({"activations": ["Sigmoid", "Gelu"]}, r"activation 'Gelu' is not supported"),
    ({"direction": "sideways"}, r"'direction' is 'sideways'"),
    ({"hidden_size": 7}, r"'hidden_size' is 7 but input 2 \(R\) has hidden size 6"),
], ids=["activation_count", "unknown_activation", "direction", "hidden_size"])
def test_bad_attributes_are_named(attrs, match):
    import pyfw.format as fmt
    from pyfw.ir import Graph

    g = Graph("g", opset=22)
    g.add_input("x", "float32", (2, 1, 3))
    g.add_constant("w", r(1, 18, 3))
    g.add_constant("r", r(1, 18, 6))
    attrs = {"hidden_size": 6, **attrs}
    g.add_node("GRU", ["x", "w", "r"], ["y"], name="rec", version=22, **attrs)
    g.outputs = ["y"]
    with pytest.raises(pyfw.InvalidModelError, match=f"rec.*{match}"):
        pfw_run(fmt.to_bytes(g), {"x": np.zeros((2, 1, 3), f32)})


# ---- IR shape inference ------------------------------------------------------------------
@pytest.mark.parametrize("op", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("direction,layout", [("forward", 0), ("bidirectional", 0), ("bidirectional", 1)])
def test_shapes_match_onnx_shape_inference(op, direction, layout):
    from test_shapes import W, ours, oracle, single
    g, dirs = GATES[op], 2 if direction == "bidirectional" else 1
    ins = [("x", [3, "T", 5] if layout else ["T", 3, 5]), ("w", W(dirs, g * 4, 5)), ("r", W(dirs, g * 4, 4))]
    model = single(op, ins, {"hidden_size": 4, "direction": direction, "layout": layout}, 22,
                   3 if op == "LSTM" else 2)
    assert ours(model) == oracle(model)
