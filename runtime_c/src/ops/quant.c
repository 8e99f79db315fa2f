/* QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear (ONNX opset
 * 10-25: per tensor, per axis and blocked; uint8, int8, uint16, int16, the
 * 4- and 2-bit integers, float8 and float4 E2M1),
 * and the helpers the quantized ops share (quant.h). Each computes in
 * float32 exactly as ONNX's reference does (x / scale, rounded half to
 * even; (x - zero) * scale), so results are the reference's bit for bit. */
#include <math.h>

#include "../kernels/qgemm.h"
#include "quant.h"

pfw_requant pfw_requant_of(float m) {
  pfw_requant q = {0, 0};
  if (!(m > 0) || !isfinite(m)) return q; /* 0 (checked by the ops) */
  int e;
  float f = frexpf(m, &e); /* m = f * 2^e, f in [0.5, 1) */
  q.mant = (int64_t)ldexpf(f, 24);
  q.shift = 24 - e;
  return q;
}

/* The same rounding as pfw_requant_apply, on a 128-bit product (every
 * 64-bit compiler pyfw targets has one; elsewhere a long double result,
 * exact while |acc * m| < 2^64 / 2^11). Reached only by accumulators a
 * valid model does not produce, so speed does not matter here. */
int64_t pfw_requant_apply_wide(int64_t acc, pfw_requant q) {
  const int64_t lim = INT64_C(1) << 40;
  if (q.mant == 0) return 0;
  if (q.shift <= 22) return acc > 0 ? lim : -lim; /* |acc * mant| >= 2^62: beyond 2^40 */
#if defined(__SIZEOF_INT128__)
  __int128 p = (__int128)acc * q.mant;
  if (q.shift >= 126) return 0;
  __int128 f = p >> q.shift; /* floor */
  unsigned __int128 rem = (unsigned __int128)p & (((unsigned __int128)1 << q.shift) - 1);
  unsigned __int128 half = (unsigned __int128)1 << (q.shift - 1);
  f += rem > half || (rem == half && (f & 1));
  return f > lim ? lim : f < -lim ? -lim : (int64_t)f;
#else
  long double v = nearbyintl(ldexpl((long double)acc * q.mant, -q.shift)); /* default: half to even */
  return v > lim ? lim : v < -lim ? -lim : (int64_t)v;
#endif
}

bool pfw_quant_range(pfw_dtype d, int32_t* lo, int32_t* hi) {
  switch (d) {
    case PFW_UINT8: *lo = 0, *hi = 255; return true;
    case PFW_INT8: *lo = -128, *hi = 127; return true;
    case PFW_UINT16: *lo = 0, *hi = 65535; return true;
    case PFW_INT16: *lo = -32768, *hi = 32767; return true;
    default: return false;
  }
}

float pfw_quant_scale_at(const pfw_tensor* t, int64_t i) {
  if (t->dtype == PFW_FLOAT16) return pfw_half_to_float(((const uint16_t*)t->data)[i]);
  return ((const float*)t->data)[i];
}

int32_t pfw_quant_zero_at(const pfw_tensor* t, int64_t i) {
  if (!t) return 0;
  if (pfw_dtype_is_lowint(t->dtype)) return pfw_lowint_value(t->dtype, ((const uint8_t*)t->data)[i]);
  switch (t->dtype) {
    case PFW_UINT8: return ((const uint8_t*)t->data)[i];
    case PFW_INT8: return ((const int8_t*)t->data)[i];
    case PFW_UINT16: return ((const uint16_t*)t->data)[i];
    case PFW_INT16: return ((const int16_t*)t->data)[i];
    case PFW_INT32: return ((const int32_t*)t->data)[i];
    default: return 0;
  }
}

pfw_status pfw_quant_scale_ok(float s, const char* what, int64_t i, pfw_status st) {
  if (s > 0 && isfinite(s)) return PFW_OK;
  return pfw_error(st, "%s[%lld] is %g; a scale must be positive and finite", what,
                   (long long)i, (double)s);
}

/* 1 value, or n values in one dimension. */
static pfw_status check_count(const pfw_node* node, int32_t i, const char* what, int64_t n) {
  const pfw_tensor* t = node->in[i];
  int64_t count = pfw_numel(t);
  if (count == 1 && t->rank <= 1) return PFW_OK;
  if (n > 1 && t->rank == 1 && count == n) return PFW_OK;
  if (n > 1)
    return pfw_error(PFW_ERR_SHAPE, "input %d (%s) has %lld values in rank %d; expected 1 or %lld (one per channel)",
                     (int)i, what, (long long)count, (int)t->rank, (long long)n);
  return pfw_error(PFW_ERR_SHAPE, "input %d (%s) has %lld values in rank %d; expected a single value", (int)i, what,
                   (long long)count, (int)t->rank);
}

