/* Attention (opset 23, 24 and 25), float32/float64/float16/bfloat16:
 *   Y = softmax(softcap(Q K^T * scale) + bias) V
 * per (batch, query head, query position), with 3-D (B, L, H*D) or 4-D
 * (B, H, L, D) Q/K/V, grouped-query heads (query head h reads key/value head
 * h / (Hq / Hkv), as ONNX's interleaved repeat), a past key/value cache
 * prepended to K/V (present_key/present_value outputs), and a bias that sums
 * the float or bool attn_mask (padded with -inf past its last column), the
 * causal mask, the sliding window (25) and the nonpad_kv_seqlen padding
 * mask (24). float32/float64 compute scores, softmax and the V product in
 * double (meeting any softmax_precision); float16/bfloat16 round each step
 * where ONNX's definition computes in that type. A query row whose bias is
 * -inf everywhere attends nothing: its probabilities and Y are 0 (the
 * spec's fully-masked-row rule), even where its scores are NaN. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops_common.h"

enum { IN_Q, IN_K, IN_V, IN_MASK, IN_PAST_K, IN_PAST_V, IN_NONPAD };
enum { OUT_Y, OUT_PRESENT_K, OUT_PRESENT_V, OUT_QK };
#define ATTN_SLICES 8 /* query-row slices with scratch of their own: up to 8 threads */

/* Element (b, h, l, d) of a 3-D or 4-D Q/K/V sits at b*sb + h*sh + l*sl + d. */
typedef struct view {
  const void* data; /* set at run */
  int64_t heads, len, dim; /* H, L, D */
  int64_t sb, sh, sl;
} view;

typedef struct attn_state {
  view q, k, v, pk, pv; /* pk/pv: the past cache (len 0 when absent) */
  int64_t batch, total; /* total = past + new key positions */
  int64_t mask_dims[4], mask_strides[4]; /* mask as (B, Hq, Lq, last) with 0 strides where broadcast */
  double scale_sqrt, softcap;
  int64_t mode, left, right;
  pfw_dtype dt;
  bool causal, mask_bool, lowp, lowp_softmax; /* lowp: float16/bfloat16 */
} attn_state;

static double ld(const void* p, pfw_dtype t, int64_t i) {
  switch (t) {
    case PFW_FLOAT32: return ((const float*)p)[i];
    case PFW_FLOAT16: return pfw_half_to_float(((const uint16_t*)p)[i]);
    case PFW_BFLOAT16: return pfw_bf16_to_float(((const uint16_t*)p)[i]);
    default: return ((const double*)p)[i];
  }
}
static void st(void* p, pfw_dtype t, int64_t i, double v) {
  switch (t) {
    case PFW_FLOAT32: ((float*)p)[i] = (float)v; break;
    case PFW_FLOAT16: ((uint16_t*)p)[i] = pfw_float_to_half((float)v); break;
    case PFW_BFLOAT16: ((uint16_t*)p)[i] = pfw_float_to_bf16((float)v); break;
    default: ((double*)p)[i] = v;
  }
}
/* v rounded to a float16/bfloat16 value, as ONNX's definition computes in that type. */
static double rnd(pfw_dtype t, double v) {
  if (t == PFW_FLOAT16) return pfw_half_to_float(pfw_float_to_half((float)v));
  if (t == PFW_BFLOAT16) return pfw_bf16_to_float(pfw_float_to_bf16((float)v));
  return v;
}

static const char* const in_names[] = {"Q", "K", "V", "attn_mask", "past_key", "past_value", "nonpad_kv_seqlen"};

