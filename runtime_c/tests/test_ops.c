/* Op unit tests (util helpers, registry, elementwise, Gemm/MatMul, Softmax):
 * nodes built by hand, prepare + run called directly, results compared with
 * plain reference loops. Shape ops and BatchNormalization are in
 * test_ops_shape.c, Conv and the pools in test_ops_conv.c. */
#include <stdint.h>

#include "op_harness.h"

/* ---- util helpers ---------------------------------------------------------------- */

static void test_util(void) {
  CHECK(pfw_dtype_size(PFW_FLOAT32) == 4 && pfw_dtype_size(PFW_INT64) == 8 && pfw_dtype_size(PFW_BOOL) == 1);
  /* A string element is the runtime's (pointer, size) pair. */
  CHECK(pfw_dtype_size(PFW_STRING) == sizeof(pfw_string) && pfw_dtype_size((pfw_dtype)99) == 0);
  CHECK(strcmp(pfw_dtype_name(PFW_FLOAT32), "float32") == 0 && strcmp(pfw_dtype_name(PFW_BFLOAT16), "bfloat16") == 0);
  CHECK(strcmp(pfw_dtype_name((pfw_dtype)99), "unknown") == 0);
  int64_t p;
  CHECK(!pfw_mul_overflows(3, 4, &p) && p == 12);
  CHECK(pfw_mul_overflows(INT64_MAX / 2, 3, &p));
  CHECK(pfw_mul_overflows(-1, 3, &p));
  CHECK(!pfw_mul_overflows(0, INT64_MAX, &p) && p == 0);

  int32_t r, ax;
  int64_t out[PFW_MAX_RANK];
  CHECK_OK(pfw_broadcast_shape(3, (int64_t[]){3, 1, 5}, 2, (int64_t[]){4, 1}, &r, out));
  CHECK(r == 3 && out[0] == 3 && out[1] == 4 && out[2] == 5);
  CHECK_OK(pfw_broadcast_shape(0, NULL, 2, (int64_t[]){0, 2}, &r, out));
  CHECK(r == 2 && out[0] == 0 && out[1] == 2);
  CHECK_STATUS(pfw_broadcast_shape(2, (int64_t[]){2, 3}, 1, (int64_t[]){4}, &r, out), PFW_ERR_SHAPE);
  CHECK_ERROR_HAS("cannot be broadcast");
  CHECK_OK(pfw_norm_axis(-1, 4, "axis", &ax));
  CHECK(ax == 3);
  CHECK_STATUS(pfw_norm_axis(4, 4, "attribute 'axis'", &ax), PFW_ERR_INVALID_MODEL);
  CHECK_ERROR_HAS("attribute 'axis' 4");

  pfw_tensor t;
  memset(&t, 0, sizeof t);
  CHECK_OK(pfw_set_output(&t, PFW_INT64, 2, (int64_t[]){3, 5}));
  CHECK(t.nbytes == 120 && pfw_numel(&t) == 15 && t.dtype == PFW_INT64);
  CHECK_STATUS(pfw_set_output(&t, PFW_FLOAT32, 9, out), PFW_ERR_UNSUPPORTED);
  CHECK_STATUS(pfw_set_output(&t, PFW_FLOAT32, 1, (int64_t[]){-2}), PFW_ERR_SHAPE);
  CHECK_STATUS(pfw_set_output(&t, PFW_FLOAT32, 2, (int64_t[]){INT64_MAX / 2, 2}), PFW_ERR_SHAPE);
  CHECK_STATUS(pfw_set_output(&t, PFW_FLOAT64, 1, (int64_t[]){INT64_MAX / 4}), PFW_ERR_SHAPE);
  CHECK_OK(pfw_set_output(&t, PFW_STRING, 1, (int64_t[]){2}));
  CHECK(t.nbytes == 2 * sizeof(pfw_string));
  CHECK_STATUS(pfw_set_output(&t, PFW_DTYPE_UNDEFINED, 1, (int64_t[]){2}), PFW_ERR_UNSUPPORTED);

  tnode n;
  tn_init(&n, PFW_OP_Gemm, 13);
  tn_int(&n, "i", 7);
  tn_float(&n, "f", 2.5f);
  tn_str(&n, "s", "SAME_UPPER");
  INTS(&n, "v", 1, 2, 3);
  int32_t cnt;
  CHECK(pfw_attr_int(&n.node, "i", 0) == 7 && pfw_attr_int(&n.node, "zz", -3) == -3);
  CHECK(pfw_attr_int(&n.node, "f", 9) == 9); /* wrong type reads as absent */
  CHECK(pfw_attr_float(&n.node, "f", 0) == 2.5f && pfw_attr_float(&n.node, "i", 0) == 7.0f);
  CHECK(strcmp(pfw_attr_string(&n.node, "s", "x"), "SAME_UPPER") == 0);
  CHECK(strcmp(pfw_attr_string(&n.node, "q", "x"), "x") == 0);
  const int64_t* v = pfw_attr_ints(&n.node, "v", &cnt);
  CHECK(v && cnt == 3 && v[2] == 3);
  CHECK(!pfw_attr_ints(&n.node, "i", &cnt) && cnt == -1);
  CHECK(!pfw_attr_floats(&n.node, "v", &cnt) && cnt == -1);
  CHECK(pfw_attr_find(&n.node, "s") != NULL && pfw_attr_find(&n.node, "nope") == NULL);
  float x[2] = {0};
  F32(&n, x, 2);
  CHECK_STATUS(pfw_check_input(&n.node, 0, PFW_INT32, -1), PFW_ERR_UNSUPPORTED);
  CHECK_ERROR_HAS("input 0 has dtype float32, expected int32");
  CHECK_STATUS(pfw_check_input(&n.node, 0, PFW_FLOAT32, 2), PFW_ERR_SHAPE);
  CHECK_STATUS(pfw_check_input(&n.node, 1, PFW_FLOAT32, -1), PFW_ERR_INVALID_MODEL);
  CHECK_OK(pfw_check_input(&n.node, 0, PFW_FLOAT32, 1));

  CHECK(pfw_find_op(PFW_OP_Conv) != NULL && pfw_find_op(PFW_OP_Custom) == NULL);
  CHECK(pfw_find_op(PFW_OP_RoiAlign) == NULL && pfw_find_op(65535) == NULL); /* no kernel: imported as other ops */
  CHECK(pfw_find_op(PFW_OP_Relu)->flags & PFW_OPF_INPLACE);
  CHECK(pfw_find_op(PFW_OP_Reshape)->flags & PFW_OPF_ALIAS);
}

