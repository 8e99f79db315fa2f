/* libFuzzer target: one .pfw file from the fuzzer's bytes through the whole
 * public path a model from an app or the network takes -- load (verify),
 * interpreter create (shape inference, kernel choice, planning), inputs
 * sized from the model and filled, invoke, outputs read back.
 *
 * Every outcome but a crash, a sanitizer report, a leak or a hang is fine:
 * a refused file must return a status and a message. The limits below keep
 * legitimate-but-huge models from reading as out-of-memory or timeouts
 * (they are refused by the library's own arena limit, the cap users set). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pfw.h"

enum {
  ARENA_LIMIT = 32 << 20,     /* bytes an interpreter may plan: bigger legitimate models only run slowly */
  LOOP_LIMIT = 256            /* Loop/Scan body runs per invoke: trip counts and nesting from the file are no hang (each run re-invokes a body under the sanitizers) */
};

/* Inputs larger than this are left unfed (invoke is skipped). Campaigns use
 * 16 Ki elements: 1 Mi-element feeds took three quarters of the run time, in
 * kernel loops under comparison tracing, reaching no new code, and a 30 K
 * feed used as a ConvTranspose weight is 9e8 legitimate multiply-adds (24 s
 * under the sanitizers). The crash corpus is replayed with
 * PFW_FUZZ_MAX_INPUT_ELEMENTS=1048576, the size its inputs were found at. */
static int64_t max_input_elements = 1 << 14;

int LLVMFuzzerInitialize(int* argc, char*** argv);

int LLVMFuzzerInitialize(int* argc, char*** argv) {
  const char* env = getenv("PFW_FUZZ_MAX_INPUT_ELEMENTS");
  if (env && atoll(env) > 0) max_input_elements = atoll(env);
  return 0;
}

/* Refusals must come with a message. */
static void check_message(pfw_status st) {
  if (st == PFW_OK) return;
  const char* msg = pfw_last_error();
  if (!msg || !*msg) abort();
}

/* Deterministic small values: floats in [-2, 2), integers in [-3, 4], so
 * index- and shape-like inputs hit both valid and invalid values. */
static void fill(void* data, size_t nbytes, pfw_dtype dtype, uint64_t seed) {
  uint8_t* p = data;
  size_t esize = pfw_dtype_size(dtype);
  for (size_t i = 0; i + esize <= nbytes; i += esize) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    int32_t small = (int32_t)(seed >> 61) - 3;
    switch (dtype) {
      case PFW_FLOAT32: {
        float v = (float)(seed >> 40) / (float)(1 << 22) - 2.0f;
        memcpy(p + i, &v, 4);
        break;
      }
      case PFW_FLOAT64: {
        double v = (double)(seed >> 40) / (double)(1 << 22) - 2.0;
        memcpy(p + i, &v, 8);
        break;
      }
      case PFW_FLOAT16:
      case PFW_BFLOAT16: {
        uint16_t v = (uint16_t)(dtype == PFW_FLOAT16 ? 0x3c00 : 0x3f80) ^ (uint16_t)(seed >> 60);
        memcpy(p + i, &v, 2);
        break;
      }
      case PFW_BOOL:
        p[i] = (uint8_t)(seed >> 63);
        break;
      default: { /* integers: the low bytes of a small two's-complement value */
        int64_t v = small;
        memcpy(p + i, &v, esize);
        break;
      }
    }
  }
}

/* String inputs: short texts with the things string ops look at --
 * whitespace, delimiters, case, multi-byte and invalid UTF-8, NUL. */
static const char* const texts[] = {"", "a", "Hello World", " x  y ", "a,b,,c", "\xc3\xa9t\xc3\xa9", "\xff\xfe",
                                    "MONDAY", "www.example.com", "a\0b"};
static const size_t text_sizes[] = {0, 1, 11, 6, 6, 6, 2, 6, 15, 3};

static int feed_strings(pfw_tensor* t, uint64_t seed) {
  int64_t count = pfw_tensor_element_count(t);
  if (count < 0 || count > max_input_elements) return -1;
  const char** data = malloc(((size_t)count + 1) * sizeof *data);
  size_t* sizes = malloc(((size_t)count + 1) * sizeof *sizes);
  int rc = -1;
  if (data && sizes) {
    for (int64_t k = 0; k < count; k++) {
      size_t pick = (size_t)((seed + (uint64_t)k * 7) % (sizeof texts / sizeof *texts));
      data[k] = texts[pick];
      sizes[k] = text_sizes[pick];
    }
    pfw_status st = pfw_tensor_set_strings(t, data, sizes, count);
    check_message(st);
    rc = st == PFW_OK ? 0 : -1;
  }
  free(data);
  free(sizes);
  return rc;
}

/* A sequence input gets 0 to 2 elements shaped as the model declares them
 * (open dims 2, an open rank 1); an optional one no value now and then. */
static int feed_sequence(pfw_tensor* t, uint64_t seed) {
  pfw_dtype dtype = pfw_tensor_dtype(t);
  int32_t rank = pfw_tensor_model_rank(t) < 0 ? 1 : pfw_tensor_model_rank(t);
  int64_t dims[PFW_MAX_RANK], count = 1;
  for (int32_t d = 0; d < rank; d++) {
    dims[d] = pfw_tensor_model_dim(t, d) < 0 ? 2 : pfw_tensor_model_dim(t, d);
    if (dims[d] > max_input_elements || (count *= dims[d]) > max_input_elements) return -1;
  }
  check_message(pfw_tensor_sequence_clear(t));
  size_t nbytes = (size_t)count * pfw_dtype_size(dtype);
  void* buf = malloc(nbytes ? nbytes : 1);
  if (!buf) return -1;
  for (uint64_t k = 0; k < seed % 3; k++) {
    fill(buf, nbytes, dtype, seed + k);
    pfw_status st = pfw_tensor_sequence_append(t, dtype, dims, rank, buf, nbytes);
    check_message(st);
    if (st != PFW_OK) break;
  }
  free(buf);
  return 0;
}

