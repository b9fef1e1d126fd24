// SPDX-License-Identifier: Apache-2.0
/// \file io/random_weights.hpp
/// A TensorSource that invents deterministic random weights of whatever shape a layer asks for:
/// for examples and benchmarks of architectures with no checkpoint at hand. Norm weights
/// (1-D tensors named "*norm.weight") are near 1 so activations stay in range.
#pragma once
#include <deque>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "../core/numeric.hpp"
#include "../core/tensor_source.hpp"

namespace templlm::io {

class RandomWeights final : public TensorSource {
 public:
  /// Weights are bf16 with standard deviation `scale`, from a generator seeded with `seed`.
  explicit RandomWeights(std::uint64_t seed = 0, float scale = 0.05f) : seed_(seed), scale_(scale) {}

  WeightView<Host> get(std::string_view name,
                       std::initializer_list<std::int64_t> shape) const override {
    auto it = made_.find(std::string(name));
    if (it == made_.end()) {
      std::int64_t n = 1;
      for (auto d : shape) n *= d;
      auto& data = storage_.emplace_back(static_cast<std::size_t>(n));
      std::mt19937_64 gen(seed_ ^ std::hash<std::string_view>{}(name));
      std::normal_distribution<float> normal(0.0f, scale_);
      const bool norm = shape.size() == 1 && name.ends_with("norm.weight");
      for (auto& v : data) v = f32_to_bf16(norm ? 1.0f + normal(gen) : normal(gen));
      WeightView<Host> w;
      w.dtype = DType::bf16;
      w.rank = static_cast<int>(shape.size());
      int i = 0;
      for (auto d : shape) w.shape[i++] = d;
      w.data = reinterpret_cast<const std::byte*>(data.data());
      it = made_.emplace(std::string(name), w).first;
    }
    return it->second;
  }
  /// Layers ask only about optional tensors (FP8 `weight_scale_inv`, the MTP layer): a random
  /// model is plain bf16 without them, so every such question is answered no.
  bool contains(std::string_view) const override { return false; }
  /// Bytes invented so far.
  std::size_t bytes() const {
    std::size_t b = 0;
    for (const auto& s : storage_) b += s.size() * sizeof(std::uint16_t);
    return b;
  }

 private:
  std::uint64_t seed_;
  float scale_;
  mutable std::deque<std::vector<std::uint16_t>> storage_;
  mutable std::map<std::string, WeightView<Host>, std::less<>> made_;
};

}  // namespace templlm::io
