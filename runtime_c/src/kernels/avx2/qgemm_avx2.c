/* Integer GEMM micro-kernels, AVX2: 6 x 16 int32 tiles, and the integer
 * ops' vector rows (requantisation, quantization, range, depthwise).
 *
 * The int16 path (qgemm.h micro): vpmaddwd multiplies the pairs and adds
 * each pair's two products into an int32 lane; the products are at most
 * 255 * 255, so no pair sum saturates, and the int32 adds wrap as the
 * reference's do: the result is the reference's, exactly.
 *
 * The byte path (micro_u8): vpmaddubsw multiplies 32 uint8 x int8 byte
 * pairs into int16 pair sums, vpmaddwd with ones adds a quad's two pairs
 * into an int32 lane: 32 products per two multiplies. The pair sums would
 * saturate only where |a0| + |a1| > 128, which the packing (qgemm_bytes.c)
 * rules out. */
#include "../target_avx2.h"
#include "../qgemm.h"
#ifdef PFW_HAVE_AVX2_KERNELS
#include <math.h>
#include <string.h>

#define MR 6

/* One row's K group of A (a pair of int16 or a quad of int8) in every lane. */
static inline __m256i lane_of(const void* p) {
  int32_t v;
  memcpy(&v, p, sizeof v);
  return _mm256_set1_epi32(v);
}

#define DOT_MADD(acc, a, b) _mm256_add_epi32(acc, _mm256_madd_epi16(a, b))
#define DOT_MADDUBS(acc, a, b) \
  _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(b, a), _mm256_set1_epi16(1)))

/* Twelve named accumulators (an array indexed in a loop stayed in memory
 * at -O2); G = K rows per group, so A steps MR * G and B 16 * G elements. */
#define ROW(DOT, G, r)                   \
  {                                      \
    __m256i av = lane_of(a + (r) * (G)); \
    c##r##0 = DOT(c##r##0, av, b0);      \
    c##r##1 = DOT(c##r##1, av, b1);      \
  }
#define STORE(r)                                           \
  _mm256_storeu_si256((__m256i*)(c + (r) * ldc), c##r##0); \
  _mm256_storeu_si256((__m256i*)(c + (r) * ldc + 8), c##r##1);

#define MICRO(name, DOT, TA, TB, G)                                                           \
  static void name(int64_t groups, const TA* a, const TB* b, int32_t* c, int64_t ldc) {       \
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00; \
    __m256i c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;                 \
    for (int64_t p = 0; p < groups; p++, a += MR * (G), b += 16 * (G)) {                      \
      __m256i b0 = _mm256_loadu_si256((const __m256i*)b);                                     \
      __m256i b1 = _mm256_loadu_si256((const __m256i*)(b + 8 * (G)));                         \
      ROW(DOT, G, 0) ROW(DOT, G, 1) ROW(DOT, G, 2) ROW(DOT, G, 3) ROW(DOT, G, 4) ROW(DOT, G, 5) \
    }                                                                                         \
    STORE(0) STORE(1) STORE(2) STORE(3) STORE(4) STORE(5)                                     \
  }

MICRO(micro, DOT_MADD, int16_t, int16_t, 2)
MICRO(micro_u8, DOT_MADDUBS, int8_t, uint8_t, 4)

const pfw_qgemm_kernel pfw_qgemm_avx2 = {"qgemm_avx2_6x16", MR, 16, micro, micro_u8, false, 0, NULL, NULL};

/* Sixteen outputs at a time, two taps per vpmaddwd: the taps' rows are
 * interleaved into pairs (unpack works within 128-bit lanes, so the two
 * accumulators hold outputs 0-3, 8-11 and 4-7, 12-15 until the final
 * permute). */
void pfw_qdw_row_avx2(int32_t* out, const int16_t* const* src, const int16_t* w, int32_t taps, int64_t n) {
  __m256i wv[32]; /* the taps in pairs, an odd last one with 0 (taps <= 64) */
  for (int32_t t = 0; t < taps; t += 2) {
    int16_t pw[2] = {w[t], t + 1 < taps ? w[t + 1] : 0};
    wv[t / 2] = lane_of(pw);
  }
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    __m256i lo = _mm256_setzero_si256(), hi = lo;
    for (int32_t t = 0; t < taps; t += 2) {
      __m256i a = _mm256_loadu_si256((const __m256i*)(src[t] + j));
      __m256i b = t + 1 < taps ? _mm256_loadu_si256((const __m256i*)(src[t + 1] + j)) : _mm256_setzero_si256();
      lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(a, b), wv[t / 2]));
      hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(a, b), wv[t / 2]));
    }
    _mm256_storeu_si256((__m256i*)(out + j), _mm256_permute2x128_si256(lo, hi, 0x20));
    _mm256_storeu_si256((__m256i*)(out + j + 8), _mm256_permute2x128_si256(lo, hi, 0x31));
  }
  for (; j < n; j++) {
    int32_t v = 0;
    for (int32_t t = 0; t < taps; t++) v += w[t] * src[t][j];
    out[j] = v;
  }
}

