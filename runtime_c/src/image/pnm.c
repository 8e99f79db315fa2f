/* Netpbm decoder: P1/P4 (bitmaps), P2/P5 (graymaps), P3/P6 (pixmaps), plain
 * (ASCII) and raw (binary), and P7 (PAM) with the standard tuple types.
 * Samples are scaled from 0..maxval to 0..255 as PIL does (see pnm_scale);
 * raw samples are 2 bytes, big-endian, when maxval > 255.
 *
 * On any error after pfw_image_alloc the decoder frees the image, so the
 * caller never sees half an image. */
#include <string.h>

#include "image.h"

typedef struct {
  const uint8_t* data;
  size_t size, pos;
} pnm_reader;

static bool pnm_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

/* Skips whitespace and comments ('#' to the end of the line). */
static void pnm_skip(pnm_reader* r) {
  while (r->pos < r->size) {
    uint8_t c = r->data[r->pos];
    if (c == '#') {
      while (r->pos < r->size && r->data[r->pos] != '\n' && r->data[r->pos] != '\r') r->pos++;
    } else if (pnm_space(c)) {
      r->pos++;
    } else {
      return;
    }
  }
}

/* Reads an unsigned decimal number after whitespace and comments; `what`
 * names it in errors. Values above 2^31 - 1 are refused. */
static pfw_status pnm_number(pnm_reader* r, const char* fmt, const char* what, int64_t* v) {
  pnm_skip(r);
  size_t start = r->pos;
  int64_t x = 0;
  while (r->pos < r->size && r->data[r->pos] >= '0' && r->data[r->pos] <= '9') {
    x = x * 10 + (r->data[r->pos] - '0');
    if (x > INT32_MAX)
      return pfw_error(PFW_ERR_INVALID_ARGUMENT, "%s: %s is too large (byte offset %zu)", fmt, what, start);
    r->pos++;
  }
  if (r->pos == start) {
    if (r->pos >= r->size)
      return pfw_error(PFW_ERR_INVALID_ARGUMENT, "%s: stream ends before the %s (byte offset %zu)", fmt, what, start);
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "%s: expected the %s as a decimal number, found byte 0x%02x (byte "
                     "offset %zu)", fmt, what, r->data[start], start);
  }
  if (r->pos < r->size && !pnm_space(r->data[r->pos]) && r->data[r->pos] != '#')
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "%s: %s is followed by byte 0x%02x instead of whitespace (byte "
                     "offset %zu)", fmt, what, r->data[r->pos], r->pos);
  *v = x;
  return PFW_OK;
}

/* The single whitespace byte (or a comment through its line end) that ends
 * the header of a raw format. */
static pfw_status pnm_end_header(pnm_reader* r, const char* fmt) {
  if (r->pos < r->size && r->data[r->pos] == '#') {
    while (r->pos < r->size && r->data[r->pos] != '\n' && r->data[r->pos] != '\r') r->pos++;
  }
  if (r->pos >= r->size)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "%s: stream ends after the header, no pixel data (byte offset %zu)",
                     fmt, r->pos);
  r->pos++;
  return PFW_OK;
}

/* v / maxval * 255 in doubles, rounded half to even: exactly PIL's
 * round(v / maxval * 255), which (v * 255 + maxval / 2) / maxval misses on
 * ties (maxval 6, v 1: 42.5 gives 42). */
static uint8_t pnm_scale(uint32_t v, uint32_t maxval) {
  if (maxval == 255) return (uint8_t)v;
  double x = (double)v / (double)maxval * 255.0;
  uint32_t i = (uint32_t)x;
  double frac = x - (double)i;
  if (frac > 0.5 || (frac == 0.5 && (i & 1u))) i++;
  return (uint8_t)i;
}

/* Raw samples: h rows of w pixels of `depth` samples, the first `channels`
 * of which are kept. */
static pfw_status pnm_raw(pnm_reader* r, const char* fmt, int64_t w, int64_t h, int depth, int channels,
                          uint32_t maxval, uint8_t* out) {
  uint64_t bps = maxval > 255 ? 2 : 1;
  uint64_t avail = r->size - r->pos;
  /* w, h < 2^31 and depth * bps <= 8*2: w * depth * bps < 2^36, no overflow. */
  uint64_t row = (uint64_t)w * (uint64_t)depth * bps;
  if ((uint64_t)h > avail / row)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "%s: %lld rows of %llu bytes of pixel data run past the end of the "
                     "stream (byte offset %zu of %zu)", fmt, (long long)h, (unsigned long long)row, r->pos, r->size);
  const uint8_t* p = r->data + r->pos;
  for (int64_t i = 0; i < w * h; i++) {
    for (int s = 0; s < depth; s++, p += bps) {
      uint32_t v = bps == 2 ? (uint32_t)p[0] << 8 | p[1] : p[0];
      if (v > maxval)
        return pfw_error(PFW_ERR_INVALID_ARGUMENT, "%s: sample %u exceeds maxval %u (byte offset %zu)", fmt,
                         (unsigned)v, (unsigned)maxval, (size_t)(p - r->data));
      if (s < channels) *out++ = pnm_scale(v, maxval);
    }
  }
  return PFW_OK;
}

