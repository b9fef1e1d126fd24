// SPDX-License-Identifier: Apache-2.0
// GPT-OSS tiny model (MXFP4 experts, sinks, sliding/full layers, YaRN) against its transformers
// reference (tests/support/fixture_suite.hpp holds the checks). The prompt is 24 tokens and the
// greedy continuation 8 more, so decode runs well past the sliding window of 8.
#include <templlm/model/gpt_oss.hpp>

#include "support/fixture_suite.hpp"

namespace templlm::test {
using GptOss = ::testing::Types<model::GptOssTiny>;
INSTANTIATE_TYPED_TEST_SUITE_P(GptOss, FixtureTest, GptOss);
}  // namespace templlm::test
