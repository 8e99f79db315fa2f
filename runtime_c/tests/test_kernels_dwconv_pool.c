/* The SIMD window kernels (kernels/window_f32.h) against the scalar
 * reference loops of conv.c and pool.c, for every ISA this CPU supports:
 * depthwise Conv within a derived rounding bound, Max/AveragePool and
 * GlobalMaxPool bit for bit, GlobalAveragePool within a derived bound; odd
 * sizes, asymmetric pads, strides, dilations, ceil_mode, fused activations;
 * and the same bytes at 1, 2 and 3 threads. */
#include <float.h>
#include <stdint.h>
#include <time.h>

#include "op_harness.h"

static const pfw_isa simd_isas[] = {PFW_ISA_AVX2, PFW_ISA_AVX512};
#define N_SIMD (sizeof simd_isas / sizeof simd_isas[0])

static const char* const act_names[] = {NULL, "Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh", "HardSigmoid",
                                        "HardSwish"};
#define N_ACTS (int)(sizeof act_names / sizeof act_names[0])

typedef struct win_case {
  int32_t rank;                 /* 3 (1-D) or 4 (2-D) */
  int64_t N, C, H, W;           /* H is 1 for rank 3 */
  int64_t k[2], s[2], d[2], pads[4]; /* (y, x); pads y0 x0 y1 x1 */
  bool bias;
  int act;                      /* index into act_names */
  bool is_max, ceil_mode, include_pad; /* pools */
} win_case;

/* Conv's output size along one axis. */
static int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe) {
  int64_t span = in + pb + pe - (k - 1) * d - 1;
  return span < 0 ? 0 : span / s + 1;
}

/* Whether the dilated kernel fits the padded input along both axes (the ops
 * reject the case otherwise; the loops below just skip it). */
static bool window_fits(const win_case* c) {
  bool y = c->rank == 3 || c->H + c->pads[0] + c->pads[2] >= (c->k[0] - 1) * c->d[0] + 1;
  return y && c->W + c->pads[1] + c->pads[3] >= (c->k[1] - 1) * c->d[1] + 1;
}

/* Sets the window attributes of `c` on t; 1-D cases take the x values. */
static void set_window(tnode* t, const win_case* c) {
  int32_t n = c->rank - 2, o = 2 - n;
  tn_ints(t, "strides", n, c->s + o);
  tn_ints(t, "dilations", n, c->d + o);
  int64_t pads[4] = {c->pads[0], c->pads[1], c->pads[2], c->pads[3]};
  if (n == 1) pads[0] = c->pads[1], pads[1] = c->pads[3];
  tn_ints(t, "pads", 2 * n, pads);
}

static void x_dims(const win_case* c, int64_t* d) {
  d[0] = c->N, d[1] = c->C;
  if (c->rank == 4) d[2] = c->H, d[3] = c->W;
  else d[2] = c->W;
}

/* Runs the node on `isa` with `threads`, returns a malloc'ed copy of output 0
 * and its element count. */
static float* run_node(tnode* t, pfw_isa isa, int32_t threads, int64_t* ny) {
  pfw_threadpool* pool = pfw_threadpool_create(threads);
  CHECK(threads <= 1 || pool != NULL);
  t->node.isa = isa;
  t->node.pool = pool;
  t->node.num_threads = threads;
  CHECK_OK(tn_exec(t));
  *ny = pfw_numel(&t->tout[0]);
  float* y = malloc(sizeof(float) * (size_t)(*ny ? *ny : 1));
  memcpy(y, t->tout[0].data, sizeof(float) * (size_t)*ny);
  tn_free(t);
  pfw_threadpool_free(pool);
  return y;
}

/* ---- depthwise Conv ------------------------------------------------------------- */

static float* run_dwconv(const win_case* c, const float* x, const float* w, const float* b, pfw_isa isa,
                         int32_t threads, int64_t* ny) {
  tnode t;
  tn_init(&t, PFW_OP_Conv, 11);
  int64_t xd[4], wd[4] = {c->C, 1, c->k[0], c->k[1]};
  x_dims(c, xd);
  if (c->rank == 3) wd[2] = c->k[1];
  tn_in(&t, PFW_FLOAT32, x, c->rank, xd);
  tn_in(&t, PFW_FLOAT32, w, c->rank, wd);
  if (b) tn_in(&t, PFW_FLOAT32, b, 1, (int64_t[]){c->C});
  tn_int(&t, "group", c->C);
  set_window(&t, c);
  if (c->act) {
    tn_str(&t, "activation", act_names[c->act]);
    if (c->act == 2) tn_float(&t, "activation_alpha", 0.1f);
    if (c->act == 3) tn_float(&t, "activation_alpha", -0.5f), tn_float(&t, "activation_beta", 0.5f);
  }
  return run_node(&t, isa, threads, ny);
}

