/* The RE2-syntax parser: pattern bytes to the AST that regex.c compiles
 * (character classes as sorted code point ranges). */
#include "regex_internal.h"

/* Strict UTF-8: an invalid or truncated sequence is one byte of U+FFFD. */
uint32_t pfw_re_decode(const unsigned char* p, size_t n, size_t* w) {
  uint32_t c = p[0], cp, min;
  size_t k;
  *w = 1;
  if (c < 0x80) return c;
  if (c >= 0xC2 && c <= 0xDF) k = 1, cp = c & 0x1F, min = 0x80;
  else if (c >= 0xE0 && c <= 0xEF) k = 2, cp = c & 0x0F, min = 0x800;
  else if (c >= 0xF0 && c <= 0xF4) k = 3, cp = c & 0x07, min = 0x10000;
  else return 0xFFFD;
  if (n <= k) return 0xFFFD;
  for (size_t j = 1; j <= k; j++) {
    if ((p[j] & 0xC0) != 0x80) return 0xFFFD;
    cp = cp << 6 | (p[j] & 0x3F);
  }
  if (cp < min || cp > MAX_RUNE || (cp >= 0xD800 && cp <= 0xDFFF)) return 0xFFFD;
  *w = k + 1;
  return cp;
}

bool pfw_re_bad_utf8(uint32_t c, size_t w) { return c == 0xFFFD && w == 1; }

int32_t pfw_re_fail(parser* ps, pfw_status st, size_t at, const char* what) {
  if (ps->st != PFW_OK) return -1; /* keep the first error */
  /* Up to 40 bytes of the pattern, whole characters, controls and bad bytes as '?'. */
  char ex[48];
  size_t i = 0, k = 0, w = 1;
  while (i < ps->n) {
    uint32_t c = pfw_re_decode(ps->s + i, ps->n - i, &w);
    if (i + w > 40) break;
    if (pfw_re_bad_utf8(c, w) || c < 0x20 || c == 0x7F) ex[k++] = '?';
    else for (size_t j = 0; j < w; j++) ex[k++] = (char)ps->s[i + j];
    i += w;
  }
  ex[k] = '\0';
  const char* more = i < ps->n ? "..." : "";
  if (at == NOPOS) pfw_error(st, "regex '%s%s': %s", ex, more, what);
  else pfw_error(st, "regex '%s%s': %s at byte %zu", ex, more, what, at);
  ps->st = st;
  return -1;
}

static bool bad(parser* ps, size_t at, const char* what) {
  pfw_re_fail(ps, PFW_ERR_INVALID_MODEL, at, what);
  return false;
}

/* Room for `need` elements; NULL (after setting the error) when out of memory. */
void* pfw_re_grow(parser* ps, void* p, size_t* cap, size_t need, size_t size) {
  if (need <= *cap) return p;
  size_t c = *cap ? *cap : 16;
  while (c < need) c *= 2;
  void* q = realloc(p, c * size);
  if (!q) pfw_re_fail(ps, PFW_ERR_OUT_OF_MEMORY, NOPOS, "out of memory");
  else *cap = c;
  return q;
}

static int32_t new_node(parser* ps, int type, uint32_t a, uint32_t b) {
  if (ps->nnodes >= MAX_NODES) return pfw_re_fail(ps, PFW_ERR_UNSUPPORTED, ps->i, "pattern too large");
  node* q = pfw_re_grow(ps, ps->nodes, &ps->capnodes, ps->nnodes + 1, sizeof *q);
  if (!q) return -1;
  ps->nodes = q;
  q[ps->nnodes] = (node){type, a, b, -1, -1, 1};
  return (int32_t)ps->nnodes++;
}

/* ---- character classes: sets of code point ranges ---------------------- */

static bool rs_add(parser* ps, rset* s, uint32_t lo, uint32_t hi) {
  range* r = pfw_re_grow(ps, s->r, &s->cap, s->n + 1, sizeof *r);
  if (!r) return false;
  s->r = r;
  r[s->n++] = (range){lo, hi};
  return true;
}

