"""Export of the newer modules: each traces to standard ONNX ops, and libpfw
runs the .pfw within 1e-5 of eager, also at another size of the dynamic dims."""
import numpy as np
import pytest

import pyfw
import pyfw.nn as nn
import pyfw.nn.functional as F
from pyfw.runtime import Interpreter

r = np.random.default_rng(8)


def randn(*shape):
    return pyfw.tensor(r.standard_normal(shape).astype(np.float32))


def check(model, inputs, other, tmp_path, ops=(), dynamic_axes=None):
    """Exports with `inputs`, then runs both `inputs` and `other` (other sizes of
    the dynamic dims) through libpfw and eager; returns the traced graph."""
    path = tmp_path / "m.pfw"
    model.eval()
    g = pyfw.export(model, inputs, path, dynamic_axes)
    traced = {n.op_type for n in g.nodes}
    assert set(ops) <= traced, f"{set(ops) - traced} missing from the traced ops {sorted(traced)}"
    for xs in (inputs, other):
        with pyfw.no_grad():
            want = model(*xs)
        want = want if isinstance(want, tuple) else (want,)
        with Interpreter(str(path)) as it:
            got = it.run({t.name: x.numpy() for t, x in zip(it.inputs, xs)})
        assert len(got) == len(want)
        for a, b in zip(got, want):
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b.numpy(), rtol=1e-5, atol=1e-5)
    return g


class Fn(nn.Module):
    def __init__(self, fn, *mods):
        super().__init__()
        self.fn, self.mods = fn, nn.ModuleList(mods)

    def forward(self, *xs):
        return self.fn(self.mods, *xs)


MODULES = {
    "conv_transpose2d": (lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
                         (2, 4, 5, 5), ["ConvTranspose"]),
    "conv_transpose2d_dilated": (lambda: nn.ConvTranspose2d(3, 2, (2, 3), stride=(1, 2), dilation=2, bias=False),
                                 (2, 3, 4, 5), ["ConvTranspose"]),
    "conv1d": (lambda: nn.Conv1d(3, 4, 3, stride=2, padding=1, dilation=1), (2, 3, 9), ["Conv"]),
    "conv1d_groups": (lambda: nn.Conv1d(4, 6, 2, padding=2, dilation=3, groups=2), (2, 4, 9), ["Conv"]),
    "layer_norm": (lambda: nn.LayerNorm(6), (2, 3, 6), ["LayerNormalization"]),
    "layer_norm_2d_no_affine": (lambda: nn.LayerNorm((3, 6), elementwise_affine=False), (2, 3, 6),
                                ["LayerNormalization"]),
    "relu6": (lambda: nn.ReLU6(), (2, 7), ["Clip"]),
    "gelu": (lambda: nn.GELU(), (2, 7), ["Gelu"]),
    "gelu_tanh": (lambda: nn.GELU("tanh"), (2, 7), ["Gelu"]),
    "silu": (lambda: nn.SiLU(), (2, 7), ["Sigmoid", "Mul"]),
    "hardswish": (lambda: nn.Hardswish(), (2, 7), ["HardSwish"]),
    "leaky_relu_softmax": (lambda: nn.Sequential(nn.LeakyReLU(0.1), nn.Softmax(-1)), (2, 7),
                           ["LeakyRelu", "Softmax"]),
    "encoder_post_norm_relu": (lambda: nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), (2, 5, 8),
                               ["MatMul", "Softmax", "LayerNormalization", "Relu"]),
    "encoder_pre_norm_gelu": (lambda: nn.TransformerEncoderLayer(8, 2, 16, activation="gelu", batch_first=True,
                                                                 norm_first=True), (2, 5, 8), ["Gelu"]),
}


@pytest.mark.parametrize("name", MODULES)
def test_module_exports(name, tmp_path):
    make, shape, ops = MODULES[name]
    pyfw.manual_seed(4)
    x = randn(*shape) * 4.0  # reaches the clip and hardswish bends
    check(make(), (x,), (randn(5, *shape[1:]) * 4.0,), tmp_path, ops)


def test_embedding_exports_with_int64_ids(tmp_path):
    m = nn.Sequential(nn.Embedding(11, 4, padding_idx=0), nn.LayerNorm(4))
    ids = pyfw.tensor(np.array([[1, 0, 10], [3, 4, 4]]))
    g = check(m, (ids,), (pyfw.tensor(np.array([[2, 2, 0]] * 5)),), tmp_path, ["Gather"])
    assert g.tensors[g.inputs[0]].dtype == "int64"


@pytest.mark.parametrize("batch_first", [True, False])
def test_multihead_attention_exports_with_masks(batch_first, tmp_path):
    """Self-attention with a bool key_padding_mask input, a float causal attn_mask
    and the head-averaged weights as a second output; batch and sequence dynamic."""
    def fwd(mods, x, kpm):
        causal = np.triu(np.full((x.shape[0 + batch_first],) * 2, -1e9, np.float32), 1)
        return mods[0](x, x, x, key_padding_mask=kpm, attn_mask=causal)

    m = Fn(fwd, nn.MultiheadAttention(8, 2, batch_first=batch_first))
    pyfw.manual_seed(1)
    for p in m.parameters():
        p.data[...] = r.standard_normal(p.shape) * 0.5

    def inputs(n, length):
        x = randn(n, length, 8) if batch_first else randn(length, n, 8)
        kpm = np.zeros((n, length), bool)
        kpm[0, -1] = True
        return x, pyfw.tensor(kpm)

    dims = [(0, 1), (0, 1)]
    check(m, inputs(2, 4), inputs(3, 4), tmp_path, ["MatMul", "Softmax", "Where"], dims)


def test_seq_first_encoder_with_dynamic_batch_and_length(tmp_path):
    m = nn.TransformerEncoderLayer(8, 2, 16)
    check(m, (randn(4, 2, 8),), (randn(6, 3, 8),), tmp_path, ["LayerNormalization"], [(0, 1)])


def test_tensor_ops_export(tmp_path):
    def fwd(mods, x):
        a, b = x.chunk(2, 1)
        v = x.var(1, keepdim=True) + x.std(-1, keepdim=True)
        y = pyfw.where(a > b, a.exp(), (b.abs() + 1.0).log()) * v.sqrt()
        y = y.clamp(-1.0, 2.0).masked_fill(a < -1.0, 0.5) - x.max(1, keepdim=True).values + x.amin(1, keepdim=True)
        return mods[0](y.unsqueeze(1).squeeze(1)), x.mean(1) - x.sum(-1) * 0.5

    check(Fn(fwd, nn.Linear(3, 2)), (randn(2, 6),), (randn(5, 6),), tmp_path,
          ["Where", "Greater", "Less", "Exp", "Log", "Sqrt", "Clip", "ReduceSum", "ReduceMax", "Slice"])
