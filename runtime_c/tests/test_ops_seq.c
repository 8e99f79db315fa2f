/* Attention, RMSNormalization, RotaryEmbedding, RNN, GRU and LSTM on cases
 * with closed-form answers (run under ASan+UBSan by `make c-test`); their
 * full numeric checks against ONNX Runtime are the pytest suites. */
#include <math.h>

#include "op_harness.h"
#include "ops/ops_common.h"

static void outputs(tnode* t, int32_t n) {
  t->node.n_out = n;
  for (int32_t j = 0; j < n; j++) {
    t->pout[j] = &t->tout[j];
    t->tout[j].index = -1;
  }
}

static float sig(float x) { return 1 / (1 + expf(-x)); }

/* ---- Attention -------------------------------------------------------------------- */

/* Q = 0 gives uniform weights over the keys each query may see: causal row i
 * averages V rows 0..i; mode 3 exposes those weights; present = past ++ new. */
static void test_attention_causal_with_past(void) {
  float q[4] = {0}, k[4] = {1, 2, 3, 4}, v[4] = {1, 10, 3, 30}, pk[2] = {5, 6}, pv[2] = {7, 70};
  tnode t;
  tn_init(&t, PFW_OP_Attention, 23);
  F32(&t, q, 1, 1, 2, 2), F32(&t, k, 1, 1, 2, 2), F32(&t, v, 1, 1, 2, 2);
  ABSENT(&t);
  F32(&t, pk, 1, 1, 1, 2), F32(&t, pv, 1, 1, 1, 2);
  tn_int(&t, "is_causal", 1);
  tn_int(&t, "qk_matmul_output_mode", 3);
  outputs(&t, 4);
  CHECK_OK(tn_exec(&t));
  /* With one past key, query 0 sees keys 0-1 and query 1 sees all three. */
  CHECK_SHAPE(&t.tout[0], 1, 1, 2, 2);
  CHECK_CLOSE((float*)t.tout[0].data, ((float[]){4, 40, 11 / 3.0f, 110 / 3.0f}), 4, 1e-6, 0);
  CHECK_CLOSE((float*)t.tout[1].data, ((float[]){5, 6, 1, 2, 3, 4}), 6, 0, 0);
  CHECK_CLOSE((float*)t.tout[2].data, ((float[]){7, 70, 1, 10, 3, 30}), 6, 0, 0);
  float third = 1 / 3.0f;
  CHECK_CLOSE((float*)t.tout[3].data, ((float[]){0.5f, 0.5f, 0, third, third, third}), 6, 1e-6, 0);
  tn_free(&t);
}

/* 3-D grouped heads: two query heads share one key/value head; a bool mask
 * row that allows nothing gives Y = 0, not NaN. */
static void test_attention_gqa_masked_row(void) {
  float q[8] = {0}, k[4] = {1, 1, 2, 2}, v[4] = {2, 4, 6, 8};
  bool mask[4] = {true, true, false, false};
  tnode t;
  tn_init(&t, PFW_OP_Attention, 23);
  F32(&t, q, 1, 2, 4), F32(&t, k, 1, 2, 2), F32(&t, v, 1, 2, 2);
  tn_in(&t, PFW_BOOL, mask, SH(2, 2));
  tn_int(&t, "q_num_heads", 2);
  tn_int(&t, "kv_num_heads", 1);
  CHECK_OK(tn_exec(&t));
  CHECK_SHAPE(&t.tout[0], 1, 2, 4);
  CHECK_CLOSE((float*)t.tout[0].data, ((float[]){4, 6, 4, 6, 0, 0, 0, 0}), 8, 1e-6, 0);
  tn_free(&t);
}

/* bfloat16 (which Python cannot feed): Q = 0 weighs two keys 1/2 each, exactly. */
static void test_attention_bfloat16(void) {
  uint16_t q[2] = {0, 0}, k[4], v[4];
  const float kf[4] = {1, 2, 3, 4}, vf[4] = {1, 2, 3, 4};
  for (int i = 0; i < 4; i++) k[i] = pfw_float_to_bf16(kf[i]), v[i] = pfw_float_to_bf16(vf[i]);
  tnode t;
  tn_init(&t, PFW_OP_Attention, 23);
  tn_in(&t, PFW_BFLOAT16, q, SH(1, 1, 1, 2)), tn_in(&t, PFW_BFLOAT16, k, SH(1, 1, 2, 2));
  tn_in(&t, PFW_BFLOAT16, v, SH(1, 1, 2, 2));
  CHECK_OK(tn_exec(&t));
  const uint16_t* y = t.tout[0].data;
  CHECK(t.tout[0].dtype == PFW_BFLOAT16 && pfw_bf16_to_float(y[0]) == 2 && pfw_bf16_to_float(y[1]) == 3);
  tn_free(&t);
}

