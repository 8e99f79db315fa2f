/* String ops: StringConcat, StringSplit, StringNormalizer, RegexFullMatch.
 * Elements are pfw_string pairs (internal.h). A result that is a piece of an
 * input (a split's substrings, a string kept as it is) points into that
 * input's bytes; new bytes come from the interpreter's string heap. */
#include <stdlib.h>

#include "ops_common.h"
#include "regex.h"
#include "utf8case.h"

/* Ops that read every byte of input 0's strings read at most the memory
 * limit of them: elements that Expand or Tile copied share their bytes, so a
 * small tensor can stand for more text than memory holds. */
static pfw_status text_fits(const pfw_node* node) {
  const pfw_tensor* x = node->in[0];
  const pfw_string* s = x->data;
  size_t limit = node->mem_limit ? node->mem_limit : SIZE_MAX / 2, total = 0;
  for (int64_t i = 0, n = pfw_numel(x); i < n; i++) {
    if (s[i].size > limit - total)
      return pfw_error(PFW_ERR_UNSUPPORTED, "input 0's strings hold more than the memory limit of %zu bytes in all "
                       "(each element counted, shared bytes or not)", limit);
    total += s[i].size;
  }
  return PFW_OK;
}

static pfw_status string_inputs(const pfw_node* node, int32_t n_in) {
  pfw_status st = pfw_need_io(node, n_in, n_in);
  for (int32_t i = 0; i < n_in && st == PFW_OK; i++) st = pfw_check_input(node, i, PFW_STRING, -1);
  return st;
}

/* ---- StringConcat: Z = X + Y, broadcast ---------------------------------- */

typedef struct concat_ctx {
  size_t total;         /* first pass: bytes of all results */
  char* at;             /* second pass: where the next result goes */
} concat_ctx;

static void concat_size(const void* ctx, const char* const* in, const int64_t* s, char* out, int64_t n) {
  concat_ctx* c = (concat_ctx*)ctx;
  const pfw_string *x = (const pfw_string*)in[0], *y = (const pfw_string*)in[1];
  for (int64_t i = 0; i < n; i++) {
    size_t add = x[i * s[0]].size + y[i * s[1]].size;
    c->total = add > SIZE_MAX / 2 - c->total ? SIZE_MAX / 2 : c->total + add;
  }
}

static void concat_write(const void* ctx, const char* const* in, const int64_t* s, char* out, int64_t n) {
  concat_ctx* c = (concat_ctx*)ctx;
  const pfw_string *x = (const pfw_string*)in[0], *y = (const pfw_string*)in[1];
  pfw_string* z = (pfw_string*)out;
  for (int64_t i = 0; i < n; i++) {
    pfw_string a = x[i * s[0]], b = y[i * s[1]];
    if (a.size) memcpy(c->at, a.data, a.size);
    if (b.size) memcpy(c->at + a.size, b.data, b.size);
    z[i] = a.size + b.size ? (pfw_string){c->at, a.size + b.size} : (pfw_string){NULL, 0};
    c->at += a.size + b.size;
  }
}

static pfw_status concat_prepare(pfw_node* node) {
  pfw_status st = string_inputs(node, 2);
  return st != PFW_OK ? st : pfw_bcast_prepare(node, 2, PFW_STRING);
}

static pfw_status concat_run(pfw_node* node) {
  if (pfw_numel(node->out[0]) == 0) return PFW_OK;
  pfw_bcast it;
  pfw_bcast_init(&it, 2, PFW_CONST_INPUTS(node), node->out[0]);
  concat_ctx c = {0, NULL};
  pfw_bcast_for(&it, PFW_CONST_INPUTS(node), node->out[0], concat_size, &c);
  if (!(c.at = pfw_str_alloc(node, c.total))) return PFW_ERR_UNSUPPORTED;
  pfw_bcast_for(&it, PFW_CONST_INPUTS(node), node->out[0], concat_write, &c);
  return PFW_OK;
}

const pfw_op pfw_op_StringConcat = {PFW_OP_StringConcat, concat_prepare, concat_run, PFW_OPF_STRINGS};

