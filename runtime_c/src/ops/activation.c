/* Softmax, LogSoftmax, Hardmax. Opset >= 13: over the single dimension
 * `axis` (default -1). Earlier opsets: the input is seen as 2-D
 * [prod(dims[:axis]), prod(dims[axis:])] (axis default 1) and each row is
 * normalised.
 *
 * Also the parameterised element-wise activations (LeakyRelu, Elu, Selu,
 * Celu, HardSigmoid, HardSwish, ThresholdedRelu, Mish, Softplus, Softsign,
 * Swish, Shrink, Gelu) on the map engine of unary.c, and Clip. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "../kernels/vecmath.h"
#include "ops_common.h"

void pfw_softmax_geometry(const pfw_node* node, int64_t* outer, int64_t* n, int64_t* inner) {
  const pfw_tensor* x = node->in[0];
  bool v13 = node->desc->version >= 13;
  int32_t axis = 0;
  pfw_norm_axis(pfw_attr_int(node, "axis", v13 ? -1 : 1), x->rank, "attribute 'axis'", &axis);
  *outer = *n = *inner = 1;
  for (int32_t k = 0; k < x->rank; k++) {
    if (k < axis) *outer *= x->dims[k];
    else if (k == axis || !v13) *n *= x->dims[k];
    else *inner *= x->dims[k];
  }
}

static pfw_status softmax_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, 1);
  if (st != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  if (x->dtype == PFW_FLOAT16 || x->dtype == PFW_BFLOAT16) st = pfw_set_output(node->out[0], x->dtype, x->rank, x->dims);
  else st = pfw_float_unary_prepare(node);
  if (st != PFW_OK) return st;
  if (x->rank == 0) return pfw_error(PFW_ERR_SHAPE, "input 0 is a scalar; Softmax needs rank >= 1");
  int32_t axis;
  /* The output shape was set above; this only validates the axis. */
  return pfw_norm_axis(pfw_attr_int(node, "axis", node->desc->version >= 13 ? -1 : 1), x->rank,
                       "attribute 'axis'", &axis);
}

enum { SM_SOFT, SM_LOG, SM_HARD };

/* Subtracting the maximum keeps exp() in range; the sum is taken in double.
 * Reads of a column all happen before its writes (LogSoftmax reads x[i]
 * just before writing y[i]), so y may alias x. Hardmax marks the first
 * maximum, as ONNX specifies. */
#define SOFTMAX_COLUMN(T, EXP, mode)                                            \
  do {                                                                          \
    const T* xc = (const T*)x + base;                                           \
    T* yc = (T*)y + base;                                                       \
    T m = xc[0];                                                                \
    int64_t arg = 0;                                                            \
    for (int64_t i = 1; i < n; i++)                                             \
      if (xc[i * inner] > m) m = xc[i * inner], arg = i;                        \
    if (mode == SM_HARD) {                                                      \
      for (int64_t i = 0; i < n; i++) yc[i * inner] = (T)(i == arg);            \
      break;                                                                    \
    }                                                                           \
    double sum = 0;                                                             \
    for (int64_t i = 0; i < n; i++) {                                           \
      T e = EXP(xc[i * inner] - m);                                             \
      if (mode == SM_SOFT) yc[i * inner] = e;                                   \
      sum += e;                                                                 \
    }                                                                           \
    if (mode == SM_SOFT) {                                                      \
      for (int64_t i = 0; i < n; i++) yc[i * inner] = (T)(yc[i * inner] / sum); \
    } else {                                                                    \
      double ls = log(sum);                                                     \
      for (int64_t i = 0; i < n; i++) yc[i * inner] = (T)((xc[i * inner] - m) - ls); \
    }                                                                           \
  } while (0)

/* A float16/bfloat16 column in float32 arithmetic with a double sum, as the
 * float32 one; the exponentials are recomputed in the last pass instead of
 * being kept in the 16-bit output, so nothing is rounded twice and y may
 * still alias x. */
static float h16(uint16_t v, bool bf) { return bf ? pfw_bf16_to_float(v) : pfw_half_to_float(v); }
static uint16_t to16(float v, bool bf) { return bf ? pfw_float_to_bf16(v) : pfw_float_to_half(v); }

