/* Interpreter: binds a graph of a model to kernels, plans memory, invokes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"

pfw_status pfw_options_create(pfw_options** out) {
  if (!out) return pfw_error(PFW_ERR_INVALID_ARGUMENT, "pfw_options_create: out must not be NULL");
  pfw_options* o = calloc(1, sizeof *o);
  if (!o) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory creating options");
  o->num_threads = 1;
  strcpy(o->backend, "cpu");
  *out = o;
  return PFW_OK;
}

void pfw_options_free(pfw_options* options) { free(options); }

pfw_status pfw_options_set_num_threads(pfw_options* options, int32_t num_threads) {
  if (!options) return pfw_error(PFW_ERR_INVALID_ARGUMENT, "pfw_options_set_num_threads: options is NULL");
  if (num_threads < 1 || num_threads > 256)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "num_threads must be in [1, 256], got %d", num_threads);
  options->num_threads = num_threads;
  return PFW_OK;
}

pfw_status pfw_options_set_arena_limit(pfw_options* options, uint64_t bytes) {
  if (!options) return pfw_error(PFW_ERR_INVALID_ARGUMENT, "pfw_options_set_arena_limit: options is NULL");
  options->arena_limit = bytes;
  return PFW_OK;
}

pfw_status pfw_options_set_loop_limit(pfw_options* options, int64_t max_iterations) {
  if (!options) return pfw_error(PFW_ERR_INVALID_ARGUMENT, "pfw_options_set_loop_limit: options is NULL");
  if (max_iterations < 0)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "the loop limit must be >= 0 (0: none), got %lld", (long long)max_iterations);
  options->loop_limit = max_iterations;
  return PFW_OK;
}

pfw_status pfw_options_set_seed(pfw_options* options, uint64_t seed) {
  if (!options) return pfw_error(PFW_ERR_INVALID_ARGUMENT, "pfw_options_set_seed: options is NULL");
  options->seed = seed;
  return PFW_OK;
}

pfw_status pfw_options_set_backend(pfw_options* options, const char* name) {
  if (!options || !name) return pfw_error(PFW_ERR_INVALID_ARGUMENT, "pfw_options_set_backend: NULL argument");
  if (strcmp(name, "cpu") != 0 && strcmp(name, "opencl") != 0 && strcmp(name, "auto") != 0)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "unknown backend '%s' (expected cpu, opencl or auto)", name);
  strcpy(options->backend, name);
  return PFW_OK;
}

/* Counts entries up to the last present one, so ops see trailing optional
 * inputs/outputs that are absent as simply not there. */
static int32_t present_count(const int32_t* idx, int32_t n) {
  while (n > 0 && idx[n - 1] < 0) n--;
  return n;
}

static pfw_status bind_nodes(pfw_interpreter* it) {
  const pfw_graph_desc* g = it->graph;
  for (int32_t i = 0; i < g->n_nodes; i++) {
    const pfw_node_desc* d = &g->nodes[i];
    pfw_node* n = &it->nodes[i];
    n->desc = d;
    n->owner = it;
    n->graph = g;
    n->model = it->model;
    n->pool = it->pool;
    n->num_threads = pfw_threadpool_size(it->pool);
    n->mem_limit = it->arena_limit;
    n->isa = it->isa;
    n->op = pfw_find_op(d->op);
    if (!n->op) {
      if (d->op == PFW_OP_Custom)
        return pfw_error(PFW_ERR_UNSUPPORTED, "node '%s': custom op '%s' (domain '%s') has no kernel",
                         d->name, d->custom_op, d->domain);
      return pfw_error(PFW_ERR_UNSUPPORTED, "node '%s': op %s (version %d) has no kernel in this runtime",
                       d->name, pfw_op_name(d->op), d->version);
    }
    n->n_in = present_count(d->inputs, d->n_inputs);
    n->n_out = present_count(d->outputs, d->n_outputs);
    n->in = calloc((size_t)n->n_in + 1, sizeof(pfw_tensor*));
    n->out = calloc((size_t)n->n_out + 1, sizeof(pfw_tensor*));
    if (!n->in || !n->out) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory creating the interpreter");
    for (int32_t k = 0; k < n->n_in; k++)
      n->in[k] = d->inputs[k] >= 0 ? &it->tensors[d->inputs[k]] : NULL;
    for (int32_t k = 0; k < n->n_out; k++)
      n->out[k] = d->outputs[k] >= 0 ? &it->tensors[d->outputs[k]] : NULL;
  }
  return PFW_OK;
}

