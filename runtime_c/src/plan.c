/* Shape inference and the static memory plan.
 *
 * Every non-constant tensor lives in one 64-byte-aligned arena. Tensors that
 * may share storage are grouped first: an ALIAS op's output is a view of its
 * input (Reshape, Flatten, Identity), and an INPLACE op may write over an
 * input that dies at that node. Each group, and each node's scratch, is a
 * buffer with a lifetime [first node, last node]; buffers are placed
 * greedily by decreasing size at the best-fitting gap among the buffers
 * whose lifetimes overlap (TFLite's "greedy by size" arena planner).
 * Nodes whose shapes the plan cannot know are deferred to invoke, their
 * outputs outside the arena (deferred.c). */
#include <stdlib.h>
#include <string.h>

#include "backend.h"

typedef struct {
  size_t size, offset;
  int32_t first, last;
  int32_t id;          /* tensor group root, or -1 - node for scratch */
} plan_item;

typedef struct {
  int32_t* first;      /* per tensor: producing node (-1 for graph inputs) */
  int32_t* last;       /* per tensor: last consuming node (n_nodes if a graph output) */
  int32_t* root;       /* alias group of each tensor */
  uint8_t* flags;      /* PLAN_* */
} plan_state;

enum { PLAN_ARENA = 1, PLAN_GRAPH_INPUT = 2, PLAN_GRAPH_OUTPUT = 4, PLAN_CONST_VIEW = 8 };

static int32_t find_root(int32_t* root, int32_t t) {
  while (root[t] != t) t = root[t] = root[root[t]];
  return t;
}

/* Values computed while planning stay small: they are shapes and indices. */
#define PFW_FOLD_MAX_BYTES 65536

void pfw_unfold(pfw_interpreter* it) {
  for (int32_t t = 0; t < it->graph->n_tensors; t++) {
    pfw_tensor* x = &it->tensors[t];
    if (!x->folded) continue;
    free(x->data);
    x->data = NULL;
    x->folded = x->is_const = false;
  }
  for (int32_t k = 0; k < it->graph->n_nodes; k++) it->nodes[k].folded = false;
}

/* A node whose inputs are all known while planning (constants, or values
 * computed here), or whose outputs depend only on input shapes, is run now
 * into buffers of its own, so that ops downstream (Reshape, Slice,
 * ConstantOfShape...) can read these values in their prepare. This is what
 * lets shape subgraphs such as Shape -> Gather -> Concat -> Reshape follow
 * dynamic input sizes. */
static pfw_status fold(pfw_node* n, size_t limit, size_t* used) {
  bool known = (n->op->flags & PFW_OPF_SHAPE_ONLY) != 0;
  if (n->op->flags & PFW_OPF_RANDOM) return PFW_OK;
  if (!known) {
    known = n->n_in > 0;
    for (int32_t j = 0; j < n->n_in; j++)
      if (n->in[j] && !n->in[j]->is_const) known = false;
  }
  size_t bytes = 0;
  for (int32_t j = 0; j < n->n_out; j++) {
    if (!n->out[j]) continue;
    /* Strings an op makes live in the heap the next invoke resets. */
    if (n->out[j]->dtype == PFW_STRING) return PFW_OK;
    bytes += n->out[j]->nbytes;
  }
  if (!known || bytes > PFW_FOLD_MAX_BYTES || n->scratch_size > PFW_FOLD_MAX_BYTES) return PFW_OK;
  /* Folded values live as long as the plan: together they count against the
   * arena limit, or a file of many small shape nodes could take any amount. */
  if (bytes > limit - *used)
    return pfw_error(PFW_ERR_UNSUPPORTED,
                     "values computed while planning need more than the memory limit (%zu bytes left of the "
                     "limit set with pfw_options_set_arena_limit, else physical memory)", limit - *used);
  *used += bytes;
  for (int32_t j = 0; j < n->n_out; j++) {
    pfw_tensor* o = n->out[j];
    if (!o) continue;
    o->data = malloc(o->nbytes ? o->nbytes : 1);
    if (!o->data) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory evaluating a shape");
    o->folded = o->is_const = true;
  }
  if (pfw_outputs_empty(n)) {
    n->folded = true;
    return PFW_OK;
  }
  void* scratch = n->scratch_size ? malloc(n->scratch_size) : NULL;
  if (n->scratch_size && !scratch) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory evaluating a shape");
  n->scratch = scratch;
  pfw_status st = n->op->run(n);
  n->scratch = NULL;
  free(scratch);
  n->folded = st == PFW_OK;
  return st;
}

