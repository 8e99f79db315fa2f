"""pyfw.optim: SGD, Adam, AdamW with PyTorch's update rules (NumPy, in place)."""
from __future__ import annotations

import numpy as np


class Optimizer:
    def __init__(self, params, defaults):
        self.params = list(params)
        self.defaults = defaults
        self.state: dict[int, dict] = {}  # index in params -> buffers

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            p.grad = None

    def state_dict(self):
        return {"state": {i: {k: np.copy(v) for k, v in s.items()} for i, s in self.state.items()},
                "defaults": dict(self.defaults)}

    def load_state_dict(self, sd):
        self.defaults.update(sd["defaults"])
        self.__dict__.update(sd["defaults"])
        self.state = {int(i): {k: np.copy(v) for k, v in s.items()} for i, s in sd["state"].items()}


class SGD(Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0.0, weight_decay=0.0, nesterov=False,
                 dampening=0.0):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                                      nesterov=nesterov, dampening=dampening))
        self.__dict__.update(self.defaults)

    def step(self):
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = p.grad.data + self.weight_decay * p.data  # g += wd * w
            if self.momentum:
                s = self.state.setdefault(i, {})
                if "momentum_buffer" not in s:
                    s["momentum_buffer"] = g.copy()  # b = g on the first step
                else:
                    s["momentum_buffer"] = self.momentum * s["momentum_buffer"] + (1 - self.dampening) * g
                b = s["momentum_buffer"]
                g = g + self.momentum * b if self.nesterov else b
            p.data -= (self.lr * g).astype(p.data.dtype)


class Adam(Optimizer):
    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay))
        self.__dict__.update(self.defaults)

    def step(self):
        b1, b2 = self.betas
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = p.grad.data
            if self.weight_decay and self.decoupled:  # AdamW: w -= lr * wd * w
                p.data -= (self.lr * self.weight_decay * p.data).astype(p.data.dtype)
            elif self.weight_decay:  # Adam: L2 folded into the gradient
                g = g + self.weight_decay * p.data
            s = self.state.setdefault(i, {"step": np.zeros(()), "m": np.zeros_like(g),
                                          "v": np.zeros_like(g)})
            s["step"] = s["step"] + 1
            t = s["step"]
            s["m"] = b1 * s["m"] + (1 - b1) * g
            s["v"] = b2 * s["v"] + (1 - b2) * g * g
            mhat, vhat = s["m"] / (1 - b1 ** t), s["v"] / (1 - b2 ** t)
            p.data -= (self.lr * mhat / (np.sqrt(vhat) + self.eps)).astype(p.data.dtype)


class AdamW(Adam):
    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr, betas, eps, weight_decay)
