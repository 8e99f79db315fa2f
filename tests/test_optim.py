"""Optimizers against PyTorch's documented update rules, written out here in NumPy."""
import numpy as np
import pytest

import pyfw
import pyfw.optim as optim

W0 = np.array([1.0, -2.0, 0.5])
GRADS = [np.array([0.5, -1.0, 0.25]), np.array([-0.2, 0.3, 0.0]), np.array([0.7, 0.1, -0.4]),
         np.array([0.05, -0.6, 0.9])]


def run(opt_cls, grads=GRADS, **kw):
    """Step the optimizer with dL/dw = g for each g; return w after each step."""
    w = pyfw.tensor(W0.copy(), requires_grad=True)
    opt = opt_cls([w], **kw)
    out = []
    for g in grads:
        opt.zero_grad()
        (w * pyfw.tensor(g)).sum().backward()
        opt.step()
        out.append(w.numpy().copy())
    return out, opt


def sgd_ref(lr, momentum=0.0, dampening=0.0, wd=0.0, nesterov=False, maximize=False):
    w, b, out = W0.copy(), None, []
    for t, g in enumerate(GRADS, 1):
        g = -g if maximize else g
        g = g + wd * w
        if momentum:
            b = g if t == 1 else momentum * b + (1 - dampening) * g
            g = g + momentum * b if nesterov else b
        w = w - lr * g
        out.append(w)
    return out


def adam_ref(lr, b1, b2, eps, wd, decoupled, amsgrad=False):
    w, m, v, vmax, out = W0.copy(), 0.0, 0.0, 0.0, []
    for t, g in enumerate(GRADS, 1):
        if decoupled:
            w = w - lr * wd * w
        else:
            g = g + wd * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        mhat = m / (1 - b1 ** t)
        vmax = np.maximum(vmax, v)
        vhat = (vmax if amsgrad else v) / (1 - b2 ** t)
        w = w - lr * mhat / (np.sqrt(vhat) + eps)
        out.append(w)
    return out


def rmsprop_ref(lr, alpha, eps, wd, momentum, centered):
    w, v, gavg, b, out = W0.copy(), 0.0, 0.0, 0.0, []
    for g in GRADS:
        g = g + wd * w
        v = alpha * v + (1 - alpha) * g ** 2
        vt = v
        if centered:
            gavg = alpha * gavg + (1 - alpha) * g
            vt = v - gavg ** 2
        if momentum > 0:
            b = momentum * b + g / (np.sqrt(vt) + eps)
            w = w - lr * b
        else:
            w = w - lr * g / (np.sqrt(vt) + eps)
        out.append(w)
    return out


@pytest.mark.parametrize("kw", [
    dict(lr=0.1), dict(lr=0.1, weight_decay=0.01), dict(lr=0.1, momentum=0.9),
    dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.1),
    dict(lr=0.1, momentum=0.9, nesterov=True), dict(lr=0.1, momentum=0.9, nesterov=True,
                                                    weight_decay=0.05, maximize=True)])
def test_sgd(kw):
    got, _ = run(optim.SGD, **kw)
    exp = sgd_ref(kw["lr"], kw.get("momentum", 0.0), kw.get("dampening", 0.0),
                  kw.get("weight_decay", 0.0), kw.get("nesterov", False), kw.get("maximize", False))
    np.testing.assert_allclose(got, exp, rtol=1e-12, atol=1e-14)


def test_sgd_hand_values():
    # lr 0.1, momentum 0.9: w1 = w0 - 0.1 g1; w2 = w1 - 0.1 (0.9 g1 + g2)
    (w1, w2, *_), _ = run(optim.SGD, lr=0.1, momentum=0.9)
    np.testing.assert_allclose(w1, [0.95, -1.9, 0.475])
    np.testing.assert_allclose(w2, [0.95 - 0.1 * (0.45 - 0.2), -1.9 - 0.1 * (-0.9 + 0.3),
                                    0.475 - 0.1 * 0.225])


@pytest.mark.parametrize("cls,wd,amsgrad", [(optim.Adam, 0.0, False), (optim.Adam, 0.1, False),
                                            (optim.AdamW, 0.1, False), (optim.Adam, 0.1, True),
                                            (optim.AdamW, 0.01, True)])
def test_adam_adamw(cls, wd, amsgrad):
    got, opt = run(cls, lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=wd, amsgrad=amsgrad)
    exp = adam_ref(0.01, 0.8, 0.95, 1e-6, wd, cls is optim.AdamW, amsgrad)
    np.testing.assert_allclose(got, exp, rtol=1e-12, atol=1e-14)
    assert opt.state_dict()["state"][0]["step"] == len(GRADS)


