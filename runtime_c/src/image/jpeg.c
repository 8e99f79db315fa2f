/* JPEG (ITU T.81): baseline and extended sequential Huffman (SOF0/SOF1) and
 * progressive Huffman (SOF2), 8-bit samples, 1 or 3 components, any
 * sampling factors, restart intervals. Every scan's coefficients go into one
 * array per component; jpeg_pixels.c turns them into pixels at the end, so
 * sequential and progressive files share everything past entropy decoding.
 * Arithmetic coding, lossless, hierarchical, 12-bit and CMYK files are
 * refused by name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jpeg_internal.h"

/* Zigzag index -> natural index, with 16 spare entries so a corrupt run
 * that steps past 63 lands on a harmless slot (checked anyway). */
static const uint8_t ZIGZAG[64 + 16] = {
    0,  1,  8,  16, 9,  2,  3,  10, 17, 24, 32, 25, 18, 11, 4,  5,  12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13,
    6,  7,  14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31,
    39, 46, 53, 60, 61, 54, 47, 55, 62, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63};

enum { FAST = 9 };

typedef struct huff {
  bool set;
  uint16_t fast[1 << FAST];  /* (value << 8) | length for codes up to FAST bits; 0: longer */
  int32_t maxcode[18];       /* largest code of each length, -1 if none; [17] sentinel */
  int32_t valptr[17];        /* index in vals of the first code of each length, minus that code */
  uint8_t vals[256];
} huff;

typedef struct reader {
  const uint8_t* data;
  size_t size, pos;
  uint64_t buf; /* MSB first */
  int n;        /* bits in buf */
  int fake;     /* of them, zero bits made up past a marker or the end */
} reader;

typedef struct decoder {
  jpeg_frame f;
  huff dc[4], ac[4];
  int restart;          /* MCUs between restart markers, 0: none */
  bool progressive, frame_seen, jfif, adobe;
  int adobe_transform;
  reader r;
  size_t limit;
  /* the current scan */
  int ns, ss, se, ah, al;
  jpeg_component* sc[3];
  int eobrun;
  int scans;
  uint64_t visits, blocks; /* blocks decoded over all scans; blocks of the frame */
} decoder;

/* A progressive file has a scan per band and bit of each component, a dozen
 * or so; these bounds keep a small hostile file from making billions of
 * block visits (each EOB run of a few bytes covers 32K blocks). */
enum { MAX_SCANS = 1000, MAX_VISITS_PER_BLOCK = 64 };

static pfw_status bad(const char* why, size_t at) {
  return pfw_error(PFW_ERR_INVALID_ARGUMENT, "JPEG: %s (byte offset %zu)", why, at);
}

static unsigned be16(const uint8_t* p) { return (unsigned)p[0] << 8 | p[1]; }

/* ---- Huffman tables ------------------------------------------------------ */

static pfw_status build_huff(huff* h, const uint8_t* counts, const uint8_t* vals, int total, size_t at) {
  memset(h, 0, sizeof *h);
  memcpy(h->vals, vals, (size_t)total);
  int32_t code = 0, k = 0;
  for (int len = 1; len <= 16; len++) {
    h->valptr[len] = k - code;
    for (int i = 0; i < counts[len - 1]; i++, k++, code++) {
      if (code >= (1 << len)) return bad("a Huffman table has more codes than its lengths allow", at);
      if (len <= FAST)
        for (int32_t f = code << (FAST - len); f < (code + 1) << (FAST - len); f++)
          h->fast[f] = (uint16_t)(vals[k] << 8 | len);
    }
    h->maxcode[len] = counts[len - 1] ? code - 1 : -1;
    code <<= 1;
  }
  h->maxcode[17] = INT32_MAX;
  h->set = true;
  return PFW_OK;
}

/* ---- bits ------------------------------------------------------------------ */

static void refill(reader* r) {
  while (r->n <= 56) {
    unsigned byte = 0;
    if (r->pos < r->size && r->data[r->pos] != 0xff) {
      byte = r->data[r->pos++];
    } else if (r->pos + 1 < r->size && r->data[r->pos] == 0xff && r->data[r->pos + 1] == 0) {
      byte = 0xff; /* stuffed */
      r->pos += 2;
    } else {
      r->fake += 8; /* a marker or the end: zeros from here, as libjpeg */
    }
    r->buf |= (uint64_t)byte << (56 - r->n);
    r->n += 8;
  }
}