/* Frees what a node's prepare left (before the next prepare and at free). */
void pfw_node_release(pfw_node* n) {
  free(n->state);
  n->state = NULL;
  for (int k = 0; k < 2; k++) {
    pfw_interpreter_free(n->sub[k]);
    n->sub[k] = NULL;
  }
  n->scratch = NULL;
  n->scratch_size = 0;
}

static bool has_dynamic_input(const pfw_node* n) {
  for (int32_t j = 0; j < n->n_in; j++)
    if (n->in[j] && n->in[j]->dynamic) return true;
  return false;
}

/* Prepares node n while planning, or marks it deferred: its op sets shapes
 * as it runs (If, Loop, Scan), an input is dynamic, or its prepare needs
 * input values the plan does not know (PFW_DEFER). A deferred node's
 * outputs are dynamic: heap blocks sized at invoke, outside the arena. */
/* Sequences and optionals reach only the ops made for them; such a node
 * always runs deferred, seeing the values as they are at invoke. */
static pfw_status check_values(const pfw_node* n, bool* any) {
  *any = false;
  for (int32_t side = 0; side < 2; side++) {
    int32_t count = side ? n->n_out : n->n_in;
    for (int32_t j = 0; j < count; j++) {
      const pfw_tensor* t = side ? n->out[j] : n->in[j];
      if (!t || !pfw_is_value_kind(t)) continue;
      if (!(n->op->flags & PFW_OPF_VALUES))
        return pfw_error(PFW_ERR_INVALID_MODEL, "%s %d ('%s') is %s, and %s takes and makes tensors only",
                         side ? "output" : "input", (int)j, t->desc->name,
                         pfw_is_sequence(t) ? "a sequence" : "an optional", pfw_op_name(n->desc->op));
      *any = true;
    }
  }
  return PFW_OK;
}

pfw_status pfw_check_strings(const pfw_node* n) {
  if (n->op->flags & PFW_OPF_STRINGS) return PFW_OK;
  for (int32_t side = 0; side < 2; side++) {
    int32_t count = side ? n->n_out : n->n_in;
    for (int32_t j = 0; j < count; j++) {
      const pfw_tensor* t = side ? n->out[j] : n->in[j];
      if (t && t->dtype == PFW_STRING)
        return pfw_error(PFW_ERR_UNSUPPORTED, "%s %d ('%s') is a string tensor, which %s does not take",
                         side ? "output" : "input", (int)j, t->desc ? t->desc->name : "", pfw_op_name(n->desc->op));
    }
  }
  return PFW_OK;
}

static pfw_status prepare_node(pfw_interpreter* it, pfw_node* n) {
  pfw_node_release(n);
  free(n->seen);
  n->seen = NULL;
  n->deferred = false;
  bool values = false;
  pfw_status st = check_values(n, &values);
  if (st != PFW_OK) return st;
  if (values || has_dynamic_input(n)) {
    n->deferred = true;
  } else {
    st = n->op->prepare(n);
    bool run_shapes = st == PFW_OK && (n->op->flags & PFW_OPF_RUN_SHAPES);
    if (run_shapes && !(n->seen = calloc(1, sizeof(int64_t))))
      return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory preparing a node");
    if (st == PFW_DEFER || run_shapes) {
      if (st == PFW_DEFER) pfw_node_release(n);
      pfw_error_clear();
      n->deferred = true;
      st = PFW_OK;
    }
  }
  if (st == PFW_OK) st = pfw_check_strings(n);
  for (int32_t j = 0; j < n->n_out; j++)
    if (n->out[j]) pfw_set_dynamic(n->out[j], n->deferred);
  if (st != PFW_OK || n->deferred) return st;
  return fold(n, it->arena_limit, &it->folded_bytes);
}

static pfw_status run_prepares(pfw_interpreter* it) {
  const pfw_graph_desc* g = it->graph;
  pfw_unfold(it);
  it->folded_bytes = 0;
  for (int32_t i = 0; i < g->n_nodes; i++) {
    pfw_node* n = &it->nodes[i];
    pfw_status st = prepare_node(it, n);
    n->empty = st == PFW_OK && !n->folded && !n->deferred && pfw_outputs_empty(n);
    if (st != PFW_OK) {
      pfw_error_prefix("node '%s' (%s)", n->desc->name, pfw_op_name(n->desc->op));
      return st;
    }
  }
  return PFW_OK;
}

