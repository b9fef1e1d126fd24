// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cuda/flash_attention.cuh
/// The prefill path of gpu::attention (attention.cuh): flash-style attention tiled over queries
/// and keys, in fp32 only (the exactness path: the CPU backend within 1e-5). FlashAttention-2's
/// loop shape, our own code:
/// - one block per (tile of query rows, KV head, chunk of the step), one launch for the step. A KV head's query rows are its (token, head)
///   pairs in token-major order, so a block holds `block_rows / group` whole tokens with all
///   `group` query heads of that KV head, and every K/V element staged in shared memory serves
///   all of its rows. A group wider than a block splits one token over several blocks.
/// - the block walks key tiles of flash_tile keys from the first key any of its rows can see
///   (first_visible_key of core/op_args.hpp, the CPU's definition) to its last token; keys before
///   the chunk from its pages through KvLayerView::slot (chunk_view.cuh), the chunk's own
///   from k_new/v_new. Per tile: scores S = q k^T (each thread a 4-row x 2-key patch), then per
///   row a masked online softmax (a warp per row, lane = key: running max, sum and rescale
///   factor), then O = O * rescale + P v (each thread a 4-row x DimSlots-dim patch in registers).
/// - the sink (gpt-oss) starts each row's softmax as one logit with no value (m = sink, l = 1):
///   one extra term in the denominator, as the CPU adds it.
/// Shared memory stays within 48 KB without an opt-in (as decode and MLA do): the K/V tile
/// (32 keys) and the fixed per-row arrays take their share, the query rows take the rest, so a
/// block has 32 rows up to head dims of 128, 24 at 192/128 (DeepSeek-style), 11 at 256.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "../../core/op_args.hpp"
#include "check.cuh"
#include "chunk_view.cuh"
#include "launch.cuh"

