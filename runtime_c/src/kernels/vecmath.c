/* Selection of the vectorised row kernels (vecmath.h). */
#include "vecmath.h"

const pfw_vec_kernels* pfw_vec_kernels_for(pfw_isa isa) {
  switch (isa) {
#ifdef __x86_64__
    case PFW_ISA_AVX512: /* memory-bound: the AVX2 rows are as fast */
      return pfw_cpu_supports(PFW_ISA_AVX2) ? &pfw_vec_f32_avx2 : NULL;
    case PFW_ISA_AVX2: return &pfw_vec_f32_avx2;
#endif
    default: return NULL;
  }
}
