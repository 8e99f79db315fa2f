/* Shape ops on any dtype: Reshape, Flatten, Identity, Squeeze and Unsqueeze
 * (data unchanged, so the planner may alias output and input), Transpose and
 * Concat. */
#include <string.h>

#include "ops_common.h"

pfw_status pfw_need_io(const pfw_node* node, int32_t min_in, int32_t max_in) {
  if (node->n_in < min_in || node->n_in > max_in) {
    if (min_in == max_in)
      return pfw_error(PFW_ERR_INVALID_MODEL, "expected %d input%s, got %d", (int)min_in, min_in == 1 ? "" : "s",
                       (int)node->n_in);
    return pfw_error(PFW_ERR_INVALID_MODEL, "expected %d to %d inputs, got %d", (int)min_in, (int)max_in,
                     (int)node->n_in);
  }
  if (!node->in[0]) return pfw_error(PFW_ERR_INVALID_MODEL, "input 0 is required but absent");
  if (node->n_out < 1 || !node->out[0]) return pfw_error(PFW_ERR_INVALID_MODEL, "expected 1 output");
  return PFW_OK;
}

/* Output 0 holds input 0's bytes; nothing to do when the planner aliased them. */
pfw_status pfw_copy_run(pfw_node* node) {
  const pfw_tensor* x = node->in[0];
  pfw_tensor* y = node->out[0];
  if (y->data != x->data && y->nbytes) memcpy(y->data, x->data, y->nbytes);
  return PFW_OK;
}

/* ---- Reshape ------------------------------------------------------------------- */

static pfw_status reshape_prepare(pfw_node* node) {
  const pfw_tensor* x = node->in[0];
  int64_t shape[PFW_MAX_RANK];
  int32_t n;
  pfw_status st;
  if (node->desc->version < 5) { /* opset 1-4: the shape is an attribute */
    st = pfw_need_io(node, 1, 1);
    if (st != PFW_OK) return st;
    const int64_t* v = pfw_attr_ints(node, "shape", &n);
    if (!v) return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'shape' is required before opset 5");
    if (n > PFW_MAX_RANK)
      return pfw_error(PFW_ERR_UNSUPPORTED, "attribute 'shape' has %d values; the maximum rank is %d", (int)n,
                       PFW_MAX_RANK);
    memcpy(shape, v, sizeof(int64_t) * (size_t)n);
  } else {
    st = pfw_need_io(node, 2, 2);
    if (st == PFW_OK) st = pfw_check_input(node, 1, PFW_INT64, 1);
    if (st != PFW_OK) return st;
    const pfw_tensor* s = node->in[1];
    if (!pfw_values_known(node, s)) return PFW_DEFER; /* computed at run time: prepared at invoke */
    if (!s->data && s->dims[0] > 0) return pfw_error(PFW_ERR_INTERNAL, "input 1 (shape) has no data");
    if (s->dims[0] > PFW_MAX_RANK)
      return pfw_error(PFW_ERR_UNSUPPORTED, "input 1 (shape) has %lld values; the maximum rank is %d",
                       (long long)s->dims[0], PFW_MAX_RANK);
    n = (int32_t)s->dims[0];
    if (n) memcpy(shape, s->data, sizeof(int64_t) * (size_t)n); /* memcpy: no alignment assumed */
  }
  bool allowzero = pfw_attr_int(node, "allowzero", 0) != 0;
  int32_t infer = -1;
  int64_t known = 1;
  bool has_zero = false;
  for (int32_t i = 0; i < n; i++) {
    if (shape[i] == -1) {
      if (infer >= 0) return pfw_error(PFW_ERR_INVALID_MODEL, "shape has more than one -1");
      infer = i;
      continue;
    }
    if (shape[i] < -1)
      return pfw_error(PFW_ERR_INVALID_MODEL, "shape[%d] is %lld; expected >= -1", (int)i, (long long)shape[i]);
    if (shape[i] == 0 && !allowzero) {
      if (i >= x->rank)
        return pfw_error(PFW_ERR_SHAPE, "shape[%d] is 0 (copy) but the input has only %d dims", (int)i,
                         (int)x->rank);
      shape[i] = x->dims[i];
    } else if (shape[i] == 0) {
      has_zero = true;
    }
    if (pfw_mul_overflows(known, shape[i], &known)) return pfw_error(PFW_ERR_SHAPE, "shape is too large");
  }
  int64_t total = pfw_numel(x);
  if (infer >= 0) {
    if (has_zero) return pfw_error(PFW_ERR_INVALID_MODEL, "shape has both 0 and -1 with allowzero=1");
    if (known == 0 || total % known != 0)
      return pfw_error(PFW_ERR_SHAPE, "cannot infer the -1 in shape: %lld elements do not divide by %lld",
                       (long long)total, (long long)known);
    shape[infer] = total / known;
    known = total;
  }
  if (known != total)
    return pfw_error(PFW_ERR_SHAPE, "shape has %lld elements but input 0 has %lld", (long long)known,
                     (long long)total);
  return pfw_set_output(node->out[0], x->dtype, n, shape);
}

