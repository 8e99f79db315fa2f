/* Indexing ops on any dtype: Gather, Slice, Expand, Tile. Elements move as
 * bytes, so one kernel serves every dtype. */
#include <string.h>

#include "ops_common.h"

/* Copies out_dims elements of `es` bytes where element o of the output reads
 * source element offset + sum(o[k] * stride[k]) (strides in elements, may be
 * 0 or negative). Serves Slice (steps) and Expand (stride 0 broadcasts). */
static void strided_copy(char* dst, const char* src, int32_t rank, const int64_t* out_dims,
                         const int64_t* stride, int64_t offset, size_t es) {
  int64_t total = 1;
  for (int32_t k = 0; k < rank; k++) total *= out_dims[k];
  if (total == 0) return;
  int64_t idx[PFW_MAX_RANK] = {0};
  int64_t pos = offset;
  for (int64_t i = 0; i < total; i++) {
    memcpy(dst + (size_t)i * es, src + pos * (int64_t)es, es);
    for (int32_t k = rank - 1; k >= 0; k--) { /* odometer increment */
      pos += stride[k];
      if (++idx[k] < out_dims[k]) break;
      pos -= stride[k] * out_dims[k];
      idx[k] = 0;
    }
  }
}

/* ---- Gather ----------------------------------------------------------------------- */

static pfw_status gather_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 2, 2);
  if (st != PFW_OK) return st;
  const pfw_tensor *x = node->in[0], *ix = node->in[1];
  if (ix->dtype != PFW_INT64 && ix->dtype != PFW_INT32)
    return pfw_error(PFW_ERR_INVALID_MODEL, "input 1 (indices) must be int32 or int64, is %s",
                     pfw_dtype_name(ix->dtype));
  if (x->rank < 1) return pfw_error(PFW_ERR_INVALID_MODEL, "input 0 (data) must have rank >= 1");
  int32_t axis;
  if ((st = pfw_norm_axis(pfw_attr_int(node, "axis", 0), x->rank, "attribute 'axis'", &axis)) != PFW_OK) return st;
  int32_t rank = x->rank - 1 + ix->rank;
  if (rank > PFW_MAX_RANK)
    return pfw_error(PFW_ERR_UNSUPPORTED, "the output would have rank %d; the maximum is %d", (int)rank, PFW_MAX_RANK);
  int64_t dims[PFW_MAX_RANK];
  int32_t r = 0;
  for (int32_t k = 0; k < axis; k++) dims[r++] = x->dims[k];
  for (int32_t k = 0; k < ix->rank; k++) dims[r++] = ix->dims[k];
  for (int32_t k = axis + 1; k < x->rank; k++) dims[r++] = x->dims[k];
  return pfw_set_output(node->out[0], x->dtype, rank, dims);
}

static pfw_status gather_run(pfw_node* node) {
  const pfw_tensor *x = node->in[0], *ix = node->in[1];
  int32_t axis;
  pfw_norm_axis(pfw_attr_int(node, "axis", 0), x->rank, "axis", &axis);
  int64_t outer = 1, inner = 1, k_dim = x->dims[axis], n_idx = pfw_numel(ix);
  for (int32_t k = 0; k < axis; k++) outer *= x->dims[k];
  for (int32_t k = axis + 1; k < x->rank; k++) inner *= x->dims[k];
  size_t block = (size_t)inner * pfw_dtype_size(x->dtype);
  char* y = node->out[0]->data;
  /* A lookup of 1- to 8-byte values (a tree walk's node tables) copies them
   * as integers: a memcpy call per element cost ten times the copy. */
  int table = outer == 1 && (block == 1 || block == 2 || block == 4 || block == 8) ? (int)block : 0;
  for (int64_t j = 0; j < n_idx; j++) {
    int64_t v = pfw_index_at(ix, j);
    if (v < -k_dim || v >= k_dim)
      return pfw_error(PFW_ERR_INVALID_ARGUMENT, "index %lld at position %lld is out of range [%lld, %lld)",
                       (long long)v, (long long)j, (long long)-k_dim, (long long)k_dim);
    if (v < 0) v += k_dim;
    switch (table) {
      case 1: ((uint8_t*)y)[j] = ((const uint8_t*)x->data)[v]; continue;
      case 2: ((uint16_t*)y)[j] = ((const uint16_t*)x->data)[v]; continue;
      case 4: ((uint32_t*)y)[j] = ((const uint32_t*)x->data)[v]; continue;
      case 8: ((uint64_t*)y)[j] = ((const uint64_t*)x->data)[v]; continue;
      default: break;
    }
    for (int64_t o = 0; o < outer; o++)
      if (block)
        memcpy(y + ((size_t)o * (size_t)n_idx + (size_t)j) * block,
               (const char*)x->data + ((size_t)o * (size_t)k_dim + (size_t)v) * block, block);
  }
  return PFW_OK;
}

