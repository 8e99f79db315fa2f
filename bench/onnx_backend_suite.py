"""Runs ONNX's backend test suite (node, simple, pytorch-converted and
pytorch-operator kinds; real-model downloads excluded) on pyfw's backend and on
ONNX Runtime's, in one process, and prints passed/failed for both.

    python bench/onnx_backend_suite.py [--only pyfw|onnxruntime] [-k PATTERN] [--failures FILE]
"""
from __future__ import annotations

import argparse
import collections
import io
import sys
import unittest


# Failures whose traceback does not say why, explained once (see the commits that added them).
KNOWN = {
    "test_loop16_seq_none_cpu": "ONNX's runner cannot compare a sequence output holding a 0-d array (it calls len() "
                                "on it); pyfw's outputs equal the expected ones",
    "test_dft_inverse_cpu": "the expected values are a complex64 FFT's: 10 imaginary parts that are 0 to within 1e-14 "
                            "are 1.9e-7 there, past atol 1e-7 (pyfw transforms in double; ONNX Runtime is 1.9e-5 off)",
    "test_attention_4d_causal_fp16_expanded_cpu": "the expected values are the fused Attention's; op by op in float16 "
                                                  "(each rounding) 2 of 192 differ by one float16 unit, as in ONNX "
                                                  "Runtime",
}
KNOWN["test_dft_inverse_opset19_cpu"] = KNOWN["test_dft_inverse_cpu"]
for _case in ("bernoulli", "bernoulli_double", "bernoulli_seed", "training_dropout", "training_dropout_default",
              "training_dropout_default_mask", "training_dropout_mask"):
    for _form in ("", "_expanded"):
        KNOWN[f"test_{_case}{_form}_cpu"] = (
            "random: the expected values are NumPy's own draws; pyfw draws from its Philox stream, checked against "
            "NumPy's Philox and the distributions in tests/test_onnx_random.py")
KNOWN["test_maxunpool_export_with_output_shape_cpu"] = (
    "the expected values index the inferred 4x4 shape and pad it to output_shape (ONNX's reference); pyfw reads the "
    "indices within output_shape, as ONNX Runtime does and PyTorch's max_unpool with output_size needs")


def reason(traceback: str) -> str:
    """One line saying why a test failed, from its traceback."""
    import re

    last = traceback.strip().splitlines()[-1]
    m = re.search(r"op (\w+), domain '([^']*)'", last)
    if m and ("not supported yet" in last or "custom domain" in last):
        return f"op {m.group(1)} not implemented yet" + (f" (domain {m.group(2)})" if m.group(2) else "")
    m = re.search(r"\((\w+)\) is not supported yet: .*one of them, (\w+), is not supported", last)
    if m:  # an op pyfw runs as its ONNX function body
        return f"op {m.group(1)}: its ONNX function body uses {m.group(2)}, not implemented yet"
    m = re.search(r"\((\w+)\): (.*) \(op \w+, domain '[^']*', opset \d+\)$", last)
    if m:  # a case of an op that pyfw refuses
        return f"op {m.group(1)}: {m.group(2)}" + ("" if "supported" in m.group(2) else " is not supported yet")
    if "AssertionError" in last or "Mismatch" in traceback:
        return "outputs differ from the expected values"
    return " ".join(last.split())[:160]


def run_suite(backend, pattern: str | None):
    import onnx.backend.test

    bt = onnx.backend.test.BackendTest(backend, __name__)
    # Real models are downloaded from the network: not available here.
    bt.exclude(r"(test_bvlc_alexnet|test_densenet121|test_inception_v1|test_inception_v2|test_resnet50"
               r"|test_shufflenet|test_squeezenet|test_vgg19|test_zfnet512)_cpu")
    cases = bt.test_cases
    suite = unittest.TestSuite()
    for name, case in sorted(cases.items()):
        tests = unittest.defaultTestLoader.loadTestsFromTestCase(case)
        for t in tests:
            if (t.id().split(".")[-1].endswith("_cpu")) and (pattern is None or pattern in t.id()):
                suite.addTest(t)
    result = unittest.TextTestRunner(stream=io.StringIO(), verbosity=0).run(suite)
    failed = {t.id().split(".")[-1]: reason(tb) for t, tb in result.failures + result.errors}
    skipped = len(result.skipped)
    return result.testsRun - len(failed) - skipped, failed, skipped


class OrtBackend:
    """ONNX Runtime through the same interface (its own backend module)."""

    def __new__(cls):
        import onnxruntime.backend as b
        return b


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["pyfw", "onnxruntime"])
    ap.add_argument("-k", dest="pattern")
    ap.add_argument("--failures", help="write pyfw's failing test names here")
    ap.add_argument("--write-exclusions", action="store_true",
                    help="rewrite tests/onnx_backend_exclusions.txt from pyfw's failures, with reasons")
    args = ap.parse_args()
    rows = []
    if args.only in (None, "pyfw"):
        import pyfw.onnx.backend as pb
        rows.append(("pyfw", *run_suite(pb, args.pattern)))
    if args.only in (None, "onnxruntime"):
        rows.append(("onnxruntime", *run_suite(OrtBackend(), args.pattern)))
    for name, passed, failed, skipped in rows:
        print(f"{name:<12} passed {passed:5d}  failed {len(failed):5d}  skipped {skipped:4d}")
        if name == "pyfw" and args.failures:
            with open(args.failures, "w") as f:
                f.write("\n".join(sorted(failed)) + "\n")
        if name == "pyfw" and args.write_exclusions:
            from pathlib import Path
            path = Path(__file__).resolve().parent.parent / "tests" / "onnx_backend_exclusions.txt"
            width = max(map(len, failed), default=0)
            lines = [f"{t:<{width}}  # {KNOWN.get(t, why)}" for t, why in sorted(failed.items())]
            path.write_text("# ONNX backend tests pyfw does not pass yet, one per line with the reason.\n"
                            "# Generated by bench/onnx_backend_suite.py --write-exclusions; shrink it, never grow it\n"
                            "# to hide a regression.\n" + "\n".join(lines) + "\n")
    if len(rows) == 2:
        print(f"pyfw - onnxruntime: {rows[0][1] - rows[1][1]:+d} passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
