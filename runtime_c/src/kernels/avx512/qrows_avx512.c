/* Integer-op rows, AVX-512: requantisation (qgemm.h requant_row), sixteen
 * outputs at a time, the same exact double product and half-to-even
 * rounding as the scalar reference, and masked loads and stores for the
 * tail instead of a scalar loop (rows are often short: 7 x 7 planes, 49
 * outputs); and the depthwise row (qdw_row) 32 outputs at a time. */
#include "../target_avx512.h"
#include "../qgemm.h"
#ifdef PFW_HAVE_AVX512_KERNELS

void pfw_requant_row_avx512(const int32_t* c, int64_t n, int32_t bias, double m, int32_t zero, int32_t lo,
                            int32_t hi, void* y, bool is_signed) {
  (void)is_signed; /* the clamped values' low bytes are right for both */
  /* The product is clamped (in double, exactly) to one step past the
   * output range before the rounding conversion, so it cannot overflow
   * int32; the zero point and the clamp then run on integers. Rounding a
   * value clamped to lo - zero - 1 gives at most that, which the integer
   * clamp maps to lo as the reference's order (round, add, clamp) does. */
  const __m512d vm = _mm512_set1_pd(m), vlo = _mm512_set1_pd((double)lo - zero - 1),
                vhi = _mm512_set1_pd((double)hi - zero + 1);
  const __m512i vb = _mm512_set1_epi32(bias), vz = _mm512_set1_epi32(zero), ilo = _mm512_set1_epi32(lo),
                ihi = _mm512_set1_epi32(hi);
  for (int64_t j = 0; j < n; j += 16) {
    __mmask16 k = n - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - j)) - 1);
    __m512i a = _mm512_add_epi32(_mm512_maskz_loadu_epi32(k, c + j), vb);
    __m256i q[2];
    for (int h = 0; h < 2; h++) {
      __m256i part = h ? _mm512_extracti64x4_epi64(a, 1) : _mm512_castsi512_si256(a);
      __m512d v = _mm512_min_pd(_mm512_max_pd(_mm512_mul_pd(_mm512_cvtepi32_pd(part), vm), vlo), vhi);
      q[h] = _mm512_cvt_roundpd_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); /* half to even */
    }
    __m512i all = _mm512_add_epi32(_mm512_inserti64x4(_mm512_castsi256_si512(q[0]), q[1], 1), vz);
    all = _mm512_min_epi32(_mm512_max_epi32(all, ilo), ihi);
    _mm_mask_storeu_epi8((uint8_t*)y + j, k, _mm512_cvtepi32_epi8(all));
  }
}

/* qdw_row as the AVX2 one does it, on ZMM: unpack works within 128-bit
 * lanes, so lo holds columns 0-3, 8-11, 16-19, 24-27 and hi the others;
 * two two-source permutes put them back in order. */
void pfw_qdw_row_avx512(int32_t* out, const int16_t* const* src, const int16_t* w, int32_t taps, int64_t n) {
  __m512i wv[32]; /* the taps in pairs, an odd last one with 0 (taps <= 64) */
  for (int32_t t = 0; t < taps; t += 2) {
    uint32_t pw = (uint16_t)w[t] | (uint32_t)(t + 1 < taps ? (uint16_t)w[t + 1] : 0) << 16;
    wv[t / 2] = _mm512_set1_epi32((int32_t)pw);
  }
  const __m512i first = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11), second = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
  int64_t j = 0;
  for (; j + 32 <= n; j += 32) {
    __m512i lo = _mm512_setzero_si512(), hi = lo;
    for (int32_t t = 0; t < taps; t += 2) {
      __m512i a = _mm512_loadu_si512((const void*)(src[t] + j));
      __m512i b = t + 1 < taps ? _mm512_loadu_si512((const void*)(src[t + 1] + j)) : _mm512_setzero_si512();
      lo = _mm512_add_epi32(lo, _mm512_madd_epi16(_mm512_unpacklo_epi16(a, b), wv[t / 2]));
      hi = _mm512_add_epi32(hi, _mm512_madd_epi16(_mm512_unpackhi_epi16(a, b), wv[t / 2]));
    }
    _mm512_storeu_si512((void*)(out + j), _mm512_permutex2var_epi64(lo, first, hi));
    _mm512_storeu_si512((void*)(out + j + 16), _mm512_permutex2var_epi64(lo, second, hi));
  }
  if (j < n) {
    const int16_t* rest[64];
    for (int32_t t = 0; t < taps; t++) rest[t] = src[t] + j;
    pfw_qdw_row_avx2(out + j, rest, w, taps, n - j);
  }
}
#endif
