/* Depthwise Conv (group == C == M: one input channel per output channel),
 * float32, 1-D or 2-D: the MobileNet / ShuffleNet case, which the general
 * Conv paths (a GEMM per group of one channel) serve badly. A (batch,
 * channel) plane is copied zero-padded into the thread's scratch slot and
 * run by the ISA's plane kernel, four output rows at a time for 3x3 and 5x5
 * at stride 1 or 2, else row by row (kernels/window_f32.h), then the fused
 * activation; tasks are whole planes, so results are the same at every
 * thread count.
 *
 * Also home of pfw_window_kernels_for, the table pool.c uses too. */
#include <string.h>

#include "../kernels/window_f32.h"

#if defined(__x86_64__)
static const pfw_window_kernels avx512_kernels = {pfw_conv_depthwise_row_f32_avx512, pfw_pool_row_f32_avx512,
                                                  pfw_global_pool_f32_avx512, pfw_conv_depthwise_plane_f32_avx512,
                                                  pfw_conv_depthwise_pad_f32_avx512};
static const pfw_window_kernels avx2_kernels = {pfw_conv_depthwise_row_f32_avx2, pfw_pool_row_f32_avx2,
                                                pfw_global_pool_f32_avx2, pfw_conv_depthwise_plane_f32_avx2,
                                                pfw_conv_depthwise_pad_f32_avx2};
#endif

const pfw_window_kernels* pfw_window_kernels_for(pfw_isa isa) {
  switch (isa) {
#if defined(__x86_64__)
    case PFW_ISA_AVX512: return &avx512_kernels;
    case PFW_ISA_AVX2: return &avx2_kernels;
#endif
    default: return NULL;
  }
}

bool pfw_conv_is_depthwise(const pfw_node* node) {
  int64_t group = pfw_attr_int(node, "group", 1);
  const pfw_tensor* W = node->in[1];
  return group > 1 && node->in[0]->dims[1] == group && W->dims[0] == group && W->dims[1] == 1;
}

bool pfw_conv_depthwise_applies(const pfw_node* node) {
  const pfw_tensor* X = node->in[0];
  return pfw_window_kernels_for(node->isa) && X->dtype == PFW_FLOAT32 && (X->rank == 3 || X->rank == 4) &&
         pfw_conv_is_depthwise(node);
}

/* Floats of a padded plane in each thread's slot (256 KB: a 224 x 224
 * plane); larger planes run unpadded, their border columns scalar. */
#define PADDED_MAX ((int64_t)1 << 16)

static void run_planes(const pfw_window_job* c, int64_t begin, int64_t end, float* buf) {
  const pfw_spatial* g = &c->g;
  int64_t in_plane = g->in[1] * g->in[2], Ho = g->out[1], Wo = g->out[2];
  pfw_window_plane pl = c->base;
  /* The plane kernel reads a stride-1 plane with no padding in place. */
  float* plane_buf = c->inside && g->s[2] == 1 ? NULL : buf;
  if (plane_buf || (buf && c->padded)) memset(buf, 0, (size_t)(c->gp.in[1] * c->gp.in[2]) * sizeof(float));
  for (int64_t plane = begin; plane < end; plane++) {
    int64_t ch = plane % c->C;
    float* y = c->y + plane * Ho * Wo;
    pl.g = g, pl.xa = c->base.xa, pl.xb = c->base.xb;
    pl.x = c->x + plane * in_plane;
    if (c->w) {
      pl.w = c->w + ch * g->k[1] * g->k[2];
      pl.bias = c->b ? c->b[ch] : 0.0f;
    }
    bool done = c->plane && (plane_buf || c->inside) && c->plane(&pl, &c->gp, plane_buf, y);
    if (!done && c->padded && buf) {
      c->pad(g, &c->gp, pl.x, buf);
      pl.g = &c->gp, pl.xa = 0, pl.xb = Wo, pl.x = buf;
    }
    for (int64_t oy = 0; oy < Ho && !done; oy++) {
      /* A pool whose window spans the input reads the same rows again. */
      if (!c->w && oy > 0 && pfw_spatial_same_window(g, 1, oy, !pl.is_max && pl.include_pad)) {
        memcpy(y + oy * Wo, y + (oy - 1) * Wo, (size_t)Wo * sizeof(float));
        continue;
      }
      c->row(&pl, oy, y + oy * Wo);
    }
    if (!pl.clamp)
      for (int64_t oy = 0; oy < Ho; oy++) pfw_activation_row(&c->act, y + oy * Wo, Wo);
  }
}

