/* Public accessors of interpreter tensors. */
#include <stdlib.h>
#include <string.h>

#include "interpreter_internal.h"

const char* pfw_tensor_name(const pfw_tensor* t) { return t ? t->desc->name : ""; }
pfw_dtype pfw_tensor_dtype(const pfw_tensor* t) { return t ? t->dtype : PFW_DTYPE_UNDEFINED; }
int32_t pfw_tensor_rank(const pfw_tensor* t) { return t ? t->rank : 0; }

int64_t pfw_tensor_dim(const pfw_tensor* t, int32_t i) {
  return t && i >= 0 && i < t->rank ? t->dims[i] : -1;
}

int32_t pfw_tensor_model_rank(const pfw_tensor* t) { return !t ? 0 : t->desc->has_shape ? t->desc->rank : -1; }

int64_t pfw_tensor_model_dim(const pfw_tensor* t, int32_t i) {
  return t && i >= 0 && i < t->desc->rank ? t->desc->dims[i] : -1;
}

int64_t pfw_tensor_element_count(const pfw_tensor* t) { return t ? pfw_numel(t) : 0; }
size_t pfw_tensor_byte_size(const pfw_tensor* t) { return t ? t->nbytes : 0; }
const void* pfw_tensor_data(const pfw_tensor* t) {
  return t && (t->is_input || !*t->unplanned) ? t->data : NULL;
}

static pfw_status check_planned(const pfw_tensor* t) {
  if (pfw_is_sequence(t))
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "'%s' is a sequence: its elements hold the data "
                     "(pfw_tensor_sequence_item, pfw_tensor_sequence_append)", t->desc->name);
  if (!t->is_input && *t->unplanned)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT,
                     "tensor '%s': inputs were resized; call pfw_interpreter_allocate first", t->desc->name);
  return PFW_OK;
}

/* String tensors hold pointers, not bytes: they have calls of their own. */
static pfw_status not_strings(const pfw_tensor* t, const char* call, const char* instead) {
  if (t->dtype != PFW_STRING) return PFW_OK;
  return pfw_error(PFW_ERR_INVALID_ARGUMENT, "%s: '%s' is a string tensor; use %s", call, t->desc->name, instead);
}

pfw_status pfw_tensor_copy_from_buffer(pfw_tensor* t, const void* src, size_t size) {
  if (!t || (!src && size))
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "pfw_tensor_copy_from_buffer: NULL argument");
  if (not_strings(t, "pfw_tensor_copy_from_buffer", "pfw_tensor_set_strings") != PFW_OK) return PFW_ERR_INVALID_ARGUMENT;
  if (t->is_const && !t->value_input)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "tensor '%s' is a constant of the model", t->desc->name);
  if (check_planned(t) != PFW_OK) return PFW_ERR_INVALID_ARGUMENT;
  if (size != t->nbytes)
    return pfw_error(PFW_ERR_SHAPE, "tensor '%s' holds %zu bytes, got %zu", t->desc->name, t->nbytes, size);
  if (t->value_input) {
    /* New values may change shapes downstream: re-plan before the next run. */
    if (!t->is_const || (size && memcmp(t->data, src, size) != 0)) *t->unplanned = true;
    t->is_const = true;
  }
  if (size) memcpy(t->data, src, size);
  t->none = false; /* an optional input holds a value again */
  return PFW_OK;
}

pfw_status pfw_tensor_copy_to_buffer(const pfw_tensor* t, void* dst, size_t size) {
  if (!t || (!dst && size))
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "pfw_tensor_copy_to_buffer: NULL argument");
  if (not_strings(t, "pfw_tensor_copy_to_buffer", "pfw_tensor_get_string") != PFW_OK) return PFW_ERR_INVALID_ARGUMENT;
  if (check_planned(t) != PFW_OK) return PFW_ERR_INVALID_ARGUMENT;
  if (t->none) return pfw_error(PFW_ERR_INVALID_ARGUMENT, "'%s' is an optional holding no value", t->desc->name);
  if (size != t->nbytes)
    return pfw_error(PFW_ERR_SHAPE, "tensor '%s' holds %zu bytes, got a %zu-byte buffer", t->desc->name, t->nbytes, size);
  if (size) memcpy(dst, t->data, size);
  return PFW_OK;
}

