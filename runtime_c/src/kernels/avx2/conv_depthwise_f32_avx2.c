/* Depthwise Conv rows with AVX2 + FMA (8 output columns a vector). */
#include "../target_avx2.h"
#ifdef PFW_HAVE_AVX2_KERNELS
#include "../simd_avx2.h"
#define PFW_CONV_DEPTHWISE_ROW pfw_conv_depthwise_row_f32_avx2
#define PFW_CONV_DEPTHWISE_PLANE pfw_conv_depthwise_plane_f32_avx2
#define PFW_CONV_DEPTHWISE_PAD pfw_conv_depthwise_pad_f32_avx2
#include "../conv_depthwise_f32_simd.h"
#endif
