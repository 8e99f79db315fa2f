/* Window geometry shared by Conv, MaxPool and AveragePool. */
#include <string.h>

#include "ops_common.h"

/* Bound on every size and attribute: keeps all index arithmetic far from
 * int64 overflow ((k-1)*d + in + pads stays below 2^63). */
#define SPATIAL_LIMIT ((int64_t)INT32_MAX)

static pfw_status read_list(const pfw_node* node, const char* name, int32_t want, int64_t dflt,
                            int64_t lo, int64_t* out) {
  int32_t n;
  const int64_t* v = pfw_attr_ints(node, name, &n);
  for (int32_t i = 0; i < want; i++) out[i] = dflt;
  if (!v) return PFW_OK;
  if (n != want)
    return pfw_error(PFW_ERR_INVALID_MODEL, "attribute '%s' has %d values, expected %d", name, (int)n, (int)want);
  for (int32_t i = 0; i < want; i++) {
    if (v[i] < lo || v[i] > SPATIAL_LIMIT)
      return pfw_error(PFW_ERR_INVALID_MODEL, "attribute '%s'[%d] is %lld, expected a value in [%lld, %lld]",
                       name, (int)i, (long long)v[i], (long long)lo, (long long)SPATIAL_LIMIT);
    out[i] = v[i];
  }
  return PFW_OK;
}

pfw_status pfw_spatial_init(const pfw_node* node, int32_t n, const int64_t* in, const int64_t* kernel,
                            bool ceil_mode, pfw_spatial* g) {
  if (n < 1 || n > PFW_SPATIAL_MAX)
    return pfw_error(PFW_ERR_UNSUPPORTED, "%d spatial dimensions; only 1 to %d are supported", (int)n,
                     PFW_SPATIAL_MAX);
  int64_t s[PFW_SPATIAL_MAX], d[PFW_SPATIAL_MAX], pads[2 * PFW_SPATIAL_MAX];
  pfw_status st = read_list(node, "strides", n, 1, 1, s);
  if (st == PFW_OK) st = read_list(node, "dilations", n, 1, 1, d);
  if (st == PFW_OK) st = read_list(node, "pads", 2 * n, 0, 0, pads);
  if (st != PFW_OK) return st;
  const char* auto_pad = pfw_attr_string(node, "auto_pad", "NOTSET");
  int mode; /* 0 NOTSET, 1 SAME_UPPER, 2 SAME_LOWER, 3 VALID */
  if (strcmp(auto_pad, "NOTSET") == 0) mode = 0;
  else if (strcmp(auto_pad, "SAME_UPPER") == 0) mode = 1;
  else if (strcmp(auto_pad, "SAME_LOWER") == 0) mode = 2;
  else if (strcmp(auto_pad, "VALID") == 0) mode = 3;
  else
    return pfw_error(PFW_ERR_INVALID_MODEL,
                     "attribute 'auto_pad' is '%s', expected NOTSET, SAME_UPPER, SAME_LOWER or VALID", auto_pad);

  g->n = n;
  int32_t off = PFW_SPATIAL_MAX - n;
  for (int32_t a = 0; a < off; a++) {
    g->in[a] = g->k[a] = g->s[a] = g->d[a] = g->out[a] = 1;
    g->pb[a] = g->pe[a] = 0;
  }
  for (int32_t i = 0; i < n; i++) {
    int32_t a = off + i;
    if (in[i] > SPATIAL_LIMIT)
      return pfw_error(PFW_ERR_UNSUPPORTED, "spatial dimension %d is %lld, larger than supported", (int)i,
                       (long long)in[i]);
    if (kernel[i] < 1 || kernel[i] > SPATIAL_LIMIT)
      return pfw_error(PFW_ERR_INVALID_MODEL, "kernel size %lld in spatial dimension %d, expected >= 1",
                       (long long)kernel[i], (int)i);
    g->in[a] = in[i];
    g->k[a] = kernel[i];
    g->s[a] = s[i];
    g->d[a] = d[i];
    int64_t ek = (kernel[i] - 1) * d[i] + 1; /* extent of the dilated kernel */
    int64_t o;
    if (mode == 1 || mode == 2) {
      o = (in[i] + s[i] - 1) / s[i];
      int64_t total = (o - 1) * s[i] + ek - in[i];
      if (total < 0) total = 0;
      g->pb[a] = mode == 1 ? total / 2 : total - total / 2;
      g->pe[a] = total - g->pb[a];
    } else {
      g->pb[a] = mode == 3 ? 0 : pads[i];
      g->pe[a] = mode == 3 ? 0 : pads[n + i];
      int64_t span = in[i] + g->pb[a] + g->pe[a] - ek;
      if (span < 0)
        return pfw_error(PFW_ERR_SHAPE,
                         "spatial dimension %d: padded input size %lld is smaller than the dilated kernel (%lld)",
                         (int)i, (long long)(in[i] + g->pb[a] + g->pe[a]), (long long)ek);
      o = (ceil_mode ? span + s[i] - 1 : span) / s[i] + 1;
      /* A ceil_mode window must start inside the input or the left padding. */
      if (ceil_mode && (o - 1) * s[i] >= in[i] + g->pb[a]) o--;
    }
    g->out[a] = o;
  }
  return PFW_OK;
}

