"""Type and shape rules for sequences and optionals: the Sequence* ops,
SplitToSequence, ConcatFromSequence, SequenceMap, Optional,
OptionalHasElement, OptionalGetElement, and Identity of such values.

A rule returns (dtype, shape, kind, optional) per output, where kind is
"tensor" or "sequence" and, for a sequence, dtype and shape are its
elements' (shape None when they may differ). Only the ops in VALUE_OPS may
take or make sequences and optionals (infer_shapes checks)."""
from __future__ import annotations

from .. import dtypes as _dt
from .graph import Tensor
from .shape_control import _join as join

VALUE_OPS = {"Identity", "If", "Loop", "SequenceEmpty", "SequenceConstruct", "SequenceInsert", "SequenceErase",
             "SequenceAt", "SequenceLength", "SplitToSequence", "ConcatFromSequence", "SequenceMap", "Optional",
             "OptionalHasElement", "OptionalGetElement"}


def value_of(t: Tensor):
    return t.dtype, t.shape, t.kind, t.optional


def _seq(c, ins, i):
    t = ins[i] if i < len(ins) else None
    if t is None or t.kind != "sequence":
        raise c.fail(f"input {i} ({c.node.inputs[i] if i < len(c.node.inputs) else 'absent'!r}) must be a sequence")
    return t


def _tensor(c, ins, i):
    t = ins[i] if i < len(ins) else None
    if t is None or t.kind != "tensor":
        raise c.fail(f"input {i} must be a tensor")
    return t


def _same_elements(c, s, x):
    if x.dtype != s.dtype:
        raise c.fail(f"input {c.node.inputs[1]!r} is {x.dtype} but the sequence holds {s.dtype}")


def _empty(node, ins, c):
    return [(_dt.from_code(node.attr("dtype", 1)), None, "sequence", False)]


def _construct(node, ins, c):
    first = _tensor(c, ins, 0)
    shape = first.shape
    for i in range(1, len(ins)):
        t = _tensor(c, ins, i)
        if t.dtype != first.dtype:
            raise c.fail(f"input {node.inputs[i]!r} is {t.dtype} but input {node.inputs[0]!r} is {first.dtype}; "
                         "a sequence holds one dtype")
        shape = join(shape, t.shape)
    return [(first.dtype, shape, "sequence", False)]


def _insert(node, ins, c):
    s, x = _seq(c, ins, 0), _tensor(c, ins, 1)
    _same_elements(c, s, x)
    return [(s.dtype, join(s.shape, x.shape), "sequence", False)]


def _erase(node, ins, c):
    s = _seq(c, ins, 0)
    return [(s.dtype, s.shape, "sequence", False)]


def _at(node, ins, c):
    s = _seq(c, ins, 0)
    return [(s.dtype, s.shape, "tensor", False)]


def _split(node, ins, c):
    from .shapes import _axis

    x = _tensor(c, ins, 0)
    if x.shape is None:
        return [(x.dtype, None, "sequence", False)]
    axis = _axis(c, node.attr("axis", 0), len(x.shape))
    no_split = len(ins) < 2 or ins[1] is None
    if no_split and node.attr("keepdims", 1) == 0:
        shape = x.shape[:axis] + x.shape[axis + 1:]
    else:
        shape = tuple(1 if no_split and k == axis else -1 if k == axis else d for k, d in enumerate(x.shape))
    return [(x.dtype, shape, "sequence", False)]


def _concat(node, ins, c):
    s = _seq(c, ins, 0)
    if s.shape is None:
        return [(s.dtype, None, "tensor", False)]
    stack = node.attr("new_axis", 0) != 0
    rank = len(s.shape) + stack
    axis = node.attr("axis", 0)
    if not -rank <= axis < rank:
        raise c.fail(f"axis {axis} is out of range for rank {rank}")
    axis %= rank
    dims = list(s.shape)
    if stack:
        dims.insert(axis, -1)
    else:
        dims[axis] = -1
    return [(s.dtype, tuple(dims), "tensor", False)]


def _optional(node, ins, c):
    if ins and ins[0] is not None:
        return [(ins[0].dtype, ins[0].shape, ins[0].kind, True)]
    kind = node.attr("elem_kind")
    if kind not in ("tensor", "sequence"):
        raise c.fail("Optional without an input needs its type (attribute 'type')")
    return [(_dt.from_code(node.attr("elem_dtype", 1)), None, kind, True)]


def _has_element(node, ins, c):
    return [("bool", (), "tensor", False)]


def _get_element(node, ins, c):
    t = ins[0] if ins else None
    if t is None:
        raise c.fail("needs input 0")
    return [(t.dtype, t.shape, t.kind, False)]


def _identity(node, ins, c):
    if not ins or ins[0] is None:
        raise c.fail("needs input 0")
    return [value_of(ins[0])]


def _sequence_map(node, ins, c):
    """Each body input takes one element of a sequence input, or a whole
    tensor; each body output becomes the elements of an output sequence."""
    from .shapes import infer_shapes

    body = node.attr("body")
    _seq(c, ins, 0)
    mapped = len(ins) - node.attr("num_outer_inputs", 0)  # outer-scope values come whole
    for k, (name, t) in enumerate(zip(body.inputs, ins)):
        if t is not None:
            b = body.tensors[name]
            per_element = k < mapped and t.kind == "sequence"
            b.dtype, b.kind, b.optional = t.dtype, "tensor" if per_element else t.kind, t.optional
            if per_element or b.shape is None:
                b.shape = t.shape
    infer_shapes(body)
    out = []
    for name in body.outputs:
        t = body.tensors[name]
        if t.is_value:
            raise c.fail(f"body output {name!r} must be a tensor, is {t.describe_type()}")
        out.append((t.dtype, t.shape, "sequence", False))
    return out


RULES = {"SequenceEmpty": _empty, "SequenceConstruct": _construct, "SequenceInsert": _insert,
         "SequenceErase": _erase, "SequenceAt": _at,
         "SequenceLength": lambda node, ins, c: [("int64", (), "tensor", False)],
         "SplitToSequence": _split, "ConcatFromSequence": _concat, "SequenceMap": _sequence_map,
         "Optional": _optional, "OptionalHasElement": _has_element, "OptionalGetElement": _get_element}
