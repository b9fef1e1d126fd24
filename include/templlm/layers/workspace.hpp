// SPDX-License-Identifier: Apache-2.0
/// \file layers/workspace.hpp
/// Scratch of one model's forward, shared by all layers (the forward is sequential over layers)
/// and sized per step: no layer keeps scratch of its own. Buffers only grow, so steady-state
/// decoding does not allocate. Per-caller state: one thread at a time.
#pragma once
#include <deque>
#include <vector>

#include "../core/kv.hpp"

namespace templlm::layers {

template <class B>
struct Workspace {
  template <class T>
  using Buf = typename B::template Buffer<T>;
  Buf<float> hidden, normed, mixed;            // [T, H]
  Buf<float> q, k, v, attn;                    // attention projections and output
  Buf<float> cq, latent;                       // MLA: q LoRA rank, latent + rope key
  Buf<float> router_logits, route_weights;     // [T, E], [T, K]
  Buf<int> route_ids;                          // [T, K]
  Buf<float> ffn, shared;                      // [T, H]
  Buf<float> component;                        // free for a component's own use in its forward
                                               // (components written outside the library)
  Buf<float> logits;                           // [rows, vocab]
  Buf<float> last_rows;                        // [chunks, H]
  std::vector<int> host_ids;                   // [T, K], host copy for traces

  // The step plan (layers/batch.hpp): host arrays and their backend copies, uploaded once a step.
  std::vector<int> positions, row_chunk;       // [T]
  std::vector<StepChunk> chunks;               // [chunks]
  std::vector<std::vector<int>> pages;         // per pool group: the chunks' tables, concatenated
  std::vector<std::vector<std::int64_t>> offsets;  // per pool group: [chunks]
  Buf<int> device_positions, device_row_chunk;
  Buf<StepChunk> device_chunks;
  std::deque<Buf<int>> device_pages;           // deque: Buffers need not be movable
  std::deque<Buf<std::int64_t>> device_offsets;
};

}  // namespace templlm::layers
