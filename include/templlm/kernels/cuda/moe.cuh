// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cuda/moe.cuh
/// Routed experts on the device, the twin of kernels/cpu/moe.hpp, without a round trip to the
/// host: the T*K (token, slot) assignments are sorted by expert with cub::DeviceRadixSort
/// (stable, so each expert's rows stay in token order), a one-block schedule kernel turns the
/// sorted keys into per-expert row offsets and a tile list, then two grouped GEMM launches
/// run every expert's gate/up (+ activation) and down projections over its rows, reading the
/// stored weights (any layout of decode.cuh) directly, and a combine kernel sums each token's K outputs in
/// ascending expert index, as the CPU and HF do. Deterministic: no atomics anywhere.
/// Up to gemv_max_rows tokens (decode), when the GEMV reads the experts' storage, the two
/// projections are GEMVs over each expert's rows instead (moe_gemv.cuh).
#pragma once
#include <cuda_runtime.h>

#include <cub/block/block_scan.cuh>
#include <cub/device/device_radix_sort.cuh>
#include <cstdint>
#include <span>
#include <string>

#include "../../core/config.hpp"
#include "../../core/math.hpp"
#include "../../core/op_args.hpp"
#include "../../core/tensor.hpp"
#include "check.cuh"
#include "decode.cuh"
#include "device_buffer.cuh"
#include "launch.cuh"
#include "moe_gemv.cuh"
#include "moe_table.cuh"

