"""ai.onnx.ml tree ensembles (TreeEnsemble-5 and TreeEnsembleRegressor),
which pyfw imports as a level-by-level walk in standard ops
(pyfw/onnx/decompose_trees.py): random forests of every comparison mode,
missing values, set membership, several targets and aggregations, against
ONNX Runtime and ONNX's reference evaluator; the same forest in both forms
gives the same scores; malformed trees are refused by name."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

import pyfw.onnx
from onnx_util import ort_run, pfw_run, to_pfw, value_info
from pyfw import InvalidModelError

ML = "ai.onnx.ml"
f32 = np.float32
CLASSIC = ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ"]


def random_forest(rng, n_trees, n_features, n_targets, max_depth, modes):
    """Trees as nested dicts: a branch has feature/split/mode/missing/true/false,
    a leaf has (target, weight) pairs (TreeEnsemble-5 leaves hold one pair)."""
    def grow(depth):
        if depth == max_depth or (depth > 0 and rng.random() < 0.25):
            return {"leaf": [(int(rng.integers(n_targets)), float(np.float32(rng.normal())))]}
        mode = int(rng.choice(modes))
        split = float(np.float32(np.round(rng.normal(), 1)))
        return {"feature": int(rng.integers(n_features)), "split": split, "mode": mode,
                "missing": int(rng.random() < 0.3), "true": grow(depth + 1), "false": grow(depth + 1)}
    return [grow(0) for _ in range(n_trees)]


def ensemble5(forest, n_targets, aggregate=1, post=0, members=None):
    """TreeEnsemble-5 attributes: branches in preorder, leaves apart."""
    nodes, leaves, roots = [], [], []

    def place(t):
        if "leaf" in t:
            leaves.append(t["leaf"][0])
            return len(leaves) - 1, 1
        k = len(nodes)
        nodes.append(t)
        t["true_ref"], t["false_ref"] = place(t["true"]), place(t["false"])
        return k, 0

    for t in forest:
        roots.append(place(t)[0])
    membership = []
    for t in nodes:
        if t["mode"] == 6:
            membership += members[len(membership) % len(members)] + [np.nan]
    attrs = dict(
        n_targets=n_targets, aggregate_function=aggregate, post_transform=post, tree_roots=roots,
        nodes_featureids=[t["feature"] for t in nodes],
        nodes_splits=numpy_helper.from_array(np.array([t["split"] for t in nodes], f32)),
        nodes_modes=numpy_helper.from_array(np.array([t["mode"] for t in nodes], np.uint8)),
        nodes_truenodeids=[t["true_ref"][0] for t in nodes], nodes_trueleafs=[t["true_ref"][1] for t in nodes],
        nodes_falsenodeids=[t["false_ref"][0] for t in nodes], nodes_falseleafs=[t["false_ref"][1] for t in nodes],
        nodes_missing_value_tracks_true=[t["missing"] for t in nodes],
        leaf_targetids=[t for t, _ in leaves],
        leaf_weights=numpy_helper.from_array(np.array([w for _, w in leaves], f32)))
    if membership:
        attrs["membership_values"] = numpy_helper.from_array(np.array(membership, f32))
    return attrs


def classic(forest, n_targets, aggregate="SUM", post="NONE", base=None):
    """TreeEnsembleRegressor attributes: nodes named (tree id, node id)."""
    cols = {k: [] for k in ("nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values", "nodes_modes",
                            "nodes_truenodeids", "nodes_falsenodeids", "nodes_missing_value_tracks_true",
                            "target_treeids", "target_nodeids", "target_ids", "target_weights")}
    for tree_id, tree in enumerate(forest):
        count = [0]

        def place(t):
            k = count[0]
            count[0] += 1
            row = dict(nodes_treeids=tree_id, nodes_nodeids=k, nodes_featureids=t.get("feature", 0),
                       nodes_values=t.get("split", 0.0), nodes_missing_value_tracks_true=t.get("missing", 0))
            if "leaf" in t:
                row.update(nodes_modes="LEAF", nodes_truenodeids=0, nodes_falsenodeids=0)
                for target, w in t["leaf"]:
                    for key, v in zip(("target_treeids", "target_nodeids", "target_ids", "target_weights"),
                                      (tree_id, k, target, w)):
                        cols[key].append(v)
            else:
                row.update(nodes_modes=CLASSIC[t["mode"]], nodes_truenodeids=0, nodes_falsenodeids=0)
            at = len(cols["nodes_nodeids"])
            for key, v in row.items():
                cols[key].append(v)
            if "leaf" not in t:
                cols["nodes_truenodeids"][at] = place(t["true"])
                cols["nodes_falsenodeids"][at] = place(t["false"])
            return k

        place(tree)
    attrs = dict(cols, n_targets=n_targets, aggregate_function=aggregate, post_transform=post)
    if base is not None:
        attrs["base_values"] = base
    return attrs


def model(op, version, x, n_targets, attrs):
    node = helper.make_node(op, ["X"], ["Y"], domain=ML, **attrs)
    out_type = f32 if op == "TreeEnsembleRegressor" else x.dtype
    graph = helper.make_graph([node], "g", [value_info("X", x.dtype, ["N", x.shape[1]])],
                              [value_info("Y", out_type, ["N", n_targets])])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid(ML, version), helper.make_opsetid("", 17)])
    m.ir_version = 10
    onnx.checker.check_model(m)
    return m


def features(rng, n, n_features, nan=True):
    x = np.round(rng.normal(size=(n, n_features)), 1).astype(f32)  # splits sit on the same 0.1 grid: ties
    if nan:
        x[rng.random(x.shape) < 0.1] = np.nan
    return x


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("aggregate", [0, 1, 2, 3])
def test_tree_ensemble_matches_the_reference_and_onnx_runtime(seed, aggregate):
    rng = np.random.default_rng(seed)
    n_targets = 1 + seed % 3
    forest = random_forest(rng, 1 + seed, 4, n_targets, 2 + seed, modes=[0, 1, 2, 3, 4, 5])
    x = features(rng, 33, 4)
    m = model("TreeEnsemble", 5, x, n_targets, ensemble5(forest, n_targets, aggregate))
    got = pfw_run(to_pfw(m), {"X": x})[0]
    want = ReferenceEvaluator(m).run(None, {"X": x})[0]
    # A target no reached leaf scores: ONNX's reference leaves MIN/MAX's start (the largest float), ONNX Runtime 0.
    want = np.where(np.abs(want) == np.finfo(f32).max, 0, want)
    assert got.shape == (33, n_targets) and got.dtype == f32
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got, ort_run(m, {"X": x})[0], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("post", [0, 3])
def test_tree_ensemble_matches_onnx_runtime(post):
    rng = np.random.default_rng(10 + post)
    forest = random_forest(rng, 6, 5, 3, 5, modes=[0, 1, 2, 3])
    x = features(rng, 40, 5, nan=False)
    m = model("TreeEnsemble", 5, x, 3, ensemble5(forest, 3, 1, post))
    got = pfw_run(to_pfw(m), {"X": x})[0]
    np.testing.assert_allclose(got, ort_run(m, {"X": x})[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("post", [1, 2])
def test_tree_ensemble_softmax_and_logistic(post):
    """SOFTMAX is 1 and LOGISTIC 2 in ONNX's TreeEnsemble-5 (ONNX Runtime 1.32
    applies them the other way round; ONNX's reference skips post_transform):
    the transform of the reference's raw scores."""
    rng = np.random.default_rng(10 + post)
    forest = random_forest(rng, 6, 5, 3, 5, modes=[0, 1, 2, 3])
    x = features(rng, 40, 5, nan=False)
    raw = ReferenceEvaluator(model("TreeEnsemble", 5, x, 3, ensemble5(forest, 3, 1, 0))).run(None, {"X": x})[0]
    got = pfw_run(to_pfw(model("TreeEnsemble", 5, x, 3, ensemble5(forest, 3, 1, post))), {"X": x})[0]
    raw = raw.astype(np.float64)
    if post == 1:
        e = np.exp(raw - raw.max(axis=1, keepdims=True))
        want = e / e.sum(axis=1, keepdims=True)
    else:
        want = 1 / (1 + np.exp(-raw))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_tree_ensemble_set_membership_and_missing_values():
    rng = np.random.default_rng(7)
    forest = random_forest(rng, 3, 3, 2, 4, modes=[6, 6, 0])
    x = features(rng, 50, 3)
    members = [[0.1, 0.5, -0.3], [1.2], [0.0, -1.0, 2.0, 0.7]]
    m = model("TreeEnsemble", 5, x, 2, ensemble5(forest, 2, 1, members=members))
    got = pfw_run(to_pfw(m), {"X": x})[0]
    np.testing.assert_allclose(got, ReferenceEvaluator(m).run(None, {"X": x})[0], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("aggregate, post, base", [("SUM", "NONE", None), ("AVERAGE", "NONE", [0.5, -1.0]),
                                                   ("MIN", "NONE", None), ("MAX", "LOGISTIC", [0.1, 0.2]),
                                                   ("SUM", "SOFTMAX", None)])
def test_tree_ensemble_regressor_matches_onnx_runtime(aggregate, post, base):
    rng = np.random.default_rng(20)
    forest = random_forest(rng, 5, 4, 2, 5, modes=[0, 1, 2, 3, 4, 5])
    for t in forest:  # a classic leaf may carry a value for every target
        stack = [t]
        while stack:
            n = stack.pop()
            if "leaf" in n:  # another target, and the first one again (the two add up)
                n["leaf"].append(((n["leaf"][0][0] + 1) % 2, float(np.float32(rng.normal()))))
                n["leaf"].append((n["leaf"][0][0], float(np.float32(rng.normal()))))
            else:
                stack += [n["true"], n["false"]]
    x = features(rng, 37, 4)
    m = model("TreeEnsembleRegressor", 3, x, 2, classic(forest, 2, aggregate, post, base))
    got = pfw_run(to_pfw(m), {"X": x})[0]
    np.testing.assert_allclose(got, ort_run(m, {"X": x})[0], rtol=1e-5, atol=1e-6)


def test_the_same_forest_in_both_forms():
    rng = np.random.default_rng(30)
    forest = random_forest(rng, 4, 3, 2, 6, modes=[0, 1, 2, 3])
    x = features(rng, 60, 3)
    new = pfw_run(to_pfw(model("TreeEnsemble", 5, x, 2, ensemble5(forest, 2))), {"X": x})[0]
    old = pfw_run(to_pfw(model("TreeEnsembleRegressor", 1, x, 2, classic(forest, 2))), {"X": x})[0]
    np.testing.assert_allclose(new, old, rtol=1e-6, atol=1e-6)


def test_int64_features_compare_as_float():
    rng = np.random.default_rng(40)
    forest = random_forest(rng, 3, 3, 1, 3, modes=[0, 3])
    x = rng.integers(-2, 3, (25, 3)).astype(np.int64)
    attrs = classic(forest, 1)
    got = pfw_run(to_pfw(model("TreeEnsembleRegressor", 3, x, 1, attrs)), {"X": x})[0]
    xf = x.astype(f32)  # ONNX Runtime runs float X only: the same values as float32
    np.testing.assert_allclose(got, ort_run(model("TreeEnsembleRegressor", 3, xf, 1, attrs), {"X": xf})[0], rtol=1e-6)


def test_malformed_trees_are_refused_by_name():
    rng = np.random.default_rng(50)
    forest = random_forest(rng, 2, 3, 1, 3, modes=[0])
    x = features(rng, 4, 3)
    attrs = ensemble5(forest, 1)
    attrs["nodes_truenodeids"] = [99] + attrs["nodes_truenodeids"][1:]
    attrs["nodes_trueleafs"] = [0] + attrs["nodes_trueleafs"][1:]
    with pytest.raises(InvalidModelError, match=r"\(TreeEnsemble\): node 0 names child 99, out of range"):
        pyfw.onnx.import_model(model("TreeEnsemble", 5, x, 1, attrs))
    attrs = ensemble5(forest, 1)
    attrs["nodes_truenodeids"], attrs["nodes_trueleafs"] = [0] * len(attrs["nodes_truenodeids"]), \
        [0] * len(attrs["nodes_trueleafs"])  # every node's true child is node 0
    with pytest.raises(InvalidModelError, match="has a cycle"):
        pyfw.onnx.import_model(model("TreeEnsemble", 5, x, 1, attrs))
    attrs = classic(forest, 1)
    attrs["nodes_modes"] = ["BRANCH_XX" if m != "LEAF" else m for m in attrs["nodes_modes"]]
    with pytest.raises(InvalidModelError, match="mode 'BRANCH_XX'"):
        pyfw.onnx.import_model(model("TreeEnsembleRegressor", 3, x, 1, attrs))


def test_a_tree_that_is_one_leaf():
    """A root whose true and false sides are the same leaf is that leaf (here
    the second tree's, leaf 2, so not the root's own index)."""
    x = np.array([[0.5, -1.0], [2.0, 0.0], [-0.2, 3.0]], f32)
    attrs = dict(n_targets=1, aggregate_function=1, post_transform=0, tree_roots=[0, 1],
                 nodes_featureids=[0, 0], nodes_splits=numpy_helper.from_array(np.array([1.0, 0.0], f32)),
                 nodes_modes=numpy_helper.from_array(np.array([0, 0], np.uint8)),
                 nodes_truenodeids=[0, 2], nodes_trueleafs=[1, 1], nodes_falsenodeids=[1, 2], nodes_falseleafs=[1, 1],
                 leaf_targetids=[0, 0, 0], leaf_weights=numpy_helper.from_array(np.array([1.0, 10.0, 100.0], f32)))
    m = model("TreeEnsemble", 5, x, 1, attrs)
    got = pfw_run(to_pfw(m), {"X": x})[0]
    np.testing.assert_array_equal(got, ort_run(m, {"X": x})[0])
    np.testing.assert_array_equal(got[:, 0], np.where(x[:, 0] <= 1.0, 1.0, 10.0) + 100.0)


def classifier(forest, labels, post="NONE", base=None, class_id=None):
    """TreeEnsembleClassifier attributes from a forest whose leaves hold
    (class, weight) pairs; class_id puts every weight on that one class."""
    attrs = classic(forest, len(labels), post=post, base=base)
    for key in ("treeids", "nodeids", "ids", "weights"):
        attrs[f"class_{key}"] = attrs.pop(f"target_{key}")
    if class_id is not None:
        attrs["class_ids"] = [class_id] * len(attrs["class_ids"])
    for key in ("n_targets", "aggregate_function"):
        attrs.pop(key)
    attrs["classlabels_int64s"] = labels
    return attrs


def classifier_model(x, attrs, n_scores):
    node = helper.make_node("TreeEnsembleClassifier", ["X"], ["label", "scores"], domain=ML, **attrs)
    graph = helper.make_graph([node], "g", [value_info("X", x.dtype, ["N", x.shape[1]])],
                              [value_info("label", np.int64, ["N"]), value_info("scores", f32, ["N", n_scores])])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid(ML, 3), helper.make_opsetid("", 17)])
    m.ir_version = 10
    onnx.checker.check_model(m)
    return m


