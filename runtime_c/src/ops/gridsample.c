/* AffineGrid makes the sampling grid of an affine map; GridSample (opsets
 * 16, 20) samples with it. GridSample: Y[n, c, p] samples X[n, c] at the point
 * grid[n, p, :] (normalised to [-1, 1], last axis first) with nearest,
 * linear or cubic (Keys, A = -0.75) interpolation over 1 or more spatial
 * dims, padding zeros, border or reflection, align_corners or not. The
 * coordinates are float32, as ONNX's reference and ONNX Runtime compute them. */
#include <math.h>
#include <string.h>

#include "ops_common.h"

#define GS_MAX_DIMS (PFW_MAX_RANK - 2)

typedef enum { GS_NEAREST, GS_LINEAR, GS_CUBIC } gs_mode;
typedef enum { GS_ZEROS, GS_BORDER, GS_REFLECTION } gs_padding;

typedef struct {
  gs_mode mode;
  gs_padding padding;
  bool align_corners;
} gs_params;

static pfw_status gs_read(const pfw_node* node, gs_params* p) {
  const char* m = pfw_attr_string(node, "mode", node->desc->version < 20 ? "bilinear" : "linear");
  const char* pad = pfw_attr_string(node, "padding_mode", "zeros");
  if (!strcmp(m, "nearest")) p->mode = GS_NEAREST;
  else if (!strcmp(m, "linear") || !strcmp(m, "bilinear")) p->mode = GS_LINEAR;
  else if (!strcmp(m, "cubic") || !strcmp(m, "bicubic")) p->mode = GS_CUBIC;
  else return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'mode' is '%s'; expected nearest, linear or cubic", m);
  if (!strcmp(pad, "zeros")) p->padding = GS_ZEROS;
  else if (!strcmp(pad, "border")) p->padding = GS_BORDER;
  else if (!strcmp(pad, "reflection")) p->padding = GS_REFLECTION;
  else return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'padding_mode' is '%s'; expected zeros, border or reflection", pad);
  p->align_corners = pfw_attr_int(node, "align_corners", 0) != 0;
  return PFW_OK;
}

static pfw_status gs_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 2, 2);
  gs_params p;
  if (st == PFW_OK) st = gs_read(node, &p);
  if (st == PFW_OK) st = pfw_need_float(node, 0);
  if (st == PFW_OK && node->in[1]) st = pfw_need_float(node, 1);
  if (st != PFW_OK) return st;
  const pfw_tensor *x = node->in[0], *g = node->in[1];
  if (!g) return pfw_error(PFW_ERR_INVALID_MODEL, "input 1 (grid) is required");
  int32_t r = x->rank - 2;
  if (r < 1 || r > GS_MAX_DIMS)
    return pfw_error(PFW_ERR_SHAPE, "input 0 has rank %d; expected (N, C, 1 to %d spatial dims)", (int)x->rank,
                     GS_MAX_DIMS);
  if (g->rank != x->rank || g->dims[0] != x->dims[0] || g->dims[g->rank - 1] != r)
    return pfw_error(PFW_ERR_SHAPE, "input 1 (grid) must be (N, out dims..., %d) for input 0's rank %d", (int)r,
                     (int)x->rank);
  int64_t dims[PFW_MAX_RANK] = {x->dims[0], x->dims[1]};
  bool empty = x->dims[0] == 0 || x->dims[1] == 0;
  for (int32_t a = 0; a < r; a++) dims[2 + a] = g->dims[1 + a], empty = empty || g->dims[1 + a] == 0;
  /* Border and reflection padding repeat the input's pixels: an axis needs one. */
  for (int32_t a = 0; a < r && p.padding != GS_ZEROS && !empty; a++)
    if (x->dims[2 + a] == 0)
      return pfw_error(PFW_ERR_SHAPE, "input 0's spatial dimension %d is 0; padding_mode '%s' needs a pixel to repeat",
                       (int)a, p.padding == GS_BORDER ? "border" : "reflection");
  return pfw_set_output(node->out[0], x->dtype, x->rank, dims);
}

/* Folds x into [lo, hi] by reflecting at the borders, as the reference. */
static float reflect(float x, float lo, float hi) {
  float span = hi - lo;
  if (span <= 0) return lo;
  if (x < lo) {
    float d = lo - x;
    int64_t n = (int64_t)(d / span);
    float r = d - (float)n * span;
    return n % 2 == 0 ? lo + r : hi - r;
  }
  if (x > hi) {
    float d = x - hi;
    int64_t n = (int64_t)(d / span);
    float r = d - (float)n * span;
    return n % 2 == 0 ? hi - r : lo + r;
  }
  return x;
}

