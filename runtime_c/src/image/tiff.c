/* Baseline TIFF decoder: the first IFD of a classic (not Big) TIFF, either
 * byte order. Strips or tiles, chunky or planar samples, 1/2/4/8/16 bits per
 * sample (16: the high byte), WhiteIsZero, BlackIsZero, RGB and palette
 * images; no compression, PackBits, LZW and Deflate, with or without the
 * horizontal-differencing predictor. Extra samples (alpha) are dropped.
 *
 * On any error after pfw_image_alloc the decoder frees the image, so the
 * caller never sees half an image. */
#include <stdio.h>
#include <stdlib.h>

#include "image.h"

enum {
  T_WIDTH = 256, T_LENGTH = 257, T_BITS = 258, T_COMPRESSION = 259, T_PHOTOMETRIC = 262, T_FILLORDER = 266,
  T_STRIPOFFSETS = 273, T_SPP = 277, T_ROWSPERSTRIP = 278, T_STRIPBYTECOUNTS = 279, T_PLANAR = 284,
  T_PREDICTOR = 317, T_COLORMAP = 320, T_TILEWIDTH = 322, T_TILELENGTH = 323, T_TILEOFFSETS = 324,
  T_TILEBYTECOUNTS = 325, T_SAMPLEFORMAT = 339
};

typedef struct {
  const uint8_t* data;
  size_t size;
  bool be;          /* "MM": big-endian */
  size_t ifd;       /* offset of the first IFD's entry count */
  uint32_t nentries;
} tiff_file;

/* One IFD entry: its integer values start at `at` (inline or at the offset). */
typedef struct {
  uint32_t type, count;
  size_t at, entry;  /* value position; entry position (for errors) */
} tiff_tag;

static uint32_t rd16(const tiff_file* f, size_t p) {
  const uint8_t* b = f->data + p;
  return f->be ? (uint32_t)b[0] << 8 | b[1] : (uint32_t)b[1] << 8 | b[0];
}
static uint32_t rd32(const tiff_file* f, size_t p) {
  const uint8_t* b = f->data + p;
  return f->be ? (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]
               : (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0];
}

/* Finds `tag` in the first IFD; *found is false when absent. Integer types
 * only (BYTE, SHORT, LONG); the values are checked to lie in the stream. */
static pfw_status tiff_find(const tiff_file* f, uint32_t tag, const char* name, tiff_tag* t, bool* found) {
  *found = false;
  for (uint32_t i = 0; i < f->nentries; i++) {
    size_t e = f->ifd + 2 + (size_t)i * 12;
    if (rd16(f, e) != tag) continue;
    t->type = rd16(f, e + 2);
    t->count = rd32(f, e + 4);
    t->entry = e;
    uint64_t tsize = t->type == 1 ? 1 : t->type == 3 ? 2 : t->type == 4 ? 4 : 0;
    if (tsize == 0)
      return pfw_error(PFW_ERR_INVALID_ARGUMENT, "TIFF: %s (tag %u) has field type %u, expected BYTE, SHORT or LONG "
                       "(byte offset %zu)", name, (unsigned)tag, (unsigned)t->type, e);
    if (t->count == 0)
      return pfw_error(PFW_ERR_INVALID_ARGUMENT, "TIFF: %s (tag %u) has no values (byte offset %zu)", name,
                       (unsigned)tag, e);
    uint64_t bytes = tsize * t->count;
    t->at = bytes <= 4 ? e + 8 : rd32(f, e + 8);
    if (t->at > f->size || bytes > f->size - t->at)
      return pfw_error(PFW_ERR_INVALID_ARGUMENT, "TIFF: the %u values of %s (tag %u, entry at byte offset %zu) at "
                       "byte offset %zu run past the end of the stream of %zu bytes", (unsigned)t->count, name,
                       (unsigned)tag, e, t->at, f->size);
    *found = true;
    return PFW_OK;
  }
  return PFW_OK;
}