/* A 3-D input splits its hidden size into `heads` heads; a 4-D one has them. */
static pfw_status make_view(const pfw_node* node, int32_t i, int64_t heads, view* v) {
  const pfw_tensor* t = node->in[i];
  if (t->rank == 4) {
    v->heads = t->dims[1], v->len = t->dims[2], v->dim = t->dims[3];
    v->sl = v->dim, v->sh = v->len * v->dim, v->sb = v->heads * v->sh;
    return PFW_OK;
  }
  if (heads <= 0 || t->dims[2] % heads)
    return pfw_error(PFW_ERR_SHAPE, "input %d (%s) has hidden size %lld, not a multiple of %lld heads", (int)i,
                     in_names[i], (long long)t->dims[2], (long long)heads);
  v->heads = heads, v->len = t->dims[1], v->dim = t->dims[2] / heads;
  v->sh = v->dim, v->sl = t->dims[2], v->sb = v->len * v->sl;
  return PFW_OK;
}

static pfw_status shape_error(int32_t i, const char* what, int64_t got, int64_t want) {
  return pfw_error(PFW_ERR_SHAPE, "input %d (%s) has %s %lld, expected %lld", (int)i, in_names[i], what,
                   (long long)got, (long long)want);
}

/* The mask broadcasts to (B, Hq, Lq, total) right-aligned; its last dim may
 * be shorter than total (the rest is masked). */
static pfw_status mask_prepare(const pfw_node* node, attn_state* s, pfw_dtype dtype) {
  const pfw_tensor* m = node->n_in > IN_MASK ? node->in[IN_MASK] : NULL;
  for (int32_t k = 0; k < 4; k++) s->mask_dims[k] = 0, s->mask_strides[k] = 0;
  if (!m) return PFW_OK;
  if (m->dtype != PFW_BOOL && m->dtype != dtype)
    return pfw_error(PFW_ERR_INVALID_MODEL, "input 3 (attn_mask) is %s; expected bool or %s (as Q)",
                     pfw_dtype_name(m->dtype), pfw_dtype_name(dtype));
  if (m->rank < 1 || m->rank > 4)
    return pfw_error(PFW_ERR_SHAPE, "input 3 (attn_mask) has rank %d, expected 1 to 4", (int)m->rank);
  s->mask_bool = m->dtype == PFW_BOOL;
  const int64_t full[4] = {s->batch, s->q.heads, s->q.len, s->total};
  static const char* const dim_names[4] = {"batch", "heads", "query length", "total length"};
  int64_t stride = 1;
  for (int32_t k = 3; k >= 0; k--) {
    int32_t a = k - (4 - m->rank); /* the mask's own axis */
    int64_t d = a >= 0 ? m->dims[a] : 1;
    if (k == 3 ? d > full[3] : (d != 1 && d != full[k]))
      return pfw_error(PFW_ERR_SHAPE, "input 3 (attn_mask) dim %d is %lld; it must be %s%lld (%s)", (int)a,
                       (long long)d, k == 3 ? "at most " : "1 or ", (long long)full[k], dim_names[k]);
    s->mask_dims[k] = d;
    s->mask_strides[k] = d == 1 && k < 3 ? 0 : stride;
    stride *= d;
  }
  return PFW_OK;
}

