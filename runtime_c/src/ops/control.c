/* Control flow: If, Loop, Scan and SequenceMap run graphs of the model (If's branches, a
 * body) through interpreters of their own (pfw_subgraph_*, which share this
 * interpreter's thread pool). Values a body reads from the enclosing graph
 * come in as explicit inputs: the importer appends them to the node's
 * inputs and to the body's inputs in the same order, and says how many in
 * the attribute num_outer_inputs (If's inputs after the condition are all
 * such). Output shapes depend on data (a branch, a trip count), so these ops
 * size their outputs as they run (PFW_OPF_RUN_SHAPES). */
#include <stdlib.h>

#include "interpreter_internal.h"
#include "ops_common.h"

/* Creates node->sub[k] for GRAPH attribute `name`, checking the body's
 * input and output counts against what the op passes and takes. */
static pfw_status body(pfw_node* node, int k, const char* name, int32_t n_inputs, int32_t n_outputs) {
  const pfw_attr* a = pfw_attr_find(node, name);
  if (!a || a->type != PFW_ATTR_GRAPH)
    return pfw_error(PFW_ERR_INVALID_MODEL, "attribute '%s' (a graph) is required", name);
  const pfw_graph_desc* g = &node->model->graphs[a->graph];
  if (g->n_inputs != n_inputs || g->n_outputs != n_outputs)
    return pfw_error(PFW_ERR_INVALID_MODEL, "graph '%s' (attribute '%s') has %d inputs and %d outputs; the node "
                     "passes %d and takes %d", g->name, name, (int)g->n_inputs, (int)g->n_outputs, (int)n_inputs,
                     (int)n_outputs);
  return pfw_subgraph_create(node, a->graph, &node->sub[k]);
}

static pfw_tensor* sub_output(const pfw_interpreter* sub, int32_t j) { return sub->io[sub->graph->n_inputs + j]; }

/* Runs a body, naming it (and the iteration, if >= 0) in an error. Loop and
 * Scan iterations count against the invoke's loop limit, nested ones too: a
 * file could otherwise nest loops until the product of their counts is a hang. */
static pfw_status invoke(pfw_interpreter* sub, int64_t iteration) {
  if (iteration >= 0 && sub->loop_limit > 0 && ++*sub->runs > sub->loop_limit)
    return pfw_error(PFW_ERR_UNSUPPORTED, "the invoke would run loop and scan bodies more than %lld times, the "
                     "limit set with pfw_options_set_loop_limit", (long long)sub->loop_limit);
  pfw_status st = pfw_interpreter_invoke(sub);
  if (st != PFW_OK && iteration >= 0) pfw_error_prefix("graph '%s', iteration %lld", sub->graph->name, (long long)iteration);
  else if (st != PFW_OK) pfw_error_prefix("graph '%s'", sub->graph->name);
  return st;
}

/* Output j becomes a copy of `src`: a tensor, a sequence or no value. */
static pfw_status output_copy(pfw_node* node, int32_t j, const pfw_tensor* src) {
  if (j >= node->n_out || !node->out[j]) return PFW_OK;
  return pfw_value_copy(node->out[j], src, node->mem_limit ? node->mem_limit : SIZE_MAX / 2);
}

/* A one-element tensor's value: a condition (bool) or a trip count (int64). */
static pfw_status scalar(const pfw_tensor* t, pfw_dtype dtype, const char* what, void* out) {
  if (pfw_is_value_kind(t) && (pfw_is_sequence(t) || t->none))
    return pfw_error(PFW_ERR_INVALID_MODEL, "%s must be one %s value, is a sequence or no value", what, pfw_dtype_name(dtype));
  if (t->dtype != dtype || pfw_numel(t) != 1)
    return pfw_error(PFW_ERR_INVALID_MODEL, "%s must be one %s value, is %s with %lld elements", what,
                     pfw_dtype_name(dtype), pfw_dtype_name(t->dtype), (long long)pfw_numel(t));
  if (dtype == PFW_BOOL) *(bool*)out = *(const uint8_t*)t->data != 0; /* a file's bool byte may be any value */
  else memcpy(out, t->data, pfw_dtype_size(dtype));
  return PFW_OK;
}

