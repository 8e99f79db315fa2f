/* Reductions: ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd
 * (float32, float64, float16, bfloat16, int32, int64; Max and Min also bool:
 * any and all), ReduceL1, ReduceL2,
 * ReduceLogSum, ReduceLogSumExp, ReduceSumSquare (the float types), with keepdims and
 * noop_with_empty_axes; axes from the attribute (ReduceSum before opset 13,
 * the others before 18) or from input 1, which must be known when planning.
 * ArgMax, ArgMin (keepdims, select_last_index; int64 output).
 *
 * Float reductions accumulate in double and are computed one output
 * element at a time in a fixed order, so results do not depend on threads. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops_common.h"

enum { R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_L1, R_L2, R_LOGSUM, R_LOGSUMEXP, R_SUMSQUARE };

/* The input split into kept dims (one per output element) and reduced dims,
 * each with its element strides in the input. */
typedef struct reduce_state {
  int kind;
  int32_t nk, nr;
  int64_t kdims[PFW_MAX_RANK], kstr[PFW_MAX_RANK], rdims[PFW_MAX_RANK], rstr[PFW_MAX_RANK];
  int64_t count; /* elements reduced into each output */
} reduce_state;

static int reduce_kind(uint16_t op) {
  switch (op) {
    case PFW_OP_ReduceSum: return R_SUM;
    case PFW_OP_ReduceMean: return R_MEAN;
    case PFW_OP_ReduceMax: return R_MAX;
    case PFW_OP_ReduceMin: return R_MIN;
    case PFW_OP_ReduceProd: return R_PROD;
    case PFW_OP_ReduceL1: return R_L1;
    case PFW_OP_ReduceL2: return R_L2;
    case PFW_OP_ReduceLogSum: return R_LOGSUM;
    case PFW_OP_ReduceLogSumExp: return R_LOGSUMEXP;
    default: return R_SUMSQUARE;
  }
}

/* The reduced-axes mask from the attribute or input 1. *none: no axes given. */
static pfw_status read_axes(const pfw_node* node, int32_t rank, bool* mask, bool* none) {
  int64_t axes[PFW_MAX_RANK];
  int32_t n;
  bool from_input = node->desc->version >= (node->desc->op == PFW_OP_ReduceSum ? 13 : 18);
  if (from_input) {
    pfw_status st = pfw_input_ints(node, 1, "axes", axes, PFW_MAX_RANK, &n);
    if (st != PFW_OK) return st;
  } else {
    const int64_t* a = pfw_attr_ints(node, "axes", &n);
    if (n > PFW_MAX_RANK)
      return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'axes' has %d values for rank %d", (int)n, (int)rank);
    if (n > 0) memcpy(axes, a, sizeof(int64_t) * (size_t)n);
  }
  *none = n <= 0;
  for (int32_t k = 0; k < rank; k++) mask[k] = false;
  for (int32_t i = 0; i < n; i++) {
    int32_t ax;
    pfw_status st = pfw_norm_axis(axes[i], rank, from_input ? "axes input value" : "attribute 'axes' value", &ax);
    if (st != PFW_OK) return st;
    if (mask[ax]) return pfw_error(PFW_ERR_INVALID_MODEL, "axis %lld is listed twice in axes", (long long)axes[i]);
    mask[ax] = true;
  }
  return PFW_OK;
}

