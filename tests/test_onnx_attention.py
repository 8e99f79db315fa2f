"""Attention (opsets 23, 24, 25) and RotaryEmbedding (23), one small ONNX model per case: ONNX Runtime
is the oracle (float64 reference evaluator as second oracle, see
onnx_util.assert_match), pyfw runs the converted .pfw; rtol 1e-5 / atol 1e-6."""
import numpy as np
import pytest
from onnx import helper

import pyfw
from onnx_util import assert_match, build, ort_run, pfw_run, reference64, to_pfw, value_info

rng = np.random.default_rng(20261125)
f32, f64 = np.float32, np.float64


def r(*shape, dtype=f32):
    return rng.standard_normal(shape).astype(dtype)


def heads(x, n):
    """(B, H, L, D) of a 3-D (B, L, H*D) or 4-D tensor."""
    return x.shape if x.ndim == 4 else (x.shape[0], n, x.shape[1], x.shape[2] // n)


def attention(args, n_outputs=1, opset=23, **attrs):
    """A one-node Attention model with every output's shape declared (ONNX's
    inference leaves some unstated). args: Q, K, V, attn_mask, past_key,
    past_value, nonpad_kv_seqlen; None is absent."""
    q, k, v = args[:3]
    past = args[4] if len(args) > 4 and args[4] is not None else None
    B, Hq, Lq, _ = heads(q, attrs.get("q_num_heads"))
    _, Hkv, Lk, Dk = heads(k, attrs.get("kv_num_heads"))
    Dv = heads(v, attrs.get("kv_num_heads"))[3]
    total = Lk + (past.shape[2] if past is not None else 0)
    y = (B, Hq, Lq, Dv) if q.ndim == 4 else (B, Lq, Hq * Dv)
    shapes = [y, (B, Hkv, total, Dk), (B, Hkv, total, Dv), (B, Hq, Lq, total)]
    names = ["" if a is None else f"in{i}" for i, a in enumerate(args)]
    ins = [value_info(n, a.dtype, a.shape) for n, a in zip(names, args) if a is not None]
    outs = [f"out{j}" for j in range(n_outputs)]
    node = helper.make_node("Attention", names, outs, name="attn", **attrs)
    model = build([node], ins, [value_info(o, q.dtype, s) for o, s in zip(outs, shapes)], opset=opset)
    return model, {n: a for n, a in zip(names, args) if a is not None}


def check(args, n_outputs=1, opset=23, threads=1, oracle="ort", **attrs):
    """oracle="reference": ONNX's reference evaluator, where ONNX Runtime
    refuses a form the spec allows."""
    model, feeds = attention(args, n_outputs, opset, **attrs)
    if oracle == "ort":
        want = ort_run(model, feeds)
    else:
        from onnx.reference import ReferenceEvaluator
        want = ReferenceEvaluator(model).run(None, feeds)
    got = pfw_run(to_pfw(model), feeds, threads)
    assert_match(got, want, exact=lambda: reference64(model, feeds))
    return got


# ---- shapes and heads ------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [f32, f64], ids=["float32", "float64"])
def test_4d(dtype):
    check([r(2, 3, 4, 8, dtype=dtype), r(2, 3, 6, 8, dtype=dtype), r(2, 3, 6, 8, dtype=dtype)])


def test_3d():
    check([r(2, 4, 24), r(2, 6, 24), r(2, 6, 24)], q_num_heads=3, kv_num_heads=3)


@pytest.mark.parametrize("rank", [3, 4])
def test_gqa(rank):
    if rank == 4:
        check([r(2, 6, 3, 4), r(2, 2, 5, 4), r(2, 2, 5, 4)])
    else:
        check([r(2, 3, 24), r(2, 5, 8), r(2, 5, 8)], q_num_heads=6, kv_num_heads=2)


@pytest.mark.parametrize("rank", [3, 4])
def test_value_head_size_differs(rank):
    if rank == 4:
        check([r(1, 2, 3, 8), r(1, 2, 5, 8), r(1, 2, 5, 5)])
    else:
        check([r(1, 3, 16), r(1, 5, 16), r(1, 5, 6)], q_num_heads=2, kv_num_heads=2)


def test_scale_and_softcap():
    q, k, v = r(2, 2, 3, 8) * 3, r(2, 2, 7, 8) * 3, r(2, 2, 7, 8)
    check([q, k, v], scale=0.3)
    check([q, k, v], softcap=1.5)
    check([q, k, v], scale=0.2, softcap=4.0)


# ---- masks -------------------------------------------------------------------------------
@pytest.mark.parametrize("mask_shape", [(6,), (4, 6), (1, 4, 6), (3, 4, 6), (2, 1, 1, 6), (2, 3, 4, 6),
                                        (4, 3), (2, 3, 4, 4)],
                         ids=["1d", "2d", "3d_one_head", "3d_heads", "4d_batch", "4d_full", "short_2d",
                              "short_4d"])
@pytest.mark.parametrize("kind", ["float", "bool"])
def test_attn_mask(mask_shape, kind):
    if kind == "float":
        mask = r(*mask_shape)
        mask[..., 0] = -np.inf  # a masked key per row
    else:
        mask = rng.uniform(size=mask_shape) < 0.7
        mask[..., 0] = True  # every row keeps a key
    # ONNX Runtime 1.32 refuses 1-D masks, a query dim of 1 and masks shorter than
    # the keys, all of which the spec allows: ONNX's reference evaluator judges those.
    ort_ok = len(mask_shape) > 1 and mask_shape[-2] == 4 and mask_shape[-1] == 6
    check([r(2, 3, 4, 8), r(2, 3, 6, 8), r(2, 3, 6, 8), mask], oracle="ort" if ort_ok else "reference")


@pytest.mark.parametrize("lq,lk", [(4, 4), (3, 6), (5, 2)])
def test_causal(lq, lk):
    """Offset-aligned when Lq != Lk: query i sees keys j <= i (the no-cache case)."""
    check([r(2, 2, lq, 8), r(2, 2, lk, 8), r(2, 2, lk, 8)], is_causal=1)


def test_causal_with_mask_3d():
    check([r(2, 4, 24), r(2, 6, 24), r(2, 6, 24), r(4, 6)], q_num_heads=3, kv_num_heads=3, is_causal=1)


def test_fully_masked_row_is_zero():
    """A row that may attend no key gives 0 (not NaN), also in mode 3."""
    mask = np.array([[True, False, True], [False, False, False], [False, True, False]])
    got = check([r(1, 2, 3, 8), r(1, 2, 3, 8), r(1, 2, 3, 8), mask], n_outputs=4, qk_matmul_output_mode=3)
    assert np.all(got[0][:, :, 1] == 0) and np.all(got[3][:, :, 1] == 0)


# ---- cache, modes, padding, window ----------------------------------------------------------
@pytest.mark.parametrize("rank", [3, 4])
def test_past_and_present(rank):
    pk, pv = r(2, 3, 5, 8), r(2, 3, 5, 6)
    if rank == 4:
        check([r(2, 3, 4, 8), r(2, 3, 2, 8), r(2, 3, 2, 6), r(4, 7), pk, pv], n_outputs=3)
    else:
        check([r(2, 4, 24), r(2, 2, 24), r(2, 2, 18), r(4, 7), pk, pv], n_outputs=3, q_num_heads=3, kv_num_heads=3)


def test_causal_with_past_is_offset():
    """With a cache, query i is at position past + i."""
    check([r(1, 2, 3, 8), r(1, 2, 3, 8), r(1, 2, 3, 8), None, r(1, 2, 4, 8), r(1, 2, 4, 8)], n_outputs=3,
          is_causal=1)


@pytest.mark.parametrize("mode", [0, 1, 2, 3])
def test_qk_matmul_output_modes(mode):
    """0: raw QK, 1: after softcap, 2: plus the mask, 3: after softmax."""
    check([r(2, 2, 4, 8) * 2, r(2, 2, 6, 8), r(2, 2, 6, 8), r(4, 6)], n_outputs=4, qk_matmul_output_mode=mode,
          softcap=2.0)


def test_softmax_precision_double():
    check([r(2, 2, 4, 8), r(2, 2, 6, 8), r(2, 2, 6, 8)], softmax_precision=11)


def test_nonpad_kv_seqlen():
    """Opset 24: keys past each batch's count are padding; with is_causal the
    queries end at the last valid key."""
    q, k, v = r(3, 2, 2, 8), r(3, 2, 6, 8), r(3, 2, 6, 8)
    lens = np.array([6, 3, 2], np.int64)
    check([q, k, v, None, None, None, lens], opset=24)
    check([q, k, v, None, None, None, lens], opset=24, is_causal=1)
    check([q, k, v, rng.uniform(size=(3, 1, 2, 6)) < 0.8, None, None, lens], opset=24, is_causal=1)


@pytest.mark.parametrize("left,right,causal", [(2, -1, 1), (1, 2, 0), (0, 0, 0), (-1, 1, 0)])
def test_sliding_window(left, right, causal):
    check([r(2, 2, 5, 8), r(2, 2, 5, 8), r(2, 2, 5, 8)], opset=25, left_window_size=left, right_window_size=right,
          is_causal=causal)


def test_threads_split_rows_without_changing_them():
    """Query rows run in parallel; each is computed the same whatever the thread count."""
    args = [r(2, 4, 9, 8), r(2, 2, 7, 8), r(2, 2, 7, 8), r(9, 7)]
    one = check(args, n_outputs=4, threads=1, is_causal=1, qk_matmul_output_mode=3)
    for threads in (2, 3):
        for a, b in zip(one, check(args, n_outputs=4, threads=threads, is_causal=1, qk_matmul_output_mode=3)):
            np.testing.assert_array_equal(a, b)


# ---- float16 ----------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["plain", "gqa_causal_past", "mask_mode3", "softmax_precision_float"])
def test_float16_follows_onnx_rounding(case):
    """float16 rounds at each step where ONNX's definition computes in float16;
    ONNX's reference evaluator is that definition, and rtol 1e-3 / atol 1e-7
    are ONNX's own backend-suite tolerances for it (float16's epsilon is ~1e-3).
    Not softcap: the evaluator's float32 attribute promotes everything after
    it to float32, against the spec's "softmax in the input's precision"."""
    from onnx.reference import ReferenceEvaluator
    h = np.float16
    q, k, v = rng.uniform(size=(2, 4, 3, 8)).astype(h), rng.uniform(size=(2, 2, 5, 8)).astype(h), \
        rng.uniform(size=(2, 2, 5, 8)).astype(h)
    if case == "plain":
        args, kw = [q, k[:, :1].repeat(4, 1), v[:, :1].repeat(4, 1)], {}
    elif case == "gqa_causal_past":
        past = rng.uniform(size=(2, 2, 2, 8)).astype(h)
        args, kw = [q, k, v, None, past, past], {"n_outputs": 3, "is_causal": 1}
    elif case == "mask_mode3":
        args, kw = [q, k, v, rng.uniform(-1, 1, (3, 5)).astype(h)], {"n_outputs": 4, "qk_matmul_output_mode": 3}
    else:
        args, kw = [q, k, v, rng.uniform(size=(3, 5)) < 0.7], {"n_outputs": 4, "qk_matmul_output_mode": 3,
                                                              "softmax_precision": 1, "opset": 24}
    model, feeds = attention(args, **kw)
    want = ReferenceEvaluator(model).run(None, feeds)
    got = pfw_run(to_pfw(model), feeds)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype == h
        np.testing.assert_allclose(g.astype(f32), w.astype(f32), rtol=1e-3, atol=1e-7)


# ---- a decoder block ------------------------------------------------------------------------
def test_decoder_block_with_cache_matches_onnxruntime():
    """A Llama-style step: RMSNorm, Q/K/V projections, rotary positions after a
    3-token cache, grouped-query causal Attention with past/present, output
    projection and residual: the whole block against ONNX Runtime."""
    B, S, P, Hq, Hkv, D = 2, 5, 3, 4, 2, 8
    E = Hq * D
    inits = {"w_norm": r(E), "wq": r(E, Hq * D) / 4, "wk": r(E, Hkv * D) / 4, "wv": r(E, Hkv * D) / 4,
             "wo": r(Hq * D, E) / 4}
    angle = np.arange(16)[:, None] / 10000 ** (np.arange(D // 2)[None] / (D // 2))
    inits.update(cos=np.cos(angle).astype(f32), sin=np.sin(angle).astype(f32),
                 pos=np.tile(np.arange(P, P + S), (B, 1)).astype(np.int64))
    mk = helper.make_node
    nodes = [
        mk("RMSNormalization", ["x", "w_norm"], ["xn"], epsilon=1e-6),
        mk("MatMul", ["xn", "wq"], ["q"]), mk("MatMul", ["xn", "wk"], ["k"]), mk("MatMul", ["xn", "wv"], ["v"]),
        mk("RotaryEmbedding", ["q", "cos", "sin", "pos"], ["qr"], num_heads=Hq),
        mk("RotaryEmbedding", ["k", "cos", "sin", "pos"], ["kr"], num_heads=Hkv),
        mk("Attention", ["qr", "kr", "v", "", "past_k", "past_v"], ["y", "present_k", "present_v"],
           q_num_heads=Hq, kv_num_heads=Hkv, is_causal=1),
        mk("MatMul", ["y", "wo"], ["o"]), mk("Add", ["x", "o"], ["out"]),
    ]
    feeds = {"x": r(B, S, E), "past_k": r(B, Hkv, P, D), "past_v": r(B, Hkv, P, D)}
    model = build(nodes, [value_info(n, f32, a.shape) for n, a in feeds.items()],
                  [value_info("out", f32, (B, S, E)), value_info("present_k", f32, (B, Hkv, P + S, D)),
                   value_info("present_v", f32, (B, Hkv, P + S, D))], inits, opset=23)
    want = ort_run(model, feeds)
    assert_match(pfw_run(to_pfw(model), feeds), want, exact=lambda: reference64(model, feeds))


# ---- bad input -----------------------------------------------------------------------------
def graph_bytes(shapes, attrs, mask_dtype="float32", version=23):
    """An Attention graph written without ONNX's checker, as a file from
    elsewhere may be: the runtime's own checks must name the problem."""
    import pyfw.format as fmt
    from pyfw.ir import Graph

    g = Graph("g", opset=version)
    names = ["q", "k", "v", "mask"][:len(shapes)]
    for n, s in zip(names, shapes):
        g.add_input(n, mask_dtype if n == "mask" else "float32", s)
    g.add_node("Attention", names, ["y"], name="attn", version=version, **attrs)
    g.outputs = ["y"]
    return fmt.to_bytes(g), {n: np.zeros(s, bool if n == "mask" and mask_dtype == "bool" else f32)
                             for n, s in zip(names, shapes)}


@pytest.mark.parametrize("shapes,attrs,match", [
    ([(1, 4, 12), (1, 4, 12), (1, 4, 12)], {}, r"q_num_heads and kv_num_heads"),
    ([(1, 4, 12), (1, 4, 12), (1, 4, 12)], {"q_num_heads": 5, "kv_num_heads": 3}, r"Q.*hidden size 12.*5 heads"),
    ([(1, 2, 4, 8), (1, 2, 4, 6), (1, 2, 4, 8)], {}, r"K.*head size 6, expected 8"),
    ([(1, 3, 4, 8), (1, 2, 4, 8), (1, 2, 4, 8)], {}, r"3 query heads.*2 key/value heads"),
    ([(1, 2, 4, 8), (1, 2, 4, 8), (1, 2, 5, 8)], {}, r"V.*sequence length 5, expected 4"),
    ([(1, 2, 4, 8), (1, 2, 4, 8), (1, 2, 4, 8), (3, 4)], {}, r"attn_mask.*dim 0 is 3.*query length"),
    ([(1, 2, 4, 8), (1, 2, 4, 8), (1, 2, 4, 8), (4, 5)], {}, r"attn_mask.*at most 4"),
    ([(1, 2, 4, 8), (1, 2, 4, 8), (1, 2, 4, 8)], {"qk_matmul_output_mode": 4}, r"qk_matmul_output_mode"),
    ([(1, 2, 4, 8), (1, 2, 4, 8), (1, 2, 4, 8)], {"softcap": -1.0}, r"softcap"),
], ids=["3d_no_heads", "3d_bad_split", "head_size", "gqa_ratio", "v_length", "mask_rows", "mask_too_long",
        "mode", "softcap"])
def test_bad_input_is_named(shapes, attrs, match):
    data, feeds = graph_bytes(shapes, attrs)
    with pytest.raises(pyfw.InvalidModelError, match=f"attn.*{match}"):
        pfw_run(data, feeds)


def test_nonpad_kv_seqlen_out_of_range_is_named():
    model, feeds = attention([r(1, 1, 2, 4), r(1, 1, 3, 4), r(1, 1, 3, 4), None, None, None,
                              np.array([4], np.int64)], opset=24)
    with pytest.raises(ValueError, match=r"nonpad_kv_seqlen.*is 4; expected 0 to 3"):
        pfw_run(to_pfw(model), feeds)


# ---- RotaryEmbedding (opset 23) -----------------------------------------------------------
def rotary(x, cos, sin, ids=None, **attrs):
    from onnx_util import single_op
    args = [x, cos, sin] + ([ids] if ids is not None else [])
    return single_op("RotaryEmbedding", args, opset=23, **attrs)


def caches(rows, half, dtype=f32):
    angle = rng.uniform(0, 6.3, (*rows, half))
    return np.cos(angle).astype(dtype), np.sin(angle).astype(dtype)


@pytest.mark.parametrize("interleaved", [0, 1])
@pytest.mark.parametrize("rotary_dim", [0, 4])
@pytest.mark.parametrize("rank", [3, 4])
@pytest.mark.parametrize("with_ids", [True, False], ids=["position_ids", "per_token_cache"])
def test_rotary_embedding(with_ids, rank, rotary_dim, interleaved):
    B, H, S, D = 2, 3, 5, 8
    x = r(B, H, S, D) if rank == 4 else r(B, S, H * D)
    half = (rotary_dim or D) // 2
    attrs = {"interleaved": interleaved, "rotary_embedding_dim": rotary_dim}
    if rank == 3:
        attrs["num_heads"] = H
    if with_ids:
        cos, sin = caches((12,), half)
        model, feeds = rotary(x, cos, sin, rng.integers(0, 12, (B, S)), **attrs)
    else:
        cos, sin = caches((B, S), half)
        model, feeds = rotary(x, cos, sin, **attrs)
    want = ort_run(model, feeds)
    assert_match(pfw_run(to_pfw(model), feeds), want, exact=lambda: reference64(model, feeds))


def test_rotary_embedding_float64_closed_form():
    """ONNX's schema stops at float32 (so neither ONNX Runtime nor the checker
    takes float64); libpfw runs it, checked against the rotation written out."""
    import pyfw.format as fmt
    from pyfw.ir import Graph

    x = r(1, 2, 3, 6, dtype=f64)
    cos, sin = caches((4,), 3, f64)
    ids = np.array([[3, 0, 2]], np.int64)
    g = Graph("g", opset=23)
    for n, a in (("x", x), ("cos", cos), ("sin", sin), ("ids", ids)):
        g.add_input(n, str(a.dtype), a.shape)
    g.add_node("RotaryEmbedding", ["x", "cos", "sin", "ids"], ["y"], name="rope", version=23)
    g.outputs = ["y"]
    got = pfw_run(fmt.to_bytes(g), {"x": x, "cos": cos, "sin": sin, "ids": ids})[0]
    c, s = cos[ids][:, None], sin[ids][:, None]  # (1, 1, 3, 3)
    x1, x2 = x[..., :3], x[..., 3:]
    np.testing.assert_allclose(got, np.concatenate([c * x1 - s * x2, s * x1 + c * x2], -1), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("absent", [1, 2])
def test_rotary_absent_cache_with_position_ids_is_named(absent):
    """A file whose cos or sin cache is left out (found by the fuzzer: with
    position_ids, the cos cache's rows were read before it was checked)."""
    import pyfw.format as fmt
    from pyfw.ir import Graph

    g = Graph("g", opset=23)
    feeds = {"x": r(1, 2, 3, 6), "cos": caches((4,), 3)[0], "sin": caches((4,), 3)[1],
             "ids": np.array([[3, 0, 2]], np.int64)}
    names = ["x", "cos", "sin", "ids"]
    names[absent] = ""
    for n in names:
        if n:
            g.add_input(n, str(feeds[n].dtype), feeds[n].shape)
    g.add_node("RotaryEmbedding", names, ["y"], name="rope", version=23)
    g.outputs = ["y"]
    with pytest.raises(pyfw.InvalidModelError, match=f"'rope'.*input {absent} is required but absent"):
        pfw_run(fmt.to_bytes(g), {n: feeds[n] for n in names if n})


def test_rotary_position_out_of_range_is_named():
    cos, sin = caches((4,), 4)
    model, feeds = rotary(r(1, 1, 2, 8), cos, sin, np.array([[0, 4]], np.int64))
    with pytest.raises(ValueError, match=r"position_ids\) \[0, 1\] is 4; expected 0 to 3"):
        pfw_run(to_pfw(model), feeds)


# ---- IR shape inference ------------------------------------------------------------------
SHAPES = {
    "attention_4d": ("Attention", [("q", [2, 3, 4, 8]), ("k", [2, 3, 6, 8]), ("v", [2, 3, 6, 5])], {}, 23, 1),
    "attention_3d_gqa": ("Attention", [("q", ["B", 4, 24]), ("k", ["B", 6, 8]), ("v", ["B", 6, 10])],
                         {"q_num_heads": 6, "kv_num_heads": 2}, 23, 1),
    "attention_past": ("Attention", [("q", [2, 3, 4, 8]), ("k", [2, 3, 6, 8]), ("v", [2, 3, 6, 8]), ("m", [4, 9]),
                                     ("pk", [2, 3, 3, 8]), ("pv", [2, 3, 3, 8])], {}, 23, 4),
    "rms_norm": ("RMSNormalization", [("x", ["N", 3, 8]), ("w", [8])], {}, 23, 1),
    "rotary": ("RotaryEmbedding", [("x", [2, 3, 5, 8]), ("c", [2, 5, 4]), ("s", [2, 5, 4])], {}, 23, 1),
}


@pytest.mark.parametrize("case", SHAPES)
def test_shapes_match_onnx_shape_inference(case):
    from test_shapes import ours, oracle, single
    op, ins, attrs, opset, n_out = SHAPES[case]
    model = single(op, ins, attrs, opset, n_out)
    assert ours(model) == oracle(model)
