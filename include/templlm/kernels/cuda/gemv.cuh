// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cuda/gemv.cuh
/// y = x W^T (+ b) for a few rows of x (batch-1 decode, small batches): a GEMV that reads each
/// stored weight byte once, in its stored form, instead of decoding W to an fp32 scratch for
/// cuBLAS (linear.cuh does that for larger x, and for the layouts this kernel does not cover).
///
/// One warp per output feature o (8 warps, 8 features, a block). The warp streams W's row o in
/// 16-byte vector loads, lane l taking chunks l, l + 32, ... (512 contiguous bytes per warp and
/// step, several steps in flight); each chunk is decoded in registers with the shared functions
/// of core/numeric.hpp (bf16_to_f32, f16_to_f32, fp8_e4m3fn_to_f32 times the fp32 block scale,
/// mxfp4_to_f32 with the chunk's e8m0 scale: 16 bytes of MXFP4 are exactly one 32-value group)
/// and multiplied into fp32 accumulators, one per row of x. The values before the row's first
/// 16-byte boundary and after its last full chunk go through weight_at. A butterfly of
/// __shfl_xor_sync sums the lanes; lane r writes y[r, o] (+ b[o], added after the sum, as the CPU
/// does). x (fp32, at most 8 rows) is read with plain loads and served from L1/L2: every warp of
/// the grid reads all of it.
///
/// Split-K: a narrow output (a router's 128 experts, DeepSeek's 576-wide kv_a) gives n / 8 blocks,
/// too few to keep every SM streaming. Given a GemvWorkspace, the row's 16-byte chunks are cut
/// into up to 16 contiguous ranges (each at least 256 chunks, two full steps of every lane), one
/// grid row per range; each writes its partial sums and a second kernel adds the ranges in order
/// (then the bias). No atomics: the result is deterministic.
///
/// Weight bytes read from memory per weight: f32 4, bf16/f16 2, f8 1, FP8 blocks 1 (+ 4 bytes of
/// scale per block x block tile), MXFP4 0.5 (+ 1 scale byte per 32), against 10 for a bf16
/// weight on the decode + cublasSgemm path.
///
/// Covered: untransposed f32, bf16, f16 and f8_e4m3 elements, FP8 blocks of at least 16 columns
/// (a 16-value chunk then meets at most one block edge), MXFP4 whose rows start on 16-byte
/// boundaries (16-aligned data, row length a multiple of 32), each with any row selection
/// (row_base, row_step, ld) and strided x / y views. Not covered (linear.cuh falls back to the
/// decode + cuBLAS path): transposed storage (upload() compacts unquantised transposed views into
/// rows, so only hand-made device views are transposed), FP8 blocks under 16 columns, MXFP4 rows
/// off 16-byte boundaries. Not yet run on a GPU (docs/backends.md).
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <optional>

#include "../../core/error.hpp"
#include "../../core/numeric.hpp"
#include "../../core/tensor.hpp"
#include "check.cuh"
#include "decode.cuh"
#include "device_buffer.cuh"
#include "launch.cuh"

