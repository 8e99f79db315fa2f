/* Integer GEMM for the quantized ops (ops/qlinear.c): C = A B with
 * C[i][j] = sum_k (A[i][k] - za_i) (B[k][j] - zb_j) over uint8/int8
 * operands, exact in int32 (wrapping as the scalar reference does).
 *
 * Two packings. The int16 path packs both operands as int16 with the zero
 * point already subtracted (so |value| <= 255), in pairs along K, for
 * pmaddwd-style instructions whose pair sums cannot overflow. The byte
 * path (pfw_qgemm_a8, qgemm_bytes.c), for kernels that have one and
 * weights that fit int8, packs int8 A and uint8 B in quads along K for
 * vpdpbusd / sdot / vpmaddubsw: twice the products per instruction. Both
 * give the scalar reference's integers exactly.
 *
 * A (the constant weights: Conv's W, MatMul's B transposed) is packed
 * once at create in panels of mr rows; B (the activations) is packed per
 * chunk of columns into per-thread scratch, from a strided matrix or by
 * the op's own function (Conv's implicit im2col). Finished int32 tiles go
 * to the op's store function (requantisation or an int32 copy). */
#ifndef PFW_KERNELS_QGEMM_H
#define PFW_KERNELS_QGEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

typedef struct pfw_qgemm_kernel {
  const char* name;
  int32_t mr, nr;
  /* c[r*ldc + j] = sum over kp pairs p of a[(p*mr + r)*2 + {0,1}] .
   * b[(p*nr + j)*2 + {0,1}], for r < mr and j < nr (a whole tile). */
  void (*micro)(int64_t kp, const int16_t* a, const int16_t* b, int32_t* c, int64_t ldc);
  /* The byte path, or NULL: c[r*ldc + j] = sum over kq quads q and t < 4
   * of a[(q*mr + r)*4 + t] * b[(q*nr + j)*4 + t], int8 A times uint8 B
   * (vpmaddubsw-style: exact when each pair (t = 0, 1 and t = 2, 3) of A
   * has |a0| + |a1| <= 128, so no int16 pair sum saturates). */
  void (*micro_u8)(int64_t kq, const int8_t* a, const uint8_t* b, int32_t* c, int64_t ldc);
  bool u8_exact;     /* micro_u8 never saturates (VNNI vpdpbusd, NEON sdot): A's pairs need no cut */
  int32_t u8_offset; /* micro_u8 multiplies b - u8_offset (128 for sdot's signed bytes), else 0 */
  /* Direct convolution on the byte path (ops/qconv_direct.c), or NULL
   * (kernels whose byte path is not exact): micro_u8 with A's kq = taps *
   * cq quads in order, and B read in place, not packed: quad q of tap t is
   * the nr * 4 bytes at b + boff[t] + q * bstride. */
  void (*micro_u8_taps)(int32_t taps, const int64_t* boff, int64_t cq, int64_t bstride, const int8_t* a,
                        const uint8_t* b, int32_t* c, int64_t ldc);
  /* micro_u8 for one column of B (a matrix-vector product: a fully
   * connected layer on one input), or NULL: c[r*ldc] = sum over quads q of
   * A's row r times B's quad at b + q * bstride, without the nr - 1 idle
   * columns the tile kernel would multiply. Exact kernels only. */
  void (*gemv_u8)(int64_t kq, const int8_t* a, const uint8_t* b, int64_t bstride, int32_t* c, int64_t ldc);
} pfw_qgemm_kernel;

/* The kernel for an ISA level; NULL at the scalar level (the ops run their
 * reference loops there). AVX-512 takes the VNNI kernel where the CPU has
 * AVX512-VNNI. */
const pfw_qgemm_kernel* pfw_qgemm_kernel_for(pfw_isa isa);
/* Every kernel this CPU can run (for tests), up to max; returns the count. */
int pfw_qgemm_kernels(const pfw_qgemm_kernel** out, int max);

/* An operand: element (r, c) is at data + r*rs + c*cs, uint8 or int8, and
 * has zero[r*zstep] (A, per row) or zero[c*zstep] (B, per column)
 * subtracted; zero == NULL means 0. */
typedef struct pfw_qmat {
  const void* data;
  bool is_signed;
  int64_t rs, cs;
  const int32_t* zero;
  int64_t zstep;
} pfw_qmat;

