/* Shared by the regex parser (regex_parse.c) and the compiler and matcher
 * (regex.c): the AST, the program and the parser's state. */
#ifndef PFW_REGEX_INTERNAL_H
#define PFW_REGEX_INTERNAL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "regex.h"

#define MAX_DEPTH 250     /* group nesting; bounds parser and compiler recursion */
#define MAX_REPEAT 1000   /* RE2's limit for one count and for nested counts multiplied */
#define MAX_INSTS 50000   /* program size cap */
#define MAX_NODES 200000  /* empty groups make nodes but no instructions */
#define MAX_VISITS 2000000 /* compiler node visits: repeated empty groups emit nothing */
#define MAX_RUNE 0x10FFFFu
#define INF UINT32_MAX    /* unbounded repetition */
#define NOPOS SIZE_MAX    /* error without a byte offset */

enum { N_EMPTY, N_LIT, N_CLASS, N_ASSERT, N_CAT, N_ALT, N_REP };
enum { A_BOT, A_EOT, A_BOL, A_EOL, A_WORD, A_NOTWORD };
enum { I_CHAR, I_CLASS, I_ASSERT, I_SPLIT, I_JMP, I_MATCH };
enum { F_FOLD = 1, F_DOTNL = 2, F_MULTI = 4 };

typedef struct { uint32_t lo, hi; } range;
/* CHAR x; CLASS ranges [x, x+y); ASSERT kind x; SPLIT to x and y; JMP x.
 * CHAR, CLASS and ASSERT continue at pc + 1. */
typedef struct { uint32_t op, x, y; } inst;
/* LIT a; CLASS pool ranges [a, a+b); ASSERT a; REP {a,b} of kid; CAT/ALT
 * kids linked by next. weight: largest product of nested counts (RE2's). */
typedef struct { int type; uint32_t a, b; int32_t kid, next; uint32_t weight; } node;
typedef struct { range* r; size_t n, cap; } rset;
typedef struct { size_t at, len; const unsigned char* s; } gname;

struct pfw_regex {
  inst* prog;
  range* ranges;
  uint32_t *dense[2], *sparse[2], *stack; /* two thread lists and the closure stack */
};

typedef struct {
  const unsigned char* s; /* pattern s[0, n), cursor i */
  size_t n, i;
  int flags, depth;
  rset pool, cls, aux; /* all classes' ranges; the class being built; a scratch set */
  node* nodes;
  gname* names;
  inst* prog;
  size_t nnodes, capnodes, nnames, capnames, ninst, capinst, maxinst, visits;
  pfw_status st; /* first error */
} parser;

/* Strict UTF-8 decoding: an invalid or truncated sequence is one byte of U+FFFD. */
uint32_t pfw_re_decode(const unsigned char* p, size_t n, size_t* w);
bool pfw_re_bad_utf8(uint32_t c, size_t w);
/* Records the first error (status, byte offset or NOPOS, what) and returns -1. */
int32_t pfw_re_fail(parser* ps, pfw_status st, size_t at, const char* what);
/* p grown to hold `need` elements of `size` (NULL with the error recorded). */
void* pfw_re_grow(parser* ps, void* p, size_t* cap, size_t need, size_t size);
/* ASCII word characters [0-9A-Za-z_] (\w, \b). */
bool pfw_re_is_word(int32_t c);
/* Parses an alternation from the cursor: the AST root, or -1 on error. */
int32_t pfw_re_parse_alt(parser* ps);

#endif
