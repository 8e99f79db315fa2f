/* Many threads, each with its own interpreter (and its own thread pool), on
 * one shared model: every run must give the bytes a lone interpreter gives
 * in the same run (random ops draw anew each run), which test_golden checks
 * against ONNX Runtime. Built once more with
 * ThreadSanitizer (make c-test-tsan), where it must report no race. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "json_mini.h"
#include "pfw.h"
#include "test_util.h"

enum { WORKERS = 4, RUNS = 3, MAX_IO = 16 };

typedef struct {
  const pfw_model* model;
  const json* entry; /* the manifest's model entry */
  char* inputs[MAX_IO];
  size_t input_sizes[MAX_IO];
  char* want[RUNS][MAX_IO]; /* a lone interpreter's outputs, run by run */
  size_t want_sizes[RUNS][MAX_IO];
} job;

typedef struct {
  const job* job;
  int pool_threads;
  int mismatches, errors; /* counted here: CHECK is not for other threads */
} worker;

/* Feeds the job's inputs, invokes; PFW_OK or the first failing status. */
static pfw_status run_once(const job* j, pfw_interpreter* it) {
  const json* inputs = json_get(j->entry, "inputs");
  for (int i = 0; i < inputs->count; i++) {
    const json* shape = json_get(&inputs->items[i], "shape");
    int64_t dims[PFW_MAX_RANK];
    for (int k = 0; k < shape->count && k < PFW_MAX_RANK; k++) dims[k] = (int64_t)shape->items[k].number;
    pfw_tensor* t = NULL;
    pfw_status st = pfw_interpreter_resize_input(it, i, dims, shape->count);
    if (st == PFW_OK) st = pfw_interpreter_get_input(it, i, &t);
    if (st == PFW_OK) st = pfw_tensor_copy_from_buffer(t, j->inputs[i], j->input_sizes[i]);
    if (st != PFW_OK) return st;
  }
  return pfw_interpreter_invoke(it);
}

static void* work(void* arg) {
  worker* w = arg;
  pfw_options* opts = NULL;
  pfw_interpreter* it = NULL;
  if (pfw_options_create(&opts) != PFW_OK || pfw_options_set_num_threads(opts, w->pool_threads) != PFW_OK ||
      pfw_interpreter_create(w->job->model, opts, &it) != PFW_OK) {
    w->errors++;
    pfw_options_free(opts);
    return NULL;
  }
  pfw_options_free(opts);
  for (int r = 0; r < RUNS; r++) {
    if (run_once(w->job, it) != PFW_OK) {
      w->errors++;
      break;
    }
    for (int i = 0; i < pfw_interpreter_output_count(it) && i < MAX_IO; i++) {
      pfw_tensor* out = NULL;
      if (pfw_interpreter_get_output(it, i, &out) != PFW_OK) {
        w->errors++;
        continue;
      }
      const void* got = pfw_tensor_data(out);
      if (!got || pfw_tensor_byte_size(out) != w->job->want_sizes[r][i] ||
          memcmp(got, w->job->want[r][i], w->job->want_sizes[r][i]) != 0)
        w->mismatches++;
    }
  }
  pfw_interpreter_free(it);
  return NULL;
}

/* The job's inputs from the golden files and a lone interpreter's outputs. */
static int prepare(job* j) {
  const json* inputs = json_get(j->entry, "inputs");
  CHECK(inputs->count <= MAX_IO);
  for (int i = 0; i < inputs->count && i < MAX_IO; i++)
    j->inputs[i] = pfw_test_read_data(json_get(&inputs->items[i], "file")->string, &j->input_sizes[i]);
  pfw_interpreter* it = NULL;
  CHECK_OK(pfw_interpreter_create(j->model, NULL, &it));
  if (!it) return 0;
  CHECK(pfw_interpreter_output_count(it) <= MAX_IO);
  for (int r = 0; r < RUNS; r++) {
    CHECK_OK(run_once(j, it));
    for (int i = 0; i < pfw_interpreter_output_count(it) && i < MAX_IO; i++) {
      pfw_tensor* out = NULL;
      CHECK_OK(pfw_interpreter_get_output(it, i, &out));
      j->want_sizes[r][i] = out ? pfw_tensor_byte_size(out) : 0;
      j->want[r][i] = malloc(j->want_sizes[r][i] + 1);
      if (out && pfw_tensor_data(out)) memcpy(j->want[r][i], pfw_tensor_data(out), j->want_sizes[r][i]);
    }
  }
  pfw_interpreter_free(it);
  return 1;
}

int main(void) {
  const char* dir = getenv("PFW_TEST_DATA") ? getenv("PFW_TEST_DATA") : "build/testdata";
  json manifest;
  char* text = NULL;
  const json* models = pfw_test_manifest(&manifest, &text);
  for (int m = 0; models && m < models->count; m++) {
    job j = {.entry = &models->items[m]};
    const char* name = json_get(j.entry, "name")->string;
    char file[1024];
    snprintf(file, sizeof file, "%s/%s.pfw", dir, name);
    pfw_model* model = NULL;
    CHECK_OK(pfw_model_load_file(file, &model));
    j.model = model;
    if (model && prepare(&j)) {
      pthread_t tids[WORKERS];
      worker ws[WORKERS];
      for (int w = 0; w < WORKERS; w++) {
        ws[w] = (worker){.job = &j, .pool_threads = 1 + w % 3};
        CHECK(pthread_create(&tids[w], NULL, work, &ws[w]) == 0);
      }
      for (int w = 0; w < WORKERS; w++) {
        CHECK(pthread_join(tids[w], NULL) == 0);
        CHECK(ws[w].errors == 0);
        CHECK(ws[w].mismatches == 0);
      }
      printf("%s: %d threads x %d runs, each with its own interpreter, matched a lone run\n", name, WORKERS, RUNS);
    }
    for (int i = 0; i < MAX_IO; i++) {
      free(j.inputs[i]);
      for (int r = 0; r < RUNS; r++) free(j.want[r][i]);
    }
    pfw_model_free(model);
  }
  json_free(&manifest);
  free(text);
  TEST_MAIN_END();
}
