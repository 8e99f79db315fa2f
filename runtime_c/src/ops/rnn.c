/* RNN, GRU and LSTM (opset 7, 14 and 22 semantics), float32/float64, in
 * double. One engine runs every direction over each batch row's own
 * sequence length; the ops differ only in their cell:
 *   RNN:  H = f(x W^T + H R^T + Wb + Rb)
 *   GRU:  z, r = f(...); h = g(x Wh^T + (r * H) Rh^T + Rbh + Wbh), or with
 *         linear_before_reset g(x Wh^T + r * (H Rh^T + Rbh) + Wbh);
 *         H = (1 - z) * h + z * H
 *   LSTM: i, f = f(... + P * C); c = g(...); C = f * C + i * c;
 *         o = f(... + Po * C); H = o * h(C)   (input_forget: f = 1 - i)
 * Gate blocks in W, R and B are in ONNX order: GRU z, r, h; LSTM i, o, f, c;
 * peepholes P i, o, f. `clip` bounds every gate's input. Steps past a
 * row's length give Y = 0; Y_h/Y_c hold the state after its last step
 * (0 for an empty row). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops_common.h"

enum { IN_X, IN_W, IN_R, IN_B, IN_LENS, IN_H0, IN_C0, IN_P };
enum { RNN, GRU, LSTM };
#define MAX_DIRS 2
#define MAX_ACTS 3
#define RNN_SLICES 8 /* (batch row, direction) slices with scratch of their own: up to 8 threads */

typedef enum act_kind {
  A_RELU, A_TANH, A_SIGMOID, A_AFFINE, A_LEAKY, A_THRESH, A_STANH, A_HSIG, A_ELU, A_SOFTSIGN, A_SOFTPLUS
} act_kind;
typedef struct act {
  act_kind kind;
  double alpha, beta;
} act;

typedef struct rnn_state {
  int kind;
  int64_t seq, batch, input, hidden, dirs, gates;
  bool layout1, reverse, f32, has_clip, input_forget, linear_before_reset;
  double clip;
  act acts[MAX_DIRS][MAX_ACTS];
} rnn_state;

static double ld(const void* p, bool f32, int64_t i) { return f32 ? ((const float*)p)[i] : ((const double*)p)[i]; }
static void st(void* p, bool f32, int64_t i, double v) {
  if (f32) ((float*)p)[i] = (float)v;
  else ((double*)p)[i] = v;
}

/* ---- activations ---------------------------------------------------------------- */

static const struct {
  const char* name;
  act_kind kind;
  bool alpha, beta;
  double a, b; /* defaults, as the ONNX ops of those names */
} g_acts[] = {
    {"relu", A_RELU, false, false, 0, 0},       {"tanh", A_TANH, false, false, 0, 0},
    {"sigmoid", A_SIGMOID, false, false, 0, 0}, {"affine", A_AFFINE, true, true, 1, 0},
    {"leakyrelu", A_LEAKY, true, false, 0.01, 0}, {"thresholdedrelu", A_THRESH, true, false, 1, 0},
    {"scaledtanh", A_STANH, true, true, 1, 1},  {"hardsigmoid", A_HSIG, true, true, 0.2, 0.5},
    {"elu", A_ELU, true, false, 1, 0},          {"softsign", A_SOFTSIGN, false, false, 0, 0},
    {"softplus", A_SOFTPLUS, false, false, 0, 0},
};

static double act_apply(const act* a, double x) {
  switch (a->kind) {
    case A_RELU: return x > 0 ? x : 0;
    case A_TANH: return tanh(x);
    case A_SIGMOID: return 1 / (1 + exp(-x));
    case A_AFFINE: return a->alpha * x + a->beta;
    case A_LEAKY: return x >= 0 ? x : a->alpha * x;
    case A_THRESH: return x > a->alpha ? x : 0;
    case A_STANH: return a->alpha * tanh(a->beta * x);
    case A_HSIG: return fmax(0, fmin(1, a->alpha * x + a->beta));
    case A_ELU: return x >= 0 ? x : a->alpha * (exp(x) - 1);
    case A_SOFTSIGN: return x / (1 + fabs(x));
    case A_SOFTPLUS: return log1p(exp(-fabs(x))) + fmax(x, 0);
  }
  return x;
}

/* Reads `activations` (per direction, defaults `dflt`) with activation_alpha
 * and activation_beta consumed in order by the functions that take them. */
