/* NEON single-precision GEMM micro-kernel, 8 x 12: 24 float32x4 accumulators
 * (8 rows by 3 vectors of 4 columns) plus 2 registers of A and 3 of B fit in
 * AArch64's 32 vector registers. Advanced SIMD is part of the AArch64 base
 * ISA, so no target pragma is needed. */
#if defined(__aarch64__)
#include <arm_neon.h>

#include "../sgemm.h"

enum { MR = 8, NR = 12 };

/* The full MR x NR tile t (row stride ldt) = or += A_panel * B_panel. Each
 * element is one chain of fused multiply-adds in k order, starting from t's
 * value when accumulating and from 0 otherwise (sgemm.h's contract).
 * Accumulators are named variables, not an array: GCC keeps an array of 24
 * vectors in memory and stores it back on every k. Lane indices must be
 * constants, hence one macro use per row. */
#define PFW_ROW_LOAD(i)                                                  \
  float32x4_t c##i##0 = accumulate ? vld1q_f32(t + (i) * ldt) : zero;     \
  float32x4_t c##i##1 = accumulate ? vld1q_f32(t + (i) * ldt + 4) : zero; \
  float32x4_t c##i##2 = accumulate ? vld1q_f32(t + (i) * ldt + 8) : zero
#define PFW_ROW_FMA(i, av, lane)                     \
  c##i##0 = vfmaq_laneq_f32(c##i##0, b0, av, lane); \
  c##i##1 = vfmaq_laneq_f32(c##i##1, b1, av, lane); \
  c##i##2 = vfmaq_laneq_f32(c##i##2, b2, av, lane)
#define PFW_ROW_STORE(i)                 \
  vst1q_f32(t + (i) * ldt, c##i##0);     \
  vst1q_f32(t + (i) * ldt + 4, c##i##1); \
  vst1q_f32(t + (i) * ldt + 8, c##i##2)

static void tile(int64_t kc, const float* a, const float* b, float* t, int64_t ldt, bool accumulate) {
  const float32x4_t zero = vdupq_n_f32(0.0f);
  PFW_ROW_LOAD(0);
  PFW_ROW_LOAD(1);
  PFW_ROW_LOAD(2);
  PFW_ROW_LOAD(3);
  PFW_ROW_LOAD(4);
  PFW_ROW_LOAD(5);
  PFW_ROW_LOAD(6);
  PFW_ROW_LOAD(7);
  for (int64_t k = 0; k < kc; k++, a += MR, b += NR) {
    const float32x4_t a0 = vld1q_f32(a), a1 = vld1q_f32(a + 4);
    const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8);
    PFW_ROW_FMA(0, a0, 0);
    PFW_ROW_FMA(1, a0, 1);
    PFW_ROW_FMA(2, a0, 2);
    PFW_ROW_FMA(3, a0, 3);
    PFW_ROW_FMA(4, a1, 0);
    PFW_ROW_FMA(5, a1, 1);
    PFW_ROW_FMA(6, a1, 2);
    PFW_ROW_FMA(7, a1, 3);
  }
  PFW_ROW_STORE(0);
  PFW_ROW_STORE(1);
  PFW_ROW_STORE(2);
  PFW_ROW_STORE(3);
  PFW_ROW_STORE(4);
  PFW_ROW_STORE(5);
  PFW_ROW_STORE(6);
  PFW_ROW_STORE(7);
}
#undef PFW_ROW_LOAD
#undef PFW_ROW_FMA
#undef PFW_ROW_STORE

/* Bias and clamp on the stored tile (it is in L1): written as the
 * reference's comparisons, so NaN and -0 pass as they do there. */
static void apply_tail(float* c, int64_t ldc, int32_t m, int32_t n, const pfw_sgemm_tail* tail) {
  for (int32_t i = 0; i < m; i++) {
    float* r = c + i * ldc;
    if (tail->bias)
      for (int32_t j = 0; j < n; j++) r[j] += tail->bias[i];
    if (tail->clamp)
      for (int32_t j = 0; j < n; j++) {
        float v = r[j] < tail->lo ? tail->lo : r[j];
        r[j] = v > tail->hi ? tail->hi : v;
      }
  }
}

static void micro(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int32_t m, int32_t n,
                  bool accumulate, const pfw_sgemm_tail* tail) {
  if (m == MR && n == NR) {
    tile(kc, a, b, c, ldc, accumulate);
    if (tail) apply_tail(c, ldc, m, n, tail);
    return;
  }
  /* Edge tile: compute the whole tile in a local copy (the panels' padding
   * rows and columns are zero) so only C's m x n elements are touched. */
  float t[MR * NR] = {0}; /* zeroed: tile() reads all of it when accumulating */
  for (int32_t i = 0; i < m && accumulate; i++)
    for (int32_t j = 0; j < n; j++) t[i * NR + j] = c[i * ldc + j];
  tile(kc, a, b, t, NR, accumulate);
  for (int32_t i = 0; i < m; i++)
    for (int32_t j = 0; j < n; j++) c[i * ldc + j] = t[i * NR + j];
  if (tail) apply_tail(c, ldc, m, n, tail);
}

const pfw_sgemm_kernel pfw_sgemm_f32_neon = {MR, NR, micro, "sgemm_f32_neon_8x12"};

#endif
