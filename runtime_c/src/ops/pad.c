/* Pad (constant, reflect, edge, wrap), any dtype. Pads are an attribute
 * before opset 11 and inputs after (known while planning), optionally for a
 * subset of axes (opset 18); negative pads crop. */
#include <string.h>

#include "ops_common.h"

typedef enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP } pad_mode;

typedef struct {
  int64_t begin[PFW_MAX_RANK], end[PFW_MAX_RANK];
  pad_mode mode;
} pad_plan;

static pfw_status pad_read(const pfw_node* node, pad_plan* p) {
  const pfw_tensor* x = node->in[0];
  int64_t pads[2 * PFW_MAX_RANK], axes[PFW_MAX_RANK];
  int32_t n, n_axes = -1, r = x->rank;
  pfw_status st;
  const char* mode = pfw_attr_string(node, "mode", "constant");
  if (!strcmp(mode, "constant")) p->mode = PAD_CONSTANT;
  else if (!strcmp(mode, "reflect")) p->mode = PAD_REFLECT;
  else if (!strcmp(mode, "edge")) p->mode = PAD_EDGE;
  else if (!strcmp(mode, "wrap")) p->mode = PAD_WRAP;
  else return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'mode' is '%s'; expected constant, reflect, edge or wrap", mode);
  if (node->desc->version < 11) {
    const int64_t* v = pfw_attr_ints(node, node->desc->version < 2 ? "paddings" : "pads", &n);
    if (!v || n > 2 * PFW_MAX_RANK) return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'pads' is missing or too long");
    memcpy(pads, v, sizeof(int64_t) * (size_t)n);
  } else {
    if ((st = pfw_input_ints(node, 1, "pads", pads, 2 * PFW_MAX_RANK, &n)) != PFW_OK ||
        (st = pfw_input_ints(node, 3, "axes", axes, PFW_MAX_RANK, &n_axes)) != PFW_OK)
      return st;
    if (n < 0) return pfw_error(PFW_ERR_INVALID_MODEL, "input 1 (pads) is required");
  }
  int32_t count = n_axes >= 0 ? n_axes : r;
  if (n != 2 * count)
    return pfw_error(PFW_ERR_INVALID_MODEL, "pads has %d values; expected %d (2 per padded axis)", (int)n, (int)(2 * count));
  memset(p->begin, 0, sizeof p->begin);
  memset(p->end, 0, sizeof p->end);
  for (int32_t i = 0; i < count; i++) {
    int32_t a = i;
    if (n_axes >= 0 && (st = pfw_norm_axis(axes[i], r, "axes", &a)) != PFW_OK) return st;
    p->begin[a] = pads[i];
    p->end[a] = pads[count + i];
  }
  return PFW_OK;
}

static pfw_status pad_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, 4);
  pad_plan p;
  if (st == PFW_OK) st = pad_read(node, &p);
  if (st != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  int64_t dims[PFW_MAX_RANK];
  for (int32_t k = 0; k < x->rank; k++) {
    /* Pads past 2^61 make no tensor that fits anyway; the bound keeps the
     * sums here and the source index o - begin at run within int64. */
    const int64_t limit = INT64_MAX / 4;
    int64_t grown;
    if (p.begin[k] < -limit || p.begin[k] > limit || p.end[k] < -limit || p.end[k] > limit ||
        pfw_add_overflows(x->dims[k], p.begin[k], &grown) || pfw_add_overflows(grown, p.end[k], &dims[k]))
      return pfw_error(PFW_ERR_SHAPE, "pads %lld and %lld on axis %d (size %lld) are out of range",
                       (long long)p.begin[k], (long long)p.end[k], (int)k, (long long)x->dims[k]);
    if (dims[k] < 0)
      return pfw_error(PFW_ERR_SHAPE, "pads crop axis %d (size %lld) below zero", (int)k, (long long)x->dims[k]);
    if (p.mode != PAD_CONSTANT && x->dims[k] == 0 && dims[k] > 0)
      return pfw_error(PFW_ERR_SHAPE, "cannot %s-pad the empty axis %d", p.mode == PAD_EDGE ? "edge" : "reflect",
                       (int)k);
  }
  const pfw_tensor* v = node->n_in > 2 ? node->in[2] : NULL;
  if (v && (v->dtype != x->dtype || pfw_numel(v) != 1))
    return pfw_error(PFW_ERR_INVALID_MODEL, "input 2 (constant_value) must be one %s value", pfw_dtype_name(x->dtype));
  return pfw_set_output(node->out[0], x->dtype, x->rank, dims);
}

/* Source index along one axis for output position o, or -1 for the constant. */
static int64_t source(int64_t o, int64_t begin, int64_t d, pad_mode mode) {
  int64_t i = o - begin;
  if (i >= 0 && i < d) return i;
  switch (mode) {
    case PAD_CONSTANT: return -1;
    case PAD_EDGE: return i < 0 ? 0 : d - 1;
    case PAD_WRAP: return ((i % d) + d) % d;
    default: { /* reflect without repeating the edge: period 2(d-1) */
      if (d == 1) return 0;
      int64_t period = 2 * (d - 1), m = ((i % period) + period) % period;
      return m < d ? m : period - m;
    }
  }
}

static pfw_status pad_run(pfw_node* node) {
  const pfw_tensor* x = node->in[0];
  pfw_tensor* y = node->out[0];
  pad_plan p;
  pfw_status st = pad_read(node, &p);
  if (st != PFW_OK) return st;
  size_t es = pfw_dtype_size(x->dtype);
  /* The fill: input 2 (opset 11+), the float 'value' attribute before that
   * (whose dtypes were float16/32/64 only), else zero bytes. */
  unsigned char local[16] = {0};
  const void* fill = node->n_in > 2 && node->in[2] ? node->in[2]->data : local;
  if (node->desc->version < 11) {
    double v = pfw_attr_float(node, "value", 0.0f);
    float f = (float)v;
    if (x->dtype == PFW_FLOAT32) memcpy(local, &f, sizeof f);
    else if (x->dtype == PFW_FLOAT64) memcpy(local, &v, sizeof v);
    else if (v != 0) return pfw_error(PFW_ERR_UNSUPPORTED, "attribute 'value' on %s input", pfw_dtype_name(x->dtype));
  }
  int64_t total = pfw_numel(y), idx[PFW_MAX_RANK] = {0}, stride[PFW_MAX_RANK], acc = 1;
  for (int32_t k = x->rank - 1; k >= 0; k--) {
    stride[k] = acc;
    acc *= x->dims[k];
  }
  for (int64_t i = 0; i < total; i++) {
    int64_t pos = 0;
    for (int32_t k = 0; k < x->rank && pos >= 0; k++) {
      int64_t s = source(idx[k], p.begin[k], x->dims[k], p.mode);
      pos = s < 0 ? -1 : pos + s * stride[k];
    }
    memcpy((char*)y->data + (size_t)i * es, pos < 0 ? fill : (const char*)x->data + (size_t)pos * es, es);
    for (int32_t k = y->rank - 1; k >= 0 && ++idx[k] == y->dims[k]; k--) idx[k] = 0;
  }
  return PFW_OK;
}

const pfw_op pfw_op_Pad = {PFW_OP_Pad, pad_prepare, pad_run, 0};
