"""pyfw demo (spine stage): build an ONNX MLP, convert it to .pfw with the CLI,
inspect it, run it from the CLI and from Python, and check it against ONNX
Runtime. Later stages extend this to train -> export -> quantize -> run in
C, Python, Java and Go."""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def build_onnx(path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    sizes = [64, 128, 64, 10]
    inits, nodes, prev = [], [], "x"
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        inits += [numpy_helper.from_array((rng.standard_normal((a, b)) / np.sqrt(a)).astype(np.float32), f"w{i}"),
                  numpy_helper.from_array(np.zeros(b, np.float32), f"b{i}")]
        nodes.append(helper.make_node("MatMul", [prev, f"w{i}"], [f"mm{i}"], name=f"fc{i}"))
        nodes.append(helper.make_node("Add", [f"mm{i}", f"b{i}"], [f"z{i}"], name=f"bias{i}"))
        prev = f"z{i}"
        if i < len(sizes) - 2:
            nodes.append(helper.make_node("Relu", [prev], [f"r{i}"], name=f"relu{i}"))
            prev = f"r{i}"
    nodes.append(helper.make_node("Softmax", [prev], ["probs"], name="softmax", axis=-1))
    graph = helper.make_graph(nodes, "demo_mlp",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 64])],
                              [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="pyfw-demo")
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)


def pyfw_cli(*args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "pyfw", *args], check=True, capture_output=True, text=True)
    return out.stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", default="build/demo")
    args = ap.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    onnx_path, pfw_path = work / "mlp.onnx", work / "mlp.pfw"

    build_onnx(onnx_path)
    print(pyfw_cli("convert", str(onnx_path), "-o", str(pfw_path)).strip())
    print(pyfw_cli("inspect", str(pfw_path)))

    x = np.random.default_rng(1).standard_normal((32, 64)).astype(np.float32)
    np.save(work / "x.npy", x)
    pyfw_cli("run", str(pfw_path), "--input", str(work / "x.npy"), "--output", str(work / "out.npz"))
    cli_probs = np.load(work / "out.npz")["probs"]

    import onnxruntime as ort

    from pyfw.runtime import Interpreter

    ref = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    with Interpreter(pfw_path) as it:
        (probs,) = it.run({"x": x})
        runs = 200
        t0 = time.perf_counter()
        for _ in range(runs):
            it.run({"x": x})
        ms = (time.perf_counter() - t0) / runs * 1e3
    err = float(np.max(np.abs(probs - ref) / (np.abs(ref) + 1e-12)))
    agree = float(np.mean(probs.argmax(1) == ref.argmax(1)))
    print(f"{'row':<8}{'max rel err vs ORT':>20}{'top-1 agreement':>18}{'mean latency':>16}")
    print(f"{'CLI':<8}{float(np.max(np.abs(cli_probs - ref) / (np.abs(ref) + 1e-12))):>20.2e}"
          f"{float(np.mean(cli_probs.argmax(1) == ref.argmax(1))):>18.2f}{'-':>16}")
    print(f"{'Python':<8}{err:>20.2e}{agree:>18.2f}{ms:>13.3f} ms")
    print(f"model files: {onnx_path} {onnx_path.stat().st_size} B, {pfw_path} {pfw_path.stat().st_size} B")
    return 0 if err <= 1e-5 and agree == 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
