/* Integer GEMM micro-kernels, AArch64: 8 x 8 int32 tiles.
 *
 * The int16 path: vld2 splits each packed pair into its two K rows, and
 * smlal (vmlal_laneq_s16) multiplies 4 columns by one row's value into
 * int32 lanes: products of at most 255 * 255, wrapping adds, so exactly
 * the reference's sums.
 *
 * The byte path, with the dot-product extension (Armv8.2 DotProd, on
 * nearly every 64-bit phone core since 2017): sdot adds four int8 x int8
 * products per int32 lane with no intermediate saturation. It multiplies
 * signed bytes, so B's uint8 quads are read as b ^ 0x80 = b - 128 and the
 * driver takes 128 times the row sums back out (u8_offset). */
#if defined(__aarch64__)
#include <arm_neon.h>
#include <sys/auxv.h>

#include "../qgemm.h"

#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif

enum { MR = 8, NR = 8 };

bool pfw_qgemm_neon_has_dotprod(void) { return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0; }

/* Named accumulators (an array stays in memory at -O2); lanes must be
 * constants, hence one macro use per row. */
#define ACC(r) int32x4_t c##r##0 = vdupq_n_s32(0), c##r##1 = c##r##0
#define STORE(r)                      \
  vst1q_s32(c + (r) * ldc, c##r##0); \
  vst1q_s32(c + (r) * ldc + 4, c##r##1)

#define MLAL(r, av, lane)                                                 \
  c##r##0 = vmlal_laneq_s16(c##r##0, vget_low_s16(b.val[0]), av.val[0], lane); \
  c##r##1 = vmlal_high_laneq_s16(c##r##1, b.val[0], av.val[0], lane);          \
  c##r##0 = vmlal_laneq_s16(c##r##0, vget_low_s16(b.val[1]), av.val[1], lane); \
  c##r##1 = vmlal_high_laneq_s16(c##r##1, b.val[1], av.val[1], lane)

static void micro_s16(int64_t kp, const int16_t* a, const int16_t* b16, int32_t* c, int64_t ldc) {
  ACC(0); ACC(1); ACC(2); ACC(3); ACC(4); ACC(5); ACC(6); ACC(7);
  for (int64_t p = 0; p < kp; p++, a += MR * 2, b16 += NR * 2) {
    int16x8x2_t av = vld2q_s16(a), b = vld2q_s16(b16); /* val[0]: the pair's first K row, val[1]: its second */
    MLAL(0, av, 0); MLAL(1, av, 1); MLAL(2, av, 2); MLAL(3, av, 3);
    MLAL(4, av, 4); MLAL(5, av, 5); MLAL(6, av, 6); MLAL(7, av, 7);
  }
  STORE(0); STORE(1); STORE(2); STORE(3); STORE(4); STORE(5); STORE(6); STORE(7);
}

const pfw_qgemm_kernel pfw_qgemm_neon = {"qgemm_neon_8x8", MR, NR, micro_s16, NULL, false, 0, NULL, NULL};

#define SDOT(r, av, lane)                               \
  c##r##0 = vdotq_laneq_s32(c##r##0, b0, av, lane); \
  c##r##1 = vdotq_laneq_s32(c##r##1, b1, av, lane)
/* One quad: columns 0-3 in b0, 4-7 in b1, each lane one column's 4 K
 * rows (read as b ^ 0x80 = b - 128); rows 0-3 of A in a0, 4-7 in a1. */
#define SDOT_STEP(bp)                                                   \
  {                                                                     \
    int8x16_t b0 = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(bp), flip));      \
    int8x16_t b1 = vreinterpretq_s8_u8(veorq_u8(vld1q_u8((bp) + 16), flip)); \
    int8x16_t a0 = vld1q_s8(a), a1 = vld1q_s8(a + 16);                   \
    SDOT(0, a0, 0); SDOT(1, a0, 1); SDOT(2, a0, 2); SDOT(3, a0, 3);      \
    SDOT(4, a1, 0); SDOT(5, a1, 1); SDOT(6, a1, 2); SDOT(7, a1, 3);      \
  }
#define DOTPROD __attribute__((target("arch=armv8.2-a+dotprod")))

DOTPROD static void micro_sdot(int64_t kq, const int8_t* a, const uint8_t* b, int32_t* c, int64_t ldc) {
  const uint8x16_t flip = vdupq_n_u8(0x80);
  ACC(0); ACC(1); ACC(2); ACC(3); ACC(4); ACC(5); ACC(6); ACC(7);
  for (int64_t q = 0; q < kq; q++, a += MR * 4, b += NR * 4) SDOT_STEP(b)
  STORE(0); STORE(1); STORE(2); STORE(3); STORE(4); STORE(5); STORE(6); STORE(7);
}

/* The direct convolution's tile (qgemm.h micro_u8_taps). */
DOTPROD static void micro_sdot_taps(int32_t taps, const int64_t* boff, int64_t cq, int64_t bstride, const int8_t* a,
                                    const uint8_t* b, int32_t* c, int64_t ldc) {
  const uint8x16_t flip = vdupq_n_u8(0x80);
  ACC(0); ACC(1); ACC(2); ACC(3); ACC(4); ACC(5); ACC(6); ACC(7);
  for (int32_t t = 0; t < taps; t++) {
    const uint8_t* bt = b + boff[t];
    for (int64_t q = 0; q < cq; q++, a += MR * 4, bt += bstride) SDOT_STEP(bt)
  }
  STORE(0); STORE(1); STORE(2); STORE(3); STORE(4); STORE(5); STORE(6); STORE(7);
}

const pfw_qgemm_kernel pfw_qgemm_neon_dotprod = {"qgemm_neon_dotprod_8x8", MR, NR, micro_s16, micro_sdot, true, 128,
                                                 micro_sdot_taps, NULL};
#endif
