/* Cast between numeric dtypes and bool (to and from STRING: cast_string.c). Values pass through long double,
 * which holds every int64/uint64 and double exactly. Integer-to-integer casts
 * keep the low bits (two's complement), as ONNX says. Float-to-integer casts
 * saturate and NaN becomes 0, so out-of-range values (which ONNX leaves
 * undefined) can never be undefined behaviour here; to int4/int2 they give 0,
 * as ONNX's reference does. float8/float4/E8M0 follow lowp.c. */
#include <math.h>
#include <string.h>

#include "ops_common.h"

static bool castable(pfw_dtype d) { return pfw_dtype_size(d) != 0; }

/* IEEE binary16 <-> float, round to nearest even (declared in ops_common.h). */
float pfw_half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1F, man = h & 0x3FF, bits;
  if (exp == 0x1F) {
    bits = sign | 0x7F800000u | (man << 13);
  } else if (exp) {
    bits = sign | ((exp + 112) << 23) | (man << 13);
  } else if (man) { /* subnormal: normalise */
    int e = -1;
    do {
      e++;
      man <<= 1;
    } while (!(man & 0x400));
    bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3FF) << 13);
  } else {
    bits = sign;
  }
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

uint16_t pfw_float_to_half(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
  uint32_t a = x & 0x7FFFFFFFu;
  if (a >= 0x7F800000u) return sign | (a > 0x7F800000u ? 0x7E00 : 0x7C00); /* NaN / inf */
  if (a >= 0x477FF000u) return sign | 0x7C00;                                  /* rounds to inf */
  if (a < 0x38800000u) { /* result is subnormal or zero */
    float m = fabsf(f) * 16777216.0f; /* 2^24: one unit = the smallest half subnormal */
    return sign | (uint16_t)lrintf(m);
  }
  uint32_t r = a + 0xFFFu + ((a >> 13) & 1u) - 0x38000000u; /* rebias, round half even */
  return sign | (uint16_t)(r >> 13);
}