/* Element (r, c) of m minus its zero point. */
static inline int32_t pfw_qmat_at(const pfw_qmat* m, int64_t r, int64_t c, int32_t zero) {
  int64_t at = r * m->rs + c * m->cs;
  int32_t v = m->is_signed ? ((const int8_t*)m->data)[at] : ((const uint8_t*)m->data)[at];
  return v - zero;
}

/* int16 elements of A packed for M x K, and the packing. */
size_t pfw_qgemm_packed_a_size(const pfw_qgemm_kernel* k, int64_t M, int64_t K);
void pfw_qgemm_pack_a(const pfw_qgemm_kernel* k, const pfw_qmat* a, int64_t M, int64_t K, int16_t* dst);

/* Writes columns [j0, j0 + nc) of B over all of K into dst in the packed
 * layout: panels of nr columns (the last one zero-filled), each K/2 pairs
 * (rounded up, the odd row zero) of nr column pairs. */
typedef void (*pfw_qgemm_pack_fn)(const void* ctx, int64_t batch, int64_t j0, int64_t nc, int32_t nr, int16_t* dst);
/* The same for the byte path: uint8 quads (K/4 rounded up, each nr
 * columns of 4 rows) of B's values as uint8, b_offset (below) in the
 * padding and the tail. */
typedef void (*pfw_qgemm_pack_u8_fn)(const void* ctx, int64_t batch, int64_t j0, int64_t nc, int32_t nr,
                                     uint8_t* dst);
/* Receives rows [i0, i0 + m) x columns [j0, j0 + n) of batch `batch`'s C at
 * c[r*ldc + j] (r < m, j < n). */
typedef void (*pfw_qgemm_store_fn)(const void* ctx, int64_t batch, int64_t i0, int32_t m, int64_t j0, int32_t n,
                                   const int32_t* c, int64_t ldc);

/* A packed for the byte path (qgemm_bytes.c), for kernels with micro_u8
 * and an A whose values minus zero all fit int8 (symmetric int8 weights):
 * int8 quads in panels of mr rows. Where a pair along K breaks the bound,
 * one value of it is cut back and the excess kept as a residual, added
 * back exactly from B's int16 packing; rowsum (of the packed values)
 * takes B's zero point back out, as the byte path multiplies B as uint8. */
typedef struct pfw_qres {
  int32_t row, k, v;
} pfw_qres;

typedef struct pfw_qgemm_a8 {
  int64_t M, K, kq;
  int32_t u8_offset; /* the kernel's (see pfw_qgemm_kernel) */
  const int8_t* quads;  /* ceil(M / mr) panels of kq quads of mr rows */
  const int32_t* rowsum;
  const int64_t* res_at; /* per panel p: residuals [res_at[p], res_at[p + 1]) */
  const pfw_qres* res;
} pfw_qgemm_a8;

/* Bytes for the byte packing of M x K A (one block: header and arrays),
 * or 0 when the kernel has no byte path, a value of A does not fit, or
 * more than 1 in 100 pairs would need cutting (the int16 path is faster). */
size_t pfw_qgemm_a8_size(const pfw_qgemm_kernel* k, const pfw_qmat* a, int64_t M, int64_t K);
/* Packs A into mem (pfw_qgemm_a8_size bytes, aligned); returns the view in it. */
const pfw_qgemm_a8* pfw_qgemm_pack_a8(const pfw_qgemm_kernel* k, const pfw_qmat* a, int64_t M, int64_t K, void* mem);

typedef struct pfw_qgemm_args {
  int64_t M, N, K, batch;
  const int16_t* a_packed; /* pfw_qgemm_pack_a of A */
  int64_t a_batch;         /* int16s from one packed A to the next (0: one for all) */
  int64_t a_every;         /* batches that share one packed A (0 or 1: each its own) */
  pfw_qmat b;              /* B when pack_b is NULL; b_batch elements apart */
  int64_t b_batch;
  pfw_qgemm_pack_fn pack_b;
  const void* pack_ctx;
  pfw_qgemm_store_fn store;
  const void* store_ctx;
  /* The byte path (one A for every batch), or NULL for the int16 one;
   * with a pack function it takes pack_b_u8, whose B has one zero point,
   * b_offset (as uint8: +128 for int8 data). */
  const pfw_qgemm_a8* a8;
  pfw_qgemm_pack_u8_fn pack_b_u8;
  int32_t b_offset;
  bool zero_folded; /* the store adds -zero * rowsum itself (Conv: in its bias) */
} pfw_qgemm_args;

/* Per-thread scratch bytes, and the product split over the pool in tasks
 * of whole column chunks (so the integers do not depend on threads). */
