/* Element-wise unary math: Abs, Neg, Sign (float and int32/int64), Exp, Log,
 * Sqrt, Reciprocal, Floor, Ceil, Round, the trigonometric and hyperbolic
 * functions, Erf, IsNaN, IsInf (bool output) in float32, float64, float16 and
 * bfloat16, and Not (bool).
 *
 * Also the map engine that activation.c shares: one scalar function per op
 * over doubles. A float32 element is widened, mapped and rounded once, which
 * is at least as accurate as ONNX Runtime's float arithmetic, so results stay
 * within a rounding of it; one function then serves every float dtype
 * (float16 and bfloat16 are rounded through float32, as ONNX Runtime computes
 * them). */
#include <math.h>
#include <stdlib.h>

#include "../kernels/vecmath.h"
#include "ops_common.h"

typedef struct map_state {
  pfw_map_fn fn;
  double p[PFW_MAP_MAX_PARAMS];
  pfw_vec_row_fn vec; /* float32 vector form, or NULL */
} map_state;

pfw_status pfw_map_prepare(pfw_node* node, pfw_map_fn fn, const double* p, int32_t np) {
  return pfw_map_prepare_vec(node, fn, p, np, NULL);
}

static bool map_dtype(pfw_dtype d) {
  return d == PFW_FLOAT32 || d == PFW_FLOAT64 || d == PFW_FLOAT16 || d == PFW_BFLOAT16;
}
#define MAP_DTYPES "float32, float64, float16, bfloat16"

pfw_status pfw_map_prepare_vec(pfw_node* node, pfw_map_fn fn, const double* p, int32_t np, pfw_vec_row_fn vec) {
  pfw_status st = pfw_need_io(node, 1, 1);
  if (st != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  if (!map_dtype(x->dtype))
    return pfw_error(PFW_ERR_UNSUPPORTED, "input 0 has dtype %s; supported: " MAP_DTYPES, pfw_dtype_name(x->dtype));
  if ((st = pfw_set_output(node->out[0], x->dtype, x->rank, x->dims)) != PFW_OK) return st;
  map_state* s = calloc(1, sizeof *s);
  if (!s) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "map state");
  s->fn = fn;
  s->vec = node->in[0]->dtype == PFW_FLOAT32 ? vec : NULL;
  for (int32_t i = 0; i < np && i < PFW_MAP_MAX_PARAMS; i++) s->p[i] = p[i];
  node->state = s;
  return PFW_OK;
}

typedef struct map_task {
  const map_state* s;
  const void* x;
  void* y;
  pfw_dtype dt;
  pfw_vec_row_fn vec; /* float32 vector form, or NULL */
  int64_t n;          /* elements, for vec_blocks */
} map_task;

static void map_chunk(void* ctx, int64_t begin, int64_t end) {
  const map_task* t = ctx;
  if (t->vec) { /* t->s may be NULL then (pfw_vec_map_run) */
    t->vec((const float*)t->x + begin, (float*)t->y + begin, end - begin);
    return;
  }
  pfw_map_fn fn = t->s->fn;
  const double* p = t->s->p;
  if (t->dt == PFW_FLOAT32) {
    const float* x = t->x;
    float* y = t->y;
    for (int64_t i = begin; i < end; i++) y[i] = (float)fn(x[i], p);
  } else if (t->dt == PFW_FLOAT64) {
    const double* x = t->x;
    double* y = t->y;
    for (int64_t i = begin; i < end; i++) y[i] = fn(x[i], p);
  } else if (t->dt == PFW_FLOAT16) {
    const uint16_t* x = t->x;
    uint16_t* y = t->y;
    for (int64_t i = begin; i < end; i++) y[i] = pfw_float_to_half((float)fn(pfw_half_to_float(x[i]), p));
  } else {
    const uint16_t* x = t->x;
    uint16_t* y = t->y;
    for (int64_t i = begin; i < end; i++) y[i] = pfw_float_to_bf16((float)fn(pfw_bf16_to_float(x[i]), p));
  }
}

