"""pyfw.Model (compile / fit / evaluate / predict) against manual loops and NumPy formulas."""
import numpy as np
import pytest

import pyfw
import pyfw.nn as nn
import pyfw.nn.functional as F
from pyfw.data import DataLoader, TensorDataset
from pyfw.optim import SGD, Adam

RNG = np.random.default_rng(0)
X = RNG.normal(size=(50, 5)).astype(np.float32)
Y = RNG.integers(0, 3, 50)
XV = RNG.normal(size=(13, 5)).astype(np.float32)
YV = RNG.integers(0, 3, 13)


def np_cross_entropy(logits, y):
    z = logits.astype(np.float64)
    lse = z.max(1) + np.log(np.exp(z - z.max(1, keepdims=True)).sum(1))
    return float(np.mean(lse - z[np.arange(len(y)), y]))


def net(seed=0, dropout=False, bn=True):
    pyfw.manual_seed(seed)
    layers = ([nn.Linear(5, 8)] + ([nn.BatchNorm1d(8)] if bn else []) + [nn.Tanh()]
              + ([nn.Dropout(0.5)] if dropout else []))
    return nn.Sequential(*layers, nn.Linear(8, 3))


def eval_logits(module, x):
    module.eval()
    with pyfw.no_grad():
        out = module(pyfw.tensor(x)).numpy()
    module.train()
    return out


@pytest.mark.parametrize("shuffle", [False, True])
def test_fit_matches_manual_loop(shuffle):
    model = pyfw.Model(net())
    model.compile(SGD(model.parameters(), lr=0.1, momentum=0.9), "cross_entropy", ["accuracy"])
    pyfw.manual_seed(5)
    h = model.fit(X, Y, batch_size=16, epochs=3, shuffle=shuffle, validation_data=(XV, YV),
                  verbose=0)
    ref = net()
    opt = SGD(ref.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(5)  # what pyfw.manual_seed(5) gives the shuffling
    for e in range(3):
        order = rng.permutation(50) if shuffle else np.arange(50)
        loss_sum = correct = 0.0
        for i in range(0, 50, 16):  # batches of 16, 16, 16, 2
            xb, yb = X[order[i:i + 16]], Y[order[i:i + 16]]
            opt.zero_grad()
            out = ref(pyfw.tensor(xb))
            loss = F.cross_entropy(out, pyfw.tensor(yb))
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(xb)
            correct += (out.numpy().argmax(1) == yb).sum()
        assert h.history["loss"][e] == pytest.approx(loss_sum / 50, rel=1e-12)
        assert h.history["accuracy"][e] == correct / 50
        v = eval_logits(ref, XV)
        assert h.history["val_loss"][e] == pytest.approx(np_cross_entropy(v, YV), rel=1e-6)
        assert h.history["val_accuracy"][e] == np.mean(v.argmax(1) == YV)
    for (k, a), b in zip(model.state_dict().items(), ref.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=k)
    assert h.epoch == [0, 1, 2] and model.history is h
    assert sorted(h.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert all(len(v) == 3 for v in h.history.values())


def test_digits_mlp_reaches_95_percent():
    from sklearn.datasets import load_digits
    d = load_digits()
    x, y = (d.data / 16.0).astype(np.float32), d.target
    order = np.random.default_rng(0).permutation(len(y))
    tr, te = order[:1400], order[1400:]
    pyfw.manual_seed(0)
    model = pyfw.Model(nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)))
    model.compile(Adam(model.parameters(), lr=3e-3), loss="cross_entropy", metrics=["accuracy"])
    h = model.fit(x[tr], y[tr], epochs=20, batch_size=32, validation_split=0.1, verbose=0)
    assert len(h.history["loss"]) == 20 and h.history["loss"][-1] < h.history["loss"][0] / 5
    loss, acc = model.evaluate(x[te], y[te])
    logits = model.predict(x[te])
    assert acc == np.mean(logits.argmax(1) == y[te]) and acc >= 0.95
    assert loss == pytest.approx(np_cross_entropy(logits, y[te]), rel=1e-6)


