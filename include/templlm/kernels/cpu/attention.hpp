// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cpu/attention.hpp
/// Causal attention for a batch of sequence chunks, HF eager semantics in fp32:
/// scores = (q . k) * scale, masked, softmax (with an optional per-head sink logit in the
/// denominator), then the weighted sum of v, reading the paged cache through core/kv.hpp.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "../../core/aligned_buffer.hpp"
#include "../../core/config.hpp"
#include "../../core/kv.hpp"
#include "../../core/op_args.hpp"
#include "../../core/tensor.hpp"
#include "../../core/thread_pool.hpp"

namespace templlm::cpu {

/// One call for the whole batch: row t belongs to chunk row_chunk[t] at position start + its
/// offset in the chunk. Keys before the chunk come from the chunk's pages; the chunk's own keys
/// from k_new/v_new, so a window that dropped old pages never loses a key a query still sees.
template <KvElement T>
void attention(ThreadPool& pool, MatrixView<float> out, MatrixView<const float> q,
               MatrixView<const float> k_new, MatrixView<const float> v_new,
               const KvPages<T, Host>& cache, const KvBatch& batch, const AttentionArgs& a) {
  const std::int64_t n = q.rows;
  check(q.cols == std::int64_t(a.heads) * a.head_dim &&
            out.cols == std::int64_t(a.heads) * a.v_dim && out.rows == n && k_new.rows == n &&
            v_new.rows == n && batch.rows == n && a.heads % a.kv_heads == 0 &&
            cache.k_width == std::int64_t(a.kv_heads) * a.head_dim &&
            cache.v_width == std::int64_t(a.kv_heads) * a.v_dim,
        "templlm: attention: shapes disagree");
  const int group = a.heads / a.kv_heads;
  // A (token, head) job reads at most every cached key and value once.
  const std::int64_t job_work = batch.max_length * (a.head_dim + a.v_dim);
  pool.parallel_for(n * a.heads, grain_for_work(job_work), [&](std::int64_t begin, std::int64_t end) {
    thread_local AlignedBuffer<float> scores;
    for (std::int64_t job = begin; job < end; ++job) {
      const std::int64_t t = job / a.heads;
      const int h = static_cast<int>(job % a.heads), kvh = h / group;
      const int c = batch.device_row_chunk[t];
      const StepChunk& ch = batch.device_chunks[c];
      const std::int64_t p = ch.start + t - ch.first_row, lo = first_visible_key(a, p);  // core/op_args.hpp
      const float* qh = q.row(t) + std::int64_t(h) * a.head_dim;
      scores.resize(static_cast<std::size_t>(p - lo + 1));
      float* s = scores.data();
      float max = -std::numeric_limits<float>::infinity();
      for (std::int64_t j = lo; j <= p; ++j) {
        float dot = 0.0f;
        if (j >= ch.start) {
          const float* kj = k_new.row(ch.first_row + j - ch.start) + std::int64_t(kvh) * a.head_dim;
          for (int d = 0; d < a.head_dim; ++d) dot += qh[d] * kj[d];
        } else {
          const T* kj = cache.k + batch.tables.slot(c, j) * cache.k_width + std::int64_t(kvh) * a.head_dim;
          for (int d = 0; d < a.head_dim; ++d) dot += qh[d] * kv_load(kj[d]);
        }
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
        if (j >= ch.start) {
          const float* vj = v_new.row(ch.first_row + j - ch.start) + std::int64_t(kvh) * a.v_dim;
          for (int d = 0; d < a.v_dim; ++d) o[d] += w * vj[d];
        } else {
          const T* vj = cache.v + batch.tables.slot(c, j) * cache.v_width + std::int64_t(kvh) * a.v_dim;
          for (int d = 0; d < a.v_dim; ++d) o[d] += w * kv_load(vj[d]);
        }
      }
    }
  });
}

/// Stores every row's key and value (a new value: v_width may be 0) at its position in its
/// chunk's pages; positions whose page was not allocated (out of every window) are skipped.
template <KvElement T>
void kv_store(const KvPages<T, Host>& cache, const KvBatch& batch, MatrixView<const float> k_new,
              MatrixView<const float> v_new) {
  check(k_new.rows == batch.rows && k_new.cols >= cache.k_width &&
            (cache.v_width == 0 || (v_new.rows == batch.rows && v_new.cols >= cache.v_width)),
        "templlm: kv_store: shapes disagree");
  for (std::size_t c = 0; c < batch.chunks.size(); ++c) {
    const StepChunk& ch = batch.chunks[c];
    for (std::int64_t i = 0; i < ch.tokens; ++i) {
      const std::int64_t slot = batch.tables.slot(int(c), ch.start + i), r = ch.first_row + i;
      if (slot < 0) continue;
      T* k = cache.k + slot * cache.k_width;
      for (std::int64_t d = 0; d < cache.k_width; ++d) kv_put(k[d], k_new.row(r)[d]);
      if (cache.v_width == 0) continue;
      T* v = cache.v + slot * cache.v_width;
      for (std::int64_t d = 0; d < cache.v_width; ++d) kv_put(v[d], v_new.row(r)[d]);
    }
  }
}

}  // namespace templlm::cpu
