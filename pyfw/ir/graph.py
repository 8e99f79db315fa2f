"""pyfw.ir: Graph, Node and Tensor.

A Graph owns its tensors by name (value info: dtype and shape, plus constant
data for initializers), an ordered node list, and the names of its inputs and
outputs. Shapes are tuples of ints where -1 marks a dynamic dimension, or None
when even the rank is unknown. Ops are named as ONNX names them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from .. import InvalidModelError
from .. import dtypes as _dt


def fresh_name(taken: set[str], base: str) -> str:
    """`base`, or `base_1`, `base_2`... : the first name not in `taken`, which it joins."""
    name, k = base, 1
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


KINDS = ("tensor", "sequence")
# Ops of ONNX domains other than the default one that are nodes of the IR (and
# .pfw OpType values, libpfw kernels) as they are, their Node.domain kept.
OTHER_DOMAIN_OPS = {("ai.onnx.ml", "LabelEncoder")}


@dataclass
class QuantParams:
    scale: list[float]
    zero_point: list[int]
    axis: int = 0


@dataclass
class Tensor:
    name: str
    dtype: str = "float32"
    shape: tuple[int, ...] | None = None
    data: np.ndarray | None = None  # constant value (initializer), else None
    quant: QuantParams | None = None
    # "tensor", or "sequence" (ONNX sequence<tensor>: dtype and shape are its
    # elements', shape None when they differ); `optional`: an ONNX optional,
    # which may hold no value at run time.
    kind: str = "tensor"
    optional: bool = False

    def __post_init__(self):
        if self.dtype not in _dt.DTYPES:
            raise ValueError(f"tensor {self.name!r}: unknown dtype {self.dtype!r}")
        if self.kind not in KINDS:
            raise ValueError(f"tensor {self.name!r}: unknown kind {self.kind!r}")
        if self.shape is not None:
            self.shape = tuple(int(d) for d in self.shape)

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def rank(self) -> int | None:
        return None if self.shape is None else len(self.shape)

    @property
    def is_value(self) -> bool:
        """A sequence or an optional: only the ops made for them take it."""
        return self.kind != "tensor" or self.optional

    def describe_type(self) -> str:
        """'float32', 'sequence of float32', 'optional sequence of int64'..."""
        text = self.dtype if self.kind == "tensor" else f"sequence of {self.dtype}"
        return f"optional {text}" if self.optional else text

    def clone(self, name: str | None = None) -> "Tensor":
        return Tensor(self.name if name is None else name, self.dtype, self.shape, self.data, self.quant,
                      self.kind, self.optional)


@dataclass
class Node:
    op_type: str
    inputs: list[str]   # tensor names; "" marks an absent optional input
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    domain: str = ""    # "" = ONNX default domain
    version: int = 0    # the op's own version (ONNX since_version); 0 = unknown

    def attr(self, name: str, default: Any = None) -> Any:
        return self.attrs.get(name, default)

    def describe(self) -> str:
        return f"node {self.name!r} ({self.op_type})" if self.name else f"a {self.op_type} node"


class Graph:
    """A dataflow graph. `nodes` are kept in a valid execution order by
    `toposort()`; `validate()` checks the invariants every consumer relies on."""

    def __init__(self, name: str = "main", opset: int = 17):
        self.name = name
        self.opset = opset
        self.tensors: dict[str, Tensor] = {}
        self.nodes: list[Node] = []
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        self.metadata: dict[str, str] = {}

    # ---- building -------------------------------------------------------
    def add_tensor(self, tensor: Tensor) -> Tensor:
        if tensor.name in self.tensors:
            raise InvalidModelError(f"graph {self.name!r}: duplicate tensor name {tensor.name!r}")
        self.tensors[tensor.name] = tensor
        return tensor

    def add_input(self, name: str, dtype: str = "float32", shape=None, kind: str = "tensor",
                  optional: bool = False) -> Tensor:
        t = self.add_tensor(Tensor(name, dtype, shape, kind=kind, optional=optional))
        self.inputs.append(name)
        return t

    def add_constant(self, name: str, value) -> Tensor:
        arr = np.asarray(value)
        return self.add_tensor(Tensor(name, _dt.from_numpy(arr.dtype), arr.shape, arr))

    def add_node(self, op_type: str, inputs: Iterable[str], outputs: Iterable[str],
                 name: str = "", domain: str = "", version: int = 0, **attrs) -> Node:
        """Appends a node; keyword arguments become attributes (use add() for an
        attribute called name, domain or version)."""
        return self.add(Node(op_type, list(inputs), list(outputs), dict(attrs), name, domain, version))

    def add(self, node: Node) -> Node:
        """Appends `node`, creating value-info tensors for new outputs."""
        for o in node.outputs:
            if o and o not in self.tensors:
                self.tensors[o] = Tensor(o, "float32", None)
        self.nodes.append(node)
        return node

    def tensor(self, name: str) -> Tensor:
        try:
            return self.tensors[name]
        except KeyError:
            raise InvalidModelError(f"graph {self.name!r}: no tensor named {name!r}") from None

    # ---- queries --------------------------------------------------------
    def producers(self) -> dict[str, Node]:
        return {o: n for n in self.nodes for o in n.outputs if o}

    def consumers(self) -> dict[str, list[Node]]:
        out: dict[str, list[Node]] = {}
        for n in self.nodes:
            for i in n.inputs:
                if i:
                    out.setdefault(i, []).append(n)
        return out

    def initializers(self) -> list[Tensor]:
        return [t for t in self.tensors.values() if t.is_constant]

    # ---- invariants -----------------------------------------------------
    def toposort(self) -> None:
        """Orders nodes so every input is produced before use (stable: keeps the
        existing order where it is already valid). Raises on a cycle."""
        produced_by = {}
        for idx, n in enumerate(self.nodes):
            for o in n.outputs:
                if o:
                    produced_by[o] = idx
        deps = [{produced_by[i] for i in n.inputs if i in produced_by} for n in self.nodes]
        users: list[list[int]] = [[] for _ in self.nodes]
        for idx, d in enumerate(deps):
            for p in d:
                users[p].append(idx)
        pending = [len(d) for d in deps]
        import heapq
        ready = [i for i, c in enumerate(pending) if c == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            i = heapq.heappop(ready)
            order.append(i)
            for u in users[i]:
                pending[u] -= 1
                if pending[u] == 0:
                    heapq.heappush(ready, u)
        if len(order) != len(self.nodes):
            stuck = [self.nodes[i].describe() for i, c in enumerate(pending) if c > 0]
            raise InvalidModelError(
                f"graph {self.name!r} has a cycle through {', '.join(stuck[:5])}")
        self.nodes = [self.nodes[i] for i in order]

    def validate(self) -> None:
        """Checks names, producers and ordering; raises InvalidModelError naming
        the first problem found."""
        where = f"graph {self.name!r}"
        for name, t in self.tensors.items():
            if name != t.name:
                raise InvalidModelError(f"{where}: tensor key {name!r} holds tensor {t.name!r}")
            if t.shape is not None and any(d < -1 for d in t.shape):
                raise InvalidModelError(f"{where}: tensor {name!r} has invalid shape {t.shape}")
            if t.data is not None and t.shape is not None and tuple(t.data.shape) != t.shape:
                raise InvalidModelError(
                    f"{where}: constant {name!r} has data of shape {t.data.shape} but declares {t.shape}")
        seen = set()
        for i in self.inputs:
            if i not in self.tensors:
                raise InvalidModelError(f"{where}: input {i!r} has no tensor")
            if i in seen:
                raise InvalidModelError(f"{where}: input {i!r} listed twice")
            seen.add(i)
        defined = set(self.inputs) | {t.name for t in self.initializers()}
        produced = {}
        for n in self.nodes:
            for i in n.inputs:
                if i and i not in self.tensors:
                    raise InvalidModelError(f"{where}: {n.describe()} reads {i!r}, which does not exist")
            for o in n.outputs:
                if not o:
                    continue
                if o in produced:
                    raise InvalidModelError(
                        f"{where}: tensor {o!r} is produced by both {produced[o].describe()} and {n.describe()}")
                if o in defined:
                    raise InvalidModelError(
                        f"{where}: {n.describe()} writes {o!r}, which is a graph input or constant")
                produced[o] = n
        # ordering / cycles / dangling
        avail = set(defined)
        for n in self.nodes:
            for i in n.inputs:
                if i and i not in avail:
                    if i not in produced:
                        raise InvalidModelError(
                            f"{where}: {n.describe()} reads {i!r}, which nothing produces (dangling input)")
                    # produced later: either out of order or a cycle
                    g = self.copy()
                    g.toposort()  # raises on a cycle
                    raise InvalidModelError(
                        f"{where}: {n.describe()} reads {i!r} before {produced[i].describe()} produces it "
                        "(nodes are not in execution order; call toposort())")
            avail.update(o for o in n.outputs if o)
        for o in self.outputs:
            if o not in avail:
                raise InvalidModelError(f"{where}: output {o!r} is never produced")

    def copy(self) -> "Graph":
        g = Graph(self.name, self.opset)
        g.tensors = {k: t.clone() for k, t in self.tensors.items()}
        g.nodes = [Node(n.op_type, list(n.inputs), list(n.outputs), dict(n.attrs), n.name,
                        n.domain, n.version) for n in self.nodes]
        g.inputs = list(self.inputs)
        g.outputs = list(self.outputs)
        g.metadata = dict(self.metadata)
        return g

    def __repr__(self) -> str:
        return (f"Graph({self.name!r}, {len(self.nodes)} nodes, {len(self.tensors)} tensors, "
                f"inputs={self.inputs}, outputs={self.outputs})")
