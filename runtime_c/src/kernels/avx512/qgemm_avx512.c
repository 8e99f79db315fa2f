/* Integer GEMM micro-kernels, AVX-512: 8 x 32 int32 tiles, two ZMM vectors
 * of columns per row.
 *
 * The int16 path (qgemm.h micro) multiplies the packed pairs: with
 * AVX512-VNNI vpdpwssd multiplies and adds them into the accumulator in
 * one instruction; without it, vpmaddwd + vpaddd. Pair sums cannot
 * overflow and the adds wrap as the reference's do.
 *
 * The byte path (micro_u8) multiplies uint8 B quads by int8 A quads: with
 * VNNI vpdpbusd adds each lane's four products with no intermediate
 * saturation, 64 products per instruction, so A is packed uncut; without
 * it, vpmaddubsw + vpmaddwd(ones) + vpaddd, exact under the pair bound the
 * packing keeps (qgemm_bytes.c). */
#include "../target_avx512.h"
#include "../qgemm.h"
#ifdef PFW_HAVE_AVX512_KERNELS
#include <string.h>

#define MR 8
#define VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,avx512vnni")))

/* One row's K group of A (a pair of int16 or a quad of int8) in every lane. */
static inline __m512i lane_of(const void* p) {
  int32_t v;
  memcpy(&v, p, sizeof v);
  return _mm512_set1_epi32(v);
}

#define DOT_MADD(acc, a, b) _mm512_add_epi32(acc, _mm512_madd_epi16(a, b))
#define DOT_S16_VNNI(acc, a, b) _mm512_dpwssd_epi32(acc, a, b)
#define DOT_MADDUBS(acc, a, b) \
  _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(b, a), _mm512_set1_epi16(1)))
#define DOT_U8_VNNI(acc, a, b) _mm512_dpbusd_epi32(acc, b, a)

/* Sixteen named accumulators (an indexed array stayed in memory at -O2);
 * G = K rows per group (2 int16s or 4 bytes), so A steps MR * G and B
 * 32 * G elements per group. */
#define ROW(DOT, G, r)                       \
  {                                          \
    __m512i av = lane_of(a + (r) * (G));     \
    c##r##0 = DOT(c##r##0, av, b0);          \
    c##r##1 = DOT(c##r##1, av, b1);          \
  }
#define STORE(r)                                        \
  _mm512_storeu_si512((void*)(c + (r) * ldc), c##r##0); \
  _mm512_storeu_si512((void*)(c + (r) * ldc + 16), c##r##1);

#define ZERO_ALL                                                                                  \
  __m512i c00 = _mm512_setzero_si512(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;     \
  __m512i c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00;   \
  __m512i c70 = c00, c71 = c00;
/* One K group: B's 32 columns at bp, A's MR rows at a. */
#define STEP(DOT, G, bp)                                                                                  \
  {                                                                                                       \
    __m512i b0 = _mm512_loadu_si512((const void*)(bp));                                                   \
    __m512i b1 = _mm512_loadu_si512((const void*)((bp) + 16 * (G)));                                      \
    ROW(DOT, G, 0) ROW(DOT, G, 1) ROW(DOT, G, 2) ROW(DOT, G, 3) ROW(DOT, G, 4) ROW(DOT, G, 5) ROW(DOT, G, 6) \
    ROW(DOT, G, 7)                                                                                        \
  }
#define STORE_ALL STORE(0) STORE(1) STORE(2) STORE(3) STORE(4) STORE(5) STORE(6) STORE(7)

#define MICRO(name, DOT, TA, TB, G, attr)                                                \
  attr void name(int64_t groups, const TA* a, const TB* b, int32_t* c, int64_t ldc) {    \
    ZERO_ALL                                                                             \
    for (int64_t p = 0; p < groups; p++, a += MR * (G), b += 32 * (G)) {                 \
      _mm_prefetch((const char*)(a + 1024 / sizeof(TA)), _MM_HINT_T0);                    \
      STEP(DOT, G, b)                                                                    \
    }                                                                                    \
    STORE_ALL                                                                            \
  }

MICRO(micro_madd, DOT_MADD, int16_t, int16_t, 2, static)
MICRO(micro_vnni, DOT_S16_VNNI, int16_t, int16_t, 2, VNNI static)
MICRO(micro_u8_maddubs, DOT_MADDUBS, int8_t, uint8_t, 4, static)
MICRO(micro_u8_vnni, DOT_U8_VNNI, int8_t, uint8_t, 4, VNNI static)

/* The direct convolution's tile: tap t's quads start at b + boff[t], one
 * input channel quad plane (bstride bytes) apart. */
VNNI static void micro_u8_taps_vnni(int32_t taps, const int64_t* boff, int64_t cq, int64_t bstride, const int8_t* a,
                                    const uint8_t* b, int32_t* c, int64_t ldc) {
  ZERO_ALL
  for (int32_t t = 0; t < taps; t++) {
    const uint8_t* bt = b + boff[t];
    for (int64_t q = 0; q < cq; q++, a += MR * 4, bt += bstride) {
      _mm_prefetch((const char*)(a + 1024), _MM_HINT_T0);
      STEP(DOT_U8_VNNI, 4, bt)
    }
  }
  STORE_ALL
}

/* One column: the MR rows of a quad are one 256-bit vector, B's quad is
 * broadcast; four accumulators keep four quads in flight. */
VNNI static void gemv_u8_vnni(int64_t kq, const int8_t* a, const uint8_t* b, int64_t bstride, int32_t* c,
                              int64_t ldc) {
  __m256i acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
  int64_t q = 0;
  for (; q + 4 <= kq; q += 4)
    for (int u = 0; u < 4; u++) {
      int32_t v;
      memcpy(&v, b + (q + u) * bstride, sizeof v);
      acc[u] = _mm256_dpbusd_epi32(acc[u], _mm256_set1_epi32(v), _mm256_loadu_si256((const __m256i*)(a + (q + u) * MR * 4)));
    }
  for (; q < kq; q++) {
    int32_t v;
    memcpy(&v, b + q * bstride, sizeof v);
    acc[0] = _mm256_dpbusd_epi32(acc[0], _mm256_set1_epi32(v), _mm256_loadu_si256((const __m256i*)(a + q * MR * 4)));
  }
  int32_t sum[MR];
  _mm256_storeu_si256((__m256i*)sum, _mm256_add_epi32(_mm256_add_epi32(acc[0], acc[1]), _mm256_add_epi32(acc[2], acc[3])));
  for (int r = 0; r < MR; r++) c[r * ldc] = sum[r];
}

const pfw_qgemm_kernel pfw_qgemm_avx512 = {"qgemm_avx512_8x32", MR, 32, micro_madd, micro_u8_maddubs, false, 0, NULL,
                                           NULL};
const pfw_qgemm_kernel pfw_qgemm_avx512vnni = {"qgemm_avx512vnni_8x32", MR, 32, micro_vnni, micro_u8_vnni, true, 0,
                                                micro_u8_taps_vnni, gemv_u8_vnni};
#endif
