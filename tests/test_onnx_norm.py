"""LayerNormalization, InstanceNormalization, GroupNormalization (opset 21)
and LpNormalization, one small ONNX model per case: ONNX Runtime is the
oracle, pyfw runs the converted .pfw; floats to rtol 1e-5 / atol 1e-6."""
import numpy as np
import pytest

from onnx_util import Init, check_or_reference, single_op

rng = np.random.default_rng(20261128)
f32, f64 = np.float32, np.float64


def r(*shape, dtype=f32, scale=2.0):
    return (rng.uniform(-1, 1, shape) * scale + 0.3).astype(dtype)


def run(op, args, opset=None, n_outputs=1, **attrs):
    kw = {} if opset is None else {"opset": opset}
    model, feeds = single_op(op, args, n_outputs=n_outputs, **kw, **attrs)
    return check_or_reference(model, feeds)


# ---- LayerNormalization --------------------------------------------------------------
LN = [  # (X shape, axis, Scale/B shape)
    pytest.param((2, 3, 8), -1, (8,), id="last_axis"),
    pytest.param((2, 3, 8), 1, (3, 8), id="axis1"),
    pytest.param((2, 3, 8), -2, (3, 8), id="axis_neg2"),
    pytest.param((2, 3, 4, 5), 0, (2, 3, 4, 5), id="axis0_all"),
    pytest.param((4, 16), 1, (1,), id="scalar_scale"),
    pytest.param((5, 300), -1, (300,), id="long_row"),
]


@pytest.mark.parametrize("dtype", [f32, f64], ids=["float32", "float64"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("shape,axis,pshape", LN)
def test_layernorm(shape, axis, pshape, bias, dtype):
    args = [r(*shape, dtype=dtype), Init(r(*pshape, dtype=dtype))]
    if bias:
        args.append(Init(r(*pshape, dtype=dtype)))
    run("LayerNormalization", args, axis=axis, epsilon=1e-3)


def test_layernorm_default_epsilon_and_inputs_fed():
    run("LayerNormalization", [r(3, 7), r(7), r(7)])


@pytest.mark.parametrize("axis", [-1, 1])
def test_layernorm_mean_invstddev_outputs(axis):
    run("LayerNormalization", [r(2, 3, 6), Init(r(3, 6)[-1:] if axis == -1 else r(3, 6)), None],
        n_outputs=3, axis=axis)


# ---- InstanceNormalization ------------------------------------------------------------
@pytest.mark.parametrize("dtype", [f32, f64], ids=["float32", "float64"])
@pytest.mark.parametrize("shape", [(2, 3, 5), (2, 3, 4, 5), (1, 4, 2, 3, 2)], ids=["1d", "2d", "3d"])
def test_instancenorm(shape, dtype):
    c = shape[1]
    run("InstanceNormalization", [r(*shape, dtype=dtype), Init(r(c, dtype=dtype)), Init(r(c, dtype=dtype))],
        epsilon=1e-4)


def test_instancenorm_default_epsilon():
    run("InstanceNormalization", [r(2, 3, 6, 6, scale=5), r(3), r(3)])


# ---- GroupNormalization ----------------------------------------------------------------
def groupnorm_model(x, scale, bias, opset, **attrs):
    """ONNX's shape inference leaves GroupNormalization's output unstated,
    which the checker refuses: the output is declared with X's shape."""
    from onnx import helper
    from onnx_util import build, value_info
    node = helper.make_node("GroupNormalization", ["x", "scale", "bias"], ["y"], **attrs)
    model = build([node], [value_info("x", x.dtype, x.shape)], [value_info("y", x.dtype, x.shape)],
                  {"scale": scale, "bias": bias}, opset=opset)
    return model, {"x": x}


@pytest.mark.parametrize("groups", [1, 2, 4])
@pytest.mark.parametrize("shape", [(2, 4, 6), (2, 4, 3, 3)], ids=["1d", "2d"])
def test_groupnorm(shape, groups):
    c = shape[1]
    model, feeds = groupnorm_model(r(*shape, scale=4), r(c), r(c), 21, num_groups=groups, epsilon=1e-4)
    check_or_reference(model, feeds)


# ---- LpNormalization -------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [f32, f64], ids=["float32", "float64"])
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_lpnorm(axis, p, dtype):
    run("LpNormalization", [r(3, 4, 5, dtype=dtype)], axis=axis, p=p)


def test_lpnorm_defaults():
    run("LpNormalization", [r(3, 6)])


def test_lpnorm_zero_row():
    x = r(3, 4)
    x[1] = 0
    run("LpNormalization", [x], axis=1, p=2)
    run("LpNormalization", [x], axis=1, p=1)


# ---- RMSNormalization (opset 23) --------------------------------------------------------
RMS = [  # (X shape, axis, scale shape)
    pytest.param((2, 3, 8), -1, (8,), id="last_axis"),
    pytest.param((2, 3, 8), 1, (3, 8), id="axis1"),
    pytest.param((2, 3, 4, 5), 0, (2, 3, 4, 5), id="axis0_all"),
    pytest.param((2, 3, 4, 5), 1, (4, 1), id="broadcast_scale"),
    pytest.param((4, 16), 1, (1,), id="scalar_scale"),
    pytest.param((5, 300), -1, (300,), id="long_row"),
]


@pytest.mark.parametrize("dtype", [f32, f64], ids=["float32", "float64"])
@pytest.mark.parametrize("shape,axis,pshape", RMS)
def test_rmsnorm(shape, axis, pshape, dtype):
    run("RMSNormalization", [r(*shape, dtype=dtype), Init(r(*pshape, dtype=dtype))], opset=23, axis=axis,
        epsilon=1e-3)


def test_rmsnorm_default_epsilon_scale_fed():
    run("RMSNormalization", [r(3, 7), r(7)], opset=23)


def test_rmsnorm_scale_that_does_not_broadcast_is_named():
    import pyfw
    import pyfw.format as fmt
    from onnx_util import pfw_run
    from pyfw.ir import Graph

    g = Graph("g", opset=23)
    g.add_input("x", "float32", (2, 6))
    g.add_constant("w", np.ones(4, f32))
    g.add_node("RMSNormalization", ["x", "w"], ["y"], name="rms", version=23)
    g.outputs = ["y"]
    with pytest.raises(pyfw.InvalidModelError, match=r"rms.*scale\) dim 0 is 4; it must be 1 or 6"):
        pfw_run(fmt.to_bytes(g), {"x": np.zeros((2, 6), f32)})
