/* The golden models (ONNX Runtime's outputs, tests/golden/generate.py) on
 * the OpenCL backend, run under the sanitizers with the machine's device:
 * this is where device-memory placement, residency and kernel arguments meet
 * ASan and UBSan. Without a device the test says so and passes, unless
 * PFW_REQUIRE_OPENCL=1 (make test sets it; tools/ensure_tools.sh opencl
 * installs PoCL). */
#include <stdlib.h>
#include <string.h>

#include "pfw.h"
#include "test_util.h"

/* 0: ran; 1: no device. */
static int check_golden(const char* name) {
  char file[128];
  size_t size, in_size, out_size;
  snprintf(file, sizeof file, "%s.pfw", name);
  void* bytes = pfw_test_read_data(file, &size);
  pfw_model* model = NULL;
  CHECK_OK(pfw_model_load_buffer(bytes, size, &model));
  free(bytes);
  pfw_options* o = NULL;
  CHECK_OK(pfw_options_create(&o));
  CHECK_OK(pfw_options_set_backend(o, "opencl"));
  pfw_interpreter* it = NULL;
  pfw_status st = model ? pfw_interpreter_create(model, o, &it) : PFW_ERR_INVALID_MODEL;
  pfw_options_free(o);
  if (st == PFW_ERR_BACKEND) {
    printf("no OpenCL device: %s\n", pfw_last_error());
    pfw_model_free(model);
    return 1;
  }
  CHECK_OK(st);
  if (!it) {
    pfw_model_free(model);
    return 0;
  }
  CHECK(strcmp(pfw_interpreter_backend(it), "opencl") == 0);
  printf("%s: %s\n", name, pfw_interpreter_backend_info(it));
  snprintf(file, sizeof file, "%s.input0.bin", name);
  float* x = pfw_test_read_data(file, &in_size);
  snprintf(file, sizeof file, "%s.output0.bin", name);
  float* want = pfw_test_read_data(file, &out_size);
  pfw_tensor *in = NULL, *out = NULL;
  CHECK_OK(pfw_interpreter_get_input(it, 0, &in));
  int64_t dims[PFW_MAX_RANK], rest = 1;
  int32_t rank = pfw_tensor_rank(in);
  for (int32_t i = 1; i < rank; i++) rest *= (dims[i] = pfw_tensor_dim(in, i));
  dims[0] = (int64_t)(in_size / sizeof(float)) / rest;
  CHECK_OK(pfw_interpreter_resize_input(it, 0, dims, rank));
  CHECK_OK(pfw_tensor_copy_from_buffer(in, x, in_size));
  for (int run = 0; run < 2; run++) { /* the second run starts from the same inputs */
    CHECK_OK(pfw_interpreter_invoke(it));
    CHECK_OK(pfw_interpreter_get_output(it, 0, &out));
    CHECK(pfw_tensor_byte_size(out) == out_size);
    if (pfw_tensor_byte_size(out) == out_size)
      CHECK_CLOSE((const float*)pfw_tensor_data(out), want, out_size / sizeof(float), 1e-5, 1e-6);
  }
  free(x);
  free(want);
  pfw_interpreter_free(it);
  pfw_model_free(model);
  return 0;
}

int main(void) {
  const char* req = getenv("PFW_REQUIRE_OPENCL");
  static const char* const names[] = {"mlp", "cnn", "attention"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    if (check_golden(names[i])) {
      CHECK(!(req && strcmp(req, "1") == 0)); /* a device was required */
      break;
    }
  }
  TEST_MAIN_END();
}
