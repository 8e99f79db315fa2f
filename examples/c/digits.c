/* Runs a digits classifier (.pfw) over a test split, one image at a time, and
 * prints accuracy and mean latency: the C row of `make demo`.
 *   digits model.pfw images.f32 labels.i64
 * images: N x 1 x 8 x 8 float32, labels: N int64, both raw little-endian. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "pfw.h"

static void* read_all(const char* path, size_t* size) {
  FILE* f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  *size = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  void* p = malloc(*size ? *size : 1);
  if (p && fread(p, 1, *size, f) != *size) {
    free(p);
    p = NULL;
  }
  fclose(f);
  return p;
}

/* Every pfw call returns a status; on failure pfw_last_error() says why. */
#define TRY(call)                                                           \
  do {                                                                      \
    if ((call) != PFW_OK) {                                                 \
      fprintf(stderr, "digits: %s failed: %s\n", #call, pfw_last_error()); \
      return 1;                                                             \
    }                                                                       \
  } while (0)

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s model.pfw images.f32 labels.i64\n", argv[0]);
    return 2;
  }
  size_t xs, ys;
  float* images = read_all(argv[2], &xs);
  long long* labels = read_all(argv[3], &ys);
  size_t n = ys / sizeof *labels;
  if (!images || !labels || xs != n * 64 * sizeof(float)) {
    fprintf(stderr, "digits: cannot read %s and %s as %zu 8x8 images with labels\n", argv[2], argv[3], n);
    return 1;
  }
  pfw_model* model = NULL;
  pfw_interpreter* it = NULL;
  pfw_tensor *in = NULL, *out = NULL;
  TRY(pfw_model_load_file(argv[1], &model)); /* model owned by us: pfw_model_free */
  TRY(pfw_interpreter_create(model, NULL, &it));
  const int64_t dims[4] = {1, 1, 8, 8};
  TRY(pfw_interpreter_resize_input(it, 0, dims, 4));
  TRY(pfw_interpreter_get_input(it, 0, &in)); /* borrowed from the interpreter */
  TRY(pfw_interpreter_get_output(it, 0, &out));
  size_t correct = 0;
  float logits[10];
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (size_t i = 0; i < n; i++) {
    TRY(pfw_tensor_copy_from_buffer(in, images + i * 64, 64 * sizeof(float)));
    TRY(pfw_interpreter_invoke(it));
    TRY(pfw_tensor_copy_to_buffer(out, logits, sizeof logits));
    int best = 0;
    for (int k = 1; k < 10; k++)
      if (logits[k] > logits[best]) best = k;
    correct += best == labels[i];
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double ms = ((double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6) / (double)n;
  printf("accuracy %.4f latency_ms %.4f\n", (double)correct / (double)n, ms);
  pfw_interpreter_free(it);
  pfw_model_free(model);
  free(images);
  free(labels);
  return 0;
}
