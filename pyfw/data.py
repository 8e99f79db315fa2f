"""Dataset, TensorDataset, DataLoader (PyTorch's names; batches collate to Tensors)."""
from __future__ import annotations

import numpy as np

from pyfw.autograd.tensor import Tensor


class Dataset:
    def __getitem__(self, i):
        raise NotImplementedError

    def __len__(self):
        raise NotImplementedError


class TensorDataset(Dataset):
    def __init__(self, *tensors):
        n = {len(t) for t in tensors}
        if len(n) != 1:
            raise ValueError(f"TensorDataset: tensors of different lengths "
                             f"{[tuple(t.shape) for t in tensors]}")
        self.tensors = tensors

    def __getitem__(self, i):
        return tuple(t[i] if not isinstance(t, Tensor) else Tensor(t.data[i]) for t in self.tensors)

    def __len__(self):
        return len(self.tensors[0])


def default_collate(items):
    """Stacks a batch as PyTorch does: tuples and lists element-wise, dicts by key,
    tensors, arrays and numbers into one Tensor with a new leading axis."""
    first = items[0]
    if isinstance(first, dict):
        if any(set(x) != set(first) for x in items):
            raise ValueError(f"default_collate: samples have different keys: {sorted(first)} and "
                             f"{sorted(next(x for x in items if set(x) != set(first)))}")
        return {k: default_collate([x[k] for x in items]) for k in first}
    if isinstance(first, (tuple, list)):
        if any(len(x) != len(first) for x in items):
            raise ValueError("default_collate: samples of a batch have different lengths")
        return type(first)(default_collate(list(col)) for col in zip(*items))
    arrays = [x.data if isinstance(x, Tensor) else np.asarray(x) for x in items]
    if any(a.shape != arrays[0].shape for a in arrays):
        raise ValueError(f"default_collate: cannot stack samples of shapes {arrays[0].shape} and "
                         f"{next(a.shape for a in arrays if a.shape != arrays[0].shape)}")
    return Tensor(np.stack(arrays))


class DataLoader:
    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None,
                 generator=None, collate_fn=None):
        self.dataset, self.batch_size, self.shuffle, self.drop_last = (
            dataset, batch_size, shuffle, drop_last)
        self.rng = generator if generator is not None else np.random.default_rng(seed)
        self.collate_fn = collate_fn or default_collate

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        ds = self.dataset
        for k in range(len(self)):
            idx = order[k * self.batch_size:(k + 1) * self.batch_size]
            if isinstance(ds, TensorDataset):  # one fancy index per tensor, no per-item loop
                yield tuple(Tensor(t.data[idx] if isinstance(t, Tensor) else np.asarray(t)[idx])
                            for t in ds.tensors)
            else:
                yield self.collate_fn([ds[int(i)] for i in idx])
