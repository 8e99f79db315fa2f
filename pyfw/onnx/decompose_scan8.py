"""Scan-8 (opset 8: a batch axis 0 on every input and output, scan axis 1)
as two nested Loops, which pyfw runs: the outer over the batch, each
iteration taking its batch element of the states and the scan inputs; the
inner over the scan axis, gathering element t (or L - 1 - t for a reversed
input) and running the Scan's body as it is. Both Loops stack what their
iterations give, which is exactly Scan-8's (batch, ...) final states and
(batch, steps, ...) scan outputs."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

from .. import UnsupportedError

I64 = np.int64


def is_scan8(node: onnx.NodeProto, opset: int) -> bool:
    return node.op_type == "Scan" and node.domain in ("", "ai.onnx") and opset < 9


def scan8(b) -> None:
    node = b.node
    if node.input and node.input[0]:
        raise UnsupportedError(f"{b.where}: sequence_lens (a length per batch element) is not supported; without "
                               f"it every element scans the whole axis")
    body: onnx.GraphProto = b.attr("body")
    n_scan = int(b.attr("num_scan_inputs"))
    inputs = list(node.input[1:])
    n_state = len(inputs) - n_scan
    directions = list(b.attrs.get("directions", [0] * n_scan))
    if n_state < 0 or len(body.input) != len(inputs) or len(body.output) < n_state or len(directions) != n_scan:
        raise UnsupportedError(f"{b.where}: its body takes {len(body.input)} inputs for {len(inputs)} given "
                               f"({n_scan} scanned), or directions has {len(directions)} entries")
    p = b.prefix
    scalar = [helper.make_tensor_value_info(f"{p}{n}", t, []) for n, t in
              (("t", TensorProto.INT64), ("cond", TensorProto.BOOL), ("i", TensorProto.INT64),
               ("cond_o", TensorProto.BOOL))]
    # Loop-1 (before opset 11) carries at least one value: a Loop without one carries a dummy.
    dummy_in, dummy_out, step_in, step_out = (helper.make_tensor_value_info(f"{p}{n}", TensorProto.INT64, [])
                                              for n in ("dummy", "dummy_next", "step_dummy", "step_dummy_next"))
    # Inner Loop: one step of the Scan, the body's own nodes and names.
    steps = f"{p}steps"
    inner_nodes = []
    for k, direction in enumerate(directions):
        at = scalar[0].name
        if direction:
            last = helper.make_node("Sub", [steps, f"{p}one"], [f"{p}last_{k}"])
            inner_nodes.append(last)
            inner_nodes.append(helper.make_node("Sub", [last.output[0], at], [f"{p}at_{k}"]))
            at = f"{p}at_{k}"
        inner_nodes.append(helper.make_node("Gather", [f"{p}x_{k}", at], [body.input[n_state + k].name], axis=0))
    inner_nodes += list(body.node)
    inner_nodes.append(helper.make_node("Identity", [scalar[1].name], [f"{p}cond_out"]))
    inner_dummy = n_state == 0
    if inner_dummy:
        inner_nodes.append(helper.make_node("Identity", [step_in.name], [step_out.name]))
    inner = helper.make_graph(
        inner_nodes, f"{body.name}_steps",
        [scalar[0], scalar[1], *body.input[:n_state], *([step_in] if inner_dummy else [])],
        [helper.make_tensor_value_info(f"{p}cond_out", TensorProto.BOOL, []), *body.output[:n_state],
         *([step_out] if inner_dummy else []), *body.output[n_state:]],
        list(body.initializer))
    # Outer Loop: one batch element.
    outer_nodes = [helper.make_node("Constant", [], [f"{p}one"], value=helper.make_tensor("one", TensorProto.INT64,
                                                                                           [], [1]))]
    for k in range(n_state):
        outer_nodes.append(helper.make_node("Gather", [inputs[k], scalar[2].name], [f"{p}s_{k}"], axis=0))
    for k in range(n_scan):
        outer_nodes.append(helper.make_node("Gather", [inputs[n_state + k], scalar[2].name], [f"{p}x_{k}"], axis=0))
    outer_nodes.append(helper.make_node("Shape", [f"{p}x_0"], [f"{p}x_shape"]))
    outer_nodes.append(helper.make_node("Gather", [f"{p}x_shape", f"{p}zero"], [steps], axis=0))
    outer_nodes.insert(0, helper.make_node("Constant", [], [f"{p}zero"],
                                           value=helper.make_tensor("zero", TensorProto.INT64, [], [0])))
    results = [f"{p}r_{k}" for k in range(len(body.output))]
    carried = [f"{p}s_{k}" for k in range(n_state)] + ([f"{p}zero"] if inner_dummy else [])
    inner_results = results[:n_state] + ([f"{p}inner_dummy"] if inner_dummy else []) + results[n_state:]
    outer_nodes.append(helper.make_node("Loop", [steps, "", *carried], inner_results, body=inner))
    outer_nodes.append(helper.make_node("Identity", [scalar[3].name], [f"{p}cond_o_out"]))
    outer_nodes.append(helper.make_node("Identity", [dummy_in.name], [dummy_out.name]))
    out_types = [helper.make_tensor_value_info(r, v.type.tensor_type.elem_type, None)
                 for r, v in zip(results, body.output)]
    outer = helper.make_graph(outer_nodes, f"{body.name}_batch", [scalar[2], scalar[3], dummy_in],
                              [helper.make_tensor_value_info(f"{p}cond_o_out", TensorProto.BOOL, []), dummy_out,
                               *out_types])
    batch = b.add("Gather", [b.add("Shape", [inputs[n_state] if n_scan else inputs[0]]), b.const(0, I64)], axis=0)
    outs = list(node.output) + [""] * (len(body.output) - len(node.output))
    b.nodes.append(helper.make_node("Loop", [batch, "", b.const(0, I64)], [f"{p}dummy_final", *outs],
                                    name=f"{p}Loop", body=outer))
