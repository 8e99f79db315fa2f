"""Export parity: each traced model run by libpfw matches eager within 1e-5."""
import numpy as np
import pytest

import pyfw
import pyfw.nn as nn
import pyfw.nn.functional as F
from pyfw.runtime import Interpreter


def check(model, shape, tmp_path, batch2=5):
    pyfw.manual_seed(0)
    x = pyfw.randn(*shape)
    path = tmp_path / "m.pfw"
    model.eval()
    pyfw.export(model, x, path)
    for xb in (x, pyfw.randn(batch2, *shape[1:])):  # batch dimension is dynamic
        with pyfw.no_grad():
            ref = model(xb).numpy()
        with Interpreter(str(path)) as it:
            got = it.run({"input": xb.numpy()})[0]
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def _warm_bn(model, shape):
    model.train()
    for _ in range(3):
        model(pyfw.randn(*shape))  # non-trivial running stats


class Custom(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(6, 4), nn.Linear(6, 4)

    def forward(self, x):
        h = self.a(x) * F.sigmoid(self.b(x)) + 1.0
        return F.softmax(pyfw.cat([h - 0.5, h / 2.0], 1).reshape(-1, 4, 2).permute(0, 2, 1)
                         .flatten(1), 1)


MODELS = {
    "mlp": (lambda: nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 8), nn.Tanh(),
                                  nn.Linear(8, 3), nn.Softmax(1)), (2, 6)),
    "leaky_sigmoid": (lambda: nn.Sequential(nn.Linear(6, 5), nn.LeakyReLU(0.2), nn.Sigmoid()), (3, 6)),
    "custom_ops": (Custom, (2, 6)),
    "cnn": (lambda: nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, stride=2, padding=1, dilation=1, groups=2), nn.ReLU(),
        nn.AvgPool2d(2), nn.Flatten(), nn.Dropout(0.3), nn.Linear(6, 3)), (2, 2, 8, 8)),
    "dilated_gap": (lambda: nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=2, dilation=2), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(4, 2)), (2, 3, 7, 7)),
}


@pytest.mark.parametrize("name", MODELS)
def test_export_parity(name, tmp_path):
    make, shape = MODELS[name]
    pyfw.manual_seed(1)
    model = make()
    if name == "cnn":
        _warm_bn(model, shape)
    check(model, shape, tmp_path)


def test_export_leaves_training_mode(tmp_path):
    m = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    pyfw.export(m, pyfw.randn(1, 2), tmp_path / "m.pfw")
    assert m.training and m[1].training


def test_unexportable_op_names_module(tmp_path):
    class Bad(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 3)

        def forward(self, x):
            return self.fc(x)[:, :2]  # basic indexing has no IR node

    with pytest.raises(pyfw.UnsupportedError, match="untraced"):
        pyfw.export(Bad(), pyfw.randn(2, 3), tmp_path / "m.pfw")
