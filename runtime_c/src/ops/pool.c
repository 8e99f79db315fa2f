/* MaxPool, AveragePool, LpPool and the global pools (average, max, Lp),
 * float32, NCHW with 1 to 3 spatial dims. Windows too wide to walk one by
 * one run as one pass per axis (pool_wide.c). Each window clips its taps to the input (pfw_spatial_taps),
 * so padding is never read; tasks are whole (batch, channel) planes.
 * Above the scalar level, 1-D/2-D Max/AveragePool and GlobalMax/AveragePool
 * run the SIMD kernels of kernels/window_f32.h (equal to the loops here; see
 * there for the one difference of the global mean). */
#include <float.h>
#include <math.h>
#include <string.h>

#include "../kernels/window_f32.h"
#include "ops_common.h"

enum { POOL_MAX, POOL_AVG, POOL_LP };

/* LpPool's p (an int from LpPool-2, a float in LpPool-1), checked >= 1. */
static pfw_status lp_order(const pfw_node* node, double* p) {
  const pfw_attr* a = pfw_attr_find(node, "p");
  double v = !a ? 2.0 : a->type == PFW_ATTR_FLOAT ? (double)a->f : (double)a->i;
  if (!(v >= 1) || v > 1e6) return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'p' is %g; expected p >= 1", v);
  if (p) *p = v;
  return PFW_OK;
}

static pfw_status pool_common(pfw_node* node, int kind, pfw_spatial* g) {
  if (node->n_in != 1) return pfw_error(PFW_ERR_INVALID_MODEL, "expected 1 input, got %d", (int)node->n_in);
  if (node->n_out < 1) return pfw_error(PFW_ERR_INVALID_MODEL, "expected 1 output");
  const pfw_tensor* X = node->in[0];
  bool q8 = X && kind == POOL_MAX && (X->dtype == PFW_UINT8 || X->dtype == PFW_INT8);
  pfw_status st = q8 ? PFW_OK : pfw_check_input(node, 0, PFW_FLOAT32, -1);
  if (st != PFW_OK) return st;
  if (X->rank < 3 || X->rank > 2 + PFW_SPATIAL_MAX)
    return pfw_error(X->rank < 3 ? PFW_ERR_SHAPE : PFW_ERR_UNSUPPORTED,
                     "input 0 has rank %d; expected 3 to %d (N, C, 1 to %d spatial dims)", (int)X->rank,
                     2 + PFW_SPATIAL_MAX, PFW_SPATIAL_MAX);
  int32_t n = X->rank - 2, nk;
  const int64_t* ks = pfw_attr_ints(node, "kernel_shape", &nk);
  if (!ks) return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'kernel_shape' is required");
  if (nk != n)
    return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'kernel_shape' has %d values, expected %d", (int)nk, (int)n);
  int64_t ceil_mode = pfw_attr_int(node, "ceil_mode", 0);
  if (ceil_mode != 0 && ceil_mode != 1)
    return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'ceil_mode' is %lld, expected 0 or 1", (long long)ceil_mode);
  if (kind == POOL_AVG) {
    int64_t cip = pfw_attr_int(node, "count_include_pad", 0);
    if (cip != 0 && cip != 1)
      return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'count_include_pad' is %lld, expected 0 or 1",
                       (long long)cip);
  }
  if (kind == POOL_LP && (st = lp_order(node, NULL)) != PFW_OK) return st;
  return pfw_spatial_init(node, n, X->dims + 2, ks, ceil_mode != 0, g);
}

static pfw_status pool_prepare(pfw_node* node, int kind) {
  pfw_spatial g;
  pfw_status st = pool_common(node, kind, &g);
  if (st != PFW_OK) return st;
  if (kind == POOL_MAX && node->n_out > 1 && node->out[1])
    return pfw_error(PFW_ERR_UNSUPPORTED, "output 1 (Indices) of MaxPool is not supported");
  if (kind == POOL_MAX && pfw_attr_int(node, "storage_order", 0) != 0)
    return pfw_error(PFW_ERR_UNSUPPORTED, "attribute 'storage_order'=1 is not supported");
  const pfw_tensor* X = node->in[0];
  int32_t n = X->rank - 2;
  int64_t dims[2 + PFW_SPATIAL_MAX] = {X->dims[0], X->dims[1]};
  for (int32_t i = 0; i < n; i++) dims[2 + i] = g.out[PFW_SPATIAL_MAX - n + i];
  node->scratch_size = pfw_pool_wide_scratch(&g, node->num_threads, node->mem_limit);
  return pfw_set_output(node->out[0], X->dtype, X->rank, dims);
}