pfw_status pfw_quant_check_scale(const pfw_node* node, int32_t i, const char* what, int64_t n) {
  const pfw_tensor* t = i < node->n_in ? node->in[i] : NULL;
  if (!t) return pfw_error(PFW_ERR_INVALID_MODEL, "input %d (%s) is required", (int)i, what);
  if (t->dtype != PFW_FLOAT32 && t->dtype != PFW_FLOAT16)
    return pfw_error(PFW_ERR_UNSUPPORTED, "input %d (%s) is %s; expected float32 or float16", (int)i, what,
                     pfw_dtype_name(t->dtype));
  pfw_status st = check_count(node, i, what, n);
  if (st != PFW_OK || !t->is_const) return st;
  for (int64_t k = 0, c = pfw_numel(t); k < c; k++)
    if ((st = pfw_quant_scale_ok(pfw_quant_scale_at(t, k), what, k, PFW_ERR_INVALID_MODEL)) != PFW_OK) return st;
  return PFW_OK;
}

pfw_status pfw_quant_check_zero(const pfw_node* node, int32_t i, const char* what, pfw_dtype d, int64_t n) {
  const pfw_tensor* t = i < node->n_in ? node->in[i] : NULL;
  if (!t) return PFW_OK;
  if (t->dtype != d)
    return pfw_error(PFW_ERR_INVALID_MODEL, "input %d (%s) is %s; expected %s like the quantized data", (int)i, what,
                     pfw_dtype_name(t->dtype), pfw_dtype_name(d));
  return check_count(node, i, what, n);
}

/* ---- the per-element layout of scale and zero point ------------------------ */

/* x viewed as [outer, A, inner] around `axis`: element (o, a, i) takes
 * parameter o*so + (a / block)*sa + i*si (per tensor: all strides 0; per
 * axis: sa = 1; blocked: the parameter tensor is x's shape with A/block
 * rounded up along the axis). */
typedef struct qlayout {
  int64_t outer, A, inner, block, so, sa, si;
} qlayout;

static pfw_status layout_of(const pfw_node* node, const pfw_tensor* x, int32_t pi, const char* what, qlayout* L) {
  const pfw_tensor* p = node->in[pi];
  int32_t axis = 0;
  pfw_status st = PFW_OK;
  L->outer = L->A = L->inner = L->block = 1;
  L->so = L->sa = L->si = 0;
  int64_t count = pfw_numel(p), block = pfw_attr_int(node, "block_size", 0);
  if (block < 0) return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'block_size' is %lld", (long long)block);
  if (count == 1 && p->rank <= 1 && block == 0) {
    L->inner = pfw_numel(x); /* one run with parameter 0 */
    return PFW_OK;
  }
  if (x->rank == 0) return pfw_error(PFW_ERR_SHAPE, "input %d (%s) has %lld values for a scalar input", (int)pi, what,
                                     (long long)count);
  if ((st = pfw_norm_axis(pfw_attr_int(node, "axis", 1), x->rank, "attribute 'axis'", &axis)) != PFW_OK) return st;
  for (int32_t k = 0; k < axis; k++) L->outer *= x->dims[k];
  L->A = x->dims[axis];
  for (int32_t k = axis + 1; k < x->rank; k++) L->inner *= x->dims[k];
  if (block == 0) {
    if (p->rank != 1 || count != L->A)
      return pfw_error(PFW_ERR_SHAPE, "input %d (%s) has %lld values; expected 1 or %lld (dim %d of the input)",
                       (int)pi, what, (long long)count, (long long)L->A, (int)axis);
    L->sa = 1;
    return PFW_OK;
  }
  int64_t nb = (L->A + block - 1) / block;
  bool ok = p->rank == x->rank;
  for (int32_t k = 0; ok && k < x->rank; k++) ok = p->dims[k] == (k == axis ? nb : x->dims[k]);
  if (!ok)
    return pfw_error(PFW_ERR_SHAPE, "input %d (%s) must have the input's shape with dim %d = %lld (block_size %lld)",
                     (int)pi, what, (int)axis, (long long)nb, (long long)block);
  L->block = block;
  L->si = 1;
  L->sa = L->inner;
  L->so = nb * L->inner;
  return PFW_OK;
}

