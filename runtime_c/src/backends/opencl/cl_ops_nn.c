/* The network layers on OpenCL: Conv (1-D and 2-D, groups, fused
 * activation), the pools, Gemm and MatMul (batched, broadcast), and the
 * normalisations. Geometry comes from the same helpers the CPU ops use, so
 * both sides agree on pads, strides and output sizes. */
#include "../../ops/ops_common.h"
#include "../../ops/quant.h"
#include "cl_backend.h"

#define NOT_HERE PFW_ERR_UNSUPPORTED

static void args_ints(pfw_cl_setup* c, int n, const int64_t* v) {
  for (int i = 0; i < n; i++) pfw_cl_arg_int(c, v[i]);
}

pfw_status pfw_cl_setup_conv(pfw_cl_setup* c) {
  const pfw_node* n = c->node;
  const pfw_tensor *X = n->in[0], *W = n->n_in > 1 ? n->in[1] : NULL, *B = n->n_in > 2 ? n->in[2] : NULL;
  const pfw_tensor* Y = n->out[0];
  if (!pfw_cl_f32(X) || !pfw_cl_f32(W) || (B && !pfw_cl_f32(B)) || !pfw_cl_fits(X) || !pfw_cl_fits(W) ||
      !pfw_cl_fits(Y) || !pfw_cl_one_output(n)) return NOT_HERE;
  pfw_spatial g;
  int64_t group, dims[PFW_MAX_RANK];
  pfw_activation act;
  if (pfw_conv_shape(n, 0, 1, &g, &group, dims) != PFW_OK || g.n > 2 || pfw_activation_init(n, &act) != PFW_OK)
    return NOT_HERE;
  int64_t C = X->dims[1], M = W->dims[0];
  size_t global[3] = {(size_t)(g.out[1] * g.out[2]), (size_t)M, (size_t)X->dims[0]};
  pfw_status st = pfw_cl_launch_add(c, "conv2d", 3, global, NULL);
  if (st != PFW_OK) return st;
  pfw_cl_arg_tensor(c, X);
  pfw_cl_arg_tensor(c, W);
  pfw_cl_arg_tensor(c, B);
  int64_t geo[] = {B != NULL, C, g.in[1], g.in[2], M, C / group, M / group, g.out[1], g.out[2], g.k[1], g.k[2],
                   g.s[1], g.s[2], g.d[1], g.d[2], g.pb[1], g.pb[2], act.kind};
  pfw_cl_arg_int(c, geo[0]);
  pfw_cl_arg_tensor(c, Y);
  args_ints(c, (int)(sizeof geo / sizeof geo[0]) - 1, geo + 1);
  pfw_cl_arg_float(c, act.alpha);
  pfw_cl_arg_float(c, act.beta);
  return PFW_OK;
}

pfw_status pfw_cl_setup_pool(pfw_cl_setup* c) {
  const pfw_node* n = c->node;
  const pfw_tensor *X = n->in[0], *Y = n->out[0];
  if (!pfw_cl_f32(X) || !pfw_cl_fits(X) || !pfw_cl_fits(Y) || !pfw_cl_one_output(n) || X->rank < 3 ||
      X->rank > 4) return NOT_HERE;
  int op = n->desc->op;
  int64_t planes = X->dims[0] * X->dims[1], spatial = pfw_numel(X) / planes;
  if (op == PFW_OP_GlobalAveragePool || op == PFW_OP_GlobalMaxPool) {
    size_t global = (size_t)planes;
    pfw_status st = pfw_cl_launch_add(c, "global_pool", 1, &global, NULL);
    if (st != PFW_OK) return st;
    pfw_cl_arg_tensor(c, X);
    pfw_cl_arg_tensor(c, Y);
    int64_t a[] = {spatial, planes, op == PFW_OP_GlobalAveragePool};
    args_ints(c, 3, a);
    return PFW_OK;
  }
  int32_t nk = 0, ns = X->rank - 2;
  const int64_t* kernel = pfw_attr_ints(n, "kernel_shape", &nk);
  if (nk != ns) return NOT_HERE;
  pfw_spatial g;
  if (pfw_spatial_init(n, ns, X->dims + 2, kernel, pfw_attr_int(n, "ceil_mode", 0) != 0, &g) != PFW_OK)
    return NOT_HERE;
  int mode = op == PFW_OP_MaxPool ? 0 : pfw_attr_int(n, "count_include_pad", 0) ? 2 : 1;
  size_t global[2] = {(size_t)(g.out[1] * g.out[2]), (size_t)planes};
  pfw_status st = pfw_cl_launch_add(c, "pool2d", 2, global, NULL);
  if (st != PFW_OK) return st;
  pfw_cl_arg_tensor(c, X);
  pfw_cl_arg_tensor(c, Y);
  int64_t a[] = {g.in[1], g.in[2], g.out[1], g.out[2], g.k[1], g.k[2], g.s[1], g.s[2], g.d[1], g.d[2],
                 g.pb[1], g.pb[2], g.in[1] + g.pe[1], g.in[2] + g.pe[2], mode};
  args_ints(c, (int)(sizeof a / sizeof a[0]), a);
  return PFW_OK;
}