static pfw_status maxpool_prepare(pfw_node* node) { return pool_prepare(node, POOL_MAX); }
static pfw_status avgpool_prepare(pfw_node* node) { return pool_prepare(node, POOL_AVG); }
static pfw_status lppool_prepare(pfw_node* node) { return pool_prepare(node, POOL_LP); }

typedef struct pool_ctx {
  const float* x;
  float* y;
  pfw_spatial g;
  int kind;
  bool include_pad;
  double p; /* LpPool's order */
} pool_ctx;

static void pool_planes(void* p, int64_t begin, int64_t end) {
  const pool_ctx* c = p;
  const pfw_spatial* g = &c->g;
  int64_t Hin = g->in[1], Win = g->in[2];
  int64_t in_plane = g->in[0] * Hin * Win, out_plane = g->out[0] * g->out[1] * g->out[2];
  for (int64_t plane = begin; plane < end; plane++) {
    const float* x = c->x + plane * in_plane;
    float* y = c->y + plane * out_plane;
    int64_t slab = g->out[1] * g->out[2];
    bool pad = c->kind == POOL_AVG && c->include_pad; /* the padded taps count too */
    for (int64_t oz = 0; oz < g->out[0]; oz++) {
      int64_t z0, z1;
      if (oz > 0 && pfw_spatial_same_window(g, 0, oz, pad)) { /* windows spanning the input: one of each */
        memcpy(y + oz * slab, y + (oz - 1) * slab, (size_t)slab * sizeof(float));
        continue;
      }
      pfw_spatial_taps(g, 0, oz, &z0, &z1);
      for (int64_t oy = 0; oy < g->out[1]; oy++) {
        int64_t y0, y1;
        float* yr = y + (oz * g->out[1] + oy) * g->out[2];
        if (oy > 0 && pfw_spatial_same_window(g, 1, oy, pad)) {
          memcpy(yr, yr - g->out[2], (size_t)g->out[2] * sizeof(float));
          continue;
        }
        pfw_spatial_taps(g, 1, oy, &y0, &y1);
        for (int64_t ox = 0; ox < g->out[2]; ox++) {
          int64_t x0, x1;
          if (ox > 0 && pfw_spatial_same_window(g, 2, ox, pad)) {
            yr[ox] = yr[ox - 1];
            continue;
          }
          pfw_spatial_taps(g, 2, ox, &x0, &x1);
          int64_t bz = oz * g->s[0] - g->pb[0], by = oy * g->s[1] - g->pb[1], bx = ox * g->s[2] - g->pb[2];
          float mx = -FLT_MAX; /* what ONNX Runtime yields for a window with no input */
          double sum = 0;
          for (int64_t tz = z0; tz < z1 && x0 < x1; tz++) /* no column tap inside: nothing to walk */
            for (int64_t ty = y0; ty < y1; ty++) {
              const float* row = x + ((bz + tz * g->d[0]) * Hin + by + ty * g->d[1]) * Win + bx;
              for (int64_t tx = x0; tx < x1; tx++) {
                float v = row[tx * g->d[2]];
                if (v > mx) mx = v;
                sum += c->kind == POOL_LP ? pow(fabs((double)v), c->p) : v;
              }
            }
          float* out = y + (oz * g->out[1] + oy) * g->out[2] + ox;
          if (c->kind == POOL_MAX) {
            *out = mx;
          } else if (c->kind == POOL_LP) {
            *out = (float)pow(sum, 1.0 / c->p); /* padding adds |0|^p = 0 */
          } else {
            int64_t cnt = c->include_pad
                              ? pfw_spatial_padded_taps(g, 0, oz) * pfw_spatial_padded_taps(g, 1, oy) *
                                    pfw_spatial_padded_taps(g, 2, ox)
                              : (z1 - z0) * (y1 - y0) * (x1 - x0);
            *out = cnt > 0 ? (float)(sum / (double)cnt) : NAN; /* mean of nothing */
          }
        }
      }
    }
  }
}

