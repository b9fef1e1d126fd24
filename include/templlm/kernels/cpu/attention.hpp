// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cpu/attention.hpp
/// Causal attention for one sequence chunk, HF eager semantics in fp32:
/// scores = (q . k) * scale, masked, softmax (with an optional per-head sink logit in the
/// denominator), then the weighted sum of v. Keys before the chunk come from the cache; the
/// chunk's own keys from k_new/v_new, so a cache that keeps only a window never loses a key a
/// query of this chunk still needs.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "../../core/aligned_buffer.hpp"
#include "../../core/config.hpp"
#include "../../core/op_args.hpp"
#include "../../core/tensor.hpp"
#include "../../core/thread_pool.hpp"

namespace templlm::cpu {

inline void attention(ThreadPool& pool, MatrixView<float> out, MatrixView<const float> q,
                      MatrixView<const float> k_new, MatrixView<const float> v_new,
                      const KvLayerView& cache, const AttentionArgs& a) {
  const std::int64_t n = q.rows;
  check(q.cols == std::int64_t(a.heads) * a.head_dim &&
            out.cols == std::int64_t(a.heads) * a.v_dim && out.rows == n && k_new.rows == n &&
            v_new.rows == n && a.heads % a.kv_heads == 0,
        "templlm: attention: shapes disagree");
  const int group = a.heads / a.kv_heads;
  // A (token, head) job reads at most every cached key and value once.
  const std::int64_t job_work = (a.start + n) * (a.head_dim + a.v_dim);
  pool.parallel_for(n * a.heads, grain_for_work(job_work), [&](std::int64_t begin, std::int64_t end) {
    thread_local AlignedBuffer<float> scores;
    for (std::int64_t job = begin; job < end; ++job) {
      const std::int64_t t = job / a.heads;
      const int h = static_cast<int>(job % a.heads), kvh = h / group;
      const std::int64_t p = a.start + t, lo = first_visible_key(a, p);  // core/op_args.hpp
      const float* qh = q.row(t) + std::int64_t(h) * a.head_dim;
      auto key = [&](std::int64_t j) {
        return j >= a.start ? k_new.row(j - a.start) + std::int64_t(kvh) * a.head_dim
                            : cache.k + cache.slot(j) * cache.k_width + std::int64_t(kvh) * a.head_dim;
      };
      auto value = [&](std::int64_t j) {
        return j >= a.start ? v_new.row(j - a.start) + std::int64_t(kvh) * a.v_dim
                            : cache.v + cache.slot(j) * cache.v_width + std::int64_t(kvh) * a.v_dim;
      };
      scores.resize(static_cast<std::size_t>(p - lo + 1));
      float* s = scores.data();
      float max = -std::numeric_limits<float>::infinity();
      for (std::int64_t j = lo; j <= p; ++j) {
        const float* kj = key(j);
        float dot = 0.0f;
        for (int d = 0; d < a.head_dim; ++d) dot += qh[d] * kj[d];
        s[j - lo] = dot * a.scale;  // HF scales after the matmul
        max = std::max(max, s[j - lo]);
      }
      const float sink = a.sinks ? a.sinks[h] : 0.0f;
      if (a.sinks) max = std::max(max, sink);
      float denom = a.sinks ? std::exp(sink - max) : 0.0f;
      for (std::int64_t j = lo; j <= p; ++j) denom += (s[j - lo] = std::exp(s[j - lo] - max));
      float* o = out.row(t) + std::int64_t(h) * a.v_dim;
      std::fill(o, o + a.v_dim, 0.0f);
      for (std::int64_t j = lo; j <= p; ++j) {
        const float w = s[j - lo] / denom;
        const float* vj = value(j);
        for (int d = 0; d < a.v_dim; ++d) o[d] += w * vj[d];
      }
    }
  });
}

/// Stores the chunk's keys and values (positions start .. start + n - 1) in the cache. A ring
/// cache keeps only the last `capacity` of them.
inline void kv_store(const KvLayerView& cache, MatrixView<const float> k_new,
                     MatrixView<const float> v_new, std::int64_t start) {
  const std::int64_t n = k_new.rows;
  const std::int64_t first = cache.ring ? std::max<std::int64_t>(0, n - cache.capacity) : 0;
  check(cache.ring || start + n <= cache.capacity, "templlm: kv cache overflow");
  for (std::int64_t t = first; t < n; ++t) {
    std::copy_n(k_new.row(t), cache.k_width, cache.k + cache.slot(start + t) * cache.k_width);
    std::copy_n(v_new.row(t), cache.v_width, cache.v + cache.slot(start + t) * cache.v_width);
  }
}

}  // namespace templlm::cpu
