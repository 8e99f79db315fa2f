/* Conv and pooling op tests against plain reference loops (an 8-deep loop
 * convolution and a window loop that tests every tap), over odd sizes,
 * padding, strides, dilations, groups and 1-D/2-D/3-D; plus thread-count
 * independence of Conv/Gemm/MatMul. */
#include <stdint.h>
#include <time.h>

#include "op_harness.h"

/* Geometry of one case, spatial dims right-aligned into 3 (leading 1s). */
typedef struct geo {
  int32_t nsp;
  int64_t in[3], k[3], s[3], d[3], pb[3], pe[3], out[3];
} geo;

static void geo_fill(geo* g, int32_t nsp, const int64_t* in, const int64_t* k, const int64_t* s, const int64_t* d,
                     const int64_t* pads) {
  g->nsp = nsp;
  for (int a = 0; a < 3; a++) {
    int i = a - (3 - nsp);
    g->in[a] = i >= 0 ? in[i] : 1;
    g->k[a] = i >= 0 ? k[i] : 1;
    g->s[a] = i >= 0 && s ? s[i] : 1;
    g->d[a] = i >= 0 && d ? d[i] : 1;
    g->pb[a] = i >= 0 && pads ? pads[i] : 0;
    g->pe[a] = i >= 0 && pads ? pads[nsp + i] : 0;
    g->out[a] = (g->in[a] + g->pb[a] + g->pe[a] - (g->k[a] - 1) * g->d[a] - 1) / g->s[a] + 1;
  }
}

static void ref_conv(const float* x, const float* w, const float* b, float* y, int64_t N, int64_t C, int64_t M,
                     int64_t group, const geo* g) {
  int64_t Cg = C / group, Mg = M / group;
  for (int64_t n = 0; n < N; n++)
    for (int64_t m = 0; m < M; m++)
      for (int64_t oz = 0; oz < g->out[0]; oz++)
        for (int64_t oy = 0; oy < g->out[1]; oy++)
          for (int64_t ox = 0; ox < g->out[2]; ox++) {
            double s = b ? b[m] : 0;
            for (int64_t c = 0; c < Cg; c++)
              for (int64_t kz = 0; kz < g->k[0]; kz++)
                for (int64_t ky = 0; ky < g->k[1]; ky++)
                  for (int64_t kx = 0; kx < g->k[2]; kx++) {
                    int64_t iz = oz * g->s[0] - g->pb[0] + kz * g->d[0];
                    int64_t iy = oy * g->s[1] - g->pb[1] + ky * g->d[1];
                    int64_t ix = ox * g->s[2] - g->pb[2] + kx * g->d[2];
                    if (iz < 0 || iz >= g->in[0] || iy < 0 || iy >= g->in[1] || ix < 0 || ix >= g->in[2]) continue;
                    int64_t ci = m / Mg * Cg + c;
                    s += (double)x[(((n * C + ci) * g->in[0] + iz) * g->in[1] + iy) * g->in[2] + ix] *
                         w[(((m * Cg + c) * g->k[0] + kz) * g->k[1] + ky) * g->k[2] + kx];
                  }
            y[(((n * M + m) * g->out[0] + oz) * g->out[1] + oy) * g->out[2] + ox] = (float)s;
          }
}

typedef struct conv_case {
  int32_t nsp;
  int64_t N, C, M, group;
  int64_t in[3], k[3];
  int64_t s[3], d[3], pads[6]; /* 0 entries = attribute not set */
  const char* auto_pad;
  int64_t eff_pads[6]; /* pads auto_pad must produce (hand-computed) */
  bool bias, kernel_shape;
} conv_case;