/* Each element is independent, so splitting over threads cannot change it. */
pfw_status pfw_map_run(pfw_node* node) {
  const map_state* s = node->state;
  if (s->vec) return pfw_vec_map_run(node, s->vec);
  map_task t = {s, node->in[0]->data, node->out[0]->data, node->in[0]->dtype, NULL, 0};
  pfw_parallel_for(node->pool, pfw_numel(node->in[0]), map_chunk, &t);
  return PFW_OK;
}

/* Vector maps go in blocks of PFW_PARALLEL_BLOCK elements. */

static void vec_blocks(void* ctx, int64_t b, int64_t e) {
  const map_task* t = ctx;
  int64_t end = e * PFW_PARALLEL_BLOCK < t->n ? e * PFW_PARALLEL_BLOCK : t->n;
  map_chunk(ctx, b * PFW_PARALLEL_BLOCK, end);
}

pfw_status pfw_vec_map_run(pfw_node* node, pfw_vec_row_fn vec) {
  int64_t n = pfw_numel(node->in[0]);
  map_task t = {NULL, node->in[0]->data, node->out[0]->data, PFW_FLOAT32, vec, n};
  pfw_parallel_for(node->pool, (n + PFW_PARALLEL_BLOCK - 1) / PFW_PARALLEL_BLOCK, vec_blocks, &t);
  return PFW_OK;
}

/* The float32 vector form of a map for this node's ISA (NULL: scalar). */
#define VEC_FN(node, f) (pfw_vec_kernels_for((node)->isa) ? pfw_vec_kernels_for((node)->isa)->f : NULL)

/* ---- float functions ------------------------------------------------------- */

static double f_abs(double x, const double* p) { (void)p; return fabs(x); }
static double f_neg(double x, const double* p) { (void)p; return -x; }
/* NaN stays NaN (both comparisons are false); ±0 gives 0, as ONNX Runtime. */
static double f_sign(double x, const double* p) { (void)p; return x > 0 ? 1.0 : x < 0 ? -1.0 : x == 0 ? 0.0 : x; }
static double f_exp(double x, const double* p) { (void)p; return exp(x); }
static double f_log(double x, const double* p) { (void)p; return log(x); }
static double f_sqrt(double x, const double* p) { (void)p; return sqrt(x); }
static double f_reciprocal(double x, const double* p) { (void)p; return 1.0 / x; }
static double f_floor(double x, const double* p) { (void)p; return floor(x); }
static double f_ceil(double x, const double* p) { (void)p; return ceil(x); }
/* ONNX Round is half to even: nearbyint in the default rounding mode. */
static double f_round(double x, const double* p) { (void)p; return nearbyint(x); }
static double f_sin(double x, const double* p) { (void)p; return sin(x); }
static double f_cos(double x, const double* p) { (void)p; return cos(x); }
static double f_tan(double x, const double* p) { (void)p; return tan(x); }
static double f_asin(double x, const double* p) { (void)p; return asin(x); }
static double f_acos(double x, const double* p) { (void)p; return acos(x); }
static double f_atan(double x, const double* p) { (void)p; return atan(x); }
static double f_sinh(double x, const double* p) { (void)p; return sinh(x); }
static double f_cosh(double x, const double* p) { (void)p; return cosh(x); }
static double f_asinh(double x, const double* p) { (void)p; return asinh(x); }
static double f_acosh(double x, const double* p) { (void)p; return acosh(x); }
static double f_atanh(double x, const double* p) { (void)p; return atanh(x); }
static double f_erf(double x, const double* p) { (void)p; return erf(x); }

/* A float32/float64 op with no attributes. */
#define FLOAT_MAP_OP(Name, fn)                                                                          \
  static pfw_status Name##_prepare(pfw_node* node) { return pfw_map_prepare(node, fn, NULL, 0); }     \
  const pfw_op pfw_op_##Name = {PFW_OP_##Name, Name##_prepare, pfw_map_run, PFW_OPF_INPLACE};