/* ---- StringSplit ----------------------------------------------------------
 * Y: X's shape + [most pieces of any element], padded with empty strings;
 * Z: each element's piece count. Python's str.split semantics, which ONNX
 * follows: with a delimiter, consecutive ones give empty pieces; without one
 * (absent or ""), runs of whitespace separate and ends are trimmed. */

/* Bytes of the whitespace character at s (Python's str.isspace set), or 0. */
static size_t space_at(const unsigned char* s, size_t n) {
  unsigned c = s[0];
  if (c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f)) return 1;
  if (c == 0xc2 && n >= 2 && (s[1] == 0x85 || s[1] == 0xa0)) return 2;
  if (n < 3) return 0;
  uint32_t cp = (uint32_t)(c & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
  if ((c & 0xf0) != 0xe0 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80) return 0;
  bool space = cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f ||
               cp == 0x205f || cp == 0x3000;
  return space ? 3 : 0;
}

/* Splits s, writing the pieces to out unless it is NULL; returns their
 * count. maxsplit < 0: no limit. */
static int64_t split_one(pfw_string s, const char* delim, size_t dlen, int64_t maxsplit, pfw_string* out) {
  const char* p = s.data;
  size_t n = s.size;
  int64_t count = 0;
#define PIECE(b, e) do { if (out) out[count] = (e) > (b) ? (pfw_string){p + (b), (e) - (b)} : (pfw_string){NULL, 0}; count++; } while (0)
  if (dlen) {
    size_t start = 0;
    for (size_t i = 0; i + dlen <= n;) {
      if ((maxsplit < 0 || count < maxsplit) && memcmp(p + i, delim, dlen) == 0) {
        PIECE(start, i);
        i += dlen;
        start = i;
      } else {
        i++;
      }
    }
    PIECE(start, n);
    return count;
  }
  size_t i = 0;
  for (;;) {
    size_t w;
    while (i < n && (w = space_at((const unsigned char*)p + i, n - i)) > 0) i += w;
    if (i >= n) break;
    if (maxsplit >= 0 && count == maxsplit) { /* the rest, as it is (trailing whitespace too) */
      PIECE(i, n);
      break;
    }
    size_t b = i;
    while (i < n && !space_at((const unsigned char*)p + i, n - i)) i++;
    PIECE(b, i);
  }
#undef PIECE
  return count;
}

static pfw_status split_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, 1);
  if (st == PFW_OK) st = pfw_check_input(node, 0, PFW_STRING, -1);
  if (st == PFW_OK && node->in[0]->rank >= PFW_MAX_RANK)
    st = pfw_error(PFW_ERR_UNSUPPORTED, "input 0 has rank %d; the pieces need one more (at most %d)",
                   (int)node->in[0]->rank, PFW_MAX_RANK);
  return st;
}

static pfw_status split_run(pfw_node* node) {
  const pfw_tensor* x = node->in[0];
  const pfw_attr* d = pfw_attr_find(node, "delimiter");
  const char* delim = d && d->type == PFW_ATTR_STRING && d->s ? (const char*)d->s : "";
  size_t dlen = d && d->type == PFW_ATTR_STRING && d->s ? (size_t)d->s_len : 0;
  int64_t maxsplit = pfw_attr_int(node, "maxsplit", -1);
  pfw_status fits = text_fits(node);
  if (fits != PFW_OK) return fits;
  const pfw_string* xs = x->data;
  int64_t n = pfw_numel(x), most = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t c = split_one(xs[i], delim, dlen, maxsplit, NULL);
    if (c > most) most = c;
  }
  int64_t dims[PFW_MAX_RANK];
  memcpy(dims, x->dims, (size_t)x->rank * sizeof(int64_t));
  dims[x->rank] = most;
  pfw_status st = pfw_dynamic_output(node, 0, PFW_STRING, x->rank + 1, dims);
  if (st == PFW_OK && node->n_out > 1 && node->out[1]) st = pfw_dynamic_output(node, 1, PFW_INT64, x->rank, x->dims);
  if (st != PFW_OK) return st;
  pfw_string* y = node->out[0]->data;
  int64_t* z = node->n_out > 1 && node->out[1] ? node->out[1]->data : NULL;
  for (int64_t i = 0; i < n; i++) {
    pfw_string* row = y + i * most;
    int64_t c = split_one(xs[i], delim, dlen, maxsplit, row);
    for (int64_t k = c; k < most; k++) row[k] = (pfw_string){NULL, 0};
    if (z) z[i] = c;
  }
  return PFW_OK;
}

