/* GatherND (11, 12+ with batch_dims) and ReverseSequence, on any dtype: elements
 * move as bytes. */
#include <string.h>

#include "ops_common.h"

/* ---- GatherND ----------------------------------------------------------------------
 * data (r dims), indices (q dims, last = m): out = indices.shape[:-1] +
 * data.shape[b + m:], each index tuple picking a slice of data within its batch
 * (the first b = batch_dims dims, shared by data and indices). */

static pfw_status gather_nd_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 2, 2);
  if (st != PFW_OK) return st;
  const pfw_tensor *x = node->in[0], *ix = node->in[1];
  if (ix->dtype != PFW_INT64 && ix->dtype != PFW_INT32)
    return pfw_error(PFW_ERR_INVALID_MODEL, "input 1 (indices) must be int64, is %s", pfw_dtype_name(ix->dtype));
  int64_t b = pfw_attr_int(node, "batch_dims", 0);
  if (x->rank < 1 || ix->rank < 1 || b < 0 || b >= x->rank || b >= ix->rank)
    return pfw_error(PFW_ERR_SHAPE, "data of rank %d and indices of rank %d do not fit batch_dims %lld",
                     (int)x->rank, (int)ix->rank, (long long)b);
  int64_t m = ix->dims[ix->rank - 1];
  if (m < 1 || m > x->rank - b)
    return pfw_error(PFW_ERR_SHAPE, "indices' last dimension is %lld; it must be in [1, %lld] for data of rank %d",
                     (long long)m, (long long)(x->rank - b), (int)x->rank);
  for (int64_t k = 0; k < b; k++)
    if (x->dims[k] != ix->dims[k])
      return pfw_error(PFW_ERR_SHAPE, "batch dimension %lld differs: data %lld, indices %lld", (long long)k,
                       (long long)x->dims[k], (long long)ix->dims[k]);
  int64_t dims[PFW_MAX_RANK];
  int32_t r = 0;
  for (int32_t k = 0; k < ix->rank - 1; k++) dims[r++] = ix->dims[k];
  for (int64_t k = b + m; k < x->rank; k++) {
    if (r == PFW_MAX_RANK) return pfw_error(PFW_ERR_UNSUPPORTED, "the output's rank exceeds %d", PFW_MAX_RANK);
    dims[r++] = x->dims[k];
  }
  return pfw_set_output(node->out[0], x->dtype, r, dims);
}

static pfw_status gather_nd_run(pfw_node* node) {
  const pfw_tensor *x = node->in[0], *ix = node->in[1];
  int64_t b = pfw_attr_int(node, "batch_dims", 0), m = ix->dims[ix->rank - 1];
  int64_t batches = 1, tuples = 1, slice = 1;
  for (int64_t k = 0; k < b; k++) batches *= x->dims[k];
  for (int64_t k = b; k < ix->rank - 1; k++) tuples *= ix->dims[k];
  for (int64_t k = b + m; k < x->rank; k++) slice *= x->dims[k];
  int64_t batch_elems = slice; /* data elements per batch */
  for (int64_t k = b; k < b + m; k++) batch_elems *= x->dims[k];
  size_t bytes = (size_t)slice * pfw_dtype_size(x->dtype);
  char* y = node->out[0]->data;
  for (int64_t bi = 0; bi < batches; bi++)
    for (int64_t t = 0; t < tuples; t++) {
      int64_t row = bi * tuples + t, off = 0;
      for (int64_t k = 0; k < m; k++) {
        int64_t d = x->dims[b + k], v = pfw_index_at(ix, row * m + k);
        if (v < -d || v >= d)
          return pfw_error(PFW_ERR_INVALID_ARGUMENT, "index %lld (tuple %lld, position %lld) is out of range [%lld, %lld)",
                           (long long)v, (long long)row, (long long)k, (long long)-d, (long long)d);
        off = off * d + (v < 0 ? v + d : v);
      }
      if (bytes)
        memcpy(y + (size_t)row * bytes, (const char*)x->data + ((size_t)(bi * batch_elems) + (size_t)(off * slice)) *
                                                                    pfw_dtype_size(x->dtype),
               bytes);
    }
  return PFW_OK;
}

const pfw_op pfw_op_GatherND = {PFW_OP_GatherND, gather_nd_prepare, gather_nd_run, 0};

/* ---- ReverseSequence ---------------------------------------------------------------
 * For each batch entry b, the first sequence_lens[b] steps along time_axis are
 * reversed; the rest are copied. time_axis and batch_axis are 0 and 1 in either order. */

static pfw_status reverse_sequence_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 2, 2);
  if (st != PFW_OK) return st;
  const pfw_tensor *x = node->in[0], *lens = node->in[1];
  int64_t ta = pfw_attr_int(node, "time_axis", 0), ba = pfw_attr_int(node, "batch_axis", 1);
  if (!((ta == 0 && ba == 1) || (ta == 1 && ba == 0)))
    return pfw_error(PFW_ERR_INVALID_MODEL, "time_axis %lld and batch_axis %lld must be 0 and 1 in some order",
                     (long long)ta, (long long)ba);
  if (x->rank < 2) return pfw_error(PFW_ERR_SHAPE, "input 0 has rank %d; ReverseSequence needs rank >= 2", (int)x->rank);
  if (lens->dtype != PFW_INT64 && lens->dtype != PFW_INT32)
    return pfw_error(PFW_ERR_INVALID_MODEL, "input 1 (sequence_lens) must be int64, is %s", pfw_dtype_name(lens->dtype));
  if (lens->rank != 1 || lens->dims[0] != x->dims[ba])
    return pfw_error(PFW_ERR_SHAPE, "input 1 (sequence_lens) must have shape (%lld,), one length per batch entry",
                     (long long)x->dims[ba]);
  return pfw_set_output(node->out[0], x->dtype, x->rank, x->dims);
}

static pfw_status reverse_sequence_run(pfw_node* node) {
  const pfw_tensor *x = node->in[0], *lens = node->in[1];
  bool time_first = pfw_attr_int(node, "time_axis", 0) == 0;
  int64_t steps = x->dims[time_first ? 0 : 1], batch = x->dims[time_first ? 1 : 0], inner = 1;
  for (int32_t k = 2; k < x->rank; k++) inner *= x->dims[k];
  size_t es = pfw_dtype_size(x->dtype), block = (size_t)inner * es;
  for (int64_t bi = 0; bi < batch; bi++) {
    int64_t len = pfw_index_at(lens, bi);
    if (len < 0 || len > steps)
      return pfw_error(PFW_ERR_INVALID_ARGUMENT, "sequence_lens[%lld] is %lld; it must be in [0, %lld]",
                       (long long)bi, (long long)len, (long long)steps);
    for (int64_t t = 0; t < steps; t++) {
      int64_t src = t < len ? len - 1 - t : t;
      size_t to = (size_t)(time_first ? t * batch + bi : bi * steps + t) * block;
      size_t from = (size_t)(time_first ? src * batch + bi : bi * steps + src) * block;
      if (block) memcpy((char*)node->out[0]->data + to, (const char*)x->data + from, block);
    }
  }
  return PFW_OK;
}

const pfw_op pfw_op_ReverseSequence = {PFW_OP_ReverseSequence, reverse_sequence_prepare, reverse_sequence_run, 0};
