/*
 * pfw.h - the public C API of libpfw, the pyfw runtime. This header is the
 * whole contract: every binding (Python/cffi, Java/JNI, Go/cgo) is a thin
 * layer over it.
 *
 * Conventions
 *  - Opaque handles; one prefix (pfw_); create/free pairs.
 *  - Every fallible call returns a pfw_status. On failure pfw_last_error()
 *    gives a message naming what was wrong and where.
 *  - Ownership is stated on each call. "Borrowed" pointers stay valid for the
 *    lifetime of the object that returned them unless stated otherwise.
 *    Pointer arguments (paths, names, dims, buffers) are only read or written
 *    during the call; the library keeps no reference to them.
 *  - A failed call allocates nothing for the caller to free. The loaders and
 *    pfw_interpreter_create set *out to NULL on failure; other calls leave
 *    their `out` arguments untouched.
 *  - No callbacks, no varargs.
 *
 * Threading
 *  - A pfw_model is immutable after loading and may be shared read-only by
 *    any number of interpreters on any threads.
 *  - A pfw_interpreter (and the pfw_tensor handles it returns) must be used
 *    by one thread at a time.
 *  - pfw_options are used by one thread at a time; they are copied at
 *    interpreter creation, so sharing them afterwards is safe.
 *  - Functions on no object (version, status/dtype names and sizes) may be
 *    called from any thread at any time.
 *  - pfw_last_error() is per thread: read it on the thread that made the
 *    failed call, before that thread makes another pfw_ call.
 * Each call below names its thread rule as "Threads:" where it adds to these.
 */
#ifndef PFW_H
#define PFW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define PFW_API __declspec(dllexport)
#else
#define PFW_API __attribute__((visibility("default")))
#endif

#define PFW_VERSION_MAJOR 0
#define PFW_VERSION_MINOR 1
#define PFW_VERSION_PATCH 0
#define PFW_VERSION "0.1.0"

/* Highest tensor rank the runtime handles. */
#define PFW_MAX_RANK 8

typedef enum pfw_status {
  PFW_OK = 0,
  PFW_ERR_INVALID_ARGUMENT = 1, /* a caller passed a bad value (NULL, index, size) */
  PFW_ERR_INVALID_MODEL = 2,    /* the model file is malformed or inconsistent */
  PFW_ERR_UNSUPPORTED = 3,      /* valid model, but an op/dtype/attr this build lacks */
  PFW_ERR_OUT_OF_MEMORY = 4,
  PFW_ERR_IO = 5,               /* a file could not be opened, read or mapped */
  PFW_ERR_SHAPE = 6,            /* shapes that do not fit together (inputs or resize) */
  PFW_ERR_NOT_FOUND = 7,        /* a looked-up name or key does not exist */
  PFW_ERR_BACKEND = 8,          /* a requested backend is unavailable or failed */
  PFW_ERR_INTERNAL = 9
} pfw_status;

/* Element types; numbers follow ONNX TensorProto.DataType and schema/pfw.fbs. */
typedef enum pfw_dtype {
  PFW_DTYPE_UNDEFINED = 0,
  PFW_FLOAT32 = 1,
  PFW_UINT8 = 2,
  PFW_INT8 = 3,
  PFW_UINT16 = 4,
  PFW_INT16 = 5,
  PFW_INT32 = 6,
  PFW_INT64 = 7,
  PFW_STRING = 8,
  PFW_BOOL = 9,
  PFW_FLOAT16 = 10,
  PFW_FLOAT64 = 11,
  PFW_UINT32 = 12,
  PFW_UINT64 = 13,
  PFW_BFLOAT16 = 16,
  /* One element per byte, the value in the low bits (4 for INT4, UINT4 and
   * FLOAT4E2M1, 2 for INT2 and UINT2; the rest is ignored on read, 0 on
   * write): the bytes of ml_dtypes' NumPy arrays. */
  PFW_FLOAT8E4M3FN = 17,
  PFW_FLOAT8E4M3FNUZ = 18,
  PFW_FLOAT8E5M2 = 19,
  PFW_FLOAT8E5M2FNUZ = 20,
  PFW_UINT4 = 21,
  PFW_INT4 = 22,
  PFW_FLOAT4E2M1 = 23,
  PFW_FLOAT8E8M0 = 24,
  PFW_UINT2 = 25,
  PFW_INT2 = 26
} pfw_dtype;

