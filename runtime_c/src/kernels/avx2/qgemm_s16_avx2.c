/* Integer GEMM micro-kernel, AVX2: 6 x 16 int32 tiles from int16 pairs.
 * vpmaddwd multiplies the pairs and adds each pair's two products into an
 * int32 lane; the products are at most 255 * 255, so no pair sum
 * saturates (vpmaddubsw on raw uint8 x int8 could), and the int32 adds
 * wrap as the reference's do: the result is the reference's, exactly. */
#include "../target_avx2.h"
#include "../qgemm.h"
#ifdef PFW_HAVE_AVX2_KERNELS
#include <string.h>

#define MR 6

static inline __m256i pair(const int16_t* p) {
  int32_t v;
  memcpy(&v, p, sizeof v); /* the two int16s of one pair, as one lane */
  return _mm256_set1_epi32(v);
}

static void micro(int64_t kp, const int16_t* a, const int16_t* b, int32_t* c, int64_t ldc) {
  __m256i acc[MR][2];
  for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
  for (int64_t p = 0; p < kp; p++, a += MR * 2, b += 32) {
    __m256i b0 = _mm256_loadu_si256((const __m256i*)b);
    __m256i b1 = _mm256_loadu_si256((const __m256i*)(b + 16));
    for (int r = 0; r < MR; r++) {
      __m256i av = pair(a + r * 2);
      acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(av, b0));
      acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(av, b1));
    }
  }
  for (int r = 0; r < MR; r++) {
    _mm256_storeu_si256((__m256i*)(c + r * ldc), acc[r][0]);
    _mm256_storeu_si256((__m256i*)(c + r * ldc + 8), acc[r][1]);
  }
}

const pfw_qgemm_kernel pfw_qgemm_s16_avx2 = {"qgemm_s16_avx2_6x16", MR, 16, micro};
#endif
