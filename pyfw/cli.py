"""The `pyfw` command: convert, inspect and run models.

    pyfw convert model.onnx -o model.pfw      (optimised; --no-optimize keeps the graph as imported)
    pyfw convert model.pfw -o model.onnx
    pyfw inspect model.pfw
    pyfw run model.pfw --input x.npy --output out.npz
    pyfw bench model.pfw [--threads N] [--runs N] [--profile] [--against onnxruntime [--onnx model.onnx]]
    pyfw quantize model.pfw -o model_int8.pfw --mode static --calibrate data.npz
    pyfw quantize model.pfw --calibrate data.npz [--method entropy] [--report] [--accuracy-budget 0.01]

Every failure prints one line, `pyfw <command>: error: <message>`, and exits
with status 1 (2 for a usage error). PYFW_DEBUG=1 shows the traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import zipfile
from typing import Callable

import numpy as np

from . import InvalidModelError, __version__
from ._text import table as _table


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors on one line."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _check_out_dir(path: str) -> None:
    # Said here: the atomic writer would otherwise name its temporary file.
    d = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(d):
        raise FileNotFoundError(f"output directory {os.path.dirname(path)!r} does not exist")


def _fmt_shape(shape) -> str:
    from .ir.shapes import fmt_shape
    return fmt_shape(shape)


# ---- convert -----------------------------------------------------------------
def onnx_to_graph(src, optimize: bool = True) -> "Graph":  # noqa: F821
    """An ONNX model (path or ModelProto) as the graph `pyfw convert` writes."""
    from .ir import infer_shapes
    try:
        from .onnx import import_model
    except ImportError as e:
        raise ImportError(f"converting ONNX needs the onnx package (pip install 'pyfw[onnx]'): {e}") from None
    graph = import_model(src)
    graph.validate()
    infer_shapes(graph)
    if optimize:
        from .ir.passes import optimize as _optimize
        graph = _optimize(graph)
    return graph


def _onnx_to_pfw(src: str, dst: str, optimize: bool = True) -> "Graph":  # noqa: F821
    from .format import save
    graph = onnx_to_graph(src, optimize)
    save(graph, dst)
    return graph


def _pfw_to_onnx(src: str, dst: str, optimize: bool = True) -> "Graph":  # noqa: F821
    # The .pfw was optimised when it was written; its fused nodes are split
    # back into standard ONNX by the exporter, so `optimize` changes nothing.
    from .format import load
    try:
        from .onnx import save_model
    except ImportError as e:
        raise ImportError(f"writing ONNX needs the onnx package (pip install 'pyfw[onnx]'): {e}") from None
    graph = load(src)
    save_model(graph, dst)
    return graph


# (source suffix, target suffix) -> converter(src, dst, optimize).
CONVERTERS: dict[tuple[str, str], Callable[[str, str, bool], object]] = {
    (".onnx", ".pfw"): _onnx_to_pfw,
    (".pfw", ".onnx"): _pfw_to_onnx,
}


def _cmd_convert(args) -> int:
    src = args.model
    default_suffix = ".onnx" if src.lower().endswith(".pfw") else ".pfw"
    dst = args.output or os.path.splitext(src)[0] + default_suffix
    key = (os.path.splitext(src)[1].lower(), os.path.splitext(dst)[1].lower())
    converter = CONVERTERS.get(key)
    if converter is None:
        known = ", ".join(f"{a} -> {b}" for a, b in CONVERTERS)
        raise ValueError(f"cannot convert {key[0] or 'a file without suffix'} to "
                         f"{key[1] or 'a file without suffix'}; supported: {known}")
    if not os.path.isfile(src):
        raise FileNotFoundError(f"no such file: {src!r}")
    _check_out_dir(dst)
    if os.path.abspath(src) == os.path.abspath(dst):
        raise ValueError("the output would overwrite the input")
    graph = converter(src, dst, not args.no_optimize)
    params = sum(t.data.size for t in graph.initializers())
    print(f"wrote {dst}: {len(graph.nodes)} nodes, {params:,} parameters, "
          f"{os.path.getsize(dst):,} bytes")
    return 0


# ---- inspect -----------------------------------------------------------------
def _load_graph(path: str):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path!r}")
    if path.lower().endswith(".onnx"):
        from .ir import infer_shapes
        from .onnx import import_model
        return infer_shapes(import_model(path))
    from .format import load
    return load(path)


def _cmd_inspect(args) -> int:
    from . import dtypes
    g = _load_graph(args.model)
    out = [f"model: {args.model}", f"graph: {g.name}", f"opset: {g.opset}"]
    if g.metadata:
        out += ["", "metadata:"] + [f"  {key}: {g.metadata[key]}" for key in sorted(g.metadata)]
    for title, names in (("inputs", g.inputs), ("outputs", g.outputs)):
        out += ["", f"{title}:"]
        rows = [[n, g.tensors[n].describe_type(), _fmt_shape(g.tensors[n].shape)] for n in names]
        out += ["  " + r for r in _table(["name", "dtype", "shape"], rows)]

    rows, total_params, total_bytes = [], 0, 0
    for n in g.nodes:
        ins = [g.tensors[i] for i in n.inputs if i]
        params = sum(t.data.size for t in ins if t.is_constant)
        rows.append([n.name or "-", n.op_type if not n.domain else f"{n.domain}.{n.op_type}",
                     " ".join(_fmt_shape(t.shape) for t in ins if not t.is_constant) or "-",
                     " ".join(_fmt_shape(g.tensors[o].shape) for o in n.outputs if o) or "-",
                     f"{params:,}"])
    for t in g.initializers():
        total_params += t.data.size
        total_bytes += t.data.size * dtypes.itemsize(t.dtype)
    out += ["", "nodes:"]
    out += ["  " + r for r in _table(["name", "op", "input shapes", "output shapes", "params"], rows, {4})]
    out += ["", f"total: {len(g.nodes)} nodes, {total_params:,} parameters, "
                f"{total_bytes:,} weight bytes, file size {os.path.getsize(args.model):,} bytes"]
    print("\n".join(out))
    return 0


# ---- run -------------------------------------------------------------------------
def _load_array_file(path: str) -> dict[str | None, np.ndarray]:
    """{None: array} for .npy, {name: array} for .npz; any other file (one
    that is neither by name nor by its first bytes) is its raw bytes as a 1-D
    uint8 array, the encoded image an ImageDecoder input takes."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such input file: {path!r}")
    with open(path, "rb") as f:
        head = f.read(6)
    if not path.lower().endswith((".npy", ".npz")) and head[:6] != b"\x93NUMPY" and head[:4] != b"PK\x03\x04":
        with open(path, "rb") as f:
            return {None: np.frombuffer(f.read(), np.uint8)}
    try:
        data = np.load(path, allow_pickle=False)
    except ValueError as e:
        # Object arrays need pickle, which could run code from the file: strings go as str arrays.
        hint = (" (save string inputs as a NumPy str array, e.g. np.array(['a', 'b']), not dtype=object)"
                if "allow_pickle" in str(e) else "")
        raise ValueError(f"cannot read {path!r} as .npy/.npz: {e}{hint}") from None
    if isinstance(data, np.lib.npyio.NpzFile):
        with data:
            return {k: data[k] for k in data.files}
    return {None: data}


