import numpy as np
import pytest

import pyfw
import pyfw.nn as nn
import pyfw.nn.functional as F
from gradcheck import gradcheck

r = np.random.default_rng(0)


def conv_ref(x, w, b, s, p, d, g):
    """Direct loops: the oracle for the im2col convolution."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    oh, ow = (h + 2 * p - d * (kh - 1) - 1) // s + 1, (wd + 2 * p - d * (kw - 1) - 1) // s + 1
    y = np.zeros((n, o, oh, ow))
    for oc in range(o):
        gi = oc // (o // g)
        for i in range(oh):
            for j in range(ow):
                patch = xp[:, gi * cg:(gi + 1) * cg, i * s: i * s + d * (kh - 1) + 1: d,
                           j * s: j * s + d * (kw - 1) + 1: d]
                y[:, oc, i, j] = (patch * w[oc]).sum((1, 2, 3)) + b[oc]
    return y


@pytest.mark.parametrize("s,p,d,g", [(1, 0, 1, 1), (2, 1, 1, 1), (1, 2, 2, 1), (2, 1, 1, 2)])
def test_conv2d_values_and_grads(s, p, d, g):
    x, w, b = r.standard_normal((2, 4, 7, 6)), r.standard_normal((4, 4 // g, 3, 3)), r.standard_normal(4)
    y = F.conv2d(pyfw.tensor(x), pyfw.tensor(w), pyfw.tensor(b), s, p, d, g)
    np.testing.assert_allclose(y.numpy(), conv_ref(x, w, b, s, p, d, g), rtol=1e-10, atol=1e-10)
    gradcheck(lambda x, w, b: F.conv2d(x, w, b, s, p, d, g), x[:1, :, :5, :5], w, b)


@pytest.mark.parametrize("fn", [
    lambda x: F.max_pool2d(x, 2), lambda x: F.max_pool2d(x, 3, 2, 1),
    lambda x: F.avg_pool2d(x, 2), lambda x: F.avg_pool2d(x, 3, 1, 1),
    lambda x: F.adaptive_avg_pool2d(x, 1), lambda x: F.flatten(x),
])
def test_pool_grads(fn):
    gradcheck(fn, r.standard_normal((2, 2, 5, 5)))


def test_pool_values():
    x = r.standard_normal((1, 2, 4, 4))
    np.testing.assert_allclose(F.max_pool2d(pyfw.tensor(x), 2).numpy(),
                               x.reshape(1, 2, 2, 2, 2, 2).max((3, 5)))
    np.testing.assert_allclose(F.avg_pool2d(pyfw.tensor(x), 2).numpy(),
                               x.reshape(1, 2, 2, 2, 2, 2).mean((3, 5)))


X = r.standard_normal((4, 5))


@pytest.mark.parametrize("fn", [
    F.relu, F.sigmoid, F.tanh, lambda x: F.leaky_relu(x, 0.1), lambda x: F.softmax(x, 1),
    lambda x: F.log_softmax(x, 0), lambda x: F.cross_entropy(x, np.array([0, 4, 2, 1])),
    lambda x: F.cross_entropy(x, np.array([0, 4, 2, 1]), label_smoothing=0.2),
    lambda x: F.nll_loss(x, np.array([1, 1, 0, 3])), lambda x: F.mse_loss(x, X * 0.5),
])
def test_activation_and_loss_grads(fn):
    gradcheck(fn, X)


def test_loss_values():
    t = np.array([0, 4, 2, 1])
    logp = X - np.log(np.exp(X).sum(1, keepdims=True))
    ce = -logp[np.arange(4), t].mean()
    np.testing.assert_allclose(nn.CrossEntropyLoss()(pyfw.tensor(X), pyfw.tensor(t)).item(), ce)
    ls = 0.9 * ce + 0.1 * (-logp.mean(1)).mean()
    np.testing.assert_allclose(nn.CrossEntropyLoss(label_smoothing=0.1)(pyfw.tensor(X), t).item(), ls)
    np.testing.assert_allclose(nn.MSELoss()(pyfw.tensor(X), pyfw.tensor(X * 0)).item(), (X * X).mean())


def test_linear_grads_and_default_init():
    gradcheck(lambda x, w, b: F.linear(x, w, b), X, r.standard_normal((3, 5)), r.standard_normal(3))
    lin = nn.Linear(100, 50)
    assert np.abs(lin.weight.numpy()).max() <= 1 / np.sqrt(100) + 1e-7  # kaiming(a=sqrt5) bound
    assert np.abs(lin.bias.numpy()).max() <= 1 / np.sqrt(100) + 1e-7
    assert np.abs(lin.weight.numpy()).max() > 0.09


def test_bad_shapes_name_both():
    with pytest.raises(ValueError, match=r"\(4, 5\).*\(3, 6\)"):
        nn.Linear(6, 3)(pyfw.tensor(X))
    with pytest.raises(ValueError, match=r"\(4, 5\).*\(3,\)"):
        nn.CrossEntropyLoss()(pyfw.tensor(X), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"\(4, 5\).*\(4,\)"):
        nn.MSELoss()(pyfw.tensor(X), pyfw.zeros(4))


def test_module_tree_and_state_dict_round_trip():
    def make():
        return nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Dropout(0.5), nn.Linear(8, 3))
    a, b = make(), make()
    assert [n for n, _ in a.named_parameters()] == ["0.weight", "0.bias", "5.weight", "5.bias"]
    assert len(list(a.children())) == 6
    b.load_state_dict(a.state_dict())
    x = pyfw.randn(2, 1, 4, 4)
    a.eval(), b.eval()
    assert not a[4].training
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())
    with pytest.raises(KeyError):
        b.load_state_dict({})
    seen = []
    a.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Sequential" and len(seen) == 7
    ml = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])
    assert len(list(ml.parameters())) == 4


def test_dropout_train_vs_eval():
    d = nn.Dropout(0.5)
    y = d(pyfw.ones(1000)).numpy()
    assert set(np.unique(y)) <= {0.0, 2.0} and 300 < (y == 0).sum() < 700
    assert (d.eval()(pyfw.ones(10)).numpy() == 1).all()


def test_init_bounds():
    w = pyfw.zeros(30, 20)
    nn.init.xavier_uniform_(w)
    assert np.abs(w.numpy()).max() <= np.sqrt(6 / 50) and w.numpy().std() > 0.1
    nn.init.kaiming_uniform_(w, nonlinearity="relu")
    assert np.abs(w.numpy()).max() <= np.sqrt(6 / 20)


def test_batch_norm_train_grads_and_stats():
    x = r.standard_normal((4, 3, 2, 2))
    rm, rv = np.zeros(3), np.ones(3)
    gradcheck(lambda x, w, b: F.batch_norm(x, rm.copy(), rv.copy(), w, b, training=True),
              x, r.standard_normal(3), r.standard_normal(3))
    bn = nn.BatchNorm2d(3)
    y = bn(pyfw.tensor(x)).numpy()
    ref = (x - x.mean((0, 2, 3), keepdims=True)) / np.sqrt(x.var((0, 2, 3), keepdims=True) + 1e-5)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.1 * x.mean((0, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.9 + 0.1 * x.var((0, 2, 3), ddof=1),
                               rtol=1e-5)
    bn.eval()
    ye = bn(pyfw.tensor(x)).numpy()
    rm, rv = bn.running_mean.numpy(), bn.running_var.numpy()
    np.testing.assert_allclose(ye, (x - rm[:, None, None]) / np.sqrt(rv[:, None, None] + 1e-5),
                               rtol=1e-5, atol=1e-6)
    assert set(bn.state_dict()) == {"weight", "bias", "running_mean", "running_var"}
    b1 = nn.BatchNorm1d(5)
    gradcheck(lambda x: F.batch_norm(x, np.zeros(5), np.ones(5), training=True), X)
    assert b1(pyfw.tensor(X)).shape == (4, 5)
