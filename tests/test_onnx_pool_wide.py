"""Pools over windows too wide to walk one by one (ops/pool_wide.c: one 1-D
pass per axis with a doubling table): MaxPool (float32, uint8, int8),
AveragePool and LpPool against ONNX Runtime, and MaxPool against a NumPy
window-by-window reference, at every kernel level and thread count; NaN,
-inf and windows wholly in the padding give what the window walk gives."""
import numpy as np
import pytest

from onnx_util import check, pfw_run, single_op, to_pfw

rng = np.random.default_rng(21)


def reference(x, kernel, strides, pads, dilations, out):
    """Window-by-window max over the taps inside the input; NaN and -inf
    count as -FLT_MAX, as does a window with no input."""
    lowest = np.float32(-np.finfo(np.float32).max)
    mapped = np.where(x > lowest, x, lowest).astype(np.float32)
    n = len(kernel)
    y = np.empty(x.shape[:2] + tuple(out), np.float32)
    for o in np.ndindex(*out):
        idx = []
        for a in range(n):
            start = o[a] * strides[a] - pads[a]
            taps = [start + t * dilations[a] for t in range(kernel[a])]
            idx.append([i for i in taps if 0 <= i < x.shape[2 + a]])
        window = mapped[(slice(None), slice(None)) + np.ix_(*idx)] if all(idx) else None
        y[(slice(None), slice(None)) + o] = lowest if window is None else window.reshape(x.shape[:2] + (-1,)).max(-1)
    return y


MAX = [
    ((1, 2, 120, 160), dict(kernel_shape=[70, 90])),
    ((1, 1, 300, 300), dict(kernel_shape=[80, 64], strides=[3, 2], dilations=[1, 2])),
    ((2, 1, 100, 120), dict(kernel_shape=[90, 100], pads=[40, 50, 45, 55], strides=[2, 2])),
    ((1, 1, 200, 200), dict(kernel_shape=[64, 64], strides=[2, 2], ceil_mode=1, pads=[3, 3, 3, 3])),
    ((1, 2, 4000), dict(kernel_shape=[1500], strides=[1])),
    ((1, 1, 3000), dict(kernel_shape=[700], dilations=[3], pads=[500, 650])),
    ((1, 1, 20, 30, 40), dict(kernel_shape=[12, 20, 25], pads=[2, 3, 4, 5, 6, 7])),
]
AVG = [
    ((1, 2, 120, 160), dict(kernel_shape=[70, 90])),
    ((2, 1, 100, 120), dict(kernel_shape=[90, 100], pads=[40, 50, 45, 55], strides=[2, 2])),
    ((2, 1, 100, 120), dict(kernel_shape=[90, 100], pads=[40, 50, 45, 55], strides=[2, 2], count_include_pad=1)),
    ((1, 1, 200, 200), dict(kernel_shape=[64, 64], strides=[2, 2], ceil_mode=1, pads=[3, 3, 3, 3],
                            count_include_pad=1)),
    ((1, 2, 4000), dict(kernel_shape=[1500], strides=[1])),
    ((1, 1, 20, 30, 40), dict(kernel_shape=[12, 20, 25], pads=[2, 3, 4, 5, 6, 7])),
]
CASES = [("MaxPool", s, a) for s, a in MAX] + [("AveragePool", s, a) for s, a in AVG]


@pytest.mark.parametrize("op, shape, attrs", CASES,
                         ids=[f"{op}-{len(s) - 2}d-{k}" for k, (op, s, _) in enumerate(CASES)])
@pytest.mark.parametrize("threads", [1, 3])
def test_wide_pool_matches_onnx_runtime(op, shape, attrs, threads):
    x = rng.standard_normal(shape).astype(np.float32)
    check(*single_op(op, [x], **attrs), threads=threads)


