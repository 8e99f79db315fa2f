/* A small checked FlatBuffers reader. Every access validates offsets,
 * lengths and vtable entries against the buffer bounds before reading, and
 * reads through memcpy so unaligned input is never dereferenced. Errors name
 * the field path and the byte offset in the file. */
#ifndef PFW_FLATBUF_H
#define PFW_FLATBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pfw.h"

typedef struct fb_buf {
  const uint8_t* data;  /* start of the FlatBuffer (after the size prefix) */
  size_t size;
  size_t file_base;     /* offset of `data` in the file, for messages */
} fb_buf;

typedef struct fb_table {
  const fb_buf* buf;
  size_t pos;           /* table start */
  size_t vtab;          /* vtable start */
  uint16_t vt_size;     /* bytes of vtable */
  uint16_t tab_size;    /* bytes of table inline data */
} fb_table;

typedef struct fb_vec {
  const fb_buf* buf;
  size_t pos;           /* first element */
  uint32_t len;         /* element count */
} fb_vec;

/* Reads the root table (the buffer begins with its uoffset). `what` names it. */
pfw_status fb_root(const fb_buf* b, fb_table* out);

/* Scalar fields: `id` is the field's index in the schema; absent -> dflt.
 * A present field whose bytes fall outside the table is an error. */
pfw_status fb_u8(const fb_table* t, int id, uint8_t dflt, uint8_t* out, const char* what);
pfw_status fb_u16(const fb_table* t, int id, uint16_t dflt, uint16_t* out, const char* what);
pfw_status fb_i32(const fb_table* t, int id, int32_t dflt, int32_t* out, const char* what);
pfw_status fb_u32(const fb_table* t, int id, uint32_t dflt, uint32_t* out, const char* what);
pfw_status fb_i64(const fb_table* t, int id, int64_t dflt, int64_t* out, const char* what);
pfw_status fb_f32(const fb_table* t, int id, float dflt, float* out, const char* what);

/* Offset fields. *present=false when absent (out untouched). */
pfw_status fb_table_field(const fb_table* t, int id, fb_table* out, bool* present, const char* what);
/* Vector whose elements are `elem_size` bytes (4 for offsets). Absent -> len 0. */
pfw_status fb_vector(const fb_table* t, int id, size_t elem_size, fb_vec* out, const char* what);
/* String: *s points into the buffer (not NUL-terminated), *len its length.
 * Absent -> s=NULL. */
pfw_status fb_string(const fb_table* t, int id, const char** s, uint32_t* len, const char* what);

/* Elements of vectors. */
pfw_status fb_vec_table(const fb_vec* v, uint32_t i, fb_table* out, const char* what);
pfw_status fb_vec_string(const fb_vec* v, uint32_t i, const char** s, uint32_t* len,
                         const char* what);
int32_t fb_vec_i32(const fb_vec* v, uint32_t i);
int64_t fb_vec_i64(const fb_vec* v, uint32_t i);
uint64_t fb_vec_u64(const fb_vec* v, uint32_t i);
float fb_vec_f32(const fb_vec* v, uint32_t i);
uint8_t fb_vec_u8(const fb_vec* v, uint32_t i);

#endif