/* Feeds carried values into body inputs first..first+n: src[k] may be one of
 * the body's own inputs (an output that passes an input through), which an
 * earlier feed of this round could overwrite, so such values are copied
 * aside first; one fed back into its own slot is already there. */
static pfw_status feed_carried(pfw_interpreter* sub, int32_t first, int32_t n, pfw_tensor* const* src) {
  pfw_tensor* saved = calloc((size_t)n + 1, sizeof *saved);
  if (!saved) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory feeding a loop body");
  pfw_status st = PFW_OK;
  for (int32_t k = 0; k < n && st == PFW_OK; k++) {
    bool own_input = src[k]->is_input && src[k]->unplanned == &sub->unplanned;
    if (!own_input || src[k] == sub->io[first + k]) continue;
    saved[k].desc = src[k]->desc;
    st = pfw_value_copy(&saved[k], src[k], sub->arena_limit);
  }
  for (int32_t k = 0; k < n && st == PFW_OK; k++)
    if (src[k] != sub->io[first + k]) st = pfw_subgraph_feed(sub, first + k, saved[k].desc ? &saved[k] : src[k]);
  for (int32_t k = 0; k < n; k++) {
    free(saved[k].dyn_block);
    pfw_seq_free(&saved[k]);
  }
  free(saved);
  return st;
}

static pfw_status feed_outer(pfw_node* node, pfw_interpreter* sub, int32_t first, int32_t n) {
  for (int32_t k = 0; k < n; k++) {
    const pfw_tensor* t = first + k < node->n_in ? node->in[first + k] : NULL;
    if (!t) return pfw_error(PFW_ERR_INVALID_MODEL, "outer-scope input %d is absent", (int)(first + k));
    pfw_status st = pfw_subgraph_feed(sub, first + k - (node->desc->op == PFW_OP_If), t);
    if (st != PFW_OK) return st;
  }
  return PFW_OK;
}

/* Dims of body output j when it never ran: what the body declares, unknown
 * dims as 0 (the value is empty either way), rank 0 when even that is open. */
static int32_t declared(const pfw_interpreter* sub, int32_t j, int64_t* dims) {
  const pfw_tensor_desc* d = sub_output(sub, j)->desc;
  for (int32_t k = 0; k < d->rank; k++) dims[k] = d->dims[k] < 0 ? 0 : d->dims[k];
  return d->rank;
}

/* ---- If ---------------------------------------------------------------------------- */

static pfw_status if_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, INT32_MAX);
  if (st == PFW_OK) st = pfw_check_input(node, 0, PFW_BOOL, -1);
  if (st == PFW_OK) st = body(node, 0, "then_branch", node->n_in - 1, node->desc->n_outputs);
  if (st == PFW_OK) st = body(node, 1, "else_branch", node->n_in - 1, node->desc->n_outputs);
  return st;
}

static pfw_status if_run(pfw_node* node) {
  bool cond = false;
  pfw_status st = scalar(node->in[0], PFW_BOOL, "input 0 (cond)", &cond);
  pfw_interpreter* sub = node->sub[cond ? 0 : 1];
  if (st == PFW_OK) st = feed_outer(node, sub, 1, node->n_in - 1);
  if (st == PFW_OK) st = invoke(sub, -1);
  for (int32_t j = 0; j < node->n_out && st == PFW_OK; j++) st = output_copy(node, j, sub_output(sub, j));
  return st;
}

const pfw_op pfw_op_If = {PFW_OP_If, if_prepare, if_run, PFW_OPF_RUN_SHAPES | PFW_OPF_VALUES | PFW_OPF_STRINGS};

/* ---- Loop -------------------------------------------------------------------------- */