static pfw_status read_acts(const pfw_node* node, rnn_state* s, int32_t per_dir, const char* const* dflt) {
  const pfw_attr* names = pfw_attr_find(node, "activations");
  int32_t n = names ? names->n : 0, na, nb;
  const float* alpha = pfw_attr_floats(node, "activation_alpha", &na);
  const float* beta = pfw_attr_floats(node, "activation_beta", &nb);
  if (names && n != per_dir * s->dirs)
    return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'activations' has %d names; expected %d (%d per direction)",
                     (int)n, (int)(per_dir * s->dirs), (int)per_dir);
  int32_t ia = 0, ib = 0;
  for (int32_t k = 0; k < per_dir * s->dirs; k++) {
    const char* name = names ? names->strings[k] : dflt[k % per_dir];
    size_t j = 0, count = sizeof g_acts / sizeof g_acts[0];
    while (j < count && !pfw_equals_lower(name, g_acts[j].name)) j++;
    if (j == count) return pfw_error(PFW_ERR_UNSUPPORTED, "activation '%s' is not supported", name);
    act* a = &s->acts[k / per_dir][k % per_dir];
    a->kind = g_acts[j].kind, a->alpha = g_acts[j].a, a->beta = g_acts[j].b;
    if (g_acts[j].alpha && ia < na) a->alpha = alpha[ia++];
    if (g_acts[j].beta && ib < nb) a->beta = beta[ib++];
  }
  return PFW_OK;
}

/* ---- prepare ------------------------------------------------------------------- */

static pfw_status need_shape(const pfw_node* node, int32_t i, const char* name, pfw_dtype dt, int32_t rank,
                             const int64_t* dims) {
  pfw_status r = pfw_check_input(node, i, dt, rank);
  if (r != PFW_OK) return r;
  for (int32_t k = 0; k < rank; k++)
    if (node->in[i]->dims[k] != dims[k])
      return pfw_error(PFW_ERR_SHAPE, "input %d (%s) dim %d is %lld, expected %lld", (int)i, name, (int)k,
                       (long long)node->in[i]->dims[k], (long long)dims[k]);
  return PFW_OK;
}

static const pfw_tensor* opt_in(const pfw_node* node, int32_t i) { return i < node->n_in ? node->in[i] : NULL; }

