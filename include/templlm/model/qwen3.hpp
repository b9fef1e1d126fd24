// SPDX-License-Identifier: Apache-2.0
/// \file model/qwen3.hpp
/// Dense Qwen3 (HF: Qwen3ForCausalLM): the Qwen3-MoE attention (per-head q/k RMSNorm before
/// half-split RoPE, no biases) with a dense SwiGLU MLP in every layer. The small sizes tie the
/// output head to the embedding. Values from the published config.json files.
#pragma once
#include <array>
#include <string_view>

#include "../core/config.hpp"
#include "../tokenizer/chat/qwen3.hpp"
#include "dense.hpp"

namespace templlm::model {

namespace detail {
template <class M>
constexpr auto qwen3_hf_fields() {
  return std::array{
      cfg::text("model_type", "qwen3"),
      cfg::number("hidden_size", M::dims.hidden),
      cfg::number("vocab_size", M::dims.vocab),
      cfg::number("num_hidden_layers", M::dims.layers),
      cfg::number("num_attention_heads", M::attention.heads),
      cfg::number("num_key_value_heads", M::attention.kv_heads),
      cfg::number("head_dim", M::attention.head_dim),
      cfg::number("intermediate_size", M::dense_ffn.intermediate),
      cfg::number("rms_norm_eps", M::norm.eps),
      cfg::number("rope_theta|rope_parameters.rope_theta", M::rope.theta),
      cfg::flag("attention_bias", M::attention.qkv_bias),
      cfg::flag("use_sliding_window", false),
      cfg::flag("tie_word_embeddings", M::tied_embeddings),
  };
}
}  // namespace detail

struct Qwen3Family : DenseFamily {
  static tokenizer::chat::Qwen3Chat chat_format() { return {}; }
  static constexpr std::string_view hf_architecture = "Qwen3ForCausalLM";
  static constexpr cfg::RmsNorm norm{.eps = 1e-6f};
  static constexpr cfg::Rope rope{.theta = 1e6};
};


struct Qwen3_0_6B : Qwen3Family {
  static constexpr std::string_view name = "qwen3-0.6b";
  static constexpr cfg::Dims dims{.hidden = 1024, .vocab = 151936, .layers = 28};
  static constexpr cfg::Gqa attention{
      .heads = 16, .kv_heads = 8, .head_dim = 128, .qk_norm = cfg::QkNorm::rms};
  static constexpr cfg::SwiGlu dense_ffn{.intermediate = 3072};
  static constexpr bool tied_embeddings = true;
  static constexpr auto hf_fields() { return detail::qwen3_hf_fields<Qwen3_0_6B>(); }
};

struct Qwen3_1_7B : Qwen3Family {
  static constexpr std::string_view name = "qwen3-1.7b";
  static constexpr cfg::Dims dims{.hidden = 2048, .vocab = 151936, .layers = 28};
  static constexpr cfg::Gqa attention{
      .heads = 16, .kv_heads = 8, .head_dim = 128, .qk_norm = cfg::QkNorm::rms};
  static constexpr cfg::SwiGlu dense_ffn{.intermediate = 6144};
  static constexpr bool tied_embeddings = true;
  static constexpr auto hf_fields() { return detail::qwen3_hf_fields<Qwen3_1_7B>(); }
};

struct Qwen3_4B : Qwen3Family {
  static constexpr std::string_view name = "qwen3-4b";
  static constexpr cfg::Dims dims{.hidden = 2560, .vocab = 151936, .layers = 36};
  static constexpr cfg::Gqa attention{
      .heads = 32, .kv_heads = 8, .head_dim = 128, .qk_norm = cfg::QkNorm::rms};
  static constexpr cfg::SwiGlu dense_ffn{.intermediate = 9728};
  static constexpr bool tied_embeddings = true;
  static constexpr auto hf_fields() { return detail::qwen3_hf_fields<Qwen3_4B>(); }
};

struct Qwen3_8B : Qwen3Family {
  static constexpr std::string_view name = "qwen3-8b";
  static constexpr cfg::Dims dims{.hidden = 4096, .vocab = 151936, .layers = 36};
  static constexpr cfg::Gqa attention{
      .heads = 32, .kv_heads = 8, .head_dim = 128, .qk_norm = cfg::QkNorm::rms};
  static constexpr cfg::SwiGlu dense_ffn{.intermediate = 12288};
  static constexpr bool tied_embeddings = false;
  static constexpr auto hf_fields() { return detail::qwen3_hf_fields<Qwen3_8B>(); }
};

struct Qwen3_14B : Qwen3Family {
  static constexpr std::string_view name = "qwen3-14b";
  static constexpr cfg::Dims dims{.hidden = 5120, .vocab = 151936, .layers = 40};
  static constexpr cfg::Gqa attention{
      .heads = 40, .kv_heads = 8, .head_dim = 128, .qk_norm = cfg::QkNorm::rms};
  static constexpr cfg::SwiGlu dense_ffn{.intermediate = 17408};
  static constexpr bool tied_embeddings = false;
  static constexpr auto hf_fields() { return detail::qwen3_hf_fields<Qwen3_14B>(); }
};

struct Qwen3_32B : Qwen3Family {
  static constexpr std::string_view name = "qwen3-32b";
  static constexpr cfg::Dims dims{.hidden = 5120, .vocab = 151936, .layers = 64};
  static constexpr cfg::Gqa attention{
      .heads = 64, .kv_heads = 8, .head_dim = 128, .qk_norm = cfg::QkNorm::rms};
  static constexpr cfg::SwiGlu dense_ffn{.intermediate = 25600};
  static constexpr bool tied_embeddings = false;
  static constexpr auto hf_fields() { return detail::qwen3_hf_fields<Qwen3_32B>(); }
};

/// Tiny twin for tests: tests/data/models/qwen3-tiny (tied embeddings, like the small sizes).
struct Qwen3Tiny : Qwen3Family {
  static constexpr std::string_view name = "qwen3-tiny";
  static constexpr cfg::Dims dims{.hidden = 64, .vocab = 512, .layers = 2};
  static constexpr cfg::Rope rope{.theta = 10000.0};
  static constexpr cfg::Gqa attention{
      .heads = 4, .kv_heads = 2, .head_dim = 32, .qk_norm = cfg::QkNorm::rms};
  static constexpr cfg::SwiGlu dense_ffn{.intermediate = 96};
  static constexpr bool tied_embeddings = true;
  static constexpr auto hf_fields() { return detail::qwen3_hf_fields<Qwen3Tiny>(); }
};

/// The embedded demo model (models/demo, trained by tools/train_demo.py on the King James Bible):
/// a 1M-parameter dense Qwen3 with a 2048-token byte-level BPE tokenizer.
struct TemplDemo : Qwen3Family {
  static constexpr std::string_view name = "templlm-demo";
  static constexpr cfg::Dims dims{.hidden = 128, .vocab = 2048, .layers = 4};
  static constexpr cfg::Rope rope{.theta = 10000.0};
  static constexpr cfg::Gqa attention{
      .heads = 4, .kv_heads = 2, .head_dim = 32, .qk_norm = cfg::QkNorm::rms};
  static constexpr cfg::SwiGlu dense_ffn{.intermediate = 384};
  static constexpr bool tied_embeddings = true;
  static constexpr auto hf_fields() { return detail::qwen3_hf_fields<TemplDemo>(); }
};

}  // namespace templlm::model
