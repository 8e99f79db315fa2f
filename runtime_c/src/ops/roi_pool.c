/* MaxRoiPool (ONNX opset 1 / 22): the max over each bin of each region of
 * interest, Fast R-CNN's RoI pooling. X is (N, C, H, W); rois is (R, 5) of
 * (batch index, x1, y1, x2, y2) in input coordinates times spatial_scale,
 * each rounded half away from zero; Y is (R, C, pooled_h, pooled_w). A
 * region is at least one pixel; bin (ph, pw) spans rows
 * [floor(ph * bh), ceil((ph + 1) * bh)) from y1, clipped to the image, with
 * bh = region height / pooled_h in float32 (likewise columns); an empty bin
 * gives 0; a bin's max passes NaN pixels over. This is Caffe's RoI pooling step
 * for step; ONNX Runtime differs in starting each bin at FLT_MIN (so a bin
 * of negative pixels gives 1.2e-38 there) and in how it meets NaN. */
#include <float.h>
#include <math.h>

#include "ops_common.h"

static pfw_status roi_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 2, 2);
  if (st != PFW_OK) return st;
  const pfw_tensor *x = node->in[0], *rois = node->in[1];
  if (x->dtype != PFW_FLOAT32 && x->dtype != PFW_FLOAT64 && x->dtype != PFW_FLOAT16)
    return pfw_error(PFW_ERR_UNSUPPORTED, "input 0 has dtype %s; MaxRoiPool takes float32, float64 or float16",
                     pfw_dtype_name(x->dtype));
  if ((st = pfw_check_input(node, 1, x->dtype, 2)) != PFW_OK) return st;
  if (x->rank != 4) return pfw_error(PFW_ERR_SHAPE, "input 0 must be 4-D (N, C, H, W); it has rank %d", (int)x->rank);
  if (rois->dims[1] != 5)
    return pfw_error(PFW_ERR_SHAPE, "input 1 (rois) must be (num_rois, 5); its second dimension is %lld",
                     (long long)rois->dims[1]);
  int32_t n = 0;
  const int64_t* pooled = pfw_attr_ints(node, "pooled_shape", &n);
  if (!pooled || n != 2 || pooled[0] <= 0 || pooled[1] <= 0)
    return pfw_error(PFW_ERR_INVALID_MODEL, "pooled_shape must be two positive sizes");
  float scale = pfw_attr_float(node, "spatial_scale", 1.0f);
  if (!(scale > 0) || isinf(scale))
    return pfw_error(PFW_ERR_INVALID_MODEL, "spatial_scale must be a positive finite number, got %g", (double)scale);
  int64_t dims[4] = {rois->dims[0], x->dims[1], pooled[0], pooled[1]};
  return pfw_set_output(node->out[0], x->dtype, 4, dims);
}

/* [start, end) of bin k of `size` pixels split into `bins` from `origin`, clipped to [0, limit). */
static void bin_range(int64_t k, int64_t size, int64_t bins, int64_t origin, int64_t limit, int64_t* start,
                      int64_t* end) {
  float bin = (float)size / (float)bins;
  int64_t s = (int64_t)floorf((float)k * bin) + origin, e = (int64_t)ceilf((float)(k + 1) * bin) + origin;
  *start = s < 0 ? 0 : s > limit ? limit : s;
  *end = e < 0 ? 0 : e > limit ? limit : e;
}

/* round() of a coordinate, held to int64 (NaN and huge values cannot be UB). */
static int64_t coordinate(double v) {
  double r = round(v);
  return r != r ? 0 : r > 4e18 ? (int64_t)4e18 : r < -4e18 ? (int64_t)-4e18 : (int64_t)r;
}

static pfw_status roi_run(pfw_node* node) {
  const pfw_tensor *x = node->in[0], *rois = node->in[1];
  pfw_tensor* y = node->out[0];
  int64_t batch = x->dims[0], channels = x->dims[1], height = x->dims[2], width = x->dims[3];
  int64_t ph_n = y->dims[2], pw_n = y->dims[3];
  float scale = pfw_attr_float(node, "spatial_scale", 1.0f);
  double lowest = x->dtype == PFW_FLOAT64 ? -DBL_MAX : x->dtype == PFW_FLOAT16 ? -65504.0 : -FLT_MAX;
  for (int64_t r = 0; r < rois->dims[0]; r++) {
    double b = pfw_load_real(rois->data, rois->dtype, r * 5);
    if (!(b >= 0 && b < (double)batch))
      return pfw_error(PFW_ERR_INVALID_ARGUMENT, "roi %lld has batch index %g, outside [0, %lld)", (long long)r, b,
                       (long long)batch);
    int64_t c4[4]; /* x1, y1, x2, y2, scaled and rounded */
    for (int k = 0; k < 4; k++)
      c4[k] = coordinate((double)((float)pfw_load_real(rois->data, rois->dtype, r * 5 + 1 + k) * scale));
    int64_t roi_h = c4[3] - c4[1] + 1 > 1 ? c4[3] - c4[1] + 1 : 1, roi_w = c4[2] - c4[0] + 1 > 1 ? c4[2] - c4[0] + 1 : 1;
    for (int64_t c = 0; c < channels; c++) {
      int64_t plane = ((int64_t)b * channels + c) * height * width;
      for (int64_t ph = 0; ph < ph_n; ph++) {
        int64_t h0, h1;
        bin_range(ph, roi_h, ph_n, c4[1], height, &h0, &h1);
        for (int64_t pw = 0; pw < pw_n; pw++) {
          int64_t w0, w1;
          bin_range(pw, roi_w, pw_n, c4[0], width, &w0, &w1);
          /* From the dtype's lowest value, so NaNs are passed over (as ONNX Runtime). */
          double best = h1 > h0 && w1 > w0 ? lowest : 0;
          for (int64_t h = h0; h < h1; h++)
            for (int64_t w = w0; w < w1; w++) {
              double v = pfw_load_real(x->data, x->dtype, plane + h * width + w);
              if (v > best) best = v;
            }
          pfw_store_real((char*)y->data + (size_t)(((r * channels + c) * ph_n + ph) * pw_n + pw) *
                                              pfw_dtype_size(y->dtype),
                         y->dtype, best);
        }
      }
    }
  }
  return PFW_OK;
}

const pfw_op pfw_op_MaxRoiPool = {PFW_OP_MaxRoiPool, roi_prepare, roi_run, 0};