static int range_cmp(const void* a, const void* b) {
  uint32_t x = ((const range*)a)->lo, y = ((const range*)b)->lo;
  return x < y ? -1 : x > y;
}

/* Sorted, disjoint and non-adjacent, so lookups can binary-search. */
static void rs_norm(rset* s) {
  if (s->n < 2) return;
  qsort(s->r, s->n, sizeof *s->r, range_cmp);
  size_t k = 0;
  for (size_t i = 1; i < s->n; i++) {
    if (s->r[i].lo > s->r[k].hi + 1) s->r[++k] = s->r[i];
    else if (s->r[i].hi > s->r[k].hi) s->r[k].hi = s->r[i].hi;
  }
  s->n = k + 1;
}

static bool rs_negate(parser* ps, rset* s) {
  rs_norm(s);
  range* r = pfw_re_grow(ps, s->r, &s->cap, s->n + 1, sizeof *r);
  if (!r) return false;
  s->r = r;
  /* In place: gap k is written after range k is read, and k never passes i. */
  size_t k = 0;
  uint32_t next = 0;
  for (size_t i = 0; i < s->n; i++) {
    range cur = r[i];
    if (cur.lo > next) r[k++] = (range){next, cur.lo - 1};
    next = cur.hi + 1;
  }
  if (next <= MAX_RUNE) r[k++] = (range){next, MAX_RUNE};
  s->n = k;
  return true;
}

/* Simple case folding: ASCII, Latin-1, basic Greek and Cyrillic, and the
 * Kelvin, Angstrom, long s and micro signs. fold_rep maps a code point to
 * its orbit's representative; fold_orbit lists the orbit. */
static uint32_t fold_rep(uint32_t c) {
  if (c >= 'a' && c <= 'z') return c - 32;
  if (c == 0x17F) return 'S';
  if (c == 0x212A) return 'K';
  if (c == 0x212B) return 0xC5;
  if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 32;
  if (c == 0xFF) return 0x178;
  if (c == 0xB5 || c == 0x3BC) return 0x39C;
  if (c == 0x3C2) return 0x3A3;
  if ((c >= 0x3B1 && c <= 0x3C9) || (c >= 0x430 && c <= 0x44F)) return c - 32;
  if (c >= 0x450 && c <= 0x45F) return c - 80;
  return c;
}

static int fold_orbit(uint32_t c, uint32_t out[4]) {
  uint32_t r = fold_rep(c);
  int n = 0;
  out[n++] = r;
  if ((r >= 'A' && r <= 'Z') || (r >= 0xC0 && r <= 0xDE && r != 0xD7) ||
      (r >= 0x391 && r <= 0x3A9 && r != 0x3A2) || (r >= 0x410 && r <= 0x42F))
    out[n++] = r + 32;
  else if (r >= 0x400 && r <= 0x40F) out[n++] = r + 80;
  else if (r == 0x178) out[n++] = 0xFF;
  if (r == 'K') out[n++] = 0x212A;
  if (r == 'S') out[n++] = 0x17F;
  if (r == 0xC5) out[n++] = 0x212B;
  if (r == 0x39C) out[n++] = 0xB5;
  if (r == 0x3A3) out[n++] = 0x3C2;
  return n;
}

static bool rs_fold(parser* ps, rset* s) {
  static const range dom[] = {{0x41, 0x5A}, {0x61, 0x7A}, {0xB5, 0xB5}, {0xC0, 0xFF}, {0x178, 0x178},
                              {0x17F, 0x17F}, {0x391, 0x3C9}, {0x400, 0x45F}, {0x212A, 0x212B}};
  rs_norm(s); /* disjoint ranges: at most ~300 code points are visited */
  size_t n0 = s->n;
  for (size_t i = 0; i < n0; i++) {
    range cur = s->r[i];
    for (size_t d = 0; d < sizeof dom / sizeof dom[0]; d++) {
      uint32_t lo = cur.lo > dom[d].lo ? cur.lo : dom[d].lo, hi = cur.hi < dom[d].hi ? cur.hi : dom[d].hi;
      for (uint32_t c = lo; c <= hi; c++) {
        uint32_t o[4];
        int m = fold_orbit(c, o);
        for (int j = 0; j < m; j++)
          if (!rs_add(ps, s, o[j], o[j])) return false;
      }
    }
  }
  rs_norm(s);
  return true;
}

