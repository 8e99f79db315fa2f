"""Calibration data and activation ranges.

A calibration file is an .npz with one array per graph input, keyed by the
input's name, its samples stacked along a new leading axis: an input of shape
(1, 3, 224, 224) takes an array of shape (N, 1, 3, 224, 224), N >= 1, the same
N for every input. `load_calibration` checks all of that and says what is wrong.

`collect_ranges` runs the fp32 model on libpfw once per sample, with the
tensors to observe made graph outputs, and returns a (lo, hi) range for each:
"minmax" takes the extremes over all samples; "percentile" and "entropy" build a
2048-bin histogram of |x| over [0, max|x|] (a second pass) and clip both ends
at a threshold t on |x|, the range becoming (max(lo, -t), min(hi, t)):
"percentile" takes the |x| below which `percentile` % of the values fall,
"entropy" the t whose 128-level quantization (256 for a tensor >= 0) of the
clipped histogram is closest to it in KL divergence (TensorRT's calibration;
`kl_divergences`).
"""
from __future__ import annotations

import os
from typing import Mapping

import numpy as np

from .. import dtypes as _dt
from ..ir import Graph

HIST_BINS = 2048
METHODS = ("minmax", "percentile", "entropy")
# TensorRT's levels for |x|: a range about 0 gets half of uint8's 256 steps per side.
ENTROPY_LEVELS = 128
# Q's count where P holds only clipped values (MXNet and ONNX Runtime smooth
# by 1e-4 of a count too): clipping a lone outlier past an empty stretch then
# costs a large finite KL, not inf, so a threshold inside the gap can win.
KL_EPS = 1e-4


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


def kl_divergences(hist: np.ndarray, levels: int = ENTROPY_LEVELS) -> np.ndarray:
    """KL(P || Q) for each candidate threshold of TensorRT's entropy
    calibration, from a histogram `hist` of |x| (B bins): entry i - levels is
    the threshold at the upper edge of bin i - 1, for i = levels .. B.

    P is hist[:i] with the count of every bin from i on added to bin i - 1 (the
    clipped values land on the threshold). Q quantizes hist[:i] (without those
    outliers) to `levels` levels: the i bins split into `levels` groups of
    floor or ceil(i / levels) adjacent bins (group j is bins
    [j * i // levels, (j + 1) * i // levels)), each group's count spread evenly
    over the bins of the group where P is nonzero; if the last group holds
    no count but P's last bin has clipped values, Q gets KL_EPS there. Both
    are normalised; KL = sum over P > 0 of p log(p / q), inf when hist[:i]
    is empty. Computed per group from cumulative sums, all candidates at once."""
    h = np.asarray(hist, np.float64)
    bins = len(h)
    if bins < levels:
        raise ValueError(f"entropy calibration needs at least {levels} histogram bins, got {bins}")
    total = h.sum()
    i = np.arange(levels, bins + 1)
    cum = np.concatenate([[0.0], np.cumsum(h)])
    nonzero = np.concatenate([[0], np.cumsum(h > 0)])
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(h > 0, h / total * np.log(h / total), 0.0)
        bounds = (np.arange(levels + 1)[None, :] * i[:, None]) // levels  # (candidates, levels + 1)
        mass = cum[bounds[:, 1:]] - cum[bounds[:, :-1]]  # Q's count per group
        count = (nonzero[bounds[:, 1:]] - nonzero[bounds[:, :-1]]).astype(np.float64)
        outliers = total - cum[i]
        last = h[i - 1] + outliers  # P's last bin, in the last group
        count[:, -1] += (h[i - 1] == 0) & (outliers > 0)
        p_group = mass.copy()
        p_group[:, -1] += outliers
        p_group /= total
        q_mass = mass.copy()
        q_mass[:, -1] += KL_EPS * ((mass[:, -1] == 0) & (outliers > 0))
        q_total = np.where(cum[i] > 0, q_mass.sum(axis=1), np.nan)  # nan: Q empty, KL inf
        q_bin = q_mass / (count * q_total[:, None])  # Q's value on each nonzero bin of the group
        cross = np.where(p_group > 0, p_group * np.log(q_bin), 0.0)
        head = np.concatenate([[0.0], np.cumsum(plogp)])[i - 1]  # sum p log p over bins below i - 1
        self_info = head + np.where(last > 0, last / total * np.log(last / total), 0.0)
        kl = self_info - cross.sum(axis=1)
    kl[~np.isfinite(kl)] = np.inf  # nan where hist[:i] is empty
    return np.maximum(kl, 0.0)  # float rounding below 0 when P == Q