/* Byte size of an input's current shape, refusing overflow. */
static pfw_status input_bytes(const pfw_tensor* t, size_t* out) {
  int64_t n = 1;
  for (int32_t k = 0; k < t->rank; k++) {
    if (pfw_mul_overflows(n, t->dims[k], &n))
      return pfw_error(PFW_ERR_SHAPE, "input '%s': shape too large", t->desc->name);
  }
  if (pfw_mul_overflows(n, (int64_t)pfw_dtype_size(t->dtype), &n) || (uint64_t)n > SIZE_MAX / 2 ||
      pfw_span_overflows(t->dims, t->rank, pfw_dtype_size(t->dtype)))
    return pfw_error(PFW_ERR_SHAPE, "input '%s': shape too large", t->desc->name);
  *out = (size_t)n;
  return PFW_OK;
}

/* Re-labels the current error as the model's fault. */
static pfw_status as_invalid_model(void) {
  const char* msg = pfw_last_error();
  if (strncmp(msg, "invalid model: ", 15) == 0) return PFW_ERR_INVALID_MODEL;
  return pfw_error(PFW_ERR_INVALID_MODEL, "invalid model: %s", msg);
}

static size_t physical_memory(void) {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0 || (uint64_t)pages > SIZE_MAX / (uint64_t)page) return SIZE_MAX / 2;
  return (size_t)pages * (size_t)page;
}

static bool has_dynamic_input(const pfw_graph_desc* g) {
  for (int32_t i = 0; i < g->n_inputs; i++) {
    const pfw_tensor_desc* d = &g->tensors[g->inputs[i]];
    for (int32_t k = 0; k < d->rank; k++)
      if (d->dims[k] < 0) return true;
  }
  return false;
}

static bool has_unfed_value_input(const pfw_interpreter* it) {
  for (int32_t i = 0; i < it->graph->n_inputs; i++)
    if (it->io[i]->value_input && !it->io[i]->is_const) return true;
  return false;
}

/* The first plan, at create. Shapes fixed by the model that do not fit are
 * the model's fault. With dynamic inputs the fault may lie with the default
 * value 1 of those dimensions, and with value inputs (shapes fed at run time)
 * the values are not there yet: then planning waits for the first invoke. */
static pfw_status first_plan(pfw_interpreter* it) {
  pfw_status st = pfw_plan(it);
  if (st == PFW_OK) return st;
  bool values_pending = has_unfed_value_input(it);
  if (values_pending || ((st == PFW_ERR_SHAPE || st == PFW_ERR_INVALID_MODEL) && has_dynamic_input(it->graph))) {
    it->unplanned = true;
    return PFW_OK;
  }
  return st == PFW_ERR_SHAPE || st == PFW_ERR_INVALID_MODEL ? as_invalid_model() : st;
}

/* Sizes a graph input's own buffer for its current shape (contents are lost
 * when it grows). Inputs live outside the arena so that they can be written
 * before planning and survive re-planning. calloc leaves large blocks as
 * untouched zero pages, so a big input costs nothing until it is written. */
static pfw_status size_input(pfw_tensor* t, size_t limit) {
  if (t->nbytes <= t->capacity && t->data) return PFW_OK;
  if (t->nbytes > limit)
    return pfw_error(PFW_ERR_UNSUPPORTED,
                     "input '%s' needs %zu bytes, more than the memory limit of %zu bytes (physical memory "
                     "unless set with pfw_options_set_arena_limit)",
                     t->desc->name, t->nbytes, limit);
  size_t cap = pfw_align_size(t->nbytes);
  void* block = calloc(1, cap + PFW_ALIGN);
  if (!block) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes for input '%s'", cap, t->desc->name);
  free(t->input_block);
  t->input_block = block;
  t->data = (uint8_t*)block + (PFW_ALIGN - (uintptr_t)block % PFW_ALIGN) % PFW_ALIGN;
  t->capacity = cap;
  return PFW_OK;
}

/* Integer inputs of at most this many elements may feed shapes (a Reshape
 * target, Slice bounds...), and so may float ones that an op reads while
 * planning (Resize's scales): their values are read while planning, and a
 * change of value re-plans. */
