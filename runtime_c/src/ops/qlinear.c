/* The integer products: MatMulInteger and ConvInteger (int32 out),
 * QLinearMatMul and QLinearConv (requantised to uint8/int8), with ONNX's
 * semantics: acc = sum (x - x_zero)(w - w_zero) (+ B) in int32, then
 * y = saturate(round_half_even(acc * x_scale * w_scale / y_scale) + y_zero),
 * the multiplier taken in float32 as the reference computes it and applied
 * exactly in integers (quant.h).
 *
 * Above the scalar level the product runs on the packed integer GEMM
 * (kernels/qgemm.h) with the weights as its A operand, packed once when
 * constant: W for Conv (a group's output channels are rows), B transposed
 * for MatMul (output columns are rows). The scalar level is the reference:
 * direct loops. Both hand the same int32 accumulators to the same store
 * function, so every ISA and thread count gives the same integers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/qgemm.h"
#include "qlinear.h"


static const qsig SIG_MATMUL_INTEGER = {0, -1, 2, 1, -1, 3, -1, -1, -1, false};
static const qsig SIG_QLINEAR_MATMUL = {0, 1, 2, 3, 4, 5, 6, 7, -1, false};
static const qsig SIG_CONV_INTEGER = {0, -1, 2, 1, -1, 3, -1, -1, -1, true};
static const qsig SIG_QLINEAR_CONV = {0, 1, 2, 3, 4, 5, 6, 7, 8, true};

static const pfw_tensor* opt_in(const pfw_node* node, int32_t i) {
  return i >= 0 && i < node->n_in ? node->in[i] : NULL;
}


/* Conv: the shape checks of Conv itself. MatMul: x [..., M, K] times w
 * [K, N] or w [..., K, N] with x's batch dims (or x 2-D). */
static pfw_status geom_of(const pfw_node* node, const qsig* sig, qgeom* q, int32_t* rank, int64_t* dims) {
  const pfw_tensor *X = node->in[sig->x], *W = node->in[sig->w];
  memset(q, 0, sizeof *q);
  q->sig = sig;
  if (sig->conv) {
    pfw_status st = pfw_conv_shape(node, sig->x, sig->w, &q->g, &q->groups, dims);
    if (st != PFW_OK) return st;
    *rank = X->rank;
    q->images = X->dims[0];
    q->C = X->dims[1];
    q->Cg = q->C / q->groups;
    q->out_rows = W->dims[0];
    q->rows = W->dims[0] / q->groups;
    q->K = pfw_numel(W) / (W->dims[0] ? W->dims[0] : 1);
    q->out_plane = 1;
    for (int32_t i = 2; i < X->rank; i++) q->out_plane *= dims[i];
    q->cols = q->out_plane;
    q->batch = q->images * q->groups;
    return PFW_OK;
  }
  if (X->rank < 2 || W->rank < 2)
    return pfw_error(PFW_ERR_UNSUPPORTED, "inputs %d and %d have ranks %d and %d; 1-D operands are not supported",
                     (int)sig->x, (int)sig->w, (int)X->rank, (int)W->rank);
  q->cols = X->dims[X->rank - 2];
  q->K = X->dims[X->rank - 1];
  q->rows = q->out_rows = W->dims[W->rank - 1];
  if (W->dims[W->rank - 2] != q->K)
    return pfw_error(PFW_ERR_SHAPE, "inner dimensions differ: input %d has %lld columns, input %d has %lld rows",
                     (int)sig->x, (long long)q->K, (int)sig->w, (long long)W->dims[W->rank - 2]);
  const pfw_tensor* B = X->rank >= W->rank ? X : W; /* the batch dims of the output */
  bool ok = W->rank == 2 || X->rank == 2 || W->rank == X->rank;
  for (int32_t k = 0; ok && W->rank > 2 && X->rank > 2 && k < X->rank - 2; k++) ok = X->dims[k] == W->dims[k];
  if (!ok)
    return pfw_error(PFW_ERR_UNSUPPORTED, "batch dims of inputs %d and %d must be equal (or one input 2-D)",
                     (int)sig->x, (int)sig->w);
  q->w_shared = W->rank == 2;
  q->batch = 1;
  for (int32_t k = 0; k < B->rank - 2; k++) q->batch *= dims[k] = B->dims[k];
  dims[B->rank - 2] = q->cols;
  dims[B->rank - 1] = q->rows;
  *rank = B->rank;
  return PFW_OK;
}

