// SPDX-License-Identifier: Apache-2.0
// Llama 4 Scout- and Maverick-like tiny models against their transformers references
// (tests/support/fixture_suite.hpp holds the checks). The 24-token prompts cross two boundaries
// of the 8-token attention chunks and give the NoPE layer four temperature factors
// (floor_scale 8), so the chunked mask, the ring cache of one chunk and temperature tuning all
// shape the logits; the checkpoints carry a placeholder vision tower the loader skips (the tower
// that runs is tested in llama4_vision_test.cpp).
#include <templlm/model/llama4.hpp>

#include "support/fixture_suite.hpp"

namespace templlm::test {
using Llama4Twins = ::testing::Types<model::Llama4ScoutTiny, model::Llama4MaverickTiny,
                                     model::Llama4ScoutTinyText>;
INSTANTIATE_TYPED_TEST_SUITE_P(Llama4, FixtureTest, Llama4Twins);
}  // namespace templlm::test

// ---------------------------------------------------------------------------------------------
// Llama 4 mechanisms one by one. Every expected value below was computed in Python with
// transformers 5.24 (modeling_rope_utils._compute_llama3_parameters; the temperature line of
// modeling_llama4.Llama4TextAttention) and is committed here as a literal.
#include <templlm/kernels/cpu/attention.hpp>
#include <templlm/io/hf_config.hpp>
#include <templlm/layers/rope.hpp>

#include <array>
#include <cmath>
#include <string>
#include <vector>

