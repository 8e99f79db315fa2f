/* Helpers shared by the ops: attribute lookup, shapes, overflow checks, and
 * the public dtype queries. */
#include <string.h>

#include "internal.h"

PFW_API size_t pfw_dtype_size(pfw_dtype dtype) {
  switch (dtype) {
    case PFW_FLOAT32: return 4;
    case PFW_UINT8: return 1;
    case PFW_INT8: return 1;
    case PFW_UINT16: return 2;
    case PFW_INT16: return 2;
    case PFW_INT32: return 4;
    case PFW_INT64: return 8;
    case PFW_BOOL: return 1;
    case PFW_FLOAT16: return 2;
    case PFW_FLOAT64: return 8;
    case PFW_UINT32: return 4;
    case PFW_UINT64: return 8;
    case PFW_BFLOAT16: return 2;
    case PFW_FLOAT8E4M3FN:
    case PFW_FLOAT8E4M3FNUZ:
    case PFW_FLOAT8E5M2:
    case PFW_FLOAT8E5M2FNUZ:
    case PFW_UINT4:
    case PFW_INT4:
    case PFW_FLOAT4E2M1:
    case PFW_FLOAT8E8M0:
    case PFW_UINT2:
    case PFW_INT2: return 1;
    case PFW_STRING: return sizeof(pfw_string);
    case PFW_DTYPE_UNDEFINED: return 0;
  }
  return 0;
}

PFW_API const char* pfw_dtype_name(pfw_dtype dtype) {
  switch (dtype) {
    case PFW_DTYPE_UNDEFINED: return "undefined";
    case PFW_FLOAT32: return "float32";
    case PFW_UINT8: return "uint8";
    case PFW_INT8: return "int8";
    case PFW_UINT16: return "uint16";
    case PFW_INT16: return "int16";
    case PFW_INT32: return "int32";
    case PFW_INT64: return "int64";
    case PFW_STRING: return "string";
    case PFW_BOOL: return "bool";
    case PFW_FLOAT16: return "float16";
    case PFW_FLOAT64: return "float64";
    case PFW_UINT32: return "uint32";
    case PFW_UINT64: return "uint64";
    case PFW_BFLOAT16: return "bfloat16";
    case PFW_FLOAT8E4M3FN: return "float8e4m3fn";
    case PFW_FLOAT8E4M3FNUZ: return "float8e4m3fnuz";
    case PFW_FLOAT8E5M2: return "float8e5m2";
    case PFW_FLOAT8E5M2FNUZ: return "float8e5m2fnuz";
    case PFW_UINT4: return "uint4";
    case PFW_INT4: return "int4";
    case PFW_FLOAT4E2M1: return "float4e2m1";
    case PFW_FLOAT8E8M0: return "float8e8m0";
    case PFW_UINT2: return "uint2";
    case PFW_INT2: return "int2";
  }
  return "unknown";
}

const pfw_attr* pfw_attr_find(const pfw_node* node, const char* name) {
  const pfw_node_desc* d = node->desc;
  if (!d || !d->attrs) return NULL;
  for (int32_t i = 0; i < d->n_attrs; i++)
    if (d->attrs[i].name && strcmp(d->attrs[i].name, name) == 0) return &d->attrs[i];
  return NULL;
}

/* A present attribute of the wrong type reads as absent: the importer
 * validates types, so this only guards against hand-made files. */
int64_t pfw_attr_int(const pfw_node* node, const char* name, int64_t dflt) {
  const pfw_attr* a = pfw_attr_find(node, name);
  return a && a->type == PFW_ATTR_INT ? a->i : dflt;
}

float pfw_attr_float(const pfw_node* node, const char* name, float dflt) {
  const pfw_attr* a = pfw_attr_find(node, name);
  if (!a) return dflt;
  if (a->type == PFW_ATTR_FLOAT) return a->f;
  if (a->type == PFW_ATTR_INT) return (float)a->i;
  return dflt;
}

const char* pfw_attr_string(const pfw_node* node, const char* name, const char* dflt) {
  const pfw_attr* a = pfw_attr_find(node, name);
  return a && a->type == PFW_ATTR_STRING && a->s ? (const char*)a->s : dflt;
}

const int64_t* pfw_attr_ints(const pfw_node* node, const char* name, int32_t* n) {
  const pfw_attr* a = pfw_attr_find(node, name);
  if (!a || a->type != PFW_ATTR_INTS || a->n < 0 || (a->n > 0 && !a->ints)) {
    *n = -1;
    return NULL;
  }
  *n = a->n;
  return a->ints;
}

