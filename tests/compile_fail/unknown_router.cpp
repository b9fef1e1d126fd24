// SPDX-License-Identifier: Apache-2.0
// A description whose router has a type no component implements must not compile.
#include <templlm/layers/moe/moe_block.hpp>
#include <templlm/model/qwen3_moe.hpp>

#include "fake_backend.hpp"

struct Unimplemented {
  int experts = 8, active = 2;
};
struct Model : templlm::model::Qwen3MoeTiny {
  static constexpr Unimplemented router{};
};
// Instantiates the class (its members are declared), not the member functions.
static_assert(sizeof(templlm::layers::MoeBlock<Model, FakeBackend>) > 0);
