"""Ops that ONNX gives no function body for, imported as the standard ops that
compute them (as functions.py does for the ops it has a body for): libpfw
then runs them with kernels it already has and tests. Each rule takes the
node, a name prefix no other value in the model uses, the model's opset and
`types()` (value types from ONNX's shape inference), and returns the nodes.

    Bernoulli         U < p for U from RandomUniformLike (ONNX's function body has U > p)
    MaxUnpool         ScatterElements of X into zeros at the flat indices I
    STFT              frames gathered by index, windowed, one DFT over them
    MelWeightMatrix   the triangles' bins, then one Where per slope
    BatchNormalization with training_mode=1: batch statistics, blended means
    Dropout           in training mode: U >= ratio keeps, scaled by 1 / (1 - ratio)
    decompose_scan8   Scan of opset 8 (batch axis): two nested Loops
    decompose_vision  DeformConv, RoiAlign, MaxPool's Indices output
    decompose_contrib ONNX Runtime's quantized ops (com.microsoft: QLinearAdd, QGemm...)
    decompose_ml      TfIdfVectorizer; Adagrad, Momentum, Adam (preview.training);
    decompose_gradient  Gradient (preview.training): reverse-mode differentiation
                      Binarizer, ArrayFeatureExtractor (ai.onnx.ml)
    decompose_trees   TreeEnsemble, TreeEnsembleRegressor, TreeEnsembleClassifier
    decompose_linear  LinearRegressor, LinearClassifier, SVMRegressor, SVMClassifier,
                      Scaler,
                      Normalizer, Imputer, OneHotEncoder, FeatureVectorizer
They are correct first and fast second: bench/decomposed_ops.py measures
them against ONNX Runtime's own kernels.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .. import InvalidModelError, UnsupportedError
from ..ir.graph import OTHER_DOMAIN_OPS
from . import (decompose_contrib, decompose_gradient, decompose_linear, decompose_ml, decompose_scan8, decompose_trees,
               decompose_vision)

I64 = np.int64


class GraphView:
    """What a rule may read of the graph around its node: each value's
    producer, as (node, name, index in the graph), and the values known at
    import (Constant nodes here; `constant` answers for the rest, such as
    initializers, or gives None)."""

    def __init__(self, nodes=(), constant=None):
        self.producers = {o: (n, name, k) for k, (n, name) in enumerate(nodes) for o in n.output if o}
        self._constant = constant or (lambda v: None)

    def constant(self, v: str):
        """v's value as a NumPy array where it is known at import, else None."""
        if not v:
            return None
        made = self.producers.get(v)
        if made is None:
            return self._constant(v)
        n = made[0]
        if n.op_type != "Constant" or n.domain not in ("", "ai.onnx") or len(n.attribute) != 1:
            return None
        value = helper.get_attribute_value(n.attribute[0])
        return numpy_helper.to_array(value) if isinstance(value, onnx.TensorProto) else \
            None if n.attribute[0].name.startswith("sparse") else np.asarray(value)


