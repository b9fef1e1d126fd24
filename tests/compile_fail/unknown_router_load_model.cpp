// SPDX-License-Identifier: Apache-2.0
// Passing load_model a description whose router type nobody implements must fail at compile
// time naming M::router (it used to compile and throw "not implemented in this build" at run time).
#include <templlm/kernels/cpu/backend.hpp>
#include <templlm/model/qwen3_moe.hpp>
#include <templlm/runtime/registry.hpp>

struct Unimplemented {
  int experts = 8, active = 2;
};
struct Model : templlm::model::Qwen3MoeTiny {
  static constexpr Unimplemented router{};
};
void load(templlm::cpu::Backend& be) {
  (void)templlm::runtime::load_model(templlm::TypeList<Model>{}, be, "unused");
}
