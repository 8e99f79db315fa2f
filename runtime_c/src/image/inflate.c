/* Inflate (RFC 1951) inside a zlib wrapper (RFC 1950), for PNG and TIFF's
 * Deflate compression. Output goes to a caller's buffer of known size (the
 * image's own size), so the decompressed size is bounded before a byte is
 * written. Huffman codes decode through a 10-bit table, longer codes by the
 * canonical walk. */
#include <string.h>

#include "image.h"

enum { MAX_BITS = 15, FAST_BITS = 10, MAX_LITLEN = 288, MAX_DIST = 32 };

typedef struct huffman {
  uint16_t fast[1 << FAST_BITS]; /* (symbol << 4) | length, 0 = longer than FAST_BITS */
  uint16_t count[MAX_BITS + 1];  /* codes of each length */
  uint16_t symbol[MAX_LITLEN];   /* symbols ordered by (length, value) */
} huffman;

typedef struct bits {
  const char* what;
  const uint8_t* in;
  size_t size, pos; /* next byte to load */
  uint64_t buf;     /* bits not yet used, LSB first */
  int n;            /* how many */
  size_t start;     /* offset of `in` within the caller's buffer, for messages */
} bits;

static pfw_status bad(const bits* b, const char* why) {
  size_t at = b->pos - (size_t)(b->n / 8);
  return pfw_error(PFW_ERR_INVALID_ARGUMENT, "%s: deflate data %s (byte offset %zu of the zlib stream)", b->what, why,
                   b->start + at);
}

static void refill(bits* b) {
  while (b->n <= 56 && b->pos < b->size) {
    b->buf |= (uint64_t)b->in[b->pos++] << b->n;
    b->n += 8;
  }
}

/* Takes k <= 16 bits; false when the stream ends first. */
static bool take(bits* b, int k, uint32_t* v) {
  if (b->n < k) refill(b);
  if (b->n < k) return false;
  *v = (uint32_t)(b->buf & ((1u << k) - 1));
  b->buf >>= k;
  b->n -= k;
  return true;
}

/* Builds the decoder of `n` code lengths; false for an over-subscribed set
 * or (unless it is a single code, which RFC 1951 allows for distances) an
 * incomplete one. */
static bool build(huffman* h, const uint8_t* len, int n) {
  memset(h->count, 0, sizeof h->count);
  for (int i = 0; i < n; i++) h->count[len[i]]++;
  h->count[0] = 0;
  int left = 1;
  for (int k = 1; k <= MAX_BITS; k++) {
    left = (left << 1) - h->count[k];
    if (left < 0) return false;
  }
  uint16_t offs[MAX_BITS + 2] = {0};
  for (int k = 1; k <= MAX_BITS; k++) offs[k + 1] = (uint16_t)(offs[k] + h->count[k]);
  for (int i = 0; i < n; i++)
    if (len[i]) h->symbol[offs[len[i]]++] = (uint16_t)i;
  int used = offs[MAX_BITS + 1];
  if (left > 0 && used > 1) return false;
  /* Fast table: each code of length <= FAST_BITS, bit-reversed (deflate sends
   * codes MSB first into an LSB-first stream), fills every slot it prefixes. */
  memset(h->fast, 0, sizeof h->fast);
  uint32_t code = 0;
  int s = 0;
  for (int k = 1; k <= FAST_BITS; k++) {
    for (int c = 0; c < h->count[k]; c++, code++, s++) {
      uint32_t rev = 0;
      for (int i = 0; i < k; i++) rev |= ((code >> i) & 1u) << (k - 1 - i);
      for (uint32_t f = rev; f < (1u << FAST_BITS); f += 1u << k)
        h->fast[f] = (uint16_t)((h->symbol[s] << 4) | k);
    }
    code <<= 1;
  }
  return true;
}

