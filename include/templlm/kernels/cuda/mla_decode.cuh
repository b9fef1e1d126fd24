// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cuda/mla_decode.cuh
/// The absorbed form of multi-head latent attention (DeepSeek-V3 decode; kernels/cpu/mla.hpp is
/// the specification) as flash-decoding over the latent cache, reading kv_b in its stored form
/// (decode.cuh's weight_at: bf16, FP8 blocks, ...) with no fp32 copy of it, and the latents
/// where they are: in the layer's pages (through the step's page tables, fp32 or bf16) and, for
/// the chunk's own positions, in latent_new. Three kernels, each launched once for all the
/// step's absorbed chunks (blockIdx.z = chunk; blocks of other chunks return at once):
/// 1. mla_absorb_query_kernel: q~_h = W_UK,h^T q_nope_h, summed over nope in the CPU's order,
///    followed by q_pe_h, so a query row has the latent row's layout [c (rank), k_pe (rope)].
/// 2. mla_latent_attention_kernel: every head scores and averages the same latents (MQA-like),
///    so one block per (partition of positions, block of query rows (token, head)) stages a tile
///    of latents in shared memory once, scores it for all its rows (lane = position) and
///    accumulates it as the value for all of them (thread = latent dim), each row an online
///    softmax; it writes a partial (max, sum, unnormalised o~) per (row, partition).
/// 3. mla_merge_project_kernel: per (token, head), the log-sum-exp merge of the partitions into
///    o~_h, then out_h = W_UV,h o~_h (a warp per output dim).
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "../../core/mla_args.hpp"
#include "../../core/tensor.hpp"
#include "check.cuh"
#include "chunk_view.cuh"
#include "decode.cuh"
#include "device_buffer.cuh"
#include "launch.cuh"

