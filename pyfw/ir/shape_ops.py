"""Shape rules for the ops that compute or move shapes and indices: Shape,
Size, Squeeze, Unsqueeze, Cast, CastLike, ConstantOfShape, Range, Gather,
GatherElements, Slice, Split, Expand, Tile. Where a result depends on values that are not constants (a
shape computed from a dynamic input), the rank is kept when it is known and
the dimensions become -1; the runtime computes them while planning."""
from __future__ import annotations

import math

import numpy as np

from .. import dtypes as _dt
from .shapes import _axis, _broadcast, _required


def _values(t):
    """The constant values of an int tensor as a list, or None."""
    return None if t is None or t.data is None else [int(v) for v in np.asarray(t.data).reshape(-1)]


def _axes(node, ins, c, opset_input: int = 13):
    """Axes from the attribute (older versions) or the constant input 1."""
    if node.version and node.version < opset_input:
        return node.attr("axes")
    if len(ins) > 1 and ins[1] is not None:
        vals = _values(ins[1])
        return vals if vals is not None else ...  # ... = present but unknown
    return None


def _shape(node, ins, c):
    _required(c, 1)
    x = ins[0].shape
    if x is None:
        return [("int64", (-1,))]
    r = len(x)
    s, e = node.attr("start", 0), node.attr("end", r)
    s, e = (s + r if s < 0 else s), (e + r if e < 0 else e)
    s, e = min(max(s, 0), r), min(max(e, 0), r)
    return [("int64", (max(e - s, 0),))]


def _size(node, ins, c):
    _required(c, 1)
    return [("int64", ())]


def _squeeze(node, ins, c):
    _required(c, 1)
    x, axes = ins[0].shape, _axes(node, ins, c)
    if x is None or axes is ...:
        return [(ins[0].dtype, None)]
    if axes is None:
        if any(d < 0 for d in x):
            return [(ins[0].dtype, None)]
        return [(ins[0].dtype, tuple(d for d in x if d != 1))]
    drop = {_axis(c, a, len(x)) for a in axes}
    for a in drop:
        if x[a] > 1:
            raise c.fail(f"cannot squeeze axis {a} of {c.name(0)}: its size is {x[a]}")
    return [(ins[0].dtype, tuple(d for k, d in enumerate(x) if k not in drop))]


def _unsqueeze(node, ins, c):
    _required(c, 1)
    x, axes = ins[0].shape, _axes(node, ins, c)
    if x is None or axes is ... or axes is None:
        return [(ins[0].dtype, None)]
    rank = len(x) + len(axes)
    add = {_axis(c, a, rank) for a in axes}
    if len(add) != len(axes):
        raise c.fail(f"axes {axes} repeat an axis")
    it = iter(x)
    return [(ins[0].dtype, tuple(1 if k in add else next(it) for k in range(rank)))]


def _cast(node, ins, c):
    _required(c, 1)
    return [(_dt.from_code(node.attr("to")), ins[0].shape)]


def _constant_of_shape(node, ins, c):
    _required(c, 1)
    value = node.attr("value")
    dtype = _dt.from_numpy(value.dtype) if isinstance(value, np.ndarray) else "float32"
    dims = _values(ins[0])
    if dims is not None:
        return [(dtype, tuple(dims))]
    n = ins[0].shape
    return [(dtype, (-1,) * n[0] if n and len(n) == 1 and n[0] >= 0 else None)]


def _range(node, ins, c):
    _required(c, 3)
    vals = [None if t.data is None else np.asarray(t.data).reshape(-1)[0] for t in ins[:3]]
    if any(v is None for v in vals):
        return [(ins[0].dtype, (-1,))]
    start, limit, delta = vals
    if delta == 0:
        raise c.fail("delta is 0")
    return [(ins[0].dtype, (max(int(math.ceil((limit - start) / delta)), 0),))]


def _gather(node, ins, c):
    _required(c, 2)
    x, idx = ins[0].shape, ins[1].shape
    if x is None or idx is None:
        return [(ins[0].dtype, None)]
    a = _axis(c, node.attr("axis", 0), len(x))
    return [(ins[0].dtype, tuple(x[:a]) + tuple(idx) + tuple(x[a + 1:]))]


def _slice(node, ins, c):
    _required(c, 1)
    x = ins[0].shape
    if x is None:
        return [(ins[0].dtype, None)]
    if node.version and node.version < 10:
        starts, ends, axes, steps = node.attr("starts"), node.attr("ends"), node.attr("axes"), None
    else:
        _required(c, 3)
        get = lambda i: _values(ins[i]) if len(ins) > i and ins[i] is not None else None  # noqa: E731
        starts, ends, axes, steps = get(1), get(2), get(3), get(4)
        if starts is None or ends is None or (len(ins) > 3 and ins[3] is not None and axes is None) \
                or (len(ins) > 4 and ins[4] is not None and steps is None):
            return [(ins[0].dtype, (-1,) * len(x))]
    axes = axes if axes is not None else list(range(len(starts)))
    steps = steps if steps is not None else [1] * len(starts)
    out = list(x)
    for s, e, a, st in zip(starts, ends, axes, steps):
        a = _axis(c, a, len(x))
        d = x[a]
        if d < 0:
            out[a] = -1
            continue
        out[a] = len(range(*slice(s, e, st).indices(d)))
    return [(ins[0].dtype, tuple(out))]


def _expand(node, ins, c):
    _required(c, 2)
    shape = _values(ins[1])
    if shape is None:
        n = ins[1].shape
        known = n is not None and len(n) == 1 and n[0] >= 0 and ins[0].shape is not None
        return [(ins[0].dtype, (-1,) * max(n[0], len(ins[0].shape)) if known else None)]
    return [(ins[0].dtype, _broadcast(c, 0, 1, ins[0].shape, tuple(shape)))]


