/* JPEG coefficients to pixels, step for step as libjpeg-turbo does by
 * default, so PIL's pixels (ONNX's reference) come out byte for byte: the
 * accurate integer IDCT (the Loeffler-Ligtenberg-Moschytz 13-bit fixed-point
 * form, "ISLOW"), the triangle ("fancy") upsampling of 2:1 chroma with its
 * alternating rounding, and YCbCr -> RGB through 16-bit fixed-point tables. */
#include <stdlib.h>
#include <string.h>

#include "jpeg_internal.h"

enum { CONST_BITS = 13, PASS1_BITS = 2 };
#define FIX_0_298631336 2446
#define FIX_0_390180644 3196
#define FIX_0_541196100 4433
#define FIX_0_765366865 6270
#define FIX_0_899976223 7373
#define FIX_1_175875602 9633
#define FIX_1_501321110 12299
#define FIX_1_847759065 15137
#define FIX_1_961570560 16069
#define FIX_2_053119869 16819
#define FIX_2_562915447 20995
#define FIX_3_072711026 25172

static int64_t descale(int64_t x, int n) { return (x + ((int64_t)1 << (n - 1))) >> n; }

/* The sample: the IDCT's value plus 128, clamped to [0, 255]. libjpeg's C
 * code masks the value to 10 bits and looks it up in a table that wraps
 * beyond [-384, 383]; its SIMD IDCTs (what Pillow runs on x86 and ARM)
 * saturate instead, and that is what this does (golden overshoot_*.jpg). */
static uint8_t range_limit(int64_t x) {
  return (uint8_t)(x < -128 ? 0 : x > 127 ? 255 : x + 128);
}

/* The even and odd halves of the 8-point transform shared by both passes:
 * in[0..7] (already dequantized or from pass 1) -> out[0..7] before the
 * final descale. */
static void idct8(const int64_t* in, int64_t* out) {
  int64_t z2 = in[2], z3 = in[6];
  int64_t z1 = (z2 + z3) * FIX_0_541196100;
  int64_t tmp2 = z1 + z3 * -FIX_1_847759065, tmp3 = z1 + z2 * FIX_0_765366865;
  int64_t tmp0 = (in[0] + in[4]) * ((int64_t)1 << CONST_BITS), tmp1 = (in[0] - in[4]) * ((int64_t)1 << CONST_BITS);
  int64_t tmp10 = tmp0 + tmp3, tmp13 = tmp0 - tmp3, tmp11 = tmp1 + tmp2, tmp12 = tmp1 - tmp2;
  int64_t o0 = in[7], o1 = in[5], o2 = in[3], o3 = in[1];
  int64_t y1 = o0 + o3, y2 = o1 + o2, y3 = o0 + o2, y4 = o1 + o3;
  int64_t z5 = (y3 + y4) * FIX_1_175875602;
  o0 *= FIX_0_298631336;
  o1 *= FIX_2_053119869;
  o2 *= FIX_3_072711026;
  o3 *= FIX_1_501321110;
  y1 *= -FIX_0_899976223;
  y2 *= -FIX_2_562915447;
  y3 = y3 * -FIX_1_961570560 + z5;
  y4 = y4 * -FIX_0_390180644 + z5;
  o0 += y1 + y3;
  o1 += y2 + y4;
  o2 += y2 + y3;
  o3 += y1 + y4;
  out[0] = tmp10 + o3;
  out[7] = tmp10 - o3;
  out[1] = tmp11 + o2;
  out[6] = tmp11 - o2;
  out[2] = tmp12 + o1;
  out[5] = tmp12 - o1;
  out[3] = tmp13 + o0;
  out[4] = tmp13 - o0;
}

/* One block: columns, then rows, each with libjpeg's shortcut for all-zero
 * AC terms (which rounds the same way the full path would not). */