static pfw_status reduce_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, 2);
  if (st != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  int kind = reduce_kind(node->desc->op);
  bool ints_ok = kind == R_SUM || kind == R_MAX || kind == R_MIN || kind == R_PROD;
  bool is_int = x->dtype == PFW_INT32 || x->dtype == PFW_INT64;
  bool is_float = x->dtype == PFW_FLOAT32 || x->dtype == PFW_FLOAT64 || x->dtype == PFW_FLOAT16 ||
                  x->dtype == PFW_BFLOAT16;
  bool bool_ok = x->dtype == PFW_BOOL && (kind == R_MAX || kind == R_MIN);
  if (!(is_float || (ints_ok && is_int) || bool_ok))
    return pfw_error(PFW_ERR_UNSUPPORTED, "input 0 has dtype %s; supported: float32, float64, float16, bfloat16%s",
                     pfw_dtype_name(x->dtype), kind == R_MAX || kind == R_MIN ? ", int32, int64, bool"
                                               : ints_ok ? ", int32, int64" : "");
  bool mask[PFW_MAX_RANK] = {false}, none = true;
  st = read_axes(node, x->rank, mask, &none);
  if (st != PFW_OK) return st;
  reduce_state* s = calloc(1, sizeof *s);
  if (!s) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "reduce state");
  node->state = s;
  s->kind = kind;
  /* Empty axes with noop_with_empty_axes reduce over no axes: each output
   * is its one input element mapped (|x| for L1, x*x for SumSquare...), as
   * ONNX Runtime and the reference evaluator give. Otherwise, all axes. */
  bool all = none && pfw_attr_int(node, "noop_with_empty_axes", 0) == 0;
  bool keep = pfw_attr_int(node, "keepdims", 1) != 0;
  int32_t ro = 0;
  int64_t odims[PFW_MAX_RANK], step = 1;
  s->count = 1;
  /* Strides from the innermost dim out; kept and reduced lists are then
   * reversed into outermost-first order. */
  for (int32_t k = x->rank - 1; k >= 0; k--) {
    bool red = all || mask[k];
    if (red) {
      s->rdims[s->nr] = x->dims[k];
      s->rstr[s->nr++] = step;
      s->count *= x->dims[k];
    } else {
      s->kdims[s->nk] = x->dims[k];
      s->kstr[s->nk++] = step;
    }
    step *= x->dims[k];
  }
  for (int32_t k = 0; k < x->rank; k++) {
    bool red = all || mask[k];
    if (!red) odims[ro++] = x->dims[k];
    else if (keep) odims[ro++] = 1;
  }
  return pfw_set_output(node->out[0], x->dtype, ro, odims);
}

/* Offset of linear index i in an odometer of n dims (innermost first). */
static int64_t offset_of(int64_t i, int32_t n, const int64_t* dims, const int64_t* str) {
  int64_t off = 0;
  for (int32_t k = 0; k < n && i > 0; k++) {
    off += (i % dims[k]) * str[k];
    i /= dims[k];
  }
  return off;
}

/* Steps an odometer over reduced dims from..nr-1 (innermost first) to the
 * next offset: additions only, no division per element. */
static inline void advance(const reduce_state* s, int32_t from, int64_t* idx, int64_t* off) {
  for (int32_t k = from; k < s->nr; k++) {
    *off += s->rstr[k];
    if (++idx[k] < s->rdims[k]) return;
    *off -= s->rdims[k] * s->rstr[k];
    idx[k] = 0;
  }
}

/* Runs `body` (reading v) over the reduced elements at x + base in order:
 * the innermost reduced dim as a tight strided loop, the others through the
 * odometer. */
#define FOR_REDUCED(body)                                                \
  do {                                                                   \
    int64_t idx_[PFW_MAX_RANK] = {0}, off_ = base;                       \
    for (int64_t q_ = 0; q_ < runs; q_++, advance(s, 1, idx_, &off_))    \
      for (int64_t j_ = 0; j_ < len; j_++) {                             \
        double v = pfw_load_real(x, t, off_ + j_ * stride);                       \
        body;                                                            \
      }                                                                  \
  } while (0)

/* One float output: the reduced elements at x + base, visited in order.
 * Inlined per input dtype (reduce_float), so pfw_load_real is a plain typed read. */
