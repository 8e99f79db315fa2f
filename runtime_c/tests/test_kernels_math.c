/* The vectorised float32 kernels (kernels/vecmath.h) of every ISA this CPU
 * runs, against double references:
 *  - the maps over a sweep of every 509th float32 bit pattern (all signs,
 *    exponents, subnormals, inf, NaN) plus edge values, with the bounds of
 *    vecmath.h: err <= B ulp(ref) + A(x);
 *  - Relu over the bit-pattern sweep, and binary + - * / for lengths 0..67
 *    and each operand form, bit-identical to the scalar expressions; and
 *    through pfw_binary_f32_run, over broadcast shapes, bit-identical to the
 *    scalar ISA on 1 thread when run on 3;
 *  - Softmax, LogSoftmax and LayerNorm rows over odd lengths.
 *
 * ulp(r) is the float spacing at |r| (2^-149 in the subnormals). Budget of
 * the 3 ulp bounds: the fitted polynomials are good to < 1.5 ulp in double
 * (erf near 0; < 1 elsewhere), the ~8 FMA Horner steps and the final
 * rounding add < 1 ulp, and the outer operations (1 + e, the division,
 * 1 - e r) pass exp's < 1 ulp on with at most a factor ~1. gelu's erf
 * error is multiplied by |x| / 2 where 1 + erf cancels (x < 0): hence its
 * absolute terms 2^-26 + 2^-24 |x|. The test prints the worst error seen
 * and the share of the bound it uses. */
#include <float.h>
#include <stdint.h>
#include <stdlib.h>

#include "kernels/vecmath.h"
#include "test_util.h"

static double ulp_of(double r) {
  r = fabs(r);
  if (r < FLT_MIN) return ldexp(1.0, -149);
  int e;
  frexp(r, &e); /* r = f 2^e, f in [0.5, 1) */
  return ldexp(1.0, e - 24);
}

static double r_exp(double x) { return exp(x); }
static double r_erf(double x) { return erf(x); }
static double r_tanh(double x) { return tanh(x); }
static double r_sigmoid(double x) { return 1 / (1 + exp(-x)); }
static double r_gelu(double x) { return 0.5 * x * (1 + erf(x / sqrt(2.0))); }
static double r_gelu_tanh(double x) {
  return 0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}

typedef struct map_case {
  const char* name;
  double (*ref)(double);
  double ulps, abs_rel; /* bound: ulps * ulp(ref) + 2^-26 + abs_rel * |x| */
  bool abs26;
} map_case;

static const float edges[] = {0.0f, -0.0f, 1e-45f, -1e-45f, 1e-38f, -1e-38f, 1e-7f, -1e-7f, 0.5f, -0.5f,
                              0.625f, -0.625f, 0.99999994f, 1.0f, -1.0f, 1.0000001f, 3.9999998f, 4.0f,
                              -4.0f, 9.0f, 10.0f, 88.72283f, 88.722839f, 88.8f, 89.0f, 100.0f, -87.33654f,
                              -87.4f, -103.2f, -103.97f, -104.0f, -110.0f, FLT_MAX, -FLT_MAX, INFINITY,
                              -INFINITY, NAN};

