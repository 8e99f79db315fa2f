"""Conv 3x3 stride 1 by Winograd F(4x4, 3x3) (runtime_c/src/ops/conv_winograd.c),
which the AVX2 and AVX-512 levels take for 2-D single-group convs with at
least 16 input and output channels and 16 output tiles.

The oracle is ONNX's reference evaluator in float64. Winograd's error is not
bounded by the direct sum's: the transforms add and subtract scaled values.
Following the algorithm's steps (the input transform B^T d B, two passes
of at most 3 roundings; U = G g G^T rounded once; C fused multiply-adds;
the output transform A^T m A, two passes of at most 3 roundings; the bias)
each output is within (C + 16) * 2^-24 times its magnitude bound
|A^T| (sum_c |G| |g_c| |G^T| (.) |B^T| |d_c| |B|) |A| + |bias|,
which this file computes in float64 from the matrices of Lavin & Gray's
paper, tile by tile, independently of pyfw."""
import numpy as np
import pytest
from onnx import helper

import pyfw.format
from onnx_util import Init, build, pfw_run, reference64, single_op, to_pfw, value_info
from pyfw.cli import onnx_to_graph
from test_cpu_dispatch import ISAS

BT = np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
               [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], np.float64)
G = np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
              [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]], np.float64)
AT = np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]], np.float64)

LEVELS = [isa for isa in ISAS if isa in ("avx2", "avx512")]
rng = np.random.default_rng(43)


