/* Broadcasting binary and variadic math: Pow (float32/float64/int32/int64
 * base, any numeric exponent), Mod (integers of 8 to 64 bits Python- or
 * C-style, float32/float64/float16/bfloat16 with fmod=1, or 0 from Mod-28), PRelu (slope broadcast
 * to X), and the variadic Max, Min (float32, float64, float16, bfloat16, 8- to 64-bit integers),
 * Sum, Mean (float32, float64). Iteration through pfw_bcast (elementwise.c). */
#include <math.h>
#include <string.h>

#include "ops_common.h"

static pfw_status broadcast_run(pfw_node* node, const pfw_tensor* const* in, int32_t n_in, pfw_bcast_row row,
                                const void* ctx) {
  pfw_bcast it;
  pfw_bcast_init(&it, n_in, in, node->out[0]);
  pfw_bcast_for(&it, in, node->out[0], row, ctx);
  return PFW_OK;
}

static pfw_status two_inputs(const pfw_node* node) {
  pfw_status st = pfw_need_io(node, 2, 2);
  if (st == PFW_OK && !node->in[1]) st = pfw_error(PFW_ERR_INVALID_MODEL, "input 1 is required but absent");
  return st;
}

static bool is_float(pfw_dtype t) { return t == PFW_FLOAT32 || t == PFW_FLOAT64; }
static bool is_half(pfw_dtype t) { return t == PFW_FLOAT16 || t == PFW_BFLOAT16; }

/* ---- Pow -------------------------------------------------------------------------- */

/* pow in double, rounded once to the base's dtype. */
#define POW_LOOP(name, TX, TY)                                                                    \
  static void name(const void* ctx, const char* const* in, const int64_t* s, char* out, int64_t n) { \
    (void)ctx;                                                                                    \
    const TX* a = (const TX*)in[0];                                                               \
    const TY* b = (const TY*)in[1];                                                               \
    TX* o = (TX*)out;                                                                             \
    for (int64_t i = 0; i < n; i++) o[i] = (TX)pow((double)a[i * s[0]], (double)b[i * s[1]]);    \
  }
POW_LOOP(pow_f32_f32, float, float)
POW_LOOP(pow_f32_f64, float, double)
POW_LOOP(pow_f32_i32, float, int32_t)
POW_LOOP(pow_f32_i64, float, int64_t)
POW_LOOP(pow_f64_f32, double, float)
POW_LOOP(pow_f64_f64, double, double)
POW_LOOP(pow_f64_i32, double, int32_t)
POW_LOOP(pow_f64_i64, double, int64_t)

/* float32, float64, int32, int64 as 0..3 (the fast Pow table), else -1. */
static int type_index(pfw_dtype t) {
  int i = pfw_numeric_index(t);
  return i < 4 ? i : -1;
}

/* Element 0 of p as a double / as an integer exponent split into sign and
 * magnitude, for any numeric dtype. */
static double load_double(const char* p, pfw_dtype t) {
  switch (t) {
    case PFW_FLOAT32: return *(const float*)p;
    case PFW_FLOAT64: return *(const double*)p;
    case PFW_INT8: return *(const int8_t*)p;
    case PFW_UINT8: return *(const uint8_t*)p;
    case PFW_INT16: return *(const int16_t*)p;
    case PFW_UINT16: return *(const uint16_t*)p;
    case PFW_INT32: return *(const int32_t*)p;
    case PFW_UINT32: return *(const uint32_t*)p;
    case PFW_INT64: return (double)*(const int64_t*)p;
    default: return (double)*(const uint64_t*)p;
  }
}

static uint64_t load_magnitude(const char* p, pfw_dtype t, bool* negative) {
  if (t == PFW_UINT64) {
    *negative = false;
    return *(const uint64_t*)p;
  }
  double v = load_double(p, t); /* exact for every other integer dtype but int64 */
  int64_t i = t == PFW_INT64 ? *(const int64_t*)p : (int64_t)v;
  *negative = i < 0;
  return i < 0 ? 0u - (uint64_t)i : (uint64_t)i;
}

