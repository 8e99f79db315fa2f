/* Which nodes the OpenCL backend runs, and their launches: element-wise
 * ops, broadcasting arithmetic, layout ops (Transpose, Concat) and views;
 * the network layers are in cl_ops_nn.c. Anything else, and any dtype but
 * float32, stays on the CPU (PFW_ERR_UNSUPPORTED, no message). */
#include <math.h>

#include "../../ops/ops_common.h"
#include "cl_backend.h"

#define NOT_HERE PFW_ERR_UNSUPPORTED

/* Contiguous strides of `t` right-aligned in 8 lanes, 0 along size-1 dims
 * (broadcast), leading lanes dims 1. */
static void lanes(const pfw_tensor* t, int32_t* dims, int32_t* st) {
  int64_t s = 1;
  for (int32_t l = 7, d = t->rank - 1; l >= 0; l--, d--) {
    dims[l] = d >= 0 ? (int32_t)t->dims[d] : 1;
    st[l] = d >= 0 && t->dims[d] != 1 ? (int32_t)s : 0;
    if (d >= 0) s *= t->dims[d];
  }
}

static pfw_status unary(pfw_cl_setup* c, int op, float a, float b) {
  const pfw_node* n = c->node;
  const pfw_tensor *x = n->in[0], *y = n->out[0];
  if (!pfw_cl_f32(x) || !pfw_cl_f32(y) || !pfw_cl_fits(y) || !pfw_cl_one_output(n)) return NOT_HERE;
  size_t g = (size_t)pfw_numel(y);
  pfw_status st = pfw_cl_launch_add(c, "unary", 1, &g, NULL);
  if (st != PFW_OK) return st;
  pfw_cl_arg_tensor(c, x);
  pfw_cl_arg_tensor(c, y);
  pfw_cl_arg_int(c, pfw_numel(y));
  pfw_cl_arg_int(c, op);
  pfw_cl_arg_float(c, a);
  pfw_cl_arg_float(c, b);
  return PFW_OK;
}

/* Clip's bounds: attributes before opset 11, constant inputs after. */
static pfw_status clip(pfw_cl_setup* c) {
  const pfw_node* n = c->node;
  float lo = -INFINITY, hi = INFINITY;
  if (n->desc->version < 11) {
    lo = pfw_attr_float(n, "min", lo);
    hi = pfw_attr_float(n, "max", hi);
  } else {
    for (int32_t i = 1; i < 3 && i < n->n_in; i++) {
      const pfw_tensor* t = n->in[i];
      if (!t) continue;
      if (!pfw_cl_f32(t) || !t->is_const || pfw_numel(t) != 1) return NOT_HERE;
      *(i == 1 ? &lo : &hi) = *(const float*)t->data;
    }
  }
  return unary(c, PFW_ACT_CLIP, lo, hi);
}

static pfw_status binary(pfw_cl_setup* c, int op) {
  const pfw_node* n = c->node;
  const pfw_tensor *a = n->in[0], *b = n->n_in > 1 ? n->in[1] : NULL, *y = n->out[0];
  if (n->n_in != 2 || !pfw_cl_f32(a) || !pfw_cl_f32(b) || !pfw_cl_f32(y) || !pfw_cl_fits(y) || y->rank > 8 ||
      !pfw_cl_one_output(n)) return NOT_HERE;
  int32_t dims[8], sa[8], sb[8], unused[8];
  lanes(y, dims, unused);
  lanes(a, unused, sa);
  lanes(b, unused, sb);
  size_t g = (size_t)pfw_numel(y);
  pfw_status st = pfw_cl_launch_add(c, "binary", 1, &g, NULL);
  if (st != PFW_OK) return st;
  pfw_cl_arg_tensor(c, a);
  pfw_cl_arg_tensor(c, b);
  pfw_cl_arg_tensor(c, y);
  pfw_cl_arg_int(c, pfw_numel(y));
  pfw_cl_arg_int(c, op);
  pfw_cl_arg_ints(c, dims, 8);
  pfw_cl_arg_ints(c, sa, 8);
  pfw_cl_arg_ints(c, sb, 8);
  return PFW_OK;
}

