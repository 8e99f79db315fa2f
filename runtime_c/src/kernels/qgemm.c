/* The integer GEMM driver (qgemm.h): packing, column-chunk tasks, and the
 * portable micro-kernel. */
#include "qgemm.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

#define CHUNK_BYTES (160 * 1024) /* packed B per task: stays in L2 */
#define MAX_CHUNK 256            /* columns per task at most */

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

const pfw_qgemm_kernel* pfw_qgemm_kernel_for(pfw_isa isa) {
  switch (isa) {
    case PFW_ISA_SCALAR: return NULL;
#if defined(__x86_64__)
    case PFW_ISA_AVX2: return &pfw_qgemm_avx2;
    case PFW_ISA_AVX512:
      return __builtin_cpu_supports("avx512vnni") ? &pfw_qgemm_avx512vnni : &pfw_qgemm_avx512;
#endif
#if defined(__aarch64__)
    case PFW_ISA_NEON: return pfw_qgemm_neon_has_dotprod() ? &pfw_qgemm_neon_dotprod : &pfw_qgemm_neon;
#endif
    default: return &pfw_qgemm_s16_generic;
  }
}

int pfw_qgemm_kernels(const pfw_qgemm_kernel** out, int max) {
  int n = 0;
  if (n < max) out[n++] = &pfw_qgemm_s16_generic;
  if (n < max) out[n++] = &pfw_qgemm_u8_generic;
#if defined(__x86_64__)
  if (n < max && pfw_cpu_supports(PFW_ISA_AVX2)) out[n++] = &pfw_qgemm_avx2;
  if (n < max && pfw_cpu_supports(PFW_ISA_AVX512)) out[n++] = &pfw_qgemm_avx512;
  if (n < max && pfw_cpu_supports(PFW_ISA_AVX512) && __builtin_cpu_supports("avx512vnni"))
    out[n++] = &pfw_qgemm_avx512vnni;
#endif
#if defined(__aarch64__)
  if (n < max) out[n++] = &pfw_qgemm_neon;
  if (n < max && pfw_qgemm_neon_has_dotprod()) out[n++] = &pfw_qgemm_neon_dotprod;
#endif
  return n;
}

/* Rows [r0, r0 + n) of m (for B: columns, with rs/cs swapped by the caller)
 * as panels of `w` lines, K/2 pairs each. `per_line`: the zero point steps
 * with the packed line (true) or is m's only one. */
static void pack_lines(const pfw_qmat* m, int64_t r0, int64_t n, int64_t K, int32_t w, int16_t* dst) {
  int64_t kp = (K + 1) / 2;
  for (int64_t p0 = 0; p0 < n; p0 += w) {
    for (int32_t r = 0; r < w; r++) {
      int64_t line = r0 + p0 + r;
      bool live = p0 + r < n;
      int32_t z = live && m->zero ? m->zero[line * m->zstep] : 0;
      int16_t* d = dst + (p0 / w) * kp * w * 2 + r * 2;
      if (!live) {
        for (int64_t k = 0; k < K; k++) d[(k / 2) * w * 2 + (k & 1)] = 0;
      } else if (m->cs == 1 && !m->is_signed) { /* a contiguous uint8 line: activations */
        const uint8_t* src = (const uint8_t*)m->data + line * m->rs;
        for (int64_t k = 0; k + 1 < K; k += 2) {
          d[k * w] = (int16_t)(src[k] - z);
          d[k * w + 1] = (int16_t)(src[k + 1] - z);
        }
        if (K & 1) d[(K - 1) * w] = (int16_t)(src[K - 1] - z);
      } else {
        for (int64_t k = 0; k < K; k++) d[(k / 2) * w * 2 + (k & 1)] = (int16_t)pfw_qmat_at(m, line, k, z);
      }
      if (K & 1) d[(K / 2) * w * 2 + 1] = 0;
    }
  }
}

size_t pfw_qgemm_packed_a_size(const pfw_qgemm_kernel* k, int64_t M, int64_t K) {
  return (size_t)(pfw_round_up(M, k->mr) * ((K + 1) / 2) * 2);
}

