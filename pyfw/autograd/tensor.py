"""pyfw.Tensor: a NumPy array with reverse-mode autograd recorded on a tape.

Each op computes its forward with NumPy and records a closure that maps the
output gradient to its inputs' gradients (micrograd's shape, NumPy's speed).
"""
from __future__ import annotations

import contextlib
from collections import namedtuple

import numpy as np

_grad_enabled = True
_tracer = None  # set by pyfw.export while it records one forward pass


@contextlib.contextmanager
def quiet():
    """Ops inside emit no trace nodes (a composite op emits its own one node)."""
    global _tracer
    prev, _tracer = _tracer, None
    try:
        yield
    finally:
        _tracer = prev


def emit(op, inputs, out, **attrs):
    if _tracer is not None:
        _tracer.node(op, inputs, out, attrs)
    return out
_rng = np.random.default_rng(0)
# what max/min over a dim return, as torch.return_types.max: values and their indices
MinMax = namedtuple("MinMax", ["values", "indices"])


@contextlib.contextmanager
def no_grad():
    """Ops inside record nothing on the tape."""
    global _grad_enabled
    prev, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = prev


def manual_seed(seed: int) -> None:
    global _rng
    _rng = np.random.default_rng(seed)


def _unbroadcast(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum a broadcast gradient back down to `shape`."""
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for i, n in enumerate(shape):
        if n == 1 and g.shape[i] != 1:
            g = g.sum(axis=i, keepdims=True)
    return g


def _arr(x, like=None) -> np.ndarray:
    if isinstance(x, Tensor):
        return x.data
    dt = like.dtype if like is not None else None
    return np.asarray(x, dtype=dt)


class Tensor:
    __array_priority__ = 1000

    def __init__(self, data, requires_grad: bool = False):
        self.data = np.asarray(data)
        self.grad: Tensor | None = None
        self.requires_grad = requires_grad
        self._parents: tuple = ()
        self._backward = None  # fn(grad ndarray) -> tuple of ndarray|None per parent

    # ---- basics --------------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def numel(self):
        return self.data.size

    def numpy(self):
        return self.data

    def item(self):
        return self.data.item()

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        g = ", requires_grad=True" if self.requires_grad else ""
        return f"tensor({self.data!r}{g})"

    def requires_grad_(self, flag: bool = True):
        self.requires_grad = flag
        return self

    def detach(self):
        return Tensor(self.data)

    # ---- tape ----------------------------------------------------------
    @staticmethod
    def _make(data, parents, backward):
        out = Tensor(data)
        if _grad_enabled and any(p.requires_grad for p in parents):
            out.requires_grad = True
            out._parents = parents
            out._backward = backward
        return out

    def backward(self, grad=None):
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError("backward() without a gradient needs a scalar output")
            grad = np.ones_like(self.data)
        order, seen = [], set()

        def visit(t):  # iterative-free DFS is fine for model depths here
            if id(t) in seen:
                return
            seen.add(id(t))
            for p in t._parents:
                visit(p)
            order.append(t)

        visit(self)
        grads = {id(self): _arr(grad, self.data)}
        for t in reversed(order):
            g = grads.pop(id(t), None)
            if g is None:
                continue
            if t._backward is None:  # leaf: accumulate into .grad
                if t.requires_grad:
                    g = g.astype(t.data.dtype, copy=False)
                    t.grad = Tensor(g.copy()) if t.grad is None else Tensor(t.grad.data + g)
                continue
            for p, pg in zip(t._parents, t._backward(g)):
                if pg is None or not p.requires_grad:
                    continue
                grads[id(p)] = grads[id(p)] + pg if id(p) in grads else pg

    # ---- elementwise arithmetic ---------------------------------------
    def _binary(self, other, fwd, bwd, op=None):
        o = other if isinstance(other, Tensor) else Tensor(_arr(other, self.data))
        a, b = self.data, o.data
        out = fwd(a, b)
        return emit(op, (self, o), Tensor._make(out, (self, o), lambda g: tuple(
            None if gi is None else _unbroadcast(gi, x.shape)
            for gi, x in zip(bwd(g, a, b, out), (a, b)))))

    def __add__(self, o):
        return self._binary(o, np.add, lambda g, a, b, y: (g, g), "Add")

    def __sub__(self, o):
        return self._binary(o, np.subtract, lambda g, a, b, y: (g, -g), "Sub")

    def __mul__(self, o):
        return self._binary(o, np.multiply, lambda g, a, b, y: (g * b, g * a), "Mul")

    def __truediv__(self, o):  # d(a/b) = g/b, -g a/b^2
        return self._binary(o, np.divide, lambda g, a, b, y: (g / b, -g * a / (b * b)), "Div")

    def __pow__(self, o):  # d(a^b) = b a^(b-1), a^b ln a
        return self._binary(o, np.power, lambda g, a, b, y: (
            g * b * np.power(a, b - 1),
            g * y * np.log(np.where(a > 0, a, 1))), "Pow")

    def __radd__(self, o):
        return self + o

    def __rmul__(self, o):
        return self * o

    def __rsub__(self, o):
        return Tensor(_arr(o, self.data)) - self

    def __rtruediv__(self, o):
        return Tensor(_arr(o, self.data)) / self

    def __rpow__(self, o):
        return Tensor(_arr(o, self.data)) ** self

    def __neg__(self):
        return emit("Neg", (self,), Tensor._make(-self.data, (self,), lambda g: (-g,)))

    def __matmul__(self, o):  # y = a@b: ga = g@b^T, gb = a^T@g (batched, broadcast)
        o = o if isinstance(o, Tensor) else Tensor(o)
        a, b = self.data, o.data

        def bwd(g):
            a2, b2 = (a[None] if a.ndim == 1 else a), (b[:, None] if b.ndim == 1 else b)
            g2 = g
            if b.ndim == 1:
                g2 = np.expand_dims(g2, -1)
            if a.ndim == 1:
                g2 = np.expand_dims(g2, -2)
            ga = g2 @ np.swapaxes(b2, -1, -2)
            gb = np.swapaxes(a2, -1, -2) @ g2
            ga = ga.reshape(ga.shape[:-2] + (a.shape[-1],)) if a.ndim == 1 else ga
            gb = gb.reshape(gb.shape[:-2] + (b.shape[0],)) if b.ndim == 1 else gb
            return (_unbroadcast(ga, a.shape), _unbroadcast(gb, b.shape))

        return emit("MatMul", (self, o), Tensor._make(a @ b, (self, o), bwd))

    # comparisons: no gradient; bool results as in PyTorch
    def _compare(self, o, fn, op):
        o = o if isinstance(o, Tensor) else Tensor(_arr(o, self.data))
        return emit(op, (self, o), Tensor(fn(self.data, o.data)))

    def __lt__(self, o): return self._compare(o, np.less, "Less")
    def __le__(self, o): return self._compare(o, np.less_equal, "LessOrEqual")
    def __gt__(self, o): return self._compare(o, np.greater, "Greater")
    def __ge__(self, o): return self._compare(o, np.greater_equal, "GreaterOrEqual")
    def __eq__(self, o): return self._compare(o, np.equal, "Equal")  # noqa: E704

    def __ne__(self, o):
        eq = self == o
        return emit("Not", (eq,), Tensor(~eq.data))

    __hash__ = object.__hash__
    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    # ---- unary ---------------------------------------------------------
    def _unary(self, y, dydx, op, **attrs):
        """y = f(x); dydx() gives dy/dx, computed only if the backward runs."""
        return emit(op, (self,), Tensor._make(y, (self,), lambda g: (g * dydx(),)), **attrs)

    def exp(self):
        y = np.exp(self.data)
        return self._unary(y, lambda: y, "Exp")

    def log(self):
        x = self.data
        return self._unary(np.log(x), lambda: 1 / x, "Log")

    def sqrt(self):
        y = np.sqrt(self.data)
        return self._unary(y, lambda: 1 / (2 * y), "Sqrt")

    def relu(self):
        x = self.data
        return self._unary(np.maximum(x, 0), lambda: x > 0, "Relu")

    def sigmoid(self):
        y = 1 / (1 + np.exp(-self.data))
        return self._unary(y, lambda: y * (1 - y), "Sigmoid")

    def tanh(self):
        y = np.tanh(self.data)
        return self._unary(y, lambda: 1 - y * y, "Tanh")

    def abs(self):
        x = self.data
        return self._unary(np.abs(x), lambda: np.sign(x), "Abs")

    def clamp(self, min=None, max=None):  # noqa: A002 (PyTorch's names)
        x = self.data
        lo = -np.inf if min is None else min
        hi = np.inf if max is None else max
        y = np.clip(x, lo, hi).astype(x.dtype)
        out = Tensor._make(y, (self,), lambda g: (g * ((x >= lo) & (x <= hi)),))
        bounds = [Tensor(np.array(v, x.dtype)) for v in (lo, hi)]
        return emit("Clip", (self, *bounds), out)

    clip = clamp

    def masked_fill(self, mask, value):
        return where(mask, Tensor(np.array(value, self.dtype)), self)

    # ---- reductions ----------------------------------------------------
    def _axes(self, dim):
        return None if dim is None else tuple(d % self.ndim for d in np.atleast_1d(dim))

    def sum(self, dim=None, keepdim=False):
        shape, axes = self.shape, self._axes(dim)
        y = self.data.sum(axis=axes, keepdims=keepdim)

        def bwd(g):
            if axes is not None and not keepdim:
                g = np.expand_dims(g, axes)
            return (np.broadcast_to(g, shape).copy(),)

        out = Tensor._make(y, (self,), bwd)
        if axes is None:
            return emit("ReduceSum", (self,), out, keepdims=int(keepdim))
        return emit("ReduceSum", (self, Tensor(np.array(axes, np.int64))), out, keepdims=int(keepdim))

    def mean(self, dim=None, keepdim=False):
        n = self.data.size if dim is None else np.prod([self.shape[d] for d in self._axes(dim)])
        return self.sum(dim, keepdim) * (1.0 / n)

    def var(self, dim=None, unbiased=True, keepdim=False, *, correction=None):
        """Variance with Bessel's correction by default, as torch.var."""
        c = (1 if unbiased else 0) if correction is None else correction
        n = self.data.size if dim is None else np.prod([self.shape[d] for d in self._axes(dim)])
        d = self - self.mean(dim, keepdim=True)
        return (d * d).sum(dim, keepdim) * (1.0 / (n - c) if n > c else np.nan)  # torch: nan

    def std(self, dim=None, unbiased=True, keepdim=False, *, correction=None):
        return self.var(dim, unbiased, keepdim, correction=correction).sqrt()

    def _extreme(self, dim, keepdim, fn, op):  # gradient split evenly among ties
        x, axes = self.data, self._axes(dim)
        y = fn(x, axis=axes, keepdims=True)

        def bwd(g):
            mask = (x == y)
            if axes is not None and not keepdim:
                g = np.expand_dims(g, axes)
            return (mask * g / mask.sum(axis=axes, keepdims=True),)

        out = y if keepdim else (y.reshape(()) if axes is None else y.squeeze(axes))
        attrs = {} if axes is None else {"axes": list(axes)}
        return emit(op, (self,), Tensor._make(out, (self,), bwd), keepdims=int(keepdim), **attrs)

    def max(self, dim=None, keepdim=False):
        """The maximum, or over one dim the pair (values, indices) as PyTorch."""
        if dim is None:
            return self._extreme(None, keepdim, np.max, "ReduceMax")
        return MinMax(self._extreme(dim, keepdim, np.max, "ReduceMax"), self.argmax(dim, keepdim))

    def min(self, dim=None, keepdim=False):
        if dim is None:
            return self._extreme(None, keepdim, np.min, "ReduceMin")
        return MinMax(self._extreme(dim, keepdim, np.min, "ReduceMin"), self.argmin(dim, keepdim))

    def amax(self, dim=None, keepdim=False):
        return self._extreme(dim, keepdim, np.max, "ReduceMax")

    def amin(self, dim=None, keepdim=False):
        return self._extreme(dim, keepdim, np.min, "ReduceMin")

    def argmax(self, dim=None, keepdim=False):
        if dim is None:
            return self.reshape(-1).argmax(0)
        y = self.data.argmax(axis=dim, keepdims=keepdim)
        return emit("ArgMax", (self,), Tensor(y.astype(np.int64)), axis=dim % self.ndim, keepdims=int(keepdim))

    def argmin(self, dim=None, keepdim=False):
        if dim is None:
            return self.reshape(-1).argmin(0)
        y = self.data.argmin(axis=dim, keepdims=keepdim)
        return emit("ArgMin", (self,), Tensor(y.astype(np.int64)), axis=dim % self.ndim, keepdims=int(keepdim))

    # ---- shape ---------------------------------------------------------
    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        s = self.shape
        out = Tensor._make(self.data.reshape(shape), (self,), lambda g: (g.reshape(s),))
        if _tracer is not None:  # a leading dim equal to the input's is the batch: 0 copies it
            want = [int(v) for v in (shape if isinstance(shape, (tuple, list)) else (shape,))]
            if s and out.shape and out.shape[0] == s[0]:
                want = [0] + want[1:] if len(want) == len(out.shape) else want
            emit("Reshape", (self, Tensor(np.array(want, np.int64))), out)
        return out

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        s = self.shape
        end = end_dim % len(s) if s else 0
        new = s[:start_dim] + (int(np.prod(s[start_dim:end + 1])),) + s[end + 1:]
        if end != len(s) - 1 or start_dim == 0:
            return self.reshape(new)
        with quiet():
            out = self.reshape(new)
        return emit("Flatten", (self,), out, axis=start_dim)

    def permute(self, *dims):
        dims = dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        inv = np.argsort(dims)
        out = Tensor._make(self.data.transpose(dims), (self,), lambda g: (g.transpose(inv),))
        return emit("Transpose", (self,), out, perm=[int(d) for d in dims])

    def transpose(self, d0, d1):
        p = list(range(self.ndim))
        p[d0], p[d1] = p[d1], p[d0]
        return self.permute(p)

    @property
    def T(self):
        return self.permute(list(range(self.ndim))[::-1])

    def squeeze(self, dim=None):
        s = self.shape
        axes = [i for i, n in enumerate(s) if n == 1] if dim is None else (
            [dim % self.ndim] if s[dim] == 1 else [])
        out = Tensor._make(self.data.squeeze(tuple(axes)), (self,), lambda g: (g.reshape(s),))
        return emit("Squeeze", (self, Tensor(np.array(axes, np.int64))), out) if axes else out

    def unsqueeze(self, dim):
        s = self.shape
        dim = dim % (self.ndim + 1)
        out = Tensor._make(np.expand_dims(self.data, dim), (self,), lambda g: (g.reshape(s),))
        return emit("Unsqueeze", (self, Tensor(np.array([dim], np.int64))), out)

    def split(self, split_size_or_sections, dim=0):
        """Pieces of split_size along dim (the last one smaller), or of the listed sizes."""
        n, dim = self.shape[dim], dim % self.ndim
        sizes = split_size_or_sections
        if isinstance(sizes, int):
            sizes = [min(sizes, n - i) for i in range(0, n, sizes)]
        if sum(sizes) != n:
            raise ValueError(f"split: sizes {list(sizes)} do not add up to dimension {dim} of shape "
                             f"{tuple(self.shape)}")
        starts = np.cumsum([0] + list(sizes))
        return tuple(self.narrow(dim, int(a), int(b - a)) for a, b in zip(starts[:-1], starts[1:]))

    def chunk(self, chunks, dim=0):
        n = self.shape[dim]
        return self.split(-(-n // chunks), dim)

    def narrow(self, dim, start, length):
        """Elements [start, start+length) along dim (a view in PyTorch, a Slice in ONNX)."""
        dim, x = dim % self.ndim, self.data
        idx = (slice(None),) * dim + (slice(start, start + length),)

        def bwd(g):
            gx = np.zeros_like(x)
            gx[idx] = g
            return (gx,)

        out = Tensor._make(x[idx], (self,), bwd)
        consts = [Tensor(np.array([v], np.int64)) for v in (start, start + length, dim)]
        return emit("Slice", (self, *consts), out)

    def __getitem__(self, idx):
        idx = idx.data if isinstance(idx, Tensor) else idx
        x = self.data

        def bwd(g):
            gx = np.zeros_like(x)
            np.add.at(gx, idx, g)
            return (gx,)

        return Tensor._make(x[idx], (self,), bwd)


def where(condition, x, y):
    """x where condition holds, else y (broadcast); gradients flow to x and y."""
    c = condition if isinstance(condition, Tensor) else Tensor(np.asarray(condition, bool))
    x = x if isinstance(x, Tensor) else Tensor(np.asarray(x, y.dtype if isinstance(y, Tensor) else np.float32))
    y = y if isinstance(y, Tensor) else Tensor(np.asarray(y, x.dtype))
    m = c.data.astype(bool)
    out = Tensor._make(np.where(m, x.data, y.data), (x, y), lambda g: (
        _unbroadcast(np.where(m, g, 0), x.shape), _unbroadcast(np.where(m, 0, g), y.shape)))
    return emit("Where", (c, x, y), out)


def cat(tensors, dim=0):
    sizes = [t.shape[dim] for t in tensors]
    cuts = np.cumsum(sizes)[:-1]
    y = np.concatenate([t.data for t in tensors], axis=dim)
    out = Tensor._make(y, tuple(tensors), lambda g: tuple(np.split(g, cuts, axis=dim)))
    return emit("Concat", tuple(tensors), out, axis=dim)


def stack(tensors, dim=0):
    return cat([t.unsqueeze(dim) for t in tensors], dim)


# ---- factories ----------------------------------------------------------
def _float(dtype):
    return np.float32 if dtype is None else dtype


def tensor(data, dtype=None, requires_grad=False):
    a = np.array(data.data if isinstance(data, Tensor) else data, dtype=dtype)
    if dtype is None and a.dtype == np.float64 and not isinstance(data, np.ndarray):
        a = a.astype(np.float32)  # Python floats default to float32, as in PyTorch
    return Tensor(a, requires_grad=requires_grad)


def _shape(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape


def zeros(*shape, dtype=None, requires_grad=False):
    return Tensor(np.zeros(_shape(shape), _float(dtype)), requires_grad)


def ones(*shape, dtype=None, requires_grad=False):
    return Tensor(np.ones(_shape(shape), _float(dtype)), requires_grad)


def full(shape, value, dtype=None, requires_grad=False):
    return Tensor(np.full(shape, value, _float(dtype)), requires_grad)


def randn(*shape, dtype=None, requires_grad=False):
    return Tensor(_rng.standard_normal(_shape(shape)).astype(_float(dtype)), requires_grad)


def rand(*shape, dtype=None, requires_grad=False):
    return Tensor(_rng.random(_shape(shape)).astype(_float(dtype)), requires_grad)


def arange(start, end=None, step=1, dtype=None):
    if end is None:
        start, end = 0, start
    return Tensor(np.arange(start, end, step, dtype=dtype))


def zeros_like(t, dtype=None, requires_grad=False):
    return zeros(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    return ones(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)


def full_like(t, value, dtype=None, requires_grad=False):
    return full(t.shape, value, dtype=dtype or t.dtype, requires_grad=requires_grad)


def randn_like(t, dtype=None, requires_grad=False):
    return randn(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)


def rand_like(t, dtype=None, requires_grad=False):
    return rand(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)