/* widen_row 16 columns (stride 1) or 32 (two phases) at a time; the
 * rest, which a full load would read past, as the scalar loop does. */
void pfw_qwiden_row_avx2(int16_t* even, int16_t* odd, const uint8_t* s, int64_t w, uint8_t flip, int32_t zero) {
  const __m256i vz = _mm256_set1_epi16((int16_t)zero), low = _mm256_set1_epi16(0xFF);
  int64_t i = 0;
  if (!odd) {
    const __m128i vf = _mm_set1_epi8((char)flip);
    for (; i + 16 <= w; i += 16) {
      __m128i v = _mm_xor_si128(_mm_loadu_si128((const __m128i*)(s + i)), vf);
      _mm256_storeu_si256((__m256i*)(even + i), _mm256_sub_epi16(_mm256_cvtepu8_epi16(v), vz));
    }
    for (; i < w; i++) even[i] = (int16_t)((s[i] ^ flip) - zero);
    return;
  }
  const __m256i vf = _mm256_set1_epi8((char)flip);
  for (; i + 32 <= w; i += 32) {
    __m256i v = _mm256_xor_si256(_mm256_loadu_si256((const __m256i*)(s + i)), vf);
    _mm256_storeu_si256((__m256i*)(even + i / 2), _mm256_sub_epi16(_mm256_and_si256(v, low), vz));
    _mm256_storeu_si256((__m256i*)(odd + i / 2), _mm256_sub_epi16(_mm256_srli_epi16(v, 8), vz));
  }
  for (; i < w; i++) (i & 1 ? odd : even)[i / 2] = (int16_t)((s[i] ^ flip) - zero);
}

/* range_row (qgemm.c) with four accumulators of 8: min_ps(x, acc) returns
 * acc where x is NaN, which is the reference's skip; min and max are exact
 * and order-free, so the result is the reference's. */
void pfw_range_row_avx2(const float* x, int64_t n, float* lo, float* hi) {
  __m256 a[4], b[4];
  for (int i = 0; i < 4; i++) a[i] = b[i] = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 32 <= n; k += 32)
    for (int i = 0; i < 4; i++) {
      __m256 v = _mm256_loadu_ps(x + k + 8 * i);
      a[i] = _mm256_min_ps(v, a[i]);
      b[i] = _mm256_max_ps(v, b[i]);
    }
  float la[8], lb[8], mn = 0, mx = 0;
  _mm256_storeu_ps(la, _mm256_min_ps(_mm256_min_ps(a[0], a[1]), _mm256_min_ps(a[2], a[3])));
  _mm256_storeu_ps(lb, _mm256_max_ps(_mm256_max_ps(b[0], b[1]), _mm256_max_ps(b[2], b[3])));
  for (int i = 0; i < 8; i++) {
    mn = la[i] < mn ? la[i] : mn;
    mx = lb[i] > mx ? lb[i] : mx;
  }
  for (; k < n; k++) {
    mn = x[k] < mn ? x[k] : mn;
    mx = x[k] > mx ? x[k] : mx;
  }
  *lo = mn, *hi = mx;
}

