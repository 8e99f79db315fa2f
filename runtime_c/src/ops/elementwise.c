/* Add, Sub, Mul, Div with ONNX multidirectional broadcasting (float32,
 * float64, and 8- to 64-bit signed and unsigned integers), and the unary
 * activations Relu, Sigmoid, Tanh. */
#include <math.h>
#include <string.h>

#include "../kernels/vecmath.h"
#include "ops_common.h"

/* ---- binary --------------------------------------------------------------- */

enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV };

static bool binary_dtype_ok(pfw_dtype t) {
  return pfw_numeric_index(t) >= 0 || t == PFW_FLOAT16 || t == PFW_BFLOAT16;
}

static pfw_status binary_prepare(pfw_node* node) {
  if (node->n_in != 2 || !node->in[0] || !node->in[1])
    return pfw_error(PFW_ERR_INVALID_MODEL, "expected 2 inputs, got %d", (int)node->n_in);
  if (node->n_out < 1) return pfw_error(PFW_ERR_INVALID_MODEL, "expected 1 output");
  const pfw_tensor* a = node->in[0];
  if (!binary_dtype_ok(a->dtype))
    return pfw_error(PFW_ERR_UNSUPPORTED,
                     "input 0 has dtype %s; supported: float32, float64, float16, bfloat16, 8- to 64-bit integers",
                     pfw_dtype_name(a->dtype));
  pfw_status st = pfw_check_input(node, 1, a->dtype, -1);
  if (st != PFW_OK) return st;
  return pfw_bcast_prepare(node, 2, a->dtype);
}

/* ---- broadcasting iteration (shared through ops_common.h) -------------------- */

/* Element strides of t against the output: 0 along broadcast dims. */
static void input_strides(const pfw_tensor* t, const pfw_tensor* o, int64_t* s) {
  int64_t step = 1;
  for (int32_t k = o->rank - 1; k >= 0; k--) {
    int32_t i = k - (o->rank - t->rank);
    int64_t d = i >= 0 ? t->dims[i] : 1;
    s[k] = d == 1 ? 0 : step;
    step *= d;
  }
}

/* Adjacent dims that step alike in every input are merged, so the innermost
 * loop is as long as possible. */
void pfw_bcast_init(pfw_bcast* it, int32_t n_in, const pfw_tensor* const* in, const pfw_tensor* o) {
  int64_t s[PFW_BCAST_MAX_IN][PFW_MAX_RANK];
  for (int32_t j = 0; j < n_in; j++) input_strides(in[j], o, s[j]);
  it->n_in = n_in;
  it->rank = 0;
  for (int32_t k = 0; k < o->rank; k++) {
    if (o->dims[k] == 1) continue; /* size-1 dims never move */
    int32_t r = it->rank;
    bool merge = r > 0;
    for (int32_t j = 0; j < n_in && merge; j++) merge = it->s[j][r - 1] == s[j][k] * o->dims[k];
    if (merge) {
      it->dims[r - 1] *= o->dims[k];
      for (int32_t j = 0; j < n_in; j++) it->s[j][r - 1] = s[j][k];
      continue;
    }
    it->dims[r] = o->dims[k];
    for (int32_t j = 0; j < n_in; j++) it->s[j][r] = s[j][k];
    it->rank++;
  }
  if (it->rank == 0) { /* scalar-like output */
    it->rank = 1;
    it->dims[0] = 1;
    for (int32_t j = 0; j < n_in; j++) it->s[j][0] = 0;
  }
}

/* Calls row() over output elements [begin, end) in row-major order: the
 * first and last rows may be partial. */
