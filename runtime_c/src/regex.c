/* RE2-syntax regular expressions for RegexFullMatch. The pattern is parsed
 * to a small AST, compiled to a Thompson NFA program, and run as a set
 * simulation (Pike VM without captures: only the boolean is needed). No
 * backtracking: matching is O(len * program size) and never allocates.
 * Parser and compiler recursion is bounded by MAX_DEPTH group nesting. */
#include "regex_internal.h"

/* ---- compiler ----------------------------------------------------------- */

static uint32_t emit(parser* ps, uint32_t op, uint32_t x, uint32_t y) {
  if (ps->ninst >= ps->maxinst) {
    pfw_re_fail(ps, PFW_ERR_UNSUPPORTED, NOPOS, "pattern too large (program over the size or memory limit)");
    return 0;
  }
  inst* q = pfw_re_grow(ps, ps->prog, &ps->capinst, ps->ninst + 1, sizeof *q);
  if (!q) return 0;
  ps->prog = q;
  q[ps->ninst] = (inst){op, x, y};
  return (uint32_t)ps->ninst++;
}

/* Each fragment falls through to the instruction after it. Forward jumps
 * to the end are chained through their x (JMP) or y (SPLIT) field. */
static bool comp(parser* ps, int32_t id) {
  node nd = ps->nodes[id];
  if (++ps->visits > MAX_VISITS) {
    pfw_re_fail(ps, PFW_ERR_UNSUPPORTED, NOPOS, "pattern too large");
    return false;
  }
  uint32_t chain = INF, pc;
  switch (nd.type) {
    case N_EMPTY: return true;
    case N_LIT: emit(ps, I_CHAR, nd.a, 0); break;
    case N_CLASS: emit(ps, I_CLASS, nd.a, nd.b); break;
    case N_ASSERT: emit(ps, I_ASSERT, nd.a, 0); break;
    case N_CAT:
      for (int32_t k = nd.kid; k >= 0; k = ps->nodes[k].next)
        if (!comp(ps, k)) return false;
      break;
    case N_ALT:
      for (int32_t k = nd.kid; k >= 0; k = ps->nodes[k].next) {
        if (ps->nodes[k].next < 0) {
          if (!comp(ps, k)) return false;
          break;
        }
        pc = emit(ps, I_SPLIT, (uint32_t)ps->ninst + 1, 0);
        if (ps->st || !comp(ps, k)) return false;
        chain = emit(ps, I_JMP, chain, 0);
        if (ps->st) return false;
        ps->prog[pc].y = chain + 1;
      }
      while (chain != INF) pc = ps->prog[chain].x, ps->prog[chain].x = (uint32_t)ps->ninst, chain = pc;
      break;
    case N_REP:
      for (uint32_t k = 0; k < nd.a; k++) { /* required copies; x{n,} loops on the last */
        uint32_t start = (uint32_t)ps->ninst;
        if (!comp(ps, nd.kid)) return false;
        if (nd.b == INF && k + 1 == nd.a) emit(ps, I_SPLIT, start, (uint32_t)ps->ninst + 1);
      }
      if (nd.b == INF && nd.a == 0) {
        pc = emit(ps, I_SPLIT, (uint32_t)ps->ninst + 1, 0);
        if (ps->st || !comp(ps, nd.kid)) return false;
        emit(ps, I_JMP, pc, 0);
        if (ps->st) return false;
        ps->prog[pc].y = (uint32_t)ps->ninst;
      } else if (nd.b != INF) {
        for (uint32_t k = nd.a; k < nd.b; k++) { /* optional copies, each may skip to the end */
          chain = emit(ps, I_SPLIT, (uint32_t)ps->ninst + 1, chain);
          if (ps->st || !comp(ps, nd.kid)) return false;
        }
        while (chain != INF) pc = ps->prog[chain].y, ps->prog[chain].y = (uint32_t)ps->ninst, chain = pc;
      }
      break;
  }
  return ps->st == PFW_OK;
}

static int name_cmp(const void* a, const void* b) {
  const gname *x = a, *y = b;
  if (x->len != y->len) return x->len < y->len ? -1 : 1;
  int c = memcmp(x->s, y->s, x->len);
  return c ? c : (x->at < y->at ? -1 : x->at > y->at);
}

