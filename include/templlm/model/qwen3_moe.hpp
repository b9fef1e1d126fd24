// SPDX-License-Identifier: Apache-2.0
/// \file model/qwen3_moe.hpp
/// Qwen3-MoE (HF: Qwen3MoeForCausalLM): GQA with a per-head RMSNorm on q and k before half-split
/// RoPE, softmax over all experts, top-8, renormalised (norm_topk_prob), SwiGLU experts, no
/// shared expert, every layer MoE. Values from the published config.json files.
#pragma once
#include <array>
#include <string_view>

#include "../core/config.hpp"
#include "../tokenizer/chat/qwen3.hpp"

namespace templlm::model {

namespace detail {
template <class M>
constexpr auto qwen3_moe_hf_fields() {
  return std::array{
      cfg::text("model_type", "qwen3_moe"),
      cfg::number("hidden_size", M::dims.hidden),
      cfg::number("vocab_size", M::dims.vocab),
      cfg::number("num_hidden_layers", M::dims.layers),
      cfg::number("num_attention_heads", M::attention.heads),
      cfg::number("num_key_value_heads", M::attention.kv_heads),
      cfg::number("head_dim", M::attention.head_dim),
      cfg::number("moe_intermediate_size", M::expert.intermediate),
      cfg::number("num_experts|num_local_experts", M::router.experts),  // v5 writes the latter
      cfg::number("num_experts_per_tok", M::router.active),
      cfg::flag("norm_topk_prob", M::router.renormalize),
      cfg::number("decoder_sparse_step", 1),
      cfg::number("rms_norm_eps", M::norm.eps),
      cfg::number("rope_theta|rope_parameters.rope_theta", M::rope.theta),
      cfg::flag("attention_bias", M::attention.qkv_bias),
      cfg::flag("use_sliding_window", false),
      cfg::flag("tie_word_embeddings", M::tied_embeddings),
  };
}
}  // namespace detail

struct Qwen3MoeFamily {
  static tokenizer::chat::Qwen3Chat chat_format() { return {}; }
  /// How the publisher counts active parameters: Qwen counts the embedding as active.
  static constexpr bool active_counts_embedding = true;
  static constexpr std::string_view hf_architecture = "Qwen3MoeForCausalLM";
  static constexpr cfg::NoSharedExpert shared{};
  static constexpr cfg::NoDenseFfn dense_ffn{};
  static constexpr cfg::MoeNames moe_names{};
  static constexpr cfg::TensorPrefix prefix{};
  static constexpr bool tied_embeddings = false;
  static constexpr cfg::LayerPlan layer(int) { return {cfg::Mixer::full, cfg::Ffn::moe}; }
};

/// Qwen3-235B-A22B (April 2025 release).
struct Qwen3_235B_A22B : Qwen3MoeFamily {
  static constexpr std::string_view name = "qwen3-235b-a22b";
  static constexpr cfg::Dims dims{.hidden = 4096, .vocab = 151936, .layers = 94};
  static constexpr cfg::RmsNorm norm{.eps = 1e-6f};
  static constexpr cfg::Rope rope{.theta = 1e6};
  static constexpr cfg::Gqa attention{
      .heads = 64, .kv_heads = 4, .head_dim = 128, .qk_norm = cfg::QkNorm::rms};
  static constexpr cfg::TopK router{.experts = 128, .active = 8};
  static constexpr cfg::SwiGlu expert{.intermediate = 1536};
  static constexpr auto hf_fields() { return detail::qwen3_moe_hf_fields<Qwen3_235B_A22B>(); }
};

/// Qwen3-30B-A3B.
struct Qwen3_30B_A3B : Qwen3MoeFamily {
  static constexpr std::string_view name = "qwen3-30b-a3b";
  static constexpr cfg::Dims dims{.hidden = 2048, .vocab = 151936, .layers = 48};
  static constexpr cfg::RmsNorm norm{.eps = 1e-6f};
  static constexpr cfg::Rope rope{.theta = 1e6};
  static constexpr cfg::Gqa attention{
      .heads = 32, .kv_heads = 4, .head_dim = 128, .qk_norm = cfg::QkNorm::rms};
  static constexpr cfg::TopK router{.experts = 128, .active = 8};
  static constexpr cfg::SwiGlu expert{.intermediate = 768};
  static constexpr auto hf_fields() { return detail::qwen3_moe_hf_fields<Qwen3_30B_A3B>(); }
};

/// Tiny twin for tests: tests/data/models/qwen3-moe-tiny.
struct Qwen3MoeTiny : Qwen3MoeFamily {
  static constexpr std::string_view name = "qwen3-moe-tiny";
  static constexpr cfg::Dims dims{.hidden = 64, .vocab = 512, .layers = 3};
  static constexpr cfg::RmsNorm norm{.eps = 1e-6f};
  static constexpr cfg::Rope rope{.theta = 10000.0};
  static constexpr cfg::Gqa attention{
      .heads = 4, .kv_heads = 2, .head_dim = 32, .qk_norm = cfg::QkNorm::rms};
  static constexpr cfg::TopK router{.experts = 8, .active = 2};
  static constexpr cfg::SwiGlu expert{.intermediate = 48};
  static constexpr auto hf_fields() { return detail::qwen3_moe_hf_fields<Qwen3MoeTiny>(); }
};

}  // namespace templlm::model