const pfw_op pfw_op_Reshape = {PFW_OP_Reshape, reshape_prepare, pfw_copy_run, PFW_OPF_ALIAS | PFW_OPF_STRINGS};

/* ---- Flatten ------------------------------------------------------------------- */

static pfw_status flatten_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, 1);
  if (st != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  int64_t axis = pfw_attr_int(node, "axis", 1);
  if (axis < -(int64_t)x->rank || axis > x->rank)
    return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'axis' is %lld; expected [%d, %d] for rank %d",
                     (long long)axis, -(int)x->rank, (int)x->rank, (int)x->rank);
  if (axis < 0) axis += x->rank;
  int64_t dims[2] = {1, 1};
  for (int32_t k = 0; k < x->rank; k++) dims[k >= axis] *= x->dims[k]; /* numel fits, so products do */
  return pfw_set_output(node->out[0], x->dtype, 2, dims);
}

const pfw_op pfw_op_Flatten = {PFW_OP_Flatten, flatten_prepare, pfw_copy_run, PFW_OPF_ALIAS | PFW_OPF_STRINGS};

/* ---- Identity ------------------------------------------------------------------ */

/* A sequence or an optional passes through as a copy at run (such a node
 * is deferred: plan.c), a tensor as a view. */
static bool identity_of_value(const pfw_node* node) {
  return pfw_is_value_kind(node->in[0]) || pfw_is_value_kind(node->out[0]);
}

static pfw_status identity_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, 1);
  if (st != PFW_OK || identity_of_value(node)) return st;
  const pfw_tensor* x = node->in[0];
  return pfw_set_output(node->out[0], x->dtype, x->rank, x->dims);
}

static pfw_status identity_run(pfw_node* node) {
  if (!identity_of_value(node)) return pfw_copy_run(node);
  return pfw_value_copy(node->out[0], node->in[0], node->mem_limit ? node->mem_limit : SIZE_MAX / 2);
}

const pfw_op pfw_op_Identity = {PFW_OP_Identity, identity_prepare, identity_run, PFW_OPF_ALIAS | PFW_OPF_VALUES | PFW_OPF_STRINGS};

/* ---- Transpose ----------------------------------------------------------------- */

/* perm from the attribute (default: reversed dims), checked. */
static pfw_status get_perm(const pfw_node* node, int32_t rank, int32_t* perm) {
  int32_t n;
  const int64_t* p = pfw_attr_ints(node, "perm", &n);
  if (!p) {
    for (int32_t k = 0; k < rank; k++) perm[k] = rank - 1 - k;
    return PFW_OK;
  }
  if (n != rank)
    return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'perm' has %d values, expected %d (the input rank)", (int)n,
                     (int)rank);
  bool seen[PFW_MAX_RANK] = {false};
  for (int32_t k = 0; k < rank; k++) {
    if (p[k] < 0 || p[k] >= rank || seen[p[k]])
      return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'perm' is not a permutation of 0..%d (entry %d is %lld)",
                       (int)rank - 1, (int)k, (long long)p[k]);
    seen[p[k]] = true;
    perm[k] = (int32_t)p[k];
  }
  return PFW_OK;
}