class _Builder:
    """Appends ONNX nodes named under a prefix, spelling version-dependent
    forms (axes as attribute or input) for the model's opset."""

    def __init__(self, node: onnx.NodeProto, name: str, opset: int, types, graph: GraphView | None = None):
        self.node, self.name, self.opset, self.types = node, name, opset, types
        self.graph = graph or GraphView()
        self.prefix = f"{name}/"
        self.nodes: list[onnx.NodeProto] = []
        self.attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}

    def add(self, op: str, inputs, output: str | None = None, **attrs) -> str:
        out = f"{self.prefix}{op}_{len(self.nodes)}"
        self.nodes.append(helper.make_node(op, list(inputs), [output or out], name=out, **attrs))
        return self.nodes[-1].output[0]

    def const(self, value, dtype) -> str:
        return self.add("Constant", [], value=numpy_helper.from_array(np.asarray(value, dtype)))

    def with_axes(self, op: str, x: str, axes, since: int, **attrs) -> str:
        """op (Squeeze, Unsqueeze, Reduce*) with axes as the input it became at opset `since`."""
        if self.opset >= since:
            return self.add(op, [x, self.const(axes, I64)], **attrs)
        return self.add(op, [x], axes=list(axes), **attrs)

    @property
    def where(self) -> str:
        return f"node {self.name!r} ({self.node.op_type})"

    def attr(self, name: str):
        """A required attribute."""
        if name not in self.attrs:
            raise InvalidModelError(f"{self.where}: has no {name!r} attribute, which it needs")
        return self.attrs[name]

    def text(self, name: str, default: str) -> str:
        """A string attribute (ONNX gives bytes)."""
        v = self.attrs.get(name, default)
        return v.decode() if isinstance(v, bytes) else v

    def dim(self, v: str, axis: int) -> str:
        """Dimension `axis` of v, a 1-element int64 tensor."""
        return self.add("Gather", [self.add("Shape", [v]), self.const([axis], I64)])

    def cat(self, *parts) -> str:
        """A 1-D int64 tensor (a shape) from ints and 1-element tensors."""
        return self.add("Concat", [p if isinstance(p, str) else self.const([p], I64) for p in parts], axis=0)

    def compare(self, op: str, a: str, c: str) -> str:
        """a op c; LessOrEqual/GreaterOrEqual (opset 12) are Or(Less|Greater,
        Equal) before it (NaN compares false either way)."""
        if op in ("LessOrEqual", "GreaterOrEqual") and self.opset < 12:
            strict = self.add("Less" if op == "LessOrEqual" else "Greater", [a, c])
            return self.add("Or", [strict, self.add("Equal", [a, c])])
        return self.add(op, [a, c])

    def require(self, opset: int) -> None:
        """The ops this node becomes need `opset` (the model's opset reads every op)."""
        if self.opset < opset:
            raise UnsupportedError(f"{self.where}: pyfw runs it as standard ops of opset {opset} or later, and the "
                                   f"model's default-domain opset is {self.opset}")

    def input(self, k: int) -> str:
        """The node's input k, or "" where it is left out."""
        return self.node.input[k] if k < len(self.node.input) else ""

    def elem_type(self, v: str) -> int:
        t = self.types().get(v)
        if t is None or not t.tensor_type.elem_type:
            raise UnsupportedError(f"{self.where}: running it as standard ops needs the element type of {v!r}, "
                                   f"which shape inference does not give")
        return t.tensor_type.elem_type

    def dims(self, v: str) -> list[int | None]:
        """v's dimensions as shape inference gives them (None where unknown); [] without a shape."""
        t = self.types().get(v)
        if t is None or not t.tensor_type.HasField("shape"):
            return []
        return [d.dim_value if d.HasField("dim_value") else None for d in t.tensor_type.shape.dim]

    def rank(self, v: str) -> int:
        t = self.types().get(v)
        if t is None or not t.tensor_type.HasField("shape"):
            raise UnsupportedError(f"{self.where}: running it as standard ops needs the rank of {v!r}, which shape "
                                   f"inference does not give")
        return len(t.tensor_type.shape.dim)

    def declare(self, name: str, elem: int, like: str = "") -> None:
        """Records the type of output `name` (with the shape of value `like`)
        for the rules of the nodes after it: ONNX's inference types few
        ai.onnx.ml outputs."""
        known = self.types()
        if not name or name in known:
            return
        tp = helper.make_tensor_type_proto(elem, None)
        if like in known and known[like].tensor_type.HasField("shape"):
            tp.tensor_type.shape.CopyFrom(known[like].tensor_type.shape)
        known[name] = tp

    def result(self) -> list[tuple[onnx.NodeProto, str]]:
        return [(n, n.name) for n in self.nodes]


