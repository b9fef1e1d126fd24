// SPDX-License-Identifier: Apache-2.0
// The shared per-element math against direct formulas.
#include <gtest/gtest.h>

#include <cmath>
#include <templlm/core/math.hpp>

namespace {

using namespace templlm::math;

TEST(Math, SiluAndSigmoid) {
  for (float x : {-20.0f, -3.5f, -1.0f, 0.0f, 0.25f, 2.0f, 15.0f}) {
    EXPECT_FLOAT_EQ(sigmoid(x), float(1.0 / (1.0 + std::exp(-double(x)))));
    EXPECT_FLOAT_EQ(silu(x), float(double(x) / (1.0 + std::exp(-double(x)))));
  }
}

TEST(Math, ClampedSwigluClampsGateAboveOnlyAndUpBothWays) {
  // gate = 10 -> 7; up = -10 -> -7: (-7 + 1) * 7 * sigmoid(1.702 * 7)
  EXPECT_FLOAT_EQ(clamped_swiglu(10.0f, -10.0f, 7.0f, 1.702f), -6.0f * 7.0f * sigmoid(1.702f * 7.0f));
  // a negative gate is not clamped
  EXPECT_FLOAT_EQ(clamped_swiglu(-9.0f, 0.5f, 7.0f, 1.702f), 1.5f * -9.0f * sigmoid(1.702f * -9.0f));
}

TEST(Math, RotateIsARotation) {
  const float c = std::cos(0.3f), s = std::sin(0.3f);
  const auto r = rotate(1.0f, 2.0f, c, s);
  EXPECT_FLOAT_EQ(r.a, 1.0f * c - 2.0f * s);
  EXPECT_FLOAT_EQ(r.b, 2.0f * c + 1.0f * s);
  EXPECT_NEAR(r.a * r.a + r.b * r.b, 5.0f, 1e-5f);
}

TEST(Math, RopeAngleIsOneFp32Product) {
  const float inv = 0.0123456789f;
  EXPECT_EQ(rope_angle(inv, 100000), inv * 100000.0f);
}

}  // namespace

namespace {

// Expected values by hand (HF: scores.view(groups, -1).topk(2).sum(-1); weights / (sum + 1e-20)
// * routed_scaling_factor).
TEST(RouterMath, GroupScoreIsTheSumOfTheTwoLargest) {
  const float a[] = {0.1f, 0.7f, 0.3f, 0.5f};
  EXPECT_FLOAT_EQ(templlm::math::top2_sum(a, 4), 1.2f);
  const float ties[] = {0.4f, 0.4f, 0.4f};
  EXPECT_FLOAT_EQ(templlm::math::top2_sum(ties, 3), 0.8f);
  const float two[] = {-1.0f, 2.0f};
  EXPECT_FLOAT_EQ(templlm::math::top2_sum(two, 2), 1.0f);
  const float later[] = {0.0f, 0.1f, 0.9f, 0.8f};  // both largest after the first two
  EXPECT_FLOAT_EQ(templlm::math::top2_sum(later, 4), 1.7f);
}

TEST(RouterMath, RoutingWeightsRenormaliseThenScale) {
  float w[] = {0.2f, 0.6f};
  templlm::math::finish_routing_weights(w, 2, true, 2.5f);
  EXPECT_FLOAT_EQ(w[0], 0.625f);
  EXPECT_FLOAT_EQ(w[1], 1.875f);
  float raw[] = {0.2f, 0.6f};
  templlm::math::finish_routing_weights(raw, 2, false, 2.5f);
  EXPECT_FLOAT_EQ(raw[0], 0.5f);
  EXPECT_FLOAT_EQ(raw[1], 1.5f);
}

}  // namespace
