"""Conv1d, ConvTranspose2d, LayerNorm, Embedding, the activations and losses:
forward values against closed forms or small NumPy loops, gradients (inputs
and parameters) against central finite differences in float64."""
import math

import numpy as np
import pytest

import pyfw
import pyfw.nn as nn
import pyfw.nn.functional as F
from gradcheck import gradcheck, gradcheck_module

r = np.random.default_rng(11)
erf = np.vectorize(math.erf)


def conv1d_ref(x, w, b, s, p, d, g):
    n, c, length = x.shape
    o, cg, k = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p)))
    ol = (length + 2 * p - d * (k - 1) - 1) // s + 1
    y = np.zeros((n, o, ol))
    for oc in range(o):
        gi = oc // (o // g)
        for i in range(ol):
            y[:, oc, i] = (xp[:, gi * cg:(gi + 1) * cg, i * s: i * s + d * (k - 1) + 1: d] * w[oc]).sum((1, 2)) + b[oc]
    return y


def conv_transpose_ref(x, w, b, s, p, op, d, g):
    """Each input pixel scatters x * w into the full output, then `p` is cropped."""
    n, c, h, wd = x.shape
    _, og, kh, kw = w.shape
    full = np.zeros((n, og * g, (h - 1) * s + d * (kh - 1) + 1 + op, (wd - 1) * s + d * (kw - 1) + 1 + op))
    for ci in range(c):
        gi = ci // (c // g)
        for i in range(h):
            for j in range(wd):
                for a in range(kh):
                    for e in range(kw):
                        full[:, gi * og:(gi + 1) * og, i * s + a * d, j * s + e * d] += (
                            x[:, ci, i, j, None] * w[ci, :, a, e])
    return full[:, :, p: full.shape[2] - p, p: full.shape[3] - p] + b[None, :, None, None]


