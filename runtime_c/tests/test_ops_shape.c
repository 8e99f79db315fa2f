/* Op unit tests for the shape ops (Reshape, Flatten, Identity, Transpose,
 * Concat) and BatchNormalization: nodes built by hand, results compared with
 * hand-computed values and plain reference loops. */
#include <stdint.h>

#include "op_harness.h"

/* ---- shape ops --------------------------------------------------------------------- */

static void check_reshape(const int64_t* shape, int32_t n, bool allowzero, int32_t rw, const int64_t* want,
                          pfw_status expect) {
  float x[24];
  for (int i = 0; i < 24; i++) x[i] = (float)i;
  tnode t;
  tn_init(&t, PFW_OP_Reshape, 14);
  F32(&t, x, 2, 3, 4);
  pfw_tensor* s = tn_in(&t, PFW_INT64, shape, 1, (int64_t[]){n});
  s->is_const = true;
  if (allowzero) tn_int(&t, "allowzero", 1);
  pfw_status st = tn_exec(&t);
  CHECK_STATUS(st, expect);
  if (st == PFW_OK) {
    CHECK(t.tout[0].rank == rw && memcmp(t.tout[0].dims, want, sizeof(int64_t) * (size_t)rw) == 0);
    CHECK(t.tout[0].nbytes == sizeof x && memcmp(t.tout[0].data, x, sizeof x) == 0);
  }
  tn_free(&t);
}

static void test_reshape(void) {
  check_reshape((int64_t[]){0, -1}, 2, false, SH(2, 12), PFW_OK);
  check_reshape((int64_t[]){-1, 4}, 2, false, SH(6, 4), PFW_OK);
  check_reshape((int64_t[]){4, 0, -1}, 3, false, SH(4, 3, 2), PFW_OK);
  check_reshape((int64_t[]){1, 0, 0, -1}, 4, false, SH(1, 3, 4, 2), PFW_OK);
  check_reshape((int64_t[]){24}, 1, false, SH(24), PFW_OK);
  check_reshape((int64_t[]){2, 3, 2, 2}, 4, false, SH(2, 3, 2, 2), PFW_OK);
  check_reshape((int64_t[]){-1}, 1, false, SH(24), PFW_OK);
  check_reshape((int64_t[]){5, -1}, 2, false, 0, NULL, PFW_ERR_SHAPE);
  check_reshape((int64_t[]){-1, -1}, 2, false, 0, NULL, PFW_ERR_INVALID_MODEL);
  check_reshape((int64_t[]){2, -2, 6}, 3, false, 0, NULL, PFW_ERR_INVALID_MODEL);
  check_reshape((int64_t[]){4, 7}, 2, false, 0, NULL, PFW_ERR_SHAPE);
  check_reshape((int64_t[]){0, 12}, 2, true, 0, NULL, PFW_ERR_SHAPE); /* allowzero: 0 is a real 0 */
  check_reshape((int64_t[]){0, -1}, 2, true, 0, NULL, PFW_ERR_INVALID_MODEL);
  check_reshape((int64_t[]){2, 3, 4, 0}, 4, false, 0, NULL, PFW_ERR_SHAPE); /* copy past input rank */

  /* allowzero on an empty input keeps the 0. */
  tnode t;
  int64_t shape[2] = {0, 5};
  tn_init(&t, PFW_OP_Reshape, 14);
  tn_in(&t, PFW_FLOAT32, NULL, DIMS(5, 0));
  tn_in(&t, PFW_INT64, shape, DIMS(2))->is_const = true;
  tn_int(&t, "allowzero", 1);
  CHECK_OK(tn_prepare(&t));
  CHECK_SHAPE(&t.tout[0], 0, 5);

  /* A shape not known while planning (computed from data) defers the node
   * to invoke; there, with the values known, it prepares. */
  float x[4] = {1, 2, 3, 4};
  int64_t s2[2] = {2, 2};
  tn_init(&t, PFW_OP_Reshape, 14);
  F32(&t, x, 4);
  tn_in(&t, PFW_INT64, s2, DIMS(2));
  CHECK_STATUS(tn_prepare(&t), PFW_DEFER);
  t.node.values_known = true;
  CHECK_OK(tn_prepare(&t));
  CHECK_SHAPE(&t.tout[0], 2, 2);
  tn_init(&t, PFW_OP_Reshape, 14);
  F32(&t, x, 4);
  tn_in(&t, PFW_INT32, s2, DIMS(2))->is_const = true;
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_UNSUPPORTED);
  /* Aliased: run must not copy (the buffers are the same). */
  tn_init(&t, PFW_OP_Reshape, 14);
  F32(&t, x, 4);
  tn_in(&t, PFW_INT64, s2, DIMS(2))->is_const = true;
  CHECK_OK(tn_prepare(&t));
  t.tout[0].data = x;
  CHECK_OK(tn_run(&t));
  CHECK_SHAPE(&t.tout[0], 2, 2);
  /* opset < 5: shape attribute */
  tn_init(&t, PFW_OP_Reshape, 1);
  F32(&t, x, 4);
  INTS(&t, "shape", 1, -1);
  CHECK_OK(tn_exec(&t));
  CHECK_SHAPE(&t.tout[0], 1, 4);
  tn_free(&t);
}

