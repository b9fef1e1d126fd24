// SPDX-License-Identifier: Apache-2.0
// GPT-OSS checkpoints that disagree with the description: MXFP4 blocks whose shape does not
// match their scales, scales of the wrong dtype, and config.json fields (swiglu_limit,
// sliding_window, layer_types) that differ. Each is a typed error naming the tensor or field.
// The bad checkpoints are the committed gpt-oss-tiny fixture with one header entry or one
// config field changed.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <templlm/io/hf_config.hpp>
#include <templlm/kernels/cpu/backend.hpp>
#include <templlm/model/gpt_oss.hpp>
#include <templlm/runtime/registry.hpp>

#include "support/fixture.hpp"
#include "unit/io/expect_error.hpp"
#include "unit/io/safetensors_writer.hpp"

namespace templlm::test {
namespace {

using M = model::GptOssTiny;

Bytes read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<char> raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Bytes out(raw.size());
  std::memcpy(out.data(), raw.data(), raw.size());
  return out;
}

/// The fixture with `edit` applied to its safetensors header (offsets unchanged) and, when
/// given, `config_edit` to its config.json.
void write_variant(const TempDir& dir, const std::function<void(nlohmann::json&)>& edit,
                   const std::function<void(nlohmann::json&)>& config_edit = {}) {
  const auto src = model_dir(std::string(M::name));
  nlohmann::json config = read_json(src / "config.json");
  if (config_edit) config_edit(config);
  write_text(dir / "config.json", config.dump(2));
  const Bytes file = read_bytes(src / "model.safetensors");
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= std::uint64_t(std::to_integer<unsigned>(file[i])) << (8 * i);
  nlohmann::json header = nlohmann::json::parse(
      std::string(reinterpret_cast<const char*>(file.data()) + 8, std::size_t(n)));
  if (edit) edit(header);
  const Bytes out = raw_safetensors(header.dump(), std::span<const std::byte>(file).subspan(8 + n));
  write_file(dir / "model.safetensors", out);
}

void load(const TempDir& dir) {
  cpu::Backend be(1);
  runtime::Model<M, cpu::Backend> model(be, io::WeightStore::open(dir.path()));
}

TEST(GptOssBadInput, UnchangedVariantLoads) {
  TempDir dir;
  write_variant(dir, {});
  EXPECT_NO_THROW(load(dir));
}

TEST(GptOssBadInput, BlocksShapeNotMatchingScales) {
  // [8, 128, 2, 16] stored as [8, 128, 1, 32]: same bytes, but 1 group of 32 bytes per row
  // where the scales [8, 128, 2] say 2 groups of 16.
  TempDir dir;
  const std::string name = "model.layers.1.mlp.experts.gate_up_proj_blocks";
  write_variant(dir, [&](nlohmann::json& h) { h[name]["shape"] = {8, 128, 1, 32}; });
  expect_error<TensorMismatch>([&] { load(dir); }, {name, "[8, 128, 1, 32]"});
}

TEST(GptOssBadInput, ScalesOfTheWrongDtype) {
  TempDir dir;
  const std::string name = "model.layers.2.mlp.experts.down_proj_scales";
  write_variant(dir, [&](nlohmann::json& h) { h[name]["dtype"] = "F8_E4M3"; });
  expect_error<TensorMismatch>([&] { load(dir); }, {name, "F8_E4M3", "U8"});
}

TEST(GptOssBadInput, BlocksOfTheWrongDtype) {
  TempDir dir;
  const std::string name = "model.layers.0.mlp.experts.down_proj_blocks";
  write_variant(dir, [&](nlohmann::json& h) { h[name]["dtype"] = "I8"; });
  expect_error<TensorMismatch>([&] { load(dir); }, {name, "I8", "U8"});
}

/// The registry's ConfigMismatch (what `templlm logits` reports) and the description check.
void expect_config_mismatch(const std::function<void(nlohmann::json&)>& config_edit,
                            std::initializer_list<std::string_view> needles) {
  TempDir dir;
  write_variant(dir, {}, config_edit);
  cpu::Backend be(1);
  expect_error<ConfigMismatch>(
      [&] { runtime::load_model(TypeList<model::GptOssTiny, model::GptOss20B>{}, be, dir.path()); },
      needles);
  expect_error<ConfigMismatch>(
      [&] { io::HfConfig::load(dir.path()).check(M::hf_fields(), M::name); }, needles);
}

TEST(GptOssBadInput, SwigluLimitDisagrees) {
  expect_config_mismatch([](nlohmann::json& c) { c["swiglu_limit"] = 10.0; },
                         {"swiglu_limit", "expected 7, found 10"});
}

TEST(GptOssBadInput, SlidingWindowDisagrees) {
  expect_config_mismatch([](nlohmann::json& c) { c["sliding_window"] = 16; },
                         {"sliding_window", "expected 8, found 16"});
}

TEST(GptOssBadInput, LayerTypesDisagree) {
  // full first, sliding second: the opposite of the description's plan
  expect_config_mismatch(
      [](nlohmann::json& c) {
        c["layer_types"] = {"full_attention", "sliding_attention", "full_attention",
                            "sliding_attention"};
      },
      {"layer_types", "entry 0", "full_attention"});
  // one layer too few
  expect_config_mismatch(
      [](nlohmann::json& c) {
        c["layer_types"] = {"sliding_attention", "full_attention", "sliding_attention"};
      },
      {"layer_types"});
  // absent
  expect_config_mismatch([](nlohmann::json& c) { c.erase("layer_types"); },
                         {"layer_types", "missing"});
}

}  // namespace
}  // namespace templlm::test
