"""Keras-style callbacks for pyfw.Model.fit: History, EarlyStopping, ModelCheckpoint, CSVLogger.

Each hook gets the epoch (0-based, as in Keras) and the logs dict of that epoch
("loss", the metrics, and "val_"-prefixed ones when there is validation data).
"""
from __future__ import annotations

import csv
import io
import math
import os

import numpy as np

from pyfw._io import atomic_write


class Callback:
    def __init__(self):
        self.model = None
        self.params: dict = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): pass  # noqa: E704
    def on_train_end(self, logs=None): pass  # noqa: E704
    def on_epoch_begin(self, epoch, logs=None): pass  # noqa: E704
    def on_epoch_end(self, epoch, logs=None): pass  # noqa: E704
    def on_train_batch_begin(self, batch, logs=None): pass  # noqa: E704
    def on_train_batch_end(self, batch, logs=None): pass  # noqa: E704


class CallbackList:
    """Calls each hook on every callback, in order."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for c in self.callbacks:
            if not isinstance(c, Callback):
                raise ValueError(f"fit: callbacks must be pyfw.callbacks.Callback instances, "
                                 f"got {type(c).__name__}")
            c.set_model(model)
            c.set_params(params)

    def __getattr__(self, hook):
        if not hook.startswith("on_"):
            raise AttributeError(hook)
        return lambda *a, **kw: [getattr(c, hook)(*a, **kw) for c in self.callbacks]


class History(Callback):
    """`history[name]` is the list of that log's value per epoch; `epoch` the epochs run."""

    def __init__(self):
        super().__init__()
        self.epoch: list[int] = []
        self.history: dict[str, list] = {}

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)