/* No keys at all: every row is fully masked, so Y = 0. */
static void test_attention_no_keys(void) {
  float q[4] = {1, 2, 3, 4}, kv[1] = {0};
  tnode t;
  tn_init(&t, PFW_OP_Attention, 23);
  F32(&t, q, 1, 1, 2, 2), F32(&t, kv, 1, 1, 0, 2), F32(&t, kv, 1, 1, 0, 2);
  CHECK_OK(tn_exec(&t));
  CHECK_CLOSE((float*)t.tout[0].data, ((float[]){0, 0, 0, 0}), 4, 0, 0);
  tn_free(&t);
}

static void test_attention_errors(void) {
  float x[48] = {0};
  int64_t lens[1] = {5};
  tnode t;
  tn_init(&t, PFW_OP_Attention, 23);
  F32(&t, x, 1, 3, 2, 2), F32(&t, x, 1, 2, 2, 2), F32(&t, x, 1, 2, 2, 2);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_SHAPE);
  CHECK_ERROR_HAS("3 query heads are not a multiple of 2 key/value heads");
  tn_free(&t);
  tn_init(&t, PFW_OP_Attention, 23);
  F32(&t, x, 1, 1, 2, 2), F32(&t, x, 1, 1, 3, 2), F32(&t, x, 1, 1, 3, 2), F32(&t, x, 2, 1, 2, 3);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_SHAPE);
  CHECK_ERROR_HAS("attn_mask) dim 0 is 2");
  tn_free(&t);
  tn_init(&t, PFW_OP_Attention, 24);
  F32(&t, x, 1, 1, 2, 2), F32(&t, x, 1, 1, 3, 2), F32(&t, x, 1, 1, 3, 2);
  ABSENT(&t), ABSENT(&t), ABSENT(&t);
  tn_in(&t, PFW_INT64, lens, SH(1));
  CHECK_STATUS(tn_exec(&t), PFW_ERR_INVALID_ARGUMENT);
  CHECK_ERROR_HAS("nonpad_kv_seqlen) [0] is 5; expected 0 to 3");
  tn_free(&t);
}

/* ---- RMSNormalization, RotaryEmbedding ------------------------------------------------ */

static void test_rms_norm(void) {
  float x[4] = {3, 4, 1, -1}, w[2] = {2, 1};
  tnode t;
  tn_init(&t, PFW_OP_RMSNormalization, 23);
  F32(&t, x, 2, 2), F32(&t, w, 2);
  tn_float(&t, "epsilon", 0);
  CHECK_OK(tn_exec(&t));
  float rms = sqrtf(12.5f);
  CHECK_CLOSE((float*)t.tout[0].data, ((float[]){6 / rms, 4 / rms, 2, -1}), 4, 1e-6, 0);
  tn_free(&t);
}

/* A quarter turn per pair: (x1, x2) -> (-x2, x1); the unrotated tail is copied. */
static void test_rotary_quarter_turn(void) {
  float x[6] = {1, 2, 3, 4, 5, 6}, c[2] = {0, 1}, s[2] = {1, 0};
  int64_t ids[1] = {0};
  tnode t;
  tn_init(&t, PFW_OP_RotaryEmbedding, 23);
  F32(&t, x, 1, 1, 1, 6), F32(&t, c, 1, 2), F32(&t, s, 1, 2);
  tn_in(&t, PFW_INT64, ids, SH(1, 1));
  tn_int(&t, "rotary_embedding_dim", 4);
  CHECK_OK(tn_exec(&t));
  /* Halves of the rotary part: pairs (1, 3) turn, (2, 4) have cos 1, sin 0. */
  CHECK_CLOSE((float*)t.tout[0].data, ((float[]){-3, 2, 1, 4, 5, 6}), 6, 1e-6, 0);
  tn_free(&t);
  tn_init(&t, PFW_OP_RotaryEmbedding, 23);
  F32(&t, x, 1, 1, 1, 6), F32(&t, c, 1, 2), F32(&t, s, 1, 2);
  ids[0] = 1;
  tn_in(&t, PFW_INT64, ids, SH(1, 1));
  tn_int(&t, "rotary_embedding_dim", 4);
  CHECK_STATUS(tn_exec(&t), PFW_ERR_INVALID_ARGUMENT);
  CHECK_ERROR_HAS("position_ids) [0, 0] is 1; expected 0 to 0");
  tn_free(&t);
}

/* ---- RNN, GRU, LSTM ----------------------------------------------------------------- */

/* h_t = relu(x_t + 0.5 h_{t-1}); the reverse direction starts at each row's
 * last step, and steps past a row's length are 0. */
