/* DFT (opsets 17, 20): the discrete Fourier transform along one axis of a
 * real (last dim 1) or complex (last dim 2: re, im) signal, zero-padded or
 * cut to dft_length n. Forward: X[k] = sum_t x[t] e^(-2 pi i k t / n), all k
 * or the onesided k <= n/2. Inverse: x[t] = 1/n sum_k X[k] e^(2 pi i k t /
 * n), complex out; inverse + onesided is numpy's irfft (Hermitian spectrum,
 * real out). The reference kernel sums directly in double, O(n^2). */
#include <math.h>
#include <string.h>

#include "ops_common.h"

typedef struct {
  int32_t axis;
  int64_t n; /* dft_length */
  bool inverse, onesided;
} dft_params;

static pfw_status dft_read(const pfw_node* node, dft_params* p) {
  const pfw_tensor* x = node->in[0];
  int64_t v[1];
  int32_t k;
  pfw_status st;
  int64_t axis = node->desc->version < 20 ? pfw_attr_int(node, "axis", 1) : -2;
  if (node->desc->version >= 20) {
    if ((st = pfw_input_ints(node, 2, "axis", v, 1, &k)) != PFW_OK) return st;
    if (k == 1) axis = v[0];
  }
  if ((st = pfw_norm_axis(axis, x->rank, "axis", &p->axis)) != PFW_OK) return st;
  if (p->axis == x->rank - 1)
    return pfw_error(PFW_ERR_INVALID_MODEL, "axis %lld is the last (real/imaginary) dimension", (long long)axis);
  p->inverse = pfw_attr_int(node, "inverse", 0) != 0;
  p->onesided = pfw_attr_int(node, "onesided", 0) != 0;
  int64_t len = x->dims[p->axis];
  p->n = p->inverse && p->onesided ? 2 * (len - 1) : len;
  if ((st = pfw_input_ints(node, 1, "dft_length", v, 1, &k)) != PFW_OK) return st;
  if (k == 1) p->n = v[0];
  if (p->n < 1 || p->n > INT32_MAX)
    return pfw_error(PFW_ERR_INVALID_MODEL, "dft_length is %lld; expected >= 1", (long long)p->n);
  return PFW_OK;
}

static pfw_status dft_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, 3);
  if (st == PFW_OK) st = pfw_need_float(node, 0);
  dft_params p;
  if (st == PFW_OK) st = node->in[0]->rank >= 2 ? dft_read(node, &p)
                                                : pfw_error(PFW_ERR_SHAPE, "input 0 needs rank >= 2 (..., 1 or 2)");
  if (st != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  int64_t c = x->dims[x->rank - 1], dims[PFW_MAX_RANK];
  if (c != 1 && c != 2)
    return pfw_error(PFW_ERR_SHAPE, "input 0's last dimension is %lld; expected 1 (real) or 2 (complex)", (long long)c);
  memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
  dims[p.axis] = !p.inverse && p.onesided ? p.n / 2 + 1 : p.n;
  dims[x->rank - 1] = p.inverse && p.onesided ? 1 : 2;
  return pfw_set_output(node->out[0], x->dtype, x->rank, dims);
}

static double get(const pfw_tensor* t, int64_t i) {
  return t->dtype == PFW_FLOAT32 ? ((const float*)t->data)[i] : ((const double*)t->data)[i];
}

static pfw_status dft_run(pfw_node* node) {
  const pfw_tensor* x = node->in[0];
  pfw_tensor* y = node->out[0];
  dft_params p;
  pfw_status st = dft_read(node, &p);
  if (st != PFW_OK) return st;
  int64_t outer = 1, inner = 1, len = x->dims[p.axis], out_len = y->dims[p.axis];
  int64_t cx = x->dims[x->rank - 1], cy = y->dims[y->rank - 1];
  for (int32_t k = 0; k < p.axis; k++) outer *= x->dims[k];
  for (int32_t k = p.axis + 1; k < x->rank - 1; k++) inner *= x->dims[k];
  const double two_pi = 6.283185307179586476925;
  double sign = p.inverse ? 1.0 : -1.0, scale = p.inverse ? 1.0 / (double)p.n : 1.0;
  /* irfft reads the first n/2 + 1 frequencies and mirrors them (Hermitian). */
  int64_t terms = p.inverse && p.onesided ? p.n : (len < p.n ? len : p.n);
  for (int64_t u = 0; u < outer; u++)
    for (int64_t v = 0; v < inner; v++)
      for (int64_t k = 0; k < out_len; k++) {
        double re = 0, im = 0;
        for (int64_t t = 0; t < terms; t++) {
          double a, b; /* the input value at t (for irfft: the mirrored spectrum) */
          int64_t src = t;
          bool conj = false;
          if (p.inverse && p.onesided && t > p.n / 2) src = p.n - t, conj = true;
          if (src >= len) continue; /* beyond the input: zero padding */
          int64_t at = ((u * len + src) * inner + v) * cx;
          a = get(x, at);
          b = cx == 2 ? get(x, at + 1) : 0.0;
          if (conj) b = -b;
          double ang = sign * two_pi * (double)((k * t) % p.n) / (double)p.n;
          re += a * cos(ang) - b * sin(ang);
          im += a * sin(ang) + b * cos(ang);
        }
        int64_t o = ((u * out_len + k) * inner + v) * cy;
        if (y->dtype == PFW_FLOAT32) {
          ((float*)y->data)[o] = (float)(re * scale);
          if (cy == 2) ((float*)y->data)[o + 1] = (float)(im * scale);
        } else {
          ((double*)y->data)[o] = re * scale;
          if (cy == 2) ((double*)y->data)[o + 1] = im * scale;
        }
      }
  return PFW_OK;
}

const pfw_op pfw_op_DFT = {PFW_OP_DFT, dft_prepare, dft_run, 0};
