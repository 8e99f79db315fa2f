"""Run-time kernel dispatch (runtime_c/src/cpu.c): PFW_ISA forces a level,
a bad value is a clear error, every level this CPU runs is correct on the ops
that have SIMD kernels (packed-GEMM Conv, depthwise Conv, Gemm, MatMul,
pooling), and outputs are bit-identical at 1, 2, 3 and 4 threads at every
level.

The oracle for the ops is ONNX's reference evaluator in float64. The SIMD
levels sum in float32 (the scalar level in double), so each output may be
off the exact value by what a float sum of K products can be:
(K + 4) * 2^-24 * sum |terms|. The sum of |terms| is the same model run on
|weights| and |inputs| in float64."""
import platform
import sys
from pathlib import Path

import numpy as np
import pytest

import pyfw
import onnx
from onnx import numpy_helper

from onnx_util import Init, pfw_run, reference64, single_op, to_pfw
from pyfw.runtime import Interpreter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import models  # noqa: E402

X86 = platform.machine().lower() in ("x86_64", "amd64")
CANDIDATES = ["scalar", "avx2", "avx512"] if X86 else ["scalar", "neon"]


def _relu_model():
    model, _ = single_op("Relu", [np.zeros((1, 4), np.float32)])
    return to_pfw(model)


def _supported(isa):
    import os
    old = os.environ.get("PFW_ISA")
    os.environ["PFW_ISA"] = isa
    try:
        Interpreter(_relu_model()).close()
        return True
    except pyfw.UnsupportedError:
        return False
    finally:
        if old is None:
            del os.environ["PFW_ISA"]
        else:
            os.environ["PFW_ISA"] = old


ISAS = [isa for isa in CANDIDATES if _supported(isa)]


def test_unknown_isa_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("PFW_ISA", "sse9")
    with pytest.raises(ValueError, match=r"PFW_ISA='sse9' is not one of scalar, avx2, avx512, neon"):
        Interpreter(_relu_model())


def test_unsupported_isa_is_a_clear_error(monkeypatch):
    other = "neon" if X86 else "avx2"
    monkeypatch.setenv("PFW_ISA", other)
    with pytest.raises(pyfw.UnsupportedError, match=rf"PFW_ISA={other}, but this CPU \(or build\) lacks it"):
        Interpreter(_relu_model())


def test_scalar_is_always_available():
    assert "scalar" in ISAS and len(ISAS) >= 1


rng = np.random.default_rng(7)


def _conv(x_shape, w_shape, bias=True, **attrs):
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = (rng.standard_normal(w_shape) / np.sqrt(np.prod(w_shape[1:]))).astype(np.float32)
    args = [x, Init(w)] + ([Init(rng.standard_normal(w_shape[0]).astype(np.float32))] if bias else [])
    return single_op("Conv", args, **attrs)


def _mm(a_shape, b_shape, b_init=False):
    a = rng.standard_normal(a_shape).astype(np.float32)
    b = rng.standard_normal(b_shape).astype(np.float32)
    return single_op("MatMul", [a, Init(b) if b_init else b])


def _gemm():
    a = rng.standard_normal((7, 259)).astype(np.float32)
    b = rng.standard_normal((33, 259)).astype(np.float32)
    c = rng.standard_normal(33).astype(np.float32)
    return single_op("Gemm", [a, Init(b), Init(c)], transB=1, alpha=0.5, beta=2.0)


