/* What the depthwise Conv and pool kernel templates share, written in the
 * primitives of simd_<isa>.h (included before this). */
#ifndef PFW_KERNELS_WINDOW_SIMD_H
#define PFW_KERNELS_WINDOW_SIMD_H

#include <float.h>
#include <math.h>

#include "window_f32.h"

/* The kernels inline their loops with constant kernel size and stride, so a
 * 3x3 or 5x5 window compiles to straight-line code with the weights kept in
 * registers; the generic cases pass the sizes at run time. */
#define PFW_INLINE static inline __attribute__((always_inline))

/* Strides up to this use vector loads (gathers take int32 offsets); larger
 * ones leave every column to the scalar border code. */
#define PFW_VEC_STRIDE_MAX ((int64_t)1 << 27)

/* Taps [*t0, *t1) of k at dilation d from input position i0 that land in
 * [0, len), for the border columns: pfw_spatial_taps with a division only on
 * a side that is out of range (the inside case is the common one). Never a
 * walk over the taps: a kernel may be 2^31 wide. */
PFW_INLINE void pfw_taps_in(int64_t i0, int64_t k, int64_t d, int64_t len, int64_t* t0, int64_t* t1) {
  int64_t lo = 0, hi = k;
  if (i0 < 0) lo = (-i0 + d - 1) / d;
  if (i0 + (k - 1) * d >= len) hi = len - 1 - i0 < 0 ? 0 : (len - 1 - i0) / d + 1;
  if (lo > k) lo = k;
  *t0 = lo;
  *t1 = hi > lo ? hi : lo;
}

/* Lanes l < n from p[l * s], the rest 0, touching only those elements:
 * contiguous for s = 1, two loads and a shuffle for s = 2, a gather else. */
PFW_INLINE pfw_v pv_load_s(const float* p, int64_t s, int n) {
  if (s == 1) return pv_load_n(p, n);
  if (s == 2) {
    int m = 2 * n - 1; /* elements p[0 .. 2n-2] */
    pfw_v a = pv_load_n(p, m < PFW_VL ? m : PFW_VL);
    pfw_v b = m > PFW_VL ? pv_load_n(p + PFW_VL, m - PFW_VL) : pv_zero();
    return pv_even(a, b);
  }
  return pv_gather_n(p, s, n);
}

#endif