float pfw_bf16_to_float(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

uint16_t pfw_float_to_bf16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((x >> 16) | 0x40); /* quiet NaN */
  return (uint16_t)((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

static long double load(const void* p, pfw_dtype d) {
  union { float f; double g; int8_t b; uint8_t ub; int16_t h; uint16_t uh; int32_t i; uint32_t ui;
          int64_t l; uint64_t ul; } v;
  memcpy(&v, p, pfw_dtype_size(d));
  if (pfw_dtype_is_lowfloat(d)) return pfw_lowp_to_float(d, v.ub);
  if (pfw_dtype_is_lowint(d)) return pfw_lowint_value(d, v.ub);
  switch (d) {
    case PFW_FLOAT32: return v.f;
    case PFW_FLOAT64: return v.g;
    case PFW_FLOAT16: return pfw_half_to_float(v.uh);
    case PFW_BFLOAT16: return pfw_bf16_to_float(v.uh);
    case PFW_INT8: return v.b;
    case PFW_UINT8: case PFW_BOOL: return v.ub;
    case PFW_INT16: return v.h;
    case PFW_UINT16: return v.uh;
    case PFW_INT32: return v.i;
    case PFW_UINT32: return v.ui;
    case PFW_INT64: return v.l;
    default: return v.ul;
  }
}

/* Clamps to [lo, hi] with NaN -> 0, for integer targets. */
static long double sat(long double x, long double lo, long double hi) {
  if (x != x) return 0;
  return x < lo ? lo : x > hi ? hi : x;
}

void pfw_store_real(void* p, pfw_dtype d, long double x) {
  union { float f; double g; int8_t b; uint8_t ub; int16_t h; uint16_t uh; int32_t i; uint32_t ui;
          int64_t l; uint64_t ul; } v;
  if (d == PFW_FLOAT8E8M0) {
    v.ub = pfw_float_to_e8m0((float)x, true, PFW_ROUND_UP);
  } else if (pfw_dtype_is_lowfloat(d)) {
    v.ub = pfw_float_to_lowp(d, (float)x, true);
  } else if (pfw_dtype_is_lowint(d)) {
    int32_t lo, hi;
    pfw_lowint_range(d, &lo, &hi);
    v.ub = pfw_lowint_wrap(d, (uint64_t)(int64_t)sat(x, lo, hi));
  }
  switch (d) {
    case PFW_FLOAT32: v.f = (float)x; break;
    case PFW_FLOAT64: v.g = (double)x; break;
    case PFW_FLOAT16: v.uh = pfw_float_to_half((float)x); break;
    case PFW_BFLOAT16: v.uh = pfw_float_to_bf16((float)x); break;
    case PFW_BOOL: v.ub = x != 0; break;
    case PFW_INT8: v.b = (int8_t)sat(x, INT8_MIN, INT8_MAX); break;
    case PFW_UINT8: v.ub = (uint8_t)sat(x, 0, UINT8_MAX); break;
    case PFW_INT16: v.h = (int16_t)sat(x, INT16_MIN, INT16_MAX); break;
    case PFW_UINT16: v.uh = (uint16_t)sat(x, 0, UINT16_MAX); break;
    case PFW_INT32: v.i = (int32_t)sat(x, INT32_MIN, INT32_MAX); break;
    case PFW_UINT32: v.ui = (uint32_t)sat(x, 0, UINT32_MAX); break;
    case PFW_INT64: v.l = (int64_t)sat(x, (long double)INT64_MIN, (long double)INT64_MAX); break;
    case PFW_UINT64: v.ul = (uint64_t)sat(x, 0, (long double)UINT64_MAX); break;
    default: break; /* the low-precision types, set above */
  }
  memcpy(p, &v, pfw_dtype_size(d));
}

static bool is_integer(pfw_dtype d) {
  switch (d) {
    case PFW_INT8: case PFW_UINT8: case PFW_INT16: case PFW_UINT16: case PFW_INT32: case PFW_UINT32:
    case PFW_INT64: case PFW_UINT64: return true;
    default: return pfw_dtype_is_lowint(d);
  }
}

void pfw_store_wrapped(void* p, pfw_dtype d, uint64_t u) {
  uint8_t b = pfw_dtype_is_lowint(d) ? pfw_lowint_wrap(d, u) : (uint8_t)u;
  uint16_t h = (uint16_t)u;
  uint32_t w = (uint32_t)u;
  switch (pfw_dtype_size(d)) {
    case 1: memcpy(p, &b, 1); break;
    case 2: memcpy(p, &h, 2); break;
    case 4: memcpy(p, &w, 4); break;
    default: memcpy(p, &u, 8); break;
  }
}

pfw_status pfw_cast_round_mode(const pfw_node* node, pfw_round_mode* mode) {
  const char* s = pfw_attr_string(node, "round_mode", "up");
  *mode = strcmp(s, "up") == 0 ? PFW_ROUND_UP : strcmp(s, "down") == 0 ? PFW_ROUND_DOWN : PFW_ROUND_NEAREST;
  if (*mode == PFW_ROUND_NEAREST && strcmp(s, "nearest") != 0)
    return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'round_mode' is '%s'; expected up, down or nearest", s);
  return PFW_OK;
}

static pfw_status cast_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, 1);
  if (st != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  int64_t to = pfw_attr_int(node, "to", -1);
  if (!castable(x->dtype))
    return pfw_error(PFW_ERR_UNSUPPORTED, "input 0 has dtype %s, which Cast does not support", pfw_dtype_name(x->dtype));
  if (to < 0 || to > 255 || !castable((pfw_dtype)to))
    return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'to' is %lld, not a dtype Cast supports", (long long)to);
  pfw_round_mode mode;
  if ((st = pfw_cast_round_mode(node, &mode)) != PFW_OK) return st;
  return pfw_set_output(node->out[0], (pfw_dtype)to, x->rank, x->dims);
}

#define CAST_LOOP(TI, TO, expr)                            \
  do {                                                     \
    const TI* a = x->data;                                 \
    TO* o = y->data;                                       \
    for (int64_t i = 0; i < n; i++) o[i] = (TO)(expr);     \
    return true;                                           \
  } while (0)

/* The common casts as typed loops; false for the rest. An element through
 * the general path's long double costs about 20 ns. Each gives what that
 * path gives: integers wrap (through the unsigned type of the width),
 * int64 and float64 round to float32 once, anything nonzero is true. */
static bool cast_common(const pfw_tensor* x, pfw_tensor* y, int64_t n) {
  pfw_dtype from = x->dtype, to = y->dtype;
  if (to == PFW_BOOL) {
    if (from == PFW_INT32) CAST_LOOP(int32_t, uint8_t, a[i] != 0);
    if (from == PFW_INT64) CAST_LOOP(int64_t, uint8_t, a[i] != 0);
    if (from == PFW_FLOAT32) CAST_LOOP(float, uint8_t, a[i] != 0);
    return false;
  }
  if (from == PFW_BOOL) {
    if (to == PFW_INT32) CAST_LOOP(uint8_t, int32_t, a[i] != 0);
    if (to == PFW_INT64) CAST_LOOP(uint8_t, int64_t, a[i] != 0);
    if (to == PFW_FLOAT32) CAST_LOOP(uint8_t, float, a[i] != 0);
    if (to == PFW_FLOAT64) CAST_LOOP(uint8_t, double, a[i] != 0);
    return false;
  }
  switch (to) {
    case PFW_INT32: /* as uint32: the low 32 bits, as the general path keeps them */
      if (from == PFW_INT64) CAST_LOOP(int64_t, uint32_t, (uint64_t)a[i]);
      if (from == PFW_UINT8) CAST_LOOP(uint8_t, int32_t, a[i]);
      if (from == PFW_INT8) CAST_LOOP(int8_t, int32_t, a[i]);
      return false;
    case PFW_INT64:
      if (from == PFW_INT32) CAST_LOOP(int32_t, int64_t, a[i]);
      if (from == PFW_UINT8) CAST_LOOP(uint8_t, int64_t, a[i]);
      if (from == PFW_INT8) CAST_LOOP(int8_t, int64_t, a[i]);
      return false;
    case PFW_FLOAT32: /* integers round to nearest, as the general path does */
      if (from == PFW_INT32) CAST_LOOP(int32_t, float, a[i]);
      if (from == PFW_INT64) CAST_LOOP(int64_t, float, a[i]);
      if (from == PFW_UINT8) CAST_LOOP(uint8_t, float, a[i]);
      if (from == PFW_INT8) CAST_LOOP(int8_t, float, a[i]);
      if (from == PFW_FLOAT64) CAST_LOOP(double, float, a[i]);
      return false;
    case PFW_FLOAT64:
      if (from == PFW_INT32) CAST_LOOP(int32_t, double, a[i]);
      if (from == PFW_INT64) CAST_LOOP(int64_t, double, a[i]);
      if (from == PFW_FLOAT32) CAST_LOOP(float, double, a[i]);
      return false;
    default:
      return false;
  }
}

static pfw_status cast_run(pfw_node* node) {
  const pfw_tensor* x = node->in[0];
  pfw_tensor* y = node->out[0];
  size_t si = pfw_dtype_size(x->dtype), so = pfw_dtype_size(y->dtype);
  int64_t n = pfw_numel(x);
  if (x->dtype == y->dtype) return pfw_copy_run(node);
  if (x->dtype == PFW_STRING) return pfw_cast_from_string(node);
  if (y->dtype == PFW_STRING) return pfw_cast_to_string(node);
  if (cast_common(x, y, n)) return PFW_OK;
  bool saturate = pfw_attr_int(node, "saturate", 1) != 0;
  pfw_round_mode mode;
  pfw_cast_round_mode(node, &mode); /* checked at prepare */
  bool wrap = is_integer(x->dtype) && is_integer(y->dtype);
  bool float_to_lowint = pfw_dtype_is_lowint(y->dtype) && !is_integer(x->dtype) && x->dtype != PFW_BOOL;
  int32_t lo = 0, hi = 0;
  if (float_to_lowint) pfw_lowint_range(y->dtype, &lo, &hi);
  for (int64_t i = 0; i < n; i++) {
    long double v = load((const char*)x->data + (size_t)i * si, x->dtype);
    uint8_t* out = (uint8_t*)y->data + (size_t)i * so;
    if (y->dtype == PFW_FLOAT8E8M0) {
      *out = pfw_float_to_e8m0((float)v, saturate, mode);
    } else if (pfw_dtype_is_lowfloat(y->dtype)) {
      *out = pfw_float_to_lowp(y->dtype, (float)v, saturate);
    } else if (wrap) {
      pfw_store_wrapped(out, y->dtype, v < 0 ? (uint64_t)(int64_t)v : (uint64_t)v);
    } else if (float_to_lowint) {
      long double t = truncl(v); /* NaN fails both tests */
      *out = t >= lo && t <= hi ? pfw_lowint_wrap(y->dtype, (uint64_t)(int64_t)t) : 0;
    } else {
      pfw_store_real(out, y->dtype, v);
    }
  }
  return PFW_OK;
}

const pfw_op pfw_op_Cast = {PFW_OP_Cast, cast_prepare, cast_run, PFW_OPF_STRINGS};

/* CastLike: Cast to the dtype of input 1 (whose values are not read). */
static pfw_status cast_like_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 2, 2);
  if (st != PFW_OK) return st;
  const pfw_tensor *x = node->in[0], *like = node->in[1];
  if (!castable(x->dtype) || !castable(like->dtype))
    return pfw_error(PFW_ERR_UNSUPPORTED, "CastLike from %s to %s is not supported", pfw_dtype_name(x->dtype),
                     pfw_dtype_name(like->dtype));
  pfw_round_mode mode;
  if ((st = pfw_cast_round_mode(node, &mode)) != PFW_OK) return st;
  return pfw_set_output(node->out[0], like->dtype, x->rank, x->dims);
}

