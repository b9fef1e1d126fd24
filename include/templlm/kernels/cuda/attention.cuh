// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cuda/attention.cuh
/// Attention for one sequence chunk and the KV-cache store, the device twins of
/// kernels/cpu/attention.hpp (same masks, sinks, ring caches through KvLayerView::slot, keys of
/// the chunk itself read from k_new/v_new). The first version is deliberately simple: one block
/// per (token, head), its warps splitting the visible keys, each warp an online softmax over its
/// keys with lanes across head_dim, the warps merged at the end. No tiling over queries and no
/// split over the KV length yet (docs/backends.md).
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "../../core/config.hpp"
#include "../../core/op_args.hpp"
#include "../../core/tensor.hpp"
#include "check.cuh"
#include "launch.cuh"

namespace templlm::gpu {
namespace detail {

inline constexpr int attention_warps = 4;
inline constexpr int attention_max_dim = 256;                    // head_dim and v_dim
inline constexpr int attention_per_lane = attention_max_dim / 32;

/// First key position visible to a query at position p (kernels/cpu/attention.hpp first_visible).
__device__ __forceinline__ std::int64_t first_visible(const AttentionArgs& a, std::int64_t p) {
  switch (a.mixer) {
    case cfg::Mixer::sliding: return p - a.window + 1 > 0 ? p - a.window + 1 : 0;
    case cfg::Mixer::chunked: return p / a.window * a.window;
    default: return 0;
  }
}

struct AttentionParams {
  float* out;
  std::int64_t out_stride;
  const float* q;
  std::int64_t q_stride;
  const float* k_new;
  std::int64_t k_stride;
  const float* v_new;
  std::int64_t v_stride;
};

struct AttentionSharedStorage {
  float m[attention_warps], l[attention_warps];
  float acc[attention_warps][attention_max_dim];
};

/// grid (heads, tokens); block attention_warps warps.
__global__ void __launch_bounds__(attention_warps * 32)
    attention_kernel(AttentionParams p, KvLayerView cache, AttentionArgs a) {
  __shared__ AttentionSharedStorage smem;
  const int h = blockIdx.x, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const std::int64_t t = blockIdx.y, pos = a.start + t, lo = first_visible(a, pos);
  const int kvh = h / (a.heads / a.kv_heads);
  const float* qh = p.q + t * p.q_stride + std::int64_t(h) * a.head_dim;      // (D)

  float q[attention_per_lane], acc[attention_per_lane];
#pragma unroll
  for (int i = 0; i < attention_per_lane; ++i) {
    const int d = lane + 32 * i;
    q[i] = d < a.head_dim ? qh[d] : 0.0f;
    acc[i] = 0.0f;
  }
  // The sink is one more logit in the denominator with no value: warp 0 starts from it.
  const bool sink = a.sinks != nullptr && warp == 0;
  float m = sink ? a.sinks[h] : -INFINITY, l = sink ? 1.0f : 0.0f;

  for (std::int64_t j = lo + warp; j <= pos; j += attention_warps) {
    const bool fresh = j >= a.start;
    const float* kj = fresh ? p.k_new + (j - a.start) * p.k_stride + std::int64_t(kvh) * a.head_dim
                            : cache.k + cache.slot(j) * cache.k_width + std::int64_t(kvh) * a.head_dim;
    const float* vj = fresh ? p.v_new + (j - a.start) * p.v_stride + std::int64_t(kvh) * a.v_dim
                            : cache.v + cache.slot(j) * cache.v_width + std::int64_t(kvh) * a.v_dim;
    float dot = 0.0f;
#pragma unroll
    for (int i = 0; i < attention_per_lane; ++i) {
      const int d = lane + 32 * i;
      if (d < a.head_dim) dot += q[i] * kj[d];
    }
    for (int offset = 16; offset > 0; offset /= 2) dot += __shfl_xor_sync(0xffffffffu, dot, offset);
    const float s = dot * a.scale;  // HF scales after the matmul
    const float m_new = s > m ? s : m;
    const float correction = ::expf(m - m_new), weight = ::expf(s - m_new);
    l = l * correction + weight;
#pragma unroll
    for (int i = 0; i < attention_per_lane; ++i) {
      const int d = lane + 32 * i;
      acc[i] = acc[i] * correction + (d < a.v_dim ? weight * vj[d] : 0.0f);
    }
    m = m_new;
  }

  if (lane == 0) {
    smem.m[warp] = m;
    smem.l[warp] = l;
  }
#pragma unroll
  for (int i = 0; i < attention_per_lane; ++i) {
    const int d = lane + 32 * i;
    if (d < a.v_dim) smem.acc[warp][d] = acc[i];
  }
  __syncthreads();
  float m_all = -INFINITY;
#pragma unroll
  for (int w = 0; w < attention_warps; ++w) m_all = smem.m[w] > m_all ? smem.m[w] : m_all;
  float denom = 0.0f, factor[attention_warps];
#pragma unroll
  for (int w = 0; w < attention_warps; ++w) {
    factor[w] = smem.l[w] > 0.0f ? ::expf(smem.m[w] - m_all) : 0.0f;  // a warp with no keys adds 0
    denom += smem.l[w] * factor[w];
  }
  float* o = p.out + t * p.out_stride + std::int64_t(h) * a.v_dim;            // (Dv)
  for (int d = threadIdx.x; d < a.v_dim; d += blockDim.x) {
    float sum = 0.0f;
#pragma unroll
    for (int w = 0; w < attention_warps; ++w) sum += smem.acc[w][d] * factor[w];
    o[d] = sum / denom;
  }
}

/// grid (tokens - first); threads over the k and v widths.
__global__ void kv_store_kernel(KvLayerView cache, const float* k_new, std::int64_t k_stride,
                                const float* v_new, std::int64_t v_stride, std::int64_t start,
                                std::int64_t first) {
  const std::int64_t t = first + blockIdx.x, slot = cache.slot(start + t);
  for (std::int64_t c = threadIdx.x; c < cache.k_width; c += blockDim.x)
    cache.k[slot * cache.k_width + c] = k_new[t * k_stride + c];
  for (std::int64_t c = threadIdx.x; c < cache.v_width; c += blockDim.x)
    cache.v[slot * cache.v_width + c] = v_new[t * v_stride + c];
}

}  // namespace detail

/// out [T, heads * v_dim] = softmax(q k^T * scale, masked) v for the chunk at a.start.
inline void attention(cudaStream_t stream, MatrixView<float, Device> out, MatrixView<const float, Device> q,
                      MatrixView<const float, Device> k_new, MatrixView<const float, Device> v_new,
                      const KvLayerView& cache, const AttentionArgs& a) {
  const std::int64_t n = q.rows;
  check(q.cols == std::int64_t(a.heads) * a.head_dim &&
            out.cols == std::int64_t(a.heads) * a.v_dim && out.rows == n && k_new.rows == n &&
            v_new.rows == n && a.kv_heads > 0 && a.heads % a.kv_heads == 0,
        "templlm: attention: shapes disagree");
  if (a.head_dim > detail::attention_max_dim || a.v_dim > detail::attention_max_dim)
    throw Unsupported("templlm: attention: the CUDA kernel handles head dims up to " +
                      std::to_string(detail::attention_max_dim));
  if ((a.mixer == cfg::Mixer::sliding || a.mixer == cfg::Mixer::chunked) && a.window <= 0)
    throw InvalidInput("templlm: attention: a sliding or chunked layer needs a window > 0");
  if (n == 0) return;
  const dim3 grid(detail::grid_dim(a.heads, detail::max_grid_x, "attention"),
                  detail::grid_dim(n, detail::max_grid_yz, "attention"));
  detail::attention_kernel<<<grid, detail::attention_warps * 32, 0, stream>>>(
      {out.data, out.stride, q.data, q.stride, k_new.data, k_new.stride, v_new.data, v_new.stride},
      cache, a);
  launch_check("attention_kernel");
}

/// Stores the chunk's keys and values (positions start .. start + n - 1); a ring cache keeps
/// only the last `capacity` of them.
inline void kv_store(cudaStream_t stream, const KvLayerView& cache, MatrixView<const float, Device> k_new,
                     MatrixView<const float, Device> v_new, std::int64_t start) {
  const std::int64_t n = k_new.rows;
  check(k_new.cols >= cache.k_width && v_new.cols >= cache.v_width && v_new.rows == n,
        "templlm: kv_store: shapes disagree");
  const std::int64_t first = cache.ring ? std::max<std::int64_t>(0, n - cache.capacity) : 0;
  check(cache.ring || start + n <= cache.capacity, "templlm: kv cache overflow");
  if (n - first <= 0) return;
  detail::kv_store_kernel<<<detail::grid_dim(n - first, detail::max_grid_x, "kv_store"), 256, 0, stream>>>(
      cache, k_new.data, k_new.stride, v_new.data, v_new.stride, start, first);
  launch_check("kv_store_kernel");
}

}  // namespace templlm::gpu
