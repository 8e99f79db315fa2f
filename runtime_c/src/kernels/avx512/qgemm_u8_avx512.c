/* Integer GEMM micro-kernels, AVX-512 byte path: 8 x 32 int32 tiles from
 * uint8 B quads times int8 A quads (qgemm.h micro_u8). With AVX512-VNNI,
 * vpdpbusd adds each lane's four products into the accumulator with no
 * intermediate saturation, so A is packed uncut; without it, vpmaddubsw +
 * vpmaddwd(ones) + vpaddd as in the AVX2 kernel, exact under the pair
 * bound the packing keeps. 64 products per instruction with VNNI, twice
 * the int16 path's vpdpwssd. */
#include "../target_avx512.h"
#include "../qgemm.h"
#ifdef PFW_HAVE_AVX512_KERNELS
#include <string.h>

#define MR 8

static inline __m512i quad(const int8_t* p) {
  int32_t v;
  memcpy(&v, p, sizeof v); /* one row's four int8s of a quad, as one lane */
  return _mm512_set1_epi32(v);
}

#define DOT_MADDUBS(acc, b, a) \
  _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(b, a), _mm512_set1_epi16(1)))
#define DOT_VNNI(acc, b, a) _mm512_dpbusd_epi32(acc, b, a)

/* Sixteen named accumulators (see qgemm_s16_avx512.c). */
#define ROW(DOT, r)                 \
  {                                 \
    __m512i av = quad(a + (r) * 4); \
    c##r##0 = DOT(c##r##0, b0, av); \
    c##r##1 = DOT(c##r##1, b1, av); \
  }
#define STORE(r)                                        \
  _mm512_storeu_si512((void*)(c + (r) * ldc), c##r##0); \
  _mm512_storeu_si512((void*)(c + (r) * ldc + 16), c##r##1);

#define MICRO(name, DOT, attr)                                                                          \
  attr void name(int64_t kq, const int8_t* a, const uint8_t* b, int32_t* c, int64_t ldc) {               \
    __m512i c00 = _mm512_setzero_si512(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;          \
    __m512i c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00;        \
    __m512i c70 = c00, c71 = c00;                                                                       \
    for (int64_t q = 0; q < kq; q++, a += MR * 4, b += 128) {                                           \
      __m512i b0 = _mm512_loadu_si512((const void*)b);                                                  \
      __m512i b1 = _mm512_loadu_si512((const void*)(b + 64));                                           \
      ROW(DOT, 0) ROW(DOT, 1) ROW(DOT, 2) ROW(DOT, 3) ROW(DOT, 4) ROW(DOT, 5) ROW(DOT, 6) ROW(DOT, 7)   \
    }                                                                                                   \
    STORE(0) STORE(1) STORE(2) STORE(3) STORE(4) STORE(5) STORE(6) STORE(7)                             \
  }

MICRO(pfw_qgemm_micro_u8_avx512, DOT_MADDUBS, )
MICRO(pfw_qgemm_micro_u8_avx512vnni, DOT_VNNI,
      __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,avx512vnni"))))
#endif
