/* LabelEncoder (ai.onnx.ml 1-4): each element of X equal to a key becomes
 * that key's value, the others the default. Keys and values come from the
 * attributes keys_strings / keys_int64s / keys_floats / keys_tensor and
 * values_* / default_* alike, or (version 1) from classes_strings: a string
 * becomes its index there, an int64 the string it indexes. A key repeated takes its last value (ONNX's
 * reference). Float keys match by value (-0 is 0) and a NaN key matches
 * every NaN. The keys go into an open-addressing hash table at prepare, so a
 * lookup costs the same for 2 keys or 2 million. */
#include <stdio.h>
#include <stdlib.h>

#include "ops_common.h"

typedef struct table {
  pfw_dtype key_type, value_type;
  int64_t n;
  const void* keys;   /* n keys of key_type (pfw_string for STRING) */
  const void* values; /* n values of value_type */
  uint8_t fallback[sizeof(pfw_string)];
  uint64_t mask;
  int64_t* slot;      /* -1: empty, else a key index */
} table;

static bool is_float_type(pfw_dtype d) { return d == PFW_FLOAT32 || d == PFW_FLOAT64; }

/* Element i of a number key array (or of X) as the 64 bits hashed and compared. */
static uint64_t number_bits(const void* p, pfw_dtype d, int64_t i) {
  if (is_float_type(d)) {
    double v = d == PFW_FLOAT32 ? ((const float*)p)[i] : ((const double*)p)[i];
    if (v != v) return 0x7ff8000000000000u; /* every NaN alike */
    if (v == 0) v = 0;                      /* -0 is 0 */
    uint64_t u;
    memcpy(&u, &v, 8);
    return u;
  }
  if (d == PFW_INT64) return (uint64_t)((const int64_t*)p)[i];
  return (uint64_t)(int64_t)pfw_load_real(p, d, i); /* int16/int32: exact in a double */
}

static uint64_t hash_of(const table* t, const void* base, int64_t i) {
  uint64_t h = 0xcbf29ce484222325u;
  if (t->key_type == PFW_STRING) {
    pfw_string s = ((const pfw_string*)base)[i];
    for (size_t k = 0; k < s.size; k++) h = (h ^ (uint8_t)s.data[k]) * 0x100000001b3u;
    return h;
  }
  uint64_t u = number_bits(base, t->key_type, i);
  for (int k = 0; k < 8; k++) h = (h ^ ((u >> (8 * k)) & 0xff)) * 0x100000001b3u;
  return h;
}

static bool same_key(const table* t, const void* a, int64_t i, const void* b, int64_t j) {
  if (t->key_type == PFW_STRING) return pfw_str_equal(((const pfw_string*)a)[i], ((const pfw_string*)b)[j]);
  return number_bits(a, t->key_type, i) == number_bits(b, t->key_type, j);
}

/* ---- reading the attributes ------------------------------------------------- */

/* Where one of <prefix>_strings / _int64s / _floats / _tensor is. */
typedef struct list {
  pfw_dtype type;
  int64_t n;
  const pfw_attr* strings; /* attribute strings, made pfw_string in the table's block */
  const void* data;        /* else the elements as they are */
} list;

static pfw_status find_list(const pfw_node* node, const char* prefix, list* l) {
  char name[32];
  static const char* const KIND[3] = {"strings", "int64s", "floats"};
  static const pfw_attr_type TYPE[3] = {PFW_ATTR_STRINGS, PFW_ATTR_INTS, PFW_ATTR_FLOATS};
  memset(l, 0, sizeof *l);
  for (int k = 0; k < 3; k++) {
    snprintf(name, sizeof name, "%s_%s", prefix, KIND[k]);
    const pfw_attr* a = pfw_attr_find(node, name);
    if (!a || a->type != TYPE[k]) continue;
    l->n = a->n;
    l->type = k == 0 ? PFW_STRING : k == 1 ? PFW_INT64 : PFW_FLOAT32;
    if (k == 0) l->strings = a;
    else l->data = k == 1 ? (const void*)a->ints : (const void*)a->floats;
    return PFW_OK;
  }
  snprintf(name, sizeof name, "%s_tensor", prefix);
  const pfw_tensor_desc* t = pfw_attr_tensor(node, name);
  if (t) {
    l->type = t->dtype;
    l->n = 1;
    for (int32_t d = 0; d < t->rank; d++) l->n *= t->dims[d];
    l->data = t->data;
    return PFW_OK;
  }
  return pfw_error(PFW_ERR_INVALID_MODEL, "no %s_strings, %s_int64s, %s_floats or %s_tensor attribute", prefix,
                   prefix, prefix, prefix);
}

