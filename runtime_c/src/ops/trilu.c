/* Trilu: keeps the upper (upper=1, default) or lower triangle of the last two
 * dimensions, offset by k (an optional scalar input known while planning),
 * and zeroes the rest. Any dtype. */
#include <string.h>

#include "ops_common.h"

static pfw_status trilu_k(const pfw_node* node, int64_t* k) {
  int32_t n;
  *k = 0;
  pfw_status st = pfw_input_ints(node, 1, "k", k, 1, &n);
  if (st == PFW_OK && n == 0) *k = 0;
  return st;
}

static pfw_status trilu_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, 2);
  int64_t k;
  if (st == PFW_OK) st = trilu_k(node, &k);
  if (st != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  if (x->rank < 2) return pfw_error(PFW_ERR_SHAPE, "input 0 has rank %d; Trilu needs >= 2", (int)x->rank);
  if (pfw_dtype_size(x->dtype) == 0)
    return pfw_error(PFW_ERR_UNSUPPORTED, "input 0 has dtype %s", pfw_dtype_name(x->dtype));
  return pfw_set_output(node->out[0], x->dtype, x->rank, x->dims);
}

static pfw_status trilu_run(pfw_node* node) {
  const pfw_tensor* x = node->in[0];
  int64_t k;
  pfw_status st = trilu_k(node, &k);
  if (st != PFW_OK) return st;
  bool upper = pfw_attr_int(node, "upper", 1) != 0;
  int64_t rows = x->dims[x->rank - 2], cols = x->dims[x->rank - 1];
  if (rows == 0 || cols == 0) return PFW_OK;
  int64_t mats = pfw_numel(x) / (rows * cols);
  size_t es = pfw_dtype_size(x->dtype);
  const char* src = x->data;
  char* dst = node->out[0]->data;
  for (int64_t m = 0; m < mats; m++)
    for (int64_t i = 0; i < rows; i++)
      for (int64_t j = 0; j < cols; j++) {
        size_t off = (size_t)((m * rows + i) * cols + j) * es;
        bool keep = upper ? j - i >= k : j - i <= k;
        if (keep) memcpy(dst + off, src + off, es);
        else memset(dst + off, 0, es);
      }
  return PFW_OK;
}

const pfw_op pfw_op_Trilu = {PFW_OP_Trilu, trilu_prepare, trilu_run, 0};
