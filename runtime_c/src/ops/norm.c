/* BatchNormalization in inference mode, float32:
 * Y = (X - mean) / sqrt(var + epsilon) * scale + B, per channel (dim 1).
 *
 * LayerNormalization, InstanceNormalization, GroupNormalization (opset 21),
 * LpNormalization and RMSNormalization (opset 23), float32/float64:
 * statistics of each normalised block in double, in a fixed order. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/vecmath.h"
#include "ops_common.h"

static pfw_status bn_prepare(pfw_node* node) {
  if (node->n_in != 5) return pfw_error(PFW_ERR_INVALID_MODEL, "expected 5 inputs, got %d", (int)node->n_in);
  if (node->n_out < 1) return pfw_error(PFW_ERR_INVALID_MODEL, "expected 1 output");
  if (pfw_attr_int(node, "training_mode", 0) != 0)
    return pfw_error(PFW_ERR_UNSUPPORTED, "attribute 'training_mode'=1 is not supported (inference only)");
  /* Before opset 9, spatial=0 meant statistics per (channel, position). */
  if (node->desc->version < 9 && pfw_attr_int(node, "spatial", 1) != 1)
    return pfw_error(PFW_ERR_UNSUPPORTED, "attribute 'spatial'=0 is not supported");
  for (int32_t j = 1; j < node->n_out; j++)
    if (node->out[j])
      return pfw_error(PFW_ERR_UNSUPPORTED, "output %d (training statistics) is not supported in inference mode",
                       (int)j);
  pfw_status st = pfw_check_input(node, 0, PFW_FLOAT32, -1);
  if (st != PFW_OK) return st;
  const pfw_tensor* X = node->in[0];
  if (X->rank < 2) return pfw_error(PFW_ERR_SHAPE, "input 0 has rank %d, expected >= 2 (N, C, ...)", (int)X->rank);
  static const char* names[5] = {"X", "scale", "B", "input_mean", "input_var"};
  for (int32_t i = 1; i < 5; i++) {
    st = pfw_check_input(node, i, PFW_FLOAT32, 1);
    if (st != PFW_OK) return st;
    if (node->in[i]->dims[0] != X->dims[1])
      return pfw_error(PFW_ERR_SHAPE, "input %d (%s) has %lld values, expected %lld (channels of X)", (int)i,
                       names[i], (long long)node->in[i]->dims[0], (long long)X->dims[1]);
  }
  return pfw_set_output(node->out[0], PFW_FLOAT32, X->rank, X->dims);
}

typedef struct bn_task {
  const float *x, *scale, *bias, *mean, *var;
  float* y;
  double eps;
  int64_t C, size;
} bn_task;

/* Planes [begin, end) of N*C, each folded to y = x * a + b; the fold is
 * done in double. Planes are independent: any split gives the same bits. */
static void bn_planes(void* p, int64_t begin, int64_t end) {
  const bn_task* t = p;
  for (int64_t plane = begin; plane < end; plane++) {
    int64_t c = plane % t->C;
    double a = t->scale[c] / sqrt((double)t->var[c] + t->eps);
    double b = t->bias[c] - t->mean[c] * a;
    const float* xp = t->x + plane * t->size;
    float* yp = t->y + plane * t->size;
    for (int64_t i = 0; i < t->size; i++) yp[i] = (float)(xp[i] * a + b);
  }
}

static pfw_status bn_run(pfw_node* node) {
  const pfw_tensor* X = node->in[0];
  bn_task t = {X->data, node->in[1]->data, node->in[2]->data, node->in[3]->data, node->in[4]->data,
               node->out[0]->data, pfw_attr_float(node, "epsilon", 1e-5f), X->dims[1], 1};
  for (int32_t k = 2; k < X->rank; k++) t.size *= X->dims[k];
  int64_t planes = X->dims[0] * t.C;
  /* Small tensors stay on the calling thread: waking the pool costs more. */
  pfw_parallel_for(planes * t.size >= PFW_PARALLEL_BLOCK ? node->pool : NULL, planes, bn_planes, &t);
  return PFW_OK;
}

/* Elementwise over input 0, so it may run in place. */
const pfw_op pfw_op_BatchNormalization = {PFW_OP_BatchNormalization, bn_prepare, bn_run, PFW_OPF_INPLACE};

/* ---- statistics-based normalisations -------------------------------------------- */

