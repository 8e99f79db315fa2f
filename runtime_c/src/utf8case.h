/* Unicode simple case mapping of UTF-8 text, the same on every platform (a
 * constant table, no locale): backs StringNormalizer's case_change_action
 * and its case-insensitive stopwords. */
#ifndef PFW_UTF8CASE_H
#define PFW_UTF8CASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes that pfw_utf8_case may write for an n-byte input (the worst-case
 * growth of simple case mapping in UTF-8). */
size_t pfw_utf8_case_bound(size_t n);

/* Writes s[0, n) to out with every code point replaced by its Unicode simple
 * uppercase (upper) or lowercase mapping (UnicodeData.txt fields 12/13: one
 * code point to one code point; no special casing such as ß→SS, no locale
 * rules). Bytes that are not valid UTF-8 (including overlong forms,
 * surrogates, > U+10FFFF, truncated sequences) are copied unchanged, one byte
 * at a time. Returns the bytes written (≤ pfw_utf8_case_bound(n)). out must
 * not overlap s (the text may grow). */
size_t pfw_utf8_case(const char* s, size_t n, bool upper, char* out);

/* The simple mapping of one code point (the function above uses it). Values
 * that are not Unicode scalar values (surrogates, > U+10FFFF) map to
 * themselves. */
uint32_t pfw_case_map(uint32_t cp, bool upper);

#endif