/* ---- operands of the integer GEMM -------------------------------------- */

/* Batches whose packed weights differ: Conv groups, MatMul batches of w;
 * and the set batch b uses (Conv batches are group * images + image). */
static int64_t weight_sets(const qgeom* q) { return q->sig->conv ? q->groups : q->w_shared ? 1 : q->batch; }
static int64_t weight_set(const qgeom* q, int64_t b) { return q->sig->conv ? b / q->images : q->w_shared ? 0 : b; }

/* Weight set `set` as a qmat whose lines are output rows: Conv W is [M, K]
 * row-major per group; MatMul w [.., K, N] is read transposed. */
static pfw_qmat weight_mat(const pfw_node* node, const qgeom* q, int64_t set, const int32_t* zero, int64_t zstep) {
  const pfw_tensor* W = node->in[q->sig->w];
  pfw_qmat m = {(const int8_t*)W->data + set * q->rows * q->K, W->dtype == PFW_INT8, q->K, 1, zero, zstep};
  if (!q->sig->conv) {
    m.rs = 1;
    m.cs = q->rows;
  }
  return m;
}

/* Zero points as int32, one per row or column they step with (1 when one
 * value serves all). */
static void zeros_of(const pfw_tensor* z, int64_t n, int32_t* out) {
  for (int64_t i = 0; i < n; i++) out[i] = pfw_quant_zero_at(z, z && pfw_numel(z) > 1 ? i : 0);
}

/* Packs every weight set (W of each group / each batch) into dst. */
static void pack_weights(const pfw_node* node, const qgeom* q, const pfw_qgemm_kernel* k, int32_t* wz,
                         int16_t* dst) {
  const pfw_tensor* z = opt_in(node, q->sig->wz);
  zeros_of(z, q->out_rows, wz);
  size_t per = pfw_qgemm_packed_a_size(k, q->rows, q->K);
  for (int64_t s = 0; s < weight_sets(q); s++) {
    int64_t g0 = q->sig->conv ? s * q->rows : 0; /* first output channel of the set */
    pfw_qmat m = weight_mat(node, q, s, wz + g0, 1);
    pfw_qgemm_pack_a(k, &m, q->rows, q->K, dst + (size_t)s * per);
  }
}

/* ---- the output stage ------------------------------------------------------- */


/* Writes rows [i0, i0+m) x columns [j0, j0+n) of batch b: Conv output
 * (image, group) planes, or MatMul's y[b][col][row]. */
void pfw_qstore_tile(const void* ctx, int64_t b, int64_t i0, int32_t m, int64_t j0, int32_t n, const int32_t* c,
                       int64_t ldc) {
  const qstore* s = ctx;
  const qgeom* q = s->q;
  if (!s->mult && !q->sig->conv) { /* MatMulInteger: y[b][col][row], so a tile column is a run of y */
    int32_t* y = (int32_t*)s->y + (b * q->cols + j0) * q->rows + i0;
    for (int32_t j = 0; j < n; j++)
      for (int32_t r = 0; r < m; r++) y[j * q->rows + r] = c[r * ldc + j];
    return;
  }
  for (int32_t r = 0; r < m; r++) {
    int64_t ch, base, step;
    if (q->sig->conv) {
      int64_t img = b % q->images, grp = b / q->images;
      ch = grp * q->rows + i0 + r;
      base = (img * q->out_rows + ch) * q->out_plane + j0;
      step = 1;
    } else {
      ch = i0 + r;
      base = (b * q->cols + j0) * q->rows + ch;
      step = q->rows;
    }
    const int32_t* cr = c + r * ldc;
    if (!s->mult) {
      int32_t* y = s->y;
      for (int32_t j = 0; j < n; j++) y[base + j * step] = cr[j];
      continue;
    }
    uint32_t bias = s->bias ? (uint32_t)s->bias[ch] : 0;
    if (s->row) {
      s->row(cr, ldc, 1, n, (int32_t)bias, s->dmult[ch], s->yz, s->lo, s->hi, (int8_t*)s->y + base, n,
             s->ydt == PFW_INT8);
      continue;
    }
    pfw_requant mu = s->mult[ch];
    for (int32_t j = 0; j < n; j++) {
      int64_t v = pfw_requant_apply((int32_t)((uint32_t)cr[j] + bias), mu) + s->yz;
      int32_t o = (int32_t)(v < s->lo ? s->lo : v > s->hi ? s->hi : v);
      if (s->ydt == PFW_UINT8) ((uint8_t*)s->y)[base + j * step] = (uint8_t)o;
      else ((int8_t*)s->y)[base + j * step] = (int8_t)o;
    }
  }
}

