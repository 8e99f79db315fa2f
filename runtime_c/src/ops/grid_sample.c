/* GridSample (16: 4-D, modes bilinear/nearest/bicubic; 20+: N-D, linear/nearest/cubic):
 * Y[n, c, p] = X[n, c] sampled at grid[n, p, :] (x first, i.e. the last spatial
 * dim), with PyTorch's rules (GridSampler.h): coordinates in [-1, 1] denormalised
 * per align_corners; nearest rounds half to even; for linear and nearest,
 * border/reflection first move an out-of-range coordinate inside; every tap
 * reads through the padding mode;
 * cubic is Keys' kernel with a = -0.75. float32/float64 X and grid. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops_common.h"

enum { MODE_LINEAR, MODE_NEAREST, MODE_CUBIC };
enum { PAD_ZEROS, PAD_BORDER, PAD_REFLECTION };
#define GS_MAX_DIMS 3 /* spatial dims: up to 4^3 cubic taps per point */

typedef struct {
  int mode, padding;
  bool align_corners;
} gs_state;

static int name_index(const char* s, const char* const* names, int n) {
  for (int i = 0; i < n; i++)
    if (names[i] && strcmp(s, names[i]) == 0) return i;
  return -1;
}

static pfw_status gs_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 2, 2);
  if (st == PFW_OK) st = pfw_need_float(node, 0);
  if (st == PFW_OK) st = pfw_need_float(node, 1);
  if (st != PFW_OK) return st;
  const pfw_tensor *x = node->in[0], *g = node->in[1];
  int32_t r = x->rank - 2;
  if (r < 1 || r > GS_MAX_DIMS || (node->desc->version < 20 && r != 2))
    return pfw_error(PFW_ERR_UNSUPPORTED, "input 0 (X) has rank %d; GridSample-%d takes %s", (int)x->rank,
                     (int)node->desc->version, node->desc->version < 20 ? "rank 4" : "ranks 3 to 5");
  if (g->rank != x->rank || g->dims[0] != x->dims[0] || g->dims[g->rank - 1] != r)
    return pfw_error(PFW_ERR_SHAPE, "input 1 (grid) must be (N=%lld, spatial..., %d) for X of rank %d",
                     (long long)x->dims[0], (int)r, (int)x->rank);
  /* Both spellings: GridSample-16's names first, then GridSample-20's. */
  static const char* const modes[] = {"bilinear", "nearest", "bicubic", "linear", NULL, "cubic"};
  static const char* const pads[] = {"zeros", "border", "reflection"};
  const char* m = pfw_attr_string(node, "mode", node->desc->version < 20 ? "bilinear" : "linear");
  const char* p = pfw_attr_string(node, "padding_mode", "zeros");
  int mi = name_index(m, modes, 6), pi = name_index(p, pads, 3);
  if (mi < 0) return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'mode' is '%s'; expected linear, nearest or cubic", m);
  if (pi < 0)
    return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'padding_mode' is '%s'; expected zeros, border or reflection", p);
  gs_state* s = malloc(sizeof *s);
  if (!s) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory");
  *s = (gs_state){mi % 3, pi, pfw_attr_int(node, "align_corners", 0) != 0};
  node->state = s;
  int64_t dims[PFW_MAX_RANK] = {x->dims[0], x->dims[1]};
  for (int32_t k = 0; k < r; k++) dims[2 + k] = g->dims[1 + k];
  return pfw_set_output(node->out[0], x->dtype, x->rank, dims);
}

/* Folds v into [lo, hi] by reflecting at the borders (as often as needed). */
static double reflect(double v, double lo, double hi) {
  double span = hi - lo;
  if (span <= 0) return 0;
  if (v >= lo && v <= hi) return v;
  double d = v < lo ? lo - v : v - hi;
  double k = floor(d / span), rem = d - k * span;
  bool even = fmod(k, 2.0) == 0;
  return v < lo ? (even ? lo + rem : hi - rem) : (even ? hi - rem : lo + rem);
}

/* Index i along a dim of size d through the padding mode; -1 reads zero. */
static int64_t tap_index(int64_t i, int64_t d, const gs_state* s, double lo, double hi) {
  if (i >= 0 && i < d) return i;
  if (s->padding == PAD_ZEROS) return -1;
  if (s->padding == PAD_BORDER) return i < 0 ? 0 : d - 1;
  int64_t j = (int64_t)reflect((double)i, lo, hi);
  return j < 0 ? 0 : j >= d ? d - 1 : j;
}

static void cubic_coeffs(double t, double* w) {
  const double a = -0.75;
  double x0 = t + 1, x1 = t, x2 = 1 - t, x3 = 2 - t;
  w[0] = ((a * x0 - 5 * a) * x0 + 8 * a) * x0 - 4 * a;
  w[1] = ((a + 2) * x1 - (a + 3)) * x1 * x1 + 1;
  w[2] = ((a + 2) * x2 - (a + 3)) * x2 * x2 + 1;
  w[3] = ((a * x3 - 5 * a) * x3 + 8 * a) * x3 - 4 * a;
}

typedef struct {
  const pfw_node* node;
  int32_t r;
  int64_t n_points, channels, in_size, out_size;
} gs_ctx;

/* Per spatial dim: the taps (index or -1, weight) of one sampling point. */
typedef struct {
  int32_t count;
  int64_t index[4];
  double weight[4];
} gs_taps;

