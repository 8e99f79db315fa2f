"""Functional forms of the nn layers; each op records its backward beside its forward."""
from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from pyfw.autograd import tensor as T
from pyfw.autograd.tensor import Tensor, _unbroadcast


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def relu(x):
    return x.relu()


def sigmoid(x):
    return x.sigmoid()


def tanh(x):
    return x.tanh()


def relu6(x):
    return x.clamp(0.0, 6.0)  # Clip(0, 6)


def _erf(a):
    try:
        from scipy.special import erf
    except ImportError:  # exact, if slower, without SciPy
        erf = np.vectorize(math.erf, otypes=[np.float64])
    return erf(a).astype(a.dtype)


def gelu(x, approximate="none"):
    """x * Phi(x) ('none', with erf) or its tanh approximation ('tanh'); ONNX Gelu-20."""
    a = x.data
    if approximate == "none":
        cdf = 0.5 * (1 + _erf(a / math.sqrt(2)))
        y, dy = a * cdf, lambda: cdf + a * np.exp(-0.5 * a * a) / math.sqrt(2 * math.pi)
    elif approximate == "tanh":
        k = math.sqrt(2 / math.pi)
        th = np.tanh(k * (a + 0.044715 * a ** 3))
        y = 0.5 * a * (1 + th)
        dy = lambda: 0.5 * (1 + th) + 0.5 * a * (1 - th * th) * k * (1 + 3 * 0.044715 * a * a)  # noqa: E731
    else:
        raise ValueError(f"gelu: approximate is {approximate!r}; expected 'none' or 'tanh'")
    return x._unary(y.astype(a.dtype), dy, "Gelu", approximate=approximate)


def silu(x):
    return x * x.sigmoid()  # Sigmoid, Mul


def hardswish(x):
    """x * relu6(x + 3) / 6; slope 0 below -3, 1 above 3, (2x + 3)/6 between."""
    a = x.data
    y = a * np.clip(a + 3, 0, 6) / 6
    return x._unary(y.astype(a.dtype), lambda: np.where(a < -3, 0, np.where(a > 3, 1, (2 * a + 3) / 6)),
                    "HardSwish")


def leaky_relu(x, negative_slope=0.01):
    a = x.data
    k = np.where(a > 0, 1.0, negative_slope).astype(a.dtype)
    return T.emit("LeakyRelu", (x,), Tensor._make(a * k, (x,), lambda g: (g * k,)),
                  alpha=float(negative_slope))


def linear(x, weight, bias=None):
    if x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input of shape {tuple(x.shape)} does not match weight "
                         f"of shape {tuple(weight.shape)} (need last dim {weight.shape[1]})")
    with T.quiet():
        y = x @ weight.T
        y = y + bias if bias is not None else y
    if x.ndim == 2:
        return T.emit("Gemm", (x, weight) + ((bias,) if bias is not None else ()), y, transB=1)
    with T.quiet():
        wt = weight.T
    T.emit("Transpose", (weight,), wt, perm=[1, 0])
    T.emit("MatMul", (x, wt), y0 := Tensor(y.data))
    return T.emit("Add", (y0, bias), y) if bias is not None else T.emit("Identity", (y0,), y)


def log_softmax(x, dim=-1):
    # y = x - logsumexp(x); dx = g - softmax * sum(g)
    a = x.data
    m = a.max(axis=dim, keepdims=True)
    y = a - m - np.log(np.exp(a - m).sum(axis=dim, keepdims=True))
    return Tensor._make(y, (x,), lambda g: (g - np.exp(y) * g.sum(axis=dim, keepdims=True),))


def softmax(x, dim=-1):
    # dx = y * (g - sum(g*y))
    a = x.data
    e = np.exp(a - a.max(axis=dim, keepdims=True))
    y = e / e.sum(axis=dim, keepdims=True)
    out = Tensor._make(y, (x,), lambda g: (y * (g - (g * y).sum(axis=dim, keepdims=True)),))
    return T.emit("Softmax", (x,), out, axis=dim)


