"""Einsum, one small ONNX model per case, ONNX Runtime as the oracle (ONNX's
reference evaluator where ONNX Runtime has no kernel): contractions,
transposes, sums, diagonals, "..." broadcasting, implicit outputs, three
operands, dtypes."""
import numpy as np
import pytest

from onnx_util import check_or_reference, pfw_run, single_op, to_pfw

rng = np.random.default_rng(20261203)
f32, f64, i32, i64 = np.float32, np.float64, np.int32, np.int64

CASES = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ij->ji", [(3, 4)]),
    ("ij->i", [(3, 4)]),
    ("ij->", [(3, 4)]),
    ("ii->", [(4, 4)]),
    ("ii->i", [(4, 4)]),
    ("...ii->...i", [(2, 3, 4, 4)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (1, 3, 4, 5)]),
    ("...ij,jk->...ik", [(2, 3, 4), (4, 5)]),
    ("...ij,jk->...ik", [(2, 1, 3, 4), (4, 2)]),
    ("b...,b...->b...", [(2, 3, 4), (2, 1, 4)]),
    ("ij,jk", [(3, 4), (4, 2)]),
    ("ba", [(3, 4)]),
    ("i,j->ij", [(3,), (4,)]),
    ("i,i", [(5,), (5,)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("aBc,cBd->aBd", [(2, 3, 4), (4, 3, 2)]),
    ("iij->ji", [(3, 3, 2)]),
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
]


@pytest.mark.parametrize("equation, shapes", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("dtype", [f32, f64, i64], ids=["float32", "float64", "int64"])
def test_einsum(equation, shapes, dtype):
    if np.dtype(dtype).kind == "i":
        xs = [rng.integers(-4, 5, s).astype(dtype) for s in shapes]
    else:
        xs = [rng.uniform(-2, 2, s).astype(dtype) for s in shapes]
    check_or_reference(*single_op("Einsum", xs, opset=12, equation=equation))


def test_int32():
    xs = [rng.integers(-4, 5, s).astype(i32) for s in [(3, 4), (4, 5)]]
    check_or_reference(*single_op("Einsum", xs, opset=12, equation="ij,jk->ik"))


def test_empty_contraction_is_zero():
    xs = [np.zeros((3, 0), f32), np.zeros((0, 2), f32)]
    check_or_reference(*single_op("Einsum", xs, opset=12, equation="ij,jk->ik"))


@pytest.mark.parametrize("equation, shapes, message", [
    ("ij,jk->ik", [(3, 4), (5, 2)], "label 'j' has sizes 4 and 5"),
    ("ijk->i", [(3, 4)], "term 0 names 3 axes but input 0 has rank 2"),
    ("b...,b...->b", [(2, 3), (2, 3)], "the output must keep the inputs' '...'"),
    ("...i,...i->...i", [(2, 3), (4, 3)], "has sizes 2 and 4"),
])
def test_bad_equations_are_errors(equation, shapes, message):
    import onnx

    import pyfw
    from onnx import helper

    from onnx_util import value_info
    xs = [np.ones(s, f32) for s in shapes]
    node = helper.make_node("Einsum", [f"x{i}" for i in range(len(xs))], ["y"], name="ein", equation=equation)
    graph = helper.make_graph([node], "g", [value_info(f"x{i}", f32, x.shape) for i, x in enumerate(xs)],
                              [value_info("y", f32, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])
    assert isinstance(model, onnx.ModelProto)
    with pytest.raises((pyfw.InvalidModelError, pyfw.UnsupportedError, ValueError)) as e:
        pfw_run(to_pfw(model), {f"x{i}": x for i, x in enumerate(xs)})
    assert message in str(e.value) or "does not fit" in str(e.value)


@pytest.mark.parametrize("equation, shapes", CASES, ids=[c[0] for c in CASES])
def test_ir_shape_inference(equation, shapes):
    """pyfw.ir infers the shape libpfw computes, from the equation alone."""
    import pyfw.ir
    import pyfw.onnx
    xs = [rng.uniform(-2, 2, s).astype(f32) for s in shapes]
    model, feeds = single_op("Einsum", xs, opset=12, equation=equation)
    del model.graph.output[0].type.tensor_type.shape.dim[:]  # nothing declared: inference alone
    graph = pyfw.ir.infer_shapes(pyfw.onnx.import_model(model))
    (got,) = pfw_run(to_pfw(model), feeds)
    assert graph.tensor("out0").shape == got.shape


@pytest.mark.parametrize("equation, shapes", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_types_sum_wide_and_round_once(equation, shapes, dtype):
    """float16 and bfloat16 are summed wide and rounded once, as ONNX's
    reference sums bfloat16 (in float32). Inputs are multiples of 1/8 in
    [-2, 2], so every product and sum is exact in float64 and the expected
    values are the exact results rounded to float32, then to the type."""
    import ml_dtypes

    half = np.dtype(ml_dtypes.bfloat16) if dtype == "bfloat16" else np.dtype(np.float16)
    xs = [(rng.integers(-16, 17, s) / 8).astype(half) for s in shapes]
    want = np.asarray(np.einsum(equation, *[x.astype(f64) for x in xs])).astype(f32).astype(half)
    if dtype == "float16":
        model, feeds = single_op("Einsum", xs, opset=12, equation=equation)
    else:  # ONNX's suite has bfloat16 Einsum models, though Einsum-12's schema leaves the type out: no checker
        from onnx import TensorProto, helper
        names = [f"in{i}" for i in range(len(xs))]
        graph = helper.make_graph([helper.make_node("Einsum", names, ["y"], equation=equation)], "g",
                                  [helper.make_tensor_value_info(n, TensorProto.BFLOAT16, x.shape)
                                   for n, x in zip(names, xs)],
                                  [helper.make_tensor_value_info("y", TensorProto.BFLOAT16, None)])
        model, feeds = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)]), dict(zip(names, xs))
    (got,) = pfw_run(to_pfw(model), feeds)
    assert got.dtype == half and got.shape == want.shape
    np.testing.assert_array_equal(got.view(np.uint16), want.view(np.uint16))