/* One copy_strided launch: x (at element xo) read with strides sx, y (at
 * element yo) written with strides sy, over the 8-lane shape dims. */
static pfw_status strided_copy(pfw_cl_setup* c, const pfw_tensor* x, const pfw_tensor* y, int64_t yo,
                               const int32_t* dims, const int32_t* sx, const int32_t* sy) {
  int64_t count = 1;
  for (int l = 0; l < 8; l++) count *= dims[l];
  size_t g = (size_t)count;
  pfw_status st = pfw_cl_launch_add(c, "copy_strided", 1, &g, NULL);
  if (st != PFW_OK) return st;
  pfw_cl_arg_tensor(c, x);
  pfw_cl_arg_tensor_at(c, y, yo);
  pfw_cl_arg_int(c, count);
  pfw_cl_arg_ints(c, dims, 8);
  pfw_cl_arg_ints(c, sx, 8);
  pfw_cl_arg_ints(c, sy, 8);
  return PFW_OK;
}

static pfw_status transpose(pfw_cl_setup* c) {
  const pfw_node* n = c->node;
  const pfw_tensor *x = n->in[0], *y = n->out[0];
  if (!pfw_cl_f32(x) || !pfw_cl_fits(y) || x->rank > 8 || !pfw_cl_one_output(n)) return NOT_HERE;
  int32_t np = 0;
  const int64_t* perm = pfw_attr_ints(n, "perm", &np);
  int64_t xs[PFW_MAX_RANK], ys[PFW_MAX_RANK];
  pfw_contiguous_strides(x, xs);
  pfw_contiguous_strides(y, ys);
  int32_t dims[8], sx[8], sy[8];
  for (int32_t l = 0; l < 8; l++) {
    int32_t d = l - (8 - y->rank);
    int64_t p = d < 0 ? 0 : np > 0 ? perm[d] : y->rank - 1 - d; /* checked at prepare */
    dims[l] = d < 0 ? 1 : (int32_t)y->dims[d];
    sx[l] = d < 0 ? 0 : (int32_t)xs[p];
    sy[l] = d < 0 ? 0 : (int32_t)ys[d];
  }
  return strided_copy(c, x, y, 0, dims, sx, sy);
}

/* Each input is written into its slab of the output along `axis`. */
static pfw_status concat(pfw_cl_setup* c) {
  const pfw_node* n = c->node;
  const pfw_tensor* y = n->out[0];
  if (!pfw_cl_f32(y) || !pfw_cl_fits(y) || y->rank > 8 || !pfw_cl_one_output(n)) return NOT_HERE;
  int32_t axis = 0;
  if (pfw_norm_axis(pfw_attr_int(n, "axis", 0), y->rank, "axis", &axis) != PFW_OK) return NOT_HERE;
  int64_t ys[PFW_MAX_RANK], at = 0;
  pfw_contiguous_strides(y, ys);
  for (int32_t k = 0; k < n->n_in; k++) {
    const pfw_tensor* x = n->in[k];
    if (!pfw_cl_f32(x)) return NOT_HERE;
  }
  for (int32_t k = 0; k < n->n_in; k++) {
    const pfw_tensor* x = n->in[k];
    if (pfw_numel(x) == 0) continue;
    int64_t xs[PFW_MAX_RANK];
    pfw_contiguous_strides(x, xs);
    int32_t dims[8], sx[8], sy[8];
    for (int32_t l = 0; l < 8; l++) {
      int32_t d = l - (8 - y->rank);
      dims[l] = d < 0 ? 1 : (int32_t)x->dims[d];
      sx[l] = d < 0 ? 0 : (int32_t)xs[d];
      sy[l] = d < 0 ? 0 : (int32_t)ys[d];
    }
    pfw_status st = strided_copy(c, x, y, at * ys[axis], dims, sx, sy);
    if (st != PFW_OK) return st;
    at += x->dims[axis];
  }
  return PFW_OK;
}

/* Reshape, Flatten, Squeeze, Unsqueeze, Identity: nothing to do for a view
 * that shares its input's bytes, else one copy. Taken only when the input
 * was made on the device: a view of a CPU value stays with the CPU. */
