"""Shape rules for convolution, pooling and BatchNormalization (Conv, ConvTranspose,
MaxPool, AveragePool, GlobalAveragePool, BatchNormalization), after ONNX's
convPoolShapeInference."""
from __future__ import annotations

import math

from .shapes import _required, _same_dtype


def _spatial(node, c, x, kernel, is_pool: bool) -> tuple[int, ...]:
    """Output spatial dims for Conv and the pools (ONNX's convPoolShapeInference)."""
    n = len(kernel)
    strides = list(node.attr("strides", [1] * n))
    dilations = list(node.attr("dilations", [1] * n))
    pads = list(node.attr("pads", [0] * (2 * n)))
    auto_pad = node.attr("auto_pad", "NOTSET")
    ceil_mode = bool(node.attr("ceil_mode", 0)) if is_pool else False
    if len(strides) != n or len(dilations) != n or len(pads) != 2 * n:
        raise c.fail(f"strides {strides}, dilations {dilations} or pads {pads} do not match "
                     f"the {n} spatial dimensions of kernel {list(kernel)}")
    if any(s < 1 for s in strides) or any(d < 1 for d in dilations) or any(k < 1 for k in kernel):
        raise c.fail(f"strides {strides}, dilations {dilations} and kernel {list(kernel)} must be positive")
    if auto_pad not in ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"):
        raise c.fail(f"unknown auto_pad {auto_pad!r}")
    rnd = math.ceil if ceil_mode else math.floor
    out = []
    for i, size in enumerate(x[2:]):
        if size < 0:
            out.append(-1)
            continue
        eff_k = (kernel[i] - 1) * dilations[i] + 1
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            d = math.ceil(size / strides[i])
        else:
            padded = size + (pads[i] + pads[i + n] if auto_pad == "NOTSET" else 0)
            d = rnd((padded - eff_k) / strides[i]) + 1
            # With ceil_mode, the last window must start inside the input or
            # its left padding (the PyTorch / ONNX Runtime rule).
            if ceil_mode and (d - 1) * strides[i] >= size + (pads[i] if auto_pad == "NOTSET" else 0):
                d -= 1
        # 0 is an empty output, as ONNX Runtime gives; below that the kernel
        # does not fit even once.
        if d < 0:
            raise c.fail(f"{c.name(0)} is too small for kernel {list(kernel)} with strides {strides}, "
                         f"dilations {dilations}, pads {pads} (spatial dimension {i} would be {d})")
        out.append(d)
    return tuple(out)


def _conv(node, ins, c):
    _required(c, 2)
    dtype = _same_dtype(c, (0, 1, 2))
    x, w = ins[0].shape, ins[1].shape
    if x is None or w is None:
        return [(dtype, None)]
    if len(x) < 3 or len(w) != len(x):
        raise c.fail(f"{c.name(0)} and weight {c.name(1)} must have the same rank >= 3 (N, C, spatial...)")
    kernel = list(node.attr("kernel_shape", w[2:]))
    if len(kernel) != len(x) - 2 or any(k != wk for k, wk in zip(kernel, w[2:]) if wk >= 0):
        raise c.fail(f"kernel_shape {kernel} does not match weight {c.name(1)}")
    group = node.attr("group", 1)
    m, cg = w[0], w[1]
    if x[1] >= 0 and cg >= 0 and x[1] != cg * group:
        raise c.fail(f"{c.name(0)} has {x[1]} channels but weight {c.name(1)} with group={group} "
                     f"expects {cg * group}")
    if m >= 0 and m % group:
        raise c.fail(f"weight {c.name(1)}: {m} output channels are not divisible by group={group}")
    if len(ins) > 2 and ins[2] is not None and ins[2].shape is not None:
        bias = ins[2].shape
        if len(bias) != 1 or (bias[0] >= 0 and m >= 0 and bias[0] != m):
            raise c.fail(f"bias {c.name(2)} must have shape ({m},)")
    return [(dtype, (x[0], m) + _spatial(node, c, x, kernel, is_pool=False))]