static inline __attribute__((always_inline)) double reduce_typed(const reduce_state* s, const void* x, pfw_dtype t,
                                                                int64_t base) {
  double acc = s->kind == R_PROD ? 1 : s->kind == R_MAX ? -INFINITY : s->kind == R_MIN ? INFINITY : 0;
  double m = 0;
  int64_t len = s->nr ? s->rdims[0] : 1, stride = s->nr ? s->rstr[0] : 0;
  int64_t runs = len ? s->count / len : 0;
  switch (s->kind) {
    case R_MAX: FOR_REDUCED(acc = v > acc || v != v ? v : acc); break;
    case R_MIN: FOR_REDUCED(acc = v < acc || v != v ? v : acc); break;
    case R_PROD: FOR_REDUCED(acc *= v); break;
    case R_L1: FOR_REDUCED(acc += fabs(v)); break;
    case R_L2:
    case R_SUMSQUARE: FOR_REDUCED(acc += v * v); break;
    case R_LOGSUMEXP: /* the maximum keeps exp() in range */
      m = -INFINITY;
      FOR_REDUCED(m = v > m ? v : m); /* fmax(m, v), a NaN skipped: GCC 12 crashes vectorising fmax here on aarch64 */
      if (isinf(m)) m = 0;
      FOR_REDUCED(acc += exp(v - m));
      break;
    default: FOR_REDUCED(acc += v); break; /* Sum, Mean, LogSum */
  }
  switch (s->kind) {
    case R_MEAN: return acc / (double)s->count;
    case R_L2: return sqrt(acc);
    case R_LOGSUM: return log(acc);
    case R_LOGSUMEXP: return m + log(acc);
    default: return acc;
  }
}
#undef FOR_REDUCED

static double reduce_float(const reduce_state* s, const void* x, pfw_dtype t, int64_t base) {
  switch (t) {
    case PFW_FLOAT32: return reduce_typed(s, x, PFW_FLOAT32, base);
    case PFW_FLOAT64: return reduce_typed(s, x, PFW_FLOAT64, base);
    default: return reduce_typed(s, x, t, base);
  }
}

/* One integer output; Sum and Prod wrap like two's complement. */
static int64_t reduce_int(const reduce_state* s, const void* x, pfw_dtype t, int64_t base) {
  uint64_t acc = s->kind == R_PROD ? 1 : 0;
  int64_t best = 0, idx[PFW_MAX_RANK] = {0}, i = base;
  for (int64_t r = 0; r < s->count; r++, advance(s, 0, idx, &i)) {
    int64_t v = t == PFW_INT32 ? ((const int32_t*)x)[i] : t == PFW_BOOL ? ((const uint8_t*)x)[i] != 0
                                                                       : ((const int64_t*)x)[i];
    if (s->kind == R_SUM) acc += (uint64_t)v;
    else if (s->kind == R_PROD) acc *= (uint64_t)v;
    else if (r == 0 || (s->kind == R_MAX ? v > best : v < best)) best = v;
  }
  if (t == PFW_BOOL && s->count == 0) return s->kind == R_MIN; /* any() of nothing is false, all() true */
  return s->kind == R_MAX || s->kind == R_MIN ? best : (int64_t)acc;
}

static pfw_status reduce_run(pfw_node* node) {
  const reduce_state* s = node->state;
  const pfw_tensor* x = node->in[0];
  pfw_tensor* o = node->out[0];
  /* Floats have identities for every reduction (-inf for Max...); ints
   * have none for Max and Min. */
  if (s->count == 0 && pfw_numel(o) > 0 && (s->kind == R_MAX || s->kind == R_MIN) &&
      (x->dtype == PFW_INT32 || x->dtype == PFW_INT64))
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "integer Max/Min over an empty set has no value");
  int64_t n = pfw_numel(o);
  for (int64_t i = 0; i < n; i++) {
    int64_t base = offset_of(i, s->nk, s->kdims, s->kstr);
    switch (o->dtype) {
      case PFW_FLOAT32: ((float*)o->data)[i] = (float)reduce_float(s, x->data, x->dtype, base); break;
      case PFW_FLOAT64: ((double*)o->data)[i] = reduce_float(s, x->data, x->dtype, base); break;
      case PFW_FLOAT16:
        ((uint16_t*)o->data)[i] = pfw_float_to_half((float)reduce_float(s, x->data, x->dtype, base));
        break;
      case PFW_BFLOAT16:
        ((uint16_t*)o->data)[i] = pfw_float_to_bf16((float)reduce_float(s, x->data, x->dtype, base));
        break;
      case PFW_INT32: ((int32_t*)o->data)[i] = (int32_t)(uint32_t)(uint64_t)reduce_int(s, x->data, x->dtype, base); break;
      case PFW_BOOL: ((uint8_t*)o->data)[i] = reduce_int(s, x->data, x->dtype, base) != 0; break;
      default: ((int64_t*)o->data)[i] = reduce_int(s, x->data, x->dtype, base); break;
    }
  }
  return PFW_OK;
}

