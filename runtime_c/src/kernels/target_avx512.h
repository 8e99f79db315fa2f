/* Included first by every AVX-512 kernel file: the rest of the file is
 * compiled for AVX-512 F/BW/VL/DQ + FMA; the library elsewhere stays
 * baseline x86-64 and calls in only after pfw_cpu_supports() said yes. */
#if defined(__x86_64__) && defined(__clang__)
/* clang cannot carry a target attribute from a header over the rest of a
 * file, so its (CMake) builds compile these files with -mavx512{f,bw,vl,dq} -mavx2 -mfma. */
#if !(defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__AVX512DQ__) && defined(__FMA__))
#error "clang builds compile kernels/avx512/ with -mavx512{f,bw,vl,dq} -mavx2 -mfma (runtime_c/CMakeLists.txt)"
#endif
#include <immintrin.h>
#define PFW_HAVE_AVX512_KERNELS 1
#elif defined(__x86_64__)
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")
#include <immintrin.h>
#define PFW_HAVE_AVX512_KERNELS 1
#endif
