/* DFT (opsets 17, 20): the discrete Fourier transform along one axis of a
 * real (last dim 1) or complex (last dim 2: re, im) signal, zero-padded or
 * cut to dft_length n. Forward: X[k] = sum_t x[t] e^(-2 pi i k t / n), all k
 * or the onesided k <= n/2. Inverse: x[t] = 1/n sum_k X[k] e^(2 pi i k t /
 * n), complex out; inverse + onesided is numpy's irfft (Hermitian spectrum,
 * real out). Short transforms sum directly in double (the reference, O(n^2));
 * longer ones take an FFT in double: radix-2 when n is a power of two, else
 * Bluestein's chirp-z (a power-of-two circular convolution), O(n log n) for
 * every n, so a long prime length costs what a long power of two does. */
#include <math.h>
#include <string.h>

#include "ops_common.h"

typedef struct {
  int32_t axis;
  int64_t n; /* dft_length */
  bool inverse, onesided;
} dft_params;

static pfw_status dft_read(const pfw_node* node, dft_params* p) {
  const pfw_tensor* x = node->in[0];
  int64_t v[1];
  int32_t k;
  pfw_status st;
  int64_t axis = node->desc->version < 20 ? pfw_attr_int(node, "axis", 1) : -2;
  if (node->desc->version >= 20) {
    if ((st = pfw_input_ints(node, 2, "axis", v, 1, &k)) != PFW_OK) return st;
    if (k == 1) axis = v[0];
  }
  if ((st = pfw_norm_axis(axis, x->rank, "axis", &p->axis)) != PFW_OK) return st;
  if (p->axis == x->rank - 1)
    return pfw_error(PFW_ERR_INVALID_MODEL, "axis %lld is the last (real/imaginary) dimension", (long long)axis);
  p->inverse = pfw_attr_int(node, "inverse", 0) != 0;
  p->onesided = pfw_attr_int(node, "onesided", 0) != 0;
  int64_t len = x->dims[p->axis];
  p->n = p->inverse && p->onesided ? 2 * (len - 1) : len;
  if ((st = pfw_input_ints(node, 1, "dft_length", v, 1, &k)) != PFW_OK) return st;
  if (k == 1) p->n = v[0];
  if (p->n < 1 || p->n > INT32_MAX)
    return pfw_error(PFW_ERR_INVALID_MODEL, "dft_length is %lld; expected >= 1", (long long)p->n);
  return PFW_OK;
}

/* Lengths up to this sum directly: the FFT's set-up costs more there. */
#define DFT_DIRECT_MAX 64

static int64_t pow2_at_least(int64_t n) {
  int64_t m = 1;
  while (m < n) m *= 2;
  return m;
}

/* The FFT size: n itself, or Bluestein's convolution length; 0 = direct. */
static int64_t fft_size(int64_t n) {
  if (n <= DFT_DIRECT_MAX) return 0;
  return (n & (n - 1)) == 0 ? n : pow2_at_least(2 * n - 1);
}

/* Scratch, complex doubles: m/2 twiddles, then the line (n) for radix-2,
 * or for Bluestein the chirp (n), the work array and the chirp filter's
 * transform (m each). */
static size_t fft_scratch(int64_t n) {
  int64_t m = fft_size(n);
  if (!m) return 0;
  return (size_t)(m == n ? m / 2 + n : m / 2 + n + 2 * m) * 2 * sizeof(double);
}

static pfw_status dft_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, 3);
  if (st == PFW_OK) st = pfw_need_float(node, 0);
  dft_params p;
  if (st == PFW_OK) st = node->in[0]->rank >= 2 ? dft_read(node, &p)
                                                : pfw_error(PFW_ERR_SHAPE, "input 0 needs rank >= 2 (..., 1 or 2)");
  if (st != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  int64_t c = x->dims[x->rank - 1], dims[PFW_MAX_RANK];
  if (c != 1 && c != 2)
    return pfw_error(PFW_ERR_SHAPE, "input 0's last dimension is %lld; expected 1 (real) or 2 (complex)", (long long)c);
  memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
  dims[p.axis] = !p.inverse && p.onesided ? p.n / 2 + 1 : p.n;
  dims[x->rank - 1] = p.inverse && p.onesided ? 1 : 2;
  node->scratch_size = fft_scratch(p.n);
  return pfw_set_output(node->out[0], x->dtype, x->rank, dims);
}

