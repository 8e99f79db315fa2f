"""pyfw.quant: int8 post-training quantization of a pyfw.ir.Graph.

    g8 = pyfw.quant.quantize("model.pfw", mode="static", calibration="calib.npz")
    g8 = pyfw.quant.quantize(graph, mode="dynamic")

The result uses only standard ONNX ops (QuantizeLinear, DequantizeLinear,
DynamicQuantizeLinear, QLinearConv, MatMulInteger, Cast, Mul, Add), so it is
also a valid ONNX model; its inputs and outputs keep their names and float32
dtype. See scheme.py for the numbers, rewrite.py for the graph, calibrate.py
for the calibration file (one array per input, samples stacked on a new
leading axis).
"""
from __future__ import annotations

import os
from typing import Iterable, Mapping

import numpy as np

from .. import UnsupportedError
from ..ir import Graph
from .calibrate import check_calibration, collect_ranges, load_calibration
from .rewrite import MIN_OPSET, Report, Rewriter, observed_tensors, plan

MODES = ("static", "dynamic")
METHODS = ("minmax", "percentile")


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


def quantize_with_report(model: Graph | str | os.PathLike, mode: str = "static",
                         calibration: str | os.PathLike | Mapping[str, np.ndarray] | None = None,
                         method: str = "minmax", per_channel: bool = True, exclude: Iterable[str] = (),
                         percentile: float = 99.99) -> tuple[Graph, Report]:
    """quantize(), also returning a Report of what was rewritten and kept."""
    if mode not in MODES:
        raise ValueError(f"mode must be 'static' or 'dynamic', got {mode!r}")
    if method not in METHODS:
        raise ValueError(f"method must be 'minmax' or 'percentile', got {method!r}")
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {percentile!r}")
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
    if mode == "static":
        if calibration is None:
            raise ValueError("static quantization needs calibration data (an .npz path or a dict of "
                             "arrays by input name); dynamic mode needs none")
        if isinstance(calibration, Mapping):
            samples = check_calibration(calibration, graph)
        else:
            samples = load_calibration(calibration, graph)
    elif calibration is not None:
        raise ValueError("dynamic quantization takes no calibration data (activations are quantized per run)")

    chosen, kept = plan(graph, mode, exclude)
    ranges = {}
    if mode == "static":
        ranges = collect_ranges(graph, observed_tensors(graph, chosen), samples, method, percentile)
    report = Report(mode, kept=kept)
    out = Rewriter(graph, mode, chosen, ranges, per_channel, report).run()
    from ..ir.passes._util import drop_unreferenced
    out = drop_unreferenced(out)
    out.metadata["quantization"] = (f"int8 {mode}" + (f" {method}" if mode == "static" else "")
                                    + (" per-channel" if per_channel else " per-tensor"))
    out.validate()
    return out, report


def quantize(model: Graph | str | os.PathLike, mode: str = "static",
             calibration: str | os.PathLike | Mapping[str, np.ndarray] | None = None,
             method: str = "minmax", per_channel: bool = True, exclude: Iterable[str] = (),
             percentile: float = 99.99) -> Graph:
    """An int8 copy of `model` (a Graph or a .pfw path), optimised first.

    mode "static": Conv, MatMul and Gemm with constant weights become
    QLinearConv / MatMulInteger, activation ranges from `calibration` (an .npz
    path or {input name: samples stacked on a new leading axis}) by "minmax"
    or "percentile" (clipping |x| at `percentile` %). mode "dynamic":
    MatMul/Gemm only, activations quantized per run, no calibration.
    Weights are int8 per output channel (per tensor with per_channel=False);
    nodes named in `exclude` stay fp32."""
    return quantize_with_report(model, mode, calibration, method, per_channel, exclude, percentile)[0]


__all__ = ["quantize", "quantize_with_report", "load_calibration", "check_calibration", "Report"]
