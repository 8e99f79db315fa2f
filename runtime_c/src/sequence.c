/* Sequence and optional values (ONNX sequence<tensor>, optional<...>).
 *
 * A sequence lives beside the plan, like a deferred node's outputs: its
 * elements are dynamic tensors of their own (heap blocks), made by the ops
 * that produce the sequence as they run, or appended by the caller to a
 * sequence input. Blocks are kept when a sequence shrinks and reused when it
 * grows again, so a loop that rebuilds a sequence each run allocates nothing
 * in a steady state. Every element and the sequence's total count against
 * the interpreter's memory limit. An optional is any value with a `none`
 * flag: no value this run. Nodes that touch either are always deferred
 * (plan.c), so their ops see the values as they are at invoke. */
#include <stdlib.h>
#include <string.h>

#include "interpreter_internal.h"

/* Element descriptors are the sequence's own with kind TENSOR, so errors
 * name the sequence and element tensors are never taken for sequences. */
static pfw_sequence* sequence_of(pfw_tensor* t, size_t limit) {
  if (t->seq) return t->seq;
  pfw_sequence* s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->item_desc = *t->desc;
  s->item_desc.kind = PFW_KIND_TENSOR;
  s->item_desc.optional = false;
  s->item_desc.data = NULL;
  s->item_desc.data_size = 0;
  s->item_desc.quant = NULL;
  s->limit = limit;
  t->seq = s;
  return s;
}

pfw_status pfw_seq_resize(pfw_tensor* t, int64_t count, size_t limit) {
  pfw_sequence* s = sequence_of(t, limit);
  if (!s) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory making sequence '%s'", t->desc->name);
  if (count < 0) return pfw_error(PFW_ERR_INTERNAL, "sequence '%s' resized to %lld elements", t->desc->name, (long long)count);
  if (count > s->cap) {
    /* Each element's bookkeeping counts too: a file cannot make a billion empty ones. */
    if ((uint64_t)count > limit / sizeof(pfw_tensor))
      return pfw_error(PFW_ERR_UNSUPPORTED, "sequence '%s' of %lld elements exceeds the memory limit of %zu bytes",
                       t->desc->name, (long long)count, limit);
    int64_t cap = s->cap * 2 > count ? s->cap * 2 : count;
    if ((uint64_t)cap > limit / sizeof(pfw_tensor)) cap = count;
    pfw_tensor* items = realloc(s->items, (size_t)cap * sizeof *items);
    if (!items) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory growing sequence '%s'", t->desc->name);
    memset(items + s->cap, 0, (size_t)(cap - s->cap) * sizeof *items);
    /* Elements point at their own blocks, never into the array, so moving it is safe. */
    s->items = items;
    s->cap = cap;
  }
  for (int64_t k = count; k < s->count; k++) {
    s->bytes -= s->items[k].nbytes;
    s->items[k].nbytes = 0;
  }
  for (int64_t k = s->count; k < count; k++) {
    pfw_tensor* e = &s->items[k];
    e->desc = &s->item_desc;
    e->index = t->index;
    e->unplanned = t->unplanned;
    e->is_input = t->is_input;
    e->dynamic = true;
    e->dtype = t->desc->dtype;
    e->rank = 0;
    e->nbytes = 0;
    if (!e->dyn_block) e->data = NULL;
  }
  s->count = count;
  t->none = false;
  return PFW_OK;
}

