"""The light ONNX model zoo (see test_zoo_light.py) through the optimiser and
the ONNX exporter: optimised graphs have fewer nodes and still match ONNX
Runtime on the original model (as shipped, and with random weights); ONNX ->
.pfw -> ONNX gives a model that passes onnx.checker's full check and that
ONNX Runtime runs to libpfw's outputs."""
import numpy as np
import onnx
import onnxruntime
import pytest

import pyfw.format
import pyfw.ir
import pyfw.onnx
from onnx_util import ort_run, pfw_run
from pyfw.ir.passes import optimize
from test_zoo_light import LIGHT, MODELS, feeds_for, randomized

onnxruntime.set_default_logger_severity(3)  # the shipped models have unused initializers


def variants(name):
    shipped = onnx.load(LIGHT / f"light_{name}.onnx")
    return shipped, randomized(shipped, seed=len(name))


def assert_close(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        assert np.isfinite(w).all()
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", MODELS)
def test_optimized_light_model_matches_onnxruntime_and_round_trips_to_onnx(name):
    """One libpfw run per model (the zoo is large for scalar kernels): the optimised
    graph, with fewer nodes, matches ONNX Runtime on the original model; exported
    back to ONNX it passes the full check, keeps no fused attribute, and ONNX
    Runtime runs it to libpfw's outputs. (test_zoo_light.py runs the shipped
    weights as imported; the as-imported round trip is covered op by op in
    test_onnx_export.py.)"""
    shipped, model = variants(name)
    for m in (shipped, model):
        g = pyfw.onnx.import_model(m)
        pyfw.ir.infer_shapes(g)
        assert len(optimize(g).nodes) < len(g.nodes)
    feeds = feeds_for(model)
    graph = pyfw.onnx.import_model(model)
    pyfw.ir.infer_shapes(graph)
    pfw = pyfw.format.to_bytes(optimize(graph))
    expected = pfw_run(pfw, feeds)
    assert_close(expected, ort_run(model, feeds))
    exported = pyfw.onnx.export_model(pyfw.format.load(pfw))
    onnx.checker.check_model(exported, full_check=True)
    assert not any(a.name.startswith("activation") for n in exported.graph.node for a in n.attribute)
    assert_close(ort_run(exported, feeds), expected)
