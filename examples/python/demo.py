"""pyfw demo: train a small CNN on scikit-learn's digits with pyfw (Keras-style fit),
export it to one .pfw file, quantize it to int8 (`pyfw quantize`, calibrated on 64
training images), and run the test split from every language that is built: Python
here, and the C, Java and Go runners given with --runner LANG=COMMAND (make demo
builds them). Prints one row per language and model (fp32, int8): accuracy and mean
single-image latency. The fp32 rows must agree with eager pyfw and the int8 rows with
each other: one file, one C ABI, the same answers."""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def digits_split():
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]
    y = d.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(y))
    return x[order[:1400]], y[order[:1400]], x[order[1400:]], y[order[1400:]]


def build_net():
    import pyfw.nn as nn

    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Dropout(0.25),
        nn.Linear(32 * 4 * 4, 10))


def python_row(path: Path, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    from pyfw.runtime import Interpreter

    with Interpreter(path, threads=1) as it:
        it.run({"input": x[:1]})  # plans batch 1 once
        preds, t0 = [], time.perf_counter()
        for i in range(len(x)):
            preds.append(int(it.run({"input": x[i:i + 1]})[0].argmax()))
        ms = (time.perf_counter() - t0) / len(x) * 1e3
    return float(np.mean(np.array(preds) == y)), ms


def runner_row(cmd: list[str], model: Path, images: Path, labels: Path) -> tuple[float, float]:
    out = subprocess.run(cmd + [str(model), str(images), str(labels)], check=True, capture_output=True,
                         text=True).stdout.split()
    # last line: "accuracy A latency_ms L"
    return float(out[-3]), float(out[-1])


def quantize_model(pfw_path: Path, xtr: np.ndarray, work: Path) -> Path:
    """`pyfw quantize` (static, min-max) calibrated on 64 training images, stacked
    along a new leading axis as the calibration file format asks."""
    from pyfw.runtime import Interpreter

    with Interpreter(pfw_path) as it:
        name = it.inputs[0].name
    calib, int8_path = work / "calib.npz", work / "digits_int8.pfw"
    np.savez(calib, **{name: np.ascontiguousarray(xtr[:64, None])})  # (64, 1, 1, 8, 8)
    print(subprocess.run([sys.executable, "-m", "pyfw", "quantize", str(pfw_path), "-o", str(int8_path),
                          "--calibrate", str(calib)], check=True, capture_output=True, text=True).stdout)
    return int8_path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", default="build/demo")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--runner", action="append", default=[], metavar="LANG=COMMAND",
                    help="a program that takes MODEL IMAGES LABELS and prints 'accuracy A latency_ms L'")
    args = ap.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)

    import pyfw

    xtr, ytr, xte, yte = digits_split()
    pyfw.manual_seed(0)
    model = pyfw.Model(build_net())
    model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])
    model.fit(xtr, ytr, epochs=args.epochs, batch_size=32, validation_split=0.1)
    eager = model.evaluate(xte, yte, return_dict=True, verbose=0)["accuracy"]

    pfw_path = work / "digits.pfw"
    pyfw.export(model.module, pyfw.tensor(xte[:1]), pfw_path)
    images, labels = work / "test_images.f32", work / "test_labels.i64"
    np.ascontiguousarray(xte, "<f4").tofile(images)
    np.ascontiguousarray(yte, "<i8").tofile(labels)
    print(subprocess.run([sys.executable, "-m", "pyfw", "inspect", str(pfw_path)], check=True,
                         capture_output=True, text=True).stdout)

    int8_path = quantize_model(pfw_path, xtr, work)
    models = [("fp32", pfw_path), ("int8", int8_path)]
    rows = []
    for kind, path in models:
        rows.append(("Python", kind, *python_row(path, xte, yte)))
        for spec in args.runner:
            lang, _, cmd = spec.partition("=")
            rows.append((lang, kind, *runner_row(cmd.split(), path, images, labels)))
    print(f"eager pyfw accuracy on {len(yte)} test images: {eager:.4f}")
    print(f"{'language':<10}{'model':<7}{'accuracy':>10}{'mean latency':>16}")
    for lang, kind, acc, ms in rows:
        print(f"{lang:<10}{kind:<7}{acc:>10.4f}{ms:>13.3f} ms")
    for kind, path in models:
        print(f"{kind} model file: {path} {path.stat().st_size:,} bytes")
    ok = True
    for kind, _ in models:  # the same number of test images right in every language
        correct = {round(acc * len(yte)) for _, k, acc, _ in rows if k == kind}
        if kind == "fp32":
            correct.add(round(eager * len(yte)))
        if len(correct) != 1:
            print(f"{kind} accuracies differ between languages" + (" (or from eager pyfw)" if kind == "fp32" else ""),
                  file=sys.stderr)
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
