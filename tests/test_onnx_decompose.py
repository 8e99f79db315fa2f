"""Ops that ONNX gives no function body for and pyfw imports as standard ops
(pyfw/onnx/decompose.py): MaxUnpool, STFT and MelWeightMatrix, each against
ONNX Runtime and a closed form or ONNX's reference evaluator, over the
attributes and opsets that change the ops they become; the export back to
ONNX; and clear errors where a node cannot be decomposed."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

import pyfw.onnx
from onnx_util import Init, assert_match, build, check, ort_run, pfw_run, single_op, to_pfw, value_info
from pyfw import UnsupportedError

rng = np.random.default_rng(11)
f32 = np.float32


def reference(model, feeds):
    return ReferenceEvaluator(model).run(None, feeds)


def max_pool_with_indices(x, **attrs):
    """MaxPool's values and Indices from ONNX Runtime: the input MaxUnpool inverts."""
    node = helper.make_node("MaxPool", ["x"], ["v", "i"], **attrs)
    model = build([node], [value_info("x", x.dtype, x.shape)],
                  [value_info("v", x.dtype, None), value_info("i", np.int64, None)])
    return ort_run(model, {"x": x})


def unpool_closed_form(values, indices, shape):
    out = np.zeros(int(np.prod(shape)), values.dtype)
    out[indices.ravel()] = values.ravel()
    return out.reshape(shape)


@pytest.mark.parametrize("shape, attrs", [
    ((2, 3, 8, 8), dict(kernel_shape=[2, 2], strides=[2, 2])),
    ((1, 2, 9, 7), dict(kernel_shape=[3, 2], strides=[2, 1], pads=[1, 0, 1, 1])),
    ((2, 2, 12), dict(kernel_shape=[3], strides=[3])),
    ((1, 2, 4, 6, 4), dict(kernel_shape=[2, 3, 2], strides=[2, 3, 2])),
])
@pytest.mark.parametrize("opset", [9, 11, 22])
def test_max_unpool_inverts_max_pool(shape, attrs, opset):
    x = rng.standard_normal(shape).astype(f32)
    values, indices = max_pool_with_indices(x, **attrs)
    model, feeds = single_op("MaxUnpool", [values, indices], opset=opset, **attrs)
    got = check(model, feeds)  # ONNX Runtime
    pads = attrs.get("pads", [0] * 2 * len(attrs["kernel_shape"]))
    n = len(attrs["kernel_shape"])
    size = [(values.shape[2 + d] - 1) * attrs["strides"][d] + attrs["kernel_shape"][d] - pads[d] - pads[d + n]
            for d in range(n)]
    np.testing.assert_array_equal(got[0], unpool_closed_form(values, indices, [*x.shape[:2], *size]))


@pytest.mark.parametrize("dtype", [np.float64, np.float16])
def test_max_unpool_keeps_the_element_type(dtype):
    values = rng.integers(-9, 9, (1, 2, 2, 3)).astype(dtype)
    indices = np.array([[[[0, 3, 5], [6, 9, 11]], [[12, 14, 17], [19, 20, 23]]]], np.int64)
    model, feeds = single_op("MaxUnpool", [values, indices], kernel_shape=[2, 2], strides=[2, 2], opset=11)
    got = pfw_run(to_pfw(model), feeds)
    assert got[0].dtype == dtype
    np.testing.assert_array_equal(got[0], unpool_closed_form(values, indices, (1, 2, 4, 6)))


@pytest.mark.parametrize("opset", [9, 11, 22])
def test_max_unpool_output_shape_is_what_the_indices_address(opset):
    """MaxPool over an odd-sized input, then MaxUnpool back to its shape (as
    PyTorch's max_unpool with output_size exports): the indices address
    output_shape, as in ONNX Runtime."""
    x = rng.standard_normal((2, 3, 7, 7)).astype(f32)
    values, indices = max_pool_with_indices(x, kernel_shape=[2, 2], strides=[2, 2])
    model, feeds = single_op("MaxUnpool", [values, indices, Init(np.array(x.shape, np.int64))], opset=opset,
                             out_shape=list(x.shape), kernel_shape=[2, 2], strides=[2, 2])
    got = pfw_run(to_pfw(model), feeds)
    np.testing.assert_array_equal(got[0], ort_run(model, feeds)[0])
    np.testing.assert_array_equal(got[0], unpool_closed_form(values, indices, x.shape))


