"""SGD with momentum, dampening, Nesterov and L2 weight decay (torch.optim.SGD's rule)."""
from __future__ import annotations

from pyfw.optim.optimizer import Optimizer, check_range


class SGD(Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, maximize=False):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def _check(self, group):
        super()._check(group)
        check_range("SGD", "momentum", group["momentum"], 0.0)

    def _update(self, p, g, state, group):
        mu, wd = group["momentum"], group["weight_decay"]
        if wd:
            g = g + wd * p.data  # g += wd * w
        if mu:
            b = state.get("momentum_buffer")
            if b is None:
                b = state["momentum_buffer"] = g.copy()  # b = g on the first step
            else:
                b *= mu
                b += (1 - group["dampening"]) * g  # b = mu b + (1 - dampening) g
            g = g + mu * b if group["nesterov"] else b
        p.data -= group["lr"] * g