static double ld(const void* p, bool f32, int64_t i) { return f32 ? ((const float*)p)[i] : ((const double*)p)[i]; }
static void st(void* p, bool f32, int64_t i, double v) {
  if (f32) ((float*)p)[i] = (float)v;
  else ((double*)p)[i] = v;
}

/* Where a block's scale and bias come from: element i of the block uses
 * index off + (i / div) % mod. */
typedef struct affine {
  const void* scale;
  const void* bias; /* NULL: none */
  int64_t off, div, mod;
} affine;

/* Normalises `count` contiguous elements at x into y (which may alias x):
 * (x - mean) / sqrt(var + eps) * scale + bias. Returns mean and 1/stddev. */
static void normalize_block(const void* x, void* y, bool f32, int64_t base, int64_t count, double eps,
                            const affine* a, double* mean_out, double* inv_out) {
  double sum = 0, sq = 0;
  for (int64_t i = 0; i < count; i++) sum += ld(x, f32, base + i);
  double mean = count ? sum / (double)count : 0;
  for (int64_t i = 0; i < count; i++) {
    double d = ld(x, f32, base + i) - mean;
    sq += d * d;
  }
  double inv = 1 / sqrt((count ? sq / (double)count : 0) + eps);
  for (int64_t i = 0; i < count; i++) {
    int64_t k = a->off + (i / a->div) % a->mod;
    double v = (ld(x, f32, base + i) - mean) * inv * ld(a->scale, f32, k);
    st(y, f32, base + i, a->bias ? v + ld(a->bias, f32, k) : v);
  }
  if (mean_out) *mean_out = mean;
  if (inv_out) *inv_out = inv;
}

/* X float32/float64; inputs 1.. of X's dtype and `count` elements each
 * (absent allowed from input `first_optional`). */
static pfw_status norm_inputs(const pfw_node* node, int32_t first_optional, const char* const* names,
                              const int64_t* counts) {
  const pfw_tensor* x = node->in[0];
  pfw_status s0 = pfw_need_float(node, 0);
  if (s0 != PFW_OK) return s0;
  for (int32_t i = 1; names[i]; i++) {
    const pfw_tensor* t = i < node->n_in ? node->in[i] : NULL;
    if (!t) {
      if (i < first_optional) return pfw_error(PFW_ERR_INVALID_MODEL, "input %d (%s) is missing", (int)i, names[i]);
      continue;
    }
    pfw_status s = pfw_check_input(node, i, x->dtype, -1);
    if (s != PFW_OK) return s;
    if (pfw_numel(t) != counts[i])
      return pfw_error(PFW_ERR_SHAPE, "input %d (%s) has %lld values, expected %lld", (int)i, names[i],
                       (long long)pfw_numel(t), (long long)counts[i]);
  }
  return PFW_OK;
}

static pfw_status need_rank(const pfw_tensor* x, int32_t min_rank, const char* layout) {
  if (x->rank < min_rank)
    return pfw_error(PFW_ERR_SHAPE, "input 0 has rank %d, expected >= %d (%s)", (int)x->rank, (int)min_rank, layout);
  return PFW_OK;
}

static int64_t numel_from(const pfw_tensor* t, int32_t k) {
  int64_t n = 1;
  for (; k < t->rank; k++) n *= t->dims[k];
  return n;
}

/* ---- LayerNormalization: over dims [axis, rank); Scale and B have those
 * dims' element count (ONNX allows broadcasting them; this covers the
 * per-element and the single-value forms). Mean and InvStdDev outputs have
 * X's dims up to axis and 1 after, in X's dtype. */

static pfw_status ln_axis(const pfw_node* node, int32_t* axis) {
  return pfw_norm_axis(pfw_attr_int(node, "axis", -1), node->in[0]->rank, "attribute 'axis'", axis);
}