const pfw_op pfw_op_Gather = {PFW_OP_Gather, gather_prepare, gather_run, PFW_OPF_STRINGS};

/* ---- Slice --------------------------------------------------------------------------
 * Opset 1: starts/ends/axes attributes. Opset 10+: inputs starts, ends, axes,
 * steps, known while planning. Bounds clamp as ONNX specifies. */

typedef struct {
  int64_t start[PFW_MAX_RANK], step[PFW_MAX_RANK], len[PFW_MAX_RANK];
} slice_plan;

static pfw_status slice_read(const pfw_node* node, int64_t* starts, int64_t* ends, int64_t* axes,
                             int64_t* steps, int32_t* n, int32_t* n_axes, int32_t* n_steps) {
  int32_t n_ends;
  pfw_status st;
  if (node->desc->version < 10) {
    const int64_t* s = pfw_attr_ints(node, "starts", n);
    const int64_t* e = pfw_attr_ints(node, "ends", &n_ends);
    const int64_t* a = pfw_attr_ints(node, "axes", n_axes);
    if (!s || !e) return pfw_error(PFW_ERR_INVALID_MODEL, "attributes 'starts' and 'ends' are required");
    if (*n > PFW_MAX_RANK || n_ends != *n || (a && *n_axes != *n))
      return pfw_error(PFW_ERR_INVALID_MODEL, "starts, ends and axes must have one length <= %d", PFW_MAX_RANK);
    memcpy(starts, s, sizeof(int64_t) * (size_t)*n);
    memcpy(ends, e, sizeof(int64_t) * (size_t)*n);
    if (a) memcpy(axes, a, sizeof(int64_t) * (size_t)*n);
    *n_steps = -1;
    return PFW_OK;
  }
  if ((st = pfw_input_ints(node, 1, "starts", starts, PFW_MAX_RANK, n)) != PFW_OK ||
      (st = pfw_input_ints(node, 2, "ends", ends, PFW_MAX_RANK, &n_ends)) != PFW_OK ||
      (st = pfw_input_ints(node, 3, "axes", axes, PFW_MAX_RANK, n_axes)) != PFW_OK ||
      (st = pfw_input_ints(node, 4, "steps", steps, PFW_MAX_RANK, n_steps)) != PFW_OK)
    return st;
  if (*n < 0 || n_ends != *n || (*n_axes >= 0 && *n_axes != *n) || (*n_steps >= 0 && *n_steps != *n))
    return pfw_error(PFW_ERR_INVALID_MODEL, "starts, ends, axes and steps must have one length");
  return PFW_OK;
}

static pfw_status slice_compute(const pfw_node* node, slice_plan* p) {
  const pfw_tensor* x = node->in[0];
  int64_t starts[PFW_MAX_RANK], ends[PFW_MAX_RANK], axes[PFW_MAX_RANK], steps[PFW_MAX_RANK];
  int32_t n, n_axes = -1, n_steps = -1;
  pfw_status st = slice_read(node, starts, ends, axes, steps, &n, &n_axes, &n_steps);
  if (st != PFW_OK) return st;
  bool seen[PFW_MAX_RANK] = {false};
  for (int32_t k = 0; k < x->rank; k++) {
    p->start[k] = 0;
    p->step[k] = 1;
    p->len[k] = x->dims[k];
  }
  for (int32_t i = 0; i < n; i++) {
    int32_t a = i;
    if (n_axes >= 0 && (st = pfw_norm_axis(axes[i], x->rank, "axes", &a)) != PFW_OK) return st;
    if (a >= x->rank) return pfw_error(PFW_ERR_INVALID_MODEL, "more starts than input 0 has dimensions");
    if (seen[a]) return pfw_error(PFW_ERR_INVALID_MODEL, "axis %d is sliced twice", (int)a);
    seen[a] = true;
    int64_t d = x->dims[a], step = n_steps >= 0 ? steps[i] : 1, s = starts[i], e = ends[i];
    if (step == 0) return pfw_error(PFW_ERR_INVALID_MODEL, "steps[%d] is 0", (int)i);
    if (s < 0) s = s < -d ? 0 : s + d; /* negative counts from the end; -inf clamps */
    if (e < 0) e = e < -d ? -1 : e + d;
    if (step > 0) {
      s = s > d ? d : s;
      e = e > d ? d : (e < 0 ? 0 : e);
      p->len[a] = e > s ? (e - s + step - 1) / step : 0;
    } else {
      s = s > d - 1 ? d - 1 : s;
      e = e > d - 1 ? d - 1 : e;
      p->len[a] = s > e ? (s - e + (-step) - 1) / (-step) : 0;
    }
    p->start[a] = p->len[a] ? s : 0;
    p->step[a] = step;
  }
  return PFW_OK;
}