def _class_targets(what, x, target, ignore_index):
    """(N*d..., C) scores, flat int64 targets and the mask of counted ones, for
    input (N, C) or (N, C, d...) and target (N,) or (N, d...)."""
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    if x.ndim < 2 or t.shape != x.shape[:1] + x.shape[2:]:
        want = (x.shape[:1] + x.shape[2:]) if x.ndim >= 2 else "(N,)"
        raise ValueError(f"{what}: input of shape {tuple(x.shape)} and target of shape {tuple(t.shape)} "
                         f"do not match (need (N, C, d...) and target {tuple(want)})")
    if t.dtype.kind == "f" and np.array_equal(t, np.round(t)):
        t = t.astype(np.int64)  # class ids that went through a float array
    if t.dtype.kind not in "iu":
        raise ValueError(f"{what}: target of shape {tuple(t.shape)} must hold class indices, got {t.dtype}")
    t = t.reshape(-1).astype(np.int64)
    valid = t != ignore_index
    c = x.shape[1]
    bad = valid & ((t < 0) | (t >= c))
    if bad.any():
        raise ValueError(f"{what}: target value {t[bad][0]} is outside [0, {c}) for input of shape "
                         f"{tuple(x.shape)}")
    if x.ndim > 2:  # classes last, then one row per element
        x = x.permute([0] + list(range(2, x.ndim)) + [1]).reshape(-1, c)
    return x, np.where(valid, t, 0), valid


def _reduce_counted(loss, weights, reduction, shape):
    """'mean' divides by the summed weights of the counted (non-ignored) elements, as
    PyTorch's ignore_index and class weights do (a count when unweighted)."""
    if reduction == "none":
        return loss.reshape(shape)
    total = _reduce(loss, "sum" if reduction == "mean" else reduction)  # raises for an unknown one
    denom = float(weights.sum())
    return total * (1.0 / denom if denom else 1.0) if reduction == "mean" else total


def _class_weights(what, weight, c, t, valid, dtype):
    """Per-element weights w[target] (0 where ignored), or None without class weights."""
    if weight is None:
        return None
    w = np.asarray(weight.data if isinstance(weight, Tensor) else weight, dtype)
    if w.shape != (c,):
        raise ValueError(f"{what}: weight of shape {w.shape} must have one entry per class, ({c},)")
    return w, np.where(valid, w[t], 0).astype(dtype)


def nll_loss(logp, target, weight=None, ignore_index=-100, reduction="mean"):
    """-w[t] logp[t]; 'mean' divides by the sum of w[t] over counted elements, as PyTorch."""
    shape = logp.shape[:1] + logp.shape[2:]
    lp, t, valid = _class_targets("nll_loss", logp, target, ignore_index)
    cw = _class_weights("nll_loss", weight, lp.shape[1], t, valid, lp.dtype)
    wt = valid.astype(lp.dtype) if cw is None else cw[1]
    return _reduce_counted(-lp[np.arange(len(t)), t] * Tensor(wt), wt, reduction, shape)