/* Strides of the batch dims of a matrix operand of rank r (its last two
 * dims the matrix) against the output's nb batch dims, right-aligned in 4
 * lanes; 0 along broadcast dims. */
static void batch_strides(const pfw_tensor* t, int32_t nb, int32_t* st) {
  int64_t s = t->rank >= 2 ? t->dims[t->rank - 1] * t->dims[t->rank - 2] : 0;
  for (int l = 0; l < 4; l++) st[l] = 0;
  for (int32_t d = t->rank - 3, l = 3; d >= 0 && l >= 4 - nb; d--, l--) {
    st[l] = t->dims[d] == 1 ? 0 : (int32_t)s;
    s *= t->dims[d];
  }
}

pfw_status pfw_cl_setup_gemm(pfw_cl_setup* c) {
  const pfw_node* n = c->node;
  const pfw_tensor *A = n->in[0], *B = n->n_in > 1 ? n->in[1] : NULL, *Y = n->out[0];
  const pfw_tensor* C = n->desc->op == PFW_OP_Gemm && n->n_in > 2 ? n->in[2] : NULL;
  if (!pfw_cl_f32(A) || !pfw_cl_f32(B) || (C && !pfw_cl_f32(C)) || !pfw_cl_fits(A) || !pfw_cl_fits(B) ||
      !pfw_cl_fits(Y) || !pfw_cl_one_output(n))
    return NOT_HERE;
  int64_t M, N, K, a_rs, a_cs, b_rs, b_cs, c_rs = 0, c_cs = 0;
  float alpha = 1, beta = 0;
  int32_t bdims[4] = {1, 1, 1, 1}, a_bs[4] = {0}, b_bs[4] = {0};
  pfw_activation act;
  if (pfw_activation_init(n, &act) != PFW_OK) return NOT_HERE;
  if (n->desc->op == PFW_OP_Gemm) {
    bool ta = pfw_attr_int(n, "transA", 0) != 0, tb = pfw_attr_int(n, "transB", 0) != 0;
    M = ta ? A->dims[1] : A->dims[0];
    K = ta ? A->dims[0] : A->dims[1];
    N = tb ? B->dims[0] : B->dims[1];
    a_rs = ta ? 1 : A->dims[1], a_cs = ta ? A->dims[1] : 1;
    b_rs = tb ? 1 : B->dims[1], b_cs = tb ? B->dims[1] : 1;
    alpha = pfw_attr_float(n, "alpha", 1.0f);
    beta = pfw_attr_float(n, "beta", 1.0f);
    if (C && beta != 0) {
      int64_t rows = C->rank == 2 ? C->dims[0] : 1, cols = C->rank >= 1 ? C->dims[C->rank - 1] : 1;
      c_cs = cols == 1 ? 0 : 1;
      c_rs = rows == 1 ? 0 : cols;
    } else {
      C = NULL;
    }
  } else {
    bool a1 = A->rank == 1, b1 = B->rank == 1;
    M = a1 ? 1 : A->dims[A->rank - 2];
    K = A->dims[A->rank - 1];
    N = b1 ? 1 : B->dims[B->rank - 1];
    a_rs = K, a_cs = 1, b_rs = N, b_cs = 1;
    int32_t nb = Y->rank - (a1 ? 0 : 1) - (b1 ? 0 : 1);
    if (nb > 4) return NOT_HERE;
    for (int32_t d = 0; d < nb; d++) bdims[4 - nb + d] = (int32_t)Y->dims[d];
    batch_strides(A, nb, a_bs);
    batch_strides(B, nb, b_bs);
  }
  int64_t batch = pfw_numel(Y) / (M * N);
  size_t global[3] = {(size_t)N, (size_t)M, (size_t)batch}, local[3] = {16, 16, 1};
  pfw_status st = pfw_cl_launch_add(c, "gemm", 3, global, local);
  if (st != PFW_OK) return st;
  pfw_cl_arg_tensor(c, A);
  args_ints(c, 2, (int64_t[]){a_rs, a_cs});
  pfw_cl_arg_tensor(c, B);
  args_ints(c, 2, (int64_t[]){b_rs, b_cs});
  pfw_cl_arg_tensor(c, C);
  args_ints(c, 3, (int64_t[]){c_rs, c_cs, C != NULL});
  pfw_cl_arg_tensor(c, Y);
  args_ints(c, 3, (int64_t[]){M, N, K});
  pfw_cl_arg_float(c, alpha);
  pfw_cl_arg_float(c, beta);
  pfw_cl_arg_int(c, act.kind);
  pfw_cl_arg_float(c, act.alpha);
  pfw_cl_arg_float(c, act.beta);
  pfw_cl_arg_ints(c, bdims, 4);
  pfw_cl_arg_ints(c, a_bs, 4);
  pfw_cl_arg_ints(c, b_bs, 4);
  return PFW_OK;
}

