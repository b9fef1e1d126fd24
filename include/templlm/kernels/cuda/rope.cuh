// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cuda/rope.cuh
/// Rotary embedding in place on [T, heads * head_dim] rows, the device twin of
/// kernels/cpu/rope.hpp: angle = core/math.hpp rope_angle(inv_freq, position), cos and sin in
/// fp32 (precise cosf/sinf, never the fast intrinsics) scaled by attention_factor, and
/// math::rotate on the pairs of the layout. Positions and inv_freq are device arrays.
/// rope_part (DeepSeek-V3, kernels/cpu/mla.hpp) is the same kernel on a slice of each head.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "../../core/config.hpp"
#include "../../core/math.hpp"
#include "../../core/tensor.hpp"
#include "check.cuh"
#include "launch.cuh"

namespace templlm::gpu {
namespace detail {

inline constexpr int rope_threads = 128;

/// One block per row; threads over (head, pair) with pair i < half. Head h's rotated dims start
/// at h * head_stride + offset (offset 0, head_stride = head_dim for plain rope).
__global__ void __launch_bounds__(rope_threads)
    rope_kernel(float* x, std::int64_t stride, int heads, int head_stride, int offset, int half,
                const int* positions, const float* inv_freq, float attention_factor,
                bool interleaved) {
  const std::int64_t t = blockIdx.x;
  const int position = positions[t];
  float* row = x + t * stride;                                          // (heads*D)
  for (int job = threadIdx.x; job < heads * half; job += blockDim.x) {
    const int h = job / half, i = job % half;
    const float angle = math::rope_angle(inv_freq[i], position);
    const float c = ::cosf(angle) * attention_factor;
    const float s = ::sinf(angle) * attention_factor;
    float* v = row + std::int64_t(h) * head_stride + offset;            // (2*half)
    const int a = interleaved ? 2 * i : i;
    const int b = interleaved ? 2 * i + 1 : i + half;
    const math::Rotated r = math::rotate(v[a], v[b], c, s);
    v[a] = r.a;
    v[b] = r.b;
  }
}

}  // namespace detail

/// Rotates the first 2 * half dims of each head of each row; positions [T] and inv_freq [half]
/// are device pointers.
inline void rope(cudaStream_t stream, MatrixView<float, Device> x, int heads, int head_dim,
                 const int* positions, const float* inv_freq, int half, float attention_factor,
                 cfg::RopeLayout layout) {
  check(x.cols == std::int64_t(heads) * head_dim && 2 * half <= head_dim,
        "templlm: rope: shapes disagree");
  if (x.rows == 0 || half == 0) return;
  const unsigned blocks = detail::grid_dim(x.rows, detail::max_grid_x, "rope");
  detail::rope_kernel<<<blocks, detail::rope_threads, 0, stream>>>(
      x.data, x.stride, heads, head_dim, 0, half, positions, inv_freq, attention_factor,
      layout == cfg::RopeLayout::interleaved);
  launch_check("rope_kernel");
}

/// Rotates dims [offset, offset + 2 * half) of each head (head_stride floats apart) of each row:
/// DeepSeek-V3's rope parts of q and of the latent (kernels/cpu/mla.hpp rope_part).
inline void rope_part(cudaStream_t stream, MatrixView<float, Device> x, int heads, int head_stride,
                      int offset, const int* positions, const float* inv_freq, int half,
                      float attention_factor, cfg::RopeLayout layout) {
  check(x.cols >= std::int64_t(heads) * head_stride && offset >= 0 && offset + 2 * half <= head_stride,
        "templlm: rope_part: shapes disagree");
  if (x.rows == 0 || half == 0 || heads == 0) return;
  const unsigned blocks = detail::grid_dim(x.rows, detail::max_grid_x, "rope_part");
  detail::rope_kernel<<<blocks, detail::rope_threads, 0, stream>>>(
      x.data, x.stride, heads, head_stride, offset, half, positions, inv_freq, attention_factor,
      layout == cfg::RopeLayout::interleaved);
  launch_check("rope_kernel");
}

}  // namespace templlm::gpu