const pfw_op pfw_op_StringSplit = {PFW_OP_StringSplit, split_prepare, split_run, PFW_OPF_RUN_SHAPES | PFW_OPF_STRINGS};

/* ---- StringNormalizer -----------------------------------------------------
 * Drops the stopwords from a [C] or [1, C] tensor (compared after lower-
 * casing both unless is_case_sensitive), then changes case as
 * case_change_action says. Nothing left: one empty string, [1] or [1, 1].
 * Case mapping is Unicode's simple mapping (utf8case.c), the same on every
 * platform; `locale` is not consulted. */

enum { CASE_NONE, CASE_LOWER, CASE_UPPER };

static int case_action(const pfw_node* node) {
  const char* a = pfw_attr_string(node, "case_change_action", "NONE");
  return strcmp(a, "LOWER") == 0 ? CASE_LOWER : strcmp(a, "UPPER") == 0 ? CASE_UPPER
                                  : strcmp(a, "NONE") == 0 ? CASE_NONE : -1;
}

static pfw_status normalizer_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, 1);
  if (st == PFW_OK) st = pfw_check_input(node, 0, PFW_STRING, -1);
  if (st != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  if (x->rank != 1 && !(x->rank == 2 && x->dims[0] == 1))
    return pfw_error(PFW_ERR_SHAPE, "input 0 must have shape [C] or [1, C]; it has rank %d%s", (int)x->rank,
                     x->rank == 2 ? " with a first dimension other than 1" : "");
  if (case_action(node) < 0)
    return pfw_error(PFW_ERR_INVALID_MODEL, "case_change_action is '%s'; expected NONE, LOWER or UPPER",
                     pfw_attr_string(node, "case_change_action", ""));
  return PFW_OK;
}

/* s in lower case, written to buf (pfw_utf8_case_bound(s.size) bytes). */
static pfw_string lowered(pfw_string s, char* buf) {
  return (pfw_string){buf, s.size ? pfw_utf8_case(s.data, s.size, false, buf) : 0};
}

/* The stopwords as they are compared, made once a run: lower-cased into
 * *block unless is_case_sensitive (free *words and *block). */
static pfw_status stopwords(const pfw_node* node, bool sensitive, pfw_string** words, int32_t* count, char** block) {
  const pfw_attr* a = pfw_attr_find(node, "stopwords");
  *words = NULL, *count = 0, *block = NULL;
  if (!a || a->type != PFW_ATTR_STRINGS || a->n <= 0) return PFW_OK;
  size_t total = 0; /* the attribute's strings are in memory: their sum cannot overflow */
  for (int32_t k = 0; k < a->n; k++) total += pfw_utf8_case_bound(strlen(a->strings[k]));
  *words = malloc((size_t)a->n * sizeof **words);
  *block = sensitive ? NULL : malloc(total + 1);
  if (!*words || (!sensitive && !*block)) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory in StringNormalizer");
  char* at = *block;
  for (int32_t k = 0; k < a->n; k++) {
    pfw_string w = {a->strings[k], strlen(a->strings[k])};
    if (!sensitive) {
      w = lowered(w, at);
      at += w.size;
    }
    (*words)[k] = w;
  }
  *count = a->n;
  return PFW_OK;
}