static pfw_status rnn_prepare_kind(pfw_node* node, int kind) {
  static const int64_t gates[3] = {1, 3, 4};
  int32_t max_in = kind == LSTM ? 8 : 6;
  if (node->n_in < 3 || node->n_in > max_in)
    return pfw_error(PFW_ERR_INVALID_MODEL, "expected 3 to %d inputs, got %d", (int)max_in, (int)node->n_in);
  for (int32_t i = 0; i < 3; i++)
    if (!node->in[i])
      return pfw_error(PFW_ERR_INVALID_MODEL, "input %d (%s) is missing", (int)i, i ? (i == 1 ? "W" : "R") : "X");
  pfw_status r = pfw_need_float(node, IN_X);
  if (r != PFW_OK) return r;
  rnn_state* s = calloc(1, sizeof *s);
  if (!s) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory");
  node->state = s;
  const pfw_tensor* X = node->in[IN_X];
  pfw_dtype dt = X->dtype;
  s->kind = kind, s->gates = gates[kind], s->f32 = dt == PFW_FLOAT32;
  int64_t layout = node->desc->version >= 14 ? pfw_attr_int(node, "layout", 0) : 0;
  if (layout != 0 && layout != 1)
    return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'layout' is %lld; expected 0 or 1", (long long)layout);
  s->layout1 = layout == 1;
  const char* dir = pfw_attr_string(node, "direction", "forward");
  if (strcmp(dir, "forward") && strcmp(dir, "reverse") && strcmp(dir, "bidirectional"))
    return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'direction' is '%s'; expected forward, reverse or bidirectional",
                     dir);
  s->dirs = strcmp(dir, "bidirectional") ? 1 : 2;
  s->reverse = !strcmp(dir, "reverse");
  if (X->rank != 3) return pfw_error(PFW_ERR_SHAPE, "input 0 (X) has rank %d, expected 3", (int)X->rank);
  s->seq = X->dims[s->layout1 ? 1 : 0], s->batch = X->dims[s->layout1 ? 0 : 1], s->input = X->dims[2];
  r = pfw_check_input(node, IN_R, dt, 3);
  if (r != PFW_OK) return r;
  s->hidden = node->in[IN_R]->dims[2];
  int64_t hs = pfw_attr_int(node, "hidden_size", s->hidden);
  if (hs != s->hidden)
    return pfw_error(PFW_ERR_SHAPE, "attribute 'hidden_size' is %lld but input 2 (R) has hidden size %lld",
                     (long long)hs, (long long)s->hidden);
  int64_t GH = s->gates * s->hidden, D = s->dirs, B = s->batch, H = s->hidden;
  int64_t w[3] = {D, GH, s->input}, rr[3] = {D, GH, H}, b[2] = {D, 2 * GH}, lens[1] = {B};
  int64_t h0[3] = {D, B, H}, h0_l1[3] = {B, D, H}, p[2] = {D, 3 * H};
  r = need_shape(node, IN_W, "W", dt, 3, w);
  if (r == PFW_OK) r = need_shape(node, IN_R, "R", dt, 3, rr);
  if (r == PFW_OK && opt_in(node, IN_B)) r = need_shape(node, IN_B, "B", dt, 2, b);
  if (r == PFW_OK && opt_in(node, IN_LENS)) r = need_shape(node, IN_LENS, "sequence_lens", PFW_INT32, 1, lens);
  if (r == PFW_OK && opt_in(node, IN_H0)) r = need_shape(node, IN_H0, "initial_h", dt, 3, s->layout1 ? h0_l1 : h0);
  if (r == PFW_OK && opt_in(node, IN_C0)) r = need_shape(node, IN_C0, "initial_c", dt, 3, s->layout1 ? h0_l1 : h0);
  if (r == PFW_OK && opt_in(node, IN_P)) r = need_shape(node, IN_P, "P", dt, 2, p);
  if (r != PFW_OK) return r;

  s->has_clip = pfw_attr_find(node, "clip") != NULL;
  s->clip = pfw_attr_float(node, "clip", 0);
  if (s->has_clip && !(s->clip > 0))
    return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'clip' is %g; expected > 0", s->clip);
  s->input_forget = kind == LSTM && pfw_attr_int(node, "input_forget", 0) != 0;
  s->linear_before_reset = kind == GRU && pfw_attr_int(node, "linear_before_reset", 0) != 0;
  static const char* const d_rnn[] = {"Tanh"}, *const d_gru[] = {"Sigmoid", "Tanh"},
                           *const d_lstm[] = {"Sigmoid", "Tanh", "Tanh"};
  static const char* const* const dflt[3] = {d_rnn, d_gru, d_lstm};
  r = read_acts(node, s, (int32_t)(kind + 1), dflt[kind]);
  if (r != PFW_OK) return r;

  int64_t y[4] = {s->seq, D, B, H}, y_l1[4] = {B, s->seq, D, H};
  if (node->n_out > (kind == LSTM ? 3 : 2))
    return pfw_error(PFW_ERR_INVALID_MODEL, "expected at most %d outputs, got %d", kind == LSTM ? 3 : 2,
                     (int)node->n_out);
  if (node->n_out > 0 && node->out[0]) r = pfw_set_output(node->out[0], dt, 4, s->layout1 ? y_l1 : y);
  for (int32_t j = 1; j < node->n_out && r == PFW_OK; j++)
    if (node->out[j]) r = pfw_set_output(node->out[j], dt, 3, s->layout1 ? h0_l1 : h0);
  if (r != PFW_OK) return r;
  /* Per slice: H and C of one row, two hidden-sized temporaries and the gate inputs, in double. */
  int64_t bytes;
  if (pfw_mul_overflows(4 * H + GH, RNN_SLICES * (int64_t)sizeof(double), &bytes))
    return pfw_error(PFW_ERR_SHAPE, "hidden size %lld is too large", (long long)H);
  node->scratch_size = (size_t)bytes;
  return PFW_OK;
}

/* ---- run ------------------------------------------------------------------------ */

static double clip(const rnn_state* s, double x) {
  if (!s->has_clip) return x;
  return x > s->clip ? s->clip : x < -s->clip ? -s->clip : x;
}

/* Index of (time t, direction d, batch b) rows in X-like (no d) and Y/state tensors. */
static int64_t x_row(const rnn_state* s, int64_t t, int64_t b) {
  return (s->layout1 ? b * s->seq + t : t * s->batch + b) * s->input;
}
static int64_t y_row(const rnn_state* s, int64_t t, int64_t d, int64_t b) {
  return (s->layout1 ? (b * s->seq + t) * s->dirs + d : (t * s->dirs + d) * s->batch + b) * s->hidden;
}
static int64_t state_row(const rnn_state* s, int64_t d, int64_t b) {
  return (s->layout1 ? b * s->dirs + d : d * s->batch + b) * s->hidden;
}

