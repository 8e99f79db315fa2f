/* Shared between model.c (decoding) and verify.c (semantic checks). */
#ifndef PFW_MODEL_INTERNAL_H
#define PFW_MODEL_INTERNAL_H

#include "flatbuf.h"
#include "internal.h"

/* Checks every entry of Model.buffers lies in the data section. */
pfw_status pfw_check_buffers(const pfw_model* m, const fb_vec* buffers, uint64_t data_start);
/* Points a tensor at buffer `index` (0 = no data). */
pfw_status pfw_bind_buffer(const pfw_model* m, pfw_tensor_desc* t, uint32_t index,
                           const fb_vec* buffers, uint64_t data_start, const char* what);
/* Graph-level checks: dtypes, shapes, data sizes, indices, single producers,
 * execution order, attribute references. */
pfw_status pfw_verify_model(const pfw_model* m);

#endif
