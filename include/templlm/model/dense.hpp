// SPDX-License-Identifier: Apache-2.0
/// \file model/dense.hpp
/// What every dense (no mixture-of-experts) description shares: no router, experts or shared
/// expert, every layer full attention + dense FFN, unprefixed tensor names. Qwen3 dense, Qwen2
/// and Llama 3 (the R1 distills) derive from it and add their own numbers.
#pragma once
#include "../core/config.hpp"

namespace templlm::model {

struct DenseFamily {
  /// Dense: every parameter is active, the embedding included.
  static constexpr bool active_counts_embedding = true;
  static constexpr cfg::NoMoe router{};
  static constexpr cfg::NoMoe expert{};
  static constexpr cfg::NoSharedExpert shared{};
  static constexpr cfg::MoeNames moe_names{};
  static constexpr cfg::TensorPrefix prefix{};
  static constexpr cfg::LayerPlan layer(int) { return {cfg::Mixer::full, cfg::Ffn::dense}; }
};

}  // namespace templlm::model
