/* Integer-op rows, AVX-512: requantisation (qgemm.h requant_row), 64
 * outputs at a time, the scalar reference's integers (float32 where that
 * provably rounds the same, else its exact double product), and masked
 * loads and stores for the tail instead of a scalar loop (rows are often
 * short: 7 x 7 planes, 49 outputs); the depthwise rows: int16 (qdw_row)
 * 32 outputs at a time with its input widened (qwiden_row), and bytes
 * with VNNI (qdw_u8_row) 64 at a time with its input split by phase
 * (qsplit_row). */
#include "../target_avx512.h"
#include "../qgemm.h"
#ifdef PFW_HAVE_AVX512_KERNELS
#include "quads_avx512.h"

/* Sixteen outputs of requant_row in double, exactly as the scalar one:
 * the product is clamped to one step past the output range before the
 * rounding conversion, so it cannot overflow int32; rounding a value
 * clamped to lo - zero - 1 gives at most that, which the integer clamp
 * maps to lo as the reference's order (round, add, clamp) does. */
static inline __m512i requant16_double(__m512i a, __m512d vm, __m512d vlo, __m512d vhi) {
  __m256i h[2];
  for (int i = 0; i < 2; i++) {
    __m256i part = i ? _mm512_extracti64x4_epi64(a, 1) : _mm512_castsi512_si256(a);
    __m512d v = _mm512_min_pd(_mm512_max_pd(_mm512_mul_pd(_mm512_cvtepi32_pd(part), vm), vlo), vhi);
    h[i] = _mm512_cvt_roundpd_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); /* half to even */
  }
  return _mm512_inserti64x4(_mm512_castsi256_si512(h[0]), h[1], 1);
}

void pfw_requant_row_avx512(const int32_t* c, int64_t ldc, int64_t rows, int64_t n, int32_t bias, double m,
                            int32_t zero, int32_t lo, int32_t hi, void* y, int64_t ldy, bool is_signed) {
  const __m512d vm = _mm512_set1_pd(m), vlo = _mm512_set1_pd((double)lo - zero - 1),
                vhi = _mm512_set1_pd((double)hi - zero + 1);
  const __m512i vb = _mm512_set1_epi32(bias), vz = _mm512_set1_epi32(zero), ilo = _mm512_set1_epi32(lo),
                ihi = _mm512_set1_epi32(hi);
  /* The float32 product (twice as many lanes as double) rounds to the
   * same integer unless the exact one is near a half: its error is at most
   * |x m| 2^-23, under 2^-14 while |x m| <= 2^9, and past that the output
   * saturates either way (the clamp bounds lie within 256 of the zero
   * point). So a block of 64 whose float products all lie more than 2^-13
   * from a half keeps them; any other goes through double. With m < 2 the
   * products stay within 2^30 (|x| < 2^29), so they need no clamp before
   * the conversion, nor after it before the zero point is added: the
   * saturating packs and a byte clamp finish the job. */
  const float mf = (float)m;
  const bool fast = (double)mf == m && m < 2.0;
  const __m512 fm = _mm512_set1_ps(mf), near = _mm512_set1_ps(0.5f - 1.0f / 8192);
  /* packs work within 128-bit lanes: dword 4L + s of the packed vector is
   * lane L of block s */
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  const __m512i blo = _mm512_set1_epi8((char)lo), bhi = _mm512_set1_epi8((char)hi);
  for (int64_t row = 0; row < rows; row++, c += ldc, y = (uint8_t*)y + ldy) {
    int64_t j = 0;
    for (; fast && j < n; j += 64) { /* straight through, the last block masked */
      __m512i a[4], r[4];
      __m512 pr[4];
      __mmask16 near_half = 0;
      int64_t left = n - j;
      __mmask64 k = left >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << left) - 1;
      for (int s = 0; s < 4; s++) {
        a[s] = _mm512_add_epi32(_mm512_maskz_loadu_epi32((__mmask16)(k >> (16 * s)), c + j + s * 16), vb);
        __m512 p = _mm512_mul_ps(_mm512_cvtepi32_ps(a[s]), fm);
        pr[s] = _mm512_roundscale_ps(p, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        near_half |= _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(p, pr[s])), near, _CMP_GT_OQ);
      }
      for (int s = 0; s < 4; s++)
        r[s] = _mm512_add_epi32(near_half ? requant16_double(a[s], vm, vlo, vhi) : _mm512_cvtps_epi32(pr[s]), vz);
      __m512i w0 = _mm512_packs_epi32(r[0], r[1]), w1 = _mm512_packs_epi32(r[2], r[3]), b;
      if (is_signed) b = _mm512_min_epi8(_mm512_max_epi8(_mm512_packs_epi16(w0, w1), blo), bhi);
      else b = _mm512_min_epu8(_mm512_max_epu8(_mm512_packus_epi16(w0, w1), blo), bhi);
      _mm512_mask_storeu_epi8((uint8_t*)y + j, k, _mm512_permutexvar_epi32(order, b));
    }
    for (; j < n; j += 64) { /* m >= 2, or not a float: double throughout */
      __m512i q[4];
      int64_t left = n - j;
      __mmask64 k = left >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << left) - 1;
      for (int s = 0; s < 4; s++) {
        __m512i a = _mm512_add_epi32(_mm512_maskz_loadu_epi32((__mmask16)(k >> (16 * s)), c + j + s * 16), vb);
        q[s] = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(requant16_double(a, vm, vlo, vhi), vz), ilo), ihi);
      }
      /* to bytes with saturating packs (exact: the values are in range) and
       * one store; vpmovdb's store form is slow on some cores (Zen 4) */
      __m512i w0 = _mm512_packs_epi32(q[0], q[1]), w1 = _mm512_packs_epi32(q[2], q[3]);
      __m512i b = is_signed ? _mm512_packs_epi16(w0, w1) : _mm512_packus_epi16(w0, w1);
      _mm512_mask_storeu_epi8((uint8_t*)y + j, k, _mm512_permutexvar_epi32(order, b));
    }
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
/* widen_row 32 columns (stride 1) or 64 (two phases) at a time, masked at
 * the end: the parity split is a word's low and high byte. */