@pytest.mark.parametrize("s,p,d,g", [(1, 0, 1, 1), (2, 1, 1, 1), (1, 2, 2, 1), (2, 1, 1, 3)])
def test_conv1d(s, p, d, g):
    x, w, b = r.standard_normal((2, 6, 9)), r.standard_normal((3, 6 // g, 3)), r.standard_normal(3)
    y = F.conv1d(pyfw.tensor(x), pyfw.tensor(w), pyfw.tensor(b), s, p, d, g)
    np.testing.assert_allclose(y.numpy(), conv1d_ref(x, w, b, s, p, d, g), rtol=1e-10, atol=1e-10)
    m = nn.Conv1d(6, 3, 3, s, p, d, g)
    gradcheck_module(m, x[:1, :, :7])


@pytest.mark.parametrize("s,p,op,d,g", [(1, 0, 0, 1, 1), (2, 1, 1, 1, 1), (3, 2, 2, 1, 1), (1, 1, 0, 2, 1),
                                        (2, 0, 1, 2, 2), (2, 1, 0, 1, 4)])
def test_conv_transpose2d(s, p, op, d, g):
    x, w = r.standard_normal((2, 4, 4, 3)), r.standard_normal((4, 6 // g if g < 4 else 2, 3, 2))
    b = r.standard_normal(w.shape[1] * g)
    y = F.conv_transpose2d(pyfw.tensor(x), pyfw.tensor(w), pyfw.tensor(b), s, p, op, g, d)
    np.testing.assert_allclose(y.numpy(), conv_transpose_ref(x, w, b, s, p, op, d, g), rtol=1e-10, atol=1e-10)
    m = nn.ConvTranspose2d(4, w.shape[1] * g, (3, 2), s, p, op, g, True, d)
    assert m.weight.shape == w.shape
    gradcheck_module(m, x[:1])


def test_layer_norm():
    x = r.standard_normal((2, 3, 4, 5))
    m = nn.LayerNorm((4, 5), eps=1e-3)
    for p in m.parameters():
        p.data[...] = r.standard_normal(p.shape)
    mu, var = x.mean((2, 3), keepdims=True), x.var((2, 3), keepdims=True)
    ref = (x - mu) / np.sqrt(var + 1e-3) * m.weight.numpy() + m.bias.numpy()
    np.testing.assert_allclose(m(pyfw.tensor(x)).numpy(), ref, rtol=1e-6, atol=1e-6)
    gradcheck_module(m, x[:1, :2])
    gradcheck(lambda x: F.layer_norm(x, 5), x[0, 0])  # no affine
    assert [n for n, _ in nn.LayerNorm(3, bias=False).named_parameters()] == ["weight"]


def test_embedding_values_grads_and_padding():
    ids = np.array([[1, 0, 3], [3, 3, 2]])
    m = nn.Embedding(5, 4, padding_idx=0)
    assert (m.weight.numpy()[0] == 0).all() and m.weight.numpy()[1:].std() > 0.5
    np.testing.assert_array_equal(m(pyfw.tensor(ids)).numpy(), m.weight.numpy()[ids])
    gradcheck(lambda w: F.embedding(ids, w), r.standard_normal((5, 4)))
    y = m(pyfw.tensor(ids))
    (y * pyfw.tensor(np.ones((2, 3, 4)))).sum().backward()
    np.testing.assert_array_equal(m.weight.grad.numpy()[:, 0], [0, 1, 1, 3, 0])  # row 0 is padding
    with pytest.raises(ValueError, match=r"index 5 .*\(5, 4\)"):
        m(pyfw.tensor(np.array([5])))


X = r.uniform(-5, 5, (4, 6))
X = np.where(np.abs(np.abs(X) - 3) < 0.1, X + 0.3, X)  # away from hardswish / relu6 kinks
X = np.where(np.abs(X) < 0.1, 0.5, X)


@pytest.mark.parametrize("mod,ref", [
    (nn.ReLU6(), lambda x: np.clip(x, 0, 6)),
    (nn.GELU(), lambda x: 0.5 * x * (1 + erf(x / math.sqrt(2)))),
    (nn.GELU("tanh"), lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))),
    (nn.SiLU(), lambda x: x / (1 + np.exp(-x))),
    (nn.Hardswish(), lambda x: x * np.clip(x + 3, 0, 6) / 6),
    (nn.LeakyReLU(0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    (nn.Softmax(0), lambda x: np.exp(x) / np.exp(x).sum(0)),
])
def test_activations(mod, ref):
    np.testing.assert_allclose(mod(pyfw.tensor(X * 1.5)).numpy(), ref(X * 1.5), rtol=1e-12, atol=1e-12)
    gradcheck(mod, X)


def test_relu6_range_and_gelu_rejects_unknown():
    np.testing.assert_array_equal(nn.ReLU6()(pyfw.tensor([-1.0, 3.0, 9.0])).numpy(), [0, 3, 6])
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(pyfw.tensor(X), "fast")


T = r.uniform(0, 1, (4, 6))
PW = r.uniform(0.5, 3, 6)


def bce_ref(x, t, pw):
    sig = 1 / (1 + np.exp(-x))
    return -(pw * t * np.log(sig) + (1 - t) * np.log(1 - sig))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_l1_and_bce_with_logits(reduction):
    red = {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction]
    np.testing.assert_allclose(nn.L1Loss(reduction=reduction)(pyfw.tensor(X), pyfw.tensor(T)).numpy(),
                               red(np.abs(X - T)), rtol=1e-12)
    got = nn.BCEWithLogitsLoss(reduction=reduction, pos_weight=PW)(pyfw.tensor(X), pyfw.tensor(T))
    np.testing.assert_allclose(got.numpy(), red(bce_ref(X, T, PW.astype(np.float32))), rtol=1e-6)
    gradcheck(lambda x, t: F.l1_loss(x, t, reduction), X, T)
    gradcheck(lambda x, t, p: F.binary_cross_entropy_with_logits(x, t, reduction=reduction, pos_weight=p),
              X, T, PW)


def test_bce_with_logits_is_stable_and_weighted():
    x = np.array([[-200.0, 0.0, 200.0]])
    t = np.array([[1.0, 0.5, 0.0]])
    got = F.binary_cross_entropy_with_logits(pyfw.tensor(x), pyfw.tensor(t), reduction="none").numpy()
    np.testing.assert_allclose(got, [[200.0, math.log(2), 200.0]])
    w = np.array([2.0, 0.0, 1.0])
    got = F.binary_cross_entropy_with_logits(pyfw.tensor(X[:1, :3]), pyfw.tensor(T[:1, :3]), pyfw.tensor(w))
    np.testing.assert_allclose(got.item(), (bce_ref(X[:1, :3], T[:1, :3], 1) * w).mean())


def ce_ref(x, t, ignore, eps):
    """Rows of (N, C): (1-eps) nll + eps mean(-logp), averaged over the non-ignored rows."""
    logp = x - np.log(np.exp(x).sum(1, keepdims=True))
    keep = t != ignore
    rows = [(1 - eps) * -logp[i, t[i]] + eps * -logp[i].mean() for i in range(len(t)) if keep[i]]
    return np.sum(rows) / keep.sum(), np.array([v if k else 0.0 for v, k in zip(
        [(1 - eps) * -logp[i, t[i] if keep[i] else 0] + eps * -logp[i].mean() for i in range(len(t))], keep)])


@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_cross_entropy_ignore_index_and_label_smoothing(eps):
    x, t = r.standard_normal((5, 4)), np.array([0, 3, -100, 2, 3])
    mean, per = ce_ref(x, t, -100, eps)
    loss = nn.CrossEntropyLoss(label_smoothing=eps)
    np.testing.assert_allclose(loss(pyfw.tensor(x), t).item(), mean, rtol=1e-12)
    np.testing.assert_allclose(F.cross_entropy(pyfw.tensor(x), t, reduction="none", label_smoothing=eps).numpy(),
                               per, rtol=1e-12)
    t2 = np.array([1, 1, 0, 2, 1])
    np.testing.assert_allclose(nn.CrossEntropyLoss(ignore_index=1, label_smoothing=eps)(pyfw.tensor(x), t2).item(),
                               ce_ref(x, t2, 1, eps)[0], rtol=1e-12)
    gradcheck(lambda x: F.cross_entropy(x, t, label_smoothing=eps), x)
    gradcheck(lambda x: F.nll_loss(F.log_softmax(x, 1), t2, ignore_index=1, reduction="sum"), x)


def test_cross_entropy_spatial_targets():
    x, t = r.standard_normal((2, 3, 4)), r.integers(0, 3, (2, 4))
    x2, t2 = x.transpose(0, 2, 1).reshape(-1, 3), t.reshape(-1)
    np.testing.assert_allclose(F.cross_entropy(pyfw.tensor(x), t).item(), ce_ref(x2, t2, -100, 0)[0], rtol=1e-12)
    assert F.cross_entropy(pyfw.tensor(x), t, reduction="none").shape == (2, 4)
    gradcheck(lambda x: F.cross_entropy(x, t, label_smoothing=0.1), x)


def test_bad_shapes_name_both():
    with pytest.raises(ValueError, match=r"\(2, 3, 5, 5\).*\(4, 2, 3, 3\)"):
        nn.Conv2d(2, 4, 3)(pyfw.zeros(2, 3, 5, 5))
    with pytest.raises(ValueError, match=r"\(2, 3, 5\).*\(4, 2, 3\)"):
        nn.Conv1d(2, 4, 3)(pyfw.zeros(2, 3, 5))
    with pytest.raises(ValueError, match=r"\(2, 3, 5, 5\).*\(2, 4, 3, 3\)"):
        nn.ConvTranspose2d(2, 4, 3)(pyfw.zeros(2, 3, 5, 5))
    with pytest.raises(ValueError, match=r"\(2, 7\).*\(5, 6\)"):
        nn.Linear(6, 5)(pyfw.zeros(2, 7))
    with pytest.raises(ValueError, match=r"\(2, 3, 4\).*\(5,\)"):
        nn.LayerNorm(5)(pyfw.zeros(2, 3, 4))
    with pytest.raises(ValueError, match=r"\(4, 6\).*\(4, 5\)"):
        nn.L1Loss()(pyfw.tensor(X), pyfw.zeros(4, 5))
    with pytest.raises(ValueError, match=r"\(4, 6\).*\(6,\)"):
        nn.BCEWithLogitsLoss()(pyfw.tensor(X), pyfw.zeros(6))
    with pytest.raises(ValueError, match=r"\(5, 4\).*\(4,\)"):
        nn.CrossEntropyLoss()(pyfw.zeros(5, 4), np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match=r"target value 4 .*\(5, 4\)"):
        nn.CrossEntropyLoss()(pyfw.zeros(5, 4), np.array([0, 1, 2, 3, 4]))


def test_init_functions():
    pyfw.manual_seed(2)
    w = pyfw.zeros(400, 300)
    for fn, std in [(lambda t: nn.init.kaiming_normal_(t, nonlinearity="relu"), math.sqrt(2 / 300)),
                    (lambda t: nn.init.kaiming_normal_(t, mode="fan_out"), math.sqrt(2 / 400)),
                    (nn.init.xavier_normal_, math.sqrt(2 / 700)),
                    (lambda t: nn.init.normal_(t, 1.0, 0.5), 0.5)]:
        fn(w)
        assert abs(w.numpy().std() / std - 1) < 0.02
    assert abs(w.numpy().mean() - 1) < 0.01
    for fn, bound in [(lambda t: nn.init.kaiming_uniform_(t, nonlinearity="relu"), math.sqrt(6 / 300)),
                      (nn.init.xavier_uniform_, math.sqrt(6 / 700)),
                      (lambda t: nn.init.uniform_(t, -0.3, 0.3), 0.3)]:
        fn(w)
        a = np.abs(w.numpy())
        assert a.max() <= bound and a.max() > 0.99 * bound and abs(w.numpy().std() / (bound / math.sqrt(3)) - 1) < 0.02
    conv = pyfw.zeros(8, 4, 3, 3)  # fan_in = 4*9, fan_out = 8*9
    nn.init.xavier_uniform_(conv, gain=2.0)
    assert np.abs(conv.numpy()).max() <= 2 * math.sqrt(6 / (36 + 72))
    assert (nn.init.zeros_(w).numpy() == 0).all() and (nn.init.ones_(w).numpy() == 1).all()
    assert (nn.init.constant_(w, 0.25).numpy() == 0.25).all()


def test_loss_arguments_checked():
    x = pyfw.tensor(r.standard_normal((3, 4)))
    np.testing.assert_allclose(F.cross_entropy(x, np.array([1.0, 0.0, 3.0])).item(),
                               F.cross_entropy(x, np.array([1, 0, 3])).item())  # integral floats are ids
    with pytest.raises(ValueError, match="class indices"):
        F.cross_entropy(x, np.array([1.5, 0.0, 3.0]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(x, np.array([1, 0, 3]), reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        F.l1_loss(x, x, reduction="avg")


def weighted_ce_ref(x, t, w, ignore, eps):
    """PyTorch's rule written out: l_i = (1-e) w[t_i] (-logp_i[t_i]) + e/C sum_c w_c (-logp_ic);
    'mean' divides the summed losses by the summed w[t_i] of the counted elements."""
    logp = x - x.max(1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(1, keepdims=True))
    per, wsum = np.zeros(len(t)), 0.0
    for i, ti in enumerate(t):
        if ti == ignore:
            continue
        per[i] = (1 - eps) * w[ti] * -logp[i, ti] + eps / x.shape[1] * np.sum(w * -logp[i])
        wsum += w[ti]
    return per.sum() / wsum, per


@pytest.mark.parametrize("eps", [0.0, 0.3])
def test_cross_entropy_and_nll_class_weights(eps):
    x, t, w = r.standard_normal((6, 4)), np.array([0, 3, -100, 2, 3, 1]), np.array([0.5, 2.0, 1.0, 3.0])
    mean, per = weighted_ce_ref(x, t, w, -100, eps)
    # weight is the first argument, as in PyTorch
    np.testing.assert_allclose(nn.CrossEntropyLoss(w, label_smoothing=eps)(pyfw.tensor(x), t).item(), mean, rtol=1e-12)
    np.testing.assert_allclose(F.cross_entropy(pyfw.tensor(x), t, w, reduction="none", label_smoothing=eps).numpy(),
                               per, rtol=1e-12)
    np.testing.assert_allclose(F.cross_entropy(pyfw.tensor(x), t, w, reduction="sum", label_smoothing=eps).item(),
                               per.sum(), rtol=1e-12)
    gradcheck(lambda x: F.cross_entropy(x, t, w, label_smoothing=eps), x)
    if eps == 0:
        logp = F.log_softmax(pyfw.tensor(x), 1)
        np.testing.assert_allclose(nn.NLLLoss(weight=w)(logp, t).item(), mean, rtol=1e-12)
        gradcheck(lambda x: F.nll_loss(x, t, w), x)
    with pytest.raises(ValueError, match=r"weight of shape \(3,\).*\(4,\)"):
        F.cross_entropy(pyfw.tensor(x), t, w[:3])
