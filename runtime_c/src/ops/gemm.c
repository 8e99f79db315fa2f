/* Gemm (Y = alpha * A' B' + beta * C) and MatMul (numpy matmul), float32
 * (MatMul also float64, float16 and bfloat16 on a scalar reference);
 * Det, the determinant of each trailing square matrix.
 * Products are accumulated in double; rows of the output are independent
 * tasks, so results do not depend on the thread count. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../kernels/sgemm.h"
#include "../kernels/vecmath.h"
#include "ops_common.h"

#define TILE 256 /* output columns accumulated at once on the stack */

/* out[j] = sum_k a[k*as] * b[k*bk + j*bn] for j in [0, n), in double.
 * Each column's sum runs k = 0..K-1 in order whichever branch is taken. */
static void row_product(const float* a, int64_t as, const float* b, int64_t bk, int64_t bn, int64_t K,
                        int64_t n, double* out) {
  if (K == 0) {
    for (int64_t j = 0; j < n; j++) out[j] = 0;
  } else if (bn == 1) {
    for (int64_t j = 0; j < n; j++) out[j] = 0;
    for (int64_t k = 0; k < K; k++) {
      double av = a[k * as];
      const float* br = b + k * bk;
      for (int64_t j = 0; j < n; j++) out[j] += av * br[j];
    }
  } else {
    for (int64_t j = 0; j < n; j++) {
      const float* bc = b + j * bn;
      double acc = 0;
      for (int64_t k = 0; k < K; k++) acc += (double)a[k * as] * bc[k * bk];
      out[j] = acc;
    }
  }
}

/* ---- fused activation (shared with conv.c) ------------------------------------ */


pfw_status pfw_activation_init(const pfw_node* node, pfw_activation* act) {
  /* name, kind, ONNX defaults of alpha and beta */
  static const struct {
    const char* name;
    int kind;
    float alpha, beta;
  } table[] = {{"Relu", PFW_ACT_RELU, 0, 0},           {"LeakyRelu", PFW_ACT_LEAKYRELU, 0.01f, 0},
               {"Clip", PFW_ACT_CLIP, -INFINITY, INFINITY}, {"Sigmoid", PFW_ACT_SIGMOID, 0, 0},
               {"Tanh", PFW_ACT_TANH, 0, 0},           {"HardSigmoid", PFW_ACT_HARDSIGMOID, 0.2f, 0.5f},
               {"HardSwish", PFW_ACT_HARDSWISH, 0, 0}};
  act->kind = PFW_ACT_NONE;
  act->alpha = act->beta = 0;
  act->vec = pfw_vec_kernels_for(node->isa);
  const char* name = pfw_attr_string(node, "activation", NULL);
  if (!name) return PFW_OK;
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    if (strcmp(name, table[i].name) == 0) {
      act->kind = table[i].kind;
      act->alpha = pfw_attr_float(node, "activation_alpha", table[i].alpha);
      act->beta = pfw_attr_float(node, "activation_beta", table[i].beta);
      return PFW_OK;
    }
  }
  return pfw_error(PFW_ERR_INVALID_MODEL,
                   "attribute 'activation' is '%s'; expected Relu, LeakyRelu, Clip, Sigmoid, Tanh, HardSigmoid "
                   "or HardSwish",
                   name);
}

/* Each case computes what the standalone op's kernel computes, in the same
 * precision, so fusing does not change results. NaN propagates. */
void pfw_activation_row(const pfw_activation* act, float* y, int64_t n) {
  double a = act->alpha, b = act->beta;
  switch (act->kind) {
    case PFW_ACT_RELU:
      for (int64_t i = 0; i < n; i++) y[i] = y[i] < 0 ? 0 : y[i];
      break;
    case PFW_ACT_LEAKYRELU:
      for (int64_t i = 0; i < n; i++) y[i] = y[i] < 0 ? (float)(a * y[i]) : y[i];
      break;
    case PFW_ACT_CLIP: {
      /* Bounds in locals: a store to y could alias act->alpha, which kept
       * the loop from vectorising. */
      float lo = act->alpha, hi = act->beta;
      for (int64_t i = 0; i < n; i++) {
        float v = y[i] < lo ? lo : y[i];
        y[i] = v > hi ? hi : v;
      }
      break;
    }
    case PFW_ACT_SIGMOID:
      if (act->vec) {
        act->vec->sigmoid(y, y, n);
        break;
      }
      for (int64_t i = 0; i < n; i++) {
        float x = y[i];
        float e = expf(x >= 0 ? -x : x); /* exp of a non-positive argument only */
        y[i] = x >= 0 ? 1.0f / (1.0f + e) : e / (1.0f + e);
      }
      break;
    case PFW_ACT_TANH:
      if (act->vec) act->vec->tanh(y, y, n);
      else for (int64_t i = 0; i < n; i++) y[i] = tanhf(y[i]);
      break;
    case PFW_ACT_HARDSIGMOID:
      for (int64_t i = 0; i < n; i++) y[i] = (float)fmax(0.0, fmin(1.0, a * y[i] + b));
      break;
    case PFW_ACT_HARDSWISH:
      for (int64_t i = 0; i < n; i++) y[i] = (float)(y[i] * fmax(0.0, fmin(1.0, (double)y[i] / 6 + 0.5)));
      break;
    default:
      break;
  }
}

