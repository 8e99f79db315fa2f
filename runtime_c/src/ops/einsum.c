/* Einsum: out[output labels] = sum over the other labels of the product of
 * the inputs at their labels. Any subscripts: repeated labels in one term
 * (diagonals), "..." broadcasting numpy-style across inputs, implicit output
 * (ellipsis dims, then the labels used once, in ASCII order). The reference
 * kernel walks every label combination, output labels outermost, keeping
 * each input's offset up to date as the labels step. */
#include <stdlib.h>
#include <string.h>

#include "ops_common.h"

#define EIN_LETTERS 52 /* a-z, A-Z */
#define EIN_MAX_LABELS (EIN_LETTERS + PFW_MAX_RANK) /* letters, then the ellipsis dims */
#define EIN_MAX_IN 16

typedef struct {
  int32_t n_in, n_labels, n_out; /* output labels are 0..n_out-1 of the order */
  int64_t size[EIN_MAX_LABELS];
  int64_t stride[EIN_MAX_IN][EIN_MAX_LABELS]; /* 0 where the label is absent or broadcast */
} einsum_state;

static int letter_id(char c) {
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= 'A' && c <= 'Z') return 26 + c - 'A';
  return -1;
}

/* One term ("ab...c"): label ids per axis, with `ell` ellipsis dims (right
 * aligned among the E ellipsis labels). Returns the axis count or -1. */
static int32_t parse_term(const char* s, const char* end, int32_t ell, int32_t E, int* labels, bool* has_ell) {
  int32_t n = 0;
  *has_ell = false;
  for (const char* p = s; p < end; p++) {
    if (*p == ' ') continue;
    if (*p == '.') {
      if (*has_ell || end - p < 3 || p[1] != '.' || p[2] != '.') return -1;
      *has_ell = true;
      for (int32_t k = 0; k < ell; k++) {
        if (n >= PFW_MAX_RANK) return -1;
        labels[n++] = EIN_LETTERS + E - ell + k;
      }
      p += 2;
      continue;
    }
    int id = letter_id(*p);
    if (id < 0 || n >= PFW_MAX_RANK) return -1;
    labels[n++] = id;
  }
  return n;
}

/* Letters of a term, not counting "..." or spaces. */
static int32_t letters_in(const char* s, const char* end) {
  int32_t n = 0;
  for (const char* p = s; p < end; p++) n += letter_id(*p) >= 0;
  return n;
}

