/* Ops whose output sizes are what the data selects: NonZero, Compress,
 * Unique, NonMaxSuppression. Each sizes its outputs as it runs
 * (PFW_OPF_RUN_SHAPES, pfw_dynamic_output), so their prepare checks only
 * what the plan fixes (dtypes, attributes), and run checks shapes. */
#include <stdlib.h>

#include "ops_common.h"

/* dtypes whose values pfw_load_real reads: the numeric ones and bool. */
static pfw_status check_real(const pfw_node* node, int32_t i) {
  pfw_dtype d = node->in[i]->dtype;
  bool ok = pfw_dtype_size(d) > 1 || d == PFW_INT8 || d == PFW_UINT8 || d == PFW_BOOL;
  if (!ok || d == PFW_STRING || d >= PFW_FLOAT8E4M3FN)
    return pfw_error(PFW_ERR_UNSUPPORTED, "input %d has dtype %s, which this op does not support", (int)i,
                     pfw_dtype_name(d));
  return PFW_OK;
}

/* Whether `count` entries of `bytes` each fit the interpreter's memory limit
 * (these ops' working arrays grow with the data, not with the plan). */
static bool work_fits(const pfw_node* node, int64_t count, size_t bytes) {
  size_t limit = node->mem_limit ? node->mem_limit : SIZE_MAX / 2;
  return count >= 0 && (uint64_t)count <= limit / bytes;
}

/* Steps coordinates (last dim fastest) to the next element of dims. */
static void next_coord(int64_t* coord, int32_t rank, const int64_t* dims) {
  for (int32_t k = rank - 1; k >= 0; k--) {
    if (++coord[k] < dims[k]) return;
    coord[k] = 0;
  }
}

/* ---- NonZero ------------------------------------------------------------------------ */

static pfw_status nonzero_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, 1);
  return st != PFW_OK ? st : check_real(node, 0);
}

/* Y[k][j]: coordinate k of the j-th nonzero element in row-major order; a
 * scalar counts as a 1-D tensor of one element (as NumPy and ONNX Runtime). */
static pfw_status nonzero_run(pfw_node* node) {
  const pfw_tensor* x = node->in[0];
  int64_t n = pfw_numel(x), count = 0;
  for (int64_t i = 0; i < n; i++) count += pfw_load_real(x->data, x->dtype, i) != 0;
  int32_t rank = x->rank ? x->rank : 1;
  int64_t dims[2] = {rank, count}, one = 1;
  pfw_status st = pfw_dynamic_output(node, 0, PFW_INT64, 2, dims);
  if (st != PFW_OK) return st;
  int64_t* y = node->out[0]->data;
  int64_t coord[PFW_MAX_RANK] = {0};
  for (int64_t i = 0, j = 0; i < n; i++, next_coord(coord, rank, x->rank ? x->dims : &one)) {
    if (pfw_load_real(x->data, x->dtype, i) == 0) continue;
    for (int32_t k = 0; k < rank; k++) y[k * count + j] = coord[k];
    j++;
  }
  return PFW_OK;
}

const pfw_op pfw_op_NonZero = {PFW_OP_NonZero, nonzero_prepare, nonzero_run, PFW_OPF_RUN_SHAPES};

/* ---- Compress ----------------------------------------------------------------------- */

static pfw_status compress_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 2, 2);
  return st != PFW_OK ? st : pfw_check_input(node, 1, PFW_BOOL, -1);
}

/* Slices of input along `axis` (of the flattened input without one) where
 * condition is true; slices past the condition's length are dropped. */
static pfw_status compress_run(pfw_node* node) {
  const pfw_tensor* x = node->in[0];
  const pfw_tensor* c = node->in[1];
  if (c->rank != 1) return pfw_error(PFW_ERR_INVALID_ARGUMENT, "input 1 (condition) must be 1-D, has rank %d", (int)c->rank);
  const pfw_attr* a = pfw_attr_find(node, "axis");
  int32_t axis = 0;
  int64_t outer = 1, len = pfw_numel(x), inner = 1;
  if (a) {
    pfw_status st = pfw_norm_axis(a->i, x->rank, "axis", &axis);
    if (st != PFW_OK) return st;
    len = x->dims[axis];
    for (int32_t k = 0; k < axis; k++) outer *= x->dims[k];
    for (int32_t k = axis + 1; k < x->rank; k++) inner *= x->dims[k];
  }
  if (c->dims[0] > len)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "input 1 (condition) has %lld entries for %lld slices",
                     (long long)c->dims[0], (long long)len);
  const uint8_t* cond = c->data;
  int64_t kept = 0;
  for (int64_t i = 0; i < c->dims[0]; i++) kept += cond[i] != 0;
  int64_t dims[PFW_MAX_RANK];
  memcpy(dims, x->dims, sizeof dims);
  if (a) dims[axis] = kept;
  pfw_status st = pfw_dynamic_output(node, 0, x->dtype, a ? x->rank : 1, a ? dims : &kept);
  if (st != PFW_OK) return st;
  size_t row = (size_t)inner * pfw_dtype_size(x->dtype);
  uint8_t* y = node->out[0]->data;
  for (int64_t o = 0; row && kept && o < outer; o++) /* (outer may be 2^40 around an empty axis) */
    for (int64_t i = 0; i < c->dims[0]; i++)
      if (cond[i]) {
        memcpy(y, (const uint8_t*)x->data + ((size_t)o * (size_t)len + (size_t)i) * row, row);
        y += row;
      }
  return PFW_OK;
}