const pfw_op pfw_op_CastLike = {PFW_OP_CastLike, cast_like_prepare, cast_run, PFW_OPF_STRINGS};

/* BitCast: the same bytes read as another dtype of the same width. */
static pfw_status bitcast_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, 1);
  if (st != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  int64_t to = pfw_attr_int(node, "to", -1);
  if (!castable(x->dtype))
    return pfw_error(PFW_ERR_UNSUPPORTED, "input 0 has dtype %s, which BitCast does not support",
                     pfw_dtype_name(x->dtype));
  if (to < 0 || to > 255 || !castable((pfw_dtype)to))
    return pfw_error(to == PFW_STRING ? PFW_ERR_UNSUPPORTED : PFW_ERR_INVALID_MODEL,
                     "attribute 'to' is %lld, not a dtype BitCast supports", (long long)to);
  if (pfw_dtype_size((pfw_dtype)to) != pfw_dtype_size(x->dtype))
    return pfw_error(PFW_ERR_INVALID_MODEL, "BitCast from %s to %s: the widths differ", pfw_dtype_name(x->dtype),
                     pfw_dtype_name((pfw_dtype)to));
  return pfw_set_output(node->out[0], (pfw_dtype)to, x->rank, x->dims);
}

const pfw_op pfw_op_BitCast = {PFW_OP_BitCast, bitcast_prepare, pfw_copy_run, PFW_OPF_ALIAS};
