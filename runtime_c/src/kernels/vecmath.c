/* Selection of the vectorised row kernels (vecmath.h). */
#include "vecmath.h"

const pfw_vec_kernels* pfw_vec_kernels_for(pfw_isa isa) {
  switch (isa) {
#ifdef __x86_64__
    case PFW_ISA_AVX512: /* AVX-512 implies AVX2 + FMA */
    case PFW_ISA_AVX2: return &pfw_vec_f32_avx2;
#endif
    default: return NULL;
  }
}
