/* The byte path's im2col step (qgemm.h pfw_interleave4_u8), AVX2 build:
 * sixteen columns of four input rows into sixteen quads per step with
 * byte and word unpacks; the span's last columns (fewer than sixteen, or
 * for stride 2 the step whose 32-byte load would pass the row's last
 * column) go through the scalar loop, as a full load there could read
 * past the input. */
#include "../target_avx2.h"
#include "../qgemm.h"
#ifdef PFW_HAVE_AVX2_KERNELS

void pfw_interleave4_u8_avx2(uint8_t* d, const uint8_t* const s[4], int64_t lo, int64_t hi, int64_t sx,
                             uint8_t flip) {
  int64_t c = lo;
  if (sx == 1 || sx == 2) {
    const __m128i vf = _mm_set1_epi8((char)flip), evens = _mm_set1_epi16(0x00FF);
    for (; c + 16 + (sx == 2) <= hi; c += 16) {
      __m128i r[4];
      for (int t = 0; t < 4; t++) {
        const uint8_t* p = s[t] + c * sx;
        if (sx == 1) {
          r[t] = _mm_loadu_si128((const __m128i*)p);
        } else {
          __m128i a = _mm_and_si128(_mm_loadu_si128((const __m128i*)p), evens);
          __m128i b = _mm_and_si128(_mm_loadu_si128((const __m128i*)(p + 16)), evens);
          r[t] = _mm_packus_epi16(a, b);
        }
        r[t] = _mm_xor_si128(r[t], vf);
      }
      __m128i l01 = _mm_unpacklo_epi8(r[0], r[1]), h01 = _mm_unpackhi_epi8(r[0], r[1]);
      __m128i l23 = _mm_unpacklo_epi8(r[2], r[3]), h23 = _mm_unpackhi_epi8(r[2], r[3]);
      __m128i* o = (__m128i*)(d + c * 4);
      _mm_storeu_si128(o, _mm_unpacklo_epi16(l01, l23));
      _mm_storeu_si128(o + 1, _mm_unpackhi_epi16(l01, l23));
      _mm_storeu_si128(o + 2, _mm_unpacklo_epi16(h01, h23));
      _mm_storeu_si128(o + 3, _mm_unpackhi_epi16(h01, h23));
    }
  }
  pfw_interleave4_u8_scalar(d, s, c, hi, sx, flip);
}
#endif
