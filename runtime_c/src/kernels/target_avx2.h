/* Included first by every AVX2 kernel file: the rest of the file is compiled
 * for AVX2 + FMA; callers check pfw_cpu_supports(PFW_ISA_AVX2) first. */
#if defined(__x86_64__)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx2,fma")
#endif
#include <immintrin.h>
#define PFW_HAVE_AVX2_KERNELS 1
#endif