static void lifetimes(pfw_interpreter* it, plan_state* ps) {
  const pfw_graph_desc* g = it->graph;
  for (int32_t t = 0; t < g->n_tensors; t++) {
    ps->first[t] = ps->last[t] = -1;
    ps->root[t] = t;
    ps->flags[t] = 0;
  }
  /* Graph inputs have buffers of their own (see size_input in interpreter.c). */
  for (int32_t i = 0; i < g->n_inputs; i++) ps->flags[g->inputs[i]] |= PLAN_GRAPH_INPUT;
  for (int32_t k = 0; k < g->n_nodes; k++) {
    const pfw_node* n = &it->nodes[k];
    for (int32_t j = 0; j < n->n_in; j++)
      if (n->in[j]) ps->last[n->in[j]->index] = k;
    for (int32_t j = 0; j < n->n_out; j++) {
      if (!n->out[j]) continue;
      int32_t t = n->out[j]->index;
      ps->first[t] = ps->last[t] = k;
      if (!n->folded && !n->deferred) ps->flags[t] |= PLAN_ARENA;
    }
  }
  /* Inputs stay intact through the run (as in TFLite), so invoking again
   * without re-feeding them gives the same outputs. */
  for (int32_t i = 0; i < g->n_inputs; i++) ps->last[g->inputs[i]] = g->n_nodes;
  for (int32_t i = 0; i < g->n_outputs; i++) {
    ps->last[g->outputs[i]] = g->n_nodes;
    ps->flags[g->outputs[i]] |= PLAN_GRAPH_OUTPUT;
  }
}

/* Lifetime bounds and flags of a whole alias group. */
static void group_span(const pfw_interpreter* it, const plan_state* ps, int32_t root,
                       int32_t* first, int32_t* last, uint8_t* flags) {
  *first = INT32_MAX;
  *last = -1;
  *flags = 0;
  for (int32_t t = 0; t < it->graph->n_tensors; t++) {
    if (find_root(ps->root, t) != root) continue;
    if (ps->first[t] < *first) *first = ps->first[t];
    if (ps->last[t] > *last) *last = ps->last[t];
    *flags |= ps->flags[t];
  }
}

static void share_storage(pfw_interpreter* it, plan_state* ps) {
  for (int32_t k = 0; k < it->graph->n_nodes; k++) {
    const pfw_node* n = &it->nodes[k];
    uint32_t f = n->op->flags;
    if (n->folded || n->deferred) continue; /* its outputs have buffers of their own */
    if (!(f & (PFW_OPF_ALIAS | PFW_OPF_INPLACE)) || n->n_in < 1 || n->n_out < 1 || !n->in[0] || !n->out[0])
      continue;
    int32_t a = n->in[0]->index, b = n->out[0]->index;
    if (n->in[0]->nbytes != n->out[0]->nbytes || (ps->flags[b] & PLAN_GRAPH_INPUT)) continue;
    bool a_const = n->in[0]->is_const || (ps->flags[a] & PLAN_CONST_VIEW);
    if (f & PFW_OPF_ALIAS) {
      if (ps->flags[b] & PLAN_GRAPH_OUTPUT) continue; /* outputs keep storage of their own */
      if (a_const) {
        ps->flags[b] = (uint8_t)((ps->flags[b] & ~PLAN_ARENA) | PLAN_CONST_VIEW);
        ps->root[b] = a;
      } else {
        ps->root[b] = find_root(ps->root, a);
      }
      continue;
    }
    if (a_const) continue;
    int32_t first, last;
    uint8_t flags;
    group_span(it, ps, find_root(ps->root, a), &first, &last, &flags);
    if (last == k && !(flags & PLAN_GRAPH_INPUT)) ps->root[b] = find_root(ps->root, a);
  }
}

static int cmp_items(const void* x, const void* y) {
  const plan_item* a = x;
  const plan_item* b = y;
  if (a->size != b->size) return a->size > b->size ? -1 : 1;
  if (a->first != b->first) return a->first < b->first ? -1 : 1;
  return a->id < b->id ? -1 : a->id > b->id;
}

static int cmp_offset(const void* x, const void* y) {
  const plan_item* a = *(plan_item* const*)x;
  const plan_item* b = *(plan_item* const*)y;
  return a->offset < b->offset ? -1 : a->offset > b->offset;
}


/* Best-fit placement; returns the arena size. `live` is scratch space. */
static size_t place(plan_item* items, int32_t n, plan_item** live) {
  qsort(items, (size_t)n, sizeof *items, cmp_items);
  size_t total = 0;
  for (int32_t i = 0; i < n; i++) {
    int32_t m = 0;
    for (int32_t j = 0; j < i; j++)
      if (items[j].first <= items[i].last && items[i].first <= items[j].last) live[m++] = &items[j];
    qsort(live, (size_t)m, sizeof *live, cmp_offset);
    size_t best = SIZE_MAX, best_gap = SIZE_MAX, cursor = 0;
    for (int32_t j = 0; j < m; j++) {
      if (live[j]->offset >= cursor) {
        size_t gap = live[j]->offset - cursor;
        if (gap >= items[i].size && gap < best_gap) {
          best = cursor;
          best_gap = gap;
        }
      }
      size_t end = pfw_align_size(live[j]->offset + live[j]->size);
      if (end > cursor) cursor = end;
    }
    items[i].offset = best != SIZE_MAX ? best : cursor;
    if (items[i].offset + items[i].size > total) total = items[i].offset + items[i].size;
  }
  return pfw_align_size(total);
}

