/* Cast between numeric dtypes and bool. Values pass through long double,
 * which holds every int64/uint64 and double exactly. Float-to-integer casts
 * saturate and NaN becomes 0, so out-of-range values (which ONNX leaves
 * undefined) can never be undefined behaviour here. */
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
    default: v.ul = (uint64_t)sat(x, 0, (long double)UINT64_MAX); break;
  }
  memcpy(p, &v, pfw_dtype_size(d));
}

static pfw_status cast_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, 1);
  if (st != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  int64_t to = pfw_attr_int(node, "to", -1);
  if (!castable(x->dtype))
    return pfw_error(PFW_ERR_UNSUPPORTED, "input 0 has dtype %s, which Cast does not support", pfw_dtype_name(x->dtype));
  if (to < 0 || to > 255 || !castable((pfw_dtype)to))
    return pfw_error(to == PFW_STRING ? PFW_ERR_UNSUPPORTED : PFW_ERR_INVALID_MODEL,
                     "attribute 'to' is %lld, not a dtype Cast supports", (long long)to);
  return pfw_set_output(node->out[0], (pfw_dtype)to, x->rank, x->dims);
}

static pfw_status cast_run(pfw_node* node) {
  const pfw_tensor* x = node->in[0];
  pfw_tensor* y = node->out[0];
  size_t si = pfw_dtype_size(x->dtype), so = pfw_dtype_size(y->dtype);
  int64_t n = pfw_numel(x);
  if (x->dtype == y->dtype) return pfw_copy_run(node);
  /* Integers to float32 (dequantization's int32 accumulators, uint8
   * images): the conversion rounds to nearest as the general path does. */
  if (y->dtype == PFW_FLOAT32 && (x->dtype == PFW_INT32 || x->dtype == PFW_UINT8 || x->dtype == PFW_INT8)) {
    float* o = y->data;
    if (x->dtype == PFW_INT32)
      for (int64_t i = 0; i < n; i++) o[i] = (float)((const int32_t*)x->data)[i];
    else if (x->dtype == PFW_UINT8)
      for (int64_t i = 0; i < n; i++) o[i] = (float)((const uint8_t*)x->data)[i];
    else
      for (int64_t i = 0; i < n; i++) o[i] = (float)((const int8_t*)x->data)[i];
    return PFW_OK;
  }
  for (int64_t i = 0; i < n; i++)
    pfw_store_real((char*)y->data + (size_t)i * so, y->dtype, load((const char*)x->data + (size_t)i * si, x->dtype));
  return PFW_OK;
}

const pfw_op pfw_op_Cast = {PFW_OP_Cast, cast_prepare, cast_run, 0};

/* CastLike: Cast to the dtype of input 1 (whose values are not read). */
static pfw_status cast_like_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 2, 2);
  if (st != PFW_OK) return st;
  const pfw_tensor *x = node->in[0], *like = node->in[1];
  if (!castable(x->dtype) || !castable(like->dtype))
    return pfw_error(PFW_ERR_UNSUPPORTED, "CastLike from %s to %s is not supported", pfw_dtype_name(x->dtype),
                     pfw_dtype_name(like->dtype));
  return pfw_set_output(node->out[0], like->dtype, x->rank, x->dims);
}

const pfw_op pfw_op_CastLike = {PFW_OP_CastLike, cast_like_prepare, cast_run, 0};

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
