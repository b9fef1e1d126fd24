// SPDX-License-Identifier: Apache-2.0
// The control of norm_is_double.cpp and unknown_router_load_model.cpp: the same calls with the
// library's own description compile (so their failures are the checks, not the harness).
#include <templlm/kernels/cpu/backend.hpp>
#include <templlm/model/qwen3_moe.hpp>
#include <templlm/runtime/registry.hpp>

static_assert(sizeof(templlm::runtime::Model<templlm::model::Qwen3MoeTiny, templlm::cpu::Backend>) > 0);
void load(templlm::cpu::Backend& be) {
  (void)templlm::runtime::load_model(templlm::TypeList<templlm::model::Qwen3MoeTiny>{}, be, "unused");
}
