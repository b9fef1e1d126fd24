// SPDX-License-Identifier: Apache-2.0
/// \file tests/unit/model/params_test.cpp
/// The model descriptions against their publishers: parameter counts (also static_asserted in
/// model/all.hpp; checked here at run time so a failure prints the numbers), layer plans, and
/// the config.json fields a description pins.
#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>

#include "templlm/model/all.hpp"

namespace {

using namespace templlm;
using namespace templlm::model;

/// Whether a publisher's "active" figure includes the input embedding (see model/all.hpp).
enum class Active { with_embedding, without_embedding };

template <class M>
void expect_published(double total, double active, Active convention) {
  SCOPED_TRACE(std::string(M::name));
  constexpr ParamCount c = param_count<M>();
  EXPECT_EQ(M::active_counts_embedding, convention == Active::with_embedding);
  const double counted_active = double(c.active);  // already follows the publisher's convention
  EXPECT_NEAR(double(c.total), total, 0.02 * total);
  EXPECT_NEAR(counted_active, active, 0.02 * active);
}

TEST(ParamCount, GptOssMatchesOpenAi) {
  expect_published<GptOss120B>(116.8e9, 5.1e9, Active::without_embedding);
  expect_published<GptOss20B>(20.9e9, 3.6e9, Active::without_embedding);
}

TEST(ParamCount, DeepSeekV3MatchesDeepSeek) {
  // 671B excludes the multi-token-prediction layer, which dims.layers leaves out too.
  expect_published<DeepSeekV3>(671e9, 37e9, Active::without_embedding);
  static_assert(std::is_same_v<DeepSeekR1, DeepSeekV3>);
}

TEST(ParamCount, Qwen3MoeMatchesQwen) {
  expect_published<Qwen3_235B_A22B>(235e9, 22e9, Active::with_embedding);
  expect_published<Qwen3_30B_A3B>(30.5e9, 3.3e9, Active::with_embedding);
}

TEST(ParamCount, Llama4MatchesMeta) {
  // Meta's totals include the vision tower (0.87B), which the descriptions count.
  expect_published<Llama4Scout>(109e9, 17e9, Active::with_embedding);
  expect_published<Llama4Maverick>(400e9, 17e9, Active::with_embedding);
  EXPECT_EQ(param_count<Llama4Scout>().vision, 871'932'416);  // the sum of §4.4's shapes
  EXPECT_EQ(param_count<Llama4Scout>().vision, param_count<Llama4Maverick>().vision);
  EXPECT_EQ(param_count<Llama4Scout>().total - param_count<Llama4ScoutText>().total, 871'932'416);
  EXPECT_EQ(param_count<Llama4ScoutText>().vision, 0);
}

TEST(ParamCount, MixtralMatchesMistral) {
  expect_published<Mixtral8x22B>(141e9, 39e9, Active::with_embedding);
  expect_published<Mixtral8x7B>(46.7e9, 12.9e9, Active::with_embedding);
}

TEST(ParamCount, EmbeddingAndHeadAreReportedSeparately) {
  constexpr ParamCount gpt = param_count<GptOss120B>();
  EXPECT_EQ(gpt.embedding, std::int64_t{201088} * 2880);
  EXPECT_EQ(gpt.output_head, std::int64_t{201088} * 2880);  // untied
  EXPECT_EQ(param_count<Qwen3_0_6B>().output_head, 0);     // tied
}

// Exact counts of two tiny twins, worked out by hand, so a change in params.hpp that the 2%
// tolerance would hide still shows.
TEST(ParamCount, GptOssTinyExact) {
  // Per layer: 2 norms 128; attention q 64x64 + k,v 2x64x32 + o 64x64 = 12288, biases
  // 64 + 2x32 + 64 = 192, sinks 4 -> 12484; router 8x64 + 8 = 520; one expert
  // 3x64x64 + gate_up bias 128 + down bias 64 = 12480. Outside the layers: embedding and head
  // 2x512x64 + final norm 64 = 65600.
  constexpr ParamCount c = param_count<GptOssTiny>();
  EXPECT_EQ(c.total, 65600 + 4 * (128 + 12484 + 520 + 8 * 12480));
  // OpenAI's convention: the active count leaves out the 512x64 input embedding.
  EXPECT_EQ(c.active, 65600 - 512 * 64 + 4 * (128 + 12484 + 520 + 4 * 12480));
}

TEST(ParamCount, DeepSeekV3TinyExact) {
  // MLA: q_a 64x48 + q_a_layernorm 48 + q_b 48x(4x24) = 7728; kv_a 64x(32+8) +
  // kv_a_layernorm 32 + kv_b 32x(4x(16+16)) = 6688; o 4x16x64 = 4096 -> 18512.
  // Dense layer 0: 3x64x160 = 30720 (160: one full and one partial 128-block of FP8 scales).
  // MoE layers 1-3: router 16x64 + correction bias 16 = 1040,
  // shared 3x64x32 = 6144, one expert 6144.
  constexpr ParamCount c = param_count<DeepSeekV3Tiny>();
  EXPECT_EQ(c.total, 65600 + (128 + 18512 + 30720) + 3 * (128 + 18512 + 1040 + 6144 + 16 * 6144));
  EXPECT_EQ(c.active,  // without the input embedding, as DeepSeek counts
            65600 - 512 * 64 + (128 + 18512 + 30720) + 3 * (128 + 18512 + 1040 + 6144 + 4 * 6144));
}

TEST(LayerPlan, GptOssEvenLayersSlideOver128Keys) {
  for (int i = 0; i < GptOss120B::dims.layers; ++i) {
    const cfg::LayerPlan p = GptOss120B::layer(i);
    EXPECT_EQ(p.ffn, cfg::Ffn::moe) << i;
    if (i % 2 == 0) {
      EXPECT_EQ(p.mixer, cfg::Mixer::sliding) << i;
      EXPECT_EQ(p.window, 128) << i;
    } else {
      EXPECT_EQ(p.mixer, cfg::Mixer::full) << i;
    }
  }
  EXPECT_EQ(GptOss20B::layer(22).mixer, cfg::Mixer::sliding);
  EXPECT_EQ(GptOss20B::layer(23).mixer, cfg::Mixer::full);
  EXPECT_EQ(GptOssTiny::layer(0).window, 8);
  EXPECT_EQ(GptOssTiny::layer(3).mixer, cfg::Mixer::full);
}

TEST(LayerPlan, DeepSeekV3FirstThreeLayersDense) {
  for (int i = 0; i < DeepSeekV3::dims.layers; ++i) {
    EXPECT_EQ(DeepSeekV3::layer(i).mixer, cfg::Mixer::full) << i;
    EXPECT_EQ(DeepSeekV3::layer(i).ffn, i < 3 ? cfg::Ffn::dense : cfg::Ffn::moe) << i;
  }
  EXPECT_EQ(DeepSeekV3::dims.layers, 61);  // the MTP layer 61 is not a decoder layer here
  EXPECT_EQ(DeepSeekV3Tiny::layer(0).ffn, cfg::Ffn::dense);
  EXPECT_EQ(DeepSeekV3Tiny::layer(1).ffn, cfg::Ffn::moe);
}

TEST(LayerPlan, Llama4NoRopeEveryFourthLayer) {
  for (int i = 0; i < Llama4Scout::dims.layers; ++i) {
    for (const cfg::LayerPlan p : {Llama4Scout::layer(i), Llama4Maverick::layer(i)}) {
      if (i % 4 == 3) {
        EXPECT_EQ(p.mixer, cfg::Mixer::no_rope) << i;
        EXPECT_EQ(p.window, 0) << i;
      } else {
        EXPECT_EQ(p.mixer, cfg::Mixer::chunked) << i;
        EXPECT_EQ(p.window, 8192) << i;
      }
    }
    EXPECT_EQ(Llama4Scout::layer(i).ffn, cfg::Ffn::moe) << i;
    EXPECT_EQ(Llama4Maverick::layer(i).ffn, i % 2 == 1 ? cfg::Ffn::moe : cfg::Ffn::dense) << i;
  }
  EXPECT_EQ(Llama4ScoutTiny::layer(3).mixer, cfg::Mixer::no_rope);
  EXPECT_EQ(Llama4ScoutTiny::layer(2).window, 8);
  EXPECT_EQ(Llama4MaverickTiny::layer(0).ffn, cfg::Ffn::dense);
  EXPECT_EQ(Llama4MaverickTiny::layer(3).ffn, cfg::Ffn::moe);
}

/// The pinned field with exactly this key; fails the test when absent.
template <class M>
cfg::HfField field(std::string_view key) {
  for (const cfg::HfField& f : M::hf_fields())
    if (f.key == key) return f;
  ADD_FAILURE() << M::name << " pins no field " << key;
  return {};
}

TEST(HfFields, GptOss120B) {
  using K = cfg::HfField::Kind;
  EXPECT_EQ(field<GptOss120B>("model_type").text, "gpt_oss");
  EXPECT_EQ(field<GptOss120B>("hidden_size").number, 2880);
  EXPECT_EQ(field<GptOss120B>("num_local_experts").number, 128);
  EXPECT_EQ(field<GptOss120B>("num_experts_per_tok|experts_per_token").number, 4);
  EXPECT_EQ(field<GptOss120B>("sliding_window").number, 128);
  EXPECT_EQ(field<GptOss120B>("swiglu_limit").number, 7.0);
  EXPECT_EQ(field<GptOss120B>("rope_theta|rope_parameters.rope_theta").number, 150000);
  EXPECT_EQ(field<GptOss120B>("rope_scaling.factor|rope_parameters.factor").number, 32);
  const cfg::HfField truncate =
      field<GptOss120B>("rope_scaling.truncate|rope_parameters.truncate");
  EXPECT_EQ(truncate.kind, K::boolean);
  EXPECT_EQ(truncate.number, 0.0);
  EXPECT_EQ(field<GptOss120B>("attention_bias").number, 1.0);
  EXPECT_EQ(field<GptOss120B>("tie_word_embeddings").number, 0.0);
  EXPECT_EQ(field<GptOss20B>("num_local_experts").number, 32);
  EXPECT_EQ(field<GptOss20B>("num_hidden_layers").number, 24);
}

TEST(HfFields, DeepSeekV3) {
  EXPECT_EQ(field<DeepSeekV3>("model_type").text, "deepseek_v3");
  EXPECT_EQ(field<DeepSeekV3>("q_lora_rank").number, 1536);
  EXPECT_EQ(field<DeepSeekV3>("kv_lora_rank").number, 512);
  EXPECT_EQ(field<DeepSeekV3>("n_group").number, 8);
  EXPECT_EQ(field<DeepSeekV3>("topk_group").number, 4);
  EXPECT_EQ(field<DeepSeekV3>("routed_scaling_factor").number, 2.5);
  EXPECT_EQ(field<DeepSeekV3>("first_k_dense_replace").number, 3);
  EXPECT_EQ(field<DeepSeekV3>("scoring_func").text, "sigmoid");
  EXPECT_EQ(field<DeepSeekV3>("topk_method").text, "noaux_tc");
  EXPECT_EQ(field<DeepSeekV3>("intermediate_size").number, 18432);
  EXPECT_EQ(field<DeepSeekV3>("moe_intermediate_size").number, 2048);
  EXPECT_EQ(field<DeepSeekV3>("rope_scaling.mscale_all_dim|rope_parameters.mscale_all_dim")
                .number,
            1.0);
}

TEST(HfFields, Llama4) {
  using K = cfg::HfField::Kind;
  // Every text field names both spellings: under text_config (multimodal) and at the top level
  // (text-only Llama4ForCausalLM).
  EXPECT_EQ(field<Llama4Scout>("model_type").text, "llama4");
  EXPECT_EQ(field<Llama4Scout>("text_config.model_type").text, "llama4_text");
  EXPECT_EQ(field<Llama4Scout>("text_config.num_local_experts|num_local_experts").number, 16);
  EXPECT_EQ(field<Llama4Scout>("text_config.attention_chunk_size|attention_chunk_size").number,
            8192);
  EXPECT_EQ(field<Llama4Scout>("text_config.use_qk_norm|use_qk_norm").number, 1.0);
  EXPECT_EQ(field<Llama4Scout>("text_config.floor_scale|floor_scale").number, 8192);
  EXPECT_EQ(field<Llama4Scout>("text_config.rope_scaling.rope_type|"
                               "text_config.rope_parameters.rope_type|rope_scaling.rope_type|"
                               "rope_parameters.rope_type")
                .text,
            "llama3");
  EXPECT_EQ(field<Llama4Maverick>("text_config.num_local_experts|num_local_experts").number, 128);
  EXPECT_EQ(field<Llama4Maverick>("text_config.use_qk_norm|use_qk_norm").number, 0.0);
  EXPECT_EQ(
      field<Llama4Maverick>("text_config.interleave_moe_layer_step|interleave_moe_layer_step")
          .number,
      2);
  EXPECT_EQ(field<Llama4Maverick>("text_config.intermediate_size_mlp|intermediate_size_mlp").number,
            16384);
  EXPECT_EQ(field<Llama4Maverick>("text_config.rope_scaling|rope_scaling").kind, K::null_or_absent);
  EXPECT_EQ(field<Llama4ScoutText>("model_type").text, "llama4_text");
  EXPECT_EQ(field<Llama4ScoutText>("text_config").kind, K::null_or_absent);
  EXPECT_EQ(Llama4ScoutText::hf_architecture, "Llama4ForCausalLM");
  EXPECT_EQ(Llama4MaverickText::prefix.model, "model.");
}

TEST(Registry, NamesAndPinnedKeysAreUnique) {
  std::set<std::string_view> names;
  const auto check = [&]<ModelDescription M>() {
    EXPECT_TRUE(names.insert(M::name).second) << "duplicate name " << M::name;
    std::set<std::string_view> keys;
    for (const cfg::HfField& f : M::hf_fields())
      EXPECT_TRUE(keys.insert(f.key).second) << M::name << " pins " << f.key << " twice";
  };
  for_each_type(AllModels{}, check);
  for_each_type(DenseModels{}, check);
  for_each_type(TinyModels{}, check);
  EXPECT_EQ(names.size(), 11u + 6u + 9u);
  EXPECT_TRUE(names.contains("gpt-oss-120b"));
  EXPECT_TRUE(names.contains("llama4-maverick"));
}

TEST(Names, Llama4ReadsTheMultimodalCheckpoint) {
  EXPECT_EQ(Llama4Scout::prefix.model, "language_model.model.");
  EXPECT_EQ(Llama4Scout::prefix.lm_head, "language_model.lm_head.weight");
  EXPECT_EQ(Llama4Scout::moe_names.block, "feed_forward");
  EXPECT_EQ(Llama4Scout::moe_names.shared, "shared_expert");
  EXPECT_EQ(Llama4Scout::moe_names.fused_gate_up, "gate_up_proj");
  EXPECT_EQ(GptOss120B::moe_names.router, "router");
  EXPECT_EQ(GptOss120B::moe_names.fused_down, "down_proj");
  EXPECT_EQ(DeepSeekV3::moe_names.shared, "shared_experts");
  EXPECT_TRUE(DeepSeekV3::moe_names.fused_gate_up.empty());
}

}  // namespace
