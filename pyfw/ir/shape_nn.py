"""Shape rules for resampling, losses, bitwise, selection and scatter ops:
Resize, NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss, BitShift,
Bitwise*, TopK, OneHot, ScatterElements, ScatterND, Einsum, LpPool. Where a result depends
on values that are not constants (sizes fed at run time), the rank is kept
and the dimensions become -1; the runtime computes them while planning."""
from __future__ import annotations

import math

import numpy as np

from .. import dtypes as _dt
from .shape_ops import _cast
from .shape_conv import _global_pool, _pool
from .shapes import _axis, _bdim, _binary, _required, _unary


def _array(t):
    """The constant values of a tensor as a flat array, or None."""
    return None if t is None or t.data is None else np.asarray(t.data).reshape(-1)


def _input(ins, i):
    return ins[i] if i < len(ins) else None


def _resize(node, ins, c):
    _required(c, 1)
    x, dtype = ins[0].shape, ins[0].dtype
    if x is None:
        return [(dtype, None)]
    r = len(x)
    axes = node.attr("axes")
    axes = [_axis(c, a, r) for a in axes] if axes is not None else list(range(r))
    v10 = node.version is not None and 0 < node.version < 11
    scales_t = _input(ins, 1 if v10 else 2)
    sizes_t = None if v10 else _input(ins, 3)
    scales, sizes = _array(scales_t), _array(sizes_t)
    if scales_t is not None and scales is not None and scales.size == 0:
        scales_t = None
    if sizes_t is not None and sizes is not None and sizes.size == 0:
        sizes_t = None
    if (scales_t is None) == (sizes_t is None):
        raise c.fail("exactly one of scales and sizes must be given")
    given = scales if scales_t is not None else sizes
    if given is None:  # fed at run time: only the rank is known
        return [(dtype, tuple(-1 if a in axes else d for a, d in enumerate(x)))]
    if given.size != len(axes):
        raise c.fail(f"{'scales' if scales_t is not None else 'sizes'} has {given.size} values; "
                     f"expected {len(axes)} (one per resized axis)")
    out = list(x)
    if scales_t is not None:
        for a, s in zip(axes, scales.astype(np.float64)):
            if not s > 0:
                raise c.fail(f"scales {scales.tolist()} must be positive")
            out[a] = -1 if x[a] < 0 else int(math.floor(s * x[a]))
        return [(dtype, tuple(out))]
    policy = node.attr("keep_aspect_ratio_policy", "stretch")
    if policy == "stretch" or any(x[a] < 0 for a in axes):
        for a, s in zip(axes, sizes):
            out[a] = -1 if policy != "stretch" else int(s)
        return [(dtype, tuple(out))]
    ratios = [int(s) / x[a] for a, s in zip(axes, sizes)]
    keep = min(ratios) if policy == "not_larger" else max(ratios)
    for a in axes:
        out[a] = int(keep * x[a] + 0.5)
    return [(dtype, tuple(out))]


def _loss(node, ins, c):
    """Loss like the target (reduction none) or a scalar; SCE's log_prob like the scores."""
    _required(c, 2)
    x, dtype = ins[0].shape, ins[0].dtype
    if x is not None and len(x) < 2:
        raise c.fail(f"{c.name(0)} must be (N, C, d1, ...)")
    if ins[1].dtype not in ("int32", "int64"):
        raise c.fail(f"{c.name(1)} (target) is {ins[1].dtype}; expected int32 or int64")
    if node.attr("reduction", "mean") != "none":
        out = ()
    else:
        out = None if x is None else x[:1] + x[2:]
    return [(dtype, out), (dtype, x)]


def _scatter(node, ins, c):
    """The output is data with some elements replaced: data's dtype and shape."""
    _required(c, 3)
    if ins[2].dtype != ins[0].dtype:
        raise c.fail(f"{c.name(2)} (updates) is {ins[2].dtype} but data is {ins[0].dtype}")
    if ins[1].dtype not in ("int32", "int64"):
        raise c.fail(f"{c.name(1)} (indices) is {ins[1].dtype}; expected int32 or int64")
    return [(ins[0].dtype, ins[0].shape)]