void pfw_qgemm_pack_a(const pfw_qgemm_kernel* k, const pfw_qmat* a, int64_t M, int64_t K, int16_t* dst) {
  pack_lines(a, 0, M, K, k->mr, dst);
}

static int64_t chunk_cols(const pfw_qgemm_kernel* k, const pfw_qgemm_args* g) {
  int64_t per_col = ((g->K + 1) / 2) * 4; /* bytes of one packed column */
  int64_t nc = per_col ? CHUNK_BYTES / per_col : MAX_CHUNK;
  nc = nc / k->nr * k->nr;
  if (nc < k->nr) nc = k->nr;
  if (nc > MAX_CHUNK) nc = MAX_CHUNK / k->nr * k->nr;
  return min64(nc, pfw_round_up(g->N, k->nr));
}


/* Per thread: int16s of packed B, mr x nc int32s of C tile, and for a
 * kernel with a byte path B's uint8 quads. */
static size_t b16_bytes(int64_t nc, int64_t K) {
  return pfw_align_size((size_t)(nc * ((K + 1) / 2) * 2) * sizeof(int16_t));
}
static size_t tile_bytes(const pfw_qgemm_kernel* k, int64_t nc) {
  return pfw_align_size((size_t)(k->mr * nc) * sizeof(int32_t));
}

static size_t slot_bytes(const pfw_qgemm_kernel* k, const pfw_qgemm_args* g) {
  int64_t nc = chunk_cols(k, g);
  size_t u8 = k->micro_u8 ? (size_t)(nc * ((g->K + 3) / 4) * 4) : 0;
  return b16_bytes(nc, g->K) + tile_bytes(k, nc) + pfw_align_size(u8) + PFW_ALIGN;
}

size_t pfw_qgemm_scratch_size(const pfw_qgemm_kernel* k, const pfw_qgemm_args* g, int32_t threads) {
  return slot_bytes(k, g) * (size_t)(threads < 1 ? 1 : threads) + PFW_ALIGN;
}

typedef struct qgemm_ctx {
  const pfw_qgemm_kernel* k;
  const pfw_qgemm_args* g;
  int64_t nc, chunks, tasks;
  int64_t row_blocks, rows_per; /* tasks also split the rows when columns are few */
  uint8_t* scratch;
  size_t slot;
  atomic_llong next;
} qgemm_ctx;

/* The byte path of one task: B's zero per column (as uint8), B packed as
 * uint8 quads, then per row panel the tiles, their corrections and the
 * store. */
static void run_bytes(const qgemm_ctx* x, int64_t batch, int64_t j0, int64_t n, int64_t r0, int64_t r1, int32_t* c,
                      uint8_t* bu) {
  const pfw_qgemm_kernel* k = x->k;
  const pfw_qgemm_args* g = x->g;
  const pfw_qgemm_a8* a = g->a8;
  int32_t zero[MAX_CHUNK];
  int64_t cols = pfw_round_up(n, k->nr), ldc = cols;
  bool one_zero = true;
  for (int64_t j = 0; j < cols; j++) {
    const pfw_qmat* b = &g->b;
    zero[j] = j >= n ? 0 : g->pack_b ? g->b_offset : (b->zero ? b->zero[(j0 + j) * b->zstep] : 0) + (b->is_signed ? 128 : 0);
    one_zero = one_zero && (j >= n || zero[j] == zero[0]);
  }
  pfw_qgemm_zero_fix fix = g->zero_folded ? PFW_QGEMM_ZERO_FOLDED : one_zero ? PFW_QGEMM_ZERO_ONE
                                                                            : PFW_QGEMM_ZERO_PER_COLUMN;
  if (g->pack_b) {
    g->pack_b_u8(g->pack_ctx, batch, j0, n, k->nr, bu);
  } else {
    pfw_qmat bt = g->b;
    bt.data = (const int8_t*)g->b.data + batch * g->b_batch;
    pfw_qgemm_pack_b_u8(&bt, j0, n, g->K, k->nr, bu);
  }
  for (int64_t i0 = r0; i0 < r1; i0 += k->mr) {
    const int8_t* ap = a->quads + (i0 / k->mr) * a->kq * k->mr * 4;
    if (n == 1 && k->gemv_u8) k->gemv_u8(a->kq, ap, bu, k->nr * 4, c, ldc); /* B's quads are nr columns apart */
    else
      for (int64_t j = 0; j < n; j += k->nr) k->micro_u8(a->kq, ap, bu + (j / k->nr) * a->kq * k->nr * 4, c + j, ldc);
    int32_t m = (int32_t)min64(k->mr, g->M - i0);
    pfw_qgemm_fix_tile(a, k->mr, i0, m, bu, k->nr, n, zero, fix, c, ldc);
    g->store(g->store_ctx, batch, i0, m, j0, (int32_t)n, c, ldc);
  }
}