/* MaxPool of uint8/int8 (quantized) planes [begin, end): the max of the
 * taps inside the input, the dtype's lowest value for a window with none.
 * Max commutes with the monotone quantization, so this is the float
 * MaxPool of the dequantized input, quantized with the same parameters. */
typedef struct q8_ctx {
  const void* x;
  void* y;
  bool is_signed;
  pfw_spatial g;
} q8_ctx;

/* Input row (tz, ty) of the window of output row (oz, oy) of plane x. */
static const uint8_t* q8_input_row(const pfw_spatial* g, const uint8_t* x, int64_t oz, int64_t oy, int64_t tz,
                                   int64_t ty) {
  int64_t iz = oz * g->s[0] - g->pb[0] + tz * g->d[0], iy = oy * g->s[1] - g->pb[1] + ty * g->d[1];
  return x + (iz * g->in[1] + iy) * g->in[2];
}

/* row[i] = max(row[i], x[i * s] ^ flip) for i < n; strides 1 and 2 (most
 * pools) get loops of their own, as a constant stride vectorises. */
static inline void q8_max_into(uint8_t* row, const uint8_t* x, int64_t s, int64_t n, uint8_t flip) {
  if (s == 1) {
    for (int64_t i = 0; i < n; i++) row[i] = (uint8_t)(x[i] ^ flip) > row[i] ? (uint8_t)(x[i] ^ flip) : row[i];
  } else if (s == 2) {
    for (int64_t i = 0; i < n; i++)
      row[i] = (uint8_t)(x[2 * i] ^ flip) > row[i] ? (uint8_t)(x[2 * i] ^ flip) : row[i];
  } else {
    for (int64_t i = 0; i < n; i++)
      row[i] = (uint8_t)(x[i * s] ^ flip) > row[i] ? (uint8_t)(x[i * s] ^ flip) : row[i];
  }
}

#define Q8_SPAN 4096 /* input columns q8_row_by_tap reduces over window rows first */

/* Output row (oz, oy), columns [j0, j0 + n), as running maxima in row
 * (values compared as uint8 after int8 ^ 0x80, which keeps their order).
 * Tap-major: for each column tap in [ta, tb), the outputs whose input column
 * is inside take a max (a loop the compiler vectorises). */
static void q8_row_by_tap(const q8_ctx* c, const uint8_t* x, int64_t oz, int64_t oy, int64_t j0, int64_t n,
                          int64_t ta, int64_t tb, uint8_t* row) {
  const pfw_spatial* g = &c->g;
  int64_t Win = g->in[2], s = g->s[2], z0, z1, y0, y1;
  uint8_t flip = c->is_signed ? 0x80 : 0;
  pfw_spatial_taps(g, 0, oz, &z0, &z1);
  pfw_spatial_taps(g, 1, oy, &y0, &y1);
  /* Several window rows: their column-wise max first (contiguous, so it
   * vectorises), then the strided taps once over it instead of per row. */
  int64_t c0 = j0 * s + ta * g->d[2] - g->pb[2], c1 = (j0 + n - 1) * s + (tb - 1) * g->d[2] - g->pb[2] + 1;
  c0 = c0 < 0 ? 0 : c0;
  c1 = c1 > Win ? Win : c1;
  uint8_t v[Q8_SPAN];
  bool merged = (z1 - z0) * (y1 - y0) > 1 && c1 > c0 && c1 - c0 <= Q8_SPAN;
  if (merged) {
    memset(v, 0, (size_t)(c1 - c0));
    for (int64_t tz = z0; tz < z1; tz++)
      for (int64_t ty = y0; ty < y1; ty++) q8_max_into(v, q8_input_row(g, x, oz, oy, tz, ty) + c0, 1, c1 - c0, flip);
    z1 = z0 + 1, y1 = y0 + 1; /* one pass over v, whose values are flipped already */
  }
  for (int64_t tz = z0; tz < z1; tz++)
    for (int64_t ty = y0; ty < y1; ty++) {
      const uint8_t* xr = merged ? NULL : q8_input_row(g, x, oz, oy, tz, ty);
      for (int64_t tx = ta; tx < tb; tx++) {
        int64_t off = tx * g->d[2] - g->pb[2]; /* input column of output ox: ox*s + off */
        int64_t lo = off >= 0 ? 0 : (-off + s - 1) / s;
        int64_t hi = Win - 1 - off < 0 ? 0 : (Win - 1 - off) / s + 1;
        if (lo < j0) lo = j0;
        if (hi > j0 + n) hi = j0 + n;
        if (hi <= lo) continue;
        if (merged) q8_max_into(row + (lo - j0), v + (lo * s + off - c0), s, hi - lo, 0);
        else q8_max_into(row + (lo - j0), xr + lo * s + off, s, hi - lo, flip);
      }
    }
}