void pfw_qstore_wide(const qstore* s, int64_t b, int64_t row, int32_t* c, int64_t rows, int64_t cols, int64_t ld,
                     uint8_t* tmp) {
  const qgeom* q = s->q;
  if (s->row && s->mult && q->sig->conv) {
    int64_t ch = b / q->images * q->rows + row;
    uint8_t* y = (uint8_t*)s->y + ((b % q->images) * q->out_rows + ch) * q->out_plane;
    int32_t bias = s->bias ? s->bias[ch] : 0;
    bool is_signed = s->ydt == PFW_INT8;
    if (cols >= 32) { /* rows long enough to fill the vectors */
      s->row(c, ld, rows, cols, bias, s->dmult[ch], s->yz, s->lo, s->hi, y, cols, is_signed);
      return;
    }
    /* Short rows (7 x 7, 14 x 14 planes): the run whole, then each row's
     * bytes in 8-byte words; a word past a row lands in the rows after it,
     * written later, and none passes the plane's end. */
    s->row(c, rows * ld, 1, rows * ld, bias, s->dmult[ch], s->yz, s->lo, s->hi, tmp, rows * ld, is_signed);
    for (int64_t r = 0; r < rows; r++) {
      int64_t k = 0;
      for (; k < cols && r * cols + k + 8 <= rows * cols; k += 8) memcpy(y + r * cols + k, tmp + r * ld + k, 8);
      if (k < cols) memcpy(y + r * cols + k, tmp + r * ld + k, (size_t)(cols - k));
    }
    return;
  }
  for (int64_t r = 1; r < rows; r++) memmove(c + r * cols, c + r * ld, (size_t)cols * sizeof(int32_t));
  pfw_qstore_tile(s, b, row, 1, 0, (int32_t)(rows * cols), c, rows * cols);
}

/* ---- the reference --------------------------------------------------------------- */

typedef struct qref {
  const pfw_node* node;
  const qgeom* q;
  const qinput* in;
  const int32_t* wz; /* per output row */
  const qstore* st;
} qref;

static inline int32_t qval(const void* p, bool is_signed, int64_t i) {
  return is_signed ? ((const int8_t*)p)[i] : ((const uint8_t*)p)[i];
}

#define REF_COLS 256

/* Tasks are (batch, output row) pairs; each computes its row in chunks. */
static void ref_rows(void* p, int64_t begin, int64_t end) {
  const qref* r = p;
  const qgeom* q = r->q;
  const pfw_tensor* W = r->node->in[q->sig->w];
  bool ws = W->dtype == PFW_INT8;
  uint32_t acc[REF_COLS];
  for (int64_t task = begin; task < end; task++) {
    int64_t b = task / q->rows, row = task % q->rows;
    int64_t ch = q->sig->conv ? b / q->images * q->rows + row : row;
    pfw_qmat wm = weight_mat(r->node, q, weight_set(q, b), NULL, 0);
    int32_t wz = r->wz[ch];
    for (int64_t j0 = 0; j0 < q->cols; j0 += REF_COLS) {
      int64_t n = q->cols - j0 < REF_COLS ? q->cols - j0 : REF_COLS;
      for (int64_t j = 0; j < n; j++) {
        uint32_t s = 0;
        if (q->sig->conv) {
          const pfw_spatial* g = &q->g;
          int64_t o = j0 + j, ox = o % g->out[2], oy = o / g->out[2] % g->out[1], oz = o / g->out[2] / g->out[1];
          int64_t img = b % q->images, grp = b / q->images, in_plane = g->in[0] * g->in[1] * g->in[2];
          for (int64_t ci = 0; ci < q->Cg; ci++)
            for (int64_t tz = 0; tz < g->k[0]; tz++)
              for (int64_t ty = 0; ty < g->k[1]; ty++)
                for (int64_t tx = 0; tx < g->k[2]; tx++) {
                  int64_t iz = oz * g->s[0] - g->pb[0] + tz * g->d[0];
                  int64_t iy = oy * g->s[1] - g->pb[1] + ty * g->d[1];
                  int64_t ix = ox * g->s[2] - g->pb[2] + tx * g->d[2];
                  if (iz < 0 || iz >= g->in[0] || iy < 0 || iy >= g->in[1] || ix < 0 || ix >= g->in[2]) continue;
                  int64_t xi = (img * q->C + grp * q->Cg + ci) * in_plane + (iz * g->in[1] + iy) * g->in[2] + ix;
                  int64_t k = ((ci * g->k[0] + tz) * g->k[1] + ty) * g->k[2] + tx;
                  int32_t xv = qval(r->in->x, r->in->is_signed, xi) - r->in->xz;
                  int32_t wv = qval(wm.data, ws, row * wm.rs + k * wm.cs) - wz;
                  s += (uint32_t)(xv * wv);
                }
        } else {
          int64_t col = j0 + j;
          const pfw_tensor* X = r->node->in[q->sig->x];
          int64_t xb = X->rank > 2 ? b * q->cols * q->K : 0;
          int32_t xz = r->in->xzs[col * r->in->xz_step];
          for (int64_t k = 0; k < q->K; k++) {
            int32_t xv = qval(r->in->x, r->in->is_signed, xb + col * q->K + k) - xz;
            int32_t wv = qval(wm.data, ws, row * wm.rs + k * wm.cs) - wz;
            s += (uint32_t)(xv * wv);
          }
        }
        acc[j] = s;
      }
      pfw_qstore_tile(r->st, b, row, 1, j0, (int32_t)n, (const int32_t*)acc, REF_COLS);
    }
  }
}

