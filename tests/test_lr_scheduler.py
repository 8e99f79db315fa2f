"""LR schedules against the closed forms in PyTorch's documentation, written out here."""
import math

import numpy as np
import pytest

import pyfw
from pyfw.optim import SGD, Adam, Optimizer, RMSprop
from pyfw.optim.lr_scheduler import CosineAnnealingLR, OneCycleLR, StepLR


def opt(cls=SGD, lrs=(0.1,), **kw):
    groups = [{"params": [pyfw.tensor(np.zeros(2), requires_grad=True)], "lr": lr} for lr in lrs]
    return cls(groups, **kw)


def trace(sched, n):
    """Lrs at steps 0..n-1, read from the optimizer's groups and from get_last_lr()."""
    out = []
    for _ in range(n):
        lrs = [g["lr"] for g in sched.optimizer.param_groups]
        assert lrs == sched.get_last_lr()
        out.append(lrs)
        sched.optimizer.step()
        sched.step()
    return np.array(out)


def test_step_lr():
    s = StepLR(opt(lrs=(0.1, 1.0)), step_size=3, gamma=0.5)
    exp = [[0.1 * 0.5 ** (e // 3), 1.0 * 0.5 ** (e // 3)] for e in range(10)]
    np.testing.assert_allclose(trace(s, 10), exp, rtol=1e-15)
    np.testing.assert_allclose(trace(StepLR(opt(), 2), 5)[:, 0], [0.1, 0.1, 0.01, 0.01, 0.001])


def test_cosine_annealing():
    s = CosineAnnealingLR(opt(lrs=(0.1, 0.02)), T_max=8, eta_min=0.001)
    exp = [[0.001 + (b - 0.001) * (1 + math.cos(math.pi * e / 8)) / 2 for b in (0.1, 0.02)]
           for e in range(12)]
    got = trace(s, 12)
    np.testing.assert_allclose(got, exp, rtol=1e-12)
    assert got[4, 0] == pytest.approx((0.1 + 0.001) / 2) and got[8, 0] == pytest.approx(0.001)


def onecycle_ref(step, total, max_lr, pct=0.3, div=25.0, final=1e4, three=False, cos=True,
                 base_m=0.85, max_m=0.95):
    """PyTorch's OneCycleLR phases: (end_step, lr from, lr to, momentum from, momentum to)."""
    lo, hi, end = max_lr / div, max_lr, max_lr / div / final
    a = pct * total - 1
    phases = ([(a, lo, hi, max_m, base_m), (2 * a, hi, lo, base_m, max_m),
               (total - 1, lo, end, max_m, max_m)] if three else
              [(a, lo, hi, max_m, base_m), (total - 1, hi, end, base_m, max_m)])
    start = 0
    for i, (stop, l0, l1, m0, m1) in enumerate(phases):
        if step <= stop or i == len(phases) - 1:
            p = (step - start) / (stop - start)
            f = (lambda s, e: e + (s - e) * (1 + math.cos(math.pi * p)) / 2) if cos else \
                (lambda s, e: s + (e - s) * p)
            return f(l0, l1), f(m0, m1)
        start = stop


@pytest.mark.parametrize("three,strategy", [(False, "cos"), (False, "linear"), (True, "cos"),
                                            (True, "linear")])
def test_one_cycle_sgd_momentum(three, strategy):
    o = opt(SGD, lrs=(0.1,), momentum=0.9)
    s = OneCycleLR(o, max_lr=1.0, total_steps=20, pct_start=0.25, three_phase=three,
                   anneal_strategy=strategy, div_factor=10.0, final_div_factor=100.0)
    for step in range(20):
        lr, m = onecycle_ref(step, 20, 1.0, 0.25, 10.0, 100.0, three, strategy == "cos")
        assert o.param_groups[0]["lr"] == pytest.approx(lr, rel=1e-12)
        assert o.param_groups[0]["momentum"] == pytest.approx(m, rel=1e-12)
        if step == 0:
            assert lr == pytest.approx(0.1) and m == pytest.approx(0.95)
        if step == 4:  # end of warm-up (0.25 * 20 - 1): the peak
            assert lr == pytest.approx(1.0) and m == pytest.approx(0.85)
        if step == 19:  # the last step reaches the floor max_lr / div / final_div
            assert lr == pytest.approx(1.0 / 10 / 100) and m == pytest.approx(0.95)
        s.step()


def test_one_cycle_adam_betas_epochs_and_groups():
    o = opt(Adam, lrs=(1.0, 1.0), betas=(0.9, 0.99))
    s = OneCycleLR(o, max_lr=[0.01, 0.1], epochs=3, steps_per_epoch=5)
    assert s.total_steps == 15
    for step in range(15):
        for g, mx in zip(o.param_groups, (0.01, 0.1)):
            lr, m = onecycle_ref(step, 15, mx)
            assert g["lr"] == pytest.approx(lr, rel=1e-12)
            assert g["betas"] == (pytest.approx(m, rel=1e-12), 0.99)
        if step < 14:
            s.step()
    assert o.param_groups[1]["lr"] == pytest.approx(0.1 / 25 / 1e4, rel=1e-9)
    s.step()  # step 15 == total_steps is still allowed, as in PyTorch
    with pytest.raises(ValueError, match="tried to step 16 times; total_steps is 15"):
        s.step()


class PlainSGD(Optimizer):
    def _update(self, p, g, state, group):
        p.data -= group["lr"] * g


def test_one_cycle_rmsprop_momentum_is_cycled():
    o = opt(RMSprop, lrs=(0.5,))
    OneCycleLR(o, max_lr=1.0, total_steps=10)
    assert o.param_groups[0]["momentum"] == 0.95  # RMSprop has momentum, so it cycles
    o.param_groups[0]["params"][0].grad = pyfw.tensor(np.ones(2))
    o.step()  # its momentum buffer is made on the fly
    np.testing.assert_allclose(o.param_groups[0]["params"][0].numpy(), -0.04 / (0.1 + 1e-8))


def test_one_cycle_without_momentum_cycling_and_errors():
    o = opt(PlainSGD, lrs=(0.5,), defaults=dict(lr=0.5, weight_decay=0.0))
    with pytest.raises(ValueError, match="PlainSGD has neither momentum nor betas"):
        OneCycleLR(o, max_lr=1.0, total_steps=10)
    s = OneCycleLR(o, max_lr=1.0, total_steps=10, cycle_momentum=False)
    assert "momentum" not in o.param_groups[0] and s.get_last_lr() == [pytest.approx(0.04)]
    with pytest.raises(ValueError, match="anneal_strategy"):
        OneCycleLR(o, max_lr=1.0, total_steps=10, anneal_strategy="exp", cycle_momentum=False)
    with pytest.raises(ValueError, match="total_steps, or epochs and steps_per_epoch"):
        OneCycleLR(o, max_lr=1.0, epochs=2, cycle_momentum=False)
    with pytest.raises(ValueError, match="expected 1 values for max_lr"):
        OneCycleLR(o, max_lr=[1.0, 2.0], total_steps=10, cycle_momentum=False)


def test_scheduled_lr_drives_the_update():
    w = pyfw.tensor(np.array([0.0]), requires_grad=True)
    o = SGD([w], lr=1.0)
    s = StepLR(o, step_size=1, gamma=0.5)
    for _ in range(3):  # w -= lr with lr 1, 0.5, 0.25
        o.zero_grad()
        w.sum().backward()
        o.step()
        s.step()
    np.testing.assert_allclose(w.numpy(), [-1.75])


def test_state_dict_resume(tmp_path):
    o = opt(SGD, momentum=0.9)
    s = OneCycleLR(o, max_lr=1.0, total_steps=12)
    for _ in range(5):
        s.step()
    sd, osd = s.state_dict(), o.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 5
    pyfw.save({"opt": osd, "sched": sd}, tmp_path / "ck")  # both go through a checkpoint
    ck = pyfw.load(tmp_path / "ck")
    o2 = opt(SGD, momentum=0.9)
    o2.load_state_dict(ck["opt"])
    s2 = OneCycleLR(o2, max_lr=1.0, total_steps=12)
    s2.load_state_dict(ck["sched"])
    s.step()
    s2.step()
    assert s2.get_last_lr() == s.get_last_lr() == [pytest.approx(onecycle_ref(6, 12, 1.0)[0])]
    c = CosineAnnealingLR(opt(), T_max=4)
    c.step()
    c2 = CosineAnnealingLR(opt(), T_max=4)
    c2.load_state_dict(c.state_dict())
    c.step()
    c2.step()
    assert c2.get_last_lr() == c.get_last_lr() == [pytest.approx(0.05)]
