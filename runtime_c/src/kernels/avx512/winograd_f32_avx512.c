/* Winograd F(4x4, 3x3) transforms, AVX-512: 16 tiles or channels per vector (winograd_f32_simd.h). */
#include "../target_avx512.h"
#include "../winograd.h"
#ifdef PFW_HAVE_AVX512_KERNELS
#include "../simd_avx512.h"
#define PFW_WINO_KERNEL pfw_wino_f32_avx512
#include "../winograd_f32_simd.h"
#endif