def _feeds(specs: list[str], names: list[str]) -> dict[str, np.ndarray]:
    """Maps --input arguments to model inputs: `name=path` by name, a plain
    .npy path to the next input in order, an .npz file by its array names."""
    feeds: dict[str, np.ndarray] = {}

    def put(name, arr, src):
        if name not in names:
            raise ValueError(f"{src}: the model has no input {name!r}; its inputs are: {', '.join(names)}")
        if name in feeds:
            raise ValueError(f"{src}: input {name!r} is given twice")
        feeds[name] = arr

    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or name not in names:  # a path that happens to contain '='
            name, path = None, spec
        arrays = _load_array_file(path)
        if None in arrays:
            if name is None:
                free = [n for n in names if n not in feeds]
                if not free:
                    raise ValueError(f"{path}: more input files than the model's {len(names)} input(s)")
                name = free[0]
            put(name, arrays[None], path)
        else:
            if name is not None:
                raise ValueError(f"{spec}: an .npz file supplies inputs by its own array names; drop '{name}='")
            for key, arr in arrays.items():
                put(key, arr, path)
    missing = [n for n in names if n not in feeds]
    if missing:
        raise ValueError(f"no value for input(s) {', '.join(repr(m) for m in missing)}; "
                         "pass --input FILE.npy or --input NAME=FILE.npy")
    return feeds


def _save_npz(path: str, arrays: dict[str, np.ndarray]) -> None:
    """Writes an .npz atomically. Written by hand, not np.savez: output names
    such as 'file' would collide with np.savez's own parameters."""
    from ._io import atomic_open
    with atomic_open(path) as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as z:
        for name, arr in arrays.items():
            with z.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(arr), allow_pickle=False)


