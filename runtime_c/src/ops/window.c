/* Generated matrices and signals: EyeLike (ones on diagonal k of a 2-D
 * shape) and the Hann, Hamming and Blackman windows of a size read while
 * planning, periodic (length N + 1 window cut to N) or symmetric. */
#include <math.h>
#include <string.h>

#include "ops_common.h"

/* The dtype attribute `name` (an ONNX type code), or `dflt` when absent. */
static pfw_status out_dtype(const pfw_node* node, const char* name, pfw_dtype dflt, pfw_dtype* out) {
  int64_t code = pfw_attr_int(node, name, (int64_t)dflt);
  if (code < 0 || code > 255 || pfw_dtype_size((pfw_dtype)code) == 0 || code == PFW_STRING)
    return pfw_error(PFW_ERR_UNSUPPORTED, "attribute '%s' is %lld, not a dtype pyfw can write", name, (long long)code);
  *out = (pfw_dtype)code;
  return PFW_OK;
}

/* ---- EyeLike --------------------------------------------------------------- */

static pfw_status eyelike_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, 1);
  if (st != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  if (x->rank != 2) return pfw_error(PFW_ERR_SHAPE, "input 0 has rank %d; EyeLike needs a 2-D input", (int)x->rank);
  pfw_dtype t = PFW_FLOAT32;
  if ((st = out_dtype(node, "dtype", x->dtype, &t)) != PFW_OK) return st;
  return pfw_set_output(node->out[0], t, 2, x->dims);
}

static pfw_status eyelike_run(pfw_node* node) {
  pfw_tensor* y = node->out[0];
  size_t es = pfw_dtype_size(y->dtype);
  int64_t rows = y->dims[0], cols = y->dims[1], k = pfw_attr_int(node, "k", 0);
  memset(y->data, 0, (size_t)(rows * cols) * es);
  for (int64_t i = 0; i < rows; i++)
    if (k >= -i && k < cols - i) pfw_store_real((char*)y->data + (size_t)(i * cols + i + k) * es, y->dtype, 1);
  return PFW_OK;
}

const pfw_op pfw_op_EyeLike = {PFW_OP_EyeLike, eyelike_prepare, eyelike_run, 0};

/* ---- HannWindow, HammingWindow, BlackmanWindow ------------------------------ */

static pfw_status window_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, 1);
  if (st != PFW_OK) return st;
  int64_t size;
  int32_t n;
  pfw_dtype t = PFW_FLOAT32;
  if ((st = pfw_input_ints(node, 0, "size", &size, 1, &n)) != PFW_OK ||
      (st = out_dtype(node, "output_datatype", PFW_FLOAT32, &t)) != PFW_OK)
    return st;
  if (n != 1 || size < 0 || size > INT32_MAX)
    return pfw_error(PFW_ERR_INVALID_MODEL, "input 0 (size) must be one value in [0, %d]", INT32_MAX);
  return pfw_set_output(node->out[0], t, 1, &size);
}

/* w[i] = a0 - a1 cos(2 pi i / N) + a2 cos(4 pi i / N), N = size (periodic)
 * or size - 1; a symmetric window of size 1 divides 0 by 0 into NaN, as
 * ONNX's reference and ONNX Runtime do. */
static pfw_status window_run(pfw_node* node, double a0, double a1, double a2) {
  pfw_tensor* y = node->out[0];
  int64_t size = y->dims[0];
  double N = (double)(pfw_attr_int(node, "periodic", 1) ? size : size - 1);
  size_t es = pfw_dtype_size(y->dtype);
  const double pi = 3.14159265358979323846;
  for (int64_t i = 0; i < size; i++) {
    double v = a0 - a1 * cos(2 * pi * (double)i / N) + a2 * cos(4 * pi * (double)i / N);
    pfw_store_real((char*)y->data + (size_t)i * es, y->dtype, v);
  }
  return PFW_OK;
}

/* Hann: sin^2(pi i / N) = 0.5 - 0.5 cos(2 pi i / N). */
static pfw_status hann_run(pfw_node* node) { return window_run(node, 0.5, 0.5, 0); }
static pfw_status hamming_run(pfw_node* node) { return window_run(node, 25.0 / 46.0, 1 - 25.0 / 46.0, 0); }
static pfw_status blackman_run(pfw_node* node) { return window_run(node, 0.42, 0.5, 0.08); }

const pfw_op pfw_op_HannWindow = {PFW_OP_HannWindow, window_prepare, hann_run, 0};
const pfw_op pfw_op_HammingWindow = {PFW_OP_HammingWindow, window_prepare, hamming_run, 0};
const pfw_op pfw_op_BlackmanWindow = {PFW_OP_BlackmanWindow, window_prepare, blackman_run, 0};
