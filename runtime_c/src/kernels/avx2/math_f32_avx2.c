/* float32 exp, erf, tanh, sigmoid, gelu and Softmax rows, AVX2 + FMA, 8
 * lanes; the methods and error bounds are described in ../vecmath.h. Tails
 * use masked loads and stores, so every element takes the same arithmetic.
 * Polynomial coefficients were fitted (weighted least squares on Chebyshev
 * nodes, then rounded to float) to the double functions. */
#include "../target_avx2.h"
#include "../vecmath.h"

#ifdef PFW_HAVE_AVX2_KERNELS

#include <math.h>

/* Lanes [0, n) of 8 set, the rest clear. */
static inline __m256i lanes(int64_t n) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n < 8 ? n : 8)), idx);
}

static inline __m256 v_abs(__m256 x) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x); }
/* |m| with the sign of s. */
static inline __m256 v_copysign(__m256 m, __m256 s) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  return _mm256_or_ps(_mm256_andnot_ps(sign, m), _mm256_and_ps(sign, s));
}

/* c[0] + c[1] u + ... + c[n-1] u^(n-1) by FMA Horner. */
static inline __m256 v_poly(__m256 u, const float* c, int n) {
  __m256 p = _mm256_set1_ps(c[n - 1]);
  for (int k = n - 2; k >= 0; k--) p = _mm256_fmadd_ps(p, u, _mm256_set1_ps(c[k]));
  return p;
}

/* 2^k for integer lanes k in [-126, 127]. */
static inline __m256 v_pow2i(__m256i k) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k, _mm256_set1_epi32(127)), 23));
}

static inline __m256 v_exp(__m256 x) {
  /* max(lo, x) and min(hi, x) return x when it is NaN, so NaN propagates.
   * Past the bounds the result is inf or 0 anyway. */
  x = _mm256_min_ps(_mm256_set1_ps(89.0f), _mm256_max_ps(_mm256_set1_ps(-104.0f), x));
  __m256 nf = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  /* ln 2 = hi + lo with hi of 16 significant bits: n * hi is exact. */
  __m256 r = _mm256_fmadd_ps(nf, _mm256_set1_ps(-0.693145751953125f), x);
  r = _mm256_fmadd_ps(nf, _mm256_set1_ps(-1.42860682030941723e-6f), r);
  static const float taylor[8] = {1.0f, 1.0f, 0.5f, 1.0f / 6, 1.0f / 24, 1.0f / 120, 1.0f / 720, 1.0f / 5040};
  __m256 p = v_poly(r, taylor, 8);
  /* n in [-150, 128]: two factors 2^(n>>1) and 2^(n - n>>1) are normal, and
   * the last product rounds once, into the subnormals or to inf. */
  __m256i n = _mm256_cvtps_epi32(nf);
  __m256i n1 = _mm256_srai_epi32(n, 1);
  return _mm256_mul_ps(_mm256_mul_ps(p, v_pow2i(n1)), v_pow2i(_mm256_sub_epi32(n, n1)));
}

static inline __m256 v_sigmoid(__m256 x) {
  __m256 e = v_exp(_mm256_or_ps(x, _mm256_set1_ps(-0.0f))) /* e^-|x| */;
  __m256 num = _mm256_blendv_ps(e, _mm256_set1_ps(1.0f), _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ));
  return _mm256_div_ps(num, _mm256_add_ps(e, _mm256_set1_ps(1.0f)));
}

static inline __m256 v_tanh(__m256 x) {
  __m256 a = v_abs(x);
  /* |x| < 0.625: x + x^3 q(x^2); relative error ~0.05 ulp before rounding. */
  __m256 u = _mm256_mul_ps(x, x);
  static const float q_c[6] = {-0.3333333134651184f,   0.13333211839199066f,  -0.05394745245575905f,
                               0.021703997626900673f, -0.008184656500816345f, 0.0021489786449819803f};
  __m256 q = v_poly(u, q_c, 6);
  __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(x, u), q, x);
  /* Otherwise 1 - 2 / (e^2|x| + 1): the cancellation costs under a bit
   * since tanh >= 0.55 there; e = inf gives 1. */
  __m256 e = v_exp(_mm256_add_ps(a, a));
  __m256 big = _mm256_sub_ps(_mm256_set1_ps(1.0f),
                             _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, _mm256_set1_ps(1.0f))));
  big = v_copysign(big, x);
  return _mm256_blendv_ps(big, small, _mm256_cmp_ps(a, _mm256_set1_ps(0.625f), _CMP_LT_OQ));
}

