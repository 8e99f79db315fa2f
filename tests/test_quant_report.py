"""Entropy calibration, the per-layer quantization report and the accuracy
budget (pyfw.quant, `pyfw quantize --method entropy --report --accuracy-budget`).

Oracles: a loop-by-loop implementation of the KL definition written here;
the fp32 and int8 graphs run by libpfw with the tensors exposed, SQNR and
relative errors computed here in NumPy; quantize(exclude=...) as the
independent way to quantize one layer alone or keep one fp32.
"""
import math

import numpy as np
import pytest
from onnx import TensorProto, helper
from test_quant import cnn_data, libpfw_run, onnx_graph, small_cnn, transformer_block

from pyfw.cli import main
from pyfw.format import load, save
from pyfw.quant import quantize, quantize_with_report
from pyfw.quant.calibrate import HIST_BINS, collect_ranges, entropy_threshold, kl_divergences
from pyfw.quant.rewrite import observed_tensors, plan

f32 = np.float32


# ---- entropy calibration ---------------------------------------------------------
def brute_kl(hist, levels):
    """KL(P || Q) per candidate, straight from the definition (kl_divergences'
    docstring): clip, quantize into groups, expand, normalise, sum."""
    h = [float(v) for v in hist]
    out = []
    for i in range(levels, len(h) + 1):
        p = h[:i]
        p[i - 1] += sum(h[i:])
        q = [0.0] * i
        for j in range(levels):
            a, b = j * i // levels, (j + 1) * i // levels
            nonzero = [k for k in range(a, b) if p[k] > 0]
            for k in nonzero:
                q[k] = sum(h[a:b]) / len(nonzero)
        if sum(h[:i]) == 0:
            out.append(math.inf)
            continue
        if q[i - 1] == 0 and p[i - 1] > 0:  # only clipped values in the last group
            q[i - 1] = 1e-4
        sp, sq = sum(p), sum(q)
        kl = 0.0
        for k in range(i):
            if p[k] > 0:
                kl = math.inf if q[k] == 0 else kl + p[k] / sp * math.log((p[k] / sp) / (q[k] / sq))
        out.append(kl)
    return np.array(out)


def outlier_hist(seed=0, laplace=False):
    r = np.random.default_rng(seed)
    x = r.laplace(size=100_000) if laplace else r.standard_normal(100_000)
    x = np.concatenate([x, [100.0, -90.0, 80.0]])  # three outliers in 100k
    edge = float(np.abs(x).max())
    return x, np.histogram(np.abs(x), HIST_BINS, (0.0, edge))[0], edge


@pytest.mark.parametrize("seed", range(4))
def test_kl_matches_brute_force_small(seed):
    r = np.random.default_rng(seed)
    h = r.poisson(r.uniform(0, 20, 256)) * (r.random(256) < 0.6)  # sparse, with empty stretches
    h[200:240] = 0
    h[250] = 7  # outliers after a gap: Q's last group empty for some candidates
    h[:40] = 0  # and hist[:i] empty for the first ones: inf
    want = brute_kl(h, 32)
    got = kl_divergences(h, 32)
    assert np.array_equal(np.isinf(got), np.isinf(want)) and np.isinf(want[:9]).all() and np.isfinite(want[-9:]).all()
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=1e-9, atol=1e-13)
    assert np.argmin(got) == np.argmin(want)


def test_kl_matches_brute_force_full_size():
    _, h, edge = outlier_hist(1)
    want = brute_kl(h, 128)
    got = kl_divergences(h, 128)
    assert got.shape == (HIST_BINS - 128 + 1,)
    fin = np.isfinite(want)
    assert np.array_equal(np.isfinite(got), fin)
    np.testing.assert_allclose(got[fin], want[fin], rtol=1e-9, atol=1e-13)
    h0 = h.copy()
    h0[0] = h0[1]  # entropy_threshold counts bin 0 as bin 1 (its docstring)
    k = int(np.argmin(brute_kl(h0, 128)))
    assert entropy_threshold(h, edge) == edge * (128 + k) / HIST_BINS


