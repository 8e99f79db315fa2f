"""Central finite differences in float64: the oracle for every backward."""
import numpy as np

import pyfw


def gradcheck(fn, *arrays, eps=1e-6, atol=1e-6, rtol=1e-5):
    """fn(*tensors) -> Tensor; checks d(sum(fn * w))/d(input) for a random w."""
    rng = np.random.default_rng(1)
    xs = [pyfw.tensor(np.asarray(a, np.float64), requires_grad=True) for a in arrays]
    out = fn(*xs)
    w = rng.standard_normal(out.shape)
    (out * pyfw.tensor(w)).sum().backward()
    for i, a in enumerate(arrays):
        a = np.asarray(a, np.float64)
        num = np.zeros_like(a)
        for j in np.ndindex(a.shape):
            for sgn in (1, -1):
                b = [np.asarray(v, np.float64).copy() for v in arrays]
                b[i][j] += sgn * eps
                with pyfw.no_grad():
                    y = fn(*[pyfw.tensor(v) for v in b]).data
                num[j] += sgn * (y * w).sum() / (2 * eps)
        np.testing.assert_allclose(xs[i].grad.data, num, atol=atol, rtol=rtol,
                                   err_msg=f"input {i}")


def gradcheck_module(module, *arrays, out=lambda y: y, **kw):
    """gradcheck over a module's inputs and every parameter, in float64: the
    parameters are swapped for the checked tensors on each call (as
    torch.func.functional_call does); `out` picks the output to check."""
    slots = [(m, n) for m in module.modules() for n, p in m._params.items() if p is not None]
    values = [np.asarray(m._params[n].data, np.float64) for m, n in slots]
    k = len(arrays)

    def fn(*ts):
        for (m, n), t in zip(slots, ts[k:]):
            m._params[n] = t
            object.__setattr__(m, n, t)
        return out(module(*ts[:k]))

    gradcheck(fn, *arrays, *values, **kw)
