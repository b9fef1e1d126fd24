// SPDX-License-Identifier: Apache-2.0
// HfConfig: loading errors, key lookup ('|' alternatives, '.' nesting, Llama 4's text_config),
// the field diff with its tolerance and transformers defaults, and the ConfigMismatch text.
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <templlm/io/hf_config.hpp>
#include <templlm/model/qwen3_moe.hpp>
#include <vector>

#include "expect_error.hpp"
#include "safetensors_writer.hpp"

namespace {

namespace cfg = templlm::cfg;
using templlm::ConfigMismatch;
using templlm::FormatError;
using templlm::IoError;
using templlm::io::FieldDiff;
using templlm::io::HfConfig;
using namespace templlm::test;

/// The published Qwen3-30B-A3B config.json, trimmed to what the description pins.
constexpr const char* qwen3_30b_a3b = R"({
  "architectures": ["Qwen3MoeForCausalLM"],
  "attention_bias": false,
  "decoder_sparse_step": 1,
  "head_dim": 128,
  "hidden_size": 2048,
  "model_type": "qwen3_moe",
  "moe_intermediate_size": 768,
  "norm_topk_prob": true,
  "num_attention_heads": 32,
  "num_experts": 128,
  "num_experts_per_tok": 8,
  "num_hidden_layers": 48,
  "num_key_value_heads": 4,
  "rms_norm_eps": 1e-06,
  "rope_theta": 1000000.0,
  "sliding_window": null,
  "tie_word_embeddings": false,
  "use_sliding_window": false,
  "vocab_size": 151936
})";

HfConfig parse(const std::string& text) { return HfConfig::parse(text, "/models/x/config.json"); }

// ---- loading --------------------------------------------------------------------------------

TEST(HfConfig, LoadsFromDirectoryOrFile) {
  TempDir dir;
  write_text(dir / "config.json", qwen3_30b_a3b);
  EXPECT_EQ(HfConfig::load(dir.path()).architecture(), "Qwen3MoeForCausalLM");
  const HfConfig hf = HfConfig::load(dir / "config.json");
  EXPECT_EQ(hf.path(), dir / "config.json");
  EXPECT_EQ(hf.json().at("hidden_size"), 2048);
}

TEST(HfConfig, MissingConfig) {
  TempDir dir;
  expect_error<IoError>([&] { (void)HfConfig::load(dir.path()); },
                        {(dir / "config.json").string(), "No such file"});
}

TEST(HfConfig, MalformedConfig) {
  TempDir dir;
  write_text(dir / "config.json", R"({"hidden_size": 2048,, "x": 1})");
  expect_error<FormatError>([&] { (void)HfConfig::load(dir.path()); },
                            {(dir / "config.json").string(), "not valid JSON", "at byte 22",
                             "parse error"});
}

TEST(HfConfig, ConfigNotObject) {
  TempDir dir;
  write_text(dir / "config.json", "[1, 2, 3]");
  expect_error<FormatError>([&] { (void)HfConfig::load(dir.path()); },
                            {(dir / "config.json").string(), "JSON array", "expected an object"});
}

TEST(HfConfig, DuplicateKey) {
  expect_error<FormatError>([&] { (void)parse(R"({"num_experts": 8, "num_experts": 16})"); },
                            {"config.json", "duplicate", "'num_experts'"});
}

TEST(HfConfig, ArchitectureIsFirstEntryOrEmpty) {
  EXPECT_EQ(parse(R"({"architectures": ["A", "B"]})").architecture(), "A");
  EXPECT_EQ(parse(R"({"architectures": []})").architecture(), "");
  EXPECT_EQ(parse(R"({})").architecture(), "");
  EXPECT_EQ(parse(R"({"architectures": "A"})").architecture(), "");
}

// ---- lookup ---------------------------------------------------------------------------------

TEST(HfConfig, LookupAlternativesFirstPresentWins) {
  const HfConfig hf = parse(R"({"b": 2, "c": 3})");
  ASSERT_NE(hf.lookup("a|b|c"), nullptr);
  EXPECT_EQ(*hf.lookup("a|b|c"), 2);
  EXPECT_EQ(*hf.lookup("c|b"), 3);
  EXPECT_EQ(hf.lookup("a|d"), nullptr);
}

TEST(HfConfig, LookupNested) {
  const HfConfig hf =
      parse(R"({"rope_parameters": {"rope_theta": 500000.0, "rope_type": "llama3"}, "x": 1})");
  EXPECT_EQ(*hf.lookup("rope_theta|rope_parameters.rope_theta"), 500000.0);
  EXPECT_EQ(*hf.lookup("rope_parameters.rope_type"), "llama3");
  EXPECT_EQ(hf.lookup("rope_parameters.factor"), nullptr);
  EXPECT_EQ(hf.lookup("x.y"), nullptr);  // x is not an object
}

