/* Loading a .pfw file: framing checks, FlatBuffer decoding through the
 * checked reader, and semantic verification (see verify.c). After this,
 * nothing touches FlatBuffer bytes again. */
/* madvise(MADV_DONTNEED) is outside POSIX; glibc exposes it with this. */
#define _DEFAULT_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flatbuf.h"
#include "internal.h"
#include "model_internal.h"

/* Format versions this runtime reads. */
#define PFW_FORMAT_VERSION_MAX 1

/* ---- a bump allocator owning every decoded array ----------------------- */

typedef struct pool_chunk {
  struct pool_chunk* next;
  size_t used, cap;
  _Alignas(16) unsigned char data[];
} pool_chunk;

static void* pool_alloc(pfw_model* m, size_t size) {
  size = (size + 15) & ~(size_t)15;
  pool_chunk* c = m->pool;
  if (!c || c->cap - c->used < size) {
    size_t cap = size > 65536 ? size : 65536;
    pool_chunk* n = malloc(sizeof(pool_chunk) + cap);
    if (!n) return NULL;
    n->next = c;
    n->used = 0;
    n->cap = cap;
    m->pool = c = n;
  }
  void* p = c->data + c->used;
  c->used += size;
  memset(p, 0, size);
  return p;
}

static void pool_free(pfw_model* m) {
  pool_chunk* c = m->pool;
  while (c) {
    pool_chunk* next = c->next;
    free(c);
    c = next;
  }
  m->pool = NULL;
}

/* Array of n elements of `size`, or NULL with an error set. */
static void* pool_array(pfw_model* m, size_t n, size_t size) {
  if (n == 0) n = 1;
  if (n > SIZE_MAX / size) return NULL;
  void* p = pool_alloc(m, n * size);
  if (!p) pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory decoding the model");
  return p;
}

static pfw_status copy_string(pfw_model* m, const char* s, uint32_t len, const char** out) {
  char* p = pool_array(m, (size_t)len + 1, 1);
  if (!p) return PFW_ERR_OUT_OF_MEMORY;
  if (len) memcpy(p, s, len);
  p[len] = '\0';
  *out = p;
  return PFW_OK;
}

/* Decodes an optional string field into a NUL-terminated copy ("" if absent). */
static pfw_status dec_string(pfw_model* m, const fb_table* t, int id, const char** out,
                             const char* what) {
  const char* s;
  uint32_t len;
  pfw_status st = fb_string(t, id, &s, &len, what);
  if (st != PFW_OK) return st;
  return copy_string(m, s ? s : "", len, out);
}

static pfw_status dec_i32_vec(pfw_model* m, const fb_table* t, int id, int32_t** out, int32_t* n,
                              const char* what) {
  fb_vec v;
  pfw_status st = fb_vector(t, id, 4, &v, what);
  if (st != PFW_OK) return st;
  if (v.len > INT32_MAX) return pfw_error(PFW_ERR_INVALID_MODEL, "invalid model: %s: too many entries", what);
  int32_t* a = pool_array(m, v.len, sizeof(int32_t));
  if (!a) return PFW_ERR_OUT_OF_MEMORY;
  for (uint32_t i = 0; i < v.len; i++) a[i] = fb_vec_i32(&v, i);
  *out = a;
  *n = (int32_t)v.len;
  return PFW_OK;
}

#define TRY(x)                          \
  do {                                  \
    pfw_status st_ = (x);               \
    if (st_ != PFW_OK) return st_;      \
  } while (0)

/* ---- decoding ---------------------------------------------------------- */

enum { F_QUANT_SCALE, F_QUANT_ZP, F_QUANT_AXIS };
enum { F_T_NAME, F_T_DTYPE, F_T_SHAPE, F_T_BUFFER, F_T_QUANT, F_T_HAS_SHAPE, F_T_KIND, F_T_OPTIONAL };
enum { F_A_NAME, F_A_TYPE, F_A_I, F_A_F, F_A_S, F_A_INTS, F_A_FLOATS, F_A_STRINGS, F_A_TENSOR, F_A_GRAPH };
enum { F_N_OP, F_N_CUSTOM, F_N_VERSION, F_N_INPUTS, F_N_OUTPUTS, F_N_ATTRS, F_N_NAME, F_N_DOMAIN };
enum { F_G_NAME, F_G_TENSORS, F_G_NODES, F_G_INPUTS, F_G_OUTPUTS };
enum { F_KV_KEY, F_KV_VALUE };
enum { F_M_FORMAT, F_M_OPSET, F_M_GRAPHS, F_M_BUFFERS, F_M_METADATA, F_M_SIGNATURES };