@pytest.mark.parametrize("isa", ["scalar", None])
def test_wide_maxpool_nan_inf_and_padding_windows(monkeypatch, isa):
    """NaN and -inf inside wide windows, windows that see only padding or
    only NaN: equal to the window-by-window reference bit for bit."""
    if isa:
        monkeypatch.setenv("PFW_ISA", isa)
    x = rng.standard_normal((1, 2, 90, 110)).astype(np.float32)
    x[0, 0, :30, :] = np.nan          # windows of nothing but NaN
    x[0, 1, 10:20, 10:100] = -np.inf
    x[0, 1, 50, 60] = np.nan
    kernel, strides, pads, dil = [40, 70], [2, 3], [60, 10, 5, 80], [1, 1]
    model, feeds = single_op("MaxPool", [x], kernel_shape=kernel, strides=strides, pads=pads)
    got = pfw_run(to_pfw(model), feeds)[0]
    out = got.shape[2:]
    want = reference(x, kernel, strides, pads[:2], dil, out)
    np.testing.assert_array_equal(got, want)
    assert (got == -np.finfo(np.float32).max).any()  # windows with no value count


@pytest.mark.parametrize("p", [1, 2, 3])
def test_wide_lppool_matches_onnx_runtime(p):
    x = rng.standard_normal((1, 2, 100, 110)).astype(np.float32)
    check(*single_op("LpPool", [x], kernel_shape=[60, 70], strides=[1, 2], p=p))


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("attrs", [dict(kernel_shape=[70, 90]),
                                   dict(kernel_shape=[64, 64], strides=[2, 3], pads=[30, 10, 20, 40])])
def test_wide_quantized_maxpool(dtype, attrs):
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max + 1, (1, 2, 150, 160)).astype(dtype)
    check(*single_op("MaxPool", [x], **attrs))


BANDED = [((1, 1, 200, 240), dict(kernel_shape=[64, 96], pads=[60, 10, 10, 10])),
          ((1, 1, 20, 30, 100), dict(kernel_shape=[12, 20, 60], strides=[1, 2, 1], pads=[5, 0, 30, 5, 0, 0]))]


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool", "LpPool"])
@pytest.mark.parametrize("shape, attrs", BANDED, ids=["2d", "3d"])
@pytest.mark.parametrize("threads", [1, 3])
def test_wide_pool_in_bands_under_a_memory_limit(op, shape, attrs, threads):
    """Under an arena limit too small for a whole plane's passes, the plane
    runs in bands of output columns: the same outputs bit for bit (each
    window's taps meet in the same order), and ONNX Runtime's to tolerance."""
    from pyfw.runtime import Interpreter
    x = rng.standard_normal(shape).astype(np.float32)
    model, feeds = single_op(op, [x], **attrs)
    want = check(model, feeds, threads=threads)[0]
    pfw = to_pfw(model)
    for limit in (1 << 20, 600 << 10, 500 << 10):
        with Interpreter(pfw, threads=threads, arena_limit=limit) as it:
            np.testing.assert_array_equal(it.run(feeds)[0], want, err_msg=f"arena_limit={limit}")


@pytest.mark.parametrize("threads", [1, 2])
def test_long_1d_window_in_narrow_bands(threads):
    """A 15,000-tap window over 40,000 values under a 1 MiB arena: a band's
    lines hold only the inputs its windows reach, so it runs in bands of a
    few hundred outputs; every output equals NumPy's sliding-window max."""
    from pyfw.runtime import Interpreter
    x = rng.standard_normal((1, 1, 40000)).astype(np.float32)
    model, feeds = single_op("MaxPool", [x], kernel_shape=[15000])
    want = np.lib.stride_tricks.sliding_window_view(x, 15000, axis=2).max(-1)
    with Interpreter(to_pfw(model), threads=threads, arena_limit=1 << 20) as it:
        np.testing.assert_array_equal(it.run(feeds)[0], want)
    np.testing.assert_array_equal(pfw_run(to_pfw(model), feeds, threads)[0], want)