#define PFW_VALUE_INPUT_MAX 64

/* True when a node's prepare reads float input `tensor` (Resize's scales). */
static bool feeds_plan_floats(const pfw_graph_desc* g, int32_t tensor) {
  for (int32_t n = 0; n < g->n_nodes; n++) {
    const pfw_node_desc* d = &g->nodes[n];
    const pfw_op* op = pfw_find_op(d->op);
    if (!op || !(op->flags & PFW_OPF_PLAN_FLOATS)) continue;
    for (int32_t j = 1; j < d->n_inputs; j++)
      if (d->inputs[j] == tensor) return true;
  }
  return false;
}

static bool is_value_input(const pfw_graph_desc* g, const pfw_tensor* t) {
  bool is_int = t->dtype == PFW_INT64 || t->dtype == PFW_INT32;
  bool is_float = t->dtype == PFW_FLOAT32 || t->dtype == PFW_FLOAT64;
  if (!(is_int || is_float) || t->rank > 1) return false;
  for (int32_t k = 0; k < t->desc->rank; k++)
    if (t->desc->dims[k] < 0 || t->desc->dims[k] > PFW_VALUE_INPUT_MAX) return false;
  return is_int || feeds_plan_floats(g, t->index);
}

static void init_tensors(pfw_interpreter* it) {
  const pfw_graph_desc* g = it->graph;
  for (int32_t i = 0; i < g->n_tensors; i++) {
    const pfw_tensor_desc* d = &g->tensors[i];
    pfw_tensor* t = &it->tensors[i];
    t->desc = d;
    t->index = i;
    t->unplanned = &it->unplanned;
    t->dtype = d->dtype;
    t->rank = d->rank;
    for (int32_t k = 0; k < d->rank; k++) t->dims[k] = d->dims[k] < 0 ? 1 : d->dims[k];
    if (d->data) {
      t->data = (void*)d->data; /* read-only: ops never write inputs */
      t->nbytes = (size_t)d->data_size;
      t->is_const = true;
    }
  }
}

/* Creates an interpreter over model->graphs[gi]. A subgraph's (parent set)
 * runs on its parent's pool, level and limit, takes inputs of any rank where
 * the body leaves it open, and plans when first invoked. */
