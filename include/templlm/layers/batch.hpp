// SPDX-License-Identifier: Apache-2.0
/// \file layers/batch.hpp
/// A forward pass runs over a batch of sequence chunks packed into one [T, H] activation: each
/// chunk is `tokens` consecutive rows continuing its own sequence (and its own cache).
#pragma once
#include <cstdint>
#include <vector>

#include "kv_cache.hpp"

namespace templlm::layers {

template <class B>
struct Chunk {
  SequenceCache<B>* cache;
  std::int64_t first_row;  // row of the chunk's first token in the packed activations
  std::int64_t tokens;
  std::int64_t start() const { return cache->length(); }  // position of the first token
};

/// Which rows of the packed batch get logits: all (scoring a prompt) or each chunk's last
/// (generation).
enum class LogitRows { all, last_of_each_chunk };

/// Per-layer record of the experts each token selected (for tests and tracing); filled only
/// when the caller passes one.
struct ExpertTrace {
  std::vector<std::vector<std::vector<int>>> layers;  // [layer][row] -> expert ids
};

}  // namespace templlm::layers