size_t pfw_qgemm_scratch_size(const pfw_qgemm_kernel* k, const pfw_qgemm_args* g, int32_t threads);
void pfw_qgemm(const pfw_qgemm_kernel* k, const pfw_qgemm_args* g, void* scratch, pfw_threadpool* pool,
               int32_t threads);

/* Requantisation of `rows` rows of one output channel: y[r*ldy + j] =
 * clamp(rint((c[r*ldc + j] + bias) * m) + zero, lo, hi) stored as uint8,
 * or int8 when is_signed, for j < n (the depthwise path's rows are its wide
 * run's, ldc apart). The caller guarantees |c + bias| < 2^29: then the
 * double product (a 24-bit float multiplier times a 29-bit integer) is
 * exact and rint rounds it half to even exactly, so every ISA gives the
 * same bytes. */
typedef void (*pfw_requant_row_fn)(const int32_t* c, int64_t ldc, int64_t rows, int64_t n, int32_t bias, double m,
                                   int32_t zero, int32_t lo, int32_t hi, void* y, int64_t ldy, bool is_signed);
pfw_requant_row_fn pfw_requant_row_for(pfw_isa isa);
void pfw_requant_row_avx2(const int32_t* c, int64_t ldc, int64_t rows, int64_t n, int32_t bias, double m,
                          int32_t zero, int32_t lo, int32_t hi, void* y, int64_t ldy, bool is_signed);
void pfw_requant_row_avx512(const int32_t* c, int64_t ldc, int64_t rows, int64_t n, int32_t bias, double m,
                            int32_t zero, int32_t lo, int32_t hi, void* y, int64_t ldy, bool is_signed);

/* y[j] = clamp(rintf(x[j] / scale) + zero, lo, hi) as uint8 (int8 when
 * is_signed), NaN to lo: QuantizeLinear per tensor, in float32 as ONNX's
 * reference computes it (a true division, rounded half to even). */
typedef void (*pfw_quantize_row_fn)(const float* x, int64_t n, float scale, float zero, float lo, float hi, void* y,
                                    bool is_signed);
pfw_quantize_row_fn pfw_quantize_row_for(pfw_isa isa);
void pfw_quantize_row_avx2(const float* x, int64_t n, float scale, float zero, float lo, float hi, void* y,
                           bool is_signed);

/* *lo = min(0, x[0..n)), *hi = max(0, x[0..n)), NaN elements skipped
 * (DynamicQuantizeLinear's range; exact, so every ISA agrees). */
typedef void (*pfw_range_row_fn)(const float* x, int64_t n, float* lo, float* hi);
pfw_range_row_fn pfw_range_row_for(pfw_isa isa);
void pfw_range_row_avx2(const float* x, int64_t n, float* lo, float* hi);

/* out[j] = sum over taps t of w[t] * src[t][j], for j < n (a depthwise
 * convolution's output row; exact int32). */
typedef void (*pfw_qdw_row_fn)(int32_t* out, const int16_t* const* src, const int16_t* w, int32_t taps, int64_t n);
pfw_qdw_row_fn pfw_qdw_row_for(pfw_isa isa);
void pfw_qdw_row_avx2(int32_t* out, const int16_t* const* src, const int16_t* w, int32_t taps, int64_t n);
void pfw_qdw_row_avx512(int32_t* out, const int16_t* const* src, const int16_t* w, int32_t taps, int64_t n);

/* out[j] = init + sum over taps t of w[t] * u[off[t] + j] for j < n, n a
 * multiple of 64: the depthwise run on bytes (uint8 input, int8 weights,
 * taps <= 64; the zero points are the caller's, in init and the padding),
 * four taps per vpdpbusd. AVX512-VNNI only: NULL elsewhere, where the
 * int16 qdw_row serves. */
typedef void (*pfw_qdw_u8_row_fn)(int32_t* out, const uint8_t* u, const int64_t* off, const int8_t* w, int32_t taps,
                                  int32_t init, int64_t n);
pfw_qdw_u8_row_fn pfw_qdw_u8_row_for(pfw_isa isa);
void pfw_qdw_u8_row_avx512vnni(int32_t* out, const uint8_t* u, const int64_t* off, const int8_t* w, int32_t taps,
                               int32_t init, int64_t n);

/* Depthwise input rows as bytes for qdw_u8_row: for each of `rows` rows
 * (s lds apart, even and odd ld apart), with odd == NULL, even[i] = s[i]
 * ^ flip for i < w; else split by parity as qwiden_row. */
