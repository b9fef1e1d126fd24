// SPDX-License-Identifier: Apache-2.0
// Mixtral, Qwen3-MoE and dense Qwen3 tiny models against their transformers references
// (tests/support/fixture_suite.hpp holds the checks).
#include <templlm/model/mixtral.hpp>
#include <templlm/model/qwen3.hpp>
#include <templlm/model/qwen3_moe.hpp>

#include "support/fixture_suite.hpp"

namespace templlm::test {
using MixtralQwen3 = ::testing::Types<model::MixtralTiny, model::Qwen3MoeTiny, model::Qwen3Tiny>;
INSTANTIATE_TYPED_TEST_SUITE_P(MixtralQwen3, FixtureTest, MixtralQwen3);
}  // namespace templlm::test
