/* Ops that make values from shapes and scalars: Shape, Size,
 * ConstantOfShape, Range. Their outputs are usually known while planning,
 * which is what lets shape subgraphs follow dynamic input sizes. */
#include <math.h>
#include <string.h>

#include "ops_common.h"

/* ---- Shape / Size ------------------------------------------------------------ */

/* The [start, end) slice of input 0's dims that Shape returns (opset 15 adds
 * start/end, clamped like Slice). */
static void shape_range(const pfw_node* node, int32_t* start, int32_t* end) {
  int64_t r = node->in[0]->rank, s = pfw_attr_int(node, "start", 0), e = pfw_attr_int(node, "end", r);
  if (s < 0) s += r;
  if (e < 0) e += r;
  *start = (int32_t)(s < 0 ? 0 : s > r ? r : s);
  *end = (int32_t)(e < *start ? *start : e > r ? r : e);
}

static pfw_status shape_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, 1);
  if (st != PFW_OK) return st;
  int32_t s, e;
  shape_range(node, &s, &e);
  int64_t n = e - s;
  return pfw_set_output(node->out[0], PFW_INT64, 1, &n);
}

static pfw_status shape_run(pfw_node* node) {
  int32_t s, e;
  shape_range(node, &s, &e);
  if (e > s) memcpy(node->out[0]->data, node->in[0]->dims + s, sizeof(int64_t) * (size_t)(e - s));
  return PFW_OK;
}

const pfw_op pfw_op_Shape = {PFW_OP_Shape, shape_prepare, shape_run, PFW_OPF_SHAPE_ONLY | PFW_OPF_STRINGS};

static pfw_status size_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, 1);
  return st != PFW_OK ? st : pfw_set_output(node->out[0], PFW_INT64, 0, NULL);
}

static pfw_status size_run(pfw_node* node) {
  int64_t n = pfw_numel(node->in[0]);
  memcpy(node->out[0]->data, &n, sizeof n);
  return PFW_OK;
}

const pfw_op pfw_op_Size = {PFW_OP_Size, size_prepare, size_run, PFW_OPF_SHAPE_ONLY | PFW_OPF_STRINGS};

/* ---- ConstantOfShape ------------------------------------------------------------ */

static pfw_status constant_of_shape_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, 1);
  if (st != PFW_OK) return st;
  int64_t dims[PFW_MAX_RANK];
  int32_t n;
  if ((st = pfw_input_ints(node, 0, "shape", dims, PFW_MAX_RANK, &n)) != PFW_OK) return st;
  for (int32_t k = 0; k < n; k++)
    if (dims[k] < 0)
      return pfw_error(PFW_ERR_INVALID_MODEL, "shape[%d] is %lld; dimensions must be >= 0", (int)k,
                       (long long)dims[k]);
  pfw_dtype dtype = PFW_FLOAT32;
  const pfw_tensor_desc* v = pfw_attr_tensor(node, "value");
  if (v) {
    if (v->data_size != pfw_dtype_size(v->dtype) || pfw_dtype_size(v->dtype) == 0)
      return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'value' must hold exactly one numeric element");
    dtype = v->dtype;
  }
  return pfw_set_output(node->out[0], dtype, n, dims);
}

static pfw_status constant_of_shape_run(pfw_node* node) {
  pfw_tensor* y = node->out[0];
  const pfw_tensor_desc* v = pfw_attr_tensor(node, "value");
  size_t es = pfw_dtype_size(y->dtype);
  int64_t n = pfw_numel(y);
  if (!v) {
    if (y->nbytes) memset(y->data, 0, y->nbytes); /* float32 0.0 is all-zero bits */
    return PFW_OK;
  }
  for (int64_t i = 0; i < n; i++) memcpy((char*)y->data + (size_t)i * es, v->data, es);
  return PFW_OK;
}

const pfw_op pfw_op_ConstantOfShape = {PFW_OP_ConstantOfShape, constant_of_shape_prepare,
                                       constant_of_shape_run, 0};

/* ---- Range ------------------------------------------------------------------------ */

