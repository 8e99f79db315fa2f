/* Row kernels of the 2-D window ops, float32 NCHW: depthwise Conv and the
 * Max/Average pools, one output row of one (batch, channel) plane per call,
 * plus the global pools, one plane per call. 1-D ops run as 2-D with height 1
 * (pfw_spatial right-aligns the dims, slot 0 is then trivial).
 *
 * Every kernel splits a row into the interior columns [xa, xb), whose taps
 * all lie inside the input row (vectorised along output columns, no bounds
 * checks), and the border columns around it (scalar, taps clipped). Both
 * compute an output element with the same operations in the same order, so
 * results do not depend on the vector width, the border split or the thread:
 * - depthwise Conv: acc = 0, then acc = fma(x, w, acc) over the valid taps in
 *   order (ky, kx), in float; y = acc + bias, clamped when the plane says so
 *   (other activations are the caller's);
 * - MaxPool: the reference's `if (v > mx) mx = v` from -FLT_MAX (max_ps with
 *   the new value first is exactly that, NaN inputs skipped alike);
 * - AveragePool: the reference's double sum in tap order, divided in double:
 *   bit-identical to the scalar loop in pool.c.
 * The global pools differ in one respect: the mean sums the plane in double
 * with one partial sum per vector lane (the reference adds left to right),
 * so it may differ from the reference in the last bit of the float result;
 * a zero maximum may carry the other sign of zero when both occur. */
#ifndef PFW_KERNELS_WINDOW_F32_H
#define PFW_KERNELS_WINDOW_F32_H

#include "../internal.h"
#include "../ops/ops_common.h"

typedef struct pfw_window_plane {
  const pfw_spatial* g; /* geometry; slot 1 = rows, slot 2 = columns */
  const float* x;       /* this plane's input, g->in[1] x g->in[2] */
  const float* w;       /* Conv: this channel's g->k[1] x g->k[2] weights */
  float bias;           /* Conv: B[c], or 0 */
  bool clamp;           /* Conv: y = min(max(y, lo), hi), NaN kept (a fused Relu or Clip) */
  float lo, hi;
  bool is_max;          /* pools: MaxPool, else AveragePool */
  bool include_pad;     /* AveragePool's count_include_pad */
  int64_t xa, xb;       /* interior columns (pfw_spatial_interior) */
} pfw_window_plane;

/* Writes output row oy, g->out[2] values, into y. */
typedef void (*pfw_window_row_fn)(const pfw_window_plane* p, int64_t oy, float* y);
/* A whole plane of a depthwise Conv, several output rows at a time, with the
 * same arithmetic per element as the row kernel: first copied into buf
 * (geometry gp: no padding, every tap inside; its padding zeroed by the
 * caller), or with buf NULL read in place (every tap inside already).
 * False, nothing written, for kernels it does not cover: those run row by
 * row. */
typedef bool (*pfw_window_plane_fn)(const pfw_window_plane* p, const pfw_spatial* gp, float* buf, float* y);
/* Plane x (geometry g) into buf (geometry gp), g->pb[1] rows down and
 * g->pb[2] columns in; buf's other elements are the padding, zeroed by the
 * caller and never written here. */
typedef void (*pfw_window_pad_fn)(const pfw_spatial* g, const pfw_spatial* gp, const float* x, float* buf);
/* The mean (is_max false) or the max of x[0..n): one plane of a global pool. */
typedef float (*pfw_global_pool_fn)(const float* x, int64_t n, bool is_max);

typedef struct pfw_window_kernels {
  pfw_window_row_fn conv_depthwise, pool;
  pfw_global_pool_fn global_pool;
  pfw_window_plane_fn conv_depthwise_plane;
  pfw_window_pad_fn pad; /* the copy conv_depthwise_plane makes at stride 1, for the row path */
} pfw_window_kernels;

/* A whole window op for pfw_window_run (ops/conv_depthwise.c): `row` over
 * every output row of N*C planes, tasks whole planes, then `act` on the row.
 * With w set, plane (n, c) takes weights w + c*kh*kw and bias b[c] (b may be
 * NULL); the rest of each plane comes from `base`. */
typedef struct pfw_window_job {
  pfw_window_row_fn row;
  pfw_window_plane base;
  pfw_spatial g;
  /* Conv: each plane is first copied into a zero-padded buffer of geometry
   * `gp` (no padding, every tap inside; `slot_floats` in each thread's slot
   * of `scratch`), so every row is interior, and `plane` may do rows
   * several at a time: the scalar border columns would otherwise cost as
   * much as a 112-wide row's interior. Chosen from the shapes alone, so
   * every ISA and thread count takes the same path. */
  bool padded;
  pfw_spatial gp;
  pfw_window_plane_fn plane;
  pfw_window_pad_fn pad;
  bool inside; /* every tap inside already (no padding): `plane` runs on x */
  float* scratch;
  size_t slot_floats;
  const float *x, *w, *b;
  float* y;
  int64_t C;
  pfw_activation act;
} pfw_window_job;
/* Sets base.g and the interior from job->g, then runs the N*C planes on
 * up to `threads` threads. */
void pfw_window_run(pfw_window_job* job, pfw_threadpool* pool, int64_t planes, int32_t threads);

/* The kernels for `isa`, or NULL where there are none (scalar, NEON);
 * defined in ops/conv_depthwise.c. */
const pfw_window_kernels* pfw_window_kernels_for(pfw_isa isa);

/* kernels/<isa>/conv_depthwise_f32_<isa>.c and pool_f32_<isa>.c (x86-64). */
void pfw_conv_depthwise_row_f32_avx512(const pfw_window_plane* p, int64_t oy, float* y);
void pfw_conv_depthwise_row_f32_avx2(const pfw_window_plane* p, int64_t oy, float* y);
bool pfw_conv_depthwise_plane_f32_avx512(const pfw_window_plane* p, const pfw_spatial* gp, float* buf, float* y);
bool pfw_conv_depthwise_plane_f32_avx2(const pfw_window_plane* p, const pfw_spatial* gp, float* buf, float* y);
void pfw_conv_depthwise_pad_f32_avx512(const pfw_spatial* g, const pfw_spatial* gp, const float* x, float* buf);
void pfw_conv_depthwise_pad_f32_avx2(const pfw_spatial* g, const pfw_spatial* gp, const float* x, float* buf);
void pfw_pool_row_f32_avx512(const pfw_window_plane* p, int64_t oy, float* y);
void pfw_pool_row_f32_avx2(const pfw_window_plane* p, int64_t oy, float* y);
float pfw_global_pool_f32_avx512(const float* x, int64_t n, bool is_max);
float pfw_global_pool_f32_avx2(const float* x, int64_t n, bool is_max);

#endif
