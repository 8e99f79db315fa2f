/* Element conversions for the low-precision dtypes: float8 (E4M3FN,
 * E4M3FNUZ, E5M2, E5M2FNUZ), float4 E2M1, E8M0 scales and 4-/2-bit
 * integers, one element per byte (pfw.h). The rules are ONNX Cast's (its
 * tables for float8 and E8M0); where the spec leaves a case open the
 * result is what ONNX's reference (ml_dtypes) gives, so models behave the
 * same here as there. */
#include <math.h>
#include <string.h>

#include "ops_common.h"

/* A float format of sign, E exponent and M mantissa bits. FN formats have
 * no infinity and one NaN pattern per sign (all bits set); FNUZ formats have
 * no infinity, no -0 and one NaN (the sign bit alone), with the bias one
 * higher; E2M1 has neither infinity nor NaN. */
typedef struct minifloat {
  int E, M, bias;
  bool ieee; /* infinities and NaNs as IEEE 754 (E5M2) */
  bool fnuz;
  bool no_nan; /* E2M1 */
  float max;   /* largest finite value */
} minifloat;

static const minifloat* format_of(pfw_dtype d) {
  static const minifloat e4m3fn = {4, 3, 7, false, false, false, 448.0f};
  static const minifloat e4m3fnuz = {4, 3, 8, false, true, false, 240.0f};
  static const minifloat e5m2 = {5, 2, 15, true, false, false, 57344.0f};
  static const minifloat e5m2fnuz = {5, 2, 16, false, true, false, 57344.0f};
  static const minifloat e2m1 = {2, 1, 1, false, false, true, 6.0f};
  switch (d) {
    case PFW_FLOAT8E4M3FN: return &e4m3fn;
    case PFW_FLOAT8E4M3FNUZ: return &e4m3fnuz;
    case PFW_FLOAT8E5M2: return &e5m2;
    case PFW_FLOAT8E5M2FNUZ: return &e5m2fnuz;
    case PFW_FLOAT4E2M1: return &e2m1;
    default: return NULL;
  }
}

bool pfw_dtype_is_lowfloat(pfw_dtype d) { return format_of(d) != NULL || d == PFW_FLOAT8E8M0; }

bool pfw_dtype_is_lowint(pfw_dtype d) {
  return d == PFW_INT4 || d == PFW_UINT4 || d == PFW_INT2 || d == PFW_UINT2;
}

float pfw_lowp_to_float(pfw_dtype d, uint8_t b) {
  if (d == PFW_FLOAT8E8M0) return b == 0xFF ? NAN : ldexpf(1.0f, (int)b - 127);
  const minifloat* f = format_of(d);
  if (!f) return 0.0f;
  int bits = 1 + f->E + f->M;
  b &= (uint8_t)((1u << bits) - 1);
  unsigned sign = b >> (bits - 1), e = (b >> f->M) & ((1u << f->E) - 1), m = b & ((1u << f->M) - 1);
  if (f->fnuz && b == 0x80) return NAN;
  if (f->ieee && e == (1u << f->E) - 1) return m ? NAN : sign ? -INFINITY : INFINITY;
  if (!f->ieee && !f->fnuz && !f->no_nan && e == (1u << f->E) - 1 && m == (1u << f->M) - 1)
    return sign ? -NAN : NAN;
  float v = e ? ldexpf(1.0f + (float)m / (float)(1u << f->M), (int)e - f->bias)
              : ldexpf((float)m, 1 - f->bias - f->M);
  return sign ? -v : v;
}

/* The NaN pattern of f for a value of the given sign. */
static uint8_t nan_of(const minifloat* f, unsigned sign) {
  int bits = 1 + f->E + f->M;
  if (f->fnuz) return 0x80;
  if (f->no_nan) return (uint8_t)(1u << (bits - 1)); /* ml_dtypes' E2M1 NaN: -0 */
  if (f->ieee) return (uint8_t)((sign << (bits - 1)) | (((1u << f->E) - 1) << f->M) | (1u << (f->M - 1)));
  return (uint8_t)((sign << (bits - 1)) | ((1u << (bits - 1)) - 1));
}

