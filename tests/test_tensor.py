import numpy as np

import pyfw


def test_factories_and_dtypes():
    assert pyfw.tensor([1.0, 2.0]).dtype == np.float32
    assert pyfw.tensor([1, 2]).dtype == np.int64
    assert pyfw.tensor([1, 2], dtype=np.float64).dtype == np.float64
    assert pyfw.zeros(2, 3).shape == (2, 3) and pyfw.ones((4,)).numpy().sum() == 4
    assert pyfw.full((2,), 7.0).numpy().tolist() == [7.0, 7.0]
    assert pyfw.arange(5).numpy().tolist() == [0, 1, 2, 3, 4]
    assert pyfw.zeros_like(pyfw.ones(3)).numpy().sum() == 0
    assert pyfw.ones_like(pyfw.zeros(3)).size() == (3,)
    assert pyfw.randn(2, 2).size(0) == 2


def test_manual_seed_repeats():
    pyfw.manual_seed(3)
    a = pyfw.randn(4).numpy().copy(), pyfw.rand(4).numpy().copy()
    pyfw.manual_seed(3)
    b = pyfw.randn(4).numpy(), pyfw.rand(4).numpy()
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert ((b[1] >= 0) & (b[1] < 1)).all()


def test_values_match_numpy():
    a = np.arange(12.0).reshape(3, 4)
    t = pyfw.tensor(a)
    np.testing.assert_allclose((t @ t.T).numpy(), a @ a.T)
    np.testing.assert_allclose(t.max(1).values.numpy(), a.max(1))
    np.testing.assert_allclose(t.mean(0).numpy(), a.mean(0))
    assert (t > 5).numpy().sum() == 6 and (t == 3).numpy().sum() == 1
    assert t[1, 2].item() == 6.0
    assert t.permute(1, 0).shape == (4, 3) and t.flatten().shape == (12,)
    assert pyfw.cat([t, t], 1).shape == (3, 8) and pyfw.stack([t, t]).shape == (2, 3, 4)
    assert t.argmax(1).numpy().tolist() == [3, 3, 3]


def test_import_pyfw_stays_cheap():
    import subprocess
    import sys
    code = "import pyfw, sys; assert 'pyfw.autograd.tensor' not in sys.modules; pyfw.tensor([1])"
    subprocess.run([sys.executable, "-c", code], check=True)
