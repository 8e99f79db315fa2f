"""Rules (see decompose.py) for ai.onnx.ml's linear models and feature
transforms, the steps of scikit-learn pipelines as its converters write them:
LinearRegressor, LinearClassifier, SVMRegressor, SVMClassifier, Scaler,
Normalizer, Imputer, OneHotEncoder, FeatureVectorizer (LabelEncoder is a kernel:
runtime_c/src/ops/label_encoder.c).
The models compute in float32 (float64 where X is), as ONNX Runtime does, and
give float32."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from .. import InvalidModelError, UnsupportedError
from .decompose_trees import post_transform

F32 = TensorProto.FLOAT
I64 = np.int64
ML = "ai.onnx.ml"


def _features(b, rows: bool = True) -> tuple[str, type]:
    """X as float32, or as float64 where it is; with `rows`, a 1-D X as one
    sample (1, F), as ONNX Runtime reads it."""
    x = b.input(0)
    elem = b.elem_type(x)
    if rows and b.rank(x) == 1:
        x = b.with_axes("Unsqueeze", x, [0], 13)
    if elem == TensorProto.DOUBLE:
        return x, np.float64
    return (x if elem == F32 else b.add("Cast", [x], to=F32)), np.float32


def _scores(b, x: str, dtype, rows: int) -> str:
    """X (N, F) times the coefficients as `rows` rows of F, plus intercepts."""
    coef = np.asarray(b.attrs.get("coefficients", []), np.float64)
    if rows <= 0 or coef.size % rows:
        raise InvalidModelError(f"{b.where}: {coef.size} coefficients do not split into {rows} rows")
    scores = b.add("MatMul", [x, b.const(coef.reshape(rows, -1).T, dtype)])
    intercepts = list(b.attrs.get("intercepts", []))
    if intercepts:
        if len(intercepts) not in (1, rows):
            raise InvalidModelError(f"{b.where}: {len(intercepts)} intercepts for {rows} rows of coefficients")
        scores = b.add("Add", [scores, b.const(intercepts, dtype)])
    return scores


def _to_float(b, v: str, dtype, output: str) -> None:
    b.declare(output, F32, like=b.input(0))
    if dtype == np.float32:
        b.add("Identity", [v], output=output)
    else:
        b.add("Cast", [v], output=output, to=F32)


def linear_regressor(b) -> None:
    """Y = X C^T + intercepts, C as `targets` rows, then the post-transform."""
    x, dtype = _features(b)
    scores = _scores(b, x, dtype, int(b.attrs.get("targets", 1)))
    out = post_transform(b, scores, b.text("post_transform", "NONE"), dtype)
    _to_float(b, out, dtype, b.node.output[0])


def linear_classifier(b) -> None:
    """Scores as LinearRegressor's, one row per class; one row for two classes
    means scores (-s, s). Labels: the class of the highest score, or with one
    score the first label where it reaches 0 (0.5 after a transform)."""
    if "classlabels_strings" in b.attrs:
        raise UnsupportedError(f"{b.where}: string class labels need string tensors, which pyfw lacks")
    labels = list(b.attrs.get("classlabels_ints", []))
    x, dtype = _features(b)
    rows = len(b.attrs.get("coefficients", [])) // _feature_count(b)
    scores = _scores(b, x, dtype, rows)
    post = b.text("post_transform", "NONE")
    binary = rows == 1 and len(labels) == 2
    if binary:  # as ONNX Runtime: (1 - s, s), or (1 - logistic(s), logistic(s)); class 1 where s > 0
        best = b.add("Cast", [b.add("Greater", [b.with_axes("Squeeze", scores, [1], 13),
                                                b.const(0, dtype)])], to=TensorProto.INT64)
        if post == "LOGISTIC":
            scores = b.add("Sigmoid", [scores])
        elif post == "PROBIT":
            raise UnsupportedError(f"{b.where}: post_transform PROBIT is not supported yet")
        scores = b.add("Concat", [b.add("Sub", [b.const(1, dtype), scores]), scores], axis=1)
    else:
        scores = post_transform(b, scores, post, dtype)
    outs = list(b.node.output) + [""]
    if outs[0]:
        b.declare(outs[0], TensorProto.INT64)
        if binary:
            b.add("Gather", [b.const(labels, np.int64), best], output=outs[0])
        elif rows == 1:
            hit = b.compare("GreaterOrEqual", b.with_axes("Squeeze", scores, [1], 13),
                            b.const(0.0 if post == "NONE" else 0.5, dtype))
            first = labels[0] if labels else 1
            b.add("Where", [hit, b.const(first, np.int64), b.const(0, np.int64)], output=outs[0])
        else:
            best = b.add("ArgMax", [scores], axis=1, keepdims=0)
            if len(labels) < rows:
                raise InvalidModelError(f"{b.where}: {len(labels)} class labels for {rows} rows of coefficients")
            b.add("Gather", [b.const(labels, np.int64), best], output=outs[0])
    if outs[1]:
        b.declare(outs[1], F32)
        _to_float(b, scores, dtype, outs[1])


def _feature_count(b) -> int:
    t = b.types().get(b.input(0))
    dims = t.tensor_type.shape.dim if t is not None else []
    if len(dims) != 2 or not dims[1].HasField("dim_value"):
        raise UnsupportedError(f"{b.where}: needs X's feature count (its second dimension), which shape inference "
                               f"does not give")
    return dims[1].dim_value


def scaler(b) -> None:
    """Y = (X - offset) * scale, per feature or one value for all."""
    x, dtype = _features(b, rows=False)
    offset, scale = b.const(b.attrs.get("offset", [0.0]), dtype), b.const(b.attrs.get("scale", [1.0]), dtype)
    _to_float(b, b.add("Mul", [b.add("Sub", [x, offset]), scale]), dtype, b.node.output[0])


def normalizer(b) -> None:
    """Each row (the last axis) divided by its max, L1 or L2 norm (a zero one
    leaves it as is)."""
    x, dtype = _features(b, rows=False)
    norm = b.text("norm", "MAX")
    if norm == "MAX":  # max(X), not of |X|: ONNX's formula, as ONNX Runtime (its reference takes |X|)
        size = b.with_axes("ReduceMax", x, [-1], 18, keepdims=1)
    elif norm == "L1":
        size = b.with_axes("ReduceSum", b.add("Abs", [x]), [-1], 13, keepdims=1)
    elif norm == "L2":
        size = b.add("Sqrt", [b.with_axes("ReduceSum", b.add("Mul", [x, x]), [-1], 13, keepdims=1)])
    else:
        raise InvalidModelError(f"{b.where}: norm {norm!r} is not MAX, L1 or L2")
    zero = b.add("Equal", [size, b.const(0, dtype)])  # "if the divisor is zero, Y == X"
    out = b.add("Where", [zero, x, b.add("Div", [x, size])])
    _to_float(b, out, dtype, b.node.output[0])


def imputer(b) -> None:
    """X with each value equal to the replaced one (NaN: each NaN) set to the
    imputed value of its column (or the one value for all)."""
    x = b.input(0)
    elem = b.elem_type(x)
    floats = elem in (TensorProto.FLOAT, TensorProto.DOUBLE)
    values = list(b.attrs.get("imputed_value_floats" if floats else "imputed_value_int64s", []))
    if not values:
        raise InvalidModelError(f"{b.where}: no imputed_value_{'floats' if floats else 'int64s'} for X of this type")
    dtype = {TensorProto.FLOAT: np.float32, TensorProto.DOUBLE: np.float64}.get(elem, np.int64)
    if not floats and elem != TensorProto.INT64:
        raise UnsupportedError(f"{b.where}: X must be float, double or int64")
    replaced = b.attrs.get("replaced_value_float" if floats else "replaced_value_int64", 0)
    if floats and np.isnan(replaced):
        missing = b.add("IsNaN", [x])
    else:
        missing = b.add("Equal", [x, b.const(replaced, dtype)])
    b.declare(b.node.output[0], elem, like=x)
    b.add("Where", [missing, b.const(values, dtype), x], output=b.node.output[0])


def one_hot_encoder(b) -> None:
    """(..., C) -> (..., C, categories) float: 1 where X equals the category.
    An unseen category gives a row of zeros (zeros=1); zeros=0 asks for an
    error on one, which standard ops cannot raise, so it is refused. String
    categories go through LabelEncoder (a kernel) to their index first: an
    Equal on strings is ONNX only from opset 19, LabelEncoder at any."""
    if int(b.attrs.get("zeros", 1)) == 0:
        raise UnsupportedError(f"{b.where}: zeros=0 (an error for an unseen category) is not supported")
    x = b.input(0)
    if "cats_strings" in b.attrs:
        cats = [c.decode() if isinstance(c, bytes) else c for c in b.attrs["cats_strings"]]
        if not cats:
            raise InvalidModelError(f"{b.where}: no cats_strings")
        ml = b.opsets.get(ML, 1)
        table = {"keys_strings": cats, "values_int64s": list(range(len(cats)))} if ml >= 2 else \
            {"classes_strings": cats}  # ai.onnx.ml 1: a string becomes its index
        index = b.add("LabelEncoder", [x], domain=ML, default_int64=-1, **table)
        hit = b.add("Equal", [b.with_axes("Unsqueeze", index, [-1], 13), b.const(list(range(len(cats))), np.int64)])
        b.declare(b.node.output[0], F32)
        b.add("Cast", [hit], output=b.node.output[0], to=F32)
        return
    cats = list(b.attrs.get("cats_int64s", []))
    if not cats:
        raise InvalidModelError(f"{b.where}: no cats_int64s")
    elem = b.elem_type(x)
    dtype = {TensorProto.FLOAT: np.float32, TensorProto.DOUBLE: np.float64, TensorProto.INT32: np.int32}.get(
        elem, np.int64)
    hit = b.add("Equal", [b.with_axes("Unsqueeze", x, [-1], 13), b.const(cats, dtype)])
    b.declare(b.node.output[0], F32)
    b.add("Cast", [hit], output=b.node.output[0], to=F32)


def feature_vectorizer(b) -> None:
    """Inputs (N, C_i) (or (C_i,), one sample), each cut or zero-padded to
    inputdimensions[i] columns, concatenated as float32."""
    b.require(11)  # Pad and Slice with inputs
    sizes = list(b.attrs.get("inputdimensions", []))
    inputs = [v for v in b.node.input]
    if len(sizes) != len(inputs) or not inputs or "" in inputs:
        raise InvalidModelError(f"{b.where}: {len(sizes)} inputdimensions for {len(inputs)} inputs")
    parts = []
    for given, size in zip(inputs, sizes):
        v = b.add("Cast", [given], to=F32)
        if b.rank(given) == 1:  # one sample of C features, as ONNX Runtime reads it (its reference: C samples)
            v = b.with_axes("Unsqueeze", v, [0], 13)
        grown = b.add("Pad", [v, b.const([0, 0, 0, size], np.int64)])  # then the first `size` columns
        parts.append(b.add("Slice", [grown, b.const([0], np.int64), b.const([size], np.int64),
                                     b.const([1], np.int64)]))
    b.declare(b.node.output[0], F32)
    b.add("Concat", parts, output=b.node.output[0], axis=1)


def _svm_kernel(b, x: str, vectors, dtype) -> str:
    """K(x, v) for every support vector v: (N, S). LINEAR x.v, POLY (gamma
    x.v + coef0)^degree, SIGMOID tanh(gamma x.v + coef0), RBF exp(-gamma
    |x - v|^2) (as |x|^2 - 2 x.v + |v|^2, never below 0)."""
    gamma, coef0, degree = (list(b.attrs.get("kernel_params", [])) + [0.0, 0.0, 0.0])[:3]
    kernel = b.text("kernel_type", "LINEAR")
    dots = b.add("MatMul", [x, b.const(vectors.T, dtype)])
    if kernel == "LINEAR":
        return dots
    if kernel in ("POLY", "SIGMOID"):
        k = b.add("Add", [b.add("Mul", [dots, b.const(gamma, dtype)]), b.const(coef0, dtype)])
        return b.add("Pow", [k, b.const(float(int(degree)), dtype)]) if kernel == "POLY" else b.add("Tanh", [k])
    if kernel == "RBF":
        norms = b.with_axes("ReduceSum", b.add("Mul", [x, x]), [1], 13, keepdims=1)
        far = b.add("Add", [b.add("Sub", [norms, b.add("Mul", [dots, b.const(2, dtype)])]),
                            b.const((vectors ** 2).sum(axis=1), dtype)])
        return b.add("Exp", [b.add("Mul", [b.add("Max", [far, b.const(0, dtype)]), b.const(-gamma, dtype)])])
    raise InvalidModelError(f"{b.where}: kernel_type {kernel!r} is not LINEAR, POLY, RBF or SIGMOID")


def svm_regressor(b) -> None:
    """score = sum_j coef_j K(x, sv_j) + rho (a linear model where
    n_supports is 0); one_class gives 1 where score > 0, else -1."""
    x, dtype = _features(b)
    a = b.attrs
    coef = np.asarray(b.attr("coefficients"), np.float64)
    rho = list(b.attr("rho"))
    supports = int(a.get("n_supports", 0))
    if supports:
        vectors = np.asarray(b.attr("support_vectors"), np.float64).reshape(supports, -1)
        if len(coef) != supports:
            raise InvalidModelError(f"{b.where}: {len(coef)} coefficients for {supports} support vectors")
        score = b.add("MatMul", [_svm_kernel(b, x, vectors, dtype), b.const(coef.reshape(-1, 1), dtype)])
    else:
        score = b.add("MatMul", [x, b.const(coef.reshape(-1, 1), dtype)])
    score = b.add("Add", [score, b.const(rho[:1], dtype)])
    if int(a.get("one_class", 0)):
        score = b.add("Where", [b.add("Greater", [score, b.const(0, dtype)]), b.const(1, dtype), b.const(-1, dtype)])
    _to_float(b, post_transform(b, score, b.text("post_transform", "NONE"), dtype), dtype, b.node.output[0])


def _svm_probabilities(b, decision: str, pairs: list) -> str:
    """libsvm's probability estimates (svm_predict_probability), as ONNX
    Runtime gives them, in float64: each pair's decision d through Platt's
    sigmoid r = 1 / (1 + exp(d A + B)), clipped to [1e-7, 1 - 1e-7], then
    coupled by libsvm's multiclass_probability -- two classes too, as ONNX
    Runtime does (libsvm itself gives (r, 1 - r) there, which the iteration
    reaches to within its tolerance): from p = 1/k, rounds of one Gauss-Seidel sweep
    over the classes, at most max(100, k), each sample stopping once every
    |(Q p)_t - p'Q p| < 0.005 / k -- a Loop in which a sample that has
    stopped takes steps of 0. (ONNX's reference evaluator fills each row of Q
    past its diagonal with one dot product, so it differs from libsvm and
    ONNX Runtime from 3 classes on.)"""
    f64, k, n_pairs = np.float64, max(j for _, j in pairs) + 1, len(pairs)
    prob_a, prob_b = np.asarray(b.attr("prob_a"), f64), np.asarray(b.attr("prob_b"), f64)
    if len(prob_a) != n_pairs or len(prob_b) != n_pairs:
        raise InvalidModelError(f"{b.where}: {len(prob_a)} prob_a and {len(prob_b)} prob_b for {n_pairs} class pairs")
    d = b.add("Cast", [decision], to=TensorProto.DOUBLE)
    r = b.add("Reciprocal", [b.add("Add", [b.const(1, f64), b.add("Exp", [b.add(
        "Add", [b.add("Mul", [d, b.const(prob_a, f64)]), b.const(prob_b, f64)])])])])
    r = b.add("Min", [b.add("Max", [r, b.const(1e-7, f64)]), b.const(1 - 1e-7, f64)])
    # R[i, j] = r of pair (i, j), R[j, i] = 1 - r, as (N, k, k); Q = diag(sum_j R[j, t]^2) - R * R^T.
    upper, lower = np.zeros((n_pairs, k * k)), np.zeros((n_pairs, k * k))
    for e, (i, j) in enumerate(pairs):
        upper[e, i * k + j], lower[e, j * k + i] = 1, 1
    flat = b.add("Add", [b.add("MatMul", [r, b.const(upper, f64)]),
                         b.add("MatMul", [b.add("Sub", [b.const(1, f64), r]), b.const(lower, f64)])])
    rr = b.add("Reshape", [flat, b.const([-1, k, k], I64)])
    diag = b.with_axes("ReduceSum", b.add("Mul", [rr, rr]), [1], 13, keepdims=0)  # (N, k): Q[t, t]
    q = b.add("Sub", [b.add("Mul", [b.with_axes("Unsqueeze", diag, [2], 13), b.const(np.eye(k), f64)]),
                      b.add("Mul", [rr, b.add("Transpose", [rr], perm=[0, 2, 1])])])
    batch = b.add("Gather", [b.add("Shape", [diag]), b.const([0], I64)], axis=0)
    p0 = b.add("Expand", [b.const(1 / k, f64), b.add("Shape", [diag])])
    done0 = b.add("Expand", [b.const(False, np.bool_), batch])
    # One round; body values are named under the node's prefix too.
    sub = type(b)(b.node, f"{b.name}/round", b.opset, b.types)
    io = {n: f"{sub.prefix}{n}" for n in ("i", "cond", "p", "done", "cond_out", "p_out", "done_out")}
    qp = sub.with_axes("Squeeze", sub.add("MatMul", [q, sub.with_axes("Unsqueeze", io["p"], [2], 13)]), [2], 13)
    pqp = sub.with_axes("ReduceSum", sub.add("Mul", [io["p"], qp]), [1], 13, keepdims=1)
    err = sub.with_axes("ReduceMax", sub.add("Abs", [sub.add("Sub", [qp, pqp])]), [1], 18, keepdims=0)
    done = sub.add("Or", [io["done"], sub.add("Less", [err, sub.const(0.005 / k, f64)])], output=io["done_out"])
    active, p = sub.with_axes("Unsqueeze", sub.add("Not", [done]), [1], 13), io["p"]
    for t in range(k):
        qp_t, q_tt = (sub.add("Gather", [v, sub.const([t], I64)], axis=1) for v in (qp, diag))
        diff = sub.add("Where", [active, sub.add("Div", [sub.add("Sub", [pqp, qp_t]), q_tt]), sub.const(0, f64)])
        grow = sub.add("Add", [sub.const(1, f64), diff])
        p = sub.add("Add", [p, sub.add("Mul", [diff, sub.const(np.eye(k)[t], f64)])])
        step = sub.add("Mul", [diff, sub.add("Add", [sub.add("Mul", [diff, q_tt]), sub.add("Mul", [sub.const(2, f64),
                                                                                                   qp_t])])])
        pqp = sub.add("Div", [sub.add("Div", [sub.add("Add", [pqp, step]), grow]), grow])
        row = sub.with_axes("Squeeze", sub.add("Gather", [q, sub.const([t], I64)], axis=1), [1], 13)
        qp = sub.add("Div", [sub.add("Add", [qp, sub.add("Mul", [diff, row])]), grow])
        p = sub.add("Div", [p, grow], output=io["p_out"] if t == k - 1 else None)
    left = sub.with_axes("ReduceSum", sub.add("Cast", [active], to=TensorProto.INT64), [0, 1], 13, keepdims=0)
    sub.add("Greater", [left, sub.const(0, I64)], output=io["cond_out"])
    scalar = helper.make_tensor_value_info
    body = helper.make_graph(sub.nodes, f"{b.name}/coupling",
                             [scalar(io["i"], TensorProto.INT64, []), scalar(io["cond"], TensorProto.BOOL, []),
                              scalar(io["p"], TensorProto.DOUBLE, None), scalar(io["done"], TensorProto.BOOL, None)],
                             [scalar(io["cond_out"], TensorProto.BOOL, []), scalar(io["p_out"], TensorProto.DOUBLE, None),
                              scalar(io["done_out"], TensorProto.BOOL, None)])
    probs = f"{b.prefix}probabilities"
    b.nodes.append(helper.make_node("Loop", [b.const(max(100, k), I64), "", p0, done0], [probs, f"{b.prefix}stopped"],
                                    name=f"{b.prefix}coupling", body=body))
    return probs


def svm_classifier(b) -> None:
    """libsvm's one-against-one SVC: for each class
    pair (i, j), i < j, the decision rho_e + sum over i's vectors of
    coef[j-1, v] K(x, v) + sum over j's of coef[i, v] K(x, v), one column of
    a constant (vectors, pairs) matrix; i gets the vote where it is > 0, else
    j; the label is the class with most votes (the first on a tie). Two
    classes: label 0 where the decision is > 0, as ONNX Runtime (ONNX's
    reference gives label 1 whenever every coefficient is >= 0), scores
    (-d, d) post-transformed. More classes: the pairs' decisions."""
    a = b.attrs
    if "classlabels_strings" in a:
        raise UnsupportedError(f"{b.where}: string class labels need string tensors, which pyfw lacks")
    per_class = [int(v) for v in a.get("vectors_per_class", [])]
    if not per_class or sum(per_class) == 0:
        raise UnsupportedError(f"{b.where}: the linear form (no support vectors) is not supported")
    labels = list(b.attr("classlabels_ints"))
    classes, total = len(labels), sum(per_class)
    coef = np.asarray(b.attr("coefficients"), np.float64).reshape(-1, total)
    rho = list(b.attr("rho"))
    pairs = [(i, j) for i in range(classes) for j in range(i + 1, classes)]
    if len(per_class) != classes or len(coef) != classes - 1 or len(rho) != len(pairs):
        raise InvalidModelError(f"{b.where}: {len(per_class)} vectors_per_class, {len(coef)} coefficient rows and "
                                f"{len(rho)} rho for {classes} classes")
    start = np.concatenate([[0], np.cumsum(per_class)])
    weights = np.zeros((total, len(pairs)))
    wins, losses = np.zeros((len(pairs), classes)), np.zeros((len(pairs), classes))
    for e, (i, j) in enumerate(pairs):
        weights[start[i]:start[i + 1], e] = coef[j - 1, start[i]:start[i + 1]]
        weights[start[j]:start[j + 1], e] = coef[i, start[j]:start[j + 1]]
        wins[e, i], losses[e, j] = 1, 1
    x, dtype = _features(b)
    vectors = np.asarray(b.attr("support_vectors"), np.float64).reshape(total, -1)
    decision = b.add("Add", [b.add("MatMul", [_svm_kernel(b, x, vectors, dtype), b.const(weights, dtype)]),
                             b.const(rho, dtype)])  # (N, pairs)
    first = b.add("Cast", [b.add("Greater", [decision, b.const(0, dtype)])], to=F32)
    votes = b.add("Add", [b.add("MatMul", [first, b.const(wins, np.float32)]),
                          b.add("MatMul", [b.add("Sub", [b.const(1, np.float32), first]), b.const(losses, np.float32)])])
    best = b.add("ArgMax", [votes], axis=1, keepdims=0)
    post = b.text("post_transform", "NONE")
    if a.get("prob_a"):
        scores = b.add("Cast", [_svm_probabilities(b, decision, pairs)], to=helper.np_dtype_to_tensor_dtype(
            np.dtype(dtype)))
    elif classes == 2:
        scores = b.add("Concat", [b.add("Neg", [decision]), decision], axis=1)
        if post == "PROBIT":
            raise UnsupportedError(f"{b.where}: post_transform PROBIT of a binary SVM is not supported")
    else:
        scores = decision
    scores = post_transform(b, scores, post, dtype)
    outs = list(b.node.output) + [""]
    if outs[0]:
        b.declare(outs[0], TensorProto.INT64)
        b.add("Gather", [b.const(labels, np.int64), best], output=outs[0])
    if outs[1]:
        _to_float(b, scores, dtype, outs[1])
