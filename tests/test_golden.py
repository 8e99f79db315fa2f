"""Golden vectors: every model of tests/golden/generate.py's manifest runs through
pyfw.runtime at one thread within 1e-5 of ONNX Runtime's outputs, and, where the C,
Java and Go suites ran before (make test sets PFW_GOLDEN_OUT for all of them), their
output bytes equal Python's exactly: one C ABI, the same bytes in every language."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
LANGS = ("c", "java", "go")


@pytest.fixture(scope="module")
def golden(tmp_path_factory) -> Path:
    """PFW_TEST_DATA when set (make test generates it once for every language), else a fresh set."""
    env = os.environ.get("PFW_TEST_DATA")
    if env:
        return Path(env)
    out = tmp_path_factory.mktemp("golden")
    subprocess.run([sys.executable, str(ROOT / "tests/golden/generate.py"), "--out", str(out)], check=True)
    return out


def load(d: Path, spec) -> np.ndarray:
    return np.fromfile(d / spec["file"], dtype=np.dtype(spec["dtype"]).newbyteorder("<")).reshape(spec["shape"])


def models(d: Path):
    return json.loads((d / "manifest.json").read_text())["models"]


def test_manifest_is_complete(golden):
    names = [m["name"] for m in models(golden)]
    assert {"mlp", "cnn"} <= set(names), names
    for m in models(golden):
        assert (golden / f"{m['name']}.pfw").is_file()
        for spec in m["inputs"] + m["outputs"]:
            assert (golden / spec["file"]).stat().st_size == np.dtype(spec["dtype"]).itemsize * int(np.prod(spec["shape"]))


def test_python_matches_onnxruntime_and_other_languages(golden):
    from pyfw.runtime import Interpreter

    out_root = os.environ.get("PFW_GOLDEN_OUT")
    for m in models(golden):
        name = m["name"]
        with Interpreter(str(golden / f"{name}.pfw"), threads=1) as it:
            got = it.run([load(golden, s) for s in m["inputs"]])
        assert len(got) == len(m["outputs"]), name
        for i, (g, spec) in enumerate(zip(got, m["outputs"])):
            want = load(golden, spec)
            assert g.shape == want.shape and g.dtype == want.dtype, (name, i)
            np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-5, err_msg=f"{name} output {i}")
            if not out_root:
                continue
            mine = np.ascontiguousarray(g).astype(g.dtype.newbyteorder("<")).tobytes()
            (Path(out_root) / "python").mkdir(parents=True, exist_ok=True)
            (Path(out_root) / "python" / f"{name}.output{i}.bin").write_bytes(mine)
            for lang in LANGS:
                f = Path(out_root) / lang / f"{name}.output{i}.bin"
                if f.exists():
                    assert f.read_bytes() == mine, f"{lang} and Python differ on {name} output {i}"


def test_every_language_wrote_its_outputs():
    """Under make test each language suite must have run every golden model."""
    out_root = os.environ.get("PFW_GOLDEN_OUT")
    required = [x for x in os.environ.get("PFW_GOLDEN_LANGS", "").split(",") if x]
    if not out_root or not required:
        pytest.skip("PFW_GOLDEN_OUT / PFW_GOLDEN_LANGS not set (make test sets them)")
    data = Path(os.environ.get("PFW_TEST_DATA", ROOT / "build/testdata"))
    for lang in required:
        for m in models(data):
            for i in range(len(m["outputs"])):
                f = Path(out_root) / lang / f"{m['name']}.output{i}.bin"
                assert f.is_file(), f"{lang} did not write {f.name}: did its suite run the golden models?"
