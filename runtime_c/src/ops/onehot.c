/* OneHot: out has indices' shape with a new axis of size depth; the element
 * at class indices[...] along it is values[1] (on), the rest values[0]
 * (off). Negative indices count from depth; an index outside [-depth, depth)
 * or not a whole number leaves its line all off (ONNX's reference). depth
 * (a scalar of any real type) is read while planning. */
#include <math.h>
#include <string.h>

#include "ops_common.h"

static pfw_status read_depth(const pfw_node* node, int64_t* depth) {
  const pfw_tensor* d = node->in[1];
  int32_t n;
  pfw_status st;
  if (d->dtype == PFW_FLOAT32 || d->dtype == PFW_FLOAT64) {
    double v;
    if ((st = pfw_input_floats(node, 1, "depth", &v, 1, &n)) != PFW_OK) return st;
    if (n == 1 && (v != floor(v) || !(v >= 1 && v <= (double)INT32_MAX)))
      return pfw_error(PFW_ERR_INVALID_MODEL, "input 1 (depth) is %g; expected a whole number >= 1", v);
    *depth = (int64_t)v;
  } else {
    if ((st = pfw_input_ints(node, 1, "depth", depth, 1, &n)) != PFW_OK) return st;
    if (n == 1 && (*depth < 1 || *depth > INT32_MAX))
      return pfw_error(PFW_ERR_INVALID_MODEL, "input 1 (depth) is %lld; expected >= 1", (long long)*depth);
  }
  if (n != 1) return pfw_error(PFW_ERR_INVALID_MODEL, "input 1 (depth) must hold one value");
  return PFW_OK;
}

static pfw_status onehot_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 3, 3);
  if (st != PFW_OK) return st;
  const pfw_tensor *ix = node->in[0], *values = node->in[2];
  if (!node->in[1] || !values) return pfw_error(PFW_ERR_INVALID_MODEL, "inputs 1 (depth) and 2 (values) are required");
  if (pfw_numeric_index(ix->dtype) < 0)
    return pfw_error(PFW_ERR_UNSUPPORTED, "input 0 (indices) is %s; expected " PFW_NUMERIC_NAMES,
                     pfw_dtype_name(ix->dtype));
  if (pfw_numel(values) != 2 || values->rank != 1)
    return pfw_error(PFW_ERR_SHAPE, "input 2 (values) must be [off_value, on_value], has %lld elements",
                     (long long)pfw_numel(values));
  if (pfw_dtype_size(values->dtype) == 0)
    return pfw_error(PFW_ERR_UNSUPPORTED, "input 2 (values) has dtype %s", pfw_dtype_name(values->dtype));
  if (ix->rank + 1 > PFW_MAX_RANK) return pfw_error(PFW_ERR_UNSUPPORTED, "indices of rank %d", (int)ix->rank);
  int64_t depth;
  int32_t axis;
  if ((st = read_depth(node, &depth)) != PFW_OK ||
      (st = pfw_norm_axis(pfw_attr_int(node, "axis", -1), ix->rank + 1, "attribute 'axis'", &axis)) != PFW_OK)
    return st;
  int64_t dims[PFW_MAX_RANK];
  for (int32_t k = 0, j = 0; k <= ix->rank; k++) dims[k] = k == axis ? depth : ix->dims[j++];
  return pfw_set_output(node->out[0], values->dtype, ix->rank + 1, dims);
}

/* The class an index names in [0, depth), or -1 when it names none. */
static int64_t class_of(const pfw_tensor* ix, int64_t i, int64_t depth) {
  const char* p = (const char*)ix->data;
  double v;
  switch (ix->dtype) {
    case PFW_INT64: {
      int64_t w = ((const int64_t*)p)[i];
      if (w < 0) w += depth;
      return w >= 0 && w < depth ? w : -1;
    }
    case PFW_UINT64: {
      uint64_t w = ((const uint64_t*)p)[i];
      return w < (uint64_t)depth ? (int64_t)w : -1;
    }
    case PFW_FLOAT32: v = ((const float*)p)[i]; break;
    case PFW_FLOAT64: v = ((const double*)p)[i]; break;
    case PFW_INT32: v = ((const int32_t*)p)[i]; break;
    case PFW_INT8: v = ((const int8_t*)p)[i]; break;
    case PFW_UINT8: v = ((const uint8_t*)p)[i]; break;
    case PFW_INT16: v = ((const int16_t*)p)[i]; break;
    case PFW_UINT16: v = ((const uint16_t*)p)[i]; break;
    case PFW_UINT32: v = ((const uint32_t*)p)[i]; break;
    default: return -1;
  }
  if (v < 0) v += (double)depth;
  return v == floor(v) && v >= 0 && v < (double)depth ? (int64_t)v : -1;
}

static pfw_status onehot_run(pfw_node* node) {
  const pfw_tensor *ix = node->in[0], *values = node->in[2];
  pfw_tensor* y = node->out[0];
  int32_t axis;
  pfw_norm_axis(pfw_attr_int(node, "axis", -1), ix->rank + 1, "attribute 'axis'", &axis);
  int64_t depth = y->dims[axis], inner = 1, n = pfw_numel(ix), total = pfw_numel(y);
  for (int32_t k = axis + 1; k < y->rank; k++) inner *= y->dims[k];
  size_t es = pfw_dtype_size(values->dtype);
  const char *off = values->data, *on = (const char*)values->data + es;
  for (int64_t i = 0; i < total; i++) memcpy((char*)y->data + (size_t)i * es, off, es);
  for (int64_t i = 0; i < n; i++) {
    int64_t c = class_of(ix, i, depth);
    if (c < 0) continue;
    int64_t outer = i / inner, in = i % inner; /* indices = (outer, inner); out = (outer, depth, inner) */
    memcpy((char*)y->data + (size_t)((outer * depth + c) * inner + in) * es, on, es);
  }
  return PFW_OK;
}

/* depth may be a float graph input: prepare reads it. */
const pfw_op pfw_op_OneHot = {PFW_OP_OneHot, onehot_prepare, onehot_run, PFW_OPF_PLAN_FLOATS};
