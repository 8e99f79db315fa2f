/* LRN (local response normalization across channels), float32, NCHW...:
 * y = x / (bias + alpha / size * sum of x^2 over a window of `size` channels)^beta
 * with the window [c - floor((size-1)/2), c + ceil((size-1)/2)] clipped to
 * the channels that exist. */
#include <math.h>

#include "ops_common.h"

static pfw_status lrn_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, 1);
  if (st == PFW_OK) st = pfw_check_input(node, 0, PFW_FLOAT32, -1);
  if (st != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  if (x->rank < 2) return pfw_error(PFW_ERR_SHAPE, "input 0 has rank %d; LRN needs (N, C, ...)", (int)x->rank);
  int64_t size = pfw_attr_int(node, "size", 0);
  if (size < 1 || size > INT32_MAX)
    return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'size' is %lld; it must be >= 1",
                     (long long)size);
  return pfw_set_output(node->out[0], PFW_FLOAT32, x->rank, x->dims);
}

typedef struct {
  const float* x;
  float* y;
  int64_t channels, spatial, size;
  double alpha, beta, bias;
} lrn_ctx;

/* One (n, spatial position) column per index; columns are independent. */
static void lrn_columns(void* p, int64_t begin, int64_t end) {
  const lrn_ctx* c = p;
  int64_t lo_off = (c->size - 1) / 2, hi_off = c->size - 1 - lo_off;
  for (int64_t col = begin; col < end; col++) {
    int64_t n = col / c->spatial, s = col % c->spatial;
    const float* x = c->x + n * c->channels * c->spatial + s;
    float* y = c->y + n * c->channels * c->spatial + s;
    for (int64_t ch = 0; ch < c->channels; ch++) {
      int64_t lo = ch - lo_off < 0 ? 0 : ch - lo_off;
      int64_t hi = ch + hi_off >= c->channels ? c->channels - 1 : ch + hi_off;
      double sq = 0;
      for (int64_t k = lo; k <= hi; k++) sq += (double)x[k * c->spatial] * x[k * c->spatial];
      y[ch * c->spatial] = (float)(x[ch * c->spatial] / pow(c->bias + c->alpha / (double)c->size * sq, c->beta));
    }
  }
}

static pfw_status lrn_run(pfw_node* node) {
  const pfw_tensor* x = node->in[0];
  lrn_ctx c = {x->data, node->out[0]->data, x->dims[1], 1, pfw_attr_int(node, "size", 1),
               pfw_attr_float(node, "alpha", 1e-4f), pfw_attr_float(node, "beta", 0.75f),
               pfw_attr_float(node, "bias", 1.0f)};
  for (int32_t k = 2; k < x->rank; k++) c.spatial *= x->dims[k];
  pfw_parallel_for(node->pool, x->dims[0] * c.spatial, lrn_columns, &c);
  return PFW_OK;
}

const pfw_op pfw_op_LRN = {PFW_OP_LRN, lrn_prepare, lrn_run, 0};
