// SPDX-License-Identifier: Apache-2.0
/// \file tests/cuda/kv_twin.hpp
/// One sequence's pages of one layer on both backends, driven in lockstep: the two KV pools
/// (layers/kv_pool.hpp) make the same bookkeeping decisions, so their page tables are equal, and
/// each step's one-chunk KvBatch is built for each backend's memory (what Transformer::forward
/// uploads once per step).
#pragma once
#include <memory>
#include <span>
#include <vector>

#include <gtest/gtest.h>
#include <templlm/kernels/cpu/backend.hpp>
#include <templlm/kernels/cuda/backend.cuh>
#include <templlm/layers/kv_pool.hpp>

namespace templlm::test {

class KvTwin {
 public:
  KvTwin(cpu::Backend& cpu, gpu::Backend& gpu, layers::KvLayerSpec spec, int page_size = 4)
      : gpu_(gpu),
        cpu_pool_(cpu, std::vector<layers::KvLayerSpec>{spec}, {.page_size = page_size, .max_pages = 0, .rollback = 0}),
        gpu_pool_(gpu, std::vector<layers::KvLayerSpec>{spec}, {.page_size = page_size, .max_pages = 0, .rollback = 0}),
        cpu_seq_(cpu_pool_.new_sequence(1 << 30)),
        gpu_seq_(gpu_pool_.new_sequence(1 << 30)) {}

  /// Reserves n positions after the sequence's length: one chunk of n rows from row 0.
  void begin(std::int64_t n) {
    cpu_pool_.reserve(*cpu_seq_, n);
    gpu_pool_.reserve(*gpu_seq_, n);
    const auto table = cpu_pool_.table(*cpu_seq_, 0);
    const auto gtable = gpu_pool_.table(*gpu_seq_, 0);
    ASSERT_TRUE(std::equal(table.begin(), table.end(), gtable.begin(), gtable.end()));
    const std::int64_t start = cpu_seq_->length();
    chunks_ = {StepChunk{0, n, start}};
    row_chunk_.assign(std::size_t(n), 0);
    pages_.assign(table.begin(), table.end());
    gpu_.copy_from_host(d_chunks_, std::span<const StepChunk>(chunks_));
    gpu_.copy_from_host(d_row_chunk_, std::span<const int>(row_chunk_));
    gpu_.copy_from_host(d_pages_, std::span<const int>(pages_));
    gpu_.copy_from_host(d_offsets_, std::span<const std::int64_t>(offsets_));
    cpu_batch_ = batch(chunks_.data(), row_chunk_.data(), pages_.data(), offsets_.data(), n, start);
    gpu_batch_ = batch(d_chunks_.data(), d_row_chunk_.data(), d_pages_.data(), d_offsets_.data(), n, start);
  }
  void commit(std::int64_t n) {
    cpu_pool_.commit(*cpu_seq_, n);
    gpu_pool_.commit(*gpu_seq_, n);
  }
  const KvBatch& cpu_batch() const { return cpu_batch_; }
  const KvBatch& gpu_batch() const { return gpu_batch_; }
  KvPages<float, Host> cpu_pages() { return cpu_pool_.layer(0); }
  KvPages<float, Device> gpu_pages() { return gpu_pool_.layer(0); }
  /// Rows of storage both pools hold (all allocated pages).
  std::int64_t storage_rows() const { return cpu_pool_.pages_allocated(0) * cpu_pool_.page_size(); }
  std::int64_t pages_in_use() const { return cpu_pool_.pages_in_use(); }

 private:
  KvBatch batch(const StepChunk* chunks, const int* row_chunk, const int* pages, const std::int64_t* offsets,
                std::int64_t n, std::int64_t start) const {
    KvBatch b;
    b.chunks = chunks_;
    b.device_chunks = chunks;
    b.device_row_chunk = row_chunk;
    b.tables = {pages, offsets, cpu_pool_.page_shift()};
    b.rows = n;
    b.max_tokens = n;
    b.max_length = start + n;
    return b;
  }

  gpu::Backend& gpu_;
  layers::KvPool<cpu::Backend> cpu_pool_;
  layers::KvPool<gpu::Backend> gpu_pool_;
  std::unique_ptr<layers::KvPool<cpu::Backend>::Sequence> cpu_seq_;
  std::unique_ptr<layers::KvPool<gpu::Backend>::Sequence> gpu_seq_;
  std::vector<StepChunk> chunks_;
  std::vector<int> row_chunk_, pages_;
  std::vector<std::int64_t> offsets_{0};
  gpu::DeviceBuffer<StepChunk> d_chunks_;
  gpu::DeviceBuffer<int> d_row_chunk_, d_pages_;
  gpu::DeviceBuffer<std::int64_t> d_offsets_;
  KvBatch cpu_batch_, gpu_batch_;
};

}  // namespace templlm::test