/* ---- elementwise ------------------------------------------------------------------- */

/* Element offset in an operand of shape (r, d) of output index `idx` (rank ro). */
static int64_t bcast_offset(int32_t ro, const int64_t* idx, int32_t r, const int64_t* d) {
  int64_t off = 0;
  for (int32_t k = 0; k < r; k++) off = off * d[k] + (d[k] == 1 ? 0 : idx[ro - r + k]);
  return off;
}

static double ref_binary(int op, double a, double b) {
  return op == 0 ? a + b : op == 1 ? a - b : op == 2 ? a * b : a / b;
}

/* Runs op on a (ra, da) and b (rb, db) with random values for each dtype,
 * checking shape `want` and every element against a reference loop. */
static void check_binary(int op, int32_t ra, const int64_t* da, int32_t rb, const int64_t* db, int32_t rw,
                         const int64_t* want) {
  static const uint16_t ops[4] = {PFW_OP_Add, PFW_OP_Sub, PFW_OP_Mul, PFW_OP_Div};
  static const pfw_dtype dts[4] = {PFW_FLOAT32, PFW_FLOAT64, PFW_INT32, PFW_INT64};
  int64_t na = 1, nb = 1, nw = 1;
  for (int32_t k = 0; k < ra; k++) na *= da[k];
  for (int32_t k = 0; k < rb; k++) nb *= db[k];
  for (int32_t k = 0; k < rw; k++) nw *= want[k];
  for (int d = 0; d < 4; d++) {
    pfw_dtype dt = dts[d];
    size_t es = pfw_dtype_size(dt);
    char* a = malloc((size_t)na * es + 1);
    char* b = malloc((size_t)nb * es + 1);
    double* av = malloc(sizeof(double) * (size_t)(na + 1));
    double* bv = malloc(sizeof(double) * (size_t)(nb + 1));
    for (int64_t i = 0; i < na + nb; i++) {
      double v = d < 2 ? urand() * 4 : (double)(int)(urand() * 100);
      bool is_b = i >= na;
      if (is_b && op == 3 && (d >= 2 ? v == 0 : fabs(v) < 0.25)) v = d >= 2 ? 7 : 0.5; /* safe divisor */
      double* dst = is_b ? &bv[i - na] : &av[i];
      char* raw = is_b ? b + (size_t)(i - na) * es : a + (size_t)i * es;
      *dst = v;
      if (dt == PFW_FLOAT32) { float f = (float)v; memcpy(raw, &f, 4); *dst = f; }
      else if (dt == PFW_FLOAT64) memcpy(raw, &v, 8);
      else if (dt == PFW_INT32) { int32_t x = (int32_t)v; memcpy(raw, &x, 4); }
      else { int64_t x = (int64_t)v; memcpy(raw, &x, 8); }
    }
    tnode t;
    tn_init(&t, ops[op], 14);
    tn_in(&t, dt, a, ra, da);
    tn_in(&t, dt, b, rb, db);
    CHECK_OK(tn_exec(&t));
    pfw_tensor* y = &t.tout[0];
    CHECK(y->dtype == dt && y->rank == rw && memcmp(y->dims, want, sizeof(int64_t) * (size_t)rw) == 0);
    int64_t idx[PFW_MAX_RANK] = {0};
    int bad = 0;
    for (int64_t i = 0; i < nw && y->data; i++) {
      double x = av[bcast_offset(rw, idx, ra, da)], z = bv[bcast_offset(rw, idx, rb, db)];
      double got, exp_v = ref_binary(op, x, z);
      if (dt == PFW_FLOAT32) got = ((float*)y->data)[i], exp_v = (float)exp_v;
      else if (dt == PFW_FLOAT64) got = ((double*)y->data)[i];
      else {
        got = dt == PFW_INT32 ? ((int32_t*)y->data)[i] : (double)((int64_t*)y->data)[i];
        if (op == 3) exp_v = trunc(exp_v); /* truncation toward zero */
      }
      if (!(fabs(got - exp_v) <= (dt == PFW_FLOAT32 ? 1.2e-7 : 1e-12) * fabs(exp_v))) bad++;
      for (int32_t k = rw - 1; k >= 0 && ++idx[k] == want[k]; k--) idx[k] = 0;
    }
    if (bad) fprintf(stderr, "binary op %d dtype %s: %d wrong elements\n", op, pfw_dtype_name(dt), bad);
    CHECK(bad == 0);
    tn_free(&t);
    free(a), free(b), free(av), free(bv);
  }
}