def test_evaluate_and_predict_match_a_manual_eval_loop():
    model = pyfw.Model(net(dropout=True))
    model.compile("adam", "cross_entropy", ["accuracy"])
    model.fit(X, Y, epochs=2, batch_size=8, verbose=0)  # moves BatchNorm's running stats
    model.module.train()
    ref = eval_logits(model.module, X)
    pred = model.predict(X, batch_size=7)  # 50 = 7 * 7 + 1: a short last batch
    np.testing.assert_allclose(pred, ref, rtol=1e-6, atol=1e-7)
    assert all(m.training for m in model.module.modules())  # each mode comes back
    logs = model.evaluate(X, Y, batch_size=7, return_dict=True)
    assert logs["loss"] == pytest.approx(np_cross_entropy(ref, Y), rel=1e-6)
    assert logs["accuracy"] == np.mean(ref.argmax(1) == Y)
    assert model.evaluate(X, Y) == [pytest.approx(logs["loss"], rel=1e-6), logs["accuracy"]]
    np.testing.assert_array_equal(model.predict(pyfw.tensor(X), batch_size=50), ref)
    loader = DataLoader(TensorDataset(pyfw.tensor(X), pyfw.tensor(Y)), batch_size=9)
    np.testing.assert_allclose(model.predict(loader), ref, rtol=1e-6, atol=1e-7)
    x_only = DataLoader(TensorDataset(pyfw.tensor(X)), batch_size=9)
    np.testing.assert_allclose(model.predict(x_only), ref, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="yields batches of 1 items; it must yield"):
        model.evaluate(x_only)
    model.compile("adam", "cross_entropy")
    assert isinstance(model.evaluate(X, Y), float)


def test_regression_losses_and_metrics():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(25, 3)).astype(np.float32)
    t = rng.normal(size=(25, 2)).astype(np.float32)

    def worst(pred, y):  # a callable metric: its batch value, averaged by batch size
        return float(np.abs(pred - y).max())

    runs = {}
    for name, loss in [("mse", "mse"), ("callable", lambda p, q: ((p - q) * (p - q)).mean()),
                       ("module", nn.MSELoss()), ("mae", "mae")]:
        pyfw.manual_seed(3)
        model = pyfw.Model(nn.Linear(3, 2))
        model.compile(SGD(model.parameters(), lr=0.0), loss, ["mae", "mse", worst])
        runs[name] = model.fit(x, t, batch_size=10, epochs=2, shuffle=False, verbose=0).history
        p = model.predict(x)
    assert runs["mse"] == runs["callable"] == runs["module"]
    assert runs["mse"]["loss"][0] == pytest.approx(np.mean((p - t) ** 2), rel=1e-6)
    assert runs["mse"]["mse"][1] == pytest.approx(np.mean((p.astype(np.float64) - t) ** 2), rel=1e-12)
    assert runs["mse"]["mae"][0] == pytest.approx(np.mean(np.abs(p.astype(np.float64) - t)), rel=1e-12)
    assert runs["mae"]["loss"][0] == pytest.approx(runs["mae"]["mae"][0], rel=1e-6)
    batches = [np.abs(p[i:i + 10] - t[i:i + 10]).max() * len(p[i:i + 10]) for i in (0, 10, 20)]
    assert runs["mse"]["worst"][0] == pytest.approx(sum(batches) / 25, rel=1e-12)
    pyfw.manual_seed(3)
    model = pyfw.Model(nn.Linear(3, 2))  # and it learns: a linear target is fit closely
    model.compile(Adam(model.parameters(), lr=0.05), "mse")
    w = rng.normal(size=(3, 2)).astype(np.float32)
    model.fit(x, x @ w + 0.5, batch_size=25, epochs=300, verbose=0)
    assert model.evaluate(x, x @ w + 0.5) < 1e-4


def test_validation_split_takes_the_last_samples_unshuffled():
    model = pyfw.Model(net(bn=False))  # no mode-dependent layers, and lr 0: fixed function
    model.compile(SGD(model.parameters(), lr=0.0), "cross_entropy", ["accuracy"])
    h = model.fit(X, Y, epochs=1, batch_size=8, validation_split=0.25, verbose=0)  # 37 | 13
    logits = eval_logits(model.module, X)
    assert h.history["val_loss"][0] == pytest.approx(np_cross_entropy(logits[37:], Y[37:]), rel=1e-6)
    assert h.history["loss"][0] == pytest.approx(np_cross_entropy(logits[:37], Y[:37]), rel=1e-6)
    assert h.history["val_accuracy"][0] == np.mean(logits[37:].argmax(1) == Y[37:])


def test_dataloader_input_matches_arrays():
    hists = []
    for use_loader in (False, True):
        model = pyfw.Model(net())
        model.compile(Adam(model.parameters(), lr=0.01), "cross_entropy", ["accuracy"])
        if use_loader:
            dl = DataLoader(TensorDataset(pyfw.tensor(X), pyfw.tensor(Y)), batch_size=16)
            vl = DataLoader(TensorDataset(pyfw.tensor(XV), pyfw.tensor(YV)), batch_size=16)
            hists.append(model.fit(dl, epochs=2, validation_data=vl, verbose=0).history)
        else:
            hists.append(model.fit(X, Y, batch_size=16, epochs=2, shuffle=False,
                                   validation_data=(XV, YV), verbose=0).history)
    assert hists[0] == hists[1]