/* Per output element, the bound on |simd - reference|. The SIMD kernels add
 * at most T = kh*kw products with one rounding each (FMA) and the bias with
 * one more, so their sum is within (T + 1) u S of the exact value, S the sum
 * of |w x| over the taps plus |b|, u = 2^-24; the reference rounds its
 * double sum once (u S, its double error is far below). The activation
 * multiplies that by at most its Lipschitz constant (HardSwish's 1.5 is the
 * largest) and adds its own rounding, a few ulp of the result. */
static void dw_bounds(const win_case* c, const float* x, const float* w, const float* b, const float* ref,
                      double* bound, int64_t ny) {
  int64_t Ho = c->rank == 4 ? out_size(c->H, c->k[0], c->s[0], c->d[0], c->pads[0], c->pads[2]) : 1;
  int64_t Wo = out_size(c->W, c->k[1], c->s[1], c->d[1], c->pads[1], c->pads[3]);
  int64_t kh = c->rank == 4 ? c->k[0] : 1, pt = c->rank == 4 ? c->pads[0] : 0;
  CHECK(ny == c->N * c->C * Ho * Wo);
  const double u = 1.0 / (1 << 24), lip = c->act ? 1.5 : 1.0;
  for (int64_t p = 0; p < c->N * c->C; p++)
    for (int64_t oy = 0; oy < Ho; oy++)
      for (int64_t ox = 0; ox < Wo; ox++) {
        int64_t ch = p % c->C, i = (p * Ho + oy) * Wo + ox;
        double S = b ? fabs((double)b[ch]) : 0;
        for (int64_t ky = 0; ky < kh; ky++)
          for (int64_t kx = 0; kx < c->k[1]; kx++) {
            int64_t iy = oy * c->s[0] - pt + ky * c->d[0], ix = ox * c->s[1] - c->pads[1] + kx * c->d[1];
            if (iy < 0 || iy >= c->H || ix < 0 || ix >= c->W) continue;
            S += fabs((double)x[(p * c->H + iy) * c->W + ix] * w[(ch * kh + ky) * c->k[1] + kx]);
          }
        bound[i] = lip * (double)(kh * c->k[1] + 2) * u * S + 4 * u * fabs((double)ref[i]) + FLT_MIN;
      }
}

static int64_t dw_runs, pool_runs;

static void check_dwconv(const win_case* c, bool threads) {
  if (!window_fits(c)) return;
  int64_t xs = c->N * c->C * c->H * c->W, ws = c->C * c->k[0] * c->k[1], ny, n2;
  float *x = frand(xs), *w = frand(ws), *b = c->bias ? frand(c->C) : NULL;
  float* ref = run_dwconv(c, x, w, b, PFW_ISA_SCALAR, 1, &ny);
  double* bound = malloc(sizeof(double) * (size_t)(ny ? ny : 1));
  dw_bounds(c, x, w, b, ref, bound, ny);
  float* first = NULL; /* the first SIMD ISA's result: the others must match it */
  for (size_t k = 0; k < N_SIMD; k++) {
    if (!pfw_cpu_supports(simd_isas[k])) continue;
    float* y = run_dwconv(c, x, w, b, simd_isas[k], 1, &n2);
    CHECK(n2 == ny);
    for (int64_t i = 0; i < ny; i++)
      if (!(fabs((double)y[i] - ref[i]) <= bound[i])) {
        CHECK(false);
        fprintf(stderr, "dwconv %s C=%lld H=%lld W=%lld k=%lldx%lld s=%lld,%lld d=%lld,%lld pads=%lld,%lld,%lld,%lld "
                        "act=%d: y[%lld]=%.9g ref %.9g bound %.3g\n",
                pfw_isa_name(simd_isas[k]), (long long)c->C, (long long)c->H, (long long)c->W, (long long)c->k[0],
                (long long)c->k[1], (long long)c->s[0], (long long)c->s[1], (long long)c->d[0], (long long)c->d[1],
                (long long)c->pads[0], (long long)c->pads[1], (long long)c->pads[2], (long long)c->pads[3], c->act,
                (long long)i, y[i], ref[i], bound[i]);
        break;
      }
    /* Every ISA computes each element with the same operations in the same order. */
    if (first) CHECK(memcmp(first, y, sizeof(float) * (size_t)ny) == 0);
    for (int32_t th = 2; threads && th <= 3; th++) {
      float* yt = run_dwconv(c, x, w, b, simd_isas[k], th, &n2);
      CHECK(n2 == ny && memcmp(yt, y, sizeof(float) * (size_t)ny) == 0);
      free(yt);
    }
    if (first) free(y);
    else first = y;
    dw_runs++;
  }
  free(first), free(bound), free(ref), free(x), free(w), free(b);
}

