/* Conv as a packed GEMM, for every non-scalar ISA: per group,
 * Y[Mg, out_plane] = W[Mg, Cg * taps] x im2col(X)[Cg * taps, out_plane].
 * The im2col matrix is never formed: the sgemm driver asks for B one panel
 * block at a time and conv_pack_b reads it straight from X (a 1x1 stride-1
 * conv copies rows of X; otherwise each panel row is a run of one output row
 * with the padding written as zeros). Constant weights are packed once at
 * prepare. Bias and the fused activation run in the GEMM epilogue. */
#include <string.h>

#include "../kernels/sgemm.h"
#include "ops_common.h"

typedef struct conv_pack {
  const float* x;        /* this group's first input channel of batch 0 */
  int64_t x_batch;       /* floats between batches of X */
  int64_t in_plane;      /* floats per input channel */
  pfw_spatial g;
  bool pointwise;        /* 1x1 taps, unit stride, no padding: B rows are X rows */
} conv_pack;

/* Where an output column is: its (z, y, x) output coordinates. */
typedef struct col_pos {
  int64_t oz, oy, ox;
} col_pos;

/* Writes into one row of a block of B panels (row stride nr inside a
 * panel, panels `panel` floats apart), walking columns left to right. */
typedef struct panel_row {
  float* d;       /* the next column's slot */
  int32_t q, nr;  /* column within the current panel, panel width */
  int64_t panel;  /* floats from one panel to the next */
} panel_row;

/* Appends n values src[0], src[s], ... (zeros when src is NULL). */
static inline void put(panel_row* r, const float* src, int64_t s, int64_t n) {
  while (n > 0) {
    int64_t take = r->nr - r->q < n ? r->nr - r->q : n;
    if (!src)
      for (int64_t e = 0; e < take; e++) r->d[e] = 0.0f;
    else if (s == 1)
      for (int64_t e = 0; e < take; e++) r->d[e] = src[e];
    else if (s == 2) /* its own loop: a constant stride vectorises */
      for (int64_t e = 0; e < take; e++) r->d[e] = src[2 * e];
    else
      for (int64_t e = 0; e < take; e++) r->d[e] = src[e * s];
    if (src) src += take * s;
    n -= take;
    r->q += (int32_t)take;
    r->d += take;
    if (r->q == r->nr) r->q = 0, r->d += r->panel - r->nr;
  }
}

/* B row k = (channel xc, tap tz, ty, tx) over output columns [at, at + nc):
 * one output row (a run of x) at a time, its padding as zeros. */
static void pack_row(const pfw_spatial* g, const float* xc, int64_t tz, int64_t ty, int64_t tx, col_pos at,
                     int64_t nc, panel_row* r) {
  int64_t Ho = g->out[1], Wo = g->out[2], Win = g->in[2];
  int64_t off = tx * g->d[2] - g->pb[2], s = g->s[2];
  for (int64_t q = 0; q < nc;) {
    int64_t len = Wo - at.ox < nc - q ? Wo - at.ox : nc - q;
    int64_t iz = at.oz * g->s[0] - g->pb[0] + tz * g->d[0], iy = at.oy * g->s[1] - g->pb[1] + ty * g->d[1];
    if (iz < 0 || iz >= g->in[0] || iy < 0 || iy >= g->in[1]) {
      put(r, NULL, 1, len);
    } else {
      const float* xr = xc + (iz * g->in[1] + iy) * Win;
      /* Columns e in [lo, hi) read inside the row: (ox + e) * s + off in [0, Win). */
      int64_t first = at.ox * s + off, lo = 0, hi = len;
      if (first < 0) lo = (-first + s - 1) / s;
      if (first + (len - 1) * s >= Win) hi = first >= Win ? 0 : (Win - 1 - first) / s + 1;
      if (lo > len) lo = len;
      if (hi < lo) hi = lo;
      put(r, NULL, 1, lo);
      put(r, xr + first + lo * s, s, hi - lo);
      put(r, NULL, 1, len - hi);
    }
    q += len;
    at.ox += len;
    if (at.ox == Wo) {
      at.ox = 0;
      if (++at.oy == Ho) at.oy = 0, at.oz++;
    }
  }
}

/* Panels of B rows [k0, k0 + kc), columns [j0, j0 + nc), one row at a time
 * across all its panels, so each row's channel, tap and runs are found once. */
