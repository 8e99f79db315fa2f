/* Add, Sub, Mul, Div with ONNX multidirectional broadcasting (float32,
 * float64, int32, int64), and the unary activations Relu, Sigmoid, Tanh. */
#include <math.h>
#include <string.h>

#include "ops_common.h"

/* ---- binary --------------------------------------------------------------- */

enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV };

static bool binary_dtype_ok(pfw_dtype t) {
  return t == PFW_FLOAT32 || t == PFW_FLOAT64 || t == PFW_INT32 || t == PFW_INT64;
}

static pfw_status binary_prepare(pfw_node* node) {
  if (node->n_in != 2 || !node->in[0] || !node->in[1])
    return pfw_error(PFW_ERR_INVALID_MODEL, "expected 2 inputs, got %d", (int)node->n_in);
  if (node->n_out < 1) return pfw_error(PFW_ERR_INVALID_MODEL, "expected 1 output");
  const pfw_tensor* a = node->in[0];
  const pfw_tensor* b = node->in[1];
  if (!binary_dtype_ok(a->dtype))
    return pfw_error(PFW_ERR_UNSUPPORTED, "input 0 has dtype %s; supported: float32, float64, int32, int64",
                     pfw_dtype_name(a->dtype));
  pfw_status st = pfw_check_input(node, 1, a->dtype, -1);
  if (st != PFW_OK) return st;
  int32_t r;
  int64_t dims[PFW_MAX_RANK];
  st = pfw_broadcast_shape(a->rank, a->dims, b->rank, b->dims, &r, dims);
  if (st != PFW_OK) return st;
  return pfw_set_output(node->out[0], a->dtype, r, dims);
}

/* Collapsed iteration space: dims of the output with the element strides of
 * a and b (0 along broadcast dims); adjacent dims that step alike in both are
 * merged so the innermost loop is as long as possible. */
typedef struct bcast {
  int32_t rank;
  int64_t dims[PFW_MAX_RANK], sa[PFW_MAX_RANK], sb[PFW_MAX_RANK];
} bcast;

static void input_strides(const pfw_tensor* t, const pfw_tensor* o, int64_t* s) {
  int64_t step = 1;
  for (int32_t k = o->rank - 1; k >= 0; k--) {
    int32_t i = k - (o->rank - t->rank);
    int64_t d = i >= 0 ? t->dims[i] : 1;
    s[k] = d == 1 ? 0 : step;
    step *= d;
  }
}

static void bcast_init(const pfw_tensor* a, const pfw_tensor* b, const pfw_tensor* o, bcast* it) {
  int64_t sa[PFW_MAX_RANK], sb[PFW_MAX_RANK];
  input_strides(a, o, sa);
  input_strides(b, o, sb);
  it->rank = 0;
  for (int32_t k = 0; k < o->rank; k++) {
    if (o->dims[k] == 1) continue; /* size-1 dims never move */
    int32_t r = it->rank;
    if (r > 0 && it->sa[r - 1] == sa[k] * o->dims[k] && it->sb[r - 1] == sb[k] * o->dims[k]) {
      it->dims[r - 1] *= o->dims[k];
      it->sa[r - 1] = sa[k];
      it->sb[r - 1] = sb[k];
      continue;
    }
    it->dims[r] = o->dims[k];
    it->sa[r] = sa[k];
    it->sb[r] = sb[k];
    it->rank++;
  }
  if (it->rank == 0) { /* scalar-like output */
    it->rank = 1;
    it->dims[0] = 1;
    it->sa[0] = it->sb[0] = 0;
  }
}

/* One inner loop per (op, type); Div on integers is handled separately. */
#define BIN_LOOP(name, T, expr)                                                                  \
  static void name(const void* pa, int64_t sa, const void* pb, int64_t sb, void* po, int64_t n) { \
    const T* a = pa;                                                                             \
    const T* b = pb;                                                                             \
    T* o = po;                                                                                   \
    for (int64_t i = 0; i < n; i++) {                                                            \
      T x = a[i * sa], y = b[i * sb];                                                            \
      o[i] = (expr);                                                                             \
    }                                                                                            \
  }