def entropy_threshold(hist: np.ndarray, edge: float, levels: int = ENTROPY_LEVELS) -> float:
    """The |x| threshold with the smallest KL divergence (`kl_divergences`),
    from a histogram of |x| over [0, edge]: the upper edge of the last kept
    bin, as percentile_range gives it (the smallest such threshold on ties).
    Bin 0 counts as bin 1 does, as NVIDIA's calibrators do: exact zeros (a
    Relu's output, padding) pile up there, are exact at any threshold, and
    smearing that spike over a group would push the threshold down to where
    bin 0 is a group alone."""
    h = np.array(hist, np.int64)
    if h.sum() == 0 or edge <= 0:
        return 0.0
    h[0] = h[1]
    if h.sum() == 0:  # every value in bin 0: nothing to clip
        return float(edge)
    k = int(np.argmin(kl_divergences(h, levels)))
    return float(edge) * (levels + k) / len(h)


def _observer_graph(graph: Graph, names: list[str]) -> tuple[Graph, list[str]]:
    g = graph.copy()
    for n in names:
        if n not in g.outputs and n not in g.inputs:
            g.outputs.append(n)
    return g, [n for n in names if n not in g.inputs]


def run_samples(graph: Graph, observed: list[str], samples: dict[str, np.ndarray]):
    """Runs `graph` on libpfw once per sample (samples stacked on a leading
    axis, by input name); yields {tensor name: value} for the `observed`
    tensors (inputs or any tensor a node writes, made graph outputs on a copy)."""
    from ..format import to_bytes
    from ..runtime import Interpreter

    g, _ = _observer_graph(graph, observed)
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
    if method not in METHODS:
        raise ValueError(f"calibration method must be one of {', '.join(map(repr, METHODS))}, got {method!r}")
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {percentile!r}")
    if not observed:
        return {}
    lo = {n: np.inf for n in observed}
    hi = {n: -np.inf for n in observed}
    for values in run_samples(graph, observed, samples):
        for n, v in values.items():
            if v.size:
                lo[n] = min(lo[n], float(v.min()))
                hi[n] = max(hi[n], float(v.max()))
    ranges = {n: (lo[n], hi[n]) if lo[n] <= hi[n] else (0.0, 0.0) for n in observed}
    if method == "minmax":
        return ranges
    edge = {n: max(abs(a), abs(b)) for n, (a, b) in ranges.items()}
    hist = {n: np.zeros(HIST_BINS, np.int64) for n in observed}
    for values in run_samples(graph, observed, samples):
        for n, v in values.items():
            if v.size and edge[n] > 0:
                h, _ = np.histogram(np.abs(v.astype(np.float64)), bins=HIST_BINS, range=(0.0, edge[n]))
                hist[n] += h
    from .scheme import percentile_range
    out = {}
    for n, (a, b) in ranges.items():
        if method == "percentile":
            t = percentile_range(hist[n], edge[n], percentile)
        else:  # uint8 has 256 steps over [0, t] for a tensor >= 0, 128 per side of 0 otherwise
            t = entropy_threshold(hist[n], edge[n], 2 * ENTROPY_LEVELS if a >= 0 else ENTROPY_LEVELS)
        out[n] = (max(a, -t), min(b, t))
    return out
