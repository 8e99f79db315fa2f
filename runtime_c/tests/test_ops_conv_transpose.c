/* ConvTranspose against a plain scatter loop (every input value times every
 * tap, added at o = i*s - pb + t*d when inside the output), over 1-D/2-D/3-D,
 * strides, dilations, pads, groups and output_padding; a hand-computed case,
 * the attribute errors, and thread-count independence. */
#include <stdint.h>

#include "op_harness.h"

typedef struct ct_case {
  int32_t nsp;
  int64_t N, C, M, group;
  int64_t in[3], k[3], s[3], d[3], adj[3], pads[6];
  bool bias;
} ct_case;

static void run_case(const ct_case* c, pfw_threadpool* pool) {
  int32_t n = c->nsp, off = 3 - n;
  int64_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, d[3] = {1, 1, 1}, pb[3] = {0}, out[3] = {1, 1, 1};
  for (int32_t i = 0; i < n; i++) {
    int32_t a = off + i;
    in[a] = c->in[i], k[a] = c->k[i], s[a] = c->s[i], d[a] = c->d[i], pb[a] = c->pads[i];
    out[a] = s[a] * (in[a] - 1) + c->adj[i] + (k[a] - 1) * d[a] + 1 - c->pads[i] - c->pads[n + i];
  }
  int64_t Cg = c->C / c->group, Mg = c->M / c->group, ksz = k[0] * k[1] * k[2], isz = in[0] * in[1] * in[2];
  int64_t osz = out[0] * out[1] * out[2];
  float *x = frand(c->N * c->C * isz), *w = frand(c->C * Mg * ksz), *b = c->bias ? frand(c->M) : NULL;
  double* want = calloc((size_t)(c->N * c->M * osz), sizeof(double));
  for (int64_t nb = 0; nb < c->N; nb++)
    for (int64_t ci = 0; ci < c->C; ci++)
      for (int64_t ml = 0; ml < Mg; ml++)
        for (int64_t i = 0; i < isz; i++)
          for (int64_t t = 0; t < ksz; t++) {
            int64_t iz = i / (in[1] * in[2]), iy = i / in[2] % in[1], ix = i % in[2];
            int64_t tz = t / (k[1] * k[2]), ty = t / k[2] % k[1], tx = t % k[2];
            int64_t oz = iz * s[0] - pb[0] + tz * d[0], oy = iy * s[1] - pb[1] + ty * d[1];
            int64_t ox = ix * s[2] - pb[2] + tx * d[2];
            if (oz < 0 || oz >= out[0] || oy < 0 || oy >= out[1] || ox < 0 || ox >= out[2]) continue;
            int64_t m = ci / Cg * Mg + ml;
            want[((nb * c->M + m) * out[0] + oz) * out[1] * out[2] + oy * out[2] + ox] +=
                (double)x[(nb * c->C + ci) * isz + i] * w[(ci * Mg + ml) * ksz + t];
          }
  float* wantf = malloc(sizeof(float) * (size_t)(c->N * c->M * osz));
  for (int64_t j = 0; j < c->N * c->M * osz; j++) wantf[j] = (float)(want[j] + (b ? b[j / osz % c->M] : 0));
  int64_t xd[5] = {c->N, c->C}, wd[5] = {c->C, Mg}, yd[5] = {c->N, c->M};
  for (int32_t i = 0; i < n; i++) xd[2 + i] = c->in[i], wd[2 + i] = c->k[i], yd[2 + i] = out[off + i];
  tnode t;
  tn_init(&t, PFW_OP_ConvTranspose, 11);
  tn_in(&t, PFW_FLOAT32, x, n + 2, xd);
  tn_in(&t, PFW_FLOAT32, w, n + 2, wd);
  if (b) F32(&t, b, c->M);
  tn_int(&t, "group", c->group);
  tn_ints(&t, "strides", n, c->s);
  tn_ints(&t, "dilations", n, c->d);
  tn_ints(&t, "output_padding", n, c->adj);
  tn_ints(&t, "pads", 2 * n, c->pads);
  t.node.pool = pool;
  CHECK_OK(tn_exec(&t));
  CHECK(t.tout[0].rank == n + 2 && memcmp(t.tout[0].dims, yd, sizeof(int64_t) * (size_t)(n + 2)) == 0);
  CHECK_CLOSE((float*)t.tout[0].data, wantf, c->N * c->M * osz, 1e-5, 1e-5);
  tn_free(&t);
  free(x), free(w), free(b), free(want), free(wantf);
}

