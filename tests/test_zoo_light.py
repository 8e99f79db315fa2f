"""The ONNX "light" model zoo that the onnx package ships (resnet50,
squeezenet, shufflenet, inception v1/v2, densenet121, alexnet, vgg19,
zfnet512), converted with pyfw and run in libpfw, against ONNX Runtime.

The shipped models build every weight with ConstantOfShape(0.02), which makes
most outputs a flat softmax that would hide wrong numerics, so each test also
runs a copy whose weights are seeded random initializers of the same shapes,
scaled by 1/sqrt(fan_in) to keep activations in range."""
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from onnx_util import ort_run, pfw_run, to_pfw

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
MODELS = sorted(p.stem.removeprefix("light_") for p in LIGHT.glob("light_*.onnx"))


def randomized(model: onnx.ModelProto, seed: int) -> onnx.ModelProto:
    """`model` with each ConstantOfShape(initializer shape) weight replaced by
    a random initializer of that shape."""
    rng = np.random.default_rng(seed)
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    # Random variances would be negative half the time, making outputs NaN in both runtimes.
    variances = {n.input[4] for n in model.graph.node if n.op_type == "BatchNormalization"}
    m = onnx.ModelProto()
    m.CopyFrom(model)
    keep, new_inits = [], []
    for node in m.graph.node:
        if node.op_type == "ConstantOfShape" and node.input[0] in inits:
            shape = tuple(int(d) for d in inits[node.input[0]])
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
            scale = 1.0 / np.sqrt(fan_in) if len(shape) > 1 else 0.1
            if node.output[0] in variances:
                w = rng.uniform(0.5, 1.5, shape).astype(np.float32)
            else:
                w = (rng.standard_normal(shape) * scale).astype(np.float32)
            new_inits.append(numpy_helper.from_array(w, node.output[0]))
        else:
            keep.append(node)
    del m.graph.node[:]
    m.graph.node.extend(keep)
    m.graph.initializer.extend(new_inits)
    return m


def feeds_for(model: onnx.ModelProto) -> dict:
    inits = {i.name for i in model.graph.initializer}
    rng = np.random.default_rng(0)
    out = {}
    for vi in model.graph.input:
        if vi.name not in inits:
            shape = [d.dim_value for d in vi.type.tensor_type.shape.dim]
            out[vi.name] = rng.standard_normal(shape).astype(np.float32)
    return out


@pytest.mark.parametrize("name", MODELS)
def test_light_model_matches_onnxruntime(name):
    shipped = onnx.load(LIGHT / f"light_{name}.onnx")
    for model in (shipped, randomized(shipped, seed=len(name))):
        feeds = feeds_for(model)
        want = ort_run(model, feeds)
        got = pfw_run(to_pfw(model), feeds)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == w.shape and g.dtype == w.dtype
            assert np.isfinite(w).all()
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-6)
