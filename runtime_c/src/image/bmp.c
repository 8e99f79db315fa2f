/* Windows BMP decoder: BITMAPCOREHEADER (12 bytes), BITMAPINFOHEADER (40)
 * and its V2..V5 extensions (52, 56, 108, 124; the OS/2 2.x 64-byte header is
 * read as its first 40 bytes). 1/2/4/8-bit palettes, 16/32-bit with BI_RGB or
 * BI_(ALPHA)BITFIELDS masks, 24-bit BGR, RLE8 and RLE4.
 *
 * On any error after pfw_image_alloc the decoder frees the image, so the
 * caller never sees half an image. */
#include <stdlib.h>

#include "image.h"

static uint32_t rd16(const uint8_t* p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t rd32(const uint8_t* p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

enum { BI_RGB = 0, BI_RLE8 = 1, BI_RLE4 = 2, BI_BITFIELDS = 3, BI_JPEG = 4, BI_PNG = 5, BI_ALPHABITFIELDS = 6 };

/* One colour channel of a 16/32-bit pixel: a contiguous bit mask, scaled to
 * 8 bits as value * 255 / max, rounded down (PIL's BGR;15 and BGR;16
 * unpackers truncate: 5-bit 3 gives 24, not 25). */
typedef struct {
  uint32_t mask;
  int shift;
  uint32_t max;
} bmp_field;

static pfw_status bmp_field_init(bmp_field* f, uint32_t mask, int bpp, const char* name) {
  f->mask = mask;
  f->shift = 0;
  f->max = 0;
  if (mask == 0) return PFW_OK; /* channel absent: reads as 0 */
  if (bpp < 32 && (mask >> bpp) != 0)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "BMP: %s mask 0x%08x has bits beyond the %d-bit pixel (byte offset 54)",
                     name, (unsigned)mask, bpp);
  while (!((mask >> f->shift) & 1u)) f->shift++;
  uint32_t m = mask >> f->shift;
  if ((m & (m + 1u)) != 0) /* not of the form 0..01..1 */
    return pfw_error(PFW_ERR_UNSUPPORTED, "BMP: non-contiguous %s bit mask 0x%08x", name, (unsigned)mask);
  f->max = m;
  return PFW_OK;
}

static uint8_t bmp_field_get(const bmp_field* f, uint32_t v) {
  if (f->max == 0) return 0;
  uint64_t x = (v & f->mask) >> f->shift;
  return (uint8_t)(x * 255u / f->max);
}

/* Runs RLE8/RLE4 data into idx (width * height palette indices, file row
 * order, zero-filled so pixels never written stay index 0). Indices are
 * checked against the palette as they are written. */
static pfw_status bmp_rle(const uint8_t* data, size_t size, size_t pos, bool rle4, int64_t w, int64_t h,
                          uint32_t ncolors, uint8_t* idx) {
  int64_t x = 0, y = 0;
  while (y < h) {
    if (pos + 2 > size) return PFW_OK; /* no end-of-bitmap marker: keep what was decoded (as PIL does) */
    size_t at = pos;
    uint32_t n = data[pos], b = data[pos + 1];
    pos += 2;
    if (n > 0) { /* encoded run: n pixels of one index (RLE4: two alternating nibbles) */
      for (uint32_t k = 0; k < n; k++, x++) {
        uint32_t v = rle4 ? ((k & 1u) ? (b & 15u) : (b >> 4)) : b;
        if (x >= w) continue; /* runs past the row are clipped */
        if (v >= ncolors)
          return pfw_error(PFW_ERR_INVALID_ARGUMENT,
                           "BMP: RLE palette index %u beyond the %u-entry palette (byte offset %zu)", (unsigned)v,
                           (unsigned)ncolors, at);
        idx[y * w + x] = (uint8_t)v;
      }
    } else if (b == 0) { /* end of line */
      x = 0;
      y++;
    } else if (b == 1) { /* end of bitmap */
      return PFW_OK;
    } else if (b == 2) { /* delta: move right and up (toward later file rows) */
      if (pos + 2 > size)
        return pfw_error(PFW_ERR_INVALID_ARGUMENT, "BMP: RLE delta escape cut off by the end of the stream "
                         "(byte offset %zu of %zu)", at, size);
      x += data[pos];
      y += data[pos + 1];
      pos += 2;
    } else { /* absolute run of b pixels, padded to a 16-bit boundary */
      size_t nbytes = rle4 ? (b + 1u) / 2u : b;
      size_t padded = (nbytes + 1u) & ~(size_t)1;
      if (nbytes > size - pos)
        return pfw_error(PFW_ERR_INVALID_ARGUMENT, "BMP: RLE absolute run of %u pixels runs past the end of the stream "
                         "(byte offset %zu of %zu)", (unsigned)b, at, size);
      for (uint32_t k = 0; k < b; k++, x++) {
        uint32_t byte = data[pos + (rle4 ? k / 2u : k)];
        uint32_t v = rle4 ? ((k & 1u) ? (byte & 15u) : (byte >> 4)) : byte;
        if (x >= w) continue;
        if (v >= ncolors)
          return pfw_error(PFW_ERR_INVALID_ARGUMENT,
                           "BMP: RLE palette index %u beyond the %u-entry palette (byte offset %zu)", (unsigned)v,
                           (unsigned)ncolors, pos + (rle4 ? k / 2u : k));
        idx[y * w + x] = (uint8_t)v;
      }
      pos += padded <= size - pos ? padded : nbytes;
    }
  }
  return PFW_OK;
}

pfw_status pfw_decode_bmp(const uint8_t* data, size_t size, size_t limit, pfw_image* img) {
  if (size < 26 || data[0] != 'B' || data[1] != 'M')
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "BMP: stream of %zu bytes is too short or lacks the 'BM' signature",
                     size);
  uint32_t off_bits = rd32(data + 10);
  uint32_t hsize = rd32(data + 14);
  if (hsize != 12 && hsize != 40 && hsize != 52 && hsize != 56 && hsize != 64 && hsize != 108 && hsize != 124)
    return pfw_error(PFW_ERR_UNSUPPORTED, "BMP: unsupported header size %u (byte offset 14); supported are 12, 40, "
                     "52, 56, 64, 108 and 124", (unsigned)hsize);
  if (14u + (size_t)hsize > size)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "BMP: %u-byte header runs past the end of the stream (byte offset 14 "
                     "of %zu)", (unsigned)hsize, size);
  const uint8_t* hd = data + 14;
  bool core = hsize == 12;
  int64_t w, h;
  uint32_t bpp, comp = BI_RGB, clr_used = 0;
  if (core) { /* OS/2 1.x: unsigned 16-bit sizes, always bottom-up */
    w = rd16(hd + 4);
    h = rd16(hd + 6);
    bpp = rd16(hd + 10);
  } else {
    w = (int32_t)rd32(hd + 4);
    h = (int32_t)rd32(hd + 8);
    bpp = rd16(hd + 14);
    comp = rd32(hd + 16);
    clr_used = rd32(hd + 32);
  }
  bool top_down = h < 0;
  if (top_down) h = -h; /* int64: INT32_MIN negates fine */
  if (w <= 0 || h == 0)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "BMP: invalid image size %lld x %lld (byte offset 18)", (long long)w,
                     (long long)h);

  if (bpp != 1 && bpp != 2 && bpp != 4 && bpp != 8 && bpp != 16 && bpp != 24 && bpp != 32)
    return pfw_error(PFW_ERR_UNSUPPORTED, "BMP: unsupported bit count %u (byte offset %d)", (unsigned)bpp,
                     core ? 24 : 28);
  bool bad_comp;
  switch (comp) {
    case BI_RGB: bad_comp = false; break;
    case BI_RLE8: bad_comp = bpp != 8; break;
    case BI_RLE4: bad_comp = bpp != 4; break;
    case BI_BITFIELDS:
    case BI_ALPHABITFIELDS: bad_comp = (bpp != 16 && bpp != 32) || hsize == 64; /* 64: OS/2 Huffman */ break;
    default: bad_comp = true;
  }
  if (bad_comp)
    return pfw_error(PFW_ERR_UNSUPPORTED, "BMP: unsupported compression %u%s with bit count %u (byte offset 30)",
                     (unsigned)comp, comp == BI_JPEG ? " (embedded JPEG)" : comp == BI_PNG ? " (embedded PNG)" : "",
                     (unsigned)bpp);

  /* Colour masks: in the V2+ header, else right after the 40-byte header;
   * either way at file offset 54. */
  bmp_field fr = {0, 0, 0}, fg = fr, fb = fr;
  size_t extra = 0; /* mask bytes between a 40-byte header and the palette */
  if (bpp == 16 || bpp == 32) {
    uint32_t mr = bpp == 16 ? 0x7c00u : 0xff0000u, mg = bpp == 16 ? 0x3e0u : 0xff00u, mb = bpp == 16 ? 0x1fu : 0xffu;
    if (comp == BI_BITFIELDS || comp == BI_ALPHABITFIELDS) {
      if (hsize == 40) extra = comp == BI_ALPHABITFIELDS ? 16 : 12;
      if (54u + 12u > size)
        return pfw_error(PFW_ERR_INVALID_ARGUMENT, "BMP: bit field masks run past the end of the stream (byte offset "
                         "54 of %zu)", size);
      mr = rd32(data + 54);
      mg = rd32(data + 58);
      mb = rd32(data + 62);
    }
    pfw_status st;
    if ((st = bmp_field_init(&fr, mr, (int)bpp, "red")) != PFW_OK) return st;
    if ((st = bmp_field_init(&fg, mg, (int)bpp, "green")) != PFW_OK) return st;
    if ((st = bmp_field_init(&fb, mb, (int)bpp, "blue")) != PFW_OK) return st;
  }

  /* Palette (bit counts up to 8): ClrUsed entries, else 2^bpp; entries past
   * 2^bpp could never be indexed and are not read. */
  uint8_t pal[256][3];
  uint32_t ncolors = 0;
  int channels = 3;
  if (bpp <= 8) {
    uint32_t maxc = 1u << bpp;
    ncolors = clr_used != 0 && clr_used < maxc ? clr_used : maxc;
    size_t esz = core ? 3 : 4;
    size_t poff = 14u + (size_t)hsize + extra;
    if (poff > size || (size - poff) / esz < ncolors)
      return pfw_error(PFW_ERR_INVALID_ARGUMENT, "BMP: %u-entry palette runs past the end of the stream (byte offset "
                       "%zu of %zu)", (unsigned)ncolors, poff, size);
    bool gray = true;
    for (uint32_t i = 0; i < ncolors; i++) {
      const uint8_t* e = data + poff + i * esz;
      pal[i][0] = e[2];
      pal[i][1] = e[1];
      pal[i][2] = e[0];
      gray = gray && e[0] == e[1] && e[1] == e[2];
    }
    if (gray) channels = 1; /* PIL opens such files as "1"/"L": same values */
  }

  if (off_bits >= size)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "BMP: pixel data offset %u is past the end of the stream (byte "
                     "offset 10, stream of %zu bytes)", (unsigned)off_bits, size);

  /* Uncompressed rows of w * bpp bits padded to 4 bytes, checked before
   * allocating so a short file cannot claim a huge image. w < 2^31 and
   * bpp <= 32 keep the stride below 2^35, so only stride * (h - 1) needs
   * care. The last row may lack its padding. */
  bool rle = comp == BI_RLE8 || comp == BI_RLE4;
  uint64_t row_bytes = ((uint64_t)w * bpp + 7u) / 8u;
  uint64_t stride = ((uint64_t)w * bpp + 31u) / 32u * 4u;
  uint64_t avail = size - off_bits;
  if (!rle && ((uint64_t)(h - 1) > avail / stride || stride * (uint64_t)(h - 1) + row_bytes > avail))
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "BMP: pixel data of %lld rows of %llu bytes runs past the end of the "
                     "stream (byte offset %u of %zu)", (long long)h, (unsigned long long)stride, (unsigned)off_bits,
                     size);

  pfw_status st = pfw_image_alloc(img, "BMP", w, h, channels, limit);
  if (st != PFW_OK) return st;
  uint8_t* out = img->pixels;

  if (rle) {
    /* w * h * channels fit the limit, so the w * h index buffer does too. */
    uint8_t* idx = calloc((size_t)w, (size_t)h);
    if (!idx) {
      pfw_image_free(img);
      return pfw_error(PFW_ERR_OUT_OF_MEMORY, "BMP: no memory for a %lld x %lld RLE index buffer", (long long)w,
                       (long long)h);
    }
    st = bmp_rle(data, size, off_bits, comp == BI_RLE4, w, h, ncolors, idx);
    if (st == PFW_OK) {
      for (int64_t i = 0; i < h; i++) {
        int64_t y = top_down ? i : h - 1 - i;
        const uint8_t* src = idx + i * w;
        uint8_t* dst = out + y * w * channels;
        for (int64_t x = 0; x < w; x++)
          for (int c = 0; c < channels; c++) *dst++ = pal[src[x]][c];
      }
    }
    free(idx);
    if (st != PFW_OK) pfw_image_free(img);
    return st;
  }

  for (int64_t i = 0; i < h; i++) {
    size_t roff = off_bits + (size_t)(stride * (uint64_t)i);
    const uint8_t* src = data + roff;
    int64_t y = top_down ? i : h - 1 - i;
    uint8_t* dst = out + y * w * channels;
    if (bpp <= 8) {
      uint32_t per_byte = 8u / bpp, mask = (1u << bpp) - 1u;
      for (int64_t x = 0; x < w; x++) {
        uint32_t byte = src[x / per_byte];
        uint32_t v = (byte >> (8u - bpp - (uint32_t)(x % per_byte) * bpp)) & mask;
        if (v >= ncolors) {
          pfw_image_free(img);
          return pfw_error(PFW_ERR_INVALID_ARGUMENT, "BMP: palette index %u beyond the %u-entry palette (byte offset "
                           "%zu)", (unsigned)v, (unsigned)ncolors, roff + (size_t)(x / per_byte));
        }
        for (int c = 0; c < channels; c++) *dst++ = pal[v][c];
      }
    } else if (bpp == 24) {
      for (int64_t x = 0; x < w; x++, src += 3, dst += 3) {
        dst[0] = src[2];
        dst[1] = src[1];
        dst[2] = src[0];
      }
    } else {
      for (int64_t x = 0; x < w; x++, dst += 3) {
        uint32_t v = bpp == 16 ? rd16(src) : rd32(src);
        src += bpp / 8;
        dst[0] = bmp_field_get(&fr, v);
        dst[1] = bmp_field_get(&fg, v);
        dst[2] = bmp_field_get(&fb, v);
      }
    }
  }
  return PFW_OK;
}