void pfw_qwiden_row_avx512(int16_t* even, int16_t* odd, const uint8_t* s, int64_t w, uint8_t flip, int32_t zero) {
  const __m512i vz = _mm512_set1_epi16((int16_t)zero), low = _mm512_set1_epi16(0xFF);
  if (!odd) {
    const __m256i vf = _mm256_set1_epi8((char)flip);
    for (int64_t i = 0; i < w; i += 32) {
      __mmask32 k = w - i >= 32 ? ~(__mmask32)0 : (__mmask32)((UINT64_C(1) << (w - i)) - 1);
      __m256i v = _mm256_xor_si256(_mm256_maskz_loadu_epi8(k, s + i), vf);
      _mm512_mask_storeu_epi16(even + i, k, _mm512_sub_epi16(_mm512_cvtepu8_epi16(v), vz));
    }
    return;
  }
  const __m512i vf = _mm512_set1_epi8((char)flip);
  for (int64_t i = 0; i < w; i += 64) {
    int64_t left = w - i;
    __mmask64 k = left >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << left) - 1;
    __m512i v = _mm512_xor_si512(_mm512_maskz_loadu_epi8(k, s + i), vf);
    int64_t ne = left >= 64 ? 32 : (left + 1) / 2, no = left >= 64 ? 32 : left / 2;
    _mm512_mask_storeu_epi16(even + i / 2, (__mmask32)((UINT64_C(1) << ne) - 1),
                             _mm512_sub_epi16(_mm512_and_si512(v, low), vz));
    _mm512_mask_storeu_epi16(odd + i / 2, (__mmask32)((UINT64_C(1) << no) - 1),
                             _mm512_sub_epi16(_mm512_srli_epi16(v, 8), vz));
  }
}

#define VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,avx512vnni")))

/* qdw_u8_row: for each group of four taps, the four shifted input runs
 * are interleaved into byte quads (quads_avx512.h: accumulator i holds
 * outputs 16L + 4i .. 16L + 4i + 3 of lane L) and multiplied by the
 * group's four weights in one vpdpbusd; the lane transpose puts the 64
 * outputs back in order. A group past the
 * last tap reads the group's first run again with weight 0. */
