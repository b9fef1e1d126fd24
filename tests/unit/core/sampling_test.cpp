// SPDX-License-Identifier: Apache-2.0
// The sampling chain's shared math (core/sampling.hpp): the counter-based RNG, the penalty
// formula, and the sort key whose descending order is (logit desc, id asc).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <templlm/core/sampling.hpp>

namespace {

using namespace templlm::sampling;

TEST(SamplingMath, Mix64IsSplitMix64) {
  static_assert(mix64(0) == 0xE220A8397B1DCDAFull);  // SplitMix64's first output for seed 0
  static_assert(uniform(1, 2) == uniform(1, 2));      // constant-evaluable: one definition
  EXPECT_NE(uniform(1, 2), uniform(1, 3));
  EXPECT_NE(uniform(1, 2), uniform(2, 2));
}

TEST(SamplingMath, UniformIsInTheUnitIntervalAndFlat) {
  double sum = 0.0;
  for (std::uint64_t n = 0; n < 100000; ++n) {
    const double u = uniform(7, n);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / 100000, 0.5, 0.005);
}

TEST(SamplingMath, PenaltiesAsCtrlThenPresenceAndFrequency) {
  EXPECT_FLOAT_EQ(penalized_logit(3.0f, 2, 1.5f, 0.0f, 0.0f), 2.0f);
  EXPECT_FLOAT_EQ(penalized_logit(-3.0f, 2, 1.5f, 0.0f, 0.0f), -4.5f);
  EXPECT_FLOAT_EQ(penalized_logit(1.0f, 3, 1.0f, 0.5f, 0.25f), 1.0f - (0.5f + 0.75f));
  EXPECT_FLOAT_EQ(penalized_logit(2.0f, 1, 2.0f, 0.5f, 0.25f), 1.0f - 0.75f);
  EXPECT_EQ(penalized_logit(0.7f, 4, 1.0f, 0.0f, 0.0f), 0.7f);
}

TEST(SamplingMath, IdBitsHoldEveryId) {
  EXPECT_EQ(id_bits(1), 1);
  EXPECT_EQ(id_bits(2), 1);
  EXPECT_EQ(id_bits(3), 2);
  EXPECT_EQ(id_bits(1024), 10);
  EXPECT_EQ(id_bits(50257), 16);
  EXPECT_EQ(id_bits(201088), 18);
}

TEST(SamplingMath, SortKeyOrdersByLogitThenLowerId) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> values = {-inf, -3.5f, -1e-30f, -0.0f, 0.0f, 1e-30f, 0.25f, 2.0f, 1e30f, inf};
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 4.0f);
  for (int i = 0; i < 200; ++i) values.push_back(normal(rng));
  const int bits = id_bits(201088);
  const std::vector<int> ids = {0, 1, 7, 50256, 201087};
  for (float a : values)
    for (float b : values)
      for (int i : ids)
        for (int j : ids) {
          const bool before = a > b || (a == b && i < j);
          ASSERT_EQ(sort_key(a, i, bits) > sort_key(b, j, bits), before) << a << " " << i << " " << b << " " << j;
        }
  for (float a : values)
    for (int i : ids) {
      EXPECT_EQ(key_id(sort_key(a, i, bits), bits), i);
      EXPECT_EQ(key_logit(sort_key(a, i, bits), bits), a);  // -0 comes back as +0, which == -0
    }
  EXPECT_FALSE(std::signbit(key_logit(sort_key(-0.0f, 3, bits), bits)));
}

}  // namespace
