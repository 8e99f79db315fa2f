/* Semantic verification of a decoded model. The FlatBuffer framing was
 * checked by the reader; here every index, dtype, dimension and byte size is
 * checked before any other part of the runtime can rely on it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

#define BAD(...) pfw_error(PFW_ERR_INVALID_MODEL, __VA_ARGS__)

pfw_status pfw_check_buffers(const pfw_model* m, const fb_vec* buffers, uint64_t data_start) {
  for (uint32_t i = 0; i < buffers->len; i++) {
    uint64_t off = fb_vec_u64(buffers, 2 * i), size = fb_vec_u64(buffers, 2 * i + 1);
    size_t at = buffers->buf->file_base + buffers->pos + 16 * (size_t)i;
    if (i == 0 && (off != 0 || size != 0))
      return pfw_error(PFW_ERR_INVALID_MODEL,
                       "invalid model: buffer 0 at byte %zu must be the empty sentinel", at);
    if (size == 0) continue;
    if (off % PFW_ALIGN != 0)
      return pfw_error(PFW_ERR_INVALID_MODEL,
                       "invalid model: buffer %u at byte %zu: offset %llu is not %d-byte aligned", i,
                       at, (unsigned long long)off, PFW_ALIGN);
    if (data_start > m->size || off > m->size - data_start || size > m->size - data_start - off)
      return pfw_error(PFW_ERR_INVALID_MODEL,
                       "invalid model: buffer %u at byte %zu: [%llu, +%llu) runs past the end of "
                       "the file (%zu bytes, data section at %llu)",
                       i, at, (unsigned long long)off, (unsigned long long)size, m->size,
                       (unsigned long long)data_start);
  }
  return PFW_OK;
}

pfw_status pfw_bind_buffer(const pfw_model* m, pfw_tensor_desc* t, uint32_t index,
                           const fb_vec* buffers, uint64_t data_start, const char* what) {
  if (index == 0) return PFW_OK;
  if (index >= buffers->len)
    return BAD("invalid model: %s ('%s'): buffer index %u out of range (%u buffers)", what,
               t->name, index, buffers->len);
  uint64_t off = fb_vec_u64(buffers, 2 * index), size = fb_vec_u64(buffers, 2 * index + 1);
  /* An empty buffer's offset is never checked (nothing is read), so it is not
   * added to a pointer either: any valid address serves. */
  t->data = size ? m->bytes + data_start + off : m->bytes;
  t->data_size = size;
  return PFW_OK;
}

static bool known_dtype(pfw_dtype d) {
  return pfw_dtype_size(d) != 0; /* STRING's is its (pointer, size) pair */
}

/* A STRING constant's buffer: n little-endian uint64 end offsets, then the
 * bytes of all n strings one after another (schema/pfw.fbs). */
static pfw_status verify_strings(const pfw_tensor_desc* t, int64_t n, const char* w) {
  if ((uint64_t)n > t->data_size / 8)
    return BAD("%s: a string buffer of %llu bytes cannot hold the %lld end offsets of its strings", w,
               (unsigned long long)t->data_size, (long long)n);
  const uint8_t* p = t->data;
  uint64_t text = t->data_size - 8 * (uint64_t)n, prev = 0;
  for (int64_t i = 0; i < n; i++) {
    uint64_t end = pfw_string_end(p, i);
    if (end < prev || end > text)
      return BAD("%s: string %lld ends at byte %llu of %llu, before its start or past the end", w, (long long)i,
                 (unsigned long long)end, (unsigned long long)text);
    prev = end;
  }
  if (prev != text)
    return BAD("%s: the strings end at byte %llu but the buffer holds %llu", w, (unsigned long long)prev,
               (unsigned long long)text);
  return PFW_OK;
}

static pfw_status verify_tensor(const pfw_tensor_desc* t, int gi, int32_t ti) {
  char w[160];
  snprintf(w, sizeof w, "invalid model: graph %d tensor %d ('%s')", gi, (int)ti, t->name);
  if (!known_dtype(t->dtype)) return BAD("%s: unknown dtype %d", w, (int)t->dtype);
  if (!t->has_shape && t->rank != 0) return BAD("%s: has_shape is false but %d dims are given", w, t->rank);
  for (int32_t i = 0; i < t->rank; i++)
    if (t->dims[i] < -1) return BAD("%s: dimension %d is %lld", w, i, (long long)t->dims[i]);
  if (t->data && (t->kind != PFW_KIND_TENSOR || t->optional))
    return BAD("%s: a constant must be a plain tensor, not a sequence or an optional", w);
  if (t->data) {
    if (!t->has_shape) return BAD("%s: constant has no shape", w);
    int64_t n = 1, bytes;
    for (int32_t i = 0; i < t->rank; i++) {
      if (t->dims[i] < 0) return BAD("%s: constant has dynamic dimension %d", w, i);
      if (pfw_mul_overflows(n, t->dims[i], &n)) return BAD("%s: element count overflows", w);
    }
    if (pfw_span_overflows(t->dims, t->rank, 1)) return BAD("%s: dimensions overflow", w);
    if (t->dtype == PFW_STRING) {
      pfw_status st = verify_strings(t, n, w);
      if (st != PFW_OK) return st;
    } else if (pfw_mul_overflows(n, (int64_t)pfw_dtype_size(t->dtype), &bytes) || (uint64_t)bytes != t->data_size) {
      return BAD("%s: buffer holds %llu bytes but shape and dtype need %lld x %zu", w,
                 (unsigned long long)t->data_size, (long long)n, pfw_dtype_size(t->dtype));
    }
  }
  const pfw_quant_desc* q = t->quant;
  if (q) {
    if (q->n_scale < 1) return BAD("%s: quantization has no scale", w);
    if (q->n_zero_point != 0 && q->n_zero_point != q->n_scale)
      return BAD("%s: %d zero points for %d scales", w, q->n_zero_point, q->n_scale);
    if (q->n_scale > 1 && (q->axis < 0 || q->axis >= t->rank || t->dims[q->axis] != q->n_scale))
      return BAD("%s: %d per-channel scales do not match axis %d of a rank-%d tensor", w,
                 q->n_scale, q->axis, t->rank);
  }
  return PFW_OK;
}

