// SPDX-License-Identifier: Apache-2.0
/// \file qwen2_moe.hpp
/// Qwen2-MoE (HF Qwen2MoeForCausalLM; Qwen1.5-MoE-A2.7B, Qwen2-57B-A14B) described outside the
/// library: Qwen2's attention (q/k/v biases, no q/k norm), softmax top-k without renormalising,
/// SwiGLU experts, and the gated shared expert of gated_shared_expert.hpp. Only the tiny twin of
/// tests/data/models/qwen2-moe-tiny (tools/fixture_families/qwen2_moe.py) is spelled out here.
#pragma once
#include <array>
#include <string_view>

#include "gated_shared_expert.hpp"

namespace my {

namespace cfg = templlm::cfg;

struct Qwen2MoeTiny {
  static constexpr std::string_view name = "qwen2-moe-tiny";
  static constexpr std::string_view hf_architecture = "Qwen2MoeForCausalLM";
  static constexpr bool active_counts_embedding = true;
  static constexpr cfg::Dims dims{.hidden = 64, .vocab = 512, .layers = 2};
  static constexpr cfg::RmsNorm norm{.eps = 1e-6f};
  static constexpr cfg::Rope rope{.theta = 10000.0};
  static constexpr cfg::Gqa attention{.heads = 4, .kv_heads = 2, .head_dim = 16, .qkv_bias = true};
  static constexpr cfg::TopK router{.experts = 4, .active = 2, .renormalize = false};
  static constexpr cfg::SwiGlu expert{.intermediate = 32};
  static constexpr GatedSharedExpert shared{.intermediate = 80};
  static constexpr cfg::NoDenseFfn dense_ffn{};
  static constexpr cfg::MoeNames moe_names{.shared = "shared_expert"};
  static constexpr cfg::TensorPrefix prefix{};
  static constexpr bool tied_embeddings = false;
  static constexpr cfg::LayerPlan layer(int) { return {cfg::Mixer::full, cfg::Ffn::moe}; }
  static constexpr auto hf_fields() {
    return std::array{
        cfg::text("model_type", "qwen2_moe"),
        cfg::number("hidden_size", dims.hidden),
        cfg::number("vocab_size", dims.vocab),
        cfg::number("num_hidden_layers", dims.layers),
        cfg::number("num_attention_heads", attention.heads),
        cfg::number("num_key_value_heads", attention.kv_heads),
        cfg::number("moe_intermediate_size", expert.intermediate),
        cfg::number("shared_expert_intermediate_size", shared.intermediate),
        cfg::number("num_experts", router.experts),
        cfg::number("num_experts_per_tok", router.active),
        cfg::flag("norm_topk_prob", router.renormalize),
        cfg::number("decoder_sparse_step", 1),
        cfg::number("rms_norm_eps", norm.eps),
        cfg::number("rope_theta|rope_parameters.rope_theta", rope.theta),
        cfg::flag("qkv_bias", attention.qkv_bias),
        cfg::flag("use_sliding_window", false),
        cfg::flag("tie_word_embeddings", tied_embeddings),
    };
  }
};

}  // namespace my
