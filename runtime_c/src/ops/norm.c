/* BatchNormalization in inference mode, float32:
 * Y = (X - mean) / sqrt(var + epsilon) * scale + B, per channel (dim 1). */
#include <math.h>

#include "ops_common.h"

static pfw_status bn_prepare(pfw_node* node) {
  if (node->n_in != 5) return pfw_error(PFW_ERR_INVALID_MODEL, "expected 5 inputs, got %d", (int)node->n_in);
  if (node->n_out < 1) return pfw_error(PFW_ERR_INVALID_MODEL, "expected 1 output");
  if (pfw_attr_int(node, "training_mode", 0) != 0)
    return pfw_error(PFW_ERR_UNSUPPORTED, "attribute 'training_mode'=1 is not supported (inference only)");
  /* Before opset 9, spatial=0 meant statistics per (channel, position). */
  if (node->desc->version < 9 && pfw_attr_int(node, "spatial", 1) != 1)
    return pfw_error(PFW_ERR_UNSUPPORTED, "attribute 'spatial'=0 is not supported");
  for (int32_t j = 1; j < node->n_out; j++)
    if (node->out[j])
      return pfw_error(PFW_ERR_UNSUPPORTED, "output %d (training statistics) is not supported in inference mode",
                       (int)j);
  pfw_status st = pfw_check_input(node, 0, PFW_FLOAT32, -1);
  if (st != PFW_OK) return st;
  const pfw_tensor* X = node->in[0];
  if (X->rank < 2) return pfw_error(PFW_ERR_SHAPE, "input 0 has rank %d, expected >= 2 (N, C, ...)", (int)X->rank);
  static const char* names[5] = {"X", "scale", "B", "input_mean", "input_var"};
  for (int32_t i = 1; i < 5; i++) {
    st = pfw_check_input(node, i, PFW_FLOAT32, 1);
    if (st != PFW_OK) return st;
    if (node->in[i]->dims[0] != X->dims[1])
      return pfw_error(PFW_ERR_SHAPE, "input %d (%s) has %lld values, expected %lld (channels of X)", (int)i,
                       names[i], (long long)node->in[i]->dims[0], (long long)X->dims[1]);
  }
  return pfw_set_output(node->out[0], PFW_FLOAT32, X->rank, X->dims);
}

static pfw_status bn_run(pfw_node* node) {
  const pfw_tensor* X = node->in[0];
  const float* x = X->data;
  const float* scale = node->in[1]->data;
  const float* bias = node->in[2]->data;
  const float* mean = node->in[3]->data;
  const float* var = node->in[4]->data;
  float* y = node->out[0]->data;
  double eps = pfw_attr_float(node, "epsilon", 1e-5f);
  int64_t N = X->dims[0], C = X->dims[1], size = 1;
  for (int32_t k = 2; k < X->rank; k++) size *= X->dims[k];
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++) {
      /* Folded to y = x * a + b; the fold is done in double. */
      double a = scale[c] / sqrt((double)var[c] + eps);
      double b = bias[c] - mean[c] * a;
      const float* xp = x + (n * C + c) * size;
      float* yp = y + (n * C + c) * size;
      for (int64_t i = 0; i < size; i++) yp[i] = (float)(xp[i] * a + b);
    }
  return PFW_OK;
}

/* Elementwise over input 0, so it may run in place. */
const pfw_op pfw_op_BatchNormalization = {PFW_OP_BatchNormalization, bn_prepare, bn_run, PFW_OPF_INPLACE};