static void window_planes(void* p, int64_t begin, int64_t end) { run_planes(p, begin, end, NULL); }

/* Padded: one task a thread, each with its buffer, planes cut evenly. */
typedef struct padded_job {
  const pfw_window_job* job;
  int64_t planes, slots;
} padded_job;

static void padded_slots(void* p, int64_t begin, int64_t end) {
  const padded_job* pj = p;
  for (int64_t s = begin; s < end; s++)
    run_planes(pj->job, pj->planes * s / pj->slots, pj->planes * (s + 1) / pj->slots,
               pj->job->scratch + (size_t)s * pj->job->slot_floats);
}

void pfw_window_run(pfw_window_job* job, pfw_threadpool* pool, int64_t planes, int32_t threads) {
  job->base.g = &job->g;
  pfw_spatial_interior(&job->g, 2, &job->base.xa, &job->base.xb);
  if (!job->scratch) {
    pfw_parallel_for(pool, planes, window_planes, job);
    return;
  }
  int64_t slots = threads > 1 ? threads : 1;
  padded_job pj = {job, planes, planes < slots ? planes : slots};
  pfw_parallel_for(pool, pj.slots, padded_slots, &pj);
}

/* The padded geometry (the rows and columns the taps reach), and whether
 * that plane fits a slot. */
static bool padded_geometry(const pfw_spatial* g, pfw_spatial* gp) {
  *gp = *g;
  for (int a = 1; a < 3; a++) {
    gp->in[a] = (g->out[a] - 1) * g->s[a] + (g->k[a] - 1) * g->d[a] + 1;
    gp->pb[a] = gp->pe[a] = 0;
  }
  return gp->in[1] <= PADDED_MAX && gp->in[2] <= PADDED_MAX && gp->in[1] * gp->in[2] <= PADDED_MAX;
}

/* Scratch for the padded planes, one slot a thread (0 when unpadded). */
size_t pfw_conv_depthwise_scratch(const pfw_node* node) {
  const pfw_tensor* X = node->in[0];
  pfw_spatial g, gp;
  if (pfw_spatial_init(node, X->rank - 2, X->dims + 2, node->in[1]->dims + 2, false, &g) != PFW_OK ||
      !padded_geometry(&g, &gp))
    return 0;
  size_t slot = pfw_align_size((size_t)(gp.in[1] * gp.in[2]) * sizeof(float));
  return slot * (size_t)(node->num_threads > 1 ? node->num_threads : 1);
}

void pfw_conv_depthwise_run(pfw_node* node) {
  const pfw_tensor* X = node->in[0];
  const pfw_tensor* W = node->in[1];
  if (pfw_numel(node->out[0]) == 0) return;
  pfw_window_job c;
  memset(&c, 0, sizeof c);
  /* Checked at prepare with the same attributes and shapes. */
  pfw_spatial_init(node, X->rank - 2, X->dims + 2, W->dims + 2, false, &c.g);
  pfw_activation_init(node, &c.act);
  c.row = pfw_window_kernels_for(node->isa)->conv_depthwise;
  c.x = X->data;
  c.w = W->data;
  c.b = node->n_in == 3 && node->in[2] ? node->in[2]->data : NULL;
  c.y = node->out[0]->data;
  c.C = X->dims[1];
  c.plane = pfw_window_kernels_for(node->isa)->conv_depthwise_plane;
  c.pad = pfw_window_kernels_for(node->isa)->pad;
  int64_t ya, yb, xa, xb;
  pfw_spatial_interior(&c.g, 1, &ya, &yb);
  pfw_spatial_interior(&c.g, 2, &xa, &xb);
  c.inside = ya == 0 && yb == c.g.out[1] && xa == 0 && xb == c.g.out[2];
  if (padded_geometry(&c.g, &c.gp) && node->scratch) {
    c.scratch = node->scratch;
    c.slot_floats = pfw_align_size((size_t)(c.gp.in[1] * c.gp.in[2]) * sizeof(float)) / sizeof(float);
    c.padded = xa > 0 || xb < c.g.out[2]; /* border columns: the row path pads too */
  }
  /* Relu and Clip ride in the row kernel, while the row is in registers. */
  c.base.clamp = pfw_activation_bounds(&c.act, &c.base.lo, &c.base.hi);
  pfw_window_run(&c, node->pool, X->dims[0] * c.C, node->num_threads);
}
