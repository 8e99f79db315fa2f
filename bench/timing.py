"""Timing shared by the bench scripts."""
from __future__ import annotations

import statistics
import time


def alternating_medians(first, second, runs: int) -> tuple[float, float]:
    """Median milliseconds of first() and second(), called alternately `runs`
    times each, so that both see the same machine state."""
    mine, theirs = [], []
    for _ in range(runs):
        t = time.perf_counter()
        first()
        mine.append(time.perf_counter() - t)
        t = time.perf_counter()
        second()
        theirs.append(time.perf_counter() - t)
    return statistics.median(mine) * 1e3, statistics.median(theirs) * 1e3


def one_thread_session(model):
    """An ONNX Runtime session of `model` (a ModelProto) on one thread."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