pfw_status pfw_regex_compile(const char* pattern, size_t len, size_t mem_limit, pfw_regex** out) {
  if (!out) return pfw_error(PFW_ERR_INVALID_ARGUMENT, "regex: NULL output");
  *out = NULL;
  if (!pattern && len) return pfw_error(PFW_ERR_INVALID_ARGUMENT, "regex: NULL pattern");
  parser ps = {.s = (const unsigned char*)(pattern ? pattern : ""), .n = len, .st = PFW_OK};
  const size_t per_inst = sizeof(inst) + 5 * sizeof(uint32_t);
  ps.maxinst = MAX_INSTS;
  if (mem_limit && mem_limit / per_inst < ps.maxinst) ps.maxinst = mem_limit / per_inst;
  for (size_t i = 0, w = 1; i < len; i += w) {
    uint32_t c = pfw_re_decode(ps.s + i, len - i, &w); /* w is set here, before it is read below */
    if (pfw_re_bad_utf8(c, w)) {
      pfw_re_fail(&ps, PFW_ERR_INVALID_MODEL, i, "invalid UTF-8");
      break;
    }
  }
  int32_t root = ps.st ? -1 : pfw_re_parse_alt(&ps);
  if (root >= 0 && ps.i < len) pfw_re_fail(&ps, PFW_ERR_INVALID_MODEL, ps.i, "unexpected )");
  if (!ps.st && ps.nnames > 1) {
    qsort(ps.names, ps.nnames, sizeof *ps.names, name_cmp);
    for (size_t k = 1; k < ps.nnames && !ps.st; k++)
      if (ps.names[k].len == ps.names[k - 1].len && !memcmp(ps.names[k].s, ps.names[k - 1].s, ps.names[k].len))
        pfw_re_fail(&ps, PFW_ERR_INVALID_MODEL, ps.names[k].at, "invalid named capture group (duplicate name)");
  }
  if (!ps.st && comp(&ps, root)) emit(&ps, I_MATCH, 0, 0);
  pfw_regex* re = NULL;
  if (!ps.st) {
    size_t ni = ps.ninst, nr = ps.pool.n;
    size_t total = sizeof *re + ni * per_inst + nr * sizeof(range);
    if (mem_limit && total > mem_limit) {
      pfw_re_fail(&ps, PFW_ERR_UNSUPPORTED, NOPOS, "pattern too large (program over the memory limit)");
    } else if (!(re = calloc(1, total))) {
      pfw_re_fail(&ps, PFW_ERR_OUT_OF_MEMORY, NOPOS, "out of memory");
    } else {
      /* One block: struct, program, ranges, then five uint32 arrays. */
      re->prog = (inst*)(re + 1);
      re->ranges = (range*)(re->prog + ni);
      uint32_t* u = (uint32_t*)(re->ranges + nr);
      re->dense[0] = u, re->sparse[0] = u + ni, re->dense[1] = u + 2 * ni, re->sparse[1] = u + 3 * ni;
      re->stack = u + 4 * ni;
      memcpy(re->prog, ps.prog, ni * sizeof(inst));
      if (nr) memcpy(re->ranges, ps.pool.r, nr * sizeof(range));
    }
  }
  free(ps.nodes), free(ps.pool.r), free(ps.cls.r), free(ps.aux.r), free(ps.names), free(ps.prog);
  if (ps.st) return ps.st;
  *out = re;
  return PFW_OK;
}

void pfw_regex_free(pfw_regex* re) { free(re); }

/* ---- matcher -------------------------------------------------------------- */

typedef struct {
  uint32_t *dense, *sparse;
  uint32_t n;
  bool matched; /* reached MATCH */
} tlist;

/* Code points around the current position; -1 past either end. */
typedef struct { int32_t prev, next; } where;

static bool holds(uint32_t kind, where w) {
  switch (kind) {
    case A_BOT: return w.prev < 0;
    case A_EOT: return w.next < 0;
    case A_BOL: return w.prev < 0 || w.prev == '\n';
    case A_EOL: return w.next < 0 || w.next == '\n';
    case A_WORD: return pfw_re_is_word(w.prev) != pfw_re_is_word(w.next);
    default: return pfw_re_is_word(w.prev) == pfw_re_is_word(w.next);
  }
}

/* Sparse-set insert: false when pc was already there. */
static bool mark(tlist* l, uint32_t pc) {
  uint32_t k = l->sparse[pc];
  if (k < l->n && l->dense[k] == pc) return false;
  l->sparse[pc] = l->n;
  l->dense[l->n++] = pc;
  return true;
}

/* Adds pc and everything reachable from it without consuming input. Every
 * pc is pushed at most once per list, so the stack never exceeds ninst. */
static void add(const pfw_regex* re, tlist* l, uint32_t pc, where w) {
  uint32_t* stack = re->stack;
  size_t sp = 0;
  if (mark(l, pc)) stack[sp++] = pc;
  while (sp) {
    pc = stack[--sp];
    const inst* in = &re->prog[pc];
    switch (in->op) {
      case I_SPLIT:
        if (mark(l, in->y)) stack[sp++] = in->y;
        if (mark(l, in->x)) stack[sp++] = in->x;
        break;
      case I_JMP:
        if (mark(l, in->x)) stack[sp++] = in->x;
        break;
      case I_ASSERT:
        if (holds(in->x, w) && mark(l, pc + 1)) stack[sp++] = pc + 1;
        break;
      case I_MATCH: l->matched = true; break;
    }
  }
}

static bool in_class(const range* r, uint32_t n, uint32_t c) {
  uint32_t lo = 0, hi = n;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (c < r[mid].lo) hi = mid;
    else if (c > r[mid].hi) lo = mid + 1;
    else return true;
  }
  return false;
}

bool pfw_regex_full_match(pfw_regex* re, const char* s, size_t len) {
  const unsigned char* p = (const unsigned char*)s;
  tlist cur = {re->dense[0], re->sparse[0], 0, false}, nxt = {re->dense[1], re->sparse[1], 0, false};
  size_t pos = 0, w = 0, nw = 0;
  int32_t c = len ? (int32_t)pfw_re_decode(p, len, &w) : -1;
  add(re, &cur, 0, (where){-1, c});
  for (;;) {
    if (pos == len) return cur.matched;
    if (cur.n == 0) return false;
    size_t npos = pos + w;
    int32_t nc = npos < len ? (int32_t)pfw_re_decode(p + npos, len - npos, &nw) : -1;
    nxt.n = 0, nxt.matched = false;
    for (uint32_t k = 0; k < cur.n; k++) {
      uint32_t pc = cur.dense[k];
      const inst* in = &re->prog[pc];
      if ((in->op == I_CHAR && in->x == (uint32_t)c) || (in->op == I_CLASS && in_class(re->ranges + in->x, in->y, (uint32_t)c)))
        add(re, &nxt, pc + 1, (where){c, nc});
    }
    tlist t = cur;
    cur = nxt, nxt = t;
    pos = npos, w = nw, c = nc;
  }
}