static void run_conv_case(const conv_case* c) {
  int32_t n = c->nsp;
  geo g;
  const int64_t* pads = c->auto_pad ? c->eff_pads : (c->pads[0] || c->pads[n] || c->pads[1] || c->pads[n + 1] ||
                                                     (n == 3 && (c->pads[2] || c->pads[5])))
                                                        ? c->pads
                                                        : NULL;
  geo_fill(&g, n, c->in, c->k, c->s[0] ? c->s : NULL, c->d[0] ? c->d : NULL, pads);
  int64_t xs = c->N * c->C * g.in[0] * g.in[1] * g.in[2];
  int64_t ws = c->M * (c->C / c->group) * g.k[0] * g.k[1] * g.k[2];
  int64_t ys = c->N * c->M * g.out[0] * g.out[1] * g.out[2];
  float *x = frand(xs), *w = frand(ws), *b = c->bias ? frand(c->M) : NULL, *want = frand(ys);
  ref_conv(x, w, b, want, c->N, c->C, c->M, c->group, &g);
  int64_t xd[5] = {c->N, c->C}, wd[5] = {c->M, c->C / c->group}, yd[5] = {c->N, c->M};
  for (int32_t i = 0; i < n; i++) xd[2 + i] = c->in[i], wd[2 + i] = c->k[i], yd[2 + i] = g.out[3 - n + i];
  tnode t;
  tn_init(&t, PFW_OP_Conv, 11);
  tn_in(&t, PFW_FLOAT32, x, n + 2, xd);
  tn_in(&t, PFW_FLOAT32, w, n + 2, wd);
  if (b) F32(&t, b, c->M);
  if (c->group != 1) tn_int(&t, "group", c->group);
  if (c->s[0]) tn_ints(&t, "strides", n, c->s);
  if (c->d[0]) tn_ints(&t, "dilations", n, c->d);
  if (pads && !c->auto_pad) tn_ints(&t, "pads", 2 * n, c->pads);
  if (c->auto_pad) tn_str(&t, "auto_pad", c->auto_pad);
  if (c->kernel_shape) tn_ints(&t, "kernel_shape", n, c->k);
  CHECK_OK(tn_exec(&t));
  CHECK(t.tout[0].rank == n + 2 && memcmp(t.tout[0].dims, yd, sizeof(int64_t) * (size_t)(n + 2)) == 0);
  if (t.tout[0].data) CHECK_CLOSE((float*)t.tout[0].data, want, ys, 1e-5, 1e-6);
  tn_free(&t);
  free(x), free(w), free(b), free(want);
}

