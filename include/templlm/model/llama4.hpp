// SPDX-License-Identifier: Apache-2.0
/// \file model/llama4.hpp
/// Llama 4 text model (HF: Llama4ForConditionalGeneration, text_config): GQA with interleaved
/// RoPE on three layers of four, each attending within its own chunk; every fourth layer has no
/// RoPE, attends to the whole context and scales q by a position-dependent temperature. Scout
/// applies a weightless L2 norm to q and k after RoPE (RoPE layers only). Top-1 routing on the
/// raw logits whose sigmoid scales the expert *input*, plus one always-on shared expert; the
/// experts are released fused and stored [in, out]. Maverick alternates dense and MoE layers.
/// The vision tower (cfg::Llama4Vision, layers/vision/llama4_vision.hpp): 336-pixel tiles of 14-pixel
/// patches, 34 ViT layers, pixel shuffle 0.5 (144 tokens per tile), an adapter MLP and a projection
/// into the text model; its features replace the prompt's <|patch|> embeddings. Values from the
/// published config.json files (design/architectures.md §4).
#pragma once
#include <array>
#include <cstddef>
#include <string_view>

#include "../core/config.hpp"
#include "../tokenizer/chat/llama.hpp"

namespace templlm::model {

namespace detail {
/// Per layer "language_model.model.layers.N.feed_forward.": router.weight,
/// experts.gate_up_proj [E, H, 2I] (gate columns first, then up) and experts.down_proj [E, I, H],
/// shared_expert.{gate,up,down}_proj; dense layers feed_forward.{gate,up,down}_proj.
inline constexpr cfg::MoeNames llama4_moe_names{
    .block = "feed_forward", .router = "router", .experts = "experts",
    .shared = "shared_expert", .fused_gate_up = "gate_up_proj", .fused_down = "down_proj",
    .layout = cfg::ExpertLayout::fused_in_out_halves};

template <std::size_t A, std::size_t B>
constexpr std::array<cfg::HfField, A + B> join_hf_fields(const std::array<cfg::HfField, A>& a,
                                                         const std::array<cfg::HfField, B>& b) {
  std::array<cfg::HfField, A + B> out{};
  for (std::size_t i = 0; i < A; ++i) out[i] = a[i];
  for (std::size_t i = 0; i < B; ++i) out[A + i] = b[i];
  return out;
}

/// config.json "no_rope_layers" entry i: 1 where layer i applies RoPE.
template <class M>
constexpr int uses_rope(int i) { return M::layer(i).mixer == cfg::Mixer::no_rope ? 0 : 1; }
/// transformers' no_rope_layers when the key is absent or empty: every 4th layer is NoPE
/// (no_rope_layer_interval, default 4, is not pinned: no released config changes it).
constexpr int hf_default_uses_rope(int i) { return (i + 1) % 4 != 0 ? 1 : 0; }
/// Membership in config.json "moe_layers".
template <class M>
constexpr int is_moe_layer(int i) { return M::layer(i).ffn == cfg::Ffn::moe ? 1 : 0; }
/// transformers' moe_layers when absent: the last layer of every interleave_moe_layer_step.
template <class M>
constexpr int hf_default_is_moe_layer(int i) {
  return i % M::interleave_moe_layer_step == M::interleave_moe_layer_step - 1 ? 1 : 0;
}

/// Fields every Llama 4 description pins. The text model's fields live under "text_config" in
/// the multimodal config.json (at the top level of a text-only one). The per-layer plan is
/// checked through no_rope_layers and moe_layers; layer_types is derived from no_rope_layers by
/// transformers and is not pinned. attn_temperature_tuning is not pinned either: Scout stores it
/// as the number 4 (truthy).
template <class M>
constexpr auto llama4_common_hf_fields() {
  return std::array{
      // Multimodal: {"model_type": "llama4", "text_config": {"model_type": "llama4_text", ...}}.
      // Text-only (Llama4ForCausalLM): "llama4_text" at the top level and no text_config. Every
      // other key below names both spellings ("text_config.X|X").
      cfg::text("model_type", M::hf_model_type),
      M::hf_model_type == std::string_view("llama4")
          ? cfg::text("text_config.model_type", "llama4_text")
          : cfg::null_or_absent("text_config"),
      cfg::number("text_config.hidden_size|hidden_size", M::dims.hidden),
      cfg::number("text_config.vocab_size|vocab_size", M::dims.vocab),
      cfg::number("text_config.num_hidden_layers|num_hidden_layers", M::dims.layers),
      cfg::number("text_config.num_attention_heads|num_attention_heads", M::attention.heads),
      cfg::number("text_config.num_key_value_heads|num_key_value_heads", M::attention.kv_heads),
      cfg::number("text_config.head_dim|head_dim", M::attention.head_dim),
      cfg::flag("text_config.use_qk_norm|use_qk_norm", M::attention.qk_norm == cfg::QkNorm::l2),
      cfg::number("text_config.intermediate_size|intermediate_size", M::expert.intermediate),
      cfg::number("text_config.num_local_experts|num_local_experts", M::router.experts),
      cfg::number("text_config.num_experts_per_tok|num_experts_per_tok", M::router.active),
      cfg::number("text_config.interleave_moe_layer_step|interleave_moe_layer_step", M::interleave_moe_layer_step),
      cfg::layer_values("text_config.no_rope_layers|no_rope_layers", M::dims.layers,
                        &uses_rope<M>, &hf_default_uses_rope),
      cfg::layer_indices("text_config.moe_layers|moe_layers", M::dims.layers, &is_moe_layer<M>,
                         &hf_default_is_moe_layer<M>),
      cfg::number("text_config.attention_chunk_size|attention_chunk_size", M::layer(0).window),
      cfg::number("text_config.rms_norm_eps|rms_norm_eps", M::norm.eps),
      cfg::number("text_config.rope_theta|text_config.rope_parameters.rope_theta|rope_theta|rope_parameters.rope_theta", M::rope.theta),
      cfg::flag("text_config.attention_bias|attention_bias", false),
      cfg::flag("text_config.tie_word_embeddings|tie_word_embeddings", M::tied_embeddings),
  };
}

/// The vision tower's fields (config.json "vision_config" and the image token), for descriptions
/// with one.
template <class M>
constexpr auto llama4_vision_hf_fields() {
  constexpr cfg::Llama4Vision v = M::vision;
  return std::array{
      cfg::text("vision_config.model_type", "llama4_vision_model"),
      cfg::number("vision_config.image_size", v.image_size),
      cfg::number("vision_config.patch_size", v.patch_size),
      cfg::number("vision_config.num_channels", v.channels),
      cfg::number("vision_config.hidden_size", v.hidden),
      cfg::number("vision_config.num_hidden_layers", v.layers),
      cfg::number("vision_config.num_attention_heads", v.heads),
      cfg::number("vision_config.intermediate_size", v.intermediate),
      cfg::number("vision_config.norm_eps", v.norm_eps),
      cfg::number("vision_config.rope_theta|vision_config.rope_parameters.rope_theta", v.rope_theta),
      cfg::number("vision_config.pixel_shuffle_ratio", v.pixel_shuffle_ratio),
      cfg::number("vision_config.projector_input_dim", v.projector_input),
      cfg::number("vision_config.projector_output_dim", v.projector_output),
      cfg::number("vision_config.vision_output_dim", v.vision_output),
      cfg::text("vision_config.hidden_act", "gelu"),
      cfg::flag("vision_config.multi_modal_projector_bias", false),
      cfg::number("image_token_index", v.image_token),
  };
}
/// The text fields, plus the vision fields when the description has a tower.
template <class M, class Fields>
constexpr auto with_vision_fields(const Fields& text) {
  if constexpr (requires { M::vision.image_size; })
    return join_hf_fields(text, llama4_vision_hf_fields<M>());
  else if constexpr (requires { requires M::placeholder_image_size > 0; })  // its fixtures' towers
    return join_hf_fields(text, std::array{cfg::number("vision_config.image_size", M::placeholder_image_size)});
  else
    return text;
}

/// Scout: llama3-scaled RoPE and explicit temperature-tuning values.
template <class M>
constexpr auto llama4_scout_hf_fields() {
  return with_vision_fields<M>(join_hf_fields(llama4_common_hf_fields<M>(), std::array{
      cfg::text("text_config.rope_scaling.rope_type|text_config.rope_parameters.rope_type|rope_scaling.rope_type|rope_parameters.rope_type",
                "llama3"),
      cfg::number("text_config.rope_scaling.factor|text_config.rope_parameters.factor|rope_scaling.factor|rope_parameters.factor",
                  M::rope.factor),
      cfg::number("text_config.rope_scaling.low_freq_factor|text_config.rope_parameters.low_freq_factor|rope_scaling.low_freq_factor|rope_parameters.low_freq_factor",
                  M::rope.low_freq_factor),
      cfg::number("text_config.rope_scaling.high_freq_factor|text_config.rope_parameters.high_freq_factor|rope_scaling.high_freq_factor|rope_parameters.high_freq_factor",
                  M::rope.high_freq_factor),
      cfg::number("text_config.rope_scaling.original_max_position_embeddings|text_config.rope_parameters.original_max_position_embeddings|rope_scaling.original_max_position_embeddings|rope_parameters.original_max_position_embeddings",
                  M::rope.original_context),
      cfg::number("text_config.floor_scale|floor_scale", M::attention.temperature.floor_scale),
      cfg::number("text_config.attn_scale|attn_scale", M::attention.temperature.attn_scale),
  }));
}

/// Maverick: unscaled RoPE and dense layers. floor_scale / attn_scale are not pinned: whether the
/// released config spells them out is unconfirmed, and HF's defaults are the values used.
template <class M>
constexpr auto llama4_maverick_hf_fields() {
  return with_vision_fields<M>(join_hf_fields(llama4_common_hf_fields<M>(), std::array{
      cfg::null_or_absent("text_config.rope_scaling|rope_scaling"),
      cfg::number("text_config.intermediate_size_mlp|intermediate_size_mlp", M::dense_ffn.intermediate),
  }));
}
}  // namespace detail

/// Common to every Llama 4 description; each one below spells its own numbers out.
struct Llama4Family {
  static tokenizer::chat::Llama4Chat chat_format() { return {}; }
  /// How the publisher counts active parameters: Meta counts the embedding as active.
  static constexpr bool active_counts_embedding = true;
  /// The released multimodal checkpoint; its vision tower ("vision_model.",
  /// "multi_modal_projector.") is not loaded (images are not supported yet).
  static constexpr std::string_view hf_architecture = "Llama4ForConditionalGeneration";
  static constexpr std::string_view hf_model_type = "llama4";
  static constexpr cfg::MoeNames moe_names = detail::llama4_moe_names;
  static constexpr cfg::TensorPrefix prefix{
      .model = "language_model.model.", .lm_head = "language_model.lm_head.weight"};
  static constexpr bool tied_embeddings = false;
};

/// The released vision tower of Scout and Maverick (their config.json "vision_config": the same
/// in both; image_token_index 200092 = <|patch|>).
inline constexpr cfg::Llama4Vision llama4_released_vision{
    .image_size = 336, .patch_size = 14, .hidden = 1408, .layers = 34, .heads = 16,
    .intermediate = 5632, .norm_eps = 1e-5f, .rope_theta = 10000.0, .pixel_shuffle_ratio = 0.5f,
    .projector_input = 4096, .projector_output = 4096, .vision_output = 4096, .image_token = 200092};

/// For the text fixtures saved as Llama4ForConditionalGeneration with a placeholder tower that
/// cannot run (its sizes do not chain): the tower's tensors are skipped, and said so. Its tile
/// size (28) is pinned, so that a checkpoint with a real tower (llama4-scout-vision-tiny, the same
/// text model) is not taken for one of these.
struct Llama4PlaceholderTower {
  static constexpr cfg::NoVision vision{};
  static constexpr int placeholder_image_size = 28;
  static constexpr std::array skipped_tensors{
      cfg::SkippedTensors{.prefix = "vision_model.",
                          .reason = "this description has no vision tower (cfg::NoVision); the "
                                    "checkpoint's vision tensors are not loaded",
                          .note = true},
      cfg::SkippedTensors{.prefix = "multi_modal_projector.",
                          .reason = "the vision tower's projection into the text model (not loaded)"},
  };
};

/// Llama-4-Scout-17B-16E(-Instruct).
struct Llama4Scout : Llama4Family {
  static constexpr std::string_view name = "llama4-scout";
  static constexpr cfg::Dims dims{.hidden = 5120, .vocab = 202048, .layers = 48};
  static constexpr cfg::RmsNorm norm{.eps = 1e-5f};
  // An older Scout revision had factor 8 / high_freq_factor 4 (the Llama 3.1 values); Meta's
  // code and the current config say 16 / 1 / 1.
  static constexpr cfg::Llama3Rope rope{
      .theta = 500000.0, .factor = 16.0, .original_context = 8192,
      .low_freq_factor = 1.0, .high_freq_factor = 1.0, .layout = cfg::RopeLayout::interleaved};
  // qk-norm: no weight, eps = rms_norm_eps, after RoPE, RoPE layers only.
  static constexpr cfg::Gqa attention{
      .heads = 40, .kv_heads = 8, .head_dim = 128, .qk_norm = cfg::QkNorm::l2,
      .temperature = {.floor_scale = 8192.0f, .attn_scale = 0.1f}};
  static constexpr cfg::TopK router{
      .experts = 16, .active = 1, .score = cfg::Score::sigmoid, .renormalize = false,
      .weight_input = true};
  static constexpr cfg::SwiGlu expert{.intermediate = 8192};
  static constexpr cfg::SharedExpert shared{.count = 1, .intermediate = 8192};
  // intermediate_size_mlp (16384) is in the config but unused: Scout has no dense layers.
  static constexpr cfg::NoDenseFfn dense_ffn{};
  static constexpr int interleave_moe_layer_step = 1;
  static constexpr cfg::Llama4Vision vision = llama4_released_vision;
  static constexpr cfg::LayerPlan layer(int i) {  // no_rope_layers = [1, 1, 1, 0] x 12
    return i % 4 == 3 ? cfg::LayerPlan{cfg::Mixer::no_rope, cfg::Ffn::moe}
                      : cfg::LayerPlan{cfg::Mixer::chunked, cfg::Ffn::moe, 8192};
  }
  static constexpr auto hf_fields() { return detail::llama4_scout_hf_fields<Llama4Scout>(); }
};

/// Llama-4-Maverick-17B-128E(-Instruct).
struct Llama4Maverick : Llama4Family {
  static constexpr std::string_view name = "llama4-maverick";
  static constexpr cfg::Dims dims{.hidden = 5120, .vocab = 202048, .layers = 48};
  static constexpr cfg::RmsNorm norm{.eps = 1e-5f};
  static constexpr cfg::Rope rope{.theta = 500000.0, .layout = cfg::RopeLayout::interleaved};
  // Temperature tuning: HF's defaults (on, 8192, 0.1); unconfirmed whether the config spells
  // them out.
  static constexpr cfg::Gqa attention{
      .heads = 40, .kv_heads = 8, .head_dim = 128,
      .temperature = {.floor_scale = 8192.0f, .attn_scale = 0.1f}};
  static constexpr cfg::TopK router{
      .experts = 128, .active = 1, .score = cfg::Score::sigmoid, .renormalize = false,
      .weight_input = true};
  static constexpr cfg::SwiGlu expert{.intermediate = 8192};
  static constexpr cfg::SharedExpert shared{.count = 1, .intermediate = 8192};
  static constexpr cfg::SwiGlu dense_ffn{.intermediate = 16384};  // intermediate_size_mlp
  static constexpr int interleave_moe_layer_step = 2;
  static constexpr cfg::Llama4Vision vision = llama4_released_vision;
  // moe_layers = [1, 3, ..., 47]; no_rope_layers defaults to every fourth layer, as in Scout.
  static constexpr cfg::LayerPlan layer(int i) {
    const cfg::Ffn ffn = i % 2 == 1 ? cfg::Ffn::moe : cfg::Ffn::dense;
    return i % 4 == 3 ? cfg::LayerPlan{cfg::Mixer::no_rope, ffn}
                      : cfg::LayerPlan{cfg::Mixer::chunked, ffn, 8192};
  }
  static constexpr auto hf_fields() {
    return detail::llama4_maverick_hf_fields<Llama4Maverick>();
  }
};

/// Tiny twin of Scout for tests: tests/data/models/llama4-scout-tiny. A chunk of 8 and a
/// floor_scale of 8 so that short test prompts cross chunk boundaries and change the NoPE
/// temperature; the llama3 scaling splits head_dim 16's eight frequencies on both sides of
/// the 8192 wavelength.
struct Llama4ScoutTiny : Llama4Family, Llama4PlaceholderTower {
  static constexpr std::string_view name = "llama4-scout-tiny";
  static constexpr cfg::Dims dims{.hidden = 64, .vocab = 512, .layers = 4};
  static constexpr cfg::RmsNorm norm{.eps = 1e-5f};
  static constexpr cfg::Llama3Rope rope{
      .theta = 500000.0, .factor = 16.0, .original_context = 8192,
      .low_freq_factor = 1.0, .high_freq_factor = 1.0, .layout = cfg::RopeLayout::interleaved};
  static constexpr cfg::Gqa attention{
      .heads = 4, .kv_heads = 2, .head_dim = 16, .qk_norm = cfg::QkNorm::l2,
      .temperature = {.floor_scale = 8.0f, .attn_scale = 0.1f}};
  static constexpr cfg::TopK router{
      .experts = 4, .active = 1, .score = cfg::Score::sigmoid, .renormalize = false,
      .weight_input = true};
  static constexpr cfg::SwiGlu expert{.intermediate = 64};
  static constexpr cfg::SharedExpert shared{.count = 1, .intermediate = 64};
  static constexpr cfg::NoDenseFfn dense_ffn{};
  static constexpr int interleave_moe_layer_step = 1;
  static constexpr cfg::LayerPlan layer(int i) {
    return i % 4 == 3 ? cfg::LayerPlan{cfg::Mixer::no_rope, cfg::Ffn::moe}
                      : cfg::LayerPlan{cfg::Mixer::chunked, cfg::Ffn::moe, 8};
  }
  static constexpr auto hf_fields() { return detail::llama4_scout_hf_fields<Llama4ScoutTiny>(); }
};

/// Tiny twin of Maverick for tests: tests/data/models/llama4-maverick-tiny. Dense even layers,
/// MoE odd layers, unscaled RoPE, no qk-norm.
struct Llama4MaverickTiny : Llama4Family, Llama4PlaceholderTower {
  static constexpr std::string_view name = "llama4-maverick-tiny";
  static constexpr cfg::Dims dims{.hidden = 64, .vocab = 512, .layers = 4};
  static constexpr cfg::RmsNorm norm{.eps = 1e-5f};
  static constexpr cfg::Rope rope{.theta = 500000.0, .layout = cfg::RopeLayout::interleaved};
  static constexpr cfg::Gqa attention{
      .heads = 4, .kv_heads = 2, .head_dim = 16,
      .temperature = {.floor_scale = 8.0f, .attn_scale = 0.1f}};
  static constexpr cfg::TopK router{
      .experts = 8, .active = 1, .score = cfg::Score::sigmoid, .renormalize = false,
      .weight_input = true};
  static constexpr cfg::SwiGlu expert{.intermediate = 64};
  static constexpr cfg::SharedExpert shared{.count = 1, .intermediate = 64};
  static constexpr cfg::SwiGlu dense_ffn{.intermediate = 128};
  static constexpr int interleave_moe_layer_step = 2;
  static constexpr cfg::LayerPlan layer(int i) {
    const cfg::Ffn ffn = i % 2 == 1 ? cfg::Ffn::moe : cfg::Ffn::dense;
    return i % 4 == 3 ? cfg::LayerPlan{cfg::Mixer::no_rope, ffn}
                      : cfg::LayerPlan{cfg::Mixer::chunked, ffn, 8};
  }
  static constexpr auto hf_fields() {
    return detail::llama4_maverick_hf_fields<Llama4MaverickTiny>();
  }
};

/// Tiny Scout twin with a vision tower that runs: tests/data/models/llama4-scout-vision-tiny
/// (tools/make_vision_fixture.py). The text model is llama4-scout-tiny's; 56-pixel tiles of 14-pixel
/// patches (16 patches + class token), 2 layers of width 32 (2 heads of 16: 4 frequencies per
/// RoPE axis), 4 tokens per tile; its tokenizer puts Llama 4's special tokens at 496..511.
struct Llama4ScoutVisionTiny : Llama4ScoutTiny {
  static constexpr std::string_view name = "llama4-scout-vision-tiny";
  static constexpr cfg::Llama4Vision vision{
      .image_size = 56, .patch_size = 14, .hidden = 32, .layers = 2, .heads = 2, .intermediate = 128,
      .norm_eps = 1e-5f, .rope_theta = 10000.0, .pixel_shuffle_ratio = 0.5f, .projector_input = 48,
      .projector_output = 48, .vision_output = 48, .image_token = 509};
  static constexpr std::array<cfg::SkippedTensors, 0> skipped_tensors{};
  static constexpr auto hf_fields() { return detail::llama4_scout_hf_fields<Llama4ScoutVisionTiny>(); }
};

/// The text-only checkpoint layout (Llama4ForCausalLM, as transformers saves the text model of a
/// Llama 4 release): the same numbers, tensors under "model." / "lm_head.weight" and the text
/// config at the top level of config.json (model_type "llama4_text", no text_config) and no vision
/// tower. Each text-only description redeclares exactly these members of its multimodal twin.
struct Llama4TextOnlyLayout {
  static constexpr cfg::NoVision vision{};
  static constexpr std::string_view hf_architecture = "Llama4ForCausalLM";
  static constexpr std::string_view hf_model_type = "llama4_text";
  static constexpr cfg::TensorPrefix prefix{};  // "model.", "lm_head.weight"
};

/// Llama-4-Scout-17B-16E, text-only layout.
struct Llama4ScoutText : Llama4Scout {
  static constexpr std::string_view name = "llama4-scout-text";
  static constexpr std::string_view hf_architecture = Llama4TextOnlyLayout::hf_architecture;
  static constexpr std::string_view hf_model_type = Llama4TextOnlyLayout::hf_model_type;
  static constexpr cfg::TensorPrefix prefix = Llama4TextOnlyLayout::prefix;
  static constexpr cfg::NoVision vision = Llama4TextOnlyLayout::vision;
  static constexpr auto hf_fields() { return detail::llama4_scout_hf_fields<Llama4ScoutText>(); }
};

/// Llama-4-Maverick-17B-128E, text-only layout.
struct Llama4MaverickText : Llama4Maverick {
  static constexpr std::string_view name = "llama4-maverick-text";
  static constexpr std::string_view hf_architecture = Llama4TextOnlyLayout::hf_architecture;
  static constexpr std::string_view hf_model_type = Llama4TextOnlyLayout::hf_model_type;
  static constexpr cfg::TensorPrefix prefix = Llama4TextOnlyLayout::prefix;
  static constexpr cfg::NoVision vision = Llama4TextOnlyLayout::vision;
  static constexpr auto hf_fields() {
    return detail::llama4_maverick_hf_fields<Llama4MaverickText>();
  }
};

/// Tiny Scout twin in the text-only layout: tests/data/models/llama4-scout-tiny-text.
struct Llama4ScoutTinyText : Llama4ScoutTiny {
  static constexpr std::string_view name = "llama4-scout-tiny-text";
  static constexpr std::string_view hf_architecture = Llama4TextOnlyLayout::hf_architecture;
  static constexpr std::string_view hf_model_type = Llama4TextOnlyLayout::hf_model_type;
  static constexpr cfg::TensorPrefix prefix = Llama4TextOnlyLayout::prefix;
  static constexpr cfg::NoVision vision = Llama4TextOnlyLayout::vision;
  // Its twin's placeholder tower is not in this layout: nothing to pin or to skip.
  static constexpr int placeholder_image_size = 0;
  static constexpr std::array<cfg::SkippedTensors, 0> skipped_tensors{};
  static constexpr auto hf_fields() {
    return detail::llama4_scout_hf_fields<Llama4ScoutTinyText>();
  }
};

}  // namespace templlm::model