static uint32_t tiff_value(const tiff_file* f, const tiff_tag* t, uint32_t i) {
  switch (t->type) {
    case 1: return f->data[t->at + i];
    case 3: return rd16(f, t->at + (size_t)i * 2);
    default: return rd32(f, t->at + (size_t)i * 4);
  }
}

/* The first value of a single-valued tag, or `def` when absent. */
static pfw_status tiff_scalar(const tiff_file* f, uint32_t tag, const char* name, uint32_t def, uint32_t* v) {
  tiff_tag t;
  bool found;
  pfw_status st = tiff_find(f, tag, name, &t, &found);
  *v = found ? tiff_value(f, &t, 0) : def;
  return st;
}

/* PackBits: a header byte n, then n + 1 literal bytes (n <= 127) or one byte
 * repeated 1 - n times (n >= -127); -128 is a no-op. */
static pfw_status tiff_packbits(const uint8_t* in, size_t n, size_t base, uint8_t* out, size_t cap, size_t* written) {
  size_t i = 0, o = 0;
  while (i < n && o < cap) {
    int c = (int8_t)in[i++];
    if (c == -128) continue;
    size_t run = c >= 0 ? (size_t)c + 1 : (size_t)(1 - c);
    size_t need = c >= 0 ? run : 1;
    if (need > n - i)
      return pfw_error(PFW_ERR_INVALID_ARGUMENT, "TIFF: PackBits run of %zu bytes runs past the end of its strip or "
                       "tile data (byte offset %zu)", run, base + i - 1);
    if (run > cap - o)
      return pfw_error(PFW_ERR_INVALID_ARGUMENT, "TIFF: PackBits run of %zu bytes runs past the end of the strip or "
                       "tile (byte offset %zu)", run, base + i - 1);
    if (c >= 0) memcpy(out + o, in + i, run);
    else memset(out + o, in[i], run);
    i += need;
    o += run;
  }
  *written = o;
  return PFW_OK;
}

/* LZW as TIFF uses it: codes MSB first, 9 to 12 bits, 256 = clear, 257 = end,
 * the code width growing one code early (at 511, 1023, 2047). */
typedef struct {
  uint16_t prefix[4096];
  uint16_t len[4096];
  uint8_t suffix[4096], first[4096];
} tiff_lzw;

static pfw_status tiff_lzw_decode(tiff_lzw* z, const uint8_t* in, size_t n, size_t base, uint8_t* out, size_t cap,
                                  size_t* written) {
  if (n >= 2 && in[0] == 0 && (in[1] & 1))
    return pfw_error(PFW_ERR_UNSUPPORTED, "TIFF: old-style (LSB-first) LZW compression is not supported (byte offset "
                     "%zu)", base);
  for (int i = 0; i < 256; i++) {
    z->prefix[i] = 0;
    z->len[i] = 1;
    z->suffix[i] = z->first[i] = (uint8_t)i;
  }
  uint64_t bitpos = 0, nbits = (uint64_t)n * 8;
  uint32_t next = 258, width = 9;
  int prev = -1;
  size_t o = 0;
  while (o < cap && bitpos + width <= nbits) {
    uint32_t code = 0;
    for (uint32_t k = 0; k < width; k++, bitpos++) code = code << 1 | ((in[bitpos >> 3] >> (7 - (bitpos & 7))) & 1u);
    if (code == 256) {
      next = 258;
      width = 9;
      prev = -1;
      continue;
    }
    if (code == 257) break;
    if (code > next || (code == next && prev < 0))
      return pfw_error(PFW_ERR_INVALID_ARGUMENT, "TIFF: LZW code %u is not in the %u-entry table (byte offset %zu)",
                       (unsigned)code, (unsigned)next, base + (size_t)((bitpos - width) >> 3));
    if (prev >= 0 && next < 4096) { /* new entry: previous string + first byte of this one */
      z->prefix[next] = (uint16_t)prev;
      z->first[next] = z->first[prev];
      z->suffix[next] = code == next ? z->first[prev] : z->first[code];
      z->len[next] = (uint16_t)(z->len[prev] + 1);
      next++;
      if (next >= (1u << width) - 1u && width < 12) width++;
    }
    /* emit the string of `code` back to front; bytes past cap are dropped */
    uint32_t len = z->len[code], c = code;
    for (uint32_t k = len; k-- > 0;) {
      if (o + k < cap) out[o + k] = z->suffix[c];
      c = z->prefix[c];
    }
    o = len < cap - o ? o + len : cap;
    prev = (int)code;
  }
  *written = o;
  return PFW_OK;
}

