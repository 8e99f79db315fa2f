"""EarlyStopping on scripted metric sequences (stops derived by hand), ModelCheckpoint files
that load back to the weights of their epoch, CSVLogger rows equal to the History."""
import csv
import os

import numpy as np
import pytest

import pyfw
import pyfw.nn as nn
from pyfw.callbacks import Callback, CSVLogger, EarlyStopping, ModelCheckpoint

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 4)).astype(np.float32)
Y = RNG.integers(0, 3, 40)


class Script(Callback):
    """Writes the next scripted value into the epoch's logs, as a metric would."""

    def __init__(self, name, values):
        super().__init__()
        self.name, self.values = name, values

    def on_epoch_end(self, epoch, logs=None):
        logs[self.name] = self.values[epoch]


class Recorder(Callback):
    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.module.state_dict())


def model(lr=0.05):
    pyfw.manual_seed(0)
    m = pyfw.Model(nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3)))
    m.compile(pyfw.optim.Adam(m.parameters(), lr=lr), "cross_entropy", ["accuracy"])
    return m


def fit(m, callbacks, epochs, **kw):
    return m.fit(X, Y, batch_size=16, epochs=epochs, callbacks=callbacks, verbose=0, **kw)


def same(sd_a, sd_b):
    assert list(sd_a) == list(sd_b)
    for k in sd_a:
        np.testing.assert_array_equal(np.asarray(sd_a[k]), np.asarray(sd_b[k]), err_msg=k)


# Hand traces (wait counts up each epoch, resets on an improvement; stop when wait >= patience):
#  A, min, patience 2:  5 best | 4 best | 4.5 w1 | 3.9 best | 4.0 w1 | 4.1 w2 -> stop at epoch 5
#  A, min_delta 0.2:    5 best | 4 best (4 + .2 < 5) | 4.5 w1 | 3.9 w2 (3.9 + .2 > 4) -> epoch 3
#  B, auto (max for an accuracy), patience 2: .5 | .6 best | .6 w1 | .6 w2 -> stop at epoch 3
#  C, patience 0: 3 | 2 best | 2.5 w1 -> stop at epoch 2
A = [5, 4, 4.5, 3.9, 4.0, 4.1, 4.2, 1.0, 0.5, 0.1]
B = [0.5, 0.6, 0.6, 0.6, 0.7, 0.8, 0.9, 1.0]
C = [3, 2, 2.5, 1, 0.5]


@pytest.mark.parametrize("name,values,kw,stopped,best_epoch", [
    ("score", A, dict(patience=2, mode="min"), 5, 3),
    ("score", A, dict(patience=2, min_delta=0.2), 3, 1),
    ("val_accuracy", B, dict(patience=2), 3, 1),
    ("score", C, dict(patience=0), 2, 1),
    ("score", A, dict(patience=20), 0, 9),  # never stops
])
def test_early_stopping_stops_at_the_right_epoch(name, values, kw, stopped, best_epoch):
    es = EarlyStopping(monitor=name, **kw)
    h = fit(model(), [Script(name, values), es], epochs=len(values))
    assert es.stopped_epoch == stopped and es.best_epoch == best_epoch
    assert h.epoch == list(range(stopped + 1 if stopped else len(values)))
    assert h.history[name] == values[:len(h.epoch)]


def test_early_stopping_restores_the_best_weights():
    rec = Recorder()
    m = model()
    es = EarlyStopping(monitor="score", patience=2, restore_best_weights=True)
    fit(m, [Script("score", A), rec, es], epochs=10)
    assert len(rec.weights) == 6
    same(m.module.state_dict(), rec.weights[3])  # epoch 3 had the best score, 3.9
    assert not np.array_equal(rec.weights[3]["0.weight"], rec.weights[5]["0.weight"])
    rec2, m2 = Recorder(), model()
    fit(m2, [Script("score", A), rec2, EarlyStopping(monitor="score", patience=2)], epochs=10)
    same(m2.module.state_dict(), rec2.weights[5])


def test_early_stopping_baseline():
    # baseline 3.95: 5, 4, 4.5 never beat it, so wait keeps counting: stop at epoch 2
    es = EarlyStopping(monitor="score", patience=2, baseline=3.95)
    h = fit(model(), [Script("score", A), es], epochs=10)
    assert es.stopped_epoch == 2 and len(h.epoch) == 3


def test_checkpoint_every_epoch_loads_back(tmp_path):
    rec = Recorder()
    m = model()
    ck = ModelCheckpoint(str(tmp_path / "ck" / "w-{epoch:02d}-{accuracy:.3f}.pfwckpt"))
    h = fit(m, [rec, ck], epochs=3, validation_data=(X[:8], Y[:8]))
    names = [f"w-{e + 1:02d}-{h.history['accuracy'][e]:.3f}.pfwckpt" for e in range(3)]
    assert sorted(os.listdir(tmp_path / "ck")) == names  # no temp files left behind
    for e in range(3):
        same(pyfw.load(tmp_path / "ck" / names[e]), rec.weights[e])
    m2 = model()
    m2.load_weights(tmp_path / "ck" / names[1])
    same(m2.state_dict(), rec.weights[1])
    same(rec.weights[2], m.state_dict())  # the last checkpoint holds the final weights