/* What a model value holds (schema/pfw.fbs ValueKind). A sequence's dtype
 * and model dims are those of its elements. */
typedef enum pfw_value_kind {
  PFW_KIND_TENSOR = 0,
  PFW_KIND_SEQUENCE = 1 /* ONNX sequence<tensor>: an ordered list of tensors of one dtype */
} pfw_value_kind;

typedef struct pfw_model pfw_model;
typedef struct pfw_options pfw_options;
typedef struct pfw_interpreter pfw_interpreter;
typedef struct pfw_tensor pfw_tensor;

/* ---- library ----------------------------------------------------------- */

/* Version string, e.g. "0.1.0". Static storage; never free. */
PFW_API const char* pfw_version(void);

/* Message of the last failed call on this thread ("" if none). The pointer is
 * borrowed and valid until the next pfw_ call on this thread. */
PFW_API const char* pfw_last_error(void);

/* Name of a status ("PFW_ERR_INVALID_MODEL"). Static storage; never free. */
PFW_API const char* pfw_status_name(pfw_status status);

/* Size in bytes of one element of dtype; 0 for UNDEFINED/unknown. For STRING
 * it is the size of the runtime's (pointer, size) pair per element: the
 * strings themselves are read and set through the calls under "strings". */
PFW_API size_t pfw_dtype_size(pfw_dtype dtype);

/* Name of a dtype as ONNX/NumPy spell it ("float32"). Static storage; never free. */
PFW_API const char* pfw_dtype_name(pfw_dtype dtype);

/* ---- model ------------------------------------------------------------- */

/* Maps the file at `path` read-only and verifies it. On success *out is a new
 * model owned by the caller (free with pfw_model_free). Weights are used in
 * place from the mapping; no copy is made. `path` is borrowed for the call.
 * Threads: any; loads on several threads at once are independent. */
PFW_API pfw_status pfw_model_load_file(const char* path, pfw_model** out);

/* Verifies `size` bytes at `data` and loads them. The bytes are copied into an
 * aligned allocation: the caller keeps ownership of `data` and may free it as
 * soon as this returns. *out is owned by the caller. Threads: any. */
PFW_API pfw_status pfw_model_load_buffer(const void* data, size_t size, pfw_model** out);

/* Frees a model. Interpreters created from it must be freed first.
 * NULL is a no-op. Threads: no other thread may be using the model. */
PFW_API void pfw_model_free(pfw_model* model);

/* Looks up a metadata value by key (`key` borrowed for the call). *value is
 * borrowed from the model (valid until pfw_model_free). PFW_ERR_NOT_FOUND when
 * the key is absent. Threads: any, concurrently with other model readers. */
PFW_API pfw_status pfw_model_get_metadata(const pfw_model* model, const char* key,
                                          const char** value);

/* ---- options ----------------------------------------------------------- */

/* Creates options with defaults (1 thread, "cpu"). Owned by the caller; free
 * with pfw_options_free. Options are copied by pfw_interpreter_create, so they
 * may be freed right after. pfw_options_free(NULL) is a no-op. */
PFW_API pfw_status pfw_options_create(pfw_options** out);
PFW_API void pfw_options_free(pfw_options* options);

/* Number of threads an interpreter uses (>= 1). Results do not depend on it. */
PFW_API pfw_status pfw_options_set_num_threads(pfw_options* options, int32_t num_threads);

