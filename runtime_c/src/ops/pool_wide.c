/* Pools over wide windows, one spatial axis at a time.
 *
 * Walking every window costs outputs x taps: a 500 x 500 window sliding
 * over a 1000 x 1000 plane is 6e10 taps. A box's max (or sum) is the max
 * (sum) over one axis of the maxima (sums) over the others, so where the
 * walk would cost much more, a pool runs as up to three 1-D passes (width,
 * height, depth) over lines held in double. Each pass builds a doubling
 * table in place: after level j, w[i] covers the 2^j taps (stride d apart)
 * from i on. A max is the max of two overlapping such spans; a sum adds the
 * disjoint spans of n's binary digits. A line of `len` costs len x log2(k),
 * not outputs x k.
 *
 * Max does not depend on the order it is taken in, and values are mapped as
 * the window walk maps them (NaN and -inf count as -FLT_MAX, what a window
 * with no input yields), so MaxPool gives the walk's results bit for bit,
 * float32 and int8/uint8 alike. AveragePool and LpPool sum in double in
 * another order than the walk: equal to it to double rounding. */
#include <float.h>
#include <math.h>

#include "ops_common.h"

/* Taps the window walk reads along slot a, at most: the windows that reach
 * the input (those wholly in the padding read none) clipped to it (O(1): a
 * prepare must not loop over outputs, which may number 2^40 in a file whose
 * plan is refused a moment later). */
static double taps_along(const pfw_spatial* g, int32_t a) {
  double reach = (double)(g->k[a] - 1) * (double)g->d[a] + (double)g->in[a];
  double windows = ceil(reach / (double)g->s[a]) + 1;
  if (windows > (double)g->out[a]) windows = (double)g->out[a];
  return windows * (double)(g->k[a] < g->in[a] ? g->k[a] : g->in[a]);
}

static double levels(int64_t k) {
  double n = 1;
  for (int64_t span = 1; span < k; span *= 2) n++;
  return n;
}

static double most3(double a, double b, double c) {
  double m = a > b ? a : b;
  return m > c ? m : c;
}

/* A plane runs in bands of `cols` output columns (the last axis), so that
 * its scratch stays within the memory the caller allows. Doubles a band
 * needs: per column, the width pass's result (in0 x in1) and the height
 * pass's (in0 x out1); two lines of inputs (loaded, table) as long as the
 * longest line a pass reads (along the width: the band's inputs only), two
 * of outputs (the pass's, the depth pass's result), and three arrays on the
 * taps of each output along each axis. In double: a file may declare dims
 * whose products overflow int64, and is refused here before anything runs. */
static double band_lines(const pfw_spatial* g, double cols) {
  double span = (cols - 1) * (double)g->s[2] + (double)(g->k[2] - 1) * (double)g->d[2] + 1;
  return most3((double)g->in[0], (double)g->in[1], span < (double)g->in[2] ? span : (double)g->in[2]);
}

static double band_doubles(const pfw_spatial* g, double cols) {
  double in0 = (double)g->in[0], in1 = (double)g->in[1], o0 = (double)g->out[0], o1 = (double)g->out[1];
  return cols * in0 * (in1 + o1) + 2 * band_lines(g, cols) + 2 * most3(o0, o1, cols) + 3 * (o0 + o1 + cols);
}