static pfw_status transpose_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, 1);
  if (st != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  int32_t perm[PFW_MAX_RANK];
  st = get_perm(node, x->rank, perm);
  if (st != PFW_OK) return st;
  int64_t dims[PFW_MAX_RANK];
  for (int32_t k = 0; k < x->rank; k++) dims[k] = x->dims[perm[k]];
  return pfw_set_output(node->out[0], x->dtype, x->rank, dims);
}

/* Copies n elements of type T read with stride `s` (elements). */
#define GATHER(T)                                                           \
  do {                                                                      \
    const T* src_ = (const T*)src;                                          \
    T* dst_ = (T*)dst;                                                      \
    for (int64_t i = 0; i < n; i++) dst_[i] = src_[i * s];                  \
  } while (0)

static void gather(void* dst, const void* src, int64_t n, int64_t s, size_t es) {
  switch (es) {
    case 1: GATHER(uint8_t); break;
    case 2: GATHER(uint16_t); break;
    case 4: GATHER(uint32_t); break;
    case 8: GATHER(uint64_t); break;
    default: /* strings' (pointer, size) pairs */
      for (int64_t i = 0; i < n; i++) memcpy((char*)dst + (size_t)i * es, (const char*)src + (size_t)(i * s) * es, es);
      break;
  }
}

static pfw_status transpose_run(pfw_node* node) {
  const pfw_tensor* x = node->in[0];
  pfw_tensor* y = node->out[0];
  int32_t r = x->rank, perm[PFW_MAX_RANK];
  get_perm(node, r, perm); /* checked at prepare */
  if (pfw_numel(y) == 0) return PFW_OK;
  if (r == 0) return pfw_copy_run(node);
  size_t es = pfw_dtype_size(x->dtype);
  int64_t xs[PFW_MAX_RANK], s[PFW_MAX_RANK], d[PFW_MAX_RANK]; /* input strides; by output dim */
  int64_t step = 1;
  for (int32_t k = x->rank - 1; k >= 0; k--) {
    xs[k] = step;
    step *= x->dims[k];
  }
  /* Output dims of size 1 go, and a dim whose input follows the previous
   * one's merges with it (a channel shuffle's H and W are one run of H*W):
   * the rows copied get as long as the layouts allow. */
  int32_t n = 0;
  for (int32_t k = 0; k < r; k++) {
    if (y->dims[k] == 1) continue;
    if (n > 0 && s[n - 1] == xs[perm[k]] * y->dims[k]) {
      d[n - 1] *= y->dims[k], s[n - 1] = xs[perm[k]];
    } else {
      d[n] = y->dims[k], s[n] = xs[perm[k]];
      n++;
    }
  }
  if (n == 0) d[0] = 1, s[0] = 1, n = 1; /* a single element */
  int64_t inner = d[n - 1], outer = pfw_numel(y) / inner;
  int64_t idx[PFW_MAX_RANK] = {0}, off = 0;
  const char* src = x->data;
  char* dst = y->data;
  for (int64_t row = 0; row < outer; row++) {
    if (s[n - 1] == 1) memcpy(dst + (size_t)(row * inner) * es, src + (size_t)off * es, (size_t)inner * es);
    else gather(dst + (size_t)(row * inner) * es, src + (size_t)off * es, inner, s[n - 1], es);
    for (int32_t k = n - 2; k >= 0; k--) {
      off += s[k];
      if (++idx[k] < d[k]) break;
      off -= s[k] * d[k];
      idx[k] = 0;
    }
  }
  return PFW_OK;
}

