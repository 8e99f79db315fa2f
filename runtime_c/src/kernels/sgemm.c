/* The cache-blocked sgemm driver over the per-ISA micro-kernels.
 *
 * Work is cut into tasks: up to mb rows x nb columns of one batch's Y. A
 * task walks K in equal blocks of at most PFW_SGEMM_KC. Per block it packs its B columns
 * once (unless prepacked), then for each chunk of MC rows packs that A chunk
 * (unless prepacked, 128 KB: stays in L2) and runs the micro-kernel over the
 * chunk's mr x nr tiles, B panel outer so it stays in L1 while the A panels
 * stream (the BLIS order). Packing costs a few cycles a float, so a task is
 * made wide where A must be packed and tall where B must be: each packed
 * float then serves hundreds of multiply-adds.
 * After the last K block each tile gets the epilogue (alpha, bias, beta * C,
 * activation) while it is still in cache. Threads take tasks from a shared
 * counter, each with its own packing scratch; which thread computes a tile
 * never changes its arithmetic, so results are bit-identical at every thread
 * count. */
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sgemm.h"

#define MC 128      /* rows of a packed A chunk: MC x KC floats, 128 KB */
#define NB 256      /* task columns when A needs no packing: B block in L2 */
#define WIDE 2048   /* task columns when A must be packed */
#define TALL 2048   /* task rows when B must be packed */
/* Packed B panels in scratch are this many floats (one cache line) more than
 * their size apart. Packing writes one row into each panel in turn; panels
 * a power-of-two size apart would all land in the same L1 set. */
#define SKEW 16