/* One symbol, or -1 at a code the table does not hold or the stream's end. */
static int decode(bits* b, const huffman* h) {
  if (b->n < MAX_BITS) refill(b);
  uint16_t e = h->fast[b->buf & ((1u << FAST_BITS) - 1)];
  if (e && (e & 15) <= b->n) {
    b->buf >>= e & 15;
    b->n -= e & 15;
    return e >> 4;
  }
  /* Canonical walk: code, first code and index of each length in turn. */
  int code = 0, first = 0, index = 0;
  for (int k = 1; k <= MAX_BITS && k <= b->n; k++) {
    code |= (int)((b->buf >> (k - 1)) & 1u);
    int count = h->count[k];
    if (code - first < count) {
      b->buf >>= k;
      b->n -= k;
      return h->symbol[index + code - first];
    }
    index += count;
    first = (first + count) << 1;
    code <<= 1;
  }
  return -1;
}

static const uint16_t LEN_BASE[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                      31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t LEN_EXTRA[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t DIST_BASE[30] = {1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,   65,    97,    129,
                                       193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t DIST_EXTRA[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                       6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

typedef struct sink {
  uint8_t* out;
  size_t size, at;
} sink;

static pfw_status codes(bits* b, sink* o, const huffman* lit, const huffman* dist) {
  for (;;) {
    int sym = decode(b, lit);
    if (sym < 0) return bad(b, "holds an invalid literal/length code or ends early");
    if (sym < 256) {
      if (o->at == o->size) return bad(b, "holds more than the image's size");
      o->out[o->at++] = (uint8_t)sym;
      continue;
    }
    if (sym == 256) return PFW_OK;
    sym -= 257;
    uint32_t extra = 0;
    if (sym >= 29 || !take(b, LEN_EXTRA[sym], &extra)) return bad(b, "holds an invalid length");
    size_t len = LEN_BASE[sym] + extra;
    int d = decode(b, dist);
    if (d < 0 || d >= 30 || !take(b, DIST_EXTRA[d], &extra)) return bad(b, "holds an invalid distance code");
    size_t back = DIST_BASE[d] + extra;
    if (back > o->at) return bad(b, "refers back before the start of the output");
    if (len > o->size - o->at) return bad(b, "holds more than the image's size");
    uint8_t* p = o->out + o->at;
    for (size_t i = 0; i < len; i++) p[i] = p[(ptrdiff_t)i - (ptrdiff_t)back]; /* overlap repeats */
    o->at += len;
  }
}

static pfw_status stored(bits* b, sink* o) {
  b->buf >>= b->n & 7; /* to a byte boundary */
  b->n -= b->n & 7;
  uint32_t len, nlen;
  if (!take(b, 16, &len) || !take(b, 16, &nlen)) return bad(b, "ends inside a stored block's header");
  if ((len ^ 0xffffu) != nlen) return bad(b, "has a stored block whose length and its complement disagree");
  /* Whole bytes still in the bit buffer come first, then the input. */
  for (; len && b->n >= 8; len--) {
    if (o->at == o->size) return bad(b, "holds more than the image's size");
    o->out[o->at++] = (uint8_t)b->buf;
    b->buf >>= 8;
    b->n -= 8;
  }
  if (len > b->size - b->pos) return bad(b, "ends inside a stored block");
  if (len > o->size - o->at) return bad(b, "holds more than the image's size");
  memcpy(o->out + o->at, b->in + b->pos, len);
  o->at += len;
  b->pos += len;
  return PFW_OK;
}

static pfw_status fixed(bits* b, sink* o) {
  huffman lit, dist; /* rebuilt per block: cheap, and no shared state between threads */
  uint8_t len[MAX_LITLEN];
  for (int i = 0; i < MAX_LITLEN; i++) len[i] = (uint8_t)(i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8);
  build(&lit, len, MAX_LITLEN);
  memset(len, 5, MAX_DIST);
  build(&dist, len, MAX_DIST);
  return codes(b, o, &lit, &dist);
}

static pfw_status dynamic(bits* b, sink* o) {
  static const uint8_t ORDER[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
  uint32_t hlit, hdist, hclen, v;
  if (!take(b, 5, &hlit) || !take(b, 5, &hdist) || !take(b, 4, &hclen)) return bad(b, "ends inside a block header");
  hlit += 257;
  hdist += 1;
  hclen += 4;
  if (hlit > 286 || hdist > 30) return bad(b, "has a block header with too many codes");
  uint8_t len[MAX_LITLEN + MAX_DIST] = {0};
  for (uint32_t i = 0; i < hclen; i++) {
    if (!take(b, 3, &v)) return bad(b, "ends inside a block header");
    len[ORDER[i]] = (uint8_t)v;
  }
  huffman lens, lit, dist;
  if (!build(&lens, len, 19)) return bad(b, "has an invalid code-length code");
  memset(len, 0, sizeof len);
  for (uint32_t i = 0; i < hlit + hdist;) {
    int sym = decode(b, &lens);
    if (sym < 0) return bad(b, "holds an invalid code length");
    if (sym < 16) {
      len[i++] = (uint8_t)sym;
      continue;
    }
    uint8_t rep = 0;
    uint32_t n;
    if (sym == 16) {
      if (i == 0) return bad(b, "repeats a code length before the first");
      rep = len[i - 1];
      if (!take(b, 2, &n)) return bad(b, "ends inside a block header");
      n += 3;
    } else if (!take(b, sym == 17 ? 3 : 7, &n)) {
      return bad(b, "ends inside a block header");
    } else {
      n += sym == 17 ? 3 : 11;
    }
    if (n > hlit + hdist - i) return bad(b, "repeats code lengths past the last code");
    memset(len + i, rep, n);
    i += n;
  }
  if (!len[256]) return bad(b, "has a block without an end-of-block code");
  if (!build(&lit, len, (int)hlit) || !build(&dist, len + hlit, (int)hdist))
    return bad(b, "has an invalid literal/length or distance code");
  return codes(b, o, &lit, &dist);
}

pfw_status pfw_zlib_inflate(const char* what, const uint8_t* in, size_t in_size, uint8_t* out, size_t out_size,
                            size_t* written) {
  *written = 0;
  if (in_size < 6) return pfw_error(PFW_ERR_INVALID_ARGUMENT, "%s: a zlib stream of %zu bytes is too short", what, in_size);
  if ((in[0] & 15) != 8 || (in[0] >> 4) > 7 || ((in[0] << 8) | in[1]) % 31 != 0)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "%s: not a zlib deflate stream (header bytes 0x%02x 0x%02x at its start)",
                     what, in[0], in[1]);
  if (in[1] & 0x20) return pfw_error(PFW_ERR_UNSUPPORTED, "%s: zlib stream with a preset dictionary", what);
  bits b = {what, in + 2, in_size - 2, 0, 0, 0, 2};
  sink o = {out, out_size, 0};
  uint32_t final = 0, type;
  while (!final) {
    if (!take(&b, 1, &final) || !take(&b, 2, &type)) return bad(&b, "ends before its last block");
    pfw_status st = type == 0   ? stored(&b, &o)
                    : type == 1 ? fixed(&b, &o)
                    : type == 2 ? dynamic(&b, &o)
                                : bad(&b, "has a block of reserved type 3");
    if (st != PFW_OK) return st;
  }
  /* Adler-32 of the output follows on a byte boundary. */
  b.buf >>= b.n & 7;
  b.n -= b.n & 7;
  uint32_t hi, lo;
  if (!take(&b, 16, &hi) || !take(&b, 16, &lo)) return bad(&b, "ends before its Adler-32 checksum");
  uint32_t want = ((hi & 0xff) << 24) | ((hi >> 8) << 16) | ((lo & 0xff) << 8) | (lo >> 8);
  uint32_t s1 = 1, s2 = 0;
  for (size_t i = 0; i < o.at;) {
    size_t end = o.at - i > 5552 ? i + 5552 : o.at; /* sums stay below 2^32 */
    for (; i < end; i++) {
      s1 += out[i];
      s2 += s1;
    }
    s1 %= 65521;
    s2 %= 65521;
  }
  if (((s2 << 16) | s1) != want)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "%s: Adler-32 checksum mismatch (stream says 0x%08x, data gives 0x%08x)",
                     what, want, (s2 << 16) | s1);
  *written = o.at;
  return PFW_OK;
}
