// SPDX-License-Identifier: Apache-2.0
/// \file core/op_args.hpp
/// Argument bundles of the backend ops (see core/backend.hpp): plain structs of pointers,
/// sizes and scalars, shared by the layers that fill them and the backends that read them, so
/// neither side includes the other.
#pragma once
#include <cstdint>
#include <vector>

#include "config.hpp"
#include "macros.hpp"
#include "tensor.hpp"

namespace templlm {

/// One layer's cache of one sequence: slot(p) holds position p's key and value. A ring cache
/// (capacity = window or chunk) keeps only the most recent `capacity` positions.
struct KvLayerView {
  float* k = nullptr;
  float* v = nullptr;
  std::int64_t capacity = 0;
  std::int64_t k_width = 0, v_width = 0;  // kv_heads * head_dim, kv_heads * v_dim
  bool ring = false;
  TEMPLLM_HOST_DEVICE constexpr std::int64_t slot(std::int64_t p) const {
    return ring ? p % capacity : p;
  }
};

struct AttentionArgs {
  int heads, kv_heads, head_dim, v_dim;
  float scale;           // applied to q.k after the product, as HF does
  cfg::Mixer mixer;
  int window;            // sliding: keys visible incl. self; chunked: chunk size
  const float* sinks;    // [heads] raw logits in backend memory, or null
  std::int64_t start;    // absolute position of the chunk's first token
};

/// First key position visible to a query at position p (non-decreasing in p): sliding windows
/// count the query itself, chunks start at multiples of the chunk size (absolute positions).
/// One definition for both backends.
TEMPLLM_HOST_DEVICE constexpr std::int64_t first_visible_key(const AttentionArgs& a, std::int64_t p) {
  switch (a.mixer) {
    case cfg::Mixer::sliding: return p - a.window + 1 > 0 ? p - a.window + 1 : 0;
    case cfg::Mixer::chunked: return p / a.window * a.window;
    case cfg::Mixer::full:
    case cfg::Mixer::no_rope: return 0;
  }
  return 0;
}

/// One expert's weights: [I, H] gate and up, [H, I] down (HF nn.Linear layout), optional biases.
template <class Space>
struct ExpertWeights {
  WeightView<Space> gate, up, down;
  WeightView<Space> gate_bias, up_bias, down_bias;
};

/// Rotary frequencies of one model, computed once on the host (layers/rope.hpp).
struct RopeTable {
  std::vector<float> inv_freq;   // rotary_dim / 2 values
  float attention_factor = 1.0f; // YaRN scales cos and sin by this
  cfg::RopeLayout layout = cfg::RopeLayout::half_split;
};

}  // namespace templlm
