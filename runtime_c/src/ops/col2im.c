/* Col2Im: the inverse of im2col. Column (c, block offset b) at sliding
 * position l adds into image pixel l*stride - pad_begin + b*dilation, over
 * any number of spatial dims; image_shape and block_shape are read while
 * planning. float32/float64, summed in the output's type in a fixed order. */
#include <string.h>

#include "ops_common.h"

#define C2I_MAX (PFW_MAX_RANK - 2)

typedef struct {
  int32_t r;
  int64_t image[C2I_MAX], block[C2I_MAX], dil[C2I_MAX], stride[C2I_MAX], pad[2 * C2I_MAX], blocks[C2I_MAX];
} c2i_geom;

static pfw_status c2i_list(const pfw_node* node, const char* name, int32_t n, int64_t dflt, int64_t lo, int64_t* out) {
  int32_t k;
  const int64_t* v = pfw_attr_ints(node, name, &k);
  for (int32_t i = 0; i < n; i++) out[i] = v ? (i < k ? v[i] : 0) : dflt;
  if (v && k != n) return pfw_error(PFW_ERR_INVALID_MODEL, "attribute '%s' has %d values; expected %d", name, (int)k, (int)n);
  for (int32_t i = 0; i < n; i++)
    if (out[i] < lo || out[i] > INT32_MAX)
      return pfw_error(PFW_ERR_INVALID_MODEL, "attribute '%s'[%d] is %lld", name, (int)i, (long long)out[i]);
  return PFW_OK;
}

static pfw_status c2i_read(const pfw_node* node, c2i_geom* g) {
  int32_t ni, nb;
  pfw_status st = pfw_input_ints(node, 1, "image_shape", g->image, C2I_MAX, &ni);
  if (st == PFW_OK) st = pfw_input_ints(node, 2, "block_shape", g->block, C2I_MAX, &nb);
  if (st != PFW_OK) return st;
  if (ni < 1 || ni != nb)
    return pfw_error(PFW_ERR_SHAPE, "image_shape (%d values) and block_shape (%d) must name the same spatial dims",
                     (int)ni, (int)nb);
  g->r = ni;
  if ((st = c2i_list(node, "dilations", ni, 1, 1, g->dil)) != PFW_OK ||
      (st = c2i_list(node, "strides", ni, 1, 1, g->stride)) != PFW_OK ||
      (st = c2i_list(node, "pads", 2 * ni, 0, 0, g->pad)) != PFW_OK)
    return st;
  for (int32_t i = 0; i < ni; i++) {
    if (g->image[i] < 1 || g->block[i] < 1 || g->image[i] > INT32_MAX || g->block[i] > INT32_MAX)
      return pfw_error(PFW_ERR_SHAPE, "image_shape and block_shape must be positive (dim %d)", (int)i);
    int64_t span = g->dil[i] * (g->block[i] - 1) + 1, room = g->image[i] + g->pad[i] + g->pad[ni + i] - span;
    if (room < 0) return pfw_error(PFW_ERR_SHAPE, "the block does not fit the padded image in dim %d", (int)i);
    g->blocks[i] = room / g->stride[i] + 1;
  }
  return PFW_OK;
}

static pfw_status c2i_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 3, 3);
  if (st == PFW_OK) st = pfw_need_float(node, 0);
  c2i_geom g;
  if (st == PFW_OK) st = c2i_read(node, &g);
  if (st != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  int64_t kprod = 1, lprod = 1;
  for (int32_t i = 0; i < g.r; i++) kprod *= g.block[i], lprod *= g.blocks[i];
  if (x->rank != 3 || x->dims[1] % kprod || x->dims[2] != lprod)
    return pfw_error(PFW_ERR_SHAPE, "input 0 must be (N, C*%lld, %lld) for these block and image shapes",
                     (long long)kprod, (long long)lprod);
  int64_t dims[PFW_MAX_RANK] = {x->dims[0], x->dims[1] / kprod};
  for (int32_t i = 0; i < g.r; i++) dims[2 + i] = g.image[i];
  return pfw_set_output(node->out[0], x->dtype, 2 + g.r, dims);
}

static pfw_status c2i_run(pfw_node* node) {
  const pfw_tensor* x = node->in[0];
  pfw_tensor* y = node->out[0];
  c2i_geom g;
  c2i_read(node, &g);
  int64_t kprod = 1, lprod = 1, img = 1, planes = y->dims[0] * y->dims[1];
  for (int32_t i = 0; i < g.r; i++) kprod *= g.block[i], lprod *= g.blocks[i], img *= g.image[i];
  bool f32 = x->dtype == PFW_FLOAT32;
  memset(y->data, 0, (size_t)pfw_numel(y) * pfw_dtype_size(y->dtype));
  for (int64_t p = 0; p < planes; p++)
    for (int64_t b = 0; b < kprod; b++)
      for (int64_t l = 0; l < lprod; l++) {
        int64_t pos = 0, rb = b, rl = l;
        for (int32_t i = g.r - 1; i >= 0 && pos >= 0; i--) { /* last spatial dim fastest */
          int64_t bi = rb % g.block[i], li = rl % g.blocks[i];
          rb /= g.block[i], rl /= g.blocks[i];
          int64_t at = li * g.stride[i] - g.pad[i] + bi * g.dil[i];
          int64_t scale = 1;
          for (int32_t j = i + 1; j < g.r; j++) scale *= g.image[j];
          pos = at < 0 || at >= g.image[i] ? -1 : pos + at * scale;
        }
        if (pos < 0) continue;
        int64_t src = (p * kprod + b) * lprod + l, dst = p * img + pos;
        if (f32) ((float*)y->data)[dst] += ((const float*)x->data)[src];
        else ((double*)y->data)[dst] += ((const double*)x->data)[src];
      }
  return PFW_OK;
}

const pfw_op pfw_op_Col2Im = {PFW_OP_Col2Im, c2i_prepare, c2i_run, 0};