static pfw_status ln_prepare(pfw_node* node) {
  pfw_status s = pfw_need_io(node, 2, 3);
  if (s != PFW_OK) return s;
  const pfw_tensor* x = node->in[0];
  s = need_rank(x, 1, "...");
  int32_t axis;
  if (s == PFW_OK) s = ln_axis(node, &axis);
  if (s != PFW_OK) return s;
  int64_t n = numel_from(x, axis);
  static const char* const names[] = {"X", "Scale", "B", NULL};
  const pfw_tensor* scale = node->in[1];
  /* A one-value Scale/B is broadcast; check against its own count. */
  int64_t counts[3] = {0, scale && pfw_numel(scale) == 1 ? 1 : n, 0};
  counts[2] = node->n_in > 2 && node->in[2] && pfw_numel(node->in[2]) == 1 ? 1 : n;
  s = norm_inputs(node, 2, names, counts);
  if (s != PFW_OK) return s;
  if (node->n_in > 2 && node->in[2] && pfw_numel(node->in[2]) != pfw_numel(scale))
    return pfw_error(PFW_ERR_UNSUPPORTED, "input 2 (B) and input 1 (Scale) broadcast differently");
  s = pfw_set_output(node->out[0], x->dtype, x->rank, x->dims);
  int64_t sdims[PFW_MAX_RANK];
  for (int32_t k = 0; k < x->rank; k++) sdims[k] = k < axis ? x->dims[k] : 1;
  for (int32_t j = 1; j < node->n_out && j < 3 && s == PFW_OK; j++)
    if (node->out[j]) s = pfw_set_output(node->out[j], x->dtype, x->rank, sdims);
  return s;
}

typedef struct ln_task {
  const pfw_vec_kernels* k;
  const float *x, *scale, *bias;
  float *y, *mean, *inv; /* mean/inv NULL when not wanted */
  int64_t n;
  float eps;
} ln_task;

static void ln_rows(void* ctx, int64_t begin, int64_t end) {
  const ln_task* t = ctx;
  for (int64_t r = begin; r < end; r++)
    t->k->layernorm(t->x + r * t->n, t->y + r * t->n, t->n, t->scale, t->bias, t->eps, t->mean ? t->mean + r : NULL,
                    t->inv ? t->inv + r : NULL);
}

/* float32 with per-element Scale (and B) above the scalar ISA: vector rows,
 * rows split over the pool. False when the scalar loop must run. */
static bool ln_vec_run(pfw_node* node, int64_t n, int64_t outer, double eps) {
  const pfw_vec_kernels* k = pfw_vec_kernels_for(node->isa);
  const pfw_tensor* x = node->in[0];
  const pfw_tensor* b = node->n_in > 2 ? node->in[2] : NULL;
  if (!k || x->dtype != PFW_FLOAT32 || n == 0 || pfw_numel(node->in[1]) != n || (b && pfw_numel(b) != n))
    return false;
  pfw_tensor* mo = node->n_out > 1 ? node->out[1] : NULL;
  pfw_tensor* io = node->n_out > 2 ? node->out[2] : NULL;
  ln_task t = {k,        x->data,  node->in[1]->data, b ? b->data : NULL, node->out[0]->data, mo ? mo->data : NULL,
               io ? io->data : NULL, n, (float)eps};
  pfw_parallel_for(node->pool, outer, ln_rows, &t);
  return true;
}

static pfw_status ln_run(pfw_node* node) {
  const pfw_tensor* x = node->in[0];
  bool f32 = x->dtype == PFW_FLOAT32;
  int32_t axis;
  ln_axis(node, &axis);
  int64_t n = numel_from(x, axis), outer = n ? pfw_numel(x) / n : 0;
  const pfw_tensor* b = node->n_in > 2 ? node->in[2] : NULL;
  affine a = {node->in[1]->data, b ? b->data : NULL, 0, 1, pfw_numel(node->in[1])};
  double eps = pfw_attr_float(node, "epsilon", 1e-5f);
  if (ln_vec_run(node, n, outer, eps)) return PFW_OK;
  pfw_tensor* mo = node->n_out > 1 ? node->out[1] : NULL;
  pfw_tensor* io = node->n_out > 2 ? node->out[2] : NULL;
  for (int64_t o = 0; o < outer; o++) {
    double mean, inv;
    normalize_block(x->data, node->out[0]->data, f32, o * n, n, eps, &a, &mean, &inv);
    if (mo) st(mo->data, f32, o, mean);
    if (io) st(io->data, f32, o, inv);
  }
  return PFW_OK;
}

/* ---- InstanceNormalization: per (n, c) over the spatial dims; scale and B
 * per channel. GroupNormalization-21: per (n, group) over the group's
 * channels and the spatial dims; scale and bias per channel. */

