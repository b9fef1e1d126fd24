// SPDX-License-Identifier: Apache-2.0
/// \file kernels/cuda/chunk_view.cuh
/// What the per-chunk attention kernels read: one chunk's view of one layer's pages (positions
/// found through the step's page table, core/kv.hpp) and the layer's arguments with the chunk's
/// first position. The batched ops of backend.cuh launch them once per chunk of the step.
#pragma once
#include <cstdint>

#include "../../core/kv.hpp"
#include "../../core/mla_args.hpp"
#include "../../core/op_args.hpp"

namespace templlm::gpu {

/// Position p of the chunk's sequence lives at row slot(p) of k (and v).
struct KvLayerView {
  float* k = nullptr;
  float* v = nullptr;
  std::int64_t k_width = 0, v_width = 0;
  PageTables tables;
  int chunk = 0;
  TEMPLLM_HOST_DEVICE std::int64_t slot(std::int64_t p) const { return tables.slot(chunk, p); }
};

inline KvLayerView chunk_view(const KvPages<float, Device>& pages, const KvBatch& batch, int chunk) {
  return {pages.k, pages.v, pages.k_width, pages.v_width, batch.tables, chunk};
}

/// A layer's attention arguments for one chunk: start is the position of its first token.
struct ChunkAttentionArgs : AttentionArgs {
  std::int64_t start = 0;
};

/// The MLA arguments for one chunk: absorbed picks the form (single-token chunks when the layer
/// asks for absorb_decode, as on the CPU).
struct ChunkMlaArgs : MlaArgs {
  std::int64_t start = 0;
  bool absorbed = false;
};

}  // namespace templlm::gpu
