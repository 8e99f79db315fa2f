/* The OpenCL C kernels, one program built per process (cl_device.c).
 * Every tensor argument is a buffer and an element offset into it, as the
 * device arena mirrors the CPU plan (cl_backend.c). Sizes and indices are
 * int: nodes with more than 2^31 - 1 elements stay on the CPU. Written as a
 * stringised token list so the source reads as code; it must therefore use
 * C comments only and no preprocessor lines. Accumulation is in float, as
 * GPUs do it: results agree with the CPU's double sums to float rounding. */
#include "cl_backend.h"

#define CL_SOURCE(...) #__VA_ARGS__

/* Activation codes 1..7 are the fused-activation kinds (PFW_ACT_*). */
static const char common_src[] = CL_SOURCE(
float act_apply(float v, int act, float a, float b) {
  if (act == 1) return v < 0.0f ? 0.0f : v;
  if (act == 2) return v < 0.0f ? a * v : v;
  if (act == 3) { v = v < a ? a : v; return v > b ? b : v; } /* max then min: min > max gives max */
  if (act == 4) return 1.0f / (1.0f + exp(-v));
  if (act == 5) return tanh(v);
  if (act == 6) return fmax(0.0f, fmin(1.0f, a * v + b));
  if (act == 7) return v * fmax(0.0f, fmin(1.0f, v / 6.0f + 0.5f));
  return v;
}

/* Offset of flat index i in a tensor of 8 right-aligned dims (lane 7 the
 * innermost) with element strides st (0 along broadcast dims). */
int strided(int i, int8 dims, int8 st) {
  int off = 0, q;
  q = i % dims.s7; i /= dims.s7; off += q * st.s7;
  q = i % dims.s6; i /= dims.s6; off += q * st.s6;
  q = i % dims.s5; i /= dims.s5; off += q * st.s5;
  q = i % dims.s4; i /= dims.s4; off += q * st.s4;
  q = i % dims.s3; i /= dims.s3; off += q * st.s3;
  q = i % dims.s2; i /= dims.s2; off += q * st.s2;
  q = i % dims.s1; i /= dims.s1; off += q * st.s1;
  return off + i * st.s0;
}

__kernel void unary(__global const float* x, int xo, __global float* y, int yo, int n, int op, float a, float b) {
  int i = get_global_id(0);
  if (i >= n) return;
  float v = x[xo + i], r;
  if (op <= 7) r = act_apply(v, op, a, b);
  else if (op == 8) r = exp(v);
  else if (op == 9) r = log(v);
  else if (op == 10) r = -v;
  else if (op == 11) r = fabs(v);
  else if (op == 12) r = sqrt(v);
  else if (op == 13) r = 1.0f / v;
  else if (op == 14) r = erf(v);
  else if (op == 15) r = 0.5f * v * (1.0f + erf(v * 0.70710678118654752f));
  else if (op == 16) r = 0.5f * v * (1.0f + tanh(0.79788456080286536f * (v + 0.044715f * v * v * v)));
  else if (op == 17) r = v < 0.0f ? a * (exp(v) - 1.0f) : v;
  else if (op == 18) r = floor(v);
  else if (op == 19) r = ceil(v);
  else if (op == 20) r = sin(v);
  else if (op == 21) r = cos(v);
  else r = v;
  y[yo + i] = r;
}

__kernel void binary(__global const float* a, int ao, __global const float* b, int bo, __global float* y, int yo,
                     int n, int op, int8 dims, int8 sa, int8 sb) {
  int i = get_global_id(0);
  if (i >= n) return;
  float x = a[ao + strided(i, dims, sa)], z = b[bo + strided(i, dims, sb)];
  y[yo + i] = op == 0 ? x + z : op == 1 ? x - z : op == 2 ? x * z : x / z;
}

/* y[off(i, sy)] = x[off(i, sx)] over a shape of n elements: Transpose
 * (strided reads), Concat (strided writes), Expand (zero strides). */
__kernel void copy_strided(__global const float* x, int xo, __global float* y, int yo, int n, int8 dims, int8 sx,
                           int8 sy) {
  int i = get_global_id(0);
  if (i >= n) return;
  y[yo + strided(i, dims, sy)] = x[xo + strided(i, dims, sx)];
}
);