/* x^e modulo 2^64 by squaring: narrowed, it is the wrapped power of any width. */
static uint64_t ipow_wrap(uint64_t x, uint64_t e) {
  uint64_t r = 1;
  for (; e; e >>= 1, x *= x)
    if (e & 1) r *= x;
  return r;
}

/* Integer base: an integral exponent >= 0 gives the exact power wrapped to the
 * base's width (as NumPy); a negative or fractional one goes through double
 * pow, truncated toward zero and saturated to the type (NaN gives 0), where a
 * plain C conversion would be undefined. */
#define IPOW_ROW(name, T, TMIN, TMAX)                                                             \
  static void name(const void* ctx, const char* const* in, const int64_t* s, char* out, int64_t n) { \
    pfw_dtype et = *(const pfw_dtype*)ctx;                                                         \
    size_t es = pfw_dtype_size(et);                                                                \
    bool integral = pfw_numeric_index(et) >= 2;                                                    \
    const T* a = (const T*)in[0];                                                                  \
    T* o = (T*)out;                                                                                \
    for (int64_t i = 0; i < n; i++) {                                                              \
      const char* pe = in[1] + (size_t)(i * s[1]) * es;                                            \
      T x = a[i * s[0]];                                                                           \
      bool neg = false;                                                                            \
      uint64_t m = integral ? load_magnitude(pe, et, &neg) : 0;                                    \
      if (integral && !neg) {                                                                      \
        o[i] = (T)ipow_wrap((uint64_t)x, m);                                                       \
        continue;                                                                                  \
      }                                                                                            \
      double r = pow((double)x, load_double(pe, et));                                              \
      o[i] = r != r ? 0 : r <= (double)(TMIN) ? (TMIN) : r >= (double)(TMAX) ? (TMAX) : (T)r;      \
    }                                                                                              \
  }
IPOW_ROW(pow_i32_any, int32_t, INT32_MIN, INT32_MAX)
IPOW_ROW(pow_i64_any, int64_t, INT64_MIN, INT64_MAX)

/* Float base with an exponent of any other numeric dtype. */
#define FPOW_ROW(name, T)                                                                         \
  static void name(const void* ctx, const char* const* in, const int64_t* s, char* out, int64_t n) { \
    pfw_dtype et = *(const pfw_dtype*)ctx;                                                         \
    size_t es = pfw_dtype_size(et);                                                                \
    const T* a = (const T*)in[0];                                                                  \
    T* o = (T*)out;                                                                                \
    for (int64_t i = 0; i < n; i++)                                                                \
      o[i] = (T)pow((double)a[i * s[0]], load_double(in[1] + (size_t)(i * s[1]) * es, et));        \
  }
FPOW_ROW(pow_f32_any, float)
FPOW_ROW(pow_f64_any, double)

static pfw_status pow_prepare(pfw_node* node) {
  pfw_status st = two_inputs(node);
  if (st != PFW_OK) return st;
  pfw_dtype x = node->in[0]->dtype, y = node->in[1]->dtype;
  if (type_index(x) < 0)
    return pfw_error(PFW_ERR_UNSUPPORTED, "input 0 (base) has dtype %s; supported: float32, float64, int32, int64",
                     pfw_dtype_name(x));
  if (pfw_numeric_index(y) < 0)
    return pfw_error(PFW_ERR_UNSUPPORTED,
                     "input 1 (exponent) has dtype %s; supported: float32, float64, 8- to 64-bit integers",
                     pfw_dtype_name(y));
  return pfw_bcast_prepare(node, 2, x);
}

