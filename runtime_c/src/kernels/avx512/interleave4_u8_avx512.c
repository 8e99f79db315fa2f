/* The byte path's im2col step (qgemm.h pfw_interleave4_u8), AVX-512 BW/VL:
 * sixteen columns of four input rows into sixteen quads per step, with
 * masked loads and stores at both ends of the span, so the short runs of
 * small planes (7 x 7) take no scalar loop; long stride-1 runs go 64
 * columns at a time. Stride 2 loads 32 bytes and keeps the even ones
 * (vpmovwb). */
#include "../target_avx512.h"
#include "../qgemm.h"
#ifdef PFW_HAVE_AVX512_KERNELS
#include "quads_avx512.h"

void pfw_interleave4_u8_avx512(uint8_t* d, const uint8_t* const s[4], int64_t lo, int64_t hi, int64_t sx,
                               uint8_t flip) {
  if (sx != 1 && sx != 2) {
    pfw_interleave4_u8_scalar(d, s, lo, hi, sx, flip);
    return;
  }
  const __m128i vf = _mm_set1_epi8((char)flip);
  if (sx == 1) { /* long runs (a 1x1 Conv's whole plane): 64 columns per step, in 512-bit registers */
    const __m512i vf64 = _mm512_set1_epi8((char)flip);
    for (; lo + 64 <= hi; lo += 64) {
      __m512i r[4], q[4];
      for (int t = 0; t < 4; t++) r[t] = _mm512_xor_si512(_mm512_loadu_si512((const void*)(s[t] + lo)), vf64);
      pfw_quads4_avx512(r[0], r[1], r[2], r[3], q);
      pfw_store_lanes_t_avx512(d + lo * 4, q[0], q[1], q[2], q[3]);
    }
  }
  for (int64_t c = lo; c < hi; c += 16) {
    int64_t len = hi - c < 16 ? hi - c : 16;
    __m128i r[4];
    for (int t = 0; t < 4; t++) {
      const uint8_t* p = s[t] + c * sx;
      if (sx == 1) {
        r[t] = _mm_maskz_loadu_epi8((__mmask16)((1u << len) - 1), p);
      } else { /* bytes 0, 2, ..., 2 len - 2: the odd one past the last is not read */
        __mmask32 k = (__mmask32)((UINT64_C(1) << (2 * len - 1)) - 1);
        r[t] = _mm256_cvtepi16_epi8(_mm256_maskz_loadu_epi8(k, p));
      }
      r[t] = _mm_xor_si128(r[t], vf);
    }
    __m128i l01 = _mm_unpacklo_epi8(r[0], r[1]), h01 = _mm_unpackhi_epi8(r[0], r[1]);
    __m128i l23 = _mm_unpacklo_epi8(r[2], r[3]), h23 = _mm_unpackhi_epi8(r[2], r[3]);
    __m512i q = _mm512_castsi128_si512(_mm_unpacklo_epi16(l01, l23));
    q = _mm512_inserti32x4(q, _mm_unpackhi_epi16(l01, l23), 1);
    q = _mm512_inserti32x4(q, _mm_unpacklo_epi16(h01, h23), 2);
    q = _mm512_inserti32x4(q, _mm_unpackhi_epi16(h01, h23), 3);
    __mmask64 k = len == 16 ? ~(__mmask64)0 : ((__mmask64)1 << (4 * len)) - 1;
    _mm512_mask_storeu_epi8(d + c * 4, k, q);
  }
}
#endif