def test_kl_hand_computed():
    # 4 bins, 2 levels. i=2: P=[1, 1+2] -> [.25, .75]; Q: one bin per group -> [1, 1] -> [.5, .5].
    # i=3: P=[1, 1, 2] -> /4; groups [0], [1, 2] (3//2 = 1): Q=[1, .5, .5] -> /2.
    # i=4: P = [1, 1, 0, 2]; groups [0, 1], [2, 3], each count on its nonzero bins: Q = P, KL 0.
    h = np.array([1, 1, 0, 2])
    kl = kl_divergences(h, 2)
    want2 = 0.25 * np.log(0.25 / 0.5) + 0.75 * np.log(0.75 / 0.5)
    want3 = 0.25 * np.log(0.25 / 0.5) + 0.25 * np.log(0.25 / 0.25) + 0.5 * np.log(0.5 / 0.25)
    np.testing.assert_allclose(kl, [want2, want3, 0.0], rtol=1e-12, atol=1e-15)


def test_entropy_uniform_keeps_full_range():
    x = np.random.default_rng(2).uniform(-1, 1, 100_000)
    edge = float(np.abs(x).max())
    h = np.histogram(np.abs(x), HIST_BINS, (0, edge))[0]
    assert entropy_threshold(h, edge) >= 0.98 * edge


def test_entropy_ignores_the_spike_of_exact_zeros():
    x = np.random.default_rng(7).standard_normal(100_000)
    relu = np.maximum(x, 0)  # half exact zeros, as after a Relu
    edge = float(relu.max())
    h_relu = np.histogram(relu, HIST_BINS, (0, edge))[0]
    h_pos = np.histogram(x[x > 0], HIST_BINS, (0, edge))[0]
    t = entropy_threshold(h_relu, edge, 256)
    assert t == entropy_threshold(h_pos, edge, 256) and t > 0.8 * edge
    # the plain definition on the spiked histogram clips far into the bulk
    assert edge * (256 + np.argmin(kl_divergences(h_relu, 256))) / HIST_BINS < 0.5 * edge


@pytest.mark.parametrize("laplace", [False, True])
def test_entropy_clips_rare_outliers(laplace):
    x, h, edge = outlier_hist(3, laplace)
    t = entropy_threshold(h, edge)
    assert np.percentile(np.abs(x), 99) < t < edge / 4, (t, edge)
    assert entropy_threshold(h, edge) == t  # deterministic


def test_entropy_method_through_quantize():
    g = small_cnn()
    data = cnn_data(32, 5)
    data[3, 0, 0, 0, 0] = 50.0  # one outlier pixel
    obs = observed_tensors(g, plan(g, "static", set())[0])
    ranges = collect_ranges(g, obs, {"x": data}, "entropy")
    assert ranges == collect_ranges(g, obs, {"x": data}, "entropy")  # deterministic
    assert -1.0 <= ranges["x"][0] < -0.9 and 0.9 < ranges["x"][1] < 5.0  # outlier clipped, bulk kept
    mm = collect_ranges(g, obs, {"x": data}, "minmax")
    for n in obs:
        assert mm[n][0] <= ranges[n][0] <= ranges[n][1] <= mm[n][1]  # within the extremes
    q = quantize(g, "static", {"x": data}, method="entropy")
    assert q.metadata["quantization"] == "int8 static entropy per-channel"
    xs = next(t.data for t in q.initializers() if t.name == "x_scale")
    assert xs < 5.0 / 255 and xs >= 1.8 / 255
    with pytest.raises(ValueError, match="method must be one of 'minmax', 'percentile', 'entropy', got 'kl'"):
        quantize(g, "static", {"x": data}, method="kl")