def _tile(node, ins, c):
    _required(c, 2)
    x, reps = ins[0].shape, _values(ins[1])
    if x is None:
        return [(ins[0].dtype, None)]
    if reps is None:
        return [(ins[0].dtype, (-1,) * len(x))]
    if len(reps) != len(x):
        raise c.fail(f"repeats has {len(reps)} values for {c.name(0)}")
    return [(ins[0].dtype, tuple(-1 if d < 0 else d * r for d, r in zip(x, reps)))]


def _cast_like(node, ins, c):
    _required(c, 2)
    return [(ins[1].dtype, ins[0].shape)]


def _gather_elements(node, ins, c):
    _required(c, 2)
    return [(ins[0].dtype, ins[1].shape)]


def _split(node, ins, c):
    _required(c, 1)
    x, outs = ins[0].shape, len(node.outputs)
    if x is None:
        return [(ins[0].dtype, None)] * outs
    a = _axis(c, node.attr("axis", 0), len(x))
    if node.version and node.version < 13:
        sizes = node.attr("split")
    else:
        sizes = _values(ins[1]) if len(ins) > 1 and ins[1] is not None else None
        if sizes is None and len(ins) > 1 and ins[1] is not None:
            return [(ins[0].dtype, x[:a] + (-1,) + x[a + 1:])] * outs
    d = x[a]
    if sizes is None:
        if d < 0:
            return [(ins[0].dtype, x[:a] + (-1,) + x[a + 1:])] * outs
        if node.attr("num_outputs") is None and d % outs:
            raise c.fail(f"axis {a} of {c.name(0)} does not split into {outs} equal parts")
        chunk = -(-d // outs)
        sizes = [max(0, min(chunk, d - chunk * i)) for i in range(outs)]
    if len(sizes) != outs:
        raise c.fail(f"split has {len(sizes)} sizes for {outs} outputs")
    if d >= 0 and sum(sizes) != d:
        raise c.fail(f"split sizes {list(sizes)} do not add up to axis {a} of {c.name(0)}")
    return [(ins[0].dtype, x[:a] + (int(k),) + x[a + 1:]) for k in sizes]


def _same_as_input(node, ins, c):
    _required(c, 1)
    return [(ins[0].dtype, ins[0].shape)]


def _pad(node, ins, c):
    _required(c, 1)
    x = ins[0].shape
    if x is None:
        return [(ins[0].dtype, None)]
    if node.version and node.version < 11:
        pads = node.attr("pads", node.attr("paddings"))
        axes = None
    else:
        pads = _values(ins[1]) if len(ins) > 1 and ins[1] is not None else None
        axes = _values(ins[3]) if len(ins) > 3 and ins[3] is not None else None
        if pads is None or (len(ins) > 3 and ins[3] is not None and axes is None):
            return [(ins[0].dtype, (-1,) * len(x))]
    axes = [_axis(c, a, len(x)) for a in axes] if axes is not None else list(range(len(x)))
    if pads is None or len(pads) != 2 * len(axes):
        raise c.fail(f"pads {pads} must hold 2 values per padded axis ({len(axes)})")
    out = list(x)
    for i, a in enumerate(axes):
        if out[a] >= 0:
            out[a] += pads[i] + pads[len(axes) + i]
            if out[a] < 0:
                raise c.fail(f"pads crop axis {a} of {c.name(0)} below zero")
    return [(ins[0].dtype, tuple(out))]


def _label_encoder(node, ins, c):
    """ai.onnx.ml LabelEncoder: X's shape, the values' dtype (version 1's
    classes_strings: int64 indices for a string X, strings for an int64 X)."""
    _required(c, 1)
    if node.attr("classes_strings") is not None:
        return [("int64" if ins[0].dtype == "string" else "string", ins[0].shape)]
    for attr, dtype in (("values_strings", "string"), ("values_int64s", "int64"), ("values_floats", "float32")):
        if node.attr(attr) is not None:
            return [(dtype, ins[0].shape)]
    values = node.attr("values_tensor")
    if values is None:
        raise c.fail("LabelEncoder has no values_strings, values_int64s, values_floats or values_tensor")
    return [(_dt.from_numpy(np.asarray(values).dtype), ins[0].shape)]


def _max_roi_pool(node, ins, c):
    """(num_rois, C, pooled_h, pooled_w)."""
    _required(c, 2)
    x, rois, pooled = ins[0].shape, ins[1].shape, node.attr("pooled_shape")
    if pooled is None or len(pooled) != 2:
        raise c.fail("MaxRoiPool needs pooled_shape, two sizes")
    if x is not None and len(x) != 4:
        raise c.fail(f"input {node.inputs[0]!r} has shape {x}; MaxRoiPool takes (N, C, H, W)")
    return [(ins[0].dtype, ((rois[0] if rois else -1), (x[1] if x else -1), int(pooled[0]), int(pooled[1])))]


RULES = {
    "LabelEncoder": _label_encoder, "MaxRoiPool": _max_roi_pool,
    "Shape": _shape, "Size": _size, "Squeeze": _squeeze, "Unsqueeze": _unsqueeze, "Cast": _cast,
    "ConstantOfShape": _constant_of_shape, "Range": _range, "Gather": _gather, "Slice": _slice,
    "Expand": _expand, "Tile": _tile, "CastLike": _cast_like, "GatherElements": _gather_elements,
    "Split": _split, "Pad": _pad, "CumSum": _same_as_input, "CumProd": _same_as_input,
    "Trilu": _same_as_input,
}
