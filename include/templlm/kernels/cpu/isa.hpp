// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cpu/isa.hpp
/// Which SIMD instruction sets this translation unit was compiled for (the default build is
/// native: TEMPLLM_CPU_NATIVE, `-march=native`), for `templlm info` and the benchmarks, and a
/// check that the running CPU has them: a native binary copied to an older machine stops with a
/// sentence instead of an illegal-instruction signal in the middle of a forward.
///
/// Thread-safe: pure functions.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "../../core/error.hpp"

namespace templlm::cpu {

struct IsaFeature {
  std::string_view name;  // as /proc/cpuinfo and GCC's __builtin_cpu_supports spell it
  bool compiled;          // the compiler may use it in this build
};

/// The x86 features the CPU kernels can profit from, and whether this build uses each.
inline std::vector<IsaFeature> isa_features() {
  return {
#if defined(__x86_64__) || defined(__i386__)
      {"sse4.2",
#ifdef __SSE4_2__
       true
#else
       false
#endif
      },
      {"avx2",
#ifdef __AVX2__
       true
#else
       false
#endif
      },
      {"fma",
#ifdef __FMA__
       true
#else
       false
#endif
      },
      {"avx512f",
#ifdef __AVX512F__
       true
#else
       false
#endif
      },
      {"avx512bf16",
#ifdef __AVX512BF16__
       true
#else
       false
#endif
      },
      {"avx512vnni",
#ifdef __AVX512VNNI__
       true
#else
       false
#endif
      },
#endif
  };
}

/// "avx2 fma avx512f ..." (the features this build uses), or "baseline" when none.
inline std::string isa_description() {
  std::string out;
  for (const IsaFeature& f : isa_features()) {
    if (!f.compiled) continue;
    if (!out.empty()) out += ' ';
    out += f.name;
  }
#if defined(__aarch64__)
  if (!out.empty()) out += ' ';
  out += "aarch64 neon";
#endif
  return out.empty() ? "baseline" : out;
}

/// Throws Unsupported naming the first feature this build uses that the running CPU lacks.
inline void check_cpu_supports_build() {
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
  __builtin_cpu_init();
  for (const IsaFeature& f : isa_features()) {
    if (!f.compiled) continue;
    bool has = true;
    if (f.name == "sse4.2") has = __builtin_cpu_supports("sse4.2");
    else if (f.name == "avx2") has = __builtin_cpu_supports("avx2");
    else if (f.name == "fma") has = __builtin_cpu_supports("fma");
    else if (f.name == "avx512f") has = __builtin_cpu_supports("avx512f");
    else if (f.name == "avx512vnni") has = __builtin_cpu_supports("avx512vnni");
    // avx512bf16: older GCCs cannot ask for it; a CPU with it has avx512f, checked above.
    if (!has)
      throw Unsupported("templlm: this program was compiled for CPUs with " + std::string(f.name) +
                        " (a native build: TEMPLLM_CPU_NATIVE=ON) and this CPU lacks it; rebuild it "
                        "here or configure with -DTEMPLLM_CPU_NATIVE=OFF for a portable build");
  }
#endif
}

}  // namespace templlm::cpu