static const int64_t kernels[][2] = {{3, 3}, {5, 5}, {7, 7}, {2, 4}};

static void test_dwconv(void) {
  int64_t i = 0;
  for (int64_t H = 1; H <= 9; H++)
    for (int64_t W = 1; W <= 37; W++)
      for (int kk = 0; kk < 4; kk++)
        for (int64_t s = 1; s <= 2; s++, i++) {
          win_case c = {.rank = 4, .N = 1 + i % 2, .C = (int64_t[]){1, 3, 17}[i % 3], .H = H, .W = W};
          c.k[0] = kernels[kk][0], c.k[1] = kernels[kk][1];
          c.s[0] = (i % 5 == 0) ? 3 - s : s, c.s[1] = s; /* sometimes unequal */
          c.d[0] = c.d[1] = 1 + (i % 3 == 0);
          if (i % 7 == 1) c.d[0] = 1;
          for (int a = 0; a < 4; a++) c.pads[a] = (i / (a + 1) + a) % 3;
          c.bias = i % 2 == 1;
          c.act = (int)(i % N_ACTS);
          check_dwconv(&c, i % 11 == 0);
        }
  /* 1-D, and MobileNet-sized planes with every thread count. */
  for (int64_t W = 1; W <= 37; W += 3) {
    win_case c = {.rank = 3, .N = 2, .C = 5, .H = 1, .W = W, .k = {1, 3}, .s = {1, 1 + W % 2}, .d = {1, 1 + W % 3 / 2},
                  .pads = {0, W % 3, 0, 1}, .bias = W % 2, .act = (int)(W % N_ACTS)};
    check_dwconv(&c, true);
  }
  /* Planes too large for the zero-padded copy (64K floats, ops/conv_depthwise.c):
   * border columns computed in place. */
  for (int64_t W = 1370; W <= 1433; W += 21)
    for (int kk = 0; kk < 4; kk++, i++) {
      win_case c = {.rank = 4, .N = 1, .C = 2, .H = 48 + kk, .W = W, .k = {kernels[kk][0], kernels[kk][1]},
                    .s = {1, 1 + i % 2}, .d = {1, 1 + (i % 3 == 0)}, .pads = {1, kk % 3, 2, (kk + 1) % 3},
                    .bias = i % 2 == 0, .act = (int)(i % N_ACTS)};
      check_dwconv(&c, i % 2 == 0);
    }
  for (int64_t s = 1; s <= 2; s++)
    for (int kk = 0; kk < 2; kk++) {
      win_case c = {.rank = 4, .N = 1, .C = 24, .H = 28, .W = 28, .k = {kernels[kk][0], kernels[kk][1]}, .s = {s, s},
                    .d = {1, 1}, .pads = {1, kk + 1, 1, kk + 1}, .bias = true, .act = 3};
      check_dwconv(&c, true);
    }
}

/* ---- pools ------------------------------------------------------------------------- */

static float* run_pool(const win_case* c, const float* x, pfw_isa isa, int32_t threads, int64_t* ny) {
  tnode t;
  tn_init(&t, c->is_max ? PFW_OP_MaxPool : PFW_OP_AveragePool, 19);
  int64_t xd[4];
  x_dims(c, xd);
  tn_in(&t, PFW_FLOAT32, x, c->rank, xd);
  tn_ints(&t, "kernel_shape", c->rank - 2, c->k + (c->rank == 4 ? 0 : 1));
  set_window(&t, c);
  if (c->ceil_mode) tn_int(&t, "ceil_mode", 1);
  if (c->include_pad) tn_int(&t, "count_include_pad", 1);
  return run_node(&t, isa, threads, ny);
}

/* Max and average of the kernels equal the reference bit for bit (the same
 * comparisons; the same double sums and division). */