static unsigned bits(reader* r, int k) {
  if (!k) return 0;
  if (r->n < k) refill(r);
  unsigned v = (unsigned)(r->buf >> (64 - k));
  r->buf <<= k;
  r->n -= k;
  return v;
}

/* A k-bit magnitude category's value: T.81's EXTEND. */
static int receive_extend(reader* r, int k) {
  if (!k) return 0;
  int v = (int)bits(r, k);
  return v < (1 << (k - 1)) ? v - (1 << k) + 1 : v;
}

static int decode(reader* r, const huff* h) {
  if (r->n < 17) refill(r);
  uint16_t e = h->fast[r->buf >> (64 - FAST)];
  if (e) {
    r->buf <<= e & 0xff;
    r->n -= e & 0xff;
    return e >> 8;
  }
  int32_t code = (int32_t)(r->buf >> (64 - FAST));
  int len = FAST;
  r->buf <<= FAST;
  while (code > h->maxcode[len]) {
    code = code << 1 | (int32_t)(r->buf >> 63);
    r->buf <<= 1;
    len++;
  }
  r->n -= len;
  if (len > 16) return -1;
  return h->vals[(h->valptr[len] + code) & 0xff];
}

/* ---- one block of each kind of scan ----------------------------------------- */

/* The next DC difference, added to the component's prediction. */
static pfw_status next_dc(decoder* d, jpeg_component* c) {
  int t = decode(&d->r, &d->dc[c->td]);
  if (t < 0 || t > 11) return bad("a DC difference has an invalid Huffman code", d->r.pos);
  c->dc_pred = (int16_t)(c->dc_pred + receive_extend(&d->r, t)); /* wraps on corrupt data instead of overflowing */
  return PFW_OK;
}

static pfw_status block_sequential(decoder* d, jpeg_component* c, int16_t* b) {
  reader* r = &d->r;
  pfw_status st = next_dc(d, c);
  if (st != PFW_OK) return st;
  b[0] = (int16_t)c->dc_pred;
  for (int k = 1; k < 64;) {
    int rs = decode(r, &d->ac[c->ta]);
    if (rs < 0) return bad("an AC coefficient has an invalid Huffman code", r->pos);
    int run = rs >> 4, s = rs & 15;
    if (!s) {
      if (run != 15) break; /* end of block */
      k += 16;
      continue;
    }
    k += run;
    if (k > 63) return bad("a block's coefficients run past the 64th", r->pos);
    b[ZIGZAG[k++]] = (int16_t)receive_extend(r, s);
  }
  return PFW_OK;
}

static pfw_status block_dc_progressive(decoder* d, jpeg_component* c, int16_t* b) {
  reader* r = &d->r;
  if (d->ah) {
    if (bits(r, 1)) b[0] = (int16_t)(b[0] | (1 << d->al));
    return PFW_OK;
  }
  pfw_status st = next_dc(d, c);
  if (st != PFW_OK) return st;
  b[0] = (int16_t)(int)((unsigned)c->dc_pred << d->al);
  return PFW_OK;
}

static pfw_status block_ac_first(decoder* d, jpeg_component* c, int16_t* b) {
  reader* r = &d->r;
  if (d->eobrun) {
    d->eobrun--;
    return PFW_OK;
  }
  for (int k = d->ss; k <= d->se;) {
    int rs = decode(r, &d->ac[c->ta]);
    if (rs < 0) return bad("an AC coefficient has an invalid Huffman code", r->pos);
    int run = rs >> 4, s = rs & 15;
    if (!s) {
      if (run < 15) {
        d->eobrun = (1 << run) - 1 + (int)bits(r, run);
        break;
      }
      k += 16;
      continue;
    }
    k += run;
    if (k > d->se) return bad("a band's coefficients run past its end", r->pos);
    b[ZIGZAG[k++]] = (int16_t)(int)((unsigned)receive_extend(r, s) << d->al);
  }
  return PFW_OK;
}