/* The same a column at a time, over each column's own taps: for windows
 * far apart (a stride and kernel much wider than the input), where most
 * taps of [ta, tb) reach no output and the tap-major walk would be long. */
static void q8_row_by_column(const q8_ctx* c, const uint8_t* x, int64_t oz, int64_t oy, int64_t j0, int64_t n,
                             uint8_t* row) {
  const pfw_spatial* g = &c->g;
  int64_t z0, z1, y0, y1;
  uint8_t flip = c->is_signed ? 0x80 : 0;
  pfw_spatial_taps(g, 0, oz, &z0, &z1);
  pfw_spatial_taps(g, 1, oy, &y0, &y1);
  for (int64_t ox = j0; ox < j0 + n; ox++) {
    int64_t x0, x1, bx = ox * g->s[2] - g->pb[2];
    if (ox > j0 && pfw_spatial_same_window(g, 2, ox, false)) {
      row[ox - j0] = row[ox - j0 - 1];
      continue;
    }
    pfw_spatial_taps(g, 2, ox, &x0, &x1);
    for (int64_t tz = z0; tz < z1 && x0 < x1; tz++)
      for (int64_t ty = y0; ty < y1; ty++) {
        const uint8_t* xr = q8_input_row(g, x, oz, oy, tz, ty);
        for (int64_t tx = x0; tx < x1; tx++) {
          uint8_t v = xr[bx + tx * g->d[2]] ^ flip;
          row[ox - j0] = v > row[ox - j0] ? v : row[ox - j0];
        }
      }
  }
}

static void maxpool_q8_planes(void* p, int64_t begin, int64_t end) {
  const q8_ctx* c = p;
  const pfw_spatial* g = &c->g;
  int64_t in_plane = g->in[0] * g->in[1] * g->in[2], Wo = g->out[2];
  int64_t out_plane = g->out[0] * g->out[1] * Wo, ta, tb, unused;
  uint8_t flip = c->is_signed ? 0x80 : 0, row[1024];
  /* The column taps any output reads: window starts grow with ox, so the
   * last output has the lowest first tap and the first the highest last.
   * A window wholly in the padding reports an empty range that may start
   * past the kernel (a left pad wider than it): the taps stop at k. */
  pfw_spatial_taps(g, 2, Wo - 1, &ta, &unused);
  pfw_spatial_taps(g, 2, 0, &unused, &tb);
  if (tb > g->k[2]) tb = g->k[2];
  if (ta > tb) ta = tb;
  bool by_tap = tb - ta <= g->in[2];
  for (int64_t plane = begin; plane < end; plane++) {
    const uint8_t* x = (const uint8_t*)c->x + plane * in_plane;
    uint8_t* y = (uint8_t*)c->y + plane * out_plane;
    for (int64_t oz = 0; oz < g->out[0]; oz++)
      for (int64_t oy = 0; oy < g->out[1]; oy++) {
        uint8_t* yr = y + (oz * g->out[1] + oy) * Wo;
        /* Windows spanning the input: the row (or slab) before is this one. */
        if (oz > 0 && pfw_spatial_same_window(g, 0, oz, false)) {
          memcpy(yr, yr - g->out[1] * Wo, (size_t)Wo);
          continue;
        }
        if (oy > 0 && pfw_spatial_same_window(g, 1, oy, false)) {
          memcpy(yr, yr - Wo, (size_t)Wo);
          continue;
        }
        for (int64_t j0 = 0; j0 < Wo; j0 += 1024) {
          int64_t n = Wo - j0 < 1024 ? Wo - j0 : 1024;
          memset(row, 0, (size_t)n); /* the lowest value, also for a window with no input */
          if (by_tap) q8_row_by_tap(c, x, oz, oy, j0, n, ta, tb, row);
          else q8_row_by_column(c, x, oz, oy, j0, n, row);
          for (int64_t j = 0; j < n; j++) yr[j0 + j] = row[j] ^ flip;
        }
      }
  }
}

