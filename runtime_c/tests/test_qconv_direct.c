/* QLinearConv's direct path (ops/qconv_direct.c: no im2col, the kernel
 * reading an interleaved, zero-point padded copy of the input in place)
 * on every SIMD level this CPU has, against the scalar reference loop:
 * the same bytes at 1, 2 and 3 threads. Shapes: stride phases (2 and 3),
 * dilation, 1-D, channels that do not fill a quad, several images, int8
 * and uint8 x, 7x7 planes with many output channels (threads split rows),
 * and a 1x1 stride-2 Conv, which must leave the path (it would interleave
 * three phases for nothing) and still agree. Also the depthwise path
 * (ops/qconv_depthwise.c) on bytes (AVX512-VNNI) or int16: short rows
 * requantised as one run and copied out in words, a 1x1 plane, stride-2
 * phases, weights given per run. */
#include <stdint.h>

#include "kernels/qgemm.h"
#include "ops/qlinear.h"
#include "op_harness.h"

typedef struct dcase {
  int64_t N, C, M, H, W, k, stride, dil, pads[4]; /* H = 0: 1-D over W; pads top, left, bottom, right */
  bool x_signed, direct; /* direct: the path must apply (where a kernel has it) */
  bool wz_input;         /* w's zero point an input, not a constant: weights packed per run, im2col */
  bool depthwise;        /* group = C = M: the depthwise path (ops/qconv_depthwise.c) instead */
} dcase;

static const dcase CASES[] = {
    {1, 16, 20, 9, 11, 3, 1, 1, {1, 1, 1, 1}, false, true, false, false},
    {2, 12, 33, 15, 13, 3, 2, 1, {1, 1, 1, 1}, false, true, false, false},
    {1, 6, 8, 30, 30, 5, 2, 1, {2, 2, 2, 2}, true, true, false, false},
    /* im2col with runs of columns that start right of the input (pads past a stride) */
    {1, 6, 8, 30, 30, 5, 2, 1, {2, 2, 2, 2}, true, false, true, false},
    {1, 8, 16, 20, 20, 3, 1, 2, {2, 1, 2, 3}, true, true, false, false},
    {1, 3, 16, 40, 40, 7, 2, 1, {3, 3, 3, 3}, false, true, false, false},
    {1, 64, 70, 7, 7, 3, 1, 1, {1, 1, 1, 1}, false, true, false, false},
    {1, 24, 16, 8, 8, 1, 1, 1, {0, 0, 0, 0}, true, true, false, false},
    {1, 8, 12, 0, 30, 3, 3, 1, {0, 1, 0, 2}, false, true, false, false},
    {1, 24, 16, 8, 8, 1, 2, 1, {0, 0, 0, 0}, false, false, false, false},
    /* depthwise: short rows (the whole run requantised, then copied in words), a 1 x 1 plane, stride 2
     * phases over two images, rows long enough to requantise in place, int8 x */
    {1, 24, 24, 7, 7, 3, 1, 1, {1, 1, 1, 1}, false, false, false, true},
    {1, 4, 4, 1, 1, 3, 1, 1, {1, 1, 1, 1}, true, false, false, true},
    {2, 20, 20, 15, 13, 3, 2, 1, {1, 0, 0, 1}, false, false, false, true},
    {1, 16, 16, 40, 37, 3, 1, 1, {1, 1, 1, 1}, true, false, false, true},
    {1, 12, 12, 20, 61, 5, 2, 2, {2, 1, 2, 3}, false, false, true, true},
    /* pads and dilations near 2^31 on a 1x1 input: the phase-plane layout would pass 2^63 bytes (its size
     * wrapped to a small scratch once); the depthwise path refuses it and the GEMM path runs */
    {1, 8, 8, 1, 1, 2, 1 << 16, INT32_MAX, {1 << 30, 1 << 30, (1 << 30) - 1, (1 << 30) - 1}, false, false, false, true},
};

typedef struct ddata {
  uint8_t *x, *w;
  float* ws;
  int32_t* b;
} ddata;

