// SPDX-License-Identifier: Apache-2.0
// AnyModel::step_sample's default (step, then a host Sampler) picks what Sampler picks from the
// same logits, and the generator gives the same tokens whether it samples through step_sample
// (no logprobs) or from the host logits (logprobs on).
#include <gtest/gtest.h>

#include <random>

#include <templlm/runtime/generator.hpp>

namespace templlm::runtime {
namespace {

/// Random logits, a pure function of (sequence length, row), with ties among them.
class RandomModel final : public AnyModel {
 public:
  explicit RandomModel(std::int64_t vocab) : vocab_(vocab) {}
  std::string_view name() const override { return "random"; }
  std::int64_t vocab() const override { return vocab_; }
  std::vector<float> score(std::span<const int>, bool, layers::ExpertTrace*, HostEmbeddings) override { return {}; }
  struct Seq final : Sequence {
    std::int64_t len = 0, max = 0;
    std::int64_t length() const override { return len; }
    std::int64_t max_context() const override { return max; }
  };
  std::unique_ptr<Sequence> new_sequence(std::int64_t max_context) override {
    auto s = std::make_unique<Seq>();
    s->max = max_context;
    return s;
  }
  void step(std::span<const Step> steps, std::span<float> logits) override {
    for (std::size_t i = 0; i < steps.size(); ++i) {
      auto& s = static_cast<Seq&>(*steps[i].seq);
      s.len += std::int64_t(steps[i].ids.size());
      auto row = logits.subspan(i * std::size_t(vocab_), std::size_t(vocab_));
      fill(row, std::uint32_t(s.len * 131 + i));
    }
  }
  static void fill(std::span<float> row, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 2.0f);
    for (auto& x : row) x = std::round(normal(rng) * 8.0f) / 8.0f;  // coarse: many ties
  }

 private:
  std::int64_t vocab_;
};

std::vector<SamplingParams> chains() {
  return {
      {},
      {.repetition_penalty = 1.3f, .presence_penalty = 0.2f, .frequency_penalty = 0.1f},
      {.temperature = 0.7f, .seed = 3},
      {.temperature = 1.0f, .top_k = 5, .seed = 4},
      {.temperature = 1.2f, .top_p = 0.8f, .seed = 5},
      {.temperature = 1.0f, .min_p = 0.1f, .seed = 6},
      {.temperature = 0.9f, .top_k = 40, .top_p = 0.9f, .min_p = 0.05f, .repetition_penalty = 1.1f,
       .presence_penalty = 0.3f, .frequency_penalty = 0.2f, .seed = 7},
  };
}

TEST(StepSample, DefaultPicksWhatSamplerPicks) {
  const std::int64_t v = 301;
  RandomModel m(v);
  const auto params = chains();
  std::vector<std::unique_ptr<Sequence>> seqs;
  std::vector<std::vector<int>> histories;
  for (std::size_t s = 0; s < params.size(); ++s) {
    seqs.push_back(m.new_sequence(64));
    histories.push_back({int(s), 5, 5, 17, int(s) * 3, 300});
  }
  Sampler reference(v);
  for (std::uint64_t draw = 0; draw < 20; ++draw) {
    std::vector<Step> steps;
    std::vector<SampleRequest> rows;
    for (std::size_t s = 0; s < params.size(); ++s) {
      steps.push_back({seqs[s].get(), std::span<const int>(histories[s]).last(1)});
      rows.push_back({params[s], histories[s], draw});
    }
    std::vector<int> ids(params.size());
    m.step_sample(steps, rows, ids);
    for (std::size_t s = 0; s < params.size(); ++s) {
      std::vector<float> row(static_cast<std::size_t>(v));
      RandomModel::fill(row, std::uint32_t(seqs[s]->length() * 131 + s));
      EXPECT_EQ(ids[s], reference.sample(row, histories[s], params[s], draw)) << "chain " << s << " draw " << draw;
      histories[s].push_back(ids[s]);
    }
  }
}

TEST(StepSample, GeneratorTokensDoNotDependOnLogprobs) {
  RandomModel m(257);
  for (const auto& p : chains()) {
    GenerateOptions with, without;
    with.sampling = without.sampling = p;
    with.max_tokens = without.max_tokens = 12;
    with.logprobs = true;
    const auto a = generate(m, {1, 2, 3}, with), b = generate(m, {1, 2, 3}, without);
    EXPECT_EQ(a.tokens, b.tokens);
    EXPECT_EQ(a.logprobs.size(), a.tokens.size());
    EXPECT_TRUE(b.logprobs.empty());
  }
}

TEST(StepSample, RejectsMismatchedRequests) {
  RandomModel m(16);
  auto seq = m.new_sequence(8);
  const int id = 1;
  const std::vector<Step> steps = {{seq.get(), std::span<const int>(&id, 1)}};
  std::vector<int> ids(1);
  EXPECT_THROW(m.step_sample(steps, {}, ids), InvalidInput);
}

}  // namespace
}  // namespace templlm::runtime
