/* Shared by the quantization ops (quant.c: QuantizeLinear, DequantizeLinear,
 * DynamicQuantizeLinear; qlinear.c: QLinearConv, QLinearMatMul, ConvInteger,
 * MatMulInteger). */
#ifndef PFW_OPS_QUANT_H
#define PFW_OPS_QUANT_H

#include "ops_common.h"

/* A float32 multiplier m as mant * 2^-shift with a 24-bit mant: exact, so
 * pfw_requant_apply gives round-half-even(acc * m) with no float rounding
 * on any ISA (ONNX's QLinear ops round half to even). */
typedef struct pfw_requant {
  int64_t mant;
  int32_t shift;
} pfw_requant;

pfw_requant pfw_requant_of(float m);

pfw_requant pfw_requant_of(float m);
/* pfw_requant_apply for |acc| >= 2^39, where acc * mant leaves int64. */
int64_t pfw_requant_apply_wide(int64_t acc, pfw_requant q);

/* round-half-even(acc * m); beyond +-2^40 (past any output range) it may be
 * cut to +-2^40. Callers clamp to their output range. */
static inline int64_t pfw_requant_apply(int64_t acc, pfw_requant q) {
  const int64_t lim = INT64_C(1) << 40;
  if (acc >= (INT64_C(1) << 39) || acc <= -(INT64_C(1) << 39)) return pfw_requant_apply_wide(acc, q);
  int64_t p = acc * q.mant; /* |acc| < 2^39, mant < 2^24 */
  if (q.shift <= 0) {
    if (p == 0) return 0;
    if (q.shift < -16 || p > (lim >> -q.shift) || p < -(lim >> -q.shift)) return p > 0 ? lim : -lim;
    return p * (INT64_C(1) << -q.shift);
  }
  if (q.shift > 63) return 0; /* |p| < 2^63, so |p| / 2^shift < 1/2 */
  int64_t f = p >> q.shift;   /* floor: arithmetic shift */
  uint64_t rem = (uint64_t)p & ((UINT64_C(1) << q.shift) - 1), half = UINT64_C(1) << (q.shift - 1);
  return f + (rem > half || (rem == half && (f & 1)));
}

/* The integer range of a quantized dtype (uint8, int8, uint16, int16). */
bool pfw_quant_range(pfw_dtype d, int32_t* lo, int32_t* hi);
/* Element i of a float32/float16 scale tensor, and of a zero-point tensor
 * (uint8, int8, uint16, int16, int32). */
float pfw_quant_scale_at(const pfw_tensor* t, int64_t i);
int32_t pfw_quant_zero_at(const pfw_tensor* t, int64_t i);
/* Checks input i: a scale (float32 or float16, want_f32: float32 only)
 * holding 1 value or, when n > 1, n values in a 1-D tensor; `what` names it.
 * A scale whose data is known must be positive and finite. */
pfw_status pfw_quant_check_scale(const pfw_node* node, int32_t i, const char* what, int64_t n);
/* Checks input i: an optional zero point of dtype d with 1 or n values. */
pfw_status pfw_quant_check_zero(const pfw_node* node, int32_t i, const char* what, pfw_dtype d, int64_t n);
/* A scale value must be positive and finite: st is the status otherwise
 * (PFW_ERR_INVALID_MODEL for a model constant, PFW_ERR_INVALID_ARGUMENT
 * for a value fed at run time). */
pfw_status pfw_quant_scale_ok(float s, const char* what, int64_t i, pfw_status st);

/* Conv geometry shared with Conv (conv.c): X and W are inputs xi and wi;
 * checks ranks, group and kernel_shape, fills g and the output dims (rank
 * of X); *group gets the attribute. */
pfw_status pfw_conv_shape(const pfw_node* node, int32_t xi, int32_t wi, pfw_spatial* g, int64_t* group,
                          int64_t* dims);

#endif
