#include "flatbuf.h"

#include <string.h>

#include "internal.h"

static pfw_status bad(const fb_buf* b, size_t pos, const char* what, const char* why) {
  return pfw_error(PFW_ERR_INVALID_MODEL, "invalid model: %s at byte %zu: %s", what,
                   b->file_base + pos, why);
}

/* True when [pos, pos+n) lies inside the buffer (overflow-safe). */
static bool in_bounds(const fb_buf* b, size_t pos, size_t n) {
  return pos <= b->size && n <= b->size - pos;
}

static uint32_t rd_u32(const fb_buf* b, size_t pos) {
  uint32_t v;
  memcpy(&v, b->data + pos, 4);
  return v;
}

static pfw_status table_at(const fb_buf* b, size_t pos, fb_table* out, const char* what) {
  if (!in_bounds(b, pos, 4)) return bad(b, pos, what, "table offset outside the buffer");
  if (pos % 4 != 0) return bad(b, pos, what, "table is not 4-byte aligned");
  int32_t soff;
  memcpy(&soff, b->data + pos, 4);
  int64_t vt = (int64_t)pos - (int64_t)soff;
  if (vt < 0 || !in_bounds(b, (size_t)vt, 4)) return bad(b, pos, what, "vtable outside the buffer");
  uint16_t vt_size, tab_size;
  memcpy(&vt_size, b->data + vt, 2);
  memcpy(&tab_size, b->data + vt + 2, 2);
  if (vt_size < 4 || vt_size % 2 != 0 || !in_bounds(b, (size_t)vt, vt_size))
    return bad(b, (size_t)vt, what, "vtable size is invalid or runs past the buffer");
  if (tab_size < 4 || !in_bounds(b, pos, tab_size))
    return bad(b, pos, what, "table size is invalid or runs past the buffer");
  out->buf = b;
  out->pos = pos;
  out->vtab = (size_t)vt;
  out->vt_size = vt_size;
  out->tab_size = tab_size;
  return PFW_OK;
}

pfw_status fb_root(const fb_buf* b, fb_table* out) {
  if (!in_bounds(b, 0, 8)) return bad(b, 0, "root", "buffer too small for a FlatBuffer");
  return table_at(b, rd_u32(b, 0), out, "root table");
}

/* Offset of field `id` inside the table, 0 when absent; checks `size` bytes fit. */
static pfw_status field(const fb_table* t, int id, size_t size, size_t* out, const char* what) {
  size_t entry = 4 + 2 * (size_t)id;
  *out = 0;
  if (entry + 2 > t->vt_size) return PFW_OK;
  uint16_t off;
  memcpy(&off, t->buf->data + t->vtab + entry, 2);
  if (off == 0) return PFW_OK;
  if ((size_t)off + size > t->tab_size) return bad(t->buf, t->pos, what, "field lies outside its table");
  *out = t->pos + off;
  return PFW_OK;
}

#define FB_SCALAR(fn, type)                                                             \
  pfw_status fn(const fb_table* t, int id, type dflt, type* out, const char* what) {   \
    size_t p;                                                                           \
    pfw_status st = field(t, id, sizeof(type), &p, what);                               \
    if (st != PFW_OK) return st;                                                        \
    if (p == 0) {                                                                       \
      *out = dflt;                                                                      \
    } else {                                                                            \
      memcpy(out, t->buf->data + p, sizeof(type));                                      \
    }                                                                                   \
    return PFW_OK;                                                                      \
  }
FB_SCALAR(fb_u8, uint8_t)
FB_SCALAR(fb_u16, uint16_t)
FB_SCALAR(fb_i32, int32_t)
FB_SCALAR(fb_u32, uint32_t)
FB_SCALAR(fb_i64, int64_t)
FB_SCALAR(fb_f32, float)

/* Follows the uoffset stored at `at` (which must be in bounds). */
static pfw_status follow(const fb_buf* b, size_t at, size_t* target, const char* what) {
  uint32_t rel = rd_u32(b, at);
  if (rel == 0 || !in_bounds(b, at, (size_t)rel)) return bad(b, at, what, "offset points outside the buffer");
  *target = at + rel;
  return PFW_OK;
}

