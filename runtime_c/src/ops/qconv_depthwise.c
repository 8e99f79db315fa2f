/* Depthwise QLinearConv and ConvInteger (one input and one output channel
 * per group, 2-D). The GEMM path would multiply 1-row matrices; here each
 * plane is copied once into a zero-bordered int16 buffer holding x - x_zero
 * (so the padding is exactly the zero point, as ONNX pads), each row split
 * into `stride` phases of the columns (column c at phase c % s, index c / s)
 * so that every tap reads a contiguous run for consecutive outputs; then
 * each output row sums all its taps at once (kernels/qgemm.h qdw_row). Sums are exact int32, handed row by row to the same store
 * (requantisation) as the GEMM path: the integers are the reference's. */
#include <stdatomic.h>

#include "qlinear.h"

bool pfw_qconv_depthwise_applies(const qgeom* q) {
  return q->sig->conv && q->Cg == 1 && q->rows == 1 && q->g.n == 2 && q->g.k[1] * q->g.k[2] <= 64;
}

static int64_t padded_w(const pfw_spatial* g) { return g->in[2] + g->pb[2] + g->pe[2]; }
/* Elements of one phase of a padded row, and of the whole phased row. */
static int64_t phase_len(const pfw_spatial* g) { return (padded_w(g) + g->s[2] - 1) / g->s[2]; }
static int64_t row_len(const pfw_spatial* g) { return phase_len(g) * g->s[2]; }
static int64_t padded_h(const pfw_spatial* g) { return g->in[1] + g->pb[1] + g->pe[1]; }

/* Per thread: the padded plane, then one int32 output row. */
static size_t slot_bytes(const qgeom* q) {
  size_t plane = (size_t)(padded_h(&q->g) * row_len(&q->g)) * sizeof(int16_t);
  return (plane + PFW_ALIGN - 1) / PFW_ALIGN * PFW_ALIGN + (size_t)q->g.out[2] * sizeof(int32_t) + PFW_ALIGN;
}

size_t pfw_qconv_depthwise_scratch(const qgeom* q, int32_t threads) {
  return slot_bytes(q) * (size_t)(threads < 1 ? 1 : threads) + PFW_ALIGN;
}

typedef struct dw_ctx {
  const pfw_node* node;
  const qgeom* q;
  const qinput* in;
  const int32_t* wz;
  const qstore* st;
  pfw_qdw_row_fn dw_row;
  uint8_t* scratch;
  size_t slot;
  atomic_llong next;
} dw_ctx;

/* Plane t = channel * images + image, which is also its batch index in the
 * store's (group, image) order. */
static void dw_plane(const dw_ctx* x, int64_t t, uint8_t* ws) {
  const qgeom* q = x->q;
  const pfw_spatial* g = &q->g;
  int64_t ch = t / q->images, img = t % q->images;
  int64_t H = g->in[1], W = g->in[2], Hp = padded_h(g), L = phase_len(g), R = row_len(g);
  int64_t Ho = g->out[1], Wo = g->out[2], kh = g->k[1], kw = g->k[2], sy = g->s[1], sx = g->s[2];
  int16_t* xp = (int16_t*)ws;
  int32_t* acc = (int32_t*)(ws + ((size_t)(Hp * R) * sizeof(int16_t) + PFW_ALIGN - 1) / PFW_ALIGN * PFW_ALIGN);
  const uint8_t* xu = (const uint8_t*)x->in->x + (img * q->C + ch) * H * W;
  int32_t bias = x->in->is_signed ? x->in->xz + 128 : x->in->xz; /* int8 read as uint8 ^ 0x80 = x + 128 */
  uint8_t flip = x->in->is_signed ? 0x80 : 0;
  memset(xp, 0, (size_t)(Hp * R) * sizeof(int16_t));
  for (int64_t iy = 0; iy < H; iy++) {
    int16_t* d = xp + (iy + g->pb[1]) * R;
    const uint8_t* s = xu + iy * W;
    if (sx == 1) {
      for (int64_t ix = 0; ix < W; ix++) d[g->pb[2] + ix] = (int16_t)((s[ix] ^ flip) - bias);
    } else {
      for (int64_t ix = 0; ix < W; ix++) {
        int64_t c = g->pb[2] + ix;
        d[c % sx * L + c / sx] = (int16_t)((s[ix] ^ flip) - bias);
      }
    }
  }
  const pfw_tensor* Wt = x->node->in[q->sig->w];
  int16_t w[64]; /* taps of this channel minus the zero point (kh * kw <= 64, see applies) */
  int64_t off[64]; /* each tap's start in a phased row */
  for (int64_t k = 0; k < kh * kw; k++) {
    int64_t at = ch * kh * kw + k, o = k % kw * g->d[2];
    int32_t v = Wt->dtype == PFW_INT8 ? ((const int8_t*)Wt->data)[at] : ((const uint8_t*)Wt->data)[at];
    w[k] = (int16_t)(v - x->wz[ch]);
    off[k] = k / kw * g->d[1] * R + o % sx * L + o / sx;
  }
  const int16_t* src[64];
  for (int64_t oy = 0; oy < Ho; oy++) {
    const int16_t* base = xp + oy * sy * R;
    for (int64_t k = 0; k < kh * kw; k++) src[k] = base + off[k];
    x->dw_row(acc, src, w, (int32_t)(kh * kw), Wo);
    pfw_qstore_tile(x->st, t, 0, 1, oy * Wo, (int32_t)Wo, acc, Wo);
  }
}

static void dw_slots(void* p, int64_t begin, int64_t end) {
  dw_ctx* x = p;
  int64_t planes = x->q->images * x->q->groups;
  for (int64_t s = begin; s < end; s++) {
    uint8_t* ws = x->scratch + (size_t)s * x->slot;
    for (int64_t t; (t = atomic_fetch_add(&x->next, 1)) < planes;) dw_plane(x, t, ws);
  }
}

void pfw_qconv_depthwise_run(const pfw_node* node, const qgeom* q, const qinput* in, const int32_t* wz,
                             const qstore* st, void* scratch) {
  dw_ctx x = {node, q, in, wz, st, pfw_qdw_row_for(node->isa), NULL, slot_bytes(q), 0};
  x.scratch = (uint8_t*)(((uintptr_t)scratch + PFW_ALIGN - 1) / PFW_ALIGN * PFW_ALIGN);
  atomic_init(&x.next, 0);
  int64_t planes = q->images * q->groups, threads = node->num_threads < 1 ? 1 : node->num_threads;
  pfw_parallel_for(node->pool, planes < threads ? planes : threads, dw_slots, &x);
}
