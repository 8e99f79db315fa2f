/* The Winograd F(4x4, 3x3) tile transforms (winograd.h), written once in the
 * vector primitives of simd_<isa>.h. The includer defines PFW_WINO_KERNEL
 * (the symbol).
 *
 * Input: a vertical pass over whole rows (contiguous loads, the padding as
 * zeros) into a 6-row buffer, then a horizontal pass across tiles that reads
 * the buffer at stride 4. Output: vectors across output channels, which are
 * contiguous in the GEMM result, then each channel's 4x4 tile is written
 * into its plane. */

/* s = B^T d for one column (or row) of 6 values. */
static inline __attribute__((always_inline)) void bt6(const pfw_v* d, pfw_v* s) {
  pfw_v t1 = pv_fma(pv_set1(-4.0f), d[2], d[4]); /* d4 - 4 d2 */
  pfw_v t2 = pv_fma(pv_set1(-4.0f), d[1], d[3]); /* d3 - 4 d1 */
  pfw_v t3 = pv_sub(d[4], d[2]);
  pfw_v u = pv_sub(d[3], d[1]);
  pfw_v t4 = pv_add(u, u); /* 2 (d3 - d1), exact */
  s[0] = pv_fma(pv_set1(-5.0f), d[2], pv_fma(pv_set1(4.0f), d[0], d[4]));
  s[1] = pv_add(t1, t2);
  s[2] = pv_sub(t1, t2);
  s[3] = pv_add(t3, t4);
  s[4] = pv_sub(t3, t4);
  s[5] = pv_fma(pv_set1(-5.0f), d[3], pv_fma(pv_set1(4.0f), d[1], d[5]));
}

/* o = A^T m for one column (or row) of 6 values. */
static inline __attribute__((always_inline)) void at6(const pfw_v* m, pfw_v* o) {
  pfw_v a1 = pv_add(m[1], m[2]), a2 = pv_sub(m[1], m[2]);
  pfw_v b1 = pv_add(m[3], m[4]), b2 = pv_sub(m[3], m[4]);
  o[0] = pv_add(pv_add(m[0], a1), b1);
  o[1] = pv_fma(pv_set1(2.0f), b2, a2);
  o[2] = pv_fma(pv_set1(4.0f), b1, a1);
  o[3] = pv_add(pv_fma(pv_set1(8.0f), b2, a2), m[5]);
}

static void wino_input(const float* x, int64_t H, int64_t W, int64_t y0, int64_t x0, int64_t tiles,
                       const pfw_wino_dst* to, float* buf) {
  /* Buffer rows hold the window's columns, then zeros up to what the last
   * vector of tiles reads. */
  int64_t cols = 4 * tiles + 2, rs = pfw_wino_buf_row(PFW_VL, tiles);
  const float* row[PFW_WINO_IN];
  for (int r = 0; r < PFW_WINO_IN; r++) row[r] = y0 + r >= 0 && y0 + r < H ? x + (y0 + r) * W + x0 : NULL;
  /* Columns [lo, hi) of the window row lie inside the plane. */
  int64_t lo = x0 < 0 ? -x0 : 0, hi = W - x0 < cols ? W - x0 : cols;
  if (lo > cols) lo = cols;
  if (hi < lo) hi = lo;
  for (int i = 0; i < PFW_WINO_IN; i++) {
    for (int64_t c = 0; c < lo; c++) buf[i * rs + c] = 0.0f;
    for (int64_t c = hi; c < rs; c++) buf[i * rs + c] = 0.0f;
  }
  for (int64_t c = lo; c < hi; c += PFW_VL) {
    int n = hi - c < PFW_VL ? (int)(hi - c) : PFW_VL;
    pfw_v d[PFW_WINO_IN], s[PFW_WINO_IN];
    for (int r = 0; r < PFW_WINO_IN; r++) d[r] = row[r] ? pv_load_n(row[r] + c, n) : pv_zero();
    bt6(d, s);
    for (int i = 0; i < PFW_WINO_IN; i++) pv_store_n(buf + i * rs + c, s[i], n);
  }
  for (int64_t t = 0; t < tiles; t += PFW_VL) {
    int n = tiles - t < PFW_VL ? (int)(tiles - t) : PFW_VL;
    /* The vector's lanes go to runs of consecutive slots, one run per
     * packed panel it touches: lanes [lane[r], lane[r] + len[r]) at off[r]. */
    int runs = 0, lane[PFW_VL], len[PFW_VL];
    int64_t off[PFW_VL];
    for (int l = 0; l < n; runs++) {
      int64_t p = to->t0 + t + l, q = p % to->mr;
      lane[runs] = l;
      len[runs] = to->mr - q < n - l ? (int)(to->mr - q) : n - l;
      off[runs] = p / to->mr * to->panel + q;
      l += len[runs];
    }
    for (int i = 0; i < PFW_WINO_IN; i++) {
      pfw_v e[PFW_WINO_IN], v[PFW_WINO_IN], next[4];
      pv_deinterleave4(buf + i * rs + 4 * t, e);
      pv_deinterleave4(buf + i * rs + 4 * t + 4, next); /* columns 4 and 5: 0 and 1 of the next tile */
      e[4] = next[0];
      e[5] = next[1];
      bt6(e, v);
      for (int j = 0; j < PFW_WINO_IN; j++) {
        float* d = to->dst + (i * PFW_WINO_IN + j) * to->xi_stride;
        for (int r = 0; r < runs; r++)
          pv_store_n(d + off[r], lane[r] ? pv_lanes_down(v[j], lane[r]) : v[j], len[r]);
      }
    }
  }
}

