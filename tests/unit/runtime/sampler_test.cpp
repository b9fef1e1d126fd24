// SPDX-License-Identifier: Apache-2.0
// The sampling chain against hand-computed distributions, and its counter-based RNG.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <templlm/runtime/sampler.hpp>
#include <vector>

namespace templlm::runtime {
namespace {

std::vector<float> logs(std::vector<double> p) {
  std::vector<float> out;
  for (double x : p) out.push_back(float(std::log(x)));
  return out;
}

void expect_probs(const std::vector<float>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << "token " << i;
}

const std::vector<float> base = logs({0.5, 0.25, 0.15, 0.1});

TEST(Sampler, TemperatureOneIsTheSoftmax) {
  Sampler s(4);
  expect_probs(s.distribution(base, {}, {.temperature = 1.0f}), {0.5, 0.25, 0.15, 0.1});
}

TEST(Sampler, TemperatureDividesLogits) {
  Sampler s(2);
  // logits [0, ln 4] / 2 = [0, ln 2] -> [1/3, 2/3]
  expect_probs(s.distribution(std::vector<float>{0.0f, float(std::log(4.0))}, {}, {.temperature = 2.0f}),
               {1.0 / 3, 2.0 / 3});
}

TEST(Sampler, TopKKeepsTheLargest) {
  Sampler s(4);
  expect_probs(s.distribution(base, {}, {.temperature = 1.0f, .top_k = 2}), {2.0 / 3, 1.0 / 3, 0, 0});
  expect_probs(s.distribution(base, {}, {.temperature = 1.0f, .top_k = 3}), {0.5 / 0.9, 0.25 / 0.9, 0.15 / 0.9, 0});
}

TEST(Sampler, TopPKeepsTheSmallestPrefixReachingP) {
  Sampler s(4);
  // 0.5 < 0.7 <= 0.75: keep two
  expect_probs(s.distribution(base, {}, {.temperature = 1.0f, .top_p = 0.7f}), {2.0 / 3, 1.0 / 3, 0, 0});
  // 0.5 reaches 0.5 exactly: keep one
  expect_probs(s.distribution(base, {}, {.temperature = 1.0f, .top_p = 0.5f}), {1, 0, 0, 0});
  // 0.9 < 0.95: keep all four
  expect_probs(s.distribution(base, {}, {.temperature = 1.0f, .top_p = 0.95f}), {0.5, 0.25, 0.15, 0.1});
}

TEST(Sampler, MinPIsRelativeToTheLargestProbability) {
  Sampler s(4);
  // floor 0.4 x 0.5 = 0.2: keep 0.5, 0.25
  expect_probs(s.distribution(base, {}, {.temperature = 1.0f, .min_p = 0.4f}), {2.0 / 3, 1.0 / 3, 0, 0});
  // floor 0.125: keep three
  expect_probs(s.distribution(base, {}, {.temperature = 1.0f, .min_p = 0.25f}),
               {0.5 / 0.9, 0.25 / 0.9, 0.15 / 0.9, 0});
}

TEST(Sampler, PenaltiesOnSeenTokens) {
  std::vector<float> l{2.0f, -1.0f, 0.5f, 1.0f};
  std::vector<int> counts;
  const std::vector<int> history{0, 1, 1};
  Sampler::apply_penalties(l, history,
                           {.repetition_penalty = 2.0f, .presence_penalty = 0.5f, .frequency_penalty = 0.25f},
                           counts);
  // token 0 (seen once): 2/2 - 0.5 - 0.25 = 0.25; token 1 (twice): -1*2 - 0.5 - 0.5 = -3
  EXPECT_FLOAT_EQ(l[0], 0.25f);
  EXPECT_FLOAT_EQ(l[1], -3.0f);
  EXPECT_FLOAT_EQ(l[2], 0.5f);
  EXPECT_FLOAT_EQ(l[3], 1.0f);
  // the scratch counts are left clean
  for (int c : counts) EXPECT_EQ(c, 0);
}

TEST(Sampler, RepetitionPenaltyChangesTheGreedyPick) {
  Sampler s(3);
  const std::vector<float> l{3.0f, 2.0f, 1.0f};
  EXPECT_EQ(s.sample(l, {}, {}, 0), 0);
  const std::vector<int> seen{0};
  EXPECT_EQ(s.sample(l, seen, {.repetition_penalty = 2.0f}, 0), 1);  // 3/2 < 2
  EXPECT_EQ(s.sample(l, seen, {.presence_penalty = 0.5f}, 0), 0);     // 2.5 > 2
  EXPECT_EQ(s.sample(l, seen, {.frequency_penalty = 1.5f}, 0), 1);    // 1.5 < 2
}

TEST(Sampler, GreedyTiesGoToTheLowestId) {
  EXPECT_EQ(Sampler::argmax(std::vector<float>{1.0f, 5.0f, 5.0f}), 1);
}

TEST(Sampler, DrawsFollowTheDistribution) {
  Sampler s(4);
  const SamplingParams p{.temperature = 1.0f, .top_p = 0.95f, .seed = 7};
  std::vector<int> hist(4, 0);
  const int n = 40000;
  for (int i = 0; i < n; ++i) ++hist[std::size_t(s.sample(base, {}, p, std::uint64_t(i)))];
  const double want[] = {0.5, 0.25, 0.15, 0.1};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(double(hist[std::size_t(i)]) / n, want[i], 0.01) << i;
}

TEST(Sampler, MaskedTokensAreNeverDrawn) {
  Sampler s(4);
  const SamplingParams p{.temperature = 1.0f, .min_p = 0.4f, .seed = 3};
  for (int i = 0; i < 2000; ++i) EXPECT_LT(s.sample(base, {}, p, std::uint64_t(i)), 2);
}

TEST(Sampler, SameSeedSameDraws) {
  Sampler a(4), b(4);
  const SamplingParams p{.temperature = 1.0f, .seed = 42};
  SamplingParams q = p;
  q.seed = 43;
  int differ = 0;
  for (std::uint64_t i = 0; i < 200; ++i) {
    EXPECT_EQ(a.sample(base, {}, p, i), b.sample(base, {}, p, i));
    differ += a.sample(base, {}, p, i) != b.sample(base, {}, q, i);
  }
  EXPECT_GT(differ, 20);
  EXPECT_EQ(uniform(1, 2), uniform(1, 2));
  EXPECT_NE(uniform(1, 2), uniform(1, 3));
}

TEST(Sampler, LogprobIsLogSoftmax) {
  EXPECT_NEAR(Sampler::logprob(base, 1), std::log(0.25), 1e-5);
}

TEST(Sampler, TopLogprobsAreTheBestIdsWithTheirLogSoftmaxTiesToTheLowerId) {
  const std::vector<float> logits{1.0f, 3.0f, 2.0f, 3.0f, -1.0f};
  const auto top = Sampler::top_logprobs(logits, 3);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].first, 1);  // 1 and 3 tie: the lower id first, as argmax picks
  EXPECT_EQ(top[1].first, 3);
  EXPECT_EQ(top[2].first, 2);
  for (const auto& [id, lp] : top) EXPECT_EQ(lp, Sampler::logprob(logits, id));
  EXPECT_EQ(Sampler::top_logprobs(logits, 9).size(), 5u);  // no more than the vocabulary
  EXPECT_TRUE(Sampler::top_logprobs(logits, 0).empty());
}