static void softmax_column_16(const uint16_t* x, uint16_t* y, int64_t n, int64_t inner, int mode, bool bf) {
  float m = h16(x[0], bf);
  int64_t arg = 0;
  for (int64_t i = 1; i < n; i++)
    if (h16(x[i * inner], bf) > m) m = h16(x[i * inner], bf), arg = i;
  if (mode == SM_HARD) {
    for (int64_t i = 0; i < n; i++) y[i * inner] = to16(i == arg ? 1.0f : 0.0f, bf);
    return;
  }
  double sum = 0;
  for (int64_t i = 0; i < n; i++) sum += expf(h16(x[i * inner], bf) - m);
  double ls = log(sum);
  for (int64_t i = 0; i < n; i++) {
    float d = h16(x[i * inner], bf) - m;
    y[i * inner] = to16(mode == SM_SOFT ? (float)(expf(d) / sum) : (float)(d - ls), bf);
  }
}

typedef struct softmax_task {
  const pfw_vec_kernels* k;
  const float* x;
  float* y;
  int64_t n;
  bool log_softmax;
} softmax_task;

static void softmax_rows(void* ctx, int64_t begin, int64_t end) {
  const softmax_task* t = ctx;
  for (int64_t r = begin; r < end; r++) t->k->softmax(t->x + r * t->n, t->y + r * t->n, t->n, t->log_softmax);
}

static pfw_status softmax_family_run(pfw_node* node, int mode) {
  const void* x = node->in[0]->data;
  void* y = node->out[0]->data;
  int64_t outer, n, inner;
  pfw_softmax_geometry(node, &outer, &n, &inner);
  if (n == 0) return PFW_OK;
  bool f32 = node->in[0]->dtype == PFW_FLOAT32;
  const pfw_vec_kernels* k = pfw_vec_kernels_for(node->isa);
  /* Contiguous float32 rows above the scalar ISA: vector rows, rows split
   * over the pool (each row is computed the same whichever thread runs it). */
  if (k && f32 && inner == 1 && mode != SM_HARD) {
    softmax_task t = {k, x, y, n, mode == SM_LOG};
    pfw_parallel_for(node->pool, outer, softmax_rows, &t);
    return PFW_OK;
  }
  for (int64_t o = 0; o < outer; o++) {
    for (int64_t j = 0; j < inner; j++) {
      int64_t base = o * n * inner + j;
      pfw_dtype dt = node->in[0]->dtype;
      if (dt == PFW_FLOAT16 || dt == PFW_BFLOAT16)
        softmax_column_16((const uint16_t*)x + base, (uint16_t*)y + base, n, inner, mode, dt == PFW_BFLOAT16);
      else if (f32) SOFTMAX_COLUMN(float, expf, mode);
      else SOFTMAX_COLUMN(double, exp, mode);
    }
  }
  return PFW_OK;
}

static pfw_status softmax_run(pfw_node* node) { return softmax_family_run(node, SM_SOFT); }
static pfw_status logsoftmax_run(pfw_node* node) { return softmax_family_run(node, SM_LOG); }
static pfw_status hardmax_run(pfw_node* node) { return softmax_family_run(node, SM_HARD); }

const pfw_op pfw_op_Softmax = {PFW_OP_Softmax, softmax_prepare, softmax_run, PFW_OPF_INPLACE};
const pfw_op pfw_op_LogSoftmax = {PFW_OP_LogSoftmax, softmax_prepare, logsoftmax_run, PFW_OPF_INPLACE};
const pfw_op pfw_op_Hardmax = {PFW_OP_Hardmax, softmax_prepare, hardmax_run, PFW_OPF_INPLACE};

/* ---- element-wise activations ---------------------------------------------- */

/* log(1 + e^x) without overflow for large x. */
static double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

/* Comparisons written so that NaN falls through to the expression that
 * propagates it. */
