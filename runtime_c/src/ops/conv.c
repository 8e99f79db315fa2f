/* Conv, float32, NCHW with 1 to 3 spatial dims: groups, pads / auto_pad,
 * strides, dilations, optional bias, fused activation. Three paths, chosen
 * by the node's ISA level: depthwise convs run conv_depthwise.c, the other
 * convs run as a packed GEMM (conv_gemm.c; 3x3 stride-1 ones mostly by
 * Winograd, conv_winograd.c), and the scalar level runs the
 * reference here: a direct loop accumulating each output row in double over
 * (channel, kernel tap), with the valid range of output columns per tap
 * computed once so the inner loop has no branches. Tasks are whole (batch,
 * output channel) planes, so results do not depend on the thread count. */
#include <string.h>

#include "../kernels/sgemm.h"
#include "quant.h"

#define TILE 256 /* output columns accumulated at once on the stack */

/* Attribute kernel_shape, when given, agrees with W's n spatial dims. */
static pfw_status check_kernel_shape(const pfw_node* node, const pfw_tensor* W, int32_t n) {
  int32_t nk;
  const int64_t* ks = pfw_attr_ints(node, "kernel_shape", &nk);
  if (ks) {
    if (nk != n)
      return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'kernel_shape' has %d values, expected %d", (int)nk, (int)n);
    for (int32_t i = 0; i < n; i++)
      if (ks[i] != W->dims[2 + i])
        return pfw_error(PFW_ERR_SHAPE, "attribute 'kernel_shape'[%d] is %lld but W has %lld", (int)i,
                         (long long)ks[i], (long long)W->dims[2 + i]);
  }
  return PFW_OK;
}

/* Conv and ConvTranspose: attribute kernel_shape (when given) agrees with W's
 * n spatial dims, and the optional bias B holds M values of W's dtype. */
pfw_status pfw_conv_check_kernel_bias(const pfw_node* node, const pfw_tensor* W, int32_t n, int64_t M) {
  pfw_status st = check_kernel_shape(node, W, n);
  if (st != PFW_OK) return st;
  if (node->n_in == 3 && node->in[2]) {
    st = pfw_check_input(node, 2, W->dtype, 1);
    if (st != PFW_OK) return st;
    if (node->in[2]->dims[0] != M)
      return pfw_error(PFW_ERR_SHAPE, "input 2 (B) has %lld values, expected %lld (one per output channel)",
                       (long long)node->in[2]->dims[0], (long long)M);
  }
  return PFW_OK;
}

/* The packed-GEMM path (conv_gemm.c) serves every SIMD level; depthwise
 * convs (one channel per group) have nothing to share across channels and
 * keep the direct loop. The scalar level is the reference. */
static bool uses_gemm(const pfw_node* node) {
  return pfw_sgemm_kernel_for(node->isa) && !pfw_conv_is_depthwise(node);
}

pfw_status pfw_conv_shape(const pfw_node* node, int32_t xi, int32_t wi, pfw_spatial* g, int64_t* group,
                          int64_t* dims) {
  const pfw_tensor* X = node->in[xi];
  const pfw_tensor* W = node->in[wi];
  if (X->rank < 3 || X->rank > 2 + PFW_SPATIAL_MAX)
    return pfw_error(X->rank < 3 ? PFW_ERR_SHAPE : PFW_ERR_UNSUPPORTED,
                     "input %d (X) has rank %d; expected 3 to %d (N, C, 1 to %d spatial dims)", (int)xi, (int)X->rank,
                     2 + PFW_SPATIAL_MAX, PFW_SPATIAL_MAX);
  if (W->rank != X->rank)
    return pfw_error(PFW_ERR_SHAPE, "input %d (W) has rank %d, expected %d like X", (int)wi, (int)W->rank,
                     (int)X->rank);
  int32_t n = X->rank - 2;
  int64_t C = X->dims[1], M = W->dims[0];
  *group = pfw_attr_int(node, "group", 1);
  if (*group < 1 || *group > C || C % *group != 0)
    return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'group' is %lld; expected a divisor of the %lld input channels",
                     (long long)*group, (long long)C);
  if (W->dims[1] * *group != C)
    return pfw_error(PFW_ERR_SHAPE, "input %d (W) has %lld channels per group, expected %lld (C=%lld / group=%lld)",
                     (int)wi, (long long)W->dims[1], (long long)(C / *group), (long long)C, (long long)*group);
  if (M % *group != 0)
    return pfw_error(PFW_ERR_SHAPE, "input %d (W) has %lld output channels, not a multiple of group=%lld", (int)wi,
                     (long long)M, (long long)*group);
  pfw_status st = check_kernel_shape(node, W, n);
  if (st == PFW_OK) st = pfw_spatial_init(node, n, X->dims + 2, W->dims + 2, false, g);
  if (st != PFW_OK) return st;
  dims[0] = X->dims[0];
  dims[1] = M;
  for (int32_t i = 0; i < n; i++) dims[2 + i] = g->out[PFW_SPATIAL_MAX - n + i];
  return PFW_OK;
}