static bool supported_type(pfw_dtype d) {
  return d == PFW_STRING || d == PFW_INT64 || d == PFW_FLOAT32 || d == PFW_INT32 || d == PFW_INT16 || d == PFW_FLOAT64;
}

/* The default: default_tensor, or default_<string|int64|float> as the values' kind, or ONNX's. */
static pfw_status read_default(const pfw_node* node, table* t) {
  const pfw_tensor_desc* d = pfw_attr_tensor(node, "default_tensor");
  if (d) {
    if (d->dtype != t->value_type || !d->data || d->data_size != pfw_dtype_size(t->value_type))
      return pfw_error(PFW_ERR_INVALID_MODEL, "default_tensor must be one %s (the values' dtype); it is %llu bytes of %s",
                       pfw_dtype_name(t->value_type), (unsigned long long)d->data_size, pfw_dtype_name(d->dtype));
    memcpy(t->fallback, d->data, pfw_dtype_size(t->value_type));
  } else if (t->value_type == PFW_STRING) {
    const char* s = pfw_attr_string(node, "default_string", "_Unused");
    pfw_string v = {s, strlen(s)};
    memcpy(t->fallback, &v, sizeof v);
  } else if (t->value_type == PFW_INT64 || t->value_type == PFW_INT32 || t->value_type == PFW_INT16) {
    pfw_store_real(t->fallback, t->value_type, (long double)pfw_attr_int(node, "default_int64", -1));
  } else {
    pfw_store_real(t->fallback, t->value_type, pfw_attr_float(node, "default_float", -0.0f));
  }
  return PFW_OK;
}

/* Attribute strings as pfw_string at `out`; returns where the next go. */
static pfw_string* own_strings(const list* l, pfw_string* out, const void** data) {
  if (!l->strings) return out;
  for (int32_t j = 0; j < l->strings->n; j++) out[j] = (pfw_string){l->strings->strings[j], strlen(l->strings->strings[j])};
  *data = out;
  return out + l->strings->n;
}

/* The table in one block (node->state is freed with a single free()):
 * the struct, the slots, then any attribute strings. */