static pfw_status create(const pfw_model* model, int32_t gi, const pfw_options* options,
                         const pfw_interpreter* parent, pfw_interpreter** out) {
  *out = NULL;
  const pfw_graph_desc* g = &model->graphs[gi];
  for (int32_t i = 0; i < g->n_inputs; i++) {
    const pfw_tensor_desc* d = &g->tensors[g->inputs[i]];
    if (!d->has_shape && !parent && d->kind == PFW_KIND_TENSOR)
      return pfw_error(PFW_ERR_UNSUPPORTED, "graph input '%s' has an unknown rank; the runtime needs at least the rank", d->name);
    if (pfw_dtype_size(d->dtype) == 0)
      return pfw_error(PFW_ERR_UNSUPPORTED, "graph input '%s' has dtype %s, which the runtime cannot feed", d->name, pfw_dtype_name(d->dtype));
  }
  pfw_isa isa = parent ? parent->isa : PFW_ISA_SCALAR;
  pfw_status ist = parent ? PFW_OK : pfw_isa_select(&isa);
  if (ist != PFW_OK) return ist;
  pfw_interpreter* it = calloc(1, sizeof *it);
  if (!it) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory creating the interpreter");
  it->isa = isa;
  it->model = model;
  it->graph = g;
  if (parent) {
    it->num_threads = parent->num_threads;
    it->arena_limit = parent->arena_limit;
    it->loop_limit = parent->loop_limit;
    it->seed = parent->seed;
    it->runs = parent->runs;
    it->strings = parent->strings;
    it->pool = parent->pool;
    it->depth = parent->depth + 1;
  } else {
    it->num_threads = options ? options->num_threads : 1;
    it->arena_limit = options && options->arena_limit ? (size_t)options->arena_limit : physical_memory();
    it->loop_limit = options ? options->loop_limit : 0;
    it->seed = options ? options->seed : 0;
    it->runs = &it->body_runs;
    it->strings = pfw_str_heap_create();
    it->pool = pfw_threadpool_create(it->num_threads);
    it->owns_pool = true;
  }
  snprintf(it->backend_info, sizeof it->backend_info, "cpu");
  it->tensors = calloc((size_t)g->n_tensors + 1, sizeof(pfw_tensor));
  it->nodes = calloc((size_t)g->n_nodes + 1, sizeof(pfw_node));
  it->io = calloc((size_t)g->n_inputs + (size_t)g->n_outputs + 1, sizeof(pfw_tensor*));
  pfw_status st = PFW_OK;
  if (!it->tensors || !it->nodes || !it->io || !it->strings) {
    st = pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory creating the interpreter");
  } else {
    init_tensors(it);
    for (int32_t i = 0; i < g->n_inputs && st == PFW_OK; i++) {
      pfw_tensor* t = it->io[i] = &it->tensors[g->inputs[i]];
      t->is_input = true;
      if (pfw_is_sequence(t)) { /* elements only: appended through pfw.h, or fed by the parent */
        st = pfw_seq_resize(t, 0, it->arena_limit);
        continue;
      }
      t->value_input = !parent && is_value_input(g, t);
      st = input_bytes(t, &t->nbytes);
      if (st != PFW_OK) st = as_invalid_model();
      /* Before planning: the plan may alias views (Reshape...) onto inputs. */
      if (st == PFW_OK) st = size_input(t, it->arena_limit);
    }
    for (int32_t i = 0; i < g->n_outputs; i++) it->io[g->n_inputs + i] = &it->tensors[g->outputs[i]];
    if (st == PFW_OK) st = bind_nodes(it);
    const char* backend = options ? options->backend : "cpu";
    if (st == PFW_OK && strcmp(backend, "cpu") != 0) st = pfw_cl_attach(it, strcmp(backend, "opencl") == 0);
    if (st == PFW_OK && parent) it->unplanned = true;
    else if (st == PFW_OK) st = first_plan(it);
  }
  if (st != PFW_OK) {
    pfw_interpreter_free(it);
    return st;
  }
  *out = it;
  return PFW_OK;
}

pfw_status pfw_interpreter_create(const pfw_model* model, const pfw_options* options,
                                  pfw_interpreter** out) {
  if (!model || !out) return pfw_error(PFW_ERR_INVALID_ARGUMENT, "pfw_interpreter_create: model and out must not be NULL");
  return create(model, 0, options, NULL, out);
}

/* Subgraphs nest through If/Loop/Scan bodies; the verifier only lets a graph
 * name graphs after it, so nesting ends, and this bounds its depth. */
#define PFW_SUBGRAPH_DEPTH_MAX 32

pfw_status pfw_subgraph_create(const pfw_node* node, int32_t graph, pfw_interpreter** out) {
  const pfw_interpreter* parent = node->owner;
  if (parent->depth >= PFW_SUBGRAPH_DEPTH_MAX)
    return pfw_error(PFW_ERR_UNSUPPORTED, "subgraphs nest deeper than %d levels", PFW_SUBGRAPH_DEPTH_MAX);
  pfw_status st = create(node->model, graph, NULL, parent, out);
  if (st != PFW_OK) pfw_error_prefix("subgraph '%s'", node->model->graphs[graph].name);
  return st;
}

pfw_status pfw_subgraph_input(pfw_interpreter* sub, int32_t i, pfw_dtype dtype, int32_t rank,
                              const int64_t* dims, void** data) {
  pfw_tensor* t = sub->io[i];
  const pfw_tensor_desc* d = t->desc;
  if (dtype != t->dtype)
    return pfw_error(PFW_ERR_INVALID_MODEL, "subgraph '%s' input %d ('%s') is %s, given %s", sub->graph->name, (int)i,
                     d->name, pfw_dtype_name(t->dtype), pfw_dtype_name(dtype));
  bool same = rank == t->rank && memcmp(dims, t->dims, (size_t)rank * sizeof(int64_t)) == 0;
  if (!same) {
    if (d->has_shape && rank != d->rank)
      return pfw_error(PFW_ERR_SHAPE, "subgraph '%s' input %d ('%s') has rank %d, given rank %d", sub->graph->name,
                       (int)i, d->name, (int)d->rank, (int)rank);
    for (int32_t k = 0; d->has_shape && k < rank; k++)
      if (d->dims[k] >= 0 && d->dims[k] != dims[k])
        return pfw_error(PFW_ERR_SHAPE, "subgraph '%s' input %d ('%s'): dimension %d is fixed at %lld, given %lld",
                         sub->graph->name, (int)i, d->name, (int)k, (long long)d->dims[k], (long long)dims[k]);
    pfw_tensor saved = *t;
    t->rank = rank;
    memcpy(t->dims, dims, (size_t)rank * sizeof(int64_t));
    pfw_status st = input_bytes(t, &t->nbytes);
    if (st == PFW_OK) st = size_input(t, sub->arena_limit);
    if (st != PFW_OK) {
      t->rank = saved.rank;
      memcpy(t->dims, saved.dims, sizeof t->dims);
      t->nbytes = saved.nbytes;
      return st;
    }
    sub->unplanned = true;
  }
  *data = t->data;
  return PFW_OK;
}