static pfw_status dec_quant(pfw_model* m, const fb_table* t, pfw_quant_desc** out, const char* what) {
  fb_table q;
  bool present;
  TRY(fb_table_field(t, F_T_QUANT, &q, &present, what));
  if (!present) return PFW_OK;
  pfw_quant_desc* d = pool_array(m, 1, sizeof *d);
  if (!d) return PFW_ERR_OUT_OF_MEMORY;
  fb_vec sv, zv;
  TRY(fb_vector(&q, F_QUANT_SCALE, 4, &sv, what));
  TRY(fb_vector(&q, F_QUANT_ZP, 8, &zv, what));
  TRY(fb_i32(&q, F_QUANT_AXIS, 0, &d->axis, what));
  d->scale = pool_array(m, sv.len, sizeof(float));
  d->zero_point = pool_array(m, zv.len, sizeof(int64_t));
  if (!d->scale || !d->zero_point) return PFW_ERR_OUT_OF_MEMORY;
  for (uint32_t i = 0; i < sv.len; i++) d->scale[i] = fb_vec_f32(&sv, i);
  for (uint32_t i = 0; i < zv.len; i++) d->zero_point[i] = fb_vec_i64(&zv, i);
  d->n_scale = (int32_t)sv.len;
  d->n_zero_point = (int32_t)zv.len;
  *out = d;
  return PFW_OK;
}

static pfw_status dec_tensor(pfw_model* m, const fb_table* t, pfw_tensor_desc* d,
                             uint32_t* buffer, const char* what) {
  uint8_t dtype, has_shape, kind, optional;
  TRY(dec_string(m, t, F_T_NAME, &d->name, what));
  TRY(fb_u8(t, F_T_DTYPE, PFW_FLOAT32, &dtype, what));
  TRY(fb_u8(t, F_T_HAS_SHAPE, 1, &has_shape, what));
  TRY(fb_u8(t, F_T_KIND, 0, &kind, what));
  TRY(fb_u8(t, F_T_OPTIONAL, 0, &optional, what));
  if (kind > PFW_KIND_SEQUENCE)
    return pfw_error(PFW_ERR_INVALID_MODEL, "%s: unknown value kind %u", what, (unsigned)kind);
  d->kind = (pfw_value_kind)kind;
  d->optional = optional != 0;
  TRY(fb_u32(t, F_T_BUFFER, 0, buffer, what));
  fb_vec sv;
  TRY(fb_vector(t, F_T_SHAPE, 8, &sv, what));
  d->dtype = (pfw_dtype)dtype;
  d->has_shape = has_shape != 0;
  if (sv.len > PFW_MAX_RANK)
    return pfw_error(PFW_ERR_UNSUPPORTED, "%s ('%s'): rank %u exceeds the maximum %d", what,
                     d->name, sv.len, PFW_MAX_RANK);
  d->rank = (int32_t)sv.len;
  for (uint32_t i = 0; i < sv.len; i++) d->dims[i] = fb_vec_i64(&sv, i);
  return dec_quant(m, t, &d->quant, what);
}

static pfw_status dec_attr(pfw_model* m, const fb_table* t, pfw_attr* a, const char* what) {
  uint8_t type;
  TRY(dec_string(m, t, F_A_NAME, &a->name, what));
  TRY(fb_u8(t, F_A_TYPE, 0, &type, what));
  TRY(fb_i64(t, F_A_I, 0, &a->i, what));
  TRY(fb_f32(t, F_A_F, 0.0f, &a->f, what));
  TRY(fb_i32(t, F_A_TENSOR, -1, &a->tensor, what));
  TRY(fb_i32(t, F_A_GRAPH, -1, &a->graph, what));
  a->type = (pfw_attr_type)type;
  fb_vec v;
  switch (a->type) {
    case PFW_ATTR_FLOAT: case PFW_ATTR_INT: case PFW_ATTR_TENSOR: case PFW_ATTR_GRAPH:
      return PFW_OK;
    case PFW_ATTR_STRING: {
      const char* s;
      TRY(fb_vector(t, F_A_S, 1, &v, what));
      s = v.len ? (const char*)v.buf->data + v.pos : "";
      a->s_len = (int32_t)v.len;
      return copy_string(m, s, v.len, (const char**)&a->s);
    }
    case PFW_ATTR_INTS:
      TRY(fb_vector(t, F_A_INTS, 8, &v, what));
      if (!(a->ints = pool_array(m, v.len, sizeof(int64_t)))) return PFW_ERR_OUT_OF_MEMORY;
      for (uint32_t i = 0; i < v.len; i++) a->ints[i] = fb_vec_i64(&v, i);
      a->n = (int32_t)v.len;
      return PFW_OK;
    case PFW_ATTR_FLOATS:
      TRY(fb_vector(t, F_A_FLOATS, 4, &v, what));
      if (!(a->floats = pool_array(m, v.len, sizeof(float)))) return PFW_ERR_OUT_OF_MEMORY;
      for (uint32_t i = 0; i < v.len; i++) a->floats[i] = fb_vec_f32(&v, i);
      a->n = (int32_t)v.len;
      return PFW_OK;
    case PFW_ATTR_STRINGS:
      TRY(fb_vector(t, F_A_STRINGS, 4, &v, what));
      if (!(a->strings = pool_array(m, v.len, sizeof(char*)))) return PFW_ERR_OUT_OF_MEMORY;
      for (uint32_t i = 0; i < v.len; i++) {
        const char* s;
        uint32_t len;
        TRY(fb_vec_string(&v, i, &s, &len, what));
        TRY(copy_string(m, s, len, &a->strings[i]));
      }
      a->n = (int32_t)v.len;
      return PFW_OK;
    default:
      return pfw_error(PFW_ERR_INVALID_MODEL, "invalid model: %s ('%s'): unknown attribute type %d",
                       what, a->name, (int)type);
  }
}