namespace templlm::test {
namespace {

cfg::Llama3Rope llama3(double factor, double low, double high, int original) {
  return {.theta = 500000.0, .factor = factor, .original_context = original,
          .low_freq_factor = low, .high_freq_factor = high,
          .layout = cfg::RopeLayout::interleaved};
}

void expect_inv_freq(const RopeTable& got, const std::vector<float>& want) {
  ASSERT_EQ(got.inv_freq.size(), want.size());
  EXPECT_EQ(got.attention_factor, 1.0f);
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_TRUE(std::isfinite(got.inv_freq[i])) << i;
    EXPECT_FLOAT_EQ(got.inv_freq[i], want[i]) << "inv_freq[" << i << "]";
  }
}

// low_freq_factor == high_freq_factor == 1 (Scout): HF's smooth term divides by zero; the select
// keeps the NaN out. head_dim 16 (the tiny twins): indices 5..7 have wavelength > 8192 and are
// divided by 16, 0..4 are unchanged.
TEST(Llama4Rope, Llama3ScalingWithEqualLowAndHighFactorsIsASelect) {
  expect_inv_freq(layers::rope_table(model::Llama4ScoutTiny::rope, 16),
                  {1.0f, 0.193922758f, 0.0376060307f, 0.00729266508f, 0.00141421345f,
                   1.71405118e-05f, 3.32393483e-06f, 6.44586578e-07f});
  expect_inv_freq(layers::rope_table(llama3(16.0, 1.0, 1.0, 64), 16),
                  {1.0f, 0.193922758f, 0.00235037692f, 0.000455791567f, 8.83883404e-05f,
                   1.71405118e-05f, 3.32393483e-06f, 6.44586578e-07f});
}

// Scout at full size: indices 35..63 of 64 are divided by 16 (design/architectures.md §4.1).
TEST(Llama4Rope, ScoutFullSizeDividesTheLowFrequenciesBySixteen) {
  const RopeTable scaled = layers::rope_table(model::Llama4Scout::rope, 128);
  const std::vector<float> plain = layers::default_inv_freq(500000.0, 128);
  ASSERT_EQ(scaled.inv_freq.size(), 64u);
  for (int i = 0; i < 64; ++i)
    EXPECT_EQ(scaled.inv_freq[i], i >= 35 ? plain[i] / 16.0f : plain[i]) << i;
  EXPECT_FLOAT_EQ(scaled.inv_freq[34], 0.000938473851f);
  EXPECT_FLOAT_EQ(scaled.inv_freq[35], 4.77810609e-05f);
}

// A real smoothing band (Llama 3.1's factor 8, low 1, high 4) on a small original context.
TEST(Llama4Rope, Llama3ScalingSmoothsTheMediumBand) {
  expect_inv_freq(layers::rope_table(llama3(8.0, 1.0, 4.0, 64), 16),
                  {1.0f, 0.079403013f, 0.00470075384f, 0.000911583134f, 0.000176776681f,
                   3.42810235e-05f, 6.64786967e-06f, 1.28917316e-06f});
}

// log1p(floor((pos + 1) / floor_scale)) * attn_scale + 1, on absolute positions.
TEST(Llama4Temperature, FactorPerPosition) {
  const std::array<float, 24> tiny = {
      1.0f,        1.0f,        1.0f,        1.0f,        1.0f,        1.0f,
      1.0f,        1.06931472f, 1.06931472f, 1.06931472f, 1.06931472f, 1.06931472f,
      1.06931472f, 1.06931472f, 1.06931472f, 1.10986125f, 1.10986125f, 1.10986125f,
      1.10986125f, 1.10986125f, 1.10986125f, 1.10986125f, 1.10986125f, 1.13862944f};
  cpu::Backend be(1);
  std::vector<int> pos(24);
  for (int i = 0; i < 24; ++i) pos[std::size_t(i)] = i;
  std::vector<float> x(24 * 2, 1.0f);
  constexpr auto t = model::Llama4ScoutTiny::attention.temperature;
  be.scale_rows_by_position(MatrixView<float>(x.data(), 24, 2), Positions<Host>{pos, pos.data()}, t.floor_scale,
                            t.attn_scale);
  for (int i = 0; i < 24; ++i) {
    EXPECT_FLOAT_EQ(x[std::size_t(2 * i)], tiny[std::size_t(i)]) << "position " << i;
    EXPECT_FLOAT_EQ(x[std::size_t(2 * i + 1)], tiny[std::size_t(i)]) << "position " << i;
  }
  // Scout's own values: 1.0 up to position 8190, then a step at 8191 and 16383.
  const std::vector<int> big = {0, 8190, 8191, 16382, 16383, 100000};
  const std::vector<float> want = {1.0f, 1.0f, 1.06931472f, 1.06931472f, 1.10986125f, 1.256495f};
  std::vector<float> y(big.size(), 1.0f);
  constexpr auto s = model::Llama4Scout::attention.temperature;
  be.scale_rows_by_position(MatrixView<float>(y.data(), std::int64_t(y.size()), 1),
                            Positions<Host>{big, big.data()}, s.floor_scale, s.attn_scale);
  for (std::size_t i = 0; i < want.size(); ++i)
    EXPECT_FLOAT_EQ(y[i], want[i]) << "position " << big[i];
}

// Chunked layers see keys from the start of their own chunk (absolute positions); NoPE layers
// see the whole prefix.
TEST(Llama4ChunkMask, FirstVisibleKeyIsTheChunkStart) {
  const cfg::LayerPlan chunked = model::Llama4ScoutTiny::layer(0);
  const cfg::LayerPlan nope = model::Llama4ScoutTiny::layer(3);
  ASSERT_EQ(chunked.mixer, cfg::Mixer::chunked);
  ASSERT_EQ(chunked.window, 8);
  AttentionArgs a{4, 2, 16, 16, 0.25f, chunked.mixer, chunked.window, nullptr};
  AttentionArgs full{4, 2, 16, 16, 0.25f, nope.mixer, nope.window, nullptr};
  for (std::int64_t p = 0; p < 40; ++p) {
    EXPECT_EQ(first_visible_key(a, p), p / 8 * 8) << p;
    EXPECT_EQ(first_visible_key(full, p), 0) << p;
  }
  EXPECT_EQ(first_visible_key(a, 7), 0);
  EXPECT_EQ(first_visible_key(a, 8), 8);   // a new chunk starts with the query alone
  EXPECT_EQ(first_visible_key(a, 23), 16);
  AttentionArgs scout{40, 8, 128, 128, 0.0884f, model::Llama4Scout::layer(0).mixer,
                      model::Llama4Scout::layer(0).window, nullptr};
  EXPECT_EQ(first_visible_key(scout, 8191), 0);
  EXPECT_EQ(first_visible_key(scout, 8192), 8192);
}

// The committed configs' arrays (which hf_fields cannot pin) agree with layer(i).
template <class M>
void expect_plan_matches_config() {
  const auto cfg = read_json(model_dir(std::string(M::name)) / "config.json").at("text_config");
  const auto no_rope = cfg.at("no_rope_layers"), types = cfg.at("layer_types");
  const auto moe = cfg.at("moe_layers").template get<std::vector<int>>();
  ASSERT_EQ(int(no_rope.size()), M::dims.layers);
  for (int i = 0; i < M::dims.layers; ++i) {
    const cfg::LayerPlan p = M::layer(i);
    const bool rope = no_rope[std::size_t(i)].template get<int>() != 0;
    EXPECT_EQ(p.mixer, rope ? cfg::Mixer::chunked : cfg::Mixer::no_rope) << M::name << " " << i;
    EXPECT_EQ(types[std::size_t(i)].template get<std::string>(),
              rope ? "chunked_attention" : "full_attention") << M::name << " " << i;
    if (rope) {
      EXPECT_EQ(p.window, cfg.at("attention_chunk_size").template get<int>());
    }
    const bool is_moe = std::find(moe.begin(), moe.end(), i) != moe.end();
    EXPECT_EQ(p.ffn, is_moe ? cfg::Ffn::moe : cfg::Ffn::dense) << M::name << " " << i;
  }
}

TEST(Llama4LayerPlan, NoRopeAndMoeLayersMatchTheFixtureConfigs) {
  expect_plan_matches_config<model::Llama4ScoutTiny>();
  expect_plan_matches_config<model::Llama4MaverickTiny>();
}

// Loading checks the plan too: a config whose no_rope_layers or moe_layers disagree with the
// description is a ConfigMismatch naming the field, not a silently different model.
template <class M>
void expect_plan_checked_at_load(const char* key, nlohmann::json value) {
  const auto path = model_dir(std::string(M::name)) / "config.json";
  auto json = read_json(path);
  io::HfConfig::parse(json.dump(), path).check(M::hf_fields(), M::name);  // as committed: fine
  json.at("text_config")[key] = std::move(value);
  try {
    io::HfConfig::parse(json.dump(), path).check(M::hf_fields(), M::name);
    ADD_FAILURE() << M::name << ": changed " << key << " was accepted";
  } catch (const ConfigMismatch& e) {
    EXPECT_NE(std::string(e.what()).find(std::string(key) + ": expected"), std::string::npos)
        << e.what();
  }
}

TEST(Llama4LayerPlan, ConfigPlanIsCheckedAtLoad) {
  expect_plan_checked_at_load<model::Llama4ScoutTiny>("no_rope_layers", {1, 1, 0, 1});
  expect_plan_checked_at_load<model::Llama4ScoutTiny>("moe_layers", {0, 1, 2});
  expect_plan_checked_at_load<model::Llama4MaverickTiny>("moe_layers", {0, 2});
  // Absent lists take transformers' defaults, which equal these plans.
  for (const char* key : {"no_rope_layers", "moe_layers"}) {
    const auto path = model_dir("llama4-maverick-tiny") / "config.json";
    auto json = read_json(path);
    json.at("text_config").erase(key);
    EXPECT_NO_THROW(io::HfConfig::parse(json.dump(), path)
                        .check(model::Llama4MaverickTiny::hf_fields(), "llama4-maverick-tiny"))
        << key;
  }
}

}  // namespace
}  // namespace templlm::test
