/* ConvTranspose, float32, NCHW with 1 to 3 spatial dims: the adjoint of Conv.
 * W is (C, M/group, k...); each input value x[c, i] scatters x * w[c, m, t]
 * into y[m, i*s - pb + t*d]. groups, pads / auto_pad, strides, dilations,
 * output_padding, output_shape and an optional bias. Tasks are whole
 * (batch, output channel) planes, each accumulated in a fixed order, so
 * results do not depend on the thread count. */
#include "ops_common.h"

static pfw_status convt_prepare(pfw_node* node) {
  if (node->n_in < 2 || node->n_in > 3)
    return pfw_error(PFW_ERR_INVALID_MODEL, "expected 2 or 3 inputs, got %d", (int)node->n_in);
  if (node->n_out < 1) return pfw_error(PFW_ERR_INVALID_MODEL, "expected 1 output");
  pfw_status st = pfw_check_input(node, 0, PFW_FLOAT32, -1);
  if (st == PFW_OK) st = pfw_check_input(node, 1, PFW_FLOAT32, -1);
  if (st != PFW_OK) return st;
  const pfw_tensor* X = node->in[0];
  const pfw_tensor* W = node->in[1];
  if (X->rank < 3 || X->rank > 2 + PFW_SPATIAL_MAX)
    return pfw_error(X->rank < 3 ? PFW_ERR_SHAPE : PFW_ERR_UNSUPPORTED,
                     "input 0 (X) has rank %d; expected 3 to %d (N, C, 1 to %d spatial dims)", (int)X->rank,
                     2 + PFW_SPATIAL_MAX, PFW_SPATIAL_MAX);
  if (W->rank != X->rank)
    return pfw_error(PFW_ERR_SHAPE, "input 1 (W) has rank %d, expected %d like X", (int)W->rank, (int)X->rank);
  int32_t n = X->rank - 2;
  int64_t C = X->dims[1];
  int64_t group = pfw_attr_int(node, "group", 1);
  if (group < 1 || group > C || C % group != 0)
    return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'group' is %lld; expected a divisor of the %lld input channels",
                     (long long)group, (long long)C);
  if (W->dims[0] != C)
    return pfw_error(PFW_ERR_SHAPE, "input 1 (W) has %lld input channels (dim 0), expected %lld like X",
                     (long long)W->dims[0], (long long)C);
  int64_t M = W->dims[1] * group;
  if ((st = pfw_conv_check_kernel_bias(node, W, n, M)) != PFW_OK) return st;
  pfw_spatial g;
  st = pfw_spatial_transpose_init(node, n, X->dims + 2, W->dims + 2, &g);
  if (st != PFW_OK) return st;
  int64_t dims[2 + PFW_SPATIAL_MAX] = {X->dims[0], M};
  for (int32_t i = 0; i < n; i++) dims[2 + i] = g.out[PFW_SPATIAL_MAX - n + i];
  return pfw_set_output(node->out[0], PFW_FLOAT32, X->rank, dims);
}

typedef struct convt_ctx {
  const float *x, *w, *b;
  float* y;
  pfw_spatial g;
  int64_t C, M, Cg, Mg; /* channels in total and per group */
} convt_ctx;

/* Inputs i in [*lo, *hi) whose i*s + off lands in [0, out). */
static void convt_range(int64_t off, int64_t s, int64_t in, int64_t out, int64_t* lo, int64_t* hi) {
  *lo = off >= 0 ? 0 : (-off + s - 1) / s;
  *hi = out - 1 - off < 0 ? 0 : (out - 1 - off) / s + 1;
  if (*hi > in) *hi = in;
  if (*hi < *lo) *hi = *lo;
}

/* Computes output planes [begin, end) of N*M. */
static void convt_planes(void* p, int64_t begin, int64_t end) {
  const convt_ctx* c = p;
  const pfw_spatial* g = &c->g;
  int64_t Hin = g->in[1], Win = g->in[2], Ho = g->out[1], Wo = g->out[2];
  int64_t in_plane = g->in[0] * Hin * Win, out_plane = g->out[0] * Ho * Wo;
  int64_t ksize = g->k[0] * g->k[1] * g->k[2];
  for (int64_t plane = begin; plane < end; plane++) {
    int64_t nb = plane / c->M, m = plane % c->M;
    int64_t grp = m / c->Mg, ml = m % c->Mg;
    float* y = c->y + plane * out_plane;
    float bias = c->b ? c->b[m] : 0.0f;
    for (int64_t j = 0; j < out_plane; j++) y[j] = bias;
    for (int64_t ci = grp * c->Cg; ci < (grp + 1) * c->Cg; ci++) {
      const float* xc = c->x + (nb * c->C + ci) * in_plane;
      const float* wc = c->w + (ci * c->Mg + ml) * ksize;
      for (int64_t tz = 0; tz < g->k[0]; tz++) {
        int64_t z0, z1, zo = tz * g->d[0] - g->pb[0];
        convt_range(zo, g->s[0], g->in[0], g->out[0], &z0, &z1);
        for (int64_t ty = 0; ty < g->k[1]; ty++) {
          int64_t y0, y1, yo = ty * g->d[1] - g->pb[1];
          convt_range(yo, g->s[1], Hin, Ho, &y0, &y1);
          for (int64_t tx = 0; tx < g->k[2]; tx++) {
            int64_t x0, x1, xo = tx * g->d[2] - g->pb[2];
            convt_range(xo, g->s[2], Win, Wo, &x0, &x1);
            float wv = wc[(tz * g->k[1] + ty) * g->k[2] + tx];
            for (int64_t iz = z0; iz < z1; iz++)
              for (int64_t iy = y0; iy < y1; iy++) {
                const float* xr = xc + (iz * Hin + iy) * Win;
                int64_t row = ((iz * g->s[0] + zo) * Ho + iy * g->s[1] + yo) * Wo + xo; /* may be < 0 */
                for (int64_t ix = x0; ix < x1; ix++) y[row + ix * g->s[2]] += wv * xr[ix];
              }
          }
        }
      }
    }
  }
}

static pfw_status convt_run(pfw_node* node) {
  const pfw_tensor* X = node->in[0];
  const pfw_tensor* W = node->in[1];
  convt_ctx c;
  int32_t n = X->rank - 2;
  /* Geometry again from the attributes: it succeeded at prepare with the same shapes. */
  pfw_spatial_transpose_init(node, n, X->dims + 2, W->dims + 2, &c.g);
  int64_t group = pfw_attr_int(node, "group", 1);
  c.x = X->data;
  c.w = W->data;
  c.b = node->n_in == 3 && node->in[2] ? node->in[2]->data : NULL;
  c.y = node->out[0]->data;
  c.C = X->dims[1];
  c.Cg = c.C / group;
  c.Mg = W->dims[1];
  c.M = c.Mg * group;
  if (pfw_numel(node->out[0]) == 0) return PFW_OK;
  pfw_parallel_for(node->pool, X->dims[0] * c.M, convt_planes, &c);
  return PFW_OK;
}

const pfw_op pfw_op_ConvTranspose = {PFW_OP_ConvTranspose, convt_prepare, convt_run, 0};
