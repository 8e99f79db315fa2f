"""DeformConv and RoiAlign, which pyfw imports as standard ops
(pyfw/onnx/decompose_vision.py): random shapes, groups, strides, dilations,
pads, masks, RoIs partly outside the image, both coordinate modes and both
pooling modes, against ONNX's reference evaluator and ONNX Runtime."""
import numpy as np
import pytest
from onnx.reference import ReferenceEvaluator

import pyfw.onnx
from onnx_util import Init, ort_run, pfw_run, single_op, to_pfw
from pyfw import UnsupportedError

f32 = np.float32


def agree(model, feeds, ort=True, rtol=1e-5, atol=1e-5):
    got = pfw_run(to_pfw(model), feeds)[0]
    np.testing.assert_allclose(got, ReferenceEvaluator(model).run(None, feeds)[0], rtol=rtol, atol=atol)
    if ort:
        np.testing.assert_allclose(got, ort_run(model, feeds)[0], rtol=rtol, atol=atol)
    return got


@pytest.mark.parametrize("case", [
    dict(n=1, c=1, oc=1, hw=(5, 5), k=(3, 3)),
    dict(n=2, c=4, oc=6, hw=(7, 6), k=(3, 3), group=2, offset_group=2, mask=True, bias=True),
    dict(n=1, c=3, oc=2, hw=(8, 9), k=(2, 3), strides=[2, 1], dilations=[1, 2], pads=[1, 0, 2, 1], mask=True),
    dict(n=2, c=2, oc=4, hw=(6, 6), k=(3, 3), offset_group=2, pads=[1, 1, 1, 1], big=True),
])
def test_deform_conv(case):
    rng = np.random.default_rng(len(str(case)))
    kh, kw = case["k"]
    group, groups = case.get("group", 1), case.get("offset_group", 1)
    strides, dil, pads = case.get("strides", [1, 1]), case.get("dilations", [1, 1]), case.get("pads", [0, 0, 0, 0])
    h, w = case["hw"]
    oh = (h + pads[0] + pads[2] - (kh - 1) * dil[0] - 1) // strides[0] + 1
    ow = (w + pads[1] + pads[3] - (kw - 1) * dil[1] - 1) // strides[1] + 1
    x = rng.normal(size=(case["n"], case["c"], h, w)).astype(f32)
    weight = rng.normal(size=(case["oc"], case["c"] // group, kh, kw)).astype(f32)
    spread = 3.0 if case.get("big") else 0.7  # "big": many taps land outside the image
    offset = (rng.normal(size=(case["n"], groups * 2 * kh * kw, oh, ow)) * spread).astype(f32)
    args = [x, Init(weight), offset, Init(rng.normal(size=case["oc"]).astype(f32)) if case.get("bias") else None,
            rng.uniform(size=(case["n"], groups * kh * kw, oh, ow)).astype(f32) if case.get("mask") else None]
    attrs = dict(kernel_shape=[kh, kw], group=group, offset_group=groups, strides=strides, dilations=dil, pads=pads)
    model, feeds = single_op("DeformConv", args, opset=19, **attrs)
    got = agree(model, feeds)
    assert got.shape == (case["n"], case["oc"], oh, ow)


def test_deform_conv_with_zero_offsets_is_conv():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(1, 3, 6, 7)).astype(f32)
    weight = rng.normal(size=(4, 3, 3, 3)).astype(f32)
    attrs = dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 2])
    conv, _ = single_op("Conv", [x, Init(weight)], **attrs)
    want = ort_run(conv, {"in0": x})[0]
    model, feeds = single_op("DeformConv", [x, Init(weight), np.zeros((1, 18, *want.shape[2:]), f32)], opset=19,
                             **attrs)
    np.testing.assert_allclose(pfw_run(to_pfw(model), feeds)[0], want, rtol=1e-5, atol=1e-5)


def rois_for(rng, n_rois, h, w, batch):
    """Boxes (x1, y1, x2, y2), some reaching past the image and some tiny."""
    x1, y1 = rng.uniform(-3, w, n_rois), rng.uniform(-3, h, n_rois)
    x2, y2 = x1 + rng.uniform(0.2, w, n_rois), y1 + rng.uniform(0.2, h, n_rois)
    return np.stack([x1, y1, x2, y2], axis=1).astype(f32), rng.integers(0, batch, n_rois).astype(np.int64)


@pytest.mark.parametrize("mode", ["avg", "max"])
@pytest.mark.parametrize("ctm", ["half_pixel", "output_half_pixel"])
@pytest.mark.parametrize("ratio, scale, out", [(2, 1.0, (5, 5)), (1, 0.5, (3, 4)), (3, 0.25, (2, 2))])
def test_roi_align(mode, ctm, ratio, scale, out):
    rng = np.random.default_rng(ratio * 10 + len(ctm))
    x = rng.normal(size=(2, 3, 10, 12)).astype(f32)
    rois, batch = rois_for(rng, 6, 10 / scale, 12 / scale, 2)
    model, feeds = single_op("RoiAlign", [x, rois, batch], opset=16, mode=mode, coordinate_transformation_mode=ctm,
                             output_height=out[0], output_width=out[1], sampling_ratio=ratio, spatial_scale=scale)
    got = agree(model, feeds)
    assert got.shape == (6, 3, *out)


def test_roi_align_before_opset_16_is_output_half_pixel():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(1, 2, 8, 8)).astype(f32)
    rois, batch = rois_for(rng, 4, 8, 8, 1)
    old, feeds = single_op("RoiAlign", [x, rois, batch], opset=12, output_height=3, output_width=3, sampling_ratio=2)
    new, _ = single_op("RoiAlign", [x, rois, batch], opset=16, output_height=3, output_width=3, sampling_ratio=2,
                       coordinate_transformation_mode="output_half_pixel")
    got = pfw_run(to_pfw(old), feeds)[0]
    np.testing.assert_array_equal(got, pfw_run(to_pfw(new), feeds)[0])
    # (ONNX's reference evaluator reads RoiAlign-10 with RoiAlign-16's default, half_pixel)
    np.testing.assert_allclose(got, ort_run(old, feeds)[0], rtol=1e-5, atol=1e-5)
    at_11, _ = single_op("RoiAlign", [x, rois, batch], opset=11, output_height=3, output_width=3, sampling_ratio=2)
    with pytest.raises(UnsupportedError, match=r"\(RoiAlign\): pyfw runs it as standard ops of opset 12"):
        pyfw.onnx.import_model(at_11)


def test_roi_align_adaptive_sampling_is_refused():
    x = np.zeros((1, 1, 4, 4), f32)
    model, _ = single_op("RoiAlign", [x, np.zeros((1, 4), f32), np.zeros(1, np.int64)], opset=16,
                         output_height=2, output_width=2)
    with pytest.raises(UnsupportedError, match=r"\(RoiAlign\): sampling_ratio 0 .* is not supported"):
        pyfw.onnx.import_model(model)
