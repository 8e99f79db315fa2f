/* Conv 3x3, stride 1, by Winograd F(4x4, 3x3) (kernels/winograd.h) on the
 * packed sgemm kernels, where it beats the implicit-im2col GEMM: 2-D, one
 * group, constant weights, enough channels and tiles (see applies()).
 *
 * Prepare transforms the weights once, U = G g G^T in double rounded once,
 * and packs U as the B operands of the 36 GEMMs. Run cuts the output's 4x4
 * tiles (over batch, tile rows, tile columns) into blocks that stay in L2;
 * per block: input transform straight into the packed A operand, the 36
 * GEMMs (tiles x C) x (C x M), output transform with bias and clamp. Every
 * output element is computed by the same operations whatever the block
 * size or the thread that runs it, so results are bit-identical at every
 * thread count. */
#include <stdatomic.h>
#include <string.h>

#include "../kernels/winograd.h"
#include "ops_common.h"

#define L2_BUDGET (768 * 1024) /* bytes of V and GEMM results per block */
#define MAX_BLOCK 512          /* tiles per block */
/* Floats between the packed V of two xi: a cache line more than a multiple
 * of the panel size, so 36 streams of stores do not share one L1 set. */
#define XI_SKEW 16
#define ROW_MAX 64 /* columns of one packed weight panel row (nr) the prepare buffer holds */

const pfw_wino_kernel* pfw_wino_kernel_for(pfw_isa isa) {
  switch (isa) {
#ifdef __x86_64__
    case PFW_ISA_AVX512: return &pfw_wino_f32_avx512;
    case PFW_ISA_AVX2: return &pfw_wino_f32_avx2;
#endif
    default: return NULL;
  }
}

typedef struct wino_shape {
  int64_t N, C, M, H, W, Ho, Wo, th, tw, tiles, pt, pl;
} wino_shape;

static void shape_of(const pfw_node* node, const pfw_spatial* g, wino_shape* s) {
  s->N = node->in[0]->dims[0];
  s->C = node->in[0]->dims[1];
  s->M = node->in[1]->dims[0];
  s->H = g->in[1];
  s->W = g->in[2];
  s->Ho = g->out[1];
  s->Wo = g->out[2];
  s->th = (s->Ho + 3) / 4;
  s->tw = (s->Wo + 3) / 4;
  s->tiles = s->N * s->th * s->tw;
  s->pt = g->pb[1];
  s->pl = g->pb[2];
}

bool pfw_conv_winograd_applies(const pfw_node* node, const pfw_spatial* g) {
  if (!pfw_wino_kernel_for(node->isa) || !pfw_sgemm_kernel_for(node->isa)) return false;
  if (node->in[0]->rank != 4 || !node->in[1]->is_const || pfw_attr_int(node, "group", 1) != 1) return false;
  for (int32_t a = 1; a < 3; a++)
    if (g->k[a] != 3 || g->s[a] != 1 || g->d[a] != 1) return false;
  wino_shape s;
  shape_of(node, g, &s);
  /* Below these the transforms and the 4x larger weights cost more than
   * the 2.25x (small tiles) to 4x fewer multiply-adds save. */
  return s.C >= 16 && s.M >= 16 && s.tiles >= 16;
}

/* Tiles per block: V and the GEMM results within L2_BUDGET, but at least
 * C M / (C + M), where a block's tiles use each weight it streams in as
 * often as they bring values of their own; whole A panels; enough blocks
 * for every thread. */
static int64_t block_tiles(const pfw_sgemm_kernel* k, const wino_shape* s, int32_t threads) {
  int64_t mr = k->mr, per = PFW_WINO_XI * (s->C + s->M) * (int64_t)sizeof(float);
  int64_t tb = L2_BUDGET / per, reuse = s->C * s->M / (s->C + s->M);
  if (tb < reuse) tb = reuse;
  tb = tb / mr * mr;
  if (tb > MAX_BLOCK) tb = MAX_BLOCK / mr * mr;
  int64_t even = (s->tiles + threads - 1) / threads;
  even = (even + mr - 1) / mr * mr;
  if (even < tb) tb = even;
  return tb < mr ? mr : tb;
}

