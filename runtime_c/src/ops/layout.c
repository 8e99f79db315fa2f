/* Ops that move elements without computing: DepthToSpace, SpaceToDepth
 * (DCR and CRD orders), ReverseSequence and CenterCropPad. Any dtype: each
 * output element copies the bytes of the input element it maps to. */
#include <string.h>

#include "ops_common.h"

/* ---- DepthToSpace / SpaceToDepth ------------------------------------------ */

static pfw_status block_read(const pfw_node* node, int64_t* b, bool* crd) {
  *b = pfw_attr_int(node, "blocksize", 0);
  if (*b < 1 || *b > 65536) return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'blocksize' is %lld; expected >= 1", (long long)*b);
  const char* mode = pfw_attr_string(node, "mode", "DCR");
  if (strcmp(mode, "DCR") && strcmp(mode, "CRD"))
    return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'mode' is '%s'; expected DCR or CRD", mode);
  *crd = !strcmp(mode, "CRD");
  return PFW_OK;
}

static pfw_status space_prepare(pfw_node* node, bool to_space) {
  pfw_status st = pfw_need_io(node, 1, 1);
  int64_t b;
  bool crd;
  if (st == PFW_OK) st = block_read(node, &b, &crd);
  if (st != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  if (x->rank != 4) return pfw_error(PFW_ERR_SHAPE, "input 0 has rank %d; expected 4 (N, C, H, W)", (int)x->rank);
  int64_t d[4] = {x->dims[0], x->dims[1], x->dims[2], x->dims[3]};
  if (to_space) {
    if (d[1] % (b * b)) return pfw_error(PFW_ERR_SHAPE, "C = %lld is not a multiple of blocksize^2", (long long)d[1]);
    d[1] /= b * b, d[2] *= b, d[3] *= b;
  } else {
    if (d[2] % b || d[3] % b)
      return pfw_error(PFW_ERR_SHAPE, "H = %lld and W = %lld must be multiples of blocksize %lld", (long long)d[2],
                       (long long)d[3], (long long)b);
    d[1] *= b * b, d[2] /= b, d[3] /= b;
  }
  return pfw_set_output(node->out[0], x->dtype, 4, d);
}

/* Maps between the deep tensor (N, C*b*b, H, W) and the wide one (N, C, H*b,
 * W*b): deep channel (i*b + j)*C + c (DCR) or c*b*b + i*b + j (CRD) at (h, w)
 * is wide channel c at (h*b + i, w*b + j). */
static pfw_status space_run(pfw_node* node, bool to_space) {
  int64_t b;
  bool crd;
  block_read(node, &b, &crd);
  const pfw_tensor* deep = to_space ? node->in[0] : node->out[0];
  const pfw_tensor* wide = to_space ? node->out[0] : node->in[0];
  int64_t N = deep->dims[0], C = wide->dims[1], H = deep->dims[2], W = deep->dims[3];
  size_t es = pfw_dtype_size(deep->dtype);
  const char* src = node->in[0]->data;
  char* dst = node->out[0]->data;
  for (int64_t n = 0; n < N; n++)
    for (int64_t dc = 0; dc < C * b * b; dc++) {
      int64_t c = crd ? dc / (b * b) : dc % C, ij = crd ? dc % (b * b) : dc / C, i = ij / b, j = ij % b;
      for (int64_t h = 0; h < H; h++)
        for (int64_t w = 0; w < W; w++) {
          int64_t pd = ((n * C * b * b + dc) * H + h) * W + w;
          int64_t pw = ((n * C + c) * H * b + h * b + i) * W * b + w * b + j;
          int64_t from = to_space ? pd : pw, to = to_space ? pw : pd;
          memcpy(dst + (size_t)to * es, src + (size_t)from * es, es);
        }
    }
  return PFW_OK;
}

static pfw_status d2s_prepare(pfw_node* node) { return space_prepare(node, true); }
static pfw_status d2s_run(pfw_node* node) { return space_run(node, true); }
static pfw_status s2d_prepare(pfw_node* node) { return space_prepare(node, false); }
static pfw_status s2d_run(pfw_node* node) { return space_run(node, false); }

const pfw_op pfw_op_DepthToSpace = {PFW_OP_DepthToSpace, d2s_prepare, d2s_run, 0};
const pfw_op pfw_op_SpaceToDepth = {PFW_OP_SpaceToDepth, s2d_prepare, s2d_run, 0};

/* ---- ReverseSequence ------------------------------------------------------ */

static pfw_status reverse_axes(const pfw_node* node, int32_t* t, int32_t* b) {
  int64_t ta = pfw_attr_int(node, "time_axis", 0), ba = pfw_attr_int(node, "batch_axis", 1);
  if ((ta != 0 && ta != 1) || (ba != 0 && ba != 1) || ta == ba)
    return pfw_error(PFW_ERR_INVALID_MODEL, "time_axis %lld and batch_axis %lld must be 0 and 1, in some order",
                     (long long)ta, (long long)ba);
  *t = (int32_t)ta, *b = (int32_t)ba;
  return PFW_OK;
}

static pfw_status reverse_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 2, 2);
  int32_t t = 0, b = 1;
  if (st == PFW_OK) st = reverse_axes(node, &t, &b);
  if (st == PFW_OK) st = pfw_check_input(node, 1, PFW_INT64, 1);
  if (st != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  if (x->rank < 2) return pfw_error(PFW_ERR_SHAPE, "input 0 has rank %d; expected >= 2", (int)x->rank);
  if (node->in[1]->dims[0] != x->dims[b])
    return pfw_error(PFW_ERR_SHAPE, "input 1 (sequence_lens) has %lld values for a batch of %lld",
                     (long long)node->in[1]->dims[0], (long long)x->dims[b]);
  return pfw_set_output(node->out[0], x->dtype, x->rank, x->dims);
}

