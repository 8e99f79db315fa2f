/* sgemm micro-kernel, AVX-512: 8 x 32 tiles (sgemm_f32_simd.h). */
#include "../target_avx512.h"
#include "../sgemm.h"
#ifdef PFW_HAVE_AVX512_KERNELS
#include "../simd_avx512.h"
#define PFW_SGEMM_MR 8
#define PFW_SGEMM_KERNEL pfw_sgemm_f32_avx512
#define PFW_SGEMM_NAME "sgemm_f32_avx512_8x32"
#include "../sgemm_f32_simd.h"
#endif