/* A dtype QuantizeLinear writes and DequantizeLinear reads (E8M0 is a
 * scale format, not a quantized one). */
static bool qdq_type(pfw_dtype d) {
  int32_t lo, hi;
  return pfw_quant_range(d, &lo, &hi) || pfw_dtype_is_lowint(d) || (pfw_dtype_is_lowfloat(d) && d != PFW_FLOAT8E8M0);
}

/* Output dtype of QuantizeLinear: the zero point's, else output_dtype, else uint8. */
static pfw_status q_out_dtype(const pfw_node* node, pfw_dtype* d) {
  const pfw_tensor* zp = node->n_in > 2 ? node->in[2] : NULL;
  int64_t od = pfw_attr_int(node, "output_dtype", 0);
  *d = zp ? zp->dtype : od ? (pfw_dtype)od : PFW_UINT8;
  if (zp && od && od != (int64_t)zp->dtype)
    return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'output_dtype' (%lld) differs from the zero point's %s",
                     (long long)od, pfw_dtype_name(zp->dtype));
  if (od < 0 || od > 255 || !qdq_type(*d))
    return pfw_error(PFW_ERR_UNSUPPORTED, "quantizing to %s; supported: uint8, int8, uint16, int16, uint4, int4, "
                     "uint2, int2, float8 and float4e2m1", pfw_dtype_name(*d));
  return PFW_OK;
}

/* Every parameter a run reads, checked (scales from inputs arrive only now). */
static pfw_status check_scales(const pfw_tensor* s, const char* what) {
  pfw_status st = PFW_OK, bad = s->is_const ? PFW_ERR_INVALID_MODEL : PFW_ERR_INVALID_ARGUMENT;
  for (int64_t k = 0, c = pfw_numel(s); k < c && st == PFW_OK; k++)
    st = pfw_quant_scale_ok(pfw_quant_scale_at(s, k), what, k, bad);
  return st;
}

static pfw_status qdq_prepare(pfw_node* node, bool quantize) {
  pfw_status st = pfw_need_io(node, 2, 3);
  if (st != PFW_OK) return st;
  /* The file may mark any input absent: x and the scale may not be. */
  for (int32_t i = 0; i < 2; i++)
    if (!node->in[i])
      return pfw_error(PFW_ERR_INVALID_MODEL, "input %d (%s) is required but absent", (int)i,
                       i ? (quantize ? "y_scale" : "x_scale") : "x");
  const pfw_tensor* x = node->in[0];
  pfw_dtype out;
  if (quantize) {
    if (x->dtype != PFW_FLOAT32)
      return pfw_error(PFW_ERR_UNSUPPORTED, "input 0 (x) is %s; expected float32", pfw_dtype_name(x->dtype));
    if ((st = q_out_dtype(node, &out)) != PFW_OK) return st;
  } else {
    if (!qdq_type(x->dtype) && x->dtype != PFW_INT32)
      return pfw_error(PFW_ERR_UNSUPPORTED, "input 0 (x) is %s; expected uint8, int8, uint16, int16, int32, "
                       "a 4- or 2-bit integer, float8 or float4e2m1", pfw_dtype_name(x->dtype));
    out = node->in[1]->dtype;
    int64_t od = pfw_attr_int(node, "output_dtype", 0);
    if (od && od != (int64_t)out)
      return pfw_error(PFW_ERR_UNSUPPORTED, "attribute 'output_dtype' (%lld) differs from the scale's %s",
                       (long long)od, pfw_dtype_name(out));
  }
  const char* names[3] = {"x", quantize ? "y_scale" : "x_scale", quantize ? "y_zero_point" : "x_zero_point"};
  qlayout L, Lz;
  const pfw_tensor* s = node->in[1];
  if (s->dtype != PFW_FLOAT32 && s->dtype != PFW_FLOAT16)
    return pfw_error(PFW_ERR_UNSUPPORTED, "input 1 (%s) is %s; expected float32 or float16", names[1],
                     pfw_dtype_name(s->dtype));
  if ((st = layout_of(node, x, 1, names[1], &L)) != PFW_OK) return st;
  if (s->is_const && (st = check_scales(s, names[1])) != PFW_OK) return st;
  if (node->n_in > 2 && node->in[2]) {
    if (node->in[2]->dtype != (quantize ? out : x->dtype))
      return pfw_error(PFW_ERR_INVALID_MODEL, "input 2 (%s) is %s; expected %s", names[2],
                       pfw_dtype_name(node->in[2]->dtype), pfw_dtype_name(quantize ? out : x->dtype));
    if ((st = layout_of(node, x, 2, names[2], &Lz)) != PFW_OK) return st;
    if (Lz.so != L.so || Lz.sa != L.sa || Lz.si != L.si)
      return pfw_error(PFW_ERR_SHAPE, "inputs 1 (%s) and 2 (%s) have different shapes", names[1], names[2]);
  }
  return pfw_set_output(node->out[0], out, x->rank, x->dims);
}

