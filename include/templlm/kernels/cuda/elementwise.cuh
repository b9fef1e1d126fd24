// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cuda/elementwise.cuh
/// Row-wise elementwise ops: embedding gather, y += x, bias add, the gated activation of the
/// SwiGLU FFNs (core/math.hpp swiglu / clamped_swiglu) and Llama 4's per-position query scaling.
/// One block per row, threads over the columns.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "../../core/config.hpp"
#include "../../core/math.hpp"
#include "../../core/tensor.hpp"
#include "check.cuh"
#include "decode.cuh"
#include "launch.cuh"

namespace templlm::gpu {
namespace detail {

inline constexpr int row_threads = 256;

__global__ void __launch_bounds__(row_threads)
    embed_kernel(float* out, std::int64_t out_stride, DeviceWeight table, const int* ids,
                 std::int64_t cols) {
  const std::int64_t t = blockIdx.x, id = ids[t];
  for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x)
    out[t * out_stride + c] = weight_at(table, id, c);
}

__global__ void __launch_bounds__(row_threads)
    add_kernel(float* y, std::int64_t y_stride, const float* x, std::int64_t x_stride,
               std::int64_t cols) {
  const std::int64_t r = blockIdx.x;
  for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) y[r * y_stride + c] += x[r * x_stride + c];
}

__global__ void __launch_bounds__(row_threads)
    bias_add_kernel(float* y, std::int64_t y_stride, DeviceWeight bias, std::int64_t cols) {
  const std::int64_t r = blockIdx.x;
  for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) y[r * y_stride + c] += weight_at(bias, 0, c);
}

/// gate[i] = act(gate[i], up[i]) over rows of `cols` values.
__global__ void __launch_bounds__(row_threads)
    gated_activation_kernel(float* gate, std::int64_t gate_stride, const float* up,
                            std::int64_t up_stride, std::int64_t cols, float clamp, float alpha) {
  const std::int64_t r = blockIdx.x;
  for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    float& g = gate[r * gate_stride + c];
    const float u = up[r * up_stride + c];
    g = clamp > 0.0f ? math::clamped_swiglu(g, u, clamp, alpha) : math::swiglu(g, u);
  }
}

/// Llama 4 temperature tuning (kernels/cpu/backend.hpp scale_rows_by_position).
__global__ void __launch_bounds__(row_threads)
    scale_rows_kernel(float* x, std::int64_t stride, std::int64_t cols, const int* positions,
                      float floor_scale, float attn_scale) {
  const std::int64_t r = blockIdx.x;
  const float f = math::attention_temperature(positions[r], floor_scale, attn_scale);
  for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) x[r * stride + c] *= f;
}

inline unsigned row_blocks(std::int64_t rows, const char* op) {
  return grid_dim(rows, max_grid_x, op);
}

}  // namespace detail

/// out[t] = table[ids[t]] (ids: device array of out.rows ids).
inline void embed(cudaStream_t stream, MatrixView<float, Device> out, const WeightView<Device>& table,
                  const int* ids) {
  check(table.rank == 2 && table.shape[1] == out.cols, "templlm: embed: shapes disagree");
  detail::require_decodable(table, "embed");
  if (out.rows == 0) return;
  detail::embed_kernel<<<detail::row_blocks(out.rows, "embed"), detail::row_threads, 0, stream>>>(
      out.data, out.stride, device_weight(table), ids, out.cols);
  launch_check("embed_kernel");
}

/// y += x
inline void add(cudaStream_t stream, MatrixView<float, Device> y, MatrixView<const float, Device> x) {
  check(y.rows == x.rows && y.cols == x.cols, "templlm: add: shapes differ");
  if (y.rows == 0) return;
  detail::add_kernel<<<detail::row_blocks(y.rows, "add"), detail::row_threads, 0, stream>>>(
      y.data, y.stride, x.data, x.stride, y.cols);
  launch_check("add_kernel");
}

/// y[r] += bias for every row (bias: a vector of y.cols values in any decodable storage).
inline void bias_add(cudaStream_t stream, MatrixView<float, Device> y, const WeightView<Device>& bias) {
  check(bias.numel() == y.cols, "templlm: linear: bias length differs from the output width");
  detail::require_decodable(bias, "a bias");
  if (y.rows == 0) return;
  detail::bias_add_kernel<<<detail::row_blocks(y.rows, "bias_add"), detail::row_threads, 0, stream>>>(
      y.data, y.stride, device_weight(bias), y.cols);
  launch_check("bias_add_kernel");
}

/// gate = act(gate, up) elementwise (SwiGLU, or GPT-OSS's clamped variant when f.clamp > 0).
inline void gated_activation(cudaStream_t stream, MatrixView<float, Device> gate,
                             MatrixView<const float, Device> up, const cfg::SwiGlu& f) {
  check(gate.rows == up.rows && gate.cols == up.cols, "templlm: gated_activation: shapes differ");
  if (gate.rows == 0) return;
  detail::gated_activation_kernel<<<detail::row_blocks(gate.rows, "gated_activation"),
                                    detail::row_threads, 0, stream>>>(
      gate.data, gate.stride, up.data, up.stride, gate.cols, f.clamp, f.alpha);
  launch_check("gated_activation_kernel");
}

/// x[t] *= log1p(floor((positions[t] + 1) / floor_scale)) * attn_scale + 1.
inline void scale_rows_by_position(cudaStream_t stream, MatrixView<float, Device> x,
                                   const int* positions, float floor_scale, float attn_scale) {
  if (x.rows == 0) return;
  detail::scale_rows_kernel<<<detail::row_blocks(x.rows, "scale_rows_by_position"),
                              detail::row_threads, 0, stream>>>(x.data, x.stride, x.cols, positions,
                                                                floor_scale, attn_scale);
  launch_check("scale_rows_kernel");
}

}  // namespace templlm::gpu