namespace templlm::gpu {

/// Scratch of one moe_experts call; grown, never shrunk.
struct MoeWorkspace {
  DeviceBuffer<int> keys_in, keys_out, values_in, values_out;  // (T*K)
  DeviceBuffer<int> offsets, tile_offsets;                     // (E+1)
  DeviceBuffer<int> inverse;                                   // (T*K) sorted position of each assignment
  DeviceBuffer<float> hidden, out;                             // (T*K, I), (T*K, H)
  DeviceBuffer<std::byte> sort_temp;
};

namespace detail {

inline constexpr int gemm_bm = 64, gemm_bn = 64, gemm_bk = 16, gemm_threads = 256;
inline constexpr int schedule_threads = 256;

/// keys = expert of each assignment (out-of-range ids become `experts`, sorted last and never
/// computed, as the CPU ignores them); values = the assignment index t*K + j.
__global__ void moe_keys_kernel(int* keys, int* values, const int* ids, std::int64_t ids_stride,
                                int active, std::int64_t tokens, int experts) {
  const std::int64_t n = tokens * active;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const int e = ids[(i / active) * ids_stride + i % active];
    keys[i] = (e < 0 || e >= experts) ? experts : e;
    values[i] = static_cast<int>(i);
  }
}

__device__ __forceinline__ int lower_bound(const int* keys, int n, int value) {
  int lo = 0, hi = n;
  while (lo < hi) {
    const int mid = (lo + hi) / 2;
    if (keys[mid] < value) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/// One block: offsets[e] = first sorted row of expert e (offsets[E] = rows computed), and
/// tile_offsets[e] = first gemm_bm-row tile of expert e (tile_offsets[E] = tiles in all).
__global__ void __launch_bounds__(schedule_threads)
    moe_schedule_kernel(int* offsets, int* tile_offsets, const int* sorted_keys, int n, int experts) {
  using Scan = cub::BlockScan<int, schedule_threads>;
  __shared__ typename Scan::TempStorage temp;
  int carried = 0;
  for (int base = 0; base <= experts; base += schedule_threads) {
    const int e = base + threadIdx.x;
    int tiles = 0;
    if (e <= experts) {
      const int first = lower_bound(sorted_keys, n, e);
      offsets[e] = first;
      if (e < experts) tiles = int(ceil_div(lower_bound(sorted_keys, n, e + 1) - first, gemm_bm));
    }
    int before = 0, total = 0;
    Scan(temp).ExclusiveSum(tiles, before, total);
    if (e <= experts) tile_offsets[e] = carried + before;
    carried += total;
    __syncthreads();
  }
}

/// inverse[values_sorted[i]] = i: where each assignment's output row landed.
__global__ void moe_inverse_kernel(int* inverse, const int* sorted_values, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
    inverse[sorted_values[i]] = i;
}

struct GroupedGemmParams {
  const ExpertDeviceWeights* experts;
  const int* offsets;       // (E+1)
  const int* tile_offsets;  // (E+1)
  int experts_count;
  const float* a;           // gate/up: x [T, H] gathered through sorted_values; down: hidden [N, I]
  std::int64_t a_stride;
  const int* sorted_values; // gate/up only: assignment of each sorted row
  int active;               // K
  const float* route_weights;  // gate/up with input_scale: [T, K] weights, else null
  std::int64_t route_weights_stride;
  float* c;                 // (N, n_cols)
  std::int64_t c_stride;
  std::int64_t n_cols, k_dim;
  float clamp, alpha;
};

/// Which expert owns tile `tile`: the last e with tile_offsets[e] <= tile.
__device__ __forceinline__ int expert_of_tile(const int* tile_offsets, int experts, int tile) {
  int lo = 0, hi = experts;  // tile_offsets[lo] <= tile < tile_offsets[hi]
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (tile_offsets[mid] <= tile) lo = mid; else hi = mid;
  }
  return lo;
}

/// A gemm_bm x gemm_bn tile of C = A W^T for one expert's rows (Gated: two weights, gate and
/// up, and C = act(A Wg^T + bg, A Wu^T + bu)). 256 threads as 16 x 16, each 4 x 4 outputs in
/// the rows ty + 16 i and columns tx + 16 j. fp32 FMAs in ascending k.
template <WeightPath P, bool Gated>
__global__ void __launch_bounds__(gemm_threads) grouped_gemm_kernel(GroupedGemmParams p) {
  constexpr int nw = Gated ? 2 : 1;
  __shared__ float as[gemm_bk][gemm_bm + 1];
  __shared__ float ws[nw][gemm_bk][gemm_bn + 1];

  const int tile = blockIdx.y;
  if (tile >= p.tile_offsets[p.experts_count]) return;
  const int e = expert_of_tile(p.tile_offsets, p.experts_count, tile);
  const int row0 = p.offsets[e] + (tile - p.tile_offsets[e]) * gemm_bm;
  const int rows = min(gemm_bm, p.offsets[e + 1] - row0);
  const std::int64_t col0 = std::int64_t(blockIdx.x) * gemm_bn;
  const ExpertDeviceWeights& ex = p.experts[e];
  DeviceWeight w[nw];
  w[0] = Gated ? ex.gate : ex.down;
  if constexpr (Gated) w[nw - 1] = ex.up;

  // The A row each loader thread reads, and its scale (Llama 4 scales the expert input).
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const float* a_row[gemm_bm * gemm_bk / gemm_threads];
  float a_scale[gemm_bm * gemm_bk / gemm_threads];
#pragma unroll
  for (int r = 0; r < gemm_bm * gemm_bk / gemm_threads; ++r) {
    const int m = (tid + r * gemm_threads) / gemm_bk;
    a_row[r] = nullptr;
    a_scale[r] = 1.0f;
    if (m < rows) {
      const int sorted_row = row0 + m;
      if (p.sorted_values) {
        const int assignment = p.sorted_values[sorted_row];
        const int token = assignment / p.active, slot = assignment % p.active;
        a_row[r] = p.a + std::int64_t(token) * p.a_stride;
        if (p.route_weights) a_scale[r] = p.route_weights[token * p.route_weights_stride + slot];
      } else {
        a_row[r] = p.a + std::int64_t(sorted_row) * p.a_stride;
      }
    }
  }

  float acc[nw][4][4] = {};
  for (std::int64_t k0 = 0; k0 < p.k_dim; k0 += gemm_bk) {
#pragma unroll
    for (int r = 0; r < gemm_bm * gemm_bk / gemm_threads; ++r) {
      const int idx = tid + r * gemm_threads, m = idx / gemm_bk, kk = idx % gemm_bk;
      const std::int64_t k = k0 + kk;
      as[kk][m] = (a_row[r] && k < p.k_dim) ? a_row[r][k] * a_scale[r] : 0.0f;
    }
#pragma unroll
    for (int r = 0; r < gemm_bn * gemm_bk / gemm_threads; ++r) {
      const int idx = tid + r * gemm_threads, n = idx / gemm_bk, kk = idx % gemm_bk;
      const std::int64_t col = col0 + n, k = k0 + kk;
      const bool inside = col < p.n_cols && k < p.k_dim;
#pragma unroll
      for (int q = 0; q < nw; ++q)
        ws[q][kk][n] = inside ? weight_at<P>(w[q], col, k) : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < gemm_bk; ++kk) {
      float a[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) a[i] = as[kk][ty + 16 * i];
#pragma unroll
      for (int q = 0; q < nw; ++q)
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          const float b = ws[q][kk][tx + 16 * j];
#pragma unroll
          for (int i = 0; i < 4; ++i) acc[q][i][j] += a[i] * b;
        }
    }
    __syncthreads();
  }

#pragma unroll
  for (int j = 0; j < 4; ++j) {
    const std::int64_t col = col0 + tx + 16 * j;
    if (col >= p.n_cols) continue;
    float bias[nw];
#pragma unroll
    for (int q = 0; q < nw; ++q) {
      const DeviceWeight& b = Gated ? (q == 0 ? ex.gate_bias : ex.up_bias) : ex.down_bias;
      bias[q] = b.data ? weight_at(b, 0, col) : 0.0f;
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int m = ty + 16 * i;
      if (m >= rows) continue;
      float v;
      if constexpr (Gated) {
        const float g = acc[0][i][j] + bias[0], u = acc[nw - 1][i][j] + bias[nw - 1];
        v = p.clamp > 0.0f ? math::clamped_swiglu(g, u, p.clamp, p.alpha) : math::swiglu(g, u);
      } else {
        v = acc[0][i][j] + bias[0];
      }
      p.c[std::int64_t(row0 + m) * p.c_stride + col] = v;
    }
  }
}

/// out[t] = sum over t's K assignments, in ascending expert index (then slot), of
/// scale * expert_out[row of the assignment]. Dynamic shared memory: K ints + K floats.
__global__ void moe_combine_kernel(float* out, std::int64_t out_stride, const float* expert_out,
                                   std::int64_t cols, const int* ids, std::int64_t ids_stride,
                                   const float* weights, std::int64_t weights_stride,
                                   const int* inverse, int active, int experts, bool input_scale) {
  extern __shared__ int order[];                                              // (K) sorted rows
  float* scale = reinterpret_cast<float*>(order + active);                    // (K)
  __shared__ int used;
  const std::int64_t t = blockIdx.x;
  if (threadIdx.x == 0) {
    // Insertion sort of this token's slots by expert index: K is small; stable on ties.
    int key[64];
    int n = 0;
    for (int j = 0; j < active; ++j) {
      const int e = ids[t * ids_stride + j];
      if (e < 0 || e >= experts) continue;
      int at = n;
      while (at > 0 && key[at - 1] > e) {
        key[at] = key[at - 1];
        order[at] = order[at - 1];
        scale[at] = scale[at - 1];
        --at;
      }
      key[at] = e;
      order[at] = inverse[t * active + j];
      scale[at] = input_scale ? 1.0f : weights[t * weights_stride + j];
      ++n;
    }
    used = n;
  }
  __syncthreads();
  for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    float sum = 0.0f;
    for (int i = 0; i < used; ++i) sum += expert_out[std::int64_t(order[i]) * cols + c] * scale[i];
    out[t * out_stride + c] = sum;
  }
}

