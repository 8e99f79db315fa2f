/* Cast between STRING and the numeric dtypes and bool (cast.c sends these
 * here).
 *
 * To string: integers in decimal; bool as "1"/"0"; floats with the fewest
 * significant digits that read back to the same value (so float32 0.3 is
 * "0.3", not "0.30000001"), in plain notation when the decimal exponent is
 * in [-4, max(digits, 8)) and as d.ddde+XX otherwise, which is what ONNX
 * Runtime prints (printf's %.8g) wherever 8 digits are exact; NaN, INF and
 * -INF are the literals ONNX names.
 * From string: optional surrounding whitespace around one number: decimal
 * or hexadecimal floats, INF/INFINITY/NaN in any case (C's strtod syntax,
 * always with '.' whatever the locale); integer targets take integers, or a
 * number with a fraction truncated toward zero ("100.5" -> 100, as ONNX's
 * spec suggests); bool also takes true/false. Anything else, or a value out
 * of the target's range, is an error naming the element. */
#include <ctype.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>

#include "ops_common.h"

enum { MAX_TEXT = 40 }; /* scratch for one number; the longest written, "-2.2250738585072014e-308", is 24 */

/* Most bytes one element of d can take as text (the string heap is sized
 * by it): float64 24, float32 "-1.17549435e-38" 15, int64 20... */
static size_t text_bound(pfw_dtype d) {
  switch (d) {
    case PFW_FLOAT64: return 24;
    case PFW_FLOAT32: return 15;
    case PFW_INT64: case PFW_UINT64: return 20;
    case PFW_INT32: return 11;
    case PFW_UINT32: return 10;
    case PFW_INT16: return 6;
    case PFW_UINT16: return 5;
    case PFW_INT8: return 4;
    case PFW_UINT8: return 3;
    case PFW_BOOL: return 1;
    default: return 12; /* float16, bfloat16 ("-6.1035e-05"), the 8- and 4-bit types */
  }
}

static bool is_float(pfw_dtype d) {
  return d == PFW_FLOAT32 || d == PFW_FLOAT64 || d == PFW_FLOAT16 || d == PFW_BFLOAT16 || pfw_dtype_is_lowfloat(d);
}

static bool is_signed(pfw_dtype d) {
  return d == PFW_INT8 || d == PFW_INT16 || d == PFW_INT32 || d == PFW_INT64 || d == PFW_INT4 || d == PFW_INT2;
}

static double load_float(const void* p, pfw_dtype d, int64_t i) {
  if (pfw_dtype_is_lowfloat(d)) return pfw_lowp_to_float(d, ((const uint8_t*)p)[i]);
  return pfw_load_real(p, d, i);
}

/* printf and strtod use the locale's decimal point; pyfw's text always has '.'. */
static char locale_point(void) {
  const char* p = localeconv()->decimal_point;
  return p && p[0] ? p[0] : '.';
}

/* Reads text (already trimmed, NUL-terminated, at most MAX_TEXT bytes or
 * longer in heap memory) as a double, or a float when `single`; false when
 * it is not one number. */
static bool read_float(char* text, bool single, double* out) {
  char point = locale_point();
  if (point != '.') {
    if (strchr(text, point)) return false; /* "1,5" is not a number in pyfw's syntax */
    for (char* c = text; *c; c++)
      if (*c == '.') *c = point;
  }
  if (!*text || isspace((unsigned char)*text)) return false;
  char* end;
  *out = single ? (double)strtof(text, &end) : strtod(text, &end);
  return end != text && *end == '\0'; /* overflow gives +-inf, underflow 0: both kept, as ONNX Runtime */
}

/* Whether v written with `digits` significant digits ("%.*e", the C
 * locale's point or not: strtod reads what printf wrote) reads back to the
 * bits at orig; the text is left in probe. */
static bool round_trips(double v, int digits, pfw_dtype d, const uint8_t* orig, char* probe) {
  snprintf(probe, MAX_TEXT, "%.*e", digits - 1, v);
  char* end;
  double back = d == PFW_FLOAT32 ? (double)strtof(probe, &end) : strtod(probe, &end);
  uint8_t again[8];
  pfw_store_real(again, d, back);
  return !memcmp(again, orig, pfw_dtype_size(d));
}

/* The float at element i of x as the shortest text that reads back to it:
 * the fewest digits by bisection (if p digits read back, so do p + 1), then
 * written out from those digits: plain for decimal exponents in
 * [-4, max(digits, 8)), else d.ddde+XX -- what printf's %g gives at that
 * precision, without a second printf. */