namespace templlm::gpu {

/// The absorbed form's scratch, kept by the backend between calls; it only grows.
struct MlaDecodeWorkspace {
  DeviceBuffer<float> query;     // [chunks][tokens * heads, rank + rope]: q~ | q_pe
  DeviceBuffer<float> partials;  // [chunks][tokens * heads, partitions] of (o~ (rank), m, l)
  std::int64_t shared_optin = 0;            // the device's largest dynamic shared memory a block
  std::int64_t shared_allowed = 48 * 1024;  // what the attention kernel is opted into so far
};

namespace detail {

inline constexpr int mla_decode_threads = 256;
inline constexpr int mla_decode_warps = mla_decode_threads / 32;
inline constexpr int mla_tile = 32;               // positions per shared-memory tile: one per lane
inline constexpr int mla_max_rows = 16;           // query rows (token, head) per block at most
inline constexpr int mla_rows_per_warp = mla_max_rows / mla_decode_warps;
inline constexpr int mla_max_rank = 512;          // DeepSeek-V3's kv_lora_rank
inline constexpr int mla_slots = mla_max_rank / mla_decode_threads;  // latent dims per thread
inline constexpr std::int64_t mla_partition = 256;  // positions per partition (a multiple of the tile)
static_assert(mla_partition % mla_tile == 0 && mla_max_rows % mla_decode_warps == 0 &&
              mla_max_rank % mla_decode_threads == 0);

/// Row stride of the latent tile in shared memory: odd, so lanes scoring different positions at
/// the same dim hit different banks.
__host__ __device__ constexpr int mla_tile_stride(int width) { return width | 1; }

/// Dynamic shared memory of an attention block in floats: its query rows, one latent tile,
/// probabilities and per-row rescale factors.
__host__ __device__ constexpr std::int64_t mla_decode_shared_floats(int rows, int width) {
  return std::int64_t(rows) * width + std::int64_t(mla_tile) * mla_tile_stride(width) +
         mla_max_rows * mla_tile + mla_max_rows;
}

/// Query rows per attention block: mla_max_rows, fewer where they would not fit `shared_bytes`
/// (the device's opt-in limit); 0 when not even one row fits.
inline int mla_decode_block_rows(int width, std::int64_t shared_bytes) {
  const std::int64_t fixed = mla_decode_shared_floats(0, width);
  const std::int64_t fit = (shared_bytes / std::int64_t(sizeof(float)) - fixed) / width;
  return static_cast<int>(std::clamp<std::int64_t>(fit, 0, mla_max_rows));
}

/// What the three kernels share: the step's chunks and which of them are absorbed (up to
/// max_tokens tokens), the layout of the query rows and partials (`tokens` rows of heads per
/// chunk, `partitions` per row), and query rows per attention block at most.
struct MlaStep {
  const StepChunk* chunks;
  std::int64_t max_tokens, tokens, partitions;
  int block_rows;
  /// Chunk c's first row among the query rows and partials.
  __host__ __device__ std::int64_t first_row(int c, int heads) const { return std::int64_t(c) * tokens * heads; }
};

/// An absorbed chunk's rows per attention block, row blocks and latent partitions, the same on
/// the host (sizing the grid) and in the kernels.
struct MlaShape {
  int rows;
  std::int64_t row_blocks, partitions;
};
__host__ __device__ inline MlaShape mla_shape(std::int64_t start, std::int64_t n, int heads, int block_rows) {
  const std::int64_t total = n * heads;
  const int rows = total < block_rows ? static_cast<int>(total) : block_rows;
  return {rows, ceil_div(total, std::int64_t(rows)), ceil_div(start + n, mla_partition)};
}

/// grid (heads, tokens, chunks); block mla_decode_threads. Query row t * heads + h of chunk c:
/// [W_UK,h^T q_nope_h (rank), q_pe_h (rope)] of the chunk's token t.
template <WeightPath P>
__global__ void __launch_bounds__(mla_decode_threads)
    mla_absorb_query_kernel(float* query, const float* q, std::int64_t q_stride, DeviceWeight kv_b, MlaArgs a,
                            MlaStep step) {
  const StepChunk ch = step.chunks[blockIdx.z];
  const int h = blockIdx.x;
  const std::int64_t t = blockIdx.y, width = a.rank + a.rope;
  if (ch.tokens > step.max_tokens || t >= ch.tokens) return;
  const float* qn = q + (ch.first_row + t) * q_stride + std::int64_t(h) * (a.nope + a.rope);  // (nope + rope)
  float* qt = query + (step.first_row(blockIdx.z, a.heads) + t * a.heads + h) * width;      // (rank + rope)
  const std::int64_t wk = std::int64_t(h) * (a.nope + a.v);                 // W_UK,h's first row
  for (int i = threadIdx.x; i < a.rank; i += blockDim.x) {
    float sum = 0.0f;  // d ascending from 0, as the CPU accumulates q~
    for (int d = 0; d < a.nope; ++d) sum += qn[d] * weight_at<P>(kv_b, wk + d, i);
    qt[i] = sum;
  }
  for (int d = threadIdx.x; d < a.rope; d += blockDim.x) qt[a.rank + d] = qn[a.nope + d];
}

template <class T>
struct MlaDecodeParams {
  const float* query;        // MlaStep's layout: [chunks][tokens * heads, rank + rope]
  const float* latent_new;   // packed row r's latent at latent_new + r * latent_stride
  std::int64_t latent_stride;
  StepKv<T> cache;           // positions before each chunk, in the layer's pages
  float* partials;           // MlaStep's layout: [chunks][tokens * heads][partitions][rank + 2]
};

/// grid (partitions, row blocks, chunks); block mla_decode_threads. Query row g = t * heads + h
/// (the chunk's token t, head h) sees positions 0 .. start + t. Per tile of positions: the
/// latents are staged in shared memory once; each warp scores its rows against them (lane =
/// position) and updates their online softmax; then each thread accumulates its latent dims of
/// every row from the same tile (the latent is the value too).
template <class T>
__global__ void __launch_bounds__(mla_decode_threads)
    mla_latent_attention_kernel(MlaDecodeParams<T> d, MlaArgs a, MlaStep step) {
  extern __shared__ float mla_decode_shared[];
  const int chunk = static_cast<int>(blockIdx.z);
  const StepChunk ch = step.chunks[chunk];
  if (ch.tokens > step.max_tokens || ch.tokens == 0) return;
  const MlaShape shape = mla_shape(ch.start, ch.tokens, a.heads, step.block_rows);
  if (blockIdx.y >= shape.row_blocks || blockIdx.x >= shape.partitions) return;
  const KvLayerView<T> cache = d.cache.chunk(chunk);
  const std::int64_t start = ch.start, base = step.first_row(chunk, a.heads);
  const int width = a.rank + a.rope, stride = mla_tile_stride(width);
  const std::int64_t row0 = std::int64_t(blockIdx.y) * shape.rows, rows_left = ch.tokens * a.heads - row0;
  const int rows = rows_left < shape.rows ? static_cast<int>(rows_left) : shape.rows;
  float* sq = mla_decode_shared;                              // (rows, width)
  float* sc = sq + std::int64_t(step.block_rows) * width;     // (tile, stride): latents [c, k_pe]
  float* sp = sc + mla_tile * stride;                  // (max_rows, tile): exp(s - m)
  float* sr = sp + mla_max_rows * mla_tile;            // (max_rows): rescale of the old sums
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const std::int64_t part = blockIdx.x, k0 = part * mla_partition, end = start + ch.tokens;
  const std::int64_t k1 = k0 + mla_partition < end ? k0 + mla_partition : end;

  for (std::int64_t i = tid; i < std::int64_t(rows) * width; i += mla_decode_threads)
    sq[i] = d.query[(base + row0) * width + i];
  // Warp w owns rows w, w + warps, ...: their softmax state, identical in every lane.
  float m[mla_rows_per_warp], l[mla_rows_per_warp];
  std::int64_t pos[mla_rows_per_warp];
#pragma unroll
  for (int i = 0; i < mla_rows_per_warp; ++i) {
    const int r = warp + mla_decode_warps * i;
    m[i] = -INFINITY;
    l[i] = 0.0f;
    pos[i] = r < rows ? start + (row0 + r) / a.heads : -1;
  }
  // Thread tid accumulates latent dims tid, tid + threads, ... of every row.
  float acc[mla_max_rows][mla_slots];
#pragma unroll
  for (int r = 0; r < mla_max_rows; ++r)
#pragma unroll
    for (int s = 0; s < mla_slots; ++s) acc[r][s] = 0.0f;

  for (std::int64_t j0 = k0; j0 < k1; j0 += mla_tile) {
    const int keys = k1 - j0 < mla_tile ? static_cast<int>(k1 - j0) : mla_tile;
    for (int i = tid; i < keys * width; i += mla_decode_threads) {
      const int jj = i / width, c = i % width;
      const std::int64_t j = j0 + jj;
      sc[jj * stride + c] = j >= start ? d.latent_new[(ch.first_row + j - start) * d.latent_stride + c]
                                       : cache.key(j, c);
    }
    __syncthreads();
    const std::int64_t j = j0 + lane;
#pragma unroll
    for (int i = 0; i < mla_rows_per_warp; ++i) {
      const int r = warp + mla_decode_warps * i;
      if (r < rows) {  // the same in every lane of the warp
        float s = -INFINITY;
        if (lane < keys && j <= pos[i]) {
          const float* qr = sq + r * width;
          const float* kr = sc + lane * stride;
          float dot = 0.0f;
          for (int c = 0; c < width; ++c) dot += qr[c] * kr[c];
          s = dot * a.scale;  // HF scales after the product
        }
        float tile_max = s;
        for (int offset = 16; offset > 0; offset /= 2) {
          const float other = __shfl_xor_sync(0xffffffffu, tile_max, offset);
          tile_max = other > tile_max ? other : tile_max;
        }
        const float m_new = tile_max > m[i] ? tile_max : m[i];
        // m_new = -inf: no position of this row visible yet, nothing to add or rescale.
        const bool none = m_new == -INFINITY;
        const float e = none ? 0.0f : ::expf(s - m_new);
        const float correction = none ? 1.0f : ::expf(m[i] - m_new);
        float sum = e;
        for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
        l[i] = l[i] * correction + sum;
        m[i] = m_new;
        sp[r * mla_tile + lane] = e;
        if (lane == 0) sr[r] = correction;
      }
    }
    __syncthreads();  // sp and sr are complete
#pragma unroll
    for (int s = 0; s < mla_slots; ++s) {
      const int c = tid + mla_decode_threads * s;
      if (c < a.rank) {
#pragma unroll
        for (int r = 0; r < mla_max_rows; ++r)
          if (r < rows) acc[r][s] *= sr[r];
        for (int jj = 0; jj < keys; ++jj) {
          const float value = sc[jj * stride + c];
#pragma unroll
          for (int r = 0; r < mla_max_rows; ++r)
            if (r < rows) acc[r][s] += sp[r * mla_tile + jj] * value;
        }
      }
    }
    __syncthreads();  // the latents, sp and sr are consumed before the next tile
  }

  const std::int64_t parts = step.partitions, record = a.rank + 2;
#pragma unroll
  for (int i = 0; i < mla_rows_per_warp; ++i) {
    const int r = warp + mla_decode_warps * i;
    if (r < rows && lane == 0) {
      float* out = d.partials + ((base + row0 + r) * parts + part) * record + a.rank;
      out[0] = m[i];
      out[1] = l[i];
    }
  }
#pragma unroll
  for (int s = 0; s < mla_slots; ++s) {
    const int c = tid + mla_decode_threads * s;
#pragma unroll
    for (int r = 0; r < mla_max_rows; ++r)
      if (r < rows && c < a.rank) d.partials[((base + row0 + r) * parts + part) * record + c] = acc[r][s];
  }
}

/// grid (heads, tokens, chunks); block mla_decode_threads. o~ = sum_p acc_p e^(m_p - M) /
/// sum_p l_p e^(m_p - M), M the largest m_p (the log-sum-exp combine) over the chunk's own
/// partitions; then out_h = W_UV,h o~, one warp per output dim with lanes across the rank.
template <WeightPath P>
__global__ void __launch_bounds__(mla_decode_threads)
    mla_merge_project_kernel(float* out, std::int64_t out_stride, DeviceWeight kv_b, MlaArgs a, MlaStep step,
                             const float* partials) {
  __shared__ float factor[mla_decode_threads];
  __shared__ float merged[mla_max_rank];
  const StepChunk ch = step.chunks[blockIdx.z];
  const std::int64_t t = blockIdx.y;
  if (ch.tokens > step.max_tokens || t >= ch.tokens) return;
  const int h = blockIdx.x, tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const std::int64_t parts = mla_shape(ch.start, ch.tokens, a.heads, step.block_rows).partitions;
  const std::int64_t row = step.first_row(blockIdx.z, a.heads) + t * a.heads + h, record = a.rank + 2;
  const float* part0 = partials + row * step.partitions * record;  // (parts, record)
  auto m = [&](std::int64_t q) { return part0[q * record + a.rank]; };
  auto l = [&](std::int64_t q) { return part0[q * record + a.rank + 1]; };
  float big = -INFINITY;
  for (std::int64_t q = 0; q < parts; ++q)
    if (l(q) > 0.0f && m(q) > big) big = m(q);
  float denom = 0.0f;
  for (std::int64_t q = 0; q < parts; ++q)
    if (l(q) > 0.0f) denom += l(q) * ::expf(m(q) - big);  // a partition with no position adds 0
  float sum[mla_slots];
#pragma unroll
  for (int s = 0; s < mla_slots; ++s) sum[s] = 0.0f;
  for (std::int64_t q0 = 0; q0 < parts; q0 += mla_decode_threads) {
    const std::int64_t q = q0 + tid;
    __syncthreads();
    if (q < parts) factor[tid] = l(q) > 0.0f ? ::expf(m(q) - big) : 0.0f;
    __syncthreads();
    const int count = parts - q0 < mla_decode_threads ? static_cast<int>(parts - q0) : mla_decode_threads;
#pragma unroll
    for (int s = 0; s < mla_slots; ++s) {
      const int c = tid + mla_decode_threads * s;
      if (c < a.rank)
        for (int k = 0; k < count; ++k) sum[s] += part0[(q0 + k) * record + c] * factor[k];
    }
  }
#pragma unroll
  for (int s = 0; s < mla_slots; ++s) {
    const int c = tid + mla_decode_threads * s;
    if (c < a.rank) merged[c] = sum[s] / denom;
  }
  __syncthreads();
  const std::int64_t wv = std::int64_t(h) * (a.nope + a.v) + a.nope;  // W_UV,h's first row
  float* o = out + (ch.first_row + t) * out_stride + std::int64_t(h) * a.v;  // (v)
  for (int e = warp; e < a.v; e += mla_decode_warps) {
    float dot = 0.0f;
    for (int i = lane; i < a.rank; i += 32) dot += weight_at<P>(kv_b, wv + e, i) * merged[i];
    for (int offset = 16; offset > 0; offset /= 2) dot += __shfl_xor_sync(0xffffffffu, dot, offset);
    if (lane == 0) o[e] = dot;
  }
}

/// The absorbed form for every chunk of the step of up to max_tokens tokens (shapes checked by
/// the caller): their rows of out [rows, heads * v] from q [rows, heads * (nope + rope)], the
/// step's latents and each chunk's cached positions in the pages, kv_b read where it is stored.
template <class T>
void mla_absorbed_attention(cudaStream_t stream, MlaDecodeWorkspace& ws, MatrixView<float, Device> out,
                            MatrixView<const float, Device> q, MatrixView<const float, Device> latent_new,
                            const StepKv<T>& cache, const KvBatch& batch, const WeightView<Device>& kv_b,
                            const MlaArgs& a, std::int64_t max_tokens) {
  const std::int64_t width = a.rank + a.rope;
  if (max_tokens == 0) return;  // the layer has no absorbed form
  if (a.rank > mla_max_rank)
    throw Unsupported("templlm: mla_attention: the CUDA absorbed kernel handles a latent rank up to " +
                      std::to_string(mla_max_rank) + ", not " + std::to_string(a.rank));
  if (ws.shared_optin == 0) {
    int device = 0, bytes = 0;
    cuda_check(cudaGetDevice(&device), "cudaGetDevice");
    cuda_check(cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
               "cudaDeviceGetAttribute");
    ws.shared_optin = bytes;
  }
  const int fit = mla_decode_block_rows(static_cast<int>(width), ws.shared_optin);
  if (fit < 1)
    throw Unsupported("templlm: mla_attention: a latent row of " + std::to_string(width) +
                      " floats does not fit the CUDA kernel's shared memory (" +
                      std::to_string(ws.shared_optin) + " bytes a block)");
  std::int64_t tokens = 0, row_blocks = 0, partitions = 0;
  int rows = 0;
  for (const StepChunk& ch : batch.chunks) {
    if (ch.tokens > max_tokens || ch.tokens == 0) continue;
    const MlaShape s = mla_shape(ch.start, ch.tokens, a.heads, fit);
    tokens = std::max(tokens, ch.tokens);
    row_blocks = std::max(row_blocks, s.row_blocks);
    partitions = std::max(partitions, s.partitions);
    rows = std::max(rows, s.rows);
  }
  if (tokens == 0) return;  // no absorbed chunk in this step
  const std::int64_t chunks = std::int64_t(batch.chunks.size()), rows_total = chunks * tokens * a.heads;
  const auto shared = std::int64_t(sizeof(float)) * mla_decode_shared_floats(rows, static_cast<int>(width));
  if (shared > ws.shared_allowed) {
    cuda_check(cudaFuncSetAttribute(mla_latent_attention_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    static_cast<int>(shared)),
               "cudaFuncSetAttribute");
    ws.shared_allowed = shared;
  }
  ws.query.resize(static_cast<std::size_t>(rows_total * width));
  ws.partials.resize(static_cast<std::size_t>(rows_total * partitions * (a.rank + 2)));
  // rows: the most any absorbed chunk has, at most `fit`, so each chunk's shape is the same
  // with it as with `fit`.
  const MlaStep step{batch.device_chunks, max_tokens, tokens, partitions, rows};
  const MlaDecodeParams<T> d{ws.query.data(), latent_new.data, latent_new.stride, cache, ws.partials.data()};
  const dim3 per_row(grid_dim(a.heads, max_grid_x, "mla_attention"), grid_dim(tokens, max_grid_yz, "mla_attention"),
                     grid_dim(chunks, max_grid_yz, "mla_attention"));
  const dim3 grid(grid_dim(partitions, max_grid_x, "mla_attention"),
                  grid_dim(row_blocks, max_grid_yz, "mla_attention"), grid_dim(chunks, max_grid_yz, "mla_attention"));
  with_weight_path(kv_b, "mla_attention", [&]<WeightPath P>() {
    mla_absorb_query_kernel<P><<<per_row, mla_decode_threads, 0, stream>>>(ws.query.data(), q.data, q.stride,
                                                                           device_weight(kv_b), a, step);
    launch_check("mla_absorb_query_kernel");
    mla_latent_attention_kernel<T><<<grid, mla_decode_threads, static_cast<std::size_t>(shared), stream>>>(d, a, step);
    launch_check("mla_latent_attention_kernel");
    mla_merge_project_kernel<P><<<per_row, mla_decode_threads, 0, stream>>>(out.data, out.stride,
                                                                            device_weight(kv_b), a, step,
                                                                            ws.partials.data());
    launch_check("mla_merge_project_kernel");
  });
}

}  // namespace detail
}  // namespace templlm::gpu
