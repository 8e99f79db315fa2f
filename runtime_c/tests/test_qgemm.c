/* The integer GEMM driver and every micro-kernel this CPU runs (the
 * portable one always; AVX2, AVX-512 and AVX512-VNNI where present), against a direct int64
 * loop: sizes around the tile edges and the column chunk, uint8 and int8
 * operands, per-row and per-column zero points, strided and pack-function
 * B, batches with shared and per-batch A; the byte path (int8 A, with
 * pairs past the vpmaddubsw bound cut and added back) where a kernel has
 * one and A fits. Integers must match exactly, and at 1, 2, 3 and 4
 * threads. */
#include <stdlib.h>

#include "kernels/qgemm.h"
#include "test_util.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t urand(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 32);
}

typedef struct qcase {
  int64_t M, N, K, batch;
  bool a_signed, b_signed, a_shared, by_fn;
  bool a_fits; /* zero points that put every A - za in int8 (the byte path) */
} qcase;

/* The data: A [batch or 1][M][K], B [batch][K][N] stored as B^T rows
 * (element (k, j) at j*K + k, as MatMul's x is read), zero points. */
typedef struct qdata {
  uint8_t *a, *b;
  int32_t *za, *zb;
} qdata;

static int32_t val(const uint8_t* p, bool s, int64_t i) { return s ? (int8_t)p[i] : p[i]; }

typedef struct fn_ctx {
  const qcase* c;
  const qdata* d;
} fn_ctx;

/* B through a pack function, written directly in the packed layout. */
static void pack_fn(const void* p, int64_t batch, int64_t j0, int64_t nc, int32_t nr, int16_t* dst) {
  const fn_ctx* f = p;
  int64_t K = f->c->K, kp = (K + 1) / 2;
  for (int64_t j = 0; j < (nc + nr - 1) / nr * nr; j++)
    for (int64_t k = 0; k < kp * 2; k++) {
      int16_t v = 0;
      if (j < nc && k < K)
        v = (int16_t)(val(f->d->b, f->c->b_signed, (batch * f->c->N + j0 + j) * K + k) - f->d->zb[j0 + j]);
      dst[(j / nr) * kp * nr * 2 + (k / 2) * nr * 2 + (j % nr) * 2 + (k & 1)] = v;
    }
}

/* The same B as uint8 quads for the byte path (int8 read as uint8 ^ 0x80). */
static void pack_fn_u8(const void* p, int64_t batch, int64_t j0, int64_t nc, int32_t nr, uint8_t* dst) {
  const fn_ctx* f = p;
  int64_t K = f->c->K, kq = (K + 3) / 4;
  for (int64_t j = 0; j < (nc + nr - 1) / nr * nr; j++)
    for (int64_t k = 0; k < kq * 4; k++) {
      uint8_t v = (uint8_t)(j * 7 + k); /* padding: any value (A is 0 there) */
      if (j < nc && k < K) v = f->d->b[(batch * f->c->N + j0 + j) * K + k] ^ (f->c->b_signed ? 0x80 : 0);
      dst[(j / nr) * kq * nr * 4 + (k / 4) * nr * 4 + (j % nr) * 4 + k % 4] = v;
    }
}

static int64_t byte_runs, cut_pairs; /* how often the byte path ran, and with how many cut pairs */

typedef struct sink {
  int32_t* y;
  int64_t M, N;
} sink;

static void store(const void* p, int64_t batch, int64_t i0, int32_t m, int64_t j0, int32_t n, const int32_t* c,
                  int64_t ldc) {
  const sink* s = p;
  for (int32_t r = 0; r < m; r++)
    for (int32_t j = 0; j < n; j++) s->y[(batch * s->M + i0 + r) * s->N + j0 + j] = c[r * ldc + j];
}

