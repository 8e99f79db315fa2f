/* Op unit tests for the element-wise math ops (unary.c), the activations and
 * Clip (activation.c), the broadcasting binary/variadic ops (binary.c) and
 * comparisons/Where (compare.c), the reductions (reduce.c) and the
 * normalisations (norm.c): edge cases that the ONNX Runtime parity suites cannot
 * reach or that name a specific rule (rounding, wrapping, errors). */
#include <math.h>
#include <stdint.h>

#include "op_harness.h"

static void test_round_half_to_even(void) {
  float x[8] = {-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f, 0.49999997f, 8388609.0f};
  float want[8] = {-2, -2, -0.0f, 0, 2, 2, 0, 8388609.0f};
  tnode t;
  tn_init(&t, PFW_OP_Round, 11);
  F32(&t, x, 8);
  CHECK_OK(tn_exec(&t));
  CHECK(memcmp(t.tout[0].data, want, sizeof want) == 0);
  CHECK(signbit(((float*)t.tout[0].data)[2])); /* -0.5 rounds to -0 */
  tn_free(&t);
}

/* Integer Neg/Abs of the minimum wrap to the minimum (no UB under UBSan). */
static void test_integer_wrap(void) {
  int32_t x32[4] = {INT32_MIN, -3, 0, INT32_MAX};
  int64_t x64[4] = {INT64_MIN, -3, 0, INT64_MAX};
  tnode t;
  tn_init(&t, PFW_OP_Neg, 13);
  tn_in(&t, PFW_INT32, x32, DIMS(4));
  CHECK_OK(tn_exec(&t));
  const int32_t* y32 = t.tout[0].data;
  CHECK(y32[0] == INT32_MIN && y32[1] == 3 && y32[2] == 0 && y32[3] == -INT32_MAX);
  tn_free(&t);
  tn_init(&t, PFW_OP_Abs, 13);
  tn_in(&t, PFW_INT64, x64, DIMS(4));
  CHECK_OK(tn_exec(&t));
  const int64_t* y64 = t.tout[0].data;
  CHECK(t.tout[0].dtype == PFW_INT64 && y64[0] == INT64_MIN && y64[1] == 3 && y64[3] == INT64_MAX);
  tn_free(&t);
  tn_init(&t, PFW_OP_Sign, 13);
  tn_in(&t, PFW_INT64, x64, DIMS(4));
  CHECK_OK(tn_exec(&t));
  y64 = t.tout[0].data;
  CHECK(y64[0] == -1 && y64[1] == -1 && y64[2] == 0 && y64[3] == 1);
  tn_free(&t);
}

static void test_bool_ops(void) {
  float x[5] = {0, NAN, INFINITY, -INFINITY, 3};
  tnode t;
  tn_init(&t, PFW_OP_IsNaN, 13);
  F32(&t, x, 5);
  CHECK_OK(tn_exec(&t));
  const bool* b = t.tout[0].data;
  CHECK(t.tout[0].dtype == PFW_BOOL && t.tout[0].nbytes == 5);
  CHECK(!b[0] && b[1] && !b[2] && !b[3] && !b[4]);
  tn_free(&t);
  tn_init(&t, PFW_OP_IsInf, 10);
  F32(&t, x, 5);
  tn_int(&t, "detect_positive", 0);
  CHECK_OK(tn_exec(&t));
  b = t.tout[0].data;
  CHECK(!b[0] && !b[1] && !b[2] && b[3] && !b[4]);
  tn_free(&t);
  bool v[3] = {true, false, true};
  tn_init(&t, PFW_OP_Not, 1);
  tn_in(&t, PFW_BOOL, v, DIMS(3));
  CHECK_OK(tn_exec(&t));
  b = t.tout[0].data;
  CHECK(!b[0] && b[1] && !b[2]);
  tn_free(&t);
}

