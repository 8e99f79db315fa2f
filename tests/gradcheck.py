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