/* Scalar input i (known while planning) as a double; integers up to 2^53 exactly. */
static pfw_status scalar_at(const pfw_node* node, int32_t i, const char* what, double* out) {
  const pfw_tensor* t = node->in[i];
  if (!t) return pfw_error(PFW_ERR_INVALID_MODEL, "input %d (%s) is required", (int)i, what);
  if (pfw_numel(t) != 1 || t->rank > 1)
    return pfw_error(PFW_ERR_INVALID_MODEL, "input %d (%s) must be a scalar", (int)i, what);
  if (!pfw_values_known(node, t)) return PFW_DEFER; /* computed at run time: prepared at invoke */
  union { float f; double d; int16_t h; int32_t i; int64_t l; } v;
  memcpy(&v, t->data, pfw_dtype_size(t->dtype));
  switch (t->dtype) {
    case PFW_FLOAT32: *out = v.f; break;
    case PFW_FLOAT64: *out = v.d; break;
    case PFW_INT16: *out = v.h; break;
    case PFW_INT32: *out = v.i; break;
    case PFW_INT64: *out = (double)v.l; break;
    case PFW_FLOAT16: *out = pfw_half_to_float((uint16_t)v.h); break;
    case PFW_BFLOAT16: *out = pfw_bf16_to_float((uint16_t)v.h); break;
    default:
      return pfw_error(PFW_ERR_UNSUPPORTED, "input %d (%s) has dtype %s; supported: float32, float64, float16, "
                       "bfloat16, int16, int32, int64", (int)i, what, pfw_dtype_name(t->dtype));
  }
  return PFW_OK;
}

static pfw_status range_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 3, 3);
  double start, limit, delta;
  if (st == PFW_OK) st = scalar_at(node, 0, "start", &start);
  if (st == PFW_OK) st = scalar_at(node, 1, "limit", &limit);
  if (st == PFW_OK) st = scalar_at(node, 2, "delta", &delta);
  if (st != PFW_OK) return st;
  pfw_dtype dt = node->in[0]->dtype;
  if (node->in[1]->dtype != dt || node->in[2]->dtype != dt)
    return pfw_error(PFW_ERR_INVALID_MODEL, "start, limit and delta must have one dtype");
  if (delta == 0) return pfw_error(PFW_ERR_INVALID_MODEL, "delta is 0");
  double count = ceil((limit - start) / delta);
  if (!(count < 1e15)) return pfw_error(PFW_ERR_UNSUPPORTED, "Range would have %g elements", count);
  int64_t n = count > 0 ? (int64_t)count : 0;
  return pfw_set_output(node->out[0], dt, 1, &n);
}

/* Element i is start + i*delta, computed in the output type as ONNX's
 * reference does (repeated addition would drift for floats). */
static pfw_status range_run(pfw_node* node) {
  pfw_tensor* y = node->out[0];
  int64_t n = y->dims[0];
  const void* s = node->in[0]->data;
  const void* d = node->in[2]->data;
#define RANGE_FILL(T)                                         \
  do {                                                        \
    T s0, d0;                                                 \
    memcpy(&s0, s, sizeof s0);                                \
    memcpy(&d0, d, sizeof d0);                                \
    for (int64_t i = 0; i < n; i++) ((T*)y->data)[i] = (T)(s0 + (T)i * d0); \
  } while (0)
/* Integers step in unsigned arithmetic: no signed overflow near the limits. */
#define RANGE_FILL_INT(T)                                     \
  do {                                                        \
    T s0, d0;                                                 \
    memcpy(&s0, s, sizeof s0);                                \
    memcpy(&d0, d, sizeof d0);                                \
    for (int64_t i = 0; i < n; i++)                           \
      ((T*)y->data)[i] = (T)((uint64_t)(int64_t)s0 + (uint64_t)i * (uint64_t)(int64_t)d0); \
  } while (0)
  /* Half types: each element computed in float32 from the exact start and
   * delta, then rounded once. */
  bool half = y->dtype == PFW_FLOAT16;
  if (half || y->dtype == PFW_BFLOAT16) {
    uint16_t s0, d0;
    memcpy(&s0, s, 2);
    memcpy(&d0, d, 2);
    float sf = half ? pfw_half_to_float(s0) : pfw_bf16_to_float(s0);
    float df = half ? pfw_half_to_float(d0) : pfw_bf16_to_float(d0);
    for (int64_t i = 0; i < n; i++) {
      float v = sf + (float)i * df;
      ((uint16_t*)y->data)[i] = half ? pfw_float_to_half(v) : pfw_float_to_bf16(v);
    }
    return PFW_OK;
  }
  switch (y->dtype) {
    case PFW_FLOAT32: RANGE_FILL(float); break;
    case PFW_FLOAT64: RANGE_FILL(double); break;
    case PFW_INT16: RANGE_FILL_INT(int16_t); break;
    case PFW_INT32: RANGE_FILL_INT(int32_t); break;
    default: RANGE_FILL_INT(int64_t); break;
  }
#undef RANGE_FILL
#undef RANGE_FILL_INT
  return PFW_OK;
}

const pfw_op pfw_op_Range = {PFW_OP_Range, range_prepare, range_run, 0};