def _summary(arr: np.ndarray) -> str:
    if arr.size == 0:
        return "empty"
    flat = arr.reshape(-1)
    head = np.array2string(flat[:6], precision=5, separator=", ", max_line_width=1 << 30)
    if flat.size > 6:
        head = head[:-1] + ", ...]"
    if arr.dtype.kind in "fiu":
        return f"min {flat.min():.6g}, max {flat.max():.6g}, mean {flat.mean(dtype=np.float64):.6g}, values {head}"
    return f"values {head}"


def _cmd_run(args) -> int:
    if not os.path.isfile(args.model):
        raise FileNotFoundError(f"no such file: {args.model!r}")
    if args.output:
        _check_out_dir(args.output)
    from .runtime import Interpreter
    with Interpreter(args.model, threads=args.threads, backend=args.backend, seed=args.seed) as it:
        if args.backend != "cpu":
            print(f"backend: {it.backend_info}", file=sys.stderr)
        feeds = _feeds(args.input, [i.name for i in it.inputs])
        results = it.run(feeds)
        names = [o.name for o in it.outputs]
    if args.output:
        _save_npz(args.output, dict(zip(names, results)))
        print(f"wrote {args.output}: {', '.join(names)}")
    else:
        for name, arr in zip(names, results):
            print(f"{name}: shape {_fmt_shape(arr.shape)}, {arr.dtype}, {_summary(arr)}")
    return 0


# ---- bench -------------------------------------------------------------------------
def _bench_onnx_bytes(args) -> bytes:
    """The model ONNX Runtime runs: --onnx, else the .pfw exported back to
    ONNX (fused nodes split out), as `pyfw convert model.pfw -o model.onnx` does."""
    if args.onnx:
        if not os.path.isfile(args.onnx):
            raise FileNotFoundError(f"no such file: {args.onnx!r}")
        with open(args.onnx, "rb") as f:
            return f.read()
    from .format import load
    from .onnx import export_model
    return export_model(load(args.model)).SerializeToString()


def _bench_pyfw(args, shapes):
    from . import benchmark as bm
    from .runtime import Interpreter
    rss0 = bm.peak_rss_mb()
    t0 = time.perf_counter()
    it = Interpreter(args.model, threads=args.threads, backend=args.backend)
    init = (time.perf_counter() - t0) * 1e3
    with it:
        backend = it.backend_info
        sizes = bm.feed_shapes(it.inputs, shapes)
        feeds = {i.name: bm.random_feed(i.dtype, sizes[i.name]) for i in it.inputs}
        (first,) = bm.timed(lambda: it.run(feeds), 1)
        bm.timed(lambda: it.run(feeds), args.warmup)
        it.profiling = args.profile
        times = bm.timed(lambda: it.run(feeds), args.runs)
        ops = bm.pfw_op_profile(it.profile()) if args.profile else {}
        parts = _partitions(it, feeds, args.runs) if it.backend != "cpu" else None
    return {"init": init, "first": first, **bm.stats(times), "rss": bm.peak_rss_mb(), "rss_added": bm.peak_rss_mb() - rss0,
            "total": sum(times), "ops": ops, "backend": backend, "partitions": parts}, feeds


def _partitions(it, feeds, runs: int):
    """Per-run ms of each run of consecutive nodes on one backend, and of
    the copies between host and device, from `runs` profiled runs (apart from
    the timed ones: profiling waits for each device node)."""
    from . import benchmark as bm
    it.profiling = True
    bm.timed(lambda: it.run(feeds), runs)
    prof, where, xfer = it.profile(), it.node_backends(), it.profile_transfers()
    it.profiling = False
    parts = []
    for p, b in zip(prof, where):
        if b == "plan":
            continue
        if not parts or parts[-1][0] != b:
            parts.append([b, 0, 0.0])
        parts[-1][1] += 1
        parts[-1][2] += p["total_ms"] / runs
    return {"parts": parts, "transfers": {k: v / runs for k, v in xfer.items()}}


