"""Functional forms of the nn layers; each op records its backward beside its forward."""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from pyfw.autograd import tensor as T
from pyfw.autograd.tensor import Tensor


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def relu(x):
    return x.relu()


def sigmoid(x):
    return x.sigmoid()


def tanh(x):
    return x.tanh()


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


def nll_loss(logp, target, reduction="mean"):
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if logp.ndim != 2 or t.shape != logp.shape[:1]:
        raise ValueError(f"nll_loss: input of shape {tuple(logp.shape)} and target of shape "
                         f"{tuple(t.shape)} do not match (need (N, C) and (N,))")
    picked = logp[np.arange(len(t)), t.astype(np.int64)]
    return -(picked.mean() if reduction == "mean" else picked.sum())


def cross_entropy(x, target, label_smoothing=0.0, reduction="mean"):
    logp = log_softmax(x, 1)
    loss = nll_loss(logp, target, reduction)
    if label_smoothing:  # (1-e) * nll + e * mean over classes of -logp
        smooth = -logp.mean(1)
        smooth = smooth.mean() if reduction == "mean" else smooth.sum()
        loss = loss * (1 - label_smoothing) + smooth * label_smoothing
    return loss


def mse_loss(x, target, reduction="mean"):
    target = target if isinstance(target, Tensor) else Tensor(np.asarray(target, x.dtype))
    if x.shape != target.shape:
        raise ValueError(f"mse_loss: input of shape {tuple(x.shape)} and target of shape "
                         f"{tuple(target.shape)} differ")
    d = (x - target) * (x - target)
    return d.mean() if reduction == "mean" else d.sum()


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


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    s, p, d = _pair(stride), _pair(padding), _pair(dilation)
    n, c, h, w = x.shape
    o, cg, kh, kw = weight.shape
    if c != cg * groups:
        raise ValueError(f"conv2d: input of shape {tuple(x.shape)} does not match weight of "
                         f"shape {tuple(weight.shape)} with groups={groups}")
    oh, ow = _out(h, kh, s[0], p[0], d[0]), _out(w, kw, s[1], p[1], d[1])
    g_, og = groups, o // groups
    xp = np.pad(x.data, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    win = _windows(xp, (kh, kw), s, d, (oh, ow))  # N C OH OW kh kw
    # cols: (G, N*OH*OW, Cg*kh*kw), one BLAS matmul per group
    cols = win.reshape(n, g_, cg, oh, ow, kh, kw).transpose(1, 0, 3, 4, 2, 5, 6)
    cols = cols.reshape(g_, n * oh * ow, cg * kh * kw)
    wm = weight.data.reshape(g_, og, cg * kh * kw)
    y = (cols @ wm.transpose(0, 2, 1)).reshape(g_, n, oh, ow, og)
    y = y.transpose(1, 0, 4, 2, 3).reshape(n, o, oh, ow)

    def bwd(gy):
        gm = gy.reshape(n, g_, og, oh, ow).transpose(1, 0, 3, 4, 2).reshape(g_, -1, og)
        gw = (gm.transpose(0, 2, 1) @ cols).reshape(weight.shape)  # dW = g^T cols
        gc = (gm @ wm).reshape(g_, n, oh, ow, cg, kh, kw)  # dcols = g W
        gc = gc.transpose(1, 0, 4, 2, 3, 5, 6).reshape(n, c, oh, ow, kh, kw)
        gxp = _scatter(gc, xp.shape, (kh, kw), s, d, x.dtype)
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
    win = _windows(xp, k, s, (1, 1), (oh, ow)).reshape(n, c, oh, ow, -1)
    idx = win.argmax(-1)  # the first maximum takes the gradient

    def bwd(g):
        gw = (np.arange(k[0] * k[1]) == idx[..., None]) * g[..., None]
        gxp = _scatter(gw.reshape(n, c, oh, ow, *k), xp.shape, k, s, (1, 1), x.dtype)
        return (gxp[:, :, p[0]: p[0] + h, p[1]: p[1] + w],)

    out = Tensor._make(np.take_along_axis(win, idx[..., None], -1)[..., 0], (x,), bwd)
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