def test_max_unpool_refuses_indices_out_of_range():
    values = np.ones((1, 1, 2, 2), f32)
    model, feeds = single_op("MaxUnpool", [values, np.array([[[[0, 1, 2, 16]]]], np.int64).reshape(1, 1, 2, 2)],
                             kernel_shape=[2, 2], strides=[2, 2])
    with pytest.raises(Exception, match="maxunpool_node/"):
        pfw_run(to_pfw(model), feeds)


def stft_closed_form(signal, step, length, window, onesided):
    """Frame by frame with NumPy's FFT."""
    x = signal[..., 0] + (1j * signal[..., 1] if signal.shape[-1] == 2 else 0)
    frames = (x.shape[1] - length) // step + 1
    w = np.ones(length) if window is None else window.astype(np.float64)
    spec = np.stack([np.fft.fft(x[:, t * step:t * step + length] * w, axis=-1) for t in range(frames)], axis=1)
    if onesided:
        spec = spec[..., :length // 2 + 1]
    return np.stack([spec.real, spec.imag], axis=-1)


@pytest.mark.parametrize("opset", [17, 20])
@pytest.mark.parametrize("n, step, length, channels, onesided, windowed", [
    (128, 8, 16, 1, 1, False),
    (128, 8, 16, 1, 1, True),
    (101, 7, 12, 1, 0, True),
    (64, 5, 9, 2, 0, False),
    (200, 16, 70, 1, 1, True),  # past 64: libpfw's FFT path
])
def test_stft_matches_onnx_runtime_and_numpy(opset, n, step, length, channels, onesided, windowed):
    signal = rng.standard_normal((2, n, channels)).astype(f32)
    window = (np.hanning(length) + 0.1).astype(f32) if windowed else None
    args = [signal, Init(np.array(step, np.int64)), None if window is None else Init(window),
            Init(np.array(length, np.int64))]
    model, feeds = single_op("STFT", args, opset=opset, onesided=onesided)
    got = check(model, feeds)
    np.testing.assert_allclose(got[0], stft_closed_form(signal, step, length, window, onesided),
                               rtol=1e-4, atol=2e-4)


def test_stft_frame_length_from_the_window_and_a_fed_step():
    signal = rng.standard_normal((1, 50, 1)).astype(f32)
    window = np.hamming(10).astype(f32)
    model, feeds = single_op("STFT", [signal, np.array(4, np.int64), window], opset=17, out_shape=[1, 11, 6, 2])
    got = check(model, feeds)
    np.testing.assert_allclose(got[0], stft_closed_form(signal, 4, 10, window, 1), rtol=1e-4, atol=2e-4)


def test_stft_needs_a_window_or_a_frame_length():
    model, _ = single_op("STFT", [np.zeros((1, 16, 1), f32), Init(np.array(4, np.int64))], opset=17,
                         out_shape=[1, 3, 3, 2])
    with pytest.raises(UnsupportedError, match="STFT.*needs a window or a frame_length"):
        pyfw.onnx.import_model(model)


def mel_model(mels, dft, rate, low, high, out=TensorProto.FLOAT):
    args = [Init(np.array(mels, np.int32)), Init(np.array(dft, np.int32)), Init(np.array(rate, np.int32)),
            Init(np.array(low, f32)), Init(np.array(high, f32))]
    dtype = helper.tensor_dtype_to_np_dtype(out)
    return single_op("MelWeightMatrix", args, opset=17, out_dtype=dtype, output_datatype=out)[0]


@pytest.mark.parametrize("mels, dft, rate, low, high, out", [
    (8, 16, 8192, 0.0, 4096.0, TensorProto.FLOAT),
    (20, 512, 16000, 20.0, 8000.0, TensorProto.FLOAT),
    (40, 400, 22050, 0.0, 11025.0, TensorProto.DOUBLE),
    (10, 64, 8000, 300.0, 3400.0, TensorProto.FLOAT16),
    (30, 33, 16000, 0.0, 8000.0, TensorProto.FLOAT),  # narrow bins: zero-width rises
])
def test_mel_weight_matrix_matches_the_reference(mels, dft, rate, low, high, out):
    """Bit for bit: the bins come from a floor, so the float32 mel edges and
    float64 points must round as ONNX's reference rounds them."""
    model = mel_model(mels, dft, rate, low, high, out)
    got = pfw_run(to_pfw(model), {})
    assert got[0].shape == (dft // 2 + 1, mels) and got[0].dtype == helper.tensor_dtype_to_np_dtype(out)
    np.testing.assert_array_equal(got[0], reference(model, {})[0])
    assert (got[0] >= 0).all() and (got[0] <= 1).all() and got[0].max() == 1


# ONNX Runtime runs float32 only, and refuses a filter that reaches the last bin.
@pytest.mark.parametrize("mels, dft, rate, low, high", [(10, 64, 8000, 300.0, 3400.0),
                                                        (26, 512, 16000, 20.0, 7000.0)])
def test_mel_weight_matrix_matches_onnx_runtime(mels, dft, rate, low, high):
    model = mel_model(mels, dft, rate, low, high)
    np.testing.assert_allclose(pfw_run(to_pfw(model), {})[0], ort_run(model, {})[0], rtol=1e-6, atol=1e-6)


def test_decomposed_ops_export_back_to_onnx():
    signal = rng.standard_normal((1, 64, 1)).astype(f32)
    model, feeds = single_op("STFT", [signal, Init(np.array(8, np.int64)), None, Init(np.array(16, np.int64))],
                             opset=17)
    graph = pyfw.onnx.import_model(model)
    assert "STFT" not in {n.op_type for n in graph.nodes} and "DFT" in {n.op_type for n in graph.nodes}
    assert all(n.name.startswith("stft_node/") for n in graph.nodes)
    back = pyfw.onnx.export_model(graph)
    onnx.checker.check_model(back, full_check=True)
    assert_match(ort_run(back, feeds), ort_run(model, feeds))


def tfidf_closed_form(x, pool, counts_at, indexes, low, high, skips, mode, weights):
    """Counts by brute force: each n-gram length, each skip distance (unigrams once)."""
    rows = x.reshape(-1, x.shape[-1]).astype(np.int64)
    bounds = list(counts_at) + [len(pool)]
    grams = [tuple(pool[bounds[k] + i * (k + 1):bounds[k] + (i + 1) * (k + 1)])
             for k in range(len(counts_at)) for i in range((bounds[k + 1] - bounds[k]) // (k + 1))]
    y = np.zeros((len(rows), max(indexes) + 1), np.float32)
    for r, row in enumerate(rows):
        for g, col in zip(grams, indexes):
            n = len(g)
            if not low <= n <= high:
                continue
            for d in [1] if n == 1 else range(1, skips + 2):
                y[r, col] += sum(tuple(row[i:i + (n - 1) * d + 1:d]) == g for i in range(len(row) - (n - 1) * d))
    if mode == "IDF":
        y = (y > 0).astype(np.float32)
    if mode != "TF" and weights:  # the i-th weight is the i-th pool n-gram's
        y[:, indexes] *= np.float32(weights)
    return y.reshape(y.shape[1:]) if x.ndim == 1 else y


@pytest.mark.parametrize("shape, low, high, skips, mode, dtype, opset", [
    ((3, 12), 1, 2, 0, "TF", np.int64, 9),
    ((2, 15), 2, 3, 2, "TF", np.int32, 17),
    ((14,), 1, 3, 1, "TFIDF", np.int32, 11),
    ((4, 10), 1, 1, 3, "IDF", np.int64, 17),
    ((2, 9), 2, 2, 4, "IDF", np.int64, 9),
])
def test_tfidf_vectorizer(shape, low, high, skips, mode, dtype, opset):
    """Against ONNX Runtime and the brute-force count, with a pool of uni-, bi-
    and trigrams drawn from a small vocabulary so that n-grams repeat."""
    rng = np.random.default_rng(shape[-1] + skips)
    x = rng.integers(0, 4, shape).astype(dtype)
    pool, counts_at = [], []
    for n, k in ((1, 3), (2, 5), (3, 4)):
        counts_at.append(len(pool))
        seen = {tuple(rng.integers(0, 4, n)) for _ in range(k * 3)}
        pool += [int(v) for g in sorted(seen)[:k] for v in g]
    total = 3 + 5 + 4
    indexes = rng.permutation(total + 2)[:total].tolist()  # columns left over stay 0
    weights = rng.uniform(0.5, 2, total).round(2).tolist() if mode != "TF" else []
    attrs = dict(min_gram_length=low, max_gram_length=high, max_skip_count=skips, mode=mode, ngram_counts=counts_at,
                 ngram_indexes=indexes, pool_int64s=pool) | ({"weights": weights} if weights else {})
    model, feeds = single_op("TfIdfVectorizer", [x], opset=opset, out_dtype=np.float32, **attrs)
    got = pfw_run(to_pfw(model), feeds)[0]
    np.testing.assert_allclose(got, ort_run(model, feeds)[0], rtol=1e-6)
    np.testing.assert_allclose(got, tfidf_closed_form(x, pool, counts_at, indexes, low, high, skips, mode, weights),
                               rtol=1e-6)


def test_tfidf_vectorizer_refuses_strings_and_unknown_rows_before_opset_10():
    attrs = dict(min_gram_length=1, max_gram_length=1, max_skip_count=0, mode="TF", ngram_counts=[0],
                 ngram_indexes=[0], pool_int64s=[1])
    node = helper.make_node("TfIdfVectorizer", ["x"], ["y"], **attrs)
    graph = helper.make_graph([node], "g", [value_info("x", np.int64, ["N", "C"])], [value_info("y", f32, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 9)])
    with pytest.raises(UnsupportedError, match="before opset 10 the rows' length must be known"):
        pyfw.onnx.import_model(model)
    model.opset_import[0].version = 17  # from 10 on, Slice reads computed bounds
    x = np.array([[1, 2, 1], [0, 1, 1]], np.int64)
    np.testing.assert_array_equal(pfw_run(to_pfw(model), {"x": x})[0], [[2], [2]])


@pytest.mark.parametrize("shape, attrs", [
    ((2, 3, 7, 8), dict(kernel_shape=[2, 2], strides=[2, 2])),
    ((1, 2, 9, 7), dict(kernel_shape=[3, 3], strides=[2, 1], pads=[1, 0, 1, 1])),
    ((1, 2, 9, 9), dict(kernel_shape=[3, 2], strides=[2, 2], dilations=[2, 1], ceil_mode=1)),
    ((2, 1, 8, 7), dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER")),
    ((1, 2, 7, 6), dict(kernel_shape=[2, 3], strides=[3, 2], auto_pad="SAME_LOWER")),
    ((1, 2, 6, 5), dict(kernel_shape=[2, 2], strides=[1, 1], storage_order=1)),
    ((2, 2, 11), dict(kernel_shape=[3], strides=[2], pads=[1, 1])),
    ((1, 2, 4, 5, 6), dict(kernel_shape=[2, 2, 3], strides=[2, 1, 2])),
])
def test_max_pool_indices_match_onnx_runtime(shape, attrs):
    """Values from a small integer range, so windows hold ties: the first maximum wins."""
    x = np.random.default_rng(len(shape)).integers(-3, 4, shape).astype(f32)
    values, indices = max_pool_with_indices(x, **attrs)
    node = helper.make_node("MaxPool", ["x"], ["v", "i"], **attrs)
    model = build([node], [value_info("x", x.dtype, x.shape)],
                  [value_info("v", x.dtype, None), value_info("i", np.int64, None)])
    got = pfw_run(to_pfw(model), {"x": x})
    np.testing.assert_array_equal(got[0], values)
    np.testing.assert_array_equal(got[1], indices)
    order = "F" if attrs.get("storage_order") else "C"
    planes = x.reshape(-1, *x.shape[2:])  # every index reads back its value
    flat = np.stack([p.ravel(order=order) for p in planes]).ravel()
    np.testing.assert_array_equal(flat[got[1]], got[0])


def test_max_pool_indices_alone_and_into_max_unpool():
    """Only the Indices read (the values output unused), and MaxPool ->
    MaxUnpool in one model: each window keeps its maximum in place."""
    x = np.random.default_rng(9).standard_normal((2, 3, 6, 6)).astype(f32)
    pool = helper.make_node("MaxPool", ["x"], ["v", "i"], kernel_shape=[2, 2], strides=[2, 2])
    unpool = helper.make_node("MaxUnpool", ["v", "i"], ["y"], kernel_shape=[2, 2], strides=[2, 2])
    model = build([pool, unpool], [value_info("x", f32, x.shape)], [value_info("y", f32, x.shape)])
    got = pfw_run(to_pfw(model), {"x": x})[0]
    np.testing.assert_array_equal(got, ort_run(model, {"x": x})[0])
    windows = x.reshape(2, 3, 3, 2, 3, 2)
    keep = windows == windows.max(axis=(3, 5), keepdims=True)
    np.testing.assert_array_equal(got, np.where(keep, windows, 0).reshape(x.shape))
    alone = build([helper.make_node("MaxPool", ["x"], ["v", "i"], kernel_shape=[3, 3])],
                  [value_info("x", f32, x.shape)], [value_info("i", np.int64, None)])
    np.testing.assert_array_equal(pfw_run(to_pfw(alone), {"x": x})[0], ort_run(alone, {"x": x})[0])


def test_max_pool_indices_with_a_symbolic_batch():
    """The batch and channel offsets come from the input's shape at run time."""
    node = helper.make_node("MaxPool", ["x"], ["v", "i"], kernel_shape=[2, 2], strides=[2, 2])
    model = build([node], [value_info("x", f32, ["N", "C", 6, 4])],
                  [value_info("v", f32, None), value_info("i", np.int64, None)])
    pfw = to_pfw(model)
    for n, c in ((1, 2), (3, 1)):
        x = rng.standard_normal((n, c, 6, 4)).astype(f32)
        got, want = pfw_run(pfw, {"x": x}), ort_run(model, {"x": x})
        np.testing.assert_array_equal(got[1], want[1])
        np.testing.assert_array_equal(got[0], want[0])


def scan8_model(directions, seq_lens=False):
    """Scan-8 over batch 3: states (sum, product), scan inputs a (forward or
    reversed) and b; scan outputs the running sum and a * b."""
    body = helper.make_graph(
        [helper.make_node("Add", ["sum_in", "a_t"], ["sum_out"]), helper.make_node("Mul", ["prod_in", "b_t"], ["prod_out"]),
         helper.make_node("Identity", ["sum_out"], ["running"]), helper.make_node("Mul", ["a_t", "b_t"], ["ab"])],
        "body", [value_info(n, f32, [2]) for n in ("sum_in", "prod_in", "a_t", "b_t")],
        [value_info(n, f32, [2]) for n in ("sum_out", "prod_out", "running", "ab")])
    node = helper.make_node("Scan", ["lens" if seq_lens else "", "s0", "p0", "a", "b"],
                            ["sum", "prod", "runs", "abs"], body=body, num_scan_inputs=2, directions=directions)
    ins = [value_info("s0", f32, [3, 2]), value_info("p0", f32, [3, 2]), value_info("a", f32, [3, 4, 2]),
           value_info("b", f32, [3, 4, 2])] + ([value_info("lens", np.int64, [3])] if seq_lens else [])
    outs = [value_info("sum", f32, [3, 2]), value_info("prod", f32, [3, 2]), value_info("runs", f32, [3, 4, 2]),
            value_info("abs", f32, [3, 4, 2])]
    return build([node], ins, outs, opset=8)


@pytest.mark.parametrize("directions", [[0, 0], [1, 0]])
def test_scan_of_opset_8_runs_as_nested_loops(directions):
    feeds = {k: rng.standard_normal(s).astype(f32) for k, s in (("s0", (3, 2)), ("p0", (3, 2)), ("a", (3, 4, 2)),
                                                                 ("b", (3, 4, 2)))}
    model = scan8_model(directions)
    got = pfw_run(to_pfw(model), feeds)
    for g, w in zip(got, ort_run(model, feeds), strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)
    a = feeds["a"][:, ::-1] if directions[0] else feeds["a"]  # the closed form
    np.testing.assert_allclose(got[0], feeds["s0"] + a.sum(1), rtol=1e-5)
    np.testing.assert_allclose(got[1], feeds["p0"] * feeds["b"].prod(1), rtol=1e-5)
    np.testing.assert_allclose(got[2], feeds["s0"][:, None] + np.cumsum(a, axis=1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[3], a * feeds["b"], rtol=1e-6)


def test_scan_of_opset_8_with_sequence_lens_is_refused():
    with pytest.raises(UnsupportedError, match=r"\(Scan\): sequence_lens"):
        pyfw.onnx.import_model(scan8_model([0, 0], seq_lens=True))


def test_scan_of_opset_8_without_states_exports_to_valid_onnx():
    """Scan outputs only (no state): Loop-1 carries at least one value, so the
    rewrite carries dummies; the export passes ONNX's full check and runs in ONNX Runtime."""
    body = helper.make_graph([helper.make_node("Mul", ["a_t", "a_t"], ["sq"])], "body", [value_info("a_t", f32, [2])],
                             [value_info("sq", f32, [2])])
    model = build([helper.make_node("Scan", ["", "a"], ["squares"], body=body, num_scan_inputs=1)],
                  [value_info("a", f32, [2, 3, 2])], [value_info("squares", f32, [2, 3, 2])], opset=8)
    a = rng.standard_normal((2, 3, 2)).astype(f32)
    np.testing.assert_allclose(pfw_run(to_pfw(model), {"a": a})[0], a * a, rtol=1e-6)
    exported = pyfw.onnx.export_model(pyfw.onnx.import_model(model))
    onnx.checker.check_model(exported, full_check=True)
    np.testing.assert_allclose(ort_run(exported, {"a": a})[0], a * a, rtol=1e-6)