static pfw_status pow_run(pfw_node* node) {
  static const pfw_bcast_row fast[2][4] = {
      {pow_f32_f32, pow_f32_f64, pow_f32_i32, pow_f32_i64},
      {pow_f64_f32, pow_f64_f64, pow_f64_i32, pow_f64_i64},
  };
  static const pfw_bcast_row any[4] = {pow_f32_any, pow_f64_any, pow_i32_any, pow_i64_any};
  int xi = type_index(node->in[0]->dtype), yi = type_index(node->in[1]->dtype);
  pfw_dtype et = node->in[1]->dtype;
  pfw_bcast_row row = xi < 2 && yi >= 0 ? fast[xi][yi] : any[xi];
  return broadcast_run(node, PFW_CONST_INPUTS(node), 2, row, &et);
}

/* ---- Mod -------------------------------------------------------------------------- */

/* fmod=0: the result takes the divisor's sign (Python's %); fmod=1: the
 * dividend's (C's % and fmod). y == -1 is special-cased because MIN % -1
 * traps in C; its remainder is 0 either way. The divisor was checked
 * non-zero. */
#define IMOD_PY(x, y) ((y) == -1 ? 0 : ((x) % (y) != 0 && (((x) % (y) < 0) != ((y) < 0)) ? (x) % (y) + (y) : (x) % (y)))
#define IMOD_C(x, y) ((y) == -1 ? 0 : (x) % (y))
PFW_ROW_LOOP(mod_py_i32, int32_t, int32_t, IMOD_PY(x, y))
PFW_ROW_LOOP(mod_py_i64, int64_t, int64_t, IMOD_PY(x, y))
PFW_ROW_LOOP(mod_c_i32, int32_t, int32_t, IMOD_C(x, y))
PFW_ROW_LOOP(mod_c_i64, int64_t, int64_t, IMOD_C(x, y))
/* 8- and 16-bit operands promote to int, where neither form can trap. */
PFW_ROW_LOOP(mod_py_i8, int8_t, int8_t, (int8_t)IMOD_PY((int)x, (int)y))
PFW_ROW_LOOP(mod_py_i16, int16_t, int16_t, (int16_t)IMOD_PY((int)x, (int)y))
PFW_ROW_LOOP(mod_c_i8, int8_t, int8_t, (int8_t)((int)x % (int)y))
PFW_ROW_LOOP(mod_c_i16, int16_t, int16_t, (int16_t)((int)x % (int)y))
/* Unsigned: both forms are the plain remainder. */
PFW_ROW_LOOP(mod_u8, uint8_t, uint8_t, (uint8_t)(x % y))
PFW_ROW_LOOP(mod_u16, uint16_t, uint16_t, (uint16_t)(x % y))
PFW_ROW_LOOP(mod_u32, uint32_t, uint32_t, x % y)
PFW_ROW_LOOP(mod_u64, uint64_t, uint64_t, x % y)
PFW_ROW_LOOP(mod_f32, float, float, fmodf(x, y))
PFW_ROW_LOOP(mod_f64, double, double, fmod(x, y))

/* Floor modulo of floats (Mod-28, fmod=0): the C remainder moved into the
 * divisor's sign; a zero takes the divisor's sign; x finite and y = ±inf of
 * the other sign gives y. NaN, inf and zero divisors come out of fmod as
 * ONNX specifies. */
static double floor_mod(double x, double y) {
  double r = fmod(x, y);
  if (r == 0) return copysign(0.0, y);
  return (r < 0) != (y < 0) ? r + y : r;
}
PFW_ROW_LOOP(mod_py_f32, float, float, (float)floor_mod(x, y))
PFW_ROW_LOOP(mod_py_f64, double, double, floor_mod(x, y))
/* float16 and bfloat16 through float32: fmod is exact in any binary format,
 * so only the floor form's final add rounds, once, as float16 arithmetic would. */
PFW_ROW_LOOP(mod_f16, uint16_t, uint16_t, pfw_float_to_half(fmodf(pfw_half_to_float(x), pfw_half_to_float(y))))
PFW_ROW_LOOP(mod_py_f16, uint16_t, uint16_t,
             pfw_float_to_half((float)floor_mod(pfw_half_to_float(x), pfw_half_to_float(y))))