static void test_flatten_identity(void) {
  float x[120];
  for (int i = 0; i < 120; i++) x[i] = (float)i;
  int64_t want[7][2] = {{1, 120}, {2, 60}, {6, 20}, {24, 5}, {120, 1}, {24, 5}, {2, 60}};
  int64_t axes[7] = {0, 1, 2, 3, 4, -1, -3};
  for (int c = 0; c < 7; c++) {
    tnode t;
    tn_init(&t, PFW_OP_Flatten, 13);
    F32(&t, x, 2, 3, 4, 5);
    tn_int(&t, "axis", axes[c]);
    CHECK_OK(tn_exec(&t));
    CHECK_SHAPE(&t.tout[0], want[c][0], want[c][1]);
    CHECK(memcmp(t.tout[0].data, x, sizeof x) == 0);
    tn_free(&t);
  }
  tnode t;
  tn_init(&t, PFW_OP_Flatten, 13);
  F32(&t, x, 2, 3, 4, 5);
  CHECK_OK(tn_prepare(&t));
  CHECK_SHAPE(&t.tout[0], 2, 60);
  tn_init(&t, PFW_OP_Flatten, 13);
  F32(&t, x, 2, 3);
  tn_int(&t, "axis", 3);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_INVALID_MODEL);

  int32_t xi[3] = {4, -5, 6};
  tn_init(&t, PFW_OP_Identity, 16);
  tn_in(&t, PFW_INT32, xi, DIMS(3));
  CHECK_OK(tn_exec(&t));
  CHECK(t.tout[0].dtype == PFW_INT32 && memcmp(t.tout[0].data, xi, sizeof xi) == 0);
  tn_free(&t);
  uint8_t bools[2] = {1, 0};
  tn_init(&t, PFW_OP_Identity, 16);
  tn_in(&t, PFW_BOOL, bools, 0, NULL);
  CHECK_OK(tn_exec(&t));
  CHECK(t.tout[0].rank == 0 && t.tout[0].nbytes == 1 && *(uint8_t*)t.tout[0].data == 1);
  tn_free(&t);
}

static void check_transpose(int32_t r, const int64_t* d, const int64_t* perm, pfw_dtype dt) {
  int64_t n = 1;
  for (int32_t k = 0; k < r; k++) n *= d[k];
  size_t es = pfw_dtype_size(dt);
  uint8_t* x = malloc((size_t)n * es + 1);
  for (size_t i = 0; i < (size_t)n * es; i++) x[i] = (uint8_t)(i * 7 + i / 5);
  tnode t;
  tn_init(&t, PFW_OP_Transpose, 13);
  tn_in(&t, dt, x, r, d);
  int64_t p[PFW_MAX_RANK];
  for (int32_t k = 0; k < r; k++) p[k] = perm ? perm[k] : r - 1 - k;
  if (perm) tn_ints(&t, "perm", r, perm);
  CHECK_OK(tn_exec(&t));
  pfw_tensor* y = &t.tout[0];
  CHECK(y->rank == r && y->dtype == dt);
  int bad = 0;
  int64_t idx[PFW_MAX_RANK] = {0};
  for (int64_t i = 0; i < n; i++) { /* output element i, output index idx */
    int64_t src = 0;
    int64_t xi[PFW_MAX_RANK];
    for (int32_t k = 0; k < r; k++) xi[p[k]] = idx[k];
    for (int32_t k = 0; k < r; k++) src = src * d[k] + xi[k];
    if (memcmp((uint8_t*)y->data + i * (int64_t)es, x + src * (int64_t)es, es) != 0) bad++;
    for (int32_t k = r - 1; k >= 0 && ++idx[k] == y->dims[k]; k--) idx[k] = 0;
  }
  CHECK(bad == 0);
  tn_free(&t);
  free(x);
}

