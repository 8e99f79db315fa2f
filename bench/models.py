"""Benchmark models built with onnx.helper the way PyTorch exports them
(opset 17, float32, batch 1 unless stated): MobileNetV2, ResNet-18, a 4-layer
transformer encoder and an MLP. Weights are random with a fixed seed, scaled
by fan-in so activations stay in range and outputs are worth comparing.

    from bench.models import MODELS, feeds
    model = MODELS["resnet18"]()          # onnx.ModelProto, checked by onnx.checker
    outputs = session.run(None, feeds(model))
"""
from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


class Builder:
    """Collects nodes and initializers; each op method returns its output name."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def const(self, name: str, value) -> str:
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def weight(self, name: str, shape, fan_in: int, gain: float = 2.0) -> str:
        # He scaling (gain 2 for ReLU) keeps activations neither vanishing nor exploding.
        w = self.rng.standard_normal(shape) * math.sqrt(gain / fan_in)
        return self.const(name, w.astype(np.float32))

    def bias(self, name: str, n: int) -> str:
        return self.const(name, (self.rng.standard_normal(n) * 0.05).astype(np.float32))

    def op(self, op_type: str, inputs: list[str], name: str, **attrs) -> str:
        self._n += 1
        out = f"{name}_out{self._n}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=name, **attrs))
        return out

    def conv(self, x, cin, cout, k, name, stride=1, group=1, bias=True) -> str:
        fan_in = cin // group * k * k
        ins = [x, self.weight(f"{name}.weight", (cout, cin // group, k, k), fan_in)]
        if bias:
            ins.append(self.bias(f"{name}.bias", cout))
        return self.op("Conv", ins, name, kernel_shape=[k, k], strides=[stride, stride],
                       pads=[k // 2] * 4, group=group, dilations=[1, 1])

    def batchnorm(self, x, c, name) -> str:
        r = self.rng
        ins = [x, self.const(f"{name}.weight", r.uniform(0.5, 1.5, c).astype(np.float32)),
               self.const(f"{name}.bias", (r.standard_normal(c) * 0.1).astype(np.float32)),
               self.const(f"{name}.running_mean", (r.standard_normal(c) * 0.1).astype(np.float32)),
               self.const(f"{name}.running_var", r.uniform(0.5, 1.5, c).astype(np.float32))]
        return self.op("BatchNormalization", ins, name, epsilon=1e-5, momentum=0.9)

    def linear(self, x, fin, fout, name, gain=2.0) -> str:
        # nn.Linear on a 2-D input exports as Gemm with transB=1 (weight is [out, in]).
        w = self.weight(f"{name}.weight", (fout, fin), fin, gain)
        return self.op("Gemm", [x, w, self.bias(f"{name}.bias", fout)], name, alpha=1.0, beta=1.0, transB=1)

    def matmul_bias(self, x, fin, fout, name, gain=1.0) -> str:
        # nn.Linear on a 3-D input exports as MatMul with the transposed weight, then Add.
        w = self.weight(f"{name}.weight", (fin, fout), fin, gain)
        return self.op("Add", [self.op("MatMul", [x, w], f"{name}.MatMul"), self.bias(f"{name}.bias", fout)],
                       f"{name}.Add")

    def model(self, name: str, inputs, output: str, out_shape) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, name, inputs,
                                  [helper.make_tensor_value_info(output, TensorProto.FLOAT, out_shape)],
                                  self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="pyfw-bench")
        m.ir_version = min(m.ir_version, 8)  # what PyTorch's exporter writes for opset 17
        onnx.checker.check_model(m, full_check=True)
        return m


def _image_input(batch=1, size=224):
    return [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 3, size, size])]


def mobilenet_v2(seed: int = 0) -> onnx.ModelProto:
    """torchvision's mobilenet_v2 (width 1.0) as exported in eval mode: the
    exporter folds each BatchNorm into its Conv (bias), ReLU6 is Clip(0, 6)."""
    b = Builder(seed)
    lo, hi = b.const("clip_min", np.float32(0)), b.const("clip_max", np.float32(6))

    def conv_relu6(x, cin, cout, k, name, stride=1, group=1):
        return b.op("Clip", [b.conv(x, cin, cout, k, name, stride, group), lo, hi], f"{name}.relu6")

    x = conv_relu6("input", 3, 32, 3, "features.0", stride=2)
    cin, idx = 32, 1
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                       (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
        for i in range(n):
            stride, hidden, name = s if i == 0 else 1, cin * t, f"features.{idx}"
            h = x
            if t != 1:
                h = conv_relu6(h, cin, hidden, 1, f"{name}.expand")
            h = conv_relu6(h, hidden, hidden, 3, f"{name}.dw", stride=stride, group=hidden)
            h = b.conv(h, hidden, c, 1, f"{name}.project")
            x = b.op("Add", [x, h], f"{name}.add") if stride == 1 and cin == c else h
            cin, idx = c, idx + 1
    x = conv_relu6(x, cin, 1280, 1, f"features.{idx}")
    x = b.op("Flatten", [b.op("GlobalAveragePool", [x], "pool")], "flatten", axis=1)
    return b.model("mobilenet_v2", _image_input(), b.linear(x, 1280, 1000, "classifier.1", gain=1.0), [1, 1000])


def resnet18(seed: int = 1) -> onnx.ModelProto:
    """torchvision's resnet18 with BatchNormalization kept after each
    bias-free Conv (an eval-mode export without constant folding)."""
    b = Builder(seed)

    def conv_bn(x, cin, cout, k, name, stride=1):
        return b.batchnorm(b.conv(x, cin, cout, k, name, stride, bias=False), cout, f"{name}.bn")

    x = b.op("Relu", [conv_bn("input", 3, 64, 7, "conv1", stride=2)], "relu")
    x = b.op("MaxPool", [x], "maxpool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    cin = 64
    for layer, c in enumerate([64, 128, 256, 512], start=1):
        for blk in range(2):
            stride, name = 2 if layer > 1 and blk == 0 else 1, f"layer{layer}.{blk}"
            h = b.op("Relu", [conv_bn(x, cin, c, 3, f"{name}.conv1", stride)], f"{name}.relu1")
            h = conv_bn(h, c, c, 3, f"{name}.conv2")
            skip = conv_bn(x, cin, c, 1, f"{name}.downsample", stride) if stride != 1 or cin != c else x
            x = b.op("Relu", [b.op("Add", [h, skip], f"{name}.add")], f"{name}.relu2")
            cin = c
    x = b.op("Flatten", [b.op("GlobalAveragePool", [x], "avgpool")], "flatten", axis=1)
    return b.model("resnet18", _image_input(), b.linear(x, 512, 1000, "fc", gain=1.0), [1, 1000])


def transformer(seed: int = 2, layers: int = 4, seq: int = 128, d: int = 256, heads: int = 4,
                ffn: int = 1024) -> onnx.ModelProto:
    """nn.TransformerEncoder (post-LayerNorm, GELU) on a [1, seq, d] input,
    attention spelled out as PyTorch exports it at opset 17."""
    b = Builder(seed)
    dh = d // heads
    split = b.const("split_heads", np.array([1, seq, heads, dh], np.int64))
    merge = b.const("merge_heads", np.array([1, seq, d], np.int64))
    scale = b.const("attn_scale", np.float32(1 / math.sqrt(dh)))
    sqrt2, one, half = (b.const(n, np.float32(v)) for n, v in (("sqrt2", math.sqrt(2)), ("one", 1), ("half", 0.5)))

    def heads_of(x, name, perm):
        r = b.op("Reshape", [x, split], f"{name}.Reshape")
        return b.op("Transpose", [r], f"{name}.Transpose", perm=perm)

    def layer_norm(x, name):
        g = b.const(f"{name}.weight", b.rng.uniform(0.8, 1.2, d).astype(np.float32))
        return b.op("LayerNormalization", [x, g, b.bias(f"{name}.bias", d)], name, axis=-1, epsilon=1e-5)

    x = "input"
    for i in range(layers):
        p = f"layers.{i}"
        q = heads_of(b.matmul_bias(x, d, d, f"{p}.q_proj"), f"{p}.q", [0, 2, 1, 3])
        k = heads_of(b.matmul_bias(x, d, d, f"{p}.k_proj"), f"{p}.k", [0, 2, 3, 1])
        v = heads_of(b.matmul_bias(x, d, d, f"{p}.v_proj"), f"{p}.v", [0, 2, 1, 3])
        scores = b.op("Mul", [b.op("MatMul", [q, k], f"{p}.scores"), scale], f"{p}.scale")
        ctx = b.op("MatMul", [b.op("Softmax", [scores], f"{p}.softmax", axis=-1), v], f"{p}.context")
        ctx = b.op("Reshape", [b.op("Transpose", [ctx], f"{p}.merge.Transpose", perm=[0, 2, 1, 3]), merge],
                   f"{p}.merge.Reshape")
        x = layer_norm(b.op("Add", [x, b.matmul_bias(ctx, d, d, f"{p}.out_proj")], f"{p}.add1"), f"{p}.norm1")
        h = b.matmul_bias(x, d, ffn, f"{p}.linear1", gain=2.0)
        # GELU at opset 17: x * 0.5 * (1 + erf(x / sqrt(2))).
        erf = b.op("Erf", [b.op("Div", [h, sqrt2], f"{p}.gelu.Div")], f"{p}.gelu.Erf")
        h = b.op("Mul", [b.op("Mul", [h, b.op("Add", [erf, one], f"{p}.gelu.Add")], f"{p}.gelu.Mul"), half],
                 f"{p}.gelu.Mul_1")
        x = layer_norm(b.op("Add", [x, b.matmul_bias(h, ffn, d, f"{p}.linear2")], f"{p}.add2"), f"{p}.norm2")
    inputs = [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, seq, d])]
    return b.model("transformer", inputs, x, [1, seq, d])


def mlp(seed: int = 3, batch: int = 64) -> onnx.ModelProto:
    """784-1024-1024-10 with ReLU, batch 64: three nn.Linear as Gemm."""
    b = Builder(seed)
    x = b.op("Relu", [b.linear("input", 784, 1024, "fc1")], "relu1")
    x = b.op("Relu", [b.linear(x, 1024, 1024, "fc2")], "relu2")
    inputs = [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 784])]
    return b.model("mlp", inputs, b.linear(x, 1024, 10, "fc3", gain=1.0), [batch, 10])


MODELS = {"mobilenet_v2": mobilenet_v2, "resnet18": resnet18, "transformer": transformer, "mlp": mlp}


def feeds(model: onnx.ModelProto, seed: int = 0) -> dict[str, np.ndarray]:
    """Standard-normal float32 inputs (fixed seed) for every graph input
    that is not an initializer."""
    rng = np.random.default_rng(seed)
    inits = {i.name for i in model.graph.initializer}
    return {vi.name: rng.standard_normal([d.dim_value for d in vi.type.tensor_type.shape.dim]).astype(np.float32)
            for vi in model.graph.input if vi.name not in inits}


if __name__ == "__main__":  # python bench/models.py: check each model and run it in ONNX Runtime
    import onnxruntime as ort
    for name, build in MODELS.items():
        m = build()
        sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        (y,) = sess.run(None, feeds(m))
        print(f"{name}: {len(m.graph.node)} nodes, {sum(np.prod(i.dims) for i in m.graph.initializer):,.0f} "
              f"params, output {y.shape} |max| {np.abs(y).max():.3g} std {y.std():.3g}")
