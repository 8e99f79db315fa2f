/* Depthwise Conv row kernel, written once in the primitives of simd_<isa>.h;
 * kernels/<isa>/conv_depthwise_f32_<isa>.c include it after defining
 * PFW_CONV_DEPTHWISE_ROW, the name of the function to define. */
#include "window_simd.h"

/* Column ox (a border column): the valid taps only, in (ky, kx) order. */
PFW_INLINE float dw_column(const pfw_window_plane* p, int64_t iy0, int64_t ty0, int64_t ty1, int64_t ox) {
  const pfw_spatial* g = p->g;
  int64_t tx0, tx1, Win = g->in[2], ix0 = ox * g->s[2] - g->pb[2];
  pfw_taps_in(ix0, g->k[2], g->d[2], Win, &tx0, &tx1);
  float acc = 0;
  if (tx0 == tx1) ty1 = ty0; /* no column tap inside: the rows hold nothing either */
  for (int64_t ty = ty0; ty < ty1; ty++) {
    const float* xr = p->x + (iy0 + ty * g->d[1]) * Win;
    const float* wr = p->w + ty * g->k[2];
    for (int64_t tx = tx0; tx < tx1; tx++) acc = fmaf(xr[ix0 + tx * g->d[2]], wr[tx], acc);
  }
  float v = acc + p->bias;
  if (p->clamp) { /* as pfw_activation_row: NaN passes, -0 stays */
    v = v < p->lo ? p->lo : v;
    v = v > p->hi ? p->hi : v;
  }
  return v;
}

/* n interior columns from ox: kernel rows [ty0, ty1), k taps a row at
 * stride s and dilation d along the row. `wv` holds the weights broadcast
 * (K x K square kernels with all rows valid), or is NULL: broadcast here. */
PFW_INLINE pfw_v dw_vector(const float* x, int64_t ix, int64_t Win, int64_t dh, const float* w, const pfw_v* wv,
                           int64_t ty0, int64_t ty1, int64_t k, int64_t s, int64_t d, int n) {
  pfw_v acc = pv_zero();
  for (int64_t ty = ty0; ty < ty1; ty++)
    for (int64_t tx = 0; tx < k; tx++)
      acc = pv_fma(pv_load_s(x + (ix + ty * dh * Win + tx * d), s, n), wv ? wv[ty * k + tx] : pv_set1(w[ty * k + tx]),
                   acc);
  return acc;
}

/* The interior of a row; geometry in locals, as stores to y could otherwise
 * alias the plane's fields and force reloads in the inner loop. */
PFW_INLINE void dw_interior(const pfw_window_plane* p, int64_t iy0, int64_t ty0, int64_t ty1, float* y,
                            const pfw_v* wv, int64_t k, int64_t s, int64_t d) {
  const pfw_spatial* g = p->g;
  const float* x = p->x;
  const float* w = p->w;
  int64_t Win = g->in[2], dh = g->d[1], xa = p->xa, xb = p->xb;
  int64_t ix = iy0 * Win - g->pb[2]; /* + ox * s: the first tap of column ox, >= 0 inside */
  pfw_v bias = pv_set1(p->bias);
  /* Without a clamp the bounds are -inf, +inf: max/min then return the
   * value itself (their second operand), NaN and -0 included. */
  pfw_v lo = pv_set1(p->clamp ? p->lo : -INFINITY), hi = pv_set1(p->clamp ? p->hi : INFINITY);
  int64_t ox = xa;
  for (; ox + PFW_VL <= xb; ox += PFW_VL) {
    pfw_v v = pv_add(dw_vector(x, ix + ox * s, Win, dh, w, wv, ty0, ty1, k, s, d, PFW_VL), bias);
    pv_store_n(y + ox, pv_min(hi, pv_max(lo, v)), PFW_VL);
  }
  if (ox < xb) {
    int n = (int)(xb - ox);
    pfw_v v = pv_add(dw_vector(x, ix + ox * s, Win, dh, w, wv, ty0, ty1, k, s, d, n), bias);
    pv_store_n(y + ox, pv_min(hi, pv_max(lo, v)), n);
  }
}