/* x rounded to nearest even on f's grid, then encoded. Out of range:
 * saturate gives +-max; otherwise infinity (E5M2) or NaN. E2M1 always
 * saturates. */
uint8_t pfw_float_to_lowp(pfw_dtype d, float x, bool saturate) {
  const minifloat* f = format_of(d);
  if (!f) return 0;
  int bits = 1 + f->E + f->M;
  unsigned sign = signbit(x) ? 1u : 0u;
  if (isnan(x)) return nan_of(f, sign);
  float a = fabsf(x);
  if (f->no_nan) saturate = true;
  int emin = 1 - f->bias; /* exponent of the smallest normal */
  int e;
  frexpf(a, &e);           /* a = g * 2^e, g in [0.5, 1) */
  int q = e - 1 < emin ? emin : e - 1; /* the binade a is in (subnormals share emin's spacing) */
  float step = ldexpf(1.0f, q - f->M);
  float r = isinf(a) ? INFINITY : rintf(a / step) * step; /* a / step is exact: step is a power of two */
  unsigned code;
  if (r > f->max) {
    if (saturate) r = f->max;
    else if (f->ieee) return (uint8_t)((sign << (bits - 1)) | (((1u << f->E) - 1) << f->M));
    else return nan_of(f, sign);
  }
  if (r == 0.0f) {
    code = 0;
  } else {
    frexpf(r, &e);
    if (e - 1 < emin) {
      code = (unsigned)(r / ldexpf(1.0f, emin - f->M)); /* subnormal: exponent field 0 */
    } else {
      unsigned m = (unsigned)((ldexpf(r, -(e - 1)) - 1.0f) * (float)(1u << f->M));
      code = ((unsigned)(e - 1 + f->bias) << f->M) | m;
    }
  }
  if (f->fnuz && code == 0) sign = 0; /* no -0 */
  return (uint8_t)((sign << (bits - 1)) | code);
}

/* ONNX's E8M0 rounding on the float32 bits: the exponent field, rounded by
 * round_mode (up: any fraction; nearest: as the reference's guard/round/
 * sticky rule; down: none). NaN and infinity give 0xFF (NaN); with saturate
 * the largest exponent never rounds past itself. The sign is ignored. */
uint8_t pfw_float_to_e8m0(float x, bool saturate, pfw_round_mode mode) {
  uint32_t u;
  memcpy(&u, &x, 4);
  uint32_t e = (u >> 23) & 0xFF;
  if (e == 0xFF) return 0xFF;
  bool up = false;
  if (mode == PFW_ROUND_UP) {
    up = (u & 0x7FFFFF) != 0;
  } else if (mode == PFW_ROUND_NEAREST) {
    bool g = u & 0x400000, r = u & 0x200000, s = (u & 0x1FFFFF) != 0;
    up = g && (r || s || e > 0);
  }
  if (saturate && e == 0xFE) up = false;
  return (uint8_t)(e + (up ? 1 : 0));
}

int32_t pfw_lowint_value(pfw_dtype d, uint8_t b) {
  switch (d) {
    case PFW_INT4: return (int32_t)(b & 0xF) - ((b & 0x8) ? 16 : 0);
    case PFW_UINT4: return b & 0xF;
    case PFW_INT2: return (int32_t)(b & 0x3) - ((b & 0x2) ? 4 : 0);
    default: return b & 0x3;
  }
}

void pfw_lowint_range(pfw_dtype d, int32_t* lo, int32_t* hi) {
  switch (d) {
    case PFW_INT4: *lo = -8, *hi = 7; break;
    case PFW_UINT4: *lo = 0, *hi = 15; break;
    case PFW_INT2: *lo = -2, *hi = 1; break;
    default: *lo = 0, *hi = 3; break;
  }
}

uint8_t pfw_lowint_wrap(pfw_dtype d, uint64_t v) {
  return (uint8_t)(v & (d == PFW_INT4 || d == PFW_UINT4 ? 0xFu : 0x3u));
}
