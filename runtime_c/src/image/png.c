/* PNG (ISO/IEC 15948): every colour type and bit depth, Adam7 interlacing,
 * the five row filters. Critical chunks' CRCs are checked; ancillary chunks
 * (gamma, transparency, text...) are skipped, as PIL's convert("RGB") ignores
 * them. Samples below 8 bits are scaled to 0..255 (gray) or used as palette
 * indices; 16-bit samples keep their high byte. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

static uint32_t be32(const uint8_t* p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t crc32_of(const uint8_t* p, size_t n) {
  static const uint32_t NIBBLE[16] = {0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
                                      0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
                                      0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c};
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    c = (c >> 4) ^ NIBBLE[c & 15];
    c = (c >> 4) ^ NIBBLE[c & 15];
  }
  return c ^ 0xffffffffu;
}

static pfw_status bad(const char* why, size_t at) {
  return pfw_error(PFW_ERR_INVALID_ARGUMENT, "PNG: %s (byte offset %zu)", why, at);
}

typedef struct png {
  uint32_t width, height;
  int depth, color, interlace;
  int samples;        /* per pixel: 1 gray, 2 gray+alpha, 3 RGB / palette index... */
  uint8_t palette[256 * 3];
  int palette_size;
} png;

static int paeth(int a, int b, int c) {
  int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* Undoes the filters of a (w x h) sub-image stored at raw with `stride`
 * bytes a row plus its filter byte; rows end up at raw + 1 + y*(stride+1). */
static pfw_status unfilter(uint8_t* raw, size_t stride, uint32_t h, size_t bpp, size_t at) {
  for (uint32_t y = 0; y < h; y++) {
    uint8_t* row = raw + (size_t)y * (stride + 1);
    const uint8_t* up = y ? row - stride : NULL; /* previous row's pixels (after its filter byte) */
    uint8_t f = row[0];
    uint8_t* p = row + 1;
    switch (f) {
      case 0: break;
      case 1:
        for (size_t i = bpp; i < stride; i++) p[i] = (uint8_t)(p[i] + p[i - bpp]);
        break;
      case 2:
        if (up)
          for (size_t i = 0; i < stride; i++) p[i] = (uint8_t)(p[i] + up[i]);
        break;
      case 3:
        for (size_t i = 0; i < stride; i++)
          p[i] = (uint8_t)(p[i] + (((i >= bpp ? p[i - bpp] : 0) + (up ? up[i] : 0)) >> 1));
        break;
      case 4:
        for (size_t i = 0; i < stride; i++)
          p[i] = (uint8_t)(p[i] + paeth(i >= bpp ? p[i - bpp] : 0, up ? up[i] : 0, i >= bpp && up ? up[i - bpp] : 0));
        break;
      default: {
        char why[64];
        snprintf(why, sizeof why, "row %u of the image data has unknown filter type %u", (unsigned)y, (unsigned)f);
        return bad(why, at);
      }
    }
  }
  return PFW_OK;
}

/* Sample s of pixel x in an unfiltered row, as 0..255. */
static uint8_t sample(const png* g, const uint8_t* row, uint32_t x, int s) {
  if (g->depth == 16) return row[((size_t)x * (size_t)g->samples + (size_t)s) * 2];
  if (g->depth == 8) return row[(size_t)x * (size_t)g->samples + (size_t)s];
  /* 1, 2 or 4 bits, one sample a pixel (gray or palette), MSB first */
  size_t bit = (size_t)x * (size_t)g->depth;
  int v = (row[bit >> 3] >> (8 - g->depth - (int)(bit & 7))) & ((1 << g->depth) - 1);
  return (uint8_t)(g->color == 3 ? v : v * 255 / ((1 << g->depth) - 1));
}

/* Writes the pixels of an unfiltered (w x h) sub-image at (x0 + x*dx,
 * y0 + y*dy) of img. */
static pfw_status place(const png* g, const uint8_t* raw, size_t stride, uint32_t w, uint32_t h, uint32_t x0,
                        uint32_t y0, uint32_t dx, uint32_t dy, pfw_image* img, size_t at) {
  int ch = img->channels;
  for (uint32_t y = 0; y < h; y++) {
    const uint8_t* row = raw + (size_t)y * (stride + 1) + 1;
    uint8_t* out = img->pixels + ((size_t)(y0 + y * dy) * (size_t)img->width + x0) * (size_t)ch;
    for (uint32_t x = 0; x < w; x++, out += (size_t)dx * (size_t)ch) {
      if (g->color == 3) {
        uint8_t i = sample(g, row, x, 0);
        if (i >= g->palette_size) {
          char why[96];
          snprintf(why, sizeof why, "pixel (%u, %u) has palette index %u, past the %d-entry palette",
                   (unsigned)(x0 + x * dx), (unsigned)(y0 + y * dy), (unsigned)i, g->palette_size);
          return bad(why, at);
        }
        memcpy(out, g->palette + 3 * i, 3);
      } else {
        for (int c = 0; c < ch; c++) out[c] = sample(g, row, x, c); /* alpha, the last sample, is dropped */
      }
    }
  }
  return PFW_OK;
}

/* Bytes of one row of w pixels, without its filter byte (< 2^35: 64-bit
 * arithmetic, so a 32-bit size_t never wraps; callers check the limit). */
static uint64_t row_bytes(const png* g, uint32_t w) {
  return ((uint64_t)w * (uint64_t)g->samples * (uint64_t)g->depth + 7) / 8;
}

static const uint8_t ADAM7[7][4] = {{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4},
                                    {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}}; /* x0, y0, dx, dy */

static void pass_size(const png* g, int p, uint32_t* w, uint32_t* h) {
  if (!g->interlace) {
    *w = g->width;
    *h = g->height;
    return;
  }
  const uint8_t* a = ADAM7[p];
  *w = g->width > a[0] ? (g->width - a[0] + a[2] - 1) / a[2] : 0;
  *h = g->height > a[1] ? (g->height - a[1] + a[3] - 1) / a[3] : 0;
}

static pfw_status read_header(const uint8_t* d, uint32_t len, png* g) {
  if (len != 13) return bad("IHDR is not 13 bytes long", 8);
  g->width = be32(d);
  g->height = be32(d + 4);
  g->depth = d[8];
  g->color = d[9];
  g->interlace = d[12];
  if (!g->width || !g->height || g->width > 0x7fffffffu || g->height > 0x7fffffffu)
    return bad("IHDR gives a zero or out-of-range width or height", 16);
  static const int SAMPLES[7] = {1, 0, 3, 1, 2, 0, 4};
  bool ok = g->color <= 6 && SAMPLES[g->color];
  if (ok) {
    int dep = g->depth;
    bool pow2 = dep == 1 || dep == 2 || dep == 4 || dep == 8 || dep == 16;
    ok = pow2 && (g->color == 0 || (g->color == 3 ? dep <= 8 : dep >= 8));
  }
  if (!ok) {
    char why[80];
    snprintf(why, sizeof why, "IHDR has colour type %d with bit depth %d, which PNG does not define", g->color,
             g->depth);
    return bad(why, 24);
  }
  if (d[10] || d[11] || g->interlace > 1) return bad("IHDR names an unknown compression, filter or interlace method", 26);
  g->samples = SAMPLES[g->color];
  return PFW_OK;
}

pfw_status pfw_decode_png(const uint8_t* data, size_t size, size_t limit, pfw_image* img) {
  static const uint8_t SIG[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  memset(img, 0, sizeof *img);
  if (size < 8 || memcmp(data, SIG, 8)) return bad("the stream does not start with PNG's signature", 0);
  png g;
  memset(&g, 0, sizeof g);
  uint8_t* idat = NULL;
  size_t idat_size = 0, idat_at = 0;
  bool header = false, ended = false;
  pfw_status st = PFW_OK;
  /* Chunks: length, type, data, CRC. IDAT data is gathered into one buffer
   * (at most the file's size) for the inflater. */
  for (size_t at = 8; !ended && st == PFW_OK;) {
    if (size - at < 12) {
      st = bad("the stream ends before the IEND chunk", at);
      break;
    }
    uint32_t len = be32(data + at);
    const uint8_t* type = data + at + 4;
    if (len > 0x7fffffffu || len > size - at - 12) {
      st = bad("a chunk's length runs past the end of the stream", at);
      break;
    }
    bool critical = !(type[0] & 0x20);
    if (critical && crc32_of(type, (size_t)len + 4) != be32(type + 4 + len)) {
      char why[64];
      snprintf(why, sizeof why, "chunk %.4s has a bad CRC", (const char*)type);
      st = bad(why, at);
      break;
    }
    const uint8_t* body = type + 4;
    if (!memcmp(type, "IHDR", 4)) {
      st = header ? bad("a second IHDR chunk", at) : read_header(body, len, &g);
      header = true;
    } else if (!header) {
      st = bad("the first chunk is not IHDR", at);
    } else if (!memcmp(type, "PLTE", 4)) {
      if (len % 3 || !len || len > 768) st = bad("PLTE's length is not 3 to 768 bytes, a multiple of 3", at);
      memcpy(g.palette, body, len <= 768 ? len : 0);
      g.palette_size = (int)(len / 3);
    } else if (!memcmp(type, "IDAT", 4)) {
      if (!idat) {
        if (size > limit) st = pfw_error(PFW_ERR_UNSUPPORTED, "PNG: a %zu-byte stream exceeds the memory limit", size);
        else if (!(idat = malloc(size))) st = pfw_error(PFW_ERR_OUT_OF_MEMORY, "PNG: out of memory");
        idat_at = at;
      }
      if (idat) memcpy(idat + idat_size, body, len), idat_size += len;
    } else if (!memcmp(type, "IEND", 4)) {
      ended = true;
    } else if (critical) {
      char why[64];
      snprintf(why, sizeof why, "unknown critical chunk %.4s", (const char*)type);
      st = pfw_error(PFW_ERR_UNSUPPORTED, "PNG: %s (byte offset %zu)", why, at);
    }
    at += (size_t)len + 12;
  }
  if (st == PFW_OK && !idat) st = bad("no IDAT chunk holds image data", 8);
  if (st == PFW_OK && g.color == 3 && !g.palette_size) st = bad("a palette image has no PLTE chunk", 8);
  int channels = g.color == 0 || g.color == 4 ? 1 : 3;
  /* One budget for the decode: the gathered IDAT data (at most the file),
   * the image and the inflated rows. */
  if (st == PFW_OK) st = pfw_image_alloc(img, "PNG", g.width, g.height, channels, limit - size);
  size_t budget = st == PFW_OK ? limit - size - (size_t)(img->width * img->height * channels) : 0;
  /* Raw size: every pass's rows, each with its filter byte. */
  size_t raw_size = 0;
  for (int p = 0; st == PFW_OK && p < (g.interlace ? 7 : 1); p++) {
    uint32_t w, h;
    pass_size(&g, p, &w, &h);
    if (!w || !h) continue;
    uint64_t rb = row_bytes(&g, w) + 1;
    if (rb > (budget - raw_size) / h)
      st = pfw_error(PFW_ERR_UNSUPPORTED, "PNG: the image data of a %u x %u image exceeds the memory limit of %zu bytes",
                     (unsigned)g.width, (unsigned)g.height, limit);
    else raw_size += (size_t)(rb * h);
  }
  uint8_t* raw = NULL;
  if (st == PFW_OK && !(raw = malloc(raw_size))) st = pfw_error(PFW_ERR_OUT_OF_MEMORY, "PNG: out of memory");
  size_t got = 0;
  if (st == PFW_OK) st = pfw_zlib_inflate("PNG IDAT (the IDAT chunks' data joined)", idat, idat_size, raw, raw_size, &got);
  if (st == PFW_OK && got != raw_size) {
    char why[96];
    snprintf(why, sizeof why, "the image data inflates to %zu bytes where the image needs %zu", got, raw_size);
    st = bad(why, idat_at);
  }
  size_t bpp = ((size_t)g.samples * (size_t)g.depth + 7) / 8;
  uint8_t* pass = raw;
  for (int p = 0; st == PFW_OK && p < (g.interlace ? 7 : 1); p++) {
    uint32_t w, h;
    pass_size(&g, p, &w, &h);
    if (!w || !h) continue;
    size_t stride = (size_t)row_bytes(&g, w); /* fits: the whole pass fit the budget */
    const uint8_t* a = g.interlace ? ADAM7[p] : (const uint8_t[4]){0, 0, 1, 1};
    st = unfilter(pass, stride, h, bpp, idat_at);
    if (st == PFW_OK) st = place(&g, pass, stride, w, h, a[0], a[1], a[2], a[3], img, idat_at);
    pass += (stride + 1) * h;
  }
  free(raw);
  free(idat);
  if (st != PFW_OK) pfw_image_free(img);
  return st;
}
