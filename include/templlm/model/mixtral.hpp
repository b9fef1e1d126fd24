// SPDX-License-Identifier: Apache-2.0
/// \file model/mixtral.hpp
/// Mixtral (HF: MixtralForCausalLM): GQA with half-split RoPE, softmax over all experts, top-2,
/// renormalised, SwiGLU experts stored as w1 (gate), w3 (up), w2 (down). Values from the
/// published config.json files; tests/unit/model pins them.
#pragma once
#include <array>
#include <string_view>

#include "../core/config.hpp"
#include "../tokenizer/chat/mistral.hpp"

namespace templlm::model {

namespace detail {
inline constexpr cfg::MoeNames mixtral_moe_names{
    .block = "block_sparse_moe", .router = "gate", .experts = "experts",
    .gate = "w1", .up = "w3", .down = "w2"};

/// The config.json fields a Mixtral description pins.
template <class M>
constexpr auto mixtral_hf_fields() {
  return std::array{
      cfg::text("model_type", "mixtral"),
      cfg::number("hidden_size", M::dims.hidden),
      cfg::number("vocab_size", M::dims.vocab),
      cfg::number("num_hidden_layers", M::dims.layers),
      cfg::number("num_attention_heads", M::attention.heads),
      cfg::number("num_key_value_heads", M::attention.kv_heads),
      cfg::number("head_dim", M::attention.head_dim),  // optional key; hidden/heads when absent
      cfg::number("intermediate_size", M::expert.intermediate),
      cfg::number("num_local_experts", M::router.experts),
      cfg::number("num_experts_per_tok", M::router.active),
      cfg::number("rms_norm_eps", M::norm.eps),
      cfg::number("rope_theta|rope_parameters.rope_theta", M::rope.theta),
      cfg::null_or_absent("sliding_window"),
      cfg::flag("tie_word_embeddings", M::tied_embeddings),
  };
}
}  // namespace detail

/// Common to every Mixtral size; each size below spells its own numbers out.
struct MixtralFamily {
  /// Mixtral-8x7B-Instruct-v0.1 speaks the v1 format; 8x22B overrides it with v3.
  static tokenizer::chat::MistralChat chat_format() { return {.version = 1}; }
  /// How the publisher counts active parameters: Mistral counts the embedding as active.
  static constexpr bool active_counts_embedding = true;
  static constexpr cfg::NoSharedExpert shared{};
  static constexpr cfg::NoDenseFfn dense_ffn{};
  static constexpr cfg::MoeNames moe_names = detail::mixtral_moe_names;
  static constexpr cfg::TensorPrefix prefix{};
  static constexpr std::string_view hf_architecture = "MixtralForCausalLM";
  static constexpr bool tied_embeddings = false;
  static constexpr cfg::LayerPlan layer(int) { return {cfg::Mixer::full, cfg::Ffn::moe}; }
};

/// Mixtral-8x7B-v0.1 (and -Instruct-v0.1).
struct Mixtral8x7B : MixtralFamily {
  static constexpr std::string_view name = "mixtral-8x7b";
  static constexpr cfg::Dims dims{.hidden = 4096, .vocab = 32000, .layers = 32};
  static constexpr cfg::RmsNorm norm{.eps = 1e-5f};
  static constexpr cfg::Rope rope{.theta = 1e6};
  static constexpr cfg::Gqa attention{.heads = 32, .kv_heads = 8, .head_dim = 128};
  static constexpr cfg::TopK router{.experts = 8, .active = 2};
  static constexpr cfg::SwiGlu expert{.intermediate = 14336};
  static constexpr auto hf_fields() { return detail::mixtral_hf_fields<Mixtral8x7B>(); }
};

/// Mixtral-8x22B-v0.1 (base, vocab 32000; the Instruct release has 32768 and needs its own struct).
struct Mixtral8x22B : MixtralFamily {
  static tokenizer::chat::MistralChat chat_format() { return {.version = 3}; }
  static constexpr std::string_view name = "mixtral-8x22b";
  static constexpr cfg::Dims dims{.hidden = 6144, .vocab = 32000, .layers = 56};
  static constexpr cfg::RmsNorm norm{.eps = 1e-5f};
  static constexpr cfg::Rope rope{.theta = 1e6};
  static constexpr cfg::Gqa attention{.heads = 48, .kv_heads = 8, .head_dim = 128};
  static constexpr cfg::TopK router{.experts = 8, .active = 2};
  static constexpr cfg::SwiGlu expert{.intermediate = 16384};
  static constexpr auto hf_fields() { return detail::mixtral_hf_fields<Mixtral8x22B>(); }
};

/// Tiny twin for tests: tests/data/models/mixtral-tiny (tools/make_fixtures.py).
struct MixtralTiny : MixtralFamily {
  static constexpr std::string_view name = "mixtral-tiny";
  static constexpr cfg::Dims dims{.hidden = 64, .vocab = 512, .layers = 2};
  static constexpr cfg::RmsNorm norm{.eps = 1e-5f};
  static constexpr cfg::Rope rope{.theta = 10000.0};
  static constexpr cfg::Gqa attention{.heads = 4, .kv_heads = 2, .head_dim = 16};
  static constexpr cfg::TopK router{.experts = 4, .active = 2};
  static constexpr cfg::SwiGlu expert{.intermediate = 96};
  static constexpr auto hf_fields() { return detail::mixtral_hf_fields<MixtralTiny>(); }
};

}  // namespace templlm::model