def _topk(node, ins, c):
    """Values and int64 Indices: X's shape with k along the axis."""
    _required(c, 1)
    x, dtype = ins[0].shape, ins[0].dtype
    if x is None:
        return [(dtype, None), ("int64", None)]
    axis = _axis(c, node.attr("axis", -1), len(x))
    if node.version is not None and 0 < node.version < 10:
        k = node.attr("k")
    else:
        _required(c, 2)
        kv = _array(ins[1])
        k = None if kv is None else int(kv[0])
    if k is not None and x[axis] >= 0 and not 0 <= k <= x[axis]:
        raise c.fail(f"k = {k} is outside [0, {x[axis]}] for {c.name(0)}")
    out = x[:axis] + (-1 if k is None else k,) + x[axis + 1:]
    return [(dtype, out), ("int64", out)]


def _onehot(node, ins, c):
    """indices' shape with depth inserted at axis, values' dtype."""
    _required(c, 3)
    x = ins[0].shape
    if x is None:
        return [(ins[2].dtype, None)]
    axis = node.attr("axis", -1)
    if not -len(x) - 1 <= axis <= len(x):
        raise c.fail(f"axis {axis} is out of range for {c.name(0)} of rank {len(x)}")
    axis = axis + len(x) + 1 if axis < 0 else axis
    d = _array(ins[1])
    depth = -1 if d is None or d.size != 1 else int(d[0])
    return [(ins[2].dtype, x[:axis] + (depth,) + x[axis:])]


def _einsum(node, ins, c):
    """Output dims from the equation: explicit, or the broadcast "..." dims
    then the letters used once, in ASCII order."""
    _required(c, 1)
    dtype = ins[0].dtype
    if any(t is None or t.shape is None for t in ins):
        return [(dtype, None)]
    lhs, arrow, rhs = node.attr("equation", "").replace(" ", "").partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ins):
        raise c.fail(f"equation {node.attr('equation')!r} has {len(terms)} input terms for {len(ins)} inputs")
    sizes, count, ell = {}, {}, ()
    for i, (term, t) in enumerate(zip(terms, ins)):
        x = t.shape
        head, dots, tail = term.partition("...")
        e = len(x) - len(head) - len(tail)
        if e < 0 or (not dots and e != 0):
            raise c.fail(f"term {term!r} does not fit {c.name(i)}")
        if dots:  # right-aligned numpy broadcasting of the ellipsis dims
            a, b = (1,) * (e - len(ell)) + ell, (1,) * (len(ell) - e) + x[len(head):len(head) + e]
            ell = tuple(_bdim(p, q) if _bdim(p, q) is not None else -1 for p, q in zip(a, b))
        for label, d in zip(head + tail, x[:len(head)] + x[len(x) - len(tail):]):
            count[label] = count.get(label, 0) + 1
            if sizes.get(label, -1) < 0:
                sizes[label] = d
    if arrow:
        head, dots, tail = rhs.partition("...")
        out = tuple(sizes[k] for k in head) + (ell if dots else ()) + tuple(sizes[k] for k in tail)
    else:
        out = ell + tuple(sizes[k] for k in sorted(k for k, n in count.items() if n == 1))
    return [(dtype, out)]


def _eyelike(node, ins, c):
    _required(c, 1)
    dtype = _dt.from_code(node.attr("dtype")) if node.attr("dtype") is not None else ins[0].dtype
    return [(dtype, ins[0].shape)]


