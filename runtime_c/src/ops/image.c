/* ImageDecoder (ai.onnx opset 20): a 1-D uint8 tensor holding one encoded
 * image (PNG, JPEG, BMP, PNM or TIFF; codecs in src/image/) decodes to a
 * uint8 [H, W, C] tensor, C = 3 for pixel_format RGB or BGR, 1 for
 * Grayscale. Gray from colour is PIL's convert("L") (ONNX's reference):
 * (19595 R + 38470 G + 7471 B + 2^15) >> 16. */
#include "../image/image.h"
#include "ops_common.h"

enum { PIX_RGB, PIX_BGR, PIX_GRAY };

static int pixel_format(const pfw_node* node) {
  const char* f = pfw_attr_string(node, "pixel_format", "RGB");
  return !strcmp(f, "RGB") ? PIX_RGB : !strcmp(f, "BGR") ? PIX_BGR : !strcmp(f, "Grayscale") ? PIX_GRAY : -1;
}

static pfw_status image_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, 1);
  if (st == PFW_OK) st = pfw_check_input(node, 0, PFW_UINT8, -1);
  if (st != PFW_OK) return st;
  if (node->in[0]->rank != 1)
    return pfw_error(PFW_ERR_SHAPE, "input 0 (the encoded image) must be 1-D; it has rank %d", (int)node->in[0]->rank);
  if (pixel_format(node) < 0)
    return pfw_error(PFW_ERR_INVALID_MODEL, "pixel_format is '%s'; expected RGB, BGR or Grayscale",
                     pfw_attr_string(node, "pixel_format", ""));
  return PFW_OK;
}

static pfw_status image_run(pfw_node* node) {
  const pfw_tensor* x = node->in[0];
  size_t limit = node->mem_limit ? node->mem_limit : SIZE_MAX / 2;
  pfw_image img;
  pfw_status st = pfw_image_decode(x->data, (size_t)pfw_numel(x), limit, &img);
  if (st != PFW_OK) return st;
  int fmt = pixel_format(node);
  int64_t dims[3] = {img.height, img.width, fmt == PIX_GRAY ? 1 : 3};
  st = pfw_dynamic_output(node, 0, PFW_UINT8, 3, dims);
  if (st == PFW_OK) {
    const uint8_t* p = img.pixels;
    uint8_t* y = node->out[0]->data;
    int64_t n = img.height * img.width;
    if (fmt == PIX_GRAY && img.channels == 3) {
      for (int64_t i = 0; i < n; i++, p += 3)
        y[i] = (uint8_t)((19595u * p[0] + 38470u * p[1] + 7471u * p[2] + 0x8000u) >> 16);
    } else if (fmt == PIX_GRAY || img.channels == 1) {
      for (int64_t i = 0; i < n; i++) /* gray to gray, or gray repeated in each channel */
        for (int64_t c = 0; c < dims[2]; c++) y[i * dims[2] + c] = p[i];
    } else {
      int r = fmt == PIX_BGR ? 2 : 0;
      for (int64_t i = 0; i < n; i++, p += 3, y += 3) {
        y[r] = p[0];
        y[1] = p[1];
        y[2 - r] = p[2];
      }
    }
  }
  pfw_image_free(&img);
  return st;
}

const pfw_op pfw_op_ImageDecoder = {PFW_OP_ImageDecoder, image_prepare, image_run, PFW_OPF_RUN_SHAPES};