/* A K x K kernel with every row valid: the K*K weights stay in registers. */
PFW_INLINE void dw_square(const pfw_window_plane* p, int64_t iy0, float* y, int64_t K, int64_t S) {
  pfw_v wv[25];
  for (int64_t i = 0; i < K * K; i++) wv[i] = pv_set1(p->w[i]);
  dw_interior(p, iy0, 0, K, y, wv, K, S, 1);
}

/* Where tap column tx of output column 0 lies in a padded row: at tx for
 * stride 1; for stride 2 the row is stored as its even columns (E of them)
 * then its odd ones (dw_pad), so the taps of 16 columns are one load. */
PFW_INLINE int64_t dw_tap(int64_t tx, int64_t S, int64_t E) { return S == 1 ? tx : (tx & 1 ? E : 0) + tx / 2; }

/* Output rows [0, R) of a block whose taps all lie inside x, n columns: each
 * input row's vector is loaded once and feeds every output row it reaches,
 * R independent accumulators. Each accumulator still takes its taps in
 * (ky, kx) order from 0, as dw_vector does. */
PFW_INLINE void dw_block_columns(const float* x, int64_t Win, int64_t E, const pfw_v* wv, pfw_v bias, pfw_v lo,
                                 pfw_v hi, float* y, int64_t Wo, int64_t K, int64_t S, int R, int n) {
  pfw_v acc[4];
  for (int r = 0; r < R; r++) acc[r] = pv_zero();
  for (int64_t iy = 0; iy < (R - 1) * S + K; iy++)
    for (int64_t tx = 0; tx < K; tx++) {
      pfw_v xv = pv_load_n(x + iy * Win + dw_tap(tx, S, E), n);
      for (int r = 0; r < R; r++) {
        int64_t ty = iy - r * S;
        if (ty >= 0 && ty < K) acc[r] = pv_fma(xv, wv[ty * K + tx], acc[r]);
      }
    }
  for (int r = 0; r < R; r++) pv_store_n(y + r * Wo, pv_min(hi, pv_max(lo, pv_add(acc[r], bias))), n);
}

/* Plane x (geometry g) into buf, rows Wp floats apart, g->pb[1] rows down
 * and g->pb[2] columns in; the other elements are the padding, zeroed once
 * by the caller and never written here. For S == 2 each row goes in as its
 * even padded columns, then its odd ones: source column i lands on padded
 * column left + i, so the source's even columns take one half and its odd
 * ones the other. */
PFW_INLINE void dw_pad(const pfw_spatial* g, int64_t Hp, int64_t Wp, const float* x, float* buf, int64_t S) {
  int64_t W = g->in[2], left = g->pb[2], E = (Wp + 1) / 2;
  int64_t n = W < Wp - left ? W : Wp - left; /* source columns that land in a padded row */
  for (int64_t iy = 0; iy < g->in[1] && iy + g->pb[1] < Hp && n > 0; iy++) {
    const float* src = x + iy * W;
    float* d = buf + (iy + g->pb[1]) * Wp;
    if (S == 1) { /* vector moves: rows of small planes are shorter than a memcpy call pays for */
      for (int64_t i = 0; i < n; i += PFW_VL) {
        int m = n - i < PFW_VL ? (int)(n - i) : PFW_VL;
        pv_store_n(d + left + i, pv_load_n(src + i, m), m);
      }
      continue;
    }
    float* de = d + (left & 1 ? E : 0) + left / 2;       /* the source's even columns */
    float* dodd = d + (left & 1 ? 0 : E) + (left + 1) / 2; /* and its odd ones */
    for (int64_t i = 0; i < n; i += 2 * PFW_VL) {
      int m = n - i < 2 * PFW_VL ? (int)(n - i) : 2 * PFW_VL;
      pfw_v a = pv_load_n(src + i, m < PFW_VL ? m : PFW_VL);
      pfw_v b = m > PFW_VL ? pv_load_n(src + i + PFW_VL, m - PFW_VL) : pv_zero();
      pv_store_n(de + i / 2, pv_even(a, b), (m + 1) / 2);
      if (m > 1) pv_store_n(dodd + i / 2, pv_odd(a, b), m / 2);
    }
  }
}

/* A whole plane of a K x K, stride S kernel, R rows at a time, from x with
 * rows Win apart and every tap inside; the last block overlaps the one
 * before when R does not divide the rows (its rows get the same values
 * again). */
