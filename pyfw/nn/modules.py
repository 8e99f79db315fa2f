"""nn.Module and the layers; parameters are Tensors with requires_grad."""
from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np

from pyfw.autograd.tensor import Tensor
from pyfw.nn import functional as F
from pyfw.nn import init


class Parameter(Tensor):
    def __init__(self, data, requires_grad=True):
        super().__init__(data.data if isinstance(data, Tensor) else data, requires_grad)


class Module:
    def __init__(self):
        object.__setattr__(self, "_params", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        self.training = True

    def __setattr__(self, name, value):
        if isinstance(value, Parameter):
            self._params[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def register_buffer(self, name, value):
        self._buffers[name] = value
        object.__setattr__(self, name, value)

    def _tensors(self):
        """Own parameters and buffers by name (a None buffer is not state, as in PyTorch)."""
        return [(n, t) for n, t in list(self._params.items()) + list(self._buffers.items()) if t is not None]

    def __call__(self, *args, **kw):
        return self.forward(*args, **kw)

    def children(self):
        return iter(self._modules.values())

    def named_modules(self, prefix=""):
        yield prefix, self
        for n, m in self._modules.items():
            yield from m.named_modules(f"{prefix}.{n}" if prefix else n)

    def modules(self):
        return (m for _, m in self.named_modules())

    def named_parameters(self, prefix=""):
        for mp, m in self.named_modules(prefix):
            for n, p in m._params.items():
                yield (f"{mp}.{n}" if mp else n), p

    def parameters(self):
        return (p for _, p in self.named_parameters())

    def train(self, mode=True):
        for m in self.modules():
            m.training = mode
        return self

    def eval(self):
        return self.train(False)

    def apply(self, fn):
        for m in self._modules.values():
            m.apply(fn)
        fn(self)
        return self

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None

    def state_dict(self):
        out = OrderedDict()
        for mp, m in self.named_modules():
            for n, t in m._tensors():
                out[f"{mp}.{n}" if mp else n] = t.data.copy()
        return out

    def load_state_dict(self, sd):
        own = {}
        for mp, m in self.named_modules():
            for n, t in m._tensors():
                own[f"{mp}.{n}" if mp else n] = t
        missing, extra = set(own) - set(sd), set(sd) - set(own)
        if missing or extra:
            raise KeyError(f"load_state_dict: missing {sorted(missing)}, unexpected {sorted(extra)}")
        for k, t in own.items():
            v = np.asarray(sd[k].data if isinstance(sd[k], Tensor) else sd[k])
            if v.shape != t.shape:
                raise ValueError(f"load_state_dict: {k} has shape {t.shape}, got {v.shape}")
            t.data[...] = v


class Sequential(Module):
    def __init__(self, *mods):
        super().__init__()
        for i, m in enumerate(mods):
            setattr(self, str(i), m)

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __len__(self):
        return len(self._modules)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x


class ModuleList(Module):
    def __init__(self, mods=()):
        super().__init__()
        for m in mods:
            self.append(m)

    def append(self, m):
        setattr(self, str(len(self._modules)), m)
        return self

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __iter__(self):
        return iter(self._modules.values())

    def __len__(self):
        return len(self._modules)


def _default_init(weight, bias, fan_in):
    # PyTorch's default: kaiming_uniform(a=sqrt(5)), bias U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        b = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(bias, -b, b)


class Linear(Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(np.empty((out_features, in_features), np.float32))
        self.bias = Parameter(np.empty(out_features, np.float32)) if bias else None
        _default_init(self.weight, self.bias, in_features)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)


class Conv2d(Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True):
        super().__init__()
        kh, kw = F._pair(kernel_size)
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.weight = Parameter(np.empty((out_channels, in_channels // groups, kh, kw), np.float32))
        self.bias = Parameter(np.empty(out_channels, np.float32)) if bias else None
        _default_init(self.weight, self.bias, in_channels // groups * kh * kw)

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding,
                        self.dilation, self.groups)


class Conv1d(Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True):
        super().__init__()
        (k,) = F._single(kernel_size)
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.weight = Parameter(np.empty((out_channels, in_channels // groups, k), np.float32))
        self.bias = Parameter(np.empty(out_channels, np.float32)) if bias else None
        _default_init(self.weight, self.bias, in_channels // groups * k)

    def forward(self, x):
        return F.conv1d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class ConvTranspose2d(Module):
    """Weight (in_channels, out_channels / groups, kh, kw), as PyTorch's."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1):
        super().__init__()
        kh, kw = F._pair(kernel_size)
        self.stride, self.padding, self.output_padding = stride, padding, output_padding
        self.groups, self.dilation = groups, dilation
        self.weight = Parameter(np.empty((in_channels, out_channels // groups, kh, kw), np.float32))
        self.bias = Parameter(np.empty(out_channels, np.float32)) if bias else None
        _default_init(self.weight, self.bias, out_channels // groups * kh * kw)  # fan_in from dim 1

    def forward(self, x):
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                  self.output_padding, self.groups, self.dilation)


class LayerNorm(Module):
    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True):
        super().__init__()
        self.normalized_shape, self.eps = F._single(normalized_shape), eps
        ns = self.normalized_shape
        self.weight = Parameter(np.ones(ns, np.float32)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(ns, np.float32)) if elementwise_affine and bias else None

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)


class Embedding(Module):
    """weight ~ N(0, 1), the padding_idx row zero (PyTorch's init)."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None):
        super().__init__()
        if padding_idx is not None and padding_idx < 0:
            padding_idx += num_embeddings
        self.padding_idx = padding_idx
        self.weight = Parameter(np.empty((num_embeddings, embedding_dim), np.float32))
        init.normal_(self.weight)
        if padding_idx is not None:
            self.weight.data[padding_idx] = 0

    def forward(self, x):
        return F.embedding(x, self.weight, self.padding_idx)


class _Act(Module):
    fn = None

    def forward(self, x):
        return type(self).fn(x)


class ReLU(_Act):
    fn = staticmethod(F.relu)


class Sigmoid(_Act):
    fn = staticmethod(F.sigmoid)


class Tanh(_Act):
    fn = staticmethod(F.tanh)


class ReLU6(_Act):
    fn = staticmethod(F.relu6)


class SiLU(_Act):
    fn = staticmethod(F.silu)


class Hardswish(_Act):
    fn = staticmethod(F.hardswish)


class GELU(Module):
    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, self.approximate)


class LeakyReLU(Module):
    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)


class Softmax(Module):
    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.softmax(x, self.dim)


class Flatten(Module):
    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)


class Dropout(Module):
    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)


class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)


class AvgPool2d(MaxPool2d):
    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)


class AdaptiveAvgPool2d(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return F.adaptive_avg_pool2d(x, self.output_size)


class CrossEntropyLoss(Module):
    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__()
        self.weight = None if weight is None else np.asarray(weight.data if isinstance(weight, Tensor) else weight)
        self.ignore_index, self.reduction = ignore_index, reduction
        self.label_smoothing = label_smoothing

    def forward(self, x, target):
        return F.cross_entropy(x, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing)


class NLLLoss(CrossEntropyLoss):
    def forward(self, x, target):
        return F.nll_loss(x, target, self.weight, self.ignore_index, self.reduction)


class MSELoss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, x, target):
        return F.mse_loss(x, target, self.reduction)


class L1Loss(MSELoss):
    def forward(self, x, target):
        return F.l1_loss(x, target, self.reduction)


class BCEWithLogitsLoss(Module):
    def __init__(self, weight=None, reduction="mean", pos_weight=None):
        super().__init__()
        self.reduction = reduction
        as_t = (lambda v: None if v is None else Tensor(np.asarray(v.data if isinstance(v, Tensor) else v,
                                                                    np.float32)))
        self.register_buffer("weight", as_t(weight))
        self.register_buffer("pos_weight", as_t(pos_weight))

    def forward(self, x, target):
        return F.binary_cross_entropy_with_logits(x, target, self.weight, self.reduction, self.pos_weight)


class _BatchNorm(Module):
    ndims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.weight = Parameter(np.ones(num_features, np.float32)) if affine else None
        self.bias = Parameter(np.zeros(num_features, np.float32)) if affine else None
        self.register_buffer("running_mean", Tensor(np.zeros(num_features, np.float32)))
        self.register_buffer("running_var", Tensor(np.ones(num_features, np.float32)))

    def forward(self, x):
        if x.ndim not in self.ndims:
            raise ValueError(f"{type(self).__name__}: expected {self.ndims[0]}-D input, "
                             f"got shape {tuple(x.shape)}")
        return F.batch_norm(x, self.running_mean.data, self.running_var.data, self.weight,
                            self.bias, self.training, self.momentum, self.eps)


class BatchNorm1d(_BatchNorm):
    ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    ndims = (4,)


from pyfw.nn.attention import MultiheadAttention, TransformerEncoderLayer  # noqa: E402,F401