static void test_binary(void) {
  struct { int32_t ra; int64_t a[5]; int32_t rb; int64_t b[5]; int32_t rw; int64_t w[5]; } cases[] = {
      {2, {3, 4}, 2, {3, 4}, 2, {3, 4}},
      {2, {3, 4}, 0, {0}, 2, {3, 4}},
      {0, {0}, 2, {3, 4}, 2, {3, 4}},
      {0, {0}, 0, {0}, 0, {0}},
      {2, {2, 3}, 1, {1}, 2, {2, 3}},
      {3, {2, 3, 5}, 1, {5}, 3, {2, 3, 5}},
      {3, {3, 1, 5}, 3, {1, 4, 1}, 3, {3, 4, 5}},
      {4, {2, 3, 4, 5}, 3, {3, 1, 5}, 4, {2, 3, 4, 5}},
      {2, {4, 1}, 4, {2, 3, 1, 6}, 4, {2, 3, 4, 6}},
      {5, {2, 1, 3, 1, 7}, 4, {4, 1, 2, 7}, 5, {2, 4, 3, 2, 7}},
      {3, {1, 1, 1}, 1, {3}, 3, {1, 1, 3}},
      {2, {0, 3}, 1, {3}, 2, {0, 3}},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
    for (int op = 0; op < 4; op++)
      check_binary(op, cases[c].ra, cases[c].a, cases[c].rb, cases[c].b, cases[c].rw, cases[c].w);
}

static void test_binary_errors(void) {
  float a[6] = {0}, b[4] = {0};
  tnode t;
  tn_init(&t, PFW_OP_Add, 14);
  F32(&t, a, 2, 3);
  F32(&t, b, 4);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_SHAPE);
  CHECK_ERROR_HAS("broadcast");
  tn_init(&t, PFW_OP_Mul, 14);
  F32(&t, a, 2, 3);
  tn_in(&t, PFW_INT32, b, DIMS(3));
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_UNSUPPORTED);
  CHECK_ERROR_HAS("input 1 has dtype int32, expected float32");
  tn_init(&t, PFW_OP_Sub, 14);
  tn_in(&t, PFW_BOOL, a, DIMS(2));
  tn_in(&t, PFW_BOOL, b, DIMS(2));
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_UNSUPPORTED);
  CHECK_ERROR_HAS("bool");
  tn_init(&t, PFW_OP_Add, 14);
  F32(&t, a, 2, 3);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_INVALID_MODEL);

  /* Integer division: truncation, INT_MIN / -1 wraps, zero divisor is an error. */
  int32_t x[6] = {7, -7, 7, -7, INT32_MIN, 5}, y[6] = {2, 2, -2, -2, -1, 0};
  tn_init(&t, PFW_OP_Div, 14);
  tn_in(&t, PFW_INT32, x, DIMS(5));
  tn_in(&t, PFW_INT32, y, DIMS(5));
  CHECK_OK(tn_exec(&t));
  int32_t* q = t.tout[0].data;
  CHECK(q[0] == 3 && q[1] == -3 && q[2] == -3 && q[3] == 3 && q[4] == INT32_MIN);
  tn_free(&t);
  tn_init(&t, PFW_OP_Div, 14);
  tn_in(&t, PFW_INT32, x, DIMS(6));
  tn_in(&t, PFW_INT32, y, DIMS(6));
  CHECK_STATUS(tn_exec(&t), PFW_ERR_INVALID_ARGUMENT);
  CHECK_ERROR_HAS("division by zero");
  tn_free(&t);
  int64_t big[2] = {INT64_MAX, INT64_MIN}, two[2] = {2, -1};
  tn_init(&t, PFW_OP_Add, 14); /* overflow wraps rather than being UB */
  tn_in(&t, PFW_INT64, big, DIMS(2));
  tn_in(&t, PFW_INT64, two, DIMS(2));
  CHECK_OK(tn_exec(&t));
  CHECK(((int64_t*)t.tout[0].data)[0] == INT64_MIN + 1 && ((int64_t*)t.tout[0].data)[1] == INT64_MAX);
  tn_free(&t);
}

