/* sgemm micro-kernel, AVX-512: an 8 x 32 tile of C in 16 zmm accumulators,
 * two B vectors and one broadcast A value per k. Tiles with fewer rows run a
 * copy specialised for that row count (same per-element arithmetic); fewer
 * columns use masked loads/stores. */
#include "../target_avx512.h"
#include "../sgemm.h"

#ifdef PFW_HAVE_AVX512_KERNELS

#define MR 8
#define NR 32

static inline __attribute__((always_inline)) void tile(int64_t kc, const float* a, const float* b, float* c,
                                                       int64_t ldc, const int rows, int32_t n, bool accumulate,
                                                       const pfw_sgemm_tail* tail) {
  __m512 lo[MR], hi[MR];
#pragma GCC unroll 8
  for (int i = 0; i < rows; i++) lo[i] = hi[i] = _mm512_setzero_ps();
  /* C is touched only after the k loop: start fetching its rows now. */
#pragma GCC unroll 8
  for (int i = 0; i < rows; i++) {
    _mm_prefetch((const char*)(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch((const char*)(c + i * ldc + 31), _MM_HINT_T0);
  }
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; k++) {
    __m512 b0 = _mm512_loadu_ps(b + k * NR), b1 = _mm512_loadu_ps(b + k * NR + 16);
#pragma GCC unroll 8
    for (int i = 0; i < rows; i++) {
      __m512 av = _mm512_set1_ps(a[k * MR + i]);
      lo[i] = _mm512_fmadd_ps(av, b0, lo[i]);
      hi[i] = _mm512_fmadd_ps(av, b1, hi[i]);
    }
  }
  __mmask16 m0 = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
  __mmask16 m1 = n >= 32 ? (__mmask16)0xFFFF : n > 16 ? (__mmask16)((1u << (n - 16)) - 1) : 0;
#pragma GCC unroll 8
  for (int i = 0; i < rows; i++) {
    float* cr = c + i * ldc;
    if (accumulate) {
      lo[i] = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, cr), lo[i]);
      hi[i] = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, cr + 16), hi[i]);
    }
    if (tail) {
      if (tail->bias) {
        __m512 bv = _mm512_set1_ps(tail->bias[i]);
        lo[i] = _mm512_add_ps(lo[i], bv);
        hi[i] = _mm512_add_ps(hi[i], bv);
      }
      if (tail->clamp) { /* max/min return their second operand for NaN: v */
        __m512 vl = _mm512_set1_ps(tail->lo), vh = _mm512_set1_ps(tail->hi);
        lo[i] = _mm512_min_ps(vh, _mm512_max_ps(vl, lo[i]));
        hi[i] = _mm512_min_ps(vh, _mm512_max_ps(vl, hi[i]));
      }
    }
    _mm512_mask_storeu_ps(cr, m0, lo[i]);
    _mm512_mask_storeu_ps(cr + 16, m1, hi[i]);
  }
}

static void micro(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int32_t m, int32_t n,
                  bool accumulate, const pfw_sgemm_tail* tail) {
  switch (m) {
    case 8: tile(kc, a, b, c, ldc, 8, n, accumulate, tail); break;
    case 7: tile(kc, a, b, c, ldc, 7, n, accumulate, tail); break;
    case 6: tile(kc, a, b, c, ldc, 6, n, accumulate, tail); break;
    case 5: tile(kc, a, b, c, ldc, 5, n, accumulate, tail); break;
    case 4: tile(kc, a, b, c, ldc, 4, n, accumulate, tail); break;
    case 3: tile(kc, a, b, c, ldc, 3, n, accumulate, tail); break;
    case 2: tile(kc, a, b, c, ldc, 2, n, accumulate, tail); break;
    default: tile(kc, a, b, c, ldc, 1, n, accumulate, tail); break;
  }
}

const pfw_sgemm_kernel pfw_sgemm_f32_avx512 = {MR, NR, micro, "sgemm_f32_avx512_8x32"};

#endif