def test_adam_first_step_is_lr_times_sign():
    # m_hat = g, v_hat = g^2 on step 1, so w1 = w0 - lr * g / (|g| + eps)
    (w1, *_), _ = run(optim.Adam, lr=0.01, eps=0.0)
    np.testing.assert_allclose(w1, W0 - 0.01 * np.sign(GRADS[0]))


@pytest.mark.parametrize("kw", [
    dict(), dict(alpha=0.9, weight_decay=0.1), dict(momentum=0.9), dict(centered=True),
    dict(alpha=0.8, eps=1e-4, weight_decay=0.05, momentum=0.7, centered=True)])
def test_rmsprop(kw):
    got, _ = run(optim.RMSprop, lr=0.01, **kw)
    exp = rmsprop_ref(0.01, kw.get("alpha", 0.99), kw.get("eps", 1e-8), kw.get("weight_decay", 0.0),
                      kw.get("momentum", 0.0), kw.get("centered", False))
    np.testing.assert_allclose(got, exp, rtol=1e-12, atol=1e-14)


def test_param_groups_and_lr_edit():
    a = pyfw.tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = pyfw.tensor(np.array([3.0]), requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1, momentum=0.0)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[0]["momentum"] == 0.0
    (a.sum() + 2 * b.sum()).backward()
    opt.step()
    np.testing.assert_allclose(a.numpy(), [0.9, 1.9])
    np.testing.assert_allclose(b.numpy(), [2.0])
    opt.param_groups[0]["lr"] = 1.0  # PyTorch users change the lr this way
    opt.step()
    np.testing.assert_allclose(a.numpy(), [-0.1, 0.9])
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(a.grad.numpy(), [0.0, 0.0])
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_closure_and_skips_params_without_grad():
    a = pyfw.tensor(np.array([1.0]), requires_grad=True)
    b = pyfw.tensor(np.array([5.0]), requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (a * a).sum()
        loss.backward()
        return loss
    assert opt.step(closure).item() == 1.0
    np.testing.assert_allclose(a.numpy(), [0.9])
    np.testing.assert_array_equal(b.numpy(), [5.0])
    assert len(opt.state_dict()["state"]) == 1


@pytest.mark.parametrize("cls,kw", [(optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
                                    (optim.Adam, dict(lr=0.01, amsgrad=True)),
                                    (optim.RMSprop, dict(lr=0.01, momentum=0.5, centered=True))])
def test_state_dict_resume_matches_uninterrupted(cls, kw):
    full, _ = run(cls, **kw)
    w = pyfw.tensor(W0.copy(), requires_grad=True)
    opt = cls([w], **kw)
    for g in GRADS[:2]:
        opt.zero_grad()
        (w * pyfw.tensor(g)).sum().backward()
        opt.step()
    sd = opt.state_dict()
    assert sd["param_groups"][0]["params"] == [0] and sd["param_groups"][0]["lr"] == kw["lr"]
    opt2 = cls([w], lr=0.5)  # hyperparameters come back from the state too
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == kw["lr"]
    for g in GRADS[2:]:
        opt2.zero_grad()
        (w * pyfw.tensor(g)).sum().backward()
        opt2.step()
    np.testing.assert_allclose(w.numpy(), full[-1], rtol=1e-12)


def test_state_dict_is_a_copy():
    _, opt = run(optim.SGD, lr=0.1, momentum=0.9)
    sd = opt.state_dict()
    sd["state"][0]["momentum_buffer"][...] = 123.0
    assert not np.any(next(iter(opt.state.values()))["momentum_buffer"] == 123.0)


def test_bad_arguments():
    w = pyfw.tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(ValueError, match="invalid lr"):
        optim.SGD([w], lr=-1.0)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="beta parameter at index 1"):
        optim.Adam([w], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.RMSprop([])
    with pytest.raises(ValueError, match="more than one"):
        optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    two = optim.SGD([w, pyfw.tensor(np.zeros(3), requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="parameter group 0 has 2 parameters in the state, 1 here"):
        opt.load_state_dict(two.state_dict())
    other = optim.SGD([pyfw.tensor(np.zeros(3), requires_grad=True)], lr=0.1, momentum=0.9)
    other.param_groups[0]["params"][0].grad = pyfw.tensor(np.ones(3))
    other.step()
    with pytest.raises(ValueError, match=r"momentum_buffer.*shape \(3,\).*\(2,\)"):
        opt.load_state_dict(other.state_dict())
