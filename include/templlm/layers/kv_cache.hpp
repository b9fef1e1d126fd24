// SPDX-License-Identifier: Apache-2.0
/// \file layers/kv_cache.hpp
/// The KV cache of one sequence: per layer, keys and values in backend memory. Sliding-window
/// and chunked layers keep a ring of `window` positions (memory O(window), not O(context)); full
/// layers keep `max_context` positions.
#pragma once
#include <cstdint>
#include <vector>

#include "../core/concepts.hpp"
#include "../core/op_args.hpp"

namespace templlm::layers {

template <class B>
class SequenceCache {
 public:
  struct LayerShape {
    std::int64_t k_width, v_width;  // floats per position
    std::int64_t ring;              // 0: full layer; otherwise positions kept
  };

  SequenceCache(B& be, const std::vector<LayerShape>& layers, std::int64_t max_context)
      : max_context_(max_context) {
    buffers_.resize(layers.size());
    views_.resize(layers.size());
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const auto& l = layers[i];
      const std::int64_t capacity = l.ring > 0 ? std::min(l.ring, max_context) : max_context;
      auto k = be.matrix(buffers_[i].k, capacity, l.k_width);
      auto v = be.matrix(buffers_[i].v, capacity, l.v_width);
      views_[i] = KvLayerView{k.data, v.data, capacity, l.k_width, l.v_width, l.ring > 0};
    }
  }

  std::int64_t length() const { return length_; }
  std::int64_t max_context() const { return max_context_; }
  std::int64_t remaining() const { return max_context_ - length_; }
  const KvLayerView& layer(std::size_t i) const { return views_[i]; }
  /// Called by the model after every layer has stored a chunk of `n` tokens.
  void advance(std::int64_t n) { length_ += n; }
  /// Forget everything (the buffers are kept for reuse).
  void clear() { length_ = 0; }
  /// Bytes of cache memory held, summed over layers.
  std::int64_t bytes() const {
    std::int64_t b = 0;
    for (const auto& v : views_) b += v.capacity * (v.k_width + v.v_width) * std::int64_t(sizeof(float));
    return b;
  }

 private:
  struct Storage {
    typename B::template Buffer<float> k, v;
  };
  std::vector<Storage> buffers_;
  std::vector<KvLayerView> views_;
  std::int64_t length_ = 0, max_context_;
};

}  // namespace templlm::layers
