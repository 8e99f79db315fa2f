/* Included first by every AVX-512 kernel file: the rest of the file is
 * compiled for AVX-512 F/BW/VL/DQ + FMA; the library elsewhere stays
 * baseline x86-64 and calls in only after pfw_cpu_supports() said yes. */
#if defined(__x86_64__)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma"))), \
                             apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")
#endif
#include <immintrin.h>
#define PFW_HAVE_AVX512_KERNELS 1
#endif