static pfw_status quantize_prepare(pfw_node* node) { return qdq_prepare(node, true); }
static pfw_status dequantize_prepare(pfw_node* node) { return qdq_prepare(node, false); }

static void store_q(void* y, pfw_dtype d, int64_t k, int32_t v) {
  if (pfw_dtype_is_lowint(d)) {
    ((uint8_t*)y)[k] = pfw_lowint_wrap(d, (uint64_t)(int64_t)v);
    return;
  }
  switch (d) {
    case PFW_UINT8: ((uint8_t*)y)[k] = (uint8_t)v; break;
    case PFW_INT8: ((int8_t*)y)[k] = (int8_t)v; break;
    case PFW_UINT16: ((uint16_t*)y)[k] = (uint16_t)v; break;
    default: ((int16_t*)y)[k] = (int16_t)v; break;
  }
}

static pfw_status quantize_run(pfw_node* node) {
  const pfw_tensor *x = node->in[0], *s = node->in[1], *z = node->n_in > 2 ? node->in[2] : NULL;
  pfw_status st = check_scales(s, "y_scale");
  if (st != PFW_OK) return st;
  pfw_tensor* y = node->out[0];
  int32_t lo = 0, hi = 255;
  if (pfw_dtype_is_lowint(y->dtype)) pfw_lowint_range(y->dtype, &lo, &hi);
  else pfw_quant_range(y->dtype, &lo, &hi);
  bool lowfloat = pfw_dtype_is_lowfloat(y->dtype), saturate = pfw_attr_int(node, "saturate", 1) != 0;
  qlayout L;
  layout_of(node, x, 1, "y_scale", &L); /* checked at prepare */
  const float* xv = x->data;
  if ((y->dtype == PFW_UINT8 || y->dtype == PFW_INT8) && L.so == 0 && L.si == 0) {
    /* one scale per run of `inner` elements: the vector row */
    pfw_quantize_row_fn row = pfw_quantize_row_for(node->isa);
    for (int64_t o = 0, k = 0; o < L.outer; o++)
      for (int64_t a = 0; a < L.A; a++, k += L.inner)
        row(xv + k, L.inner, pfw_quant_scale_at(s, a * L.sa), (float)pfw_quant_zero_at(z, a * L.sa), (float)lo,
            (float)hi, (int8_t*)y->data + k, y->dtype == PFW_INT8);
    return PFW_OK;
  }
  for (int64_t o = 0, k = 0; o < L.outer; o++)
    for (int64_t a = 0; a < L.A; a++) {
      int64_t p0 = o * L.so + a / L.block * L.sa;
      for (int64_t i = 0; i < L.inner; i++, k++) {
        int64_t p = p0 + i * L.si;
        if (lowfloat) { /* float8 takes no zero point; float4's is added before rounding */
          float v = xv[k] / pfw_quant_scale_at(s, p);
          if (y->dtype == PFW_FLOAT4E2M1 && z) v += pfw_lowp_to_float(z->dtype, ((const uint8_t*)z->data)[p]);
          ((uint8_t*)y->data)[k] = pfw_float_to_lowp(y->dtype, v, saturate);
          continue;
        }
        /* fmaxf/fminf also send NaN to the low end, as the reference's
         * int conversion and clip do. */
        float v = rintf(xv[k] / pfw_quant_scale_at(s, p)) + (float)pfw_quant_zero_at(z, p);
        store_q(y->data, y->dtype, k, (int32_t)fminf(fmaxf(v, (float)lo), (float)hi));
      }
    }
  return PFW_OK;
}