const float* pfw_attr_floats(const pfw_node* node, const char* name, int32_t* n) {
  const pfw_attr* a = pfw_attr_find(node, name);
  if (!a || a->type != PFW_ATTR_FLOATS || a->n < 0 || (a->n > 0 && !a->floats)) {
    *n = -1;
    return NULL;
  }
  *n = a->n;
  return a->floats;
}

bool pfw_mul_overflows(int64_t a, int64_t b, int64_t* out) {
  if (a < 0 || b < 0) return true; /* callers only multiply sizes */
  if (a != 0 && b > INT64_MAX / a) return true;
  *out = a * b;
  return false;
}

bool pfw_add_overflows(int64_t a, int64_t b, int64_t* out) {
  if ((b > 0 && a > INT64_MAX - b) || (b < 0 && a < INT64_MIN - b)) return true;
  *out = a + b;
  return false;
}

int64_t pfw_numel(const pfw_tensor* t) {
  int64_t n = 1;
  for (int32_t k = 0; k < t->rank; k++) n *= t->dims[k]; /* set_output checked it fits */
  return n;
}

bool pfw_span_overflows(const int64_t* dims, int32_t rank, size_t esize) {
  int64_t n = (int64_t)esize;
  for (int32_t k = 0; k < rank; k++)
    if (dims[k] > 0 && pfw_mul_overflows(n, dims[k], &n)) return true;
  return (uint64_t)n > SIZE_MAX / 2;
}

pfw_status pfw_set_output(pfw_tensor* t, pfw_dtype dtype, int32_t rank, const int64_t* dims) {
  if (!t) return pfw_error(PFW_ERR_INVALID_MODEL, "a required output is absent");
  if (rank < 0 || rank > PFW_MAX_RANK)
    return pfw_error(PFW_ERR_UNSUPPORTED, "output rank %d exceeds the maximum %d", (int)rank, PFW_MAX_RANK);
  size_t esize = pfw_dtype_size(dtype);
  if (esize == 0)
    return pfw_error(PFW_ERR_UNSUPPORTED, "output dtype %s is not supported", pfw_dtype_name(dtype));
  int64_t n = 1;
  for (int32_t k = 0; k < rank; k++) {
    if (dims[k] < 0)
      return pfw_error(PFW_ERR_SHAPE, "output dimension %d is negative (%lld)", (int)k, (long long)dims[k]);
    if (pfw_mul_overflows(n, dims[k], &n))
      return pfw_error(PFW_ERR_SHAPE, "output element count overflows");
  }
  int64_t bytes;
  /* SIZE_MAX/2 leaves the planner room for alignment without overflowing. */
  if (pfw_mul_overflows(n, (int64_t)esize, &bytes) || (uint64_t)bytes > SIZE_MAX / 2 ||
      pfw_span_overflows(dims, rank, esize))
    return pfw_error(PFW_ERR_SHAPE, "output byte size overflows");
  t->dtype = dtype;
  t->rank = rank;
  for (int32_t k = 0; k < rank; k++) t->dims[k] = dims[k];
  for (int32_t k = rank; k < PFW_MAX_RANK; k++) t->dims[k] = 0;
  t->nbytes = (size_t)bytes;
  return PFW_OK;
}

pfw_status pfw_check_input(const pfw_node* node, int32_t i, pfw_dtype dtype, int32_t rank) {
  if (i < 0 || i >= node->n_in || !node->in[i])
    return pfw_error(PFW_ERR_INVALID_MODEL, "input %d is required but absent", (int)i);
  const pfw_tensor* t = node->in[i];
  if (t->dtype != dtype)
    return pfw_error(PFW_ERR_UNSUPPORTED, "input %d has dtype %s, expected %s", (int)i,
                     pfw_dtype_name(t->dtype), pfw_dtype_name(dtype));
  if (rank >= 0 && t->rank != rank)
    return pfw_error(PFW_ERR_SHAPE, "input %d has rank %d, expected %d", (int)i, (int)t->rank, (int)rank);
  return PFW_OK;
}