static inline __m256 v_erf(__m256 x) {
  __m256 a = v_abs(x);
  /* |x| < 1: x p(x^2), p fitted for relative error. */
  __m256 u = _mm256_mul_ps(x, x);
  static const float p_c[7] = {1.128379225730896f,     -0.3761262893676758f,  0.11283625662326813f,
                               -0.026855384930968285f, 0.005191192962229252f, -0.0008034639758989215f,
                               7.932846347102895e-05f};
  __m256 p = v_poly(u, p_c, 7);
  __m256 small = _mm256_mul_ps(x, p);
  /* 1 <= |x| < 4: 1 - e^(-x^2) r(|x|), r ~ erfc(x) e^(x^2) in powers of
   * |x| - 2.5 (centred, so Horner does not cancel). At 4 the result rounds
   * to 1, so |x| is clamped there; min(4, a) keeps a NaN. */
  __m256 c = _mm256_min_ps(_mm256_set1_ps(4.0f), a);
  __m256 v = _mm256_sub_ps(c, _mm256_set1_ps(2.5f));
  static const float r_c[9] = {0.21080754697322845f,   -0.07434079051017761f,  0.02492334321141243f,
                               -0.008119707927107811f, 0.00229142839089036f,   -0.0007082600495778024f,
                               0.0004935308243148029f, 0.00020200475410092622f, 0.00010279058915330097f};
  __m256 r = v_poly(v, r_c, 9);
  __m256 e = v_exp(_mm256_mul_ps(_mm256_xor_ps(c, _mm256_set1_ps(-0.0f)), c));
  __m256 big = v_copysign(_mm256_fnmadd_ps(e, r, _mm256_set1_ps(1.0f)), x);
  return _mm256_blendv_ps(big, small, _mm256_cmp_ps(a, _mm256_set1_ps(1.0f), _CMP_LT_OQ));
}

/* 0.5 x (1 + erf(x / sqrt 2)) as h + h erf, h = x / 2. */
static inline __m256 v_gelu(__m256 x) {
  __m256 h = _mm256_mul_ps(x, _mm256_set1_ps(0.5f));
  return _mm256_fmadd_ps(h, v_erf(_mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f))), h);
}

/* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
static inline __m256 v_gelu_tanh(__m256 x) {
  const float k = 0.7978845608028654f;
  __m256 h = _mm256_mul_ps(x, _mm256_set1_ps(0.5f));
  __m256 inner = _mm256_mul_ps(x, _mm256_fmadd_ps(_mm256_mul_ps(x, x), _mm256_set1_ps(0.044715f * k),
                                                  _mm256_set1_ps(k)));
  return _mm256_fmadd_ps(h, v_tanh(inner), h);
}

/* max(0, x) returns x when x is NaN and when both are zeros: -0 stays -0,
 * as x < 0 ? 0 : x gives. */
static inline __m256 v_relu(__m256 x) { return _mm256_max_ps(_mm256_setzero_ps(), x); }

/* A row map over f: full vectors, then one masked vector for the tail. */
#define MAP_ROW(name, f)                                                   \
  static void name(const float* x, float* y, int64_t n) {                 \
    int64_t i = 0;                                                         \
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, f(_mm256_loadu_ps(x + i))); \
    if (i < n) {                                                           \
      __m256i m = lanes(n - i);                                            \
      _mm256_maskstore_ps(y + i, m, f(_mm256_maskload_ps(x + i, m)));      \
    }                                                                      \
  }