typedef struct {
  int32_t n_carried, n_scan, n_outer;
} loop_state;

static pfw_status loop_prepare(pfw_node* node) {
  int64_t outer = pfw_attr_int(node, "num_outer_inputs", 0);
  int32_t declared_in = node->desc->n_inputs < 2 ? 2 : node->desc->n_inputs;
  if (outer < 0 || outer > declared_in - 2)
    return pfw_error(PFW_ERR_INVALID_MODEL, "num_outer_inputs is %lld for %d inputs", (long long)outer,
                     (int)node->desc->n_inputs);
  loop_state s = {declared_in - 2 - (int32_t)outer, 0, (int32_t)outer};
  s.n_scan = node->desc->n_outputs - s.n_carried;
  if (s.n_scan < 0)
    return pfw_error(PFW_ERR_INVALID_MODEL, "%d loop-carried inputs but only %d outputs", (int)s.n_carried,
                     (int)node->desc->n_outputs);
  for (int32_t k = 0; k < s.n_carried + s.n_outer; k++)
    if (2 + k >= node->n_in || !node->in[2 + k])
      return pfw_error(PFW_ERR_INVALID_MODEL, "input %d (a loop-carried or outer-scope value) is absent", (int)(2 + k));
  if (node->n_in > 0 && node->in[0] && node->in[0]->dtype != PFW_INT64)
    return pfw_error(PFW_ERR_INVALID_MODEL, "input 0 (M) must be int64, is %s", pfw_dtype_name(node->in[0]->dtype));
  if (node->n_in > 1 && node->in[1] && node->in[1]->dtype != PFW_BOOL)
    return pfw_error(PFW_ERR_INVALID_MODEL, "input 1 (cond) must be bool, is %s", pfw_dtype_name(node->in[1]->dtype));
  pfw_status st = body(node, 0, "body", 2 + s.n_carried + s.n_outer, 1 + s.n_carried + s.n_scan);
  if (st != PFW_OK) return st;
  loop_state* p = malloc(sizeof *p);
  if (!p) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory preparing Loop");
  *p = s;
  node->state = p;
  return PFW_OK;
}

/* Sets a scalar body input (iteration number, condition) with the rank the
 * body declares for it (0, or 1 for a (1,) tensor). */
static pfw_status loop_scalar(pfw_interpreter* sub, int32_t i, pfw_dtype dtype, const void* value) {
  const pfw_tensor_desc* d = sub->io[i]->desc;
  int64_t one = 1;
  int32_t rank = d->has_shape && d->rank == 1 ? 1 : 0;
  void* data = NULL;
  pfw_status st = pfw_subgraph_input(sub, i, dtype, rank, &one, &data);
  if (st == PFW_OK) memcpy(data, value, pfw_dtype_size(dtype));
  return st;
}

/* Appends iteration i's value of scan output k (body output y). */
static pfw_status loop_append(pfw_node* node, int32_t j, int64_t i, const pfw_tensor* y) {
  pfw_tensor* out = node->out[j];
  if (pfw_is_value_kind(y) || pfw_is_value_kind(out))
    return pfw_error(PFW_ERR_INVALID_MODEL, "scan output %d is a sequence or an optional; scan outputs are tensors", (int)j);
  if (i > 0 && (y->dtype != out->dtype || y->rank + 1 != out->rank ||
                memcmp(y->dims, out->dims + 1, (size_t)y->rank * sizeof(int64_t)) != 0))
    return pfw_error(PFW_ERR_SHAPE, "scan output %d changes dtype or shape at iteration %lld", (int)j, (long long)i);
  int64_t dims[PFW_MAX_RANK];
  if (y->rank + 1 > PFW_MAX_RANK) return pfw_error(PFW_ERR_UNSUPPORTED, "scan output %d would exceed rank %d", (int)j, PFW_MAX_RANK);
  dims[0] = i + 1;
  memcpy(dims + 1, y->dims, (size_t)y->rank * sizeof(int64_t));
  pfw_status st = pfw_dynamic_output(node, j, y->dtype, y->rank + 1, dims);
  if (st == PFW_OK && y->nbytes) memcpy((uint8_t*)out->data + (size_t)i * y->nbytes, y->data, y->nbytes);
  return st;
}