def _max_unpool(b: _Builder) -> None:
    """Y = zeros of the output shape with Y.flat[I] = X: I indexes the whole
    flattened output, batch and channel included, as MaxPool's Indices do.
    The output shape is output_shape where given (ONNX Runtime's reading, the
    one PyTorch's max_unpool with output_size exports), else per spatial axis
    (in - 1) * stride + kernel - pad_begin - pad_end."""
    x, indices, shape = b.input(0), b.input(1), b.input(2)
    kernel = list(b.attr("kernel_shape"))
    n = len(kernel)
    strides, pads = list(b.attrs.get("strides", [1] * n)), list(b.attrs.get("pads", [0] * (2 * n)))
    if len(strides) != n or len(pads) != 2 * n:
        raise InvalidModelError(f"{b.where}: strides {strides} and pads {pads} do not fit kernel_shape {kernel}")
    if shape:
        shape = b.add("Cast", [shape], to=TensorProto.INT64)
    else:
        dims = b.add("Shape", [x])
        spatial = b.add("Gather", [dims, b.const(range(2, 2 + n), I64)])
        grown = b.add("Mul", [b.add("Sub", [spatial, b.const([1], I64)]), b.const(strides, I64)])
        extra = [k - pads[i] - pads[i + n] for i, k in enumerate(kernel)]
        shape = b.add("Concat", [b.add("Gather", [dims, b.const([0, 1], I64)]),
                                 b.add("Add", [grown, b.const(extra, I64)])], axis=0)
    total = b.add("ReduceProd", [shape], keepdims=1)
    zero = helper.make_tensor("zero", b.elem_type(x), [1], [0])
    zeros = b.add("ConstantOfShape", [total], value=zero)
    flat = b.const([-1], I64)
    scatter = "ScatterElements" if b.opset >= 11 else "Scatter"
    values = b.add(scatter, [zeros, b.add("Reshape", [indices, flat]), b.add("Reshape", [x, flat])], axis=0)
    b.add("Reshape", [values, shape], output=b.node.output[0])


def _stft(b: _Builder) -> None:
    """Frame t is signal[:, t*step : t*step + L] for t < (n - L) // step + 1,
    gathered as one (frames, L) index grid, times the window, and one DFT over
    axis 2 gives STFT's (batch, frames, bins, 2)."""
    signal, step, window, length = b.input(0), b.input(1), b.input(2), b.input(3)
    if not window and not length:
        raise UnsupportedError(f"{b.where}: needs a window or a frame_length input")
    zero, one = b.const(0, I64), b.const(1, I64)
    if length:
        frame = b.add("Cast", [length], to=TensorProto.INT64)
    else:
        frame = b.with_axes("Squeeze", b.add("Shape", [window]), [0], 13)
    step = b.add("Cast", [step], to=TensorProto.INT64)
    n = b.add("Gather", [b.add("Shape", [signal]), one])
    frames = b.add("Add", [b.add("Div", [b.add("Sub", [n, frame]), step]), one])
    starts = b.add("Mul", [b.add("Range", [zero, frames, one]), step])
    grid = b.add("Add", [b.with_axes("Unsqueeze", starts, [1], 13),
                         b.with_axes("Unsqueeze", b.add("Range", [zero, frame, one]), [0], 13)])
    x = b.add("Gather", [signal, grid], axis=1)
    if window:
        x = b.add("Mul", [x, b.with_axes("Unsqueeze", window, [1], 13)])
    onesided = int(b.attrs.get("onesided", 1))
    out = b.node.output[0]
    if b.opset >= 20:
        b.add("DFT", [x, "", b.const(2, I64)], output=out, onesided=onesided)
    else:
        b.add("DFT", [x], output=out, axis=2, onesided=onesided)