static void test_transpose(void) {
  check_transpose(SH(3, 5), NULL, PFW_FLOAT32);
  check_transpose(SH(2, 3, 4), NULL, PFW_FLOAT32);
  check_transpose(SH(2, 3, 4), (int64_t[]){0, 2, 1}, PFW_FLOAT32);
  check_transpose(SH(2, 3, 4), (int64_t[]){2, 0, 1}, PFW_INT64);
  check_transpose(SH(2, 3, 4), (int64_t[]){0, 1, 2}, PFW_UINT8);
  check_transpose(SH(2, 3, 4, 5), (int64_t[]){0, 2, 3, 1}, PFW_FLOAT16);
  check_transpose(SH(2, 3, 4, 5), (int64_t[]){3, 1, 0, 2}, PFW_INT32);
  check_transpose(SH(2, 1, 3, 1, 2, 3), (int64_t[]){5, 3, 1, 4, 0, 2}, PFW_FLOAT64);
  check_transpose(SH(7), NULL, PFW_FLOAT32);
  check_transpose(SH(3, 0, 2), NULL, PFW_FLOAT32);
  float x[6] = {0};
  tnode t;
  tn_init(&t, PFW_OP_Transpose, 13);
  F32(&t, x, 2, 3);
  INTS(&t, "perm", 0, 0);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_INVALID_MODEL);
  CHECK_ERROR_HAS("not a permutation");
  tn_init(&t, PFW_OP_Transpose, 13);
  F32(&t, x, 2, 3);
  INTS(&t, "perm", 1, 0, 2);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_INVALID_MODEL);
}

static void test_concat(void) {
  float a[6] = {1, 2, 3, 4, 5, 6}, b[4] = {7, 8, 9, 10}, c[2] = {11, 12};
  tnode t;
  tn_init(&t, PFW_OP_Concat, 13);
  F32(&t, a, 2, 3);
  F32(&t, b, 2, 2);
  F32(&t, c, 2, 1);
  tn_int(&t, "axis", -1);
  CHECK_OK(tn_exec(&t));
  CHECK_SHAPE(&t.tout[0], 2, 6);
  float w1[12] = {1, 2, 3, 7, 8, 11, 4, 5, 6, 9, 10, 12};
  CHECK_CLOSE((float*)t.tout[0].data, w1, 12, 0, 0);
  tn_free(&t);
  int64_t ia[6] = {1, 2, 3, 4, 5, 6}, ib[3] = {7, 8, 9}, w2[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  tn_init(&t, PFW_OP_Concat, 13);
  tn_in(&t, PFW_INT64, ia, DIMS(2, 3));
  tn_in(&t, PFW_INT64, ib, DIMS(1, 3));
  tn_in(&t, PFW_INT64, NULL, DIMS(0, 3));
  tn_int(&t, "axis", 0);
  CHECK_OK(tn_exec(&t));
  CHECK_SHAPE(&t.tout[0], 3, 3);
  CHECK(memcmp(t.tout[0].data, w2, sizeof w2) == 0);
  tn_free(&t);
  /* Middle axis of a 3-D tensor, single input. */
  tn_init(&t, PFW_OP_Concat, 13);
  F32(&t, a, 1, 3, 2);
  tn_int(&t, "axis", 1);
  CHECK_OK(tn_exec(&t));
  CHECK(memcmp(t.tout[0].data, a, sizeof a) == 0);
  tn_free(&t);

  tn_init(&t, PFW_OP_Concat, 13);
  F32(&t, a, 2, 3);
  F32(&t, b, 2, 2);
  tn_int(&t, "axis", 0);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_SHAPE);
  CHECK_ERROR_HAS("input 1 has dimension 1 = 2, expected 3");
  tn_init(&t, PFW_OP_Concat, 13);
  F32(&t, a, 2, 3);
  tn_in(&t, PFW_INT64, ia, DIMS(2, 3));
  tn_int(&t, "axis", 0);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_UNSUPPORTED);
  tn_init(&t, PFW_OP_Concat, 13);
  F32(&t, a, 2, 3);
  F32(&t, b, 4);
  tn_int(&t, "axis", 0);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_SHAPE);
  tn_init(&t, PFW_OP_Concat, 13);
  F32(&t, a, 2, 3);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_INVALID_MODEL);
  CHECK_ERROR_HAS("'axis' is required");
  tn_init(&t, PFW_OP_Concat, 13);
  F32(&t, a, 2, 3);
  tn_int(&t, "axis", 2);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_INVALID_MODEL);
}

