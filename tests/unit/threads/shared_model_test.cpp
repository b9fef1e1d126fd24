// SPDX-License-Identifier: Apache-2.0
// One loaded model shared by threads (runtime/model.hpp's threading contract): each thread drives
// its own context (AnyModel::new_context: own backend, KV pool, workspace) on the same weights,
// and gets exactly what it gets alone. CI also runs this under ThreadSanitizer
// (scripts/sanitizers.sh), where any data race between the contexts is a failure.
#include <gtest/gtest.h>

#include <thread>

#include <templlm/kernels/cpu/backend.hpp>
#include <templlm/model/deepseek_v3.hpp>
#include <templlm/model/qwen3_moe.hpp>
#include <templlm/runtime/generator.hpp>
#include <templlm/runtime/registry.hpp>

#include "support/fixture.hpp"

namespace templlm::test {
namespace {

// A MoE model with a GQA cache and one with MLA (whose CPU kernels keep thread_local scratch).
using Shared = TypeList<model::Qwen3MoeTiny, model::DeepSeekV3Tiny>;

/// What one caller computes: a greedy continuation, a seeded sampled one and token-by-token logits.
struct Work {
  std::vector<int> greedy, sampled;
  std::vector<float> logits;
  bool operator==(const Work&) const = default;
};

Work run(runtime::AnyModel& m, const std::vector<int>& prompt, std::uint64_t seed) {
  Work w;
  runtime::GenerateOptions g;
  g.max_tokens = 8;
  w.greedy = runtime::generate(m, prompt, g).tokens;
  runtime::GenerateOptions s;
  s.max_tokens = 8;
  s.sampling = {.temperature = 0.9f, .top_p = 0.9f, .seed = seed};
  w.sampled = runtime::generate(m, prompt, s).tokens;
  w.logits = m.score(prompt, /*decode=*/true);
  return w;
}

class SharedModel : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    model_ = runtime::load_model(Shared{}, be_, model_dir(GetParam()));
    const auto g = read_json(model_dir(GetParam()) / "expected" / "greedy.json");
    prompt_a_ = g.at("prompt").get<std::vector<int>>();
    greedy_ = g.at("new_tokens").get<std::vector<int>>();
    prompt_b_.assign(prompt_a_.rbegin(), prompt_a_.rend());
  }
  cpu::Backend be_{2};
  std::unique_ptr<runtime::AnyModel> model_;
  std::vector<int> prompt_a_, prompt_b_, greedy_;
};

TEST_P(SharedModel, ContextsOnTwoThreadsEqualTheirSoloRuns) {
  const Work solo_a = run(*model_, prompt_a_, 11), solo_b = run(*model_, prompt_b_, 12);
  ASSERT_NE(solo_a, solo_b);  // the two callers do different work
  auto ctx = model_->new_context();
  constexpr int rounds = 3;
  std::vector<Work> got_a(rounds), got_b(rounds);
  std::exception_ptr err_a, err_b;
  std::thread ta([&] {
    try {
      for (auto& w : got_a) w = run(*model_, prompt_a_, 11);
    } catch (...) {
      err_a = std::current_exception();
    }
  });
  std::thread tb([&] {
    try {
      for (auto& w : got_b) w = run(*ctx, prompt_b_, 12);
    } catch (...) {
      err_b = std::current_exception();
    }
  });
  ta.join();
  tb.join();
  if (err_a) std::rethrow_exception(err_a);
  if (err_b) std::rethrow_exception(err_b);
  for (int r = 0; r < rounds; ++r) {
    EXPECT_EQ(got_a[std::size_t(r)], solo_a) << "round " << r;
    EXPECT_EQ(got_b[std::size_t(r)], solo_b) << "round " << r;
  }
}

TEST_P(SharedModel, AContextKeepsTheWeightsWhenTheModelIsGone) {
  auto ctx = model_->new_context();
  model_.reset();  // the loading backend (be_) lives on; the weights and files are shared
  runtime::GenerateOptions g;
  g.max_tokens = int(greedy_.size());
  EXPECT_EQ(runtime::generate(*ctx, prompt_a_, g).tokens, greedy_);  // = transformers
  EXPECT_EQ(ctx->name(), GetParam() == "deepseek-v3-tiny" ? model::DeepSeekV3Tiny::name
                                                           : model::Qwen3MoeTiny::name);
}

TEST_P(SharedModel, ContextsHaveTheirOwnKvPools) {
  auto ctx = model_->new_context();
  auto seq = model_->new_sequence(64);
  const std::vector<int> ids(prompt_a_.begin(), prompt_a_.end());
  std::vector<float> logits(std::size_t(model_->vocab()));
  const runtime::Step step{seq.get(), ids};
  model_->step(std::span(&step, 1), logits);
  EXPECT_GT(model_->kv_usage().pages_in_use, 0);
  EXPECT_EQ(ctx->kv_usage().pages_in_use, 0);
  EXPECT_THROW(ctx->truncate(*seq, 1), InvalidInput);  // a sequence of another context
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SharedModel, ::testing::Values("qwen3-moe-tiny", "deepseek-v3-tiny"),
                         [](const auto& info) { return param_name(info.param); });

}  // namespace
}  // namespace templlm::test