/* Refines coefficient *p that is already nonzero by one bit of precision. */
static void refine(reader* r, int16_t* p, int bit) {
  if (bits(r, 1) && !(*p & bit)) *p = (int16_t)(*p >= 0 ? *p + bit : *p - bit);
}

static pfw_status block_ac_refine(decoder* d, jpeg_component* c, int16_t* b) {
  reader* r = &d->r;
  int bit = 1 << d->al, k = d->ss;
  if (!d->eobrun) {
    for (; k <= d->se; k++) {
      int rs = decode(r, &d->ac[c->ta]);
      if (rs < 0) return bad("an AC coefficient has an invalid Huffman code", r->pos);
      int run = rs >> 4, s = rs & 15, value = 0;
      if (s) {
        if (s != 1) return bad("a refinement scan has a coefficient of more than one bit", r->pos);
        value = bits(r, 1) ? bit : -bit;
      } else if (run != 15) {
        d->eobrun = (1 << run) + (int)bits(r, run);
        break;
      }
      /* Skip `run` zero coefficients, refining the nonzero ones passed. */
      for (; k <= d->se; k++) {
        int16_t* p = &b[ZIGZAG[k]];
        if (*p) refine(r, p, bit);
        else if (run-- == 0) break;
      }
      if (value) {
        if (k > d->se) return bad("a refinement's new coefficient lands past the band's end", r->pos);
        b[ZIGZAG[k]] = (int16_t)value;
      }
    }
  }
  if (d->eobrun) {
    for (; k <= d->se; k++)
      if (b[ZIGZAG[k]]) refine(r, &b[ZIGZAG[k]], bit);
    d->eobrun--;
  }
  return PFW_OK;
}

/* ---- scans ----------------------------------------------------------------- */

static pfw_status decode_block(decoder* d, jpeg_component* c, int64_t bx, int64_t by) {
  int16_t* b = c->coef + (by * c->bw + bx) * 64;
  if (!d->progressive) return block_sequential(d, c, b);
  if (d->ss == 0) return block_dc_progressive(d, c, b);
  return d->ah ? block_ac_refine(d, c, b) : block_ac_first(d, c, b);
}

/* At a restart interval's end: drop the bits left, expect RSTn. */
static pfw_status restart(decoder* d, int* expect) {
  reader* r = &d->r;
  r->buf = 0;
  r->n = r->fake = 0;
  while (r->pos + 2 < r->size && r->data[r->pos] == 0xff && r->data[r->pos + 1] == 0xff) r->pos++; /* fill bytes */
  if (r->pos + 1 >= r->size || r->data[r->pos] != 0xff || r->data[r->pos + 1] != 0xd0 + *expect) {
    char why[64];
    snprintf(why, sizeof why, "restart marker RST%d is missing", *expect);
    return bad(why, r->pos);
  }
  r->pos += 2;
  *expect = (*expect + 1) & 7;
  for (int i = 0; i < d->ns; i++) d->sc[i]->dc_pred = 0;
  d->eobrun = 0;
  return PFW_OK;
}

static pfw_status decode_scan(decoder* d) {
  jpeg_frame* f = &d->f;
  int64_t mcux, mcuy;
  if (d->ns == 1) { /* non-interleaved: one block an MCU, over the component's own size */
    mcux = (d->sc[0]->w + 7) / 8;
    mcuy = (d->sc[0]->hgt + 7) / 8;
  } else {
    mcux = (f->width + 8 * f->hmax - 1) / (8 * f->hmax);
    mcuy = (f->height + 8 * f->vmax - 1) / (8 * f->vmax);
  }
  uint64_t scan_blocks = 0;
  for (int i = 0; i < d->ns; i++) scan_blocks += (uint64_t)(mcux * mcuy) * (uint64_t)(d->ns == 1 ? 1 : d->sc[i]->h * d->sc[i]->v);
  if (++d->scans > MAX_SCANS) return bad("more than 1000 scans", d->r.pos);
  if ((d->visits += scan_blocks) > MAX_VISITS_PER_BLOCK * d->blocks)
    return bad("the scans decode each block more than 64 times", d->r.pos);
  int expect = 0;
  int64_t left = d->restart;
  for (int i = 0; i < d->ns; i++) d->sc[i]->dc_pred = 0;
  d->eobrun = 0;
  for (int64_t my = 0; my < mcuy; my++) {
    for (int64_t mx = 0; mx < mcux; mx++) {
      if (d->restart && !left--) {
        pfw_status st = restart(d, &expect);
        if (st != PFW_OK) return st;
        left = d->restart - 1;
      }
      for (int i = 0; i < d->ns; i++) {
        jpeg_component* c = d->sc[i];
        int bh = d->ns == 1 ? 1 : c->h, bv = d->ns == 1 ? 1 : c->v;
        for (int y = 0; y < bv; y++)
          for (int x = 0; x < bh; x++) {
            pfw_status st = decode_block(d, c, mx * bh + x, my * bv + y);
            if (st != PFW_OK) return st;
          }
      }
      if (d->r.n < d->r.fake) return bad("the scan's data ends before its last block", d->r.pos);
    }
  }
  /* Leave the reader at the marker that ends the scan. */
  d->r.buf = 0;
  d->r.n = d->r.fake = 0;
  return PFW_OK;
}

