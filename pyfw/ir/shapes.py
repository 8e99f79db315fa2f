"""Shape and dtype inference over a pyfw.ir.Graph.

`infer_shapes(graph)` walks the nodes in order from the graph inputs and
constants and sets the dtype and shape of every tensor a node produces, with
ONNX's semantics for each op. A dynamic dimension (-1) stays -1 wherever the
result depends on it; an unknown rank (shape None) stays unknown.

Each op has one rule in SHAPE_RULES: it takes the node and its input tensors
and returns (dtype, shape) per output. Inconsistent inputs raise
InvalidModelError naming the node, the inputs and their shapes.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from .. import InvalidModelError
from .graph import OTHER_DOMAIN_OPS, Graph, Node, Tensor

Shape = "tuple[int, ...] | None"
Result = "list[tuple[str, tuple[int, ...] | None]]"


def fmt_shape(shape) -> str:
    """(2, ?, 3) style, '?' for a dynamic dimension."""
    if shape is None:
        return "(unknown rank)"
    dims = ", ".join("?" if d < 0 else str(d) for d in shape)
    return f"({dims},)" if len(shape) == 1 else f"({dims})"


class _Check:
    """Raises InvalidModelError about one node, naming its inputs."""

    def __init__(self, node: Node, ins: Sequence[Tensor | None]):
        self.node, self.ins = node, ins

    def fail(self, msg: str) -> InvalidModelError:
        return InvalidModelError(f"{self.node.describe()}: {msg}")

    def name(self, i: int) -> str:
        t = self.ins[i]
        return f"input {self.node.inputs[i]!r} {fmt_shape(t.shape if t else None)}"


def _required(c: _Check, count: int) -> None:
    if sum(1 for t in c.ins[:count] if t is not None) < count:
        raise c.fail(f"needs at least {count} input(s), has {len(c.node.inputs)}")


def _same_dtype(c: _Check, idx: Sequence[int]) -> str:
    present = [i for i in idx if i < len(c.ins) and c.ins[i] is not None]
    first = c.ins[present[0]]
    for i in present[1:]:
        if c.ins[i].dtype != first.dtype:
            raise c.fail(f"input {c.node.inputs[present[0]]!r} is {first.dtype} but "
                         f"input {c.node.inputs[i]!r} is {c.ins[i].dtype}; they must match")
    return first.dtype


def _axis(c: _Check, axis: int, rank: int, inclusive_end: bool = False) -> int:
    """Normalises a possibly negative axis into [0, rank) (or [0, rank])."""
    hi = rank + 1 if inclusive_end else rank
    if not -rank <= axis < hi:
        raise c.fail(f"axis {axis} is out of range for {c.name(0)} of rank {rank}")
    return axis + rank if axis < 0 else axis


def _prod(dims) -> int:
    """Product of dims, -1 when any is dynamic."""
    return -1 if any(d < 0 for d in dims) else math.prod(dims)


def _bdim(a: int, b: int) -> int | None:
    """One broadcast dimension; None when the two cannot broadcast."""
    if a == b:
        return a
    if a == 1:
        return b
    if b == 1:
        return a
    if a < 0:
        return b  # dynamic vs k>1: the dynamic one must be 1 or k, so k
    if b < 0:
        return a
    return None


def _broadcast(c: _Check, ia: int, ib: int, a, b):
    """numpy-style multidirectional broadcast of two shapes."""
    if a is None or b is None:
        return None
    n = max(len(a), len(b))
    a2, b2 = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    out = []
    for k, (x, y) in enumerate(zip(a2, b2)):
        d = _bdim(x, y)
        if d is None:
            raise c.fail(f"{c.name(ia)} and {c.name(ib)} cannot be broadcast together "
                         f"(dimension {k - n}: {x} vs {y})")
        out.append(d)
    return tuple(out)


# ---- rules -----------------------------------------------------------------
def _unary(node, ins, c):
    _required(c, 1)
    return [(ins[0].dtype, ins[0].shape)]


def _binary(node, ins, c):
    _required(c, 2)
    dtype = _same_dtype(c, (0, 1))
    return [(dtype, _broadcast(c, 0, 1, ins[0].shape, ins[1].shape))]


def _to_bool(node, ins, c):
    """IsNaN, IsInf, Not, RegexFullMatch: the input's shape, bool elements."""
    _required(c, 1)
    return [("bool", ins[0].shape)]


