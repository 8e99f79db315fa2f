"""Small helpers the passes share: rewiring uses of a tensor, and dropping
tensors nothing refers to any more."""
from __future__ import annotations

from ..graph import Graph


def replace_uses(graph: Graph, old: str, new: str) -> None:
    """Every node input reading `old` reads `new` instead."""
    for n in graph.nodes:
        n.inputs = [new if i == old else i for i in n.inputs]


def referenced(graph: Graph) -> set[str]:
    names = set(graph.inputs) | set(graph.outputs)
    for n in graph.nodes:
        names.update(i for i in n.inputs if i)
        names.update(o for o in n.outputs if o)
    return names


def drop_unreferenced(graph: Graph) -> Graph:
    """Removes tensors (value info and constants) that no node, input or
    output names."""
    keep = referenced(graph)
    graph.tensors = {k: t for k, t in graph.tensors.items() if k in keep}
    return graph


def single_consumer(graph: Graph, name: str, consumers=None):
    """The only node reading `name`, or None when it has several readers, none,
    or is a graph output (then its value must stay visible)."""
    if name in graph.outputs:
        return None
    users = (consumers or graph.consumers()).get(name, [])
    if len(users) != 1 or sum(i == name for i in users[0].inputs) != 1:
        return None
    return users[0]


def constant(graph: Graph, name: str):
    """The constant data of tensor `name`, or None (absent input, or not constant)."""
    if not name:
        return None
    t = graph.tensors.get(name)
    return None if t is None else t.data