/* ---- markers ---------------------------------------------------------------- */

static pfw_status read_frame(decoder* d, const uint8_t* p, unsigned len, size_t at, size_t limit) {
  jpeg_frame* f = &d->f;
  if (d->frame_seen) return bad("a second frame header", at);
  if (len < 6) return bad("a frame header is too short", at);
  if (p[0] != 8) {
    char why[64];
    snprintf(why, sizeof why, "%d-bit samples are not supported (8-bit only)", p[0]);
    return pfw_error(PFW_ERR_UNSUPPORTED, "JPEG: %s (byte offset %zu)", why, at);
  }
  f->height = be16(p + 1);
  f->width = be16(p + 3);
  f->ncomp = p[5];
  if (!f->height) return pfw_error(PFW_ERR_UNSUPPORTED, "JPEG: the height is set by a DNL marker, which is not supported");
  if (!f->width) return bad("the frame's width is 0", at);
  if (f->ncomp != 1 && f->ncomp != 3) {
    char why[80];
    snprintf(why, sizeof why, "%d components (CMYK or other) are not supported (1 or 3 only)", f->ncomp);
    return pfw_error(PFW_ERR_UNSUPPORTED, "JPEG: %s (byte offset %zu)", why, at);
  }
  if (len != 6 + 3u * (unsigned)f->ncomp) return bad("the frame header's length does not fit its components", at);
  f->hmax = f->vmax = 1;
  for (int i = 0; i < f->ncomp; i++) {
    jpeg_component* c = &f->comp[i];
    c->id = p[6 + 3 * i];
    c->h = p[7 + 3 * i] >> 4;
    c->v = p[7 + 3 * i] & 15;
    c->tq = p[8 + 3 * i];
    if (c->h < 1 || c->h > 4 || c->v < 1 || c->v > 4 || c->tq > 3) return bad("a component has invalid sampling factors or quantization table", at);
    for (int j = 0; j < i; j++)
      if (f->comp[j].id == c->id) return bad("two components share an id", at);
    if (c->h > f->hmax) f->hmax = c->h;
    if (c->v > f->vmax) f->vmax = c->v;
  }
  int64_t mcux = (f->width + 8 * f->hmax - 1) / (8 * f->hmax), mcuy = (f->height + 8 * f->vmax - 1) / (8 * f->vmax);
  size_t total = 0;
  for (int i = 0; i < f->ncomp; i++) {
    jpeg_component* c = &f->comp[i];
    if (f->hmax % c->h || f->vmax % c->v)
      return pfw_error(PFW_ERR_UNSUPPORTED, "JPEG: sampling factors that are not whole ratios of the largest (byte offset %zu)", at);
    c->w = (f->width * c->h + f->hmax - 1) / f->hmax;
    c->hgt = (f->height * c->v + f->vmax - 1) / f->vmax;
    c->bw = mcux * c->h;
    c->bh = mcuy * c->v;
    uint64_t bytes = (uint64_t)c->bw * (uint64_t)c->bh * 64 * sizeof(int16_t); /* < 2^41: exact in 64 bits */
    d->blocks += (uint64_t)c->bw * (uint64_t)c->bh;
    if (bytes > limit - total)
      return pfw_error(PFW_ERR_UNSUPPORTED, "JPEG: the coefficients of a %lld x %lld image exceed the memory limit of %zu bytes",
                       (long long)f->width, (long long)f->height, limit);
    total += (size_t)bytes;
    if (!(c->coef = calloc((size_t)bytes, 1))) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "JPEG: out of memory");
  }
  f->used = total;
  d->frame_seen = true;
  return PFW_OK;
}

