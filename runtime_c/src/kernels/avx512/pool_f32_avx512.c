/* MaxPool / AveragePool rows and global pools with AVX-512. */
#include "../target_avx512.h"
#ifdef PFW_HAVE_AVX512_KERNELS
#include "../simd_avx512.h"
#define PFW_POOL_ROW pfw_pool_row_f32_avx512
#define PFW_GLOBAL_POOL pfw_global_pool_f32_avx512
#include "../pool_f32_simd.h"
#endif
