/* What jpeg.c (markers, entropy decoding) hands jpeg_pixels.c (IDCT,
 * upsampling, colour): every component's quantized coefficients. */
#ifndef PFW_JPEG_INTERNAL_H
#define PFW_JPEG_INTERNAL_H

#include "image.h"

typedef struct jpeg_component {
  int id, h, v, tq;    /* component id, sampling factors, quantization table */
  int td, ta;          /* DC and AC Huffman tables of the current scan */
  int64_t w, hgt;      /* samples across and down: ceil(X * h / hmax), ceil(Y * v / vmax) */
  int64_t bw, bh;      /* blocks across and down the coefficient array (whole MCUs) */
  int16_t* coef;       /* bw * bh blocks of 64, natural order, not yet dequantized */
  int dc_pred;
  uint16_t quant[64];  /* its table as at its first scan (a later DQT may redefine the slot, as libjpeg allows) */
  bool quant_latched;
} jpeg_component;

typedef struct jpeg_frame {
  int64_t width, height;
  int ncomp, hmax, vmax;
  bool rgb;            /* 3 components that hold R, G, B rather than Y, Cb, Cr */
  jpeg_component comp[3];
  uint16_t quant[4][64]; /* natural order */
  bool quant_set[4];
  size_t used;           /* bytes of the coefficient arrays, counted against the decode's memory limit */
} jpeg_frame;

/* Turns the coefficients into img's pixels (allocated here) as libjpeg-turbo
 * does with its defaults (the ISLOW IDCT, fancy upsampling, its YCbCr
 * tables), so results match PIL's byte for byte. */
pfw_status pfw_jpeg_pixels(const jpeg_frame* f, size_t limit, pfw_image* img);

#endif
