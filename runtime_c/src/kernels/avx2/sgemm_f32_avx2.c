/* sgemm micro-kernel, AVX2 + FMA: a 6 x 16 tile of C in 12 ymm
 * accumulators, two B vectors and one broadcast A value per k. Tiles with
 * fewer rows run a copy specialised for that row count (same per-element
 * arithmetic); fewer columns use masked loads/stores. */
#include "../target_avx2.h"
#include "../sgemm.h"

#ifdef PFW_HAVE_AVX2_KERNELS

#define MR 6
#define NR 16

/* Lanes [0, n) of 8 set, the rest clear (n may be <= 0 or >= 8). */
static inline __m256i lanes(int32_t n) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx);
}

static inline __attribute__((always_inline)) void tile(int64_t kc, const float* a, const float* b, float* c,
                                                       int64_t ldc, const int rows, int32_t n, bool accumulate,
                                                       const pfw_sgemm_tail* tail) {
  __m256 lo[MR], hi[MR];
#pragma GCC unroll 6
  for (int i = 0; i < rows; i++) lo[i] = hi[i] = _mm256_setzero_ps();
  /* C is touched only after the k loop: start fetching its rows now. */
#pragma GCC unroll 6
  for (int i = 0; i < rows; i++) {
    _mm_prefetch((const char*)(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch((const char*)(c + i * ldc + 15), _MM_HINT_T0);
  }
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; k++) {
    __m256 b0 = _mm256_loadu_ps(b + k * NR), b1 = _mm256_loadu_ps(b + k * NR + 8);
#pragma GCC unroll 6
    for (int i = 0; i < rows; i++) {
      __m256 av = _mm256_broadcast_ss(a + k * MR + i);
      lo[i] = _mm256_fmadd_ps(av, b0, lo[i]);
      hi[i] = _mm256_fmadd_ps(av, b1, hi[i]);
    }
  }
  /* Masked moves are slow on some cores (microcoded stores on AMD): full
   * tiles use plain ones. */
  bool full = n == NR;
  __m256i m0 = lanes(n), m1 = lanes(n - 8);
#pragma GCC unroll 6
  for (int i = 0; i < rows; i++) {
    float* cr = c + i * ldc;
    if (accumulate) {
      lo[i] = _mm256_add_ps(full ? _mm256_loadu_ps(cr) : _mm256_maskload_ps(cr, m0), lo[i]);
      hi[i] = _mm256_add_ps(full ? _mm256_loadu_ps(cr + 8) : _mm256_maskload_ps(cr + 8, m1), hi[i]);
    }
    if (tail) {
      if (tail->bias) {
        __m256 bv = _mm256_set1_ps(tail->bias[i]);
        lo[i] = _mm256_add_ps(lo[i], bv);
        hi[i] = _mm256_add_ps(hi[i], bv);
      }
      if (tail->clamp) { /* max/min return their second operand for NaN: v */
        __m256 vl = _mm256_set1_ps(tail->lo), vh = _mm256_set1_ps(tail->hi);
        lo[i] = _mm256_min_ps(vh, _mm256_max_ps(vl, lo[i]));
        hi[i] = _mm256_min_ps(vh, _mm256_max_ps(vl, hi[i]));
      }
    }
    if (full) {
      _mm256_storeu_ps(cr, lo[i]);
      _mm256_storeu_ps(cr + 8, hi[i]);
    } else {
      _mm256_maskstore_ps(cr, m0, lo[i]);
      _mm256_maskstore_ps(cr + 8, m1, hi[i]);
    }
  }
}

static void micro(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int32_t m, int32_t n,
                  bool accumulate, const pfw_sgemm_tail* tail) {
  switch (m) {
    case 6: tile(kc, a, b, c, ldc, 6, n, accumulate, tail); break;
    case 5: tile(kc, a, b, c, ldc, 5, n, accumulate, tail); break;
    case 4: tile(kc, a, b, c, ldc, 4, n, accumulate, tail); break;
    case 3: tile(kc, a, b, c, ldc, 3, n, accumulate, tail); break;
    case 2: tile(kc, a, b, c, ldc, 2, n, accumulate, tail); break;
    default: tile(kc, a, b, c, ldc, 1, n, accumulate, tail); break;
  }
}

const pfw_sgemm_kernel pfw_sgemm_f32_avx2 = {MR, NR, micro, "sgemm_f32_avx2_6x16"};

#endif