static void conv_pack_b(const void* p, int64_t batch, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int32_t nr,
                        int64_t panel_stride, float* dst) {
  const conv_pack* c = p;
  const pfw_spatial* g = &c->g;
  const float* x = c->x + batch * c->x_batch;
  int64_t kh = g->k[1], kw = g->k[2], taps = g->k[0] * kh * kw;
  int64_t Ho = g->out[1], Wo = g->out[2];
  col_pos at = {j0 / (Ho * Wo), j0 / Wo % Ho, j0 % Wo};
  for (int64_t kk = 0; kk < kc; kk++) {
    int64_t k = k0 + kk, t = k % taps;
    const float* xc = x + k / taps * c->in_plane;
    panel_row r = {dst + kk * nr, 0, nr, panel_stride};
    if (c->pointwise) put(&r, xc + j0, 1, nc);
    else pack_row(g, xc, t / (kh * kw), t / kw % kh, t % kw, at, nc, &r);
    if (r.q) put(&r, NULL, 1, nr - r.q); /* the last panel's columns past N */
  }
}

typedef struct conv_shape {
  int64_t N, C, M, G, Cg, Mg, K, in_plane, out_plane;
} conv_shape;

static void shape_of(const pfw_node* node, const pfw_spatial* g, conv_shape* s) {
  const pfw_tensor* X = node->in[0];
  s->N = X->dims[0];
  s->C = X->dims[1];
  s->M = node->in[1]->dims[0];
  s->G = pfw_attr_int(node, "group", 1);
  s->Cg = s->C / s->G;
  s->Mg = s->M / s->G;
  s->K = s->Cg * g->k[0] * g->k[1] * g->k[2];
  s->in_plane = g->in[0] * g->in[1] * g->in[2];
  s->out_plane = g->out[0] * g->out[1] * g->out[2];
}

/* The sgemm arguments for group `grp` (data pointers NULL at prepare). */
static void group_args(const pfw_node* node, const conv_shape* s, int64_t grp, const conv_pack* pack,
                       pfw_sgemm_args* a) {
  const pfw_tensor* B = node->n_in == 3 ? node->in[2] : NULL;
  const float* w = node->in[1]->data;
  const float* packed = pfw_sgemm_state_floats(node->state);
  memset(a, 0, sizeof *a);
  a->M = s->Mg;
  a->N = s->out_plane;
  a->K = s->K;
  a->batch = s->N;
  a->a = w ? w + grp * s->Mg * s->K : NULL;
  a->a_rs = s->K;
  a->a_cs = 1;
  if (packed) {
    const pfw_sgemm_kernel* k = pfw_sgemm_kernel_for(node->isa);
    a->a_packed = packed + (size_t)grp * pfw_sgemm_packed_a_floats(k, s->Mg, s->K);
  }
  a->pack_b = conv_pack_b;
  a->pack_ctx = pack;
  float* y = node->out[0]->data;
  a->y = y ? y + grp * s->Mg * s->out_plane : NULL;
  a->ldy = s->out_plane;
  a->y_batch = s->M * s->out_plane;
  a->alpha = 1.0f;
  a->bias = B && B->data ? (const float*)B->data + grp * s->Mg : NULL;
  pfw_activation_init(node, &a->act); /* checked at prepare */
}

/* Output planes narrower than the micro-kernel's columns fill them badly (49
 * columns of a 7x7 plane take two 32-wide panels, 77% used). Those convs run
 * transposed, Y^T = im2col^T W^T: the positions become A's rows, where a
 * short last tile costs only its rows, and the output channels (whole
 * panels in CNNs) the columns. W^T is packed at prepare; Y^T goes to scratch
 * and is transposed into Y with the bias and activation. Every element is
 * the same sum of the same products in the same order (FMA's multiplication
 * commutes) with the bias added last: both ways give the same bits. */
static bool transposed(const pfw_sgemm_kernel* k, const conv_shape* s, const pfw_node* node) {
  int64_t np = pfw_round_up(s->out_plane, k->nr), mp = pfw_round_up(s->Mg, k->nr);
  return node->in[1]->is_const && s->K >= 32 && s->out_plane * 5 < np * 4 && s->Mg * 20 >= mp * 19;
}

