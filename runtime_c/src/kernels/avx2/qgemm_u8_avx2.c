/* Integer GEMM micro-kernel, AVX2 byte path: 6 x 16 int32 tiles from
 * uint8 B quads times int8 A quads. vpmaddubsw multiplies 32 byte pairs
 * into int16 pair sums, vpmaddwd with ones adds the two pairs of each quad
 * into an int32 lane: 32 products per two multiplies, where the int16 path
 * (qgemm_s16_avx2.c) does 16 per one. The pair sums saturate only when
 * |a0| + |a1| > 128, which the packing (qgemm_bytes.c) rules out, so the
 * result is the reference's exactly. */
#include "../target_avx2.h"
#include "../qgemm.h"
#ifdef PFW_HAVE_AVX2_KERNELS
#include <string.h>

#define MR 6

static inline __m256i quad(const int8_t* p) {
  int32_t v;
  memcpy(&v, p, sizeof v); /* one row's four int8s of a quad, as one lane */
  return _mm256_set1_epi32(v);
}

/* Twelve named accumulators (see qgemm_s16_avx2.c). */
#define ROW(r)                                                                                  \
  {                                                                                             \
    __m256i av = quad(a + (r) * 4);                                                             \
    c##r##0 = _mm256_add_epi32(c##r##0, _mm256_madd_epi16(_mm256_maddubs_epi16(b0, av), ones)); \
    c##r##1 = _mm256_add_epi32(c##r##1, _mm256_madd_epi16(_mm256_maddubs_epi16(b1, av), ones)); \
  }
#define STORE(r)                                           \
  _mm256_storeu_si256((__m256i*)(c + (r) * ldc), c##r##0); \
  _mm256_storeu_si256((__m256i*)(c + (r) * ldc + 8), c##r##1);

void pfw_qgemm_micro_u8_avx2(int64_t kq, const int8_t* a, const uint8_t* b, int32_t* c, int64_t ldc) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256i c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int64_t q = 0; q < kq; q++, a += MR * 4, b += 64) {
    __m256i b0 = _mm256_loadu_si256((const __m256i*)b);
    __m256i b1 = _mm256_loadu_si256((const __m256i*)(b + 32));
    ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5)
  }
  STORE(0) STORE(1) STORE(2) STORE(3) STORE(4) STORE(5)
}
#endif