const pfw_op pfw_op_Transpose = {PFW_OP_Transpose, transpose_prepare, transpose_run, PFW_OPF_STRINGS};

/* ---- Concat -------------------------------------------------------------------- */

static pfw_status concat_prepare(pfw_node* node) {
  if (node->n_in < 1) return pfw_error(PFW_ERR_INVALID_MODEL, "expected at least 1 input");
  if (node->n_out < 1 || !node->out[0]) return pfw_error(PFW_ERR_INVALID_MODEL, "expected 1 output");
  if (!node->in[0]) return pfw_error(PFW_ERR_INVALID_MODEL, "input 0 is required but absent");
  const pfw_tensor* x0 = node->in[0];
  if (x0->rank < 1) return pfw_error(PFW_ERR_SHAPE, "input 0 is a scalar; Concat needs rank >= 1");
  pfw_attr const* a = pfw_attr_find(node, "axis");
  if (!a || a->type != PFW_ATTR_INT) return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'axis' is required");
  int32_t axis;
  pfw_status st = pfw_norm_axis(a->i, x0->rank, "attribute 'axis'", &axis);
  if (st != PFW_OK) return st;
  int64_t dims[PFW_MAX_RANK];
  memcpy(dims, x0->dims, sizeof dims);
  for (int32_t i = 1; i < node->n_in; i++) {
    st = pfw_check_input(node, i, x0->dtype, x0->rank);
    if (st != PFW_OK) return st;
    const pfw_tensor* xi = node->in[i];
    for (int32_t k = 0; k < x0->rank; k++) {
      if (k == axis) {
        if (pfw_mul_overflows(1, dims[k] + xi->dims[k], &dims[k]))
          return pfw_error(PFW_ERR_SHAPE, "concatenated dimension is too large");
      } else if (xi->dims[k] != x0->dims[k]) {
        return pfw_error(PFW_ERR_SHAPE, "input %d has dimension %d = %lld, expected %lld like input 0", (int)i,
                         (int)k, (long long)xi->dims[k], (long long)x0->dims[k]);
      }
    }
  }
  return pfw_set_output(node->out[0], x0->dtype, x0->rank, dims);
}

static pfw_status concat_run(pfw_node* node) {
  pfw_tensor* y = node->out[0];
  if (pfw_numel(y) == 0) return PFW_OK;
  const pfw_tensor* x0 = node->in[0];
  int32_t axis;
  pfw_norm_axis(pfw_attr_int(node, "axis", 0), x0->rank, "attribute 'axis'", &axis); /* checked at prepare */
  size_t es = pfw_dtype_size(y->dtype);
  int64_t outer = 1, inner = 1;
  for (int32_t k = 0; k < axis; k++) outer *= y->dims[k];
  for (int32_t k = axis + 1; k < y->rank; k++) inner *= y->dims[k];
  char* dst = y->data;
  for (int64_t o = 0; o < outer; o++) {
    for (int32_t i = 0; i < node->n_in; i++) {
      const pfw_tensor* xi = node->in[i];
      size_t chunk = (size_t)(xi->dims[axis] * inner) * es;
      if (!chunk) continue;
      memcpy(dst, (const char*)xi->data + (size_t)o * chunk, chunk);
      dst += chunk;
    }
  }
  return PFW_OK;
}

const pfw_op pfw_op_Concat = {PFW_OP_Concat, concat_prepare, concat_run, PFW_OPF_STRINGS};

/* ---- Squeeze / Unsqueeze --------------------------------------------------------
 * Axes are an attribute before opset 13 and a (plan-time known) input after. */

static pfw_status read_axes(const pfw_node* node, int64_t* axes, int32_t* n) {
  if (node->desc->version >= 13) return pfw_input_ints(node, 1, "axes", axes, PFW_MAX_RANK, n);
  const int64_t* v = pfw_attr_ints(node, "axes", n);
  if (*n > PFW_MAX_RANK)
    return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'axes' has %d values; the maximum rank is %d", (int)*n,
                     PFW_MAX_RANK);
  if (v) memcpy(axes, v, sizeof(int64_t) * (size_t)*n);
  return PFW_OK;
}

