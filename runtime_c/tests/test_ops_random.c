/* Random ops: golden values from NumPy's Philox generator
 * (numpy.random.Generator(numpy.random.Philox(key=42)).random(6) and
 * .random(6, dtype=numpy.float32)), the stream continuing from run to run,
 * moments of the normal draws, and Multinomial's refusals. */
#include <math.h>

#include "op_harness.h"
#include "ops/ops_common.h"

/* A node drawing `n` values of `dtype` with seed 42. */
static void seeded(tnode* t, uint16_t op, pfw_dtype dtype, int64_t n) {
  tn_init(t, op, 1);
  tn_int(t, "dtype", dtype);
  tn_float(t, "seed", 42.0f);
  tn_ints(t, "shape", 1, &n);
}

static void test_uniform_is_numpy_philox(void) {
  static const double want64[6] = {0x1.a3f102fa9ac51p-1, 0x1.839335b2e643cp-3, 0x1.bc3e09cfe109dp-1,
                                   0x1.940d2a39e3346p-2, 0x1.78f6aa25870f8p-2, 0x1.bcdf7a92812f4p-2};
  static const float want32[6] = {0x1.358a2p-2f, 0x1.a3f102p-1f, 0x1.7321e4p-2f,
                                  0x1.83933p-3f, 0x1.e109dap-1f, 0x1.bc3e08p-1f};
  tnode t;
  seeded(&t, PFW_OP_RandomUniform, PFW_FLOAT64, 6);
  CHECK_OK(tn_exec(&t));
  CHECK(memcmp(t.tout[0].data, want64, sizeof want64) == 0);
  tn_free(&t);
  seeded(&t, PFW_OP_RandomUniform, PFW_FLOAT32, 6);
  CHECK_OK(tn_exec(&t));
  CHECK(memcmp(t.tout[0].data, want32, sizeof want32) == 0);
  /* The next run continues at the next block: new values. */
  float first[6];
  memcpy(first, t.tout[0].data, sizeof first);
  CHECK_OK(tn_run(&t));
  CHECK(memcmp(t.tout[0].data, first, sizeof first) != 0);
  tn_free(&t);
}

static void test_uniform_range_and_half_types(void) {
  tnode t;
  for (int k = 0; k < 2; k++) {
    pfw_dtype dt = k ? PFW_BFLOAT16 : PFW_FLOAT16;
    seeded(&t, PFW_OP_RandomUniform, dt, 4001); /* odd: a block's tail */
    tn_float(&t, "low", -3.0f);
    tn_float(&t, "high", 5.0f);
    CHECK_OK(tn_exec(&t));
    const uint16_t* y = t.tout[0].data;
    double sum = 0;
    for (int i = 0; i < 4001; i++) {
      float v = k ? pfw_bf16_to_float(y[i]) : pfw_half_to_float(y[i]);
      CHECK(v >= -3.0f && v <= 5.0f);
      sum += v;
    }
    CHECK(fabs(sum / 4001 - 1.0) < 5 * 8 / sqrt(12.0 * 4001)); /* mean 1, sd 8/sqrt(12) */
    tn_free(&t);
  }
}

static void test_normal_moments(void) {
  enum { N = 20001 };
  tnode t;
  seeded(&t, PFW_OP_RandomNormal, PFW_FLOAT64, N);
  tn_float(&t, "mean", 2.0f);
  tn_float(&t, "scale", 3.0f);
  CHECK_OK(tn_exec(&t));
  const double* y = t.tout[0].data;
  double s1 = 0, s2 = 0;
  for (int i = 0; i < N; i++) {
    CHECK(isfinite(y[i]));
    s1 += (y[i] - 2) / 3, s2 += (y[i] - 2) * (y[i] - 2) / 9;
  }
  CHECK(fabs(s1 / N) < 5 / sqrt((double)N));
  CHECK(fabs(s2 / N - 1) < 5 * sqrt(2.0 / N));
  tn_free(&t);
}

static void test_refusals(void) {
  tnode t;
  seeded(&t, PFW_OP_RandomNormal, PFW_INT32, 3);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_UNSUPPORTED);
  CHECK_ERROR_HAS("not a float type");
  tn_init(&t, PFW_OP_RandomUniform, 1);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_INVALID_MODEL);
  CHECK_ERROR_HAS("'shape' is required");
  tn_init(&t, PFW_OP_RandomUniform, 1);
  INTS(&t, "shape", 2, -1);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_INVALID_MODEL);
  CHECK_ERROR_HAS("shape[1] is -1");

  float x[6] = {0, 1, 2, NAN, NAN, NAN};
  tn_init(&t, PFW_OP_Multinomial, 7);
  F32(&t, x, 6);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_SHAPE);
  CHECK_ERROR_HAS("(batch, classes)");
  tn_init(&t, PFW_OP_Multinomial, 7);
  F32(&t, x, 2, 3);
  tn_int(&t, "sample_size", 0);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_INVALID_MODEL);
  CHECK_ERROR_HAS("sample_size");
  tn_init(&t, PFW_OP_Multinomial, 7);
  F32(&t, x, 2, 3);
  tn_int(&t, "sample_size", 5);
  tn_int(&t, "dtype", PFW_INT64);
  CHECK_STATUS(tn_exec(&t), PFW_ERR_INVALID_ARGUMENT);
  CHECK_ERROR_HAS("row 1 of input 0");
  const int64_t* y = t.tout[0].data; /* row 0 was drawn before row 1 failed */
  for (int s = 0; s < 5; s++) CHECK(y[s] >= 0 && y[s] < 3);
  tn_free(&t);
}

int main(void) {
  test_uniform_is_numpy_philox();
  test_uniform_range_and_half_types();
  test_normal_moments();
  test_refusals();
  TEST_MAIN_END();
}
