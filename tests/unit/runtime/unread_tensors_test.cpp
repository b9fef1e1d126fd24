// SPDX-License-Identifier: Apache-2.0
// A checkpoint tensor that no component reads is a load error naming it (a mechanism the
// description does not know would otherwise be dropped without a word); the tensors a
// description skips on purpose (Llama 4's vision tower, DeepSeek's MTP layer) are allowed.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <templlm/io/safetensors.hpp>
#include <templlm/io/unread_tensors.hpp>
#include <templlm/kernels/cpu/backend.hpp>
#include <templlm/model/qwen3.hpp>
#include <templlm/runtime/registry.hpp>

#include "../io/safetensors_writer.hpp"
#include "support/fixture.hpp"

namespace templlm::test {
namespace {

namespace fs = std::filesystem;
// Every committed fixture loads through the CLI with the check on (tests/unit/cli: the Llama 4
// fixtures' vision towers and DeepSeek's MTP layer are excused by their descriptions).

/// The qwen3-tiny fixture as two shards: its own file and one more holding `extra`.
fs::path with_extra_tensors(const fs::path& root, const std::vector<StTensor>& extra) {
  const fs::path src = model_dir("qwen3-tiny"), dst = root / "qwen3-tiny-extra";
  fs::create_directories(dst);
  fs::copy_file(src / "config.json", dst / "config.json");
  fs::copy_file(src / "model.safetensors", dst / "model-00001-of-00002.safetensors");
  write_file(dst / "model-00002-of-00002.safetensors", build_safetensors(extra));
  nlohmann::json map = nlohmann::json::object();
  const auto first = io::SafetensorsFile::open(dst / "model-00001-of-00002.safetensors");
  for (const auto& t : first.tensors()) map[t.name] = "model-00001-of-00002.safetensors";
  for (const auto& t : extra) map[t.name] = "model-00002-of-00002.safetensors";
  std::ofstream(dst / "model.safetensors.index.json")
      << nlohmann::json{{"metadata", nlohmann::json::object()}, {"weight_map", map}}.dump();
  return dst;
}

StTensor f32_tensor(std::string name, std::int64_t n) {
  return {std::move(name), "F32", {n}, Bytes(std::size_t(n) * 4)};
}

using Qwen3Only = TypeList<model::Qwen3Tiny>;

TEST(UnreadTensors, AnExtraTensorIsALoadErrorNamingIt) {
  TempDir tmp;
  const fs::path dir = with_extra_tensors(tmp.path(), {f32_tensor("model.layers.0.mlp.down_proj.bias", 64)});
  cpu::Backend be(1);
  try {
    (void)runtime::load_model(Qwen3Only{}, be, dir);
    FAIL() << "loaded a checkpoint with a tensor nobody read";
  } catch (const UnusedTensors& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(dir.string() + ": 1 checkpoint tensor was not read by any component of"), std::string::npos) << what;
    EXPECT_NE(what.find("\n  model.layers.0.mlp.down_proj.bias"), std::string::npos) << what;
    EXPECT_NE(what.find("skipped_tensors"), std::string::npos) << what;
  }
}

TEST(UnreadTensors, ManyAreCountedAndTheFirstTenNamed) {
  TempDir tmp;
  std::vector<StTensor> extra;
  for (int i = 0; i < 12; ++i) extra.push_back(f32_tensor("model.extra." + std::to_string(10 + i), 2));
  const fs::path dir = with_extra_tensors(tmp.path(), extra);
  cpu::Backend be(1);
  try {
    (void)runtime::load_model(Qwen3Only{}, be, dir);
    FAIL() << "loaded";
  } catch (const UnusedTensors& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("12 checkpoint tensors were not read"), std::string::npos) << what;
    EXPECT_NE(what.find("model.extra.19"), std::string::npos) << what;
    EXPECT_EQ(what.find("model.extra.20"), std::string::npos) << what;
    EXPECT_NE(what.find("... and 2 more"), std::string::npos) << what;
  }
}

TEST(UnreadTensors, SkippedPrefixesExcuseOnlyWhatTheyName) {
  static constexpr std::array skipped{cfg::SkippedTensors{.prefix = "vision_model.", .reason = "r"}};
  const std::vector<std::string> unread{"vision_model.patch_embedding.weight", "vision_modelx.w",
                                        "multi_modal_projector.linear_1.weight"};
  EXPECT_EQ(io::unexcused(unread, skipped),
            (std::vector<std::string>{"vision_modelx.w", "multi_modal_projector.linear_1.weight"}));
  // An empty prefix excuses nothing (it would excuse everything).
  static constexpr std::array empty{cfg::SkippedTensors{.prefix = "", .reason = "r"}};
  EXPECT_EQ(io::unexcused(unread, empty).size(), 3u);
}

}  // namespace
}  // namespace templlm::test
