/* ScatterElements (and Scatter, its opset 9-10 name) and ScatterND: the
 * output is data with the elements that indices name replaced by updates, or
 * combined with them (reduction add, mul, max, min), in index order so the
 * last duplicate wins for "none". Negative indices count from the end.
 * TensorScatter writes a block of updates into a cache along one axis. */
#include <string.h>

#include "ops_common.h"

typedef enum { SC_NONE, SC_ADD, SC_MUL, SC_MAX, SC_MIN } scatter_reduction;

static pfw_status read_reduction(const pfw_node* node, pfw_dtype t, scatter_reduction* r) {
  static const char* const names[] = {"none", "add", "mul", "max", "min"};
  const char* v = pfw_attr_string(node, "reduction", "none");
  for (int i = 0; i < 5; i++)
    if (!strcmp(v, names[i])) {
      *r = (scatter_reduction)i;
      if (*r != SC_NONE && pfw_numeric_index(t) < 0)
        return pfw_error(PFW_ERR_UNSUPPORTED, "reduction '%s' on %s data; supported: " PFW_NUMERIC_NAMES, v,
                         pfw_dtype_name(t));
      return PFW_OK;
    }
  return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'reduction' is '%s'; expected none, add, mul, max or min", v);
}

/* dst[i] = dst[i] op src[i] for n elements of type T. Integer add and mul
 * run in uint64_t (W) and wrap to T as two's complement (ONNX Runtime's
 * result) instead of overflowing. */
#define COMBINE(T, W)                                                                             \
  static void combine_##T(void* dst_, const void* src_, int64_t n, scatter_reduction r) {       \
    T* d = dst_;                                                                                \
    const T* s = src_;                                                                          \
    for (int64_t i = 0; i < n; i++) {                                                           \
      switch (r) {                                                                              \
        case SC_ADD: d[i] = (T)((W)d[i] + (W)s[i]); break;                                      \
        case SC_MUL: d[i] = (T)((W)d[i] * (W)s[i]); break;                                      \
        case SC_MAX: d[i] = s[i] > d[i] ? s[i] : d[i]; break;                                   \
        case SC_MIN: d[i] = s[i] < d[i] ? s[i] : d[i]; break;                                   \
        default: d[i] = s[i];                                                                   \
      }                                                                                         \
    }                                                                                           \
  }
COMBINE(float, float)
COMBINE(double, double)
COMBINE(int8_t, uint64_t)
COMBINE(int16_t, uint64_t)
COMBINE(int32_t, uint64_t)
COMBINE(int64_t, uint64_t)
COMBINE(uint8_t, uint64_t)
COMBINE(uint16_t, uint64_t)
COMBINE(uint32_t, uint64_t)
COMBINE(uint64_t, uint64_t)

static void combine(pfw_dtype t, void* dst, const void* src, int64_t n, scatter_reduction r) {
  if (r == SC_NONE) {
    memcpy(dst, src, (size_t)n * pfw_dtype_size(t));
    return;
  }
  switch (t) {
    case PFW_FLOAT32: combine_float(dst, src, n, r); break;
    case PFW_FLOAT64: combine_double(dst, src, n, r); break;
    case PFW_INT8: combine_int8_t(dst, src, n, r); break;
    case PFW_INT16: combine_int16_t(dst, src, n, r); break;
    case PFW_INT32: combine_int32_t(dst, src, n, r); break;
    case PFW_INT64: combine_int64_t(dst, src, n, r); break;
    case PFW_UINT8: combine_uint8_t(dst, src, n, r); break;
    case PFW_UINT16: combine_uint16_t(dst, src, n, r); break;
    case PFW_UINT32: combine_uint32_t(dst, src, n, r); break;
    case PFW_UINT64: combine_uint64_t(dst, src, n, r); break;
    default: break;
  }
}

static int64_t index_at(const pfw_tensor* ix, int64_t i) {
  if (ix->dtype == PFW_INT64) return ((const int64_t*)ix->data)[i];
  return ((const int32_t*)ix->data)[i];
}

static pfw_status need_indices(const pfw_node* node) {
  const pfw_tensor* ix = node->in[1];
  if (!ix || !node->in[2]) return pfw_error(PFW_ERR_INVALID_MODEL, "inputs 1 (indices) and 2 (updates) are required");
  if (ix->dtype != PFW_INT64 && ix->dtype != PFW_INT32)
    return pfw_error(PFW_ERR_INVALID_MODEL, "input 1 (indices) must be int32 or int64, is %s", pfw_dtype_name(ix->dtype));
  return pfw_check_input(node, 2, node->in[0]->dtype, -1);
}

/* ---- ScatterElements ---------------------------------------------------- */