static void pool_run_simd(const pfw_window_kernels* k, const pool_ctx* r, pfw_node* node) {
  pfw_window_job c;
  memset(&c, 0, sizeof c); /* no weights, no activation */
  c.row = k->pool;
  c.g = r->g;
  c.x = r->x;
  c.y = r->y;
  c.C = 1;
  c.base.is_max = r->kind == POOL_MAX;
  c.base.include_pad = r->include_pad;
  pfw_window_run(&c, node->pool, node->in[0]->dims[0] * node->in[0]->dims[1], node->num_threads);
}

static pfw_status pool_run(pfw_node* node, int kind) {
  const pfw_tensor* X = node->in[0];
  pool_ctx c;
  int32_t n = X->rank - 2, nk;
  const int64_t* ks = pfw_attr_ints(node, "kernel_shape", &nk);
  /* Same attributes and shapes as at prepare, where this succeeded. */
  pfw_spatial_init(node, n, X->dims + 2, ks, pfw_attr_int(node, "ceil_mode", 0) != 0, &c.g);
  if (node->scratch_size && node->scratch && pfw_numel(node->out[0])) { /* windows too wide to walk one by one */
    pfw_pool_wide w = {c.g, kind == POOL_MAX ? PFW_POOL_WIDE_MAX : kind == POOL_AVG ? PFW_POOL_WIDE_AVG : PFW_POOL_WIDE_LP,
                       pfw_attr_int(node, "count_include_pad", 0) != 0, 2, X->dtype != PFW_FLOAT32,
                       X->dtype == PFW_INT8 ? 0x80 : 0};
    if (kind == POOL_LP) lp_order(node, &w.p);
    pfw_pool_wide_run(&w, X->data, node->out[0]->data, X->dims[0] * X->dims[1], node->scratch, node->scratch_size,
                      node->pool, node->num_threads);
    return PFW_OK;
  }
  if (X->dtype != PFW_FLOAT32) {
    q8_ctx q = {X->data, node->out[0]->data, X->dtype == PFW_INT8, c.g};
    if (pfw_numel(node->out[0])) pfw_parallel_for(node->pool, X->dims[0] * X->dims[1], maxpool_q8_planes, &q);
    return PFW_OK;
  }
  c.x = X->data;
  c.y = node->out[0]->data;
  c.kind = kind;
  c.include_pad = pfw_attr_int(node, "count_include_pad", 0) != 0;
  c.p = 2;
  if (kind == POOL_LP) lp_order(node, &c.p);
  if (pfw_numel(node->out[0]) == 0) return PFW_OK;
  const pfw_window_kernels* k = pfw_window_kernels_for(node->isa);
  if (k && kind != POOL_LP && n <= 2) {
    pool_run_simd(k, &c, node);
    return PFW_OK;
  }
  pfw_parallel_for(node->pool, X->dims[0] * X->dims[1], pool_planes, &c);
  return PFW_OK;
}

static pfw_status maxpool_run(pfw_node* node) { return pool_run(node, POOL_MAX); }
static pfw_status avgpool_run(pfw_node* node) { return pool_run(node, POOL_AVG); }
static pfw_status lppool_run(pfw_node* node) { return pool_run(node, POOL_LP); }

