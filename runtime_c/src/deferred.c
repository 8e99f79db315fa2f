/* Deferred nodes and dynamic tensors: what the static plan leaves to invoke.
 *
 * A node is deferred when its prepare needs values the plan does not know
 * (PFW_DEFER: a Reshape target, Range's bounds, TopK's K computed from
 * data), when its op sizes its outputs as it runs (If, Loop, Scan), or when
 * an input is itself dynamic. At invoke it is prepared just before it runs,
 * with every input's values readable, and prepared again only when its
 * inputs' shapes or small vectors change (signature()). Its outputs are
 * dynamic: heap blocks of their own, outside the arena, kept between runs
 * and grown when needed, so a steady state allocates nothing. */
#include <stdlib.h>
#include <string.h>

#include "backend.h"

/* Every present output has 0 elements (and there is one). A kernel over an
 * empty output could still walk its inputs' other, huge dims (N = 2^48
 * planes of nothing), so such a node is never run, here or at invoke. */
bool pfw_outputs_empty(const pfw_node* n) {
  bool any = false;
  for (int32_t j = 0; j < n->n_out; j++) {
    if (!n->out[j]) continue;
    if (pfw_numel(n->out[j]) != 0) return false;
    any = true;
  }
  return any;
}

/* A tensor leaves the heap when a re-plan puts it back in the arena. */
void pfw_set_dynamic(pfw_tensor* t, bool dynamic) {
  t->dynamic = dynamic;
  if (dynamic) {
    t->data = NULL;
    return;
  }
  free(t->dyn_block);
  t->dyn_block = NULL;
  t->dyn_cap = 0;
}

pfw_status pfw_reserve(pfw_tensor* t, size_t bytes, size_t keep, size_t limit) {
  if (bytes <= t->dyn_cap && t->dyn_block) {
    t->data = pfw_align_ptr(t->dyn_block);
    return PFW_OK;
  }
  if (bytes > limit)
    return pfw_error(PFW_ERR_UNSUPPORTED,
                     "tensor '%s' needs %zu bytes, more than the memory limit of %zu bytes (physical memory "
                     "unless set with pfw_options_set_arena_limit)", t->desc->name, bytes, limit);
  /* Doubling: a Loop's scan output grows one iteration at a time. */
  size_t cap = t->dyn_cap > limit / 2 ? limit : 2 * t->dyn_cap;
  if (cap < bytes) cap = bytes;
  cap = pfw_align_size(cap ? cap : 1);
  uint8_t* block = malloc(cap + PFW_ALIGN);
  if (!block) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes for tensor '%s'", cap, t->desc->name);
  uint8_t* data = pfw_align_ptr(block);
  if (keep && t->dyn_block) memcpy(data, pfw_align_ptr(t->dyn_block), keep);
  free(t->dyn_block);
  t->dyn_block = block;
  t->dyn_cap = cap;
  t->data = data;
  return PFW_OK;
}

pfw_status pfw_dynamic_output(pfw_node* node, int32_t j, pfw_dtype dtype, int32_t rank, const int64_t* dims) {
  pfw_tensor* t = j < node->n_out ? node->out[j] : NULL;
  if (!t) return PFW_OK; /* an absent optional output */
  size_t keep = t->data ? t->nbytes : 0;
  pfw_status st = pfw_set_output(t, dtype, rank, dims);
  if (st != PFW_OK) return st;
  return pfw_reserve(t, t->nbytes, keep < t->nbytes ? keep : t->nbytes,
                 node->mem_limit ? node->mem_limit : SIZE_MAX / 2);
}

/* What a deferred prepare depends on: each input's dtype and shape, and the
 * bytes of small vectors (the only values a prepare reads: shapes, axes,
 * Range's bounds). Equal to the last one: the last prepare still holds. */