static pfw_status scatter_elements_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 3, 3);
  if (st == PFW_OK) st = need_indices(node);
  if (st != PFW_OK) return st;
  const pfw_tensor *x = node->in[0], *ix = node->in[1], *up = node->in[2];
  scatter_reduction r;
  if ((st = read_reduction(node, x->dtype, &r)) != PFW_OK) return st;
  int32_t axis;
  if ((st = pfw_check_element_indices(node, x, ix, &axis)) != PFW_OK) return st;
  bool same = up->rank == ix->rank;
  for (int32_t k = 0; same && k < ix->rank; k++) same = up->dims[k] == ix->dims[k];
  if (!same) return pfw_error(PFW_ERR_SHAPE, "input 2 (updates) must have the shape of input 1 (indices)");
  return pfw_set_output(node->out[0], x->dtype, x->rank, x->dims);
}

static pfw_status scatter_elements_run(pfw_node* node) {
  const pfw_tensor *x = node->in[0], *ix = node->in[1], *up = node->in[2];
  pfw_tensor* y = node->out[0];
  scatter_reduction r;
  int32_t axis;
  pfw_status st = read_reduction(node, x->dtype, &r);
  if (st == PFW_OK) st = pfw_norm_axis(pfw_attr_int(node, "axis", 0), x->rank, "attribute 'axis'", &axis);
  if (st != PFW_OK) return st;
  size_t es = pfw_dtype_size(x->dtype);
  memcpy(y->data, x->data, (size_t)pfw_numel(x) * es);
  int64_t n = pfw_numel(ix), stride[PFW_MAX_RANK], idx[PFW_MAX_RANK] = {0}, dim = x->dims[axis], acc = 1;
  for (int32_t k = x->rank - 1; k >= 0; k--) stride[k] = acc, acc *= x->dims[k];
  for (int64_t i = 0; i < n; i++) {
    int64_t v = index_at(ix, i);
    if (v < -dim || v >= dim)
      return pfw_error(PFW_ERR_INVALID_ARGUMENT, "index %lld at position %lld is out of range [%lld, %lld)",
                       (long long)v, (long long)i, (long long)-dim, (long long)dim);
    if (v < 0) v += dim;
    int64_t pos = 0;
    for (int32_t k = 0; k < x->rank; k++) pos += (k == axis ? v : idx[k]) * stride[k];
    combine(x->dtype, (char*)y->data + (size_t)pos * es, (const char*)up->data + (size_t)i * es, 1, r);
    for (int32_t k = ix->rank - 1; k >= 0 && ++idx[k] == ix->dims[k]; k--) idx[k] = 0;
  }
  return PFW_OK;
}

/* ---- ScatterND ---------------------------------------------------------- */

static pfw_status scatter_nd_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 3, 3);
  if (st == PFW_OK) st = need_indices(node);
  if (st != PFW_OK) return st;
  const pfw_tensor *x = node->in[0], *ix = node->in[1], *up = node->in[2];
  scatter_reduction r;
  if ((st = read_reduction(node, x->dtype, &r)) != PFW_OK) return st;
  if (x->rank < 1 || ix->rank < 1)
    return pfw_error(PFW_ERR_SHAPE, "data and indices must have rank >= 1 (ranks %d and %d)", (int)x->rank,
                     (int)ix->rank);
  int64_t k = ix->dims[ix->rank - 1];
  if (k < 1 || k > x->rank)
    return pfw_error(PFW_ERR_SHAPE, "indices' last dimension is %lld; expected 1 to data's rank %d", (long long)k,
                     (int)x->rank);
  /* updates = indices.shape[:-1] + data.shape[k:] */
  int32_t want = ix->rank - 1 + x->rank - (int32_t)k;
  bool fits = up->rank == want;
  for (int32_t j = 0; fits && j < ix->rank - 1; j++) fits = up->dims[j] == ix->dims[j];
  for (int32_t j = (int32_t)k; fits && j < x->rank; j++) fits = up->dims[ix->rank - 1 + j - k] == x->dims[j];
  if (!fits)
    return pfw_error(PFW_ERR_SHAPE, "input 2 (updates) must have shape indices.shape[:-1] + data.shape[%lld:]",
                     (long long)k);
  return pfw_set_output(node->out[0], x->dtype, x->rank, x->dims);
}

static pfw_status scatter_nd_run(pfw_node* node) {
  const pfw_tensor *x = node->in[0], *ix = node->in[1], *up = node->in[2];
  pfw_tensor* y = node->out[0];
  scatter_reduction r;
  pfw_status st = read_reduction(node, x->dtype, &r);
  if (st != PFW_OK) return st;
  size_t es = pfw_dtype_size(x->dtype);
  memcpy(y->data, x->data, (size_t)pfw_numel(x) * es);
  int32_t k = (int32_t)ix->dims[ix->rank - 1];
  int64_t stride[PFW_MAX_RANK], acc = 1, n = k > 0 ? pfw_numel(ix) / k : 0;
  for (int32_t j = x->rank - 1; j >= 0; j--) stride[j] = acc, acc *= x->dims[j];
  int64_t slice = stride[k - 1]; /* elements of data.shape[k:] */
  for (int64_t i = 0; i < n; i++) {
    int64_t pos = 0;
    for (int32_t j = 0; j < k; j++) {
      int64_t v = index_at(ix, i * k + j), dim = x->dims[j];
      if (v < -dim || v >= dim)
        return pfw_error(PFW_ERR_INVALID_ARGUMENT, "index %lld at position %lld is out of range [%lld, %lld)",
                         (long long)v, (long long)(i * k + j), (long long)-dim, (long long)dim);
      pos += (v < 0 ? v + dim : v) * stride[j];
    }
    combine(x->dtype, (char*)y->data + (size_t)pos * es, (const char*)up->data + (size_t)(i * slice) * es, slice, r);
  }
  return PFW_OK;
}

