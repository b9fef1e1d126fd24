// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cuda/sampling.cuh
/// On-device sampling, the device twin of runtime::Sampler (the specification): one token id per
/// row of a logits matrix, so a decode step copies ids to the host, not a vocabulary of logits.
///   1. sample_prepare_kernel, one block per row: the row into scratch (a NaN refuses the row,
///      as the host does), penalties on the seen
///      tokens (the host counts the history, which is small, and uploads (id, count) pairs), then
///      a greedy row takes its arg-max (CUB block reduction, ties to the lower id) and a sampling
///      row writes one 64-bit sort key per token: the order-preserving bits of logit / T above
///      the complemented id (core/sampling.hpp), so descending key order is the host's
///      (logit desc, id asc) order whatever the sort's stability.
///   2. cub::DeviceSegmentedRadixSort::SortKeysDescending over the sampling rows (greedy rows
///      are empty segments).
///   3. sample_pick_kernel, one block per sampling row over the sorted prefix (top-k keeps the
///      first k): softmax in double as the host (exp(double(l) - max) rounded to float, sums in
///      double), the top-p cut by a block scan of the cumulative mass, min-p by a block
///      min-reduction of the first token under the floor, renormalisation, and the draw
///      u = uniform(seed, draw) walked through the same cumulative sums.
/// Each thread owns a contiguous run of ranks, so sums run in the host's order within a run;
/// only the additions across runs are reassociated (a difference of ~1e-16 in a cumulative sum,
/// which changes a pick only when u or the top-p threshold lies that close to a boundary).
#pragma once
#include <cuda_runtime.h>

#include <climits>
#include <cmath>
#include <cstdint>
#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>
#include <cub/device/device_segmented_radix_sort.cuh>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "../../core/sampling.hpp"
#include "../../core/tensor.hpp"
#include "check.cuh"
#include "device_buffer.cuh"
#include "launch.cuh"
#include "router.cuh"

