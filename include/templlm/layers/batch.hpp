// SPDX-License-Identifier: Apache-2.0
/// \file layers/batch.hpp
/// A forward pass runs over a batch of sequence chunks packed into one [T, H] activation: each
/// chunk is `tokens` consecutive rows continuing its own sequence of the KV pool. The Transformer
/// turns the chunks into one StepPlan per step (positions, chunks and page tables, uploaded once);
/// every layer reads it, so each makes one attention call and one cache store for the batch.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "../core/kv.hpp"
#include "../core/op_args.hpp"

namespace templlm::layers {

template <class Seq>
struct Chunk {
  Seq* seq;
  std::int64_t first_row;  // row of the chunk's first token in the packed activations
  std::int64_t tokens;
};

/// Which rows of the packed batch get logits: all (scoring a prompt) or each chunk's last
/// (generation).
enum class LogitRows { all, last_of_each_chunk };

/// Rows of a step whose input is given instead of their token's embedding (an image's features
/// at its placeholder tokens): packed row rows[i] gets row i of `values` ([rows.size(), H]).
template <class Space>
struct GivenEmbeddings {
  std::span<const std::int64_t> rows;
  MatrixView<const float, Space> values;
};

/// Per-layer record of the experts each token selected (for tests and tracing); filled only
/// when the caller passes one.
struct ExpertTrace {
  std::vector<std::vector<std::vector<int>>> layers;  // [layer][row] -> expert ids
};

/// One step as every layer sees it: the rows' positions and, per group of the KV pool, the
/// chunks and their page tables (host and backend memory).
template <class Space>
struct StepPlan {
  Positions<Space> positions;
  std::vector<KvBatch> groups;
};

/// What one attention layer gets of the cache for a step: its page storage and its group's batch.
template <class T, class Space>
struct LayerCache {
  KvPages<T, Space> pages;
  const KvBatch& batch;
};

}  // namespace templlm::layers