static pfw_status attn_prepare(pfw_node* node) {
  pfw_status r = pfw_need_io(node, 3, node->desc->version >= 24 ? 7 : 6);
  if (r != PFW_OK) return r;
  for (int32_t i = 1; i < 3 && r == PFW_OK; i++)
    if (!node->in[i]) r = pfw_error(PFW_ERR_INVALID_MODEL, "input %d (%s) is missing", (int)i, in_names[i]);
  if (r != PFW_OK) return r;
  const pfw_tensor* Q = node->in[IN_Q];
  pfw_dtype dt = Q->dtype;
  bool lowp = dt == PFW_FLOAT16 || dt == PFW_BFLOAT16;
  if (dt != PFW_FLOAT32 && dt != PFW_FLOAT64 && !lowp)
    return pfw_error(PFW_ERR_UNSUPPORTED, "input 0 (Q) is %s; expected float32, float64, float16 or bfloat16",
                     pfw_dtype_name(dt));
  int32_t rank = Q->rank;
  if (rank != 3 && rank != 4)
    return pfw_error(PFW_ERR_SHAPE, "input 0 (Q) has rank %d, expected 3 or 4", (int)rank);
  for (int32_t i = 1; i < 3 && r == PFW_OK; i++) r = pfw_check_input(node, i, dt, rank);
  if (r != PFW_OK) return r;

  attn_state* s = calloc(1, sizeof *s);
  if (!s) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory");
  node->state = s;
  s->dt = dt, s->lowp = lowp;
  int64_t qh = pfw_attr_int(node, "q_num_heads", 0), kvh = pfw_attr_int(node, "kv_num_heads", 0);
  if (rank == 3 && (qh <= 0 || kvh <= 0))
    return pfw_error(PFW_ERR_INVALID_MODEL,
                     "3-D Q/K/V need attributes q_num_heads and kv_num_heads > 0 (have %lld and %lld)",
                     (long long)qh, (long long)kvh);
  r = make_view(node, IN_Q, qh, &s->q);
  if (r == PFW_OK) r = make_view(node, IN_K, kvh, &s->k);
  if (r == PFW_OK) r = make_view(node, IN_V, kvh, &s->v);
  if (r != PFW_OK) return r;
  s->batch = Q->dims[0];
  if (node->in[IN_K]->dims[0] != s->batch) return shape_error(IN_K, "batch size", node->in[IN_K]->dims[0], s->batch);
  if (node->in[IN_V]->dims[0] != s->batch) return shape_error(IN_V, "batch size", node->in[IN_V]->dims[0], s->batch);
  if (s->k.dim != s->q.dim) return shape_error(IN_K, "head size", s->k.dim, s->q.dim);
  if (s->v.heads != s->k.heads) return shape_error(IN_V, "heads", s->v.heads, s->k.heads);
  if (s->v.len != s->k.len) return shape_error(IN_V, "sequence length", s->v.len, s->k.len);
  if (s->k.heads == 0 || s->q.heads % s->k.heads)
    return pfw_error(PFW_ERR_SHAPE, "%lld query heads are not a multiple of %lld key/value heads",
                     (long long)s->q.heads, (long long)s->k.heads);

  /* The past cache is 4-D (B, Hkv, past, D) whatever the rank of Q/K/V. */
  const pfw_tensor* pk = node->n_in > IN_PAST_K ? node->in[IN_PAST_K] : NULL;
  const pfw_tensor* pv = node->n_in > IN_PAST_V ? node->in[IN_PAST_V] : NULL;
  if (!pk != !pv) return pfw_error(PFW_ERR_INVALID_MODEL, "inputs 4 (past_key) and 5 (past_value) come together");
  s->pk = (view){NULL, s->k.heads, 0, s->k.dim, 0, 0, 0};
  s->pv = (view){NULL, s->v.heads, 0, s->v.dim, 0, 0, 0};
  if (pk) {
    r = pfw_check_input(node, IN_PAST_K, dt, 4);
    if (r == PFW_OK) r = pfw_check_input(node, IN_PAST_V, dt, 4);
    if (r == PFW_OK) r = make_view(node, IN_PAST_K, 0, &s->pk);
    if (r == PFW_OK) r = make_view(node, IN_PAST_V, 0, &s->pv);
    if (r != PFW_OK) return r;
    const view* want[2] = {&s->k, &s->v};
    const view* got[2] = {&s->pk, &s->pv};
    for (int32_t t = 0; t < 2; t++) {
      int32_t i = IN_PAST_K + t;
      if (node->in[i]->dims[0] != s->batch) return shape_error(i, "batch size", node->in[i]->dims[0], s->batch);
      if (got[t]->heads != want[t]->heads) return shape_error(i, "heads", got[t]->heads, want[t]->heads);
      if (got[t]->dim != want[t]->dim) return shape_error(i, "head size", got[t]->dim, want[t]->dim);
    }
    if (s->pv.len != s->pk.len) return shape_error(IN_PAST_V, "sequence length", s->pv.len, s->pk.len);
  }
  s->total = s->pk.len + s->k.len;

  const pfw_tensor* nonpad = node->n_in > IN_NONPAD ? node->in[IN_NONPAD] : NULL;
  if (nonpad) {
    r = pfw_check_input(node, IN_NONPAD, PFW_INT64, 1);
    if (r != PFW_OK) return r;
    if (nonpad->dims[0] != s->batch) return shape_error(IN_NONPAD, "length", nonpad->dims[0], s->batch);
    if (pk) return pfw_error(PFW_ERR_INVALID_MODEL, "input 6 (nonpad_kv_seqlen) cannot be used with past_key");
  }
  r = mask_prepare(node, s, dt);
  if (r != PFW_OK) return r;

  double scale = pfw_attr_find(node, "scale") ? pfw_attr_float(node, "scale", 1) : 1 / sqrt((double)s->q.dim);
  if (!(scale > 0) || !isfinite(scale))
    return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'scale' is %g; expected a positive number", scale);
  /* ONNX scales Q and K each by sqrt(scale) rounded to Q's dtype. */
  s->scale_sqrt = dt == PFW_FLOAT32 ? (double)(float)sqrt(scale) : rnd(dt, sqrt(scale));
  s->softcap = pfw_attr_float(node, "softcap", 0);
  if (s->softcap < 0 || isnan(s->softcap))
    return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'softcap' is %g; expected >= 0", s->softcap);
  s->mode = pfw_attr_int(node, "qk_matmul_output_mode", 0);
  if (s->mode < 0 || s->mode > 3)
    return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'qk_matmul_output_mode' is %lld; expected 0 to 3",
                     (long long)s->mode);
  int64_t prec = pfw_attr_int(node, "softmax_precision", 0);
  if (prec != 0 && prec != 1 && prec != 10 && prec != 11 && prec != 16)
    return pfw_error(PFW_ERR_INVALID_MODEL,
                     "attribute 'softmax_precision' is %lld; expected a float type (1, 10, 11 or 16)", (long long)prec);
  /* float32/float64 run softmax in double; float16/bfloat16 in their own type
   * unless float32 or float64 is asked for. */
  s->lowp_softmax = lowp && prec != 1 && prec != 11;
  int64_t causal = pfw_attr_int(node, "is_causal", 0);
  if (causal != 0 && causal != 1)
    return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'is_causal' is %lld; expected 0 or 1", (long long)causal);
  s->causal = causal == 1;
  s->left = pfw_attr_int(node, "left_window_size", -1);
  s->right = pfw_attr_int(node, "right_window_size", -1);
  if (s->left < -1 || s->right < -1)
    return pfw_error(PFW_ERR_INVALID_MODEL, "attributes left_window_size=%lld, right_window_size=%lld; expected >= -1",
                     (long long)s->left, (long long)s->right);

  int64_t y4[4] = {s->batch, s->q.heads, s->q.len, s->v.dim};
  int64_t y3[3] = {s->batch, s->q.len, s->q.heads * s->v.dim};
  r = pfw_set_output(node->out[OUT_Y], dt, rank, rank == 4 ? y4 : y3);
  int64_t pk_dims[4] = {s->batch, s->k.heads, s->total, s->k.dim};
  int64_t pv_dims[4] = {s->batch, s->v.heads, s->total, s->v.dim};
  int64_t qk_dims[4] = {s->batch, s->q.heads, s->q.len, s->total};
  const int64_t* out_dims[4] = {NULL, pk_dims, pv_dims, qk_dims};
  for (int32_t j = 1; j < node->n_out && j < 4 && r == PFW_OK; j++)
    if (node->out[j]) r = pfw_set_output(node->out[j], dt, 4, out_dims[j]);
  if (r != PFW_OK) return r;
  if (node->n_out > 4) return pfw_error(PFW_ERR_INVALID_MODEL, "expected at most 4 outputs, got %d", (int)node->n_out);
  /* Per slice of the query rows: a row of scores, one of bias and V's head size of sums. */
  int64_t bytes;
  if (pfw_mul_overflows(2 * s->total + s->v.dim, ATTN_SLICES * (int64_t)sizeof(double), &bytes))
    return pfw_error(PFW_ERR_SHAPE, "total sequence length %lld is too large", (long long)s->total);
  node->scratch_size = (size_t)bytes;
  return PFW_OK;
}