static pfw_status einsum_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, EIN_MAX_IN);
  if (st != PFW_OK) return st;
  const char* eq = pfw_attr_string(node, "equation", NULL);
  if (!eq) return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'equation' is required");
  pfw_dtype t = node->in[0]->dtype;
  if (t != PFW_FLOAT32 && t != PFW_FLOAT64 && t != PFW_FLOAT16 && t != PFW_BFLOAT16 && t != PFW_INT32 &&
      t != PFW_INT64)
    return pfw_error(PFW_ERR_UNSUPPORTED,
                     "input 0 is %s; Einsum supports float32, float64, float16, bfloat16, int32, int64",
                     pfw_dtype_name(t));
  for (int32_t i = 1; i < node->n_in; i++)
    if ((st = pfw_check_input(node, i, t, -1)) != PFW_OK) return st;
  const char* arrow = strstr(eq, "->");
  const char* lhs_end = arrow ? arrow : eq + strlen(eq);
  /* Split the left side into one term per input. */
  const char *term[EIN_MAX_IN], *term_end[EIN_MAX_IN];
  int32_t n_terms = 0;
  for (const char* p = eq;;) {
    const char* comma = memchr(p, ',', (size_t)(lhs_end - p));
    if (n_terms == EIN_MAX_IN) return pfw_error(PFW_ERR_UNSUPPORTED, "equation '%s' has too many terms", eq);
    term[n_terms] = p;
    term_end[n_terms++] = comma ? comma : lhs_end;
    if (!comma) break;
    p = comma + 1;
  }
  if (n_terms != node->n_in)
    return pfw_error(PFW_ERR_INVALID_MODEL, "equation '%s' has %d input terms for %d inputs", eq, (int)n_terms,
                     (int)node->n_in);
  /* Ellipsis dims per input, and E, the most of them. */
  int32_t ell[EIN_MAX_IN], E = 0;
  for (int32_t i = 0; i < n_terms; i++) {
    const pfw_tensor* x = node->in[i];
    bool dots = memchr(term[i], '.', (size_t)(term_end[i] - term[i])) != NULL;
    int32_t letters = letters_in(term[i], term_end[i]);
    ell[i] = dots ? x->rank - letters : 0;
    if (ell[i] < 0 || (!dots && letters != x->rank))
      return pfw_error(PFW_ERR_SHAPE, "equation '%s': term %d names %d axes but input %d has rank %d", eq, (int)i,
                       (int)letters, (int)i, (int)x->rank);
    if (ell[i] > E) E = ell[i];
  }
  einsum_state* s = calloc(1, sizeof *s);
  if (!s) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory preparing Einsum");
  node->state = s;
  int64_t size[EIN_MAX_LABELS];
  int count[EIN_MAX_LABELS] = {0};
  for (int32_t l = 0; l < EIN_MAX_LABELS; l++) size[l] = -1;
  int labels[EIN_MAX_IN][PFW_MAX_RANK];
  for (int32_t i = 0; i < n_terms; i++) {
    const pfw_tensor* x = node->in[i];
    bool has_ell;
    if (parse_term(term[i], term_end[i], ell[i], E, labels[i], &has_ell) != x->rank)
      return pfw_error(PFW_ERR_INVALID_MODEL, "equation '%s': cannot read term %d", eq, (int)i);
    for (int32_t k = 0; k < x->rank; k++) {
      int l = labels[i][k];
      int64_t d = x->dims[k];
      count[l]++;
      if (size[l] < 0 || size[l] == d) size[l] = d;
      else if (l >= EIN_LETTERS && (size[l] == 1 || d == 1)) size[l] = size[l] == 1 ? d : size[l];
      else
        return pfw_error(PFW_ERR_SHAPE, "equation '%s': label '%c' has sizes %lld and %lld", eq,
                         l < EIN_LETTERS ? (l < 26 ? 'a' + l : 'A' + l - 26) : '.', (long long)size[l], (long long)d);
    }
  }
  /* Output labels: explicit, or the ellipsis then letters used once, in ASCII order. */
  int order[EIN_MAX_LABELS], n_out = 0;
  bool in_out[EIN_MAX_LABELS] = {false};
  if (arrow) {
    int out_labels[PFW_MAX_RANK];
    bool has_ell;
    const char* o = arrow + 2;
    int32_t n = parse_term(o, o + strlen(o), E, E, out_labels, &has_ell);
    if (n < 0) return pfw_error(PFW_ERR_INVALID_MODEL, "equation '%s': cannot read the output term", eq);
    if (E > 0 && !has_ell)
      return pfw_error(PFW_ERR_INVALID_MODEL, "equation '%s': the output must keep the inputs' '...'", eq);
    for (int32_t k = 0; k < n; k++) {
      int l = out_labels[k];
      if (count[l] == 0 || in_out[l])
        return pfw_error(PFW_ERR_INVALID_MODEL, "equation '%s': output label %d is unknown or repeated", eq, (int)k);
      in_out[l] = true;
      order[n_out++] = l;
    }
  } else {
    for (int l = EIN_LETTERS; l < EIN_LETTERS + E; l++) in_out[l] = true, order[n_out++] = l;
    for (int c = 'A'; c <= 'z'; c++) {
      int l = letter_id((char)c);
      if (l >= 0 && count[l] == 1) in_out[l] = true, order[n_out++] = l;
    }
  }
  int n_labels = n_out;
  for (int l = 0; l < EIN_MAX_LABELS; l++)
    if (count[l] > 0 && !in_out[l]) order[n_labels++] = l;
  s->n_in = n_terms;
  s->n_out = n_out;
  s->n_labels = n_labels;
  int position[EIN_MAX_LABELS];
  for (int j = 0; j < n_labels; j++) position[order[j]] = j, s->size[j] = size[order[j]];
  for (int32_t i = 0; i < n_terms; i++) {
    const pfw_tensor* x = node->in[i];
    int64_t acc = 1;
    for (int32_t k = x->rank - 1; k >= 0; k--) {
      if (x->dims[k] != 1 || s->size[position[labels[i][k]]] == 1) s->stride[i][position[labels[i][k]]] += acc;
      acc *= x->dims[k];
    }
  }
  int64_t dims[PFW_MAX_RANK];
  if (n_out > PFW_MAX_RANK) return pfw_error(PFW_ERR_UNSUPPORTED, "equation '%s': output rank above %d", eq, PFW_MAX_RANK);
  for (int j = 0; j < n_out; j++) dims[j] = s->size[j];
  return pfw_set_output(node->out[0], t, n_out, dims);
}