def _mel_weight_matrix(b: _Builder) -> None:
    """ONNX's definition: num_mel_bins + 2 points evenly spaced in mel between
    the edges (mel = 2595 log10(1 + hz / 700)), each mapped to the bin
    floor((dft_length + 1) * hz / sample_rate); filter i rises from point i
    to point i + 1 and falls to point i + 2. The mel edges are float32 and the
    points float64, as in ONNX's reference."""
    mels, dft, rate, low, high = (b.input(k) for k in range(5))
    f32, f64 = TensorProto.FLOAT, TensorProto.DOUBLE

    def mel(hz):
        hz = b.add("Cast", [hz], to=f32)
        ratio = b.add("Add", [b.const(1, np.float32), b.add("Div", [hz, b.const(700, np.float32)])])
        log10 = b.add("Div", [b.add("Log", [ratio]), b.const(np.log(10), np.float32)])
        return b.add("Mul", [b.const(2595, np.float32), log10])

    low_mel, high_mel = mel(low), mel(high)
    mels = b.add("Cast", [mels], to=TensorProto.INT64)
    count = b.add("Add", [mels, b.const(2, I64)])
    step = b.add("Div", [b.add("Sub", [high_mel, low_mel]), b.add("Cast", [count], to=f32)])
    points = b.add("Add", [b.add("Mul", [b.add("Cast", [b.add("Range", [b.const(0, I64), count, b.const(1, I64)])],
                                                to=f64), b.add("Cast", [step], to=f64)]),
                           b.add("Cast", [low_mel], to=f64)])
    hz = b.add("Mul", [b.const(700, np.float64), b.add("Sub", [
        b.add("Pow", [b.const(10, np.float64), b.add("Div", [points, b.const(2595, np.float64)])]),
        b.const(1, np.float64)])])
    dft = b.add("Cast", [dft], to=TensorProto.INT64)
    scaled = b.add("Mul", [b.add("Cast", [b.add("Add", [dft, b.const(1, I64)])], to=f64), hz])
    bins = b.add("Floor", [b.add("Div", [scaled, b.add("Cast", [rate], to=f64)])])
    left = b.add("Slice", [bins, b.const([0], I64), b.add("Reshape", [mels, b.const([1], I64)])])
    center = b.add("Slice", [bins, b.const([1], I64), b.const([-1], I64)])
    right = b.add("Slice", [bins, b.const([2], I64), b.add("Reshape", [count, b.const([1], I64)])])
    n_bins = b.add("Add", [b.add("Div", [dft, b.const(2, I64)]), b.const(1, I64)])
    j = b.with_axes("Unsqueeze", b.add("Cast", [b.add("Range", [b.const(0, I64), n_bins, b.const(1, I64)])], to=f64),
                    [1], 13)  # (bins, 1) against (mels,) rows
    zero = b.const(0, np.float64)

    def slope(lo, hi, rising):
        inside = b.add("And", [b.add("GreaterOrEqual", [j, lo]),
                               b.add("LessOrEqual" if rising else "Less", [j, hi])])
        span = b.add("Sub", [hi, lo])
        # A zero-width rise puts its 1 at the center (x / max(span, 1) keeps 0/0 out).
        ramp = b.add("Div", [b.add("Sub", [j, lo]) if rising else b.add("Sub", [hi, j]),
                             b.add("Max", [span, b.const(1, np.float64)])])
        if rising:
            ramp = b.add("Where", [b.add("Equal", [span, zero]), b.const(1, np.float64), ramp])
        return b.add("Where", [inside, ramp, zero])

    up, down = slope(left, center, True), slope(center, right, False)
    # The fall overwrites the rise where both reach (the center): both are 1 there.
    weights = b.add("Where", [b.add("Greater", [down, zero]), down, up])
    to = int(b.attrs.get("output_datatype", TensorProto.FLOAT))
    b.add("Cast", [weights], output=b.node.output[0], to=to)


def is_training_batchnorm(node: onnx.NodeProto) -> bool:
    return node.op_type == "BatchNormalization" and node.domain in ("", "ai.onnx") and any(
        a.name == "training_mode" and a.i for a in node.attribute)


def _training_batchnorm(b: _Builder) -> None:
    """BatchNormalization with training_mode=1 (opset 14+) as the ops it
    means: the batch's mean and population variance over every axis but 1
    normalise X, and the running statistics come out blended by momentum:
    out_mean = mean * momentum + batch_mean * (1 - momentum), alike for var."""
    x, scale, bias, mean, var = b.node.input[:5]
    rank, x_elem = b.rank(x), b.elem_type(x)
    np_dtype = helper.tensor_dtype_to_np_dtype(x_elem)
    eps, momentum = b.attrs.get("epsilon", 1e-5), b.attrs.get("momentum", 0.9)
    outs = list(b.node.output) + [""] * (3 - len(b.node.output))
    axes = [0] + list(range(2, rank))

    batch_mean = b.with_axes("ReduceMean", x, axes, 18, keepdims=1)
    d = b.add("Sub", [x, batch_mean])
    batch_var = b.with_axes("ReduceMean", b.add("Mul", [d, d]), axes, 18, keepdims=1)
    per_channel = b.const([-1] + [1] * (rank - 2), I64)  # (C, 1, ...) broadcasts against (N, C, ...)
    norm = b.add("Div", [d, b.add("Sqrt", [b.add("Add", [batch_var, b.const(eps, np_dtype)])])])

    # BatchNormalization-15 lets scale/B and the statistics have types of their own.
    def elem_of(v):
        t = b.types().get(v)
        return t.tensor_type.elem_type if t is not None else x_elem

    def cast(v, elem, given):
        return v if elem == given else b.add("Cast", [v], to=elem)

    scale_x, bias_x = cast(scale, x_elem, elem_of(scale)), cast(bias, x_elem, elem_of(bias))
    b.add("Add", [b.add("Mul", [norm, b.add("Reshape", [scale_x, per_channel])]),
                  b.add("Reshape", [bias_x, per_channel])], output=outs[0])
    flat = b.const([-1], I64)
    for running, batch, out in ((mean, batch_mean, outs[1]), (var, batch_var, outs[2])):
        if out:
            elem = elem_of(running)
            dt = helper.tensor_dtype_to_np_dtype(elem)
            batch = cast(b.add("Reshape", [batch, flat]), elem, x_elem)
            b.add("Add", [b.add("Mul", [running, b.const(momentum, dt)]),
                          b.add("Mul", [batch, b.const(1 - momentum, dt)])], output=out)


