"""MultiheadAttention and TransformerEncoderLayer against NumPy references
written out here; gradients of inputs and every parameter by finite differences."""
import math

import numpy as np
import pytest

import pyfw
import pyfw.nn as nn
from gradcheck import gradcheck_module

r = np.random.default_rng(5)
E, H = 6, 2


def mha_ref(q, k, v, m, kpm=None, am=None):
    """Batch-first (N, L, E) attention with m's weights; returns output and per-head weights."""
    w, b = m.in_proj_weight.numpy().astype(np.float64), m.in_proj_bias.numpy().astype(np.float64)
    wo, bo = m.out_proj.weight.numpy().astype(np.float64), m.out_proj.bias.numpy().astype(np.float64)
    n, l, e = q.shape
    hd = e // H

    def proj(x, i):
        y = x @ w[i * e:(i + 1) * e].T + b[i * e:(i + 1) * e]
        return y.reshape(n, -1, H, hd).transpose(0, 2, 1, 3)

    s = proj(q, 0) @ proj(k, 1).transpose(0, 1, 3, 2) / math.sqrt(hd)
    if am is not None:
        am = am.reshape(n, H, l, -1) if am.ndim == 3 else am
        s = np.where(am, -np.inf, s) if am.dtype == bool else s + am
    if kpm is not None:
        s = np.where(kpm[:, None, None, :], -np.inf, s)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    o = (p @ proj(v, 2)).transpose(0, 2, 1, 3).reshape(n, l, e)
    return o @ wo.T + bo, p


def randomize(m):
    pyfw.manual_seed(3)
    for p in m.parameters():  # biases too (PyTorch starts them at zero)
        p.data[...] = r.standard_normal(p.shape) * 0.5
    return m


Q, K = r.standard_normal((2, 3, E)), r.standard_normal((2, 4, E))
KPM = np.array([[False, False, True, False], [False, False, False, True]])
AM_BOOL = np.triu(np.ones((3, 4), bool), 2)
AM_FLOAT = r.standard_normal((2 * H, 3, 4))


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("kpm,am", [(None, None), (KPM, None), (None, AM_BOOL), (KPM, AM_FLOAT)])
def test_multihead_attention(batch_first, kpm, am):
    m = randomize(nn.MultiheadAttention(E, H, batch_first=batch_first))
    assert m.in_proj_weight.shape == (3 * E, E) and m.out_proj.weight.shape == (E, E)
    want, p = mha_ref(Q, K, K * 0.5, m, kpm, am)
    q, k = (Q, K) if batch_first else (Q.transpose(1, 0, 2), K.transpose(1, 0, 2))
    got, weights = m(pyfw.tensor(q), pyfw.tensor(k), pyfw.tensor(k * 0.5), key_padding_mask=kpm, attn_mask=am)
    got = got.numpy() if batch_first else got.numpy().transpose(1, 0, 2)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(weights.numpy(), p.mean(1), rtol=1e-5, atol=1e-6)
    per_head = m(pyfw.tensor(q), pyfw.tensor(k), pyfw.tensor(k * 0.5), key_padding_mask=kpm, attn_mask=am,
                 average_attn_weights=False)[1]
    np.testing.assert_allclose(per_head.numpy(), p, rtol=1e-5, atol=1e-6)
    assert m(pyfw.tensor(q), pyfw.tensor(k), pyfw.tensor(k), need_weights=False)[1] is None
    gradcheck_module(m, q, k, k * 0.5, out=lambda y: y[0] + y[1].sum())


def test_attention_mask_errors_name_shapes():
    m = nn.MultiheadAttention(E, H, batch_first=True)
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 4\)"):
        m(pyfw.tensor(Q), pyfw.tensor(K), pyfw.tensor(K), key_padding_mask=np.zeros((2, 3), bool))
    with pytest.raises(ValueError, match=r"\(4, 4\).*\(3, 4\)"):
        m(pyfw.tensor(Q), pyfw.tensor(K), pyfw.tensor(K), attn_mask=np.zeros((4, 4), bool))
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiheadAttention(5, 2)


def layer_norm_ref(x, m):
    w, b = m.weight.numpy(), m.bias.numpy()
    return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + m.eps) * w + b


def encoder_ref(x, layer, act, norm_first, kpm=None):
    def sa(y):
        return mha_ref(y, y, y, layer.self_attn, kpm)[0]

    def ff(y):
        h = y @ layer.linear1.weight.numpy().T + layer.linear1.bias.numpy()
        return act(h) @ layer.linear2.weight.numpy().T + layer.linear2.bias.numpy()

    if norm_first:
        x = x + sa(layer_norm_ref(x, layer.norm1))
        return x + ff(layer_norm_ref(x, layer.norm2))
    x = layer_norm_ref(x + sa(x), layer.norm1)
    return layer_norm_ref(x + ff(x), layer.norm2)


ACTS = {"relu": lambda h: np.maximum(h, 0),
        "gelu": lambda h: 0.5 * h * (1 + np.vectorize(math.erf)(h / math.sqrt(2)))}


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("batch_first", [True, False])
def test_transformer_encoder_layer(norm_first, activation, batch_first):
    layer = randomize(nn.TransformerEncoderLayer(E, H, 8, dropout=0.1, activation=activation,
                                                 batch_first=batch_first, norm_first=norm_first))
    layer.eval()  # dropout off: the reference has none
    x = r.standard_normal((2, 4, E))
    want = encoder_ref(x, layer, ACTS[activation], norm_first, KPM)
    xin = x if batch_first else x.transpose(1, 0, 2)
    got = layer(pyfw.tensor(xin), src_key_padding_mask=KPM).numpy()
    np.testing.assert_allclose(got if batch_first else got.transpose(1, 0, 2), want, rtol=1e-5, atol=1e-5)
    gradcheck_module(layer, xin[:, :1] if not batch_first else xin[:1])


def test_encoder_dropout_trains_and_evaluates():
    layer = nn.TransformerEncoderLayer(E, H, 8, dropout=0.5, batch_first=True)
    x = pyfw.tensor(r.standard_normal((2, 4, E)))
    layer.train()
    a, b = layer(x).numpy(), layer(x).numpy()
    assert not np.allclose(a, b)  # a fresh dropout mask each call
    layer.eval()
    np.testing.assert_array_equal(layer(x).numpy(), layer(x).numpy())
    with pytest.raises(ValueError, match="activation"):
        nn.TransformerEncoderLayer(E, H, activation="swish")


def test_attention_dropout_applies_to_the_returned_weights():
    m = randomize(nn.MultiheadAttention(E, H, dropout=0.5, batch_first=True))
    _, p = mha_ref(Q, K, K, m)
    _, got = m(pyfw.tensor(Q), pyfw.tensor(K), pyfw.tensor(K), average_attn_weights=False)
    got = got.numpy()
    kept = got != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_allclose(got[kept], 2 * p[kept], rtol=1e-5)  # survivors scaled by 1/(1-p)
