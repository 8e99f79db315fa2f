/* The vector primitives the window kernels are written in (window_f32_simd.h),
 * for AVX-512: 16 float lanes. Included after target_avx512.h, inside
 * PFW_HAVE_AVX512_KERNELS. Partial vectors use masked loads and stores, which
 * do not touch the memory of masked-off lanes. */
#ifndef PFW_KERNELS_SIMD_AVX512_H
#define PFW_KERNELS_SIMD_AVX512_H

#include <stdint.h>

#define PFW_VL 16
typedef __m512 pfw_v;
typedef struct pfw_vsum { __m512d lo, hi; } pfw_vsum; /* 16 double partial sums */

static inline pfw_v pv_zero(void) { return _mm512_setzero_ps(); }
static inline pfw_v pv_set1(float a) { return _mm512_set1_ps(a); }
static inline pfw_v pv_add(pfw_v a, pfw_v b) { return _mm512_add_ps(a, b); }
static inline pfw_v pv_sub(pfw_v a, pfw_v b) { return _mm512_sub_ps(a, b); }
static inline pfw_v pv_fma(pfw_v a, pfw_v b, pfw_v c) { return _mm512_fmadd_ps(a, b, c); }
/* v > m ? v : m per lane (MAXPS returns its second operand on NaN). */
static inline pfw_v pv_max(pfw_v v, pfw_v m) { return _mm512_max_ps(v, m); }
/* v < m ? v : m per lane (MINPS returns its second operand on NaN). */
static inline pfw_v pv_min(pfw_v v, pfw_v m) { return _mm512_min_ps(v, m); }

static inline __mmask16 pv_mask(int n) { return (__mmask16)((1u << n) - 1u); }
/* Lanes l < n from p[l], the rest 0; 1 <= n <= PFW_VL. */
static inline pfw_v pv_load_n(const float* p, int n) {
  return n == PFW_VL ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(pv_mask(n), p);
}
static inline void pv_store_n(float* p, pfw_v v, int n) {
  if (n == PFW_VL) _mm512_storeu_ps(p, v);
  else _mm512_mask_storeu_ps(p, pv_mask(n), v);
}
/* Even elements of 32 loaded floats: the stride-2 gather of a row. */
static inline pfw_v pv_even(pfw_v a, pfw_v b) {
  const __m512i idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  return _mm512_permutex2var_ps(a, idx, b);
}
static inline pfw_v pv_odd(pfw_v a, pfw_v b) {
  const __m512i idx = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  return _mm512_permutex2var_ps(a, idx, b);
}
/* Lanes l < n from p[l * s] for a stride s < 2^27 (int32 offsets). */
static inline pfw_v pv_gather_n(const float* p, int64_t s, int n) {
  __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                   _mm512_set1_epi32((int32_t)s));
  return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), pv_mask(n), idx, p, 4);
}

/* r[q] lane l = p[4 l + q], q < 4: the stride-4 split of 64 floats, by
 * permutes (gathers are slow): residues 0, 1 (and 2, 3) of each 32 floats
 * into the halves of one vector, then the halves joined. */
static inline void pv_deinterleave4(const float* p, pfw_v r[4]) {
  const __m512i i01 = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
  const __m512i i23 = _mm512_setr_epi32(2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
  __m512 l0 = _mm512_loadu_ps(p), l1 = _mm512_loadu_ps(p + 16), l2 = _mm512_loadu_ps(p + 32),
         l3 = _mm512_loadu_ps(p + 48);
  __m512 a01 = _mm512_permutex2var_ps(l0, i01, l1), a23 = _mm512_permutex2var_ps(l0, i23, l1);
  __m512 b01 = _mm512_permutex2var_ps(l2, i01, l3), b23 = _mm512_permutex2var_ps(l2, i23, l3);
  r[0] = _mm512_shuffle_f32x4(a01, b01, 0x44);
  r[1] = _mm512_shuffle_f32x4(a01, b01, 0xEE);
  r[2] = _mm512_shuffle_f32x4(a23, b23, 0x44);
  r[3] = _mm512_shuffle_f32x4(a23, b23, 0xEE);
}

/* Lane l of the result is lane l + k of v (0 <= k < PFW_VL; the top k lanes are v's low ones). */
static inline pfw_v pv_lanes_down(pfw_v v, int k) {
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  __m512i idx = _mm512_and_si512(_mm512_add_epi32(iota, _mm512_set1_epi32(k)), _mm512_set1_epi32(15));
  return _mm512_permutexvar_ps(idx, v);
}

static inline pfw_vsum pv_sum_zero(void) { return (pfw_vsum){_mm512_setzero_pd(), _mm512_setzero_pd()}; }
static inline pfw_vsum pv_sum_add(pfw_vsum a, pfw_v v) {
  a.lo = _mm512_add_pd(a.lo, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
  a.hi = _mm512_add_pd(a.hi, _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)));
  return a;
}
/* (float)(sum / d) per lane, rounded once each way like the scalar code. */
static inline pfw_v pv_sum_div(pfw_vsum a, double d) {
  __m512d q = _mm512_set1_pd(d);
  __m256 lo = _mm512_cvtpd_ps(_mm512_div_pd(a.lo, q)), hi = _mm512_cvtpd_ps(_mm512_div_pd(a.hi, q));
  return _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
}
static inline void pv_sum_store(double* out, pfw_vsum a) {
  _mm512_storeu_pd(out, a.lo);
  _mm512_storeu_pd(out + 8, a.hi);
}

#endif
