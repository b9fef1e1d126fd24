// SPDX-License-Identifier: Apache-2.0
/// \file tests/support/kv_host.hpp
/// Calling the CPU cache ops directly on one sequence: a KV pool of the CPU backend with one
/// sequence, and the step's KvBatch for one chunk of it (what Transformer::forward builds).
#pragma once
#include <memory>
#include <vector>

#include <templlm/kernels/cpu/backend.hpp>
#include <templlm/layers/kv_pool.hpp>

namespace templlm::test {

template <KvElement T = float>
class OneSequenceKv {
 public:
  OneSequenceKv(cpu::Backend& be, std::vector<layers::KvLayerSpec> layers, layers::KvPoolOptions o = {})
      : pool_(be, layers, o), seq_(pool_.new_sequence(1 << 30)) {}

  /// Reserves `n` positions after the sequence's length and returns the batch of that one chunk
  /// for the layers of `group`; call commit(n) after the ops.
  const KvBatch& begin(std::int64_t n, std::size_t group = 0) {
    pool_.reserve(*seq_, n);
    const std::int64_t start = seq_->length();
    chunks_ = {StepChunk{0, n, start}};
    row_chunk_.assign(std::size_t(n), 0);
    const auto table = pool_.table(*seq_, group);
    pages_.assign(table.begin(), table.end());
    batch_.chunks = chunks_;
    batch_.device_chunks = chunks_.data();
    batch_.device_row_chunk = row_chunk_.data();
    batch_.tables = {pages_.data(), offsets_.data(), pool_.page_shift()};
    batch_.rows = n;
    batch_.max_tokens = n;
    batch_.max_length = start + n;
    return batch_;
  }
  void commit(std::int64_t n) { pool_.commit(*seq_, n); }
  KvPages<T, Host> layer(std::size_t i) { return pool_.layer(i); }
  layers::KvPool<cpu::Backend, T>& pool() { return pool_; }
  typename layers::KvPool<cpu::Backend, T>::Sequence& sequence() { return *seq_; }

 private:
  layers::KvPool<cpu::Backend, T> pool_;
  std::unique_ptr<typename layers::KvPool<cpu::Backend, T>::Sequence> seq_;
  std::vector<StepChunk> chunks_;
  std::vector<int> row_chunk_, pages_;
  std::vector<std::int64_t> offsets_{0};
  KvBatch batch_;
};

}  // namespace templlm::test