static float xs = 0.02f, ys = 0.15f;
static uint8_t yz = 120, wz[128];

static void build(tnode* t, const dcase* c, const ddata* d, uint8_t* xz) {
  tn_init(t, PFW_OP_QLinearConv, 10);
  pfw_dtype xdt = c->x_signed ? PFW_INT8 : PFW_UINT8;
  *xz = c->x_signed ? (uint8_t)(int8_t)-20 : 100;
  if (c->H) tn_in(t, xdt, d->x, SH(c->N, c->C, c->H, c->W));
  else tn_in(t, xdt, d->x, SH(c->N, c->C, c->W));
  tn_in(t, PFW_FLOAT32, &xs, 0, NULL);
  tn_in(t, xdt, xz, 0, NULL);
  int64_t cg = c->depthwise ? 1 : c->C;
  pfw_tensor* w = c->H ? tn_in(t, PFW_INT8, d->w, SH(c->M, cg, c->k, c->k)) : tn_in(t, PFW_INT8, d->w, SH(c->M, cg, c->k));
  w->is_const = true;
  tn_in(t, PFW_FLOAT32, d->ws, SH(c->M));
  tn_in(t, PFW_INT8, wz, SH(c->M))->is_const = !c->wz_input;
  tn_in(t, PFW_FLOAT32, &ys, 0, NULL);
  tn_in(t, xdt, &yz, 0, NULL);
  tn_in(t, PFW_INT32, d->b, SH(c->M));
  if (c->depthwise) tn_int(t, "group", c->C);
  if (c->H) {
    tn_ints(t, "pads", 4, c->pads);
    INTS(t, "strides", c->stride, c->stride);
    INTS(t, "dilations", c->dil, c->dil);
  } else {
    INTS(t, "pads", c->pads[1], c->pads[3]);
    INTS(t, "strides", c->stride);
    INTS(t, "dilations", c->dil);
  }
}

static uint8_t* run(const dcase* c, const ddata* d, pfw_isa isa, int32_t threads, size_t* ny) {
  tnode t;
  uint8_t xz;
  build(&t, c, d, &xz);
  pfw_threadpool* pool = pfw_threadpool_create(threads);
  t.node.isa = isa;
  t.node.pool = pool;
  t.node.num_threads = threads;
  CHECK_OK(tn_exec(&t));
  *ny = (size_t)pfw_numel(&t.tout[0]);
  uint8_t* y = malloc(*ny + 1);
  memcpy(y, t.tout[0].data, *ny);
  tn_free(&t);
  pfw_threadpool_free(pool);
  return y;
}

/* Whether the direct path serves c at isa (the checks qlinear.c makes). */
static bool takes_direct(const dcase* c, const ddata* d, pfw_isa isa) {
  tnode t;
  uint8_t xz;
  build(&t, c, d, &xz);
  static const qsig sig = {0, 1, 2, 3, 4, 5, 6, 7, 8, true};
  qgeom q = {.sig = &sig, .images = c->N, .C = c->C};
  int64_t dims[PFW_MAX_RANK];
  CHECK_OK(pfw_conv_shape(&t.node, 0, 3, &q.g, &q.groups, dims));
  q.Cg = c->C / q.groups;
  q.rows = c->M;
  q.out_plane = dims[2] * (c->H ? dims[3] : 1);
  return pfw_qconv_direct_applies(&q, pfw_qgemm_kernel_for(isa));
}

/* The direct path's layout past any buffer (dilation 2^31 - 1 down,
 * stride 64 across, pads 2^30 around a 1 x 1 input: phase planes of 2^56
 * positions, whose byte size wrapped to a small scratch once) is refused;
 * the GEMM path takes it (not run here: its output is 2^25 bytes). */
