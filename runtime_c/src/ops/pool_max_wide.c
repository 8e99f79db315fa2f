/* MaxPool over wide windows, one spatial axis at a time.
 *
 * Walking every window costs outputs x taps: a 500 x 500 window sliding
 * over a 1000 x 1000 plane is 6e10 compares. The max of a box is the max
 * over one axis of the maxima over the others, so the pool runs as up to
 * three 1-D passes (width, height, depth); each pass answers a window of n
 * taps (stride d apart) from a doubling table: after level j, w[i] holds
 * the max of the 2^j taps from i on, and a window is the max of two
 * overlapping such spans. A line of `len` inputs costs len x log2(k), not
 * outputs x k. Max does not depend on the order it is taken in, and every
 * value is first mapped as the window loop maps it (NaN and -inf count as
 * -FLT_MAX, what a window with no input yields), so the results are the
 * window loop's, bit for bit. pool.c takes this path only where it is much
 * cheaper than the window walk (pfw_maxpool_wide_scratch > 0). */
#include <float.h>

#include "ops_common.h"

/* Sum over outputs o along slot a of the taps inside the input. */
static double taps_along(const pfw_spatial* g, int32_t a) {
  double sum = 0;
  for (int64_t o = 0; o < g->out[a]; o++) {
    int64_t t0, t1;
    pfw_spatial_taps(g, a, o, &t0, &t1);
    sum += (double)(t1 - t0);
  }
  return sum;
}

static double log2_ceil(int64_t k) {
  double levels = 1;
  for (int64_t span = 1; span < k; span *= 2) levels++;
  return levels;
}

/* Floats of one plane's work: the width pass's result, the height pass's,
 * and one line. */
static int64_t plane_floats(const pfw_spatial* g) {
  int64_t line = g->in[0] > g->in[1] ? g->in[0] : g->in[1];
  if (g->in[2] > line) line = g->in[2];
  return g->in[0] * g->in[1] * g->out[2] + g->in[0] * g->out[1] * g->out[2] + line;
}

size_t pfw_maxpool_wide_scratch(const pfw_spatial* g, int32_t threads, size_t limit) {
  double walk = taps_along(g, 0) * taps_along(g, 1) * taps_along(g, 2);
  double in0 = (double)g->in[0], in1 = (double)g->in[1], in2 = (double)g->in[2];
  double o0 = (double)g->out[0], o1 = (double)g->out[1], o2 = (double)g->out[2];
  double passes = in0 * in1 * (in2 * log2_ceil(g->k[2]) + o2) + in0 * o2 * (in1 * log2_ceil(g->k[1]) + o1) +
                  o1 * o2 * (in0 * log2_ceil(g->k[0]) + o0);
  /* Small windows stay with the SIMD window kernels, which are faster there. */
  if (walk < 4 * passes || walk < (double)(1 << 20)) return 0;
  double bytes = ((double)plane_floats(g) * sizeof(float) + PFW_ALIGN) * (threads > 1 ? threads : 1);
  if (limit && bytes > (double)limit / 2) return 0; /* slow, but within the memory the caller allows */
  return pfw_align_size((size_t)plane_floats(g) * sizeof(float)) * (size_t)(threads > 1 ? threads : 1);
}

/* dst[o * ds] = max over the window of output o along slot a of the line
 * src[i * ss], i < len (the input's extent along a); w holds len floats. */
static void line_max(const float* src, int64_t ss, int64_t len, const pfw_spatial* g, int32_t a, float* dst,
                     int64_t ds, float* w) {
  for (int64_t i = 0; i < len; i++) {
    float v = src[i * ss];
    w[i] = v > -FLT_MAX ? v : -FLT_MAX;
  }
  int64_t d = g->d[a], most = 0;
  for (int64_t o = 0; o < g->out[a]; o++) {
    int64_t t0, t1;
    pfw_spatial_taps(g, a, o, &t0, &t1);
    if (t1 - t0 > most) most = t1 - t0;
    if (t1 == t0) dst[o * ds] = -FLT_MAX;
  }
  for (int64_t span = 1; span <= most; span *= 2) {
    for (int64_t o = 0; o < g->out[a]; o++) {
      int64_t t0, t1;
      pfw_spatial_taps(g, a, o, &t0, &t1);
      int64_t n = t1 - t0;
      if (n < span || n / 2 >= span) continue; /* answered at another level */
      const float* first = w + o * g->s[a] - g->pb[a] + t0 * d;
      float p = first[0], q = first[(n - span) * d];
      dst[o * ds] = q > p ? q : p;
    }
    if (span > most / 2) break;
    /* (span - 1 + span) taps stay inside the line where a window of 2 * span does. */
    for (int64_t i = 0; i + span * d < len; i++) w[i] = w[i + span * d] > w[i] ? w[i + span * d] : w[i];
  }
}

static void plane_max(const pfw_spatial* g, const float* x, float* y, float* scratch) {
  int64_t in0 = g->in[0], in1 = g->in[1], in2 = g->in[2], o1 = g->out[1], o2 = g->out[2];
  float* r1 = scratch;           /* in0 x in1 x o2: max along the width */
  float* r2 = r1 + in0 * in1 * o2; /* in0 x o1 x o2: then along the height */
  float* w = r2 + in0 * o1 * o2;
  for (int64_t l = 0; l < in0 * in1; l++) line_max(x + l * in2, 1, in2, g, 2, r1 + l * o2, 1, w);
  for (int64_t z = 0; z < in0; z++)
    for (int64_t ox = 0; ox < o2; ox++)
      line_max(r1 + z * in1 * o2 + ox, o2, in1, g, 1, r2 + z * o1 * o2 + ox, o2, w);
  for (int64_t p = 0; p < o1 * o2; p++) line_max(r2 + p, o1 * o2, in0, g, 0, y + p, o1 * o2, w);
}

typedef struct {
  const pfw_spatial* g;
  const float* x;
  float* y;
  float* scratch;
  int64_t planes, slots, slot_floats;
} wide_job;

static void wide_slots(void* p, int64_t begin, int64_t end) {
  const wide_job* j = p;
  const pfw_spatial* g = j->g;
  int64_t in_plane = g->in[0] * g->in[1] * g->in[2], out_plane = g->out[0] * g->out[1] * g->out[2];
  for (int64_t s = begin; s < end; s++)
    for (int64_t plane = j->planes * s / j->slots; plane < j->planes * (s + 1) / j->slots; plane++)
      plane_max(g, j->x + plane * in_plane, j->y + plane * out_plane, j->scratch + s * j->slot_floats);
}

void pfw_maxpool_wide_run(const pfw_spatial* g, const float* x, float* y, int64_t planes, float* scratch,
                          pfw_threadpool* pool, int32_t threads) {
  int64_t slots = threads > 1 ? threads : 1;
  wide_job j = {g, x, y, scratch, planes, planes < slots ? planes : slots,
                (int64_t)(pfw_align_size((size_t)plane_floats(g) * sizeof(float)) / sizeof(float))};
  pfw_parallel_for(pool, j.slots, wide_slots, &j);
}