def _clip(node, ins, c):
    _required(c, 1)
    for i in (1, 2):
        t = ins[i] if i < len(ins) else None
        if t is not None and t.shape is not None and _prod(t.shape) > 1:
            raise c.fail(f"{c.name(i)} must be a scalar (Clip's {'min' if i == 1 else 'max'})")
    return [(_same_dtype(c, (0, 1, 2)), ins[0].shape)]


def _broadcast_all(c: _Check, idx: Sequence[int]):
    """Broadcast shape of inputs idx, folded left to right."""
    out = c.ins[idx[0]].shape
    for i in idx[1:]:
        out = _broadcast(c, idx[0], i, out, c.ins[i].shape)
    return out


def _compare(node, ins, c):
    """Comparisons and logic: bool of the broadcast shape."""
    _required(c, 2)
    _same_dtype(c, (0, 1))
    return [("bool", _broadcast(c, 0, 1, ins[0].shape, ins[1].shape))]


def _variadic(node, ins, c):
    _required(c, 1)
    dtype = _same_dtype(c, range(len(ins)))
    return [(dtype, _broadcast_all(c, list(range(len(ins)))))]


def _pow(node, ins, c):
    """The base's dtype; the exponent may have another."""
    _required(c, 2)
    return [(ins[0].dtype, _broadcast(c, 0, 1, ins[0].shape, ins[1].shape))]


def _prelu(node, ins, c):
    """The slope broadcasts to X one way: X's shape."""
    _required(c, 2)
    dtype = _same_dtype(c, (0, 1))
    x, slope = ins[0].shape, ins[1].shape
    out = _broadcast(c, 0, 1, x, slope)
    if out is not None and len(out) != len(x):
        raise c.fail(f"slope {c.name(1)} does not broadcast to {c.name(0)}")
    if out is not None and any(o != d and d >= 0 and o >= 0 for o, d in zip(out, x)):
        raise c.fail(f"slope {c.name(1)} does not broadcast to {c.name(0)}")
    return [(dtype, x)]


def _where(node, ins, c):
    _required(c, 3)
    if ins[0].dtype != "bool":
        raise c.fail(f"condition {c.name(0)} must be bool, is {ins[0].dtype}")
    return [(_same_dtype(c, (1, 2)), _broadcast_all(c, [0, 1, 2]))]


def _reduce(node, ins, c):
    _required(c, 1)
    x = ins[0]
    axes_input = node.version >= (13 if node.op_type == "ReduceSum" else 18)
    if axes_input:
        t = ins[1] if len(ins) > 1 else None
        if t is not None and t.data is None:
            return [(x.dtype, None)]  # axes computed at run time: rank unknown here
        axes = [] if t is None else [int(v) for v in np.asarray(t.data).reshape(-1)]
    else:
        axes = list(node.attr("axes", []))
    if x.shape is None:
        return [(x.dtype, None)]
    r = len(x.shape)
    if not axes and node.attr("noop_with_empty_axes", 0):
        return [(x.dtype, x.shape)]
    red = {_axis(c, a, r) for a in axes} if axes else set(range(r))
    if len(red) != len(axes) and axes:
        raise c.fail(f"axes {axes} list an axis twice")
    keep = node.attr("keepdims", 1)
    return [(x.dtype, tuple(1 if k in red else d for k, d in enumerate(x.shape) if keep or k not in red))]


def _argreduce(node, ins, c):
    _required(c, 1)
    x = ins[0]
    if x.shape is None:
        return [("int64", None)]
    axis = _axis(c, node.attr("axis", 0), len(x.shape))
    keep = node.attr("keepdims", 1)
    return [("int64", tuple(1 if k == axis else d for k, d in enumerate(x.shape) if keep or k != axis))]


def _layernorm(node, ins, c):
    """Y like X; Mean and InvStdDev keep X's dims before `axis`, 1 after."""
    _required(c, 2)
    x = ins[0]
    dtype = _same_dtype(c, (0, 1, 2))
    stats = None
    if x.shape is not None:
        axis = _axis(c, node.attr("axis", -1), len(x.shape))
        stats = tuple(d if k < axis else 1 for k, d in enumerate(x.shape))
    return [(dtype, x.shape), (dtype, stats), (dtype, stats)][:len(node.outputs)]