def _better(cls, monitor, mode):
    """The comparison for `monitor`: 'max' for accuracies in auto mode, else 'min'."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{cls}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        mode = "max" if "acc" in monitor else "min"
    return mode, (np.greater if mode == "max" else np.less)


def _monitored(cls, monitor, logs):
    if monitor not in (logs or {}):
        raise ValueError(f"{cls}: monitor {monitor!r} is not in this epoch's logs; available: "
                         f"{sorted(logs or {})}")
    return float(logs[monitor])


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved by more than `min_delta` for `patience` epochs."""

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        if patience < 0 or min_delta < 0:
            raise ValueError(f"EarlyStopping: patience and min_delta must be >= 0, got "
                             f"{patience!r} and {min_delta!r}")
        self.monitor, self.patience, self.verbose = monitor, patience, verbose
        self.baseline, self.restore_best_weights = baseline, restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.mode, self.monitor_op = _better("EarlyStopping", monitor, mode)
        self.min_delta = min_delta if self.mode == "max" else -min_delta

    def _improves(self, value, reference):
        return reference is None or bool(self.monitor_op(value - self.min_delta, reference))

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best_epoch = 0, 0, 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        if epoch < self.start_from_epoch:
            return
        current = _monitored("EarlyStopping", self.monitor, logs)
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.module.state_dict()  # even if no epoch improves
        self.wait += 1
        if self._improves(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.module.state_dict()
            if self.baseline is None or self._improves(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.restore_best_weights:
                self.model.module.load_state_dict(self.best_weights)

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping; best {self.monitor} "
                  f"{self.best:.6g} at epoch {self.best_epoch + 1}")


class ModelCheckpoint(Callback):
    """Save the weights (or weights + optimizer state) with pyfw.save after each epoch, or
    only when `monitor` improves. `filepath` may use {epoch} and any log name."""

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=True, mode="auto", initial_value_threshold=None):
        super().__init__()
        self.filepath, self.monitor, self.verbose = os.fspath(filepath), monitor, verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.mode, self.monitor_op = _better("ModelCheckpoint", monitor, mode)
        self.best = initial_value_threshold
        self.saved: list[str] = []

    def on_epoch_end(self, epoch, logs=None):
        from pyfw.serialization import save
        logs = logs or {}
        if self.save_best_only:
            current = _monitored("ModelCheckpoint", self.monitor, logs)
            if self.best is not None and not self.monitor_op(current, self.best):
                return
            self.best = current
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError, ValueError) as e:
            raise ValueError(f"ModelCheckpoint: cannot fill filepath {self.filepath!r} "
                             f"({type(e).__name__}: {e}); it may use {{epoch}} and "
                             f"{sorted(logs)}") from e
        if os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        sd = self.model.module.state_dict()
        if not self.save_weights_only:
            sd = {"model": sd, "optimizer": self.model.optimizer.state_dict(), "epoch": epoch + 1}
        save(sd, path)
        self.saved.append(path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved {path}")


class CSVLogger(Callback):
    """One CSV row per epoch ("epoch" then the logs, sorted). The whole file is rewritten
    atomically each epoch, so it is always complete; append=True keeps earlier rows."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, append

    def on_train_begin(self, logs=None):
        self.prefix, self.keys, self.rows = "", None, []
        if self.append and os.path.exists(self.filename):
            with open(self.filename, newline="") as f:
                self.prefix = f.read()
            if self.prefix and not self.prefix.endswith("\n"):
                self.prefix += "\n"

    def _line(self, values):
        buf = io.StringIO()
        csv.writer(buf, delimiter=self.sep, lineterminator="\n").writerow(values)
        return buf.getvalue()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = ["epoch"] + sorted(logs)
            header = self._line(self.keys)
            if self.prefix and self.prefix.splitlines()[0] + "\n" != header:
                raise ValueError(f"CSVLogger: {self.filename} has columns "
                                 f"{self.prefix.splitlines()[0]!r}, this run logs "
                                 f"{header.strip()!r}; use another file or append=False")
            self.prefix = self.prefix or header
        row = {"epoch": epoch, **logs}
        vals = [row.get(k, "NA") for k in self.keys]  # a log missing this epoch reads NA
        self.rows.append(self._line([repr(float(v)) if isinstance(v, (float, np.floating)) else v
                                     for v in vals]))
        atomic_write(self.filename, (self.prefix + "".join(self.rows)).encode())


class LearningRateScheduler(Callback):
    """Drives the optimizer's lr during fit. `schedule` is a pyfw.optim.lr_scheduler scheduler
    built on the model's optimizer (stepped after each epoch, or after each batch with
    per_batch=True, as OneCycleLR expects), or Keras's schedule(epoch, lr) -> lr, applied to
    every param group at the start of each epoch. Adds "learning_rate" (group 0's lr at the
    end of the epoch, before an epoch step) to the logs."""

    def __init__(self, schedule, per_batch=False, verbose=0):
        super().__init__()
        from pyfw.optim.lr_scheduler import LRScheduler
        self.is_scheduler = isinstance(schedule, LRScheduler)
        if not self.is_scheduler and not callable(schedule):
            raise ValueError(f"LearningRateScheduler: schedule must be an lr_scheduler or a "
                             f"callable (epoch, lr) -> lr, got {type(schedule).__name__}")
        if per_batch and not self.is_scheduler:
            raise ValueError("LearningRateScheduler: per_batch needs an lr_scheduler")
        self.schedule, self.per_batch, self.verbose = schedule, per_batch, verbose

    def on_train_begin(self, logs=None):
        if self.is_scheduler and self.schedule.optimizer is not self.model.optimizer:
            raise ValueError("LearningRateScheduler: the scheduler drives another optimizer "
                             "than the model's (build it on model.optimizer after compile)")

    def on_epoch_begin(self, epoch, logs=None):
        if self.is_scheduler:
            return
        groups = self.model.optimizer.param_groups
        lr = self.schedule(epoch, groups[0]["lr"])
        if not isinstance(lr, (int, float, np.floating)) or not lr >= 0:
            raise ValueError(f"LearningRateScheduler: schedule({epoch}, lr) returned {lr!r}; it "
                             f"must return a float >= 0")
        for g in groups:
            g["lr"] = float(lr)
        if self.verbose:
            print(f"Epoch {epoch + 1}: learning rate {float(lr):.6g}")

    def on_train_batch_end(self, batch, logs=None):
        if self.per_batch:
            self.schedule.step()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.param_groups[0]["lr"])
        if self.is_scheduler and not self.per_batch:
            self.schedule.step()
