/* The integer GEMM's byte path (qgemm.h pfw_qgemm_a8): A as int8 quads
 * with no pair past the vpmaddubsw bound, B as uint8 quads, and the exact
 * corrections that make the product the int16 path's.
 *
 * With a = A - za (int8) and u = B's uint8 value, b = u - zb, the kernel
 * computes sum a' u over the cut-back a'; then sum a b = sum a' u -
 * zb * sum a' + sum (a - a') b, the last term over the cut pairs only.
 * All in wrapping uint32, like the reference. */
#include <string.h>

#include "qgemm.h"

#define PAIR_BOUND 128 /* 255 * 128 = 32640 <= INT16_MAX */

static int32_t iabs(int32_t v) { return v < 0 ? -v : v; }

/* Where each part of the block lies: the header, then quads, rowsum and
 * res_at at fixed offsets, the residuals last (so only the total depends
 * on how many pairs are cut). */
typedef struct a8_layout {
  int64_t panels, kq;
  size_t quads, rowsum, res_at, fixed;
} a8_layout;

static a8_layout layout_of(const pfw_qgemm_kernel* k, int64_t M, int64_t K) {
  a8_layout l;
  l.panels = (M + k->mr - 1) / k->mr;
  l.kq = (K + 3) / 4;
  l.quads = pfw_align_size((size_t)(l.panels * l.kq * k->mr * 4));
  l.rowsum = pfw_align_size((size_t)(l.panels * k->mr) * sizeof(int32_t));
  l.res_at = pfw_align_size((size_t)(l.panels + 1) * sizeof(int64_t));
  l.fixed = pfw_align_size(sizeof(pfw_qgemm_a8)) + l.quads + l.rowsum + l.res_at;
  return l;
}

/* Cuts the pair (v[0], v[1]) back to the bound: the larger one keeps its
 * sign and loses the excess; returns which one was cut (-1: none). */
static int cut_pair(const pfw_qgemm_kernel* k, int32_t v[2]) {
  if (k->u8_exact || iabs(v[0]) + iabs(v[1]) <= PAIR_BOUND) return -1;
  int big = iabs(v[1]) >= iabs(v[0]), small = !big;
  int32_t keep = PAIR_BOUND - iabs(v[small]); /* in [1, 127]: |v[small]| >= 1 here */
  v[big] = v[big] < 0 ? -keep : keep;
  return big;
}

/* The pairs packing would cut, or -1 when a value of A does not fit int8. */
static int64_t count_cuts(const pfw_qgemm_kernel* k, const pfw_qmat* a, int64_t M, int64_t K) {
  int64_t cuts = 0;
  for (int64_t r = 0; r < M; r++) {
    int32_t z = a->zero ? a->zero[r * a->zstep] : 0;
    for (int64_t c = 0; c < K; c += 2) {
      int32_t v[2] = {pfw_qmat_at(a, r, c, z), c + 1 < K ? pfw_qmat_at(a, r, c + 1, z) : 0};
      if (v[0] < -128 || v[0] > 127 || v[1] < -128 || v[1] > 127) return -1;
      cuts += cut_pair(k, v) >= 0;
    }
  }
  return cuts;
}

size_t pfw_qgemm_a8_size(const pfw_qgemm_kernel* k, const pfw_qmat* a, int64_t M, int64_t K) {
  if (!k || !k->micro_u8 || M <= 0 || K <= 0) return 0;
  int64_t cuts = count_cuts(k, a, M, K);
  /* Each residual costs a pass over the tile's columns: past about 1 in
   * 100 pairs the int16 path is faster (uniform full-range weights cut
   * half their pairs; trained ones, with a few large values, seldom). */
  if (cuts < 0 || cuts * 100 > M * ((K + 1) / 2)) return 0;
  return layout_of(k, M, K).fixed + (size_t)cuts * sizeof(pfw_qres);
}

