// SPDX-License-Identifier: Apache-2.0
// The templlm binary end to end: models, info, logits (prefill and --decode) against the
// transformers reference, and the errors a user sees.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <map>
#include <set>
#include <sys/wait.h>
#include <string>

#include "support/cli.hpp"
#include "support/fixture.hpp"

namespace {

namespace fs = std::filesystem;

using templlm::test::CliRun;
CliRun run(const std::string& args) { return templlm::test::run_cli(args); }
std::string join(const std::vector<int>& ids) { return templlm::test::id_list(ids); }

TEST(Cli, ModelsListsTheNineReleasedDescriptionsWithPublishedCounts) {
  const CliRun r = run("models");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto list = nlohmann::json::parse(r.out);
  const std::map<std::string, std::pair<double, double>> published = {
      {"gpt-oss-120b", {116.8e9, 5.1e9}},    {"gpt-oss-20b", {20.9e9, 3.6e9}},
      {"deepseek-v3", {671e9, 37e9}},        {"qwen3-235b-a22b", {235e9, 22e9}},
      {"qwen3-30b-a3b", {30.5e9, 3.3e9}},    {"llama4-scout", {109e9, 17e9}},
      {"llama4-maverick", {400e9, 17e9}},    {"mixtral-8x22b", {141e9, 39e9}},
      {"mixtral-8x7b", {46.7e9, 12.9e9}}};
  std::set<std::string> seen;
  for (const auto& m : list) {
    const auto name = m.at("name").get<std::string>();
    ASSERT_TRUE(m.contains("hf_architecture"));
    auto it = published.find(name);
    if (it == published.end()) continue;
    seen.insert(name);
    EXPECT_NEAR(m.at("total_params").get<double>(), it->second.first, 0.02 * it->second.first) << name;
    EXPECT_NEAR(m.at("active_params").get<double>(), it->second.second, 0.02 * it->second.second)
        << name;
  }
  EXPECT_EQ(seen.size(), published.size());
}

TEST(Cli, InfoDetectsTheTinyMixtral) {
  const CliRun r = run("info --model " + templlm::test::model_dir("mixtral-tiny").string());
  ASSERT_EQ(r.status, 0) << r.out;
  const auto info = nlohmann::json::parse(r.out);
  EXPECT_EQ(info.at("name"), "mixtral-tiny");
  EXPECT_EQ(info.at("hf_architecture"), "MixtralForCausalLM");
  EXPECT_TRUE(info.at("bytes_by_dtype").contains("BF16"));
}

TEST(Cli, InfoReportsTheLatentCacheOfTheTinyDeepSeek) {
  const CliRun r = run("info --model " + templlm::test::model_dir("deepseek-v3-tiny").string());
  ASSERT_EQ(r.status, 0) << r.out;
  const auto info = nlohmann::json::parse(r.out);
  EXPECT_EQ(info.at("name"), "deepseek-v3-tiny");
  EXPECT_TRUE(info.at("bytes_by_dtype").contains("F8_E4M3"));
  // 4 layers x (kv_lora_rank 32 + qk_rope_dim 8): latents, not expanded K/V (4 x 4 x 40).
  EXPECT_EQ(info.at("kv_cache_values_per_token").get<std::int64_t>(), 160);
  EXPECT_EQ(info.at("kv_cache_bytes_per_token_bf16").get<std::int64_t>(), 320);
}

class CliLogits : public ::testing::TestWithParam<std::string> {};

TEST_P(CliLogits, PrefillAndDecodeMatchTransformers) {
  const auto ref = templlm::test::load_reference(GetParam());
  const fs::path out = fs::temp_directory_path() / ("templlm_cli_" + GetParam() + ".npy");
  for (const char* mode : {"", " --decode"}) {
    const CliRun r = run("logits --model " + templlm::test::model_dir(GetParam()).string() +
                      " --ids " + join(ref.ids) + " --out " + out.string() + mode);
    ASSERT_EQ(r.status, 0) << r.out;
    const auto got = templlm::io::read_npy_f32(out);
    ASSERT_EQ(got.shape, ref.logits.shape);
    EXPECT_LE(templlm::test::relative_error(got.data, ref.logits.data, ref.logits.shape[1]), 1e-4)
        << GetParam() << mode;
  }
  fs::remove(out);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CliLogits,
                         ::testing::Values("mixtral-tiny", "qwen3-moe-tiny", "qwen3-tiny",
                                           "deepseek-v3-tiny", "qwen2-tiny", "llama3-tiny",
                                           "gpt-oss-tiny", "llama4-scout-tiny",
                                           "llama4-maverick-tiny", "llama4-scout-tiny-text"));

TEST(Cli, UnknownArchitectureListsTheCompiledInModels) {
  const fs::path dir = fs::temp_directory_path() / "templlm_cli_unknown";
  fs::create_directories(dir);
  std::FILE* f = std::fopen((dir / "config.json").c_str(), "w");
  std::fputs(R"({"architectures": ["FalconForCausalLM"], "hidden_size": 8})", f);
  std::fclose(f);
  const CliRun r = run("logits --model " + dir.string() + " --ids 1 --out /dev/null");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("FalconForCausalLM"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("mixtral-8x7b"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("qwen3-30b-a3b"), std::string::npos) << r.out;
  fs::remove_all(dir);
}

TEST(Cli, TokenIdOutsideTheVocabularyIsAnError) {
  const CliRun r = run("logits --model " + templlm::test::model_dir("qwen3-tiny").string() +
                    " --ids 1,512 --out /dev/null");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("512"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("vocabulary"), std::string::npos) << r.out;
}

TEST(Cli, BadUsageIsReported) {
  EXPECT_EQ(run("logits --ids 1,x --model . --out /dev/null").status, 2);
  EXPECT_EQ(run("no-such-command").status, 2);
  EXPECT_EQ(run("logits --help").status, 0);
  EXPECT_EQ(run("models --help").status, 0);
}

TEST(Cli, AnOptionGivenTwiceIsAnErrorNamingBothValues) {
  // Keeping the last value silently would run with a setting the user may not have meant.
  const auto r = run("generate --max-tokens 4 --max-tokens 8 --prompt hi");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("--max-tokens was given 2 times ('4', ..., '8')"), std::string::npos) << r.out;
}

}  // namespace