# ---- models ----------------------------------------------------------------------
def bad_mlp(seed=0):
    """fc1 -> Relu -> fc2 -> Relu -> fc3 on (4, 8) rows. fc1's unit 3 is dead
    (bias -100), and fc2 reads it with weight 1000 in every column: exact in
    fp32 (times 0), but the int8 column scale becomes 1000/127, so fc2's
    other weights round to 0. fc2 is the layer that quantizes badly."""
    r = np.random.default_rng(seed)
    w1, b1 = (r.standard_normal((16, 8)) * 0.4).astype(f32), (r.standard_normal(16) * 0.1).astype(f32)
    b1[3] = -100.0
    w2 = (r.standard_normal((16, 16)) * 0.3).astype(f32)
    w2[:, 3] = 1000.0  # transB: row n of w2 is output column n; input 3 is the dead unit
    inits = {"w1": w1, "b1": b1, "w2": w2, "b2": (r.standard_normal(16) * 0.1).astype(f32),
             "w3": (r.standard_normal((5, 16)) * 0.4).astype(f32), "b3": (r.standard_normal(5) * 0.1).astype(f32)}
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h1"], name="fc1", transB=1),
             helper.make_node("Relu", ["h1"], ["r1"]),
             helper.make_node("Gemm", ["r1", "w2", "b2"], ["h2"], name="fc2", transB=1),
             helper.make_node("Relu", ["h2"], ["r2"]),
             helper.make_node("Gemm", ["r2", "w3", "b3"], ["y"], name="fc3", transB=1)]
    return onnx_graph(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 5])], inits)


def mlp_data(n, seed):
    return np.random.default_rng(seed).standard_normal((n, 4, 8)).astype(f32)


def outputs_over(graph, samples, fetch=()):
    """{name: value} for each output and fetched tensor of `graph` on libpfw,
    samples stacked."""
    names = list(dict.fromkeys(list(graph.outputs) + list(fetch)))
    runs = [libpfw_run(graph, {k: v[s] for k, v in samples.items()}, fetch)
            for s in range(next(iter(samples.values())).shape[0])]
    return {n: np.stack(vals) for n, vals in zip(names, zip(*runs))}


def sqnr(x, x_hat):
    x, x_hat = np.asarray(x, np.float64), np.asarray(x_hat, np.float64)
    noise = np.sum((x - x_hat) ** 2)
    return np.inf if noise == 0 else 10 * np.log10(np.sum(x ** 2) / noise)


def rel_error(y, y_hat):
    y, y_hat = np.asarray(y, np.float64), np.asarray(y_hat, np.float64)
    return float(np.linalg.norm(y_hat - y) / np.linalg.norm(y))


def layer_value(q, node_name, fp32_tensor, samples):
    """The int8 graph `q`'s value of a layer: a QLinearConv's uint8 output
    dequantized here in NumPy with its y_scale / y_zero_point, else the
    float tensor of the fp32 name (a MatMulInteger chain's last output)."""
    node = next((n for n in q.nodes if n.op_type == "QLinearConv" and n.name == node_name), None)
    if node is None:
        return outputs_over(q, samples, [fp32_tensor])[fp32_tensor]
    consts = {t.name: t.data for t in q.initializers()}
    u8 = outputs_over(q, samples, [node.outputs[0]])[node.outputs[0]]
    return (u8.astype(np.float64) - float(consts[node.inputs[7]])) * float(consts[node.inputs[6]])


# ---- the per-layer report ----------------------------------------------------------
@pytest.fixture(scope="module")
def cnn_report():
    g = small_cnn()
    calib = {"x": cnn_data(12, 1)}
    q, report = quantize_with_report(g, "static", calib, report=True)
    return g, calib, q, report