static pfw_status dequantize_run(pfw_node* node) {
  const pfw_tensor *x = node->in[0], *s = node->in[1], *z = node->n_in > 2 ? node->in[2] : NULL;
  pfw_tensor* y = node->out[0];
  qlayout L;
  layout_of(node, x, 1, "x_scale", &L);
  if ((x->dtype == PFW_UINT8 || x->dtype == PFW_INT8) && y->dtype == PFW_FLOAT32 && L.so == 0 && L.si == 0) {
    /* runs of `inner` elements sharing one scale and zero point: a loop the compiler vectorises */
    float* yv = y->data;
    for (int64_t o = 0, k = 0; o < L.outer; o++)
      for (int64_t a = 0; a < L.A; a++, k += L.inner) {
        float sc = pfw_quant_scale_at(s, a * L.sa), zf = (float)pfw_quant_zero_at(z, a * L.sa);
        if (x->dtype == PFW_UINT8)
          for (int64_t i = 0; i < L.inner; i++) yv[k + i] = ((float)((const uint8_t*)x->data)[k + i] - zf) * sc;
        else
          for (int64_t i = 0; i < L.inner; i++) yv[k + i] = ((float)((const int8_t*)x->data)[k + i] - zf) * sc;
      }
    return PFW_OK;
  }
  for (int64_t o = 0, k = 0; o < L.outer; o++)
    for (int64_t a = 0; a < L.A; a++) {
      int64_t p0 = o * L.so + a / L.block * L.sa;
      for (int64_t i = 0; i < L.inner; i++, k++) {
        int64_t p = p0 + i * L.si;
        float v;
        if (pfw_dtype_is_lowfloat(x->dtype)) { /* float8 and float4: the zero point is not used */
          v = pfw_lowp_to_float(x->dtype, ((const uint8_t*)x->data)[k]) * pfw_quant_scale_at(s, p);
        } else {
          float xv = x->dtype == PFW_INT32 ? (float)((const int32_t*)x->data)[k] : (float)pfw_quant_zero_at(x, k);
          v = (xv - (float)pfw_quant_zero_at(z, p)) * pfw_quant_scale_at(s, p);
        }
        if (y->dtype == PFW_FLOAT16) ((uint16_t*)y->data)[k] = pfw_float_to_half(v);
        else ((float*)y->data)[k] = v;
      }
    }
  return PFW_OK;
}

const pfw_op pfw_op_QuantizeLinear = {PFW_OP_QuantizeLinear, quantize_prepare, quantize_run, 0};
const pfw_op pfw_op_DequantizeLinear = {PFW_OP_DequantizeLinear, dequantize_prepare, dequantize_run, 0};

/* ---- DynamicQuantizeLinear --------------------------------------------------- */

static pfw_status dynq_prepare(pfw_node* node) {
  pfw_status st = pfw_need_io(node, 1, 1);
  if (st == PFW_OK) st = pfw_check_input(node, 0, PFW_FLOAT32, -1);
  if (st != PFW_OK) return st;
  if (node->n_out != 3) return pfw_error(PFW_ERR_INVALID_MODEL, "expected 3 outputs (y, y_scale, y_zero_point)");
  for (int32_t i = 1; i < 3; i++)
    if (!node->out[i]) return pfw_error(PFW_ERR_INVALID_MODEL, "output %d is required", (int)i);
  st = pfw_set_output(node->out[0], PFW_UINT8, node->in[0]->rank, node->in[0]->dims);
  if (st == PFW_OK) st = pfw_set_output(node->out[1], PFW_FLOAT32, 0, NULL);
  if (st == PFW_OK) st = pfw_set_output(node->out[2], PFW_UINT8, 0, NULL);
  return st;
}

/* The reference's float32 steps: the range includes 0, scale = range / 255,
 * zero point = clamp(0 - min / scale) rounded. NaN elements are skipped by
 * min/max and quantize to 0. */
static pfw_status dynq_run(pfw_node* node) {
  const float* x = node->in[0]->data;
  int64_t n = pfw_numel(node->in[0]);
  float lo, hi;
  pfw_range_row_for(node->isa)(x, n, &lo, &hi);
  if (!isfinite(lo) || !isfinite(hi))
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "input 0 (x) holds an infinite value; its range cannot be quantized");
  float scale = (hi == lo ? 1.0f : hi - lo) / 255.0f;
  float zp = rintf(fminf(fmaxf(0.0f - lo / scale, 0.0f), 255.0f));
  pfw_quantize_row_for(node->isa)(x, n, scale, zp, 0.0f, 255.0f, node->out[0]->data, false);
  *(float*)node->out[1]->data = scale;
  *(uint8_t*)node->out[2]->data = (uint8_t)zp;
  return PFW_OK;
}

const pfw_op pfw_op_DynamicQuantizeLinear = {PFW_OP_DynamicQuantizeLinear, dynq_prepare, dynq_run, 0};