const pfw_op pfw_op_Compress = {PFW_OP_Compress, compress_prepare, compress_run, PFW_OPF_RUN_SHAPES};

/* ---- Unique ------------------------------------------------------------------------- */

/* The input as m slices of `size` elements (`inner` apart within a slice
 * when the axis is not the first): slice s element e is at
 * (o * m + s) * inner + i, for e = o * inner + i. */
typedef struct {
  const void* x;
  pfw_dtype dtype;
  int64_t m, outer, inner;
} slices;

static int64_t at(const slices* v, int64_t s, int64_t e) {
  return ((e / v->inner) * v->m + s) * v->inner + e % v->inner;
}

/* Orders slices by value, element by element: integers as integers, floats
 * as NumPy sorts them (NaN last, and equal to each other). */
static int compare(const slices* v, int64_t a, int64_t b) {
  int64_t size = v->outer * v->inner;
  for (int64_t e = 0; e < size; e++) {
    int64_t i = at(v, a, e), j = at(v, b, e);
    if (v->dtype == PFW_INT64 || v->dtype == PFW_UINT64) {
      int64_t p = ((const int64_t*)v->x)[i], q = ((const int64_t*)v->x)[j];
      bool less = v->dtype == PFW_INT64 ? p < q : (uint64_t)p < (uint64_t)q;
      if (p != q) return less ? -1 : 1;
      continue;
    }
    double p = pfw_load_real(v->x, v->dtype, i), q = pfw_load_real(v->x, v->dtype, j);
    if (p != p || q != q) {
      if ((p != p) != (q != q)) return p != p ? 1 : -1;
      continue;
    }
    if (p != q) return p < q ? -1 : 1;
  }
  return 0;
}

/* Slices by value: equal ones keep their order, so each run of equals
 * starts with its first occurrence. */
static bool slice_before(const void* ctx, int64_t a, int64_t b) { return compare(ctx, a, b) < 0; }

/* Groups by the index of their first occurrence. */
static bool group_before(const void* first, int64_t a, int64_t b) {
  return ((const int64_t*)first)[a] < ((const int64_t*)first)[b];
}

static pfw_status unique_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, 1);
  return st != PFW_OK ? st : check_real(node, 0);
}

/* Y: the distinct slices (sorted, or in order of first occurrence with
 * sorted = 0); indices: each one's first occurrence; inverse_indices: each
 * input slice's place in Y; counts. */
