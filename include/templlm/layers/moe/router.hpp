// SPDX-License-Identifier: Apache-2.0
/// \file layers/moe/router.hpp
/// The router component, selected by the type of M::router. The primary template refuses to
/// compile; each routing config type has its specialization (topk.hpp, ...).
#pragma once
#include <type_traits>

#include "../../core/type_list.hpp"

namespace templlm::layers {

template <class Cfg>
inline constexpr bool has_router = false;

template <class M, class B, class Cfg = std::remove_cvref_t<decltype(M::router)>>
class Router {
  static_assert(dependent_false<Cfg>,
                "templlm: no Router implementation for this config type. Add a specialization "
                "under layers/moe/ or check M::router.");
};

}  // namespace templlm::layers
