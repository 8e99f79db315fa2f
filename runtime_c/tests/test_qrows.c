/* The integer ops' vector rows at every ISA this CPU runs, against
 * oracles written here from their definitions:
 * - requantisation (qgemm.h requant_row): y = clamp(round_half_even(x m)
 *   + zero, lo, hi) with m = mant 2^-shift, computed in int64 (x mant,
 *   then the shift with half-to-even rounding by the remainder), on
 *   random values, exact halves and values one unit either side of a
 *   half, every length to 130 (the 16- and 64-lane tails), uint8 and int8
 *   outputs, zero points and clamps as Relu fusion sets them;
 * - the byte path's im2col step (interleave4_u8): quads of four rows at
 *   strides 1, 2 and 3, any span, bytes outside the span untouched;
 * - the depthwise input row widened to int16 (qwiden_row), whole and split
 *   by column parity, every width to 130, nothing written past it. */
#include <stdlib.h>

#include "kernels/qgemm.h"
#include "ops/quant.h"
#include "test_util.h"

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static uint32_t urand(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 32);
}

static const pfw_isa ISAS[] = {PFW_ISA_SCALAR, PFW_ISA_AVX2, PFW_ISA_AVX512, PFW_ISA_NEON};

static int32_t oracle(int32_t x, int64_t mant, int shift, int32_t zero, int32_t lo, int32_t hi) {
  int64_t p = (int64_t)x * mant, unit = INT64_C(1) << shift, half = unit >> 1;
  int64_t q = p >= 0 ? p / unit : -((-p + unit - 1) / unit); /* floor */
  int64_t rem = p - q * unit;
  if (rem > half || (rem == half && (q & 1))) q++;
  int64_t v = q + zero;
  return (int32_t)(v < lo ? lo : v > hi ? hi : v);
}

static int check_requant(pfw_isa isa) {
  pfw_requant_row_fn row = pfw_requant_row_for(isa);
  int bad = 0;
  int32_t c[130];
  uint8_t y[130 + 16];
  for (int trial = 0; trial < 600 && !bad; trial++) {
    int shift = 8 + (int)(urand() % 30);                    /* m from about 2^-14 to 2^7 */
    int64_t mant = (int64_t)(urand() % (1u << 23)) | (1 << 23); /* 24 bits, as pfw_requant_of makes */
    if (trial % 7 == 0) { /* a power of two: exact halves exist */
      mant = 1 << 23;
      shift = 24 + (int)(urand() % 14);
    }
    double m = ldexp((double)mant, -shift);
    bool is_signed = trial % 2;
    int32_t lo = is_signed ? -128 : 0, hi = is_signed ? 127 : 255;
    int32_t zero = lo + (int32_t)(urand() % 256);
    if (trial % 5 == 0) lo = zero; /* a fused Relu */
    int32_t bias = (int32_t)(urand() % 2001) - 1000;
    int64_t n = 1 + trial % 130;
    /* |x| < 2^29 (requant_row's contract), and the outputs mostly in range */
    int64_t reach = (int64_t)ldexp(300.0, shift) / mant + 1;
    if (reach > (1 << 28)) reach = 1 << 28;
    for (int64_t j = 0; j < n; j++) {
      int64_t x = (int64_t)(urand() % (uint32_t)(2 * reach + 1)) - reach;
      int kind = (int)(urand() % 4);
      if (kind >= 2 && shift < 40) {
        /* near x m = k + 1/2: x = (k + 1/2) 2^shift / mant, then the exact
         * half where one exists, else the integers either side */
        int64_t k = (int64_t)(urand() % 600) - 300;
        int64_t num = (2 * k + 1) * (INT64_C(1) << (shift - 1));
        x = num / mant + (kind == 3 ? 1 : 0);
      }
      if (x > (1 << 28)) x = 1 << 28;
      if (x < -(1 << 28)) x = -(1 << 28);
      c[j] = (int32_t)(x - bias);
    }
    memset(y, 0xA5, sizeof y);
    row(c, n, bias, m, zero, lo, hi, y, is_signed);
    for (int64_t j = 0; j < n && !bad; j++) {
      int32_t want = oracle(c[j] + bias, mant, shift, zero, lo, hi);
      int32_t got = is_signed ? (int8_t)y[j] : y[j];
      if (got != want) {
        fprintf(stderr, "requant %s: x=%d m=%lld*2^-%d zero=%d [%d, %d]: got %d, want %d\n", pfw_isa_name(isa),
                (int)(c[j] + bias), (long long)mant, shift, (int)zero, (int)lo, (int)hi, (int)got, (int)want);
        bad = 1;
      }
    }
    for (int64_t j = n; j < (int64_t)sizeof y && !bad; j++)
      if (y[j] != 0xA5) {
        fprintf(stderr, "requant %s: wrote past n = %lld\n", pfw_isa_name(isa), (long long)n);
        bad = 1;
      }
  }
  return bad;
}