static void check_huge_layout(pfw_isa isa) {
  static int8_t w[4 * 2 * 64];
  uint8_t x[4] = {1, 2, 3, 4}, xz = 3;
  float ws = 0.01f;
  int32_t b = 7;
  tnode t;
  tn_init(&t, PFW_OP_QLinearConv, 10);
  tn_in(&t, PFW_UINT8, x, SH(1, 4, 1, 1));
  tn_in(&t, PFW_FLOAT32, &xs, 0, NULL);
  tn_in(&t, PFW_UINT8, &xz, 0, NULL);
  tn_in(&t, PFW_INT8, w, SH(1, 4, 2, 64))->is_const = true;
  tn_in(&t, PFW_FLOAT32, &ws, SH(1));
  tn_in(&t, PFW_INT8, wz, SH(1))->is_const = true; /* the zeros of the cases' table */
  tn_in(&t, PFW_FLOAT32, &ys, 0, NULL);
  tn_in(&t, PFW_UINT8, &yz, 0, NULL);
  tn_in(&t, PFW_INT32, &b, SH(1));
  INTS(&t, "pads", 1 << 30, 1 << 30, (1 << 30) - 1, (1 << 30) - 1);
  INTS(&t, "dilations", INT32_MAX, 1);
  INTS(&t, "strides", 1, 64);
  static const qsig sig = {0, 1, 2, 3, 4, 5, 6, 7, 8, true};
  qgeom q = {.sig = &sig, .images = 1, .C = 4, .Cg = 4, .rows = 1};
  int64_t dims[PFW_MAX_RANK];
  CHECK_OK(pfw_conv_shape(&t.node, 0, 3, &q.g, &q.groups, dims));
  q.out_plane = dims[2] * dims[3];
  CHECK(dims[2] == 1 && dims[3] == INT64_C(1) << 25);
  CHECK(!pfw_qconv_direct_applies(&q, pfw_qgemm_kernel_for(isa)));
}

static void check_level(pfw_isa isa) {
  const pfw_qgemm_kernel* k = pfw_qgemm_kernel_for(isa);
  bool has_taps = k && k->micro_u8_taps;
  printf("%s: %s\n", pfw_isa_name(isa), has_taps ? "has the direct path" : "no direct path");
  for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
    const dcase* c = &CASES[i];
    int64_t kk = c->H ? c->k * c->k : c->k, nx = c->N * c->C * (c->H ? c->H : 1) * c->W;
    ddata d = {malloc((size_t)nx), malloc((size_t)(c->M * c->C * kk)), malloc(sizeof(float) * (size_t)c->M),
               malloc(sizeof(int32_t) * (size_t)c->M)};
    for (int64_t j = 0; j < nx; j++) d.x[j] = (uint8_t)(urand() * 128 + 128);
    for (int64_t j = 0; j < c->M * c->C * kk; j++) d.w[j] = (uint8_t)(int8_t)(urand() * 128); /* the whole int8 range */
    for (int64_t j = 0; j < c->M; j++) {
      d.ws[j] = 0.002f + 0.009f * (urand() + 1);
      d.b[j] = (int32_t)(urand() * 5000);
    }
    bool direct = takes_direct(c, &d, isa) && !c->wz_input;
    if (direct != (has_taps && c->direct)) fprintf(stderr, "case %zu: direct path %s\n", i, direct ? "taken" : "not taken");
    CHECK(direct == (has_taps && c->direct));
    size_t n_ref, n;
    uint8_t* ref = run(c, &d, PFW_ISA_SCALAR, 1, &n_ref);
    for (int32_t threads = 1; threads <= 3; threads++) {
      uint8_t* y = run(c, &d, isa, threads, &n);
      CHECK(n == n_ref && memcmp(y, ref, n) == 0);
      if (memcmp(y, ref, n) != 0) fprintf(stderr, "case %zu, %d threads: differs from the reference\n", i, (int)threads);
      free(y);
    }
    free(ref), free(d.x), free(d.w), free(d.ws), free(d.b);
  }
}

int main(void) {
  for (int isa = PFW_ISA_SCALAR + 1; isa <= (int)pfw_cpu_best_isa(); isa++)
    if (pfw_cpu_supports((pfw_isa)isa)) {
      check_level((pfw_isa)isa);
      check_huge_layout((pfw_isa)isa);
    }
  TEST_MAIN_END();
}
