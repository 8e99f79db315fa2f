/* Minimal assertions for the C tests: each test file is one program that
 * counts failures and returns non-zero if any check failed. */
#ifndef PFW_TEST_UTIL_H
#define PFW_TEST_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int pfw_test_failures = 0;
static int pfw_test_checks = 0;

#define CHECK(cond)                                                         \
  do {                                                                      \
    pfw_test_checks++;                                                      \
    if (!(cond)) {                                                          \
      pfw_test_failures++;                                                  \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                       \
  } while (0)

/* Checks a pfw_status call returned `expected`, printing pfw_last_error(). */
#define CHECK_STATUS(call, expected)                                        \
  do {                                                                      \
    pfw_status st_ = (call);                                                \
    pfw_test_checks++;                                                      \
    if (st_ != (expected)) {                                                \
      pfw_test_failures++;                                                  \
      fprintf(stderr, "%s:%d: %s returned %d, expected %d: %s\n", __FILE__, \
              __LINE__, #call, (int)st_, (int)(expected), pfw_last_error()); \
    }                                                                       \
  } while (0)

#define CHECK_OK(call) CHECK_STATUS(call, PFW_OK)

/* The bytes of the file at `path`, malloc'ed with a NUL after them (for
 * text); exits when it is missing, saying what makes it (`hint`). */
static inline void* pfw_test_read_file(const char* path, size_t* size, const char* hint) {
  FILE* f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "missing test data %s (%s)\n", path, hint);
    exit(2);
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char* buf = malloc((size_t)(n > 0 ? n : 0) + 1);
  *size = fread(buf, 1, (size_t)(n > 0 ? n : 0), f);
  buf[*size] = '\0';
  fclose(f);
  return buf;
}

/* Test data file `name` in $PFW_TEST_DATA (default build/testdata). */
static inline void* pfw_test_read_data(const char* name, size_t* size) {
  const char* dir = getenv("PFW_TEST_DATA");
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir ? dir : "build/testdata", name);
  return pfw_test_read_file(path, size, "run tests/golden/generate.py");
}

/* The golden manifest (tests/golden/generate.py) parsed into *manifest, its
 * text in *text (free both); returns the "models" array, checked to hold
 * the golden models. Needs json_mini.h included first. */
#ifdef PFW_JSON_MINI_H
static inline const json* pfw_test_manifest(json* manifest, char** text) {
  size_t size;
  *text = pfw_test_read_data("manifest.json", &size);
  const char* p = *text;
  CHECK(*text && json_value(&p, manifest));
  const json* models = json_get(manifest, "models");
  CHECK(models && models->count >= 4);
  return models;
}
#endif

/* |a-b| <= atol + rtol*|b| elementwise. */
#define CHECK_CLOSE(a, b, n, rtol, atol)                                     \
  do {                                                                      \
    pfw_test_checks++;                                                      \
    for (long i_ = 0; i_ < (long)(n); i_++) {                               \
      double x_ = (double)(a)[i_], y_ = (double)(b)[i_];                    \
      if (!(fabs(x_ - y_) <= (atol) + (rtol)*fabs(y_))) {                   \
        pfw_test_failures++;                                                \
        fprintf(stderr, "%s:%d: %s[%ld]=%.9g vs %s[%ld]=%.9g\n", __FILE__,  \
                __LINE__, #a, i_, x_, #b, i_, y_);                          \
        break;                                                              \
      }                                                                     \
    }                                                                       \
  } while (0)

/* Checks that pfw_last_error() contains `needle`. */
#define CHECK_ERROR_HAS(needle)                                             \
  do {                                                                      \
    pfw_test_checks++;                                                      \
    if (!strstr(pfw_last_error(), (needle))) {                              \
      pfw_test_failures++;                                                  \
      fprintf(stderr, "%s:%d: error \"%s\" lacks \"%s\"\n", __FILE__, __LINE__, \
              pfw_last_error(), (needle));                                  \
    }                                                                       \
  } while (0)

#define TEST_MAIN_END()                                                     \
  do {                                                                      \
    printf("%s: %d checks, %d failed\n", __FILE__, pfw_test_checks,         \
           pfw_test_failures);                                              \
    return pfw_test_failures ? 1 : 0;                                       \
  } while (0)

#endif
