"""pyfw.export: trace one eval-mode forward into a pyfw.ir.Graph (`trace`) and
save it as .pfw (`export`; pyfw.onnx.export writes the same graph as ONNX).

Each exportable op calls tensor.emit(onnx_op, inputs, output, **attrs) as it runs;
tensors the trace has not seen are parameters or constants and become initializers.
"""
from __future__ import annotations

import numpy as np

from pyfw import UnsupportedError
from pyfw.autograd import tensor as T
from pyfw.autograd.tensor import Tensor


# the ONNX version of each emitted op (opset 17 semantics)
VERSIONS = {"Add": 14, "Sub": 14, "Mul": 14, "Div": 14, "MatMul": 13, "Gemm": 13, "Relu": 14,
            "Sigmoid": 13, "Tanh": 13, "LeakyRelu": 16, "Softmax": 13, "Reshape": 14,
            "Flatten": 13, "Transpose": 13, "Concat": 13, "Identity": 16, "Conv": 11,
            "MaxPool": 12, "AveragePool": 11, "GlobalAveragePool": 1, "BatchNormalization": 15}


class _Tracer:
    def __init__(self, graph):
        self.g = graph
        self.names: dict[int, str] = {}
        self.keep = []  # holds traced tensors so their ids stay unique
        self.where = []  # module path, for error messages

    def name(self, t, role="const"):
        if id(t) in self.names:
            return self.names[id(t)]
        if t._backward is not None:  # computed from the input by an op with no IR node
            raise UnsupportedError(
                f"export: {self.describe()} uses an op that pyfw cannot export (a value of "
                f"shape {tuple(t.shape)} was computed by an untraced operation)")
        n = f"{role}_{len(self.names)}"
        data = t.data if t.data.dtype != np.float64 else t.data.astype(np.float32)
        self.g.add_constant(n, np.ascontiguousarray(data))
        self.keep.append(t)
        self.names[id(t)] = n
        return n

    def describe(self):
        return self.where[-1] if self.where else "the model"

    def node(self, op, inputs, out, attrs):
        if op is None:
            raise UnsupportedError(f"export: {self.describe()} uses an op with no ONNX mapping")
        ins = [self.name(t) for t in inputs]
        n = f"t{len(self.names)}_{op}"
        self.names[id(out)] = n
        self.keep.append(out)
        self.g.add_node(op, ins, [n], name=f"{self.describe()}/{op}_{len(self.g.nodes)}",
                        version=VERSIONS[op], **attrs)


def trace(model, example_inputs):
    """Runs `model` once in eval mode on example_inputs and returns the graph
    of what it computed, shapes inferred. The leading (batch) dimension of
    every input and output is dynamic."""
    from pyfw.ir import Graph, infer_shapes
    from pyfw.nn.modules import Module

    xs = example_inputs if isinstance(example_inputs, (tuple, list)) else (example_inputs,)
    xs = [x if isinstance(x, Tensor) else Tensor(np.asarray(x, np.float32)) for x in xs]
    g = Graph(name=type(model).__name__)
    tr = _Tracer(g)
    feeds = []
    for i, x in enumerate(xs):
        n = f"input_{i}" if len(xs) > 1 else "input"
        g.add_input(n, "float32", (-1,) + tuple(x.shape[1:]))
        fx = Tensor(x.data.astype(np.float32), requires_grad=True)  # marks input-derived values
        tr.names[id(fx)] = n
        tr.keep.append(fx)
        feeds.append(fx)

    orig_call = Module.__call__

    def call(self, *a, **kw):  # names the module in any error
        path_ = dict((id(m), p) for p, m in model.named_modules()).get(id(self), "?")
        tr.where.append(f"module {path_ or type(model).__name__!r} ({type(self).__name__})")
        try:
            return orig_call(self, *a, **kw)
        finally:
            tr.where.pop()

    was_training = model.training
    model.eval()
    Module.__call__ = call
    T._tracer = tr
    try:
        out = model(*feeds)
    finally:
        T._tracer = None
        Module.__call__ = orig_call
        model.train(was_training)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    for i, o in enumerate(outs):
        n = tr.name(o)
        oname = f"output_{i}" if len(outs) > 1 else "output"
        g.add_node("Identity", [n], [oname], version=16)
        g.outputs.append(oname)
    g.toposort()
    infer_shapes(g)
    return g


def export(model, example_inputs, path):
    """Traces `model` (see trace) and writes `path` (.pfw); returns the graph."""
    from pyfw.format import save

    g = trace(model, example_inputs)
    save(g, path)
    return g