static pfw_status slice_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, node->desc->version < 10 ? 1 : 3, node->desc->version < 10 ? 1 : 5);
  slice_plan p;
  if (st == PFW_OK) st = slice_compute(node, &p);
  return st != PFW_OK ? st : pfw_set_output(node->out[0], node->in[0]->dtype, node->in[0]->rank, p.len);
}

static pfw_status slice_run(pfw_node* node) {
  const pfw_tensor* x = node->in[0];
  slice_plan p;
  pfw_status st = slice_compute(node, &p);
  if (st != PFW_OK) return st;
  int64_t in_stride[PFW_MAX_RANK], stride[PFW_MAX_RANK], offset = 0;
  pfw_contiguous_strides(x, in_stride);
  for (int32_t k = 0; k < x->rank; k++) {
    offset += p.start[k] * in_stride[k];
    stride[k] = p.step[k] * in_stride[k];
  }
  strided_copy(node->out[0]->data, x->data, x->rank, p.len, stride, offset, pfw_dtype_size(x->dtype));
  return PFW_OK;
}

const pfw_op pfw_op_Slice = {PFW_OP_Slice, slice_prepare, slice_run, PFW_OPF_STRINGS};

/* ---- Expand ---------------------------------------------------------------------------- */

static pfw_status expand_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 2, 2);
  if (st != PFW_OK) return st;
  int64_t shape[PFW_MAX_RANK], dims[PFW_MAX_RANK];
  int32_t n, rank;
  if ((st = pfw_input_ints(node, 1, "shape", shape, PFW_MAX_RANK, &n)) != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  if ((st = pfw_broadcast_shape(x->rank, x->dims, n, shape, &rank, dims)) != PFW_OK) return st;
  return pfw_set_output(node->out[0], x->dtype, rank, dims);
}

static pfw_status expand_run(pfw_node* node) {
  const pfw_tensor* x = node->in[0];
  pfw_tensor* y = node->out[0];
  int64_t in_stride[PFW_MAX_RANK], stride[PFW_MAX_RANK];
  pfw_contiguous_strides(x, in_stride);
  int32_t lead = y->rank - x->rank;
  for (int32_t k = 0; k < y->rank; k++) {
    int32_t j = k - lead; /* right-aligned input axis */
    stride[k] = j < 0 || x->dims[j] == 1 ? 0 : in_stride[j];
  }
  strided_copy(y->data, x->data, y->rank, y->dims, stride, 0, pfw_dtype_size(x->dtype));
  return PFW_OK;
}

const pfw_op pfw_op_Expand = {PFW_OP_Expand, expand_prepare, expand_run, PFW_OPF_STRINGS};

/* ---- Tile ------------------------------------------------------------------------------ */

static pfw_status tile_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 2, 2);
  if (st != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  int64_t reps[PFW_MAX_RANK], dims[PFW_MAX_RANK];
  int32_t n;
  if ((st = pfw_input_ints(node, 1, "repeats", reps, PFW_MAX_RANK, &n)) != PFW_OK) return st;
  if (n != x->rank)
    return pfw_error(PFW_ERR_INVALID_MODEL, "repeats has %d values for an input of rank %d", (int)n, (int)x->rank);
  for (int32_t k = 0; k < n; k++) {
    if (reps[k] < 0) return pfw_error(PFW_ERR_INVALID_MODEL, "repeats[%d] is negative", (int)k);
    if (pfw_mul_overflows(x->dims[k], reps[k], &dims[k]))
      return pfw_error(PFW_ERR_UNSUPPORTED, "tiled dimension %d overflows", (int)k);
  }
  return pfw_set_output(node->out[0], x->dtype, x->rank, dims);
}