static double get(const pfw_tensor* t, int64_t i) {
  return t->dtype == PFW_FLOAT32 ? ((const float*)t->data)[i] : ((const double*)t->data)[i];
}

/* One line of the transform: input x along p.axis at (u, v), for
 * u < outer (dims before the axis) and v < inner (dims after it). */
typedef struct {
  const pfw_tensor* x;
  dft_params p;
  int64_t len, inner, cx;
} dft_line;

/* Signal value t of line (u, v) in (*a, *b) -- for irfft the mirrored
 * spectrum; false beyond the input (zero padding). */
static bool line_value(const dft_line* l, int64_t u, int64_t v, int64_t t, double* a, double* b) {
  int64_t src = t;
  bool conj = false;
  if (l->p.inverse && l->p.onesided && t > l->p.n / 2) src = l->p.n - t, conj = true;
  if (src >= l->len) return false;
  int64_t at = ((u * l->len + src) * l->inner + v) * l->cx;
  *a = get(l->x, at);
  *b = l->cx == 2 ? get(l->x, at + 1) : 0.0;
  if (conj) *b = -*b;
  return true;
}

static const double TWO_PI = 6.283185307179586476925;

/* tw[j] = e^(-2 pi i j / m), j < m/2, interleaved (re, im). */
static void twiddles(double* tw, int64_t m) {
  for (int64_t j = 0; j < m / 2; j++) {
    double ang = -TWO_PI * (double)j / (double)m;
    tw[2 * j] = cos(ang);
    tw[2 * j + 1] = sin(ang);
  }
}

/* In-place radix-2 FFT of m interleaved complex values: the forward sum
 * (e^-), or with `inverse` the e^+ sum, unscaled. */
static void fft_pow2(double* z, int64_t m, const double* tw, bool inverse) {
  for (int64_t i = 1, j = 0; i < m; i++) { /* bit-reversed order */
    int64_t bit = m >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j)
      for (int c = 0; c < 2; c++) {
        double t = z[2 * i + c];
        z[2 * i + c] = z[2 * j + c];
        z[2 * j + c] = t;
      }
  }
  for (int64_t len = 2; len <= m; len *= 2)
    for (int64_t i = 0, half = len / 2, step = m / len; i < m; i += len)
      for (int64_t j = 0; j < half; j++) {
        double wr = tw[2 * j * step], wi = inverse ? -tw[2 * j * step + 1] : tw[2 * j * step + 1];
        double *a = z + 2 * (i + j), *b = a + 2 * half;
        double br = b[0] * wr - b[1] * wi, bi = b[0] * wi + b[1] * wr;
        b[0] = a[0] - br, b[1] = a[1] - bi;
        a[0] += br, a[1] += bi;
      }
}

/* X[k] = sum_t z[t] e^(sign 2 pi i k t / n), k < k_max, into a by Bluestein:
 * with c[t] = e^(sign pi i t^2 / n), X[k] = c[k] (zc conv conj(c))[k], a
 * circular convolution of length m through the radix-2 FFT. */
static void bluestein(const dft_line* l, int64_t u, int64_t v, int64_t m, const double* tw, const double* chirp,
                      double* a, const double* filt, int64_t k_max) {
  int64_t n = l->p.n;
  memset(a, 0, (size_t)m * 2 * sizeof(double));
  for (int64_t t = 0; t < n; t++) {
    double re, im;
    if (!line_value(l, u, v, t, &re, &im)) continue;
    a[2 * t] = re * chirp[2 * t] - im * chirp[2 * t + 1];
    a[2 * t + 1] = re * chirp[2 * t + 1] + im * chirp[2 * t];
  }
  fft_pow2(a, m, tw, false);
  for (int64_t j = 0; j < m; j++) {
    double re = a[2 * j] * filt[2 * j] - a[2 * j + 1] * filt[2 * j + 1];
    a[2 * j + 1] = a[2 * j] * filt[2 * j + 1] + a[2 * j + 1] * filt[2 * j];
    a[2 * j] = re;
  }
  fft_pow2(a, m, tw, true);
  for (int64_t k = 0; k < k_max; k++) { /* X[k] over a[k], in place */
    double re = a[2 * k] / (double)m, im = a[2 * k + 1] / (double)m;
    a[2 * k] = re * chirp[2 * k] - im * chirp[2 * k + 1];
    a[2 * k + 1] = re * chirp[2 * k + 1] + im * chirp[2 * k];
  }
}