static double cubic_w(double t) { /* Keys kernel, A = -0.75 */
  const double A = -0.75;
  t = fabs(t);
  if (t <= 1) return ((A + 2) * t - (A + 3)) * t * t + 1;
  if (t < 2) return ((A * t - 5 * A) * t + 8 * A) * t - 4 * A;
  return 0;
}

/* Taps of one axis: up to 4 (index, weight); index -1 reads as 0 (zeros padding). */
static int axis_taps(const gs_params* p, float x, int64_t len, int64_t* idx, double* w) {
  float lo = p->align_corners ? 0.0f : -0.5f, hi = p->align_corners ? (float)(len - 1) : (float)len - 0.5f;
  if (p->mode == GS_NEAREST) x = rintf(x); /* half to even, as PyTorch */
  if (x != x) x = -1e9f; /* NaN reads as far outside (zeros), or the low border */
  /* Linear and nearest move an outside coordinate in first; cubic pads each tap
   * instead (PyTorch's grid_sampler_compute_source_index and ONNX Runtime; ONNX's
   * reference evaluator clamps the coordinate for cubic too). */
  if ((x < lo || x > hi) && p->mode != GS_CUBIC) {
    if (p->padding == GS_BORDER) x = x < 0 ? 0 : x > (float)(len - 1) ? (float)(len - 1) : x;
    else if (p->padding == GS_REFLECTION) x = reflect(x, lo, hi);
  }
  x = x < -1e9f ? -1e9f : x > 1e9f ? 1e9f : x; /* keeps the integer conversions below defined */
  int n = 1;
  int64_t first;
  if (p->mode == GS_NEAREST) {
    first = (int64_t)x;
    w[0] = 1;
  } else {
    double f = floor((double)x), t = (double)x - f;
    first = (int64_t)f - (p->mode == GS_CUBIC);
    n = p->mode == GS_CUBIC ? 4 : 2;
    for (int k = 0; k < n; k++) w[k] = p->mode == GS_CUBIC ? cubic_w(t + 1 - k) : (k == 0 ? 1 - t : t);
  }
  for (int k = 0; k < n; k++) {
    int64_t i = first + k;
    if (i < 0 || i >= len) {
      if (p->padding == GS_ZEROS) i = -1;
      else if (p->padding == GS_BORDER) i = i < 0 ? 0 : len - 1;
      else i = (int64_t)reflect((float)i, lo, hi);
      if (i >= len) i = len - 1; /* float rounding on an axis past 2^24 pixels */
      if (i < 0 && p->padding != GS_ZEROS) i = 0;
    }
    idx[k] = i;
  }
  return n;
}

/* [-1, 1] to pixel coordinates in float32 arithmetic, as the reference
 * computes them for a float32 grid (the last bit decides floor() at pixels). */
static float denormalize_f32(float v, int64_t len, bool align_corners) {
  return align_corners ? (v + 1.0f) / 2.0f * (float)(len - 1) : ((v + 1.0f) * (float)len - 1.0f) / 2.0f;
}

static double at(const pfw_tensor* t, int64_t i) {
  return t->dtype == PFW_FLOAT32 ? ((const float*)t->data)[i] : ((const double*)t->data)[i];
}

static pfw_status gs_run(pfw_node* node) {
  const pfw_tensor *x = node->in[0], *g = node->in[1];
  pfw_tensor* y = node->out[0];
  gs_params p;
  gs_read(node, &p);
  int32_t r = x->rank - 2;
  int64_t N = x->dims[0], C = x->dims[1], in_sz = 1, out_sz = 1, stride[GS_MAX_DIMS];
  for (int32_t a = r - 1; a >= 0; a--) stride[a] = in_sz, in_sz *= x->dims[2 + a];
  for (int32_t a = 0; a < r; a++) out_sz *= y->dims[2 + a];
  int64_t idx[GS_MAX_DIMS][4];
  double w[GS_MAX_DIMS][4];
  int n_taps[GS_MAX_DIMS];
  for (int64_t n = 0; n < N; n++)
    for (int64_t o = 0; o < out_sz; o++) {
      for (int32_t a = 0; a < r; a++) { /* grid's last axis holds the first spatial coordinate (x, y, z order) */
        double v = at(g, (n * out_sz + o) * r + (r - 1 - a));
        int64_t len = x->dims[2 + a];
        float coord = g->dtype == PFW_FLOAT32 ? denormalize_f32((float)v, len, p.align_corners)
                                              : (float)(p.align_corners ? (v + 1) / 2 * (double)(len - 1)
                                                                        : ((v + 1) * (double)len - 1) / 2);
        n_taps[a] = axis_taps(&p, coord, len, idx[a], w[a]);
      }
      for (int64_t c = 0; c < C; c++) {
        int64_t base = (n * C + c) * in_sz, t[GS_MAX_DIMS] = {0};
        double sum = 0;
        for (;;) { /* every combination of the axes' taps */
          double wt = 1;
          int64_t pos = base;
          for (int32_t a = 0; a < r && pos >= 0; a++) {
            wt *= w[a][t[a]];
            pos = idx[a][t[a]] < 0 ? -1 : pos + idx[a][t[a]] * stride[a];
          }
          if (pos >= 0) sum += wt * at(x, pos);
          int32_t a = r - 1;
          while (a >= 0 && ++t[a] == n_taps[a]) t[a--] = 0;
          if (a < 0) break;
        }
        int64_t out = (n * C + c) * out_sz + o;
        if (y->dtype == PFW_FLOAT32) ((float*)y->data)[out] = (float)sum;
        else ((double*)y->data)[out] = sum;
      }
    }
  return PFW_OK;
}