VNNI void pfw_qdw_u8_row_avx512vnni(int32_t* out, const uint8_t* u, const int64_t* off, const int8_t* w, int32_t taps,
                                    int32_t init, int64_t n) {
  __m512i wq[16];
  int32_t groups = (taps + 3) / 4;
  for (int32_t g = 0; g < groups; g++) {
    uint32_t v = 0;
    for (int32_t e = 0; e < 4; e++) v |= (uint32_t)(uint8_t)(g * 4 + e < taps ? w[g * 4 + e] : 0) << (8 * e);
    wq[g] = _mm512_set1_epi32((int32_t)v);
  }
  const __m512i vi = _mm512_set1_epi32(init);
  for (int64_t j = 0; j < n; j += 64) {
    __m512i a0 = vi, a1 = vi, a2 = vi, a3 = vi;
    for (int32_t g = 0; g < groups; g++) {
      int32_t t = g * 4;
      __m512i x0 = _mm512_loadu_si512((const void*)(u + off[t] + j));
      __m512i x1 = t + 1 < taps ? _mm512_loadu_si512((const void*)(u + off[t + 1] + j)) : x0;
      __m512i x2 = t + 2 < taps ? _mm512_loadu_si512((const void*)(u + off[t + 2] + j)) : x0;
      __m512i x3 = t + 3 < taps ? _mm512_loadu_si512((const void*)(u + off[t + 3] + j)) : x0;
      __m512i q[4];
      pfw_quads4_avx512(x0, x1, x2, x3, q);
      a0 = _mm512_dpbusd_epi32(a0, q[0], wq[g]);
      a1 = _mm512_dpbusd_epi32(a1, q[1], wq[g]);
      a2 = _mm512_dpbusd_epi32(a2, q[2], wq[g]);
      a3 = _mm512_dpbusd_epi32(a3, q[3], wq[g]);
    }
    pfw_store_lanes_t_avx512(out + j, a0, a1, a2, a3);
  }
}

/* qsplit_row 64 bytes (stride 1) or 128 (two phases) at a time, masked
 * at each row's end; the parity split packs each word's low and high
 * byte, and vpermq undoes the packs' lane order. */
void pfw_qsplit_row_avx512(uint8_t* even, uint8_t* odd, int64_t ld, const uint8_t* s, int64_t lds, int64_t rows,
                           int64_t w, uint8_t flip) {
  const __m512i vf = _mm512_set1_epi8((char)flip);
  const __m512i low = _mm512_set1_epi16(0xFF), order = _mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7);
  for (int64_t r = 0; r < rows; r++, even += ld, odd = odd ? odd + ld : NULL, s += lds) {
    if (!odd) {
      for (int64_t i = 0; i < w; i += 64) {
        __mmask64 k = w - i >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << (w - i)) - 1;
        _mm512_mask_storeu_epi8(even + i, k, _mm512_xor_si512(_mm512_maskz_loadu_epi8(k, s + i), vf));
      }
      continue;
    }
    for (int64_t i = 0; i < w; i += 128) {
      int64_t left = w - i;
      __mmask64 k0 = left >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << left) - 1;
      __mmask64 k1 = left >= 128 ? ~(__mmask64)0 : left <= 64 ? 0 : ((__mmask64)1 << (left - 64)) - 1;
      __m512i v0 = _mm512_xor_si512(_mm512_maskz_loadu_epi8(k0, s + i), vf);
      __m512i v1 = _mm512_xor_si512(_mm512_maskz_loadu_epi8(k1, s + i + 64), vf);
      __m512i e =
          _mm512_permutexvar_epi64(order, _mm512_packus_epi16(_mm512_and_si512(v0, low), _mm512_and_si512(v1, low)));
      __m512i o =
          _mm512_permutexvar_epi64(order, _mm512_packus_epi16(_mm512_srli_epi16(v0, 8), _mm512_srli_epi16(v1, 8)));
      int64_t ne = left >= 128 ? 64 : (left + 1) / 2, no = left >= 128 ? 64 : left / 2;
      _mm512_mask_storeu_epi8(even + i / 2, ne >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << ne) - 1, e);
      if (no > 0) _mm512_mask_storeu_epi8(odd + i / 2, no >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << no) - 1, o);
    }
  }
}
#endif
