"""Shared helpers for the end-to-end suites: build a small ONNX model with
onnx.helper (checked by onnx.checker), run it through ONNX Runtime (the
oracle) and through pyfw (import_model -> infer_shapes -> .pfw bytes ->
libpfw), and compare the two."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

import pyfw.format
import pyfw.ir
import pyfw.onnx

OPSET = 17
RTOL, ATOL = 1e-5, 1e-6


class Init:
    """Marks a node argument that becomes an initializer instead of a graph input."""

    def __init__(self, value):
        self.value = np.asarray(value)


def value_info(name, dtype, shape):
    """A tensor ValueInfo; `shape` None leaves the shape unstated, a str dim is symbolic."""
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    return helper.make_tensor_value_info(name, elem, shape)


def build(nodes, inputs, outputs, inits=None, opset=OPSET, name="g", **model_kw):
    """A ModelProto from nodes, input/output ValueInfos and {name: array}
    initializers, checked by onnx.checker (with strict shape inference)."""
    graph = helper.make_graph(nodes, name, inputs, outputs,
                              [numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], **model_kw)
    model.ir_version = min(model.ir_version, 10)  # what onnxruntime 1.32 reads
    # Outputs may be declared without a shape; ONNX's own inference states it.
    model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    onnx.checker.check_model(model, full_check=True)
    return model


def operands(args):
    """A node's inputs from `args` (see single_op): (input names, graph input
    ValueInfos, {name: initializer array}, feeds)."""
    names, inputs, inits, feeds = [], [], {}, {}
    for i, a in enumerate(args):
        if a is None:
            names.append("")
            continue
        name = f"in{i}"
        names.append(name)
        if isinstance(a, Init):
            inits[name] = a.value
        else:
            arr = np.asarray(a)
            inputs.append(value_info(name, arr.dtype, arr.shape))
            feeds[name] = arr
    return names, inputs, inits, feeds


def single_op(op, args, opset=OPSET, out_dtype=None, n_outputs=1, out_shape=None, **attrs):
    """A one-node model. `args` are the node's inputs in order: an array is
    fed as a graph input (fixed shape), Init(array) is an initializer, None is
    an absent optional input. `out_shape` states the outputs' shape where
    ONNX's inference cannot. Returns (model, feeds)."""
    names, inputs, inits, feeds = operands(args)
    first = next(a.value if isinstance(a, Init) else np.asarray(a) for a in args if a is not None)
    dtype = out_dtype or first.dtype
    outs = [f"out{k}" for k in range(n_outputs)]
    node = helper.make_node(op, names, outs, name=f"{op.lower()}_node", **attrs)
    model = build([node], inputs, [value_info(o, dtype, out_shape) for o in outs], inits, opset)
    return model, feeds


def ort_run(model, feeds):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def to_pfw(model) -> bytes:
    """The .pfw bytes of an ONNX model, converted the way `pyfw convert` does."""
    graph = pyfw.onnx.import_model(model)
    pyfw.ir.infer_shapes(graph)
    return pyfw.format.to_bytes(graph)


def pfw_run(model_bytes, feeds, threads=1):
    from pyfw.runtime import Interpreter
    with Interpreter(model_bytes, threads=threads) as it:
        return it.run(feeds)


def assert_match(got, want, what="output", exact=None):
    """Same count, shapes and dtypes exactly; integers exactly, floats to
    rtol=1e-5 / atol=1e-6.

    `exact` (a callable giving float64 reference outputs) is the second
    oracle for float outputs: ONNX Runtime's own float32 rounding in long
    sums can exceed atol=1e-6 where an output cancels to near zero, so where
    pyfw and ONNX Runtime differ by more than the tolerance, pyfw must be
    within the same tolerance of the float64 result instead."""
    assert len(got) == len(want), f"{len(got)} outputs, expected {len(want)}"
    reference = None
    for k, (g, w) in enumerate(zip(got, want)):
        w = np.asarray(w)
        assert g.shape == w.shape, f"{what} {k}: shape {g.shape}, expected {w.shape}"
        assert g.dtype == w.dtype, f"{what} {k}: dtype {g.dtype}, expected {w.dtype}"
        if w.dtype.kind != "f":
            np.testing.assert_array_equal(g, w, err_msg=f"{what} {k}")
            continue
        try:
            np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL, err_msg=f"{what} {k} vs ONNX Runtime")
        except AssertionError:
            if exact is None:
                raise
            reference = reference or exact()
            np.testing.assert_allclose(g, reference[k], rtol=RTOL, atol=ATOL,
                                       err_msg=f"{what} {k}: differs from ONNX Runtime and from the "
                                               "float64 reference evaluator")


def as_float64(model):
    """A copy of `model` computing in float64: float32 initializers, inputs,
    outputs and value_info become float64."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    for i, init in enumerate(g.initializer):
        if init.data_type == onnx.TensorProto.FLOAT:
            g.initializer[i].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float64),
                                                              init.name))
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        if vi.type.tensor_type.elem_type == onnx.TensorProto.FLOAT:
            vi.type.tensor_type.elem_type = onnx.TensorProto.DOUBLE
    return m


def reference64(model, feeds):
    """Outputs of ONNX's reference evaluator on the float64 version of `model`."""
    from onnx.reference import ReferenceEvaluator
    feeds64 = {k: v.astype(np.float64) if v.dtype == np.float32 else v for k, v in feeds.items()}
    return ReferenceEvaluator(as_float64(model)).run(None, feeds64)


def check(model, feeds, threads=1):
    """Runs `model` through ONNX Runtime and pyfw, asserts they agree (see
    assert_match), and returns pyfw's outputs."""
    want = ort_run(model, feeds)
    got = pfw_run(to_pfw(model), feeds, threads)
    assert_match(got, want, exact=lambda: reference64(model, feeds))
    return got


def param_count(model) -> int:
    """Number of parameters, counted from the ONNX initializers."""
    return sum(int(np.prod(init.dims)) for init in model.graph.initializer)


def check_or_reference(model, feeds, threads=1):
    """check(), except that where ONNX Runtime has no kernel for the dtype
    (float64 trigonometry, for one), ONNX's reference evaluator is the oracle."""
    try:
        want = ort_run(model, feeds)
    except Exception as e:  # onnxruntime raises its own NotImplemented type
        if "NOT_IMPLEMENTED" not in str(e) and "Could not find an implementation" not in str(e):
            raise
        from onnx.reference import ReferenceEvaluator
        want = ReferenceEvaluator(model).run(None, feeds)
    got = pfw_run(to_pfw(model), feeds, threads)
    assert_match(got, want, exact=lambda: reference64(model, feeds))
    return got


def ort_quantize_static(model, tmp_path, feeds, qoperator=False, per_channel=True):
    """ONNX Runtime's quantize_static of `model` (uint8 activations, int8
    weights, MinMax) calibrated on `feeds`, a list of {input: array}: its QDQ
    file, or its QOperator one (com.microsoft ops). Returns the ModelProto."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    src, dst = tmp_path / "ort_fp32.onnx", tmp_path / "ort_int8.onnx"
    onnx.save(model, src)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter(feeds)

        def get_next(self):
            return next(self._it, None)

    quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QOperator if qoperator else QuantFormat.QDQ,
                    per_channel=per_channel, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    return onnx.load(dst)
