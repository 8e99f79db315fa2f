/* BitShift and BitwiseAnd/Or/Xor/Not over the integer dtypes, broadcasting.
 * A shift amount outside [0, bits) gives 0 (and -1 for a negative signed
 * value shifted right); signed values shift left as their unsigned bits and
 * right arithmetically, as ONNX's reference. */
#include <string.h>

#include "ops_common.h"

/* Index of an integer dtype: int8, int16, int32, int64, uint8 ... uint64, or -1. */
static int int_index(pfw_dtype t) {
  switch (t) {
    case PFW_INT8: return 0;
    case PFW_INT16: return 1;
    case PFW_INT32: return 2;
    case PFW_INT64: return 3;
    case PFW_UINT8: return 4;
    case PFW_UINT16: return 5;
    case PFW_UINT32: return 6;
    case PFW_UINT64: return 7;
    default: return -1;
  }
}

#define OUT_OF_RANGE(y, BITS) ((uint64_t)(y) >= (BITS)) /* a negative signed y wraps above BITS */
#define SHIFT_ROWS(tag, T, U, BITS)                                                   \
  PFW_ROW_LOOP(shl_##tag, T, T, OUT_OF_RANGE(y, BITS) ? (T)0 : (T)((U)x << y))
#define SHR_UNSIGNED(tag, T, BITS) PFW_ROW_LOOP(shr_##tag, T, T, OUT_OF_RANGE(y, BITS) ? (T)0 : (T)(x >> y))
/* ~(~x >> y) is the arithmetic shift of a negative x without relying on
 * implementation-defined >> of negative values. */
#define SHR_SIGNED(tag, T, BITS)                                                                 \
  PFW_ROW_LOOP(shr_##tag, T, T,                                                                  \
               OUT_OF_RANGE(y, BITS) ? (T)(x < 0 ? -1 : 0) : (T)(x < 0 ? ~(~x >> y) : x >> y))
SHIFT_ROWS(i8, int8_t, uint8_t, 8)
SHIFT_ROWS(i16, int16_t, uint16_t, 16)
SHIFT_ROWS(i32, int32_t, uint32_t, 32)
SHIFT_ROWS(i64, int64_t, uint64_t, 64)
SHIFT_ROWS(u8, uint8_t, uint8_t, 8)
SHIFT_ROWS(u16, uint16_t, uint16_t, 16)
SHIFT_ROWS(u32, uint32_t, uint32_t, 32)
SHIFT_ROWS(u64, uint64_t, uint64_t, 64)
SHR_SIGNED(i8, int8_t, 8)
SHR_SIGNED(i16, int16_t, 16)
SHR_SIGNED(i32, int32_t, 32)
SHR_SIGNED(i64, int64_t, 64)
SHR_UNSIGNED(u8, uint8_t, 8)
SHR_UNSIGNED(u16, uint16_t, 16)
SHR_UNSIGNED(u32, uint32_t, 32)
SHR_UNSIGNED(u64, uint64_t, 64)

/* And, Or, Xor act on bits alone: one row per width serves signed and unsigned. */
#define LOGIC_ROWS(tag, T)                              \
  PFW_ROW_LOOP(and_##tag, T, T, (T)(x & y))             \
  PFW_ROW_LOOP(or_##tag, T, T, (T)(x | y))              \
  PFW_ROW_LOOP(xor_##tag, T, T, (T)(x ^ y))
LOGIC_ROWS(8, uint8_t)
LOGIC_ROWS(16, uint16_t)
LOGIC_ROWS(32, uint32_t)
LOGIC_ROWS(64, uint64_t)

static pfw_status int_binary_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 2, 2);
  if (st == PFW_OK && !node->in[1]) st = pfw_error(PFW_ERR_INVALID_MODEL, "input 1 is required but absent");
  if (st != PFW_OK) return st;
  pfw_dtype t = node->in[0]->dtype;
  if (int_index(t) < 0)
    return pfw_error(PFW_ERR_UNSUPPORTED, "input 0 has dtype %s; expected an integer dtype (int8 ... uint64)",
                     pfw_dtype_name(t));
  if ((st = pfw_check_input(node, 1, t, -1)) != PFW_OK) return st;
  return pfw_bcast_prepare(node, 2, t);
}

static pfw_status int_binary_run(pfw_node* node, pfw_bcast_row row) {
  pfw_bcast it;
  pfw_bcast_init(&it, 2, PFW_CONST_INPUTS(node), node->out[0]);
  pfw_bcast_for(&it, PFW_CONST_INPUTS(node), node->out[0], row, NULL);
  return PFW_OK;
}

static bool shift_left(const pfw_node* node) { return !strcmp(pfw_attr_string(node, "direction", ""), "LEFT"); }

static pfw_status bitshift_prepare(pfw_node* node) {
  const char* dir = pfw_attr_string(node, "direction", "");
  if (strcmp(dir, "LEFT") && strcmp(dir, "RIGHT"))
    return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'direction' is '%s'; expected LEFT or RIGHT", dir);
  return int_binary_prepare(node);
}

static pfw_status bitshift_run(pfw_node* node) {
  static const pfw_bcast_row left[8] = {shl_i8, shl_i16, shl_i32, shl_i64, shl_u8, shl_u16, shl_u32, shl_u64};
  static const pfw_bcast_row right[8] = {shr_i8, shr_i16, shr_i32, shr_i64, shr_u8, shr_u16, shr_u32, shr_u64};
  int k = int_index(node->in[0]->dtype);
  return int_binary_run(node, shift_left(node) ? left[k] : right[k]);
}

/* Row of a width-only op: k & 3 picks the width (int_index order repeats per signedness). */
static pfw_status and_run(pfw_node* node) {
  static const pfw_bcast_row rows[4] = {and_8, and_16, and_32, and_64};
  return int_binary_run(node, rows[int_index(node->in[0]->dtype) & 3]);
}
static pfw_status or_run(pfw_node* node) {
  static const pfw_bcast_row rows[4] = {or_8, or_16, or_32, or_64};
  return int_binary_run(node, rows[int_index(node->in[0]->dtype) & 3]);
}
static pfw_status xor_run(pfw_node* node) {
  static const pfw_bcast_row rows[4] = {xor_8, xor_16, xor_32, xor_64};
  return int_binary_run(node, rows[int_index(node->in[0]->dtype) & 3]);
}

static pfw_status not_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, 1);
  if (st != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  if (int_index(x->dtype) < 0)
    return pfw_error(PFW_ERR_UNSUPPORTED, "input 0 has dtype %s; expected an integer dtype (int8 ... uint64)",
                     pfw_dtype_name(x->dtype));
  return pfw_set_output(node->out[0], x->dtype, x->rank, x->dims);
}

/* ~x byte by byte: the same bits for every width and signedness. */
static pfw_status not_run(pfw_node* node) {
  const unsigned char* x = node->in[0]->data;
  unsigned char* y = node->out[0]->data;
  size_t n = (size_t)pfw_numel(node->in[0]) * pfw_dtype_size(node->in[0]->dtype);
  for (size_t i = 0; i < n; i++) y[i] = (unsigned char)~x[i];
  return PFW_OK;
}

const pfw_op pfw_op_BitShift = {PFW_OP_BitShift, bitshift_prepare, bitshift_run, 0};
const pfw_op pfw_op_BitwiseAnd = {PFW_OP_BitwiseAnd, int_binary_prepare, and_run, 0};
const pfw_op pfw_op_BitwiseOr = {PFW_OP_BitwiseOr, int_binary_prepare, or_run, 0};
const pfw_op pfw_op_BitwiseXor = {PFW_OP_BitwiseXor, int_binary_prepare, xor_run, 0};
const pfw_op pfw_op_BitwiseNot = {PFW_OP_BitwiseNot, not_prepare, not_run, PFW_OPF_INPLACE};