/* present = concat(past, new) along the sequence, in (B, H, total, D). */
static void write_present(const attn_state* s, const view* past, const view* cur, pfw_tensor* out) {
  for (int64_t b = 0; b < s->batch; b++)
    for (int64_t h = 0; h < cur->heads; h++)
      for (int64_t j = 0; j < s->total; j++) {
        bool old = j < past->len;
        const view* src = old ? past : cur;
        int64_t base = b * src->sb + h * src->sh + (old ? j : j - past->len) * src->sl;
        int64_t o = ((b * cur->heads + h) * s->total + j) * cur->dim;
        for (int64_t d = 0; d < cur->dim; d++) st(out->data, s->dt, o + d, ld(src->data, s->dt, base + d));
      }
}

/* Start of key/value position j of (b, kv head h): in the past cache or the new input. */
static int64_t kv_at(const view* past, const view* cur, int64_t b, int64_t h, int64_t j, const void** data) {
  if (j < past->len) {
    *data = past->data;
    return b * past->sb + h * past->sh + j * past->sl;
  }
  *data = cur->data;
  return b * cur->sb + h * cur->sh + (j - past->len) * cur->sl;
}

/* The additive bias of query row (b, h, i) into bias[0..total). */
static void row_bias(const attn_state* s, const pfw_node* node, int64_t b, int64_t h, int64_t i, double* bias) {
  const pfw_tensor* m = node->n_in > IN_MASK ? node->in[IN_MASK] : NULL;
  const pfw_tensor* np = node->n_in > IN_NONPAD ? node->in[IN_NONPAD] : NULL;
  int64_t valid = s->total, offset = s->pk.len;
  if (np) {
    valid = ((const int64_t*)np->data)[b];
    offset = valid - s->q.len; /* an external cache: the queries end at the last valid key */
  }
  int64_t mrow = m ? b * s->mask_strides[0] + h * s->mask_strides[1] + i * s->mask_strides[2] : 0;
  bool window = s->left >= 0 || s->right >= 0;
  for (int64_t j = 0; j < s->total; j++) {
    double v = 0;
    if (m) {
      if (j >= s->mask_dims[3]) v = -INFINITY;
      else if (s->mask_bool) v = ((const uint8_t*)m->data)[mrow + j] ? 0 : -INFINITY;
      else v = ld(m->data, s->dt, mrow + j);
    }
    int64_t diff = i + offset - j; /* query position minus key position */
    if (s->causal && diff < 0) v = -INFINITY;
    if (window && ((s->left >= 0 && diff > s->left) || (s->right >= 0 && -diff > s->right))) v = -INFINITY;
    if (j >= valid) v = -INFINITY;
    bias[j] = v;
  }
}