PFW_ROW_LOOP(mod_bf16, uint16_t, uint16_t, pfw_float_to_bf16(fmodf(pfw_bf16_to_float(x), pfw_bf16_to_float(y))))
PFW_ROW_LOOP(mod_py_bf16, uint16_t, uint16_t,
             pfw_float_to_bf16((float)floor_mod(pfw_bf16_to_float(x), pfw_bf16_to_float(y))))

static pfw_status mod_prepare(pfw_node* node) {
  pfw_status st = two_inputs(node);
  if (st != PFW_OK) return st;
  pfw_dtype t = node->in[0]->dtype;
  if (pfw_numeric_index(t) < 0 && !is_half(t))
    return pfw_error(PFW_ERR_UNSUPPORTED,
                     "input 0 has dtype %s; supported: float32, float64, float16, bfloat16, 8- to 64-bit integers",
                     pfw_dtype_name(t));
  st = pfw_check_input(node, 1, t, -1);
  if (st != PFW_OK) return st;
  int64_t fm = pfw_attr_int(node, "fmod", 0);
  if (fm != 0 && fm != 1) return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'fmod' is %lld; expected 0 or 1", (long long)fm);
  if ((is_float(t) || is_half(t)) && fm == 0 && node->desc->version < 28)
    return pfw_error(PFW_ERR_INVALID_MODEL,
                     "attribute 'fmod' is 0 for %s inputs; before Mod-28 ONNX requires fmod=1 for floats",
                     pfw_dtype_name(t));
  return pfw_bcast_prepare(node, 2, t);
}

static pfw_status mod_run(pfw_node* node) {
  /* [pfw_numeric_index][fmod] */
  static const pfw_bcast_row table[10][2] = {
      {mod_py_f32, mod_f32}, {mod_py_f64, mod_f64}, {mod_py_i32, mod_c_i32}, {mod_py_i64, mod_c_i64},
      {mod_py_i8, mod_c_i8}, {mod_u8, mod_u8},       {mod_py_i16, mod_c_i16}, {mod_u16, mod_u16},
      {mod_u32, mod_u32},    {mod_u64, mod_u64},
  };
  static const pfw_bcast_row halves[2][2] = {{mod_py_f16, mod_f16}, {mod_py_bf16, mod_bf16}};
  pfw_dtype t = node->in[0]->dtype;
  int fm = pfw_attr_int(node, "fmod", 0) == 1;
  if (is_half(t)) return broadcast_run(node, PFW_CONST_INPUTS(node), 2, halves[t == PFW_BFLOAT16][fm], NULL);
  int ti = pfw_numeric_index(t);
  if (ti >= 2 && pfw_numel(node->out[0]) > 0 && pfw_has_zero(node->in[1]))
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "integer modulo by zero (input 1 holds a 0)");
  return broadcast_run(node, PFW_CONST_INPUTS(node), 2, table[ti][fm], NULL);
}

/* ---- PRelu ------------------------------------------------------------------------ */

PFW_ROW_LOOP(prelu_f32, float, float, x < 0 ? x * y : x)
PFW_ROW_LOOP(prelu_f64, double, double, x < 0 ? x * y : x)

