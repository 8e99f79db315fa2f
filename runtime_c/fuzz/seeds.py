"""Writes the fuzzer's seed corpus: every model of ONNX's backend suite
(node, simple and pytorch kinds) that pyfw converts, as .pfw files, the
golden models, and models of the ops the suite has no test model for (the
random ops, MaxRoiPool, Cast to and from strings, LabelEncoder's forms, and
ImageDecoder on constant images from runtime_c/tests/data/images). Small models that together reach every op's kernel, so the
campaign starts from files that get past the verifier.

    python runtime_c/fuzz/seeds.py OUT_DIR [--golden DIR] [--max-bytes N]
"""
import argparse
import hashlib
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper
from onnx.backend.test.loader import load_model_tests

import pyfw.format
import pyfw.ir
import pyfw.onnx

KINDS = ("node", "simple", "pytorch-converted", "pytorch-operator")


def converted():
    """(test name, .pfw bytes) for each backend-suite model pyfw converts."""
    for kind in KINDS:
        for case in load_model_tests(kind=kind):
            try:
                model = case.model if case.model is not None else onnx.load(Path(case.model_dir) / "model.onnx")
                graph = pyfw.onnx.import_model(model)
                pyfw.ir.infer_shapes(graph)
                yield case.name, pyfw.format.to_bytes(graph)
            except Exception:  # noqa: BLE001 -- ops pyfw does not take are simply not seeds
                continue


