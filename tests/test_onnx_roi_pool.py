"""MaxRoiPool: regions inside, across and outside the image, reversed
corners, fractional corners that round, empty bins; float32 and float64.

Oracles: a NumPy version written here from ONNX's definition with Caffe's
arithmetic (bins in float32, corners rounded half away from zero, a bin's max
over its non-NaN pixels, an empty bin 0), and ONNX Runtime where ONNX Runtime
gives the true max. ONNX Runtime starts each bin at FLT_MIN (the smallest
positive float, not the lowest), so a bin of negative pixels comes out as
1.2e-38 there, and its std::max keeps a NaN until the next pixel; pyfw gives
the max, as Caffe's RoI pooling (which MaxRoiPool comes from) does."""
import numpy as np
import pytest

from onnx_util import Init, ort_run, pfw_run, single_op, to_pfw

rng = np.random.default_rng(11)
F32 = np.float32


def reference(x, rois, pooled, scale):
    n, c, h, w = x.shape
    out = np.zeros((len(rois), c, *pooled), x.dtype)
    lowest = np.finfo(x.dtype).min
    for r, roi in enumerate(rois):
        b = int(roi[0])
        x1, y1, x2, y2 = (int(np.copysign(np.floor(abs(v) + 0.5), v)) for v in (roi[1:].astype(F32) * F32(scale)))
        rh, rw = max(y2 - y1 + 1, 1), max(x2 - x1 + 1, 1)
        bh, bw = F32(rh) / F32(pooled[0]), F32(rw) / F32(pooled[1])
        for ph in range(pooled[0]):
            h0 = min(max(int(np.floor(F32(ph) * bh)) + y1, 0), h)
            h1 = min(max(int(np.ceil(F32(ph + 1) * bh)) + y1, 0), h)
            for pw in range(pooled[1]):
                w0 = min(max(int(np.floor(F32(pw) * bw)) + x1, 0), w)
                w1 = min(max(int(np.ceil(F32(pw + 1) * bw)) + x1, 0), w)
                if h1 <= h0 or w1 <= w0:
                    continue
                patch = x[b, :, h0:h1, w0:w1].reshape(c, -1)
                out[r, :, ph, pw] = [np.max(p[~np.isnan(p)], initial=lowest) for p in patch]
    return out


def rois(count, batch, extent):
    """Random (batch, x1, y1, x2, y2) rows: corners anywhere in [-extent/4, 5 extent/4), some reversed."""
    r = np.empty((count, 5))
    r[:, 0] = rng.integers(0, batch, count)
    r[:, 1:] = rng.uniform(-extent / 4, extent * 1.25, (count, 4))
    return r


@pytest.mark.parametrize("pooled,scale", [((2, 2), 1.0), ((3, 5), 0.5), ((7, 7), 0.0625), ((1, 1), 1.0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_roi_pool(pooled, scale, dtype):
    x = rng.standard_normal((2, 3, 11, 13)).astype(F32)
    r = rois(12, 2, 13 / scale).astype(F32)
    r[0, 1:] = [0.5, 1.5, 2.5, 3.5]  # corners on .5: round half away from zero
    r[1, 1:] = [5, 5, 1, 1]          # reversed: a one-pixel region
    r[2, 1:] = [40 / scale, 0, 50 / scale, 3]  # wholly outside: empty bins
    want = reference(x, r, pooled, scale)
    model, feeds = single_op("MaxRoiPool", [x.astype(dtype), r.astype(dtype)], opset=13, pooled_shape=list(pooled),
                             spatial_scale=scale)
    (got,) = pfw_run(to_pfw(model), feeds)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, want.astype(dtype))
    if dtype == np.float32:  # ONNX Runtime has float32 only; where it gives the max, it agrees
        (ort,) = ort_run(model, feeds)
        true_max = (ort != np.finfo(F32).tiny) | (want > 0)
        assert true_max.mean() > 0.5
        np.testing.assert_array_equal(got[true_max], ort[true_max])


def test_max_roi_pool_nan_pixels_are_passed_over():
    x = rng.standard_normal((1, 2, 6, 6)).astype(F32)
    x[0, 0, :3, :3] = np.nan
    r = np.array([[0, 0, 0, 5, 5], [0, 1, 1, 2, 2], [0, 4, 4, 9, 9]], F32)
    model, feeds = single_op("MaxRoiPool", [x, Init(r)], opset=13, pooled_shape=[3, 3])
    (got,) = pfw_run(to_pfw(model), feeds)
    np.testing.assert_array_equal(got, reference(x, r, (3, 3), 1.0))
    assert got[0, 0, 0, 0] == np.finfo(F32).min  # all NaN: Caffe's -FLT_MAX start


def test_max_roi_pool_bad_batch_index_is_named():
    x = np.zeros((2, 1, 4, 4), F32)
    r = np.array([[0, 0, 0, 1, 1], [2, 0, 0, 1, 1]], F32)
    model, feeds = single_op("MaxRoiPool", [x, r], opset=13, pooled_shape=[2, 2])
    with pytest.raises(ValueError, match=r"roi 1 has batch index 2, outside \[0, 2\)"):
        pfw_run(to_pfw(model), feeds)