pfw_status pfw_broadcast_shape(int32_t ra, const int64_t* a, int32_t rb, const int64_t* b,
                               int32_t* rout, int64_t* out) {
  int32_t r = ra > rb ? ra : rb;
  if (r > PFW_MAX_RANK)
    return pfw_error(PFW_ERR_UNSUPPORTED, "broadcast rank %d exceeds the maximum %d", (int)r, PFW_MAX_RANK);
  int64_t tmp[PFW_MAX_RANK]; /* out may alias a or b */
  for (int32_t k = 0; k < r; k++) {
    int32_t ia = k - (r - ra), ib = k - (r - rb);
    int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    if (da == db || db == 1) {
      tmp[k] = da;
    } else if (da == 1) {
      tmp[k] = db;
    } else {
      return pfw_error(PFW_ERR_SHAPE,
                       "shapes cannot be broadcast: dimension %d is %lld in one and %lld in the other "
                       "(counting from the right: %d)",
                       (int)k, (long long)da, (long long)db, (int)(r - k));
    }
  }
  memcpy(out, tmp, sizeof(int64_t) * (size_t)r);
  *rout = r;
  return PFW_OK;
}

pfw_status pfw_norm_axis(int64_t axis, int32_t rank, const char* what, int32_t* out) {
  if (axis < -(int64_t)rank || axis >= (int64_t)rank)
    return pfw_error(PFW_ERR_INVALID_MODEL, "%s %lld is out of range for rank %d (expected [%d, %d))", what,
                     (long long)axis, (int)rank, -(int)rank, (int)rank);
  *out = (int32_t)(axis < 0 ? axis + rank : axis);
  return PFW_OK;
}

/* Checks input i as a plan-time vector of dtype `narrow` or `wide` with at most
 * `max` values; *count is its length. */
static pfw_status plan_vector(const pfw_node* node, int32_t i, const char* what, pfw_dtype narrow, pfw_dtype wide,
                              int32_t max, int64_t* count) {
  const pfw_tensor* t = node->in[i];
  if (t->dtype != narrow && t->dtype != wide)
    return pfw_error(PFW_ERR_INVALID_MODEL, "input %d (%s) must be %s or %s, is %s", (int)i, what,
                     pfw_dtype_name(narrow), pfw_dtype_name(wide), pfw_dtype_name(t->dtype));
  if (t->rank > 1)
    return pfw_error(PFW_ERR_INVALID_MODEL, "input %d (%s) must be a scalar or 1-D, has rank %d", (int)i,
                     what, (int)t->rank);
  if (!pfw_values_known(node, t)) return PFW_DEFER; /* computed at run time: prepared at invoke */
  *count = pfw_numel(t);
  if (*count > max)
    return pfw_error(PFW_ERR_UNSUPPORTED, "input %d (%s) has %lld values; at most %d are supported", (int)i,
                     what, (long long)*count, (int)max);
  return PFW_OK;
}

pfw_status pfw_input_ints(const pfw_node* node, int32_t i, const char* what, int64_t* out, int32_t max,
                          int32_t* n) {
  *n = -1;
  if (i >= node->n_in || !node->in[i]) return PFW_OK;
  const pfw_tensor* t = node->in[i];
  int64_t count = 0; /* set by plan_vector on success; 0 quiets -Wmaybe-uninitialized */
  pfw_status st = plan_vector(node, i, what, PFW_INT32, PFW_INT64, max, &count);
  if (st != PFW_OK) return st;
  for (int64_t k = 0; k < count; k++) {
    if (t->dtype == PFW_INT64) {
      memcpy(&out[k], (const char*)t->data + 8 * k, 8);
    } else {
      int32_t v;
      memcpy(&v, (const char*)t->data + 4 * k, 4);
      out[k] = v;
    }
  }
  *n = (int32_t)count;
  return PFW_OK;
}

pfw_status pfw_input_floats(const pfw_node* node, int32_t i, const char* what, double* out, int32_t max,
                            int32_t* n) {
  *n = -1;
  if (i >= node->n_in || !node->in[i]) return PFW_OK;
  const pfw_tensor* t = node->in[i];
  int64_t count = 0; /* set by plan_vector on success; 0 quiets -Wmaybe-uninitialized */
  pfw_status st = plan_vector(node, i, what, PFW_FLOAT32, PFW_FLOAT64, max, &count);
  if (st != PFW_OK) return st;
  for (int64_t k = 0; k < count; k++) {
    if (t->dtype == PFW_FLOAT64) {
      memcpy(&out[k], (const char*)t->data + 8 * k, 8);
    } else {
      float v;
      memcpy(&v, (const char*)t->data + 4 * k, 4);
      out[k] = v;
    }
  }
  *n = (int32_t)count;
  return PFW_OK;
}

const pfw_tensor_desc* pfw_attr_tensor(const pfw_node* node, const char* name) {
  const pfw_attr* a = pfw_attr_find(node, name);
  if (!a || a->type != PFW_ATTR_TENSOR || !node->graph) return NULL;
  return &node->graph->tensors[a->tensor]; /* the verifier checked the index */
}