static pfw_status channel_norm_prepare(pfw_node* node, int64_t groups) {
  pfw_status s = pfw_need_io(node, 3, 3);
  if (s != PFW_OK) return s;
  const pfw_tensor* x = node->in[0];
  s = need_rank(x, 2, "N, C, ...");
  if (s != PFW_OK) return s;
  static const char* const names[] = {"X", "scale", "B", NULL};
  int64_t c = x->dims[1], counts[3] = {0, c, c};
  s = norm_inputs(node, 3, names, counts);
  if (s != PFW_OK) return s;
  if (groups < 1 || c % groups)
    return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'num_groups' is %lld; it must divide the %lld channels",
                     (long long)groups, (long long)c);
  return pfw_set_output(node->out[0], x->dtype, x->rank, x->dims);
}

static pfw_status channel_norm_run(pfw_node* node, int64_t groups) {
  const pfw_tensor* x = node->in[0];
  bool f32 = x->dtype == PFW_FLOAT32;
  int64_t N = x->dims[0], C = x->dims[1], spatial = numel_from(x, 2), cg = C / groups;
  double eps = pfw_attr_float(node, "epsilon", 1e-5f);
  for (int64_t n = 0; n < N; n++)
    for (int64_t g = 0; g < groups; g++) {
      affine a = {node->in[1]->data, node->in[2]->data, g * cg, spatial ? spatial : 1, cg};
      normalize_block(x->data, node->out[0]->data, f32, (n * groups + g) * cg * spatial, cg * spatial, eps, &a,
                      NULL, NULL);
    }
  return PFW_OK;
}

static pfw_status in_prepare(pfw_node* node) {
  return channel_norm_prepare(node, node->in[0] && node->in[0]->rank >= 2 ? node->in[0]->dims[1] : 1);
}
static pfw_status in_run(pfw_node* node) { return channel_norm_run(node, node->in[0]->dims[1]); }

static pfw_status gn_prepare(pfw_node* node) {
  /* GroupNormalization-18 had scale and bias per group; ONNX deprecated it. */
  if (node->desc->version < 21)
    return pfw_error(PFW_ERR_UNSUPPORTED, "GroupNormalization-%d (per-group scale) is not supported; opset 21 is",
                     (int)node->desc->version);
  if (pfw_attr_int(node, "stash_type", 1) != 1)
    return pfw_error(PFW_ERR_UNSUPPORTED, "attribute 'stash_type' other than 1 (float32) is not supported");
  return channel_norm_prepare(node, pfw_attr_int(node, "num_groups", 0));
}
static pfw_status gn_run(pfw_node* node) { return channel_norm_run(node, pfw_attr_int(node, "num_groups", 1)); }

/* ---- LpNormalization: x / ||x||_p along `axis` (p = 1 or 2). A zero norm
 * gives 0, as ONNX Runtime. */

static pfw_status lp_prepare(pfw_node* node) {
  pfw_status s = pfw_float_unary_prepare(node);
  if (s != PFW_OK) return s;
  int64_t p = pfw_attr_int(node, "p", 2);
  if (p != 1 && p != 2) return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'p' is %lld; expected 1 or 2", (long long)p);
  int32_t axis;
  return pfw_norm_axis(pfw_attr_int(node, "axis", -1), node->in[0]->rank, "attribute 'axis'", &axis);
}

static pfw_status lp_run(pfw_node* node) {
  const pfw_tensor* x = node->in[0];
  bool f32 = x->dtype == PFW_FLOAT32, l1 = pfw_attr_int(node, "p", 2) == 1;
  int32_t axis;
  pfw_norm_axis(pfw_attr_int(node, "axis", -1), x->rank, "attribute 'axis'", &axis);
  int64_t n = x->dims[axis], inner = numel_from(x, axis + 1), outer = n && inner ? pfw_numel(x) / (n * inner) : 0;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < inner; j++) {
      int64_t base = o * n * inner + j;
      double norm = 0;
      for (int64_t i = 0; i < n; i++) {
        double v = ld(x->data, f32, base + i * inner);
        norm += l1 ? fabs(v) : v * v;
      }
      if (!l1) norm = sqrt(norm);
      for (int64_t i = 0; i < n; i++) {
        double v = ld(x->data, f32, base + i * inner);
        st(node->out[0]->data, f32, base + i * inner, norm == 0 ? 0 : v / norm);
      }
    }
  return PFW_OK;
}

/* ---- RMSNormalization (opset 23): x / sqrt(mean(x^2) + epsilon) * scale over
 * dims [axis, rank); scale broadcasts to those dims (right-aligned, each of
 * its dims 1 or equal), so element i of a block reads scale at a stride sum. */