inline int radix_bits(int max_key) {
  int bits = 1;
  while ((1 << bits) <= max_key) ++bits;
  return bits;
}

/// The grouped GEMMs over 64-row tiles of each expert's sorted rows: gate/up (+ activation) into
/// ws.hidden, down into ws.out.
inline void grouped_gemms(cudaStream_t stream, MoeWorkspace& ws, MatrixView<const float, Device> x,
                          MatrixView<const float, Device> weights, const ExpertTable& table, const cfg::SwiGlu& f,
                          bool input_scale, std::int64_t t, std::int64_t k) {
  const std::int64_t n = t * k, hidden = table.hidden, inter = table.intermediate;
  const int experts = table.count;
  // Tiles in all <= rows / bm + (experts with rows): a bound the host knows without the counts.
  const std::int64_t tile_bound = ceil_div(n, gemm_bm) + std::min<std::int64_t>(experts, n);
  const unsigned tile_blocks = grid_dim(tile_bound, max_grid_yz, "moe_experts");
  const GroupedGemmParams gate_up{table.experts, ws.offsets.data(), ws.tile_offsets.data(), experts,
                                  x.data, x.stride, ws.values_out.data(), int(k),
                                  input_scale ? weights.data : nullptr, weights.stride,
                                  ws.hidden.data(), inter, inter, hidden, f.clamp, f.alpha};
  const GroupedGemmParams down{table.experts, ws.offsets.data(), ws.tile_offsets.data(), experts,
                               ws.hidden.data(), inter, nullptr, int(k), nullptr, 0,
                               ws.out.data(), hidden, hidden, inter, 0.0f, 1.0f};
  auto launch = [&]<WeightPath P>() {
    const dim3 grid_up(grid_dim(ceil_div(inter, gemm_bn), max_grid_x, "moe_experts"), tile_blocks);
    grouped_gemm_kernel<P, true><<<grid_up, gemm_threads, 0, stream>>>(gate_up);
    launch_check("grouped_gemm_kernel (gate/up)");
    const dim3 grid_down(grid_dim(ceil_div(hidden, gemm_bn), max_grid_x, "moe_experts"), tile_blocks);
    grouped_gemm_kernel<P, false><<<grid_down, gemm_threads, 0, stream>>>(down);
    launch_check("grouped_gemm_kernel (down)");
  };
  switch (table.path) {
    case WeightPath::f32: launch.template operator()<WeightPath::f32>(); break;
    case WeightPath::bf16: launch.template operator()<WeightPath::bf16>(); break;
    case WeightPath::general: launch.template operator()<WeightPath::general>(); break;
  }
}