/* Wrong dtypes are UNSUPPORTED and the message names the input and dtype. */
static void test_dtype_errors(void) {
  int32_t xi[2] = {1, 2};
  tnode t;
  tn_init(&t, PFW_OP_Exp, 13);
  tn_in(&t, PFW_INT32, xi, DIMS(2));
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_UNSUPPORTED);
  CHECK_ERROR_HAS("input 0 has dtype int32");
  tn_init(&t, PFW_OP_Not, 1);
  tn_in(&t, PFW_INT32, xi, DIMS(2));
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_UNSUPPORTED);
  CHECK_ERROR_HAS("supported: bool");
  tn_init(&t, PFW_OP_Abs, 13);
  tn_in(&t, PFW_BOOL, xi, DIMS(2));
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_UNSUPPORTED);
  CHECK_ERROR_HAS("input 0 has dtype bool");
}

static void test_activation_attrs(void) {
  float x[4] = {-2, -0.5f, 0.5f, 2};
  tnode t;
  tn_init(&t, PFW_OP_Gelu, 20);
  F32(&t, x, 4);
  tn_str(&t, "approximate", "erf");
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_INVALID_MODEL);
  CHECK_ERROR_HAS("approximate");
  tn_init(&t, PFW_OP_Celu, 12);
  F32(&t, x, 4);
  tn_float(&t, "alpha", 0);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_INVALID_MODEL);
  CHECK_ERROR_HAS("alpha");
  /* LeakyRelu with its attribute, written out: alpha * x below 0. */
  tn_init(&t, PFW_OP_LeakyRelu, 16);
  F32(&t, x, 4);
  tn_float(&t, "alpha", 0.25f);
  CHECK_OK(tn_exec(&t));
  float want[4] = {-0.5f, -0.125f, 0.5f, 2};
  CHECK(memcmp(t.tout[0].data, want, sizeof want) == 0);
  tn_free(&t);
  /* Softplus does not overflow for large inputs. */
  float big[2] = {1000, -1000};
  tn_init(&t, PFW_OP_Softplus, 1);
  F32(&t, big, 2);
  CHECK_OK(tn_exec(&t));
  CHECK(((float*)t.tout[0].data)[0] == 1000 && ((float*)t.tout[0].data)[1] == 0);
  tn_free(&t);
}

static void test_clip(void) {
  float x[5] = {-3, -1, 0, 1, 3};
  float lo = -1.5f, hi = 0.5f;
  tnode t;
  /* Bounds from non-constant inputs are read at run time. */
  tn_init(&t, PFW_OP_Clip, 13);
  F32(&t, x, 5);
  pfw_tensor* l = tn_in(&t, PFW_FLOAT32, &lo, 0, NULL);
  tn_in(&t, PFW_FLOAT32, &hi, 0, NULL);
  CHECK_OK(tn_prepare(&t));
  lo = -0.5f; /* changed after prepare: run must see it */
  CHECK_OK(tn_run(&t));
  float want[5] = {-0.5f, -0.5f, 0, 0.5f, 0.5f};
  CHECK(memcmp(t.tout[0].data, want, sizeof want) == 0);
  tn_free(&t);
  (void)l;
  /* Absent min, opset-6 attributes. */
  tn_init(&t, PFW_OP_Clip, 13);
  F32(&t, x, 5);
  ABSENT(&t);
  tn_in(&t, PFW_FLOAT32, &hi, 0, NULL);
  CHECK_OK(tn_exec(&t));
  CHECK(((float*)t.tout[0].data)[0] == -3 && ((float*)t.tout[0].data)[4] == 0.5f);
  tn_free(&t);
  tn_init(&t, PFW_OP_Clip, 6);
  F32(&t, x, 5);
  tn_float(&t, "min", 0);
  CHECK_OK(tn_exec(&t));
  CHECK(((float*)t.tout[0].data)[0] == 0 && ((float*)t.tout[0].data)[4] == 3);
  tn_free(&t);
  /* A bound with more than one element or another dtype is refused. */
  float two[2] = {0, 1};
  tn_init(&t, PFW_OP_Clip, 13);
  F32(&t, x, 5);
  F32(&t, two, 2);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_SHAPE);
  CHECK_ERROR_HAS("min");
  double dlo = 0;
  tn_init(&t, PFW_OP_Clip, 13);
  F32(&t, x, 5);
  tn_in(&t, PFW_FLOAT64, &dlo, 0, NULL);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_UNSUPPORTED);
  /* Integer Clip (opset >= 12) keeps int64 bounds exact: a double would
   * round INT64_MAX - 1 up. */
  int64_t xi[3] = {INT64_MIN, 5, INT64_MAX}, hi64 = INT64_MAX - 1;
  tn_init(&t, PFW_OP_Clip, 13);
  tn_in(&t, PFW_INT64, xi, DIMS(3));
  ABSENT(&t);
  tn_in(&t, PFW_INT64, &hi64, 0, NULL);
  CHECK_OK(tn_exec(&t));
  const int64_t* yi = t.tout[0].data;
  CHECK(yi[0] == INT64_MIN && yi[1] == 5 && yi[2] == INT64_MAX - 1);
  tn_free(&t);
  tn_init(&t, PFW_OP_Clip, 11);
  tn_in(&t, PFW_INT64, xi, DIMS(3));
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_UNSUPPORTED);
  CHECK_ERROR_HAS("input 0 has dtype int64");
}

