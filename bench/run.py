"""pyfw against ONNX Runtime on CPU, in one run: median latency of the ONNX
light zoo (random weights) and the PyTorch-style models of bench/models.py at
each thread count; sgemm 1024^3 GFLOP/s against NumPy; resnet50 load and
session-creation time; peak RSS added by resnet50 (each in a fresh process);
the stripped size of libpfw.so. Each pyfw/anchor pair is timed in alternating blocks.

    python bench/run.py [--models a,b] [--threads 1,2] [--runs 3] [--min-time 2] [--quick]

Runs are adaptive: after one warm-up run, each model runs at least --runs
times and until --min-time seconds have passed. Progress goes to stderr.
"""
from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# NumPy's BLAS, the sgemm anchor, is measured at one thread; its thread count
# is fixed when NumPy is imported. Other OPENBLAS_* settings are left alone.
os.environ["OPENBLAS_NUM_THREADS"] = "1"
import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import pyfw.format  # noqa: E402
from bench import models as pt_models  # noqa: E402
from pyfw import benchmark as bm  # noqa: E402
from pyfw.cli import _table, onnx_to_graph  # noqa: E402
from pyfw.runtime import Interpreter  # noqa: E402
from pyfw.runtime.interpreter import ffi, lib  # noqa: E402
# The zoo's weight randomisation is the one the zoo tests use, kept in one place.
from test_zoo_light import LIGHT, feeds_for, randomized  # noqa: E402

ZOO = ["resnet50", "squeezenet", "shufflenet", "inception_v1", "inception_v2", "densenet121", "bvlc_alexnet",
       "vgg19", "zfnet512"]
QUICK = ["mlp", "squeezenet", "transformer"]


def progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load_model(name: str) -> tuple[onnx.ModelProto, dict]:
    if name in pt_models.MODELS:
        m = pt_models.MODELS[name]()
        return m, pt_models.feeds(m)
    m = randomized(onnx.load(LIGHT / f"light_{name}.onnx"), seed=len(name))
    return m, feeds_for(m)


def available_models() -> list[str]:
    return [z for z in ZOO if (LIGHT / f"light_{z}.onnx").exists()] + list(pt_models.MODELS)


