// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cuda/moe_gemv.cuh
/// The expert projections of moe_experts for decode-sized batches (at most gemv_max_rows
/// tokens): GEMVs over the few rows each selected expert got, reading its stored weights once in
/// 16-byte chunks (gemv.cuh's warp dot product), where moe.cuh's grouped GEMM would compute
/// 64-row tiles with one row in use at batch 1 and read the weights through scalar loads.
/// Same schedule as the grouped GEMM (assignments sorted by expert, per-expert row offsets) and
/// the same combine, so only the order of each dot product's additions differs.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "../../core/math.hpp"
#include "decode.cuh"
#include "gemv.cuh"
#include "moe_table.cuh"

namespace templlm::gpu::detail {

/// The x rows of one expert's assignments: tokens gathered from x (gate/up; Llama 4 scales each
/// by its route weight first, as the CPU does) or consecutive rows of the hidden scratch (down).
template <int R>
struct ExpertRows {
  const float* row[R];
  float scale[R];
  __device__ __forceinline__ float at(int r, std::int64_t c) const { return row[r][c] * scale[r]; }
};

struct MoeGemvParams {
  const ExpertDeviceWeights* experts;
  int experts_count;
  const int* sorted_keys;      // (n) expert of each sorted assignment; experts_count = ignored
  const int* offsets;          // (E+1) first sorted row of each expert
  const int* sorted_values;    // gate/up: the assignment t*K + j of each sorted row
  int active;                  // K
  const float* a;              // gate/up: x [T, H]; down: hidden [n, I]
  std::int64_t a_stride;
  const float* route_weights;  // gate/up with input scaling: [T, K], else null
  std::int64_t route_weights_stride;
  float* c;                    // (n, n_cols) in sorted order
  std::int64_t c_stride, n_cols, k_dim;
  float clamp, alpha;
};

/// Grid (ceil(n_cols / 8), n): block column i belongs to sorted assignment i; the first
/// assignment of each expert's run computes output features [8 x, 8 x + 8) of all that
/// expert's rows (R at a time), one warp per feature; the others return at once.
template <GemvFormat F, int R, bool Gated>
__global__ void __launch_bounds__(gemv_threads) moe_gemv_kernel(MoeGemvParams p) {
  const int i = static_cast<int>(blockIdx.y);
  const int e = p.sorted_keys[i];
  if (e >= p.experts_count || (i > 0 && p.sorted_keys[i - 1] == e)) return;
  const std::int64_t o = std::int64_t(blockIdx.x) * gemv_warps + threadIdx.x / 32;
  if (o >= p.n_cols) return;  // the whole warp
  const int lane = static_cast<int>(threadIdx.x % 32);
  const ExpertDeviceWeights& ex = p.experts[e];
  const int end = p.offsets[e + 1];
  for (int r0 = p.offsets[e]; r0 < end; r0 += R) {
    const int rows = min(R, end - r0);
    ExpertRows<R> xs;
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const int sorted_row = r0 + (r < rows ? r : 0);  // unused rows point at a valid one
      if constexpr (Gated) {
        const int assignment = p.sorted_values[sorted_row];
        const int token = assignment / p.active, slot = assignment % p.active;
        xs.row[r] = p.a + std::int64_t(token) * p.a_stride;
        xs.scale[r] = p.route_weights ? p.route_weights[token * p.route_weights_stride + slot] : 1.0f;
      } else {
        xs.row[r] = p.a + std::int64_t(sorted_row) * p.a_stride;
        xs.scale[r] = 1.0f;
      }
    }
    if constexpr (Gated) {
      float g[R], u[R];
      gemv_warp_dot<F>(g, ex.gate, o, p.k_dim, xs, rows, 0, 1);
      gemv_warp_dot<F>(u, ex.up, o, p.k_dim, xs, rows, 0, 1);
      const float bg = ex.gate_bias.data ? weight_at(ex.gate_bias, 0, o) : 0.0f;
      const float bu = ex.up_bias.data ? weight_at(ex.up_bias, 0, o) : 0.0f;
#pragma unroll
      for (int r = 0; r < R; ++r)
        if (r < rows && lane == r) {
          const float gate = g[r] + bg, up = u[r] + bu;
          p.c[std::int64_t(r0 + r) * p.c_stride + o] =
              p.clamp > 0.0f ? math::clamped_swiglu(gate, up, p.clamp, p.alpha) : math::swiglu(gate, up);
        }
    } else {
      float d[R];
      gemv_warp_dot<F>(d, ex.down, o, p.k_dim, xs, rows, 0, 1);
      const float bd = ex.down_bias.data ? weight_at(ex.down_bias, 0, o) : 0.0f;
#pragma unroll
      for (int r = 0; r < R; ++r)
        if (r < rows && lane == r) p.c[std::int64_t(r0 + r) * p.c_stride + o] = d[r] + bd;
    }
  }
}

/// Gate/up (+ activation) into `gate_up.c`, then down into `down.c`, for `assignments` sorted
/// assignments of at most `tokens` tokens each expert (R = 1 for batch-1 decode, else 8).
template <GemvFormat F>
void launch_moe_gemv(cudaStream_t stream, const MoeGemvParams& gate_up, const MoeGemvParams& down,
                     std::int64_t tokens, std::int64_t assignments) {
  const unsigned y = grid_dim(assignments, max_grid_yz, "moe_experts (GEMV)");
  const dim3 grid_up(grid_dim(ceil_div(gate_up.n_cols, gemv_warps), max_grid_x, "moe_experts (GEMV)"), y);
  const dim3 grid_down(grid_dim(ceil_div(down.n_cols, gemv_warps), max_grid_x, "moe_experts (GEMV)"), y);
  auto run = [&]<int R>() {
    moe_gemv_kernel<F, R, true><<<grid_up, gemv_threads, 0, stream>>>(gate_up);
    launch_check("moe_gemv_kernel (gate/up)");
    moe_gemv_kernel<F, R, false><<<grid_down, gemv_threads, 0, stream>>>(down);
    launch_check("moe_gemv_kernel (down)");
  };
  if (tokens == 1) run.template operator()<1>();
  else run.template operator()<gemv_max_rows>();
}

inline void moe_gemv(cudaStream_t stream, GemvFormat format, const MoeGemvParams& gate_up,
                     const MoeGemvParams& down, std::int64_t tokens, std::int64_t assignments) {
  switch (format) {
    case GemvFormat::f32: return launch_moe_gemv<GemvFormat::f32>(stream, gate_up, down, tokens, assignments);
    case GemvFormat::bf16: return launch_moe_gemv<GemvFormat::bf16>(stream, gate_up, down, tokens, assignments);
    case GemvFormat::f16: return launch_moe_gemv<GemvFormat::f16>(stream, gate_up, down, tokens, assignments);
    case GemvFormat::f8: return launch_moe_gemv<GemvFormat::f8>(stream, gate_up, down, tokens, assignments);
    case GemvFormat::fp8_block:
      return launch_moe_gemv<GemvFormat::fp8_block>(stream, gate_up, down, tokens, assignments);
    case GemvFormat::mxfp4: return launch_moe_gemv<GemvFormat::mxfp4>(stream, gate_up, down, tokens, assignments);
  }
}

}  // namespace templlm::gpu::detail