/* ---- prepare and run --------------------------------------------------------------- */

/* node->state: int32 weight zero points per output row, then (above the
 * scalar level, when the weights are constant) the packed weights. */
typedef struct qstate {
  bool packed;
  int32_t* wz;
  int16_t* a;
  const pfw_qgemm_a8* a8; /* instead of a: the byte path's packing (one weight set that fits int8) */
  bool direct;            /* QLinearConv on a8 without im2col (qconv_direct.c) */
  pfw_requant* mult;      /* the multipliers per output row when the scales are constant, else NULL, */
  double* dmult;          /* and as doubles */
  int8_t* dw_w8;          /* depthwise: constant weights minus their zero points, when all fit int8 */
} qstate;

/* The weights for the byte path: int8 rows of W minus its zero point in
 * the byte path's K order (pfw_qconv_k8 for Conv, 0 in padded channels),
 * *K8 long; NULL where the int16 path serves instead (several weight
 * sets, a value outside int8, no memory). */
static int8_t* weights_i8(const pfw_node* node, const qgeom* q, const pfw_qgemm_kernel* k, int64_t* K8) {
  if (!k->micro_u8 || weight_sets(q) != 1) return NULL;
  int64_t taps = q->sig->conv ? q->g.k[0] * q->g.k[1] * q->g.k[2] : 1, cg4 = (q->Cg + 3) / 4 * 4;
  *K8 = q->sig->conv ? pfw_qconv_k8(q) : q->K;
  int32_t* wz = malloc((size_t)q->out_rows * sizeof(int32_t));
  int8_t* w = calloc((size_t)(q->rows * *K8) + 1, 1);
  bool ok = wz && w;
  if (ok) {
    zeros_of(opt_in(node, q->sig->wz), q->out_rows, wz);
    pfw_qmat m = weight_mat(node, q, 0, wz, 1);
    for (int64_t r = 0; r < q->rows && ok; r++)
      for (int64_t c = 0; c < q->K && ok; c++) {
        int32_t v = pfw_qmat_at(&m, r, c, wz[r]);
        ok = v >= -128 && v <= 127;
        w[r * *K8 + (q->sig->conv ? c % taps * cg4 + c / taps : c)] = (int8_t)v;
      }
  }
  free(wz);
  if (!ok) free(w);
  return ok ? w : NULL;
}

/* Scratch: [x zero points (cols int32)] [multipliers (out_rows)] [packed
 * weights when not constant] [qgemm scratch]. */