/* Backend by name: "cpu", "opencl" or "auto". `name` is copied.
 * "opencl" runs on the OpenCL device (libOpenCL.so.1 is loaded at run time;
 * PFW_OPENCL_LIBRARY names another file, PFW_OPENCL_DEVICE picks a device by
 * index or part of its name, else the first GPU, else the first device) and
 * fails at interpreter creation with PFW_ERR_BACKEND when there is none.
 * Nodes the device cannot run (ops or dtypes it lacks, or a kernel needing
 * larger work-groups than the device gives it; PFW_OPENCL_MAX_WORK_GROUP
 * lowers that limit) run on the CPU, with
 * tensors copied across only where a value crosses. "auto" uses OpenCL when
 * a GPU (or the device PFW_OPENCL_DEVICE names) is there, else the CPU; see
 * pfw_interpreter_backend_info for which and why. Compiled kernels are cached
 * in PFW_OPENCL_CACHE, else $XDG_CACHE_HOME/pyfw/opencl or ~/.cache/pyfw/opencl. */
PFW_API pfw_status pfw_options_set_backend(pfw_options* options, const char* name);

/* Most bytes an interpreter may plan: the activation arena (with node
 * scratch), the graph inputs' buffers and the values computed while planning,
 * together. A model or an input shape that needs more is refused with
 * PFW_ERR_UNSUPPORTED before any allocation. Tensors whose shapes are known
 * only at invoke (outputs of If, Loop and Scan, and of nodes whose shapes
 * come from computed values) are each held under the same limit as they are
 * sized, and so is each interpreter a subgraph runs in. 0 (the default) means
 * the machine's physical memory. */
PFW_API pfw_status pfw_options_set_arena_limit(pfw_options* options, uint64_t bytes);

/* Most times one invoke may run Loop and Scan bodies, all such nodes
 * together, nested ones included. An invoke that would run more fails with
 * PFW_ERR_UNSUPPORTED and a message naming the node, instead of running on:
 * for apps that run untrusted models, whose trip counts, conditions and
 * nesting come from the file. 0 (the default) means no limit, as ONNX
 * specifies. */
PFW_API pfw_status pfw_options_set_loop_limit(pfw_options* options, int64_t max_iterations);

/* Seed of the random ops (RandomUniform, RandomNormal, their -Like forms,
 * Multinomial, Bernoulli, Dropout in training mode) that have no `seed`
 * attribute of their own; 0 by default. Each such node draws its own stream
 * from this seed and its place in the model; every invoke continues it, so
 * runs differ from each other and an interpreter created with the same seed
 * repeats them. Values do not depend on the thread count. */
PFW_API pfw_status pfw_options_set_seed(pfw_options* options, uint64_t seed);

/* ---- interpreter ------------------------------------------------------- */

/* Creates an interpreter for graph 0 of `model`: infers shapes, chooses a
 * kernel for every node and plans memory. `options` may be NULL (defaults)
 * and is not retained. `model` is borrowed and must outlive the interpreter.
 * *out is owned by the caller; free with pfw_interpreter_free. A node whose op
 * has no kernel fails with PFW_ERR_UNSUPPORTED naming the node and op; shapes
 * the model fixes that do not fit together fail with PFW_ERR_INVALID_MODEL.
 * Dynamic dimensions start at 1. When the model only fits other values of
 * them (e.g. a Reshape needing a batch that divides by 5), or needs the values
 * of inputs to know its shapes, creation succeeds and planning waits for the
 * inputs (resize, copy, then allocate or invoke).
 * Threads: any; many threads may create interpreters from one model at once. */
PFW_API pfw_status pfw_interpreter_create(const pfw_model* model, const pfw_options* options,
                                          pfw_interpreter** out);

/* Frees an interpreter and every pfw_tensor it handed out. NULL is a no-op.
 * Threads: not while another thread uses the interpreter or its tensors. */
PFW_API void pfw_interpreter_free(pfw_interpreter* interpreter);