def _conv_transpose(node, ins, c):
    """ConvTranspose: out = s*(in-1) + output_padding + (k-1)*d + 1 - pads, or output_shape."""
    _required(c, 2)
    dtype = _same_dtype(c, (0, 1, 2))
    x, w = ins[0].shape, ins[1].shape
    if x is None or w is None:
        return [(dtype, None)]
    if len(x) < 3 or len(w) != len(x):
        raise c.fail(f"{c.name(0)} and weight {c.name(1)} must have the same rank >= 3 (N, C, spatial...)")
    n = len(x) - 2
    kernel = list(node.attr("kernel_shape", w[2:]))
    if len(kernel) != n or any(k != wk for k, wk in zip(kernel, w[2:]) if wk >= 0):
        raise c.fail(f"kernel_shape {kernel} does not match weight {c.name(1)}")
    group = node.attr("group", 1)
    if x[1] >= 0 and w[0] >= 0 and x[1] != w[0]:
        raise c.fail(f"{c.name(0)} has {x[1]} channels but weight {c.name(1)} has {w[0]} (its dim 0)")
    if group < 1 or (x[1] >= 0 and x[1] % group):
        raise c.fail(f"group={group} does not divide the {x[1]} channels of {c.name(0)}")
    m = w[1] * group if w[1] >= 0 else -1
    strides = list(node.attr("strides", [1] * n))
    dilations = list(node.attr("dilations", [1] * n))
    pads = list(node.attr("pads", [0] * (2 * n)))
    adj = list(node.attr("output_padding", [0] * n))
    shape = node.attr("output_shape")
    auto_pad = node.attr("auto_pad", "NOTSET")
    if len(strides) != n or len(dilations) != n or len(pads) != 2 * n or len(adj) != n:
        raise c.fail(f"strides {strides}, dilations {dilations}, pads {pads} or output_padding {adj} do not "
                     f"match the {n} spatial dimensions")
    if shape is not None:
        shape = list(shape)[-n:]
        if len(shape) != n:
            raise c.fail(f"output_shape {list(shape)} does not list {n} spatial sizes")
        return [(dtype, (x[0], m) + tuple(shape))]
    out = []
    for i, size in enumerate(x[2:]):
        if size < 0:
            out.append(-1)
        elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            out.append(size * strides[i])
        else:
            p = 0 if auto_pad == "VALID" else pads[i] + pads[i + n]
            d = strides[i] * (size - 1) + adj[i] + (kernel[i] - 1) * dilations[i] + 1 - p
            if d < 0:
                raise c.fail(f"{c.name(0)} with kernel {kernel}, pads {pads} gives a negative output size")
            out.append(d)
    return [(dtype, (x[0], m) + tuple(out))]


def _pool(node, ins, c):
    _required(c, 1)
    x = ins[0]
    outs = [(x.dtype, None), ("int64", None)]  # MaxPool's optional Indices
    if x.shape is not None:
        if len(x.shape) < 3:
            raise c.fail(f"{c.name(0)} must have rank >= 3 (N, C, spatial...)")
        kernel = node.attr("kernel_shape")
        if kernel is None or len(kernel) != len(x.shape) - 2:
            raise c.fail(f"kernel_shape {kernel} must list one size per spatial dimension of {c.name(0)}")
        shape = x.shape[:2] + _spatial(node, c, x.shape, list(kernel), is_pool=True)
        outs = [(x.dtype, shape), ("int64", shape)]
    return outs[:len(node.outputs)]


def _global_pool(node, ins, c):
    _required(c, 1)
    x = ins[0]
    if x.shape is None:
        return [(x.dtype, None)]
    if len(x.shape) < 3:
        raise c.fail(f"{c.name(0)} must have rank >= 3 (N, C, spatial...)")
    return [(x.dtype, x.shape[:2] + (1,) * (len(x.shape) - 2))]


def _batchnorm(node, ins, c):
    _required(c, 5)
    x = ins[0]
    if x.shape is not None:
        if len(x.shape) < 2:
            raise c.fail(f"{c.name(0)} must have rank >= 2 (N, C, ...)")
        ch = x.shape[1]
        for i in range(1, 5):
            s = ins[i].shape
            if s is not None and (len(s) != 1 or (s[0] >= 0 and ch >= 0 and s[0] != ch)):
                raise c.fail(f"{c.name(i)} must have shape ({ch},) to match the channels of {c.name(0)}")
    return [(x.dtype, x.shape)] + [(ins[i].dtype, ins[i].shape) for i in (3, 4)][:len(node.outputs) - 1]


RULES = {"MaxPool": _pool, "AveragePool": _pool, "Conv": _conv, "ConvTranspose": _conv_transpose,
         "GlobalAveragePool": _global_pool, "BatchNormalization": _batchnorm}