namespace templlm::gpu {

/// The largest x.rows the GEMV takes. Each 16-byte chunk of W costs the GEMV about 2 R
/// instructions per decoded value (the x load and the FMA, per row of x). For bf16 at R = 8 that
/// is ~16 lane-instructions per weight byte, about what an H100 SM can issue while its share of
/// HBM delivers a byte (132 SMs x 128 lanes x 1.75 GHz ~ 3e13 lane-instr/s against 3.35 TB/s), so
/// up to 8 rows the kernel stays memory-bound and beats the decode path's 10 bytes per bf16
/// weight by 5x. Beyond 8 it turns issue-bound (and its R accumulators per chunk value start to
/// cost registers), which is where a tensor-core path belongs, not a wider SIMT GEMV.
inline constexpr std::int64_t gemv_max_rows = 8;

/// The stored forms the GEMV reads directly.
enum class GemvFormat { f32, bf16, f16, f8, fp8_block, mxfp4 };

namespace detail {

inline constexpr int gemv_warps = 8;  // output features per block
inline constexpr int gemv_threads = 32 * gemv_warps;
inline constexpr int gemv_unroll = 4;  // 16-byte loads in flight per lane
inline constexpr int gemv_max_splits = 16;
inline constexpr std::int64_t gemv_min_split_chunks = 2 * 32 * gemv_unroll;

/// Decoded values per 16-byte chunk.
template <GemvFormat F>
inline constexpr int gemv_chunk_values = F == GemvFormat::f32                                  ? 4
                                         : F == GemvFormat::bf16 || F == GemvFormat::f16       ? 8
                                         : F == GemvFormat::f8 || F == GemvFormat::fp8_block ? 16
                                                                                               : 32;

/// weight_at's read path for the values outside the vectorised body.
template <GemvFormat F>
inline constexpr WeightPath gemv_scalar_path = F == GemvFormat::f32    ? WeightPath::f32
                                               : F == GemvFormat::bf16 ? WeightPath::bf16
                                                                       : WeightPath::general;

/// The V values of one 16-byte chunk of W's physical row `prow`, whose first value is logical
/// column c0 (k columns in all), decoded exactly as weight_at decodes them.
template <GemvFormat F>
__device__ __forceinline__ void gemv_decode_chunk(float (&v)[gemv_chunk_values<F>], const uint4& chunk,
                                                  const DeviceWeight& w, std::int64_t prow, std::int64_t c0,
                                                  [[maybe_unused]] std::int64_t k) {
  const std::uint32_t words[4] = {chunk.x, chunk.y, chunk.z, chunk.w};
  if constexpr (F == GemvFormat::f32) {
#pragma unroll
    for (int j = 0; j < 4; ++j) v[j] = bits_to_f32(words[j]);
  } else if constexpr (F == GemvFormat::bf16 || F == GemvFormat::f16) {
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const auto h = static_cast<std::uint16_t>(words[j / 2] >> (16 * (j % 2)));
      v[j] = F == GemvFormat::bf16 ? bf16_to_f32(h) : f16_to_f32(h);
    }
  } else if constexpr (F == GemvFormat::f8) {
#pragma unroll
    for (int j = 0; j < 16; ++j) v[j] = fp8_e4m3fn_to_f32(static_cast<std::uint8_t>(words[j / 4] >> (8 * (j % 4))));
  } else if constexpr (F == GemvFormat::fp8_block) {
    // block >= 16: the chunk's columns lie in block column c0 / block and at most the next one.
    const float* srow = reinterpret_cast<const float*>(w.scales) + (prow / w.block) * w.scale_ld;
    const std::int64_t b0 = c0 / w.block, edge = (b0 + 1) * w.block;
    const float s0 = srow[b0];
    const float s1 = edge < c0 + 16 && edge < k ? srow[b0 + 1] : s0;
#pragma unroll
    for (int j = 0; j < 16; ++j)
      v[j] = fp8_e4m3fn_to_f32(static_cast<std::uint8_t>(words[j / 4] >> (8 * (j % 4)))) *
             (c0 + j < edge ? s0 : s1);
  } else {  // mxfp4: 32 values of one group, low nibble = even column
    const auto scale = static_cast<std::uint8_t>(w.scales[prow * w.scale_ld + c0 / 32]);
#pragma unroll
    for (int b = 0; b < 16; ++b) {
      const auto byte = static_cast<std::uint8_t>(words[b / 4] >> (8 * (b % 4)));
      v[2 * b] = mxfp4_to_f32(std::uint8_t(byte & 0x0f), scale);
      v[2 * b + 1] = mxfp4_to_f32(std::uint8_t(byte >> 4), scale);
    }
  }
}

/// Rows of x at a fixed stride (linear's x).
struct StridedRows {
  const float* x;
  std::int64_t stride;
  __device__ __forceinline__ float at(int r, std::int64_t c) const { return x[r * stride + c]; }
};

/// acc[r] = sum over c of W[o, c] * xs.at(r, c) for r < rows <= R, W's logical row o read in
/// 16-byte chunks by the 32 lanes of the calling warp, summed over the lanes (every lane gets the
/// totals). Split `split` of `splits` takes its share of the chunks; split 0 also the values
/// outside the 16-byte body. xs: StridedRows, or any type with at(r, c).
template <GemvFormat F, int R, class Rows>
__device__ __forceinline__ void gemv_warp_dot(float (&acc)[R], const DeviceWeight& w, std::int64_t o, std::int64_t k,
                                              const Rows& xs, int rows, int split, int splits) {
  constexpr int V = gemv_chunk_values<F>;
  const int lane = static_cast<int>(threadIdx.x % 32);
  const std::int64_t prow = w.row_base + o * w.row_step;
  const std::byte* row = F == GemvFormat::mxfp4 ? w.data + prow * (w.stride / 2)
                                                : w.data + prow * w.stride * (16 / V);
  // Values before the first 16-byte boundary (none for MXFP4: gemv_format requires aligned rows).
  const auto misaligned = static_cast<std::int64_t>(reinterpret_cast<std::uintptr_t>(row) % 16);
  std::int64_t head = F == GemvFormat::mxfp4 || misaligned == 0 ? 0 : (16 - misaligned) / (16 / V);
  if (head > k) head = k;
  const std::int64_t chunks = (k - head) / V, tail = head + chunks * V;

#pragma unroll
  for (int r = 0; r < R; ++r) acc[r] = 0.0f;
  auto add_value = [&](std::int64_t c, float v) {
#pragma unroll
    for (int r = 0; r < R; ++r)
      if (r < rows) acc[r] += v * xs.at(r, c);
  };
  if (split == 0) {
    for (std::int64_t c = lane; c < head; c += 32) add_value(c, weight_at<gemv_scalar_path<F>>(w, o, c));
    for (std::int64_t c = tail + lane; c < k; c += 32) add_value(c, weight_at<gemv_scalar_path<F>>(w, o, c));
  }

  const uint4* body = reinterpret_cast<const uint4*>(row + (F == GemvFormat::mxfp4 ? 0 : head * (16 / V)));
  const std::int64_t per_split = ceil_div(chunks, splits);
  const std::int64_t first = split * per_split, last = first + per_split < chunks ? first + per_split : chunks;
  for (std::int64_t i0 = first + lane; i0 < last; i0 += 32 * gemv_unroll) {
    uint4 chunk[gemv_unroll];
#pragma unroll
    for (int u = 0; u < gemv_unroll; ++u)
      if (i0 + 32 * u < last) chunk[u] = body[i0 + 32 * u];
#pragma unroll
    for (int u = 0; u < gemv_unroll; ++u) {
      if (i0 + 32 * u >= last) break;
      const std::int64_t c0 = head + (i0 + 32 * u) * V;
      float v[V];
      gemv_decode_chunk<F>(v, chunk[u], w, prow, c0, k);
#pragma unroll
      for (int r = 0; r < R; ++r) {
        if (r >= rows) break;
#pragma unroll
        for (int j = 0; j < V; ++j) acc[r] += v[j] * xs.at(r, c0 + j);
      }
    }
  }

#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) acc[r] += __shfl_xor_sync(0xffffffffu, acc[r], offset);
}

/// y[r, o] = sum_c x[r, c] W[o, c] (+ b[o]) for r < rows <= R, one warp per o. With gridDim.y
/// = S > 1 splits, grid row s sums its range of chunks (split 0 also the unaligned head and tail)
/// into partials[(s * rows + r) * n + o], without bias; gemv_reduce_kernel finishes.
template <GemvFormat F, int R>
__global__ void __launch_bounds__(gemv_threads)
    gemv_kernel(float* y, std::int64_t y_stride, const float* __restrict__ x, std::int64_t x_stride, int rows,
                DeviceWeight w, std::int64_t n, std::int64_t k, DeviceWeight bias, bool has_bias,
                float* partials) {
  const int lane = static_cast<int>(threadIdx.x % 32);
  const int split = static_cast<int>(blockIdx.y), splits = static_cast<int>(gridDim.y);
  const std::int64_t o = std::int64_t(blockIdx.x) * gemv_warps + threadIdx.x / 32;
  if (o >= n) return;  // the whole warp: its shuffles see every lane
  float acc[R];
  gemv_warp_dot<F>(acc, w, o, k, StridedRows{x, x_stride}, rows, split, splits);
  if (partials != nullptr) {
#pragma unroll
    for (int r = 0; r < R; ++r)
      if (r < rows && lane == r) partials[(std::int64_t(split) * rows + r) * n + o] = acc[r];
    return;
  }
  const float b = has_bias ? weight_at(bias, 0, o) : 0.0f;
#pragma unroll
  for (int r = 0; r < R; ++r)
    if (r < rows && lane == r) y[r * y_stride + o] = has_bias ? acc[r] + b : acc[r];
}

/// y[r, o] = sum over s in order of partials[(s * rows + r) * n + o] (+ b[o]).
__global__ void gemv_reduce_kernel(float* y, std::int64_t y_stride, const float* partials, int rows, int splits,
                                   std::int64_t n, DeviceWeight bias, bool has_bias) {
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < rows * n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t r = i / n, o = i % n;
    float sum = 0.0f;
    for (int s = 0; s < splits; ++s) sum += partials[(std::int64_t(s) * rows + r) * n + o];
    y[r * y_stride + o] = has_bias ? sum + weight_at(bias, 0, o) : sum;
  }
}