def _bench_ort(args, feeds):
    import tempfile
    from . import benchmark as bm
    model = _bench_onnx_bytes(args)
    rss0 = bm.peak_rss_mb()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        sess = bm.ort_session(model, args.threads, tmp if args.profile else None)
        init = (time.perf_counter() - t0) * 1e3
        names = [i.name for i in sess.get_inputs()]
        missing = [n for n in names if n not in feeds]
        if missing:
            raise ValueError(f"the ONNX model's input(s) {', '.join(missing)} are not inputs of {args.model}")
        ort_feeds = {n: feeds[n] for n in names}
        (first,) = bm.timed(lambda: sess.run(None, ort_feeds), 1)
        bm.timed(lambda: sess.run(None, ort_feeds), args.warmup)
        times = bm.timed(lambda: sess.run(None, ort_feeds), args.runs)
        ops = bm.ort_op_profile(sess.end_profiling(), 1 + args.warmup) if args.profile else {}
    return {"init": init, "first": first, **bm.stats(times), "rss": bm.peak_rss_mb(), "rss_added": bm.peak_rss_mb() - rss0,
            "total": sum(times), "ops": ops}


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.3g}x" if b > 0 else "-"


def _cmd_bench(args) -> int:
    if not os.path.isfile(args.model):
        raise FileNotFoundError(f"no such file: {args.model!r}")
    from . import benchmark as bm
    shapes = bm.parse_shapes(args.shape)
    against = args.against == "onnxruntime"
    if args.onnx and not against:
        raise ValueError("--onnx is the model for --against onnxruntime; pass both")
    pf, feeds = _bench_pyfw(args, shapes)
    results = {"pyfw": pf}
    if against:
        results["onnxruntime"] = _bench_ort(args, feeds)
    print(f"model: {args.model}, {args.threads} thread(s), {args.warmup} warm-up + {args.runs} timed runs")
    print(f"pyfw backend: {pf['backend']}")
    print("inputs: " + ", ".join(f"{n} {_fmt_shape(v.shape)} {v.dtype}" for n, v in feeds.items()))
    rows = []
    for label, key, unit in (("init (load + create)", "init", "ms"), ("first run", "first", "ms"),
                             ("mean", "mean", "ms"), ("p50", "p50", "ms"), ("p95", "p95", "ms"),
                             ("peak RSS (process)", "rss", "MB"), ("RSS added", "rss_added", "MB")):
        row = [f"{label} {unit}"] + [f"{r[key]:.4g}" for r in results.values()]
        if against:  # a ratio of times; RSS in one process is not a fair ratio
            row.append(_ratio(pf[key], results["onnxruntime"][key]) if unit == "ms" else "")
        rows.append(row)
    headers = [""] + list(results) + (["pyfw/ort"] if against else [])
    print("\n".join(_table(headers, rows, set(range(1, len(headers))))))
    if pf["partitions"]:
        parts, xfer = pf["partitions"]["parts"], pf["partitions"]["transfers"]
        rows = [[str(i), b, str(n), f"{ms:.4g}"] for i, (b, n, ms) in enumerate(parts)]
        rows.append(["", "host<->device copies", f"{xfer['count']:.3g}", f"{xfer['total_ms']:.4g}"])
        print(f"\npartitions, per run over {args.runs} profiled runs (each device node waited for; "
              f"copies: {xfer['bytes'] / 1e6:.4g} MB a run):")
        print("\n".join(_table(["#", "backend", "nodes", "ms"], rows, {2, 3})))
    if args.profile:
        print("\nper op type over the timed runs (count = node runs; % of the runs' wall time):")
        ops = sorted(set().union(*(r["ops"] for r in results.values())),
                     key=lambda o: -max(r["ops"].get(o, (0, 0.0))[1] for r in results.values()))
        headers, rows = ["op"], []
        for name in results:
            headers += [f"{name} count", f"{name} ms", f"{name} %"]
        for op in ops:
            row = [op]
            for r in results.values():
                n, ms = r["ops"].get(op, (0, 0.0))
                row += [str(n), f"{ms:.4g}", f"{100 * ms / r['total']:.1f}"] if n else ["-", "-", "-"]
            rows.append(row)
        print("\n".join(_table(headers, rows, set(range(1, len(headers))))))
    return 0


