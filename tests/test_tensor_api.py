"""The PyTorch-style Tensor surface: values against NumPy, gradients against
central finite differences (tests/gradcheck.py)."""
import numpy as np
import pytest

import pyfw
from gradcheck import gradcheck

r = np.random.default_rng(3)
A = r.standard_normal((3, 4, 5))
POS = r.uniform(0.5, 2.0, (3, 4))
MASK = r.random((3, 4, 5)) > 0.5


@pytest.mark.parametrize("fn,ref", [
    (lambda a: a.var(), lambda a: a.var(ddof=1)),
    (lambda a: a.var(1), lambda a: a.var(1, ddof=1)),
    (lambda a: a.var((0, 2), unbiased=False, keepdim=True), lambda a: a.var((0, 2), keepdims=True)),
    (lambda a: a.std(-1, correction=0), lambda a: a.std(-1)),
    (lambda a: a.std(0, keepdim=True), lambda a: a.std(0, ddof=1, keepdims=True)),
    (lambda a: a.sum((0, 2)), lambda a: a.sum((0, 2))),
    (lambda a: a.sum(-1, keepdim=True), lambda a: a.sum(-1, keepdims=True)),
    (lambda a: a.mean((1, -1)), lambda a: a.mean((1, 2))),
    (lambda a: a.max(1).values, lambda a: a.max(1)),
    (lambda a: a.amax((0, 2)), lambda a: a.max((0, 2))),
    (lambda a: a.min(), lambda a: a.min()),
    (lambda a: a.min(2, keepdim=True).values, lambda a: a.min(2, keepdims=True)),
    (lambda a: a.amin(-1), lambda a: a.min(-1)),
    (lambda a: a.clamp(-0.5, 0.7), lambda a: np.clip(a, -0.5, 0.7)),
    (lambda a: a.clamp(min=0.1), lambda a: np.maximum(a, 0.1)),
    (lambda a: a.clamp(max=0.2), lambda a: np.minimum(a, 0.2)),
    (lambda a: a.exp(), np.exp),
    (lambda a: a.abs(), np.abs),
    (lambda a: a.masked_fill(pyfw.tensor(MASK), -2.0), lambda a: np.where(MASK, -2.0, a)),
    (lambda a: pyfw.where(pyfw.tensor(MASK), a, a * 2.0), lambda a: np.where(MASK, a, a * 2)),
    (lambda a: a.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1)),
    (lambda a: a.transpose(0, 2), lambda a: a.swapaxes(0, 2)),
    (lambda a: a.unsqueeze(-1).squeeze(-1).unsqueeze(1), lambda a: a[:, None]),
    (lambda a: a[:, :1].squeeze(), lambda a: a[:, 0]),
    (lambda a: a.flatten(1), lambda a: a.reshape(3, 20)),
    (lambda a: a.view(4, -1), lambda a: a.reshape(4, 15)),
    (lambda a: a.split(2, 1)[1], lambda a: a[:, 2:4]),
    (lambda a: a.split([1, 4], 2)[1], lambda a: a[:, :, 1:]),
    (lambda a: a.chunk(3, 2)[2], lambda a: a[:, :, 4:]),
    (lambda a: a.narrow(0, 1, 2), lambda a: a[1:3]),
])
def test_values_and_grads(fn, ref):
    np.testing.assert_allclose(fn(pyfw.tensor(A)).numpy(), ref(A), rtol=1e-12, atol=1e-12)
    gradcheck(fn, A)


@pytest.mark.parametrize("fn,ref", [
    (lambda a: a.log(), np.log), (lambda a: a.sqrt(), np.sqrt), (lambda a: a ** 1.5, lambda a: a ** 1.5),
])
def test_positive_domain(fn, ref):
    np.testing.assert_allclose(fn(pyfw.tensor(POS)).numpy(), ref(POS), rtol=1e-12)
    gradcheck(fn, POS)


def test_where_broadcasts_gradients_to_both_branches():
    cond = np.array([True, False, True, False])
    gradcheck(lambda x, y: pyfw.where(pyfw.tensor(cond), x, y), r.standard_normal((3, 4)), r.standard_normal(4))


def test_split_pieces_cover_the_tensor():
    pieces = pyfw.tensor(A).chunk(2, 1)
    assert [p.shape for p in pieces] == [(3, 2, 5), (3, 2, 5)]
    assert [p.shape for p in pyfw.tensor(A).split(2, 2)] == [(3, 4, 2)] * 2 + [(3, 4, 1)]
    with pytest.raises(ValueError, match=r"\[2, 2\].*\(3, 4, 5\)"):
        pyfw.tensor(A).split([2, 2], 2)


def test_comparisons_argmax_and_scalars():
    t, u = pyfw.tensor(A), pyfw.tensor(A[::-1].copy())
    for got, want in [(t < u, A < A[::-1]), (t <= 0.1, A <= 0.1), (t > u, A > A[::-1]), (t >= 0, A >= 0),
                      (t == u, A == A[::-1]), (t != u, A != A[::-1])]:
        assert got.dtype == bool
        np.testing.assert_array_equal(got.numpy(), want)
    np.testing.assert_array_equal(t.argmax(1).numpy(), A.argmax(1))
    np.testing.assert_array_equal(t.argmin(-1, keepdim=True).numpy(), A.argmin(-1)[..., None])
    assert t.argmax().item() == A.argmax() and t.size() == (3, 4, 5) and t.size(1) == 4
    assert t.sum().item() == pytest.approx(A.sum()) and isinstance(t.sum().item(), float)
    assert t.numpy() is t.data


def test_factories_and_grad_flags():
    pyfw.manual_seed(5)
    assert pyfw.zeros(2, 3).dtype == np.float32 and pyfw.ones((2, 3)).numpy().sum() == 6
    np.testing.assert_array_equal(pyfw.full((2, 2), 7.0).numpy(), np.full((2, 2), 7.0, np.float32))
    np.testing.assert_array_equal(pyfw.arange(1, 7, 2).numpy(), [1, 3, 5])
    x = pyfw.randn(200, 50)
    assert abs(x.numpy().mean()) < 0.03 and abs(x.numpy().std() - 1) < 0.03
    u = pyfw.rand(1000)
    assert 0 <= u.numpy().min() and u.numpy().max() < 1 and abs(u.numpy().mean() - 0.5) < 0.05
    like = [pyfw.zeros_like(x), pyfw.ones_like(x), pyfw.full_like(x, 3.0), pyfw.randn_like(x), pyfw.rand_like(x)]
    assert all(t.shape == x.shape and t.dtype == x.dtype for t in like)
    assert like[2].numpy().min() == like[2].numpy().max() == 3
    w = pyfw.zeros(3).requires_grad_()
    y = (w * 2.0).sum()
    y.backward()
    np.testing.assert_array_equal(w.grad.numpy(), [2, 2, 2])
    d = (w * 2.0).detach()
    assert not d.requires_grad and d._backward is None


def test_max_min_over_a_dim_give_values_and_indices():
    t = pyfw.tensor(A)
    values, indices = t.max(1)
    np.testing.assert_array_equal(values.numpy(), A.max(1))
    np.testing.assert_array_equal(indices.numpy(), A.argmax(1))
    lo = t.min(-1, keepdim=True)
    np.testing.assert_array_equal(lo.values.numpy(), A.min(-1, keepdims=True))
    np.testing.assert_array_equal(lo.indices.numpy(), A.argmin(-1)[..., None])
