/* run_model: runs a .pfw model on raw input bytes with libpfw.
 *   run_model MODEL.pfw INPUT.bin OUTPUT.bin
 * INPUT.bin holds input 0 (little-endian, the model's dtype); its first
 * dimension follows from the file size. Output 0's bytes go to OUTPUT.bin,
 * and its shape is printed. */
#include <stdio.h>
#include <stdlib.h>

#include <pfw.h>

/* Prints what failed with libpfw's message and returns 1. */
static int fail(const char* what, pfw_status st) {
  fprintf(stderr, "%s failed: %s: %s\n", what, pfw_status_name(st), pfw_last_error());
  return 1;
}

static void* read_all(const char* path, size_t* size) {
  FILE* f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  void* buf = malloc(n > 0 ? (size_t)n : 1);
  *size = buf ? fread(buf, 1, (size_t)(n > 0 ? n : 0), f) : 0;
  fclose(f);
  return buf;
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s MODEL.pfw INPUT.bin OUTPUT.bin\n", argv[0]);
    return 2;
  }
  pfw_model* model = NULL;
  pfw_interpreter* it = NULL;
  pfw_tensor *in = NULL, *out = NULL;
  size_t in_size = 0;
  void* x = read_all(argv[2], &in_size);
  void* y = NULL;
  int rc = 1;
  pfw_status st;
  if (!x) {
    fprintf(stderr, "cannot read %s\n", argv[2]);
    return 1;
  }
  if ((st = pfw_model_load_file(argv[1], &model)) != PFW_OK) rc = fail("load", st);
  else if ((st = pfw_interpreter_create(model, NULL, &it)) != PFW_OK) rc = fail("create", st);
  else if ((st = pfw_interpreter_get_input(it, 0, &in)) != PFW_OK) rc = fail("input", st);
  else {
    /* Dimension 0 is the batch: the file's bytes over one row's bytes. */
    int64_t dims[PFW_MAX_RANK], row = (int64_t)pfw_dtype_size(pfw_tensor_dtype(in));
    int32_t rank = pfw_tensor_rank(in);
    for (int32_t i = 1; i < rank; i++) row *= (dims[i] = pfw_tensor_dim(in, i));
    dims[0] = row > 0 ? (int64_t)in_size / row : 0;
    if ((st = pfw_interpreter_resize_input(it, 0, dims, rank)) != PFW_OK) rc = fail("resize", st);
    else if ((st = pfw_tensor_copy_from_buffer(in, x, in_size)) != PFW_OK) rc = fail("set input", st);
    else if ((st = pfw_interpreter_invoke(it)) != PFW_OK) rc = fail("invoke", st);
    else if ((st = pfw_interpreter_get_output(it, 0, &out)) != PFW_OK) rc = fail("output", st);
    else if (!(y = malloc(pfw_tensor_byte_size(out) + 1))) fprintf(stderr, "out of memory\n");
    else if ((st = pfw_tensor_copy_to_buffer(out, y, pfw_tensor_byte_size(out))) != PFW_OK) rc = fail("read output", st);
    else {
      FILE* f = fopen(argv[3], "wb");
      size_t n = pfw_tensor_byte_size(out);
      if (!f || fwrite(y, 1, n, f) != n) fprintf(stderr, "cannot write %s\n", argv[3]);
      else rc = 0;
      if (f && fclose(f) != 0) rc = 1;
      printf("%s: %s [", pfw_tensor_name(out), pfw_dtype_name(pfw_tensor_dtype(out)));
      for (int32_t i = 0; i < pfw_tensor_rank(out); i++) printf(i ? ", %lld" : "%lld", (long long)pfw_tensor_dim(out, i));
      printf("]\n");
    }
  }
  free(y);
  free(x);
  pfw_interpreter_free(it); /* interpreters before their model; NULL is a no-op */
  pfw_model_free(model);
  return rc;
}