def test_report_sqnr_matches_independent_computation(cnn_report):
    g, calib, _, report = cnn_report
    full = quantize(g, "static", calib)  # the written model: conv outputs stay uint8 inside it
    assert sorted(s.node for s in report.layers) == ["conv1", "dw", "fc1", "fc2", "grouped"]
    assert {s.op for s in report.layers} == {"Conv", "Gemm"}
    for s in report.layers:
        name = next(n.outputs[0] for n in g.nodes if n.name == s.node)
        assert s.tensor == name  # names are kept: the dequantized value has the fp32 tensor's name
        ref = outputs_over(g, calib, [name])[name]
        got = layer_value(full, s.node, name, calib)
        want = sqnr(ref, got)
        assert 15 < want < 60 and abs(s.sqnr_db - want) <= 1e-6 * abs(want), (s.node, s.sqnr_db, want)


def test_report_model_figures_match_independent_computation(cnn_report):
    g, calib, q, report = cnn_report
    ref, got = outputs_over(g, calib)["y"], outputs_over(q, calib)["y"]
    assert report.samples == 12 and [o.name for o in report.outputs] == ["y"]
    o = report.outputs[0]
    assert abs(o.sqnr_db - sqnr(ref, got)) <= 1e-9 * abs(o.sqnr_db)
    assert abs(o.rel_error - rel_error(ref, got)) <= 1e-9 * o.rel_error and 0 < o.rel_error < 0.1
    rows_ref, rows_got = ref.reshape(-1, 10), got.reshape(-1, 10)
    assert o.rows == 12 and o.top1 == np.mean(rows_ref.argmax(1) == rows_got.argmax(1))


def test_report_shares_match_one_layer_at_a_time(cnn_report):
    g, calib, _, report = cnn_report
    names = [s.node for s in report.layers]
    ref = outputs_over(g, calib)["y"]
    energy = {}
    for n in names:  # quantize n alone through the exclude mechanism
        y = outputs_over(quantize(g, "static", calib, exclude=[m for m in names if m != n]), calib)["y"]
        energy[n] = np.sum((y.astype(np.float64) - ref) ** 2)
    total = sum(energy.values())
    for s in report.layers:
        assert abs(s.share - energy[s.node] / total) <= 1e-9, s.node
    assert abs(sum(s.share for s in report.layers) - 1.0) <= 1e-12
    assert [s.share for s in report.layers] == sorted((s.share for s in report.layers), reverse=True)
    assert all(not s.kept_fp32 for s in report.layers) and report.budget is None and not report.budget_kept


def test_worst_layer_ranks_first():
    g = bad_mlp()
    calib = {"x": mlp_data(8, 0)}
    _, report = quantize_with_report(g, "static", calib, report=True)
    first = report.layers[0]
    assert first.node == "fc2" and first.share > 0.9
    sq = {s.node: s.sqnr_db for s in report.layers}
    assert sq["fc2"] < 10 and sq["fc1"] > 25  # fc3 reads fc2's error: low SQNR, but a small share alone
    assert abs(sum(s.share for s in report.layers) - 1.0) <= 1e-12


def test_report_table_lists_layers_and_outputs(cnn_report):
    report = cnn_report[3]
    text = report.table()
    lines = text.splitlines()
    assert lines[0] == "per-layer error on 12 samples (int8 static vs fp32):"
    assert lines[1].split() == ["node", "op", "SQNR", "dB", "share", "%", "result"]
    rows = [ln.split() for ln in lines[3:8]]
    assert [r[0] for r in rows] == [s.node for s in report.layers]
    for r, s in zip(rows, report.layers):
        assert r[1:] == [s.op, f"{s.sqnr_db:.1f}", f"{100 * s.share:.1f}", "int8"]
    assert lines[8].startswith("  output y: SQNR ") and "top-1 agreement" in lines[8]
    assert "budget" not in text
    plain = quantize_with_report(cnn_report[0], "static", cnn_report[1])[1]
    assert not plain.layers and plain.table().startswith("no accuracy figures")