/* Checks one map; returns the largest error seen in ulps (for the log). */
static double check_map(const map_case* c, pfw_vec_row_fn f, double* frac) {
  enum { N = 4096 };
  static float x[N], y[N];
  double worst = 0;
  uint64_t bits = 0;
  int64_t edge = 0, n_edge = (int64_t)(sizeof edges / sizeof edges[0]);
  int reported = 0;
  while (bits < (1ull << 32) || edge < n_edge) {
    int64_t n = 0;
    for (; n < N && edge < n_edge; n++) x[n] = edges[edge++];
    for (; n < N && bits < (1ull << 32); n++, bits += 509) {
      uint32_t b = (uint32_t)bits;
      memcpy(&x[n], &b, 4);
    }
    f(x, y, n - 1); /* an odd length: exercises the masked tail */
    f(x + n - 1, y + n - 1, 1);
    for (int64_t i = 0; i < n; i++) {
      double r = c->ref(x[i]);
      bool ok;
      double e = 0;
      if (isnan(r)) ok = isnan(y[i]);
      else if (isinf((float)r) || isinf(y[i])) ok = y[i] == (float)r; /* overflow as float rounding gives */
      else {
        e = fabs(y[i] - r);
        double rel = c->abs_rel > 0 && isfinite(x[i]) ? c->abs_rel * fabs(x[i]) : 0;
        double bound = c->ulps * ulp_of(r) + (c->abs26 ? ldexp(1.0, -26) : 0) + rel;
        ok = e <= bound;
        if (e / ulp_of(r) > worst) worst = e / ulp_of(r);
        if (e / bound > *frac) *frac = e / bound;
      }
      pfw_test_checks++;
      if (!ok) {
        pfw_test_failures++;
        if (reported++ < 5)
          fprintf(stderr, "%s(%.9g) = %.9g, reference %.17g (%.2f ulp)\n", c->name, x[i], y[i], r, e / ulp_of(r));
      }
    }
  }
  return worst;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float frand(float scale) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0) * scale;
}

static void check_binary_rows(const pfw_vec_kernels* k) {
  enum { L = 67 };
  float a[L + 1], b[L + 1], o[L + 1], ref[L + 1];
  for (int op = 0; op < 4; op++)
    for (int form = 0; form < 3; form++)
      for (int64_t n = 0; n <= L; n++) {
        for (int64_t i = 0; i <= L; i++) a[i] = frand(10), b[i] = i % 7 == 3 ? 0.0f : frand(3);
        a[5] = NAN, b[9] = INFINITY, a[11] = 0.0f; /* 0/0, inf - inf... */
        int64_t sa = form != 2, sb = form != 1;
        for (int64_t i = 0; i < n; i++) {
          float x = a[i * sa], y = b[i * sb];
          ref[i] = op == 0 ? x + y : op == 1 ? x - y : op == 2 ? x * y : x / y;
        }
        k->binary(op, a, sa, b, sb, o, n);
        pfw_test_checks++;
        if (memcmp(o, ref, sizeof(float) * (size_t)n) != 0) {
          pfw_test_failures++;
          fprintf(stderr, "binary op %d form %d n %lld differs from scalar\n", op, form, (long long)n);
        }
      }
}

/* Relu bit for bit against the scalar expression over the bit-pattern sweep
 * (NaN payloads and -0 included). */
static void check_relu(const pfw_vec_kernels* k) {
  enum { N = 4099 };
  static float x[N], y[N], ref[N];
  for (uint64_t bits = 0; bits < (1ull << 32);) {
    int64_t n = 0;
    for (; n < N && bits < (1ull << 32); n++, bits += 4093) {
      uint32_t b = (uint32_t)bits;
      memcpy(&x[n], &b, 4);
      ref[n] = x[n] < 0 ? 0 : x[n];
    }
    k->relu(x, y, n);
    pfw_test_checks++;
    if (memcmp(y, ref, sizeof(float) * (size_t)n) != 0) {
      pfw_test_failures++;
      fprintf(stderr, "relu differs from the scalar expression\n");
      return;
    }
  }
}

static void set_tensor(pfw_tensor* t, int32_t rank, const int64_t* dims, float* data) {
  memset(t, 0, sizeof *t);
  t->dtype = PFW_FLOAT32;
  t->rank = rank;
  for (int32_t k = 0; k < rank; k++) t->dims[k] = dims[k];
  t->data = data;
}

/* Broadcast shapes through the op's driver: vector rows over 3 threads vs
 * the scalar ISA on one, bit for bit. */