namespace templlm::gpu {
namespace detail {

inline constexpr int sample_threads = 256;

/// One row's parameters as the kernels read them.
struct SampleRow {
  bool greedy;
  int top_k;
  float temperature, top_p, min_p;
  float repetition, presence, frequency;
  std::uint64_t seed, draw;
  int penalty_begin, penalty_end;  // the row's (id, count) pairs in SampleParams::penalty_*
};

struct SampleParams {
  int* ids;
  const float* logits;
  std::int64_t logits_stride;
  float* work;                     // [rows, vocab]: penalised logits, then probabilities by rank
  std::uint64_t* keys;             // [rows, vocab] sort keys (unsorted)
  const std::uint64_t* sorted;     // [rows, vocab] sort keys, descending per sampling row
  const SampleRow* rows;
  const int* penalty_ids;
  const int* penalty_counts;
  int vocab, bits;
};

/// A NaN logit refuses the row as the host does (runtime::Sampler::check_no_nan): ids[r] is
/// then -1 - (the first NaN's id), which gpu::sample turns into the host's InvalidInput.
__device__ __forceinline__ int nan_refusal(int first_nan) { return -1 - first_nan; }

/// NaN check, penalties, then the greedy pick or the sort keys of one row.
__global__ void __launch_bounds__(sample_threads) sample_prepare_kernel(SampleParams p) {
  using CandidateReduce = cub::BlockReduce<Candidate, sample_threads>;
  using IndexReduce = cub::BlockReduce<int, sample_threads>;
  __shared__ union {
    typename CandidateReduce::TempStorage candidate;
    typename IndexReduce::TempStorage index;
  } temp;
  __shared__ int first_nan_shared;
  const std::int64_t r = blockIdx.x;
  const SampleRow row = p.rows[r];
  const float* l = p.logits + r * p.logits_stride;                     // (V)
  float* w = p.work + r * std::int64_t(p.vocab);                      // (V)
  int first_nan = INT_MAX;  // this thread's first: its ids ascend
  for (int i = threadIdx.x; i < p.vocab; i += sample_threads) {
    const float x = l[i];
    if (x != x && first_nan == INT_MAX) first_nan = i;
    w[i] = x;
  }
  // CUB's block reduction hands the result to thread 0 only: broadcast it through shared memory.
  const int block_first_nan = IndexReduce(temp.index).Reduce(first_nan, [](int a, int b) { return a < b ? a : b; });
  if (threadIdx.x == 0) first_nan_shared = block_first_nan;
  __syncthreads();
  if (first_nan_shared != INT_MAX) {
    if (threadIdx.x == 0) p.ids[r] = nan_refusal(first_nan_shared);
    return;  // the whole block: the sort sees this row's stale keys, the pick skips it
  }
  for (int j = row.penalty_begin + int(threadIdx.x); j < row.penalty_end; j += sample_threads) {
    const int id = p.penalty_ids[j];  // distinct within a row: no two threads share an id
    w[id] = sampling::penalized_logit(w[id], p.penalty_counts[j], row.repetition, row.presence,
                                      row.frequency);
  }
  __syncthreads();
  if (row.greedy) {
    Candidate best{-INFINITY, -1};
    for (int i = threadIdx.x; i < p.vocab; i += sample_threads)
      if (best.index < 0 || w[i] > best.score) best = {w[i], i};
    const Candidate winner = CandidateReduce(temp.candidate).Reduce(best, BetterCandidate{});
    if (threadIdx.x == 0) p.ids[r] = winner.index;
    return;
  }
  if (threadIdx.x == 0) p.ids[r] = 0;  // not refused: sample_pick_kernel writes the pick
  std::uint64_t* keys = p.keys + r * std::int64_t(p.vocab);            // (V)
  for (int i = threadIdx.x; i < p.vocab; i += sample_threads)
    keys[i] = sampling::sort_key(w[i] / row.temperature, i, p.bits);
}

/// The chain after the sort: softmax, top-p, min-p, renormalise, draw.
__global__ void __launch_bounds__(sample_threads) sample_pick_kernel(SampleParams p) {
  using DoubleReduce = cub::BlockReduce<double, sample_threads>;
  using DoubleScan = cub::BlockScan<double, sample_threads>;
  using IntReduce = cub::BlockReduce<int, sample_threads>;
  __shared__ union {
    typename DoubleReduce::TempStorage sum;
    typename DoubleScan::TempStorage scan;
    typename IntReduce::TempStorage first;
  } temp;
  __shared__ double total_shared;
  __shared__ int first_shared;
  const std::int64_t r = blockIdx.x;
  const SampleRow row = p.rows[r];
  if (row.greedy || p.ids[r] < 0) return;  // greedy: picked; negative: refused for a NaN
  const std::uint64_t* keys = p.sorted + r * std::int64_t(p.vocab);   // (V) by rank
  float* prob = p.work + r * std::int64_t(p.vocab);                    // (V) by rank
  int kept = row.top_k > 0 && row.top_k < p.vocab ? row.top_k : p.vocab;
  const double max = sampling::key_logit(keys[0], p.bits);
  // This thread's run of ranks [lo, hi) of the first `n`.
  const int run = int(ceil_div(kept, sample_threads));
  const int lo = int(threadIdx.x) * run;
  auto hi = [&](int n) { return lo + run < n ? lo + run : n; };

  auto block_sum = [&](double local) {
    const double s = DoubleReduce(temp.sum).Sum(local);
    if (threadIdx.x == 0) total_shared = s;
    __syncthreads();
    const double out = total_shared;
    __syncthreads();  // temp and total_shared are reused
    return out;
  };
  auto first_of = [&](int local) {
    const int f = IntReduce(temp.first).Reduce(local, [](int a, int b) { return a < b ? a : b; });
    if (threadIdx.x == 0) first_shared = f;
    __syncthreads();
    const int out = first_shared;
    __syncthreads();
    return out;
  };
  // The first rank of [0, n) whose inclusive cumulative sum of prob reaches the test.
  auto first_reaching = [&](int n, auto reaches) {
    double local = 0.0;
    for (int i = lo; i < hi(n); ++i) local += prob[i];
    double before = 0.0, all = 0.0;
    DoubleScan(temp.scan).ExclusiveSum(local, before, all);
    __syncthreads();
    int found = INT_MAX;
    double acc = before;
    for (int i = lo; i < hi(n); ++i) {
      acc += prob[i];
      if (reaches(acc)) {
        found = i;
        break;
      }
    }
    return first_of(found);
  };

  double local = 0.0;
  for (int i = lo; i < hi(kept); ++i) {
    prob[i] = float(::exp(double(sampling::key_logit(keys[i], p.bits)) - max));
    local += prob[i];
  }
  double total = block_sum(local);
  for (int i = lo; i < hi(kept); ++i) prob[i] = float(prob[i] / total);
  __syncthreads();
  if (row.top_p < 1.0f) {
    const double threshold = sampling::top_p_threshold(row.top_p);
    const int f = first_reaching(kept, [&](double acc) { return acc >= threshold; });
    if (f != INT_MAX) kept = f + 1;
  }
  if (row.min_p > 0.0f) {
    const float floor = row.min_p * prob[0];
    int found = INT_MAX;
    for (int i = lo > 1 ? lo : 1; i < hi(kept); ++i)
      if (prob[i] < floor) {
        found = i;
        break;
      }
    const int f = first_of(found);
    if (f != INT_MAX) kept = f;
  }
  local = 0.0;
  for (int i = lo; i < hi(kept); ++i) local += prob[i];
  total = block_sum(local);
  for (int i = lo; i < hi(kept); ++i) prob[i] = float(prob[i] / total);
  __syncthreads();
  const double u = sampling::uniform(row.seed, row.draw);
  const int f = first_reaching(kept, [&](double acc) { return u < acc; });
  if (threadIdx.x == 0) p.ids[r] = sampling::key_id(keys[f != INT_MAX ? f : kept - 1], p.bits);
}

}  // namespace detail

/// Scratch of gpu::sample; grows only.
struct SamplingWorkspace {
  DeviceBuffer<int> ids;
  DeviceBuffer<float> work;
  DeviceBuffer<std::uint64_t> keys, sorted;
  DeviceBuffer<std::byte> sort_temp;
  DeviceBuffer<std::int64_t> segment_begin, segment_end;
  DeviceBuffer<detail::SampleRow> rows;
  DeviceBuffer<int> penalty_ids, penalty_counts;
  std::vector<detail::SampleRow> host_rows;
  std::vector<std::int64_t> host_begin, host_end;
  std::vector<int> host_penalty_ids, host_penalty_counts, host_counts;
};

/// ids[r] = the token runtime::Sampler picks from logits row r ([rows, vocab]) for rows[r]
/// (greedy or the chain; penalties from rows[r].history). Copies the ids back: waits for the
/// stream.
inline void sample(cudaStream_t stream, SamplingWorkspace& ws, std::span<int> ids,
                   MatrixView<const float, Device> logits, std::span<const SampleRequest> rows) {
  const std::int64_t n = logits.rows, vocab = logits.cols;
  check(std::int64_t(rows.size()) == n && std::int64_t(ids.size()) >= n, "templlm: sample: shapes disagree");
  if (n == 0) return;
  if (vocab == 0) throw InvalidInput("templlm: cannot sample from an empty vocabulary");
  if (vocab >= (std::int64_t(1) << 31) || n * vocab >= (std::int64_t(1) << 40))
    throw Unsupported("templlm: sample: the vocabulary or the batch is too large");
  const int v = int(vocab);
  ws.host_rows.clear();
  ws.host_begin.clear();
  ws.host_end.clear();
  ws.host_penalty_ids.clear();
  ws.host_penalty_counts.clear();
  if (ws.host_counts.size() < std::size_t(v)) ws.host_counts.assign(std::size_t(v), 0);
  bool any_draw = false;
  for (std::int64_t r = 0; r < n; ++r) {
    const SamplingParams& sp = rows[std::size_t(r)].params;
    if (!sp.greedy()) sp.validate();
    detail::SampleRow row{sp.greedy(), sp.top_k, sp.temperature, sp.top_p, sp.min_p,
                          sp.repetition_penalty, sp.presence_penalty, sp.frequency_penalty,
                          sp.seed, rows[std::size_t(r)].draw, int(ws.host_penalty_ids.size()), 0};
    if (sp.has_penalty()) {  // (id, count) once per distinct seen id, as Sampler::apply_penalties
      const auto history = rows[std::size_t(r)].history;
      for (int id : history)
        if (id >= 0 && id < v) ++ws.host_counts[std::size_t(id)];
      for (int id : history) {
        if (id < 0 || id >= v || ws.host_counts[std::size_t(id)] == 0) continue;
        ws.host_penalty_ids.push_back(id);
        ws.host_penalty_counts.push_back(std::exchange(ws.host_counts[std::size_t(id)], 0));
      }
    }
    row.penalty_end = int(ws.host_penalty_ids.size());
    ws.host_rows.push_back(row);
    ws.host_begin.push_back(r * vocab);
    ws.host_end.push_back(r * vocab + (sp.greedy() ? 0 : vocab));
    any_draw |= !sp.greedy();
  }
  // CUB's DeviceSegmentedRadixSort takes int num_items and int offsets (the emulation's fake
  // takes 64-bit ones): above INT_MAX keys it would truncate them.
  if (any_draw && n * vocab > INT_MAX)
    throw Unsupported("templlm: sample: a batch of more than INT_MAX logits (rows x vocabulary) is too "
                      "large for one sort");
  auto upload = [&](auto& dst, const auto& src, const char* what) {
    dst.resize(src.size());
    if (!src.empty())
      cuda_check(cudaMemcpyAsync(dst.data(), src.data(), src.size() * sizeof(src[0]), cudaMemcpyHostToDevice,
                                 stream),
                 what);
  };
  upload(ws.rows, ws.host_rows, "cudaMemcpyAsync (sample rows)");
  upload(ws.penalty_ids, ws.host_penalty_ids, "cudaMemcpyAsync (sample penalty ids)");
  upload(ws.penalty_counts, ws.host_penalty_counts, "cudaMemcpyAsync (sample penalty counts)");
  ws.ids.resize(std::size_t(n));
  ws.work.resize(std::size_t(n * vocab));
  if (any_draw) {
    ws.keys.resize(std::size_t(n * vocab));
    ws.sorted.resize(std::size_t(n * vocab));
  }
  const detail::SampleParams p{ws.ids.data(),         logits.data,           logits.stride,
                               ws.work.data(),        ws.keys.data(),        ws.sorted.data(),
                               ws.rows.data(),        ws.penalty_ids.data(), ws.penalty_counts.data(),
                               v,                     sampling::id_bits(vocab)};
  const unsigned blocks = detail::grid_dim(n, detail::max_grid_x, "sample");
  detail::sample_prepare_kernel<<<blocks, detail::sample_threads, 0, stream>>>(p);
  launch_check("sample_prepare_kernel");
  if (any_draw) {
    upload(ws.segment_begin, ws.host_begin, "cudaMemcpyAsync (sample segments)");
    upload(ws.segment_end, ws.host_end, "cudaMemcpyAsync (sample segments)");
    const int end_bit = 32 + p.bits;
    std::size_t temp_bytes = 0;
    cuda_check(cub::DeviceSegmentedRadixSort::SortKeysDescending(
                   nullptr, temp_bytes, ws.keys.data(), ws.sorted.data(), n * vocab, n,
                   ws.segment_begin.data(), ws.segment_end.data(), 0, end_bit, stream),
               "cub::DeviceSegmentedRadixSort::SortKeysDescending (size query)");
    ws.sort_temp.resize(temp_bytes);
    cuda_check(cub::DeviceSegmentedRadixSort::SortKeysDescending(
                   ws.sort_temp.data(), temp_bytes, ws.keys.data(), ws.sorted.data(), n * vocab, n,
                   ws.segment_begin.data(), ws.segment_end.data(), 0, end_bit, stream),
               "cub::DeviceSegmentedRadixSort::SortKeysDescending");
    detail::sample_pick_kernel<<<blocks, detail::sample_threads, 0, stream>>>(p);
    launch_check("sample_pick_kernel");
  }
  cuda_check(cudaMemcpyAsync(ids.data(), ws.ids.data(), std::size_t(n) * sizeof(int), cudaMemcpyDeviceToHost,
                             stream),
             "cudaMemcpyAsync (sampled ids)");
  cuda_check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
  for (std::int64_t r = 0; r < n; ++r)
    if (ids[std::size_t(r)] < 0)  // the host's message (runtime::Sampler::check_no_nan)
      throw InvalidInput("templlm: the model produced NaN logits at token id " +
                         std::to_string(-1 - ids[std::size_t(r)]) + " (of " + std::to_string(vocab) +
                         ") for generated token " + std::to_string(rows[std::size_t(r)].draw) +
                         "; the weights or activations are not finite");
}

}  // namespace templlm::gpu
