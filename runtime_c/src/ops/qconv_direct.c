/* QLinearConv on the byte path without im2col (1-D and 2-D, one group,
 * kernels with micro_u8_taps: AVX512-VNNI, NEON dot product).
 *
 * im2col copies every input byte once per tap (nine times for 3x3) into
 * the GEMM's quad layout, and on ResNet-18 that copying took a fifth of
 * the run. Here each image is interleaved once instead: four channels per
 * byte quad, zero-point padded, and split by stride phase as the
 * depthwise path does (padded position (r, c) to phase plane (r % sy,
 * c % sx) at (r / sy, c / sx), planes L = ceil(padded width / sx) wide).
 * Output (oy, ox) is then "wide" column oy * L + ox, and every tap reads
 * the wide columns at one fixed offset: the tile's B is the interleaved
 * input itself, read in place by the kernel. Columns with ox >= Wo are
 * computed and dropped, so the path is taken where they are few.
 *
 * The sums are the GEMM path's exactly (same K order, exact int32), and
 * the x zero point is folded into the bias as there, so the output bytes
 * are the reference's at any thread count. */
#include <stdatomic.h>
#include <string.h>

#include "qlinear.h"

#define MAX_TAPS 128
#define MAX_CHUNK 256 /* wide columns per task */

typedef struct dc_layout {
  int64_t L, sub, P;  /* phase plane row, phase plane, positions per channel quad (every phase) */
  int64_t cq, wide;   /* channel quads; wide output columns Ho * L */
  int64_t bytes;      /* the interleaved image, reads past the last plane included */
  int32_t taps;
  int64_t off[MAX_TAPS]; /* bytes from a wide column's position to its tap's */
} dc_layout;

static int64_t ceil_div(int64_t a, int64_t b) { return pfw_size_add(a, b - 1) / b; }

/* The phase planes (pfw_qphase_plan) of every channel quad, offsets in
 * bytes; bytes past PFW_SIZE_LIMIT means a layout too big to take (pads
 * and dilations a model may set near INT64_MAX), and applies() refuses it. */
static dc_layout dc_plan(const qgeom* q, int32_t nr) {
  const pfw_spatial* g = &q->g;
  dc_layout d;
  pfw_qphase_plan(g, &d.L, &d.sub, d.off);
  d.P = pfw_size_mul(pfw_size_mul(g->s[1], g->s[2]), d.sub);
  d.cq = ceil_div(q->Cg, 4);
  d.wide = pfw_size_mul(g->out[1], d.L);
  d.taps = (int32_t)(g->k[1] * g->k[2]);
  int64_t last = d.P, cols = pfw_size_add(d.wide, nr);
  for (int32_t t = 0; t < d.taps; t++) {
    if (pfw_size_add(d.off[t], cols) > last) last = pfw_size_add(d.off[t], cols);
    d.off[t] = pfw_size_mul(d.off[t], 4);
  }
  d.bytes = pfw_size_mul(pfw_size_add(pfw_size_mul(d.cq - 1, d.P), last), 4);
  return d;
}

bool pfw_qconv_direct_applies(const qgeom* q, const pfw_qgemm_kernel* k) {
  const pfw_spatial* g = &q->g;
  if (!k || !k->micro_u8_taps || !q->sig->conv || q->groups != 1 || g->n > 2 || g->k[1] * g->k[2] > MAX_TAPS)
    return false;
  /* Every phase plane must be read by some tap (a 1x1 stride-2 Conv reads
   * one of four: interleaving the other three would be wasted work). */
  for (int dim = 1; dim <= 2; dim++) {
    uint64_t seen = 0;
    for (int64_t t = 0; t < g->k[dim] && g->s[dim] <= 64; t++) seen |= UINT64_C(1) << (t * g->d[dim] % g->s[dim]);
    if (g->s[dim] > 64 || seen != (g->s[dim] == 64 ? ~UINT64_C(0) : (UINT64_C(1) << g->s[dim]) - 1)) return false;
  }
  /* A layout that fits, and the dropped columns cost at most a quarter more tiles than im2col's. */
  dc_layout d = dc_plan(q, k->nr);
  return d.bytes <= PFW_SIZE_LIMIT && pfw_round_up(d.wide, k->nr) * 4 <= pfw_round_up(q->out_plane, k->nr) * 5;
}