const pfw_op pfw_op_MaxPool = {PFW_OP_MaxPool, maxpool_prepare, maxpool_run, 0};
const pfw_op pfw_op_AveragePool = {PFW_OP_AveragePool, avgpool_prepare, avgpool_run, 0};
const pfw_op pfw_op_LpPool = {PFW_OP_LpPool, lppool_prepare, lppool_run, 0};

/* ---- GlobalAveragePool, GlobalMaxPool, GlobalLpPool ----------------------------- */

static pfw_status gap_prepare(pfw_node* node) {
  if (node->n_in != 1) return pfw_error(PFW_ERR_INVALID_MODEL, "expected 1 input, got %d", (int)node->n_in);
  if (node->n_out < 1) return pfw_error(PFW_ERR_INVALID_MODEL, "expected 1 output");
  pfw_status st = pfw_check_input(node, 0, PFW_FLOAT32, -1);
  if (st != PFW_OK) return st;
  const pfw_tensor* X = node->in[0];
  if (X->rank < 3)
    return pfw_error(PFW_ERR_SHAPE, "input 0 has rank %d; expected >= 3 (N, C, spatial dims)", (int)X->rank);
  int64_t dims[PFW_MAX_RANK];
  for (int32_t k = 0; k < X->rank; k++) dims[k] = k < 2 ? X->dims[k] : 1;
  return pfw_set_output(node->out[0], PFW_FLOAT32, X->rank, dims);
}

static pfw_status global_lp_prepare(pfw_node* node) {
  pfw_status st = lp_order(node, NULL);
  return st == PFW_OK ? gap_prepare(node) : st;
}

typedef struct global_ctx {
  pfw_global_pool_fn fn;
  const float* x;
  float* y;
  int64_t size;
  bool is_max;
} global_ctx;

static void global_planes(void* p, int64_t begin, int64_t end) {
  const global_ctx* c = p;
  for (int64_t i = begin; i < end; i++) c->y[i] = c->fn(c->x + i * c->size, c->size, c->is_max);
}

/* One value per (n, c) plane: the mean, the max (-FLT_MAX for an empty
 * plane, as MaxPool) or the Lp norm. */
static pfw_status global_pool_run(pfw_node* node, int kind) {
  const pfw_tensor* X = node->in[0];
  int64_t planes = X->dims[0] * X->dims[1], size = 1;
  for (int32_t k = 2; k < X->rank; k++) size *= X->dims[k];
  double order = 2;
  if (kind == POOL_LP) lp_order(node, &order);
  const float* x = X->data;
  float* y = node->out[0]->data;
  const pfw_window_kernels* k = pfw_window_kernels_for(node->isa);
  if (k && kind != POOL_LP) {
    global_ctx c = {k->global_pool, x, y, size, kind == POOL_MAX};
    pfw_parallel_for(node->pool, planes, global_planes, &c);
    return PFW_OK;
  }
  for (int64_t p = 0; p < planes; p++) {
    double sum = 0;
    float mx = -FLT_MAX;
    for (int64_t i = 0; i < size; i++) {
      float v = x[p * size + i];
      if (v > mx) mx = v;
      sum += kind == POOL_LP ? pow(fabs((double)v), order) : v;
    }
    if (kind == POOL_MAX) y[p] = mx;
    else if (kind == POOL_LP) y[p] = (float)pow(sum, 1.0 / order);
    else y[p] = size > 0 ? (float)(sum / (double)size) : NAN;
  }
  return PFW_OK;
}

static pfw_status gap_run(pfw_node* node) { return global_pool_run(node, POOL_AVG); }
static pfw_status gmp_run(pfw_node* node) { return global_pool_run(node, POOL_MAX); }
static pfw_status glp_run(pfw_node* node) { return global_pool_run(node, POOL_LP); }

const pfw_op pfw_op_GlobalAveragePool = {PFW_OP_GlobalAveragePool, gap_prepare, gap_run, 0};
const pfw_op pfw_op_GlobalMaxPool = {PFW_OP_GlobalMaxPool, gap_prepare, gmp_run, 0};
const pfw_op pfw_op_GlobalLpPool = {PFW_OP_GlobalLpPool, global_lp_prepare, glp_run, 0};