static pfw_status loop_run(pfw_node* node) {
  const loop_state* s = node->state;
  pfw_interpreter* sub = node->sub[0];
  int64_t max = INT64_MAX;
  bool cond = true;
  pfw_status st = PFW_OK;
  if (node->n_in > 0 && node->in[0]) st = scalar(node->in[0], PFW_INT64, "input 0 (M)", &max);
  if (st == PFW_OK && node->n_in > 1 && node->in[1]) st = scalar(node->in[1], PFW_BOOL, "input 1 (cond)", &cond);
  if (st == PFW_OK) st = feed_outer(node, sub, 2 + s->n_carried, s->n_outer);
  int64_t i = 0;
  pfw_tensor* const* carried = node->in + 2;
  for (; st == PFW_OK && i < max && cond; i++) {
    st = loop_scalar(sub, 0, PFW_INT64, &i);
    if (st == PFW_OK) st = loop_scalar(sub, 1, PFW_BOOL, &cond);
    if (st == PFW_OK) st = feed_carried(sub, 2, s->n_carried, carried);
    if (st == PFW_OK) st = invoke(sub, i);
    if (st == PFW_OK) st = scalar(sub_output(sub, 0), PFW_BOOL, "the body's output 0 (cond)", &cond);
    for (int32_t k = 0; k < s->n_scan && st == PFW_OK; k++)
      if (s->n_carried + k < node->n_out && node->out[s->n_carried + k])
        st = loop_append(node, s->n_carried + k, i, sub_output(sub, 1 + s->n_carried + k));
    carried = sub->io + sub->graph->n_inputs + 1;
  }
  if (st != PFW_OK) return st;
  for (int32_t k = 0; k < s->n_carried && st == PFW_OK; k++) st = output_copy(node, k, carried[k]);
  for (int32_t k = 0; k < s->n_scan && st == PFW_OK && i == 0; k++) {
    int64_t dims[PFW_MAX_RANK] = {0};
    int32_t rank = declared(sub, 1 + s->n_carried + k, dims + 1);
    if (rank + 1 > PFW_MAX_RANK) return pfw_error(PFW_ERR_UNSUPPORTED, "scan output %d would exceed rank %d", (int)k, PFW_MAX_RANK);
    dims[0] = 0;
    st = pfw_dynamic_output(node, s->n_carried + k, sub_output(sub, 1 + s->n_carried + k)->dtype, rank + 1, dims);
  }
  return st;
}

const pfw_op pfw_op_Loop = {PFW_OP_Loop, loop_prepare, loop_run, PFW_OPF_RUN_SHAPES | PFW_OPF_VALUES | PFW_OPF_STRINGS};

/* ---- Scan (opset 9 and later) ---------------------------------------------------- */

typedef struct {
  int32_t n_state, n_in_scan, n_out_scan, n_outer;
} scan_state;

