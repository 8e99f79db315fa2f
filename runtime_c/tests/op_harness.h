/* Builds single-op nodes by hand for the op unit tests: tensors, attributes,
 * prepare + run through the registry, outputs allocated from the nbytes that
 * prepare computed. */
#ifndef PFW_OP_HARNESS_H
#define PFW_OP_HARNESS_H

#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "test_util.h"

#define H_MAX_IO 10
#define H_MAX_ATTRS 12
#define H_MAX_OUT 4

typedef struct tnode {
  pfw_node node;
  pfw_node_desc desc;
  pfw_tensor tin[H_MAX_IO], tout[H_MAX_OUT];
  pfw_tensor* pin[H_MAX_IO];
  pfw_tensor* pout[H_MAX_OUT];
  pfw_attr attrs[H_MAX_ATTRS];
  int64_t ints[H_MAX_ATTRS][16];
} tnode;

static inline void tn_init(tnode* t, uint16_t op, int32_t version) {
  memset(t, 0, sizeof *t);
  t->desc.op = op;
  t->desc.name = "test";
  t->desc.version = version;
  t->desc.attrs = t->attrs;
  t->node.desc = &t->desc;
  t->node.in = t->pin;
  t->node.out = t->pout;
  t->node.n_out = 1;
  t->pout[0] = &t->tout[0];
  t->tout[0].index = -1;
}

/* Appends input `data` of dtype/shape (NULL data = absent optional input). */
static inline pfw_tensor* tn_in(tnode* t, pfw_dtype dt, const void* data, int32_t rank, const int64_t* dims) {
  int32_t i = t->node.n_in++;
  if (!data && rank < 0) {
    t->pin[i] = NULL;
    return NULL;
  }
  pfw_tensor* x = &t->tin[i];
  x->index = i;
  x->dtype = dt;
  x->rank = rank;
  int64_t n = 1;
  for (int32_t k = 0; k < rank; k++) {
    x->dims[k] = dims[k];
    n *= dims[k];
  }
  x->data = (void*)data;
  x->nbytes = (size_t)n * pfw_dtype_size(dt);
  t->pin[i] = x;
  return x;
}
#define DIMS(...) (int32_t)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__}
#define F32(t, data, ...) tn_in((t), PFW_FLOAT32, (data), DIMS(__VA_ARGS__))
#define SH(...) DIMS(__VA_ARGS__) /* a (rank, dims) argument pair */
#define ABSENT(t) tn_in((t), PFW_DTYPE_UNDEFINED, NULL, -1, NULL)

static inline pfw_attr* tn_attr(tnode* t, const char* name, pfw_attr_type type) {
  pfw_attr* a = &t->attrs[t->desc.n_attrs];
  a->name = name;
  a->type = type;
  a->ints = t->ints[t->desc.n_attrs];
  t->desc.n_attrs++;
  return a;
}
static inline void tn_int(tnode* t, const char* name, int64_t v) { tn_attr(t, name, PFW_ATTR_INT)->i = v; }
static inline void tn_float(tnode* t, const char* name, float v) { tn_attr(t, name, PFW_ATTR_FLOAT)->f = v; }
static inline void tn_str(tnode* t, const char* name, const char* s) {
  pfw_attr* a = tn_attr(t, name, PFW_ATTR_STRING);
  a->s = (const uint8_t*)s;
  a->s_len = (int32_t)strlen(s);
}
static inline void tn_ints(tnode* t, const char* name, int32_t n, const int64_t* v) {
  pfw_attr* a = tn_attr(t, name, PFW_ATTR_INTS);
  a->n = n;
  memcpy(a->ints, v, sizeof(int64_t) * (size_t)n);
}
#define INTS(t, name, ...) tn_ints((t), (name), DIMS(__VA_ARGS__))

/* prepare through the registry. */
static inline pfw_status tn_prepare(tnode* t) {
  const pfw_op* op = pfw_find_op(t->desc.op);
  if (!op) return pfw_error(PFW_ERR_UNSUPPORTED, "no kernel");
  t->node.op = op;
  t->desc.n_inputs = t->node.n_in;
  t->desc.n_outputs = t->node.n_out;
  return op->prepare(&t->node);
}

/* Allocates outputs and scratch, runs, frees the scratch and state. The
 * output data stays in t->tout[0].data (free with tn_free). */
static inline pfw_status tn_run(tnode* t) {
  for (int32_t j = 0; j < t->node.n_out; j++)
    if (t->pout[j] && !t->pout[j]->data) t->pout[j]->data = malloc(t->pout[j]->nbytes + 1);
  t->node.scratch = t->node.scratch_size ? malloc(t->node.scratch_size) : NULL;
  pfw_status st = t->node.op->run(&t->node);
  free(t->node.scratch);
  t->node.scratch = NULL;
  return st;
}

static inline void tn_free(tnode* t) {
  free(t->node.state);
  t->node.state = NULL;
  for (int32_t j = 0; j < H_MAX_OUT; j++) {
    free(t->tout[j].data);
    t->tout[j].data = NULL;
  }
}

/* prepare + run; returns the first non-OK status. */
static inline pfw_status tn_exec(tnode* t) {
  pfw_status st = tn_prepare(t);
  return st != PFW_OK ? st : tn_run(t);
}

#define CHECK_SHAPE(tensor, ...)                                                   \
  do {                                                                             \
    int64_t want_[] = {__VA_ARGS__};                                               \
    int32_t r_ = (int32_t)(sizeof want_ / sizeof want_[0]);                        \
    CHECK((tensor)->rank == r_ && memcmp((tensor)->dims, want_, sizeof want_) == 0); \
  } while (0)

/* Deterministic values in [-1, 1). */
static uint64_t h_seed = 88172645463325252ull;
static inline float urand(void) {
  h_seed ^= h_seed << 13;
  h_seed ^= h_seed >> 7;
  h_seed ^= h_seed << 17;
  return (float)((h_seed >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}
static inline float* frand(int64_t n) {
  float* p = malloc(sizeof(float) * (size_t)(n ? n : 1));
  for (int64_t i = 0; i < n; i++) p[i] = urand();
  return p;
}

#endif