def test_report_names_unnamed_nodes_by_output():
    r = np.random.default_rng(4)
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c1"], ["r"]),
             helper.make_node("Conv", ["r", "w2"], ["y"])]
    g = onnx_graph(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 5, 5])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 5, 5])],
                   {"w1": r.standard_normal((4, 2, 3, 3)).astype(f32),
                    "w2": r.standard_normal((3, 4, 1, 1)).astype(f32)})
    for n in g.nodes:  # the importer names nodes; a graph built in pyfw.ir need not
        n.name = ""
    calib = {"x": r.standard_normal((4, 1, 2, 5, 5)).astype(f32)}
    q, report = quantize_with_report(g, "static", calib, accuracy_budget=1e-9)
    inner = next(n.outputs[0] for n in g.nodes if n.inputs[0] == "x")
    assert sorted(s.node for s in report.layers) == sorted([inner, "y"])
    assert sorted(report.budget_kept) == sorted([inner, "y"]) and "QLinearConv" not in {n.op_type for n in q.nodes}


def test_two_outputs_of_different_scales_weigh_alike():
    """y1 = fa(x), y2 = fb(x) with fb's weights 1000x: a share sums each
    output's error energy relative to its own energy; the budget bounds the
    worst output's relative error."""
    r = np.random.default_rng(8)
    inits = {"wa": (r.standard_normal((6, 8))).astype(f32), "wb": (r.standard_normal((3, 8)) * 1000).astype(f32)}
    nodes = [helper.make_node("Gemm", ["x", "wa"], ["y1"], name="fa", transB=1),
             helper.make_node("Gemm", ["x", "wb"], ["y2"], name="fb", transB=1)]
    g = onnx_graph(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8])],
                   [helper.make_tensor_value_info("y1", TensorProto.FLOAT, [4, 6]),
                    helper.make_tensor_value_info("y2", TensorProto.FLOAT, [4, 3])], inits)
    calib = {"x": mlp_data(6, 9)}
    q, report = quantize_with_report(g, "static", calib, report=True)
    ref = outputs_over(g, calib)
    rel = {}
    for n in ("fa", "fb"):
        got = outputs_over(quantize(g, "static", calib, exclude=[m for m in ("fa", "fb") if m != n]), calib)
        rel[n] = sum(np.sum((got[o].astype(np.float64) - ref[o]) ** 2) / np.sum(ref[o].astype(np.float64) ** 2)
                     for o in ("y1", "y2"))
    for s in report.layers:
        assert abs(s.share - rel[s.node] / sum(rel.values())) <= 1e-9, s.node
    assert 0.05 < report.layers[0].share < 0.95  # raw energies would give fb ~ 1.0
    got = outputs_over(q, calib)
    assert [o.name for o in report.outputs] == ["y1", "y2"]
    for o in report.outputs:
        assert abs(o.rel_error - rel_error(ref[o.name], got[o.name])) <= 1e-9 * o.rel_error
        assert o.top1 is not None and o.rows == 24
    worst = max(o.rel_error for o in report.outputs)
    _, tight = quantize_with_report(g, "static", calib, accuracy_budget=worst * 0.999)
    assert tight.initial_error == worst and tight.budget_kept and tight.final_error <= worst * 0.999