def _channel_norm(node, ins, c):
    """InstanceNormalization, GroupNormalization: Y like X (N, C, ...)."""
    _required(c, 3)
    x = ins[0]
    dtype = _same_dtype(c, (0, 1, 2))
    if x.shape is not None and len(x.shape) < 2:
        raise c.fail(f"{c.name(0)} must have rank >= 2 (N, C, ...)")
    return [(dtype, x.shape)]


def _softmax(node, ins, c):
    _required(c, 1)
    x = ins[0]
    if x.shape is not None:
        _axis(c, node.attr("axis", 1 if node.version and node.version < 13 else -1), len(x.shape))
    return [(x.dtype, x.shape)]


def _dropout(node, ins, c):
    _required(c, 1)
    return [(ins[0].dtype, ins[0].shape), ("bool", ins[0].shape)][:len(node.outputs)]


def _matmul(node, ins, c):
    _required(c, 2)
    dtype = _same_dtype(c, (0, 1))
    a, b = ins[0].shape, ins[1].shape
    if a is None or b is None:
        return [(dtype, None)]
    if len(a) == 0 or len(b) == 0:
        raise c.fail(f"{c.name(0)} and {c.name(1)}: MatMul needs inputs of rank >= 1")
    # numpy: a 1-D left operand is a row, a 1-D right operand a column, and
    # the added dimension is removed from the result.
    a2 = (1,) + a if len(a) == 1 else a
    b2 = b + (1,) if len(b) == 1 else b
    k1, k2 = a2[-1], b2[-2]
    if k1 >= 0 and k2 >= 0 and k1 != k2:
        raise c.fail(f"{c.name(0)} and {c.name(1)}: inner dimensions differ ({k1} vs {k2})")
    batch = _broadcast(c, 0, 1, a2[:-2], b2[:-2])
    out = batch + (a2[-2], b2[-1])
    if len(a) == 1:
        out = out[:-2] + out[-1:]
    if len(b) == 1:
        out = out[:-1]
    return [(dtype, out)]


def _gemm(node, ins, c):
    _required(c, 2)
    dtype = _same_dtype(c, (0, 1, 2))
    a, b = ins[0].shape, ins[1].shape
    if a is None or b is None:
        return [(dtype, None)]
    for i, s in ((0, a), (1, b)):
        if len(s) != 2:
            raise c.fail(f"{c.name(i)} must be 2-D for Gemm")
    m, k1 = a[::-1] if node.attr("transA", 0) else a
    k2, n = b[::-1] if node.attr("transB", 0) else b
    if k1 >= 0 and k2 >= 0 and k1 != k2:
        raise c.fail(f"{c.name(0)} and {c.name(1)}: inner dimensions differ ({k1} vs {k2}) "
                     f"with transA={node.attr('transA', 0)}, transB={node.attr('transB', 0)}")
    if len(ins) > 2 and ins[2] is not None and ins[2].shape is not None:
        bias = ins[2].shape
        # C broadcasts one way only: to (M, N).
        ok = len(bias) <= 2 and all(_bdim(x, y) == y or x < 0 or y < 0
                                    for x, y in zip(bias[::-1], (n, m)))
        if not ok:
            raise c.fail(f"{c.name(2)} cannot be broadcast to the output shape {fmt_shape((m, n))}")
    return [(dtype, (m, n))]