/* ---- Gemm ------------------------------------------------------------------ */

/* The reference loop, over the same arguments the packed kernels take
 * (gemm_args): row i of Y from row i of A' and all of B'. */
static void gemm_rows(void* p, int64_t begin, int64_t end) {
  const pfw_sgemm_args* g = p;
  double acc[TILE];
  for (int64_t i = begin; i < end; i++) {
    for (int64_t j0 = 0; j0 < g->N; j0 += TILE) {
      int64_t n = g->N - j0 < TILE ? g->N - j0 : TILE;
      /* An empty operand (K = 0) may have a NULL data pointer: no offsets then. */
      if (g->K) row_product(g->a + i * g->a_rs, g->a_cs, g->b + j0 * g->b_cs, g->b_rs, g->b_cs, g->K, n, acc);
      else row_product(NULL, 0, NULL, 0, 1, 0, n, acc);
      float* y = g->y + i * g->ldy + j0;
      for (int64_t j = 0; j < n; j++) {
        double v = (double)g->alpha * acc[j];
        if (g->c) v += (double)g->beta * g->c[i * g->c_rs + (j0 + j) * g->c_cs];
        y[j] = (float)v;
      }
      pfw_activation_row(&g->act, y, n);
    }
  }
}

/* This Gemm as sgemm arguments, for the packed kernels and the reference
 * loop alike. Data pointers of inputs that are not known yet (at prepare)
 * are NULL; only shapes matter then. */
static void gemm_args(const pfw_node* node, pfw_sgemm_args* g) {
  const pfw_tensor* A = node->in[0];
  const pfw_tensor* B = node->in[1];
  const pfw_tensor* C = node->n_in == 3 ? node->in[2] : NULL;
  bool ta = pfw_attr_int(node, "transA", 0) != 0, tb = pfw_attr_int(node, "transB", 0) != 0;
  memset(g, 0, sizeof *g);
  g->M = ta ? A->dims[1] : A->dims[0];
  g->K = ta ? A->dims[0] : A->dims[1];
  g->N = tb ? B->dims[0] : B->dims[1];
  g->batch = 1;
  g->a = A->data;
  g->a_rs = ta ? 1 : A->dims[1];
  g->a_cs = ta ? A->dims[1] : 1;
  g->b = B->data;
  g->b_rs = tb ? 1 : B->dims[1];
  g->b_cs = tb ? B->dims[1] : 1;
  g->b_packed = pfw_sgemm_state_floats(node->state);
  g->y = node->out[0]->data;
  g->ldy = g->N;
  g->alpha = pfw_attr_float(node, "alpha", 1.0f);
  g->beta = pfw_attr_float(node, "beta", 1.0f);
  if (C && g->beta != 0) {
    int64_t rows = C->rank == 2 ? C->dims[0] : 1;
    int64_t cols = C->rank >= 1 ? C->dims[C->rank - 1] : 1;
    g->c = C->data;
    g->c_cs = cols == 1 ? 0 : 1;
    g->c_rs = rows == 1 ? 0 : cols;
  }
  pfw_activation_init(node, &g->act); /* checked at prepare */
}

/* Gemm and MatMul with a SIMD kernel: a constant B (weights, one for every
 * batch) is packed once into node->state, and g then refers to it. */
static pfw_status prepack_b(pfw_node* node, const pfw_sgemm_kernel* k, pfw_sgemm_args* g) {
  if (!node->in[1]->is_const || g->batch != 1 || g->K <= 0 || g->N <= 0) return PFW_OK;
  float* packed = pfw_sgemm_alloc_state(pfw_sgemm_packed_b_floats(k, g->K, g->N), &node->state);
  if (!packed) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory packing input 1 (B)");
  pfw_sgemm_pack_b(k, g->b, g->b_rs, g->b_cs, g->K, g->N, packed);
  pfw_release_packed_input(node, node->in[1]);
  g->b_packed = packed;
  return PFW_OK;
}