TEST(HfConfig, LookupFallsBackToTextConfig) {
  // Llama 4 shape: the text model's fields live in text_config.
  const HfConfig hf = parse(R"({
    "architectures": ["Llama4ForConditionalGeneration"],
    "model_type": "llama4",
    "text_config": {"model_type": "llama4_text", "hidden_size": 5120,
                    "rope_scaling": {"factor": 16.0}},
    "vision_config": {"hidden_size": 1408}
  })");
  EXPECT_EQ(*hf.lookup("hidden_size"), 5120);
  EXPECT_EQ(*hf.lookup("rope_scaling.factor"), 16.0);
  EXPECT_EQ(*hf.lookup("model_type"), "llama4");  // the top level wins
  EXPECT_EQ(*hf.lookup("text_config.model_type"), "llama4_text");
  EXPECT_EQ(hf.lookup("num_experts"), nullptr);
}

TEST(HfConfig, LookupSkipsNullWhileAlternativesRemain) {
  const HfConfig hf = parse(R"({"a": null, "b": 2, "c": null})");
  EXPECT_EQ(*hf.lookup("a|b"), 2);
  ASSERT_NE(hf.lookup("c"), nullptr);
  EXPECT_TRUE(hf.lookup("c")->is_null());
}

// ---- diff and check -------------------------------------------------------------------------

TEST(HfConfig, RealDescriptionMatchesPublishedConfig) {
  const HfConfig hf = parse(qwen3_30b_a3b);
  using M = templlm::model::Qwen3_30B_A3B;
  EXPECT_TRUE(hf.diff(M::hf_fields()).empty());
  EXPECT_NO_THROW(hf.check(M::hf_fields(), M::name));
}

TEST(HfConfig, FloatEpsilonMatchesDoubleWithinTolerance) {
  const std::array fields = {cfg::number("rms_norm_eps", 1e-6f), cfg::number("rope_theta", 1e6)};
  EXPECT_TRUE(parse(R"({"rms_norm_eps": 1e-06, "rope_theta": 1000000})").diff(fields).empty());
  const auto d = parse(R"({"rms_norm_eps": 1e-05, "rope_theta": 1000010})").diff(fields);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0], (FieldDiff{"rms_norm_eps", "1e-06", "1e-05"}));
  EXPECT_EQ(d[1], (FieldDiff{"rope_theta", "1000000", "1000010"}));
}

TEST(HfConfig, DiffReportsEveryKind) {
  const std::array fields = {
      cfg::number("num_experts", 8),           cfg::number("num_local_experts", 8),
      cfg::flag("norm_topk_prob", true),       cfg::text("model_type", "mixtral"),
      cfg::null_or_absent("sliding_window"),   cfg::number("hidden_size", 4096),
      cfg::flag("output_router_logits", false)};
  const auto d = parse(R"({"num_experts": 16, "norm_topk_prob": false, "model_type": "qwen3_moe",
                           "sliding_window": 4096, "hidden_size": "4096"})")
                     .diff(fields);
  ASSERT_EQ(d.size(), 7u);
  EXPECT_EQ(d[0], (FieldDiff{"num_experts", "8", "16"}));
  EXPECT_EQ(d[1], (FieldDiff{"num_local_experts", "8", "missing"}));
  EXPECT_EQ(d[2], (FieldDiff{"norm_topk_prob", "true", "false"}));
  EXPECT_EQ(d[3], (FieldDiff{"model_type", "\"mixtral\"", "\"qwen3_moe\""}));
  EXPECT_EQ(d[4], (FieldDiff{"sliding_window", "null or absent", "4096"}));
  EXPECT_EQ(d[5], (FieldDiff{"hidden_size", "4096", "\"4096\""}));  // a string is not a number
  EXPECT_EQ(d[6], (FieldDiff{"output_router_logits", "false", "missing"}));
}

TEST(HfConfig, DiffAppliesTransformersDefaultsForAbsentKeys) {
  const std::array fields = {cfg::number("head_dim", 128),  cfg::flag("tie_word_embeddings", false),
                             cfg::flag("attention_bias", false),
                             cfg::flag("use_sliding_window", false),
                             cfg::number("decoder_sparse_step", 1),
                             cfg::null_or_absent("sliding_window")};
  EXPECT_TRUE(parse(R"({"hidden_size": 4096, "num_attention_heads": 32})").diff(fields).empty());
  // An explicit null head_dim (some Mistral configs) also takes the default.
  EXPECT_TRUE(parse(R"({"hidden_size": 4096, "num_attention_heads": 32, "head_dim": null})")
                  .diff(fields)
                  .empty());

  const std::array other = {cfg::number("head_dim", 128), cfg::flag("attention_bias", true),
                            cfg::number("decoder_sparse_step", 2)};
  const auto d = parse(R"({"hidden_size": 4096, "num_attention_heads": 64})").diff(other);
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0], (FieldDiff{"head_dim", "128", "absent (default 64)"}));
  EXPECT_EQ(d[1], (FieldDiff{"attention_bias", "true", "absent (default false)"}));
  EXPECT_EQ(d[2], (FieldDiff{"decoder_sparse_step", "2", "absent (default 1)"}));
  // No default without hidden_size and heads.
  EXPECT_EQ(parse("{}").diff(std::array{cfg::number("head_dim", 128)})[0].found, "missing");
}

