/* Per-node profiling: invoke times each node it runs with CLOCK_MONOTONIC
 * while profiling is on; the counters are read back through pfw.h. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "op_types.h"

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

pfw_status pfw_profile_run(pfw_interpreter* it, int32_t i) {
  pfw_node* n = &it->nodes[i];
  int64_t t0 = now_ns();
  pfw_status st = n->op->run(n);
  if (st == PFW_OK) { /* a failed run is reported, not timed */
    it->prof_ns[i] += now_ns() - t0;
    it->prof_calls[i]++;
  }
  return st;
}

pfw_status pfw_interpreter_set_profiling(pfw_interpreter* it, int32_t enable) {
  if (!it) return pfw_error(PFW_ERR_INVALID_ARGUMENT, "pfw_interpreter_set_profiling: interpreter is NULL");
  if (!enable) {
    it->profiling = false; /* counters stay readable */
    return PFW_OK;
  }
  size_t n = (size_t)it->graph->n_nodes + 1;
  if (!it->prof_calls) it->prof_calls = calloc(n, sizeof(int64_t));
  if (!it->prof_ns) it->prof_ns = calloc(n, sizeof(int64_t));
  if (!it->prof_calls || !it->prof_ns)
    return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory allocating the profile counters");
  memset(it->prof_calls, 0, n * sizeof(int64_t));
  memset(it->prof_ns, 0, n * sizeof(int64_t));
  pfw_cl_reset_transfers(it);
  it->profiling = true;
  return PFW_OK;
}

pfw_status pfw_interpreter_profile_count(const pfw_interpreter* it, int32_t* count) {
  if (!it || !count)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "pfw_interpreter_profile_count: interpreter and count must not be NULL");
  *count = it->graph->n_nodes;
  return PFW_OK;
}

pfw_status pfw_interpreter_profile_entry(const pfw_interpreter* it, int32_t index, const char** op_type,
                                         const char** node_name, int64_t* calls, double* total_ms) {
  if (!it || !op_type || !node_name || !calls || !total_ms)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "pfw_interpreter_profile_entry: NULL argument");
  if (index < 0 || index >= it->graph->n_nodes)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "profile entry index %d out of range (the graph has %d nodes)",
                     index, it->graph->n_nodes);
  const pfw_node_desc* d = &it->graph->nodes[index];
  const char* name = d->op == PFW_OP_Custom && d->custom_op ? d->custom_op : pfw_op_name(d->op);
  *op_type = name ? name : "";
  *node_name = d->name;
  *calls = it->prof_calls ? it->prof_calls[index] : 0;
  *total_ms = it->prof_ns ? (double)it->prof_ns[index] / 1e6 : 0.0;
  return PFW_OK;
}

pfw_status pfw_interpreter_profile_transfers(const pfw_interpreter* it, int64_t* count, int64_t* bytes,
                                             double* total_ms) {
  if (!it || !count || !bytes || !total_ms)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "pfw_interpreter_profile_transfers: NULL argument");
  int64_t ns;
  pfw_cl_transfers(it, count, bytes, &ns);
  *total_ms = (double)ns / 1e6;
  return PFW_OK;
}