#define PFW_SEEN_VALUE_MAX 2048
static size_t signature(const pfw_node* n, int64_t* out) {
  size_t k = 0;
  for (int32_t j = 0; j < n->n_in; j++) {
    const pfw_tensor* t = n->in[j];
    if (!t) {
      if (out) out[k] = -1;
      k++;
      continue;
    }
    if (out) {
      out[k] = t->dtype;
      out[k + 1] = t->rank;
      memcpy(&out[k + 2], t->dims, sizeof t->dims);
    }
    k += 2 + PFW_MAX_RANK;
    if (t->rank <= 1 && t->nbytes <= PFW_SEEN_VALUE_MAX) {
      size_t words = (t->nbytes + 7) / 8;
      if (out && words) {
        out[k + words - 1] = 0; /* the last word's padding */
        memcpy(&out[k], t->data, t->nbytes);
      }
      k += words;
    }
  }
  return k;
}

/* Prepares a deferred node with its inputs' shapes and values now known, and
 * sizes its outputs and scratch. An op that sets its shapes in run() was
 * prepared while planning. */
static pfw_status prepare_deferred(pfw_node* n) {
  /* An op that sizes its outputs as it runs is prepared once a plan: its
   * prepare makes the subgraph interpreters, which re-plan by themselves. */
  bool once = (n->op->flags & PFW_OPF_RUN_SHAPES) != 0;
  if (once && n->seen) return PFW_OK;
  size_t words = once ? 0 : signature(n, NULL);
  int64_t* seen = malloc((words + 1) * sizeof(int64_t));
  if (!seen) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory preparing a node");
  seen[0] = (int64_t)words;
  if (!once) signature(n, seen + 1);
  if (n->seen && memcmp(n->seen, seen, (words + 1) * sizeof(int64_t)) == 0) {
    free(seen);
    return PFW_OK;
  }
  free(n->seen);
  n->seen = NULL;
  pfw_node_release(n);
  n->values_known = true;
  pfw_status st = n->op->prepare(n);
  n->values_known = false;
  if (st == PFW_DEFER) st = pfw_error(PFW_ERR_INTERNAL, "prepare deferred again with every input known");
  if (st == PFW_OK) st = pfw_check_strings(n);
  size_t limit = n->mem_limit ? n->mem_limit : SIZE_MAX / 2;
  for (int32_t j = 0; j < n->n_out && st == PFW_OK && !once; j++)
    if (n->out[j]) st = pfw_reserve(n->out[j], n->out[j]->nbytes, 0, limit);
  if (st == PFW_OK && n->scratch_size > n->dyn_scratch_cap) {
    free(n->dyn_scratch);
    n->dyn_scratch_cap = 0;
    n->dyn_scratch = n->scratch_size <= limit ? malloc(n->scratch_size + PFW_ALIGN) : NULL;
    if (!n->dyn_scratch)
      st = pfw_error(PFW_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes of scratch", n->scratch_size);
    else
      n->dyn_scratch_cap = n->scratch_size;
  }
  if (st != PFW_OK) {
    free(seen);
    return st;
  }
  n->scratch = n->scratch_size ? pfw_align_ptr(n->dyn_scratch) : NULL;
  n->empty = !once && pfw_outputs_empty(n);
  n->seen = seen;
  return PFW_OK;
}

pfw_status pfw_run_node(pfw_interpreter* it, int32_t i) {
  pfw_node* n = &it->nodes[i];
  if (n->deferred) {
    pfw_status st = prepare_deferred(n);
    if (st != PFW_OK) return st;
  } else if (n->folded) {
    return PFW_OK;
  }
  if (n->empty) return PFW_OK;
  n->values_known = n->deferred; /* a run may read values again, as its prepare did */
  /* One predictable branch: without profiling no clock is read. */
  pfw_status st = it->profiling ? pfw_profile_run(it, i) : n->op->run(n);
  n->values_known = false;
  return st;
}

void pfw_free_dynamic(pfw_interpreter* it) {
  for (int32_t t = 0; t < it->graph->n_tensors; t++) {
    pfw_set_dynamic(&it->tensors[t], false);
    pfw_seq_free(&it->tensors[t]);
  }
  for (int32_t k = 0; k < it->graph->n_nodes; k++) {
    pfw_node* n = &it->nodes[k];
    free(n->seen);
    free(n->dyn_scratch);
    n->seen = n->dyn_scratch = NULL;
  }
}