/* 0 when every input could be sized and filled, so invoke is worth a try. */
static int feed_inputs(pfw_interpreter* it, uint64_t seed) {
  int32_t n = pfw_interpreter_input_count(it);
  for (int32_t i = 0; i < n; i++) {
    pfw_tensor* t = NULL;
    pfw_status st = pfw_interpreter_get_input(it, i, &t);
    check_message(st);
    if (st != PFW_OK) return -1;
    pfw_dtype dtype = pfw_tensor_dtype(t);
    if (pfw_dtype_size(dtype) == 0) return -1;
    if (pfw_tensor_is_optional(t) && (seed + (uint64_t)i) % 4 == 0) {
      check_message(pfw_tensor_set_has_value(t, 0));
      continue;
    }
    if (dtype == PFW_STRING) { /* strings are set as strings, never as bytes (a sequence of them not at all) */
      if (pfw_tensor_kind(t) == PFW_KIND_SEQUENCE || feed_strings(t, seed + (uint64_t)i) != 0) return -1;
      continue;
    }
    if (pfw_tensor_kind(t) == PFW_KIND_SEQUENCE) {
      if (feed_sequence(t, seed + (uint64_t)i) != 0) return -1;
      continue;
    }
    int64_t count = pfw_tensor_element_count(t);
    if (count < 0 || count > max_input_elements) return -1;
    size_t nbytes = pfw_tensor_byte_size(t);
    void* buf = malloc(nbytes ? nbytes : 1);
    if (!buf) return -1;
    fill(buf, nbytes, dtype, seed + (uint64_t)i);
    st = pfw_tensor_copy_from_buffer(t, buf, nbytes);
    free(buf);
    check_message(st);
    if (st != PFW_OK) return -1;
  }
  return 0;
}

/* Reads every byte of every string, so a dangling one is a sanitizer report. */
static volatile uint8_t sink;
static void read_strings(const pfw_tensor* t) {
  int64_t n = pfw_tensor_element_count(t);
  for (int64_t k = 0; k < n; k++) {
    const char* data = NULL;
    size_t size = 0;
    pfw_status st = pfw_tensor_get_string(t, k, &data, &size);
    check_message(st);
    if (st != PFW_OK) return;
    for (size_t b = 0; b < size; b++) sink ^= (uint8_t)data[b];
  }
  size_t total = 0; /* and all at once, as the bindings read them */
  pfw_status st = pfw_tensor_strings_size(t, &total);
  check_message(st);
  if (st != PFW_OK || total > ARENA_LIMIT) return;
  char* buf = malloc(total ? total : 1);
  uint64_t* ends = malloc(((size_t)n + 1) * sizeof *ends);
  if (buf && ends) check_message(pfw_tensor_copy_strings(t, buf, total, ends, n));
  free(buf);
  free(ends);
}

static void read_tensor(const pfw_tensor* t) {
  for (int32_t d = 0; d < pfw_tensor_rank(t); d++) (void)pfw_tensor_dim(t, d);
  if (pfw_tensor_dtype(t) == PFW_STRING) {
    read_strings(t);
    return;
  }
  size_t nbytes = pfw_tensor_byte_size(t);
  if (pfw_dtype_size(pfw_tensor_dtype(t)) == 0 || nbytes > ARENA_LIMIT) return;
  void* buf = malloc(nbytes ? nbytes : 1);
  if (!buf) return;
  check_message(pfw_tensor_copy_to_buffer(t, buf, nbytes));
  free(buf);
}

static void read_outputs(pfw_interpreter* it) {
  int32_t n = pfw_interpreter_output_count(it);
  for (int32_t i = 0; i < n; i++) {
    pfw_tensor* t = NULL;
    pfw_status st = pfw_interpreter_get_output(it, i, &t);
    check_message(st);
    if (st != PFW_OK || !pfw_tensor_has_value(t)) continue;
    if (pfw_tensor_kind(t) != PFW_KIND_SEQUENCE) {
      read_tensor(t);
      continue;
    }
    int64_t len = 0;
    check_message(pfw_tensor_sequence_length(t, &len));
    for (int64_t k = 0; k < len; k++) {
      const pfw_tensor* item = NULL;
      st = pfw_tensor_sequence_item(t, k, &item);
      check_message(st);
      if (st == PFW_OK) read_tensor(item);
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pfw_model* model = NULL;
  pfw_status st = pfw_model_load_buffer(data, size, &model);
  check_message(st);
  if (st != PFW_OK) return 0;
  pfw_options* options = NULL;
  if (pfw_options_create(&options) != PFW_OK) abort();
  pfw_options_set_arena_limit(options, ARENA_LIMIT);
  pfw_options_set_loop_limit(options, LOOP_LIMIT);
  pfw_interpreter* it = NULL;
  st = pfw_interpreter_create(model, options, &it);
  pfw_options_free(options);
  check_message(st);
  if (st == PFW_OK) {
    if (feed_inputs(it, size) == 0) {
      st = pfw_interpreter_invoke(it);
      check_message(st);
      if (st == PFW_OK) read_outputs(it);
    }
    pfw_interpreter_free(it);
  }
  pfw_model_free(model);
  return 0;
}