static void test_softmax_family(void) {
  /* Hardmax picks the first maximum; LogSoftmax of equal values is -log(n). */
  float x[6] = {1, 3, 3, 2, 2, 2};
  tnode t;
  tn_init(&t, PFW_OP_Hardmax, 13);
  F32(&t, x, 2, 3);
  CHECK_OK(tn_exec(&t));
  float want[6] = {0, 1, 0, 1, 0, 0};
  CHECK(memcmp(t.tout[0].data, want, sizeof want) == 0);
  tn_free(&t);
  tn_init(&t, PFW_OP_LogSoftmax, 13);
  F32(&t, x, 2, 3);
  CHECK_OK(tn_exec(&t));
  float l3 = -logf(3);
  CHECK_CLOSE((float*)t.tout[0].data + 3, ((float[]){l3, l3, l3}), 3, 1e-6, 1e-7);
  tn_free(&t);
  tn_init(&t, PFW_OP_LogSoftmax, 13);
  F32(&t, x, 2, 3);
  tn_int(&t, "axis", 2);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_INVALID_MODEL);
}

/* ---- binary, variadic, comparisons, Where ------------------------------------------ */

static void test_mod(void) {
  int32_t a[4] = {INT32_MIN, -7, 7, -7};
  int32_t b[4] = {-1, 3, -3, -3};
  tnode t;
  tn_init(&t, PFW_OP_Mod, 13);
  tn_in(&t, PFW_INT32, a, DIMS(4));
  tn_in(&t, PFW_INT32, b, DIMS(4));
  CHECK_OK(tn_exec(&t)); /* Python-style: the divisor's sign */
  const int32_t* y = t.tout[0].data;
  CHECK(y[0] == 0 && y[1] == 2 && y[2] == -2 && y[3] == -1);
  tn_free(&t);
  tn_init(&t, PFW_OP_Mod, 13);
  tn_in(&t, PFW_INT32, a, DIMS(4));
  tn_in(&t, PFW_INT32, b, DIMS(4));
  tn_int(&t, "fmod", 1);
  CHECK_OK(tn_exec(&t)); /* C-style: the dividend's sign */
  y = t.tout[0].data;
  CHECK(y[0] == 0 && y[1] == -1 && y[2] == 1 && y[3] == -1);
  tn_free(&t);
  int32_t z[1] = {0};
  tn_init(&t, PFW_OP_Mod, 13);
  tn_in(&t, PFW_INT32, a, DIMS(4));
  tn_in(&t, PFW_INT32, z, DIMS(1));
  CHECK_STATUS(tn_exec(&t), PFW_ERR_INVALID_ARGUMENT);
  CHECK_ERROR_HAS("by zero");
  tn_free(&t);
  float f[2] = {1, 2};
  tn_init(&t, PFW_OP_Mod, 13);
  F32(&t, f, 2);
  F32(&t, f, 2);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_INVALID_MODEL);
  CHECK_ERROR_HAS("fmod");
  /* Mod-28 allows floor modulo of floats, with ONNX's signed-zero and
   * infinity rules. */
  float fx[6] = {-7, 7, 0, -0.0f, 5, 5}, fy[6] = {3, -3, -2, 2, -INFINITY, INFINITY};
  tn_init(&t, PFW_OP_Mod, 28);
  F32(&t, fx, 6);
  F32(&t, fy, 6);
  CHECK_OK(tn_exec(&t));
  const float* fo = t.tout[0].data;
  CHECK(fo[0] == 2 && fo[1] == -2 && fo[2] == 0 && signbit(fo[2]) && fo[3] == 0 && !signbit(fo[3]));
  CHECK(isinf(fo[4]) && fo[4] < 0 && fo[5] == 5);
  tn_free(&t);
}

