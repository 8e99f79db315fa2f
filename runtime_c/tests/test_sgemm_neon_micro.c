/* The NEON sgemm micro-kernel against references, before any driver uses
 * it: every edge shape m x n, several depths, = and +=. Each element must be
 * bit-identical to a float fmaf chain in k order (sgemm.h's contract) and
 * within the rounding bound of a double-precision sum; C outside m x n must be
 * untouched. Other architectures have no NEON kernel: the test says so. */
#include <stdio.h>

#if defined(__aarch64__)
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "kernels/sgemm.h"
#include "test_util.h"

static uint32_t rng = 12345u;

/* Uniform in [-1, 1): both signs, so sums cancel as they do in real products. */
static float frand(void) {
  rng = rng * 1664525u + 1013904223u;
  return (float)(rng >> 8) / 8388608.0f - 1.0f;
}

static const float SENTINEL = -12345.5f;

static void check_shape(const pfw_sgemm_kernel* k, int64_t kc, int32_t m, int32_t n, bool accumulate) {
  const int32_t mr = k->mr, nr = k->nr;
  const int64_t ldc = nr + 3, rows = mr + 1; /* a spare row and columns past the tile */
  float* a = calloc((size_t)(kc * mr), sizeof(float));
  float* b = calloc((size_t)(kc * nr), sizeof(float));
  float* c = malloc((size_t)(rows * ldc) * sizeof(float));
  float* c0 = malloc((size_t)(rows * ldc) * sizeof(float));
  /* Packed panels: rows of A past m and columns of B past n are zero. */
  for (int64_t p = 0; p < kc; p++) {
    for (int32_t i = 0; i < m; i++) a[p * mr + i] = frand();
    for (int32_t j = 0; j < n; j++) b[p * nr + j] = frand();
  }
  for (int64_t e = 0; e < rows * ldc; e++) c[e] = c0[e] = SENTINEL;
  for (int32_t i = 0; i < m; i++)
    for (int32_t j = 0; j < n; j++) c[i * ldc + j] = c0[i * ldc + j] = frand();

  k->micro(kc, a, b, c, ldc, m, n, accumulate, NULL);

  int bad = 0;
  for (int64_t i = 0; i < rows; i++)
    for (int64_t j = 0; j < ldc; j++) {
      const float got = c[i * ldc + j];
      if (i >= m || j >= n) {
        if (memcmp(&got, &c0[i * ldc + j], sizeof got) != 0 && bad++ < 3)
          fprintf(stderr, "kc=%lld m=%d n=%d acc=%d: C[%lld][%lld] outside the tile changed to %.9g\n",
                  (long long)kc, m, n, accumulate, (long long)i, (long long)j, got);
        continue;
      }
      const float start = accumulate ? c0[i * ldc + j] : 0.0f;
      float chain = start;
      double exact = start, magnitude = fabs((double)start);
      for (int64_t p = 0; p < kc; p++) {
        const float x = a[p * mr + i], y = b[p * nr + j];
        chain = fmaf(x, y, chain);
        exact += (double)x * y; /* exact product; the double sum's own error is ~2^-29 of the bound */
        magnitude += fabs((double)x * y);
      }
      /* kc roundings of at most 2^-24 relative to the running partial sums,
       * each bounded by `magnitude`; 2^-23 leaves room for the double sum. */
      const double bound = (double)kc * ldexp(1.0, -23) * magnitude;
      const bool exact_chain = memcmp(&got, &chain, sizeof got) == 0;
      if ((!exact_chain || !(fabs(got - exact) <= bound)) && bad++ < 3)
        fprintf(stderr, "kc=%lld m=%d n=%d acc=%d: C[%lld][%lld]=%.9g, fmaf chain %.9g, exact %.17g (bound %.3g)\n",
                (long long)kc, m, n, accumulate, (long long)i, (long long)j, got, chain, exact, bound);
    }
  CHECK(bad == 0);
  free(a);
  free(b);
  free(c);
  free(c0);
}

int main(void) {
  const pfw_sgemm_kernel* k = &pfw_sgemm_f32_neon;
  printf("%s: %d x %d\n", k->name, k->mr, k->nr);
  const int64_t depths[] = {1, 7, 256};
  for (size_t d = 0; d < sizeof depths / sizeof depths[0]; d++)
    for (int32_t m = 1; m <= k->mr; m++)
      for (int32_t n = 1; n <= k->nr; n++)
        for (int acc = 0; acc < 2; acc++) check_shape(k, depths[d], m, n, acc);
  TEST_MAIN_END();
}

#else
int main(void) {
  printf("test_sgemm_neon_micro: skipped (the NEON kernel is built only for AArch64)\n");
  return 0;
}
#endif