/* Number of graph inputs / outputs (0 for NULL). Plain values; nothing to free.
 * Threads: these and every call below on an interpreter or its tensors follow
 * the one-thread-at-a-time rule of that interpreter; different interpreters
 * run in parallel. */
PFW_API int32_t pfw_interpreter_input_count(const pfw_interpreter* interpreter);
PFW_API int32_t pfw_interpreter_output_count(const pfw_interpreter* interpreter);

/* Input/output tensor handles by position. *out is borrowed from the
 * interpreter (valid until pfw_interpreter_free). */
PFW_API pfw_status pfw_interpreter_get_input(pfw_interpreter* interpreter, int32_t index,
                                             pfw_tensor** out);
PFW_API pfw_status pfw_interpreter_get_output(pfw_interpreter* interpreter, int32_t index,
                                              pfw_tensor** out);

/* Sets the shape of input `index` to `dims[0..rank)` (borrowed for the call).
 * Dimensions the model fixes must keep their value (PFW_ERR_SHAPE otherwise);
 * dynamic ones (-1 in the model) may take any value >= 0. The input's data
 * pointer is valid at once (its old contents are lost); other tensors' data
 * becomes available after the next pfw_interpreter_allocate or invoke. */
PFW_API pfw_status pfw_interpreter_resize_input(pfw_interpreter* interpreter, int32_t index,
                                                const int64_t* dims, int32_t rank);

/* Infers shapes and plans memory for the current input shapes (and the values
 * of small integer inputs that feed shapes, such as a Reshape target given as
 * an input). A no-op when nothing changed; invoke calls it when needed, so it
 * is only required to read output shapes before running. When the shapes do
 * not fit the model it fails with PFW_ERR_SHAPE naming the node. Input data
 * is kept. */
PFW_API pfw_status pfw_interpreter_allocate(pfw_interpreter* interpreter);

/* Runs the graph, planning first if input shapes (or shape-feeding input
 * values) changed since the last run; otherwise performs no allocation.
 * Outputs are valid until the next invoke or resize. */
PFW_API pfw_status pfw_interpreter_invoke(pfw_interpreter* interpreter);

/* Bytes of the interpreter's activation arena (for tests and tools); 0 for NULL. */
PFW_API size_t pfw_interpreter_arena_size(const pfw_interpreter* interpreter);

/* The backend this interpreter runs on: "cpu" or "opencl" ("" for NULL).
 * Borrowed static string. */
PFW_API const char* pfw_interpreter_backend(const pfw_interpreter* interpreter);

/* One line about it, borrowed from the interpreter (valid until the next
 * allocate, invoke or free): the device and how many nodes run there, or,
 * for "auto" on the CPU, why ("" for NULL). */
PFW_API const char* pfw_interpreter_backend_info(const pfw_interpreter* interpreter);

/* Where node `index` (graph order) runs: "cpu", "opencl", or "plan" for a
 * node computed while planning. *name is a borrowed static string. */
PFW_API pfw_status pfw_interpreter_node_backend(const pfw_interpreter* interpreter, int32_t index,
                                                const char** name);

/* ---- profiling --------------------------------------------------------- */

/* Per-node timing of invoke. enable != 0 turns it on and resets every counter
 * to zero; 0 turns it off and keeps the counters for reading. While off,
 * invoke reads no clock. Each node run by invoke adds one call and its wall
 * time (CLOCK_MONOTONIC); planning is not counted. */
PFW_API pfw_status pfw_interpreter_set_profiling(pfw_interpreter* interpreter, int32_t enable);

/* Number of profile entries: one per graph node, in graph order (the same
 * whether or not profiling was ever enabled). */
PFW_API pfw_status pfw_interpreter_profile_count(const pfw_interpreter* interpreter, int32_t* count);