template <GemvFormat F, int R>
void launch_gemv(cudaStream_t stream, MatrixView<float, Device> y, MatrixView<const float, Device> x,
                 const WeightView<Device>& w, const WeightView<Device>& bias, int splits, float* partials) {
  const std::int64_t n = w.shape[0], k = w.shape[1];
  const dim3 grid(grid_dim(ceil_div(n, gemv_warps), max_grid_x, "linear (GEMV)"), static_cast<unsigned>(splits));
  gemv_kernel<F, R><<<grid, gemv_threads, 0, stream>>>(y.data, y.stride, x.data, x.stride,
                                                       static_cast<int>(x.rows), device_weight(w), n, k,
                                                       device_weight(bias), !bias.empty(),
                                                       splits > 1 ? partials : nullptr);
  launch_check("gemv_kernel");
  if (splits == 1) return;
  const unsigned blocks = static_cast<unsigned>(std::min<std::int64_t>(ceil_div(x.rows * n, 256), 4096));
  gemv_reduce_kernel<<<blocks, 256, 0, stream>>>(y.data, y.stride, partials, static_cast<int>(x.rows), splits,
                                                 n, device_weight(bias), !bias.empty());
  launch_check("gemv_reduce_kernel");
}

template <GemvFormat F>
void launch_gemv(cudaStream_t stream, MatrixView<float, Device> y, MatrixView<const float, Device> x,
                 const WeightView<Device>& w, const WeightView<Device>& bias, int splits, float* partials) {
  if (x.rows == 1) return launch_gemv<F, 1>(stream, y, x, w, bias, splits, partials);
  if (x.rows == 2) return launch_gemv<F, 2>(stream, y, x, w, bias, splits, partials);
  if (x.rows <= 4) return launch_gemv<F, 4>(stream, y, x, w, bias, splits, partials);
  return launch_gemv<F, 8>(stream, y, x, w, bias, splits, partials);
}

}  // namespace detail

