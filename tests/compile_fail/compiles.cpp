// SPDX-License-Identifier: Apache-2.0
// The control: the same instantiation with the library's own types compiles, so a failure of
// the other snippets is the component check, not the harness.
#include <templlm/layers/moe/moe_block.hpp>
#include <templlm/model/qwen3_moe.hpp>

#include "fake_backend.hpp"

// Instantiates the class (its members are declared), not the member functions.
static_assert(sizeof(templlm::layers::MoeBlock<templlm::model::Qwen3MoeTiny, FakeBackend>) > 0);