static pfw_status unique_run(pfw_node* node) {
  const pfw_tensor* x = node->in[0];
  const pfw_attr* a = pfw_attr_find(node, "axis");
  bool sorted = pfw_attr_int(node, "sorted", 1) != 0;
  int32_t axis = 0;
  slices v = {x->data, x->dtype, pfw_numel(x), 1, 1};
  if (a) {
    pfw_status st = pfw_norm_axis(a->i, x->rank, "axis", &axis);
    if (st != PFW_OK) return st;
    v.m = x->dims[axis];
    for (int32_t k = 0; k < axis; k++) v.outer *= x->dims[k];
    for (int32_t k = axis + 1; k < x->rank; k++) v.inner *= x->dims[k];
  }
  int64_t m = v.m, u = 0;
  if (!work_fits(node, m, 4 * sizeof(int64_t)))
    return pfw_error(PFW_ERR_UNSUPPORTED, "Unique of %lld slices needs more memory than the limit", (long long)m);
  int64_t* idx = malloc(((size_t)m * 4 + 1) * sizeof(int64_t));
  if (!idx) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory in Unique (%lld slices)", (long long)m);
  int64_t *tmp = idx + m, *group = tmp + m, *first = group + m; /* group: each slice's place in Y */
  for (int64_t s = 0; s < m; s++) idx[s] = s;
  pfw_stable_sort(idx, tmp, m, slice_before, &v);
  for (int64_t r = 0; r < m; r++) { /* runs of equal slices, each led by its first occurrence */
    if (r == 0 || compare(&v, idx[r - 1], idx[r]) != 0) first[u++] = idx[r];
    group[idx[r]] = u - 1;
  }
  if (!sorted) { /* Y in order of first occurrence: renumber the groups */
    for (int64_t g = 0; g < u; g++) tmp[g] = g;
    /* By first index, in u log u: values sorted in the reverse of their
     * order of appearance made an insertion sort take u^2 steps. */
    pfw_stable_sort(tmp, idx, u, group_before, first);
    int64_t* rank_of = idx; /* idx is free now: old group -> new place */
    for (int64_t g = 0; g < u; g++) rank_of[tmp[g]] = g;
    for (int64_t s = 0; s < m; s++) group[s] = rank_of[group[s]];
    for (int64_t g = 0; g < u; g++) tmp[g] = first[tmp[g]];
    memcpy(first, tmp, (size_t)u * sizeof *first);
  }
  int64_t dims[PFW_MAX_RANK];
  memcpy(dims, x->dims, sizeof dims);
  dims[axis] = u;
  pfw_status st = pfw_dynamic_output(node, 0, x->dtype, a ? x->rank : 1, a ? dims : &u);
  for (int32_t j = 1; j < 4 && st == PFW_OK; j++) st = pfw_dynamic_output(node, j, PFW_INT64, 1, j == 2 ? &m : &u);
  if (st == PFW_OK) {
    size_t es = pfw_dtype_size(x->dtype), row = (size_t)v.inner * es;
    uint8_t* y = node->out[0]->data;
    /* Nothing to copy from empty slices, or none: the dims before the axis
     * may still number 2^40 (a fuzz timeout), all of them empty rows. */
    for (int64_t o = 0; row && u && o < v.outer; o++)
      for (int64_t g = 0; g < u; g++)
        memcpy(y + ((size_t)o * (size_t)u + (size_t)g) * row,
               (const uint8_t*)x->data + ((size_t)o * (size_t)m + (size_t)first[g]) * row, row);
    if (node->n_out > 1 && node->out[1]) memcpy(node->out[1]->data, first, (size_t)u * sizeof(int64_t));
    if (node->n_out > 2 && node->out[2]) memcpy(node->out[2]->data, group, (size_t)m * sizeof(int64_t));
    if (node->n_out > 3 && node->out[3]) {
      int64_t* counts = node->out[3]->data;
      memset(counts, 0, (size_t)u * sizeof(int64_t));
      for (int64_t s = 0; s < m; s++) counts[group[s]]++;
    }
  }
  free(idx);
  return st;
}

const pfw_op pfw_op_Unique = {PFW_OP_Unique, unique_prepare, unique_run, PFW_OPF_RUN_SHAPES};

/* ---- NonMaxSuppression -------------------------------------------------------------- */

static pfw_status nms_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 2, 5);
  if (st == PFW_OK) st = pfw_check_input(node, 0, PFW_FLOAT32, 3);
  if (st == PFW_OK) st = pfw_check_input(node, 1, PFW_FLOAT32, 3);
  if (st == PFW_OK && node->n_in > 2 && node->in[2]) st = pfw_check_input(node, 2, PFW_INT64, -1);
  for (int32_t i = 3; i < node->n_in && st == PFW_OK; i++)
    if (node->in[i]) st = pfw_check_input(node, i, PFW_FLOAT32, -1);
  int64_t cpb = pfw_attr_int(node, "center_point_box", 0);
  if (st == PFW_OK && cpb != 0 && cpb != 1)
    st = pfw_error(PFW_ERR_INVALID_MODEL, "center_point_box is %lld; expected 0 or 1", (long long)cpb);
  return st;
}

/* A box as (x min, x max, y min, y max): corners in either order, or a
 * centre with width and height. */
static void box_extent(const float* b, bool center, float* e) {
  if (center) {
    e[0] = b[0] - b[2] / 2, e[1] = b[0] + b[2] / 2, e[2] = b[1] - b[3] / 2, e[3] = b[1] + b[3] / 2;
    return;
  }
  e[0] = fminf(b[1], b[3]), e[1] = fmaxf(b[1], b[3]), e[2] = fminf(b[0], b[2]), e[3] = fmaxf(b[0], b[2]);
}

/* Whether IoU(a, b) > threshold, in float32 and with the degenerate cases
 * as ONNX's reference and ONNX Runtime have them. */