TEST(HfConfig, DiffUsesTextConfigAndAlternatives) {
  const std::array fields = {cfg::number("rope_theta|rope_parameters.rope_theta", 500000.0),
                             cfg::number("hidden_size", 5120)};
  EXPECT_TRUE(parse(R"({"text_config": {"rope_parameters": {"rope_theta": 500000.0},
                                        "hidden_size": 5120}})")
                  .diff(fields)
                  .empty());
}

TEST(HfConfig, CheckListsEveryDifferingField) {
  const std::array fields = {cfg::number("num_experts", 8), cfg::number("hidden_size", 2048),
                             cfg::flag("norm_topk_prob", true)};
  try {
    parse(R"({"num_experts": 16, "hidden_size": 2048})").check(fields, "qwen3-30b-a3b");
    FAIL() << "no exception";
  } catch (const ConfigMismatch& e) {
    EXPECT_EQ(std::string(e.what()),
              "/models/x/config.json: config does not match model 'qwen3-30b-a3b' (2 fields "
              "differ):\n"
              "  num_experts: expected 8, found 16\n"
              "  norm_topk_prob: expected true, found missing");
  }
}

TEST(HfConfig, CheckWithRealDescriptionNamesTheField) {
  std::string text = qwen3_30b_a3b;
  text.replace(text.find("\"num_experts\": 128"), 18, "\"num_experts\": 64");
  using M = templlm::model::Qwen3_30B_A3B;
  expect_error<ConfigMismatch>([&] { parse(text).check(M::hf_fields(), M::name); },
                               {"config.json", "'qwen3-30b-a3b'", "(1 field differs)",
                                "num_experts", "expected 128, found 64"});
}

}  // namespace

namespace {

// Per-layer plan of a 6-layer model: NoPE on layer 3, MoE on odd layers.
constexpr int rope_plan(int i) { return i == 3 ? 0 : 1; }
constexpr int every_fourth_nope(int i) { return (i + 1) % 4 != 0 ? 1 : 0; }
constexpr int odd_is_moe(int i) { return i % 2; }

TEST(HfConfig, DiffChecksPerLayerLists) {
  const std::array fields = {cfg::layer_values("no_rope_layers", 6, &rope_plan),
                             cfg::layer_indices("moe_layers", 6, &odd_is_moe)};
  EXPECT_TRUE(parse(R"({"no_rope_layers": [1, 1, 1, 0, 1, 1], "moe_layers": [1, 3, 5]})")
                  .diff(fields)
                  .empty());

  const auto d = parse(R"({"no_rope_layers": [1, 1, 0, 1, 1, 1], "moe_layers": [1, 3]})")
                     .diff(fields);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0], (FieldDiff{"no_rope_layers", "[1, 1, 1, 0, 1, 1]", "entry 2 is 0"}));
  EXPECT_EQ(d[1], (FieldDiff{"moe_layers", "[1, 3, 5]", "[1,3]"}));

  const auto missing = parse("{}").diff(fields);
  ASSERT_EQ(missing.size(), 2u);
  EXPECT_EQ(missing[0].found, "missing");
  EXPECT_EQ(parse(R"({"no_rope_layers": 7, "moe_layers": [1, 3, 5]})").diff(fields)[0].found, "7");
}

TEST(HfConfig, DiffPerLayerListsTakeTransformersDefaults) {
  // Absent (or, for a per-layer list, empty) means transformers' default, which must then equal
  // the description's plan; an empty index list is a real value.
  const std::array fields = {
      cfg::layer_values("no_rope_layers", 8, &every_fourth_nope, &every_fourth_nope),
      cfg::layer_indices("moe_layers", 8, &odd_is_moe, &odd_is_moe)};
  EXPECT_TRUE(parse("{}").diff(fields).empty());
  EXPECT_TRUE(parse(R"({"no_rope_layers": []})").diff(fields).empty());
  const auto empty_moe = parse(R"({"moe_layers": []})").diff(fields);
  ASSERT_EQ(empty_moe.size(), 1u);
  EXPECT_EQ(empty_moe[0], (FieldDiff{"moe_layers", "[1, 3, 5, 7]", "[]"}));

  const std::array plan = {cfg::layer_values("no_rope_layers", 10, &rope_plan, &every_fourth_nope)};
  const auto d = parse("{}").diff(plan);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0], (FieldDiff{"no_rope_layers", "[1, 1, 1, 0, 1, 1, 1, 1, ...] (10 entries)",
                             "absent (default [1, 1, 1, 0, 1, 1, 1, 0, ...] (10 entries))"}));
}

}  // namespace
