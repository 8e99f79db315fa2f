/* Backend selection through the C API where OpenCL cannot load (the
 * library is pointed at a missing file): "opencl" fails at create with
 * PFW_ERR_BACKEND naming the file, "auto" runs on the CPU and says why,
 * and the backend queries check their arguments. The device path itself
 * is tested from Python (tests/test_opencl.py) against ONNX Runtime. */
#include <stdlib.h>
#include <string.h>

#include "pfw.h"
#include "test_util.h"

static pfw_interpreter* create(pfw_model* model, const char* backend, pfw_status want) {
  pfw_options* o = NULL;
  CHECK_OK(pfw_options_create(&o));
  CHECK_OK(pfw_options_set_backend(o, backend));
  pfw_interpreter* it = NULL;
  CHECK_STATUS(pfw_interpreter_create(model, o, &it), want);
  pfw_options_free(o);
  return it;
}

int main(void) {
  setenv("PFW_OPENCL_LIBRARY", "/nonexistent/libOpenCL-for-test.so.1", 1);
  const char* dir = getenv("PFW_TEST_DATA");
  char path[512];
  snprintf(path, sizeof path, "%s/mlp.pfw", dir ? dir : "build/testdata");
  pfw_model* model = NULL;
  CHECK_OK(pfw_model_load_file(path, &model));
  if (!model) TEST_MAIN_END();

  CHECK(create(model, "opencl", PFW_ERR_BACKEND) == NULL);
  CHECK_ERROR_HAS("cannot load /nonexistent/libOpenCL-for-test.so.1");
  CHECK(create(model, "opencl", PFW_ERR_BACKEND) == NULL); /* the same answer from the process-wide state */
  CHECK_ERROR_HAS("OpenCL is not available");

  pfw_interpreter* it = create(model, "auto", PFW_OK);
  CHECK(it != NULL);
  CHECK(strcmp(pfw_interpreter_backend(it), "cpu") == 0);
  CHECK(strstr(pfw_interpreter_backend_info(it), "auto: OpenCL is not available") != NULL);
  CHECK_OK(pfw_interpreter_invoke(it));
  const char* where = NULL;
  CHECK_OK(pfw_interpreter_node_backend(it, 0, &where));
  CHECK(where && strcmp(where, "cpu") == 0);
  CHECK_STATUS(pfw_interpreter_node_backend(it, 1 << 20, &where), PFW_ERR_INVALID_ARGUMENT);
  CHECK_ERROR_HAS("out of range");
  CHECK_STATUS(pfw_interpreter_node_backend(it, 0, NULL), PFW_ERR_INVALID_ARGUMENT);
  int64_t count = -1, bytes = -1;
  double ms = -1;
  CHECK_OK(pfw_interpreter_set_profiling(it, 1));
  CHECK_OK(pfw_interpreter_invoke(it));
  CHECK_OK(pfw_interpreter_profile_transfers(it, &count, &bytes, &ms));
  CHECK(count == 0 && bytes == 0 && ms == 0.0); /* the CPU copies nothing */
  CHECK_STATUS(pfw_interpreter_profile_transfers(it, NULL, &bytes, &ms), PFW_ERR_INVALID_ARGUMENT);
  CHECK_ERROR_HAS("pfw_interpreter_profile_transfers");
  pfw_interpreter_free(it);

  it = create(model, "cpu", PFW_OK);
  CHECK(strcmp(pfw_interpreter_backend(it), "cpu") == 0 && strcmp(pfw_interpreter_backend_info(it), "cpu") == 0);
  pfw_interpreter_free(it);
  CHECK(strcmp(pfw_interpreter_backend(NULL), "") == 0 && strcmp(pfw_interpreter_backend_info(NULL), "") == 0);
  CHECK_STATUS(pfw_interpreter_node_backend(NULL, 0, &where), PFW_ERR_INVALID_ARGUMENT);
  pfw_model_free(model);
  TEST_MAIN_END();
}