static void check_pool(const win_case* c, bool threads) {
  if (!window_fits(c)) return;
  int64_t xs = c->N * c->C * c->H * c->W, ny, n2;
  float* x = frand(xs);
  if (xs > 3) x[xs / 3] = NAN; /* skipped by max, propagated by the mean, alike */
  float* ref = run_pool(c, x, PFW_ISA_SCALAR, 1, &ny);
  for (size_t k = 0; k < N_SIMD; k++) {
    if (!pfw_cpu_supports(simd_isas[k])) continue;
    float* y = run_pool(c, x, simd_isas[k], 1, &n2);
    CHECK(n2 == ny && memcmp(y, ref, sizeof(float) * (size_t)ny) == 0);
    if (n2 == ny && memcmp(y, ref, sizeof(float) * (size_t)ny) != 0)
      fprintf(stderr, "pool %s max=%d H=%lld W=%lld k=%lldx%lld s=%lld,%lld d=%lld,%lld ceil=%d incl=%d differs\n",
              pfw_isa_name(simd_isas[k]), c->is_max, (long long)c->H, (long long)c->W, (long long)c->k[0],
              (long long)c->k[1], (long long)c->s[0], (long long)c->s[1], (long long)c->d[0], (long long)c->d[1],
              c->ceil_mode, c->include_pad);
    for (int32_t th = 2; threads && th <= 3; th++) {
      float* yt = run_pool(c, x, simd_isas[k], th, &n2);
      CHECK(n2 == ny && memcmp(yt, ref, sizeof(float) * (size_t)ny) == 0);
      free(yt);
    }
    free(y);
    pool_runs++;
  }
  free(ref), free(x);
}

static void test_pools(void) {
  static const int64_t shapes[][4] = {{2, 2, 2, 2}, {3, 3, 1, 1}, {3, 3, 2, 2}, {2, 4, 1, 2}, {7, 7, 2, 1}};
  int64_t i = 0;
  for (int64_t H = 1; H <= 9; H++)
    for (int64_t W = 1; W <= 37; W++)
      for (int sh = 0; sh < 5; sh++, i++) {
        win_case c = {.rank = 4, .N = 1, .C = (int64_t[]){1, 3, 17}[i % 3], .H = H, .W = W};
        c.k[0] = shapes[sh][0], c.k[1] = shapes[sh][1], c.s[0] = shapes[sh][2], c.s[1] = shapes[sh][3];
        c.d[0] = c.d[1] = 1 + (i % 4 == 3);
        for (int a = 0; a < 4; a++) c.pads[a] = (i / (a + 2) + a) % 3 % c.k[a % 2]; /* pads < kernel */
        c.ceil_mode = i % 3 == 1;
        c.include_pad = i % 2 == 0;
        c.is_max = false;
        check_pool(&c, i % 13 == 0);
        c.is_max = true;
        check_pool(&c, i % 13 == 1);
      }
  /* Windows spanning the input along rows, columns or both (outputs reading
   * the same inputs are copied), the padding counted or not. */
  static const int64_t spans[][8] = {{40, 2, 1, 1, 20, 0, 20, 1}, {3, 41, 1, 2, 1, 20, 1, 21},
                                     {30, 41, 3, 1, 20, 20, 5, 21}, {25, 25, 1, 1, 12, 12, 12, 12}};
  for (int sp = 0; sp < 4; sp++)
    for (int v = 0; v < 4; v++) {
      win_case c = {.rank = 4, .N = 1, .C = 2, .H = 5 + v, .W = 9 + 3 * v, .k = {spans[sp][0], spans[sp][1]},
                    .s = {spans[sp][2], spans[sp][3]}, .d = {1, 1},
                    .pads = {spans[sp][4], spans[sp][5], spans[sp][6], spans[sp][7]}};
      c.ceil_mode = v % 2, c.include_pad = v / 2, c.is_max = false;
      check_pool(&c, v == 0);
      c.is_max = true;
      check_pool(&c, v == 1);
    }
  for (int64_t W = 1; W <= 37; W += 4) { /* 1-D */
    win_case c = {.rank = 3, .N = 2, .C = 3, .H = 1, .W = W, .k = {1, 3}, .s = {1, 2}, .d = {1, 1},
                  .pads = {0, 1, 0, W % 3}};
    c.ceil_mode = W % 2;
    check_pool(&c, true);
    c.is_max = true;
    check_pool(&c, true);
  }
}

/* GlobalMaxPool equals the reference; GlobalAveragePool sums n values with
 * one double partial sum per lane instead of left to right: either double sum
 * is within (n - 1) 2^-53 sum|x| of the exact one, so the two means differ by
 * at most 2 n 2^-53 mean|x| before the final rounding to float, which may
 * then land on adjacent floats: one ulp more. */
