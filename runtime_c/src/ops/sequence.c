/* Sequence and optional ops: SequenceEmpty, SequenceConstruct,
 * SequenceInsert, SequenceErase, SequenceAt, SequenceLength,
 * SplitToSequence, ConcatFromSequence, Optional, OptionalHasElement,
 * OptionalGetElement (SequenceMap, which runs a body, is in control.c).
 * Sequence values and their storage are in ../sequence.c. Every op here sizes
 * its outputs as it runs (PFW_OPF_RUN_SHAPES): a sequence's length and its
 * elements' shapes are only known then. */
#include <stdlib.h>
#include <string.h>

#include "ops_common.h"

/* Output 0, or NULL where the file leaves it out (nothing to compute then). */
static pfw_tensor* out0(const pfw_node* node) { return node->n_out > 0 ? node->out[0] : NULL; }

static size_t limit_of(const pfw_node* node) { return node->mem_limit ? node->mem_limit : SIZE_MAX / 2; }

/* Input i, which must be a sequence holding a value. */
static pfw_status seq_input(const pfw_node* node, int32_t i, const pfw_tensor** out) {
  const pfw_tensor* t = i < node->n_in ? node->in[i] : NULL;
  if (!t) return pfw_error(PFW_ERR_INVALID_MODEL, "input %d (a sequence) is absent", (int)i);
  if (!pfw_is_sequence(t)) return pfw_error(PFW_ERR_INVALID_MODEL, "input %d ('%s') must be a sequence, is a tensor", (int)i, t->desc->name);
  if (t->none) return pfw_error(PFW_ERR_INVALID_MODEL, "input %d ('%s') is an optional holding no value", (int)i, t->desc->name);
  *out = t;
  return PFW_OK;
}

static int64_t seq_len(const pfw_tensor* t) { return t->seq ? t->seq->count : 0; }

/* Input i, which must be a tensor holding a value. */
static pfw_status tensor_input(const pfw_node* node, int32_t i, const pfw_tensor** out) {
  const pfw_tensor* t = i < node->n_in ? node->in[i] : NULL;
  if (!t) return pfw_error(PFW_ERR_INVALID_MODEL, "input %d is absent", (int)i);
  if (pfw_is_sequence(t)) return pfw_error(PFW_ERR_INVALID_MODEL, "input %d ('%s') must be a tensor, is a sequence", (int)i, t->desc->name);
  if (t->none) return pfw_error(PFW_ERR_INVALID_MODEL, "input %d ('%s') is an optional holding no value", (int)i, t->desc->name);
  *out = t;
  return PFW_OK;
}

/* Output 0, which must be a sequence of `dtype` elements. */
static pfw_status seq_output(const pfw_node* node, pfw_dtype dtype, pfw_tensor** out) {
  pfw_tensor* t = out0(node);
  if (!t || !pfw_is_sequence(t)) return pfw_error(PFW_ERR_INVALID_MODEL, "output 0 must be a sequence");
  if (dtype != PFW_DTYPE_UNDEFINED && t->desc->dtype != dtype)
    return pfw_error(PFW_ERR_INVALID_MODEL, "output 0 ('%s') holds %s elements, but the values are %s", t->desc->name,
                     pfw_dtype_name(t->desc->dtype), pfw_dtype_name(dtype));
  *out = t;
  return PFW_OK;
}

/* A position input (a scalar int32/int64; `dflt` when absent) in [-n, n - 1]
 * or, with `end_ok`, [-n, n]; negative ones count from the end. */
static pfw_status position(const pfw_node* node, int32_t i, int64_t n, bool end_ok, int64_t dflt, int64_t* out) {
  const pfw_tensor* t = i < node->n_in ? node->in[i] : NULL;
  if (!t) {
    *out = dflt;
    return PFW_OK;
  }
  if ((t->dtype != PFW_INT64 && t->dtype != PFW_INT32) || pfw_numel(t) != 1 || pfw_is_sequence(t) || t->none)
    return pfw_error(PFW_ERR_INVALID_MODEL, "input %d (position) must be one int32 or int64 value", (int)i);
  int64_t p = t->dtype == PFW_INT64 ? *(const int64_t*)t->data : *(const int32_t*)t->data;
  int64_t hi = end_ok ? n : n - 1;
  if (p < -n || p > hi)
    return pfw_error(PFW_ERR_INVALID_MODEL, "position %lld is out of range [%lld, %lld] for a sequence of %lld",
                     (long long)p, (long long)-n, (long long)hi, (long long)n);
  *out = p < 0 ? p + n : p;
  return PFW_OK;
}

static pfw_status set_from(pfw_tensor* out, int64_t k, const pfw_tensor* e, size_t limit) {
  return pfw_seq_set(out, k, e->dtype, e->rank, e->dims, e->data, limit);
}

