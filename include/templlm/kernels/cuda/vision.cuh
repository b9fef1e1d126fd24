// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cuda/vision.cuh
/// The device twins of kernels/cpu/vision.hpp (core/vision_backend.hpp): LayerNorm with bias
/// (one warp per row, moments in double as on the CPU), exact GELU, the periodic row add, RoPE by
/// a per-row (cos, sin) table, attention within tiles (one block per row and head: the tile's
/// scores in shared memory, block reductions for the max and the sum), and the row gather. The
/// element math is core/math.hpp's, as on the CPU. Not yet run on a GPU (docs/backends.md).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "../../core/math.hpp"
#include "../../core/tensor.hpp"
#include "../../core/vision_backend.hpp"
#include "check.cuh"
#include "launch.cuh"

namespace templlm::gpu {
namespace detail {

inline constexpr int vision_warps = 4;      // LayerNorm rows per block
inline constexpr int vision_threads = 128;  // row ops and tile attention

__global__ void __launch_bounds__(vision_warps * 32)
    layer_norm_kernel(float* y, std::int64_t y_stride, const float* x, std::int64_t x_stride, std::int64_t rows,
                      std::int64_t cols, const float* w, const float* b, float eps) {
  const int lane = threadIdx.x % 32;
  const std::int64_t r = std::int64_t(blockIdx.x) * vision_warps + threadIdx.x / 32;
  if (r >= rows) return;
  const float* xr = x + r * x_stride;
  float* yr = y + r * y_stride;
  double sum = 0.0;
  for (std::int64_t c = lane; c < cols; c += 32) sum += xr[c];
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
  const double mean_d = sum / double(cols);
  double var = 0.0;
  for (std::int64_t c = lane; c < cols; c += 32) var += (xr[c] - mean_d) * (xr[c] - mean_d);
  for (int offset = 16; offset > 0; offset /= 2) var += __shfl_xor_sync(0xffffffffu, var, offset);
  const float mean = float(mean_d), rstd = math::layer_norm_rstd(float(var / double(cols)), eps);
  // y may alias x: each lane writes only the columns it read itself, so no lane overwrites another's input.
  for (std::int64_t c = lane; c < cols; c += 32) yr[c] = math::layer_norm(xr[c], mean, rstd, w[c], b[c]);
}

__global__ void __launch_bounds__(vision_threads) gelu_kernel(float* y, std::int64_t stride, std::int64_t cols) {
  float* row = y + std::int64_t(blockIdx.x) * stride;
  for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) row[c] = math::gelu(row[c]);
}

__global__ void __launch_bounds__(vision_threads)
    add_periodic_rows_kernel(float* y, std::int64_t y_stride, const float* t, std::int64_t t_stride,
                             std::int64_t period, std::int64_t cols) {
  const std::int64_t r = blockIdx.x;
  const float* tr = t + (r % period) * t_stride;
  for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) y[r * y_stride + c] += tr[c];
}

__global__ void __launch_bounds__(vision_threads)
    rotate_pairs_kernel(float* x, std::int64_t stride, int heads, int head_dim, const float* table,
                        std::int64_t table_stride, std::int64_t period) {
  const std::int64_t r = blockIdx.x;
  const float* cs = table + (r % period) * table_stride;
  const int pairs = head_dim / 2;
  for (int i = threadIdx.x; i < heads * pairs; i += blockDim.x) {
    const int h = i / pairs, j = i % pairs;
    float* v = x + r * stride + std::int64_t(h) * head_dim;
    const math::Rotated o = math::rotate(v[2 * j], v[2 * j + 1], cs[2 * j], cs[2 * j + 1]);
    v[2 * j] = o.a;
    v[2 * j + 1] = o.b;
  }
}

/// One block per (row, head); dynamic shared memory: the tile's scores, then the reduction slots.
__global__ void __launch_bounds__(vision_threads)
    tile_attention_kernel(float* out, std::int64_t out_stride, const float* q, std::int64_t q_stride,
                          const float* k, std::int64_t k_stride, const float* v, std::int64_t v_stride,
                          TileAttentionArgs a) {
  extern __shared__ float shared[];
  float* s = shared;                   // [tile_rows]
  float* red = shared + a.tile_rows;   // [blockDim.x]
  const std::int64_t t = blockIdx.x / a.heads, first = t / a.tile_rows * a.tile_rows;
  const std::int64_t off = std::int64_t(blockIdx.x % a.heads) * a.head_dim;
  const float* qh = q + t * q_stride + off;
  float local_max = -INFINITY;
  for (std::int64_t j = threadIdx.x; j < a.tile_rows; j += blockDim.x) {
    const float* kj = k + (first + j) * k_stride + off;
    float dot = 0.0f;
    for (int d = 0; d < a.head_dim; ++d) dot += qh[d] * kj[d];
    s[j] = dot * a.scale;
    local_max = fmaxf(local_max, s[j]);
  }
  red[threadIdx.x] = local_max;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) red[threadIdx.x] = fmaxf(red[threadIdx.x], red[threadIdx.x + half]);
    __syncthreads();
  }
  const float max = red[0];
  __syncthreads();  // red[0] read by every thread before it is reused
  float local_sum = 0.0f;
  for (std::int64_t j = threadIdx.x; j < a.tile_rows; j += blockDim.x) local_sum += (s[j] = expf(s[j] - max));
  red[threadIdx.x] = local_sum;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) red[threadIdx.x] += red[threadIdx.x + half];
    __syncthreads();
  }
  const float denom = red[0];
  for (int d = threadIdx.x; d < a.head_dim; d += blockDim.x) {
    float acc = 0.0f;
    for (std::int64_t j = 0; j < a.tile_rows; ++j) acc += (s[j] / denom) * v[(first + j) * v_stride + off + d];
    out[t * out_stride + off + d] = acc;
  }
}