static pfw_status dec_node(pfw_model* m, const fb_table* t, pfw_node_desc* n, const char* what) {
  char w[160];
  TRY(fb_u16(t, F_N_OP, 0, &n->op, what));
  TRY(dec_string(m, t, F_N_NAME, &n->name, what));
  TRY(dec_string(m, t, F_N_CUSTOM, &n->custom_op, what));
  TRY(dec_string(m, t, F_N_DOMAIN, &n->domain, what));
  TRY(fb_i32(t, F_N_VERSION, 0, &n->version, what));
  TRY(dec_i32_vec(m, t, F_N_INPUTS, &n->inputs, &n->n_inputs, what));
  TRY(dec_i32_vec(m, t, F_N_OUTPUTS, &n->outputs, &n->n_outputs, what));
  fb_vec av;
  TRY(fb_vector(t, F_N_ATTRS, 4, &av, what));
  if (!(n->attrs = pool_array(m, av.len, sizeof(pfw_attr)))) return PFW_ERR_OUT_OF_MEMORY;
  n->n_attrs = (int32_t)av.len;
  for (uint32_t i = 0; i < av.len; i++) {
    fb_table at;
    snprintf(w, sizeof w, "%.60s ('%.60s') attribute %u", what, n->name, i);
    TRY(fb_vec_table(&av, i, &at, w));
    TRY(dec_attr(m, &at, &n->attrs[i], w));
  }
  return PFW_OK;
}

static pfw_status dec_graph(pfw_model* m, const fb_table* t, int gi, const fb_vec* buffers,
                            uint64_t data_start) {
  pfw_graph_desc* g = &m->graphs[gi];
  char w[160];
  snprintf(w, sizeof w, "graph %d", gi);
  TRY(dec_string(m, t, F_G_NAME, &g->name, w));
  fb_vec tv, nv;
  TRY(fb_vector(t, F_G_TENSORS, 4, &tv, w));
  TRY(fb_vector(t, F_G_NODES, 4, &nv, w));
  TRY(dec_i32_vec(m, t, F_G_INPUTS, &g->inputs, &g->n_inputs, w));
  TRY(dec_i32_vec(m, t, F_G_OUTPUTS, &g->outputs, &g->n_outputs, w));
  if (tv.len > INT32_MAX || nv.len > INT32_MAX)
    return pfw_error(PFW_ERR_INVALID_MODEL, "invalid model: %s: too many tensors or nodes", w);
  g->tensors = pool_array(m, tv.len, sizeof(pfw_tensor_desc));
  g->nodes = pool_array(m, nv.len, sizeof(pfw_node_desc));
  if (!g->tensors || !g->nodes) return PFW_ERR_OUT_OF_MEMORY;
  g->n_tensors = (int32_t)tv.len;
  g->n_nodes = (int32_t)nv.len;
  for (uint32_t i = 0; i < tv.len; i++) {
    fb_table tt;
    uint32_t buffer;
    snprintf(w, sizeof w, "graph %d tensor %u", gi, i);
    TRY(fb_vec_table(&tv, i, &tt, w));
    TRY(dec_tensor(m, &tt, &g->tensors[i], &buffer, w));
    TRY(pfw_bind_buffer(m, &g->tensors[i], buffer, buffers, data_start, w));
  }
  for (uint32_t i = 0; i < nv.len; i++) {
    fb_table nt;
    snprintf(w, sizeof w, "graph %d node %u", gi, i);
    TRY(fb_vec_table(&nv, i, &nt, w));
    TRY(dec_node(m, &nt, &g->nodes[i], w));
  }
  return PFW_OK;
}