/* Output element o reads input element o mod dims, one axis at a time. */
static pfw_status tile_run(pfw_node* node) {
  const pfw_tensor* x = node->in[0];
  pfw_tensor* y = node->out[0];
  size_t es = pfw_dtype_size(x->dtype);
  int64_t total = pfw_numel(y), in_stride[PFW_MAX_RANK], idx[PFW_MAX_RANK] = {0};
  if (total == 0) return PFW_OK;
  pfw_contiguous_strides(x, in_stride);
  for (int64_t i = 0; i < total; i++) {
    int64_t pos = 0;
    for (int32_t k = 0; k < x->rank; k++) pos += (idx[k] % x->dims[k]) * in_stride[k];
    memcpy((char*)y->data + (size_t)i * es, (const char*)x->data + (size_t)pos * es, es);
    for (int32_t k = y->rank - 1; k >= 0 && ++idx[k] == y->dims[k]; k--) idx[k] = 0;
  }
  return PFW_OK;
}

const pfw_op pfw_op_Tile = {PFW_OP_Tile, tile_prepare, tile_run, PFW_OPF_STRINGS};

/* ---- GatherElements ------------------------------------------------------------------
 * out[i] = data[i with axis coordinate replaced by indices[i]]; indices has the
 * data's rank and its own dims. */

/* GatherElements/ScatterElements: indices of data's rank, no larger than data
 * off `axis` (attribute, normalised into *axis). */
pfw_status pfw_check_element_indices(const pfw_node* node, const pfw_tensor* x, const pfw_tensor* ix, int32_t* axis) {
  if (ix->rank != x->rank || x->rank < 1)
    return pfw_error(PFW_ERR_SHAPE, "indices have rank %d but data has rank %d; they must be equal and >= 1",
                     (int)ix->rank, (int)x->rank);
  pfw_status st = pfw_norm_axis(pfw_attr_int(node, "axis", 0), x->rank, "attribute 'axis'", axis);
  if (st != PFW_OK) return st;
  for (int32_t k = 0; k < x->rank; k++)
    if (k != *axis && ix->dims[k] > x->dims[k])
      return pfw_error(PFW_ERR_SHAPE, "indices dimension %d (%lld) exceeds data's (%lld)", (int)k,
                       (long long)ix->dims[k], (long long)x->dims[k]);
  return PFW_OK;
}

static pfw_status gather_elements_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 2, 2);
  if (st != PFW_OK) return st;
  const pfw_tensor *x = node->in[0], *ix = node->in[1];
  if (ix->dtype != PFW_INT64 && ix->dtype != PFW_INT32)
    return pfw_error(PFW_ERR_INVALID_MODEL, "input 1 (indices) must be int32 or int64, is %s",
                     pfw_dtype_name(ix->dtype));
  int32_t axis;
  if ((st = pfw_check_element_indices(node, x, ix, &axis)) != PFW_OK) return st;
  return pfw_set_output(node->out[0], x->dtype, ix->rank, ix->dims);
}

static pfw_status gather_elements_run(pfw_node* node) {
  const pfw_tensor *x = node->in[0], *ix = node->in[1];
  int32_t axis;
  pfw_norm_axis(pfw_attr_int(node, "axis", 0), x->rank, "axis", &axis);
  size_t es = pfw_dtype_size(x->dtype);
  int64_t n = pfw_numel(ix), stride[PFW_MAX_RANK], idx[PFW_MAX_RANK] = {0}, k_dim = x->dims[axis];
  pfw_contiguous_strides(x, stride);
  /* The offset of element idx with its axis coordinate at 0, kept as idx
   * steps (an odometer), so an element costs an add, not a rank-long sum. */
  int64_t base = 0;
  char* y = node->out[0]->data;
  for (int64_t i = 0; i < n; i++) {
    int64_t v = pfw_index_at(ix, i);
    if (v < -k_dim || v >= k_dim)
      return pfw_error(PFW_ERR_INVALID_ARGUMENT, "index %lld at position %lld is out of range [%lld, %lld)",
                       (long long)v, (long long)i, (long long)-k_dim, (long long)k_dim);
    if (v < 0) v += k_dim;
    int64_t pos = base + v * stride[axis];
    if (es == 4) ((uint32_t*)y)[i] = ((const uint32_t*)x->data)[pos];
    else if (es == 8) ((uint64_t*)y)[i] = ((const uint64_t*)x->data)[pos];
    else memcpy(y + (size_t)i * es, (const char*)x->data + (size_t)pos * es, es);
    for (int32_t k = ix->rank - 1; k >= 0; k--) {
      if (k != axis) base += stride[k];
      if (++idx[k] < ix->dims[k]) break;
      if (k != axis) base -= stride[k] * ix->dims[k];
      idx[k] = 0;
    }
  }
  return PFW_OK;
}