/* Undoes Predictor 2 on `rows` rows of `rb` bytes with `sp` samples/pixel. */
static void tiff_unpredict(uint8_t* buf, size_t rows, size_t rb, size_t sp, uint32_t bits, bool be) {
  for (size_t r = 0; r < rows; r++) {
    uint8_t* p = buf + r * rb;
    if (bits == 8) {
      for (size_t i = sp; i < rb; i++) p[i] = (uint8_t)(p[i] + p[i - sp]);
    } else { /* 16 bits, in the file's byte order */
      size_t hi = be ? 0 : 1, lo = 1 - hi;
      for (size_t i = sp; i < rb / 2; i++) {
        uint32_t a = (uint32_t)p[2 * i + hi] << 8 | p[2 * i + lo];
        uint32_t b = (uint32_t)p[2 * (i - sp) + hi] << 8 | p[2 * (i - sp) + lo];
        uint32_t v = (a + b) & 0xffffu;
        p[2 * i + hi] = (uint8_t)(v >> 8);
        p[2 * i + lo] = (uint8_t)v;
      }
    }
  }
}

static pfw_status tiff_unsupported(uint32_t tag, const char* name, uint32_t v, const char* what) {
  return pfw_error(PFW_ERR_UNSUPPORTED, "TIFF: %s (tag %u) value %u%s%s%s is not supported", name, (unsigned)tag,
                   (unsigned)v, what[0] ? " (" : "", what, what[0] ? ")" : "");
}

pfw_status pfw_decode_tiff(const uint8_t* data, size_t size, size_t limit, pfw_image* img) {
  if (size < 8 || !((data[0] == 'I' && data[1] == 'I') || (data[0] == 'M' && data[1] == 'M')))
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "TIFF: stream lacks the II/MM byte-order mark (byte offset 0)");
  tiff_file f = {data, size, data[0] == 'M', 0, 0};
  uint32_t magic = rd16(&f, 2);
  if (magic == 43) return pfw_error(PFW_ERR_UNSUPPORTED, "TIFF: BigTIFF (version 43) is not supported");
  if (magic != 42)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "TIFF: version %u is not 42 (byte offset 2)", (unsigned)magic);
  f.ifd = rd32(&f, 4);
  if (f.ifd < 8 || f.ifd > size - 2)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "TIFF: first IFD offset %zu is outside the stream of %zu bytes (byte "
                     "offset 4)", f.ifd, size);
  f.nentries = rd16(&f, f.ifd);
  if (f.nentries == 0 || (size - f.ifd - 2) / 12 < f.nentries)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "TIFF: IFD of %u entries is empty or runs past the end of the stream "
                     "(byte offset %zu of %zu)", (unsigned)f.nentries, f.ifd, size);

  pfw_status st;
  uint32_t w, h, comp, photo, spp, planar, pred, fill, rps, sfmt;
  bool has_photo;
  tiff_tag t;
#define SCALAR(tag, name, def, var) \
  if ((st = tiff_scalar(&f, tag, name, def, &var)) != PFW_OK) return st
  SCALAR(T_WIDTH, "ImageWidth", 0, w);
  SCALAR(T_LENGTH, "ImageLength", 0, h);
  SCALAR(T_COMPRESSION, "Compression", 1, comp);
  SCALAR(T_SPP, "SamplesPerPixel", 1, spp);
  SCALAR(T_PLANAR, "PlanarConfiguration", 1, planar);
  SCALAR(T_PREDICTOR, "Predictor", 1, pred);
  SCALAR(T_FILLORDER, "FillOrder", 1, fill);
  SCALAR(T_ROWSPERSTRIP, "RowsPerStrip", UINT32_MAX, rps);
  SCALAR(T_SAMPLEFORMAT, "SampleFormat", 1, sfmt);
  if ((st = tiff_find(&f, T_PHOTOMETRIC, "PhotometricInterpretation", &t, &has_photo)) != PFW_OK) return st;
  /* Without the tag: RGB for 3+ samples, else WhiteIsZero (as PIL reads it). */
  photo = has_photo ? tiff_value(&f, &t, 0) : spp >= 3 ? 2 : 0;