static pfw_status build(pfw_node* node, table** out) {
  list keys, values;
  pfw_status st = PFW_OK;
  const pfw_attr* classes = pfw_attr_find(node, "classes_strings");
  if (classes && classes->type == PFW_ATTR_STRINGS) {
    /* ai.onnx.ml 1: a string X becomes its index in classes_strings, an int64 X the class it indexes. */
    list names = {PFW_STRING, classes->n, classes, NULL}, index = {PFW_INT64, classes->n, NULL, NULL};
    bool to_index = node->in[0]->dtype == PFW_STRING;
    keys = to_index ? names : index;
    values = to_index ? index : names;
  } else {
    st = find_list(node, "keys", &keys);
    if (st == PFW_OK) st = find_list(node, "values", &values);
  }
  if (st != PFW_OK) return st;
  if (!supported_type(keys.type) || !supported_type(values.type))
    return pfw_error(PFW_ERR_UNSUPPORTED, "keys of %s to values of %s: LabelEncoder takes string, int64, int32, "
                     "int16, float and double", pfw_dtype_name(keys.type), pfw_dtype_name(values.type));
  if (keys.n != values.n || keys.n == 0)
    return pfw_error(PFW_ERR_INVALID_MODEL, "%lld keys for %lld values; they must be as many, and not none",
                     (long long)keys.n, (long long)values.n);
  uint64_t cap = 16;
  while (cap < (uint64_t)keys.n * 2) cap <<= 1;
  size_t limit = node->mem_limit ? node->mem_limit : SIZE_MAX / 2;
  size_t strings = (size_t)(keys.strings ? keys.n : 0) + (size_t)(values.strings ? values.n : 0);
  bool indices = (keys.type == PFW_INT64 && !keys.data) || (values.type == PFW_INT64 && !values.data);
  if (cap > limit / 48) return pfw_error(PFW_ERR_UNSUPPORTED, "a table of %lld keys exceeds the memory limit", (long long)keys.n);
  size_t bytes = sizeof(table) + cap * sizeof(int64_t) + strings * sizeof(pfw_string) +
                 (indices ? (size_t)keys.n * sizeof(int64_t) : 0);
  table* t = calloc(1, bytes);
  if (!t) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory for a table of %lld keys", (long long)keys.n);
  t->key_type = keys.type;
  t->value_type = values.type;
  t->n = keys.n;
  t->slot = (int64_t*)(t + 1);
  t->mask = cap - 1;
  t->keys = keys.data;
  t->values = values.data;
  pfw_string* next = own_strings(&keys, (pfw_string*)(t->slot + cap), &t->keys);
  next = own_strings(&values, next, &t->values);
  if (indices) { /* the 0..n-1 side of classes_strings */
    int64_t* index = (int64_t*)next;
    for (int64_t i = 0; i < keys.n; i++) index[i] = i;
    if (!keys.data && !keys.strings) t->keys = index;
    else t->values = index;
  }
  if ((st = read_default(node, t)) != PFW_OK) {
    free(t);
    return st;
  }
  memset(t->slot, 0xff, cap * sizeof(int64_t));
  for (int64_t i = 0; i < t->n; i++) {
    uint64_t h = hash_of(t, t->keys, i) & t->mask;
    while (t->slot[h] >= 0 && !same_key(t, t->keys, t->slot[h], t->keys, i)) h = (h + 1) & t->mask;
    t->slot[h] = i; /* a repeated key: the last one's value */
  }
  *out = t;
  return PFW_OK;
}

/* ---- the op ------------------------------------------------------------------- */

static pfw_status le_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, 1);
  table* t = NULL;
  if (st == PFW_OK) st = build(node, &t);
  if (st != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  if (x->dtype != t->key_type)
    st = pfw_error(PFW_ERR_INVALID_MODEL, "input 0 has dtype %s but the keys are %s", pfw_dtype_name(x->dtype),
                   pfw_dtype_name(t->key_type));
  if (st == PFW_OK) st = pfw_set_output(node->out[0], t->value_type, x->rank, x->dims);
  if (st != PFW_OK) {
    free(t);
    return st;
  }
  node->state = t;
  return PFW_OK;
}

static pfw_status le_run(pfw_node* node) {
  const table* t = node->state;
  const pfw_tensor* x = node->in[0];
  size_t size = pfw_dtype_size(t->value_type);
  uint8_t* y = node->out[0]->data;
  for (int64_t i = 0, n = pfw_numel(x); i < n; i++) {
    uint64_t h = hash_of(t, x->data, i) & t->mask;
    const void* v = t->fallback;
    for (; t->slot[h] >= 0; h = (h + 1) & t->mask)
      if (same_key(t, t->keys, t->slot[h], x->data, i)) {
        v = (const uint8_t*)t->values + (size_t)t->slot[h] * size;
        break;
      }
    memcpy(y + (size_t)i * size, v, size);
  }
  return PFW_OK;
}

const pfw_op pfw_op_LabelEncoder = {PFW_OP_LabelEncoder, le_prepare, le_run, PFW_OPF_STRINGS};
