/* Depthwise Conv rows with AVX-512 (16 output columns a vector). */
#include "../target_avx512.h"
#ifdef PFW_HAVE_AVX512_KERNELS
#include "../simd_avx512.h"
#define PFW_CONV_DEPTHWISE_ROW pfw_conv_depthwise_row_f32_avx512
#define PFW_CONV_DEPTHWISE_PLANE pfw_conv_depthwise_plane_f32_avx512
#define PFW_CONV_DEPTHWISE_PAD pfw_conv_depthwise_pad_f32_avx512
#include "../conv_depthwise_f32_simd.h"
#endif