/* Entry `index` (0 <= index < count): the node's op type ("Conv", a custom
 * op's name) and node name ("" if unnamed), both borrowed from the model
 * (valid until pfw_model_free); the number of runs and their total time in
 * milliseconds since profiling was last enabled (0 when never enabled).
 * Nodes whose inputs are all constant are computed while planning and show
 * 0 calls. Every pointer argument must be non-NULL; out-of-range index is
 * PFW_ERR_INVALID_ARGUMENT. */
PFW_API pfw_status pfw_interpreter_profile_entry(const pfw_interpreter* interpreter, int32_t index,
                                                 const char** op_type, const char** node_name,
                                                 int64_t* calls, double* total_ms);

/* Copies between host and device made by invoke while profiling (the
 * OpenCL backend; all 0 on the CPU): their number, bytes and total
 * milliseconds since profiling was last enabled. Device nodes' profile
 * entries hold their kernels' time (invoke waits for each node while
 * profiling); these copies are not in any node's entry. Every pointer
 * argument must be non-NULL. */
PFW_API pfw_status pfw_interpreter_profile_transfers(const pfw_interpreter* interpreter, int64_t* count,
                                                     int64_t* bytes, double* total_ms);

/* ---- tensors (borrowed handles from an interpreter) -------------------- */

/* Name; borrowed, valid as long as the model ("" for NULL). The queries below
 * return plain values (UNDEFINED, 0 or -1 for NULL); nothing to free. */
PFW_API const char* pfw_tensor_name(const pfw_tensor* tensor);
PFW_API pfw_dtype pfw_tensor_dtype(const pfw_tensor* tensor);
/* Current rank and dimensions (after any resize). dim() returns -1 for an
 * out-of-range index. */
PFW_API int32_t pfw_tensor_rank(const pfw_tensor* tensor);
PFW_API int64_t pfw_tensor_dim(const pfw_tensor* tensor, int32_t index);
/* Rank as the model declares it: -1 where it leaves the rank open (the
 * elements of a sequence that may differ in rank). */
PFW_API int32_t pfw_tensor_model_rank(const pfw_tensor* tensor);
/* Dimension as the model declares it: -1 marks a dynamic dimension. */
PFW_API int64_t pfw_tensor_model_dim(const pfw_tensor* tensor, int32_t index);
/* Number of elements and bytes of the current shape. */
PFW_API int64_t pfw_tensor_element_count(const pfw_tensor* tensor);
PFW_API size_t pfw_tensor_byte_size(const pfw_tensor* tensor);

/* Pointer to the tensor's data, borrowed from the interpreter; valid until the
 * next resize or pfw_interpreter_free. NULL for a non-input tensor while a
 * plan is pending (after a resize, before allocate/invoke). Read-only for
 * outputs and constants. */
PFW_API const void* pfw_tensor_data(const pfw_tensor* tensor);

/* Copies exactly pfw_tensor_byte_size() bytes from `src` (borrowed for the
 * call; the caller keeps it) into an input tensor.
 * `size` must equal that byte size (PFW_ERR_SHAPE otherwise). */
PFW_API pfw_status pfw_tensor_copy_from_buffer(pfw_tensor* tensor, const void* src, size_t size);

/* Copies the tensor's bytes to `dst` (caller-owned, written during the call);
 * `size` must equal pfw_tensor_byte_size(). Copying out of a non-input tensor
 * fails with PFW_ERR_INVALID_ARGUMENT while a plan is pending. */
PFW_API pfw_status pfw_tensor_copy_to_buffer(const pfw_tensor* tensor, void* dst, size_t size);

/* ---- strings -------------------------------------------------------------
 * A PFW_STRING tensor's elements are byte strings (UTF-8 by ONNX's
 * convention; any bytes, NUL included, are kept). They are read and written
 * with the two calls below, not as bytes: pfw_tensor_copy_from_buffer and
 * pfw_tensor_copy_to_buffer refuse them, and pfw_tensor_data points at the
 * runtime's own (pointer, size) pairs, which callers must not write. */