static void test_binary_errors(void) {
  int32_t xi[2] = {1, 2};
  float f[6] = {1, 2, 3, 4, 5, 6};
  tnode t;
  tn_init(&t, PFW_OP_Pow, 15);
  tn_in(&t, PFW_UINT8, xi, DIMS(2));
  F32(&t, f, 2);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_UNSUPPORTED);
  CHECK_ERROR_HAS("input 0 (base) has dtype uint8");
  tn_init(&t, PFW_OP_Pow, 15);
  F32(&t, f, 2);
  tn_in(&t, PFW_BOOL, xi, DIMS(2));
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_UNSUPPORTED);
  CHECK_ERROR_HAS("input 1 (exponent) has dtype bool");
  /* PRelu's slope must broadcast to X, not widen it. */
  tn_init(&t, PFW_OP_PRelu, 16);
  F32(&t, f, 3);
  F32(&t, f, 2, 3);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_SHAPE);
  CHECK_ERROR_HAS("slope");
  tn_init(&t, PFW_OP_Less, 13);
  F32(&t, f, 2);
  tn_in(&t, PFW_INT32, xi, DIMS(2));
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_UNSUPPORTED);
  CHECK_ERROR_HAS("input 1 has dtype int32");
  tn_init(&t, PFW_OP_And, 7);
  F32(&t, f, 2);
  F32(&t, f, 2);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_UNSUPPORTED);
  CHECK_ERROR_HAS("supported: bool");
  tn_init(&t, PFW_OP_Sum, 13);
  tn_in(&t, PFW_INT32, xi, DIMS(2));
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_UNSUPPORTED);
  tn_init(&t, PFW_OP_Where, 16);
  F32(&t, f, 2);
  F32(&t, f, 2);
  F32(&t, f, 2);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_UNSUPPORTED);
  CHECK_ERROR_HAS("input 0 has dtype float32, expected bool");
}

/* Where over three broadcast shapes with 2-byte elements (a dtype no other
 * op here handles), against a plain loop. */
static void test_where_three_way(void) {
  bool c[2] = {true, false};       /* (2, 1, 1) */
  int16_t x[3] = {1, 2, 3};        /* (3, 1) */
  int16_t y[4] = {-1, -2, -3, -4}; /* (4) */
  tnode t;
  tn_init(&t, PFW_OP_Where, 16);
  tn_in(&t, PFW_BOOL, c, DIMS(2, 1, 1));
  tn_in(&t, PFW_INT16, x, DIMS(3, 1));
  tn_in(&t, PFW_INT16, y, DIMS(4));
  CHECK_OK(tn_exec(&t));
  CHECK_SHAPE(&t.tout[0], 2, 3, 4);
  const int16_t* o = t.tout[0].data;
  int bad = 0;
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 3; j++)
      for (int k = 0; k < 4; k++) bad += o[(i * 3 + j) * 4 + k] != (c[i] ? x[j] : y[k]);
  CHECK(bad == 0);
  tn_free(&t);
}

/* Variadic Max over a scalar, a row and a column: the first input is the
 * smallest, so the output starts as its broadcast copy. */
static void test_variadic_broadcast(void) {
  float s = 0.5f, row[3] = {0, 1, 2}, col[2] = {-1, 3};
  tnode t;
  tn_init(&t, PFW_OP_Max, 13);
  F32(&t, &s, 1);
  F32(&t, row, 3);
  F32(&t, col, 2, 1);
  CHECK_OK(tn_exec(&t));
  CHECK_SHAPE(&t.tout[0], 2, 3);
  float want[6] = {0.5f, 1, 2, 3, 3, 3};
  CHECK(memcmp(t.tout[0].data, want, sizeof want) == 0);
  tn_free(&t);
}

