/* The vector primitives the window kernels are written in (window_f32_simd.h),
 * for AVX2 + FMA: 8 float lanes. Included after target_avx2.h, inside
 * PFW_HAVE_AVX2_KERNELS. Partial vectors use vmaskmov loads and stores, which
 * do not touch the memory of masked-off lanes. */
#ifndef PFW_KERNELS_SIMD_AVX2_H
#define PFW_KERNELS_SIMD_AVX2_H

#include <stdint.h>

#define PFW_VL 8
typedef __m256 pfw_v;
typedef struct pfw_vsum { __m256d lo, hi; } pfw_vsum; /* 8 double partial sums */

static inline pfw_v pv_zero(void) { return _mm256_setzero_ps(); }
static inline pfw_v pv_set1(float a) { return _mm256_set1_ps(a); }
static inline pfw_v pv_add(pfw_v a, pfw_v b) { return _mm256_add_ps(a, b); }
static inline pfw_v pv_sub(pfw_v a, pfw_v b) { return _mm256_sub_ps(a, b); }
static inline pfw_v pv_fma(pfw_v a, pfw_v b, pfw_v c) { return _mm256_fmadd_ps(a, b, c); }
/* v > m ? v : m per lane (MAXPS returns its second operand on NaN). */
static inline pfw_v pv_max(pfw_v v, pfw_v m) { return _mm256_max_ps(v, m); }
/* v < m ? v : m per lane (MINPS returns its second operand on NaN). */
static inline pfw_v pv_min(pfw_v v, pfw_v m) { return _mm256_min_ps(v, m); }

static inline __m256i pv_mask(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
/* Lanes l < n from p[l], the rest 0; 1 <= n <= PFW_VL. */
static inline pfw_v pv_load_n(const float* p, int n) {
  return n == PFW_VL ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, pv_mask(n));
}
static inline void pv_store_n(float* p, pfw_v v, int n) {
  if (n == PFW_VL) _mm256_storeu_ps(p, v);
  else _mm256_maskstore_ps(p, pv_mask(n), v);
}
/* Even elements of 16 loaded floats: the stride-2 gather of a row. The
 * in-lane shuffle gives a0 a2 b0 b2 | a4 a6 b4 b6; the 64-bit permute puts
 * the pairs in order. */
static inline pfw_v pv_even(pfw_v a, pfw_v b) {
  __m256 t = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
}
static inline pfw_v pv_odd(pfw_v a, pfw_v b) {
  __m256 t = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
}
/* Lanes l < n from p[l * s] for a stride s < 2^28 (int32 offsets). */
static inline pfw_v pv_gather_n(const float* p, int64_t s, int n) {
  __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int32_t)s));
  return _mm256_mask_i32gather_ps(_mm256_setzero_ps(), p, idx, _mm256_castsi256_ps(pv_mask(n)), 4);
}

/* r[q] lane l = p[4 l + q], q < 4: the stride-4 split of 32 floats. */
static inline void pv_deinterleave4(const float* p, pfw_v r[4]) {
  const __m256i idx = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
  for (int q = 0; q < 4; q++) r[q] = _mm256_i32gather_ps(p + q, idx, 4);
}

/* Lane l of the result is lane l + k of v (0 <= k < PFW_VL; the top k lanes are v's low ones). */
static inline pfw_v pv_lanes_down(pfw_v v, int k) {
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  __m256i idx = _mm256_and_si256(_mm256_add_epi32(iota, _mm256_set1_epi32(k)), _mm256_set1_epi32(7));
  return _mm256_permutevar8x32_ps(v, idx);
}

static inline pfw_vsum pv_sum_zero(void) { return (pfw_vsum){_mm256_setzero_pd(), _mm256_setzero_pd()}; }
static inline pfw_vsum pv_sum_add(pfw_vsum a, pfw_v v) {
  a.lo = _mm256_add_pd(a.lo, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
  a.hi = _mm256_add_pd(a.hi, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
  return a;
}
/* (float)(sum / d) per lane, rounded once each way like the scalar code. */
static inline pfw_v pv_sum_div(pfw_vsum a, double d) {
  __m256d q = _mm256_set1_pd(d);
  __m128 lo = _mm256_cvtpd_ps(_mm256_div_pd(a.lo, q)), hi = _mm256_cvtpd_ps(_mm256_div_pd(a.hi, q));
  return _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1);
}
static inline void pv_sum_store(double* out, pfw_vsum a) {
  _mm256_storeu_pd(out, a.lo);
  _mm256_storeu_pd(out + 4, a.hi);
}

#endif
