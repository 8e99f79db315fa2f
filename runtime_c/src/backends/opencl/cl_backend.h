/* The OpenCL backend inside libpfw: the process-wide device (cl_device.c),
 * the kernels (cl_kernels.c), the per-interpreter state and memory
 * (cl_backend.c) and the ops it runs (cl_ops.c, cl_ops_nn.c). The
 * interpreter reaches it through ../../backend.h only. */
#ifndef PFW_CL_BACKEND_H
#define PFW_CL_BACKEND_H

#include "../../backend.h"
#include "cl_api.h"

#define PFW_CL_BUILD_OPTIONS ""

typedef struct pfw_cl_device {
  pfw_cl_api api;
  void* lib;
  cl_platform_id platform;
  cl_device_id device;
  cl_context context;
  cl_program program;
  bool is_gpu;
  bool explicit_choice; /* PFW_OPENCL_DEVICE named it */
  bool program_cached;  /* the program came from the disk cache */
  size_t max_work_group;
  cl_ulong max_alloc;
  char name[128], driver[128], version[128], platform_version[128];
} pfw_cl_device;

/* Opens the device once per process; later calls return the same device or
 * the same error (PFW_ERR_BACKEND naming what is missing). */
pfw_status pfw_cl_device_open(const pfw_cl_device** out);
/* The program's sources, NULL-terminated. */
const char* const* pfw_cl_sources(void);

/* Where a tensor's bytes are on the device. */
typedef struct pfw_cl_loc {
  cl_mem mem;
  size_t off; /* bytes */
} pfw_cl_loc;

/* One enqueue of a node: a kernel over `global` (rounded up to `local`
 * where given), or, without a kernel, a buffer copy. */
typedef struct pfw_cl_launch {
  cl_kernel kernel;
  cl_uint dims;
  size_t global[3], local[3];
  bool has_local;
  pfw_cl_loc src, dst;
  size_t bytes;
} pfw_cl_launch;

typedef struct pfw_cl_node {
  bool claimed;
  int32_t n_launch;
  pfw_cl_launch* launch;
} pfw_cl_node;

typedef struct pfw_cl_state pfw_cl_state;

/* What an op's setup sees: the node, the device locations of its tensors
 * and a place for its launches. Arguments are added in kernel order; the
 * first failure is kept in err and reported once. */
typedef struct pfw_cl_setup {
  pfw_cl_state* s;
  const pfw_node* node;
  pfw_cl_node* cn;
  cl_kernel k;  /* the launch being built */
  cl_uint arg;
  cl_int err;
  bool too_far; /* a tensor reaches past int element offsets: the CPU runs the node */
} pfw_cl_setup;

/* Adds a launch of kernel `name` with `dims` global sizes; arguments follow. */
pfw_status pfw_cl_launch_add(pfw_cl_setup* c, const char* name, cl_uint dims, const size_t* global,
                             const size_t* local);
/* Adds a buffer copy of `bytes` between two tensors' locations (+ byte offsets). */
pfw_status pfw_cl_copy_add(pfw_cl_setup* c, const pfw_tensor* src, const pfw_tensor* dst, size_t bytes);
/* Kernel arguments: a tensor as (buffer, element offset); NULL = absent. */
void pfw_cl_arg_tensor(pfw_cl_setup* c, const pfw_tensor* t);
/* The same, `elems` elements further in. */
void pfw_cl_arg_tensor_at(pfw_cl_setup* c, const pfw_tensor* t, int64_t elems);
void pfw_cl_arg_int(pfw_cl_setup* c, int64_t v);
void pfw_cl_arg_float(pfw_cl_setup* c, float v);
/* An int4 (n = 4) or int8 (n = 8) vector argument. */
void pfw_cl_arg_ints(pfw_cl_setup* c, const int32_t* v, int n);
/* Whether two tensors occupy the same device bytes (an aliased view). */
bool pfw_cl_same_place(pfw_cl_setup* c, const pfw_tensor* a, const pfw_tensor* b);
/* Whether a node claimed earlier in this plan writes `t`. */
bool pfw_cl_made_on_device(const pfw_cl_setup* c, const pfw_tensor* t);

/* What every op's setup asks first: float32, an element count the kernels'
 * int indices reach, and no optional outputs (Indices, Mean...) wanted. */
static inline bool pfw_cl_f32(const pfw_tensor* t) { return t && t->dtype == PFW_FLOAT32; }
static inline bool pfw_cl_fits(const pfw_tensor* t) { return t && pfw_numel(t) > 0 && pfw_numel(t) < INT32_MAX; }
static inline bool pfw_cl_one_output(const pfw_node* n) {
  for (int32_t j = 1; j < n->n_out; j++)
    if (n->out[j]) return false;
  return n->n_out >= 1 && n->out[0];
}

/* Sets up node c->node on the device: PFW_OK with launches added, or
 * PFW_ERR_UNSUPPORTED (no error message) when the CPU must run it. */
pfw_status pfw_cl_setup_node(pfw_cl_setup* c);
/* The op families' parts of it (cl_ops_nn.c). */
pfw_status pfw_cl_setup_conv(pfw_cl_setup* c);
pfw_status pfw_cl_setup_pool(pfw_cl_setup* c);
pfw_status pfw_cl_setup_gemm(pfw_cl_setup* c);
pfw_status pfw_cl_setup_norm(pfw_cl_setup* c);

#endif