/* ---- reductions ------------------------------------------------------------------- */

static void test_reduce_axes(void) {
  float x[24];
  for (int i = 0; i < 24; i++) x[i] = (float)i;
  int64_t axes[2] = {-1, 0};
  tnode t;
  /* Axes from a constant input (opset 18), negative and unsorted. */
  tn_init(&t, PFW_OP_ReduceMax, 18);
  F32(&t, x, 2, 3, 4);
  tn_in(&t, PFW_INT64, axes, DIMS(2))->is_const = true;
  tn_int(&t, "keepdims", 0);
  CHECK_OK(tn_exec(&t));
  CHECK_SHAPE(&t.tout[0], 3);
  CHECK_CLOSE((float*)t.tout[0].data, ((float[]){15, 19, 23}), 3, 0, 0);
  tn_free(&t);
  /* Attribute axes (opset 13) with keepdims. */
  tn_init(&t, PFW_OP_ReduceSumSquare, 13);
  F32(&t, x, 2, 3, 4);
  INTS(&t, "axes", 1);
  CHECK_OK(tn_exec(&t));
  CHECK_SHAPE(&t.tout[0], 2, 1, 4);
  CHECK(((float*)t.tout[0].data)[0] == 0 + 16 + 64);
  tn_free(&t);
  /* Axes computed at run time: the output shape is unknown when planning, so
   * prepare defers the node to invoke, where every input's values are known. */
  tn_init(&t, PFW_OP_ReduceSum, 13);
  F32(&t, x, 2, 3, 4);
  tn_in(&t, PFW_INT64, axes, DIMS(2));
  CHECK_STATUS(tn_prepare(&t), PFW_DEFER);
  t.node.values_known = true;
  CHECK_OK(tn_exec(&t));
  CHECK_SHAPE(&t.tout[0], 1, 3, 1);
  CHECK_CLOSE((float*)t.tout[0].data, ((float[]){60, 92, 124}), 3, 0, 0); /* sum of 12i + 4j + k over i, k */
  tn_free(&t);
  int64_t twice[2] = {1, -2};
  tn_init(&t, PFW_OP_ReduceSum, 13);
  F32(&t, x, 2, 3, 4);
  tn_in(&t, PFW_INT64, twice, DIMS(2))->is_const = true;
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_INVALID_MODEL);
  CHECK_ERROR_HAS("twice");
  tn_free(&t);
  tn_init(&t, PFW_OP_ReduceMean, 13);
  F32(&t, x, 2, 3, 4);
  INTS(&t, "axes", 3);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_INVALID_MODEL);
  CHECK_ERROR_HAS("axes");
  tn_free(&t);
  int32_t xi[2] = {1, 2};
  tn_init(&t, PFW_OP_ReduceL2, 13);
  tn_in(&t, PFW_INT32, xi, DIMS(2));
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_UNSUPPORTED);
  CHECK_ERROR_HAS("input 0 has dtype int32");
  tn_free(&t);
}

/* Over an empty set: float Sum is 0 and Max -inf; int Max has no value. */
static void test_reduce_empty(void) {
  tnode t;
  tn_init(&t, PFW_OP_ReduceMax, 13);
  tn_in(&t, PFW_FLOAT32, NULL, DIMS(2, 0));
  INTS(&t, "axes", 1);
  CHECK_OK(tn_exec(&t));
  CHECK_SHAPE(&t.tout[0], 2, 1);
  CHECK(isinf(((float*)t.tout[0].data)[0]) && ((float*)t.tout[0].data)[0] < 0);
  tn_free(&t);
  tn_init(&t, PFW_OP_ReduceSum, 11);
  tn_in(&t, PFW_INT64, NULL, DIMS(2, 0));
  INTS(&t, "axes", 1);
  CHECK_OK(tn_exec(&t));
  CHECK(((int64_t*)t.tout[0].data)[1] == 0);
  tn_free(&t);
  tn_init(&t, PFW_OP_ReduceMin, 11);
  tn_in(&t, PFW_INT64, NULL, DIMS(2, 0));
  INTS(&t, "axes", 1);
  CHECK_OK(tn_prepare(&t));
  CHECK_STATUS(tn_run(&t), PFW_ERR_INVALID_ARGUMENT);
  tn_free(&t);
}