pfw_status fb_table_field(const fb_table* t, int id, fb_table* out, bool* present, const char* what) {
  size_t p = 0, target = 0;
  *present = false;
  pfw_status st = field(t, id, 4, &p, what);
  if (st != PFW_OK || p == 0) return st;
  if ((st = follow(t->buf, p, &target, what)) != PFW_OK) return st;
  *present = true;
  return table_at(t->buf, target, out, what);
}

static pfw_status vector_at(const fb_buf* b, size_t pos, size_t elem_size, fb_vec* out,
                            const char* what) {
  if (!in_bounds(b, pos, 4) || pos % 4 != 0) return bad(b, pos, what, "vector header outside the buffer or misaligned");
  uint32_t len = rd_u32(b, pos);
  if ((uint64_t)len * elem_size > b->size - pos - 4)
    return bad(b, pos, what, "vector length runs past the end of the buffer");
  out->buf = b;
  out->pos = pos + 4;
  out->len = len;
  return PFW_OK;
}

pfw_status fb_vector(const fb_table* t, int id, size_t elem_size, fb_vec* out, const char* what) {
  size_t p = 0, target = 0;
  out->buf = t->buf;
  out->pos = 0;
  out->len = 0;
  pfw_status st = field(t, id, 4, &p, what);
  if (st != PFW_OK || p == 0) return st;
  if ((st = follow(t->buf, p, &target, what)) != PFW_OK) return st;
  return vector_at(t->buf, target, elem_size, out, what);
}

static pfw_status string_at(const fb_buf* b, size_t pos, const char** s, uint32_t* len,
                            const char* what) {
  fb_vec v = {0};
  pfw_status st = vector_at(b, pos, 1, &v, what);
  if (st != PFW_OK) return st;
  if (!in_bounds(b, v.pos, (size_t)v.len + 1) || b->data[v.pos + v.len] != 0)
    return bad(b, pos, what, "string is not NUL-terminated inside the buffer");
  *s = (const char*)b->data + v.pos;
  *len = v.len;
  return PFW_OK;
}

pfw_status fb_string(const fb_table* t, int id, const char** s, uint32_t* len, const char* what) {
  size_t p = 0, target = 0;
  *s = NULL;
  *len = 0;
  pfw_status st = field(t, id, 4, &p, what);
  if (st != PFW_OK || p == 0) return st;
  if ((st = follow(t->buf, p, &target, what)) != PFW_OK) return st;
  return string_at(t->buf, target, s, len, what);
}

pfw_status fb_vec_table(const fb_vec* v, uint32_t i, fb_table* out, const char* what) {
  size_t at = v->pos + 4 * (size_t)i, target = 0;
  pfw_status st = follow(v->buf, at, &target, what);
  if (st != PFW_OK) return st;
  return table_at(v->buf, target, out, what);
}

pfw_status fb_vec_string(const fb_vec* v, uint32_t i, const char** s, uint32_t* len,
                         const char* what) {
  size_t at = v->pos + 4 * (size_t)i, target = 0;
  pfw_status st = follow(v->buf, at, &target, what);
  if (st != PFW_OK) return st;
  return string_at(v->buf, target, s, len, what);
}

/* Element readers: bounds were checked when the vector was opened. */
#define FB_ELEM(fn, type)                                   \
  type fn(const fb_vec* v, uint32_t i) {                    \
    type x;                                                 \
    memcpy(&x, v->buf->data + v->pos + sizeof(type) * i, sizeof(type)); \
    return x;                                               \
  }
FB_ELEM(fb_vec_i32, int32_t)
FB_ELEM(fb_vec_i64, int64_t)
FB_ELEM(fb_vec_u64, uint64_t)
FB_ELEM(fb_vec_f32, float)
FB_ELEM(fb_vec_u8, uint8_t)