static void run_task(const qgemm_ctx* x, int64_t t, uint8_t* ws) {
  const pfw_qgemm_kernel* k = x->k;
  const pfw_qgemm_args* g = x->g;
  int64_t rb = t % x->row_blocks, batch = t / x->row_blocks / x->chunks, j0 = t / x->row_blocks % x->chunks * x->nc;
  int64_t r0 = rb * x->rows_per, r1 = min64(g->M, r0 + x->rows_per);
  int64_t n = min64(x->nc, g->N - j0), kp = (g->K + 1) / 2;
  int16_t* bp = (int16_t*)ws;
  int32_t* c = (int32_t*)(ws + b16_bytes(x->nc, g->K));
  int64_t ldc = pfw_round_up(n, k->nr);
  if (g->a8) {
    run_bytes(x, batch, j0, n, r0, r1, c, (uint8_t*)c + tile_bytes(k, x->nc));
    return;
  }
  if (g->pack_b) {
    g->pack_b(g->pack_ctx, batch, j0, n, k->nr, bp);
  } else {
    /* Columns of B are the packed lines: swap its strides. */
    pfw_qmat bt = g->b;
    bt.data = (const int8_t*)g->b.data + batch * g->b_batch;
    bt.rs = g->b.cs;
    bt.cs = g->b.rs;
    pack_lines(&bt, j0, n, g->K, k->nr, bp);
  }
  const int16_t* a = g->a_packed + batch / (g->a_every > 1 ? g->a_every : 1) * g->a_batch;
  for (int64_t i0 = r0; i0 < r1; i0 += k->mr) {
    const int16_t* ap = a + (i0 / k->mr) * kp * k->mr * 2;
    for (int64_t j = 0; j < n; j += k->nr) k->micro(kp, ap, bp + (j / k->nr) * kp * k->nr * 2, c + j, ldc);
    g->store(g->store_ctx, batch, i0, (int32_t)min64(k->mr, g->M - i0), j0, (int32_t)n, c, ldc);
  }
}

static void qgemm_slots(void* p, int64_t begin, int64_t end) {
  qgemm_ctx* x = p;
  for (int64_t s = begin; s < end; s++) {
    uint8_t* ws = x->scratch + (size_t)s * x->slot;
    for (int64_t t; (t = atomic_fetch_add(&x->next, 1)) < x->tasks;) run_task(x, t, ws);
  }
}

void pfw_qgemm(const pfw_qgemm_kernel* k, const pfw_qgemm_args* g, void* scratch, pfw_threadpool* pool,
               int32_t threads) {
  if (g->M <= 0 || g->N <= 0 || g->batch <= 0) return;
  qgemm_ctx x;
  x.k = k;
  x.g = g;
  x.nc = chunk_cols(k, g);
  x.chunks = (g->N + x.nc - 1) / x.nc;
  if (threads < 1) threads = 1;
  /* Too few column chunks for the threads (a 7 x 7 plane, a 128-token
   * sequence): split the rows too, each task packing its chunk of B.
   * Every tile is computed the same way whatever the split. */
  int64_t panels = (g->M + k->mr - 1) / k->mr, col_tasks = x.chunks * g->batch;
  x.row_blocks = threads == 1 || col_tasks >= 2 * threads ? 1 : min64(panels, (2 * threads + col_tasks - 1) / col_tasks);
  x.rows_per = (panels + x.row_blocks - 1) / x.row_blocks * k->mr;
  x.row_blocks = (g->M + x.rows_per - 1) / x.rows_per;
  x.tasks = col_tasks * x.row_blocks;
  x.slot = slot_bytes(k, g);
  x.scratch = pfw_align_ptr(scratch);
  atomic_init(&x.next, 0);
  pfw_parallel_for(pool, x.tasks < threads ? x.tasks : threads, qgemm_slots, &x);
}

