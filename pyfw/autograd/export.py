"""pyfw.export: trace one eval-mode forward into a pyfw.ir.Graph and save it as .pfw.

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
            "MaxPool": 12, "AveragePool": 11, "GlobalAveragePool": 1, "BatchNormalization": 15,
            "Pow": 15, "Neg": 13, "Exp": 13, "Log": 13, "Sqrt": 13, "Abs": 13, "Clip": 13, "Where": 16,
            "Less": 13, "LessOrEqual": 16, "Greater": 13, "GreaterOrEqual": 16, "Equal": 13, "Not": 1,
            "ReduceSum": 13, "ReduceMax": 13, "ReduceMin": 13, "ArgMax": 13, "ArgMin": 13,
            "Squeeze": 13, "Unsqueeze": 13, "Slice": 13, "ConvTranspose": 11,
            "LayerNormalization": 17, "Gather": 13, "Gelu": 20, "HardSwish": 14, "Erf": 13}


class _Tracer:
    def __init__(self, graph):
        self.g = graph
        self.names: dict[int, str] = {}
        self.traced: set[int] = set()  # ids of values computed from the inputs
        self.keep = []  # holds traced tensors so their ids stay unique
        self.where = []  # module path, for error messages

    def from_input(self, t):
        """Whether t was computed from a model input (else it is a constant of the graph)."""
        stack, seen = [t], set()
        while stack:  # iterative: tapes of deep models outgrow Python's recursion limit
            u = stack.pop()
            if id(u) in self.traced:
                return True
            if id(u) not in seen:
                seen.add(id(u))
                stack.extend(u._parents)
        return False

    def name(self, t, role="const"):
        if id(t) in self.names:
            return self.names[id(t)]
        if t._backward is not None and self.from_input(t):  # computed by an op with no IR node
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
        if any(id(t) in self.traced for t in inputs):
            self.traced.add(id(out))
        self.keep.append(out)
        self.g.add_node(op, ins, [n], name=f"{self.describe()}/{op}_{len(self.g.nodes)}",
                        version=VERSIONS[op], **attrs)


def trace(model, example_inputs, dynamic_axes=None):
    """Runs `model` once in eval mode on example_inputs and returns the graph
    of what it computed, shapes inferred. dynamic_axes lists, per input, the
    dims that may change size at run time (default: the leading, batch,
    dimension of every input); shapes of the outputs follow by shape inference."""
    from pyfw.ir import Graph, infer_shapes
    from pyfw.nn.modules import Module

    xs = example_inputs if isinstance(example_inputs, (tuple, list)) else (example_inputs,)
    xs = [x if isinstance(x, Tensor) else Tensor(np.asarray(x, np.float32)) for x in xs]
    g = Graph(name=type(model).__name__)
    tr = _Tracer(g)
    feeds = []
    dyn = [(0,)] * len(xs) if dynamic_axes is None else [tuple(a) for a in dynamic_axes]
    if len(dyn) != len(xs):
        raise ValueError(f"export: dynamic_axes has {len(dyn)} entries for {len(xs)} inputs")
    for i, x in enumerate(xs):
        n = f"input_{i}" if len(xs) > 1 else "input"
        # integer inputs (token ids) stay int64 and masks bool; the rest is float32
        dt = np.int64 if x.dtype.kind in "iu" else bool if x.dtype == bool else np.float32
        g.add_input(n, np.dtype(dt).name, tuple(-1 if k in dyn[i] else d for k, d in enumerate(x.shape)))
        fx = Tensor(x.data.astype(dt), requires_grad=dt == np.float32)  # marks input-derived values
        tr.names[id(fx)] = n
        tr.traced.add(id(fx))
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


def export(model, example_inputs, path, dynamic_axes=None):
    """Traces `model` (see trace) and writes `path` (.pfw); returns the graph."""
    from pyfw.format import save

    g = trace(model, example_inputs, dynamic_axes)
    save(g, path)
    return g
