"""The OpenCL backend against pyfw's CPU kernels and ONNX Runtime (issue 9),
on the models of bench/models.py: median latency of each and the ratios,
plus how many nodes ran on the device and the largest difference from ORT.

    python bench/opencl.py [--models mobilenet_v2,resnet18,transformer,mlp] [--threads 1]
                           [--runs 10] [--min-time 1]

The device is whatever pyfw's "opencl" backend picks (PFW_OPENCL_DEVICE
chooses): on a machine without a GPU that is PoCL's CPU device, and the
ratios then measure PoCL's code generation on the same cores, not a GPU.
The first create of each model includes building the kernels once (or
loading them from the cache). Pairs are timed in alternating blocks
(bench/run.py paired_medians). Progress goes to stderr.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from bench.run import paired_medians, progress  # noqa: E402  (import first: it fixes the environment)

import numpy as np  # noqa: E402

from bench import models as pt_models  # noqa: E402
from onnx_util import to_pfw  # noqa: E402
from pyfw import benchmark as bm  # noqa: E402
from pyfw.cli import _table  # noqa: E402
from pyfw.runtime import Interpreter  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(pt_models.MODELS))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--min-time", type=float, default=1.0)
    args = ap.parse_args()
    rows, device = [], None
    for name in args.models.split(","):
        progress(f"{name}: building")
        model = pt_models.MODELS[name]()
        feeds = pt_models.feeds(model)
        data = to_pfw(model)
        sess = bm.ort_session(model.SerializeToString(), args.threads)
        want = sess.run(None, feeds)
        with Interpreter(data, threads=args.threads) as cpu, \
                Interpreter(data, threads=args.threads, backend="opencl") as gpu:
            device = gpu.backend_info
            where = [b for b in gpu.node_backends() if b != "plan"]
            err = max(float(np.abs(g - w).max() / np.abs(w).max()) for g, w in zip(gpu.run(feeds), want))
            progress(f"{name}: timing")
            t_cl, t_cpu, n = paired_medians(lambda: gpu.run(feeds), lambda: cpu.run(feeds), args.runs, args.min_time)
            t_cl2, t_ort, _ = paired_medians(lambda: gpu.run(feeds), lambda: sess.run(None, feeds), args.runs,
                                             args.min_time)
        t_cl = min(t_cl, t_cl2)
        rows.append([name, f"{where.count('opencl')}/{len(where)}", f"{t_cl:.3g}", f"{t_cpu:.3g}", f"{t_ort:.3g}",
                     f"{t_cl / t_cpu:.3g}x", f"{t_cl / t_ort:.3g}x", f"{err:.1e}", str(n)])
    print(f"device: {device}")
    print(f"{args.threads} thread(s) for pyfw CPU and ONNX Runtime; median ms")
    headers = ["model", "nodes on device", "opencl ms", "pyfw cpu ms", "ort ms", "opencl/cpu", "opencl/ort",
               "max rel diff vs ort", "runs"]
    print("\n".join(_table(headers, rows, set(range(1, len(headers))))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
