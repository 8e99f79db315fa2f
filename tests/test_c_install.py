"""`cmake --install` of libpfw and the C example built against it: with
find_package(pfw) (shared and static) and with pkg-config, run on golden
models and compared with ONNX Runtime's outputs (generate.py's oracle)."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "release"
MODELS = ("mlp", "cnn", "attention")

pytestmark = pytest.mark.skipif(not (shutil.which("cmake") and shutil.which("cc") and shutil.which("pkg-config")),
                                reason="needs cmake, cc and pkg-config")


def run(*cmd, **kw):
    res = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    assert res.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{res.stdout}\n{res.stderr}"
    return res


@pytest.fixture(scope="module")
def golden(tmp_path_factory):
    out = tmp_path_factory.mktemp("golden")
    run(sys.executable, ROOT / "tests/golden/generate.py", "--out", out)
    return out, {m["name"]: m for m in json.loads((out / "manifest.json").read_text())["models"]}


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    """Installs the release build (the tree `make c-build` uses) into a fresh prefix."""
    jobs = str(os.cpu_count() or 2)
    run("cmake", "-S", ROOT / "runtime_c", "-B", BUILD, "-DCMAKE_BUILD_TYPE=Release")
    run("cmake", "--build", BUILD, "-j", jobs, "--target", "pfw", "pfw_static")
    dest = tmp_path_factory.mktemp("prefix")
    run("cmake", "--install", BUILD, "--prefix", dest)
    return dest


def libdir(prefix):
    """lib, lib64 or lib/<triplet>, as GNUInstallDirs chose."""
    return next(prefix.rglob("pfw.pc")).parent.parent


def cmake_example(prefix, build_dir, static):
    run("cmake", "-S", ROOT / "examples/c", "-B", build_dir, f"-DCMAKE_PREFIX_PATH={prefix}",
        f"-DPFW_EXAMPLE_STATIC={'ON' if static else 'OFF'}", "-DCMAKE_C_FLAGS=-Wall -Wextra -Werror")
    run("cmake", "--build", build_dir)
    return build_dir / "run_model"


def check_runs(exe, golden, tmp_path):
    data, manifest = golden
    for name in MODELS:
        entry = manifest[name]
        out_file = tmp_path / f"{exe.parent.name}.{name}.bin"
        res = run(exe, data / f"{name}.pfw", data / entry["inputs"][0]["file"], out_file)
        want = np.fromfile(data / entry["outputs"][0]["file"], dtype=entry["outputs"][0]["dtype"])
        got = np.fromfile(out_file, dtype=want.dtype)
        assert got.shape == want.shape, name
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=name)
        shape = ", ".join(str(d) for d in entry["outputs"][0]["shape"])
        assert f"[{shape}]" in res.stdout, res.stdout


@pytest.mark.parametrize("static", [False, True], ids=["shared", "static"])
def test_find_package_example(prefix, golden, tmp_path, static):
    lib = libdir(prefix)
    for f in (prefix / "include/pfw.h", lib / "libpfw.a", lib / "cmake/pfw/pfwConfig.cmake", lib / "pkgconfig/pfw.pc"):
        assert f.exists(), f
    exe = cmake_example(prefix, tmp_path / ("static" if static else "shared"), static)
    check_runs(exe, golden, tmp_path)
    # Errors reach the user with libpfw's message and a failing exit status.
    res = subprocess.run([exe, tmp_path / "missing.pfw", exe, tmp_path / "o.bin"], capture_output=True, text=True)
    assert res.returncode == 1
    assert "load failed: PFW_ERR_IO" in res.stderr and "missing.pfw" in res.stderr, res.stderr
    bad = tmp_path / "bad.pfw"
    bad.write_bytes(b"not a model at all")
    res = subprocess.run([exe, bad, exe, tmp_path / "o.bin"], capture_output=True, text=True)
    assert res.returncode == 1 and "PFW_ERR_INVALID_MODEL" in res.stderr, res.stderr


def test_pkg_config_example(prefix, golden, tmp_path):
    env = dict(os.environ, PKG_CONFIG_PATH=str(libdir(prefix) / "pkgconfig"))
    flags = run("pkg-config", "--cflags", "--libs", "pfw", env=env).stdout.split()
    assert run("pkg-config", "--modversion", "pfw", env=env).stdout.strip() == "0.1.0"
    exe = tmp_path / "pkgconfig" / "run_model"
    exe.parent.mkdir()
    run("cc", "-std=c11", "-Wall", "-Wextra", "-Werror", ROOT / "examples/c/run_model.c", "-o", exe, *flags,
        f"-Wl,-rpath,{libdir(prefix)}")
    check_runs(exe, golden, tmp_path)


@pytest.mark.skipif(not shutil.which("go"), reason="needs the Go toolchain")
def test_go_binding_against_installed_library(prefix, golden, tmp_path):
    """bindings/go built with -tags pfw_pkgconfig links the installed libpfw;
    its suite checks the golden models against ONNX Runtime."""
    lib = libdir(prefix)
    # Go's build cache keys a cgo package on CGO_LDFLAGS but not on pkg-config's output,
    # so a package cached against an earlier (since deleted) prefix would link against
    # it; naming this prefix in CGO_LDFLAGS rebuilds it here.
    env = dict(os.environ, PKG_CONFIG_PATH=str(lib / "pkgconfig"), LD_LIBRARY_PATH=str(lib),
               CGO_LDFLAGS=f"-L{lib}", PFW_TEST_DATA=str(golden[0]))
    res = run("go", "test", "-count=1", "-tags", "pfw_pkgconfig", "./...", cwd=ROOT / "bindings/go", env=env)
    assert "ok" in res.stdout, res.stdout
