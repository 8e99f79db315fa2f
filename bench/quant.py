"""int8 post-training quantization, pyfw against ONNX Runtime (issue 8): for
the ResNet-18 and MobileNetV2 of bench/models.py (random weights), static
int8 models calibrated on 32 random inputs, top-1 agreement of int8 with
fp32 on 64 other random inputs, median latency of fp32 and int8 in each
runtime, and file sizes.

    python bench/quant.py [--models resnet18,mobilenet_v2] [--size 224] [--threads 1]
                          [--runs 3] [--min-time 2] [--quick]

pyfw int8: pyfw.quant.quantize(fp32 .pfw, mode="static", method="minmax"),
per-channel weights. ORT int8: onnxruntime.quantization.quantize_static on
the fp32 ONNX model after quant_pre_process, QDQ format, per-channel, uint8
activations and int8 weights, MinMax calibration on the same 32 inputs.
Top-1 agreement is the rate of argmax equality of each int8 model with its
own runtime's fp32 model; with random weights few classes may win at all, so
the table also gives the number of distinct fp32 top-1 classes and the median
relative L2 error of the int8 outputs. "pyfw on ORT int8" runs ORT's QDQ
file converted by pyfw (its QDQ layers fused into QLinearConv/QLinearMatMul);
"ORT QOp" / "pyfw on ORT QOp" time ORT's QOperator file (com.microsoft
QLinearAdd, QGemm...) in ORT and converted by pyfw.
Latency pairs (pyfw fp32, ORT fp32) and (pyfw int8,
ORT int8) are timed in alternating blocks, as in bench/run.py. Progress goes
to stderr; --quick: 96x96 input, 1 run, no minimum time.

Dynamic mode (int8 weights, activations quantized per run) on the 4-layer
transformer encoder of bench/models.py: pyfw.quant.quantize(mode="dynamic")
against onnxruntime.quantization.quantize_dynamic (int8 weights, per
channel), latency and relative L2 error against each runtime's fp32 on 8
random inputs. --dynamic-models '' skips it.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# bench.run sets OPENBLAS_NUM_THREADS=1 before NumPy is first imported and
# leaves every other OPENBLAS_* setting (OPENBLAS_CORETYPE included) alone.
from bench.run import paired_medians, progress  # noqa: E402  (import first: it fixes the environment)

import numpy as np  # noqa: E402
import onnx  # noqa: E402

import pyfw.format  # noqa: E402
import pyfw.quant  # noqa: E402
from bench import models as pt_models  # noqa: E402
from pyfw import benchmark as bm  # noqa: E402
from pyfw.cli import _table, onnx_to_graph  # noqa: E402
from pyfw.runtime import Interpreter  # noqa: E402

MODELS = ["resnet18", "mobilenet_v2"]
N_CALIB, N_TEST = 32, 64
CALIB_SEED, TEST_SEED = 100, 200
QUICK_SIZE = 96


def build(name: str, size: int) -> onnx.ModelProto:
    """bench/models.py's model, its image input resized to size x size (both
    CNNs end in GlobalAveragePool, so the output stays [1, 1000])."""
    model = pt_models.MODELS[name]()
    if size != 224:
        dims = model.graph.input[0].type.tensor_type.shape.dim
        dims[2].dim_value = dims[3].dim_value = size
        onnx.checker.check_model(model, full_check=True)
    return model


def samples(model: onnx.ModelProto, n: int, seed: int) -> np.ndarray:
    """n standard-normal inputs of the model's (single) input shape, stacked: [n, 1, 3, H, W]."""
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    return np.random.default_rng(seed).standard_normal([n] + shape).astype(np.float32)


def ort_quantize(fp32_path: str, out_path: str, calib: np.ndarray, input_name: str, tmp: str,
                 qoperator: bool = False) -> None:
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter(calib)

        def get_next(self):
            x = next(self._it, None)
            return None if x is None else {input_name: x}

    pre = os.path.join(tmp, "pre.onnx")
    # The shapes are static, so ONNX's shape inference is enough; the symbolic one would need sympy.
    quant_pre_process(fp32_path, pre, skip_symbolic_shape=True)
    quantize_static(pre, out_path, Reader(), quant_format=QuantFormat.QOperator if qoperator else QuantFormat.QDQ,
                    per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax)


def compare(y8: np.ndarray, y32: np.ndarray) -> tuple[float, float]:
    """(top-1 agreement, median relative L2 error) of int8 outputs with fp32, both [n, 1, classes]."""
    y8, y32 = y8.reshape(len(y8), -1), y32.reshape(len(y32), -1)
    err = np.linalg.norm(y8 - y32, axis=1) / np.linalg.norm(y32, axis=1)
    return float(np.mean(y8.argmax(1) == y32.argmax(1))), float(np.median(err))