static int float_text(const pfw_tensor* x, int64_t i, char* buf) {
  double v = load_float(x->data, x->dtype, i);
  if (v != v) return snprintf(buf, MAX_TEXT, "NaN");
  if (isinf(v)) return snprintf(buf, MAX_TEXT, v > 0 ? "INF" : "-INF");
  const uint8_t* orig = (const uint8_t*)x->data + (size_t)i * pfw_dtype_size(x->dtype);
  char probe[MAX_TEXT], best[MAX_TEXT];
  int lo = 1, hi = x->dtype == PFW_FLOAT64 ? 17 : x->dtype == PFW_FLOAT32 ? 9 : 6; /* hi always reads back */
  snprintf(best, sizeof best, "%.*e", hi - 1, v);
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (round_trips(v, mid, x->dtype, orig, probe)) {
      hi = mid;
      memcpy(best, probe, sizeof best);
    } else {
      lo = mid + 1;
    }
  }
  /* best is [-]d[<point>ddd]e<sign>dd: its digits, trailing zeros dropped, and exponent. */
  const char* e = strchr(best, 'e');
  int exp10 = atoi(e + 1), nd = 0;
  char digits[MAX_TEXT];
  for (const char* c = best; c < e; c++)
    if (*c >= '0' && *c <= '9') digits[nd++] = *c;
  while (nd > 1 && digits[nd - 1] == '0') nd--;
  int n = 0;
  if (best[0] == '-') buf[n++] = '-';
  if (exp10 >= -4 && exp10 < (lo > 8 ? lo : 8)) {
    if (exp10 < 0) {
      buf[n++] = '0';
      buf[n++] = '.';
      for (int k = 0; k < -exp10 - 1; k++) buf[n++] = '0';
      for (int k = 0; k < nd; k++) buf[n++] = digits[k];
    } else {
      for (int k = 0; k <= exp10; k++) buf[n++] = k < nd ? digits[k] : '0';
      if (nd > exp10 + 1) buf[n++] = '.';
      for (int k = exp10 + 1; k < nd; k++) buf[n++] = digits[k];
    }
  } else {
    buf[n++] = digits[0];
    if (nd > 1) buf[n++] = '.';
    for (int k = 1; k < nd; k++) buf[n++] = digits[k];
    n += snprintf(buf + n, (size_t)(MAX_TEXT - n), "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
  }
  buf[n] = '\0';
  return n;
}

static int integer_text(const pfw_tensor* x, int64_t i, char* buf) {
  pfw_dtype d = x->dtype;
  if (d == PFW_BOOL) return snprintf(buf, MAX_TEXT, "%d", ((const uint8_t*)x->data)[i] != 0);
  if (pfw_dtype_is_lowint(d)) return snprintf(buf, MAX_TEXT, "%d", (int)pfw_lowint_value(d, ((const uint8_t*)x->data)[i]));
  if (d == PFW_UINT64) return snprintf(buf, MAX_TEXT, "%llu", (unsigned long long)((const uint64_t*)x->data)[i]);
  if (d == PFW_INT64) return snprintf(buf, MAX_TEXT, "%lld", (long long)((const int64_t*)x->data)[i]);
  return snprintf(buf, MAX_TEXT, "%.0f", pfw_load_real(x->data, d, i)); /* the narrower integers: exact in a double */
}

pfw_status pfw_cast_to_string(pfw_node* node) {
  const pfw_tensor* x = node->in[0];
  int64_t n = pfw_numel(x);
  if (!n) return PFW_OK;
  size_t bound = text_bound(x->dtype);
  if ((uint64_t)n > SIZE_MAX / 2 / bound) return pfw_error(PFW_ERR_UNSUPPORTED, "%lld strings exceed memory", (long long)n);
  char* at = pfw_str_alloc(node, (size_t)n * bound);
  if (!at) return PFW_ERR_UNSUPPORTED; /* the error is set */
  pfw_string* y = node->out[0]->data;
  bool floating = is_float(x->dtype);
  char buf[MAX_TEXT];
  for (int64_t i = 0; i < n; i++) {
    int len = floating ? float_text(x, i, buf) : integer_text(x, i, buf);
    if (len < 0 || (size_t)len > bound) len = (int)bound; /* never: text_bound covers every value */
    memcpy(at, buf, (size_t)len);
    y[i] = (pfw_string){at, (size_t)len};
    at += len;
  }
  return PFW_OK;
}

/* ---- from string ---------------------------------------------------------- */

static pfw_status not_a_number(int64_t i, pfw_string s, pfw_dtype to, const char* why) {
  int shown = s.size > 40 ? 40 : (int)s.size;
  return pfw_error(PFW_ERR_INVALID_ARGUMENT, "element %lld of input 0, \"%.*s\"%s, %s %s", (long long)i, shown,
                   s.size ? s.data : "", s.size > 40 ? "..." : "", why, pfw_dtype_name(to));
}