pfw_status pfw_subgraph_feed(pfw_interpreter* sub, int32_t i, const pfw_tensor* src) {
  pfw_tensor* t = sub->io[i];
  if (pfw_is_sequence(src) || pfw_is_sequence(t) || src->none) {
    pfw_status st = pfw_value_copy(t, src, sub->arena_limit);
    if (st != PFW_OK) pfw_error_prefix("subgraph '%s' input %d", sub->graph->name, (int)i);
    return st;
  }
  void* data = NULL;
  pfw_status st = pfw_subgraph_input(sub, i, src->dtype, src->rank, src->dims, &data);
  if (st == PFW_OK && src->nbytes) memcpy(data, src->data, src->nbytes);
  if (st == PFW_OK) t->none = false;
  return st;
}

void pfw_interpreter_free(pfw_interpreter* it) {
  if (!it) return;
  pfw_cl_detach(it);
  if (it->tensors && it->nodes) {
    pfw_unfold(it);
    pfw_free_dynamic(it);
  }
  if (it->tensors)
    for (int32_t i = 0; i < it->graph->n_tensors; i++) {
      free(it->tensors[i].input_block);
      free(it->tensors[i].str_block);
    }
  if (it->nodes) {
    for (int32_t i = 0; i < it->graph->n_nodes; i++) {
      pfw_node_release(&it->nodes[i]);
      free(it->nodes[i].in);
      free(it->nodes[i].out);
    }
  }
  if (it->owns_pool) {
    pfw_threadpool_free(it->pool);
    pfw_str_heap_free(it->strings);
  }
  free(it->nodes);
  free(it->tensors);
  free(it->io);
  free(it->arena);
  free(it->prof_calls);
  free(it->prof_ns);
  free(it);
}

int32_t pfw_interpreter_input_count(const pfw_interpreter* it) { return it ? it->graph->n_inputs : 0; }
int32_t pfw_interpreter_output_count(const pfw_interpreter* it) { return it ? it->graph->n_outputs : 0; }

static pfw_status get_io(pfw_interpreter* it, int32_t index, int32_t count, int32_t base,
                         const char* what, pfw_tensor** out) {
  if (!it || !out) return pfw_error(PFW_ERR_INVALID_ARGUMENT, "pfw_interpreter_get_%s: NULL argument", what);
  if (index < 0 || index >= count)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "%s index %d out of range (the model has %d)", what, index, count);
  *out = it->io[base + index];
  return PFW_OK;
}

pfw_status pfw_interpreter_get_input(pfw_interpreter* it, int32_t index, pfw_tensor** out) {
  return get_io(it, index, it ? it->graph->n_inputs : 0, 0, "input", out);
}

pfw_status pfw_interpreter_get_output(pfw_interpreter* it, int32_t index, pfw_tensor** out) {
  return get_io(it, index, it ? it->graph->n_outputs : 0, it ? it->graph->n_inputs : 0, "output", out);
}