pfw_status pfw_spatial_transpose_init(const pfw_node* node, int32_t n, const int64_t* in, const int64_t* kernel,
                                      pfw_spatial* g) {
  if (n < 1 || n > PFW_SPATIAL_MAX)
    return pfw_error(PFW_ERR_UNSUPPORTED, "%d spatial dimensions; only 1 to %d are supported", (int)n,
                     PFW_SPATIAL_MAX);
  int64_t s[PFW_SPATIAL_MAX], d[PFW_SPATIAL_MAX], adj[PFW_SPATIAL_MAX], pads[2 * PFW_SPATIAL_MAX];
  pfw_status st = read_list(node, "strides", n, 1, 1, s);
  if (st == PFW_OK) st = read_list(node, "dilations", n, 1, 1, d);
  if (st == PFW_OK) st = read_list(node, "pads", 2 * n, 0, 0, pads);
  if (st == PFW_OK) st = read_list(node, "output_padding", n, 0, 0, adj);
  if (st != PFW_OK) return st;
  int32_t n_shape;
  const int64_t* shape = pfw_attr_ints(node, "output_shape", &n_shape);
  if (shape && n_shape != n && n_shape != n + 2)
    return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'output_shape' has %d values, expected %d", (int)n_shape,
                     (int)n);
  if (shape) shape += n_shape - n; /* N and C, when given, are not spatial */
  const char* auto_pad = pfw_attr_string(node, "auto_pad", "NOTSET");
  int mode; /* 0 NOTSET, 1 SAME_UPPER, 2 SAME_LOWER, 3 VALID */
  if (strcmp(auto_pad, "NOTSET") == 0) mode = 0;
  else if (strcmp(auto_pad, "SAME_UPPER") == 0) mode = 1;
  else if (strcmp(auto_pad, "SAME_LOWER") == 0) mode = 2;
  else if (strcmp(auto_pad, "VALID") == 0) mode = 3;
  else
    return pfw_error(PFW_ERR_INVALID_MODEL,
                     "attribute 'auto_pad' is '%s', expected NOTSET, SAME_UPPER, SAME_LOWER or VALID", auto_pad);
  g->n = n;
  int32_t off = PFW_SPATIAL_MAX - n;
  for (int32_t a = 0; a < off; a++) {
    g->in[a] = g->k[a] = g->s[a] = g->d[a] = g->out[a] = 1;
    g->pb[a] = g->pe[a] = 0;
  }
  for (int32_t i = 0; i < n; i++) {
    int32_t a = off + i;
    if (in[i] > SPATIAL_LIMIT || kernel[i] < 1 || kernel[i] > SPATIAL_LIMIT)
      return pfw_error(PFW_ERR_UNSUPPORTED, "spatial dimension %d: input %lld or kernel %lld out of range", (int)i,
                       (long long)in[i], (long long)kernel[i]);
    if (adj[i] >= s[i] && adj[i] >= d[i])
      return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'output_padding'[%d] is %lld; it must be below the stride "
                       "(%lld) or the dilation (%lld)", (int)i, (long long)adj[i], (long long)s[i], (long long)d[i]);
    g->in[a] = in[i];
    g->k[a] = kernel[i];
    g->s[a] = s[i];
    g->d[a] = d[i];
    /* The output before padding is removed: every (input, tap) product lands in it. */
    int64_t full = s[i] * (in[i] - 1) + adj[i] + (kernel[i] - 1) * d[i] + 1;
    int64_t o = 0, total = 0;
    if (shape) { /* pads follow from the requested size (ONNX: the extra one at the end unless SAME_UPPER) */
      if (shape[i] < 0 || shape[i] > SPATIAL_LIMIT)
        return pfw_error(PFW_ERR_INVALID_MODEL, "attribute 'output_shape'[%d] is %lld", (int)i, (long long)shape[i]);
      o = shape[i];
      total = full - o > 0 ? full - o : 0; /* a larger output keeps bias only there, as ONNX Runtime */
      g->pb[a] = mode == 1 ? total / 2 : total - total / 2;
    } else if (mode == 1 || mode == 2) { /* SAME: output = input * stride */
      o = in[i] * s[i];
      total = full - o > 0 ? full - o : 0;
      g->pb[a] = mode == 1 ? total / 2 : total - total / 2;
    } else {
      g->pb[a] = mode == 3 ? 0 : pads[i];
      total = g->pb[a] + (mode == 3 ? 0 : pads[n + i]);
      o = full - total;
    }
    g->pe[a] = total - g->pb[a];
    if (o < 0)
      return pfw_error(PFW_ERR_SHAPE, "spatial dimension %d: output size %lld from input %lld, pads %lld+%lld",
                       (int)i, (long long)o, (long long)in[i], (long long)g->pb[a], (long long)g->pe[a]);
    g->out[a] = o;
  }
  return PFW_OK;
}