/* Once verified, each STRING constant's buffer (end offsets, then bytes)
 * becomes the (pointer, size) pairs that STRING tensors hold, pointing into
 * the file's bytes: its data from then on. */
static pfw_status decode_strings(pfw_model* m) {
  for (int32_t gi = 0; gi < m->n_graphs; gi++) {
    pfw_graph_desc* g = &m->graphs[gi];
    for (int32_t ti = 0; ti < g->n_tensors; ti++) {
      pfw_tensor_desc* t = &g->tensors[ti];
      if (t->dtype != PFW_STRING || !t->data) continue;
      int64_t n = 1;
      for (int32_t k = 0; k < t->rank; k++) n *= t->dims[k]; /* verified: no overflow, fits the buffer */
      pfw_string* s = pool_array(m, (size_t)n + 1, sizeof(pfw_string));
      if (!s) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory decoding string constants");
      const uint8_t* p = t->data;
      const char* text = (const char*)p + 8 * n;
      uint64_t start = 0;
      for (int64_t i = 0; i < n; i++) {
        uint64_t end = pfw_string_end(p, i);
        s[i] = end > start ? (pfw_string){text + start, (size_t)(end - start)} : (pfw_string){NULL, 0};
        start = end;
      }
      t->data = s;
      t->data_size = (uint64_t)n * sizeof(pfw_string);
    }
  }
  return PFW_OK;
}

static pfw_status dec_model(pfw_model* m) {
  if (m->size < 12)
    return pfw_error(PFW_ERR_INVALID_MODEL, "invalid model: file is %zu bytes, too short for a .pfw header", m->size);
  uint32_t fb_size;
  memcpy(&fb_size, m->bytes, 4);
  if (memcmp(m->bytes + 8, "PFW1", 4) != 0)
    return pfw_error(PFW_ERR_INVALID_MODEL,
                     "invalid model: not a .pfw file (identifier at byte 8 is not \"PFW1\")");
  if ((uint64_t)fb_size + 4 > m->size)
    return pfw_error(PFW_ERR_INVALID_MODEL,
                     "invalid model: truncated: the size prefix at byte 0 says %u bytes of FlatBuffer but the file has %zu",
                     fb_size, m->size - 4);
  fb_buf b = {m->bytes + 4, fb_size, 4};
  uint64_t data_start = ((uint64_t)fb_size + 4 + PFW_ALIGN - 1) / PFW_ALIGN * PFW_ALIGN;
  fb_table root;
  TRY(fb_root(&b, &root));
  TRY(fb_u32(&root, F_M_FORMAT, 0, &m->format_version, "model format_version"));
  TRY(fb_i32(&root, F_M_OPSET, 0, &m->opset, "model opset"));
  if (m->format_version < 1)
    return pfw_error(PFW_ERR_INVALID_MODEL, "invalid model: format_version is %u", m->format_version);
  if (m->format_version > PFW_FORMAT_VERSION_MAX)
    return pfw_error(PFW_ERR_UNSUPPORTED,
                     "model format_version %u is newer than this runtime (%s) reads (up to %d)",
                     m->format_version, PFW_VERSION, PFW_FORMAT_VERSION_MAX);
  fb_vec mv, gv, bv;
  TRY(fb_vector(&root, F_M_METADATA, 4, &mv, "model metadata"));
  m->meta_keys = pool_array(m, mv.len, sizeof(char*));
  m->meta_values = pool_array(m, mv.len, sizeof(char*));
  if (!m->meta_keys || !m->meta_values) return PFW_ERR_OUT_OF_MEMORY;
  m->n_metadata = (int32_t)mv.len;
  for (uint32_t i = 0; i < mv.len; i++) {
    fb_table kv;
    TRY(fb_vec_table(&mv, i, &kv, "model metadata entry"));
    TRY(dec_string(m, &kv, F_KV_KEY, &m->meta_keys[i], "model metadata key"));
    TRY(dec_string(m, &kv, F_KV_VALUE, &m->meta_values[i], "model metadata value"));
  }
  TRY(fb_vector(&root, F_M_BUFFERS, 16, &bv, "model buffers"));
  TRY(fb_vector(&root, F_M_GRAPHS, 4, &gv, "model graphs"));
  if (gv.len == 0) return pfw_error(PFW_ERR_INVALID_MODEL, "invalid model: the model has no graphs");
  if (gv.len > INT32_MAX) return pfw_error(PFW_ERR_INVALID_MODEL, "invalid model: too many graphs");
  if (!(m->graphs = pool_array(m, gv.len, sizeof(pfw_graph_desc)))) return PFW_ERR_OUT_OF_MEMORY;
  m->n_graphs = (int32_t)gv.len;
  TRY(pfw_check_buffers(m, &bv, data_start));
  for (uint32_t i = 0; i < gv.len; i++) {
    fb_table gt;
    TRY(fb_vec_table(&gv, i, &gt, "model graph"));
    TRY(dec_graph(m, &gt, (int)i, &bv, data_start));
  }
  TRY(pfw_verify_model(m));
  return decode_strings(m);
}

