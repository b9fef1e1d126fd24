// SPDX-License-Identifier: Apache-2.0
/// \file model/llama3.hpp
/// Dense Llama 3.1 (HF: LlamaForCausalLM): GQA without biases, half-split RoPE with llama3
/// frequency scaling, SwiGLU. The DeepSeek-R1-Distill-Llama-* checkpoints are this architecture
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
constexpr auto llama3_hf_fields() {
  return std::array{
      cfg::text("model_type", "llama"),
      cfg::number("hidden_size", M::dims.hidden),
      cfg::number("vocab_size", M::dims.vocab),
      cfg::number("num_hidden_layers", M::dims.layers),
      cfg::number("num_attention_heads", M::attention.heads),
      cfg::number("num_key_value_heads", M::attention.kv_heads),
      cfg::number("intermediate_size", M::dense_ffn.intermediate),
      cfg::number("rms_norm_eps", M::norm.eps),
      cfg::number("rope_theta|rope_parameters.rope_theta", M::rope.theta),
      cfg::text("rope_parameters.rope_type|rope_scaling.rope_type", "llama3"),
      cfg::number("rope_parameters.factor|rope_scaling.factor", M::rope.factor),
      cfg::number("rope_parameters.low_freq_factor|rope_scaling.low_freq_factor", M::rope.low_freq_factor),
      cfg::number("rope_parameters.high_freq_factor|rope_scaling.high_freq_factor", M::rope.high_freq_factor),
      cfg::number("rope_scaling.original_max_position_embeddings|"
                  "rope_parameters.original_max_position_embeddings",
                  M::rope.original_context),
      cfg::flag("attention_bias", false),
      cfg::flag("mlp_bias", false),
      cfg::flag("tie_word_embeddings", M::tied_embeddings),
  };
}
}  // namespace detail

struct Llama3Family : DenseFamily {
  /// The descriptions of this architecture are DeepSeek-R1's distills, which speak R1's format.
  static tokenizer::chat::DeepSeekChat chat_format() { return {.r1 = true}; }
  static constexpr std::string_view hf_architecture = "LlamaForCausalLM";
  static constexpr bool tied_embeddings = false;
  static constexpr cfg::RmsNorm norm{.eps = 1e-5f};
};

/// DeepSeek-R1-Distill-Llama-8B (Llama-3.1-8B base).
struct DeepSeekR1DistillLlama8B : Llama3Family {
  static constexpr std::string_view name = "deepseek-r1-distill-llama-8b";
  static constexpr cfg::Dims dims{.hidden = 4096, .vocab = 128256, .layers = 32};
  static constexpr cfg::Llama3Rope rope{.theta = 500000.0, .factor = 8.0, .original_context = 8192,
                                        .low_freq_factor = 1.0, .high_freq_factor = 4.0};
  static constexpr cfg::Gqa attention{.heads = 32, .kv_heads = 8, .head_dim = 128};
  static constexpr cfg::SwiGlu dense_ffn{.intermediate = 14336};
  static constexpr auto hf_fields() { return detail::llama3_hf_fields<DeepSeekR1DistillLlama8B>(); }
};

/// DeepSeek-R1-Distill-Llama-70B (Llama-3.3-70B-Instruct base).
struct DeepSeekR1DistillLlama70B : Llama3Family {
  static constexpr std::string_view name = "deepseek-r1-distill-llama-70b";
  static constexpr cfg::Dims dims{.hidden = 8192, .vocab = 128256, .layers = 80};
  static constexpr cfg::Llama3Rope rope{.theta = 500000.0, .factor = 8.0, .original_context = 8192,
                                        .low_freq_factor = 1.0, .high_freq_factor = 4.0};
  static constexpr cfg::Gqa attention{.heads = 64, .kv_heads = 8, .head_dim = 128};
  static constexpr cfg::SwiGlu dense_ffn{.intermediate = 28672};
  static constexpr auto hf_fields() { return detail::llama3_hf_fields<DeepSeekR1DistillLlama70B>(); }
};

/// Tiny twin: tests/data/models/llama3-tiny. original_context 32 so that the llama3 scaling
/// changes low, medium (smoothed) and high frequencies alike at head_dim 16.
struct Llama3Tiny : Llama3Family {
  static constexpr std::string_view name = "llama3-tiny";
  static constexpr cfg::Dims dims{.hidden = 64, .vocab = 512, .layers = 2};
  static constexpr cfg::Llama3Rope rope{.theta = 500000.0, .factor = 8.0, .original_context = 32,
                                        .low_freq_factor = 1.0, .high_freq_factor = 4.0};
  static constexpr cfg::Gqa attention{.heads = 4, .kv_heads = 2, .head_dim = 16};
  static constexpr cfg::SwiGlu dense_ffn{.intermediate = 96};
  static constexpr auto hf_fields() { return detail::llama3_hf_fields<Llama3Tiny>(); }
};

}  // namespace templlm::model
