/* The sequence and optional API of pfw.h on sequence_io.pfw
 * (tests/golden/generate.py): ys = [2 * x for x in xs], count = len(xs),
 * has = maybe is not None, same = maybe. Checked against those closed
 * forms, and every misuse must return an error with a message. */
#include <stdbool.h>

#include "pfw.h"
#include "test_util.h"

static pfw_tensor* io(pfw_interpreter* it, int input, int32_t i) {
  pfw_tensor* t = NULL;
  CHECK_OK(input ? pfw_interpreter_get_input(it, i, &t) : pfw_interpreter_get_output(it, i, &t));
  return t;
}

static void check_error(pfw_status st, pfw_status expected) {
  CHECK(st == expected);
  CHECK(pfw_last_error() && pfw_last_error()[0] != '\0');
}

/* Feeds xs = rows x 3 matrices for each of `rows`, filled 0, 1, 2...; and
 * maybe = {7, 8, 9} or no value; runs; checks every output. */
static void run_case(pfw_interpreter* it, const int64_t* rows, int n, int with_value) {
  pfw_tensor *xs = io(it, 1, 0), *maybe = io(it, 1, 1);
  CHECK_OK(pfw_tensor_sequence_clear(xs));
  float data[64];
  for (int k = 0; k < 64; k++) data[k] = (float)k;
  for (int e = 0; e < n; e++) {
    int64_t dims[2] = {rows[e], 3};
    CHECK_OK(pfw_tensor_sequence_append(xs, PFW_FLOAT32, dims, 2, data + e, (size_t)(rows[e] * 3) * sizeof(float)));
  }
  float m[3] = {7, 8, 9};
  if (with_value) CHECK_OK(pfw_tensor_copy_from_buffer(maybe, m, sizeof m));
  else CHECK_OK(pfw_tensor_set_has_value(maybe, 0));
  CHECK(pfw_tensor_has_value(maybe) == with_value);
  CHECK_OK(pfw_interpreter_invoke(it));

  pfw_tensor *ys = io(it, 0, 0), *count = io(it, 0, 1), *has = io(it, 0, 2), *same = io(it, 0, 3);
  int64_t len = -1, c = -1;
  CHECK_OK(pfw_tensor_sequence_length(ys, &len));
  CHECK(len == n);
  CHECK_OK(pfw_tensor_copy_to_buffer(count, &c, sizeof c));
  CHECK(c == n);
  for (int e = 0; e < n && e < len; e++) {
    const pfw_tensor* y = NULL;
    CHECK_OK(pfw_tensor_sequence_item(ys, e, &y));
    CHECK(pfw_tensor_kind(y) == PFW_KIND_TENSOR && pfw_tensor_dtype(y) == PFW_FLOAT32);
    CHECK(pfw_tensor_rank(y) == 2 && pfw_tensor_dim(y, 0) == rows[e] && pfw_tensor_dim(y, 1) == 3);
    float out[64];
    CHECK_OK(pfw_tensor_copy_to_buffer(y, out, (size_t)(rows[e] * 3) * sizeof(float)));
    for (int k = 0; k < rows[e] * 3; k++) CHECK(out[k] == 2.0f * (float)(e + k));
  }
  bool h = !with_value;
  CHECK_OK(pfw_tensor_copy_to_buffer(has, &h, sizeof h));
  CHECK(h == (with_value != 0));
  CHECK(pfw_tensor_has_value(same) == with_value);
  float back[3] = {0};
  if (with_value) {
    CHECK_OK(pfw_tensor_copy_to_buffer(same, back, sizeof back));
    CHECK(back[0] == 7 && back[1] == 8 && back[2] == 9);
  } else {
    check_error(pfw_tensor_copy_to_buffer(same, back, sizeof back), PFW_ERR_INVALID_ARGUMENT);
  }
}