const pfw_sgemm_kernel* pfw_sgemm_kernel_for(pfw_isa isa) {
  switch (isa) {
#ifdef __x86_64__
    case PFW_ISA_AVX512: return &pfw_sgemm_f32_avx512;
    case PFW_ISA_AVX2: return &pfw_sgemm_f32_avx2;
#endif
#ifdef __aarch64__
    case PFW_ISA_NEON: return &pfw_sgemm_f32_neon;
#endif
    default: return NULL;
  }
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* The K block step: K split into equal blocks of at most PFW_SGEMM_KC, so no
 * block is a short remainder (576 = 3 x 192, not 256 + 256 + 64). */
int64_t pfw_sgemm_kstep(int64_t K) {
  int64_t blocks = (K + PFW_SGEMM_KC - 1) / PFW_SGEMM_KC;
  return blocks ? (K + blocks - 1) / blocks : 1;
}

/* Task shape: as large as the cache allows, smaller when there would be
 * too few tasks to keep every thread busy. */
typedef struct blocks {
  int64_t mb, nb, mt, nt, tasks;
} blocks;

static blocks plan_blocks(const pfw_sgemm_kernel* k, const pfw_sgemm_args* g, int32_t threads) {
  blocks b;
  int64_t M = g->M > 0 ? g->M : 1, N = g->N > 0 ? g->N : 1;
  int64_t mc = pfw_round_up(MC, k->mr);
  b.mb = min64(pfw_round_up(M, k->mr), g->b_packed ? mc : pfw_round_up(TALL, mc));
  b.nb = min64(pfw_round_up(N, k->nr), pfw_round_up(g->a_packed ? NB : WIDE, k->nr)); /* whole panels (NEON's are 12 wide) */
  for (;;) {
    b.mt = (M + b.mb - 1) / b.mb;
    b.nt = (N + b.nb - 1) / b.nb;
    b.tasks = g->batch * b.mt * b.nt;
    if (b.tasks >= 3 * (int64_t)threads || threads == 1) break;
    /* Halve columns first when A is prepacked (a column split repeats no
     * packing), else rows; the other dimension once the first is down to
     * two tiles. */
    bool can_n = b.nb > 2 * k->nr, can_m = b.mb > 2 * k->mr;
    if (can_n && (g->a_packed || !can_m)) b.nb = pfw_round_up(b.nb / 2, k->nr);
    else if (can_m) b.mb = pfw_round_up(b.mb / 2, k->mr);
    else break;
  }
  return b;
}

bool pfw_sgemm_splits_rows(const pfw_sgemm_kernel* k, const pfw_sgemm_args* g, int32_t threads) {
  return !g->b_packed && plan_blocks(k, g, threads).mt > plan_blocks(k, g, 1).mt;
}

/* Floats of packing space one thread needs. */
static size_t slot_floats(const pfw_sgemm_kernel* k, const pfw_sgemm_args* g) {
  blocks b = plan_blocks(k, g, 1); /* the largest blocks any thread count uses */
  int64_t kc = min64(g->K, pfw_sgemm_kstep(g->K));
  size_t f = 0;
  if (!g->a_packed) f += (size_t)(min64(b.mb, pfw_round_up(MC, k->mr)) * kc);
  if (!g->b_packed) f += (size_t)((kc * k->nr + SKEW) * (b.nb / k->nr));
  return pfw_round_up((int64_t)f, PFW_ALIGN / sizeof(float));
}

size_t pfw_sgemm_scratch_size(const pfw_sgemm_kernel* k, const pfw_sgemm_args* g, int32_t threads) {
  return slot_floats(k, g) * sizeof(float) * (size_t)threads + PFW_ALIGN;
}

size_t pfw_sgemm_packed_a_floats(const pfw_sgemm_kernel* k, int64_t M, int64_t K) {
  return (size_t)(pfw_round_up(M, k->mr) * K);
}

size_t pfw_sgemm_packed_b_floats(const pfw_sgemm_kernel* k, int64_t K, int64_t N) {
  return (size_t)(pfw_round_up(N, k->nr) * K);
}

/* Panels of rows [i0, i0+rows) (rows of the panel direction: A's rows or
 * B's columns), depth [k0, k0+kc), element (r, k) at src[r * rs + k * ks];
 * panel p at dst + p * stride. */
static void pack_panels(const float* src, int64_t rs, int64_t ks, int64_t i0, int64_t rows, int64_t k0, int64_t kc,
                        int32_t w, int64_t stride, float* dst) {
  for (int64_t p = 0; p < rows; p += w) {
    int64_t live = min64(w, rows - p);
    float* d = dst + p / w * stride;
    const float* s = src + (i0 + p) * rs + k0 * ks;
    if (rs == 1) { /* the panel's rows are contiguous: copy runs of `live` */
      for (int64_t k = 0; k < kc; k++) {
        /* A plain loop, not memcpy: runs are 16 or 32 floats, shorter than
         * a call's overhead pays for. */
        for (int64_t r = 0; r < live; r++) d[k * w + r] = s[k * ks + r];
        for (int64_t r = live; r < w; r++) d[k * w + r] = 0;
      }
    } else {
      for (int64_t r = 0; r < live; r++)
        for (int64_t k = 0; k < kc; k++) d[k * w + r] = s[r * rs + k * ks];
      for (int64_t r = live; r < w; r++)
        for (int64_t k = 0; k < kc; k++) d[k * w + r] = 0;
    }
  }
}

void pfw_sgemm_pack_a(const pfw_sgemm_kernel* k, const float* a, int64_t rs, int64_t cs, int64_t M, int64_t K,
                      float* dst) {
  int64_t Mp = pfw_round_up(M, k->mr);
  for (int64_t k0 = 0, ks = pfw_sgemm_kstep(K); k0 < K; k0 += ks)
    pack_panels(a, rs, cs, 0, M, k0, min64(ks, K - k0), k->mr, k->mr * min64(ks, K - k0), dst + Mp * k0);
}

void pfw_sgemm_pack_b(const pfw_sgemm_kernel* k, const float* b, int64_t rs, int64_t cs, int64_t K, int64_t N,
                      float* dst) {
  int64_t Np = pfw_round_up(N, k->nr);
  for (int64_t k0 = 0, ks = pfw_sgemm_kstep(K); k0 < K; k0 += ks)
    pack_panels(b, cs, rs, 0, N, k0, min64(ks, K - k0), k->nr, k->nr * min64(ks, K - k0), dst + Np * k0);
}

float* pfw_sgemm_alloc_state(size_t floats, void** state) {
  *state = NULL;
  if (floats > (SIZE_MAX - PFW_ALIGN) / sizeof(float)) return NULL;
  void* block = malloc(floats * sizeof(float) + PFW_ALIGN);
  if (!block) return NULL;
  *state = block;
  return pfw_align_ptr(block);
}

const float* pfw_sgemm_state_floats(const void* state) { return state ? pfw_align_ptr(state) : NULL; }

typedef struct sgemm_ctx {
  const pfw_sgemm_kernel* k;
  const pfw_sgemm_args* g;
  blocks b;
  pfw_sgemm_tail tail; /* bias and clamp applied by the micro-kernel */
  bool in_kernel;      /* tail does the bias (alpha = 1, no C term) */
  bool act_after;      /* an activation the kernel does not do remains */
  float* scratch;
  size_t slot;
  atomic_llong next;
} sgemm_ctx;

/* The epilogue the micro-kernel could not apply (see plan_tail). */
static void epilogue(const pfw_sgemm_args* g, int64_t batch, int64_t i, int64_t j, int32_t m, int32_t n, float* y) {
  const float* c = g->c ? g->c + batch * g->c_batch : NULL;
  for (int32_t r = 0; r < m; r++) {
    float* yr = y + r * g->ldy;
    if (g->alpha != 1.0f)
      for (int32_t q = 0; q < n; q++) yr[q] *= g->alpha;
    if (g->bias) {
      float bv = g->bias[i + r];
      for (int32_t q = 0; q < n; q++) yr[q] += bv;
    }
    if (c) {
      const float* cr = c + (i + r) * g->c_rs + j * g->c_cs;
      for (int32_t q = 0; q < n; q++) yr[q] += g->beta * cr[q * g->c_cs];
    }
    pfw_activation_row(&g->act, yr, n);
  }
}

static void run_task(const sgemm_ctx* x, int64_t t, float* ws) {
  const pfw_sgemm_kernel* k = x->k;
  const pfw_sgemm_args* g = x->g;
  int64_t per = x->b.mt * x->b.nt, batch = t / per, r = t % per;
  int64_t i0 = r / x->b.nt * x->b.mb, j0 = r % x->b.nt * x->b.nb;
  int64_t i1 = min64(g->M, i0 + x->b.mb), j1 = min64(g->N, j0 + x->b.nb);
  int64_t Mp = pfw_round_up(g->M, k->mr), Np = pfw_round_up(g->N, k->nr), mc = pfw_round_up(MC, k->mr);
  int64_t aoff = g->a_off ? g->a_off[batch] : 0, boff = g->b_off ? g->b_off[batch] : 0;
  float* y = g->y + batch * g->y_batch;
  float* wa = ws;
  float* wb = ws + (g->a_packed ? 0 : min64(x->b.mb, mc) * min64(g->K, pfw_sgemm_kstep(g->K)));
  if (g->K == 0) {
    for (int64_t i = i0; i < i1; i++) memset(y + i * g->ldy + j0, 0, (size_t)(j1 - j0) * sizeof(float));
    epilogue(g, batch, i0, j0, (int32_t)(i1 - i0), (int32_t)(j1 - j0), y + i0 * g->ldy + j0);
    return;
  }
  for (int64_t k0 = 0, ks = pfw_sgemm_kstep(g->K); k0 < g->K; k0 += ks) {
    int64_t kc = min64(ks, g->K - k0);
    const float* bp = wb;
    int64_t bps = kc * k->nr + (g->b_packed ? 0 : SKEW); /* floats from one B panel to the next */
    if (g->b_packed) bp = g->b_packed + boff + Np * k0 + j0 * kc;
    else if (g->pack_b) g->pack_b(g->pack_ctx, batch, k0, kc, j0, j1 - j0, k->nr, bps, wb);
    else pack_panels(g->b + boff, g->b_cs, g->b_rs, j0, j1 - j0, k0, kc, k->nr, bps, wb);
    bool last = k0 + kc >= g->K;
    for (int64_t c0 = i0; c0 < i1; c0 += mc) {
      int64_t c1 = min64(i1, c0 + mc);
      const float* ap;
      if (g->a_packed) {
        ap = g->a_packed + aoff + Mp * k0 + c0 * kc;
      } else {
        if (g->pack_a) g->pack_a(g->pack_ctx, batch, k0, kc, c0, c1 - c0, k->mr, k->mr * kc, wa);
        else pack_panels(g->a + aoff, g->a_rs, g->a_cs, c0, c1 - c0, k0, kc, k->mr, k->mr * kc, wa);
        ap = wa;
      }
      for (int64_t j = j0; j < j1; j += k->nr) {
        int32_t n = (int32_t)min64(k->nr, j1 - j);
        for (int64_t i = c0; i < c1; i += k->mr) {
          int32_t m = (int32_t)min64(k->mr, c1 - i);
          float* yt = y + i * g->ldy + j;
          pfw_sgemm_tail tail = x->tail;
          if (tail.bias) tail.bias += i;
          k->micro(kc, ap + (i - c0) * kc, bp + (j - j0) / k->nr * bps, yt, g->ldy, m, n, k0 > 0,
                   last && x->in_kernel ? &tail : NULL);
          if (!last) continue;
          if (!x->in_kernel) {
            epilogue(g, batch, i, j, m, n, yt);
          } else if (x->act_after) {
            for (int32_t q = 0; q < m; q++) pfw_activation_row(&g->act, yt + q * g->ldy, n);
          }
        }
      }
    }
  }
}

static void sgemm_slots(void* p, int64_t begin, int64_t end) {
  sgemm_ctx* x = p;
  for (int64_t s = begin; s < end; s++) {
    float* ws = x->scratch + (size_t)s * x->slot;
    for (int64_t t; (t = atomic_fetch_add(&x->next, 1)) < x->b.tasks;) run_task(x, t, ws);
  }
}

/* Which part of the epilogue rides in the micro-kernel: with alpha = 1 and
 * no C term, the bias, and Relu or Clip as a clamp. Either way each element
 * gets the same operations in the same order at every thread count. */
static void plan_tail(const pfw_sgemm_args* g, sgemm_ctx* x) {
  memset(&x->tail, 0, sizeof x->tail);
  x->in_kernel = g->alpha == 1.0f && !g->c;
  x->act_after = g->act.kind != PFW_ACT_NONE;
  if (!x->in_kernel) return;
  x->tail.bias = g->bias;
  x->tail.clamp = pfw_activation_bounds(&g->act, &x->tail.lo, &x->tail.hi);
  if (x->tail.clamp) x->act_after = false;
}

void pfw_sgemm(const pfw_sgemm_kernel* k, const pfw_sgemm_args* g, void* scratch, pfw_threadpool* pool,
               int32_t threads) {
  if (g->M <= 0 || g->N <= 0 || g->batch <= 0) return;
  sgemm_ctx x;
  x.k = k;
  x.g = g;
  x.b = plan_blocks(k, g, threads);
  x.slot = slot_floats(k, g);
  plan_tail(g, &x);
  x.scratch = pfw_align_ptr(scratch);
  atomic_init(&x.next, 0);
  pfw_parallel_for(pool, x.b.tasks < threads ? x.b.tasks : threads, sgemm_slots, &x);
}
