"""Learning-rate schedules (torch.optim.lr_scheduler's names and closed forms).

A scheduler writes each group's "lr" when it steps; construction takes step 0,
so the optimizer's first step already uses the schedule's first value.
"""
from __future__ import annotations

import math

from pyfw.optim.optimizer import Optimizer


class LRScheduler:
    def __init__(self, optimizer, last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: {type(optimizer).__name__} is not an "
                            f"Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for g in optimizer.param_groups:
                g.setdefault("initial_lr", g["lr"])
        elif any("initial_lr" not in g for g in optimizer.param_groups):
            raise KeyError(f"{type(self).__name__}: resuming at last_epoch={last_epoch} needs "
                           f"'initial_lr' in every param group (a state_dict from a scheduler)")
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def get_lr(self) -> list[float]:
        """The lr of each group at step `last_epoch`."""
        raise NotImplementedError

    def step(self, epoch=None):
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        for g, lr in zip(self.optimizer.param_groups, self.get_lr()):
            g["lr"] = lr
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        return list(self._last_lr)

    def state_dict(self):
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict):
        self.__dict__.update(state_dict)


class StepLR(LRScheduler):
    """lr = base_lr * gamma ** (epoch // step_size)."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        if not isinstance(step_size, int) or step_size < 1:
            raise ValueError(f"StepLR: step_size must be a positive int, got {step_size!r}")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [b * self.gamma ** (self.last_epoch // self.step_size) for b in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2."""

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        if T_max <= 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be positive, got {T_max!r}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        c = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (b - self.eta_min) * c for b in self.base_lrs]


def _per_group(name, value, n):
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"OneCycleLR: expected {n} values for {name} (one per param "
                             f"group), got {len(value)}")
        return list(value)
    return [value] * n


def _anneal_cos(start, end, pct):
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def _anneal_linear(start, end, pct):
    return (end - start) * pct + start


class OneCycleLR(LRScheduler):
    """The 1cycle policy, per batch: lr warms from max_lr/div_factor to max_lr, then anneals
    to max_lr/div_factor/final_div_factor (three_phase: back to the start first); momentum
    (SGD's momentum or Adam's beta1) moves the opposite way between base and max."""

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,
                 pct_start=0.3, anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85,
                 max_momentum=0.95, div_factor=25.0, final_div_factor=1e4, three_phase=False,
                 last_epoch=-1):
        if total_steps is None:
            if not (isinstance(epochs, int) and epochs > 0 and isinstance(steps_per_epoch, int)
                    and steps_per_epoch > 0):
                raise ValueError(f"OneCycleLR: give total_steps, or epochs and steps_per_epoch "
                                 f"as positive ints (got epochs={epochs!r}, "
                                 f"steps_per_epoch={steps_per_epoch!r})")
            total_steps = epochs * steps_per_epoch
        if not isinstance(total_steps, int) or total_steps <= 0:
            raise ValueError(f"OneCycleLR: total_steps must be a positive int, got {total_steps!r}")
        if not 0 <= pct_start <= 1:
            raise ValueError(f"OneCycleLR: pct_start must be in [0, 1], got {pct_start!r}")
        anneal = {"cos": _anneal_cos, "linear": _anneal_linear}
        if anneal_strategy not in anneal:
            raise ValueError(f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got "
                             f"{anneal_strategy!r}")
        self.total_steps, self.anneal_strategy = total_steps, anneal_strategy
        self.cycle_momentum = cycle_momentum
        warm_end = float(pct_start * total_steps) - 1
        # (end step, lr from -> to, momentum from -> to), keys of each param group
        up = (warm_end, "initial_lr", "max_lr", "max_momentum", "base_momentum")
        if three_phase:
            phases = [up, (2 * warm_end, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
                      (total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum")]
        else:
            phases = [up, (total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")]
        self._phases = [dict(end_step=e, lr=(l0, l1), mom=(m0, m1)) for e, l0, l1, m0, m1 in phases]
        groups = optimizer.param_groups
        n = len(groups)
        if last_epoch == -1:
            for g, m in zip(groups, _per_group("max_lr", max_lr, n)):
                g["initial_lr"] = m / div_factor
                g["max_lr"] = m
                g["min_lr"] = g["initial_lr"] / final_div_factor
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(f"OneCycleLR: {type(optimizer).__name__} has neither momentum "
                                 f"nor betas; pass cycle_momentum=False")
            self._use_beta1 = "betas" in optimizer.defaults
            for g, lo, hi in zip(groups, _per_group("base_momentum", base_momentum, n),
                                 _per_group("max_momentum", max_momentum, n)):
                if last_epoch == -1:
                    self._set_momentum(g, hi)
                g["base_momentum"], g["max_momentum"] = lo, hi
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group, value):
        if self._use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def get_lr(self):
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {step} times; total_steps is "
                             f"{self.total_steps}")
        anneal = _anneal_cos if self.anneal_strategy == "cos" else _anneal_linear
        lrs = []
        for g in self.optimizer.param_groups:
            start = 0.0
            for i, ph in enumerate(self._phases):
                end = ph["end_step"]
                if step <= end or i == len(self._phases) - 1:
                    # a phase of zero length (tiny total_steps) is already complete
                    pct = (step - start) / (end - start) if end != start else 1.0
                    lrs.append(anneal(g[ph["lr"][0]], g[ph["lr"][1]], pct))
                    if self.cycle_momentum:
                        self._set_momentum(g, anneal(g[ph["mom"][0]], g[ph["mom"][1]], pct))
                    break
                start = end
        return lrs