static pfw_status normalizer_run(pfw_node* node) {
  const pfw_tensor* x = node->in[0];
  const pfw_string* xs = x->data;
  int64_t n = pfw_numel(x), kept = 0;
  bool sensitive = pfw_attr_int(node, "is_case_sensitive", 0) != 0;
  int action = case_action(node);
  pfw_status fits = text_fits(node);
  if (fits != PFW_OK) return fits;
  size_t longest = 0, bytes = 0;
  for (int64_t i = 0; i < n; i++) {
    if (xs[i].size > longest) longest = xs[i].size;
    bytes = xs[i].size > SIZE_MAX / 4 - bytes ? SIZE_MAX / 4 : bytes + xs[i].size;
  }
  pfw_string* words;
  int32_t n_words;
  char* block;
  pfw_status st = stopwords(node, sensitive, &words, &n_words, &block);
  /* Case-insensitively each element is lower-cased into buf to be compared. */
  char* buf = st == PFW_OK && !sensitive && n_words ? malloc(pfw_utf8_case_bound(longest) + 1) : NULL;
  bool* keep = st == PFW_OK ? malloc((size_t)n + 1) : NULL;
  if (st == PFW_OK && (!keep || (!sensitive && n_words && !buf)))
    st = pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory in StringNormalizer");
  for (int64_t i = 0; i < n && st == PFW_OK; i++) {
    pfw_string key = buf ? lowered(xs[i], buf) : xs[i];
    keep[i] = true;
    for (int32_t k = 0; k < n_words && keep[i]; k++) keep[i] = !pfw_str_equal(key, words[k]);
    kept += keep[i];
  }
  free(buf);
  free(block);
  free(words);
  if (st != PFW_OK) {
    free(keep);
    return st;
  }
  int64_t dims[2] = {1, kept ? kept : 1};
  st = x->rank == 1 ? pfw_dynamic_output(node, 0, PFW_STRING, 1, dims + 1)
                    : pfw_dynamic_output(node, 0, PFW_STRING, 2, dims);
  char* at = NULL;
  if (st == PFW_OK && action != CASE_NONE && !(at = pfw_str_alloc(node, pfw_utf8_case_bound(bytes))))
    st = PFW_ERR_UNSUPPORTED;
  if (st != PFW_OK) {
    free(keep);
    return st;
  }
  pfw_string* y = node->out[0]->data;
  y[0] = (pfw_string){NULL, 0};
  for (int64_t i = 0, j = 0; i < n; i++) {
    if (!keep[i]) continue;
    pfw_string s = xs[i];
    if (action != CASE_NONE && s.size) {
      size_t m = pfw_utf8_case(s.data, s.size, action == CASE_UPPER, at);
      s = (pfw_string){at, m};
      at += m;
    }
    y[j++] = s;
  }
  free(keep);
  return PFW_OK;
}

const pfw_op pfw_op_StringNormalizer = {PFW_OP_StringNormalizer, normalizer_prepare, normalizer_run,
                                        PFW_OPF_RUN_SHAPES | PFW_OPF_STRINGS};

/* ---- RegexFullMatch: Y[i] = whether all of X[i] matches `pattern` (RE2
 * syntax; regex.c, linear in the input). The pattern is compiled at prepare,
 * which reports a bad one, and kept as the node's state. */

static pfw_status regex_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, 1);
  if (st == PFW_OK) st = pfw_check_input(node, 0, PFW_STRING, -1);
  if (st != PFW_OK) return st;
  const pfw_attr* a = pfw_attr_find(node, "pattern");
  if (!a || a->type != PFW_ATTR_STRING || !a->s)
    return pfw_error(PFW_ERR_INVALID_MODEL, "the string attribute 'pattern' is required");
  pfw_regex* re = NULL;
  st = pfw_regex_compile((const char*)a->s, (size_t)a->s_len, node->mem_limit, &re);
  if (st != PFW_OK) return st;
  node->state = re;
  return pfw_set_output(node->out[0], PFW_BOOL, node->in[0]->rank, node->in[0]->dims);
}

static pfw_status regex_run(pfw_node* node) {
  pfw_status fits = text_fits(node);
  if (fits != PFW_OK) return fits;
  const pfw_string* x = node->in[0]->data;
  bool* y = node->out[0]->data;
  for (int64_t i = 0, n = pfw_numel(node->in[0]); i < n; i++) {
    bool same = i > 0 && x[i].data == x[i - 1].data && x[i].size == x[i - 1].size; /* a broadcast copy */
    y[i] = same ? y[i - 1] : pfw_regex_full_match(node->state, x[i].data ? x[i].data : "", x[i].size);
  }
  return PFW_OK;
}

const pfw_op pfw_op_RegexFullMatch = {PFW_OP_RegexFullMatch, regex_prepare, regex_run, PFW_OPF_STRINGS};
