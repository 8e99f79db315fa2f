/* NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss over input (N, C,
 * d1..dk) and integer targets (N, d1..dk): loss[n, d] = -w[t] x[n, t, d]
 * with t = target[n, d] (x = log_softmax(scores, axis 1) for SCE), 0 where t
 * is ignore_index; reduction none, sum, or mean = sum / sum of the weights
 * used. float32/float64, accumulated in double. */
#include <math.h>
#include <string.h>

#include "ops_common.h"

typedef enum { RED_NONE, RED_SUM, RED_MEAN } loss_reduction;

typedef struct {
  int64_t n, c, d; /* the input seen as (N, C, D) */
  loss_reduction reduction;
  bool has_ignore;
  int64_t ignore_index;
} loss_shape;

static pfw_status loss_read(const pfw_node* node, loss_shape* s) {
  const pfw_tensor* x = node->in[0];
  const char* red = pfw_attr_string(node, "reduction", "mean");
  if (!strcmp(red, "none")) s->reduction = RED_NONE;
  else if (!strcmp(red, "sum")) s->reduction = RED_SUM;
  else if (!strcmp(red, "mean")) s->reduction = RED_MEAN;
  else return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'reduction' is '%s'; expected none, sum or mean", red);
  s->has_ignore = pfw_attr_find(node, "ignore_index") != NULL;
  s->ignore_index = pfw_attr_int(node, "ignore_index", 0);
  s->n = x->dims[0];
  s->c = x->dims[1];
  s->d = 1;
  for (int32_t k = 2; k < x->rank; k++) s->d *= x->dims[k];
  return PFW_OK;
}

static pfw_status loss_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 2, 3);
  if (st == PFW_OK) st = pfw_need_float(node, 0);
  if (st != PFW_OK) return st;
  const pfw_tensor *x = node->in[0], *t = node->in[1], *w = node->n_in > 2 ? node->in[2] : NULL;
  if (!t) return pfw_error(PFW_ERR_INVALID_MODEL, "input 1 (target) is required but absent");
  if (x->rank < 2) return pfw_error(PFW_ERR_SHAPE, "input 0 has rank %d; expected (N, C, d1, ...)", (int)x->rank);
  if (t->dtype != PFW_INT32 && t->dtype != PFW_INT64)
    return pfw_error(PFW_ERR_INVALID_MODEL, "input 1 (target) is %s; expected int32 or int64", pfw_dtype_name(t->dtype));
  bool fits = t->rank == x->rank - 1 && t->dims[0] == x->dims[0];
  for (int32_t k = 1; fits && k < t->rank; k++) fits = t->dims[k] == x->dims[k + 1];
  if (!fits) return pfw_error(PFW_ERR_SHAPE, "input 1 (target) must have input 0's shape without axis 1 (C)");
  if (w) {
    if ((st = pfw_check_input(node, 2, x->dtype, 1)) != PFW_OK) return st;
    if (w->dims[0] != x->dims[1])
      return pfw_error(PFW_ERR_SHAPE, "input 2 (weight) has %lld values; expected C = %lld", (long long)w->dims[0],
                       (long long)x->dims[1]);
  }
  loss_shape s;
  if ((st = loss_read(node, &s)) != PFW_OK) return st;
  st = s.reduction == RED_NONE ? pfw_set_output(node->out[0], x->dtype, t->rank, t->dims)
                               : pfw_set_output(node->out[0], x->dtype, 0, NULL);
  if (st == PFW_OK && node->n_out > 1 && node->out[1]) {
    if (node->desc->op != PFW_OP_SoftmaxCrossEntropyLoss)
      return pfw_error(PFW_ERR_INVALID_MODEL, "NegativeLogLikelihoodLoss has one output");
    st = pfw_set_output(node->out[1], x->dtype, x->rank, x->dims);
  }
  return st;
}

static double get(const pfw_tensor* t, int64_t i) {
  return t->dtype == PFW_FLOAT32 ? ((const float*)t->data)[i] : ((const double*)t->data)[i];
}

static void put(pfw_tensor* t, int64_t i, double v) {
  if (t->dtype == PFW_FLOAT32) ((float*)t->data)[i] = (float)v;
  else ((double*)t->data)[i] = v;
}

static int64_t target_at(const pfw_tensor* t, int64_t i) {
  return t->dtype == PFW_INT64 ? ((const int64_t*)t->data)[i] : ((const int32_t*)t->data)[i];
}

/* Shared run: softmax selects SCE, whose log-probabilities are computed per
 * (n, d) column (and written to output 1 when it is there). */
static pfw_status loss_run_common(pfw_node* node, bool softmax) {
  const pfw_tensor *x = node->in[0], *t = node->in[1], *w = node->n_in > 2 ? node->in[2] : NULL;
  pfw_tensor *y = node->out[0], *log_prob = softmax && node->n_out > 1 ? node->out[1] : NULL;
  loss_shape s;
  pfw_status st = loss_read(node, &s);
  if (st != PFW_OK) return st;
  double total = 0, weight_sum = 0;
  for (int64_t n = 0; n < s.n; n++)
    for (int64_t d = 0; d < s.d; d++) {
      int64_t base = n * s.c * s.d + d, pos = n * s.d + d, cls = target_at(t, pos);
      double shift = 0; /* log_softmax(x) = x - (max + log sum exp(x - max)) */
      if (softmax && s.c > 0) {
        double m = get(x, base), sum = 0;
        /* fmax(m, v) written out: GCC 12 for AArch64 crashes (ICE in
         * vect_transform_reduction) vectorizing this fmax reduction at -O3. */
        for (int64_t k = 1; k < s.c; k++) {
          double v = get(x, base + k * s.d);
          if (v > m || isnan(m)) m = v;
        }
        for (int64_t k = 0; k < s.c; k++) sum += exp(get(x, base + k * s.d) - m);
        shift = m + log(sum);
        if (log_prob)
          for (int64_t k = 0; k < s.c; k++) put(log_prob, base + k * s.d, get(x, base + k * s.d) - shift);
      }
      double loss = 0, wt = 0;
      if (!(s.has_ignore && cls == s.ignore_index)) {
        if (cls < 0 || cls >= s.c)
          return pfw_error(PFW_ERR_INVALID_ARGUMENT, "target %lld at position %lld is out of range [0, %lld)",
                           (long long)cls, (long long)pos, (long long)s.c);
        wt = w ? get(w, cls) : 1.0;
        loss = -wt * (get(x, base + cls * s.d) - shift);
      }
      if (s.reduction == RED_NONE) put(y, pos, loss);
      total += loss;
      weight_sum += wt;
    }
  if (s.reduction == RED_SUM) put(y, 0, total);
  if (s.reduction == RED_MEAN) put(y, 0, total / weight_sum); /* all ignored: 0/0 = NaN, as ONNX's reference */
  return PFW_OK;
}

static pfw_status nll_run(pfw_node* node) { return loss_run_common(node, false); }
static pfw_status sce_run(pfw_node* node) { return loss_run_common(node, true); }

const pfw_op pfw_op_NegativeLogLikelihoodLoss = {PFW_OP_NegativeLogLikelihoodLoss, loss_prepare, nll_run, 0};
const pfw_op pfw_op_SoftmaxCrossEntropyLoss = {PFW_OP_SoftmaxCrossEntropyLoss, loss_prepare, sce_run, 0};
