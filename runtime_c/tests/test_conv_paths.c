/* Conv's faster paths on every SIMD level this CPU has, against a direct
 * double-precision loop, with the same bytes at 1, 2 and 3 threads:
 * - 3x3 stride 1 by Winograd F(4x4, 3x3) (ops/conv_winograd.c), within the
 *   bound the algorithm's steps allow (tests/test_conv_winograd.py derives
 *   it): (C + 16) 2^-24 |A^T| (sum_c |G| |g_c| |G^T| (.) |B^T| |d_c| |B|) |A|
 *   + |bias|, computed here tile by tile from the paper's matrices; and
 *   which shapes take the path;
 * - the GEMM path where threads share one packed im2col (few output
 *   columns; ops/conv_gemm.c), and the transposed GEMM for narrower planes
 *   (7x7), within the float sum bound (K + 4) 2^-24 (sum |w x| + |bias|),
 *   K = 9 C / group terms. */
#include <stdint.h>

#include "ops/ops_common.h"
#include "op_harness.h"

static const double BT[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                                {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
static const double G[6][3] = {{1.0 / 4, 0, 0},           {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                               {-1.0 / 6, 1.0 / 6, -1.0 / 6}, {1.0 / 24, 1.0 / 12, 1.0 / 6},
                               {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};
static const double AT[4][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};

typedef struct wcase {
  int64_t N, C, M, H, W, pads[4]; /* pads: top, left, bottom, right */
  bool bias;
  int64_t stride;
  int64_t group; /* 0: 1 */
  bool relu;     /* a fused Relu */
} wcase;

static int64_t groups_of(const wcase* c) { return c->group ? c->group : 1; }

static int64_t st_of(const wcase* c) { return c->stride; }
static int64_t ho_of(const wcase* c) { return (c->H + c->pads[0] + c->pads[2] - 3) / st_of(c) + 1; }
static int64_t wo_of(const wcase* c) { return (c->W + c->pads[1] + c->pads[3] - 3) / st_of(c) + 1; }

/* Pixel (y, x) of plane p, 0 in the padding; `absolute` takes |x|. */
static double px(const float* p, const wcase* c, int64_t y, int64_t x, bool absolute) {
  y -= c->pads[0], x -= c->pads[1];
  if (y < 0 || y >= c->H || x < 0 || x >= c->W) return 0;
  double v = p[y * c->W + x];
  return absolute ? fabs(v) : v;
}

/* The convolution in double; with `absolute`, of |w| and |x| (the sum of
 * |terms| the float bound scales). */
static void direct(const wcase* c, const float* x, const float* w, const float* b, double* y, bool absolute) {
  int64_t Ho = ho_of(c), Wo = wo_of(c), st = st_of(c);
  for (int64_t n = 0; n < c->N; n++)
    for (int64_t m = 0; m < c->M; m++)
      for (int64_t oy = 0; oy < Ho; oy++)
        for (int64_t ox = 0; ox < Wo; ox++) {
          double s = b ? (absolute ? fabs(b[m]) : b[m]) : 0;
          int64_t cg = c->C / groups_of(c), c0 = m / (c->M / groups_of(c)) * cg;
          for (int64_t ch = 0; ch < cg; ch++)
            for (int k = 0; k < 9; k++) {
              double wv = w[(m * cg + ch) * 9 + k];
              s += (absolute ? fabs(wv) : wv) *
                   px(x + (n * c->C + c0 + ch) * c->H * c->W, c, oy * st + k / 3, ox * st + k % 3, absolute);
            }
          /* Relu is 1-Lipschitz: the bound on the sum holds after it. */
          y[((n * c->M + m) * Ho + oy) * Wo + ox] = c->relu && !absolute && s < 0 ? 0 : s;
        }
}

/* The error bound per output (module comment). */
static void bound(const wcase* c, const float* x, const float* w, const float* b, double* e) {
  int64_t Ho = ho_of(c), Wo = wo_of(c);
  double* u = malloc(sizeof(double) * (size_t)(c->M * c->C * 36));
  for (int64_t mc = 0; mc < c->M * c->C; mc++)
    for (int i = 0; i < 6; i++)
      for (int j = 0; j < 6; j++) {
        double s = 0;
        for (int a = 0; a < 3; a++)
          for (int q = 0; q < 3; q++) s += fabs(G[i][a]) * fabs(w[mc * 9 + a * 3 + q]) * fabs(G[j][q]);
        u[mc * 36 + i * 6 + j] = s;
      }
  double* v = malloc(sizeof(double) * (size_t)(c->C * 36));
  for (int64_t n = 0; n < c->N; n++)
    for (int64_t ty = 0; ty < (Ho + 3) / 4; ty++)
      for (int64_t tx = 0; tx < (Wo + 3) / 4; tx++) {
        for (int64_t ch = 0; ch < c->C; ch++)
          for (int i = 0; i < 6; i++)
            for (int j = 0; j < 6; j++) {
              double s = 0;
              for (int r = 0; r < 6; r++)
                for (int q = 0; q < 6; q++)
                  s += fabs(BT[i][r]) * px(x + (n * c->C + ch) * c->H * c->W, c, 4 * ty + r, 4 * tx + q, true) *
                       fabs(BT[j][q]);
              v[ch * 36 + i * 6 + j] = s;
            }
        for (int64_t m = 0; m < c->M; m++) {
          double prod[36] = {0};
          for (int64_t ch = 0; ch < c->C; ch++)
            for (int k = 0; k < 36; k++) prod[k] += u[(m * c->C + ch) * 36 + k] * v[ch * 36 + k];
          for (int a = 0; a < 4 && 4 * ty + a < Ho; a++)
            for (int q = 0; q < 4 && 4 * tx + q < Wo; q++) {
              double s = b ? fabs(b[m]) : 0;
              for (int i = 0; i < 6; i++)
                for (int j = 0; j < 6; j++) s += fabs(AT[a][i]) * prod[i * 6 + j] * fabs(AT[q][j]);
              e[((n * c->M + m) * Ho + 4 * ty + a) * Wo + 4 * tx + q] = (double)(c->C + 16) * 0x1p-24 * s;
            }
        }
      }
  free(u);
  free(v);
}

static void build(tnode* t, const wcase* c, const float* x, const float* w, const float* b) {
  tn_init(t, PFW_OP_Conv, 11);
  F32(t, x, c->N, c->C, c->H, c->W);
  F32(t, w, c->M, c->C / groups_of(c), 3, 3)->is_const = true;
  if (b) F32(t, b, c->M);
  tn_ints(t, "pads", 4, c->pads);
  INTS(t, "strides", c->stride, c->stride);
  tn_int(t, "group", groups_of(c));
  if (c->relu) tn_str(t, "activation", "Relu");
}

static float* run(const wcase* c, const float* x, const float* w, const float* b, pfw_isa isa, int32_t threads) {
  tnode t;
  build(&t, c, x, w, b);
  pfw_threadpool* pool = pfw_threadpool_create(threads);
  t.node.isa = isa;
  t.node.pool = pool;
  t.node.num_threads = threads;
  CHECK_OK(tn_exec(&t));
  size_t ny = (size_t)pfw_numel(&t.tout[0]);
  float* y = malloc(sizeof(float) * ny);
  memcpy(y, t.tout[0].data, sizeof(float) * ny);
  tn_free(&t);
  pfw_threadpool_free(pool);
  return y;
}

/* Whether Conv takes the Winograd path for c at isa. */
static bool applies(const wcase* c, pfw_isa isa) {
  static float dummy[1];
  tnode t;
  build(&t, c, dummy, dummy, NULL);
  t.node.isa = isa;
  pfw_spatial g;
  int64_t in[2] = {c->H, c->W}, k[2] = {3, 3};
  CHECK_OK(pfw_spatial_init(&t.node, 2, in, k, false, &g));
  return pfw_conv_winograd_applies(&t.node, &g);
}

/* Whether Conv runs c's GEMM transposed at isa (narrow output planes). */
static bool transposed(const wcase* c, pfw_isa isa) {
  static float dummy[1];
  tnode t;
  build(&t, c, dummy, dummy, NULL);
  t.node.isa = isa;
  return pfw_conv_gemm_transposed(&t.node);
}

/* Winograd's bound, or the float sum's for other paths. */
static void test_case(const wcase* c, pfw_isa isa, bool winograd) {
  int64_t ny = c->N * c->M * ho_of(c) * wo_of(c);
  float *x = frand(c->N * c->C * c->H * c->W), *w = frand(c->M * c->C / groups_of(c) * 9);
  float* b = c->bias ? frand(c->M) : NULL;
  double *want = malloc(sizeof(double) * (size_t)ny), *e = malloc(sizeof(double) * (size_t)ny);
  direct(c, x, w, b, want, false);
  if (winograd) {
    bound(c, x, w, b, e);
  } else {
    direct(c, x, w, b, e, true);
    for (int64_t i = 0; i < ny; i++) e[i] *= (double)(9 * c->C / groups_of(c) + 4) * 0x1p-24;
  }
  float* one = run(c, x, w, b, isa, 1);
  int64_t bad = 0;
  for (int64_t i = 0; i < ny; i++) bad += !(fabs(one[i] - want[i]) <= e[i]);
  CHECK(bad == 0);
  if (bad) fprintf(stderr, "  C=%lld M=%lld %lldx%lld isa %d: %lld outputs out of bound\n", (long long)c->C,
                   (long long)c->M, (long long)c->H, (long long)c->W, (int)isa, (long long)bad);
  for (int32_t threads = 2; threads <= 3; threads++) {
    float* y = run(c, x, w, b, isa, threads);
    CHECK(memcmp(y, one, sizeof(float) * (size_t)ny) == 0);
    free(y);
  }
  free(one), free(x), free(w), free(b), free(want), free(e);
}

int main(void) {
  static const wcase cases[] = {
      {1, 16, 16, 16, 16, {1, 1, 1, 1}, true, 1, 1, false},   /* the smallest that applies: 16 tiles */
      {1, 17, 37, 17, 19, {1, 1, 1, 1}, true, 1, 1, false},   /* odd sizes: partial tiles, rows and vectors */
      {2, 20, 24, 9, 11, {0, 2, 2, 1}, false, 1, 1, false},   /* batch, asymmetric pads, no bias */
      {1, 260, 16, 14, 13, {1, 1, 1, 1}, true, 1, 1, false},  /* two K blocks */
      {1, 16, 20, 6, 90, {1, 1, 1, 1}, true, 1, 1, false},    /* long tile rows: blocks cut rows */
  };
  static const pfw_isa isas[] = {PFW_ISA_AVX2, PFW_ISA_AVX512};
  int ran = 0;
  for (size_t k = 0; k < sizeof isas / sizeof isas[0]; k++) {
    if (!pfw_cpu_supports(isas[k])) continue;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
      CHECK(applies(&cases[i], isas[k]));
      test_case(&cases[i], isas[k], true);
      ran++;
    }
    /* 12x12 outputs: two threads would split the rows, so they share one
     * packed im2col; stride 2 keeps it off Winograd. */
    wcase shared = {2, 64, 96, 24, 24, {1, 1, 0, 0}, true, 2, 1, false};
    CHECK(!applies(&shared, isas[k]) && !transposed(&shared, isas[k]));
    test_case(&shared, isas[k], false);
    /* 7x7 outputs fill 32-wide panels badly: the product runs transposed
     * (batch, groups, bias and a fused Relu applied after it, K blocks). */
    wcase narrow[] = {{2, 64, 96, 14, 14, {1, 1, 0, 0}, true, 2, 1, true},
                      {1, 64, 64, 9, 9, {0, 0, 0, 0}, false, 1, 2, false},
                      {1, 40, 64, 6, 6, {1, 1, 1, 1}, true, 1, 1, true}};
    for (size_t i = 0; i < sizeof narrow / sizeof narrow[0]; i++) {
      CHECK(!applies(&narrow[i], isas[k]) && transposed(&narrow[i], isas[k]));
      test_case(&narrow[i], isas[k], false);
    }
    ran += 1 + (int)(sizeof narrow / sizeof narrow[0]);
    /* Too few tiles, channels, or not stride 1: the GEMM path. */
    wcase few = {1, 16, 16, 12, 12, {0, 0, 0, 0}, true, 1, 1, false};
    wcase thin = {1, 8, 64, 32, 32, {1, 1, 1, 1}, true, 1, 1, false};
    CHECK(!applies(&few, isas[k]) && !applies(&thin, isas[k]));
    CHECK(!applies(&cases[0], PFW_ISA_SCALAR));
  }
  printf("test_conv_paths: %d cases on SIMD levels, %d checks, %d failures\n", ran, pfw_test_checks,
         pfw_test_failures);
  return pfw_test_failures != 0;
}
