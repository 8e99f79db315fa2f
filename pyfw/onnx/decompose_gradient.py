"""The Gradient op of ai.onnx.preview.training as standard ops: reverse-mode
differentiation of the part of the graph that computes `y` from `xs` and
`zs`, evaluated at the values the node's inputs give (xs' values, then zs').

The differentiated graph is the nodes on a path from xs or zs to y; the
values it reads from elsewhere are held fixed. Where the node's inputs are
the tensors xs and zs name, the forward values the graph computes anyway are
reused; otherwise that part of the graph is computed again from the inputs.
y's gradient is seeded with ones (the gradient of the sum of y where y is not
a scalar, as PyTorch's backward(ones) has it), and an x that y does not
depend on gets zeros. Ops with a rule below are differentiable; any other op
on the path is refused by name.
"""
from __future__ import annotations

import numpy as np
from onnx import helper

from .. import InvalidModelError, UnsupportedError

I64 = np.int64


class _Pass:
    """The backward pass of one Gradient node, emitting through builder b."""

    def __init__(self, b, producers: dict):
        self.b, self.producers = b, producers
        self.grads: dict[str, list[str]] = {}
        # True where the pass computes at values whose shapes may not be the
        # inferred ones (the forward computed again): broadcasts are then found at run time.
        self.dynamic = False

    def reshape(self, v: str, shape: str) -> str:
        """v in `shape`, whose zeros are sizes (Reshape's allowzero, opset 14)."""
        return self.b.add("Reshape", [v, shape], **({"allowzero": 1} if self.b.opset >= 14 else {}))

    def add_grad(self, v: str, g: str) -> None:
        self.grads.setdefault(v, []).append(g)

    def grad(self, v: str) -> str | None:
        parts = self.grads.get(v)
        if not parts:
            return None
        total = parts[0]
        for part in parts[1:]:  # Add, not Sum: Add takes every float type
            total = self.b.add("Add", [total, part])
        return total

    def reduce_to(self, g: str, like: str, value: str, out: str) -> str:
        """g (of out's shape) summed over the axes along which `like` was
        broadcast to it, which leaves value's shape (value is like's value in
        the pass): the leading axes dropped, the others kept as 1. Where shape
        inference leaves a dimension unknown, or the pass computes at other
        shapes, the axes are found at run time (ReduceSum's axes input, opset 13)."""
        b = self.b
        b.rank(out), b.rank(like)  # (a shape is needed: these raise without one)
        gd, ld = b.dims(out), b.dims(like)
        lead = len(gd) - len(ld)
        if lead:
            g = b.with_axes("ReduceSum", g, list(range(lead)), 13, keepdims=0)
        if self.dynamic or any(d is None for d in gd[lead:] + ld):
            b.require(13)
            one = b.const(1, I64)
            spread = b.add("And", [b.add("Equal", [b.add("Shape", [value]), one]),
                                   b.add("Not", [b.add("Equal", [b.add("Shape", [g]), one])])])
            axes = b.with_axes("Squeeze", b.add("NonZero", [spread]), [0], 13)
            return b.add("ReduceSum", [g, axes], keepdims=1, noop_with_empty_axes=1)
        axes = [k for k, d in enumerate(ld) if d == 1 and gd[lead + k] != 1]
        return b.with_axes("ReduceSum", g, axes, 13, keepdims=1) if axes else g


def _attrs(n) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in n.attribute}


def _last_two(rank: int) -> list[int]:
    return list(range(rank - 2)) + [rank - 1, rank - 2]