/* The same with a float32 vector form from the node's kernel table. */
#define FLOAT_VEC_MAP_OP(Name, fn, vec)                                                                 \
  static pfw_status Name##_prepare(pfw_node* node) {                                                  \
    return pfw_map_prepare_vec(node, fn, NULL, 0, VEC_FN(node, vec));                                 \
  }                                                                                                   \
  const pfw_op pfw_op_##Name = {PFW_OP_##Name, Name##_prepare, pfw_map_run, PFW_OPF_INPLACE};

FLOAT_VEC_MAP_OP(Exp, f_exp, exp)
FLOAT_MAP_OP(Log, f_log)
FLOAT_MAP_OP(Sqrt, f_sqrt)
FLOAT_MAP_OP(Reciprocal, f_reciprocal)
FLOAT_MAP_OP(Floor, f_floor)
FLOAT_MAP_OP(Ceil, f_ceil)
FLOAT_MAP_OP(Round, f_round)
FLOAT_MAP_OP(Sin, f_sin)
FLOAT_MAP_OP(Cos, f_cos)
FLOAT_MAP_OP(Tan, f_tan)
FLOAT_MAP_OP(Asin, f_asin)
FLOAT_MAP_OP(Acos, f_acos)
FLOAT_MAP_OP(Atan, f_atan)
FLOAT_MAP_OP(Sinh, f_sinh)
FLOAT_MAP_OP(Cosh, f_cosh)
FLOAT_MAP_OP(Asinh, f_asinh)
FLOAT_MAP_OP(Acosh, f_acosh)
FLOAT_MAP_OP(Atanh, f_atanh)
FLOAT_VEC_MAP_OP(Erf, f_erf, erf)

/* ---- Abs, Neg, Sign: also int32 / int64 -------------------------------------- */

/* Integer results wrap like two's complement (Neg/Abs of MIN is MIN), as
 * numpy and ONNX Runtime give, by negating through unsigned arithmetic. */
static int64_t i_neg(int64_t x) { return (int64_t)(0u - (uint64_t)x); }
static int64_t i_abs(int64_t x) { return x < 0 ? i_neg(x) : x; }
static int64_t i_sign(int64_t x) { return (x > 0) - (x < 0); }

typedef int64_t (*int_fn)(int64_t);

