/* Private to the integer-product ops: qlinear.c (the GEMM path and the
 * reference) and qconv_depthwise.c (depthwise QLinearConv/ConvInteger). */
#ifndef PFW_OPS_QLINEAR_H
#define PFW_OPS_QLINEAR_H

#include "../kernels/qgemm.h"
#include "quant.h"

/* Input positions of one op's operands; -1 = the op has none. */
typedef struct qsig {
  int32_t x, xs, xz, w, ws, wz, ys, yz, b;
  bool conv;
} qsig;

/* The product as rows (weights: output channels or columns) x columns
 * (activations: spatial positions or rows of x) per batch, from the shapes. */
typedef struct qgeom {
  const qsig* sig;
  int64_t rows, cols, K, batch; /* batch = images x groups (Conv) or matmul batches */
  int64_t groups, images;       /* Conv */
  int64_t C, Cg, out_plane;     /* Conv: input channels, per group; output positions */
  int64_t out_rows;             /* all output channels (Conv) or N (MatMul) */
  bool w_shared;                /* one weight matrix for every batch (MatMul) */
  pfw_spatial g;
} qgeom;

/* The output stage: requantisation (QLinear*) or an int32 copy. */
typedef struct qstore {
  const qgeom* q;
  void* y;
  pfw_dtype ydt;
  const int32_t* bias;      /* QLinearConv's B, or NULL */
  const pfw_requant* mult;  /* per output row (channel / column); NULL: int32 out */
  const double* dmult;      /* the same multipliers as doubles, when rows are contiguous and */
  pfw_requant_row_fn row;   /* |acc + bias| < 2^29 (qgemm.h): the vector requantisation */
  int32_t yz, lo, hi;
} qstore;

/* Writes rows [i0, i0+m) x columns [j0, j0+n) of batch b (a pfw_qgemm_store_fn):
 * Conv output (image, group) planes, or MatMul's y[b][col][row]. */
void pfw_qstore_tile(const void* ctx, int64_t b, int64_t i0, int32_t m, int64_t j0, int32_t n, const int32_t* c,
                     int64_t ldc);

/* Writes output row `row` of Conv batch b (one channel's plane) from c
 * laid out as `rows` runs of `ld` values of which the first `cols` are
 * kept (the depthwise path's wide rows); tmp: rows * ld + 8 bytes.
 * Overwrites c where it must compact it (no vector requantisation). */
void pfw_qstore_wide(const qstore* s, int64_t b, int64_t row, int32_t* c, int64_t rows, int64_t cols, int64_t ld,
                     uint8_t* tmp);

/* The activations (x) and their zero point. */
typedef struct qinput {
  const qgeom* q;
  const void* x;
  bool is_signed;
  int32_t xz;           /* Conv: per tensor */
  const int32_t* xzs;   /* MatMul: per row of x (1 or cols values) */
  int64_t xz_step;
  pfw_interleave4_u8_fn interleave; /* the byte path's im2col step for the node's ISA */
} qinput;

/* x as the integer kernels read it: uint8, int8 flipped (x ^ 0x80 = x +
 * 128), and its zero point moved to match. */
static inline uint8_t qinput_flip(const qinput* in) { return in->is_signed ? 0x80 : 0; }
static inline int32_t qinput_zero_u8(const qinput* in) { return in->is_signed ? in->xz + 128 : in->xz; }

/* Conv's implicit im2col (qim2col.c): pfw_qgemm_pack_fn and
 * pfw_qgemm_pack_u8_fn over a qinput; the byte path's K is tap-major with
 * the group's channels padded to quads, pfw_qconv_k8 long. */
void pfw_qconv_im2col(const void* ctx, int64_t b, int64_t j0, int64_t nc, int32_t nr, int16_t* dst);
void pfw_qconv_im2col_u8(const void* ctx, int64_t b, int64_t j0, int64_t nc, int32_t nr, uint8_t* dst);
int64_t pfw_qconv_k8(const qgeom* q);

/* The stride-phase layout the direct and depthwise paths copy their input
 * into (2-D, or 1-D as one row): padded position (r, c) goes to phase
 * plane (r % sy, c % sx) at (r / sy, c / sx); planes have rows of *L and
 * *sub positions, and output (oy, ox) reads tap t at position
 * oy * L + ox + off[t]. In saturating size arithmetic (ops_common.h), so a
 * layout past PFW_SIZE_LIMIT shows as too big (qconv_depthwise.c). */
void pfw_qphase_plan(const pfw_spatial* g, int64_t* L, int64_t* sub, int64_t* off);
/* The first input index (row or column) of phase p, for pad `pad` and stride s. */
static inline int64_t pfw_qphase_first(int64_t p, int64_t pad, int64_t s) { return ((p - pad) % s + s) % s; }

/* Depthwise QLinearConv / ConvInteger (qconv_depthwise.c): one channel per
 * group, 2-D; a direct loop over a zero-bordered int16 copy of each plane.
 * Exact like the GEMM path, so it serves every level above scalar. */
bool pfw_qconv_depthwise_applies(const qgeom* q);
size_t pfw_qconv_depthwise_scratch(const qgeom* q, int32_t threads);
/* w8: the weights minus their zero points as int8, taps per channel, for
 * the byte path where the ISA has one (qgemm.h qdw_u8_row); NULL when
 * they are not constant or do not fit. */
void pfw_qconv_depthwise_run(const pfw_node* node, const qgeom* q, const qinput* in, const int32_t* wz,
                             const int8_t* w8, const qstore* st, void* scratch);

/* QLinearConv without im2col (qconv_direct.c): one group, 1-D or 2-D,
 * the byte path's packed weights with the x zero point folded into the
 * bias, on kernels with micro_u8_taps; each image interleaved once into
 * zero-point padded channel quads that the kernel reads in place. */
bool pfw_qconv_direct_applies(const qgeom* q, const pfw_qgemm_kernel* k);
size_t pfw_qconv_direct_scratch(const qgeom* q, const pfw_qgemm_kernel* k, int32_t threads);
void pfw_qconv_direct_run(const pfw_node* node, const qgeom* q, const qinput* in, const pfw_qgemm_a8* a8,
                          const qstore* st, const pfw_qgemm_kernel* k, void* scratch);

#endif