static void wino_output(const float* src, int64_t xi_stride, int64_t M, int64_t tiles, const pfw_sgemm_tail* tail,
                        float* y, int64_t plane, int64_t Wo, int64_t oy0, int64_t rows, int64_t ox0, float* buf) {
  for (int64_t t = 0; t < tiles; t++) {
    int64_t ox = ox0 + 4 * t, cols = Wo - ox < 4 ? Wo - ox : 4;
    const float* s = src + t * M;
    float* yt = y + oy0 * Wo + ox;
    for (int64_t m0 = 0; m0 < M; m0 += PFW_VL) {
      int n = M - m0 < PFW_VL ? (int)(M - m0) : PFW_VL;
      pfw_v tr[4][PFW_WINO_IN]; /* A^T m, column by column */
      for (int j = 0; j < PFW_WINO_IN; j++) {
        pfw_v m[PFW_WINO_IN], o[4];
        for (int i = 0; i < PFW_WINO_IN; i++) m[i] = pv_load_n(s + (i * PFW_WINO_IN + j) * xi_stride + m0, n);
        at6(m, o);
        for (int a = 0; a < 4; a++) tr[a][j] = o[a];
      }
      pfw_v bias = tail->bias ? pv_load_n(tail->bias + m0, n) : pv_zero();
      for (int a = 0; a < 4; a++) {
        pfw_v o[4];
        at6(tr[a], o);
        for (int b = 0; b < 4; b++) {
          pfw_v v = pv_add(o[b], bias);
          if (tail->clamp) v = pv_min(pv_set1(tail->hi), pv_max(pv_set1(tail->lo), v));
          pv_store_n(buf + (a * 4 + b) * PFW_VL, v, n);
        }
      }
      if (rows == 4 && cols == 4) { /* a whole tile: fixed trip counts, unrolled */
        for (int l = 0; l < n; l++)
#pragma GCC unroll 16
          for (int ab = 0; ab < 16; ab++) yt[(m0 + l) * plane + ab / 4 * Wo + ab % 4] = buf[ab * PFW_VL + l];
      } else {
        for (int l = 0; l < n; l++)
          for (int64_t a = 0; a < rows; a++)
            for (int64_t b = 0; b < cols; b++) yt[(m0 + l) * plane + a * Wo + b] = buf[(a * 4 + b) * PFW_VL + l];
      }
    }
  }
}

const pfw_wino_kernel PFW_WINO_KERNEL = {wino_input, wino_output, PFW_VL};
