"""In-place initialisers, as torch.nn.init (fan_in/fan_out from weight shape)."""
import math

import numpy as np

from pyfw.autograd import tensor as T


def _fans(t):
    rf = int(np.prod(t.shape[2:])) if t.ndim > 2 else 1
    return t.shape[1] * rf, t.shape[0] * rf


def _fill(t, a):
    t.data[...] = a
    return t


def uniform_(t, a=0.0, b=1.0):
    return _fill(t, T._rng.uniform(a, b, t.shape))


def normal_(t, mean=0.0, std=1.0):
    return _fill(t, T._rng.normal(mean, std, t.shape))


def zeros_(t):
    return _fill(t, 0)


def ones_(t):
    return _fill(t, 1)


def constant_(t, val):
    return _fill(t, val)


def _gain(nonlinearity, a):
    if nonlinearity == "leaky_relu":
        return math.sqrt(2.0 / (1 + a * a))
    return {"relu": math.sqrt(2.0), "tanh": 5.0 / 3}.get(nonlinearity, 1.0)


def kaiming_uniform_(t, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    fan = _fans(t)[0 if mode == "fan_in" else 1]
    bound = math.sqrt(3.0) * _gain(nonlinearity, a) / math.sqrt(fan)
    return uniform_(t, -bound, bound)


def kaiming_normal_(t, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    fan = _fans(t)[0 if mode == "fan_in" else 1]
    return normal_(t, 0.0, _gain(nonlinearity, a) / math.sqrt(fan))


def xavier_uniform_(t, gain=1.0):
    fi, fo = _fans(t)
    bound = gain * math.sqrt(6.0 / (fi + fo))
    return uniform_(t, -bound, bound)


def xavier_normal_(t, gain=1.0):
    fi, fo = _fans(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fi + fo)))