static bool suppresses(const float* a, const float* b, bool center, float threshold) {
  float p[4], q[4];
  box_extent(a, center, p);
  box_extent(b, center, q);
  float x0 = fmaxf(p[0], q[0]), x1 = fminf(p[1], q[1]), y0 = fmaxf(p[2], q[2]), y1 = fminf(p[3], q[3]);
  if (x1 <= x0 || y1 <= y0) return false;
  float inter = (x1 - x0) * (y1 - y0);
  float area_a = (p[1] - p[0]) * (p[3] - p[2]), area_b = (q[1] - q[0]) * (q[3] - q[2]);
  float uni = area_a + area_b - inter;
  if (inter <= 0 || area_a <= 0 || area_b <= 0 || uni <= 0) return false;
  return inter / uni > threshold;
}

/* Candidates by score, highest first; equal scores by box index, lowest
 * first (the sort is stable and they come in index order). */
static bool score_before(const void* ctx, int64_t a, int64_t b) {
  return ((const float*)ctx)[a] > ((const float*)ctx)[b];
}

static pfw_status nms_run(pfw_node* node) {
  const pfw_tensor* boxes = node->in[0];
  const pfw_tensor* scores = node->in[1];
  int64_t batches = boxes->dims[0], n = boxes->dims[1], classes = scores->dims[1];
  if (boxes->dims[2] != 4 || scores->dims[0] != batches || scores->dims[2] != n)
    return pfw_error(PFW_ERR_SHAPE, "boxes (%lld, %lld, %lld) and scores (%lld, %lld, %lld) do not fit: expected "
                     "(B, N, 4) and (B, C, N)", (long long)batches, (long long)n, (long long)boxes->dims[2],
                     (long long)scores->dims[0], (long long)classes, (long long)scores->dims[2]);
  int64_t max_out = 0;
  float iou = 0, min_score = 0;
  bool by_score = node->n_in > 4 && node->in[4] && pfw_numel(node->in[4]) > 0;
  if (node->n_in > 2 && node->in[2] && pfw_numel(node->in[2]) > 0) max_out = ((const int64_t*)node->in[2]->data)[0];
  if (node->n_in > 3 && node->in[3] && pfw_numel(node->in[3]) > 0) iou = ((const float*)node->in[3]->data)[0];
  if (by_score) min_score = ((const float*)node->in[4]->data)[0];
  if (max_out < 0) max_out = 0;
  bool center = pfw_attr_int(node, "center_point_box", 0) != 0;
  /* Each (batch, class) selects at most min(max_out, n) boxes. */
  int64_t cap = max_out < n ? max_out : n, total;
  if (pfw_mul_overflows(batches, classes, &total) || pfw_mul_overflows(total, cap, &total) ||
      !work_fits(node, total + n, 3 * sizeof(int64_t)))
    return pfw_error(PFW_ERR_UNSUPPORTED, "NonMaxSuppression of %lld batches x %lld classes x %lld boxes needs more "
                     "memory than the limit", (long long)batches, (long long)classes, (long long)n);
  int64_t* work = malloc(((size_t)n * 3 + (size_t)total * 3 + 1) * sizeof(int64_t));
  if (!work) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory in NonMaxSuppression");
  int64_t *idx = work, *tmp = idx + n, *kept = tmp + n, *out = kept + n, count = 0;
  for (int64_t b = 0; b < batches; b++) {
    const float* bx = (const float*)boxes->data + b * n * 4;
    for (int64_t c = 0; c < classes; c++) {
      const float* sc = (const float*)scores->data + (b * classes + c) * n;
      int64_t cand = 0, nk = 0;
      for (int64_t i = 0; i < n; i++)
        if (!by_score || sc[i] > min_score) idx[cand++] = i;
      pfw_stable_sort(idx, tmp, cand, score_before, sc);
      for (int64_t r = 0; r < cand && nk < max_out; r++) {
        bool keep = true;
        for (int64_t k = 0; k < nk && keep; k++) keep = !suppresses(bx + idx[r] * 4, bx + kept[k] * 4, center, iou);
        if (!keep) continue;
        kept[nk++] = idx[r];
        out[count * 3] = b, out[count * 3 + 1] = c, out[count * 3 + 2] = idx[r];
        count++;
      }
    }
  }
  int64_t dims[2] = {count, 3};
  pfw_status st = pfw_dynamic_output(node, 0, PFW_INT64, 2, dims);
  if (st == PFW_OK && count) memcpy(node->out[0]->data, out, (size_t)count * 3 * sizeof(int64_t));
  free(work);
  return st;
}

const pfw_op pfw_op_NonMaxSuppression = {PFW_OP_NonMaxSuppression, nms_prepare, nms_run, PFW_OPF_RUN_SHAPES};