/* float16 and bfloat16 run through float32 as the other ops do: inputs
 * widened into scratch, the reference loop, each output rounded once more. */
static bool is_half(pfw_dtype d) { return d == PFW_FLOAT16 || d == PFW_BFLOAT16; }

static size_t half_scratch(const pfw_node* node) {
  size_t bias = node->n_in == 3 && node->in[2] ? (size_t)pfw_numel(node->in[2]) : 0;
  return pfw_align_size((size_t)pfw_numel(node->in[0]) * sizeof(float)) +
         pfw_align_size((size_t)pfw_numel(node->in[1]) * sizeof(float)) + pfw_align_size(bias * sizeof(float)) +
         pfw_align_size((size_t)pfw_numel(node->out[0]) * sizeof(float));
}

static float* widen(const pfw_tensor* t, uint8_t** scratch) {
  float* out = (float*)*scratch;
  int64_t n = pfw_numel(t);
  for (int64_t i = 0; i < n; i++) out[i] = (float)pfw_load_real(t->data, t->dtype, i);
  *scratch += pfw_align_size((size_t)n * sizeof(float));
  return out;
}

static pfw_status conv_prepare(pfw_node* node) {
  if (node->n_in < 2 || node->n_in > 3)
    return pfw_error(PFW_ERR_INVALID_MODEL, "expected 2 or 3 inputs, got %d", (int)node->n_in);
  if (node->n_out < 1) return pfw_error(PFW_ERR_INVALID_MODEL, "expected 1 output");
  pfw_dtype t = node->in[0] && is_half(node->in[0]->dtype) ? node->in[0]->dtype : PFW_FLOAT32;
  pfw_status st = pfw_check_input(node, 0, t, -1);
  if (st == PFW_OK) st = pfw_check_input(node, 1, t, -1);
  if (st != PFW_OK) return st;
  pfw_spatial g;
  int64_t group, dims[2 + PFW_SPATIAL_MAX];
  st = pfw_conv_shape(node, 0, 1, &g, &group, dims);
  if (st == PFW_OK) st = pfw_conv_check_kernel_bias(node, node->in[1], node->in[0]->rank - 2, dims[1]);
  if (st != PFW_OK) return st;
  pfw_activation act;
  st = pfw_activation_init(node, &act);
  if (st == PFW_OK) st = pfw_set_output(node->out[0], t, node->in[0]->rank, dims);
  if (st != PFW_OK || t != PFW_FLOAT32) {
    if (st == PFW_OK) node->scratch_size = half_scratch(node);
    return st; /* 16-bit types take the reference loop in float32 */
  }
  if (node->isa != PFW_ISA_SCALAR && pfw_conv_depthwise_applies(node))
    node->scratch_size = pfw_conv_depthwise_scratch(node);
  if (uses_gemm(node))
    st = pfw_conv_winograd_applies(node, &g) ? pfw_conv_winograd_prepare(node, &g) : pfw_conv_gemm_prepare(node, &g);
  return st;
}

typedef struct conv_ctx {
  const float *x, *w, *b;
  float* y;
  pfw_spatial g;
  int64_t C, M, Cg, Mg; /* channels in total and per group */
  pfw_activation act;    /* fused activation, applied per output row */
} conv_ctx;

