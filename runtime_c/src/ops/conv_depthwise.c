/* Depthwise Conv (group == C == M: one input channel per output channel),
 * float32, 1-D or 2-D: the MobileNet / ShuffleNet case, which the general
 * Conv paths (a GEMM per group of one channel) serve badly. Each output row
 * of a (batch, channel) plane is one call of the ISA's row kernel
 * (kernels/window_f32.h) followed by the fused activation; tasks are whole
 * planes, so results are the same at every thread count.
 *
 * Also home of pfw_window_kernels_for, the table pool.c uses too. */
#include <string.h>

#include "../kernels/window_f32.h"

#if defined(__x86_64__)
static const pfw_window_kernels avx512_kernels = {pfw_conv_depthwise_row_f32_avx512, pfw_pool_row_f32_avx512,
                                                  pfw_global_pool_f32_avx512};
static const pfw_window_kernels avx2_kernels = {pfw_conv_depthwise_row_f32_avx2, pfw_pool_row_f32_avx2,
                                                pfw_global_pool_f32_avx2};
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

#define PADDED_MAX 4096 /* floats of a padded plane on the stack (16 KB) */

/* The input rows of plane x (geometry g) into buf (geometry gp), g->pb[1]
 * rows down and g->pb[2] columns in. buf's other elements are the padding:
 * zeroed once per task, never written here. */
static void pad_plane(const pfw_spatial* g, const pfw_spatial* gp, const float* x, float* buf) {
  int64_t Hp = gp->in[1], Wp = gp->in[2], W = g->in[2], left = g->pb[2];
  int64_t n = W < Wp - left ? W : Wp - left; /* input columns that land in a padded row */
  for (int64_t iy = 0; iy < g->in[1] && iy + g->pb[1] < Hp && n > 0; iy++)
    memcpy(buf + (iy + g->pb[1]) * Wp + left, x + iy * W, (size_t)n * sizeof(float));
}

static void window_planes(void* p, int64_t begin, int64_t end) {
  const pfw_window_job* c = p;
  const pfw_spatial* g = &c->g;
  int64_t in_plane = g->in[1] * g->in[2], Ho = g->out[1], Wo = g->out[2];
  pfw_window_plane pl = c->base;
  float buf[PADDED_MAX];
  if (c->padded) {
    pl.g = &c->gp, pl.xa = 0, pl.xb = Wo;
    memset(buf, 0, (size_t)(c->gp.in[1] * c->gp.in[2]) * sizeof(float));
  }
  for (int64_t plane = begin; plane < end; plane++) {
    int64_t ch = plane % c->C;
    pl.x = c->x + plane * in_plane;
    if (c->padded) {
      pad_plane(g, &c->gp, pl.x, buf);
      pl.x = buf;
    }
    if (c->w) {
      pl.w = c->w + ch * g->k[1] * g->k[2];
      pl.bias = c->b ? c->b[ch] : 0.0f;
    }
    for (int64_t oy = 0; oy < Ho; oy++) {
      float* yr = c->y + (plane * Ho + oy) * Wo;
      c->row(&pl, oy, yr);
      if (!pl.clamp) pfw_activation_row(&c->act, yr, Wo);
    }
  }
}

void pfw_window_run(pfw_window_job* job, pfw_threadpool* pool, int64_t planes) {
  job->base.g = &job->g;
  pfw_spatial_interior(&job->g, 2, &job->base.xa, &job->base.xb);
  pfw_parallel_for(pool, planes, window_planes, job);
}

/* The padded geometry, when a row has border columns and the padded plane
 * (the rows and columns the taps reach) fits on the stack. */
static bool padded_geometry(const pfw_spatial* g, pfw_spatial* gp) {
  *gp = *g;
  for (int a = 1; a < 3; a++) {
    gp->in[a] = (g->out[a] - 1) * g->s[a] + (g->k[a] - 1) * g->d[a] + 1;
    gp->pb[a] = gp->pe[a] = 0;
  }
  int64_t xa, xb;
  pfw_spatial_interior(g, 2, &xa, &xb);
  return (xa > 0 || xb < g->out[2]) && gp->in[1] * gp->in[2] <= PADDED_MAX;
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
  c.padded = padded_geometry(&c.g, &c.gp);
  /* Relu and Clip ride in the row kernel, while the row is in registers. */
  c.base.clamp = pfw_activation_bounds(&c.act, &c.base.lo, &c.base.hi);
  pfw_window_run(&c, node->pool, X->dims[0] * c.C);
}
