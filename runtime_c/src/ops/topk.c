/* TopK: the k largest (or smallest) values along an axis and their int64
 * indices, always sorted (which sorted=0 allows), ties by the lower index:
 * a stable merge sort of each line's indices. NaN ranks above every number,
 * as numpy's sort orders it. k is the attribute (TopK-1) or input 1. */
#include <math.h>
#include <string.h>

#include "ops_common.h"

typedef struct {
  const char* base; /* the line's first element */
  int64_t stride;   /* elements between neighbours along the axis */
  pfw_dtype dtype;
  bool largest;
} topk_line;

static pfw_status topk_k(const pfw_node* node, int64_t* k) {
  if (node->desc->version < 10) {
    if (!pfw_attr_find(node, "k")) return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'k' is required");
    *k = pfw_attr_int(node, "k", 0);
    return PFW_OK;
  }
  int32_t n;
  pfw_status st = pfw_input_ints(node, 1, "K", k, 1, &n);
  if (st == PFW_OK && n != 1) st = pfw_error(PFW_ERR_INVALID_MODEL, "input 1 (K) must hold one value");
  return st;
}

static pfw_status topk_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, node->desc->version < 10 ? 1 : 2, 2);
  if (st != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  if (pfw_numeric_index(x->dtype) < 0)
    return pfw_error(PFW_ERR_UNSUPPORTED, "input 0 is %s; TopK supports " PFW_NUMERIC_NAMES, pfw_dtype_name(x->dtype));
  if (x->rank < 1) return pfw_error(PFW_ERR_SHAPE, "input 0 is a scalar; TopK needs rank >= 1");
  int32_t axis;
  int64_t k, largest = pfw_attr_int(node, "largest", 1);
  if ((st = pfw_norm_axis(pfw_attr_int(node, "axis", -1), x->rank, "attribute 'axis'", &axis)) != PFW_OK ||
      (st = topk_k(node, &k)) != PFW_OK)
    return st;
  if (k < 0 || k > x->dims[axis])
    return pfw_error(PFW_ERR_SHAPE, "k = %lld is outside [0, %lld], the size of axis %d", (long long)k,
                     (long long)x->dims[axis], (int)axis);
  if (largest != 0 && largest != 1)
    return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'largest' is %lld; expected 0 or 1", (long long)largest);
  if (node->n_out < 2 || !node->out[0] || !node->out[1])
    return pfw_error(PFW_ERR_INVALID_MODEL, "TopK has two outputs (Values, Indices)");
  int64_t dims[PFW_MAX_RANK];
  memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
  dims[axis] = k;
  node->scratch_size = 2 * (size_t)x->dims[axis] * sizeof(int64_t);
  st = pfw_set_output(node->out[0], x->dtype, x->rank, dims);
  return st == PFW_OK ? pfw_set_output(node->out[1], PFW_INT64, x->rank, dims) : st;
}

/* True when element a ranks before element b (strictly). */
static bool before(const topk_line* l, int64_t a, int64_t b) {
  const char* pa = l->base + (size_t)(a * l->stride) * pfw_dtype_size(l->dtype);
  const char* pb = l->base + (size_t)(b * l->stride) * pfw_dtype_size(l->dtype);
#define RANK(T)                                  \
  {                                              \
    T u, v;                                      \
    memcpy(&u, pa, sizeof u);                    \
    memcpy(&v, pb, sizeof v);                    \
    return l->largest ? u > v : u < v;           \
  }
  switch (l->dtype) {
    case PFW_FLOAT32:
    case PFW_FLOAT64: {
      double u, v;
      if (l->dtype == PFW_FLOAT32) {
        float f, g;
        memcpy(&f, pa, 4);
        memcpy(&g, pb, 4);
        u = f, v = g;
      } else {
        memcpy(&u, pa, 8);
        memcpy(&v, pb, 8);
      }
      if (isnan(u) || isnan(v)) return l->largest ? isnan(u) && !isnan(v) : !isnan(u) && isnan(v);
      return l->largest ? u > v : u < v;
    }
    case PFW_INT8: RANK(int8_t)
    case PFW_INT16: RANK(int16_t)
    case PFW_INT32: RANK(int32_t)
    case PFW_INT64: RANK(int64_t)
    case PFW_UINT8: RANK(uint8_t)
    case PFW_UINT16: RANK(uint16_t)
    case PFW_UINT32: RANK(uint32_t)
    case PFW_UINT64: RANK(uint64_t)
    default: return false;
  }
#undef RANK
}

/* before() for pfw_stable_sort: the context is the line. */
static bool ranks_before(const void* l, int64_t a, int64_t b) { return before(l, a, b); }

static pfw_status topk_run(pfw_node* node) {
  const pfw_tensor* x = node->in[0];
  pfw_tensor *values = node->out[0], *indices = node->out[1];
  int32_t axis;
  pfw_norm_axis(pfw_attr_int(node, "axis", -1), x->rank, "attribute 'axis'", &axis);
  int64_t n = x->dims[axis], k = values->dims[axis], outer = 1, inner = 1;
  for (int32_t j = 0; j < axis; j++) outer *= x->dims[j];
  for (int32_t j = axis + 1; j < x->rank; j++) inner *= x->dims[j];
  size_t es = pfw_dtype_size(x->dtype);
  int64_t *idx = node->scratch, *tmp = idx + n;
  topk_line l = {.stride = inner, .dtype = x->dtype, .largest = pfw_attr_int(node, "largest", 1) != 0};
  for (int64_t u = 0; u < outer; u++)
    for (int64_t v = 0; v < inner; v++) {
      l.base = (const char*)x->data + (size_t)(u * n * inner + v) * es;
      for (int64_t i = 0; i < n; i++) idx[i] = i;
      pfw_stable_sort(idx, tmp, n, ranks_before, &l);
      for (int64_t i = 0; i < k; i++) {
        int64_t o = (u * k + i) * inner + v;
        memcpy((char*)values->data + (size_t)o * es, l.base + (size_t)(idx[i] * inner) * es, es);
        ((int64_t*)indices->data)[o] = idx[i];
      }
    }
  return PFW_OK;
}

const pfw_op pfw_op_TopK = {PFW_OP_TopK, topk_prepare, topk_run, 0};
