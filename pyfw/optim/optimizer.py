"""Optimizer base: param_groups, per-parameter state, zero_grad, state_dict (PyTorch's layout)."""
from __future__ import annotations

import numpy as np

from pyfw.autograd.tensor import Tensor


def check_range(cls, name, value, lo, hi=float("inf"), hi_open=False):
    """Hyperparameters are checked when a group is added, so a typo fails at once."""
    ok = lo <= value and (value < hi if hi_open else value <= hi)
    if not ok:
        bound = f"[{lo}, {hi})" if hi_open else f"[{lo}, {hi}]"
        raise ValueError(f"{cls}: invalid {name} {value!r}, must be in {bound}")


class Optimizer:
    """Subclasses set `defaults` and define `_update(p, grad, state, group)` for one parameter."""

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.state: dict[int, dict] = {}  # id(param) -> buffers; params live in param_groups
        self.param_groups: list[dict] = []
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of Tensors or "
                            f"dicts, got a single Tensor")
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        for group in (params if isinstance(params[0], dict) else [{"params": params}]):
            self.add_param_group(group)

    def add_param_group(self, group):
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{type(self).__name__}: a param group is a dict with a 'params' key")
        group = dict(group)
        ps = group["params"]
        ps = [ps] if isinstance(ps, Tensor) else list(ps)
        for p in ps:
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__} can only optimize Tensors, got "
                                f"{type(p).__name__}")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in ps) or len({id(p) for p in ps}) != len(ps):
            raise ValueError(f"{type(self).__name__}: some parameters appear in more than one "
                             f"parameter group")
        for k, v in self.defaults.items():
            group.setdefault(k, v)
        group["params"] = ps
        self._check(group)
        self.param_groups.append(group)

    def _check(self, group):
        check_range(type(self).__name__, "lr", group["lr"], 0.0)
        check_range(type(self).__name__, "weight_decay", group["weight_decay"], 0.0)

    def zero_grad(self, set_to_none=True):
        for g in self.param_groups:
            for p in g["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.data[...] = 0

    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad.data
                g = -g if group.get("maximize") else g
                self._update(p, g, self.state.setdefault(id(p), {}), group)
        return loss

    def _update(self, p, grad, state, group):
        raise NotImplementedError

    # ---- checkpoints: parameters are named by their index over all groups, as in PyTorch
    def state_dict(self):
        index, groups = {}, []
        for g in self.param_groups:
            for p in g["params"]:
                index.setdefault(id(p), len(index))
            groups.append({**{k: v for k, v in g.items() if k != "params"},
                           "params": [index[id(p)] for p in g["params"]]})
        state = {index[k]: {n: np.copy(v) if isinstance(v, np.ndarray) else v for n, v in s.items()}
                 for k, s in self.state.items() if s and k in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        name = type(self).__name__
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            raise ValueError(f"{name}.load_state_dict: expected a dict with keys 'state' and "
                             f"'param_groups', got {type(state_dict).__name__}"
                             f"{sorted(state_dict) if isinstance(state_dict, dict) else ''}")
        saved = state_dict["param_groups"]
        if len(saved) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the state has {len(saved)} parameter "
                             f"groups, this optimizer has {len(self.param_groups)}")
        params = []
        for i, (s, g) in enumerate(zip(saved, self.param_groups)):
            if len(s["params"]) != len(g["params"]):
                raise ValueError(f"{name}.load_state_dict: parameter group {i} has "
                                 f"{len(s['params'])} parameters in the state, "
                                 f"{len(g['params'])} here")
            params += list(zip(s["params"], g["params"]))
        by_index = {int(k): p for k, p in params}
        state = {}
        for k, s in state_dict["state"].items():
            if int(k) not in by_index:
                raise ValueError(f"{name}.load_state_dict: state for parameter {k}, which no "
                                 f"group lists")
            p = by_index[int(k)]
            own = {}
            for n, v in s.items():
                if isinstance(v, (np.ndarray, Tensor)):
                    v = np.array(v.data if isinstance(v, Tensor) else v)
                    if v.ndim and v.shape != p.shape:
                        raise ValueError(f"{name}.load_state_dict: state {n!r} of parameter {k} "
                                         f"has shape {v.shape}, the parameter {p.shape}")
                    v = v.astype(p.dtype) if v.ndim else v
                own[n] = v
            state[id(p)] = own
        self.state = state
        self.param_groups = [{**{k: (tuple(v) if isinstance(v, list) else v)
                                 for k, v in s.items() if k != "params"}, "params": g["params"]}
                             for s, g in zip(saved, self.param_groups)]