static void test_conv(void) {
  static const conv_case cases[] = {
      /* nsp N C M g  in         k          s        d        pads            auto  eff  bias ks */
      {2, 2, 4, 5, 1, {7, 8}, {3, 3}, {0}, {0}, {0}, NULL, {0}, true, false},
      {2, 2, 4, 5, 1, {7, 8}, {3, 3}, {0}, {0}, {0}, NULL, {0}, false, true},
      {2, 2, 4, 5, 1, {7, 8}, {3, 3}, {0}, {0}, {0, 1, 2, 1}, NULL, {0}, true, false},
      {2, 2, 4, 5, 1, {7, 8}, {3, 3}, {2, 2}, {0}, {1, 1, 1, 1}, NULL, {0}, true, false},
      {2, 2, 4, 5, 1, {7, 8}, {3, 3}, {1, 2}, {0}, {0}, NULL, {0}, false, false},
      {2, 2, 4, 5, 1, {7, 8}, {3, 3}, {0}, {2, 2}, {0}, NULL, {0}, true, false},
      {2, 2, 4, 3, 1, {7, 8}, {2, 3}, {2, 3}, {2, 1}, {1, 2, 0, 1}, NULL, {0}, true, false},
      {2, 2, 4, 6, 1, {7, 8}, {1, 1}, {0}, {0}, {0}, NULL, {0}, true, false},
      {2, 2, 4, 2, 1, {7, 8}, {5, 5}, {0}, {0}, {2, 2, 2, 2}, NULL, {0}, true, false},
      {2, 2, 4, 5, 1, {7, 8}, {3, 2}, {0}, {0}, {0}, NULL, {0}, true, true},
      {2, 2, 4, 4, 4, {7, 8}, {3, 3}, {0}, {0}, {1, 1, 1, 1}, NULL, {0}, true, false},
      {2, 2, 4, 8, 4, {7, 8}, {3, 3}, {2, 2}, {0}, {0}, NULL, {0}, true, false},
      {2, 2, 4, 6, 2, {7, 8}, {3, 3}, {0}, {0}, {1, 0, 1, 0}, NULL, {0}, true, false},
      {2, 2, 4, 4, 2, {7, 8}, {3, 3}, {0}, {0}, {0}, NULL, {0}, false, false},
      {2, 2, 4, 5, 1, {7, 8}, {3, 3}, {0}, {0}, {0}, "SAME_UPPER", {1, 1, 1, 1}, true, false},
      {2, 2, 4, 5, 1, {7, 8}, {3, 3}, {2, 2}, {0}, {0}, "SAME_UPPER", {1, 0, 1, 1}, true, false},
      {2, 2, 4, 5, 1, {7, 8}, {3, 3}, {2, 2}, {0}, {0}, "SAME_LOWER", {1, 1, 1, 0}, true, false},
      {2, 2, 4, 5, 1, {7, 8}, {4, 4}, {0}, {0}, {0}, "SAME_LOWER", {2, 2, 1, 1}, false, false},
      {2, 2, 4, 5, 1, {7, 8}, {3, 3}, {2, 2}, {0}, {0}, "VALID", {0}, true, false},
      {2, 1, 3, 2, 1, {5, 300}, {3, 3}, {0}, {0}, {1, 1, 1, 1}, NULL, {0}, true, false}, /* > one tile */
      {1, 2, 3, 4, 1, {10}, {3}, {0}, {0}, {0}, NULL, {0}, true, false},
      {1, 2, 3, 4, 1, {10}, {3}, {0}, {0}, {0}, NULL, {0}, false, true},
      {1, 2, 3, 4, 1, {10}, {3}, {2}, {0}, {2, 1}, NULL, {0}, true, false},
      {1, 2, 3, 4, 1, {10}, {3}, {0}, {3}, {0}, NULL, {0}, true, false},
      {1, 2, 3, 3, 3, {10}, {5}, {0}, {0}, {2, 2}, NULL, {0}, true, false},
      {1, 2, 3, 4, 1, {10}, {4}, {2}, {0}, {0}, "SAME_LOWER", {1, 1}, true, false},
      {1, 2, 3, 4, 1, {10}, {4}, {3}, {0}, {0}, "SAME_UPPER", {1, 2}, false, false},
      {1, 2, 3, 4, 1, {10}, {4}, {0}, {0}, {0}, "VALID", {0}, true, false},
      {3, 1, 2, 3, 1, {5, 6, 4}, {2, 3, 2}, {2, 1, 1}, {1, 2, 1}, {1, 0, 1, 0, 1, 1}, NULL, {0}, true, false},
      {3, 2, 4, 4, 2, {3, 4, 5}, {3, 1, 2}, {0}, {0}, {1, 0, 0, 1, 0, 1}, NULL, {0}, false, true},
      {2, 1, 1, 1, 1, {1, 1}, {3, 3}, {0}, {0}, {1, 1, 1, 1}, NULL, {0}, true, false}, /* 1x1 input, padded */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_conv_case(&cases[i]);

  /* Hand-computed: 1x1x3x3 ones input, 2x2 ones kernel, bias 0.5, pads 1. */
  float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[4] = {1, 1, 1, 1}, b[1] = {0.5f};
  float want[16] = {1.5f, 3.5f, 5.5f, 3.5f, 5.5f, 12.5f, 16.5f, 9.5f, 11.5f, 24.5f, 28.5f, 15.5f, 7.5f, 15.5f, 17.5f, 9.5f};
  tnode t;
  tn_init(&t, PFW_OP_Conv, 11);
  F32(&t, x, 1, 1, 3, 3);
  F32(&t, w, 1, 1, 2, 2);
  F32(&t, b, 1);
  INTS(&t, "pads", 1, 1, 1, 1);
  CHECK_OK(tn_exec(&t));
  CHECK_SHAPE(&t.tout[0], 1, 1, 4, 4);
  CHECK_CLOSE((float*)t.tout[0].data, want, 16, 0, 0);
  tn_free(&t);
}

static void test_conv_errors(void) {
  float x[2 * 4 * 5 * 5] = {0}, w[6 * 4 * 3 * 3] = {0};
  struct { int what; pfw_status st; const char* msg; } cases[] = {
      {0, PFW_ERR_INVALID_MODEL, "attribute 'group' is 3"},
      {1, PFW_ERR_SHAPE, "input 1 (W) has 4 channels per group, expected 2"},
      {2, PFW_ERR_SHAPE, "attribute 'kernel_shape'[1] is 2 but W has 3"},
      {3, PFW_ERR_INVALID_MODEL, "attribute 'auto_pad' is 'SAME'"},
      {4, PFW_ERR_INVALID_MODEL, "attribute 'strides'[0] is 0"},
      {5, PFW_ERR_INVALID_MODEL, "attribute 'pads' has 2 values, expected 4"},
      {6, PFW_ERR_SHAPE, "input 2 (B) has 5 values, expected 6"},
      {7, PFW_ERR_SHAPE, "smaller than the dilated kernel"},
      {8, PFW_ERR_UNSUPPORTED, "input 0 has dtype float64"},
      {9, PFW_ERR_SHAPE, "input 0 (X) has rank 2"},
      {10, PFW_ERR_INVALID_MODEL, "attribute 'pads'[1] is -1"},
      {11, PFW_ERR_SHAPE, "not a multiple of group=2"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int k = cases[i].what;
    tnode t;
    tn_init(&t, PFW_OP_Conv, 11);
    if (k == 8) tn_in(&t, PFW_FLOAT64, x, DIMS(1, 4, 5, 5));
    else if (k == 9) F32(&t, x, 4, 5);
    else F32(&t, x, 2, 4, 5, 5);
    if (k == 1) F32(&t, w, 6, 4, 3, 3), tn_int(&t, "group", 2);
    else if (k == 11) F32(&t, w, 5, 2, 3, 3), tn_int(&t, "group", 2);
    else F32(&t, w, 6, 4, 3, 3);
    if (k == 6) F32(&t, x, 5);
    if (k == 0) tn_int(&t, "group", 3);
    if (k == 2) INTS(&t, "kernel_shape", 3, 2);
    if (k == 3) tn_str(&t, "auto_pad", "SAME");
    if (k == 4) INTS(&t, "strides", 0, 1);
    if (k == 5) INTS(&t, "pads", 1, 1);
    if (k == 7) INTS(&t, "dilations", 3, 1);
    if (k == 10) INTS(&t, "pads", 0, -1, 0, 0);
    CHECK_STATUS(tn_prepare(&t), cases[i].st);
    CHECK_ERROR_HAS(cases[i].msg);
  }
}

/* ---- pools ------------------------------------------------------------------------ */

/* Every tap of every window is visited; taps outside the input are skipped,
 * those inside [-pb, in + pe) count toward count_include_pad. */
static void ref_pool(const float* x, float* y, int64_t planes, const geo* g, bool is_max, bool include_pad) {
  for (int64_t p = 0; p < planes; p++)
    for (int64_t oz = 0; oz < g->out[0]; oz++)
      for (int64_t oy = 0; oy < g->out[1]; oy++)
        for (int64_t ox = 0; ox < g->out[2]; ox++) {
          double mx = -INFINITY, sum = 0;
          int64_t valid = 0, padded = 0;
          for (int64_t kz = 0; kz < g->k[0]; kz++)
            for (int64_t ky = 0; ky < g->k[1]; ky++)
              for (int64_t kx = 0; kx < g->k[2]; kx++) {
                int64_t pos[3] = {oz * g->s[0] - g->pb[0] + kz * g->d[0], oy * g->s[1] - g->pb[1] + ky * g->d[1],
                                  ox * g->s[2] - g->pb[2] + kx * g->d[2]};
                bool inside = true, in_pad = true;
                for (int a = 0; a < 3; a++) {
                  inside &= pos[a] >= 0 && pos[a] < g->in[a];
                  in_pad &= pos[a] >= -g->pb[a] && pos[a] < g->in[a] + g->pe[a];
                }
                padded += in_pad;
                if (!inside) continue;
                double v = x[((p * g->in[0] + pos[0]) * g->in[1] + pos[1]) * g->in[2] + pos[2]];
                mx = fmax(mx, v);
                sum += v;
                valid++;
              }
          y[((p * g->out[0] + oz) * g->out[1] + oy) * g->out[2] + ox] =
              (float)(is_max ? mx : sum / (double)(include_pad ? padded : valid));
        }
}

typedef struct pool_case {
  bool is_max;
  int32_t nsp;
  int64_t in[3], k[3], s[3], d[3], pads[6];
  const char* auto_pad;
  int64_t eff_pads[6];
  int ceil_mode, include_pad;
  int64_t out[3]; /* hand-computed output size */
} pool_case;

static void run_pool_case(const pool_case* c, float shift) {
  int32_t n = c->nsp;
  geo g;
  geo_fill(&g, n, c->in, c->k, c->s[0] ? c->s : NULL, c->d[0] ? c->d : NULL,
           c->auto_pad ? c->eff_pads : c->pads);
  for (int32_t i = 0; i < n; i++) g.out[3 - n + i] = c->out[i];
  int64_t planes = 2 * 3, xs = planes * g.in[0] * g.in[1] * g.in[2], ys = planes * g.out[0] * g.out[1] * g.out[2];
  float *x = frand(xs), *want = frand(ys);
  for (int64_t i = 0; i < xs; i++) x[i] += shift;
  ref_pool(x, want, planes, &g, c->is_max, c->include_pad != 0);
  int64_t xd[5] = {2, 3}, yd[5] = {2, 3};
  for (int32_t i = 0; i < n; i++) xd[2 + i] = c->in[i], yd[2 + i] = c->out[i];
  tnode t;
  tn_init(&t, c->is_max ? PFW_OP_MaxPool : PFW_OP_AveragePool, 19);
  tn_in(&t, PFW_FLOAT32, x, n + 2, xd);
  tn_ints(&t, "kernel_shape", n, c->k);
  if (c->s[0]) tn_ints(&t, "strides", n, c->s);
  if (c->d[0]) tn_ints(&t, "dilations", n, c->d);
  if (c->auto_pad) tn_str(&t, "auto_pad", c->auto_pad);
  else tn_ints(&t, "pads", 2 * n, c->pads);
  if (c->ceil_mode) tn_int(&t, "ceil_mode", 1);
  if (c->include_pad) tn_int(&t, "count_include_pad", 1);
  CHECK_OK(tn_exec(&t));
  CHECK(t.tout[0].rank == n + 2 && memcmp(t.tout[0].dims, yd, sizeof(int64_t) * (size_t)(n + 2)) == 0);
  if (t.tout[0].rank != n + 2 || memcmp(t.tout[0].dims, yd, sizeof(int64_t) * (size_t)(n + 2)) != 0)
    fprintf(stderr, "pool case: got dims %lld %lld %lld\n", (long long)t.tout[0].dims[2], (long long)t.tout[0].dims[3],
            (long long)t.tout[0].dims[4]);
  else
    CHECK_CLOSE((float*)t.tout[0].data, want, ys, 1e-6, 1e-7);
  tn_free(&t);
  free(x), free(want);
}

static void test_pools(void) {
  static const pool_case cases[] = {
      /* max nsp in      k       s       d       pads          auto eff ceil incl out */
      {1, 2, {7, 8}, {2, 2}, {2, 2}, {0}, {0}, NULL, {0}, 0, 0, {3, 4}},
      {1, 2, {7, 8}, {3, 3}, {0}, {0}, {0}, NULL, {0}, 0, 0, {5, 6}},
      {1, 2, {7, 8}, {3, 3}, {2, 2}, {0}, {1, 1, 1, 1}, NULL, {0}, 0, 0, {4, 4}},
      {1, 2, {7, 8}, {3, 3}, {0}, {0}, {0, 1, 1, 0}, NULL, {0}, 0, 0, {6, 7}},
      {1, 2, {7, 8}, {2, 2}, {0}, {2, 2}, {0}, NULL, {0}, 0, 0, {5, 6}},
      {1, 2, {7, 8}, {2, 3}, {2, 1}, {2, 2}, {1, 1, 0, 2}, NULL, {0}, 0, 0, {3, 7}},
      {1, 2, {7, 8}, {2, 2}, {2, 2}, {0}, {0}, NULL, {0}, 1, 0, {4, 4}},
      {1, 2, {7, 8}, {3, 3}, {2, 2}, {0}, {1, 1, 1, 1}, NULL, {0}, 1, 0, {4, 5}},
      {1, 2, {7, 8}, {3, 2}, {2, 1}, {0}, {0}, NULL, {0}, 0, 0, {3, 7}},
      {1, 2, {7, 8}, {3, 3}, {2, 2}, {0}, {0}, "SAME_UPPER", {1, 0, 1, 1}, 0, 0, {4, 4}},
      {1, 2, {7, 8}, {3, 3}, {2, 2}, {0}, {0}, "SAME_LOWER", {1, 1, 1, 0}, 0, 0, {4, 4}},
      {1, 2, {7, 8}, {3, 3}, {2, 2}, {0}, {0}, "VALID", {0}, 0, 0, {3, 3}},
      {1, 1, {11}, {3}, {2}, {0}, {0}, NULL, {0}, 0, 0, {5}},
      {1, 1, {11}, {3}, {2}, {0}, {1, 1}, NULL, {0}, 1, 0, {6}},
      {1, 1, {11}, {3}, {0}, {2}, {0}, NULL, {0}, 0, 0, {7}},
      {1, 1, {11}, {4}, {3}, {0}, {0}, "SAME_UPPER", {1, 2}, 0, 0, {4}},
      {1, 1, {5}, {2}, {2}, {0}, {1, 1}, NULL, {0}, 1, 0, {3}}, /* last ceil window would start in the padding */
      {1, 3, {4, 5, 6}, {2, 3, 2}, {2, 1, 2}, {1, 1, 2}, {1, 0, 1, 0, 1, 0}, NULL, {0}, 0, 0, {2, 4, 3}},
      {0, 2, {7, 8}, {2, 2}, {2, 2}, {0}, {0}, NULL, {0}, 0, 0, {3, 4}},
      {0, 2, {7, 8}, {3, 3}, {0}, {0}, {1, 1, 1, 1}, NULL, {0}, 0, 0, {7, 8}},
      {0, 2, {7, 8}, {3, 3}, {0}, {0}, {1, 1, 1, 1}, NULL, {0}, 0, 1, {7, 8}},
      {0, 2, {7, 8}, {3, 3}, {0}, {0}, {1, 0, 0, 2}, NULL, {0}, 0, 0, {6, 8}},
      {0, 2, {7, 8}, {3, 3}, {0}, {0}, {1, 0, 0, 2}, NULL, {0}, 0, 1, {6, 8}},
      {0, 2, {7, 8}, {3, 2}, {2, 3}, {0}, {1, 1, 1, 1}, NULL, {0}, 0, 0, {4, 3}},
      {0, 2, {7, 8}, {2, 2}, {2, 2}, {0}, {0}, NULL, {0}, 1, 0, {4, 4}},
      {0, 2, {7, 8}, {3, 3}, {2, 2}, {0}, {0}, NULL, {0}, 1, 0, {3, 4}},
      {0, 2, {7, 8}, {3, 3}, {2, 2}, {0}, {1, 1, 1, 1}, NULL, {0}, 1, 0, {4, 5}},
      {0, 2, {7, 8}, {3, 3}, {2, 2}, {0}, {1, 1, 1, 1}, NULL, {0}, 1, 1, {4, 5}}, /* window past pe */
      {0, 2, {7, 8}, {3, 3}, {2, 2}, {0}, {0}, "SAME_UPPER", {1, 0, 1, 1}, 0, 0, {4, 4}},
      {0, 2, {7, 8}, {3, 3}, {2, 2}, {0}, {0}, "VALID", {0}, 0, 0, {3, 3}},
      {0, 1, {11}, {3}, {2}, {0}, {1, 1}, NULL, {0}, 0, 0, {6}},
      {0, 1, {11}, {3}, {2}, {0}, {1, 1}, NULL, {0}, 0, 1, {6}},
      {0, 1, {11}, {4}, {3}, {0}, {0}, NULL, {0}, 1, 0, {4}},
      {0, 1, {11}, {3}, {0}, {2}, {2, 1}, NULL, {0}, 0, 1, {10}},
      {0, 3, {4, 5, 6}, {2, 3, 2}, {2, 1, 2}, {0}, {1, 0, 1, 0, 1, 0}, NULL, {0}, 0, 1, {2, 4, 3}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_pool_case(&cases[i], 0);
  run_pool_case(&cases[3], -5); /* all-negative input: padding must not act as 0 */

  /* Hand-computed 2x2 max/avg on a 1x1x2x4 input. */
  float x[8] = {1, 5, -2, 0, 3, -4, 7, 2}, wmax[2] = {5, 7}, wavg[2] = {1.25f, 1.75f};
  for (int m = 0; m < 2; m++) {
    tnode t;
    tn_init(&t, m ? PFW_OP_MaxPool : PFW_OP_AveragePool, 11);
    F32(&t, x, 1, 1, 2, 4);
    INTS(&t, "kernel_shape", 2, 2);
    INTS(&t, "strides", 2, 2);
    CHECK_OK(tn_exec(&t));
    CHECK_SHAPE(&t.tout[0], 1, 1, 1, 2);
    CHECK_CLOSE((float*)t.tout[0].data, m ? wmax : wavg, 2, 0, 0);
    tn_free(&t);
  }
}

static void test_pool_errors(void) {
  float x[2 * 3 * 4 * 4] = {0};
  tnode t;
  tn_init(&t, PFW_OP_MaxPool, 12);
  F32(&t, x, 2, 3, 4, 4);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_INVALID_MODEL);
  CHECK_ERROR_HAS("'kernel_shape' is required");
  tn_init(&t, PFW_OP_MaxPool, 12);
  F32(&t, x, 2, 3, 4, 4);
  INTS(&t, "kernel_shape", 2);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_INVALID_MODEL);
  CHECK_ERROR_HAS("has 1 values, expected 2");
  tn_init(&t, PFW_OP_MaxPool, 12);
  F32(&t, x, 2, 3, 4, 4);
  INTS(&t, "kernel_shape", 2, 2);
  t.node.n_out = 2;
  t.pout[1] = &t.tout[1];
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_UNSUPPORTED);
  CHECK_ERROR_HAS("Indices");
  tn_init(&t, PFW_OP_AveragePool, 12);
  F32(&t, x, 2, 3, 4, 4);
  INTS(&t, "kernel_shape", 5, 2);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_SHAPE);
  tn_init(&t, PFW_OP_AveragePool, 12);
  F32(&t, x, 2, 3, 4, 4);
  INTS(&t, "kernel_shape", 2, 2);
  tn_int(&t, "ceil_mode", 2);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_INVALID_MODEL);
  tn_init(&t, PFW_OP_AveragePool, 12);
  tn_in(&t, PFW_INT32, x, DIMS(2, 3, 4, 4));
  INTS(&t, "kernel_shape", 2, 2);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_UNSUPPORTED);
  tn_init(&t, PFW_OP_GlobalAveragePool, 1);
  F32(&t, x, 6, 4);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_SHAPE);
}

