/* Winograd F(4x4, 3x3) transforms, AVX2: 8 tiles or channels per vector (winograd_f32_simd.h). */
#include "../target_avx2.h"
#include "../winograd.h"
#ifdef PFW_HAVE_AVX2_KERNELS
#include "../simd_avx2.h"
#define PFW_WINO_KERNEL pfw_wino_f32_avx2
#include "../winograd_f32_simd.h"
#endif