static pfw_status no_prepare(pfw_node* node) {
  (void)node;
  return PFW_OK;
}

/* ---- SequenceEmpty, SequenceConstruct ------------------------------------------- */

static pfw_status empty_run(pfw_node* node) {
  pfw_tensor* out = NULL;
  pfw_status st = seq_output(node, PFW_DTYPE_UNDEFINED, &out);
  return st != PFW_OK ? st : pfw_seq_resize(out, 0, limit_of(node));
}

static pfw_status construct_run(pfw_node* node) {
  pfw_tensor* out = NULL;
  const pfw_tensor* first = NULL;
  pfw_status st = tensor_input(node, 0, &first);
  if (st == PFW_OK) st = seq_output(node, first->dtype, &out);
  if (st == PFW_OK) st = pfw_seq_resize(out, node->n_in, limit_of(node));
  for (int32_t i = 0; i < node->n_in && st == PFW_OK; i++) {
    const pfw_tensor* t = NULL;
    st = tensor_input(node, i, &t);
    if (st == PFW_OK && t->dtype != first->dtype)
      st = pfw_error(PFW_ERR_INVALID_MODEL, "input %d is %s but input 0 is %s; a sequence holds one dtype", (int)i,
                     pfw_dtype_name(t->dtype), pfw_dtype_name(first->dtype));
    if (st == PFW_OK) st = set_from(out, i, t, limit_of(node));
  }
  return st;
}

/* ---- SequenceInsert, SequenceErase, SequenceAt, SequenceLength ------------------ */

static pfw_status insert_run(pfw_node* node) {
  const pfw_tensor *s = NULL, *x = NULL;
  pfw_tensor* out = NULL;
  pfw_status st = seq_input(node, 0, &s);
  if (st == PFW_OK) st = tensor_input(node, 1, &x);
  if (st == PFW_OK) st = seq_output(node, x->dtype, &out);
  int64_t n = st == PFW_OK ? seq_len(s) : 0, at = 0;
  if (st == PFW_OK) st = position(node, 2, n, true, n, &at);
  if (st == PFW_OK) st = pfw_value_copy(out, s, limit_of(node));
  if (st == PFW_OK) st = pfw_seq_resize(out, n + 1, limit_of(node));
  for (int64_t k = n; k > at && st == PFW_OK; k--) st = set_from(out, k, &s->seq->items[k - 1], limit_of(node));
  if (st == PFW_OK) st = set_from(out, at, x, limit_of(node));
  return st;
}

static pfw_status erase_run(pfw_node* node) {
  const pfw_tensor* s = NULL;
  pfw_tensor* out = NULL;
  pfw_status st = seq_input(node, 0, &s);
  if (st == PFW_OK) st = seq_output(node, s->desc->dtype, &out);
  int64_t n = st == PFW_OK ? seq_len(s) : 0, at = 0;
  if (st == PFW_OK && n == 0) st = pfw_error(PFW_ERR_INVALID_MODEL, "cannot erase from an empty sequence");
  if (st == PFW_OK) st = position(node, 1, n, false, n - 1, &at);
  if (st == PFW_OK) st = pfw_seq_resize(out, n - 1, limit_of(node));
  for (int64_t k = 0; k < n - 1 && st == PFW_OK; k++)
    st = set_from(out, k, &s->seq->items[k < at ? k : k + 1], limit_of(node));
  return st;
}

static pfw_status at_run(pfw_node* node) {
  const pfw_tensor* s = NULL;
  pfw_status st = seq_input(node, 0, &s);
  int64_t n = st == PFW_OK ? seq_len(s) : 0, at = 0;
  if (st == PFW_OK && node->n_in < 2) st = pfw_error(PFW_ERR_INVALID_MODEL, "input 1 (position) is required");
  if (st == PFW_OK) st = position(node, 1, n, false, 0, &at);
  if (st == PFW_OK && (!out0(node) || pfw_is_value_kind(out0(node))))
    st = pfw_error(PFW_ERR_INVALID_MODEL, "output 0 must be a tensor");
  return st != PFW_OK ? st : pfw_value_copy(out0(node), &s->seq->items[at], limit_of(node));
}

static pfw_status length_run(pfw_node* node) {
  const pfw_tensor* s = NULL;
  pfw_status st = seq_input(node, 0, &s);
  if (st == PFW_OK) st = pfw_dynamic_output(node, 0, PFW_INT64, 0, NULL);
  if (st == PFW_OK && out0(node)) *(int64_t*)out0(node)->data = seq_len(s);
  return st;
}

/* ---- SplitToSequence -------------------------------------------------------------- */

/* Lengths of the pieces along the axis (of length len): split absent (ones),
 * a scalar (equal pieces, the last one shorter), or a 1-D list summing to len. */