pfw_status pfw_interpreter_resize_input(pfw_interpreter* it, int32_t index, const int64_t* dims,
                                        int32_t rank) {
  pfw_tensor* t = NULL; /* set when st is PFW_OK; NULL keeps GCC's -O3 -Wmaybe-uninitialized quiet */
  pfw_status st = pfw_interpreter_get_input(it, index, &t);
  if (st != PFW_OK) return st;
  if (rank < 0 || (rank > 0 && !dims))
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "resize of input '%s': invalid dims", t->desc->name);
  if (pfw_is_sequence(t))
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "input '%s' is a sequence: each element has its own shape "
                     "(pfw_tensor_sequence_append)", t->desc->name);
  const pfw_tensor_desc* d = t->desc;
  if (rank != d->rank)
    return pfw_error(PFW_ERR_SHAPE, "input '%s' has rank %d, cannot resize to rank %d", d->name, d->rank, rank);
  for (int32_t k = 0; k < rank; k++) {
    if (dims[k] < 0)
      return pfw_error(PFW_ERR_SHAPE, "input '%s': dimension %d cannot be %lld", d->name, k, (long long)dims[k]);
    if (d->dims[k] >= 0 && dims[k] != d->dims[k])
      return pfw_error(PFW_ERR_SHAPE, "input '%s': dimension %d is fixed at %lld by the model, got %lld",
                       d->name, k, (long long)d->dims[k], (long long)dims[k]);
  }
  int64_t old[PFW_MAX_RANK];
  memcpy(old, t->dims, sizeof old);
  memcpy(t->dims, dims, (size_t)rank * sizeof(int64_t));
  if (memcmp(old, t->dims, sizeof old) == 0) return PFW_OK;
  size_t bytes;
  st = input_bytes(t, &bytes);
  if (st != PFW_OK) {
    memcpy(t->dims, old, sizeof old);
    return st;
  }
  size_t old_bytes = t->nbytes;
  t->nbytes = bytes;
  if ((st = size_input(t, it->arena_limit)) != PFW_OK) {
    memcpy(t->dims, old, sizeof old);
    t->nbytes = old_bytes;
    return st;
  }
  if (t->value_input) t->is_const = false; /* its values must be fed again */
  it->unplanned = true;
  return PFW_OK;
}

pfw_status pfw_interpreter_allocate(pfw_interpreter* it) {
  if (!it) return pfw_error(PFW_ERR_INVALID_ARGUMENT, "pfw_interpreter_allocate: interpreter is NULL");
  if (!it->unplanned) return PFW_OK;
  pfw_status st = pfw_plan(it);
  if (st == PFW_ERR_INVALID_MODEL || st == PFW_ERR_INVALID_ARGUMENT) st = PFW_ERR_SHAPE;
  if (st != PFW_OK) return st;
  it->unplanned = false;
  return PFW_OK;
}

pfw_status pfw_interpreter_invoke(pfw_interpreter* it) {
  if (!it) return pfw_error(PFW_ERR_INVALID_ARGUMENT, "pfw_interpreter_invoke: interpreter is NULL");
  pfw_status planned = pfw_interpreter_allocate(it); /* a no-op unless inputs changed shape or value */
  if (planned != PFW_OK) return planned;
  if (it->depth == 0) {
    it->body_runs = 0;
    pfw_str_heap_reset(it->strings); /* the last run's output strings die here, as documented in pfw.h */
  }
  if (it->cl) return pfw_cl_invoke(it);
  for (int32_t i = 0; i < it->graph->n_nodes; i++) {
    pfw_status st = pfw_run_node(it, i);
    if (st != PFW_OK) {
      pfw_error_prefix("node '%s' (%s)", it->nodes[i].desc->name, pfw_op_name(it->nodes[i].desc->op));
      return st;
    }
  }
  return PFW_OK;
}

size_t pfw_interpreter_arena_size(const pfw_interpreter* it) { return it ? it->arena_size : 0; }

const char* pfw_interpreter_backend(const pfw_interpreter* it) { return !it ? "" : it->cl ? "opencl" : "cpu"; }

const char* pfw_interpreter_backend_info(const pfw_interpreter* it) { return it ? it->backend_info : ""; }

pfw_status pfw_interpreter_node_backend(const pfw_interpreter* it, int32_t index, const char** name) {
  if (!it || !name) return pfw_error(PFW_ERR_INVALID_ARGUMENT, "pfw_interpreter_node_backend: NULL argument");
  if (index < 0 || index >= it->graph->n_nodes)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "node index %d out of range (the graph has %d nodes)", index,
                     it->graph->n_nodes);
  *name = it->nodes[index].folded ? "plan" : pfw_cl_node_claimed(it, index) ? "opencl" : "cpu";
  return PFW_OK;
}
