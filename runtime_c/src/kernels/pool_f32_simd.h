/* MaxPool / AveragePool row kernel and the global pools, written once in the
 * primitives of simd_<isa>.h; kernels/<isa>/pool_f32_<isa>.c include it after
 * defining PFW_POOL_ROW and PFW_GLOBAL_POOL, the functions to define. */
#include "window_simd.h"

/* AveragePool's divisor for the taps [ty0, ty1) x [tx0, tx1) of (oy, ox). */
static int64_t pool_count(const pfw_window_plane* p, int64_t oy, int64_t ox, int64_t rows, int64_t cols) {
  if (!p->include_pad) return rows * cols;
  return pfw_spatial_padded_taps(p->g, 1, oy) * pfw_spatial_padded_taps(p->g, 2, ox);
}

/* Column ox (a border column), exactly as pool.c's reference loop. */
PFW_INLINE float pool_column(const pfw_window_plane* p, int64_t oy, int64_t iy0, int64_t ty0, int64_t ty1, int64_t ox) {
  const pfw_spatial* g = p->g;
  int64_t tx0, tx1, ix0 = ox * g->s[2] - g->pb[2];
  pfw_taps_in(ix0, g->k[2], g->d[2], g->in[2], &tx0, &tx1);
  float mx = -FLT_MAX;
  double sum = 0;
  /* No column tap inside: no rows to walk (there may be 2^31 of them). */
  for (int64_t ty = ty0; ty < ty1 && tx0 < tx1; ty++) {
    const float* xr = p->x + (iy0 + ty * g->d[1]) * g->in[2];
    for (int64_t tx = tx0; tx < tx1; tx++) {
      float v = xr[ix0 + tx * g->d[2]];
      if (v > mx) mx = v;
      sum += v;
    }
  }
  if (p->is_max) return mx;
  int64_t cnt = pool_count(p, oy, ox, ty1 - ty0, tx1 - tx0);
  return cnt > 0 ? (float)(sum / (double)cnt) : NAN;
}

/* n interior columns from ox over kernel rows [ty0, ty1), k taps a row at
 * stride s and dilation d; `cnt` is the interior's divisor. */
PFW_INLINE void pool_vector(const pfw_window_plane* p, int64_t iy0, int64_t ty0, int64_t ty1, float* y,
                            bool is_max, int64_t cnt, int64_t k, int64_t s, int64_t d, int64_t ox, int n) {
  const pfw_spatial* g = p->g;
  int64_t ix0 = ox * s - g->pb[2];
  pfw_v mx = pv_set1(-FLT_MAX);
  pfw_vsum sum = pv_sum_zero();
  for (int64_t ty = ty0; ty < ty1; ty++) {
    const float* xr = p->x + (iy0 + ty * g->d[1]) * g->in[2] + ix0;
    for (int64_t tx = 0; tx < k; tx++) {
      pfw_v v = pv_load_s(xr + tx * d, s, n);
      if (is_max) mx = pv_max(v, mx);
      else sum = pv_sum_add(sum, v);
    }
  }
  if (!is_max) mx = cnt > 0 ? pv_sum_div(sum, (double)cnt) : pv_set1(NAN);
  pv_store_n(y + ox, mx, n);
}

PFW_INLINE void pool_interior(const pfw_window_plane* p, int64_t iy0, int64_t ty0, int64_t ty1, float* y,
                              bool is_max, int64_t cnt, int64_t k, int64_t s, int64_t d) {
  int64_t ox = p->xa;
  for (; ox + PFW_VL <= p->xb; ox += PFW_VL) pool_vector(p, iy0, ty0, ty1, y, is_max, cnt, k, s, d, ox, PFW_VL);
  if (ox < p->xb) pool_vector(p, iy0, ty0, ty1, y, is_max, cnt, k, s, d, ox, (int)(p->xb - ox));
}

/* Border columns [o0, o1); one whose window reads what the one before it
 * read (a kernel spanning the input) takes its value. */
