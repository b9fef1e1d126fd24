// SPDX-License-Identifier: Apache-2.0
// A description whose shared expert has a type no component implements must not compile (it
// used to run as "no shared expert" and give wrong outputs).
#include <templlm/layers/moe/moe_block.hpp>
#include <templlm/model/qwen3_moe.hpp>

#include "fake_backend.hpp"

struct Unimplemented {
  int intermediate;
};
struct Model : templlm::model::Qwen3MoeTiny {
  static constexpr Unimplemented shared{.intermediate = 8};
};
// Instantiates the class (its members are declared), not the member functions.
static_assert(sizeof(templlm::layers::MoeBlock<Model, FakeBackend>) > 0);
