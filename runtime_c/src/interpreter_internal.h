/* The interpreter object, shared by interpreter.c, plan.c and tensor.c. */
#ifndef PFW_INTERPRETER_INTERNAL_H
#define PFW_INTERPRETER_INTERNAL_H

#include "internal.h"

struct pfw_options {
  int32_t num_threads;
  char backend[16];
  uint64_t arena_limit;  /* 0 = physical memory */
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
  size_t folded_bytes;   /* values computed while planning, under arena_limit too */
  bool unplanned;        /* inputs resized since the last successful plan */
  bool profiling;        /* time each node in invoke (profile.c) */
  int64_t* prof_calls;   /* per node, allocated when profiling is first enabled */
  int64_t* prof_ns;
  struct pfw_cl_state* cl; /* the OpenCL backend, or NULL (src/backend.h) */
  char backend_info[512];  /* pfw_interpreter_backend_info */
};

/* Runs every prepare in order (shape inference), then plans and places
 * memory in the arena. On failure the error names the node. */
pfw_status pfw_plan(pfw_interpreter* it);
/* Frees values computed while planning (before re-planning and at free). */
void pfw_unfold(pfw_interpreter* it);
/* Runs node `i` and adds its time to the profile (only while profiling). */
pfw_status pfw_profile_run(pfw_interpreter* it, int32_t i);

#endif
