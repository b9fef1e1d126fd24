// SPDX-License-Identifier: Apache-2.0
/// \file model/deepseek_v3.hpp
/// DeepSeek-V3 (HF: DeepseekV3ForCausalLM): multi-head latent attention with interleaved YaRN
/// RoPE on the 64 rope dims only; the first layers dense, the rest MoE with node-limited
/// (grouped) sigmoid routing, a selection-only correction bias, renormalised and scaled weights,
/// plus one always-on shared expert. Values from the published config.json
/// (design/architectures.md §2). The multi-token-prediction layer stored as model.layers.61 is
/// not part of dims.layers: HF ignores it and so does this description.
#pragma once
#include <array>
#include <string_view>

#include "../core/config.hpp"
#include "../tokenizer/chat/deepseek.hpp"

namespace templlm::model {

namespace detail {
/// The config.json fields a DeepSeek-V3 description pins. Not pinned: rope_interleave (an HF
/// config default, absent from the released config.json) and num_nextn_predict_layers (the
/// MTP layer is not read).
template <class M>
constexpr auto deepseek_v3_hf_fields() {
  return std::array{
      cfg::text("model_type", "deepseek_v3"),
      cfg::number("hidden_size", M::dims.hidden),
      cfg::number("vocab_size", M::dims.vocab),
      cfg::number("num_hidden_layers", M::dims.layers),
      cfg::number("num_attention_heads", M::attention.heads),
      // MLA decompresses the latent into one K/V per query head.
      cfg::number("num_key_value_heads", M::attention.heads),
      cfg::number("q_lora_rank", M::attention.q_lora_rank),
      cfg::number("kv_lora_rank", M::attention.kv_lora_rank),
      cfg::number("qk_nope_head_dim", M::attention.qk_nope_dim),
      cfg::number("qk_rope_head_dim", M::attention.qk_rope_dim),
      cfg::number("v_head_dim", M::attention.v_head_dim),
      cfg::number("intermediate_size", M::dense_ffn.intermediate),
      cfg::number("moe_intermediate_size", M::expert.intermediate),
      cfg::number("n_routed_experts", M::router.experts),
      cfg::number("num_experts_per_tok", M::router.active),
      cfg::number("n_group", M::router.groups),
      cfg::number("topk_group", M::router.groups_active),
      cfg::number("routed_scaling_factor", M::router.routed_scale),
      cfg::flag("norm_topk_prob", M::router.renormalize),
      cfg::text("scoring_func", M::router.score == cfg::Score::sigmoid ? "sigmoid" : "softmax"),
      cfg::text("topk_method", M::router.correction_bias ? "noaux_tc" : "group_limited_greedy"),
      cfg::number("n_shared_experts", M::shared.count),
      cfg::number("first_k_dense_replace", M::first_k_dense_replace),
      cfg::number("rms_norm_eps", M::norm.eps),
      cfg::number("rope_theta|rope_parameters.rope_theta", M::rope.theta),
      // The released config says "type"; HF normalises it to "rope_type".
      cfg::text("rope_scaling.type|rope_scaling.rope_type|rope_parameters.rope_type", "yarn"),
      cfg::number("rope_scaling.factor|rope_parameters.factor", M::rope.factor),
      cfg::number("rope_scaling.original_max_position_embeddings|"
                  "rope_parameters.original_max_position_embeddings",
                  M::rope.original_context),
      cfg::number("rope_scaling.beta_fast|rope_parameters.beta_fast", M::rope.beta_fast),
      cfg::number("rope_scaling.beta_slow|rope_parameters.beta_slow", M::rope.beta_slow),
      cfg::number("rope_scaling.mscale|rope_parameters.mscale", M::rope.mscale),
      cfg::number("rope_scaling.mscale_all_dim|rope_parameters.mscale_all_dim",
                  M::rope.mscale_all_dim),
      cfg::flag("attention_bias", false),
      cfg::flag("tie_word_embeddings", M::tied_embeddings),
  };
}
}  // namespace detail

/// Common to DeepSeek-V3 descriptions; each one below spells its own numbers out.
struct DeepSeekV3Family {
  /// R1's format; a V3 checkpoint's own chat_template (no "<think>") selects V3's.
  static tokenizer::chat::DeepSeekChat chat_format() { return {.r1 = true}; }
  /// How the publisher counts active parameters: DeepSeek leaves the input embedding out of the active count (see model/all.hpp).
  static constexpr bool active_counts_embedding = false;
  static constexpr std::string_view hf_architecture = "DeepseekV3ForCausalLM";
  // Per layer "model.layers.N.mlp.": gate.{weight,e_score_correction_bias},
  // experts.{e}.{gate,up,down}_proj, shared_experts.{gate,up,down}_proj; dense layers
  // mlp.{gate,up,down}_proj.
  static constexpr cfg::MoeNames moe_names{};
  static constexpr cfg::TensorPrefix prefix{};
  static constexpr bool tied_embeddings = false;
};

/// DeepSeek-V3 (and V3-0324).
struct DeepSeekV3 : DeepSeekV3Family {
  static constexpr std::string_view name = "deepseek-v3";
  static constexpr cfg::Dims dims{.hidden = 7168, .vocab = 129280, .layers = 61};
  static constexpr cfg::RmsNorm norm{.eps = 1e-6f};
  // truncate is absent from the config (HF default true). Both mscales are 1, so cos/sin stay
  // unscaled and the softmax scale carries mscale^2.
  static constexpr cfg::YarnRope rope{
      .theta = 10000.0, .factor = 40.0, .original_context = 4096,
      .beta_fast = 32.0, .beta_slow = 1.0, .mscale = 1.0, .mscale_all_dim = 1.0,
      .layout = cfg::RopeLayout::interleaved};
  static constexpr cfg::Mla attention{
      .heads = 128, .q_lora_rank = 1536, .kv_lora_rank = 512,
      .qk_nope_dim = 128, .qk_rope_dim = 64, .v_head_dim = 128, .head_dim = 64};
  static constexpr cfg::GroupedTopK router{
      .experts = 256, .active = 8, .groups = 8, .groups_active = 4,
      .score = cfg::Score::sigmoid, .renormalize = true, .routed_scale = 2.5f,
      .correction_bias = true};
  static constexpr cfg::SwiGlu expert{.intermediate = 2048};
  static constexpr cfg::SharedExpert shared{.count = 1, .intermediate = 2048};
  static constexpr cfg::SwiGlu dense_ffn{.intermediate = 18432};
  static constexpr int first_k_dense_replace = 3;
  static constexpr cfg::LayerPlan layer(int i) {
    return {cfg::Mixer::full, i < first_k_dense_replace ? cfg::Ffn::dense : cfg::Ffn::moe};
  }
  static constexpr auto hf_fields() { return detail::deepseek_v3_hf_fields<DeepSeekV3>(); }
  /// The release's MTP module (layers/mtp.hpp); transformers ignores it, and so does the forward.
  static constexpr std::array skipped_tensors{cfg::SkippedTensors{
      .prefix = "model.layers.61.", .reason = "the multi-token-prediction module (layers/mtp.hpp loads it on demand)"}};
};

/// DeepSeek-R1 (and R1-0528) is the V3 architecture with other weights: one description.
using DeepSeekR1 = DeepSeekV3;

/// Tiny twin for tests: tests/data/models/deepseek-v3-tiny (tools/fixture_families/deepseek.py,
/// released FP8 layout). 16 experts in 4 groups of 4, so that group selection (2 of 4) changes
/// which experts can win; RoPE, router scaling and eps as in the real model. The file also holds
/// an MTP layer model.layers.4.* (layers/mtp.hpp).
struct DeepSeekV3Tiny : DeepSeekV3Family {
  static constexpr std::string_view name = "deepseek-v3-tiny";
  static constexpr cfg::Dims dims{.hidden = 64, .vocab = 512, .layers = 4};
  static constexpr cfg::RmsNorm norm{.eps = 1e-6f};
  static constexpr cfg::YarnRope rope{
      .theta = 10000.0, .factor = 40.0, .original_context = 4096,
      .beta_fast = 32.0, .beta_slow = 1.0, .mscale = 1.0, .mscale_all_dim = 1.0,
      .layout = cfg::RopeLayout::interleaved};
  static constexpr cfg::Mla attention{
      .heads = 4, .q_lora_rank = 48, .kv_lora_rank = 32,
      .qk_nope_dim = 16, .qk_rope_dim = 8, .v_head_dim = 16, .head_dim = 8};
  static constexpr cfg::GroupedTopK router{
      .experts = 16, .active = 4, .groups = 4, .groups_active = 2,
      .score = cfg::Score::sigmoid, .renormalize = true, .routed_scale = 2.5f,
      .correction_bias = true};
  static constexpr cfg::SwiGlu expert{.intermediate = 32};
  static constexpr cfg::SharedExpert shared{.count = 1, .intermediate = 32};
  // 160 > 128: the dense MLP's FP8 scales have a full and a partial block.
  static constexpr cfg::SwiGlu dense_ffn{.intermediate = 160};
  static constexpr int first_k_dense_replace = 1;
  static constexpr cfg::LayerPlan layer(int i) {
    return {cfg::Mixer::full, i < first_k_dense_replace ? cfg::Ffn::dense : cfg::Ffn::moe};
  }
  static constexpr auto hf_fields() { return detail::deepseek_v3_hf_fields<DeepSeekV3Tiny>(); }
  static constexpr std::array skipped_tensors{cfg::SkippedTensors{
      .prefix = "model.layers.4.", .reason = "the multi-token-prediction module (layers/mtp.hpp loads it on demand)"}};
};

}  // namespace templlm::model
