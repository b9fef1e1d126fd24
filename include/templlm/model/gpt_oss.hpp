// SPDX-License-Identifier: Apache-2.0
/// \file model/gpt_oss.hpp
/// GPT-OSS (HF: GptOssForCausalLM): GQA with q/k/v/o biases and a learned per-head sink logit,
/// half-split YaRN RoPE (truncate false), even layers sliding-window, odd layers full. Router
/// with a bias, top-4 on the raw logits, softmax over the selected four. Experts are the clamped
/// GLU ((up + 1) * gate * sigmoid(1.702 gate)) with biases, released as fused MXFP4 tensors.
/// Values from the published config.json files (design/architectures.md §1).
#pragma once
#include <array>
#include <string_view>

#include "../core/config.hpp"
#include "../tokenizer/chat/harmony.hpp"

namespace templlm::model {

namespace detail {
/// Per layer "model.layers.N.mlp.": router.{weight,bias}, then the fused expert tensors
/// experts.gate_up_proj_{blocks,scales,bias} (gate/up interleaved along the output) and
/// experts.down_proj_{blocks,scales,bias}. gate/up/down stay at their defaults: GPT-OSS has
/// neither a shared expert nor dense layers that would use them.
inline constexpr cfg::MoeNames gpt_oss_moe_names{
    .block = "mlp", .router = "router", .experts = "experts",
    .fused_gate_up = "gate_up_proj", .fused_down = "down_proj",
    .layout = cfg::ExpertLayout::fused_mxfp4_interleaved};

/// config.json layer_types: [sliding, full] repeated, layer 0 sliding.
constexpr cfg::LayerPlan gpt_oss_layer(int i, int sliding_window) {
  return i % 2 == 0 ? cfg::LayerPlan{cfg::Mixer::sliding, cfg::Ffn::moe, sliding_window}
                    : cfg::LayerPlan{cfg::Mixer::full, cfg::Ffn::moe};
}

/// True when layer(i) is the [sliding, full] cycle that the pinned layer_types spells out.
template <class M>
constexpr bool gpt_oss_plan_is_alternating() {
  for (int i = 0; i < M::dims.layers; ++i)
    if (M::layer(i).mixer != (i % 2 == 0 ? cfg::Mixer::sliding : cfg::Mixer::full)) return false;
  return true;
}

/// The config.json fields a GPT-OSS description pins, layer_types included (a text_cycle
/// checked against the plan of layer(i) at compile time).
template <class M>
constexpr auto gpt_oss_hf_fields() {
  static_assert(gpt_oss_plan_is_alternating<M>(),
                "templlm: GPT-OSS layer_types pins [sliding, full] repeated; layer(i) disagrees");
  return std::array{
      cfg::text("model_type", "gpt_oss"),
      cfg::number("hidden_size", M::dims.hidden),
      cfg::number("vocab_size", M::dims.vocab),
      cfg::number("num_hidden_layers", M::dims.layers),
      cfg::number("num_attention_heads", M::attention.heads),
      cfg::number("num_key_value_heads", M::attention.kv_heads),
      cfg::number("head_dim", M::attention.head_dim),
      cfg::number("intermediate_size", M::expert.intermediate),
      cfg::number("num_local_experts", M::router.experts),
      // HF's key; the gpt-oss config.json also carries the same value as experts_per_token.
      cfg::number("num_experts_per_tok|experts_per_token", M::router.active),
      cfg::number("rms_norm_eps", M::norm.eps),
      cfg::number("sliding_window", M::layer(0).window),
      cfg::text_cycle("layer_types", "sliding_attention,full_attention", M::dims.layers),
      cfg::number("swiglu_limit", M::expert.clamp),
      cfg::number("rope_theta|rope_parameters.rope_theta", M::rope.theta),
      cfg::text("rope_scaling.rope_type|rope_parameters.rope_type", "yarn"),
      cfg::number("rope_scaling.factor|rope_parameters.factor", M::rope.factor),
      cfg::number("rope_scaling.original_max_position_embeddings|"
                  "rope_parameters.original_max_position_embeddings",
                  M::rope.original_context),
      cfg::number("rope_scaling.beta_fast|rope_parameters.beta_fast", M::rope.beta_fast),
      cfg::number("rope_scaling.beta_slow|rope_parameters.beta_slow", M::rope.beta_slow),
      cfg::flag("rope_scaling.truncate|rope_parameters.truncate", M::rope.truncate),
      cfg::flag("tie_word_embeddings", M::tied_embeddings),
      cfg::flag("attention_bias", M::attention.qkv_bias),
  };
}
}  // namespace detail

/// Common to every GPT-OSS size; each size below spells its own numbers out.
struct GptOssFamily {
  /// The chat format (tokenizer/chat): --reasoning and --date apply to it.
  static tokenizer::chat::HarmonyChat chat_format() { return {}; }
  /// How the publisher counts active parameters: OpenAI leaves the input embedding out of the active count (model card).
  static constexpr bool active_counts_embedding = false;
  static constexpr std::string_view hf_architecture = "GptOssForCausalLM";
  static constexpr cfg::NoSharedExpert shared{};
  static constexpr cfg::NoDenseFfn dense_ffn{};
  static constexpr cfg::MoeNames moe_names = detail::gpt_oss_moe_names;
  static constexpr cfg::TensorPrefix prefix{};
  static constexpr bool tied_embeddings = false;
};

/// gpt-oss-120b.
struct GptOss120B : GptOssFamily {
  static constexpr std::string_view name = "gpt-oss-120b";
  static constexpr cfg::Dims dims{.hidden = 2880, .vocab = 201088, .layers = 36};
  static constexpr cfg::RmsNorm norm{.eps = 1e-5f, .weight_in_fp32 = true};
  static constexpr cfg::YarnRope rope{
      .theta = 150000.0, .factor = 32.0, .original_context = 4096,
      .beta_fast = 32.0, .beta_slow = 1.0, .truncate = false};
  static constexpr cfg::Gqa attention{
      .heads = 64, .kv_heads = 8, .head_dim = 64, .qkv_bias = true, .o_bias = true,
      .sinks = true};
  // The softmax runs over the four selected logits, whose weights already sum to one: HF does
  // not renormalise.
  static constexpr cfg::TopK router{
      .experts = 128, .active = 4, .renormalize = false, .score_after_topk = true,
      .bias = true};
  // alpha 1.702 is hard-coded in HF, not a config field.
  static constexpr cfg::SwiGlu expert{
      .intermediate = 2880, .bias = true, .clamp = 7.0f, .alpha = 1.702f};
  static constexpr cfg::LayerPlan layer(int i) { return detail::gpt_oss_layer(i, 128); }
  static constexpr auto hf_fields() { return detail::gpt_oss_hf_fields<GptOss120B>(); }
};

/// gpt-oss-20b.
struct GptOss20B : GptOssFamily {
  static constexpr std::string_view name = "gpt-oss-20b";
  static constexpr cfg::Dims dims{.hidden = 2880, .vocab = 201088, .layers = 24};
  static constexpr cfg::RmsNorm norm{.eps = 1e-5f, .weight_in_fp32 = true};
  static constexpr cfg::YarnRope rope{
      .theta = 150000.0, .factor = 32.0, .original_context = 4096,
      .beta_fast = 32.0, .beta_slow = 1.0, .truncate = false};
  static constexpr cfg::Gqa attention{
      .heads = 64, .kv_heads = 8, .head_dim = 64, .qkv_bias = true, .o_bias = true,
      .sinks = true};
  static constexpr cfg::TopK router{
      .experts = 32, .active = 4, .renormalize = false, .score_after_topk = true,
      .bias = true};
  static constexpr cfg::SwiGlu expert{
      .intermediate = 2880, .bias = true, .clamp = 7.0f, .alpha = 1.702f};
  static constexpr cfg::LayerPlan layer(int i) { return detail::gpt_oss_layer(i, 128); }
  static constexpr auto hf_fields() { return detail::gpt_oss_hf_fields<GptOss20B>(); }
};

/// Tiny twin for tests: tests/data/models/gpt-oss-tiny. Same RoPE, router and expert settings
/// as the real sizes; a window of 8 so that short test prompts reach past it.
struct GptOssTiny : GptOssFamily {
  static constexpr std::string_view name = "gpt-oss-tiny";
  static constexpr cfg::Dims dims{.hidden = 64, .vocab = 512, .layers = 4};
  static constexpr cfg::RmsNorm norm{.eps = 1e-5f, .weight_in_fp32 = true};
  static constexpr cfg::YarnRope rope{
      .theta = 150000.0, .factor = 32.0, .original_context = 4096,
      .beta_fast = 32.0, .beta_slow = 1.0, .truncate = false};
  static constexpr cfg::Gqa attention{
      .heads = 4, .kv_heads = 2, .head_dim = 16, .qkv_bias = true, .o_bias = true,
      .sinks = true};
  static constexpr cfg::TopK router{
      .experts = 8, .active = 4, .renormalize = false, .score_after_topk = true, .bias = true};
  static constexpr cfg::SwiGlu expert{
      .intermediate = 64, .bias = true, .clamp = 7.0f, .alpha = 1.702f};
  static constexpr cfg::LayerPlan layer(int i) { return detail::gpt_oss_layer(i, 8); }
  static constexpr auto hf_fields() { return detail::gpt_oss_hf_fields<GptOssTiny>(); }
};

}  // namespace templlm::model
