// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cuda/launch.cuh
/// Small launch helpers shared by the op headers: grid sizes and the range checks that keep
/// 64-bit problem sizes inside what a launch can express.
#pragma once
#include <cstdint>
#include <string>

#include "../../core/error.hpp"

namespace templlm::gpu::detail {

inline constexpr std::int64_t max_grid_x = 2147483647;  // 2^31 - 1
inline constexpr std::int64_t max_grid_yz = 65535;

__host__ __device__ constexpr std::int64_t ceil_div(std::int64_t a, std::int64_t b) {
  return (a + b - 1) / b;
}

/// Throws Unsupported when `n` blocks do not fit the grid dimension of size `limit`.
inline unsigned grid_dim(std::int64_t n, std::int64_t limit, const char* op) {
  if (n > limit)
    throw Unsupported(std::string("templlm: ") + op + ": problem too large for one launch (" +
                      std::to_string(n) + " blocks)");
  return static_cast<unsigned>(n < 1 ? 1 : n);
}

}  // namespace templlm::gpu::detail