static pfw_status view(pfw_cl_setup* c) {
  const pfw_node* n = c->node;
  const pfw_tensor *x = n->in[0], *y = n->out[0];
  if (!x || !pfw_cl_one_output(n) || !y->nbytes || x->nbytes != y->nbytes ||
      !pfw_cl_made_on_device(c, x)) return NOT_HERE;
  if (pfw_cl_same_place(c, x, y)) return PFW_OK;
  return pfw_cl_copy_add(c, x, y, y->nbytes);
}

pfw_status pfw_cl_setup_node(pfw_cl_setup* c) {
  const pfw_node* n = c->node;
  /* Strings are pointers into host memory: they stay with the CPU. */
  for (int32_t j = 0; j < n->n_in; j++)
    if (n->in[j] && n->in[j]->dtype == PFW_STRING) return NOT_HERE;
  for (int32_t j = 0; j < n->n_out; j++)
    if (n->out[j] && n->out[j]->dtype == PFW_STRING) return NOT_HERE;
  switch (n->desc->op) {
    case PFW_OP_Relu: return unary(c, PFW_ACT_RELU, 0, 0);
    case PFW_OP_LeakyRelu: return unary(c, PFW_ACT_LEAKYRELU, pfw_attr_float(n, "alpha", 0.01f), 0);
    case PFW_OP_Clip: return clip(c);
    case PFW_OP_Sigmoid: return unary(c, PFW_ACT_SIGMOID, 0, 0);
    case PFW_OP_Tanh: return unary(c, PFW_ACT_TANH, 0, 0);
    case PFW_OP_HardSigmoid:
      return unary(c, PFW_ACT_HARDSIGMOID, pfw_attr_float(n, "alpha", 0.2f), pfw_attr_float(n, "beta", 0.5f));
    case PFW_OP_HardSwish: return unary(c, PFW_ACT_HARDSWISH, 0, 0);
    case PFW_OP_Exp: return unary(c, 8, 0, 0);
    case PFW_OP_Log: return unary(c, 9, 0, 0);
    case PFW_OP_Neg: return unary(c, 10, 0, 0);
    case PFW_OP_Abs: return unary(c, 11, 0, 0);
    case PFW_OP_Sqrt: return unary(c, 12, 0, 0);
    case PFW_OP_Reciprocal: return unary(c, 13, 0, 0);
    case PFW_OP_Erf: return unary(c, 14, 0, 0);
    case PFW_OP_Gelu: return unary(c, strcmp(pfw_attr_string(n, "approximate", "none"), "tanh") == 0 ? 16 : 15, 0, 0);
    case PFW_OP_Elu: return unary(c, 17, pfw_attr_float(n, "alpha", 1.0f), 0);
    case PFW_OP_Floor: return unary(c, 18, 0, 0);
    case PFW_OP_Ceil: return unary(c, 19, 0, 0);
    case PFW_OP_Sin: return unary(c, 20, 0, 0);
    case PFW_OP_Cos: return unary(c, 21, 0, 0);
    case PFW_OP_Add: return binary(c, 0);
    case PFW_OP_Sub: return binary(c, 1);
    case PFW_OP_Mul: return binary(c, 2);
    case PFW_OP_Div: return binary(c, 3);
    case PFW_OP_Transpose: return transpose(c);
    case PFW_OP_Concat: return concat(c);
    case PFW_OP_Reshape:
    case PFW_OP_Flatten:
    case PFW_OP_Squeeze:
    case PFW_OP_Unsqueeze:
    case PFW_OP_Identity: return view(c);
    case PFW_OP_Conv: return pfw_cl_setup_conv(c);
    case PFW_OP_MaxPool:
    case PFW_OP_AveragePool:
    case PFW_OP_GlobalAveragePool:
    case PFW_OP_GlobalMaxPool: return pfw_cl_setup_pool(c);
    case PFW_OP_Gemm:
    case PFW_OP_MatMul: return pfw_cl_setup_gemm(c);
    case PFW_OP_BatchNormalization:
    case PFW_OP_Softmax:
    case PFW_OP_LogSoftmax:
    case PFW_OP_LayerNormalization: return pfw_cl_setup_norm(c);
    default: return NOT_HERE;
  }
}
