"""pyfw.quant: int8 post-training quantization of a pyfw.ir.Graph.

    g8 = pyfw.quant.quantize("model.pfw", mode="static", calibration="calib.npz")
    g8 = pyfw.quant.quantize(graph, mode="dynamic")

The result uses only standard ONNX ops (QuantizeLinear, DequantizeLinear,
DynamicQuantizeLinear, QLinearConv, MatMulInteger, Cast, Mul, Add), so it is
also a valid ONNX model; its inputs and outputs keep their names and float32
dtype. See scheme.py for the numbers, rewrite.py for the graph, calibrate.py
for the calibration file (one array per input, samples stacked on a new
leading axis), report.py for the per-layer error report and the accuracy
budget.
"""
from __future__ import annotations

import math
import os
from typing import Iterable, Mapping

import numpy as np

from .. import UnsupportedError
from ..ir import Graph
from .calibrate import METHODS, check_calibration, collect_ranges, load_calibration
from .report import LayerStat, OutputStat, Report, measure
from .rewrite import MIN_OPSET, observed_tensors, plan, rewrite

MODES = ("static", "dynamic")


def _load(model) -> Graph:
    if isinstance(model, Graph):
        return model
    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no such model file: {path!r}")
        from ..format import load
        return load(path)
    raise TypeError(f"model must be a pyfw.ir.Graph or a .pfw path, got {type(model).__name__}")


def _check_budget(budget) -> float | None:
    if budget is None:
        return None
    if isinstance(budget, bool) or not isinstance(budget, (int, float, np.floating, np.integer)):
        raise ValueError(f"accuracy_budget must be a number (a relative output error), got {budget!r}")
    budget = float(budget)
    if not (math.isfinite(budget) and budget > 0):
        raise ValueError(f"accuracy_budget must be a finite relative output error > 0, got {budget!r}")
    return budget


def quantize_with_report(model: Graph | str | os.PathLike, mode: str = "static",
                         calibration: str | os.PathLike | Mapping[str, np.ndarray] | None = None,
                         method: str = "minmax", per_channel: bool = True, exclude: Iterable[str] = (),
                         percentile: float = 99.99, *, report: bool = False,
                         accuracy_budget: float | None = None) -> tuple[Graph, Report]:
    """quantize(), also returning a Report of what was rewritten and kept;
    with report=True (or an accuracy_budget) also the per-layer SQNR and
    share of the output error, and per-output figures, measured on the
    calibration samples (Report.layers, Report.outputs, Report.table())."""
    if mode not in MODES:
        raise ValueError(f"mode must be 'static' or 'dynamic', got {mode!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}, got {method!r}")
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {percentile!r}")
    budget = _check_budget(accuracy_budget)
    evaluate = bool(report) or budget is not None
    if isinstance(exclude, str):
        exclude = (exclude,)
    exclude = set(exclude)
    from ..ir.passes import optimize

    graph = optimize(_load(model))
    if graph.opset < MIN_OPSET:
        raise UnsupportedError(f"quantizing needs ONNX opset {MIN_OPSET} or newer; graph {graph.name!r} "
                               f"is opset {graph.opset}")
    unknown = sorted(exclude - {n.name for n in graph.nodes})
    if unknown:
        raise ValueError(f"exclude names no node of the graph: {', '.join(map(repr, unknown))}")
    if calibration is None:
        if mode == "static":
            raise ValueError("static quantization needs calibration data (an .npz path or a dict of "
                             "arrays by input name); dynamic mode needs none")
        if evaluate:
            raise ValueError("a report or an accuracy budget in dynamic mode needs samples to measure on: "
                             "pass them as calibration data (used for evaluation only)")
    elif mode == "dynamic" and not evaluate:
        raise ValueError("dynamic quantization takes no calibration data (activations are quantized per run; "
                         "with report=True or an accuracy_budget it is used as evaluation samples)")
    samples = None
    if isinstance(calibration, Mapping):
        samples = check_calibration(calibration, graph)
    elif calibration is not None:
        samples = load_calibration(calibration, graph)

    chosen, kept = plan(graph, mode, exclude)
    ranges = {}
    if mode == "static":
        ranges = collect_ranges(graph, observed_tensors(graph, chosen), samples, method, percentile)
    if evaluate:
        out, rep = measure(graph, mode, chosen, kept, ranges, per_channel, samples, budget)
    else:
        rep = Report(mode, kept=kept)
        out = rewrite(graph, mode, chosen, ranges, per_channel, rep)
    out.metadata["quantization"] = (f"int8 {mode}" + (f" {method}" if mode == "static" else "")
                                    + (" per-channel" if per_channel else " per-tensor"))
    return out, rep


def quantize(model: Graph | str | os.PathLike, mode: str = "static",
             calibration: str | os.PathLike | Mapping[str, np.ndarray] | None = None,
             method: str = "minmax", per_channel: bool = True, exclude: Iterable[str] = (),
             percentile: float = 99.99, *, accuracy_budget: float | None = None) -> Graph:
    """An int8 copy of `model` (a Graph or a .pfw path), optimised first.

    mode "static": Conv, MatMul and Gemm with constant weights become
    QLinearConv / MatMulInteger, activation ranges from `calibration` (an .npz
    path or {input name: samples stacked on a new leading axis}) by "minmax",
    "percentile" (clipping |x| at `percentile` %) or "entropy" (clipping |x|
    at the threshold of least KL divergence, as TensorRT calibrates). mode
    "dynamic": MatMul/Gemm only, activations quantized per run, no
    calibration (unless an accuracy budget needs samples: then `calibration`
    is used to measure on only). Weights are int8 per output channel (per
    tensor with per_channel=False); nodes named in `exclude` stay fp32.

    accuracy_budget X (> 0): the largest allowed relative output error
    ||y_int8 - y_fp32||_2 / ||y_fp32||_2, each output's norms taken over all
    calibration samples together, worst over the model's outputs. Layers are
    kept fp32 greedily, largest share of the output error first (measured
    with each layer alone int8), re-measuring after each, until the error is
    <= X. If only an all-fp32 model meets X, that model is returned (with a
    warning in the Report; quantize_with_report returns it)."""
    return quantize_with_report(model, mode, calibration, method, per_channel, exclude, percentile,
                                accuracy_budget=accuracy_budget)[0]


__all__ = ["quantize", "quantize_with_report", "load_calibration", "check_calibration", "Report", "LayerStat",
           "OutputStat", "METHODS"]