static pfw_status scan_prepare(pfw_node* node) {
  if (node->desc->version < 9)
    return pfw_error(PFW_ERR_UNSUPPORTED, "Scan-%d (a batch axis and sequence_lens) is not supported; Scan-9 and "
                     "later are", (int)node->desc->version);
  int64_t m = pfw_attr_int(node, "num_scan_inputs", -1);
  int64_t outer = pfw_attr_int(node, "num_outer_inputs", 0);
  if (m < 1 || outer < 0 || m + outer > node->n_in)
    return pfw_error(PFW_ERR_INVALID_MODEL, "num_scan_inputs %lld and num_outer_inputs %lld do not fit %d inputs",
                     (long long)m, (long long)outer, (int)node->n_in);
  scan_state s = {node->n_in - (int32_t)m - (int32_t)outer, (int32_t)m, 0, (int32_t)outer};
  s.n_out_scan = node->desc->n_outputs - s.n_state;
  if (s.n_out_scan < 0)
    return pfw_error(PFW_ERR_INVALID_MODEL, "%d state inputs but only %d outputs", (int)s.n_state,
                     (int)node->desc->n_outputs);
  static const char* const lists[4] = {"scan_input_axes", "scan_input_directions", "scan_output_axes",
                                       "scan_output_directions"};
  for (int k = 0; k < 4; k++) {
    int32_t n;
    pfw_attr_ints(node, lists[k], &n);
    if (n > (k < 2 ? s.n_in_scan : s.n_out_scan))
      return pfw_error(PFW_ERR_INVALID_MODEL, "attribute '%s' has %d values for %d scan %s", lists[k], (int)n,
                       (int)(k < 2 ? s.n_in_scan : s.n_out_scan), k < 2 ? "inputs" : "outputs");
  }
  for (int32_t k = 0; k < node->n_in; k++)
    if (!node->in[k]) return pfw_error(PFW_ERR_INVALID_MODEL, "input %d is absent", (int)k);
  pfw_status st = body(node, 0, "body", node->n_in, node->desc->n_outputs);
  if (st != PFW_OK) return st;
  scan_state* p = malloc(sizeof *p);
  if (!p) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory preparing Scan");
  *p = s;
  node->state = p;
  return PFW_OK;
}

/* Entry k of an INTS attribute, `dflt` past its end. */
static int64_t attr_at(const pfw_node* node, const char* name, int32_t k, int64_t dflt) {
  int32_t n;
  const int64_t* v = pfw_attr_ints(node, name, &n);
  return v && k < n ? v[k] : dflt;
}

/* A tensor seen as (outer, len, inner bytes) around one axis: slice `at`
 * of it is `outer` runs of `inner` bytes, `len * inner` apart. */
typedef struct {
  int64_t outer, len;
  size_t inner;
} slab;

static slab slab_of(const pfw_tensor* t, int32_t axis) {
  slab v = {1, t->dims[axis], pfw_dtype_size(t->dtype)};
  for (int32_t k = 0; k < axis; k++) v.outer *= t->dims[k];
  for (int32_t k = axis + 1; k < t->rank; k++) v.inner *= (size_t)t->dims[k];
  return v;
}

/* Copies slice `at` of the slab tensor `whole` to or from `part`. */
static void slab_copy(slab v, uint8_t* whole, uint8_t* part, int64_t at, bool into_whole) {
  for (int64_t o = 0; o < v.outer; o++) {
    uint8_t* w = whole + ((size_t)o * (size_t)v.len + (size_t)at) * v.inner;
    uint8_t* p = part + (size_t)o * v.inner;
    memcpy(into_whole ? w : p, into_whole ? p : w, v.inner);
  }
}

/* Feeds iteration t's slices of the scan inputs; returns their length T. */
static pfw_status scan_slices(pfw_node* node, const scan_state* s, int64_t t, int64_t* len) {
  pfw_interpreter* sub = node->sub[0];
  for (int32_t m = 0; m < s->n_in_scan; m++) {
    const pfw_tensor* x = node->in[s->n_state + m];
    int32_t axis;
    pfw_status st = pfw_norm_axis(attr_at(node, "scan_input_axes", m, 0), x->rank, "scan_input_axes", &axis);
    if (st != PFW_OK) return st;
    slab v = slab_of(x, axis);
    if (m == 0) *len = v.len;
    if (v.len != *len)
      return pfw_error(PFW_ERR_SHAPE, "scan input %d has %lld entries along its scan axis, scan input 0 has %lld",
                       (int)m, (long long)v.len, (long long)*len);
    if (t >= *len) continue; /* only measuring */
    int64_t dims[PFW_MAX_RANK];
    for (int32_t k = 0, r = 0; k < x->rank; k++)
      if (k != axis) dims[r++] = x->dims[k];
    void* data = NULL;
    st = pfw_subgraph_input(sub, s->n_state + m, x->dtype, x->rank - 1, dims, &data);
    if (st != PFW_OK) return st;
    bool reverse = attr_at(node, "scan_input_directions", m, 0) != 0;
    slab_copy(v, x->data, data, reverse ? *len - 1 - t : t, false);
  }
  return PFW_OK;
}

