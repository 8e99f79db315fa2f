/* run_model: runs a .pfw model on raw input bytes with libpfw.
 *   run_model MODEL.pfw INPUT.bin OUTPUT.bin
 * INPUT.bin holds input 0 (little-endian, the model's dtype); its first
 * dimension follows from the file size. Output 0's bytes go to OUTPUT.bin,
 * and its name, dtype and shape are printed. */
#include <stdio.h>
#include <stdlib.h>

#include <pfw.h>

/* On failure: say which step failed with libpfw's message, then clean up. */
#define TRY(step, call)                                                                 \
  do {                                                                                  \
    pfw_status st_ = (call);                                                            \
    if (st_ != PFW_OK) {                                                                \
      fprintf(stderr, "%s failed: %s: %s\n", step, pfw_status_name(st_), pfw_last_error()); \
      goto done;                                                                        \
    }                                                                                   \
  } while (0)

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
  int rc = 1;
  pfw_model* model = NULL;
  pfw_interpreter* it = NULL;
  pfw_tensor *in = NULL, *out = NULL;
  size_t in_size = 0, out_size = 0;
  void *x = read_all(argv[2], &in_size), *y = NULL;
  FILE* f = NULL;
  int64_t dims[PFW_MAX_RANK], row;
  int32_t rank;
  if (!x) {
    fprintf(stderr, "cannot read %s\n", argv[2]);
    goto done;
  }
  TRY("load", pfw_model_load_file(argv[1], &model));
  TRY("create", pfw_interpreter_create(model, NULL, &it)); /* NULL: default options */
  TRY("get input", pfw_interpreter_get_input(it, 0, &in));
  /* Dimension 0 is the batch: the file's bytes over one row's bytes. */
  rank = pfw_tensor_rank(in);
  row = (int64_t)pfw_dtype_size(pfw_tensor_dtype(in));
  for (int32_t i = 1; i < rank; i++) row *= (dims[i] = pfw_tensor_dim(in, i));
  dims[0] = row > 0 ? (int64_t)in_size / row : 0;
  TRY("resize input", pfw_interpreter_resize_input(it, 0, dims, rank));
  TRY("set input", pfw_tensor_copy_from_buffer(in, x, in_size));
  TRY("invoke", pfw_interpreter_invoke(it));
  TRY("get output", pfw_interpreter_get_output(it, 0, &out));
  out_size = pfw_tensor_byte_size(out);
  if (!(y = malloc(out_size + 1))) goto done;
  TRY("read output", pfw_tensor_copy_to_buffer(out, y, out_size));
  if (!(f = fopen(argv[3], "wb")) || fwrite(y, 1, out_size, f) != out_size) {
    fprintf(stderr, "cannot write %s\n", argv[3]);
    goto done;
  }
  printf("%s: %s [", pfw_tensor_name(out), pfw_dtype_name(pfw_tensor_dtype(out)));
  for (int32_t i = 0; i < pfw_tensor_rank(out); i++) printf("%s%lld", i ? ", " : "", (long long)pfw_tensor_dim(out, i));
  printf("]\n");
  rc = 0;
done:
  if (f && fclose(f) != 0) rc = 1; /* a failed flush loses the output */
  free(y);
  free(x);
  pfw_interpreter_free(it); /* interpreters before their model; NULL is a no-op */
  pfw_model_free(model);
  return rc;
}
