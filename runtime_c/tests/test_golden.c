/* Runs every model of the golden manifest (tests/golden/generate.py) and
 * compares each output with ONNX Runtime's within 1e-5 (abs + rel; integer
 * and bool outputs exactly). With PFW_GOLDEN_OUT set, writes each output's
 * bytes to $PFW_GOLDEN_OUT/c/<name>.output<i>.bin for the cross-language
 * comparison. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "json_mini.h"
#include "pfw.h"
#include "test_util.h"

static const char* data_dir(void) {
  const char* d = getenv("PFW_TEST_DATA");
  return d ? d : "build/testdata";
}

/* The manifest's shape of a tensor entry, in dims; returns the rank. */
static int32_t entry_shape(const json* entry, int64_t* dims) {
  const json* shape = json_get(entry, "shape");
  int32_t rank = shape ? shape->count : 0;
  for (int32_t k = 0; k < rank && k < PFW_MAX_RANK; k++) dims[k] = (int64_t)shape->items[k].number;
  return rank;
}

static void write_output(const char* name, int index, const void* data, size_t size) {
  const char* root = getenv("PFW_GOLDEN_OUT");
  if (!root) return;
  char path[1024];
  snprintf(path, sizeof path, "%s/c", root);
  CHECK(mkdir(root, 0755) == 0 || errno == EEXIST);
  CHECK(mkdir(path, 0755) == 0 || errno == EEXIST);
  snprintf(path, sizeof path, "%s/c/%s.output%d.bin", root, name, index);
  FILE* f = fopen(path, "wb");
  CHECK(f != NULL && fwrite(data, 1, size, f) == size);
  if (f) CHECK(fclose(f) == 0);
}

/* Feeds the stored inputs, invokes, and checks every output. */
static void check_outputs(const char* dir, const json* model, pfw_interpreter* it, int threads,
                          char** first_run) {
  const char* name = json_get(model, "name")->string;
  const json* inputs = json_get(model, "inputs");
  const json* outputs = json_get(model, "outputs");
  CHECK(pfw_interpreter_input_count(it) == inputs->count);
  CHECK(pfw_interpreter_output_count(it) == outputs->count);
  for (int i = 0; i < inputs->count && i < pfw_interpreter_input_count(it); i++) {
    int64_t dims[PFW_MAX_RANK];
    int32_t rank = entry_shape(&inputs->items[i], dims);
    size_t size;
    char* x = pfw_test_read_data(json_get(&inputs->items[i], "file")->string, &size);
    pfw_tensor* in = NULL;
    CHECK_OK(pfw_interpreter_get_input(it, i, &in));
    CHECK(!strcmp(pfw_dtype_name(pfw_tensor_dtype(in)), json_get(&inputs->items[i], "dtype")->string));
    CHECK_OK(pfw_interpreter_resize_input(it, i, dims, rank));
    CHECK_OK(pfw_tensor_copy_from_buffer(in, x, size));
    free(x);
  }
  CHECK_OK(pfw_interpreter_invoke(it));
  for (int i = 0; i < outputs->count && i < pfw_interpreter_output_count(it); i++) {
    const json* entry = &outputs->items[i];
    int64_t dims[PFW_MAX_RANK];
    int32_t rank = entry_shape(entry, dims);
    pfw_tensor* out = NULL;
    CHECK_OK(pfw_interpreter_get_output(it, i, &out));
    pfw_dtype dtype = pfw_tensor_dtype(out);
    CHECK(!strcmp(pfw_dtype_name(dtype), json_get(entry, "dtype")->string));
    CHECK(pfw_tensor_rank(out) == rank);
    for (int32_t k = 0; k < rank; k++) CHECK(pfw_tensor_dim(out, k) == dims[k]);
    size_t size;
    char* want = pfw_test_read_data(json_get(entry, "file")->string, &size);
    const char* got = pfw_tensor_data(out);
    if (!got || pfw_tensor_byte_size(out) != size) {
      CHECK(!"output size differs from ONNX Runtime's");
      fprintf(stderr, "%s output %d: %zu bytes, want %zu\n", name, i, pfw_tensor_byte_size(out), size);
    } else if (dtype == PFW_FLOAT32) {
      CHECK_CLOSE((const float*)got, (const float*)want, size / sizeof(float), 1e-5, 1e-5);
    } else if (dtype == PFW_FLOAT64) {
      CHECK_CLOSE((const double*)got, (const double*)want, size / sizeof(double), 1e-5, 1e-5);
    } else {
      CHECK(memcmp(got, want, size) == 0);
    }
    if (got && threads == 1) {
      write_output(name, i, got, pfw_tensor_byte_size(out));
      first_run[i] = malloc(size + 1);
      memcpy(first_run[i], got, size);
    } else if (got && first_run[i]) {
      CHECK(memcmp(first_run[i], got, size) == 0); /* results do not depend on threads */
    }
    free(want);
  }
}

int main(void) {
  const char* dir = data_dir();
  json manifest;
  char* text = NULL;
  const json* models = pfw_test_manifest(&manifest, &text);
  for (int m = 0; models && m < models->count; m++) {
    const json* model = &models->items[m];
    const char* name = json_get(model, "name")->string;
    char file[1024];
    snprintf(file, sizeof file, "%s/%s.pfw", dir, name);
    pfw_model* pm = NULL;
    CHECK_OK(pfw_model_load_file(file, &pm));
    char* first_run[64] = {0};
    CHECK(json_get(model, "outputs")->count <= 64);
    for (int threads = 1; pm && threads <= 3; threads += 2) {
      pfw_options* opts = NULL;
      pfw_interpreter* it = NULL;
      CHECK_OK(pfw_options_create(&opts));
      CHECK_OK(pfw_options_set_num_threads(opts, threads));
      CHECK_OK(pfw_interpreter_create(pm, opts, &it));
      pfw_options_free(opts);
      if (it) check_outputs(dir, model, it, threads, first_run);
      pfw_interpreter_free(it);
    }
    for (int i = 0; i < 64; i++) free(first_run[i]);
    printf("%s: compared with ONNX Runtime at 1 and 3 threads\n", name);
    pfw_model_free(pm);
  }
  json_free(&manifest);
  free(text);
  TEST_MAIN_END();
}