static void test_unary(void) {
  float x[12] = {-100, -88.7f, -20, -1, -1e-3f, -0.0f, 0, 1e-3f, 1, 20, 88.7f, 100};
  for (int op = 0; op < 3; op++) {
    static const uint16_t ops[3] = {PFW_OP_Relu, PFW_OP_Sigmoid, PFW_OP_Tanh};
    tnode t;
    tn_init(&t, ops[op], 14);
    F32(&t, x, 3, 4);
    CHECK_OK(tn_exec(&t));
    CHECK_SHAPE(&t.tout[0], 3, 4);
    float want[12];
    for (int i = 0; i < 12; i++) {
      double v = x[i];
      want[i] = (float)(op == 0 ? (v > 0 ? v : 0) : op == 1 ? 1 / (1 + exp(-v)) : tanh(v));
    }
    CHECK_CLOSE((float*)t.tout[0].data, want, 12, 1e-6, 1e-7);
    tn_free(&t);
    /* In place: output buffer == input buffer. */
    float y[12];
    memcpy(y, x, sizeof y);
    tn_init(&t, ops[op], 14);
    F32(&t, y, 12);
    CHECK_OK(tn_prepare(&t));
    t.tout[0].data = y;
    CHECK_OK(tn_run(&t));
    CHECK_CLOSE(y, want, 12, 1e-6, 1e-7);
    t.tout[0].data = NULL;
    /* float64 and the scalar case */
    double xd = -0.75, got;
    tn_init(&t, ops[op], 14);
    tn_in(&t, PFW_FLOAT64, &xd, 0, NULL);
    CHECK_OK(tn_exec(&t));
    got = *(double*)t.tout[0].data;
    CHECK(t.tout[0].rank == 0 &&
          fabs(got - (op == 0 ? 0.0 : op == 1 ? 1 / (1 + exp(0.75)) : tanh(-0.75))) < 1e-15);
    tn_free(&t);
  }
  int32_t xi[2] = {1, 2};
  tnode t;
  tn_init(&t, PFW_OP_Relu, 14);
  tn_in(&t, PFW_INT32, xi, DIMS(2));
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_UNSUPPORTED);
}

