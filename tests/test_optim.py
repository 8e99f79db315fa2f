import numpy as np

import pyfw
import pyfw.optim as optim

G1, G2 = np.array([0.5, -1.0]), np.array([-0.2, 0.3])


def run(opt_cls, **kw):
    w = pyfw.tensor(np.array([1.0, 2.0]), requires_grad=True)
    opt = opt_cls([w], **kw)
    out = []
    for g in (G1, G2):
        opt.zero_grad()
        (w * pyfw.tensor(g)).sum().backward()  # dL/dw = g
        opt.step()
        out.append(w.numpy().copy())
    return out, opt


def test_sgd_plain_and_weight_decay():
    (w1, w2), _ = run(optim.SGD, lr=0.1, weight_decay=0.01)
    e1 = np.array([1.0, 2.0]) - 0.1 * (G1 + 0.01 * np.array([1.0, 2.0]))
    np.testing.assert_allclose(w1, e1)
    np.testing.assert_allclose(w2, e1 - 0.1 * (G2 + 0.01 * e1))


def test_sgd_momentum_nesterov():
    w0 = np.array([1.0, 2.0])
    (w1, w2), _ = run(optim.SGD, lr=0.1, momentum=0.9)
    np.testing.assert_allclose(w1, w0 - 0.1 * G1)
    np.testing.assert_allclose(w2, w1 - 0.1 * (0.9 * G1 + G2))
    (w1, w2), _ = run(optim.SGD, lr=0.1, momentum=0.9, nesterov=True)
    np.testing.assert_allclose(w1, w0 - 0.1 * (G1 + 0.9 * G1))
    b2 = 0.9 * G1 + G2
    np.testing.assert_allclose(w2, w1 - 0.1 * (G2 + 0.9 * b2))


def adam_ref(w, wd, decoupled):
    m = v = 0
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    for t, g in enumerate((G1, G2), 1):
        if decoupled:
            w = w - lr * wd * w
        else:
            g = g + wd * w
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        w = w - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
    return w


def test_adam_and_adamw():
    (_, w2), opt = run(optim.Adam, lr=0.01, weight_decay=0.1)
    np.testing.assert_allclose(w2, adam_ref(np.array([1.0, 2.0]), 0.1, False))
    (_, w2), _ = run(optim.AdamW, lr=0.01, weight_decay=0.1)
    np.testing.assert_allclose(w2, adam_ref(np.array([1.0, 2.0]), 0.1, True))
    sd = opt.state_dict()
    assert sd["state"][0]["step"] == 2 and sd["defaults"]["lr"] == 0.01


def test_state_dict_resume_matches_uninterrupted():
    (_, w2), _ = run(optim.SGD, lr=0.1, momentum=0.9)
    w = pyfw.tensor(np.array([1.0, 2.0]), requires_grad=True)
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    (w * pyfw.tensor(G1)).sum().backward()
    opt.step()
    opt2 = optim.SGD([w], lr=0.5)
    opt2.load_state_dict(opt.state_dict())
    w.grad = None
    (w * pyfw.tensor(G2)).sum().backward()
    opt2.step()
    np.testing.assert_allclose(w.numpy(), w2)
