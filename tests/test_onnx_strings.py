"""String tensors end to end: ONNX models with STRING inputs, constants and
outputs, imported, written to .pfw and run by libpfw. ONNX Runtime is the
oracle (ONNX's reference evaluator where ONNX Runtime lacks the op or
differs from the ONNX spec, as noted)."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import pyfw
from onnx_util import Init, assert_match, build, check, ort_run, pfw_run, single_op, to_pfw, value_info

S = np.dtype(object)


def strings(*values, shape=None):
    arr = np.array(list(values), dtype=object)
    return arr.reshape(shape) if shape is not None else arr


def sv(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.STRING, shape)


def reference(model, feeds):
    from onnx.reference import ReferenceEvaluator
    return ReferenceEvaluator(model).run(None, feeds)


# ---- ops that move strings --------------------------------------------------

def test_identity_keeps_any_bytes_and_unicode():
    x = strings("", "a", "héllo wörld", "日本語", "a\x00b", "\udcff raw byte", shape=(2, 3))
    model, feeds = single_op("Identity", [x])
    (got,) = pfw_run(to_pfw(model), feeds)
    assert got.dtype == S and got.shape == (2, 3)
    np.testing.assert_array_equal(got, x)


def test_bytes_elements_are_fed_as_they_are():
    model, _ = single_op("Identity", [strings("x", "y")])
    (got,) = pfw_run(to_pfw(model), {"in0": np.array([b"caf\xc3\xa9", b"\xff"], dtype=object)})
    assert got.tolist() == ["café", "\udcff"]


@pytest.mark.parametrize("op,extra,attrs", [
    ("Transpose", [], {"perm": [1, 0]}),
    ("Reshape", [Init(np.array([3, 2], np.int64))], {}),
    ("Gather", [Init(np.array([[2, 0], [1, 1]], np.int64))], {"axis": 1}),
    ("Slice", [Init(np.array([1], np.int64)), Init(np.array([3], np.int64)), Init(np.array([1], np.int64))], {}),
    ("Expand", [Init(np.array([2, 2, 3], np.int64))], {}),
    ("Tile", [Init(np.array([2, 1], np.int64))], {}),
    ("Flatten", [], {"axis": 0}),
])
def test_data_movement(op, extra, attrs):
    x = strings("alpha", "", "gamma", "δέλτα", "e", "ffffffffffffffffffff", shape=(2, 3))
    model, feeds = single_op(op, [x] + extra, **attrs)
    check(model, feeds)


def test_concat_split_squeeze():
    a, b = strings("a", "b", shape=(1, 2)), strings("c", "d", "e", "f", shape=(2, 2))
    nodes = [helper.make_node("Concat", ["a", "b"], ["c"], axis=0),
             helper.make_node("Split", ["c"], ["s0", "s1"], axis=0, num_outputs=2),
             helper.make_node("Unsqueeze", ["s1", "ax"], ["u"])]
    model = build(nodes, [sv("a", [1, 2]), sv("b", [2, 2])],
                  [sv("c", None), sv("s0", None), sv("u", None)], {"ax": np.array([0], np.int64)}, opset=18)
    check(model, {"a": a, "b": b})


def test_equal_and_where_broadcast():
    x = strings("cat", "dog", "", "cat", shape=(2, 2))
    y = strings("cat", "", shape=(1, 2))
    nodes = [helper.make_node("Equal", ["x", "y"], ["eq"]),
             helper.make_node("Where", ["eq", "x", "other"], ["w"])]
    model = build(nodes, [sv("x", [2, 2]), sv("y", [1, 2])],
                  [value_info("eq", bool, None), sv("w", None)], {"other": strings("-", shape=(1,))}, opset=19)
    check(model, {"x": x, "y": y})


def test_string_constant_in_the_file():
    nodes = [helper.make_node("Gather", ["table", "i"], ["y"])]
    model = build(nodes, [value_info("i", np.int64, [5])], [sv("y", [5])],
                  {"table": strings("zero", "one", "two", "three")}, opset=17)
    feeds = {"i": np.array([3, 0, -1, 1, 1], np.int64)}
    assert pfw_run(to_pfw(model), feeds)[0].tolist() == ["three", "zero", "three", "one", "one"]
    check(model, feeds)


def test_constant_node_value_strings():
    nodes = [helper.make_node("Constant", [], ["k"], value_strings=["p", "q"]),
             helper.make_node("Equal", ["x", "k"], ["y"])]
    model = build(nodes, [sv("x", [2])], [value_info("y", bool, [2])], opset=19)
    check(model, {"x": strings("p", "z")})


# ---- string ops --------------------------------------------------------------

@pytest.mark.parametrize("x,y", [
    (strings("a", "bc", "", "日本"), strings("x", "", "", "語")),
    (strings("a", "b", "c", shape=(3, 1)), strings("-1", "-2", shape=(1, 2))),
    (strings("prefix_", shape=()), strings("one", "two", "")),
    (strings(shape=(0,)), strings("z")),
])
def test_string_concat(x, y):
    model, feeds = single_op("StringConcat", [x, y], opset=20)
    check(model, feeds)


SPLIT_TEXT = strings("a,b,,c", ",leading", "trailing,", "", "no delimiter", "a,b,c,d,e", ",,")
SPACE_TEXT = strings("  hello   world ", "one", "", "   ", "tab\tand\nnewline", "a\u3000b\u00a0c",
                     "x\x1cy", "trail ing  ")


@pytest.mark.parametrize("x,attrs", [
    (SPLIT_TEXT, {"delimiter": ","}),
    (SPLIT_TEXT, {"delimiter": ",", "maxsplit": 1}),
    (SPLIT_TEXT, {"delimiter": ",", "maxsplit": 0}),
    (SPLIT_TEXT.reshape(7, 1), {"delimiter": ",,"}),
    (SPACE_TEXT, {}),
    (SPACE_TEXT, {"delimiter": ""}),
    (SPACE_TEXT, {"maxsplit": 1}),
    (strings(shape=(0,)), {"delimiter": ","}),
    (strings("", "", shape=(2,)), {}),
])
def test_string_split_matches_the_reference(x, attrs):
    # The reference evaluator is Python's str.split, which the spec follows;
    # ONNX Runtime agrees on these (checked below where it runs them).
    node = helper.make_node("StringSplit", ["x"], ["y", "z"], **attrs)
    model = build([node], [sv("x", list(x.shape))], [sv("y", None), value_info("z", np.int64, None)], opset=20)
    feeds = {"x": x}
    want = reference(model, feeds)
    got = pfw_run(to_pfw(model), feeds)
    assert got[0].shape == want[0].shape and got[1].dtype == np.int64
    np.testing.assert_array_equal(got[0], want[0].astype(object))
    np.testing.assert_array_equal(got[1], want[1])


@pytest.mark.parametrize("attrs,x", [
    ({"case_change_action": "LOWER"}, strings("Monday", "tuesday", "WEDNESDAY", "Straße", "ÉCOLE", "ΣΟΦΙΑ")),
    ({"case_change_action": "UPPER"}, strings("monday", "Tuesday", "école", "σοφία", "straße")),
    ({"case_change_action": "NONE", "stopwords": ["monday"]}, strings("Monday", "monday", "tuesday")),
    ({"case_change_action": "NONE", "stopwords": ["monday"], "is_case_sensitive": 1},
     strings("Monday", "monday", "tuesday")),
    ({"case_change_action": "UPPER", "stopwords": ["monday", "tuesday"]}, strings("monday", "Tuesday", shape=(1, 2))),
    ({"case_change_action": "LOWER", "stopwords": ["Ώρα"]}, strings("ώρα", "Ώρα", "ΏΡΑ", "ωρα", shape=(1, 4))),
    ({"case_change_action": "LOWER", "stopwords": ["a"]}, strings("A", "b", "", "a")),
])
def test_string_normalizer(attrs, x):
    # ONNX Runtime maps case through the C++ locale it is given (pyfw through
    # its own Unicode table, whatever `locale` says): C.UTF-8 is the locale
    # every Linux has, and maps each character as Unicode's simple mapping.
    model, feeds = single_op("StringNormalizer", [x], opset=10, out_shape=None, locale="C.UTF-8", **attrs)
    check(model, feeds)


def test_string_normalizer_takes_only_c_or_1_by_c():
    node = helper.make_node("StringNormalizer", ["x"], ["y"], case_change_action="LOWER")
    graph = helper.make_graph([node], "g", [sv("x", [2, 2])], [sv("y", None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 10)])
    with pytest.raises(pyfw.InvalidModelError, match=r"\[C\] or \[1, C\]"):
        to_pfw(model)


EMAILS = strings("account@gmail.com", "account@hotmail.com", "not email", "account2@yahoo.com",
                 "first.last@gmail.com ", " x@yahoo.com")


@pytest.mark.parametrize("pattern,x", [
    (r"www\.[\w.-]+\.\bcom\b", strings("www.google.com", "www.facebook.com", "www.bbc.co.uk")),
    (r"(\W|^)[\w.\-]{0,25}@(yahoo|gmail)\.com(\W|$)", EMAILS),
    ("", strings("", "a")),
    (r"[a-c]+x?|\d{2,3}", strings("abc", "abx", "12", "1234", "", "cab", "abcxx")),
    (r"(?i)hello\s+world", strings("Hello World", "HELLO\tworld", "helloworld")),
    ("é.", strings("éa", "é日", "e", "é")),
    (r"[^a-z]*", strings("ABC123", "AbC", "")),
])
def test_regex_full_match(pattern, x):
    model, feeds = single_op("RegexFullMatch", [x], opset=20, out_dtype=bool, pattern=pattern)
    check(model, feeds)


def test_regex_bad_pattern_is_a_clear_error():
    model, _ = single_op("RegexFullMatch", [strings("a")], opset=20, out_dtype=bool, pattern="ab(c")
    with pytest.raises(pyfw.InvalidModelError, match=r"regex 'ab\(c'.*byte"):
        pfw_run(to_pfw(model), {"in0": strings("a")})


# ---- LabelEncoder with strings (ai.onnx.ml), decomposed at import ----------

def _label_encoder(x, out_elem, **attrs):
    node = helper.make_node("LabelEncoder", ["x"], ["y"], domain="ai.onnx.ml", **attrs)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", x[1], [None])],
                              [helper.make_tensor_value_info("y", out_elem, [None])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19), helper.make_opsetid("ai.onnx.ml", 4)])
    model.ir_version = 10
    return model, {"x": x[0]}


@pytest.mark.parametrize("x,out,attrs", [
    ((strings("a", "b", "zz", "c", "a"), TensorProto.STRING), TensorProto.INT64,
     {"keys_strings": ["a", "b", "c"], "values_int64s": [10, 20, 30], "default_int64": -7}),
    ((np.array([3, 1, 9], np.int64), TensorProto.INT64), TensorProto.STRING,
     {"keys_int64s": [1, 2, 3], "values_strings": ["one", "two", "three"], "default_string": "many"}),
    ((strings("x", "q"), TensorProto.STRING), TensorProto.STRING,
     {"keys_strings": ["x", "y"], "values_strings": ["ex", "why"]}),
    ((strings("x", "q", "y"), TensorProto.STRING), TensorProto.STRING,
     {"keys_tensor": numpy_helper.from_array(strings("x", "y")), "values_tensor": numpy_helper.from_array(
         strings("ex", "why")), "default_tensor": numpy_helper.from_array(strings("?"))}),
])
def test_label_encoder_strings(x, out, attrs):
    model, feeds = _label_encoder(x, out, **attrs)
    want = ort_run(model, feeds)
    assert_match(pfw_run(to_pfw(model), feeds), want)


# ---- lifetimes, limits and refusals -----------------------------------------

def test_loop_collects_strings_made_in_its_body():
    """Each iteration's StringConcat result (bytes from the string heap) is
    kept in the scan output after later iterations ran."""
    body = helper.make_graph(
        [helper.make_node("StringConcat", ["acc_in", "suffix"], ["acc_out"]),
         helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Identity", ["acc_out"], ["scan"])],
        "body", [value_info("i", np.int64, []), value_info("cond_in", bool, []), sv("acc_in", [])],
        [value_info("cond_out", bool, []), sv("acc_out", []), sv("scan", [])],
        [numpy_helper.from_array(strings("ab", shape=()), "suffix")])
    loop = helper.make_node("Loop", ["n", "", "start"], ["final", "all"], body=body)
    model = build([loop], [value_info("n", np.int64, []), sv("start", [])], [sv("final", []), sv("all", [None])],
                  opset=20)
    feeds = {"n": np.array(5, np.int64), "start": strings(">", shape=())}
    got = check(model, feeds)
    assert got[1].tolist() == [">ab", ">abab", ">ababab", ">abababab", ">ababababab"]


def test_outputs_follow_each_run():
    model, _ = single_op("StringConcat", [strings("a", "b"), strings("1", "2")], opset=20)
    from pyfw.runtime import Interpreter
    with Interpreter(to_pfw(model)) as it:
        first = it.run({"in0": strings("a", "b"), "in1": strings("1", "2")})[0]
        second = it.run({"in0": strings("x" * 100000, ""), "in1": strings("", "y")})[0]
    assert first.tolist() == ["a1", "b2"]
    assert second.tolist() == ["x" * 100000, "y"]


def test_string_heap_obeys_the_memory_limit():
    model, _ = single_op("StringConcat", [strings("a"), strings("b")], opset=20)
    from pyfw.runtime import Interpreter
    with Interpreter(to_pfw(model), arena_limit=1 << 20) as it:
        with pytest.raises(pyfw.UnsupportedError, match="memory limit"):
            it.run({"in0": strings("x" * (1 << 20)), "in1": strings("y")})


def test_an_op_without_strings_refuses_them_by_name():
    g = pyfw.ir.Graph("g")
    g.add_tensor(pyfw.ir.Tensor("x", "string", (2,)))
    g.inputs.append("x")
    g.add_node("Neg", ["x"], ["y"], name="neg")
    g.tensors["y"] = pyfw.ir.Tensor("y", "string", (2,))
    g.outputs.append("y")
    from pyfw.runtime import Interpreter
    with pytest.raises(pyfw.UnsupportedError, match=r"node 'neg' \(Neg\): input 0 has dtype string"):
        Interpreter(pyfw.format.to_bytes(g))


def test_wrong_feed_calls_for_strings():
    model, _ = single_op("Identity", [strings("a", "b")])
    from pyfw.runtime import Interpreter
    with Interpreter(to_pfw(model)) as it:
        with pytest.raises(TypeError, match="expects object"):
            it.run({"in0": np.array([1.0, 2.0])})
        with pytest.raises(ValueError, match="shape"):
            it.run({"in0": strings("a", "b", "c")})


def test_pfw_round_trip_keeps_string_constants(tmp_path):
    g = pyfw.ir.Graph("g")
    g.add_constant("k", strings("", "é", "\udcfe", "longer text", shape=(2, 2)))
    g.add_node("Identity", ["k"], ["y"])
    g.tensors["y"] = pyfw.ir.Tensor("y", "string", (2, 2))
    g.outputs.append("y")
    data = pyfw.format.to_bytes(g)
    path = tmp_path / "k.pfw"
    path.write_bytes(data)
    back = pyfw.format.load(path)
    np.testing.assert_array_equal(back.tensors["k"].data, g.tensors["k"].data)
    assert pfw_run(data, {})[0].tolist() == [["", "é"], ["\udcfe", "longer text"]]


def test_malformed_string_buffer_is_refused_with_its_place():
    g = pyfw.ir.Graph("g")
    g.add_constant("k", strings("abc", "de"))
    g.add_node("Identity", ["k"], ["y"])
    g.tensors["y"] = pyfw.ir.Tensor("y", "string", (2,))
    g.outputs.append("y")
    data = bytearray(pyfw.format.to_bytes(g))
    table = data.find((3).to_bytes(8, "little") + (5).to_bytes(8, "little") + b"abcde")
    assert table > 0
    data[table:table + 8] = (9).to_bytes(8, "little")  # the first string ends past the second's end
    from pyfw.runtime import Interpreter
    with pytest.raises(pyfw.InvalidModelError, match=r"tensor 0 \('k'\): string 0 ends at byte 9"):
        Interpreter(bytes(data))


def test_c_api_string_calls_refuse_misuse():
    """pfw_tensor_set_strings / pfw_tensor_get_string and the byte calls on
    string tensors, driven through the C API itself: each misuse is a status
    with a message, never a crash."""
    from pyfw._libpfw import ffi, lib
    model, _ = single_op("StringConcat", [strings("a", "b"), strings("c", "d")], opset=20)
    data = to_pfw(model)
    m, it = ffi.new("pfw_model**"), ffi.new("pfw_interpreter**")
    assert lib.pfw_model_load_buffer(data, len(data), m) == lib.PFW_OK
    assert lib.pfw_interpreter_create(m[0], ffi.NULL, it) == lib.PFW_OK
    try:
        x, y = ffi.new("pfw_tensor**"), ffi.new("pfw_tensor**")
        assert lib.pfw_interpreter_get_input(it[0], 0, x) == lib.PFW_OK
        assert lib.pfw_interpreter_get_output(it[0], 0, y) == lib.PFW_OK
        keep = [ffi.new("char[]", b"ab"), ffi.new("char[]", b"")]
        texts = ffi.new("const char*[]", keep)

        def error():
            return ffi.string(lib.pfw_last_error()).decode()

        assert lib.pfw_tensor_set_strings(x[0], texts, ffi.NULL, 3) == lib.PFW_ERR_SHAPE
        assert "holds 2 strings, got 3" in error()
        assert lib.pfw_tensor_set_strings(y[0], texts, ffi.NULL, 2) == lib.PFW_ERR_INVALID_ARGUMENT
        assert "not a tensor input" in error()
        nulls = ffi.new("const char*[]", [ffi.NULL, ffi.NULL])
        assert lib.pfw_tensor_set_strings(x[0], nulls, ffi.new("size_t[]", [0, 4]), 2) == lib.PFW_ERR_INVALID_ARGUMENT
        assert "string 1 is NULL with size 4" in error()
        buf = ffi.new("char[]", 32)
        assert lib.pfw_tensor_copy_from_buffer(x[0], buf, 32) == lib.PFW_ERR_INVALID_ARGUMENT
        assert "use pfw_tensor_set_strings" in error()
        # NUL-terminated strings (sizes NULL); a NULL entry is the empty string.
        assert lib.pfw_tensor_set_strings(x[0], ffi.new("const char*[]", [keep[0], ffi.NULL]), ffi.NULL, 2) == lib.PFW_OK
        other = ffi.new("pfw_tensor**")
        assert lib.pfw_interpreter_get_input(it[0], 1, other) == lib.PFW_OK
        assert lib.pfw_tensor_set_strings(other[0], texts, ffi.new("size_t[]", [1, 0]), 2) == lib.PFW_OK
        assert lib.pfw_interpreter_invoke(it[0]) == lib.PFW_OK
        s, n = ffi.new("const char**"), ffi.new("size_t*")
        got = []
        for k in range(2):
            assert lib.pfw_tensor_get_string(y[0], k, s, n) == lib.PFW_OK
            got.append(ffi.unpack(s[0], n[0]))
        assert got == [b"aba", b""]
        assert lib.pfw_tensor_get_string(y[0], 2, s, n) == lib.PFW_ERR_INVALID_ARGUMENT
        assert "string index 2 out of range" in error()
        assert lib.pfw_tensor_get_string(y[0], 0, ffi.NULL, n) == lib.PFW_ERR_INVALID_ARGUMENT
        assert lib.pfw_tensor_copy_to_buffer(y[0], buf, 32) == lib.PFW_ERR_INVALID_ARGUMENT
        assert "use pfw_tensor_get_string" in error()
        total, ends = ffi.new("size_t*"), ffi.new("uint64_t[]", 2)
        assert lib.pfw_tensor_strings_size(y[0], total) == lib.PFW_OK and total[0] == 3
        assert lib.pfw_tensor_copy_strings(y[0], buf, 2, ends, 2) == lib.PFW_ERR_SHAPE
        assert "need more than 2 bytes" in error()
        assert lib.pfw_tensor_copy_strings(y[0], buf, 32, ends, 3) == lib.PFW_ERR_SHAPE
        assert lib.pfw_tensor_copy_strings(y[0], buf, 3, ends, 2) == lib.PFW_OK
        assert ffi.unpack(buf, 3) == b"aba" and list(ends) == [3, 3]
        assert lib.pfw_tensor_strings_size(other[0], total) == lib.PFW_OK and total[0] == 1
        assert lib.pfw_tensor_copy_strings(ffi.NULL, buf, 3, ends, 2) == lib.PFW_ERR_INVALID_ARGUMENT
    finally:
        lib.pfw_interpreter_free(it[0])
        lib.pfw_model_free(m[0])


def test_string_constant_gets_every_other_constant_check():
    """A string constant's buffer is checked as strings, and then like any
    other constant: here its quantization parameters (no scale)."""
    g = pyfw.ir.Graph("g")
    k = g.add_constant("k", strings("abc", "de"))
    k.quant = pyfw.ir.QuantParams([], [], 0)
    g.add_node("Identity", ["k"], ["y"])
    g.tensors["y"] = pyfw.ir.Tensor("y", "string", (2,))
    g.outputs.append("y")
    from pyfw.runtime import Interpreter
    with pytest.raises(pyfw.InvalidModelError, match=r"tensor 0 \('k'\): quantization has no scale"):
        Interpreter(pyfw.format.to_bytes(g))


# ---- Cast to and from strings --------------------------------------------------

def cast_model(x, to):
    return single_op("Cast", [x], opset=21, out_dtype=helper.tensor_dtype_to_np_dtype(to), to=to)


@pytest.mark.parametrize("x", [
    np.array([0, -5, 7, 2**63 - 1, -2**63], np.int64),
    np.array([0, 255, 17], np.uint8),
    np.array([-128, 127, 0], np.int8),
    np.array([2**64 - 1, 0], np.uint64),
    np.array([True, False, True]),
    # floats that 8 significant digits print exactly, where ONNX Runtime's %.8g is the shortest text too
    np.array([1.5, 0.1, 1e10, 123456789, 1e-7, -0.0, 3.4028235e38, 1 / 3, 100, 0.25, -0.5], np.float32),
    np.array([np.nan, np.inf, -np.inf], np.float32),
    np.array([np.nan, -np.inf, 1.5, 1e300, 0.1], np.float64),
], ids=lambda a: str(a.dtype))
def test_cast_numbers_to_string_as_onnx_runtime(x):
    model, feeds = cast_model(x, TensorProto.STRING)
    check(model, feeds)


def shortest_digits(v: np.floating) -> int:
    """Significant digits of the shortest text that reads back to v (NumPy's Dragon4)."""
    mantissa = np.format_float_scientific(v, unique=True).split("e")[0].lstrip("-").replace(".", "")
    return len(mantissa.rstrip("0") or "0")


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_cast_float_to_string_is_the_shortest_exact_text(dtype):
    """Where 8 digits are not exact (ONNX Runtime's %.8g loses float64 and some
    float32 values) pyfw's text still reads back to the same value, with the
    fewest digits that do."""
    rng = np.random.default_rng(3)
    bits = {np.float32: np.uint32, np.float64: np.uint64, np.float16: np.uint16}[dtype]
    x = rng.integers(0, np.iinfo(bits).max, 400, dtype=bits, endpoint=True).view(dtype)
    x = x[np.isfinite(x)]
    x = np.concatenate([x, np.array([0.3, 0.1, 1 / 3, 2.0**-20, 65504, 1e-4, 123.456], dtype)])
    model, feeds = cast_model(x, TensorProto.STRING)
    (got,) = pfw_run(to_pfw(model), feeds)
    for v, s in zip(x, got):
        assert dtype(float(s)) == v or (v == 0 and float(s) == 0), (v, s)
        assert np.signbit(dtype(float(s))) == np.signbit(v), (v, s)
        digits = s.lstrip("-").split("e")[0].replace(".", "").lstrip("0").rstrip("0") or "0"
        exp10 = int(np.format_float_scientific(v, unique=True).split("e")[1])  # of the shortest digits
        plain = -4 <= exp10 < max(shortest_digits(v), 8)
        assert ("e" not in s) == plain, (v, s)
        # Plain notation writes an integer part whole (78611688, not 7.861169e+07).
        assert len(digits) <= max(shortest_digits(v), exp10 + 1 if plain else 0), (v, s, shortest_digits(v))


@pytest.mark.parametrize("to,values", [
    (TensorProto.FLOAT, ["1.5", " 2 ", "1e-5", "1E8", "inf", "+INF", "-Inf", "NaN", "nan", "0x10", "3.4e39",
                         "1e-50", "-0", ".5", "7."]),
    (TensorProto.DOUBLE, ["0.1", "-1.7976931348623157e308", "2.5e-308", "INF"]),
    (TensorProto.INT64, ["100", "-5", "9223372036854775807", "-9223372036854775808", "+7", "  3"]),
    (TensorProto.INT32, ["2147483647", "-2147483648", "0"]),
    (TensorProto.UINT8, ["255", "0", "17"]),
    (TensorProto.UINT64, ["18446744073709551615", "0"]),
    (TensorProto.FLOAT16, ["0.1", "65504", "-1e-7", "70000"]),
])
def test_cast_string_to_numbers_as_onnx_runtime(to, values):
    model, feeds = cast_model(strings(*values), to)
    got = check(model, feeds)
    if to == TensorProto.FLOAT:  # and as NumPy reads them, where it reads them
        for s, g in zip(values, got[0]):
            if "x" not in s:
                with np.errstate(over="ignore"):  # "3.4e39" is inf in float32, as intended
                    np.testing.assert_array_equal(g, np.float32(float(s.strip())))


def test_cast_string_past_the_range_of_double_saturates_as_python_reads_it():
    """ONNX Runtime's stod throws here; pyfw gives what Python's float() gives."""
    texts = ["1e400", "-1e400", "4.9e-324", "1e-400", "2.2250738585072011e-308"]
    model, feeds = cast_model(strings(*texts), TensorProto.DOUBLE)
    (got,) = pfw_run(to_pfw(model), feeds)
    np.testing.assert_array_equal(got, np.array([float(t) for t in texts]))


def test_cast_string_to_integer_truncates_a_fraction():
    """ONNX's spec: "100.5" to an integer "may yield 100"; -1e3 is -1000."""
    model, feeds = cast_model(strings("100.5", "-2.9", "-1e3", "1e18"), TensorProto.INT64)
    (got,) = pfw_run(to_pfw(model), feeds)
    np.testing.assert_array_equal(got, np.array([100, -2, -1000, 10**18], np.int64))


def test_cast_string_to_bool_takes_numbers_and_words():
    model, feeds = cast_model(strings("1", "0", "true", "FALSE", "0.5", "-0", "True "), TensorProto.BOOL)
    (got,) = pfw_run(to_pfw(model), feeds)
    np.testing.assert_array_equal(got, [True, False, True, False, True, False, True])


@pytest.mark.parametrize("to,text,why", [
    (TensorProto.INT32, "12abc", "is not a number, so cannot become int32"),
    (TensorProto.FLOAT, "", "is not a number, so cannot become float32"),
    (TensorProto.FLOAT, "1,5", "is not a number"),
    (TensorProto.INT8, "128", "is out of the range of int8"),
    (TensorProto.UINT16, "-1", "is out of the range of uint16"),
    (TensorProto.INT64, "9223372036854775808", "is out of the range of int64"),
    (TensorProto.INT64, "nan", "is not a number"),
    (TensorProto.BOOL, "yes", "is neither a number nor true/false"),
    (TensorProto.DOUBLE, "1.5\x00", "holds a NUL byte"),
])
def test_cast_bad_strings_name_the_element(to, text, why):
    model, feeds = cast_model(strings("1", text), to)
    with pytest.raises(ValueError, match=rf"node 'cast_node' \(Cast\): element 1 of input 0, .*{why}"):
        pfw_run(to_pfw(model), feeds)


def test_cast_round_trip_through_strings():
    x = np.random.default_rng(5).standard_normal(200).astype(np.float32) * 1e3
    nodes = [helper.make_node("Cast", ["x"], ["s"], to=TensorProto.STRING),
             helper.make_node("Cast", ["s"], ["y"], to=TensorProto.FLOAT)]
    model = build(nodes, [value_info("x", np.float32, [200])], [value_info("y", np.float32, [200])], opset=21)
    (got,) = pfw_run(to_pfw(model), {"x": x})
    np.testing.assert_array_equal(got, x)


def test_cast_like_to_string():
    x = np.array([1, -2, 3], np.int32)
    model, feeds = single_op("CastLike", [x, Init(strings("like"))], opset=21, out_dtype=S)
    check(model, feeds)


@pytest.mark.parametrize("saturate", [0, 1])
def test_cast_string_to_float8_honours_saturate(saturate):
    """Past float8's range: saturate=1 gives its largest value, 0 gives inf/NaN,
    the same as Cast from the float32 number (ONNX Runtime as the oracle)."""
    texts = ["1000", "-1e9", "0.3", "nan", "1e-12"]

    def through_float8(x_type, x_dtype):  # x -> float8 E4M3FN -> float32
        nodes = [helper.make_node("Cast", ["x"], ["q"], to=TensorProto.FLOAT8E4M3FN, saturate=saturate),
                 helper.make_node("Cast", ["q"], ["y"], to=TensorProto.FLOAT)]
        return build(nodes, [helper.make_tensor_value_info("x", x_type, [5])], [value_info("y", np.float32, [5])],
                     opset=21)

    (got,) = pfw_run(to_pfw(through_float8(TensorProto.STRING, S)), {"x": strings(*texts)})
    numbers = np.array([float(t) for t in texts], np.float32)
    (want,) = ort_run(through_float8(TensorProto.FLOAT, np.float32), {"x": numbers})
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