pfw_status pfw_seq_set(pfw_tensor* t, int64_t k, pfw_dtype dtype, int32_t rank, const int64_t* dims,
                       const void* src, size_t limit) {
  pfw_sequence* s = t->seq;
  if (!s || k < 0 || k >= s->count)
    return pfw_error(PFW_ERR_INTERNAL, "element %lld of sequence '%s' does not exist", (long long)k, t->desc->name);
  pfw_tensor* e = &s->items[k];
  size_t old = e->nbytes;
  pfw_status st = pfw_set_output(e, dtype, rank, dims);
  if (st != PFW_OK) return st;
  s->bytes -= old;
  if (e->nbytes > limit || s->bytes > limit - e->nbytes) {
    e->nbytes = 0;
    return pfw_error(PFW_ERR_UNSUPPORTED, "sequence '%s' would hold more than the memory limit of %zu bytes",
                     t->desc->name, limit);
  }
  st = pfw_reserve(e, e->nbytes, 0, limit);
  if (st != PFW_OK) {
    e->nbytes = 0;
    return st;
  }
  s->bytes += e->nbytes;
  if (src && e->nbytes) memcpy(e->data, src, e->nbytes);
  return PFW_OK;
}

pfw_status pfw_value_copy(pfw_tensor* dst, const pfw_tensor* src, size_t limit) {
  if (dst == src) return PFW_OK;
  if (src->none) {
    if (!dst->desc->optional)
      return pfw_error(PFW_ERR_INVALID_MODEL, "'%s' holds no value, and '%s' is not optional", src->desc->name,
                       dst->desc->name);
    dst->none = true;
    return PFW_OK;
  }
  if (pfw_is_sequence(src) != pfw_is_sequence(dst))
    return pfw_error(PFW_ERR_INVALID_MODEL, "'%s' is a %s but '%s' is a %s", src->desc->name,
                     pfw_is_sequence(src) ? "sequence" : "tensor", dst->desc->name,
                     pfw_is_sequence(dst) ? "sequence" : "tensor");
  if (!pfw_is_sequence(src)) {
    pfw_status st = pfw_set_output(dst, src->dtype, src->rank, src->dims);
    if (st == PFW_OK) st = pfw_reserve(dst, dst->nbytes, 0, limit);
    if (st != PFW_OK) return st;
    if (dst->nbytes) memcpy(dst->data, src->data, dst->nbytes);
    dst->none = false;
    return PFW_OK;
  }
  int64_t n = src->seq ? src->seq->count : 0;
  pfw_status st = pfw_seq_resize(dst, n, limit);
  for (int64_t k = 0; k < n && st == PFW_OK; k++) {
    const pfw_tensor* e = &src->seq->items[k];
    st = pfw_seq_set(dst, k, e->dtype, e->rank, e->dims, e->data, limit);
  }
  return st;
}

void pfw_seq_free(pfw_tensor* t) {
  pfw_sequence* s = t->seq;
  if (!s) return;
  for (int64_t k = 0; k < s->cap; k++) free(s->items[k].dyn_block);
  free(s->items);
  free(s);
  t->seq = NULL;
}

/* ---- public API (pfw.h) --------------------------------------------------------- */

pfw_value_kind pfw_tensor_kind(const pfw_tensor* t) { return t ? t->desc->kind : PFW_KIND_TENSOR; }
int32_t pfw_tensor_is_optional(const pfw_tensor* t) { return t && t->desc->optional; }
int32_t pfw_tensor_has_value(const pfw_tensor* t) { return t && !t->none; }

/* The sequence input `t` a caller may change (`what` names the call). */
static pfw_status input_sequence(const pfw_tensor* t, const char* what) {
  if (!t) return pfw_error(PFW_ERR_INVALID_ARGUMENT, "%s: NULL tensor", what);
  if (!pfw_is_sequence(t)) return pfw_error(PFW_ERR_INVALID_ARGUMENT, "%s: '%s' is not a sequence", what, t->desc->name);
  if (!t->is_input || !t->seq)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "%s: '%s' is not an input; outputs are read-only", what, t->desc->name);
  return PFW_OK;
}

pfw_status pfw_tensor_set_has_value(pfw_tensor* t, int32_t has_value) {
  if (!t) return pfw_error(PFW_ERR_INVALID_ARGUMENT, "pfw_tensor_set_has_value: NULL tensor");
  if (!t->is_input || !t->desc->optional)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "'%s' is not an optional input of the model", t->desc->name);
  if (has_value && pfw_is_sequence(t)) return pfw_tensor_sequence_clear(t);
  t->none = !has_value;
  return PFW_OK;
}

