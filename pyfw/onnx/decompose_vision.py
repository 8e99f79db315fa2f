"""Rules (see decompose.py) for the sampling ops of detection models:
DeformConv and RoiAlign as the four bilinear neighbours of every sample
point gathered (one GatherND over (..., H*W, C) reads all channels per
index) and weighted, then DeformConv's taps reduced by one grouped MatMul
and RoiAlign's bins averaged or maxed. Both follow ONNX's reference: its
boundary rules, its tap and channel order."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from .. import InvalidModelError, UnsupportedError

I64 = np.int64


def _within(b, v: str, last: str) -> str:
    """0 <= v <= last."""
    return b.add("Not", [b.add("Or", [b.add("Less", [v, b.const(0, np.float64)]), b.add("Greater", [v, last])])])


def _clamp(b, v: str, last: str) -> str:
    return b.add("Max", [b.add("Min", [v, last]), b.const(0, np.float64)])


def _gather_weighted(b, pixels: str, index: str, weight: str, batch: int) -> str:
    """pixels (..., HW, C) read at index (..., P, k), times weight (..., P):
    (..., P, C), one GatherND (batch_dims `batch`) with no index per channel."""
    picked = b.add("GatherND", [pixels, index], batch_dims=batch)
    return b.add("Mul", [picked, b.with_axes("Unsqueeze", weight, [-1], 13)])


def deform_conv(b) -> None:
    """Y[n, o] = B[o] + sum over c (of o's group) and taps k of
    W[o, c, k] * mask * X[n, c] sampled bilinearly (zeros outside) at
    (oh * stride - pad + k_h * dilation + offset_h, likewise w)."""
    x, w, offset, bias, mask = (b.input(k) for k in range(5))
    w_dims = b.dims(w)
    if len(w_dims) != 4 or None in w_dims:
        raise UnsupportedError(f"{b.where}: needs a 2-D weight of known shape (oC, C/group, kH, kW); "
                               f"DeformConv over other ranks is not supported")
    oc, cg, kh, kw = w_dims
    kh, kw = b.attrs.get("kernel_shape", [kh, kw])
    group, groups = int(b.attrs.get("group", 1)), int(b.attrs.get("offset_group", 1))
    sh, sw = b.attrs.get("strides", [1, 1])
    dh, dw = b.attrs.get("dilations", [1, 1])
    pt, pl = b.attrs.get("pads", [0, 0, 0, 0])[:2]
    c = cg * group
    if c % groups or oc % group:
        raise InvalidModelError(f"{b.where}: {c} input channels do not split into {groups} offset groups, or "
                                f"{oc} output channels into {group} groups")
    taps = kh * kw
    # Sampling points and weights in float64, as ONNX's reference: a point on
    # a pixel reads that pixel alone.
    dtype, f64 = np.float64, TensorProto.DOUBLE
    out_h, out_w = b.dim(offset, 2), b.dim(offset, 3)
    one = b.const(1, I64)

    def rows(size, step, pad):  # (o * step - pad) for o < size
        r = b.add("Range", [b.const(0, I64), b.with_axes("Squeeze", size, [0], 13), one])
        return b.add("Sub", [b.add("Mul", [b.add("Cast", [r], to=f64), b.const(step, dtype)]), b.const(pad, dtype)])

    tap_h = np.repeat(np.arange(kh) * dh, kw).astype(dtype)  # tap k = i * kW + j
    tap_w = np.tile(np.arange(kw) * dw, kh).astype(dtype)
    base_h = b.add("Add", [b.const(tap_h.reshape(taps, 1, 1), dtype), b.with_axes("Unsqueeze", rows(out_h, sh, pt),
                                                                                  [0, 2], 13)])
    base_w = b.add("Add", [b.const(tap_w.reshape(taps, 1, 1), dtype), b.with_axes("Unsqueeze", rows(out_w, sw, pl),
                                                                                  [0, 1], 13)])
    moves = b.add("Reshape", [b.add("Cast", [offset], to=f64), b.cat(-1, groups, taps, 2, out_h, out_w)])
    at_h = b.add("Add", [base_h, b.add("Gather", [moves, b.const(0, I64)], axis=3)])  # (N, G, K, oH, oW)
    at_w = b.add("Add", [base_w, b.add("Gather", [moves, b.const(1, I64)], axis=3)])

    height, width = b.dim(x, 2), b.dim(x, 3)
    b.require(12)  # GatherND's batch_dims
    pixels = b.add("Transpose", [b.add("Reshape", [x, b.cat(-1, groups, c // groups, b.add("Mul", [height, width]))])],
                   perm=[0, 1, 3, 2])  # (N, G, H*W, C/G)
    at_h, at_w = (b.add("Reshape", [v, b.const([0, 0, -1], I64)]) for v in (at_h, at_w))  # (N, G, K*oH*oW)
    low_h, low_w = b.add("Floor", [at_h]), b.add("Floor", [at_w])
    frac_h, frac_w = b.add("Sub", [at_h, low_h]), b.add("Sub", [at_w, low_w])
    last_h, last_w = (b.add("Sub", [b.add("Cast", [d], to=f64), b.const(1, dtype)]) for d in (height, width))
    zero, one_f = b.const(0, dtype), b.const(1, dtype)
    parts = []
    for dy in (0, 1):  # the four neighbours; one outside the image reads 0 (as GridSample's zeros padding)
        y = b.add("Add", [low_h, b.const(dy, dtype)])
        wy = frac_h if dy else b.add("Sub", [one_f, frac_h])
        for dx in (0, 1):
            xx = b.add("Add", [low_w, b.const(dx, dtype)])
            wx = frac_w if dx else b.add("Sub", [one_f, frac_w])
            inside = b.add("And", [_within(b, y, last_h), _within(b, xx, last_w)])
            weight = b.add("Cast", [b.add("Where", [inside, b.add("Mul", [wy, wx]), zero])], to=b.elem_type(x))
            pixel = b.add("Add", [b.add("Mul", [_clamp(b, y, last_h), b.add("Cast", [width], to=f64)]),
                                  _clamp(b, xx, last_w)])
            index = b.with_axes("Unsqueeze", b.add("Cast", [pixel], to=TensorProto.INT64), [-1], 13)
            parts.append(_gather_weighted(b, pixels, index, weight, 2))
    sampled = b.add("Add", [b.add("Add", [parts[0], parts[1]]), b.add("Add", [parts[2], parts[3]])])  # (N, G, P, C/G)
    points = b.add("Mul", [out_h, out_w])
    sampled = b.add("Reshape", [sampled, b.cat(-1, groups, taps, points, c // groups)])
    if mask:
        sampled = b.add("Mul", [sampled, b.add("Reshape", [mask, b.cat(-1, groups, taps, points, 1)])])
    sampled = b.add("Transpose", [sampled], perm=[0, 1, 4, 2, 3])  # (N, G, C/G, K, oH*oW)
    columns = b.add("Reshape", [sampled, b.cat(-1, group, cg * taps, points)])
    weights = b.add("Reshape", [w, b.const([group, oc // group, cg * taps], I64)])
    y = b.add("Reshape", [b.add("MatMul", [weights, columns]), b.cat(-1, oc, out_h, out_w)])
    if bias:
        y = b.add("Add", [y, b.add("Reshape", [bias, b.const([oc, 1, 1], I64)])])
    b.add("Identity", [y], output=b.node.output[0])


def roi_align(b) -> None:
    """Each RoI's output bin averages (or takes the max of) sampling_ratio^2
    points; a point beyond [-1, size] reads 0, others clamp into the image
    and interpolate their four neighbours (max mode: the largest weighted
    neighbour), as ONNX's reference and ONNX Runtime do."""
    x, rois, batch = b.input(0), b.input(1), b.input(2)
    b.require(12)  # GatherND's batch_dims
    a = b.attrs
    ratio = int(a.get("sampling_ratio", 0))
    if ratio <= 0:
        raise UnsupportedError(f"{b.where}: sampling_ratio {ratio} (a sampling grid sized per RoI from its data) is "
                               f"not supported; a fixed sampling_ratio is")
    mode = b.text("mode", "avg")
    half_pixel = b.text("coordinate_transformation_mode",
                        "half_pixel" if b.opset >= 16 else "output_half_pixel") == "half_pixel"
    out_h, out_w = int(a.get("output_height", 1)), int(a.get("output_width", 1))
    elem = b.elem_type(x)
    dtype = helper.tensor_dtype_to_np_dtype(elem)
    scale = float(a.get("spatial_scale", 1.0))
    box = b.add("Sub", [b.add("Mul", [b.add("Cast", [rois], to=elem), b.const(scale, dtype)]),
                        b.const(0.5 if half_pixel else 0.0, dtype)])  # (R, 4): x1, y1, x2, y2

    def axis(k, count, size_axis):
        """Per RoI, the points' clamped coordinate, low and high pixel, weight
        of the high one and whether each point is inside [-1, size]: (R, count*ratio)."""
        start = b.add("Gather", [box, b.const([k], I64)], axis=1)
        length = b.add("Sub", [b.add("Gather", [box, b.const([k + 2], I64)], axis=1), start])
        if not half_pixel:
            length = b.add("Max", [length, b.const(1, dtype)])
        steps = (np.arange(count)[:, None] + (np.arange(ratio) + 0.5) / ratio).ravel()
        at = b.add("Add", [start, b.add("Mul", [b.const(steps[None, :], dtype),
                                                b.add("Div", [length, b.const(count, dtype)])])])
        size_i = b.dim(x, size_axis)
        size = b.add("Cast", [size_i], to=elem)
        inside = b.add("Not", [b.add("Or", [b.add("Less", [at, b.const(-1, dtype)]), b.add("Greater", [at, size])])])
        last = b.add("Sub", [size, b.const(1, dtype)])
        at = b.add("Max", [at, b.const(0, dtype)])
        low = b.add("Floor", [at])
        edge = b.add("Not", [b.add("Less", [low, last])])
        low = b.add("Where", [edge, last, low])
        high = b.add("Where", [edge, last, b.add("Add", [low, b.const(1, dtype)])])
        frac = b.add("Sub", [b.add("Where", [edge, last, at]), low])
        return [b.add("Cast", [v], to=TensorProto.INT64) for v in (low, high)] + [frac, inside, size_i]

    y_low, y_high, ly, y_in, _ = axis(1, out_h, 2)
    x_low, x_high, lx, x_in, width = axis(0, out_w, 3)

    def outer(u, v, op):  # (R, Py) op (R, Px) -> (R, Py * Px)
        return b.add("Reshape", [b.add(op, [b.with_axes("Unsqueeze", u, [2], 13), b.with_axes("Unsqueeze", v, [1], 13)]),
                                 b.const([0, -1], I64)])

    inside = b.add("Cast", [outer(y_in, x_in, "And")], to=elem)
    one = b.const(1, dtype)
    hy, hx = b.add("Sub", [one, ly]), b.add("Sub", [one, lx])
    pixels = b.add("Transpose", [b.add("Reshape", [x, b.const([0, 0, -1], I64)])], perm=[0, 2, 1])  # (N, HW, C)
    image = None  # (R, P, 1): each point's batch index
    parts = []
    for ys, xs, wy, wx in ((y_low, x_low, hy, hx), (y_low, x_high, hy, lx), (y_high, x_low, ly, hx),
                           (y_high, x_high, ly, lx)):
        pixel = b.with_axes("Unsqueeze", outer(b.add("Mul", [ys, width]), xs, "Add"), [-1], 13)  # (R, P, 1)
        if image is None:
            image = b.add("Expand", [b.with_axes("Unsqueeze", b.add("Cast", [batch], to=TensorProto.INT64), [1, 2],
                                                 13), b.add("Shape", [pixel])])
        index = b.add("Concat", [image, pixel], axis=-1)
        parts.append(_gather_weighted(b, pixels, index, b.add("Mul", [outer(wy, wx, "Mul"), inside]), 0))
    if mode == "avg":
        points = b.add("Add", [b.add("Add", [parts[0], parts[1]]), b.add("Add", [parts[2], parts[3]])])
    elif mode == "max":
        points = b.add("Max", parts)
    else:
        raise InvalidModelError(f"{b.where}: mode {mode!r} is neither 'avg' nor 'max'")
    bins = b.add("Reshape", [points, b.const([0, out_h, ratio, out_w, ratio, -1], I64)])  # (R, oH, r, oW, r, C)
    if mode == "avg":
        y = b.add("Div", [b.with_axes("ReduceSum", bins, [2, 4], 13, keepdims=0), b.const(ratio * ratio, dtype)])
    else:
        y = b.with_axes("ReduceMax", bins, [2, 4], 18, keepdims=0)
    b.add("Transpose", [y], output=b.node.output[0], perm=[0, 3, 1, 2])


def is_max_pool_with_indices(node) -> bool:
    return node.op_type == "MaxPool" and node.domain in ("", "ai.onnx") and len(node.output) > 1 and bool(
        node.output[1])


def max_pool_indices(b) -> None:
    """MaxPool's values from its kernel; its Indices (the flat index, batch
    and channel included, of each window's first maximum; storage_order 1
    counts the spatial axes column-major) from the windows gathered by one
    constant (output, tap) map of the input, padding read as -inf."""
    b.require(11)  # Range, Pad with inputs
    x = b.input(0)
    a = dict(b.attrs)
    spatial, out = b.dims(x)[2:], b.dims(b.node.output[0])[2:]
    if not spatial or None in spatial or len(out) != len(spatial) or None in out:
        raise UnsupportedError(f"{b.where}: output 1 (Indices) needs the spatial sizes of the input and output, "
                               f"which shape inference does not give")
    n = len(spatial)
    kernel = list(b.attr("kernel_shape"))
    strides, dilations = list(a.get("strides", [1] * n)), list(a.get("dilations", [1] * n))
    pads = list(a.get("pads", [0] * 2 * n))
    auto = b.text("auto_pad", "NOTSET")
    for i in range(n):
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            total = max((out[i] - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - spatial[i], 0)
            pads[i] = total // 2 if auto == "SAME_UPPER" else total - total // 2
        elif auto == "VALID":
            pads[i] = 0
    # (output position, tap) -> flat input index, or `size` for a tap in the padding
    size = int(np.prod(spatial))
    axes = [np.arange(out[i])[:, None] * strides[i] - pads[i] + np.arange(kernel[i])[None, :] * dilations[i]
            for i in range(n)]  # per axis: (out, k) input coordinate
    grids = np.meshgrid(*[ax.reshape(-1) for ax in axes], indexing="ij")  # per axis: flattened (out*k,...)
    coords = [g.reshape([v for i in range(n) for v in (out[i], kernel[i])]) for g in grids]
    order = [2 * i for i in range(n)] + [2 * i + 1 for i in range(n)]  # (outs..., taps...)
    coords = [np.transpose(cd, order).reshape(int(np.prod(out)), int(np.prod(kernel))) for cd in coords]
    inside = np.logical_and.reduce([(cd >= 0) & (cd < spatial[i]) for i, cd in enumerate(coords)])
    row_major = np.ravel_multi_index([np.clip(cd, 0, spatial[i] - 1) for i, cd in enumerate(coords)], spatial)
    counted = row_major
    if int(a.get("storage_order", 0)) == 1:
        counted = np.ravel_multi_index([np.clip(cd, 0, spatial[i] - 1) for i, cd in enumerate(coords)], spatial,
                                       order="F")
    taps = np.where(inside, row_major, size).astype(np.int64)
    points, k = taps.shape
    if b.node.output[0]:
        values = {key: v for key, v in a.items() if key != "storage_order"}  # (it orders the indices only)
        b.add("MaxPool", [x], output=b.node.output[0], **values)
    elem = b.elem_type(x)
    dtype = helper.tensor_dtype_to_np_dtype(elem)
    lowest = -np.inf if np.issubdtype(dtype, np.floating) else np.iinfo(dtype).min
    flat = b.add("Reshape", [x, b.const([0, 0, -1], I64)])
    padded = b.add("Pad", [flat, b.const([0, 0, 0, 0, 0, 1], I64), b.const(lowest, dtype)])
    windows = b.add("Reshape", [b.add("Gather", [padded, b.const(taps.reshape(-1), I64)], axis=2),
                                b.const([0, 0, points, k], I64)])
    tap = b.add("ArgMax", [windows], axis=3, keepdims=0, select_last_index=0)
    pick = b.add("Add", [tap, b.const(np.arange(points) * k, I64)])
    where = b.add("Gather", [b.const(counted.reshape(-1).astype(np.int64), I64), pick])  # (N, C, P)
    known = b.dims(x)[:2]
    if len(known) == 2 and None not in known:  # constant offsets keep every shape static for the planner
        offset = b.const((np.arange(known[0] * known[1]) * size).reshape(*known, 1), I64)
        shape = b.const(known + list(out), I64)
    else:
        lead = b.add("Slice", [b.add("Shape", [x]), b.const([0], I64), b.const([2], I64)])
        planes = b.add("Range", [b.const(0, I64), b.add("ReduceProd", [lead], keepdims=0), b.const(1, I64)])
        offset = b.add("Mul", [b.add("Reshape", [planes, b.cat(lead, 1)]), b.const(size, I64)])
        shape = b.cat(lead, *out)
    b.add("Reshape", [b.add("Add", [where, offset]), shape], output=b.node.output[1])