/* ---- the portable micro-kernel -------------------------------------------- */

#define GMR 4
#define GNR 8

/* Sums in uint32: the wrap the SIMD kernels' 32-bit adds have, without
 * signed overflow. Each pair product sum fits an int. */
static void micro_generic(int64_t kp, const int16_t* a, const int16_t* b, int32_t* c, int64_t ldc) {
  uint32_t acc[GMR][GNR];
  memset(acc, 0, sizeof acc);
  for (int64_t p = 0; p < kp; p++, a += GMR * 2, b += GNR * 2)
    for (int32_t r = 0; r < GMR; r++)
      for (int32_t j = 0; j < GNR; j++) acc[r][j] += (uint32_t)(a[r * 2] * b[j * 2] + a[r * 2 + 1] * b[j * 2 + 1]);
  for (int32_t r = 0; r < GMR; r++)
    for (int32_t j = 0; j < GNR; j++) c[r * ldc + j] = (int32_t)acc[r][j];
}

static void micro_u8_generic(int64_t kq, const int8_t* a, const uint8_t* b, int32_t* c, int64_t ldc) {
  uint32_t acc[GMR][GNR];
  memset(acc, 0, sizeof acc);
  for (int64_t q = 0; q < kq; q++, a += GMR * 4, b += GNR * 4)
    for (int32_t r = 0; r < GMR; r++)
      for (int32_t j = 0; j < GNR; j++)
        for (int32_t t = 0; t < 4; t++) acc[r][j] += (uint32_t)(a[r * 4 + t] * b[j * 4 + t]);
  for (int32_t r = 0; r < GMR; r++)
    for (int32_t j = 0; j < GNR; j++) c[r * ldc + j] = (int32_t)acc[r][j];
}

const pfw_qgemm_kernel pfw_qgemm_s16_generic = {"qgemm_generic_4x8", GMR, GNR, micro_generic, NULL, false, 0, NULL, NULL};
/* Only for tests: the byte path's packing and corrections on any CPU. */
const pfw_qgemm_kernel pfw_qgemm_u8_generic = {"qgemm_u8_generic_4x8", GMR, GNR, micro_generic, micro_u8_generic, false, 0, NULL, NULL};

/* ---- requantisation ------------------------------------------------------------ */

static void requant_row(const int32_t* c, int64_t ldc, int64_t rows, int64_t n, int32_t bias, double m,
                        int32_t zero, int32_t lo, int32_t hi, void* y, int64_t ldy, bool is_signed) {
  for (int64_t r = 0; r < rows; r++)
    for (int64_t j = 0; j < n; j++) {
      double v = rint((double)(c[r * ldc + j] + bias) * m) + zero;
      int32_t o = (int32_t)(v < lo ? lo : v > hi ? hi : v);
      if (is_signed) ((int8_t*)y)[r * ldy + j] = (int8_t)o;
      else ((uint8_t*)y)[r * ldy + j] = (uint8_t)o;
    }
}

pfw_requant_row_fn pfw_requant_row_for(pfw_isa isa) {
#if defined(__x86_64__)
  if (isa == PFW_ISA_AVX512) return pfw_requant_row_avx512;
  if (isa == PFW_ISA_AVX2) return pfw_requant_row_avx2;
#endif
  (void)isa;
  return requant_row;
}

static void qdw_row(int32_t* out, const int16_t* const* src, const int16_t* w, int32_t taps, int64_t n) {
  for (int64_t j = 0; j < n; j++) out[j] = 0;
  for (int32_t t = 0; t < taps; t++)
    for (int64_t j = 0; j < n; j++) out[j] += w[t] * src[t][j];
}

pfw_qdw_row_fn pfw_qdw_row_for(pfw_isa isa) {
#if defined(__x86_64__)
  if (isa == PFW_ISA_AVX512) return pfw_qdw_row_avx512;
  if (isa == PFW_ISA_AVX2) return pfw_qdw_row_avx2;
#endif
  (void)isa;
  return qdw_row;
}