/* ---- Gemm / MatMul --------------------------------------------------------------- */

static void check_gemm(int64_t M, int64_t K, int64_t N, int ta, int tb, float alpha, float beta, int32_t rc,
                       const int64_t* cd, bool set_ab) {
  float* A = frand(M * K);
  float* B = frand(K * N);
  int64_t nc = 1;
  for (int32_t k = 0; k < rc; k++) nc *= cd[k];
  float* C = rc >= 0 ? frand(nc) : NULL;
  tnode t;
  tn_init(&t, PFW_OP_Gemm, 13);
  if (ta) F32(&t, A, K, M); else F32(&t, A, M, K);
  if (tb) F32(&t, B, N, K); else F32(&t, B, K, N);
  if (C) tn_in(&t, PFW_FLOAT32, C, rc, cd);
  if (ta) tn_int(&t, "transA", 1);
  if (tb) tn_int(&t, "transB", 1);
  if (set_ab) tn_float(&t, "alpha", alpha), tn_float(&t, "beta", beta);
  CHECK_OK(tn_exec(&t));
  CHECK_SHAPE(&t.tout[0], M, N);
  float* want = malloc(sizeof(float) * (size_t)(M * N + 1));
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      double s = 0;
      for (int64_t k = 0; k < K; k++)
        s += (double)(ta ? A[k * M + i] : A[i * K + k]) * (tb ? B[j * K + k] : B[k * N + j]);
      s *= set_ab ? alpha : 1.0;
      if (C) {
        int64_t ci = rc == 2 ? (cd[0] == 1 ? 0 : i) * cd[1] + (cd[1] == 1 ? 0 : j)
                   : rc == 1 ? (cd[0] == 1 ? 0 : j) : 0;
        s += (set_ab ? beta : 1.0) * C[ci];
      }
      want[i * N + j] = (float)s;
    }
  CHECK_CLOSE((float*)t.tout[0].data, want, M * N, 1e-6, 1e-6);
  tn_free(&t);
  free(A), free(B), free(C), free(want);
}

