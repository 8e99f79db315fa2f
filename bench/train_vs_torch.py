"""Training speed: pyfw against PyTorch CPU on the same models, data and schedule.

Trains a small CNN (two 3x3 convs, max-pool, two Linear) and an MLP (64-512-512-10) on
scikit-learn's digits tiled x4 (batch 64, Adam lr 1e-3, 3 epochs) at one thread, with pyfw and
with PyTorch, in one process run; prints both times, both final losses and the ratio.

    python bench/train_vs_torch.py [--epochs 3] [--threads 1]

PyTorch is a benchmark-only dependency (`pip install torch`); it is never needed by the tests.
Both frameworks start from the same initial weights and see the same batches in the same order,
so their losses should agree closely; the time ratio is pyfw / PyTorch (lower is better).
"""
from __future__ import annotations

import argparse
import os
import sys
import time


def set_threads(n: int) -> None:
    """One BLAS thread count for NumPy (pyfw) and PyTorch; must run before numpy loads."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)


def digits(tile: int):
    import numpy as np
    from sklearn.datasets import load_digits

    d = load_digits()
    x = np.tile((d.images / 16.0).astype(np.float32)[:, None], (tile, 1, 1, 1))
    y = np.tile(d.target.astype(np.int64), tile)
    return x, y


def cnn_shapes():
    # name -> shape, in PyTorch's parameter layout (pyfw uses the same)
    return [("conv1.weight", (16, 1, 3, 3)), ("conv1.bias", (16,)),
            ("conv2.weight", (32, 16, 3, 3)), ("conv2.bias", (32,)),
            ("fc1.weight", (128, 32 * 4 * 4)), ("fc1.bias", (128,)),
            ("fc2.weight", (10, 128)), ("fc2.bias", (10,))]


def mlp_shapes():
    return [("fc1.weight", (512, 64)), ("fc1.bias", (512,)), ("fc2.weight", (512, 512)),
            ("fc2.bias", (512,)), ("fc3.weight", (10, 512)), ("fc3.bias", (10,))]


def initial_weights(shapes, seed=0):
    """PyTorch's default init (uniform in +-1/sqrt(fan_in), bias by its weight's fan-in)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    table = dict(shapes)
    out = {}
    for name, shape in shapes:
        w_shape = table[name.replace(".bias", ".weight")]
        bound = 1.0 / np.sqrt(np.prod(w_shape[1:]))
        out[name] = rng.uniform(-bound, bound, shape).astype(np.float32)
    return out


def batches(n, batch, epochs, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    return [[order[i:i + batch] for i in range(0, n, batch)]
            for order in (rng.permutation(n) for _ in range(epochs))]


def models(nn, F):
    """The two benchmark models written once against PyTorch's names, which pyfw shares:
    called with (torch.nn, torch.nn.functional) or (pyfw.nn, pyfw.nn.functional)."""

    class CNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
            self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
            self.pool = nn.MaxPool2d(2)
            self.fc1 = nn.Linear(32 * 4 * 4, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, t):
            t = F.relu(self.conv1(t))
            t = self.pool(F.relu(self.conv2(t)))
            return self.fc2(F.relu(self.fc1(t.flatten(1))))

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2, self.fc3 = nn.Linear(64, 512), nn.Linear(512, 512), nn.Linear(512, 10)

        def forward(self, t):
            return self.fc3(F.relu(self.fc2(F.relu(self.fc1(t.flatten(1))))))

    return {"cnn": CNN, "mlp": MLP}


def train(lib, kind, weights, x, y, plan):
    """Adam, lr 1e-3, over the batches of `plan` with `lib` = pyfw or torch; returns
    (seconds, mean loss of the last epoch)."""
    model = models(lib.nn, lib.nn.functional)[kind]()
    as_tensor = lib.from_numpy if lib.__name__ == "torch" else lib.tensor
    model.load_state_dict({k: as_tensor(v.copy()) for k, v in weights.items()})
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = lib.nn.CrossEntropyLoss()
    model.train()
    t0 = time.perf_counter()
    for epoch in plan:
        total = 0.0
        for idx in epoch:
            opt.zero_grad()
            loss = loss_fn(model(as_tensor(x[idx])), as_tensor(y[idx]))
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
    return time.perf_counter() - t0, total / len(x)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--tile", type=int, default=4)
    args = ap.parse_args(argv)
    set_threads(args.threads)
    import pyfw
    import pyfw.nn.functional  # noqa: F401 (lib.nn.functional below)
    import pyfw.optim  # noqa: F401

    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: pip install torch (a benchmark-only dependency)", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    x, y = digits(args.tile)
    plan = batches(len(x), args.batch, args.epochs)
    print(f"digits x{args.tile}: {len(x)} samples, batch {args.batch}, Adam, {args.epochs} epochs, "
          f"{args.threads} thread(s); torch {torch.__version__}")
    print(f"{'model':6} {'pyfw s':>8} {'torch s':>8} {'ratio':>6} {'pyfw loss':>10} {'torch loss':>10}")
    for kind, shapes in (("cnn", cnn_shapes()), ("mlp", mlp_shapes())):
        w = initial_weights(shapes)
        tp, lp = train(pyfw, kind, w, x, y, plan)
        tt, lt = train(torch, kind, w, x, y, plan)
        print(f"{kind:6} {tp:8.2f} {tt:8.2f} {tp / tt:6.2f} {lp:10.4f} {lt:10.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
