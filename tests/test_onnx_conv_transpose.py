"""ConvTranspose: ONNX Runtime is the oracle over pads, strides, dilations,
groups, output_padding, output_shape and auto_pad, in 1-D, 2-D and 3-D."""
import numpy as np
import pytest
from onnx import helper

import pyfw
from onnx_util import Init, check, pfw_run, single_op, to_pfw

rng = np.random.default_rng(7)


def rand(*shape):
    return rng.uniform(-1, 1, shape).astype(np.float32)


def case(id_, *args, **attrs):
    return pytest.param(list(args), attrs, id=id_)


X2 = rand(2, 4, 5, 6)
CASES = [
    case("2d_bias", X2, Init(rand(4, 3, 3, 3)), Init(rand(3))),
    case("2d_no_bias", X2, Init(rand(4, 3, 3, 3))),
    case("2d_strides2_pads1", X2, Init(rand(4, 3, 3, 3)), Init(rand(3)), strides=[2, 2], pads=[1, 1, 1, 1]),
    case("2d_pads_asymmetric", X2, Init(rand(4, 2, 3, 2)), pads=[0, 1, 2, 1], strides=[2, 3]),
    case("2d_output_padding", X2, Init(rand(4, 3, 3, 3)), Init(rand(3)), strides=[3, 2],
         output_padding=[2, 1], pads=[1, 0, 1, 1]),
    case("2d_dilations", X2, Init(rand(4, 3, 3, 3)), Init(rand(3)), dilations=[2, 3]),
    case("2d_dilate_stride_pad", X2, Init(rand(4, 2, 2, 3)), Init(rand(2)), dilations=[2, 1],
         strides=[2, 3], pads=[1, 2, 0, 1], output_padding=[1, 0]),
    case("2d_group2", X2, Init(rand(4, 3, 3, 3)), Init(rand(6)), group=2, strides=[2, 1], pads=[1, 1, 0, 1]),
    case("2d_depthwise", X2, Init(rand(4, 1, 3, 3)), Init(rand(4)), group=4, strides=[2, 2]),
    case("2d_output_shape", X2, Init(rand(4, 3, 3, 3)), Init(rand(3)), strides=[2, 2], output_shape=[10, 12]),
    case("2d_output_shape_odd_total", X2, Init(rand(4, 3, 3, 3)), strides=[2, 2], output_shape=[11, 12]),
    case("2d_same_upper", X2, Init(rand(4, 3, 3, 3)), Init(rand(3)), strides=[2, 2], auto_pad="SAME_UPPER"),
    case("2d_same_lower", X2, Init(rand(4, 3, 4, 3)), Init(rand(3)), strides=[2, 2], auto_pad="SAME_LOWER"),
    case("2d_valid", X2, Init(rand(4, 3, 3, 3)), Init(rand(3)), strides=[2, 2], auto_pad="VALID"),
    case("2d_weight_as_input", X2, rand(4, 3, 3, 3), rand(3), strides=[2, 2]),
    case("1d", rand(2, 3, 7), Init(rand(3, 2, 4)), Init(rand(2)), strides=[3], pads=[1, 2]),
    case("1d_long", rand(1, 2, 300), Init(rand(2, 3, 5)), Init(rand(3)), strides=[2], dilations=[2]),
    case("3d", rand(1, 2, 3, 4, 3), Init(rand(2, 2, 2, 3, 2)), Init(rand(2)), strides=[2, 1, 2],
         pads=[0, 1, 1, 1, 0, 0], output_padding=[1, 0, 0]),
]


@pytest.mark.parametrize("args,attrs", CASES)
@pytest.mark.parametrize("threads", [1, 3])
def test_conv_transpose(args, attrs, threads):
    model, feeds = single_op("ConvTranspose", args, **attrs)
    check(model, feeds, threads)


def test_conv_transpose_bad_output_padding_names_it():
    """output_padding must stay below the stride or the dilation."""
    model, feeds = single_op("ConvTranspose", [X2, Init(rand(4, 3, 3, 3))], strides=[2, 2])
    model.graph.node[0].attribute.append(helper.make_attribute("output_padding", [2, 0]))
    with pytest.raises(pyfw.InvalidModelError, match="output_padding"):
        pfw_run(to_pfw(model), feeds)