static pfw_status read_quant(decoder* d, const uint8_t* p, unsigned len, size_t at) {
  while (len) {
    int pq = p[0] >> 4, tq = p[0] & 15;
    unsigned need = 1 + 64 * (pq ? 2u : 1u);
    if (pq > 1 || tq > 3 || len < need) return bad("a quantization table is malformed", at);
    for (int k = 0; k < 64; k++)
      d->f.quant[tq][ZIGZAG[k]] = (uint16_t)(pq ? be16(p + 1 + 2 * k) : p[1 + k]);
    d->f.quant_set[tq] = true;
    p += need;
    len -= need;
  }
  return PFW_OK;
}

static pfw_status read_huffman(decoder* d, const uint8_t* p, unsigned len, size_t at) {
  while (len) {
    if (len < 17) return bad("a Huffman table is malformed", at);
    int tc = p[0] >> 4, th = p[0] & 15, total = 0;
    for (int i = 0; i < 16; i++) total += p[1 + i];
    if (tc > 1 || th > 3 || total > 256 || len < 17u + (unsigned)total) return bad("a Huffman table is malformed", at);
    pfw_status st = build_huff(tc ? &d->ac[th] : &d->dc[th], p + 1, p + 17, total, at);
    if (st != PFW_OK) return st;
    p += 17 + total;
    len -= 17u + (unsigned)total;
  }
  return PFW_OK;
}

static pfw_status read_scan(decoder* d, const uint8_t* p, unsigned len, size_t at) {
  jpeg_frame* f = &d->f;
  if (!d->frame_seen) return bad("a scan comes before the frame header", at);
  if (len < 1 || (d->ns = p[0]) < 1 || d->ns > f->ncomp || len != 4u + 2u * (unsigned)d->ns)
    return bad("a scan header is malformed", at);
  for (int i = 0; i < d->ns; i++) {
    jpeg_component* c = NULL;
    for (int j = 0; j < f->ncomp; j++)
      if (f->comp[j].id == p[1 + 2 * i]) c = &f->comp[j];
    if (!c) return bad("a scan names a component the frame lacks", at);
    c->td = p[2 + 2 * i] >> 4;
    c->ta = p[2 + 2 * i] & 15;
    if (c->td > 3 || c->ta > 3) return bad("a scan names a Huffman table past 3", at);
    d->sc[i] = c;
  }
  const uint8_t* q = p + 1 + 2 * d->ns;
  d->ss = q[0];
  d->se = q[1];
  d->ah = q[2] >> 4;
  d->al = q[2] & 15;
  if (d->progressive) {
    bool ok = d->ss <= d->se && d->se <= 63 && d->al <= 13 && (d->ss == 0 ? d->se == 0 : d->ns == 1);
    if (!ok) return bad("a progressive scan's spectral band or bit position is invalid", at);
  }
  int blocks = 0;
  for (int i = 0; i < d->ns; i++) {
    jpeg_component* c = d->sc[i];
    blocks += d->ns == 1 ? 1 : c->h * c->v;
    bool dc = !d->progressive || (d->ss == 0 && d->ah == 0), ac = !d->progressive || d->ss > 0;
    if ((dc && !d->dc[c->td].set) || (ac && !d->ac[c->ta].set)) return bad("a scan uses a Huffman table never defined", at);
    if (!f->quant_set[c->tq]) return bad("a component's quantization table is never defined", at);
    if (!c->quant_latched) {
      memcpy(c->quant, f->quant[c->tq], sizeof c->quant);
      c->quant_latched = true;
    }
  }
  if (blocks > 10) return bad("an MCU of more than 10 blocks", at);
  return PFW_OK;
}

