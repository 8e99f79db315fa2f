"""pyfw.Model: Keras's short path (compile / fit / evaluate / predict) over a pyfw.nn.Module.

    model = pyfw.Model(net)
    model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=5, validation_split=0.1)

Losses and metrics are means over samples: an epoch's value weights each batch
by its size, so it equals the value over the whole data set for fixed weights.
"""
from __future__ import annotations

import contextlib

import numpy as np
from tqdm.auto import tqdm

from pyfw import callbacks as cb
from pyfw import optim
from pyfw.autograd import tensor as T
from pyfw.autograd.tensor import Tensor, no_grad
from pyfw.data import DataLoader
from pyfw.nn import Module
from pyfw.nn import functional as F


def _mae_loss(pred, target):
    return (pred - target).abs().mean()


LOSSES = {"cross_entropy": F.cross_entropy, "sparse_categorical_crossentropy": F.cross_entropy,
          "nll_loss": F.nll_loss, "mse": F.mse_loss, "mean_squared_error": F.mse_loss,
          "mae": _mae_loss, "mean_absolute_error": _mae_loss}

OPTIMIZERS = {"adam": (optim.Adam, {}), "adamw": (optim.AdamW, {}),
              "sgd": (optim.SGD, {"lr": 0.01}), "rmsprop": (optim.RMSprop, {"lr": 1e-3})}


# ---- metrics: fn(pred, target) -> per-sample values, shape (N,) ----------------
def _accuracy(pred, y):
    if pred.ndim == 2 and pred.shape[1] > 1 and y.shape in (pred.shape[:1], pred.shape):
        labels = y if y.ndim == 1 else y.argmax(1)  # class indices or one-hot targets
        return (pred.argmax(1) == labels).astype(np.float64)
    raise ValueError(f"metric 'accuracy' needs (N, C) class scores with (N,) labels or (N, C) "
                     f"one-hot targets; got predictions {pred.shape} and targets {y.shape}")


def _per_sample(err):
    def metric(pred, y):
        if pred.shape != y.shape:
            raise ValueError(f"metric needs predictions and targets of one shape; got "
                             f"{pred.shape} and {y.shape}")
        return err(pred.astype(np.float64) - y).reshape(len(pred), -1).mean(1)
    return metric


METRICS = {"accuracy": _accuracy, "acc": _accuracy, "mse": _per_sample(np.square),
           "mean_squared_error": _per_sample(np.square), "mae": _per_sample(np.abs),
           "mean_absolute_error": _per_sample(np.abs)}


def _arg_error(what, name, valid):
    return ValueError(f"compile: unknown {what} {name!r}; valid names: {sorted(valid)}, or pass "
                      f"a callable")


class _Mean:
    """Sample-weighted running means of the loss and the metrics over one pass."""

    def __init__(self, metrics):
        self.metrics, self.n, self.sums = metrics, 0, {}

    def add(self, loss, pred, y):
        n = len(pred)
        self.n += n
        self.sums["loss"] = self.sums.get("loss", 0.0) + loss * n
        for name, fn, per_sample in self.metrics:
            v = fn(pred, y)
            v = float(np.sum(v)) if per_sample else float(v) * n  # callables give a batch mean
            self.sums[name] = self.sums.get(name, 0.0) + v

    def result(self):
        return {k: v / self.n for k, v in self.sums.items()}