static void bcast_range(const pfw_bcast* it, const pfw_tensor* const* in, pfw_tensor* o, pfw_bcast_row row,
                        const void* ctx, int64_t begin, int64_t end) {
  if (begin >= end) return; /* also an empty output, where a dim is 0 */
  int32_t r = it->rank, n = it->n_in;
  int64_t inner = it->dims[r - 1];
  int64_t idx[PFW_MAX_RANK] = {0};
  int64_t off[PFW_BCAST_MAX_IN] = {0}; /* element offsets of the current row */
  int64_t stride[PFW_BCAST_MAX_IN];
  size_t es[PFW_BCAST_MAX_IN];
  const char* p[PFW_BCAST_MAX_IN];
  int64_t rest = begin / inner, col = begin % inner;
  for (int32_t k = r - 2; k >= 0; k--) {
    idx[k] = rest % it->dims[k];
    rest /= it->dims[k];
    for (int32_t j = 0; j < n; j++) off[j] += idx[k] * it->s[j][k];
  }
  for (int32_t j = 0; j < n; j++) {
    stride[j] = it->s[j][r - 1];
    es[j] = pfw_dtype_size(in[j]->dtype);
  }
  size_t eo = pfw_dtype_size(o->dtype);
  char* po = o->data;
  for (int64_t at = begin; at < end; col = 0) {
    int64_t len = inner - col < end - at ? inner - col : end - at;
    for (int32_t j = 0; j < n; j++) p[j] = (const char*)in[j]->data + (size_t)(off[j] + col * stride[j]) * es[j];
    row(ctx, p, stride, po + (size_t)at * eo, len);
    at += len;
    /* Odometer over the outer dims, updating offsets incrementally. */
    for (int32_t k = r - 2; k >= 0; k--) {
      for (int32_t j = 0; j < n; j++) off[j] += it->s[j][k];
      if (++idx[k] < it->dims[k]) break;
      for (int32_t j = 0; j < n; j++) off[j] -= it->s[j][k] * it->dims[k];
      idx[k] = 0;
    }
  }
}

static int64_t bcast_total(const pfw_bcast* it) {
  int64_t t = 1;
  for (int32_t k = 0; k < it->rank; k++) t *= it->dims[k];
  return t;
}

void pfw_bcast_for(const pfw_bcast* it, const pfw_tensor* const* in, pfw_tensor* o, pfw_bcast_row row,
                   const void* ctx) {
  bcast_range(it, in, o, row, ctx, 0, bcast_total(it));
}

typedef struct bcast_task {
  const pfw_bcast* it;
  const pfw_tensor* const* in;
  pfw_tensor* o;
  pfw_bcast_row row;
  const void* ctx;
  int64_t total;
} bcast_task;

/* Tasks are blocks of PFW_PARALLEL_BLOCK elements. */

static void bcast_blocks(void* ctx, int64_t b, int64_t e) {
  const bcast_task* t = ctx;
  int64_t end = e * PFW_PARALLEL_BLOCK < t->total ? e * PFW_PARALLEL_BLOCK : t->total;
  bcast_range(t->it, t->in, t->o, t->row, t->ctx, b * PFW_PARALLEL_BLOCK, end);
}

void pfw_bcast_for_pool(const pfw_bcast* it, const pfw_tensor* const* in, pfw_tensor* o, pfw_bcast_row row,
                        const void* ctx, pfw_threadpool* pool) {
  bcast_task t = {it, in, o, row, ctx, bcast_total(it)};
  pfw_parallel_for(pool, (t.total + PFW_PARALLEL_BLOCK - 1) / PFW_PARALLEL_BLOCK, bcast_blocks, &t);
}

