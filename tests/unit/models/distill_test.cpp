// SPDX-License-Identifier: Apache-2.0
// The architectures of the dense DeepSeek-R1 distills: Qwen2 (q/k/v biases) and Llama 3.1
// (llama3 RoPE scaling), each as a tiny model against its transformers reference
// (tests/support/fixture_suite.hpp holds the checks).
#include <templlm/model/llama3.hpp>
#include <templlm/model/qwen2.hpp>

#include "support/fixture_suite.hpp"

namespace templlm::test {
using Distill = ::testing::Types<model::Qwen2Tiny, model::Llama3Tiny>;
INSTANTIATE_TYPED_TEST_SUITE_P(Distill, FixtureTest, Distill);
}  // namespace templlm::test
