"""Adam (L2 folded into the gradient), AdamW (decoupled decay), optional AMSGrad."""
from __future__ import annotations

import numpy as np

from pyfw.optim.optimizer import Optimizer, check_range


class Adam(Optimizer):
    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, *, maximize=False):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize))

    def _check(self, group):
        super()._check(group)
        name = type(self).__name__
        check_range(name, "eps", group["eps"], 0.0)
        b1, b2 = group["betas"]
        check_range(name, "beta parameter at index 0", b1, 0.0, 1.0, hi_open=True)
        check_range(name, "beta parameter at index 1", b2, 0.0, 1.0, hi_open=True)

    def _update(self, p, g, state, group):
        lr, (b1, b2), wd = group["lr"], group["betas"], group["weight_decay"]
        if wd and self.decoupled:
            p.data *= 1 - lr * wd  # AdamW: w -= lr * wd * w
        elif wd:
            g = g + wd * p.data  # Adam: L2 folded into the gradient
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(p.data), exp_avg_sq=np.zeros_like(p.data))
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p.data)
        state["step"] += 1
        t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
        m *= b1
        m += (1 - b1) * g  # m = b1 m + (1 - b1) g
        v *= b2
        v += (1 - b2) * g * g  # v = b2 v + (1 - b2) g^2
        if group["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        # w -= lr * m_hat / (sqrt(v_hat) + eps), m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t)
        p.data -= lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + group["eps"])


class AdamW(Adam):
    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)