static pfw_status check_operands(const pfw_node* node, const qsig* sig, const qgeom* q) {
  const pfw_tensor *X = node->in[sig->x], *W = node->in[sig->w];
  pfw_status st;
  if (X->dtype != PFW_UINT8 && X->dtype != PFW_INT8)
    return pfw_error(PFW_ERR_UNSUPPORTED, "input %d is %s; expected uint8 or int8", (int)sig->x,
                     pfw_dtype_name(X->dtype));
  if (W->dtype != PFW_UINT8 && W->dtype != PFW_INT8)
    return pfw_error(PFW_ERR_UNSUPPORTED, "input %d is %s; expected uint8 or int8", (int)sig->w,
                     pfw_dtype_name(W->dtype));
  int64_t xz_n = sig->conv || sig->xs >= 0 ? 1 : q->cols; /* MatMulInteger: per row of x */
  if ((st = pfw_quant_check_zero(node, sig->xz, "x zero point", X->dtype, xz_n)) != PFW_OK) return st;
  if ((st = pfw_quant_check_zero(node, sig->wz, "w zero point", W->dtype, q->out_rows)) != PFW_OK) return st;
  if (sig->xs < 0) return PFW_OK;
  if ((st = pfw_quant_check_scale(node, sig->xs, "x scale", 1)) != PFW_OK) return st;
  if ((st = pfw_quant_check_scale(node, sig->ws, "w scale", q->out_rows)) != PFW_OK) return st;
  if ((st = pfw_quant_check_scale(node, sig->ys, "y scale", 1)) != PFW_OK) return st;
  const pfw_tensor* yz = opt_in(node, sig->yz);
  if (yz && yz->dtype != PFW_UINT8 && yz->dtype != PFW_INT8)
    return pfw_error(PFW_ERR_UNSUPPORTED, "input %d (y zero point) is %s; expected uint8 or int8", (int)sig->yz,
                     pfw_dtype_name(yz->dtype));
  if (yz && (st = pfw_quant_check_zero(node, sig->yz, "y zero point", yz->dtype, 1)) != PFW_OK) return st;
  const pfw_tensor* B = opt_in(node, sig->b);
  if (B) {
    if ((st = pfw_check_input(node, sig->b, PFW_INT32, 1)) != PFW_OK) return st;
    if (B->dims[0] != q->out_rows)
      return pfw_error(PFW_ERR_SHAPE, "input %d (B) has %lld values, expected %lld (one per output channel)",
                       (int)sig->b, (long long)B->dims[0], (long long)q->out_rows);
  }
  return PFW_OK;
}

/* The multiplier x_scale * w_scale / y_scale per output row, in the scales'
 * precision as the reference computes it: float32, or float16 steps when
 * all three are float16 (an exact float product of two halves rounded
 * once, and a float quotient rounded once more: both correctly rounded). */
static pfw_status multipliers(const pfw_node* node, const qsig* sig, int64_t n, pfw_requant* out) {
  const pfw_tensor *xs = node->in[sig->xs], *ws = node->in[sig->ws], *ys = node->in[sig->ys];
  bool half = xs->dtype == PFW_FLOAT16 && ws->dtype == PFW_FLOAT16 && ys->dtype == PFW_FLOAT16;
  float a = pfw_quant_scale_at(xs, 0), c = pfw_quant_scale_at(ys, 0);
  pfw_status st = pfw_quant_scale_ok(a, "x scale", 0, xs->is_const ? PFW_ERR_INVALID_MODEL : PFW_ERR_INVALID_ARGUMENT);
  if (st == PFW_OK)
    st = pfw_quant_scale_ok(c, "y scale", 0, ys->is_const ? PFW_ERR_INVALID_MODEL : PFW_ERR_INVALID_ARGUMENT);
  for (int64_t i = 0; i < n && st == PFW_OK; i++) {
    int64_t wi = pfw_numel(ws) > 1 ? i : 0;
    float b = pfw_quant_scale_at(ws, wi);
    if ((st = pfw_quant_scale_ok(b, "w scale", wi, ws->is_const ? PFW_ERR_INVALID_MODEL : PFW_ERR_INVALID_ARGUMENT)))
      break;
    float m = half ? pfw_half_to_float(pfw_float_to_half(
                         pfw_half_to_float(pfw_float_to_half(a * b)) / c))
                   : a * b / c;
    out[i] = pfw_requant_of(m);
  }
  return st;
}

