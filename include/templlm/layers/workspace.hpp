// SPDX-License-Identifier: Apache-2.0
/// \file layers/workspace.hpp
/// Scratch activations shared by all layers of one model (the forward is sequential over
/// layers). Buffers only grow, so steady-state decoding does not allocate.
#pragma once
#include <vector>

namespace templlm::layers {

template <class B>
struct Workspace {
  template <class T>
  using Buf = typename B::template Buffer<T>;
  Buf<float> hidden, normed, mixed;            // [T, H]
  Buf<float> q, k, v, attn;                    // attention projections and output
  Buf<float> router_logits, route_weights;     // [T, E], [T, K]
  Buf<int> route_ids;                          // [T, K]
  Buf<float> ffn, shared;                      // [T, H]
  Buf<float> logits;                           // [rows, vocab]
  Buf<float> last_rows;                        // [chunks, H]
  std::vector<int> positions;                  // [T], host
  std::vector<int> host_ids;                   // [T, K], host copy for traces
};

}  // namespace templlm::layers
