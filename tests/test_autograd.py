import numpy as np
import pytest

import pyfw
from gradcheck import gradcheck

r = np.random.default_rng(0)
A, B = r.standard_normal((3, 4)), r.standard_normal((3, 4))
P = r.random((3, 4)) + 0.5

BINARY = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b, "pow": lambda a, b: a ** b,
}


@pytest.mark.parametrize("name", BINARY)
def test_binary(name):
    gradcheck(BINARY[name], P, B if name != "div" else P)


@pytest.mark.parametrize("name", BINARY)
def test_binary_broadcast(name):
    gradcheck(BINARY[name], P, P[:1, :] if name in ("div", "pow") else B[0])
    gradcheck(BINARY[name], P[:, :1], P)


def test_scalar_and_reflected():
    gradcheck(lambda a: 2 - a * 3 / (1 + a * a) + 1 / (a + 5) + 2 ** a - (-a), A)


UNARY = {
    "exp": lambda a: a.exp(), "log": lambda a: a.log(), "sqrt": lambda a: a.sqrt(),
    "relu": lambda a: a.relu(), "sigmoid": lambda a: a.sigmoid(), "tanh": lambda a: a.tanh(),
    "abs": lambda a: a.abs(),
}


@pytest.mark.parametrize("name", UNARY)
def test_unary(name):
    gradcheck(UNARY[name], P if name in ("log", "sqrt") else A)


@pytest.mark.parametrize("fn", [
    lambda a: a.sum(), lambda a: a.sum(0), lambda a: a.sum(1, keepdim=True),
    lambda a: a.mean(), lambda a: a.mean(1), lambda a: a.max(), lambda a: a.max(1).values,
    lambda a: a.max(0, keepdim=True).values, lambda a: a.mean((0, 1)),
])
def test_reductions(fn):
    gradcheck(fn, A)


@pytest.mark.parametrize("fn", [
    lambda a: a.reshape(4, 3), lambda a: a.view(-1), lambda a: a.flatten(),
    lambda a: a.permute(1, 0), lambda a: a.transpose(0, 1), lambda a: a.T,
    lambda a: a.unsqueeze(1).squeeze(1), lambda a: a.reshape(3, 1, 4).squeeze(),
    lambda a: a[1], lambda a: a[:, 1:3], lambda a: a[[0, 0, 2]], lambda a: a[a.data > 0],
])
def test_shape_ops(fn):
    gradcheck(fn, A)


@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((4,), (4, 5)),
                                   ((3, 4), (4,)), ((2, 3, 4), (1, 4, 2)), ((4,), (4,))])
def test_matmul(sa, sb):
    gradcheck(lambda a, b: a @ b, r.standard_normal(sa), r.standard_normal(sb))


def test_cat_stack():
    gradcheck(lambda a, b: pyfw.cat([a, b], 1), A, B)
    gradcheck(lambda a, b: pyfw.stack([a, b], 0) * pyfw.stack([b, a], 2).permute(2, 0, 1), A, B)


def test_shared_subexpression_and_accumulation():
    x = pyfw.tensor([1.0, 2.0], requires_grad=True)
    y = x * x + x  # x used twice: dy/dx = 2x + 1
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 5.0])
    (x * 2).sum().backward()  # accumulates until zeroed
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 7.0])


def test_no_grad_detach_requires_grad():
    x = pyfw.ones(2, requires_grad=True)
    with pyfw.no_grad():
        y = x * 2
    assert not y.requires_grad
    assert not x.detach().requires_grad
    z = pyfw.zeros(2).requires_grad_()
    (z * 3).sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), [3, 3])


def test_backward_needs_scalar():
    x = pyfw.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError):
        (x * 2).backward()
