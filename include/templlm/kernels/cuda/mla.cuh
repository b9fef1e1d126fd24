// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cuda/mla.cuh
/// Multi-head latent attention (DeepSeek-V3) over the latent cache and its store, the device
/// twins of kernels/cpu/mla.hpp, with the same cache layout: per position the normalised latent
/// c (rank floats) then the roped shared key k_pe (rope floats).
/// - absorbed form (decode): mla_decode.cuh, flash-decoding over the latents in their pages with
///   W_UK folded into the query and W_UV into the output, kv_b read where it is stored; one set
///   of launches for all the step's single-token chunks.
/// - expanded form (prefill, HF's), per chunk: the chunk's cached latents gathered from the pages
///   into contiguous fp32 rows (the GEMM's operand; vLLM's MLA prefill gathers its context the
///   same way), kv_b decoded to fp32 once per call, k_nope | v of every visible position with
///   one cuBLAS GEMM per source (cache, chunk), then one block per (token, head), its warps
///   splitting the positions, each an online softmax, merged at the end (as attention.cuh).
///   Correctness first: no tiling.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "../../core/mla_args.hpp"
#include "../../core/op_args.hpp"
#include "../../core/tensor.hpp"
#include "attention.cuh"
#include "check.cuh"
#include "chunk_view.cuh"
#include "device_buffer.cuh"
#include "launch.cuh"
#include "linear.cuh"
#include "mla_decode.cuh"

