// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cuda/attention.cuh
/// Attention for a whole step and the batched KV-cache store, the device twins of
/// kernels/cpu/attention.hpp (same masks, sinks, paged caches through KvLayerView::slot, keys of
/// the chunk itself read from k_new/v_new, masks from first_visible_key in core/op_args.hpp, the
/// CPU's own definition; fp32 or bf16 cache elements, widened on load). Each kernel is launched
/// once for every chunk of the step (blockIdx.z = chunk; a block of a chunk that belongs to the
/// other path, or past its chunk's rows or keys, returns at once). Two paths, chosen per chunk
/// by its token count (decode_max_tokens):
/// - prefill (many query rows): flash_attention.cuh, tiled over query rows and keys, the query
///   heads of one KV head in one block.
/// - decode (few query rows): flash-decoding. The visible key range is
///   split into partitions of decode_partition keys; one block per (partition, KV head) handles
///   every query row (token, head) of that KV head, so each cached key and value is read from
///   memory once per step, and writes a partial (max, sum, unnormalised output) per row; a second
///   kernel merges the partitions with the log-sum-exp combine and adds the sink once.
/// See docs/backends.md.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "../../core/config.hpp"
#include "../../core/op_args.hpp"
#include "../../core/tensor.hpp"
#include "check.cuh"
#include "chunk_view.cuh"
#include "device_buffer.cuh"
#include "flash_attention.cuh"
#include "launch.cuh"