/// What a split-K GEMV needs: the grid size worth filling and room for the partial sums. Owned
/// by the backend (the partials only grow).
struct GemvWorkspace {
  int target_blocks = 0;  // about two blocks per SM (gemv_target_blocks); 0 turns split-K off
  DeviceBuffer<float> partials;
};

/// Two blocks of 8 warps per SM of `device`: the grid a split GEMV aims to fill.
inline int gemv_target_blocks(int device) {
  int sms = 0;
  cuda_check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device), "cudaDeviceGetAttribute");
  return 2 * sms;
}

/// How many K ranges a GEMV of n outputs over `chunks` 16-byte chunks a row is split into: enough
/// blocks to reach target_blocks, each range at least gemv_min_split_chunks, at most 16.
inline int gemv_splits(std::int64_t n, std::int64_t chunks, int target_blocks) {
  const std::int64_t blocks = detail::ceil_div(n, detail::gemv_warps);
  if (target_blocks <= 0 || blocks >= target_blocks) return 1;
  const std::int64_t wanted = detail::ceil_div(target_blocks, blocks);
  const std::int64_t most = std::min<std::int64_t>(detail::gemv_max_splits, chunks / detail::gemv_min_split_chunks);
  return static_cast<int>(std::max<std::int64_t>(1, std::min(wanted, most)));
}

