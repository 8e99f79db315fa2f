/* The packed sgemm driver and every micro-kernel this CPU runs, against a
 * double-precision reference: odd sizes around the tile and K-block edges,
 * transposed (strided) operands, prepacked and pack-function operands,
 * batches with offsets, the epilogue (alpha, bias, beta * C broadcast,
 * activation); and bit-identical results at 1, 2, 3 and 4 threads.
 *
 * The bound is the classic one for a float sum of K products, each a fused
 * multiply-add: |y - exact| <= (K + 4) u sum_k |a_k b_k| (+ the epilogue's
 * terms, each rounded once), u = 2^-24. It is what float accumulation can
 * do, not a tolerance picked to pass. */
#include <stdlib.h>

#include "kernels/sgemm.h"
#include "test_util.h"

static uint64_t rng_state = 88172645463325252ull;
static float frand(void) { /* uniform in [-1, 1) */
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (float)((double)(rng_state >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static float* rand_floats(int64_t n) {
  float* p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
  for (int64_t i = 0; i < n; i++) p[i] = frand();
  return p;
}

/* B given to the driver through a pack function: reads B by strides, as
 * Conv's implicit im2col would read X. */
typedef struct strided {
  const float* b;
  int64_t rs, cs, batch_stride;
} strided;

static void pack_strided(const void* p, int64_t batch, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int32_t nr,
                         int64_t panel_stride, float* dst) {
  const strided* s = p;
  for (int64_t q = 0; q < nc; q += nr)
    for (int64_t k = 0; k < kc; k++)
      for (int32_t j = 0; j < nr; j++)
        dst[q / nr * panel_stride + k * nr + j] =
            q + j < nc ? s->b[batch * s->batch_stride + (k0 + k) * s->rs + (j0 + q + j) * s->cs] : 0.0f;
}

typedef struct gcase {
  int64_t M, N, K, batch;
  bool ta, tb;        /* A given as A^T in memory (column-major), same for B */
  int form;           /* 0: strided, 1: A prepacked, 2: B prepacked, 3: B by pack function */
  bool epilogue;      /* alpha, bias, beta * C (broadcast row), Relu */
} gcase;

/* Runs one case on kernel k with `threads`; returns Y (caller frees). */
static float* run_case(const pfw_sgemm_kernel* k, const gcase* c, const float* A, const float* B, const float* C,
                       const float* bias, int32_t threads) {
  pfw_sgemm_args g;
  memset(&g, 0, sizeof g);
  g.M = c->M, g.N = c->N, g.K = c->K, g.batch = c->batch;
  int64_t* off = malloc(sizeof(int64_t) * 2 * (size_t)c->batch);
  for (int64_t b = 0; b < c->batch; b++) off[b] = b * c->M * c->K, off[c->batch + b] = b * c->K * c->N;
  g.a = A, g.a_rs = c->ta ? 1 : c->K, g.a_cs = c->ta ? c->M : 1, g.a_off = off;
  g.b = B, g.b_rs = c->tb ? 1 : c->N, g.b_cs = c->tb ? c->K : 1, g.b_off = off + c->batch;
  float* packed;
  void* state = NULL;
  strided sb = {B, g.b_rs, g.b_cs, c->K * c->N};
  if (c->form == 1) { /* one A for every batch when prepacked */
    packed = pfw_sgemm_alloc_state(pfw_sgemm_packed_a_floats(k, c->M, c->K), &state);
    pfw_sgemm_pack_a(k, A, g.a_rs, g.a_cs, c->M, c->K, packed);
    g.a_packed = packed;
    for (int64_t b = 0; b < c->batch; b++) off[b] = 0;
  } else if (c->form == 2) {
    packed = pfw_sgemm_alloc_state(pfw_sgemm_packed_b_floats(k, c->K, c->N), &state);
    pfw_sgemm_pack_b(k, B, g.b_rs, g.b_cs, c->K, c->N, packed);
    g.b_packed = packed;
    for (int64_t b = 0; b < c->batch; b++) off[c->batch + b] = 0;
  } else if (c->form == 3) {
    g.pack_b = pack_strided, g.pack_ctx = &sb;
  }
  int64_t ldy = c->N + 3; /* a row stride wider than N: nothing past N is written */
  float* Y = malloc(sizeof(float) * (size_t)(c->batch * c->M * ldy + 1));
  for (int64_t i = 0; i < c->batch * c->M * ldy; i++) Y[i] = 12345.0f;
  g.y = Y, g.ldy = ldy, g.y_batch = c->M * ldy;
  g.alpha = 1.0f;
  if (c->epilogue) {
    g.alpha = 0.75f, g.beta = -0.5f, g.c = C, g.c_rs = 0, g.c_cs = 1, g.c_batch = 0, g.bias = bias;
    g.act.kind = PFW_ACT_RELU;
  }
  pfw_threadpool* pool = pfw_threadpool_create(threads);
  size_t bytes = pfw_sgemm_scratch_size(k, &g, threads);
  void* scratch = malloc(bytes);
  pfw_sgemm(k, &g, scratch, pool, threads);
  pfw_threadpool_free(pool);
  free(scratch);
  free(off);
  free(state);
  return Y;
}

static int check_case(const pfw_sgemm_kernel* k, const gcase* c) {
  int64_t na = c->batch * c->M * c->K, nb = c->batch * c->K * c->N;
  float* A = rand_floats(na);
  float* B = rand_floats(nb);
  float* C = rand_floats(c->N);
  float* bias = rand_floats(c->M);
  float* Y = run_case(k, c, A, B, C, bias, 1);
  int bad = 0;
  int64_t ldy = c->N + 3;
  for (int64_t b = 0; b < c->batch && !bad; b++) {
    int64_t ab = c->form == 1 ? 0 : b, bb = c->form == 2 ? 0 : b;
    for (int64_t i = 0; i < c->M && !bad; i++) {
      for (int64_t j = 0; j < ldy && !bad; j++) {
        float got = Y[(b * c->M + i) * ldy + j];
        if (j >= c->N) {
          if (got != 12345.0f) bad = 1;
          continue;
        }
        double s = 0, mag = 0;
        for (int64_t q = 0; q < c->K; q++) {
          double av = A[ab * c->M * c->K + (c->ta ? q * c->M + i : i * c->K + q)];
          double bv = B[bb * c->K * c->N + (c->tb ? j * c->K + q : q * c->N + j)];
          s += av * bv;
          mag += fabs(av * bv);
        }
        double want = s;
        if (c->epilogue) {
          want = 0.75 * s + bias[i] - 0.5 * C[j];
          mag = 0.75 * mag + fabs(bias[i]) + 0.5 * fabs(C[j]);
          want = want < 0 ? 0 : want;
        }
        double bound = (double)(c->K + 4) * 0x1p-24 * mag + 1e-30;
        if (!(fabs(got - want) <= bound)) {
          fprintf(stderr, "%s M=%lld N=%lld K=%lld form=%d ta=%d tb=%d ep=%d: y[%lld][%lld][%lld] = %.9g, want %.9g (bound %.3g)\n",
                  k->name, (long long)c->M, (long long)c->N, (long long)c->K, c->form, c->ta, c->tb, c->epilogue,
                  (long long)b, (long long)i, (long long)j, got, want, bound);
          bad = 1;
        }
      }
    }
  }
  /* The same bits at any thread count. */
  for (int32_t t = 2; t <= 4 && !bad; t++) {
    float* Yt = run_case(k, c, A, B, C, bias, t);
    if (memcmp(Yt, Y, sizeof(float) * (size_t)(c->batch * c->M * ldy)) != 0) {
      fprintf(stderr, "%s M=%lld N=%lld K=%lld: %d threads differ from 1\n", k->name, (long long)c->M,
              (long long)c->N, (long long)c->K, (int)t);
      bad = 1;
    }
    free(Yt);
  }
  free(A), free(B), free(C), free(bias), free(Y);
  return bad;
}

int main(void) {
  static const pfw_isa isas[] = {PFW_ISA_AVX2, PFW_ISA_AVX512, PFW_ISA_NEON};
  CHECK(pfw_sgemm_kernel_for(PFW_ISA_SCALAR) == NULL);
  int kernels = 0;
  for (size_t ii = 0; ii < sizeof isas / sizeof isas[0]; ii++) {
    if (!pfw_cpu_supports(isas[ii])) continue;
    const pfw_sgemm_kernel* k = pfw_sgemm_kernel_for(isas[ii]);
    CHECK(k != NULL);
    if (!k) continue;
    kernels++;
    int64_t mr = k->mr, nr = k->nr;
    /* Sizes at and around the tile edges, the K block (256) and task splits. */
    int64_t Ms[] = {1, mr - 1, mr, mr + 1, 2 * mr + 3, 67, 300};
    int64_t Ns[] = {1, nr - 1, nr, nr + 1, 3 * nr + 5, 530};
    int64_t Ks[] = {1, 7, 255, 256, 257, 600};
    int cases = 0;
    for (size_t a = 0; a < sizeof Ms / sizeof Ms[0]; a++)
      for (size_t b = 0; b < sizeof Ns / sizeof Ns[0]; b++)
        for (size_t q = 0; q < sizeof Ks / sizeof Ks[0]; q++) {
          int64_t M = Ms[a], N = Ns[b], K = Ks[q];
          if (M * N * K > 30000000) continue; /* keeps the reference loop quick */
          int v = (int)(a + b + q);
          gcase c = {M, N, K, 1 + v % 2, v % 3 == 1, v % 4 == 2, v % 4, v % 2 == 0};
          CHECK(check_case(k, &c) == 0);
          cases++;
        }
    gcase empty_k = {5, 9, 0, 1, false, false, 0, true};
    CHECK(check_case(k, &empty_k) == 0);
    printf("%s: %d cases\n", k->name, cases + 1);
  }
  printf("%d SIMD sgemm kernels checked on this CPU\n", kernels);
  TEST_MAIN_END();
}