namespace templlm::gpu {
namespace detail {

// --- decode: split over the KV length, the query heads of one KV head in one block ---------------

inline constexpr int decode_threads = 128;
inline constexpr int decode_warps = decode_threads / 32;
inline constexpr int decode_tile = 32;            // keys per shared-memory tile: one per lane
inline constexpr int decode_max_rows = 16;        // query rows (token, head) per block at most
inline constexpr int decode_rows_per_warp = decode_max_rows / decode_warps;
inline constexpr int decode_slots = attention_max_dim / decode_threads;  // value dims per thread
inline constexpr std::int64_t decode_partition = 256;  // keys per partition (a multiple of the tile)
inline constexpr std::int64_t decode_max_shared = 48 * 1024;  // bytes, no opt-in needed
static_assert(decode_partition % decode_tile == 0 && decode_max_rows % decode_warps == 0 &&
              attention_max_dim % decode_threads == 0);

/// Row stride of the K/V tile in shared memory: odd, so lanes reading different keys at the
/// same dim hit different banks.
__host__ __device__ constexpr int decode_stride(int head_dim, int v_dim) {
  return (head_dim > v_dim ? head_dim : v_dim) | 1;
}

/// Dynamic shared memory of a decode block in floats: q rows, one K/V tile, probabilities,
/// per-row rescale factors.
__host__ __device__ constexpr std::int64_t decode_shared_floats(int rows, int head_dim, int v_dim) {
  return std::int64_t(rows) * head_dim + std::int64_t(decode_tile) * decode_stride(head_dim, v_dim) +
         decode_max_rows * decode_tile + decode_max_rows;
}

/// Query rows per decode block for these head dims: decode_max_rows, fewer where they would not
/// fit 48 KB of shared memory (13 at head_dim = v_dim = 256).
inline int decode_block_rows(const AttentionArgs& a) {
  const std::int64_t fixed = decode_shared_floats(0, a.head_dim, a.v_dim);
  const std::int64_t fit = (decode_max_shared / std::int64_t(sizeof(float)) - fixed) / a.head_dim;
  return static_cast<int>(std::clamp<std::int64_t>(fit, 1, decode_max_rows));
}

/// The most tokens a chunk may have to take the decode path: its query rows of one KV head
/// (n * group) fit one block, so every cached key and value is read once per step — n = 1 for
/// groups up to 16, a few tokens (speculative drafts) for smaller groups. A single token always
/// takes it (wider groups then use a few row blocks per KV head). Longer chunks (prefill) take
/// flash_attention: it has enough row blocks to fill the device without splitting the keys. Both
/// kernels of a step compare each chunk's token count against this.
inline std::int64_t decode_max_tokens(const AttentionArgs& a) {
  return std::max<std::int64_t>(1, decode_block_rows(a) / (a.heads / a.kv_heads));
}
inline bool decode_attention_applies(std::int64_t n, const AttentionArgs& a) { return n <= decode_max_tokens(a); }

struct DecodeParams {
  float* acc;              // [chunks][tokens * heads][partitions][v_dim], relative to m
  float* m;                // [chunks][tokens * heads][partitions] running max (-inf: no key)
  float* l;                // [chunks][tokens * heads][partitions] sum of exp(s - m)
  std::int64_t max_tokens;   // chunks of up to this many tokens are this path's
  std::int64_t tokens;       // the most tokens of any of its chunks (the layout of m, l, acc)
  std::int64_t partitions;   // the most partitions of any of its chunks (the stride of m, l, acc)
  int block_rows;            // query rows per block at most: the most any of its chunks has (at
                             // most decode_block_rows; the shared-memory layout)
  int row_blocks;            // the most row blocks per KV head of any of its chunks
};

/// A decode chunk's rows per block (block_rows or fewer when the chunk has fewer), row blocks
/// per KV head and key partitions, the same on the host (sizing the grid) and in the kernels.
struct DecodeShape {
  int rows;
  std::int64_t row_blocks, lo, partitions;
};
TEMPLLM_HOST_DEVICE inline DecodeShape decode_shape(const ChunkAttentionArgs& a, std::int64_t n, int block_rows) {
  const std::int64_t group = a.heads / a.kv_heads;
  const int rows = n * group < block_rows ? static_cast<int>(n * group) : block_rows;
  const std::int64_t lo = first_visible_key(a, a.start);  // non-decreasing: the chunk's smallest
  return {rows, ceil_div(n * group, std::int64_t(rows)), lo, ceil_div(a.start + n - lo, decode_partition)};
}

/// grid (partitions, kv_heads * row_blocks, chunks); block decode_threads. Row r of KV head g's
/// block b of chunk c is the query (token, head) = ((b * rows + r) / group, g * group + (b * rows
/// + r) % group) of the chunk; a block past its chunk's partitions or row blocks, or of a
/// prefill chunk, returns at once.
/// Per key tile: the tile of keys is staged in shared memory (read once), each warp scores its
/// rows with lanes across keys and updates their online softmax; then the tile of values is
/// staged and each thread accumulates its value dims for every row.
template <class T>
__global__ void __launch_bounds__(decode_threads)
    decode_attention_kernel(AttentionParams step, StepKv<T> kv, AttentionArgs args, DecodeParams d) {
  extern __shared__ float decode_shared[];
  const int chunk = static_cast<int>(blockIdx.z);
  const StepChunk ch = kv.chunks[chunk];
  if (ch.tokens > d.max_tokens || ch.tokens == 0) return;  // a prefill chunk: flash_attention's
  const ChunkAttentionArgs a = for_chunk(args, ch.start);
  const AttentionParams p = step.from_row(ch.first_row);
  const KvLayerView<T> cache = kv.chunk(chunk);
  const DecodeShape shape = decode_shape(a, ch.tokens, d.block_rows);
  const int kvh = static_cast<int>(blockIdx.y) / d.row_blocks;
  const std::int64_t block = blockIdx.y % unsigned(d.row_blocks), part = blockIdx.x;
  if (block >= shape.row_blocks || part >= shape.partitions) return;
  const int group = a.heads / a.kv_heads, dk = a.head_dim, dv = a.v_dim;
  const int stride = decode_stride(dk, dv);
  const std::int64_t n = ch.tokens, row0 = block * shape.rows;
  const std::int64_t rows_left = n * group - row0;
  const int rows = rows_left < shape.rows ? static_cast<int>(rows_left) : shape.rows;
  float* sq = decode_shared;                           // (rows, dk)
  float* skv = sq + std::int64_t(d.block_rows) * dk;   // (tile, stride): keys, then values
  float* sp = skv + decode_tile * stride;           // (max_rows, tile): exp(s - m)
  float* sc = sp + decode_max_rows * decode_tile;   // (max_rows): rescale of the old sums
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const std::int64_t k0 = shape.lo + part * decode_partition;
  const std::int64_t end = a.start + n;             // one past the last key of the chunk
  const std::int64_t k1 = k0 + decode_partition < end ? k0 + decode_partition : end;
  auto query_row = [&](int r) { return row0 + r; };  // index among the KV head's n * group rows
  auto out_row = [&](int r) {                        // index among the step's partial rows
    const std::int64_t g = query_row(r);
    return std::int64_t(chunk) * d.tokens * a.heads + (g / group) * a.heads + std::int64_t(kvh) * group + g % group;
  };

  for (int i = tid; i < rows * dk; i += decode_threads) {
    const int r = i / dk, c = i % dk;
    const std::int64_t g = query_row(r);
    sq[i] = p.q[(g / group) * p.q_stride + (std::int64_t(kvh) * group + g % group) * dk + c];
  }
  // Warp w owns rows w, w + warps, ...: their softmax state, identical in every lane.
  float m[decode_rows_per_warp], l[decode_rows_per_warp];
  std::int64_t first[decode_rows_per_warp], pos[decode_rows_per_warp];
#pragma unroll
  for (int i = 0; i < decode_rows_per_warp; ++i) {
    const int r = warp + decode_warps * i;
    m[i] = -INFINITY;
    l[i] = 0.0f;
    pos[i] = r < rows ? a.start + query_row(r) / group : -1;
    first[i] = r < rows ? first_visible_key(a, pos[i]) : 0;
  }
  // Thread tid accumulates value dims tid, tid + threads, ... of every row.
  float acc[decode_max_rows][decode_slots];
#pragma unroll
  for (int r = 0; r < decode_max_rows; ++r)
#pragma unroll
    for (int s = 0; s < decode_slots; ++s) acc[r][s] = 0.0f;

  for (std::int64_t j0 = k0; j0 < k1; j0 += decode_tile) {
    const int keys = k1 - j0 < decode_tile ? static_cast<int>(k1 - j0) : decode_tile;
    for (int i = tid; i < keys * dk; i += decode_threads) {
      const int jj = i / dk, c = i % dk;
      const std::int64_t j = j0 + jj;
      skv[jj * stride + c] = j >= a.start
                                 ? p.k_new[(j - a.start) * p.k_stride + std::int64_t(kvh) * dk + c]
                                 : cache.key(j, std::int64_t(kvh) * dk + c);
    }
    __syncthreads();
    const std::int64_t j = j0 + lane;
#pragma unroll
    for (int i = 0; i < decode_rows_per_warp; ++i) {
      const int r = warp + decode_warps * i;
      if (r < rows) {  // the same in every lane of the warp
        float s = -INFINITY;
        if (lane < keys && j >= first[i] && j <= pos[i]) {
          const float* qr = sq + r * dk;
          const float* kr = skv + lane * stride;
          float dot = 0.0f;
          for (int c = 0; c < dk; ++c) dot += qr[c] * kr[c];
          s = dot * a.scale;  // HF scales after the matmul
        }
        float tile_max = s;
        for (int offset = 16; offset > 0; offset /= 2) {
          const float other = __shfl_xor_sync(0xffffffffu, tile_max, offset);
          tile_max = other > tile_max ? other : tile_max;
        }
        const float m_new = tile_max > m[i] ? tile_max : m[i];
        // m_new = -inf: no key of this row visible yet, nothing to add and nothing to rescale.
        const bool none = m_new == -INFINITY;
        const float e = none ? 0.0f : ::expf(s - m_new);
        const float correction = none ? 1.0f : ::expf(m[i] - m_new);
        float sum = e;
        for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
        l[i] = l[i] * correction + sum;
        m[i] = m_new;
        sp[r * decode_tile + lane] = e;
        if (lane == 0) sc[r] = correction;
      }
    }
    __syncthreads();  // the keys are consumed; sp and sc are complete
    for (int i = tid; i < keys * dv; i += decode_threads) {
      const int jj = i / dv, c = i % dv;
      const std::int64_t jv = j0 + jj;
      skv[jj * stride + c] = jv >= a.start
                                 ? p.v_new[(jv - a.start) * p.v_stride + std::int64_t(kvh) * dv + c]
                                 : cache.value(jv, std::int64_t(kvh) * dv + c);
    }
    __syncthreads();
#pragma unroll
    for (int s = 0; s < decode_slots; ++s) {
      const int c = tid + decode_threads * s;
      if (c < dv) {
#pragma unroll
        for (int r = 0; r < decode_max_rows; ++r)
          if (r < rows) acc[r][s] *= sc[r];
        for (int jj = 0; jj < keys; ++jj) {
          const float v = skv[jj * stride + c];
#pragma unroll
          for (int r = 0; r < decode_max_rows; ++r)
            if (r < rows) acc[r][s] += sp[r * decode_tile + jj] * v;
        }
      }
    }
    __syncthreads();  // the values, sp and sc are consumed before the next tile
  }

  const std::int64_t parts = d.partitions;
#pragma unroll
  for (int i = 0; i < decode_rows_per_warp; ++i) {
    const int r = warp + decode_warps * i;
    if (r < rows && lane == 0) {
      d.m[out_row(r) * parts + part] = m[i];
      d.l[out_row(r) * parts + part] = l[i];
    }
  }
#pragma unroll
  for (int s = 0; s < decode_slots; ++s) {
    const int c = tid + decode_threads * s;
#pragma unroll
    for (int r = 0; r < decode_max_rows; ++r)
      if (r < rows && c < dv) d.acc[(out_row(r) * parts + part) * dv + c] = acc[r][s];
  }
}

/// grid (heads, max_tokens, chunks); block decode_threads. out = sum_p acc_p e^(m_p - M) /
/// (sum_p l_p e^(m_p - M) + e^(sink - M)), M the largest of the m_p and the sink: the standard
/// log-sum-exp combine, the sink counted once. Partitions a chunk does not have were never
/// written: only its own are read.
__global__ void __launch_bounds__(decode_threads)
    decode_merge_kernel(AttentionParams step, const StepChunk* chunks, AttentionArgs args, DecodeParams d) {
  __shared__ float factor[decode_threads];
  const StepChunk ch = chunks[blockIdx.z];
  const std::int64_t t = blockIdx.y;
  if (ch.tokens > d.max_tokens || t >= ch.tokens) return;
  const AttentionArgs a = args;
  const std::int64_t parts = decode_shape(for_chunk(args, ch.start), ch.tokens, d.block_rows).partitions;
  const int h = blockIdx.x, tid = threadIdx.x;
  const std::int64_t row = (std::int64_t(blockIdx.z) * d.tokens + t) * a.heads + h, stride = d.partitions;
  const AttentionParams p = step.from_row(ch.first_row);
  const float* m = d.m + row * stride;
  const float* l = d.l + row * stride;
  const bool sink = a.sinks != nullptr;
  float big = sink ? a.sinks[h] : -INFINITY;
  for (std::int64_t q = 0; q < parts; ++q)
    if (l[q] > 0.0f && m[q] > big) big = m[q];
  float denom = sink ? ::expf(a.sinks[h] - big) : 0.0f;
  for (std::int64_t q = 0; q < parts; ++q)
    if (l[q] > 0.0f) denom += l[q] * ::expf(m[q] - big);  // a partition with no key adds 0
  float sum[decode_slots];
#pragma unroll
  for (int s = 0; s < decode_slots; ++s) sum[s] = 0.0f;
  for (std::int64_t q0 = 0; q0 < parts; q0 += decode_threads) {
    const std::int64_t q = q0 + tid;
    __syncthreads();
    if (q < parts) factor[tid] = l[q] > 0.0f ? ::expf(m[q] - big) : 0.0f;
    __syncthreads();
    const int count = parts - q0 < decode_threads ? static_cast<int>(parts - q0) : decode_threads;
#pragma unroll
    for (int s = 0; s < decode_slots; ++s) {
      const int c = tid + decode_threads * s;
      if (c < a.v_dim)
        for (int k = 0; k < count; ++k) sum[s] += d.acc[((row * stride) + q0 + k) * a.v_dim + c] * factor[k];
    }
  }
  float* o = p.out + t * p.out_stride + std::int64_t(h) * a.v_dim;            // (Dv)
#pragma unroll
  for (int s = 0; s < decode_slots; ++s) {
    const int c = tid + decode_threads * s;
    if (c < a.v_dim) o[c] = sum[s] / denom;
  }
}

/// The decode path for the step's chunks of up to decode_max_tokens tokens (`shapes`: what
/// decode_shape gives for each, computed by the caller). The partials live in `scratch`, the
/// backend's grow-only buffer: no allocation per step once it has reached the longest context.
/// Like vLLM's paged attention v2, the partials are laid out for the step's most partitions.
template <class T>
void decode_attention(cudaStream_t stream, DeviceBuffer<float>& scratch, const AttentionParams& p,
                      const StepKv<T>& kv, const KvBatch& batch, const AttentionArgs& a) {
  const std::int64_t max_tokens = decode_max_tokens(a);
  const int block_rows = decode_block_rows(a);
  std::int64_t tokens = 0, partitions = 0, row_blocks = 0;
  int rows = 0;
  for (const StepChunk& ch : batch.chunks) {
    if (ch.tokens > max_tokens || ch.tokens == 0) continue;
    const DecodeShape s = decode_shape(for_chunk(a, ch.start), ch.tokens, block_rows);
    tokens = std::max(tokens, ch.tokens);
    partitions = std::max(partitions, s.partitions);
    row_blocks = std::max(row_blocks, s.row_blocks);
    rows = std::max(rows, s.rows);
  }
  if (tokens == 0) return;  // no decode chunk in this step
  const std::int64_t chunks = std::int64_t(batch.chunks.size());
  const std::int64_t out_rows = chunks * tokens * a.heads;
  scratch.resize(static_cast<std::size_t>(out_rows * partitions * (a.v_dim + 2)));
  float* acc = scratch.data();
  const DecodeParams d{acc,       acc + out_rows * partitions * a.v_dim, acc + out_rows * partitions * (a.v_dim + 1),
                       max_tokens, tokens, partitions, rows, static_cast<int>(row_blocks)};
  const dim3 grid(grid_dim(partitions, max_grid_x, "attention"),
                  grid_dim(a.kv_heads * row_blocks, max_grid_yz, "attention"),
                  grid_dim(chunks, max_grid_yz, "attention"));
  const auto shared = static_cast<std::size_t>(decode_shared_floats(rows, a.head_dim, a.v_dim)) * sizeof(float);
  decode_attention_kernel<T><<<grid, decode_threads, shared, stream>>>(p, kv, a, d);
  launch_check("decode_attention_kernel");
  const dim3 merge_grid(grid_dim(a.heads, max_grid_x, "attention"), grid_dim(tokens, max_grid_yz, "attention"),
                        grid_dim(chunks, max_grid_yz, "attention"));
  decode_merge_kernel<<<merge_grid, decode_threads, 0, stream>>>(p, batch.device_chunks, a, d);
  launch_check("decode_merge_kernel");
}

/// grid (rows); threads over the k and v widths. Row r is position start + r - first_row of its
/// chunk; positions whose page is not allocated (out of every window) are not stored. Elements
/// are rounded to the cache's type (kv_put).
template <class T>
__global__ void kv_store_kernel(KvPages<T, Device> cache, KvBatch batch, const float* k_new, std::int64_t k_stride,
                                const float* v_new, std::int64_t v_stride) {
  const std::int64_t r = blockIdx.x;
  const int c = batch.device_row_chunk[r];
  const StepChunk ch = batch.device_chunks[c];
  const std::int64_t slot = batch.tables.slot(c, ch.start + r - ch.first_row);
  if (slot < 0) return;
  for (std::int64_t i = threadIdx.x; i < cache.k_width; i += blockDim.x)
    kv_put(cache.k[slot * cache.k_width + i], k_new[r * k_stride + i]);
  for (std::int64_t i = threadIdx.x; i < cache.v_width; i += blockDim.x)
    kv_put(cache.v[slot * cache.v_width + i], v_new[r * v_stride + i]);
}

}  // namespace detail

/// out [rows, heads * v_dim] = softmax(q k^T * scale, masked) v for every chunk of the step at
/// once: one decode launch (and its merge) for the chunks of up to detail::decode_max_tokens
/// tokens, one flash launch for the longer ones; the decode partials in `scratch`.
template <class T>
void attention(cudaStream_t stream, DeviceBuffer<float>& scratch, MatrixView<float, Device> out,
               MatrixView<const float, Device> q, MatrixView<const float, Device> k_new,
               MatrixView<const float, Device> v_new, const KvPages<T, Device>& pages, const KvBatch& batch,
               const AttentionArgs& a) {
  const std::int64_t n = q.rows;
  check(q.cols == std::int64_t(a.heads) * a.head_dim && out.cols == std::int64_t(a.heads) * a.v_dim &&
            out.rows == n && k_new.rows == n && v_new.rows == n && n == batch.rows && a.kv_heads > 0 &&
            a.heads % a.kv_heads == 0,
        "templlm: attention: shapes disagree");
  if (a.head_dim > detail::attention_max_dim || a.v_dim > detail::attention_max_dim)
    throw Unsupported("templlm: attention: the CUDA kernel handles head dims up to " +
                      std::to_string(detail::attention_max_dim));
  if ((a.mixer == cfg::Mixer::sliding || a.mixer == cfg::Mixer::chunked) && a.window <= 0)
    throw InvalidInput("templlm: attention: a sliding or chunked layer needs a window > 0");
  if (n == 0) return;
  const detail::AttentionParams p{out.data,   out.stride,   q.data,     q.stride,
                                  k_new.data, k_new.stride, v_new.data, v_new.stride};
  const StepKv<T> kv = step_kv(pages, batch);
  detail::decode_attention(stream, scratch, p, kv, batch, a);
  detail::flash_attention(stream, p, kv, batch, a, detail::decode_max_tokens(a));
}

/// Stores every row of the step at its position in its chunk's pages (one launch for the batch;
/// v_new is not read when the cache has no values).
template <class T>
void kv_store(cudaStream_t stream, const KvPages<T, Device>& cache, const KvBatch& batch,
              MatrixView<const float, Device> k_new, MatrixView<const float, Device> v_new) {
  check(k_new.rows == batch.rows && k_new.cols >= cache.k_width &&
            (cache.v_width == 0 || (v_new.rows == batch.rows && v_new.cols >= cache.v_width)),
        "templlm: kv_store: shapes disagree");
  if (batch.rows == 0) return;
  detail::kv_store_kernel<T><<<detail::grid_dim(batch.rows, detail::max_grid_x, "kv_store"), 256, 0, stream>>>(
      cache, batch, k_new.data, k_new.stride, v_new.data, v_new.stride);
  launch_check("kv_store_kernel");
}

}  // namespace templlm::gpu