def _backward(p: _Pass, n, name: str, inputs: list[str], outputs: list[str], g: str) -> list[str | None]:
    """The gradients of node n's inputs (None where not differentiable), given
    g, the gradient of its first output; inputs/outputs are the values the
    pass computes with (the forward recomputed where it is), while n's own
    names carry the types shape inference gave."""
    b, op, where = p.b, n.op_type, f"node {name!r} ({n.op_type})"
    a, o, two = (inputs or [""])[0], outputs[0], len(inputs) > 1

    def const(value, like: str) -> str:  # a scalar of the element type of n's value `like`
        return b.const(value, helper.tensor_dtype_to_np_dtype(b.elem_type(like)))

    def red(v: str, k: int) -> str:
        return p.reduce_to(v, n.input[k], inputs[k], n.output[0])

    if op == "Identity":
        return [g]
    if op == "Neg":
        return [b.add("Neg", [g])]
    if op == "Sum":
        return [red(g, k) for k in range(len(inputs))]
    if op in ("Add", "Sub") and two:
        return [red(g, 0), red(g if op == "Add" else b.add("Neg", [g]), 1)]
    if op == "Mul" and two:
        return [red(b.add("Mul", [g, inputs[1]]), 0), red(b.add("Mul", [g, a]), 1)]
    if op == "Div" and two:
        db = b.add("Neg", [b.add("Div", [b.add("Mul", [g, o]), inputs[1]])])
        return [red(b.add("Div", [g, inputs[1]]), 0), red(db, 1)]
    if op == "Pow" and two and b.elem_type(n.input[0]) == b.elem_type(n.input[1]):
        # d(a^e)/da = e a^(e-1); d(a^e)/de = a^e ln a
        e = inputs[1]
        da = b.add("Mul", [g, b.add("Mul", [e, b.add("Pow", [a, b.add("Sub", [e, const(1, n.input[1])])])])])
        return [red(da, 0), red(b.add("Mul", [g, b.add("Mul", [o, b.add("Log", [a])])]), 1)]
    if op == "Relu":
        zero = const(0, n.input[0])
        return [b.add("Where", [b.add("Greater", [a, zero]), g, zero])]
    if op == "Sigmoid":
        return [b.add("Mul", [g, b.add("Mul", [o, b.add("Sub", [const(1, n.output[0]), o])])])]
    if op == "Tanh":
        return [b.add("Mul", [g, b.add("Sub", [const(1, n.output[0]), b.add("Mul", [o, o])])])]
    if op == "Exp":
        return [b.add("Mul", [g, o])]
    if op == "Log":
        return [b.add("Div", [g, a])]
    if op == "Sqrt":
        return [b.add("Div", [g, b.add("Add", [o, o])])]
    if op == "MatMul":
        ra, rb = b.rank(n.input[0]), b.rank(n.input[1])
        if ra < 2 or rb < 2:
            raise UnsupportedError(f"{b.where}: differentiating {where} with a 1-D operand is not supported yet")
        ga = b.add("MatMul", [g, b.add("Transpose", [inputs[1]], perm=_last_two(rb))])
        gb = b.add("MatMul", [b.add("Transpose", [a], perm=_last_two(ra)), g])
        return [red(ga, 0), red(gb, 1)]
    if op == "Gemm":
        b.require(11)  # Gemm without C
        at = _attrs(n)
        alpha, beta = float(at.get("alpha", 1.0)), float(at.get("beta", 1.0))
        ta, tb = int(at.get("transA", 0)), int(at.get("transB", 0))
        w = inputs[1]
        # Y = alpha A' B' + beta C: dA' = alpha g B'^T and dB' = alpha A'^T g, transposed back.
        ga = b.add("Gemm", [w, g], alpha=alpha, transA=tb, transB=1) if ta else \
            b.add("Gemm", [g, w], alpha=alpha, transB=1 - tb)
        gb = b.add("Gemm", [g, a], alpha=alpha, transA=1, transB=ta) if tb else \
            b.add("Gemm", [a, g], alpha=alpha, transA=1 - ta)
        out = [ga, gb]
        if len(inputs) > 2 and inputs[2]:
            out.append(red(b.add("Mul", [g, const(beta, n.output[0])]), 2))
        return out
    if op == "Reshape":
        return [p.reshape(g, b.add("Shape", [a])), None]
    if op == "Transpose":
        perm = _attrs(n).get("perm") or list(range(b.rank(n.input[0])))[::-1]
        return [b.add("Transpose", [g], perm=[int(k) for k in np.argsort(perm)])]
    if op in ("ReduceSum", "ReduceMean"):
        return [_reduce_backward(p, n, inputs, o, g), None]
    if op == "Cast":
        return [b.add("Cast", [g], to=b.elem_type(n.input[0]))]
    raise UnsupportedError(f"{b.where}: {where} lies between xs and y, and pyfw has no gradient for {op} yet")


def _reduce_backward(p: _Pass, n, inputs: list[str], o: str, g: str) -> str:
    """g spread back over the reduced axes (divided by their size for the
    mean). With keepdims=0 the axes come back from the shape of the same
    reduction with keepdims=1, which holds for axes given as an input too."""
    b, at = p.b, _attrs(n)
    if not at.get("keepdims", 1):
        axes = at.get("axes")
        if axes is None and len(n.input) > 1:
            axes = b.graph.constant(n.input[1])
        if axes is not None and np.size(axes):
            rank = b.rank(n.input[0])
            g = b.with_axes("Unsqueeze", g, sorted(int(k) % rank for k in np.asarray(axes).reshape(-1)), 13)
        else:  # all axes, or axes computed at run time
            g = p.reshape(g, b.add("Shape", [b.add(n.op_type, inputs, **{**at, "keepdims": 1})]))
    g = b.add("Expand", [g, b.add("Shape", [inputs[0]])])
    if n.op_type == "ReduceMean":
        count = b.add("Div", [b.add("Size", [inputs[0]]), b.add("Size", [o])])
        g = b.add("Div", [g, b.add("Cast", [count], to=b.elem_type(n.input[0]))])
    return g


