// SPDX-License-Identifier: Apache-2.0
/// \file layers/attention/attention.hpp
/// The attention component, selected by the type of M::attention. This primary template refuses
/// to compile; each attention config type has its specialization in this folder.
#pragma once
#include <type_traits>

#include "../../core/type_list.hpp"

namespace templlm::layers {

template <class Cfg>
inline constexpr bool has_attention = false;

template <class M, class B, class Cfg = std::remove_cvref_t<decltype(M::attention)>>
class Attention {
  static_assert(dependent_false<Cfg>,
                "templlm: no Attention implementation for this config type. Add a specialization "
                "under layers/attention/ or check M::attention.");
};

}  // namespace templlm::layers