/// out[t] = the sum of t's expert outputs in ascending expert index.
inline void moe_combine(cudaStream_t stream, MoeWorkspace& ws, MatrixView<float, Device> out,
                        MatrixView<const int, Device> ids, MatrixView<const float, Device> weights, std::int64_t k,
                        int experts, bool input_scale) {
  const std::int64_t t = out.rows, hidden = out.cols;
  const std::size_t shared = std::size_t(k) * (sizeof(int) + sizeof(float));
  moe_combine_kernel<<<grid_dim(t, max_grid_x, "moe_experts"), 256, shared, stream>>>(
      out.data, out.stride, ws.out.data(), hidden, ids.data, ids.stride, weights.data, weights.stride,
      ws.inverse.data(), int(k), experts, input_scale);
  launch_check("moe_combine_kernel");
}

}  // namespace detail

/// out[t] = sum over the K experts of token t, ascending expert index, of
/// weight * expert(x[t]) (input_scale: expert(weight * x[t]), Llama 4).
inline void moe_experts(cudaStream_t stream, MoeWorkspace& ws, MatrixView<float, Device> out,
                        MatrixView<const float, Device> x, MatrixView<const int, Device> ids,
                        MatrixView<const float, Device> weights, const ExpertTable& table,
                        const cfg::SwiGlu& f, bool input_scale) {
  const std::int64_t t = x.rows, k = ids.cols, hidden = table.hidden, inter = table.intermediate;
  check(out.rows == t && ids.rows == t && weights.rows == t && weights.cols == k &&
            x.cols == hidden && out.cols == hidden && inter == f.intermediate,
        "templlm: moe_experts: shapes disagree");
  if (k > 64) throw Unsupported("templlm: moe_experts: the CUDA backend handles top-k up to 64");
  if (t == 0) return;
  const std::int64_t n = t * k;
  if (n > (std::int64_t(1) << 30)) throw Unsupported("templlm: moe_experts: too many assignments");
  const int rows = static_cast<int>(n), experts = table.count;
  ws.keys_in.resize(n);
  ws.keys_out.resize(n);
  ws.values_in.resize(n);
  ws.values_out.resize(n);
  ws.inverse.resize(n);
  ws.offsets.resize(std::size_t(experts) + 1);
  ws.tile_offsets.resize(std::size_t(experts) + 1);
  ws.hidden.resize(static_cast<std::size_t>(n * inter));
  ws.out.resize(static_cast<std::size_t>(n * hidden));

  const unsigned flat_blocks = static_cast<unsigned>(std::min<std::int64_t>(detail::ceil_div(n, 256), 4096));
  detail::moe_keys_kernel<<<flat_blocks, 256, 0, stream>>>(ws.keys_in.data(), ws.values_in.data(), ids.data,
                                                           ids.stride, int(k), t, experts);
  launch_check("moe_keys_kernel");

  const int end_bit = detail::radix_bits(experts);
  std::size_t temp_bytes = 0;
  cuda_check(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, ws.keys_in.data(), ws.keys_out.data(),
                                             ws.values_in.data(), ws.values_out.data(), rows, 0,
                                             end_bit, stream),
             "cub::DeviceRadixSort::SortPairs (size query)");
  ws.sort_temp.resize(temp_bytes);
  cuda_check(cub::DeviceRadixSort::SortPairs(ws.sort_temp.data(), temp_bytes, ws.keys_in.data(),
                                             ws.keys_out.data(), ws.values_in.data(),
                                             ws.values_out.data(), rows, 0, end_bit, stream),
             "cub::DeviceRadixSort::SortPairs");

  detail::moe_schedule_kernel<<<1, detail::schedule_threads, 0, stream>>>(
      ws.offsets.data(), ws.tile_offsets.data(), ws.keys_out.data(), rows, experts);
  launch_check("moe_schedule_kernel");
  detail::moe_inverse_kernel<<<flat_blocks, 256, 0, stream>>>(ws.inverse.data(), ws.values_out.data(), rows);
  launch_check("moe_inverse_kernel");

  if (table.gemv && t <= gemv_max_rows) {
    const detail::MoeGemvParams gate_up{table.experts, experts, ws.keys_out.data(), ws.offsets.data(),
                                        ws.values_out.data(), int(k), x.data, x.stride,
                                        input_scale ? weights.data : nullptr, weights.stride,
                                        ws.hidden.data(), inter, inter, hidden, f.clamp, f.alpha};
    const detail::MoeGemvParams down{table.experts, experts, ws.keys_out.data(), ws.offsets.data(),
                                     nullptr, int(k), ws.hidden.data(), inter, nullptr, 0,
                                     ws.out.data(), hidden, hidden, inter, 0.0f, 1.0f};
    detail::moe_gemv(stream, *table.gemv, gate_up, down, t, n);
  } else {
    detail::grouped_gemms(stream, ws, x, weights, table, f, input_scale, t, k);
  }
  detail::moe_combine(stream, ws, out, ids, weights, k, experts, input_scale);
}

}  // namespace templlm::gpu
