/* Resize (opsets 10-19; Upsample imports as Resize-10): nearest, linear and
 * cubic interpolation as ONNX's reference computes it. Each resized axis maps
 * output position y to a source coordinate (coordinate_transformation_mode),
 * then to a window of input taps with weights; prepare builds these tables
 * from scales/sizes/roi (known while planning) and run applies them, one axis
 * at a time in double (interpolation is separable), or as a gather for
 * nearest, which copies elements of any dtype. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops_common.h"

typedef enum { R_NEAREST, R_LINEAR, R_CUBIC } resize_mode;
typedef enum { C_HALF_PIXEL, C_HALF_PIXEL_SYMMETRIC, C_PYTORCH_HALF_PIXEL, C_ALIGN_CORNERS, C_ASYMMETRIC,
               C_TF_CROP_AND_RESIZE } coord_mode;
/* N_SIMPLE is Resize-10's rounding (as ONNX Runtime): floor, ceil when downsampling. */
typedef enum { N_ROUND_PREFER_FLOOR, N_ROUND_PREFER_CEIL, N_FLOOR, N_CEIL, N_SIMPLE } nearest_mode;

/* Taps beyond this per output position mean a scale too small to antialias. */
#define RESIZE_MAX_TAPS 4096

typedef struct {
  resize_mode mode;
  coord_mode coord;
  nearest_mode nearest;
  bool antialias, exclude_outside;
  double cubic_a, extrapolation;
  double scale[PFW_MAX_RANK], roi[2 * PFW_MAX_RANK];
  int64_t out[PFW_MAX_RANK];
} resize_params;

/* Prepared tables: for resized axis a, output position o reads taps[a]
 * inputs idx[a][o*taps+t] with weights w[a][...]; idx -1 marks an output
 * position outside the roi (extrapolation_value). */
typedef struct {
  resize_mode mode;
  double extrapolation;
  int32_t n_axes, axis[PFW_MAX_RANK], taps[PFW_MAX_RANK];
  int64_t* idx[PFW_MAX_RANK];
  double* w[PFW_MAX_RANK];
  int64_t max_numel; /* largest intermediate of the separable passes */
} resize_state;

static pfw_status parse_enum(const pfw_node* node, const char* attr, const char* dflt, const char* const* names,
                             int count, int* out) {
  const char* v = pfw_attr_string(node, attr, dflt);
  for (int i = 0; i < count; i++)
    if (!strcmp(v, names[i])) return *out = i, PFW_OK;
  return pfw_error(PFW_ERR_INVALID_MODEL, "attribute '%s' is '%s', which Resize does not define", attr, v);
}

