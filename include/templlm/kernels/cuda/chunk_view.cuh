// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cuda/chunk_view.cuh
/// What the attention kernels read of one layer's paged cache for a whole step (core/kv.hpp):
/// the layer's page storage, the step's chunks and their page tables, in device memory. A
/// kernel launched once for the step takes its chunk from blockIdx.z and sees that chunk's
/// positions through KvLayerView::slot; the cache element type T is fp32 or bf16 (kv_load).
#pragma once
#include <cstdint>

#include "../../core/kv.hpp"
#include "../../core/mla_args.hpp"
#include "../../core/op_args.hpp"

namespace templlm::gpu {

/// One chunk's view: position p of its sequence lives at row slot(p) of k (and v).
template <class T>
struct KvLayerView {
  const T* k = nullptr;
  const T* v = nullptr;
  std::int64_t k_width = 0, v_width = 0;
  PageTables tables;
  int chunk = 0;
  TEMPLLM_HOST_DEVICE std::int64_t slot(std::int64_t p) const { return tables.slot(chunk, p); }
  /// Element i of the key (value) row of position p, widened to fp32.
  TEMPLLM_HOST_DEVICE float key(std::int64_t p, std::int64_t i) const { return kv_load(k[slot(p) * k_width + i]); }
  TEMPLLM_HOST_DEVICE float value(std::int64_t p, std::int64_t i) const { return kv_load(v[slot(p) * v_width + i]); }
};

/// The whole step's view of one layer: its pages, the chunks (device memory) and their tables.
template <class T>
struct StepKv {
  const T* k = nullptr;
  const T* v = nullptr;
  std::int64_t k_width = 0, v_width = 0;
  const StepChunk* chunks = nullptr;
  PageTables tables;
  TEMPLLM_HOST_DEVICE KvLayerView<T> chunk(int c) const { return {k, v, k_width, v_width, tables, c}; }
};

template <class T>
StepKv<T> step_kv(const KvPages<T, Device>& pages, const KvBatch& batch) {
  return {pages.k, pages.v, pages.k_width, pages.v_width, batch.device_chunks, batch.tables};
}

/// A layer's attention arguments for one chunk: start is the position of its first token.
struct ChunkAttentionArgs : AttentionArgs {
  std::int64_t start = 0;
};
TEMPLLM_HOST_DEVICE inline ChunkAttentionArgs for_chunk(const AttentionArgs& a, std::int64_t start) {
  ChunkAttentionArgs c;
  static_cast<AttentionArgs&>(c) = a;
  c.start = start;
  return c;
}

/// The MLA arguments for one chunk (the expanded form runs per chunk).
struct ChunkMlaArgs : MlaArgs {
  std::int64_t start = 0;
};
TEMPLLM_HOST_DEVICE inline ChunkMlaArgs for_chunk(const MlaArgs& a, std::int64_t start) {
  ChunkMlaArgs c;
  static_cast<MlaArgs&>(c) = a;
  c.start = start;
  return c;
}

}  // namespace templlm::gpu
