"""Measurement helpers shared by `pyfw bench` and bench/run.py: timed runs,
seeded random feeds, ONNX Runtime sessions configured like pyfw's
interpreter, per-op-type profiles and peak RSS."""
from __future__ import annotations

import json
import os
import resource
import sys
import time
import zlib
from typing import Callable

import numpy as np


def parse_shapes(specs: list[str]) -> dict[str, tuple[int, ...]]:
    """`name=1,3,224,224` arguments -> {name: dims}."""
    out = {}
    for spec in specs:
        name, sep, dims = spec.rpartition("=")
        try:
            shape = tuple(int(d) for d in dims.split(","))
        except ValueError:
            shape = ()
        if not sep or not name or not shape or min(shape) < 0:
            raise ValueError(f"--shape {spec!r}: expected NAME=D0,D1,... with non-negative integers, "
                             "e.g. input=1,3,224,224")
        out[name] = shape
    return out


def feed_shapes(inputs, shapes: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    """The shape to feed each input (pyfw TensorInfo list): --shape values,
    else the declared shape with dynamic dimensions at 1."""
    names = [i.name for i in inputs]
    for name in shapes:
        if name not in names:
            raise ValueError(f"--shape: the model has no input {name!r}; its inputs are: {', '.join(names)}")
    out = {}
    for info in inputs:
        shape = shapes.get(info.name)
        if shape is None:
            shape = tuple(1 if d is None else d for d in info.shape)
        elif len(shape) != len(info.shape) or any(w is not None and w != g for w, g in zip(info.shape, shape)):
            raise ValueError(f"--shape {info.name}: {','.join(map(str, shape))} does not fit the model's "
                             f"{info.describe()}")
        out[info.name] = shape
    return out


def random_feed(dtype, shape) -> np.ndarray:
    """Data for one input; the seed comes from dtype and shape, so every
    runtime given the same input sees the same values."""
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(zlib.crc32(f"{dtype}{tuple(shape)}".encode()))
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    if dtype.kind == "O":  # strings: short words, spaces and an empty one
        words = np.array(["", "a", "hello", "Hello World", "x,y,z", "naïve café"], dtype=object)
        return words[rng.integers(0, len(words), shape)]
    # Integer and bool inputs are often indices or masks: 0 and 1 are valid for any.
    return rng.integers(0, 2, shape).astype(dtype)


def timed(fn: Callable[[], object], runs: int, min_time: float = 0.0, max_runs: int = 1000) -> list[float]:
    """Milliseconds of each call of fn: at least `runs` calls, and more until
    `min_time` seconds have passed (at most max_runs)."""
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < runs or (time.perf_counter() - start < min_time and len(times) < max_runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def stats(times: list[float]) -> dict[str, float]:
    return {"mean": float(np.mean(times)), "p50": float(np.percentile(times, 50)),
            "p95": float(np.percentile(times, 95))}


def ort_session(model: bytes | str, threads: int, profile_dir: str | None = None):
    """An ONNX Runtime CPU session run the way pyfw runs: `threads` intra-op
    threads, one inter-op thread, all graph optimisations."""
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3  # errors only: the light zoo models warn about unused initializers
    if profile_dir:
        opts.enable_profiling = True
        opts.profile_file_prefix = os.path.join(profile_dir, "ort_profile")
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


def pfw_op_profile(entries: list[dict]) -> dict[str, tuple[int, float]]:
    """Interpreter.profile() entries -> {op type: (node runs, total ms)}."""
    out: dict[str, tuple[int, float]] = {}
    for e in entries:
        if e["calls"]:
            n, ms = out.get(e["op_type"], (0, 0.0))
            out[e["op_type"]] = (n + e["calls"], ms + e["total_ms"])
    return out


def ort_op_profile(path: str, skip_runs: int) -> dict[str, tuple[int, float]]:
    """ONNX Runtime's profiling JSON -> {op type: (node runs, total ms)},
    counting only kernels inside model runs after the first `skip_runs`
    (the first run and warm-up)."""
    with open(path) as f:
        events = json.load(f)
    runs = sorted((e["ts"], e["ts"] + e["dur"]) for e in events if e.get("cat") == "Session"
                  and e.get("name") == "model_run")[skip_runs:]
    out: dict[str, tuple[int, float]] = {}
    for e in events:
        # Each node has fence_before/kernel_time/fence_after events; kernel_time is the run.
        if e.get("cat") != "Node" or not e.get("name", "").endswith("_kernel_time"):
            continue
        if not any(lo <= e["ts"] <= hi for lo, hi in runs):
            continue
        op = e.get("args", {}).get("op_name", "?")
        n, ms = out.get(op, (0, 0.0))
        out[op] = (n + 1, ms + e["dur"] / 1e3)
    return out


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB. On Linux from
    /proc/self/status (VmHWM): ru_maxrss also counts the peak of the parent
    process that exec'd this one, so a child of a big process would see no
    growth. Elsewhere ru_maxrss (KB on Linux, bytes on macOS)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1 << 20) if sys.platform == "darwin" else rss / 1024
