/* Depthwise QLinearConv and ConvInteger (one input and one output channel
 * per group, 2-D). The GEMM path would multiply 1-row matrices; here each
 * plane is copied once into zero-bordered int16 sub-planes holding
 * x - x_zero (so the padding is exactly the zero point, as ONNX pads; the
 * border is zeroed once per thread and run, as every plane fills the same
 * interior), one per (row phase, column phase) of the stride: padded
 * position (r, c) goes to sub-plane (r % sy, c % sx) at (r / sy, c / sx). Every tap then reads
 * one sub-plane at a fixed offset from output position oy * L + ox, so the
 * whole output plane is a single long run for kernels/qgemm.h qdw_row
 * (short rows such as 7 or 14 outputs would leave vector lanes idle); the
 * few positions with ox >= Wo are computed and dropped. Sums are exact
 * int32, requantised by the GEMM path's store: the integers are the
 * reference's. */
#include <stdatomic.h>

#include "qlinear.h"


void pfw_qphase_plan(const pfw_spatial* g, int64_t* L, int64_t* sub, int64_t* off) {
  int64_t sy = g->s[1], sx = g->s[2];
  *L = pfw_size_add(pfw_size_add(g->in[2], pfw_size_add(g->pb[2], g->pe[2])), sx - 1) / sx;
  *sub = pfw_size_mul(pfw_size_add(pfw_size_add(g->in[1], pfw_size_add(g->pb[1], g->pe[1])), sy - 1) / sy, *L);
  for (int64_t t = 0; t < g->k[1] * g->k[2]; t++) {
    int64_t r = pfw_size_mul(t / g->k[2], g->d[1]), c = pfw_size_mul(t % g->k[2], g->d[2]);
    int64_t phase = pfw_size_add(pfw_size_mul(r % sy, sx), c % sx);
    off[t] = pfw_size_add(pfw_size_add(pfw_size_mul(phase, *sub), pfw_size_mul(r / sy, *L)), c / sx);
  }
}

/* The plane layout (pfw_qphase_plan), the output run of n (Ho * L rounded
 * up to whole vectors) and the buffer's elements (up to the last tap's
 * last read); a total past PFW_SIZE_LIMIT is a layout applies() refuses. */
typedef struct dw_layout {
  int64_t L, sub, n, total;
  int64_t off[64];
} dw_layout;

static dw_layout dw_plan(const pfw_spatial* g) {
  dw_layout d;
  pfw_qphase_plan(g, &d.L, &d.sub, d.off);
  d.n = pfw_size_add(pfw_size_mul(g->out[1], d.L), 63) / 64 * 64; /* whole vectors: 64 outputs for the byte path */
  d.total = pfw_size_mul(pfw_size_mul(g->s[1], g->s[2]), d.sub);
  for (int64_t k = 0; k < g->k[1] * g->k[2]; k++)
    if (pfw_size_add(d.off[k], d.n) > d.total) d.total = pfw_size_add(d.off[k], d.n);
  return d;
}

bool pfw_qconv_depthwise_applies(const qgeom* q) {
  return q->sig->conv && q->Cg == 1 && q->rows == 1 && q->g.n == 2 && q->g.k[1] * q->g.k[2] <= 64 &&
         dw_plan(&q->g).total <= PFW_SIZE_LIMIT;
}


/* Per thread: the sub-planes (int16, or bytes), the int32 output run, its bytes. */
static size_t slot_bytes(const qgeom* q) {
  dw_layout d = dw_plan(&q->g);
  return pfw_align_size(pfw_align_size((size_t)d.total * sizeof(int16_t)) + pfw_align_size((size_t)d.n * sizeof(int32_t)) +
                        (size_t)d.n + 8) + PFW_ALIGN;
}

size_t pfw_qconv_depthwise_scratch(const qgeom* q, int32_t threads) {
  return slot_bytes(q) * (size_t)(threads < 1 ? 1 : threads) + PFW_ALIGN;
}

typedef struct dw_ctx {
  const pfw_node* node;
  const qgeom* q;
  const qinput* in;
  const int32_t* wz;
  const int8_t* w8; /* the byte path's weights (w - w_zero per channel and tap), or NULL */
  const qstore* st;
  pfw_qdw_row_fn dw_row;
  pfw_qwiden_row_fn widen;
  pfw_qdw_u8_row_fn u8_row;
  pfw_qsplit_row_fn split;
  dw_layout d;
  uint8_t* scratch;
  size_t slot;
  atomic_llong next;
} dw_ctx;

/* Plane t's input into the sub-planes: int16 x - x_zero, or for the byte
 * path uint8 (int8 flipped). Padded row r = iy + pb goes to row phase
 * r % sy, index r / sy: stepped, not divided, per row. */