static void dim_taps(double coord, int64_t d, const gs_state* s, gs_taps* t) {
  double lo = s->align_corners ? 0 : -0.5, hi = s->align_corners ? (double)d - 1 : (double)d - 0.5;
  double x = s->align_corners ? (coord + 1) / 2 * (double)(d - 1) : ((coord + 1) * (double)d - 1) / 2;
  if (s->mode == MODE_NEAREST) x = nearbyint(x); /* half to even in the default rounding mode */
  if (x != x) x = -1e9; /* NaN samples nothing (zeros) or the low border */
  /* Linear and nearest move the coordinate inside first; cubic pads each tap
   * instead (PyTorch's grid_sampler_compute_source_index, ONNX Runtime). */
  if (!(x >= lo && x <= hi) && s->mode != MODE_CUBIC) {
    if (s->padding == PAD_BORDER) x = x < 0 ? 0 : x > (double)d - 1 ? (double)d - 1 : x;
    if (s->padding == PAD_REFLECTION) x = reflect(x, lo, hi);
  }
  if (x < -1e9) x = -1e9; /* keeps the int conversions below defined */
  if (x > 1e9) x = 1e9;
  int64_t x0 = (int64_t)floor(x);
  double f = x - (double)x0;
  if (s->mode == MODE_NEAREST) {
    t->count = 1;
    t->index[0] = tap_index((int64_t)x, d, s, lo, hi);
    t->weight[0] = 1;
  } else if (s->mode == MODE_LINEAR) {
    t->count = 2;
    t->index[0] = tap_index(x0, d, s, lo, hi);
    t->index[1] = tap_index(x0 + 1, d, s, lo, hi);
    t->weight[0] = 1 - f;
    t->weight[1] = f;
  } else {
    t->count = 4;
    cubic_coeffs(f, t->weight);
    for (int k = 0; k < 4; k++) t->index[k] = tap_index(x0 - 1 + k, d, s, lo, hi);
  }
}

#define GS_POINTS(name, T)                                                                          \
  static void name(void* p, int64_t begin, int64_t end) {                                           \
    const gs_ctx* c = p;                                                                            \
    const pfw_node* node = c->node;                                                                 \
    const gs_state* s = node->state;                                                                \
    const pfw_tensor *xt = node->in[0], *gt = node->in[1];                                          \
    const T* x = xt->data;                                                                          \
    T* y = node->out[0]->data;                                                                      \
    int32_t r = c->r;                                                                               \
    for (int64_t pt = begin; pt < end; pt++) {                                                      \
      int64_t n = pt / c->n_points, q = pt % c->n_points;                                           \
      gs_taps taps[GS_MAX_DIMS];                                                                    \
      for (int32_t k = 0; k < r; k++) { /* grid's last axis runs x (last dim) first */              \
        double coord = gt->dtype == PFW_FLOAT32                                                     \
                           ? ((const float*)gt->data)[pt * r + (r - 1 - k)]                         \
                           : ((const double*)gt->data)[pt * r + (r - 1 - k)];                       \
        dim_taps(coord, xt->dims[2 + k], s, &taps[k]);                                              \
      }                                                                                             \
      int32_t combos = 1;                                                                           \
      for (int32_t k = 0; k < r; k++) combos *= taps[k].count;                                      \
      for (int64_t ch = 0; ch < c->channels; ch++) {                                                \
        const T* plane = x + (n * c->channels + ch) * c->in_size;                                   \
        double acc = 0;                                                                             \
        for (int32_t m = 0; m < combos; m++) {                                                      \
          int64_t off = 0;                                                                          \
          double w = 1;                                                                             \
          int32_t rest = m;                                                                         \
          for (int32_t k = r - 1; k >= 0 && off >= 0; k--) {                                        \
            int32_t j = rest % taps[k].count;                                                       \
            rest /= taps[k].count;                                                                  \
            int64_t idx = taps[k].index[j], stride = 1;                                             \
            for (int32_t l = k + 1; l < r; l++) stride *= xt->dims[2 + l];                          \
            off = idx < 0 ? -1 : off + idx * stride;                                                \
            w *= taps[k].weight[j];                                                                 \
          }                                                                                         \
          if (off >= 0) acc += w * (double)plane[off];                                              \
        }                                                                                           \
        y[(n * c->channels + ch) * c->out_size + q] = (T)acc;                                       \
      }                                                                                             \
    }                                                                                               \
  }
GS_POINTS(gs_points_f32, float)
GS_POINTS(gs_points_f64, double)

static pfw_status gs_run(pfw_node* node) {
  const pfw_tensor* x = node->in[0];
  const pfw_tensor* y = node->out[0];
  gs_ctx c = {node, x->rank - 2, 1, x->dims[1], 1, 1};
  for (int32_t k = 2; k < x->rank; k++) {
    c.in_size *= x->dims[k];
    c.out_size *= y->dims[k];
  }
  c.n_points = c.out_size;
  if (pfw_numel(y) == 0) return PFW_OK;
  pfw_parallel_for(node->pool, x->dims[0] * c.n_points, x->dtype == PFW_FLOAT32 ? gs_points_f32 : gs_points_f64, &c);
  return PFW_OK;
}

const pfw_op pfw_op_GridSample = {PFW_OP_GridSample, gs_prepare, gs_run, 0};