/* One thread's scratch, in this order: packed V, GEMM results, the input
 * and output transform buffers, the sgemm driver's scratch. */
typedef struct wino_slot {
  size_t v, y, in, out, gemm, total;
} wino_slot;

static void gemm_args(const wino_shape* s, int64_t tiles, const float* v, const int64_t* a_off, const float* u,
                      const int64_t* b_off, float* y, pfw_sgemm_args* a) {
  memset(a, 0, sizeof *a);
  a->M = tiles;
  a->N = s->M;
  a->K = s->C;
  a->batch = PFW_WINO_XI;
  a->a_packed = v;
  a->a_off = a_off;
  a->b_packed = u;
  a->b_off = b_off;
  a->y = y;
  a->ldy = s->M;
  a->y_batch = tiles * s->M;
  a->alpha = 1.0f;
}

static wino_slot slot_of(const pfw_sgemm_kernel* k, const pfw_wino_kernel* wk, const wino_shape* s, int64_t tb) {
  wino_slot w;
  int64_t mp = (tb + k->mr - 1) / k->mr * k->mr, seg = tb < s->tw ? tb : s->tw;
  w.v = pfw_align_size((size_t)(PFW_WINO_XI * (mp * s->C + XI_SKEW)) * sizeof(float));
  w.y = pfw_align_size((size_t)(PFW_WINO_XI * tb * s->M) * sizeof(float));
  w.in = pfw_align_size((size_t)pfw_wino_input_buf(wk, seg) * sizeof(float));
  w.out = pfw_align_size((size_t)pfw_wino_output_buf(wk) * sizeof(float));
  pfw_sgemm_args a;
  gemm_args(s, tb, NULL, NULL, NULL, NULL, NULL, &a);
  w.gemm = pfw_align_size(pfw_sgemm_scratch_size(k, &a, 1));
  w.total = w.v + w.y + w.in + w.out + w.gemm;
  return w;
}