/* Sets all pfw_tensor_element_count() strings of an input: string i is
 * sizes[i] bytes at data[i], or, with sizes NULL, the NUL-terminated data[i]
 * (NULL: the empty string). Everything is copied; the caller keeps its
 * arrays. count must equal the element count (PFW_ERR_SHAPE otherwise). */
PFW_API pfw_status pfw_tensor_set_strings(pfw_tensor* tensor, const char* const* data, const size_t* sizes,
                                          int64_t count);
/* String `index` (row-major) of a STRING tensor: *data and *size borrow the
 * interpreter's bytes, which are not NUL-terminated. They stay valid until
 * the next pfw_interpreter_invoke or resize, the next pfw_tensor_set_strings
 * on the input they came from, or pfw_interpreter_free. */
PFW_API pfw_status pfw_tensor_get_string(const pfw_tensor* tensor, int64_t index, const char** data, size_t* size);
/* All strings at once: pfw_tensor_strings_size gives their total bytes;
 * pfw_tensor_copy_strings writes them back to back into dst (caller-owned,
 * dst_size bytes, at least that total) and each one's end offset into
 * ends[count] (count = the element count; string i is [ends[i-1], ends[i])). */
PFW_API pfw_status pfw_tensor_strings_size(const pfw_tensor* tensor, size_t* size);
PFW_API pfw_status pfw_tensor_copy_strings(const pfw_tensor* tensor, char* dst, size_t dst_size, uint64_t* ends,
                                           int64_t count);

/* ---- sequences and optionals -------------------------------------------
 * An input or output may be an ONNX sequence (pfw_tensor_kind() says
 * PFW_KIND_SEQUENCE): it holds no data of its own, only elements, each a
 * tensor. Any value may be an ONNX optional (pfw_tensor_is_optional()): at
 * run time it may hold no value. */

/* Kind and optionality as the model declares them (TENSOR, 0 for NULL). */
PFW_API pfw_value_kind pfw_tensor_kind(const pfw_tensor* tensor);
PFW_API int32_t pfw_tensor_is_optional(const pfw_tensor* tensor);
/* 1 when the value is there, 0 for an optional holding no value (or NULL). */
PFW_API int32_t pfw_tensor_has_value(const pfw_tensor* tensor);
/* Makes an optional input hold no value (has_value 0) or a value again (1:
 * a sequence input then starts empty). PFW_ERR_INVALID_ARGUMENT for an input
 * the model does not declare optional, or a tensor that is not an input. */
PFW_API pfw_status pfw_tensor_set_has_value(pfw_tensor* tensor, int32_t has_value);

/* Number of elements of a sequence (after invoke for an output). */
PFW_API pfw_status pfw_tensor_sequence_length(const pfw_tensor* sequence, int64_t* length);
/* Element `index` (0-based) of a sequence: a borrowed, read-only tensor
 * handle for the pfw_tensor_* queries above (dtype, dims, data,
 * copy_to_buffer), valid until the sequence next changes (the next invoke,
 * or a clear/append on an input) or pfw_interpreter_free. */
PFW_API pfw_status pfw_tensor_sequence_item(const pfw_tensor* sequence, int64_t index, const pfw_tensor** item);
/* Empties a sequence input (and gives an optional one a value). */
PFW_API pfw_status pfw_tensor_sequence_clear(pfw_tensor* sequence);
/* Appends a copy of `size` bytes at `data` (borrowed for the call) as a new
 * element of shape dims[0..rank) to a sequence input. dtype must be the
 * sequence's, dims must fit what the model declares for its elements, and
 * size must be their byte size (PFW_ERR_SHAPE otherwise). */
PFW_API pfw_status pfw_tensor_sequence_append(pfw_tensor* sequence, pfw_dtype dtype, const int64_t* dims,
                                              int32_t rank, const void* data, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* PFW_H */