static double f_leakyrelu(double x, const double* p) { return x < 0 ? p[0] * x : x; }
static double f_elu(double x, const double* p) { return x < 0 ? p[0] * expm1(x) : x; }
static double f_selu(double x, const double* p) { return p[1] * (x <= 0 ? p[0] * expm1(x) : x); }
static double f_celu(double x, const double* p) { return x < 0 ? p[0] * expm1(x / p[0]) : x; }
static double f_hardsigmoid(double x, const double* p) { return fmax(0.0, fmin(1.0, p[0] * x + p[1])); }
static double f_hardswish(double x, const double* p) { (void)p; return x * fmax(0.0, fmin(1.0, x / 6 + 0.5)); }
static double f_thresholdedrelu(double x, const double* p) { return x > p[0] ? x : 0.0; }
static double f_mish(double x, const double* p) { (void)p; return x * tanh(softplus(x)); }
static double f_softplus(double x, const double* p) { (void)p; return softplus(x); }
static double f_softsign(double x, const double* p) { (void)p; return x / (1 + fabs(x)); }
static double f_swish(double x, const double* p) { return x / (1 + exp(-p[0] * x)); }
static double f_shrink(double x, const double* p) { return x < -p[0] ? x + p[1] : x > p[0] ? x - p[1] : x != x ? x : 0.0; }
static double f_gelu(double x, const double* p) { (void)p; return 0.5 * x * (1 + erf(x * 0.7071067811865476 /* 1 / sqrt(2) */)); }
static double f_gelu_tanh(double x, const double* p) {
  (void)p;
  const double k = 0.7978845608028654; /* sqrt(2 / pi) */
  return 0.5 * x * (1 + tanh(k * (x + 0.044715 * x * x * x)));
}

/* An activation with up to two float attributes (name and ONNX default). */
#define ACT_OP(Name, fn, a0, d0, a1, d1)                                              \
  static pfw_status Name##_prepare(pfw_node* node) {                                  \
    double p[2] = {pfw_attr_float(node, a0, d0), pfw_attr_float(node, a1, d1)};       \
    return pfw_map_prepare(node, fn, p, 2);                                           \
  }                                                                                   \
  const pfw_op pfw_op_##Name = {PFW_OP_##Name, Name##_prepare, pfw_map_run, PFW_OPF_INPLACE};

ACT_OP(LeakyRelu, f_leakyrelu, "alpha", 0.01f, "", 0)
ACT_OP(Elu, f_elu, "alpha", 1.0f, "", 0)
ACT_OP(Selu, f_selu, "alpha", 1.67326319217681884765625f, "gamma", 1.05070102214813232421875f)
ACT_OP(HardSigmoid, f_hardsigmoid, "alpha", 0.2f, "beta", 0.5f)
ACT_OP(ThresholdedRelu, f_thresholdedrelu, "alpha", 1.0f, "", 0)
ACT_OP(HardSwish, f_hardswish, "", 0, "", 0)
ACT_OP(Mish, f_mish, "", 0, "", 0)
ACT_OP(Softplus, f_softplus, "", 0, "", 0)
ACT_OP(Softsign, f_softsign, "", 0, "", 0)
ACT_OP(Swish, f_swish, "alpha", 1.0f, "", 0)
ACT_OP(Shrink, f_shrink, "lambd", 0.5f, "bias", 0.0f)

/* Celu divides by alpha. */
static pfw_status Celu_prepare(pfw_node* node) {
  double alpha = pfw_attr_float(node, "alpha", 1.0f);
  if (alpha == 0) return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'alpha' is 0; Celu divides by it");
  return pfw_map_prepare(node, f_celu, &alpha, 1);
}
const pfw_op pfw_op_Celu = {PFW_OP_Celu, Celu_prepare, pfw_map_run, PFW_OPF_INPLACE};

static pfw_status Gelu_prepare(pfw_node* node) {
  const char* approx = pfw_attr_string(node, "approximate", "none");
  const pfw_vec_kernels* k = pfw_vec_kernels_for(node->isa);
  if (strcmp(approx, "none") == 0) return pfw_map_prepare_vec(node, f_gelu, NULL, 0, k ? k->gelu : NULL);
  if (strcmp(approx, "tanh") == 0) return pfw_map_prepare_vec(node, f_gelu_tanh, NULL, 0, k ? k->gelu_tanh : NULL);
  return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'approximate' is '%s'; expected 'none' or 'tanh'", approx);
}
const pfw_op pfw_op_Gelu = {PFW_OP_Gelu, Gelu_prepare, pfw_map_run, PFW_OPF_INPLACE};

/* ---- Clip ------------------------------------------------------------------------
 * Opset < 11: float attributes min/max. Opset >= 11: optional scalar inputs 1
 * and 2 of the input's dtype, read at run time (they need not be constant);
 * from opset 12 also the integer dtypes. */