BIN_LOOP(add_f32, float, x + y)
BIN_LOOP(sub_f32, float, x - y)
BIN_LOOP(mul_f32, float, x * y)
BIN_LOOP(div_f32, float, x / y)
BIN_LOOP(add_f64, double, x + y)
BIN_LOOP(sub_f64, double, x - y)
BIN_LOOP(mul_f64, double, x * y)
BIN_LOOP(div_f64, double, x / y)
/* Integer add/sub/mul wrap like two's complement (via unsigned) instead of
 * overflowing, which would be UB. */
BIN_LOOP(add_i32, int32_t, (int32_t)((uint32_t)x + (uint32_t)y))
BIN_LOOP(sub_i32, int32_t, (int32_t)((uint32_t)x - (uint32_t)y))
BIN_LOOP(mul_i32, int32_t, (int32_t)((uint32_t)x * (uint32_t)y))
BIN_LOOP(add_i64, int64_t, (int64_t)((uint64_t)x + (uint64_t)y))
BIN_LOOP(sub_i64, int64_t, (int64_t)((uint64_t)x - (uint64_t)y))
BIN_LOOP(mul_i64, int64_t, (int64_t)((uint64_t)x * (uint64_t)y))
/* Truncating division (ONNX). The divisor was checked non-zero; MIN / -1
 * wraps to MIN instead of trapping. */
BIN_LOOP(div_i32, int32_t, y == -1 ? (int32_t)(0u - (uint32_t)x) : x / y)
BIN_LOOP(div_i64, int64_t, y == -1 ? (int64_t)(0u - (uint64_t)x) : x / y)

typedef void (*bin_fn)(const void*, int64_t, const void*, int64_t, void*, int64_t);

static bin_fn pick(int op, pfw_dtype t) {
  static const bin_fn table[4][4] = {
      {add_f32, sub_f32, mul_f32, div_f32},
      {add_f64, sub_f64, mul_f64, div_f64},
      {add_i32, sub_i32, mul_i32, div_i32},
      {add_i64, sub_i64, mul_i64, div_i64},
  };
  int ti = t == PFW_FLOAT32 ? 0 : t == PFW_FLOAT64 ? 1 : t == PFW_INT32 ? 2 : 3;
  return table[ti][op];
}

static bool has_zero(const pfw_tensor* t) {
  int64_t n = pfw_numel(t);
  if (t->dtype == PFW_INT32) {
    const int32_t* p = t->data;
    for (int64_t i = 0; i < n; i++)
      if (p[i] == 0) return true;
  } else {
    const int64_t* p = t->data;
    for (int64_t i = 0; i < n; i++)
      if (p[i] == 0) return true;
  }
  return false;
}

static pfw_status binary_run(pfw_node* node, int op) {
  const pfw_tensor* a = node->in[0];
  const pfw_tensor* b = node->in[1];
  pfw_tensor* o = node->out[0];
  if (pfw_numel(o) == 0) return PFW_OK;
  if (op == OP_DIV && (a->dtype == PFW_INT32 || a->dtype == PFW_INT64) && has_zero(b))
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "integer division by zero (input 1 holds a 0)");
  bin_fn fn = pick(op, a->dtype);
  size_t es = pfw_dtype_size(a->dtype);
  bcast it;
  bcast_init(a, b, o, &it);
  int32_t r = it.rank;
  int64_t inner = it.dims[r - 1], outer = 1;
  for (int32_t k = 0; k < r - 1; k++) outer *= it.dims[k];
  int64_t idx[PFW_MAX_RANK] = {0};
  int64_t oa = 0, ob = 0; /* element offsets of the current row in a and b */
  const char* pa = a->data;
  const char* pb = b->data;
  char* po = o->data;
  for (int64_t row = 0; row < outer; row++) {
    fn(pa + (size_t)oa * es, it.sa[r - 1], pb + (size_t)ob * es, it.sb[r - 1], po + (size_t)(row * inner) * es,
       inner);
    /* Odometer over the outer dims, updating offsets incrementally. */
    for (int32_t k = r - 2; k >= 0; k--) {
      oa += it.sa[k];
      ob += it.sb[k];
      if (++idx[k] < it.dims[k]) break;
      oa -= it.sa[k] * it.dims[k];
      ob -= it.sb[k] * it.dims[k];
      idx[k] = 0;
    }
  }
  return PFW_OK;
}