static int32_t* run(const pfw_qgemm_kernel* k, const qcase* c, const qdata* d, int32_t threads) {
  int64_t sets = c->a_shared ? 1 : c->batch;
  size_t per = pfw_qgemm_packed_a_size(k, c->M, c->K);
  int16_t* ap = malloc((per * (size_t)sets + 1) * sizeof(int16_t));
  for (int64_t s = 0; s < sets; s++) {
    pfw_qmat am = {d->a + s * c->M * c->K, c->a_signed, c->K, 1, d->za, 1};
    pfw_qgemm_pack_a(k, &am, c->M, c->K, ap + (size_t)s * per);
  }
  /* The byte path takes one A for all batches. */
  pfw_qmat a0 = {d->a, c->a_signed, c->K, 1, d->za, 1};
  size_t a8_bytes = c->a_shared ? pfw_qgemm_a8_size(k, &a0, c->M, c->K) : 0;
  if (k->micro_u8 && k->u8_exact && c->a_shared && c->a_fits && c->K > 0) CHECK(a8_bytes > 0);
  void* a8_mem = a8_bytes ? aligned_alloc(64, (a8_bytes + 63) / 64 * 64) : NULL;
  int32_t* y = calloc((size_t)(c->batch * c->M * c->N) + 1, sizeof(int32_t));
  sink sk = {y, c->M, c->N};
  fn_ctx f = {c, d};
  pfw_qgemm_args g = {.M = c->M, .N = c->N, .K = c->K, .batch = c->batch, .a_packed = ap,
                      .a_batch = c->a_shared ? 0 : (int64_t)per, .store = store, .store_ctx = &sk};
  if (a8_mem) {
    g.a8 = pfw_qgemm_pack_a8(k, &a0, c->M, c->K, a8_mem);
    byte_runs++;
    cut_pairs += g.a8->res_at[(c->M + k->mr - 1) / k->mr];
  }
  if (c->by_fn) {
    g.pack_b = pack_fn;
    g.pack_b_u8 = pack_fn_u8;
    g.pack_ctx = &f;
    g.b_offset = d->zb[0] + (c->b_signed ? 128 : 0); /* one zero for all columns in these cases */
  } else {
    g.b = (pfw_qmat){d->b, c->b_signed, 1, c->K, d->zb, 1};
    g.b_batch = c->N * c->K;
  }
  pfw_threadpool* pool = pfw_threadpool_create(threads);
  void* scratch = malloc(pfw_qgemm_scratch_size(k, &g, threads));
  pfw_qgemm(k, &g, scratch, pool, threads);
  pfw_threadpool_free(pool);
  free(scratch), free(ap), free(a8_mem);
  return y;
}

static int check_case(const pfw_qgemm_kernel* k, const qcase* c) {
  int64_t sets = c->a_shared ? 1 : c->batch;
  qdata d;
  d.a = malloc((size_t)(sets * c->M * c->K) + 1);
  d.b = malloc((size_t)(c->batch * c->N * c->K) + 1);
  d.za = malloc((size_t)c->M * sizeof(int32_t));
  d.zb = malloc((size_t)c->N * sizeof(int32_t));
  for (int64_t i = 0; i < sets * c->M * c->K; i++) d.a[i] = (uint8_t)urand();
  for (int64_t i = 0; i < c->batch * c->N * c->K; i++) d.b[i] = (uint8_t)urand();
  /* Extremes included: |x - zero| reaches 255 for both signednesses. */
  for (int64_t i = 0; i < c->M; i++) d.za[i] = c->a_signed ? (int32_t)(urand() % 256) - 128 : (int32_t)(urand() % 256);
  for (int64_t i = 0; i < c->N; i++) d.zb[i] = c->b_signed ? (i % 2 ? 127 : -128) : (i % 2 ? 255 : 0);
  if (c->a_fits) { /* int8 A: symmetric (zero 0), or uint8 about 128; mostly small with 1 in 16 anywhere in
                     * the range, so some pairs are cut (uniform values would cut too many for the byte path) */
    for (int64_t i = 0; i < sets * c->M * c->K; i++)
      if (urand() % 16) d.a[i] = (uint8_t)((int32_t)(urand() % 61) - 30 + (c->a_signed ? 0 : 128));
    for (int64_t i = 0; i < c->M; i++) d.za[i] = c->a_signed ? 0 : 128;
    if (c->by_fn)
      for (int64_t i = 0; i < c->N; i++) d.zb[i] = c->b_signed ? 127 : 255;
  }
  int bad = 0;
  int32_t* y1 = run(k, c, &d, 1);
  for (int64_t b = 0; b < c->batch && !bad; b++)
    for (int64_t i = 0; i < c->M && !bad; i++)
      for (int64_t j = 0; j < c->N && !bad; j++) {
        int64_t s = 0;
        const uint8_t* a = d.a + (c->a_shared ? 0 : b) * c->M * c->K + i * c->K;
        const uint8_t* bb = d.b + (b * c->N + j) * c->K;
        for (int64_t q = 0; q < c->K; q++)
          s += (int64_t)(val(a, c->a_signed, q) - d.za[i]) * (val(bb, c->b_signed, q) - d.zb[j]);
        if (y1[(b * c->M + i) * c->N + j] != (int32_t)s) {
          fprintf(stderr, "%s M=%lld N=%lld K=%lld batch=%lld: y[%lld][%lld][%lld] = %d, expected %lld\n", k->name,
                  (long long)c->M, (long long)c->N, (long long)c->K, (long long)c->batch, (long long)b,
                  (long long)i, (long long)j, y1[(b * c->M + i) * c->N + j], (long long)s);
          bad = 1;
        }
      }
  for (int32_t t = 2; t <= 4 && !bad; t++) {
    int32_t* yt = run(k, c, &d, t);
    if (memcmp(yt, y1, (size_t)(c->batch * c->M * c->N) * sizeof(int32_t)) != 0) {
      fprintf(stderr, "%s: results at %d threads differ from 1 thread\n", k->name, (int)t);
      bad = 1;
    }
    free(yt);
  }
  free(y1), free(d.a), free(d.b), free(d.za), free(d.zb);
  return bad;
}

