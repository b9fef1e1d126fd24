// SPDX-License-Identifier: Apache-2.0
// The per-model binaries (templlm_add_model_executable in examples/) end to end: each is built
// for one released description, so the tiny fixture of its own family must be refused with a
// ConfigMismatch naming the differing fields (not loaded as something else, not crash), another
// family's checkpoint as an unknown architecture; and a binary built for a tiny description
// (templlm_qwen3_tiny) generates the transformers greedy continuation recorded in the fixture.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/cli.hpp"
#include "support/fixture.hpp"

namespace {

using templlm::test::run_program;

struct Case {
  const char* binary;
  const char* fixture;       // a tiny checkpoint of the same architecture, other sizes
  const char* description;   // the description's name, which the error names as the closest
  const char* differing;     // one differing field as the error prints it
};

const Case cases[] = {
    {TEMPLLM_QWEN3_8B, "qwen3-tiny", "qwen3-8b", "hidden_size: expected 4096, found 64"},
    {TEMPLLM_QWEN3_30B_A3B, "qwen3-moe-tiny", "qwen3-30b-a3b", "hidden_size: expected 2048, found 64"},
    {TEMPLLM_MIXTRAL_8X7B, "mixtral-tiny", "mixtral-8x7b", "hidden_size: expected 4096, found 64"},
    {TEMPLLM_GPT_OSS_20B, "gpt-oss-tiny", "gpt-oss-20b", "hidden_size: expected 2880, found 64"},
    {TEMPLLM_DEEPSEEK_V3, "deepseek-v3-tiny", "deepseek-v3", "hidden_size: expected 7168, found 64"},
    {TEMPLLM_LLAMA4_SCOUT, "llama4-scout-tiny", "llama4-scout", "hidden_size: expected 5120, found 64"},
};

TEST(PerModelBinary, RefusesTheTinyFixtureOfItsFamilyNamingTheFields) {
  for (const Case& c : cases) {
    const auto r = run_program(c.binary, "--model " + templlm::test::model_dir(c.fixture).string() +
                                             " --ids 1,2,3 --max-tokens 1");
    EXPECT_EQ(r.status, 1) << c.binary << "\n" << r.out;
    EXPECT_NE(r.out.find("closest is '" + std::string(c.description) + "'"), std::string::npos)
        << c.binary << "\n" << r.out;
    EXPECT_NE(r.out.find(c.differing), std::string::npos) << c.binary << "\n" << r.out;
  }
}

TEST(PerModelBinary, RefusesAnotherArchitectureNamingWhatItWasBuiltFor) {
  const auto r = run_program(TEMPLLM_GPT_OSS_20B,
                             "--model " + templlm::test::model_dir("qwen3-tiny").string() + " --ids 1");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("Qwen3ForCausalLM"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("gpt-oss-20b (GptOssForCausalLM)"), std::string::npos) << r.out;
}

TEST(PerModelBinary, HelpNamesTheDescription) {
  const auto r = run_program(TEMPLLM_DEEPSEEK_V3, "--help");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("templlm::model::DeepSeekV3"), std::string::npos) << r.out;
}

TEST(PerModelBinary, TinyDescriptionGeneratesTheTransformersGreedyContinuation) {
  const auto g = templlm::test::read_json(templlm::test::model_dir("qwen3-tiny") / "expected" / "greedy.json");
  const auto prompt = g.at("prompt").get<std::vector<int>>();
  const auto want = g.at("new_tokens").get<std::vector<int>>();
  const auto r = run_program(TEMPLLM_QWEN3_TINY,
                             "--model " + templlm::test::model_dir("qwen3-tiny").string() + " --ids " +
                                 templlm::test::id_list(prompt) + " --temperature 0 --max-tokens " +
                                 std::to_string(want.size()),
                             /*merge_stderr=*/false);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, templlm::test::id_list(want) + "\n");
}

}  // namespace
