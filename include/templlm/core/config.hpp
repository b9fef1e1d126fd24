// SPDX-License-Identifier: Apache-2.0
/// \file core/config.hpp
/// The component-configuration vocabulary. A model description (model/*.hpp) is a struct whose
/// static constexpr members are values of these types: which *type* a member has selects the
/// implementation (Gqa vs Mla, TopK vs GroupedTopK), its *values* size it. Plain aggregates for
/// designated initializers; each holds only what its own component needs.
#pragma once
#include <string_view>

namespace templlm::cfg {

struct Dims {
  int hidden, vocab, layers;
};

/// RMSNorm: y = w * x * rsqrt(mean(x^2) + eps). The bf16 variants (weight before or after the
/// cast) coincide in fp32; they are kept apart for the bf16 paths.
struct RmsNorm {
  float eps;
  bool weight_in_fp32 = false;  // GPT-OSS multiplies the weight before casting back
};

/// How a head's dims are paired for rotation: (i, i + d/2) or (2i, 2i + 1).
enum class RopeLayout { half_split, interleaved };

struct Rope {  // HF "default"
  double theta;
  RopeLayout layout = RopeLayout::half_split;
};
struct YarnRope {  // HF "yarn"
  double theta, factor;
  int original_context;
  double beta_fast = 32.0, beta_slow = 1.0;
  bool truncate = true;
  double mscale = 0.0, mscale_all_dim = 0.0;  // 0 = absent from config.json
  RopeLayout layout = RopeLayout::half_split;
};
struct Llama3Rope {  // HF "llama3"
  double theta, factor;
  int original_context;
  double low_freq_factor, high_freq_factor;
  RopeLayout layout = RopeLayout::half_split;
};

enum class QkNorm { none, rms, l2 };

/// Llama 4 attention temperature tuning: on layers without RoPE, q is scaled by
/// log1p(floor((pos + 1) / floor_scale)) * attn_scale + 1 at absolute position pos, so long
/// contexts sharpen the softmax there. floor_scale == 0 means off (every other model).
struct TemperatureTuning {
  float floor_scale = 0.0f, attn_scale = 0.0f;
};

/// Grouped-query attention (MHA when kv_heads == heads). head_dim is explicit: heads * head_dim
/// differs from hidden in most of these models.
struct Gqa {
  int heads, kv_heads, head_dim;
  bool qkv_bias = false;
  bool o_bias = false;
  QkNorm qk_norm = QkNorm::none;
  bool sinks = false;  // GPT-OSS: a learned per-head logit in the softmax denominator
  TemperatureTuning temperature = {};  // Llama 4, NoPE layers only
};

/// Multi-head latent attention (DeepSeek-V3).
struct Mla {
  int heads, q_lora_rank, kv_lora_rank, qk_nope_dim, qk_rope_dim, v_head_dim;
  /// The RoPE table's dim: HF sets config.head_dim = qk_rope_head_dim (checked equal in
  /// layers/attention/mla.hpp).
  int head_dim = 0;
};

enum class Score { softmax, sigmoid };

/// Flat top-k routing.
struct TopK {
  int experts, active;
  Score score = Score::softmax;
  bool renormalize = true;        // divide the selected weights by their sum
  bool score_after_topk = false;  // GPT-OSS: softmax over the selected logits only
  bool weight_input = false;      // Llama 4: the score scales the expert *input*
  bool bias = false;              // GPT-OSS: the router linear has a bias
};

/// Node-limited routing (DeepSeek-V3): pick groups, then experts inside them.
struct GroupedTopK {
  int experts, active, groups, groups_active;
  Score score;
  bool renormalize;
  float routed_scale;
  bool correction_bias;  // learned bias added to the scores for selection only
};

/// Gated FFN: down(act(gate(x)) * up(x)). clamp > 0 selects GPT-OSS's clamped variant
/// (gate clamped above, up to +-clamp, (up + 1) * gate * sigmoid(alpha * gate)).
struct SwiGlu {
  int intermediate;
  bool bias = false;
  float clamp = 0.0f, alpha = 1.0f;
};

struct NoSharedExpert {};
struct SharedExpert {
  int count, intermediate;
};
/// For models without dense FFN layers.
struct NoDenseFfn {};
/// router / expert of a dense model.
struct NoMoe {};

enum class Mixer { full, sliding, chunked, no_rope };  // attention flavour of one layer
enum class Ffn { dense, moe };
struct LayerPlan {
  Mixer mixer;
  Ffn ffn;
  int window = 0;  // keys visible to a query (sliding, itself included) or chunk size (chunked)
};

/// A description without an image encoder (the default: a description with no `vision` member
/// has none either). Text-only twins of multimodal releases declare it to drop the tower.
struct NoVision {};

/// Llama 4's vision tower (HF Llama4VisionModel + Llama4MultiModalProjector): square tiles of
/// image_size pixels cut into patch_size patches, a class token appended after the patches, a
/// ViT encoder (LayerNorm with bias, bidirectional attention with a 2-D RoPE over the patch
/// grid, GELU MLP), pixel shuffle (1 / ratio^2 neighbouring patches become one token), an
/// adapter MLP (GELU after both linears) and a projection into the text model's width. The
/// projected features replace the embeddings of `image_token` (<|patch|>) in the prompt.
struct Llama4Vision {
  int image_size, patch_size, channels = 3;
  int hidden, layers, heads, intermediate;
  float norm_eps = 1e-5f;
  double rope_theta = 10000.0;
  float pixel_shuffle_ratio = 0.5f;
  int projector_input, projector_output;  // adapter fc1 [intermediate -> input], fc2 [output -> output]
  int vision_output;                      // multi_modal_projector.linear_1 [vision_output -> text hidden]
  int image_token;                        // config.json image_token_index (<|patch|>)
};

/// Checkpoint tensor-name segments of a family's MoE block ("model.layers.N.<block>.<...>").
/// gate/up/down name the projections of a per-expert checkpoint ("<experts>.{e}.<gate>"), of the
/// shared expert ("<shared>.<gate>") and of dense layers ("<block>.<gate>"). Releases that store
/// all experts of a layer in fused tensors ("<experts>.<fused_gate_up>") name them in
/// fused_gate_up / fused_down; empty means the per-expert layout. How a fused tensor is laid out
/// (orientation, gate/up interleaved or in halves) is the loader's business, per family.
/// How a release stores its routed experts (layers/moe/expert_layout.hpp loads each).
enum class ExpertLayout {
  per_expert,               // "<experts>.{e}.<gate|up|down>.weight", [out, in] (Mixtral, Qwen3, DeepSeek)
  fused_mxfp4_interleaved,  // GPT-OSS: "<experts>.gate_up_proj_{blocks,scales,bias}" [E, 2I, ...],
                            // gate = even rows, up = odd rows; down likewise [E, H, ...]
  fused_in_out_halves,      // Llama 4: "<experts>.gate_up_proj" [E, H, 2I] stored [in, out],
                            // gate = first I columns; "<experts>.down_proj" [E, I, H]
};

struct MoeNames {
  std::string_view block = "mlp", router = "gate", experts = "experts";
  std::string_view gate = "gate_proj", up = "up_proj", down = "down_proj";
  std::string_view shared = "shared_experts";  // DeepSeek's spelling; Llama 4 has "shared_expert"
  std::string_view fused_gate_up = {}, fused_down = {};
  ExpertLayout layout = ExpertLayout::per_expert;
};

/// Checkpoint tensors a description knowingly leaves unread, e.g. Llama 4's vision tower. The
/// loader fails on any unread tensor that no entry excuses; `prefix` matches the start of the
/// name, `reason` says why they are skipped. note = true prints the reason to stderr (once per
/// process and description) when the checkpoint has such tensors, for skips a user should hear
/// about. A description declares `static constexpr std::array skipped_tensors{...}`.
struct SkippedTensors {
  std::string_view prefix, reason;
  bool note = false;
};

/// Where a checkpoint's tensors live: "model." for *ForCausalLM, "language_model.model." for
/// the multimodal Llama 4 files, and whether the output head is a separate tensor.
struct TensorPrefix {
  std::string_view model = "model.";
  std::string_view lm_head = "lm_head.weight";
};

/// One config.json field the description pins. `key` may list alternatives separated by '|'
/// and nested keys with '.', e.g. "rope_theta|rope_parameters.rope_theta".
struct HfField {
  enum class Kind { number, boolean, text, null_or_absent, text_cycle, layer_values, layer_indices };
  /// A per-layer value of the description (layer_values), or nonzero where layer i belongs in
  /// the list (layer_indices).
  using LayerFn = int (*)(int layer);
  std::string_view key;
  Kind kind = Kind::number;
  double number = 0.0;
  std::string_view text = {};
  LayerFn layer = nullptr;
  /// What transformers fills in when the key is absent (or an empty list); nullptr: required.
  LayerFn hf_default = nullptr;
};
constexpr HfField number(std::string_view key, double v) { return {key, HfField::Kind::number, v}; }
constexpr HfField flag(std::string_view key, bool v) {
  return {key, HfField::Kind::boolean, v ? 1.0 : 0.0};
}
constexpr HfField text(std::string_view key, std::string_view v) {
  return {key, HfField::Kind::text, 0.0, v};
}
constexpr HfField null_or_absent(std::string_view key) {
  return {key, HfField::Kind::null_or_absent};
}
/// An array of `count` strings repeating the ','-separated `cycle` (config.json "layer_types":
/// text_cycle("layer_types", "sliding_attention,full_attention", 36)).
constexpr HfField text_cycle(std::string_view key, std::string_view cycle, int count) {
  return {key, HfField::Kind::text_cycle, double(count), cycle};
}
/// An array of `layers` numbers, entry i == value(i) (Llama 4 "no_rope_layers": 1 = RoPE).
constexpr HfField layer_values(std::string_view key, int layers, HfField::LayerFn value,
                               HfField::LayerFn hf_default = nullptr) {
  return {key, HfField::Kind::layer_values, double(layers), {}, value, hf_default};
}
/// An ascending array of the layer indices i < layers where member(i) != 0 (Llama 4
/// "moe_layers").
constexpr HfField layer_indices(std::string_view key, int layers, HfField::LayerFn member,
                                HfField::LayerFn hf_default = nullptr) {
  return {key, HfField::Kind::layer_indices, double(layers), {}, member, hf_default};
}

}  // namespace templlm::cfg