# ---- quantize ----------------------------------------------------------------------
def _cmd_quantize(args) -> int:
    src = args.model
    if not os.path.isfile(src):
        raise FileNotFoundError(f"no such file: {src!r}")
    if args.mode == "static" and not args.calibrate:
        raise ValueError("--mode static needs --calibrate DATA.npz (one array per model input, keyed by "
                         "input name, samples stacked on a new leading axis); --mode dynamic needs none")
    evaluate = args.report or args.accuracy_budget is not None
    if args.mode == "dynamic" and args.calibrate and not evaluate:
        raise ValueError("--calibrate is for --mode static; dynamic mode quantizes activations per run "
                         "(with --report or --accuracy-budget it takes --calibrate data as evaluation samples)")
    if args.mode == "dynamic" and evaluate and not args.calibrate:
        raise ValueError(f"{'--report' if args.report else '--accuracy-budget'} needs samples to measure on: "
                         "pass --calibrate DATA.npz (in dynamic mode used for evaluation only)")
    dst = args.output or os.path.splitext(src)[0] + "_int8.pfw"
    _check_out_dir(dst)
    if os.path.abspath(src) == os.path.abspath(dst):
        raise ValueError("the output would overwrite the input")
    from .format import save
    from .quant import quantize_with_report
    graph, report = quantize_with_report(src, mode=args.mode, calibration=args.calibrate, method=args.method,
                                         per_channel=not args.per_tensor, exclude=args.exclude,
                                         percentile=args.percentile, report=args.report,
                                         accuracy_budget=args.accuracy_budget)
    save(graph, dst)  # atomic: temp file, fsync, rename
    done = ", ".join(f"{op} {k}" for op, k in sorted(report.quantized.items())) or "none"
    added = ", ".join(f"{op} {k}" for op, k in sorted(report.inserted.items())) or "none"
    before, after = os.path.getsize(src), os.path.getsize(dst)
    lines = [f"wrote {dst}: int8 {args.mode}" + (f" ({args.method})" if args.mode == "static" else "")
             + (", per-tensor weights" if args.per_tensor else ", per-channel weights"),
             f"  quantized nodes: {done}", f"  inserted: {added}"]
    for name, op, why in report.kept:
        lines.append(f"  kept fp32: {name or '-'} ({op}): {why}")
    lines.append(f"  file size: {before:,} -> {after:,} bytes ({after / before:.2f}x)")
    if evaluate:
        lines.append(report.table())
    print("\n".join(lines))
    for w in report.warnings:
        print(f"pyfw quantize: warning: {w}", file=sys.stderr)
    return 0


# ---- entry -------------------------------------------------------------------------
def _positive_int(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        v = 0
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s!r}")
    return v


def _seed(s: str) -> int:
    v = _non_negative_int(s)
    if v >= 2**64:
        raise argparse.ArgumentTypeError(f"expected an integer below 2**64, got {s!r}")
    return v


