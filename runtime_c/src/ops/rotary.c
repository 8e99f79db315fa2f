/* RotaryEmbedding (opset 23), float32/float64: rotates the first
 * rotary_embedding_dim values of each head as rotary_embedding_dim/2 complex
 * pairs, (x1, x2) -> (cos*x1 - sin*x2, sin*x1 + cos*x2), with the pairs
 * split in halves or interleaved (x[2i], x[2i+1]); the rest of the head is
 * copied. X is (B, H, S, D) or (B, S, H*D) with num_heads; cos/sin come
 * from a (max_position + 1, dim/2) cache indexed by position_ids (B, S), or
 * are given per (B, S) as (B, S, dim/2) when position_ids is absent. */
#include <stdlib.h>

#include "ops_common.h"

typedef struct rope_state {
  int64_t batch, heads, seq, head, half; /* half = rotary_embedding_dim / 2 */
  int64_t sb, sh, ss;                    /* strides of (b, h, s) in X and Y */
  int64_t positions;                     /* rows of the cache (with position_ids) */
  bool f32, interleaved;
} rope_state;

static double ld(const void* p, bool f32, int64_t i) { return f32 ? ((const float*)p)[i] : ((const double*)p)[i]; }
static void st(void* p, bool f32, int64_t i, double v) {
  if (f32) ((float*)p)[i] = (float)v;
  else ((double*)p)[i] = v;
}

static pfw_status cache_shape(const pfw_node* node, int32_t i, const char* name, const rope_state* r, bool ids) {
  const pfw_tensor* t = node->in[i];
  pfw_status s = pfw_check_input(node, i, node->in[0]->dtype, ids ? 2 : 3);
  if (s != PFW_OK) return s;
  bool ok = ids ? t->dims[1] == r->half : t->dims[0] == r->batch && t->dims[1] == r->seq && t->dims[2] == r->half;
  if (!ok || (ids && t->dims[0] != node->in[1]->dims[0]))
    return pfw_error(PFW_ERR_SHAPE, "input %d (%s) has shape (%lld, %lld%s); expected %s with %lld values per row",
                     (int)i, name, (long long)t->dims[0], (long long)t->dims[1], ids ? "" : ", ...",
                     ids ? "(max_position + 1, rotary_dim / 2), as cos_cache," : "(batch, sequence, rotary_dim / 2)",
                     (long long)r->half);
  return PFW_OK;
}

static pfw_status rope_prepare(pfw_node* node) {
  pfw_status s = pfw_need_io(node, 3, 4);
  if (s == PFW_OK) s = pfw_need_float(node, 0);
  if (s != PFW_OK) return s;
  const pfw_tensor* x = node->in[0];
  rope_state* r = calloc(1, sizeof *r);
  if (!r) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory");
  node->state = r;
  r->f32 = x->dtype == PFW_FLOAT32;
  int64_t interleaved = pfw_attr_int(node, "interleaved", 0);
  if (interleaved != 0 && interleaved != 1)
    return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'interleaved' is %lld; expected 0 or 1", (long long)interleaved);
  r->interleaved = interleaved == 1;
  int64_t nh = pfw_attr_int(node, "num_heads", 0);
  if (x->rank == 4) {
    r->batch = x->dims[0], r->heads = x->dims[1], r->seq = x->dims[2], r->head = x->dims[3];
    r->ss = r->head, r->sh = r->seq * r->head, r->sb = r->heads * r->sh;
  } else if (x->rank == 3) {
    if (nh <= 0 || x->dims[2] % nh)
      return pfw_error(PFW_ERR_INVALID_MODEL,
                       "3-D input 0 needs attribute 'num_heads' > 0 dividing its hidden size %lld (has %lld)",
                       (long long)x->dims[2], (long long)nh);
    r->batch = x->dims[0], r->seq = x->dims[1], r->heads = nh, r->head = x->dims[2] / nh;
    r->sh = r->head, r->ss = x->dims[2], r->sb = r->seq * r->ss;
  } else {
    return pfw_error(PFW_ERR_SHAPE, "input 0 has rank %d, expected 3 or 4", (int)x->rank);
  }
  int64_t dim = pfw_attr_int(node, "rotary_embedding_dim", 0);
  if (dim == 0) dim = r->head;
  if (dim < 0 || dim > r->head || dim % 2)
    return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'rotary_embedding_dim' is %lld; expected an even number <= %lld",
                     (long long)dim, (long long)r->head);
  r->half = dim / 2;
  const pfw_tensor* ids = node->n_in > 3 ? node->in[3] : NULL;
  if (ids) {
    s = pfw_check_input(node, 3, PFW_INT64, 2);
    if (s != PFW_OK) return s;
    if (ids->dims[0] != r->batch || ids->dims[1] != r->seq)
      return pfw_error(PFW_ERR_SHAPE, "input 3 (position_ids) has shape (%lld, %lld); expected (%lld, %lld)",
                       (long long)ids->dims[0], (long long)ids->dims[1], (long long)r->batch, (long long)r->seq);
  }
  /* The caches are checked (present, of their rank) before they are read. */
  s = cache_shape(node, 1, "cos_cache", r, ids != NULL);
  if (s == PFW_OK) s = cache_shape(node, 2, "sin_cache", r, ids != NULL);
  if (s != PFW_OK) return s;
  if (ids) r->positions = node->in[1]->dims[0];
  return pfw_set_output(node->out[0], x->dtype, x->rank, x->dims);
}

static pfw_status rope_run(pfw_node* node) {
  const rope_state* r = node->state;
  const pfw_tensor* ids = node->n_in > 3 ? node->in[3] : NULL;
  const void* x = node->in[0]->data;
  const void* cs = node->in[1]->data;
  const void* sn = node->in[2]->data;
  void* y = node->out[0]->data;
  bool f32 = r->f32;
  for (int64_t b = 0; b < r->batch; b++)
    for (int64_t t = 0; t < r->seq; t++) {
      int64_t row = b * r->seq + t; /* the cache row of (b, t) */
      if (ids) {
        row = ((const int64_t*)ids->data)[b * r->seq + t];
        if (row < 0 || row >= r->positions)
          return pfw_error(PFW_ERR_INVALID_ARGUMENT, "input 3 (position_ids) [%lld, %lld] is %lld; expected 0 to %lld",
                           (long long)b, (long long)t, (long long)row, (long long)r->positions - 1);
      }
      for (int64_t h = 0; h < r->heads; h++) {
        int64_t base = b * r->sb + h * r->sh + t * r->ss;
        for (int64_t i = 0; i < r->half; i++) {
          /* The pair (x1, x2): adjacent when interleaved, else half a rotary dim apart. */
          int64_t i1 = r->interleaved ? 2 * i : i, i2 = r->interleaved ? 2 * i + 1 : i + r->half;
          double c = ld(cs, f32, row * r->half + i), s = ld(sn, f32, row * r->half + i);
          double x1 = ld(x, f32, base + i1), x2 = ld(x, f32, base + i2);
          st(y, f32, base + i1, c * x1 - s * x2);
          st(y, f32, base + i2, s * x1 + c * x2);
        }
        for (int64_t d = 2 * r->half; d < r->head; d++) st(y, f32, base + d, ld(x, f32, base + d));
      }
    }
  return PFW_OK;
}

/* Each pair is read before it is written and nothing else is: in place is safe. */
const pfw_op pfw_op_RotaryEmbedding = {PFW_OP_RotaryEmbedding, rope_prepare, rope_run, PFW_OPF_INPLACE};