/* With a SIMD kernel: packs a constant B and sizes the per-thread packing
 * scratch. */
static pfw_status gemm_prepack(pfw_node* node) {
  const pfw_sgemm_kernel* k = pfw_sgemm_kernel_for(node->isa);
  if (!k) return PFW_OK;
  pfw_sgemm_args g;
  gemm_args(node, &g);
  pfw_status st = prepack_b(node, k, &g);
  if (st == PFW_OK) node->scratch_size = pfw_sgemm_scratch_size(k, &g, node->num_threads);
  return st;
}

static pfw_status gemm_prepare(pfw_node* node) {
  if (node->n_in < 2 || node->n_in > 3)
    return pfw_error(PFW_ERR_INVALID_MODEL, "expected 2 or 3 inputs, got %d", (int)node->n_in);
  if (node->n_out < 1) return pfw_error(PFW_ERR_INVALID_MODEL, "expected 1 output");
  pfw_status st = pfw_check_input(node, 0, PFW_FLOAT32, 2);
  if (st == PFW_OK) st = pfw_check_input(node, 1, PFW_FLOAT32, 2);
  if (st != PFW_OK) return st;
  int64_t ta = pfw_attr_int(node, "transA", 0), tb = pfw_attr_int(node, "transB", 0);
  if ((ta != 0 && ta != 1) || (tb != 0 && tb != 1))
    return pfw_error(PFW_ERR_INVALID_MODEL, "attributes transA=%lld, transB=%lld; expected 0 or 1", (long long)ta,
                     (long long)tb);
  const int64_t* a = node->in[0]->dims;
  const int64_t* b = node->in[1]->dims;
  int64_t M = ta ? a[1] : a[0], K = ta ? a[0] : a[1];
  int64_t Kb = tb ? b[1] : b[0], N = tb ? b[0] : b[1];
  if (K != Kb)
    return pfw_error(PFW_ERR_SHAPE, "inner dimensions differ: A' is [%lld, %lld], B' is [%lld, %lld]", (long long)M,
                     (long long)K, (long long)Kb, (long long)N);
  if (node->n_in == 3 && node->in[2]) {
    const pfw_tensor* c = node->in[2];
    st = pfw_check_input(node, 2, PFW_FLOAT32, -1);
    if (st != PFW_OK) return st;
    /* C broadcasts unidirectionally to [M, N]. */
    int64_t want[2] = {M, N};
    bool ok = c->rank <= 2;
    for (int32_t k = 0; ok && k < c->rank; k++) {
      int64_t d = c->dims[k], w = want[2 - c->rank + k];
      ok = d == w || d == 1;
    }
    if (!ok) {
      char buf[96] = "";
      size_t len = 0;
      for (int32_t k = 0; k < c->rank && k < 4 && len < sizeof buf - 24; k++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%lld", k ? ", " : "", (long long)c->dims[k]);
      return pfw_error(PFW_ERR_SHAPE, "input 2 (C) has shape [%s]%s, which does not broadcast to [%lld, %lld]", buf,
                       c->rank > 4 ? "..." : "", (long long)M, (long long)N);
    }
  }
  pfw_activation act;
  st = pfw_activation_init(node, &act);
  if (st != PFW_OK) return st;
  int64_t dims[2] = {M, N};
  st = pfw_set_output(node->out[0], PFW_FLOAT32, 2, dims);
  if (st == PFW_OK) st = gemm_prepack(node);
  return st;
}

static pfw_status gemm_run(pfw_node* node) {
  pfw_sgemm_args a;
  gemm_args(node, &a);
  const pfw_sgemm_kernel* k = pfw_sgemm_kernel_for(node->isa);
  if (k) pfw_sgemm(k, &a, node->scratch, node->pool, node->num_threads);
  else if (a.M > 0 && a.N > 0) pfw_parallel_for(node->pool, a.M, gemm_rows, &a);
  return PFW_OK;
}

const pfw_op pfw_op_Gemm = {PFW_OP_Gemm, gemm_prepare, gemm_run, 0};

/* ---- MatMul ------------------------------------------------------------------ */

/* Shapes after numpy's promotion of 1-D operands: a is [.., M, K], b is
 * [.., K, N]; batch dims are right-aligned in `rank - 2` slots. */
typedef struct mm_shape {
  int32_t batch_rank;
  int64_t batch[PFW_MAX_RANK], a_batch[PFW_MAX_RANK], b_batch[PFW_MAX_RANK];
  int64_t M, K, N;
} mm_shape;

static pfw_status mm_shape_of(const pfw_tensor* A, const pfw_tensor* B, mm_shape* s, int32_t* out_rank,
                              int64_t* out_dims) {
  if (A->rank < 1 || B->rank < 1)
    return pfw_error(PFW_ERR_SHAPE, "MatMul operands must have rank >= 1 (got %d and %d)", (int)A->rank,
                     (int)B->rank);
  s->M = A->rank == 1 ? 1 : A->dims[A->rank - 2];
  s->K = A->dims[A->rank - 1];
  int64_t Kb = B->rank == 1 ? B->dims[0] : B->dims[B->rank - 2];
  s->N = B->rank == 1 ? 1 : B->dims[B->rank - 1];
  if (s->K != Kb)
    return pfw_error(PFW_ERR_SHAPE, "inner dimensions differ: input 0 has %lld columns, input 1 has %lld rows",
                     (long long)s->K, (long long)Kb);
  int32_t ra = A->rank > 2 ? A->rank - 2 : 0, rb = B->rank > 2 ? B->rank - 2 : 0;
  pfw_status st = pfw_broadcast_shape(ra, A->dims, rb, B->dims, &s->batch_rank, s->batch);
  if (st != PFW_OK) return st;
  for (int32_t k = 0; k < s->batch_rank; k++) {
    int32_t ia = k - (s->batch_rank - ra), ib = k - (s->batch_rank - rb);
    s->a_batch[k] = ia >= 0 ? A->dims[ia] : 1;
    s->b_batch[k] = ib >= 0 ? B->dims[ib] : 1;
  }
  if (out_dims) {
    int32_t r = s->batch_rank;
    memcpy(out_dims, s->batch, sizeof(int64_t) * (size_t)r);
    if (A->rank > 1) out_dims[r++] = s->M;
    if (B->rank > 1) out_dims[r++] = s->N;
    if (r > PFW_MAX_RANK) return pfw_error(PFW_ERR_UNSUPPORTED, "output rank %d is too large", (int)r);
    *out_rank = r;
  }
  return PFW_OK;
}

/* ---- MatMul on the packed kernels ------------------------------------------ */

static bool b_is_shared(const mm_shape* s) {
  for (int32_t k = 0; k < s->batch_rank; k++)
    if (s->b_batch[k] != 1) return false;
  return true;
}

/* The packed-kernel form. When every batch multiplies by the same B (a
 * weight matrix), the batches of A are stacked into one taller product. */
static void matmul_args(const pfw_node* node, const mm_shape* s, pfw_sgemm_args* g) {
  int64_t batches = 1;
  for (int32_t k = 0; k < s->batch_rank; k++) batches *= s->batch[k];
  memset(g, 0, sizeof *g);
  bool stack = b_is_shared(s);
  g->M = stack ? batches * s->M : s->M;
  g->batch = stack ? 1 : batches;
  g->N = s->N;
  g->K = s->K;
  g->a = node->in[0]->data;
  g->a_rs = s->K;
  g->a_cs = 1;
  g->b = node->in[1]->data;
  g->b_rs = s->N;
  g->b_cs = 1;
  g->b_packed = pfw_sgemm_state_floats(node->state);
  g->y = node->out[0]->data;
  g->ldy = s->N;
  g->y_batch = s->M * s->N;
  g->alpha = 1.0f;
}

/* Bytes of scratch before the sgemm's: per-batch offsets of A and B. */
static size_t matmul_offsets_bytes(const pfw_sgemm_args* g) {
  return g->batch > 1 ? pfw_align_size((size_t)g->batch * 2 * sizeof(int64_t)) : 0;
}

static pfw_status matmul_prepack(pfw_node* node, const mm_shape* s) {
  const pfw_sgemm_kernel* k = pfw_sgemm_kernel_for(node->isa);
  if (!k) return PFW_OK;
  pfw_sgemm_args g;
  matmul_args(node, s, &g);
  pfw_status st = prepack_b(node, k, &g);
  if (st == PFW_OK)
    node->scratch_size = matmul_offsets_bytes(&g) + pfw_sgemm_scratch_size(k, &g, node->num_threads);
  return st;
}

/* Offsets (in floats) of batch b's A and B, broadcast dims contributing 0. */
static void mm_batch_offsets(const mm_shape* s, int64_t bi, int64_t* ao, int64_t* bo) {
  int64_t rem = bi, astep = 1, bstep = 1;
  *ao = *bo = 0;
  for (int32_t k = s->batch_rank - 1; k >= 0; k--) {
    int64_t idx = rem % s->batch[k];
    rem /= s->batch[k];
    if (s->a_batch[k] != 1) *ao += idx * astep;
    if (s->b_batch[k] != 1) *bo += idx * bstep;
    astep *= s->a_batch[k];
    bstep *= s->b_batch[k];
  }
  *ao *= s->M * s->K;
  *bo *= s->K * s->N;
}

static void matmul_packed_run(pfw_node* node, const pfw_sgemm_kernel* k, const mm_shape* s) {
  pfw_sgemm_args g;
  matmul_args(node, s, &g);
  uint8_t* scratch = node->scratch;
  if (g.batch > 1) {
    int64_t* off = node->scratch;
    for (int64_t b = 0; b < g.batch; b++) mm_batch_offsets(s, b, &off[b], &off[g.batch + b]);
    g.a_off = off;
    g.b_off = off + g.batch;
    scratch += matmul_offsets_bytes(&g);
  }
  pfw_sgemm(k, &g, scratch, node->pool, node->num_threads);
}

static pfw_status matmul_prepare(pfw_node* node) {
  if (node->n_in != 2) return pfw_error(PFW_ERR_INVALID_MODEL, "expected 2 inputs, got %d", (int)node->n_in);
  if (node->n_out < 1) return pfw_error(PFW_ERR_INVALID_MODEL, "expected 1 output");
  pfw_dtype t = node->in[0] ? node->in[0]->dtype : PFW_FLOAT32;
  if (t != PFW_FLOAT64 && t != PFW_FLOAT16 && t != PFW_BFLOAT16) t = PFW_FLOAT32; /* else: checked as float32 */
  pfw_status st = pfw_check_input(node, 0, t, -1);
  if (st == PFW_OK) st = pfw_check_input(node, 1, t, -1);
  if (st != PFW_OK) return st;
  mm_shape s;
  int32_t r = 0;
  int64_t dims[PFW_MAX_RANK + 2];
  st = mm_shape_of(node->in[0], node->in[1], &s, &r, dims);
  if (st == PFW_OK) st = pfw_set_output(node->out[0], t, r, dims);
  if (st == PFW_OK && t == PFW_FLOAT32) st = matmul_prepack(node, &s);
  return st;
}

/* float64, float16 and bfloat16 take the scalar reference: each output a
 * double sum of exact products, rounded once (through float32 for the
 * 16-bit types). */
static double mm_elem(const void* p, pfw_dtype d, int64_t i) {
  if (d == PFW_FLOAT64) return ((const double*)p)[i];
  uint16_t h = ((const uint16_t*)p)[i];
  return d == PFW_FLOAT16 ? pfw_half_to_float(h) : pfw_bf16_to_float(h);
}

typedef struct mm_any_ctx {
  const void *a, *b;
  void* y;
  pfw_dtype dtype;
  const mm_shape* s;
} mm_any_ctx;

static void matmul_rows_any(void* p, int64_t begin, int64_t end) {
  const mm_any_ctx* c = p;
  const mm_shape* s = c->s;
  for (int64_t r = begin; r < end; r++) {
    int64_t bi = r / s->M, i = r % s->M, ao, bo;
    mm_batch_offsets(s, bi, &ao, &bo);
    for (int64_t j = 0; j < s->N; j++) {
      double acc = 0;
      for (int64_t k = 0; k < s->K; k++)
        acc += mm_elem(c->a, c->dtype, ao + i * s->K + k) * mm_elem(c->b, c->dtype, bo + k * s->N + j);
      int64_t o = r * s->N + j;
      if (c->dtype == PFW_FLOAT64) ((double*)c->y)[o] = acc;
      else if (c->dtype == PFW_FLOAT16) ((uint16_t*)c->y)[o] = pfw_float_to_half((float)acc);
      else ((uint16_t*)c->y)[o] = pfw_float_to_bf16((float)acc);
    }
  }
}

typedef struct mm_ctx {
  const float *a, *b;
  float* y;
  const mm_shape* s;
} mm_ctx;

/* Task index = batch * M + row. */
static void matmul_rows(void* p, int64_t begin, int64_t end) {
  const mm_ctx* c = p;
  const mm_shape* s = c->s;
  double acc[TILE];
  for (int64_t r = begin; r < end; r++) {
    int64_t bi = r / s->M, i = r % s->M, ao, bo;
    mm_batch_offsets(s, bi, &ao, &bo);
    const float* a = s->K ? c->a + ao + i * s->K : NULL; /* K = 0: data may be NULL */
    const float* b = s->K ? c->b + bo : NULL;
    float* y = c->y + r * s->N;
    for (int64_t j0 = 0; j0 < s->N; j0 += TILE) {
      int64_t n = s->N - j0 < TILE ? s->N - j0 : TILE;
      row_product(a, 1, b ? b + j0 : NULL, s->N, 1, s->K, n, acc);
      for (int64_t j = 0; j < n; j++) y[j0 + j] = (float)acc[j];
    }
  }
}

static pfw_status matmul_run(pfw_node* node) {
  mm_shape s;
  mm_shape_of(node->in[0], node->in[1], &s, NULL, NULL); /* checked at prepare */
  int64_t batches = 1;
  for (int32_t k = 0; k < s.batch_rank; k++) batches *= s.batch[k];
  if (batches == 0 || s.M == 0 || s.N == 0) return PFW_OK;
  if (node->in[0]->dtype != PFW_FLOAT32) {
    mm_any_ctx c = {node->in[0]->data, node->in[1]->data, node->out[0]->data, node->in[0]->dtype, &s};
    pfw_parallel_for(node->pool, batches * s.M, matmul_rows_any, &c);
    return PFW_OK;
  }
  const pfw_sgemm_kernel* k = pfw_sgemm_kernel_for(node->isa);
  if (k) {
    matmul_packed_run(node, k, &s);
    return PFW_OK;
  }
  mm_ctx c = {node->in[0]->data, node->in[1]->data, node->out[0]->data, &s};
  pfw_parallel_for(node->pool, batches * s.M, matmul_rows, &c);
  return PFW_OK;
}

const pfw_op pfw_op_MatMul = {PFW_OP_MatMul, matmul_prepare, matmul_run, 0};

/* ---- Det ------------------------------------------------------------------- */

static pfw_status det_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, 1);
  if (st == PFW_OK) st = pfw_need_float(node, 0);
  if (st != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  if (x->rank < 2 || x->dims[x->rank - 1] != x->dims[x->rank - 2])
    return pfw_error(PFW_ERR_SHAPE, "input 0 must be (..., M, M): square matrices in its last two dims");
  int64_t m = x->dims[x->rank - 1];
  if (m > 46340) return pfw_error(PFW_ERR_UNSUPPORTED, "Det of %lld x %lld matrices", (long long)m, (long long)m);
  node->scratch_size = (size_t)(m * m) * sizeof(double);
  return pfw_set_output(node->out[0], x->dtype, x->rank - 2, x->dims);
}

