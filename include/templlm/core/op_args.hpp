// SPDX-License-Identifier: Apache-2.0
/// \file core/op_args.hpp
/// Argument bundles of the backend ops (see core/backend.hpp): plain structs of pointers,
/// sizes and scalars, shared by the layers that fill them and the backends that read them, so
/// neither side includes the other.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "config.hpp"
#include "macros.hpp"
#include "tensor.hpp"

namespace templlm {

struct AttentionArgs {
  int heads, kv_heads, head_dim, v_dim;
  float scale;           // applied to q.k after the product, as HF does
  cfg::Mixer mixer;
  int window;            // sliding: keys visible incl. self; chunked: chunk size
  const float* sinks;    // [heads] raw logits in backend memory, or null
};

/// First key position visible to a query at position p (non-decreasing in p): sliding windows
/// count the query itself, chunks start at multiples of the chunk size (absolute positions).
/// One definition for both backends and for the KV pool, which frees what no later query sees.
TEMPLLM_HOST_DEVICE constexpr std::int64_t first_visible_key(cfg::Mixer mixer, int window, std::int64_t p) {
  switch (mixer) {
    case cfg::Mixer::sliding: return p - window + 1 > 0 ? p - window + 1 : 0;
    case cfg::Mixer::chunked: return p / window * window;
    case cfg::Mixer::full:
    case cfg::Mixer::no_rope: return 0;
  }
  return 0;
}
TEMPLLM_HOST_DEVICE constexpr std::int64_t first_visible_key(const AttentionArgs& a, std::int64_t p) {
  return first_visible_key(a.mixer, a.window, p);
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

/// A RopeTable prepared once at load by Backend::prepare_rope: the frequencies in backend memory
/// (owned by the backend).
template <class Space>
struct RopeView {
  const float* inv_freq = nullptr;
  int half = 0;                   // inv_freq values
  float attention_factor = 1.0f;
  cfg::RopeLayout layout = cfg::RopeLayout::half_split;
};

/// The positions of a step's rows, uploaded once per step: host memory and backend memory (the
/// same memory on the CPU).
template <class Space>
struct Positions {
  std::span<const int> host;
  const int* data = nullptr;
  std::int64_t size() const { return std::int64_t(host.size()); }
};

/// What a router returns for a batch of rows: each row's experts and their weights [T, K].
template <class Space>
struct Routing {
  MatrixView<const int, Space> ids;
  MatrixView<const float, Space> weights;
};

}  // namespace templlm