/* ---- BatchNormalization ------------------------------------------------------------ */

static void check_bn(int32_t r, const int64_t* d, float eps, int32_t version) {
  int64_t n = 1, C = d[1], size = 1;
  for (int32_t k = 0; k < r; k++) n *= d[k];
  for (int32_t k = 2; k < r; k++) size *= d[k];
  float* x = frand(n);
  float *sc = frand(C), *b = frand(C), *m = frand(C), *v = frand(C);
  for (int64_t c = 0; c < C; c++) v[c] = v[c] + 1.05f, sc[c] += 1.5f;
  tnode t;
  tn_init(&t, PFW_OP_BatchNormalization, version);
  tn_in(&t, PFW_FLOAT32, x, r, d);
  F32(&t, sc, C);
  F32(&t, b, C);
  F32(&t, m, C);
  F32(&t, v, C);
  if (eps >= 0) tn_float(&t, "epsilon", eps);
  CHECK_OK(tn_exec(&t));
  float* want = malloc(sizeof(float) * (size_t)n);
  double e = eps >= 0 ? eps : 1e-5f;
  for (int64_t i = 0; i < n; i++) {
    int64_t c = i / size % C;
    want[i] = (float)((x[i] - m[c]) / sqrt(v[c] + e) * sc[c] + b[c]);
  }
  CHECK_CLOSE((float*)t.tout[0].data, want, n, 1e-6, 1e-6);
  tn_free(&t);
  free(x), free(sc), free(b), free(m), free(v), free(want);
}

static void test_batchnorm(void) {
  check_bn(SH(2, 3, 4, 5), -1, 15);
  check_bn(SH(2, 3, 4, 5), 1e-2f, 15);
  check_bn(SH(1, 6, 3, 3), 0.5f, 9);
  check_bn(SH(4, 3), -1, 15);
  check_bn(SH(2, 3, 6), 1e-3f, 14);
  check_bn(SH(1, 2, 2, 2, 3), -1, 15);
  float x[12] = {0}, p[3] = {1, 1, 1}, q[2] = {1, 1};
  tnode t;
  tn_init(&t, PFW_OP_BatchNormalization, 15);
  F32(&t, x, 2, 3, 2);
  F32(&t, p, 3), F32(&t, p, 3), F32(&t, q, 2), F32(&t, p, 3);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_SHAPE);
  CHECK_ERROR_HAS("input 3 (input_mean) has 2 values, expected 3");
  tn_init(&t, PFW_OP_BatchNormalization, 15);
  F32(&t, x, 2, 3, 2);
  F32(&t, p, 3), F32(&t, p, 3), F32(&t, p, 3), F32(&t, p, 3);
  tn_int(&t, "training_mode", 1);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_UNSUPPORTED);
  CHECK_ERROR_HAS("training_mode");
  tn_init(&t, PFW_OP_BatchNormalization, 15);
  F32(&t, x, 2, 3, 2);
  F32(&t, p, 3), F32(&t, p, 3), F32(&t, p, 3);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_INVALID_MODEL);
  tn_init(&t, PFW_OP_BatchNormalization, 15);
  F32(&t, x, 2, 3, 2);
  F32(&t, p, 3), F32(&t, p, 3), F32(&t, p, 3);
  tn_in(&t, PFW_FLOAT64, p, DIMS(3));
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_UNSUPPORTED);
}

int main(void) {
  test_reshape();
  test_flatten_identity();
  test_transpose();
  test_concat();
  test_batchnorm();
  TEST_MAIN_END();
}