static void idct_block(const int16_t* coef, const uint16_t* q, uint8_t* out, int64_t stride) {
  int32_t ws[64];
  int64_t in[8], t[8];
  for (int c = 0; c < 8; c++) {
    bool ac = false;
    for (int r = 1; r < 8; r++) ac |= coef[r * 8 + c] != 0;
    if (!ac) {
      int32_t dc = (int32_t)((int64_t)coef[c] * q[c] * (1 << PASS1_BITS));
      for (int r = 0; r < 8; r++) ws[r * 8 + c] = dc;
      continue;
    }
    for (int r = 0; r < 8; r++) in[r] = (int64_t)coef[r * 8 + c] * q[r * 8 + c];
    idct8(in, t);
    for (int r = 0; r < 8; r++) ws[r * 8 + c] = (int32_t)descale(t[r], CONST_BITS - PASS1_BITS);
  }
  for (int r = 0; r < 8; r++) {
    const int32_t* w = ws + r * 8;
    uint8_t* o = out + r * stride;
    bool ac = false;
    for (int c = 1; c < 8; c++) ac |= w[c] != 0;
    if (!ac) {
      memset(o, range_limit(descale(w[0], PASS1_BITS + 3)), 8);
      continue;
    }
    for (int c = 0; c < 8; c++) in[c] = w[c];
    idct8(in, t);
    for (int c = 0; c < 8; c++) o[c] = range_limit(descale(t[c], CONST_BITS + PASS1_BITS + 3));
  }
}

/* A component's samples, bw*8 x bh*8 (edge blocks included). */
static uint8_t* component_plane(const jpeg_frame* f, const jpeg_component* c) {
  int64_t stride = c->bw * 8;
  uint8_t* p = malloc((size_t)stride * (size_t)c->bh * 8);
  if (!p) return NULL;
  for (int64_t by = 0; by < c->bh; by++)
    for (int64_t bx = 0; bx < c->bw; bx++)
      idct_block(c->coef + (by * c->bw + bx) * 64, c->quant, p + by * 8 * stride + bx * 8, stride);
  return p;
}

/* Row y of a component's plane upsampled to the image's width, into out:
 * libjpeg-turbo's h2v1 / h2v2 / h1v2 triangle filters where they apply
 * (vertical neighbours beyond the edge repeat the edge row), else copies. */
static void upsample_row(const jpeg_frame* f, const jpeg_component* c, const uint8_t* plane, int64_t y, uint8_t* out) {
  int rh = f->hmax / c->h, rv = f->vmax / c->v;
  int64_t stride = c->bw * 8, w = c->w, W = f->width;
  int64_t cy = y / rv;
  const uint8_t* row = plane + cy * stride;
  if (rv == 2) {
    /* Output row 2cy takes its second-nearest input row from above, 2cy+1 from below. */
    int64_t ny = (y & 1) ? (cy + 1 < c->hgt ? cy + 1 : cy) : (cy > 0 ? cy - 1 : 0);
    const uint8_t* near2 = plane + ny * stride;
    if (rh == 2 && w > 2) {
      int last = row[0] * 3 + near2[0], cur = last;
      for (int64_t x = 0; x < w; x++) {
        int next = x + 1 < w ? row[x + 1] * 3 + near2[x + 1] : cur;
        int even = x == 0 ? (cur * 4 + 8) >> 4 : (cur * 3 + last + 8) >> 4;
        int odd = x + 1 == w ? (cur * 4 + 7) >> 4 : (cur * 3 + next + 7) >> 4;
        if (2 * x < W) out[2 * x] = (uint8_t)even;
        if (2 * x + 1 < W) out[2 * x + 1] = (uint8_t)odd;
        last = cur;
        cur = next;
      }
      return;
    }
    if (rh == 1) {
      int bias = (y & 1) ? 2 : 1;
      for (int64_t x = 0; x < W; x++) out[x] = (uint8_t)((row[x] * 3 + near2[x] + bias) >> 2);
      return;
    }
  } else if (rv == 1 && rh == 2 && w > 2) {
    out[0] = row[0];
    out[1] = (uint8_t)((row[0] * 3 + row[1] + 2) >> 2);
    for (int64_t x = 1; x < w - 1; x++) {
      int v = row[x] * 3;
      if (2 * x < W) out[2 * x] = (uint8_t)((v + row[x - 1] + 1) >> 2);
      if (2 * x + 1 < W) out[2 * x + 1] = (uint8_t)((v + row[x + 1] + 2) >> 2);
    }
    int64_t x = w - 1;
    if (2 * x < W) out[2 * x] = (uint8_t)((row[x] * 3 + row[x - 1] + 1) >> 2);
    if (2 * x + 1 < W) out[2 * x + 1] = row[x];
    return;
  }
  for (int64_t x = 0; x < W; x++) out[x] = row[x / rh];
}

