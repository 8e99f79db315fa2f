"""ONNX's own backend test suite on pyfw.onnx.backend (libpfw executes
everything). Tests that pyfw cannot pass yet are listed, each with its reason,
in tests/onnx_backend_exclusions.txt; an excluded test that starts passing
fails here, so the list shrinks as pyfw grows. Regenerate it with
`python bench/onnx_backend_suite.py --only pyfw --write-exclusions`.
Real-model tests (network downloads) are not part of the suite here."""
from __future__ import annotations

import unittest
import warnings
from pathlib import Path

import pytest

onnx_backend_test = pytest.importorskip("onnx.backend.test")

import pyfw.onnx.backend as pfw_backend  # noqa: E402

EXCLUSIONS = Path(__file__).with_name("onnx_backend_exclusions.txt")
REAL_MODELS = ("test_bvlc_alexnet", "test_densenet121", "test_inception_v1", "test_inception_v2",
               "test_resnet50", "test_shufflenet", "test_squeezenet", "test_vgg19", "test_zfnet512")


def load_exclusions(path: Path = EXCLUSIONS) -> dict[str, str]:
    """{test name: reason} from lines `name  # reason`."""
    out = {}
    for line in path.read_text().splitlines():
        name, _, reason = line.partition("#")
        if name.strip():
            out[name.strip()] = reason.strip() or "no reason given"
    return out


def backend_cases():
    """(TestCase class, method name) for every CPU test of the suite."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = onnx_backend_test.BackendTest(pfw_backend, __name__)
    cases = []
    for cls in bt.test_cases.values():
        for name in unittest.defaultTestLoader.getTestCaseNames(cls):
            if name.endswith("_cpu") and not name.startswith(REAL_MODELS):
                cases.append((cls, name))
    return sorted(cases, key=lambda c: c[1])


CASES = backend_cases()
EXCLUDED = load_exclusions()


def run_case(cls, name):
    result = unittest.TestResult()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cls(name).run(result)
    return result


def test_exclusions_name_real_tests():
    known = {name for _, name in CASES}
    stale = sorted(set(EXCLUDED) - known)
    assert not stale, f"exclusions that name no test of the suite: {stale[:10]}"


@pytest.mark.parametrize("cls, name", CASES, ids=[name for _, name in CASES])
def test_backend(cls, name):
    result = run_case(cls, name)
    problems = result.failures + result.errors
    if name in EXCLUDED:
        if problems:
            pytest.xfail(EXCLUDED[name])
        pytest.fail(f"{name} passes now: remove it from {EXCLUSIONS.name}")
    if result.skipped:
        pytest.skip(result.skipped[0][1])
    assert not problems, problems[0][1]
