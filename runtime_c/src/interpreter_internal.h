/* The interpreter object, shared by interpreter.c, plan.c and tensor.c. */
#ifndef PFW_INTERPRETER_INTERNAL_H
#define PFW_INTERPRETER_INTERNAL_H

#include "internal.h"

struct pfw_options {
  int32_t num_threads;
  char backend[16];
  uint64_t arena_limit;  /* 0 = physical memory */
  int64_t loop_limit;    /* 0 = none */
  uint64_t seed;         /* random ops without a seed of their own */
};

struct pfw_interpreter {
  const pfw_model* model;
  const pfw_graph_desc* graph;
  int32_t num_threads;
  pfw_isa isa;           /* kernel level for every node (cpu.c) */
  pfw_threadpool* pool;
  pfw_tensor* tensors;   /* one per graph tensor */
  pfw_node* nodes;       /* one per graph node */
  pfw_tensor** io;       /* graph inputs then outputs */
  uint8_t* arena;
  size_t arena_size, arena_cap, arena_limit;
  int64_t loop_limit;    /* most Loop/Scan body runs per invoke, nested ones included (0: no limit) */
  uint64_t seed;         /* random ops without a seed attribute draw from it (ops/random.c) */
  int64_t body_runs;     /* this invoke's count, kept by the main interpreter */
  int64_t* runs;         /* &body_runs of the main interpreter (subgraphs count into their root's) */
  pfw_str_heap* strings; /* bytes of the strings ops make; the root's, shared by its subgraphs */
  size_t folded_bytes;   /* values computed while planning, under arena_limit too */
  bool unplanned;        /* inputs resized since the last successful plan */
  bool profiling;        /* time each node in invoke (profile.c) */
  int64_t* prof_calls;   /* per node, allocated when profiling is first enabled */
  int64_t* prof_ns;
  struct pfw_cl_state* cl; /* the OpenCL backend, or NULL (src/backend.h) */
  char backend_info[512];  /* pfw_interpreter_backend_info */
  bool owns_pool;          /* false for a subgraph's interpreter, which runs on its parent's */
  int32_t depth;           /* subgraph nesting: 0 for the main graph */
};

/* Runs every prepare in order (shape inference), then plans and places
 * memory in the arena. On failure the error names the node. */
pfw_status pfw_plan(pfw_interpreter* it);
/* Frees values computed while planning (before re-planning and at free). */
void pfw_unfold(pfw_interpreter* it);
/* Runs node `i` and adds its time to the profile (only while profiling). */
pfw_status pfw_profile_run(pfw_interpreter* it, int32_t i);
/* Runs node `i` at invoke: prepares it first when it was deferred (plan.c),
 * skips it when folded or empty. */
pfw_status pfw_run_node(pfw_interpreter* it, int32_t i);
/* A node with a STRING input or output must be of an op made for them
 * (PFW_OPF_STRINGS): the error names the tensor and op (plan.c). */
pfw_status pfw_check_strings(const pfw_node* n);
/* Frees what a node's prepare made: its state and subgraph interpreters. */
void pfw_node_release(pfw_node* n);
/* Frees dynamic tensors' blocks and deferred nodes' scratch (at free). */
void pfw_free_dynamic(pfw_interpreter* it);
/* Marks an output dynamic (a deferred node's; data set at invoke) or not
 * (its heap block freed, the plan places it). */
void pfw_set_dynamic(pfw_tensor* t, bool dynamic);
/* Every present output has 0 elements (and there is one): nothing to run. */
bool pfw_outputs_empty(const pfw_node* n);

/* ---- subgraphs (If, Loop, Scan) ------------------------------------------
 * An interpreter of its own over model->graphs[graph], run by `node`'s op:
 * it shares the parent's thread pool, kernel level and memory limit, and is
 * planned when first invoked, from the shapes its inputs are given. Its
 * inputs are never value inputs: a prepare that needs one's values is
 * deferred to invoke instead of re-planning the whole body. */
pfw_status pfw_subgraph_create(const pfw_node* node, int32_t graph, pfw_interpreter** out);
/* Shapes body input `i` as (dtype, rank, dims) and returns its buffer to
 * fill. A dtype other than the input's, or a rank or dimension the body
 * fixes otherwise, is an error naming the input. */
pfw_status pfw_subgraph_input(pfw_interpreter* sub, int32_t i, pfw_dtype dtype, int32_t rank,
                              const int64_t* dims, void** data);
/* pfw_subgraph_input filled with a copy of tensor `src`. */
pfw_status pfw_subgraph_feed(pfw_interpreter* sub, int32_t i, const pfw_tensor* src);

#endif
