/* Byte quads of four 64-byte rows in 512-bit registers, for the files
 * that include target_avx512.h first: the byte path's im2col step
 * (interleave4_u8_avx512.c) and the depthwise byte row (qrows_avx512.c).
 * unpack works within 128-bit lanes, so q[i]'s lane L holds the quads of
 * columns 16 L + 4 i .. 16 L + 4 i + 3; store_lanes_t puts four such
 * vectors (or int32 sums made from them, lane for lane) back in column
 * order with a 4 x 4 transpose of their lanes. */
#ifndef PFW_KERNELS_QUADS_AVX512_H
#define PFW_KERNELS_QUADS_AVX512_H

static inline void pfw_quads4_avx512(__m512i r0, __m512i r1, __m512i r2, __m512i r3, __m512i q[4]) {
  __m512i l01 = _mm512_unpacklo_epi8(r0, r1), h01 = _mm512_unpackhi_epi8(r0, r1);
  __m512i l23 = _mm512_unpacklo_epi8(r2, r3), h23 = _mm512_unpackhi_epi8(r2, r3);
  q[0] = _mm512_unpacklo_epi16(l01, l23), q[1] = _mm512_unpackhi_epi16(l01, l23);
  q[2] = _mm512_unpacklo_epi16(h01, h23), q[3] = _mm512_unpackhi_epi16(h01, h23);
}

/* dst gets lane 0 of q0..q3, then lane 1 of each, ...: 256 bytes. */
static inline void pfw_store_lanes_t_avx512(void* dst, __m512i q0, __m512i q1, __m512i q2, __m512i q3) {
  __m512i t0 = _mm512_shuffle_i32x4(q0, q1, 0x44), t1 = _mm512_shuffle_i32x4(q2, q3, 0x44);
  __m512i t2 = _mm512_shuffle_i32x4(q0, q1, 0xEE), t3 = _mm512_shuffle_i32x4(q2, q3, 0xEE);
  uint8_t* d = dst;
  _mm512_storeu_si512((void*)d, _mm512_shuffle_i32x4(t0, t1, 0x88));
  _mm512_storeu_si512((void*)(d + 64), _mm512_shuffle_i32x4(t0, t1, 0xDD));
  _mm512_storeu_si512((void*)(d + 128), _mm512_shuffle_i32x4(t2, t3, 0x88));
  _mm512_storeu_si512((void*)(d + 192), _mm512_shuffle_i32x4(t2, t3, 0xDD));
}

#endif
