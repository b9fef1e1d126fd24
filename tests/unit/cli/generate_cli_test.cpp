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

TEST(GenerateCli, AFullContextAllocatesCachePagesOnlyForTheTokensHeld) {
  // 4 prompt tokens + 3 generated: one page of 16 positions, not the model's whole context.
  const auto r = run_generate("--model " + templlm::test::model_dir("qwen3-moe-tiny").string() +
                              " --ids 1,2,3,4 --max-tokens 3 --temperature 0 --max-context 256");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("kv cache: 1 pages of 16 positions in use"), std::string::npos) << r.out;
  const auto at = r.out.find("positions in use, ");
  ASSERT_NE(at, std::string::npos) << r.out;
  const double kib = std::stod(r.out.substr(at + std::string("positions in use, ").size()));
  EXPECT_LT(kib, 1024.0) << r.out;  // growth by doubling from 4 pages; a full cache would be GBs
}

TEST(GenerateCli, AContextBeyondTheModelsIsRefusedBeforeLoading) {
  const auto r = run_generate("--model " + templlm::test::model_dir("qwen3-moe-tiny").string() +
                              " --ids 1,2,3,4 --max-tokens 3 --max-context 1000000");
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("--max-context: 1000000 exceeds the model's context of 256 tokens"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("loading weights"), std::string::npos) << r.out;
}

TEST(GenerateCli, APromptBeyondTheModelsContextIsRefused) {
  std::string ids = "1";
  for (int i = 1; i < 300; ++i) ids += ",1";
  const auto r = run_generate("--model " + templlm::test::model_dir("qwen3-moe-tiny").string() +
                              " --ids " + ids + " --max-tokens 3");
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("the prompt has 300 tokens but the model's context is 256 tokens"), std::string::npos) << r.out;
}

TEST(GenerateCli, NumbersOutsideTheirFlagsRangeAreRefused) {
  const std::string model = "--model " + templlm::test::model_dir("qwen3-moe-tiny").string() + " --ids 1,2 ";
  const std::pair<std::string, std::string> cases[] = {
      {"--threads 4294967297", "--threads: '4294967297' is not 0 to 1024"},
      {"--max-tokens -1", "--max-tokens: '-1' is not 0 to 2147483647"},
      {"--max-tokens 3x", "--max-tokens: '3x' is not"},
      {"--temperature -0.5", "--temperature: '-0.5' is not a number >= 0"},
      {"--temperature nan", "--temperature: 'nan' is not"},
      {"--temperature 1e39", "--temperature: '1e39' is not"},
      {"--top-p 0", "--top-p: '0' is not a number in (0, 1]"},
      {"--presence-penalty inf", "--presence-penalty: 'inf' is not a finite number"},
      {"--seed -1", "--seed: '-1' is not 0 to 18446744073709551615"},
      {"--seed 18446744073709551616", "--seed: '18446744073709551616' is not"},
      {"--context 5 --max-context 5", "give one of --context, --max-context"},
  };
  for (const auto& [flags, message] : cases) {
    SCOPED_TRACE(flags);
    const auto r = run_generate(model + flags);
    EXPECT_NE(r.status, 0) << r.out;
    EXPECT_NE(r.out.find(message), std::string::npos) << r.out;
  }
}

// The text fixtures' placeholder towers (which cannot run) are skipped, and said so once.
TEST(GenerateCli, Llama4sSkippedVisionTowerIsNotedOnce) {
  const auto r = run_generate("--model " + templlm::test::model_dir("llama4-scout-tiny").string() +
                              " --ids 1,2,3 --max-tokens 1 --temperature 0");
  EXPECT_EQ(r.status, 0) << r.out;
  const std::string note = "templlm: note: this description has no vision tower (cfg::NoVision)";
  const auto at = r.out.find(note);
  EXPECT_NE(at, std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(note, at + 1), std::string::npos) << r.out;
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
