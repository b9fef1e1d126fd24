// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cuda/grouped_router.cuh
/// Node-limited routing (DeepSeek-V3), the device twin of kernels/cpu/grouped_router.hpp: one
/// block per token. Scores (math::sigmoid) and biased choice scores in shared memory; each
/// group's score is the sum of its two best choices, found by one thread per group in the CPU's
/// order; `groups_active` rounds of a CUB block arg-max keep the best groups, `active` rounds pick
/// the experts of the kept groups (ties to the lower index in both, as torch.topk); thread 0
/// gathers the unbiased scores and renormalises and scales them in the CPU's order.
#pragma once
#include <cuda_runtime.h>

#include <cub/block/block_reduce.cuh>
#include <cstdint>

#include "../../core/config.hpp"
#include "../../core/math.hpp"
#include "../../core/tensor.hpp"
#include "check.cuh"
#include "launch.cuh"
#include "router.cuh"

namespace templlm::gpu {
namespace detail {

struct GroupedRouterParams {
  int* ids;
  std::int64_t ids_stride;
  float* weights;
  std::int64_t weights_stride;
  const float* logits;
  std::int64_t logits_stride;
  const float* bias;  // [E] or null
  int experts, active, groups, groups_active;
  bool sigmoid, renormalize;
  float routed_scale;
};

/// Dynamic shared memory: score (E floats), choice (E floats), group score (G floats), then
/// taken (E bytes) and kept (G bytes).
__global__ void __launch_bounds__(router_threads) route_grouped_topk_kernel(GroupedRouterParams p) {
  using CandidateReduce = cub::BlockReduce<Candidate, router_threads>;
  __shared__ typename CandidateReduce::TempStorage temp;
  extern __shared__ float score[];                                            // (E)
  float* choice = score + p.experts;                                          // (E)
  float* group_score = choice + p.experts;                                    // (G)
  bool* taken = reinterpret_cast<bool*>(group_score + p.groups);              // (E)
  bool* kept = taken + p.experts;                                             // (G)

  const std::int64_t t = blockIdx.x;
  const int per = p.experts / p.groups;
  const float* l = p.logits + t * p.logits_stride;                            // (E)
  for (int i = threadIdx.x; i < p.experts; i += router_threads) {
    score[i] = p.sigmoid ? math::sigmoid(l[i]) : l[i];
    choice[i] = p.bias ? score[i] + p.bias[i] : score[i];
    taken[i] = false;
  }
  __syncthreads();
  for (int g = threadIdx.x; g < p.groups; g += router_threads) {
    group_score[g] = math::top2_sum(choice + g * per, per);
    kept[g] = false;
  }
  __syncthreads();

  for (int k = 0; k < p.groups_active; ++k) {
    Candidate best{-INFINITY, -1};
    for (int g = threadIdx.x; g < p.groups; g += router_threads)
      if (!kept[g] && (best.index < 0 || group_score[g] > best.score)) best = {group_score[g], g};
    const Candidate winner = CandidateReduce(temp).Reduce(best, BetterCandidate{});
    if (threadIdx.x == 0) kept[winner.index] = true;
    __syncthreads();
  }
  for (int i = threadIdx.x; i < p.experts; i += router_threads)
    if (!kept[i / per]) choice[i] = -INFINITY;
  __syncthreads();

  int* ids = p.ids + t * p.ids_stride;                                        // (K)
  float* w = p.weights + t * p.weights_stride;                                // (K)
  for (int k = 0; k < p.active; ++k) {
    Candidate best{-INFINITY, -1};
    for (int i = threadIdx.x; i < p.experts; i += router_threads)
      if (!taken[i] && (best.index < 0 || choice[i] > best.score)) best = {choice[i], i};
    const Candidate winner = CandidateReduce(temp).Reduce(best, BetterCandidate{});
    if (threadIdx.x == 0) {
      ids[k] = winner.index;
      w[k] = score[winner.index];  // the unbiased score: the bias only selects
      taken[winner.index] = true;
    }
    __syncthreads();
  }

  if (threadIdx.x == 0) math::finish_routing_weights(w, p.active, p.renormalize, p.routed_scale);
}

}  // namespace detail

/// logits [T, E], bias [E] (device, or null) -> ids [T, K] (descending choice score, ties to the
/// lower index) and weights [T, K].
inline void route_grouped_topk(cudaStream_t stream, MatrixView<int, Device> ids,
                               MatrixView<float, Device> weights, MatrixView<const float, Device> logits,
                               const float* bias, const cfg::GroupedTopK& r) {
  check(r.groups >= 1 && r.experts % r.groups == 0, "templlm: route_grouped_topk: shapes disagree");
  const int per = r.experts / r.groups;
  check(logits.cols == r.experts && ids.cols == r.active && weights.cols == r.active &&
            ids.rows == logits.rows && weights.rows == logits.rows && per >= 2 && r.active >= 1 &&
            r.groups_active >= 1 && r.groups_active <= r.groups && r.active <= r.groups_active * per,
        "templlm: route_grouped_topk: shapes disagree");
  if (logits.rows == 0) return;
  const detail::GroupedRouterParams p{ids.data,     ids.stride,     weights.data,
                                      weights.stride, logits.data,  logits.stride,
                                      bias,         r.experts,      r.active,
                                      r.groups,     r.groups_active, r.score == cfg::Score::sigmoid,
                                      r.renormalize, r.routed_scale};
  const std::size_t shared =
      std::size_t(2 * r.experts + r.groups) * sizeof(float) + std::size_t(r.experts + r.groups) * sizeof(bool);
  detail::route_grouped_topk_kernel<<<detail::grid_dim(logits.rows, detail::max_grid_x, "route_grouped_topk"),
                                      detail::router_threads, shared, stream>>>(p);
  launch_check("route_grouped_topk_kernel");
}

}  // namespace templlm::gpu