/* g[k] = x W[k]^T + Wb[k] (+ H R[k]^T + Rb[k] for k below `r_upto`) for the G*H gate rows. */
static void gate_inputs(const pfw_node* node, const rnn_state* s, int64_t d, int64_t xr, const double* h,
                        int64_t r_upto, double* g) {
  bool f32 = s->f32;
  const void* W = node->in[IN_W]->data;
  const void* R = node->in[IN_R]->data;
  const pfw_tensor* B = opt_in(node, IN_B);
  int64_t GH = s->gates * s->hidden;
  for (int64_t k = 0; k < GH; k++) {
    double acc = 0;
    int64_t wr = (d * GH + k) * s->input;
    for (int64_t i = 0; i < s->input; i++) acc += ld(node->in[IN_X]->data, f32, xr + i) * ld(W, f32, wr + i);
    if (B) acc += ld(B->data, f32, d * 2 * GH + k);
    if (k < r_upto) {
      int64_t rr = (d * GH + k) * s->hidden;
      for (int64_t j = 0; j < s->hidden; j++) acc += h[j] * ld(R, f32, rr + j);
      if (B) acc += ld(B->data, f32, d * 2 * GH + GH + k);
    }
    g[k] = acc;
  }
}

/* (r-scaled) H R_h^T + Rb_h of GRU's third gate into out. */
static void gru_recurrent_h(const pfw_node* node, const rnn_state* s, int64_t d, const double* h, double* out) {
  int64_t H = s->hidden, GH = 3 * H;
  const pfw_tensor* B = opt_in(node, IN_B);
  for (int64_t k = 0; k < H; k++) {
    int64_t rr = (d * GH + 2 * H + k) * H;
    double acc = B ? ld(B->data, s->f32, d * 2 * GH + GH + 2 * H + k) : 0;
    for (int64_t j = 0; j < H; j++) acc += h[j] * ld(node->in[IN_R]->data, s->f32, rr + j);
    out[k] = acc;
  }
}

/* One time step of row (d, b): updates h (and c) from the input row xr;
 * tmp holds 2 * hidden values. */
static void step(const pfw_node* node, const rnn_state* s, int64_t d, int64_t xr, double* h, double* c, double* g,
                 double* tmp) {
  const act* a = s->acts[d];
  int64_t H = s->hidden;
  if (s->kind == RNN) {
    gate_inputs(node, s, d, xr, h, H, g);
    for (int64_t k = 0; k < H; k++) h[k] = act_apply(&a[0], clip(s, g[k]));
  } else if (s->kind == GRU) {
    gate_inputs(node, s, d, xr, h, 2 * H, g); /* z, r with their recurrence; h's input part only */
    for (int64_t k = 0; k < 2 * H; k++) g[k] = act_apply(&a[0], clip(s, g[k]));
    const double *z = g, *rg = g + H;
    if (s->linear_before_reset) {
      gru_recurrent_h(node, s, d, h, tmp);
      for (int64_t k = 0; k < H; k++) tmp[k] *= rg[k];
    } else {
      double* rh = tmp + H;
      for (int64_t k = 0; k < H; k++) rh[k] = rg[k] * h[k];
      /* Rbh is added outside the product here, as ONNX states. */
      gru_recurrent_h(node, s, d, rh, tmp);
    }
    for (int64_t k = 0; k < H; k++) {
      double hh = act_apply(&a[1], clip(s, g[2 * H + k] + tmp[k]));
      h[k] = (1 - z[k]) * hh + z[k] * h[k];
    }
  } else {
    gate_inputs(node, s, d, xr, h, 4 * H, g);
    const pfw_tensor* P = opt_in(node, IN_P);
    for (int64_t k = 0; k < H; k++) {
      double pi = P ? ld(P->data, s->f32, d * 3 * H + k) : 0, po = P ? ld(P->data, s->f32, d * 3 * H + H + k) : 0;
      double pf = P ? ld(P->data, s->f32, d * 3 * H + 2 * H + k) : 0;
      double i = act_apply(&a[0], clip(s, g[k] + pi * c[k]));
      double f = s->input_forget ? 1 - i : act_apply(&a[0], clip(s, g[2 * H + k] + pf * c[k]));
      double cc = act_apply(&a[1], clip(s, g[3 * H + k]));
      c[k] = f * c[k] + i * cc;
      double o = act_apply(&a[0], clip(s, g[H + k] + po * c[k]));
      h[k] = o * act_apply(&a[2], c[k]);
    }
  }
}

