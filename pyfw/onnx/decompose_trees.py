"""Tree ensembles of ai.onnx.ml (TreeEnsemble-5, TreeEnsembleRegressor) as
standard ops: every tree walked at once, one level per step.

Each tree node and leaf gets a position; a leaf's next position is itself.
The walk holds one position per (sample, tree), starting at the roots, and
each of depth-of-the-deepest-tree steps gathers the node's feature of X, its
split and its comparison, and moves to the true or the false child. The
leaves' values then come from one (positions, targets) table and are reduced
over the trees (sum, average, min or max), and a post-transform applied.
The tables are constants built here from the node's attributes."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from .. import InvalidModelError, UnsupportedError

I64 = np.int64
LEQ, LT, GTE, GT, EQ, NEQ, MEMBER, LEAF = range(8)
_CLASSIC_MODES = {"BRANCH_LEQ": LEQ, "BRANCH_LT": LT, "BRANCH_GTE": GTE, "BRANCH_GT": GT, "BRANCH_EQ": EQ,
                  "BRANCH_NEQ": NEQ, "BRANCH_MEMBER": MEMBER, "LEAF": LEAF}
_COMPARE = {LEQ: "LessOrEqual", LT: "Less", GTE: "GreaterOrEqual", GT: "Greater", EQ: "Equal"}
_AGGREGATES = ("AVERAGE", "SUM", "MIN", "MAX")
_POST = ("NONE", "SOFTMAX", "LOGISTIC", "SOFTMAX_ZERO", "PROBIT")


class _Forest:
    """Positions 0..P-1 and their tables; filled by the two readers below."""

    def __init__(self, where: str):
        self.where = where
        self.feature, self.split, self.mode, self.true, self.false = [], [], [], [], []
        self.missing_true, self.members = [], []
        self.roots: list[int] = []

    def add(self, feature=0, split=0.0, mode=LEAF, missing_true=False, members=()) -> int:
        self.feature.append(int(feature))
        self.split.append(float(split))
        self.mode.append(int(mode))
        self.true.append(len(self.true))  # a leaf loops on itself; branches are linked later
        self.false.append(len(self.false))
        self.missing_true.append(bool(missing_true))
        self.members.append(tuple(members))
        return len(self.mode) - 1

    def depth(self) -> int:
        """Steps from the roots to the deepest leaf; a cycle is an error."""
        deepest, seen = 0, {}
        for root in self.roots:
            stack = [(root, 0)]
            while stack:
                p, d = stack.pop()
                if self.mode[p] == LEAF:
                    deepest = max(deepest, d)
                    continue
                if d > len(self.mode):
                    raise InvalidModelError(f"{self.where}: the tree from root position {root} has a cycle")
                if seen.get(p, -1) >= d:
                    continue
                seen[p] = d
                stack += [(self.true[p], d + 1), (self.false[p], d + 1)]
        return deepest


def _read_ensemble5(b):
    """TreeEnsemble-5: nodes_* indexed by node, *leafs flags saying whether a
    child id indexes the leaves."""
    a = b.attrs
    modes = numpy_helper.to_array(b.attr("nodes_modes")).astype(int).tolist()
    splits = numpy_helper.to_array(b.attr("nodes_splits")).astype(np.float64).tolist()
    n = len(modes)
    weights = numpy_helper.to_array(b.attr("leaf_weights")).astype(np.float64).tolist()
    targets = list(b.attr("leaf_targetids"))
    columns = ("nodes_featureids", "nodes_truenodeids", "nodes_falsenodeids", "nodes_trueleafs", "nodes_falseleafs")
    lists = [list(b.attr(c)) for c in columns]
    missing = list(a.get("nodes_missing_value_tracks_true", [0] * n))
    if any(len(v) != n for v in [splits, *lists, missing]) or len(weights) != len(targets):
        raise InvalidModelError(f"{b.where}: the nodes_* (or leaf_*) attributes differ in length")
    members = numpy_helper.to_array(a["membership_values"]).astype(np.float64).tolist() \
        if "membership_values" in a else []
    f = _Forest(b.where)
    sets, current = [], []
    for v in members:  # NaN ends each MEMBER node's set, in node order
        if np.isnan(v):
            sets.append(current)
            current = []
        else:
            current.append(v)
    if sum(m == MEMBER for m in modes) > len(sets):
        raise InvalidModelError(f"{b.where}: membership_values holds fewer sets than there are MEMBER nodes")
    feature, true_ids, false_ids, true_leaf, false_leaf = lists
    set_of = iter(sets)
    for i in range(n):
        if modes[i] not in _COMPARE and modes[i] not in (NEQ, MEMBER):
            raise InvalidModelError(f"{b.where}: node {i} has mode {modes[i]}, which is not one of 0..6")
        f.add(feature[i], splits[i], modes[i], missing[i], next(set_of) if modes[i] == MEMBER else ())
    leaf_pos = [f.add() for _ in weights]

    def child(ids, leaf, i):
        k = ids[i]
        if not 0 <= k < (len(weights) if leaf[i] else n):
            raise InvalidModelError(f"{b.where}: node {i} names child {k}, out of range")
        return leaf_pos[k] if leaf[i] else k

    for i in range(n):
        f.true[i], f.false[i] = child(true_ids, true_leaf, i), child(false_ids, false_leaf, i)
    for r in b.attr("tree_roots"):  # (a root whose two sides are one leaf walks to it in one step)
        if not 0 <= r < n:
            raise InvalidModelError(f"{b.where}: tree root {r} is not a node")
        f.roots.append(r)
    values = [(leaf_pos[k], targets[k], w) for k, w in enumerate(weights)]
    return f, values


def _floats(a, name: str) -> list[float]:
    """Attribute `name` (floats) or `name`_as_tensor (a double tensor)."""
    if f"{name}_as_tensor" in a:
        return numpy_helper.to_array(a[f"{name}_as_tensor"]).astype(np.float64).ravel().tolist()
    return list(a.get(name, []))


def _read_classic(b, kind: str):
    """TreeEnsembleRegressor/Classifier: nodes named by (tree id, node id),
    leaves are nodes of mode LEAF, and `kind`_* ("target" or "class") values
    attach to leaves by (tree id, node id)."""
    a = b.attrs
    tree_ids, node_ids = list(a.get("nodes_treeids", [])), list(a.get("nodes_nodeids", []))
    n = len(node_ids)
    modes = [m.decode() if isinstance(m, bytes) else m for m in a.get("nodes_modes", [])]
    splits = _floats(a, "nodes_values") or [0.0] * n
    columns = [list(a.get(c, [])) for c in ("nodes_featureids", "nodes_truenodeids", "nodes_falsenodeids")]
    missing = list(a.get("nodes_missing_value_tracks_true", [0] * n))
    if any(len(v) != n for v in [tree_ids, modes, splits, *columns, missing]):
        raise InvalidModelError(f"{b.where}: the nodes_* attributes differ in length")
    f = _Forest(b.where)
    pos = {}
    for i in range(n):
        if modes[i] not in _CLASSIC_MODES or modes[i] == "BRANCH_MEMBER":
            raise InvalidModelError(f"{b.where}: node {i} has mode {modes[i]!r}")
        pos[tree_ids[i], node_ids[i]] = f.add(columns[0][i], splits[i], _CLASSIC_MODES[modes[i]], missing[i])
    children = set()
    for i in range(n):
        if modes[i] == "LEAF":
            continue
        for side, ids in ((f.true, columns[1]), (f.false, columns[2])):
            key = (tree_ids[i], ids[i])
            if key not in pos:
                raise InvalidModelError(f"{b.where}: tree {tree_ids[i]} node {node_ids[i]} names child {ids[i]}, "
                                        f"which the tree lacks")
            side[i] = pos[key]
            children.add(pos[key])
    f.roots = [p for p in range(n) if p not in children]
    t_trees, t_nodes = list(a.get(f"{kind}_treeids", [])), list(a.get(f"{kind}_nodeids", []))
    t_ids = list(a.get(f"{kind}_ids", []))
    t_weights = _floats(a, f"{kind}_weights")
    if not len(t_trees) == len(t_nodes) == len(t_ids) == len(t_weights):
        raise InvalidModelError(f"{b.where}: the {kind}_* attributes differ in length")
    values = []
    for tr, nd, t, w in zip(t_trees, t_nodes, t_ids, t_weights):
        if (tr, nd) not in pos:
            raise InvalidModelError(f"{b.where}: a target names tree {tr} node {nd}, which does not exist")
        values.append((pos[tr, nd], t, w))
    return f, values


def _walk(b, f: _Forest, x: str, dtype) -> str:
    """The (samples, trees) slots of the leaves X reaches. A slot is twice a
    position, in int32: every per-position table holds each row twice, and
    the children's table holds the true child's slot at 2p and the false
    one's at 2p + 1, so a step moves with one Gather at slot + (not taken)
    instead of two Gathers and a Where -- the walk moves half the bytes."""
    b.require(11)  # GatherElements
    i32 = np.int32

    def table(values, np_type):
        return b.const(np.repeat(np.asarray(values, np_type), 2, axis=0), np_type)

    feature, split, mode = table(f.feature, i32), table(f.split, dtype), table(f.mode, i32)
    children = b.const(np.stack([np.asarray(f.true), np.asarray(f.false)], axis=1).reshape(-1).astype(i32) * 2, i32)
    n = b.add("Gather", [b.add("Shape", [x]), b.const([0], I64)])
    pos = b.add("Expand", [b.with_axes("Unsqueeze", b.const(np.asarray(f.roots, i32) * 2, i32), [0], 13),
                           b.add("Concat", [n, b.const([len(f.roots)], I64)], axis=0)])
    used = sorted({m for m in f.mode if m != LEAF})
    width = max([len(s) for s in f.members] + [1])
    members = table([list(s) + [np.nan] * (width - len(s)) for s in f.members], dtype) if MEMBER in used else None
    missing = table(f.missing_true, np.bool_) if any(f.missing_true) else None
    for _ in range(f.depth()):
        value = b.add("GatherElements", [x, b.add("Gather", [feature, pos])], axis=1)
        at = b.add("Gather", [split, pos])
        tests = []
        for m in used:
            if m == MEMBER:
                hits = b.add("Equal", [b.with_axes("Unsqueeze", value, [2], 13), b.add("Gather", [members, pos])])
                hit = b.add("Cast", [b.with_axes("ReduceMax", b.add("Cast", [hits], to=TensorProto.INT32), [2], 18,
                                                 keepdims=0)], to=TensorProto.BOOL)
            elif m == NEQ:
                hit = b.add("Not", [b.add("Equal", [value, at])])
            else:
                hit = b.compare(_COMPARE[m], value, at)
            if len(used) > 1:
                hit = b.add("And", [b.add("Equal", [b.add("Gather", [mode, pos]), b.const(m, i32)]), hit])
            tests.append(hit)
        go_true = tests[0] if tests else b.const(False, np.bool_)
        for t in tests[1:]:
            go_true = b.add("Or", [go_true, t])
        if missing is not None:
            go_true = b.add("Or", [go_true, b.add("And", [b.add("IsNaN", [value]), b.add("Gather", [missing, pos])])])
        pos = b.add("Gather", [children, b.add("Add", [pos, b.add("Cast", [b.add("Not", [go_true])],
                                                                   to=TensorProto.INT32)])])
    return pos


def _aggregate(b, f: _Forest, pos: str, values, n_targets: int, aggregate: str, dtype,
               want_scored: bool = False) -> tuple[str, str | None]:
    """(samples, targets): the leaves' values reduced over the trees, and
    (where asked for, or needed: a target no reached leaf holds is 0 under
    MIN and MAX too, as in ONNX Runtime) whether any leaf reached holds a
    value for the target; else None, and the run gathers no such mask."""
    fill = {"MIN": np.finfo(dtype).max, "MAX": np.finfo(dtype).min}.get(aggregate, 0.0)
    leaf_table = np.full((len(f.mode), n_targets), fill, np.float64)
    holds = np.zeros((len(f.mode), n_targets), np.int32)
    for p, t, w in values:
        if not 0 <= t < n_targets:
            raise InvalidModelError(f"{b.where}: a leaf's target id {t} is outside 0..{n_targets - 1}")
        if aggregate == "MIN":
            leaf_table[p, t] = min(leaf_table[p, t], w)
        elif aggregate == "MAX":
            leaf_table[p, t] = max(leaf_table[p, t], w)
        else:
            leaf_table[p, t] += w
        holds[p, t] = 1
    # (samples, trees, targets); rows twice over: pos holds slots (see _walk)
    leaves = b.add("Gather", [b.const(np.repeat(leaf_table, 2, axis=0).astype(dtype), dtype), pos])
    scored = None
    if want_scored or aggregate in ("MIN", "MAX"):
        reached = b.with_axes("ReduceMax", b.add("Gather", [b.const(np.repeat(holds, 2, axis=0), np.int32), pos]), [1],
                              18, keepdims=0)
        scored = b.add("Greater", [reached, b.const(0, np.int32)])
    if aggregate in ("SUM", "AVERAGE"):
        out = b.with_axes("ReduceSum", leaves, [1], 13, keepdims=0)
        if aggregate == "AVERAGE":
            out = b.add("Div", [out, b.const(len(f.roots), dtype)])
        return out, scored
    out = b.with_axes("ReduceMin" if aggregate == "MIN" else "ReduceMax", leaves, [1], 18, keepdims=0)
    return b.add("Where", [scored, out, b.const(0, dtype)]), scored


def post_transform(b, scores: str, post: str, dtype) -> str:
    if post == "NONE":
        return scores
    if post == "SOFTMAX":
        return b.add("Softmax", [scores], axis=-1)
    if post == "LOGISTIC":
        return b.add("Sigmoid", [scores])
    if post == "SOFTMAX_ZERO":
        # A softmax over the scores that are not (within 1e-7 of) zero; those
        # stay near zero (times exp(-max)) and out of the sum, as in ONNX Runtime.
        top = b.with_axes("ReduceMax", scores, [-1], 18, keepdims=1)
        nonzero = b.add("Greater", [b.add("Abs", [scores]), b.const(1e-7, dtype)])
        e = b.add("Where", [nonzero, b.add("Exp", [b.add("Sub", [scores, top])]), b.const(0, dtype)])
        small = b.add("Where", [nonzero, b.const(0, dtype), b.add("Mul", [scores, b.add("Exp", [b.add("Neg", [top])])])])
        return b.add("Add", [b.add("Div", [e, b.with_axes("ReduceSum", e, [-1], 13, keepdims=1)]), small])
    raise UnsupportedError(f"{b.where}: post_transform {post} is not supported yet")


def tree_ensemble(b) -> None:
    """TreeEnsemble (ai.onnx.ml 5)."""
    x = b.input(0)
    dtype = helper.tensor_dtype_to_np_dtype(b.elem_type(x))
    n_targets = int(b.attrs.get("n_targets", 1))
    aggregate, post = int(b.attrs.get("aggregate_function", 1)), int(b.attrs.get("post_transform", 0))
    if not 0 <= aggregate < 4 or not 0 <= post < 5:
        raise InvalidModelError(f"{b.where}: aggregate_function {aggregate} / post_transform {post} out of range")
    f, values = _read_ensemble5(b)
    scores, _ = _aggregate(b, f, _walk(b, f, x, dtype), values, n_targets, _AGGREGATES[aggregate], dtype)
    b.declare(b.node.output[0], b.elem_type(x))
    b.add("Identity", [post_transform(b, scores, _POST[post], dtype)], output=b.node.output[0])


def _classic_scores(b, kind: str, n_targets: int, aggregate: str,
                    want_scored: bool = False) -> tuple[str, str | None, type]:
    """TreeEnsembleRegressor/Classifier's scores before the post-transform
    (and which targets a reached leaf scores): X compared in float64 where X
    or the splits (a double tensor) are, else in float32; base_values added."""
    x = b.input(0)
    wide = b.elem_type(x) == TensorProto.DOUBLE or (
        "nodes_values_as_tensor" in b.attrs and b.attrs["nodes_values_as_tensor"].data_type == TensorProto.DOUBLE)
    dtype = np.float64 if wide else np.float32
    elem = TensorProto.DOUBLE if wide else TensorProto.FLOAT
    if b.elem_type(x) != elem:
        x = b.add("Cast", [x], to=elem)
    f, values = _read_classic(b, kind)
    base = _floats(b.attrs, "base_values")
    scores, scored = _aggregate(b, f, _walk(b, f, x, dtype), values, n_targets, aggregate, dtype,
                                want_scored and not base)
    if base:
        if len(base) != n_targets:
            raise InvalidModelError(f"{b.where}: {len(base)} base_values for {n_targets} outputs")
        scores = b.add("Add", [scores, b.const(base, dtype)])
        scored = b.const(np.ones(n_targets, np.bool_), np.bool_) if want_scored else None  # every class has one
    return scores, scored, dtype


def _float_out(b, v: str, output: str) -> None:
    b.declare(output, TensorProto.FLOAT)
    b.add("Cast", [v], output=output, to=TensorProto.FLOAT)


def tree_ensemble_regressor(b) -> None:
    """TreeEnsembleRegressor (ai.onnx.ml 1 and 3), float32 out."""
    n_targets = int(b.attrs.get("n_targets", 1))
    aggregate = b.text("aggregate_function", "SUM")
    post = b.text("post_transform", "NONE")
    if aggregate not in _AGGREGATES or post not in _POST:
        raise InvalidModelError(f"{b.where}: aggregate_function {aggregate!r} / post_transform {post!r} unknown")
    scores, _, dtype = _classic_scores(b, "target", n_targets, aggregate)
    _float_out(b, post_transform(b, scores, post, dtype), b.node.output[0])


def tree_ensemble_classifier(b) -> None:
    """TreeEnsembleClassifier (ai.onnx.ml 1 and 3), integer labels: per-class
    sums of the leaves' class weights plus base_values, post-transformed; the
    label of the highest score. Binary (two labels, every leaf weight on
    class 0): s is that sum and the scores (1 - s, s) with class 1 where
    s > 0.5 when every weight is positive, else (-s, s) with class 1 where
    s > 0, as ONNX Runtime does; LOGISTIC gives the logistic of (-s, s)."""
    if "classlabels_strings" in b.attrs:
        raise UnsupportedError(f"{b.where}: string class labels need string tensors, which pyfw lacks")
    labels = list(b.attrs.get("classlabels_int64s", []))
    post = b.text("post_transform", "NONE")
    if post not in _POST or post == "PROBIT":
        raise UnsupportedError(f"{b.where}: post_transform {post!r} is not supported")
    ids = set(b.attrs.get("class_ids", []))
    binary = len(labels) == 2 and ids == {0}
    if len(labels) < 2 or (not binary and max(ids, default=0) >= len(labels)):
        raise InvalidModelError(f"{b.where}: class ids {sorted(ids)} for {len(labels)} class labels")
    outs = list(b.node.output) + [""]
    if binary:
        if post in ("SOFTMAX", "SOFTMAX_ZERO"):
            raise UnsupportedError(f"{b.where}: post_transform {post} of a binary classifier is not supported")
        b.attrs = dict(b.attrs, base_values=_floats(b.attrs, "base_values")[:1])
        b.attrs.pop("base_values_as_tensor", None)
        s, _, dtype = _classic_scores(b, "class", 1, "SUM")
        positive = all(w > 0 for w in _floats(b.attrs, "class_weights"))
        cut = 0.5 if positive else 0.0
        best = b.add("Cast", [b.add("Greater", [b.with_axes("Squeeze", s, [1], 13), b.const(cut, dtype)])],
                     to=TensorProto.INT64)
        if post == "LOGISTIC":
            scores = b.add("Sigmoid", [b.add("Concat", [b.add("Neg", [s]), s], axis=1)])
        else:
            first = b.add("Sub", [b.const(1, dtype), s]) if positive else b.add("Neg", [s])
            scores = b.add("Concat", [first, s], axis=1)
    else:
        raw, scored, dtype = _classic_scores(b, "class", len(labels), "SUM", want_scored=True)
        scores = post_transform(b, raw, post, dtype)
        # The label: the best of the classes a leaf (or base_values) scores, as ONNX Runtime.
        best = b.add("ArgMax", [b.add("Where", [scored, scores, b.const(-np.inf, dtype)])], axis=1, keepdims=0)
    if outs[0]:
        b.declare(outs[0], TensorProto.INT64)
        b.add("Gather", [b.const(labels, I64), best], output=outs[0])
    if outs[1]:
        _float_out(b, scores, outs[1])