const pfw_qgemm_a8* pfw_qgemm_pack_a8(const pfw_qgemm_kernel* k, const pfw_qmat* a, int64_t M, int64_t K,
                                      void* mem) {
  a8_layout l = layout_of(k, M, K);
  memset(mem, 0, l.fixed); /* the residuals after it are all written below */
  uint8_t* p = (uint8_t*)mem + pfw_align_size(sizeof(pfw_qgemm_a8));
  int8_t* quads = (int8_t*)p;
  int32_t* rowsum = (int32_t*)(p + l.quads);
  int64_t* res_at = (int64_t*)(p + l.quads + l.rowsum);
  pfw_qres* res = (pfw_qres*)(p + l.quads + l.rowsum + l.res_at);
  int64_t nres = 0;
  for (int64_t r = 0; r < M; r++) {
    int64_t panel = r / k->mr, row = r % k->mr;
    if (row == 0) res_at[panel] = nres;
    int32_t z = a->zero ? a->zero[r * a->zstep] : 0;
    uint32_t sum = 0;
    for (int64_t c = 0; c < K; c += 2) {
      int32_t v[2] = {pfw_qmat_at(a, r, c, z), c + 1 < K ? pfw_qmat_at(a, r, c + 1, z) : 0}, was[2] = {v[0], v[1]};
      int cut = cut_pair(k, v);
      if (cut >= 0) res[nres++] = (pfw_qres){(int32_t)r, (int32_t)(c + cut), was[cut] - v[cut]};
      for (int t = 0; t < 2; t++) {
        int64_t kk = c + t;
        quads[((panel * l.kq + kk / 4) * k->mr + row) * 4 + kk % 4] = (int8_t)v[t];
        sum += (uint32_t)v[t];
      }
    }
    rowsum[r] = (int32_t)sum;
  }
  res_at[l.panels] = nres;
  pfw_qgemm_a8* out = mem;
  *out = (pfw_qgemm_a8){M, K, l.kq, k->u8_offset, quads, rowsum, res_at, res};
  return out;
}

/* Columns of B are lines of K contiguous-or-strided bytes: each quad
 * holds 4 of them for nr columns (int8 read as uint8 ^ 0x80 = x + 128). */
void pfw_qgemm_pack_b_u8(const pfw_qmat* b, int64_t j0, int64_t nc, int64_t K, int32_t nr, uint8_t* dst) {
  int64_t kq = (K + 3) / 4;
  uint8_t flip = b->is_signed ? 0x80 : 0;
  for (int64_t p0 = 0; p0 < nc; p0 += nr, dst += kq * nr * 4)
    for (int32_t j = 0; j < nr; j++) {
      uint8_t* d = dst + j * 4;
      if (p0 + j >= nc) {
        for (int64_t q = 0; q < kq; q++) memset(d + q * nr * 4, 0, 4);
        continue;
      }
      const uint8_t* src = (const uint8_t*)b->data + (j0 + p0 + j) * b->cs;
      int64_t k = 0;
      if (b->rs == 1) /* a contiguous line (MatMul's x rows): four bytes at a time */
        for (uint32_t v, f = flip * 0x01010101u; k + 4 <= K; k += 4) {
          memcpy(&v, src + k, 4);
          v ^= f;
          memcpy(d + (k / 4) * nr * 4, &v, 4);
        }
      for (; k < K; k++) d[(k / 4) * nr * 4 + k % 4] = src[k * b->rs] ^ flip;
      for (; k < kq * 4; k++) d[(k / 4) * nr * 4 + k % 4] = 0;
    }
}

void pfw_qgemm_fix_tile(const pfw_qgemm_a8* a, int32_t mr, int64_t i0, int32_t m, const uint8_t* bu, int32_t nr,
                        int64_t n, const int32_t* zero, pfw_qgemm_zero_fix fix, int32_t* c, int64_t ldc) {
  bool one_zero = fix == PFW_QGEMM_ZERO_ONE;
  for (int32_t r = 0; r < m && fix != PFW_QGEMM_ZERO_FOLDED; r++) {
    /* the kernel multiplied b - u8_offset: take (zero - u8_offset) times the row sum out */
    uint32_t rs = (uint32_t)a->rowsum[i0 + r], off = (uint32_t)a->u8_offset, zr = ((uint32_t)zero[0] - off) * rs;
    int32_t* cr = c + r * ldc;
    if (one_zero)
      for (int64_t j = 0; j < n; j++) cr[j] = (int32_t)((uint32_t)cr[j] - zr);
    else
      for (int64_t j = 0; j < n; j++) cr[j] = (int32_t)((uint32_t)cr[j] - ((uint32_t)zero[j] - off) * rs);
  }
  int64_t panel = i0 / mr;
  for (int64_t e = a->res_at[panel]; e < a->res_at[panel + 1]; e++) {
    const pfw_qres* q = &a->res[e];
    int32_t* cr = c + (q->row - i0) * ldc;
    uint32_t v = (uint32_t)q->v;
    for (int64_t j0 = 0; j0 < n; j0 += nr) {
      const uint8_t* b = bu + (j0 / nr) * a->kq * nr * 4 + (q->k / 4) * nr * 4 + q->k % 4;
      int64_t w = n - j0 < nr ? n - j0 : nr;
      for (int64_t j = 0; j < w; j++)
        cr[j0 + j] = (int32_t)((uint32_t)cr[j0 + j] + v * (uint32_t)(b[j * 4] - zero[j0 + j]));
    }
  }
}
