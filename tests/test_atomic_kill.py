"""A writer killed (SIGKILL) mid-way leaves the old file intact: for .pfw
models (what convert and quantize write), ONNX export and checkpoints. The
child writes a first version, then a second one during which it kills
itself after the first chunk reaches the temporary file."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import os, signal, sys
import numpy as np
import pyfw, pyfw.format, pyfw.ir, pyfw.onnx.exporter
from pyfw.ir import Graph

def graph(scale):
    g = Graph("g", opset=17)
    g.add_input("x", "float32", (1, 64))
    g.add_constant("w", np.full((64, 64), scale, np.float32))
    g.add_node("MatMul", ["x", "w"], ["y"], name="mm", version=13)
    g.outputs = ["y"]
    pyfw.ir.infer_shapes(g)
    return g

kind, path = sys.argv[1], sys.argv[2]
write = {"pfw": lambda v: pyfw.format.save(graph(v), path),
         "onnx": lambda v: pyfw.onnx.exporter.save_model(graph(v), path),
         "checkpoint": lambda v: pyfw.save({"w": np.full(4096, v)}, path)}[kind]
write(1.0)

real_fdopen = os.fdopen
def killing_fdopen(fd, *a, **kw):  # the temporary file: die after its first write
    f = real_fdopen(fd, *a, **kw)
    real_write = f.write
    def write_then_die(data):
        real_write(data[: max(1, len(data) // 2)])
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    f.write = write_then_die
    return f
os.fdopen = killing_fdopen
write(2.0)
print("not killed")
"""


def loaded(kind, path):
    import numpy as np
    import onnx
    import pyfw
    import pyfw.format
    if kind == "pfw":
        return pyfw.format.load(path).tensors["w"].data
    if kind == "onnx":
        onnx.checker.check_model(str(path), full_check=True)
        return onnx.numpy_helper.to_array(onnx.load(str(path)).graph.initializer[0])
    return np.asarray(pyfw.load(path)["w"])


@pytest.mark.parametrize("kind", ["pfw", "onnx", "checkpoint"])
def test_killed_writer_leaves_the_old_file(tmp_path, kind):
    path = tmp_path / f"model.{kind}"
    p = subprocess.run([sys.executable, "-c", CHILD, kind, str(path)], capture_output=True, timeout=120,
                       cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert p.returncode == -signal.SIGKILL, (p.returncode, p.stdout, p.stderr.decode()[-2000:])
    # the first version, whole; the second never replaced it
    data = loaded(kind, path)
    assert data.size > 0 and (data == 1.0).all(), json.dumps(data.ravel()[:4].tolist())
    # what the killed writer left is only its temporary file, beside the target
    others = [f.name for f in tmp_path.iterdir() if f != path]
    assert all(n.startswith(f".{path.name}.") and n.endswith(".tmp") for n in others), others