def cross_entropy(x, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """log_softmax over dim 1, then (1-e) * nll + e/C * sum over classes of -w_c logp_c;
    with class weights, 'mean' divides both terms by the sum of w[t] (PyTorch's rule)."""
    shape = x.shape[:1] + x.shape[2:]
    x2, t, valid = _class_targets("cross_entropy", x, target, ignore_index)
    cw = _class_weights("cross_entropy", weight, x2.shape[1], t, valid, x.dtype)
    wt = valid.astype(x.dtype) if cw is None else cw[1]
    logp = log_softmax(x2, 1)
    loss = -logp[np.arange(len(t)), t] * Tensor(wt)
    if label_smoothing:
        per_class = logp if cw is None else logp * Tensor(cw[0])
        smooth = -per_class.mean(1) * Tensor(valid.astype(x.dtype))
        loss = loss * (1 - label_smoothing) + smooth * label_smoothing
    return _reduce_counted(loss, wt, reduction, shape)


def _reduce(loss, reduction):
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction is {reduction!r}; expected 'mean', 'sum' or 'none'")
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


def _same_shape(what, x, target):
    target = target if isinstance(target, Tensor) else Tensor(np.asarray(target, x.dtype))
    if x.shape != target.shape:
        raise ValueError(f"{what}: input of shape {tuple(x.shape)} and target of shape "
                         f"{tuple(target.shape)} differ")
    return target


def mse_loss(x, target, reduction="mean"):
    d = x - _same_shape("mse_loss", x, target)
    return _reduce(d * d, reduction)


def l1_loss(x, target, reduction="mean"):
    return _reduce((x - _same_shape("l1_loss", x, target)).abs(), reduction)


def binary_cross_entropy_with_logits(x, target, weight=None, reduction="mean", pos_weight=None):
    """l = (1-t) x + (1 + (p-1) t) softplus(-x), stable for any x (PyTorch's form);
    dl/dx = (1-t) - (1 + (p-1) t) sigmoid(-x), dl/dt = -x + (p-1) softplus(-x), dl/dp = t softplus(-x)."""
    t = _same_shape("binary_cross_entropy_with_logits", x, target)
    pw = pos_weight if isinstance(pos_weight, Tensor) or pos_weight is None else Tensor(
        np.asarray(pos_weight, x.dtype))
    a, tv = x.data, t.data
    p = np.ones((), a.dtype) if pw is None else pw.data
    sp = np.logaddexp(0, -a)  # softplus(-x)
    lw = 1 + (p - 1) * tv
    sig_neg = np.exp(-np.logaddexp(0, a))  # sigmoid(-x)
    parents = (x, t) + ((pw,) if pw is not None else ())
    shapes = [q.shape for q in parents]

    def bwd(g):
        grads = (g * ((1 - tv) - lw * sig_neg), g * (-a + (p - 1) * sp), g * tv * sp)
        return tuple(_unbroadcast(gi, sh) for gi, sh in zip(grads, shapes))

    loss = Tensor._make((1 - tv) * a + lw * sp, parents, bwd)
    if weight is not None:
        loss = loss * (weight if isinstance(weight, Tensor) else Tensor(np.asarray(weight, a.dtype)))
    return _reduce(loss, reduction)


def dropout(x, p=0.5, training=True):
    if not training or p == 0:
        return x
    keep = (T._rng.random(x.shape) >= p).astype(x.dtype) / (1 - p)
    return x * Tensor(keep)


def _windows(xp, k, stride, dilation, out_hw):
    """(N, C, OH, OW, kh, kw) strided view of a padded NCHW array: im2col without copies."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = k, stride, dilation, out_hw
    v = sliding_window_view(xp, ((kh - 1) * dh + 1, (kw - 1) * dw + 1), axis=(2, 3))
    return v[:, :, ::sh, ::sw, ::dh, ::dw][:, :, :oh, :ow]


def _scatter(gw, xp_shape, k, stride, dilation, dtype):
    """Adjoint of _windows: add each kernel position's gradient back into the padded input."""
    (kh, kw), (sh, sw), (dh, dw) = k, stride, dilation
    oh, ow = gw.shape[2:4]
    gxp = np.zeros(xp_shape, dtype)
    for i in range(kh):
        for j in range(kw):
            gxp[:, :, i * dh: i * dh + sh * (oh - 1) + 1: sh,
                j * dw: j * dw + sw * (ow - 1) + 1: sw] += gw[..., i, j]
    return gxp


def _out(n, k, s, p, d):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def _im2col(xp, k, stride, dilation, out_hw):
    """Columns (C, kh, kw, N, OH, OW) of a padded NCHW array. Channel-major so the GEMM
    W(O, C*kh*kw) @ cols gives (O, N*OH*OW), one cheap axis swap from NCHW; and the copy
    reads whole output rows, where an (N*OH*OW, C*kh*kw) layout gathers 3-element runs."""
    return np.ascontiguousarray(_windows(xp, k, stride, dilation, out_hw).transpose(1, 4, 5, 0, 2, 3))


def _col2im(cols, xp_shape, stride, dilation):
    """Adjoint of _im2col: (C, kh, kw, N, OH, OW) columns summed back into a padded (N, C, H, W)."""
    c, kh, kw, n, oh, ow = cols.shape
    (sh, sw), (dh, dw) = stride, dilation
    gxp = np.zeros((c, n) + tuple(xp_shape[2:]), cols.dtype)
    for i in range(kh):
        for j in range(kw):
            gxp[:, :, i * dh: i * dh + sh * (oh - 1) + 1: sh,
                j * dw: j * dw + sw * (ow - 1) + 1: sw] += cols[:, i, j]
    return gxp.transpose(1, 0, 2, 3)


def _col2im_unit_stride(gy, wm, xp_shape, k, dilation):
    """dX of a stride-1 conv, padded (N, C, Hp, Wp). The GEMM W^T g runs over the padded
    width (zeros where no output is), so each kernel tap's contribution is one
    contiguous shifted add over the flat (C, N*Hp*Wp) image instead of a strided one."""
    n, o, oh, ow = gy.shape
    _, c, hp, wp = xp_shape
    (kh, kw), (dh, dw) = k, dilation
    g_, og = wm.shape[:2]
    gmp = np.zeros((o, n, hp, wp), gy.dtype)
    gmp[:, :, :oh, :ow] = gy.transpose(1, 0, 2, 3)
    gcp = (wm.transpose(0, 2, 1) @ gmp.reshape(g_, og, -1)).reshape(c, kh, kw, -1)
    size = n * hp * wp
    gx = np.zeros((c, size), gy.dtype)
    for i in range(kh):
        for j in range(kw):
            off = i * dh * wp + j * dw
            gx[:, off:] += gcp[:, i, j, :size - off]
    return gx.reshape(c, n, hp, wp).transpose(1, 0, 2, 3)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    s, p, d = _pair(stride), _pair(padding), _pair(dilation)
    n, c, h, w = x.shape
    o, cg, kh, kw = weight.shape
    if c != cg * groups:
        raise ValueError(f"conv2d: input of shape {tuple(x.shape)} does not match weight of "
                         f"shape {tuple(weight.shape)} with groups={groups}")
    oh, ow = _out(h, kh, s[0], p[0], d[0]), _out(w, kw, s[1], p[1], d[1])
    g_, og = groups, o // groups
    xp = np.pad(x.data, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1]))) if p != (0, 0) else x.data
    # cols: (G, Cg*kh*kw, N*OH*OW); one BLAS matmul per group
    cols = _im2col(xp, (kh, kw), s, d, (oh, ow)).reshape(g_, cg * kh * kw, n * oh * ow)
    wm = weight.data.reshape(g_, og, cg * kh * kw)
    y = np.ascontiguousarray((wm @ cols).reshape(o, n, oh, ow).transpose(1, 0, 2, 3))

    def bwd(gy):
        gm = np.ascontiguousarray(gy.transpose(1, 0, 2, 3)).reshape(g_, og, n * oh * ow)
        gw = (gm @ cols.transpose(0, 2, 1)).reshape(weight.shape)  # dW = g cols^T
        if s == (1, 1):
            gxp = _col2im_unit_stride(gy, wm, xp.shape, (kh, kw), d)
        else:
            gc = (wm.transpose(0, 2, 1) @ gm).reshape(c, kh, kw, n, oh, ow)  # dcols = W^T g
            gxp = _col2im(gc, xp.shape, s, d)
        return (gxp[:, :, p[0]: p[0] + h, p[1]: p[1] + w], gw)

    with T.quiet():
        out = Tensor._make(y, (x, weight), bwd)
        out = out + bias.reshape(1, -1, 1, 1) if bias is not None else out
    return T.emit("Conv", (x, weight) + ((bias,) if bias is not None else ()), out,
                  kernel_shape=[kh, kw], strides=list(s), pads=[p[0], p[1], p[0], p[1]],
                  dilations=list(d), group=groups)