/* The chirp c[t] (t^2 taken mod 2n exactly) and the transform of the
 * filter: conj(c[j]) at j and m - j. */
static void bluestein_setup(int64_t n, int64_t m, double sign, const double* tw, double* chirp, double* filt) {
  for (int64_t t = 0; t < n; t++) {
    double ang = sign * (TWO_PI / 2) * (double)((t * t) % (2 * n)) / (double)n;
    chirp[2 * t] = cos(ang);
    chirp[2 * t + 1] = sin(ang);
  }
  memset(filt, 0, (size_t)m * 2 * sizeof(double));
  for (int64_t j = 0; j < n; j++) {
    filt[2 * j] = chirp[2 * j], filt[2 * j + 1] = -chirp[2 * j + 1];
    if (j) filt[2 * (m - j)] = chirp[2 * j], filt[2 * (m - j) + 1] = -chirp[2 * j + 1];
  }
  fft_pow2(filt, m, tw, false);
}

static void put(pfw_tensor* y, int64_t o, int64_t cy, double re, double im) {
  if (y->dtype == PFW_FLOAT32) {
    ((float*)y->data)[o] = (float)re;
    if (cy == 2) ((float*)y->data)[o + 1] = (float)im;
  } else {
    ((double*)y->data)[o] = re;
    if (cy == 2) ((double*)y->data)[o + 1] = im;
  }
}

/* The reference: each output a direct sum, the angle reduced exactly. */
static double direct(const dft_line* l, int64_t u, int64_t v, int64_t k, double sign, double* im_out) {
  int64_t n = l->p.n, terms = l->p.inverse && l->p.onesided ? n : (l->len < n ? l->len : n);
  double re = 0, im = 0;
  for (int64_t t = 0; t < terms; t++) {
    double a, b;
    if (!line_value(l, u, v, t, &a, &b)) continue;
    double ang = sign * TWO_PI * (double)((k * t) % n) / (double)n;
    re += a * cos(ang) - b * sin(ang);
    im += a * sin(ang) + b * cos(ang);
  }
  *im_out = im;
  return re;
}

static pfw_status dft_run(pfw_node* node) {
  const pfw_tensor* x = node->in[0];
  pfw_tensor* y = node->out[0];
  dft_line l = {.x = x, .inner = 1, .cx = x->dims[x->rank - 1]};
  pfw_status st = dft_read(node, &l.p);
  if (st != PFW_OK) return st;
  int64_t n = l.p.n, outer = 1, out_len = y->dims[l.p.axis], cy = y->dims[y->rank - 1];
  l.len = x->dims[l.p.axis];
  for (int32_t k = 0; k < l.p.axis; k++) outer *= x->dims[k];
  for (int32_t k = l.p.axis + 1; k < x->rank - 1; k++) l.inner *= x->dims[k];
  double sign = l.p.inverse ? 1.0 : -1.0, scale = l.p.inverse ? 1.0 / (double)n : 1.0;
  int64_t m = fft_size(n);
  /* Scratch (fft_scratch): twiddles, then the radix-2 line or Bluestein's
   * chirp, work array and filter. */
  double *tw = NULL, *line = NULL, *work = NULL, *filt = NULL;
  if (m) {
    tw = node->scratch, line = tw + m;
    twiddles(tw, m);
    if (m != n) {
      work = line + 2 * n, filt = work + 2 * m;
      bluestein_setup(n, m, sign, tw, line, filt);
    }
  }
  for (int64_t u = 0; u < outer; u++)
    for (int64_t v = 0; v < l.inner; v++) {
      if (m == n) { /* radix-2: the line, transformed in place */
        for (int64_t t = 0; t < n; t++)
          if (!line_value(&l, u, v, t, &line[2 * t], &line[2 * t + 1])) line[2 * t] = line[2 * t + 1] = 0;
        fft_pow2(line, n, tw, l.p.inverse);
      } else if (m) {
        bluestein(&l, u, v, m, tw, line, work, filt, out_len);
      }
      const double* z = m == n ? line : work;
      for (int64_t k = 0; k < out_len; k++) {
        double re, im;
        if (m) re = z[2 * k], im = z[2 * k + 1];
        else re = direct(&l, u, v, k, sign, &im);
        put(y, ((u * out_len + k) * l.inner + v) * cy, cy, re * scale, im * scale);
      }
    }
  return PFW_OK;
}

const pfw_op pfw_op_DFT = {PFW_OP_DFT, dft_prepare, dft_run, 0};