/* Writes iteration t's value of scan output k, sizing the output at t = 0. */
static pfw_status scan_store(pfw_node* node, const scan_state* s, int32_t k, int64_t t, int64_t len) {
  int32_t j = s->n_state + k;
  if (j >= node->n_out || !node->out[j]) return PFW_OK;
  const pfw_tensor* y = sub_output(node->sub[0], j);
  pfw_tensor* out = node->out[j];
  int32_t axis;
  pfw_status st = pfw_norm_axis(attr_at(node, "scan_output_axes", k, 0), y->rank + 1, "scan_output_axes", &axis);
  if (st != PFW_OK) return st;
  int64_t dims[PFW_MAX_RANK];
  if (y->rank + 1 > PFW_MAX_RANK) return pfw_error(PFW_ERR_UNSUPPORTED, "scan output %d would exceed rank %d", (int)k, PFW_MAX_RANK);
  for (int32_t d = 0, r = 0; d <= y->rank; d++) dims[d] = d == axis ? len : y->dims[r++];
  if (t == 0) {
    st = pfw_dynamic_output(node, j, y->dtype, y->rank + 1, dims);
    if (st != PFW_OK) return st;
  } else if (y->dtype != out->dtype || memcmp(dims, out->dims, (size_t)out->rank * sizeof(int64_t)) != 0) {
    return pfw_error(PFW_ERR_SHAPE, "scan output %d changes dtype or shape at iteration %lld", (int)k, (long long)t);
  }
  bool reverse = attr_at(node, "scan_output_directions", k, 0) != 0;
  slab_copy(slab_of(out, axis), out->data, y->data, reverse ? len - 1 - t : t, true);
  return PFW_OK;
}

static pfw_status scan_run(pfw_node* node) {
  const scan_state* s = node->state;
  pfw_interpreter* sub = node->sub[0];
  int64_t len = 0;
  pfw_status st = scan_slices(node, s, INT64_MAX, &len);
  if (st == PFW_OK) st = feed_outer(node, sub, s->n_state + s->n_in_scan, s->n_outer);
  pfw_tensor* const* state = node->in;
  for (int64_t t = 0; t < len && st == PFW_OK; t++) {
    st = feed_carried(sub, 0, s->n_state, state);
    if (st == PFW_OK) st = scan_slices(node, s, t, &len);
    if (st == PFW_OK) st = invoke(sub, t);
    for (int32_t k = 0; k < s->n_out_scan && st == PFW_OK; k++) st = scan_store(node, s, k, t, len);
    state = sub->io + sub->graph->n_inputs;
  }
  for (int32_t k = 0; k < s->n_state && st == PFW_OK; k++) st = output_copy(node, k, state[k]);
  for (int32_t k = 0; k < s->n_out_scan && st == PFW_OK && len == 0; k++) {
    int64_t dims[PFW_MAX_RANK] = {0};
    int32_t rank = declared(sub, s->n_state + k, dims);
    if (rank + 1 > PFW_MAX_RANK) return pfw_error(PFW_ERR_UNSUPPORTED, "scan output %d would exceed rank %d", (int)k, PFW_MAX_RANK);
    st = pfw_dynamic_output(node, s->n_state + k, sub_output(sub, s->n_state + k)->dtype, rank + 1, dims);
  }
  return st;
}