static void fill_plane(const dw_ctx* x, int64_t t, uint8_t* ws, bool bytes) {
  const qgeom* q = x->q;
  const pfw_spatial* g = &q->g;
  const dw_layout* d = &x->d;
  int64_t H = g->in[1], W = g->in[2], sy = g->s[1], sx = g->s[2], pb = g->pb[2];
  const uint8_t* xu = (const uint8_t*)x->in->x + (t % q->images * q->C + t / q->images) * H * W;
  int32_t zero = qinput_zero_u8(x->in);
  uint8_t flip = qinput_flip(x->in);
  if (bytes && sx <= 2) { /* the rows of each row phase in one call: L apart there, sy input rows apart here */
    for (int64_t rp = 0; rp < sy; rp++) {
      int64_t iy = pfw_qphase_first(rp, g->pb[1], sy);
      if (iy >= H) continue;
      int64_t row = rp * sx * d->sub + (iy + g->pb[1]) / sy * d->L;
      int64_t e0 = row + (sx == 1 ? pb : pb % 2 * d->sub + pb / 2), e1 = row + (pb + 1) % 2 * d->sub + (pb + 1) / 2;
      x->split(ws + e0, sx == 1 ? NULL : ws + e1, d->L, xu + iy * W, sy * W, (H - 1 - iy) / sy + 1, W, flip);
    }
    return;
  }
  for (int64_t iy = 0, rp = g->pb[1] % sy, ri = g->pb[1] / sy; iy < H; iy++, rp = rp + 1 == sy ? (ri++, 0) : rp + 1) {
    const uint8_t* s = xu + iy * W;
    int64_t row = rp * sx * d->sub + ri * d->L; /* in elements */
    if (sx <= 2) { /* one phase, or both in one pass: e0 takes the even columns for sx = 2 */
      int64_t e0 = row + (sx == 1 ? pb : pb % 2 * d->sub + pb / 2), e1 = row + (pb + 1) % 2 * d->sub + (pb + 1) / 2;
      x->widen((int16_t*)ws + e0, sx == 1 ? NULL : (int16_t*)ws + e1, s, W, flip, zero);
      continue;
    }
    for (int64_t cp = 0; cp < sx; cp++) {
      int64_t ix = pfw_qphase_first(cp, pb, sx);
      for (int64_t at = row + cp * d->sub + (ix + pb) / sx; ix < W; ix += sx, at++) {
        if (bytes) ws[at] = s[ix] ^ flip;
        else ((int16_t*)ws)[at] = (int16_t)((s[ix] ^ flip) - zero);
      }
    }
  }
}

/* The byte path of plane t: sub-planes padded with the zero point, whose
 * products init takes back out (zero times the taps' sum), so the sums
 * are the int16 path's. */
static void dw_plane_u8(const dw_ctx* x, int64_t t, uint8_t* ws, int32_t* acc) {
  fill_plane(x, t, ws, true);
  int32_t taps = (int32_t)(x->q->g.k[1] * x->q->g.k[2]);
  const int8_t* w = x->w8 + t / x->q->images * taps;
  uint32_t sum = 0;
  for (int32_t k = 0; k < taps; k++) sum += (uint32_t)w[k];
  x->u8_row(acc, ws, x->d.off, w, taps, (int32_t)(0u - (uint32_t)qinput_zero_u8(x->in) * sum), x->d.n);
}

/* Plane t = channel * images + image, which is also its batch index in the
 * store's (group, image) order. */
static void dw_plane(const dw_ctx* x, int64_t t, uint8_t* ws, int32_t* acc) {
  const qgeom* q = x->q;
  const pfw_spatial* g = &q->g;
  const dw_layout* d = &x->d;
  int64_t ch = t / q->images;
  int16_t* xp = (int16_t*)ws;
  fill_plane(x, t, ws, false);
  const pfw_tensor* Wt = x->node->in[q->sig->w];
  int32_t taps = (int32_t)(g->k[1] * g->k[2]);
  int16_t w[64]; /* taps of this channel minus the zero point (kh * kw <= 64, see applies) */
  const int16_t* src[64];
  for (int32_t k = 0; k < taps; k++) {
    int64_t at = ch * taps + k;
    int32_t v = Wt->dtype == PFW_INT8 ? ((const int8_t*)Wt->data)[at] : ((const uint8_t*)Wt->data)[at];
    w[k] = (int16_t)(v - x->wz[ch]);
    src[k] = xp + d->off[k];
  }
  x->dw_row(acc, src, w, taps, d->n);
}

static void dw_slots(void* p, int64_t begin, int64_t end) {
  dw_ctx* x = p;
  const dw_layout* d = &x->d;
  int64_t planes = x->q->images * x->q->groups;
  for (int64_t s = begin; s < end; s++) {
    uint8_t* ws = x->scratch + (size_t)s * x->slot;
    int32_t* acc = (int32_t*)(ws + pfw_align_size((size_t)d->total * sizeof(int16_t)));
    uint8_t* bytes = (uint8_t*)acc + pfw_align_size((size_t)d->n * sizeof(int32_t));
    /* The padding: every plane writes the same interior positions, so the
     * rest keeps the zero point (bytes) or 0 (int16) from here on. */
    if (x->w8) memset(ws, qinput_zero_u8(x->in), (size_t)d->total);
    else memset(ws, 0, (size_t)d->total * sizeof(int16_t));
    for (int64_t t; (t = atomic_fetch_add(&x->next, 1)) < planes;) {
      if (x->w8) dw_plane_u8(x, t, ws, acc);
      else dw_plane(x, t, ws, acc);
      pfw_qstore_wide(x->st, t, 0, acc, x->q->g.out[1], x->q->g.out[2], d->L, bytes);
    }
  }
}

void pfw_qconv_depthwise_run(const pfw_node* node, const qgeom* q, const qinput* in, const int32_t* wz,
                             const int8_t* w8, const qstore* st, void* scratch) {
  pfw_qdw_u8_row_fn u8_row = pfw_qdw_u8_row_for(node->isa);
  dw_ctx x = {node,   q, in, wz, u8_row ? w8 : NULL, st, pfw_qdw_row_for(node->isa), pfw_qwiden_row_for(node->isa),
              u8_row, pfw_qsplit_row_for(node->isa), dw_plan(&q->g), NULL, slot_bytes(q), 0};
  x.scratch = pfw_align_ptr(scratch);
  atomic_init(&x.next, 0);
  int64_t planes = q->images * q->groups, threads = node->num_threads < 1 ? 1 : node->num_threads;
  pfw_parallel_for(node->pool, planes < threads ? planes : threads, dw_slots, &x);
}
