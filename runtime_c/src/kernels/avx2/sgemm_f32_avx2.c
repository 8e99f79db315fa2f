/* sgemm micro-kernel, AVX2 + FMA: 6 x 16 tiles (sgemm_f32_simd.h). */
#include "../target_avx2.h"
#include "../sgemm.h"
#ifdef PFW_HAVE_AVX2_KERNELS
#include "../simd_avx2.h"
#define PFW_SGEMM_MR 6
#define PFW_SGEMM_KERNEL pfw_sgemm_f32_avx2
#define PFW_SGEMM_NAME "sgemm_f32_avx2_6x16"
#include "../sgemm_f32_simd.h"
#endif