/* score[j] = softcap(q . k_j * scale) + bias[j] for query row (b, h, i), with
 * the qk_matmul_output of modes 0-2; returns whether every bias is -inf.
 * float16/bfloat16 round where ONNX's definition does: Q and K scaled, each
 * product accumulated in float32, then each step of softcap and the bias. */
static bool row_scores(const attn_state* s, int64_t b, int64_t h, int64_t i, const double* bias, double* score,
                       pfw_tensor* qk_out, int64_t qk_row) {
  pfw_dtype t = s->dt;
  int64_t hk = h / (s->q.heads / s->k.heads), qbase = b * s->q.sb + h * s->q.sh + i * s->q.sl;
  bool all_masked = true;
  for (int64_t j = 0; j < s->total; j++) {
    const void* kd;
    int64_t kbase = kv_at(&s->pk, &s->k, b, hk, j, &kd);
    double dot = 0;
    if (s->lowp) {
      float acc = 0;
      for (int64_t d = 0; d < s->q.dim; d++)
        acc += (float)rnd(t, ld(s->q.data, t, qbase + d) * s->scale_sqrt) *
               (float)rnd(t, ld(kd, t, kbase + d) * s->scale_sqrt);
      dot = rnd(t, acc);
    } else if (t == PFW_FLOAT32) { /* the common case, without a dtype switch per element */
      const float *qp = (const float*)s->q.data + qbase, *kp = (const float*)kd + kbase;
      for (int64_t d = 0; d < s->q.dim; d++) dot += (double)qp[d] * kp[d];
      dot *= s->scale_sqrt * s->scale_sqrt;
    } else {
      for (int64_t d = 0; d < s->q.dim; d++) dot += ld(s->q.data, t, qbase + d) * ld(kd, t, kbase + d);
      dot *= s->scale_sqrt * s->scale_sqrt;
    }
    if (qk_out && s->mode == 0) st(qk_out->data, t, qk_row + j, dot);
    if (s->softcap > 0 && s->lowp) { /* float16/bfloat16 arithmetic runs in float32, rounded per step */
      float c = (float)s->softcap;
      dot = rnd(t, c * (float)rnd(t, tanhf((float)rnd(t, (float)dot / c))));
    } else if (s->softcap > 0) {
      dot = s->softcap * tanh(dot / s->softcap);
    }
    if (qk_out && s->mode == 1) st(qk_out->data, t, qk_row + j, dot);
    score[j] = rnd(t, dot + bias[j]);
    if (qk_out && s->mode == 2) st(qk_out->data, t, qk_row + j, score[j]);
    if (bias[j] != -INFINITY) all_masked = false;
  }
  return all_masked;
}

