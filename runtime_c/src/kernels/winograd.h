/* Winograd F(4x4, 3x3) tile transforms (Lavin & Gray, "Fast Algorithms for
 * Convolutional Neural Networks", 2015), the per-ISA half of the Winograd
 * Conv in ops/conv_winograd.c.
 *
 * A 3x3 stride-1 convolution over a 6x6 input tile d gives a 4x4 output tile
 * Y = A^T [ (G g G^T) (.) (B^T d B) ] A, summed over input channels: 36
 * products per channel and tile where the direct form takes 144. The 36
 * transformed values xi = 6 i + j of every (tile, channel) become 36 GEMMs
 * (tiles x C) x (C x M) on the packed sgemm kernels.
 *
 * The transforms work on a row of tiles at a time, vectorised across tiles:
 * tile t of a row reads input columns x0 + 4t .. x0 + 4t + 5. */
#ifndef PFW_KERNELS_WINOGRAD_H
#define PFW_KERNELS_WINOGRAD_H

#include <stdint.h>

#include "../internal.h"
#include "sgemm.h"

#define PFW_WINO_IN 6  /* input tile side */
#define PFW_WINO_OUT 4 /* output tile side */
#define PFW_WINO_XI 36 /* transformed values per tile */

/* Where the transformed input goes: the packed A operand of the 36 GEMMs
 * (sgemm.h's layout, rows = tiles). Value xi of the row's tile t lands at
 * dst[xi * xi_stride + (t0 + t) / mr * panel + (t0 + t) % mr]: dst is the
 * channel's column in the first panel, t0 the row's first tile within the
 * block. */
typedef struct pfw_wino_dst {
  float* dst;
  int64_t xi_stride, panel, t0;
  int32_t mr;
} pfw_wino_dst;

/* Input transform V = B^T d B of `tiles` tiles of one channel plane x
 * (H x W): tile t's window starts at row y0, column x0 + 4t (either may be
 * negative or run past the plane: those pixels are the zero padding).
 * `buf` holds pfw_wino_input_buf(tiles) floats. */
typedef void (*pfw_wino_input_fn)(const float* x, int64_t H, int64_t W, int64_t y0, int64_t x0, int64_t tiles,
                                  const pfw_wino_dst* to, float* buf);

/* Output transform of `tiles` tiles of a row for all M output channels: tile
 * t's 36 GEMM results for channel m are src[xi * xi_stride + t * M + m].
 * Writes act(A^T m A + bias[m]) (bias NULL: none; clamp as in sgemm.h) to
 * channel m's output plane y + m * plane, rows oy0.. and columns ox0 + 4t..,
 * cropped to `rows` rows and Wo columns. `buf` holds pfw_wino_output_buf()
 * floats. */
typedef void (*pfw_wino_output_fn)(const float* src, int64_t xi_stride, int64_t M, int64_t tiles,
                                   const pfw_sgemm_tail* tail, float* y, int64_t plane, int64_t Wo, int64_t oy0,
                                   int64_t rows, int64_t ox0, float* buf);

typedef struct pfw_wino_kernel {
  pfw_wino_input_fn input;
  pfw_wino_output_fn output;
  int32_t vl; /* float lanes: sizes the buffers */
} pfw_wino_kernel;

/* The kernels for `isa`, or NULL where Winograd is not offered (scalar:
 * the reference is the direct loop; NEON: not written yet). */
const pfw_wino_kernel* pfw_wino_kernel_for(pfw_isa isa);

extern const pfw_wino_kernel pfw_wino_f32_avx2;
extern const pfw_wino_kernel pfw_wino_f32_avx512;

/* Floats per row of the input transform's buffer: the tiles' 4 columns
 * each, rounded up to whole vectors of tiles, and the 4 + 4 more the last
 * vector's two stride-4 splits read. */
static inline int64_t pfw_wino_buf_row(int32_t vl, int64_t tiles) { return 4 * ((tiles + vl - 1) / vl * vl) + 8; }
/* Scratch floats of the transforms: the input's 6 buffer rows; the
 * output's 16 vectors. */
static inline int64_t pfw_wino_input_buf(const pfw_wino_kernel* k, int64_t tiles) {
  return PFW_WINO_IN * pfw_wino_buf_row(k->vl, tiles);
}
static inline int64_t pfw_wino_output_buf(const pfw_wino_kernel* k) { return 16 * (int64_t)k->vl; }

#endif