static pfw_status add_run(pfw_node* node) { return binary_run(node, OP_ADD); }
static pfw_status sub_run(pfw_node* node) { return binary_run(node, OP_SUB); }
static pfw_status mul_run(pfw_node* node) { return binary_run(node, OP_MUL); }
static pfw_status div_run(pfw_node* node) { return binary_run(node, OP_DIV); }

/* In place is safe: each output element is written after the same element of
 * input 0 is read, and the planner only aliases when the byte sizes (hence,
 * for broadcasting, the shapes) match. */
const pfw_op pfw_op_Add = {PFW_OP_Add, binary_prepare, add_run, PFW_OPF_INPLACE};
const pfw_op pfw_op_Sub = {PFW_OP_Sub, binary_prepare, sub_run, PFW_OPF_INPLACE};
const pfw_op pfw_op_Mul = {PFW_OP_Mul, binary_prepare, mul_run, PFW_OPF_INPLACE};
const pfw_op pfw_op_Div = {PFW_OP_Div, binary_prepare, div_run, PFW_OPF_INPLACE};

/* ---- unary ----------------------------------------------------------------- */

pfw_status pfw_float_unary_prepare(pfw_node* node) {
  if (node->n_in != 1 || !node->in[0])
    return pfw_error(PFW_ERR_INVALID_MODEL, "expected 1 input, got %d", (int)node->n_in);
  if (node->n_out < 1) return pfw_error(PFW_ERR_INVALID_MODEL, "expected 1 output");
  const pfw_tensor* x = node->in[0];
  if (x->dtype != PFW_FLOAT32 && x->dtype != PFW_FLOAT64)
    return pfw_error(PFW_ERR_UNSUPPORTED, "input 0 has dtype %s; supported: float32, float64",
                     pfw_dtype_name(x->dtype));
  return pfw_set_output(node->out[0], x->dtype, x->rank, x->dims);
}

/* Sigmoid without overflow: exp of a non-positive argument only. */
static float sigmoid_f(float x) {
  if (x >= 0) return 1.0f / (1.0f + expf(-x));
  float e = expf(x);
  return e / (1.0f + e);
}
static double sigmoid_d(double x) {
  if (x >= 0) return 1.0 / (1.0 + exp(-x));
  double e = exp(x);
  return e / (1.0 + e);
}

#define UNARY_RUN(name, ff, fd)                                   \
  static pfw_status name(pfw_node* node) {                        \
    const pfw_tensor* t = node->in[0];                            \
    int64_t n = pfw_numel(t);                                     \
    if (t->dtype == PFW_FLOAT32) {                                \
      const float* x = t->data;                                   \
      float* y = node->out[0]->data;                              \
      for (int64_t i = 0; i < n; i++) y[i] = ff(x[i]);            \
    } else {                                                      \
      const double* x = t->data;                                  \
      double* y = node->out[0]->data;                             \
      for (int64_t i = 0; i < n; i++) y[i] = fd(x[i]);            \
    }                                                             \
    return PFW_OK;                                                \
  }

/* Written so that NaN propagates (the comparison is false), as in ONNX Runtime. */
#define RELU(x) ((x) < 0 ? 0 : (x))
UNARY_RUN(relu_run, RELU, RELU)
UNARY_RUN(sigmoid_run, sigmoid_f, sigmoid_d)
UNARY_RUN(tanh_run, tanhf, tanh)

const pfw_op pfw_op_Relu = {PFW_OP_Relu, pfw_float_unary_prepare, relu_run, PFW_OPF_INPLACE};
const pfw_op pfw_op_Sigmoid = {PFW_OP_Sigmoid, pfw_float_unary_prepare, sigmoid_run, PFW_OPF_INPLACE};
const pfw_op pfw_op_Tanh = {PFW_OP_Tanh, pfw_float_unary_prepare, tanh_run, PFW_OPF_INPLACE};