static pfw_status verify_graph(const pfw_model* m, int gi) {
  const pfw_graph_desc* g = &m->graphs[gi];
  char where[96];
  /* 0 = undefined, 1 = graph input / constant, 2 = produced by a node */
  uint8_t* state = calloc((size_t)g->n_tensors + 1, 1);
  if (!state) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory verifying the model");
  pfw_status st = PFW_OK;
#define FAIL(...) do { st = pfw_error(PFW_ERR_INVALID_MODEL, __VA_ARGS__); goto done; } while (0)
  for (int32_t i = 0; i < g->n_tensors; i++) {
    if ((st = verify_tensor(&g->tensors[i], gi, i)) != PFW_OK) goto done;
    if (g->tensors[i].data) state[i] = 1;
  }
  for (int32_t i = 0; i < g->n_inputs; i++) {
    int32_t t = g->inputs[i];
    if (t < 0 || t >= g->n_tensors) FAIL("invalid model: graph %d input %d: tensor index %d out of range (%d tensors)", gi, i, t, g->n_tensors);
    if (g->tensors[t].data) FAIL("invalid model: graph %d input %d ('%s') is a constant", gi, i, g->tensors[t].name);
    if (state[t]) FAIL("invalid model: graph %d input %d ('%s') is listed twice", gi, i, g->tensors[t].name);
    if (!g->tensors[t].name[0]) FAIL("invalid model: graph %d input %d (tensor %d) has no name", gi, i, t);
    state[t] = 1;
  }
  for (int32_t ni = 0; ni < g->n_nodes; ni++) {
    const pfw_node_desc* n = &g->nodes[ni];
    snprintf(where, sizeof where, "graph %d node %d ('%s')", gi, ni, n->name);
    if (n->op >= PFW_OP_COUNT_)
      { st = pfw_error(PFW_ERR_UNSUPPORTED, "%s: unknown op code %u (a newer format?)", where, n->op); goto done; }
    if (n->op == PFW_OP_Custom && n->custom_op[0] == '\0') FAIL("invalid model: %s: custom op without a name", where);
    for (int32_t k = 0; k < n->n_inputs; k++) {
      int32_t t = n->inputs[k];
      if (t == -1) continue;
      if (t < -1 || t >= g->n_tensors) FAIL("invalid model: %s: input %d: tensor index %d out of range (%d tensors)", where, k, t, g->n_tensors);
      if (!state[t]) FAIL("invalid model: %s: input %d ('%s') is not produced before it is used (nodes out of order, a cycle, or a dangling input)", where, k, g->tensors[t].name);
    }
    for (int32_t k = 0; k < n->n_outputs; k++) {
      int32_t t = n->outputs[k];
      if (t == -1) continue;
      if (t < -1 || t >= g->n_tensors) FAIL("invalid model: %s: output %d: tensor index %d out of range (%d tensors)", where, k, t, g->n_tensors);
      if (state[t]) FAIL("invalid model: %s: output %d ('%s') is already defined (a graph input, a constant, or another node's output)", where, k, g->tensors[t].name);
      state[t] = 2;
    }
    for (int32_t k = 0; k < n->n_attrs; k++) {
      const pfw_attr* a = &n->attrs[k];
      /* A nameless attribute would be silently ignored, its op running with the default. */
      if (!a->name[0]) FAIL("invalid model: %s: attribute %d has no name", where, k);
      if (a->type == PFW_ATTR_TENSOR && (a->tensor < 0 || a->tensor >= g->n_tensors || !g->tensors[a->tensor].data))
        FAIL("invalid model: %s: attribute '%s' refers to tensor %d, which is not a constant", where, a->name, a->tensor);
      /* Only to a later graph: subgraphs then nest a bounded number of times, never in a cycle. */
      if (a->type == PFW_ATTR_GRAPH && (a->graph <= gi || a->graph >= m->n_graphs))
        FAIL("invalid model: %s: attribute '%s' refers to graph %d (of %d; a subgraph must come after the graph "
             "that uses it)", where, a->name, a->graph, m->n_graphs);
    }
  }
  if (g->n_outputs == 0) FAIL("invalid model: graph %d has no outputs", gi);
  for (int32_t i = 0; i < g->n_outputs; i++) {
    int32_t t = g->outputs[i];
    if (t < 0 || t >= g->n_tensors) FAIL("invalid model: graph %d output %d: tensor index %d out of range (%d tensors)", gi, i, t, g->n_tensors);
    if (!g->tensors[t].name[0]) FAIL("invalid model: graph %d output %d (tensor %d) has no name", gi, i, t);
    if (!state[t]) FAIL("invalid model: graph %d output %d ('%s') is never produced", gi, i, g->tensors[t].name);
  }
#undef FAIL
done:
  free(state);
  return st;
}

pfw_status pfw_verify_model(const pfw_model* m) {
  for (int gi = 0; gi < m->n_graphs; gi++) {
    pfw_status st = verify_graph(m, gi);
    if (st != PFW_OK) return st;
  }
  return PFW_OK;
}
