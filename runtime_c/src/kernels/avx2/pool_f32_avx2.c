/* MaxPool / AveragePool rows and global pools with AVX2 + FMA. */
#include "../target_avx2.h"
#ifdef PFW_HAVE_AVX2_KERNELS
#include "../simd_avx2.h"
#define PFW_POOL_ROW pfw_pool_row_f32_avx2
#define PFW_GLOBAL_POOL pfw_global_pool_f32_avx2
#include "../pool_f32_simd.h"
#endif