def max_pool2d(x, kernel_size, stride=None, padding=0):
    k = _pair(kernel_size)
    s, p = _pair(stride if stride is not None else kernel_size), _pair(padding)
    n, c, h, w = x.shape
    oh, ow = _out(h, k[0], s[0], p[0], 1), _out(w, k[1], s[1], p[1], 1)
    xp = np.pad(x.data, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])), constant_values=-np.inf)

    def tap(a, i, j):  # the (N, C, OH, OW) strided view of kernel position (i, j)
        return a[:, :, i: i + s[0] * (oh - 1) + 1: s[0], j: j + s[1] * (ow - 1) + 1: s[1]]

    # A running maximum over the kernel taps (no window copy); strict '>' keeps the
    # first maximum, which alone takes the gradient, as in PyTorch.
    y = tap(xp, 0, 0).copy()
    idx = np.zeros(y.shape, np.int32)
    for t in range(1, k[0] * k[1]):
        v = tap(xp, *divmod(t, k[1]))
        better = v > y
        np.copyto(y, v, where=better)
        idx[better] = t

    def bwd(g):
        gxp = np.zeros(xp.shape, g.dtype)
        for t in range(k[0] * k[1]):
            tap(gxp, *divmod(t, k[1]))[...] += np.where(idx == t, g, 0)
        return (gxp[:, :, p[0]: p[0] + h, p[1]: p[1] + w],)

    out = Tensor._make(y, (x,), bwd)
    return T.emit("MaxPool", (x,), out, kernel_shape=list(k), strides=list(s),
                  pads=[p[0], p[1], p[0], p[1]])


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """count_include_pad=True, as PyTorch's default."""
    k = _pair(kernel_size)
    s, p = _pair(stride if stride is not None else kernel_size), _pair(padding)
    n, c, h, w = x.shape
    oh, ow = _out(h, k[0], s[0], p[0], 1), _out(w, k[1], s[1], p[1], 1)
    xp = np.pad(x.data, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    y = _windows(xp, k, s, (1, 1), (oh, ow)).mean((-2, -1))

    def bwd(g):
        gw = np.broadcast_to((g / (k[0] * k[1]))[..., None, None], (n, c, oh, ow, *k))
        gxp = _scatter(gw, xp.shape, k, s, (1, 1), x.dtype)
        return (gxp[:, :, p[0]: p[0] + h, p[1]: p[1] + w],)

    return T.emit("AveragePool", (x,), Tensor._make(y, (x,), bwd), kernel_shape=list(k),
                  strides=list(s), pads=[p[0], p[1], p[0], p[1]], count_include_pad=1)


def adaptive_avg_pool2d(x, output_size):
    if _pair(output_size) != (1, 1):
        raise NotImplementedError("adaptive_avg_pool2d: only output size 1x1 for now")
    with T.quiet():
        y = x.mean((2, 3), keepdim=True)
    return T.emit("GlobalAveragePool", (x,), y)


def flatten(x, start_dim=1, end_dim=-1):
    return x.flatten(start_dim, end_dim)


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalise over every axis but 1; running stats updated in place when training."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    if training:
        a = x.data
        mean, var = a.mean(axes), a.var(axes)
        n = a.size / a.shape[1]
        running_mean[...] = (1 - momentum) * running_mean + momentum * mean
        running_var[...] = (1 - momentum) * running_var + momentum * var * n / max(n - 1, 1)
        xhat_d = (a - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
        inv = 1 / np.sqrt(var.reshape(shape) + eps)

        def bwd(g):  # dx = inv * (g - mean(g) - xhat * mean(g * xhat))
            return (inv * (g - g.mean(axes, keepdims=True)
                           - xhat_d * (g * xhat_d).mean(axes, keepdims=True)),)

        xhat = Tensor._make(xhat_d.astype(a.dtype), (x,), bwd)
    elif T._tracer is not None and x.ndim >= 3:
        with T.quiet():
            y = batch_norm(x, running_mean, running_var, weight, bias, False, momentum, eps)
        c = x.shape[1]
        w = weight if weight is not None else Tensor(np.ones(c, x.dtype))
        b = bias if bias is not None else Tensor(np.zeros(c, x.dtype))
        return T.emit("BatchNormalization", (x, w, b, Tensor(running_mean.astype(x.dtype)),
                                             Tensor(running_var.astype(x.dtype))), y, epsilon=eps)
    else:
        m = running_mean.reshape(shape)
        inv = (1 / np.sqrt(running_var + eps)).reshape(shape)
        xhat = (x - Tensor(m.astype(x.dtype))) * Tensor(inv.astype(x.dtype))
    if weight is not None:
        xhat = xhat * weight.reshape(shape)
    if bias is not None:
        xhat = xhat + bias.reshape(shape)
    return xhat


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Conv2d over (N, C, 1, L): the same im2col + BLAS, exported as a 1-D Conv."""
    if x.ndim != 3 or weight.ndim != 3 or x.shape[1] != weight.shape[1] * groups:
        raise ValueError(f"conv1d: input of shape {tuple(x.shape)} does not match weight of shape "
                         f"{tuple(weight.shape)} with groups={groups} (need (N, C, L) and (O, C/groups, k))")
    (s,), (p,), (d,) = (_single(v) for v in (stride, padding, dilation))
    with T.quiet():
        y = conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias, (1, s), (0, p), (1, d), groups).squeeze(2)
    return T.emit("Conv", (x, weight) + ((bias,) if bias is not None else ()), y,
                  kernel_shape=[weight.shape[2]], strides=[s], pads=[p, p], dilations=[d], group=groups)


def _single(v):
    return (v,) if isinstance(v, int) else tuple(v)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """The adjoint of conv2d: each input pixel scatters x * W into the output (one
    BLAS matmul per group, then a col2im over the kernel taps), crop `padding`."""
    s, p, op, d = _pair(stride), _pair(padding), _pair(output_padding), _pair(dilation)
    if x.ndim != 4 or weight.ndim != 4 or x.shape[1] != weight.shape[0] or x.shape[1] % groups:
        raise ValueError(f"conv_transpose2d: input of shape {tuple(x.shape)} does not match weight of "
                         f"shape {tuple(weight.shape)} with groups={groups} (need (N, C, H, W) and "
                         f"(C, O/groups, kh, kw))")
    if any(o >= max(si, di) for o, si, di in zip(op, s, d)):
        raise ValueError(f"conv_transpose2d: output_padding {op} must be smaller than stride {s} or "
                         f"dilation {d}")
    n, c, h, w = x.shape
    _, og, kh, kw = weight.shape
    g_, cg = groups, c // groups
    full = [(i - 1) * si + di * (k - 1) + 1 + o for i, si, di, k, o in zip((h, w), s, d, (kh, kw), op)]
    oh, ow = full[0] - 2 * p[0], full[1] - 2 * p[1]
    if oh < 0 or ow < 0:
        raise ValueError(f"conv_transpose2d: padding {p} leaves no output for input of shape {tuple(x.shape)}")
    xm = x.data.reshape(n, g_, cg, h * w).transpose(1, 0, 3, 2).reshape(g_, n * h * w, cg)
    wm = weight.data.reshape(g_, cg, og * kh * kw)
    cols = (xm @ wm).reshape(g_, n, h, w, og, kh, kw).transpose(1, 0, 4, 2, 3, 5, 6)
    yf = _scatter(cols.reshape(n, g_ * og, h, w, kh, kw), (n, g_ * og, *full), (kh, kw), s, d, x.dtype)
    y = yf[:, :, p[0]: p[0] + oh, p[1]: p[1] + ow]

    def bwd(gy):
        gf = np.zeros((n, g_ * og, *full), gy.dtype)
        gf[:, :, p[0]: p[0] + oh, p[1]: p[1] + ow] = gy
        gcols = _windows(gf, (kh, kw), s, d, (h, w))  # N, O, H, W, kh, kw: im2col of the gradient
        gcols = gcols.reshape(n, g_, og, h, w, kh, kw).transpose(1, 0, 3, 4, 2, 5, 6)
        gcols = gcols.reshape(g_, n * h * w, og * kh * kw)
        gx = (gcols @ wm.transpose(0, 2, 1)).reshape(g_, n, h, w, cg).transpose(1, 0, 4, 2, 3)
        gw = (xm.transpose(0, 2, 1) @ gcols).reshape(weight.shape)
        return (gx.reshape(x.shape), gw)

    with T.quiet():
        out = Tensor._make(np.ascontiguousarray(y), (x, weight), bwd)
        out = out + bias.reshape(1, -1, 1, 1) if bias is not None else out
    return T.emit("ConvTranspose", (x, weight) + ((bias,) if bias is not None else ()), out,
                  kernel_shape=[kh, kw], strides=list(s), pads=[p[0], p[1], p[0], p[1]],
                  output_padding=list(op), dilations=list(d), group=groups)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the last len(normalized_shape) dims; ONNX LayerNormalization.
    dx = rstd * (g' - mean(g') - xhat * mean(g' * xhat)) with g' = g * weight."""
    ns = _single(normalized_shape)
    if tuple(x.shape[x.ndim - len(ns):]) != ns or len(ns) > x.ndim:
        raise ValueError(f"layer_norm: input of shape {tuple(x.shape)} does not end in normalized_shape "
                         f"{ns}")
    for what, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != ns:
            raise ValueError(f"layer_norm: {what} of shape {tuple(t.shape)} is not normalized_shape {ns}")
    axes = tuple(range(x.ndim - len(ns), x.ndim))
    a = x.data
    mu = a.mean(axes, keepdims=True)
    rstd = 1 / np.sqrt(a.var(axes, keepdims=True) + eps)
    xhat = (a - mu) * rstd
    wv = weight.data if weight is not None else np.ones((), a.dtype)
    lead = tuple(range(x.ndim - len(ns)))

    def bwd(g):
        gh = g * wv
        gx = rstd * (gh - gh.mean(axes, keepdims=True) - xhat * (gh * xhat).mean(axes, keepdims=True))
        return (gx, (g * xhat).sum(lead), g.sum(lead))

    y = xhat * wv + (bias.data if bias is not None else 0)
    w_ = weight if weight is not None else Tensor(np.ones(ns, a.dtype))
    b_ = bias if bias is not None else Tensor(np.zeros(ns, a.dtype))
    out = Tensor._make(y.astype(a.dtype), (x, w_, b_), bwd)
    return T.emit("LayerNormalization", (x, w_, b_), out, axis=-len(ns), epsilon=float(eps))


def embedding(input, weight, padding_idx=None):  # noqa: A002 (PyTorch's name)
    """Rows of weight picked by integer ids; the padding_idx row gets no gradient."""
    idx = np.asarray(input.data if isinstance(input, Tensor) else input)
    if idx.dtype.kind not in "iu":
        raise ValueError(f"embedding: indices of shape {tuple(idx.shape)} must be integers, got {idx.dtype}")
    n = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = idx[(idx < 0) | (idx >= n)][0]
        raise ValueError(f"embedding: index {bad} is outside [0, {n}) for weight of shape {tuple(weight.shape)}")

    def bwd(g):
        gw = np.zeros_like(weight.data)
        np.add.at(gw, idx, g)
        if padding_idx is not None:
            gw[padding_idx] = 0
        return (gw,)

    out = Tensor._make(weight.data[idx], (weight,), bwd)
    ids = input if isinstance(input, Tensor) else Tensor(idx.astype(np.int64))
    return T.emit("Gather", (weight, ids), out, axis=0)


# ---- attention (MultiheadAttention's twin): traced MatMul / Softmax / Where ----
def _mask_scores(scores, mask):
    """A bool mask (True = not allowed) fills -inf; a float mask is added."""
    mask = mask if isinstance(mask, Tensor) else Tensor(np.asarray(mask))
    if mask.dtype == bool:
        return scores.masked_fill(mask, float("-inf"))
    return scores + mask


def multi_head_attention_forward(query, key, value, num_heads, in_proj_weight, in_proj_bias,
                                 out_proj_weight, out_proj_bias, dropout_p=0.0, training=True,
                                 key_padding_mask=None, need_weights=True, attn_mask=None,
                                 average_attn_weights=True, batch_first=False):
    """PyTorch's MultiheadAttention forward: (L, N, E) inputs, or (N, L, E) when
    batch_first; returns (output, weights averaged over heads or per head, or None)."""
    if not batch_first:
        query, key, value = (t.transpose(0, 1) for t in (query, key, value))
    n, l, e = query.shape if query.ndim == 3 else (0, 0, 0)
    s = key.shape[1] if key.ndim == 3 else 0
    if (query.ndim != 3 or key.shape != value.shape or key.ndim != 3 or key.shape[0] != n
            or key.shape[2] != e or e != in_proj_weight.shape[1] or e % num_heads):
        raise ValueError(f"multi_head_attention: query of shape {tuple(query.shape)}, key {tuple(key.shape)} "
                         f"and value {tuple(value.shape)} do not fit embed_dim {in_proj_weight.shape[1]} "
                         f"with {num_heads} heads")
    h, hd = num_heads, e // num_heads
    wq, wk, wv = (in_proj_weight[i * e:(i + 1) * e] for i in range(3))
    bq, bk, bv = (None,) * 3 if in_proj_bias is None else (in_proj_bias[i * e:(i + 1) * e] for i in range(3))

    def heads(x, w, b):  # (N, L, E) -> (N, H, L, hd)
        return linear(x, w, b).reshape(n, -1, h, hd).permute(0, 2, 1, 3)

    q = heads(query, wq, bq) * (1.0 / math.sqrt(hd))
    k, v = heads(key, wk, bk), heads(value, wv, bv)
    scores = q @ k.transpose(-2, -1)  # N, H, L, S
    if attn_mask is not None:
        m = attn_mask if isinstance(attn_mask, Tensor) else Tensor(np.asarray(attn_mask))
        if m.shape not in ((l, s), (n * h, l, s)):
            raise ValueError(f"multi_head_attention: attn_mask of shape {tuple(m.shape)} is neither "
                             f"{(l, s)} nor {(n * h, l, s)}")
        scores = _mask_scores(scores, m if m.ndim == 2 else m.reshape(-1, h, l, s))
    if key_padding_mask is not None:
        m = key_padding_mask if isinstance(key_padding_mask, Tensor) else Tensor(np.asarray(key_padding_mask))
        if m.shape != (n, s):
            raise ValueError(f"multi_head_attention: key_padding_mask of shape {tuple(m.shape)} is not "
                             f"{(n, s)} for key of shape {tuple(key.shape)}")
        scores = _mask_scores(scores, m.unsqueeze(1).unsqueeze(2))
    attn = dropout(softmax(scores, -1), dropout_p, training)  # the weights returned are after dropout, as PyTorch's
    out = attn @ v  # N, H, L, hd
    out = linear(out.permute(0, 2, 1, 3).reshape(n, -1, e), out_proj_weight, out_proj_bias)
    if not batch_first:
        out = out.transpose(0, 1)
    if not need_weights:
        return out, None
    return out, attn.mean(1) if average_attn_weights else attn