static pfw_status parse(decoder* d, const uint8_t* data, size_t size, pfw_image* img) {
  size_t at = 2;
  for (;;) {
    /* Markers may be padded with extra 0xFF bytes. */
    if (at >= size || data[at] != 0xff) return bad(at >= size ? "the stream ends before EOI" : "expected a marker", at);
    while (at < size && data[at] == 0xff) at++;
    if (at >= size) return bad("the stream ends before EOI", at);
    unsigned m = data[at++];
    if (m == 0xd9) break; /* EOI */
    if (m >= 0xd0 && m <= 0xd7) continue; /* a stray RSTn between scans */
    if (at + 2 > size) return bad("a marker segment's length is missing", at);
    unsigned len = be16(data + at);
    if (len < 2 || len > size - at) return bad("a marker segment runs past the end of the stream", at);
    const uint8_t* p = data + at + 2;
    size_t seg = at - 2;
    at += len;
    len -= 2;
    pfw_status st = PFW_OK;
    if (m == 0xc0 || m == 0xc1 || m == 0xc2) {
      d->progressive = m == 0xc2;
      st = read_frame(d, p, len, seg, d->limit);
    } else if ((m >= 0xc3 && m <= 0xcf) && m != 0xc4 && m != 0xc8 && m != 0xcc) {
      static const char* KIND[16] = {"", "", "", "lossless", "", "differential sequential", "differential progressive",
                                     "differential lossless", "", "arithmetic-coded sequential",
                                     "arithmetic-coded progressive", "arithmetic-coded lossless", "",
                                     "differential arithmetic-coded sequential",
                                     "differential arithmetic-coded progressive",
                                     "differential arithmetic-coded lossless"};
      return pfw_error(PFW_ERR_UNSUPPORTED, "JPEG: %s frames (SOF%u) are not supported (byte offset %zu)",
                       KIND[m - 0xc0], m - 0xc0, seg);
    } else if (m == 0xc4) {
      st = read_huffman(d, p, len, seg);
    } else if (m == 0xdb) {
      st = read_quant(d, p, len, seg);
    } else if (m == 0xdd) {
      d->restart = len >= 2 ? (int)be16(p) : 0;
    } else if (m == 0xe0 && len >= 14 && !memcmp(p, "JFIF", 5)) { /* libjpeg's APP0_DATA_LEN */
      d->jfif = true;
    } else if (m == 0xee && len >= 12 && !memcmp(p, "Adobe", 5)) {
      d->adobe = true;
      d->adobe_transform = p[11];
    } else if (m == 0xda) {
      st = read_scan(d, p, len, seg);
      if (st == PFW_OK) {
        d->r = (reader){data, size, at, 0, 0, 0};
        st = decode_scan(d);
        at = d->r.pos;
        /* Skip anything left of the entropy-coded segment up to the next marker. */
        while (st == PFW_OK && at + 1 < size && !(data[at] == 0xff && data[at + 1] && (data[at + 1] < 0xd0 || data[at + 1] > 0xd7)))
          at++;
      }
    }
    /* APPn, COM and others: skipped. */
    if (st != PFW_OK) return st;
  }
  if (!d->frame_seen) return bad("no frame header before EOI", size);
  jpeg_frame* f = &d->f;
  /* As libjpeg decides the colour space of 3 components. */
  f->rgb = f->ncomp == 3 && !d->jfif &&
           (d->adobe ? d->adobe_transform == 0 : f->comp[0].id == 'R' && f->comp[1].id == 'G' && f->comp[2].id == 'B');
  return pfw_jpeg_pixels(f, d->limit, img);
}

pfw_status pfw_decode_jpeg(const uint8_t* data, size_t size, size_t limit, pfw_image* img) {
  memset(img, 0, sizeof *img);
  if (size < 4) return bad("the stream is too short to hold an image", 0);
  if (data[0] != 0xff || data[1] != 0xd8) return bad("the stream does not start with SOI", 0);
  decoder* d = calloc(1, sizeof *d);
  if (!d) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "JPEG: out of memory");
  d->limit = limit;
  pfw_status st = parse(d, data, size, img);
  for (int i = 0; i < 3; i++) free(d->f.comp[i].coef);
  free(d);
  return st;
}