#undef SCALAR

  if (w == 0 || h == 0)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "TIFF: invalid image size %u x %u (IFD at byte offset %zu)",
                     (unsigned)w, (unsigned)h, f.ifd);
  if (spp == 0 || spp > 16)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "TIFF: SamplesPerPixel (tag 277) value %u is outside 1..16",
                     (unsigned)spp);
  uint32_t bits;
  {
    bool found;
    if ((st = tiff_find(&f, T_BITS, "BitsPerSample", &t, &found)) != PFW_OK) return st;
    bits = found ? tiff_value(&f, &t, 0) : 1;
    for (uint32_t i = 1; found && i < spp && i < t.count; i++)
      if (tiff_value(&f, &t, i) != bits)
        return pfw_error(PFW_ERR_UNSUPPORTED, "TIFF: BitsPerSample (tag 258) differs between samples (%u and %u)",
                         (unsigned)bits, (unsigned)tiff_value(&f, &t, i));
  }
  if (sfmt != 1)
    return tiff_unsupported(T_SAMPLEFORMAT, "SampleFormat", sfmt,
                            sfmt == 2 ? "signed integer" : sfmt == 3 ? "floating point" : "");
  if (bits != 1 && bits != 2 && bits != 4 && bits != 8 && bits != 16)
    return tiff_unsupported(T_BITS, "BitsPerSample", bits, "");
  if (comp != 1 && comp != 5 && comp != 8 && comp != 32946 && comp != 32773)
    return tiff_unsupported(T_COMPRESSION, "Compression", comp,
                            comp == 6 || comp == 7 ? "JPEG" : comp >= 2 && comp <= 4 ? "CCITT" : "");
  if (planar != 1 && planar != 2) return tiff_unsupported(T_PLANAR, "PlanarConfiguration", planar, "");
  if (fill != 1) return tiff_unsupported(T_FILLORDER, "FillOrder", fill, "least significant bit first");
  /* libtiff (and so PIL) applies Predictor only to LZW and Deflate data */
  if (comp == 1 || comp == 32773) pred = 1;
  if (pred != 1 && !(pred == 2 && bits >= 8))
    return tiff_unsupported(T_PREDICTOR, "Predictor", pred,
                            pred == 2 ? "horizontal differencing below 8 bits" : pred == 3 ? "floating point" : "");

  /* needed: colour samples read per pixel; channels: output channels */
  uint32_t needed;
  int channels;
  switch (photo) {
    case 0:
    case 1: needed = 1; channels = 1; break;
    case 2: needed = 3; channels = 3; break;
    case 3: needed = 1; channels = 3; break;
    default:
      return tiff_unsupported(T_PHOTOMETRIC, "PhotometricInterpretation", photo,
                              photo == 4 ? "transparency mask" : photo == 5 ? "separated/CMYK" : photo == 6 ? "YCbCr"
                              : photo == 8 ? "CIELab" : "");
  }
  if (spp < needed)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "TIFF: PhotometricInterpretation %u needs %u samples per pixel, "
                     "SamplesPerPixel is %u", (unsigned)photo, (unsigned)needed, (unsigned)spp);

  uint8_t cmap[256][3];
  if (photo == 3) {
    if (bits > 8) return tiff_unsupported(T_BITS, "BitsPerSample", bits, "palette images of more than 8 bits");
    bool found;
    if ((st = tiff_find(&f, T_COLORMAP, "ColorMap", &t, &found)) != PFW_OK) return st;
    uint32_t n = 1u << bits;
    if (!found || t.count < 3 * n)
      return pfw_error(PFW_ERR_INVALID_ARGUMENT, "TIFF: palette image lacks a ColorMap (tag 320) of %u values",
                       (unsigned)(3 * n));
    for (uint32_t i = 0; i < n; i++)
      for (uint32_t c = 0; c < 3; c++) cmap[i][c] = (uint8_t)(tiff_value(&f, &t, c * n + i) >> 8);
  }

  /* Chunks: strips (full width) or tiles. */
  tiff_tag offs, cnts;
  bool tiled, has_offs, has_cnts;
  uint32_t cw, chh;
  if ((st = tiff_find(&f, T_TILEOFFSETS, "TileOffsets", &offs, &tiled)) != PFW_OK) return st;
  if (tiled) {
    uint32_t tw, tl;
    if ((st = tiff_scalar(&f, T_TILEWIDTH, "TileWidth", 0, &tw)) != PFW_OK) return st;
    if ((st = tiff_scalar(&f, T_TILELENGTH, "TileLength", 0, &tl)) != PFW_OK) return st;
    if (tw == 0 || tl == 0)
      return pfw_error(PFW_ERR_INVALID_ARGUMENT, "TIFF: tiled image with TileWidth %u and TileLength %u",
                       (unsigned)tw, (unsigned)tl);
    cw = tw;
    chh = tl;
    if ((st = tiff_find(&f, T_TILEBYTECOUNTS, "TileByteCounts", &cnts, &has_cnts)) != PFW_OK) return st;
  } else {
    if ((st = tiff_find(&f, T_STRIPOFFSETS, "StripOffsets", &offs, &has_offs)) != PFW_OK) return st;
    if (!has_offs) return pfw_error(PFW_ERR_INVALID_ARGUMENT, "TIFF: image has neither StripOffsets nor TileOffsets");
    cw = w;
    chh = rps == 0 || rps > h ? h : rps;
    if ((st = tiff_find(&f, T_STRIPBYTECOUNTS, "StripByteCounts", &cnts, &has_cnts)) != PFW_OK) return st;
  }
  if (!has_cnts && comp != 1)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "TIFF: compressed image lacks %sByteCounts", tiled ? "Tile" : "Strip");
  uint64_t across = ((uint64_t)w + cw - 1) / cw, down = ((uint64_t)h + chh - 1) / chh;
  uint32_t planes = planar == 2 ? needed : 1; /* planes past the colour ones are never read */
  uint32_t sp = planar == 2 ? 1 : spp;        /* samples per pixel within a chunk */
  uint64_t per_plane = across * down;         /* both < 2^32: no overflow */
  if (per_plane > offs.count || per_plane * planes > offs.count || (has_cnts && per_plane * planes > cnts.count))
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "TIFF: %llu %ss needed but %u offsets and %u byte counts given",
                     (unsigned long long)(per_plane * planes), tiled ? "tile" : "strip", (unsigned)offs.count,
                     has_cnts ? (unsigned)cnts.count : 0u);
  /* cw < 2^32, sp <= 16, bits <= 16: rb < 2^41 */
  uint64_t rb = ((uint64_t)cw * sp * bits + 7) / 8;
  if (chh > limit / rb)
    return pfw_error(PFW_ERR_UNSUPPORTED, "TIFF: %s of %u rows of %llu bytes exceeds the memory limit of %zu bytes",
                     tiled ? "tile" : "strip", (unsigned)chh, (unsigned long long)rb, limit);
  size_t cap = (size_t)(rb * chh);

  /* Uncompressed pixels take at least a bit each: refuse a short stream
   * before allocating a huge image for it. */
  if (comp == 1 && (uint64_t)w * h / 8 > size)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "TIFF: uncompressed %u x %u image cannot fit in a stream of %zu bytes",
                     (unsigned)w, (unsigned)h, size);
  if ((st = pfw_image_alloc(img, "TIFF", w, h, channels, limit)) != PFW_OK) return st;
  uint8_t* buf = malloc(cap);
  tiff_lzw* lzw = comp == 5 ? malloc(sizeof *lzw) : NULL;
  if (!buf || (comp == 5 && !lzw)) {
    st = pfw_error(PFW_ERR_OUT_OF_MEMORY, "TIFF: no memory for a %zu-byte strip or tile buffer", cap);
    goto done;
  }

  const uint32_t bmask = (1u << (bits < 16 ? bits : 15)) - 1u;
  const uint32_t scale = bits == 1 ? 255 : bits == 2 ? 85 : bits == 4 ? 17 : 1;
  for (uint32_t p = 0; p < planes; p++) {
    for (uint64_t ci = 0; ci < per_plane; ci++) {
      uint32_t idx = (uint32_t)(p * per_plane + ci);
      uint64_t x0 = (ci % across) * cw, y0 = (ci / across) * chh;
      size_t rows = (size_t)((uint64_t)h - y0 < chh ? (uint64_t)h - y0 : chh);
      size_t cols = (size_t)((uint64_t)w - x0 < cw ? (uint64_t)w - x0 : cw);
      size_t need = rows * (size_t)rb;
      size_t off = tiff_value(&f, &offs, idx);
      size_t cnt = has_cnts ? tiff_value(&f, &cnts, idx) : need;
      if (off > size || cnt > size - off) {
        if (has_cnts || off > size) {
          st = pfw_error(PFW_ERR_INVALID_ARGUMENT, "TIFF: %s %u (offset %zu, %zu bytes) runs past the end of the "
                         "stream (byte offset %zu of %zu)", tiled ? "tile" : "strip", (unsigned)idx, off, cnt, off,
                         size);
          goto done;
        }
        cnt = size - off; /* computed count of an uncompressed strip: checked below */
      }
      const uint8_t* in = data + off;
      size_t got = 0;
      if (comp == 1) {
        got = cnt < cap ? cnt : cap;
        memcpy(buf, in, got);
      } else if (comp == 32773) {
        st = tiff_packbits(in, cnt, off, buf, cap, &got);
      } else if (comp == 5) {
        st = tiff_lzw_decode(lzw, in, cnt, off, buf, cap, &got);
      } else {
        char what[96];
        snprintf(what, sizeof what, "TIFF Deflate %s %u at byte offset %zu", tiled ? "tile" : "strip", (unsigned)idx,
                 off);
        st = pfw_zlib_inflate(what, in, cnt, buf, cap, &got);
      }
      if (st != PFW_OK) goto done;
      if (got < need) {
        st = pfw_error(PFW_ERR_INVALID_ARGUMENT, "TIFF: %s %u decodes to %zu bytes, %zu expected (byte offset %zu)",
                       tiled ? "tile" : "strip", (unsigned)idx, got, need, off);
        goto done;
      }
      if (pred == 2) tiff_unpredict(buf, rows, (size_t)rb, sp, bits, f.be);

      /* Samples to pixels: chunky reads samples 0..needed-1 of each pixel,
       * planar plane p holds sample p. */
      uint32_t s0 = planar == 2 ? p : 0, ns = planar == 2 ? 1 : needed;
      for (size_t r = 0; r < rows; r++) {
        const uint8_t* row = buf + r * (size_t)rb;
        uint8_t* dst = img->pixels + ((y0 + r) * w + x0) * (size_t)channels;
        for (size_t x = 0; x < cols; x++, dst += channels) {
          for (uint32_t s = 0; s < ns; s++) {
            size_t i = x * sp + (planar == 2 ? 0 : s); /* sample index within the row */
            uint32_t v;
            if (bits == 8) v = row[i];
            else if (bits == 16) v = row[2 * i + (f.be ? 0 : 1)];
            else v = (row[i * bits / 8] >> (8 - bits - (i * bits) % 8)) & bmask;
            if (photo == 3) {
              dst[0] = cmap[v][0];
              dst[1] = cmap[v][1];
              dst[2] = cmap[v][2];
            } else {
              if (bits < 8) v *= scale;
              dst[s0 + s] = (uint8_t)(photo == 0 ? 255 - v : v);
            }
          }
        }
      }
    }
  }

done:
  free(buf);
  free(lzw);
  if (st != PFW_OK) pfw_image_free(img);
  return st;
}
