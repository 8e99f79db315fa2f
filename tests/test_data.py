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


def test_dicts_collate_by_key_and_lists_elementwise():
    class Samples(Dataset):
        def __len__(self):
            return 6

        def __getitem__(self, i):
            return {"image": np.full((2, 2), i, np.float32), "meta": [i, 10 * i], "label": i % 3}

    batches = list(DataLoader(Samples(), batch_size=4))
    assert [len(b["label"]) for b in batches] == [4, 2]
    b = batches[0]
    assert set(b) == {"image", "meta", "label"} and b["image"].shape == (4, 2, 2)
    np.testing.assert_array_equal(b["image"].numpy()[:, 0, 0], [0, 1, 2, 3])
    np.testing.assert_array_equal(b["meta"][1].numpy(), [0, 10, 20, 30])
    np.testing.assert_array_equal(b["label"].numpy(), [0, 1, 2, 0])


def test_ragged_samples_name_both_shapes():
    class Ragged(Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return np.zeros(i + 1)

    with pytest.raises(ValueError, match=r"\(1,\) and \(2,\)"):
        list(DataLoader(Ragged(), batch_size=2))
