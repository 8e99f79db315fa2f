import numpy as np
import pytest

import pyfw
from pyfw.data import DataLoader, Dataset, TensorDataset

X = np.arange(20.0).reshape(10, 2)
Y = np.arange(10)


def test_tensor_dataset_batches_in_order():
    ds = TensorDataset(pyfw.tensor(X), pyfw.tensor(Y))
    assert len(ds) == 10 and ds[3][1].item() == 3
    batches = list(DataLoader(ds, batch_size=4))
    assert [b[0].shape for b in batches] == [(4, 2), (4, 2), (2, 2)]
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in batches]), Y)
    assert len(DataLoader(ds, batch_size=4, drop_last=True)) == 2
    assert len(list(DataLoader(ds, batch_size=4, drop_last=True))) == 2


def test_shuffle_is_seeded_and_a_permutation():
    ds = TensorDataset(pyfw.tensor(X), pyfw.tensor(Y))
    a = np.concatenate([b[1].numpy() for b in DataLoader(ds, 3, shuffle=True, seed=7)])
    b = np.concatenate([b[1].numpy() for b in DataLoader(ds, 3, shuffle=True, seed=7)])
    np.testing.assert_array_equal(a, b)
    assert sorted(a) == list(Y) and list(a) != list(Y)
    for xb, yb in DataLoader(ds, 3, shuffle=True, seed=1):  # rows stay paired
        np.testing.assert_array_equal(xb.numpy()[:, 0], 2 * yb.numpy())


def test_custom_dataset_collates_tuples():
    class Sq(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.array([i, i * i], np.float32), i

    (xb, yb), = list(DataLoader(Sq(), batch_size=5))
    np.testing.assert_array_equal(xb.numpy()[:, 1], [0, 1, 4, 9, 16])
    np.testing.assert_array_equal(yb.numpy(), np.arange(5))


def test_length_mismatch_raises():
    with pytest.raises(ValueError):
        TensorDataset(pyfw.tensor(X), pyfw.tensor(Y[:3]))