static uint64_t get_i(const pfw_tensor* t, int64_t i) {
  return t->dtype == PFW_INT32 ? (uint64_t)(int64_t)((const int32_t*)t->data)[i] : (uint64_t)((const int64_t*)t->data)[i];
}

static pfw_status einsum_run(pfw_node* node) {
  const einsum_state* s = node->state;
  pfw_tensor* y = node->out[0];
  bool is_float = y->dtype != PFW_INT32 && y->dtype != PFW_INT64;
  int64_t outs = 1, sums = 1, idx[EIN_MAX_LABELS] = {0}, off[EIN_MAX_IN] = {0};
  for (int j = 0; j < s->n_out; j++) outs *= s->size[j];
  for (int j = s->n_out; j < s->n_labels; j++) sums *= s->size[j];
  if (sums == 0) { /* an empty summed label: every output is an empty sum */
    memset(y->data, 0, (size_t)outs * pfw_dtype_size(y->dtype));
    return PFW_OK;
  }
  for (int64_t o = 0; o < outs; o++) {
    double acc = 0;
    uint64_t iacc = 0; /* integer products wrap as two's complement instead of overflowing */
    for (int64_t r = 0; r < sums; r++) {
      if (is_float) {
        double p = 1;
        for (int32_t i = 0; i < s->n_in; i++) p *= pfw_load_real(node->in[i]->data, node->in[i]->dtype, off[i]);
        acc += p;
      } else {
        uint64_t p = 1;
        for (int32_t i = 0; i < s->n_in; i++) p *= get_i(node->in[i], off[i]);
        iacc += p;
      }
      /* Next combination: the last label steps fastest. */
      for (int j = s->n_labels - 1; j >= 0; j--) {
        for (int32_t i = 0; i < s->n_in; i++) off[i] += s->stride[i][j];
        if (++idx[j] < s->size[j]) break;
        for (int32_t i = 0; i < s->n_in; i++) off[i] -= s->stride[i][j] * s->size[j];
        idx[j] = 0;
      }
    }
    switch (y->dtype) {
      case PFW_FLOAT32: ((float*)y->data)[o] = (float)acc; break;
      case PFW_FLOAT64: ((double*)y->data)[o] = acc; break;
      case PFW_FLOAT16: /* summed in double (as the reference sums bfloat16 in float32), rounded once */
      case PFW_BFLOAT16: pfw_store_real((uint16_t*)y->data + o, y->dtype, (float)acc); break;
      case PFW_INT32: ((int32_t*)y->data)[o] = (int32_t)(uint32_t)iacc; break;
      default: ((int64_t*)y->data)[o] = (int64_t)iacc; break;
    }
  }
  return PFW_OK;
}

const pfw_op pfw_op_Einsum = {PFW_OP_Einsum, einsum_prepare, einsum_run, 0};
