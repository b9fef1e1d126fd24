// SPDX-License-Identifier: Apache-2.0
// A description whose `norm` is a plain number must fail naming M::norm, not with a concept dump.
#include <templlm/kernels/cpu/backend.hpp>
#include <templlm/model/qwen3.hpp>
#include <templlm/runtime/model.hpp>

struct Model : templlm::model::Qwen3Tiny {
  static constexpr double norm = 1e-6;
};
static_assert(sizeof(templlm::runtime::Model<Model, templlm::cpu::Backend>) > 0);
