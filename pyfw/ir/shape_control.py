"""Shape rules for control flow (If, Loop, Scan) and for the ops whose
output sizes the data selects (NonZero, Compress, Unique,
NonMaxSuppression). Each body is inferred in turn, its outer-scope inputs
(the node's trailing inputs, see pyfw.onnx.importer) taking the dtypes of
the values the node passes. What depends on data (the branch taken, the trip
count, how many elements are selected) stays dynamic."""
from __future__ import annotations

from .graph import Graph


def _infer_body(body: Graph, node, ins, first: int) -> None:
    """Gives the body's inputs from `first` on the dtypes of the node's inputs
    from `first` on (the outer-scope values), then infers the body."""
    from .shapes import infer_shapes

    skip = len(body.inputs) - (len(ins) - first)
    for name, t in zip(body.inputs[skip:], ins[first:]):
        if t is not None:
            _take_type(body.tensors[name], t)
    infer_shapes(body)


def _take_type(b, t) -> None:
    """Body input b gets the type of the value t the node feeds it."""
    b.dtype, b.kind, b.optional = t.dtype, t.kind, t.optional


def _out(body: Graph, k: int):
    t = body.tensors[body.outputs[k]]
    return t.dtype, t.shape


def _value(body: Graph, k: int, shape):
    """Body output k's type with `shape`: (dtype, shape, kind, optional)."""
    t = body.tensors[body.outputs[k]]
    return t.dtype, shape, t.kind, t.optional


def _join(a, b):
    """The shape two branches agree on: equal dims kept, others dynamic."""
    if a is None or b is None or len(a) != len(b):
        return None
    return tuple(x if x == y else -1 for x, y in zip(a, b))


def _if(node, ins, c):
    then, other = node.attr("then_branch"), node.attr("else_branch")
    for b in (then, other):
        _infer_body(b, node, ins, 1)
    out = []
    for k in range(len(node.outputs)):
        a, b = then.tensors[then.outputs[k]], other.tensors[other.outputs[k]]
        if a.dtype != b.dtype or a.kind != b.kind:
            raise c.fail(f"output {k} is {a.describe_type()} in then_branch but {b.describe_type()} in else_branch")
        out.append((a.dtype, _join(a.shape, b.shape), a.kind, a.optional or b.optional))
    return out


def _carried_shape(before, after):
    """A loop-carried value keeps its shape only where the body keeps it."""
    return before if before is not None and after == before else _join(before, after)


def _loop(node, ins, c):
    body = node.attr("body")
    carried = len(node.inputs) - 2 - node.attr("num_outer_inputs", 0)
    body.tensors[body.inputs[0]].dtype = "int64"  # the iteration number
    body.tensors[body.inputs[1]].dtype = "bool"  # the condition
    for k in range(carried):
        t = ins[2 + k]
        if t is not None:
            _take_type(body.tensors[body.inputs[2 + k]], t)
    _infer_body(body, node, ins, 2 + carried)
    out = []
    for k in range(carried):
        dtype, shape = _out(body, 1 + k)
        out.append(_value(body, 1 + k, _carried_shape(ins[2 + k].shape, shape)))
    for k in range(carried, len(node.outputs)):
        dtype, shape = _out(body, 1 + k)
        out.append((dtype, None if shape is None else (-1,) + tuple(shape)))
    return out


def _scan(node, ins, c):
    body = node.attr("body")
    m = node.attr("num_scan_inputs")
    state = len(node.inputs) - m - node.attr("num_outer_inputs", 0)
    for k in range(state + m):
        if ins[k] is not None:
            body.tensors[body.inputs[k]].dtype = ins[k].dtype
    _infer_body(body, node, ins, state + m)
    axes = node.attr("scan_input_axes") or [0] * m
    x = ins[state].shape
    length = -1 if x is None or node.version < 9 else x[axes[0] % len(x)] if x else -1
    out = []
    for k in range(state):
        out.append((ins[k].dtype, _carried_shape(ins[k].shape, _out(body, k)[1])))
    out_axes = node.attr("scan_output_axes") or []
    for k in range(len(node.outputs) - state):
        dtype, shape = _out(body, state + k)
        if shape is None:
            out.append((dtype, None))
            continue
        axis = out_axes[k] if k < len(out_axes) else 0
        axis = axis + len(shape) + 1 if axis < 0 else axis
        out.append((dtype, tuple(shape[:axis]) + (length,) + tuple(shape[axis:])))
    return out


# Ops whose output sizes are what the data selects: the selected length is dynamic.

def _nonzero(node, ins, c):
    x = ins[0].shape
    return [("int64", None if x is None else (max(len(x), 1), -1))]


def _along_axis(node, ins, c):
    """Compress and Unique's Y: the input with its axis' length dynamic, or a
    dynamic 1-D result without an axis."""
    from .shapes import _axis

    x, axis = ins[0].shape, node.attr("axis")
    if axis is None:
        return ins[0].dtype, (-1,)
    if x is None:
        return ins[0].dtype, None
    a = _axis(c, axis, len(x))
    return ins[0].dtype, tuple(-1 if k == a else d for k, d in enumerate(x))


def _unique(node, ins, c):
    return [_along_axis(node, ins, c)] + [("int64", (-1,))] * (len(node.outputs) - 1)


def _string_split(node, ins, c):
    """Y: X's shape and the most pieces of any element (dynamic); Z: counts."""
    x = ins[0].shape
    return [("string", None if x is None else tuple(x) + (-1,)), ("int64", x)][:len(node.outputs)]


def _string_normalizer(node, ins, c):
    """[C] or [1, C] with the stopwords gone: C is dynamic."""
    x = ins[0].shape
    if x is not None and not (len(x) == 1 or (len(x) == 2 and x[0] in (1, -1))):
        raise c.fail(f"input {node.inputs[0]!r} has shape {x}; StringNormalizer takes [C] or [1, C]")
    return [("string", None if x is None else tuple(x[:-1]) + (-1,))]


def _image_decoder(node, ins, c):
    """[H, W, C]: the image's size is in its bytes; C from pixel_format."""
    x = ins[0].shape
    if x is not None and len(x) != 1:
        raise c.fail(f"input {node.inputs[0]!r} has shape {x}; ImageDecoder takes the encoded bytes as a 1-D tensor")
    if ins[0].dtype not in (None, "uint8"):
        raise c.fail(f"input {node.inputs[0]!r} has dtype {ins[0].dtype}; ImageDecoder takes uint8")
    fmt = node.attr("pixel_format")
    fmt = fmt.decode() if isinstance(fmt, bytes) else (fmt or "RGB")
    if fmt not in ("RGB", "BGR", "Grayscale"):
        raise c.fail(f"pixel_format is {fmt!r}; expected RGB, BGR or Grayscale")
    return [("uint8", (-1, -1, 1 if fmt == "Grayscale" else 3))]


RULES = {"If": _if, "Loop": _loop, "Scan": _scan, "NonZero": _nonzero,
         "StringSplit": _string_split, "StringNormalizer": _string_normalizer, "ImageDecoder": _image_decoder,
         "Compress": lambda node, ins, c: [_along_axis(node, ins, c)], "Unique": _unique,
         "NonMaxSuppression": lambda node, ins, c: [("int64", (-1, 3))]}