const pfw_op pfw_op_Scan = {PFW_OP_Scan, scan_prepare, scan_run, PFW_OPF_RUN_SHAPES | PFW_OPF_STRINGS};

/* ---- SequenceMap --------------------------------------------------------------------
 * Runs the body once per element of the input sequence: body input k gets
 * element i of node input k where that is a sequence (all of the same
 * length), or the whole value otherwise; the trailing num_outer_inputs
 * inputs are outer-scope values, always passed whole. Body output j becomes
 * element i of output sequence j. */

static pfw_status map_prepare(pfw_node* node) {
  int64_t outer = pfw_attr_int(node, "num_outer_inputs", 0);
  if (outer < 0 || outer > node->n_in - 1)
    return pfw_error(PFW_ERR_INVALID_MODEL, "num_outer_inputs is %lld for %d inputs", (long long)outer, (int)node->n_in);
  for (int32_t k = 0; k < node->n_in; k++)
    if (!node->in[k]) return pfw_error(PFW_ERR_INVALID_MODEL, "input %d is absent", (int)k);
  for (int32_t j = 0; j < node->n_out; j++)
    if (!node->out[j] || !pfw_is_sequence(node->out[j]))
      return pfw_error(PFW_ERR_INVALID_MODEL, "output %d must be a sequence", (int)j);
  if (!pfw_is_sequence(node->in[0])) return pfw_error(PFW_ERR_INVALID_MODEL, "input 0 must be a sequence");
  int64_t* p = malloc(sizeof *p);
  if (!p) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory preparing SequenceMap");
  *p = outer;
  node->state = p;
  return body(node, 0, "body", node->n_in, node->n_out);
}

static pfw_status map_run(pfw_node* node) {
  pfw_interpreter* sub = node->sub[0];
  int32_t mapped = node->n_in - (int32_t)*(const int64_t*)node->state;
  size_t limit = node->mem_limit ? node->mem_limit : SIZE_MAX / 2;
  int64_t n = node->in[0]->seq ? node->in[0]->seq->count : 0;
  pfw_status st = PFW_OK;
  for (int32_t k = 0; k < node->n_in && st == PFW_OK; k++) {
    const pfw_tensor* x = node->in[k];
    if (x->none) st = pfw_error(PFW_ERR_INVALID_MODEL, "input %d ('%s') holds no value", (int)k, x->desc->name);
    else if (k < mapped && pfw_is_sequence(x) && (x->seq ? x->seq->count : 0) != n)
      st = pfw_error(PFW_ERR_SHAPE, "input %d has %lld elements but input 0 has %lld", (int)k,
                     (long long)(x->seq ? x->seq->count : 0), (long long)n);
    else if (k >= mapped || !pfw_is_sequence(x)) st = pfw_subgraph_feed(sub, k, x); /* whole, once */
  }
  for (int32_t j = 0; j < node->n_out && st == PFW_OK; j++) st = pfw_seq_resize(node->out[j], n, limit);
  for (int64_t i = 0; i < n && st == PFW_OK; i++) {
    for (int32_t k = 0; k < mapped && st == PFW_OK; k++)
      if (pfw_is_sequence(node->in[k])) st = pfw_subgraph_feed(sub, k, &node->in[k]->seq->items[i]);
    if (st == PFW_OK) st = invoke(sub, i);
    for (int32_t j = 0; j < node->n_out && st == PFW_OK; j++) {
      const pfw_tensor* y = sub_output(sub, j);
      if (pfw_is_value_kind(y)) st = pfw_error(PFW_ERR_INVALID_MODEL, "body output %d must be a tensor", (int)j);
      else st = pfw_seq_set(node->out[j], i, y->dtype, y->rank, y->dims, y->data, limit);
    }
  }
  return st;
}

const pfw_op pfw_op_SequenceMap = {PFW_OP_SequenceMap, map_prepare, map_run, PFW_OPF_RUN_SHAPES | PFW_OPF_VALUES | PFW_OPF_STRINGS};