/* Marks each axis (normalised against `rank`) in `hit`; duplicates are errors. */
static pfw_status mark_axes(const int64_t* axes, int32_t n, int32_t rank, bool* hit) {
  memset(hit, 0, sizeof(bool) * PFW_MAX_RANK);
  for (int32_t i = 0; i < n; i++) {
    int32_t a;
    pfw_status st = pfw_norm_axis(axes[i], rank, "axes", &a);
    if (st != PFW_OK) return st;
    if (hit[a]) return pfw_error(PFW_ERR_INVALID_MODEL, "axes lists axis %lld twice", (long long)axes[i]);
    hit[a] = true;
  }
  return PFW_OK;
}

static pfw_status squeeze_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, 2);
  if (st != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  int64_t axes[PFW_MAX_RANK], dims[PFW_MAX_RANK];
  int32_t n, rank = 0;
  bool hit[PFW_MAX_RANK];
  if ((st = read_axes(node, axes, &n)) != PFW_OK) return st;
  if (n < 0) { /* no axes: every dimension of size 1 goes */
    for (int32_t k = 0; k < x->rank; k++)
      if (x->dims[k] != 1) dims[rank++] = x->dims[k];
    return pfw_set_output(node->out[0], x->dtype, rank, dims);
  }
  if ((st = mark_axes(axes, n, x->rank, hit)) != PFW_OK) return st;
  for (int32_t k = 0; k < x->rank; k++) {
    if (!hit[k]) {
      dims[rank++] = x->dims[k];
    } else if (x->dims[k] != 1) {
      return pfw_error(PFW_ERR_SHAPE, "cannot squeeze axis %d of input 0, which has size %lld", (int)k,
                       (long long)x->dims[k]);
    }
  }
  return pfw_set_output(node->out[0], x->dtype, rank, dims);
}

const pfw_op pfw_op_Squeeze = {PFW_OP_Squeeze, squeeze_prepare, pfw_copy_run, PFW_OPF_ALIAS | PFW_OPF_STRINGS};

static pfw_status unsqueeze_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, 2);
  if (st != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  int64_t axes[PFW_MAX_RANK], dims[PFW_MAX_RANK];
  int32_t n;
  bool hit[PFW_MAX_RANK];
  if ((st = read_axes(node, axes, &n)) != PFW_OK) return st;
  if (n < 0) return pfw_error(PFW_ERR_INVALID_MODEL, "axes are required");
  int32_t rank = x->rank + n;
  if (rank > PFW_MAX_RANK)
    return pfw_error(PFW_ERR_UNSUPPORTED, "the output would have rank %d; the maximum is %d", (int)rank,
                     PFW_MAX_RANK);
  if ((st = mark_axes(axes, n, rank, hit)) != PFW_OK) return st;
  for (int32_t k = 0, j = 0; k < rank; k++) dims[k] = hit[k] ? 1 : x->dims[j++];
  return pfw_set_output(node->out[0], x->dtype, rank, dims);
}

const pfw_op pfw_op_Unsqueeze = {PFW_OP_Unsqueeze, unsqueeze_prepare, pfw_copy_run, PFW_OPF_ALIAS | PFW_OPF_STRINGS};

/* ---- Split ----------------------------------------------------------------------
 * Sizes come from the 'split' attribute (before opset 13) or input 1 (after,
 * known while planning); without them the axis is cut into equal parts, the
 * last one shorter when 'num_outputs' (opset 18) does not divide it. */

#define PFW_SPLIT_MAX 64