/* Named ASCII groups as byte pairs lo,hi; the last is Perl's \s. */
typedef struct { const char* name; const char* r; int n; } group;
static const group groups[] = {
    {"alnum", "09AZaz", 3}, {"alpha", "AZaz", 2},   {"ascii", "\0\x7f", 1},      {"blank", "\t\t  ", 2},
    {"cntrl", "\0\x1f\x7f\x7f", 2}, {"digit", "09", 1}, {"graph", "!~", 1},   {"lower", "az", 1},
    {"print", " ~", 1},     {"punct", "!/:@[`{~", 4}, {"space", "\t\r  ", 2}, {"upper", "AZ", 1},
    {"word", "09AZaz__", 4}, {"xdigit", "09AFaf", 3}, {"", "\t\n\f\r  ", 3}};
enum { G_DIGIT = 5, G_WORD = 12, G_PERLSPACE = 14 };

/* \d \w \s and their complements \D \W \S; -1 for other letters. */
static int perl_group(unsigned char c) {
  c |= 0x20;
  return c == 'd' ? G_DIGIT : c == 'w' ? G_WORD : c == 's' ? G_PERLSPACE : -1;
}

/* Adds group g (or its complement) to dst. A complement under (?i) is taken
 * after folding, as RE2 does, so (?i)\W still excludes 'k' and 'K'. */
static bool add_group(parser* ps, rset* dst, const group* g, bool neg) {
  rset* s = neg ? &ps->aux : dst;
  if (neg) s->n = 0;
  for (int k = 0; k < g->n; k++)
    if (!rs_add(ps, s, (unsigned char)g->r[2 * k], (unsigned char)g->r[2 * k + 1])) return false;
  if (!neg) return true;
  if (((ps->flags & F_FOLD) && !rs_fold(ps, s)) || !rs_negate(ps, s)) return false;
  for (size_t k = 0; k < s->n; k++)
    if (!rs_add(ps, dst, s->r[k].lo, s->r[k].hi)) return false;
  return true;
}

/* Turns ps->cls into a node: one literal, or ranges moved to the pool. */
static int32_t finish_class(parser* ps, bool neg, bool fold) {
  rset* c = &ps->cls;
  if ((fold && !rs_fold(ps, c)) || (neg && !rs_negate(ps, c))) return -1;
  rs_norm(c);
  if (c->n == 1 && c->r[0].lo == c->r[0].hi) return new_node(ps, N_LIT, c->r[0].lo, 0);
  size_t start = ps->pool.n;
  for (size_t k = 0; k < c->n; k++)
    if (!rs_add(ps, &ps->pool, c->r[k].lo, c->r[k].hi)) return -1;
  return new_node(ps, N_CLASS, (uint32_t)start, (uint32_t)c->n);
}

static int32_t literal(parser* ps, uint32_t c) {
  uint32_t o[4];
  int m = (ps->flags & F_FOLD) ? fold_orbit(c, o) : 1;
  if (m == 1) return new_node(ps, N_LIT, c, 0);
  ps->cls.n = 0;
  for (int j = 0; j < m; j++)
    if (!rs_add(ps, &ps->cls, o[j], o[j])) return -1;
  return finish_class(ps, false, false);
}

/* ---- parser --------------------------------------------------------------- */