namespace templlm::gpu::detail {

inline constexpr int attention_max_dim = 256;  // head_dim and v_dim, both paths of attention

/// Pointers and row strides of one attention call (both paths of attention.cuh).
struct AttentionParams {
  float* out;
  std::int64_t out_stride;
  const float* q;
  std::int64_t q_stride;
  const float* k_new;
  std::int64_t k_stride;
  const float* v_new;
  std::int64_t v_stride;
  /// The same matrices from packed row r (a chunk's first row) on.
  __host__ __device__ AttentionParams from_row(std::int64_t r) const {
    return {out + r * out_stride, out_stride, q + r * q_stride, q_stride,
            k_new + r * k_stride, k_stride,   v_new + r * v_stride, v_stride};
  }
};

inline constexpr int flash_threads = 128;
inline constexpr int flash_warps = flash_threads / 32;
inline constexpr int flash_tile = 32;                  // keys per tile: one per lane in the softmax
inline constexpr int flash_max_rows = 32;              // query rows (token, head) per block at most
// Thread tid = (tr, tc) with tr = tid / flash_col_threads: rows tr + flash_row_threads * i,
// keys (scores) and value dims (output) tc + flash_col_threads * k.
inline constexpr int flash_col_threads = 16;
inline constexpr int flash_row_threads = flash_threads / flash_col_threads;
inline constexpr int flash_thread_rows = flash_max_rows / flash_row_threads;  // 4
inline constexpr int flash_thread_keys = flash_tile / flash_col_threads;      // 2
inline constexpr int flash_warp_rows = flash_max_rows / flash_warps;          // 8, softmax
inline constexpr std::int64_t flash_max_shared = 48 * 1024;  // bytes, no opt-in needed
static_assert(flash_tile == 32 && flash_max_rows % flash_row_threads == 0 &&
              flash_tile % flash_col_threads == 0 && flash_max_rows % flash_warps == 0);

/// The fixed part of a block's shared memory; the query rows and the K/V tile are dynamic.
struct FlashSharedStorage {
  float p[flash_max_rows][flash_tile + 1];  // scores, then exp(s - m); padded against conflicts
  float rescale[flash_max_rows];            // per tile e^(m_old - m_new); at the end the sums
  std::int64_t first[flash_max_rows], last[flash_max_rows];  // each row's visible keys
};

/// Row strides in shared memory: odd, so threads reading different rows at one dim hit
/// different banks.
__host__ __device__ constexpr int flash_q_stride(int head_dim) { return head_dim | 1; }
__host__ __device__ constexpr int flash_kv_stride(int head_dim, int v_dim) {
  return (head_dim > v_dim ? head_dim : v_dim) | 1;
}

/// Dynamic shared memory of a block in floats: `rows` query rows and one K/V tile.
__host__ __device__ constexpr std::int64_t flash_shared_floats(int rows, int head_dim, int v_dim) {
  return std::int64_t(rows) * flash_q_stride(head_dim) +
         std::int64_t(flash_tile) * flash_kv_stride(head_dim, v_dim);
}

/// Query rows per block: as many as fit 48 KB (flash_max_rows at most), rounded down to whole
/// tokens when the group fits, so a block shares one mask range per token.
inline int flash_block_rows(const AttentionArgs& a) {
  const std::int64_t budget = (flash_max_shared - std::int64_t(sizeof(FlashSharedStorage))) / std::int64_t(sizeof(float)) -
                              flash_shared_floats(0, a.head_dim, a.v_dim);
  const int fit = static_cast<int>(std::clamp<std::int64_t>(budget / flash_q_stride(a.head_dim), 1, flash_max_rows));
  const int group = a.heads / a.kv_heads;
  return group <= fit ? fit / group * group : fit;
}

/// A prefill chunk's query rows per block (the layer's flash_block_rows, fewer when the chunk has
/// fewer) and row blocks per KV head, the same on the host and in the kernel.
struct FlashShape {
  int rows;
  std::int64_t row_blocks;
};
__host__ __device__ inline FlashShape flash_shape(std::int64_t n, int group, int block_rows) {
  const int rows = n * group < block_rows ? static_cast<int>(n * group) : block_rows;
  return {rows, ceil_div(n * group, std::int64_t(rows))};
}

/// grid (row blocks, kv_heads, chunks); block flash_threads; DimSlots * flash_col_threads >=
/// v_dim. Row r of KV head g's row block b of chunk c (blockIdx.x counts them from the last) is
/// the chunk's query (token, head) = (x / group, g * group + x % group) with x = b * rows + r.
/// Chunks of up to decode_tokens tokens are the decode kernel's: their blocks return at once,
/// as do blocks past their chunk's row blocks.
template <int DimSlots, class T>
__global__ void __launch_bounds__(flash_threads)
    flash_attention_kernel(AttentionParams step, StepKv<T> kv, AttentionArgs args, std::int64_t decode_tokens,
                           int block_rows, int layout_rows) {
  extern __shared__ float flash_shared[];
  __shared__ FlashSharedStorage s;
  const int chunk = static_cast<int>(blockIdx.z);
  const StepChunk ch = kv.chunks[chunk];
  if (ch.tokens <= decode_tokens) return;
  const int group = args.heads / args.kv_heads, dk = args.head_dim, dv = args.v_dim;
  const std::int64_t n = ch.tokens;
  const FlashShape shape = flash_shape(n, group, block_rows);
  if (blockIdx.x >= shape.row_blocks) return;
  const ChunkAttentionArgs a = for_chunk(args, ch.start);
  const AttentionParams p = step.from_row(ch.first_row);
  const KvLayerView<T> cache = kv.chunk(chunk);
  const int qs = flash_q_stride(dk), kvs = flash_kv_stride(dk, dv);
  float* sq = flash_shared;                               // (layout_rows, qs)
  float* skv = sq + std::int64_t(layout_rows) * qs;       // (flash_tile, kvs): keys, then values
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int tr = tid / flash_col_threads, tc = tid % flash_col_threads;
  const int kvh = static_cast<int>(blockIdx.y);
  // The last row blocks see the most keys: they start first, so the long tail is short ones.
  const std::int64_t row0 = (shape.row_blocks - 1 - blockIdx.x) * shape.rows;
  const std::int64_t rows_left = n * group - row0;
  const int rows = rows_left < shape.rows ? static_cast<int>(rows_left) : shape.rows;
  auto token = [&](int r) { return (row0 + r) / group; };
  auto head = [&](int r) { return kvh * group + static_cast<int>((row0 + r) % group); };
  // Keys [lo, hi]: from the first key the block's first token sees (first_visible_key is
  // non-decreasing) to its last token.
  const std::int64_t lo = first_visible_key(a, a.start + token(0)), hi = a.start + token(rows - 1);

  for (int i = tid; i < rows * dk; i += flash_threads) {
    const int r = i / dk, c = i % dk;
    sq[r * qs + c] = p.q[token(r) * p.q_stride + std::int64_t(head(r)) * dk + c];
  }
  for (int r = tid; r < flash_max_rows; r += flash_threads) {  // a row past `rows` sees nothing
    s.last[r] = r < rows ? a.start + token(r) : -1;
    s.first[r] = r < rows ? first_visible_key(a, a.start + token(r)) : 0;
  }
  // Warp w owns the softmax state of rows w, w + warps, ..., identical in every lane.
  float m[flash_warp_rows], l[flash_warp_rows];
#pragma unroll
  for (int i = 0; i < flash_warp_rows; ++i) {
    const int r = warp + flash_warps * i;
    const bool sink = a.sinks != nullptr && r < rows;  // one logit with no value
    m[i] = sink ? a.sinks[head(r)] : -INFINITY;
    l[i] = sink ? 1.0f : 0.0f;
  }
  float acc[flash_thread_rows][DimSlots];
#pragma unroll
  for (int i = 0; i < flash_thread_rows; ++i)
#pragma unroll
    for (int k = 0; k < DimSlots; ++k) acc[i][k] = 0.0f;
  // Rows past `rows` read a real query row instead (never stored): no branch in the dot loop.
  int qrow[flash_thread_rows];
#pragma unroll
  for (int i = 0; i < flash_thread_rows; ++i) {
    const int r = tr + flash_row_threads * i;
    qrow[i] = (r < rows ? r : rows - 1) * qs;
  }

  for (std::int64_t j0 = lo; j0 <= hi; j0 += flash_tile) {
    const int keys = hi - j0 + 1 < flash_tile ? static_cast<int>(hi - j0 + 1) : flash_tile;
    for (int i = tid; i < keys * dk; i += flash_threads) {
      const int jj = i / dk, c = i % dk;
      const std::int64_t j = j0 + jj;
      skv[jj * kvs + c] = j >= a.start ? p.k_new[(j - a.start) * p.k_stride + std::int64_t(kvh) * dk + c]
                                       : cache.key(j, std::int64_t(kvh) * dk + c);
    }
    __syncthreads();  // keys staged (and, the first time, the query rows and masks)
    float dot[flash_thread_rows][flash_thread_keys];
#pragma unroll
    for (int i = 0; i < flash_thread_rows; ++i)
#pragma unroll
      for (int k = 0; k < flash_thread_keys; ++k) dot[i][k] = 0.0f;
    for (int c = 0; c < dk; ++c) {  // the CPU's order: one running sum over d per (row, key)
      float kc[flash_thread_keys];
#pragma unroll
      for (int k = 0; k < flash_thread_keys; ++k) kc[k] = skv[(tc + flash_col_threads * k) * kvs + c];
#pragma unroll
      for (int i = 0; i < flash_thread_rows; ++i) {
        const float qc = sq[qrow[i] + c];
#pragma unroll
        for (int k = 0; k < flash_thread_keys; ++k) dot[i][k] += qc * kc[k];
      }
    }
#pragma unroll
    for (int i = 0; i < flash_thread_rows; ++i)
#pragma unroll
      for (int k = 0; k < flash_thread_keys; ++k)
        s.p[tr + flash_row_threads * i][tc + flash_col_threads * k] = dot[i][k] * a.scale;  // HF scales after
    __syncthreads();  // scores complete; the keys are consumed

    const std::int64_t j = j0 + lane;
#pragma unroll
    for (int i = 0; i < flash_warp_rows; ++i) {
      const int r = warp + flash_warps * i;
      const bool visible = lane < keys && j >= s.first[r] && j <= s.last[r];  // per-row mask
      const float score = visible ? s.p[r][lane] : -INFINITY;
      float tile_max = score;
      for (int offset = 16; offset > 0; offset /= 2) {
        const float other = __shfl_xor_sync(0xffffffffu, tile_max, offset);
        tile_max = other > tile_max ? other : tile_max;
      }
      const float m_new = tile_max > m[i] ? tile_max : m[i];
      // m_new = -inf: nothing visible to this row yet, nothing to add and nothing to rescale.
      const bool none = m_new == -INFINITY;
      const float e = none ? 0.0f : ::expf(score - m_new);
      const float correction = none ? 1.0f : ::expf(m[i] - m_new);
      float sum = e;
      for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
      l[i] = l[i] * correction + sum;
      m[i] = m_new;
      s.p[r][lane] = e;
      if (lane == 0) s.rescale[r] = correction;
    }
    for (int i = tid; i < keys * dv; i += flash_threads) {
      const int jj = i / dv, c = i % dv;
      const std::int64_t jv = j0 + jj;
      skv[jj * kvs + c] = jv >= a.start ? p.v_new[(jv - a.start) * p.v_stride + std::int64_t(kvh) * dv + c]
                                        : cache.value(jv, std::int64_t(kvh) * dv + c);
    }
    __syncthreads();  // probabilities, rescale factors and values staged

#pragma unroll
    for (int i = 0; i < flash_thread_rows; ++i) {
      const float correction = s.rescale[tr + flash_row_threads * i];
#pragma unroll
      for (int k = 0; k < DimSlots; ++k) acc[i][k] *= correction;
    }
    for (int jj = 0; jj < keys; ++jj) {
      float pr[flash_thread_rows];
#pragma unroll
      for (int i = 0; i < flash_thread_rows; ++i) pr[i] = s.p[tr + flash_row_threads * i][jj];
#pragma unroll
      for (int k = 0; k < DimSlots; ++k) {
        const int c = tc + flash_col_threads * k;
        if (c < dv) {
          const float v = skv[jj * kvs + c];
#pragma unroll
          for (int i = 0; i < flash_thread_rows; ++i) acc[i][k] += pr[i] * v;
        }
      }
    }
    __syncthreads();  // values, probabilities and factors consumed before the next tile
  }

#pragma unroll
  for (int i = 0; i < flash_warp_rows; ++i)
    if (lane == 0) s.rescale[warp + flash_warps * i] = l[i];
  __syncthreads();
#pragma unroll
  for (int i = 0; i < flash_thread_rows; ++i) {
    const int r = tr + flash_row_threads * i;
    if (r < rows) {
      const float denom = s.rescale[r];  // > 0: every row sees at least its own key
      float* o = p.out + token(r) * p.out_stride + std::int64_t(head(r)) * dv;
#pragma unroll
      for (int k = 0; k < DimSlots; ++k) {
        const int c = tc + flash_col_threads * k;
        if (c < dv) o[c] = acc[i][k] / denom;
      }
    }
  }
}

/// The prefill path for the step's chunks of more than decode_tokens tokens: one launch, the
/// kernel instantiated for the value dims (DimSlots = 4, 8, 16 for v_dim up to 64, 128, 256) so
/// small heads keep fewer registers.
template <class T>
void flash_attention(cudaStream_t stream, const AttentionParams& p, const StepKv<T>& kv, const KvBatch& batch,
                     const AttentionArgs& a, std::int64_t decode_tokens) {
  const int group = a.heads / a.kv_heads, block_rows = flash_block_rows(a);
  std::int64_t row_blocks = 0;
  int rows = 0;
  for (const StepChunk& ch : batch.chunks) {
    if (ch.tokens <= decode_tokens) continue;
    const FlashShape shape = flash_shape(ch.tokens, group, block_rows);
    row_blocks = std::max(row_blocks, shape.row_blocks);
    rows = std::max(rows, shape.rows);
  }
  if (row_blocks == 0) return;  // no prefill chunk in this step
  const dim3 grid(grid_dim(row_blocks, max_grid_x, "attention"), grid_dim(a.kv_heads, max_grid_yz, "attention"),
                  grid_dim(std::int64_t(batch.chunks.size()), max_grid_yz, "attention"));
  const auto shared = static_cast<std::size_t>(flash_shared_floats(rows, a.head_dim, a.v_dim)) * sizeof(float);
  if (a.v_dim <= 4 * flash_col_threads)
    flash_attention_kernel<4, T><<<grid, flash_threads, shared, stream>>>(p, kv, a, decode_tokens, block_rows, rows);
  else if (a.v_dim <= 8 * flash_col_threads)
    flash_attention_kernel<8, T><<<grid, flash_threads, shared, stream>>>(p, kv, a, decode_tokens, block_rows, rows);
  else
    flash_attention_kernel<16, T><<<grid, flash_threads, shared, stream>>>(p, kv, a, decode_tokens, block_rows, rows);
  launch_check("flash_attention_kernel");
}

}  // namespace templlm::gpu::detail