# ---- dynamic mode -----------------------------------------------------------------
def test_dynamic_report_on_evaluation_samples():
    g = transformer_block()
    data = {"x": np.random.default_rng(5).standard_normal((3, 2, 6, 16)).astype(f32)}
    q, report = quantize_with_report(g, "dynamic", data, report=True)
    assert q.metadata["quantization"] == "int8 dynamic per-channel"
    assert sorted(s.node for s in report.layers) == ["down", "head", "up"]
    for s in report.layers:  # dynamic MatMul outputs are float tensors under the fp32 names
        ref = outputs_over(g, data, [s.tensor])[s.tensor]
        got = outputs_over(q, data, [s.tensor])[s.tensor]
        assert abs(s.sqnr_db - sqnr(ref, got)) <= 1e-6 * abs(s.sqnr_db)
    ref, got = outputs_over(g, data)["y"], outputs_over(q, data)["y"]
    assert abs(report.outputs[0].rel_error - rel_error(ref, got)) <= 1e-9 * report.outputs[0].rel_error
    with pytest.raises(ValueError, match="dynamic mode needs samples to measure on"):
        quantize_with_report(g, "dynamic", report=True)
    with pytest.raises(ValueError, match="dynamic mode needs samples to measure on"):
        quantize(g, "dynamic", accuracy_budget=0.1)
    with pytest.raises(ValueError, match="dynamic quantization takes no calibration data"):
        quantize(g, "dynamic", data)


# ---- the accuracy budget ------------------------------------------------------------
@pytest.fixture(scope="module")
def mlp():
    g = bad_mlp()
    calib = {"x": mlp_data(8, 1)}
    ref = outputs_over(g, calib)["y"]
    return g, calib, ref


def test_loose_budget_keeps_everything_int8(mlp):
    g, calib, ref = mlp
    q, report = quantize_with_report(g, "static", calib, accuracy_budget=10.0)
    assert report.budget_kept == [] and report.budget_met and not report.warnings
    assert report.final_error == report.initial_error
    assert sum(n.op_type == "MatMulInteger" for n in q.nodes) == 3
    y = outputs_over(q, calib)["y"]
    assert abs(report.final_error - rel_error(ref, y)) <= 1e-9 * report.final_error


def test_tight_budget_keeps_the_worst_layer_fp32(mlp):
    g, calib, ref = mlp
    y_all = outputs_over(quantize(g, "static", calib), calib)["y"]
    y_no_fc2 = outputs_over(quantize(g, "static", calib, exclude=["fc2"]), calib)["y"]
    e_all, e_no_fc2 = rel_error(ref, y_all), rel_error(ref, y_no_fc2)
    assert e_no_fc2 < e_all / 10
    budget = math.sqrt(e_no_fc2 * e_all)
    q, report = quantize_with_report(g, "static", calib, accuracy_budget=budget)
    assert report.budget_kept == ["fc2"] and ("fc2", "Gemm", "kept fp32 for the accuracy budget") in report.kept
    assert [s.node for s in report.layers if s.kept_fp32] == ["fc2"]
    assert [n.name for n in q.nodes if n.op_type == "Gemm"] == ["fc2"]
    y = outputs_over(q, calib)["y"]
    final = rel_error(ref, y)
    assert final <= budget and abs(report.final_error - final) <= 1e-9 * final
    assert abs(final - e_no_fc2) <= 1e-9 * final and abs(report.initial_error - e_all) <= 1e-9 * e_all
    assert report.budget_met and "kept fp32 fc2;" in report.table() and "(met)" in report.table()
    assert q.tensors["y"].dtype == "float32" and q.outputs == ["y"]
    g8 = quantize(g, "static", calib, accuracy_budget=budget)  # quantize() takes the budget too
    assert [n.name for n in g8.nodes if n.op_type == "Gemm"] == ["fc2"]


def test_impossible_budget_keeps_all_fp32_with_a_warning(mlp):
    g, calib, ref = mlp
    q, report = quantize_with_report(g, "static", calib, accuracy_budget=1e-9)
    assert sorted(report.budget_kept) == ["fc1", "fc2", "fc3"] and report.budget_kept[0] == "fc2"
    assert not any(n.op_type in ("MatMulInteger", "QuantizeLinear") for n in q.nodes)
    assert report.final_error == 0.0 and len(report.warnings) == 1
    assert "not met with any layer int8" in report.warnings[0] and "no int8 layer" in report.warnings[0]
    y = outputs_over(q, calib)["y"]
    np.testing.assert_array_equal(y, ref)