const pfw_op pfw_op_ReduceSum = {PFW_OP_ReduceSum, reduce_prepare, reduce_run, 0};
const pfw_op pfw_op_ReduceMean = {PFW_OP_ReduceMean, reduce_prepare, reduce_run, 0};
const pfw_op pfw_op_ReduceMax = {PFW_OP_ReduceMax, reduce_prepare, reduce_run, 0};
const pfw_op pfw_op_ReduceMin = {PFW_OP_ReduceMin, reduce_prepare, reduce_run, 0};
const pfw_op pfw_op_ReduceProd = {PFW_OP_ReduceProd, reduce_prepare, reduce_run, 0};
const pfw_op pfw_op_ReduceL1 = {PFW_OP_ReduceL1, reduce_prepare, reduce_run, 0};
const pfw_op pfw_op_ReduceL2 = {PFW_OP_ReduceL2, reduce_prepare, reduce_run, 0};
const pfw_op pfw_op_ReduceLogSum = {PFW_OP_ReduceLogSum, reduce_prepare, reduce_run, 0};
const pfw_op pfw_op_ReduceLogSumExp = {PFW_OP_ReduceLogSumExp, reduce_prepare, reduce_run, 0};
const pfw_op pfw_op_ReduceSumSquare = {PFW_OP_ReduceSumSquare, reduce_prepare, reduce_run, 0};

/* ---- ArgMax, ArgMin ------------------------------------------------------------------ */

static pfw_status arg_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, 1);
  if (st != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  if (x->dtype != PFW_FLOAT32 && x->dtype != PFW_FLOAT64 && x->dtype != PFW_INT32 && x->dtype != PFW_INT64)
    return pfw_error(PFW_ERR_UNSUPPORTED, "input 0 has dtype %s; supported: float32, float64, int32, int64",
                     pfw_dtype_name(x->dtype));
  int32_t axis;
  st = pfw_norm_axis(pfw_attr_int(node, "axis", 0), x->rank, "attribute 'axis'", &axis);
  if (st != PFW_OK) return st;
  if (x->dims[axis] == 0) return pfw_error(PFW_ERR_SHAPE, "input 0 has no elements along axis %d", (int)axis);
  bool keep = pfw_attr_int(node, "keepdims", 1) != 0;
  int64_t odims[PFW_MAX_RANK];
  int32_t ro = 0;
  for (int32_t k = 0; k < x->rank; k++) {
    if (k != axis) odims[ro++] = x->dims[k];
    else if (keep) odims[ro++] = 1;
  }
  return pfw_set_output(node->out[0], PFW_INT64, ro, odims);
}

static pfw_status arg_run(pfw_node* node) {
  const pfw_tensor* x = node->in[0];
  int32_t axis;
  pfw_norm_axis(pfw_attr_int(node, "axis", 0), x->rank, "attribute 'axis'", &axis);
  bool last = pfw_attr_int(node, "select_last_index", 0) != 0;
  bool is_max = node->desc->op == PFW_OP_ArgMax;
  int64_t outer = 1, n = x->dims[axis], inner = 1;
  for (int32_t k = 0; k < x->rank; k++) {
    if (k < axis) outer *= x->dims[k];
    else if (k > axis) inner *= x->dims[k];
  }
  int64_t* y = node->out[0]->data;
  for (int64_t o = 0; o < outer; o++) {
    for (int64_t j = 0; j < inner; j++) {
      int64_t base = o * n * inner + j, arg = 0;
      double best = pfw_load_real(x->data, x->dtype, base);
      for (int64_t i = 1; i < n; i++) {
        double v = pfw_load_real(x->data, x->dtype, base + i * inner);
        /* Ties go to the first index, or the last with select_last_index. */
        bool better = is_max ? (v > best || (last && v == best)) : (v < best || (last && v == best));
        if (better) best = v, arg = i;
      }
      y[o * inner + j] = arg;
    }
  }
  return PFW_OK;
}

const pfw_op pfw_op_ArgMax = {PFW_OP_ArgMax, arg_prepare, arg_run, 0};
const pfw_op pfw_op_ArgMin = {PFW_OP_ArgMin, arg_prepare, arg_run, 0};