static pfw_status split_sizes(const pfw_node* node, int64_t len, int64_t** sizes, int64_t* count) {
  const pfw_tensor* sp = node->n_in > 1 ? node->in[1] : NULL;
  if (sp && ((sp->dtype != PFW_INT64 && sp->dtype != PFW_INT32) || sp->rank > 1 || pfw_is_value_kind(sp)))
    return pfw_error(PFW_ERR_INVALID_MODEL, "input 1 (split) must be an int32 or int64 scalar or 1-D tensor");
  int64_t n = !sp ? len : sp->rank == 1 ? sp->dims[0] : 0, piece = 0;
  if (sp && sp->rank == 0) {
    piece = sp->dtype == PFW_INT64 ? *(const int64_t*)sp->data : *(const int32_t*)sp->data;
    if (piece <= 0) return pfw_error(PFW_ERR_INVALID_MODEL, "split must be positive, is %lld", (long long)piece);
    n = len / piece + (len % piece != 0);
  }
  /* Each piece becomes an element: as many as the sequence may hold, checked before allocating. */
  if ((uint64_t)n > limit_of(node) / sizeof(pfw_tensor))
    return pfw_error(PFW_ERR_UNSUPPORTED, "splitting into %lld pieces exceeds the memory limit of %zu bytes",
                     (long long)n, limit_of(node));
  int64_t* s = malloc((size_t)(n > 0 ? n : 1) * sizeof *s);
  if (!s) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory splitting into %lld pieces", (long long)n);
  int64_t total = 0;
  for (int64_t k = 0; k < n; k++) {
    if (!sp) s[k] = 1;
    else if (sp->rank == 0) s[k] = piece < len - k * piece ? piece : len - k * piece;
    else s[k] = sp->dtype == PFW_INT64 ? ((const int64_t*)sp->data)[k] : ((const int32_t*)sp->data)[k];
    if (s[k] < 0 || s[k] > len - total) {
      free(s);
      return pfw_error(PFW_ERR_INVALID_MODEL, "split sizes must be >= 0 and sum to %lld, the axis length", (long long)len);
    }
    total += s[k];
  }
  if (total != len) {
    free(s);
    return pfw_error(PFW_ERR_INVALID_MODEL, "split sizes sum to %lld, not the axis length %lld", (long long)total, (long long)len);
  }
  *sizes = s;
  *count = n;
  return PFW_OK;
}

