/* Conv's activations as the integer GEMM's B operand (implicit im2col,
 * for ops/qlinear.c): int16 pairs of x - x_zero for the int16 path, uint8
 * quads in the byte path's tap-major K order. Column j is an output
 * position of one (group, image) batch, row k a (channel, tap) of the
 * group; each panel of nr columns is written whole, padding included. */
#include <string.h>

#include "qlinear.h"

/* A run of a panel's columns that lie in one output row: columns
 * [c0, c0 + len) read input columns ix0 + c * stride of row (iz0, iy0)
 * before the taps' offsets. */
typedef struct qrun {
  int32_t c0, len;
  int64_t iz0, iy0, ix0;
} qrun;

/* The runs of columns [p0, p0 + live) of a chunk starting at column j0;
 * returns their count (at most live). */
static int32_t panel_runs(const pfw_spatial* g, int64_t j0, int64_t p0, int32_t live, qrun* runs) {
  int32_t n = 0;
  for (int32_t c = 0; c < live;) {
    int64_t o = j0 + p0 + c, ox = o % g->out[2], row = o / g->out[2];
    int32_t len = (int32_t)(g->out[2] - ox < live - c ? g->out[2] - ox : live - c);
    runs[n++] = (qrun){c, len, row / g->out[1] * g->s[0] - g->pb[0], row % g->out[1] * g->s[1] - g->pb[1],
                       ox * g->s[2] - g->pb[2]};
    c += len;
  }
  return n;
}

/* The columns c of run u with 0 <= ix + c * sx < W at tap offset tx, as
 * [lo, hi); false when the tap's row (iz, iy) is outside the input. */
static bool run_span(const pfw_spatial* g, const qrun* u, int64_t tz, int64_t ty, int64_t tx, int64_t* lo,
                     int64_t* hi, int64_t* at) {
  int64_t H = g->in[1], W = g->in[2], sx = g->s[2];
  int64_t iz = u->iz0 + tz, iy = u->iy0 + ty, ix = u->ix0 + tx;
  if (iz < 0 || iz >= g->in[0] || iy < 0 || iy >= H) return false;
  *lo = ix >= 0 ? 0 : (-ix + sx - 1) / sx;
  /* a run that starts right of the input reads nothing (W - 1 - ix < 0 would truncate to 0, not below) */
  *hi = ix + (int64_t)(u->len - 1) * sx < W ? u->len : ix >= W ? 0 : (W - 1 - ix) / sx + 1;
  *at = (iz * H + iy) * W + ix;
  return true;
}

/* Conv's implicit im2col: column j (output position) of batch b, row k =
 * (channel, taps) of the group, as x - x_zero, 0 in the padding. Written
 * panel by panel in order; within a panel, each run of columns in one
 * output row takes a tap's values with one bounds computation. */
void pfw_qconv_im2col(const void* ctx, int64_t b, int64_t j0, int64_t nc, int32_t nr, int16_t* dst) {
  const qinput* in = ctx;
  const qgeom* q = in->q;
  const pfw_spatial* g = &q->g;
  int64_t img = b % q->images, grp = b / q->images;
  int64_t in_plane = g->in[0] * g->in[1] * g->in[2], kp = (q->K + 1) / 2;
  int64_t kw = g->k[2], khw = g->k[1] * kw, ksz = g->k[0] * khw, sx = g->s[2];
  const uint8_t* xu = (const uint8_t*)in->x + (img * q->C + grp * q->Cg) * in_plane;
  int32_t bias = qinput_zero_u8(in);
  uint8_t flip = qinput_flip(in);
  qrun runs[64]; /* nr <= 64 */
  for (int64_t p0 = 0; p0 < nc; p0 += nr, dst += kp * nr * 2) {
    int32_t n_runs = panel_runs(g, j0, p0, (int32_t)(nc - p0 < nr ? nc - p0 : nr), runs);
    memset(dst, 0, (size_t)(kp * nr * 2) * sizeof(int16_t));
    for (int64_t k = 0; k < q->K; k++) {
      int64_t ci = k / ksz, t = k % ksz, lo, hi, at;
      int64_t tz = t / khw * g->d[0], ty = t / kw % g->k[1] * g->d[1], tx = t % kw * g->d[2];
      int16_t* d = dst + (k / 2) * nr * 2 + (k & 1);
      for (int32_t r = 0; r < n_runs; r++) {
        if (!run_span(g, &runs[r], tz, ty, tx, &lo, &hi, &at)) continue;
        const uint8_t* src = xu + ci * in_plane + at;
        int16_t* dc = d + runs[r].c0 * 2;
        if (sx == 1)
          for (int64_t c = lo; c < hi; c++) dc[c * 2] = (int16_t)((src[c] ^ flip) - bias);
        else
          for (int64_t c = lo; c < hi; c++) dc[c * 2] = (int16_t)((src[c * sx] ^ flip) - bias);
      }
    }
  }
}

/* Conv's K order on the byte path: tap-major, the group's channels padded
 * to whole quads, so that each quad holds four channels at one tap: four
 * input rows interleaved, with the tap's bounds computed once for all. */
int64_t pfw_qconv_k8(const qgeom* q) { return q->g.k[0] * q->g.k[1] * q->g.k[2] * ((q->Cg + 3) / 4 * 4); }

/* The byte path's im2col: B's uint8 quads in conv_k8 order, x as uint8
 * (int8 flipped), the zero point in the padding. */
void pfw_qconv_im2col_u8(const void* ctx, int64_t b, int64_t j0, int64_t nc, int32_t nr, uint8_t* dst) {
  const qinput* in = ctx;
  const qgeom* q = in->q;
  const pfw_spatial* g = &q->g;
  int64_t img = b % q->images, grp = b / q->images;
  int64_t in_plane = g->in[0] * g->in[1] * g->in[2], sx = g->s[2], cq = (q->Cg + 3) / 4;
  int64_t kw = g->k[2], khw = g->k[1] * kw, taps = g->k[0] * khw, kq = taps * cq;
  const uint8_t* xu = (const uint8_t*)in->x + (img * q->C + grp * q->Cg) * in_plane;
  uint8_t flip = qinput_flip(in);
  qrun runs[64]; /* nr <= 64 */
  for (int64_t p0 = 0; p0 < nc; p0 += nr, dst += kq * nr * 4) {
    int32_t n_runs = panel_runs(g, j0, p0, (int32_t)(nc - p0 < nr ? nc - p0 : nr), runs);
    memset(dst, qinput_zero_u8(in), (size_t)(kq * nr * 4));
    for (int64_t t = 0; t < taps; t++) {
      int64_t tz = t / khw * g->d[0], ty = t / kw % g->k[1] * g->d[1], tx = t % kw * g->d[2], lo, hi, at;
      for (int32_t r = 0; r < n_runs; r++) {
        if (!run_span(g, &runs[r], tz, ty, tx, &lo, &hi, &at)) continue;
        for (int64_t c4 = 0; c4 < cq; c4++) {
          uint8_t* d = dst + ((t * cq + c4) * nr + runs[r].c0) * 4;
          const uint8_t* src[4];
          /* a padded channel reads channel c4 * 4 again: its weights are 0 */
          for (int64_t i = 0; i < 4; i++) src[i] = xu + (c4 * 4 + (c4 * 4 + i < q->Cg ? i : 0)) * in_plane + at;
          in->interleave(d, src, lo, hi, sx, flip);
        }
      }
    }
  }
}