static pfw_status clip_prepare(pfw_node* node) {
  pfw_status st0 = pfw_need_io(node, 1, 3);
  if (st0 != PFW_OK) return st0;
  const pfw_tensor* x = node->in[0];
  if (node->desc->version < 12 || pfw_numeric_index(x->dtype) < 0) {
    st0 = pfw_need_float(node, 0);
    if (st0 != PFW_OK) return st0;
  }
  for (int32_t i = 1; i < node->n_in; i++) {
    const pfw_tensor* b = node->in[i];
    if (!b) continue;
    pfw_status st = pfw_check_input(node, i, x->dtype, -1);
    if (st != PFW_OK) return st;
    if (pfw_numel(b) != 1)
      return pfw_error(PFW_ERR_SHAPE, "input %d (%s) has %lld elements; Clip needs a scalar", (int)i,
                       i == 1 ? "min" : "max", (long long)pfw_numel(b));
  }
  return pfw_set_output(node->out[0], x->dtype, x->rank, x->dims);
}

/* Clamps to [lo, hi]; max then min, as ONNX Runtime: with min > max every
 * element becomes max. NaN passes through (both comparisons are false). */
#define CLIP_LOOP(T, l, h)                   \
  do {                                       \
    const T* a = x->data;                    \
    T* y = node->out[0]->data;               \
    for (int64_t i = 0; i < n; i++) {        \
      T v = a[i] < (l) ? (l) : a[i];         \
      y[i] = v > (h) ? (h) : v;              \
    }                                        \
  } while (0)

/* Float bound from input i, or attribute `name` before opset 11, or `dflt`. */
static double clip_bound(const pfw_node* node, int32_t i, const char* name, double dflt) {
  if (node->desc->version < 11) return pfw_attr_float(node, name, (float)dflt);
  const pfw_tensor* b = i < node->n_in ? node->in[i] : NULL;
  if (!b) return dflt;
  return b->dtype == PFW_FLOAT32 ? *(const float*)b->data : *(const double*)b->data;
}

/* Integer bounds are read in their own type (int64 does not fit a double);
 * an absent bound is the type's extreme. */
#define CLIP_INT(T, TMIN, TMAX)                                                      \
  do {                                                                               \
    const pfw_tensor* bl = node->n_in > 1 ? node->in[1] : NULL;                      \
    const pfw_tensor* bh = node->n_in > 2 ? node->in[2] : NULL;                      \
    T l = bl ? *(const T*)bl->data : (TMIN), h = bh ? *(const T*)bh->data : (TMAX);  \
    CLIP_LOOP(T, l, h);                                                              \
  } while (0)

static pfw_status clip_run(pfw_node* node) {
  const pfw_tensor* x = node->in[0];
  int64_t n = pfw_numel(x);
  switch (x->dtype) {
    case PFW_FLOAT32: {
      float lo = (float)clip_bound(node, 1, "min", -INFINITY), hi = (float)clip_bound(node, 2, "max", INFINITY);
      CLIP_LOOP(float, lo, hi);
      break;
    }
    case PFW_FLOAT64: {
      double lo = clip_bound(node, 1, "min", -INFINITY), hi = clip_bound(node, 2, "max", INFINITY);
      CLIP_LOOP(double, lo, hi);
      break;
    }
    case PFW_INT8: CLIP_INT(int8_t, INT8_MIN, INT8_MAX); break;
    case PFW_UINT8: CLIP_INT(uint8_t, 0, UINT8_MAX); break;
    case PFW_INT16: CLIP_INT(int16_t, INT16_MIN, INT16_MAX); break;
    case PFW_UINT16: CLIP_INT(uint16_t, 0, UINT16_MAX); break;
    case PFW_INT32: CLIP_INT(int32_t, INT32_MIN, INT32_MAX); break;
    case PFW_UINT32: CLIP_INT(uint32_t, 0, UINT32_MAX); break;
    case PFW_INT64: CLIP_INT(int64_t, INT64_MIN, INT64_MAX); break;
    default: CLIP_INT(uint64_t, 0, UINT64_MAX); break;
  }
  return PFW_OK;
}

const pfw_op pfw_op_Clip = {PFW_OP_Clip, clip_prepare, clip_run, PFW_OPF_INPLACE};