def bench_model(name: str, size: int, threads: int, runs: int, min_time: float) -> dict:
    progress(f"[{name}] building {size}x{size}, converting, quantizing")
    model = build(name, size)
    input_name = model.graph.input[0].name
    calib, test = samples(model, N_CALIB, CALIB_SEED), samples(model, N_TEST, TEST_SEED)
    with tempfile.TemporaryDirectory() as tmp:
        onnx_fp32, onnx_int8 = os.path.join(tmp, "fp32.onnx"), os.path.join(tmp, "int8.onnx")
        pfw_fp32, pfw_int8 = os.path.join(tmp, "fp32.pfw"), os.path.join(tmp, "int8.pfw")
        onnx.save(model, onnx_fp32)
        pyfw.format.save(onnx_to_graph(model), pfw_fp32)  # as `pyfw convert` writes it
        pyfw.format.save(pyfw.quant.quantize(pfw_fp32, mode="static", calibration={input_name: calib},
                                             method="minmax"), pfw_int8)
        progress(f"[{name}] ORT quantize_static (QDQ, per-channel, U8 activations / S8 weights)")
        ort_quantize(onnx_fp32, onnx_int8, calib, input_name, tmp)
        sizes = [os.path.getsize(p) for p in (pfw_fp32, pfw_int8, onnx_int8)]
        pfw_qdq = os.path.join(tmp, "ort_qdq.pfw")  # ORT's QDQ model as `pyfw convert` writes it (QDQ fused)
        pyfw.format.save(onnx_to_graph(onnx_int8), pfw_qdq)
        # and its QOperator model (com.microsoft QLinearAdd, QGemm...), which pyfw imports as standard ops
        onnx_qop, pfw_qop = os.path.join(tmp, "int8_qop.onnx"), os.path.join(tmp, "ort_qop.pfw")
        ort_quantize(onnx_fp32, onnx_qop, calib, input_name, tmp, qoperator=True)
        pyfw.format.save(onnx_to_graph(onnx_qop), pfw_qop)

        s32, s8 = bm.ort_session(onnx_fp32, threads), bm.ort_session(onnx_int8, threads)
        with Interpreter(pfw_fp32, threads=threads) as p32, Interpreter(pfw_int8, threads=threads) as p8:
            progress(f"[{name}] outputs on {N_TEST} test inputs")
            y = {k: np.stack([run(x) for x in test]) for k, run in (
                ("pf32", lambda x: p32.run([x])[0]), ("pf8", lambda x: p8.run([x])[0]),
                ("ort32", lambda x: s32.run(None, {input_name: x})[0]),
                ("ort8", lambda x: s8.run(None, {input_name: x})[0]))}
            agree_pf, err_pf = compare(y["pf8"], y["pf32"])
            agree_ort, err_ort = compare(y["ort8"], y["ort32"])
            # Random weights on random inputs can favour one class whatever the input: top-1
            # agreement means little when the fp32 model gives few distinct classes.
            classes = len(set(y["pf32"].reshape(N_TEST, -1).argmax(1)))
            progress(f"[{name}] (pyfw fp32 vs ORT fp32: top-1 {compare(y['pf32'], y['ort32'])[0]:.3f}, "
                     f"{classes} distinct fp32 classes)")
            x = test[0]
            fp32_pf, fp32_ort, n32 = paired_medians(lambda: p32.run([x]), lambda: s32.run(None, {input_name: x}),
                                                    runs, min_time)
            progress(f"[{name}] fp32, {threads} thread(s): pyfw {fp32_pf:.2f} ms, ORT {fp32_ort:.2f} ms "
                     f"({n32} runs each)")
            int8_pf, int8_ort, n8 = paired_medians(lambda: p8.run([x]), lambda: s8.run(None, {input_name: x}),
                                                   runs, min_time)
            progress(f"[{name}] int8, {threads} thread(s): pyfw {int8_pf:.2f} ms, ORT {int8_ort:.2f} ms "
                     f"({n8} runs each)")
        with Interpreter(pfw_qdq, threads=threads) as pq:
            # ORT's own QDQ file in pyfw: outputs against ORT on it, and the latency
            yq = np.stack([pq.run([x])[0] for x in test])
            qdq_err = float(np.max(np.abs(yq - y["ort8"])))
            qdq_pf, _, _ = paired_medians(lambda: pq.run([x]), lambda: s8.run(None, {input_name: x}), runs, min_time)
            progress(f"[{name}] ORT's QDQ model in pyfw: {qdq_pf:.2f} ms, max |diff| to ORT {qdq_err:.4g}")
        sq = bm.ort_session(onnx_qop, threads)
        with Interpreter(pfw_qop, threads=threads) as pq:
            yq = np.stack([pq.run([x])[0] for x in test])
            yo = np.stack([sq.run(None, {input_name: x})[0] for x in test])
            qop_err = float(np.max(np.abs(yq - yo)))
            qop_pf, qop_ort, _ = paired_medians(lambda: pq.run([x]), lambda: sq.run(None, {input_name: x}), runs,
                                                min_time)
            progress(f"[{name}] ORT's QOperator model: pyfw {qop_pf:.2f} ms, ORT {qop_ort:.2f} ms, "
                     f"max |diff| {qop_err:.4g}")
    return dict(name=name, agree_pf=agree_pf, agree_ort=agree_ort, classes=classes, err_pf=err_pf, err_ort=err_ort,
                fp32_pf=fp32_pf, int8_pf=int8_pf, qdq_pf=qdq_pf, qdq_err=qdq_err, qop_pf=qop_pf, qop_ort=qop_ort,
                fp32_ort=fp32_ort, int8_ort=int8_ort, sizes=sizes)


