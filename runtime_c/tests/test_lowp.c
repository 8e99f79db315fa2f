/* The low-precision conversions (ops/lowp.c) and Cast's integer rules,
 * checked by properties that need no second implementation: every float8
 * and float4 code decodes and re-encodes to itself, every tie between two
 * neighbours rounds to the even code, overflow follows ONNX's tables, and a
 * few anchor values. The bit-for-bit comparison with ml_dtypes over the
 * same ranges is tests/test_onnx_lowp.py; this runs on every ISA and under
 * qemu on aarch64. */
#include <math.h>

#include "op_harness.h"
#include "ops/ops_common.h"

static const pfw_dtype MINIS[] = {PFW_FLOAT8E4M3FN, PFW_FLOAT8E4M3FNUZ, PFW_FLOAT8E5M2, PFW_FLOAT8E5M2FNUZ,
                                  PFW_FLOAT4E2M1};

static int codes_of(pfw_dtype d) { return d == PFW_FLOAT4E2M1 ? 16 : 256; }

static void test_codes_round_trip(void) {
  for (size_t k = 0; k < sizeof MINIS / sizeof MINIS[0]; k++) {
    pfw_dtype d = MINIS[k];
    for (int c = 0; c < codes_of(d); c++) {
      float f = pfw_lowp_to_float(d, (uint8_t)c);
      if (isnan(f) || isinf(f)) continue;
      CHECK(pfw_float_to_lowp(d, f, false) == c);
      CHECK(pfw_float_to_lowp(d, f, true) == c);
    }
  }
}

/* Between two neighbouring positive codes c and c+1 the midpoint goes to
 * the even one; just above it to c+1, just below to c. */
static void test_ties_go_to_even(void) {
  for (size_t k = 0; k < sizeof MINIS / sizeof MINIS[0]; k++) {
    pfw_dtype d = MINIS[k];
    int half = codes_of(d) / 2;
    for (int c = 0; c + 1 < half; c++) {
      float a = pfw_lowp_to_float(d, (uint8_t)c), b = pfw_lowp_to_float(d, (uint8_t)(c + 1));
      if (!isfinite(a) || !isfinite(b)) continue;
      float m = (a + b) / 2;
      CHECK(pfw_float_to_lowp(d, m, true) == (c % 2 == 0 ? c : c + 1));
      CHECK(pfw_float_to_lowp(d, nextafterf(m, INFINITY), true) == c + 1);
      CHECK(pfw_float_to_lowp(d, nextafterf(m, 0), true) == c);
    }
  }
}

