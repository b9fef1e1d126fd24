// SPDX-License-Identifier: Apache-2.0
// `templlm chat --model DIR` driven through stdin with the embedded demo model (models/demo):
// a prompt marker per turn, an answer streamed per user turn, exit 0 at EOF or /quit, and the
// errors a user sees.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "support/cli.hpp"
#include "support/fixture.hpp"

namespace {

namespace fs = std::filesystem;

fs::path demo_dir() { return templlm::test::data_dir().parent_path().parent_path() / "models" / "demo"; }

/// Greedy so that the transcript is reproducible; 12 tokens keeps each turn short.
templlm::test::CliRun chat(const std::string& input, const std::string& extra = "") {
  return templlm::test::run_cli("chat --model " + demo_dir().string() +
                                    " --temperature 0 --max-tokens 12 --threads 1 " + extra,
                                /*merge_stderr=*/false, input);
}

/// The transcript split at the "> " prompt markers: what each turn streamed after its prompt.
std::vector<std::string> turns(const std::string& out) {
  std::vector<std::string> t;
  std::size_t at = 0;
  while (at < out.size()) {
    if (out.compare(at, 2, "> ") != 0) return {};  // not a marker where a turn must start
    const std::size_t end = out.find("\n> ", at);
    const std::size_t stop = end == std::string::npos ? out.size() : end + 1;
    t.push_back(out.substr(at + 2, stop - at - 2));
    at = stop;
  }
  return t;
}

TEST(ChatCli, TwoTurnsThenEofStreamsAnAnswerPerTurn) {
  const auto r = chat("And God said\nLet there be light\n");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto t = turns(r.out);
  // Two answered turns, then the prompt that met EOF (nothing after it).
  ASSERT_EQ(t.size(), 3u) << r.out;
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(t[std::size_t(i)].ends_with("\n")) << r.out;
    EXPECT_GT(t[std::size_t(i)].size(), 1u) << "turn " << i << " has no answer: " << r.out;
  }
  EXPECT_EQ(t[2], "");
  EXPECT_EQ(chat("And God said\nLet there be light\n").out, r.out) << "greedy chat is not reproducible";
}

TEST(ChatCli, ResetAndEmptyLinesAnswerNothing) {
  // The demo model is no chat model (its greedy answer hardly depends on the question), so
  // what /reset drops from the history cannot be seen here; only that it answers nothing.
  const auto r = chat("And God said\n/reset\n\nLet there be light\n");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(r.out.starts_with("> ")) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2) << r.out;  // two answers
  EXPECT_NE(r.out.find("> > > "), std::string::npos) << r.out;          // three bare prompts
}

TEST(ChatCli, QuitEndsTheSessionCleanly) {
  const auto r = chat("And God said\n/quit\nnever read\n");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(turns(r.out).size(), 2u) << r.out;
}

TEST(ChatCli, StopAfterMaxTokensIsReportedOnStderr) {
  const auto r = templlm::test::run_cli("chat --model " + demo_dir().string() +
                                            " --temperature 0 --max-tokens 3 --threads 1",
                                        /*merge_stderr=*/true, std::string("And God said\n"));
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("[stopped after 3 tokens]"), std::string::npos) << r.out;
}

TEST(ChatCli, BadModelIsAnErrorNamingTheDirectory) {
  const auto r = templlm::test::run_cli("chat --model /nonexistent/templlm-model", true, std::string("hi\n"));
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("/nonexistent/templlm-model"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("config.json"), std::string::npos) << r.out;
}

TEST(ChatCli, FixtureWithoutTokenizerIsAnError) {
  const auto r = templlm::test::run_cli(
      "chat --model " + templlm::test::model_dir("qwen3-tiny").string(), true, std::string("hi\n"));
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("tokenizer.json"), std::string::npos) << r.out;
}

}  // namespace
