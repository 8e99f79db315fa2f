"""A PyTorch-style script trains scikit-learn's 8x8 digits to >= 95 % test accuracy."""
import time

import numpy as np

import pyfw
import pyfw.nn as nn
import pyfw.nn.functional as F
from pyfw.data import DataLoader, TensorDataset

from sklearn import datasets


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.drop = nn.Dropout(0.25)
        self.fc = nn.Linear(32 * 4 * 4, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.bn1(self.conv1(x))))
        x = F.relu(self.conv2(x))
        return self.fc(self.drop(x.flatten(1)))


def test_digits_cnn(tmp_path):
    d = datasets.load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]
    y = d.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(y))
    tr, te = order[:1400], order[1400:]
    pyfw.manual_seed(0)
    model = Net()
    opt = pyfw.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss()
    loader = DataLoader(TensorDataset(pyfw.tensor(x[tr]), pyfw.tensor(y[tr])), batch_size=32,
                        shuffle=True, seed=0)
    t0 = time.time()
    for _ in range(4):
        model.train()
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
    model.eval()
    with pyfw.no_grad():
        pred = model(pyfw.tensor(x[te])).argmax(1).numpy()
    acc = (pred == y[te]).mean()
    print(f"digits: {acc:.3f} test accuracy in {time.time() - t0:.1f}s")
    assert acc >= 0.95
    pyfw.export(model, pyfw.tensor(x[te[:2]]), tmp_path / "digits.pfw")
    from pyfw.runtime import Interpreter
    with Interpreter(str(tmp_path / "digits.pfw")) as it:
        logits = it.run({"input": x[te]})[0]
    np.testing.assert_array_equal(logits.argmax(1), pred)
