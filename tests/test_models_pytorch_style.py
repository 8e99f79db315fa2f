"""The PyTorch-style benchmark models of bench/models.py (MobileNetV2,
ResNet-18, a transformer encoder, an MLP), converted with pyfw's importer and
run in libpfw at 1 and 2 threads, against ONNX Runtime.

Tolerance: these are deep float32 networks (up to ~50 layers of sums over
thousands of terms), so every output must be within rtol=1e-4 of ONNX
Runtime's, with an absolute floor of 1e-4 x max |ORT output| for the
elements that cancel to near zero."""
import functools
import sys
from pathlib import Path

import numpy as np
import pytest

from onnx_util import ort_run, pfw_run, to_pfw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import models  # noqa: E402

RTOL = 1e-4


@functools.cache
def case(name):
    model = models.MODELS[name]()
    feeds = models.feeds(model)
    return to_pfw(model), feeds, ort_run(model, feeds)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", list(models.MODELS))
def test_model_matches_onnxruntime(name, threads):
    data, feeds, want = case(name)
    got = pfw_run(data, feeds, threads=threads)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        assert np.isfinite(w).all() and w.std() > 0.1  # outputs are not a flat, uninformative vector
        np.testing.assert_allclose(g, w, rtol=RTOL, atol=RTOL * np.abs(w).max(), err_msg=f"{name}, {threads} threads")
