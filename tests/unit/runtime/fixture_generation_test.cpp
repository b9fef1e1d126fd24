// SPDX-License-Identifier: Apache-2.0
// Generation on every committed tiny fixture (tests/data/models/*): greedy equals the
// transformers continuation; batched and continuously batched requests equal each run alone;
// seeded sampling is the same on any thread count.
#include <gtest/gtest.h>

#include <templlm/kernels/cpu/backend.hpp>
#include <templlm/model/mixtral.hpp>
#include <templlm/model/qwen3.hpp>
#include <templlm/model/qwen3_moe.hpp>
#include <templlm/runtime/generator.hpp>
#include <templlm/runtime/registry.hpp>

#include "support/fixture.hpp"

namespace templlm::test {
namespace {

// Each family adds its fixture here (and its tiny description to Families) once its layers
// have landed and its own fixture tests pass.
using Families = TypeList<model::MixtralTiny, model::Qwen3MoeTiny, model::Qwen3Tiny>;
std::vector<std::string> fixtures() { return {"mixtral-tiny", "qwen3-moe-tiny", "qwen3-tiny"}; }

class Generation : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    try {
      model_ = runtime::load_model(Families{}, be_, model_dir(GetParam()));
    } catch (const Unsupported& e) {
      GTEST_SKIP() << e.what();
    }
    const auto g = read_json(model_dir(GetParam()) / "expected" / "greedy.json");
    prompt_ = g.at("prompt").get<std::vector<int>>();
    greedy_ = g.at("new_tokens").get<std::vector<int>>();
  }
  runtime::GenerateOptions greedy_options() const {
    runtime::GenerateOptions o;
    o.max_tokens = int(greedy_.size());
    return o;
  }
  cpu::Backend be_{2};
  std::unique_ptr<runtime::AnyModel> model_;
  std::vector<int> prompt_, greedy_;
};

TEST_P(Generation, GreedyEqualsTransformers) {
  const auto r = runtime::generate(*model_, prompt_, greedy_options());
  EXPECT_EQ(r.tokens, greedy_);
  EXPECT_EQ(r.stop, runtime::StopReason::max_tokens);
  EXPECT_EQ(r.prompt_tokens, std::int64_t(prompt_.size()));
}

TEST_P(Generation, BatchedEqualsAlone) {
  // three prompts of different lengths: the reference prompt and two prefixes of it
  const std::vector<std::vector<int>> prompts{
      prompt_, std::vector<int>(prompt_.begin(), prompt_.begin() + 5),
      std::vector<int>(prompt_.begin() + 3, prompt_.end() - 2)};
  auto o = greedy_options();
  std::vector<std::vector<int>> alone;
  for (const auto& p : prompts) alone.push_back(runtime::generate(*model_, p, o).tokens);
  EXPECT_EQ(alone[0], greedy_);
  runtime::Engine e(*model_);
  std::vector<int> h;
  for (const auto& p : prompts) h.push_back(e.add(p, o));
  e.run();
  for (std::size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(e.result(h[i]).tokens, alone[i]) << i;
}

TEST_P(Generation, ContinuousBatching) {
  auto o = greedy_options();
  const std::vector<int> other(prompt_.begin() + 2, prompt_.begin() + 9);
  auto short_o = o;
  short_o.max_tokens = 3;
  const auto other_alone = runtime::generate(*model_, other, short_o).tokens;
  const auto late_alone = runtime::generate(*model_, std::vector<int>(prompt_.begin(), prompt_.begin() + 6), o).tokens;

  runtime::Engine e(*model_);
  const int a = e.add(prompt_, o);
  ASSERT_TRUE(e.step());  // a prefills
  ASSERT_TRUE(e.step());  // a decodes
  const int b = e.add(other, short_o);  // joins while a decodes (prefill in the same forward)
  ASSERT_TRUE(e.step());
  int steps = 0;
  while (!e.done(b)) {
    ASSERT_TRUE(e.step());
    ++steps;
  }
  EXPECT_EQ(steps, 2);  // b left after its 3 tokens; a still running
  EXPECT_FALSE(e.done(a));
  e.release(b);
  const int c = e.add(std::vector<int>(prompt_.begin(), prompt_.begin() + 6), o);  // a third joins
  e.run();
  EXPECT_EQ(e.result(a).tokens, greedy_);
  EXPECT_EQ(e.result(b).tokens, other_alone);
  EXPECT_EQ(e.result(b).stop, runtime::StopReason::max_tokens);
  EXPECT_EQ(e.result(c).tokens, late_alone);
}

TEST_P(Generation, SeededSamplingIsTheSameOnAnyThreadCount) {
  runtime::GenerateOptions o;
  o.max_tokens = 12;
  o.sampling = {.temperature = 0.8f, .top_p = 0.95f, .seed = 5};
  const auto two = runtime::generate(*model_, prompt_, o).tokens;
  cpu::Backend one_thread(1);
  auto single = runtime::load_model(Families{}, one_thread, model_dir(GetParam()));
  EXPECT_EQ(runtime::generate(*single, prompt_, o).tokens, two);
  EXPECT_EQ(runtime::generate(*model_, prompt_, o).tokens, two);
}

TEST_P(Generation, PromptLongerThanTheContextIsAnError) {
  auto o = greedy_options();
  o.max_context = std::int64_t(prompt_.size()) - 1;
  EXPECT_THROW(runtime::generate(*model_, prompt_, o), InvalidInput);
}

TEST_P(Generation, TheModelsContextLimitComesFromItsConfig) {
  const auto limit = read_json(model_dir(GetParam()) / "config.json").at("max_position_embeddings").get<std::int64_t>();
  ASSERT_EQ(model_->context_limit(), limit);
  // A library caller who sets no limit gets the model's: a longer prompt is refused up front.
  std::vector<int> longer(std::size_t(limit + 1), prompt_.front());
  try {
    runtime::generate(*model_, longer, greedy_options());
    ADD_FAILURE() << "a prompt beyond max_position_embeddings ran";
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find(std::to_string(limit + 1) + " tokens"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("max_position_embeddings"), std::string::npos) << e.what();
  }
  EXPECT_EQ(model_->new_context()->context_limit(), limit);  // a context has its model's
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Generation, ::testing::ValuesIn(fixtures()),
                         [](const auto& info) { return param_name(info.param); });

}  // namespace
}  // namespace templlm::test
