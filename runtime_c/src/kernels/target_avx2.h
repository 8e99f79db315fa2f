/* Included first by every AVX2 kernel file: the rest of the file is compiled
 * for AVX2 + FMA; callers check pfw_cpu_supports(PFW_ISA_AVX2) first. */
#if defined(__x86_64__) && defined(__clang__)
/* clang cannot carry a target attribute from a header over the rest of a
 * file, so its (CMake) builds compile these files with -mavx2 -mfma. */
#if !(defined(__AVX2__) && defined(__FMA__))
#error "clang builds compile kernels/avx2/ with -mavx2 -mfma (runtime_c/CMakeLists.txt)"
#endif
#include <immintrin.h>
#define PFW_HAVE_AVX2_KERNELS 1
#elif defined(__x86_64__)
#pragma GCC target("avx2,fma")
#include <immintrin.h>
#define PFW_HAVE_AVX2_KERNELS 1
#endif