static void check_binary_bcast(pfw_isa isa) {
  static const int64_t shapes[][2][4] = {
      {{3, 5, 7}, {7}},       {{3, 1, 7}, {1, 5, 1}}, {{2, 3, 4, 67}, {3, 1, 1}}, {{1}, {67}},
      {{40001}, {40001}},     {{5, 1}, {1, 9000}},    {{2, 70000}, {1}},          {{4, 1, 33}, {4, 17, 1}},
  };
  static const int32_t ranks[][2] = {{3, 1}, {3, 3}, {4, 3}, {1, 1}, {1, 1}, {2, 2}, {2, 1}, {3, 3}};
  pfw_threadpool* pool = pfw_threadpool_create(3);
  for (size_t c = 0; c < sizeof ranks / sizeof ranks[0]; c++) {
    pfw_tensor in[2], out[2];
    int64_t na = 1, nb = 1;
    for (int32_t k = 0; k < ranks[c][0]; k++) na *= shapes[c][0][k];
    for (int32_t k = 0; k < ranks[c][1]; k++) nb *= shapes[c][1][k];
    float* a = malloc(sizeof(float) * (size_t)na);
    float* b = malloc(sizeof(float) * (size_t)nb);
    for (int64_t i = 0; i < na; i++) a[i] = frand(4);
    for (int64_t i = 0; i < nb; i++) b[i] = frand(2);
    set_tensor(&in[0], ranks[c][0], shapes[c][0], a);
    set_tensor(&in[1], ranks[c][1], shapes[c][1], b);
    int32_t ro;
    int64_t od[PFW_MAX_RANK];
    pfw_broadcast_shape(in[0].rank, in[0].dims, in[1].rank, in[1].dims, &ro, od);
    int64_t no = 1;
    for (int32_t k = 0; k < ro; k++) no *= od[k];
    float* y[2] = {malloc(sizeof(float) * (size_t)no), malloc(sizeof(float) * (size_t)no)};
    const pfw_tensor* pin[2] = {&in[0], &in[1]};
    for (int op = 0; op < 4; op++) {
      for (int v = 0; v < 2; v++) {
        set_tensor(&out[v], ro, od, y[v]);
        pfw_tensor* po = &out[v];
        pfw_node node;
        memset(&node, 0, sizeof node);
        node.out = &po;
        node.isa = v ? isa : PFW_ISA_SCALAR;
        node.pool = v ? pool : NULL;
        pfw_binary_f32_run(&node, pin, op);
      }
      pfw_test_checks++;
      if (memcmp(y[0], y[1], sizeof(float) * (size_t)no) != 0) {
        pfw_test_failures++;
        fprintf(stderr, "broadcast case %zu op %d: vector differs from scalar\n", c, op);
      }
    }
    free(a), free(b), free(y[0]), free(y[1]);
  }
  pfw_threadpool_free(pool);
}

static void check_softmax(const pfw_vec_kernels* k) {
  enum { L = 1031 };
  static float x[L], y[L];
  static const int64_t lens[] = {1, 2, 3, 7, 8, 9, 15, 17, 31, 63, 67, 129, 1031};
  for (size_t c = 0; c < sizeof lens / sizeof lens[0]; c++) {
    int64_t n = lens[c];
    for (int64_t i = 0; i < n; i++) x[i] = frand(c % 2 ? 30.0f : 3.0f);
    float m = x[0];
    for (int64_t i = 1; i < n; i++) m = x[i] > m ? x[i] : m;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += exp((double)(x[i] - m));
    for (int log_sm = 0; log_sm < 2; log_sm++) {
      k->softmax(x, y, n, log_sm);
      for (int64_t i = 0; i < n; i++) {
        double d = (double)(x[i] - m), r = log_sm ? d - log(sum) : exp(d) / sum;
        /* Softmax: exp's 3 ulp, the float sum and the division: 5 ulp.
         * LogSoftmax: two float subtractions of values up to |d| + log n. */
        double bound = log_sm ? ldexp(fabs(d) + log(sum), -23) : 5 * ulp_of(r);
        pfw_test_checks++;
        if (!(fabs(y[i] - r) <= bound)) {
          pfw_test_failures++;
          fprintf(stderr, "%s n=%lld [%lld] = %.9g, reference %.17g\n", log_sm ? "logsoftmax" : "softmax",
                  (long long)n, (long long)i, y[i], r);
          break;
        }
      }
    }
  }
}