pfw_status pfw_tensor_set_strings(pfw_tensor* t, const char* const* data, const size_t* sizes, int64_t count) {
  if (!t || (count > 0 && !data))
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "pfw_tensor_set_strings: NULL argument");
  if (t->dtype != PFW_STRING)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "pfw_tensor_set_strings: '%s' holds %s, not strings", t->desc->name,
                     pfw_dtype_name(t->dtype));
  if (!t->is_input || pfw_is_sequence(t))
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "pfw_tensor_set_strings: '%s' is not a tensor input", t->desc->name);
  if (count != pfw_numel(t))
    return pfw_error(PFW_ERR_SHAPE, "input '%s' holds %lld strings, got %lld", t->desc->name, (long long)pfw_numel(t),
                     (long long)count);
  size_t total = 0;
  for (int64_t i = 0; i < count; i++) {
    size_t n = sizes ? sizes[i] : data[i] ? strlen(data[i]) : 0;
    if (n && !data[i])
      return pfw_error(PFW_ERR_INVALID_ARGUMENT, "pfw_tensor_set_strings: string %lld is NULL with size %zu",
                       (long long)i, n);
    if (n > SIZE_MAX / 2 - total)
      return pfw_error(PFW_ERR_INVALID_ARGUMENT, "pfw_tensor_set_strings: the strings' sizes overflow");
    total += n;
  }
  char* block = malloc(total ? total : 1);
  if (!block) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes of strings for '%s'", total, t->desc->name);
  pfw_string* out = t->data;
  size_t at = 0;
  for (int64_t i = 0; i < count; i++) {
    size_t n = sizes ? sizes[i] : data[i] ? strlen(data[i]) : 0;
    if (n) memcpy(block + at, data[i], n);
    out[i] = n ? (pfw_string){block + at, n} : (pfw_string){NULL, 0};
    at += n;
  }
  free(t->str_block); /* outputs that pointed into the old strings were valid until this call */
  t->str_block = block;
  t->none = false;
  return PFW_OK;
}

/* A STRING tensor with a value now, for the calls that read strings. */
static pfw_status readable_strings(const pfw_tensor* t, const char* call) {
  if (t->dtype != PFW_STRING)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "%s: '%s' holds %s, not strings", call, t->desc->name,
                     pfw_dtype_name(t->dtype));
  if (check_planned(t) != PFW_OK) return PFW_ERR_INVALID_ARGUMENT;
  if (t->none) return pfw_error(PFW_ERR_INVALID_ARGUMENT, "'%s' is an optional holding no value", t->desc->name);
  return PFW_OK;
}

pfw_status pfw_tensor_get_string(const pfw_tensor* t, int64_t index, const char** data, size_t* size) {
  if (!t || !data || !size) return pfw_error(PFW_ERR_INVALID_ARGUMENT, "pfw_tensor_get_string: NULL argument");
  pfw_status st = readable_strings(t, "pfw_tensor_get_string");
  if (st != PFW_OK) return st;
  if (index < 0 || index >= pfw_numel(t))
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "string index %lld out of range for '%s' (%lld elements)",
                     (long long)index, t->desc->name, (long long)pfw_numel(t));
  const pfw_string* s = (const pfw_string*)t->data + index;
  *data = s->size ? s->data : "";
  *size = s->size;
  return PFW_OK;
}

pfw_status pfw_tensor_copy_strings(const pfw_tensor* t, char* dst, size_t dst_size, uint64_t* ends, int64_t count) {
  if (!t || !ends || (dst_size && !dst)) return pfw_error(PFW_ERR_INVALID_ARGUMENT, "pfw_tensor_copy_strings: NULL argument");
  pfw_status st = readable_strings(t, "pfw_tensor_copy_strings");
  if (st != PFW_OK) return st;
  if (count != pfw_numel(t))
    return pfw_error(PFW_ERR_SHAPE, "'%s' holds %lld strings, got room for %lld", t->desc->name,
                     (long long)pfw_numel(t), (long long)count);
  const pfw_string* s = t->data;
  size_t at = 0;
  for (int64_t i = 0; i < count; i++) { /* every size first: nothing is written past dst_size */
    if (s[i].size > dst_size - at)
      return pfw_error(PFW_ERR_SHAPE, "the strings of '%s' need more than %zu bytes (pfw_tensor_strings_size)",
                       t->desc->name, dst_size);
    at += s[i].size;
  }
  at = 0;
  for (int64_t i = 0; i < count; i++) {
    if (s[i].size) memcpy(dst + at, s[i].data, s[i].size);
    at += s[i].size;
    ends[i] = at;
  }
  return PFW_OK;
}

pfw_status pfw_tensor_strings_size(const pfw_tensor* t, size_t* size) {
  if (!t || !size) return pfw_error(PFW_ERR_INVALID_ARGUMENT, "pfw_tensor_strings_size: NULL argument");
  pfw_status st = readable_strings(t, "pfw_tensor_strings_size");
  if (st != PFW_OK) return st;
  const pfw_string* s = t->data;
  size_t total = 0;
  for (int64_t i = 0, n = pfw_numel(t); i < n; i++)
    total = s[i].size > SIZE_MAX - total ? SIZE_MAX : total + s[i].size;
  *size = total;
  return PFW_OK;
}
