/* The string heap: bytes of the strings that ops make during an invoke
 * (StringConcat, StringSplit...). STRING tensors hold (pointer, size) pairs
 * into it, so bytes never move once handed out: the heap is a list of
 * chunks, bump-allocated, all kept for reuse when the root interpreter's
 * next invoke resets it (a steady state allocates nothing). */
#include <stdlib.h>

#include "interpreter_internal.h"

typedef struct str_chunk {
  struct str_chunk* next;
  size_t cap, used;
  char bytes[];
} str_chunk;

struct pfw_str_heap {
  str_chunk* head;      /* every chunk, oldest first */
  str_chunk* cur;       /* the chunk allocations come from */
  size_t total;         /* bytes of all chunks, under the memory limit */
};

#define STR_CHUNK_MIN 65536

pfw_str_heap* pfw_str_heap_create(void) { return calloc(1, sizeof(pfw_str_heap)); }

void pfw_str_heap_reset(pfw_str_heap* h) {
  if (!h) return;
  for (str_chunk* c = h->head; c; c = c->next) c->used = 0;
  h->cur = h->head;
}

void pfw_str_heap_free(pfw_str_heap* h) {
  if (!h) return;
  for (str_chunk* c = h->head; c;) {
    str_chunk* next = c->next;
    free(c);
    c = next;
  }
  free(h);
}

char* pfw_str_alloc(pfw_node* node, size_t n) {
  pfw_str_heap* h = node->owner ? node->owner->strings : NULL;
  if (!h) {
    pfw_error(PFW_ERR_INTERNAL, "string values need an interpreter");
    return NULL;
  }
  if (n == 0) n = 1;
  /* Later chunks kept from earlier invokes are reused before a new one. */
  for (str_chunk* c = h->cur; c; c = c->next) {
    if (c->cap - c->used >= n) {
      h->cur = c;
      c->used += n;
      return c->bytes + c->used - n;
    }
  }
  size_t cap = n > STR_CHUNK_MIN ? n : STR_CHUNK_MIN;
  size_t limit = node->mem_limit ? node->mem_limit : SIZE_MAX / 2;
  if (cap > limit || h->total > limit - cap) {
    pfw_error(PFW_ERR_UNSUPPORTED,
              "strings made in this run need more than the memory limit of %zu bytes (physical memory unless "
              "set with pfw_options_set_arena_limit)", limit);
    return NULL;
  }
  str_chunk* c = malloc(sizeof(str_chunk) + cap);
  if (!c) {
    pfw_error(PFW_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes of strings", cap);
    return NULL;
  }
  c->cap = cap;
  c->used = n;
  /* Appended at the end, so reset walks every chunk; cur moves to it. */
  c->next = NULL;
  str_chunk** tail = &h->head;
  while (*tail) tail = &(*tail)->next;
  *tail = c;
  h->cur = c;
  h->total += cap;
  return c->bytes;
}