static void transposed_args(const pfw_node* node, const conv_shape* s, int64_t grp, const conv_pack* pack,
                            float* yt, pfw_sgemm_args* a) {
  const pfw_sgemm_kernel* k = pfw_sgemm_kernel_for(node->isa);
  const float* packed = pfw_sgemm_state_floats(node->state);
  memset(a, 0, sizeof *a);
  a->M = s->out_plane;
  a->N = s->Mg;
  a->K = s->K;
  a->batch = 1;
  a->pack_a = conv_pack_b; /* A^T = im2col: the same panels as B's, mr wide */
  a->pack_ctx = pack;
  a->b_packed = packed ? packed + (size_t)grp * pfw_sgemm_packed_b_floats(k, s->K, s->Mg) : NULL;
  a->y = yt;
  a->ldy = s->Mg;
  a->alpha = 1.0f;
}

bool pfw_conv_gemm_transposed(const pfw_node* node) {
  const pfw_sgemm_kernel* k = pfw_sgemm_kernel_for(node->isa);
  const pfw_tensor *X = node->in[0], *W = node->in[1];
  pfw_spatial g;
  conv_shape s;
  if (!k || pfw_spatial_init(node, X->rank - 2, X->dims + 2, W->dims + 2, false, &g) != PFW_OK) return false;
  shape_of(node, &g, &s);
  return transposed(k, &s, node);
}

/* Y^T's bytes in scratch, ahead of the sgemm's. */
static size_t yt_bytes(const conv_shape* s) { return pfw_align_size((size_t)(s->out_plane * s->Mg) * sizeof(float)); }

typedef struct untranspose {
  const float* yt;
  float* y;
  const float* bias;
  int64_t Mg, plane;
  pfw_activation act;
} untranspose;

/* Y rows [begin, end) from Y^T's columns, + bias, then the activation. */
static void untranspose_rows(void* p, int64_t begin, int64_t end) {
  const untranspose* u = p;
  for (int64_t m = begin; m < end; m++) {
    float* yr = u->y + m * u->plane;
    float b = u->bias ? u->bias[m] : 0.0f;
    for (int64_t q = 0; q < u->plane; q++) yr[q] = u->yt[q * u->Mg + m] + b;
    pfw_activation_row(&u->act, yr, u->plane);
  }
}

/* When threads would split Y's rows (few output columns, e.g. 7x7 planes),
 * every row task would build the same im2col panels; instead the threads
 * first pack one image's whole B together, and the GEMM reads it packed.
 * Bytes of that B (0 when not shared), 64-byte aligned. */
static size_t shared_b_bytes(const pfw_sgemm_kernel* k, const conv_shape* s, const pfw_sgemm_args* a,
                             const pfw_node* node) {
  if (node->num_threads <= 1 || !pfw_sgemm_splits_rows(k, a, node->num_threads)) return 0;
  return pfw_align_size(pfw_sgemm_packed_b_floats(k, s->K, s->out_plane) * sizeof(float));
}

#define PACK_ROWS 64 /* B rows per packing task */

typedef struct shared_pack {
  const conv_pack* pack;
  int64_t batch, K, N, ks, chunks_per_block;
  int32_t nr;
  float* dst;
} shared_pack;

/* Packs row chunks [begin, end): chunk i is rows r0.. of K block i / cpb. */
static void pack_chunks(void* p, int64_t begin, int64_t end) {
  const shared_pack* c = p;
  int64_t np = (c->N + c->nr - 1) / c->nr * c->nr;
  for (int64_t i = begin; i < end; i++) {
    int64_t k0 = i / c->chunks_per_block * c->ks, r0 = k0 + i % c->chunks_per_block * PACK_ROWS;
    int64_t kcb = c->K - k0 < c->ks ? c->K - k0 : c->ks, r1 = r0 + PACK_ROWS < k0 + kcb ? r0 + PACK_ROWS : k0 + kcb;
    if (r0 >= r1) continue; /* past a short last block */
    conv_pack_b(c->pack, c->batch, r0, r1 - r0, 0, c->N, c->nr, c->nr * kcb, c->dst + np * k0 + (r0 - k0) * c->nr);
  }
}