/* ---- TensorScatter -------------------------------------------------------- */

static pfw_status tensor_scatter_axis(const pfw_node* node, int32_t* axis, bool* circular) {
  const char* mode = pfw_attr_string(node, "mode", "linear");
  if (strcmp(mode, "linear") && strcmp(mode, "circular"))
    return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'mode' is '%s'; expected linear or circular", mode);
  *circular = !strcmp(mode, "circular");
  pfw_status st = pfw_norm_axis(pfw_attr_int(node, "axis", -2), node->in[0]->rank, "attribute 'axis'", axis);
  if (st == PFW_OK && *axis == 0) st = pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'axis' is the batch axis 0");
  return st;
}

static pfw_status tensor_scatter_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 2, 3);
  int32_t axis;
  bool circular;
  if (st == PFW_OK && !node->in[1]) st = pfw_error(PFW_ERR_INVALID_MODEL, "input 1 (update) is required");
  if (st == PFW_OK) st = pfw_check_input(node, 1, node->in[0]->dtype, node->in[0]->rank);
  if (st == PFW_OK && node->in[0]->rank < 2) st = pfw_error(PFW_ERR_SHAPE, "input 0 (past_cache) needs rank >= 2");
  if (st == PFW_OK) st = tensor_scatter_axis(node, &axis, &circular);
  if (st == PFW_OK && node->n_in > 2 && node->in[2]) st = pfw_check_input(node, 2, PFW_INT64, 1);
  if (st != PFW_OK) return st;
  const pfw_tensor *cache = node->in[0], *up = node->in[1];
  for (int32_t k = 0; k < cache->rank; k++)
    if (k == axis ? up->dims[k] > cache->dims[k] : up->dims[k] != cache->dims[k])
      return pfw_error(PFW_ERR_SHAPE, "update dimension %d (%lld) does not fit past_cache's (%lld)", (int)k,
                       (long long)up->dims[k], (long long)cache->dims[k]);
  if (node->n_in > 2 && node->in[2] && node->in[2]->dims[0] != cache->dims[0])
    return pfw_error(PFW_ERR_SHAPE, "input 2 (write_indices) needs one index per batch (%lld)", (long long)cache->dims[0]);
  return pfw_set_output(node->out[0], cache->dtype, cache->rank, cache->dims);
}

static pfw_status tensor_scatter_run(pfw_node* node) {
  const pfw_tensor *cache = node->in[0], *up = node->in[1], *wi = node->n_in > 2 ? node->in[2] : NULL;
  int32_t axis;
  bool circular;
  tensor_scatter_axis(node, &axis, &circular);
  size_t es = pfw_dtype_size(cache->dtype);
  memcpy(node->out[0]->data, cache->data, (size_t)pfw_numel(cache) * es);
  int64_t prefix = 1, per_batch = 1, inner = 1, max_len = cache->dims[axis], len = up->dims[axis];
  for (int32_t k = 0; k < axis; k++) prefix *= cache->dims[k];
  for (int32_t k = 1; k < axis; k++) per_batch *= cache->dims[k];
  for (int32_t k = axis + 1; k < cache->rank; k++) inner *= cache->dims[k];
  size_t row = (size_t)inner * es;
  for (int64_t p = 0; p < prefix; p++) {
    int64_t b = p / per_batch, start = wi ? ((const int64_t*)wi->data)[b] : 0;
    for (int64_t s = 0; s < len; s++) {
      int64_t at = start + s;
      if (circular && max_len > 0) at = ((at % max_len) + max_len) % max_len;
      if (at < 0 || at >= max_len)
        return pfw_error(PFW_ERR_INVALID_ARGUMENT, "write index %lld + %lld for batch %lld is outside [0, %lld)",
                         (long long)start, (long long)s, (long long)b, (long long)max_len);
      memcpy((char*)node->out[0]->data + (size_t)(p * max_len + at) * row,
             (const char*)up->data + (size_t)(p * len + s) * row, row);
    }
  }
  return PFW_OK;
}

const pfw_op pfw_op_TensorScatter = {PFW_OP_TensorScatter, tensor_scatter_prepare, tensor_scatter_run, 0};

const pfw_op pfw_op_ScatterElements = {PFW_OP_ScatterElements, scatter_elements_prepare, scatter_elements_run, 0};
const pfw_op pfw_op_Scatter = {PFW_OP_Scatter, scatter_elements_prepare, scatter_elements_run, 0};
const pfw_op pfw_op_ScatterND = {PFW_OP_ScatterND, scatter_nd_prepare, scatter_nd_run, 0};