static void test_gemm(void) {
  check_gemm(3, 5, 4, 0, 0, 1, 1, -1, NULL, false);
  check_gemm(3, 5, 4, 0, 0, 0.5f, 2, 1, (int64_t[]){4}, true);
  check_gemm(3, 5, 4, 1, 0, 1, 1, 1, (int64_t[]){4}, false);
  check_gemm(3, 5, 4, 0, 1, 1, 1, 2, (int64_t[]){3, 4}, false);
  check_gemm(3, 5, 4, 1, 1, -1.5f, 0.25f, 2, (int64_t[]){3, 1}, true);
  check_gemm(3, 5, 4, 0, 0, 1, -0.5f, 2, (int64_t[]){1, 4}, true);
  check_gemm(3, 5, 4, 0, 0, 1, 3, 0, NULL, true);
  check_gemm(3, 5, 4, 0, 0, 1, 1, 1, (int64_t[]){1}, false);
  check_gemm(3, 5, 4, 0, 0, 2, 0, 2, (int64_t[]){3, 4}, true);
  check_gemm(7, 130, 300, 0, 0, 1, 1, 1, (int64_t[]){300}, false); /* > one column tile */
  check_gemm(9, 70, 270, 0, 1, 0.5f, 2, 2, (int64_t[]){9, 270}, true);
  check_gemm(1, 0, 3, 0, 0, 1, 1, 1, (int64_t[]){3}, false); /* K = 0: just C */

  /* Empty operands with NULL data (K = 0), transA, wider than a column tile. */
  float* cw = frand(300);
  tnode t;
  tn_init(&t, PFW_OP_Gemm, 13);
  tn_in(&t, PFW_FLOAT32, NULL, SH(0, 3));
  tn_in(&t, PFW_FLOAT32, NULL, SH(0, 300));
  F32(&t, cw, 300);
  tn_int(&t, "transA", 1);
  tn_float(&t, "beta", 2);
  CHECK_OK(tn_exec(&t));
  CHECK_SHAPE(&t.tout[0], 3, 300);
  CHECK(((float*)t.tout[0].data)[2 * 300 + 299] == 2 * cw[299]);
  tn_free(&t);
  tn_init(&t, PFW_OP_MatMul, 13);
  tn_in(&t, PFW_FLOAT32, NULL, SH(2, 0));
  tn_in(&t, PFW_FLOAT32, NULL, SH(0, 300));
  CHECK_OK(tn_exec(&t));
  CHECK(((float*)t.tout[0].data)[599] == 0);
  tn_free(&t);
  free(cw);

  float a[6] = {0}, b[12] = {0}, c[8] = {0};
  tn_init(&t, PFW_OP_Gemm, 13);
  F32(&t, a, 2, 3);
  F32(&t, b, 4, 3);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_SHAPE);
  CHECK_ERROR_HAS("inner dimensions");
  tn_init(&t, PFW_OP_Gemm, 13);
  F32(&t, a, 2, 3);
  F32(&t, b, 3, 4);
  F32(&t, c, 2, 2, 2);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_SHAPE);
  CHECK_ERROR_HAS("input 2 (C) has shape [2, 2, 2]");
  tn_init(&t, PFW_OP_Gemm, 13);
  F32(&t, a, 2, 3);
  F32(&t, b, 3, 4);
  F32(&t, c, 3);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_SHAPE);
  tn_init(&t, PFW_OP_Gemm, 13);
  F32(&t, a, 2, 3);
  F32(&t, b, 3, 4);
  tn_int(&t, "transA", 2);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_INVALID_MODEL);
  tn_init(&t, PFW_OP_Gemm, 13);
  F32(&t, a, 6);
  F32(&t, b, 3, 4);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_SHAPE);
  CHECK_ERROR_HAS("input 0 has rank 1, expected 2");
  tn_init(&t, PFW_OP_Gemm, 13);
  tn_in(&t, PFW_FLOAT64, a, DIMS(1, 3));
  F32(&t, b, 3, 4);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_UNSUPPORTED);
}