pfw_status pfw_conv_gemm_prepare(pfw_node* node, const pfw_spatial* g) {
  const pfw_sgemm_kernel* k = pfw_sgemm_kernel_for(node->isa);
  conv_shape s;
  shape_of(node, g, &s);
  const pfw_tensor* W = node->in[1];
  if (transposed(k, &s, node) && s.Mg * s.K > 0) {
    size_t per = pfw_sgemm_packed_b_floats(k, s.K, s.Mg);
    float* packed = pfw_sgemm_alloc_state(per * (size_t)s.G, &node->state);
    if (!packed) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory packing input 1 (W)");
    for (int64_t grp = 0; grp < s.G; grp++) /* B = W^T: element (k, m) at W[m * K + k] */
      pfw_sgemm_pack_b(k, (const float*)W->data + grp * s.Mg * s.K, 1, s.K, s.K, s.Mg, packed + per * grp);
    pfw_release_packed_input(node, W);
    pfw_sgemm_args a;
    transposed_args(node, &s, 0, NULL, NULL, &a);
    node->scratch_size = yt_bytes(&s) + pfw_sgemm_scratch_size(k, &a, node->num_threads);
    return PFW_OK;
  }
  if (W->is_const && s.Mg * s.K > 0) {
    size_t per = pfw_sgemm_packed_a_floats(k, s.Mg, s.K);
    float* packed = pfw_sgemm_alloc_state(per * (size_t)s.G, &node->state);
    if (!packed) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory packing input 1 (W)");
    for (int64_t grp = 0; grp < s.G; grp++)
      pfw_sgemm_pack_a(k, (const float*)W->data + grp * s.Mg * s.K, s.K, 1, s.Mg, s.K, packed + per * grp);
    pfw_release_packed_input(node, W);
  }
  pfw_sgemm_args a;
  group_args(node, &s, 0, NULL, &a);
  node->scratch_size = pfw_sgemm_scratch_size(k, &a, node->num_threads) + shared_b_bytes(k, &s, &a, node);
  return PFW_OK;
}

void pfw_conv_gemm_run(pfw_node* node, const pfw_spatial* g) {
  const pfw_sgemm_kernel* k = pfw_sgemm_kernel_for(node->isa);
  conv_shape s;
  shape_of(node, g, &s);
  conv_pack pack = {NULL, s.C * s.in_plane, s.in_plane, *g, true};
  for (int32_t i = 0; i < PFW_SPATIAL_MAX; i++)
    pack.pointwise = pack.pointwise && g->k[i] == 1 && g->s[i] == 1 && g->pb[i] == 0 && g->out[i] == g->in[i];
  if (transposed(k, &s, node) && s.Mg * s.K > 0) {
    float* yt = pfw_align_ptr(node->scratch);
    untranspose u = {yt, NULL, NULL, s.Mg, s.out_plane, {0}};
    pfw_activation_init(node, &u.act); /* checked at prepare */
    const pfw_tensor* B = node->n_in == 3 ? node->in[2] : NULL;
    for (int64_t grp = 0; grp < s.G; grp++)
      for (int64_t b = 0; b < s.N; b++) {
        pack.x = (const float*)node->in[0]->data + (b * s.C + grp * s.Cg) * s.in_plane;
        pfw_sgemm_args a;
        transposed_args(node, &s, grp, &pack, yt, &a);
        pfw_sgemm(k, &a, (char*)yt + yt_bytes(&s), node->pool, node->num_threads);
        u.y = (float*)node->out[0]->data + (b * s.M + grp * s.Mg) * s.out_plane;
        u.bias = B && B->data ? (const float*)B->data + grp * s.Mg : NULL;
        pfw_parallel_for(node->pool, s.Mg, untranspose_rows, &u);
      }
    return;
  }
  size_t shared = 0;
  float* packed_b = NULL;
  for (int64_t grp = 0; grp < s.G; grp++) {
    pack.x = (const float*)node->in[0]->data + grp * s.Cg * s.in_plane;
    pfw_sgemm_args a;
    group_args(node, &s, grp, &pack, &a);
    if (grp == 0) shared = shared_b_bytes(k, &s, &a, node);
    if (!shared) {
      pfw_sgemm(k, &a, node->scratch, node->pool, node->num_threads);
      continue;
    }
    packed_b = pfw_align_ptr(node->scratch);
    int64_t ks = pfw_sgemm_kstep(s.K), cpb = (ks + PACK_ROWS - 1) / PACK_ROWS;
    shared_pack sp = {&pack, 0, s.K, s.out_plane, ks, cpb, k->nr, packed_b};
    float* y = a.y;
    a.batch = 1;
    a.pack_b = NULL;
    a.b_packed = packed_b;
    for (int64_t b = 0; b < s.N; b++) { /* one image's B at a time */
      sp.batch = b;
      pfw_parallel_for(node->pool, (s.K + ks - 1) / ks * cpb, pack_chunks, &sp);
      a.y = y + b * a.y_batch;
      pfw_sgemm(k, &a, (char*)packed_b + shared, node->pool, node->num_threads);
    }
  }
}
