"""pyfw.Tensor: a NumPy array with reverse-mode autograd recorded on a tape.

Each op computes its forward with NumPy and records a closure that maps the
output gradient to its inputs' gradients (micrograd's shape, NumPy's speed).
"""
from __future__ import annotations

import contextlib

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
            g * y * np.log(np.where(a > 0, a, 1))))

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
        return Tensor._make(-self.data, (self,), lambda g: (-g,))

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

    # comparisons: no gradient
    def __lt__(self, o): return Tensor(self.data < _arr(o))
    def __le__(self, o): return Tensor(self.data <= _arr(o))
    def __gt__(self, o): return Tensor(self.data > _arr(o))
    def __ge__(self, o): return Tensor(self.data >= _arr(o))
    def __eq__(self, o): return Tensor(self.data == _arr(o))  # noqa: E704
    def __ne__(self, o): return Tensor(self.data != _arr(o))
    __hash__ = object.__hash__

    # ---- unary ---------------------------------------------------------
    def exp(self):
        y = np.exp(self.data)
        return Tensor._make(y, (self,), lambda g: (g * y,))

    def log(self):
        x = self.data
        return Tensor._make(np.log(x), (self,), lambda g: (g / x,))

    def sqrt(self):
        y = np.sqrt(self.data)
        return Tensor._make(y, (self,), lambda g: (g / (2 * y),))

    def relu(self):
        x = self.data
        return emit("Relu", (self,), Tensor._make(np.maximum(x, 0), (self,), lambda g: (g * (x > 0),)))

    def sigmoid(self):
        y = 1 / (1 + np.exp(-self.data))
        return emit("Sigmoid", (self,), Tensor._make(y, (self,), lambda g: (g * y * (1 - y),)))

    def tanh(self):
        y = np.tanh(self.data)
        return emit("Tanh", (self,), Tensor._make(y, (self,), lambda g: (g * (1 - y * y),)))

    def abs(self):
        x = self.data
        return Tensor._make(np.abs(x), (self,), lambda g: (g * np.sign(x),))

    # ---- reductions ----------------------------------------------------
    def sum(self, dim=None, keepdim=False):
        shape = self.shape
        y = self.data.sum(axis=dim, keepdims=keepdim)

        def bwd(g):
            if dim is not None and not keepdim:
                g = np.expand_dims(g, dim)
            return (np.broadcast_to(g, shape).copy(),)

        return Tensor._make(y, (self,), bwd)

    def mean(self, dim=None, keepdim=False):
        n = self.data.size if dim is None else np.prod(
            [self.shape[d] for d in np.atleast_1d(dim)])
        return self.sum(dim, keepdim) * (1.0 / n)

    def max(self, dim=None, keepdim=False):  # gradient split evenly among ties
        x = self.data
        y = x.max(axis=dim, keepdims=True)

        def bwd(g):
            mask = (x == y)
            if dim is not None and not keepdim:
                g = np.expand_dims(g, dim)
            return (mask * g / mask.sum(axis=dim, keepdims=True),)

        out = y if keepdim else (y.reshape(()) if dim is None else y.squeeze(dim))
        return Tensor._make(out, (self,), bwd)

    def argmax(self, dim=None):
        return Tensor(self.data.argmax(axis=dim))

    # ---- shape ---------------------------------------------------------
    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        s = self.shape
        out = Tensor._make(self.data.reshape(shape), (self,), lambda g: (g.reshape(s),))
        if _tracer is not None:  # a leading dim equal to the input's is the batch: 0 copies it
            lead = [0] if s and out.shape and out.shape[0] == s[0] else [out.shape[0]] if out.shape else []
            emit("Reshape", (self, Tensor(np.array(lead + list(out.shape[1:]), np.int64))), out)
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
        y = self.data.squeeze() if dim is None else (
            self.data.squeeze(dim) if s[dim] == 1 else self.data)
        return Tensor._make(y, (self,), lambda g: (g.reshape(s),))

    def unsqueeze(self, dim):
        s = self.shape
        return Tensor._make(np.expand_dims(self.data, dim), (self,), lambda g: (g.reshape(s),))

    def __getitem__(self, idx):
        idx = idx.data if isinstance(idx, Tensor) else idx
        x = self.data

        def bwd(g):
            gx = np.zeros_like(x)
            np.add.at(gx, idx, g)
            return (gx,)

        return Tensor._make(x[idx], (self,), bwd)


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


def zeros_like(t, dtype=None):
    return zeros(t.shape, dtype=dtype or t.dtype)


def ones_like(t, dtype=None):
    return ones(t.shape, dtype=dtype or t.dtype)


def randn_like(t):
    return randn(t.shape, dtype=t.dtype)