/* Computes output planes [begin, end) of N*M. */
static void conv_planes(void* p, int64_t begin, int64_t end) {
  const conv_ctx* c = p;
  const pfw_spatial* g = &c->g;
  int64_t Din = g->in[0], Hin = g->in[1], Win = g->in[2];
  int64_t Do = g->out[0], Ho = g->out[1], Wo = g->out[2];
  int64_t kd = g->k[0], kh = g->k[1], kw = g->k[2];
  int64_t in_plane = Din * Hin * Win, ksize = kd * kh * kw;
  double acc[TILE];
  for (int64_t plane = begin; plane < end; plane++) {
    int64_t nb = plane / c->M, m = plane % c->M;
    int64_t c0 = m / c->Mg * c->Cg; /* first input channel of m's group */
    const float* xn = c->x + (nb * c->C + c0) * in_plane;
    const float* wm = c->w + m * c->Cg * ksize;
    float bias = c->b ? c->b[m] : 0.0f;
    float* yp = c->y + plane * Do * Ho * Wo;
    for (int64_t oz = 0; oz < Do; oz++) {
      int64_t z0, z1;
      pfw_spatial_taps(g, 0, oz, &z0, &z1);
      for (int64_t oy = 0; oy < Ho; oy++) {
        int64_t y0, y1;
        pfw_spatial_taps(g, 1, oy, &y0, &y1);
        for (int64_t j0 = 0; j0 < Wo; j0 += TILE) {
          int64_t j1 = Wo - j0 < TILE ? Wo : j0 + TILE;
          for (int64_t j = j0; j < j1; j++) acc[j - j0] = 0;
          for (int64_t ci = 0; ci < c->Cg; ci++) {
            for (int64_t tz = z0; tz < z1; tz++) {
              int64_t iz = oz * g->s[0] - g->pb[0] + tz * g->d[0];
              for (int64_t ty = y0; ty < y1; ty++) {
                int64_t iy = oy * g->s[1] - g->pb[1] + ty * g->d[1];
                const float* xr = xn + ci * in_plane + (iz * Hin + iy) * Win;
                const float* wr = wm + ((ci * kd + tz) * kh + ty) * kw;
                for (int64_t tx = 0; tx < kw; tx++) {
                  /* Columns ox whose input ox*s + off lies in [0, Win). */
                  int64_t off = tx * g->d[2] - g->pb[2], s = g->s[2];
                  int64_t lo = off >= 0 ? 0 : (-off + s - 1) / s;
                  int64_t hi = Win - 1 - off < 0 ? 0 : (Win - 1 - off) / s + 1;
                  if (lo < j0) lo = j0;
                  if (hi > j1) hi = j1;
                  double wv = wr[tx];
                  for (int64_t ox = lo; ox < hi; ox++) acc[ox - j0] += wv * xr[ox * s + off];
                }
              }
            }
          }
          float* yr = yp + (oz * Ho + oy) * Wo;
          for (int64_t j = j0; j < j1; j++) yr[j] = (float)(acc[j - j0] + bias);
          pfw_activation_row(&c->act, yr + j0, j1 - j0);
        }
      }
    }
  }
}

static pfw_status conv_run(pfw_node* node) {
  const pfw_tensor* X = node->in[0];
  bool half = is_half(X->dtype);
  if (!half && node->isa != PFW_ISA_SCALAR && pfw_conv_depthwise_applies(node)) {
    pfw_conv_depthwise_run(node);
    return PFW_OK;
  }
  const pfw_tensor* W = node->in[1];
  pfw_tensor* Y = node->out[0];
  conv_ctx c;
  int32_t n = X->rank - 2;
  /* Geometry again from the attributes: cheap and allocation-free. It
   * succeeded at prepare with the same shapes. */
  pfw_spatial_init(node, n, X->dims + 2, W->dims + 2, false, &c.g);
  if (pfw_numel(Y) == 0) return PFW_OK;
  if (!half && uses_gemm(node)) {
    if (pfw_conv_winograd_applies(node, &c.g)) pfw_conv_winograd_run(node, &c.g);
    else pfw_conv_gemm_run(node, &c.g);
    return PFW_OK;
  }
  pfw_activation_init(node, &c.act); /* checked at prepare */
  const pfw_tensor* B = node->n_in == 3 ? node->in[2] : NULL;
  if (half) {
    uint8_t* scratch = node->scratch;
    c.x = widen(X, &scratch);
    c.w = widen(W, &scratch);
    c.b = B ? widen(B, &scratch) : NULL;
    c.y = (float*)scratch;
  } else {
    c.x = X->data;
    c.w = W->data;
    c.b = B ? B->data : NULL;
    c.y = Y->data;
  }
  c.C = X->dims[1];
  c.M = W->dims[0];
  int64_t group = pfw_attr_int(node, "group", 1);
  c.Cg = c.C / group;
  c.Mg = c.M / group;
  int64_t planes = X->dims[0] * c.M;
  pfw_parallel_for(node->pool, planes, conv_planes, &c);
  if (half) {
    uint16_t* y = Y->data;
    for (int64_t i = 0; i < pfw_numel(Y); i++)
      y[i] = Y->dtype == PFW_FLOAT16 ? pfw_float_to_half(c.y[i]) : pfw_float_to_bf16(c.y[i]);
  }
  return PFW_OK;
}

const pfw_op pfw_op_Conv = {PFW_OP_Conv, conv_prepare, conv_run, 0};