DYNAMIC_MODELS = ["transformer"]
N_DYNAMIC_TEST = 8


def bench_dynamic(name: str, threads: int, runs: int, min_time: float) -> dict:
    from onnxruntime.quantization import QuantType, quantize_dynamic
    progress(f"[{name}] building, converting, quantizing (dynamic)")
    model = pt_models.MODELS[name]()
    input_name = model.graph.input[0].name
    test = samples(model, N_DYNAMIC_TEST, TEST_SEED)
    with tempfile.TemporaryDirectory() as tmp:
        onnx_fp32, onnx_int8 = os.path.join(tmp, "fp32.onnx"), os.path.join(tmp, "int8.onnx")
        pfw_fp32, pfw_int8 = os.path.join(tmp, "fp32.pfw"), os.path.join(tmp, "int8.pfw")
        onnx.save(model, onnx_fp32)
        pyfw.format.save(onnx_to_graph(model), pfw_fp32)
        pyfw.format.save(pyfw.quant.quantize(pfw_fp32, mode="dynamic"), pfw_int8)
        quantize_dynamic(onnx_fp32, onnx_int8, weight_type=QuantType.QInt8, per_channel=True)
        sizes = [os.path.getsize(p) for p in (pfw_fp32, pfw_int8, onnx_int8)]
        s32, s8 = bm.ort_session(onnx_fp32, threads), bm.ort_session(onnx_int8, threads)
        with Interpreter(pfw_fp32, threads=threads) as p32, Interpreter(pfw_int8, threads=threads) as p8:
            y = {k: np.stack([run(x) for x in test]) for k, run in (
                ("pf32", lambda x: p32.run([x])[0]), ("pf8", lambda x: p8.run([x])[0]),
                ("ort32", lambda x: s32.run(None, {input_name: x})[0]),
                ("ort8", lambda x: s8.run(None, {input_name: x})[0]))}
            rel = lambda a, b: float(np.median(np.linalg.norm((a - b).reshape(len(a), -1), axis=1)  # noqa: E731
                                               / np.linalg.norm(b.reshape(len(b), -1), axis=1)))
            x = test[0]
            fp32_pf, fp32_ort, _ = paired_medians(lambda: p32.run([x]), lambda: s32.run(None, {input_name: x}),
                                                  runs, min_time)
            int8_pf, int8_ort, n8 = paired_medians(lambda: p8.run([x]), lambda: s8.run(None, {input_name: x}),
                                                   runs, min_time)
            progress(f"[{name}] dynamic int8, {threads} thread(s): pyfw {int8_pf:.2f} ms (fp32 {fp32_pf:.2f}), "
                     f"ORT {int8_ort:.2f} ms (fp32 {fp32_ort:.2f}) ({n8} runs each)")
    return dict(name=name, err_pf=rel(y["pf8"], y["pf32"]), err_ort=rel(y["ort8"], y["ort32"]),
                fp32_pf=fp32_pf, int8_pf=int8_pf, fp32_ort=fp32_ort, int8_ort=int8_ort, sizes=sizes)