PFW_INLINE void dw_plane(const pfw_window_plane* p, const float* x, int64_t Win, float* y, int64_t K, int64_t S,
                         int R) {
  int64_t Ho = p->g->out[1], Wo = p->g->out[2], E = (Win + 1) / 2;
  pfw_v wv[25];
  for (int64_t i = 0; i < K * K; i++) wv[i] = pv_set1(p->w[i]);
  pfw_v bias = pv_set1(p->bias);
  pfw_v lo = pv_set1(p->clamp ? p->lo : -INFINITY), hi = pv_set1(p->clamp ? p->hi : INFINITY);
  for (int64_t oy = 0; oy < Ho; oy += R) {
    if (oy + R > Ho) oy = Ho - R;
    const float* xr = x + oy * S * Win;
    float* yr = y + oy * Wo;
    int64_t ox = 0;
    for (; ox + PFW_VL <= Wo; ox += PFW_VL)
      dw_block_columns(xr + ox, Win, E, wv, bias, lo, hi, yr + ox, Wo, K, S, R, PFW_VL);
    if (ox < Wo) dw_block_columns(xr + ox, Win, E, wv, bias, lo, hi, yr + ox, Wo, K, S, R, (int)(Wo - ox));
  }
}

void PFW_CONV_DEPTHWISE_PAD(const pfw_spatial* g, const pfw_spatial* gp, const float* x, float* buf) {
  dw_pad(g, gp->in[1], gp->in[2], x, buf, 1);
}

bool PFW_CONV_DEPTHWISE_PLANE(const pfw_window_plane* p, const pfw_spatial* gp, float* buf, float* y) {
  const pfw_spatial* g = p->g;
  int64_t k = g->k[2], s = g->s[2];
  if (g->k[1] != k || g->s[1] != s || g->d[1] != 1 || g->d[2] != 1 || g->out[1] < 4 || (k != 3 && k != 5) ||
      (s != 1 && s != 2) || (!buf && s != 1))
    return false;
  const float* x = p->x;
  int64_t Win = g->in[2];
  if (buf) {
    dw_pad(g, gp->in[1], gp->in[2], p->x, buf, s);
    x = buf, Win = gp->in[2];
  }
#define DW_PLANE(K, S) \
  if (k == K && s == S) dw_plane(p, x, Win, y, K, S, 4);
  DW_PLANE(3, 1) else DW_PLANE(3, 2) else DW_PLANE(5, 1) else DW_PLANE(5, 2)
#undef DW_PLANE
  return true;
}

void PFW_CONV_DEPTHWISE_ROW(const pfw_window_plane* p, int64_t oy, float* y) {
  const pfw_spatial* g = p->g;
  int64_t ty0, ty1, iy0 = oy * g->s[1] - g->pb[1];
  pfw_spatial_taps(g, 1, oy, &ty0, &ty1);
  for (int64_t ox = 0; ox < p->xa; ox++) y[ox] = dw_column(p, iy0, ty0, ty1, ox);
  int64_t k = g->k[2], s = g->s[2], d = g->d[2];
  /* All kernel rows valid (most rows): constant bounds unroll the tap loops. */
  bool all_rows = ty0 == 0 && ty1 == g->k[1] && g->k[1] == k;
#define DW_SQUARE(K, S)                                  \
  if (k == K && s == S && d == 1) {                      \
    if (all_rows) dw_square(p, iy0, y, K, S);            \
    else dw_interior(p, iy0, ty0, ty1, y, NULL, K, S, 1); \
  }
  DW_SQUARE(3, 1)
  else DW_SQUARE(3, 2) else DW_SQUARE(5, 1) else DW_SQUARE(5, 2)
  else if (s == 1) dw_interior(p, iy0, ty0, ty1, y, NULL, k, 1, d);
  else if (s == 2) dw_interior(p, iy0, ty0, ty1, y, NULL, k, 2, d);
  else if (s <= PFW_VEC_STRIDE_MAX) dw_interior(p, iy0, ty0, ty1, y, NULL, k, s, d);
  else for (int64_t ox = p->xa; ox < p->xb; ox++) y[ox] = dw_column(p, iy0, ty0, ty1, ox);
#undef DW_SQUARE
  for (int64_t ox = p->xb; ox < g->out[2]; ox++) y[ox] = dw_column(p, iy0, ty0, ty1, ox);
}
