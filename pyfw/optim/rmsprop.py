"""RMSprop with optional centering and momentum (torch.optim.RMSprop's rule)."""
from __future__ import annotations

import numpy as np

from pyfw.optim.optimizer import Optimizer, check_range


class RMSprop(Optimizer):
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, *, maximize=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

    def _check(self, group):
        super()._check(group)
        check_range("RMSprop", "alpha", group["alpha"], 0.0)
        check_range("RMSprop", "eps", group["eps"], 0.0)
        check_range("RMSprop", "momentum", group["momentum"], 0.0)

    def _update(self, p, g, state, group):
        alpha, mu = group["alpha"], group["momentum"]
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p.data
        if not state:
            state.update(step=0, square_avg=np.zeros_like(p.data))
        if mu and "momentum_buffer" not in state:  # momentum may be switched on later (OneCycleLR)
            state["momentum_buffer"] = np.zeros_like(p.data)
        if group["centered"] and "grad_avg" not in state:
            state["grad_avg"] = np.zeros_like(p.data)
        state["step"] += 1
        v = state["square_avg"]
        v *= alpha
        v += (1 - alpha) * g * g  # v = alpha v + (1 - alpha) g^2
        if group["centered"]:
            ga = state["grad_avg"]
            ga *= alpha
            ga += (1 - alpha) * g  # running mean of g; variance = v - mean^2
            denom = np.sqrt(v - ga * ga) + group["eps"]
        else:
            denom = np.sqrt(v) + group["eps"]
        if mu:
            b = state["momentum_buffer"]
            b *= mu
            b += g / denom  # b = mu b + g / denom
            p.data -= group["lr"] * b
        else:
            p.data -= group["lr"] * g / denom