@pytest.mark.parametrize("bad", [0, 0.0, -0.1, float("nan"), float("inf"), "0.1", True])
def test_bad_budget(mlp, bad):
    g, calib, _ = mlp
    with pytest.raises(ValueError, match="accuracy_budget must be"):
        quantize_with_report(g, "static", calib, accuracy_budget=bad)


# ---- CLI ----------------------------------------------------------------------------
def test_cli_report_and_budget(mlp, tmp_path, capsys):
    g, calib, ref = mlp
    save(g, tmp_path / "m.pfw")
    np.savez(tmp_path / "calib.npz", **calib)
    base = ["quantize", str(tmp_path / "m.pfw"), "--calibrate", str(tmp_path / "calib.npz")]
    assert main(base + ["-o", str(tmp_path / "r.pfw"), "--report", "--method", "entropy"]) == 0
    out = capsys.readouterr().out
    _, report = quantize_with_report(g, "static", calib, method="entropy", report=True)
    for s in report.layers:
        row = next(ln.split() for ln in out.splitlines() if ln.split()[:1] == [s.node])
        assert row[1:] == [s.op, f"{s.sqnr_db:.1f}", f"{100 * s.share:.1f}", "int8"]
    assert "int8 static (entropy)" in out and f"relative error {report.outputs[0].rel_error:.4g}" in out

    y_all = outputs_over(quantize(g, "static", calib), calib)["y"]
    y_no_fc2 = outputs_over(quantize(g, "static", calib, exclude=["fc2"]), calib)["y"]
    budget = math.sqrt(rel_error(ref, y_all) * rel_error(ref, y_no_fc2))
    assert main(base + ["-o", str(tmp_path / "b.pfw"), "--accuracy-budget", f"{budget:.6g}"]) == 0
    cap = capsys.readouterr()
    assert "kept fp32: fc2 (Gemm): kept fp32 for the accuracy budget" in cap.out
    y = outputs_over(load(tmp_path / "b.pfw"), calib)["y"]
    assert f"kept fp32 fc2; error {rel_error(ref, y_all):.4g} -> {rel_error(ref, y):.4g} (met)" in cap.out
    assert cap.err == ""

    assert main(base + ["-o", str(tmp_path / "i.pfw"), "--accuracy-budget", "1e-9"]) == 0
    cap = capsys.readouterr()
    assert cap.err.startswith("pyfw quantize: warning: accuracy budget 1e-09 not met with any layer int8")
    assert (tmp_path / "i.pfw").exists()


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "x"])
def test_cli_bad_budget(tmp_path, capsys, value):
    with pytest.raises(SystemExit) as e:
        main(["quantize", "m.pfw", "--accuracy-budget", value])
    assert e.value.code == 2
    assert (f"argument --accuracy-budget: expected a finite relative error > 0 (e.g. 0.01), got {value!r}"
            in capsys.readouterr().err)


def test_cli_dynamic_report_needs_samples(tmp_path, capsys):
    g = transformer_block()
    save(g, tmp_path / "t.pfw")
    np.savez(tmp_path / "d.npz", x=np.random.default_rng(6).standard_normal((2, 2, 6, 16)).astype(f32))
    assert main(["quantize", str(tmp_path / "t.pfw"), "--mode", "dynamic", "--report"]) == 1
    assert "--report needs samples to measure on: pass --calibrate" in capsys.readouterr().err
    assert main(["quantize", str(tmp_path / "t.pfw"), "--mode", "dynamic", "--calibrate", str(tmp_path / "d.npz")]) == 1
    assert "--calibrate is for --mode static" in capsys.readouterr().err
    assert main(["quantize", str(tmp_path / "t.pfw"), "--mode", "dynamic", "--report", "--calibrate",
                 str(tmp_path / "d.npz")]) == 0
    out = capsys.readouterr().out
    assert "per-layer error on 2 samples (int8 dynamic vs fp32):" in out and "head" in out