def _random(node, ins, c):
    """RandomUniform/RandomNormal: `shape`, `dtype` (float32); their -Like
    forms: the input's shape, and its dtype unless `dtype` says."""
    like = node.op_type.endswith("Like")
    if like:
        _required(c, 1)
    code = node.attr("dtype")
    dtype = _dt.from_code(code) if code is not None else ins[0].dtype if like else "float32"
    if dtype not in ("float16", "bfloat16", "float32", "float64"):
        raise c.fail(f"dtype {dtype} is not a float type: {node.op_type} draws float16, bfloat16, float32 or float64")
    if like:
        return [(dtype, ins[0].shape)]
    shape = node.attr("shape")
    if shape is None:
        raise c.fail("attribute 'shape' is required")
    return [(dtype, tuple(int(d) for d in shape))]


def _multinomial(node, ins, c):
    """(batch, classes) -> (batch, sample_size) of int32 (or `dtype`)."""
    _required(c, 1)
    x = ins[0].shape
    if x is not None and len(x) != 2:
        raise c.fail(f"{c.name(0)} has rank {len(x)}; Multinomial takes (batch, classes)")
    return [(_dt.from_code(node.attr("dtype", 6)), (-1 if x is None else x[0], int(node.attr("sample_size", 1))))]


def _window(node, ins, c):
    _required(c, 1)
    size = _array(ins[0])
    return [(_dt.from_code(node.attr("output_datatype", 1)), (-1 if size is None else int(size[0]),))]