/* The slope broadcasts to X one way: the output has X's shape. */
static pfw_status prelu_prepare(pfw_node* node) {
  pfw_status st = two_inputs(node);
  if (st != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  st = pfw_need_float(node, 0);
  if (st == PFW_OK) st = pfw_check_input(node, 1, x->dtype, -1);
  if (st != PFW_OK) return st;
  st = pfw_bcast_prepare(node, 2, x->dtype);
  if (st != PFW_OK) return st;
  const pfw_tensor* o = node->out[0];
  if (o->rank != x->rank || memcmp(o->dims, x->dims, sizeof(int64_t) * (size_t)x->rank) != 0)
    return pfw_error(PFW_ERR_SHAPE, "slope (input 1) does not broadcast to the shape of X (input 0)");
  return PFW_OK;
}

static pfw_status prelu_run(pfw_node* node) {
  return broadcast_run(node, PFW_CONST_INPUTS(node), 2, node->in[0]->dtype == PFW_FLOAT32 ? prelu_f32 : prelu_f64,
                       NULL);
}

/* ---- variadic Max, Min, Sum, Mean ----------------------------------------------------
 * The output is first input 0 op input 1 (or a broadcast copy of a single
 * input), then folded with each further input in order (as ONNX Runtime
 * does), reading the output at its own shape. */

#define VMAX(x, y) ((x) > (y) || (x) != (x) ? (x) : (y)) /* NaN in either propagates */
#define VMIN(x, y) ((x) < (y) || (x) != (x) ? (x) : (y))
#define MINMAX_LOOPS(T, sfx)                \
  PFW_ROW_LOOP(max_##sfx, T, T, VMAX(x, y)) \
  PFW_ROW_LOOP(min_##sfx, T, T, VMIN(x, y))
MINMAX_LOOPS(float, f32)
MINMAX_LOOPS(double, f64)
MINMAX_LOOPS(int32_t, i32)
MINMAX_LOOPS(int64_t, i64)
MINMAX_LOOPS(int8_t, i8)
MINMAX_LOOPS(uint8_t, u8)
MINMAX_LOOPS(int16_t, i16)
MINMAX_LOOPS(uint16_t, u16)
MINMAX_LOOPS(uint32_t, u32)
MINMAX_LOOPS(uint64_t, u64)
/* float16/bfloat16: compared as floats, the chosen input's bits kept. */
#define HMAX(fx, fy, x, y) ((fx) > (fy) || (fx) != (fx) ? (x) : (y))
#define HMIN(fx, fy, x, y) ((fx) < (fy) || (fx) != (fx) ? (x) : (y))
PFW_ROW_LOOP(max_f16, uint16_t, uint16_t, HMAX(pfw_half_to_float(x), pfw_half_to_float(y), x, y))
PFW_ROW_LOOP(min_f16, uint16_t, uint16_t, HMIN(pfw_half_to_float(x), pfw_half_to_float(y), x, y))
PFW_ROW_LOOP(max_bf16, uint16_t, uint16_t, HMAX(pfw_bf16_to_float(x), pfw_bf16_to_float(y), x, y))
PFW_ROW_LOOP(min_bf16, uint16_t, uint16_t, HMIN(pfw_bf16_to_float(x), pfw_bf16_to_float(y), x, y))
/* Sum and Mean are float-only in ONNX; float32 takes pfw_binary_f32_run. */
PFW_ROW_LOOP(sum_f64, double, double, x + y)

enum { FOLD_MAX, FOLD_MIN, FOLD_SUM };

static void copy_row(const void* ctx, const char* const* in, const int64_t* s, char* out, int64_t n) {
  size_t es = *(const size_t*)ctx;
  for (int64_t i = 0; i < n; i++) memcpy(out + (size_t)i * es, in[0] + (size_t)(i * s[0]) * es, es);
}

static pfw_status variadic_prepare(pfw_node* node) {
  bool float_only = node->desc->op == PFW_OP_Sum || node->desc->op == PFW_OP_Mean;
  if (node->n_in < 1) return pfw_error(PFW_ERR_INVALID_MODEL, "expected at least 1 input");
  if (node->n_out < 1) return pfw_error(PFW_ERR_INVALID_MODEL, "expected 1 output");
  for (int32_t i = 0; i < node->n_in; i++)
    if (!node->in[i]) return pfw_error(PFW_ERR_INVALID_MODEL, "input %d is absent", (int)i);
  pfw_dtype t = node->in[0]->dtype;
  if (float_only ? !is_float(t) : pfw_numeric_index(t) < 0 && !is_half(t))
    return pfw_error(PFW_ERR_UNSUPPORTED, "input 0 has dtype %s; supported: %s", pfw_dtype_name(t),
                     float_only ? "float32, float64" : PFW_NUMERIC_NAMES ", float16, bfloat16");
  for (int32_t i = 1; i < node->n_in; i++) {
    pfw_status st = pfw_check_input(node, i, t, -1);
    if (st != PFW_OK) return st;
  }
  return pfw_bcast_prepare(node, node->n_in, t);
}

/* One fold step o = a op b; float32 Sum goes through the vector Add rows.
 * Every row is element-wise, so it may be split over the pool. */
static void fold(pfw_node* node, const pfw_tensor* a, const pfw_tensor* b, pfw_bcast_row row) {
  const pfw_tensor* pair[2] = {a, b};
  if (!row) {
    pfw_binary_f32_run(node, pair, 0 /* Add */);
    return;
  }
  pfw_bcast it;
  pfw_bcast_init(&it, 2, pair, node->out[0]);
  pfw_bcast_for_pool(&it, pair, node->out[0], row, NULL, node->pool);
}

static pfw_status variadic_run(pfw_node* node, int op) {
  static const pfw_bcast_row table[PFW_NUMERIC_TYPES][3] = {
      {max_f32, min_f32, NULL},    {max_f64, min_f64, sum_f64}, {max_i32, min_i32, NULL},
      {max_i64, min_i64, NULL},    {max_i8, min_i8, NULL},      {max_u8, min_u8, NULL},
      {max_i16, min_i16, NULL},    {max_u16, min_u16, NULL},    {max_u32, min_u32, NULL},
      {max_u64, min_u64, NULL},
  };
  pfw_tensor* o = node->out[0];
  int64_t n = pfw_numel(o);
  if (n == 0) return PFW_OK;
  static const pfw_bcast_row halves[2][2] = {{max_f16, min_f16}, {max_bf16, min_bf16}};
  pfw_dtype t = o->dtype;
  pfw_bcast_row row = is_half(t) ? halves[t == PFW_BFLOAT16][op] : table[pfw_numeric_index(t)][op];
  if (node->n_in == 1) {
    size_t es = pfw_dtype_size(t);
    const pfw_tensor* first[1] = {node->in[0]};
    broadcast_run(node, first, 1, copy_row, &es);
  } else {
    fold(node, node->in[0], node->in[1], row);
  }
  for (int32_t i = 2; i < node->n_in; i++) fold(node, o, node->in[i], row);
  if (node->desc->op == PFW_OP_Mean && node->n_in > 1) {
    double k = (double)node->n_in;
    if (t == PFW_FLOAT32) {
      float* y = o->data;
      for (int64_t i = 0; i < n; i++) y[i] = (float)(y[i] / k);
    } else {
      double* y = o->data;
      for (int64_t i = 0; i < n; i++) y[i] /= k;
    }
  }
  return PFW_OK;
}

static pfw_status max_run(pfw_node* node) { return variadic_run(node, FOLD_MAX); }
static pfw_status min_run(pfw_node* node) { return variadic_run(node, FOLD_MIN); }
static pfw_status sum_run(pfw_node* node) { return variadic_run(node, FOLD_SUM); }

/* Element i of input 0 is read before element i of the output is written,
 * and the planner aliases only same-size tensors: in place is safe for the
 * binary ops. Not for the variadic ones: after the first fold the output no
 * longer holds input 0, which may be read again as a later input (Sum(x, y, x)). */
const pfw_op pfw_op_Pow = {PFW_OP_Pow, pow_prepare, pow_run, PFW_OPF_INPLACE};
const pfw_op pfw_op_Mod = {PFW_OP_Mod, mod_prepare, mod_run, PFW_OPF_INPLACE};
const pfw_op pfw_op_PRelu = {PFW_OP_PRelu, prelu_prepare, prelu_run, PFW_OPF_INPLACE};
const pfw_op pfw_op_Max = {PFW_OP_Max, variadic_prepare, max_run, 0};
const pfw_op pfw_op_Min = {PFW_OP_Min, variadic_prepare, min_run, 0};
const pfw_op pfw_op_Sum = {PFW_OP_Sum, variadic_prepare, sum_run, 0};
const pfw_op pfw_op_Mean = {PFW_OP_Mean, variadic_prepare, sum_run, 0};