def _is_training_dropout(node: onnx.NodeProto, graph: GraphView) -> bool:
    """Dropout whose training_mode input is given and is not a constant false
    (a computed flag decides at run time), with a ratio that is not a
    constant 0 (ONNX: then nothing is dropped). Inference-mode Dropout stays
    the importer's Identity."""
    if node.op_type != "Dropout" or node.domain not in ("", "ai.onnx") or len(node.input) < 3 or not node.input[2]:
        return False
    flag = graph.constant(node.input[2])
    if flag is None:
        return True
    ratio = graph.constant(node.input[1]) if len(node.input) > 1 and node.input[1] else 0.5
    for what, v in (("training_mode", flag), ("ratio", ratio)):
        if v is not None and np.size(v) != 1:
            raise InvalidModelError(f"Dropout node {node.name!r}: {what} holds {np.size(v)} values, not one")
    return bool(np.asarray(flag).reshape(-1)[0]) and (ratio is None or float(np.asarray(ratio).reshape(-1)[0]) != 0)


def _training_dropout(b: _Builder) -> None:
    """Dropout drawing its mask, as ONNX defines it: keep = U[0, 1) >= ratio
    (float32 uniforms from RandomUniformLike, with the node's seed), output =
    x / (1 - ratio) where kept, else 0. Where training_mode is computed, it
    chooses between that and x (the mask then all true) at run time."""
    x, flag = b.input(0), b.input(2)
    elem, f32 = b.elem_type(x), TensorProto.FLOAT
    ratio = b.input(1) or b.const(0.5, np.float32)
    seed = {"seed": float(b.attrs["seed"])} if "seed" in b.attrs else {}
    keep = b.add("GreaterOrEqual", [b.add("RandomUniformLike", [x], dtype=f32, **seed),
                                     b.add("Cast", [ratio], to=f32)])
    one = b.add("Cast", [b.const(1, np.float32)], to=elem)
    scale = b.add("Div", [one, b.add("Sub", [one, b.add("Cast", [ratio], to=elem)])])
    zero = b.add("Cast", [b.const(0, np.float32)], to=elem)
    dynamic = b.graph.constant(flag) is None
    y, mask = b.node.output[0], (b.node.output[1] if len(b.node.output) > 1 else "")
    dropped = b.add("Where", [keep, b.add("Mul", [x, scale]), zero], output=None if dynamic else y)
    if dynamic:
        b.add("Where", [flag, dropped, x], output=y)
    if mask:
        b.add("Or", [keep, b.add("Not", [flag])], output=mask) if dynamic else b.add("Identity", [keep], output=mask)


def _bernoulli(b: _Builder) -> None:
    """1 with probability p, as ONNX's spec, ONNX Runtime and PyTorch have it:
    U < p for U uniform in [0, 1). (ONNX's function body tests U > p, and
    ONNX Runtime 1.32's kernel agrees with it: 1 with probability 1 - p.) U is float32 (float64 for a float64 p), so p = 1
    always gives 1 and p = 0 never does."""
    p = b.input(0)
    elem = b.elem_type(p)
    drawn = TensorProto.DOUBLE if elem == TensorProto.DOUBLE else TensorProto.FLOAT
    seed = {"seed": float(b.attrs["seed"])} if "seed" in b.attrs else {}
    u = b.add("RandomUniformLike", [p], dtype=drawn, **seed)
    below = b.add("Less", [u, p if elem == drawn else b.add("Cast", [p], to=drawn)])
    b.add("Cast", [below], output=b.node.output[0], to=int(b.attrs.get("dtype", elem)))