/* G of F(4x4, 3x3): U = G g G^T. */
static const double G[PFW_WINO_IN][3] = {{1.0 / 4, 0, 0},           {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                         {-1.0 / 6, 1.0 / 6, -1.0 / 6}, {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                         {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};

pfw_status pfw_conv_winograd_prepare(pfw_node* node, const pfw_spatial* g) {
  const pfw_sgemm_kernel* k = pfw_sgemm_kernel_for(node->isa);
  const pfw_wino_kernel* wk = pfw_wino_kernel_for(node->isa);
  wino_shape s;
  shape_of(node, g, &s);
  const pfw_tensor* W = node->in[1];
  if (k->nr > ROW_MAX) return pfw_error(PFW_ERR_INTERNAL, "sgemm panels of %d columns exceed %d", (int)k->nr, ROW_MAX);
  size_t per = pfw_sgemm_packed_b_floats(k, s.C, s.M);
  float* packed = pfw_sgemm_alloc_state(per * PFW_WINO_XI, &node->state);
  if (!packed) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory transforming input 1 (W) for Winograd");
  /* U[xi] (C x M) goes straight into sgemm.h's packed B layout: row c of
   * the K block at k0 (depth kcb) holds panel p's nr columns at
   * Np k0 + p nr kcb + (c - k0) nr. One panel row is computed for all 36 xi
   * in `row`, then copied out as 36 runs of whole cache lines. The memset
   * zeroes the columns past M and faults the pages in in order. */
  memset(packed, 0, per * PFW_WINO_XI * sizeof(float));
  const float* w = W->data;
  int64_t nr = k->nr, np = (s.M + nr - 1) / nr * nr, ks = pfw_sgemm_kstep(s.C);
  float row[PFW_WINO_XI][ROW_MAX];
  for (int64_t c = 0; c < s.C; c++) {
    int64_t k0 = c / ks * ks, kcb = s.C - k0 < ks ? s.C - k0 : ks;
    for (int64_t p0 = 0; p0 < s.M; p0 += nr) {
      int64_t cols = s.M - p0 < nr ? s.M - p0 : nr;
      for (int64_t q = 0; q < cols; q++) {
        const float* gk = w + ((p0 + q) * s.C + c) * 9;
        double t[PFW_WINO_IN][3]; /* G g */
        for (int i = 0; i < PFW_WINO_IN; i++)
          for (int j = 0; j < 3; j++) t[i][j] = G[i][0] * gk[j] + G[i][1] * gk[3 + j] + G[i][2] * gk[6 + j];
        for (int i = 0; i < PFW_WINO_IN; i++)
          for (int j = 0; j < PFW_WINO_IN; j++)
            row[i * PFW_WINO_IN + j][q] = (float)(t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2]);
      }
      float* d = packed + np * k0 + p0 * kcb + (c - k0) * nr;
      for (int xi = 0; xi < PFW_WINO_XI; xi++) memcpy(d + per * (size_t)xi, row[xi], (size_t)cols * sizeof(float));
    }
  }
  pfw_release_packed_input(node, W);
  node->scratch_size = slot_of(k, wk, &s, block_tiles(k, &s, node->num_threads)).total *
                           (size_t)node->num_threads + PFW_ALIGN;
  return PFW_OK;
}

typedef struct wino_ctx {
  const pfw_sgemm_kernel* k;
  const pfw_wino_kernel* wk;
  wino_shape s;
  const float* x;
  float* y;
  const float* u;
  int64_t b_off[PFW_WINO_XI];
  pfw_sgemm_tail tail;
  pfw_activation act;
  bool act_after; /* an activation the clamp does not cover */
  int64_t tb, blocks;
  wino_slot slot;
  char* scratch;
  atomic_llong next;
} wino_ctx;

/* Runs of tiles of one tile row: tile `t` is (n, ty, tx); `len` tiles from
 * there, `at` of them before it in the block. */
typedef struct segment {
  int64_t t, end, at, n, ty, tx, len;
} segment;

static bool next_segment(const wino_shape* s, int64_t t0, segment* g) {
  g->t += g->len;
  if (g->t >= g->end) return false;
  g->n = g->t / (s->th * s->tw);
  g->ty = g->t / s->tw % s->th;
  g->tx = g->t % s->tw;
  g->len = s->tw - g->tx < g->end - g->t ? s->tw - g->tx : g->end - g->t;
  g->at = g->t - t0;
  return true;
}

static void run_block(const wino_ctx* c, int64_t b, char* ws) {
  const wino_shape* s = &c->s;
  int64_t mr = c->k->mr, t0 = b * c->tb, nb = s->tiles - t0 < c->tb ? s->tiles - t0 : c->tb;
  int64_t mp = (nb + mr - 1) / mr * mr, xs = mp * s->C + XI_SKEW, ks = pfw_sgemm_kstep(s->C);
  float* v = (float*)ws;
  float* yb = (float*)(ws + c->slot.v);
  float* ibuf = (float*)(ws + c->slot.v + c->slot.y);
  float* obuf = (float*)(ws + c->slot.v + c->slot.y + c->slot.in);
  void* gscratch = ws + c->slot.v + c->slot.y + c->slot.in + c->slot.out;
  if (nb < mp) /* the last panel's rows past the block's tiles are read by the GEMM */
    for (int xi = 0; xi < PFW_WINO_XI; xi++)
      for (int64_t k0 = 0; k0 < s->C; k0 += ks) {
        int64_t kcb = s->C - k0 < ks ? s->C - k0 : ks;
        memset(v + xi * xs + mp * k0 + (mp - mr) * kcb, 0, (size_t)(mr * kcb) * sizeof(float));
      }
  for (segment g = {t0, t0 + nb, 0, 0, 0, 0, 0}; next_segment(s, t0, &g);) {
    for (int64_t ch = 0; ch < s->C; ch++) {
      int64_t k0 = ch / ks * ks, kcb = s->C - k0 < ks ? s->C - k0 : ks;
      pfw_wino_dst d = {v + mp * k0 + (ch - k0) * mr, xs, mr * kcb, g.at, (int32_t)mr};
      c->wk->input(c->x + (g.n * s->C + ch) * s->H * s->W, s->H, s->W, 4 * g.ty - s->pt, 4 * g.tx - s->pl, g.len,
                   &d, ibuf);
    }
  }
  int64_t a_off[PFW_WINO_XI];
  for (int xi = 0; xi < PFW_WINO_XI; xi++) a_off[xi] = xi * xs;
  pfw_sgemm_args a;
  gemm_args(s, nb, v, a_off, c->u, c->b_off, yb, &a);
  pfw_sgemm(c->k, &a, gscratch, NULL, 1);
  int64_t plane = s->Ho * s->Wo;
  for (segment g = {t0, t0 + nb, 0, 0, 0, 0, 0}; next_segment(s, t0, &g);) {
    float* y = c->y + g.n * s->M * plane;
    int64_t oy = 4 * g.ty, ox = 4 * g.tx, rows = s->Ho - oy < 4 ? s->Ho - oy : 4;
    c->wk->output(yb + g.at * s->M, nb * s->M, s->M, g.len, &c->tail, y, plane, s->Wo, oy, rows, ox, obuf);
    if (!c->act_after) continue;
    int64_t cols = s->Wo - ox < 4 * g.len ? s->Wo - ox : 4 * g.len;
    for (int64_t m = 0; m < s->M; m++)
      for (int64_t r = 0; r < rows; r++) pfw_activation_row(&c->act, y + m * plane + (oy + r) * s->Wo + ox, cols);
  }
}

static void wino_slots(void* p, int64_t begin, int64_t end) {
  wino_ctx* c = p;
  for (int64_t i = begin; i < end; i++) {
    char* ws = c->scratch + (size_t)i * c->slot.total;
    for (int64_t b; (b = atomic_fetch_add(&c->next, 1)) < c->blocks;) run_block(c, b, ws);
  }
}

void pfw_conv_winograd_run(pfw_node* node, const pfw_spatial* g) {
  wino_ctx c;
  c.k = pfw_sgemm_kernel_for(node->isa);
  c.wk = pfw_wino_kernel_for(node->isa);
  shape_of(node, g, &c.s);
  c.x = node->in[0]->data;
  c.y = node->out[0]->data;
  c.u = pfw_sgemm_state_floats(node->state);
  size_t per = pfw_sgemm_packed_b_floats(c.k, c.s.C, c.s.M);
  for (int xi = 0; xi < PFW_WINO_XI; xi++) c.b_off[xi] = (int64_t)per * xi;
  const pfw_tensor* B = node->n_in == 3 ? node->in[2] : NULL;
  pfw_activation_init(node, &c.act); /* checked at prepare */
  memset(&c.tail, 0, sizeof c.tail);
  c.tail.bias = B && B->data ? B->data : NULL;
  c.tail.clamp = pfw_activation_bounds(&c.act, &c.tail.lo, &c.tail.hi);
  c.act_after = c.act.kind != PFW_ACT_NONE && !c.tail.clamp;
  c.tb = block_tiles(c.k, &c.s, node->num_threads);
  c.blocks = (c.s.tiles + c.tb - 1) / c.tb;
  c.slot = slot_of(c.k, c.wk, &c.s, c.tb);
  c.scratch = pfw_align_ptr(node->scratch);
  atomic_init(&c.next, 0);
  int64_t slots = c.blocks < node->num_threads ? c.blocks : node->num_threads;
  pfw_parallel_for(node->pool, slots, wino_slots, &c);
}