static void test_rnn_bidirectional_lengths(void) {
  float x[4] = {1, 4, 2, 0}, w[2] = {1, 1}, r[2] = {0.5f, 0.5f}; /* X (seq 2, batch 2, 1) */
  int32_t lens[2] = {2, 1};
  tnode t;
  tn_init(&t, PFW_OP_RNN, 22);
  F32(&t, x, 2, 2, 1), F32(&t, w, 2, 1, 1), F32(&t, r, 2, 1, 1);
  ABSENT(&t);
  tn_in(&t, PFW_INT32, lens, SH(2));
  tn_str(&t, "direction", "bidirectional");
  pfw_attr* a = tn_attr(&t, "activations", PFW_ATTR_STRINGS);
  static const char* relu[2] = {"Relu", "Relu"};
  a->strings = relu, a->n = 2;
  outputs(&t, 2);
  CHECK_OK(tn_exec(&t));
  CHECK_SHAPE(&t.tout[0], 2, 2, 2, 1);
  /* Y[t][d][b]: forward b0: 1, 2.5; b1: 4, 0. Reverse b0 (from t = 1): 2, 1 + 1; b1: 4, 0. */
  CHECK_CLOSE((float*)t.tout[0].data, ((float[]){1, 4, 2, 4, 2.5f, 0, 2, 0}), 8, 1e-6, 0);
  CHECK_CLOSE((float*)t.tout[1].data, ((float[]){2.5f, 4, 2, 4}), 4, 1e-6, 0);
  tn_free(&t);
}

/* With W = R = 0 the gates are functions of the bias alone. */
static void test_gru_lstm_bias_only(void) {
  float x[1] = {7}, w[4] = {0}, r[4] = {0}, h0[1] = {0.5f}, c0[1] = {-1};
  float bg[6] = {0.3f, -0.2f, 0.1f, 0.4f, 0.5f, 0.6f}, bl[8] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, -0.6f, 0.7f, 0.8f};
  tnode t;
  tn_init(&t, PFW_OP_GRU, 22);
  F32(&t, x, 1, 1, 1), F32(&t, w, 1, 3, 1), F32(&t, r, 1, 3, 1), F32(&t, bg, 1, 6);
  ABSENT(&t);
  F32(&t, h0, 1, 1, 1);
  outputs(&t, 2);
  CHECK_OK(tn_exec(&t));
  float z = sig(0.3f + 0.4f), hh = tanhf(0.1f + 0.6f);
  CHECK_CLOSE((float*)t.tout[1].data, ((float[]){(1 - z) * hh + z * 0.5f}), 1, 1e-6, 0);
  tn_free(&t);
  tn_init(&t, PFW_OP_LSTM, 22);
  F32(&t, x, 1, 1, 1), F32(&t, w, 1, 4, 1), F32(&t, r, 1, 4, 1), F32(&t, bl, 1, 8);
  ABSENT(&t);
  F32(&t, h0, 1, 1, 1), F32(&t, c0, 1, 1, 1);
  outputs(&t, 3);
  CHECK_OK(tn_exec(&t));
  /* Gate order i, o, f, c; each gate's bias is Wb + Rb. */
  float i = sig(0.1f + 0.5f), o = sig(0.2f - 0.6f), f = sig(0.3f + 0.7f), cc = tanhf(0.4f + 0.8f);
  float c = f * -1 + i * cc;
  CHECK_CLOSE((float*)t.tout[2].data, ((float[]){c}), 1, 1e-6, 0);
  CHECK_CLOSE((float*)t.tout[1].data, ((float[]){o * tanhf(c)}), 1, 1e-6, 0);
  tn_free(&t);
}

static void test_rnn_errors(void) {
  float x[6] = {0}, w[6] = {0};
  int32_t lens[1] = {3};
  tnode t;
  tn_init(&t, PFW_OP_LSTM, 22);
  F32(&t, x, 2, 1, 3), F32(&t, w, 1, 4, 3), F32(&t, w, 1, 4, 1);
  tn_int(&t, "hidden_size", 2);
  CHECK_STATUS(tn_prepare(&t), PFW_ERR_SHAPE);
  CHECK_ERROR_HAS("'hidden_size' is 2 but input 2 (R) has hidden size 1");
  tn_free(&t);
  tn_init(&t, PFW_OP_RNN, 22);
  F32(&t, x, 2, 1, 3), F32(&t, w, 1, 1, 3), F32(&t, w, 1, 1, 1);
  ABSENT(&t);
  tn_in(&t, PFW_INT32, lens, SH(1));
  CHECK_STATUS(tn_exec(&t), PFW_ERR_INVALID_ARGUMENT);
  CHECK_ERROR_HAS("sequence_lens) [0] is 3; expected 0 to 2");
  tn_free(&t);
}

int main(void) {
  test_attention_causal_with_past();
  test_attention_gqa_masked_row();
  test_attention_bfloat16();
  test_attention_no_keys();
  test_attention_errors();
  test_rms_norm();
  test_rotary_quarter_turn();
  test_rnn_bidirectional_lengths();
  test_gru_lstm_bias_only();
  test_rnn_errors();
  TEST_MAIN_END();
}