static pfw_status split_sizes(const pfw_node* node, int32_t axis, int64_t* sizes) {
  const pfw_tensor* x = node->in[0];
  int32_t n = -1, outs = node->n_out;
  pfw_status st;
  if (outs > PFW_SPLIT_MAX)
    return pfw_error(PFW_ERR_UNSUPPORTED, "%d outputs; at most %d are supported", (int)outs, PFW_SPLIT_MAX);
  if (node->desc->version >= 13) {
    if ((st = pfw_input_ints(node, 1, "split", sizes, PFW_SPLIT_MAX, &n)) != PFW_OK) return st;
  } else {
    const int64_t* v = pfw_attr_ints(node, "split", &n);
    if (v && n <= PFW_SPLIT_MAX) memcpy(sizes, v, sizeof(int64_t) * (size_t)n);
  }
  int64_t d = x->dims[axis];
  if (n < 0) {
    int64_t chunk = (d + outs - 1) / outs;
    if (!pfw_attr_find(node, "num_outputs") && d % outs != 0)
      return pfw_error(PFW_ERR_SHAPE, "axis %d of size %lld does not split into %d equal parts", (int)axis,
                       (long long)d, (int)outs);
    for (int32_t i = 0; i < outs; i++) {
      int64_t left = d - chunk * i;
      sizes[i] = left < 0 ? 0 : left < chunk ? left : chunk;
    }
    return PFW_OK;
  }
  if (n != outs)
    return pfw_error(PFW_ERR_INVALID_MODEL, "split has %d sizes for %d outputs", (int)n, (int)outs);
  int64_t total = 0;
  for (int32_t i = 0; i < n; i++) {
    if (sizes[i] < 0) return pfw_error(PFW_ERR_INVALID_MODEL, "split[%d] is negative", (int)i);
    if (sizes[i] > d - total) /* also keeps the sum from overflowing: it never passes d */
      return pfw_error(PFW_ERR_SHAPE, "split sizes add up to more than axis %d's %lld (at split[%d] = %lld)",
                       (int)axis, (long long)d, (int)i, (long long)sizes[i]);
    total += sizes[i];
  }
  if (total != d)
    return pfw_error(PFW_ERR_SHAPE, "split sizes add up to %lld but axis %d has %lld", (long long)total, (int)axis,
                     (long long)d);
  return PFW_OK;
}

static pfw_status split_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, 2);
  if (st != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  int32_t axis;
  int64_t sizes[PFW_SPLIT_MAX];
  if ((st = pfw_norm_axis(pfw_attr_int(node, "axis", 0), x->rank, "attribute 'axis'", &axis)) != PFW_OK ||
      (st = split_sizes(node, axis, sizes)) != PFW_OK)
    return st;
  for (int32_t i = 0; i < node->n_out; i++) {
    if (!node->out[i]) continue;
    int64_t dims[PFW_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    dims[axis] = sizes[i];
    if ((st = pfw_set_output(node->out[i], x->dtype, x->rank, dims)) != PFW_OK) return st;
  }
  return PFW_OK;
}

static pfw_status split_run(pfw_node* node) {
  const pfw_tensor* x = node->in[0];
  int32_t axis;
  int64_t sizes[PFW_SPLIT_MAX], outer = 1, inner = pfw_dtype_size(x->dtype), offset = 0;
  pfw_norm_axis(pfw_attr_int(node, "axis", 0), x->rank, "axis", &axis);
  pfw_status st = split_sizes(node, axis, sizes);
  if (st != PFW_OK) return st;
  for (int32_t k = 0; k < axis; k++) outer *= x->dims[k];
  for (int32_t k = axis + 1; k < x->rank; k++) inner *= x->dims[k];
  int64_t row = x->dims[axis] * inner; /* bytes of one outer slice of the input */
  for (int32_t i = 0; i < node->n_out; i++) {
    int64_t part = sizes[i] * inner;
    if (node->out[i] && part)
      for (int64_t o = 0; o < outer; o++)
        memcpy((char*)node->out[i]->data + o * part, (const char*)x->data + o * row + offset, (size_t)part);
    offset += part;
  }
  return PFW_OK;
}

const pfw_op pfw_op_Split = {PFW_OP_Split, split_prepare, split_run, PFW_OPF_STRINGS};
