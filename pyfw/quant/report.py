"""What quantize did, and how much each rewritten layer costs in accuracy.

`measure` runs the fp32 graph and int8 graphs on libpfw over the evaluation
samples (the calibration data) and fills a Report with:

  per layer (each node the rewriter turned into QLinearConv / MatMulInteger):
    sqnr_db  10 log10(sum x^2 / sum (x - x_hat)^2) over all samples, x the
             layer's output in the fp32 model, x_hat the same tensor in the
             fully quantized model (errors of the layers before it included);
             inf when exact.
    share    the model-output error energy sum (y - y_hat)^2 over all
             samples with this layer alone quantized (summed over the
             outputs, each divided by its sum y^2 so outputs of different
             scales weigh alike), divided by the sum of that over the layers:
             the shares sum to 1 (all 0 when no layer alone changes any
             output).
  per model output: SQNR, relative error ||y_hat - y||_2 / ||y||_2 with the
    norms over all samples together, and for 2-D outputs (rows, classes) the
    share of rows whose argmax matches fp32.

With an accuracy budget X the layers are kept fp32 greedily, largest share
first, re-quantizing and re-measuring after each, until the worst relative
error over the outputs is <= X (see `measure`).
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from .._text import table as _table
from ..ir import Graph
from .calibrate import run_samples
from .rewrite import layer_name, rewrite

BUDGET_REASON = "kept fp32 for the accuracy budget"


@dataclass
class LayerStat:
    """One rewritten node: its name (or its output's), fp32 op type, the
    float tensor carrying its value, SQNR in dB in the fully quantized model,
    share of the output error, and whether the budget kept it fp32."""
    node: str
    op: str
    tensor: str
    sqnr_db: float
    share: float
    kept_fp32: bool = False


@dataclass
class OutputStat:
    """One model output of the returned graph against fp32 over all samples;
    top1 (with rows, the number of rows compared) only for 2-D outputs."""
    name: str
    sqnr_db: float
    rel_error: float
    top1: float | None = None
    rows: int = 0


@dataclass
class Report:
    """What quantize did: rewritten nodes by op type, nodes left fp32 (name,
    op, why), the Quantize/Dequantize nodes it inserted, and {node: float
    tensor of the int8 graph holding its output} where one exists. With
    report=True or an accuracy budget also the per-layer and per-output
    figures (module docstring) on `samples` evaluation samples."""
    mode: str
    quantized: Counter = field(default_factory=Counter)
    kept: list[tuple[str, str, str]] = field(default_factory=list)
    inserted: Counter = field(default_factory=Counter)
    values: dict[str, str] = field(default_factory=dict)
    layers: list[LayerStat] = field(default_factory=list)  # largest share first
    outputs: list[OutputStat] = field(default_factory=list)
    samples: int = 0
    budget: float | None = None
    budget_kept: list[str] = field(default_factory=list)  # in the order the greedy kept them
    initial_error: float | None = None  # worst relative output error, every layer int8
    final_error: float | None = None  # the same for the returned graph
    warnings: list[str] = field(default_factory=list)

    @property
    def budget_met(self) -> bool | None:
        return None if self.budget is None else self.final_error <= self.budget

    def table(self) -> str:
        """The per-layer table (node, op, SQNR dB, share %, largest share
        first), then one line per model output and the budget's outcome."""
        if not self.samples:
            return "no accuracy figures (quantize with report=True or an accuracy budget)"
        rows = [[s.node, s.op, _fmt_db(s.sqnr_db), f"{100 * s.share:.1f}", "fp32" if s.kept_fp32 else "int8"]
                for s in self.layers]
        lines = [f"per-layer error on {self.samples} sample{'s' if self.samples != 1 else ''} "
                 f"(int8 {self.mode} vs fp32):"]
        lines += ["  " + r for r in _table(["node", "op", "SQNR dB", "share %", "result"], rows, {2, 3})]
        for o in self.outputs:
            line = f"  output {o.name}: SQNR {_fmt_db(o.sqnr_db)} dB, relative error {o.rel_error:.4g}"
            if o.top1 is not None:
                line += f", top-1 agreement {100 * o.top1:.1f}% ({round(o.top1 * o.rows)}/{o.rows})"
            lines.append(line)
        if self.budget is not None:
            kept = ", ".join(self.budget_kept) or "none"
            lines.append(f"  accuracy budget {self.budget:g} (worst relative output error): kept fp32 {kept}; "
                         f"error {self.initial_error:.4g} -> {self.final_error:.4g}"
                         f" ({'met' if self.budget_met else 'NOT met'})")
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _fmt_db(v: float) -> str:
    return f"{v:.1f}" if math.isfinite(v) else ("inf" if v > 0 else "-inf")


def sqnr_db(signal: float, noise: float) -> float:
    """10 log10(signal / noise): inf when exact, -inf for noise on a zero signal."""
    if noise == 0:
        return math.inf
    if signal == 0:
        return -math.inf
    return 10 * math.log10(signal / noise)


def relative_error(signal: float, noise: float) -> float:
    """||y_hat - y|| / ||y|| from sum y^2 and sum (y - y_hat)^2."""
    if noise == 0:
        return 0.0
    return math.inf if signal == 0 else math.sqrt(noise / signal)


class _Energies:
    """Sums of x^2 and (x - x_hat)^2 per key, and argmax agreement of 2-D values."""

    def __init__(self):
        self.signal, self.noise = Counter(), Counter()
        self.agree, self.rows = Counter(), Counter()

    def add(self, key, x: np.ndarray, x_hat: np.ndarray) -> None:
        x, x_hat = np.asarray(x, np.float64), np.asarray(x_hat, np.float64)
        self.signal[key] += float(np.sum(x * x))
        self.noise[key] += float(np.sum((x - x_hat) ** 2))
        if x.ndim == 2 and x.shape[1] > 1:
            self.agree[key] += int(np.sum(x.argmax(1) == x_hat.argmax(1)))
            self.rows[key] += x.shape[0]

    def outputs(self, names: list[str]) -> list[OutputStat]:
        out = []
        for n in names:
            s, e = self.signal[n], self.noise[n]
            top1 = self.agree[n] / self.rows[n] if self.rows[n] else None
            out.append(OutputStat(n, sqnr_db(s, e), relative_error(s, e), top1, self.rows[n]))
        return out


def _output_energies(g8: Graph, reference: list[dict], samples: dict) -> _Energies:
    """Model outputs of `g8` on `samples` against the fp32 `reference` outputs."""
    acc = _Energies()
    for ref, got in zip(reference, run_samples(g8, list(g8.outputs), samples)):
        for name in g8.outputs:
            acc.add(name, ref[name], got[name])
    return acc


def _worst(stats: list[OutputStat]) -> float:
    return max((o.rel_error for o in stats), default=0.0)


def measure(graph: Graph, mode: str, chosen: dict[int, str], kept: list, ranges: dict, per_channel: bool,
            samples: dict[str, np.ndarray], budget: float | None = None) -> tuple[Graph, Report]:
    """The int8 graph of `graph` (optimised, `chosen` as plan gives it) and a
    Report with the per-layer and per-output figures on `samples`.

    With `budget`: while the worst relative output error is above it, the
    layer with the largest share still int8 is kept fp32 and the model is
    re-quantized and re-measured. If that ends with every layer fp32 the
    graph returned has no int8 layer (it is the only one within the budget);
    the Report says so in `warnings`. Cost: a pass over the samples for
    fp32 and the int8 model together, one per layer for the shares and one
    per layer the budget keeps fp32."""
    fp32_names = {i: graph.nodes[i].outputs[0] for i in chosen}
    full = Report(mode)
    g8 = rewrite(graph, mode, chosen, ranges, per_channel, full, expose=list(fp32_names.values()))
    int8_names = {i: full.values[layer_name(graph.nodes[i])] for i in chosen}
    outputs = list(graph.outputs)
    acc, by_layer, reference = _Energies(), _Energies(), []
    # fp32 and int8 in lockstep: only the model outputs are kept, for the runs below
    fp32_runs = run_samples(graph, list(dict.fromkeys(list(fp32_names.values()) + outputs)), samples)
    int8_runs = run_samples(g8, list(dict.fromkeys(list(int8_names.values()) + outputs)), samples)
    for ref, got in zip(fp32_runs, int8_runs):
        reference.append({n: ref[n] for n in outputs})
        for i in chosen:
            by_layer.add(i, ref[fp32_names[i]], got[int8_names[i]])
        for n in outputs:
            acc.add(n, ref[n], got[n])

    alone = {}  # output error energy with layer i alone quantized
    for i, kind in chosen.items():
        one = _output_energies(rewrite(graph, mode, {i: kind}, ranges, per_channel, Report(mode)), reference,
                               samples)
        alone[i] = sum(one.noise[n] / (acc.signal[n] or 1.0) for n in outputs)
    total = sum(alone.values())
    sqnr = {i: sqnr_db(by_layer.signal[i], by_layer.noise[i]) for i in chosen}
    layers = sorted(chosen, key=lambda i: (-alone[i], sqnr[i], i))
    stats = {i: LayerStat(layer_name(graph.nodes[i]), graph.nodes[i].op_type, int8_names[i], sqnr[i],
                          alone[i] / total if total else 0.0) for i in layers}

    out_stats = acc.outputs(outputs)
    current, budget_kept = dict(chosen), []
    initial = last_int8 = _worst(out_stats)
    if budget is not None:
        for i in layers:
            if _worst(out_stats) <= budget:
                break
            last_int8 = _worst(out_stats)
            del current[i]
            budget_kept.append(i)
            stats[i].kept_fp32 = True
            out_stats = _output_energies(rewrite(graph, mode, current, ranges, per_channel, Report(mode)),
                                         reference, samples).outputs(outputs)

    report = Report(mode, kept=list(kept) + [(layer_name(graph.nodes[i]), graph.nodes[i].op_type, BUDGET_REASON)
                                             for i in budget_kept])
    result = rewrite(graph, mode, current, ranges, per_channel, report)
    report.layers = [stats[i] for i in layers]
    report.outputs = out_stats
    report.samples = next(iter(samples.values())).shape[0]
    if budget is not None:
        report.budget, report.initial_error, report.final_error = budget, initial, _worst(out_stats)
        report.budget_kept = [layer_name(graph.nodes[i]) for i in budget_kept]
        if chosen and not current:
            report.warnings.append(f"accuracy budget {budget:g} not met with any layer int8 (with only "
                                   f"{report.budget_kept[-1]} int8 the error was {last_int8:.4g}): every layer "
                                   "is kept fp32 and the model has no int8 layer")
    return result, report
