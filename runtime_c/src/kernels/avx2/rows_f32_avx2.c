/* float32 binary arithmetic and LayerNormalization rows, AVX2 + FMA.
 * + - * / are one IEEE operation per element, in vector or scalar form
 * alike, so results are bit-identical to the scalar loops. */
#include "../target_avx2.h"
#include "../vecmath.h"

#ifdef PFW_HAVE_AVX2_KERNELS

#include <math.h>

/* One loop per (op, operand form): a and b each a row (stride 1) or one
 * value (stride 0); the tail is finished in scalar code. */
#define BIN_FORM(OPV, OPS, LA, LB)                                                 \
  do {                                                                             \
    int64_t i = 0;                                                                 \
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(o + i, OPV(LA, LB));               \
    for (; i < n; i++) o[i] = a[i * sa] OPS b[i * sb];                             \
  } while (0)
#define BIN_OP(OPV, OPS)                                                           \
  do {                                                                             \
    if (sa && sb) BIN_FORM(OPV, OPS, _mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)); \
    else if (sa) BIN_FORM(OPV, OPS, _mm256_loadu_ps(a + i), _mm256_set1_ps(b[0]));   \
    else if (sb) BIN_FORM(OPV, OPS, _mm256_set1_ps(a[0]), _mm256_loadu_ps(b + i));   \
    else BIN_FORM(OPV, OPS, _mm256_set1_ps(a[0]), _mm256_set1_ps(b[0]));               \
  } while (0)

void pfw_vec_binary_f32_avx2(int op, const float* a, int64_t sa, const float* b, int64_t sb, float* o,
                             int64_t n) {
  switch (op) {
    case PFW_VEC_ADD: BIN_OP(_mm256_add_ps, +); break;
    case PFW_VEC_SUB: BIN_OP(_mm256_sub_ps, -); break;
    case PFW_VEC_MUL: BIN_OP(_mm256_mul_ps, *); break;
    default: BIN_OP(_mm256_div_ps, /); break;
  }
}

/* Adds x[i] (or x[i] - mean) as doubles into two 4-lane accumulators. */
static inline void acc2(__m256d* lo, __m256d* hi, __m256 v, __m256d mean, bool square) {
  __m256d l = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), mean);
  __m256d h = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), mean);
  *lo = square ? _mm256_fmadd_pd(l, l, *lo) : _mm256_add_pd(*lo, l);
  *hi = square ? _mm256_fmadd_pd(h, h, *hi) : _mm256_add_pd(*hi, h);
}

/* Sum over the row of x (square: of (x - mean)^2), in double. */
static double row_sum(const float* x, int64_t n, double mean, bool square) {
  __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd(), m = _mm256_set1_pd(mean);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) acc2(&lo, &hi, _mm256_loadu_ps(x + i), m, square);
  double t[4], s;
  _mm256_storeu_pd(t, _mm256_add_pd(lo, hi));
  s = (t[0] + t[1]) + (t[2] + t[3]);
  for (; i < n; i++) s += square ? (x[i] - mean) * (x[i] - mean) : x[i] - mean;
  return s;
}

/* Two passes (mean, then the squared deviations from it) in double, as the
 * scalar reference; only the final affine step is in float:
 * y = ((x - mean) * inv) * scale + bias, one FMA for the last two. */
void pfw_vec_layernorm_f32_avx2(const float* x, float* y, int64_t n, const float* scale, const float* bias,
                                float eps, float* mean_out, float* inv_out) {
  double mean = row_sum(x, n, 0.0, false) / (double)n;
  double inv = 1 / sqrt(row_sum(x, n, mean, true) / (double)n + eps);
  float mf = (float)mean, invf = (float)inv;
  __m256 vm = _mm256_set1_ps(mf), vi = _mm256_set1_ps(invf);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 t = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm), vi);
    __m256 b = bias ? _mm256_loadu_ps(bias + i) : _mm256_setzero_ps();
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(t, _mm256_loadu_ps(scale + i), b));
  }
  for (; i < n; i++) y[i] = fmaf((x[i] - mf) * invf, scale[i], bias ? bias[i] : 0.0f);
  if (mean_out) *mean_out = mf;
  if (inv_out) *inv_out = invf;
}

#endif