static void check_layernorm(const pfw_vec_kernels* k) {
  enum { L = 1031 };
  static float x[L], y[L], s[L], b[L];
  static const int64_t lens[] = {1, 3, 7, 8, 9, 17, 33, 67, 768, 1031};
  for (size_t c = 0; c < sizeof lens / sizeof lens[0]; c++) {
    int64_t n = lens[c];
    /* An offset mean stresses the variance: a one-pass formula would cancel. */
    for (int64_t i = 0; i < n; i++) x[i] = 100.0f + frand(1), s[i] = frand(2), b[i] = frand(1);
    double mean = 0, var = 0;
    for (int64_t i = 0; i < n; i++) mean += x[i];
    mean /= (double)n;
    for (int64_t i = 0; i < n; i++) var += (x[i] - mean) * (x[i] - mean);
    double inv = 1 / sqrt(var / (double)n + 1e-5);
    for (int with_bias = 0; with_bias < 2; with_bias++) {
      float mo, io;
      k->layernorm(x, y, n, s, with_bias ? b : NULL, 1e-5f, &mo, &io);
      /* The sums are ordered differently: the same to a double rounding. */
      CHECK(fabs(mo - mean) <= ulp_of(mean) && fabs(io - inv) <= ulp_of(inv));
      for (int64_t i = 0; i < n; i++) {
        double t = (x[i] - mean) * inv * s[i], r = with_bias ? t + b[i] : t;
        /* x - mean in float loses up to ulp(x) / 2 = 2^-18 around 100;
         * times inv and scale; then three roundings of the result. */
        double bound = ldexp(1.0, -18) * inv * fabs(s[i]) + 3 * ulp_of(fabs(t) + (with_bias ? fabs(b[i]) : 0));
        pfw_test_checks++;
        if (!(fabs(y[i] - r) <= bound)) {
          pfw_test_failures++;
          fprintf(stderr, "layernorm n=%lld [%lld] = %.9g, reference %.17g\n", (long long)n, (long long)i, y[i], r);
          break;
        }
      }
    }
  }
}

int main(void) {
  static const pfw_isa isas[] = {PFW_ISA_AVX2, PFW_ISA_AVX512, PFW_ISA_NEON};
  CHECK(pfw_vec_kernels_for(PFW_ISA_SCALAR) == NULL);
  for (size_t j = 0; j < sizeof isas / sizeof isas[0]; j++) {
    const pfw_vec_kernels* k = pfw_vec_kernels_for(isas[j]);
    if (!k || !pfw_cpu_supports(isas[j])) continue;
    const map_case cases[] = {
        {"exp", r_exp, 3, 0, false},   {"sigmoid", r_sigmoid, 3, 0, false},
        {"tanh", r_tanh, 3, 0, false}, {"erf", r_erf, 3, 0, false},
        {"gelu", r_gelu, 4, ldexp(1.0, -24), true}, {"gelu_tanh", r_gelu_tanh, 4, ldexp(1.0, -24), true},
    };
    const pfw_vec_row_fn fns[] = {k->exp, k->sigmoid, k->tanh, k->erf, k->gelu, k->gelu_tanh};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
      double frac = 0, w = check_map(&cases[c], fns[c], &frac);
      /* For gelu the ulp count is meaningless where 1 + erf cancels: only the bound's share is. */
      if (cases[c].abs_rel > 0) printf("%s %s: %.0f%% of the bound\n", k->name, cases[c].name, 100 * frac);
      else printf("%s %s: max %.2f ulp, %.0f%% of the bound\n", k->name, cases[c].name, w, 100 * frac);
    }
    check_relu(k);
    check_binary_rows(k);
    check_binary_bcast(isas[j]);
    check_softmax(k);
    check_layernorm(k);
  }
  printf("%d checks, %d failures\n", pfw_test_checks, pfw_test_failures);
  return pfw_test_failures != 0;
}