PFW_INLINE void pool_border(const pfw_window_plane* p, int64_t oy, int64_t iy0, int64_t ty0, int64_t ty1, int64_t o0,
                            int64_t o1, float* y) {
  bool pad = !p->is_max && p->include_pad;
  for (int64_t ox = o0; ox < o1; ox++)
    y[ox] = ox > 0 && pfw_spatial_same_window(p->g, 2, ox, pad) ? y[ox - 1] : pool_column(p, oy, iy0, ty0, ty1, ox);
}

void PFW_POOL_ROW(const pfw_window_plane* p, int64_t oy, float* y) {
  const pfw_spatial* g = p->g;
  int64_t ty0, ty1, iy0 = oy * g->s[1] - g->pb[1];
  pfw_spatial_taps(g, 1, oy, &ty0, &ty1);
  pool_border(p, oy, iy0, ty0, ty1, 0, p->xa, y);
  int64_t k = g->k[2], s = g->s[2], d = g->d[2];
  /* Interior columns have all k taps, so padded_taps along x is k. */
  int64_t cnt = p->include_pad ? pfw_spatial_padded_taps(g, 1, oy) * k : (ty1 - ty0) * k;
  bool mx = p->is_max;
  /* The common windows (2x2/2, 3x3/1, 3x3/2) get constant sizes. */
#define POOL_CASE(K, S)                                                               \
  if (k == K && s == S && d == 1) {                                                   \
    if (mx) pool_interior(p, iy0, ty0, ty1, y, true, cnt, K, S, 1);                   \
    else pool_interior(p, iy0, ty0, ty1, y, false, cnt, K, S, 1);                     \
  }
  POOL_CASE(2, 2)
  else POOL_CASE(3, 1) else POOL_CASE(3, 2)
  else if (s <= PFW_VEC_STRIDE_MAX) {
    if (mx) pool_interior(p, iy0, ty0, ty1, y, true, cnt, k, s, d);
    else pool_interior(p, iy0, ty0, ty1, y, false, cnt, k, s, d);
  } else for (int64_t ox = p->xa; ox < p->xb; ox++) y[ox] = pool_column(p, oy, iy0, ty0, ty1, ox);
#undef POOL_CASE
  pool_border(p, oy, iy0, ty0, ty1, p->xb, g->out[2], y);
}

/* Two vectors of partial results a step hide the add latency. */
float PFW_GLOBAL_POOL(const float* x, int64_t n, bool is_max) {
  int64_t i = 0;
  if (is_max) {
    pfw_v m0 = pv_set1(-FLT_MAX), m1 = m0;
    for (; i + 2 * PFW_VL <= n; i += 2 * PFW_VL) {
      m0 = pv_max(pv_load_n(x + i, PFW_VL), m0);
      m1 = pv_max(pv_load_n(x + i + PFW_VL, PFW_VL), m1);
    }
    float lanes[PFW_VL], mx = -FLT_MAX;
    pv_store_n(lanes, pv_max(m1, m0), PFW_VL);
    for (int l = 0; l < PFW_VL; l++)
      if (lanes[l] > mx) mx = lanes[l];
    for (; i < n; i++)
      if (x[i] > mx) mx = x[i];
    return mx;
  }
  pfw_vsum s0 = pv_sum_zero(), s1 = s0;
  for (; i + 2 * PFW_VL <= n; i += 2 * PFW_VL) {
    s0 = pv_sum_add(s0, pv_load_n(x + i, PFW_VL));
    s1 = pv_sum_add(s1, pv_load_n(x + i + PFW_VL, PFW_VL));
  }
  double lanes0[PFW_VL], lanes1[PFW_VL], sum = 0;
  pv_sum_store(lanes0, s0);
  pv_sum_store(lanes1, s1);
  for (int l = 0; l < PFW_VL; l++) sum += lanes0[l] + lanes1[l];
  for (; i < n; i++) sum += x[i];
  return n > 0 ? (float)(sum / (double)n) : NAN;
}