static int check_interleave(pfw_isa isa) {
  pfw_interleave4_u8_fn fn = pfw_interleave4_u8_for(isa);
  enum { W = 200 };
  uint8_t* rows[4];
  for (int t = 0; t < 4; t++) {
    rows[t] = malloc(W);
    for (int i = 0; i < W; i++) rows[t][i] = (uint8_t)urand();
  }
  int bad = 0;
  uint8_t d[64 * 4], want[64 * 4];
  for (int trial = 0; trial < 3000 && !bad; trial++) {
    int64_t sx = 1 + trial % 3;
    int64_t hi = 1 + (int64_t)(urand() % 64), lo = (int64_t)(urand() % (uint32_t)hi);
    int64_t room = W - (hi - 1) * sx; /* the last column read stays in the row */
    const uint8_t* s[4];
    for (int t = 0; t < 4; t++) s[t] = rows[t] + urand() % (uint32_t)room;
    uint8_t flip = trial % 2 ? 0x80 : 0;
    memset(d, 0x3C, sizeof d);
    memset(want, 0x3C, sizeof want);
    for (int64_t c = lo; c < hi; c++)
      for (int t = 0; t < 4; t++) want[c * 4 + t] = s[t][c * sx] ^ flip;
    fn(d, s, lo, hi, sx, flip);
    if (memcmp(d, want, sizeof d) != 0) {
      fprintf(stderr, "interleave4 %s: stride %lld, columns [%lld, %lld) differ\n", pfw_isa_name(isa),
              (long long)sx, (long long)lo, (long long)hi);
      bad = 1;
    }
  }
  for (int t = 0; t < 4; t++) free(rows[t]);
  return bad;
}

static int check_widen(pfw_isa isa) {
  pfw_qwiden_row_fn fn = pfw_qwiden_row_for(isa);
  uint8_t s[130];
  int16_t even[80 + 8], odd[80 + 8], we[80 + 8], wo[80 + 8];
  int bad = 0;
  for (int trial = 0; trial < 520 && !bad; trial++) {
    int64_t w = 1 + trial % 130;
    bool split = trial / 130 % 2;
    uint8_t flip = trial / 260 % 2 ? 0x80 : 0;
    int32_t zero = (int32_t)(urand() % 256);
    for (int64_t i = 0; i < w; i++) s[i] = (uint8_t)urand();
    int16_t* e = split ? even : malloc(sizeof(int16_t) * (size_t)(w + 8));
    int16_t* want = split ? we : malloc(sizeof(int16_t) * (size_t)(w + 8));
    for (int i = 0; i < 80 + 8; i++) even[i] = odd[i] = we[i] = wo[i] = 0x5A5A;
    for (int64_t i = 0; i < w + 8 && !split; i++) e[i] = want[i] = 0x5A5A;
    for (int64_t i = 0; i < w; i++) {
      int16_t v = (int16_t)((s[i] ^ flip) - zero);
      if (!split) want[i] = v;
      else if (i % 2) wo[i / 2] = v;
      else we[i / 2] = v;
    }
    fn(e, split ? odd : NULL, s, w, flip, zero);
    size_t len = sizeof(int16_t) * (size_t)(split ? 80 + 8 : w + 8);
    if (memcmp(e, want, len) != 0 || (split && memcmp(odd, wo, len) != 0)) {
      fprintf(stderr, "widen %s: width %lld%s differs\n", pfw_isa_name(isa), (long long)w, split ? " (split)" : "");
      bad = 1;
    }
    if (!split) free(e), free(want);
  }
  return bad;
}

/* pfw_requant_apply where acc * mant leaves int64 (accumulators a fuzzed
 * model made): closed forms, rounding half to even, cut at +-2^40. */
static void check_requant_wide(void) {
  const int64_t e40 = INT64_C(1) << 40, e19 = INT64_C(1) << 19;
  const struct {
    int64_t acc;
    float m;
    int64_t want;
  } cases[] = {
      {3 * e40 + e19, 0x1p-20f, 3 << 20},                   /* 3 * 2^20 + 1/2: even stays */
      {3 * e40 + 3 * e19, 0x1p-20f, (3 << 20) + 2},         /* + 3/2: up to even */
      {-(3 * e40 + e19), 0x1p-20f, -(3 << 20)},
      {INT64_C(1) << 50, 0.5f, e40},                        /* 2^49: cut */
      {-(INT64_C(1) << 62), 0x1p-30f, -(INT64_C(1) << 32)},
      {INT64_MIN, 1.0f, -e40},
      {INT64_C(1) << 45, 0x3p-40f, 96},
      {(INT64_C(1) << 39) - 1, 0x1.fffffep-40f, 1}, /* shift 63: 0.99999994 */
      {(INT64_C(1) << 38), 0x1p-40f, 0},            /* 1/4 */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int64_t got = pfw_requant_apply(cases[i].acc, pfw_requant_of(cases[i].m));
    CHECK(got == cases[i].want);
    if (got != cases[i].want)
      fprintf(stderr, "requant_apply(%lld, %a) = %lld, want %lld\n", (long long)cases[i].acc, cases[i].m,
              (long long)got, (long long)cases[i].want);
  }
}

int main(void) {
  check_requant_wide();
  for (size_t i = 0; i < sizeof ISAS / sizeof ISAS[0]; i++) {
    if (ISAS[i] != PFW_ISA_SCALAR && !pfw_cpu_supports(ISAS[i])) continue;
    CHECK(check_requant(ISAS[i]) == 0);
    CHECK(check_interleave(ISAS[i]) == 0);
    CHECK(check_widen(ISAS[i]) == 0);
    printf("%s: requant, interleave and widen rows checked\n", pfw_isa_name(ISAS[i]));
  }
  TEST_MAIN_END();
}
