"""Calibration data and activation ranges.

A calibration file is an .npz with one array per graph input, keyed by the
input's name, its samples stacked along a new leading axis: an input of shape
(1, 3, 224, 224) takes an array of shape (N, 1, 3, 224, 224), N >= 1, the same
N for every input. `load_calibration` checks all of that and says what is wrong.

`collect_ranges` runs the fp32 model on libpfw once per sample, with the
tensors to observe made graph outputs, and returns a (lo, hi) range for each:
"minmax" takes the extremes over all samples; "percentile" builds a 2048-bin
histogram of |x| over [0, max|x|] (a second pass) and clips both ends at the
|x| below which `percentile` % of the values fall.
"""
from __future__ import annotations

import os
from typing import Mapping

import numpy as np

from .. import dtypes as _dt
from ..ir import Graph

HIST_BINS = 2048


def _fmt_shape(shape) -> str:
    dims = ", ".join("?" if d < 0 else str(d) for d in shape)
    return f"({dims},)" if len(shape) == 1 else f"({dims})"


def check_calibration(arrays: Mapping[str, np.ndarray], graph: Graph, source: str = "calibration data") -> dict:
    """Validates calibration arrays against `graph`'s inputs; returns them as a
    dict by input name. Raises ValueError naming the first problem."""
    names = list(graph.inputs)
    unknown = [k for k in arrays if k not in names]
    if unknown:
        raise ValueError(f"{source}: array {unknown[0]!r} is not an input of the model; "
                         f"its inputs are: {', '.join(names)}")
    missing = [n for n in names if n not in arrays]
    if missing:
        raise ValueError(f"{source}: no array for input {missing[0]!r} (an array per input, keyed by "
                         f"input name; the model's inputs are: {', '.join(names)})")
    out, count = {}, None
    for name in names:
        t = graph.tensors[name]
        arr = np.asarray(arrays[name])
        want = _dt.to_numpy(t.dtype)
        shape = t.shape
        if shape is not None:
            stacked = "(" + ", ".join(["N"] + ["?" if d < 0 else str(d) for d in shape]) + ")"
            if arr.ndim != len(shape) + 1 or any(w >= 0 and w != g for w, g in zip(shape, arr.shape[1:])):
                raise ValueError(f"{source}: input {name!r} has shape {_fmt_shape(shape)}, so its samples "
                                 f"stack to shape {stacked}; got an array of shape {_fmt_shape(arr.shape)}")
        elif arr.ndim < 1:
            raise ValueError(f"{source}: input {name!r} needs its samples stacked along a leading axis; "
                             f"got a scalar")
        if arr.dtype != want:
            raise ValueError(f"{source}: input {name!r} is {want}, got an array of {arr.dtype} "
                             f"(convert it with .astype(np.{want}))")
        if arr.shape[0] == 0:
            raise ValueError(f"{source}: input {name!r} has zero samples (leading axis of length 0)")
        if count is None:
            count = arr.shape[0]
        elif arr.shape[0] != count:
            raise ValueError(f"{source}: input {name!r} has {arr.shape[0]} samples but input "
                             f"{names[0]!r} has {count}; every input needs the same number")
        if arr.dtype.kind == "f":
            bad = ~np.isfinite(arr.reshape(arr.shape[0], -1))
            if bad.any():
                k = int(np.flatnonzero(bad.any(axis=1))[0])
                what = "NaN" if np.isnan(arr[k]).any() else "Inf"
                raise ValueError(f"{source}: input {name!r} sample {k} contains {what}")
        out[name] = arr
    return out


def load_calibration(path: str | os.PathLike, graph: Graph) -> dict[str, np.ndarray]:
    """Reads an .npz calibration file for `graph` (see the module docstring)
    and checks it; returns {input name: stacked samples}."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such calibration file: {path!r}")
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise ValueError(f"cannot read calibration file {path!r} as .npz: {e}") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f"calibration file {path!r} is a single .npy array; expected an .npz "
                         "with one array per model input, keyed by input name")
    with data:
        try:
            arrays = {k: data[k] for k in data.files}
        except (ValueError, OSError) as e:
            raise ValueError(f"cannot read calibration file {path!r}: {e}") from None
    return check_calibration(arrays, graph, f"calibration file {path!r}")


def _observer_graph(graph: Graph, names: list[str]) -> tuple[Graph, list[str]]:
    g = graph.copy()
    for n in names:
        if n not in g.outputs and n not in g.inputs:
            g.outputs.append(n)
    return g, [n for n in names if n not in g.inputs]


def _run_all(graph: Graph, observed: list[str], samples: dict[str, np.ndarray]):
    """Yields {tensor name: value} per sample, for the `observed` tensors."""
    from ..format import to_bytes
    from ..runtime import Interpreter

    g, fetched = _observer_graph(graph, observed)
    count = next(iter(samples.values())).shape[0]
    with Interpreter(to_bytes(g)) as it:
        out_names = [o.name for o in it.outputs]
        for k in range(count):
            feeds = {n: samples[n][k] for n in g.inputs}
            values = dict(zip(out_names, it.run(feeds)))
            values.update(feeds)
            yield {n: values[n] for n in observed}


def collect_ranges(graph: Graph, observed: list[str], samples: dict[str, np.ndarray],
                   method: str = "minmax", percentile: float = 99.99) -> dict[str, tuple[float, float]]:
    """{tensor: (lo, hi)} over the calibration samples, for each name in `observed`."""
    if method not in ("minmax", "percentile"):
        raise ValueError(f"calibration method must be 'minmax' or 'percentile', got {method!r}")
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {percentile!r}")
    if not observed:
        return {}
    lo = {n: np.inf for n in observed}
    hi = {n: -np.inf for n in observed}
    for values in _run_all(graph, observed, samples):
        for n, v in values.items():
            if v.size:
                lo[n] = min(lo[n], float(v.min()))
                hi[n] = max(hi[n], float(v.max()))
    ranges = {n: (lo[n], hi[n]) if lo[n] <= hi[n] else (0.0, 0.0) for n in observed}
    if method == "minmax":
        return ranges
    edge = {n: max(abs(a), abs(b)) for n, (a, b) in ranges.items()}
    hist = {n: np.zeros(HIST_BINS, np.int64) for n in observed}
    for values in _run_all(graph, observed, samples):
        for n, v in values.items():
            if v.size and edge[n] > 0:
                h, _ = np.histogram(np.abs(v.astype(np.float64)), bins=HIST_BINS, range=(0.0, edge[n]))
                hist[n] += h
    from .scheme import percentile_range
    out = {}
    for n, (a, b) in ranges.items():
        t = percentile_range(hist[n], edge[n], percentile)
        out[n] = (max(a, -t), min(b, t))
    return out
