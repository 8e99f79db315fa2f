/* Comparisons Equal, Less, LessOrEqual, Greater, GreaterOrEqual (float32,
 * float64, float16, bfloat16 and the 8- to 64-bit integers; Equal also bool) and the logical And, Or, Xor
 * (bool), all with a bool output; Equal also compares strings (bytes); Where (any dtype). Multidirectional
 * broadcasting through pfw_bcast (elementwise.c). */
#include <string.h>

#include "ops_common.h"

enum { CMP_EQ, CMP_LT, CMP_LE, CMP_GT, CMP_GE, CMP_COUNT };

#define CMP_LOOPS(T, sfx)                   \
  PFW_ROW_LOOP(eq_##sfx, T, bool, x == y)       \
  PFW_ROW_LOOP(lt_##sfx, T, bool, x < y)        \
  PFW_ROW_LOOP(le_##sfx, T, bool, x <= y)       \
  PFW_ROW_LOOP(gt_##sfx, T, bool, x > y)        \
  PFW_ROW_LOOP(ge_##sfx, T, bool, x >= y)
CMP_LOOPS(float, f32)
CMP_LOOPS(double, f64)
CMP_LOOPS(int32_t, i32)
CMP_LOOPS(int64_t, i64)
CMP_LOOPS(int8_t, i8)
CMP_LOOPS(uint8_t, u8)
CMP_LOOPS(int16_t, i16)
CMP_LOOPS(uint16_t, u16)
CMP_LOOPS(uint32_t, u32)
CMP_LOOPS(uint64_t, u64)
/* float16 and bfloat16 compared as the floats they hold (so -0 == 0, NaN unequal). */
#define HALF_CMP_LOOPS(sfx, TO)                                        \
  PFW_ROW_LOOP(eq_##sfx, uint16_t, bool, TO(x) == TO(y))               \
  PFW_ROW_LOOP(lt_##sfx, uint16_t, bool, TO(x) < TO(y))                \
  PFW_ROW_LOOP(le_##sfx, uint16_t, bool, TO(x) <= TO(y))               \
  PFW_ROW_LOOP(gt_##sfx, uint16_t, bool, TO(x) > TO(y))                \
  PFW_ROW_LOOP(ge_##sfx, uint16_t, bool, TO(x) >= TO(y))
HALF_CMP_LOOPS(f16, pfw_half_to_float)
HALF_CMP_LOOPS(bf16, pfw_bf16_to_float)
static const pfw_bcast_row half_cmp_table[2][CMP_COUNT] = {
    {eq_f16, lt_f16, le_f16, gt_f16, ge_f16}, {eq_bf16, lt_bf16, le_bf16, gt_bf16, ge_bf16}};
/* bool inputs are bytes; any non-zero byte is true. */
PFW_ROW_LOOP(eq_b, uint8_t, bool, (x != 0) == (y != 0))
PFW_ROW_LOOP(and_b, uint8_t, bool, x != 0 && y != 0)
PFW_ROW_LOOP(or_b, uint8_t, bool, x != 0 || y != 0)
PFW_ROW_LOOP(xor_b, uint8_t, bool, (x != 0) != (y != 0))
PFW_ROW_LOOP(eq_s, pfw_string, bool, pfw_str_equal(x, y))

static const pfw_bcast_row cmp_table[PFW_NUMERIC_TYPES][CMP_COUNT] = {
    {eq_f32, lt_f32, le_f32, gt_f32, ge_f32}, {eq_f64, lt_f64, le_f64, gt_f64, ge_f64},
    {eq_i32, lt_i32, le_i32, gt_i32, ge_i32}, {eq_i64, lt_i64, le_i64, gt_i64, ge_i64},
    {eq_i8, lt_i8, le_i8, gt_i8, ge_i8},      {eq_u8, lt_u8, le_u8, gt_u8, ge_u8},
    {eq_i16, lt_i16, le_i16, gt_i16, ge_i16}, {eq_u16, lt_u16, le_u16, gt_u16, ge_u16},
    {eq_u32, lt_u32, le_u32, gt_u32, ge_u32}, {eq_u64, lt_u64, le_u64, gt_u64, ge_u64},
};

/* Exactly n_in inputs, all present, and output 0. */
static pfw_status present_inputs(const pfw_node* node, int32_t n_in) {
  pfw_status st = pfw_need_io(node, n_in, n_in);
  for (int32_t i = 1; i < n_in && st == PFW_OK; i++)
    if (!node->in[i]) st = pfw_error(PFW_ERR_INVALID_MODEL, "input %d is required but absent", (int)i);
  return st;
}

/* Checks n_in present inputs of one dtype (input 0's, which `ok` accepts). */
static pfw_status same_dtype_inputs(const pfw_node* node, int32_t n_in, bool ok, const char* supported) {
  pfw_status st0 = present_inputs(node, n_in);
  if (st0 != PFW_OK) return st0;
  if (!ok)
    return pfw_error(PFW_ERR_UNSUPPORTED, "input 0 has dtype %s; supported: %s", pfw_dtype_name(node->in[0]->dtype),
                     supported);
  for (int32_t i = 1; i < n_in; i++) {
    pfw_status st = pfw_check_input(node, i, node->in[0]->dtype, -1);
    if (st != PFW_OK) return st;
  }
  return PFW_OK;
}

static pfw_status compare_prepare(pfw_node* node) {
  pfw_dtype t = node->in[0] ? node->in[0]->dtype : PFW_DTYPE_UNDEFINED;
  bool is_equal = node->desc->op == PFW_OP_Equal;
  bool ok = pfw_numeric_index(t) >= 0 || t == PFW_FLOAT16 || t == PFW_BFLOAT16 ||
            (is_equal && (t == PFW_BOOL || t == PFW_STRING));
  pfw_status st = same_dtype_inputs(node, 2, ok,
                                    is_equal ? PFW_NUMERIC_NAMES ", float16, bfloat16, bool, string"
                                             : PFW_NUMERIC_NAMES ", float16, bfloat16");
  return st != PFW_OK ? st : pfw_bcast_prepare(node, 2, PFW_BOOL);
}

static pfw_status logic_prepare(pfw_node* node) {
  pfw_status st = same_dtype_inputs(node, 2, node->in[0] && node->in[0]->dtype == PFW_BOOL, "bool");
  return st != PFW_OK ? st : pfw_bcast_prepare(node, 2, PFW_BOOL);
}

static pfw_status run_rows(pfw_node* node, int32_t n_in, pfw_bcast_row row, const void* ctx) {
  if (pfw_numel(node->out[0]) == 0) return PFW_OK;
  pfw_bcast it;
  pfw_bcast_init(&it, n_in, PFW_CONST_INPUTS(node), node->out[0]);
  pfw_bcast_for(&it, PFW_CONST_INPUTS(node), node->out[0], row, ctx);
  return PFW_OK;
}

static pfw_status compare_run(pfw_node* node, int op) {
  pfw_dtype t = node->in[0]->dtype;
  if (t == PFW_FLOAT16 || t == PFW_BFLOAT16) return run_rows(node, 2, half_cmp_table[t == PFW_BFLOAT16][op], NULL);
  if (t == PFW_STRING) return run_rows(node, 2, eq_s, NULL); /* prepare lets strings reach Equal only */
  return run_rows(node, 2, t == PFW_BOOL ? eq_b : cmp_table[pfw_numeric_index(t)][op], NULL);
}

static pfw_status equal_run(pfw_node* node) { return compare_run(node, CMP_EQ); }
static pfw_status less_run(pfw_node* node) { return compare_run(node, CMP_LT); }
static pfw_status less_equal_run(pfw_node* node) { return compare_run(node, CMP_LE); }
static pfw_status greater_run(pfw_node* node) { return compare_run(node, CMP_GT); }
static pfw_status greater_equal_run(pfw_node* node) { return compare_run(node, CMP_GE); }
static pfw_status and_run(pfw_node* node) { return run_rows(node, 2, and_b, NULL); }
static pfw_status or_run(pfw_node* node) { return run_rows(node, 2, or_b, NULL); }
static pfw_status xor_run(pfw_node* node) { return run_rows(node, 2, xor_b, NULL); }

/* The comparisons' output is bool, not their inputs' dtype: never in place. */
const pfw_op pfw_op_Equal = {PFW_OP_Equal, compare_prepare, equal_run, PFW_OPF_STRINGS};
const pfw_op pfw_op_Less = {PFW_OP_Less, compare_prepare, less_run, 0};
const pfw_op pfw_op_LessOrEqual = {PFW_OP_LessOrEqual, compare_prepare, less_equal_run, 0};
const pfw_op pfw_op_Greater = {PFW_OP_Greater, compare_prepare, greater_run, 0};
const pfw_op pfw_op_GreaterOrEqual = {PFW_OP_GreaterOrEqual, compare_prepare, greater_equal_run, 0};
/* Logical ops read element i of input 0 before writing element i. */
const pfw_op pfw_op_And = {PFW_OP_And, logic_prepare, and_run, PFW_OPF_INPLACE};
const pfw_op pfw_op_Or = {PFW_OP_Or, logic_prepare, or_run, PFW_OPF_INPLACE};
const pfw_op pfw_op_Xor = {PFW_OP_Xor, logic_prepare, xor_run, PFW_OPF_INPLACE};

/* ---- Where ---------------------------------------------------------------------
 * out = cond ? X : Y, broadcast three ways; X and Y of any one dtype, copied
 * as bytes. */

static pfw_status where_prepare(pfw_node* node) {
  pfw_status st = present_inputs(node, 3);
  if (st == PFW_OK) st = pfw_check_input(node, 0, PFW_BOOL, -1);
  if (st != PFW_OK) return st;
  pfw_dtype t = node->in[1]->dtype;
  if (pfw_dtype_size(t) == 0)
    return pfw_error(PFW_ERR_UNSUPPORTED, "input 1 has dtype %s; Where needs fixed-size elements",
                     pfw_dtype_name(t));
  st = pfw_check_input(node, 2, t, -1);
  return st != PFW_OK ? st : pfw_bcast_prepare(node, 3, t);
}

/* Elements of 1, 2, 4 or 8 bytes move as integers of that width: a memcpy
 * call per element cost ten times the select. */
#define WHERE_TYPED(T)                                                     \
  do {                                                                     \
    const T *x = (const T*)in[1], *y = (const T*)in[2];                    \
    T* o = (T*)out;                                                        \
    for (int64_t i = 0; i < n; i++) o[i] = c[i * s[0]] ? x[i * s[1]] : y[i * s[2]]; \
    return;                                                                \
  } while (0)

static void where_row(const void* ctx, const char* const* in, const int64_t* s, char* out, int64_t n) {
  size_t es = *(const size_t*)ctx;
  const uint8_t* c = (const uint8_t*)in[0];
  switch (es) {
    case 1: WHERE_TYPED(uint8_t);
    case 2: WHERE_TYPED(uint16_t);
    case 4: WHERE_TYPED(uint32_t);
    case 8: WHERE_TYPED(uint64_t);
    default: break;
  }
  for (int64_t i = 0; i < n; i++) {
    const char* src = c[i * s[0]] ? in[1] + (size_t)(i * s[1]) * es : in[2] + (size_t)(i * s[2]) * es;
    memcpy(out + (size_t)i * es, src, es);
  }
}

static pfw_status where_run(pfw_node* node) {
  size_t es = pfw_dtype_size(node->in[1]->dtype);
  return run_rows(node, 3, where_row, &es);
}

const pfw_op pfw_op_Where = {PFW_OP_Where, where_prepare, where_run, PFW_OPF_STRINGS};
