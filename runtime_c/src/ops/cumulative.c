/* CumSum and CumProd along one axis (given as a scalar input, known while
 * planning), with `exclusive` and `reverse`. float32/float64/int32/int64;
 * integers wrap instead of overflowing (unsigned arithmetic). */
#include <string.h>

#include "ops_common.h"

static pfw_status cum_axis(const pfw_node* node, int32_t* axis) {
  int64_t a[1];
  int32_t n;
  pfw_status st = pfw_input_ints(node, 1, "axis", a, 1, &n);
  if (st != PFW_OK) return st;
  if (n != 1) return pfw_error(PFW_ERR_INVALID_MODEL, "input 1 (axis) must hold one value");
  return pfw_norm_axis(a[0], node->in[0]->rank, "input 1 (axis)", axis);
}

static pfw_status cum_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 2, 2);
  int32_t axis;
  if (st == PFW_OK) st = cum_axis(node, &axis);
  if (st != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  pfw_dtype d = x->dtype;
  if (d != PFW_FLOAT32 && d != PFW_FLOAT64 && d != PFW_INT32 && d != PFW_INT64)
    return pfw_error(PFW_ERR_UNSUPPORTED, "input 0 has dtype %s; supported: float32, float64, int32, int64",
                     pfw_dtype_name(d));
  return pfw_set_output(node->out[0], d, x->rank, x->dims);
}

/* Walks each line along the axis in the requested direction, carrying acc. */
#define CUM_LINES(T, ACC_T, OP, INIT)                                               \
  for (int64_t o = 0; o < outer; o++)                                              \
    for (int64_t in = 0; in < inner; in++) {                                       \
      const T* xs = (const T*)x->data + o * len * inner + in;                      \
      T* ys = (T*)y->data + o * len * inner + in;                                  \
      ACC_T acc = INIT;                                                            \
      for (int64_t s = 0; s < len; s++) {                                          \
        int64_t k = reverse ? len - 1 - s : s;                                     \
        if (exclusive) {                                                           \
          ys[k * inner] = (T)acc;                                                  \
          acc = OP(acc, (ACC_T)xs[k * inner]);                                     \
        } else {                                                                   \
          acc = OP(acc, (ACC_T)xs[k * inner]);                                     \
          ys[k * inner] = (T)acc;                                                  \
        }                                                                          \
      }                                                                            \
    }

#define ADD(a, b) ((a) + (b))
#define MUL(a, b) ((a) * (b))

static pfw_status cum_run(pfw_node* node, bool product) {
  const pfw_tensor* x = node->in[0];
  pfw_tensor* y = node->out[0];
  int32_t axis;
  pfw_status st = cum_axis(node, &axis);
  if (st != PFW_OK) return st;
  bool exclusive = pfw_attr_int(node, "exclusive", 0) != 0, reverse = pfw_attr_int(node, "reverse", 0) != 0;
  int64_t outer = 1, inner = 1, len = x->dims[axis];
  for (int32_t k = 0; k < axis; k++) outer *= x->dims[k];
  for (int32_t k = axis + 1; k < x->rank; k++) inner *= x->dims[k];
  switch (x->dtype) {
    case PFW_FLOAT32:
      if (product) { CUM_LINES(float, float, MUL, 1.0f) } else { CUM_LINES(float, float, ADD, 0.0f) }
      break;
    case PFW_FLOAT64:
      if (product) { CUM_LINES(double, double, MUL, 1.0) } else { CUM_LINES(double, double, ADD, 0.0) }
      break;
    case PFW_INT32:
      if (product) { CUM_LINES(int32_t, uint32_t, MUL, 1u) } else { CUM_LINES(int32_t, uint32_t, ADD, 0u) }
      break;
    default:
      if (product) { CUM_LINES(int64_t, uint64_t, MUL, 1u) } else { CUM_LINES(int64_t, uint64_t, ADD, 0u) }
      break;
  }
  return PFW_OK;
}

static pfw_status cumsum_run(pfw_node* node) { return cum_run(node, false); }
static pfw_status cumprod_run(pfw_node* node) { return cum_run(node, true); }

const pfw_op pfw_op_CumSum = {PFW_OP_CumSum, cum_prepare, cumsum_run, 0};
const pfw_op pfw_op_CumProd = {PFW_OP_CumProd, cum_prepare, cumprod_run, 0};
