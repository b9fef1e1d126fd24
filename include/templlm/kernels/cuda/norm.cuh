// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cuda/norm.cuh
/// RMSNorm over the rows of a matrix, the device twin of kernels/cpu/norm.hpp: one warp per row,
/// the sum of squares accumulated in double as the CPU does, then y = w * (x * rms_scale) with
/// core/math.hpp's rms_scale. y may alias x.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "../../core/math.hpp"
#include "../../core/tensor.hpp"
#include "check.cuh"
#include "launch.cuh"

namespace templlm::gpu {
namespace detail {

inline constexpr int norm_warps = 4;  // rows per block

/// weight: cols fp32 values or null (the weightless L2 variant).
__global__ void __launch_bounds__(norm_warps * 32)
    rms_norm_kernel(float* y, std::int64_t y_stride, const float* x, std::int64_t x_stride,
                    std::int64_t rows, std::int64_t cols, const float* weight, float eps) {
  const int lane = threadIdx.x % 32;
  const std::int64_t r = std::int64_t(blockIdx.x) * norm_warps + threadIdx.x / 32;
  if (r >= rows) return;
  const float* xr = x + r * x_stride;                                   // (cols)
  float* yr = y + r * y_stride;                                         // (cols)
  double sum = 0.0;
  for (std::int64_t c = lane; c < cols; c += 32) sum += double(xr[c]) * double(xr[c]);
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
  const float scale = math::rms_scale(float(sum / double(cols)), eps);
  if (weight) {
    for (std::int64_t c = lane; c < cols; c += 32) yr[c] = weight[c] * (xr[c] * scale);
  } else {
    for (std::int64_t c = lane; c < cols; c += 32) yr[c] = xr[c] * scale;
  }
}

}  // namespace detail

/// y = weight * (x * rsqrt(mean(x^2) + eps)) per row (no weight: weight == nullptr).
inline void rms_norm(cudaStream_t stream, MatrixView<float, Device> y, MatrixView<const float, Device> x,
                     const float* weight, float eps) {
  check(y.rows == x.rows && y.cols == x.cols, "templlm: rms_norm: shapes differ");
  if (x.rows == 0) return;
  const unsigned blocks =
      detail::grid_dim(detail::ceil_div(x.rows, detail::norm_warps), detail::max_grid_x, "rms_norm");
  detail::rms_norm_kernel<<<blocks, detail::norm_warps * 32, 0, stream>>>(
      y.data, y.stride, x.data, x.stride, x.rows, x.cols, weight, eps);
  launch_check("rms_norm_kernel");
}

}  // namespace templlm::gpu