/* The widest band that `slot_doubles` holds (0: not even one column). */
static int64_t band_columns(const pfw_spatial* g, double slot_doubles) {
  if (band_doubles(g, 1) > slot_doubles) return 0;
  int64_t lo = 1, hi = g->out[2]; /* band_doubles grows with cols: the last that fits */
  while (lo < hi) {
    int64_t mid = lo + (hi - lo + 1) / 2;
    if (band_doubles(g, (double)mid) <= slot_doubles) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

size_t pfw_pool_wide_scratch(const pfw_spatial* g, int32_t threads, size_t limit) {
  if (g->out[0] == 0 || g->out[1] == 0 || g->out[2] == 0) return 0; /* nothing to run */
  double need = band_doubles(g, (double)g->out[2]);
  if (need > (double)(1LL << 50)) return 0; /* refused: the walk's own checks answer for it */
  size_t slots = (size_t)(threads > 1 ? threads : 1);
  /* Bands are cut to a quarter of the caller's limit a thread; without one,
   * to 8 MiB, narrower bands staying in cache as the height pass strides
   * through them, or to one column where that needs more. */
  double slot = limit ? (double)limit / 4 / (double)slots / sizeof(double) : (double)(8 << 20) / sizeof(double);
  if (!limit && slot < band_doubles(g, 1)) slot = band_doubles(g, 1);
  int64_t cols = band_columns(g, slot < need ? slot : need);
  if (cols == 0) return 0; /* slow, but within the memory the caller allows */
  double walk = taps_along(g, 0) * taps_along(g, 1) * taps_along(g, 2);
  double in0 = (double)g->in[0], in1 = (double)g->in[1], in2 = (double)g->in[2];
  double o0 = (double)g->out[0], o1 = (double)g->out[1], o2 = (double)g->out[2];
  double bands = ceil(o2 / (double)cols), reach = (double)(g->k[2] - 1) * (double)g->d[2] + 1;
  double width = in2 + bands * (reach < in2 ? reach : in2); /* a band's inputs overlap the next's */
  double passes = in0 * in1 * (width + o2) * levels(g->k[2]) + in0 * o2 * (in1 + o1) * levels(g->k[1]) +
                  o1 * o2 * (in0 + o0) * levels(g->k[0]);
  /* Small windows stay with the window walk and its SIMD kernels, faster there. */
  if (walk < 4 * passes || walk < (double)(1 << 20)) return 0;
  return pfw_align_size((size_t)band_doubles(g, (double)cols) * sizeof(double)) * slots;
}

/* The taps of outputs [ob, oe) along slot a: where each window's first tap
 * lies in the input, how many there are, and the most of any; for the max,
 * the outputs by level (floor(log2 n)), those of level j at
 * by_level[at[j] .. at[j + 1]), so that each level visits only its own. */
typedef struct {
  int64_t *first, *n, *by_level;
  int64_t count, most, d, at[65];
} taps;

static int level_of(int64_t n) {
  int j = 0;
  while (n >> (j + 1)) j++;
  return j;
}

static void taps_of(const pfw_spatial* g, int32_t a, int64_t ob, int64_t oe, taps* t) {
  t->count = oe - ob;
  t->most = 0;
  t->d = g->d[a];
  memset(t->at, 0, sizeof t->at);
  for (int64_t o = ob; o < oe; o++) {
    int64_t t0, t1;
    pfw_spatial_taps(g, a, o, &t0, &t1);
    t->first[o - ob] = t1 > t0 ? o * g->s[a] - g->pb[a] + t0 * g->d[a] : 0;
    t->n[o - ob] = t1 - t0;
    t->most = t1 - t0 > t->most ? t1 - t0 : t->most;
    if (t1 > t0) t->at[level_of(t1 - t0) + 1]++;
  }
  for (int j = 1; j < 65; j++) t->at[j] += t->at[j - 1];
  int64_t next[64];
  memcpy(next, t->at, sizeof next);
  for (int64_t o = 0; o < t->count; o++)
    if (t->n[o]) t->by_level[next[level_of(t->n[o])]++] = o;
}

/* dst[o * ds] = the max or sum over window o of t, of the line src[i * ss]
 * = input lo + i, i < len (which holds all their taps); w holds len doubles,
 * acc t->count. */
static void line_pass(const double* src, int64_t ss, int64_t lo, int64_t len, const taps* t, bool is_max, double* dst,
                      int64_t ds, double* w, double* acc) {
  for (int64_t i = 0; i < len; i++) w[i] = src[i * ss];
  for (int64_t o = 0; o < t->count; o++) acc[o] = is_max ? -FLT_MAX : 0;
  int64_t d = t->d;
  for (int64_t span = 1, level = 0; span <= t->most; span *= 2, level++) {
    if (is_max) {
      for (int64_t k = t->at[level]; k < t->at[level + 1]; k++) { /* two spans of `span` cover the n taps */
        int64_t o = t->by_level[k], f = t->first[o] - lo;
        double p = w[f], q = w[f + (t->n[o] - span) * d];
        acc[o] = q > p ? q : p;
      }
    } else {
      for (int64_t o = 0; o < t->count; o++) {
        int64_t n = t->n[o];
        if ((n >> level) & 1) /* the span of this binary digit of n */
          acc[o] += w[t->first[o] - lo + ((n >> level >> 1) << level << 1) * d];
      }
    }
    if (span > t->most / 2) break;
    /* The taps of a span twice as long, wherever such a span fits in the line. */
    if (is_max) {
      for (int64_t i = 0; i + span * d < len; i++) w[i] = w[i + span * d] > w[i] ? w[i + span * d] : w[i];
    } else {
      for (int64_t i = 0; i + span * d < len; i++) w[i] += w[i + span * d];
    }
  }
  for (int64_t o = 0; o < t->count; o++) dst[o * ds] = acc[o];
}

/* What the window walk adds up for one input value. */
static double load(const pfw_pool_wide* p, const void* x, int64_t i) {
  if (p->q8) return (double)(((const uint8_t*)x)[i] ^ p->flip);
  float v = ((const float*)x)[i];
  if (p->kind == PFW_POOL_WIDE_MAX) return v > -FLT_MAX ? v : -FLT_MAX;
  return p->kind == PFW_POOL_WIDE_LP ? pow(fabs((double)v), p->p) : (double)v;
}

/* Output (oz, oy, ox) from its window's max or sum v. */
static void store(const pfw_pool_wide* p, void* y, int64_t i, double v, int64_t oz, int64_t oy, int64_t ox) {
  const pfw_spatial* g = &p->g;
  if (p->q8) {
    ((uint8_t*)y)[i] = (uint8_t)((v < 0 ? 0 : (uint8_t)v) ^ p->flip); /* a window with no input: the lowest */
    return;
  }
  float* out = (float*)y + i;
  if (p->kind == PFW_POOL_WIDE_MAX) {
    *out = (float)v;
  } else if (p->kind == PFW_POOL_WIDE_LP) {
    *out = (float)pow(v, 1.0 / p->p);
  } else {
    int64_t cnt = 1;
    for (int32_t a = 0; a < PFW_SPATIAL_MAX; a++) {
      int64_t o = a == 0 ? oz : a == 1 ? oy : ox, t0, t1;
      pfw_spatial_taps(g, a, o, &t0, &t1);
      cnt *= p->include_pad ? pfw_spatial_padded_taps(g, a, o) : t1 - t0;
    }
    *out = cnt > 0 ? (float)(v / (double)cnt) : NAN; /* mean of nothing */
  }
}

/* Output columns [c0, c0 + cols) of one plane. */
static void band(const pfw_pool_wide* p, const void* x, void* y, int64_t c0, int64_t cols, double* scratch) {
  const pfw_spatial* g = &p->g;
  bool is_max = p->kind == PFW_POOL_WIDE_MAX;
  int64_t in0 = g->in[0], in1 = g->in[1], in2 = g->in[2], o0 = g->out[0], o1 = g->out[1], o2 = g->out[2];
  int64_t lines = (int64_t)band_lines(g, (double)cols), outs = (int64_t)most3((double)o0, (double)o1, (double)cols);
  double* r1 = scratch;               /* in0 x in1 x cols: along the width */
  double* r2 = r1 + in0 * in1 * cols; /* in0 x o1 x cols: then along the height */
  double* w = r2 + in0 * o1 * cols;
  double* line = w + lines;
  double* acc = line + lines;
  double* col = acc + outs;
  int64_t* ints = (int64_t*)(col + outs);
  taps along[PFW_SPATIAL_MAX];
  int64_t ends[PFW_SPATIAL_MAX][2] = {{0, o0}, {0, o1}, {c0, c0 + cols}};
  for (int32_t a = 0; a < PFW_SPATIAL_MAX; a++) {
    int64_t count = ends[a][1] - ends[a][0];
    along[a].first = ints;
    along[a].n = ints + count;
    along[a].by_level = ints + 2 * count;
    ints += 3 * count;
    taps_of(g, a, ends[a][0], ends[a][1], &along[a]);
  }
  /* The inputs the band's windows reach along the width. */
  int64_t lo = c0 * g->s[2] - g->pb[2], hi = (c0 + cols - 1) * g->s[2] - g->pb[2] + (g->k[2] - 1) * g->d[2] + 1;
  lo = lo < 0 ? 0 : lo > in2 ? in2 : lo;
  hi = hi < lo ? lo : hi > in2 ? in2 : hi;
  for (int64_t l = 0; l < in0 * in1; l++) {
    for (int64_t i = lo; i < hi; i++) line[i - lo] = load(p, x, l * in2 + i);
    line_pass(line, 1, lo, hi - lo, &along[2], is_max, r1 + l * cols, 1, w, acc);
  }
  for (int64_t z = 0; z < in0; z++)
    for (int64_t ox = 0; ox < cols; ox++)
      line_pass(r1 + z * in1 * cols + ox, cols, 0, in1, &along[1], is_max, r2 + z * o1 * cols + ox, cols, w, acc);
  for (int64_t q = 0; q < o1 * cols; q++) {
    int64_t oy = q / cols, ox = c0 + q % cols;
    line_pass(r2 + q, o1 * cols, 0, in0, &along[0], is_max, col, 1, w, acc);
    for (int64_t oz = 0; oz < o0; oz++) store(p, y, (oz * o1 + oy) * o2 + ox, col[oz], oz, oy, ox);
  }
}

typedef struct {
  const pfw_pool_wide* p;
  const uint8_t* x;
  uint8_t* y;
  double* scratch;
  int64_t planes, slots, slot_doubles, cols;
} wide_job;

/* One task a thread, each with its scratch slot, planes cut evenly. */
static void wide_slots(void* arg, int64_t begin, int64_t end) {
  const wide_job* j = arg;
  const pfw_spatial* g = &j->p->g;
  size_t esize = j->p->q8 ? 1 : sizeof(float);
  size_t in_plane = (size_t)(g->in[0] * g->in[1] * g->in[2]) * esize;
  size_t out_plane = (size_t)(g->out[0] * g->out[1] * g->out[2]) * esize;
  for (int64_t s = begin; s < end; s++)
    for (int64_t k = j->planes * s / j->slots; k < j->planes * (s + 1) / j->slots; k++)
      for (int64_t c0 = 0; c0 < g->out[2]; c0 += j->cols)
        band(j->p, j->x + (size_t)k * in_plane, j->y + (size_t)k * out_plane, c0,
             g->out[2] - c0 < j->cols ? g->out[2] - c0 : j->cols, j->scratch + s * j->slot_doubles);
}

void pfw_pool_wide_run(const pfw_pool_wide* p, const void* x, void* y, int64_t planes, void* scratch,
                       size_t scratch_size, pfw_threadpool* pool, int32_t threads) {
  int64_t slots = threads > 1 ? threads : 1;
  /* The slots pfw_pool_wide_scratch sized, and the band they hold. */
  int64_t slot_doubles = (int64_t)(scratch_size / (size_t)slots / PFW_ALIGN * PFW_ALIGN / sizeof(double));
  wide_job j = {p, x, y, scratch, planes, planes < slots ? planes : slots, slot_doubles,
                band_columns(&p->g, (double)slot_doubles)};
  pfw_parallel_for(pool, j.slots, wide_slots, &j);
}