static int64_t chunk_cols(const dc_layout* d, int32_t nr) {
  int64_t nc = pfw_round_up(d->wide, nr);
  return nc < MAX_CHUNK ? nc : MAX_CHUNK / nr * nr;
}

/* Per thread: one chunk's mr x nc int32 tile. */
static size_t slot_bytes(const qgeom* q, const pfw_qgemm_kernel* k) {
  dc_layout d = dc_plan(q, k->nr);
  return pfw_align_size((size_t)(k->mr * chunk_cols(&d, k->nr)) * sizeof(int32_t));
}

size_t pfw_qconv_direct_scratch(const qgeom* q, const pfw_qgemm_kernel* k, int32_t threads) {
  dc_layout d = dc_plan(q, k->nr);
  return pfw_align_size((size_t)d.bytes) + slot_bytes(q, k) * (size_t)(threads < 1 ? 1 : threads) + PFW_ALIGN;
}

typedef struct dc_ctx {
  const qgeom* q;
  const qinput* in;
  const pfw_qgemm_a8* a8;
  const qstore* st;
  const pfw_qgemm_kernel* k;
  dc_layout d;
  int64_t img, nc, chunks, row_blocks, rows_per, tasks;
  uint8_t* xq; /* the interleaved image */
  uint8_t* tiles;
  size_t slot;
  atomic_llong next;
} dc_ctx;

/* Channel quads [begin, end) of image img: the zero point everywhere,
 * then each input row's four channels interleaved into its phase rows. */
static void interleave_quads(void* p, int64_t begin, int64_t end) {
  const dc_ctx* x = p;
  const qgeom* q = x->q;
  const pfw_spatial* g = &q->g;
  const dc_layout* d = &x->d;
  int64_t H = g->in[1], W = g->in[2], sy = g->s[1], sx = g->s[2], plane = H * W;
  const uint8_t* xu = (const uint8_t*)x->in->x + x->img * q->C * plane;
  uint8_t flip = qinput_flip(x->in);
  /* No padding and stride 1 (a 1x1 Conv): the plane is the input's, one run */
  bool same = sy == 1 && sx == 1 && d->P == plane;
  for (int64_t c4 = begin; c4 < end; c4++) {
    uint8_t* dst = x->xq + c4 * d->P * 4;
    /* the zero point in the padding; the last quad's plane also covers the reads past it */
    size_t at = same ? (size_t)plane * 4 : 0;
    memset(dst + at, qinput_zero_u8(x->in), (size_t)(c4 + 1 < d->cq ? d->P * 4 : x->d.bytes - c4 * d->P * 4) - at);
    const uint8_t* src[4];
    for (int64_t i = 0; i < 4; i++) /* a channel past Cg reads the quad's first again: its weights are 0 */
      src[i] = xu + (c4 * 4 + (c4 * 4 + i < q->Cg ? i : 0)) * plane;
    if (same) {
      x->in->interleave(dst, src, 0, plane, 1, flip);
      continue;
    }
    for (int64_t iy = 0; iy < H; iy++) {
      int64_t r = iy + g->pb[1];
      uint8_t* row = dst + ((r % sy) * sx * d->sub + r / sy * d->L) * 4;
      for (int64_t cp = 0; cp < sx; cp++) {
        int64_t ix0 = pfw_qphase_first(cp, g->pb[2], sx);
        if (ix0 >= W) continue;
        const uint8_t* s[4] = {src[0] + iy * W + ix0, src[1] + iy * W + ix0, src[2] + iy * W + ix0,
                               src[3] + iy * W + ix0};
        x->in->interleave(row + (cp * d->sub + (ix0 + g->pb[2]) / sx) * 4, s, 0, (W - 1 - ix0) / sx + 1, sx, flip);
      }
    }
  }
}

/* One task: a chunk of wide columns over a block of row panels. The kept
 * columns are moved together in each tile row, then stored as one run of
 * the output plane. */
