/* DepthToSpace and SpaceToDepth (NCHW, any dtype): pure data movement, each a
 * reshape + transpose + reshape that ONNX spells out, done as one gather.
 * DepthToSpace modes: DCR (default; depth is [b, b, C']) and CRD ([C', b, b]);
 * SpaceToDepth is their inverse (DCR by default, CRD where a mode is given). */
#include <string.h>

#include "ops_common.h"

static pfw_status depth_space_prepare(pfw_node* node, bool to_space) {
  pfw_status st = pfw_need_io(node, 1, 1);
  if (st != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  if (x->rank != 4) return pfw_error(PFW_ERR_SHAPE, "input 0 has rank %d; expected (N, C, H, W)", (int)x->rank);
  if (pfw_dtype_size(x->dtype) == 0)
    return pfw_error(PFW_ERR_UNSUPPORTED, "input 0 has dtype %s", pfw_dtype_name(x->dtype));
  int64_t b = pfw_attr_int(node, "blocksize", 0);
  if (b < 1 || b > (1 << 20))
    return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'blocksize' is %lld; it must be in [1, 2^20]", (long long)b);
  const char* mode = pfw_attr_string(node, "mode", "DCR");
  if (strcmp(mode, "DCR") != 0 && strcmp(mode, "CRD") != 0)
    return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'mode' is '%s'; expected DCR or CRD", mode);
  int64_t n = x->dims[0], c = x->dims[1], h = x->dims[2], w = x->dims[3];
  int64_t dims[4] = {n, c * b * b, h / b, w / b};
  if (to_space) {
    if (c % (b * b) != 0)
      return pfw_error(PFW_ERR_SHAPE, "input 0 has %lld channels, not a multiple of blocksize^2 = %lld",
                       (long long)c, (long long)(b * b));
    int64_t overflow;
    if (pfw_mul_overflows(h, b, &overflow) || pfw_mul_overflows(w, b, &overflow))
      return pfw_error(PFW_ERR_SHAPE, "input 0: output spatial size overflows");
    dims[1] = c / (b * b);
    dims[2] = h * b;
    dims[3] = w * b;
  } else if (h % b != 0 || w % b != 0) {
    return pfw_error(PFW_ERR_SHAPE, "input 0 is %lldx%lld, not a multiple of blocksize %lld", (long long)h,
                     (long long)w, (long long)b);
  }
  return pfw_set_output(node->out[0], x->dtype, 4, dims);
}

/* Walks the depth-side tensor (N, Cd, H, W), whose channel c splits into
 * (c'', i, j) as [C'', b, b] (CRD) or [b, b, C''] (DCR), and pairs each
 * element with the space-side one at (n, c'', y * b + i, x * b + j);
 * `to_space` says which side is the input. */
static pfw_status depth_space_run(pfw_node* node, bool to_space) {
  const pfw_tensor* depth = to_space ? node->in[0] : node->out[0];
  const pfw_tensor* space = to_space ? node->out[0] : node->in[0];
  bool crd = strcmp(pfw_attr_string(node, "mode", "DCR"), "CRD") == 0;
  int64_t b = pfw_attr_int(node, "blocksize", 1), n = depth->dims[0], cd = depth->dims[1], h = depth->dims[2],
          w = depth->dims[3], cs = space->dims[1];
  size_t es = pfw_dtype_size(depth->dtype);
  const char* src = node->in[0]->data;
  char* dst = node->out[0]->data;
  for (int64_t in = 0; in < n; in++)
    for (int64_t c = 0; c < cd; c++) {
      int64_t cc = crd ? c / (b * b) : c % cs;
      int64_t i = crd ? c / b % b : c / cs / b, j = crd ? c % b : c / cs % b;
      for (int64_t y = 0; y < h; y++)
        for (int64_t x = 0; x < w; x++) {
          size_t d_off = (size_t)(((in * cd + c) * h + y) * w + x) * es;
          size_t s_off = (size_t)(((in * cs + cc) * h * b + y * b + i) * w * b + x * b + j) * es;
          memcpy(dst + (to_space ? s_off : d_off), src + (to_space ? d_off : s_off), es);
        }
    }
  return PFW_OK;
}

static pfw_status d2s_prepare(pfw_node* node) { return depth_space_prepare(node, true); }
static pfw_status d2s_run(pfw_node* node) { return depth_space_run(node, true); }
static pfw_status s2d_prepare(pfw_node* node) { return depth_space_prepare(node, false); }
static pfw_status s2d_run(pfw_node* node) { return depth_space_run(node, false); }

const pfw_op pfw_op_DepthToSpace = {PFW_OP_DepthToSpace, d2s_prepare, d2s_run, 0};
const pfw_op pfw_op_SpaceToDepth = {PFW_OP_SpaceToDepth, s2d_prepare, s2d_run, 0};