def test_progress_output(capsys):
    model = pyfw.Model(net())
    model.compile("sgd", "cross_entropy", ["accuracy"])
    model.fit(X, Y, epochs=2, verbose=0)
    out = capsys.readouterr()
    assert out.out == out.err == ""
    model.fit(X, Y, epochs=2, verbose=1, validation_data=(XV, YV))
    err = capsys.readouterr().err
    assert "Epoch 1/2" in err and "Epoch 2/2" in err and "loss=" in err
    assert "accuracy=" in err and "val_loss=" in err
    h = model.fit(X, Y, epochs=2, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"Epoch {e + 1}/2 - loss: {h.history['loss'][e]:.4g} - accuracy: "
                     f"{h.history['accuracy'][e]:.4g}" for e in range(2)]


def test_bad_arguments():
    model = pyfw.Model(net())
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(X, Y)
    with pytest.raises(ValueError, match=r"unknown loss 'crossentropy'; valid names: \['cross_entropy'"):
        model.compile("adam", "crossentropy")
    with pytest.raises(ValueError, match=r"unknown metric 'f1'; valid names: \['acc', 'accuracy'"):
        model.compile("adam", "mse", ["f1"])
    with pytest.raises(ValueError, match=r"unknown optimizer 'adagrad'; valid names: \['adam'"):
        model.compile("adagrad")
    with pytest.raises(ValueError, match="not parameters of this model"):
        model.compile(SGD(net(1).parameters(), lr=0.1))
    model.compile("adam", "cross_entropy", ["accuracy"])
    with pytest.raises(ValueError, match=r"x has shape \(50, 5\) and y has shape \(49,\)"):
        model.fit(X, Y[:49])
    with pytest.raises(ValueError, match=r"x has shape \(13, 5\) and y of validation_data has shape \(12,\)"):
        model.fit(X, Y, validation_data=(XV, YV[:12]))
    with pytest.raises(ValueError, match=r"evaluate: x has shape \(50, 5\) and y has shape \(3,\)"):
        model.evaluate(X, Y[:3])
    dl = DataLoader(TensorDataset(pyfw.tensor(X), pyfw.tensor(Y)), batch_size=16)
    with pytest.raises(ValueError, match="validation_split needs arrays"):
        model.fit(dl, validation_split=0.2)
    with pytest.raises(ValueError, match="do not pass y"):
        model.fit(dl, Y)
    with pytest.raises(ValueError, match="validation_split must be in"):
        model.fit(X, Y, validation_split=1.0)
    with pytest.raises(ValueError, match="verbose must be 'auto', 0, 1 or 2"):
        model.fit(X, Y, verbose=3)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        model.fit(X, Y, batch_size=0)
    model.compile("adam", lambda p, t: p.sum(), ["accuracy"])
    with pytest.raises(ValueError, match=r"accuracy.*predictions \(50, 3\) and targets \(50, 2\)"):
        model.evaluate(X, np.zeros((50, 2), np.float32), batch_size=50)
    model.compile("adam", lambda p, t: p)
    with pytest.raises(ValueError, match=r"loss must return a scalar Tensor, got Tensor \(50, 3\)"):
        model.evaluate(X, Y, batch_size=50)
    with pytest.raises(ValueError, match="numeric array"):
        model.predict(np.array([["a"]]))
    with pytest.raises(ValueError, match="wraps a pyfw.nn.Module"):
        pyfw.Model(lambda x: x)


def test_top_level_names_load_lazily():
    import subprocess
    import sys
    code = ("import sys, pyfw; assert 'pyfw.model' not in sys.modules; "
            "from pyfw.model import Model; from pyfw.serialization import save, load; "
            "import pyfw.callbacks as c; "
            "assert pyfw.Model is Model and pyfw.save is save and pyfw.load is load; "
            "assert pyfw.callbacks is c and pyfw.optim.lr_scheduler.OneCycleLR")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_summary_counts_parameters():
    model = pyfw.Model(nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)))
    lines = []
    # 64*64 + 64 and 64*10 + 10, counted by hand
    assert model.summary(lines.append) == 4160 + 650
    text = lines[0].splitlines()
    assert text[1].split() == ["0", "Linear", "4,160"] and text[2].split() == ["1", "ReLU", "0"]
    assert text[3].split() == ["2", "Linear", "650"] and text[-2] == "Total params: 4,810"