static pfw_status qprod_prepare(pfw_node* node, const qsig* sig, int32_t min_in, int32_t max_in) {
  pfw_status st = pfw_need_io(node, min_in, max_in);
  if (st != PFW_OK) return st;
  if (!node->in[sig->w]) return pfw_error(PFW_ERR_INVALID_MODEL, "input %d (weights) is required", (int)sig->w);
  qgeom q;
  int32_t rank = 0;
  int64_t dims[PFW_MAX_RANK];
  if ((st = geom_of(node, sig, &q, &rank, dims)) != PFW_OK) return st;
  if ((st = check_operands(node, sig, &q)) != PFW_OK) return st;
  const pfw_tensor* yz = opt_in(node, sig->yz);
  pfw_dtype out = sig->xs < 0 ? PFW_INT32 : yz ? yz->dtype : node->in[sig->x]->dtype;
  if ((st = pfw_set_output(node->out[0], out, rank, dims)) != PFW_OK) return st;
  const pfw_qgemm_kernel* k = pfw_qgemm_kernel_for(node->isa);
  const pfw_tensor *W = node->in[sig->w], *wz = opt_in(node, sig->wz);
  bool dw = k && pfw_qconv_depthwise_applies(&q);
  bool pack_now = k && !dw && W->is_const && (!wz || wz->is_const);
  size_t per = k ? pfw_qgemm_packed_a_size(k, q.rows, q.K) : 0, sets = (size_t)weight_sets(&q);
  int64_t K8 = q.K;
  int8_t* w8 = pack_now ? weights_i8(node, &q, k, &K8) : NULL;
  pfw_qmat m8 = {w8, true, K8, 1, NULL, 0};
  size_t a8 = w8 ? pfw_qgemm_a8_size(k, &m8, q.rows, K8) : 0;
  const pfw_tensor *xs = opt_in(node, sig->xs), *ws = opt_in(node, sig->ws), *ys = opt_in(node, sig->ys);
  bool const_scales = xs && xs->is_const && ws->is_const && ys->is_const;
  size_t mult_bytes = const_scales ? pfw_align_size((size_t)q.out_rows * (sizeof(pfw_requant) + sizeof(double))) : 0;
  bool dw8 = dw && pfw_qdw_u8_row_for(node->isa) && W->is_const && (!wz || wz->is_const);
  size_t dw8_bytes = dw8 ? pfw_align_size((size_t)pfw_numel(W)) : 0;
  size_t bytes = pfw_align_size(sizeof(qstate)) + pfw_align_size((size_t)q.out_rows * sizeof(int32_t)) + mult_bytes +
                 dw8_bytes + (a8 ? a8 : pack_now ? per * sets * sizeof(int16_t) : 0);
  qstate* s = calloc(1, bytes);
  if (!s) {
    free(w8);
    return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory for the node's packed weights");
  }
  node->state = s;
  s->wz = (int32_t*)((uint8_t*)s + pfw_align_size(sizeof(qstate)));
  s->a = (int16_t*)((uint8_t*)s->wz + pfw_align_size((size_t)q.out_rows * sizeof(int32_t)) + mult_bytes + dw8_bytes);
  if (dw8) { /* per channel, its taps minus its zero point; any that leaves int8 keeps the int16 path */
    s->dw_w8 = (int8_t*)s->a - dw8_bytes;
    zeros_of(wz, q.out_rows, s->wz);
    int64_t taps = pfw_numel(W) / (q.out_rows ? q.out_rows : 1);
    for (int64_t i = 0; i < pfw_numel(W) && s->dw_w8; i++) {
      int32_t v = (W->dtype == PFW_INT8 ? ((const int8_t*)W->data)[i] : ((const uint8_t*)W->data)[i]) - s->wz[i / taps];
      if (v < -128 || v > 127) s->dw_w8 = NULL;
      else s->dw_w8[i] = (int8_t)v;
    }
  }
  /* Constant scales: the multipliers once (an invalid scale is left for run to report) */
  if (const_scales) {
    s->mult = (pfw_requant*)((uint8_t*)s->wz + pfw_align_size((size_t)q.out_rows * sizeof(int32_t)));
    s->dmult = (double*)(s->mult + q.out_rows);
    if (multipliers(node, sig, q.out_rows, s->mult) != PFW_OK) {
      pfw_error_clear();
      s->mult = NULL;
    }
    for (int64_t i = 0; s->mult && i < q.out_rows; i++) s->dmult[i] = ldexp((double)s->mult[i].mant, -s->mult[i].shift);
  }
  if (a8) {
    zeros_of(opt_in(node, sig->wz), q.out_rows, s->wz);
    s->a8 = pfw_qgemm_pack_a8(k, &m8, q.rows, K8, s->a);
    s->packed = true;
    pfw_release_packed_input(node, W);
  } else if (pack_now) {
    pack_weights(node, &q, k, s->wz, s->a);
    s->packed = true;
    pfw_release_packed_input(node, W);
  }
  size_t scratch = pfw_align_size((size_t)q.cols * sizeof(int32_t)) +
                   pfw_align_size((size_t)q.out_rows * (sizeof(pfw_requant) + sizeof(double) + sizeof(int32_t)));
  /* the direct Conv folds the x zero point into the bias: QLinearConv only */
  s->direct = a8 && sig->xs >= 0 && pfw_qconv_direct_applies(&q, k);
  if (dw) {
    scratch += pfw_qconv_depthwise_scratch(&q, node->num_threads);
  } else if (s->direct) {
    scratch += pfw_qconv_direct_scratch(&q, k, node->num_threads);
  } else if (k) {
    pfw_qgemm_args a = {.M = q.rows, .N = q.cols, .K = a8 ? K8 : q.K, .batch = q.batch};
    if (!pack_now) scratch += pfw_align_size(per * sets * sizeof(int16_t));
    scratch += pfw_qgemm_scratch_size(k, &a, node->num_threads);
  }
  node->scratch_size = scratch;
  free(w8);
  return PFW_OK;
}

