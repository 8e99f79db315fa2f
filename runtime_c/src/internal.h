/* Internal types shared by the loader, the interpreter and the ops. Nothing
 * here is public; pfw.h is the contract. */
#ifndef PFW_INTERNAL_H
#define PFW_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pfw.h"
#include "op_types.h"

#define PFW_ALIGN 64

/* n rounded up to whole PFW_ALIGN blocks; p moved up to the next PFW_ALIGN
 * boundary (regions carved out of scratch and state blocks). */
static inline size_t pfw_align_size(size_t n) { return (n + PFW_ALIGN - 1) / PFW_ALIGN * PFW_ALIGN; }
/* v rounded up to a multiple of `to` (> 0): panel and tile counts. */
static inline int64_t pfw_round_up(int64_t v, int64_t to) { return (v + to - 1) / to * to; }
static inline void* pfw_align_ptr(const void* p) {
  return (void*)(((uintptr_t)p + PFW_ALIGN - 1) & ~(uintptr_t)(PFW_ALIGN - 1));
}

/* ---- errors (error.c) ---------------------------------------------------
 * Sets the thread's last error and returns `status` so callers can write
 * `return pfw_error(PFW_ERR_SHAPE, "...", ...);`. */
pfw_status pfw_error(pfw_status status, const char* fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prepends "prefix: " to the current message (used to name the node). */
void pfw_error_prefix(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void pfw_error_clear(void);

/* ---- decoded model (model.c) -------------------------------------------
 * The loader verifies the FlatBuffer and decodes it into these plain structs;
 * nothing after the loader touches FlatBuffer bytes. Strings and arrays are
 * owned by the model; `data` of a constant points into the mapping. */

typedef struct pfw_quant_desc {
  int32_t n_scale, n_zero_point, axis;
  float* scale;
  int64_t* zero_point;
} pfw_quant_desc;

typedef struct pfw_tensor_desc {
  const char* name;
  pfw_dtype dtype;
  bool has_shape;          /* false: rank unknown */
  int32_t rank;
  int64_t dims[PFW_MAX_RANK]; /* -1 = dynamic */
  const void* data;        /* constant data, or NULL */
  uint64_t data_size;      /* bytes of constant data */
  pfw_quant_desc* quant;   /* NULL when not quantized */
  pfw_value_kind kind;     /* a sequence's dtype and dims are its elements' */
  bool optional;           /* may hold no value (ONNX optional) */
} pfw_tensor_desc;

typedef enum pfw_attr_type {
  PFW_ATTR_UNDEFINED = 0, PFW_ATTR_FLOAT = 1, PFW_ATTR_INT = 2, PFW_ATTR_STRING = 3,
  PFW_ATTR_TENSOR = 4, PFW_ATTR_GRAPH = 5, PFW_ATTR_FLOATS = 6, PFW_ATTR_INTS = 7,
  PFW_ATTR_STRINGS = 8
} pfw_attr_type;

typedef struct pfw_attr {
  const char* name;
  pfw_attr_type type;
  int64_t i;
  float f;
  const uint8_t* s;     /* STRING bytes (NUL-terminated copy), length s_len */
  int32_t s_len;
  int32_t n;            /* element count of ints / floats / strings */
  int64_t* ints;
  float* floats;
  const char** strings;
  int32_t tensor;       /* TENSOR: index into the graph's tensors */
  int32_t graph;        /* GRAPH: index into the model's graphs */
} pfw_attr;

typedef struct pfw_node_desc {
  uint16_t op;          /* PFW_OP_* */
  const char* name;     /* never NULL ("" if unnamed) */
  const char* custom_op;
  const char* domain;
  int32_t version;
  int32_t n_inputs, n_outputs, n_attrs;
  int32_t* inputs;      /* tensor indices, -1 = absent optional input */
  int32_t* outputs;
  pfw_attr* attrs;
} pfw_node_desc;

typedef struct pfw_graph_desc {
  const char* name;
  int32_t n_tensors, n_nodes, n_inputs, n_outputs;
  pfw_tensor_desc* tensors;
  pfw_node_desc* nodes;
  int32_t* inputs;
  int32_t* outputs;
} pfw_graph_desc;

struct pfw_model {
  uint8_t* bytes;       /* the whole file (mapping or aligned copy) */
  size_t size;
  bool mapped;
  uint32_t format_version;
  int32_t opset;
  int32_t n_graphs, n_metadata;
  pfw_graph_desc* graphs;
  const char** meta_keys;
  const char** meta_values;
  void* pool;           /* one block holding every decoded array/string */
};

/* After an op has copied a constant into a packed layout of its own: lets
 * the kernel drop the pages of `data` (in a file mapping) from memory.
 * Nothing changes for data outside the mapping or a model from a buffer;
 * dropped pages come back from the file if read again. */
void pfw_model_release_pages(const pfw_model* model, const void* data, size_t bytes);

/* ---- strings (strings.c) -----------------------------------------------
 * A STRING tensor holds one pfw_string per element. The bytes live elsewhere:
 * in the model (constants), in a graph input's own block (set through
 * pfw_tensor_set_strings), or in the string heap of the root interpreter
 * (what ops make, kept until its next invoke). Ops that move elements copy
 * the pairs; {NULL, 0} is the empty string, so zeroed memory is valid. */
typedef struct pfw_string {
  const char* data;     /* not NUL-terminated; NULL when size is 0 */
  size_t size;
} pfw_string;
typedef struct pfw_str_heap pfw_str_heap;
pfw_str_heap* pfw_str_heap_create(void);
/* Makes the heap's bytes free for reuse (at the root's invoke) / frees it. */
void pfw_str_heap_reset(pfw_str_heap* h);
void pfw_str_heap_free(pfw_str_heap* h);
struct pfw_node;
/* n writable bytes from the heap of the node's interpreter, valid until the
 * next invoke of the root interpreter; NULL (the error set) past the
 * interpreter's memory limit. */
char* pfw_str_alloc(struct pfw_node* node, size_t n);
/* String constant i's end offset: the little-endian uint64 at p + 8 i. */
static inline uint64_t pfw_string_end(const uint8_t* p, int64_t i) {
  uint64_t end = 0;
  for (int b = 7; b >= 0; b--) end = end << 8 | p[8 * i + b];
  return end;
}
/* Whether a and b hold the same bytes (elements that ops copied share them). */
static inline bool pfw_str_equal(pfw_string a, pfw_string b) {
  return a.size == b.size && (a.size == 0 || a.data == b.data || memcmp(a.data, b.data, a.size) == 0);
}

/* ---- runtime tensors and nodes (interpreter.c) ------------------------- */

struct pfw_tensor {
  const pfw_tensor_desc* desc;
  int32_t index;        /* in the graph */
  pfw_dtype dtype;
  int32_t rank;
  int64_t dims[PFW_MAX_RANK];
  void* data;           /* arena slot, constant data, or alias of another tensor */
  size_t nbytes;
  bool is_const;        /* data is known at prepare time and read-only: a model
                           constant, or a value computed while planning */
  bool folded;          /* data is a plan-time value owned by the interpreter */
  bool is_input;        /* a graph input: data is a buffer of its own, outside the arena */
  bool value_input;     /* a small integer graph input whose values shapes may need */
  size_t capacity;      /* bytes allocated for a graph input */
  void* input_block;    /* a graph input's allocation (data is its aligned start) */
  bool* unplanned;      /* the owning interpreter's flag: arena data is stale */
  bool dynamic;         /* its shape is known only once its producer has run (a deferred
                           node's output): data is a heap block of its own, sized at invoke */
  void* dyn_block;      /* a dynamic tensor's allocation (data is its aligned start) */
  size_t dyn_cap;       /* bytes usable in dyn_block */
  /* Sequences and optionals (sequence.c). A sequence's dtype, rank and dims
   * are its elements' as the model declares them; it has no data of its own. */
  bool none;            /* an optional holding no value (this run) */
  struct pfw_sequence* seq; /* a sequence's elements; NULL for a tensor */
  char* str_block;      /* a STRING graph input's bytes (pfw_tensor_set_strings) */
};

/* The elements of a sequence value: tensors of their own (dynamic: heap
 * blocks), handed out by pfw_tensor_sequence_item. Elements past `count`
 * keep their blocks for reuse, so a steady state allocates nothing. */
typedef struct pfw_sequence {
  int64_t count, cap;
  struct pfw_tensor* items;
  size_t bytes;         /* sum of the elements' sizes, under the memory limit */
  size_t limit;         /* the interpreter's memory limit (for appends through pfw.h) */
  pfw_tensor_desc item_desc; /* the elements': the sequence's name, kind TENSOR */
} pfw_sequence;

/* (A tensor without a descriptor, as the op tests make, is a plain tensor.) */
static inline bool pfw_is_sequence(const struct pfw_tensor* t) { return t->desc && t->desc->kind == PFW_KIND_SEQUENCE; }
/* Holds something other than a plain tensor value: a sequence or an optional. */
static inline bool pfw_is_value_kind(const struct pfw_tensor* t) {
  return t->desc && (t->desc->kind != PFW_KIND_TENSOR || t->desc->optional);
}

typedef struct pfw_threadpool pfw_threadpool;

/* ---- instruction sets (cpu.c) -------------------------------------------- */
typedef enum pfw_isa { PFW_ISA_SCALAR = 0, PFW_ISA_AVX2 = 1, PFW_ISA_AVX512 = 2, PFW_ISA_NEON = 3 } pfw_isa;
/* "scalar", "avx2", "avx512", "neon". */
const char* pfw_isa_name(pfw_isa isa);
/* Whether this CPU and this build can run kernels of `isa`. */
bool pfw_cpu_supports(pfw_isa isa);
pfw_isa pfw_cpu_best_isa(void);
/* The best level, or the one the PFW_ISA environment variable names; an
 * unknown or unsupported name is an error. */
pfw_status pfw_isa_select(pfw_isa* out);

typedef struct pfw_node {
  const pfw_node_desc* desc;
  const struct pfw_op* op;
  int32_t n_in, n_out;
  pfw_tensor** in;      /* NULL entry = absent optional input */
  pfw_tensor** out;
  void* state;          /* op-private, from prepare; freed with free() */
  size_t scratch_size;  /* bytes of scratch the op asks for at prepare */
  void* scratch;        /* planned in the arena; valid during run */
  pfw_threadpool* pool; /* for pfw_parallel_for; set by the interpreter */
  size_t mem_limit;     /* the interpreter's memory limit (0: none): a prepare whose tables grow with
                         * attribute or shape values refuses to allocate more than this */
  int32_t num_threads;  /* threads of the pool (1 without one) */
  pfw_isa isa;          /* kernel level, chosen at create; scalar = reference */
  bool folded;          /* evaluated while planning; skipped at invoke */
  bool empty;           /* every output has 0 elements: nothing to compute, skipped at invoke */
  bool deferred;        /* prepared at invoke, once its inputs are there (plan.c): its prepare needed
                         * values or shapes the plan does not know, or an input is dynamic */
  bool values_known;    /* during a deferred prepare: every input's data is there to read */
  bool read_values;     /* a deferred prepare read input values: prepare again on every invoke */
  int64_t* seen;        /* a deferred node's input dtypes, ranks and dims at its last prepare */
  void* dyn_scratch;    /* a deferred node's scratch block (scratch is its aligned start) */
  size_t dyn_scratch_cap;
  uint64_t rng_blocks;   /* random ops: generator blocks drawn so far (kept across re-plans, ops/random.c) */
  struct pfw_interpreter* owner; /* the interpreter running this node */
  struct pfw_interpreter* sub[2]; /* subgraphs a prepare created (If's branches, a body), freed with state */
  const pfw_graph_desc* graph; /* for TENSOR attributes (pfw_attr.tensor) */
  const struct pfw_model* model;
} pfw_node;

/* An op. prepare() runs at create and on every re-plan: it checks inputs,
 * attributes and dtypes, sets every output's dtype, rank and dims, may set
 * scratch_size and allocate `state` (free()d by the interpreter before the
 * next prepare and at free). It must not read input data unless the input is
 * constant (in[i]->is_const). run() computes; it must not allocate. */
typedef struct pfw_op {
  uint16_t type;
  pfw_status (*prepare)(pfw_node* node);
  pfw_status (*run)(pfw_node* node);
  uint32_t flags;
} pfw_op;

/* Output 0 may be written over input 0 (same size, element by element). */
#define PFW_OPF_INPLACE 1u
/* The outputs depend only on the inputs' shapes, never their data (Shape,
 * Size): the planner evaluates such a node while planning. */
#define PFW_OPF_SHAPE_ONLY 4u
/* Output 0 has the bytes of input 0 unchanged (Reshape, Flatten, Identity,
 * Squeeze...): the planner may alias them; run() must then skip the copy
 * (check out[0]->data == in[0]->data). */
#define PFW_OPF_ALIAS 2u
/* prepare reads the values of the float inputs after input 0 (Resize's roi
 * and scales): a small float graph input there is fed like a value input. */
#define PFW_OPF_PLAN_FLOATS 8u
/* The outputs' shapes are known only once run() has computed them (If, Loop,
 * Scan): the node is always deferred, and run() sizes each output with
 * pfw_dynamic_output before writing it. */
#define PFW_OPF_RUN_SHAPES 16u
/* The op takes or makes sequences or optionals (sequence ops, Optional*,
 * Identity, If, Loop): other ops refuse them while planning. A node with
 * such an input or output is always deferred. */
#define PFW_OPF_VALUES 32u
/* The outputs differ from run to run (random ops): never evaluated while
 * planning, even when every input is known. */
#define PFW_OPF_RANDOM 64u
/* The op takes or makes STRING tensors (it moves elements as opaque pairs,
 * or reads the strings): other ops refuse them while planning (plan.c). */
#define PFW_OPF_STRINGS 128u

/* A prepare that needs an input's values (or an op whose output shapes come
 * from its run) returns this: the planner then defers the node to invoke, when
 * its inputs are there. Internal: it never reaches a caller of pfw.h. */
#define PFW_DEFER ((pfw_status)100)
/* Whether a prepare may read input `t`'s values: a value known while
 * planning, or any input during a deferred prepare. */
static inline bool pfw_values_known(const pfw_node* node, const struct pfw_tensor* t) {
  return t->is_const || node->values_known;
}
/* Sizes output `j` of a node whose shapes are set at run (PFW_OPF_RUN_SHAPES),
 * growing its heap block when needed (contents kept up to the old size), and
 * sets its dtype and dims. Checks sizes as pfw_set_output does and the
 * interpreter's memory limit. */
pfw_status pfw_dynamic_output(pfw_node* node, int32_t j, pfw_dtype dtype, int32_t rank, const int64_t* dims);

/* ---- sequences and optionals (sequence.c) ------------------------------
 * Sets the sequence in `t` to `count` elements (elements kept up to the old
 * count; new ones empty), growing its element array. */
pfw_status pfw_seq_resize(pfw_tensor* t, int64_t count, size_t limit);
/* Element k of `t` shaped (dtype, rank, dims) with its block sized under
 * `limit` (the sequence's total too); data copied from `src` unless NULL. */
pfw_status pfw_seq_set(pfw_tensor* t, int64_t k, pfw_dtype dtype, int32_t rank, const int64_t* dims,
                       const void* src, size_t limit);
/* dst's value becomes a copy of src's: a tensor (dst a dynamic tensor), a
 * sequence, or no value (an optional). Kinds must agree. */
pfw_status pfw_value_copy(pfw_tensor* dst, const pfw_tensor* src, size_t limit);
/* Frees a sequence's elements and blocks. */
void pfw_seq_free(pfw_tensor* t);
/* Grows a dynamic tensor's heap block to hold `bytes` (its first `keep`
 * bytes kept) under `limit` and points data at it (deferred.c). */
pfw_status pfw_reserve(pfw_tensor* t, size_t bytes, size_t keep, size_t limit);

/* The kernel table (ops/registry.c). NULL when the op has no kernel. */
const pfw_op* pfw_find_op(uint16_t op_type);

/* ---- helpers for ops (util.c) ------------------------------------------ */

const pfw_attr* pfw_attr_find(const pfw_node* node, const char* name);
int64_t pfw_attr_int(const pfw_node* node, const char* name, int64_t dflt);
float pfw_attr_float(const pfw_node* node, const char* name, float dflt);
/* NUL-terminated string value or `dflt`. */
const char* pfw_attr_string(const pfw_node* node, const char* name, const char* dflt);
/* ints of an INTS attribute; *n = -1 and NULL when absent. */
const int64_t* pfw_attr_ints(const pfw_node* node, const char* name, int32_t* n);
const float* pfw_attr_floats(const pfw_node* node, const char* name, int32_t* n);

/* Reads the values of input `i`, an int32 or int64 tensor of at most `max`
 * elements whose data is known while planning (is_const), into out[0..*n).
 * `what` names the input in errors ("starts"). Absent input: *n = -1. */
pfw_status pfw_input_ints(const pfw_node* node, int32_t i, const char* what, int64_t* out, int32_t max,
                          int32_t* n);
/* pfw_input_ints for a float32/float64 input, read as double. */
pfw_status pfw_input_floats(const pfw_node* node, int32_t i, const char* what, double* out, int32_t max,
                            int32_t* n);
/* Constant data of a TENSOR attribute, or NULL when absent. */
const pfw_tensor_desc* pfw_attr_tensor(const pfw_node* node, const char* name);

/* Number of elements of a tensor's current shape. */
int64_t pfw_numel(const pfw_tensor* t);
/* Sets dtype and shape of an output; checks the element count/byte size fit
 * in size_t and int64 and that rank <= PFW_MAX_RANK. */
pfw_status pfw_set_output(pfw_tensor* t, pfw_dtype dtype, int32_t rank, const int64_t* dims);
/* Checks that input `i` is present and has `dtype` (and, if rank >= 0, that
 * rank); the error names the input position, expected and actual values. */
pfw_status pfw_check_input(const pfw_node* node, int32_t i, pfw_dtype dtype, int32_t rank);
/* Numpy/ONNX multidirectional broadcasting of a and b into out_dims. */
pfw_status pfw_broadcast_shape(int32_t ra, const int64_t* a, int32_t rb, const int64_t* b,
                               int32_t* rout, int64_t* out);
/* Normalises an axis in [-rank, rank) to [0, rank); error names `what`. */
pfw_status pfw_norm_axis(int64_t axis, int32_t rank, const char* what, int32_t* out);
/* Overflow-checked a*b for non-negative a and b. */
bool pfw_mul_overflows(int64_t a, int64_t b, int64_t* out);
/* Overflow-checked a+b. */
bool pfw_add_overflows(int64_t a, int64_t b, int64_t* out);
/* Whether dims (zeros counted as ones) times esize pass SIZE_MAX / 2: a
 * tensor with a 0 dim is empty, but its other dims still scale strides and
 * loops, so they must fit as if it were not. */
bool pfw_span_overflows(const int64_t* dims, int32_t rank, size_t esize);

/* ---- threads (threadpool.c) ---------------------------------------------
 * Covers [0, n) with calls fn(ctx, begin, end) on contiguous chunks spread
 * over the pool's threads; returns when all are done. Work must be
 * independent per index so results do not depend on the thread count.
 * A NULL pool runs fn(ctx, 0, n) inline. */
typedef void (*pfw_task_fn)(void* ctx, int64_t begin, int64_t end);
void pfw_parallel_for(pfw_threadpool* pool, int64_t n, pfw_task_fn fn, void* ctx);
pfw_threadpool* pfw_threadpool_create(int32_t num_threads);
void pfw_threadpool_free(pfw_threadpool* pool);
/* Threads that share the work, the caller included (1 for NULL). */
int32_t pfw_threadpool_size(const pfw_threadpool* pool);

#endif /* PFW_INTERNAL_H */