static pfw_status batchnorm(pfw_cl_setup* c) {
  const pfw_node* n = c->node;
  const pfw_tensor* X = n->in[0];
  if (n->n_in != 5 || !pfw_cl_f32(X) || !pfw_cl_fits(X) || X->rank < 2 || !pfw_cl_one_output(n) ||
      pfw_attr_int(n, "training_mode", 0) || (n->desc->version < 9 && !pfw_attr_int(n, "spatial", 1)))
    return NOT_HERE;
  for (int32_t i = 1; i < 5; i++)
    if (!pfw_cl_f32(n->in[i]) || pfw_numel(n->in[i]) != X->dims[1]) return NOT_HERE;
  size_t global = (size_t)pfw_numel(X);
  pfw_status st = pfw_cl_launch_add(c, "batchnorm", 1, &global, NULL);
  if (st != PFW_OK) return st;
  for (int32_t i = 0; i < 5; i++) pfw_cl_arg_tensor(c, n->in[i]);
  pfw_cl_arg_tensor(c, n->out[0]);
  args_ints(c, 3, (int64_t[]){X->dims[1], pfw_numel(X) / (X->dims[0] * X->dims[1]), pfw_numel(X)});
  pfw_cl_arg_float(c, pfw_attr_float(n, "epsilon", 1e-5f));
  return PFW_OK;
}

/* Rows as the CPU's Softmax lays them out (its prepare checked the axis). */
static pfw_status softmax(pfw_cl_setup* c, int log_) {
  const pfw_node* n = c->node;
  const pfw_tensor* X = n->in[0];
  if (!pfw_cl_f32(X) || !pfw_cl_fits(X) || X->rank < 1 || !pfw_cl_one_output(n)) return NOT_HERE;
  int64_t outer, len, inner;
  pfw_softmax_geometry(n, &outer, &len, &inner);
  size_t global = (size_t)(outer * inner);
  pfw_status st = pfw_cl_launch_add(c, "softmax", 1, &global, NULL);
  if (st != PFW_OK) return st;
  pfw_cl_arg_tensor(c, X);
  pfw_cl_arg_tensor(c, n->out[0]);
  args_ints(c, 4, (int64_t[]){outer, len, inner, log_});
  return PFW_OK;
}

static pfw_status layernorm(pfw_cl_setup* c) {
  const pfw_node* n = c->node;
  const pfw_tensor *X = n->in[0], *S = n->n_in > 1 ? n->in[1] : NULL, *B = n->n_in > 2 ? n->in[2] : NULL;
  int32_t axis;
  if (!pfw_cl_f32(X) || !pfw_cl_f32(S) || (B && !pfw_cl_f32(B)) || !pfw_cl_fits(X) || !pfw_cl_one_output(n) ||
      pfw_norm_axis(pfw_attr_int(n, "axis", -1), X->rank, "axis", &axis) != PFW_OK)
    return NOT_HERE;
  int64_t len = 1;
  for (int32_t k = axis; k < X->rank; k++) len *= X->dims[k];
  if ((pfw_numel(S) != len && pfw_numel(S) != 1) || (B && pfw_numel(B) != len && pfw_numel(B) != 1)) return NOT_HERE;
  int64_t rows = pfw_numel(X) / len;
  size_t global = (size_t)rows;
  pfw_status st = pfw_cl_launch_add(c, "layernorm", 1, &global, NULL);
  if (st != PFW_OK) return st;
  pfw_cl_arg_tensor(c, X);
  pfw_cl_arg_tensor(c, S);
  pfw_cl_arg_tensor(c, B);
  pfw_cl_arg_int(c, B != NULL);
  pfw_cl_arg_tensor(c, n->out[0]);
  args_ints(c, 4, (int64_t[]){rows, len, pfw_numel(S) != 1, B && pfw_numel(B) != 1});
  pfw_cl_arg_float(c, pfw_attr_float(n, "epsilon", 1e-5f));
  return PFW_OK;
}

pfw_status pfw_cl_setup_norm(pfw_cl_setup* c) {
  switch (c->node->desc->op) {
    case PFW_OP_BatchNormalization: return batchnorm(c);
    case PFW_OP_Softmax: return softmax(c, 0);
    case PFW_OP_LogSoftmax: return softmax(c, 1);
    default: return layernorm(c);
  }
}
