// SPDX-License-Identifier: Apache-2.0
/// \file tests/cuda/kv_twin.hpp
/// Sequences' pages of one layer on both backends, driven in lockstep: the two KV pools
/// (layers/kv_pool.hpp) make the same bookkeeping decisions, so their page tables are equal, and
/// each step's KvBatch (one chunk per sequence, packed in sequence order) is built for each
/// backend's memory (what Transformer::forward uploads once per step). T: the cache element.
#pragma once
#include <memory>
#include <numeric>
#include <span>
#include <vector>

#include <gtest/gtest.h>
#include <templlm/kernels/cpu/backend.hpp>
#include <templlm/kernels/cuda/backend.cuh>
#include <templlm/layers/kv_pool.hpp>

namespace templlm::test {

template <KvElement T = float>
class BasicKvTwin {
 public:
  BasicKvTwin(cpu::Backend& cpu, gpu::Backend& gpu, layers::KvLayerSpec spec, int page_size = 4, int sequences = 1)
      : gpu_(gpu),
        cpu_pool_(cpu, std::vector<layers::KvLayerSpec>{spec}, {.page_size = page_size, .max_pages = 0, .rollback = 0}),
        gpu_pool_(gpu, std::vector<layers::KvLayerSpec>{spec}, {.page_size = page_size, .max_pages = 0, .rollback = 0}) {
    for (int s = 0; s < sequences; ++s) {
      cpu_seqs_.push_back(cpu_pool_.new_sequence(1 << 30));
      gpu_seqs_.push_back(gpu_pool_.new_sequence(1 << 30));
    }
  }

  /// Reserves n positions after the (first) sequence's length: one chunk of n rows from row 0.
  void begin(std::int64_t n) { begin(std::vector<std::int64_t>{n}); }
  /// Reserves tokens[s] positions after sequence s's length: one chunk per sequence (a sequence
  /// with 0 tokens has none), packed in order.
  void begin(const std::vector<std::int64_t>& tokens) {
    ASSERT_LE(tokens.size(), cpu_seqs_.size());
    chunks_.clear();
    row_chunk_.clear();
    pages_.clear();
    offsets_.clear();
    std::int64_t row = 0, longest = 0, widest = 0;
    for (std::size_t s = 0; s < tokens.size(); ++s) {
      if (tokens[s] == 0) continue;
      cpu_pool_.reserve(*cpu_seqs_[s], tokens[s]);
      gpu_pool_.reserve(*gpu_seqs_[s], tokens[s]);
      const auto table = cpu_pool_.table(*cpu_seqs_[s], 0);
      const auto gtable = gpu_pool_.table(*gpu_seqs_[s], 0);
      ASSERT_TRUE(std::equal(table.begin(), table.end(), gtable.begin(), gtable.end()));
      const std::int64_t start = cpu_seqs_[s]->length();
      row_chunk_.insert(row_chunk_.end(), std::size_t(tokens[s]), int(chunks_.size()));
      chunks_.push_back(StepChunk{row, tokens[s], start});
      offsets_.push_back(std::int64_t(pages_.size()));
      pages_.insert(pages_.end(), table.begin(), table.end());
      row += tokens[s];
      longest = std::max(longest, start + tokens[s]);
      widest = std::max(widest, tokens[s]);
    }
    reserved_ = tokens;
    gpu_.copy_from_host(d_chunks_, std::span<const StepChunk>(chunks_));
    gpu_.copy_from_host(d_row_chunk_, std::span<const int>(row_chunk_));
    gpu_.copy_from_host(d_pages_, std::span<const int>(pages_));
    gpu_.copy_from_host(d_offsets_, std::span<const std::int64_t>(offsets_));
    cpu_batch_ = batch(chunks_.data(), row_chunk_.data(), pages_.data(), offsets_.data(), row, widest, longest);
    gpu_batch_ = batch(d_chunks_.data(), d_row_chunk_.data(), d_pages_.data(), d_offsets_.data(), row, widest, longest);
  }
  /// Commits the (first) sequence's n positions.
  void commit(std::int64_t n) {
    cpu_pool_.commit(*cpu_seqs_[0], n);
    gpu_pool_.commit(*gpu_seqs_[0], n);
  }
  /// Commits what the last begin() reserved.
  void commit() {
    for (std::size_t s = 0; s < reserved_.size(); ++s) {
      if (reserved_[s] == 0) continue;
      cpu_pool_.commit(*cpu_seqs_[s], reserved_[s]);
      gpu_pool_.commit(*gpu_seqs_[s], reserved_[s]);
    }
  }
  const KvBatch& cpu_batch() const { return cpu_batch_; }
  const KvBatch& gpu_batch() const { return gpu_batch_; }
  KvPages<T, Host> cpu_pages() { return cpu_pool_.layer(0); }
  KvPages<T, Device> gpu_pages() { return gpu_pool_.layer(0); }
  /// Rows of storage both pools hold (all allocated pages).
  std::int64_t storage_rows() const { return cpu_pool_.pages_allocated(0) * cpu_pool_.page_size(); }
  std::int64_t pages_in_use() const { return cpu_pool_.pages_in_use(); }

 private:
  KvBatch batch(const StepChunk* chunks, const int* row_chunk, const int* pages, const std::int64_t* offsets,
                std::int64_t rows, std::int64_t widest, std::int64_t longest) const {
    KvBatch b;
    b.chunks = chunks_;
    b.device_chunks = chunks;
    b.device_row_chunk = row_chunk;
    b.tables = {pages, offsets, cpu_pool_.page_shift()};
    b.rows = rows;
    b.max_tokens = widest;
    b.max_length = longest;
    return b;
  }

  gpu::Backend& gpu_;
  layers::KvPool<cpu::Backend, T> cpu_pool_;
  layers::KvPool<gpu::Backend, T> gpu_pool_;
  std::vector<std::unique_ptr<typename layers::KvPool<cpu::Backend, T>::Sequence>> cpu_seqs_;
  std::vector<std::unique_ptr<typename layers::KvPool<gpu::Backend, T>::Sequence>> gpu_seqs_;
  std::vector<std::int64_t> reserved_;
  std::vector<StepChunk> chunks_;
  std::vector<int> row_chunk_, pages_;
  std::vector<std::int64_t> offsets_;
  gpu::DeviceBuffer<StepChunk> d_chunks_;
  gpu::DeviceBuffer<int> d_row_chunk_, d_pages_;
  gpu::DeviceBuffer<std::int64_t> d_offsets_;
  KvBatch cpu_batch_, gpu_batch_;
};

using KvTwin = BasicKvTwin<float>;

}  // namespace templlm::test
