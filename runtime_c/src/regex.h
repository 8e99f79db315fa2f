/* RE2-syntax regular expressions for RegexFullMatch (ai.onnx opset 20):
 * whole-string match only, linear time, no backtracking (regex.c). */
#ifndef PFW_REGEX_H
#define PFW_REGEX_H

#include <stdbool.h>
#include <stddef.h>

#include "internal.h" /* pfw_status, pfw_error(status, fmt, ...) sets the thread's error message and returns status */

typedef struct pfw_regex pfw_regex;

/* Compiles `pattern` (len bytes, UTF-8, may contain NUL). Refuses a program that would need more than
 * `mem_limit` bytes (0 = no limit beyond the built-in caps). On error returns PFW_ERR_INVALID_MODEL (bad
 * syntax) or PFW_ERR_UNSUPPORTED (valid RE2 that this engine does not implement), with a message from
 * pfw_error naming the pattern (truncated to ~40 bytes) and the byte offset, e.g.
 * "regex 'ab(c': missing ) at byte 4". *out is NULL on error. */
pfw_status pfw_regex_compile(const char* pattern, size_t len, size_t mem_limit, pfw_regex** out);

/* Whether the whole of s[0, len) matches. Never allocates (all scratch is made by compile), runs in
 * O(len * program size) time, never recurses on input. */
bool pfw_regex_full_match(pfw_regex* re, const char* s, size_t len);

void pfw_regex_free(pfw_regex* re); /* NULL is fine */

#endif