static void test_global_average_pool(void) {
  int64_t shapes[4][5] = {{2, 3, 5, 6}, {2, 3, 7}, {1, 4, 1, 1}, {1, 2, 2, 3, 4}};
  int32_t ranks[4] = {4, 3, 4, 5};
  for (int c = 0; c < 4; c++) {
    int64_t n = 1, planes = shapes[c][0] * shapes[c][1];
    for (int32_t k = 0; k < ranks[c]; k++) n *= shapes[c][k];
    float* x = frand(n);
    float want[8];
    for (int64_t p = 0; p < planes; p++) {
      double s = 0;
      for (int64_t i = 0; i < n / planes; i++) s += x[p * (n / planes) + i];
      want[p] = (float)(s / (double)(n / planes));
    }
    tnode t;
    tn_init(&t, PFW_OP_GlobalAveragePool, 1);
    tn_in(&t, PFW_FLOAT32, x, ranks[c], shapes[c]);
    CHECK_OK(tn_exec(&t));
    CHECK(t.tout[0].rank == ranks[c] && t.tout[0].dims[0] == shapes[c][0] && t.tout[0].dims[1] == shapes[c][1] &&
          pfw_numel(&t.tout[0]) == planes);
    CHECK_CLOSE((float*)t.tout[0].data, want, planes, 1e-6, 1e-7);
    tn_free(&t);
    free(x);
  }
}