TEST(Sampler, InvalidParametersAreRejected) {
  Sampler s(4);
  EXPECT_THROW(s.sample(base, {}, {.temperature = 1.0f, .top_p = 0.0f}, 0), InvalidInput);
  EXPECT_THROW(s.sample(base, {}, {.temperature = 1.0f, .min_p = 2.0f}, 0), InvalidInput);
  EXPECT_THROW(s.sample(base, {}, {.temperature = 1.0f, .top_k = -1}, 0), InvalidInput);
  // A negative temperature once meant greedy without a word; non-finite penalties poison
  // every logit they touch.
  EXPECT_THROW(s.sample(base, {}, {.temperature = -1.0f}, 0), InvalidInput);
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_THROW(s.sample(base, {}, {.temperature = 1.0f, .repetition_penalty = inf}, 0), InvalidInput);
  EXPECT_THROW(s.sample(base, {}, {.temperature = 1.0f, .presence_penalty = std::nanf("")}, 0), InvalidInput);
  EXPECT_THROW(s.sample(base, {}, {.temperature = 1.0f, .frequency_penalty = -inf}, 0), InvalidInput);
}

TEST(Sampler, NanLogitsAreATypedErrorNamingTheToken) {
  Sampler s(4);
  std::vector<float> bad = base;
  bad[2] = std::nanf("");
  for (const float t : {0.0f, 1.0f}) {  // greedy and sampled
    try {
      s.sample(bad, {}, {.temperature = t}, 7);
      ADD_FAILURE() << "no error at temperature " << t;
    } catch (const InvalidInput& e) {
      EXPECT_NE(std::string(e.what()).find("NaN logits at token id 2 (of 4) for generated token 7"),
                std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(Sampler::argmax(bad), InvalidInput);
  static_assert(sampling::first_nan(nullptr, 0) == -1);
}

}  // namespace
}  // namespace templlm::runtime
