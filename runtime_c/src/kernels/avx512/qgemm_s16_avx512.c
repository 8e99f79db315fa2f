/* Integer GEMM micro-kernels, AVX-512: 8 x 32 int32 tiles from the same
 * int16 pairs as the AVX2 kernel (qgemm.h), two ZMM vectors of columns per
 * row. With AVX512-VNNI, vpdpwssd multiplies the pairs and adds them into
 * the accumulator in one instruction; without it, vpmaddwd + vpaddd. Both
 * are exact: pair sums cannot overflow, and the non-saturating adds wrap as
 * the reference's do. */
#include "../target_avx512.h"
#include "../qgemm.h"
#ifdef PFW_HAVE_AVX512_KERNELS
#include <string.h>

#define MR 8

static inline __m512i pair(const int16_t* p) {
  int32_t v;
  memcpy(&v, p, sizeof v); /* the two int16s of one pair, as one lane */
  return _mm512_set1_epi32(v);
}

#define DOT_MADD(acc, a, b) _mm512_add_epi32(acc, _mm512_madd_epi16(a, b))
#define DOT_VNNI(acc, a, b) _mm512_dpwssd_epi32(acc, a, b)

/* Sixteen named accumulators (an indexed array stayed in memory at -O2). */
#define ROW(DOT, r)                           \
  {                                           \
    __m512i av = pair(a + (r) * 2);           \
    c##r##0 = DOT(c##r##0, av, b0);           \
    c##r##1 = DOT(c##r##1, av, b1);           \
  }
#define STORE(r)                                          \
  _mm512_storeu_si512((void*)(c + (r) * ldc), c##r##0);   \
  _mm512_storeu_si512((void*)(c + (r) * ldc + 16), c##r##1);

#define MICRO(name, DOT, attr)                                                                   \
  attr static void name(int64_t kp, const int16_t* a, const int16_t* b, int32_t* c, int64_t ldc) { \
    __m512i c00 = _mm512_setzero_si512(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;   \
    __m512i c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00; \
    __m512i c70 = c00, c71 = c00;                                                                \
    for (int64_t p = 0; p < kp; p++, a += MR * 2, b += 64) {                                     \
      __m512i b0 = _mm512_loadu_si512((const void*)b);                                           \
      __m512i b1 = _mm512_loadu_si512((const void*)(b + 32));                                    \
      ROW(DOT, 0) ROW(DOT, 1) ROW(DOT, 2) ROW(DOT, 3) ROW(DOT, 4) ROW(DOT, 5) ROW(DOT, 6) ROW(DOT, 7) \
    }                                                                                            \
    STORE(0) STORE(1) STORE(2) STORE(3) STORE(4) STORE(5) STORE(6) STORE(7)                      \
  }

MICRO(micro_madd, DOT_MADD, )
MICRO(micro_vnni, DOT_VNNI, __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,avx512vnni"))))

const pfw_qgemm_kernel pfw_qgemm_s16_avx512 = {"qgemm_avx512_8x32", MR, 32, micro_madd, pfw_qgemm_micro_u8_avx512,
                                               false, 0};
const pfw_qgemm_kernel pfw_qgemm_s16_avx512vnni = {"qgemm_avx512vnni_8x32", MR, 32, micro_vnni,
                                                   pfw_qgemm_micro_u8_avx512vnni, true, 0};
#endif