static const char nn_src[] = CL_SOURCE(
/* Y[b] = act(alpha * A[b] B[b] + beta * C) in 16 x 16 tiles; A and B by
 * row and column strides, so transposes cost nothing; batch offsets from up
 * to 4 broadcast batch dims (lane 3 innermost). */
__kernel __attribute__((reqd_work_group_size(16, 16, 1)))
void gemm(__global const float* A, int ao, int a_rs, int a_cs, __global const float* B, int bo, int b_rs, int b_cs,
          __global const float* C, int co, int c_rs, int c_cs, int has_c, __global float* Y, int yo, int M, int N,
          int K, float alpha, float beta, int act, float act_a, float act_b, int4 bdims, int4 a_bs, int4 b_bs) {
  __local float As[16][16];
  __local float Bs[16][17];
  int lj = get_local_id(0), li = get_local_id(1);
  int j = get_global_id(0), i = get_global_id(1), bt = get_global_id(2);
  int r = bt, q;
  q = r % bdims.s3; r /= bdims.s3; ao += q * a_bs.s3; bo += q * b_bs.s3;
  q = r % bdims.s2; r /= bdims.s2; ao += q * a_bs.s2; bo += q * b_bs.s2;
  q = r % bdims.s1; r /= bdims.s1; ao += q * a_bs.s1; bo += q * b_bs.s1;
  ao += r * a_bs.s0; bo += r * b_bs.s0;
  float acc = 0.0f;
  for (int k0 = 0; k0 < K; k0 += 16) {
    int ka = k0 + lj, kb = k0 + li;
    As[li][lj] = i < M && ka < K ? A[ao + i * a_rs + ka * a_cs] : 0.0f;
    Bs[li][lj] = kb < K && j < N ? B[bo + kb * b_rs + j * b_cs] : 0.0f;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int k = 0; k < 16; k++) acc += As[li][k] * Bs[k][lj];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (i < M && j < N) {
    float v = alpha * acc;
    if (has_c) v += beta * C[co + i * c_rs + j * c_cs];
    Y[yo + bt * M * N + i * N + j] = act_apply(v, act, act_a, act_b);
  }
}

/* Direct 2-D convolution, one output element per work item; work dims
 * (output position, output channel, image). 1-D runs as H = 1. */
__kernel void conv2d(__global const float* X, int xo, __global const float* W, int wo, __global const float* Bi,
                     int bo, int has_bias, __global float* Y, int yo, int C, int H, int Wd, int M, int Cg, int Mg,
                     int OH, int OW, int kh, int kw, int sh, int sw, int dh, int dw, int ph, int pw, int act,
                     float act_a, float act_b) {
  int p = get_global_id(0), m = get_global_id(1), img = get_global_id(2);
  if (p >= OH * OW) return;
  int oy = p / OW, ox = p % OW, g = m / Mg;
  float acc = 0.0f;
  __global const float* xg = X + xo + (img * C + g * Cg) * H * Wd;
  __global const float* wm = W + wo + m * Cg * kh * kw;
  int iy0 = oy * sh - ph, ix0 = ox * sw - pw;
  for (int c = 0; c < Cg; c++) {
    __global const float* xc = xg + c * H * Wd;
    __global const float* wc = wm + c * kh * kw;
    for (int ky = 0; ky < kh; ky++) {
      int iy = iy0 + ky * dh;
      if (iy < 0 || iy >= H) continue;
      for (int kx = 0; kx < kw; kx++) {
        int ix = ix0 + kx * dw;
        if (ix >= 0 && ix < Wd) acc += xc[iy * Wd + ix] * wc[ky * kw + kx];
      }
    }
  }
  if (has_bias) acc += Bi[bo + m];
  Y[yo + (img * M + m) * OH * OW + p] = act_apply(acc, act, act_a, act_b);
}

/* MaxPool (mode 0) and AveragePool without (1) or with (2) the padding in
 * the divisor; work dims (output position, image * channel). eh, ew: the
 * end of the padded input (H + end padding), for mode 2. */
__kernel void pool2d(__global const float* X, int xo, __global float* Y, int yo, int H, int Wd, int OH, int OW,
                     int kh, int kw, int sh, int sw, int dh, int dw, int ph, int pw, int eh, int ew, int mode) {
  int p = get_global_id(0), nc = get_global_id(1);
  if (p >= OH * OW) return;
  int oy = p / OW, ox = p % OW, iy0 = oy * sh - ph, ix0 = ox * sw - pw;
  __global const float* x = X + xo + nc * H * Wd;
  float acc = mode == 0 ? -FLT_MAX : 0.0f; /* as the CPU: an all-padding window gives -FLT_MAX */
  int count = 0, padded = 0;
  for (int ky = 0; ky < kh; ky++) {
    int iy = iy0 + ky * dh;
    for (int kx = 0; kx < kw; kx++) {
      int ix = ix0 + kx * dw;
      if (iy < eh && ix < ew) padded++;
      if (iy < 0 || iy >= H || ix < 0 || ix >= Wd) continue;
      float v = x[iy * Wd + ix];
      if (mode == 0) acc = v > acc ? v : acc; /* NaN skipped, as the CPU does */
      else acc += v;
      count++;
    }
  }
  if (mode == 1) acc = count ? acc / count : NAN;
  if (mode == 2) acc = padded ? acc / padded : NAN;
  Y[yo + nc * OH * OW + p] = acc;
}

/* GlobalAveragePool (mode 1) / GlobalMaxPool (0): one work item per
 * (image, channel) plane of n elements. */
__kernel void global_pool(__global const float* X, int xo, __global float* Y, int yo, int n, int planes, int mode) {
  int pl = get_global_id(0);
  if (pl >= planes) return;
  __global const float* x = X + xo + pl * n;
  float acc = mode == 0 ? -FLT_MAX : 0.0f;
  for (int i = 0; i < n; i++) acc = mode == 0 ? (x[i] > acc ? x[i] : acc) : acc + x[i];
  Y[yo + pl] = mode == 0 ? acc : acc / n;
}

/* Inference BatchNormalization over (image, channel, position). */
__kernel void batchnorm(__global const float* X, int xo, __global const float* S, int so, __global const float* B,
                        int bo, __global const float* Mu, int mo, __global const float* V, int vo, __global float* Y,
                        int yo, int C, int HW, int total, float eps) {
  int i = get_global_id(0);
  if (i >= total) return;
  int c = (i / HW) % C;
  float inv = S[so + c] / sqrt(V[vo + c] + eps);
  Y[yo + i] = (X[xo + i] - Mu[mo + c]) * inv + B[bo + c];
}

/* Softmax (log_ = 0) or LogSoftmax (1) of n elements at stride `inner`;
 * one work item per (outer, inner) row. */
__kernel void softmax(__global const float* X, int xo, __global float* Y, int yo, int outer, int n, int inner,
                      int log_) {
  int r = get_global_id(0);
  if (r >= outer * inner) return;
  int base = (r / inner) * n * inner + r % inner;
  __global const float* x = X + xo + base;
  __global float* y = Y + yo + base;
  float m = -INFINITY;
  for (int k = 0; k < n; k++) m = fmax(m, x[k * inner]);
  float s = 0.0f;
  for (int k = 0; k < n; k++) s += exp(x[k * inner] - m);
  float ls = log(s);
  for (int k = 0; k < n; k++) {
    float v = x[k * inner] - m;
    y[k * inner] = log_ ? v - ls : exp(v) / s;
  }
}

/* LayerNormalization of rows of n elements; Scale and B have n values
 * (step 1) or one (step 0). */
__kernel void layernorm(__global const float* X, int xo, __global const float* S, int so, __global const float* B,
                        int bo, int has_b, __global float* Y, int yo, int rows, int n, int s_step, int b_step,
                        float eps) {
  int r = get_global_id(0);
  if (r >= rows) return;
  __global const float* x = X + xo + r * n;
  __global float* y = Y + yo + r * n;
  float mean = 0.0f;
  for (int k = 0; k < n; k++) mean += x[k];
  mean /= n;
  float var = 0.0f;
  for (int k = 0; k < n; k++) var += (x[k] - mean) * (x[k] - mean);
  float inv = 1.0f / sqrt(var / n + eps);
  for (int k = 0; k < n; k++) {
    float v = (x[k] - mean) * inv * S[so + k * s_step];
    y[k] = has_b ? v + B[bo + k * b_step] : v;
  }
}
);

const char* const* pfw_cl_sources(void) {
  static const char* const sources[] = {common_src, nn_src, NULL};
  return sources;
}