static pfw_status reverse_run(pfw_node* node) {
  const pfw_tensor *x = node->in[0], *lens = node->in[1];
  int32_t t = 0, b = 1;
  reverse_axes(node, &t, &b);
  int64_t inner = 1, T = x->dims[t], B = x->dims[b];
  for (int32_t k = 2; k < x->rank; k++) inner *= x->dims[k];
  size_t es = pfw_dtype_size(x->dtype), row = (size_t)inner * es;
  int64_t ts = t == 0 ? B : 1, bs = t == 0 ? 1 : T; /* rows between steps of time and batch */
  for (int64_t j = 0; j < B; j++) {
    int64_t len = ((const int64_t*)lens->data)[j];
    if (len < 0 || len > T)
      return pfw_error(PFW_ERR_INVALID_ARGUMENT, "sequence_lens[%lld] is %lld; expected 0 to %lld", (long long)j,
                       (long long)len, (long long)T);
    for (int64_t i = 0; i < T; i++) {
      int64_t from = i < len ? len - 1 - i : i;
      memcpy((char*)node->out[0]->data + (size_t)(i * ts + j * bs) * row,
             (const char*)x->data + (size_t)(from * ts + j * bs) * row, row);
    }
  }
  return PFW_OK;
}

const pfw_op pfw_op_ReverseSequence = {PFW_OP_ReverseSequence, reverse_prepare, reverse_run, 0};

/* ---- CenterCropPad -------------------------------------------------------- */

/* Output sizes: input 1 (shape) for the axes named (all by default). */
static pfw_status crop_read(const pfw_node* node, int64_t* dims) {
  const pfw_tensor* x = node->in[0];
  int64_t shape[PFW_MAX_RANK];
  int32_t n, na;
  pfw_status st = pfw_input_ints(node, 1, "shape", shape, PFW_MAX_RANK, &n);
  if (st != PFW_OK) return st;
  const int64_t* axes = pfw_attr_ints(node, "axes", &na);
  if (n != (axes ? na : x->rank))
    return pfw_error(PFW_ERR_SHAPE, "input 1 (shape) has %d values; expected %d", (int)n, (int)(axes ? na : x->rank));
  memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
  for (int32_t i = 0; i < n; i++) {
    int32_t a = i;
    if (axes && (st = pfw_norm_axis(axes[i], x->rank, "axes", &a)) != PFW_OK) return st;
    if (shape[i] < 0) return pfw_error(PFW_ERR_SHAPE, "shape[%d] is %lld; sizes are >= 0", (int)i, (long long)shape[i]);
    dims[a] = shape[i];
  }
  return PFW_OK;
}

static pfw_status crop_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 2, 2);
  int64_t dims[PFW_MAX_RANK];
  if (st == PFW_OK) st = crop_read(node, dims);
  return st == PFW_OK ? pfw_set_output(node->out[0], node->in[0]->dtype, node->in[0]->rank, dims) : st;
}

/* Output o along an axis reads input o + (in - out) / 2, floored: a crop
 * takes the centre, a pad centres the input (zeros around it). */
static pfw_status crop_run(pfw_node* node) {
  const pfw_tensor* x = node->in[0];
  pfw_tensor* y = node->out[0];
  size_t es = pfw_dtype_size(x->dtype);
  int64_t shift[PFW_MAX_RANK], stride[PFW_MAX_RANK], acc = 1, o[PFW_MAX_RANK] = {0}, total = pfw_numel(y);
  for (int32_t a = x->rank - 1; a >= 0; a--) {
    int64_t d = x->dims[a] - y->dims[a];
    shift[a] = d >= 0 ? d / 2 : -((-d) / 2);
    stride[a] = acc, acc *= x->dims[a];
  }
  for (int64_t i = 0; i < total; i++) {
    int64_t pos = 0;
    for (int32_t a = 0; a < x->rank && pos >= 0; a++) {
      int64_t s = o[a] + shift[a];
      pos = s < 0 || s >= x->dims[a] ? -1 : pos + s * stride[a];
    }
    if (pos < 0) memset((char*)y->data + (size_t)i * es, 0, es);
    else memcpy((char*)y->data + (size_t)i * es, (const char*)x->data + (size_t)pos * es, es);
    for (int32_t a = y->rank - 1; a >= 0 && ++o[a] == y->dims[a]; a--) o[a] = 0;
  }
  return PFW_OK;
}

const pfw_op pfw_op_CenterCropPad = {PFW_OP_CenterCropPad, crop_prepare, crop_run, 0};
