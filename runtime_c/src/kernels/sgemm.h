/* Packed single-precision GEMM: micro-kernels per instruction set and the
 * cache-blocked driver the ops call (sgemm.c).
 *
 * Layouts. A packed A panel holds `mr` rows by `kc` columns with column k
 * contiguous: a[k * mr + i]; a packed B panel holds `kc` rows by `nr`
 * columns with row k contiguous: b[k * nr + j]. Rows/columns past the edge of
 * the matrix are zero. A whole matrix packed ahead of time (constant weights)
 * is cut into equal K blocks of at most PFW_SGEMM_KC (the last may be
 * shorter by rounding): the block starting at depth k0 starts at
 * rows_padded * k0 and holds its panels one after the other (panel p at
 * p * mr * kcb, kcb the block's depth).
 *
 * Every element of C is the sum over k in increasing order with one fused
 * multiply-add per term, K blocks in order, whatever the tiling and the
 * thread that computes it: results are the same at every thread count. */
#ifndef PFW_KERNELS_SGEMM_H
#define PFW_KERNELS_SGEMM_H

#include "../internal.h"
#include "../ops/ops_common.h"

#define PFW_SGEMM_KC 256 /* K block: one A panel (mr x KC) stays in L1 */

/* What the micro-kernel applies to a finished tile while it is still in
 * registers: + bias[i] per row i of the tile (bias NULL: none), then, with
 * clamp, min(max(v, lo), hi) with NaN passed through (Relu, Clip, ReLU6). */
typedef struct pfw_sgemm_tail {
  const float* bias;
  bool clamp;
  float lo, hi;
} pfw_sgemm_tail;

/* C[m x n] (=, or += with accumulate) A_panel * B_panel over kc terms,
 * then `tail` if not NULL; 1 <= m <= mr, 1 <= n <= nr; c is row-major with
 * row stride ldc. Only the m x n elements are read or written. */
typedef void (*pfw_sgemm_micro_fn)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int32_t m,
                                   int32_t n, bool accumulate, const pfw_sgemm_tail* tail);

typedef struct pfw_sgemm_kernel {
  int32_t mr, nr;
  pfw_sgemm_micro_fn micro;
  const char* name; /* "sgemm_f32_avx512_8x32" */
} pfw_sgemm_kernel;

/* The micro-kernel for `isa`, or NULL for PFW_ISA_SCALAR (ops then run
 * their double-accumulating reference loops). */
const pfw_sgemm_kernel* pfw_sgemm_kernel_for(pfw_isa isa);

extern const pfw_sgemm_kernel pfw_sgemm_f32_avx512;
extern const pfw_sgemm_kernel pfw_sgemm_f32_avx2;
extern const pfw_sgemm_kernel pfw_sgemm_f32_neon;

/* ---- driver (sgemm.c) ------------------------------------------------------
 * Y[b] = act(alpha * A[b] B[b] + bias + beta * C[b]) for b in [0, batch):
 * A is M x K, B is K x N, Y is M x N with row stride ldy.
 * Each operand is given one way: prepacked panels (whole matrix, see above;
 * shared by every batch), strided data (element (r, c) at
 * data[off[b] + r * rs + c * cs], off NULL = 0), or a pack function that
 * writes the panels itself (implicit im2col for Conv: as B, or as A for
 * the transposed product, whose panels have the same layout). */
typedef void (*pfw_sgemm_pack_fn)(const void* ctx, int64_t batch, int64_t k0, int64_t kc, int64_t j0, int64_t nc,
                                  int32_t nr, int64_t panel_stride, float* dst);

typedef struct pfw_sgemm_args {
  int64_t M, N, K, batch;
  const float* a;
  int64_t a_rs, a_cs;
  const int64_t* a_off;
  const float* a_packed;
  const float* b;
  int64_t b_rs, b_cs;
  const int64_t* b_off;
  const float* b_packed;
  pfw_sgemm_pack_fn pack_b; /* writes panels of rows [k0, k0+kc), columns [j0, j0+nc), panel_stride apart */
  pfw_sgemm_pack_fn pack_a; /* the same for A^T: A's rows [j0, j0+nc) are the columns it writes */
  const void* pack_ctx;     /* of both */
  float* y;
  int64_t ldy, y_batch;     /* Y[b] at y + b * y_batch */
  float alpha, beta;        /* beta applies to c; c NULL = no C term */
  const float* c;
  int64_t c_rs, c_cs, c_batch; /* strides 0 along broadcast dims */
  const float* bias;        /* one value per row of Y, or NULL */
  pfw_activation act;
} pfw_sgemm_args;

/* Whether `threads` make pfw_sgemm cut Y's rows into more tasks than one
 * thread would, so that each task packs the same B columns again: callers
 * with a pack function may rather pack B once, shared (conv_gemm.c). */
bool pfw_sgemm_splits_rows(const pfw_sgemm_kernel* k, const pfw_sgemm_args* g, int32_t threads);
/* Bytes of scratch pfw_sgemm needs for these arguments with `threads`. */
size_t pfw_sgemm_scratch_size(const pfw_sgemm_kernel* k, const pfw_sgemm_args* g, int32_t threads);
/* Runs the product; `scratch` holds pfw_sgemm_scratch_size bytes (64-byte aligned). */
void pfw_sgemm(const pfw_sgemm_kernel* k, const pfw_sgemm_args* g, void* scratch, pfw_threadpool* pool,
               int32_t threads);
/* Floats of a whole packed A (M x K) or B (K x N). */
size_t pfw_sgemm_packed_a_floats(const pfw_sgemm_kernel* k, int64_t M, int64_t K);
size_t pfw_sgemm_packed_b_floats(const pfw_sgemm_kernel* k, int64_t K, int64_t N);
/* The depth of each K block of a whole packed matrix of depth K (the last
 * block may be shorter): block k0 starts at rows_padded * k0. */
int64_t pfw_sgemm_kstep(int64_t K);
/* Packs a whole matrix given by strides into the layout described above. */
void pfw_sgemm_pack_a(const pfw_sgemm_kernel* k, const float* a, int64_t rs, int64_t cs, int64_t M, int64_t K,
                      float* dst);
void pfw_sgemm_pack_b(const pfw_sgemm_kernel* k, const float* b, int64_t rs, int64_t cs, int64_t K, int64_t N,
                      float* dst);

/* Allocates `floats` 64-byte-aligned floats in one block for node->state
 * (freed with free() by the interpreter); NULL when out of memory. */
float* pfw_sgemm_alloc_state(size_t floats, void** state);
/* The aligned floats of a block from pfw_sgemm_alloc_state (NULL: NULL). */
const float* pfw_sgemm_state_floats(const void* state);

#endif