def extra_models():
    """(name, model) for kernels no backend-suite model reaches."""
    f, i64 = TensorProto.FLOAT, TensorProto.INT64
    vi = helper.make_tensor_value_info
    cases = {
        "random_normal": ([helper.make_node("RandomNormal", [], ["y"], shape=[3, 5], mean=1.0, scale=2.0)], [],
                          [vi("y", f, [3, 5])]),
        "random_normal_like": ([helper.make_node("RandomNormalLike", ["x"], ["y"], dtype=TensorProto.DOUBLE)],
                               [vi("x", f, [2, 7])], [vi("y", TensorProto.DOUBLE, [2, 7])]),
        "random_uniform_half": ([helper.make_node("RandomUniform", [], ["y"], shape=[9], dtype=TensorProto.FLOAT16,
                                                  seed=3.0)], [], [vi("y", TensorProto.FLOAT16, [9])]),
        "multinomial": ([helper.make_node("Multinomial", ["x"], ["y"], sample_size=4, dtype=i64)],
                        [vi("x", f, [2, 3])], [vi("y", i64, [2, 4])]),
    }
    s, u8, b = TensorProto.STRING, TensorProto.UINT8, TensorProto.BOOL
    cases.update({
        "max_roi_pool": ([helper.make_node("MaxRoiPool", ["x", "r"], ["y"], pooled_shape=[2, 3], spatial_scale=0.5)],
                         [vi("x", f, [2, 3, 6, 7]), vi("r", f, [4, 5])], [vi("y", f, [4, 3, 2, 3])]),
        "cast_to_string": ([helper.make_node("Cast", ["x"], ["y"], to=s)], [vi("x", f, [6])], [vi("y", s, [6])]),
        "cast_from_string": ([helper.make_node("Cast", ["x"], ["y"], to=i64)], [vi("x", s, [4])], [vi("y", i64, [4])]),
        "cast_string_bool": ([helper.make_node("Cast", ["x"], ["y"], to=b)], [vi("x", s, [4])], [vi("y", b, [4])]),
    })
    for name, (nodes, ins, outs) in cases.items():
        yield name, helper.make_model(helper.make_graph(nodes, name, ins, outs),
                                      opset_imports=[helper.make_opsetid("", 20)])
    ml = [helper.make_opsetid("", 19), helper.make_opsetid("ai.onnx.ml", 4)]
    for name, attrs, x, y in (
            ("label_encoder_ints", {"keys_int64s": [1, -3, 7], "values_floats": [0.5, 2, -1]}, i64, f),
            ("label_encoder_floats", {"keys_floats": [0.5, float("nan")], "values_strings": ["a", "b"]}, f, s),
            ("label_encoder_tensors", {"keys_tensor": onnx.numpy_helper.from_array(np.array([2, 4], np.int32)),
                                       "values_tensor": onnx.numpy_helper.from_array(np.array([1.5, 2.5])),
                                       "default_tensor": onnx.numpy_helper.from_array(np.array([9.0]))},
             TensorProto.INT32, TensorProto.DOUBLE)):
        node = helper.make_node("LabelEncoder", ["x"], ["y"], domain="ai.onnx.ml", **attrs)
        yield name, helper.make_model(helper.make_graph([node], name, [vi("x", x, [5])], [vi("y", y, [5])]),
                                      opset_imports=ml)
    # QLinearConv's direct path (one group: stride phases, padding, a 1x1 plane run) and the depthwise
    # byte path (stride 2, short rows), with constant int8 weights as quantizers write them.
    rng = np.random.default_rng(3)
    for name, c, m, hw, k, attrs in (("qconv_direct_3x3", 8, 8, 9, 3, dict(pads=[1, 1, 1, 1])),
                                     ("qconv_direct_5x5_s2", 6, 4, 12, 5, dict(pads=[2, 2, 2, 2], strides=[2, 2])),
                                     ("qconv_direct_1x1", 8, 12, 7, 1, {}),
                                     ("qconv_depthwise_s2", 4, 4, 11, 3, dict(pads=[1, 1, 1, 1], strides=[2, 2],
                                                                               group=4)),
                                     ("qconv_depthwise_7x7", 4, 4, 7, 3, dict(pads=[1, 1, 1, 1], group=4))):
        w = rng.integers(-128, 128, (m, c // attrs.get("group", 1), k, k)).astype(np.int8)
        inits = [onnx.numpy_helper.from_array(v, n) for v, n in (
            (np.float32(0.02), "xs"), (np.uint8(100), "xz"), (w, "w"), (np.full(m, 0.004, np.float32), "ws"),
            (np.zeros(m, np.int8), "wz"), (np.float32(0.1), "ys"), (np.uint8(120), "yz"),
            (rng.integers(-999, 999, m).astype(np.int32), "b"))]
        node = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], ["y"], **attrs)
        g = helper.make_graph([node], name, [vi("x", u8, [1, c, hw, hw])], [vi("y", u8, None)], inits)
        yield name, helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    # ImageDecoder on small images: as a constant (decoded while planning) and fed (decoded at invoke).
    images = Path(__file__).resolve().parents[1] / "tests" / "data" / "images"
    for file in ("rgb_3x5.png", "interlaced_17x9.png", "progressive_420_17x9.jpg", "q50_422_3x5.jpg",
                 "palette_3x5.bmp", "rgb_3x5.ppm", "lzw_3x5.tif", "deflate_3x5.tif"):
        data = np.frombuffer((images / file).read_bytes(), np.uint8)
        tag = file.replace(".", "_")
        node = helper.make_node("ImageDecoder", ["x"], ["y"], pixel_format="BGR")
        fed = helper.make_graph([node], tag, [vi("x", u8, [len(data)])], [vi("y", u8, [None, None, 3])])
        const = helper.make_graph([node], tag, [], [vi("y", u8, [None, None, 3])],
                                  [onnx.numpy_helper.from_array(data, "x")])
        for kind, g in (("fed", fed), ("const", const)):
            yield f"image_{kind}_{tag}", helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--golden", type=Path, help="directory of golden .pfw models to add")
    ap.add_argument("--max-bytes", type=int, default=32768, help="leave out larger models")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    seen, written = set(), 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, data in converted():
            digest = hashlib.sha1(data).hexdigest()
            if len(data) > args.max_bytes or digest in seen:
                continue
            seen.add(digest)
            (args.out / f"{name}.pfw").write_bytes(data)
            written += 1
    for name, model in extra_models():
        graph = pyfw.onnx.import_model(model)
        pyfw.ir.infer_shapes(graph)
        (args.out / f"extra_{name}.pfw").write_bytes(pyfw.format.to_bytes(graph))
        written += 1
    for path in sorted(args.golden.glob("*.pfw")) if args.golden else ():
        shutil.copyfile(path, args.out / f"golden_{path.name}")
        written += 1
    print(f"{written} seed models in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
