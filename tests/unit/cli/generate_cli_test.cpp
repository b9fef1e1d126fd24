// SPDX-License-Identifier: Apache-2.0
// `templlm generate` end to end: greedy ids on a fixture equal the transformers continuation,
// --help, and the errors a user sees.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <string>
#include <sys/wait.h>

#include "support/cli.hpp"
#include "support/fixture.hpp"

namespace {

using GenRun = templlm::test::CliRun;

GenRun run_generate(const std::string& args, bool merge_stderr = true) {
  return templlm::test::run_cli("generate " + args, merge_stderr);
}

std::string csv(const std::vector<int>& ids) { return templlm::test::id_list(ids); }

TEST(GenerateCli, GreedyIdsEqualTheTransformersContinuation) {
  // Every committed fixture, so each family (and the R1 distill architectures, qwen2 and
  // llama3) is reached through the CLI's one list of loadable descriptions.
  for (const std::string name :
       {"mixtral-tiny", "qwen3-moe-tiny", "qwen3-tiny", "qwen2-tiny", "llama3-tiny", "gpt-oss-tiny",
        "deepseek-v3-tiny", "llama4-scout-tiny", "llama4-scout-tiny-text", "llama4-maverick-tiny"}) {
    const auto g = templlm::test::read_json(templlm::test::model_dir(name) / "expected" / "greedy.json");
    const auto prompt = g.at("prompt").get<std::vector<int>>();
    const auto want = g.at("new_tokens").get<std::vector<int>>();
    const auto r = run_generate("--model " + templlm::test::model_dir(name).string() + " --ids " + csv(prompt) +
                                " --temperature 0 --max-tokens " + std::to_string(want.size()), false);
    EXPECT_EQ(r.status, 0) << name;
    EXPECT_EQ(r.out, csv(want) + "\n") << name;
  }
}

TEST(GenerateCli, SummaryLineOnStderr) {
  const auto r = run_generate("--model " + templlm::test::model_dir("qwen3-tiny").string() +
                              " --ids 1,2,3 --max-tokens 4 --seed 3");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("prompt 3 tokens"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("generated 4 tokens"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("loading weights"), std::string::npos) << r.out;
}

TEST(GenerateCli, AMillionTokenContextAllocatesCachePagesOnlyForTheTokensHeld) {
  // 4 prompt tokens + 3 generated: one page of 16 positions, not a million positions' worth.
  const auto r = run_generate("--model " + templlm::test::model_dir("qwen3-moe-tiny").string() +
                              " --ids 1,2,3,4 --max-tokens 3 --temperature 0 --max-context 1000000");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("kv cache: 1 pages of 16 positions in use"), std::string::npos) << r.out;
  const auto at = r.out.find("positions in use, ");
  ASSERT_NE(at, std::string::npos) << r.out;
  const double kib = std::stod(r.out.substr(at + std::string("positions in use, ").size()));
  EXPECT_LT(kib, 1024.0) << r.out;  // growth by doubling from 4 pages; a full cache would be GBs
}

TEST(GenerateCli, Help) {
  const auto r = run_generate("--help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("--max-tokens"), std::string::npos);
}

TEST(GenerateCli, TextPromptWithoutTokenizerIsAnError) {
  const auto r = run_generate("--model " + templlm::test::model_dir("qwen3-tiny").string() + " --prompt hi");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("--ids"), std::string::npos) << r.out;
}

TEST(GenerateCli, BadOptionsAreUsageErrors) {
  EXPECT_EQ(run_generate("--top-p 2 --ids 1").status, 2);
  EXPECT_EQ(run_generate("--max-tokens x --ids 1").status, 2);
  EXPECT_EQ(run_generate("--prompt a --ids 1").status, 2);
  EXPECT_EQ(run_generate("--backend tpu --ids 1").status, 2);
}

TEST(GenerateCli, PromptLongerThanTheContextIsAnError) {
  const auto r = run_generate("--model " + templlm::test::model_dir("qwen3-tiny").string() +
                              " --ids 1,2,3,4 --context 3");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("context"), std::string::npos) << r.out;
}

}  // namespace
