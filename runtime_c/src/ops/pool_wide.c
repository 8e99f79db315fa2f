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

/* Taps the window walk reads along slot a, at most: every output's window
 * clipped to the input (O(1): a prepare must not loop over outputs, which
 * may number 2^40 in a file whose plan is refused a moment later). */
static double taps_along(const pfw_spatial* g, int32_t a) {
  return (double)g->out[a] * (double)(g->k[a] < g->in[a] ? g->k[a] : g->in[a]);
}

static double levels(int64_t k) {
  double n = 1;
  for (int64_t span = 1; span < k; span *= 2) n++;
  return n;
}

static int64_t longest(const pfw_spatial* g, const int64_t* dims) {
  int64_t m = dims[0];
  for (int a = 1; a < PFW_SPATIAL_MAX; a++) m = dims[a] > m ? dims[a] : m;
  (void)g;
  return m;
}

/* Doubles of one plane's work: the width pass's result, the height pass's,
 * two lines of inputs (loaded, table) and two of outputs (the pass's, the
 * depth pass's result). */
static int64_t plane_doubles(const pfw_spatial* g) {
  return g->in[0] * g->in[1] * g->out[2] + g->in[0] * g->out[1] * g->out[2] + 2 * longest(g, g->in) +
         2 * longest(g, g->out);
}

size_t pfw_pool_wide_scratch(const pfw_spatial* g, int32_t threads, size_t limit) {
  double need = (double)g->in[0] * (double)g->in[1] * (double)g->out[2] +
                (double)g->in[0] * (double)g->out[1] * (double)g->out[2];
  if (g->out[0] == 0 || g->out[1] == 0 || g->out[2] == 0 || need > (double)(1LL << 50)) return 0; /* nothing to run, or refused */
  double walk = taps_along(g, 0) * taps_along(g, 1) * taps_along(g, 2);
  double in0 = (double)g->in[0], in1 = (double)g->in[1], in2 = (double)g->in[2];
  double o0 = (double)g->out[0], o1 = (double)g->out[1], o2 = (double)g->out[2];
  double passes = in0 * in1 * (in2 + o2) * levels(g->k[2]) + in0 * o2 * (in1 + o1) * levels(g->k[1]) +
                  o1 * o2 * (in0 + o0) * levels(g->k[0]);
  /* Small windows stay with the window walk and its SIMD kernels, faster there. */
  if (walk < 4 * passes || walk < (double)(1 << 20)) return 0;
  size_t slots = (size_t)(threads > 1 ? threads : 1);
  if (limit && ((double)plane_doubles(g) * sizeof(double) + PFW_ALIGN) * (double)slots > (double)limit / 2)
    return 0; /* slow, but within the memory the caller allows */
  return pfw_align_size((size_t)plane_doubles(g) * sizeof(double)) * slots;
}

/* dst[o * ds] = the max or sum over window o along slot a of the line
 * src[i * ss], i < len; w holds len doubles, acc the outputs of a line. */
static void line_pass(const double* src, int64_t ss, int64_t len, const pfw_spatial* g, int32_t a, bool is_max,
                      double* dst, int64_t ds, double* w, double* acc) {
  for (int64_t i = 0; i < len; i++) w[i] = src[i * ss];
  int64_t d = g->d[a], most = 0;
  for (int64_t o = 0; o < g->out[a]; o++) {
    int64_t t0, t1;
    pfw_spatial_taps(g, a, o, &t0, &t1);
    most = t1 - t0 > most ? t1 - t0 : most;
    acc[o] = is_max ? -FLT_MAX : 0;
  }
  for (int64_t span = 1, level = 0; span <= most; span *= 2, level++) {
    for (int64_t o = 0; o < g->out[a]; o++) {
      int64_t t0, t1;
      pfw_spatial_taps(g, a, o, &t0, &t1);
      int64_t n = t1 - t0;
      const double* first = w + o * g->s[a] - g->pb[a] + t0 * d;
      if (is_max && n >= span && n / 2 < span) { /* two spans of `span` cover the n taps */
        double p = first[0], q = first[(n - span) * d];
        acc[o] = q > p ? q : p;
      } else if (!is_max && ((n >> level) & 1)) { /* the span of this binary digit of n */
        acc[o] += first[((n >> level >> 1) << level << 1) * d];
      }
    }
    if (span > most / 2) break;
    /* The taps of a span twice as long, wherever such a span fits in the line. */
    for (int64_t i = 0; i + span * d < len; i++) {
      double v = w[i + span * d];
      w[i] = is_max ? (v > w[i] ? v : w[i]) : w[i] + v;
    }
  }
  for (int64_t o = 0; o < g->out[a]; o++) dst[o * ds] = acc[o];
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

static void plane(const pfw_pool_wide* p, const void* x, void* y, double* scratch) {
  const pfw_spatial* g = &p->g;
  bool is_max = p->kind == PFW_POOL_WIDE_MAX;
  int64_t in0 = g->in[0], in1 = g->in[1], in2 = g->in[2], o0 = g->out[0], o1 = g->out[1], o2 = g->out[2];
  double* r1 = scratch;             /* in0 x in1 x o2: along the width */
  double* r2 = r1 + in0 * in1 * o2; /* in0 x o1 x o2: then along the height */
  double* w = r2 + in0 * o1 * o2;
  double* line = w + longest(g, g->in);
  double* acc = line + longest(g, g->in);
  double* col = acc + longest(g, g->out);
  for (int64_t l = 0; l < in0 * in1; l++) {
    for (int64_t i = 0; i < in2; i++) line[i] = load(p, x, l * in2 + i);
    line_pass(line, 1, in2, g, 2, is_max, r1 + l * o2, 1, w, acc);
  }
  for (int64_t z = 0; z < in0; z++)
    for (int64_t ox = 0; ox < o2; ox++)
      line_pass(r1 + z * in1 * o2 + ox, o2, in1, g, 1, is_max, r2 + z * o1 * o2 + ox, o2, w, acc);
  for (int64_t q = 0; q < o1 * o2; q++) {
    line_pass(r2 + q, o1 * o2, in0, g, 0, is_max, col, 1, w, acc);
    for (int64_t oz = 0; oz < o0; oz++) store(p, y, oz * o1 * o2 + q, col[oz], oz, q / o2, q % o2);
  }
}

typedef struct {
  const pfw_pool_wide* p;
  const uint8_t* x;
  uint8_t* y;
  double* scratch;
  int64_t planes, slots, slot_doubles;
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
      plane(j->p, j->x + (size_t)k * in_plane, j->y + (size_t)k * out_plane, j->scratch + s * j->slot_doubles);
}

void pfw_pool_wide_run(const pfw_pool_wide* p, const void* x, void* y, int64_t planes, void* scratch,
                       pfw_threadpool* pool, int32_t threads) {
  int64_t slots = threads > 1 ? threads : 1;
  wide_job j = {p, x, y, scratch, planes, planes < slots ? planes : slots,
                (int64_t)(pfw_align_size((size_t)plane_doubles(&p->g) * sizeof(double)) / sizeof(double))};
  pfw_parallel_for(pool, j.slots, wide_slots, &j);
}