def _forward_nodes(p: _Pass, y: str, leaves: set[str]) -> list:
    """The nodes on a path from the leaves to y, in graph order. A depth-first
    walk with its own stack (graphs may be thousands of nodes deep); every
    input is visited, so each path to y counts."""
    on_path: dict[str, bool] = {}
    entered: set[str] = set()
    stack = [(y, False)]
    while stack:
        v, done = stack.pop()
        made = None if v in leaves else p.producers.get(v)
        inputs = [i for i in made[0].input if i] if made else []
        if done:  # its inputs are decided (an input still entered is a cycle, invalid anyway: not on the path)
            on_path[v] = v in leaves or any([on_path.get(i, False) for i in inputs])
        elif v not in entered:
            entered.add(v)
            stack.append((v, True))
            stack.extend((i, False) for i in inputs if i not in entered)
    if not on_path.get(y):
        return []
    order = {p.producers[v][2]: p.producers[v][:2] for v, ok in on_path.items() if ok and v not in leaves}
    return [order[k] for k in sorted(order)]


def gradient(b) -> None:
    """The Gradient node b.node, through b (a decompose._Builder, whose
    graph view gives each value's producer)."""
    xs, zs = [s.decode() if isinstance(s, bytes) else s for s in b.attr("xs")], \
        [s.decode() if isinstance(s, bytes) else s for s in b.attrs.get("zs", [])]
    y = b.attr("y")
    y = y.decode() if isinstance(y, bytes) else y
    b.require(9)  # ConstantOfShape, Where, NonZero
    given = list(b.node.input)
    if len(set(xs + zs)) != len(xs) + len(zs):
        raise InvalidModelError(f"{b.where}: a name appears twice in xs and zs: {xs + zs}")
    if y not in xs + zs and y not in b.graph.producers:
        raise UnsupportedError(f"{b.where}: y {y!r} is not computed in the Gradient's own graph (pyfw "
                               f"differentiates within one graph)")
    if len(given) != len(xs) + len(zs):
        raise InvalidModelError(f"{b.where}: has {len(given)} inputs for {len(xs)} xs and {len(zs)} zs")
    if len(b.node.output) > len(xs):
        raise InvalidModelError(f"{b.where}: has {len(b.node.output)} outputs for {len(xs)} xs")
    p = _Pass(b, b.graph.producers)
    nodes = _forward_nodes(p, y, set(xs) | set(zs))
    # The values the pass computes with: the node's inputs for xs and zs, and
    # the forward part computed again from them unless they are xs and zs.
    value = dict(zip(xs + zs, given))
    recompute = any(value[k] != k for k in value)
    if recompute:
        # Ranks decide MatMul's and Transpose's forms: the given values must have the xs' and zs'.
        for k, v in value.items():
            if k != v and b.rank(k) != b.rank(v):
                raise UnsupportedError(f"{b.where}: input {v!r} has another rank than {k!r}, which it stands for")
        p.dynamic = any(b.dims(k) != b.dims(v) or None in b.dims(v) for k, v in value.items() if k != v)
    for n, name in nodes:
        if any(a.type in (helper.AttributeProto.GRAPH, helper.AttributeProto.GRAPHS) for a in n.attribute):
            raise UnsupportedError(f"{b.where}: node {name!r} ({n.op_type}) with a subgraph lies between xs and y")
        ins = [value.get(i, i) for i in n.input]
        if recompute:
            outs = [o and f"{b.prefix}fwd/{o}" for o in n.output]
            b.nodes.append(helper.make_node(n.op_type, ins, outs, name=f"{b.prefix}fwd/{name}", domain=n.domain,
                                            **_attrs(n)))
        else:
            outs = list(n.output)
        value.update((o, v) for o, v in zip(n.output, outs) if o)
    on_x = set(xs)  # the values whose gradient is wanted: those that depend on an x
    for n, _ in nodes:
        if any(i in on_x for i in n.input):
            on_x.update(o for o in n.output if o)
    yv = value.get(y, y)
    one = helper.make_tensor("one", b.elem_type(y), [1], [1])
    p.add_grad(y, b.add("ConstantOfShape", [b.add("Shape", [yv])], value=one))
    for n, name in reversed(nodes):
        later = [o for o in n.output[1:] if o and p.grads.get(o)]
        if later:
            raise UnsupportedError(f"{b.where}: y depends on {later[0]!r}, an output of node {name!r} "
                                   f"({n.op_type}) after its first, which pyfw cannot differentiate yet")
        g = p.grad(n.output[0])
        if g is None:
            continue
        grads = _backward(p, n, name, [value.get(i, i) for i in n.input], [value.get(o, o) for o in n.output], g)
        for i, gi in zip(n.input, grads):
            if gi is not None and i in on_x:
                p.add_grad(i, gi)
    for x, out in zip(xs, b.node.output):
        if not out:
            continue
        g = p.grad(x)
        if g is None:
            zero = helper.make_tensor("zero", b.elem_type(x), [1], [0])
            g = b.add("ConstantOfShape", [b.add("Shape", [value[x]])], value=zero)
        b.add("Identity", [g], output=out)