static void quantize_row(const float* x, int64_t n, float scale, float zero, float lo, float hi, void* y,
                         bool is_signed) {
  for (int64_t j = 0; j < n; j++) {
    float v = fminf(fmaxf(rintf(x[j] / scale) + zero, lo), hi); /* fmaxf sends NaN to lo */
    if (is_signed) ((int8_t*)y)[j] = (int8_t)v;
    else ((uint8_t*)y)[j] = (uint8_t)v;
  }
}

static void range_row(const float* x, int64_t n, float* lo, float* hi) {
  float a = 0, b = 0;
  for (int64_t k = 0; k < n; k++) {
    a = x[k] < a ? x[k] : a; /* false for NaN: skipped */
    b = x[k] > b ? x[k] : b;
  }
  *lo = a, *hi = b;
}

pfw_range_row_fn pfw_range_row_for(pfw_isa isa) {
#if defined(__x86_64__)
  if (isa == PFW_ISA_AVX2 || isa == PFW_ISA_AVX512) return pfw_range_row_avx2;
#endif
  (void)isa;
  return range_row;
}

static void qwiden_row(int16_t* even, int16_t* odd, const uint8_t* s, int64_t w, uint8_t flip, int32_t zero) {
  if (!odd) {
    for (int64_t i = 0; i < w; i++) even[i] = (int16_t)((s[i] ^ flip) - zero);
    return;
  }
  for (int64_t i = 0; i < w; i++) (i & 1 ? odd : even)[i / 2] = (int16_t)((s[i] ^ flip) - zero);
}

pfw_qdw_u8_row_fn pfw_qdw_u8_row_for(pfw_isa isa) {
#if defined(__x86_64__)
  if (isa == PFW_ISA_AVX512 && __builtin_cpu_supports("avx512vnni")) return pfw_qdw_u8_row_avx512vnni;
#endif
  (void)isa;
  return NULL;
}

static void qsplit_row(uint8_t* even, uint8_t* odd, int64_t ld, const uint8_t* s, int64_t lds, int64_t rows,
                       int64_t w, uint8_t flip) {
  for (int64_t r = 0; r < rows; r++, even += ld, odd = odd ? odd + ld : NULL, s += lds)
    for (int64_t i = 0; i < w; i++) {
      if (!odd) even[i] = s[i] ^ flip;
      else (i & 1 ? odd : even)[i / 2] = s[i] ^ flip;
    }
}

pfw_qsplit_row_fn pfw_qsplit_row_for(pfw_isa isa) {
#if defined(__x86_64__)
  if (isa == PFW_ISA_AVX512) return pfw_qsplit_row_avx512;
#endif
  (void)isa;
  return qsplit_row;
}

pfw_qwiden_row_fn pfw_qwiden_row_for(pfw_isa isa) {
#if defined(__x86_64__)
  if (isa == PFW_ISA_AVX512) return pfw_qwiden_row_avx512;
  if (isa == PFW_ISA_AVX2) return pfw_qwiden_row_avx2;
#endif
  (void)isa;
  return qwiden_row;
}

void pfw_interleave4_u8_scalar(uint8_t* d, const uint8_t* const s[4], int64_t lo, int64_t hi, int64_t sx,
                               uint8_t flip) {
  for (int64_t c = lo; c < hi; c++)
    for (int t = 0; t < 4; t++) d[c * 4 + t] = s[t][c * sx] ^ flip;
}

pfw_interleave4_u8_fn pfw_interleave4_u8_for(pfw_isa isa) {
#if defined(__x86_64__)
  if (isa == PFW_ISA_AVX512) return pfw_interleave4_u8_avx512;
  if (isa == PFW_ISA_AVX2) return pfw_interleave4_u8_avx2;
#endif
  (void)isa;
  return pfw_interleave4_u8_scalar;
}

pfw_quantize_row_fn pfw_quantize_row_for(pfw_isa isa) {
#if defined(__x86_64__)
  if (isa == PFW_ISA_AVX2 || isa == PFW_ISA_AVX512) return pfw_quantize_row_avx2;
#endif
  (void)isa;
  return quantize_row;
}