static bool is_hex(unsigned c) { return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); }
static uint32_t hex_val(unsigned c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; }
bool pfw_re_is_word(int32_t c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

/* A single-character escape at ps->i (the backslash), as RE2's ParseEscape. */
static bool escape_char(parser* ps, uint32_t* out) {
  const unsigned char* s = ps->s;
  size_t at = ps->i, n = ps->n, w;
  if (at + 1 >= n) return bad(ps, at, "trailing \\");
  uint32_t c = pfw_re_decode(s + at + 1, n - at - 1, &w), v = 0;
  ps->i = at + 1 + w;
  if (c >= '0' && c <= '7') {
    /* \0 and \1-\7 followed by an octal digit; a lone \1-\7 is a backreference. */
    if (c != '0' && !(ps->i < n && s[ps->i] >= '0' && s[ps->i] <= '7')) return bad(ps, at, "invalid escape sequence");
    v = c - '0';
    for (int k = 0; k < 2 && ps->i < n && s[ps->i] >= '0' && s[ps->i] <= '7'; k++) v = v * 8 + (s[ps->i++] - '0');
    *out = v;
    return true;
  }
  switch (c) {
    case 'n': *out = '\n'; return true;
    case 'r': *out = '\r'; return true;
    case 't': *out = '\t'; return true;
    case 'a': *out = '\a'; return true;
    case 'f': *out = '\f'; return true;
    case 'v': *out = '\v'; return true;
  }
  if (c == 'x' && ps->i < n && s[ps->i] == '{') { /* \x{h...}: one or more digits */
    size_t d0 = ++ps->i;
    for (; ps->i < n && is_hex(s[ps->i]) && v <= MAX_RUNE; ps->i++) v = v * 16 + hex_val(s[ps->i]);
    if (ps->i >= n || s[ps->i] != '}' || ps->i == d0 || v > MAX_RUNE) return bad(ps, at, "invalid escape sequence");
    ps->i++;
    *out = v;
    return true;
  }
  if (c == 'x') { /* \xhh: exactly two digits */
    if (ps->i + 1 >= n || !is_hex(s[ps->i]) || !is_hex(s[ps->i + 1])) return bad(ps, at, "invalid escape sequence");
    *out = hex_val(s[ps->i]) * 16 + hex_val(s[ps->i + 1]);
    ps->i += 2;
    return true;
  }
  /* Any other ASCII non-alphanumeric is itself ("\\." "\\_" "\\ "). */
  if (c < 0x80 && (!pfw_re_is_word((int32_t)c) || c == '_')) {
    *out = c;
    return true;
  }
  return bad(ps, at, "invalid escape sequence");
}

static bool class_char(parser* ps, uint32_t* out) {
  size_t w;
  if (ps->i >= ps->n) return bad(ps, ps->n, "missing ]");
  if (ps->s[ps->i] == '\\') return escape_char(ps, out);
  *out = pfw_re_decode(ps->s + ps->i, ps->n - ps->i, &w);
  ps->i += w;
  return true;
}

/* [:name:] or [:^name:] at ps->i: 1 parsed, 0 not a name (a literal '['), -1 error. */
static int parse_posix(parser* ps) {
  const unsigned char* s = ps->s;
  size_t i = ps->i, q = i + 2;
  while (q + 1 < ps->n && !(s[q] == ':' && s[q + 1] == ']')) q++;
  if (q + 1 >= ps->n) return 0;
  bool neg = s[i + 2] == '^';
  size_t b = i + 2 + neg;
  for (size_t g = 0; g + 1 < sizeof groups / sizeof groups[0]; g++) {
    if (strlen(groups[g].name) == q - b && memcmp(groups[g].name, s + b, q - b) == 0) {
      ps->i = q + 2;
      return add_group(ps, &ps->cls, &groups[g], neg) ? 1 : -1;
    }
  }
  return pfw_re_fail(ps, PFW_ERR_INVALID_MODEL, i, "invalid character class range");
}

static int32_t parse_class(parser* ps) {
  const unsigned char* s = ps->s;
  bool neg = false, first = true;
  ps->i++; /* '[' */
  if (ps->i < ps->n && s[ps->i] == '^') neg = true, ps->i++;
  ps->cls.n = 0;
  while (ps->i < ps->n && (s[ps->i] != ']' || first)) {
    size_t at = ps->i;
    first = false;
    if (s[at] == '[' && at + 2 < ps->n && s[at + 1] == ':') {
      int r = parse_posix(ps);
      if (r < 0) return -1;
      if (r > 0) continue;
    }
    if (s[at] == '\\' && at + 1 < ps->n) {
      if (s[at + 1] == 'p' || s[at + 1] == 'P')
        return pfw_re_fail(ps, PFW_ERR_UNSUPPORTED, at, "Unicode classes \\p and \\P are not supported");
      int g = perl_group(s[at + 1]);
      if (g >= 0) {
        ps->i += 2;
        if (!add_group(ps, &ps->cls, &groups[g], s[at + 1] < 'a')) return -1;
        continue;
      }
    }
    uint32_t lo, hi;
    if (!class_char(ps, &lo)) return -1;
    hi = lo;
    if (ps->i + 1 < ps->n && s[ps->i] == '-' && s[ps->i + 1] != ']') {
      ps->i++;
      if (!class_char(ps, &hi)) return -1;
      if (hi < lo) return pfw_re_fail(ps, PFW_ERR_INVALID_MODEL, at, "invalid character class range");
    }
    if (!rs_add(ps, &ps->cls, lo, hi)) return -1;
  }
  if (ps->i >= ps->n) return pfw_re_fail(ps, PFW_ERR_INVALID_MODEL, ps->n, "missing ]");
  ps->i++;
  return finish_class(ps, neg, ps->flags & F_FOLD);
}

static int32_t parse_escape_atom(parser* ps) {
  size_t at = ps->i;
  if (at + 1 < ps->n) {
    unsigned char c = ps->s[at + 1];
    uint32_t kind = c == 'b' ? A_WORD : c == 'B' ? A_NOTWORD : c == 'A' ? A_BOT : A_EOT;
    int g = perl_group(c);
    switch (c) {
      case 'b': case 'B': case 'A': case 'z':
        ps->i += 2;
        return new_node(ps, N_ASSERT, kind, 0);
      case 'C': return pfw_re_fail(ps, PFW_ERR_UNSUPPORTED, at, "\\C (any byte) is not supported");
      case 'p': case 'P': return pfw_re_fail(ps, PFW_ERR_UNSUPPORTED, at, "Unicode classes \\p and \\P are not supported");
      case 'd': case 'D': case 's': case 'S': case 'w': case 'W':
        ps->i += 2;
        ps->cls.n = 0;
        if (!add_group(ps, &ps->cls, &groups[g], c < 'a')) return -1;
        return finish_class(ps, false, ps->flags & F_FOLD);
    }
  }
  uint32_t c;
  if (!escape_char(ps, &c)) return -1;
  return literal(ps, c);
}


/* (...), (?:...), (?P<name>...), (?<name>...), (?flags:...) or (?flags).
 * Returns -2 for a bare flag group, which makes no node. */
static int32_t parse_group(parser* ps) {
  const unsigned char* s = ps->s;
  size_t open = ps->i, n = ps->n;
  int saved = ps->flags;
  ps->i++;
  if (ps->i < n && s[ps->i] == '?') {
    size_t b = 0; /* start of a capture name */
    if (ps->i + 2 < n && s[ps->i + 1] == 'P' && s[ps->i + 2] == '<') b = ps->i + 3;
    else if (ps->i + 2 < n && s[ps->i + 1] == '<' && s[ps->i + 2] != '=' && s[ps->i + 2] != '!') b = ps->i + 2;
    if (b) {
      size_t e = b;
      while (e < n && s[e] != '>' && (pfw_re_is_word(s[e]) || s[e] >= 0x80)) e++;
      if (e >= n || s[e] != '>' || e == b) return pfw_re_fail(ps, PFW_ERR_INVALID_MODEL, open, "invalid named capture group");
      gname* q = pfw_re_grow(ps, ps->names, &ps->capnames, ps->nnames + 1, sizeof *q);
      if (!q) return -1;
      ps->names = q;
      q[ps->nnames++] = (gname){open, e - b, s + b};
      ps->i = e + 1;
    } else {
      bool neg = false, saw = false, done = false;
      int f = ps->flags;
      for (ps->i++; !done; ps->i++) {
        int bit = 0;
        switch (ps->i < n ? s[ps->i] : 0) {
          case 'i': bit = F_FOLD; break;
          case 'm': bit = F_MULTI; break;
          case 's': bit = F_DOTNL; break;
          case 'U': bit = 0; break; /* ungreedy: no effect on a full-match boolean */
          case '-':
            if (neg) return pfw_re_fail(ps, PFW_ERR_INVALID_MODEL, open, "invalid perl operator");
            neg = true, saw = false;
            continue;
          case ':': case ')': done = true; continue;
          default: return pfw_re_fail(ps, PFW_ERR_INVALID_MODEL, open, "invalid perl operator");
        }
        saw = true;
        f = neg ? f & ~bit : f | bit;
      }
      if (neg && !saw) return pfw_re_fail(ps, PFW_ERR_INVALID_MODEL, open, "invalid perl operator");
      ps->flags = f;
      if (s[ps->i - 1] == ')') return -2; /* flags last to the end of the enclosing group */
    }
  }
  if (ps->depth >= MAX_DEPTH) return pfw_re_fail(ps, PFW_ERR_UNSUPPORTED, open, "nested too deep");
  ps->depth++;
  int32_t r = pfw_re_parse_alt(ps);
  ps->depth--;
  if (r < 0) return -1;
  if (ps->i >= n || s[ps->i] != ')') return pfw_re_fail(ps, PFW_ERR_INVALID_MODEL, n, "missing )");
  ps->i++;
  ps->flags = saved;
  return r;
}

/* A decimal count as RE2 reads it: no leading zeros, under 10^9. */
static bool parse_int(parser* ps, size_t* j, uint32_t* v) {
  const unsigned char* s = ps->s;
  size_t k = *j;
  if (k >= ps->n || s[k] < '0' || s[k] > '9') return false;
  if (s[k] == '0' && k + 1 < ps->n && s[k + 1] >= '0' && s[k + 1] <= '9') return false;
  for (*v = 0; k < ps->n && s[k] >= '0' && s[k] <= '9'; k++) {
    if (*v >= 100000000) return false;
    *v = *v * 10 + (s[k] - '0');
  }
  *j = k;
  return true;
}

/* n}, n,} or n,m} at *i, just after a '{'; anything else makes the '{' a
 * literal (as in RE2). */
static bool parse_braces(parser* ps, size_t* i, uint32_t* lo, uint32_t* hi) {
  size_t j = *i;
  if (!parse_int(ps, &j, lo)) return false;
  *hi = *lo;
  if (j < ps->n && ps->s[j] == ',') {
    j++;
    if (j < ps->n && ps->s[j] == '}') *hi = INF;
    else if (!parse_int(ps, &j, hi)) return false;
  }
  if (j >= ps->n || ps->s[j] != '}') return false;
  *i = j + 1;
  return true;
}

/* A sequence of items up to '|', ')' or the end; quantifiers wrap the last. */
static int32_t parse_cat(parser* ps) {
  const unsigned char* s = ps->s;
  int32_t first = -1, last = -1, prev = -1;
  uint32_t weight = 1;
  bool last_rep = false;
  while (ps->i < ps->n && s[ps->i] != '|' && s[ps->i] != ')') {
    size_t at = ps->i, j = at + 1;
    uint32_t lo = 0, hi = INF;
    unsigned char c = s[at];
    if (c == '*' || c == '+' || c == '?' || (c == '{' && parse_braces(ps, &j, &lo, &hi))) {
      if (c == '+') lo = 1;
      if (c == '?') hi = 1;
      if (j < ps->n && s[j] == '?') j++; /* lazy: same boolean */
      if (last < 0) return pfw_re_fail(ps, PFW_ERR_INVALID_MODEL, at, "missing argument to repetition operator");
      if (last_rep) return pfw_re_fail(ps, PFW_ERR_INVALID_MODEL, at, "bad repetition operator");
      if (lo > MAX_REPEAT || (hi != INF && hi > MAX_REPEAT))
        return pfw_re_fail(ps, PFW_ERR_INVALID_MODEL, at, "invalid repetition size (count over 1000)");
      if (hi < lo) return pfw_re_fail(ps, PFW_ERR_INVALID_MODEL, at, "invalid repetition size");
      uint32_t m = hi != INF ? hi : lo, w = ps->nodes[last].weight * (m ? m : 1);
      if (w > MAX_REPEAT) return pfw_re_fail(ps, PFW_ERR_INVALID_MODEL, at, "invalid repetition size (nested counts over 1000)");
      int32_t r = new_node(ps, N_REP, lo, hi);
      if (r < 0) return -1;
      ps->nodes[r].kid = last, ps->nodes[r].weight = w;
      if (prev >= 0) ps->nodes[prev].next = r;
      else first = r;
      last = r, ps->i = j, last_rep = true;
      if (w > weight) weight = w;
      continue;
    }
    bool quoted = c == '\\' && at + 1 < ps->n && s[at + 1] == 'Q';
    if (quoted) ps->i += 2;
    do { /* one item, or each character of \Q...\E */
      int32_t item;
      if (quoted) {
        if (ps->i >= ps->n) break;
        if (s[ps->i] == '\\' && ps->i + 1 < ps->n && s[ps->i + 1] == 'E') {
          ps->i += 2;
          break;
        }
        size_t w;
        uint32_t ch = pfw_re_decode(s + ps->i, ps->n - ps->i, &w);
        ps->i += w;
        item = literal(ps, ch);
      } else if (c == '(') {
        item = parse_group(ps);
        if (item == -2) break;
      } else if (c == '[') {
        item = parse_class(ps);
      } else if (c == '.') {
        bool nl = ps->flags & F_DOTNL; /* '.' is [^\n], or everything under (?s) */
        ps->i++;
        ps->cls.n = 0;
        item = rs_add(ps, &ps->cls, nl ? 0 : '\n', nl ? MAX_RUNE : '\n') ? finish_class(ps, !nl, false) : -1;
      } else if (c == '^' || c == '$') {
        bool multi = ps->flags & F_MULTI;
        ps->i++;
        item = new_node(ps, N_ASSERT, c == '^' ? (multi ? A_BOL : A_BOT) : (multi ? A_EOL : A_EOT), 0);
      } else if (c == '\\') {
        item = parse_escape_atom(ps);
      } else {
        size_t w;
        uint32_t ch = pfw_re_decode(s + at, ps->n - at, &w);
        ps->i += w;
        item = literal(ps, ch);
      }
      if (item < 0) return -1;
      /* Only a real item ends a repetition: "a*(?i)*" stays an error, so
       * repetitions nest only through groups and depth stays bounded. */
      last_rep = false;
      if (last >= 0) ps->nodes[last].next = item;
      else first = item;
      prev = last, last = item;
      if (ps->nodes[item].weight > weight) weight = ps->nodes[item].weight;
    } while (quoted);
  }
  if (first < 0) return new_node(ps, N_EMPTY, 0, 0);
  if (first == last) return first;
  int32_t r = new_node(ps, N_CAT, 0, 0);
  if (r >= 0) ps->nodes[r].kid = first, ps->nodes[r].weight = weight;
  return r;
}

int32_t pfw_re_parse_alt(parser* ps) {
  int32_t first = parse_cat(ps), last = first;
  if (first < 0 || ps->i >= ps->n || ps->s[ps->i] != '|') return first;
  int32_t r = new_node(ps, N_ALT, 0, 0);
  if (r < 0) return -1;
  ps->nodes[r].kid = first;
  uint32_t weight = ps->nodes[first].weight;
  while (ps->i < ps->n && ps->s[ps->i] == '|') {
    ps->i++;
    int32_t k = parse_cat(ps);
    if (k < 0) return -1;
    ps->nodes[last].next = k, last = k;
    if (ps->nodes[k].weight > weight) weight = ps->nodes[k].weight;
  }
  ps->nodes[r].weight = weight;
  return r;
}