const pfw_op pfw_op_GatherElements = {PFW_OP_GatherElements, gather_elements_prepare, gather_elements_run, PFW_OPF_STRINGS};

/* ---- GatherND ------------------------------------------------------------------ */

/* out[i..., :] = data[batch..., indices[i..., :], :]: the last axis of
 * indices (k values) picks a slice of data after its batch_dims. */
static pfw_status gather_nd_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 2, 2);
  if (st == PFW_OK) st = pfw_check_input(node, 1, PFW_INT64, -1);
  if (st != PFW_OK) return st;
  const pfw_tensor *x = node->in[0], *ix = node->in[1];
  int64_t b = pfw_attr_int(node, "batch_dims", 0);
  if (ix->rank < 1 || x->rank < 1 || b < 0 || b >= ix->rank || b >= x->rank)
    return pfw_error(PFW_ERR_SHAPE, "batch_dims %lld needs data and indices of larger rank (%d, %d)", (long long)b,
                     (int)x->rank, (int)ix->rank);
  int64_t k = ix->dims[ix->rank - 1];
  if (k < 1 || b + k > x->rank)
    return pfw_error(PFW_ERR_SHAPE, "indices' last dimension %lld does not fit data of rank %d after %lld batch dims",
                     (long long)k, (int)x->rank, (long long)b);
  for (int32_t j = 0; j < b; j++)
    if (x->dims[j] != ix->dims[j])
      return pfw_error(PFW_ERR_SHAPE, "batch dimension %d: data has %lld, indices %lld", (int)j,
                       (long long)x->dims[j], (long long)ix->dims[j]);
  int64_t dims[2 * PFW_MAX_RANK];
  int32_t r = 0;
  for (int32_t j = 0; j < ix->rank - 1; j++) dims[r++] = ix->dims[j];
  for (int32_t j = (int32_t)(b + k); j < x->rank; j++) dims[r++] = x->dims[j];
  if (r > PFW_MAX_RANK) return pfw_error(PFW_ERR_UNSUPPORTED, "GatherND output of rank %d", (int)r);
  return pfw_set_output(node->out[0], x->dtype, r, dims);
}

static pfw_status gather_nd_run(pfw_node* node) {
  const pfw_tensor *x = node->in[0], *ix = node->in[1];
  int32_t b = (int32_t)pfw_attr_int(node, "batch_dims", 0), k = (int32_t)ix->dims[ix->rank - 1];
  int64_t stride[PFW_MAX_RANK], n = pfw_numel(ix) / k, per_batch = 1;
  pfw_contiguous_strides(x, stride);
  for (int32_t j = b; j < ix->rank - 1; j++) per_batch *= ix->dims[j];
  size_t es = pfw_dtype_size(x->dtype), slice = (size_t)(b + k < x->rank ? stride[b + k - 1] : 1) * es;
  const int64_t* v = ix->data;
  for (int64_t i = 0; i < n; i++) {
    int64_t pos = (b > 0 ? i / per_batch : 0) * (b > 0 ? stride[b - 1] : 0);
    for (int32_t j = 0; j < k; j++) {
      int64_t d = x->dims[b + j], w = v[i * k + j];
      if (w < -d || w >= d)
        return pfw_error(PFW_ERR_INVALID_ARGUMENT, "index %lld at position %lld is out of range [%lld, %lld)",
                         (long long)w, (long long)(i * k + j), (long long)-d, (long long)d);
      pos += (w < 0 ? w + d : w) * stride[b + j];
    }
    memcpy((char*)node->out[0]->data + (size_t)i * slice, (const char*)x->data + (size_t)pos * es, slice);
  }
  return PFW_OK;
}

const pfw_op pfw_op_GatherND = {PFW_OP_GatherND, gather_nd_prepare, gather_nd_run, PFW_OPF_STRINGS};
