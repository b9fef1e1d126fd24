// SPDX-License-Identifier: Apache-2.0
/// \file model/qwen2.hpp
/// Dense Qwen2 (HF: Qwen2ForCausalLM): GQA with biases on q/k/v (none on o), no q/k norm,
/// half-split RoPE, SwiGLU. The DeepSeek-R1-Distill-Qwen-* checkpoints are this architecture
/// (design/architectures.md §6).
#pragma once
#include <array>
#include <string_view>

#include "../core/config.hpp"
#include "../tokenizer/chat/deepseek.hpp"
#include "dense.hpp"

namespace templlm::model {

namespace detail {
template <class M>
constexpr auto qwen2_hf_fields() {
  return std::array{
      cfg::text("model_type", "qwen2"),
      cfg::number("hidden_size", M::dims.hidden),
      cfg::number("vocab_size", M::dims.vocab),
      cfg::number("num_hidden_layers", M::dims.layers),
      cfg::number("num_attention_heads", M::attention.heads),
      cfg::number("num_key_value_heads", M::attention.kv_heads),
      cfg::number("intermediate_size", M::dense_ffn.intermediate),
      cfg::number("rms_norm_eps", M::norm.eps),
      cfg::number("rope_theta|rope_parameters.rope_theta", M::rope.theta),
      cfg::flag("use_sliding_window", false),
      cfg::flag("tie_word_embeddings", M::tied_embeddings),
  };
}
}  // namespace detail

struct Qwen2Family : DenseFamily {
  /// The descriptions of this architecture are DeepSeek-R1's distills, which speak R1's format.
  static tokenizer::chat::DeepSeekChat chat_format() { return {.r1 = true}; }
  static constexpr std::string_view hf_architecture = "Qwen2ForCausalLM";
  static constexpr bool tied_embeddings = false;
};

/// DeepSeek-R1-Distill-Qwen-1.5B (config.json verified per §6).
struct DeepSeekR1DistillQwen1_5B : Qwen2Family {
  static constexpr std::string_view name = "deepseek-r1-distill-qwen-1.5b";
  static constexpr cfg::Dims dims{.hidden = 1536, .vocab = 151936, .layers = 28};
  static constexpr cfg::RmsNorm norm{.eps = 1e-6f};
  static constexpr cfg::Rope rope{.theta = 10000.0};
  static constexpr cfg::Gqa attention{.heads = 12, .kv_heads = 2, .head_dim = 128, .qkv_bias = true};
  static constexpr cfg::SwiGlu dense_ffn{.intermediate = 8960};
  static constexpr auto hf_fields() { return detail::qwen2_hf_fields<DeepSeekR1DistillQwen1_5B>(); }
};

/// DeepSeek-R1-Distill-Qwen-7B (Qwen2.5-Math-7B base; values from the base model).
struct DeepSeekR1DistillQwen7B : Qwen2Family {
  static constexpr std::string_view name = "deepseek-r1-distill-qwen-7b";
  static constexpr cfg::Dims dims{.hidden = 3584, .vocab = 152064, .layers = 28};
  static constexpr cfg::RmsNorm norm{.eps = 1e-6f};
  static constexpr cfg::Rope rope{.theta = 10000.0};
  static constexpr cfg::Gqa attention{.heads = 28, .kv_heads = 4, .head_dim = 128, .qkv_bias = true};
  static constexpr cfg::SwiGlu dense_ffn{.intermediate = 18944};
  static constexpr auto hf_fields() { return detail::qwen2_hf_fields<DeepSeekR1DistillQwen7B>(); }
};

/// DeepSeek-R1-Distill-Qwen-14B (Qwen2.5-14B base; eps 1e-5 from the base model, unconfirmed).
struct DeepSeekR1DistillQwen14B : Qwen2Family {
  static constexpr std::string_view name = "deepseek-r1-distill-qwen-14b";
  static constexpr cfg::Dims dims{.hidden = 5120, .vocab = 152064, .layers = 48};
  static constexpr cfg::RmsNorm norm{.eps = 1e-5f};
  static constexpr cfg::Rope rope{.theta = 1e6};
  static constexpr cfg::Gqa attention{.heads = 40, .kv_heads = 8, .head_dim = 128, .qkv_bias = true};
  static constexpr cfg::SwiGlu dense_ffn{.intermediate = 13824};
  static constexpr auto hf_fields() { return detail::qwen2_hf_fields<DeepSeekR1DistillQwen14B>(); }
};

/// DeepSeek-R1-Distill-Qwen-32B (Qwen2.5-32B base; eps 1e-5 from the base model, unconfirmed).
struct DeepSeekR1DistillQwen32B : Qwen2Family {
  static constexpr std::string_view name = "deepseek-r1-distill-qwen-32b";
  static constexpr cfg::Dims dims{.hidden = 5120, .vocab = 152064, .layers = 64};
  static constexpr cfg::RmsNorm norm{.eps = 1e-5f};
  static constexpr cfg::Rope rope{.theta = 1e6};
  static constexpr cfg::Gqa attention{.heads = 40, .kv_heads = 8, .head_dim = 128, .qkv_bias = true};
  static constexpr cfg::SwiGlu dense_ffn{.intermediate = 27648};
  static constexpr auto hf_fields() { return detail::qwen2_hf_fields<DeepSeekR1DistillQwen32B>(); }
};

/// Tiny twin: tests/data/models/qwen2-tiny (tools/fixture_families/distill.py).
struct Qwen2Tiny : Qwen2Family {
  static constexpr std::string_view name = "qwen2-tiny";
  static constexpr cfg::Dims dims{.hidden = 64, .vocab = 512, .layers = 2};
  static constexpr cfg::RmsNorm norm{.eps = 1e-6f};
  static constexpr cfg::Rope rope{.theta = 10000.0};
  static constexpr cfg::Gqa attention{.heads = 4, .kv_heads = 2, .head_dim = 16, .qkv_bias = true};
  static constexpr cfg::SwiGlu dense_ffn{.intermediate = 96};
  static constexpr auto hf_fields() { return detail::qwen2_hf_fields<Qwen2Tiny>(); }
};

}  // namespace templlm::model