/* quantize_row (qgemm.c) 16 lanes at a time: the same IEEE division,
 * rounding and clamp (max_ps returns its second operand for NaN, as fmaxf
 * returns the number). */
void pfw_quantize_row_avx2(const float* x, int64_t n, float scale, float zero, float lo, float hi, void* y,
                           bool is_signed) {
  const __m256 vs = _mm256_set1_ps(scale), vz = _mm256_set1_ps(zero), vlo = _mm256_set1_ps(lo),
               vhi = _mm256_set1_ps(hi);
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    __m256i q[2];
    for (int h = 0; h < 2; h++) {
      __m256 v = _mm256_round_ps(_mm256_div_ps(_mm256_loadu_ps(x + j + 8 * h), vs),
                                 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      v = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(v, vz), vlo), vhi);
      q[h] = _mm256_cvtps_epi32(v); /* exact: an integer in [lo, hi] */
    }
    __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(q[0], q[1]), 0xD8); /* int16, in order */
    __m128i w0 = _mm256_castsi256_si128(w), w1 = _mm256_extracti128_si256(w, 1);
    __m128i b = is_signed ? _mm_packs_epi16(w0, w1) : _mm_packus_epi16(w0, w1);
    _mm_storeu_si128((__m128i*)((uint8_t*)y + j), b);
  }
  for (; j < n; j++) {
    float v = fminf(fmaxf(rintf(x[j] / scale) + zero, lo), hi);
    if (is_signed) ((int8_t*)y)[j] = (int8_t)v;
    else ((uint8_t*)y)[j] = (uint8_t)v;
  }
}

/* The scalar requant_row (qgemm.c) 8 lanes at a time: the same double
 * multiply, round-to-nearest-even and clamp, so the same bytes. */
void pfw_requant_row_avx2(const int32_t* c, int64_t ldc, int64_t rows, int64_t n, int32_t bias, double m,
                          int32_t zero, int32_t lo, int32_t hi, void* y, int64_t ldy, bool is_signed) {
  const __m256d vm = _mm256_set1_pd(m), vz = _mm256_set1_pd(zero), vlo = _mm256_set1_pd(lo),
                vhi = _mm256_set1_pd(hi);
  const __m128i vb = _mm_set1_epi32(bias);
  for (int64_t r = 0; r < rows; r++, c += ldc, y = (uint8_t*)y + ldy) {
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
      __m128i q[2];
      for (int h = 0; h < 2; h++) {
        __m128i a = _mm_add_epi32(_mm_loadu_si128((const __m128i*)(c + j + 4 * h)), vb);
        __m256d v =
            _mm256_round_pd(_mm256_mul_pd(_mm256_cvtepi32_pd(a), vm), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        v = _mm256_min_pd(_mm256_max_pd(_mm256_add_pd(v, vz), vlo), vhi);
        q[h] = _mm256_cvtpd_epi32(v); /* exact: an integer in [lo, hi] */
      }
      __m128i w = _mm_packs_epi32(q[0], q[1]); /* int16, exact in range */
      __m128i b8 = is_signed ? _mm_packs_epi16(w, w) : _mm_packus_epi16(w, w);
      _mm_storel_epi64((__m128i*)((uint8_t*)y + j), b8);
    }
    for (; j < n; j++) {
      double v = rint((double)(c[j] + bias) * m) + zero;
      int32_t o = (int32_t)(v < lo ? lo : v > hi ? hi : v);
      if (is_signed) ((int8_t*)y)[j] = (int8_t)o;
      else ((uint8_t*)y)[j] = (uint8_t)o;
    }
  }
}
#endif