static void test_argmax_ties(void) {
  float x[6] = {1, 3, 3, 2, 2, 0};
  tnode t;
  for (int last = 0; last < 2; last++) {
    tn_init(&t, PFW_OP_ArgMax, 13);
    F32(&t, x, 2, 3);
    tn_int(&t, "axis", -1);
    tn_int(&t, "select_last_index", last);
    tn_int(&t, "keepdims", 0);
    CHECK_OK(tn_exec(&t));
    CHECK(t.tout[0].dtype == PFW_INT64);
    CHECK_SHAPE(&t.tout[0], 2);
    const int64_t* y = t.tout[0].data;
    CHECK(y[0] == (last ? 2 : 1) && y[1] == (last ? 1 : 0));
    tn_free(&t);
  }
  tn_init(&t, PFW_OP_ArgMin, 13);
  tn_in(&t, PFW_FLOAT32, NULL, DIMS(3, 0));
  tn_int(&t, "axis", 1);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_SHAPE);
  tn_free(&t);
}

/* ---- normalisations ---------------------------------------------------------------- */

static void test_norm_errors(void) {
  float x[12] = {0}, p[4] = {1, 1, 1, 1};
  tnode t;
  tn_init(&t, PFW_OP_GroupNormalization, 18);
  F32(&t, x, 1, 4, 3);
  F32(&t, p, 2), F32(&t, p, 2);
  tn_int(&t, "num_groups", 2);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_UNSUPPORTED);
  CHECK_ERROR_HAS("GroupNormalization-18");
  tn_init(&t, PFW_OP_GroupNormalization, 21);
  F32(&t, x, 1, 4, 3);
  F32(&t, p, 4), F32(&t, p, 4);
  tn_int(&t, "num_groups", 3);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_INVALID_MODEL);
  CHECK_ERROR_HAS("num_groups");
  tn_init(&t, PFW_OP_InstanceNormalization, 6);
  F32(&t, x, 1, 4, 3);
  F32(&t, p, 3), F32(&t, p, 4);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_SHAPE);
  CHECK_ERROR_HAS("input 1 (scale) has 3 values, expected 4");
  tn_init(&t, PFW_OP_LayerNormalization, 17);
  F32(&t, x, 3, 4);
  F32(&t, p, 3);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_SHAPE);
  CHECK_ERROR_HAS("Scale");
  tn_init(&t, PFW_OP_LpNormalization, 1);
  F32(&t, x, 3, 4);
  tn_int(&t, "p", 3);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_INVALID_MODEL);
  CHECK_ERROR_HAS("'p'");
}

/* A constant block normalises to 0 (not NaN), and an all-zero Lp row to 0. */
static void test_norm_constant_input(void) {
  float x[6] = {2, 2, 2, 0, 0, 0}, s[3] = {1, 1, 1}, b[3] = {0.5f, 0.5f, 0.5f};
  tnode t;
  tn_init(&t, PFW_OP_LayerNormalization, 17);
  F32(&t, x, 2, 3);
  F32(&t, s, 3), F32(&t, b, 3);
  CHECK_OK(tn_exec(&t));
  CHECK_CLOSE((float*)t.tout[0].data, ((float[]){0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f}), 6, 0, 0);
  tn_free(&t);
  tn_init(&t, PFW_OP_LpNormalization, 1);
  F32(&t, x, 2, 3);
  CHECK_OK(tn_exec(&t));
  float r3 = 1 / sqrtf(3);
  CHECK_CLOSE((float*)t.tout[0].data, ((float[]){r3, r3, r3, 0, 0, 0}), 6, 1e-6, 0);
  tn_free(&t);
}

int main(void) {
  test_round_half_to_even();
  test_integer_wrap();
  test_bool_ops();
  test_dtype_errors();
  test_activation_attrs();
  test_clip();
  test_softmax_family();
  test_mod();
  test_binary_errors();
  test_where_three_way();
  test_variadic_broadcast();
  test_reduce_axes();
  test_reduce_empty();
  test_argmax_ties();
  test_norm_errors();
  test_norm_constant_input();
  TEST_MAIN_END();
}
