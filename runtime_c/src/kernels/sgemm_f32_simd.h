/* The sgemm micro-kernel, written once in the vector primitives of
 * simd_<isa>.h: an MR x (2 * PFW_VL) tile of C in 2 * MR accumulators, two B
 * vectors and one broadcast A value per k (AVX2: 6 x 16 in 12 ymm; AVX-512:
 * 8 x 32 in 16 zmm). Tiles with fewer rows run a copy specialised for that
 * row count (the same arithmetic per element); fewer columns use masked
 * loads and stores, full ones plain moves (masked stores are slow on AMD).
 * The includer defines PFW_SGEMM_MR, PFW_SGEMM_KERNEL (the symbol) and
 * PFW_SGEMM_NAME. */
#define MR PFW_SGEMM_MR
#define NR (2 * PFW_VL)

static inline __attribute__((always_inline)) void tile(int64_t kc, const float* a, const float* b, float* c,
                                                       int64_t ldc, const int rows, int32_t n, bool accumulate,
                                                       const pfw_sgemm_tail* tail) {
  pfw_v lo[MR], hi[MR];
  /* C is touched only after the k loop: start fetching its rows now. */
#pragma GCC unroll 8
  for (int i = 0; i < rows; i++) {
    _mm_prefetch((const char*)(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch((const char*)(c + i * ldc + NR - 1), _MM_HINT_T0);
    lo[i] = hi[i] = pv_zero();
  }
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; k++) {
    pfw_v b0 = pv_load_n(b + k * NR, PFW_VL), b1 = pv_load_n(b + k * NR + PFW_VL, PFW_VL);
#pragma GCC unroll 8
    for (int i = 0; i < rows; i++) {
      pfw_v av = pv_set1(a[k * MR + i]);
      lo[i] = pv_fma(av, b0, lo[i]);
      hi[i] = pv_fma(av, b1, hi[i]);
    }
  }
  int n0 = n < PFW_VL ? n : PFW_VL, n1 = n - PFW_VL; /* live lanes of each half */
#pragma GCC unroll 8
  for (int i = 0; i < rows; i++) {
    float* cr = c + i * ldc;
    if (accumulate) {
      lo[i] = pv_add(pv_load_n(cr, n0), lo[i]);
      if (n1 > 0) hi[i] = pv_add(pv_load_n(cr + PFW_VL, n1), hi[i]);
    }
    if (tail) {
      if (tail->bias) {
        pfw_v bv = pv_set1(tail->bias[i]);
        lo[i] = pv_add(lo[i], bv);
        hi[i] = pv_add(hi[i], bv);
      }
      if (tail->clamp) { /* max/min return their second operand for NaN: the value */
        pfw_v vl = pv_set1(tail->lo), vh = pv_set1(tail->hi);
        lo[i] = pv_min(vh, pv_max(vl, lo[i]));
        hi[i] = pv_min(vh, pv_max(vl, hi[i]));
      }
    }
    pv_store_n(cr, lo[i], n0);
    if (n1 > 0) pv_store_n(cr + PFW_VL, hi[i], n1);
  }
}

static void micro(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int32_t m, int32_t n,
                  bool accumulate, const pfw_sgemm_tail* tail) {
  /* One constant row count per case, clamped to MR (cases above MR are
   * never taken: m <= MR). */
#define ROWS(r) \
  case r: tile(kc, a, b, c, ldc, (r) < MR ? (r) : MR, n, accumulate, tail); break;
  switch (m) {
    ROWS(8)
    ROWS(7)
    ROWS(6)
    ROWS(5)
    ROWS(4)
    ROWS(3)
    ROWS(2)
    default: tile(kc, a, b, c, ldc, 1, n, accumulate, tail); break;
  }
#undef ROWS
}

const pfw_sgemm_kernel PFW_SGEMM_KERNEL = {MR, NR, micro, PFW_SGEMM_NAME};

#undef MR
#undef NR