/* score -> probabilities in place; a fully masked row gets all 0. In
 * float16/bfloat16 without a wider softmax_precision each step rounds, and
 * the sum accumulates in float32 (float16) or in bfloat16 itself. */
static void row_softmax(const attn_state* s, bool all_masked, double* score) {
  pfw_dtype t = s->lowp_softmax ? s->dt : PFW_FLOAT64;
  double mx = -INFINITY, sum = 0;
  for (int64_t j = 0; j < s->total; j++)
    if (score[j] > mx) mx = score[j];
  /* exp(x - max) with max = -inf would be NaN: such a row has no weight. */
  double safe = mx == -INFINITY ? 0 : mx;
  float fsum = 0;
  for (int64_t j = 0; j < s->total; j++) {
    double x = rnd(t, score[j] - safe);
    score[j] = all_masked ? 0 : s->lowp_softmax ? rnd(t, expf((float)x)) : exp(x);
    if (t == PFW_BFLOAT16) sum = rnd(t, sum + score[j]);
    else if (t == PFW_FLOAT16) fsum += (float)score[j];
    else sum += score[j];
  }
  if (t == PFW_FLOAT16) sum = rnd(t, fsum);
  for (int64_t j = 0; j < s->total; j++) score[j] = rnd(s->dt, sum != 0 ? rnd(t, score[j] / sum) : score[j]);
}

/* Y row (b, h, i) (and its qk_matmul_output row), with score/bias scratch of
 * total values each and acc of V's head size. */
static void attn_row(const attn_state* s, const pfw_node* node, pfw_tensor* qk_out, int64_t b, int64_t h, int64_t i,
                     double* score, double* bias, double* acc) {
  pfw_dtype t = s->dt;
  int64_t hk = h / (s->q.heads / s->k.heads);
  int64_t qk_row = ((b * s->q.heads + h) * s->q.len + i) * s->total;
  row_bias(s, node, b, h, i, bias);
  bool all_masked = row_scores(s, b, h, i, bias, score, qk_out, qk_row);
  row_softmax(s, all_masked, score);
  for (int64_t j = 0; qk_out && s->mode == 3 && j < s->total; j++) st(qk_out->data, t, qk_row + j, score[j]);
  int64_t ybase = node->out[OUT_Y]->rank == 4 ? ((b * s->q.heads + h) * s->q.len + i) * s->v.dim
                                              : (b * s->q.len + i) * s->q.heads * s->v.dim + h * s->v.dim;
  for (int64_t d = 0; d < s->v.dim; d++) acc[d] = 0;
  for (int64_t j = 0; j < s->total; j++) {
    const void* vd;
    int64_t vbase = kv_at(&s->pv, &s->v, b, hk, j, &vd);
    double p = score[j];
    if (s->lowp) { /* float16/bfloat16 products accumulate in float32 */
      for (int64_t d = 0; d < s->v.dim; d++) acc[d] = (float)acc[d] + (float)p * (float)ld(vd, t, vbase + d);
    } else if (t == PFW_FLOAT32) {
      const float* vp = (const float*)vd + vbase;
      for (int64_t d = 0; d < s->v.dim; d++) acc[d] += p * vp[d];
    } else {
      for (int64_t d = 0; d < s->v.dim; d++) acc[d] += p * ld(vd, t, vbase + d);
    }
  }
  for (int64_t d = 0; d < s->v.dim; d++) st(node->out[OUT_Y]->data, t, ybase + d, acc[d]);
}

