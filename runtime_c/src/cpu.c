/* CPU feature detection and the instruction-set level kernels are chosen
 * for. The level is fixed per interpreter at create time (PFW_ISA may force a
 * lower one, for tests and benchmarks), so every run of an interpreter takes
 * the same code path. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char* const isa_names[] = {"scalar", "avx2", "avx512", "neon"};

const char* pfw_isa_name(pfw_isa isa) {
  return (unsigned)isa < sizeof isa_names / sizeof isa_names[0] ? isa_names[isa] : "?";
}

bool pfw_cpu_supports(pfw_isa isa) {
  switch (isa) {
    case PFW_ISA_SCALAR:
      return true;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    case PFW_ISA_AVX2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case PFW_ISA_AVX512:
      /* F for the registers, BW/VL/DQ for the byte, masked and 256-bit
       * forms the kernels use alongside. */
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("fma");
#endif
#if defined(__aarch64__)
    case PFW_ISA_NEON:
      return true; /* Advanced SIMD is part of the AArch64 base ISA */
#endif
    default:
      return false;
  }
}

pfw_isa pfw_cpu_best_isa(void) {
  static const pfw_isa order[] = {PFW_ISA_AVX512, PFW_ISA_AVX2, PFW_ISA_NEON};
  for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
    if (pfw_cpu_supports(order[i])) return order[i];
  return PFW_ISA_SCALAR;
}

pfw_status pfw_isa_select(pfw_isa* out) {
  const char* want = getenv("PFW_ISA");
  *out = pfw_cpu_best_isa();
  if (!want || !*want) return PFW_OK;
  for (size_t i = 0; i < sizeof isa_names / sizeof isa_names[0]; i++) {
    if (strcmp(want, isa_names[i]) != 0) continue;
    if (!pfw_cpu_supports((pfw_isa)i))
      return pfw_error(PFW_ERR_UNSUPPORTED, "PFW_ISA=%s, but this CPU (or build) lacks it; best available is %s",
                       want, pfw_isa_name(*out));
    *out = (pfw_isa)i;
    return PFW_OK;
  }
  return pfw_error(PFW_ERR_INVALID_ARGUMENT, "PFW_ISA='%s' is not one of scalar, avx2, avx512, neon", want);
}