static pfw_status read_attrs(const pfw_node* node, resize_params* p) {
  static const char* const modes[] = {"nearest", "linear", "cubic"};
  static const char* const coords[] = {"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel",
                                       "align_corners", "asymmetric", "tf_crop_and_resize"};
  static const char* const nearest[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
  int m = R_NEAREST, c = C_ASYMMETRIC, n = N_SIMPLE;
  pfw_status st = parse_enum(node, "mode", "nearest", modes, 3, &m);
  if (st != PFW_OK) return st;
  if (node->desc->version >= 11) {
    if ((st = parse_enum(node, "coordinate_transformation_mode", "half_pixel", coords, 6, &c)) != PFW_OK ||
        (st = parse_enum(node, "nearest_mode", "round_prefer_floor", nearest, 4, &n)) != PFW_OK)
      return st;
  } else if (m == R_CUBIC) {
    return pfw_error(PFW_ERR_INVALID_MODEL, "mode 'cubic' needs Resize-11 or later");
  }
  p->mode = (resize_mode)m;
  p->coord = (coord_mode)c;
  p->nearest = (nearest_mode)n;
  p->antialias = pfw_attr_int(node, "antialias", 0) != 0;
  p->exclude_outside = pfw_attr_int(node, "exclude_outside", 0) != 0;
  p->cubic_a = pfw_attr_float(node, "cubic_coeff_a", -0.75f);
  p->extrapolation = pfw_attr_float(node, "extrapolation_value", 0.0f);
  if (p->antialias && p->mode == R_NEAREST)
    return pfw_error(PFW_ERR_INVALID_MODEL, "antialias=1 needs mode linear or cubic, not nearest");
  return PFW_OK;
}

/* The resized axes (attribute 'axes' from Resize-18, else all), in order. */
static pfw_status read_axes(const pfw_node* node, int32_t rank, int32_t* axes, int32_t* n) {
  int32_t na;
  const int64_t* v = pfw_attr_ints(node, "axes", &na);
  if (!v) {
    for (int32_t a = 0; a < rank; a++) axes[a] = a;
    *n = rank;
    return PFW_OK;
  }
  if (na > rank) return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'axes' has %d values for rank %d", (int)na, (int)rank);
  bool seen[PFW_MAX_RANK] = {false};
  for (int32_t i = 0; i < na; i++) {
    pfw_status st = pfw_norm_axis(v[i], rank, "axes", &axes[i]);
    if (st != PFW_OK) return st;
    if (seen[axes[i]]) return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'axes' repeats axis %lld", (long long)v[i]);
    seen[axes[i]] = true;
  }
  *n = na;
  return PFW_OK;
}

/* Scales, output sizes and roi per axis of X from the inputs and attributes. */
static pfw_status read_sizes(const pfw_node* node, resize_params* p) {
  const pfw_tensor* x = node->in[0];
  int32_t r = x->rank, axes[PFW_MAX_RANK], na = 0, ns = -1, nz = -1, nr = -1;
  double scales[PFW_MAX_RANK], roi[2 * PFW_MAX_RANK];
  int64_t sizes[PFW_MAX_RANK];
  bool v10 = node->desc->version < 11;
  pfw_status st = read_axes(node, r, axes, &na);
  if (st == PFW_OK) st = pfw_input_floats(node, v10 ? 1 : 2, "scales", scales, PFW_MAX_RANK, &ns);
  if (st == PFW_OK && !v10) st = pfw_input_ints(node, 3, "sizes", sizes, PFW_MAX_RANK, &nz);
  if (st == PFW_OK && !v10) st = pfw_input_floats(node, 1, "roi", roi, 2 * PFW_MAX_RANK, &nr);
  if (st != PFW_OK) return st;
  if (ns == 0) ns = -1; /* an empty scales tensor stands for "not given" */
  if (nz == 0) nz = -1;
  if ((ns < 0) == (nz < 0))
    return pfw_error(PFW_ERR_INVALID_MODEL, "exactly one of scales and sizes must be given, got %s",
                     ns < 0 ? "neither" : "both");
  int32_t given = ns >= 0 ? ns : nz;
  if (given != na)
    return pfw_error(PFW_ERR_SHAPE, "%s has %d values; expected %d (one per resized axis)", ns >= 0 ? "scales" : "sizes",
                     (int)given, (int)na);
  for (int32_t a = 0; a < r; a++) {
    p->scale[a] = 1.0;
    p->out[a] = x->dims[a];
    p->roi[a] = 0.0;
    p->roi[r + a] = 1.0;
  }
  if (p->coord == C_TF_CROP_AND_RESIZE) {
    if (nr != 2 * na)
      return pfw_error(PFW_ERR_SHAPE, "roi has %d values; tf_crop_and_resize needs %d (start and end per axis)",
                       (int)(nr < 0 ? 0 : nr), (int)(2 * na));
    for (int32_t i = 0; i < na; i++) {
      p->roi[axes[i]] = roi[i];
      p->roi[r + axes[i]] = roi[na + i];
    }
  }
  if (ns >= 0) {
    for (int32_t i = 0; i < na; i++) {
      int32_t a = axes[i];
      if (!(scales[i] > 0) || !isfinite(scales[i]))
        return pfw_error(PFW_ERR_INVALID_MODEL, "scales[%d] is %g; scales must be positive", (int)i, scales[i]);
      double o = floor(scales[i] * (double)x->dims[a]);
      if (o > (double)INT32_MAX)
        return pfw_error(PFW_ERR_SHAPE, "scales[%d] = %g makes axis %d too large", (int)i, scales[i], (int)a);
      p->scale[a] = scales[i];
      p->out[a] = (int64_t)o;
    }
    return PFW_OK;
  }
  static const char* const policies[] = {"stretch", "not_larger", "not_smaller"};
  int policy = 0;
  if ((st = parse_enum(node, "keep_aspect_ratio_policy", "stretch", policies, 3, &policy)) != PFW_OK) return st;
  double keep = policy == 1 ? INFINITY : 0.0;
  for (int32_t i = 0; i < na; i++) {
    int32_t a = axes[i];
    if (sizes[i] < 0 || sizes[i] > INT32_MAX)
      return pfw_error(PFW_ERR_SHAPE, "sizes[%d] is %lld; expected a size in [0, %d]", (int)i, (long long)sizes[i],
                       INT32_MAX);
    if (x->dims[a] == 0)
      return pfw_error(PFW_ERR_SHAPE, "cannot resize the empty axis %d to a size", (int)a);
    p->out[a] = sizes[i];
    p->scale[a] = (double)sizes[i] / (double)x->dims[a];
    keep = policy == 1 ? fmin(keep, p->scale[a]) : fmax(keep, p->scale[a]);
  }
  if (policy != 0)
    for (int32_t i = 0; i < na; i++) { /* one scale for all axes; sizes round half up */
      p->scale[axes[i]] = keep;
      p->out[axes[i]] = (int64_t)(keep * (double)x->dims[axes[i]] + 0.5);
    }
  for (int32_t a = 0; a < r; a++)
    if (p->out[a] > 0 && !(p->scale[a] > 0))
      return pfw_error(PFW_ERR_SHAPE, "sizes make a zero scale on axis %d, which Resize cannot map back", (int)a);
  return PFW_OK;
}

/* Source coordinate of output position y along one axis; *outside when
 * tf_crop_and_resize maps it off the input. */
static double source_coord(const resize_params* p, int32_t a, int32_t rank, double y, int64_t in, bool* outside) {
  double s = p->scale[a], out = s * (double)in; /* the real-valued output length, as ONNX uses it */
  *outside = false;
  switch (p->coord) {
    case C_ALIGN_CORNERS: return out == 1 ? 0.0 : y * (double)(in - 1) / (out - 1);
    case C_ASYMMETRIC: return y / s;
    case C_PYTORCH_HALF_PIXEL: return out == 1 ? -0.5 : (y + 0.5) / s - 0.5;
    case C_HALF_PIXEL_SYMMETRIC: {
      double offset = (double)in / 2 * (1 - (double)p->out[a] / out);
      return offset + (y + 0.5) / s - 0.5;
    }
    case C_TF_CROP_AND_RESIZE: {
      double r0 = p->roi[a], r1 = p->roi[rank + a];
      double x = out == 1 ? (r1 - r0) * (double)(in - 1) / 2 : y * (r1 - r0) * (double)(in - 1) / (out - 1);
      x += r0 * (double)(in - 1);
      *outside = x < 0 || x > (double)(in - 1);
      return x;
    }
    default: return (y + 0.5) / s - 0.5;
  }
}

static int64_t clamp_index(int64_t i, int64_t in) { return i < 0 ? 0 : i >= in ? in - 1 : i; }

static int64_t nearest_index(const resize_params* p, double x, double s, int64_t in) {
  double f = floor(x), frac = x - f;
  int64_t i = (int64_t)f;
  if (frac != 0) {
    switch (p->nearest) {
      case N_ROUND_PREFER_FLOOR: i += frac > 0.5; break;
      case N_ROUND_PREFER_CEIL: i += frac >= 0.5; break;
      case N_FLOOR: break;
      case N_CEIL: i += 1; break;
      case N_SIMPLE: i += s < 1; break;
    }
  }
  return clamp_index(i, in);
}

/* The cubic convolution kernel (Keys, parameter A) at distance x. */
static double cubic(double x, double A) {
  x = fabs(x);
  if (x <= 1) return ((A + 2) * x - (A + 3)) * x * x + 1;
  if (x < 2) return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
  return 0;
}

/* Taps per output position: 2 for linear, 4 for cubic; antialiasing widens
 * the kernel by 1/scale when downsampling. */
static int64_t tap_count(const resize_params* p, double s) {
  double support = p->mode == R_CUBIC ? 2 : 1;
  if (!p->antialias || s >= 1) return (int64_t)(2 * support);
  double start = floor(-support / s) + 1;
  return start < -RESIZE_MAX_TAPS ? RESIZE_MAX_TAPS + 1 : 2 - 2 * (int64_t)start;
}

/* Weights and input indices of output position y along axis a (n taps). */
static void axis_taps(const resize_params* p, int32_t a, int32_t rank, int64_t y, int64_t in, int64_t n,
                      int64_t* idx, double* w) {
  double s = p->scale[a];
  bool outside;
  double x = source_coord(p, a, rank, (double)y, in, &outside);
  if (outside) {
    for (int64_t t = 0; t < n; t++) idx[t] = -1, w[t] = 0;
    return;
  }
  if (p->mode == R_NEAREST) {
    idx[0] = nearest_index(p, x, s, in);
    w[0] = 1;
    return;
  }
  double f = floor(x), frac = x - f;
  double ratio = frac == 0 ? 1.0 : frac; /* in (0, 1]: the left pixel is preferred */
  /* The n inputs nearest x, ties to the lower. ONNX's reference finds them
   * on x shifted by the edge padding n/2, whose rounding can make a nearly
   * integer x exact: do the same so both pick the same window. */
  double xp = x + (double)(n / 2), fp = floor(xp);
  int64_t start = (int64_t)fp - n / 2 - n / 2 + (xp == fp ? 0 : 1);
  double sum = 0, sc = p->antialias && s < 1 ? s : 1.0;
  for (int64_t t = 0; t < n; t++) {
    double d = (double)(t - n / 2 + 1) - ratio; /* (start + t) - x, with ratio as ONNX defines it */
    double v = p->mode == R_CUBIC ? (p->antialias ? cubic(sc * d, p->cubic_a) : cubic(d, p->cubic_a))
                                  : (p->antialias ? fmax(0.0, 1 - fabs(sc * d)) : 1 - fabs(d));
    int64_t i = start + t;
    if (p->exclude_outside && (i < 0 || i >= in)) v = 0;
    w[t] = v;
    idx[t] = clamp_index(i, in);
    sum += v;
  }
  if ((p->antialias || p->exclude_outside) && sum != 0)
    for (int64_t t = 0; t < n; t++) w[t] /= sum;
}

/* An axis the reference leaves alone: same size, unit scale, whole roi. */
static bool is_identity(const resize_params* p, int32_t a, int32_t rank, int64_t in) {
  bool unit = fabs(p->scale[a] - 1) <= 1e-9 && p->out[a] == in;
  if (p->coord != C_TF_CROP_AND_RESIZE) return unit;
  return unit && p->roi[a] == 0 && fabs(p->roi[rank + a] - 1) <= 1e-9;
}

static pfw_status resize_prepare(pfw_node* node) {
  bool v10 = node->desc->version < 11;
  pfw_status st = pfw_need_io(node, 1, v10 ? 2 : 4);
  if (st != PFW_OK) return st;
  const pfw_tensor* x = node->in[0];
  if (x->rank < 1) return pfw_error(PFW_ERR_SHAPE, "input 0 (X) is a scalar; Resize needs rank >= 1");
  resize_params p = {0};
  if ((st = read_attrs(node, &p)) != PFW_OK || (st = read_sizes(node, &p)) != PFW_OK) return st;
  if (p.mode != R_NEAREST && (st = pfw_need_float(node, 0)) != PFW_OK) return st;
  if (pfw_numeric_index(x->dtype) < 0)
    return pfw_error(PFW_ERR_UNSUPPORTED, "input 0 (X) is %s; Resize supports " PFW_NUMERIC_NAMES,
                     pfw_dtype_name(x->dtype));
  resize_state hdr = {.mode = p.mode, .extrapolation = p.extrapolation};
  int64_t entries = 0, numel = pfw_numel(x), cur = numel;
  hdr.max_numel = numel;
  for (int32_t a = 0; a < x->rank; a++) {
    if (is_identity(&p, a, x->rank, x->dims[a])) continue;
    if (x->dims[a] == 0 && p.out[a] > 0)
      return pfw_error(PFW_ERR_SHAPE, "cannot resize the empty axis %d to %lld", (int)a, (long long)p.out[a]);
    int64_t n = p.mode == R_NEAREST ? 1 : tap_count(&p, p.scale[a]), e;
    if (n > RESIZE_MAX_TAPS)
      return pfw_error(PFW_ERR_UNSUPPORTED, "scale %g on axis %d is too small to antialias", p.scale[a], (int)a);
    if (pfw_mul_overflows(n, p.out[a], &e) || e > INT64_MAX / 16 - entries)
      return pfw_error(PFW_ERR_SHAPE, "Resize tables overflow");
    hdr.axis[hdr.n_axes] = a;
    hdr.taps[hdr.n_axes++] = (int32_t)n;
    entries += e;
    if (x->dims[a] > 0) {
      cur = cur / x->dims[a];
      if (pfw_mul_overflows(cur, p.out[a], &cur)) return pfw_error(PFW_ERR_SHAPE, "Resize output too large");
    } else {
      cur = 0;
    }
    if (cur > hdr.max_numel) hdr.max_numel = cur;
  }
  st = pfw_set_output(node->out[0], x->dtype, x->rank, p.out);
  /* An empty output has nothing to compute (the node never runs): no tables for a long axis. */
  if (st != PFW_OK || pfw_numel(node->out[0]) == 0) return st;
  size_t bytes = sizeof hdr + (size_t)entries * (sizeof(int64_t) + sizeof(double));
  if (node->mem_limit && bytes > node->mem_limit)
    return pfw_error(PFW_ERR_UNSUPPORTED, "Resize tables need %zu bytes, more than the memory limit of %zu bytes", bytes,
                     node->mem_limit);
  resize_state* s = malloc(bytes);
  if (!s) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes of Resize tables", bytes);
  *s = hdr;
  node->state = s;
  int64_t* idx = (int64_t*)(s + 1);
  double* w = (double*)(idx + entries);
  for (int32_t k = 0; k < s->n_axes; k++) {
    int32_t a = s->axis[k], n = s->taps[k];
    s->idx[k] = idx;
    s->w[k] = w;
    for (int64_t o = 0; o < p.out[a]; o++) axis_taps(&p, a, x->rank, o, x->dims[a], n, idx + o * n, w + o * n);
    idx += p.out[a] * n;
    w += p.out[a] * n;
  }
  if (p.mode != R_NEAREST && s->n_axes > 0) {
    if (s->max_numel > (int64_t)(SIZE_MAX / (2 * sizeof(double))))
      return pfw_error(PFW_ERR_SHAPE, "Resize scratch too large");
    node->scratch_size = 2 * (size_t)s->max_numel * sizeof(double);
  }
  return PFW_OK;
}

/* Nearest: each output element copies one input element (or the fill). */
static void run_nearest(const resize_state* s, const pfw_tensor* x, pfw_tensor* y) {
  size_t es = pfw_dtype_size(x->dtype);
  char fill[8] = {0};
  pfw_store_real(fill, x->dtype, s->extrapolation);
  int64_t stride[PFW_MAX_RANK], acc = 1, o[PFW_MAX_RANK] = {0}, total = pfw_numel(y);
  const int64_t* map[PFW_MAX_RANK] = {NULL};
  for (int32_t a = x->rank - 1; a >= 0; a--) stride[a] = acc, acc *= x->dims[a];
  for (int32_t k = 0; k < s->n_axes; k++) map[s->axis[k]] = s->idx[k];
  for (int64_t i = 0; i < total; i++) {
    int64_t pos = 0;
    for (int32_t a = 0; a < x->rank && pos >= 0; a++) {
      int64_t src = map[a] ? map[a][o[a]] : o[a];
      pos = src < 0 ? -1 : pos + src * stride[a];
    }
    memcpy((char*)y->data + (size_t)i * es, pos < 0 ? (const char*)fill : (const char*)x->data + (size_t)pos * es, es);
    for (int32_t a = y->rank - 1; a >= 0 && ++o[a] == y->dims[a]; a--) o[a] = 0;
  }
}

/* One separable pass along axis a: dst[u, o, v] = sum_t w[o,t] src[u, idx[o,t], v]. */
static void resize_pass(const resize_state* s, int32_t k, int32_t rank, const int64_t* dims, int64_t out_n,
                        const double* src, double* dst) {
  int32_t a = s->axis[k], n = s->taps[k];
  int64_t outer = 1, inner = 1, in_n = dims[a];
  for (int32_t j = 0; j < a; j++) outer *= dims[j];
  for (int32_t j = a + 1; j < rank; j++) inner *= dims[j];
  for (int64_t u = 0; u < outer; u++)
    for (int64_t o = 0; o < out_n; o++) {
      const int64_t* idx = s->idx[k] + o * n;
      const double* w = s->w[k] + o * n;
      double* d = dst + (u * out_n + o) * inner;
      if (idx[0] < 0) {
        for (int64_t v = 0; v < inner; v++) d[v] = s->extrapolation;
        continue;
      }
      for (int64_t v = 0; v < inner; v++) d[v] = 0;
      for (int32_t t = 0; t < n; t++) {
        if (w[t] == 0) continue;
        const double* r = src + (u * in_n + idx[t]) * inner;
        for (int64_t v = 0; v < inner; v++) d[v] += w[t] * r[v];
      }
    }
}

static pfw_status resize_run(pfw_node* node) {
  const resize_state* s = node->state;
  const pfw_tensor* x = node->in[0];
  pfw_tensor* y = node->out[0];
  if (!s) return PFW_OK; /* an empty output: prepare made no tables */
  if (s->mode == R_NEAREST || s->n_axes == 0) {
    if (s->n_axes == 0) memcpy(y->data, x->data, (size_t)pfw_numel(x) * pfw_dtype_size(x->dtype));
    else run_nearest(s, x, y);
    return PFW_OK;
  }
  double* buf[2] = {node->scratch, (double*)node->scratch + s->max_numel};
  int64_t dims[PFW_MAX_RANK], n = pfw_numel(x);
  for (int32_t a = 0; a < x->rank; a++) dims[a] = x->dims[a];
  bool f32 = x->dtype == PFW_FLOAT32;
  for (int64_t i = 0; i < n; i++) buf[0][i] = f32 ? ((const float*)x->data)[i] : ((const double*)x->data)[i];
  int cur = 0;
  for (int32_t k = 0; k < s->n_axes; k++, cur ^= 1) {
    int32_t a = s->axis[k];
    resize_pass(s, k, x->rank, dims, y->dims[a], buf[cur], buf[cur ^ 1]);
    dims[a] = y->dims[a];
  }
  n = pfw_numel(y);
  for (int64_t i = 0; i < n; i++) {
    if (f32) ((float*)y->data)[i] = (float)buf[cur][i];
    else ((double*)y->data)[i] = buf[cur][i];
  }
  return PFW_OK;
}

const pfw_op pfw_op_Resize = {PFW_OP_Resize, resize_prepare, resize_run, PFW_OPF_PLAN_FLOATS};
