// SPDX-License-Identifier: Apache-2.0
// param_count of a description whose out-of-tree shared expert declares no parameter_count must
// fail naming M::shared; the control below the #ifdef shows one declared *after* the library's
// headers is found (ADL), so include order does not matter.
#include <cstdint>

#include <templlm/model/params.hpp>
#include <templlm/model/qwen3_moe.hpp>

namespace mine {
struct Shared {
  int intermediate = 8;
};
#ifdef TEMPLLM_CONTROL
constexpr std::int64_t parameter_count(const Shared& s, std::int64_t hidden) { return 3 * hidden * s.intermediate; }
#endif
}  // namespace mine

struct Model : templlm::model::Qwen3MoeTiny {
  static constexpr mine::Shared shared{};
};
static_assert(templlm::model::param_count<Model>().total > templlm::model::param_count<templlm::model::Qwen3MoeTiny>().total);