/* Plain P2/P3 samples: decimal numbers separated by whitespace or comments. */
static pfw_status pnm_plain(pnm_reader* r, const char* fmt, size_t n, uint32_t maxval, uint8_t* out) {
  for (size_t i = 0; i < n; i++) {
    int64_t v;
    pfw_status st = pnm_number(r, fmt, "sample", &v);
    if (st != PFW_OK) return st;
    if (v > (int64_t)maxval)
      return pfw_error(PFW_ERR_INVALID_ARGUMENT, "%s: sample %lld exceeds maxval %u (byte offset %zu)", fmt,
                       (long long)v, (unsigned)maxval, r->pos);
    out[i] = pnm_scale((uint32_t)v, maxval);
  }
  return PFW_OK;
}

/* PAM header: "KEYWORD value" lines up to ENDHDR. */
static pfw_status pnm_pam_header(pnm_reader* r, int64_t* w, int64_t* h, int64_t* depth, int64_t* maxval,
                                 int* channels) {
  const char* fmt = "PAM";
  char tupl[32] = "";
  *w = *h = *depth = *maxval = -1;
  for (;;) {
    pnm_skip(r);
    size_t start = r->pos;
    while (r->pos < r->size && !pnm_space(r->data[r->pos])) r->pos++;
    size_t len = r->pos - start;
    const char* kw = (const char*)r->data + start;
    if (len == 0)
      return pfw_error(PFW_ERR_INVALID_ARGUMENT, "PAM: stream ends before ENDHDR (byte offset %zu)", start);
    pfw_status st = PFW_OK;
    if (len == 6 && !memcmp(kw, "ENDHDR", 6)) {
      /* the header ends with the line's newline */
      while (r->pos < r->size && r->data[r->pos] != '\n') r->pos++;
      if (r->pos < r->size) r->pos++;
      break;
    } else if (len == 5 && !memcmp(kw, "WIDTH", 5)) {
      st = pnm_number(r, fmt, "WIDTH", w);
    } else if (len == 6 && !memcmp(kw, "HEIGHT", 6)) {
      st = pnm_number(r, fmt, "HEIGHT", h);
    } else if (len == 5 && !memcmp(kw, "DEPTH", 5)) {
      st = pnm_number(r, fmt, "DEPTH", depth);
    } else if (len == 6 && !memcmp(kw, "MAXVAL", 6)) {
      st = pnm_number(r, fmt, "MAXVAL", maxval);
    } else if (len == 8 && !memcmp(kw, "TUPLTYPE", 8)) {
      while (r->pos < r->size && (r->data[r->pos] == ' ' || r->data[r->pos] == '\t')) r->pos++;
      size_t ts = r->pos;
      while (r->pos < r->size && !pnm_space(r->data[r->pos])) r->pos++;
      size_t tl = r->pos - ts < sizeof tupl - 1 ? r->pos - ts : sizeof tupl - 1;
      memcpy(tupl, r->data + ts, tl);
      tupl[tl] = 0;
    } else {
      return pfw_error(PFW_ERR_INVALID_ARGUMENT, "PAM: unknown header keyword '%.*s' (byte offset %zu)",
                       (int)(len < 20 ? len : 20), kw, start);
    }
    if (st != PFW_OK) return st;
  }
  if (*w < 0 || *h < 0 || *depth < 0 || *maxval < 0)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "PAM: header lacks %s (byte offset %zu)",
                     *w < 0 ? "WIDTH" : *h < 0 ? "HEIGHT" : *depth < 0 ? "DEPTH" : "MAXVAL", r->pos);
  /* Tuple types name the samples; without one, the depth decides. */
  static const struct { const char* name; int depth, channels; } types[] = {
      {"BLACKANDWHITE", 1, 1}, {"GRAYSCALE", 1, 1}, {"RGB", 3, 3}, {"BLACKANDWHITE_ALPHA", 2, 1},
      {"GRAYSCALE_ALPHA", 2, 1}, {"RGB_ALPHA", 4, 3}, {"", 1, 1}, {"", 2, 1}, {"", 3, 3}, {"", 4, 3}};
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
    if (!strcmp(tupl, types[i].name) && *depth == types[i].depth) {
      *channels = types[i].channels;
      return PFW_OK;
    }
  }
  return pfw_error(PFW_ERR_UNSUPPORTED, "PAM: unsupported TUPLTYPE '%s' with DEPTH %lld", tupl, (long long)*depth);
}

