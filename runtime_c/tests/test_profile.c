/* Per-node profiling (pfw_interpreter_set_profiling and the profile
 * queries) on the golden models of tests/golden/generate.py. */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "interpreter_internal.h"
#include "pfw.h"
#include "test_util.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void check_model(const char* name) {
  const char* dir = getenv("PFW_TEST_DATA");
  char path[512];
  snprintf(path, sizeof path, "%s/%s.pfw", dir ? dir : "build/testdata", name);
  pfw_model* model = NULL;
  CHECK_OK(pfw_model_load_file(path, &model));
  pfw_interpreter* it = NULL;
  if (model) CHECK_OK(pfw_interpreter_create(model, NULL, &it));
  if (!it) {
    fprintf(stderr, "cannot run %s (run tests/golden/generate.py)\n", path);
    pfw_model_free(model);
    pfw_test_failures++;
    return;
  }
  int32_t count = -1, n_nodes = it->graph->n_nodes;
  CHECK_OK(pfw_interpreter_profile_count(it, &count));
  CHECK(count == n_nodes);
  const char *op, *node;
  int64_t calls = -1;
  double ms = -1;
  /* Never enabled: entries exist, all zero; invoke without profiling counts nothing. */
  CHECK_OK(pfw_interpreter_invoke(it));
  CHECK_OK(pfw_interpreter_profile_entry(it, 0, &op, &node, &calls, &ms));
  CHECK(calls == 0 && ms == 0.0);

  const int runs = 3;
  for (int round = 0; round < 2; round++) { /* the second enable resets the counters */
    CHECK_OK(pfw_interpreter_set_profiling(it, 1));
    double t0 = now_ms();
    for (int r = 0; r < runs; r++) CHECK_OK(pfw_interpreter_invoke(it));
    double wall = now_ms() - t0;
    double sum = 0;
    for (int32_t i = 0; i < count; i++) {
      CHECK_OK(pfw_interpreter_profile_entry(it, i, &op, &node, &calls, &ms));
      const pfw_node_desc* d = &it->graph->nodes[i];
      CHECK(strcmp(node, d->name) == 0);
      CHECK(op[0] != '\0');
      CHECK(calls == (it->nodes[i].folded ? 0 : runs));
      CHECK(ms >= 0.0);
      sum += ms;
    }
    CHECK(sum <= wall);
  }
  /* Off: further invokes leave the counters as they were. */
  CHECK_OK(pfw_interpreter_set_profiling(it, 0));
  CHECK_OK(pfw_interpreter_invoke(it));
  CHECK_OK(pfw_interpreter_profile_entry(it, 0, &op, &node, &calls, &ms));
  CHECK(calls == (it->nodes[0].folded ? 0 : runs));

  CHECK_STATUS(pfw_interpreter_profile_entry(it, count, &op, &node, &calls, &ms), PFW_ERR_INVALID_ARGUMENT);
  CHECK_ERROR_HAS("out of range");
  CHECK_STATUS(pfw_interpreter_profile_entry(it, -1, &op, &node, &calls, &ms), PFW_ERR_INVALID_ARGUMENT);
  CHECK_ERROR_HAS("index -1");
  CHECK_STATUS(pfw_interpreter_profile_entry(it, 0, NULL, &node, &calls, &ms), PFW_ERR_INVALID_ARGUMENT);
  CHECK_ERROR_HAS("NULL");
  CHECK_STATUS(pfw_interpreter_profile_count(it, NULL), PFW_ERR_INVALID_ARGUMENT);
  CHECK_ERROR_HAS("must not be NULL");
  pfw_interpreter_free(it);
  pfw_model_free(model);
}

int main(void) {
  check_model("mlp");
  check_model("cnn");
  check_model("attention");
  int32_t count;
  CHECK_STATUS(pfw_interpreter_set_profiling(NULL, 1), PFW_ERR_INVALID_ARGUMENT);
  CHECK_ERROR_HAS("interpreter is NULL");
  CHECK_STATUS(pfw_interpreter_profile_count(NULL, &count), PFW_ERR_INVALID_ARGUMENT);
  CHECK_ERROR_HAS("pfw_interpreter_profile_count");
  TEST_MAIN_END();
}