namespace templlm::gpu {

/// The scratch mla_attention keeps between calls; it only grows.
struct MlaWorkspace {
  DeviceBuffer<float> w;         // expanded form: kv_b decoded, [heads * (nope + v), rank]
  DeviceBuffer<float> kv;        // expanded form: [positions, heads * (nope + v)]
  DeviceBuffer<float> cached;    // the chunk's cached latents gathered from their pages [start, width]
  MlaDecodeWorkspace absorbed;   // absorbed form (mla_decode.cuh)
};

namespace detail {

inline constexpr int mla_warps = 4;
// No opt-in to larger dynamic shared memory: the 48 KB without one include the kernel's static
// m_warp / l_warp, so the dynamic part gets the rest.
inline constexpr std::size_t mla_max_shared = 48 * 1024 - 2 * mla_warps * sizeof(float);

struct MlaParams {
  float* out;
  std::int64_t out_stride;
  const float* q;
  std::int64_t q_stride;
  const float* latent_new;
  std::int64_t latent_stride;
  const float* cache;        // position j's latent at cache + j * cache_stride
  std::int64_t cache_stride;
  const float* kv;           // expanded k_nope / v [positions, heads * (nope + v)]
};

/// Floats of dynamic shared memory of the expanded kernel: the query and one accumulator per
/// warp.
__host__ __device__ constexpr std::int64_t mla_shared_floats(const MlaArgs& a) {
  return a.nope + a.rope + mla_warps * std::int64_t(a.v);
}

/// grid (heads, tokens); block mla_warps warps. Keys [k_nope_h, k_pe] against [q_nope, q_pe],
/// values v_h.
__global__ void __launch_bounds__(mla_warps * 32) mla_expanded_kernel(MlaParams p, ChunkMlaArgs a) {
  __shared__ float m_warp[mla_warps], l_warp[mla_warps];
  extern __shared__ float mla_shared[];
  const int qdim = a.nope + a.rope, vdim = a.v;
  float* query = mla_shared;                                                  // (qdim)
  float* acc = query + qdim;                                                  // (warps,vdim)

  const int h = blockIdx.x, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const std::int64_t t = blockIdx.y, pos = a.start + t;
  const std::int64_t hv = a.nope + a.v, kv_width = std::int64_t(a.heads) * hv;
  const float* qn = p.q + t * p.q_stride + std::int64_t(h) * qdim;          // (nope+rope)
  for (int d = threadIdx.x; d < qdim; d += blockDim.x) query[d] = qn[d];
  for (int d = lane; d < vdim; d += 32) acc[warp * vdim + d] = 0.0f;
  __syncthreads();

  float m = -INFINITY, l = 0.0f;
  for (std::int64_t j = warp; j <= pos; j += mla_warps) {
    const float* c = j >= a.start ? p.latent_new + (j - a.start) * p.latent_stride
                                  : p.cache + j * p.cache_stride;             // (rank+rope)
    const float* kvj = p.kv + j * kv_width + std::int64_t(h) * hv;           // (nope+v)
    float dot = 0.0f;
    for (int d = lane; d < qdim; d += 32) dot += query[d] * (d < a.nope ? kvj[d] : c[a.rank + d - a.nope]);
    for (int offset = 16; offset > 0; offset /= 2) dot += __shfl_xor_sync(0xffffffffu, dot, offset);
    const float s = dot * a.scale;  // HF scales after the product
    const float m_new = s > m ? s : m;
    const float correction = ::expf(m - m_new), weight = ::expf(s - m_new);
    l = l * correction + weight;
    for (int d = lane; d < vdim; d += 32)
      acc[warp * vdim + d] = acc[warp * vdim + d] * correction + weight * kvj[a.nope + d];
    m = m_new;
  }
  if (lane == 0) {
    m_warp[warp] = m;
    l_warp[warp] = l;
  }
  __syncthreads();

  float m_all = -INFINITY;
  for (int w = 0; w < mla_warps; ++w) m_all = m_warp[w] > m_all ? m_warp[w] : m_all;
  float denom = 0.0f, factor[mla_warps];
  for (int w = 0; w < mla_warps; ++w) {
    factor[w] = l_warp[w] > 0.0f ? ::expf(m_warp[w] - m_all) : 0.0f;  // a warp with no keys adds 0
    denom += l_warp[w] * factor[w];
  }
  float* o = p.out + t * p.out_stride + std::int64_t(h) * a.v;                // (v)
  for (int d = threadIdx.x; d < vdim; d += blockDim.x) {
    float sum = 0.0f;
    for (int w = 0; w < mla_warps; ++w) sum += acc[w * vdim + d] * factor[w];
    o[d] = sum / denom;
  }
}

}  // namespace detail

/// The expanded form for one chunk: out [T, heads * v] from q [T, heads * (nope + rope)] (rope
/// part already rotated), the chunk's latents [T, rank + rope] and its cached positions before
/// a.start as contiguous fp32 rows `cache` (cache_stride floats apart; mla_attention_batch
/// gathers them from the pages) (kernels/cpu/mla.hpp). kv_b: [heads * (nope + v), rank] in any
/// stored form the device decodes.
inline void mla_expanded_attention(cublasHandle_t blas, cudaStream_t stream, MlaWorkspace& ws,
                                   MatrixView<float, Device> out, MatrixView<const float, Device> q,
                                   MatrixView<const float, Device> latent_new, const float* cache,
                                   std::int64_t cache_stride, const WeightView<Device>& kv_b, const ChunkMlaArgs& a) {
  const std::int64_t n = q.rows;
  const std::size_t shared = std::size_t(detail::mla_shared_floats(a)) * sizeof(float);
  if (shared > detail::mla_max_shared)
    throw Unsupported("templlm: mla_attention: the CUDA kernel needs " + std::to_string(shared) +
                      " bytes of shared memory for these dims, above " +
                      std::to_string(detail::mla_max_shared));
  if (n == 0) return;

  // HF's form: k_nope | v of every visible position = c kv_b^T, kv_b decoded once per call.
  const std::int64_t hv = a.nope + a.v, rows = std::int64_t(a.heads) * hv, positions = a.start + n;
  ws.w.resize(static_cast<std::size_t>(rows * a.rank));
  decode_rows(stream, ws.w.data(), kv_b, 0, rows);
  ws.kv.resize(static_cast<std::size_t>(positions * rows));
  if (a.start > 0)
    detail::sgemm_nt(blas, ws.kv.data(), rows, cache, cache_stride, ws.w.data(), a.rank, a.start, rows,
                     a.rank);
  detail::sgemm_nt(blas, ws.kv.data() + a.start * rows, rows, latent_new.data, latent_new.stride, ws.w.data(),
                   a.rank, n, rows, a.rank);
  const detail::MlaParams p{out.data,          out.stride, q.data,        q.stride,
                            latent_new.data,   latent_new.stride, cache, cache_stride,
                            ws.kv.data()};
  const dim3 grid(detail::grid_dim(a.heads, detail::max_grid_x, "mla_attention"),
                  detail::grid_dim(n, detail::max_grid_yz, "mla_attention"));
  detail::mla_expanded_kernel<<<grid, detail::mla_warps * 32, shared, stream>>>(p, a);
  launch_check("mla_expanded_kernel");
}

namespace detail {
/// grid (start); row j of dst = position j of the chunk, read through its page table, in fp32.
template <class T>
__global__ void gather_latents_kernel(float* dst, KvLayerView<T> cache) {
  const std::int64_t j = blockIdx.x;
  for (std::int64_t i = threadIdx.x; i < cache.k_width; i += blockDim.x) dst[j * cache.k_width + i] = cache.key(j, i);
}
}  // namespace detail

/// The batched op: one set of absorbed launches for the step's chunks of up to absorbed_tokens
/// tokens (1 when the layer asks for absorb_decode, as on the CPU; 0: none), then per longer
/// chunk its cached latents gathered from the pages and the expanded form on its rows.
template <class T>
void mla_attention_batch(cublasHandle_t blas, cudaStream_t stream, MlaWorkspace& ws, MatrixView<float, Device> out,
                         MatrixView<const float, Device> q, MatrixView<const float, Device> latent_new,
                         const KvPages<T, Device>& pages, const KvBatch& batch, const WeightView<Device>& kv_b,
                         const MlaArgs& args, std::int64_t absorbed_tokens) {
  const std::int64_t width = args.rank + args.rope, qk = args.nope + args.rope, hv = args.nope + args.v;
  check(q.rows == batch.rows && out.rows == batch.rows && latent_new.rows == batch.rows &&
            q.cols == args.heads * qk && out.cols == std::int64_t(args.heads) * args.v &&
            latent_new.cols == width && pages.k_width == width && kv_b.rank == 2 &&
            kv_b.shape[0] == args.heads * hv && kv_b.cols() == args.rank,
        "templlm: mla_attention: shapes disagree");
  detail::mla_absorbed_attention(stream, ws.absorbed, out, q, latent_new, step_kv(pages, batch), batch, kv_b, args,
                                 absorbed_tokens);
  for (std::size_t c = 0; c < batch.chunks.size(); ++c) {
    const StepChunk& ch = batch.chunks[c];
    if (ch.tokens <= absorbed_tokens) continue;  // done above
    if (ch.start > 0) {
      ws.cached.resize(static_cast<std::size_t>(ch.start * width));
      detail::gather_latents_kernel<T><<<detail::grid_dim(ch.start, detail::max_grid_x, "mla_attention"), 256, 0,
                                         stream>>>(ws.cached.data(), step_kv(pages, batch).chunk(int(c)));
      launch_check("gather_latents_kernel");
    }
    auto rows = [&](auto m) { return m.row_range(ch.first_row, ch.tokens); };
    mla_expanded_attention(blas, stream, ws, rows(out), rows(q), rows(latent_new), ws.cached.data(), width, kv_b,
                           for_chunk(args, ch.start));
  }
}

}  // namespace templlm::gpu