/* ---- public entry points ----------------------------------------------- */

static pfw_status finish_load(pfw_model* m, pfw_model** out) {
  pfw_status st = dec_model(m);
  if (st != PFW_OK) {
    pfw_model_free(m);
    return st;
  }
  *out = m;
  return PFW_OK;
}

pfw_status pfw_model_load_file(const char* path, pfw_model** out) {
  if (!path || !out) return pfw_error(PFW_ERR_INVALID_ARGUMENT, "pfw_model_load_file: path and out must not be NULL");
  *out = NULL;
  int fd = open(path, O_RDONLY);
  if (fd < 0) return pfw_error(PFW_ERR_IO, "cannot open '%s'", path);
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    close(fd);
    return pfw_error(PFW_ERR_IO, "'%s' is not a regular file", path);
  }
  if (sb.st_size < 12) {
    close(fd);
    return pfw_error(PFW_ERR_INVALID_MODEL, "invalid model: '%s' is %lld bytes, too short for a .pfw header",
                     path, (long long)sb.st_size);
  }
  if ((uint64_t)sb.st_size > SIZE_MAX) {
    close(fd);
    return pfw_error(PFW_ERR_IO, "'%s' is too large to map", path);
  }
  void* map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED) return pfw_error(PFW_ERR_IO, "cannot map '%s'", path);
  pfw_model* m = calloc(1, sizeof *m);
  if (!m) {
    munmap(map, (size_t)sb.st_size);
    return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory loading '%s'", path);
  }
  m->bytes = map;
  m->size = (size_t)sb.st_size;
  m->mapped = true;
  return finish_load(m, out);
}

pfw_status pfw_model_load_buffer(const void* data, size_t size, pfw_model** out) {
  if (!data || !out) return pfw_error(PFW_ERR_INVALID_ARGUMENT, "pfw_model_load_buffer: data and out must not be NULL");
  *out = NULL;
  pfw_model* m = calloc(1, sizeof *m);
  size_t cap = pfw_align_size(size);
  if (!m || cap < size || !(m->bytes = aligned_alloc(PFW_ALIGN, cap ? cap : PFW_ALIGN))) {
    free(m);
    return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory copying a %zu-byte model", size);
  }
  memcpy(m->bytes, data, size);
  m->size = size;
  return finish_load(m, out);
}

void pfw_model_release_pages(const pfw_model* model, const void* data, size_t bytes) {
#ifdef MADV_DONTNEED
  if (!model || !model->mapped || !data || !bytes) return;
  uintptr_t lo = (uintptr_t)model->bytes, hi = lo + model->size, p = (uintptr_t)data;
  if (p < lo || p > hi || bytes > hi - p) return; /* not in the mapping */
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  uintptr_t start = (p + page - 1) / page * page, end = (p + bytes) / page * page;
  /* The mapping is private and read-only, so no page was ever written:
   * dropped pages are read again from the file if anything touches them. */
  if (end > start) madvise((void*)start, end - start, MADV_DONTNEED);
#else
  (void)model, (void)data, (void)bytes;
#endif
}

void pfw_model_free(pfw_model* model) {
  if (!model) return;
  if (model->mapped)
    munmap(model->bytes, model->size);
  else
    free(model->bytes);
  pool_free(model);
  free(model);
}

pfw_status pfw_model_get_metadata(const pfw_model* model, const char* key, const char** value) {
  if (!model || !key || !value)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "pfw_model_get_metadata: arguments must not be NULL");
  for (int32_t i = 0; i < model->n_metadata; i++) {
    if (strcmp(model->meta_keys[i], key) == 0) {
      *value = model->meta_values[i];
      return PFW_OK;
    }
  }
  return pfw_error(PFW_ERR_NOT_FOUND, "model has no metadata key '%s'", key);
}
