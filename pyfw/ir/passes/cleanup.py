"""Clean-up passes: dead nodes, Identity nodes and common subexpressions
disappear; the graph's input and output names never change."""
from __future__ import annotations

import numpy as np

from ..graph import Graph
from ._util import drop_unreferenced, replace_uses
from .fold import NOT_FOLDABLE


def remove_dead_nodes(graph: Graph) -> Graph:
    """Drops nodes none of whose outputs reach a graph output, and the
    tensors (unused constants included) that only they referred to."""
    g = graph.copy()
    live = set(g.outputs)
    kept = []
    for n in reversed(g.nodes):
        if any(o in live for o in n.outputs if o):
            kept.append(n)
            live.update(i for i in n.inputs if i)
    g.nodes = kept[::-1]
    return drop_unreferenced(g)


def remove_identities(graph: Graph) -> Graph:
    """Identity y = x goes away: readers of y read x, or, where y is a graph
    output, x's producer writes y directly. An Identity stays only where both
    names must exist (x is itself a graph input, output or constant)."""
    g = graph.copy()
    keep_names = set(g.inputs) | set(g.outputs)
    kept = []
    for n in g.nodes:
        if n.op_type != "Identity" or n.domain or len(n.inputs) != 1 or not n.inputs[0]:
            kept.append(n)
            continue
        x, y = n.inputs[0], n.outputs[0]
        if y not in g.outputs:
            replace_uses(g, y, x)
            continue
        producer = next((p for p in kept if x in p.outputs), None)
        if x in keep_names or producer is None:
            kept.append(n)
            continue
        producer.outputs = [y if o == x else o for o in producer.outputs]
        replace_uses(g, x, y)
        t = g.tensors[y]
        if t.shape is None:  # keep what is known about the value
            t.shape = g.tensors[x].shape
    g.nodes = kept
    return drop_unreferenced(g)


def _key(value):
    """A hashable stand-in for an attribute value."""
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, (list, tuple)):
        return tuple(_key(v) for v in value)
    if isinstance(value, float) and value != value:
        return ("nan",)
    return value


# Constants this small are compared by value (weights are not worth hashing).
CSE_CONSTANT_MAX = 4096


def eliminate_common_subexpressions(graph: Graph) -> Graph:
    """Merges equal small constants, then nodes with the same op, version,
    attributes and inputs: later copies' readers read the first one's outputs.
    A copy that writes a graph output stays."""
    g = graph.copy()
    outputs = set(g.outputs)
    seen_const: dict = {}
    for name, t in list(g.tensors.items()):
        if t.is_constant and t.data.size <= CSE_CONSTANT_MAX and name not in outputs:
            k = (t.dtype, t.data.shape, t.data.tobytes(), None if t.quant is None else repr(t.quant))
            if k in seen_const:
                replace_uses(g, name, seen_const[k])
            else:
                seen_const[k] = name
    seen: dict = {}
    kept = []
    for n in g.nodes:
        if n.op_type in NOT_FOLDABLE or not n.outputs:
            kept.append(n)
            continue
        k = (n.op_type, n.domain, n.version, tuple(n.inputs), len(n.outputs),
             tuple(sorted((a, _key(v)) for a, v in n.attrs.items())))
        first = seen.get(k)
        if first is None or any(o in outputs for o in n.outputs if o):
            seen.setdefault(k, n)
            kept.append(n)
            continue
        for mine, theirs in zip(n.outputs, first.outputs):
            if mine:
                replace_uses(g, mine, theirs)
    g.nodes = kept
    return drop_unreferenced(g)