/* LU factorisation with partial pivoting in double: det = sign * prod(U_ii). */
static pfw_status det_run(pfw_node* node) {
  const pfw_tensor* x = node->in[0];
  pfw_tensor* y = node->out[0];
  int64_t m = x->dims[x->rank - 1], count = pfw_numel(y);
  double* a = node->scratch;
  bool f32 = x->dtype == PFW_FLOAT32;
  for (int64_t b = 0; b < count; b++) {
    for (int64_t i = 0; i < m * m; i++)
      a[i] = f32 ? ((const float*)x->data)[b * m * m + i] : ((const double*)x->data)[b * m * m + i];
    double det = 1;
    for (int64_t c = 0; c < m && det != 0; c++) {
      int64_t p = c;
      for (int64_t r = c + 1; r < m; r++)
        if (fabs(a[r * m + c]) > fabs(a[p * m + c])) p = r;
      if (a[p * m + c] == 0) {
        det = 0;
        break;
      }
      if (p != c) {
        for (int64_t k = 0; k < m; k++) {
          double t = a[c * m + k];
          a[c * m + k] = a[p * m + k];
          a[p * m + k] = t;
        }
        det = -det;
      }
      det *= a[c * m + c];
      for (int64_t r = c + 1; r < m; r++) {
        double f = a[r * m + c] / a[c * m + c];
        for (int64_t k = c; k < m; k++) a[r * m + k] -= f * a[c * m + k];
      }
    }
    if (f32) ((float*)y->data)[b] = (float)det;
    else ((double*)y->data)[b] = det;
  }
  return PFW_OK;
}

const pfw_op pfw_op_Det = {PFW_OP_Det, det_prepare, det_run, 0};