typedef struct rms_state {
  int32_t axis, n; /* n: the normalised dims */
  int64_t dims[PFW_MAX_RANK], scale_strides[PFW_MAX_RANK];
} rms_state;

static pfw_status rms_prepare(pfw_node* node) {
  pfw_status s = pfw_need_io(node, 2, 2);
  if (s == PFW_OK) s = pfw_need_float(node, 0);
  if (s != PFW_OK) return s;
  const pfw_tensor* x = node->in[0];
  s = need_rank(x, 1, "...");
  if (s == PFW_OK) s = pfw_check_input(node, 1, x->dtype, -1);
  if (s != PFW_OK) return s;
  if (pfw_attr_int(node, "stash_type", 1) != 1)
    return pfw_error(PFW_ERR_UNSUPPORTED, "attribute 'stash_type' other than 1 (float32) is not supported");
  rms_state* r = calloc(1, sizeof *r);
  if (!r) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory");
  node->state = r;
  s = pfw_norm_axis(pfw_attr_int(node, "axis", -1), x->rank, "attribute 'axis'", &r->axis);
  if (s != PFW_OK) return s;
  const pfw_tensor* scale = node->in[1];
  r->n = x->rank - r->axis;
  if (scale->rank > r->n)
    return pfw_error(PFW_ERR_SHAPE, "input 1 (scale) has rank %d; it must broadcast to the %d normalised dims",
                     (int)scale->rank, (int)r->n);
  int64_t stride = 1;
  for (int32_t k = r->n - 1; k >= 0; k--) {
    int32_t a = k - (r->n - scale->rank); /* scale's own axis */
    int64_t want = x->dims[r->axis + k], d = a >= 0 ? scale->dims[a] : 1;
    if (d != 1 && d != want)
      return pfw_error(PFW_ERR_SHAPE, "input 1 (scale) dim %d is %lld; it must be 1 or %lld (input 0 dim %d)", (int)a,
                       (long long)d, (long long)want, (int)(r->axis + k));
    r->dims[k] = want;
    r->scale_strides[k] = d == 1 ? 0 : stride;
    stride *= d;
  }
  return pfw_set_output(node->out[0], x->dtype, x->rank, x->dims);
}

static pfw_status rms_run(pfw_node* node) {
  const rms_state* r = node->state;
  const pfw_tensor* x = node->in[0];
  bool f32 = x->dtype == PFW_FLOAT32;
  int64_t n = numel_from(x, r->axis), outer = n ? pfw_numel(x) / n : 0;
  double eps = pfw_attr_float(node, "epsilon", 1e-5f);
  for (int64_t o = 0; o < outer; o++) {
    double sq = 0;
    for (int64_t i = 0; i < n; i++) {
      double v = ld(x->data, f32, o * n + i);
      sq += v * v;
    }
    double inv = 1 / sqrt(sq / (double)n + eps);
    for (int64_t i = 0; i < n; i++) {
      int64_t rest = i, k_scale = 0;
      for (int32_t k = r->n - 1; k >= 0; k--) {
        k_scale += (rest % r->dims[k]) * r->scale_strides[k];
        rest /= r->dims[k];
      }
      st(node->out[0]->data, f32, o * n + i, ld(x->data, f32, o * n + i) * inv * ld(node->in[1]->data, f32, k_scale));
    }
  }
  return PFW_OK;
}

/* Each block's statistics are read before any of its elements is written
 * (normalize_block and lp_run make two passes), so all may run in place. */
const pfw_op pfw_op_LayerNormalization = {PFW_OP_LayerNormalization, ln_prepare, ln_run, PFW_OPF_INPLACE};
const pfw_op pfw_op_InstanceNormalization = {PFW_OP_InstanceNormalization, in_prepare, in_run, PFW_OPF_INPLACE};
const pfw_op pfw_op_GroupNormalization = {PFW_OP_GroupNormalization, gn_prepare, gn_run, PFW_OPF_INPLACE};
const pfw_op pfw_op_LpNormalization = {PFW_OP_LpNormalization, lp_prepare, lp_run, PFW_OPF_INPLACE};
const pfw_op pfw_op_RMSNormalization = {PFW_OP_RMSNormalization, rms_prepare, rms_run, PFW_OPF_INPLACE};