static pfw_status qprod_run(pfw_node* node, const qsig* sig) {
  qgeom q;
  int32_t rank;
  int64_t dims[PFW_MAX_RANK];
  geom_of(node, sig, &q, &rank, dims); /* checked at prepare */
  if (pfw_numel(node->out[0]) == 0) return PFW_OK;
  qstate* s = node->state;
  uint8_t* scratch = node->scratch;
  int32_t* xzs = (int32_t*)scratch;
  pfw_requant* mult = (pfw_requant*)(scratch + pfw_align_size((size_t)q.cols * sizeof(int32_t)));
  double* dmult = (double*)(mult + q.out_rows);
  int32_t* bias_folded = (int32_t*)(dmult + q.out_rows);
  uint8_t* rest =
      (uint8_t*)mult + pfw_align_size((size_t)q.out_rows * (sizeof(pfw_requant) + sizeof(double) + sizeof(int32_t)));
  const pfw_tensor *X = node->in[sig->x], *xz = opt_in(node, sig->xz), *yz = opt_in(node, sig->yz);
  qstore st = {&q, node->out[0]->data, node->out[0]->dtype, NULL, NULL, NULL, NULL, 0, 0, 0};
  if (sig->xs >= 0) {
    pfw_status e = s->mult ? PFW_OK : multipliers(node, sig, q.out_rows, mult);
    if (e != PFW_OK) return e;
    st.mult = s->mult ? s->mult : mult;
    st.yz = pfw_quant_zero_at(yz, 0);
    pfw_quant_range(st.ydt, &st.lo, &st.hi);
    const pfw_tensor* B = opt_in(node, sig->b);
    st.bias = B ? B->data : NULL;
    /* The largest |acc + bias|: K products of at most 255 * 255, plus B. */
    int64_t bmax = 0;
    for (int64_t i = 0; B && i < q.out_rows; i++) {
      int64_t v = st.bias[i] < 0 ? -(int64_t)st.bias[i] : st.bias[i];
      bmax = v > bmax ? v : bmax;
    }
    if (sig->conv && q.K * 255 * 255 + bmax < (INT64_C(1) << 29)) {
      for (int64_t i = 0; !s->mult && i < q.out_rows; i++) dmult[i] = ldexp((double)mult[i].mant, -mult[i].shift);
      st.dmult = s->mult ? s->dmult : dmult;
      st.row = pfw_requant_row_for(node->isa);
    }
  }
  qinput in = {&q, X->data, X->dtype == PFW_INT8, pfw_quant_zero_at(xz, 0), xzs, 0,
               pfw_interleave4_u8_for(node->isa)};
  bool per_row = !sig->conv && xz && pfw_numel(xz) > 1;
  zeros_of(xz, per_row ? q.cols : 1, xzs);
  in.xz_step = per_row ? 1 : 0;
  /* The byte path's x-zero correction (zero times the weights' row sum) is
   * one number per channel for Conv: folded into the bias it costs nothing
   * per output. Wrapping like the accumulators; the sum is the same. */
  bool fold = s->a8 && st.mult && sig->conv;
  if (fold) {
    uint32_t zb = (uint32_t)qinput_zero_u8(&in) - (uint32_t)s->a8->u8_offset;
    for (int64_t i = 0; i < q.out_rows; i++)
      bias_folded[i] = (int32_t)((st.bias ? (uint32_t)st.bias[i] : 0) - zb * (uint32_t)s->a8->rowsum[i]);
    st.bias = bias_folded;
  }
  const pfw_qgemm_kernel* k = pfw_qgemm_kernel_for(node->isa);
  if (!k) {
    zeros_of(opt_in(node, sig->wz), q.out_rows, s->wz);
    qref r = {node, &q, &in, s->wz, &st};
    pfw_parallel_for(node->pool, q.batch * q.rows, ref_rows, &r);
    return PFW_OK;
  }
  if (pfw_qconv_depthwise_applies(&q)) {
    zeros_of(opt_in(node, sig->wz), q.out_rows, s->wz);
    pfw_qconv_depthwise_run(node, &q, &in, s->wz, s->dw_w8, &st, rest);
    return PFW_OK;
  }
  if (s->direct) {
    pfw_qconv_direct_run(node, &q, &in, s->a8, &st, k, rest);
    return PFW_OK;
  }
  const int16_t* a = s->a;
  if (!s->packed) {
    pack_weights(node, &q, k, s->wz, (int16_t*)rest);
    a = (const int16_t*)rest;
    rest += pfw_align_size(pfw_qgemm_packed_a_size(k, q.rows, q.K) * (size_t)weight_sets(&q) * sizeof(int16_t));
  }
  pfw_qgemm_args g = {.M = q.rows, .N = q.cols, .K = s->a8 ? s->a8->K : q.K, .batch = q.batch, .a_packed = a,
                      .store = pfw_qstore_tile, .store_ctx = &st, .a8 = s->a8, .zero_folded = fold,
                      .b_offset = qinput_zero_u8(&in)};
  size_t per = pfw_qgemm_packed_a_size(k, q.rows, q.K);
  if (sig->conv) {
    /* batch b = group * images + image: the packed W of group b / images */
    g.a_batch = (int64_t)per;
    g.a_every = q.images;
    g.pack_b = pfw_qconv_im2col;
    g.pack_b_u8 = pfw_qconv_im2col_u8;
    g.pack_ctx = &in;
  } else {
    g.a_batch = q.w_shared ? 0 : (int64_t)per;
    g.a_every = 1;
    /* B = x transposed: element (k, col) at x + col*K + k */
    g.b = (pfw_qmat){X->data, X->dtype == PFW_INT8, 1, q.K, xzs, in.xz_step};
    g.b_batch = X->rank > 2 ? q.cols * q.K : 0;
  }
  pfw_qgemm(k, &g, rest, node->pool, node->num_threads);
  return PFW_OK;
}