typedef void (*pfw_qsplit_row_fn)(uint8_t* even, uint8_t* odd, int64_t ld, const uint8_t* s, int64_t lds, int64_t rows,
                                  int64_t w, uint8_t flip);
pfw_qsplit_row_fn pfw_qsplit_row_for(pfw_isa isa);
void pfw_qsplit_row_avx512(uint8_t* even, uint8_t* odd, int64_t ld, const uint8_t* s, int64_t lds, int64_t rows,
                           int64_t w, uint8_t flip);

/* A depthwise input row as int16 (ops/qconv_depthwise.c): with odd ==
 * NULL, even[i] = (s[i] ^ flip) - zero for i < w; else the columns split
 * by parity, even[i] from s[2i] and odd[i] from s[2i + 1] (a stride-2
 * convolution's two column phases). */
typedef void (*pfw_qwiden_row_fn)(int16_t* even, int16_t* odd, const uint8_t* s, int64_t w, uint8_t flip,
                                  int32_t zero);
pfw_qwiden_row_fn pfw_qwiden_row_for(pfw_isa isa);
void pfw_qwiden_row_avx2(int16_t* even, int16_t* odd, const uint8_t* s, int64_t w, uint8_t flip, int32_t zero);
void pfw_qwiden_row_avx512(int16_t* even, int16_t* odd, const uint8_t* s, int64_t w, uint8_t flip, int32_t zero);

/* d[c*4 + t] = s[t][c*sx] ^ flip for lo <= c < hi: four input rows (one
 * per channel of a quad, column stride sx) interleaved into the byte
 * path's quads (Conv's im2col, ops/qim2col.c). */
typedef void (*pfw_interleave4_u8_fn)(uint8_t* d, const uint8_t* const s[4], int64_t lo, int64_t hi, int64_t sx,
                                      uint8_t flip);
pfw_interleave4_u8_fn pfw_interleave4_u8_for(pfw_isa isa);
void pfw_interleave4_u8_scalar(uint8_t* d, const uint8_t* const s[4], int64_t lo, int64_t hi, int64_t sx,
                               uint8_t flip);
void pfw_interleave4_u8_avx2(uint8_t* d, const uint8_t* const s[4], int64_t lo, int64_t hi, int64_t sx,
                             uint8_t flip);
void pfw_interleave4_u8_avx512(uint8_t* d, const uint8_t* const s[4], int64_t lo, int64_t hi, int64_t sx,
                               uint8_t flip);

/* The portable micro-kernel (4 x 8), used where no SIMD one exists (and,
 * for tests, with a portable byte path); the SIMD ones are in
 * kernels/avx2/qgemm_avx2.c, kernels/avx512/qgemm_avx512.c and
 * kernels/neon/qgemm_neon.c. */
extern const pfw_qgemm_kernel pfw_qgemm_s16_generic, pfw_qgemm_u8_generic;
extern const pfw_qgemm_kernel pfw_qgemm_avx2;

/* The byte path's steps in the driver (qgemm_bytes.c): strided B as
 * uint8 quads, and a finished tile's corrections (zero[j] times rowsum
 * out unless the caller folded it, residuals in) for rows [i0, i0 + m). */
void pfw_qgemm_pack_b_u8(const pfw_qmat* b, int64_t j0, int64_t nc, int64_t K, int32_t nr, uint8_t* dst);
typedef enum pfw_qgemm_zero_fix {
  PFW_QGEMM_ZERO_FOLDED, /* the caller's store takes it out (Conv: in its bias) */
  PFW_QGEMM_ZERO_ONE,    /* one zero for every column: one number per row */
  PFW_QGEMM_ZERO_PER_COLUMN
} pfw_qgemm_zero_fix;
void pfw_qgemm_fix_tile(const pfw_qgemm_a8* a, int32_t mr, int64_t i0, int32_t m, const uint8_t* bu, int32_t nr,
                        int64_t n, const int32_t* zero, pfw_qgemm_zero_fix fix, int32_t* c, int64_t ldc);
extern const pfw_qgemm_kernel pfw_qgemm_avx512, pfw_qgemm_avx512vnni;
/* AArch64 (kernels/neon/qgemm_neon.c): smlal on the int16 pairs, and with
 * the dot-product extension sdot on the byte path. */
extern const pfw_qgemm_kernel pfw_qgemm_neon, pfw_qgemm_neon_dotprod;
bool pfw_qgemm_neon_has_dotprod(void);

#endif
