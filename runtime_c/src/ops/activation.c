/* Softmax. Opset >= 13: over the single dimension `axis` (default -1).
 * Earlier opsets: the input is seen as 2-D [prod(dims[:axis]),
 * prod(dims[axis:])] (axis default 1) and each row is normalised. */
#include <math.h>

#include "ops_common.h"

/* The reduced dimension has n elements at stride `inner`, repeated `outer`
 * times; the axis was checked at prepare. */
static void softmax_geometry(const pfw_node* node, int64_t* outer, int64_t* n, int64_t* inner) {
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
  pfw_status st = pfw_float_unary_prepare(node);
  if (st != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  if (x->rank == 0) return pfw_error(PFW_ERR_SHAPE, "input 0 is a scalar; Softmax needs rank >= 1");
  int32_t axis;
  /* The output shape was set above; this only validates the axis. */
  return pfw_norm_axis(pfw_attr_int(node, "axis", node->desc->version >= 13 ? -1 : 1), x->rank,
                       "attribute 'axis'", &axis);
}

/* Subtracting the maximum keeps exp() in range; the sum is taken in double.
 * Reads of a column all happen before its writes, so y may alias x. */
#define SOFTMAX_COLUMN(T, EXP)                                         \
  do {                                                                 \
    const T* xc = (const T*)x + base;                                  \
    T* yc = (T*)y + base;                                              \
    T m = xc[0];                                                       \
    for (int64_t i = 1; i < n; i++)                                    \
      if (xc[i * inner] > m) m = xc[i * inner];                        \
    double sum = 0;                                                    \
    for (int64_t i = 0; i < n; i++) {                                  \
      T e = EXP(xc[i * inner] - m);                                    \
      yc[i * inner] = e;                                               \
      sum += e;                                                        \
    }                                                                  \
    for (int64_t i = 0; i < n; i++) yc[i * inner] = (T)(yc[i * inner] / sum); \
  } while (0)

static pfw_status softmax_run(pfw_node* node) {
  const void* x = node->in[0]->data;
  void* y = node->out[0]->data;
  int64_t outer, n, inner;
  softmax_geometry(node, &outer, &n, &inner);
  if (n == 0) return PFW_OK;
  bool f32 = node->in[0]->dtype == PFW_FLOAT32;
  for (int64_t o = 0; o < outer; o++) {
    for (int64_t j = 0; j < inner; j++) {
      int64_t base = o * n * inner + j;
      if (f32) SOFTMAX_COLUMN(float, expf);
      else SOFTMAX_COLUMN(double, exp);
    }
  }
  return PFW_OK;
}

const pfw_op pfw_op_Softmax = {PFW_OP_Softmax, softmax_prepare, softmax_run, PFW_OPF_INPLACE};