/* Runs direction d of batch row b over its `len` steps; `work` holds 4 * hidden + gates * hidden values. */
static void rnn_sequence(const pfw_node* node, const rnn_state* s, int64_t b, int64_t d, int64_t len, double* work) {
  const pfw_tensor* h0 = opt_in(node, IN_H0);
  const pfw_tensor* c0 = opt_in(node, IN_C0);
  pfw_tensor* Y = node->n_out > 0 ? node->out[0] : NULL;
  pfw_tensor* Yh = node->n_out > 1 ? node->out[1] : NULL;
  pfw_tensor* Yc = node->n_out > 2 ? node->out[2] : NULL;
  int64_t H = s->hidden, sr = state_row(s, d, b);
  double *h = work, *c = h + H, *tmp = c + H, *g = tmp + 2 * H;
  for (int64_t k = 0; k < H; k++) {
    h[k] = h0 ? ld(h0->data, s->f32, sr + k) : 0;
    c[k] = c0 ? ld(c0->data, s->f32, sr + k) : 0;
  }
  bool back = s->reverse || d == 1;
  for (int64_t n = 0; n < len; n++) {
    int64_t t = back ? len - 1 - n : n;
    step(node, s, d, x_row(s, t, b), h, c, g, tmp);
    if (Y)
      for (int64_t k = 0; k < H; k++) st(Y->data, s->f32, y_row(s, t, d, b) + k, h[k]);
  }
  for (int64_t t = len; Y && t < s->seq; t++)
    for (int64_t k = 0; k < H; k++) st(Y->data, s->f32, y_row(s, t, d, b) + k, 0);
  /* A row with no steps has zero states, as ONNX Runtime gives (ONNX is silent). */
  for (int64_t k = 0; k < H; k++) {
    if (Yh) st(Yh->data, s->f32, sr + k, len ? h[k] : 0);
    if (Yc) st(Yc->data, s->f32, sr + k, len ? c[k] : 0);
  }
}

static int64_t row_len(const pfw_node* node, const rnn_state* s, int64_t b) {
  const pfw_tensor* lens = opt_in(node, IN_LENS);
  return lens ? ((const int32_t*)lens->data)[b] : s->seq;
}

/* Slices [begin, end) of the (batch row, direction) sequences, each with its
 * own scratch, so every sequence is computed the same whatever the thread count. */
static void rnn_slices(void* p, int64_t begin, int64_t end) {
  const pfw_node* node = p;
  const rnn_state* s = node->state;
  int64_t rows = s->batch * s->dirs, work = 4 * s->hidden + s->gates * s->hidden;
  for (int64_t c = begin; c < end; c++)
    for (int64_t r = c * rows / RNN_SLICES; r < (c + 1) * rows / RNN_SLICES; r++)
      rnn_sequence(node, s, r / s->dirs, r % s->dirs, row_len(node, s, r / s->dirs),
                   (double*)node->scratch + c * work);
}

static pfw_status rnn_run(pfw_node* node) {
  const rnn_state* s = node->state;
  for (int64_t b = 0; b < s->batch; b++) {
    int64_t len = row_len(node, s, b);
    if (len < 0 || len > s->seq)
      return pfw_error(PFW_ERR_INVALID_ARGUMENT, "input 4 (sequence_lens) [%lld] is %lld; expected 0 to %lld",
                       (long long)b, (long long)len, (long long)s->seq);
  }
  if (s->hidden == 0) return PFW_OK; /* every output is empty, and there is no scratch to offset */
  pfw_parallel_for(node->pool, RNN_SLICES, rnn_slices, node);
  return PFW_OK;
}

static pfw_status rnn_prepare(pfw_node* node) { return rnn_prepare_kind(node, RNN); }
static pfw_status gru_prepare(pfw_node* node) { return rnn_prepare_kind(node, GRU); }
static pfw_status lstm_prepare(pfw_node* node) { return rnn_prepare_kind(node, LSTM); }

const pfw_op pfw_op_RNN = {PFW_OP_RNN, rnn_prepare, rnn_run, 0};
const pfw_op pfw_op_GRU = {PFW_OP_GRU, gru_prepare, rnn_run, 0};
const pfw_op pfw_op_LSTM = {PFW_OP_LSTM, lstm_prepare, rnn_run, 0};