pfw_status pfw_tensor_sequence_length(const pfw_tensor* t, int64_t* length) {
  if (!t || !length) return pfw_error(PFW_ERR_INVALID_ARGUMENT, "pfw_tensor_sequence_length: NULL argument");
  if (!pfw_is_sequence(t)) return pfw_error(PFW_ERR_INVALID_ARGUMENT, "'%s' is not a sequence", t->desc->name);
  if (t->none) return pfw_error(PFW_ERR_INVALID_ARGUMENT, "'%s' is an optional holding no value", t->desc->name);
  *length = t->seq ? t->seq->count : 0;
  return PFW_OK;
}

pfw_status pfw_tensor_sequence_item(const pfw_tensor* t, int64_t index, const pfw_tensor** item) {
  int64_t n = 0;
  if (!item) return pfw_error(PFW_ERR_INVALID_ARGUMENT, "pfw_tensor_sequence_item: NULL argument");
  pfw_status st = pfw_tensor_sequence_length(t, &n);
  if (st != PFW_OK) return st;
  if (index < 0 || index >= n)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "element %lld of sequence '%s' out of range (it has %lld)",
                     (long long)index, t->desc->name, (long long)n);
  *item = &t->seq->items[index];
  return PFW_OK;
}

pfw_status pfw_tensor_sequence_clear(pfw_tensor* t) {
  pfw_status st = input_sequence(t, "pfw_tensor_sequence_clear");
  return st != PFW_OK ? st : pfw_seq_resize(t, 0, t->seq->limit);
}

pfw_status pfw_tensor_sequence_append(pfw_tensor* t, pfw_dtype dtype, const int64_t* dims, int32_t rank,
                                      const void* data, size_t size) {
  pfw_status st = input_sequence(t, "pfw_tensor_sequence_append");
  if (st != PFW_OK) return st;
  const pfw_tensor_desc* d = t->desc;
  if (rank < 0 || rank > PFW_MAX_RANK || (rank > 0 && !dims) || (size && !data))
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "pfw_tensor_sequence_append to '%s': invalid rank, dims or data", d->name);
  if (dtype != d->dtype)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "sequence '%s' holds %s elements, got %s", d->name,
                     pfw_dtype_name(d->dtype), pfw_dtype_name(dtype));
  if (dtype == PFW_STRING) /* the bytes would be pointers from the caller */
    return pfw_error(PFW_ERR_UNSUPPORTED, "sequence '%s': strings cannot be appended as bytes", d->name);
  if (d->has_shape && rank != d->rank)
    return pfw_error(PFW_ERR_SHAPE, "sequence '%s' holds elements of rank %d, got rank %d", d->name, (int)d->rank,
                     (int)rank);
  for (int32_t k = 0; k < rank; k++)
    if (dims[k] < 0 || (d->has_shape && d->dims[k] >= 0 && dims[k] != d->dims[k]))
      return pfw_error(PFW_ERR_SHAPE, "sequence '%s': element dimension %d cannot be %lld", d->name, (int)k,
                       (long long)dims[k]);
  pfw_tensor probe = {.desc = &t->seq->item_desc};
  st = pfw_set_output(&probe, dtype, rank, dims);
  if (st != PFW_OK) return st;
  if (size != probe.nbytes)
    return pfw_error(PFW_ERR_SHAPE, "an element of sequence '%s' with that shape holds %zu bytes, got %zu", d->name,
                     probe.nbytes, size);
  int64_t n = t->seq->count;
  st = pfw_seq_resize(t, n + 1, t->seq->limit);
  if (st == PFW_OK) st = pfw_seq_set(t, n, dtype, rank, dims, data, t->seq->limit);
  if (st != PFW_OK) pfw_seq_resize(t, n, t->seq->limit);
  return st;
}