/* Exact integer text: [+-]digits. */
static bool read_integer(const char* t, bool* negative, uint64_t* magnitude, bool* overflow) {
  *negative = *t == '-';
  if (*t == '+' || *t == '-') t++;
  if (!isdigit((unsigned char)*t)) return false;
  uint64_t m = 0;
  *overflow = false;
  for (; isdigit((unsigned char)*t); t++) {
    unsigned digit = (unsigned)(*t - '0');
    if (m > (UINT64_MAX - digit) / 10) *overflow = true;
    else m = m * 10 + digit;
  }
  *magnitude = m;
  return *t == '\0';
}

/* Integer dtype d's range as [lo, hi] with lo as a magnitude below zero. */
static void int_range(pfw_dtype d, uint64_t* neg_max, uint64_t* pos_max) {
  if (pfw_dtype_is_lowint(d)) {
    int32_t lo, hi;
    pfw_lowint_range(d, &lo, &hi);
    *neg_max = (uint64_t)-(int64_t)lo;
    *pos_max = (uint64_t)hi;
    return;
  }
  int bits = (int)pfw_dtype_size(d) * 8;
  if (is_signed(d)) {
    *pos_max = (UINT64_MAX >> (65 - bits));
    *neg_max = *pos_max + 1;
  } else {
    *pos_max = UINT64_MAX >> (64 - bits);
    *neg_max = 0;
  }
}

/* How Cast stores a float in the 8- and 4-bit float types. */
typedef struct lowp_rule {
  bool saturate;
  pfw_round_mode mode;
} lowp_rule;

/* One element: text (trimmed, NUL-terminated) into out as dtype `to`. */
static pfw_status from_text(char* t, pfw_string s, int64_t i, pfw_dtype to, const lowp_rule* rule, void* out) {
  if (is_float(to)) {
    double v;
    if (!read_float(t, to == PFW_FLOAT32, &v)) return not_a_number(i, s, to, "is not a number, so cannot become");
    if (to == PFW_FLOAT8E8M0) *(uint8_t*)out = pfw_float_to_e8m0((float)v, rule->saturate, rule->mode);
    else if (pfw_dtype_is_lowfloat(to)) *(uint8_t*)out = pfw_float_to_lowp(to, (float)v, rule->saturate);
    else pfw_store_real(out, to, v);
    return PFW_OK;
  }
  if (to == PFW_BOOL) {
    double v;
    bool yes = pfw_equals_lower(t, "true"), no = pfw_equals_lower(t, "false");
    if (!yes && !no && !read_float(t, false, &v)) return not_a_number(i, s, to, "is neither a number nor true/false, so cannot become");
    *(uint8_t*)out = yes || (!no && v != 0);
    return PFW_OK;
  }
  bool negative, overflow;
  uint64_t m, neg_max, pos_max;
  int_range(to, &neg_max, &pos_max);
  if (!read_integer(t, &negative, &m, &overflow)) {
    double v; /* a number with a fraction or exponent: truncated toward zero */
    if (!read_float(t, false, &v) || v != v) return not_a_number(i, s, to, "is not a number, so cannot become");
    double w = trunc(v);
    negative = w < 0;
    overflow = fabs(w) >= 18446744073709551616.0;
    m = overflow ? 0 : (uint64_t)fabs(w);
  }
  if (overflow || (negative ? m > neg_max : m > pos_max))
    return not_a_number(i, s, to, "is out of the range of");
  pfw_store_wrapped(out, to, negative ? (uint64_t)0 - m : m); /* in range: the value itself */
  return PFW_OK;
}

pfw_status pfw_cast_from_string(pfw_node* node) {
  const pfw_tensor* x = node->in[0];
  pfw_tensor* y = node->out[0];
  const pfw_string* xs = x->data;
  size_t so = pfw_dtype_size(y->dtype);
  lowp_rule rule = {pfw_attr_int(node, "saturate", 1) != 0, PFW_ROUND_UP};
  pfw_cast_round_mode(node, &rule.mode); /* checked at prepare */
  char small[MAX_TEXT * 2];
  for (int64_t i = 0, n = pfw_numel(x); i < n; i++) {
    pfw_string s = xs[i];
    const char* b = s.data;
    size_t len = s.size;
    while (len && isspace((unsigned char)b[0])) b++, len--;
    while (len && isspace((unsigned char)b[len - 1])) len--;
    if (len && memchr(b, '\0', len)) return not_a_number(i, s, y->dtype, "holds a NUL byte, so cannot become");
    char* t = len < sizeof small ? small : malloc(len + 1);
    if (!t) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory reading a %zu-byte string", len);
    if (len) memcpy(t, b, len);
    t[len] = '\0';
    pfw_status st = from_text(t, s, i, y->dtype, &rule, (uint8_t*)y->data + (size_t)i * so);
    if (t != small) free(t);
    if (st != PFW_OK) return st;
  }
  return PFW_OK;
}