static pfw_status signed_prepare(pfw_node* node, pfw_map_fn ffn) {
  pfw_status st = pfw_need_io(node, 1, 1);
  if (st != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  if (x->dtype == PFW_INT32 || x->dtype == PFW_INT64) return pfw_set_output(node->out[0], x->dtype, x->rank, x->dims);
  if (!map_dtype(x->dtype))
    return pfw_error(PFW_ERR_UNSUPPORTED, "input 0 has dtype %s; supported: " MAP_DTYPES ", int32, int64",
                     pfw_dtype_name(x->dtype));
  return pfw_map_prepare(node, ffn, NULL, 0);
}

static pfw_status signed_run(pfw_node* node, int_fn ifn) {
  const pfw_tensor* x = node->in[0];
  int64_t n = pfw_numel(x);
  if (x->dtype == PFW_INT32) {
    const int32_t* a = x->data;
    int32_t* y = node->out[0]->data;
    /* Narrowing keeps the low 32 bits: wrapped, never UB. */
    for (int64_t i = 0; i < n; i++) y[i] = (int32_t)(uint32_t)(uint64_t)ifn(a[i]);
  } else if (x->dtype == PFW_INT64) {
    const int64_t* a = x->data;
    int64_t* y = node->out[0]->data;
    for (int64_t i = 0; i < n; i++) y[i] = ifn(a[i]);
  } else {
    return pfw_map_run(node);
  }
  return PFW_OK;
}

#define SIGNED_OP(Name, ffn, ifn)                                                                   \
  static pfw_status Name##_prepare(pfw_node* node) { return signed_prepare(node, ffn); }          \
  static pfw_status Name##_run(pfw_node* node) { return signed_run(node, ifn); }                  \
  const pfw_op pfw_op_##Name = {PFW_OP_##Name, Name##_prepare, Name##_run, PFW_OPF_INPLACE};

SIGNED_OP(Abs, f_abs, i_abs)
SIGNED_OP(Neg, f_neg, i_neg)
SIGNED_OP(Sign, f_sign, i_sign)

/* ---- IsNaN, IsInf (float -> bool), Not (bool) ------------------------------ */

static pfw_status bool_out_prepare(pfw_node* node, bool float_in) {
  pfw_status st = pfw_need_io(node, 1, 1);
  if (st != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  bool ok = float_in ? map_dtype(x->dtype) : x->dtype == PFW_BOOL;
  if (!ok)
    return pfw_error(PFW_ERR_UNSUPPORTED, "input 0 has dtype %s; supported: %s", pfw_dtype_name(x->dtype),
                     float_in ? MAP_DTYPES : "bool");
  return pfw_set_output(node->out[0], PFW_BOOL, x->rank, x->dims);
}

static pfw_status isnan_prepare(pfw_node* node) { return bool_out_prepare(node, true); }
static pfw_status not_prepare(pfw_node* node) { return bool_out_prepare(node, false); }

/* Element i of a float tensor of any map dtype, exactly, as a double. */
static double float_at(const pfw_tensor* x, int64_t i) {
  switch (x->dtype) {
    case PFW_FLOAT32: return ((const float*)x->data)[i];
    case PFW_FLOAT16: return pfw_half_to_float(((const uint16_t*)x->data)[i]);
    case PFW_BFLOAT16: return pfw_bf16_to_float(((const uint16_t*)x->data)[i]);
    default: return ((const double*)x->data)[i];
  }
}

/* Classifies every element of a float input into a bool output. */
#define CLASSIFY(node, expr)                                                     \
  do {                                                                           \
    const pfw_tensor* x_ = (node)->in[0];                                        \
    bool* y_ = (node)->out[0]->data;                                             \
    int64_t n_ = pfw_numel(x_);                                                  \
    for (int64_t i = 0; i < n_; i++) {                                           \
      double v = float_at(x_, i);                                                \
      y_[i] = (expr);                                                            \
    }                                                                            \
  } while (0)

static pfw_status isnan_run(pfw_node* node) {
  const pfw_tensor* x = node->in[0];
  if (x->dtype == PFW_FLOAT32) { /* without the per-element dtype switch: it cost 8x */
    const float* a = x->data;
    bool* y = node->out[0]->data;
    for (int64_t i = 0, n = pfw_numel(x); i < n; i++) y[i] = a[i] != a[i];
    return PFW_OK;
  }
  CLASSIFY(node, isnan(v));
  return PFW_OK;
}

static pfw_status isinf_run(pfw_node* node) {
  bool pos = pfw_attr_int(node, "detect_positive", 1) != 0;
  bool neg = pfw_attr_int(node, "detect_negative", 1) != 0;
  CLASSIFY(node, isinf(v) && (v > 0 ? pos : neg));
  return PFW_OK;
}

/* Reads bytes as bool values: any non-zero byte is true, the output is 0/1. */
static pfw_status not_run(pfw_node* node) {
  const uint8_t* x = node->in[0]->data;
  bool* y = node->out[0]->data;
  int64_t n = pfw_numel(node->in[0]);
  for (int64_t i = 0; i < n; i++) y[i] = x[i] == 0;
  return PFW_OK;
}

/* IsNaN/IsInf change the element size (float -> bool), so not in place. */
const pfw_op pfw_op_IsNaN = {PFW_OP_IsNaN, isnan_prepare, isnan_run, 0};
const pfw_op pfw_op_IsInf = {PFW_OP_IsInf, isnan_prepare, isinf_run, 0};
const pfw_op pfw_op_Not = {PFW_OP_Not, not_prepare, not_run, PFW_OPF_INPLACE};