pfw_status pfw_jpeg_pixels(const jpeg_frame* f, size_t limit, pfw_image* img) {
  int ch = f->ncomp == 1 ? 1 : 3;
  /* One budget for the whole decode: the coefficients (f->used), the image,
   * a row of each component and the component planes. */
  size_t used = f->used;
  pfw_status st = pfw_image_alloc(img, "JPEG", f->width, f->height, ch, limit - used);
  if (st != PFW_OK) return st;
  used += (size_t)(f->width * f->height * ch);
  uint8_t* plane[3] = {NULL, NULL, NULL};
  uint8_t* rows = NULL;
  if ((uint64_t)f->width * 3 > limit - used)
    st = pfw_error(PFW_ERR_UNSUPPORTED, "JPEG: decoding a %lld x %lld image exceeds the memory limit of %zu bytes",
                   (long long)f->width, (long long)f->height, limit);
  else if ((rows = malloc((size_t)f->width * 3)))
    used += (size_t)f->width * 3;
  for (int i = 0; i < f->ncomp && rows && st == PFW_OK; i++) {
    uint64_t bytes = (uint64_t)f->comp[i].bw * (uint64_t)f->comp[i].bh * 64;
    if (bytes > limit - used) {
      st = pfw_error(PFW_ERR_UNSUPPORTED, "JPEG: decoding a %lld x %lld image exceeds the memory limit of %zu bytes",
                     (long long)f->width, (long long)f->height, limit);
      break;
    }
    used += (size_t)bytes;
    if (!(plane[i] = component_plane(f, &f->comp[i]))) break;
  }
  if (st == PFW_OK && (!rows || !plane[f->ncomp - 1])) st = pfw_error(PFW_ERR_OUT_OF_MEMORY, "JPEG: out of memory");
  /* YCbCr -> RGB as jdcolor.c: 16-bit fixed point, rounded per table entry. */
  enum { SCALEBITS = 16 };
  const int32_t ONE_HALF = 1 << (SCALEBITS - 1);
  for (int64_t y = 0; st == PFW_OK && y < f->height; y++) {
    uint8_t* out = img->pixels + y * f->width * ch;
    for (int i = 0; i < f->ncomp; i++) upsample_row(f, &f->comp[i], plane[i], y, rows + i * f->width);
    if (ch == 1) {
      memcpy(out, rows, (size_t)f->width);
      continue;
    }
    const uint8_t *c0 = rows, *c1 = rows + f->width, *c2 = rows + 2 * f->width;
    for (int64_t x = 0; x < f->width; x++) {
      if (f->rgb) {
        out[3 * x] = c0[x];
        out[3 * x + 1] = c1[x];
        out[3 * x + 2] = c2[x];
        continue;
      }
      int32_t yy = c0[x], cb = c1[x] - 128, cr = c2[x] - 128;
      int32_t r = yy + ((91881 * cr + ONE_HALF) >> SCALEBITS);
      int32_t g = yy + ((-22554 * cb + ONE_HALF - 46802 * cr) >> SCALEBITS);
      int32_t b = yy + ((116130 * cb + ONE_HALF) >> SCALEBITS);
      out[3 * x] = (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
      out[3 * x + 1] = (uint8_t)(g < 0 ? 0 : g > 255 ? 255 : g);
      out[3 * x + 2] = (uint8_t)(b < 0 ? 0 : b > 255 ? 255 : b);
    }
  }
  for (int i = 0; i < 3; i++) free(plane[i]);
  free(rows);
  if (st != PFW_OK) pfw_image_free(img);
  return st;
}