static void test_anchors_and_overflow(void) {
  CHECK(pfw_float_to_lowp(PFW_FLOAT8E4M3FN, 1.0f, true) == 0x38);
  CHECK(pfw_float_to_lowp(PFW_FLOAT8E5M2, 1.0f, true) == 0x3C);
  CHECK(pfw_float_to_lowp(PFW_FLOAT8E4M3FNUZ, 1.0f, true) == 0x40);
  CHECK(pfw_float_to_lowp(PFW_FLOAT8E5M2FNUZ, -1.0f, true) == 0xC0);
  CHECK(pfw_float_to_lowp(PFW_FLOAT4E2M1, -6.0f, true) == 0xF);
  CHECK(pfw_lowp_to_float(PFW_FLOAT8E4M3FN, 0x7E) == 448.0f && pfw_lowp_to_float(PFW_FLOAT8E5M2, 0x7B) == 57344.0f);
  CHECK(pfw_lowp_to_float(PFW_FLOAT8E4M3FNUZ, 0x7F) == 240.0f && isnan(pfw_lowp_to_float(PFW_FLOAT8E5M2FNUZ, 0x80)));
  CHECK(pfw_lowp_to_float(PFW_FLOAT8E4M3FN, 0x01) == ldexpf(1, -9)); /* the smallest subnormal */
  /* saturate: infinity and beyond the range give the largest value */
  CHECK(pfw_float_to_lowp(PFW_FLOAT8E4M3FN, INFINITY, true) == 0x7E);
  CHECK(pfw_float_to_lowp(PFW_FLOAT8E5M2, -1e9f, true) == 0xFB);
  /* not saturating: E5M2 overflows to infinity, the others to NaN */
  CHECK(pfw_float_to_lowp(PFW_FLOAT8E5M2, 1e9f, false) == 0x7C);
  CHECK(pfw_float_to_lowp(PFW_FLOAT8E5M2, -INFINITY, false) == 0xFC);
  CHECK(pfw_float_to_lowp(PFW_FLOAT8E4M3FN, -1e9f, false) == 0xFF);
  CHECK(pfw_float_to_lowp(PFW_FLOAT8E4M3FNUZ, 1e9f, false) == 0x80);
  CHECK(pfw_float_to_lowp(PFW_FLOAT8E4M3FN, 464.0f, false) == 0x7E); /* the tie below 480 rounds to 448 */
  CHECK(pfw_float_to_lowp(PFW_FLOAT8E4M3FN, 465.0f, false) == 0x7F);
  CHECK(pfw_float_to_lowp(PFW_FLOAT8E4M3FNUZ, -0.0f, false) == 0); /* FNUZ has no -0 */
  CHECK(pfw_float_to_lowp(PFW_FLOAT4E2M1, 1e9f, false) == 0x7);    /* E2M1 always saturates */
  /* E8M0: exponents, rounded as asked */
  CHECK(pfw_float_to_e8m0(1.0f, true, PFW_ROUND_UP) == 127 && pfw_float_to_e8m0(1.5f, true, PFW_ROUND_UP) == 128);
  CHECK(pfw_float_to_e8m0(1.5f, true, PFW_ROUND_DOWN) == 127 && pfw_float_to_e8m0(1.4f, true, PFW_ROUND_NEAREST) == 127);
  CHECK(pfw_float_to_e8m0(1.6f, true, PFW_ROUND_NEAREST) == 128 && pfw_float_to_e8m0(NAN, true, PFW_ROUND_UP) == 0xFF);
  CHECK(pfw_float_to_e8m0(3e38f, true, PFW_ROUND_UP) == 0xFE && pfw_float_to_e8m0(3e38f, false, PFW_ROUND_UP) == 0xFF);
  CHECK(pfw_lowp_to_float(PFW_FLOAT8E8M0, 130) == 8.0f && isnan(pfw_lowp_to_float(PFW_FLOAT8E8M0, 0xFF)));
  /* 4- and 2-bit integers: the low bits, sign-extended */
  CHECK(pfw_lowint_value(PFW_INT4, 0x0F) == -1 && pfw_lowint_value(PFW_INT4, 0xF7) == 7);
  CHECK(pfw_lowint_value(PFW_UINT4, 0xFF) == 15 && pfw_lowint_value(PFW_INT2, 0x02) == -2);
  CHECK(pfw_lowint_wrap(PFW_INT4, (uint64_t)-3) == 0x0D && pfw_lowint_wrap(PFW_UINT2, 7) == 3);
}

static void run_cast(pfw_dtype from, const void* x, int64_t n, pfw_dtype to, void* y, size_t ybytes) {
  tnode t;
  tn_init(&t, PFW_OP_Cast, 25);
  tn_in(&t, from, x, DIMS(n));
  tn_int(&t, "to", to);
  CHECK_OK(tn_exec(&t));
  CHECK(t.tout[0].dtype == to);
  memcpy(y, t.tout[0].data, ybytes);
  tn_free(&t);
}

/* ONNX: integer casts out of range keep the low bits (200 int16 -> -56 int8);
 * float -> int4 truncates, and is 0 out of range (as its reference). */
static void test_cast_integer_rules(void) {
  int16_t x[4] = {200, -200, 255, -1};
  int8_t y[4];
  run_cast(PFW_INT16, x, 4, PFW_INT8, y, sizeof y);
  CHECK(y[0] == -56 && y[1] == 56 && y[2] == -1 && y[3] == -1);
  uint8_t q[5];
  int32_t w[5] = {-9, -8, 7, 8, 23};
  run_cast(PFW_INT32, w, 5, PFW_INT4, q, sizeof q);
  CHECK(q[0] == 7 && q[1] == 8 && q[2] == 7 && q[3] == 8 && q[4] == 7);
  float f[6] = {-8.9f, 7.9f, 8.0f, -9.0f, NAN, 2.5f};
  run_cast(PFW_FLOAT32, f, 6, PFW_INT4, q, 5);
  CHECK(q[0] == 8 && q[1] == 7 && q[2] == 0 && q[3] == 0 && q[4] == 0);
  uint8_t raw[3] = {0xF8, 0x0F, 0x37};
  int64_t back[3];
  run_cast(PFW_INT4, raw, 3, PFW_INT64, back, sizeof back);
  CHECK(back[0] == -8 && back[1] == -1 && back[2] == 7);
}

int main(void) {
  test_codes_round_trip();
  test_ties_go_to_even();
  test_anchors_and_overflow();
  test_cast_integer_rules();
  TEST_MAIN_END();
}