/* MatMul of a (ra, da) and b (rb, db), expecting output shape want. */
static void check_matmul(int32_t ra, const int64_t* da, int32_t rb, const int64_t* db, int32_t rw,
                         const int64_t* want) {
  int64_t na = 1, nb = 1, nw = 1;
  for (int32_t k = 0; k < ra; k++) na *= da[k];
  for (int32_t k = 0; k < rb; k++) nb *= db[k];
  for (int32_t k = 0; k < rw; k++) nw *= want[k];
  float* A = frand(na);
  float* B = frand(nb);
  tnode t;
  tn_init(&t, PFW_OP_MatMul, 13);
  tn_in(&t, PFW_FLOAT32, A, ra, da);
  tn_in(&t, PFW_FLOAT32, B, rb, db);
  CHECK_OK(tn_exec(&t));
  pfw_tensor* y = &t.tout[0];
  CHECK(y->rank == rw && (rw == 0 || memcmp(y->dims, want, sizeof(int64_t) * (size_t)rw) == 0));
  /* Reference: promote to 8-D [batch.., M, K] x [batch.., K, N]. */
  int64_t ea[8], eb[8], eo[8];
  for (int k = 0; k < 8; k++) ea[k] = eb[k] = 1;
  if (ra == 1) ea[7] = da[0];
  else for (int32_t k = 0; k < ra; k++) ea[8 - ra + k] = da[k];
  if (rb == 1) eb[6] = db[0];
  else for (int32_t k = 0; k < rb; k++) eb[8 - rb + k] = db[k];
  for (int k = 0; k < 6; k++) eo[k] = ea[k] == 1 ? eb[k] : ea[k];
  int64_t M = ea[6], K = ea[7], N = eb[7];
  float* ref = malloc(sizeof(float) * (size_t)(nw + 1));
  int64_t batches = 1, o = 0;
  for (int k = 0; k < 6; k++) batches *= eo[k];
  for (int64_t bi = 0; bi < batches; bi++) {
    int64_t idx[6], rem = bi, ao = 0, bo = 0;
    for (int k = 5; k >= 0; k--) idx[k] = rem % eo[k], rem /= eo[k];
    for (int k = 0; k < 6; k++) {
      ao = ao * ea[k] + (ea[k] == 1 ? 0 : idx[k]);
      bo = bo * eb[k] + (eb[k] == 1 ? 0 : idx[k]);
    }
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) {
        double s = 0;
        for (int64_t k = 0; k < K; k++) s += (double)A[(ao * M + i) * K + k] * B[(bo * K + k) * N + j];
        ref[o++] = (float)s;
      }
  }
  CHECK(o == nw);
  CHECK_CLOSE((float*)y->data, ref, nw, 1e-6, 1e-6);
  tn_free(&t);
  free(A), free(B), free(ref);
}

static void test_matmul(void) {
  check_matmul(SH(3, 4), SH(4, 5), SH(3, 5));
  check_matmul(SH(4), SH(4, 5), SH(5));
  check_matmul(SH(3, 4), SH(4), SH(3));
  check_matmul(SH(6), SH(6), 0, NULL);
  check_matmul(SH(2, 3, 4), SH(4, 5), SH(2, 3, 5));
  check_matmul(SH(3, 4), SH(2, 4, 5), SH(2, 3, 5));
  check_matmul(SH(4), SH(2, 4, 5), SH(2, 5));
  check_matmul(SH(2, 3, 4), SH(4), SH(2, 3));
  check_matmul(SH(2, 1, 3, 4), SH(3, 4, 5), SH(2, 3, 3, 5));
  check_matmul(SH(1, 3, 2, 4), SH(2, 1, 4, 6), SH(2, 3, 2, 6));
  check_matmul(SH(2, 5, 129), SH(129, 300), SH(2, 5, 300));
  check_matmul(SH(0, 3, 4), SH(4, 2), SH(0, 3, 2));
  check_matmul(SH(3, 0), SH(0, 2), SH(3, 2));

  float a[24] = {0};
  tnode t;
  tn_init(&t, PFW_OP_MatMul, 13);
  F32(&t, a, 2, 3);
  F32(&t, a, 4, 2);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_SHAPE);
  CHECK_ERROR_HAS("inner dimensions differ");
  tn_init(&t, PFW_OP_MatMul, 13);
  F32(&t, a, 2, 2, 3);
  F32(&t, a, 3, 3, 2);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_SHAPE);
  tn_init(&t, PFW_OP_MatMul, 13);
  F32(&t, a, 2, 3);
  tn_in(&t, PFW_FLOAT32, a, 0, NULL);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_SHAPE);
}

/* ---- Softmax ---------------------------------------------------------------------- */