# (model builder, K: terms per output). Shapes around the micro-kernel tiles
# (6x16, 8x32) and the K block (256).
OPS = {
    "conv3x3": (lambda: _conv((1, 13, 17, 19), (37, 13, 3, 3), pads=[1, 1, 1, 1]), 13 * 9),
    "conv_strided_dilated": (lambda: _conv((2, 5, 23, 20), (9, 5, 3, 2), strides=[2, 3], dilations=[2, 1],
                                           pads=[2, 0, 1, 1]), 5 * 6),
    "conv1x1_deep": (lambda: _conv((1, 300, 7, 7), (33, 300, 1, 1), bias=False), 300),
    "conv1x1_strided": (lambda: _conv((1, 64, 15, 15), (17, 64, 1, 1), strides=[2, 2]), 64),
    "conv_groups": (lambda: _conv((1, 12, 9, 9), (18, 4, 3, 3), group=3, pads=[1, 1, 1, 1]), 36),
    "conv_depthwise": (lambda: _conv((1, 19, 21, 18), (19, 1, 3, 3), group=19, pads=[1, 1, 1, 1],
                                     strides=[2, 2]), 9),
    "conv1d": (lambda: _conv((3, 6, 40), (10, 6, 5), pads=[2, 2]), 30),
    "conv3d": (lambda: _conv((1, 4, 6, 7, 8), (5, 4, 3, 3, 3), pads=[1, 1, 1, 1, 1, 1]), 108),
    "gemm_transB": (_gemm, 259),
    "gemm_transA": (lambda: single_op("Gemm", [rng.standard_normal((40, 3)).astype(np.float32),
                                               rng.standard_normal((40, 17)).astype(np.float32)], transA=1), 40),
    "matmul_batched": (lambda: _mm((2, 3, 13, 70), (3, 70, 19)), 70),
    "matmul_weights": (lambda: _mm((2, 9, 64), (64, 50), b_init=True), 64),
    "matmul_vector": (lambda: _mm((31,), (4, 31, 5)), 31),
    "maxpool": (lambda: single_op("MaxPool", [rng.standard_normal((1, 5, 17, 14)).astype(np.float32)],
                                  kernel_shape=[3, 3], strides=[2, 2], pads=[1, 0, 1, 1], ceil_mode=1), 9),
    "avgpool": (lambda: single_op("AveragePool", [rng.standard_normal((2, 3, 11, 9)).astype(np.float32)],
                                  kernel_shape=[3, 2], pads=[1, 1, 1, 0], count_include_pad=0), 6),
}


def _magnitudes(model, feeds):
    """sum |terms| per output: the model on |initializers| and |inputs|."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for i, init in enumerate(m.graph.initializer):
        m.graph.initializer[i].CopyFrom(numpy_helper.from_array(np.abs(numpy_helper.to_array(init)), init.name))
    return reference64(m, {k: np.abs(v) for k, v in feeds.items()})


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("op", list(OPS))
def test_level_is_within_float_summation_error(op, isa, monkeypatch):
    monkeypatch.setenv("PFW_ISA", isa)
    build, K = OPS[op]
    model, feeds = build()
    got = pfw_run(to_pfw(model), feeds)
    exact = reference64(model, feeds)
    mags = _magnitudes(model, feeds)
    assert len(got) == len(exact)
    for g, e, mag in zip(got, exact, mags):
        assert g.shape == e.shape and g.dtype == np.float32
        bound = (K + 4) * 2.0 ** -24 * mag
        err = np.abs(g.astype(np.float64) - e)
        worst = np.unravel_index(np.argmax(err - bound), err.shape)
        assert np.all(err <= bound), f"{op} at {isa}: |error| {err[worst]:.3g} > bound {bound[worst]:.3g} at {worst}"


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("name", ["mobilenet_v2", "transformer", "resnet18"])
def test_outputs_are_bit_identical_at_every_thread_count(name, isa, monkeypatch):
    monkeypatch.setenv("PFW_ISA", isa)
    model = models.MODELS[name]()
    data, feeds = to_pfw(model), models.feeds(model)
    one = pfw_run(data, feeds, threads=1)
    for threads in (2, 3, 4):
        got = pfw_run(data, feeds, threads=threads)
        for a, b in zip(one, got):
            assert a.tobytes() == b.tobytes(), f"{name} at {isa}: {threads} threads differ from 1"
