"""Rules (see decompose.py) for ops of ONNX's other domains that are
arithmetic on tensors: the optimizer updates of ai.onnx.preview.training
(Adagrad, Momentum, Adam), the element-wise ai.onnx.ml ops (Binarizer,
ArrayFeatureExtractor) and TfIdfVectorizer over integer n-grams. Each follows ONNX's reference implementation,
including where it computes in float64 before rounding to X's type."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from .. import InvalidModelError, UnsupportedError

I64 = np.int64

F64 = TensorProto.DOUBLE


def _groups(b, per_x: int) -> tuple[list[list[str]], list[str]]:
    """Inputs 2.. split into per_x + 1 equal groups (X, G, state...), and the
    outputs padded with "" for those left out."""
    rest = list(b.node.input[2:])
    n, extra = divmod(len(rest), per_x + 1)
    if extra or n == 0:
        raise InvalidModelError(f"{b.where}: expects R, T and {per_x + 1} equal groups of "
                         f"tensors, got {len(rest)} tensors after R and T")
    groups = [rest[k * n:(k + 1) * n] for k in range(per_x + 1)]
    outs = list(b.node.output) + [""] * (per_x * n - len(b.node.output))
    return groups, outs


def _in_x_type(b, v: str, x: str) -> str:
    elem = b.elem_type(x)
    return v if b.elem_type(v) == elem else b.add("Cast", [v], to=elem)


def _regularized(b, x: str, g: str, dtype) -> str:
    norm = float(b.attrs.get("norm_coefficient", 0.0))
    return b.add("Add", [b.add("Mul", [b.const(norm, dtype), x]), g])


def _adagrad(b) -> None:
    """r = R / (1 + T * decay_factor); G' = norm_coefficient * X + G;
    H_new = H + G'^2; X_new = X - r * G' / (sqrt(H_new) + epsilon)."""
    (xs, gs, hs), outs = _groups(b, 2)
    n = len(xs)
    decay, eps = float(b.attrs.get("decay_factor", 0.0)), float(b.attrs.get("epsilon", 1e-6))
    t = b.add("Cast", [b.input(1)], to=F64)
    r = b.add("Div", [b.add("Cast", [b.input(0)], to=F64),
                      b.add("Add", [b.const(1.0, np.float64), b.add("Mul", [t, b.const(decay, np.float64)])])])
    for k, (x, g, h) in enumerate(zip(xs, gs, hs)):
        dtype = helper.tensor_dtype_to_np_dtype(b.elem_type(x))
        g_reg = _regularized(b, x, g, dtype)
        h_new = b.add("Add", [h, b.add("Mul", [g_reg, g_reg])], output=outs[n + k] or None)
        h_sqrt = b.add("Add", [b.add("Sqrt", [h_new]), b.const(eps, dtype)])
        step = b.add("Div", [b.add("Mul", [r, b.add("Cast", [g_reg], to=F64)]), b.add("Cast", [h_sqrt], to=F64)])
        x_new = b.add("Sub", [b.add("Cast", [x], to=F64), step])
        if outs[k]:
            b.add("Cast", [x_new], output=outs[k], to=b.elem_type(x))


def _momentum(b) -> None:
    """G' = norm_coefficient * X + G; V_new = alpha * V + beta' * G' (beta' is
    1 at T = 0); X_new = X - R * V_new, or with mode "nesterov"
    X - R * (G' + alpha * V_new)."""
    (xs, gs, vs), outs = _groups(b, 2)
    n = len(xs)
    alpha, beta = float(b.attr("alpha")), float(b.attr("beta"))
    mode = b.text("mode", "standard")
    if mode not in ("standard", "nesterov"):
        raise InvalidModelError(f"{b.where}: mode {mode!r} is neither 'standard' nor 'nesterov'")
    first = b.add("Greater", [b.input(1), b.const(0, np.int64)])
    for k, (x, g, v) in enumerate(zip(xs, gs, vs)):
        dtype = helper.tensor_dtype_to_np_dtype(b.elem_type(x))
        g_reg = _regularized(b, x, g, dtype)
        beta_t = b.add("Where", [first, b.const(beta, dtype), b.const(1.0, dtype)])
        v_new = b.add("Add", [b.add("Mul", [b.const(alpha, dtype), v]), b.add("Mul", [beta_t, g_reg])],
                      output=outs[n + k] or None)
        if mode == "nesterov":
            move = b.add("Add", [g_reg, b.add("Mul", [b.const(alpha, dtype), v_new])])
        else:
            move = v_new
        r = _in_x_type(b, b.input(0), x)
        b.add("Sub", [x, b.add("Mul", [r, move])], output=outs[k] or None)


def _adam(b) -> None:
    """G' = norm_coefficient * X + G; V_new = alpha V + (1 - alpha) G';
    H_new = beta H + (1 - beta) G'^2; at T > 0 the rate is
    R * sqrt(1 - beta^T) / (1 - alpha^T); X_new = (1 - norm_coefficient_post)
    * (X - rate * V_new / (sqrt(H_new) + epsilon))."""
    (xs, gs, vs, hs), outs = _groups(b, 3)
    n = len(xs)
    alpha, beta = float(b.attrs.get("alpha", 0.9)), float(b.attrs.get("beta", 0.999))
    eps, post = float(b.attrs.get("epsilon", 1e-6)), float(b.attrs.get("norm_coefficient_post", 0.0))
    r = b.add("Cast", [b.input(0)], to=F64)
    t = b.add("Cast", [b.input(1)], to=F64)
    one = b.const(1.0, np.float64)
    corrected = b.add("Div", [b.add("Mul", [r, b.add("Sqrt", [b.add("Sub", [one, b.add("Pow", [
        b.const(beta, np.float64), t])])])]), b.add("Sub", [one, b.add("Pow", [b.const(alpha, np.float64), t])])])
    rate = b.add("Where", [b.add("Greater", [b.input(1), b.const(0, np.int64)]), corrected, r])
    for k, (x, g, v, h) in enumerate(zip(xs, gs, vs, hs)):
        dtype = helper.tensor_dtype_to_np_dtype(b.elem_type(x))
        g_reg = _regularized(b, x, g, dtype)
        v_new = b.add("Add", [b.add("Mul", [b.const(alpha, dtype), v]), b.add("Mul", [b.const(1 - alpha, dtype), g_reg])],
                      output=outs[n + k] or None)
        h_new = b.add("Add", [b.add("Mul", [b.const(beta, dtype), h]),
                              b.add("Mul", [b.const(1 - beta, dtype), b.add("Mul", [g_reg, g_reg])])],
                      output=outs[2 * n + k] or None)
        ratio = b.add("Div", [v_new, b.add("Add", [b.add("Sqrt", [h_new]), b.const(eps, dtype)])])
        x_new = b.add("Sub", [b.add("Cast", [x], to=F64), b.add("Mul", [rate, b.add("Cast", [ratio], to=F64)])])
        if outs[k]:
            b.add("Cast", [b.add("Mul", [b.const(1 - post, np.float64), x_new])], output=outs[k], to=b.elem_type(x))


def _binarizer(b) -> None:
    """Y = 1 where X > threshold, else 0, in X's type."""
    x = b.input(0)
    elem = b.elem_type(x)
    b.declare(b.node.output[0], elem, like=x)
    threshold = float(b.attrs.get("threshold", 0.0))
    if elem not in (TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16):  # an integer X against a real
        above = b.add("Greater", [b.add("Cast", [x], to=TensorProto.DOUBLE), b.const(threshold, np.float64)])
    else:
        above = b.add("Greater", [x, b.const(threshold, helper.tensor_dtype_to_np_dtype(elem))])
    b.add("Cast", [above], output=b.node.output[0], to=elem)


def _array_feature_extractor(b) -> None:
    """X[..., I] with I flattened; a 1-D X gives one row (as ONNX Runtime)."""
    x, indices = b.input(0), b.input(1)
    b.declare(b.node.output[0], b.elem_type(x))
    picked = b.add("Gather", [x, b.add("Reshape", [indices, b.const([-1], np.int64)])], axis=-1)
    if b.rank(x) == 1:
        b.add("Reshape", [picked, b.const([1, -1], np.int64)], output=b.node.output[0])
    else:
        b.add("Identity", [picked], output=b.node.output[0])


def _tfidf_vectorizer(b) -> None:
    """TfIdfVectorizer over integer n-grams: for each n-gram length n and
    each skip distance d (1 for unigrams, 1..max_skip_count + 1 otherwise),
    the windows X[i], X[i + d], ..., X[i + (n - 1) d] compared with every pool
    n-gram of that length and counted; the counts land in the output columns
    that ngram_indexes give (one constant matrix), then TF / IDF / TFIDF."""
    a = b.attrs
    if "pool_strings" in a:
        raise UnsupportedError(f"{b.where}: a pool of strings needs string tensors, which pyfw lacks")
    pool, starts = list(a.get("pool_int64s", [])), list(b.attr("ngram_counts"))
    columns = list(b.attr("ngram_indexes"))
    low, high = int(b.attr("min_gram_length")), int(b.attr("max_gram_length"))
    skips, mode = int(b.attr("max_skip_count")), b.text("mode", "")
    weights = list(a.get("weights", []))
    bounds = starts + [len(pool)]
    if any(bounds[k + 1] < bounds[k] or (bounds[k + 1] - bounds[k]) % (k + 1) for k in range(len(starts))):
        raise InvalidModelError(f"{b.where}: ngram_counts {starts} do not cut the pool of {len(pool)} into whole "
                                f"n-grams")
    grams = [np.asarray(pool[bounds[k]:bounds[k + 1]], np.int64).reshape(-1, k + 1) for k in range(len(starts))]
    if sum(len(g) for g in grams) != len(columns) or not columns or min(columns) < 0:
        raise InvalidModelError(f"{b.where}: {len(columns)} ngram_indexes (all >= 0) for "
                                f"{sum(len(g) for g in grams)} n-grams in the pool")
    if mode not in ("TF", "IDF", "TFIDF") or (weights and len(weights) != len(columns)):
        raise InvalidModelError(f"{b.where}: mode {mode!r} (TF, IDF or TFIDF) with {len(weights)} weights for "
                                f"{len(columns)} n-grams")
    x = b.input(0)
    rank = b.rank(x)
    rows = b.add("Cast", [x if rank == 2 else b.with_axes("Unsqueeze", x, [0], 13)], to=TensorProto.INT64)
    # Slice takes its bounds as inputs from opset 10; before, they must be known here.
    known = b.dims(x)[-1:] if b.opset < 10 else [0]
    if known == [None] or not known:
        raise UnsupportedError(f"{b.where}: before opset 10 the rows' length must be known (Slice takes constant "
                               f"bounds)")
    width = b.add("Gather", [b.add("Shape", [rows]), b.const([1], I64)])

    def window(start, cut):  # X[:, start : C - cut]
        if b.opset < 10:
            return b.add("Slice", [rows], starts=[start], ends=[known[0] - cut], axes=[1])
        end = b.add("Sub", [width, b.const([cut], I64)])
        return b.add("Slice", [rows, b.const([start], I64), end, b.const([1], I64)])

    zero_row = None  # (rows, 1) zeros, made only for a pool length no window counts
    counts = []
    for n, pool_n in enumerate(grams, start=1):
        if not low <= n <= high:  # counted by no window: zero columns
            if zero_row is None:
                zero_row = b.with_axes("ReduceSum", b.add("Mul", [b.add("Cast", [rows], to=TensorProto.FLOAT),
                                                                  b.const(0, np.float32)]), [1], 13, keepdims=1)
            counts.append(b.add("Mul", [zero_row, b.const(np.zeros(len(pool_n), np.float32), np.float32)]))
            continue
        total = None
        for d in ([1] if n == 1 else range(1, skips + 2)):
            hits = None
            for j in range(n):  # X[:, j*d : C - (n-1-j)*d] against the pool's j-th items
                part = window(j * d, (n - 1 - j) * d)
                eq = b.add("Equal", [b.with_axes("Unsqueeze", part, [2], 13), b.const(pool_n[:, j], I64)])
                hits = eq if hits is None else b.add("And", [hits, eq])
            found = b.with_axes("ReduceSum", b.add("Cast", [hits], to=TensorProto.FLOAT), [1], 13, keepdims=0)
            total = found if total is None else b.add("Add", [total, found])
        counts.append(total)
    counts = counts[0] if len(counts) == 1 else b.add("Concat", counts, axis=1)  # (rows, pool n-grams)
    if mode == "IDF":
        counts = b.add("Cast", [b.add("Greater", [counts, b.const(0, np.float32)])], to=TensorProto.FLOAT)
    # The i-th weight is the i-th pool n-gram's, as the spec and ONNX Runtime read it (ONNX's reference
    # takes it by output column); the counts then go to their columns.
    place = np.zeros((len(columns), max(columns) + 1), np.float32)
    place[np.arange(len(columns)), columns] = weights if mode != "TF" and weights else 1
    y = b.add("MatMul", [counts, b.const(place, np.float32)])
    if rank != 2:
        y = b.add("Reshape", [y, b.const([-1], I64)])
    b.add("Identity", [y], output=b.node.output[0])


TRAINING, ML = "ai.onnx.preview.training", "ai.onnx.ml"
RULES = {(TRAINING, "Adagrad"): _adagrad, (TRAINING, "Momentum"): _momentum, (TRAINING, "Adam"): _adam,
         (ML, "Binarizer"): _binarizer, (ML, "ArrayFeatureExtractor"): _array_feature_extractor,
         ("", "TfIdfVectorizer"): _tfidf_vectorizer}