/* micro_u8_taps (the direct convolution's tile) against a direct loop:
 * tap offsets that overlap and go backwards, quads bstride apart, int8 A
 * over the whole range (the kernels that have it do not saturate). */
static int check_taps(const pfw_qgemm_kernel* k, int32_t taps, int64_t cq) {
  int64_t mr = k->mr, nr = k->nr, bstride = nr * 4 + 52, ldc = nr + 3;
  int64_t boff[9];
  for (int32_t t = 0; t < taps; t++) boff[t] = (int64_t)((t * 5) % 7) * 4 + (t % 2) * 64;
  size_t bbytes = (size_t)((cq - 1) * bstride + 7 * 4 + 64 + nr * 4);
  int8_t* a = malloc((size_t)(taps * cq * mr * 4));
  uint8_t* b = malloc(bbytes);
  int32_t* c = malloc((size_t)(mr * ldc) * sizeof(int32_t));
  for (int64_t i = 0; i < taps * cq * mr * 4; i++) a[i] = (int8_t)urand();
  for (size_t i = 0; i < bbytes; i++) b[i] = (uint8_t)urand();
  k->micro_u8_taps(taps, boff, cq, bstride, a, b, c, ldc);
  int bad = 0;
  for (int64_t r = 0; r < mr && !bad; r++)
    for (int64_t j = 0; j < nr && !bad; j++) {
      int64_t s = 0;
      for (int32_t t = 0; t < taps; t++)
        for (int64_t q = 0; q < cq; q++)
          for (int e = 0; e < 4; e++)
            s += (int64_t)a[((t * cq + q) * mr + r) * 4 + e] *
                 ((int32_t)b[boff[t] + q * bstride + j * 4 + e] - k->u8_offset);
      if (c[r * ldc + j] != (int32_t)s) {
        fprintf(stderr, "%s taps=%d cq=%lld: c[%lld][%lld] = %d, expected %lld\n", k->name, (int)taps,
                (long long)cq, (long long)r, (long long)j, c[r * ldc + j], (long long)s);
        bad = 1;
      }
    }
  free(a), free(b), free(c);
  return bad;
}

int main(void) {
  const pfw_qgemm_kernel* kernels[8];
  int count = pfw_qgemm_kernels(kernels, 8);
  CHECK(pfw_qgemm_kernel_for(PFW_ISA_SCALAR) == NULL);
  CHECK(count >= 1 && kernels[0] == &pfw_qgemm_s16_generic);
  for (int ki = 0; ki < count; ki++) {
    const pfw_qgemm_kernel* k = kernels[ki];
    int64_t mr = k->mr, nr = k->nr;
    /* Tile edges; N past one 256-column chunk; K odd and even, and long
     * enough that chunks shrink below 256 columns. */
    int64_t Ms[] = {1, mr - 1, mr + 1, 3 * mr + 2, 64};
    int64_t Ns[] = {1, nr - 1, nr + 1, 300};
    int64_t Ks[] = {1, 2, 9, 64, 1501};
    int cases = 0;
    for (size_t a = 0; a < sizeof Ms / sizeof Ms[0]; a++)
      for (size_t b = 0; b < sizeof Ns / sizeof Ns[0]; b++)
        for (size_t q = 0; q < sizeof Ks / sizeof Ks[0]; q++) {
          int v = (int)(a + b + q);
          qcase c = {Ms[a], Ns[b], Ks[q], 1 + v % 3, v % 2 == 0, v % 4 < 2, v % 3 == 0, v % 5 == 1, false};
          CHECK(check_case(k, &c) == 0);
          /* and A in int8, one A for all batches: the byte path where the kernel has one */
          c.a_fits = c.a_shared = true;
          c.by_fn = v % 2 == 1;
          CHECK(check_case(k, &c) == 0);
          cases += 2;
        }
    /* the byte path ran, and where the kernel cuts pairs, with cuts */
    CHECK(!k->micro_u8 || byte_runs > 0);
    CHECK(!k->micro_u8 || k->u8_exact || cut_pairs > 0);
    printf("%s: byte path in %lld runs, %lld pairs cut\n", k->name, (long long)byte_runs, (long long)cut_pairs);
    byte_runs = cut_pairs = 0;
    if (k->micro_u8_taps) {
      CHECK(k->u8_exact);
      int32_t taps[] = {1, 2, 9};
      int64_t cqs[] = {1, 3, 40};
      for (int t = 0; t < 3; t++)
        for (int q = 0; q < 3; q++) CHECK(check_taps(k, taps[t], cqs[q]) == 0);
      printf("%s: micro_u8_taps 9 cases\n", k->name);
    }
    qcase empty_k = {5, 9, 0, 2, false, true, false, false, false};
    CHECK(check_case(k, &empty_k) == 0);
    printf("%s: %d cases\n", k->name, cases + 1);
  }
  TEST_MAIN_END();
}