__global__ void __launch_bounds__(vision_threads)
    gather_rows_kernel(float* y, std::int64_t y_stride, const float* x, std::int64_t x_stride, const int* rows,
                       std::int64_t x_rows, std::int64_t cols, int* bad) {
  const std::int64_t r = blockIdx.x;
  const int src = rows[r];
  if (src < 0 || src >= x_rows) {
    if (threadIdx.x == 0) *bad = 1;
    return;
  }
  for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) y[r * y_stride + c] = x[src * x_stride + c];
}

}  // namespace detail

inline void layer_norm(cudaStream_t stream, MatrixView<float, Device> y, MatrixView<const float, Device> x,
                       const float* w, const float* b, float eps) {
  check(y.rows == x.rows && y.cols == x.cols, "templlm: layer_norm: shapes differ");
  if (x.rows == 0) return;
  const unsigned blocks = detail::grid_dim(detail::ceil_div(x.rows, detail::vision_warps), detail::max_grid_x, "layer_norm");
  detail::layer_norm_kernel<<<blocks, detail::vision_warps * 32, 0, stream>>>(y.data, y.stride, x.data, x.stride,
                                                                             x.rows, x.cols, w, b, eps);
  launch_check("layer_norm_kernel");
}

inline void gelu(cudaStream_t stream, MatrixView<float, Device> y) {
  if (y.rows == 0) return;
  detail::gelu_kernel<<<detail::grid_dim(y.rows, detail::max_grid_x, "gelu"), detail::vision_threads, 0, stream>>>(
      y.data, y.stride, y.cols);
  launch_check("gelu_kernel");
}

inline void add_periodic_rows(cudaStream_t stream, MatrixView<float, Device> y, MatrixView<const float, Device> t) {
  check(t.cols == y.cols && t.rows > 0 && y.rows % t.rows == 0,
        "templlm: add_periodic_rows: the table does not tile the rows");
  if (y.rows == 0) return;
  detail::add_periodic_rows_kernel<<<detail::grid_dim(y.rows, detail::max_grid_x, "add_periodic_rows"),
                                     detail::vision_threads, 0, stream>>>(y.data, y.stride, t.data, t.stride, t.rows,
                                                                          y.cols);
  launch_check("add_periodic_rows_kernel");
}

inline void rotate_pairs(cudaStream_t stream, MatrixView<float, Device> x, int heads, int head_dim,
                         MatrixView<const float, Device> table) {
  check(x.cols == std::int64_t(heads) * head_dim && table.cols == head_dim && head_dim % 2 == 0 && table.rows > 0 &&
            x.rows % table.rows == 0,
        "templlm: rotate_pairs: shapes disagree");
  if (x.rows == 0) return;
  detail::rotate_pairs_kernel<<<detail::grid_dim(x.rows, detail::max_grid_x, "rotate_pairs"), detail::vision_threads,
                                0, stream>>>(x.data, x.stride, heads, head_dim, table.data, table.stride, table.rows);
  launch_check("rotate_pairs_kernel");
}

inline void tile_attention(cudaStream_t stream, MatrixView<float, Device> out, MatrixView<const float, Device> q,
                           MatrixView<const float, Device> k, MatrixView<const float, Device> v,
                           const TileAttentionArgs& a) {
  const std::int64_t n = q.rows, width = std::int64_t(a.heads) * a.head_dim;
  check(a.tile_rows > 0 && n % a.tile_rows == 0 && q.cols == width && k.cols == width && v.cols == width &&
            out.cols == width && k.rows == n && v.rows == n && out.rows == n,
        "templlm: tile_attention: shapes disagree");
  const std::size_t smem = std::size_t(a.tile_rows + detail::vision_threads) * sizeof(float);
  if (smem > 48 * 1024)
    throw Error("templlm: tile_attention: a tile of " + std::to_string(a.tile_rows) +
                " rows needs more than the 48 KiB of shared memory this kernel uses");
  if (n == 0) return;
  detail::tile_attention_kernel<<<detail::grid_dim(n * a.heads, detail::max_grid_x, "tile_attention"),
                                  detail::vision_threads, smem, stream>>>(out.data, out.stride, q.data, q.stride,
                                                                         k.data, k.stride, v.data, v.stride, a);
  launch_check("tile_attention_kernel");
}

/// bad: a device int the caller reads back (1: a row index was out of range).
inline void gather_rows(cudaStream_t stream, MatrixView<float, Device> y, MatrixView<const float, Device> x,
                        MatrixView<const int, Device> rows, int* bad) {
  check(rows.rows == y.rows && rows.cols == 1 && x.cols == y.cols, "templlm: gather_rows: shapes disagree");
  if (y.rows == 0) return;
  detail::gather_rows_kernel<<<detail::grid_dim(y.rows, detail::max_grid_x, "gather_rows"), detail::vision_threads, 0,
                               stream>>>(y.data, y.stride, x.data, x.stride, rows.data, x.rows, y.cols, bad);
  launch_check("gather_rows_kernel");
}

}  // namespace templlm::gpu