def _space(node, ins, c):
    """DepthToSpace: (N, C/b^2, H*b, W*b); SpaceToDepth: (N, C*b^2, H/b, W/b)."""
    _required(c, 1)
    x, b = ins[0].shape, node.attr("blocksize", 0)
    if x is None:
        return [(ins[0].dtype, None)]
    if len(x) != 4 or b < 1:
        raise c.fail(f"{c.name(0)} must be 4-D and blocksize >= 1 (is {b})")
    n, ch, h, w = x
    deep = node.op_type == "DepthToSpace"
    out = (n, (ch // (b * b) if deep else ch * b * b) if ch >= 0 else -1,
           *((d * b if deep else d // b) if d >= 0 else -1 for d in (h, w)))
    return [(ins[0].dtype, out)]


def _center_crop_pad(node, ins, c):
    _required(c, 2)
    x = ins[0].shape
    if x is None:
        return [(ins[0].dtype, None)]
    axes = node.attr("axes")
    axes = [_axis(c, a, len(x)) for a in axes] if axes is not None else list(range(len(x)))
    shape = _array(ins[1])
    out = list(x)
    for i, a in enumerate(axes):
        out[a] = -1 if shape is None else int(shape[i])
    return [(ins[0].dtype, tuple(out))]


def _grid_sample(node, ins, c):
    """(N, C) of X, then grid's output dims."""
    _required(c, 2)
    x, g = ins[0].shape, ins[1].shape
    if x is None or g is None:
        return [(ins[0].dtype, None)]
    return [(ins[0].dtype, x[:2] + g[1:-1])]


def _affine_grid(node, ins, c):
    """(N, H, W, 2) or (N, D, H, W, 3) from the size input."""
    _required(c, 2)
    size = _array(ins[1])
    if size is None:
        n = ins[1].shape[0] if ins[1].shape and ins[1].shape[0] > 0 else None
        return [(ins[0].dtype, None if n is None else (-1,) * (n - 1) + (n - 2,))]
    return [(ins[0].dtype, (int(size[0]), *(int(d) for d in size[2:]), len(size) - 2))]


def _gather_nd(node, ins, c):
    """indices.shape[:-1] + data.shape[batch_dims + k:]."""
    _required(c, 2)
    x, ix = ins[0].shape, ins[1].shape
    if x is None or ix is None or ix[-1] < 0:
        return [(ins[0].dtype, None)]
    b = node.attr("batch_dims", 0)
    return [(ins[0].dtype, ix[:-1] + x[b + ix[-1]:])]


def _same_as_cache(node, ins, c):
    """TensorScatter's present cache is shaped like the past one."""
    _required(c, 2)
    if ins[1].dtype != ins[0].dtype:
        raise c.fail(f"{c.name(1)} (update) is {ins[1].dtype} but past_cache is {ins[0].dtype}")
    return [(ins[0].dtype, ins[0].shape)]


def _dft(node, ins, c):
    """The signal axis becomes dft_length (n/2 + 1 onesided forward), the last
    dim 2 (complex) or 1 (inverse onesided: real)."""
    _required(c, 1)
    x = ins[0].shape
    if x is None:
        return [(ins[0].dtype, None)]
    v20 = node.version is None or node.version >= 20
    axis_v = _array(_input(ins, 2)) if v20 else None
    if v20 and _input(ins, 2) is not None and axis_v is None:
        return [(ins[0].dtype, (-1,) * len(x))]
    axis = int(axis_v[0]) if axis_v is not None else (-2 if v20 else node.attr("axis", 1))
    axis = _axis(c, axis, len(x))
    inverse, onesided = node.attr("inverse", 0), node.attr("onesided", 0)
    n_v = _array(_input(ins, 1))
    if _input(ins, 1) is not None and n_v is None:
        n = -1
    elif n_v is not None:
        n = int(n_v[0])
    else:
        n = -1 if x[axis] < 0 else (2 * (x[axis] - 1) if inverse and onesided else x[axis])
    out = list(x)
    out[axis] = n // 2 + 1 if n >= 0 and onesided and not inverse else n
    out[-1] = 1 if inverse and onesided else 2
    return [(ins[0].dtype, tuple(out))]


def _det(node, ins, c):
    _required(c, 1)
    x = ins[0].shape
    if x is not None and (len(x) < 2 or (x[-1] >= 0 and x[-2] >= 0 and x[-1] != x[-2])):
        raise c.fail(f"{c.name(0)} must be (..., M, M)")
    return [(ins[0].dtype, None if x is None else x[:-2])]


def _col2im(node, ins, c):
    """(N, C, *image_shape), C = input dim 1 / prod(block_shape)."""
    _required(c, 3)
    x, image, block = ins[0].shape, _array(ins[1]), _array(ins[2])
    if image is None or block is None or x is None:
        n = ins[1].shape[0] if ins[1].shape and ins[1].shape[0] >= 0 else None
        return [(ins[0].dtype, None if n is None else (-1,) * (n + 2))]
    k = int(np.prod(block))
    return [(ins[0].dtype, (x[0], x[1] // k if x[1] >= 0 else -1, *(int(d) for d in image)))]


RULES = {"Resize": _resize, "NegativeLogLikelihoodLoss": _loss, "SoftmaxCrossEntropyLoss": _loss,
         "BitShift": _binary, "BitwiseAnd": _binary, "BitwiseOr": _binary, "BitwiseXor": _binary,
         "BitwiseNot": _unary, "ScatterElements": _scatter, "Scatter": _scatter, "ScatterND": _scatter, "TensorScatter": _same_as_cache,
         "LpPool": _pool, "GlobalMaxPool": _global_pool, "GlobalLpPool": _global_pool, "TopK": _topk, "OneHot": _onehot, "Einsum": _einsum,
         "BitCast": _cast, "Swish": _unary, "Shrink": _unary,
         "EyeLike": _eyelike, "HannWindow": _window, "HammingWindow": _window, "BlackmanWindow": _window,
         "DepthToSpace": _space, "SpaceToDepth": _space, "ReverseSequence": _unary,
         "CenterCropPad": _center_crop_pad, "GridSample": _grid_sample,
         "AffineGrid": _affine_grid, "GatherND": _gather_nd, "DFT": _dft,
         "Det": _det, "Col2Im": _col2im, "RandomUniform": _random, "RandomUniformLike": _random,
         "RandomNormal": _random, "RandomNormalLike": _random, "Multinomial": _multinomial}