static void run_task(dc_ctx* x, int64_t t, int32_t* c) {
  const pfw_qgemm_kernel* k = x->k;
  const dc_layout* d = &x->d;
  int64_t Wo = x->q->g.out[2], M = x->q->rows;
  int64_t J0 = t / x->row_blocks * x->nc, r0 = t % x->row_blocks * x->rows_per;
  int64_t n = x->nc < d->wide - J0 ? x->nc : d->wide - J0, r1 = r0 + x->rows_per < M ? r0 + x->rows_per : M;
  int64_t ldc = pfw_round_up(n, k->nr);
  /* the kept runs of the chunk: [src, src + len) of the tile to dst */
  int64_t src[MAX_CHUNK], len[MAX_CHUNK], runs = 0, kept = 0;
  for (int64_t w = J0; w < J0 + n;) {
    int64_t ox = w % d->L, stop = w - ox + d->L < J0 + n ? w - ox + d->L : J0 + n;
    if (ox < Wo) {
      src[runs] = w - J0;
      len[runs] = (stop < w - ox + Wo ? stop : w - ox + Wo) - w;
      kept += len[runs++];
    }
    w = stop;
  }
  if (!kept) return;
  int64_t first = (J0 + src[0]) / d->L * Wo + (J0 + src[0]) % d->L; /* its output position */
  for (int64_t i0 = r0; i0 < r1; i0 += k->mr) {
    const int8_t* a = x->a8->quads + (i0 / k->mr) * x->a8->kq * k->mr * 4;
    for (int64_t j = 0; j < n; j += k->nr)
      k->micro_u8_taps(d->taps, d->off, d->cq, d->P * 4, a, x->xq + (J0 + j) * 4, c + j, ldc);
    int32_t m = (int32_t)(M - i0 < k->mr ? M - i0 : k->mr);
    for (int32_t r = 0; r < m; r++)
      for (int64_t u = 0, at = 0; u < runs; at += len[u++])
        if (src[u] != at) memmove(c + r * ldc + at, c + r * ldc + src[u], (size_t)len[u] * sizeof(int32_t));
    pfw_qstore_tile(x->st, x->img, i0, m, first, (int32_t)kept, c, ldc);
  }
}

static void task_slots(void* p, int64_t begin, int64_t end) {
  dc_ctx* x = p;
  for (int64_t s = begin; s < end; s++) {
    int32_t* c = (int32_t*)(x->tiles + (size_t)s * x->slot);
    for (int64_t t; (t = atomic_fetch_add(&x->next, 1)) < x->tasks;) run_task(x, t, c);
  }
}

void pfw_qconv_direct_run(const pfw_node* node, const qgeom* q, const qinput* in, const pfw_qgemm_a8* a8,
                          const qstore* st, const pfw_qgemm_kernel* k, void* scratch) {
  dc_ctx x = {.q = q, .in = in, .a8 = a8, .st = st, .k = k, .d = dc_plan(q, k->nr)};
  int64_t threads = node->num_threads < 1 ? 1 : node->num_threads, panels = ceil_div(q->rows, k->mr);
  x.nc = chunk_cols(&x.d, k->nr);
  x.chunks = ceil_div(x.d.wide, x.nc);
  /* Too few chunks for the threads (a 7 x 7 plane): split the rows too. */
  x.row_blocks = threads == 1 || x.chunks >= 2 * threads ? 1 : ceil_div(2 * threads, x.chunks);
  if (x.row_blocks > panels) x.row_blocks = panels;
  x.rows_per = ceil_div(panels, x.row_blocks) * k->mr;
  x.row_blocks = ceil_div(q->rows, x.rows_per);
  x.tasks = x.chunks * x.row_blocks;
  x.xq = pfw_align_ptr(scratch);
  x.tiles = x.xq + pfw_align_size((size_t)x.d.bytes);
  x.slot = slot_bytes(q, k);
  for (x.img = 0; x.img < q->images; x.img++) {
    pfw_parallel_for(node->pool, x.d.cq, interleave_quads, &x);
    atomic_init(&x.next, 0);
    pfw_parallel_for(node->pool, x.tasks < threads ? x.tasks : threads, task_slots, &x);
  }
}