def _reshape(node, ins, c):
    _required(c, 2)
    x, target = ins[0], ins[1]
    if target.dtype != "int64":
        raise c.fail(f"shape input {node.inputs[1]!r} must be int64, is {target.dtype}")
    if target.data is None:
        # The rank is known from the shape input's length even when its values are not.
        if target.shape is not None and len(target.shape) == 1 and target.shape[0] >= 0:
            return [(x.dtype, (-1,) * target.shape[0])]
        return [(x.dtype, None)]
    spec = [int(v) for v in np.asarray(target.data).reshape(-1)]
    allowzero = node.attr("allowzero", 0)
    if spec.count(-1) > 1:
        raise c.fail(f"shape {spec} from {node.inputs[1]!r} has more than one -1")
    if allowzero and 0 in spec and -1 in spec:
        raise c.fail(f"shape {spec} has both 0 and -1, which allowzero=1 forbids")
    src = x.shape
    out = []
    for k, d in enumerate(spec):
        if d == 0 and not allowzero:
            if src is None:
                out.append(-1)
            elif k >= len(src):
                raise c.fail(f"shape {spec}: 0 at index {k} copies a dimension {c.name(0)} does not have")
            else:
                out.append(src[k])
        elif d < -1:
            raise c.fail(f"shape {spec} from {node.inputs[1]!r} has invalid dimension {d}")
        else:
            out.append(d)
    if -1 in spec:
        k = spec.index(-1)
        # A dimension copied by 0 is the same on both sides even when dynamic,
        # so it cancels out of the element count (as ONNX's inference does).
        copied = {i for i, d in enumerate(spec) if d == 0 and not allowzero}
        total = -1 if src is None else _prod([d for i, d in enumerate(src) if i not in copied])
        rest = _prod([d for i, d in enumerate(out) if i != k and i not in copied])
        if total >= 0 and rest > 0:
            if total % rest:
                raise c.fail(f"cannot reshape {c.name(0)} ({total} elements) to {spec}")
            out[k] = total // rest
        elif total == 0 and rest == 0:
            raise c.fail(f"cannot infer the -1 in {spec} for {c.name(0)}: other dimensions are 0")
    elif src is not None and _prod(src) >= 0 and _prod(out) >= 0 and _prod(src) != _prod(out):
        raise c.fail(f"cannot reshape {c.name(0)} ({_prod(src)} elements) to {spec} ({_prod(out)} elements)")
    return [(x.dtype, tuple(out))]


def _flatten(node, ins, c):
    _required(c, 1)
    x = ins[0]
    if x.shape is None:
        return [(x.dtype, (-1, -1))]
    axis = _axis(c, node.attr("axis", 1), len(x.shape), inclusive_end=True)
    return [(x.dtype, (_prod(x.shape[:axis]), _prod(x.shape[axis:])))]


def _transpose(node, ins, c):
    _required(c, 1)
    x = ins[0]
    if x.shape is None:
        return [(x.dtype, None)]
    r = len(x.shape)
    perm = list(node.attr("perm", range(r - 1, -1, -1)))
    if sorted(perm) != list(range(r)):
        raise c.fail(f"perm {perm} is not a permutation of the {r} axes of {c.name(0)}")
    return [(x.dtype, tuple(x.shape[p] for p in perm))]


def _concat(node, ins, c):
    _required(c, 1)
    dtype = _same_dtype(c, range(len(ins)))
    shapes = [t.shape for t in ins if t is not None]
    if any(s is None for s in shapes):
        return [(dtype, None)]
    rank = len(shapes[0])
    if "axis" not in node.attrs:
        raise c.fail("Concat needs an axis attribute")
    axis = _axis(c, node.attr("axis"), rank)
    out = list(shapes[0])
    for i in range(1, len(ins)):
        s = ins[i].shape
        if len(s) != rank:
            raise c.fail(f"{c.name(0)} and {c.name(i)} have different ranks")
        for k in range(rank):
            if k == axis:
                out[k] = -1 if out[k] < 0 or s[k] < 0 else out[k] + s[k]
                continue
            d = out[k] if s[k] < 0 else s[k] if out[k] < 0 else out[k]
            if out[k] >= 0 and s[k] >= 0 and out[k] != s[k]:
                raise c.fail(f"{c.name(0)} and {c.name(i)} differ in dimension {k} "
                             f"({out[k]} vs {s[k]}) outside the concat axis {axis}")
            out[k] = d
    return [(dtype, tuple(out))]


def _constant(node, ins, c):
    from .. import dtypes as _dt
    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        if key in node.attrs:
            arr = np.asarray(node.attrs[key],
                             dtype=None if key == "value" else np.float32 if "float" in key else np.int64)
            return [(_dt.from_numpy(arr.dtype), arr.shape)]
    raise c.fail("Constant has no value attribute pyfw can read")










ShapeRule = Callable[[Node, list, _Check], list]
SHAPE_RULES: dict[str, ShapeRule] = {
    **{op: _unary for op in ("Relu", "Sigmoid", "Tanh", "Identity")},
    **{op: _binary for op in ("Add", "Sub", "Mul", "Div")},
    "Softmax": _softmax, "Dropout": _dropout, "MatMul": _matmul, "Gemm": _gemm,
    "Reshape": _reshape, "Flatten": _flatten, "Transpose": _transpose, "Concat": _concat,
    "Constant": _constant,
}
# Rules of other op families live beside this module and register here.
from .shape_conv import RULES as _SHAPE_CONV_RULES  # noqa: E402

