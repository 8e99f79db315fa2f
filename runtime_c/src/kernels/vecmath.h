/* Vectorised float32 row kernels for the memory-bound ops: transcendental
 * maps (Exp, Erf, Tanh, Sigmoid, Gelu), binary arithmetic, Softmax and
 * LayerNormalization rows. One table per instruction set; the ops keep
 * their scalar loops as the reference (node->isa == PFW_ISA_SCALAR).
 *
 * Accuracy of the maps, over every float32 input (tests/test_kernels_math.c
 * checks each against the double libm value): exp, sigmoid and tanh within
 * erf within 3 ulp; gelu within 4 ulp + 2^-26 + 2^-24 |x| (for x < 0,
 * 1 + erf cancels and erf's absolute error is scaled by |x| / 2).
 * They are computed as follows:
 *   exp(x)  = 2^n * p(r), n = round(x / ln 2), r = x - n ln 2 (two-part ln 2
 *             with FMA, |r| <= ln2 / 2), p the degree-7 Taylor polynomial;
 *             2^n is applied as two factors so results down to the
 *             subnormals are right; x > 88.73 gives inf, x < -104 gives 0.
 *   sigmoid = 1 / (1 + e) for x >= 0, e / (1 + e) for x < 0, e = exp(-|x|).
 *   tanh    = x + x^3 q(x^2) for |x| < 0.625 (no cancellation near 0), else
 *             sign(x) (1 - 2 / (exp(2|x|) + 1)).
 *   erf     = x p(x^2) for |x| < 1, else sign(x) (1 - exp(-x^2) r(|x|)) with
 *             r fitted to erfc(x) exp(x^2) on [1, 4]; |x| >= 4 gives ±1.
 *   gelu    = 0.5 x (1 + erf(x / sqrt 2)), or with tanh for approximate=tanh.
 * NaN inputs give NaN. Binary + - * / are single IEEE operations, so bit-
 * identical to the scalar loops. */
#ifndef PFW_KERNELS_VECMATH_H
#define PFW_KERNELS_VECMATH_H

#include "../internal.h"
#include "../ops/ops_common.h"

/* Maps are pfw_vec_row_fn (ops_common.h): y[i] = f(x[i]), y may alias x. */

enum { PFW_VEC_ADD, PFW_VEC_SUB, PFW_VEC_MUL, PFW_VEC_DIV };

typedef struct pfw_vec_kernels {
  pfw_vec_row_fn exp, erf, tanh, sigmoid, gelu, gelu_tanh;
  /* x < 0 ? 0 : x, bit-identical to the scalar Relu (NaN and -0 kept). */
  pfw_vec_row_fn relu;
  /* o[i] = a[i * sa] op b[i * sb], sa and sb each 0 or 1; o may alias a or b. */
  void (*binary)(int op, const float* a, int64_t sa, const float* b, int64_t sb, float* o, int64_t n);
  /* Softmax (log_softmax false) or LogSoftmax of one contiguous row of n >= 1
   * elements; y may alias x. */
  void (*softmax)(const float* x, float* y, int64_t n, bool log_softmax);
  /* One LayerNormalization row of n >= 1 elements: y = (x - mean) * inv *
   * scale + bias (bias may be NULL), scale/bias of n values; y may alias x.
   * Mean and variance are accumulated in double, two passes. */
  void (*layernorm)(const float* x, float* y, int64_t n, const float* scale, const float* bias, float eps,
                    float* mean_out, float* inv_out);
  const char* name;
} pfw_vec_kernels;

/* The table for `isa`, or NULL for PFW_ISA_SCALAR (and where none is built).
 * AVX-512 machines run the AVX2 table: these ops are memory-bound. */
const pfw_vec_kernels* pfw_vec_kernels_for(pfw_isa isa);

extern const pfw_vec_kernels pfw_vec_f32_avx2;
/* The AVX2 binary and LayerNorm rows (kernels/avx2/rows_f32_avx2.c). */
void pfw_vec_binary_f32_avx2(int op, const float* a, int64_t sa, const float* b, int64_t sb, float* o, int64_t n);
void pfw_vec_layernorm_f32_avx2(const float* x, float* y, int64_t n, const float* scale, const float* bias,
                                float eps, float* mean_out, float* inv_out);

#endif