def positive_weights(forest, rng):
    for t in forest:
        stack = [t]
        while stack:
            n = stack.pop()
            if "leaf" in n:
                n["leaf"] = [(c, float(np.float32(rng.uniform(0.01, 1)))) for c, _ in n["leaf"]]
            else:
                stack += [n["true"], n["false"]]
    return forest


@pytest.mark.parametrize("post, base", [("NONE", None), ("SOFTMAX", [0.1, -0.2, 0.3]), ("LOGISTIC", None),
                                        ("SOFTMAX_ZERO", None)])
def test_tree_ensemble_classifier_multiclass_matches_onnx_runtime(post, base):
    rng = np.random.default_rng(60)
    forest = positive_weights(random_forest(rng, 5, 4, 3, 5, modes=[0, 1, 2, 3]), rng)
    x = features(rng, 45, 4)
    m = classifier_model(x, classifier(forest, [10, 20, 30], post, base), 3)
    got, want = pfw_run(to_pfw(m), {"X": x}), ort_run(m, {"X": x})
    np.testing.assert_allclose(got[1], want[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got[0], want[0])


@pytest.mark.parametrize("class_id, positive, post, base", [
    (0, True, "NONE", None),       # a random forest's probability of class 1
    (1, True, "NONE", None),
    (0, False, "NONE", None),
    (0, False, "LOGISTIC", [0.3]),  # gradient boosting: log-odds, an initial value
    (0, True, "LOGISTIC", None),
])
def test_tree_ensemble_classifier_binary_matches_onnx_runtime(class_id, positive, post, base):
    rng = np.random.default_rng(70 + class_id)
    forest = random_forest(rng, 4, 3, 1, 4, modes=[0, 1, 3])
    if positive:
        positive_weights(forest, rng)
    x = features(rng, 50, 3)
    m = classifier_model(x, classifier(forest, [0, 1], post, base, class_id), 2)
    got, want = pfw_run(to_pfw(m), {"X": x}), ort_run(m, {"X": x})
    np.testing.assert_allclose(got[1], want[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got[0], want[0])


def test_float64_features_compare_in_float64():
    """0.50000001 is above a 0.5 split in float64 but not once rounded to float32."""
    x = np.array([[0.50000001], [0.25]], np.float64)
    forest = [{"feature": 0, "split": 0.5, "mode": 0, "missing": 0, "true": {"leaf": [(0, 1.0)]},
               "false": {"leaf": [(0, 2.0)]}}]
    m = model("TreeEnsembleRegressor", 3, x, 1, classic(forest, 1))
    got = pfw_run(to_pfw(m), {"X": x})[0]
    np.testing.assert_array_equal(got, ort_run(m, {"X": x})[0])
    np.testing.assert_array_equal(got, [[2.0], [1.0]])


def test_trees_at_default_opset_11():
    """LessOrEqual/GreaterOrEqual came in opset 12: below it they are Less|Greater or Equal."""
    rng = np.random.default_rng(80)
    forest = random_forest(rng, 3, 3, 1, 4, modes=[0, 2])
    x = features(rng, 30, 3)
    m = model("TreeEnsembleRegressor", 1, x, 1, classic(forest, 1))
    m.opset_import[1].version = 11
    np.testing.assert_allclose(pfw_run(to_pfw(m), {"X": x})[0], ort_run(m, {"X": x})[0], rtol=1e-6)


@pytest.mark.parametrize("post", ["NONE", "SOFTMAX"])
def test_classifier_labels_only_from_scored_classes(post):
    """Negative weights on classes 0 and 1 only: class 2 (score 0, from no
    leaf) is never the label, as in ONNX Runtime."""
    forest = [{"feature": 0, "split": 0.5, "mode": 0, "missing": 0,
               "true": {"leaf": [(0, -1.0), (1, -2.0)]}, "false": {"leaf": [(0, -3.0), (1, -0.5)]}}]
    x = np.array([[0.4], [0.9]], f32)
    m = classifier_model(x, classifier(forest, [10, 20, 30], post), 3)
    got, want = pfw_run(to_pfw(m), {"X": x}), ort_run(m, {"X": x})
    np.testing.assert_array_equal(got[0], [10, 20])
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1], rtol=1e-6, atol=1e-7)