static void test_global_pools(void) {
  for (int64_t n = 0; n <= 300; n += (n < 70 ? 1 : 23))
    for (int is_max = 0; is_max <= 1; is_max++) {
      int64_t planes = 2 * 7;
      float* x = frand(planes * n);
      for (int64_t i = 0; i < planes * n; i++) x[i] += 0.25f; /* not centred on 0, as activations are not */
      int64_t ny, n2;
      for (size_t k = 0; k < N_SIMD; k++) {
        if (!pfw_cpu_supports(simd_isas[k])) continue;
        for (int32_t th = 1; th <= 3; th++) {
          float* got[2];
          for (int r = 0; r < 2; r++) {
            tnode t;
            tn_init(&t, is_max ? PFW_OP_GlobalMaxPool : PFW_OP_GlobalAveragePool, 1);
            tn_in(&t, PFW_FLOAT32, x, 4, (int64_t[]){2, 7, 1, n});
            got[r] = run_node(&t, r ? simd_isas[k] : PFW_ISA_SCALAR, r ? th : 1, r ? &n2 : &ny);
          }
          CHECK(ny == planes && n2 == planes);
          for (int64_t p = 0; p < planes; p++) {
            float ref = got[0][p], y = got[1][p];
            if (is_max || n == 0) {
              CHECK(memcmp(&ref, &y, sizeof y) == 0);
              continue;
            }
            double mean_abs = 0;
            for (int64_t i = 0; i < n; i++) mean_abs += fabs((double)x[p * n + i]) / (double)n;
            double ulp = nextafterf(fabsf(ref), INFINITY) - fabsf(ref);
            CHECK(fabs((double)y - ref) <= ulp + 2.0 * (double)n * 0x1p-53 * mean_abs);
          }
          free(got[0]), free(got[1]);
        }
      }
      free(x);
    }
}

/* ---- timing ------------------------------------------------------------------------ */

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* the machine may be shared: CPU time, not wall */
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A MobileNetV2 depthwise layer, 1x96x112x112 3x3 pad 1 (+ bias, Clip as
 * ReLU6), at each ISA on one thread: the best of 5 runs of the op alone. */
static void report_speed(void) {
  float *x = frand(96 * 112 * 112), *w = frand(96 * 9), *b = frand(96);
  for (int64_t s = 1; s <= 2; s++)
    for (int k = -1; k < (int)N_SIMD; k++) {
      pfw_isa isa = k < 0 ? PFW_ISA_SCALAR : simd_isas[k];
      if (!pfw_cpu_supports(isa)) continue;
      tnode t;
      tn_init(&t, PFW_OP_Conv, 11);
      F32(&t, x, 1, 96, 112, 112);
      F32(&t, w, 96, 1, 3, 3);
      F32(&t, b, 96);
      tn_int(&t, "group", 96);
      INTS(&t, "pads", 1, 1, 1, 1);
      tn_ints(&t, "strides", 2, (int64_t[]){s, s});
      tn_str(&t, "activation", "Clip");
      tn_float(&t, "activation_alpha", 0), tn_float(&t, "activation_beta", 6);
      t.node.isa = isa;
      CHECK_OK(tn_exec(&t)); /* allocates the output and touches its pages */
      t.node.scratch = t.node.scratch_size ? malloc(t.node.scratch_size) : NULL; /* tn_exec freed its own */
      double best = INFINITY;
      for (int r = 0; r < 5; r++) {
        double t0 = now_ms();
        CHECK_OK(t.node.op->run(&t.node));
        best = fmin(best, now_ms() - t0);
      }
      free(t.node.scratch);
      t.node.scratch = NULL;
      printf("depthwise Conv 1x96x112x112 3x3 s%lld, %s: %.2f ms\n", (long long)s, pfw_isa_name(isa), best);
      tn_free(&t);
    }
  free(x), free(w), free(b);
}

int main(void) {
  for (size_t k = 0; k < N_SIMD; k++)
    if (!pfw_cpu_supports(simd_isas[k])) printf("%s: not supported here, skipped\n", pfw_isa_name(simd_isas[k]));
  test_dwconv();
  test_pools();
  test_global_pools();
  report_speed();
  printf("%lld depthwise Conv and %lld pool comparisons\n", (long long)dw_runs, (long long)pool_runs);
  TEST_MAIN_END();
}