def _non_negative_int(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        v = -1
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {s!r}")
    return v


def _budget(s: str) -> float:
    from .quant import _check_budget  # the one definition of a valid budget
    try:
        return _check_budget(float(s))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a finite relative error > 0 (e.g. 0.01), got {s!r}") from None


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="pyfw", description="Convert, inspect and run .pfw models.")
    p.add_argument("--version", action="version", version=f"pyfw {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    c = sub.add_parser("convert", help="convert an ONNX model to .pfw, or a .pfw model to ONNX",
                       description="Import an ONNX model, check it, infer shapes, optimise the graph "
                                   "(folding, fusion) and write a .pfw file; or write a .pfw model as "
                                   "standard ONNX (-o model.onnx).")
    c.add_argument("model", help="source model (.onnx or .pfw)")
    c.add_argument("-o", "--output", help="target file (default: the source name with .pfw, or .onnx for a .pfw)")
    c.add_argument("--no-optimize", action="store_true",
                   help="keep the graph as imported (no folding or fusion)")
    c.set_defaults(func=_cmd_convert)

    i = sub.add_parser("inspect", help="print a model's inputs, outputs, metadata and nodes",
                       description="Print inputs and outputs ('?' marks a dynamic dimension), metadata, "
                                   "opset, a table of nodes and totals. Accepts .pfw (and .onnx).")
    i.add_argument("model", help="model file (.pfw or .onnx)")
    i.set_defaults(func=_cmd_inspect)

    r = sub.add_parser("run", help="run one inference on inputs from .npy/.npz files",
                       description="Run a .pfw model once through libpfw. Without --output, print a "
                                   "summary of each output.")
    r.add_argument("model", help="model file (.pfw)")
    r.add_argument("-i", "--input", action="append", default=[], metavar="[NAME=]FILE",
                   help="an input: FILE.npy goes to the next input in order, NAME=FILE.npy to that "
                        "input, FILE.npz supplies inputs by array name (repeatable); any other file "
                        "goes in as its bytes, a 1-D uint8 tensor (an image for ImageDecoder)")
    r.add_argument("-o", "--output", metavar="FILE.npz", help="save every output, keyed by output name")
    r.add_argument("-t", "--threads", type=_positive_int, default=1, help="intra-op threads (default 1)")
    r.add_argument("--backend", choices=("cpu", "opencl", "auto"), default="cpu", help="default: cpu")
    r.add_argument("--seed", type=_seed, default=0,
                   help="seed of the random ops without a seed attribute (default 0: every run repeats them)")
    r.set_defaults(func=_cmd_run)

    b = sub.add_parser("bench", help="time a model in libpfw (and ONNX Runtime), optionally per op type",
                       description="Load a .pfw model, run it on seeded random inputs (dynamic dimensions at "
                                   "1 unless --shape says otherwise) and print init time, first run, mean/p50/p95 "
                                   "latency and peak RSS; --profile adds a per-op-type table.")
    b.add_argument("model", help="model file (.pfw)")
    b.add_argument("-t", "--threads", type=_positive_int, default=1, help="intra-op threads (default 1)")
    b.add_argument("--runs", type=_positive_int, default=10, help="timed runs (default 10)")
    b.add_argument("--warmup", type=_non_negative_int, default=1, help="runs after the first, untimed (default 1)")
    b.add_argument("--shape", action="append", default=[], metavar="NAME=D0,D1,...",
                   help="the shape to feed an input with dynamic dimensions (repeatable)")
    b.add_argument("--profile", action="store_true", help="per-op-type times from the profiling API")
    b.add_argument("--backend", choices=("cpu", "opencl", "auto"), default="cpu", help="pyfw's backend (default: cpu)")
    b.add_argument("--against", choices=("onnxruntime",), help="also run ONNX Runtime in this process")
    b.add_argument("--onnx", metavar="MODEL.onnx",
                   help="the ONNX model ONNX Runtime runs (default: the .pfw exported back to ONNX)")
    b.set_defaults(func=_cmd_bench)

    q = sub.add_parser("quantize", help="quantize a .pfw model to int8 (static or dynamic)",
                       description="Write an int8 copy of a .pfw model. Static mode turns Conv, MatMul and "
                                   "Gemm with constant weights into QLinearConv / MatMulInteger, with "
                                   "activation ranges calibrated on --calibrate data; dynamic mode quantizes "
                                   "MatMul and Gemm only, activations per run. Inputs and outputs stay float32.")
    q.add_argument("model", help="model file (.pfw)")
    q.add_argument("-o", "--output", help="target file (default: the source name with _int8.pfw)")
    q.add_argument("--mode", choices=("static", "dynamic"), default="static", help="default: static")
    q.add_argument("--calibrate", metavar="DATA.npz",
                   help="calibration samples for static mode: one array per input, keyed by input name, "
                        "samples stacked on a new leading axis (in dynamic mode only with --report or "
                        "--accuracy-budget, as the samples to measure on)")
    q.add_argument("--method", choices=("minmax", "percentile", "entropy"), default="minmax",
                   help="activation range from calibration: extremes, a percentile of |x|, or the |x| "
                        "threshold of least KL divergence as TensorRT calibrates (default: minmax)")
    q.add_argument("--percentile", type=float, default=99.99,
                   help="for --method percentile: clip |x| at this percentile (default 99.99)")
    q.add_argument("--per-tensor", action="store_true", help="one weight scale per tensor, not per channel")
    q.add_argument("--exclude", nargs="+", action="extend", default=[], metavar="NODE", help="node names to keep fp32")
    q.add_argument("--report", action="store_true",
                   help="print a per-layer table on the --calibrate samples: SQNR (dB) of each quantized layer's "
                        "output vs fp32, its share of the model-output error (that layer alone int8), and per "
                        "output SQNR, relative error and top-1 agreement; dynamic mode takes --calibrate for it")
    q.add_argument("--accuracy-budget", type=_budget, metavar="X",
                   help="largest allowed relative output error ||y_int8 - y_fp32|| / ||y_fp32|| (norms over all "
                        "--calibrate samples, worst over outputs): the layers with the largest share of the error "
                        "are kept fp32, one at a time, until it holds; prints the report. If it holds only with "
                        "every layer fp32, that model is written, with a warning")
    q.set_defaults(func=_cmd_quantize)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (InvalidModelError, ValueError, TypeError, OSError, ImportError, NotImplementedError) as e:
        if os.environ.get("PYFW_DEBUG") == "1":
            raise
        msg = " ".join(str(e).split()) or type(e).__name__  # one line, whatever the source
        print(f"pyfw {args.command}: error: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