/* Reference: softmax over the flattened dims [a0, a1) of x (rank r). */
static void ref_softmax(const float* x, float* y, int32_t r, const int64_t* d, int32_t a0, int32_t a1) {
  int64_t outer = 1, n = 1, inner = 1;
  for (int32_t k = 0; k < r; k++) *(k < a0 ? &outer : k < a1 ? &n : &inner) *= d[k];
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < inner; j++) {
      double m = -INFINITY, s = 0;
      /* Not fmax: GCC 12 for AArch64 crashes vectorizing that reduction at -O3. */
      for (int64_t i = 0; i < n; i++)
        if (x[(o * n + i) * inner + j] > m) m = x[(o * n + i) * inner + j];
      for (int64_t i = 0; i < n; i++) s += exp(x[(o * n + i) * inner + j] - m);
      for (int64_t i = 0; i < n; i++) y[(o * n + i) * inner + j] = (float)(exp(x[(o * n + i) * inner + j] - m) / s);
    }
}

static void check_softmax(int32_t version, bool has_axis, int64_t axis, int32_t r, const int64_t* d, float scale) {
  int64_t n = 1;
  for (int32_t k = 0; k < r; k++) n *= d[k];
  float* x = frand(n);
  for (int64_t i = 0; i < n; i++) x[i] *= scale;
  float* want = malloc(sizeof(float) * (size_t)n);
  int64_t ax = has_axis ? axis : version >= 13 ? -1 : 1;
  if (ax < 0) ax += r;
  if (version >= 13) ref_softmax(x, want, r, d, (int32_t)ax, (int32_t)ax + 1);
  else ref_softmax(x, want, r, d, (int32_t)ax, r);
  tnode t;
  tn_init(&t, PFW_OP_Softmax, version);
  tn_in(&t, PFW_FLOAT32, x, r, d);
  if (has_axis) tn_int(&t, "axis", axis);
  CHECK_OK(tn_exec(&t));
  CHECK(t.tout[0].rank == r && memcmp(t.tout[0].dims, d, sizeof(int64_t) * (size_t)r) == 0);
  CHECK_CLOSE((float*)t.tout[0].data, want, n, 1e-6, 1e-7);
  tn_free(&t);
  free(x), free(want);
}

static void test_softmax(void) {
  int64_t d3[3] = {2, 3, 4}, d4[4] = {2, 3, 2, 5}, d1[1] = {9}, d2[2] = {3, 7};
  for (int64_t ax = -3; ax < 3; ax++) check_softmax(13, true, ax, 3, d3, 5);
  check_softmax(13, false, 0, 3, d3, 5);
  check_softmax(13, false, 0, 1, d1, 5);
  check_softmax(13, true, 1, 2, d2, 1000); /* stability: exp would overflow unshifted */
  check_softmax(11, false, 0, 3, d3, 5);
  for (int64_t ax = -3; ax < 3; ax++) check_softmax(11, true, ax, 3, d3, 5);
  check_softmax(11, true, 2, 4, d4, 5);
  check_softmax(1, true, 1, 4, d4, 5);
  /* Exact small case: softmax([0, ln 3]) = [0.25, 0.75]. */
  float x[2] = {0, (float)log(3.0)}, want[2] = {0.25f, 0.75f};
  tnode t;
  tn_init(&t, PFW_OP_Softmax, 13);
  F32(&t, x, 2);
  CHECK_OK(tn_exec(&t));
  CHECK_CLOSE((float*)t.tout[0].data, want, 2, 1e-6, 0);
  tn_free(&t);
  tn_init(&t, PFW_OP_Softmax, 13);
  F32(&t, x, 2);
  tn_int(&t, "axis", 1);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_INVALID_MODEL);
  CHECK_ERROR_HAS("attribute 'axis' 1 is out of range");
  tn_init(&t, PFW_OP_Softmax, 13);
  tn_in(&t, PFW_INT64, x, DIMS(1));
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_UNSUPPORTED);
}

int main(void) {
  test_util();
  test_binary();
  test_binary_errors();
  test_unary();
  test_gemm();
  test_matmul();
  test_softmax();
  TEST_MAIN_END();
}