def paired_medians(fa, fb, runs: int, min_time: float, rounds: int = 3) -> tuple[float, float, int]:
    """Median ms of fa and of fb, timed in alternating blocks (a-block,
    b-block, ... `rounds` times), so that load from elsewhere on the machine
    falls on both alike. Blocks, not single runs, and a pause between them:
    thread pools (ONNX Runtime's, pyfw's) spin for a while after a run, and
    one runtime's spinning threads must not take the cores from the other."""
    fa(), fb()  # warm-up: first-run costs (page faults, planning) are not latency
    ta, tb = [], []
    for _ in range(rounds):
        for f, times in ((fa, ta), (fb, tb)):
            time.sleep(0.05)
            times += bm.timed(f, max(1, -(-runs // rounds)), min_time / rounds)
    return statistics.median(ta), statistics.median(tb), len(ta)


def latency(names, threads, runs, min_time):
    """{threads: [(model, pyfw ms, ORT ms)]}."""
    table = {t: [] for t in threads}
    for name in names:
        progress(f"[{name}] building and converting")
        model, feeds = load_model(name)
        data = pyfw.format.to_bytes(onnx_to_graph(model))  # as `pyfw convert` writes it
        for t in threads:
            sess = bm.ort_session(model.SerializeToString(), t)
            with Interpreter(data, threads=t) as it:
                pf, ort_ms, n = paired_medians(lambda: it.run(feeds), lambda: sess.run(None, feeds), runs, min_time)
            progress(f"[{name}] {t} thread(s): pyfw {pf:.2f} ms, ORT {ort_ms:.2f} ms ({n} runs each)")
            table[t].append((name, pf, ort_ms))
    return table


def print_latency(table) -> None:
    for t, rows in table.items():
        print(f"\nlatency, {t} thread(s), median ms")
        out = [[name, f"{pf:.2f}", f"{o:.2f}", f"{pf / o:.2f}"] for name, pf, o in rows]
        print("\n".join(_table(["model", "pyfw ms", "ORT ms", "pyfw/ORT"], out, {1, 2, 3})))
        if rows:
            geo = math.exp(sum(math.log(pf / o) for _, pf, o in rows) / len(rows))
            print(f"geomean pyfw/ORT: {geo:.2f}")


def sgemm(n: int = 1024) -> None:
    """pyfw's MatMul of two runtime inputs (nothing prepacked) through the
    interpreter at 1 thread against NumPy's matmul, its BLAS held to one
    thread (OPENBLAS_NUM_THREADS is set before NumPy is imported), timed
    alternately in this process."""
    rng = np.random.default_rng(0)
    node = helper.make_node("MatMul", ["a", "b"], ["c"], name="sgemm")
    graph = helper.make_graph([node], "sgemm", [helper.make_tensor_value_info(v, TensorProto.FLOAT, [n, n])
                                                for v in "ab"],
                              [helper.make_tensor_value_info("c", TensorProto.FLOAT, [n, n])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    feeds = {v: rng.standard_normal((n, n)).astype(np.float32) for v in "ab"}
    flop = 2.0 * n ** 3
    progress(f"[sgemm] {n}^3, 1 thread")
    with Interpreter(pyfw.format.to_bytes(onnx_to_graph(model)), threads=1) as it:
        pf_ms, np_ms, _ = paired_medians(lambda: it.run(feeds), lambda: feeds["a"] @ feeds["b"], 10, 2.0)
    gf_pf, gf_np = flop / pf_ms / 1e6, flop / np_ms / 1e6
    print(f"\nsgemm {n}^3, 1 thread: pyfw {gf_pf:.1f} GFLOP/s ({pf_ms:.1f} ms), NumPy {gf_np:.1f} GFLOP/s "
          f"({np_ms:.1f} ms), pyfw/NumPy {gf_pf / gf_np:.3f}")


def init_times(pfw_path: str, onnx_path: str, repeats: int = 3) -> None:
    """Model load + verify, interpreter creation (1 thread), ORT session creation."""
    progress("[resnet50] load and session creation")
    loads, creates, sessions = [], [], []
    for _ in range(repeats):
        model, it = ffi.new("pfw_model**"), ffi.new("pfw_interpreter**")
        t0 = time.perf_counter()
        assert lib.pfw_model_load_file(os.fsencode(pfw_path), model) == lib.PFW_OK, ffi.string(lib.pfw_last_error())
        t1 = time.perf_counter()
        assert lib.pfw_interpreter_create(model[0], ffi.NULL, it) == lib.PFW_OK, ffi.string(lib.pfw_last_error())
        t2 = time.perf_counter()
        lib.pfw_interpreter_free(it[0])
        lib.pfw_model_free(model[0])
        t3 = time.perf_counter()
        bm.ort_session(onnx_path, 1)
        sessions.append((time.perf_counter() - t3) * 1e3)
        loads.append((t1 - t0) * 1e3)
        creates.append((t2 - t1) * 1e3)
    pf = statistics.median(loads) + statistics.median(creates)
    print(f"\nresnet50 init (median of {repeats}): pyfw load+verify {statistics.median(loads):.2f} ms + interpreter "
          f"create {statistics.median(creates):.2f} ms = {pf:.2f} ms; ORT InferenceSession "
          f"{statistics.median(sessions):.1f} ms")


RSS_CHILD = """
import sys, numpy as np
which, path, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, {root!r})
from pyfw.benchmark import ort_session, peak_rss_mb
from pyfw.runtime import Interpreter
import onnxruntime  # both libraries are loaded before measuring
x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
before = peak_rss_mb()
if which == "pyfw":
    with Interpreter(path, threads=threads) as it:
        it.run([x])
else:
    sess = ort_session(path, threads)
    sess.run(None, {{sess.get_inputs()[0].name: x}})
print(peak_rss_mb() - before)
"""


def peak_rss(pfw_path: str, onnx_path: str) -> None:
    """MB of peak RSS that load + one run of resnet50 add, each runtime in a
    fresh process with both libraries already imported."""
    progress("[resnet50] peak RSS, in fresh processes")
    code = RSS_CHILD.format(root=str(ROOT))
    added = {}
    for which, path in (("pyfw", pfw_path), ("ORT", onnx_path)):
        added[which] = float(subprocess.run([sys.executable, "-c", code, which, path, "1"], capture_output=True,
                                            text=True, check=True).stdout)
    print(f"\nresnet50 peak RSS added by load + run: pyfw {added['pyfw']:.1f} MB, ORT {added['ORT']:.1f} MB")


def stripped_size() -> None:
    so = ROOT / "build" / "release" / "libpfw.so"
    if not so.exists() or not shutil.which("strip"):
        print(f"\nlibpfw.so: {so} not built (make c-build) or no `strip` on PATH")
        return
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "libpfw.so"
        shutil.copyfile(so.resolve(), copy)
        subprocess.run(["strip", str(copy)], check=True)
        print(f"\nlibpfw.so stripped: {copy.stat().st_size / 1024:.0f} KB ({so.resolve().stat().st_size / 1024:.0f} KB "
              "unstripped)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", help="comma-separated (default: all); available: " + ", ".join(available_models()))
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    ap.add_argument("--runs", type=int, default=3, help="at least this many timed runs per model (default 3)")
    ap.add_argument("--min-time", type=float, default=2.0, help="and at least this many seconds (default 2)")
    ap.add_argument("--quick", action="store_true", help=f"1 run, no minimum time, models {','.join(QUICK)}")
    args = ap.parse_args()
    known = available_models()
    names = args.models.split(",") if args.models else (QUICK if args.quick else known)
    unknown = [n for n in names if n not in known]
    if unknown:
        ap.error(f"unknown model(s) {', '.join(unknown)}; available: {', '.join(known)}")
    try:
        threads = [int(t) for t in args.threads.split(",")]
    except ValueError:
        threads = []
    if not threads or min(threads) < 1:
        ap.error(f"--threads {args.threads!r}: expected positive integers, e.g. 1,2")
    if args.runs < 1 or args.min_time < 0:
        ap.error("--runs must be >= 1 and --min-time >= 0")
    runs, min_time = (1, 0.0) if args.quick else (args.runs, args.min_time)

    print_latency(latency(names, threads, runs, min_time))
    sgemm()
    if "resnet50" in known:
        with tempfile.TemporaryDirectory() as tmp:
            model, _ = load_model("resnet50")
            onnx_path, pfw_path = os.path.join(tmp, "resnet50.onnx"), os.path.join(tmp, "resnet50.pfw")
            onnx.save(model, onnx_path)
            pyfw.format.save(onnx_to_graph(model), pfw_path)  # writes a temporary file, then renames
            init_times(pfw_path, onnx_path)
            peak_rss(pfw_path, onnx_path)
    stripped_size()
    return 0


if __name__ == "__main__":
    sys.exit(main())