/* ---- threads ------------------------------------------------------------------------ */

/* Runs the node built by `build` with no pool and with a 4-thread pool and
 * checks the outputs are the same bytes. */
static void check_threads(void (*build)(tnode*, float**), pfw_threadpool* pool) {
  tnode t1, t4;
  float* bufs[4] = {0};
  build(&t1, bufs);
  t4 = t1;
  t4.node.desc = &t4.desc;
  t4.desc.attrs = t4.attrs;
  for (int i = 0; i < t4.desc.n_attrs; i++) t4.attrs[i].ints = t4.ints[i];
  t4.node.in = t4.pin;
  t4.node.out = t4.pout;
  for (int i = 0; i < t4.node.n_in; i++) t4.pin[i] = t1.pin[i] ? &t4.tin[i] : NULL;
  t4.pout[0] = &t4.tout[0];
  t4.node.pool = pool;
  CHECK_OK(tn_exec(&t1));
  CHECK_OK(tn_exec(&t4));
  CHECK(t1.tout[0].nbytes == t4.tout[0].nbytes && memcmp(t1.tout[0].data, t4.tout[0].data, t1.tout[0].nbytes) == 0);
  tn_free(&t1);
  tn_free(&t4);
  for (int i = 0; i < 4; i++) free(bufs[i]);
}