pfw_status pfw_bcast_prepare(pfw_node* node, int32_t n_in, pfw_dtype out_dtype) {
  const pfw_tensor* a = node->in[0];
  int32_t r = a->rank;
  int64_t dims[PFW_MAX_RANK];
  for (int32_t k = 0; k < r; k++) dims[k] = a->dims[k];
  for (int32_t j = 1; j < n_in; j++) {
    const pfw_tensor* b = node->in[j];
    pfw_status st = pfw_broadcast_shape(r, dims, b->rank, b->dims, &r, dims);
    if (st != PFW_OK) return st;
  }
  return pfw_set_output(node->out[0], out_dtype, r, dims);
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
/* float16 and bfloat16 through float32, rounded once more: float32 has more
 * than twice their precision plus two bits, so the result is the correctly
 * rounded half-precision one (double rounding is innocuous for + - * /). */
#define HALF_LOOPS(S, TO, FROM)                               \
  BIN_LOOP(add_##S, uint16_t, FROM(TO(x) + TO(y)))            \
  BIN_LOOP(sub_##S, uint16_t, FROM(TO(x) - TO(y)))            \
  BIN_LOOP(mul_##S, uint16_t, FROM(TO(x) * TO(y)))            \
  BIN_LOOP(div_##S, uint16_t, FROM(TO(x) / TO(y)))
HALF_LOOPS(f16, pfw_half_to_float, pfw_float_to_half)
HALF_LOOPS(bf16, pfw_bf16_to_float, pfw_float_to_bf16)
/* Integer add/sub/mul wrap modulo 2^bits: computed in an unsigned type at
 * least as wide as unsigned int (signed overflow, and the promotion of small
 * unsigned types to int, would be UB), then narrowed. Division truncates
 * (ONNX); the divisor was checked non-zero, and MIN / -1 wraps to MIN
 * instead of trapping. */
#define INT_LOOPS(S, T, U, DIV)                                \
  BIN_LOOP(add_##S, T, (T)((U)x + (U)y))                       \
  BIN_LOOP(sub_##S, T, (T)((U)x - (U)y))                       \
  BIN_LOOP(mul_##S, T, (T)((U)x * (U)y))                       \
  BIN_LOOP(div_##S, T, DIV)
#define SDIV(T, U) (y == -1 ? (T)(0u - (U)x) : (T)(x / y))
#define UDIV(T) ((T)(x / y))
INT_LOOPS(i32, int32_t, uint32_t, SDIV(int32_t, uint32_t))
INT_LOOPS(i64, int64_t, uint64_t, SDIV(int64_t, uint64_t))
INT_LOOPS(i8, int8_t, uint32_t, SDIV(int8_t, uint32_t))
INT_LOOPS(u8, uint8_t, uint32_t, UDIV(uint8_t))
INT_LOOPS(i16, int16_t, uint32_t, SDIV(int16_t, uint32_t))
INT_LOOPS(u16, uint16_t, uint32_t, UDIV(uint16_t))
INT_LOOPS(u32, uint32_t, uint32_t, UDIV(uint32_t))
INT_LOOPS(u64, uint64_t, uint64_t, UDIV(uint64_t))

typedef void (*bin_fn)(const void*, int64_t, const void*, int64_t, void*, int64_t);

/* Rows in pfw_numeric_index order. */
static bin_fn pick(int op, pfw_dtype t) {
  static const bin_fn table[10][4] = {
      {add_f32, sub_f32, mul_f32, div_f32}, {add_f64, sub_f64, mul_f64, div_f64},
      {add_i32, sub_i32, mul_i32, div_i32}, {add_i64, sub_i64, mul_i64, div_i64},
      {add_i8, sub_i8, mul_i8, div_i8},     {add_u8, sub_u8, mul_u8, div_u8},
      {add_i16, sub_i16, mul_i16, div_i16}, {add_u16, sub_u16, mul_u16, div_u16},
      {add_u32, sub_u32, mul_u32, div_u32}, {add_u64, sub_u64, mul_u64, div_u64},
  };
  static const bin_fn halves[2][4] = {{add_f16, sub_f16, mul_f16, div_f16}, {add_bf16, sub_bf16, mul_bf16, div_bf16}};
  if (t == PFW_FLOAT16 || t == PFW_BFLOAT16) return halves[t == PFW_BFLOAT16][op];
  return table[pfw_numeric_index(t)][op];
}

static void bin_row(const void* ctx, const char* const* in, const int64_t* s, char* out, int64_t n) {
  (*(const bin_fn*)ctx)(in[0], s[0], in[1], s[1], out, n);
}

typedef struct vec_bin {
  const pfw_vec_kernels* k;
  int op; /* PFW_VEC_ADD.. in the order of OP_ADD.. */
  bin_fn scalar;
} vec_bin;

/* The innermost strides are 0 or 1 (pfw_bcast_init), the forms the vector
 * row takes; anything else would go to the scalar loop. */
static void vec_bin_row(const void* ctx, const char* const* in, const int64_t* s, char* out, int64_t n) {
  const vec_bin* v = ctx;
  if ((s[0] == 0 || s[0] == 1) && (s[1] == 0 || s[1] == 1))
    v->k->binary(v->op, (const float*)in[0], s[0], (const float*)in[1], s[1], (float*)out, n);
  else
    v->scalar(in[0], s[0], in[1], s[1], out, n);
}

void pfw_binary_f32_run(const pfw_node* node, const pfw_tensor* const* in, int op) {
  vec_bin v = {pfw_vec_kernels_for(node->isa), op, pick(op, PFW_FLOAT32)};
  pfw_bcast it;
  pfw_bcast_init(&it, 2, in, node->out[0]);
  if (v.k) pfw_bcast_for_pool(&it, in, node->out[0], vec_bin_row, &v, node->pool);
  else pfw_bcast_for(&it, in, node->out[0], bin_row, &v.scalar);
}

/* An integer tensor holds a zero iff some element's bytes are all zero. */
bool pfw_has_zero(const pfw_tensor* t) {
  int64_t n = pfw_numel(t);
  size_t es = pfw_dtype_size(t->dtype);
  const unsigned char* p = t->data;
  for (int64_t i = 0; i < n; i++, p += es) {
    size_t k = 0;
    while (k < es && p[k] == 0) k++;
    if (k == es) return true;
  }
  return false;
}

static bool is_integer(pfw_dtype t) { return pfw_numeric_index(t) >= 2; }

static pfw_status binary_run(pfw_node* node, int op) {
  const pfw_tensor* a = node->in[0];
  const pfw_tensor* b = node->in[1];
  pfw_tensor* o = node->out[0];
  if (pfw_numel(o) == 0) return PFW_OK;
  if (op == OP_DIV && is_integer(a->dtype) && pfw_has_zero(b))
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "integer division by zero (input 1 holds a 0)");
  if (a->dtype == PFW_FLOAT32) {
    pfw_binary_f32_run(node, PFW_CONST_INPUTS(node), op);
    return PFW_OK;
  }
  const bin_fn fn = pick(op, a->dtype);
  pfw_bcast it;
  pfw_bcast_init(&it, 2, PFW_CONST_INPUTS(node), o);
  pfw_bcast_for(&it, PFW_CONST_INPUTS(node), o, bin_row, &fn);
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

pfw_status pfw_need_float(const pfw_node* node, int32_t i) {
  const pfw_tensor* x = node->in[i];
  if (x->dtype != PFW_FLOAT32 && x->dtype != PFW_FLOAT64)
    return pfw_error(PFW_ERR_UNSUPPORTED, "input %d has dtype %s; supported: float32, float64", (int)i,
                     pfw_dtype_name(x->dtype));
  return PFW_OK;
}

pfw_status pfw_float_unary_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, 1);
  if (st == PFW_OK) st = pfw_need_float(node, 0);
  if (st != PFW_OK) return st;
  return pfw_set_output(node->out[0], node->in[0]->dtype, node->in[0]->rank, node->in[0]->dims);
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
UNARY_RUN(relu_scalar_run, RELU, RELU)
UNARY_RUN(sigmoid_scalar_run, sigmoid_f, sigmoid_d)
UNARY_RUN(tanh_scalar_run, tanhf, tanh)

/* float32 above the scalar ISA: the vector forms, split over the pool. */
#define VEC_UNARY_RUN(name, vec, scalar)                                              \
  static pfw_status name(pfw_node* node) {                                           \
    const pfw_vec_kernels* k = pfw_vec_kernels_for(node->isa);                       \
    if (k && node->in[0]->dtype == PFW_FLOAT32) return pfw_vec_map_run(node, k->vec); \
    return scalar(node);                                                             \
  }
VEC_UNARY_RUN(relu_run, relu, relu_scalar_run)
VEC_UNARY_RUN(sigmoid_run, sigmoid, sigmoid_scalar_run)
VEC_UNARY_RUN(tanh_run, tanh, tanh_scalar_run)

const pfw_op pfw_op_Relu = {PFW_OP_Relu, pfw_float_unary_prepare, relu_run, PFW_OPF_INPLACE};
const pfw_op pfw_op_Sigmoid = {PFW_OP_Sigmoid, pfw_float_unary_prepare, sigmoid_run, PFW_OPF_INPLACE};
const pfw_op pfw_op_Tanh = {PFW_OP_Tanh, pfw_float_unary_prepare, tanh_run, PFW_OPF_INPLACE};