static void test_cases(void) {
  static const ct_case cases[] = {
      /* nsp N C M g  in       k        s        d        adj      pads            bias */
      {2, 2, 4, 3, 1, {5, 6}, {3, 3}, {1, 1}, {1, 1}, {0, 0}, {0, 0, 0, 0}, true},
      {2, 2, 4, 3, 1, {5, 6}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1, 1, 1}, false},
      {2, 1, 4, 6, 2, {4, 5}, {3, 2}, {3, 2}, {2, 1}, {2, 0}, {0, 1, 2, 1}, true},
      {2, 1, 4, 4, 4, {5, 5}, {3, 3}, {2, 2}, {1, 1}, {0, 1}, {1, 1, 1, 1}, true},
      {2, 1, 2, 2, 1, {3, 300}, {2, 3}, {1, 2}, {1, 1}, {0, 0}, {0, 1, 0, 2}, true}, /* long rows */
      {1, 2, 3, 2, 1, {7}, {4}, {3}, {1}, {2}, {1, 2}, true},
      {1, 1, 2, 4, 2, {6}, {3}, {1}, {3}, {0}, {3, 0}, false},
      {3, 1, 2, 2, 1, {3, 4, 3}, {2, 3, 2}, {2, 1, 2}, {1, 2, 1}, {1, 0, 0}, {0, 1, 1, 1, 0, 0}, true},
  };
  pfw_threadpool* pool = pfw_threadpool_create(3);
  CHECK(pool != NULL);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    run_case(&cases[i], NULL);
    run_case(&cases[i], pool);
  }
  pfw_threadpool_free(pool);

  /* Hand-computed: x = [1 2; 3 4], 2x2 ones kernel, stride 2: each value fills its own 2x2 block. */
  float x[4] = {1, 2, 3, 4}, w[4] = {1, 1, 1, 1};
  float want[16] = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
  tnode t;
  tn_init(&t, PFW_OP_ConvTranspose, 11);
  F32(&t, x, 1, 1, 2, 2);
  F32(&t, w, 1, 1, 2, 2);
  INTS(&t, "strides", 2, 2);
  CHECK_OK(tn_exec(&t));
  CHECK_SHAPE(&t.tout[0], 1, 1, 4, 4);
  CHECK_CLOSE((float*)t.tout[0].data, want, 16, 0, 0);
  tn_free(&t);
}

static void test_errors(void) {
  float x[2 * 4 * 5 * 5] = {0}, w[4 * 3 * 3 * 3] = {0};
  struct { int what; pfw_status st; const char* msg; } cases[] = {
      {0, PFW_ERR_INVALID_MODEL, "attribute 'group' is 3"},
      {1, PFW_ERR_SHAPE, "input 1 (W) has 3 input channels (dim 0), expected 4"},
      {2, PFW_ERR_INVALID_MODEL, "attribute 'output_padding'[0] is 2"},
      {3, PFW_ERR_SHAPE, "input 2 (B) has 5 values, expected 3"},
      {4, PFW_ERR_INVALID_MODEL, "attribute 'output_shape' has 3 values"},
      {5, PFW_ERR_SHAPE, "output size -"},
      {6, PFW_ERR_INVALID_MODEL, "attribute 'auto_pad' is 'SAME'"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int k = cases[i].what;
    tnode t;
    tn_init(&t, PFW_OP_ConvTranspose, 11);
    F32(&t, x, 2, 4, 5, 5);
    if (k == 1) F32(&t, w, 3, 4, 3, 3);
    else F32(&t, w, 4, 3, 3, 3);
    if (k == 3) F32(&t, x, 5);
    if (k == 0) tn_int(&t, "group", 3);
    if (k == 2) INTS(&t, "strides", 2, 2), INTS(&t, "output_padding", 2, 0);
    if (k == 4) INTS(&t, "output_shape", 9, 9, 9);
    if (k == 5) INTS(&t, "pads", 5, 0, 5, 0);
    if (k == 6) tn_str(&t, "auto_pad", "SAME");
    CHECK_STATUS(tn_prepare(&t), cases[i].st);
    CHECK_ERROR_HAS(cases[i].msg);
  }
}

int main(void) {
  test_cases();
  test_errors();
  TEST_MAIN_END();
}
