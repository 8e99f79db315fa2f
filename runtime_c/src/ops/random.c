/* Random ops: RandomUniform, RandomUniformLike, RandomNormal,
 * RandomNormalLike, Multinomial (Bernoulli and Dropout in training mode are
 * imported as RandomUniformLike and a comparison).
 *
 * The bits come from Philox4x64-10 (Salmon et al., "Parallel random numbers:
 * as easy as 1, 2, 3", SC 2011), a counter-based generator: block c, four
 * 64-bit words, is a pure function of (key, c), so every thread can compute
 * any part of an output and every thread count gives the same values. The
 * stream is NumPy's: numpy.random.Generator(numpy.random.Philox(key=k))
 * draws the same words (its first block is counter 1), and float64 and
 * float32 uniforms map them as its random() does -- the tests' oracle.
 *
 * The key is a node's `seed` attribute when it has one (one seed, one
 * stream, as in ONNX Runtime and PyTorch), else the interpreter's seed
 * (pfw_options_set_seed, 0 by default) with the node's place in the model.
 * Each run continues the node's stream at its next unused block: runs differ
 * from each other and reproduce from process to process. */
#include <math.h>
#include <string.h>

#include "interpreter_internal.h"
#include "ops_common.h"

/* The high and low words of a * b (portable: no 128-bit type in C11). */
static uint64_t mulhilo(uint64_t a, uint64_t b, uint64_t* hi) {
  uint64_t a0 = (uint32_t)a, a1 = a >> 32, b0 = (uint32_t)b, b1 = b >> 32;
  uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  uint64_t mid = (p00 >> 32) + (uint32_t)p01 + (uint32_t)p10;
  *hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
  return a * b;
}