class Model:
    def __init__(self, module: Module):
        if not isinstance(module, Module):
            raise ValueError(f"Model wraps a pyfw.nn.Module, got {type(module).__name__}")
        self.module = module
        self.optimizer = self.loss = None
        self.metrics: list = []
        self.stop_training = False
        self.history = None

    def __call__(self, *args, **kw):
        return self.module(*args, **kw)

    def parameters(self):
        return self.module.parameters()

    def state_dict(self):
        return self.module.state_dict()

    def load_state_dict(self, sd):
        self.module.load_state_dict(sd)

    def save_weights(self, path):
        from pyfw.serialization import save
        save(self.module.state_dict(), path)

    def load_weights(self, path):
        from pyfw.serialization import load
        sd = load(path)
        self.module.load_state_dict(sd["model"] if "model" in sd and "optimizer" in sd else sd)

    def summary(self, print_fn=print):
        """One row per submodule with its own parameters, then the totals (Keras's summary)."""
        rows = [("name", "type", "params")]
        for name, m in self.module.named_modules():
            n = sum(p.numel() for p in m._params.values())
            if n or not m._modules:
                rows.append((name or "(root)", type(m).__name__, f"{n:,}"))
        total = sum(p.numel() for p in self.module.parameters())
        trainable = sum(p.numel() for p in self.module.parameters() if p.requires_grad)
        w = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = [f"{a:<{w[0]}}  {b:<{w[1]}}  {c:>{w[2]}}" for a, b, c in rows]
        lines += [f"Total params: {total:,}", f"Trainable params: {trainable:,}"]
        print_fn("\n".join(lines))
        return total

    # ---- compile ---------------------------------------------------------
    def compile(self, optimizer="adam", loss="cross_entropy", metrics=None):
        params = list(self.module.parameters())
        if isinstance(optimizer, str):
            if optimizer.lower() not in OPTIMIZERS:
                raise ValueError(f"compile: unknown optimizer {optimizer!r}; valid names: "
                                 f"{sorted(OPTIMIZERS)}, or pass a pyfw.optim.Optimizer")
            cls, kw = OPTIMIZERS[optimizer.lower()]
            optimizer = cls(params, **kw)
        elif isinstance(optimizer, optim.Optimizer):
            own = {id(p) for p in params}
            if any(id(p) not in own for g in optimizer.param_groups for p in g["params"]):
                raise ValueError("compile: the optimizer holds tensors that are not parameters of "
                                 "this model's module; build it from model.parameters()")
        else:
            raise ValueError(f"compile: optimizer must be a name or a pyfw.optim.Optimizer, got "
                             f"{type(optimizer).__name__}")
        if isinstance(loss, str):
            if loss not in LOSSES:
                raise _arg_error("loss", loss, LOSSES)
            loss = LOSSES[loss]
        elif not callable(loss):
            raise ValueError(f"compile: loss must be a name or a callable, got "
                             f"{type(loss).__name__}")
        self.metrics = []
        for m in metrics or []:
            if isinstance(m, str):
                if m not in METRICS:
                    raise _arg_error("metric", m, METRICS)
                self.metrics.append((m, METRICS[m], True))
            elif callable(m):
                self.metrics.append((getattr(m, "__name__", type(m).__name__), m, False))
            else:
                raise ValueError(f"compile: a metric must be a name or a callable, got "
                                 f"{type(m).__name__}")
        names = [n for n, _, _ in self.metrics]
        if len(set(names)) != len(names) or "loss" in names:
            raise ValueError(f"compile: metric names must be distinct and not 'loss': {names}")
        self.optimizer, self.loss = optimizer, loss

    def _compiled(self, what):
        if self.optimizer is None:
            raise RuntimeError(f"Model.{what}: call compile() first")

    # ---- data ------------------------------------------------------------
    def _float_dtype(self):
        for p in self.module.parameters():
            if p.dtype.kind == "f":
                return p.dtype
        return np.dtype(np.float32)

    def _array(self, v, name, what):
        a = v.data if isinstance(v, Tensor) else np.asarray(v)
        if a.dtype.kind not in "biuf" or a.ndim == 0:
            raise ValueError(f"{what}: {name} must be a numeric array with a sample axis, got "
                             f"dtype {a.dtype} and shape {a.shape}")
        # float data takes the parameters' dtype, as Keras casts inputs to the model's floatx
        return a.astype(self._float_dtype()) if a.dtype.kind == "f" else a

    def _data(self, x, y, batch_size, what, y_name="y"):
        """A re-iterable source of (x, y) batches: a DataLoader, or arrays to slice."""
        if isinstance(x, DataLoader):
            if y is not None:
                raise ValueError(f"{what}: x is a DataLoader, which yields its own targets; "
                                 f"do not pass {y_name}")
            if batch_size is not None:
                raise ValueError(f"{what}: x is a DataLoader, which has its own batch_size; do "
                                 f"not pass batch_size")
            return x
        if x is None or y is None:
            raise ValueError(f"{what}: pass x and {y_name} (arrays), or a DataLoader as x")
        x, y = self._array(x, "x", what), self._array(y, y_name, what)
        if len(x) != len(y):
            raise ValueError(f"{what}: x has shape {x.shape} and {y_name} has shape {y.shape}; "
                             f"they need the same number of samples (first dimension)")
        if len(x) == 0:
            raise ValueError(f"{what}: x and {y_name} hold no samples")
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"{what}: batch_size must be a positive int, got {batch_size!r}")
        return (x, y, batch_size or 32)

    @staticmethod
    def _batches(data, shuffle=False, need_y=True):
        if isinstance(data, DataLoader):
            for batch in data:
                batch = tuple(batch) if isinstance(batch, (tuple, list)) else (batch,)
                if len(batch) != 2 and (need_y or len(batch) != 1):
                    raise ValueError(f"Model: the DataLoader yields batches of {len(batch)} "
                                     f"items; it must yield (x, y) pairs"
                                     f"{'' if need_y else ' or x alone'}")
                yield tuple(b.data if isinstance(b, Tensor) else np.asarray(b) for b in batch) \
                    + ((None,) if len(batch) == 1 else ())
            return
        x, y, bs = data
        order = T._rng.permutation(len(x)) if shuffle else None  # pyfw.manual_seed seeds it
        for i in range(0, len(x), bs):
            idx = slice(i, i + bs) if order is None else order[i:i + bs]
            yield x[idx], y[idx]

    @staticmethod
    def _num_batches(data):
        return len(data) if isinstance(data, DataLoader) else -(-len(data[0]) // data[2])

    def _loss_value(self, pred, yb):
        loss = self.loss(pred, Tensor(yb))
        if not isinstance(loss, Tensor) or loss.data.size != 1:
            raise ValueError(f"Model: the loss must return a scalar Tensor, got "
                             f"{type(loss).__name__} {getattr(loss, 'shape', '')}")
        return loss

    @contextlib.contextmanager
    def _eval_mode(self):
        """Eval mode for evaluate/predict, then each submodule's own mode back."""
        modes = [(m, m.training) for m in self.module.modules()]
        self.module.eval()
        try:
            with no_grad():
                yield
        finally:
            for m, training in modes:
                m.training = training

    def _run_eval(self, data, verbose, desc):
        agg = _Mean(self.metrics)
        with self._eval_mode():
            for xb, yb in tqdm(self._batches(data), total=self._num_batches(data), desc=desc,
                               disable=verbose != 1, leave=False):
                pred = self.module(Tensor(xb))
                agg.add(self._loss_value(pred, yb).item(), pred.data, yb)
        return agg.result()

    # ---- fit / evaluate / predict ---------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, initial_epoch=0):
        self._compiled("fit")
        verbose = 1 if verbose == "auto" else verbose
        if verbose not in (0, 1, 2):
            raise ValueError(f"fit: verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
        if not isinstance(epochs, int) or epochs < 0 or not 0 <= initial_epoch <= epochs:
            raise ValueError(f"fit: need ints 0 <= initial_epoch <= epochs, got epochs={epochs!r}, "
                             f"initial_epoch={initial_epoch!r}")
        if not 0.0 <= validation_split < 1.0:
            raise ValueError(f"fit: validation_split must be in [0, 1), got {validation_split!r}")
        train = self._data(x, y, batch_size, "fit")
        val = None
        if validation_data is not None:
            if isinstance(validation_data, DataLoader):
                val = validation_data
            elif isinstance(validation_data, (tuple, list)) and len(validation_data) == 2:
                val = self._data(*validation_data, batch_size, "fit", "y of validation_data")
            else:
                raise ValueError("fit: validation_data must be (x_val, y_val) or a DataLoader")
        elif validation_split:
            if isinstance(train, DataLoader):
                raise ValueError("fit: validation_split needs arrays; with a DataLoader pass "
                                 "validation_data")
            xs, ys, bs = train
            cut = int(np.floor(len(xs) * (1.0 - validation_split)))  # the last part, unshuffled
            if cut == 0 or cut == len(xs):
                raise ValueError(f"fit: validation_split={validation_split} of {len(xs)} samples "
                                 f"leaves an empty training or validation set")
            train, val = (xs[:cut], ys[:cut], bs), (xs[cut:], ys[cut:], bs)
        self.history = cb.History()
        steps = self._num_batches(train)
        cbs = cb.CallbackList(list(callbacks or []) + [self.history], self,
                              dict(epochs=epochs, steps=steps, verbose=verbose))
        self.stop_training = False
        logs: dict = {}
        cbs.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            cbs.on_epoch_begin(epoch)
            self.module.train()
            agg = _Mean(self.metrics)
            bar = tqdm(total=steps, desc=f"Epoch {epoch + 1}/{epochs}", disable=verbose != 1,
                       unit="batch")
            for i, (xb, yb) in enumerate(self._batches(train, shuffle)):
                cbs.on_train_batch_begin(i)
                self.optimizer.zero_grad()
                pred = self.module(Tensor(xb))
                loss = self._loss_value(pred, yb)
                loss.backward()
                self.optimizer.step()
                agg.add(loss.item(), pred.data, yb)
                logs = agg.result()
                bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items()}, refresh=False)
                bar.update()
                cbs.on_train_batch_end(i, logs)
            logs = agg.result()
            if val is not None:
                logs.update({f"val_{k}": v for k, v in self._run_eval(val, 0, "val").items()})
            bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items()})
            bar.close()
            if verbose == 2:
                print(f"Epoch {epoch + 1}/{epochs} - " +
                      " - ".join(f"{k}: {v:.4g}" for k, v in logs.items()))
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end(logs)
        return self.history

    def evaluate(self, x=None, y=None, batch_size=None, verbose=0, return_dict=False):
        """The loss (and metrics) over the data in eval mode: a float if there are no
        metrics, else [loss, *metrics]; a dict with return_dict=True."""
        self._compiled("evaluate")
        logs = self._run_eval(self._data(x, y, batch_size, "evaluate"), verbose, "evaluate")
        if return_dict:
            return logs
        return logs["loss"] if not self.metrics else list(logs.values())

    def predict(self, x, batch_size=None, verbose=0):
        """The module's outputs in eval mode under no_grad, batch by batch, as one array."""
        if isinstance(x, DataLoader):
            data = self._data(x, None, batch_size, "predict")
        else:
            xa = self._array(x, "x", "predict")
            data = self._data(xa, np.zeros(len(xa), np.int8), batch_size, "predict")
        outs = []
        with self._eval_mode():
            for xb, _ in tqdm(self._batches(data, need_y=False), total=self._num_batches(data),
                              desc="predict", disable=verbose != 1, leave=False):
                outs.append(self.module(Tensor(xb)).data)
        return np.concatenate(outs)