static pfw_status split_run(pfw_node* node) {
  const pfw_tensor* x = NULL;
  pfw_tensor* out = NULL;
  int32_t axis = 0;
  pfw_status st = tensor_input(node, 0, &x);
  if (st == PFW_OK) st = seq_output(node, x->dtype, &out);
  if (st == PFW_OK) st = pfw_norm_axis(pfw_attr_int(node, "axis", 0), x->rank, "axis", &axis);
  if (st != PFW_OK) return st;
  int64_t len = x->dims[axis], *sizes = NULL, n = 0;
  /* keepdims applies only when split is absent: every piece then has length 1. */
  bool squeeze = (node->n_in < 2 || !node->in[1]) && pfw_attr_int(node, "keepdims", 1) == 0;
  if ((st = split_sizes(node, len, &sizes, &n)) != PFW_OK) return st;
  size_t esize = pfw_dtype_size(x->dtype);
  int64_t outer = 1, inner = (int64_t)esize;
  for (int32_t k = 0; k < axis; k++) outer *= x->dims[k];
  for (int32_t k = axis + 1; k < x->rank; k++) inner *= x->dims[k];
  st = pfw_seq_resize(out, n, limit_of(node));
  int64_t at = 0;
  for (int64_t p = 0; p < n && st == PFW_OK; p++) {
    int64_t dims[PFW_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    dims[axis] = sizes[p];
    if (squeeze) memmove(dims + axis, dims + axis + 1, (size_t)(x->rank - axis - 1) * sizeof(int64_t));
    st = pfw_seq_set(out, p, x->dtype, x->rank - squeeze, dims, NULL, limit_of(node));
    uint8_t* dst = st == PFW_OK ? out->seq->items[p].data : NULL;
    size_t run = (size_t)(sizes[p] * inner);
    for (int64_t o = 0; o < outer && st == PFW_OK && run; o++)
      memcpy(dst + (size_t)o * run, (const uint8_t*)x->data + (size_t)((o * len + at) * inner), run);
    at += sizes[p];
  }
  free(sizes);
  return st;
}

/* ---- ConcatFromSequence ----------------------------------------------------------- */

static pfw_status concat_run(pfw_node* node) {
  const pfw_tensor* s = NULL;
  pfw_status st = seq_input(node, 0, &s);
  if (st != PFW_OK) return st;
  int64_t n = seq_len(s);
  if (n == 0) return pfw_error(PFW_ERR_INVALID_MODEL, "cannot concatenate an empty sequence");
  const pfw_tensor* e0 = &s->seq->items[0];
  bool stack = pfw_attr_int(node, "new_axis", 0) != 0;
  int32_t rank = e0->rank + stack, axis = 0;
  if (rank > PFW_MAX_RANK) return pfw_error(PFW_ERR_UNSUPPORTED, "output rank %d exceeds the maximum %d", (int)rank, PFW_MAX_RANK);
  if (rank == 0) return pfw_error(PFW_ERR_INVALID_MODEL, "cannot concatenate scalars without new_axis");
  if ((st = pfw_norm_axis(pfw_attr_int(node, "axis", 0), rank, "axis", &axis)) != PFW_OK) return st;
  int64_t dims[PFW_MAX_RANK], total = 0;
  for (int64_t k = 0; k < n; k++) {
    const pfw_tensor* e = &s->seq->items[k];
    bool same = e->rank == e0->rank;
    for (int32_t d = 0; d < e0->rank && same; d++) same = e->dims[d] == e0->dims[d] || (!stack && d == axis);
    if (!same)
      return pfw_error(PFW_ERR_SHAPE, "element %lld's shape does not match element 0's outside axis %d", (long long)k, (int)axis);
    if (pfw_mul_overflows(1, total + (stack ? 1 : e->dims[axis]), &total))
      return pfw_error(PFW_ERR_SHAPE, "concatenated length overflows");
  }
  if (stack) {
    for (int32_t d = 0, j = 0; d < rank; d++) dims[d] = d == axis ? total : e0->dims[j++];
  } else {
    memcpy(dims, e0->dims, sizeof dims);
    dims[axis] = total;
  }
  if ((st = pfw_dynamic_output(node, 0, e0->dtype, rank, dims)) != PFW_OK || !out0(node)) return st;
  int64_t outer = 1, inner = (int64_t)pfw_dtype_size(e0->dtype);
  for (int32_t d = 0; d < axis; d++) outer *= dims[d];
  for (int32_t d = axis + 1; d < rank; d++) inner *= dims[d];
  uint8_t* y = out0(node)->data;
  int64_t at = 0;
  for (int64_t k = 0; k < n; k++) {
    const pfw_tensor* e = &s->seq->items[k];
    size_t run = (size_t)((stack ? 1 : e->dims[axis]) * inner);
    for (int64_t o = 0; o < outer && run; o++)
      memcpy(y + (size_t)((o * total + at) * inner), (const uint8_t*)e->data + (size_t)o * run, run);
    at += stack ? 1 : e->dims[axis];
  }
  return PFW_OK;
}

/* ---- Optional, OptionalHasElement, OptionalGetElement ----------------------------- */

static pfw_status optional_run(pfw_node* node) {
  pfw_tensor* out = out0(node);
  if (!out || !out->desc->optional) return pfw_error(PFW_ERR_INVALID_MODEL, "output 0 must be an optional");
  if (node->n_in < 1 || !node->in[0]) {
    out->none = true;
    return PFW_OK;
  }
  return pfw_value_copy(out, node->in[0], limit_of(node));
}

static pfw_status has_element_run(pfw_node* node) {
  const pfw_tensor* x = node->n_in > 0 ? node->in[0] : NULL;
  pfw_status st = pfw_dynamic_output(node, 0, PFW_BOOL, 0, NULL);
  if (st == PFW_OK && out0(node)) *(bool*)out0(node)->data = x && !x->none;
  return st;
}

static pfw_status get_element_run(pfw_node* node) {
  const pfw_tensor* x = node->n_in > 0 ? node->in[0] : NULL;
  if (!x) return pfw_error(PFW_ERR_INVALID_MODEL, "input 0 is absent");
  if (x->none) return pfw_error(PFW_ERR_INVALID_MODEL, "input 0 ('%s') is an optional holding no value", x->desc->name);
  if (!out0(node)) return PFW_OK;
  return pfw_value_copy(out0(node), x, limit_of(node));
}

#define SEQ_OP(name, run) \
  const pfw_op pfw_op_##name = {PFW_OP_##name, no_prepare, run, PFW_OPF_RUN_SHAPES | PFW_OPF_VALUES | PFW_OPF_STRINGS}
SEQ_OP(SequenceEmpty, empty_run);
SEQ_OP(SequenceConstruct, construct_run);
SEQ_OP(SequenceInsert, insert_run);
SEQ_OP(SequenceErase, erase_run);
SEQ_OP(SequenceAt, at_run);
SEQ_OP(SequenceLength, length_run);
SEQ_OP(SplitToSequence, split_run);
SEQ_OP(ConcatFromSequence, concat_run);
SEQ_OP(Optional, optional_run);
SEQ_OP(OptionalHasElement, has_element_run);
SEQ_OP(OptionalGetElement, get_element_run);