static void build_conv(tnode* t, float** b) {
  tn_init(t, PFW_OP_Conv, 11);
  F32(t, b[0] = frand(2 * 8 * 20 * 20), 2, 8, 20, 20);
  F32(t, b[1] = frand(16 * 4 * 3 * 3), 16, 4, 3, 3);
  F32(t, b[2] = frand(16), 16);
  tn_int(t, "group", 2);
  INTS(t, "pads", 1, 1, 1, 1);
  INTS(t, "strides", 2, 1);
}
static void build_gemm(tnode* t, float** b) {
  tn_init(t, PFW_OP_Gemm, 13);
  F32(t, b[0] = frand(33 * 70), 33, 70);
  F32(t, b[1] = frand(50 * 70), 50, 70);
  F32(t, b[2] = frand(33 * 50), 33, 50);
  tn_int(t, "transB", 1);
  tn_float(t, "alpha", 0.5f);
}
static void build_matmul(tnode* t, float** b) {
  tn_init(t, PFW_OP_MatMul, 13);
  F32(t, b[0] = frand(3 * 31 * 64), 3, 31, 64);
  F32(t, b[1] = frand(64 * 45), 64, 45);
}
static void build_pool(tnode* t, float** b) {
  tn_init(t, PFW_OP_AveragePool, 19);
  F32(t, b[0] = frand(2 * 5 * 9 * 9), 2, 5, 9, 9);
  INTS(t, "kernel_shape", 3, 3);
  INTS(t, "pads", 1, 1, 1, 1);
}

static void test_threads_and_speed(void) {
  pfw_threadpool* pool = pfw_threadpool_create(4);
  CHECK(pool != NULL);
  check_threads(build_conv, pool);
  check_threads(build_gemm, pool);
  check_threads(build_matmul, pool);
  check_threads(build_pool, pool);
  pfw_threadpool_free(pool);

  /* Reported, not asserted: tests never judge wall-clock time. */
  float *x = frand(32 * 32 * 32), *w = frand(64 * 32 * 9);
  tnode t;
  tn_init(&t, PFW_OP_Conv, 11);
  F32(&t, x, 1, 32, 32, 32);
  F32(&t, w, 64, 32, 3, 3);
  INTS(&t, "pads", 1, 1, 1, 1);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  CHECK_OK(tn_exec(&t));
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("Conv 1x32x32x32 * 64x32x3x3, 1 thread: %.1f ms\n",
         (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
  tn_free(&t);
  free(x), free(w);
}

int main(void) {
  test_conv();
  test_conv_errors();
  test_pools();
  test_pool_errors();
  test_global_average_pool();
  test_threads_and_speed();
  TEST_MAIN_END();
}