SHAPE_RULES.update(_SHAPE_CONV_RULES)
from .shape_ops import RULES as _SHAPE_OP_RULES  # noqa: E402

SHAPE_RULES.update(_SHAPE_OP_RULES)
from .shape_seq import RULES as _SHAPE_SEQ_RULES  # noqa: E402

SHAPE_RULES.update(_SHAPE_SEQ_RULES)
from .shape_nn import RULES as _SHAPE_NN_RULES  # noqa: E402

SHAPE_RULES.update(_SHAPE_NN_RULES)
from .shape_quant import RULES as _SHAPE_QUANT_RULES  # noqa: E402

SHAPE_RULES.update(_SHAPE_QUANT_RULES)
from .shape_control import RULES as _SHAPE_CONTROL_RULES  # noqa: E402
from .shape_values import RULES as _SHAPE_VALUE_RULES, VALUE_OPS, _identity  # noqa: E402

SHAPE_RULES.update(_SHAPE_CONTROL_RULES)
SHAPE_RULES.update(_SHAPE_VALUE_RULES, Identity=_identity)
SHAPE_RULES["LRN"] = _unary
SHAPE_RULES.update({op: _unary for op in (
    "Abs", "Neg", "Sign", "Exp", "Log", "Sqrt", "Reciprocal", "Floor", "Ceil", "Round",
    "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh",
    "Erf", "LeakyRelu", "Elu", "Selu", "Celu", "HardSigmoid", "HardSwish", "ThresholdedRelu",
    "Mish", "Softplus", "Softsign", "Gelu",
)})
SHAPE_RULES.update({op: _to_bool for op in ("IsNaN", "IsInf", "Not", "RegexFullMatch")})
SHAPE_RULES["StringConcat"] = _binary
SHAPE_RULES.update(Clip=_clip, LogSoftmax=_softmax, Hardmax=_softmax)
SHAPE_RULES.update({op: _compare for op in ("Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual",
                                            "And", "Or", "Xor")})
SHAPE_RULES.update({op: _variadic for op in ("Max", "Min", "Sum", "Mean")})
SHAPE_RULES.update(Pow=_pow, Mod=_binary, PRelu=_prelu, Where=_where)
SHAPE_RULES.update({op: _reduce for op in (
    "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
    "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare")})
SHAPE_RULES.update(ArgMax=_argreduce, ArgMin=_argreduce)
SHAPE_RULES.update(LayerNormalization=_layernorm, InstanceNormalization=_channel_norm,
                   GroupNormalization=_channel_norm, LpNormalization=_unary)


def _merge(inferred, declared):
    """Inferred dims win; a dimension inference left dynamic takes what the
    model declared (e.g. ONNX value_info), when the ranks agree."""
    if inferred is None:
        return declared
    if declared is None or len(declared) != len(inferred):
        return inferred
    return tuple(d if d >= 0 else e for d, e in zip(inferred, declared))


def infer_shapes(graph: Graph) -> Graph:
    """Sets dtype and shape of every tensor produced by a node, in place, and
    returns the graph. Ops without a rule keep what the graph already says."""
    for node in graph.nodes:
        native = node.domain in ("", "ai.onnx") or (node.domain, node.op_type) in OTHER_DOMAIN_OPS
        rule = SHAPE_RULES.get(node.op_type) if native else None
        if rule is None:
            continue
        ins = [graph.tensor(i) if i else None for i in node.inputs]
        c = _Check(node, ins)
        if node.op_type not in VALUE_OPS:
            for i, t in enumerate(ins):
                if t is not None and t.is_value:
                    raise c.fail(f"input {node.inputs[i]!r} is {t.describe_type()}; "
                                 f"{node.op_type} takes tensors")
        results = rule(node, ins, c)
        for name, result in zip(node.outputs, results):
            if not name:
                continue
            dtype, shape = result[:2]
            kind, optional = result[2:] if len(result) > 2 else ("tensor", False)
            t = graph.tensors.get(name)
            if t is None:
                graph.tensors[name] = Tensor(name, dtype, shape, kind=kind, optional=optional)
            elif t.data is None:
                t.shape = shape if kind != t.kind else _merge(shape, t.shape)
                t.dtype, t.kind, t.optional = dtype, kind, optional
    return graph