static pfw_status mmi_prepare(pfw_node* n) { return qprod_prepare(n, &SIG_MATMUL_INTEGER, 2, 4); }
static pfw_status mmi_run(pfw_node* n) { return qprod_run(n, &SIG_MATMUL_INTEGER); }
static pfw_status qmm_prepare(pfw_node* n) { return qprod_prepare(n, &SIG_QLINEAR_MATMUL, 8, 8); }
static pfw_status qmm_run(pfw_node* n) { return qprod_run(n, &SIG_QLINEAR_MATMUL); }
static pfw_status ci_prepare(pfw_node* n) { return qprod_prepare(n, &SIG_CONV_INTEGER, 2, 4); }
static pfw_status ci_run(pfw_node* n) { return qprod_run(n, &SIG_CONV_INTEGER); }
static pfw_status qc_prepare(pfw_node* n) { return qprod_prepare(n, &SIG_QLINEAR_CONV, 8, 9); }
static pfw_status qc_run(pfw_node* n) { return qprod_run(n, &SIG_QLINEAR_CONV); }

const pfw_op pfw_op_MatMulInteger = {PFW_OP_MatMulInteger, mmi_prepare, mmi_run, 0};
const pfw_op pfw_op_QLinearMatMul = {PFW_OP_QLinearMatMul, qmm_prepare, qmm_run, 0};
const pfw_op pfw_op_ConvInteger = {PFW_OP_ConvInteger, ci_prepare, ci_run, 0};
const pfw_op pfw_op_QLinearConv = {PFW_OP_QLinearConv, qc_prepare, qc_run, 0};