/// The GEMV's reading of w, or nothing when linear must take the decode + cuBLAS path.
inline std::optional<GemvFormat> gemv_format(const WeightView<Device>& w) {
  if (w.rank != 2 || w.transposed || w.data == nullptr) return std::nullopt;
  switch (w.quant) {
    case Quant::none:
      switch (w.dtype) {
        case DType::f32: return GemvFormat::f32;
        case DType::bf16: return GemvFormat::bf16;
        case DType::f16: return GemvFormat::f16;
        case DType::f8_e4m3: return GemvFormat::f8;
        default: return std::nullopt;
      }
    case Quant::fp8_block:
      if (w.block >= 16 && w.scales != nullptr) return GemvFormat::fp8_block;
      return std::nullopt;
    case Quant::mxfp4:
      if (w.scales != nullptr && w.stride() % 32 == 0 && reinterpret_cast<std::uintptr_t>(w.data) % 16 == 0)
        return GemvFormat::mxfp4;
      return std::nullopt;
  }
  return std::nullopt;
}

/// True when linear(y, x, w) runs the GEMV: 1..gemv_max_rows rows of x and a covered layout.
inline bool gemv_applies(std::int64_t rows, const WeightView<Device>& w) {
  return rows >= 1 && rows <= gemv_max_rows && gemv_format(w).has_value();
}

/// y = x W^T (+ bias) by the GEMV; requires gemv_applies(x.rows, w) and matching shapes. With a
/// workspace, narrow outputs are split over K (see the file comment).
inline void gemv(cudaStream_t stream, MatrixView<float, Device> y, MatrixView<const float, Device> x,
                 const WeightView<Device>& w, const WeightView<Device>& bias = {},
                 GemvWorkspace* workspace = nullptr) {
  const auto format = gemv_format(w);
  check(format.has_value() && x.rows >= 1 && x.rows <= gemv_max_rows,
        "templlm: gemv: this weight layout or row count takes the decode + cuBLAS path");
  check(x.cols == w.shape[1] && y.cols == w.shape[0] && y.rows == x.rows,
        "templlm: gemv: shapes of x, y and W disagree");
  if (!bias.empty()) {
    check(bias.numel() == y.cols, "templlm: linear: bias length differs from the output width");
    detail::require_decodable(bias, "a bias");
  }
  if (y.cols == 0) return;
  // Chunks a row, counted roughly (the unaligned head is ignored): it only sizes the split.
  const std::int64_t chunks = w.shape[1] / (*format == GemvFormat::f32                                  ? 4
                                            : *format == GemvFormat::bf16 || *format == GemvFormat::f16 ? 8
                                            : *format == GemvFormat::mxfp4                              ? 32
                                                                                                        : 16);
  const int splits = workspace == nullptr ? 1 : gemv_splits(y.cols, chunks, workspace->target_blocks);
  float* partials = nullptr;
  if (splits > 1) {
    workspace->partials.resize(static_cast<std::size_t>(splits * x.rows * y.cols));
    partials = workspace->partials.data();
  }
  switch (*format) {
    case GemvFormat::f32: return detail::launch_gemv<GemvFormat::f32>(stream, y, x, w, bias, splits, partials);
    case GemvFormat::bf16: return detail::launch_gemv<GemvFormat::bf16>(stream, y, x, w, bias, splits, partials);
    case GemvFormat::f16: return detail::launch_gemv<GemvFormat::f16>(stream, y, x, w, bias, splits, partials);
    case GemvFormat::f8: return detail::launch_gemv<GemvFormat::f8>(stream, y, x, w, bias, splits, partials);
    case GemvFormat::fp8_block:
      return detail::launch_gemv<GemvFormat::fp8_block>(stream, y, x, w, bias, splits, partials);
    case GemvFormat::mxfp4: return detail::launch_gemv<GemvFormat::mxfp4>(stream, y, x, w, bias, splits, partials);
  }
}

}  // namespace templlm::gpu