typedef struct attn_task {
  const attn_state* s;
  const pfw_node* node;
  pfw_tensor* qk_out;
  int64_t rows; /* B * Hq * Lq */
} attn_task;

/* Slices [begin, end) of the query rows, each with its own scratch, so the
 * rows are computed the same whatever the thread count. */
static void attn_slices(void* p, int64_t begin, int64_t end) {
  const attn_task* a = p;
  const attn_state* s = a->s;
  int64_t per = 2 * s->total + s->v.dim; /* scratch values per slice */
  for (int64_t c = begin; c < end; c++) {
    double* base = per ? (double*)a->node->scratch + c * per : NULL; /* no offset on NULL */
    double* score = s->total ? base : NULL;
    double* bias = s->total ? base + s->total : NULL;
    double* acc = s->v.dim ? base + 2 * s->total : NULL;
    for (int64_t r = c * a->rows / ATTN_SLICES; r < (c + 1) * a->rows / ATTN_SLICES; r++)
      attn_row(s, a->node, a->qk_out, r / (s->q.len * s->q.heads), r / s->q.len % s->q.heads, r % s->q.len, score,
               bias, acc);
  }
}

static pfw_status attn_run(pfw_node* node) {
  /* Data pointers are only final once planned: take them now, not from prepare. */
  attn_state local = *(const attn_state*)node->state;
  const attn_state* s = &local;
  local.q.data = node->in[IN_Q]->data, local.k.data = node->in[IN_K]->data, local.v.data = node->in[IN_V]->data;
  const pfw_tensor* pk = node->n_in > IN_PAST_K ? node->in[IN_PAST_K] : NULL;
  const pfw_tensor* pv = node->n_in > IN_PAST_V ? node->in[IN_PAST_V] : NULL;
  local.pk.data = pk ? pk->data : NULL, local.pv.data = pv ? pv->data : NULL;
  const pfw_tensor* np = node->n_in > IN_NONPAD ? node->in[IN_NONPAD] : NULL;
  for (int64_t b = 0; np && b < s->batch; b++) {
    int64_t n = ((const int64_t*)np->data)[b];
    if (n < 0 || n > s->total)
      return pfw_error(PFW_ERR_INVALID_ARGUMENT, "input 6 (nonpad_kv_seqlen) [%lld] is %lld; expected 0 to %lld",
                       (long long)b, (long long)n, (long long)s->total);
  }
  attn_task task = {s, node, node->n_out > OUT_QK ? node->out[OUT_QK] : NULL, s->batch * s->q.heads * s->q.len};
  if (task.rows) pfw_parallel_for(node->pool, ATTN_SLICES, attn_slices, &task);
  pfw_tensor* present_k = node->n_out > OUT_PRESENT_K ? node->out[OUT_PRESENT_K] : NULL;
  pfw_tensor* present_v = node->n_out > OUT_PRESENT_V ? node->out[OUT_PRESENT_V] : NULL;
  if (present_k) write_present(s, &s->pk, &s->k, present_k);
  if (present_v) write_present(s, &s->pv, &s->v, present_v);
  return PFW_OK;
}

const pfw_op pfw_op_Attention = {PFW_OP_Attention, attn_prepare, attn_run, 0};