static void philox(const uint64_t key[2], uint64_t counter, uint64_t out[4]) {
  uint64_t c0 = counter, c1 = 0, c2 = 0, c3 = 0, k0 = key[0], k1 = key[1];
  for (int r = 0; r < 10; r++) {
    uint64_t hi0, hi1;
    uint64_t lo0 = mulhilo(0xD2E7470EE14C6C93ull, c0, &hi0);
    uint64_t lo1 = mulhilo(0xCA5A826395121157ull, c2, &hi1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += 0x9E3779B97F4A7C15ull;
    k1 += 0xBB67AE8584CAA73Bull;
  }
  out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

/* [0, 1) as NumPy's random() maps a word: 53 or 24 high bits. */
static double unit_f64(uint64_t w) { return (double)(w >> 11) * 0x1.0p-53; }
static float unit_f32(uint32_t w) { return (float)(w >> 8) * 0x1.0p-24f; }

typedef enum { DRAW_UNIFORM, DRAW_NORMAL } draw_kind;

typedef struct {
  draw_kind kind;
  double a, b;     /* uniform: low, high; normal: mean, scale */
  uint64_t key[2];
  uint64_t first;  /* counter of this run's first block */
  void* y;
  pfw_dtype dtype;
  int64_t n;
} draw_job;

/* Elements one block gives: 4 words, each two float32 uniforms, one float64
 * uniform, or half a normal pair (Box-Muller). */
static int64_t per_block(const draw_job* j) {
  return j->kind == DRAW_UNIFORM && j->dtype != PFW_FLOAT64 ? 8 : 4;
}

static void put(const draw_job* j, int64_t e, double v) {
  if (j->dtype == PFW_FLOAT64) ((double*)j->y)[e] = v;
  else pfw_store_real((char*)j->y + (size_t)e * pfw_dtype_size(j->dtype), j->dtype, (float)v);
}

static void draw_blocks(void* arg, int64_t begin, int64_t end) {
  const draw_job* j = arg;
  int64_t per = per_block(j);
  for (int64_t blk = begin; blk < end; blk++) {
    uint64_t w[4];
    philox(j->key, j->first + (uint64_t)blk, w);
    int64_t e0 = blk * per;
    if (j->kind == DRAW_NORMAL) {
      for (int p = 0; p < 2; p++) {
        double r = sqrt(-2.0 * log(1.0 - unit_f64(w[2 * p]))), t = 6.283185307179586477 * unit_f64(w[2 * p + 1]);
        if (e0 + 2 * p < j->n) put(j, e0 + 2 * p, j->a + j->b * (r * cos(t)));
        if (e0 + 2 * p + 1 < j->n) put(j, e0 + 2 * p + 1, j->a + j->b * (r * sin(t)));
      }
    } else if (j->dtype == PFW_FLOAT64) {
      for (int64_t k = 0; k < 4 && e0 + k < j->n; k++) {
        double span = (j->b - j->a) * unit_f64(w[k]);
        ((double*)j->y)[e0 + k] = j->a + span;
      }
    } else { /* float32 arithmetic, NumPy's low half first */
      float lo = (float)j->a, range = (float)j->b - lo;
      for (int64_t k = 0; k < 8 && e0 + k < j->n; k++) {
        uint64_t word = w[k / 2];
        float span = range * unit_f32((uint32_t)(k % 2 ? word >> 32 : word));
        float v = lo + span;
        if (j->dtype == PFW_FLOAT32) ((float*)j->y)[e0 + k] = v;
        else pfw_store_real((char*)j->y + (size_t)(e0 + k) * 2, j->dtype, v);
      }
    }
  }
}

/* The node's key: its seed, else the interpreter's seed and the node's
 * graph and position (never equal to a seeded key, whose second word is 0). */
static void node_key(const pfw_node* node, uint64_t key[2]) {
  const pfw_attr* seed = pfw_attr_find(node, "seed");
  const pfw_interpreter* it = node->owner;
  if (seed && seed->type == PFW_ATTR_FLOAT) {
    double s = seed->f;
    if (s == floor(s) && fabs(s) < 9.2e18) {
      key[0] = (uint64_t)(int64_t)s;
    } else {
      uint32_t bits;
      memcpy(&bits, &seed->f, sizeof bits);
      key[0] = bits;
    }
    key[1] = 0;
    return;
  }
  uint64_t graph = it ? (uint64_t)(it->graph - it->model->graphs) : 0;
  uint64_t index = it ? (uint64_t)(node - it->nodes) : 0;
  key[0] = it ? it->seed : 0;
  key[1] = (1ull << 63) | graph << 32 | (index + 1);
}

/* Takes `blocks` blocks from the node's stream: the counter of the first. */
static uint64_t take_blocks(pfw_node* node, uint64_t blocks) {
  uint64_t first = node->rng_blocks + 1;
  node->rng_blocks += blocks;
  return first;
}

static bool is_real(pfw_dtype d) {
  return d == PFW_FLOAT32 || d == PFW_FLOAT64 || d == PFW_FLOAT16 || d == PFW_BFLOAT16;
}

/* Output dtype: the `dtype` attribute, else `dflt`; a float type. */
static pfw_status out_dtype(const pfw_node* node, pfw_dtype dflt, pfw_dtype* out) {
  int64_t d = pfw_attr_int(node, "dtype", dflt);
  if (!is_real((pfw_dtype)d))
    return pfw_error(PFW_ERR_UNSUPPORTED, "dtype %lld (%s) is not a float type: %s draws float16, bfloat16, "
                     "float32 or float64", (long long)d, pfw_dtype_name((pfw_dtype)d), pfw_op_name(node->desc->op));
  *out = (pfw_dtype)d;
  return PFW_OK;
}

static pfw_status random_prepare(pfw_node* node) {
  if (node->n_out < 1 || !node->out[0]) return pfw_error(PFW_ERR_INVALID_MODEL, "expected 1 output");
  uint16_t op = node->desc->op;
  bool like = op == PFW_OP_RandomUniformLike || op == PFW_OP_RandomNormalLike;
  pfw_dtype dtype = PFW_FLOAT32;
  pfw_status st;
  if (like) {
    if ((st = pfw_need_io(node, 1, 1)) != PFW_OK) return st;
    const pfw_tensor* x = node->in[0];
    /* Without `dtype` the output takes the input's, which must then be a float type. */
    if ((st = out_dtype(node, x->dtype, &dtype)) != PFW_OK) return st;
    return pfw_set_output(node->out[0], dtype, x->rank, x->dims);
  }
  if (node->n_in != 0) return pfw_error(PFW_ERR_INVALID_MODEL, "expected no inputs, got %d", (int)node->n_in);
  if ((st = out_dtype(node, PFW_FLOAT32, &dtype)) != PFW_OK) return st;
  int32_t rank;
  const int64_t* dims = pfw_attr_ints(node, "shape", &rank);
  if (rank < 0) return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'shape' is required");
  if (rank > PFW_MAX_RANK)
    return pfw_error(PFW_ERR_UNSUPPORTED, "attribute 'shape' has %d dims; at most %d are supported", (int)rank,
                     PFW_MAX_RANK);
  for (int32_t k = 0; k < rank; k++)
    if (dims[k] < 0)
      return pfw_error(PFW_ERR_INVALID_MODEL, "shape[%d] is %lld; dimensions must be >= 0", (int)k,
                       (long long)dims[k]);
  return pfw_set_output(node->out[0], dtype, rank, dims);
}

static pfw_status random_run(pfw_node* node) {
  uint16_t op = node->desc->op;
  bool normal = op == PFW_OP_RandomNormal || op == PFW_OP_RandomNormalLike;
  pfw_tensor* y = node->out[0];
  draw_job j = {normal ? DRAW_NORMAL : DRAW_UNIFORM, 0, 0, {0, 0}, 0, y->data, y->dtype, pfw_numel(y)};
  j.a = normal ? pfw_attr_float(node, "mean", 0.0f) : pfw_attr_float(node, "low", 0.0f);
  j.b = normal ? pfw_attr_float(node, "scale", 1.0f) : pfw_attr_float(node, "high", 1.0f);
  node_key(node, j.key);
  int64_t blocks = (j.n + per_block(&j) - 1) / per_block(&j);
  j.first = take_blocks(node, (uint64_t)blocks);
  pfw_parallel_for(node->pool, blocks, draw_blocks, &j);
  return PFW_OK;
}

/* Outputs differ from run to run: never evaluated while planning. */
const pfw_op pfw_op_RandomUniform = {PFW_OP_RandomUniform, random_prepare, random_run, PFW_OPF_RANDOM};
const pfw_op pfw_op_RandomUniformLike = {PFW_OP_RandomUniformLike, random_prepare, random_run, PFW_OPF_RANDOM};
const pfw_op pfw_op_RandomNormal = {PFW_OP_RandomNormal, random_prepare, random_run, PFW_OPF_RANDOM};
const pfw_op pfw_op_RandomNormalLike = {PFW_OP_RandomNormalLike, random_prepare, random_run, PFW_OPF_RANDOM};

/* ---- Multinomial ---------------------------------------------------------
 * Input (batch, classes) of unnormalised log-probabilities; output (batch,
 * sample_size) of class indices. Sample s of row b takes word b * sample_size
 * + s as a float64 uniform u and returns the first class whose cumulative
 * weight exp(x - max) exceeds u times the row's total. */

static pfw_status multinomial_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, 1);
  if (st != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  if (x->dtype != PFW_FLOAT32 && x->dtype != PFW_FLOAT64)
    return pfw_error(PFW_ERR_UNSUPPORTED, "input 0 is %s; Multinomial takes float32 or float64",
                     pfw_dtype_name(x->dtype));
  if (x->rank != 2) return pfw_error(PFW_ERR_SHAPE, "input 0 has rank %d; Multinomial takes (batch, classes)",
                                     (int)x->rank);
  int64_t dtype = pfw_attr_int(node, "dtype", PFW_INT32), samples = pfw_attr_int(node, "sample_size", 1);
  if (dtype != PFW_INT32 && dtype != PFW_INT64)
    return pfw_error(PFW_ERR_UNSUPPORTED, "dtype %lld: Multinomial returns int32 or int64", (long long)dtype);
  if (samples < 1) return pfw_error(PFW_ERR_INVALID_MODEL, "sample_size is %lld; it must be >= 1", (long long)samples);
  int64_t dims[2] = {x->dims[0], samples};
  if (x->dims[1] < 1 && x->dims[0] > 0)
    return pfw_error(PFW_ERR_SHAPE, "input 0 has no classes (dims (%lld, 0))", (long long)x->dims[0]);
  /* One row's cumulative weights. */
  int64_t bytes;
  if (pfw_mul_overflows(x->dims[1], (int64_t)sizeof(double), &bytes))
    return pfw_error(PFW_ERR_SHAPE, "input 0 has too many classes");
  node->scratch_size = (size_t)bytes;
  return pfw_set_output(node->out[0], (pfw_dtype)dtype, 2, dims);
}

static pfw_status multinomial_run(pfw_node* node) {
  const pfw_tensor* x = node->in[0];
  pfw_tensor* y = node->out[0];
  int64_t batch = x->dims[0], classes = x->dims[1], samples = y->dims[1];
  double* cdf = node->scratch;
  uint64_t key[2];
  node_key(node, key);
  uint64_t words = (uint64_t)batch * (uint64_t)samples, first = take_blocks(node, (words + 3) / 4);
  for (int64_t b = 0; b < batch; b++) {
    double top = -INFINITY, total = 0;
    for (int64_t c = 0; c < classes; c++) {
      double v = pfw_load_real(x->data, x->dtype, b * classes + c);
      top = v > top ? v : top;
    }
    for (int64_t c = 0; c < classes; c++) {
      total += exp(pfw_load_real(x->data, x->dtype, b * classes + c) - top);
      cdf[c] = total;
    }
    if (!(total > 0) || !isfinite(total))
      return pfw_error(PFW_ERR_INVALID_ARGUMENT, "row %lld of input 0 has no finite maximum to draw from (NaN or "
                       "all -inf)", (long long)b);
    for (int64_t s = 0; s < samples; s++) {
      uint64_t word = (uint64_t)(b * samples + s), w[4];
      philox(key, first + word / 4, w);
      double target = unit_f64(w[word % 4]) * total;
      int64_t lo = 0, hi = classes - 1; /* the first c with cdf[c] > target */
      while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (cdf[mid] > target) hi = mid;
        else lo = mid + 1;
      }
      if (y->dtype == PFW_INT64) ((int64_t*)y->data)[b * samples + s] = lo;
      else ((int32_t*)y->data)[b * samples + s] = (int32_t)lo;
    }
  }
  return PFW_OK;
}

const pfw_op pfw_op_Multinomial = {PFW_OP_Multinomial, multinomial_prepare, multinomial_run, PFW_OPF_RANDOM};