# (domain, op type): rule. A default-domain rule applies where pyfw has no kernel.
RULES = {("", "Bernoulli"): _bernoulli, ("", "MaxUnpool"): _max_unpool, ("", "STFT"): _stft, ("", "MelWeightMatrix"): _mel_weight_matrix,
         ("", "DeformConv"): decompose_vision.deform_conv, ("", "RoiAlign"): decompose_vision.roi_align}
RULES.update(decompose_ml.RULES)
RULES.update(decompose_contrib.RULES)
RULES[decompose_ml.TRAINING, "Gradient"] = decompose_gradient.gradient
ML = decompose_ml.ML
RULES.update({(ML, "TreeEnsemble"): decompose_trees.tree_ensemble,
              (ML, "TreeEnsembleRegressor"): decompose_trees.tree_ensemble_regressor,
              (ML, "TreeEnsembleClassifier"): decompose_trees.tree_ensemble_classifier,
              (ML, "LinearRegressor"): decompose_linear.linear_regressor,
              (ML, "LinearClassifier"): decompose_linear.linear_classifier,
              (ML, "Scaler"): decompose_linear.scaler, (ML, "Normalizer"): decompose_linear.normalizer,
              (ML, "Imputer"): decompose_linear.imputer, (ML, "OneHotEncoder"): decompose_linear.one_hot_encoder,
              (ML, "FeatureVectorizer"): decompose_linear.feature_vectorizer,
              (ML, "SVMRegressor"): decompose_linear.svm_regressor,
              (ML, "SVMClassifier"): decompose_linear.svm_classifier})
# Ops of other domains that libpfw runs as kernels of their own (OpType values
# appended to the schema; the node keeps its domain), not as decompositions.
KERNELS = OTHER_DOMAIN_OPS
# The opset the standard ops of a model that imports only other domains are read at:
# 19, the first whose Equal takes strings (OneHotEncoder's string categories).
DEFAULT_OPSET = 19


def domain_of(node: onnx.NodeProto) -> str:
    return "" if node.domain == "ai.onnx" else node.domain


def has_rule(node: onnx.NodeProto) -> bool:
    return (domain_of(node), node.op_type) in RULES


def _partial_rule(node: onnx.NodeProto, opset: int, graph: GraphView):
    """The rule for an op pyfw has a kernel for, used in a form the kernel
    lacks (a training-mode BatchNormalization or Dropout, a MaxPool whose
    Indices are read, a Scan of opset 8), or None."""
    if is_training_batchnorm(node):
        return _training_batchnorm
    if _is_training_dropout(node, graph):
        return _training_dropout
    if decompose_vision.is_max_pool_with_indices(node):
        return decompose_vision.max_pool_indices
    if decompose_scan8.is_scan8(node, opset):
        return decompose_scan8.scan8
    return None


def is_partial(node: onnx.NodeProto, opset: int, graph: GraphView | None = None) -> bool:
    return _partial_rule(node, opset, graph or GraphView()) is not None


def decompose(node: onnx.NodeProto, name: str, opset: int, types,
              graph: GraphView | None = None, opsets: dict[str, int] | None = None) -> list[tuple[onnx.NodeProto, str]]:
    """The standard nodes (with names under `name`) that compute `node`: an op
    in RULES, or a form is_partial() names. `graph` is node's graph; `opsets`
    the model's opset of each domain (for a kernel of KERNELS a rule uses)."""
    graph = graph or GraphView()
    b = _Builder(node, name, opset, types, graph)
    b.opsets = dict(opsets or {})
    rule = _partial_rule(node, opset, graph) or RULES[domain_of(node), node.op_type]
    try:
        rule(b)
    except (InvalidModelError, UnsupportedError):
        raise
    except KeyError as e:
        raise InvalidModelError(f"{b.where}: has no {e} attribute, which it needs") from None
    except (ValueError, IndexError, TypeError, ZeroDivisionError) as e:  # attributes of the wrong size or kind
        raise InvalidModelError(f"{b.where}: its attributes do not fit together: {e}") from None
    return b.result()