def test_checkpoint_save_best_only_and_full_state(tmp_path):
    rec = Recorder()
    m = model()
    ck = ModelCheckpoint(tmp_path / "best-{epoch}.ck", monitor="score", save_best_only=True,
                         save_weights_only=False)
    fit(m, [Script("score", C), rec, ck], epochs=5)  # improves at epochs 1, 2, 4, 5 (1-based)
    assert sorted(os.listdir(tmp_path)) == ["best-1.ck", "best-2.ck", "best-4.ck", "best-5.ck"]
    ckpt = pyfw.load(tmp_path / "best-4.ck")
    assert ckpt["epoch"] == 4
    same(ckpt["model"], rec.weights[3])
    assert ckpt["optimizer"]["state"][0]["step"] == 4 * 3  # 40 samples in batches of 16: 3 steps
    opt = pyfw.optim.Adam(model().parameters())
    opt.load_state_dict(ckpt["optimizer"])
    assert opt.param_groups[0]["lr"] == 0.05


def test_checkpoint_bad_filepath_and_monitor(tmp_path):
    with pytest.raises(ValueError, match=r"cannot fill filepath.*\{val_acc\}.*\['accuracy', 'loss'\]"):
        fit(model(), [ModelCheckpoint(str(tmp_path / "{val_acc}.ck"))], epochs=1)
    with pytest.raises(ValueError, match=r"monitor 'val_loss' is not in this epoch's logs; "
                                         r"available: \['accuracy', 'loss'\]"):
        fit(model(), [ModelCheckpoint(tmp_path / "a.ck", save_best_only=True)], epochs=1)
    with pytest.raises(ValueError, match="EarlyStopping: monitor 'val_los'"):
        fit(model(), [EarlyStopping("val_los")], epochs=1, validation_data=(X, Y))
    with pytest.raises(ValueError, match="mode must be 'auto', 'min' or 'max'"):
        EarlyStopping(mode="best")
    with pytest.raises(ValueError, match="callbacks must be pyfw.callbacks.Callback"):
        fit(model(), [lambda e: e], epochs=1)


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_csv_logger_rows_equal_history(tmp_path):
    path = tmp_path / "log.csv"
    h = fit(model(), [CSVLogger(path)], epochs=3, validation_data=(X[:8], Y[:8]))
    rows = read_csv(path)
    assert list(rows[0]) == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    for k, values in h.history.items():
        assert [float(r[k]) for r in rows] == values  # repr round-trips exactly
    h2 = fit(model(), [CSVLogger(path, append=True)], epochs=2, validation_data=(X[:8], Y[:8]))
    rows = read_csv(path)
    assert len(rows) == 5 and [float(r["loss"]) for r in rows[3:]] == h2.history["loss"]
    assert open(path).read().count("epoch") == 1
    with pytest.raises(ValueError, match="has columns 'epoch,accuracy,loss,val_accuracy,val_loss'"):
        fit(model(), [CSVLogger(path, append=True)], epochs=1)
    assert len(read_csv(path)) == 5 and os.listdir(tmp_path) == ["log.csv"]
    fit(model(), [CSVLogger(path, separator=";")], epochs=1)  # append=False starts over
    assert open(path).read().splitlines()[0] == "epoch;accuracy;loss"


class LrRecorder(Callback):
    def __init__(self):
        super().__init__()
        self.lrs = []

    def on_train_batch_begin(self, batch, logs=None):
        self.lrs.append(self.model.optimizer.param_groups[0]["lr"])


def test_lr_scheduler_callback_keras_schedule():
    from pyfw.callbacks import LearningRateScheduler
    m, rec = model(lr=0.1), LrRecorder()
    h = fit(m, [LearningRateScheduler(lambda e, lr: lr if e == 0 else lr / 2), rec], epochs=3)
    assert h.history["learning_rate"] == [0.1, 0.05, 0.025]
    assert rec.lrs == [0.1] * 3 + [0.05] * 3 + [0.025] * 3  # 3 batches per epoch
    with pytest.raises(ValueError, match=r"schedule\(0, lr\) returned 'x'"):
        fit(model(), [LearningRateScheduler(lambda e, lr: "x")], epochs=1)


def test_lr_scheduler_callback_with_step_and_one_cycle():
    from pyfw.callbacks import LearningRateScheduler
    from pyfw.optim.lr_scheduler import OneCycleLR, StepLR
    m, rec = model(lr=0.1), LrRecorder()
    h = fit(m, [LearningRateScheduler(StepLR(m.optimizer, step_size=2, gamma=0.1)), rec], epochs=4)
    np.testing.assert_allclose(h.history["learning_rate"], [0.1, 0.1, 0.01, 0.01], rtol=1e-15)
    np.testing.assert_allclose(rec.lrs, np.repeat([0.1, 0.1, 0.01, 0.01], 3), rtol=1e-15)
    m, rec = model(), LrRecorder()
    m.compile(pyfw.optim.SGD(m.parameters(), lr=0.1, momentum=0.9), "cross_entropy")
    sched = OneCycleLR(m.optimizer, max_lr=1.0, epochs=4, steps_per_epoch=3)
    fit(m, [LearningRateScheduler(sched, per_batch=True), rec], epochs=4)
    # the schedule's own closed form is tested in test_lr_scheduler.py; here: one step per batch
    dummy = pyfw.optim.SGD([pyfw.tensor(np.zeros(1), requires_grad=True)], lr=0.1, momentum=0.9)
    ref = OneCycleLR(dummy, max_lr=1.0, total_steps=12)
    expected = []
    for _ in range(12):
        expected.append(ref.get_last_lr()[0])
        ref.step()
    assert rec.lrs == expected and rec.lrs[0] == pytest.approx(0.04)
    assert max(rec.lrs) == pytest.approx(1.0, rel=0.05)
    other = pyfw.optim.SGD(model().parameters(), lr=0.1)
    with pytest.raises(ValueError, match="drives another optimizer"):
        fit(model(), [LearningRateScheduler(StepLR(other, 1))], epochs=1)