MAP_ROW(exp_row, v_exp)
MAP_ROW(erf_row, v_erf)
MAP_ROW(tanh_row, v_tanh)
MAP_ROW(sigmoid_row, v_sigmoid)
MAP_ROW(gelu_row, v_gelu)
MAP_ROW(gelu_tanh_row, v_gelu_tanh)
MAP_ROW(relu_row, v_relu)

/* Adds the 8 floats of v into two double accumulators (sums stay exact
 * far longer than a float sum would). */
static inline void acc_pd(__m256d* lo, __m256d* hi, __m256 v) {
  *lo = _mm256_add_pd(*lo, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
  *hi = _mm256_add_pd(*hi, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
}

static inline double hsum_pd(__m256d lo, __m256d hi) {
  double t[4];
  _mm256_storeu_pd(t, _mm256_add_pd(lo, hi));
  return (t[0] + t[1]) + (t[2] + t[3]);
}

/* e^(v - m), lanes outside mask 0, added into lo/hi. */
static inline __m256 softmax_exp(__m256 v, __m256 m, __m256 mask, __m256d* lo, __m256d* hi) {
  __m256 e = _mm256_and_ps(v_exp(_mm256_sub_ps(v, m)), mask);
  acc_pd(lo, hi, e);
  return e;
}

static inline __m256 softmax_out(__m256 v, __m256 m, __m256 s, bool log_softmax) {
  return log_softmax ? _mm256_sub_ps(_mm256_sub_ps(v, m), s) : _mm256_div_ps(v, s);
}

/* As the scalar Softmax: subtract the row maximum, exp, sum in double, then
 * divide (Softmax) or subtract log(sum) (LogSoftmax). A NaN anywhere makes
 * the sum, hence the whole row, NaN, as in the scalar loop. Full vectors use
 * plain loads and stores (masked stores are slow on some CPUs); only the
 * tail is masked. Softmax stores e^(x - m) in y and divides it in place. */
static void softmax_row(const float* x, float* y, int64_t n, bool log_softmax) {
  __m256 mv = _mm256_set1_ps(x[0]);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(x + i));
  float t[8], m;
  _mm256_storeu_ps(t, mv);
  m = t[0];
  for (int k = 1; k < 8; k++) m = t[k] > m ? t[k] : m;
  for (; i < n; i++) m = x[i] > m ? x[i] : m;
  const __m256 vm = _mm256_set1_ps(m), all = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
  const __m256i tail = lanes(n % 8);
  const int64_t full = n - n % 8;
  __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
  for (i = 0; i < full; i += 8) {
    __m256 e = softmax_exp(_mm256_loadu_ps(x + i), vm, all, &lo, &hi);
    if (!log_softmax) _mm256_storeu_ps(y + i, e);
  }
  if (full < n) {
    __m256 e = softmax_exp(_mm256_maskload_ps(x + full, tail), vm, _mm256_castsi256_ps(tail), &lo, &hi);
    if (!log_softmax) _mm256_maskstore_ps(y + full, tail, e);
  }
  double sum = hsum_pd(lo, hi);
  /* Softmax: y / sum; LogSoftmax: (x - m) - log(sum). */
  const __m256 s = _mm256_set1_ps(log_softmax ? (float)log(sum) : (float)sum);
  const float* src = log_softmax ? x : y;
  for (i = 0; i < full; i += 8) _mm256_storeu_ps(y + i, softmax_out(_mm256_loadu_ps(src + i), vm, s, log_softmax));
  if (full < n)
    _mm256_maskstore_ps(y + full, tail, softmax_out(_mm256_maskload_ps(src + full, tail), vm, s, log_softmax));
}

const pfw_vec_kernels pfw_vec_f32_avx2 = {
    exp_row, erf_row, tanh_row, sigmoid_row, gelu_row, gelu_tanh_row, relu_row,
    pfw_vec_binary_f32_avx2, softmax_row, pfw_vec_layernorm_f32_avx2, "vec_f32_avx2",
};

#endif