def winograd_bound(x, w, b, pads):
    """(C + 16) 2^-24 times the magnitude bound of the module docstring."""
    n, c, h, wd = x.shape
    m = w.shape[0]
    pt, pl, pb, pr = pads
    ho, wo = h + pt + pb - 2, wd + pl + pr - 2
    th, tw = -(-ho // 4), -(-wo // 4)
    xp = np.zeros((n, c, 4 * th + 2, 4 * tw + 2))
    xp[:, :, pt:pt + h, pl:pl + wd] = np.abs(x)
    tiles = np.stack([np.stack([xp[:, :, 4 * i:4 * i + 6, 4 * j:4 * j + 6] for j in range(tw)], 2)
                      for i in range(th)], 2)  # n, c, th, tw, 6, 6
    v = np.einsum("ab,ncijbd,ed->ncijae", np.abs(BT), tiles, np.abs(BT))
    u = np.einsum("ab,mcbd,ed->mcae", np.abs(G), np.abs(w.astype(np.float64)), np.abs(G))
    prod = np.einsum("mcae,ncijae->nmijae", u, v)
    out = np.einsum("ab,nmijbd,ed->nmijae", np.abs(AT), prod, np.abs(AT))  # n, m, th, tw, 4, 4
    mag = out.transpose(0, 1, 2, 4, 3, 5).reshape(n, m, 4 * th, 4 * tw)[:, :, :ho, :wo]
    if b is not None:
        mag = mag + np.abs(b.astype(np.float64))[None, :, None, None]
    return (c + 16) * 2.0 ** -24 * mag


def case(x_shape, m, pads=(1, 1, 1, 1), bias=True):
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = (rng.standard_normal((m, x_shape[1], 3, 3)) / np.sqrt(9 * x_shape[1])).astype(np.float32)
    b = rng.standard_normal(m).astype(np.float32) if bias else None
    return x, w, b, list(pads)


# Shapes around the tile (4), the micro-kernel rows (6, 8), the vectors (8,
# 16), the K block (256), the block of tiles, and the tile rows a block
# crosses; asymmetric and no padding; batches.
CASES = {
    "56x56_c64": lambda: case((1, 64, 56, 56), 64),
    "odd_17x19": lambda: case((1, 16, 17, 19), 24),
    "m37_no_bias": lambda: case((1, 19, 21, 13), 37, bias=False),
    "c300_k_blocks": lambda: case((1, 300, 14, 14), 70),
    "no_padding": lambda: case((1, 32, 18, 22), 16, pads=(0, 0, 0, 0)),
    "asymmetric_pads": lambda: case((1, 24, 15, 16), 40, pads=(0, 2, 2, 1)),
    "batch3": lambda: case((3, 20, 9, 11), 33),
    "wide_row": lambda: case((1, 16, 6, 150), 16),
    "13x13_c384": lambda: case((1, 384, 13, 13), 48),
}


def conv_model(x, w, b, pads, act=None, **act_attrs):
    args = [x, Init(w)] + ([Init(b)] if b is not None else [])
    if act is None:
        return single_op("Conv", args, pads=pads)
    inits = {"w": w} | ({"b": b} if b is not None else {})
    nodes = [helper.make_node("Conv", ["x", "w"] + (["b"] if b is not None else []), ["y"], pads=pads),
             helper.make_node(act, ["y", "lo", "hi"] if act == "Clip" else ["y"], ["z"], **act_attrs)]
    if act == "Clip":
        inits |= {"lo": np.float32(0), "hi": np.float32(6)}
    model = build(nodes, [value_info("x", np.float32, x.shape)], [value_info("z", np.float32, None)], inits)
    return model, {"x": x}


@pytest.mark.skipif(not LEVELS, reason="needs an AVX2 or AVX-512 CPU")
@pytest.mark.parametrize("isa", LEVELS)
@pytest.mark.parametrize("name", list(CASES))
def test_within_the_winograd_error_bound(name, isa, monkeypatch):
    monkeypatch.setenv("PFW_ISA", isa)
    x, w, b, pads = CASES[name]()
    model, feeds = conv_model(x, w, b, pads)
    got = pfw_run(to_pfw(model), feeds)[0]
    exact = reference64(model, feeds)[0]
    bound = winograd_bound(x, w, b, pads)
    assert got.shape == exact.shape
    err = np.abs(got - exact)
    worst = np.unravel_index(np.argmax(err - bound), err.shape)
    assert np.all(err <= bound), f"{name} at {isa}: |error| {err[worst]:.3g} > bound {bound[worst]:.3g} at {worst}"


ACTS = {  # activation, its attributes, its Lipschitz constant, exact form
    "Relu": ({}, 1.0, lambda y: np.maximum(y, 0)),
    "Clip": ({}, 1.0, lambda y: np.clip(y, 0, 6)),
    "LeakyRelu": ({"alpha": 0.1}, 1.0, lambda y: np.where(y >= 0, y, 0.1 * y)),
}


@pytest.mark.skipif(not LEVELS, reason="needs an AVX2 or AVX-512 CPU")
@pytest.mark.parametrize("isa", LEVELS)
@pytest.mark.parametrize("act", list(ACTS))
def test_fused_activation(act, isa, monkeypatch):
    """Relu and Clip ride in the output transform; LeakyRelu runs after it."""
    monkeypatch.setenv("PFW_ISA", isa)
    x, w, b, pads = case((1, 32, 19, 23), 48)
    attrs, lipschitz, exact_act = ACTS[act]
    model, feeds = conv_model(x, w, b, pads, act, **attrs)
    graph = onnx_to_graph(model)
    assert [n.op_type for n in graph.nodes] == ["Conv"], "the activation should be fused into the Conv"
    got = pfw_run(pyfw.format.to_bytes(graph), feeds)[0]
    pre = reference64(*conv_model(x, w, b, pads))[0]
    exact = exact_act(pre)
    bound = lipschitz * winograd_bound(x, w, b, pads) + 2.0 ** -24 * np.abs(exact)
    assert np.all(np.abs(got - exact) <= bound)


@pytest.mark.skipif(not LEVELS, reason="needs an AVX2 or AVX-512 CPU")
@pytest.mark.parametrize("isa", LEVELS)
def test_bit_identical_at_every_thread_count(isa, monkeypatch):
    """Blocks of tiles depend on the thread count; each output's arithmetic does not."""
    monkeypatch.setenv("PFW_ISA", isa)
    for name in ("56x56_c64", "batch3", "13x13_c384"):
        x, w, b, pads = CASES[name]()
        model, feeds = conv_model(x, w, b, pads)
        data = to_pfw(model)
        one = pfw_run(data, feeds, threads=1)[0]
        for threads in (2, 3, 4):
            assert pfw_run(data, feeds, threads=threads)[0].tobytes() == one.tobytes(), (name, threads)
