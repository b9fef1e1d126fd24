// SPDX-License-Identifier: Apache-2.0
// `templlm generate --backend`: an unknown backend is a usage error naming the choices, and
// `--backend cuda` either runs (a CUDA build on a machine with a GPU: the same greedy ids as the
// CPU) or fails with exit 1 and a message that says why (no CUDA in this build, no device).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/cli.hpp"
#include "support/fixture.hpp"

namespace {

using templlm::test::run_cli;

TEST(GenerateBackendCli, UnknownBackendIsAUsageErrorNamingTheChoices) {
  const auto r = run_cli("generate --backend tpu --ids 1");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("cpu, cuda"), std::string::npos) << r.out;
}

TEST(GenerateBackendCli, CudaRunsLikeTheCpuOrSaysWhyNot) {
  const auto dir = templlm::test::model_dir("qwen3-tiny");
  const auto g = templlm::test::read_json(dir / "expected" / "greedy.json");
  const std::string ids = templlm::test::id_list(g.at("prompt").get<std::vector<int>>());
  const auto want = g.at("new_tokens").get<std::vector<int>>();
  const std::string args = "generate --model " + dir.string() + " --ids " + ids +
                           " --temperature 0 --quiet --max-tokens " + std::to_string(want.size());
  const auto r = run_cli(args + " --backend cuda");
  if (r.status == 0) {
    EXPECT_EQ(r.out, templlm::test::id_list(want) + "\n");
    return;
  }
  EXPECT_EQ(r.status, 1) << r.out;
  const bool no_build = r.out.find("built without the CUDA backend") != std::string::npos;
  const bool no_device = r.out.find("no CUDA device") != std::string::npos;
  EXPECT_TRUE(no_build || no_device) << r.out;
  EXPECT_NE(r.out.find("--backend cpu"), std::string::npos) << r.out;
  // The CPU backend still runs the same command.
  EXPECT_EQ(run_cli(args + " --backend cpu", false).out, templlm::test::id_list(want) + "\n");
}

}  // namespace