def print_dynamic_table(rows: list[dict], threads: int) -> None:
    mb = lambda b: f"{b / 2 ** 20:.2f}"  # noqa: E731
    print(f"\nint8 dynamic quantization, {threads} thread(s), median ms; median relative L2 error of int8 "
          f"against fp32 in the same runtime on {N_DYNAMIC_TEST} random inputs; sizes in MiB")
    headers = ["model", "err pyfw", "err ORT", "pyfw fp32", "pyfw int8", "fp32/int8", "ORT fp32", "ORT int8",
               "pyfw/ORT int8", "fp32.pfw", "int8.pfw", "ORT int8.onnx"]
    out = [[r["name"], f"{r['err_pf']:.4f}", f"{r['err_ort']:.4f}", f"{r['fp32_pf']:.2f}", f"{r['int8_pf']:.2f}",
            f"{r['fp32_pf'] / r['int8_pf']:.2f}", f"{r['fp32_ort']:.2f}", f"{r['int8_ort']:.2f}",
            f"{r['int8_pf'] / r['int8_ort']:.2f}", *map(mb, r["sizes"])] for r in rows]
    print("\n".join(_table(headers, out, set(range(1, len(headers))))))


def print_table(rows: list[dict], size: int, threads: int) -> None:
    mb = lambda b: f"{b / 2 ** 20:.2f}"  # noqa: E731
    print(f"\nint8 static quantization, input 1x3x{size}x{size}, {threads} thread(s), median ms; top-1 agreement "
          f"and median relative L2 error of int8 against fp32 in the same runtime on {N_TEST} random inputs "
          f"(calibration: {N_CALIB} others), classes: distinct fp32 top-1 classes among them; sizes in MiB")
    headers = ["model", "top1 pyfw", "top1 ORT", "classes", "err pyfw", "err ORT", "pyfw fp32", "pyfw int8",
               "fp32/int8", "ORT fp32", "ORT int8", "pyfw/ORT int8", "pyfw on ORT int8", "ORT QOp", "pyfw on ORT QOp",
               "fp32.pfw", "int8.pfw", "ORT int8.onnx"]
    out = [[r["name"], f"{r['agree_pf']:.3f}", f"{r['agree_ort']:.3f}", str(r["classes"]),
            f"{r['err_pf']:.3f}", f"{r['err_ort']:.3f}", f"{r['fp32_pf']:.2f}", f"{r['int8_pf']:.2f}",
            f"{r['fp32_pf'] / r['int8_pf']:.2f}", f"{r['fp32_ort']:.2f}", f"{r['int8_ort']:.2f}",
            f"{r['int8_pf'] / r['int8_ort']:.2f}", f"{r['qdq_pf']:.2f}", f"{r['qop_ort']:.2f}", f"{r['qop_pf']:.2f}",
            *map(mb, r["sizes"])] for r in rows]
    print("\n".join(_table(headers, out, set(range(1, len(headers))))))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", help=f"comma-separated (default: {','.join(MODELS)})")
    ap.add_argument("--size", type=int, help=f"input height and width, a multiple of 32 (default 224; "
                                             f"{QUICK_SIZE} with --quick)")
    ap.add_argument("--threads", type=int, default=1, help="intra-op threads for both runtimes (default 1)")
    ap.add_argument("--runs", type=int, default=3, help="at least this many timed runs per model (default 3)")
    ap.add_argument("--min-time", type=float, default=2.0, help="and at least this many seconds (default 2)")
    ap.add_argument("--quick", action="store_true", help=f"{QUICK_SIZE}x{QUICK_SIZE} input, 1 run, no minimum time")
    ap.add_argument("--dynamic-models", default=",".join(DYNAMIC_MODELS),
                    help=f"comma-separated, for dynamic mode (default: {','.join(DYNAMIC_MODELS)}; '' for none)")
    args = ap.parse_args()
    names = args.models.split(",") if args.models else MODELS
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        ap.error(f"unknown model(s) {', '.join(unknown)}; available: {', '.join(MODELS)}")
    size = args.size if args.size is not None else (QUICK_SIZE if args.quick else 224)
    if size < 32 or size % 32:
        ap.error(f"--size {size}: expected a positive multiple of 32 (the CNNs downsample by 32)")
    if args.threads < 1:
        ap.error("--threads must be >= 1")
    if args.runs < 1 or args.min_time < 0:
        ap.error("--runs must be >= 1 and --min-time >= 0")
    runs, min_time = (1, 0.0) if args.quick else (args.runs, args.min_time)
    dyn = [n for n in args.dynamic_models.split(",") if n]
    unknown = [n for n in dyn if n not in pt_models.MODELS]
    if unknown:
        ap.error(f"unknown dynamic model(s) {', '.join(unknown)}; available: {', '.join(pt_models.MODELS)}")
    rows = [bench_model(n, size, args.threads, runs, min_time) for n in names]
    dyn_rows = [bench_dynamic(n, args.threads, runs, min_time) for n in dyn]
    print_table(rows, size, args.threads)
    if dyn_rows:
        print_dynamic_table(dyn_rows, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
