/* The integer ops' vector rows at every ISA this CPU runs, against
 * oracles written here from their definitions:
 * - requantisation (qgemm.h requant_row): y = clamp(round_half_even(x m)
 *   + zero, lo, hi) with m = mant 2^-shift, computed in int64 (x mant,
 *   then the shift with half-to-even rounding by the remainder), on
 *   random values, exact halves and values one unit either side of a
 *   half, every length to 130 (the 16- and 64-lane tails), uint8 and int8
 *   outputs, zero points and clamps as Relu fusion sets them;
 * - the byte path's im2col step (interleave4_u8): quads of four rows at
 *   strides 1, 2 and 3, any span (to 190 columns at stride 1), bytes
 *   outside the span untouched;
 * - the depthwise input row widened to int16 (qwiden_row), whole and split
 *   by column parity, every width to 130, nothing written past it; the
 *   same as bytes (qsplit_row), every width to 260;
 * - the byte depthwise run (qdw_u8_row, AVX512-VNNI): 1 to 64 taps at
 *   scattered offsets against the sum written out. */
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
    row(c, n, 1, n, bias, m, zero, lo, hi, y, n, is_signed);
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
    /* the same values as rows: cols of every ldc = cols + 1 to ldy = cols + 2, the gaps untouched */
    int64_t cols = n / 3, ldc = cols + 1, ldy = cols + 2;
    if (cols == 0 || bad) continue;
    uint8_t y2[3 * (43 + 2)];
    memset(y2, 0xA5, sizeof y2);
    row(c, ldc, n / ldc, cols, bias, m, zero, lo, hi, y2, ldy, is_signed);
    for (int64_t j = 0; j < (int64_t)sizeof y2 && !bad; j++) {
      int64_t r = j / ldy, k = j % ldy;
      bool kept = r < n / ldc && k < cols;
      int32_t want = kept ? oracle(c[r * ldc + k] + bias, mant, shift, zero, lo, hi) : 0xA5;
      int32_t got = kept && is_signed ? (int8_t)y2[j] : y2[j];
      if (got != want) {
        fprintf(stderr, "requant %s: %lld rows of %lld, byte %lld: got %d, want %d\n", pfw_isa_name(isa),
                (long long)(n / ldc), (long long)cols, (long long)j, (int)got, (int)want);
        bad = 1;
      }
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
  uint8_t d[190 * 4], want[190 * 4];
  for (int trial = 0; trial < 3000 && !bad; trial++) {
    int64_t sx = 1 + trial % 3;
    /* stride 1 past 64 columns: the 64-column steps, then the 16-column tail */
    int64_t hi = 1 + (int64_t)(urand() % (sx == 1 ? 190 : 64)), lo = (int64_t)(urand() % (uint32_t)hi);
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

/* qsplit_row: the same rows as bytes, nothing written past them. */
static int check_split(pfw_isa isa) {
  pfw_qsplit_row_fn fn = pfw_qsplit_row_for(isa);
  uint8_t s[260], got[2][140], want[2][140];
  int bad = 0;
  for (int trial = 0; trial < 1040 && !bad; trial++) {
    int64_t w = 1 + trial % 260;
    bool split = trial / 260 % 2;
    uint8_t flip = trial / 520 % 2 ? 0x80 : 0;
    for (int64_t i = 0; i < w; i++) s[i] = (uint8_t)urand();
    uint8_t* e = split ? got[0] : malloc((size_t)w + 8);
    uint8_t* we = split ? want[0] : malloc((size_t)w + 8);
    memset(got, 0xA5, sizeof got), memset(want, 0xA5, sizeof want);
    if (!split) memset(e, 0xA5, (size_t)w + 8), memset(we, 0xA5, (size_t)w + 8);
    for (int64_t i = 0; i < w; i++) {
      if (!split) we[i] = s[i] ^ flip;
      else want[i % 2][i / 2] = s[i] ^ flip;
    }
    fn(e, split ? got[1] : NULL, 0, s, 0, 1, w, flip);
    if (split ? memcmp(got, want, sizeof got) != 0 : memcmp(e, we, (size_t)w + 8) != 0) {
      fprintf(stderr, "split %s: width %lld%s differs\n", pfw_isa_name(isa), (long long)w, split ? " (split)" : "");
      bad = 1;
    }
    if (!split) free(e), free(we);
  }
  /* three rows at once: sources w + 5 apart, destinations ld apart, the gaps untouched */
  for (int trial = 0; trial < 260 && !bad; trial++) {
    int64_t w = 1 + trial % 130, ld = w + 3, lds = w + 5;
    bool split = trial >= 130;
    uint8_t src[3 * 135], out[2][3 * 133], ref[2][3 * 133];
    for (int64_t i = 0; i < 3 * lds; i++) src[i] = (uint8_t)urand();
    memset(out, 0xA5, sizeof out), memset(ref, 0xA5, sizeof ref);
    for (int64_t r = 0; r < 3; r++)
      for (int64_t i = 0; i < w; i++) {
        if (split) ref[i % 2][r * ld + i / 2] = src[r * lds + i] ^ 0x80;
        else ref[0][r * ld + i] = src[r * lds + i] ^ 0x80;
      }
    fn(out[0], split ? out[1] : NULL, ld, src, lds, 3, w, 0x80);
    if (memcmp(out, ref, sizeof out) != 0) {
      fprintf(stderr, "split %s: 3 rows of width %lld%s differ\n", pfw_isa_name(isa), (long long)w, split ? " (split)" : "");
      bad = 1;
    }
  }
  return bad;
}

/* qdw_u8_row where the ISA has it: 1 to 64 taps at scattered offsets,
 * against the sum written out (uint8 times int8 over the whole ranges). */
static int check_dw_u8(pfw_isa isa) {
  pfw_qdw_u8_row_fn fn = pfw_qdw_u8_row_for(isa);
  if (!fn) return 0;
  enum { SPAN = 4096 };
  uint8_t* u = malloc(SPAN + 256);
  int32_t out[256];
  int bad = 0;
  for (int64_t i = 0; i < SPAN + 256; i++) u[i] = (uint8_t)urand();
  for (int trial = 0; trial < 200 && !bad; trial++) {
    int32_t taps = 1 + trial % 64;
    int64_t n = 64 * (1 + trial % 4), off[64];
    int8_t w[64];
    for (int32_t t = 0; t < taps; t++) off[t] = urand() % (SPAN - 256), w[t] = (int8_t)urand();
    int32_t init = (int32_t)urand() % 100000;
    fn(out, u, off, w, taps, init, n);
    for (int64_t j = 0; j < n && !bad; j++) {
      int32_t want = init;
      for (int32_t t = 0; t < taps; t++) want += w[t] * u[off[t] + j];
      if (out[j] != want) {
        fprintf(stderr, "dw_u8 %s: taps %d, out[%lld] = %d, want %d\n", pfw_isa_name(isa), (int)taps, (long long)j,
                out[j], want);
        bad = 1;
      }
    }
  }
  free(u);
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
    CHECK(check_split(ISAS[i]) == 0);
    CHECK(check_dw_u8(ISAS[i]) == 0);
    printf("%s: requant, interleave, widen, split rows%s checked\n", pfw_isa_name(ISAS[i]),
           pfw_qdw_u8_row_for(ISAS[i]) ? " and the byte depthwise row" : "");
  }
  TEST_MAIN_END();
}