static void misuse(pfw_interpreter* it) {
  pfw_tensor *xs = io(it, 1, 0), *maybe = io(it, 1, 1), *ys = io(it, 0, 0), *count = io(it, 0, 1);
  float data[6] = {0};
  int64_t dims[2] = {2, 3}, bad_cols[2] = {2, 4}, n = 0;
  const pfw_tensor* item = NULL;
  CHECK(pfw_tensor_kind(xs) == PFW_KIND_SEQUENCE && !pfw_tensor_is_optional(xs));
  CHECK(pfw_tensor_kind(maybe) == PFW_KIND_TENSOR && pfw_tensor_is_optional(maybe));
  CHECK(pfw_tensor_model_rank(xs) == 2 && pfw_tensor_model_dim(xs, 0) == -1 && pfw_tensor_model_dim(xs, 1) == 3);
  check_error(pfw_tensor_sequence_append(xs, PFW_INT32, dims, 2, data, sizeof data), PFW_ERR_INVALID_ARGUMENT);
  check_error(pfw_tensor_sequence_append(xs, PFW_FLOAT32, dims, 1, data, 8), PFW_ERR_SHAPE);
  check_error(pfw_tensor_sequence_append(xs, PFW_FLOAT32, bad_cols, 2, data, 32), PFW_ERR_SHAPE);
  check_error(pfw_tensor_sequence_append(xs, PFW_FLOAT32, dims, 2, data, 4), PFW_ERR_SHAPE);
  check_error(pfw_tensor_sequence_append(xs, PFW_FLOAT32, NULL, 2, data, sizeof data), PFW_ERR_INVALID_ARGUMENT);
  check_error(pfw_tensor_sequence_append(ys, PFW_FLOAT32, dims, 2, data, sizeof data), PFW_ERR_INVALID_ARGUMENT);
  check_error(pfw_tensor_sequence_append(maybe, PFW_FLOAT32, dims, 2, data, sizeof data), PFW_ERR_INVALID_ARGUMENT);
  check_error(pfw_tensor_sequence_append(NULL, PFW_FLOAT32, dims, 2, data, sizeof data), PFW_ERR_INVALID_ARGUMENT);
  check_error(pfw_tensor_copy_from_buffer(xs, data, 0), PFW_ERR_INVALID_ARGUMENT);
  check_error(pfw_interpreter_resize_input(it, 0, dims, 2), PFW_ERR_INVALID_ARGUMENT);
  check_error(pfw_tensor_sequence_length(count, &n), PFW_ERR_INVALID_ARGUMENT);
  check_error(pfw_tensor_sequence_length(ys, NULL), PFW_ERR_INVALID_ARGUMENT);
  check_error(pfw_tensor_sequence_item(ys, 99, &item), PFW_ERR_INVALID_ARGUMENT);
  check_error(pfw_tensor_sequence_item(ys, -1, &item), PFW_ERR_INVALID_ARGUMENT);
  check_error(pfw_tensor_set_has_value(xs, 0), PFW_ERR_INVALID_ARGUMENT);
  check_error(pfw_tensor_set_has_value(count, 0), PFW_ERR_INVALID_ARGUMENT);
  check_error(pfw_tensor_sequence_clear(ys), PFW_ERR_INVALID_ARGUMENT);
  CHECK(pfw_tensor_kind(NULL) == PFW_KIND_TENSOR && !pfw_tensor_has_value(NULL) && !pfw_tensor_is_optional(NULL));
}

int main(void) {
  size_t size;
  void* bytes = pfw_test_read_data("sequence_io.pfw", &size);
  pfw_model* model = NULL;
  pfw_interpreter* it = NULL;
  CHECK_OK(pfw_model_load_buffer(bytes, size, &model));
  CHECK_OK(pfw_interpreter_create(model, NULL, &it));
  if (it) {
    misuse(it);
    const int64_t rows[4] = {2, 1, 3, 0};
    run_case(it, rows, 4, 1);
    run_case(it, rows, 2, 0);  /* shorter: elements kept for reuse must not show */
    run_case(it, rows + 3, 1, 1);
    run_case(it, rows, 0, 0);  /* an empty sequence */
    run_case(it, rows, 4, 1);  /* longer again */
  }
  pfw_interpreter_free(it);
  pfw_model_free(model);
  free(bytes);
  printf("test_sequence: %d checks, %d failures\n", pfw_test_checks, pfw_test_failures);
  return pfw_test_failures != 0;
}