const pfw_op pfw_op_GridSample = {PFW_OP_GridSample, gs_prepare, gs_run, 0};

/* ---- AffineGrid ------------------------------------------------------------ */

/* size = (N, C, H, W) or (N, C, D, H, W), read while planning. */
static pfw_status affine_size(const pfw_node* node, int64_t* size, int32_t* n) {
  pfw_status st = pfw_input_ints(node, 1, "size", size, 5, n);
  if (st == PFW_OK && *n != 4 && *n != 5)
    st = pfw_error(PFW_ERR_SHAPE, "input 1 (size) has %d values; expected 4 (N, C, H, W) or 5 (N, C, D, H, W)", (int)*n);
  return st;
}

static pfw_status affine_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 2, 2);
  if (st == PFW_OK) st = pfw_need_float(node, 0);
  int64_t size[5];
  int32_t n;
  if (st == PFW_OK) st = affine_size(node, size, &n);
  if (st != PFW_OK) return st;
  const pfw_tensor* theta = node->in[0];
  int32_t r = n - 2; /* spatial dims: theta is (N, r, r + 1) */
  if (theta->rank != 3 || theta->dims[0] != size[0] || theta->dims[1] != r || theta->dims[2] != r + 1)
    return pfw_error(PFW_ERR_SHAPE, "input 0 (theta) must be (N=%lld, %d, %d)", (long long)size[0], (int)r, (int)r + 1);
  int64_t dims[5] = {size[0]};
  for (int32_t a = 0; a < r; a++) dims[1 + a] = size[2 + a];
  dims[1 + r] = r;
  return pfw_set_output(node->out[0], theta->dtype, r + 2, dims);
}

/* Base coordinate i of L along one axis: pixel centres in [-1, 1], or the
 * corners with align_corners. */
static double base_coord(int64_t i, int64_t len, bool align_corners) {
  if (align_corners) return len == 1 ? -1.0 : -1.0 + 2.0 * (double)i / (double)(len - 1);
  return (2.0 * (double)i + 1) / (double)len - 1;
}

static pfw_status affine_run(pfw_node* node) {
  const pfw_tensor* theta = node->in[0];
  pfw_tensor* y = node->out[0];
  int32_t r = y->rank - 2;
  bool align = pfw_attr_int(node, "align_corners", 0) != 0;
  int64_t N = y->dims[0], pts = 1, o = 0;
  for (int32_t a = 0; a < r; a++) pts *= y->dims[1 + a];
  for (int64_t n = 0; n < N; n++)
    for (int64_t p = 0; p < pts; p++) {
      double h[4] = {0, 0, 0, 1}; /* homogeneous (x, y[, z], 1): x runs along the last axis */
      for (int64_t a = r - 1, rest = p; a >= 0; a--) {
        int64_t len = y->dims[1 + a];
        h[r - 1 - a] = base_coord(rest % len, len, align);
        rest /= len;
      }
      h[r] = 1;
      for (int32_t i = 0; i < r; i++, o++) {
        double v = 0;
        for (int32_t j = 0; j <= r; j++) v += at(theta, (n * r + i) * (r + 1) + j) * h[j];
        if (y->dtype == PFW_FLOAT32) ((float*)y->data)[o] = (float)v;
        else ((double*)y->data)[o] = v;
      }
    }
  return PFW_OK;
}

const pfw_op pfw_op_AffineGrid = {PFW_OP_AffineGrid, affine_prepare, affine_run, 0};