static pfw_status assign(pfw_interpreter* it, plan_state* ps, plan_item* items, int32_t n_items,
                         size_t arena_size) {
  /* Graph inputs have buffers of their own, and values folded while planning
   * too: all under the same limit (folded_bytes <= arena_limit already). */
  size_t inputs = it->folded_bytes;
  for (int32_t i = 0; i < it->graph->n_inputs; i++) {
    size_t b = it->tensors[it->graph->inputs[i]].nbytes;
    inputs = b > SIZE_MAX - inputs ? SIZE_MAX : inputs + b;
  }
  if (arena_size > it->arena_limit || inputs > it->arena_limit - arena_size) {
    const pfw_tensor* big = NULL;
    for (int32_t i = 0; i < n_items; i++)
      if (items[i].id >= 0 && (!big || it->tensors[items[i].id].nbytes > big->nbytes)) big = &it->tensors[items[i].id];
    return pfw_error(PFW_ERR_UNSUPPORTED,
                     "these shapes need a %zu-byte activation arena and %zu bytes of inputs and planned "
                     "values, more than "
                     "the limit of %zu bytes (physical memory unless set with pfw_options_set_arena_limit); "
                     "the largest tensor is '%s' with %zu bytes",
                     arena_size, inputs, it->arena_limit, big ? big->desc->name : "", big ? big->nbytes : (size_t)0);
  }
  if (arena_size > it->arena_cap) {
    free(it->arena);
    it->arena = aligned_alloc(PFW_ALIGN, arena_size);
    it->arena_cap = it->arena ? arena_size : 0;
    if (!it->arena) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "cannot allocate a %zu-byte arena", arena_size);
  }
  it->arena_size = arena_size;
  const pfw_graph_desc* g = it->graph;
  for (int32_t i = 0; i < n_items; i++) {
    if (items[i].id >= 0)
      it->tensors[items[i].id].data = it->arena + items[i].offset;
    else
      it->nodes[-1 - items[i].id].scratch = it->arena + items[i].offset;
  }
  for (int32_t t = 0; t < g->n_tensors; t++) {
    int32_t r = find_root(ps->root, t);
    if (r != t && (ps->flags[t] & (PLAN_ARENA | PLAN_CONST_VIEW))) it->tensors[t].data = it->tensors[r].data;
  }
  return PFW_OK;
}

pfw_status pfw_plan(pfw_interpreter* it) {
  pfw_status st = run_prepares(it);
  if (st != PFW_OK) return st;
  const pfw_graph_desc* g = it->graph;
  size_t nt = (size_t)g->n_tensors + 1, nn = (size_t)g->n_nodes + 1;
  plan_state ps = {calloc(nt, 4), calloc(nt, 4), calloc(nt, 4), calloc(nt, 1)};
  plan_item* items = calloc(nt + nn, sizeof *items);
  plan_item** live = calloc(nt + nn, sizeof *live);
  if (!ps.first || !ps.last || !ps.root || !ps.flags || !items || !live) {
    st = pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory planning the interpreter");
    goto done;
  }
  lifetimes(it, &ps);
  share_storage(it, &ps);
  int32_t n_items = 0;
  for (int32_t t = 0; t < g->n_tensors; t++) {
    if (!(ps.flags[t] & PLAN_ARENA) || find_root(ps.root, t) != t) continue;
    plan_item* item = &items[n_items++];
    uint8_t flags;
    group_span(it, &ps, t, &item->first, &item->last, &flags);
    item->size = it->tensors[t].nbytes;
    item->id = t;
  }
  for (int32_t k = 0; k < g->n_nodes; k++) {
    if (!it->nodes[k].scratch_size || it->nodes[k].deferred) continue;
    items[n_items++] = (plan_item){it->nodes[k].scratch_size, 0, k, k, -1 - k};
  }
  for (int32_t i = 0; i < n_items; i++) items[i].size = pfw_align_size(items[i].size ? items[i].size : 1);
  size_t arena_size = place(items, n_items, live);
  st = assign(it, &ps, items, n_items, arena_size);
  if (st == PFW_OK && it->cl) st = pfw_cl_plan(it);
done:
  free(ps.first);
  free(ps.last);
  free(ps.root);
  free(ps.flags);
  free(items);
  free(live);
  return st;
}