pfw_status pfw_decode_pnm(const uint8_t* data, size_t size, size_t limit, pfw_image* img) {
  if (size < 3 || data[0] != 'P' || data[1] < '1' || data[1] > '7' || !pnm_space(data[2]))
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "PNM: stream lacks a P1..P7 signature (byte offset 0)");
  int kind = data[1] - '0';
  static const char* const names[] = {"", "PBM", "PGM", "PPM", "PBM", "PGM", "PPM", "PAM"};
  const char* fmt = names[kind];
  pnm_reader r = {data, size, 2};
  int64_t w, h, maxval = 1, depth;
  int channels = 1;
  pfw_status st;
  if (kind == 7) {
    if ((st = pnm_pam_header(&r, &w, &h, &depth, &maxval, &channels)) != PFW_OK) return st;
  } else {
    if ((st = pnm_number(&r, fmt, "width", &w)) != PFW_OK) return st;
    if ((st = pnm_number(&r, fmt, "height", &h)) != PFW_OK) return st;
    if (kind != 1 && kind != 4 && (st = pnm_number(&r, fmt, "maxval", &maxval)) != PFW_OK) return st;
    channels = kind == 3 || kind == 6 ? 3 : 1;
    depth = channels;
  }
  if (w <= 0 || h <= 0)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "%s: invalid image size %lld x %lld", fmt, (long long)w, (long long)h);
  if (maxval < 1 || maxval > 65535)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "%s: maxval %lld is outside 1..65535", fmt, (long long)maxval);
  if (kind >= 4 && kind <= 6 && (st = pnm_end_header(&r, fmt)) != PFW_OK) return st;

  /* Every sample takes at least a byte (P4: a bit) of the stream: refuse a
   * short stream before allocating a huge image for it. */
  uint64_t min_bytes = kind == 4 ? ((uint64_t)w + 7u) / 8u * (uint64_t)h : (uint64_t)w * (uint64_t)h * (uint64_t)depth;
  if (min_bytes > r.size - r.pos)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "%s: %lld x %lld image needs at least %llu bytes of pixel data, %zu "
                     "remain (byte offset %zu)", fmt, (long long)w, (long long)h, (unsigned long long)min_bytes,
                     r.size - r.pos, r.pos);
  if ((st = pfw_image_alloc(img, fmt, w, h, channels, limit)) != PFW_OK) return st;
  uint8_t* out = img->pixels;
  size_t n = (size_t)(w * h); /* w * h * channels fit in memory already */

  switch (kind) {
    case 1: /* plain bitmap: one '0'/'1' character per pixel, whitespace optional */
      for (size_t i = 0; i < n && st == PFW_OK; i++) {
        pnm_skip(&r);
        if (r.pos >= r.size)
          st = pfw_error(PFW_ERR_INVALID_ARGUMENT, "PBM: stream ends after %zu of %zu pixels (byte offset %zu)", i, n,
                         r.pos);
        else if (r.data[r.pos] != '0' && r.data[r.pos] != '1')
          st = pfw_error(PFW_ERR_INVALID_ARGUMENT, "PBM: expected '0' or '1', found byte 0x%02x (byte offset %zu)",
                         r.data[r.pos], r.pos);
        else
          out[i] = r.data[r.pos++] == '1' ? 0 : 255; /* 1 is black */
      }
      break;
    case 2:
    case 3:
      st = pnm_plain(&r, fmt, n * (size_t)channels, (uint32_t)maxval, out);
      break;
    case 4: { /* raw bitmap: rows padded to whole bytes, 1 is black */
      uint64_t row = ((uint64_t)w + 7u) / 8u;
      if ((uint64_t)h > (r.size - r.pos) / row) {
        st = pfw_error(PFW_ERR_INVALID_ARGUMENT, "PBM: %lld rows of %llu bytes run past the end of the stream (byte "
                       "offset %zu of %zu)", (long long)h, (unsigned long long)row, r.pos, r.size);
        break;
      }
      for (int64_t y = 0; y < h; y++) {
        const uint8_t* src = r.data + r.pos + (size_t)y * row;
        for (int64_t x = 0; x < w; x++) *out++ = (src[x >> 3] >> (7 - (x & 7))) & 1u ? 0 : 255;
      }
      break;
    }
    default:
      st = pnm_raw(&r, fmt, w, h, (int)depth, channels, (uint32_t)maxval, out);
  }
  if (st != PFW_OK) pfw_image_free(img);
  return st;
}
