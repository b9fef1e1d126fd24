// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cuda/router.cuh
/// Flat top-k routing, the device twin of kernels/cpu/router.hpp: one block per token. Softmax
/// over all experts (CUB block reductions for the max and the sum), then `active` rounds of a
/// block arg-max (ties to the lower expert index, as torch.topk), then thread 0 applies the
/// sigmoid / softmax-after-top-k / renormalisation to the K selected values in the CPU's order.
#pragma once
#include <cuda_runtime.h>

#include <cub/block/block_reduce.cuh>
#include <cstdint>

#include "../../core/config.hpp"
#include "../../core/math.hpp"
#include "../../core/tensor.hpp"
#include "check.cuh"
#include "launch.cuh"

namespace templlm::gpu {
namespace detail {

inline constexpr int router_threads = 128;

struct RouterParams {
  int* ids;
  std::int64_t ids_stride;
  float* weights;
  std::int64_t weights_stride;
  const float* logits;
  std::int64_t logits_stride;
  int experts, active;
  bool softmax_all, sigmoid, softmax_after_topk, renormalize;
};

/// A candidate expert; the better one has the higher score, or the lower index on a tie.
struct Candidate {
  float score;
  int index;
};
struct BetterCandidate {
  __device__ __forceinline__ Candidate operator()(const Candidate& a, const Candidate& b) const {
    if (a.index < 0) return b;
    if (b.index < 0) return a;
    return (b.score > a.score || (b.score == a.score && b.index < a.index)) ? b : a;
  }
};

/// Dynamic shared memory: experts floats (scores) then experts bytes (taken flags).
__global__ void __launch_bounds__(router_threads) route_topk_kernel(RouterParams p) {
  using FloatReduce = cub::BlockReduce<float, router_threads>;
  using CandidateReduce = cub::BlockReduce<Candidate, router_threads>;
  __shared__ union {
    typename FloatReduce::TempStorage f;
    typename CandidateReduce::TempStorage c;
  } temp;
  __shared__ float broadcast;
  extern __shared__ float score[];                                            // (E)
  bool* taken = reinterpret_cast<bool*>(score + p.experts);                   // (E)

  const std::int64_t t = blockIdx.x;
  const float* l = p.logits + t * p.logits_stride;                            // (E)
  for (int i = threadIdx.x; i < p.experts; i += router_threads) {
    score[i] = l[i];
    taken[i] = false;
  }
  __syncthreads();
  if (p.softmax_all) {
    float local = -INFINITY;
    for (int i = threadIdx.x; i < p.experts; i += router_threads) local = fmaxf(local, score[i]);
    const float max = FloatReduce(temp.f).Reduce(local, [](float a, float b) { return fmaxf(a, b); });
    if (threadIdx.x == 0) broadcast = max;
    __syncthreads();
    const float m = broadcast;
    float partial = 0.0f;
    for (int i = threadIdx.x; i < p.experts; i += router_threads) partial += (score[i] = ::expf(score[i] - m));
    __syncthreads();  // temp storage reuse
    const float sum = FloatReduce(temp.f).Sum(partial);
    if (threadIdx.x == 0) broadcast = sum;
    __syncthreads();
    const float total = broadcast;
    for (int i = threadIdx.x; i < p.experts; i += router_threads) score[i] /= total;
    __syncthreads();
  }

  int* ids = p.ids + t * p.ids_stride;                                        // (K)
  float* w = p.weights + t * p.weights_stride;                                // (K)
  for (int k = 0; k < p.active; ++k) {
    Candidate best{-INFINITY, -1};
    for (int i = threadIdx.x; i < p.experts; i += router_threads)
      if (!taken[i] && (best.index < 0 || score[i] > best.score)) best = {score[i], i};
    const Candidate winner = CandidateReduce(temp.c).Reduce(best, BetterCandidate{});
    if (threadIdx.x == 0) {
      ids[k] = winner.index;
      w[k] = winner.score;
      taken[winner.index] = true;
    }
    __syncthreads();
  }

  if (threadIdx.x != 0) return;
  const int k = p.active;
  if (p.sigmoid) {
    for (int i = 0; i < k; ++i) w[i] = math::sigmoid(w[i]);
  } else if (p.softmax_after_topk) {
    const float max = w[0];
    float sum = 0.0f;
    for (int i = 0; i < k; ++i) sum += (w[i] = ::expf(w[i] - max));
    for (int i = 0; i < k; ++i) w[i] /= sum;
  }
  if (p.renormalize) {
    float sum = 0.0f;
    for (int i = 0; i < k; ++i) sum += w[i];
    for (int i = 0; i < k; ++i) w[i] /= sum;
  }
}

}  // namespace detail

/// logits [T, E] -> ids [T, K] (descending score, ties to the lower index) and weights [T, K].
inline void route_topk(cudaStream_t stream, MatrixView<int, Device> ids, MatrixView<float, Device> weights,
                       MatrixView<const float, Device> logits, const cfg::TopK& r) {
  check(logits.cols == r.experts && ids.cols == r.active && weights.cols == r.active &&
            ids.rows == logits.rows && weights.rows == logits.rows && r.active >= 1 &&
            r.active <= r.experts,
        "templlm: route_topk: shapes disagree");
  if (logits.rows == 0) return;
  const detail::RouterParams p{ids.data, ids.stride, weights.data, weights.stride, logits.data,
                               logits.stride, r.experts, r.active,
                               r.score == cfg::Score::softmax && !r.score_after_topk,
                               r.score == cfg::Score::sigmoid,
                               r.score != cfg::Score::sigmoid && r.score_after_topk,
                               r.renormalize && !r.score_after_topk};
  const std::size_t shared = std::size_t(r.experts) * (sizeof(float) + sizeof(bool));
  detail::route_topk_kernel<<<detail::grid_dim(logits.rows, detail::max_grid_x, "route_topk"),
                              detail::router_threads, shared, stream>>>(p);
  launch_check("route_topk_kernel");
}

}  // namespace templlm::gpu
