"""Folding: values known at conversion time become constant tensors.

`fold_shapes` replaces Shape and Size of tensors whose shape is fully known
with constants. `fold_constants` evaluates every node whose inputs are all
constants by running those nodes through libpfw itself, so a folded value is
exactly what the runtime would have computed, with no second evaluator."""
from __future__ import annotations

import numpy as np

from ... import dtypes as _dt
from ..graph import Graph, Node, Tensor
from ..shapes import infer_shapes
from ._util import drop_unreferenced

# Ops whose result is not a function of their inputs alone.
NOT_FOLDABLE = {"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike",
                "Multinomial", "Bernoulli", "Dropout"}


def _known(shape) -> bool:
    return shape is not None and all(d >= 0 for d in shape)


def _shape_value(node: Node, shape: tuple[int, ...]) -> np.ndarray:
    if node.op_type == "Size":
        return np.asarray(int(np.prod(shape, dtype=np.int64)), dtype=np.int64)
    # Shape-15 slices with start/end, clamped like Python slicing.
    start, end = node.attr("start", 0), node.attr("end", None)
    return np.asarray(shape[slice(start, end)], dtype=np.int64)


def fold_shapes(graph: Graph) -> Graph:
    """Shape and Size of statically known shapes become int64 constants."""
    g = graph.copy()
    infer_shapes(g)
    kept = []
    for n in g.nodes:
        if n.op_type in ("Shape", "Size") and not n.domain and n.outputs[0] not in g.outputs:
            x = g.tensors.get(n.inputs[0]) if n.inputs and n.inputs[0] else None
            if x is not None and _known(x.shape):
                value = _shape_value(n, x.shape)
                g.tensors[n.outputs[0]] = Tensor(n.outputs[0], "int64", value.shape, value)
                continue
        kept.append(n)
    g.nodes = kept
    return drop_unreferenced(g)


def _run(graph: Graph, nodes: list[Node], wanted: list[str]) -> dict[str, np.ndarray] | None:
    """Runs `nodes` (all inputs constant) through libpfw and returns the values
    of `wanted`, or None when libpfw cannot (an op or dtype it lacks)."""
    from ... import format as _format
    from ...runtime import Interpreter

    sub = Graph("fold", graph.opset)
    for n in nodes:
        for i in n.inputs:
            if i and i not in sub.tensors and graph.tensors[i].is_constant:
                t = graph.tensors[i]
                sub.tensors[i] = t.clone()
    sub.nodes = [Node(n.op_type, list(n.inputs), list(n.outputs), dict(n.attrs), n.name, n.domain, n.version)
                 for n in nodes]
    for n in sub.nodes:
        for o in n.outputs:
            if o:
                t = graph.tensors[o]
                sub.tensors[o] = Tensor(o, t.dtype, t.shape)
    sub.outputs = list(wanted)
    try:
        infer_shapes(sub)
        with Interpreter(_format.to_bytes(sub)) as it:
            values = it.run([])
    except (ValueError, RuntimeError, MemoryError):  # libpfw's errors, each meaning "cannot fold"
        return None
    return dict(zip(wanted, values))


def _constant(name: str, v: np.ndarray) -> Tensor:
    """A folded value as an IR constant; bfloat16, float8, int4... (NumPy's through
    ml_dtypes) are kept as their bit patterns, as the IR keeps them everywhere."""
    v = np.ascontiguousarray(v)
    return Tensor(name, _dt.from_numpy(v.dtype), v.shape, _dt.to_storage(v))


def fold_constants(graph: Graph) -> Graph:
    """Nodes whose inputs are all constants are evaluated once, now, and
    replaced by constant tensors. Nodes that produce a graph output stay."""
    g = graph.copy()
    infer_shapes(g)
    const = {name for name, t in g.tensors.items() if t.is_constant}
    outputs = set(g.outputs)
    foldable: list[Node] = []
    for n in g.nodes:
        # Sequences and optionals stay as they are: only tensors become constants.
        if (not n.domain and n.op_type not in NOT_FOLDABLE and n.outputs
                and not any(o and g.tensors[o].is_value for o in n.outputs)
                and all(not i or i in const for i in n.inputs)
                and not any(o in outputs for o in n.outputs)):
            foldable.append(n)
            const.update(o for o in n.outputs if o)
    if not foldable:
        return g
    folded = {id(n) for n in foldable}
    rest = [n for n in g.nodes if id(n) not in folded]
    made = {o for n in foldable for o in n.outputs if o}
    needed = [o for o in dict.fromkeys(i for n in rest for i in n.inputs) if o in made]
    values = _run(g, foldable, needed) if needed else {}
    if values is None:
        # One node libpfw cannot run must not stop the others: fold node by node.
        values, done = {}, set()
        for n in foldable:
            if all(not i or i in done or g.tensors[i].is_constant for i in n.inputs):
                staged = g.copy()
                for k, v in values.items():
                    staged.tensors[k] = _constant(k, v)
                got = _run(staged, [n], [o for o in n.outputs if o])
                if got is not None:
                    values.update(got)
                    done.update(got)
        folded = {id(n) for n in foldable if all(not o or o in values for o in n.outputs)}
        rest = [n for n in g.nodes if id(n) not in folded]
    for name, v in values.items():
        g.tensors[name] = _constant(name, v)
    g.nodes = rest
    return drop_unreferenced(g)
